//! Call recording to WAV files (8 kHz, 16-bit PCM, written by `hound`).
//!
//! One [`Recorder`] per recorded call. The media tick hands it the two
//! sides of the call once per 20 ms ([`Recorder::write_frames`]):
//!
//! - [`RecordingFormat::Stereo`]: the caller on the left channel, the other
//!   party on the right, so each side can be heard (or transcribed) alone;
//! - [`RecordingFormat::Mono`]: the two sides mixed, with saturation.
//!
//! ```text
//!            pause()             finish() / drop
//!   Recording ------> Paused  ------------------> Finished
//!       ^               |                             ^
//!       +---resume()----+                             |
//!       +---------------------------------------------+
//! ```
//!
//! **Pauses are cut, not left as gaps**: frames handed over while paused
//! (say, while the caller reads out a card number) are dropped, so the file
//! is shorter than the call. Their duration is counted and reported in the
//! [`RecordingSummary`].
//!
//! **The file is valid however the call ends.** A WAV header carries the
//! data length, which `hound` only writes when it finalises. So the recorder
//! rewrites the header every [`FLUSH_EVERY_FRAMES`] frames (one second of
//! audio): if the process is killed mid-call the file still reads, up to
//! the last flush. [`Recorder::finish`] finalises it and is idempotent, and
//! dropping an unfinished recorder finalises it too, logging (never
//! panicking on) any error. The file is written under its final name, not
//! a temporary one renamed at the end: a crash then leaves a playable
//! recording where the call's records say it is. Whoever needs to know that
//! a recording is complete goes by the [`RecordingSummary`].
//!
//! No allocation per frame: samples go through `hound`'s 16-bit sample
//! writer, whose buffer is allocated once at creation, into a `BufWriter`.
//! The recorder reads no clock: durations are counted in frames.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hound::{SampleFormat, WavSpec, WavWriter};

use crate::audio::{FRAME_MILLIS, FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// How often, in frames, the WAV header is rewritten so that the file on
/// disk stays valid: 50 frames, one second of audio.
pub const FLUSH_EVERY_FRAMES: u64 = 50;

/// How the two sides of a call are laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingFormat {
    /// Two channels: the caller on the left, the other party on the right.
    Stereo,
    /// One channel: the two sides summed, saturating at full scale.
    Mono,
}

impl RecordingFormat {
    /// The number of WAV channels.
    pub fn channels(self) -> u16 {
        match self {
            Self::Stereo => 2,
            Self::Mono => 1,
        }
    }
}

/// Why a recording could not be made or continued.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The file could not be created (it may already exist: recordings are
    /// never overwritten).
    #[error("cannot create recording {path}: {source}")]
    Create {
        /// The path asked for.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// Writing the WAV file failed.
    #[error("writing recording {path}: {source}")]
    Write {
        /// The recording's path.
        path: PathBuf,
        /// What `hound` (or the file system under it) said.
        source: hound::Error,
    },
    /// The recording was already finished.
    #[error("recording {0} is finished")]
    Finished(PathBuf),
    /// The recording reached the 4 GiB limit of a WAV file.
    #[error("recording {0} is full (4 GiB WAV limit)")]
    Full(PathBuf),
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Where the file is.
    pub path: PathBuf,
    /// The length of the audio in the file (`frames` × 20 ms).
    pub duration: Duration,
    /// The 20 ms frames written.
    pub frames: u64,
    /// The time cut out by pauses (frames handed over while paused).
    pub paused: Duration,
}

/// Records the two sides of one call to a WAV file. See the module
/// documentation for the guarantees on the file.
pub struct Recorder {
    path: PathBuf,
    format: RecordingFormat,
    /// `None` once finished.
    writer: Option<WavWriter<BufWriter<File>>>,
    paused: bool,
    frames: u64,
    paused_frames: u64,
    /// The summary, kept so that `finish` can be called again.
    summary: Option<RecordingSummary>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("finished", &self.writer.is_none())
            .field("paused", &self.paused)
            .field("frames", &self.frames)
            .field("paused_frames", &self.paused_frames)
            .finish()
    }
}

fn frames_duration(frames: u64) -> Duration {
    Duration::from_millis(frames * u64::from(FRAME_MILLIS))
}

impl Recorder {
    /// Creates the file at `path` (which must not exist yet) and writes its
    /// header. Recording starts at once, not paused.
    pub fn create(path: impl AsRef<Path>, format: RecordingFormat) -> Result<Self, RecorderError> {
        let path = path.as_ref().to_path_buf();
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| RecorderError::Create {
                path: path.clone(),
                source,
            })?;
        let spec = WavSpec {
            channels: format.channels(),
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut writer =
            WavWriter::new(BufWriter::new(file), spec).map_err(|source| RecorderError::Write {
                path: path.clone(),
                source,
            })?;
        // Allocates the sample writer's buffer now; `hound` reuses it for
        // every later frame of the same size.
        let _ = writer.get_i16_writer(Self::samples_per_frame(format));
        // The header alone is a valid, empty WAV file.
        writer.flush().map_err(|source| RecorderError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            path,
            format,
            writer: Some(writer),
            paused: false,
            frames: 0,
            paused_frames: 0,
            summary: None,
        })
    }

    fn samples_per_frame(format: RecordingFormat) -> u32 {
        FRAME_SAMPLES as u32 * u32::from(format.channels())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layout of the file.
    pub fn format(&self) -> RecordingFormat {
        self.format
    }

    /// Whether recording is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Whether the recording is finished (explicitly or by an error).
    pub fn is_finished(&self) -> bool {
        self.writer.is_none()
    }

    /// The 20 ms frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Hands over one tick of the call: what the caller said and what the
    /// other party said in the same 20 ms. Call it every tick, paused or
    /// not: while paused the frames are dropped and counted as paused time.
    pub fn write_frames(&mut self, caller: &Frame, other: &Frame) -> Result<(), RecorderError> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(RecorderError::Finished(self.path.clone()));
        };
        if self.paused {
            self.paused_frames += 1;
            return Ok(());
        }
        // A WAV data chunk is at most 4 GiB (its length is a 32-bit field):
        // about 37 hours in stereo, 74 in mono.
        let max_frames =
            u64::from(u32::MAX) / (2 * u64::from(Self::samples_per_frame(self.format)));
        if self.frames >= max_frames {
            return Err(RecorderError::Full(self.path.clone()));
        }
        let mut samples = writer.get_i16_writer(Self::samples_per_frame(self.format));
        match self.format {
            RecordingFormat::Stereo => {
                for (&left, &right) in caller.iter().zip(other) {
                    samples.write_sample(left);
                    samples.write_sample(right);
                }
            }
            RecordingFormat::Mono => {
                for (&a, &b) in caller.iter().zip(other) {
                    samples.write_sample(a.saturating_add(b));
                }
            }
        }
        let path = &self.path;
        samples.flush().map_err(|source| RecorderError::Write {
            path: path.clone(),
            source,
        })?;
        self.frames += 1;
        if self.frames.is_multiple_of(FLUSH_EVERY_FRAMES) {
            self.flush()?;
        }
        Ok(())
    }

    /// Rewrites the header and flushes the file, so that what was written so
    /// far survives a crash. Done every [`FLUSH_EVERY_FRAMES`] by
    /// [`write_frames`](Self::write_frames); a no-op once finished.
    pub fn flush(&mut self) -> Result<(), RecorderError> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        writer.flush().map_err(|source| RecorderError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Stops writing: until [`resume`](Self::resume), frames handed over
    /// are cut from the recording. Pausing twice is harmless.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Writes frames again after a [`pause`](Self::pause).
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// Finalises the WAV header and closes the file. Idempotent: later calls
    /// return the same summary. If finalising fails the error is returned
    /// (once) and the file holds what the last flush wrote.
    pub fn finish(&mut self) -> Result<RecordingSummary, RecorderError> {
        if let Some(summary) = &self.summary {
            return Ok(summary.clone());
        }
        let summary = RecordingSummary {
            path: self.path.clone(),
            duration: frames_duration(self.frames),
            frames: self.frames,
            paused: frames_duration(self.paused_frames),
        };
        self.summary = Some(summary.clone());
        if let Some(writer) = self.writer.take() {
            writer.finalize().map_err(|source| RecorderError::Write {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(summary)
    }
}

impl Drop for Recorder {
    /// Finalises a recording that was not finished (the call's task ended
    /// early or unwound); an error is logged, never raised.
    fn drop(&mut self) {
        if self.writer.is_none() {
            return;
        }
        match self.finish() {
            Ok(summary) => tracing::debug!(
                path = %summary.path.display(),
                frames = summary.frames,
                "recording finalised on drop"
            ),
            Err(error) => tracing::error!(%error, "recording not finalised on drop"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "switchboard-recorder-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            Self(dir)
        }

        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A frame whose samples tell its side, its number and the position.
    fn frame(side: i16, n: u64) -> Frame {
        let mut frame = [0; FRAME_SAMPLES];
        for (i, sample) in frame.iter_mut().enumerate() {
            *sample = side * (1000 + (n as i16 % 100) * 160 + i as i16);
        }
        frame
    }

    fn read(path: &Path) -> (WavSpec, Vec<i16>) {
        let mut reader = hound::WavReader::open(path).expect("a valid WAV file");
        let spec = reader.spec();
        let samples = reader
            .samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .expect("readable samples");
        (spec, samples)
    }

    #[test]
    fn stereo_puts_the_caller_left_and_the_other_party_right() {
        let dir = TempDir::new("stereo");
        let path = dir.file("call.wav");
        let mut recorder = Recorder::create(&path, RecordingFormat::Stereo).unwrap();
        for n in 0..75 {
            recorder.write_frames(&frame(1, n), &frame(-1, n)).unwrap();
        }
        let summary = recorder.finish().unwrap();
        assert_eq!(summary.frames, 75);
        assert_eq!(summary.duration, Duration::from_millis(1500));
        assert_eq!(summary.paused, Duration::ZERO);
        assert_eq!(summary.path, path);

        let (spec, samples) = read(&path);
        assert_eq!(spec.channels, 2);
        assert_eq!(spec.sample_rate, 8000);
        assert_eq!(spec.bits_per_sample, 16);
        assert_eq!(samples.len(), 75 * FRAME_SAMPLES * 2);
        for n in 0..75 {
            let (left, right) = (frame(1, n), frame(-1, n));
            let base = n as usize * FRAME_SAMPLES * 2;
            for i in 0..FRAME_SAMPLES {
                assert_eq!(samples[base + 2 * i], left[i], "frame {n} sample {i} left");
                assert_eq!(
                    samples[base + 2 * i + 1],
                    right[i],
                    "frame {n} sample {i} right"
                );
            }
        }
    }

    #[test]
    fn mono_mixes_both_sides_with_saturation() {
        let dir = TempDir::new("mono");
        let path = dir.file("call.wav");
        let mut recorder = Recorder::create(&path, RecordingFormat::Mono).unwrap();
        let mut caller = [0i16; FRAME_SAMPLES];
        let mut other = [0i16; FRAME_SAMPLES];
        for i in 0..FRAME_SAMPLES {
            caller[i] = (i as i16 - 80) * 150;
            other[i] = (i as i16 - 80) * 100 + 7;
        }
        caller[0] = 30000;
        other[0] = 30000;
        caller[1] = -30000;
        other[1] = -30000;
        recorder.write_frames(&caller, &other).unwrap();
        recorder.write_frames(&frame(1, 1), &SILENCE_FRAME).unwrap();
        recorder.finish().unwrap();

        let (spec, samples) = read(&path);
        assert_eq!(spec.channels, 1);
        assert_eq!(samples.len(), 2 * FRAME_SAMPLES);
        assert_eq!(samples[0], i16::MAX);
        assert_eq!(samples[1], i16::MIN);
        for i in 2..FRAME_SAMPLES {
            assert_eq!(samples[i], caller[i] + other[i], "sample {i}");
        }
        assert_eq!(&samples[FRAME_SAMPLES..], &frame(1, 1)[..]);
    }

    const SILENCE_FRAME: Frame = crate::audio::SILENCE;

    #[test]
    fn a_pause_is_cut_from_the_file_and_counted() {
        let dir = TempDir::new("pause");
        let path = dir.file("call.wav");
        let mut recorder = Recorder::create(&path, RecordingFormat::Mono).unwrap();
        for n in 0..10 {
            if n == 3 {
                recorder.pause();
                recorder.pause();
                assert!(recorder.is_paused());
            }
            if n == 7 {
                recorder.resume();
            }
            recorder.write_frames(&frame(1, n), &SILENCE_FRAME).unwrap();
        }
        let summary = recorder.finish().unwrap();
        assert_eq!(summary.frames, 6);
        assert_eq!(summary.duration, Duration::from_millis(120));
        assert_eq!(summary.paused, Duration::from_millis(80));

        let (_, samples) = read(&path);
        let expected: Vec<i16> = [0, 1, 2, 7, 8, 9]
            .into_iter()
            .flat_map(|n| frame(1, n))
            .collect();
        assert_eq!(samples, expected);
    }

    #[test]
    fn finish_twice_returns_the_same_summary_and_writing_after_fails() {
        let dir = TempDir::new("twice");
        let path = dir.file("call.wav");
        let mut recorder = Recorder::create(&path, RecordingFormat::Stereo).unwrap();
        recorder.write_frames(&frame(1, 0), &frame(-1, 0)).unwrap();
        let first = recorder.finish().unwrap();
        let second = recorder.finish().unwrap();
        assert_eq!(first, second);
        assert!(recorder.is_finished());
        assert!(matches!(
            recorder.write_frames(&frame(1, 1), &frame(-1, 1)),
            Err(RecorderError::Finished(_))
        ));
        recorder.flush().unwrap();
        drop(recorder);
        assert_eq!(read(&path).1.len(), 2 * FRAME_SAMPLES);
    }

    #[test]
    fn dropping_an_unfinished_recorder_leaves_a_valid_file() {
        let dir = TempDir::new("drop");
        let path = dir.file("call.wav");
        let mut recorder = Recorder::create(&path, RecordingFormat::Stereo).unwrap();
        // 13 frames: not a multiple of the flush interval, so only the
        // finalisation on drop can make them all readable.
        for n in 0..13 {
            recorder.write_frames(&frame(1, n), &frame(-1, n)).unwrap();
        }
        drop(recorder);
        let (_, samples) = read(&path);
        assert_eq!(samples.len(), 13 * FRAME_SAMPLES * 2);
    }

    #[test]
    fn a_crash_leaves_a_readable_file_up_to_the_last_flush() {
        let dir = TempDir::new("crash");
        let path = dir.file("call.wav");
        let mut recorder = Recorder::create(&path, RecordingFormat::Stereo).unwrap();
        // Empty but valid straight after creation.
        assert_eq!(read(&path).1.len(), 0);
        let frames = 2 * FLUSH_EVERY_FRAMES + 17;
        for n in 0..frames {
            recorder.write_frames(&frame(1, n), &frame(-1, n)).unwrap();
        }
        // Readable while the writer is still open...
        let (_, open) = read(&path);
        assert_eq!(
            open.len(),
            2 * FLUSH_EVERY_FRAMES as usize * FRAME_SAMPLES * 2
        );
        // ...and after a crash: no finalisation, buffered bytes lost.
        std::mem::forget(recorder);
        let (spec, samples) = read(&path);
        assert_eq!(spec.channels, 2);
        let flushed = 2 * FLUSH_EVERY_FRAMES as usize;
        assert!(samples.len() >= flushed * FRAME_SAMPLES * 2);
        for n in 0..flushed {
            let base = n * FRAME_SAMPLES * 2;
            assert_eq!(samples[base], frame(1, n as u64)[0]);
            assert_eq!(samples[base + 1], frame(-1, n as u64)[0]);
        }
    }

    #[test]
    fn an_explicit_flush_makes_everything_so_far_readable() {
        let dir = TempDir::new("flush");
        let path = dir.file("call.wav");
        let mut recorder = Recorder::create(&path, RecordingFormat::Mono).unwrap();
        for n in 0..5 {
            recorder.write_frames(&frame(1, n), &SILENCE_FRAME).unwrap();
        }
        recorder.flush().unwrap();
        let (_, samples) = read(&path);
        assert_eq!(samples.len(), 5 * FRAME_SAMPLES);
        std::mem::forget(recorder);
        assert_eq!(read(&path).1.len(), 5 * FRAME_SAMPLES);
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = TempDir::new("exists");
        let path = dir.file("call.wav");
        std::fs::write(&path, b"earlier recording").unwrap();
        assert!(matches!(
            Recorder::create(&path, RecordingFormat::Mono),
            Err(RecorderError::Create { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"earlier recording");
    }

    #[test]
    fn duration_is_frames_times_twenty_milliseconds() {
        let dir = TempDir::new("duration");
        let path = dir.file("call.wav");
        let mut recorder = Recorder::create(&path, RecordingFormat::Stereo).unwrap();
        for n in 0..123 {
            recorder.write_frames(&frame(1, n), &frame(-1, n)).unwrap();
        }
        let summary = recorder.finish().unwrap();
        assert_eq!(summary.duration, Duration::from_millis(123 * 20));
        let reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(
            u64::from(reader.duration()),
            summary.duration.as_millis() as u64 * 8
        );
    }
}
