//! One call leg's media channel, and the pool of RTP ports and media
//! workers they come from.

use media::channel::ChannelStats;
use media::engine::{self, BindError, ChannelHandle, MediaEngine, MediaEvent, Routing};
use media::ports::{PortAllocator, PortError};
use media::recorder::Recorder;
use media::sdp::NegotiatedMedia;
use std::fmt;
use std::net::IpAddr;
use std::thread;

/// The RTP ports, the address channels bind on, and the media workers.
pub struct MediaPool {
    address: IpAddr,
    ports: PortAllocator,
    engine: MediaEngine,
}

/// Why the pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum MediaPoolError {
    /// The port range is not usable.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// A media worker could not start.
    #[error("starting the media workers: {0}")]
    Workers(#[from] std::io::Error),
}

impl MediaPool {
    /// A pool over ports `low..=high` on `address`, with one media worker
    /// per core.
    pub fn new(address: IpAddr, low: u16, high: u16) -> Result<MediaPool, MediaPoolError> {
        let workers = thread::available_parallelism().map_or(1, |cores| cores.get());
        let engine = MediaEngine::start(workers, log_media_event)?;
        Ok(MediaPool {
            address,
            ports: PortAllocator::new(low, high)?,
            engine,
        })
    }

    /// Opens a channel that sends nothing until told where; on the same
    /// media worker as `beside` (the other leg of the call) when given.
    pub fn open(&mut self, beside: Option<&MediaLeg>) -> Result<MediaLeg, BindError> {
        let beside = beside.and_then(|leg| leg.handle.as_ref());
        let handle = self.engine.open(self.address, &mut self.ports, beside)?;
        Ok(MediaLeg {
            handle: Some(handle),
        })
    }

    /// Closes a leg's channel and gives its ports back.
    pub fn close(&mut self, mut leg: MediaLeg) {
        if let Some(handle) = leg.handle.take() {
            handle.close();
            // The worker closes the sockets at once; should a new call draw
            // the same pair first, binding moves on to the next pair.
            let _ = self.ports.release(handle.port_pair());
        }
    }
}

/// Digits and media timeouts are logged until the IVR acts on them.
fn log_media_event(event: MediaEvent) {
    tracing::debug!(channel = event.channel.get(), event = ?event.event, "media event");
}

/// A call leg's media channel.
pub struct MediaLeg {
    handle: Option<ChannelHandle>,
}

impl MediaLeg {
    /// A leg with no channel (after close).
    pub fn closed() -> MediaLeg {
        MediaLeg { handle: None }
    }

    /// The local RTP port, for our SDP.
    pub fn local_port(&self) -> u16 {
        self.handle
            .as_ref()
            .map(|handle| handle.local_rtp_address().port())
            .unwrap_or(0)
    }

    /// Applies an offer/answer result: where to send and in which direction.
    pub fn set_remote(&self, media: &NegotiatedMedia) {
        if let Some(handle) = &self.handle {
            handle.set_remote(media);
        }
    }

    /// Sends back whatever arrives.
    pub fn echo(&self) {
        if let Some(handle) = &self.handle {
            handle.route(Routing::Echo);
        }
    }

    /// Records what the leg receives until it closes.
    pub fn record(&self, recorder: Recorder) {
        if let Some(handle) = &self.handle {
            handle.record(recorder);
        }
    }

    /// Relays media between two legs (opened on the same worker).
    pub fn bridge(a: &MediaLeg, b: &MediaLeg) {
        if let (Some(a), Some(b)) = (&a.handle, &b.handle) {
            engine::bridge(a, b);
        }
    }

    /// Quality counters, printable for the end-of-call log line.
    pub fn stats(&self) -> MediaStats {
        MediaStats(self.handle.as_ref().map(ChannelHandle::stats))
    }
}

/// A leg's media counters.
pub struct MediaStats(Option<ChannelStats>);

impl fmt::Display for MediaStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("no media"),
            Some(stats) => write!(
                f,
                "rx {} pkts/{} B, tx {} pkts/{} B, relayed {}, rtcp rx {} tx {}, lost {}, jitter max {:.1} ms, rtt {}",
                stats.packets_received,
                stats.bytes_received,
                stats.packets_sent,
                stats.bytes_sent,
                stats.relayed,
                stats.rtcp_received,
                stats.rtcp_sent,
                stats.quality.packets_lost,
                stats.quality.max_jitter_ms,
                stats
                    .quality
                    .round_trip_time_ms
                    .map_or_else(|| "unknown".to_string(), |ms| format!("{ms:.1} ms")),
            ),
        }
    }
}
