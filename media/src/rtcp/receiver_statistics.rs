//! Reception statistics of one remote source (RFC 3550 §6.4.1, §A.1, §A.3,
//! §A.8): highest extended sequence number, cumulative and interval loss,
//! interarrival jitter, counters and duplicates, and the LSR/DLSR pair to
//! echo back in our next report.
//!
//! Loss is computed over unique packets: duplicates detected within the
//! last [`DUPLICATE_WINDOW`] sequence numbers are counted apart instead of
//! offsetting losses as the plain §A.3 count would.

use std::time::{Duration, Instant};

use super::ReceptionReport;
use super::ntp_time::{NtpTimestamp, to_short_ntp_units};
use super::quality::JitterSummary;
use crate::rtp::{RtpHeader, RtpTimestamp, SequenceTracker, SequenceUpdate, Ssrc};

/// How far back (in sequence numbers) duplicates are detected.
pub const DUPLICATE_WINDOW: u64 = 128;

/// Statistics about the RTP packets received from one source.
#[derive(Debug, Clone)]
pub struct ReceiverStatistics {
    ssrc: Ssrc,
    clock_rate: u32,
    sequence: Option<SequenceTracker>,
    /// Unique valid packets since the source (re)started.
    received: u64,
    duplicates: u64,
    octets: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Bit `i` set: `highest - i` was received.
    recent: u128,
    /// Interarrival jitter in timestamp units, unscaled (§A.8 keeps it ×16
    /// in integers; a float keeps the same estimator exactly enough).
    jitter: f64,
    last_arrival: Option<LastArrival>,
    arrival_origin: Option<Instant>,
    jitter_summary: JitterSummary,
    last_sender_report: Option<(NtpTimestamp, Instant)>,
    last_packet_at: Option<Instant>,
}

/// Arrival of the previous packet, for the transit-time difference of §A.8.
#[derive(Debug, Clone, Copy)]
struct LastArrival {
    arrival_ticks: i64,
    timestamp: RtpTimestamp,
}

impl ReceiverStatistics {
    /// Empty statistics for `ssrc`, whose payloads are clocked at
    /// `clock_rate` Hz.
    pub fn new(ssrc: Ssrc, clock_rate: u32) -> Self {
        Self {
            ssrc,
            clock_rate,
            sequence: None,
            received: 0,
            duplicates: 0,
            octets: 0,
            expected_prior: 0,
            received_prior: 0,
            recent: 0,
            jitter: 0.0,
            last_arrival: None,
            arrival_origin: None,
            jitter_summary: JitterSummary::default(),
            last_sender_report: None,
            last_packet_at: None,
        }
    }

    /// The source.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Records an RTP packet of this source that arrived at `now`, with a
    /// payload of `payload_len` bytes. Returns how the sequence number was
    /// taken (§A.1).
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        header: &RtpHeader,
        payload_len: usize,
    ) -> SequenceUpdate {
        let tracker = self
            .sequence
            .get_or_insert_with(|| SequenceTracker::new(header.sequence_number));
        let highest_before = tracker.extended_highest();
        let update = tracker.update(header.sequence_number);
        let counted = match update {
            SequenceUpdate::Probation | SequenceUpdate::Jumped => false,
            SequenceUpdate::Started { .. } => {
                self.received = 0;
                self.duplicates = 0;
                self.octets = 0;
                self.expected_prior = 0;
                self.received_prior = 0;
                self.recent = 1;
                self.jitter = 0.0;
                self.last_arrival = None;
                true
            }
            SequenceUpdate::Advanced { extended } => {
                let shift = extended - highest_before.unwrap_or(extended);
                self.recent = if shift >= DUPLICATE_WINDOW {
                    1
                } else {
                    (self.recent << shift) | 1
                };
                true
            }
            SequenceUpdate::Late { extended } => {
                let back = extended.zip(highest_before).map(|(late, high)| high - late);
                match back {
                    Some(back) if back < DUPLICATE_WINDOW => {
                        let bit = 1u128 << back;
                        if self.recent & bit != 0 {
                            self.duplicates += 1;
                            false
                        } else {
                            self.recent |= bit;
                            true
                        }
                    }
                    _ => true,
                }
            }
        };
        if counted {
            self.received += 1;
            self.octets += payload_len as u64;
            self.last_packet_at = Some(now);
            self.update_jitter(now, header.timestamp);
        }
        update
    }

    /// Records a sender report from this source received at `now`: its
    /// NTP timestamp becomes the LSR of our next reception report.
    pub fn handle_sender_report(&mut self, now: Instant, ntp_timestamp: NtpTimestamp) {
        self.last_sender_report = Some((ntp_timestamp, now));
    }

    /// The reception report block for this source at `now`, or `None` while
    /// the source is not valid (§A.1 probation). Starts a new interval for
    /// the fraction lost (§A.3).
    pub fn reception_report(&mut self, now: Instant) -> Option<ReceptionReport> {
        let expected = self.expected()?;
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval == 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        };
        let (last_sender_report, delay_since_last_sender_report) = match self.last_sender_report {
            Some((ntp, at)) => (
                ntp.middle_32(),
                to_short_ntp_units(now.saturating_duration_since(at)),
            ),
            None => (0, 0),
        };
        Some(ReceptionReport {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.packets_lost().clamp(
                i64::from(ReceptionReport::MIN_CUMULATIVE_LOST),
                i64::from(ReceptionReport::MAX_CUMULATIVE_LOST),
            ) as i32,
            extended_highest_sequence_number: self.extended_highest()? as u32,
            interarrival_jitter: self.jitter.round() as u32,
            last_sender_report,
            delay_since_last_sender_report,
        })
    }

    /// Highest extended sequence number received, once the source is valid.
    pub fn extended_highest(&self) -> Option<u64> {
        self.sequence.as_ref()?.extended_highest()
    }

    /// Packets expected since the source became valid (§A.3).
    pub fn expected(&self) -> Option<u64> {
        let tracker = self.sequence.as_ref()?;
        Some(tracker.extended_highest()? - tracker.base()? + 1)
    }

    /// Packets lost since the source became valid: expected minus unique
    /// packets received (negative only if packets older than the duplicate
    /// window were repeated).
    pub fn packets_lost(&self) -> i64 {
        self.expected()
            .map_or(0, |expected| expected as i64 - self.received as i64)
    }

    /// Unique valid packets received.
    pub fn packets_received(&self) -> u64 {
        self.received
    }

    /// Payload octets of those packets.
    pub fn octets_received(&self) -> u64 {
        self.octets
    }

    /// Duplicate packets detected (not counted as received).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Current interarrival jitter in timestamp units.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Current interarrival jitter as a duration.
    pub fn jitter_duration(&self) -> Duration {
        Duration::from_secs_f64(self.jitter / f64::from(self.clock_rate))
    }

    /// When the last counted packet arrived.
    pub fn last_packet_at(&self) -> Option<Instant> {
        self.last_packet_at
    }

    /// The payload clock rate in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Takes the payload clock to be `clock_rate` Hz from now on (a
    /// re-INVITE changed the codec): the jitter estimate is rescaled and
    /// the next packet starts the transit comparison afresh.
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        if clock_rate == self.clock_rate || clock_rate == 0 {
            return;
        }
        self.jitter *= f64::from(clock_rate) / f64::from(self.clock_rate);
        self.clock_rate = clock_rate;
        self.last_arrival = None;
    }

    pub(crate) fn jitter_summary(&self) -> JitterSummary {
        self.jitter_summary
    }

    /// §A.8: `J += (|D| - J) / 16` with `D` the difference of relative
    /// transit times of this packet and the previous one.
    fn update_jitter(&mut self, now: Instant, timestamp: RtpTimestamp) {
        let origin = *self.arrival_origin.get_or_insert(now);
        let elapsed = now.saturating_duration_since(origin);
        let arrival_ticks = clock_ticks(elapsed, self.clock_rate);
        if let Some(last) = self.last_arrival {
            let sent_delta = i64::from(timestamp.wrapping_sub(last.timestamp) as i32);
            let transit_delta = (arrival_ticks - last.arrival_ticks) - sent_delta;
            self.jitter += (transit_delta.unsigned_abs() as f64 - self.jitter) / 16.0;
            self.jitter_summary
                .record(self.jitter / f64::from(self.clock_rate));
        }
        self.last_arrival = Some(LastArrival {
            arrival_ticks,
            timestamp,
        });
    }
}

/// `elapsed` in whole ticks of a `clock_rate` Hz clock, as
/// `(elapsed.as_nanos() * clock_rate / 10^9) as i64` computes it, without
/// its 128-bit division (a library call costing more than the rest of a
/// packet's statistics): the whole seconds contribute `secs * clock_rate`
/// exactly, so only the sub-second part is divided, in 64 bits.
fn clock_ticks(elapsed: Duration, clock_rate: u32) -> i64 {
    let rate = u64::from(clock_rate);
    let whole = elapsed.as_secs().wrapping_mul(rate);
    let fraction = u64::from(elapsed.subsec_nanos()) * rate / 1_000_000_000;
    whole.wrapping_add(fraction) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{PayloadType, SequenceNumber};
    use crate::test_epoch;

    fn header(sequence_number: u16, timestamp: u32) -> RtpHeader {
        RtpHeader {
            marker: false,
            payload_type: PayloadType::PCMU,
            sequence_number: SequenceNumber::new(sequence_number),
            timestamp: RtpTimestamp::new(timestamp),
            ssrc: Ssrc::new(0x1234),
        }
    }

    /// A small deterministic generator for the seeded sequences.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    proptest::proptest! {
        #[test]
        fn clock_ticks_equal_the_128_bit_formula(
            secs in proptest::prelude::any::<u64>(),
            nanos in 0u32..1_000_000_000,
            clock_rate in proptest::prelude::any::<u32>(),
        ) {
            let elapsed = Duration::new(secs, nanos);
            let reference =
                (elapsed.as_nanos() * u128::from(clock_rate) / 1_000_000_000) as i64;
            proptest::prop_assert_eq!(clock_ticks(elapsed, clock_rate), reference);
        }
    }

    #[test]
    fn a_steady_stream_has_no_loss_and_no_jitter() {
        let epoch = test_epoch();
        let mut statistics = ReceiverStatistics::new(Ssrc::new(0x1234), 8000);
        for index in 0..100u16 {
            let now = epoch + Duration::from_millis(20 * u64::from(index));
            statistics.handle_rtp(
                now,
                &header(65500u16.wrapping_add(index), 160 * u32::from(index)),
                160,
            );
        }
        // The first packet is spent on probation (§A.1).
        assert_eq!(statistics.packets_received(), 99);
        assert_eq!(statistics.expected(), Some(99));
        assert_eq!(statistics.extended_highest(), Some(65500 + 99));
        let report = statistics
            .reception_report(epoch + Duration::from_secs(2))
            .unwrap();
        assert_eq!(report.cumulative_lost, 0);
        assert_eq!(report.fraction_lost, 0);
        assert_eq!(report.interarrival_jitter, 0);
        assert_eq!(report.extended_highest_sequence_number, 65599);
        assert_eq!(statistics.octets_received(), 99 * 160);
    }

    #[test]
    fn seeded_loss_reorder_and_duplicates_are_counted() {
        let epoch = test_epoch();
        let mut statistics = ReceiverStatistics::new(Ssrc::new(0x1234), 8000);
        let mut rng = 7u64;
        // Build the arrival order: 1000 packets, ~5% lost, ~5% duplicated,
        // ~5% swapped with their successor, send jitter of up to 9 ms.
        let mut arrivals: Vec<(u16, u64)> = Vec::new();
        let mut lost = 0u64;
        let mut duplicated = 0u64;
        for index in 0..1000u64 {
            let roll = splitmix(&mut rng) % 100;
            let delay = splitmix(&mut rng) % 10;
            let at = index * 20 + delay;
            // Keep the first two for probation and the last for the span.
            if (2..999).contains(&index) && roll < 5 {
                lost += 1;
                continue;
            }
            arrivals.push((index as u16, at));
            if (2..999).contains(&index) && (5..10).contains(&roll) {
                duplicated += 1;
                arrivals.push((index as u16, at + 1));
            }
            if (2..998).contains(&index) && (10..15).contains(&roll) {
                let last = arrivals.len() - 1;
                arrivals[last].1 += 25;
            }
        }
        arrivals.sort_by_key(|&(_, at)| at);
        for &(sequence_number, at) in &arrivals {
            statistics.handle_rtp(
                epoch + Duration::from_millis(at),
                &header(sequence_number, 160 * u32::from(sequence_number)),
                160,
            );
        }
        // Packet 0 went to probation; 1 is the base.
        assert_eq!(statistics.expected(), Some(999));
        assert_eq!(statistics.packets_lost(), lost as i64);
        assert_eq!(statistics.duplicates(), duplicated);
        assert_eq!(statistics.packets_received(), 999 - lost);
        let report = statistics
            .reception_report(epoch + Duration::from_secs(21))
            .unwrap();
        assert_eq!(report.cumulative_lost, lost as i32);
        assert_eq!(report.fraction_lost, ((lost << 8) / 999) as u8);
        // Up to 9 ms of uniform send jitter plus reordering: a few ms.
        let jitter_ms = statistics.jitter_duration().as_secs_f64() * 1000.0;
        assert!((1.0..15.0).contains(&jitter_ms), "jitter {jitter_ms} ms");
        // Nothing new since: the next interval has no loss.
        let next = statistics
            .reception_report(epoch + Duration::from_secs(22))
            .unwrap();
        assert_eq!(next.fraction_lost, 0);
        assert_eq!(next.cumulative_lost, lost as i32);
    }

    #[test]
    fn jitter_follows_rfc_3550_a8_on_a_known_pattern() {
        let epoch = test_epoch();
        let mut statistics = ReceiverStatistics::new(Ssrc::new(1), 8000);
        // Every other packet arrives 10 ms (80 ticks) late.
        let mut expected = 0.0f64;
        for index in 0..50u16 {
            let late = if index % 2 == 1 { 10 } else { 0 };
            let now = epoch + Duration::from_millis(20 * u64::from(index) + late);
            statistics.handle_rtp(now, &header(index, 160 * u32::from(index)), 160);
            if index >= 2 {
                expected += (80.0 - expected) / 16.0;
            }
        }
        assert!((statistics.jitter() - expected).abs() < 1e-9);
    }

    #[test]
    fn lsr_and_dlsr_echo_the_last_sender_report() {
        let epoch = test_epoch();
        let mut statistics = ReceiverStatistics::new(Ssrc::new(1), 8000);
        statistics.handle_rtp(epoch, &header(1, 0), 160);
        statistics.handle_rtp(epoch, &header(2, 160), 160);
        statistics.handle_sender_report(epoch, NtpTimestamp::new(0x0001_0002_0003_0004));
        let report = statistics
            .reception_report(epoch + Duration::from_millis(1500))
            .unwrap();
        assert_eq!(report.last_sender_report, 0x0002_0003);
        assert_eq!(report.delay_since_last_sender_report, 98_304);
    }
}
