//! The tokio driver for RTP endpoints: UDP sockets, the real clock, and one
//! task per endpoint. All protocol decisions are made by the sans-IO parts
//! ([`Latching`], [`OutgoingStream`], [`crate::sdp`]); this module moves
//! datagrams between sockets.
//!
//! ```text
//!   phone A ──RTP──► endpoint A ──┐ Relay ┌──► endpoint B ──RTP──► phone B
//!           ◄──RTP── (A's task) ◄─┘       └── (B's task) ◄──RTP──
//!                     Echo: back to the source · Hold/Inactive: dropped
//! ```
//!
//! Each endpoint's task receives on its own sockets and, per its mode,
//! sends either back out of its own socket (echo) or out of the peer
//! endpoint's socket (relay), through the outgoing stream of the endpoint
//! it leaves from, so every stream we send has one SSRC and continuous
//! numbering whatever feeds it. Sends never wait: a full socket buffer
//! drops the packet, which for real-time audio is better than late.
//!
//! Later this becomes fixed 20 ms media workers owning many channels; the
//! sans-IO parts carry over unchanged.

// This is the driver: it reads the real clock and spawns tasks, which
// `clippy.toml` forbids everywhere else.
#![allow(clippy::disallowed_methods)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tracing::debug;

use crate::codec::Codec;
use crate::ports::{PortAllocator, PortError, RtpPortPair};
use crate::rtp::{
    LatchVerdict, Latching, OutgoingStream, PayloadType, RtpPacketMut, Ssrc, is_rtcp,
};
use crate::sdp::{Direction, NegotiatedMedia};

/// Largest datagram we accept; anything this long or longer is dropped
/// (G.711 at 20 ms is 172 bytes).
const MAX_DATAGRAM: usize = 2048;
/// Port pairs tried before giving up when binding fails.
const MAX_BIND_ATTEMPTS: usize = 16;
/// The RTP clock of everything we carry today (G.711, telephone-event).
const CLOCK_RATE: u32 = 8000;

/// Why an endpoint could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// No free port pair.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// Every pair tried was in use by something else, or the address is
    /// not ours.
    #[error("could not bind an RTP port pair after {attempts} attempts")]
    Io {
        /// Pairs tried.
        attempts: usize,
        /// The last failure.
        #[source]
        source: io::Error,
    },
}

/// What an endpoint does with the RTP it receives.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Send every packet back to where it came from, as our stream.
    Echo,
    /// Send every packet out of the other endpoint to its remote (one half
    /// of a bridge: see [`bridge`]).
    Relay(EndpointHandle),
    /// We hold the remote: drop what it sends (hold music comes later).
    Hold,
    /// Media stopped: drop everything.
    Inactive,
}

/// An endpoint bound to its ports, not yet running.
#[derive(Debug)]
pub struct RtpEndpoint {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    local_rtp: SocketAddr,
    port_pair: RtpPortPair,
    ssrc: Ssrc,
}

impl RtpEndpoint {
    /// Binds RTP and RTCP sockets on `ip` and a pair from `ports`, trying
    /// further pairs while binding fails (another process may hold one).
    /// Give the pair back to `ports` after [`EndpointHandle::stopped`].
    pub async fn bind(ip: IpAddr, ports: &mut PortAllocator) -> Result<Self, BindError> {
        Self::bind_now(ip, ports)
    }

    /// Like [`RtpEndpoint::bind`], without awaiting (binding never blocks),
    /// so a call controller running inside the runtime can bind while it
    /// answers an INVITE.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn bind_now(ip: IpAddr, ports: &mut PortAllocator) -> Result<Self, BindError> {
        let attempts = ports.available().clamp(1, MAX_BIND_ATTEMPTS);
        let mut last_error = None;
        for _ in 0..attempts {
            let pair = ports.allocate()?;
            match bind_pair(ip, pair) {
                Ok((rtp, rtcp, local_rtp)) => {
                    return Ok(Self {
                        rtp,
                        rtcp,
                        local_rtp,
                        port_pair: pair,
                        ssrc: Ssrc::new(rand::random()),
                    });
                }
                Err(error) => {
                    debug!(%pair, %error, "RTP port pair busy, trying the next");
                    ports
                        .release(pair)
                        .expect("the pair was allocated just above");
                    if error.kind() == io::ErrorKind::AddrNotAvailable {
                        // Not our address: no other port will do better.
                        return Err(BindError::Io {
                            attempts: 1,
                            source: error,
                        });
                    }
                    last_error = Some(error);
                }
            }
        }
        Err(BindError::Io {
            attempts,
            source: last_error.unwrap_or_else(|| io::Error::other("no attempt made")),
        })
    }

    /// The port pair, to give back to the allocator at the end.
    pub fn port_pair(&self) -> RtpPortPair {
        self.port_pair
    }

    /// The address and port to put in our SDP.
    pub fn local_rtp_address(&self) -> SocketAddr {
        self.local_rtp
    }

    /// The SSRC of the stream we send.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Starts the endpoint's task in `mode`. Until
    /// [`EndpointHandle::set_remote_media`] it only knows remotes it latches
    /// to. Dropping the last handle stops the task.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn(self, mode: Mode) -> EndpointHandle {
        let rtp = Arc::new(self.rtp);
        let (control, control_receiver) = watch::channel(Control {
            mode: ModeState::from(&mode),
            running: true,
        });
        let shared = Arc::new(Shared {
            local_rtp: self.local_rtp,
            port_pair: self.port_pair,
            ssrc: self.ssrc,
            control,
            stopped: watch::Sender::new(false),
            outbound: Mutex::new(Outbound {
                socket: Some(Arc::clone(&rtp)),
                latching: Latching::default(),
                media: None,
                stream: OutgoingStream::new(self.ssrc, CLOCK_RATE),
            }),
            counters: Counters::default(),
            created: Instant::now(),
        });
        tokio::spawn(run(Arc::clone(&shared), rtp, self.rtcp, control_receiver));
        EndpointHandle {
            owner: Arc::new(Owner { shared }),
        }
    }
}

/// Controls a running endpoint; cheap to clone. The endpoint stops when
/// [`shutdown`](Self::shutdown) is called or the last handle is dropped.
#[derive(Debug, Clone)]
pub struct EndpointHandle {
    owner: Arc<Owner>,
}

impl EndpointHandle {
    /// Switches what the endpoint does with the packets it receives.
    pub fn set_mode(&self, mode: Mode) {
        let mode = ModeState::from(&mode);
        self.shared()
            .control
            .send_modify(|control| control.mode = mode);
    }

    /// Takes the result of an offer/answer: where to send (the remote RTP
    /// address, until latching finds a better one), whether to send, and
    /// the payload types to relay with. Payload types received are assumed
    /// to be the ones we send with, which holds for our answers and for
    /// answerers that follow RFC 3264 §6.1.
    pub fn set_remote_media(&self, media: &NegotiatedMedia) {
        let mut outbound = lock(&self.shared().outbound);
        outbound.latching.set_signalled(Some(media.remote_rtp));
        outbound.media = Some(RemoteMedia {
            codec: media.codec,
            payload_type: media.payload_type,
            telephone_event: media.telephone_event,
            direction: media.direction,
        });
    }

    /// Counters for logs and CDRs.
    pub fn stats(&self) -> EndpointStats {
        let shared = self.shared();
        let (remote, latched) = {
            let outbound = lock(&shared.outbound);
            (outbound.latching.remote(), outbound.latching.is_latched())
        };
        let counters = &shared.counters;
        let last_received = match counters.last_received.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(shared.created + std::time::Duration::from_nanos(nanos - 1)),
        };
        EndpointStats {
            packets_received: counters.packets_received.load(Ordering::Relaxed),
            bytes_received: counters.bytes_received.load(Ordering::Relaxed),
            packets_sent: counters.packets_sent.load(Ordering::Relaxed),
            bytes_sent: counters.bytes_sent.load(Ordering::Relaxed),
            packets_dropped: counters.packets_dropped.load(Ordering::Relaxed),
            rtcp_packets_received: counters.rtcp_packets_received.load(Ordering::Relaxed),
            last_received,
            remote,
            latched,
        }
    }

    /// The local RTP address.
    pub fn local_rtp_address(&self) -> SocketAddr {
        self.shared().local_rtp
    }

    /// The port pair, to give back to the allocator once stopped.
    pub fn port_pair(&self) -> RtpPortPair {
        self.shared().port_pair
    }

    /// The SSRC of the stream we send.
    pub fn ssrc(&self) -> Ssrc {
        self.shared().ssrc
    }

    /// Stops the endpoint: its task ends and its sockets close.
    pub fn shutdown(&self) {
        self.shared()
            .control
            .send_modify(|control| control.running = false);
    }

    /// Waits until the task has ended and the sockets are closed.
    pub async fn stopped(&self) {
        let mut stopped = self.shared().stopped.subscribe();
        // The sender lives in `Shared`, which we hold: this cannot fail.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.owner.shared
    }
}

/// Bridges two endpoints (B2BUA): what `a` receives goes out of `b` to its
/// remote, and the reverse.
pub fn bridge(a: &EndpointHandle, b: &EndpointHandle) {
    a.set_mode(Mode::Relay(b.clone()));
    b.set_mode(Mode::Relay(a.clone()));
}

/// An endpoint's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams received on the RTP socket, valid or not.
    pub packets_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Datagrams sent out of this endpoint (echo, or relay from the peer).
    pub packets_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Received datagrams not forwarded: malformed, from an unlatched
    /// source, dropped by the mode or direction, or unsendable.
    pub packets_dropped: u64,
    /// RTCP packets received (on the RTCP port, or multiplexed).
    pub rtcp_packets_received: u64,
    /// When the remote last sent a valid RTP packet.
    pub last_received: Option<Instant>,
    /// Where we send to.
    pub remote: Option<SocketAddr>,
    /// Whether `remote` was learned by latching rather than from SDP.
    pub latched: bool,
}

/// Stops the endpoint when the last handle goes.
#[derive(Debug)]
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared
            .control
            .send_modify(|control| control.running = false);
    }
}

#[derive(Debug)]
struct Shared {
    local_rtp: SocketAddr,
    port_pair: RtpPortPair,
    ssrc: Ssrc,
    control: watch::Sender<Control>,
    stopped: watch::Sender<bool>,
    /// Everything needed to send out of this endpoint, used by its own task
    /// (echo) and by its peer's (relay). Never held across an await.
    outbound: Mutex<Outbound>,
    counters: Counters,
    created: Instant,
}

#[derive(Debug, Clone)]
struct Control {
    mode: ModeState,
    running: bool,
}

/// [`Mode`] as the task keeps it: a relay peer is held weakly, so two
/// bridged endpoints do not keep each other alive.
#[derive(Debug, Clone)]
enum ModeState {
    Echo,
    Relay(Weak<Shared>),
    Drop,
}

impl From<&Mode> for ModeState {
    fn from(mode: &Mode) -> Self {
        match mode {
            Mode::Echo => Self::Echo,
            Mode::Relay(peer) => Self::Relay(Arc::downgrade(peer.shared())),
            Mode::Hold | Mode::Inactive => Self::Drop,
        }
    }
}

#[derive(Debug)]
struct Outbound {
    /// `None` once the endpoint stopped.
    socket: Option<Arc<UdpSocket>>,
    latching: Latching,
    media: Option<RemoteMedia>,
    stream: OutgoingStream,
}

/// What the offer/answer decided for this endpoint's remote.
#[derive(Debug, Clone, Copy)]
struct RemoteMedia {
    codec: Codec,
    payload_type: PayloadType,
    telephone_event: Option<PayloadType>,
    direction: Direction,
}

#[derive(Debug, Default)]
struct Counters {
    packets_received: AtomicU64,
    bytes_received: AtomicU64,
    packets_sent: AtomicU64,
    bytes_sent: AtomicU64,
    packets_dropped: AtomicU64,
    rtcp_packets_received: AtomicU64,
    /// Nanoseconds since `Shared::created`, plus one; 0 for never.
    last_received: AtomicU64,
}

impl Counters {
    fn count(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    fn dropped(&self) {
        Self::count(&self.packets_dropped, 1);
    }
}

fn lock(outbound: &Mutex<Outbound>) -> MutexGuard<'_, Outbound> {
    // A panic elsewhere while holding the lock leaves counters and numbers
    // that are still usable: keep going rather than poison every call.
    outbound.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The endpoint's task: one loop, two sockets, two buffers allocated once.
async fn run(
    shared: Arc<Shared>,
    rtp: Arc<UdpSocket>,
    rtcp: UdpSocket,
    mut control: watch::Receiver<Control>,
) {
    let mut datagram = vec![0u8; MAX_DATAGRAM + 1];
    let mut rtcp_datagram = vec![0u8; MAX_DATAGRAM + 1];
    // A shutdown may come before the task first runs.
    let (mut mode, mut running) = {
        let control = control.borrow_and_update();
        (control.mode.clone(), control.running)
    };
    while running {
        tokio::select! {
            // Apply a mode change before any packet that arrived after it.
            biased;
            changed = control.changed() => {
                let control = control.borrow_and_update();
                running = changed.is_ok() && control.running;
                mode = control.mode.clone();
            }
            received = rtp.recv_from(&mut datagram) => match received {
                Ok((len, source)) => on_rtp(&shared, &mode, &mut datagram[..len], source),
                // ICMP errors from earlier sends surface here on some
                // systems; they say nothing about the next packet.
                Err(error) => debug!(%error, "RTP receive failed"),
            },
            received = rtcp.recv_from(&mut rtcp_datagram) => {
                if received.is_ok() {
                    Counters::count(&shared.counters.rtcp_packets_received, 1);
                }
            }
        }
    }
    lock(&shared.outbound).socket = None;
    drop(rtp);
    drop(rtcp);
    shared.stopped.send_replace(true);
}

fn on_rtp(shared: &Shared, mode: &ModeState, datagram: &mut [u8], source: SocketAddr) {
    let counters = &shared.counters;
    Counters::count(&counters.packets_received, 1);
    Counters::count(&counters.bytes_received, datagram.len() as u64);
    if is_rtcp(datagram) {
        Counters::count(&counters.rtcp_packets_received, 1);
        return;
    }
    if datagram.len() > MAX_DATAGRAM {
        counters.dropped();
        return;
    }
    let Ok(mut packet) = RtpPacketMut::parse(datagram) else {
        counters.dropped();
        return;
    };
    let now = Instant::now();
    let received_media = {
        let mut outbound = lock(&shared.outbound);
        match outbound.latching.on_packet(source) {
            LatchVerdict::Accepted => {}
            LatchVerdict::Latched { previous } => {
                debug!(?previous, %source, "RTP latched to the address the remote sends from");
            }
            LatchVerdict::Ignored => {
                drop(outbound);
                counters.dropped();
                return;
            }
        }
        outbound.media
    };
    let since_created = now.saturating_duration_since(shared.created).as_nanos();
    counters.last_received.store(
        u64::try_from(since_created).unwrap_or(u64::MAX - 1) + 1,
        Ordering::Relaxed,
    );

    match mode {
        ModeState::Echo => {
            let mut outbound = lock(&shared.outbound);
            if outbound.media.is_some_and(|media| !media.direction.sends()) {
                drop(outbound);
                counters.dropped();
                return;
            }
            outbound.stream.rewrite(now, &mut packet);
            if !send(&outbound, counters, datagram, source) {
                counters.dropped();
            }
        }
        ModeState::Relay(peer) => {
            let Some(peer) = peer.upgrade() else {
                counters.dropped();
                return;
            };
            let mut outbound = lock(&peer.outbound);
            let Some(destination) = outbound.latching.remote() else {
                drop(outbound);
                counters.dropped();
                return;
            };
            let payload_type =
                relayed_payload_type(packet.header().payload_type, received_media, outbound.media);
            let sends = outbound.media.is_none_or(|media| media.direction.sends());
            let (Some(payload_type), true) = (payload_type, sends) else {
                drop(outbound);
                counters.dropped();
                return;
            };
            packet.set_payload_type(payload_type);
            outbound.stream.rewrite(now, &mut packet);
            if !send(&outbound, &peer.counters, datagram, destination) {
                counters.dropped();
            }
        }
        ModeState::Drop => counters.dropped(),
    }
}

/// The payload type a relayed packet leaves with: the same media under the
/// number the other remote expects, or `None` to drop it (another codec
/// needs transcoding, which comes with the media workers). Before both
/// sides have negotiated, numbers pass through.
fn relayed_payload_type(
    received: PayloadType,
    from: Option<RemoteMedia>,
    to: Option<RemoteMedia>,
) -> Option<PayloadType> {
    let (Some(from), Some(to)) = (from, to) else {
        return Some(received);
    };
    if received == from.payload_type {
        (from.codec == to.codec).then_some(to.payload_type)
    } else if Some(received) == from.telephone_event {
        to.telephone_event
    } else {
        None
    }
}

/// Sends `datagram` out of `outbound`'s socket without waiting; counts it
/// on `counters` if it left. Returns whether it did.
fn send(
    outbound: &Outbound,
    counters: &Counters,
    datagram: &[u8],
    destination: SocketAddr,
) -> bool {
    let Some(socket) = outbound.socket.as_ref() else {
        return false;
    };
    if !crate::rtp::is_usable(destination) {
        return false;
    }
    match socket.try_send_to(datagram, destination) {
        Ok(sent) => {
            Counters::count(&counters.packets_sent, 1);
            Counters::count(&counters.bytes_sent, sent as u64);
            true
        }
        Err(error) => {
            debug!(%error, "RTP send dropped");
            false
        }
    }
}

/// Binds an RTP/RTCP pair. Binding a UDP socket on an IP address never
/// blocks, so this needs no await; the sockets join the current runtime.
fn bind_pair(ip: IpAddr, pair: RtpPortPair) -> io::Result<(UdpSocket, UdpSocket, SocketAddr)> {
    let bind = |port: u16| -> io::Result<UdpSocket> {
        let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
        socket.set_nonblocking(true)?;
        UdpSocket::from_std(socket)
    };
    let rtp = bind(pair.rtp())?;
    let local_rtp = rtp.local_addr()?;
    Ok((rtp, bind(pair.rtcp())?, local_rtp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{RtpHeader, RtpPacket, RtpTimestamp, SequenceNumber};
    use crate::sdp::Ptime;
    use std::net::Ipv4Addr;
    use std::time::Duration;
    use tokio::time::timeout;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const TIMEOUT: Duration = Duration::from_secs(5);
    const TELEPHONE_EVENT: PayloadType = PayloadType::TELEPHONE_EVENT_DEFAULT;

    /// A port range of its own per test, below the ephemeral range; bind
    /// retries cover ports taken by anything else.
    fn ports(base: u16) -> PortAllocator {
        PortAllocator::new(base, base + 63).unwrap()
    }

    async fn phone() -> UdpSocket {
        UdpSocket::bind((LOOPBACK, 0)).await.unwrap()
    }

    async fn endpoint(ports: &mut PortAllocator, mode: Mode) -> EndpointHandle {
        RtpEndpoint::bind(LOOPBACK, ports)
            .await
            .unwrap()
            .spawn(mode)
    }

    fn negotiated(
        remote: SocketAddr,
        telephone_event: Option<PayloadType>,
        direction: Direction,
    ) -> NegotiatedMedia {
        NegotiatedMedia {
            media_index: 0,
            remote_rtp: remote,
            remote_rtcp: remote,
            codec: Codec::Pcmu,
            payload_type: PayloadType::PCMU,
            telephone_event,
            direction,
            ptime: Ptime::DEFAULT,
            rtcp_mux: true,
        }
    }

    fn rtp(ssrc: u32, sequence_number: u16, timestamp: u32, payload_type: PayloadType) -> Vec<u8> {
        let mut buffer = vec![0u8; 12 + 160];
        let len = RtpHeader {
            marker: false,
            payload_type,
            sequence_number: SequenceNumber::new(sequence_number),
            timestamp: RtpTimestamp::new(timestamp),
            ssrc: Ssrc::new(ssrc),
        }
        .write(&[0xd5; 160], &mut buffer)
        .unwrap();
        buffer.truncate(len);
        buffer
    }

    async fn send(from: &UdpSocket, datagram: &[u8], to: &EndpointHandle) {
        from.send_to(datagram, to.local_rtp_address())
            .await
            .unwrap();
    }

    /// The next RTP packet `socket` receives: its header and sender.
    async fn receive(socket: &UdpSocket) -> (RtpHeader, SocketAddr) {
        let mut buffer = [0u8; 2048];
        let (len, from) = timeout(TIMEOUT, socket.recv_from(&mut buffer))
            .await
            .expect("a packet within the timeout")
            .unwrap();
        let packet = RtpPacket::parse(&buffer[..len]).unwrap();
        assert_eq!(packet.payload(), &[0xd5; 160]);
        (packet.header(), from)
    }

    fn nothing_queued(socket: &UdpSocket) -> bool {
        let mut buffer = [0u8; 2048];
        matches!(
            socket.try_recv_from(&mut buffer),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock
        )
    }

    /// Waits until the endpoint's counters satisfy `condition`.
    async fn eventually(
        handle: &EndpointHandle,
        condition: impl Fn(&EndpointStats) -> bool,
    ) -> EndpointStats {
        timeout(TIMEOUT, async {
            loop {
                let stats = handle.stats();
                if condition(&stats) {
                    return stats;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the counters reach the condition within the timeout")
    }

    #[tokio::test]
    async fn echo_returns_packets_as_our_stream() {
        let mut ports = ports(21_000);
        let handle = endpoint(&mut ports, Mode::Echo).await;
        let caller = phone().await;
        handle.set_remote_media(&negotiated(
            caller.local_addr().unwrap(),
            Some(TELEPHONE_EVENT),
            Direction::SendRecv,
        ));

        send(
            &caller,
            &rtp(0xca11e7, 1000, 8000, PayloadType::PCMU),
            &handle,
        )
        .await;
        let (header, from) = receive(&caller).await;
        assert_eq!(from, handle.local_rtp_address());
        assert_eq!(header.ssrc, handle.ssrc());
        assert_ne!(header.ssrc, Ssrc::new(0xca11e7));
        assert_eq!(header.sequence_number.get(), 1000);
        assert_eq!(header.timestamp.get(), 8000);

        let stats = handle.stats();
        assert_eq!((stats.packets_received, stats.packets_sent), (1, 1));
        assert_eq!((stats.bytes_received, stats.bytes_sent), (172, 172));
        assert_eq!(stats.packets_dropped, 0);
        assert!(stats.last_received.is_some());
        assert_eq!(stats.remote, Some(caller.local_addr().unwrap()));
        assert!(!stats.latched);
    }

    #[tokio::test]
    async fn relay_bridges_two_endpoints_both_ways() {
        let mut ports = ports(21_100);
        let a = endpoint(&mut ports, Mode::Inactive).await;
        let b = endpoint(&mut ports, Mode::Inactive).await;
        let (phone_a, phone_b) = (phone().await, phone().await);
        a.set_remote_media(&negotiated(
            phone_a.local_addr().unwrap(),
            Some(TELEPHONE_EVENT),
            Direction::SendRecv,
        ));
        let b_events = PayloadType::new(96).unwrap();
        b.set_remote_media(&negotiated(
            phone_b.local_addr().unwrap(),
            Some(b_events),
            Direction::SendRecv,
        ));
        bridge(&a, &b);

        send(&phone_a, &rtp(0xa, 100, 1000, PayloadType::PCMU), &a).await;
        let (header, from) = receive(&phone_b).await;
        assert_eq!(from, b.local_rtp_address());
        assert_eq!(header.ssrc, b.ssrc());
        assert_eq!(header.sequence_number.get(), 100);
        assert_eq!(header.payload_type, PayloadType::PCMU);

        // DTMF leaves under B's number for telephone-event.
        send(&phone_a, &rtp(0xa, 101, 1160, TELEPHONE_EVENT), &a).await;
        let (header, _) = receive(&phone_b).await;
        assert_eq!(header.payload_type, b_events);
        assert_eq!(header.sequence_number.get(), 101);

        send(&phone_b, &rtp(0xb, 5000, 7, PayloadType::PCMU), &b).await;
        let (header, from) = receive(&phone_a).await;
        assert_eq!(from, a.local_rtp_address());
        assert_eq!(header.ssrc, a.ssrc());
        assert_eq!(header.sequence_number.get(), 5000);

        // Phone A restarts its stream: B's outgoing stream stays continuous.
        send(&phone_a, &rtp(0xc, 9, 0, PayloadType::PCMU), &a).await;
        let (header, _) = receive(&phone_b).await;
        assert_eq!(header.ssrc, b.ssrc());
        assert_eq!(header.sequence_number.get(), 102);
        assert!(header.marker);

        assert_eq!(a.stats().packets_received, 3);
        assert_eq!(b.stats().packets_sent, 3);
        assert_eq!(b.stats().packets_received, 1);
        assert_eq!(a.stats().packets_sent, 1);
    }

    #[tokio::test]
    async fn latches_after_three_packets_and_ignores_strays() {
        let mut ports = ports(21_200);
        let handle = endpoint(&mut ports, Mode::Echo).await;
        let signalled = phone().await;
        let (natted, stray) = (phone().await, phone().await);
        handle.set_remote_media(&negotiated(
            signalled.local_addr().unwrap(),
            None,
            Direction::SendRecv,
        ));

        for sequence_number in 1..=3 {
            send(
                &natted,
                &rtp(7, sequence_number, 0, PayloadType::PCMU),
                &handle,
            )
            .await;
        }
        let (header, _) = receive(&natted).await;
        assert_eq!(
            header.sequence_number.get(),
            3,
            "the first two were ignored"
        );

        send(&stray, &rtp(66, 50, 0, PayloadType::PCMU), &handle).await;
        send(&natted, &rtp(7, 4, 160, PayloadType::PCMU), &handle).await;
        let (header, _) = receive(&natted).await;
        assert_eq!(header.sequence_number.get(), 4);
        // The stray packet was handled before packet 4, and answered nowhere.
        assert!(nothing_queued(&stray));
        assert!(nothing_queued(&signalled));
        assert!(nothing_queued(&natted));

        let stats = handle.stats();
        assert_eq!(stats.remote, Some(natted.local_addr().unwrap()));
        assert!(stats.latched);
        assert_eq!(stats.packets_dropped, 3);
        assert_eq!(stats.packets_sent, 2);
    }

    #[tokio::test]
    async fn hold_direction_and_bad_packets_drop() {
        let mut ports = ports(21_300);
        let handle = endpoint(&mut ports, Mode::Hold).await;
        let caller = phone().await;
        let caller_address = caller.local_addr().unwrap();
        handle.set_remote_media(&negotiated(caller_address, None, Direction::SendRecv));

        send(&caller, &rtp(7, 1, 0, PayloadType::PCMU), &handle).await;
        send(&caller, &[0x80, 0x00, 0x01], &handle).await;
        send(&caller, &[0x80, 201, 0x00, 0x01, 0, 0, 0, 7], &handle).await;
        let stats = eventually(&handle, |stats| stats.packets_received == 3).await;
        assert_eq!(stats.packets_dropped, 2, "held packet and the runt");
        assert_eq!(stats.rtcp_packets_received, 1);
        assert_eq!(stats.packets_sent, 0);
        assert!(nothing_queued(&caller));

        handle.set_mode(Mode::Echo);
        send(&caller, &rtp(7, 2, 160, PayloadType::PCMU), &handle).await;
        assert_eq!(receive(&caller).await.0.sequence_number.get(), 2);

        // The caller puts us on hold (its offer was sendonly, so we are
        // recvonly): nothing goes back, even in echo.
        handle.set_remote_media(&negotiated(caller_address, None, Direction::RecvOnly));
        send(&caller, &rtp(7, 3, 320, PayloadType::PCMU), &handle).await;
        eventually(&handle, |stats| stats.packets_dropped == 3).await;
        assert!(nothing_queued(&caller));
    }

    #[tokio::test]
    async fn binds_the_next_pair_when_one_is_taken() {
        let blocker = std::net::UdpSocket::bind((LOOPBACK, 0)).unwrap();
        let taken = blocker.local_addr().unwrap().port();
        // Whether the taken port is an RTP or an RTCP port, its pair fails.
        let low = taken - taken % 2;
        let mut two_pairs = PortAllocator::new(low, low + 3).unwrap();
        let endpoint = RtpEndpoint::bind(LOOPBACK, &mut two_pairs).await.unwrap();
        assert_eq!(endpoint.port_pair().rtp(), low + 2);
        assert_eq!(endpoint.local_rtp_address().port(), low + 2);
        assert_eq!(two_pairs.available(), 1, "the busy pair went back");

        let mut one_busy_pair = PortAllocator::new(low, low + 1).unwrap();
        assert!(matches!(
            RtpEndpoint::bind(LOOPBACK, &mut one_busy_pair).await,
            Err(BindError::Io { attempts: 1, .. })
        ));
        // TEST-NET-1 is nobody's address: one attempt, not sixteen.
        let mut plenty = ports(21_500);
        assert!(matches!(
            RtpEndpoint::bind(IpAddr::from([192, 0, 2, 1]), &mut plenty).await,
            Err(BindError::Io { attempts: 1, .. })
        ));
        assert_eq!(plenty.available(), plenty.capacity());
        let mut none_left = PortAllocator::new(low, low + 1).unwrap();
        none_left.allocate().unwrap();
        assert!(matches!(
            RtpEndpoint::bind(LOOPBACK, &mut none_left).await,
            Err(BindError::Ports(PortError::Exhausted { .. }))
        ));
    }

    #[tokio::test]
    async fn shutdown_closes_the_sockets() {
        let mut ports = ports(21_400);
        let handle = endpoint(&mut ports, Mode::Echo).await;
        let pair = handle.port_pair();
        handle.shutdown();
        timeout(TIMEOUT, handle.stopped()).await.unwrap();
        std::net::UdpSocket::bind((LOOPBACK, pair.rtp())).expect("RTP port free again");
        std::net::UdpSocket::bind((LOOPBACK, pair.rtcp())).expect("RTCP port free again");
        ports.release(pair).unwrap();
        // Counters outlive the task.
        assert_eq!(handle.stats().packets_received, 0);

        // Dropping the last handle stops the endpoint too.
        let dropped = endpoint(&mut ports, Mode::Echo).await;
        let pair = dropped.port_pair();
        drop(dropped);
        timeout(TIMEOUT, async {
            while std::net::UdpSocket::bind((LOOPBACK, pair.rtp())).is_err() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the task stops once no handle is left");
    }

    #[test]
    fn relayed_payload_types_follow_each_side() {
        let media = |codec, payload_type: u8, telephone_event: Option<u8>| {
            Some(RemoteMedia {
                codec,
                payload_type: PayloadType::new(payload_type).unwrap(),
                telephone_event: telephone_event.map(|value| PayloadType::new(value).unwrap()),
                direction: Direction::SendRecv,
            })
        };
        let pt = |value| PayloadType::new(value).unwrap();
        let a = media(Codec::Pcmu, 0, Some(101));
        let b = media(Codec::Pcmu, 0, Some(96));
        assert_eq!(relayed_payload_type(pt(0), a, b), Some(pt(0)));
        assert_eq!(relayed_payload_type(pt(101), a, b), Some(pt(96)));
        assert_eq!(relayed_payload_type(pt(13), a, b), None, "comfort noise");
        let no_events = media(Codec::Pcmu, 0, None);
        assert_eq!(relayed_payload_type(pt(101), a, no_events), None);
        let alaw = media(Codec::Pcma, 8, Some(101));
        assert_eq!(
            relayed_payload_type(pt(0), a, alaw),
            None,
            "needs transcoding"
        );
        assert_eq!(relayed_payload_type(pt(13), None, b), Some(pt(13)));
    }
}
