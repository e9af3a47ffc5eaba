//! Opus (RFC 6716) for the 8 kHz engine, through libopus.
//!
//! On the wire Opus always runs a 48 kHz RTP clock and is described as
//! `opus/48000/2` (RFC 7587 §4.1, §7), whatever audio bandwidth the
//! packets carry. libopus decodes any packet to the rate we ask for and
//! encodes from it, so the engine's 8 kHz mono frames go in and come out
//! with no resampler of ours: what we send is narrowband Opus, which
//! every Opus decoder plays.
//!
//! Both directions keep state from one packet to the next (and the
//! decoder conceals a lost packet from it); a clone starts again from the
//! initial state, as after a re-INVITE.

use crate::audio::{FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// The RTP clock of every Opus stream (RFC 7587 §4.1).
pub const CLOCK_RATE: u32 = 48_000;

/// The payload type we offer Opus on (dynamic, RFC 3551 §3; the number
/// WebRTC stacks use, so their answers keep it).
pub const PAYLOAD_TYPE: u8 = 111;

/// The bit rate we encode at: narrowband speech is transparent at this
/// rate (RFC 7587 §3.1.1 recommends 8-12 kbit/s for narrowband).
const BITRATE: i32 = 16_000;

/// The encoder's complexity (0-10; libopus defaults to 9): 5 encodes a
/// narrowband frame in two thirds of the default's time (about 50 µs
/// against 76 µs here), a saving that adds up over every mixed Opus leg.
const COMPLEXITY: i32 = 5;

/// The largest 20 ms packet we buffer or send: 128 kbit/s, more than any
/// voice encoder sends.
pub const MAX_PACKET_BYTES: usize = 320;

/// What libopus 1.5 allocates for a mono encoder
/// (`opus_encoder_get_size(1)`).
pub const ENCODER_STATE_BYTES: usize = 31_668;

/// What libopus 1.5 allocates for a mono decoder
/// (`opus_decoder_get_size(1)`).
pub const DECODER_STATE_BYTES: usize = 18_468;

/// Decodes Opus payloads to 8 kHz mono samples.
pub struct Decoder(::opus::Decoder);

impl Decoder {
    /// A decoder at its initial state.
    pub fn new() -> Self {
        Self(
            ::opus::Decoder::new(SAMPLE_RATE, ::opus::Channels::Mono)
                .expect("libopus decodes mono at 8 kHz"),
        )
    }

    /// Decodes one packet into `out`; returns the samples written (0 for a
    /// packet libopus refuses, or one longer than a frame: a 20 ms tick
    /// takes 20 ms packets).
    pub fn decode(&mut self, payload: &[u8], out: &mut Frame) -> usize {
        if payload.is_empty() {
            return 0;
        }
        self.0.decode(payload, out, false).unwrap_or(0)
    }

    /// Fills `out` with libopus's concealment of a lost 20 ms packet,
    /// extrapolated from the state of the packets before it; returns the
    /// samples written.
    pub fn conceal(&mut self, out: &mut Frame) -> usize {
        self.0.decode(&[], out, false).unwrap_or(0)
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Decoder {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("opus::Decoder")
    }
}

/// Encodes 8 kHz mono frames as narrowband Opus.
pub struct Encoder(::opus::Encoder);

impl Encoder {
    /// An encoder at its initial state: VoIP mode, 16 kbit/s, complexity
    /// 5.
    pub fn new() -> Self {
        let mut encoder = ::opus::Encoder::new(
            SAMPLE_RATE,
            ::opus::Channels::Mono,
            ::opus::Application::Voip,
        )
        .expect("libopus encodes mono at 8 kHz");
        // Settings in range are never refused.
        let _ = encoder.set_bitrate(::opus::Bitrate::Bits(BITRATE));
        let _ = encoder.set_complexity(COMPLEXITY);
        Self(encoder)
    }

    /// Encodes one frame into `out`; returns the bytes written (0 if
    /// libopus fails, which it does not for a frame and a buffer of
    /// [`MAX_PACKET_BYTES`]).
    pub fn encode(&mut self, frame: &Frame, out: &mut [u8]) -> usize {
        debug_assert_eq!(frame.len(), FRAME_SAMPLES);
        let limit = out.len().min(MAX_PACKET_BYTES);
        self.0.encode(frame, &mut out[..limit]).unwrap_or(0)
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Encoder {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("opus::Encoder")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frequency: f64, index: usize) -> Frame {
        std::array::from_fn(|n| {
            let t = (index * FRAME_SAMPLES + n) as f64 / f64::from(SAMPLE_RATE);
            (8000.0 * (2.0 * std::f64::consts::PI * frequency * t).sin()) as i16
        })
    }

    fn power(samples: &[i16], frequency: f64) -> f64 {
        crate::tone_power(samples, f64::from(SAMPLE_RATE), frequency)
    }

    #[test]
    fn a_tone_survives_encoding_and_decoding() {
        let (mut encoder, mut decoder) = (Encoder::new(), Decoder::new());
        let mut decoded = Vec::new();
        for index in 0..50 {
            let mut packet = [0u8; MAX_PACKET_BYTES];
            let length = encoder.encode(&tone(1000.0, index), &mut packet);
            assert!((10..=80).contains(&length), "a 16 kbit/s packet: {length}");
            // RFC 6716 §3.1: the TOC byte; configurations 0-3 are SILK
            // narrowband, 16-19 CELT narrowband.
            let configuration = packet[0] >> 3;
            assert!(
                configuration < 4 || (16..20).contains(&configuration),
                "narrowband: configuration {configuration}"
            );
            let mut frame = [0i16; FRAME_SAMPLES];
            assert_eq!(decoder.decode(&packet[..length], &mut frame), FRAME_SAMPLES);
            decoded.extend_from_slice(&frame);
        }
        // Past the codec's start-up, the tone is there and nothing else.
        let settled = &decoded[20 * FRAME_SAMPLES..];
        let wanted = power(settled, 1000.0);
        assert!(wanted > 0.01, "1000 Hz power {wanted}");
        assert!(power(settled, 2500.0) < wanted / 100.0);
        assert!(power(settled, 400.0) < wanted / 100.0);
    }

    #[test]
    fn a_lost_packet_is_concealed_from_the_ones_before() {
        let (mut encoder, mut decoder) = (Encoder::new(), Decoder::new());
        let mut frame = [0i16; FRAME_SAMPLES];
        for index in 0..20 {
            let mut packet = [0u8; MAX_PACKET_BYTES];
            let length = encoder.encode(&tone(600.0, index), &mut packet);
            decoder.decode(&packet[..length], &mut frame);
        }
        let mut concealed = [0i16; FRAME_SAMPLES];
        assert_eq!(decoder.conceal(&mut concealed), FRAME_SAMPLES);
        assert!(power(&concealed, 600.0) > 0.001, "the tone goes on");
    }

    #[test]
    fn junk_and_oversized_packets_decode_to_nothing() {
        let mut decoder = Decoder::new();
        let mut frame = [0i16; FRAME_SAMPLES];
        assert_eq!(decoder.decode(&[], &mut frame), 0);
        // TOC code 3 with a frame count of 0 is invalid (RFC 6716 §3.2.5).
        assert_eq!(decoder.decode(&[0x03, 0x00], &mut frame), 0);
        // A 40 ms packet (configuration 3: SILK NB 40 ms) does not fit a
        // 20 ms frame.
        let mut encoder = ::opus::Encoder::new(
            SAMPLE_RATE,
            ::opus::Channels::Mono,
            ::opus::Application::Voip,
        )
        .expect("encoder");
        let mut packet = [0u8; MAX_PACKET_BYTES];
        let length = encoder
            .encode(&[0i16; 2 * FRAME_SAMPLES], &mut packet)
            .expect("40 ms encodes");
        assert_eq!(decoder.decode(&packet[..length], &mut frame), 0);
    }
}
