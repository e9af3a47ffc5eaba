//! The audio codecs Switchboard negotiates (RFC 3551 §4.5.14, G.711), and
//! their sample conversions in [`g711`].

pub mod g711;

use crate::rtp::PayloadType;

/// An audio codec we can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law ("PCMU"), static payload type 0.
    Pcmu,
    /// G.711 A-law ("PCMA"), static payload type 8.
    Pcma,
}

impl Codec {
    /// Every codec, in our default order of preference.
    pub const ALL: [Self; 2] = [Self::Pcmu, Self::Pcma];

    /// The static payload type RFC 3551 §6 assigns.
    pub const fn payload_type(self) -> PayloadType {
        match self {
            Self::Pcmu => PayloadType::PCMU,
            Self::Pcma => PayloadType::PCMA,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }

    /// RTP clock rate in Hz.
    pub const fn clock_rate(self) -> u32 {
        8000
    }

    /// The codec a static payload type stands for when no `a=rtpmap` says
    /// otherwise.
    pub fn from_static_payload_type(payload_type: PayloadType) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|codec| codec.payload_type() == payload_type)
    }

    /// The codec an `a=rtpmap` describes: encoding name (any case), clock
    /// rate, and channel count if present (G.711 is mono).
    pub fn from_rtpmap(
        encoding_name: &str,
        clock_rate: u32,
        channels: Option<&str>,
    ) -> Option<Self> {
        if clock_rate != 8000 || !matches!(channels.map(str::trim), None | Some("1")) {
            return None;
        }
        Self::ALL
            .into_iter()
            .find(|codec| codec.encoding_name().eq_ignore_ascii_case(encoding_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_rtpmap_and_static_payload_types() {
        assert_eq!(Codec::from_rtpmap("pcmu", 8000, None), Some(Codec::Pcmu));
        assert_eq!(
            Codec::from_rtpmap("PCMA", 8000, Some("1")),
            Some(Codec::Pcma)
        );
        assert_eq!(Codec::from_rtpmap("PCMA", 16000, None), None);
        assert_eq!(Codec::from_rtpmap("PCMU", 8000, Some("2")), None);
        assert_eq!(Codec::from_rtpmap("G729", 8000, None), None);
        assert_eq!(
            Codec::from_static_payload_type(PayloadType::PCMA),
            Some(Codec::Pcma)
        );
        assert_eq!(
            Codec::from_static_payload_type(PayloadType::new(18).unwrap()),
            None
        );
    }
}
