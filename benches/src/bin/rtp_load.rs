//! The RTP load generator: sets up many calls through Switchboard over SIP
//! and streams G.711 on every leg, then measures what arrives.
//!
//! SIPp cannot source media for more than a few hundred calls, so media
//! load needs its own tool. Modes:
//!
//! - `relay`: registers as a demo phone (1001 by default) and calls that
//!   phone N times from itself, so each call is a bridged B2BUA call with
//!   both legs here: the caller leg and the answering phone leg each send
//!   50 packets/s and receive what the other leg sent.
//! - `echo`: N calls to the echo DID 1000; each leg receives its own audio.
//!
//! Every payload carries its leg and packet number in its first 8 bytes,
//! so the receiving side knows exactly which packets of the measurement
//! window arrived: loss is measured on the receiving side, not inferred.
//! With `--server-pid` it also reports the server's CPU (share of one core)
//! and resident memory over the window, per call.
//!
//! ```text
//! rtp_load --server 127.0.0.1:5060 --password PW --calls 1000 --mode relay
//! ```

// A load tool owns its clock and threads, like a driver.
#![allow(clippy::disallowed_methods)]

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use media::sdp::{self, Direction, LocalMedia, SessionDescription, SessionOrigin};
use sip_core::auth::{AuthKind, response_challenge};
use sip_core::dialog::{self, Dialog};
use sip_core::driver::{self, Application, Listeners};
use sip_core::endpoint::{Endpoint, EndpointConfig, Event};
use sip_core::message::{Method, Name, Request, Response, parse_uri};
use sip_core::transaction::ClientKey;
use sip_core::transport::{Peer, Transport};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Switchboard RTP load generator")]
struct Options {
    /// The server's SIP address.
    #[arg(long, default_value = "127.0.0.1:5060")]
    server: SocketAddr,
    /// The phone to register and call (relay mode).
    #[arg(long, default_value = "1001")]
    user: String,
    /// Its SIP password (from the server's demo-credentials.json).
    #[arg(long, default_value = "")]
    password: String,
    /// Concurrent calls.
    #[arg(long, default_value_t = 100)]
    calls: usize,
    /// New calls per second while setting up.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds of measurement once every call is up.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Bridged calls (relay) or calls to the echo DID.
    #[arg(long, value_enum, default_value_t = Mode::Relay)]
    mode: Mode,
    /// The server's process id, to report its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Relay,
    Echo,
}

const PAYLOAD_BYTES: usize = 160;
const PACKET_BYTES: usize = 12 + PAYLOAD_BYTES;
const TICK: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------- RTP side

/// Commands from the SIP side to the RTP thread.
enum RtpCommand {
    /// A new leg: its socket, and where to send once known.
    Add {
        leg: usize,
        socket: UdpSocket,
        remote: Option<SocketAddr>,
    },
    /// The leg's remote address became known (the 200's SDP answer).
    SetRemote { leg: usize, remote: SocketAddr },
    /// Start counting: packets sent from now on are in the window.
    OpenWindow,
    /// Stop sending; report after the tail has arrived.
    CloseWindow,
}

struct RtpLeg {
    socket: UdpSocket,
    remote: Option<SocketAddr>,
    sequence: u16,
    timestamp: u32,
    sent: u64,
    /// Packet numbers sent in the window: `[window_first, window_end)`.
    window_first: Option<u64>,
    window_end: Option<u64>,
    /// Window packets of each sending leg received here, by sender: one
    /// bit per packet number from the sender's `window_first`, so a
    /// packet that arrives twice (a mixed bridge's jitter buffer can play
    /// a frame again to absorb drift) counts once.
    received: HashMap<usize, Vec<u64>>,
}

/// What the RTP thread measured.
#[derive(Debug, Default)]
struct RtpReport {
    legs: usize,
    sent_in_window: u64,
    received_in_window: u64,
    stray: u64,
}

fn rtp_thread(commands: mpsc::Receiver<RtpCommand>, mode: Mode) -> RtpReport {
    let mut legs: Vec<Option<RtpLeg>> = Vec::new();
    let mut closing_since: Option<Instant> = None;
    let mut next_tick = Instant::now();
    let mut buffer = [0u8; 2048];
    let mut packet = [0u8; PACKET_BYTES];
    let mut stray = 0u64;
    let mut arrivals: Vec<(usize, usize, u64)> = Vec::new();
    loop {
        while let Ok(command) = commands.try_recv() {
            match command {
                RtpCommand::Add {
                    leg,
                    socket,
                    remote,
                } => {
                    if legs.len() <= leg {
                        legs.resize_with(leg + 1, || None);
                    }
                    legs[leg] = Some(RtpLeg {
                        socket,
                        remote,
                        sequence: 0,
                        timestamp: 0,
                        sent: 0,
                        window_first: None,
                        window_end: None,
                        received: HashMap::new(),
                    });
                }
                RtpCommand::SetRemote { leg, remote } => {
                    if let Some(Some(leg)) = legs.get_mut(leg) {
                        leg.remote = Some(remote);
                    }
                }
                RtpCommand::OpenWindow => {
                    for leg in legs.iter_mut().flatten() {
                        leg.window_first = Some(leg.sent);
                    }
                }
                RtpCommand::CloseWindow => {
                    for leg in legs.iter_mut().flatten() {
                        leg.window_end = Some(leg.sent);
                    }
                    closing_since = Some(Instant::now());
                }
            }
        }
        // Receive everything queued, then count it.
        for (index, leg) in legs.iter().enumerate() {
            let Some(leg) = leg else { continue };
            loop {
                match leg.socket.recv_from(&mut buffer) {
                    // PCMU RTP only (RTCP shares the port when muxed).
                    Ok((length, _))
                        if length >= 12 + 2 * TAG_BYTES
                            && buffer[0] >> 6 == 2
                            && buffer[1] & 0x7f == 0 =>
                    {
                        let payload = &buffer[12..length];
                        match (
                            read_tag(&payload[..TAG_BYTES]),
                            read_tag(&payload[TAG_BYTES..2 * TAG_BYTES]),
                        ) {
                            (Some(sender), Some(number)) => {
                                arrivals.push((index, sender as usize, u64::from(number)))
                            }
                            _ => stray += 1,
                        }
                    }
                    Ok(_) => stray += 1,
                    Err(_) => break,
                }
            }
        }
        for (index, sender, number) in arrivals.drain(..) {
            record(&mut legs, index, sender, number);
        }
        if let Some(since) = closing_since
            && since.elapsed() > Duration::from_secs(2)
        {
            break;
        }
        // Send one packet per leg that knows where to send.
        if closing_since.is_none() {
            for (index, leg) in legs.iter_mut().enumerate() {
                let Some(leg) = leg.as_mut() else { continue };
                let Some(remote) = leg.remote else { continue };
                write_packet(&mut packet, index, leg);
                if leg.socket.send_to(&packet, remote).is_ok() {
                    leg.sent += 1;
                }
                leg.sequence = leg.sequence.wrapping_add(1);
                leg.timestamp = leg.timestamp.wrapping_add(PAYLOAD_BYTES as u32);
            }
        }
        next_tick += TICK;
        let now = Instant::now();
        if next_tick > now {
            thread::sleep(next_tick - now);
        } else {
            next_tick = now;
        }
    }
    let mut report = RtpReport {
        legs: legs.iter().flatten().count(),
        stray,
        ..RtpReport::default()
    };
    for (index, leg) in legs.iter().enumerate() {
        let Some(leg) = leg else { continue };
        let (Some(first), Some(end)) = (leg.window_first, leg.window_end) else {
            continue;
        };
        report.sent_in_window += end - first;
        // Who hears this leg: its partner when relayed, itself on echo.
        let listener = match mode {
            Mode::Echo => index,
            Mode::Relay => index ^ 1,
        };
        if let Some(Some(listener)) = legs.get(listener) {
            report.received_in_window += listener.received.get(&index).map_or(0, |bits| {
                bits.iter().map(|word| u64::from(word.count_ones())).sum()
            });
        }
    }
    report
}

/// Counts packet `number` of `sender`, received on leg `index`, when it
/// falls in the sender's measurement window.
fn record(legs: &mut [Option<RtpLeg>], index: usize, sender: usize, number: u64) {
    let first = legs
        .get(sender)
        .and_then(Option::as_ref)
        .and_then(
            |sender_leg| match (sender_leg.window_first, sender_leg.window_end) {
                _ if number >= sender_leg.sent => None, // not sent yet: a garbled tag
                (Some(first), Some(end)) if number >= first && number < end => Some(first),
                (Some(first), None) if number >= first => Some(first),
                _ => None,
            },
        );
    if let Some(first) = first
        && let Some(Some(leg)) = legs.get_mut(index)
    {
        let offset = (number - first) as usize;
        let bits = leg.received.entry(sender).or_default();
        if bits.len() <= offset / 64 {
            bits.resize(offset / 64 + 1, 0);
        }
        bits[offset / 64] |= 1 << (offset % 64);
    }
}

fn write_packet(packet: &mut [u8; PACKET_BYTES], index: usize, leg: &RtpLeg) {
    packet[0] = 0x80;
    packet[1] = 0; // PCMU
    packet[2..4].copy_from_slice(&leg.sequence.to_be_bytes());
    packet[4..8].copy_from_slice(&leg.timestamp.to_be_bytes());
    packet[8..12].copy_from_slice(&(0x4c4f_0000 | index as u32).to_be_bytes());
    write_tag(&mut packet[12..12 + TAG_BYTES], index as u32);
    write_tag(
        &mut packet[12 + TAG_BYTES..12 + 2 * TAG_BYTES],
        leg.sent as u32,
    );
    packet[12 + 2 * TAG_BYTES..].fill(0xff); // µ-law silence
}

/// Bytes of one number in a payload.
const TAG_BYTES: usize = 5;

/// Writes `value` 7 bits per byte with the top bit set: µ-law codes that
/// survive decoding and re-encoding (a mixed bridge) unchanged; only 0x7f
/// (negative zero) would come back as 0xff.
fn write_tag(out: &mut [u8], value: u32) {
    for (n, byte) in out.iter_mut().enumerate() {
        *byte = 0x80 | ((value >> (7 * n)) & 0x7f) as u8;
    }
}

/// Reads a number written by [`write_tag`]; `None` if the bytes are not
/// such a tag (a concealed or silent frame).
fn read_tag(bytes: &[u8]) -> Option<u32> {
    bytes.iter().enumerate().try_fold(0u32, |value, (n, byte)| {
        (byte & 0x80 != 0).then(|| value | (u32::from(byte & 0x7f) << (7 * n)))
    })
}

// ---------------------------------------------------------------- SIP side

/// Messages from `main` to the user agent.
#[derive(Debug)]
enum Control {
    /// Hang up every call.
    HangUp,
}

enum Phase {
    Registering { sequence: u32, answered: bool },
    Calling,
}

struct OutgoingCall {
    invite: Request,
    offer: SessionDescription,
    dialog: Option<Dialog>,
}

struct LoadUa {
    options: Options,
    local: SocketAddr,
    phase: Phase,
    register_call_id: String,
    calls: Vec<OutgoingCall>,
    invites: HashMap<ClientKey, usize>,
    next_call_at: Option<Instant>,
    rtp: mpsc::Sender<RtpCommand>,
    established: usize,
    answered_as_phone: usize,
    failed: usize,
    byes_pending: usize,
    hung_up: bool,
    ready: Option<mpsc::Sender<()>>,
}

impl LoadUa {
    fn server_peer(&self) -> Peer {
        Peer {
            transport: Transport::Udp,
            address: self.options.server,
        }
    }

    fn bind_rtp(&self) -> anyhow::Result<(UdpSocket, LocalMedia)> {
        let socket = UdpSocket::bind((self.local.ip(), 0))?;
        socket.set_nonblocking(true)?;
        let port = socket.local_addr()?.port();
        let local = LocalMedia::new(
            self.local.ip(),
            port,
            SessionOrigin::new(u64::from(port), 1),
        );
        Ok((socket, local))
    }

    fn send_register(
        &mut self,
        now: Instant,
        sip: &mut Endpoint,
        authorization: Option<(AuthKind, String)>,
    ) {
        let Phase::Registering { sequence, .. } = &mut self.phase else {
            return;
        };
        *sequence += 1;
        let server = self.options.server;
        let user = &self.options.user;
        let uri = parse_uri(&format!("sip:{server}")).expect("a SIP URI");
        let mut request = Request::new(Method::Register, uri);
        let headers = &mut request.headers;
        headers.push(
            Name::FROM,
            format!("<sip:{user}@{server}>;tag=load-register"),
        );
        headers.push(Name::TO, format!("<sip:{user}@{server}>"));
        headers.push(Name::CALL_ID, self.register_call_id.clone());
        headers.push(Name::CSEQ, format!("{sequence} REGISTER"));
        headers.push(Name::CONTACT, format!("<sip:{user}@{}>", self.local));
        headers.push(Name::EXPIRES, "3600");
        if let Some((kind, value)) = authorization {
            headers.push(kind.credentials_header(), value);
        }
        let peer = self.server_peer();
        sip.send_request(now, request, peer);
    }

    fn place_call(&mut self, now: Instant, sip: &mut Endpoint) -> anyhow::Result<()> {
        let index = self.calls.len();
        let (socket, local) = self.bind_rtp()?;
        let offer = sdp::offer(&local, Direction::SendRecv);
        let server = self.options.server;
        let target = match self.options.mode {
            Mode::Relay => self.options.user.clone(),
            Mode::Echo => "1000".to_string(),
        };
        let uri = parse_uri(&format!("sip:{target}@{server}"))?;
        let mut invite = Request::new(Method::Invite, uri);
        let headers = &mut invite.headers;
        let tag = sip.new_token();
        headers.push(
            Name::FROM,
            format!("<sip:load{index}@{}>;tag={tag}", self.local),
        );
        headers.push(Name::TO, format!("<sip:{target}@{server}>"));
        headers.push(Name::CALL_ID, format!("load-{index}-{}", sip.new_token()));
        headers.push(Name::CSEQ, "1 INVITE");
        headers.push(
            Name::CONTACT,
            dialog::our_contact("load", self.local, Transport::Udp),
        );
        headers.push(Name::CONTENT_TYPE, "application/sdp");
        invite.body = Bytes::from(offer.to_bytes());
        let peer = self.server_peer();
        let key = sip.send_request(now, invite.clone(), peer);
        self.invites.insert(key, index);
        self.calls.push(OutgoingCall {
            invite,
            offer,
            dialog: None,
        });
        let _ = self.rtp.send(RtpCommand::Add {
            leg: 2 * index,
            socket,
            remote: None,
        });
        Ok(())
    }

    fn handle_response(
        &mut self,
        now: Instant,
        key: ClientKey,
        response: Response,
        sip: &mut Endpoint,
    ) {
        if key.method == Method::Register {
            match response.status {
                401 | 407 => {
                    let Some((kind, challenge)) = response_challenge(&response) else {
                        eprintln!("REGISTER challenge not understood");
                        return;
                    };
                    if let Phase::Registering { answered: true, .. } = self.phase {
                        eprintln!("REGISTER refused: wrong password?");
                        return;
                    }
                    let uri = format!("sip:{}", self.options.server);
                    let cnonce = sip.new_token();
                    let Ok(value) = challenge.answer(
                        "REGISTER",
                        &uri,
                        &self.options.user,
                        &self.options.password,
                        1,
                        &cnonce,
                    ) else {
                        return;
                    };
                    if let Phase::Registering { answered, .. } = &mut self.phase {
                        *answered = true;
                    }
                    self.send_register(now, sip, Some((kind, value)));
                }
                200..=299 => {
                    eprintln!("registered as {}", self.options.user);
                    self.phase = Phase::Calling;
                    self.next_call_at = Some(now);
                }
                status => eprintln!("REGISTER failed: {status}"),
            }
            return;
        }
        if key.method == Method::Bye {
            self.byes_pending = self.byes_pending.saturating_sub(1);
            return;
        }
        let Some(&index) = self.invites.get(&key) else {
            return;
        };
        match response.status {
            100..=199 => {}
            200..=299 => {
                let call = &mut self.calls[index];
                if call.dialog.is_some() {
                    return;
                }
                let peer = Peer {
                    transport: Transport::Udp,
                    address: self.options.server,
                };
                let Ok(dialog) = Dialog::from_uac(&call.invite, &response, peer) else {
                    self.failed += 1;
                    return;
                };
                sip.send_ack(&key, dialog.create_ack(1), peer);
                call.dialog = Some(dialog);
                let remote = SessionDescription::parse(&response.body)
                    .ok()
                    .and_then(|answer| sdp::accept_answer(&call.offer, &answer).ok())
                    .map(|negotiated| negotiated.remote_rtp);
                match remote {
                    Some(remote) => {
                        let _ = self.rtp.send(RtpCommand::SetRemote {
                            leg: 2 * index,
                            remote,
                        });
                        self.established += 1;
                    }
                    None => self.failed += 1,
                }
                self.check_ready();
            }
            status => {
                eprintln!("call {index} failed: {status}");
                self.failed += 1;
                self.check_ready();
            }
        }
    }

    /// We are the phone: answer the server's INVITE for call `index`.
    fn answer_as_phone(
        &mut self,
        now: Instant,
        key: &sip_core::transaction::ServerKey,
        request: &Request,
        source: Peer,
        sip: &mut Endpoint,
    ) {
        let index = request
            .headers
            .from()
            .ok()
            .and_then(|from| sip_core::message::uri_user(&from.uri.uri).map(str::to_owned))
            .and_then(|user| {
                user.strip_prefix("load")
                    .and_then(|n| n.parse::<usize>().ok())
            });
        let Some(index) = index else {
            sip.respond(now, key, Response::to_request(request, 404));
            return;
        };
        let Ok((socket, local)) = self.bind_rtp() else {
            sip.respond(now, key, Response::to_request(request, 503));
            return;
        };
        let answer = SessionDescription::parse(&request.body)
            .ok()
            .and_then(|offer| sdp::answer(&offer, &local).ok());
        let Some(answer) = answer else {
            sip.respond(now, key, Response::to_request(request, 488));
            return;
        };
        let mut response = Response::to_request(request, 200);
        sip.add_to_tag_if_missing(&mut response);
        response.headers.push(
            Name::CONTACT,
            dialog::our_contact(&self.options.user, self.local, source.transport),
        );
        response.headers.push(Name::CONTENT_TYPE, "application/sdp");
        response.body = Bytes::from(answer.session_description.to_bytes());
        sip.respond(now, key, response);
        let _ = self.rtp.send(RtpCommand::Add {
            leg: 2 * index + 1,
            socket,
            remote: Some(answer.media.remote_rtp),
        });
        self.answered_as_phone += 1;
    }

    fn check_ready(&mut self) {
        let done = self.established + self.failed >= self.options.calls;
        let phones_done =
            self.options.mode == Mode::Echo || self.answered_as_phone >= self.established;
        if done
            && phones_done
            && let Some(ready) = self.ready.take()
        {
            let _ = ready.send(());
        }
    }

    fn hang_up(&mut self, now: Instant, sip: &mut Endpoint) {
        self.hung_up = true;
        for call in &mut self.calls {
            if let Some(dialog) = call.dialog.as_mut() {
                let bye = dialog.create_request(Method::Bye);
                let peer = dialog.destination();
                sip.send_request(now, bye, peer);
                self.byes_pending += 1;
            }
        }
    }
}

impl Application for LoadUa {
    type Message = Control;

    fn handle_event(&mut self, now: Instant, event: Event, sip: &mut Endpoint) {
        match event {
            Event::Response { key, response } => self.handle_response(now, key, response, sip),
            Event::Request {
                key,
                request,
                source,
            } => match request.method {
                Method::Invite => {
                    self.answer_as_phone(now, &key, &request, source, sip);
                    self.check_ready();
                }
                Method::Bye => sip.respond(now, &key, Response::to_request(&request, 200)),
                _ => sip.respond(now, &key, Response::to_request(&request, 501)),
            },
            Event::TimedOut { key } => {
                if key.method == Method::Invite {
                    self.failed += 1;
                    self.check_ready();
                } else if key.method == Method::Bye {
                    self.byes_pending = self.byes_pending.saturating_sub(1);
                }
            }
            _ => {}
        }
    }

    fn handle_message(&mut self, now: Instant, message: Control, sip: &mut Endpoint) {
        match message {
            Control::HangUp => self.hang_up(now, sip),
        }
    }

    fn handle_timeout(&mut self, now: Instant, sip: &mut Endpoint) {
        let Some(at) = self.next_call_at else { return };
        if now < at || !matches!(self.phase, Phase::Calling) {
            return;
        }
        let interval = Duration::from_secs(1) / self.options.rate.max(1);
        let mut next = at;
        while next <= now && self.calls.len() < self.options.calls {
            if let Err(error) = self.place_call(now, sip) {
                eprintln!("cannot place a call: {error}");
                self.failed += 1;
            }
            next += interval;
        }
        self.next_call_at = (self.calls.len() < self.options.calls).then_some(next);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_call_at
    }

    fn begin_shutdown(&mut self, now: Instant, sip: &mut Endpoint) {
        if !self.hung_up {
            self.hang_up(now, sip);
        }
    }

    fn is_idle(&self) -> bool {
        self.byes_pending == 0
    }
}

// ---------------------------------------------------------------- main

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    if options.mode == Mode::Relay && options.password.is_empty() {
        bail!("relay mode registers as {}: give --password", options.user);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (rtp_tx, rtp_rx) = mpsc::channel();
    let mode = options.mode;
    let rtp = thread::spawn(move || rtp_thread(rtp_rx, mode));
    let (ready_tx, ready_rx) = mpsc::channel();
    let (control_tx, control_rx) = tokio::sync::mpsc::unbounded_channel();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let calls = options.calls;
    let duration = options.duration;
    let server_pid = options.server_pid;
    let local_ip: IpAddr = options.server.ip();
    let rtp_control = rtp_tx.clone();

    let sip = runtime.spawn(async move {
        let listeners = Listeners::bind(SocketAddr::new(local_ip, 0)).await?;
        let local = listeners.local_address()?;
        let endpoint = Endpoint::new(EndpointConfig::new(local));
        let mut ua = LoadUa {
            phase: Phase::Registering {
                sequence: 0,
                answered: false,
            },
            register_call_id: format!("load-register@{local}"),
            local,
            options,
            calls: Vec::new(),
            invites: HashMap::new(),
            next_call_at: None,
            rtp: rtp_tx,
            established: 0,
            answered_as_phone: 0,
            failed: 0,
            byes_pending: 0,
            hung_up: false,
            ready: Some(ready_tx),
        };
        if ua.options.mode == Mode::Echo {
            ua.phase = Phase::Calling;
            ua.next_call_at = Some(Instant::now());
        }
        let mut endpoint = endpoint;
        if let Phase::Registering { .. } = ua.phase {
            ua.send_register(Instant::now(), &mut endpoint, None);
        }
        let summary = (ua.options.calls, ua.options.mode);
        driver::run(listeners, endpoint, ua, control_rx, async {
            let _ = shutdown_rx.await;
        })
        .await?;
        anyhow::Ok(summary)
    });

    let setup_started = Instant::now();
    ready_rx
        .recv_timeout(Duration::from_secs(120))
        .context("calls were not all set up within 120 s")?;
    eprintln!(
        "{calls} calls set up in {:.1} s",
        setup_started.elapsed().as_secs_f64()
    );
    thread::sleep(Duration::from_secs(2));
    let rss_before = server_pid.and_then(rss_kib);
    let cpu_before = server_pid.and_then(cpu_seconds);
    let window_started = Instant::now();
    let _ = rtp_control.send(RtpCommand::OpenWindow);
    thread::sleep(Duration::from_secs(duration));
    let _ = rtp_control.send(RtpCommand::CloseWindow);
    let window = window_started.elapsed().as_secs_f64();
    let cpu_after = server_pid.and_then(cpu_seconds);
    let rss = server_pid.and_then(rss_kib);
    let report = rtp
        .join()
        .map_err(|_| anyhow::anyhow!("the RTP thread panicked"))?;
    let _ = control_tx.send(Control::HangUp);
    thread::sleep(Duration::from_secs(2));
    let _ = shutdown_tx.send(());
    let _ = runtime.block_on(sip);

    let lost = report
        .sent_in_window
        .saturating_sub(report.received_in_window);
    println!(
        "mode {mode:?}: {calls} calls, {} RTP legs; window {window:.1} s: sent {}, received {}, lost {} ({:.4} %), stray {}",
        report.legs,
        report.sent_in_window,
        report.received_in_window,
        lost,
        100.0 * lost as f64 / report.sent_in_window.max(1) as f64,
        report.stray,
    );
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let share = (after - before) / window;
        println!(
            "server CPU {:.1} % of a core = {:.4} % per call; RSS {} MiB (before window {} MiB)",
            100.0 * share,
            100.0 * share / calls as f64,
            rss.unwrap_or(0) / 1024,
            rss_before.unwrap_or(0) / 1024,
        );
    }
    Ok(())
}
