//! Prompts: recorded audio decoded once into the engine's format (8 kHz mono
//! 16-bit, [`crate::audio`]) and shared between every call that plays it.
//!
//! Decoding (WAV/PCM, MP3, FLAC, Ogg Vorbis) is done by `symphonia`; channels
//! are averaged to mono and the result is resampled to 8 kHz with `rubato`'s
//! windowed-sinc resampler, chunk by chunk as packets are decoded, so a long
//! 48 kHz stereo file never sits in memory at its source rate.
//!
//! Loading reads a file and is slow compared with a media tick: the owner
//! does it (through a [`PromptCache`]) outside the tick and hands the
//! immutable [`Prompt`] to a [`super::Player`].

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Indexing, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::audio::SAMPLE_RATE;

/// The longest prompt we decode: an hour of 8 kHz audio is 57.6 MB, already
/// more than a prompt should ever be; longer files are refused rather than
/// exhausting memory.
pub const MAX_PROMPT_DURATION: Duration = Duration::from_secs(3600);

const MAX_PROMPT_SAMPLES: usize = 3600 * SAMPLE_RATE as usize;

/// Input frames handed to the resampler per call.
const RESAMPLER_CHUNK: usize = 1024;

/// Decoded audio, 8 kHz mono linear PCM, immutable; cloning shares the
/// samples.
#[derive(Clone, PartialEq, Eq)]
pub struct Prompt {
    samples: Arc<[i16]>,
}

impl std::fmt::Debug for Prompt {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Prompt")
            .field("samples", &self.samples.len())
            .field("duration", &self.duration())
            .finish()
    }
}

/// Why audio bytes could not be turned into a [`Prompt`].
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The container or codec is not one we decode (or the bytes are not
    /// audio at all).
    #[error("unsupported audio format: {0}")]
    UnsupportedFormat(String),
    /// The container has no audio track.
    #[error("no audio track")]
    NoAudioTrack,
    /// The stream is damaged: no audio could be decoded, or the container
    /// could not be read.
    #[error("malformed audio: {0}")]
    Malformed(String),
    /// The sample rate changed in the middle of the stream.
    #[error("sample rate changed from {from} Hz to {to} Hz in the middle of the stream")]
    SampleRateChanged {
        /// The rate at the start.
        from: u32,
        /// The rate it changed to.
        to: u32,
    },
    /// The audio lasts longer than [`MAX_PROMPT_DURATION`].
    #[error("longer than the {max:?} a prompt may last")]
    TooLong {
        /// [`MAX_PROMPT_DURATION`].
        max: Duration,
    },
    /// The resampler refused the source rate.
    #[error("cannot resample from {rate} Hz: {reason}")]
    Resample {
        /// The source sample rate.
        rate: u32,
        /// What `rubato` said.
        reason: String,
    },
}

/// Why a prompt file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read prompt {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file was read but is not audio we can decode.
    #[error("cannot decode prompt {path}: {source}")]
    Undecodable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: PromptError,
    },
}

impl Prompt {
    /// A prompt from samples already in the engine's format (8 kHz mono).
    pub fn from_samples(samples: impl Into<Arc<[i16]>>) -> Self {
        Self {
            samples: samples.into(),
        }
    }

    /// Decodes WAV, MP3, FLAC or Ogg Vorbis bytes. `extension_hint` (`"wav"`,
    /// `"mp3"`, ...) helps the format probe; the content decides.
    pub fn decode(bytes: &[u8], extension_hint: Option<&str>) -> Result<Self, PromptError> {
        let mut hint = Hint::new();
        if let Some(extension) = extension_hint {
            hint.with_extension(extension);
        }
        let source = MediaSourceStream::new(
            Box::new(io::Cursor::new(bytes)),
            std::default::Default::default(),
        );
        let mut format = symphonia::default::get_probe()
            .probe(
                &hint,
                source,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|error| match error {
                SymphoniaError::Unsupported(what) => PromptError::UnsupportedFormat(what.into()),
                other => PromptError::Malformed(other.to_string()),
            })?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or(PromptError::NoAudioTrack)?;
        let track_id = track.id;
        let parameters = track
            .codec_params
            .as_ref()
            .and_then(|parameters| parameters.audio())
            .ok_or(PromptError::NoAudioTrack)?;
        let mut decoder = symphonia::default::get_codecs()
            .make_audio_decoder(parameters, &AudioDecoderOptions::default())
            .map_err(|error| PromptError::UnsupportedFormat(error.to_string()))?;

        let mut converter: Option<RateConverter> = None;
        let mut interleaved: Vec<f32> = Vec::new();
        let mut mono: Vec<f32> = Vec::new();
        let mut skipped_packets = 0usize;
        let mut last_error = String::new();
        loop {
            let packet = match format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => break,
                // A truncated file: keep what was decoded.
                Err(SymphoniaError::IoError(error))
                    if error.kind() == io::ErrorKind::UnexpectedEof =>
                {
                    break;
                }
                Err(error) => return Err(PromptError::Malformed(error.to_string())),
            };
            if packet.track_id != track_id {
                continue;
            }
            let buffer = match decoder.decode(&packet) {
                Ok(buffer) => buffer,
                // One damaged packet: skip it, as players do.
                Err(SymphoniaError::DecodeError(reason)) => {
                    skipped_packets += 1;
                    last_error = reason.to_string();
                    continue;
                }
                Err(error) => return Err(PromptError::Malformed(error.to_string())),
            };
            let rate = buffer.spec().rate();
            let channels = buffer.spec().channels().count().max(1);
            interleaved.resize(buffer.samples_interleaved(), 0.0);
            buffer.copy_to_slice_interleaved(&mut interleaved[..]);
            mono.clear();
            mono.extend(
                interleaved
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() / channels as f32),
            );
            let converter = match &mut converter {
                Some(converter) => converter,
                None => converter.insert(RateConverter::new(rate)?),
            };
            if converter.source_rate != rate {
                return Err(PromptError::SampleRateChanged {
                    from: converter.source_rate,
                    to: rate,
                });
            }
            converter.push(&mono)?;
        }
        let samples = match converter {
            Some(converter) => converter.finish()?,
            None => Vec::new(),
        };
        if samples.is_empty() && skipped_packets > 0 {
            return Err(PromptError::Malformed(last_error));
        }
        Ok(Self::from_samples(samples))
    }

    /// Reads and decodes a file; the extension is the format hint.
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        let extension = path.extension().and_then(|extension| extension.to_str());
        Self::decode(&bytes, extension).map_err(|source| LoadError::Undecodable {
            path: path.to_owned(),
            source,
        })
    }

    /// The samples, 8 kHz mono.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there is no audio at all.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// How long it plays.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.samples.len() as u64 * 1_000_000_000 / u64::from(SAMPLE_RATE))
    }

    /// How many `Prompt`s share these samples.
    #[cfg(test)]
    pub(crate) fn share_count(&self) -> usize {
        Arc::strong_count(&self.samples)
    }
}

/// Mono audio at the source rate in, 8 kHz 16-bit out, chunk by chunk.
struct RateConverter {
    source_rate: u32,
    /// `None` when the source is already at 8 kHz.
    resampler: Option<Async<f32>>,
    /// Source samples not yet given to the resampler.
    pending: Vec<f32>,
    /// The resampler's output of one call.
    scratch: Vec<f32>,
    /// Source samples seen, to know how long the output must be.
    consumed: u64,
    /// Output samples of the resampler's start-up delay still to drop.
    delay_left: usize,
    output: Vec<i16>,
}

impl RateConverter {
    fn new(source_rate: u32) -> Result<Self, PromptError> {
        let resample_error = |reason: String| PromptError::Resample {
            rate: source_rate,
            reason,
        };
        if source_rate == 0 {
            return Err(resample_error("no sample rate".into()));
        }
        let resampler = if source_rate == SAMPLE_RATE {
            None
        } else {
            let parameters = SincInterpolationParameters {
                sinc_len: 128,
                f_cutoff: None,
                oversampling_factor: 128,
                interpolation: SincInterpolationType::Cubic,
                window: WindowFunction::BlackmanHarris2,
            };
            let ratio = f64::from(SAMPLE_RATE) / f64::from(source_rate);
            let resampler = Async::<f32>::new_sinc(
                ratio,
                1.0,
                &parameters,
                RESAMPLER_CHUNK,
                1,
                FixedAsync::Input,
            )
            .map_err(|error| resample_error(error.to_string()))?;
            Some(resampler)
        };
        let (scratch, delay_left) = match &resampler {
            Some(resampler) => (
                vec![0.0; resampler.output_frames_max()],
                resampler.output_delay(),
            ),
            None => (Vec::new(), 0),
        };
        Ok(Self {
            source_rate,
            resampler,
            pending: Vec::new(),
            scratch,
            consumed: 0,
            delay_left,
            output: Vec::new(),
        })
    }

    /// The output length the whole source calls for.
    fn expected_output(&self) -> usize {
        let samples = (u128::from(self.consumed) * u128::from(SAMPLE_RATE))
            .div_ceil(u128::from(self.source_rate));
        usize::try_from(samples).unwrap_or(usize::MAX)
    }

    fn push(&mut self, mono: &[f32]) -> Result<(), PromptError> {
        self.consumed += mono.len() as u64;
        if self.expected_output() > MAX_PROMPT_SAMPLES {
            return Err(PromptError::TooLong {
                max: MAX_PROMPT_DURATION,
            });
        }
        if self.resampler.is_none() {
            self.output.extend(mono.iter().map(|&value| to_i16(value)));
            return Ok(());
        }
        self.pending.extend_from_slice(mono);
        let mut used = 0;
        while self.pending.len() - used >= RESAMPLER_CHUNK {
            used += self.resample(used, None)?;
        }
        self.pending.drain(..used);
        Ok(())
    }

    /// Runs the resampler once on `pending[from..]` (all of it, padded with
    /// silence, when `partial` says how much is real); returns how many
    /// source samples it consumed.
    fn resample(&mut self, from: usize, partial: Option<usize>) -> Result<usize, PromptError> {
        let rate = self.source_rate;
        let resample_error = |reason: String| PromptError::Resample { rate, reason };
        let resampler = self
            .resampler
            .as_mut()
            .expect("only called when resampling");
        let input = &self.pending[from..];
        let input = InterleavedSlice::new(input, 1, input.len())
            .map_err(|error| resample_error(error.to_string()))?;
        let frames = self.scratch.len();
        let mut output = InterleavedSlice::new_mut(&mut self.scratch[..], 1, frames)
            .map_err(|error| resample_error(error.to_string()))?;
        let indexing = partial.map(|real| Indexing::new().partial_len(real));
        let (consumed, produced) = resampler
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|error| resample_error(error.to_string()))?;
        let skip = self.delay_left.min(produced);
        self.delay_left -= skip;
        self.output.extend(
            self.scratch[skip..produced]
                .iter()
                .map(|&value| to_i16(value)),
        );
        Ok(consumed)
    }

    fn finish(mut self) -> Result<Vec<i16>, PromptError> {
        let expected = self.expected_output();
        if self.resampler.is_some() {
            // The tail, then silence until the delayed output is all out.
            let tail = self.pending.len();
            if tail > 0 {
                self.pending.resize(RESAMPLER_CHUNK.max(tail), 0.0);
                self.resample(0, Some(tail))?;
            }
            self.pending.clear();
            self.pending.resize(RESAMPLER_CHUNK, 0.0);
            // Each round yields about a chunk's worth of output; the delay
            // is far less than a chunk, so a few rounds always do.
            for _ in 0..8 {
                if self.output.len() >= expected {
                    break;
                }
                self.resample(0, Some(0))?;
            }
        }
        self.output.truncate(expected);
        Ok(self.output)
    }
}

/// A decoder's float sample (-1.0..1.0, from `i16 / 32768`) back to 16 bits:
/// 16-bit sources come back bit-exact; louder values saturate.
fn to_i16(value: f32) -> i16 {
    (value * 32768.0).round() as i16
}

/// Every prompt file decoded once and shared: keyed by path, and decoded
/// again when the file's modification time or size changes.
///
/// The key is the path as given: `sounds/en/x.wav` and `./sounds/en/x.wav`
/// are two entries (canonicalize first if that matters).
#[derive(Debug, Default)]
pub struct PromptCache {
    entries: HashMap<PathBuf, CacheEntry>,
}

#[derive(Debug)]
struct CacheEntry {
    modified: Option<SystemTime>,
    size: u64,
    prompt: Prompt,
}

impl PromptCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The prompt of `path`: from the cache if the file has not changed
    /// since it was decoded, else read and decoded (and cached) now.
    pub fn load(&mut self, path: &Path) -> Result<Prompt, LoadError> {
        let unreadable = |source| LoadError::Unreadable {
            path: path.to_owned(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(unreadable)?;
        // Some file systems keep no modification time: then the size alone
        // tells a change.
        let modified = metadata.modified().ok();
        let size = metadata.len();
        if let Some(entry) = self.entries.get(path)
            && entry.modified == modified
            && entry.size == size
        {
            return Ok(entry.prompt.clone());
        }
        let prompt = Prompt::load(path)?;
        self.entries.insert(
            path.to_owned(),
            CacheEntry {
                modified,
                size,
                prompt: prompt.clone(),
            },
        );
        Ok(prompt)
    }

    /// Forgets one file (it is decoded again on the next load).
    pub fn remove(&mut self, path: &Path) -> Option<Prompt> {
        self.entries.remove(path).map(|entry| entry.prompt)
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Files cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::f64::consts::TAU;
    use std::io::Cursor;

    /// The power of `frequency` in `samples` (Goertzel), normalised so a
    /// sine of amplitude `a` gives about `a`.
    pub(crate) fn goertzel_amplitude(samples: &[i16], frequency: f64) -> f64 {
        let coefficient = 2.0 * (TAU * frequency / f64::from(SAMPLE_RATE)).cos();
        let (mut previous, mut before) = (0.0, 0.0);
        for &sample in samples {
            let current = f64::from(sample) + coefficient * previous - before;
            before = previous;
            previous = current;
        }
        let power = previous * previous + before * before - coefficient * previous * before;
        2.0 * power.sqrt() / samples.len() as f64
    }

    fn sine_wav(rate: u32, channels: u16, seconds: f64, frequency: f64, amplitude: f64) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut bytes = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut bytes, spec).expect("in-memory WAV");
        let frames = (f64::from(rate) * seconds) as usize;
        for n in 0..frames {
            let value = amplitude * (TAU * frequency * n as f64 / f64::from(rate)).sin();
            for _ in 0..channels {
                writer
                    .write_sample(value.round() as i16)
                    .expect("in-memory WAV");
            }
        }
        writer.finalize().expect("in-memory WAV");
        bytes.into_inner()
    }

    fn zero_crossings(samples: &[i16]) -> usize {
        samples
            .windows(2)
            .filter(|pair| (pair[0] < 0) != (pair[1] < 0))
            .count()
    }

    #[test]
    fn an_eight_kilohertz_mono_wav_comes_back_bit_exact() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let samples: Vec<i16> = (0..4000)
            .map(|n: i32| ((n * 7919) % 65536 - 32768) as i16)
            .chain([i16::MIN, i16::MAX, 0, -1, 1])
            .collect();
        let mut bytes = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut bytes, spec).expect("in-memory WAV");
        for &sample in &samples {
            writer.write_sample(sample).expect("in-memory WAV");
        }
        writer.finalize().expect("in-memory WAV");

        let prompt = Prompt::decode(bytes.get_ref(), Some("wav")).expect("decodes");
        assert_eq!(prompt.samples(), &samples[..]);
        assert_eq!(prompt.duration(), Duration::from_nanos(500_625_000));
    }

    #[test]
    fn a_sixteen_kilohertz_stereo_wav_becomes_eight_kilohertz_mono() {
        let bytes = sine_wav(16_000, 2, 1.0, 1000.0, 10_000.0);
        let prompt = Prompt::decode(&bytes, None).expect("decodes");
        assert_eq!(prompt.len(), 8000);
        assert_eq!(prompt.duration(), Duration::from_secs(1));
        // Away from the edges: 1 kHz at the same amplitude, and nothing at
        // other frequencies.
        let middle = &prompt.samples()[800..7200];
        let amplitude = goertzel_amplitude(middle, 1000.0);
        assert!((amplitude / 10_000.0 - 1.0).abs() < 0.02, "{amplitude}");
        assert!(goertzel_amplitude(middle, 600.0) < 100.0);
        // 1000 Hz: 2000 zero crossings a second.
        let crossings = zero_crossings(middle);
        assert!((1598..=1602).contains(&crossings), "{crossings}");
        // The resampler's delay is trimmed: the sine starts at the start.
        assert!(
            prompt.samples()[..8]
                .iter()
                .any(|&sample| sample.abs() > 3000)
        );
    }

    #[test]
    fn odd_rates_and_lengths_resample_to_the_right_length() {
        for (rate, seconds) in [
            (11_025, 0.3),
            (22_050, 0.05),
            (44_100, 1.7),
            (48_000, 0.001),
        ] {
            let bytes = sine_wav(rate, 1, seconds, 440.0, 8000.0);
            let source_frames = (f64::from(rate) * seconds) as u64;
            let prompt = Prompt::decode(&bytes, Some("wav")).expect("decodes");
            let expected = (source_frames * 8000).div_ceil(u64::from(rate));
            assert_eq!(prompt.len() as u64, expected, "{rate} Hz");
        }
    }

    #[test]
    fn a_resampled_tone_above_four_kilohertz_is_filtered_out() {
        // 5 kHz at 16 kHz would alias to 3 kHz without the low-pass filter.
        let bytes = sine_wav(16_000, 1, 0.5, 5000.0, 10_000.0);
        let prompt = Prompt::decode(&bytes, None).expect("decodes");
        let middle = &prompt.samples()[400..3600];
        assert!(goertzel_amplitude(middle, 3000.0) < 30.0);
    }

    #[test]
    fn compressed_fixtures_decode_to_their_sine() {
        let directory =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/prompts");
        for name in [
            "sine-440-16k-stereo.flac",
            "sine-440-22k-mono.ogg",
            "sine-440-16k-mono.mp3",
        ] {
            let prompt = Prompt::load(&directory.join(name)).expect(name);
            // 0.5 s. Symphonia 0.6 does not trim this MP3's encoder delay
            // and padding (LAME's 1105 + 71 samples at 16 kHz): 0.576 s.
            let seconds = prompt.duration().as_secs_f64();
            let longest = if name.ends_with(".mp3") { 0.58 } else { 0.51 };
            assert!((0.49..longest).contains(&seconds), "{name}: {seconds}");
            let middle = &prompt.samples()[800..3200];
            // -6 dBFS: amplitude 16423.
            let amplitude = goertzel_amplitude(middle, 440.0);
            assert!(
                (14_500.0..18_000.0).contains(&amplitude),
                "{name}: {amplitude}"
            );
            assert!(goertzel_amplitude(middle, 1000.0) < 300.0, "{name}");
        }
    }

    #[test]
    fn the_shipped_sounds_decode() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sounds");
        let mut speech = vec![
            ("greeting", 1.5..5.0),
            ("goodbye", 1.0..5.0),
            ("invalid", 1.0..4.0),
            ("voicemail", 1.5..5.0),
            ("demo-4000", 1.5..5.0),
            ("digit-star", 0.3..1.5),
            ("digit-pound", 0.3..1.5),
        ];
        let digits: Vec<String> = (0..10).map(|digit| format!("digit-{digit}")).collect();
        speech.extend(digits.iter().map(|name| (name.as_str(), 0.3..1.5)));
        for (name, seconds) in speech {
            let path = root.join("en").join(format!("{name}.wav"));
            let prompt = Prompt::load(&path).expect(name);
            let duration = prompt.duration().as_secs_f64();
            assert!(seconds.contains(&duration), "{name}: {duration} s");
            let peak = prompt.samples().iter().map(|s| s.unsigned_abs()).max();
            assert!(peak > Some(8000), "{name} is too quiet: {peak:?}");
        }
        let music = Prompt::load(&root.join("hold-music.wav")).expect("hold music");
        let seconds = music.duration().as_secs_f64();
        assert!((20.0..=30.0).contains(&seconds), "{seconds}");
        // It loops without a click: it starts and ends at silence.
        let samples = music.samples();
        assert!(samples[..8].iter().all(|s| s.abs() < 200));
        assert!(samples[samples.len() - 8..].iter().all(|s| s.abs() < 200));
    }

    #[test]
    fn bad_input_gives_a_typed_error() {
        assert!(matches!(
            Prompt::decode(b"this is not audio at all, just some text", None),
            Err(PromptError::UnsupportedFormat(_))
        ));
        assert!(matches!(
            Prompt::decode(&[], Some("wav")),
            Err(PromptError::UnsupportedFormat(_) | PromptError::Malformed(_))
        ));
        // A RIFF header cut short.
        let bytes = sine_wav(8000, 1, 0.1, 440.0, 1000.0);
        assert!(Prompt::decode(&bytes[..30], Some("wav")).is_err());
        let missing = Path::new("/nonexistent/switchboard/prompt.wav");
        assert!(matches!(
            Prompt::load(missing),
            Err(LoadError::Unreadable { path, .. }) if path == missing
        ));
        let error = PromptCache::new().load(missing).expect_err("missing");
        assert!(
            error
                .to_string()
                .contains("/nonexistent/switchboard/prompt.wav")
        );
    }

    #[test]
    fn a_truncated_wav_keeps_what_it_has() {
        let bytes = sine_wav(8000, 1, 0.5, 440.0, 1000.0);
        // Half the data chunk is gone (the header still claims 4000 samples).
        let prompt = Prompt::decode(&bytes[..44 + 4000], Some("wav")).expect("decodes");
        assert_eq!(prompt.len(), 2000);
    }

    #[test]
    fn the_cache_decodes_each_file_once_and_again_when_it_changes() {
        let directory =
            std::env::temp_dir().join(format!("switchboard-prompt-cache-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        let path = directory.join("prompt.wav");
        std::fs::write(&path, sine_wav(8000, 1, 0.25, 440.0, 1000.0)).expect("write");

        let mut cache = PromptCache::new();
        let first = cache.load(&path).expect("loads");
        let second = cache.load(&path).expect("loads");
        assert_eq!(cache.len(), 1);
        // The same samples, shared, not decoded twice.
        assert!(Arc::ptr_eq(&first.samples, &second.samples));
        assert_eq!(first.len(), 2000);

        // A new file of another size: decoded again.
        std::fs::write(&path, sine_wav(8000, 1, 0.5, 440.0, 1000.0)).expect("write");
        let third = cache.load(&path).expect("loads");
        assert_eq!(third.len(), 4000);
        assert!(!Arc::ptr_eq(&first.samples, &third.samples));
        assert_eq!(cache.len(), 1);

        assert!(cache.remove(&path).is_some());
        assert!(cache.is_empty());
        std::fs::remove_dir_all(&directory).expect("clean up");
    }
}
