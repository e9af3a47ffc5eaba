//! Cutting a received G.711 stream whose packets are not 20 ms long (10,
//! 30, 40, 60 ms: trunks and SIPp's own `g711a.pcap` send 30 ms whatever
//! the SDP said) into the 20 ms frames the jitter buffer plays.
//!
//! A stream of 20 ms packets never comes here: the jitter buffer takes its
//! packets as they are, with their own sequence numbers, and handles their
//! reordering. Once a packet of another length arrives, the channel sends
//! every later packet of the stream through the reframer, which joins the
//! payloads end to end by timestamp and cuts 160-byte frames numbered with
//! sequence numbers of its own.
//!
//! ```text
//!   30 ms packets:  |  ts 0, 240 B  |  ts 240, 240 B |
//!   20 ms frames:   | ts 0 | ts 160 | ts 320 | ...      (80 B wait for the next packet)
//! ```
//!
//! A packet that does not follow on (a gap) ends the frame being filled,
//! padded with silence, and starts a new one at its timestamp; the frames
//! of a short gap are counted as lost (their sequence numbers skipped), a
//! long one (a new talkspurt) is a timestamp jump for the jitter buffer to
//! resynchronise on. A packet a little before the current position (late,
//! reordered or duplicated) is dropped: reordering of such streams is not
//! undone. One far before it, or from a new SSRC, starts a new timeline
//! (a sender that restarted its stream).
//!
//! The frames' sequence numbers continue from the first packet the
//! reframer took, so a 20 ms stream that turns to other lengths keeps a
//! sequence the jitter buffer can follow.

use crate::audio::FRAME_SAMPLES;
use crate::rtp::{RtpTimestamp, SequenceNumber, Ssrc};

/// A gap of at most this many frames is loss; longer is a new talkspurt.
const MAX_LOST_FRAMES: u32 = 10;

/// A packet at most this many samples behind the current position is late;
/// further behind, the sender restarted its timeline.
const MAX_LATE_SAMPLES: u32 = MAX_LOST_FRAMES * FRAME_SAMPLES as u32;

/// The reframing state of one received stream. See the module
/// documentation.
#[derive(Debug, Clone)]
pub(crate) struct Reframer {
    /// Whether the stream has had a packet that is not one frame long.
    active: bool,
    pending: [u8; FRAME_SAMPLES],
    pending_len: usize,
    /// The timestamp of `pending[0]`.
    start: u32,
    /// The timestamp the next packet should have, once one has arrived.
    next: Option<u32>,
    /// The sequence number of the next frame handed out.
    sequence: u16,
    /// The source of the stream being reframed.
    ssrc: Option<Ssrc>,
}

impl Reframer {
    pub(crate) fn new() -> Self {
        Self {
            active: false,
            pending: [0; FRAME_SAMPLES],
            pending_len: 0,
            start: 0,
            next: None,
            sequence: 0,
            ssrc: None,
        }
    }

    /// Whether a packet of `payload_len` bytes must be reframed: it is not
    /// one frame long, or the stream already is being reframed.
    pub(crate) fn is_needed(&self, payload_len: usize) -> bool {
        self.active || payload_len != FRAME_SAMPLES
    }

    /// Takes a packet's payload (one byte per sample) from `ssrc`, with its
    /// sequence number and timestamp, and hands each frame it completes to
    /// `emit`. `silence` is the codec's byte for a zero sample.
    pub(crate) fn push(
        &mut self,
        ssrc: Ssrc,
        sequence: SequenceNumber,
        timestamp: RtpTimestamp,
        payload: &[u8],
        silence: u8,
        mut emit: impl FnMut(SequenceNumber, RtpTimestamp, &[u8]),
    ) {
        self.active = true;
        let timestamp = timestamp.get();
        if self.ssrc != Some(ssrc) {
            // A new source: its timeline has nothing to do with the old.
            if self.ssrc.is_none() {
                self.sequence = sequence.get();
            }
            self.ssrc = Some(ssrc);
            self.next = None;
            self.pending_len = 0;
        }
        match self.next {
            None => self.start = timestamp,
            Some(next) if next == timestamp => {}
            Some(next) => {
                let gap = timestamp.wrapping_sub(next);
                let behind = next.wrapping_sub(timestamp);
                if gap > u32::MAX / 2 && behind <= MAX_LATE_SAMPLES {
                    // Just behind what was already taken: late or a duplicate.
                    return;
                }
                if self.pending_len > 0 {
                    self.pending[self.pending_len..].fill(silence);
                    self.emit_pending(&mut emit);
                }
                // Far behind (a restarted timeline) counts like a long gap.
                let lost = gap / FRAME_SAMPLES as u32;
                if gap <= u32::MAX / 2 && lost <= MAX_LOST_FRAMES {
                    self.sequence = self.sequence.wrapping_add(lost as u16);
                }
                self.start = timestamp;
            }
        }
        let mut rest = payload;
        while !rest.is_empty() {
            let take = (FRAME_SAMPLES - self.pending_len).min(rest.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&rest[..take]);
            self.pending_len += take;
            rest = &rest[take..];
            if self.pending_len == FRAME_SAMPLES {
                self.emit_pending(&mut emit);
            }
        }
        self.next = Some(timestamp.wrapping_add(payload.len() as u32));
    }

    fn emit_pending(&mut self, emit: &mut impl FnMut(SequenceNumber, RtpTimestamp, &[u8])) {
        emit(
            SequenceNumber::new(self.sequence),
            RtpTimestamp::new(self.start),
            &self.pending,
        );
        self.sequence = self.sequence.wrapping_add(1);
        self.start = self.start.wrapping_add(FRAME_SAMPLES as u32);
        self.pending_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `(timestamp, payload)` packets; returns the frames emitted
    /// as (sequence, timestamp, payload).
    fn run(packets: &[(u32, Vec<u8>)]) -> Vec<(u16, u32, Vec<u8>)> {
        let mut reframer = Reframer::new();
        let mut frames = Vec::new();
        for (timestamp, payload) in packets {
            push(&mut reframer, 1, *timestamp, payload, &mut frames);
        }
        frames
    }

    fn push(
        reframer: &mut Reframer,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
        frames: &mut Vec<(u16, u32, Vec<u8>)>,
    ) {
        reframer.push(
            Ssrc::new(ssrc),
            SequenceNumber::new(0),
            RtpTimestamp::new(timestamp),
            payload,
            0xff,
            |s, t, p| frames.push((s.get(), t.get(), p.to_vec())),
        );
    }

    /// A payload of `len` bytes counting up from the sample at `timestamp`.
    fn ramp(timestamp: u32, len: usize) -> Vec<u8> {
        (0..len).map(|n| (timestamp as usize + n) as u8).collect()
    }

    #[test]
    fn twenty_millisecond_packets_are_left_alone() {
        let reframer = Reframer::new();
        assert!(!reframer.is_needed(160));
        assert!(reframer.is_needed(240));
        assert!(reframer.is_needed(80));
    }

    #[test]
    fn thirty_millisecond_packets_become_consecutive_twenty_millisecond_frames() {
        let packets: Vec<(u32, Vec<u8>)> = (0..4).map(|n| (n * 240, ramp(n * 240, 240))).collect();
        let frames = run(&packets);
        // 960 samples: six whole frames, no remainder.
        assert_eq!(frames.len(), 6);
        for (n, (sequence, timestamp, payload)) in frames.iter().enumerate() {
            assert_eq!(*sequence, n as u16);
            assert_eq!(*timestamp, n as u32 * 160);
            assert_eq!(payload, &ramp(n as u32 * 160, 160), "frame {n}");
        }
    }

    #[test]
    fn ten_millisecond_packets_are_joined_in_pairs() {
        let packets: Vec<(u32, Vec<u8>)> = (0..6).map(|n| (n * 80, ramp(n * 80, 80))).collect();
        let frames = run(&packets);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[2], (2, 320, ramp(320, 160)));
    }

    #[test]
    fn a_short_gap_pads_the_open_frame_and_counts_the_lost_ones() {
        // 30 ms packets at 0 and 240; the one at 480 is lost; 720 arrives.
        let frames = run(&[
            (0, ramp(0, 240)),
            (240, ramp(240, 240)),
            (720, ramp(720, 240)),
        ]);
        // Frames 0, 160, 320 from the first two packets (480 samples).
        assert_eq!(
            frames[..3].iter().map(|f| f.1).collect::<Vec<_>>(),
            vec![0, 160, 320]
        );
        // The gap of 240 samples: one frame lost, the new timeline at 720.
        assert_eq!((frames[3].0, frames[3].1), (4, 720));
        assert_eq!(frames[3].2, ramp(720, 160));
    }

    #[test]
    fn a_partial_frame_before_a_gap_is_padded_with_silence() {
        let frames = run(&[(0, ramp(0, 240)), (1000, ramp(1000, 160))]);
        assert_eq!(frames.len(), 3);
        let padded = &frames[1];
        assert_eq!(padded.1, 160);
        assert_eq!(&padded.2[..80], &ramp(160, 80)[..]);
        assert!(padded.2[80..].iter().all(|byte| *byte == 0xff));
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped() {
        let frames = run(&[
            (0, ramp(0, 240)),
            (240, ramp(240, 240)),
            (240, ramp(240, 240)),
            (0, ramp(0, 240)),
            (480, ramp(480, 240)),
        ]);
        let timestamps: Vec<u32> = frames.iter().map(|f| f.1).collect();
        assert_eq!(timestamps, vec![0, 160, 320, 480]);
        let sequences: Vec<u16> = frames.iter().map(|f| f.0).collect();
        assert_eq!(sequences, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_long_gap_is_a_new_talkspurt_not_loss() {
        let frames = run(&[(0, ramp(0, 320)), (80_000, ramp(0, 320))]);
        let sequences: Vec<u16> = frames.iter().map(|f| f.0).collect();
        assert_eq!(sequences, vec![0, 1, 2, 3]);
        assert_eq!(frames[2].1, 80_000);
    }

    #[test]
    fn timestamps_wrap() {
        let start = u32::MAX - 239;
        let frames = run(&[
            (start, ramp(0, 240)),
            (start.wrapping_add(240), ramp(0, 240)),
        ]);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].1, start.wrapping_add(160));
        assert_eq!(frames[2].1, start.wrapping_add(320));
    }

    #[test]
    fn a_restarted_timeline_is_followed_not_dropped() {
        let mut reframer = Reframer::new();
        let mut frames = Vec::new();
        push(&mut reframer, 1, 100_000, &ramp(0, 240), &mut frames);
        push(&mut reframer, 1, 100_240, &ramp(0, 240), &mut frames);
        // The sender restarts far behind (same SSRC): a new timeline.
        push(&mut reframer, 1, 500, &ramp(0, 240), &mut frames);
        push(&mut reframer, 1, 740, &ramp(0, 240), &mut frames);
        assert!(
            frames.iter().any(|frame| frame.1 == 660),
            "{:?}",
            frames.iter().map(|f| f.1).collect::<Vec<_>>()
        );
        // A new SSRC also starts a new timeline, even if just behind.
        let before = frames.len();
        push(&mut reframer, 2, 900, &ramp(0, 320), &mut frames);
        assert_eq!(frames[before].1, 900);
    }

    #[test]
    fn sequence_numbers_continue_from_the_stream() {
        let mut reframer = Reframer::new();
        let mut frames = Vec::new();
        reframer.push(
            Ssrc::new(9),
            SequenceNumber::new(4000),
            RtpTimestamp::new(0),
            &ramp(0, 320),
            0xff,
            |s, t, p| frames.push((s.get(), t.get(), p.to_vec())),
        );
        assert_eq!(
            frames.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![4000, 4001]
        );
    }
}
