//! The media engine: a fixed set of media workers (DESIGN.md principle 3),
//! each an OS thread that owns its channels and their sockets, waits on
//! them with one `mio` poll, and runs every channel's 20 ms tick.
//!
//! ```text
//!   call controller ──Command──► worker k (thread, mio Poll)
//!        ▲                         ├─ channel a ◄─► sockets a (RTP, RTCP)
//!        │                         ├─ channel b ◄─► sockets b
//!        │                         ├─ mixes (conferences) of its channels
//!        └──── MediaEvent ─────────┘  20 ms tick: playout, mixing, players,
//!                                     recorders, timeouts, RTCP, stats
//! ```
//!
//! Routing of a channel's received media:
//!
//! - `Idle`: received, decoded (digits in-band too) and counted, nothing
//!   sent on (a call not yet bridged, an IVR leg).
//! - `Echo`: each audio or telephone-event packet goes back out of the same
//!   channel, re-stamped as our stream, the moment it arrives.
//! - `Bridge(other)`: each packet goes out of the other channel (on the
//!   same worker) the moment it arrives, re-stamped and transcoded in place
//!   when the codecs differ: the relay fast path, no decoding.
//! - `Mix(mix)`: decoded through the jitter buffer and summed by the mix's
//!   [`Mixer`] on each tick (mix-minus and supervisor roles); what the
//!   mixer gives the channel is encoded and sent.
//!
//! Independently of its routing, a channel may have a [`Player`] (prompts,
//! tones, hold music): while it plays, its frames are what the channel
//! sends, instead of relayed or mixed audio. A recorder writes what the
//! channel hears (left) and what it is sent from a player or a mix (right).
//!
//! Packets are relayed when they arrive rather than at the next tick, so
//! the relay adds no delay. Both legs of a call, and every member of a
//! mix, are opened on the same worker ([`MediaEngine::open`] takes a
//! [`Near`]), so neither a bridge nor a mix ever crosses threads; moving a
//! channel between mixes of one worker takes effect between two ticks,
//! without a gap. All protocol decisions are the [`Channel`]'s; this module
//! moves datagrams and frames and reads the clock.

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
use tracing::Span;

use crate::audio::{Frame, SILENCE};
use crate::channel::{Channel, ChannelConfig, ChannelStats, LocalSocket, ReceiveMode, Transmit};
use crate::detector::{SpeechDetector, SpeechDetectorConfig};
use crate::dtmf::Digit;
use crate::mixer::{Mixer, ParticipantId, Role};
use crate::outgoing;
use crate::player::{Player, PlayerEvent};
use crate::ports::{PortAllocator, PortError, RtpPortPair};
use crate::recorder::Recorder;
use crate::rtp::Ssrc;
use crate::sdp::NegotiatedMedia;

pub use crate::event::{ChannelId, MediaEvent, MediaEventKind, MixId};

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

/// Two things that must share a worker do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the channel and the {0} are on different media workers")]
pub struct NotOnSameWorker(&'static str);

/// Where a channel's received media goes (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Nowhere.
    Idle,
    /// Back to its sender.
    Echo,
    /// Out of the other channel, which must be on the same worker.
    Bridge(ChannelId),
    /// Into a mix on the same worker, with a role.
    Mix(MixId, Role),
}

impl Routing {
    /// Whether media routed so is decoded on the tick rather than relayed
    /// as it arrives.
    fn decodes(self) -> bool {
        matches!(self, Routing::Idle | Routing::Mix(..))
    }
}

enum Command {
    Add(Box<Slot>),
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
        /// The other party, whose audio goes in the right channel.
        other: Option<ChannelId>,
    },
    /// Finishes the channel's recording, if it has one.
    StopRecording {
        id: ChannelId,
    },
    /// Starts (with its settings) or stops detecting speech in what the
    /// channel receives.
    DetectSpeech {
        id: ChannelId,
        config: Option<Box<SpeechDetectorConfig>>,
    },
    /// A recorded call's other party is now this channel.
    RecordOther {
        id: ChannelId,
        other: ChannelId,
    },
    /// Replaces what plays (stopping it), with nothing to just stop.
    Play {
        id: ChannelId,
        player: Option<Box<Player>>,
    },
    RestartMediaTimeout {
        id: ChannelId,
    },
    SendDigit {
        id: ChannelId,
        digit: Digit,
        duration: Duration,
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

/// Where to open a channel: on the worker of another channel or of a mix.
#[derive(Debug, Clone, Copy)]
pub enum Near<'a> {
    /// Beside another channel (the other leg of the same call).
    Channel(&'a ChannelHandle),
    /// Beside a mix the channel will join.
    Mix(&'a MixHandle),
}

impl Near<'_> {
    fn worker(self) -> WorkerLink {
        match self {
            Near::Channel(channel) => channel.worker.clone(),
            Near::Mix(mix) => mix.worker.clone(),
        }
    }
}

/// A mix of one worker, held by whoever gathers channels into it. The
/// worker's mixer exists while it has members.
#[derive(Debug, Clone)]
pub struct MixHandle {
    id: MixId,
    worker: WorkerLink,
}

impl MixHandle {
    /// The mix's id.
    pub fn id(&self) -> MixId {
        self.id
    }
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

    /// Sends the channel's received media to `routing`. A bridge or a mix
    /// on another worker is refused.
    pub fn route(&self, routing: Routing) {
        self.worker.send(Command::Route {
            id: self.id,
            routing,
        });
    }

    /// Joins `mix` with `role` (leaving any other mix or bridge), from the
    /// next tick.
    pub fn join(&self, mix: &MixHandle, role: Role) -> Result<(), NotOnSameWorker> {
        if mix.worker.index != self.worker.index {
            return Err(NotOnSameWorker("mix"));
        }
        self.route(Routing::Mix(mix.id, role));
        Ok(())
    }

    /// Whether `mix` is on this channel's worker (so that it may join it).
    pub fn is_beside(&self, mix: &MixHandle) -> bool {
        self.worker.index == mix.worker.index
    }

    /// Records what the channel hears (left, or the whole file when mono)
    /// and what it is sent from a player or a mix (right) until the
    /// channel closes, when the file is finished.
    pub fn record(&self, recorder: Recorder) {
        self.worker.send(Command::Record {
            id: self.id,
            recorder: Box::new(recorder),
            other: None,
        });
    }

    /// Records a two-party call until this channel closes: what this
    /// channel hears (the caller) on the left, what `other` hears (the
    /// other party) on the right, or both summed in a mono recorder. Both
    /// channels are decoded from then on, whether the call is relayed or
    /// mixed; `other` must be on the same worker.
    pub fn record_call(
        &self,
        other: &ChannelHandle,
        recorder: Recorder,
    ) -> Result<(), NotOnSameWorker> {
        if other.worker.index != self.worker.index {
            return Err(NotOnSameWorker("channel to record"));
        }
        self.worker.send(Command::Record {
            id: self.id,
            recorder: Box::new(recorder),
            other: Some(other.id),
        });
        Ok(())
    }

    /// Finishes the recording (see [`ChannelHandle::record`]) now rather
    /// than when the channel closes.
    pub fn stop_recording(&self) {
        self.worker.send(Command::StopRecording { id: self.id });
    }

    /// Starts detecting speech in what the channel receives, with
    /// `config` (or, with `None`, stops): [`MediaEventKind::Speech`] events
    /// follow (for a recording's silence timeout). A new detection starts
    /// afresh.
    pub fn detect_speech(&self, config: Option<SpeechDetectorConfig>) {
        self.worker.send(Command::DetectSpeech {
            id: self.id,
            config: config.map(Box::new),
        });
    }

    /// Moves a call recording ([`ChannelHandle::record_call`]) to another
    /// other party, `other` on the same worker (the call was transferred):
    /// the same file goes on, its right channel now what `other` hears.
    pub fn record_other(&self, other: &ChannelHandle) -> Result<(), NotOnSameWorker> {
        if other.worker.index != self.worker.index {
            return Err(NotOnSameWorker("channel to record"));
        }
        self.worker.send(Command::RecordOther {
            id: self.id,
            other: other.id,
        });
        Ok(())
    }

    /// Plays `player` to the remote, replacing (stopping) what was playing.
    /// While it plays, relayed or mixed audio is not sent.
    pub fn play(&self, player: Player) {
        self.worker.send(Command::Play {
            id: self.id,
            player: Some(Box::new(player)),
        });
    }

    /// Starts the channel's media timeout afresh (when its call is
    /// answered).
    pub fn restart_media_timeout(&self) {
        self.worker
            .send(Command::RestartMediaTimeout { id: self.id });
    }

    /// Stops what is playing (a [`PlayerEvent::PlaybackStopped`] follows).
    pub fn stop_playback(&self) {
        self.worker.send(Command::Play {
            id: self.id,
            player: None,
        });
    }

    /// Sends `digit` to the remote as RFC 4733 telephone-events lasting
    /// `duration` (dropped if telephone-events were not negotiated).
    pub fn send_digit(&self, digit: Digit, duration: Duration) {
        self.worker.send(Command::SendDigit {
            id: self.id,
            digit,
            duration,
        });
    }

    /// Closes the channel (an RTCP BYE goes out) and its sockets; its
    /// quality figures are logged in the span it was opened in. Give its
    /// port pair back to the allocator afterwards.
    pub fn close(&self) {
        self.worker.send(Command::Remove { id: self.id });
    }
}

/// Relays two channels into each other. They must have been opened on the
/// same worker ([`Near::Channel`]).
pub fn bridge(a: &ChannelHandle, b: &ChannelHandle) -> Result<(), NotOnSameWorker> {
    if a.worker.index != b.worker.index {
        return Err(NotOnSameWorker("channel to bridge"));
    }
    a.route(Routing::Bridge(b.id));
    b.route(Routing::Bridge(a.id));
    Ok(())
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

    fn next_link(&mut self) -> WorkerLink {
        let worker = self.workers[self.next_worker].link.clone();
        self.next_worker = (self.next_worker + 1) % self.workers.len();
        worker
    }

    /// A new, empty mix on the worker of `near` when given, else on the
    /// next worker in turn. Channels join it with [`ChannelHandle::join`]
    /// once opened [`Near::Mix`] it (or near a channel already there).
    pub fn create_mix(&mut self, near: Option<Near<'_>>) -> MixHandle {
        let worker = match near {
            Some(near) => near.worker(),
            None => self.next_link(),
        };
        MixHandle {
            id: MixId::new(self.next_id.fetch_add(1, Ordering::Relaxed)),
            worker,
        }
    }

    /// Binds a channel's RTP and RTCP sockets on `ip` with a pair from
    /// `ports` and hands it to a worker: the worker of `near` when given,
    /// else the next in turn. The channel's quality is logged in the span
    /// current now when it closes.
    pub fn open(
        &mut self,
        ip: IpAddr,
        ports: &mut PortAllocator,
        near: Option<Near<'_>>,
    ) -> Result<ChannelHandle, BindError> {
        let attempts = ports.available().clamp(1, MAX_BIND_ATTEMPTS);
        let mut last_error = None;
        for _ in 0..attempts {
            let pair = ports.allocate()?;
            match bind_pair(ip, pair) {
                Ok((rtp, rtcp, local_rtp)) => {
                    let worker = match near {
                        Some(near) => near.worker(),
                        None => self.next_link(),
                    };
                    return Ok(self.start_channel(rtp, rtcp, local_rtp, pair, worker));
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
        worker: WorkerLink,
    ) -> ChannelHandle {
        let id = ChannelId::new(self.next_id.fetch_add(1, Ordering::Relaxed));
        let ssrc = Ssrc::new(rand::random());
        let config = ChannelConfig::new(
            ssrc,
            format!("switchboard-{}@{}", id.get(), local_rtp.ip()),
            rand::random(),
            SystemTime::now(),
        );
        let channel = Box::new(Channel::new(Instant::now(), config));
        let stats = Arc::new(Mutex::new(channel.stats()));
        worker.send(Command::Add(Box::new(Slot {
            id,
            channel,
            rtp,
            rtcp,
            routing: Routing::Idle,
            bridged: None,
            stats: stats.clone(),
            recorder: None,
            recorded_with: None,
            decode_for_recording: false,
            speech: None,
            player: None,
            span: Span::current(),
        })));
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
    /// The slot index of the channel it is bridged to (resolved when the
    /// bridge is made, so relaying looks nothing up).
    bridged: Option<usize>,
    stats: Arc<Mutex<ChannelStats>>,
    recorder: Option<Box<Recorder>>,
    /// The other party of a recorded call: its audio is the recording's
    /// right channel.
    recorded_with: Option<ChannelId>,
    /// Another channel's recorder takes what this one hears.
    decode_for_recording: bool,
    /// Speech detection in what the channel receives, while asked for.
    speech: Option<Box<SpeechDetector>>,
    player: Option<Box<Player>>,
    /// The span the channel was opened in (its call's), for its logs.
    span: Span,
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

    /// Decodes received audio when something uses it on the tick (a mix,
    /// a recorder, an IVR listening for in-band digits); leaves it to the
    /// relay otherwise.
    /// Whether the tick plays out what the channel received.
    fn decodes(&self) -> bool {
        self.routing.decodes()
            || self.recorder.is_some()
            || self.decode_for_recording
            || self.speech.is_some()
    }

    fn update_receive_mode(&mut self) {
        let mode = if self.decodes() {
            ReceiveMode::Decode
        } else {
            ReceiveMode::Relay
        };
        self.channel.set_receive_mode(mode);
    }

    /// Whether relayed packets may be sent out of this channel now: not
    /// while a player speaks for it.
    fn accepts_relay(&self) -> bool {
        self.player.is_none()
    }

    /// Logs the leg's media quality, in its call's span.
    fn log_quality(&self) {
        let stats = self.channel.stats();
        let quality = stats.quality;
        tracing::info!(
            parent: &self.span,
            channel = self.id.get(),
            packets_received = stats.packets_received,
            packets_sent = stats.packets_sent,
            relayed = stats.relayed,
            telephone_events = stats.telephone_event_packets,
            lost = quality.packets_lost,
            loss_percent = format!("{:.2}", quality.loss_fraction * 100.0),
            jitter_max_ms = format!("{:.1}", quality.max_jitter_ms),
            jitter_mean_ms = format!("{:.1}", quality.mean_jitter_ms),
            rtt_ms = quality.round_trip_time_ms.map(|ms| format!("{ms:.1}")),
            remote_lost = quality.remote_packets_lost,
            concealed = stats.jitter_buffer.concealed,
            late = stats.jitter_buffer.late,
            ignored_source = stats.ignored_source,
            malformed = stats.malformed,
            "leg media quality"
        );
    }
}

struct Worker {
    poll: Poll,
    commands: mpsc::Receiver<Command>,
    on_event: Arc<dyn Fn(MediaEvent) + Send + Sync>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    by_id: HashMap<ChannelId, usize>,
    mixes: HashMap<MixId, Mixer>,
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
            mixes: HashMap::new(),
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
                Command::Add(slot) => self.add(*slot),
                Command::SetRemote { id, media } => {
                    if let Some(slot) = self.slot_mut(id) {
                        slot.channel.set_remote(Instant::now(), media);
                    }
                }
                Command::Route { id, routing } => self.set_routing(id, routing),
                Command::Record {
                    id,
                    recorder,
                    other,
                } => {
                    let mut previous = None;
                    if let Some(slot) = self.slot_mut(id) {
                        slot.recorder = Some(recorder);
                        previous = std::mem::replace(&mut slot.recorded_with, other);
                        slot.update_receive_mode();
                    }
                    self.stop_decoding_for_recording(previous);
                    if let Some(other) = other.and_then(|other| self.slot_mut(other)) {
                        other.decode_for_recording = true;
                        other.update_receive_mode();
                    }
                }
                Command::StopRecording { id } => {
                    let mut previous = None;
                    if let Some(slot) = self.slot_mut(id)
                        && let Some(mut recorder) = slot.recorder.take()
                    {
                        finish_recording(&slot.span, &mut recorder);
                        previous = slot.recorded_with.take();
                        slot.update_receive_mode();
                    }
                    self.stop_decoding_for_recording(previous);
                }
                Command::DetectSpeech { id, config } => {
                    if let Some(slot) = self.slot_mut(id) {
                        slot.speech = config.map(|config| Box::new(SpeechDetector::new(*config)));
                        slot.update_receive_mode();
                    }
                }
                Command::RecordOther { id, other } => {
                    let mut previous = None;
                    if let Some(slot) = self.slot_mut(id)
                        && slot.recorder.is_some()
                    {
                        previous = slot.recorded_with.replace(other);
                    }
                    if previous.is_some_and(|previous| previous != other) {
                        self.stop_decoding_for_recording(previous);
                    }
                    if let Some(other) = self.slot_mut(other) {
                        other.decode_for_recording = true;
                        other.update_receive_mode();
                    }
                }
                Command::Play { id, player } => {
                    if let Some(slot) = self.slot_mut(id)
                        && let Some(mut previous) = std::mem::replace(&mut slot.player, player)
                    {
                        previous.stop();
                        if let Some(event) = previous.poll_event() {
                            (self.on_event)(MediaEvent {
                                channel: id,
                                kind: MediaEventKind::Playback {
                                    event,
                                    tag: previous.tag(),
                                },
                            });
                        }
                    }
                }
                Command::RestartMediaTimeout { id } => {
                    if let Some(slot) = self.slot_mut(id) {
                        slot.channel.restart_media_timeout(Instant::now());
                    }
                }
                Command::SendDigit {
                    id,
                    digit,
                    duration,
                } => {
                    if let Some(slot) = self.slot_mut(id) {
                        if let Err(error) = slot.channel.send_digit(Instant::now(), digit, duration)
                        {
                            tracing::debug!(parent: &slot.span, %error, "digit not sent");
                        }
                        slot.flush();
                    }
                }
                Command::Remove { id } => self.remove(id),
                Command::Stop => return false,
            }
        }
        true
    }

    fn add(&mut self, mut slot: Slot) {
        let index = self.free.pop().unwrap_or(self.slots.len());
        let registry = self.poll.registry();
        if let Err(error) = registry
            .register(&mut slot.rtp, Token(index * 2), Interest::READABLE)
            .and_then(|()| {
                registry.register(&mut slot.rtcp, Token(index * 2 + 1), Interest::READABLE)
            })
        {
            tracing::error!(parent: &slot.span, %error, "cannot watch a media socket");
            self.free.push(index);
            return;
        }
        slot.update_receive_mode();
        self.by_id.insert(slot.id, index);
        if index == self.slots.len() {
            self.slots.push(Some(slot));
        } else {
            self.slots[index] = Some(slot);
        }
    }

    /// The other party of a recording that ended no longer needs decoding.
    fn stop_decoding_for_recording(&mut self, other: Option<ChannelId>) {
        if let Some(other) = other.and_then(|other| self.slot_mut(other)) {
            other.decode_for_recording = false;
            other.update_receive_mode();
        }
    }

    fn slot_mut(&mut self, id: ChannelId) -> Option<&mut Slot> {
        let index = *self.by_id.get(&id)?;
        self.slots.get_mut(index)?.as_mut()
    }

    /// Moves a channel to `routing`: out of its mix, if it was in one,
    /// and into the new one, both before the next tick.
    fn set_routing(&mut self, id: ChannelId, mut routing: Routing) {
        let Some(&index) = self.by_id.get(&id) else {
            return;
        };
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        let participant = id.participant();
        match (slot.routing, routing) {
            (Routing::Mix(old, _), Routing::Mix(new, role)) if old == new => {
                if let Some(Err(error)) = self
                    .mixes
                    .get_mut(&new)
                    .map(|mixer| mixer.set_role(participant, role))
                {
                    tracing::warn!(parent: &slot.span, %error, "role not changed");
                    return;
                }
            }
            (old, new) => {
                if let Routing::Mix(old, _) = old {
                    leave_mix(&mut self.mixes, old, participant);
                }
                match new {
                    Routing::Mix(mix, role) => {
                        let mixer = self
                            .mixes
                            .entry(mix)
                            .or_insert_with(|| Mixer::with_capacity(4));
                        if let Err(error) = mixer.add(participant, role) {
                            tracing::warn!(parent: &slot.span, %error, "cannot join the mix");
                            if mixer.is_empty() {
                                self.mixes.remove(&mix);
                            }
                            routing = Routing::Idle;
                        }
                    }
                    Routing::Bridge(other) if !self.by_id.contains_key(&other) => {
                        tracing::warn!(parent: &slot.span, "bridge to a channel this worker does not have");
                        routing = Routing::Idle;
                    }
                    _ => {}
                }
            }
        }
        slot.bridged = match routing {
            Routing::Bridge(other) => self.by_id.get(&other).copied(),
            _ => None,
        };
        slot.routing = routing;
        slot.update_receive_mode();
    }

    fn remove(&mut self, id: ChannelId) {
        let Some(index) = self.by_id.remove(&id) else {
            return;
        };
        let Some(mut slot) = self.slots[index].take() else {
            return;
        };
        if let Routing::Mix(mix, _) = slot.routing {
            leave_mix(&mut self.mixes, mix, id.participant());
        }
        self.stop_decoding_for_recording(slot.recorded_with);
        let now = Instant::now();
        if let Some(transmit) = slot.channel.close(now) {
            send(&slot.rtp, &slot.rtcp, &transmit);
        }
        slot.publish_stats();
        slot.log_quality();
        if let Some(mut recorder) = slot.recorder.take() {
            finish_recording(&slot.span, &mut recorder);
        }
        let registry = self.poll.registry();
        let _ = registry.deregister(&mut slot.rtp);
        let _ = registry.deregister(&mut slot.rtcp);
        self.free.push(index);
        // Whoever was bridged to it now relays into nothing.
        for other in self.slots.iter_mut().flatten() {
            if other.routing == Routing::Bridge(id) {
                other.routing = Routing::Idle;
                other.bridged = None;
                other.update_receive_mode();
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
            // Parsed once: what to relay borrows the datagram.
            let (_, relayable) = slot.channel.handle_datagram_to_relay(now, source, bytes);
            let Some(packet) = relayable else {
                continue;
            };
            let target = match (slot.routing, slot.bridged) {
                (Routing::Echo, _) => index,
                (Routing::Bridge(_), Some(other)) => other,
                _ => continue,
            };
            if let Some(Some(target)) = self.slots.get_mut(target)
                && target.accepts_relay()
            {
                let _ = target.channel.relay(now, &packet);
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
                    kind: MediaEventKind::Channel(event),
                });
            }
            let event = slot
                .player
                .as_mut()
                .and_then(|player| Some((player.poll_event()?, player.tag())));
            if let Some((event, tag)) = event {
                if matches!(event, PlayerEvent::PlaybackFinished) {
                    slot.player = None;
                }
                (self.on_event)(MediaEvent {
                    channel: slot.id,
                    kind: MediaEventKind::Playback { event, tag },
                });
            }
        }
    }

    /// One 20 ms tick: every decoding channel plays out its jitter buffer
    /// into its mix or recorder, the mixes mix, and each channel sends its
    /// player's or its mix's frame.
    fn tick(&mut self, now: Instant) {
        self.ticks = self.ticks.wrapping_add(1);
        let publish = self.ticks.is_multiple_of(STATS_EVERY_TICKS);
        for slot in self.slots.iter_mut().flatten() {
            if slot.channel.poll_timeout().is_some_and(|due| due <= now) {
                slot.channel.handle_timeout(now);
            }
            if let Routing::Mix(mix, _) = slot.routing {
                let heard = slot.channel.tick(now);
                if let Some(mixer) = self.mixes.get_mut(&mix) {
                    let _ = mixer.put_frame(slot.id.participant(), heard);
                }
            } else if slot.decodes() {
                slot.channel.tick(now);
            }
        }
        for mixer in self.mixes.values_mut() {
            mixer.mix();
        }
        for index in 0..self.slots.len() {
            // A recorded call's other party: what it heard this tick.
            let other_heard: Option<Frame> = self
                .slots
                .get(index)
                .and_then(Option::as_ref)
                .and_then(|slot| slot.recorded_with)
                .and_then(|other| self.by_id.get(&other))
                .and_then(|&other| self.slots.get(other)?.as_ref())
                .map(|other| *other.channel.last_playout());
            let Some(Some(slot)) = self.slots.get_mut(index) else {
                continue;
            };
            let mut stopped_recording = None;
            let mut frame: Frame = SILENCE;
            let mix_output = match slot.routing {
                Routing::Mix(mix, _) => self
                    .mixes
                    .get(&mix)
                    .and_then(|mixer| mixer.output(slot.id.participant())),
                _ => None,
            };
            let sending = outgoing::fill(
                slot.player.as_deref_mut(),
                slot.channel.is_sending_digits(),
                mix_output,
                &mut frame,
            );
            if sending {
                slot.channel.push_frame(now, &frame);
            }
            if let Some(recorder) = slot.recorder.as_mut() {
                let heard = slot.channel.last_playout();
                // The right channel: the other party of a recorded call,
                // else what this channel was sent (a player, a mix).
                let recording_a_call = slot.recorded_with.is_some();
                let right = outgoing::recording_right(
                    recording_a_call,
                    other_heard.as_ref(),
                    &frame,
                    &SILENCE,
                );
                if let Err(error) = recorder.write_frames(heard, right) {
                    tracing::error!(parent: &slot.span, %error, "recording stopped");
                    slot.recorder = None;
                    stopped_recording = slot.recorded_with.take();
                    slot.update_receive_mode();
                }
            }
            if let Some(detector) = slot.speech.as_mut() {
                detector.process(now, slot.channel.last_playout());
                while let Some(event) = detector.poll_event() {
                    (self.on_event)(MediaEvent {
                        channel: slot.id,
                        kind: MediaEventKind::Speech(event),
                    });
                }
            }
            slot.flush();
            if publish {
                slot.publish_stats();
            }
            self.stop_decoding_for_recording(stopped_recording);
            self.drain_events(index);
        }
    }
}

/// Finishes a recording's file, logging the outcome in its call's span.
fn finish_recording(span: &Span, recorder: &mut Recorder) {
    match recorder.finish() {
        Ok(summary) => tracing::info!(
            parent: span,
            file = %summary.path.display(),
            seconds = summary.duration.as_secs_f64(),
            "recording finished"
        ),
        Err(error) => tracing::error!(parent: span, %error, "recording could not be finished"),
    }
}

/// Takes a participant out of a mix, dropping the mixer once empty.
fn leave_mix(mixes: &mut HashMap<MixId, Mixer>, mix: MixId, participant: ParticipantId) {
    if let Some(mixer) = mixes.get_mut(&mix) {
        let _ = mixer.remove(participant);
        if mixer.is_empty() {
            mixes.remove(&mix);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelEvent;
    use crate::codec::{Codec, g711};
    use crate::rtp::RtpPacket;
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

    /// Opens a channel (beside `near`) and a phone for it, the channel
    /// sending to the phone in `codec`.
    fn leg(
        engine: &mut MediaEngine,
        ports: &mut PortAllocator,
        near: Option<Near<'_>>,
        codec: Codec,
    ) -> (ChannelHandle, std::net::UdpSocket) {
        let channel = engine.open(LOOPBACK, ports, near).unwrap();
        let phone = phone();
        channel.set_remote(&negotiated(phone.local_addr().unwrap(), codec));
        (channel, phone)
    }

    /// A leg per role, each beside `mix` and joined to it with its role.
    fn mix_members(
        engine: &mut MediaEngine,
        ports: &mut PortAllocator,
        mix: &MixHandle,
        roles: &[Role],
    ) -> Vec<(ChannelHandle, std::net::UdpSocket)> {
        roles
            .iter()
            .map(|role| {
                let (channel, phone) = leg(engine, ports, Some(Near::Mix(mix)), Codec::Pcmu);
                channel.join(mix, *role).unwrap();
                (channel, phone)
            })
            .collect()
    }

    /// What [`send_levels`] takes: each leg's phone, its channel, a level.
    fn with_levels<'a>(
        legs: &'a [(ChannelHandle, std::net::UdpSocket)],
        levels: &[i16],
    ) -> Vec<(&'a std::net::UdpSocket, &'a ChannelHandle, i16)> {
        legs.iter()
            .zip(levels)
            .map(|((channel, phone), level)| (phone, channel, *level))
            .collect()
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
        let (channel, phone) = leg(&mut engine, &mut ports, None, Codec::Pcmu);
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
        let (a, phone_a) = leg(&mut engine, &mut ports, None, Codec::Pcmu);
        let (b, phone_b) = leg(
            &mut engine,
            &mut ports,
            Some(Near::Channel(&a)),
            Codec::Pcma,
        );
        bridge(&a, &b).unwrap();
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
        let (channel, phone) = leg(&mut engine, &mut ports, None, Codec::Pcmu);
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

    #[test]
    fn a_recording_stopped_early_is_finished_then_and_keeps_nothing_after() {
        let mut engine = MediaEngine::start(1, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42264, 42327).unwrap();
        let (channel, phone) = leg(&mut engine, &mut ports, None, Codec::Pcmu);
        let path = std::env::temp_dir().join(format!(
            "switchboard-engine-stopped-recording-{}.wav",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let recorder = Recorder::create(&path, crate::recorder::RecordingFormat::Mono).unwrap();
        channel.record(recorder);
        // Half a second recorded, then a second more sent after the stop.
        let started = Instant::now();
        for sequence in 0..75u16 {
            if sequence == 25 {
                thread::sleep(Duration::from_millis(60));
                channel.stop_recording();
            }
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
        // Finished before the channel closes: the file is whole already.
        let mut reader = hound::WavReader::open(&path).unwrap();
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        let seconds = samples.len() as f64 / 8000.0;
        assert!((0.3..0.8).contains(&seconds), "{seconds} s recorded");
        channel.close();
        engine.stop();
        let _ = std::fs::remove_file(&path);
    }

    /// A µ-law packet whose every sample decodes to about `level`.
    fn level_packet(sequence: u16, level: i16) -> Vec<u8> {
        let mut payload = [0u8; 160];
        g711::encode(Codec::Pcmu, &[level; 160], &mut payload);
        let header = RtpHeader {
            marker: sequence == 0,
            payload_type: Codec::Pcmu.payload_type(),
            sequence_number: SequenceNumber::new(sequence),
            timestamp: RtpTimestamp::new(u32::from(sequence) * 160),
            ssrc: Ssrc::new(0x0a0b_0c0d),
        };
        let mut out = vec![0; 12 + 160];
        header.write(&payload, &mut out).unwrap();
        out
    }

    /// Sends `packets` level packets from each phone to its channel,
    /// paced like phones (20 ms), starting at sequence `first`.
    fn send_levels(
        phones: &[(&std::net::UdpSocket, &ChannelHandle, i16)],
        first: u16,
        packets: u16,
    ) {
        let started = Instant::now();
        for n in 0..packets {
            for (phone, channel, level) in phones {
                phone
                    .send_to(
                        &level_packet(first + n, *level),
                        channel.local_rtp_address(),
                    )
                    .unwrap();
            }
            thread::sleep(
                (started + TICK * u32::from(n + 1)).saturating_duration_since(Instant::now()),
            );
        }
    }

    /// The RTP packets (header, decoded mean level) waiting at `socket`.
    fn drain_levels(socket: &std::net::UdpSocket) -> Vec<(RtpHeader, i32)> {
        socket.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 2048];
        let mut out = Vec::new();
        while let Ok((length, _)) = socket.recv_from(&mut buffer) {
            if let Ok(packet) = RtpPacket::parse(&buffer[..length])
                && packet.header().payload_type == Codec::Pcmu.payload_type()
            {
                let mut samples = [0i16; 160];
                let count = g711::decode(Codec::Pcmu, packet.payload(), &mut samples);
                let mean = samples[..count].iter().map(|s| i32::from(*s)).sum::<i32>()
                    / count.max(1) as i32;
                out.push((packet.header(), mean));
            }
        }
        socket.set_nonblocking(false).unwrap();
        out
    }

    fn near(expected: i32, actual: i32) -> bool {
        (actual - expected).abs() <= expected.abs() / 20 + 40
    }

    #[test]
    fn speech_detection_reports_a_burst_of_sound_and_its_end() {
        use crate::detector::{Classifier, SpeechEvent};
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let mut engine = MediaEngine::start(1, move |event: MediaEvent| {
            if let MediaEventKind::Speech(speech) = event.kind {
                seen.lock().unwrap().push(speech);
            }
        })
        .unwrap();
        let mut ports = PortAllocator::new(42800, 42863).unwrap();
        let (channel, phone) = leg(&mut engine, &mut ports, None, Codec::Pcmu);
        channel.detect_speech(Some(SpeechDetectorConfig {
            classifier: Classifier::Energy { margin_db: 10.0 },
            ..SpeechDetectorConfig::default()
        }));
        // Quiet, 600 ms of sound, then quiet again: one start, one end.
        send_levels(&[(&phone, &channel, 0)], 0, 20);
        send_levels(&[(&phone, &channel, 6000)], 20, 30);
        send_levels(&[(&phone, &channel, 0)], 50, 40);
        thread::sleep(Duration::from_millis(200));
        let first = events.lock().unwrap().clone();
        assert!(
            matches!(
                first.as_slice(),
                [
                    SpeechEvent::SpeechStarted { .. },
                    SpeechEvent::SpeechEnded { .. }
                ]
            ),
            "{first:?}"
        );
        // Stopped: nothing more is reported.
        channel.detect_speech(None);
        send_levels(&[(&phone, &channel, 6000)], 90, 30);
        thread::sleep(Duration::from_millis(200));
        assert_eq!(events.lock().unwrap().len(), 2);
        engine.stop();
    }

    #[test]
    fn mix_gives_each_member_the_others_and_not_itself() {
        let mut engine = MediaEngine::start(2, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42300, 42363).unwrap();
        let mix = engine.create_mix(None);
        let members = mix_members(&mut engine, &mut ports, &mix, &[Role::Normal; 3]);
        let levels = [1000i16, 3000, 500];
        send_levels(&with_levels(&members, &levels), 0, 50);
        thread::sleep(Duration::from_millis(200));
        let total: i32 = levels.iter().map(|level| i32::from(*level)).sum();
        for ((_, phone), own) in members.iter().zip(levels) {
            let heard = drain_levels(phone);
            assert!(heard.len() >= 40, "only {} packets", heard.len());
            // Once the jitter buffers have started, every frame is the sum
            // of the other two.
            let expected = total - i32::from(own);
            let steady: Vec<i32> = heard
                .iter()
                .map(|(_, level)| *level)
                .skip(15)
                .take(20)
                .collect();
            assert!(
                steady.iter().all(|level| near(expected, *level)),
                "member sending {own} heard {steady:?}, expected {expected}"
            );
        }
        engine.stop();
    }

    #[test]
    fn a_listener_hears_everyone_and_is_heard_by_nobody() {
        let mut engine = MediaEngine::start(1, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42400, 42463).unwrap();
        let mix = engine.create_mix(None);
        let roles = [Role::Normal, Role::Normal, Role::Listen];
        let members = mix_members(&mut engine, &mut ports, &mix, &roles);
        let levels = [1000i16, 2000, 4000];
        send_levels(&with_levels(&members, &levels), 0, 40);
        thread::sleep(Duration::from_millis(200));
        let expected = [2000, 1000, 3000];
        for ((_, phone), expected) in members.iter().zip(expected) {
            let steady: Vec<i32> = drain_levels(phone)
                .into_iter()
                .map(|(_, level)| level)
                .skip(15)
                .take(15)
                .collect();
            assert!(
                steady.len() == 15 && steady.iter().all(|level| near(expected, *level)),
                "heard {steady:?}, expected {expected}"
            );
        }
        engine.stop();
    }

    #[test]
    fn moving_between_mixes_keeps_the_stream_continuous() {
        let mut engine = MediaEngine::start(1, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42500, 42563).unwrap();
        let first = engine.create_mix(None);
        let second = engine.create_mix(None);
        let (mover, mover_phone) = leg(
            &mut engine,
            &mut ports,
            Some(Near::Mix(&first)),
            Codec::Pcmu,
        );
        let (a, phone_a) = leg(
            &mut engine,
            &mut ports,
            Some(Near::Mix(&first)),
            Codec::Pcmu,
        );
        let (b, phone_b) = leg(
            &mut engine,
            &mut ports,
            Some(Near::Mix(&second)),
            Codec::Pcmu,
        );
        mover.join(&first, Role::Normal).unwrap();
        a.join(&first, Role::Normal).unwrap();
        b.join(&second, Role::Normal).unwrap();
        let sending = [(&phone_a, &a, 1000i16), (&phone_b, &b, 3000i16)];
        send_levels(&sending, 0, 30);
        mover.join(&second, Role::Normal).unwrap();
        send_levels(&sending, 30, 30);
        thread::sleep(Duration::from_millis(200));
        let heard = drain_levels(&mover_phone);
        let levels: Vec<i32> = heard.iter().map(|(_, level)| *level).collect();
        // It heard the first mix's member, then the second's, and nothing
        // else in between.
        let switch = levels
            .iter()
            .position(|level| near(3000, *level))
            .unwrap_or_else(|| panic!("never heard the second mix: {levels:?}"));
        assert!(
            levels[switch - 5..switch]
                .iter()
                .all(|level| near(1000, *level)),
            "{levels:?}"
        );
        assert!(
            levels[switch..switch + 10]
                .iter()
                .all(|level| near(3000, *level)),
            "{levels:?}"
        );
        // One stream throughout: consecutive sequence numbers, +160 per
        // packet, no marker after the first packet.
        for pair in heard.windows(2) {
            let (before, after) = (&pair[0].0, &pair[1].0);
            assert_eq!(
                after.sequence_number.get(),
                before.sequence_number.get().wrapping_add(1)
            );
            assert_eq!(
                after.timestamp.get(),
                before.timestamp.get().wrapping_add(160)
            );
            assert!(!after.marker);
        }
        engine.stop();
    }

    #[test]
    fn mixes_and_bridges_refuse_channels_of_another_worker() {
        let mut engine = MediaEngine::start(2, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42600, 42663).unwrap();
        let mix = engine.create_mix(None);
        let here = engine
            .open(LOOPBACK, &mut ports, Some(Near::Mix(&mix)))
            .unwrap();
        let elsewhere = engine.open(LOOPBACK, &mut ports, None).unwrap();
        assert_ne!(here.worker.index, elsewhere.worker.index);
        assert!(here.join(&mix, Role::Normal).is_ok());
        assert!(elsewhere.join(&mix, Role::Normal).is_err());
        assert!(bridge(&here, &elsewhere).is_err());
        engine.stop();
    }

    #[test]
    fn a_player_is_sent_then_reported_finished() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let mut engine =
            MediaEngine::start(1, move |event| seen.lock().unwrap().push(event)).unwrap();
        let mut ports = PortAllocator::new(42700, 42763).unwrap();
        let (channel, phone) = leg(&mut engine, &mut ports, None, Codec::Pcmu);
        // 300 ms of a constant level: 15 frames.
        let prompt = crate::player::Prompt::from_samples(vec![2000i16; 2400]);
        channel.play(Player::single(crate::player::Playable::Prompt(prompt)).tagged(7));
        thread::sleep(Duration::from_millis(600));
        let heard = drain_levels(&phone);
        assert_eq!(heard.len(), 15, "{heard:?}");
        assert!(heard.iter().all(|(_, level)| near(2000, *level)));
        let events = events.lock().unwrap();
        assert!(events.contains(&MediaEvent {
            channel: channel.id(),
            kind: MediaEventKind::Playback {
                event: PlayerEvent::PlaybackFinished,
                tag: 7,
            },
        }));
        drop(events);
        engine.stop();
    }

    #[test]
    fn digits_go_out_as_telephone_events_and_received_ones_are_reported() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let mut engine =
            MediaEngine::start(1, move |event| seen.lock().unwrap().push(event)).unwrap();
        let mut ports = PortAllocator::new(42800, 42863).unwrap();
        let channel = engine.open(LOOPBACK, &mut ports, None).unwrap();
        let phone = phone();
        let media = negotiated(phone.local_addr().unwrap(), Codec::Pcmu);
        let event_type = media.telephone_event.expect("telephone-event negotiated");
        channel.set_remote(&media);
        channel.send_digit(Digit::Seven, Duration::from_millis(100));
        thread::sleep(Duration::from_millis(400));
        phone.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 2048];
        let mut ends = 0;
        let mut codes = Vec::new();
        while let Ok((length, _)) = phone.recv_from(&mut buffer) {
            let packet = RtpPacket::parse(&buffer[..length]).unwrap();
            if packet.header().payload_type == event_type {
                codes.push(packet.payload()[0]);
                ends += usize::from(packet.payload()[1] & 0x80 != 0);
            }
        }
        assert!(!codes.is_empty() && codes.iter().all(|code| *code == Digit::Seven.event_code()));
        assert!(ends >= 1, "no end packet");
        // And a received digit is reported as an event.
        phone.set_nonblocking(false).unwrap();
        for (n, end) in [(0u16, false), (1, false), (2, true), (3, true), (4, true)] {
            let header = RtpHeader {
                marker: n == 0,
                payload_type: event_type,
                sequence_number: SequenceNumber::new(100 + n),
                timestamp: RtpTimestamp::new(8000),
                ssrc: Ssrc::new(0x0102_0304),
            };
            let duration = (n.min(2) + 1) * 160;
            let payload = [
                Digit::Pound.event_code(),
                if end { 0x8a } else { 0x0a },
                (duration >> 8) as u8,
                duration as u8,
            ];
            let mut out = vec![0; 16];
            header.write(&payload, &mut out).unwrap();
            phone.send_to(&out, channel.local_rtp_address()).unwrap();
        }
        thread::sleep(Duration::from_millis(200));
        let events = events.lock().unwrap();
        let digits: Vec<Digit> = events
            .iter()
            .filter_map(|event| match event.kind {
                MediaEventKind::Channel(ChannelEvent::DigitReceived { digit, .. }) => Some(digit),
                _ => None,
            })
            .collect();
        assert_eq!(digits, vec![Digit::Pound]);
        drop(events);
        engine.stop();
    }

    #[test]
    fn a_recorded_bridge_has_the_caller_left_and_the_other_party_right() {
        let mut engine = MediaEngine::start(1, |_| {}).unwrap();
        let mut ports = PortAllocator::new(42900, 42963).unwrap();
        let (caller, caller_phone) = leg(&mut engine, &mut ports, None, Codec::Pcmu);
        let beside_caller = Some(Near::Channel(&caller));
        let (callee, callee_phone) = leg(&mut engine, &mut ports, beside_caller, Codec::Pcmu);
        bridge(&caller, &callee).unwrap();
        let path = std::env::temp_dir().join(format!(
            "switchboard-engine-call-recording-{}.wav",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let recorder = Recorder::create(&path, crate::recorder::RecordingFormat::Stereo).unwrap();
        caller.record_call(&callee, recorder).unwrap();
        send_levels(
            &[
                (&caller_phone, &caller, 1000),
                (&callee_phone, &callee, 3000),
            ],
            0,
            40,
        );
        // Still relayed both ways while recorded.
        let at_callee = drain_levels(&callee_phone);
        assert!(at_callee.len() >= 35, "{} packets relayed", at_callee.len());
        thread::sleep(Duration::from_millis(100));
        caller.close();
        callee.close();
        engine.stop();
        let mut reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(reader.spec().channels, 2);
        let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
        let frames: Vec<(i32, i32)> = samples
            .chunks_exact(2)
            .map(|pair| (i32::from(pair[0]), i32::from(pair[1])))
            .collect();
        // The middle of the call: caller left, other party right.
        let middle = &frames[frames.len() / 3..frames.len() * 2 / 3];
        assert!(
            middle
                .iter()
                .all(|(left, right)| near(1000, *left) && near(3000, *right)),
            "{:?}",
            &middle[..10]
        );
        let _ = std::fs::remove_file(&path);
    }
}
