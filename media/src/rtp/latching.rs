//! Symmetric RTP latching (RFC 4961 symmetric RTP; the "latching" of
//! RFC 7362): phones behind NAT advertise a private address in SDP but send
//! from a public one, and expect media back at the address they send from.
//!
//! ```text
//!            packet from the remote ─► Accepted
//!   ┌──────────┐  packet from X ≠ remote   ┌────────────────────┐
//!   │ remote R │ ────────────────────────► │ candidate X, count │ ─ count < N ─► Ignored
//!   └──────────┘ ◄──── packet from R ───── └────────────────────┘
//!        ▲           (candidate dropped)            │ N-th consecutive packet from X
//!        └──────────── remote := X ◄─── Latched ────┘
//! ```
//!
//! A source must send `threshold` consecutive packets, with no packet from
//! the current remote in between, before we move to it; single stray
//! packets (scans, a previous call's stream still arriving on a reused
//! port) are ignored and never answered. RFC 7362 §5 describes the
//! remaining risk: an attacker who can send packets faster than the real
//! peer can still take the stream over; SRTP is the real answer.

use std::net::SocketAddr;
use std::num::NonZeroU8;

/// The latching state of one RTP endpoint.
#[derive(Debug, Clone)]
pub struct Latching {
    threshold: NonZeroU8,
    signalled: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    candidate: Option<Candidate>,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    source: SocketAddr,
    consecutive: u8,
}

/// What to do with a packet, given where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchVerdict {
    /// From the current remote: process it.
    Accepted,
    /// This packet moved the remote to its source: process it, and send
    /// to the new remote from now on.
    Latched {
        /// The remote before, if there was one.
        previous: Option<SocketAddr>,
    },
    /// From another source that has not (yet) earned a latch: drop it.
    Ignored,
}

impl Latching {
    /// Consecutive packets a new source must send before we latch to it.
    pub const DEFAULT_THRESHOLD: NonZeroU8 = NonZeroU8::new(3).expect("3 is not zero");

    /// No remote known yet; latch after `threshold` consecutive packets.
    pub fn new(threshold: NonZeroU8) -> Self {
        Self {
            threshold,
            signalled: None,
            remote: None,
            candidate: None,
        }
    }

    /// The address to send to: the latched source, else the signalled one.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Whether the current remote was learned from packets rather than SDP.
    pub fn is_latched(&self) -> bool {
        self.remote.is_some() && self.remote != self.signalled
    }

    /// Takes the address from a (new) SDP. An unusable address (the
    /// `0.0.0.0` of an old-style hold, or port 0) leaves no remote until a
    /// source latches. The same address as before keeps an existing latch,
    /// so a re-INVITE from a phone behind NAT does not unlatch it.
    pub fn set_signalled(&mut self, address: Option<SocketAddr>) {
        let address = address.filter(|address| is_usable(*address));
        if address == self.signalled {
            return;
        }
        self.signalled = address;
        self.remote = address;
        self.candidate = None;
    }

    /// Classifies a valid RTP packet that arrived from `source`.
    pub fn on_packet(&mut self, source: SocketAddr) -> LatchVerdict {
        if self.remote == Some(source) {
            self.candidate = None;
            return LatchVerdict::Accepted;
        }
        let consecutive = match self.candidate {
            Some(candidate) if candidate.source == source => {
                candidate.consecutive.saturating_add(1)
            }
            _ => 1,
        };
        if consecutive >= self.threshold.get() {
            let previous = self.remote.replace(source);
            self.candidate = None;
            LatchVerdict::Latched { previous }
        } else {
            self.candidate = Some(Candidate {
                source,
                consecutive,
            });
            LatchVerdict::Ignored
        }
    }
}

impl Default for Latching {
    fn default() -> Self {
        Self::new(Self::DEFAULT_THRESHOLD)
    }
}

/// Whether we may send to `address`: not unspecified, not port 0. (On Linux
/// a datagram to `0.0.0.0` goes to the local host.)
pub(crate) fn is_usable(address: SocketAddr) -> bool {
    !address.ip().is_unspecified() && address.port() != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn packets_from_the_signalled_address_are_accepted() {
        let mut latching = Latching::default();
        latching.set_signalled(Some(address("192.0.2.10:4000")));
        assert_eq!(
            latching.on_packet(address("192.0.2.10:4000")),
            LatchVerdict::Accepted
        );
        assert!(!latching.is_latched());
    }

    #[test]
    fn latches_after_three_consecutive_packets_from_a_new_source() {
        let mut latching = Latching::default();
        let private = address("192.168.1.20:7078");
        let public = address("198.51.100.7:61000");
        latching.set_signalled(Some(private));
        assert_eq!(latching.on_packet(public), LatchVerdict::Ignored);
        assert_eq!(latching.on_packet(public), LatchVerdict::Ignored);
        assert_eq!(latching.remote(), Some(private));
        assert_eq!(
            latching.on_packet(public),
            LatchVerdict::Latched {
                previous: Some(private)
            }
        );
        assert_eq!(latching.remote(), Some(public));
        assert!(latching.is_latched());
        assert_eq!(latching.on_packet(public), LatchVerdict::Accepted);
    }

    #[test]
    fn stray_packets_do_not_latch() {
        let mut latching = Latching::default();
        let remote = address("192.0.2.10:4000");
        let stray = address("203.0.113.66:5060");
        latching.set_signalled(Some(remote));
        for _ in 0..10 {
            assert_eq!(latching.on_packet(stray), LatchVerdict::Ignored);
            assert_eq!(latching.on_packet(remote), LatchVerdict::Accepted);
        }
        // Two sources alternating never build up a count either.
        let other = address("203.0.113.67:5060");
        for _ in 0..10 {
            assert_eq!(latching.on_packet(stray), LatchVerdict::Ignored);
            assert_eq!(latching.on_packet(other), LatchVerdict::Ignored);
        }
        assert_eq!(latching.remote(), Some(remote));
    }

    #[test]
    fn hold_address_leaves_no_remote_until_a_source_latches() {
        let mut latching = Latching::default();
        latching.set_signalled(Some(address("0.0.0.0:4000")));
        assert_eq!(latching.remote(), None);
        let source = address("192.0.2.10:4000");
        latching.on_packet(source);
        latching.on_packet(source);
        assert_eq!(
            latching.on_packet(source),
            LatchVerdict::Latched { previous: None }
        );
    }

    #[test]
    fn the_same_sdp_address_again_keeps_the_latch() {
        let mut latching = Latching::default();
        let private = address("10.0.0.5:7078");
        let public = address("198.51.100.7:61000");
        latching.set_signalled(Some(private));
        for _ in 0..3 {
            latching.on_packet(public);
        }
        latching.set_signalled(Some(private));
        assert_eq!(latching.remote(), Some(public));
        // A different address from a new SDP replaces it.
        let moved = address("198.51.100.8:62000");
        latching.set_signalled(Some(moved));
        assert_eq!(latching.remote(), Some(moved));
    }

    #[test]
    fn threshold_one_latches_immediately() {
        let mut latching = Latching::new(NonZeroU8::MIN);
        let source = address("[2001:db8::1]:4000");
        assert_eq!(
            latching.on_packet(source),
            LatchVerdict::Latched { previous: None }
        );
    }
}
