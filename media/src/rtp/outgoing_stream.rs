//! One outgoing RTP stream of ours (RFC 3550 §5.1, §8): a single SSRC whose
//! sequence numbers and timestamps stay continuous while the packets it
//! carries come from different sources over time — the caller's own echo,
//! then the other leg of a bridge, then the other leg of a transfer.
//!
//! ```text
//!   source A (ssrc a, seq 7000..)  ─┐
//!                                   ├─► ours (ssrc s, seq n, n+1, n+2 …)
//!   source B (ssrc b, seq 100..)   ─┘    timestamps advance with wall time
//!                                        across the switch, marker set
//! ```
//!
//! While one source feeds the stream, packets keep their relative numbering
//! (a fixed offset), so the source's own losses, reordering and DTMF
//! timestamps pass through unchanged. When the source changes, the offsets
//! are recomputed so the first packet of the new source follows the last one
//! sent: next sequence number, and a timestamp advanced by the wall time
//! elapsed, in the payload clock.

use std::time::Instant;

use super::{RtpHeader, RtpPacketMut, RtpTimestamp, SequenceNumber, Ssrc};

/// Rewrites packets from any source into one consistent stream of ours.
#[derive(Debug, Clone)]
pub struct OutgoingStream {
    ssrc: Ssrc,
    clock_rate: u32,
    source: Option<SourceMapping>,
    last_sent: Option<LastSent>,
}

/// How the current source's numbering maps onto ours.
#[derive(Debug, Clone, Copy)]
struct SourceMapping {
    ssrc: Ssrc,
    sequence_offset: u16,
    timestamp_offset: u32,
}

/// The newest packet sent, to continue from when the source changes.
#[derive(Debug, Clone, Copy)]
struct LastSent {
    sequence_number: SequenceNumber,
    timestamp: RtpTimestamp,
    at: Instant,
}

impl OutgoingStream {
    /// A stream with our `ssrc`, carrying payloads clocked at `clock_rate`
    /// Hz (8000 for G.711 and its telephone-events).
    pub fn new(ssrc: Ssrc, clock_rate: u32) -> Self {
        Self {
            ssrc,
            clock_rate,
            source: None,
            last_sent: None,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Carries payloads clocked at `clock_rate` Hz from now on (a
    /// re-INVITE changed the codec): the wall time between sources is
    /// counted in the new clock.
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        if clock_rate > 0 {
            self.clock_rate = clock_rate;
        }
    }

    /// Treat the next packet as coming from a new source even if its SSRC
    /// is unchanged (for instance when the mode feeding the stream changes).
    pub fn restart_source(&mut self) {
        self.source = None;
    }

    /// Rewrites `packet`, received at `now`, in place into our stream: our
    /// SSRC, continuous sequence number and timestamp, and the marker bit
    /// set on the first packet of a new source.
    pub fn rewrite(&mut self, now: Instant, packet: &mut RtpPacketMut<'_>) {
        let header = self.restamp(now, packet.header());
        packet.set_marker(header.marker);
        packet.set_ssrc(header.ssrc);
        packet.set_sequence_number(header.sequence_number);
        packet.set_timestamp(header.timestamp);
    }

    /// The header a packet with `header`, sent at `now`, gets in our
    /// stream: what [`Self::rewrite`] writes, for a caller that writes the
    /// packet itself.
    pub fn restamp(&mut self, now: Instant, header: RtpHeader) -> RtpHeader {
        let mut marker = header.marker;
        let mapping = match self.source {
            Some(mapping) if mapping.ssrc == header.ssrc => mapping,
            _ => {
                let mapping =
                    self.map_new_source(now, header.ssrc, header.sequence_number, header.timestamp);
                self.source = Some(mapping);
                if self.last_sent.is_some() {
                    // A new talkspurt as far as the receiver's jitter buffer
                    // is concerned (RFC 3551 §4.1).
                    marker = true;
                }
                mapping
            }
        };
        let sequence_number = header.sequence_number.wrapping_add(mapping.sequence_offset);
        let timestamp = header.timestamp.wrapping_add(mapping.timestamp_offset);

        let is_newest = self
            .last_sent
            .is_none_or(|last| sequence_number.is_after(last.sequence_number));
        if is_newest {
            self.last_sent = Some(LastSent {
                sequence_number,
                timestamp,
                at: now,
            });
        }
        RtpHeader {
            marker,
            payload_type: header.payload_type,
            sequence_number,
            timestamp,
            ssrc: self.ssrc,
        }
    }

    fn map_new_source(
        &self,
        now: Instant,
        ssrc: Ssrc,
        sequence_number: SequenceNumber,
        timestamp: RtpTimestamp,
    ) -> SourceMapping {
        let Some(last) = self.last_sent else {
            // Our first packet: keep the source's numbering, which RFC 3550
            // §5.1 already requires to start at random values.
            return SourceMapping {
                ssrc,
                sequence_offset: 0,
                timestamp_offset: 0,
            };
        };
        let elapsed = now.saturating_duration_since(last.at);
        let ticks = elapsed.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000;
        // RTP timestamps wrap at 2^32; keep the low bits, and move forward
        // by at least one tick so the new source never repeats a timestamp.
        let ticks = u32::try_from(ticks & u128::from(u32::MAX))
            .unwrap_or(0)
            .max(1);
        let next_sequence_number = last.sequence_number.wrapping_add(1);
        let next_timestamp = last.timestamp.wrapping_add(ticks);
        SourceMapping {
            ssrc,
            sequence_offset: next_sequence_number.wrapping_sub(sequence_number),
            timestamp_offset: next_timestamp.wrapping_sub(timestamp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::PayloadType;
    use std::time::Duration;

    const OURS: Ssrc = Ssrc::new(0x5151_5151);

    /// Builds a packet from `ssrc`, runs it through `stream` at `at`, and
    /// returns the rewritten header.
    fn send(
        stream: &mut OutgoingStream,
        at: Instant,
        ssrc: u32,
        sequence_number: u16,
        timestamp: u32,
    ) -> RtpHeader {
        let mut buffer = [0u8; 200];
        let len = RtpHeader {
            marker: false,
            payload_type: PayloadType::PCMU,
            sequence_number: SequenceNumber::new(sequence_number),
            timestamp: RtpTimestamp::new(timestamp),
            ssrc: Ssrc::new(ssrc),
        }
        .write(&[0xff; 160], &mut buffer)
        .unwrap();
        let mut packet = RtpPacketMut::parse(&mut buffer[..len]).unwrap();
        stream.rewrite(at, &mut packet);
        packet.header()
    }

    #[test]
    fn first_source_keeps_its_numbering_under_our_ssrc() {
        let start = crate::test_epoch();
        let mut stream = OutgoingStream::new(OURS, 8000);
        let first = send(&mut stream, start, 7, 1000, 50_000);
        assert_eq!(first.ssrc, OURS);
        assert_eq!(first.sequence_number.get(), 1000);
        assert_eq!(first.timestamp.get(), 50_000);
        assert!(!first.marker);
        // Loss and reordering pass through unchanged.
        let later = send(&mut stream, start, 7, 1003, 50_480);
        assert_eq!(later.sequence_number.get(), 1003);
        let late = send(&mut stream, start, 7, 1002, 50_320);
        assert_eq!(late.sequence_number.get(), 1002);
        assert_eq!(late.timestamp.get(), 50_320);
    }

    #[test]
    fn a_new_source_continues_our_numbering() {
        let start = crate::test_epoch();
        let mut stream = OutgoingStream::new(OURS, 8000);
        send(&mut stream, start, 7, 65_534, 1000);
        send(
            &mut stream,
            start + Duration::from_millis(20),
            7,
            65_535,
            1160,
        );
        // 60 ms later a different source shows up with its own numbering.
        let switched = send(
            &mut stream,
            start + Duration::from_millis(80),
            9,
            12,
            900_000,
        );
        assert_eq!(switched.ssrc, OURS);
        assert_eq!(switched.sequence_number.get(), 0, "wraps after 65535");
        assert_eq!(switched.timestamp.get(), 1160 + 480);
        assert!(switched.marker);
        let next = send(
            &mut stream,
            start + Duration::from_millis(100),
            9,
            13,
            900_160,
        );
        assert_eq!(next.sequence_number.get(), 1);
        assert_eq!(next.timestamp.get(), 1160 + 480 + 160);
        assert!(!next.marker);
    }

    #[test]
    fn restart_source_resyncs_even_with_the_same_ssrc() {
        let start = crate::test_epoch();
        let mut stream = OutgoingStream::new(OURS, 8000);
        send(&mut stream, start, 7, 10, 0);
        stream.restart_source();
        let restarted = send(&mut stream, start, 7, 5000, 123_456);
        assert_eq!(restarted.sequence_number.get(), 11);
        assert_eq!(restarted.timestamp.get(), 1, "at least one tick forward");
        assert!(restarted.marker);
    }
}
