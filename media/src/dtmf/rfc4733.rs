//! RFC 4733 telephone-events (DTMF digits in RTP), received and sent.
//!
//! The payload (§2.3):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! A sender (§2.5.1) sends a start packet with the marker bit, updates
//! every packet interval with the same RTP timestamp and a growing
//! duration, and three end packets (E bit) with the final duration. An
//! event longer than 0xFFFF timestamp units is split into segments whose
//! timestamps advance by 0xFFFF (§2.5.1.3).
//!
//! The receiver reports each event once, when it ends:
//!
//! ```text
//!          packet (new timestamp, not already reported)
//!   Idle ─────────────────────────────────────────────► InEvent
//!    ▲   ◄── end packet / update timeout / newer event ──┘ │ updates,
//!    │                                                     │ next segment
//!    └─ packets of events already reported are dropped     ┘
//! ```
//!
//! Events are raw event codes (§3.2: 0-9, 10 `*`, 11 `#`, 12-15 A-D,
//! 16 flash); [`event_char`] names the digits.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rtp::RtpTimestamp;

/// Event code of a hook flash (RFC 4733 §3.2).
pub const EVENT_FLASH: u8 = 16;

/// The largest duration one segment reports (§2.5.1.3).
const MAX_SEGMENT_DURATION: u16 = 0xffff;

/// How long an event whose updates stopped stays open by default: ten
/// times the usual 50 ms update interval.
pub const DEFAULT_EVENT_TIMEOUT: Duration = Duration::from_millis(500);

/// How many reported events (segments) are remembered to drop their late
/// and redundant packets.
const REMEMBERED_EVENTS: usize = 32;

/// The DTMF character of a digit event code (0-15), `None` for other
/// events.
pub fn event_char(event: u8) -> Option<char> {
    b"0123456789*#ABCD"
        .get(usize::from(event))
        .map(|&byte| char::from(byte))
}

/// The event code of a DTMF character (`0`-`9`, `*`, `#`, `A`-`D`, any
/// case).
pub fn event_of_char(character: char) -> Option<u8> {
    let upper = character.to_ascii_uppercase();
    b"0123456789*#ABCD"
        .iter()
        .position(|&byte| char::from(byte) == upper)
        .map(|position| position as u8)
}

/// Why a telephone-event payload does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rfc4733ParseError {
    /// Shorter than the 4 bytes of one event.
    #[error("telephone-event payload truncated: {0} bytes")]
    Truncated(usize),
}

/// One telephone-event payload (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventPayload {
    /// The event code.
    pub event: u8,
    /// The E bit: this is an end packet.
    pub end: bool,
    /// Power level in -dBm0, 0-63.
    pub volume: u8,
    /// Duration so far in timestamp units, from the packet's timestamp.
    pub duration: u16,
}

impl TelephoneEventPayload {
    /// Parses the first event of `payload`; trailing bytes are ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, Rfc4733ParseError> {
        let &[event, flags, high, low, ..] = payload else {
            return Err(Rfc4733ParseError::Truncated(payload.len()));
        };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([high, low]),
        })
    }

    /// The 4 bytes on the wire (R bit clear, volume masked to 6 bits).
    pub fn to_bytes(self) -> [u8; 4] {
        let [high, low] = self.duration.to_be_bytes();
        let end = if self.end { 0x80 } else { 0 };
        [self.event, end | (self.volume & 0x3f), high, low]
    }
}

/// How a reported event was found to be over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventEnding {
    /// An end packet (E bit) arrived.
    EndPacket,
    /// No packet of the event arrived for the receiver's timeout.
    Timeout,
    /// A newer event started before the end of this one was received.
    NextEvent,
}

/// A telephone-event, reported once when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitReceived {
    /// The event code (see [`event_char`]).
    pub event: u8,
    /// RTP timestamp of the event's start.
    pub timestamp: RtpTimestamp,
    /// Duration in timestamp units, over all segments.
    pub duration_samples: u64,
    /// The same duration at the receiver's clock rate.
    pub duration: Duration,
    /// Power level in -dBm0 of the last packet.
    pub volume: u8,
    /// What ended it.
    pub ending: EventEnding,
}

/// The event being received.
#[derive(Debug, Clone)]
struct EventInProgress {
    event: u8,
    start: RtpTimestamp,
    /// Timestamps of the segments so far; the last is the current one.
    segments: Vec<RtpTimestamp>,
    /// Duration of the segments before the current one.
    earlier_segments_duration: u64,
    segment_duration: u16,
    volume: u8,
    last_packet_at: Instant,
}

/// Receiver state.
#[derive(Debug, Clone)]
enum ReceiverState {
    Idle,
    InEvent(EventInProgress),
}

/// Turns received telephone-event packets into one [`DigitReceived`] per
/// event, sans-IO.
#[derive(Debug, Clone)]
pub struct TelephoneEventReceiver {
    clock_rate: u32,
    timeout: Duration,
    state: ReceiverState,
    /// (segment timestamp, event) of events already reported.
    reported: VecDeque<(RtpTimestamp, u8)>,
    events: VecDeque<DigitReceived>,
}

impl TelephoneEventReceiver {
    /// A receiver for telephone-events clocked at `clock_rate` Hz (the
    /// `a=rtpmap` rate, 8000 with G.711).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            timeout: DEFAULT_EVENT_TIMEOUT,
            state: ReceiverState::Idle,
            // Allocated with the first event: most calls have none.
            reported: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Ends an event whose packets stop for `timeout` (lost end packets).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Handles the payload of a telephone-event RTP packet with
    /// `timestamp` and `marker`, received at `now`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        timestamp: RtpTimestamp,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), Rfc4733ParseError> {
        let packet = TelephoneEventPayload::parse(payload)?;
        if self.reported.contains(&(timestamp, packet.event)) {
            // A redundant end packet, or a late packet of a reported event.
            return Ok(());
        }
        let state = std::mem::replace(&mut self.state, ReceiverState::Idle);
        let ReceiverState::InEvent(mut current) = state else {
            self.start(now, timestamp, packet);
            return Ok(());
        };
        let segment = *current
            .segments
            .last()
            .expect("an event has at least one segment");
        let ahead = timestamp.wrapping_sub(segment);
        if packet.event == current.event && ahead == 0 {
            current.segment_duration = current.segment_duration.max(packet.duration);
            current.volume = packet.volume;
            current.last_packet_at = now;
            self.continue_or_finish(current, packet.end);
        } else if packet.event == current.event
            && !marker
            && ahead == u32::from(MAX_SEGMENT_DURATION)
        {
            // §2.5.1.3: the next segment of a long event.
            current.earlier_segments_duration += u64::from(ahead);
            current.segments.push(timestamp);
            current.segment_duration = packet.duration;
            current.volume = packet.volume;
            current.last_packet_at = now;
            self.continue_or_finish(current, packet.end);
        } else if (ahead as i32) < 0 && current.segments.contains(&timestamp) {
            // A late packet of an earlier segment of this event.
            self.state = ReceiverState::InEvent(current);
        } else if (ahead as i32) < 0 {
            // An older event we never saw, reordered behind this one: all
            // we will learn of it is here.
            self.state = ReceiverState::InEvent(current);
            let ending = if packet.end {
                EventEnding::EndPacket
            } else {
                EventEnding::NextEvent
            };
            self.report_alone(timestamp, packet, ending);
        } else {
            self.finish(current, EventEnding::NextEvent);
            self.start(now, timestamp, packet);
        }
        Ok(())
    }

    /// Ends an event whose packets stopped arriving, if its timeout is past
    /// at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            let ReceiverState::InEvent(current) =
                std::mem::replace(&mut self.state, ReceiverState::Idle)
            else {
                return;
            };
            self.finish(current, EventEnding::Timeout);
        }
    }

    /// When an event in progress times out, if one is.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            ReceiverState::Idle => None,
            ReceiverState::InEvent(current) => Some(current.last_packet_at + self.timeout),
        }
    }

    /// The next event that ended.
    pub fn poll_event(&mut self) -> Option<DigitReceived> {
        self.events.pop_front()
    }

    /// Bytes it allocated: the events remembered and queued, the segments
    /// of the event in progress.
    pub(crate) fn heap_bytes(&self) -> usize {
        let segments = match &self.state {
            ReceiverState::Idle => 0,
            ReceiverState::InEvent(current) => {
                current.segments.capacity() * std::mem::size_of::<RtpTimestamp>()
            }
        };
        self.reported.capacity() * std::mem::size_of::<(RtpTimestamp, u8)>()
            + self.events.capacity() * std::mem::size_of::<DigitReceived>()
            + segments
    }

    /// The event code being received, if an event is in progress.
    pub fn event_in_progress(&self) -> Option<u8> {
        match &self.state {
            ReceiverState::Idle => None,
            ReceiverState::InEvent(current) => Some(current.event),
        }
    }

    fn start(&mut self, now: Instant, timestamp: RtpTimestamp, packet: TelephoneEventPayload) {
        if packet.end {
            // Start and end lost, or an event shorter than one packet.
            self.report_alone(timestamp, packet, EventEnding::EndPacket);
            return;
        }
        self.state = ReceiverState::InEvent(EventInProgress {
            event: packet.event,
            start: timestamp,
            segments: vec![timestamp],
            earlier_segments_duration: 0,
            segment_duration: packet.duration,
            volume: packet.volume,
            last_packet_at: now,
        });
    }

    fn continue_or_finish(&mut self, current: EventInProgress, end: bool) {
        if end {
            self.finish(current, EventEnding::EndPacket);
        } else {
            self.state = ReceiverState::InEvent(current);
        }
    }

    fn report_alone(
        &mut self,
        timestamp: RtpTimestamp,
        packet: TelephoneEventPayload,
        ending: EventEnding,
    ) {
        self.remember(timestamp, packet.event);
        self.push_event(
            packet.event,
            timestamp,
            u64::from(packet.duration),
            packet.volume,
            ending,
        );
    }

    fn finish(&mut self, current: EventInProgress, ending: EventEnding) {
        for &segment in &current.segments {
            self.remember(segment, current.event);
        }
        let duration = current.earlier_segments_duration + u64::from(current.segment_duration);
        self.push_event(
            current.event,
            current.start,
            duration,
            current.volume,
            ending,
        );
    }

    fn push_event(
        &mut self,
        event: u8,
        timestamp: RtpTimestamp,
        duration_samples: u64,
        volume: u8,
        ending: EventEnding,
    ) {
        let duration = Duration::from_nanos(
            (u128::from(duration_samples) * 1_000_000_000 / u128::from(self.clock_rate)) as u64,
        );
        self.events.push_back(DigitReceived {
            event,
            timestamp,
            duration_samples,
            duration,
            volume,
            ending,
        });
    }

    fn remember(&mut self, timestamp: RtpTimestamp, event: u8) {
        if self.reported.capacity() == 0 {
            self.reported.reserve_exact(REMEMBERED_EVENTS);
        }
        if self.reported.len() == REMEMBERED_EVENTS {
            self.reported.pop_front();
        }
        self.reported.push_back((timestamp, event));
    }
}

/// One telephone-event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventPacket {
    /// The RTP payload.
    pub payload: [u8; 4],
    /// The marker bit: set on the first packet of the event only.
    pub marker: bool,
    /// Added to the event's start timestamp to give the packet's RTP
    /// timestamp: 0 except in later segments of a long event.
    pub timestamp_offset: u32,
    /// When to send it, after the event's start.
    pub send_after: Duration,
}

/// Plans the packets of outgoing telephone-events (§2.5.1).
#[derive(Debug, Clone, Copy)]
pub struct TelephoneEventSender {
    clock_rate: u32,
    packet_interval: Duration,
    volume: u8,
}

impl TelephoneEventSender {
    /// A sender clocked at `clock_rate` Hz, updating every 20 ms at a
    /// volume of -10 dBm0.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            packet_interval: Duration::from_millis(20),
            volume: 10,
        }
    }

    /// Sends updates every `interval` (20 or 50 ms are usual).
    #[must_use]
    pub fn with_packet_interval(mut self, interval: Duration) -> Self {
        self.packet_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Uses `volume` in -dBm0 (0-63).
    #[must_use]
    pub fn with_volume(mut self, volume: u8) -> Self {
        self.volume = volume.min(63);
        self
    }

    /// The packets of `event` lasting `duration` (at least one packet
    /// interval): a start packet with the marker, updates every interval,
    /// and three end packets with the final duration, one interval apart.
    pub fn packets(&self, event: u8, duration: Duration) -> Vec<TelephoneEventPacket> {
        let ticks = |duration: Duration| {
            (duration.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u64
        };
        let interval = ticks(self.packet_interval).max(1);
        let total = ticks(duration).max(interval);
        let count = total.div_ceil(interval);
        let mut packets = Vec::with_capacity(count as usize + 2);
        let mut segment_start = 0u64;
        let payload = |duration: u64, end: bool| {
            TelephoneEventPayload {
                event,
                end,
                volume: self.volume,
                duration: duration as u16,
            }
            .to_bytes()
        };
        for index in 0..count {
            let cumulative = ((index + 1) * interval).min(total);
            let send_after = self.packet_interval * index as u32;
            while cumulative - segment_start > u64::from(MAX_SEGMENT_DURATION) {
                packets.push(TelephoneEventPacket {
                    payload: payload(u64::from(MAX_SEGMENT_DURATION), false),
                    marker: packets.is_empty(),
                    timestamp_offset: segment_start as u32,
                    send_after,
                });
                segment_start += u64::from(MAX_SEGMENT_DURATION);
            }
            let in_segment = cumulative - segment_start;
            let repeats = if index + 1 == count { 3 } else { 1 };
            for repeat in 0..repeats {
                packets.push(TelephoneEventPacket {
                    payload: payload(in_segment, index + 1 == count),
                    marker: packets.is_empty(),
                    timestamp_offset: segment_start as u32,
                    send_after: send_after + self.packet_interval * repeat,
                });
            }
        }
        packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_epoch;
    use proptest::prelude::*;

    const START: RtpTimestamp = RtpTimestamp::new(48_000);

    /// Feeds `packets` of the sender for an event starting at `epoch` with
    /// RTP timestamp `start`.
    fn receive(
        receiver: &mut TelephoneEventReceiver,
        epoch: Instant,
        start: RtpTimestamp,
        packets: &[TelephoneEventPacket],
    ) {
        for packet in packets {
            receiver
                .handle_packet(
                    epoch + packet.send_after,
                    start.wrapping_add(packet.timestamp_offset),
                    packet.marker,
                    &packet.payload,
                )
                .unwrap();
        }
    }

    fn drain(receiver: &mut TelephoneEventReceiver, now: Instant) -> Vec<DigitReceived> {
        receiver.handle_timeout(now + Duration::from_secs(10));
        std::iter::from_fn(|| receiver.poll_event()).collect()
    }

    fn digit_packets(event: u8, millis: u64) -> Vec<TelephoneEventPacket> {
        TelephoneEventSender::new(8000).packets(event, Duration::from_millis(millis))
    }

    #[test]
    fn names_digits() {
        assert_eq!(event_char(0), Some('0'));
        assert_eq!(event_char(10), Some('*'));
        assert_eq!(event_char(11), Some('#'));
        assert_eq!(event_char(15), Some('D'));
        assert_eq!(event_char(EVENT_FLASH), None);
        assert_eq!(event_of_char('#'), Some(11));
        assert_eq!(event_of_char('b'), Some(13));
        assert_eq!(event_of_char('x'), None);
    }

    #[test]
    fn parses_and_writes_payloads() {
        let payload = TelephoneEventPayload::parse(&[0x0b, 0x8a, 0x08, 0xc0]).unwrap();
        assert_eq!(
            payload,
            TelephoneEventPayload {
                event: 11,
                end: true,
                volume: 10,
                duration: 2240
            }
        );
        assert_eq!(payload.to_bytes(), [0x0b, 0x8a, 0x08, 0xc0]);
        assert_eq!(
            TelephoneEventPayload::parse(&[1, 2, 3]),
            Err(Rfc4733ParseError::Truncated(3))
        );
    }

    #[test]
    fn the_sender_follows_section_2_5_1() {
        let packets = digit_packets(5, 100);
        // 5 packets of 20 ms: 4 updates then 3 end packets.
        assert_eq!(packets.len(), 7);
        assert!(packets[0].marker);
        assert!(packets[1..].iter().all(|packet| !packet.marker));
        let durations: Vec<u16> = packets
            .iter()
            .map(|packet| {
                TelephoneEventPayload::parse(&packet.payload)
                    .unwrap()
                    .duration
            })
            .collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        let ends = packets
            .iter()
            .filter(|packet| TelephoneEventPayload::parse(&packet.payload).unwrap().end)
            .count();
        assert_eq!(ends, 3);
        assert!(packets.iter().all(|packet| packet.timestamp_offset == 0));
        assert_eq!(packets[6].send_after, Duration::from_millis(120));
        let slow = TelephoneEventSender::new(8000)
            .with_packet_interval(Duration::from_millis(50))
            .packets(1, Duration::from_millis(100));
        assert_eq!(slow.len(), 4);
        assert_eq!(slow[1].send_after, Duration::from_millis(50));
    }

    #[test]
    fn round_trip_reports_each_digit_once() {
        let epoch = test_epoch();
        let mut receiver = TelephoneEventReceiver::new(8000);
        let mut start = START;
        let mut at = epoch;
        for event in [1, 2, 2, 11] {
            let packets = digit_packets(event, 120);
            receive(&mut receiver, at, start, &packets);
            start = start.wrapping_add(8000);
            at += Duration::from_secs(1);
        }
        let digits = drain(&mut receiver, at);
        let events: Vec<u8> = digits.iter().map(|digit| digit.event).collect();
        assert_eq!(events, [1, 2, 2, 11]);
        assert!(
            digits
                .iter()
                .all(|digit| digit.duration == Duration::from_millis(120)
                    && digit.ending == EventEnding::EndPacket
                    && digit.volume == 10)
        );
    }

    #[test]
    fn a_lost_start_and_duplicates_still_give_one_digit() {
        let epoch = test_epoch();
        let mut receiver = TelephoneEventReceiver::new(8000);
        let packets = digit_packets(7, 200);
        let mut mangled: Vec<_> = packets[2..].to_vec();
        mangled.insert(3, packets[4]);
        mangled.push(packets[3]);
        receive(&mut receiver, epoch, START, &mangled);
        let digits = drain(&mut receiver, epoch);
        assert_eq!(digits.len(), 1);
        assert_eq!(digits[0].event, 7);
        assert_eq!(digits[0].duration_samples, 1600);
        assert_eq!(digits[0].timestamp, START);
    }

    #[test]
    fn lost_end_packets_end_the_event_after_the_timeout() {
        let epoch = test_epoch();
        let mut receiver = TelephoneEventReceiver::new(8000);
        let packets = digit_packets(3, 100);
        receive(&mut receiver, epoch, START, &packets[..4]);
        assert_eq!(receiver.event_in_progress(), Some(3));
        let deadline = receiver.poll_timeout().unwrap();
        assert_eq!(
            deadline,
            epoch + Duration::from_millis(60) + DEFAULT_EVENT_TIMEOUT
        );
        receiver.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(receiver.poll_event(), None);
        receiver.handle_timeout(deadline);
        let digit = receiver.poll_event().unwrap();
        assert_eq!((digit.event, digit.duration_samples), (3, 640));
        assert_eq!(digit.ending, EventEnding::Timeout);
        assert_eq!(receiver.poll_timeout(), None);
        // The end packets finally arrive: already reported.
        receive(&mut receiver, epoch, START, &packets[4..]);
        assert_eq!(drain(&mut receiver, deadline), []);
    }

    #[test]
    fn reordered_end_packets_report_the_final_duration_once() {
        let epoch = test_epoch();
        let mut receiver = TelephoneEventReceiver::new(8000);
        let packets = digit_packets(9, 100);
        // An end packet overtakes the last updates.
        let order = [0, 1, 4, 2, 3, 5, 6];
        let reordered: Vec<_> = order.iter().map(|&index| packets[index]).collect();
        receive(&mut receiver, epoch, START, &reordered);
        let digits = drain(&mut receiver, epoch);
        assert_eq!(digits.len(), 1);
        assert_eq!(digits[0].duration_samples, 800);
    }

    #[test]
    fn a_new_event_ends_the_previous_one() {
        let epoch = test_epoch();
        let mut receiver = TelephoneEventReceiver::new(8000);
        let first = digit_packets(4, 100);
        let second = digit_packets(6, 100);
        // The first event's end packets are all lost.
        receive(&mut receiver, epoch, START, &first[..4]);
        let later = START.wrapping_add(1600);
        receive(
            &mut receiver,
            epoch + Duration::from_millis(200),
            later,
            &second,
        );
        let first_digit = receiver.poll_event().unwrap();
        assert_eq!(
            (first_digit.event, first_digit.ending),
            (4, EventEnding::NextEvent)
        );
        let digits = drain(&mut receiver, epoch);
        assert_eq!(digits.len(), 1);
        assert_eq!(
            (digits[0].event, digits[0].ending),
            (6, EventEnding::EndPacket)
        );
        // The first event's end packets arrive very late: ignored.
        receive(&mut receiver, epoch, START, &first[4..]);
        assert_eq!(drain(&mut receiver, epoch), []);
    }

    #[test]
    fn a_reordered_older_event_is_reported_too() {
        let epoch = test_epoch();
        let mut receiver = TelephoneEventReceiver::new(8000);
        let second = digit_packets(6, 60);
        receive(&mut receiver, epoch, START.wrapping_add(1600), &second[..1]);
        // Only one end packet of an earlier event survives, late.
        let first = digit_packets(4, 60);
        receive(&mut receiver, epoch, START, &first[3..4]);
        let digits = drain(&mut receiver, epoch);
        let events: Vec<u8> = digits.iter().map(|digit| digit.event).collect();
        assert_eq!(events, [4, 6]);
    }

    #[test]
    fn a_long_press_is_split_into_segments_and_reported_once() {
        let epoch = test_epoch();
        let packets = digit_packets(0, 10_000);
        let offsets: Vec<u32> = packets
            .iter()
            .map(|packet| packet.timestamp_offset)
            .collect();
        assert!(offsets.contains(&0xffff));
        assert_eq!(*offsets.last().unwrap(), 0xffff);
        let mut receiver = TelephoneEventReceiver::new(8000);
        // Near the wrap of the timestamp, and with a lost packet.
        let start = RtpTimestamp::new(u32::MAX - 1000);
        let mut lossy = packets.clone();
        lossy.remove(100);
        receive(&mut receiver, epoch, start, &lossy);
        let digits = drain(&mut receiver, epoch);
        assert_eq!(digits.len(), 1);
        assert_eq!(digits[0].duration_samples, 80_000);
        assert_eq!(digits[0].duration, Duration::from_secs(10));
        assert_eq!(digits[0].timestamp, start);
    }

    /// The packets of SIPp's `dtmf_2833_*.pcap` captures, one section per
    /// file (see conformance/vectors/rfc4733/README.md).
    const SIPP_VECTORS: &str =
        include_str!("../../../conformance/vectors/rfc4733/sipp_dtmf_2833.txt");

    #[test]
    fn sipp_captures_report_their_digit_once() {
        let epoch = test_epoch();
        let mut files = 0;
        let mut sections: Vec<(u8, Vec<&str>)> = Vec::new();
        for line in SIPP_VECTORS.lines().filter(|line| !line.starts_with('#')) {
            if let Some(header) = line.strip_prefix("file ") {
                let expected = header.split(' ').nth(1).unwrap().parse().unwrap();
                sections.push((expected, Vec::new()));
            } else {
                sections.last_mut().unwrap().1.push(line);
            }
        }
        for (expected, lines) in sections {
            let mut receiver = TelephoneEventReceiver::new(8000);
            for line in lines {
                let fields: Vec<&str> = line.split(' ').collect();
                let [micros, marker, _, _, timestamp, payload] = fields[..] else {
                    panic!("bad vector line {line}");
                };
                let payload: Vec<u8> = (0..payload.len())
                    .step_by(2)
                    .map(|index| u8::from_str_radix(&payload[index..index + 2], 16).unwrap())
                    .collect();
                receiver
                    .handle_packet(
                        epoch + Duration::from_micros(micros.parse().unwrap()),
                        RtpTimestamp::new(timestamp.parse().unwrap()),
                        marker == "1",
                        &payload,
                    )
                    .unwrap();
            }
            let digits = drain(&mut receiver, epoch);
            assert_eq!(digits.len(), 1, "event {expected}");
            assert_eq!(digits[0].event, expected);
            assert_eq!(digits[0].ending, EventEnding::EndPacket);
            assert_eq!(digits[0].duration_samples, 2240);
            files += 1;
        }
        assert_eq!(files, 12);
    }

    proptest! {
        #[test]
        fn arbitrary_packets_never_panic_and_report_each_event_once(
            packets in proptest::collection::vec(
                (0u32..4, any::<bool>(), 0u8..3, any::<bool>(), any::<u16>(), 0u64..300),
                0..24,
            ),
        ) {
            let epoch = test_epoch();
            let mut receiver = TelephoneEventReceiver::new(8000);
            let mut now = epoch;
            let mut reported = Vec::new();
            for (slot, marker, event, end, duration, gap) in packets {
                now += Duration::from_millis(gap);
                receiver.handle_timeout(now);
                let payload = TelephoneEventPayload { event, end, volume: 10, duration }.to_bytes();
                let timestamp = RtpTimestamp::new(slot * 800);
                receiver.handle_packet(now, timestamp, marker, &payload).unwrap();
                reported.extend(std::iter::from_fn(|| receiver.poll_event()));
            }
            reported.extend(drain(&mut receiver, now));
            let mut keys: Vec<_> = reported.iter().map(|digit| (digit.timestamp.get(), digit.event)).collect();
            let count = keys.len();
            keys.sort_unstable();
            keys.dedup();
            prop_assert_eq!(keys.len(), count);
        }
    }
}
