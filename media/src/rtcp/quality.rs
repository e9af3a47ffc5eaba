//! The call-quality summary written to a CDR: packets sent and received,
//! loss, jitter and round-trip time of one media leg, from our own
//! reception statistics and the RTCP reports of the far end.

use std::time::Duration;

/// Quality of one media leg over the whole call.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QualityStats {
    /// RTP packets we sent.
    pub packets_sent: u64,
    /// Unique RTP packets we received (all remote sources).
    pub packets_received: u64,
    /// Packets lost towards us: expected minus received.
    pub packets_lost: i64,
    /// `packets_lost` over packets expected, 0.0 to 1.0.
    pub loss_fraction: f64,
    /// Duplicate packets we received.
    pub duplicates: u64,
    /// Highest interarrival jitter seen, in milliseconds.
    pub max_jitter_ms: f64,
    /// Mean interarrival jitter over all packets, in milliseconds.
    pub mean_jitter_ms: f64,
    /// Mean round-trip time from the far end's reports (RFC 3550 §6.4.1),
    /// in milliseconds, when it could be measured.
    pub round_trip_time_ms: Option<f64>,
    /// Cumulative loss the far end last reported about our stream.
    pub remote_packets_lost: Option<i64>,
    /// Jitter the far end last reported about our stream, in milliseconds.
    pub remote_jitter_ms: Option<f64>,
}

/// Running maximum and mean of a jitter estimate, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct JitterSummary {
    max: f64,
    sum: f64,
    samples: u64,
}

impl JitterSummary {
    pub(crate) fn record(&mut self, jitter_seconds: f64) {
        self.max = self.max.max(jitter_seconds);
        self.sum += jitter_seconds;
        self.samples += 1;
    }

    pub(crate) fn merge(&mut self, other: Self) {
        self.max = self.max.max(other.max);
        self.sum += other.sum;
        self.samples += other.samples;
    }

    pub(crate) fn max_ms(&self) -> f64 {
        self.max * 1000.0
    }

    pub(crate) fn mean_ms(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.sum / self.samples as f64 * 1000.0
        }
    }
}

/// Running mean of round-trip times.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct RoundTripSummary {
    sum: Duration,
    samples: u32,
    latest: Option<Duration>,
}

impl RoundTripSummary {
    pub(crate) fn record(&mut self, round_trip_time: Duration) {
        self.sum += round_trip_time;
        self.samples += 1;
        self.latest = Some(round_trip_time);
    }

    pub(crate) fn latest(&self) -> Option<Duration> {
        self.latest
    }

    pub(crate) fn mean_ms(&self) -> Option<f64> {
        (self.samples > 0).then(|| (self.sum / self.samples).as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_summaries_merge() {
        let mut first = JitterSummary::default();
        first.record(0.002);
        first.record(0.004);
        let mut second = JitterSummary::default();
        second.record(0.009);
        first.merge(second);
        assert!((first.max_ms() - 9.0).abs() < 1e-9);
        assert!((first.mean_ms() - 5.0).abs() < 1e-9);
        assert_eq!(JitterSummary::default().mean_ms(), 0.0);
    }

    #[test]
    fn round_trip_mean() {
        let mut summary = RoundTripSummary::default();
        assert_eq!(summary.mean_ms(), None);
        summary.record(Duration::from_millis(40));
        summary.record(Duration::from_millis(60));
        assert_eq!(summary.mean_ms(), Some(50.0));
        assert_eq!(summary.latest(), Some(Duration::from_millis(60)));
    }
}
