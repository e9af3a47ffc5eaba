//! Speech and silence detection, sans-IO: voice activity per 20 ms frame,
//! smoothed by hangover into speech segments, plus a silence timeout (the
//! voicemail "hang up after N seconds of silence", and later the pauses of
//! answering-machine detection).
//!
//! Each frame is first classified ([`FrameClassifier`]) by one of:
//!
//! - [`Classifier::Voice`] (the default): the `earshot` neural voice
//!   activity detector, which takes 16 kHz audio in 256-sample (16 ms)
//!   frames. Our 8 kHz frames are upsampled by linear interpolation (320
//!   samples per 20 ms frame) and fed through a 256-sample buffer, so each
//!   of our frames completes one or two `earshot` frames; the frame's score
//!   is the higher of them. It tells speech from tones and steady noise.
//! - [`Classifier::Energy`]: the frame's level above an adaptive noise
//!   floor. Cheaper, but any sound (a tone, music) is "speech" until the
//!   floor has risen to it (at 1 dB per second).
//!
//! Either way a frame quieter than `min_level_dbfs` is never speech.
//! Levels are RMS in dBFS, where 0 dBFS is the RMS of a full-scale square
//! wave (32768), so a full-scale sine is -3 dBFS.
//!
//! The frame verdicts then drive the hangover state machine:
//!
//! ```text
//!               speech frames for min_speech: SpeechStarted { at: first of them }
//!   Silence ------------------------------------------------------------> Speech
//!      ^  |                                                                 |
//!      |  | silent for silence_timeout: SilenceTimedOut (once)              |
//!      |  +----+                                                            |
//!      +-------+------------------------------------------------------------+
//!        non-speech frames for min_silence: SpeechEnded { at: end of last speech frame }
//! ```
//!
//! Events are reported when they are certain, so `SpeechStarted` comes
//! `min_speech` late and `SpeechEnded` `min_silence` late, but both carry
//! the instant the speech really started or ended. `now` passed to
//! [`SpeechDetector::process`] is the instant the frame *starts*; the frame
//! covers `now .. now + 20 ms`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::audio::{FRAME_MILLIS, FRAME_SAMPLES, Frame};

/// The length of one frame.
const FRAME: Duration = Duration::from_millis(FRAME_MILLIS as u64);

/// `earshot`'s frame: 256 samples (16 ms) at 16 kHz.
const VOICE_FRAME_SAMPLES: usize = 256;

/// The lowest level reported, for digital silence.
const FLOOR_DBFS: f64 = -100.0;

/// How fast the noise floor climbs towards a louder signal, per frame
/// (1 dB per second): slow enough that speech does not lift it, since the
/// pauses between words pull it straight back down.
const NOISE_FLOOR_RISE_DB_PER_FRAME: f64 = 0.02;

/// How far back the start of speech may be moved to the onset of the
/// sound that led into it (see [`SpeechDetector::process`]).
const MAX_ONSET_LOOKBACK: Duration = Duration::from_millis(100);

/// How a single frame is judged to be speech or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Classifier {
    /// The `earshot` voice activity detector (a small neural network with
    /// built-in weights).
    Voice {
        /// The score (0-1) from which a frame is speech; `earshot` suggests
        /// 0.5.
        threshold: f32,
    },
    /// The frame's level against an adaptive noise floor.
    Energy {
        /// How far above the noise floor a frame must be, in dB.
        margin_db: f64,
    },
}

/// When the silence timeout starts counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceTimeoutStart {
    /// From the first frame processed: a caller who never says anything
    /// times out too.
    FromStart,
    /// Only once speech has been heard: nothing times out before the first
    /// word.
    AfterFirstSpeech,
}

/// What the detector listens for.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechDetectorConfig {
    /// How each frame is classified.
    pub classifier: Classifier,
    /// Frames quieter than this (RMS, dBFS) are never speech, whatever the
    /// classifier says.
    pub min_level_dbfs: f64,
    /// How long speech must go on, without a non-speech frame, before it
    /// counts (clicks and coughs are shorter).
    pub min_speech: Duration,
    /// How long non-speech must go on before speech has ended (the pauses
    /// between words and phrases are shorter).
    pub min_silence: Duration,
    /// Report [`SpeechEvent::SilenceTimedOut`] after this much silence;
    /// `None` never does.
    pub silence_timeout: Option<Duration>,
    /// When the silence timeout starts counting.
    pub silence_timeout_start: SilenceTimeoutStart,
}

impl Default for SpeechDetectorConfig {
    fn default() -> Self {
        Self {
            classifier: Classifier::Voice { threshold: 0.5 },
            min_level_dbfs: -45.0,
            min_speech: Duration::from_millis(100),
            min_silence: Duration::from_millis(400),
            silence_timeout: None,
            silence_timeout_start: SilenceTimeoutStart::AfterFirstSpeech,
        }
    }
}

/// What the detector reports: past-tense facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechEvent {
    /// Speech started (reported `min_speech` later).
    SpeechStarted {
        /// The start of the first speech frame (moved back to the onset of
        /// the sound that led into it, by at most 100 ms).
        at: Instant,
    },
    /// Speech ended (reported `min_silence` later).
    SpeechEnded {
        /// The end of the last speech frame.
        at: Instant,
        /// From the start of the speech to its end, pauses included.
        speech_duration: Duration,
    },
    /// There has been silence for the configured timeout. Reported once per
    /// stretch of silence: only speech re-arms it.
    SilenceTimedOut {
        /// How long the silence had lasted (the timeout, rounded up to a
        /// whole frame).
        after: Duration,
    },
}

/// The RMS level of a frame in dBFS (0 dBFS: full-scale square wave),
/// -100 for digital silence.
pub fn level_dbfs(frame: &Frame) -> f64 {
    let energy: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / FRAME_SAMPLES as f64).sqrt();
    if rms <= 0.0 {
        return FLOOR_DBFS;
    }
    (20.0 * (rms / 32768.0).log10()).max(FLOOR_DBFS)
}

/// Classifies frames one by one as speech or not. Stateful: the voice
/// detector keeps ~50 ms of context and the noise floor adapts, so feed it
/// every frame of a stream, in order.
pub struct FrameClassifier {
    classifier: Classifier,
    min_level_dbfs: f64,
    /// Boxed: about 8 KiB of state.
    voice: Box<earshot::Detector>,
    /// Upsampled audio waiting for a whole `earshot` frame.
    upsampled: [i16; VOICE_FRAME_SAMPLES],
    filled: usize,
    /// The last input sample, to interpolate from.
    previous: i16,
    noise_floor_dbfs: f64,
    last_score: f32,
    last_level_dbfs: f64,
}

impl std::fmt::Debug for FrameClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameClassifier")
            .field("classifier", &self.classifier)
            .field("min_level_dbfs", &self.min_level_dbfs)
            .field("noise_floor_dbfs", &self.noise_floor_dbfs)
            .field("last_score", &self.last_score)
            .field("last_level_dbfs", &self.last_level_dbfs)
            .finish_non_exhaustive()
    }
}

impl FrameClassifier {
    /// A classifier; frames under `min_level_dbfs` are never speech.
    pub fn new(classifier: Classifier, min_level_dbfs: f64) -> Self {
        let margin_db = match classifier {
            Classifier::Energy { margin_db } => margin_db,
            Classifier::Voice { .. } => 0.0,
        };
        Self {
            classifier,
            min_level_dbfs,
            voice: earshot::Detector::default_boxed(),
            upsampled: [0; VOICE_FRAME_SAMPLES],
            filled: 0,
            previous: 0,
            // Starting low, so that speech from the very first frame is
            // heard; steady noise then pulls the floor up at 1 dB/s.
            noise_floor_dbfs: min_level_dbfs - margin_db,
            last_score: 0.0,
            last_level_dbfs: FLOOR_DBFS,
        }
    }

    /// Whether `frame`, the next frame of the stream, is speech.
    pub fn is_speech(&mut self, frame: &Frame) -> bool {
        let level = level_dbfs(frame);
        self.last_level_dbfs = level;
        let floor = self.noise_floor_dbfs;
        self.noise_floor_dbfs = if level < floor {
            level
        } else {
            (floor + NOISE_FLOOR_RISE_DB_PER_FRAME).min(level)
        };
        match self.classifier {
            Classifier::Voice { threshold } => {
                // Always run the network, to keep its context continuous.
                let score = self.voice_score(frame);
                self.last_score = score;
                level >= self.min_level_dbfs && score >= threshold
            }
            Classifier::Energy { margin_db } => {
                level >= self.min_level_dbfs && level >= floor + margin_db
            }
        }
    }

    /// Upsamples the frame to 16 kHz and runs `earshot` on every whole
    /// 256-sample frame completed; the highest score, or the last one if
    /// none completed (never with 320 samples per frame).
    fn voice_score(&mut self, frame: &Frame) -> f32 {
        let mut best: Option<f32> = None;
        for &sample in frame {
            let between = ((i32::from(self.previous) + i32::from(sample)) / 2) as i16;
            self.previous = sample;
            for value in [between, sample] {
                self.upsampled[self.filled] = value;
                self.filled += 1;
                if self.filled == VOICE_FRAME_SAMPLES {
                    self.filled = 0;
                    let score = self.voice.predict_i16(&self.upsampled);
                    best = Some(best.map_or(score, |b| b.max(score)));
                }
            }
        }
        best.unwrap_or(self.last_score)
    }

    /// The voice detector's score for the last frame (0-1; 0 with the
    /// energy classifier).
    pub fn last_score(&self) -> f32 {
        self.last_score
    }

    /// The level of the last frame, in dBFS.
    pub fn last_level_dbfs(&self) -> f64 {
        self.last_level_dbfs
    }

    /// The noise floor as estimated so far, in dBFS.
    pub fn noise_floor_dbfs(&self) -> f64 {
        self.noise_floor_dbfs
    }
}

/// The hangover state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No speech.
    Silence {
        /// Where the silence timeout counts from, if it counts yet.
        since: Option<Instant>,
        /// The timeout was reported for this stretch of silence.
        timed_out: bool,
        /// The start of a run of speech frames not yet `min_speech` long.
        candidate: Option<Instant>,
    },
    /// Speech, possibly in a pause shorter than `min_silence`.
    Speech {
        /// The start of its first frame.
        since: Instant,
        /// The end of its last speech frame so far.
        last_speech_end: Instant,
    },
}

/// Detects speech and silence in a stream of 20 ms frames, sans-IO.
#[derive(Debug)]
pub struct SpeechDetector {
    config: SpeechDetectorConfig,
    classifier: FrameClassifier,
    state: State,
    started: bool,
    /// The start of the current run of frames at or above
    /// `min_level_dbfs`, speech or not.
    loud_since: Option<Instant>,
    events: VecDeque<SpeechEvent>,
}

impl SpeechDetector {
    /// A detector with nothing heard yet.
    pub fn new(config: SpeechDetectorConfig) -> Self {
        let classifier = FrameClassifier::new(config.classifier, config.min_level_dbfs);
        Self {
            config,
            classifier,
            state: State::Silence {
                since: None,
                timed_out: false,
                candidate: None,
            },
            started: false,
            loud_since: None,
            // At most two events per frame; room for a second's worth when
            // nobody drains them, so pushing does not allocate.
            events: VecDeque::with_capacity(64),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SpeechDetectorConfig {
        &self.config
    }

    /// The frame classifier, for its level and score figures.
    pub fn classifier(&self) -> &FrameClassifier {
        &self.classifier
    }

    /// Whether speech is going on (after hangover: from `SpeechStarted` to
    /// `SpeechEnded`).
    pub fn is_speaking(&self) -> bool {
        matches!(self.state, State::Speech { .. })
    }

    /// Takes the next frame of the stream, which starts at `now`, and
    /// returns whether this frame alone was classified as speech.
    ///
    /// A word often opens with a sound the voice classifier does not call
    /// speech (the burst of the "p" in "please"); when speech starts, its
    /// start is moved back over the loud frames just before it, by at most
    /// 100 ms.
    pub fn process(&mut self, now: Instant, frame: &Frame) -> bool {
        let speech = self.classifier.is_speech(frame);
        let end = now + FRAME;
        if self.classifier.last_level_dbfs() >= self.config.min_level_dbfs {
            self.loud_since.get_or_insert(now);
        } else {
            self.loud_since = None;
        }
        if !self.started {
            self.started = true;
            if self.config.silence_timeout_start == SilenceTimeoutStart::FromStart
                && let State::Silence { since, .. } = &mut self.state
            {
                *since = Some(now);
            }
        }
        match &mut self.state {
            State::Silence { candidate, .. } if speech => {
                let first = *candidate.get_or_insert(now);
                if end.saturating_duration_since(first) >= self.config.min_speech {
                    let start = match (self.loud_since, first.checked_sub(MAX_ONSET_LOOKBACK)) {
                        (Some(loud), Some(earliest)) => loud.max(earliest).min(first),
                        (Some(loud), None) => loud.min(first),
                        (None, _) => first,
                    };
                    self.events
                        .push_back(SpeechEvent::SpeechStarted { at: start });
                    self.state = State::Speech {
                        since: start,
                        last_speech_end: end,
                    };
                    return speech;
                }
            }
            State::Silence { candidate, .. } => *candidate = None,
            State::Speech {
                last_speech_end, ..
            } if speech => *last_speech_end = end,
            State::Speech {
                since,
                last_speech_end,
            } => {
                if end.saturating_duration_since(*last_speech_end) >= self.config.min_silence {
                    let at = *last_speech_end;
                    self.events.push_back(SpeechEvent::SpeechEnded {
                        at,
                        speech_duration: at.saturating_duration_since(*since),
                    });
                    self.state = State::Silence {
                        since: Some(at),
                        timed_out: false,
                        candidate: None,
                    };
                }
            }
        }
        self.check_silence_timeout(end);
        speech
    }

    /// Reports the silence timeout if the silence, up to `end` or to the
    /// start of a speech candidate, has lasted long enough.
    fn check_silence_timeout(&mut self, end: Instant) {
        let Some(timeout) = self.config.silence_timeout else {
            return;
        };
        if let State::Silence {
            since: Some(since),
            timed_out,
            candidate,
        } = &mut self.state
            && !*timed_out
        {
            let silence = candidate.unwrap_or(end).saturating_duration_since(*since);
            if silence >= timeout {
                *timed_out = true;
                self.events
                    .push_back(SpeechEvent::SilenceTimedOut { after: silence });
            }
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<SpeechEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::SAMPLE_RATE;
    use std::f64::consts::TAU;

    const SPEECH: &[u8] = include_bytes!("../../../conformance/vectors/dtmf/speech.raw");

    /// The first phrase of the sample ("Please enter your account number,
    /// followed by the pound key."): frames 0-182, with speech from frame 2
    /// to frame 182 and pauses of up to 10 frames (200 ms) inside.
    const PHRASE_FRAMES: usize = 183;
    const PHRASE_FIRST_SPEECH: usize = 2;
    const PHRASE_LAST_SPEECH: usize = 182;

    fn speech_frames() -> Vec<Frame> {
        let samples: Vec<i16> = SPEECH
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        samples
            .chunks_exact(FRAME_SAMPLES)
            .map(|c| c.try_into().expect("whole frames"))
            .collect()
    }

    /// A small deterministic generator (xorshift), for white noise.
    struct Noise(u64);

    impl Noise {
        /// A uniform sample in [-1, 1).
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }

        /// A frame of white noise at `dbfs` RMS.
        fn frame(&mut self, dbfs: f64) -> Frame {
            // A uniform [-1, 1) signal has an RMS of 1/sqrt(3).
            let amplitude = 32768.0 * 10f64.powf(dbfs / 20.0) * 3f64.sqrt();
            std::array::from_fn(|_| (self.next() * amplitude).round() as i16)
        }
    }

    /// `count` frames of a sine at `hz` and `dbfs` RMS, continuing phase.
    fn tone(hz: f64, dbfs: f64, count: usize) -> Vec<Frame> {
        let amplitude = 32768.0 * 10f64.powf(dbfs / 20.0) * 2f64.sqrt();
        (0..count)
            .map(|f| {
                std::array::from_fn(|i| {
                    let n = (f * FRAME_SAMPLES + i) as f64;
                    (amplitude * (TAU * hz * n / f64::from(SAMPLE_RATE)).sin()).round() as i16
                })
            })
            .collect()
    }

    fn noise_frames(noise: &mut Noise, dbfs: f64, count: usize) -> Vec<Frame> {
        (0..count).map(|_| noise.frame(dbfs)).collect()
    }

    /// Runs the frames from `t0` and returns each event with the index of
    /// the frame that reported it.
    fn run(
        detector: &mut SpeechDetector,
        t0: Instant,
        frames: &[Frame],
    ) -> Vec<(usize, SpeechEvent)> {
        let mut events = Vec::new();
        for (n, frame) in frames.iter().enumerate() {
            detector.process(t0 + FRAME * n as u32, frame);
            while let Some(event) = detector.poll_event() {
                events.push((n, event));
            }
        }
        events
    }

    fn energy_config() -> SpeechDetectorConfig {
        SpeechDetectorConfig {
            classifier: Classifier::Energy { margin_db: 12.0 },
            ..SpeechDetectorConfig::default()
        }
    }

    /// Frame `n`'s start.
    fn at(t0: Instant, n: usize) -> Instant {
        t0 + FRAME * n as u32
    }

    /// Whether two instants are within `frames` frames of each other.
    fn near(a: Instant, b: Instant, frames: u32) -> bool {
        let d = if a > b { a - b } else { b - a };
        d <= FRAME * frames
    }

    #[test]
    fn levels_are_rms_dbfs() {
        assert_eq!(level_dbfs(&crate::audio::SILENCE), -100.0);
        let sine = tone(1000.0, -20.0, 1);
        assert!((level_dbfs(&sine[0]) + 20.0).abs() < 0.1);
        let mut noise = Noise(7);
        assert!((level_dbfs(&noise.frame(-50.0)) + 50.0).abs() < 1.0);
        assert!((level_dbfs(&[i16::MIN; FRAME_SAMPLES])).abs() < 1e-9);
    }

    #[test]
    fn digital_silence_and_low_noise_are_not_speech() {
        for config in [SpeechDetectorConfig::default(), energy_config()] {
            let mut detector = SpeechDetector::new(config.clone());
            let t0 = crate::test_epoch();
            let mut noise = Noise(0x5eed);
            let mut frames = vec![crate::audio::SILENCE; 50];
            frames.extend(noise_frames(&mut noise, -50.0, 500));
            frames.extend(noise_frames(&mut noise, -60.0, 100));
            let mut speech_frames = 0;
            for (n, frame) in frames.iter().enumerate() {
                if detector.process(at(t0, n), frame) {
                    speech_frames += 1;
                }
            }
            assert_eq!(speech_frames, 0, "{config:?}");
            assert_eq!(detector.poll_event(), None);
            assert!(!detector.is_speaking());
        }
    }

    #[test]
    fn energy_detects_a_tone_burst_with_its_exact_start_and_end() {
        let mut detector = SpeechDetector::new(energy_config());
        let t0 = crate::test_epoch();
        let mut noise = Noise(42);
        let mut frames = noise_frames(&mut noise, -60.0, 50);
        frames.extend(tone(440.0, -20.0, 50));
        frames.extend(noise_frames(&mut noise, -60.0, 50));
        let events = run(&mut detector, t0, &frames);
        // min_speech 100 ms: reported on the burst's fifth frame (index 54);
        // min_silence 400 ms: reported 20 frames after it (index 119).
        assert_eq!(
            events,
            vec![
                (54, SpeechEvent::SpeechStarted { at: at(t0, 50) }),
                (
                    119,
                    SpeechEvent::SpeechEnded {
                        at: at(t0, 100),
                        speech_duration: Duration::from_secs(1),
                    }
                ),
            ]
        );
    }

    #[test]
    fn bursts_shorter_than_min_speech_and_gaps_shorter_than_min_silence_are_ignored() {
        let mut detector = SpeechDetector::new(energy_config());
        let t0 = crate::test_epoch();
        let mut noise = Noise(3);
        let mut frames = noise_frames(&mut noise, -60.0, 20);
        frames.extend(tone(440.0, -20.0, 4)); // 80 ms click: too short
        frames.extend(noise_frames(&mut noise, -60.0, 20));
        frames.extend(tone(440.0, -20.0, 10)); // frames 44-53
        frames.extend(noise_frames(&mut noise, -60.0, 19)); // 380 ms pause
        frames.extend(tone(440.0, -20.0, 10)); // frames 73-82
        frames.extend(noise_frames(&mut noise, -60.0, 30));
        let events = run(&mut detector, t0, &frames);
        assert_eq!(
            events,
            vec![
                (48, SpeechEvent::SpeechStarted { at: at(t0, 44) }),
                (
                    102,
                    SpeechEvent::SpeechEnded {
                        at: at(t0, 83),
                        speech_duration: FRAME * 39,
                    }
                ),
            ]
        );
    }

    #[test]
    fn the_voice_classifier_does_not_take_a_tone_for_speech() {
        let mut detector = SpeechDetector::new(SpeechDetectorConfig::default());
        let t0 = crate::test_epoch();
        let mut noise = Noise(9);
        let mut frames = noise_frames(&mut noise, -60.0, 25);
        frames.extend(tone(1000.0, -20.0, 100));
        frames.extend(noise_frames(&mut noise, -60.0, 25));
        let events = run(&mut detector, t0, &frames);
        assert_eq!(events, vec![]);
    }

    /// One second of low noise, the phrase, three seconds of low noise.
    fn phrase_in_noise() -> Vec<Frame> {
        let mut noise = Noise(11);
        let mut frames = noise_frames(&mut noise, -65.0, 50);
        let speech = speech_frames();
        frames.extend(&speech[..PHRASE_FRAMES]);
        frames.extend(noise_frames(&mut noise, -65.0, 150));
        frames
    }

    fn check_phrase(config: SpeechDetectorConfig) {
        let min_silence_frames = (config.min_silence.as_millis() / 20) as usize;
        let mut detector = SpeechDetector::new(config.clone());
        let t0 = crate::test_epoch();
        let events = run(&mut detector, t0, &phrase_in_noise());
        let [(_, started), (reported, ended)] = events[..] else {
            panic!("one start and one end expected, got {events:?}");
        };
        let SpeechEvent::SpeechStarted { at: start } = started else {
            panic!("{started:?}");
        };
        let SpeechEvent::SpeechEnded {
            at: end,
            speech_duration,
        } = ended
        else {
            panic!("{ended:?}");
        };
        let true_start = at(t0, 50 + PHRASE_FIRST_SPEECH);
        let true_end = at(t0, 50 + PHRASE_LAST_SPEECH + 1);
        assert!(
            near(start, true_start, 1),
            "{config:?}: start {:?} late",
            start - true_start
        );
        assert!(
            near(end, true_end, 1),
            "{config:?}: end {:?}",
            end.duration_since(t0)
        );
        assert_eq!(speech_duration, end - start);
        let end_frame = (end - t0).as_millis() as usize / 20;
        assert_eq!(reported, end_frame + min_silence_frames - 1);
    }

    #[test]
    fn real_speech_is_one_segment_with_the_right_start_and_end() {
        check_phrase(SpeechDetectorConfig::default());
    }

    #[test]
    fn real_speech_through_the_energy_classifier() {
        check_phrase(energy_config());
    }

    #[test]
    fn silence_timeout_after_speech_fires_once_at_the_right_time() {
        let config = SpeechDetectorConfig {
            silence_timeout: Some(Duration::from_secs(2)),
            ..energy_config()
        };
        let mut detector = SpeechDetector::new(config);
        let t0 = crate::test_epoch();
        let mut noise = Noise(5);
        // Five seconds of noise first: no timeout before any speech.
        let mut frames = noise_frames(&mut noise, -60.0, 250);
        frames.extend(tone(440.0, -20.0, 25)); // frames 250-274
        frames.extend(noise_frames(&mut noise, -60.0, 300));
        let events = run(&mut detector, t0, &frames);
        assert_eq!(
            events,
            vec![
                (254, SpeechEvent::SpeechStarted { at: at(t0, 250) }),
                (
                    294,
                    SpeechEvent::SpeechEnded {
                        at: at(t0, 275),
                        speech_duration: Duration::from_millis(500),
                    }
                ),
                // Two seconds after the speech ended: frame 374 ends at
                // frame 375's start.
                (
                    374,
                    SpeechEvent::SilenceTimedOut {
                        after: Duration::from_secs(2)
                    }
                ),
            ]
        );
    }

    #[test]
    fn silence_timeout_from_the_start_and_re_armed_by_speech() {
        let config = SpeechDetectorConfig {
            silence_timeout: Some(Duration::from_secs(1)),
            silence_timeout_start: SilenceTimeoutStart::FromStart,
            ..energy_config()
        };
        let mut detector = SpeechDetector::new(config);
        let t0 = crate::test_epoch();
        let mut noise = Noise(6);
        let mut frames = noise_frames(&mut noise, -60.0, 100);
        frames.extend(tone(440.0, -20.0, 3)); // a click in the silence
        frames.extend(noise_frames(&mut noise, -60.0, 47));
        frames.extend(tone(440.0, -20.0, 10)); // frames 150-159
        frames.extend(noise_frames(&mut noise, -60.0, 100));
        let events = run(&mut detector, t0, &frames);
        let timeouts: Vec<_> = events
            .iter()
            .filter(|(_, e)| matches!(e, SpeechEvent::SilenceTimedOut { .. }))
            .collect();
        let one_second = SpeechEvent::SilenceTimedOut {
            after: Duration::from_secs(1),
        };
        // Once at 1 s from the start (the click re-arms nothing), once a
        // second after the speech ended at frame 160.
        assert_eq!(timeouts, vec![&(49, one_second), &(209, one_second)]);
    }

    #[test]
    fn a_speech_candidate_holds_back_the_timeout_until_it_fails() {
        let config = SpeechDetectorConfig {
            silence_timeout: Some(Duration::from_millis(1000)),
            silence_timeout_start: SilenceTimeoutStart::FromStart,
            ..energy_config()
        };
        let mut detector = SpeechDetector::new(config);
        let t0 = crate::test_epoch();
        let mut noise = Noise(8);
        let mut frames = noise_frames(&mut noise, -60.0, 48);
        frames.extend(tone(440.0, -20.0, 4)); // frames 48-51: a click
        frames.extend(noise_frames(&mut noise, -60.0, 10));
        let events = run(&mut detector, t0, &frames);
        // Speech might have been starting at 960 ms: the timeout waits for
        // the click to turn out too short, then reports the whole silence.
        assert_eq!(
            events,
            vec![(
                52,
                SpeechEvent::SilenceTimedOut {
                    after: Duration::from_millis(1060)
                }
            )]
        );
    }

    #[test]
    fn per_frame_classification_of_speech_and_noise() {
        let mut classifier = FrameClassifier::new(Classifier::Voice { threshold: 0.5 }, -45.0);
        let speech = speech_frames();
        let voiced = speech[..PHRASE_FRAMES]
            .iter()
            .filter(|f| classifier.is_speech(f))
            .count();
        // Most of the phrase is voiced; the gaps and fricatives need not be.
        assert!(
            voiced > PHRASE_FRAMES * 6 / 10,
            "only {voiced} of {PHRASE_FRAMES}"
        );
        let mut noise = Noise(1);
        assert!((0..100).all(|_| !classifier.is_speech(&noise.frame(-50.0))));
    }

    #[test]
    fn the_noise_floor_follows_steady_noise() {
        let mut classifier = FrameClassifier::new(Classifier::Energy { margin_db: 12.0 }, -45.0);
        let mut noise = Noise(2);
        for _ in 0..1000 {
            classifier.is_speech(&noise.frame(-40.0));
        }
        // -57 dBFS at the start, +1 dB/s, until held by the noise's quieter
        // frames.
        assert!(
            (classifier.noise_floor_dbfs() + 41.0).abs() < 1.5,
            "{}",
            classifier.noise_floor_dbfs()
        );
        // Steady noise above min_level is no longer speech once the floor
        // has reached it.
        assert!(!classifier.is_speech(&noise.frame(-40.0)));
        assert!(classifier.is_speech(&tone(440.0, -20.0, 1)[0]));
    }
}
