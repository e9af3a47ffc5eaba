//! Reporting each DTMF digit once when a phone sends it both ways: as
//! RFC 4733 telephone-events and as in-band tones in the audio (RFC 4733
//! §2.6 asks senders not to, and some do anyway).
//!
//! The two reports of one key press arrive a little apart: the event when
//! its end packet arrives, the tone after the jitter buffer's delay and the
//! detector's windows. Each report of a digit from one source cancels at
//! most one earlier report of the same digit from the other source within
//! [`PAIRING_WINDOW`], so a quickly repeated digit ("11") still counts
//! twice.

use std::time::{Duration, Instant};

use crate::dtmf::Digit;

/// How a digit reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigitSource {
    /// RFC 4733 telephone-event packets.
    Rfc4733,
    /// Tones in the decoded audio (the Goertzel detector).
    InBand,
}

/// How far apart the two reports of one key press may be.
pub const PAIRING_WINDOW: Duration = Duration::from_millis(1000);

/// Reports remembered for pairing; key presses are far rarer than this.
const REMEMBERED: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Report {
    digit: Digit,
    source: DigitSource,
    at: Instant,
}

/// The recent reports, in a fixed array allocated with the first digit (a
/// call without digits, or a relaying leg, carries one pointer).
#[derive(Debug, Clone, Default)]
pub(crate) struct DigitDeduplicator {
    reports: Option<Box<[Option<Report>; REMEMBERED]>>,
}

impl DigitDeduplicator {
    /// Whether a report of `digit` from `source` at `now` is news, rather
    /// than the other source's copy of a digit already reported.
    pub(crate) fn admit(&mut self, now: Instant, digit: Digit, source: DigitSource) -> bool {
        let reports = self
            .reports
            .get_or_insert_with(|| Box::new([None; REMEMBERED]));
        for slot in reports.iter_mut() {
            if slot.is_some_and(|report| now.saturating_duration_since(report.at) > PAIRING_WINDOW)
            {
                *slot = None;
            }
        }
        let twin = reports
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| slot.map(|report| (index, report)))
            .filter(|(_, report)| report.digit == digit && report.source != source)
            .min_by_key(|(_, report)| report.at)
            .map(|(index, _)| index);
        if let Some(index) = twin {
            reports[index] = None;
            return false;
        }
        let report = Report {
            digit,
            source,
            at: now,
        };
        let free = reports.iter().position(Option::is_none).unwrap_or_else(|| {
            // Full: replace the oldest.
            reports
                .iter()
                .enumerate()
                .min_by_key(|(_, slot)| slot.map(|report| report.at))
                .map_or(0, |(index, _)| index)
        });
        reports[free] = Some(report);
        true
    }

    /// Bytes allocated: the reports, once a digit arrived.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.reports
            .as_ref()
            .map_or(0, |reports| std::mem::size_of_val(&**reports))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_epoch;

    #[test]
    fn pairs_one_report_from_each_source() {
        let start = test_epoch();
        let at = |millis| start + Duration::from_millis(millis);
        let mut digits = DigitDeduplicator::default();
        // "11" sent both ways: each event pairs with one tone.
        assert!(digits.admit(at(0), Digit::One, DigitSource::Rfc4733));
        assert!(digits.admit(at(200), Digit::One, DigitSource::Rfc4733));
        assert!(!digits.admit(at(250), Digit::One, DigitSource::InBand));
        assert!(!digits.admit(at(450), Digit::One, DigitSource::InBand));
        // The same source twice is two presses.
        assert!(digits.admit(at(600), Digit::Two, DigitSource::InBand));
        assert!(digits.admit(at(700), Digit::Two, DigitSource::InBand));
        // Too far apart to be the same press.
        assert!(digits.admit(at(5000), Digit::Two, DigitSource::Rfc4733));
        // Another digit never pairs.
        assert!(digits.admit(at(5100), Digit::Three, DigitSource::InBand));
    }
}
