//! In-band DTMF generation: the two sines of a digit (ITU-T Q.23), summed
//! into 8 kHz 16-bit audio, sans-IO.
//!
//! The caller pulls samples ([`ToneGenerator::fill`]) or whole frames
//! ([`ToneGenerator::next_frame`]); the phase of each sine carries over from
//! one call to the next, so frames join without clicks, and nothing is
//! allocated.

use std::f64::consts::TAU;
use std::time::Duration;

use super::{Digit, amplitude_from_dbm0};
use crate::audio::{Frame, SAMPLE_RATE};

/// One sine, its phase kept in cycles (0..1) so it never loses precision.
#[derive(Debug, Clone, Copy)]
struct Oscillator {
    phase: f64,
    cycles_per_sample: f64,
    amplitude: f64,
}

impl Oscillator {
    fn new(frequency_hz: f64, level_dbm0: f64) -> Self {
        Self {
            phase: 0.0,
            cycles_per_sample: frequency_hz / f64::from(SAMPLE_RATE),
            amplitude: amplitude_from_dbm0(level_dbm0),
        }
    }

    fn next_sample(&mut self) -> f64 {
        let value = self.amplitude * (TAU * self.phase).sin();
        self.phase += self.cycles_per_sample;
        self.phase -= self.phase.floor();
        value
    }
}

/// Generates a dual tone for a fixed duration.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    low: Oscillator,
    high: Oscillator,
    remaining_samples: u64,
}

impl ToneGenerator {
    /// A digit's two frequencies, each at `level_dbm0`, for `duration`.
    pub fn new(digit: Digit, duration: Duration, level_dbm0: f64) -> Self {
        let (low, high) = digit.frequencies();
        Self::dual_tone(low, high, level_dbm0, level_dbm0, duration)
    }

    /// Any two frequencies at their own levels (twist, off-frequency
    /// tones), for `duration`.
    pub fn dual_tone(
        low_hz: f64,
        high_hz: f64,
        low_level_dbm0: f64,
        high_level_dbm0: f64,
        duration: Duration,
    ) -> Self {
        let samples = duration.as_nanos() * u128::from(SAMPLE_RATE) / 1_000_000_000;
        Self {
            low: Oscillator::new(low_hz, low_level_dbm0),
            high: Oscillator::new(high_hz, high_level_dbm0),
            remaining_samples: u64::try_from(samples).unwrap_or(u64::MAX),
        }
    }

    /// Samples still to come.
    pub fn remaining_samples(&self) -> u64 {
        self.remaining_samples
    }

    /// Whether the whole duration has been generated.
    pub fn is_finished(&self) -> bool {
        self.remaining_samples == 0
    }

    /// Writes the next samples into `out`, as many as fit and remain;
    /// returns how many (the rest of `out` is left alone).
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let count = usize::try_from(self.remaining_samples)
            .unwrap_or(usize::MAX)
            .min(out.len());
        for sample in &mut out[..count] {
            let value = self.low.next_sample() + self.high.next_sample();
            // `as` saturates: a too-loud pair clips instead of wrapping.
            *sample = value.round() as i16;
        }
        self.remaining_samples -= count as u64;
        count
    }

    /// The next 20 ms frame, padded with silence after the end; `None` once
    /// finished.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.is_finished() {
            return None;
        }
        let mut frame = crate::audio::SILENCE;
        self.fill(&mut frame);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::FRAME_SAMPLES;

    fn millis(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn lasts_exactly_the_duration() {
        let mut generator = ToneGenerator::new(Digit::Five, millis(50), -10.0);
        assert_eq!(generator.remaining_samples(), 400);
        let mut frames = 0;
        let mut last = None;
        while let Some(frame) = generator.next_frame() {
            frames += 1;
            last = Some(frame);
        }
        assert_eq!(frames, 3);
        let last = last.expect("three frames");
        // 400 = 2 * 160 + 80: the third frame is half tone, half silence.
        assert!(last[..80].iter().any(|&s| s != 0));
        assert!(last[80..].iter().all(|&s| s == 0));
        assert!(generator.is_finished());
        assert_eq!(generator.fill(&mut [0; 10]), 0);
    }

    #[test]
    fn frames_join_without_a_phase_jump() {
        // One long call and many odd-sized calls give the same samples.
        let mut whole = ToneGenerator::new(Digit::Pound, millis(100), -6.0);
        let mut expected = [0i16; 800];
        assert_eq!(whole.fill(&mut expected), 800);

        let mut pieces = ToneGenerator::new(Digit::Pound, millis(100), -6.0);
        let mut actual = [0i16; 800];
        let mut at = 0;
        for size in [1, 7, 160, 33, 160, 99].into_iter().cycle() {
            let end = (at + size).min(800);
            at += pieces.fill(&mut actual[at..end]);
            if at == 800 {
                break;
            }
        }
        assert_eq!(actual, expected);
    }

    #[test]
    fn level_is_the_sum_of_two_sines_at_the_given_dbm0() {
        let mut generator = ToneGenerator::new(Digit::One, millis(1000), -10.0);
        let mut samples = [0i16; 8000];
        generator.fill(&mut samples);
        let power: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 8000.0;
        let amplitude = amplitude_from_dbm0(-10.0);
        let expected = 2.0 * amplitude * amplitude / 2.0;
        assert!(
            (power / expected - 1.0).abs() < 0.01,
            "{power} vs {expected}"
        );
    }

    #[test]
    fn loud_pairs_clip_instead_of_wrapping() {
        let mut generator = ToneGenerator::new(Digit::D, millis(20), 3.0);
        let frame = generator.next_frame().expect("one frame");
        assert_eq!(frame.len(), FRAME_SAMPLES);
        assert!(frame.contains(&i16::MAX) || frame.contains(&i16::MIN));
    }
}
