//! G.722 (ITU-T G.722, 64 kbit/s sub-band ADPCM) for the 8 kHz engine,
//! on the `audio-codec` crate's pure-Rust codec.
//!
//! G.722 splits 16 kHz audio into a lower (0-4 kHz) and an upper (4-8 kHz)
//! sub-band, each ADPCM-coded; every payload byte holds one 16 kHz sample
//! pair, i.e. one tick of the 8 kHz RTP clock. The engine works at 8 kHz:
//!
//! - decoding keeps the lower sub-band only (G.722's 8 kHz interworking
//!   output), which is the 0-4 kHz audio at 8 kHz, no resampling;
//! - encoding doubles the rate first (a half-band interpolator: even
//!   output samples are the input, odd ones a windowed-sinc of the eight
//!   neighbours) and codes 16 kHz, so a far G.722 decoder plays our audio
//!   as ordinary narrowband speech. (The crate's own 8 kHz encoding mode
//!   does not code a signal, so it is not used.)
//!
//! Both directions keep ADPCM state from one packet to the next; a clone
//! starts again from the initial state (as after a re-INVITE).

use audio_codec::g722::{Bitrate, G722Decoder, G722Encoder};
use audio_codec::{Decoder as _, Encoder as _};

use crate::audio::{FRAME_SAMPLES, Frame};

/// A byte whose repetition decodes to digital silence: what a partial
/// frame is padded with.
pub const SILENCE_BYTE: u8 = 0x3C;

/// Decodes G.722 payloads to 8 kHz samples (the lower sub-band).
pub struct NarrowbandDecoder(G722Decoder);

impl NarrowbandDecoder {
    /// A decoder at its initial state.
    pub fn new() -> Self {
        // 64 kbit/s, unpacked bytes, 8 kHz output.
        Self(G722Decoder::with_options(Bitrate::Mode1_64000, false, true))
    }

    /// Decodes `payload` (one byte per 8 kHz sample) into `out`; returns
    /// the samples written.
    pub fn decode(&mut self, payload: &[u8], out: &mut Frame) -> usize {
        let payload = &payload[..payload.len().min(FRAME_SAMPLES)];
        self.0.decode_into(payload, out).unwrap_or(0)
    }
}

impl Default for NarrowbandDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for NarrowbandDecoder {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for NarrowbandDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NarrowbandDecoder")
    }
}

/// Taps on each side of the interpolated sample.
const HALF_TAPS: usize = 4;

/// Input samples kept from one frame to the next.
const HISTORY: usize = 2 * HALF_TAPS - 1;

/// The interpolator's coefficients, `c[k]` for the neighbours `k + 1/2`
/// samples away on each side: sinc under a Hann window, scaled so that a
/// constant comes out unchanged (Σ 2·c = 1).
fn interpolation_coefficients() -> [f32; HALF_TAPS] {
    let raw: [f64; HALF_TAPS] = std::array::from_fn(|k| {
        let x = k as f64 + 0.5;
        let sinc = (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x);
        let window = 0.5 * (1.0 + (std::f64::consts::PI * x / (HALF_TAPS as f64 + 0.5)).cos());
        sinc * window
    });
    let sum: f64 = 2.0 * raw.iter().sum::<f64>();
    raw.map(|c| (c / sum) as f32)
}

/// Encodes 8 kHz frames as G.722 (interpolated to 16 kHz first).
pub struct NarrowbandEncoder {
    encoder: G722Encoder,
    coefficients: [f32; HALF_TAPS],
    /// The last input samples of the previous frame.
    history: [i16; HISTORY],
}

impl NarrowbandEncoder {
    /// An encoder at its initial state.
    pub fn new() -> Self {
        Self {
            // 64 kbit/s, 16 kHz input, unpacked bytes.
            encoder: G722Encoder::with_options(Bitrate::Mode1_64000, false, false),
            coefficients: interpolation_coefficients(),
            history: [0; HISTORY],
        }
    }

    /// Encodes `frame` into `out` (one byte per input sample); returns the
    /// bytes written. The interpolator delays the audio by four samples
    /// (0.5 ms).
    pub fn encode(&mut self, frame: &Frame, out: &mut [u8]) -> usize {
        let mut extended = [0i16; HISTORY + FRAME_SAMPLES];
        extended[..HISTORY].copy_from_slice(&self.history);
        extended[HISTORY..].copy_from_slice(frame);
        let mut wide = [0i16; 2 * FRAME_SAMPLES];
        for (n, pair) in wide.chunks_exact_mut(2).enumerate() {
            let centre = n + HALF_TAPS - 1;
            pair[0] = extended[centre];
            let between: f32 = (0..HALF_TAPS)
                .map(|k| {
                    self.coefficients[k]
                        * (f32::from(extended[centre - k]) + f32::from(extended[centre + 1 + k]))
                })
                .sum();
            pair[1] = between
                .round()
                .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
        }
        self.history
            .copy_from_slice(&extended[FRAME_SAMPLES..FRAME_SAMPLES + HISTORY]);
        let bytes = FRAME_SAMPLES.min(out.len());
        self.encoder
            .encode_into(&wide[..2 * bytes], &mut out[..bytes])
            .unwrap_or(0)
    }
}

impl Default for NarrowbandEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for NarrowbandEncoder {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for NarrowbandEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NarrowbandEncoder")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::SAMPLE_RATE;
    use audio_codec::g722::G722Decoder;

    fn tone(frequency: f64, frames: usize) -> Vec<Frame> {
        (0..frames)
            .map(|index| {
                std::array::from_fn(|n| {
                    let t = (index * FRAME_SAMPLES + n) as f64 / f64::from(SAMPLE_RATE);
                    (8000.0 * (2.0 * std::f64::consts::PI * frequency * t).sin()) as i16
                })
            })
            .collect()
    }

    /// Power of `frequency` in `samples` at `rate` (Goertzel), normalised.
    fn power(samples: &[i16], rate: f64, frequency: f64) -> f64 {
        let coefficient = 2.0 * (2.0 * std::f64::consts::PI * frequency / rate).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for sample in samples {
            let s0 = f64::from(*sample) / 32768.0 + coefficient * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (samples.len() as f64).powi(2)
    }

    #[test]
    fn a_tone_survives_our_encoder_and_decoder() {
        let mut encoder = NarrowbandEncoder::new();
        let mut decoder = NarrowbandDecoder::new();
        let mut heard = Vec::new();
        for frame in tone(1000.0, 50) {
            let mut payload = [0u8; FRAME_SAMPLES];
            assert_eq!(encoder.encode(&frame, &mut payload), FRAME_SAMPLES);
            let mut out = [0i16; FRAME_SAMPLES];
            assert_eq!(decoder.decode(&payload, &mut out), FRAME_SAMPLES);
            heard.extend_from_slice(&out);
        }
        // Past the ADPCM's settling: the tone, and little at other pitches.
        let settled = &heard[800..];
        let wanted = power(settled, 8000.0, 1000.0);
        assert!(wanted > 0.01, "1 kHz power {wanted}");
        for other in [300.0, 2200.0, 3100.0] {
            assert!(power(settled, 8000.0, other) < wanted / 100.0, "{other} Hz");
        }
    }

    #[test]
    fn a_wideband_decoder_plays_what_we_send_as_the_same_tone() {
        // A phone decodes at 16 kHz: the tone must be there, at 1 kHz.
        let mut encoder = NarrowbandEncoder::new();
        let mut phone = G722Decoder::with_options(Bitrate::Mode1_64000, false, false);
        let mut heard = vec![0i16; 0];
        for frame in tone(1000.0, 50) {
            let mut payload = [0u8; FRAME_SAMPLES];
            encoder.encode(&frame, &mut payload);
            let mut out = [0i16; 2 * FRAME_SAMPLES];
            let written = phone.decode_into(&payload, &mut out).unwrap();
            assert_eq!(written, 2 * FRAME_SAMPLES);
            heard.extend_from_slice(&out);
        }
        let settled = &heard[1600..];
        let wanted = power(settled, 16000.0, 1000.0);
        assert!(wanted > 0.01, "1 kHz power {wanted}");
        assert!(power(settled, 16000.0, 7000.0) < wanted / 100.0);
    }

    #[test]
    fn silence_stays_silent_and_the_filler_byte_decodes_to_silence() {
        let mut encoder = NarrowbandEncoder::new();
        let mut decoder = NarrowbandDecoder::new();
        let mut out = [0i16; FRAME_SAMPLES];
        for _ in 0..10 {
            let mut payload = [0u8; FRAME_SAMPLES];
            encoder.encode(&[0; FRAME_SAMPLES], &mut payload);
            decoder.decode(&payload, &mut out);
        }
        assert!(out.iter().all(|sample| sample.abs() < 64), "{out:?}");
        let mut decoder = NarrowbandDecoder::new();
        for _ in 0..5 {
            decoder.decode(&[SILENCE_BYTE; FRAME_SAMPLES], &mut out);
        }
        assert!(out.iter().all(|sample| sample.abs() < 64), "{out:?}");
    }
}
