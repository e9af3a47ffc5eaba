//! The audio every part of the engine exchanges: 8 kHz mono linear PCM in
//! 20 ms frames. Codecs decode into it, players and tone generators produce
//! it, the mixer sums it, recorders and detectors consume it.

/// Samples per second of the internal audio (the G.711 and telephone-event
/// RTP clock).
pub const SAMPLE_RATE: u32 = 8000;

/// The media tick: every worker moves one frame per channel per tick.
pub const FRAME_MILLIS: u32 = 20;

/// Samples in one frame (20 ms at 8 kHz).
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE * FRAME_MILLIS / 1000) as usize;

/// One 20 ms frame of 16-bit linear PCM.
pub type Frame = [i16; FRAME_SAMPLES];

/// A frame of silence.
pub const SILENCE: Frame = [0; FRAME_SAMPLES];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_twenty_milliseconds_at_eight_kilohertz() {
        assert_eq!(FRAME_SAMPLES, 160);
        assert_eq!(SILENCE.len(), FRAME_SAMPLES);
    }
}
