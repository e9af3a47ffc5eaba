//! The audio codecs Switchboard negotiates (RFC 3551 §4.5.14 G.711, §4.5.2
//! G.722), their sample conversions ([`g711`], [`g722`]), and the per-leg
//! [`Decoder`] and [`Encoder`] that turn payloads into the engine's 8 kHz
//! frames and back.
//!
//! Everything inside the engine (jitter buffer, mixer, players, recorder,
//! detectors) runs at 8 kHz. A G.722 leg is decoded to and encoded from
//! its lower sub-band (0-4 kHz, G.722's 8 kHz interworking mode): what a
//! mix or an IVR hears is narrowband, as it would be with G.711. Two
//! G.722 legs relayed to each other keep the full wideband audio, because
//! their packets pass untouched.

pub mod g711;
pub mod g722;

use crate::audio::Frame;
use crate::rtp::PayloadType;

/// An audio codec we can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law ("PCMU"), static payload type 0.
    Pcmu,
    /// G.711 A-law ("PCMA"), static payload type 8.
    Pcma,
    /// G.722 wideband ADPCM at 64 kbit/s, static payload type 9 (its RTP
    /// clock is 8000 Hz, RFC 3551 §4.5.2, though it samples at 16 kHz).
    G722,
}

impl Codec {
    /// Every codec, in our default order of preference: G.711 first,
    /// which every phone and trunk takes.
    pub const ALL: [Self; 3] = [Self::Pcmu, Self::Pcma, Self::G722];

    /// The static payload type RFC 3551 §6 assigns.
    pub const fn payload_type(self) -> PayloadType {
        match self {
            Self::Pcmu => PayloadType::PCMU,
            Self::Pcma => PayloadType::PCMA,
            Self::G722 => PayloadType::G722,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::G722 => "G722",
        }
    }

    /// RTP clock rate in Hz (8000 for all three, G.722 included).
    pub const fn clock_rate(self) -> u32 {
        8000
    }

    /// Whether packets of `self` can be relayed as `other` without
    /// decoding: the same codec, or G.711 µ-law and A-law (transcoded in
    /// place, byte by byte). Other pairs must be decoded and encoded (a
    /// mix).
    pub const fn relays_to(self, other: Codec) -> bool {
        matches!(
            (self, other),
            (Self::Pcmu | Self::Pcma, Self::Pcmu | Self::Pcma) | (Self::G722, Self::G722)
        )
    }

    /// A payload byte that stands for silence (the code of a zero sample
    /// for G.711), to pad a partial frame: one byte is one 8 kHz tick for
    /// every codec here.
    pub const fn filler_byte(self) -> u8 {
        match self {
            Self::Pcmu => g711::ulaw_encode(0),
            Self::Pcma => g711::alaw_encode(0),
            Self::G722 => g722::SILENCE_BYTE,
        }
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

/// A leg's decoder: payloads of its codec to 8 kHz samples. G.722 keeps
/// state between packets (ADPCM), so a leg has one and keeps it.
#[derive(Debug, Clone)]
pub enum Decoder {
    /// G.711: a table lookup per byte.
    G711(Codec),
    /// G.722, lower sub-band.
    G722(Box<g722::NarrowbandDecoder>),
}

impl Decoder {
    /// A decoder for `codec`, at its initial state.
    pub fn new(codec: Codec) -> Self {
        match codec {
            Codec::Pcmu | Codec::Pcma => Self::G711(codec),
            Codec::G722 => Self::G722(Box::default()),
        }
    }

    /// The codec it decodes.
    pub fn codec(&self) -> Codec {
        match self {
            Self::G711(codec) => *codec,
            Self::G722(_) => Codec::G722,
        }
    }

    /// Bytes it owns on the heap (G.722's state).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Self::G711(_) => 0,
            Self::G722(_) => std::mem::size_of::<g722::NarrowbandDecoder>(),
        }
    }

    /// Decodes one payload into `out`; returns the samples written (at most
    /// one frame; a longer payload is cut). No allocation.
    pub fn decode(&mut self, payload: &[u8], out: &mut Frame) -> usize {
        match self {
            Self::G711(codec) => g711::decode(*codec, payload, out),
            Self::G722(decoder) => decoder.decode(payload, out),
        }
    }
}

/// A leg's encoder: 8 kHz frames to payloads of its codec.
#[derive(Debug, Clone)]
pub enum Encoder {
    /// G.711.
    G711(Codec),
    /// G.722, lower sub-band (the upper band carries silence).
    G722(Box<g722::NarrowbandEncoder>),
}

impl Encoder {
    /// An encoder for `codec`, at its initial state.
    pub fn new(codec: Codec) -> Self {
        match codec {
            Codec::Pcmu | Codec::Pcma => Self::G711(codec),
            Codec::G722 => Self::G722(Box::default()),
        }
    }

    /// The codec it encodes.
    pub fn codec(&self) -> Codec {
        match self {
            Self::G711(codec) => *codec,
            Self::G722(_) => Codec::G722,
        }
    }

    /// Bytes it owns on the heap (G.722's state).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Self::G711(_) => 0,
            Self::G722(_) => std::mem::size_of::<g722::NarrowbandEncoder>(),
        }
    }

    /// Encodes one frame into `out`; returns the bytes written (one per
    /// sample for all three codecs). No allocation.
    pub fn encode(&mut self, frame: &Frame, out: &mut [u8]) -> usize {
        match self {
            Self::G711(codec) => g711::encode(*codec, frame, out),
            Self::G722(encoder) => encoder.encode(frame, out),
        }
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
