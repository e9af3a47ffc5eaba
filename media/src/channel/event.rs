//! What a channel reports: events for its owner, and the verdict on each
//! datagram or relayed packet.

use std::net::SocketAddr;
use std::time::Duration;

use super::DigitSource;
use crate::dtmf::Digit;
use crate::rtp::Ssrc;

/// What a channel reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// A DTMF digit ended; reported once even if it came both as RFC 4733
    /// events and as in-band tones.
    DigitReceived {
        /// The digit.
        digit: Digit,
        /// How long it lasted.
        duration: Duration,
        /// How it was received (the first of the two, if both).
        source: DigitSource,
    },
    /// We now send to the address the remote sends from (symmetric RTP).
    RemoteLatched {
        /// The new remote.
        address: SocketAddr,
        /// The remote before, if there was one.
        previous: Option<SocketAddr>,
    },
    /// The remote left the RTP session (RTCP BYE, RFC 3550 §6.6).
    ByeReceived {
        /// The source that left.
        ssrc: Ssrc,
        /// The reason it gave.
        reason: Option<String>,
    },
    /// No RTP arrived for the configured time while the direction receives.
    /// Reported once per silence: the next packet re-arms it.
    MediaTimeout {
        /// How long it has been silent.
        silent_for: Duration,
    },
}

/// Why a datagram or a relayed packet was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// No [`Channel::set_remote`](super::Channel::set_remote) yet: we do not know the payload types.
    NotNegotiated,
    /// The channel is closed.
    Closed,
    /// Not a valid RTP or RTCP packet.
    Malformed,
    /// From a source other than the remote, which has not (yet) earned a
    /// latch (RFC 7362).
    UnlatchedSource,
    /// The negotiated direction does not allow it (hold, inactive).
    Direction,
    /// A payload type that was not negotiated.
    UnknownPayloadType,
    /// We are sending a telephone-event, which suspends audio.
    TelephoneEventInProgress,
    /// No remote address to send to yet.
    NoRemote,
    /// Too large for a transmit buffer ([`SLOT_BYTES`](super::SLOT_BYTES)).
    TooLarge,
    /// The two legs' codecs cannot be relayed to each other without
    /// decoding (G.722 and G.711): join them through a mix instead.
    NotRelayable,
    /// The transmit ring is full: the owner has not drained it.
    TransmitQueueFull,
}

/// What [`Channel::handle_datagram`](super::Channel::handle_datagram) did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// An audio packet in the negotiated codec.
    Audio,
    /// An RFC 4733 telephone-event packet.
    TelephoneEvent,
    /// A comfort noise packet (RFC 3389), taken as silence.
    ComfortNoise,
    /// An RTCP compound packet.
    Rtcp,
    /// Not used.
    Dropped(DropReason),
}

impl Received {
    /// Whether the packet is media the other leg of a relay should get
    /// through [`Channel::relay_from`](super::Channel::relay_from).
    pub fn is_relayable(self) -> bool {
        matches!(self, Self::Audio | Self::TelephoneEvent)
    }
}
