//! RTP time and numbering made monotonic: 16-bit sequence numbers unwrapped
//! into 64-bit extended sequence numbers with the source validation of
//! RFC 3550 §A.1, and 32-bit timestamps unwrapped into a 64-bit
//! [`MediaTime`].
//!
//! The sequence tracker is the `update_seq` state machine of §A.1:
//!
//! ```text
//!             2 in-sequence packets (MIN_SEQUENTIAL)
//!   Probation ───────────────────────────────────────► Valid
//!     ▲  │ out of sequence: probation restarts           │ │ jump ≥ MAX_DROPOUT:
//!     └──┘                                               │ │ remembered as bad_seq,
//!                                                        │ │ packet dropped
//!              next packet is bad_seq: re-sync (Started) │ │
//!                                              ◄─────────┘◄┘
//! ```

use std::time::Duration;

use super::{RtpTimestamp, SequenceNumber};

/// A point on an RTP clock without wrap-around: a 64-bit tick count and the
/// clock rate in Hz it counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaTime {
    ticks: u64,
    clock_rate: u32,
}

impl MediaTime {
    /// `ticks` of a `clock_rate` Hz clock.
    ///
    /// # Panics
    /// If `clock_rate` is 0: a clock rate comes from our own configuration
    /// or a negotiated `a=rtpmap`, never 0.
    pub const fn new(ticks: u64, clock_rate: u32) -> Self {
        assert!(clock_rate > 0, "an RTP clock rate is never 0");
        Self { ticks, clock_rate }
    }

    /// The tick count.
    pub const fn ticks(self) -> u64 {
        self.ticks
    }

    /// The clock rate in Hz.
    pub const fn clock_rate(self) -> u32 {
        self.clock_rate
    }

    /// The time since tick 0 as a duration.
    pub const fn as_duration(self) -> Duration {
        let rate = self.clock_rate as u64;
        let seconds = self.ticks / rate;
        let rest = self.ticks % rate;
        // rest < rate ≤ 2^32, so rest * 1e9 fits in u64.
        Duration::new(seconds, (rest * 1_000_000_000 / rate) as u32)
    }

    /// `duration` in ticks of a `clock_rate` Hz clock, rounded down.
    pub fn from_duration(duration: Duration, clock_rate: u32) -> Self {
        let ticks = duration.as_nanos() * u128::from(clock_rate) / 1_000_000_000;
        Self::new(u64::try_from(ticks).unwrap_or(u64::MAX), clock_rate)
    }
}

/// Unwraps 32-bit RTP timestamps into [`MediaTime`]: each timestamp is
/// placed within ±2^31 ticks of the previous one, so a stream may wrap any
/// number of times and still be reordered by less than half the range.
#[derive(Debug, Clone)]
pub struct TimestampUnwrapper {
    clock_rate: u32,
    last: Option<(RtpTimestamp, u64)>,
}

impl TimestampUnwrapper {
    /// An unwrapper for a `clock_rate` Hz stream; the first timestamp seen
    /// maps to its own 32-bit value.
    pub const fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            last: None,
        }
    }

    /// The extended time of `timestamp`. Timestamps before the first one by
    /// more than its value saturate at 0.
    pub fn unwrap(&mut self, timestamp: RtpTimestamp) -> MediaTime {
        let extended = match self.last {
            None => u64::from(timestamp.get()),
            Some((last, extended)) => {
                let delta = timestamp.wrapping_sub(last) as i32;
                extended.saturating_add_signed(i64::from(delta))
            }
        };
        self.last = Some((timestamp, extended));
        MediaTime::new(extended, self.clock_rate)
    }
}

/// Maps the 32-bit RTP timestamps of a clock `divisor` times faster than
/// ours onto ours (Opus's 48 kHz onto the engine's 8 kHz: ÷6), so that
/// both sides keep 32-bit wrap-around arithmetic: a step of `n·divisor`
/// ticks in is a step of `n` out, across any number of wraps, and a
/// reordered timestamp within ±2^31 ticks maps consistently.
#[derive(Debug, Clone, Copy)]
pub struct TimestampScaler {
    divisor: u32,
    /// A timestamp in and its image out; moves forward with the stream.
    anchor: Option<(RtpTimestamp, RtpTimestamp)>,
}

impl TimestampScaler {
    /// A scaler dividing by `divisor` (1: the identity).
    pub const fn new(divisor: u32) -> Self {
        Self {
            divisor: if divisor == 0 { 1 } else { divisor },
            anchor: None,
        }
    }

    /// The divisor.
    pub const fn divisor(&self) -> u32 {
        self.divisor
    }

    /// The image of `timestamp` on our clock, rounded down.
    pub fn scale(&mut self, timestamp: RtpTimestamp) -> RtpTimestamp {
        if self.divisor == 1 {
            return timestamp;
        }
        let divisor = i64::from(self.divisor);
        let Some((from, to)) = self.anchor else {
            let image = RtpTimestamp::new(timestamp.get() / self.divisor);
            self.anchor = Some((timestamp, image));
            return image;
        };
        let delta = i64::from(timestamp.wrapping_sub(from) as i32);
        let steps = delta.div_euclid(divisor);
        let image = to.wrapping_add(steps as u32);
        if steps > 0 {
            // Forward only, by whole steps: later timestamps stay exact.
            self.anchor = Some((from.wrapping_add((steps * divisor) as u32), image));
        }
        image
    }
}

/// RFC 3550 §A.1 `MAX_DROPOUT`: the largest forward jump accepted as loss.
pub const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 §A.1 `MAX_MISORDER`: the largest backward step accepted as
/// reordering.
pub const MAX_MISORDER: u16 = 100;
/// RFC 3550 §A.1 `MIN_SEQUENTIAL`: in-sequence packets needed before a new
/// source is valid.
pub const MIN_SEQUENTIAL: u8 = 2;

const SEQUENCE_MODULUS: u64 = 1 << 16;

/// What one received sequence number meant to the source's validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceUpdate {
    /// The source is still on probation; the packet does not count.
    Probation,
    /// The source became valid with this packet (probation passed, or a
    /// re-sync after a large jump): per-source counters restart here.
    Started {
        /// Extended sequence number of the packet.
        extended: u64,
    },
    /// The newest packet so far, possibly after a gap of lost packets.
    Advanced {
        /// Extended sequence number of the packet.
        extended: u64,
    },
    /// Not newer than the highest seen: late, reordered or a duplicate.
    Late {
        /// Extended sequence number, `None` if it falls before the first
        /// cycle.
        extended: Option<u64>,
    },
    /// A jump too large to be loss or reordering: the packet is dropped,
    /// and if the next one follows it the source re-syncs.
    Jumped,
}

/// The §A.1 validation state of one source.
#[derive(Debug, Clone, Copy)]
enum SequenceState {
    Probation {
        max: SequenceNumber,
        remaining: u8,
    },
    Valid {
        base: u64,
        max: SequenceNumber,
        /// Wraps counted so far, times 2^16 (`cycles` of §A.1).
        cycles: u64,
        /// The sequence number that would confirm a large jump.
        bad: Option<SequenceNumber>,
    },
}

/// Extends 16-bit sequence numbers of one source to 64 bits and validates
/// the source as RFC 3550 §A.1 does.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    state: SequenceState,
}

impl SequenceTracker {
    /// Starts probation with the first packet's sequence number (`init_seq`
    /// followed by `max_seq = seq - 1; probation = MIN_SEQUENTIAL`): that
    /// packet itself is the first probation step, so call
    /// [`update`](Self::update) with it too.
    pub const fn new(first: SequenceNumber) -> Self {
        Self {
            state: SequenceState::Probation {
                max: SequenceNumber::new(first.get().wrapping_sub(1)),
                remaining: MIN_SEQUENTIAL,
            },
        }
    }

    /// Feeds one received sequence number (`update_seq` of §A.1).
    pub fn update(&mut self, sequence_number: SequenceNumber) -> SequenceUpdate {
        match self.state {
            SequenceState::Probation { max, remaining } => {
                if sequence_number == max.wrapping_add(1) {
                    if remaining <= 1 {
                        self.restart(sequence_number);
                        return SequenceUpdate::Started {
                            extended: u64::from(sequence_number.get()),
                        };
                    }
                    self.state = SequenceState::Probation {
                        max: sequence_number,
                        remaining: remaining - 1,
                    };
                } else {
                    self.state = SequenceState::Probation {
                        max: sequence_number,
                        remaining: MIN_SEQUENTIAL - 1,
                    };
                }
                SequenceUpdate::Probation
            }
            SequenceState::Valid {
                base,
                max,
                cycles,
                bad,
            } => {
                let delta = sequence_number.wrapping_sub(max);
                if delta < MAX_DROPOUT {
                    if delta == 0 {
                        return SequenceUpdate::Late {
                            extended: Some(cycles + u64::from(max.get())),
                        };
                    }
                    // In order, with a permissible gap.
                    let cycles = if sequence_number.get() < max.get() {
                        cycles + SEQUENCE_MODULUS
                    } else {
                        cycles
                    };
                    self.state = SequenceState::Valid {
                        base,
                        max: sequence_number,
                        cycles,
                        bad,
                    };
                    SequenceUpdate::Advanced {
                        extended: cycles + u64::from(sequence_number.get()),
                    }
                } else if u64::from(delta) <= SEQUENCE_MODULUS - u64::from(MAX_MISORDER) {
                    // A very large jump: accept it only if the next packet
                    // follows it (the sender restarted).
                    if bad == Some(sequence_number) {
                        self.restart(sequence_number);
                        SequenceUpdate::Started {
                            extended: u64::from(sequence_number.get()),
                        }
                    } else {
                        self.state = SequenceState::Valid {
                            base,
                            max,
                            cycles,
                            bad: Some(sequence_number.wrapping_add(1)),
                        };
                        SequenceUpdate::Jumped
                    }
                } else {
                    // Duplicate or reordered: before `max`, maybe across a wrap.
                    let extended = if sequence_number.get() > max.get() {
                        cycles.checked_sub(SEQUENCE_MODULUS)
                    } else {
                        Some(cycles)
                    }
                    .map(|cycles| cycles + u64::from(sequence_number.get()));
                    SequenceUpdate::Late { extended }
                }
            }
        }
    }

    /// The extended sequence number of the first valid packet (`base_seq`),
    /// once the source is valid.
    pub fn base(&self) -> Option<u64> {
        match self.state {
            SequenceState::Probation { .. } => None,
            SequenceState::Valid { base, .. } => Some(base),
        }
    }

    /// The highest extended sequence number received, once the source is
    /// valid.
    pub fn extended_highest(&self) -> Option<u64> {
        match self.state {
            SequenceState::Probation { .. } => None,
            SequenceState::Valid { max, cycles, .. } => Some(cycles + u64::from(max.get())),
        }
    }

    /// `init_seq` of §A.1.
    fn restart(&mut self, sequence_number: SequenceNumber) {
        self.state = SequenceState::Valid {
            base: u64::from(sequence_number.get()),
            max: sequence_number,
            cycles: 0,
            bad: None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_48khz_stream_scales_to_8khz_across_the_wrap() {
        let mut scaler = TimestampScaler::new(6);
        let start = RtpTimestamp::new(u32::MAX - 2 * 960 + 1);
        let first = scaler.scale(start);
        for frame in 1..10u32 {
            let image = scaler.scale(start.wrapping_add(frame * 960));
            assert_eq!(image.wrapping_sub(first), frame * 160, "frame {frame}");
        }
        // A reordered, earlier packet maps back where it belongs.
        let late = scaler.scale(start.wrapping_add(3 * 960));
        assert_eq!(late.wrapping_sub(first), 3 * 160);
        // A packet 2.5 ms into a frame rounds down.
        let odd = scaler.scale(start.wrapping_add(4 * 960 + 120));
        assert_eq!(odd.wrapping_sub(first), 4 * 160 + 20);
        assert_eq!(TimestampScaler::new(1).scale(start), start);
    }

    proptest! {
        #[test]
        fn scaled_steps_are_the_steps_divided(
            start in any::<u32>(),
            steps in proptest::collection::vec(-20_000i32..200_000, 1..50),
        ) {
            let mut scaler = TimestampScaler::new(6);
            let start = RtpTimestamp::new(start);
            let first = scaler.scale(start);
            let mut position: i64 = 0;
            for step in steps {
                position += i64::from(step) * 6;
                let image = scaler.scale(start.wrapping_add(position as u32));
                prop_assert_eq!(
                    image.wrapping_sub(first) as i32 as i64,
                    position / 6
                );
            }
        }
    }

    fn valid_tracker(first: u16) -> SequenceTracker {
        let mut tracker = SequenceTracker::new(SequenceNumber::new(first));
        assert_eq!(
            tracker.update(SequenceNumber::new(first)),
            SequenceUpdate::Probation
        );
        assert_eq!(
            tracker.update(SequenceNumber::new(first.wrapping_add(1))),
            SequenceUpdate::Started {
                extended: u64::from(first.wrapping_add(1))
            }
        );
        tracker
    }

    #[test]
    fn media_time_converts_to_durations() {
        let time = MediaTime::new(8000 * 3 + 160, 8000);
        assert_eq!(time.as_duration(), Duration::from_millis(3020));
        assert_eq!(
            MediaTime::from_duration(Duration::from_millis(20), 8000).ticks(),
            160
        );
    }

    #[test]
    fn timestamps_unwrap_across_the_wrap_and_back() {
        let mut unwrapper = TimestampUnwrapper::new(8000);
        assert_eq!(
            unwrapper.unwrap(RtpTimestamp::new(u32::MAX - 159)).ticks(),
            u64::from(u32::MAX) - 159
        );
        assert_eq!(unwrapper.unwrap(RtpTimestamp::new(0)).ticks(), 1 << 32);
        // A reordered packet from before the wrap.
        assert_eq!(
            unwrapper.unwrap(RtpTimestamp::new(u32::MAX - 159)).ticks(),
            u64::from(u32::MAX) - 159
        );
        assert_eq!(
            unwrapper.unwrap(RtpTimestamp::new(160)).ticks(),
            (1 << 32) + 160
        );
    }

    #[test]
    fn probation_needs_two_sequential_packets() {
        let mut tracker = SequenceTracker::new(SequenceNumber::new(10));
        assert_eq!(
            tracker.update(SequenceNumber::new(10)),
            SequenceUpdate::Probation
        );
        // Out of sequence: probation starts over from 50.
        assert_eq!(
            tracker.update(SequenceNumber::new(50)),
            SequenceUpdate::Probation
        );
        assert_eq!(tracker.base(), None);
        assert_eq!(
            tracker.update(SequenceNumber::new(51)),
            SequenceUpdate::Started { extended: 51 }
        );
        assert_eq!(tracker.base(), Some(51));
    }

    #[test]
    fn sequence_numbers_extend_across_the_wrap() {
        let mut tracker = valid_tracker(65534);
        assert_eq!(
            tracker.update(SequenceNumber::new(1)),
            SequenceUpdate::Advanced { extended: 65537 }
        );
        // 0 was reordered behind 1.
        assert_eq!(
            tracker.update(SequenceNumber::new(0)),
            SequenceUpdate::Late {
                extended: Some(65536)
            }
        );
        assert_eq!(
            tracker.update(SequenceNumber::new(1)),
            SequenceUpdate::Late {
                extended: Some(65537)
            }
        );
        assert_eq!(tracker.extended_highest(), Some(65537));
    }

    #[test]
    fn a_large_jump_resyncs_only_when_confirmed() {
        let mut tracker = valid_tracker(100);
        assert_eq!(
            tracker.update(SequenceNumber::new(20_000)),
            SequenceUpdate::Jumped
        );
        assert_eq!(tracker.extended_highest(), Some(101));
        assert_eq!(
            tracker.update(SequenceNumber::new(102)),
            SequenceUpdate::Advanced { extended: 102 }
        );
        assert_eq!(
            tracker.update(SequenceNumber::new(30_000)),
            SequenceUpdate::Jumped
        );
        assert_eq!(
            tracker.update(SequenceNumber::new(30_001)),
            SequenceUpdate::Started { extended: 30_001 }
        );
        assert_eq!(tracker.base(), Some(30_001));
    }

    proptest! {
        #[test]
        fn in_order_streams_extend_by_their_steps(
            first: u16,
            steps in proptest::collection::vec(1u16..MAX_DROPOUT, 1..200),
        ) {
            let mut tracker = valid_tracker(first);
            let mut expected = u64::from(first.wrapping_add(1));
            let mut sequence_number = SequenceNumber::new(first.wrapping_add(1));
            for step in steps {
                sequence_number = sequence_number.wrapping_add(step);
                expected += u64::from(step);
                prop_assert_eq!(
                    tracker.update(sequence_number),
                    SequenceUpdate::Advanced { extended: expected }
                );
            }
            prop_assert_eq!(tracker.extended_highest(), Some(expected));
        }

        #[test]
        fn late_packets_keep_their_extended_number(
            first: u16,
            count in 200u64..70_000,
            back in 1u16..MAX_MISORDER,
        ) {
            let mut tracker = valid_tracker(first);
            let start = u64::from(first.wrapping_add(1));
            for extended in start + 1..start + count {
                tracker.update(SequenceNumber::new(extended as u16));
            }
            let highest = start + count - 1;
            let late = highest - u64::from(back);
            prop_assert_eq!(
                tracker.update(SequenceNumber::new(late as u16)),
                SequenceUpdate::Late { extended: Some(late) }
            );
        }

        #[test]
        fn timestamps_extend_by_their_signed_steps(
            first: u32,
            steps in proptest::collection::vec(-(1i64 << 20)..(1i64 << 31), 1..100),
        ) {
            let mut unwrapper = TimestampUnwrapper::new(8000);
            let mut expected = i128::from(first);
            prop_assert_eq!(unwrapper.unwrap(RtpTimestamp::new(first)).ticks(), u64::from(first));
            let mut timestamp = RtpTimestamp::new(first);
            for step in steps {
                timestamp = RtpTimestamp::new((i64::from(timestamp.get()) + step) as u32);
                expected = (expected + i128::from(step)).max(0);
                prop_assert_eq!(i128::from(unwrapper.unwrap(timestamp).ticks()), expected);
            }
        }
    }
}
