//! One call leg's media endpoint, and the pool of RTP ports they come from.

use media::driver::{BindError, EndpointHandle, Mode, RtpEndpoint};
use media::ports::{PortAllocator, PortError};
use media::sdp::NegotiatedMedia;
use std::fmt;
use std::net::IpAddr;

/// The RTP ports and the address media endpoints bind on.
pub struct MediaPool {
    address: IpAddr,
    ports: PortAllocator,
}

impl MediaPool {
    /// A pool over ports `low..=high` on `address`.
    pub fn new(address: IpAddr, low: u16, high: u16) -> Result<MediaPool, PortError> {
        Ok(MediaPool {
            address,
            ports: PortAllocator::new(low, high)?,
        })
    }

    /// Binds a new endpoint and starts it, sending nothing until told where.
    pub fn open(&mut self) -> Result<MediaLeg, BindError> {
        let endpoint = RtpEndpoint::bind_now(self.address, &mut self.ports)?;
        Ok(MediaLeg {
            handle: Some(endpoint.spawn(Mode::Inactive)),
        })
    }

    /// Stops a leg's endpoint and gives its ports back.
    pub fn close(&mut self, mut leg: MediaLeg) {
        if let Some(handle) = leg.handle.take() {
            handle.shutdown();
            // The task closes its sockets at once; should a new call draw
            // the same pair first, binding moves on to the next pair.
            let _ = self.ports.release(handle.port_pair());
        }
    }
}

/// A call leg's media endpoint.
pub struct MediaLeg {
    handle: Option<EndpointHandle>,
}

impl MediaLeg {
    /// A leg with no endpoint (after close).
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
            handle.set_remote_media(media);
        }
    }

    /// Sends back whatever arrives.
    pub fn echo(&self) {
        if let Some(handle) = &self.handle {
            handle.set_mode(Mode::Echo);
        }
    }

    /// Relays media between two legs.
    pub fn bridge(a: &MediaLeg, b: &MediaLeg) {
        if let (Some(a), Some(b)) = (&a.handle, &b.handle) {
            media::driver::bridge(a, b);
        }
    }

    /// Quality counters, printable for the end-of-call log line.
    pub fn stats(&self) -> MediaStats {
        MediaStats(self.handle.as_ref().map(|handle| handle.stats()))
    }
}

/// A leg's media counters.
pub struct MediaStats(Option<media::driver::EndpointStats>);

impl fmt::Display for MediaStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("no media"),
            Some(stats) => write!(
                f,
                "rx {} pkts/{} B, tx {} pkts/{} B, dropped {}, rtcp rx {}, latched {}",
                stats.packets_received,
                stats.bytes_received,
                stats.packets_sent,
                stats.bytes_sent,
                stats.packets_dropped,
                stats.rtcp_packets_received,
                stats.latched
            ),
        }
    }
}
