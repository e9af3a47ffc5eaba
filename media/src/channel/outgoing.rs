//! What we generate ourselves, before [`OutgoingStream`] maps it onto our
//! stream: the numbering of our audio frames and telephone-events, and the
//! telephone-event being sent (RFC 4733 §2.5.1).
//!
//! [`OutgoingStream`]: crate::rtp::OutgoingStream

use std::time::{Duration, Instant};

use crate::dtmf::rfc4733::TelephoneEventPacket;
use crate::rtp::{RtpTimestamp, SequenceNumber};

/// Timestamp ticks per 20 ms frame on the 8 kHz clock.
const FRAME_TICKS: u32 = crate::audio::FRAME_SAMPLES as u32;

/// The 20 ms tick.
pub(super) const FRAME_DURATION: Duration =
    Duration::from_millis(crate::audio::FRAME_MILLIS as u64);

/// The numbering of what we generate ourselves (audio frames and
/// telephone-events), before [`OutgoingStream`] maps it onto our stream.
///
/// [`OutgoingStream`]: crate::rtp::OutgoingStream
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalClock {
    origin: Option<(Instant, RtpTimestamp)>,
    initial_timestamp: RtpTimestamp,
    last: Option<RtpTimestamp>,
    /// Timestamp ticks per frame: 160 on an 8 kHz clock, 960 at 48 kHz.
    frame_ticks: u32,
    sequence: SequenceNumber,
    /// The last frame was not sent (hold, a telephone-event, no remote):
    /// the next one starts a talkspurt.
    pub(super) interrupted: bool,
}

impl LocalClock {
    pub(super) fn new(seed: u64) -> Self {
        let random = split_mix(seed);
        Self {
            origin: None,
            initial_timestamp: RtpTimestamp::new((random >> 32) as u32),
            last: None,
            frame_ticks: FRAME_TICKS,
            sequence: SequenceNumber::new(random as u16),
            interrupted: false,
        }
    }

    /// Counts timestamps on a `clock_rate` Hz clock from now on (the
    /// negotiated codec's). The frame after a change continues from the
    /// last one sent, as a new talkspurt.
    pub(super) fn set_clock_rate(&mut self, clock_rate: u32) {
        let frame_ticks = (clock_rate / 50).max(1);
        if frame_ticks == self.frame_ticks {
            return;
        }
        self.frame_ticks = frame_ticks;
        if let Some(last) = self.last {
            self.initial_timestamp = last.wrapping_add(frame_ticks);
        }
        self.origin = None;
        self.last = None;
        self.interrupted = true;
    }

    /// The timestamp the frame sent at `now` gets, and whether it starts a
    /// talkspurt (after silence); consecutive frames advance by one frame
    /// (160 ticks at 8 kHz) even if the worker's ticks jitter, a longer
    /// gap follows the clock.
    pub(super) fn peek(&mut self, now: Instant) -> (RtpTimestamp, bool) {
        let (origin_at, origin_timestamp) =
            *self.origin.get_or_insert((now, self.initial_timestamp));
        let elapsed = now.saturating_duration_since(origin_at);
        let frames = (elapsed + FRAME_DURATION / 2).as_nanos() / FRAME_DURATION.as_nanos();
        let clock = origin_timestamp.wrapping_add((frames as u32).wrapping_mul(self.frame_ticks));
        match self.last {
            None => (clock, true),
            Some(last) => {
                let next = last.wrapping_add(self.frame_ticks);
                if clock.wrapping_sub(next) as i32 > self.frame_ticks as i32 {
                    (clock, true)
                } else {
                    (next, false)
                }
            }
        }
    }

    /// Takes the timestamp of the frame at `now`.
    pub(super) fn advance(&mut self, now: Instant) -> (RtpTimestamp, bool) {
        let (timestamp, gap) = self.peek(now);
        self.last = Some(timestamp);
        (timestamp, gap)
    }

    pub(super) fn next_sequence(&mut self) -> SequenceNumber {
        let sequence = self.sequence;
        self.sequence = sequence.wrapping_add(1);
        sequence
    }
}

/// A telephone-event being sent.
#[derive(Debug, Clone)]
pub(super) struct OutgoingEvent {
    pub(super) packets: Vec<TelephoneEventPacket>,
    pub(super) next: usize,
    pub(super) started_at: Instant,
    pub(super) start_timestamp: RtpTimestamp,
}

impl OutgoingEvent {
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.packets
            .get(self.next)
            .map(|packet| self.started_at + packet.send_after)
    }
}

/// SplitMix64: spreads a seed into well-mixed bits.
pub(super) fn split_mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
