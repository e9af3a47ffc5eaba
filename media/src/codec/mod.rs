//! The audio codecs Switchboard negotiates (RFC 3551 §4.5.14 G.711, §4.5.2
//! G.722, and with the `opus` feature RFC 7587 Opus), their sample
//! conversions ([`g711`], [`g722`], `opus`), and the per-leg [`Decoder`]
//! and [`Encoder`] that turn payloads into the engine's 8 kHz frames and
//! back.
//!
//! Everything inside the engine (jitter buffer, mixer, players, recorder,
//! detectors) runs at 8 kHz. A G.722 leg is decoded to and encoded from
//! its lower sub-band (0-4 kHz, G.722's 8 kHz interworking mode): what a
//! mix or an IVR hears is narrowband, as it would be with G.711. Two
//! G.722 legs relayed to each other keep the full wideband audio, because
//! their packets pass untouched. Opus is decoded to and encoded from 8 kHz
//! by libopus itself; two Opus legs are relayed likewise.

pub mod g711;
pub mod g722;
#[cfg(feature = "opus")]
pub mod opus;

use crate::audio::Frame;
use crate::rtp::PayloadType;

/// The largest payload [`Encoder::encode`] writes for one frame, over
/// every codec: what a caller's buffer needs.
#[cfg(not(feature = "opus"))]
pub const MAX_FRAME_BYTES: usize = crate::audio::FRAME_SAMPLES;

/// The largest payload [`Encoder::encode`] writes for one frame, over
/// every codec: what a caller's buffer needs.
#[cfg(feature = "opus")]
pub const MAX_FRAME_BYTES: usize = opus::MAX_PACKET_BYTES;

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
    /// Opus (RFC 6716), on a dynamic payload type with a 48 kHz RTP clock
    /// (RFC 7587).
    #[cfg(feature = "opus")]
    Opus,
}

impl Codec {
    /// Every codec, in our default order of preference: G.711 first,
    /// which every phone and trunk takes.
    #[cfg(not(feature = "opus"))]
    pub const ALL: [Self; 3] = [Self::Pcmu, Self::Pcma, Self::G722];

    /// Every codec, in our default order of preference: G.711 first,
    /// which every phone and trunk takes.
    #[cfg(feature = "opus")]
    pub const ALL: [Self; 4] = [Self::Pcmu, Self::Pcma, Self::G722, Self::Opus];

    /// The payload type we use: the static one RFC 3551 §6 assigns, or
    /// for Opus the dynamic number we offer it on.
    pub const fn payload_type(self) -> PayloadType {
        match self {
            Self::Pcmu => PayloadType::PCMU,
            Self::Pcma => PayloadType::PCMA,
            Self::G722 => PayloadType::G722,
            #[cfg(feature = "opus")]
            Self::Opus => match PayloadType::new(opus::PAYLOAD_TYPE) {
                Ok(payload_type) => payload_type,
                Err(_) => panic!("111 is a valid payload type"),
            },
        }
    }

    /// Whether its payload type is static: valid without an `a=rtpmap`.
    pub const fn has_static_payload_type(self) -> bool {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 => true,
            #[cfg(feature = "opus")]
            Self::Opus => false,
        }
    }

    /// The encoding name used in `a=rtpmap`.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::G722 => "G722",
            #[cfg(feature = "opus")]
            Self::Opus => "opus",
        }
    }

    /// The channel count written in `a=rtpmap` (absent for mono codecs;
    /// Opus is always described as `opus/48000/2`, RFC 7587 §7).
    pub const fn rtpmap_channels(self) -> Option<&'static str> {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 => None,
            #[cfg(feature = "opus")]
            Self::Opus => Some("2"),
        }
    }

    /// RTP clock rate in Hz: 8000 for G.711 and G.722 (RFC 3551 §4.5.2),
    /// 48000 for Opus.
    pub const fn clock_rate(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 => 8000,
            #[cfg(feature = "opus")]
            Self::Opus => opus::CLOCK_RATE,
        }
    }

    /// The longest packet time we can play, when there is one: Opus
    /// packets are decoded whole into one 20 ms frame, so they must be
    /// 20 ms; G.711 and G.722 packets of any length are cut into frames.
    pub const fn max_ptime_millis(self) -> Option<u16> {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 => None,
            #[cfg(feature = "opus")]
            Self::Opus => Some(20),
        }
    }

    /// The largest payload of one 20 ms packet we take in: one byte per
    /// 8 kHz tick for the sample-per-byte codecs, more for Opus.
    pub const fn max_frame_bytes(self) -> usize {
        match self {
            Self::Pcmu | Self::Pcma | Self::G722 => crate::audio::FRAME_SAMPLES,
            #[cfg(feature = "opus")]
            Self::Opus => opus::MAX_PACKET_BYTES,
        }
    }

    /// Whether packets of `self` can be relayed as `other` without
    /// decoding: the same codec, or G.711 µ-law and A-law (transcoded in
    /// place, byte by byte). Other pairs must be decoded and encoded (a
    /// mix).
    pub const fn relays_to(self, other: Codec) -> bool {
        if matches!(
            (self, other),
            (Self::Pcmu | Self::Pcma, Self::Pcmu | Self::Pcma) | (Self::G722, Self::G722)
        ) {
            return true;
        }
        #[cfg(feature = "opus")]
        if matches!((self, other), (Self::Opus, Self::Opus)) {
            return true;
        }
        false
    }

    /// A payload byte that stands for silence (the code of a zero sample
    /// for G.711), to pad a partial frame, for the codecs where one byte
    /// is one 8 kHz tick; `None` for Opus, whose packets are never cut.
    pub const fn filler_byte(self) -> Option<u8> {
        match self {
            Self::Pcmu => Some(g711::ulaw_encode(0)),
            Self::Pcma => Some(g711::alaw_encode(0)),
            Self::G722 => Some(g722::SILENCE_BYTE),
            #[cfg(feature = "opus")]
            Self::Opus => None,
        }
    }

    /// The codec a static payload type stands for when no `a=rtpmap` says
    /// otherwise.
    pub fn from_static_payload_type(payload_type: PayloadType) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|codec| codec.has_static_payload_type() && codec.payload_type() == payload_type)
    }

    /// The codec an `a=rtpmap` describes: encoding name (any case), clock
    /// rate, and channel count if present (G.711 and G.722 are mono; Opus
    /// is `opus/48000/2`, a missing count tolerated).
    pub fn from_rtpmap(
        encoding_name: &str,
        clock_rate: u32,
        channels: Option<&str>,
    ) -> Option<Self> {
        let channels = channels.map(str::trim);
        Self::ALL.into_iter().find(|codec| {
            codec.encoding_name().eq_ignore_ascii_case(encoding_name)
                && codec.clock_rate() == clock_rate
                && (channels.is_none() || channels == Some(codec.rtpmap_channels().unwrap_or("1")))
        })
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
    /// Opus, decoded at 8 kHz.
    #[cfg(feature = "opus")]
    Opus(opus::Decoder),
}

impl Decoder {
    /// A decoder for `codec`, at its initial state.
    pub fn new(codec: Codec) -> Self {
        match codec {
            Codec::Pcmu | Codec::Pcma => Self::G711(codec),
            Codec::G722 => Self::G722(Box::default()),
            #[cfg(feature = "opus")]
            Codec::Opus => Self::Opus(opus::Decoder::new()),
        }
    }

    /// The codec it decodes.
    pub fn codec(&self) -> Codec {
        match self {
            Self::G711(codec) => *codec,
            Self::G722(_) => Codec::G722,
            #[cfg(feature = "opus")]
            Self::Opus(_) => Codec::Opus,
        }
    }

    /// Bytes it owns on the heap (G.722's state, or libopus's).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Self::G711(_) => 0,
            Self::G722(_) => std::mem::size_of::<g722::NarrowbandDecoder>(),
            #[cfg(feature = "opus")]
            Self::Opus(_) => opus::DECODER_STATE_BYTES,
        }
    }

    /// Decodes one payload into `out`; returns the samples written (at most
    /// one frame: a longer G.711 or G.722 payload is cut, a longer Opus
    /// packet gives nothing). No allocation.
    pub fn decode(&mut self, payload: &[u8], out: &mut Frame) -> usize {
        match self {
            Self::G711(codec) => g711::decode(*codec, payload, out),
            Self::G722(decoder) => decoder.decode(payload, out),
            #[cfg(feature = "opus")]
            Self::Opus(decoder) => decoder.decode(payload, out),
        }
    }

    /// Conceals a lost frame with the codec's own concealment, if it has
    /// one (Opus): returns whether `out` was filled. Otherwise the caller
    /// conceals at the PCM level.
    pub fn conceal(&mut self, out: &mut Frame) -> bool {
        match self {
            Self::G711(_) | Self::G722(_) => {
                let _ = out;
                false
            }
            #[cfg(feature = "opus")]
            Self::Opus(decoder) => {
                let written = decoder.conceal(out);
                out[written..].fill(0);
                written > 0
            }
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
    /// Opus, narrowband.
    #[cfg(feature = "opus")]
    Opus(opus::Encoder),
}

impl Encoder {
    /// An encoder for `codec`, at its initial state.
    pub fn new(codec: Codec) -> Self {
        match codec {
            Codec::Pcmu | Codec::Pcma => Self::G711(codec),
            Codec::G722 => Self::G722(Box::default()),
            #[cfg(feature = "opus")]
            Codec::Opus => Self::Opus(opus::Encoder::new()),
        }
    }

    /// The codec it encodes.
    pub fn codec(&self) -> Codec {
        match self {
            Self::G711(codec) => *codec,
            Self::G722(_) => Codec::G722,
            #[cfg(feature = "opus")]
            Self::Opus(_) => Codec::Opus,
        }
    }

    /// Bytes it owns on the heap (G.722's state, or libopus's).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Self::G711(_) => 0,
            Self::G722(_) => std::mem::size_of::<g722::NarrowbandEncoder>(),
            #[cfg(feature = "opus")]
            Self::Opus(_) => opus::ENCODER_STATE_BYTES,
        }
    }

    /// Encodes one frame into `out`; returns the bytes written (one per
    /// sample for G.711 and G.722, at most
    /// [`Codec::max_frame_bytes`] for Opus). No allocation.
    pub fn encode(&mut self, frame: &Frame, out: &mut [u8]) -> usize {
        match self {
            Self::G711(codec) => g711::encode(*codec, frame, out),
            Self::G722(encoder) => encoder.encode(frame, out),
            #[cfg(feature = "opus")]
            Self::Opus(encoder) => encoder.encode(frame, out),
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
        assert_eq!(Codec::from_rtpmap("G722", 8000, None), Some(Codec::G722));
        assert_eq!(Codec::from_rtpmap("G722", 16000, None), None);
    }

    #[cfg(feature = "opus")]
    #[test]
    fn recognises_opus_only_by_its_rtpmap() {
        assert_eq!(
            Codec::from_rtpmap("opus", 48000, Some("2")),
            Some(Codec::Opus)
        );
        assert_eq!(Codec::from_rtpmap("OPUS", 48000, None), Some(Codec::Opus));
        assert_eq!(Codec::from_rtpmap("opus", 48000, Some("1")), None);
        assert_eq!(Codec::from_rtpmap("opus", 16000, Some("2")), None);
        assert_eq!(Codec::from_rtpmap("PCMU", 48000, None), None);
        // 111 is dynamic: without an rtpmap it means nothing.
        assert_eq!(
            Codec::from_static_payload_type(Codec::Opus.payload_type()),
            None
        );
        assert!(Codec::Opus.relays_to(Codec::Opus));
        assert!(!Codec::Opus.relays_to(Codec::Pcmu));
    }
}
