//! RTP (RFC 3550): header values, packets, our outgoing streams, symmetric
//! RTP latching, and sequence numbers and timestamps unwrapped to 64 bits
//! ([`MediaTime`], [`SequenceTracker`]). Everything here is sans-IO.

mod latching;
mod media_time;
mod outgoing_stream;
mod packet;

pub use latching::{LatchVerdict, Latching};
pub use media_time::{
    MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL, MediaTime, SequenceTracker, SequenceUpdate,
    TimestampScaler, TimestampUnwrapper,
};
pub use outgoing_stream::OutgoingStream;
pub use packet::{RtpHeader, RtpPacket, RtpPacketMut, RtpParseError, RtpWriteError, is_rtcp};

use std::fmt;
use std::str::FromStr;

/// The 7-bit payload type of an RTP header (RFC 3550 §5.1), also the
/// format number of an SDP `m=` line for RTP/AVP (RFC 3551 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

/// A value that is not a 7-bit payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPayloadType {
    /// The number does not fit the 7-bit field.
    #[error("payload type {0} is out of range 0-127")]
    OutOfRange(u16),
    /// The text is not a decimal number up to 65535.
    #[error("payload type is not a number")]
    NotANumber,
}

impl PayloadType {
    /// G.711 µ-law, static payload type 0 (RFC 3551 §6).
    pub const PCMU: Self = Self(0);
    /// G.711 A-law, static payload type 8 (RFC 3551 §6).
    pub const PCMA: Self = Self(8);
    /// G.722, static payload type 9 (RFC 3551 §6).
    pub const G722: Self = Self(9);
    /// The dynamic payload type commonly used for RFC 4733 telephone-events,
    /// and the one we offer.
    pub const TELEPHONE_EVENT_DEFAULT: Self = Self(101);

    /// The payload type `value`, if it fits in 7 bits.
    pub const fn new(value: u8) -> Result<Self, InvalidPayloadType> {
        if value <= 127 {
            Ok(Self(value))
        } else {
            Err(InvalidPayloadType::OutOfRange(value as u16))
        }
    }

    /// The number on the wire.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Whether this is in the dynamic range 96-127 (RFC 3551 §3).
    pub const fn is_dynamic(self) -> bool {
        self.0 >= 96
    }
}

impl TryFrom<u8> for PayloadType {
    type Error = InvalidPayloadType;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl FromStr for PayloadType {
    type Err = InvalidPayloadType;

    /// Parses an SDP format number such as `"101"`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value: u16 = text
            .trim()
            .parse()
            .map_err(|_| InvalidPayloadType::NotANumber)?;
        u8::try_from(value)
            .map_err(|_| InvalidPayloadType::OutOfRange(value))
            .and_then(Self::new)
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// Synchronization source identifier (RFC 3550 §3): names one RTP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ssrc(u32);

impl Ssrc {
    /// Every 32-bit value is a valid SSRC.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The number on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Ssrc {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:#010x}", self.0)
    }
}

/// RTP sequence number (RFC 3550 §5.1): 16 bits, wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SequenceNumber(u16);

impl SequenceNumber {
    /// Every 16-bit value is a valid sequence number.
    pub const fn new(value: u16) -> Self {
        Self(value)
    }

    /// The number on the wire.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// This number plus `delta`, wrapping at 2^16.
    #[must_use]
    pub const fn wrapping_add(self, delta: u16) -> Self {
        Self(self.0.wrapping_add(delta))
    }

    /// The delta `self - earlier`, wrapping at 2^16.
    pub const fn wrapping_sub(self, earlier: Self) -> u16 {
        self.0.wrapping_sub(earlier.0)
    }

    /// Whether `self` comes after `other` in serial-number arithmetic
    /// (RFC 1982): less than half the number space ahead.
    pub const fn is_after(self, other: Self) -> bool {
        let delta = self.0.wrapping_sub(other.0);
        delta != 0 && delta < 0x8000
    }
}

/// RTP timestamp (RFC 3550 §5.1): 32 bits in the clock rate of the payload
/// format, wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtpTimestamp(u32);

impl RtpTimestamp {
    /// Every 32-bit value is a valid timestamp.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The number on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// This timestamp plus `delta` clock ticks, wrapping at 2^32.
    #[must_use]
    pub const fn wrapping_add(self, delta: u32) -> Self {
        Self(self.0.wrapping_add(delta))
    }

    /// The delta `self - earlier`, wrapping at 2^32.
    pub const fn wrapping_sub(self, earlier: Self) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_type_accepts_7_bits_only() {
        assert_eq!(PayloadType::new(127).map(PayloadType::get), Ok(127));
        assert_eq!(
            PayloadType::new(128),
            Err(InvalidPayloadType::OutOfRange(128))
        );
        assert_eq!("101".parse::<PayloadType>().map(PayloadType::get), Ok(101));
        assert_eq!(
            "300".parse::<PayloadType>(),
            Err(InvalidPayloadType::OutOfRange(300))
        );
        assert_eq!(
            "x".parse::<PayloadType>(),
            Err(InvalidPayloadType::NotANumber)
        );
        assert!(PayloadType::TELEPHONE_EVENT_DEFAULT.is_dynamic());
        assert!(!PayloadType::PCMA.is_dynamic());
    }

    #[test]
    fn sequence_numbers_compare_across_the_wrap() {
        let last = SequenceNumber::new(65535);
        let next = last.wrapping_add(1);
        assert_eq!(next.get(), 0);
        assert!(next.is_after(last));
        assert!(!last.is_after(next));
        assert!(!next.is_after(next));
        assert_eq!(next.wrapping_sub(last), 1);
    }

    #[test]
    fn timestamps_wrap() {
        let timestamp = RtpTimestamp::new(u32::MAX - 79);
        assert_eq!(timestamp.wrapping_add(160).get(), 80);
        assert_eq!(timestamp.wrapping_add(160).wrapping_sub(timestamp), 160);
    }
}
