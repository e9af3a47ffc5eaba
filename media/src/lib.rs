//! Switchboard's media engine.
//!
//! What is here:
//!
//! - [`sdp`]: session descriptions (parsed and printed by the `sdp-types`
//!   crate) and the RFC 3264 offer/answer model for G.711 audio with
//!   RFC 4733 telephone-events.
//! - [`rtp`]: the RFC 3550 fixed header (parsed and written by the
//!   `rtp-types` crate), our outgoing stream numbering and symmetric RTP
//!   latching, sequence numbers and timestamps unwrapped to 64 bits
//!   (RFC 3550 §A.1, [`rtp::MediaTime`]), all sans-IO.
//! - [`rtcp`]: RTCP (RFC 3550 §6): reception statistics, SR/RR/SDES/BYE
//!   compound packets (parsed and written by the `rtcp-types` crate),
//!   round-trip time and the [`rtcp::QualityStats`] summary for CDRs.
//! - [`dtmf`]: DTMF digits, RFC 4733 telephone-events received and sent,
//!   in-band tone generation and a Goertzel detector (ITU-T Q.24), sans-IO.
//! - [`ports`]: the RTP/RTCP port pair allocator, sans-IO.
//! - [`codec`]: the audio codecs we negotiate and G.711 µ-law/A-law
//!   encoding, decoding and transcoding.
//! - [`audio`]: the internal audio format, 8 kHz linear PCM in 20 ms frames.
//! - [`jitter_buffer`]: the adaptive jitter buffer of an incoming stream
//!   (reordering, duplicates, late packets, clock drift, re-sync) and
//!   PCM-level loss concealment, sans-IO.
//! - [`player`]: prompts (WAV, MP3, FLAC, Ogg Vorbis decoded once to 8 kHz
//!   and cached), call-progress tones with cadences (US and UK tables),
//!   silence and playlists, played one 20 ms frame at a time, sans-IO.
//! - [`mixer`]: the N-party mix-minus mixer of 20 ms frames, with the
//!   listen, whisper (coach) and barge roles.
//! - [`recorder`]: call recording to WAV files (stereo, caller left, or
//!   mixed mono), with pauses cut and a file valid however the call ends.
//! - [`detector`]: speech and silence detection (voice activity with
//!   hangover, silence timeout), sans-IO.
//! - [`channel`]: the media of one call leg for a 20 ms media worker:
//!   latching, jitter buffer and G.711 decoding, RFC 4733 and in-band
//!   digits, our outgoing stream (frames, digits, relayed packets with
//!   in-place transcoding), RTCP and the media timeout, sans-IO and without
//!   allocation per packet.
//! - [`outgoing`]: what a channel sends on each tick (its player, held
//!   back while a digit goes out; else its mix) and its recording's right
//!   channel, the engine's per-channel decisions, sans-IO.
//! - [`event`]: the ids of channels and mixes and what a channel reports,
//!   shared by the engine and call control (or a fake of the engine).
//! - `engine` (feature `driver`, on by default): the media workers, OS
//!   threads that each
//!   own many [`channel::Channel`]s and their sockets on one `mio` poll,
//!   relaying packets as they arrive and ticking every 20 ms.
//!
//! The crate knows nothing about SIP: the SIP layer carries SDP bodies as
//! bytes and maps [`sdp::NegotiationError`] to a status code (488).
//! Everything except `engine` builds without its threads and never reads the clock:
//! time is an argument.

pub mod audio;
pub mod channel;
pub mod codec;
pub mod detector;
pub mod dtmf;
pub mod event;
pub mod jitter_buffer;
pub mod mixer;
pub mod outgoing;
pub mod player;
pub mod ports;
pub mod recorder;
pub mod rtcp;
pub mod rtp;
pub mod sdp;

#[cfg(feature = "driver")]
pub mod engine;

/// An arbitrary origin for the fake clocks of unit tests: cores only ever
/// see instants derived from it, so only differences matter.
#[cfg(test)]
pub(crate) fn test_epoch() -> std::time::Instant {
    #[allow(clippy::disallowed_methods)]
    std::time::Instant::now()
}

/// The Goertzel power of `frequency` in `samples` at `rate` Hz,
/// normalised to full scale: how unit tests hear a tone.
#[cfg(test)]
pub(crate) fn tone_power(samples: &[i16], rate: f64, frequency: f64) -> f64 {
    let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for sample in samples {
        let s0 = f64::from(*sample) / 32768.0 + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (samples.len() as f64).powi(2)
}
