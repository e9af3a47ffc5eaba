//! How a channel is set up.

use std::num::NonZeroU8;
use std::time::{Duration, SystemTime};

use crate::jitter_buffer::JitterBufferConfig;
use crate::rtp::{Latching, Ssrc};

/// How long a receiving channel waits for RTP before it reports
/// [`ChannelEvent::MediaTimeout`](super::ChannelEvent::MediaTimeout).
pub const DEFAULT_MEDIA_TIMEOUT: Duration = Duration::from_secs(30);

/// How a channel is set up.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// Our SSRC for everything we send.
    pub ssrc: Ssrc,
    /// Our RTCP canonical name (SDES CNAME).
    pub cname: String,
    /// Seed of the RTCP interval randomisation and of our initial sequence
    /// number and timestamp (RFC 3550 §5.1 wants them random).
    pub rng_seed: u64,
    /// The wall-clock time at the `now` given to [`Channel::new`](super::Channel::new); later
    /// wall times (for RTCP sender reports) follow the monotonic clock.
    pub wall_clock: SystemTime,
    /// Whether to run the in-band DTMF detector on decoded audio.
    pub inband_dtmf: bool,
    /// How long without RTP before [`ChannelEvent::MediaTimeout`](super::ChannelEvent::MediaTimeout), while the
    /// direction receives; `None` never times out.
    pub media_timeout: Option<Duration>,
    /// The jitter buffer's delays and size.
    pub jitter_buffer: JitterBufferConfig,
    /// Consecutive packets a new source must send before we latch to it.
    pub latching_threshold: NonZeroU8,
    /// The RTCP minimum report interval (RFC 3550 §6.2).
    pub rtcp_minimum_interval: Duration,
}

impl ChannelConfig {
    /// Defaults: no in-band detection, a 30 s media timeout, the default
    /// jitter buffer, latching after 3 packets, RTCP every ~5 s.
    pub fn new(
        ssrc: Ssrc,
        cname: impl Into<String>,
        rng_seed: u64,
        wall_clock: SystemTime,
    ) -> Self {
        Self {
            ssrc,
            cname: cname.into(),
            rng_seed,
            wall_clock,
            inband_dtmf: false,
            media_timeout: Some(DEFAULT_MEDIA_TIMEOUT),
            jitter_buffer: JitterBufferConfig::default(),
            latching_threshold: Latching::DEFAULT_THRESHOLD,
            rtcp_minimum_interval: Duration::from_secs(5),
        }
    }
}
