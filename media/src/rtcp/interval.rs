//! The RTCP report interval, RFC 3550 §6.2 and §6.3.1 (`rtcp_interval` of
//! §A.7): a share of 5% of the session bandwidth split between senders and
//! receivers, never below a minimum of 5 s (half that before the first
//! report), and randomised by a factor drawn uniformly from [0.5, 1.5] so
//! that participants do not synchronise.
//!
//! Timer reconsideration (§6.3.3) is not implemented: a media leg has two
//! participants, so the `e - 3/2` compensation that goes with it is not
//! applied either, and the interval stays within [0.5, 1.5] × the
//! deterministic interval.

use std::time::Duration;

/// RFC 3550 §6.2: the recommended minimum interval.
pub const MINIMUM_INTERVAL: Duration = Duration::from_secs(5);

/// Computes successive report intervals from a seeded generator.
#[derive(Debug, Clone)]
pub struct ReportInterval {
    minimum: Duration,
    /// RTCP bandwidth in octets per second, if the session bandwidth is
    /// known.
    rtcp_bandwidth: Option<f64>,
    average_packet_size: f64,
    random_state: u64,
}

impl ReportInterval {
    /// Intervals of at least `minimum`, for a session of
    /// `session_bandwidth` bits per second if known (RTCP gets 5% of it),
    /// randomised from `seed`.
    pub fn new(minimum: Duration, session_bandwidth: Option<u32>, seed: u64) -> Self {
        Self {
            minimum,
            rtcp_bandwidth: session_bandwidth.map(|bits| f64::from(bits) / 8.0 * 0.05),
            // A typical first guess: an RR with one block and an SDES.
            average_packet_size: 100.0,
            random_state: seed,
        }
    }

    /// Folds the size of a compound packet sent or received, plus 28 octets
    /// of UDP/IPv4 header, into the running average (`avg_rtcp_size`).
    pub fn record_packet_size(&mut self, len: usize) {
        let size = (len + 28) as f64;
        self.average_packet_size += (size - self.average_packet_size) / 16.0;
    }

    /// The deterministic interval `Td` (before randomisation) for `members`
    /// participants of which `senders` sent RTP recently, `we_sent` telling
    /// whether we are one of them; `initial` halves the minimum for the
    /// first report.
    pub fn deterministic(
        &self,
        members: usize,
        senders: usize,
        we_sent: bool,
        initial: bool,
    ) -> Duration {
        let minimum = if initial {
            self.minimum / 2
        } else {
            self.minimum
        };
        let Some(bandwidth) = self.rtcp_bandwidth.filter(|bandwidth| *bandwidth > 0.0) else {
            return minimum;
        };
        let members = members.max(1) as f64;
        let senders = senders as f64;
        // §6.3.1: senders share 25% of the RTCP bandwidth when they are
        // fewer than a quarter of the members.
        let (count, share) = if senders > 0.0 && senders <= members * 0.25 {
            if we_sent {
                (senders, 0.25)
            } else {
                (members - senders, 0.75)
            }
        } else {
            (members, 1.0)
        };
        let seconds = count * self.average_packet_size / (bandwidth * share);
        Duration::from_secs_f64(seconds).max(minimum)
    }

    /// The next interval: [`deterministic`](Self::deterministic) times a
    /// factor uniform in [0.5, 1.5].
    pub fn next(
        &mut self,
        members: usize,
        senders: usize,
        we_sent: bool,
        initial: bool,
    ) -> Duration {
        let deterministic = self.deterministic(members, senders, we_sent, initial);
        deterministic.mul_f64(0.5 + self.next_unit())
    }

    /// A number uniform in [0, 1) (SplitMix64).
    fn next_unit(&mut self) -> f64 {
        self.random_state = self.random_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.random_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_stay_within_half_and_one_and_a_half_of_the_minimum() {
        let mut interval = ReportInterval::new(MINIMUM_INTERVAL, Some(80_000), 42);
        let intervals: Vec<Duration> = (0..1000)
            .map(|_| interval.next(2, 2, true, false))
            .collect();
        let low = intervals.iter().min().unwrap();
        let high = intervals.iter().max().unwrap();
        assert!(*low >= Duration::from_millis(2500) && *low < Duration::from_millis(2600));
        assert!(*high <= Duration::from_millis(7500) && *high > Duration::from_millis(7400));
        let mean = intervals.iter().sum::<Duration>() / 1000;
        assert!(mean > Duration::from_millis(4800) && mean < Duration::from_millis(5200));
    }

    #[test]
    fn the_first_interval_uses_half_the_minimum() {
        let mut interval = ReportInterval::new(MINIMUM_INTERVAL, None, 1);
        let first = interval.next(1, 0, false, true);
        assert!(first >= Duration::from_millis(1250) && first <= Duration::from_millis(3750));
    }

    #[test]
    fn the_same_seed_gives_the_same_intervals() {
        let mut first = ReportInterval::new(MINIMUM_INTERVAL, None, 9);
        let mut second = ReportInterval::new(MINIMUM_INTERVAL, None, 9);
        for _ in 0..10 {
            assert_eq!(
                first.next(2, 1, false, false),
                second.next(2, 1, false, false)
            );
        }
    }

    #[test]
    fn a_low_bandwidth_session_stretches_the_interval() {
        // 1 kbit/s: RTCP gets 6.25 octets/s, so 2 members × 100 octets take 32 s.
        let interval = ReportInterval::new(MINIMUM_INTERVAL, Some(1000), 0);
        assert_eq!(
            interval.deterministic(2, 0, false, false),
            Duration::from_secs(32)
        );
    }
}
