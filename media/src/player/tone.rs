//! Call-progress tones: one or two sines switched on and off by a cadence
//! (ITU-T E.180 and its supplement 2, ANSI T1.401 / Telcordia GR-506 for
//! North America, BT SIN 350 for the United Kingdom).
//!
//! A [`ToneSpec`] is plain data (`Copy`, no heap) so a [`TonePlayer`] never
//! allocates. The tones a country uses are a [`ToneTable`]; [`ToneRegion`]
//! names the tables shipped here. Another country's tones are a table built
//! from its E.180 entries:
//!
//! ```
//! use std::time::Duration;
//! use media::player::{Cadence, Repeat, ToneSpec, ToneTable};
//!
//! let ms = Duration::from_millis;
//! // Germany (E.180 Suppl. 2): ringback 425 Hz 1 s on 4 s off; busy 425 Hz 0.48/0.48.
//! let germany = ToneTable {
//!     ringback: ToneSpec::single(425.0, -19.0, Cadence::on_off(ms(1000), ms(4000)), Repeat::Forever),
//!     busy: ToneSpec::single(425.0, -24.0, Cadence::on_off(ms(480), ms(480)), Repeat::Forever),
//!     ..ToneTable::US
//! };
//! assert_eq!(germany.ringback.frequencies(), (425.0, None));
//! ```
//!
//! Each "on" burst starts at phase zero, so it begins without a click; every
//! segment boundary falls on an exact sample (durations are rounded down to
//! 1/8000 s).

use std::f64::consts::TAU;
use std::time::Duration;

use crate::audio::SAMPLE_RATE;
use crate::dtmf::amplitude_from_dbm0;

/// The most on/off segments a cadence holds (E.180 cadences have at most
/// six).
pub const MAX_CADENCE_SEGMENTS: usize = 8;

/// One part of a cadence: tone or silence for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Whether the tone sounds during this segment.
    pub tone_on: bool,
    /// How long it lasts.
    pub duration: Duration,
}

/// The on/off pattern of a tone, played from the first segment to the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    segments: [Segment; MAX_CADENCE_SEGMENTS],
    len: usize,
}

const EMPTY_SEGMENT: Segment = Segment {
    tone_on: false,
    duration: Duration::ZERO,
};

impl Cadence {
    /// A cadence of up to [`MAX_CADENCE_SEGMENTS`] segments; `None` if there
    /// are more.
    pub const fn new(segments: &[Segment]) -> Option<Self> {
        if segments.len() > MAX_CADENCE_SEGMENTS {
            return None;
        }
        let mut all = [EMPTY_SEGMENT; MAX_CADENCE_SEGMENTS];
        let mut index = 0;
        while index < segments.len() {
            all[index] = segments[index];
            index += 1;
        }
        Some(Self {
            segments: all,
            len: segments.len(),
        })
    }

    /// Tone for `on`, then silence for `off`.
    pub const fn on_off(on: Duration, off: Duration) -> Self {
        let mut segments = [EMPTY_SEGMENT; MAX_CADENCE_SEGMENTS];
        segments[0] = Segment {
            tone_on: true,
            duration: on,
        };
        segments[1] = Segment {
            tone_on: false,
            duration: off,
        };
        Self { segments, len: 2 }
    }

    /// Tone for `on` and nothing after (a beep; dial tone when repeated
    /// forever).
    pub const fn steady(on: Duration) -> Self {
        let mut segments = [EMPTY_SEGMENT; MAX_CADENCE_SEGMENTS];
        segments[0] = Segment {
            tone_on: true,
            duration: on,
        };
        Self { segments, len: 1 }
    }

    /// The segments, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments[..self.len]
    }

    /// One pass through all segments.
    pub fn period(&self) -> Duration {
        self.segments().iter().map(|segment| segment.duration).sum()
    }
}

/// How many times the cadence is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Once, then the tone is finished.
    Once,
    /// This many times (0 plays nothing).
    Times(u32),
    /// Until stopped.
    Forever,
}

/// A tone: one or two frequencies, their level and a cadence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSpec {
    low_hz: f64,
    high_hz: Option<f64>,
    /// Level of each frequency, dBm0.
    pub level_dbm0: f64,
    /// The on/off pattern.
    pub cadence: Cadence,
    /// How often the cadence plays.
    pub repeat: Repeat,
}

const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

impl ToneSpec {
    /// A single-frequency tone.
    pub const fn single(
        frequency_hz: f64,
        level_dbm0: f64,
        cadence: Cadence,
        repeat: Repeat,
    ) -> Self {
        Self {
            low_hz: frequency_hz,
            high_hz: None,
            level_dbm0,
            cadence,
            repeat,
        }
    }

    /// Two frequencies summed, each at `level_dbm0`.
    pub const fn dual(
        low_hz: f64,
        high_hz: f64,
        level_dbm0: f64,
        cadence: Cadence,
        repeat: Repeat,
    ) -> Self {
        Self {
            low_hz,
            high_hz: Some(high_hz),
            level_dbm0,
            cadence,
            repeat,
        }
    }

    /// The frequencies, in Hz.
    pub fn frequencies(&self) -> (f64, Option<f64>) {
        (self.low_hz, self.high_hz)
    }

    /// How long the whole tone plays; `None` when it repeats forever.
    pub fn duration(&self) -> Option<Duration> {
        match self.repeat {
            Repeat::Once => Some(self.cadence.period()),
            Repeat::Times(times) => Some(self.cadence.period() * times),
            Repeat::Forever => None,
        }
    }

    /// North American dial tone: 350 + 440 Hz, -13 dBm0, steady.
    pub const US_DIAL: Self = Self::dual(
        350.0,
        440.0,
        -13.0,
        Cadence::steady(ms(1000)),
        Repeat::Forever,
    );
    /// North American audible ringing (ringback): 440 + 480 Hz, -19 dBm0,
    /// 2 s on, 4 s off.
    pub const US_RINGBACK: Self = Self::dual(
        440.0,
        480.0,
        -19.0,
        Cadence::on_off(ms(2000), ms(4000)),
        Repeat::Forever,
    );
    /// North American busy: 480 + 620 Hz, -24 dBm0, 0.5 s on, 0.5 s off.
    pub const US_BUSY: Self = Self::dual(
        480.0,
        620.0,
        -24.0,
        Cadence::on_off(ms(500), ms(500)),
        Repeat::Forever,
    );
    /// North American reorder (fast busy, congestion): 480 + 620 Hz,
    /// -24 dBm0, 0.25 s on, 0.25 s off.
    pub const US_REORDER: Self = Self::dual(
        480.0,
        620.0,
        -24.0,
        Cadence::on_off(ms(250), ms(250)),
        Repeat::Forever,
    );
    /// A beep (the voicemail "record after the tone"): 1000 Hz, -13 dBm0,
    /// 0.5 s once.
    pub const BEEP: Self = Self::single(1000.0, -13.0, Cadence::steady(ms(500)), Repeat::Once);

    /// United Kingdom dial tone: 350 + 440 Hz, -13 dBm0, steady.
    pub const UK_DIAL: Self = Self::US_DIAL;
    /// United Kingdom ringing tone: 400 + 450 Hz, -19 dBm0, 0.4 s on, 0.2 s
    /// off, 0.4 s on, 2 s off.
    pub const UK_RINGBACK: Self = Self::dual(
        400.0,
        450.0,
        -19.0,
        Cadence {
            segments: [
                Segment {
                    tone_on: true,
                    duration: ms(400),
                },
                Segment {
                    tone_on: false,
                    duration: ms(200),
                },
                Segment {
                    tone_on: true,
                    duration: ms(400),
                },
                Segment {
                    tone_on: false,
                    duration: ms(2000),
                },
                EMPTY_SEGMENT,
                EMPTY_SEGMENT,
                EMPTY_SEGMENT,
                EMPTY_SEGMENT,
            ],
            len: 4,
        },
        Repeat::Forever,
    );
    /// United Kingdom busy (engaged): 400 Hz, -24 dBm0, 0.375 s on, 0.375 s
    /// off.
    pub const UK_BUSY: Self = Self::single(
        400.0,
        -24.0,
        Cadence::on_off(ms(375), ms(375)),
        Repeat::Forever,
    );
    /// United Kingdom congestion (the reorder of the US table): 400 Hz,
    /// -24 dBm0, 0.4 s on, 0.35 s off, 0.225 s on, 0.525 s off.
    pub const UK_REORDER: Self = Self::single(
        400.0,
        -24.0,
        Cadence {
            segments: [
                Segment {
                    tone_on: true,
                    duration: ms(400),
                },
                Segment {
                    tone_on: false,
                    duration: ms(350),
                },
                Segment {
                    tone_on: true,
                    duration: ms(225),
                },
                Segment {
                    tone_on: false,
                    duration: ms(525),
                },
                EMPTY_SEGMENT,
                EMPTY_SEGMENT,
                EMPTY_SEGMENT,
                EMPTY_SEGMENT,
            ],
            len: 4,
        },
        Repeat::Forever,
    );
}

/// The call-progress tones of one country or network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneTable {
    /// Dial tone.
    pub dial: ToneSpec,
    /// Audible ringing, while the called party is alerted.
    pub ringback: ToneSpec,
    /// The called party is busy.
    pub busy: ToneSpec,
    /// Congestion, no route (fast busy).
    pub reorder: ToneSpec,
    /// The short beep before a recording.
    pub beep: ToneSpec,
}

impl ToneTable {
    /// North America (ANSI T1.401, Telcordia GR-506, E.180 Suppl. 2).
    pub const US: Self = Self {
        dial: ToneSpec::US_DIAL,
        ringback: ToneSpec::US_RINGBACK,
        busy: ToneSpec::US_BUSY,
        reorder: ToneSpec::US_REORDER,
        beep: ToneSpec::BEEP,
    };

    /// United Kingdom (BT SIN 350, E.180 Suppl. 2).
    pub const UK: Self = Self {
        dial: ToneSpec::UK_DIAL,
        ringback: ToneSpec::UK_RINGBACK,
        busy: ToneSpec::UK_BUSY,
        reorder: ToneSpec::UK_REORDER,
        beep: ToneSpec::BEEP,
    };
}

/// The regions whose tone tables ship with Switchboard; any other is a
/// [`ToneTable`] built by the operator (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ToneRegion {
    /// North America.
    #[default]
    Us,
    /// United Kingdom.
    Uk,
}

impl ToneRegion {
    /// The region's tones.
    pub const fn table(self) -> ToneTable {
        match self {
            Self::Us => ToneTable::US,
            Self::Uk => ToneTable::UK,
        }
    }
}

/// A sine whose phase is kept in cycles (0..1), so it never drifts.
#[derive(Debug, Clone, Copy)]
struct Oscillator {
    phase: f64,
    cycles_per_sample: f64,
}

impl Oscillator {
    fn new(frequency_hz: f64) -> Self {
        Self {
            phase: 0.0,
            cycles_per_sample: frequency_hz / f64::from(SAMPLE_RATE),
        }
    }

    fn next_sample(&mut self) -> f64 {
        let value = (TAU * self.phase).sin();
        self.phase += self.cycles_per_sample;
        self.phase -= self.phase.floor();
        value
    }
}

fn samples_of(duration: Duration) -> u64 {
    let samples = duration.as_nanos() * u128::from(SAMPLE_RATE) / 1_000_000_000;
    u64::try_from(samples).unwrap_or(u64::MAX)
}

/// Plays a [`ToneSpec`] sample by sample, without allocating.
#[derive(Debug, Clone)]
pub struct TonePlayer {
    spec: ToneSpec,
    amplitude: f64,
    low: Oscillator,
    high: Option<Oscillator>,
    segment: usize,
    /// Samples left in the current segment.
    remaining: u64,
    /// Passes through the cadence still to start after this one.
    passes_left: Option<u32>,
    /// Whether the segment played before the current one sounded.
    was_sounding: bool,
    finished: bool,
}

impl TonePlayer {
    /// Ready to play `spec` from its first sample.
    pub fn new(spec: ToneSpec) -> Self {
        let passes = match spec.repeat {
            Repeat::Once => Some(1),
            Repeat::Times(times) => Some(times),
            Repeat::Forever => None,
        };
        let audible = samples_of(spec.cadence.period()) > 0;
        let mut player = Self {
            spec,
            amplitude: amplitude_from_dbm0(spec.level_dbm0),
            low: Oscillator::new(spec.low_hz),
            high: spec.high_hz.map(Oscillator::new),
            segment: 0,
            remaining: 0,
            passes_left: passes.map(|passes| passes.saturating_sub(1)),
            was_sounding: false,
            // A cadence of no length would loop forever without a sample.
            finished: passes == Some(0) || !audible,
        };
        if !player.finished {
            player.enter_segment(0);
        }
        player
    }

    /// The tone being played.
    pub fn spec(&self) -> &ToneSpec {
        &self.spec
    }

    /// Whether the whole tone (all repeats) has been played.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn enter_segment(&mut self, segment: usize) {
        let tone_on = self.spec.cadence.segments[segment].tone_on;
        // Each burst starts at phase zero, so it starts without a click; a
        // tone that goes on sounding (a steady tone repeating) keeps its
        // phase.
        if tone_on && !self.was_sounding {
            self.low.phase = 0.0;
            if let Some(high) = &mut self.high {
                high.phase = 0.0;
            }
        }
        self.segment = segment;
        self.remaining = samples_of(self.spec.cadence.segments[segment].duration);
    }

    /// Moves past finished segments; false once the tone is over.
    fn settle(&mut self) -> bool {
        while !self.finished && self.remaining == 0 {
            let next = self.segment + 1;
            if next < self.spec.cadence.len {
                self.enter_segment(next);
                continue;
            }
            match &mut self.passes_left {
                Some(0) => self.finished = true,
                Some(passes) => {
                    *passes -= 1;
                    self.enter_segment(0);
                }
                None => self.enter_segment(0),
            }
        }
        !self.finished
    }

    /// Writes the next samples into `out`, as many as fit and remain;
    /// returns how many (the rest of `out` is left alone).
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let mut written = 0;
        while written < out.len() && self.settle() {
            let run = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(out.len() - written);
            let target = &mut out[written..written + run];
            if self.spec.cadence.segments[self.segment].tone_on {
                for sample in target {
                    let mut value = self.low.next_sample();
                    if let Some(high) = &mut self.high {
                        value += high.next_sample();
                    }
                    // `as` saturates: a too-loud pair clips instead of wrapping.
                    *sample = (self.amplitude * value).round() as i16;
                }
            } else {
                target.fill(0);
            }
            self.remaining -= run as u64;
            written += run;
            if run > 0 {
                self.was_sounding = self.spec.cadence.segments[self.segment].tone_on;
            }
        }
        // Finished as soon as the last sample is out, not on the next call.
        self.settle();
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::player::prompt::tests::goertzel_amplitude;

    /// The expected samples of a spec, computed directly from the definition
    /// (not by the player's phase accumulator).
    fn reference(spec: &ToneSpec, total: usize) -> Vec<i16> {
        let amplitude = amplitude_from_dbm0(spec.level_dbm0);
        let mut out = Vec::with_capacity(total);
        'outer: loop {
            for segment in spec.cadence.segments() {
                let count = samples_of(segment.duration) as usize;
                for k in 0..count {
                    if out.len() == total {
                        break 'outer;
                    }
                    if segment.tone_on {
                        let t = k as f64 / 8000.0;
                        let mut value = (TAU * spec.low_hz * t).sin();
                        if let Some(high) = spec.high_hz {
                            value += (TAU * high * t).sin();
                        }
                        out.push((amplitude * value).round() as i16);
                    } else {
                        out.push(0);
                    }
                }
            }
        }
        out
    }

    fn play(spec: ToneSpec, total: usize) -> Vec<i16> {
        let mut player = TonePlayer::new(spec);
        let mut out = vec![0i16; total];
        // Odd-sized pieces: boundaries must not depend on the frame size.
        let mut at = 0;
        for size in [160, 7, 1, 333, 160].into_iter().cycle() {
            let end = (at + size).min(total);
            let written = player.fill(&mut out[at..end]);
            assert_eq!(written, end - at, "the tone repeats forever");
            at = end;
            if at == total {
                break;
            }
        }
        out
    }

    fn assert_close(actual: &[i16], expected: &[i16]) {
        assert_eq!(actual.len(), expected.len());
        for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!((a - e).abs() <= 1, "sample {index}: {a} vs {e}");
        }
    }

    #[test]
    fn us_ringback_is_two_seconds_on_four_off_to_the_sample() {
        let spec = ToneTable::US.ringback;
        assert_eq!(spec.frequencies(), (440.0, Some(480.0)));
        let samples = play(spec, 2 * 48_000 + 100);
        assert_close(&samples, &reference(&spec, samples.len()));
        // On: samples 0..16000, off: 16000..48000, on again from 48000.
        assert!(samples[16_000..48_000].iter().all(|&s| s == 0));
        assert_ne!(samples[15_999], 0);
        assert_eq!(samples[48_000], 0, "each burst starts at phase zero");
        assert_ne!(samples[48_001], 0);
        assert!(samples[64_000..96_000].iter().all(|&s| s == 0));
        let level = goertzel_amplitude(&samples[0..16_000], 440.0);
        let expected = amplitude_from_dbm0(-19.0);
        assert!(
            (level / expected - 1.0).abs() < 0.02,
            "{level} vs {expected}"
        );
    }

    #[test]
    fn us_busy_and_reorder_cadences() {
        for (spec, on) in [(ToneTable::US.busy, 4000), (ToneTable::US.reorder, 2000)] {
            let samples = play(spec, 8 * on + 10);
            assert_close(&samples, &reference(&spec, samples.len()));
            for burst in 0..4 {
                let start = 2 * on * burst;
                assert_ne!(samples[start + 1], 0);
                assert_ne!(samples[start + on - 1], 0);
                assert!(samples[start + on..start + 2 * on].iter().all(|&s| s == 0));
            }
        }
    }

    #[test]
    fn uk_ringback_is_double_ring() {
        let spec = ToneRegion::Uk.table().ringback;
        assert_eq!(spec.cadence.period(), Duration::from_millis(3000));
        let samples = play(spec, 2 * 24_000);
        assert_close(&samples, &reference(&spec, samples.len()));
        // 0.4 on (0..3200), 0.2 off (..4800), 0.4 on (..8000), 2 off (..24000).
        assert_ne!(samples[3199], 0);
        assert!(samples[3200..4800].iter().all(|&s| s == 0));
        assert_eq!(samples[4800], 0);
        assert_ne!(samples[4801], 0);
        assert_ne!(samples[7999], 0);
        assert!(samples[8000..24_000].iter().all(|&s| s == 0));
        assert_ne!(samples[24_001], 0);
    }

    #[test]
    fn a_beep_plays_once_then_finishes() {
        let mut player = TonePlayer::new(ToneTable::US.beep);
        let mut out = [7i16; 5000];
        assert_eq!(player.fill(&mut out[..4000]), 4000);
        assert!(player.is_finished(), "finished with its last sample");
        assert_eq!(player.fill(&mut out), 0);
        let mut player = TonePlayer::new(ToneTable::US.beep);
        assert_eq!(player.fill(&mut out), 4000);
        assert!(player.is_finished());
        assert!(
            out[4000..].iter().all(|&s| s == 7),
            "the rest is left alone"
        );
        assert_eq!(player.fill(&mut out), 0);
        let amplitude = goertzel_amplitude(&out[..4000], 1000.0);
        assert!((amplitude / amplitude_from_dbm0(-13.0) - 1.0).abs() < 0.02);
        assert_eq!(ToneSpec::BEEP.duration(), Some(Duration::from_millis(500)));
        assert_eq!(ToneSpec::US_RINGBACK.duration(), None);
    }

    #[test]
    fn repeat_times_and_degenerate_specs() {
        let spec = ToneSpec::single(
            800.0,
            -10.0,
            Cadence::on_off(Duration::from_millis(10), Duration::from_millis(5)),
            Repeat::Times(3),
        );
        let mut player = TonePlayer::new(spec);
        let mut out = [0i16; 1000];
        assert_eq!(player.fill(&mut out), 3 * 120);
        assert!(player.is_finished());
        assert_eq!(spec.duration(), Some(Duration::from_millis(45)));

        let nothing = ToneSpec {
            repeat: Repeat::Times(0),
            ..spec
        };
        assert!(TonePlayer::new(nothing).is_finished());
        let empty = ToneSpec::single(
            800.0,
            -10.0,
            Cadence::new(&[]).expect("empty"),
            Repeat::Forever,
        );
        let mut player = TonePlayer::new(empty);
        assert!(player.is_finished());
        assert_eq!(player.fill(&mut out), 0);
        // Zero-length segments are skipped.
        let cadence = Cadence::new(&[
            Segment {
                tone_on: true,
                duration: Duration::ZERO,
            },
            Segment {
                tone_on: false,
                duration: Duration::from_millis(1),
            },
        ])
        .expect("two segments");
        let mut player = TonePlayer::new(ToneSpec::single(800.0, -10.0, cadence, Repeat::Times(2)));
        assert_eq!(player.fill(&mut out), 16);
        assert!(out[..16].iter().all(|&s| s == 0));
        assert!(Cadence::new(&[EMPTY_SEGMENT; MAX_CADENCE_SEGMENTS + 1]).is_none());
    }

    #[test]
    fn dial_tone_is_steady() {
        let samples = play(ToneSpec::US_DIAL, 24_000);
        // The phase runs on across the repeats of its one-second segment.
        let mut continuous = ToneSpec::US_DIAL;
        continuous.cadence = Cadence::steady(Duration::from_secs(10));
        assert_close(&samples, &reference(&continuous, 24_000));
        // Steady: no gap of silence anywhere (the 90 Hz beat never reaches
        // zero for more than a couple of samples).
        let longest_zero_run = samples
            .split(|&s| s != 0)
            .map(<[i16]>::len)
            .max()
            .unwrap_or(0);
        assert!(longest_zero_run <= 2, "{longest_zero_run}");
        assert!(goertzel_amplitude(&samples, 350.0) > 0.9 * amplitude_from_dbm0(-13.0));
    }
}
