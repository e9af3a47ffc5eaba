//! The tokio driver: sockets, the real clock, and the one task that owns
//! an [`Endpoint`] and its transaction user.
//!
//! UDP and TCP listen on the same address. Each TCP connection has a reader
//! task that forwards bytes here and a writer fed by a channel; connections
//! are kept per peer address and reused in both directions (RFC 3261
//! §18). The [`Application`] (the transaction user) runs inside this task,
//! so an event reaches it without a channel hop.

#![allow(clippy::disallowed_methods)] // the driver owns the clock and the tasks

use crate::endpoint::{Endpoint, Event};
use crate::transport::{Peer, Transmit, Transport};
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// The transaction user the driver runs: call control, registrar, …
pub trait Application {
    /// Messages other tasks send to the application through the driver.
    type Message: Send + 'static;

    /// Handles an endpoint event.
    fn handle_event(&mut self, now: Instant, event: Event, sip: &mut Endpoint);

    /// Handles a message from another task.
    fn handle_message(&mut self, now: Instant, message: Self::Message, sip: &mut Endpoint);

    /// Fires the application's own timers.
    fn handle_timeout(&mut self, now: Instant, sip: &mut Endpoint);

    /// The application's next deadline.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Shutdown was asked for: end every call (BYE, CANCEL, final responses).
    fn begin_shutdown(&mut self, now: Instant, sip: &mut Endpoint);

    /// Whether every call has ended, so the driver may stop.
    fn is_idle(&self) -> bool;
}

/// Bound sockets, ready to run.
pub struct Listeners {
    udp: Arc<UdpSocket>,
    tcp: TcpListener,
}

impl Listeners {
    /// Binds UDP and TCP on `address`. Port 0 binds UDP first and TCP on
    /// the same port.
    pub async fn bind(address: SocketAddr) -> io::Result<Listeners> {
        let udp = UdpSocket::bind(address).await?;
        let bound = udp.local_addr()?;
        let tcp = TcpListener::bind(bound).await?;
        Ok(Listeners {
            udp: Arc::new(udp),
            tcp,
        })
    }

    /// The bound address.
    pub fn local_address(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

enum StreamEvent {
    Connected(SocketAddr, mpsc::UnboundedSender<Bytes>),
    Data(SocketAddr, Bytes),
    Closed(SocketAddr),
    ConnectFailed(SocketAddr),
}

/// How long shutdown waits for calls to end before giving up.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the endpoint and `application` until `shutdown` resolves and every
/// call has ended (or [`SHUTDOWN_GRACE`] has passed).
pub async fn run<A: Application>(
    listeners: Listeners,
    mut endpoint: Endpoint,
    mut application: A,
    mut messages: mpsc::UnboundedReceiver<A::Message>,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let udp = listeners.udp.clone();
    let (stream_tx, mut stream_rx) = mpsc::unbounded_channel::<StreamEvent>();
    let accept_tx = stream_tx.clone();
    let tcp = listeners.tcp;
    let acceptor = tokio::spawn(async move {
        loop {
            match tcp.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    spawn_connection(stream, peer, accept_tx.clone());
                }
                Err(error) => {
                    tracing::warn!(%error, "TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    let mut connections: HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>> = HashMap::new();
    let mut buffers: HashMap<SocketAddr, BytesMut> = HashMap::new();
    let mut pending_connects: HashMap<SocketAddr, Vec<Bytes>> = HashMap::new();
    let mut receive_buffer = vec![0u8; 65_535];
    tokio::pin!(shutdown);
    let mut shutting_down: Option<Instant> = None;
    loop {
        let grace_end = shutting_down.map(|started| started + SHUTDOWN_GRACE);
        let deadline = [
            endpoint.poll_timeout(),
            application.poll_timeout(),
            grace_end,
        ]
        .into_iter()
        .flatten()
        .min();
        let sleep_until = deadline
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            received = udp.recv_from(&mut receive_buffer) => {
                let now = Instant::now();
                match received {
                    Ok((length, source)) => {
                        let peer = Peer { transport: Transport::Udp, address: source };
                        endpoint.handle_datagram(now, peer, Bytes::copy_from_slice(&receive_buffer[..length]));
                        // Drain what else is queued without waiting.
                        for _ in 0..64 {
                            match udp.try_recv_from(&mut receive_buffer) {
                                Ok((length, source)) => {
                                    let peer = Peer { transport: Transport::Udp, address: source };
                                    endpoint.handle_datagram(now, peer, Bytes::copy_from_slice(&receive_buffer[..length]));
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    Err(error) => tracing::debug!(%error, "UDP receive error"),
                }
            }
            Some(event) = stream_rx.recv() => {
                let now = Instant::now();
                match event {
                    StreamEvent::Connected(peer, writer) => {
                        if let Some(queued) = pending_connects.remove(&peer) {
                            for bytes in queued {
                                let _ = writer.send(bytes);
                            }
                        }
                        connections.insert(peer, writer);
                    }
                    StreamEvent::Data(peer, bytes) => {
                        let buffer = buffers.entry(peer).or_default();
                        buffer.extend_from_slice(&bytes);
                        let source = Peer { transport: Transport::Tcp, address: peer };
                        match endpoint.handle_stream(now, source, buffer) {
                            Ok(consumed) => {
                                let _ = buffer.split_to(consumed);
                            }
                            Err(error) => {
                                tracing::debug!(%error, "closing unframeable TCP stream");
                                buffers.remove(&peer);
                                connections.remove(&peer);
                            }
                        }
                    }
                    StreamEvent::Closed(peer) => {
                        buffers.remove(&peer);
                        connections.remove(&peer);
                    }
                    StreamEvent::ConnectFailed(peer) => {
                        pending_connects.remove(&peer);
                        endpoint.handle_transport_error(Peer { transport: Transport::Tcp, address: peer });
                    }
                }
            }
            Some(message) = messages.recv() => {
                application.handle_message(Instant::now(), message, &mut endpoint);
            }
            _ = tokio::time::sleep_until(sleep_until) => {
                let now = Instant::now();
                endpoint.handle_timeout(now);
                application.handle_timeout(now, &mut endpoint);
            }
            _ = &mut shutdown, if shutting_down.is_none() => {
                let now = Instant::now();
                tracing::info!("shutting down: ending calls");
                shutting_down = Some(now);
                application.begin_shutdown(now, &mut endpoint);
            }
        }
        let now = Instant::now();
        while let Some(event) = endpoint.poll_event() {
            application.handle_event(now, event, &mut endpoint);
        }
        while let Some(Transmit { destination, bytes }) = endpoint.poll_transmit() {
            match destination.transport {
                Transport::Udp => {
                    if let Err(error) = udp.try_send_to(&bytes, destination.address) {
                        if error.kind() == io::ErrorKind::WouldBlock {
                            let _ = udp.send_to(&bytes, destination.address).await;
                        } else {
                            tracing::debug!(%error, "UDP send failed");
                        }
                    }
                }
                Transport::Tcp => {
                    let address = destination.address;
                    if let Some(writer) = connections.get(&address)
                        && writer.send(bytes.clone()).is_ok()
                    {
                        continue;
                    }
                    connections.remove(&address);
                    let queue = pending_connects.entry(address).or_default();
                    queue.push(bytes);
                    if queue.len() == 1 {
                        let events = stream_tx.clone();
                        tokio::spawn(async move {
                            match tokio::time::timeout(
                                Duration::from_secs(5),
                                TcpStream::connect(address),
                            )
                            .await
                            {
                                Ok(Ok(stream)) => {
                                    let _ = stream.set_nodelay(true);
                                    spawn_connection(stream, address, events);
                                }
                                _ => {
                                    let _ = events.send(StreamEvent::ConnectFailed(address));
                                }
                            }
                        });
                    }
                }
            }
        }
        if let Some(started) = shutting_down
            && ((application.is_idle() && endpoint.pending_client_count() == 0)
                || now.duration_since(started) > SHUTDOWN_GRACE)
        {
            break;
        }
    }
    acceptor.abort();
    Ok(())
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    events: mpsc::UnboundedSender<StreamEvent>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (writer_tx, mut writer_rx) = mpsc::unbounded_channel::<Bytes>();
    if events
        .send(StreamEvent::Connected(peer, writer_tx))
        .is_err()
    {
        return;
    }
    tokio::spawn(async move {
        while let Some(bytes) = writer_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => {
                    let _ = events.send(StreamEvent::Closed(peer));
                    break;
                }
                Ok(length) => {
                    if events
                        .send(StreamEvent::Data(
                            peer,
                            Bytes::copy_from_slice(&buffer[..length]),
                        ))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
}
