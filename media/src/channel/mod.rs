//! The media of one call leg, sans-IO: what a media worker owns per leg and
//! drives every 20 ms tick (DESIGN.md principle 3).
//!
//! ```text
//!   datagrams ──handle_datagram──► latching ─┬─ audio ───► jitter buffer ──tick──► Frame
//!   (RTP, RTCP)                              ├─ RFC 4733 ► event receiver ─┐
//!                                            ├─ CN (PT 13): silence        ├─► poll_event
//!                                            └─ RTCP ────► RtcpSession ────┘   (digits deduplicated
//!                                                                               with in-band tones)
//!   Frame ──push_frame──► G.711 ─┐
//!   send_digit ──► RFC 4733 ─────┼─► OutgoingStream (our SSRC) ─► transmit ring ─► poll_transmit
//!   relay_from(other leg) ───────┘   (transcoded in place)
//! ```
//!
//! ```text
//!                  set_remote                  close
//!   AwaitingRemote ──────────► Negotiated ──────────► Closed
//!                              │      ▲   (RTCP BYE)
//!                              └──────┘ set_remote (re-INVITE)
//! ```
//!
//! A media worker drives each channel it owns like this (time is always an
//! argument; the worker owns the sockets and the clock):
//!
//! ```text
//!   on a datagram:      channel.handle_datagram(now, source, bytes)
//!                       (relaying? if the verdict is_relayable(), hand the
//!                        parsed packet to other.relay_from(now, packet, format))
//!   every 20 ms tick:   let heard = channel.tick(now);      // to the mixer
//!                       channel.push_frame(now, &mixed);    // from the mixer
//!   when due:           channel.handle_timeout(now)         // poll_timeout()
//!   then drain:         poll_transmit() until None, poll_event() until None
//! ```
//!
//! The negotiated direction
//! (RFC 3264 §5.1) decides what flows: a direction that does not receive
//! plays silence and reports no digits, one that does not send queues no
//! RTP; RTCP continues either way, as RFC 3264 §5.1 asks.
//!
//! In-band DTMF is detected on what [`Channel::tick`] decodes, so not while
//! a leg is in [`ReceiveMode::Relay`]; RFC 4733 digits are reported in
//! both modes.
//!
//! No allocation per packet: the incoming payload is copied into the jitter
//! buffer's ring, decoding writes into the channel's own frames, encoding
//! into a buffer on the stack, and every outgoing RTP packet (ours, a
//! relayed one, or a telephone-event) is written, re-stamped, in one of the
//! transmit ring's buffers of [`SLOT_BYTES`]; [`Channel::poll_transmit`]
//! lends them out. A ring holding [`RING_SLOTS`] packets drops the next
//! one and counts it. Events go into a queue preallocated for
//! [`EVENT_CAPACITY`] entries. What may allocate is rare: an RTCP report
//! (every ~5 s), a new remote SSRC, the start of a received or sent digit,
//! a codec change on a re-INVITE, the transmit ring growing past
//! [`INITIAL_SLOTS`] for an owner that drains late (at most twice), and
//! the decoding state below.
//!
//! A relaying leg stays small (a few KiB with its buffers; see the
//! `relaying_channel_stays_small` test): what only decoding uses (the
//! jitter buffer's ring of 64 frames, the decoded frames) is allocated on
//! the first packet buffered and the first frame decoded, so a channel in
//! [`ReceiveMode::Relay`] never allocates it, and the in-band detector only
//! when configured.
//!
//! The relay fast path parses each datagram once: a media worker takes the
//! packet from [`Channel::handle_datagram_to_relay`] and gives it to the
//! other leg's [`Channel::relay`].

mod config;
mod digits;
mod event;
mod outgoing;
mod reframe;
mod relay;
mod stats;
#[cfg(test)]
pub(crate) mod testing;
mod transmit;

pub use config::{ChannelConfig, DEFAULT_MEDIA_TIMEOUT};
pub use digits::{DigitSource, PAIRING_WINDOW};
pub use event::{ChannelEvent, DropReason, Received};
pub use relay::{RelayFormat, RelayPacket};
pub use stats::ChannelStats;
pub use transmit::{INITIAL_SLOTS, LocalSocket, RING_SLOTS, SLOT_BYTES, Transmit};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::audio::{Frame, SAMPLE_RATE, SILENCE};
use crate::codec::{self, Codec, g711};
use crate::dtmf::rfc4733::{TelephoneEventReceiver, TelephoneEventSender};
use crate::dtmf::{DetectorConfig, DetectorEvent, Digit, DtmfDetector};
use crate::jitter_buffer::{JitterBuffer, Playout, conceal};
use crate::rtcp::{RtcpConfig, RtcpEvent, RtcpSession};
use crate::rtp::{
    LatchVerdict, Latching, OutgoingStream, PayloadType, RtpHeader, RtpPacket, Ssrc,
    TimestampScaler, is_rtcp,
};
use crate::sdp::NegotiatedMedia;
use digits::DigitDeduplicator;
use outgoing::{LocalClock, OutgoingEvent};
use reframe::Reframer;
use stats::Counters;
use transmit::TransmitRing;

/// Comfort noise (RFC 3389), static payload type 13 (RFC 3551 §6).
pub const COMFORT_NOISE: PayloadType = match PayloadType::new(13) {
    Ok(payload_type) => payload_type,
    Err(_) => panic!("13 is a valid payload type"),
};

/// The RTP clock of G.711 and its telephone-events, until a codec is
/// negotiated (Opus runs at 48 kHz).
const CLOCK_RATE: u32 = SAMPLE_RATE;

/// Events kept for the owner between two drains without allocating (events
/// are rare: a latch, a digit, a timeout, a BYE).
pub const EVENT_CAPACITY: usize = 4;

/// What happens to received audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiveMode {
    /// Buffer and decode it for [`Channel::tick`].
    #[default]
    Decode,
    /// Leave it to the owner to relay (a two-party bridge with nothing
    /// listening): not buffered, [`Channel::tick`] plays silence. Digits
    /// are still reported.
    Relay,
}

/// Why [`Channel::send_digit`] could not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendDigitError {
    /// The remote did not negotiate telephone-events (or nothing is
    /// negotiated yet).
    #[error("telephone-events were not negotiated")]
    NotNegotiated,
}

/// The life of the channel.
#[derive(Debug, Clone)]
enum State {
    AwaitingRemote,
    Negotiated(NegotiatedMedia),
    Closed,
}

/// The media timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaTimeout {
    Disarmed,
    Armed { since: Instant, deadline: Instant },
    Fired,
}

/// The playout side of decoding, allocated on the first frame the jitter
/// buffer plays (a relaying leg never needs it).
#[derive(Debug, Clone)]
struct Decoded {
    playout: Frame,
    last_decoded: Frame,
    concealed_run: u32,
    /// The received codec's decoder (G.722 and Opus keep state between
    /// packets).
    decoder: codec::Decoder,
}

/// What last fed our outgoing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Local,
    Relay,
}

/// The media of one call leg. See the module documentation.
#[derive(Debug, Clone)]
pub struct Channel {
    ssrc: Ssrc,
    state: State,
    media_timeout_after: Option<Duration>,
    media_timeout: MediaTimeout,
    wall_clock_anchor: (Instant, SystemTime),
    latching: Latching,
    /// Where RTCP came from on a separate RTCP port (symmetric RTCP).
    rtcp_source: Option<SocketAddr>,
    rtcp: RtcpSession,
    /// Allocates its ring on the first packet buffered.
    jitter_buffer: JitterBuffer,
    /// Cuts packets that are not 20 ms long into frames for the buffer.
    reframer: Reframer,
    /// Received timestamps onto the buffer's 8 kHz clock (÷6 for Opus).
    receive_clock: TimestampScaler,
    receive_mode: ReceiveMode,
    decoded: Option<Box<Decoded>>,
    /// Our codec's encoder, made on the first frame sent.
    encoder: Option<codec::Encoder>,
    event_receiver: TelephoneEventReceiver,
    /// Boxed: large, and only there when configured.
    detector: Option<Box<DtmfDetector>>,
    digits: DigitDeduplicator,
    stream: OutgoingStream,
    origin: Option<Origin>,
    local: LocalClock,
    event_sender: TelephoneEventSender,
    outgoing_event: Option<OutgoingEvent>,
    queued_digits: VecDeque<(Digit, Duration)>,
    ring: TransmitRing,
    rtcp_out: Vec<u8>,
    rtcp_pending: Option<(SocketAddr, LocalSocket)>,
    events: VecDeque<ChannelEvent>,
    stats: Counters,
}

impl Channel {
    /// A channel created at `now`, before any SDP: it drops media until
    /// [`Self::set_remote`]. The buffers every leg uses are allocated here,
    /// those only decoding uses when first needed.
    pub fn new(now: Instant, config: ChannelConfig) -> Self {
        let mut rtcp_config = RtcpConfig::new(config.ssrc, config.cname, config.rng_seed);
        rtcp_config.minimum_interval = config.rtcp_minimum_interval;
        Self {
            ssrc: config.ssrc,
            state: State::AwaitingRemote,
            media_timeout_after: config.media_timeout,
            media_timeout: MediaTimeout::Disarmed,
            wall_clock_anchor: (now, config.wall_clock),
            latching: Latching::new(config.latching_threshold),
            rtcp_source: None,
            rtcp: RtcpSession::new(now, rtcp_config),
            jitter_buffer: JitterBuffer::with_config(config.jitter_buffer),
            reframer: Reframer::new(),
            receive_clock: TimestampScaler::new(1),
            receive_mode: ReceiveMode::Decode,
            decoded: None,
            encoder: None,
            event_receiver: TelephoneEventReceiver::new(CLOCK_RATE),
            detector: config
                .inband_dtmf
                .then(|| Box::new(DtmfDetector::new(DetectorConfig::default()))),
            digits: DigitDeduplicator::default(),
            stream: OutgoingStream::new(config.ssrc, CLOCK_RATE),
            origin: None,
            local: LocalClock::new(config.rng_seed),
            event_sender: TelephoneEventSender::new(CLOCK_RATE),
            outgoing_event: None,
            queued_digits: VecDeque::new(),
            ring: TransmitRing::new(),
            rtcp_out: Vec::new(),
            rtcp_pending: None,
            events: VecDeque::with_capacity(EVENT_CAPACITY),
            stats: Counters::default(),
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Takes the negotiated media (an answer, or a re-INVITE's): codec,
    /// payload types, remote address and direction. The same remote
    /// address as before keeps a latch.
    pub fn set_remote(&mut self, now: Instant, media: NegotiatedMedia) {
        if matches!(self.state, State::Closed) {
            return;
        }
        let (codec, event_clock) = match &self.state {
            State::Negotiated(previous) => (
                Some(previous.codec),
                Some(previous.telephone_event_clock_rate),
            ),
            State::AwaitingRemote | State::Closed => (None, None),
        };
        if codec != Some(media.codec) {
            // Buffered payloads are in the old codec; the new one may need
            // more room per packet, and run another clock.
            let mut config = self.jitter_buffer.config();
            config.max_payload_bytes = config.max_payload_bytes.max(media.codec.max_frame_bytes());
            self.jitter_buffer = JitterBuffer::with_config(config);
            self.reframer = Reframer::new();
            let clock_rate = media.codec.clock_rate();
            self.receive_clock = TimestampScaler::new(clock_rate / SAMPLE_RATE);
            self.stream.set_clock_rate(clock_rate);
            self.rtcp.set_clock_rate(clock_rate);
            self.local.set_clock_rate(clock_rate);
        }
        if event_clock != Some(media.telephone_event_clock_rate) {
            self.event_receiver = TelephoneEventReceiver::new(media.telephone_event_clock_rate);
            self.event_sender = TelephoneEventSender::new(media.telephone_event_clock_rate);
        }
        self.latching.set_signalled(Some(media.remote_rtp));
        self.state = State::Negotiated(media);
        self.arm_media_timeout(now);
    }

    /// The negotiated media, if any.
    pub fn media(&self) -> Option<&NegotiatedMedia> {
        match &self.state {
            State::Negotiated(media) => Some(media),
            State::AwaitingRemote | State::Closed => None,
        }
    }

    /// Where we send RTP: the latched source, else the SDP address.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.latching.remote()
    }

    /// How this leg's packets are numbered, for [`Self::relay_from`] on
    /// the other leg; `None` before negotiation.
    pub fn relay_format(&self) -> Option<RelayFormat> {
        self.media().map(RelayFormat::of)
    }

    /// Decode received audio, or leave it to a relay.
    pub fn set_receive_mode(&mut self, mode: ReceiveMode) {
        self.receive_mode = mode;
    }

    /// Handles a datagram that arrived at `now` on our RTP port from
    /// `source`: RTP, or RTCP multiplexed with it (RFC 5761 §4).
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, bytes: &[u8]) -> Received {
        self.handle_datagram_to_relay(now, source, bytes).0
    }

    /// [`Self::handle_datagram`], also returning the packet parsed, when it
    /// is media the other leg of a relay should get (the verdict
    /// [`Received::is_relayable`]): hand it to that leg's
    /// [`Self::relay`] rather than parsing the datagram again.
    pub fn handle_datagram_to_relay<'a>(
        &mut self,
        now: Instant,
        source: SocketAddr,
        bytes: &'a [u8],
    ) -> (Received, Option<RelayPacket<'a>>) {
        if matches!(self.state, State::Closed) {
            return (Received::Dropped(DropReason::Closed), None);
        }
        if is_rtcp(bytes) {
            let from_remote = self.latching.remote().is_none_or(|remote| remote == source);
            let verdict = self.handle_rtcp(now, source, bytes, from_remote, LocalSocket::Rtp);
            return (verdict, None);
        }
        let State::Negotiated(media) = &self.state else {
            return (Received::Dropped(DropReason::NotNegotiated), None);
        };
        let receives = media.direction.receives();
        let format = RelayFormat::of(media);
        let Ok(packet) = RtpPacket::parse(bytes) else {
            self.stats.malformed += 1;
            return (Received::Dropped(DropReason::Malformed), None);
        };
        match self.latching.on_packet(source) {
            LatchVerdict::Accepted => {}
            LatchVerdict::Latched { previous } => self.push_event(ChannelEvent::RemoteLatched {
                address: source,
                previous,
            }),
            LatchVerdict::Ignored => {
                self.stats.ignored_source += 1;
                return (Received::Dropped(DropReason::UnlatchedSource), None);
            }
        }
        let header = packet.header();
        let payload = packet.payload();
        self.stats.packets_received += 1;
        self.stats.bytes_received += bytes.len() as u64;
        self.rtcp.handle_rtp_received(now, &header, payload.len());
        self.arm_media_timeout(now);
        if !receives {
            self.stats.dropped_by_direction += 1;
            return (Received::Dropped(DropReason::Direction), None);
        }
        let relayable = RelayPacket {
            header,
            payload,
            from: format,
        };
        let payload_type = header.payload_type;
        if format.is_telephone_event(payload_type) {
            self.stats.telephone_event_packets += 1;
            if self
                .event_receiver
                .handle_packet(now, header.timestamp, header.marker, payload)
                .is_err()
            {
                self.stats.malformed += 1;
                return (Received::Dropped(DropReason::Malformed), None);
            }
            self.drain_telephone_events(now);
            (Received::TelephoneEvent, Some(relayable))
        } else if format.is_audio(payload_type) {
            if self.receive_mode == ReceiveMode::Decode {
                // Late, duplicate and oversized packets are counted by the
                // jitter buffer itself. Opus packets are never cut.
                let timestamp = self.receive_clock.scale(header.timestamp);
                match format.codec.filler_byte() {
                    Some(filler) if self.reframer.is_needed(payload.len()) => {
                        let jitter_buffer = &mut self.jitter_buffer;
                        self.reframer.push(
                            header.ssrc,
                            header.sequence_number,
                            timestamp,
                            payload,
                            filler,
                            |sequence, timestamp, frame| {
                                let _ = jitter_buffer.push(now, sequence, timestamp, frame);
                            },
                        );
                    }
                    _ => {
                        let _ = self.jitter_buffer.push(
                            now,
                            header.sequence_number,
                            timestamp,
                            payload,
                        );
                    }
                }
            }
            (Received::Audio, Some(relayable))
        } else if payload_type == COMFORT_NOISE {
            // RFC 3389: the sender is silent. The jitter buffer conceals
            // the gap and fades to silence; we generate no noise.
            self.stats.comfort_noise_packets += 1;
            (Received::ComfortNoise, None)
        } else {
            self.stats.unknown_payload_type += 1;
            (Received::Dropped(DropReason::UnknownPayloadType), None)
        }
    }

    /// Handles a datagram that arrived at `now` on our separate RTCP port
    /// (no rtcp-mux) from `source`.
    pub fn handle_rtcp_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        bytes: &[u8],
    ) -> Received {
        if matches!(self.state, State::Closed) {
            return Received::Dropped(DropReason::Closed);
        }
        // Only the remote's host may report: RTCP on another port of it is
        // normal (port + 1, or NAT), another host is a stray.
        let from_remote = self
            .latching
            .remote()
            .is_none_or(|remote| remote.ip() == source.ip());
        self.handle_rtcp(now, source, bytes, from_remote, LocalSocket::Rtcp)
    }

    /// What to play for the tick at `now`: the next frame of the jitter
    /// buffer decoded, a concealment of a lost one, or silence. Call once
    /// per 20 ms tick.
    pub fn tick(&mut self, now: Instant) -> &Frame {
        let codec = match &self.state {
            State::Negotiated(media)
                if media.direction.receives() && self.receive_mode == ReceiveMode::Decode =>
            {
                Some(media.codec)
            }
            _ => None,
        };
        let Some(codec) = codec else {
            if let Some(decoded) = self.decoded.as_mut() {
                decoded.playout = SILENCE;
            }
            return &SILENCE;
        };
        let new_decoded = || {
            Box::new(Decoded {
                playout: SILENCE,
                last_decoded: SILENCE,
                concealed_run: 0,
                decoder: codec::Decoder::new(codec),
            })
        };
        let playout: &Frame = match self.jitter_buffer.pop(now) {
            Playout::Frame { payload, .. } => {
                let decoded = self.decoded.get_or_insert_with(new_decoded);
                if decoded.decoder.codec() != codec {
                    decoded.decoder = codec::Decoder::new(codec);
                }
                let written = decoded.decoder.decode(payload, &mut decoded.playout);
                decoded.playout[written..].fill(0);
                decoded.last_decoded = decoded.playout;
                decoded.concealed_run = 0;
                &decoded.playout
            }
            Playout::Concealed => {
                let decoded = self.decoded.get_or_insert_with(new_decoded);
                decoded.concealed_run = decoded.concealed_run.saturating_add(1);
                if !(decoded.decoder.codec() == codec
                    && decoded.decoder.conceal(&mut decoded.playout))
                {
                    decoded.playout = conceal(&decoded.last_decoded, decoded.concealed_run);
                }
                &decoded.playout
            }
            Playout::NotStarted | Playout::Silence => match &mut self.decoded {
                Some(decoded) => {
                    decoded.concealed_run = 0;
                    decoded.playout = SILENCE;
                    &decoded.playout
                }
                None => &SILENCE,
            },
        };
        if let Some(detector) = &mut self.detector {
            detector.process(playout);
            while let Some(DetectorEvent::DigitDetected {
                digit,
                duration_samples,
                ..
            }) = detector.poll_event()
            {
                if self.digits.admit(now, digit, DigitSource::InBand) {
                    let duration = Duration::from_nanos(
                        duration_samples.saturating_mul(1_000_000_000) / u64::from(SAMPLE_RATE),
                    );
                    push_event(
                        &mut self.events,
                        ChannelEvent::DigitReceived {
                            digit,
                            duration,
                            source: DigitSource::InBand,
                        },
                    );
                }
            }
        }
        playout
    }

    /// Whether telephone-events are being sent or are queued: audio
    /// pushed meanwhile is not sent, so a player should wait.
    pub fn is_sending_digits(&self) -> bool {
        self.outgoing_event.is_some() || !self.queued_digits.is_empty()
    }

    /// What the last [`Channel::tick`] played (silence before the first).
    pub fn last_playout(&self) -> &Frame {
        self.decoded
            .as_ref()
            .map_or(&SILENCE, |decoded| &decoded.playout)
    }

    /// Encodes one 20 ms frame produced at `now` in the negotiated codec
    /// and queues it as an RTP packet: timestamp +20 ms per frame (160
    /// ticks at 8 kHz, 960 for Opus), the marker
    /// on the first packet after a silence. Nothing is sent while the
    /// direction does not send or a telephone-event is being sent.
    pub fn push_frame(&mut self, now: Instant, frame: &Frame) {
        self.send_due_telephone_events(now);
        let State::Negotiated(media) = &self.state else {
            return;
        };
        let (codec, payload_type, sends) =
            (media.codec, media.payload_type, media.direction.sends());
        let (timestamp, gap) = self.local.advance(now);
        let destination = self.latching.remote();
        let (true, None, Some(destination)) = (sends, &self.outgoing_event, destination) else {
            self.local.interrupted = true;
            return;
        };
        let mut payload = [0u8; codec::MAX_FRAME_BYTES];
        let encoder = match &mut self.encoder {
            Some(encoder) if encoder.codec() == codec => encoder,
            slot => slot.insert(codec::Encoder::new(codec)),
        };
        let length = encoder.encode(frame, &mut payload);
        if length == 0 {
            self.local.interrupted = true;
            return;
        }
        let marker = gap || std::mem::take(&mut self.local.interrupted);
        let header = RtpHeader {
            marker,
            payload_type,
            sequence_number: self.local.next_sequence(),
            timestamp,
            ssrc: self.ssrc,
        };
        self.send_local(now, destination, header, &payload[..length]);
    }

    /// Sends `digit` as RFC 4733 telephone-events lasting `duration`,
    /// starting at `now` (or after the digits already queued): on our SSRC
    /// and sequence numbers, with the timestamp of the event's start, and
    /// no audio until its end packets are out.
    pub fn send_digit(
        &mut self,
        now: Instant,
        digit: Digit,
        duration: Duration,
    ) -> Result<(), SendDigitError> {
        if self
            .media()
            .and_then(|media| media.telephone_event)
            .is_none()
        {
            return Err(SendDigitError::NotNegotiated);
        }
        self.queued_digits.push_back((digit, duration));
        self.send_due_telephone_events(now);
        Ok(())
    }

    /// Does what is due at `now`: telephone-event packets, ended received
    /// events, the media timeout and RTCP reports.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.send_due_telephone_events(now);
        self.event_receiver.handle_timeout(now);
        self.drain_telephone_events(now);
        if let MediaTimeout::Armed { since, deadline } = self.media_timeout
            && now >= deadline
        {
            self.media_timeout = MediaTimeout::Fired;
            self.push_event(ChannelEvent::MediaTimeout {
                silent_for: now.saturating_duration_since(since),
            });
        }
        let wall_clock = self.wall_clock(now);
        if let Some(report) = self.rtcp.poll_transmit(now, wall_clock) {
            self.queue_rtcp(report);
        }
    }

    /// When [`Self::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Closed) {
            return None;
        }
        let media_timeout = match self.media_timeout {
            MediaTimeout::Armed { deadline, .. } => Some(deadline),
            MediaTimeout::Disarmed | MediaTimeout::Fired => None,
        };
        [
            self.rtcp.poll_timeout(),
            self.event_receiver.poll_timeout(),
            media_timeout,
            self.outgoing_event
                .as_ref()
                .and_then(OutgoingEvent::next_due),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next datagram to send, oldest first; it borrows the channel's
    /// buffer until the next call.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        if let Some((destination, bytes)) = self.ring.pop() {
            return Some(Transmit {
                destination,
                socket: LocalSocket::Rtp,
                bytes,
            });
        }
        let (destination, socket) = self.rtcp_pending.take()?;
        Some(Transmit {
            destination,
            socket,
            bytes: &self.rtcp_out,
        })
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        self.events.pop_front()
    }

    /// The counters so far.
    pub fn stats(&self) -> ChannelStats {
        self.stats
            .with(self.jitter_buffer.stats(), self.rtcp.quality())
    }

    /// Ends the channel at `now`: drops what is queued and returns the
    /// RTCP BYE to send (RFC 3550 §6.6), if there is anywhere to send it.
    /// Afterwards the channel ignores input and sends nothing.
    pub fn close(&mut self, now: Instant) -> Option<Transmit<'_>> {
        if matches!(self.state, State::Closed) {
            return None;
        }
        let destination = self.rtcp_destination();
        self.state = State::Closed;
        self.ring.clear();
        self.rtcp_pending = None;
        self.outgoing_event = None;
        self.queued_digits.clear();
        let bye = self.rtcp.bye(now, None);
        let (destination, socket) = destination?;
        self.rtcp_out = bye;
        self.stats.rtcp_sent += 1;
        Some(Transmit {
            destination,
            socket,
            bytes: &self.rtcp_out,
        })
    }

    fn handle_rtcp(
        &mut self,
        now: Instant,
        source: SocketAddr,
        bytes: &[u8],
        from_remote: bool,
        socket: LocalSocket,
    ) -> Received {
        if !from_remote {
            self.stats.ignored_source += 1;
            return Received::Dropped(DropReason::UnlatchedSource);
        }
        if self.rtcp.handle_rtcp(now, bytes).is_err() {
            self.stats.malformed += 1;
            return Received::Dropped(DropReason::Malformed);
        }
        self.stats.rtcp_received += 1;
        if socket == LocalSocket::Rtcp {
            self.rtcp_source = Some(source);
        }
        while let Some(RtcpEvent::ByeReceived { ssrc, reason }) = self.rtcp.poll_event() {
            self.push_event(ChannelEvent::ByeReceived { ssrc, reason });
        }
        Received::Rtcp
    }

    /// Starts the media timeout afresh from `now` (when the call is
    /// answered: a timeout that fired while it rang is forgotten).
    pub fn restart_media_timeout(&mut self, now: Instant) {
        if !matches!(self.state, State::Closed) {
            self.arm_media_timeout(now);
        }
    }

    fn arm_media_timeout(&mut self, now: Instant) {
        let receives = self.media().is_some_and(|media| media.direction.receives());
        self.media_timeout = match (self.media_timeout_after, receives) {
            (Some(after), true) => MediaTimeout::Armed {
                since: now,
                deadline: now + after,
            },
            _ => MediaTimeout::Disarmed,
        };
    }

    fn drain_telephone_events(&mut self, now: Instant) {
        while let Some(event) = self.event_receiver.poll_event() {
            // Flash and other non-digit events are not reported.
            let Some(digit) = Digit::from_event_code(event.event) else {
                continue;
            };
            if self.digits.admit(now, digit, DigitSource::Rfc4733) {
                push_event(
                    &mut self.events,
                    ChannelEvent::DigitReceived {
                        digit,
                        duration: event.duration,
                        source: DigitSource::Rfc4733,
                    },
                );
            }
        }
    }

    fn push_event(&mut self, event: ChannelEvent) {
        push_event(&mut self.events, event);
    }

    /// Starts queued digits and sends the telephone-event packets due at
    /// `now`.
    fn send_due_telephone_events(&mut self, now: Instant) {
        let State::Negotiated(media) = &self.state else {
            return;
        };
        let Some(payload_type) = media.telephone_event else {
            // Telephone-events were renegotiated away mid-digit: drop it,
            // or audio would wait for its end forever.
            self.queued_digits.clear();
            self.outgoing_event = None;
            return;
        };
        let sends = media.direction.sends();
        loop {
            let Some(event) = &mut self.outgoing_event else {
                let Some((digit, duration)) = self.queued_digits.pop_front() else {
                    return;
                };
                let (start_timestamp, _) = self.local.peek(now);
                self.outgoing_event = Some(OutgoingEvent {
                    packets: self.event_sender.packets(digit.event_code(), duration),
                    next: 0,
                    started_at: now,
                    start_timestamp,
                });
                self.local.interrupted = true;
                continue;
            };
            let Some(due) = event.next_due() else {
                self.outgoing_event = None;
                continue;
            };
            if due > now {
                return;
            }
            let packet = event.packets[event.next];
            let timestamp = event.start_timestamp.wrapping_add(packet.timestamp_offset);
            event.next += 1;
            let destination = self.latching.remote();
            if let (true, Some(destination)) = (sends, destination) {
                let header = RtpHeader {
                    marker: packet.marker,
                    payload_type,
                    sequence_number: self.local.next_sequence(),
                    timestamp,
                    ssrc: self.ssrc,
                };
                self.send_local(now, destination, header, &packet.payload);
            }
        }
    }

    /// Queues a packet we generated.
    fn send_local(
        &mut self,
        now: Instant,
        destination: SocketAddr,
        header: RtpHeader,
        payload: &[u8],
    ) {
        self.switch_origin(Origin::Local);
        if let Ok(length) = self.write_packet(now, header, payload, None) {
            self.ring.commit(destination, length);
        }
    }

    /// A change between our own packets and relayed ones is a new source
    /// for the outgoing stream, even if the SSRCs happen to match.
    fn switch_origin(&mut self, origin: Origin) {
        if self.origin != Some(origin) {
            self.stream.restart_source();
            self.origin = Some(origin);
        }
    }

    /// Writes a packet into the next free transmit buffer, mapped onto our
    /// stream (its payload transcoded code by code when `transcode` names
    /// two different codecs), and accounts for it; the caller commits it.
    /// The header and payload are written once, straight into the buffer.
    fn write_packet(
        &mut self,
        now: Instant,
        header: RtpHeader,
        payload: &[u8],
        transcode: Option<(Codec, Codec)>,
    ) -> Result<usize, DropReason> {
        let Some(buffer) = self.ring.vacant() else {
            self.stats.transmit_queue_full += 1;
            return Err(DropReason::TransmitQueueFull);
        };
        let length = RtpHeader::LEN + payload.len();
        if length > buffer.len() {
            return Err(DropReason::TooLarge);
        }
        let sent = self.stream.restamp(now, header);
        buffer[..RtpHeader::LEN].copy_from_slice(&sent.to_bytes());
        let out = &mut buffer[RtpHeader::LEN..length];
        match transcode {
            Some((from, to)) => {
                g711::transcode(from, to, payload, out);
            }
            None => out.copy_from_slice(payload),
        }
        self.rtcp.handle_rtp_sent(now, &sent, payload.len());
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += length as u64;
        Ok(length)
    }

    /// Where RTCP goes: the RTP remote with rtcp-mux, else where the
    /// remote's RTCP comes from, else its SDP RTCP address.
    fn rtcp_destination(&self) -> Option<(SocketAddr, LocalSocket)> {
        let State::Negotiated(media) = &self.state else {
            return None;
        };
        if media.rtcp_mux {
            return self
                .latching
                .remote()
                .map(|remote| (remote, LocalSocket::Rtp));
        }
        self.rtcp_source
            .or_else(|| {
                let signalled = media.remote_rtcp;
                (!signalled.ip().is_unspecified() && signalled.port() != 0).then_some(signalled)
            })
            .map(|remote| (remote, LocalSocket::Rtcp))
    }

    fn queue_rtcp(&mut self, report: Vec<u8>) {
        if let Some(destination) = self.rtcp_destination() {
            self.rtcp_out = report;
            self.rtcp_pending = Some(destination);
            self.stats.rtcp_sent += 1;
        }
    }

    /// The wall-clock time at `now`, following the monotonic clock from the
    /// anchor taken at creation.
    fn wall_clock(&self, now: Instant) -> SystemTime {
        let (anchor, wall) = self.wall_clock_anchor;
        match now.checked_duration_since(anchor) {
            Some(elapsed) => wall + elapsed,
            None => wall
                .checked_sub(anchor.saturating_duration_since(now))
                .unwrap_or(wall),
        }
    }
}

fn push_event(events: &mut VecDeque<ChannelEvent>, event: ChannelEvent) {
    events.push_back(event);
}

impl Channel {
    /// Bytes the channel owns on the heap (capacities, not lengths; not
    /// counting the allocator's own overhead): with
    /// `size_of::<Channel>()`, what a leg costs in memory. A relaying leg
    /// stays at a few KiB; decoding adds the jitter buffer's ring (about
    /// 22 KiB with the default configuration).
    pub fn heap_bytes(&self) -> usize {
        // Every field is named, so a new one cannot be forgotten here.
        use std::mem::size_of;
        let Channel {
            ssrc: _,
            state: _,
            media_timeout_after: _,
            media_timeout: _,
            wall_clock_anchor: _,
            latching: _,
            rtcp_source: _,
            rtcp,
            jitter_buffer,
            reframer: _,
            receive_clock: _,
            receive_mode: _,
            decoded,
            encoder,
            event_receiver,
            detector,
            digits,
            stream: _,
            origin: _,
            local: _,
            event_sender: _,
            outgoing_event,
            queued_digits,
            ring,
            rtcp_out,
            rtcp_pending: _,
            events,
            stats: _,
        } = self;
        let event_strings: usize = events
            .iter()
            .map(|event| match event {
                ChannelEvent::ByeReceived {
                    reason: Some(reason),
                    ..
                } => reason.capacity(),
                _ => 0,
            })
            .sum();
        rtcp.heap_bytes()
            + jitter_buffer.heap_bytes()
            + decoded.as_ref().map_or(0, |decoded| {
                size_of::<Decoded>() + decoded.decoder.heap_bytes()
            })
            + encoder.as_ref().map_or(0, codec::Encoder::heap_bytes)
            + event_receiver.heap_bytes()
            + detector.as_ref().map_or(0, |detector| {
                size_of::<DtmfDetector>() + detector.heap_bytes()
            })
            + digits.heap_bytes()
            + outgoing_event.as_ref().map_or(0, |event| {
                event.packets.capacity() * size_of::<crate::dtmf::rfc4733::TelephoneEventPacket>()
            })
            + queued_digits.capacity() * size_of::<(Digit, Duration)>()
            + ring.heap_bytes()
            + rtcp_out.capacity()
            + events.capacity() * size_of::<ChannelEvent>()
            + event_strings
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::audio::FRAME_SAMPLES;
    use crate::codec::Codec;
    use crate::dtmf::ToneGenerator;
    use crate::rtp::{RtpTimestamp, SequenceNumber};
    use crate::sdp::Direction;
    use crate::test_epoch;

    #[test]
    fn audio_from_a_plays_at_b_within_g711_error() {
        let mut call = Call::new(Codec::Pcmu, false);
        let mut played = Vec::new();
        for index in 0..60 {
            let (_, at_b) = call.tick(Some(&sawtooth(index)), None);
            played.push(at_b);
        }
        let first = played
            .iter()
            .position(|frame| *frame != SILENCE)
            .expect("audio arrives");
        assert!(first <= 10, "played after {first} ticks");
        for (index, frame) in played[first..].iter().enumerate() {
            assert_eq!(*frame, through_ulaw(&sawtooth(index)), "frame {index}");
            for (output, input) in frame.iter().zip(sawtooth(index)) {
                let error = (i32::from(*output) - i32::from(input)).abs();
                assert!(error <= i32::from(input).abs() / 16 + 8);
            }
        }
        let stats = call.b.stats();
        assert_eq!(stats.packets_received, 60);
        assert_eq!(stats.jitter_buffer.lost, 0);
        assert_eq!(call.a.stats().packets_sent, 60);
    }

    #[test]
    fn packets_carry_our_numbering_and_mark_talkspurts() {
        let now = test_epoch();
        let mut a = channel(now, 0xa, false);
        a.set_remote(now, media(B_ADDRESS, Codec::Pcma, Direction::SendRecv));
        let mut sent = Vec::new();
        for tick in [0u32, 1, 2, 8] {
            a.push_frame(now + TICK * tick, &sawtooth(0));
            sent.extend(drain(&mut a));
        }
        let headers: Vec<RtpHeader> = sent
            .iter()
            .map(|(destination, bytes)| {
                assert_eq!(*destination, B_ADDRESS);
                RtpPacket::parse(bytes).unwrap().header()
            })
            .collect();
        assert!(headers.iter().all(
            |header| header.ssrc == Ssrc::new(0xa) && header.payload_type == PayloadType::PCMA
        ));
        assert_eq!(
            headers
                .iter()
                .map(|header| header.marker)
                .collect::<Vec<_>>(),
            [true, false, false, true]
        );
        let first = headers[0];
        for (index, header) in headers.iter().enumerate() {
            assert_eq!(
                header.sequence_number,
                first.sequence_number.wrapping_add(index as u16)
            );
        }
        let offsets: Vec<u32> = headers
            .iter()
            .map(|header| header.timestamp.wrapping_sub(first.timestamp))
            .collect();
        assert_eq!(offsets, [0, 160, 320, 8 * 160]);
        let payload = RtpPacket::parse(&sent[0].1).unwrap().payload().to_vec();
        assert_eq!(payload.len(), FRAME_SAMPLES);
        assert_eq!(payload[0], g711::alaw_encode(sawtooth(0)[0]));
    }

    #[test]
    fn rfc4733_digits_are_reported_once_with_their_duration() {
        let mut call = Call::new(Codec::Pcmu, false);
        call.tick(Some(&sawtooth(0)), None);
        let now = call.now;
        call.a
            .send_digit(now, Digit::Five, Duration::from_millis(100))
            .unwrap();
        call.a
            .send_digit(now, Digit::Pound, Duration::from_millis(60))
            .unwrap();
        let mut received = Vec::new();
        for index in 1..60 {
            call.tick(Some(&sawtooth(index)), None);
            received.extend(events(&mut call.b));
        }
        assert_eq!(
            digits(&received),
            [
                (
                    Digit::Five,
                    Duration::from_millis(100),
                    DigitSource::Rfc4733
                ),
                (
                    Digit::Pound,
                    Duration::from_millis(60),
                    DigitSource::Rfc4733
                ),
            ]
        );
        // Audio is suspended while an event is sent, and both share one
        // sequence space.
        let delivered = &call.a_to_b.delivered;
        let event_type = PayloadType::TELEPHONE_EVENT_DEFAULT;
        let first_event = delivered
            .iter()
            .position(|header| header.payload_type == event_type)
            .unwrap();
        let last_event = delivered
            .iter()
            .rposition(|header| header.payload_type == event_type)
            .unwrap();
        assert!(
            delivered[first_event..=last_event]
                .iter()
                .all(|header| header.payload_type == event_type)
        );
        assert_eq!(
            delivered[first_event].timestamp,
            delivered[first_event - 1].timestamp.wrapping_add(160),
            "the event starts where the next frame would have"
        );
        for pair in delivered.windows(2) {
            assert_eq!(
                pair[1].sequence_number,
                pair[0].sequence_number.wrapping_add(1)
            );
        }
        assert!(delivered[last_event + 1].payload_type == PayloadType::PCMU);
        assert!(delivered[last_event + 1].marker);
    }

    #[test]
    fn inband_tones_through_pcmu_are_detected() {
        let mut call = Call::new(Codec::Pcmu, true);
        let mut tone = ToneGenerator::new(Digit::Seven, Duration::from_millis(100), -10.0);
        let mut received = Vec::new();
        for _ in 0..40 {
            let frame = tone.next_frame().unwrap_or(SILENCE);
            call.tick(Some(&frame), None);
            received.extend(events(&mut call.b));
        }
        let found = digits(&received);
        assert_eq!(found.len(), 1, "{found:?}");
        let (digit, duration, source) = found[0];
        assert_eq!((digit, source), (Digit::Seven, DigitSource::InBand));
        assert!(
            duration >= Duration::from_millis(80) && duration <= Duration::from_millis(120),
            "{duration:?}"
        );
    }

    #[test]
    fn a_digit_sent_both_ways_is_reported_once() {
        // A phone that sends the tone in-band and RFC 4733 events for it.
        let now = test_epoch();
        let mut b = channel(now, 0xb, true);
        b.set_remote(now, media(A_ADDRESS, Codec::Pcmu, Direction::SendRecv));
        let events_planned = TelephoneEventSender::new(8000)
            .packets(Digit::Three.event_code(), Duration::from_millis(100));
        let mut tone = ToneGenerator::new(Digit::Three, Duration::from_millis(100), -8.0);
        let mut sequence = SequenceNumber::new(1000);
        let mut received = Vec::new();
        let tone_start = 5u32;
        for index in 0..50u32 {
            let at = now + TICK * index;
            let timestamp = RtpTimestamp::new(160 * index);
            let frame = if index >= tone_start {
                tone.next_frame().unwrap_or(SILENCE)
            } else {
                SILENCE
            };
            let mut payload = [0; FRAME_SAMPLES];
            g711::encode(Codec::Pcmu, &frame, &mut payload);
            let mut datagrams = vec![rtp(
                RtpHeader {
                    marker: index == 0,
                    payload_type: PayloadType::PCMU,
                    sequence_number: sequence,
                    timestamp,
                    ssrc: Ssrc::new(77),
                },
                &payload,
            )];
            sequence = sequence.wrapping_add(1);
            for packet in &events_planned {
                if index >= tone_start && packet.send_after == TICK * (index - tone_start) {
                    datagrams.push(rtp(
                        RtpHeader {
                            marker: packet.marker,
                            payload_type: PayloadType::TELEPHONE_EVENT_DEFAULT,
                            sequence_number: sequence,
                            timestamp: RtpTimestamp::new(160 * tone_start),
                            ssrc: Ssrc::new(77),
                        },
                        &packet.payload,
                    ));
                    sequence = sequence.wrapping_add(1);
                }
            }
            for datagram in datagrams {
                assert!(b.handle_datagram(at, A_ADDRESS, &datagram).is_relayable());
            }
            b.handle_timeout(at);
            b.tick(at);
            received.extend(events(&mut b));
        }
        let found = digits(&received);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Digit::Three);
    }

    #[test]
    fn comfort_noise_is_silence_and_unknown_payload_types_are_counted() {
        let mut call = Call::new(Codec::Pcmu, false);
        for index in 0..10 {
            call.tick(Some(&sawtooth(index)), None);
        }
        let mut during_noise = Vec::new();
        for index in 0..20u16 {
            let noise = rtp(
                RtpHeader {
                    marker: index == 0,
                    payload_type: COMFORT_NOISE,
                    sequence_number: SequenceNumber::new(500 + index),
                    timestamp: RtpTimestamp::new(u32::from(index) * 160),
                    ssrc: Ssrc::new(0xa),
                },
                &[40],
            );
            call.now += TICK;
            let now = call.now;
            assert_eq!(
                call.b.handle_datagram(now, A_ADDRESS, &noise),
                Received::ComfortNoise
            );
            during_noise.push(*call.b.tick(now));
        }
        assert!(during_noise[10..].iter().all(|frame| *frame == SILENCE));
        let unknown = rtp(
            RtpHeader {
                marker: false,
                payload_type: PayloadType::new(18).unwrap(),
                sequence_number: SequenceNumber::new(1),
                timestamp: RtpTimestamp::new(0),
                ssrc: Ssrc::new(0xa),
            },
            &[0; 20],
        );
        assert_eq!(
            call.b.handle_datagram(call.now, A_ADDRESS, &unknown),
            Received::Dropped(DropReason::UnknownPayloadType)
        );
        assert_eq!(
            call.b.handle_datagram(call.now, A_ADDRESS, &[0x80, 0]),
            Received::Dropped(DropReason::Malformed)
        );
        let mut after = Vec::new();
        for index in 10..30 {
            after.push(call.tick(Some(&sawtooth(index)), None).1);
        }
        assert!(after.iter().any(|frame| *frame != SILENCE), "audio resumes");
        let stats = call.b.stats();
        assert_eq!(stats.comfort_noise_packets, 20);
        assert_eq!(stats.unknown_payload_type, 1);
        assert_eq!(stats.malformed, 1);
        assert!(events(&mut call.b).is_empty());
    }

    #[test]
    fn hold_stops_what_the_direction_forbids() {
        let mut call = Call::new(Codec::Pcmu, false);
        // A puts B on hold: A only sends (music), B only receives.
        let now = call.now;
        call.a
            .set_remote(now, media(B_ADDRESS, Codec::Pcmu, Direction::SendOnly));
        call.b
            .set_remote(now, media(A_ADDRESS, Codec::Pcmu, Direction::RecvOnly));
        let mut at_a = Vec::new();
        let mut at_b = Vec::new();
        for index in 0..30 {
            let (a, b) = call.tick(Some(&sawtooth(index)), Some(&sawtooth(index)));
            at_a.push(a);
            at_b.push(b);
        }
        assert!(at_a.iter().all(|frame| *frame == SILENCE));
        assert!(at_b.iter().any(|frame| *frame != SILENCE));
        assert!(call.b_to_a.delivered.is_empty(), "B sends nothing");
        assert_eq!(call.b.send_digit(call.now, Digit::One, TICK * 5), Ok(()));
        call.tick(None, None);
        assert!(call.b_to_a.delivered.is_empty(), "not even digits");

        // Inactive both ways: no RTP, but RTCP goes on (RFC 3264 §5.1).
        let now = call.now;
        call.a
            .set_remote(now, media(B_ADDRESS, Codec::Pcmu, Direction::Inactive));
        call.b
            .set_remote(now, media(A_ADDRESS, Codec::Pcmu, Direction::Inactive));
        let sent_before = call.a.stats().packets_sent;
        for index in 0..600 {
            call.tick(Some(&sawtooth(index)), Some(&sawtooth(index)));
        }
        assert_eq!(call.a.stats().packets_sent, sent_before);
        assert!(call.b.stats().rtcp_received > 0);
        assert!(call.a.stats().rtcp_received > 0);
        // Receiving while not supposed to: dropped and counted.
        let stray = rtp(
            RtpHeader {
                marker: false,
                payload_type: PayloadType::PCMU,
                sequence_number: SequenceNumber::new(9),
                timestamp: RtpTimestamp::new(9),
                ssrc: Ssrc::new(0xb),
            },
            &[0xff; 160],
        );
        assert_eq!(
            call.a.handle_datagram(call.now, B_ADDRESS, &stray),
            Received::Dropped(DropReason::Direction)
        );
    }

    #[test]
    fn latching_follows_a_persistent_source_and_ignores_strays() {
        let now = test_epoch();
        let mut b = channel(now, 0xb, false);
        // An old-style hold address in SDP: no remote until one latches.
        b.set_remote(
            now,
            media(
                SocketAddr::from(([0, 0, 0, 0], 0)),
                Codec::Pcmu,
                Direction::SendRecv,
            ),
        );
        let nat = address(99, 30_000);
        let stray = address(66, 9);
        let packet = |sequence: u16| {
            rtp(
                RtpHeader {
                    marker: false,
                    payload_type: PayloadType::PCMU,
                    sequence_number: SequenceNumber::new(sequence),
                    timestamp: RtpTimestamp::new(u32::from(sequence) * 160),
                    ssrc: Ssrc::new(5),
                },
                &[0xff; 160],
            )
        };
        assert_eq!(b.remote(), None);
        assert_eq!(
            b.handle_datagram(now, nat, &packet(1)),
            Received::Dropped(DropReason::UnlatchedSource)
        );
        assert_eq!(
            b.handle_datagram(now, nat, &packet(2)),
            Received::Dropped(DropReason::UnlatchedSource)
        );
        assert_eq!(b.handle_datagram(now, nat, &packet(3)), Received::Audio);
        assert_eq!(
            events(&mut b),
            [ChannelEvent::RemoteLatched {
                address: nat,
                previous: None
            }]
        );
        // Strays interleaved with the real remote never take over.
        for sequence in 4..20 {
            let from = if sequence % 2 == 0 { stray } else { nat };
            let verdict = b.handle_datagram(now, from, &packet(sequence));
            assert_eq!(verdict == Received::Audio, from == nat);
        }
        assert_eq!(b.remote(), Some(nat));
        // Nor can a stray end the session with an RTCP BYE.
        let mut other = channel(now, 0x5, false);
        other.set_remote(now, media(B_ADDRESS, Codec::Pcmu, Direction::SendRecv));
        let bye = other.close(now).unwrap().bytes.to_vec();
        assert_eq!(
            b.handle_datagram(now, stray, &bye),
            Received::Dropped(DropReason::UnlatchedSource)
        );
        assert!(events(&mut b).is_empty());
        assert_eq!(b.stats().ignored_source, 2 + 8 + 1);
        b.push_frame(now, &SILENCE);
        assert_eq!(
            b.poll_transmit().map(|transmit| transmit.destination),
            Some(nat)
        );
    }

    #[test]
    fn media_timeout_fires_once_per_silence() {
        let start = test_epoch();
        let mut b = channel(start, 0xb, false);
        b.set_remote(start, media(A_ADDRESS, Codec::Pcmu, Direction::SendRecv));
        let mut now = start;
        let mut timeouts = Vec::new();
        let mut run_until = |b: &mut Channel, now: &mut Instant, end: Instant| {
            while let Some(deadline) = b.poll_timeout().filter(|deadline| *deadline <= end) {
                *now = deadline.max(*now);
                b.handle_timeout(*now);
                for event in events(b) {
                    if let ChannelEvent::MediaTimeout { silent_for } = event {
                        timeouts.push((*now - start, silent_for));
                    }
                }
                drain(b);
            }
            *now = end;
        };
        run_until(&mut b, &mut now, start + Duration::from_secs(100));
        let packet = rtp(
            RtpHeader {
                marker: true,
                payload_type: PayloadType::PCMU,
                sequence_number: SequenceNumber::new(1),
                timestamp: RtpTimestamp::new(0),
                ssrc: Ssrc::new(0xa),
            },
            &[0xff; 160],
        );
        b.handle_datagram(now, A_ADDRESS, &packet);
        run_until(&mut b, &mut now, start + Duration::from_secs(200));
        let thirty = Duration::from_secs(30);
        assert_eq!(
            timeouts,
            [(thirty, thirty), (Duration::from_secs(130), thirty)]
        );

        // Not while we do not receive.
        let mut held = channel(start, 0xc, false);
        held.set_remote(start, media(A_ADDRESS, Codec::Pcmu, Direction::SendOnly));
        let mut now = start;
        let mut fired = 0;
        while let Some(deadline) = held
            .poll_timeout()
            .filter(|deadline| *deadline <= start + Duration::from_secs(100))
        {
            now = deadline.max(now);
            held.handle_timeout(now);
            fired += events(&mut held)
                .iter()
                .filter(|event| matches!(event, ChannelEvent::MediaTimeout { .. }))
                .count();
        }
        assert_eq!(fired, 0);
    }

    #[test]
    fn rtcp_reports_flow_both_ways_and_show_seeded_loss() {
        let mut call = Call::new(Codec::Pcmu, false);
        call.a_to_b = Link::new(42, 10, 5);
        call.b_to_a = Link::new(43, 0, 0);
        for index in 0..750 {
            call.tick(Some(&sawtooth(index)), Some(&sawtooth(index)));
        }
        let (a, b) = (call.a.stats(), call.b.stats());
        assert!(a.rtcp_received >= 2 && b.rtcp_received >= 2, "{a:?} {b:?}");
        assert!(a.rtcp_sent >= 2 && b.rtcp_sent >= 2);
        // B measures the loss, A learns it from B's receiver reports.
        assert!(b.quality.packets_lost > 30, "{:?}", b.quality);
        assert!(b.jitter_buffer.lost > 30);
        assert!(b.jitter_buffer.concealed > 30);
        assert!(b.quality.packets_received < 700);
        assert!(a.quality.remote_packets_lost.unwrap() > 0);
        assert_eq!(a.quality.packets_lost, 0);
        assert!(a.quality.round_trip_time_ms.is_some());
        assert!(b.quality.round_trip_time_ms.is_some());
        assert_eq!(a.packets_sent, 750);
    }

    #[test]
    fn close_sends_a_bye_the_other_side_reports() {
        let mut call = Call::new(Codec::Pcmu, false);
        call.tick(Some(&sawtooth(0)), Some(&sawtooth(0)));
        let now = call.now;
        let bye = call.a.close(now).expect("a BYE to send");
        assert_eq!((bye.destination, bye.socket), (B_ADDRESS, LocalSocket::Rtp));
        let bye = bye.bytes.to_vec();
        assert!(call.a.close(now).is_none());
        assert_eq!(call.b.handle_datagram(now, A_ADDRESS, &bye), Received::Rtcp);
        assert_eq!(
            events(&mut call.b),
            [ChannelEvent::ByeReceived {
                ssrc: Ssrc::new(0xa),
                reason: None,
            }]
        );
        assert_eq!(call.a.poll_timeout(), None);
        call.a.push_frame(now, &sawtooth(1));
        assert!(call.a.poll_transmit().is_none());
        assert_eq!(
            call.a.handle_datagram(now, B_ADDRESS, &bye),
            Received::Dropped(DropReason::Closed)
        );
    }

    #[test]
    fn the_transmit_ring_is_bounded_and_reused() {
        let now = test_epoch();
        let mut a = channel(now, 0xa, false);
        a.set_remote(now, media(B_ADDRESS, Codec::Pcmu, Direction::SendRecv));
        for index in 0..RING_SLOTS + 4 {
            a.push_frame(now + TICK * index as u32, &sawtooth(index));
        }
        assert_eq!(a.stats().transmit_queue_full, 4);
        assert_eq!(drain(&mut a).len(), RING_SLOTS);
        // Drained every tick, the same buffers carry the stream forever.
        for index in 0..1000u32 {
            a.push_frame(now + TICK * (100 + index), &sawtooth(0));
            assert_eq!(drain(&mut a).len(), 1);
        }
        assert_eq!(a.stats().transmit_queue_full, 4);
    }

    /// What a relaying leg may own, itself and on the heap: the regression
    /// bound of the "64 KiB per call" target (two legs, their engine slots
    /// and sockets). Measured: about 1.4 KiB inline and 3 KiB of buffers.
    const RELAYING_FOOTPRINT_BUDGET: usize = 6 * 1024;

    /// A digit's telephone-event packets as phone X sends them, from
    /// sequence number `sequence` on, starting at timestamp `timestamp`.
    fn digit_packets(digit: Digit, sequence: u16, timestamp: u32) -> Vec<(Duration, Vec<u8>)> {
        TelephoneEventSender::new(8000)
            .packets(digit.event_code(), Duration::from_millis(100))
            .iter()
            .zip(0u16..)
            .map(|(packet, index)| {
                let header = RtpHeader {
                    marker: packet.marker,
                    payload_type: PayloadType::TELEPHONE_EVENT_DEFAULT,
                    sequence_number: SequenceNumber::new(sequence.wrapping_add(index)),
                    timestamp: RtpTimestamp::new(timestamp),
                    ssrc: Ssrc::new(0x77),
                };
                (packet.send_after, rtp(header, &packet.payload))
            })
            .collect()
    }

    #[test]
    fn relaying_channel_stays_small() {
        // Two legs as a media worker holds them, relaying five seconds of
        // a call both ways (transcoding, a digit, RTCP reports).
        let start = test_epoch();
        let (x_address, y_address) = (address(10, 6000), address(20, 7000));
        let mut a = channel(start, 0xa, false);
        let mut b = channel(start, 0xb, false);
        a.set_receive_mode(ReceiveMode::Relay);
        b.set_receive_mode(ReceiveMode::Relay);
        a.set_remote(start, media(x_address, Codec::Pcmu, Direction::SendRecv));
        b.set_remote(start, media(y_address, Codec::Pcma, Direction::SendRecv));
        let mut digit = digit_packets(Digit::Five, 5000, 160 * 100);
        let digit_packet_count = digit.len() as u64;
        let mut now = start;
        for index in 0..250u16 {
            now += TICK;
            let audio = |codec: Codec| {
                let header = RtpHeader {
                    marker: index == 0,
                    payload_type: codec.payload_type(),
                    sequence_number: SequenceNumber::new(index),
                    timestamp: RtpTimestamp::new(160 * u32::from(index)),
                    ssrc: Ssrc::new(0x77),
                };
                rtp(header, &[0x55; 160])
            };
            let mut from_x = vec![audio(Codec::Pcmu)];
            if index >= 100 {
                let due = TICK * u32::from(index - 100);
                from_x.extend(
                    digit
                        .extract_if(.., |(after, _)| *after <= due)
                        .map(|(_, bytes)| bytes),
                );
            }
            for datagram in &from_x {
                if let (_, Some(packet)) = a.handle_datagram_to_relay(now, x_address, datagram) {
                    let _ = b.relay(now, &packet);
                }
            }
            if let (_, Some(packet)) =
                b.handle_datagram_to_relay(now, y_address, &audio(Codec::Pcma))
            {
                a.relay(now, &packet).unwrap();
            }
            for leg in [&mut a, &mut b] {
                leg.handle_timeout(now);
                assert_eq!(leg.tick(now), &SILENCE);
                drain(leg);
                events(leg);
            }
        }
        assert!(digit.is_empty());
        assert_eq!(b.stats().relayed, 250 + digit_packet_count);
        assert!(a.stats().rtcp_sent > 0 && b.stats().rtcp_sent > 0);
        for leg in [&a, &b] {
            assert_eq!(leg.jitter_buffer.heap_bytes(), 0, "no jitter buffer ring");
            assert!(leg.decoded.is_none(), "no decoded frames");
            let footprint = std::mem::size_of::<Channel>() + leg.heap_bytes();
            assert!(
                footprint <= RELAYING_FOOTPRINT_BUDGET,
                "a relaying leg takes {} bytes inline and {} on the heap",
                std::mem::size_of::<Channel>(),
                leg.heap_bytes()
            );
        }
        // A minute more of relaying one way allocates nothing more (only
        // the RTCP report buffer may change size, as reports do).
        let before = (a.heap_bytes(), b.heap_bytes());
        for index in 250..3250u32 {
            now += TICK;
            let header = RtpHeader {
                marker: false,
                payload_type: PayloadType::PCMU,
                sequence_number: SequenceNumber::new(index as u16),
                timestamp: RtpTimestamp::new(160 * index),
                ssrc: Ssrc::new(0x77),
            };
            let datagram = rtp(header, &[0x55; 160]);
            if let (_, Some(packet)) = a.handle_datagram_to_relay(now, x_address, &datagram) {
                b.relay(now, &packet).unwrap();
            }
            a.handle_timeout(now);
            b.handle_timeout(now);
            drain(&mut a);
            drain(&mut b);
        }
        assert!(a.heap_bytes() <= before.0 && b.heap_bytes() <= before.1);
    }

    #[test]
    fn a_decoding_channel_allocates_its_buffers_once_when_audio_arrives() {
        let mut call = Call::new(Codec::Pcmu, false);
        let idle = call.b.heap_bytes();
        assert_eq!(call.b.jitter_buffer.heap_bytes(), 0);
        // Ticks before any audio decode nothing.
        call.tick(None, None);
        assert_eq!(call.b.heap_bytes(), idle);
        let mut played = Vec::new();
        for index in 0..10 {
            played.push(call.tick(Some(&sawtooth(index)), None).1);
        }
        assert!(played.iter().any(|frame| *frame != SILENCE));
        assert!(call.b.heap_bytes() >= idle + 32 * crate::jitter_buffer::MAX_PAYLOAD_BYTES);
        assert!(call.b.decoded.is_some());
        // Past the first RTCP reports (a report is a new buffer), the
        // steady state allocates nothing.
        for index in 10..500 {
            call.tick(Some(&sawtooth(index)), None);
        }
        let decoding = call.b.heap_bytes();
        for index in 500..1500 {
            call.tick(Some(&sawtooth(index)), None);
        }
        assert_eq!(call.b.heap_bytes(), decoding);
    }

    #[test]
    fn nothing_flows_before_negotiation_and_digits_need_telephone_events() {
        let now = test_epoch();
        let mut a = channel(now, 0xa, false);
        let packet = rtp(
            RtpHeader {
                marker: false,
                payload_type: PayloadType::PCMU,
                sequence_number: SequenceNumber::new(1),
                timestamp: RtpTimestamp::new(0),
                ssrc: Ssrc::new(1),
            },
            &[0xff; 160],
        );
        assert_eq!(
            a.handle_datagram(now, B_ADDRESS, &packet),
            Received::Dropped(DropReason::NotNegotiated)
        );
        assert_eq!(
            a.send_digit(now, Digit::One, TICK),
            Err(SendDigitError::NotNegotiated)
        );
        a.push_frame(now, &SILENCE);
        assert!(a.poll_transmit().is_none());
        assert_eq!(a.tick(now), &SILENCE);
        let mut no_events = media(B_ADDRESS, Codec::Pcmu, Direction::SendRecv);
        no_events.telephone_event = None;
        a.set_remote(now, no_events);
        assert_eq!(
            a.send_digit(now, Digit::One, TICK),
            Err(SendDigitError::NotNegotiated)
        );
    }

    #[test]
    fn rtcp_without_mux_uses_the_rtcp_ports() {
        let now = test_epoch();
        let (a_rtcp, b_rtcp) = (address(1, 4001), address(2, 5001));
        let mut a = channel(now, 0xa, false);
        let mut b = channel(now, 0xb, false);
        let mut toward_b = media(B_ADDRESS, Codec::Pcmu, Direction::SendRecv);
        toward_b.rtcp_mux = false;
        toward_b.remote_rtcp = b_rtcp;
        let mut toward_a = media(A_ADDRESS, Codec::Pcmu, Direction::SendRecv);
        toward_a.rtcp_mux = false;
        toward_a.remote_rtcp = a_rtcp;
        a.set_remote(now, toward_b);
        b.set_remote(now, toward_a);
        let later = now + Duration::from_secs(10);
        a.handle_timeout(later);
        let report = a.poll_transmit().expect("a report is due");
        assert_eq!(
            (report.destination, report.socket),
            (b_rtcp, LocalSocket::Rtcp)
        );
        let report = report.bytes.to_vec();
        assert_eq!(
            b.handle_rtcp_datagram(later, a_rtcp, &report),
            Received::Rtcp
        );
        assert_eq!(
            b.handle_rtcp_datagram(later, address(66, 1), &report),
            Received::Dropped(DropReason::UnlatchedSource)
        );
        // B answers where A's RTCP came from.
        b.handle_timeout(later);
        let answer = b.poll_transmit().expect("a report is due");
        assert_eq!(
            (answer.destination, answer.socket),
            (a_rtcp, LocalSocket::Rtcp)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Over a lossy, reordering link, digits still arrive once each and
        /// in order, and the counters add up.
        #[test]
        fn digits_survive_seeded_loss_and_reordering(
            seed in proptest::prelude::any::<u64>(),
            loss_percent in 0u64..15,
            reorder_percent in 0u64..20,
        ) {
            let mut call = Call::new(Codec::Pcma, false);
            call.a_to_b = Link::new(seed, loss_percent, reorder_percent);
            call.b_to_a = Link::new(seed ^ 1, loss_percent, reorder_percent);
            let mut received = Vec::new();
            for index in 0..150 {
                if index == 10 {
                    for digit in [Digit::One, Digit::Pound, Digit::One] {
                        call.a.send_digit(call.now, digit, Duration::from_millis(100)).unwrap();
                    }
                }
                call.tick(Some(&sawtooth(index)), Some(&sawtooth(index)));
                received.extend(events(&mut call.b));
            }
            let found: Vec<Digit> = digits(&received).iter().map(|(digit, ..)| *digit).collect();
            proptest::prop_assert_eq!(found, vec![Digit::One, Digit::Pound, Digit::One]);
            let stats = call.b.stats();
            proptest::prop_assert!(stats.packets_received <= call.a.stats().packets_sent);
            proptest::prop_assert_eq!(stats.malformed + stats.unknown_payload_type, 0);
        }
    }

    /// A G.722 phone's packets (coded at 16 kHz, as a phone does) are
    /// decoded to the 8 kHz tick; what we send back decodes at the phone
    /// as the same tone; and G.722 is not relayed into a G.711 leg.
    #[test]
    fn a_g722_leg_is_decoded_and_encoded_and_not_relayed_to_g711() {
        use audio_codec::g722::{Bitrate, G722Decoder, G722Encoder};
        use audio_codec::{Decoder as _, Encoder as _};
        let start = test_epoch();
        let phone = address(30, 6000);
        let mut leg = channel(start, 7, false);
        leg.set_remote(start, media(phone, Codec::G722, Direction::SendRecv));
        let mut phone_encoder = G722Encoder::with_options(Bitrate::Mode1_64000, false, false);
        let mut phone_decoder = G722Decoder::with_options(Bitrate::Mode1_64000, false, false);
        let mut heard = Vec::new();
        let mut at_phone = Vec::new();
        let mut other = channel(start, 8, false);
        other.set_remote(
            start,
            media(address(31, 6002), Codec::Pcmu, Direction::SendRecv),
        );
        for index in 0..50u16 {
            let now = start + TICK * u32::from(index);
            let wide: Vec<i16> = (0..2 * FRAME_SAMPLES)
                .map(|n| {
                    let t = (usize::from(index) * 2 * FRAME_SAMPLES + n) as f64 / 16_000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
                })
                .collect();
            let mut payload = [0u8; FRAME_SAMPLES];
            phone_encoder.encode_into(&wide, &mut payload).unwrap();
            let header = RtpHeader {
                marker: index == 0,
                payload_type: Codec::G722.payload_type(),
                sequence_number: SequenceNumber::new(index),
                timestamp: RtpTimestamp::new(u32::from(index) * 160),
                ssrc: Ssrc::new(0x0722_0722),
            };
            let datagram = rtp(header, &payload);
            let (received, relayable) = leg.handle_datagram_to_relay(now, phone, &datagram);
            assert_eq!(received, Received::Audio);
            let packet = relayable.expect("audio is relayable in principle");
            assert_eq!(other.relay(now, &packet), Err(DropReason::NotRelayable));
            heard.extend_from_slice(leg.tick(now));
            let tone: Frame = std::array::from_fn(|n| {
                let t = (usize::from(index) * FRAME_SAMPLES + n) as f64 / 8000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
            });
            leg.push_frame(now, &tone);
            for (_, bytes) in drain(&mut leg) {
                if let Ok(packet) = RtpPacket::parse(&bytes)
                    && packet.header().payload_type == Codec::G722.payload_type()
                {
                    let mut out = [0i16; 2 * FRAME_SAMPLES];
                    let written = phone_decoder
                        .decode_into(packet.payload(), &mut out)
                        .unwrap();
                    at_phone.extend_from_slice(&out[..written]);
                }
            }
        }
        let settled = &heard[heard.len() / 2..];
        assert!(
            power(settled, 8000.0, 1000.0) > 0.01,
            "the leg did not decode the tone"
        );
        assert!(power(settled, 8000.0, 2500.0) < power(settled, 8000.0, 1000.0) / 100.0);
        let settled = &at_phone[at_phone.len() / 2..];
        assert!(
            power(settled, 16_000.0, 1000.0) > 0.005,
            "the phone did not hear the tone"
        );
    }

    /// An Opus phone at 48 kHz: its packets (one lost) are decoded to a
    /// tone, ours carry 48 kHz timestamps and decode to ours, digits go
    /// out on the 48 kHz event clock, and only another Opus leg takes its
    /// packets as they are.
    #[cfg(feature = "opus")]
    #[test]
    fn an_opus_leg_runs_a_48khz_clock_and_is_relayed_only_to_opus() {
        let start = test_epoch();
        let phone = address(32, 6004);
        let mut leg = channel(start, 9, false);
        leg.set_remote(start, media(phone, Codec::Opus, Direction::SendRecv));
        let mut other_opus = channel(start, 10, false);
        other_opus.set_remote(
            start,
            media(address(33, 6006), Codec::Opus, Direction::SendRecv),
        );
        let mut other_pcmu = channel(start, 11, false);
        other_pcmu.set_remote(
            start,
            media(address(34, 6008), Codec::Pcmu, Direction::SendRecv),
        );
        let mut phone_encoder =
            ::opus::Encoder::new(48_000, ::opus::Channels::Mono, ::opus::Application::Voip)
                .unwrap();
        let mut phone_decoder = ::opus::Decoder::new(48_000, ::opus::Channels::Mono).unwrap();
        let first_timestamp = u32::MAX - 20 * 960;
        let (mut heard, mut at_phone, mut sent) = (Vec::new(), Vec::new(), Vec::new());
        for index in 0..60u16 {
            let now = start + TICK * u32::from(index);
            let wide: Vec<i16> = (0..960)
                .map(|n| {
                    let t = (usize::from(index) * 960 + n) as f64 / 48_000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16
                })
                .collect();
            let mut payload = [0u8; 400];
            let length = phone_encoder.encode(&wide, &mut payload).unwrap();
            let header = RtpHeader {
                marker: index == 0,
                payload_type: Codec::Opus.payload_type(),
                sequence_number: SequenceNumber::new(index),
                timestamp: RtpTimestamp::new(first_timestamp.wrapping_add(u32::from(index) * 960)),
                ssrc: Ssrc::new(0x0b05_0b05),
            };
            if index != 40 {
                let datagram = rtp(header, &payload[..length]);
                let (received, relayable) = leg.handle_datagram_to_relay(now, phone, &datagram);
                assert_eq!(received, Received::Audio);
                let packet = relayable.expect("audio is relayable in principle");
                assert_eq!(
                    other_pcmu.relay(now, &packet),
                    Err(DropReason::NotRelayable)
                );
                other_opus.relay(now, &packet).expect("Opus to Opus relays");
                let relayed = drain(&mut other_opus);
                let relayed = RtpPacket::parse(&relayed[0].1).unwrap();
                assert_eq!(relayed.payload(), &payload[..length], "untouched");
            }
            heard.extend_from_slice(leg.tick(now));
            let tone: Frame = std::array::from_fn(|n| {
                let t = (usize::from(index) * FRAME_SAMPLES + n) as f64 / 8000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * 600.0 * t).sin()) as i16
            });
            leg.push_frame(now, &tone);
            for (_, bytes) in drain(&mut leg) {
                if let Ok(packet) = RtpPacket::parse(&bytes)
                    && packet.header().payload_type == Codec::Opus.payload_type()
                {
                    sent.push(packet.header());
                    let mut out = [0i16; 960];
                    let written = phone_decoder
                        .decode(packet.payload(), &mut out, false)
                        .unwrap();
                    assert_eq!(written, 960, "20 ms at 48 kHz");
                    at_phone.extend_from_slice(&out[..written]);
                }
            }
        }
        let settled = &heard[heard.len() / 2..];
        assert!(
            power(settled, 8000.0, 1000.0) > 0.01,
            "the leg did not decode the tone through the loss"
        );
        assert!(power(settled, 8000.0, 2500.0) < power(settled, 8000.0, 1000.0) / 100.0);
        assert_eq!(leg.stats().jitter_buffer.lost, 1, "the lost packet");
        let settled = &at_phone[at_phone.len() / 2..];
        assert!(
            power(settled, 48_000.0, 600.0) > 0.01,
            "the phone did not hear our tone"
        );
        assert!(sent.len() >= 55, "{} packets", sent.len());
        assert!(sent[0].marker);
        for pair in sent.windows(2) {
            assert_eq!(pair[1].timestamp.wrapping_sub(pair[0].timestamp), 960);
            assert_eq!(
                pair[1]
                    .sequence_number
                    .wrapping_sub(pair[0].sequence_number),
                1
            );
        }

        // A digit's duration is counted on the 48 kHz event clock.
        let now = start + TICK * 60;
        leg.send_digit(now, Digit::Five, Duration::from_millis(100))
            .unwrap();
        let mut last_duration = 0;
        for step in 0..12u32 {
            leg.handle_timeout(now + TICK * step);
            for (_, bytes) in drain(&mut leg) {
                let packet = RtpPacket::parse(&bytes).unwrap();
                if Some(packet.header().payload_type) == leg.media().unwrap().telephone_event {
                    last_duration = u16::from_be_bytes([packet.payload()[2], packet.payload()[3]]);
                }
            }
        }
        assert_eq!(last_duration, 4800, "100 ms at 48 kHz");
    }

    /// A re-INVITE from PCMU to Opus and back: each codec's frames carry
    /// its own clock's steps, a talkspurt starts at each change, and the
    /// sequence runs on.
    #[cfg(feature = "opus")]
    #[test]
    fn a_codec_change_mid_call_moves_the_stream_to_the_new_clock() {
        let start = test_epoch();
        let phone = address(35, 6010);
        let mut leg = channel(start, 12, false);
        let mut sent = Vec::new();
        let mut tick = 0u32;
        for codec in [Codec::Pcmu, Codec::Opus, Codec::Pcmu] {
            leg.set_remote(
                start + TICK * tick,
                media(phone, codec, Direction::SendRecv),
            );
            for _ in 0..5 {
                leg.push_frame(start + TICK * tick, &sawtooth(tick as usize));
                tick += 1;
            }
            for (_, bytes) in drain(&mut leg) {
                sent.push(RtpPacket::parse(&bytes).unwrap().header());
            }
        }
        assert_eq!(sent.len(), 15);
        for (index, pair) in sent.windows(2).enumerate() {
            let second = index + 1;
            assert_eq!(
                pair[1]
                    .sequence_number
                    .wrapping_sub(pair[0].sequence_number),
                1
            );
            let step = pair[1].timestamp.wrapping_sub(pair[0].timestamp);
            match second {
                5 | 10 => assert!(pair[1].marker, "a new talkspurt at {second}"),
                1..=4 => assert_eq!(step, 160),
                6..=9 => assert_eq!(step, 960),
                _ => assert_eq!(step, 160),
            }
        }
        assert_eq!(sent[5].payload_type, Codec::Opus.payload_type());
        assert_eq!(sent[10].payload_type, Codec::Pcmu.payload_type());
    }

    /// A timeout that fired while the call rang counts again from the
    /// answer.
    #[test]
    fn a_restarted_media_timeout_fires_again_from_the_restart() {
        let start = test_epoch();
        let mut b = channel(start, 0xb, false);
        b.set_remote(start, media(A_ADDRESS, Codec::Pcmu, Direction::SendRecv));
        let fired = |b: &mut Channel| {
            events(b)
                .iter()
                .filter(|event| matches!(event, ChannelEvent::MediaTimeout { .. }))
                .count()
        };
        let rang = start + Duration::from_secs(31);
        b.handle_timeout(rang);
        assert_eq!(fired(&mut b), 1);
        // Fired once: nothing more until a packet or a restart.
        b.handle_timeout(start + Duration::from_secs(90));
        assert_eq!(fired(&mut b), 0);
        let answered = start + Duration::from_secs(100);
        b.restart_media_timeout(answered);
        b.handle_timeout(answered + Duration::from_secs(29));
        assert_eq!(fired(&mut b), 0);
        b.handle_timeout(answered + Duration::from_secs(30));
        assert_eq!(fired(&mut b), 1);
    }
}
