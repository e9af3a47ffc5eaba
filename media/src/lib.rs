//! Switchboard's media engine.
//!
//! What is here today:
//!
//! - [`sdp`]: session descriptions (parsed and printed by the `sdp-types`
//!   crate) and the RFC 3264 offer/answer model for G.711 audio with
//!   RFC 4733 telephone-events.
//! - [`rtp`]: the RFC 3550 fixed header (parsed and written by the
//!   `rtp-types` crate), our outgoing stream numbering and symmetric RTP
//!   latching, all sans-IO.
//! - [`ports`]: the RTP/RTCP port pair allocator, sans-IO.
//! - [`codec`]: the audio codecs we negotiate.
//! - [`audio`]: the internal audio format, 8 kHz linear PCM in 20 ms frames.
//! - `driver` (feature `driver`, on by default): tokio RTP endpoints with
//!   echo, relay (B2BUA bridge) and hold modes.
//!
//! The crate knows nothing about SIP: the SIP layer carries SDP bodies as
//! bytes and maps [`sdp::NegotiationError`] to a status code (488).
//! Everything except `driver` builds without tokio and never reads the clock:
//! time is an argument.

pub mod audio;
pub mod codec;
pub mod ports;
pub mod rtp;
pub mod sdp;

#[cfg(feature = "driver")]
pub mod driver;

/// An arbitrary origin for the fake clocks of unit tests: cores only ever
/// see instants derived from it, so only differences matter.
#[cfg(test)]
pub(crate) fn test_epoch() -> std::time::Instant {
    #[allow(clippy::disallowed_methods)]
    std::time::Instant::now()
}
