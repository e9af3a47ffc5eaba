//! RTCP (RFC 3550 §6): reception statistics, the report interval, a
//! sans-IO session per media leg that writes and reads compound packets,
//! and the call-quality summary kept in a CDR.
//!
//! Compound packets are parsed and written by the `rtcp-types` crate; this
//! module keeps the statistics and timing that the RFC leaves to the
//! endpoint (Appendices A.1, A.3, A.7 and A.8). With rtcp-mux (RFC 5761)
//! RTCP arrives on the RTP port: [`crate::rtp::is_rtcp`] tells the two
//! apart, and [`RtcpSession::handle_rtcp`] refuses anything that is not
//! RTCP by that test.

mod interval;
mod ntp_time;
mod quality;
mod receiver_statistics;
mod session;

pub use interval::ReportInterval;
pub use ntp_time::NtpTimestamp;
pub use quality::QualityStats;
pub use receiver_statistics::ReceiverStatistics;
pub use session::{RtcpConfig, RtcpError, RtcpEvent, RtcpSession};

use crate::rtp::Ssrc;

/// One reception report block (RFC 3550 §6.4.1): what a receiver says about
/// one source it hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptionReport {
    /// The source this block is about (SSRC_n).
    pub ssrc: Ssrc,
    /// Packets lost since the previous report, as a fraction of 256.
    pub fraction_lost: u8,
    /// Packets lost since reception began (24-bit signed on the wire:
    /// duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received: cycles in the high 16
    /// bits.
    pub extended_highest_sequence_number: u32,
    /// Interarrival jitter in timestamp units (§6.4.1, §A.8).
    pub interarrival_jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last sender report
    /// received from the source (LSR), 0 if none.
    pub last_sender_report: u32,
    /// Delay since that sender report, in 1/65536 s (DLSR), 0 if none.
    pub delay_since_last_sender_report: u32,
}

impl ReceptionReport {
    /// Largest cumulative loss the 24-bit field holds.
    pub const MAX_CUMULATIVE_LOST: i32 = 0x7f_ffff;
    /// Smallest (most negative) cumulative loss the field holds.
    pub const MIN_CUMULATIVE_LOST: i32 = -0x80_0000;

    pub(crate) fn from_block(block: &rtcp_types::ReportBlock<'_>) -> Self {
        let raw = block.cumulative_lost() & 0xff_ffff;
        // Sign-extend the 24-bit two's complement value.
        let cumulative_lost = ((raw << 8) as i32) >> 8;
        Self {
            ssrc: Ssrc::new(block.ssrc()),
            fraction_lost: block.fraction_lost(),
            cumulative_lost,
            extended_highest_sequence_number: block.extended_sequence_number(),
            interarrival_jitter: block.interarrival_jitter(),
            last_sender_report: block.last_sender_report_timestamp(),
            delay_since_last_sender_report: block.delay_since_last_sender_report_timestamp(),
        }
    }

    pub(crate) fn to_builder(self) -> rtcp_types::ReportBlockBuilder {
        let cumulative_lost = self
            .cumulative_lost
            .clamp(Self::MIN_CUMULATIVE_LOST, Self::MAX_CUMULATIVE_LOST);
        rtcp_types::ReportBlock::builder(self.ssrc.get())
            .fraction_lost(self.fraction_lost)
            .cumulative_lost(cumulative_lost as u32 & 0xff_ffff)
            .extended_sequence_number(self.extended_highest_sequence_number)
            .interarrival_jitter(self.interarrival_jitter)
            .last_sender_report_timestamp(self.last_sender_report)
            .delay_since_last_sender_report_timestamp(self.delay_since_last_sender_report)
    }
}
