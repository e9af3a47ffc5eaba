//! Counters for `/metrics` (Prometheus text format): the call controller
//! and the CDR writer update them, the API reads them. Plain atomics: no
//! lock on the call path.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The server's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Calls in progress (gauge).
    pub calls_active: AtomicI64,
    /// Calls started since start-up, refused ones included.
    pub calls_total: AtomicU64,
    /// Registered contacts (gauge).
    pub registrations: AtomicI64,
    /// SIP responses sent, by class (1xx … 6xx).
    pub sip_responses: [AtomicU64; 6],
    /// RTP packets received on ended calls' legs.
    pub rtp_packets_received: AtomicU64,
    /// RTP packets lost on the way to us on ended calls' legs.
    pub rtp_packets_lost: AtomicU64,
    /// Records queued for the CDR writer, not yet stored (gauge).
    pub cdr_backlog: AtomicI64,
    /// Records stored.
    pub cdrs_written: AtomicU64,
}

impl Metrics {
    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let load = |value: &AtomicI64| value.load(Ordering::Relaxed);
        let count = |value: &AtomicU64| value.load(Ordering::Relaxed);
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |value: String| vec![(String::new(), value)];
        metric(
            "switchboard_calls_active",
            "gauge",
            "Calls in progress.",
            &one(load(&self.calls_active).to_string()),
        );
        metric(
            "switchboard_calls_total",
            "counter",
            "Calls started (refused ones included); rate() gives calls per second.",
            &one(count(&self.calls_total).to_string()),
        );
        metric(
            "switchboard_registrations",
            "gauge",
            "Registered contacts.",
            &one(load(&self.registrations).to_string()),
        );
        let classes: Vec<(String, String)> = self
            .sip_responses
            .iter()
            .enumerate()
            .map(|(index, value)| {
                (
                    format!("{{class=\"{}xx\"}}", index + 1),
                    count(value).to_string(),
                )
            })
            .collect();
        metric(
            "switchboard_sip_responses_total",
            "counter",
            "SIP responses sent, by class.",
            &classes,
        );
        metric(
            "switchboard_rtp_packets_received_total",
            "counter",
            "RTP packets received on the legs of ended calls.",
            &one(count(&self.rtp_packets_received).to_string()),
        );
        metric(
            "switchboard_rtp_packets_lost_total",
            "counter",
            "RTP packets lost on the way to us, on the legs of ended calls.",
            &one(count(&self.rtp_packets_lost).to_string()),
        );
        metric(
            "switchboard_cdr_backlog",
            "gauge",
            "Call records queued and not yet stored.",
            &one(load(&self.cdr_backlog).to_string()),
        );
        metric(
            "switchboard_cdrs_written_total",
            "counter",
            "Call records stored.",
            &one(count(&self.cdrs_written).to_string()),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_a_help_and_type_line_per_metric() {
        let metrics = Metrics::default();
        metrics.calls_total.store(7, Ordering::Relaxed);
        metrics.sip_responses[3].store(2, Ordering::Relaxed);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE switchboard_calls_total counter\nswitchboard_calls_total 7\n")
        );
        assert!(text.contains("switchboard_sip_responses_total{class=\"4xx\"} 2\n"));
        assert_eq!(
            text.matches("# HELP ").count(),
            text.matches("# TYPE ").count()
        );
        assert!(text.lines().all(|line| {
            line.starts_with('#')
                || line
                    .split_whitespace()
                    .nth(1)
                    .is_some_and(|value| value.parse::<f64>().is_ok())
        }));
    }
}
