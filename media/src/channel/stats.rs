//! The counters of one channel.

use crate::jitter_buffer::JitterBufferStats;
use crate::rtcp::QualityStats;

/// Counters of one channel, with the jitter buffer's and RTCP's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChannelStats {
    /// RTP packets accepted from the remote (any payload type).
    pub packets_received: u64,
    /// Bytes of those datagrams.
    pub bytes_received: u64,
    /// RTP packets queued for sending.
    pub packets_sent: u64,
    /// Bytes of those datagrams.
    pub bytes_sent: u64,
    /// RTCP compound packets accepted.
    pub rtcp_received: u64,
    /// RTCP compound packets queued (reports and BYE).
    pub rtcp_sent: u64,
    /// Telephone-event packets received.
    pub telephone_event_packets: u64,
    /// Comfort noise packets received.
    pub comfort_noise_packets: u64,
    /// RTP packets with a payload type we did not negotiate.
    pub unknown_payload_type: u64,
    /// Datagrams that were neither valid RTP nor valid RTCP.
    pub malformed: u64,
    /// Datagrams from a source we have not latched to.
    pub ignored_source: u64,
    /// RTP packets dropped because the direction does not receive.
    pub dropped_by_direction: u64,
    /// Packets of another leg relayed into our stream.
    pub relayed: u64,
    /// Packets not sent because the transmit ring was full.
    pub transmit_queue_full: u64,
    /// Lost, late, duplicate and concealed frames, and the playout delay.
    pub jitter_buffer: JitterBufferStats,
    /// Loss, jitter and round-trip time from RTCP, as for a CDR.
    pub quality: QualityStats,
}

/// The channel's own counters, kept apart from the jitter buffer's and
/// RTCP's (which [`ChannelStats`] copies in when asked) so the channel does
/// not carry a second, stale copy of those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Counters {
    pub(super) packets_received: u64,
    pub(super) bytes_received: u64,
    pub(super) packets_sent: u64,
    pub(super) bytes_sent: u64,
    pub(super) rtcp_received: u64,
    pub(super) rtcp_sent: u64,
    pub(super) telephone_event_packets: u64,
    pub(super) comfort_noise_packets: u64,
    pub(super) unknown_payload_type: u64,
    pub(super) malformed: u64,
    pub(super) ignored_source: u64,
    pub(super) dropped_by_direction: u64,
    pub(super) relayed: u64,
    pub(super) transmit_queue_full: u64,
}

impl Counters {
    /// The counters with the jitter buffer's and RTCP's.
    pub(super) fn with(
        self,
        jitter_buffer: JitterBufferStats,
        quality: QualityStats,
    ) -> ChannelStats {
        let Self {
            packets_received,
            bytes_received,
            packets_sent,
            bytes_sent,
            rtcp_received,
            rtcp_sent,
            telephone_event_packets,
            comfort_noise_packets,
            unknown_payload_type,
            malformed,
            ignored_source,
            dropped_by_direction,
            relayed,
            transmit_queue_full,
        } = self;
        ChannelStats {
            packets_received,
            bytes_received,
            packets_sent,
            bytes_sent,
            rtcp_received,
            rtcp_sent,
            telephone_event_packets,
            comfort_noise_packets,
            unknown_payload_type,
            malformed,
            ignored_source,
            dropped_by_direction,
            relayed,
            transmit_queue_full,
            jitter_buffer,
            quality,
        }
    }
}
