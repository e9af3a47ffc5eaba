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
