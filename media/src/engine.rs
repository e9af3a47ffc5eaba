//! The media engine: a fixed set of media workers (DESIGN.md principle 3),
//! each an OS thread that owns its channels and their sockets, waits on
//! them with one `mio` poll, and runs every channel's 20 ms tick.
//!
//! ```text
//!   call controller ──Command──► worker k (thread, mio Poll)
//!        ▲                         ├─ channel a ◄─► sockets a (RTP, RTCP)
//!        │                         ├─ channel b ◄─► sockets b
//!        └──── MediaEvent ─────────┘  20 ms tick: timeouts, RTCP, stats
//! ```
//!
//! Routing of a channel's received media:
//!
//! - `Idle`: received and counted, nothing sent (a call not yet bridged).
//! - `Echo`: each audio or telephone-event packet goes back out of the same
//!   channel, re-stamped as our stream, the moment it arrives.
//! - `Bridge(other)`: each packet goes out of the other channel (on the
//!   same worker) the moment it arrives, re-stamped and transcoded in place
//!   when the codecs differ: the relay fast path, no decoding.
//!
//! Packets are relayed when they arrive rather than at the next tick, so
//! the relay adds no delay; the tick drives RTCP, the media timeout and
//! the published stats. Both legs of a call are opened on the same worker
//! ([`MediaEngine::open`] takes the leg to sit beside), so a bridge never
//! crosses threads. All protocol decisions are the [`Channel`]'s; this
//! module moves datagrams and reads the clock.

// This is a driver: it reads the real clock and starts threads, which
// `clippy.toml` forbids everywhere else.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::audio::SILENCE;
use crate::channel::{
    Channel, ChannelConfig, ChannelEvent, ChannelStats, LocalSocket, ReceiveMode, Transmit,
};
use crate::ports::{PortAllocator, PortError, RtpPortPair};
use crate::recorder::Recorder;
use crate::rtp::{RtpPacket, Ssrc};
use crate::sdp::NegotiatedMedia;

/// The media tick.
const TICK: Duration = Duration::from_millis(20);
/// Ticks between two publications of a channel's stats.
const STATS_EVERY_TICKS: u32 = 50;
/// Largest datagram read; longer ones are truncated and then refused by
/// the parser (G.711 at 20 ms is 172 bytes).
const MAX_DATAGRAM: usize = 2048;
/// Port pairs tried before giving up when binding fails.
const MAX_BIND_ATTEMPTS: usize = 16;
const WAKER: Token = Token(usize::MAX);

/// Why a channel could not be opened.
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

/// Names a channel within the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(u64);

impl ChannelId {
    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Where a channel's received media goes (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Nowhere.
    Idle,
    /// Back to its sender.
    Echo,
    /// Out of the other channel, which must be on the same worker.
    Bridge(ChannelId),
}

/// Something a channel reported, for the call controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEvent {
    /// The channel.
    pub channel: ChannelId,
    /// What happened.
    pub event: ChannelEvent,
}

enum Command {
    Add {
        id: ChannelId,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        channel: Box<Channel>,
        stats: Arc<Mutex<ChannelStats>>,
    },
    SetRemote {
        id: ChannelId,
        media: NegotiatedMedia,
    },
    Route {
        id: ChannelId,
        routing: Routing,
    },
    Record {
        id: ChannelId,
        recorder: Box<Recorder>,
    },
    Remove {
        id: ChannelId,
    },
    Stop,
}

/// The way to one worker's command queue.
#[derive(Clone)]
struct WorkerLink {
    index: usize,
    commands: mpsc::Sender<Command>,
    waker: Arc<Waker>,
}

impl WorkerLink {
    fn send(&self, command: Command) {
        if self.commands.send(command).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

impl std::fmt::Debug for WorkerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "media-{}", self.index)
    }
}

struct WorkerHandle {
    link: WorkerLink,
    thread: Option<thread::JoinHandle<()>>,
}

/// The running media workers.
pub struct MediaEngine {
    workers: Vec<WorkerHandle>,
    next_worker: usize,
    next_id: AtomicU64,
}

/// One channel of the engine, held by the call controller.
#[derive(Debug)]
pub struct ChannelHandle {
    id: ChannelId,
    worker: WorkerLink,
    local_rtp: SocketAddr,
    port_pair: RtpPortPair,
    stats: Arc<Mutex<ChannelStats>>,
}

impl ChannelHandle {
    /// The channel's id, as in [`MediaEvent`]s.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The local RTP address, for our SDP.
    pub fn local_rtp_address(&self) -> SocketAddr {
        self.local_rtp
    }

    /// The port pair, to give back to the allocator after [`ChannelHandle::close`].
    pub fn port_pair(&self) -> RtpPortPair {
        self.port_pair
    }

    /// The channel's counters as last published (every second, and when
    /// it is closed).
    pub fn stats(&self) -> ChannelStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies an offer/answer result to the channel.
    pub fn set_remote(&self, media: &NegotiatedMedia) {
        self.worker.send(Command::SetRemote {
            id: self.id,
            media: media.clone(),
        });
    }

    /// Sends the channel's received media to `routing`.
    pub fn route(&self, routing: Routing) {
        self.worker.send(Command::Route {
            id: self.id,
            routing,
        });
    }

    /// Records what the channel receives into `recorder` (the caller's
    /// side; the other side is silent) until the channel closes, when the
    /// file is finished. Received media is decoded from then on.
    pub fn record(&self, recorder: Recorder) {
        self.worker.send(Command::Record {
            id: self.id,
            recorder: Box::new(recorder),
        });
    }

    /// Closes the channel (an RTCP BYE goes out) and its sockets. Give its
    /// port pair back to the allocator afterwards.
    pub fn close(&self) {
        self.worker.send(Command::Remove { id: self.id });
    }
}

/// Relays two channels into each other. They must have been opened on the
/// same worker ([`MediaEngine::open`]'s `beside`); otherwise nothing is
/// relayed and a warning is logged.
pub fn bridge(a: &ChannelHandle, b: &ChannelHandle) {
    if a.worker.index != b.worker.index {
        tracing::warn!("bridging channels of two workers is not supported");
        return;
    }
    a.route(Routing::Bridge(b.id));
    b.route(Routing::Bridge(a.id));
}

impl MediaEngine {
    /// Starts `workers` media workers (at least one). Every channel event
    /// is passed to `on_event`, on the worker's thread.
    pub fn start(
        workers: usize,
        on_event: impl Fn(MediaEvent) + Send + Sync + 'static,
    ) -> io::Result<MediaEngine> {
        let on_event: Arc<dyn Fn(MediaEvent) + Send + Sync> = Arc::new(on_event);
        let mut handles = Vec::new();
        for index in 0..workers.max(1) {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (commands, receiver) = mpsc::channel();
            let on_event = on_event.clone();
            let thread = thread::Builder::new()
                .name(format!("media-{index}"))
                .spawn(move || Worker::new(poll, receiver, on_event).run())?;
            handles.push(WorkerHandle {
                link: WorkerLink {
                    index,
                    commands,
                    waker,
                },
                thread: Some(thread),
            });
        }
        Ok(MediaEngine {
            workers: handles,
            next_worker: 0,
            next_id: AtomicU64::new(1),
        })
    }

    /// Binds a channel's RTP and RTCP sockets on `ip` with a pair from
    /// `ports` and hands it to a worker: the worker of `beside` when given
    /// (the other leg of the same call), else the next in turn.
    pub fn open(
        &mut self,
        ip: IpAddr,
        ports: &mut PortAllocator,
        beside: Option<&ChannelHandle>,
    ) -> Result<ChannelHandle, BindError> {
        let attempts = ports.available().clamp(1, MAX_BIND_ATTEMPTS);
        let mut last_error = None;
        for _ in 0..attempts {
            let pair = ports.allocate()?;
            match bind_pair(ip, pair) {
                Ok((rtp, rtcp, local_rtp)) => {
                    return Ok(self.start_channel(rtp, rtcp, local_rtp, pair, beside));
                }
                Err(error) => {
                    let _ = ports.release(pair);
                    last_error = Some(error);
                }
            }
        }
        Err(BindError::Io {
            attempts,
            source: last_error.unwrap_or_else(|| io::Error::other("no port pair")),
        })
    }

    fn start_channel(
        &mut self,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        local_rtp: SocketAddr,
        port_pair: RtpPortPair,
        beside: Option<&ChannelHandle>,
    ) -> ChannelHandle {
        let worker = match beside {
            Some(other) => other.worker.clone(),
            None => {
                let worker = self.workers[self.next_worker].link.clone();
                self.next_worker = (self.next_worker + 1) % self.workers.len();
                worker
            }
        };
        let id = ChannelId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let ssrc = Ssrc::new(rand::random());
        let config = ChannelConfig::new(
            ssrc,
            format!("switchboard-{}@{}", id.0, local_rtp.ip()),
            rand::random(),
            SystemTime::now(),
        );
        let channel = Box::new(Channel::new(Instant::now(), config));
        let stats = Arc::new(Mutex::new(channel.stats()));
        worker.send(Command::Add {
            id,
            rtp,
            rtcp,
            channel,
            stats: stats.clone(),
        });
        ChannelHandle {
            id,
            worker,
            local_rtp,
            port_pair,
            stats,
        }
    }

    /// Stops every worker, closing their channels, and waits for them.
    pub fn stop(&mut self) {
        for worker in &self.workers {
            worker.link.send(Command::Stop);
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind_pair(ip: IpAddr, pair: RtpPortPair) -> io::Result<(UdpSocket, UdpSocket, SocketAddr)> {
    let bind = |port: u16| -> io::Result<UdpSocket> {
        let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
        socket.set_nonblocking(true)?;
        Ok(UdpSocket::from_std(socket))
    };
    let rtp = bind(pair.rtp())?;
    let local_rtp = rtp.local_addr()?;
    Ok((rtp, bind(pair.rtcp())?, local_rtp))
}

/// Sends one datagram from the channel's RTP or RTCP socket. Never waits:
/// a full socket buffer drops the packet, which for real-time audio is
/// better than late.
fn send(rtp: &UdpSocket, rtcp: &UdpSocket, transmit: &Transmit<'_>) {
    let socket = match transmit.socket {
        LocalSocket::Rtp => rtp,
        LocalSocket::Rtcp => rtcp,
    };
    let _ = socket.send_to(transmit.bytes, transmit.destination);
}

/// One channel as a worker holds it.
struct Slot {
    id: ChannelId,
    channel: Box<Channel>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    routing: Routing,
    stats: Arc<Mutex<ChannelStats>>,
    recorder: Option<Box<Recorder>>,
}

impl Slot {
    /// Sends everything the channel has queued.
    fn flush(&mut self) {
        let Slot {
            channel, rtp, rtcp, ..
        } = self;
        while let Some(transmit) = channel.poll_transmit() {
            send(rtp, rtcp, &transmit);
        }
    }

    fn publish_stats(&self) {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = self.channel.stats();
    }
}

struct Worker {
    poll: Poll,
    commands: mpsc::Receiver<Command>,
    on_event: Arc<dyn Fn(MediaEvent) + Send + Sync>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    by_id: HashMap<ChannelId, usize>,
    buffer: Vec<u8>,
    ticks: u32,
}

impl Worker {
    fn new(
        poll: Poll,
        commands: mpsc::Receiver<Command>,
        on_event: Arc<dyn Fn(MediaEvent) + Send + Sync>,
    ) -> Worker {
        Worker {
            poll,
            commands,
            on_event,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            buffer: vec![0; MAX_DATAGRAM],
            ticks: 0,
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut next_tick = Instant::now() + TICK;
        loop {
            let timeout = next_tick.saturating_duration_since(Instant::now());
            if let Err(error) = self.poll.poll(&mut events, Some(timeout))
                && error.kind() != io::ErrorKind::Interrupted
            {
                tracing::error!(%error, "media worker poll failed");
                return;
            }
            for event in &events {
                if event.token() == WAKER {
                    if !self.handle_commands() {
                        self.close_all();
                        return;
                    }
                } else {
                    self.receive(event.token().0);
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                self.tick(now);
                next_tick += TICK;
                if next_tick < now {
                    // Fell behind (a stalled machine): skip, do not burst.
                    next_tick = now + TICK;
                }
            }
        }
    }

    /// Applies queued commands; `false` on Stop.
    fn handle_commands(&mut self) -> bool {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Add {
                    id,
                    mut rtp,
                    mut rtcp,
                    mut channel,
                    stats,
                } => {
                    let index = self.free.pop().unwrap_or(self.slots.len());
                    let registry = self.poll.registry();
                    if let Err(error) = registry
                        .register(&mut rtp, Token(index * 2), Interest::READABLE)
                        .and_then(|()| {
                            registry.register(&mut rtcp, Token(index * 2 + 1), Interest::READABLE)
                        })
                    {
                        tracing::error!(%error, "cannot watch a media socket");
                        continue;
                    }
                    channel.set_receive_mode(ReceiveMode::Relay);
                    let slot = Slot {
                        id,
                        channel,
                        rtp,
                        rtcp,
                        routing: Routing::Idle,
                        stats,
                        recorder: None,
                    };
                    if index == self.slots.len() {
                        self.slots.push(Some(slot));
                    } else {
                        self.slots[index] = Some(slot);
                    }
                    self.by_id.insert(id, index);
                }
                Command::SetRemote { id, media } => {
                    if let Some(slot) = self.slot_mut(id) {
                        slot.channel.set_remote(Instant::now(), media);
                    }
                }
                Command::Route { id, routing } => {
                    if let Some(slot) = self.slot_mut(id) {
                        slot.routing = routing;
                    }
                }
                Command::Record { id, recorder } => {
                    if let Some(slot) = self.slot_mut(id) {
                        slot.channel.set_receive_mode(ReceiveMode::Decode);
                        slot.recorder = Some(recorder);
                    }
                }
                Command::Remove { id } => self.remove(id),
                Command::Stop => return false,
            }
        }
        true
    }

    fn slot_mut(&mut self, id: ChannelId) -> Option<&mut Slot> {
        let index = *self.by_id.get(&id)?;
        self.slots.get_mut(index)?.as_mut()
    }

    fn remove(&mut self, id: ChannelId) {
        let Some(index) = self.by_id.remove(&id) else {
            return;
        };
        let Some(mut slot) = self.slots[index].take() else {
            return;
        };
        let now = Instant::now();
        if let Some(transmit) = slot.channel.close(now) {
            send(&slot.rtp, &slot.rtcp, &transmit);
        }
        slot.publish_stats();
        if let Some(mut recorder) = slot.recorder.take() {
            match recorder.finish() {
                Ok(summary) => tracing::info!(
                    file = %summary.path.display(),
                    seconds = summary.duration.as_secs_f64(),
                    "recording finished"
                ),
                Err(error) => tracing::error!(%error, "recording could not be finished"),
            }
        }
        let registry = self.poll.registry();
        let _ = registry.deregister(&mut slot.rtp);
        let _ = registry.deregister(&mut slot.rtcp);
        self.free.push(index);
        // Whoever was bridged to it now relays into nothing.
        for other in self.slots.iter_mut().flatten() {
            if other.routing == Routing::Bridge(id) {
                other.routing = Routing::Idle;
            }
        }
    }

    fn close_all(&mut self) {
        let ids: Vec<ChannelId> = self.by_id.keys().copied().collect();
        for id in ids {
            self.remove(id);
        }
    }

    /// Reads everything waiting on socket `token` and routes it.
    fn receive(&mut self, token: usize) {
        let index = token / 2;
        let is_rtcp = token % 2 == 1;
        loop {
            let Some(Some(slot)) = self.slots.get_mut(index) else {
                return;
            };
            let socket = if is_rtcp { &slot.rtcp } else { &slot.rtp };
            let (length, source) = match socket.recv_from(&mut self.buffer) {
                Ok(received) => received,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => break,
            };
            let now = Instant::now();
            let bytes = &self.buffer[..length];
            if is_rtcp {
                slot.channel.handle_rtcp_datagram(now, source, bytes);
                continue;
            }
            let verdict = slot.channel.handle_datagram(now, source, bytes);
            if !verdict.is_relayable() {
                continue;
            }
            let target = match slot.routing {
                Routing::Idle => continue,
                Routing::Echo => index,
                Routing::Bridge(other) => match self.by_id.get(&other) {
                    Some(&other) => other,
                    None => continue,
                },
            };
            let Some(format) = slot.channel.relay_format() else {
                continue;
            };
            let Ok(packet) = RtpPacket::parse(bytes) else {
                continue;
            };
            if let Some(Some(target)) = self.slots.get_mut(target) {
                let _ = target.channel.relay_from(now, &packet, format);
                target.flush();
            }
        }
        if let Some(Some(slot)) = self.slots.get_mut(index) {
            slot.flush();
            self.drain_events(index);
        }
    }

    fn drain_events(&mut self, index: usize) {
        if let Some(Some(slot)) = self.slots.get_mut(index) {
            while let Some(event) = slot.channel.poll_event() {
                (self.on_event)(MediaEvent {
                    channel: slot.id,
                    event,
                });
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        self.ticks = self.ticks.wrapping_add(1);
        let publish = self.ticks.is_multiple_of(STATS_EVERY_TICKS);
        for index in 0..self.slots.len() {
            let Some(Some(slot)) = self.slots.get_mut(index) else {
                continue;
            };
            if slot.channel.poll_timeout().is_some_and(|due| due <= now) {
                slot.channel.handle_timeout(now);
            }
            if let Some(recorder) = slot.recorder.as_mut() {
                let heard = *slot.channel.tick(now);
                if let Err(error) = recorder.write_frames(&heard, &SILENCE) {
                    tracing::error!(%error, "recording stopped");
                    slot.recorder = None;
                }
            }
            slot.flush();
            if publish {
                slot.publish_stats();
            }
            self.drain_events(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, g711};
    use crate::rtp::{RtpHeader, RtpTimestamp, SequenceNumber};
    use crate::sdp::Direction;
    use std::net::Ipv4Addr;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn negotiated(remote: SocketAddr, codec: Codec) -> NegotiatedMedia {
        crate::channel::testing::media(remote, codec, Direction::SendRecv)
    }

    fn phone() -> std::net::UdpSocket {
        let socket = std::net::UdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        socket
    }

    fn packet(sequence: u16, codec: Codec, fill: u8) -> Vec<u8> {
        let header = RtpHeader {
            marker: sequence == 0,
            payload_type: codec.payload_type(),
            sequence_number: SequenceNumber::new(sequence),
            timestamp: RtpTimestamp::new(u32::from(sequence) * 160),
            ssrc: Ssrc::new(0x0102_0304),
        };
        let mut out = vec![0; 12 + 160];
        header.write(&[fill; 160], &mut out).unwrap();
        out
    }

    /// Receives RTP payloads until `count` arrived (or the read times out).
    fn receive(socket: &std::net::UdpSocket, count: usize) -> Vec<Vec<u8>> {
        let mut buffer = [0u8; 2048];
        let mut payloads = Vec::new();
        while payloads.len() < count {
            let Ok((length, _)) = socket.recv_from(&mut buffer) else {
                break;
            };
            if let Ok(packet) = RtpPacket::parse(&buffer[..length])
                && packet.header().payload_type.get() < 64
            {
                payloads.push(packet.payload().to_vec());
            }
        }
        payloads
    }

    #[test]
    fn echo_sends_each_packet_back_restamped() {
        let mut engine = MediaEngine::start(1, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42000, 42063).unwrap();
        let channel = engine.open(LOOPBACK, &mut ports, None).unwrap();
        let phone = phone();
        channel.set_remote(&negotiated(phone.local_addr().unwrap(), Codec::Pcmu));
        channel.route(Routing::Echo);
        for sequence in 0..10 {
            phone
                .send_to(
                    &packet(sequence, Codec::Pcmu, 0x55),
                    channel.local_rtp_address(),
                )
                .unwrap();
        }
        let echoed = receive(&phone, 10);
        assert_eq!(echoed.len(), 10);
        assert!(echoed.iter().all(|payload| payload == &vec![0x55; 160]));
        engine.stop();
    }

    #[test]
    fn bridge_relays_both_ways_and_transcodes() {
        let mut engine = MediaEngine::start(2, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42100, 42163).unwrap();
        let a = engine.open(LOOPBACK, &mut ports, None).unwrap();
        let b = engine.open(LOOPBACK, &mut ports, Some(&a)).unwrap();
        let (phone_a, phone_b) = (phone(), phone());
        a.set_remote(&negotiated(phone_a.local_addr().unwrap(), Codec::Pcmu));
        b.set_remote(&negotiated(phone_b.local_addr().unwrap(), Codec::Pcma));
        bridge(&a, &b);
        for sequence in 0..5 {
            // Each side's payload reaches the other transcoded by the G.711 tables.
            phone_a
                .send_to(&packet(sequence, Codec::Pcmu, 0xff), a.local_rtp_address())
                .unwrap();
            phone_b
                .send_to(&packet(sequence, Codec::Pcma, 0xd5), b.local_rtp_address())
                .unwrap();
        }
        let at_b = receive(&phone_b, 5);
        let at_a = receive(&phone_a, 5);
        assert_eq!(at_b.len(), 5);
        assert_eq!(at_a.len(), 5);
        let (to_alaw, to_ulaw) = (g711::ulaw_to_alaw(0xff), g711::alaw_to_ulaw(0xd5));
        assert!(at_b.iter().all(|payload| payload == &vec![to_alaw; 160]));
        assert!(at_a.iter().all(|payload| payload == &vec![to_ulaw; 160]));
        a.close();
        b.close();
        engine.stop();
        assert_eq!(a.stats().packets_received, 5);
    }

    #[test]
    fn recording_keeps_what_the_caller_sent_and_is_finished_on_close() {
        let mut engine = MediaEngine::start(1, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42200, 42263).unwrap();
        let channel = engine.open(LOOPBACK, &mut ports, None).unwrap();
        let phone = phone();
        channel.set_remote(&negotiated(phone.local_addr().unwrap(), Codec::Pcmu));
        let path = std::env::temp_dir().join(format!(
            "switchboard-engine-recording-{}.wav",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let recorder = Recorder::create(&path, crate::recorder::RecordingFormat::Mono).unwrap();
        channel.record(recorder);
        // One second of a loud µ-law code, paced like a phone.
        let started = Instant::now();
        for sequence in 0..50u16 {
            phone
                .send_to(
                    &packet(sequence, Codec::Pcmu, 0x20),
                    channel.local_rtp_address(),
                )
                .unwrap();
            thread::sleep(
                (started + TICK * u32::from(sequence + 1))
                    .saturating_duration_since(Instant::now()),
            );
        }
        thread::sleep(Duration::from_millis(200));
        channel.close();
        engine.stop();
        let mut reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(reader.spec().sample_rate, 8000);
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        let seconds = samples.len() as f64 / 8000.0;
        assert!((1.0..1.6).contains(&seconds), "{seconds} s recorded");
        let loud = samples
            .iter()
            .filter(|sample| i32::from(**sample).abs() > 4000)
            .count();
        assert!(loud > 6000, "only {loud} loud samples");
        let _ = std::fs::remove_file(&path);
    }
}
