//! An adaptive jitter buffer for one incoming G.711 stream, sans-IO.
//!
//! Packets go in with [`JitterBuffer::push`] when they arrive; one frame
//! comes out per 20 ms media tick with [`JitterBuffer::pop`]. Both take
//! `now` from the caller.
//!
//! ```text
//!            first packet                 earliest frame due
//!  NotStarted ──────────────▶ Waiting ─────────────────────▶ Playing
//!                               ▲                              │
//!                               └──────────────────────────────┘
//!                  timestamp/sequence jump, overflow (re-sync)
//! ```
//!
//! Timing model: for every packet the *transit* is its arrival time minus
//! its RTP timestamp (both in samples). The *baseline* is a leaky minimum
//! of the transit (it follows the fastest packets down at once and creeps
//! up slowly, which tracks a sender clock slower than ours). A packet's
//! *excess* over the baseline is its jitter; the *target delay* is the
//! recent peak of the excess plus a safety margin, bounded by the
//! configuration: it grows at once when a packet comes later than before
//! and decays slowly. The *current delay* is how long a packet with no
//! jitter waits before it is played. When it is below target the buffer
//! plays a concealed frame without advancing (growing the delay by 20 ms);
//! when it stays more than one frame above target for a second the buffer
//! drops one frame. Both also absorb the drift between the sender's clock
//! and our tick.
//!
//! The buffer assumes the packetisation we negotiate: one 20 ms frame
//! (160 samples) per packet.
//!
//! Its ring of frames is allocated on the first push, so a buffer that is
//! created but never fed (a call leg that relays rather than decodes)
//! costs no more than its counters.

use crate::audio::{FRAME_SAMPLES, Frame, SAMPLE_RATE, SILENCE};
use crate::rtp::{RtpTimestamp, SequenceNumber};
use std::time::{Duration, Instant};

/// The largest payload the buffer stores by default: one 20 ms G.711
/// frame. The channel cuts G.711 and G.722 packets of other lengths into
/// such frames before they come here (its `reframe` module); an Opus leg
/// configures room for its largest packet
/// ([`JitterBufferConfig::max_payload_bytes`]).
pub const MAX_PAYLOAD_BYTES: usize = FRAME_SAMPLES;

/// RTP timestamp ticks (samples) per frame.
const FRAME_TICKS: i64 = FRAME_SAMPLES as i64;

/// Samples per millisecond of the 8 kHz clock.
const SAMPLES_PER_MILLISECOND: i64 = (SAMPLE_RATE / 1000) as i64;

/// A sequence number this far behind the highest one is an old packet
/// (RFC 3550 appendix A.1, `MAX_MISORDER`); further back is a restart.
const MAX_MISORDER: i64 = 100;

/// A sequence number up to this far ahead is a gap of lost packets
/// (RFC 3550 appendix A.1, `MAX_DROPOUT`); further is a restart.
const MAX_DROPOUT: i64 = 3000;

/// Added to the peak jitter to make the target delay (10 ms).
const SAFETY_MARGIN: i64 = 10 * SAMPLES_PER_MILLISECOND;

/// How far above target + one frame the delay must be to count towards a
/// drop (10 ms), so that a drop never pushes the delay below target.
const DROP_HYSTERESIS: i64 = 10 * SAMPLES_PER_MILLISECOND;

/// Consecutive ticks above target before a frame is dropped (one second).
const DROP_PERSISTENCE_TICKS: u32 = 50;

/// The baseline rises and the peak jitter decays by 1/64 of the elapsed
/// time (1.6 %): faster than any sane clock drift, slow next to jitter.
const LEAK_DIVISOR: i64 = 64;

/// After this many concealed ticks with nothing buffered the stream is
/// taken as paused and the buffer plays silence.
const CONCEALMENT_LIMIT: u32 = 5;

/// How the buffer adapts, and how much it can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterBufferConfig {
    /// The lowest target delay.
    pub minimum_delay: Duration,
    /// The highest target delay.
    pub maximum_delay: Duration,
    /// The target delay before any jitter has been measured.
    pub initial_delay: Duration,
    /// Slots in the ring (allocated on the first push), one frame each;
    /// must cover the maximum delay plus the reordering depth (at least
    /// 16).
    pub capacity: usize,
    /// The room each slot has for a payload: a longer packet is dropped.
    pub max_payload_bytes: usize,
}

impl Default for JitterBufferConfig {
    /// 20-200 ms, starting at 40 ms, with 32 slots (640 ms: the maximum
    /// delay twice over, plus reordering).
    fn default() -> Self {
        Self {
            minimum_delay: Duration::from_millis(20),
            maximum_delay: Duration::from_millis(200),
            initial_delay: Duration::from_millis(40),
            capacity: 32,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
        }
    }
}

/// What to play for one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// No packet has arrived yet, or the first is still being delayed.
    NotStarted,
    /// The frame received for this tick.
    Frame {
        /// Its RTP sequence number.
        sequence: SequenceNumber,
        /// Its RTP timestamp.
        timestamp: RtpTimestamp,
        /// The encoded payload, as received.
        payload: &'a [u8],
    },
    /// The frame is missing (lost, or not yet arrived), or the buffer is
    /// growing its delay: play a concealment of the last frame, for
    /// example with [`conceal`].
    Concealed,
    /// The sender is silent (a gap between talkspurts, or a paused stream).
    Silence,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored for playout.
    Buffered,
    /// The packet starts a new timeline (new talkspurt, source restart or
    /// overflow): the buffer was emptied and will play from it.
    Resynchronized,
    /// A copy of a packet already buffered or played; dropped.
    Duplicate,
    /// Arrived after its playout time; dropped.
    Late,
    /// The payload is longer than
    /// [`JitterBufferConfig::max_payload_bytes`]; dropped.
    TooLarge,
}

/// Counters and the current state of the adaptation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterBufferStats {
    /// Packets pushed, whatever became of them.
    pub received: u64,
    /// Frames played.
    pub played: u64,
    /// Frames missing at their playout (sequence gaps between played
    /// frames; a late packet counts here and in `late`).
    pub lost: u64,
    /// Packets that arrived after their playout time.
    pub late: u64,
    /// Duplicate packets.
    pub duplicate: u64,
    /// Ticks answered with [`Playout::Concealed`]: missing frames plus
    /// frames inserted to grow the delay.
    pub concealed: u64,
    /// Of the concealed ticks, those inserted to grow the delay (to catch
    /// up with jitter or with a sender clock slower than ours).
    pub inserted: u64,
    /// Received frames dropped to shrink the delay (after jitter calmed
    /// down, or for a sender clock faster than ours).
    pub dropped_for_drift: u64,
    /// Times the buffer restarted its timeline.
    pub resynchronized: u64,
    /// How long a packet without jitter waits before it is played.
    pub current_delay: Duration,
    /// The delay the buffer aims for.
    pub target_delay: Duration,
}

/// Where one slot of the ring is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Empty,
    Buffered,
    /// Played or dropped; kept to recognise late duplicates.
    Played,
}

/// One frame's place in the ring; its payload is in the ring's payload
/// area, at the slot's position.
#[derive(Debug, Clone)]
struct Slot {
    state: SlotState,
    /// The frame index (extended timestamp / 160) held.
    index: i64,
    extended_sequence: i64,
    sequence: SequenceNumber,
    timestamp: RtpTimestamp,
    length: usize,
}

const EMPTY_SLOT: Slot = Slot {
    state: SlotState::Empty,
    index: 0,
    extended_sequence: 0,
    sequence: SequenceNumber::new(0),
    timestamp: RtpTimestamp::new(0),
    length: 0,
};

/// The playout state machine (see the module diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    /// Buffering up to the target delay; `resumed` says whether anything
    /// was played before (the wait then sounds as silence).
    Waiting {
        resumed: bool,
    },
    Playing,
}

/// An adaptive jitter buffer for one G.711 stream with 20 ms packets.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterBufferConfig,
    /// Empty until the first push, then `config.capacity` slots.
    slots: Box<[Slot]>,
    /// Empty until the first push, then `config.max_payload_bytes` for
    /// each slot, in slot order.
    payloads: Box<[u8]>,
    state: State,
    /// Origin of the sample clock of arrivals and ticks.
    epoch: Option<Instant>,
    /// The highest sequence number of the timeline before the last
    /// re-sync, to recognise its stragglers.
    previous_highest_sequence: Option<SequenceNumber>,
    /// The highest sequence number seen, raw and extended.
    highest_sequence: SequenceNumber,
    highest_extended_sequence: i64,
    /// The timestamp of that packet, raw and extended.
    highest_timestamp: RtpTimestamp,
    highest_extended_timestamp: i64,
    /// Next frame index to play; while waiting, the start of the window.
    cursor: i64,
    last_played_sequence: Option<i64>,
    /// Leaky minimum of (arrival - timestamp), in samples.
    baseline_transit: i64,
    /// Recent peak of the excess over the baseline, in samples.
    peak_jitter: i64,
    last_arrival: i64,
    leak_remainder: i64,
    target_delay: i64,
    current_delay: i64,
    ticks_above_target: u32,
    consecutive_concealed: u32,
    stats: JitterBufferStats,
}

impl JitterBuffer {
    /// A buffer with the default configuration.
    pub fn new() -> Self {
        Self::with_config(JitterBufferConfig::default())
    }

    /// A buffer with `config`. It allocates nothing until the first
    /// [`Self::push`], which allocates its ring once.
    ///
    /// # Panics
    ///
    /// If the configuration is inconsistent (minimum above maximum, or
    /// fewer than 16 slots, or too few for the maximum delay): that is a
    /// programming error, not peer input.
    pub fn with_config(config: JitterBufferConfig) -> Self {
        let maximum_frames = duration_to_samples(config.maximum_delay) / FRAME_TICKS;
        assert!(
            config.minimum_delay <= config.maximum_delay,
            "the jitter buffer's minimum delay exceeds its maximum"
        );
        assert!(
            config.capacity >= 16 && config.capacity as i64 >= 2 * maximum_frames + 8,
            "the jitter buffer needs at least 16 slots and twice its maximum delay"
        );
        assert!(
            config.max_payload_bytes > 0,
            "the jitter buffer's slots need room for a payload"
        );
        let initial = duration_to_samples(config.initial_delay).clamp(
            duration_to_samples(config.minimum_delay),
            duration_to_samples(config.maximum_delay),
        );
        Self {
            config,
            slots: Box::default(),
            payloads: Box::default(),
            state: State::NotStarted,
            epoch: None,
            previous_highest_sequence: None,
            highest_sequence: SequenceNumber::new(0),
            highest_extended_sequence: 0,
            highest_timestamp: RtpTimestamp::new(0),
            highest_extended_timestamp: 0,
            cursor: 0,
            last_played_sequence: None,
            baseline_transit: 0,
            peak_jitter: (initial - SAFETY_MARGIN).max(0),
            last_arrival: 0,
            leak_remainder: 0,
            target_delay: initial,
            current_delay: 0,
            ticks_above_target: 0,
            consecutive_concealed: 0,
            stats: JitterBufferStats {
                target_delay: samples_to_duration(initial),
                ..JitterBufferStats::default()
            },
        }
    }

    /// The counters and current delays.
    pub fn stats(&self) -> JitterBufferStats {
        self.stats
    }

    /// The configuration it was created with.
    pub fn config(&self) -> JitterBufferConfig {
        self.config
    }

    /// Bytes of its ring: none before the first push.
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val::<[Slot]>(&self.slots) + self.payloads.len()
    }

    /// Takes in one received packet's sequence number, timestamp and
    /// payload at `now`.
    pub fn push(
        &mut self,
        now: Instant,
        sequence: SequenceNumber,
        timestamp: RtpTimestamp,
        payload: &[u8],
    ) -> PushOutcome {
        self.stats.received += 1;
        if payload.len() > self.config.max_payload_bytes {
            return PushOutcome::TooLarge;
        }
        let arrival = self.samples_since_epoch(now);
        if self.state == State::NotStarted {
            if self.slots.is_empty() {
                // The ring's only allocations.
                self.slots = vec![EMPTY_SLOT; self.config.capacity].into_boxed_slice();
                self.payloads = vec![0; self.config.capacity * self.config.max_payload_bytes]
                    .into_boxed_slice();
            }
            self.resynchronize(arrival, sequence, timestamp, payload);
            return PushOutcome::Buffered;
        }
        let sequence_delta = i64::from(sequence.wrapping_sub(self.highest_sequence) as i16);
        let timestamp_delta = i64::from(timestamp.wrapping_sub(self.highest_timestamp) as i32);
        let maximum_delay = duration_to_samples(self.config.maximum_delay);
        let jumped = if sequence_delta > 0 {
            sequence_delta > MAX_DROPOUT
                || timestamp_delta < 0
                // A new talkspurt after a silent gap, or a new timeline.
                || timestamp_delta - sequence_delta * FRAME_TICKS > maximum_delay + FRAME_TICKS
        } else {
            sequence_delta <= -MAX_MISORDER
        };
        if jumped {
            let straggler = self.previous_highest_sequence.is_some_and(|previous| {
                let behind = i64::from(sequence.wrapping_sub(previous) as i16);
                behind > -MAX_MISORDER && behind <= 0
            });
            if straggler {
                // A packet of the timeline we left: too late for it.
                self.stats.late += 1;
                return PushOutcome::Late;
            }
            self.resynchronize(arrival, sequence, timestamp, payload);
            return PushOutcome::Resynchronized;
        }
        let extended_sequence = self.highest_extended_sequence + sequence_delta;
        let extended_timestamp = self.highest_extended_timestamp + timestamp_delta;
        let index = extended_timestamp.div_euclid(FRAME_TICKS);
        let capacity = self.slots.len() as i64;
        if sequence_delta > 0
            && (index >= self.cursor + capacity
                || index < self.cursor - maximum_delay / FRAME_TICKS - 1)
        {
            // A newer packet outside the ring, or one that would be late
            // by more than any delay we allow: the sender's timeline moved.
            self.resynchronize(arrival, sequence, timestamp, payload);
            return PushOutcome::Resynchronized;
        }
        if sequence_delta > 0 {
            self.highest_sequence = sequence;
            self.highest_extended_sequence = extended_sequence;
            self.highest_timestamp = timestamp;
            self.highest_extended_timestamp = extended_timestamp;
        }
        self.observe_transit(arrival, extended_timestamp);

        let position = index.rem_euclid(capacity) as usize;
        let slot = &self.slots[position];
        if slot.index == index && slot.state != SlotState::Empty {
            self.stats.duplicate += 1;
            return PushOutcome::Duplicate;
        }
        if index < self.cursor || index >= self.cursor + capacity {
            self.stats.late += 1;
            return PushOutcome::Late;
        }
        self.store(
            position,
            index,
            extended_sequence,
            sequence,
            timestamp,
            payload,
        );
        PushOutcome::Buffered
    }

    /// What to play for the media tick at `now`; call once per 20 ms.
    pub fn pop(&mut self, now: Instant) -> Playout<'_> {
        let now_samples = self.samples_since_epoch(now);
        match self.state {
            State::NotStarted => return Playout::NotStarted,
            State::Waiting { resumed } => {
                let waiting = if resumed {
                    Playout::Silence
                } else {
                    Playout::NotStarted
                };
                let Some(earliest) = self.earliest_buffered() else {
                    return waiting;
                };
                if earliest * FRAME_TICKS + self.baseline_transit + self.target_delay > now_samples
                {
                    return waiting;
                }
                self.cursor = earliest;
                self.state = State::Playing;
            }
            State::Playing => {}
        }

        self.current_delay = now_samples - self.cursor * FRAME_TICKS - self.baseline_transit;
        self.stats.current_delay = samples_to_duration(self.current_delay);
        if self.current_delay < self.target_delay {
            // Grow: hold the cursor for one tick.
            self.ticks_above_target = 0;
            self.stats.inserted += 1;
            return self.concealed();
        }
        if self.current_delay > self.target_delay + FRAME_TICKS + DROP_HYSTERESIS {
            self.ticks_above_target += 1;
        } else {
            self.ticks_above_target = 0;
        }
        let capacity = self.slots.len() as i64;
        if self.ticks_above_target >= DROP_PERSISTENCE_TICKS {
            let slot = &mut self.slots[self.cursor.rem_euclid(capacity) as usize];
            // Only a received frame is dropped; over a gap, wait a tick.
            if slot.state == SlotState::Buffered && slot.index == self.cursor {
                slot.state = SlotState::Played;
                self.last_played_sequence = Some(slot.extended_sequence);
                self.stats.dropped_for_drift += 1;
                self.ticks_above_target = 0;
                self.cursor += 1;
            }
        }

        let position = self.cursor.rem_euclid(capacity) as usize;
        self.cursor += 1;
        if self.slots[position].state == SlotState::Buffered
            && self.slots[position].index == self.cursor - 1
        {
            let slot = &mut self.slots[position];
            slot.state = SlotState::Played;
            if let Some(previous) = self.last_played_sequence {
                let gap = slot.extended_sequence - previous - 1;
                if (1..MAX_DROPOUT).contains(&gap) {
                    self.stats.lost += gap as u64;
                }
            }
            self.last_played_sequence = Some(slot.extended_sequence);
            self.stats.played += 1;
            self.consecutive_concealed = 0;
            let slot = &self.slots[position];
            let start = position * self.config.max_payload_bytes;
            return Playout::Frame {
                sequence: slot.sequence,
                timestamp: slot.timestamp,
                payload: &self.payloads[start..start + slot.length],
            };
        }
        // The frame is missing: a gap between talkspurts if the next packet
        // in sequence is already here further on, else a loss so far.
        let next_sequence_buffered = self.last_played_sequence.is_some_and(|previous| {
            self.slots.iter().any(|slot| {
                slot.state == SlotState::Buffered && slot.extended_sequence == previous + 1
            })
        });
        if next_sequence_buffered
            || (self.consecutive_concealed >= CONCEALMENT_LIMIT
                && self.earliest_buffered().is_none())
        {
            return Playout::Silence;
        }
        self.concealed()
    }

    fn concealed(&mut self) -> Playout<'static> {
        self.stats.concealed += 1;
        self.consecutive_concealed += 1;
        Playout::Concealed
    }

    /// Updates the baseline transit, the peak jitter and the target delay
    /// with one arrival.
    fn observe_transit(&mut self, arrival: i64, extended_timestamp: i64) {
        let transit = arrival - extended_timestamp;
        let elapsed = (arrival - self.last_arrival).max(0) + self.leak_remainder;
        self.last_arrival = self.last_arrival.max(arrival);
        let leak = elapsed / LEAK_DIVISOR;
        self.leak_remainder = elapsed % LEAK_DIVISOR;
        self.baseline_transit = transit.min(self.baseline_transit + leak);
        let excess = transit - self.baseline_transit;
        self.peak_jitter = excess.max(self.peak_jitter - leak).max(0);
        self.target_delay = (self.peak_jitter + SAFETY_MARGIN).clamp(
            duration_to_samples(self.config.minimum_delay),
            duration_to_samples(self.config.maximum_delay),
        );
        self.stats.target_delay = samples_to_duration(self.target_delay);
    }

    /// Empties the ring and starts a new timeline at this packet.
    fn resynchronize(
        &mut self,
        arrival: i64,
        sequence: SequenceNumber,
        timestamp: RtpTimestamp,
        payload: &[u8],
    ) {
        if self.state != State::NotStarted {
            self.stats.resynchronized += 1;
            self.previous_highest_sequence = Some(self.highest_sequence);
        }
        for slot in self.slots.iter_mut() {
            slot.state = SlotState::Empty;
        }
        self.state = State::Waiting {
            resumed: self.state != State::NotStarted,
        };
        self.highest_sequence = sequence;
        self.highest_extended_sequence = 0;
        self.highest_timestamp = timestamp;
        self.highest_extended_timestamp = 0;
        // Packets up to a quarter of the ring older than this one may
        // still arrive out of order before playout starts.
        self.cursor = -(self.slots.len() as i64 / 4);
        self.last_played_sequence = None;
        self.baseline_transit = arrival;
        self.last_arrival = arrival;
        self.leak_remainder = 0;
        self.ticks_above_target = 0;
        self.consecutive_concealed = 0;
        self.store(0, 0, 0, sequence, timestamp, payload);
    }

    /// Buffers a packet in the slot at `position`.
    fn store(
        &mut self,
        position: usize,
        index: i64,
        extended_sequence: i64,
        sequence: SequenceNumber,
        timestamp: RtpTimestamp,
        payload: &[u8],
    ) {
        let slot = &mut self.slots[position];
        slot.state = SlotState::Buffered;
        slot.index = index;
        slot.extended_sequence = extended_sequence;
        slot.sequence = sequence;
        slot.timestamp = timestamp;
        slot.length = payload.len();
        let start = position * self.config.max_payload_bytes;
        self.payloads[start..start + payload.len()].copy_from_slice(payload);
    }

    /// The lowest frame index buffered and not yet played.
    fn earliest_buffered(&self) -> Option<i64> {
        self.slots
            .iter()
            .filter(|slot| slot.state == SlotState::Buffered && slot.index >= self.cursor)
            .map(|slot| slot.index)
            .min()
    }

    /// `now` on the 8 kHz sample clock, from the first instant seen.
    fn samples_since_epoch(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        duration_to_samples(now.saturating_duration_since(epoch))
    }
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new()
    }
}

fn duration_to_samples(duration: Duration) -> i64 {
    (duration.as_micros() as i64).saturating_mul(SAMPLES_PER_MILLISECOND) / 1000
}

fn samples_to_duration(samples: i64) -> Duration {
    Duration::from_micros(samples.max(0) as u64 * 1000 / SAMPLES_PER_MILLISECOND as u64)
}

/// Packet-loss concealment at the PCM level: the `count`-th consecutive
/// concealed frame (from 1) after `previous`, the last frame received.
///
/// It repeats `previous` with a gain that ramps down linearly over three
/// frames (1 → 2/3, 2/3 → 1/3, 1/3 → 0), so a loss fades out instead of
/// clicking; from the fourth frame on it is silence.
pub fn conceal(previous: &Frame, count: u32) -> Frame {
    const FADE_FRAMES: i32 = 3;
    const FULL: i32 = 1 << 15;
    if count == 0 {
        return *previous;
    }
    let step = (count as i32 - 1).min(FADE_FRAMES);
    let start = FULL * (FADE_FRAMES - step) / FADE_FRAMES;
    let end = FULL * (FADE_FRAMES - (step + 1).min(FADE_FRAMES)) / FADE_FRAMES;
    if start == 0 {
        return SILENCE;
    }
    let mut frame = SILENCE;
    let samples = FRAME_SAMPLES as i32;
    for (position, (output, input)) in frame.iter_mut().zip(previous).enumerate() {
        let gain = start + (end - start) * position as i32 / samples;
        *output = ((i32::from(*input) * gain) >> 15) as i16;
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::collections::HashSet;

    const TICK: Duration = Duration::from_millis(20);

    /// Packet `number` of a stream starting near both wraps, its payload
    /// naming it.
    fn packet(number: u32) -> (SequenceNumber, RtpTimestamp, [u8; 160]) {
        let mut payload = [0xff; 160];
        payload[..4].copy_from_slice(&number.to_le_bytes());
        (
            SequenceNumber::new(65_500).wrapping_add(number as u16),
            RtpTimestamp::new(u32::MAX - 8_000).wrapping_add(number * 160),
            payload,
        )
    }

    fn number_of(playout: &Playout<'_>) -> Option<u32> {
        match playout {
            Playout::Frame { payload, .. } => Some(u32::from_le_bytes(
                payload[..4].try_into().expect("four bytes"),
            )),
            _ => None,
        }
    }

    fn push_number(buffer: &mut JitterBuffer, now: Instant, number: u32) -> PushOutcome {
        let (sequence, timestamp, payload) = packet(number);
        buffer.push(now, sequence, timestamp, &payload)
    }

    /// Pops ticks from `start` (tick 0) up to `ticks`, returning the
    /// played numbers (None for anything else).
    fn pop_ticks(
        buffer: &mut JitterBuffer,
        start: Instant,
        ticks: std::ops::Range<u32>,
    ) -> Vec<Option<u32>> {
        ticks
            .map(|tick| number_of(&buffer.pop(start + TICK * tick)))
            .collect()
    }

    #[test]
    fn nothing_plays_before_the_first_packet_and_the_initial_delay() {
        let start = crate::test_epoch();
        let mut buffer = JitterBuffer::new();
        assert_eq!(buffer.pop(start), Playout::NotStarted);
        assert_eq!(push_number(&mut buffer, start, 0), PushOutcome::Buffered);
        push_number(&mut buffer, start + TICK, 1);
        assert_eq!(buffer.pop(start + TICK), Playout::NotStarted);
        // 40 ms after the first arrival, the first frame plays.
        assert_eq!(number_of(&buffer.pop(start + TICK * 2)), Some(0));
        push_number(&mut buffer, start + TICK * 2, 2);
        assert_eq!(number_of(&buffer.pop(start + TICK * 3)), Some(1));
        assert_eq!(buffer.stats().current_delay, Duration::from_millis(40));
    }

    #[test]
    fn reordered_packets_play_in_order_and_duplicates_are_dropped() {
        let start = crate::test_epoch();
        let mut buffer = JitterBuffer::new();
        for number in [0, 2, 1, 1, 4, 3, 2] {
            push_number(&mut buffer, start, number);
        }
        assert_eq!(buffer.stats().duplicate, 2);
        let played = pop_ticks(&mut buffer, start, 0..8);
        let numbers: Vec<u32> = played.into_iter().flatten().collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4]);
        // A copy of a frame already played is a duplicate, not late.
        assert_eq!(
            push_number(&mut buffer, start + TICK * 8, 3),
            PushOutcome::Duplicate
        );
        assert_eq!(buffer.stats().played, 5);
        assert_eq!(buffer.stats().late, 0);
    }

    #[test]
    fn a_lost_frame_is_concealed_and_a_late_one_dropped_then_the_delay_grows() {
        let start = crate::test_epoch();
        let mut buffer = JitterBuffer::new();
        let mut playouts = Vec::new();
        for tick in 0..10u32 {
            let now = start + TICK * tick;
            if tick != 3 {
                push_number(&mut buffer, now, tick);
            }
            playouts.push(match buffer.pop(now) {
                Playout::Concealed => "concealed",
                Playout::Frame { .. } => "frame",
                _ => "other",
            });
        }
        // 40 ms delay: frame 3 is due at tick 5.
        assert_eq!(playouts[5], "concealed");
        let target_before = buffer.stats().target_delay;
        let late = push_number(&mut buffer, start + Duration::from_millis(205), 3);
        assert_eq!(late, PushOutcome::Late);
        let stats = buffer.stats();
        assert_eq!((stats.late, stats.concealed), (1, 1));
        assert!(stats.target_delay > target_before, "{stats:?}");
        // The next ticks hold the cursor to grow the delay, then play on.
        let mut inserted = 0;
        let next = loop {
            let tick = 10 + inserted;
            push_number(&mut buffer, start + TICK * tick, tick);
            match buffer.pop(start + TICK * tick) {
                Playout::Concealed => inserted += 1,
                playout => break number_of(&playout),
            }
        };
        assert_eq!(next, Some(8));
        assert!(inserted >= 4, "{inserted} frames inserted");
        let stats = buffer.stats();
        assert!(stats.current_delay >= stats.target_delay, "{stats:?}");
        assert_eq!(stats.lost, 1);
    }

    #[test]
    fn a_talkspurt_after_a_long_silence_resynchronizes() {
        let start = crate::test_epoch();
        let mut buffer = JitterBuffer::new();
        for tick in 0..5u32 {
            push_number(&mut buffer, start + TICK * tick, tick);
        }
        let played = pop_ticks(&mut buffer, start, 0..10);
        assert_eq!(played.iter().flatten().count(), 5);
        // Two seconds of silence: the sequence goes on, the timestamp jumps.
        let (sequence, _, payload) = packet(5);
        let (_, timestamp, _) = packet(105);
        let resumed = start + TICK * 105;
        let outcome = buffer.push(resumed, sequence, timestamp, &payload);
        assert_eq!(outcome, PushOutcome::Resynchronized);
        assert_eq!(buffer.pop(resumed), Playout::Silence);
        assert!(number_of(&buffer.pop(resumed + TICK * 2)).is_some());
        assert_eq!(buffer.stats().resynchronized, 1);
    }

    #[test]
    fn a_source_restart_resynchronizes_and_old_packets_are_late() {
        let start = crate::test_epoch();
        let mut buffer = JitterBuffer::new();
        for tick in 0..5u32 {
            push_number(&mut buffer, start + TICK * tick, tick);
        }
        pop_ticks(&mut buffer, start, 0..5);
        let now = start + TICK * 5;
        let outcome = buffer.push(
            now,
            SequenceNumber::new(12_345),
            RtpTimestamp::new(7),
            &[1; 160],
        );
        assert_eq!(outcome, PushOutcome::Resynchronized);
        // A straggler of the old stream is late, not another restart.
        assert_eq!(push_number(&mut buffer, now, 4), PushOutcome::Late);
        assert_eq!(buffer.stats().resynchronized, 1);
    }

    #[test]
    fn gaps_between_talkspurts_inside_the_window_play_as_silence() {
        let start = crate::test_epoch();
        let mut buffer = JitterBuffer::new();
        for number in 0..3 {
            push_number(&mut buffer, start + TICK * number, number);
        }
        // The next packet in sequence carries the timestamp of frame 6.
        let (sequence, _, payload) = packet(3);
        let (_, timestamp, _) = packet(6);
        buffer.push(start + TICK * 6, sequence, timestamp, &payload);
        let outcomes: Vec<_> = (0..10u32)
            .map(|tick| match buffer.pop(start + TICK * tick) {
                Playout::Frame { .. } => 'F',
                Playout::Concealed => 'C',
                Playout::Silence => 'S',
                Playout::NotStarted => 'N',
            })
            .collect();
        assert_eq!(String::from_iter(outcomes), "NNFFFSSSFC");
        assert_eq!(buffer.stats().lost, 0);
    }

    #[test]
    fn the_ring_is_allocated_on_the_first_push_only() {
        let start = crate::test_epoch();
        let mut buffer = JitterBuffer::new();
        assert_eq!(buffer.heap_bytes(), 0);
        assert_eq!(buffer.pop(start), Playout::NotStarted);
        assert_eq!(buffer.heap_bytes(), 0, "popping allocates nothing");
        push_number(&mut buffer, start, 0);
        let allocated = buffer.heap_bytes();
        assert!(allocated >= 32 * MAX_PAYLOAD_BYTES, "{allocated}");
        for number in 1..200 {
            let now = start + TICK * number;
            push_number(&mut buffer, now, number);
            buffer.pop(now);
        }
        assert_eq!(buffer.heap_bytes(), allocated);
    }

    #[test]
    fn oversized_payloads_are_refused() {
        let mut buffer = JitterBuffer::new();
        let outcome = buffer.push(
            crate::test_epoch(),
            SequenceNumber::new(1),
            RtpTimestamp::new(1),
            &[0; MAX_PAYLOAD_BYTES + 1],
        );
        assert_eq!(outcome, PushOutcome::TooLarge);
        assert_eq!(buffer.stats().received, 1);
    }

    /// A buffer configured for larger packets (Opus) keeps each whole,
    /// in its own slot, and plays them back in order.
    #[test]
    fn larger_slots_keep_larger_payloads_apart() {
        let mut buffer = JitterBuffer::with_config(JitterBufferConfig {
            max_payload_bytes: 300,
            ..JitterBufferConfig::default()
        });
        let start = crate::test_epoch();
        for number in 0..4u16 {
            let payload = vec![number as u8; 200 + 30 * usize::from(number)];
            let outcome = buffer.push(
                start + TICK * u32::from(number),
                SequenceNumber::new(number),
                RtpTimestamp::new(u32::from(number) * 160),
                &payload,
            );
            assert_eq!(outcome, PushOutcome::Buffered);
        }
        let outcome = buffer.push(
            start,
            SequenceNumber::new(9),
            RtpTimestamp::new(9 * 160),
            &[0; 301],
        );
        assert_eq!(outcome, PushOutcome::TooLarge);
        assert_eq!(
            buffer.heap_bytes() - 32 * std::mem::size_of::<Slot>(),
            32 * 300
        );
        let mut played = Vec::new();
        for tick in 0..10u32 {
            if let Playout::Frame { payload, .. } = buffer.pop(start + TICK * tick) {
                assert!(payload.iter().all(|byte| *byte == payload[0]));
                played.push((payload[0], payload.len()));
            }
        }
        assert_eq!(played, vec![(0, 200), (1, 230), (2, 260), (3, 290)]);
    }

    #[test]
    fn concealment_fades_out_over_three_frames() {
        let previous = [10_000i16; FRAME_SAMPLES];
        let first = conceal(&previous, 1);
        assert_eq!(first[0], 10_000);
        assert!(first[159] < 7_000 && first[159] > 6_600);
        let second = conceal(&previous, 2);
        assert!(second[0] <= first[159] + 100 && second[0] >= first[159] - 100);
        let third = conceal(&previous, 3);
        assert!(third[159] < 100);
        assert_eq!(conceal(&previous, 4), SILENCE);
        assert_eq!(conceal(&previous, 0), previous);
        let negative = conceal(&[-32_768; FRAME_SAMPLES], 1);
        assert_eq!(negative[0], -32_768);
    }

    /// A sender whose clock runs `drift_ppm` fast (negative: slow), through
    /// a network with jitter, spikes, loss, duplication and reordering,
    /// into a buffer popped on our exact 20 ms tick.
    struct Simulation {
        seed: u64,
        drift_ppm: i64,
        seconds: u64,
        loss: f64,
        duplication: f64,
    }

    #[derive(Debug)]
    struct Report {
        stats: JitterBufferStats,
        sent: u32,
        in_time: usize,
        late_first_copies: usize,
        never_arrived: usize,
    }

    impl Simulation {
        fn run(&self) -> Report {
            let start = crate::test_epoch();
            let mut random = StdRng::seed_from_u64(self.seed);
            let interval_nanos = 20_000_000 * 1_000_000 / (1_000_000 + self.drift_ppm);
            let sent = (self.seconds * 1_000_000_000 / interval_nanos as u64) as u32;
            let mut arrivals: Vec<(u64, u32)> = Vec::new();
            let mut never_arrived = 0;
            for number in 0..sent {
                let sent_at = u64::from(number) * interval_nanos as u64;
                let mut copies = 1 + u32::from(random.random_bool(self.duplication));
                let mut arrived = false;
                while copies > 0 {
                    copies -= 1;
                    if random.random_bool(self.loss) {
                        continue;
                    }
                    let mut delay_millis = 30.0 + random.random_range(0.0..25.0);
                    if random.random_bool(0.01) {
                        delay_millis += random.random_range(20.0..100.0);
                    }
                    arrivals.push((sent_at + (delay_millis * 1e6) as u64, number));
                    arrived = true;
                }
                never_arrived += usize::from(!arrived);
            }
            arrivals.sort_unstable();

            let mut buffer = JitterBuffer::new();
            let config = JitterBufferConfig::default();
            let mut next_arrival = 0;
            let mut first_outcome: Vec<Option<PushOutcome>> = vec![None; sent as usize];
            let mut played: Vec<u32> = Vec::new();
            let mut concealed_since_last_frame = 0u32;
            let ticks = (self.seconds + 2) * 50;
            for tick in 0..ticks {
                // Our tick is offset from the sender's by 7 ms.
                let tick_nanos = tick * 20_000_000 + 7_000_000;
                while let Some(&(arrival, number)) = arrivals.get(next_arrival)
                    && arrival <= tick_nanos
                {
                    let (sequence, timestamp, payload) = packet(number);
                    let now = start + Duration::from_nanos(arrival);
                    let outcome = buffer.push(now, sequence, timestamp, &payload);
                    first_outcome[number as usize].get_or_insert(outcome);
                    next_arrival += 1;
                }
                match buffer.pop(start + Duration::from_nanos(tick_nanos)) {
                    Playout::Frame {
                        payload, sequence, ..
                    } => {
                        let number = u32::from_le_bytes(payload[..4].try_into().expect("4 bytes"));
                        assert_eq!(sequence, packet(number).0);
                        if let Some(&previous) = played.last() {
                            assert!(number > previous, "{number} after {previous}");
                            // Every frame missing in between was concealed
                            // (or dropped for drift, if it had arrived).
                            let missing = (previous + 1..number)
                                .filter(|missing| {
                                    first_outcome[*missing as usize] != Some(PushOutcome::Buffered)
                                })
                                .count();
                            assert!(
                                concealed_since_last_frame as usize >= missing,
                                "{missing} missing before {number}, {concealed_since_last_frame} concealed"
                            );
                        }
                        played.push(number);
                        concealed_since_last_frame = 0;
                    }
                    Playout::Concealed => concealed_since_last_frame += 1,
                    Playout::NotStarted => assert!(played.is_empty()),
                    Playout::Silence => {}
                }
                let stats = buffer.stats();
                assert!(stats.target_delay >= config.minimum_delay);
                assert!(stats.target_delay <= config.maximum_delay);
                if tick > 100 {
                    assert!(
                        stats.current_delay <= config.maximum_delay + TICK * 2,
                        "tick {tick}: {stats:?}"
                    );
                }
            }

            // Every packet that came in time was played once, or dropped to
            // absorb drift.
            let played_set: HashSet<u32> = played.iter().copied().collect();
            assert_eq!(played_set.len(), played.len());
            let in_time: Vec<u32> = (0..sent)
                .filter(|number| first_outcome[*number as usize] == Some(PushOutcome::Buffered))
                .collect();
            let unplayed = in_time
                .iter()
                .filter(|number| !played_set.contains(number))
                .count();
            let stats = buffer.stats();
            assert_eq!(unplayed as u64, stats.dropped_for_drift, "{stats:?}");
            assert_eq!(stats.played as usize, played.len());
            assert_eq!(stats.resynchronized, 0);
            let late_first_copies = first_outcome
                .iter()
                .filter(|outcome| **outcome == Some(PushOutcome::Late))
                .count();
            // Lost counts the gaps between played frames: packets that never
            // arrived or came late (the final tail aside).
            assert!(stats.lost as usize <= never_arrived + late_first_copies);
            assert!(stats.lost as usize + 5 >= never_arrived);
            Report {
                stats,
                sent,
                in_time: in_time.len(),
                late_first_copies,
                never_arrived,
            }
        }
    }

    fn simulation(seed: u64, drift_ppm: i64) -> Simulation {
        Simulation {
            seed,
            drift_ppm,
            seconds: 180,
            loss: 0.03,
            duplication: 0.02,
        }
    }

    #[test]
    fn a_jittery_lossy_network_with_matched_clocks_plays_every_timely_packet_once() {
        for seed in 1..=3 {
            let report = simulation(seed, 0).run();
            let late = report.late_first_copies as f64 / report.sent as f64;
            assert!(late < 0.01, "{report:?}");
            assert!(report.stats.duplicate > 0, "{report:?}");
            let net = report
                .stats
                .dropped_for_drift
                .abs_diff(report.stats.inserted);
            assert!(net <= 10, "{report:?}");
        }
    }

    #[test]
    fn a_sender_clock_half_a_percent_fast_is_absorbed_by_dropping_frames() {
        for seed in 4..=6 {
            let report = simulation(seed, 5_000).run();
            // 180 s at 0.5 % is 0.9 s: about 45 frames too many, on top of
            // the drops and inserts that follow the jitter.
            let stats = report.stats;
            let net = stats.dropped_for_drift as i64 - stats.inserted as i64;
            assert!((35..=55).contains(&net), "{report:?}");
            assert!((report.late_first_copies as f64) < report.sent as f64 * 0.01);
        }
    }

    #[test]
    fn a_sender_clock_half_a_percent_slow_is_absorbed_by_inserting_frames() {
        for seed in 7..=9 {
            let report = simulation(seed, -5_000).run();
            let stats = report.stats;
            // About 45 frames too few; each is one inserted tick.
            let net = stats.inserted as i64 - stats.dropped_for_drift as i64;
            assert!((35..=55).contains(&net), "{report:?}");
            assert!((report.late_first_copies as f64) < report.sent as f64 * 0.01);
            assert!(report.in_time > 0 && report.never_arrived > 0);
        }
    }
}
