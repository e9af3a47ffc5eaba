//! Detectors that listen to a stream of 20 ms frames and report what they
//! heard, sans-IO: they take `now` and a frame, and the caller drains their
//! events.
//!
//! - [`speech`]: speech and silence (voice activity with hangover), for the
//!   voicemail silence timeout and, later, answering-machine detection.

pub mod speech;

pub use speech::{
    Classifier, FrameClassifier, SilenceTimeoutStart, SpeechDetector, SpeechDetectorConfig,
    SpeechEvent, level_dbfs,
};
