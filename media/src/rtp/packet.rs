//! The RTP fixed header, RFC 3550 §5.1:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           synchronization source (SSRC) identifier            |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Parsing, in-place editing and writing are delegated to the `rtp-types`
//! crate: it is zero-copy, checks every length the header implies (CSRC
//! list, header extension, padding count) before giving access, and does
//! not allocate. This module only turns its values into our newtypes and
//! its errors into ours, so the crate can be swapped without touching
//! callers.

use super::{PayloadType, RtpTimestamp, SequenceNumber, Ssrc};

/// Why a datagram is not a valid RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpParseError {
    /// Shorter than the fixed header, or than the CSRC list, header
    /// extension or padding its header announces.
    #[error("RTP packet truncated: {needed} bytes needed, {actual} present")]
    Truncated {
        /// Bytes the header implies.
        needed: usize,
        /// Bytes received.
        actual: usize,
    },
    /// The version field is not 2.
    #[error("unsupported RTP version {0}")]
    UnsupportedVersion(u8),
    /// The padding bit is set but the padding count is 0 (RFC 3550 §5.1:
    /// the count includes itself).
    #[error("invalid RTP padding count {0}")]
    InvalidPadding(u8),
}

impl From<rtp_types::RtpParseError> for RtpParseError {
    fn from(error: rtp_types::RtpParseError) -> Self {
        match error {
            rtp_types::RtpParseError::UnsupportedVersion(version) => {
                Self::UnsupportedVersion(version)
            }
            rtp_types::RtpParseError::Truncated { expected, actual } => Self::Truncated {
                needed: expected,
                actual,
            },
            rtp_types::RtpParseError::PaddingInvalid(count) => Self::InvalidPadding(count),
        }
    }
}

/// Why a packet could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpWriteError {
    /// The output buffer is smaller than the packet.
    #[error("output buffer too small: the packet needs {needed} bytes")]
    BufferTooSmall {
        /// Size of the packet.
        needed: usize,
    },
    /// The packet would exceed what RTP can describe.
    #[error("RTP packet too large")]
    PacketTooLarge,
}

impl From<rtp_types::RtpWriteError> for RtpWriteError {
    fn from(error: rtp_types::RtpWriteError) -> Self {
        match error {
            rtp_types::RtpWriteError::OutputTooSmall(needed) => Self::BufferTooSmall { needed },
            // We never set CSRCs, extensions or padding, and `PayloadType`
            // is 7 bits by construction, so the remaining errors mean size.
            _ => Self::PacketTooLarge,
        }
    }
}

/// The fields of the fixed header that a sender chooses: what we write, and
/// what we read back from a parsed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit; for audio the first packet of a talkspurt (RFC 3551 §4.1).
    pub marker: bool,
    /// Payload type.
    pub payload_type: PayloadType,
    /// Sequence number.
    pub sequence_number: SequenceNumber,
    /// Timestamp in the payload format's clock.
    pub timestamp: RtpTimestamp,
    /// Synchronization source.
    pub ssrc: Ssrc,
}

impl RtpHeader {
    /// Length of the fixed header without CSRCs.
    pub const LEN: usize = 12;

    /// Writes a version 2 packet with this header (no padding, extension or
    /// CSRCs) followed by `payload` into `out`; returns its length.
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpWriteError> {
        let written = rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
            .marker_bit(self.marker)
            .payload_type(self.payload_type.get())
            .sequence_number(self.sequence_number.get())
            .timestamp(self.timestamp.get())
            .ssrc(self.ssrc.get())
            .payload(payload)
            .write_into(out)?;
        Ok(written)
    }

    /// The 12 bytes [`Self::write`] puts before the payload (version 2, no
    /// padding, extension or CSRCs), for a caller that writes the payload
    /// itself.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut bytes = [0; Self::LEN];
        bytes[0] = 2 << 6;
        bytes[1] = (u8::from(self.marker) << 7) | self.payload_type.get();
        bytes[2..4].copy_from_slice(&self.sequence_number.get().to_be_bytes());
        bytes[4..8].copy_from_slice(&self.timestamp.get().to_be_bytes());
        bytes[8..12].copy_from_slice(&self.ssrc.get().to_be_bytes());
        bytes
    }
}

/// A parsed, read-only RTP packet borrowing the datagram.
#[derive(Debug)]
pub struct RtpPacket<'a> {
    inner: rtp_types::RtpPacket<'a>,
    /// The datagram `inner` parsed, to lend the payload for as long as it.
    datagram: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses `datagram`; any byte string gives a packet or an error, never
    /// a panic.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtpParseError> {
        Ok(Self {
            inner: rtp_types::RtpPacket::parse(datagram)?,
            datagram,
        })
    }

    /// The sender-chosen fields of the fixed header.
    pub fn header(&self) -> RtpHeader {
        header_of(&self.inner)
    }

    /// Whether the padding bit is set.
    pub fn has_padding(&self) -> bool {
        self.inner.padding_bit()
    }

    /// Padding bytes at the end of the packet, including the count byte.
    pub fn padding_len(&self) -> u8 {
        self.inner.padding().unwrap_or(0)
    }

    /// The header extension (RFC 3550 §5.3.1): profile-defined id and data.
    pub fn extension(&self) -> Option<(u16, &[u8])> {
        self.inner.extension()
    }

    /// The contributing sources, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + '_ {
        self.inner.csrc().map(Ssrc::new)
    }

    /// The payload, without header, extension or padding, borrowed from
    /// the datagram (it may outlive the parsed packet).
    pub fn payload(&self) -> &'a [u8] {
        let offset = self.inner.payload_offset();
        &self.datagram[offset..offset + self.inner.payload_len()]
    }
}

/// A parsed RTP packet that can be edited in place (SSRC, sequence number,
/// timestamp, marker, payload type) without copying.
#[derive(Debug)]
pub struct RtpPacketMut<'a> {
    inner: rtp_types::RtpPacketMut<'a>,
}

impl<'a> RtpPacketMut<'a> {
    /// Parses `datagram` for editing; same checks as [`RtpPacket::parse`].
    pub fn parse(datagram: &'a mut [u8]) -> Result<Self, RtpParseError> {
        Ok(Self {
            inner: rtp_types::RtpPacketMut::parse(datagram)?,
        })
    }

    /// The sender-chosen fields of the fixed header.
    pub fn header(&self) -> RtpHeader {
        header_of(&self.inner)
    }

    /// Sets the marker bit.
    pub fn set_marker(&mut self, marker: bool) {
        self.inner.set_marker_bit(marker);
    }

    /// Sets the payload type.
    pub fn set_payload_type(&mut self, payload_type: PayloadType) {
        // Cannot fail: `PayloadType` is 7 bits by construction.
        let _ = self.inner.set_payload_type(payload_type.get());
    }

    /// Sets the sequence number.
    pub fn set_sequence_number(&mut self, sequence_number: SequenceNumber) {
        self.inner.set_sequence_number(sequence_number.get());
    }

    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, timestamp: RtpTimestamp) {
        self.inner.set_timestamp(timestamp.get());
    }

    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: Ssrc) {
        self.inner.set_ssrc(ssrc.get());
    }

    /// The payload, without header, extension or padding.
    pub fn payload(&self) -> &[u8] {
        self.inner.payload()
    }
}

fn header_of(packet: &rtp_types::RtpPacket<'_>) -> RtpHeader {
    RtpHeader {
        marker: packet.marker_bit(),
        // The field is masked to 7 bits by the parser, so this is exact.
        payload_type: PayloadType(packet.payload_type() & 0x7f),
        sequence_number: SequenceNumber::new(packet.sequence_number()),
        timestamp: RtpTimestamp::new(packet.timestamp()),
        ssrc: Ssrc::new(packet.ssrc()),
    }
}

/// Whether a datagram received on an RTP port is RTCP multiplexed with RTP
/// (RFC 5761 §4): RTCP packet types 192-223 occupy the marker bit + payload
/// type byte, a range no RTP payload type maps into (64-95 with marker).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 2 && datagram[0] >> 6 == 2 && (192..=223).contains(&datagram[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> RtpHeader {
        RtpHeader {
            marker: true,
            payload_type: PayloadType::PCMA,
            sequence_number: SequenceNumber::new(0xbeef),
            timestamp: RtpTimestamp::new(0x0102_0304),
            ssrc: Ssrc::new(0xdead_cafe),
        }
    }

    #[test]
    fn writes_and_parses_the_fixed_header() {
        let mut out = [0u8; 64];
        let len = header().write(&[0xd5; 4], &mut out).unwrap();
        assert_eq!(len, 16);
        assert_eq!(
            &out[..12],
            &[
                0x80, 0x88, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0xde, 0xad, 0xca, 0xfe
            ]
        );
        let packet = RtpPacket::parse(&out[..len]).unwrap();
        assert_eq!(packet.header(), header());
        assert_eq!(packet.payload(), &[0xd5; 4]);
        assert!(!packet.has_padding());
        assert_eq!(packet.csrcs().count(), 0);
    }

    #[test]
    fn too_small_a_buffer_is_an_error() {
        let mut out = [0u8; 13];
        assert_eq!(
            header().write(&[0; 4], &mut out),
            Err(RtpWriteError::BufferTooSmall { needed: 16 })
        );
    }

    #[test]
    fn parses_csrcs_extension_and_padding() {
        // V=2 P=1 X=1 CC=1, M=0 PT=0, then CSRC, extension (1 word), payload, 3 bytes padding.
        let datagram = [
            0xb1, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 7, // fixed header
            0, 0, 0, 9, // CSRC
            0xbe, 0xde, 0x00, 0x01, 1, 2, 3, 4, // extension
            0xff, 0xfe, // payload
            0, 0, 3, // padding
        ];
        let packet = RtpPacket::parse(&datagram).unwrap();
        assert_eq!(packet.header().ssrc, Ssrc::new(7));
        assert_eq!(packet.csrcs().collect::<Vec<_>>(), vec![Ssrc::new(9)]);
        assert_eq!(packet.extension(), Some((0xbede, &[1u8, 2, 3, 4][..])));
        assert_eq!(packet.payload(), &[0xff, 0xfe]);
        assert_eq!(packet.padding_len(), 3);
    }

    #[test]
    fn rejects_malformed_packets_with_typed_errors() {
        assert_eq!(
            RtpPacket::parse(&[0x80, 0]).unwrap_err(),
            RtpParseError::Truncated {
                needed: 12,
                actual: 2
            }
        );
        let mut version_1 = [0u8; 12];
        version_1[0] = 0x40;
        assert_eq!(
            RtpPacket::parse(&version_1).unwrap_err(),
            RtpParseError::UnsupportedVersion(1)
        );
        // CC=2 but no CSRCs.
        let mut missing_csrcs = [0u8; 12];
        missing_csrcs[0] = 0x82;
        assert!(matches!(
            RtpPacket::parse(&missing_csrcs),
            Err(RtpParseError::Truncated { needed: 20, .. })
        ));
        // Extension header announcing 2 words that are not there.
        let mut short_extension = [0u8; 16];
        short_extension[0] = 0x90;
        short_extension[15] = 2;
        assert!(matches!(
            RtpPacket::parse(&short_extension),
            Err(RtpParseError::Truncated { .. })
        ));
        // Padding count 0.
        let mut zero_padding = [0u8; 13];
        zero_padding[0] = 0xa0;
        assert_eq!(
            RtpPacket::parse(&zero_padding).unwrap_err(),
            RtpParseError::InvalidPadding(0)
        );
        // Padding count longer than the packet.
        let mut long_padding = [0u8; 13];
        long_padding[0] = 0xa0;
        long_padding[12] = 200;
        assert!(matches!(
            RtpPacket::parse(&long_padding),
            Err(RtpParseError::Truncated { .. })
        ));
    }

    #[test]
    fn edits_in_place() {
        let mut out = [0u8; 32];
        let len = header().write(&[1, 2, 3], &mut out).unwrap();
        let mut packet = RtpPacketMut::parse(&mut out[..len]).unwrap();
        packet.set_ssrc(Ssrc::new(1));
        packet.set_sequence_number(SequenceNumber::new(2));
        packet.set_timestamp(RtpTimestamp::new(3));
        packet.set_marker(false);
        packet.set_payload_type(PayloadType::PCMU);
        assert_eq!(
            packet.header(),
            RtpHeader {
                marker: false,
                payload_type: PayloadType::PCMU,
                sequence_number: SequenceNumber::new(2),
                timestamp: RtpTimestamp::new(3),
                ssrc: Ssrc::new(1),
            }
        );
        assert_eq!(packet.payload(), &[1, 2, 3]);
    }

    #[test]
    fn tells_muxed_rtcp_from_rtp() {
        // RTCP receiver report header: V=2, PT=201.
        assert!(is_rtcp(&[0x80, 201, 0, 1]));
        // RTP PCMU with marker: second byte 0x80 = 128.
        assert!(!is_rtcp(&[0x80, 0x80, 0, 1]));
        // RTP telephone-event 101 with marker: 229.
        assert!(!is_rtcp(&[0x80, 229, 0, 1]));
        assert!(!is_rtcp(&[0x80]));
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(datagram in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Ok(packet) = RtpPacket::parse(&datagram) {
                let _ = packet.header();
                prop_assert!(packet.payload().len() <= datagram.len());
                let _ = packet.csrcs().count();
                let _ = packet.extension();
            }
            let _ = is_rtcp(&datagram);
        }

        #[test]
        fn written_packets_parse_back(
            marker: bool,
            payload_type in 0u8..=127,
            sequence_number: u16,
            timestamp: u32,
            ssrc: u32,
            payload in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let header = RtpHeader {
                marker,
                payload_type: PayloadType::new(payload_type).unwrap(),
                sequence_number: SequenceNumber::new(sequence_number),
                timestamp: RtpTimestamp::new(timestamp),
                ssrc: Ssrc::new(ssrc),
            };
            let mut out = [0u8; 256];
            let len = header.write(&payload, &mut out).unwrap();
            let packet = RtpPacket::parse(&out[..len]).unwrap();
            prop_assert_eq!(packet.header(), header);
            prop_assert_eq!(packet.payload(), &payload[..]);
            prop_assert_eq!(&out[..RtpHeader::LEN], &header.to_bytes()[..]);
        }
    }
}
