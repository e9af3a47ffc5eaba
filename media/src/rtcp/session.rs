//! One RTCP session per media leg (RFC 3550 §6), sans-IO.
//!
//! ```text
//!            poll_transmit at each report time:
//!            SR if we sent RTP since the last report, else RR; + SDES CNAME
//!   Active { next_report } ──────────────────────────────► Active { next_report' }
//!        │
//!        │ bye(now): RR + SDES + BYE
//!        ▼
//!      Left  (no more reports; poll_timeout is None)
//! ```
//!
//! The caller feeds RTP it sends and receives, RTCP datagrams it receives
//! (with rtcp-mux, those for which [`crate::rtp::is_rtcp`] holds), and
//! drains compound packets with [`RtcpSession::poll_transmit`] at
//! [`RtcpSession::poll_timeout`]. Wall-clock time, needed for the NTP
//! timestamp of sender reports, is passed to `poll_transmit`; the session
//! never reads a clock.
//!
//! Round-trip time (§6.4.1) is `A - LSR - DLSR`, with `A` the arrival time
//! of a report on our NTP timeline: the wall clock given at our last report
//! plus the monotonic time elapsed since.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use rtcp_types::{
    Bye, Compound, CompoundBuilder, Packet, ReceiverReport, RtcpPacketWriter, RtcpPacketWriterExt,
    Sdes, SdesChunk, SdesItem, SenderReport,
};

use super::interval::{MINIMUM_INTERVAL, ReportInterval};
use super::ntp_time::{NtpTimestamp, from_short_ntp_units};
use super::quality::{JitterSummary, QualityStats, RoundTripSummary};
use super::{ReceiverStatistics, ReceptionReport};
use crate::rtp::{RtpHeader, RtpTimestamp, Ssrc, is_rtcp};

/// Most report blocks one SR or RR carries (5-bit count).
const MAX_REPORT_BLOCKS: usize = 31;
/// Longest SDES item value.
const MAX_SDES_LEN: usize = 255;
/// A source that sent no RTP for this long is no longer a sender (§6.3.5
/// uses two report intervals; a fixed bound keeps it simple).
const SENDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of one RTCP session.
#[derive(Debug, Clone)]
pub struct RtcpConfig {
    /// Our SSRC, the one of the RTP stream we send.
    pub ssrc: Ssrc,
    /// Our canonical name (SDES CNAME, §6.5.1); truncated to 255 bytes.
    pub cname: String,
    /// Clock rate of our RTP payloads in Hz (8000 for G.711).
    pub clock_rate: u32,
    /// Session bandwidth in bits per second, if known; RTCP uses 5%.
    pub session_bandwidth: Option<u32>,
    /// Minimum report interval (§6.2), 5 s by default.
    pub minimum_interval: Duration,
    /// Seed of the interval randomisation.
    pub rng_seed: u64,
}

impl RtcpConfig {
    /// Defaults for a G.711 leg: 8000 Hz, 5 s minimum, bandwidth unknown.
    pub fn new(ssrc: Ssrc, cname: impl Into<String>, rng_seed: u64) -> Self {
        Self {
            ssrc,
            cname: cname.into(),
            clock_rate: 8000,
            session_bandwidth: None,
            minimum_interval: MINIMUM_INTERVAL,
            rng_seed,
        }
    }
}

/// Why a received RTCP datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Not RTCP by the RFC 5761 §4 test (an RTP packet on a muxed port).
    #[error("not an RTCP packet")]
    NotRtcp,
    /// The compound packet does not parse.
    #[error("malformed RTCP packet: {0}")]
    Malformed(String),
    /// §6.1 / §A.2: a compound packet starts with an SR or RR.
    #[error("RTCP compound packet does not start with a report")]
    NotReportFirst,
}

impl From<rtcp_types::RtcpParseError> for RtcpError {
    fn from(error: rtcp_types::RtcpParseError) -> Self {
        Self::Malformed(error.to_string())
    }
}

/// What the session learnt from received RTCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpEvent {
    /// A remote source left the session (§6.6).
    ByeReceived {
        /// The source.
        ssrc: Ssrc,
        /// The reason it gave, if any.
        reason: Option<String>,
    },
}

/// Session state.
#[derive(Debug, Clone, Copy)]
enum SessionState {
    Active { next_report: Instant },
    Left,
}

/// What we sent: counters of our SR and the newest packet, for its RTP
/// timestamp.
#[derive(Debug, Clone, Copy, Default)]
struct SentCounters {
    packets: u64,
    octets: u64,
    last: Option<(RtpTimestamp, Instant)>,
    since_last_report: bool,
}

/// What we know of one remote participant.
#[derive(Debug, Clone)]
struct RemoteSource {
    ssrc: Ssrc,
    statistics: ReceiverStatistics,
    cname: Option<String>,
    report_about_us: Option<ReceptionReport>,
    left: bool,
}

/// The RTCP side of one media leg.
#[derive(Debug, Clone)]
pub struct RtcpSession {
    ssrc: Ssrc,
    cname: String,
    clock_rate: u32,
    state: SessionState,
    interval: ReportInterval,
    sent: SentCounters,
    sources: Vec<RemoteSource>,
    /// Our NTP timeline: wall clock at our last report and the instant.
    clock_anchor: Option<(Instant, NtpTimestamp)>,
    round_trip: RoundTripSummary,
    events: VecDeque<RtcpEvent>,
}

impl RtcpSession {
    /// A session created at `now`; the first report is due after half the
    /// minimum interval, randomised (§6.2).
    pub fn new(now: Instant, config: RtcpConfig) -> Self {
        let mut cname = config.cname;
        if cname.len() > MAX_SDES_LEN {
            let mut end = MAX_SDES_LEN;
            while !cname.is_char_boundary(end) {
                end -= 1;
            }
            cname.truncate(end);
        }
        let mut interval = ReportInterval::new(
            config.minimum_interval,
            config.session_bandwidth,
            config.rng_seed,
        );
        let first = interval.next(1, 0, false, true);
        Self {
            ssrc: config.ssrc,
            cname,
            clock_rate: config.clock_rate,
            state: SessionState::Active {
                next_report: now + first,
            },
            interval,
            sent: SentCounters::default(),
            sources: Vec::new(),
            clock_anchor: None,
            round_trip: RoundTripSummary::default(),
            events: VecDeque::new(),
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Records an RTP packet received at `now` with a payload of
    /// `payload_len` bytes.
    pub fn handle_rtp_received(&mut self, now: Instant, header: &RtpHeader, payload_len: usize) {
        self.source_mut(header.ssrc)
            .statistics
            .handle_rtp(now, header, payload_len);
    }

    /// Records an RTP packet we sent at `now` with a payload of
    /// `payload_len` bytes.
    pub fn handle_rtp_sent(&mut self, now: Instant, header: &RtpHeader, payload_len: usize) {
        self.sent.packets += 1;
        self.sent.octets += payload_len as u64;
        self.sent.since_last_report = true;
        self.sent.last = Some((header.timestamp, now));
    }

    /// Processes a compound RTCP packet received at `now`.
    pub fn handle_rtcp(&mut self, now: Instant, datagram: &[u8]) -> Result<(), RtcpError> {
        if !is_rtcp(datagram) {
            return Err(RtcpError::NotRtcp);
        }
        let mut compound = Compound::parse(datagram)?.peekable();
        match compound.peek() {
            Some(Ok(Packet::Sr(_) | Packet::Rr(_))) => {}
            Some(Err(_)) => {}
            _ => return Err(RtcpError::NotReportFirst),
        }
        self.interval.record_packet_size(datagram.len());
        for packet in compound {
            match packet? {
                Packet::Sr(report) => self.handle_sender_report(now, &report),
                Packet::Rr(report) => self.handle_receiver_report(now, &report),
                Packet::Sdes(sdes) => self.handle_sdes(&sdes),
                Packet::Bye(bye) => self.handle_bye(&bye),
                _ => {}
            }
        }
        Ok(())
    }

    /// The next compound packet to send, if a report is due at `now`;
    /// `wall_clock` is the current wall-clock time, for the SR.
    pub fn poll_transmit(&mut self, now: Instant, wall_clock: SystemTime) -> Option<Vec<u8>> {
        let SessionState::Active { next_report } = self.state else {
            return None;
        };
        if now < next_report {
            return None;
        }
        let ntp = NtpTimestamp::from_system_time(wall_clock);
        self.clock_anchor = Some((now, ntp));
        let we_sent = self.sent.since_last_report;
        let datagram = self.write_compound(now, Some(ntp), None);
        self.sent.since_last_report = false;
        self.interval.record_packet_size(datagram.len());
        let members = 1 + self.sources.iter().filter(|source| !source.left).count();
        let senders = usize::from(we_sent)
            + self
                .sources
                .iter()
                .filter(|source| {
                    !source.left
                        && source
                            .statistics
                            .last_packet_at()
                            .is_some_and(|at| now.saturating_duration_since(at) < SENDER_TIMEOUT)
                })
                .count();
        let interval = self.interval.next(members, senders, we_sent, false);
        self.state = SessionState::Active {
            next_report: now + interval,
        };
        Some(datagram)
    }

    /// When the next report is due, `None` once we left.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            SessionState::Active { next_report } => Some(next_report),
            SessionState::Left => None,
        }
    }

    /// The next event learnt from received RTCP.
    pub fn poll_event(&mut self) -> Option<RtcpEvent> {
        self.events.pop_front()
    }

    /// Leaves the session at `now`: returns the compound packet to send
    /// (an RR with our reception reports, SDES CNAME and BYE with `reason`,
    /// §6.6); no report follows.
    pub fn bye(&mut self, now: Instant, reason: Option<&str>) -> Vec<u8> {
        self.state = SessionState::Left;
        self.write_compound(now, None, Some(reason.unwrap_or("")))
    }

    /// The latest round-trip time measured from the far end's reports.
    pub fn round_trip_time(&self) -> Option<Duration> {
        self.round_trip.latest()
    }

    /// Reception statistics of a remote source.
    pub fn receiver_statistics(&self, ssrc: Ssrc) -> Option<&ReceiverStatistics> {
        self.sources
            .iter()
            .find(|source| source.ssrc == ssrc)
            .map(|source| &source.statistics)
    }

    /// The CNAME a remote source announced.
    pub fn remote_cname(&self, ssrc: Ssrc) -> Option<&str> {
        self.sources
            .iter()
            .find(|source| source.ssrc == ssrc)
            .and_then(|source| source.cname.as_deref())
    }

    /// The latest report the far end sent about our stream.
    pub fn remote_report(&self) -> Option<ReceptionReport> {
        self.sources
            .iter()
            .filter_map(|source| source.report_about_us)
            .next_back()
    }

    /// The quality summary of this leg so far, for a CDR.
    pub fn quality(&self) -> QualityStats {
        let mut jitter = JitterSummary::default();
        let mut packets_received = 0;
        let mut packets_lost = 0;
        let mut expected = 0;
        let mut duplicates = 0;
        for source in &self.sources {
            let statistics = &source.statistics;
            jitter.merge(statistics.jitter_summary());
            packets_received += statistics.packets_received();
            packets_lost += statistics.packets_lost();
            expected += statistics.expected().unwrap_or(0);
            duplicates += statistics.duplicates();
        }
        let remote = self.remote_report();
        QualityStats {
            packets_sent: self.sent.packets,
            packets_received,
            packets_lost,
            loss_fraction: if expected == 0 {
                0.0
            } else {
                packets_lost.max(0) as f64 / expected as f64
            },
            duplicates,
            max_jitter_ms: jitter.max_ms(),
            mean_jitter_ms: jitter.mean_ms(),
            round_trip_time_ms: self.round_trip.mean_ms(),
            remote_packets_lost: remote.map(|report| i64::from(report.cumulative_lost)),
            remote_jitter_ms: remote.map(|report| {
                f64::from(report.interarrival_jitter) / f64::from(self.clock_rate) * 1000.0
            }),
        }
    }

    /// Bytes it allocated: the remote sources with their CNAMEs, our
    /// CNAME, the event queue.
    pub(crate) fn heap_bytes(&self) -> usize {
        let sources = self.sources.capacity() * std::mem::size_of::<RemoteSource>();
        let cnames: usize = self
            .sources
            .iter()
            .filter_map(|source| source.cname.as_ref())
            .map(String::capacity)
            .sum();
        let events = self.events.capacity() * std::mem::size_of::<RtcpEvent>();
        sources + cnames + self.cname.capacity() + events
    }

    /// Takes our and the remote's RTP clock to be `clock_rate` Hz from now
    /// on (the negotiated codec's).
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        if clock_rate == 0 {
            return;
        }
        self.clock_rate = clock_rate;
        for source in &mut self.sources {
            source.statistics.set_clock_rate(clock_rate);
        }
    }

    fn source_mut(&mut self, ssrc: Ssrc) -> &mut RemoteSource {
        let index = match self.sources.iter().position(|source| source.ssrc == ssrc) {
            Some(index) => index,
            None => {
                // One at a time: a leg has one remote source (two across a
                // re-INVITE), not the four a doubling vector would hold.
                self.sources.reserve_exact(1);
                self.sources.push(RemoteSource {
                    ssrc,
                    statistics: ReceiverStatistics::new(ssrc, self.clock_rate),
                    cname: None,
                    report_about_us: None,
                    left: false,
                });
                self.sources.len() - 1
            }
        };
        &mut self.sources[index]
    }

    fn handle_sender_report(&mut self, now: Instant, report: &SenderReport<'_>) {
        let source = self.source_mut(Ssrc::new(report.ssrc()));
        source
            .statistics
            .handle_sender_report(now, NtpTimestamp::new(report.ntp_timestamp()));
        for block in report.report_blocks() {
            self.handle_report_block(
                now,
                Ssrc::new(report.ssrc()),
                ReceptionReport::from_block(&block),
            );
        }
    }

    fn handle_receiver_report(&mut self, now: Instant, report: &ReceiverReport<'_>) {
        for block in report.report_blocks() {
            self.handle_report_block(
                now,
                Ssrc::new(report.ssrc()),
                ReceptionReport::from_block(&block),
            );
        }
    }

    /// A block from `reporter`; only those about our stream matter.
    fn handle_report_block(&mut self, now: Instant, reporter: Ssrc, block: ReceptionReport) {
        if block.ssrc != self.ssrc {
            return;
        }
        self.source_mut(reporter).report_about_us = Some(block);
        // §6.4.1: no SR of ours received yet when LSR is 0.
        let Some((anchor_instant, anchor_ntp)) = self.clock_anchor else {
            return;
        };
        if block.last_sender_report == 0 {
            return;
        }
        let arrival = anchor_ntp
            .wrapping_add(now.saturating_duration_since(anchor_instant))
            .middle_32();
        let round_trip = arrival
            .wrapping_sub(block.last_sender_report)
            .wrapping_sub(block.delay_since_last_sender_report);
        // A "negative" result means inconsistent clocks or a bogus block.
        if round_trip < 0x8000_0000 {
            self.round_trip.record(from_short_ntp_units(round_trip));
        }
    }

    fn handle_sdes(&mut self, sdes: &Sdes<'_>) {
        for chunk in sdes.chunks() {
            let cname = chunk
                .items()
                .find(|item| item.type_() == SdesItem::CNAME)
                .map(|item| String::from_utf8_lossy(item.value()).into_owned());
            if let Some(cname) = cname {
                self.source_mut(Ssrc::new(chunk.ssrc())).cname = Some(cname);
            }
        }
    }

    fn handle_bye(&mut self, bye: &Bye<'_>) {
        let reason = bye
            .reason()
            .filter(|reason| !reason.is_empty())
            .map(|reason| String::from_utf8_lossy(reason).into_owned());
        for ssrc in bye.ssrcs().map(Ssrc::new) {
            let source = self.source_mut(ssrc);
            if !source.left {
                source.left = true;
                self.events.push_back(RtcpEvent::ByeReceived {
                    ssrc,
                    reason: reason.clone(),
                });
            }
        }
    }

    /// Writes SR (with `ntp` when we sent since the last report) or RR,
    /// then SDES CNAME, then BYE when `bye_reason` is given.
    fn write_compound(
        &mut self,
        now: Instant,
        ntp: Option<NtpTimestamp>,
        bye_reason: Option<&str>,
    ) -> Vec<u8> {
        let blocks: Vec<_> = self
            .sources
            .iter_mut()
            .filter(|source| !source.left)
            .filter_map(|source| source.statistics.reception_report(now))
            .take(MAX_REPORT_BLOCKS)
            .map(ReceptionReport::to_builder)
            .collect();
        let mut compound = CompoundBuilder::default();
        match ntp.filter(|_| self.sent.since_last_report) {
            Some(ntp) => {
                let rtp_timestamp = self.sent.last.map_or(0, |(timestamp, at)| {
                    let elapsed = now.saturating_duration_since(at);
                    let ticks = elapsed.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000;
                    timestamp.wrapping_add(ticks as u32).get()
                });
                let mut report = SenderReport::builder(self.ssrc.get())
                    .ntp_timestamp(ntp.get())
                    .rtp_timestamp(rtp_timestamp)
                    // The SR counters are 32 bits and wrap (§6.4.1).
                    .packet_count(self.sent.packets as u32)
                    .octet_count(self.sent.octets as u32);
                for block in blocks {
                    report = report.add_report_block(block);
                }
                compound = compound.add_packet(report);
            }
            None => {
                let mut report = ReceiverReport::builder(self.ssrc.get());
                for block in blocks {
                    report = report.add_report_block(block);
                }
                compound = compound.add_packet(report);
            }
        }
        compound = compound.add_packet(
            Sdes::builder().add_chunk(
                SdesChunk::builder(self.ssrc.get())
                    .add_item(SdesItem::builder(SdesItem::CNAME, &self.cname)),
            ),
        );
        if let Some(reason) = bye_reason {
            let mut bye = Bye::builder().add_source(self.ssrc.get());
            if !reason.is_empty() {
                bye = bye.reason(reason.chars().take(MAX_SDES_LEN).collect::<String>());
            }
            compound = compound.add_packet(bye);
        }
        let size = compound
            .calculate_size()
            .expect("our reports hold at most 31 blocks, clamped counters and a short CNAME");
        let mut datagram = vec![0; size];
        compound
            .write_into(&mut datagram)
            .expect("the buffer has the size the builder asked for");
        datagram
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{PayloadType, SequenceNumber};
    use crate::test_epoch;

    const OURS: Ssrc = Ssrc::new(0x1111_1111);
    const THEIRS: Ssrc = Ssrc::new(0x2222_2222);

    fn header(ssrc: Ssrc, sequence_number: u16) -> RtpHeader {
        RtpHeader {
            marker: false,
            payload_type: PayloadType::PCMA,
            sequence_number: SequenceNumber::new(sequence_number),
            timestamp: RtpTimestamp::new(160 * u32::from(sequence_number)),
            ssrc,
        }
    }

    fn wall_clock() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn session(now: Instant) -> RtcpSession {
        RtcpSession::new(now, RtcpConfig::new(OURS, "switchboard@example.net", 5))
    }

    /// An SR from THEIRS (NTP 0x83aa7e80_00000000, RTP 160, 10 packets,
    /// 1600 octets) with one block about OURS (LSR 0x7e80_8000, DLSR 0.5 s),
    /// then SDES CNAME "peer@host", as a softphone would send it.
    const THEIR_SENDER_REPORT: [u8; 72] = [
        0x81, 200, 0x00, 0x0c, // V=2 RC=1 SR, 12 words follow
        0x22, 0x22, 0x22, 0x22, // SSRC of sender
        0x83, 0xaa, 0x7e, 0x80, 0x00, 0x00, 0x00, 0x00, // NTP timestamp
        0x00, 0x00, 0x00, 0xa0, // RTP timestamp
        0x00, 0x00, 0x00, 0x0a, // packet count
        0x00, 0x00, 0x06, 0x40, // octet count
        0x11, 0x11, 0x11, 0x11, // SSRC_1
        0x40, 0x00, 0x00, 0x03, // fraction lost 64/256, cumulative lost 3
        0x00, 0x01, 0x00, 0x10, // extended highest sequence number
        0x00, 0x00, 0x00, 0x20, // jitter 32
        0x7e, 0x80, 0x80, 0x00, // LSR
        0x00, 0x00, 0x80, 0x00, // DLSR
        0x81, 202, 0x00, 0x04, // SDES, 1 chunk, 4 words follow
        0x22, 0x22, 0x22, 0x22, // SSRC
        0x01, 0x09, b'p', b'e', b'e', b'r', b'@', b'h', b'o', b's', b't', 0x00, // CNAME
    ];

    #[test]
    fn parses_a_real_sender_report_compound_packet() {
        let epoch = test_epoch();
        let mut session = session(epoch);
        session.handle_rtcp(epoch, &THEIR_SENDER_REPORT).unwrap();
        assert_eq!(session.remote_cname(THEIRS), Some("peer@host"));
        let report = session.remote_report().unwrap();
        assert_eq!(report.fraction_lost, 64);
        assert_eq!(report.cumulative_lost, 3);
        assert_eq!(report.extended_highest_sequence_number, 0x0001_0010);
        assert_eq!(report.interarrival_jitter, 32);
        // No SR of ours yet: no RTT.
        assert_eq!(session.round_trip_time(), None);
        assert_eq!(session.quality().remote_packets_lost, Some(3));
        assert_eq!(session.quality().remote_jitter_ms, Some(4.0));
    }

    #[test]
    fn refuses_rtp_and_garbage() {
        let epoch = test_epoch();
        let mut session = session(epoch);
        let mut rtp = [0u8; 32];
        let len = header(THEIRS, 1).write(&[0; 4], &mut rtp).unwrap();
        assert_eq!(
            session.handle_rtcp(epoch, &rtp[..len]),
            Err(RtcpError::NotRtcp)
        );
        assert!(matches!(
            session.handle_rtcp(epoch, &THEIR_SENDER_REPORT[..50]),
            Err(RtcpError::Malformed(_))
        ));
        // SDES alone: not a valid compound packet.
        assert_eq!(
            session.handle_rtcp(epoch, &THEIR_SENDER_REPORT[52..]),
            Err(RtcpError::NotReportFirst)
        );
    }

    #[test]
    fn reports_rr_then_sr_at_randomised_intervals() {
        let epoch = test_epoch();
        let mut session = session(epoch);
        let first = session.poll_timeout().unwrap() - epoch;
        assert!(first >= Duration::from_millis(1250) && first <= Duration::from_millis(3750));
        assert_eq!(session.poll_transmit(epoch, wall_clock()), None);
        for index in 0..100 {
            let now = epoch + Duration::from_millis(20 * u64::from(index));
            session.handle_rtp_received(now, &header(THEIRS, index), 160);
        }
        let due = session.poll_timeout().unwrap();
        let datagram = session.poll_transmit(due, wall_clock()).unwrap();
        // Nothing sent yet: RR with one block, then SDES.
        let packets: Vec<_> = Compound::parse(&datagram).unwrap().collect();
        assert!(matches!(&packets[0], Ok(Packet::Rr(report)) if report.n_reports() == 1));
        assert!(matches!(&packets[1], Ok(Packet::Sdes(_))));
        let next = session.poll_timeout().unwrap() - due;
        assert!(next >= Duration::from_millis(2500) && next <= Duration::from_millis(7500));
        assert_eq!(session.poll_transmit(due, wall_clock()), None);

        session.handle_rtp_sent(due, &header(OURS, 7), 160);
        let due = session.poll_timeout().unwrap();
        let datagram = session.poll_transmit(due, wall_clock()).unwrap();
        let mut packets = Compound::parse(&datagram).unwrap();
        let Some(Ok(Packet::Sr(report))) = packets.next() else {
            panic!("expected an SR first");
        };
        assert_eq!(report.ssrc(), OURS.get());
        assert_eq!(report.packet_count(), 1);
        assert_eq!(report.octet_count(), 160);
        assert_eq!(
            report.ntp_timestamp(),
            NtpTimestamp::from_system_time(wall_clock()).get()
        );
        let Some(Ok(Packet::Sdes(sdes))) = packets.next() else {
            panic!("expected SDES");
        };
        let chunk = sdes.chunks().next().unwrap();
        let item = chunk.items().next().unwrap();
        assert_eq!(item.type_(), SdesItem::CNAME);
        assert_eq!(item.value(), b"switchboard@example.net");
    }

    #[test]
    fn measures_round_trip_time_from_lsr_and_dlsr() {
        let epoch = test_epoch();
        let mut session = session(epoch);
        session.handle_rtp_sent(epoch, &header(OURS, 1), 160);
        let sent_at = session.poll_timeout().unwrap();
        let datagram = session.poll_transmit(sent_at, wall_clock()).unwrap();
        let Some(Ok(Packet::Sr(our_report))) = Compound::parse(&datagram).unwrap().next() else {
            panic!("expected an SR");
        };
        let lsr = NtpTimestamp::new(our_report.ntp_timestamp()).middle_32();
        // The peer holds our SR 200 ms, and the network takes 30 ms each way.
        let peer_block = ReceptionReport {
            ssrc: OURS,
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_sequence_number: 1,
            interarrival_jitter: 0,
            last_sender_report: lsr,
            delay_since_last_sender_report: 200 * 65_536 / 1000,
        };
        let reply = CompoundBuilder::default()
            .add_packet(
                ReceiverReport::builder(THEIRS.get()).add_report_block(peer_block.to_builder()),
            )
            .add_packet(
                Sdes::builder().add_chunk(
                    SdesChunk::builder(THEIRS.get())
                        .add_item(SdesItem::builder(SdesItem::CNAME, "peer")),
                ),
            );
        let mut bytes = vec![0; reply.calculate_size().unwrap()];
        reply.write_into(&mut bytes).unwrap();
        session
            .handle_rtcp(sent_at + Duration::from_millis(260), &bytes)
            .unwrap();
        let round_trip = session.round_trip_time().unwrap();
        assert!(
            round_trip.abs_diff(Duration::from_millis(60)) < Duration::from_millis(1),
            "{round_trip:?}"
        );
        let quality = session.quality();
        assert!((quality.round_trip_time_ms.unwrap() - 60.0).abs() < 1.0);
        assert_eq!(quality.packets_sent, 1);
    }

    #[test]
    fn bye_ends_the_session_and_is_understood() {
        let epoch = test_epoch();
        let mut ours = session(epoch);
        let datagram = ours.bye(epoch, Some("call ended"));
        assert_eq!(ours.poll_timeout(), None);
        assert_eq!(
            ours.poll_transmit(epoch + Duration::from_secs(60), wall_clock()),
            None
        );
        let kinds: Vec<_> = Compound::parse(&datagram)
            .unwrap()
            .map(|packet| match packet.unwrap() {
                Packet::Rr(_) => "RR",
                Packet::Sdes(_) => "SDES",
                Packet::Bye(_) => "BYE",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["RR", "SDES", "BYE"]);

        let mut theirs = RtcpSession::new(epoch, RtcpConfig::new(THEIRS, "peer", 1));
        theirs.handle_rtcp(epoch, &datagram).unwrap();
        assert_eq!(
            theirs.poll_event(),
            Some(RtcpEvent::ByeReceived {
                ssrc: OURS,
                reason: Some("call ended".into())
            })
        );
        assert_eq!(theirs.poll_event(), None);
        // A repeated BYE is reported once.
        theirs.handle_rtcp(epoch, &datagram).unwrap();
        assert_eq!(theirs.poll_event(), None);
    }

    #[test]
    fn two_sessions_report_loss_to_each_other() {
        let epoch = test_epoch();
        let mut alice = session(epoch);
        let mut bob = RtcpSession::new(epoch, RtcpConfig::new(THEIRS, "bob", 2));
        for index in 0..250u16 {
            let now = epoch + Duration::from_millis(20 * u64::from(index));
            alice.handle_rtp_sent(now, &header(OURS, index), 160);
            // Every tenth packet is lost on the way.
            if index % 10 != 5 {
                bob.handle_rtp_received(now, &header(OURS, index), 160);
            }
        }
        let now = epoch + Duration::from_secs(5);
        let datagram = bob.poll_transmit(now, wall_clock()).unwrap();
        alice.handle_rtcp(now, &datagram).unwrap();
        let report = alice.remote_report().unwrap();
        assert_eq!(report.cumulative_lost, 25);
        assert_eq!(report.fraction_lost, (25 * 256 / 249) as u8);
        let quality = bob.quality();
        assert_eq!(quality.packets_received, 224);
        assert_eq!(quality.packets_lost, 25);
        assert!((quality.loss_fraction - 25.0 / 249.0).abs() < 1e-9);
        assert_eq!(quality.max_jitter_ms, 0.0);
        assert_eq!(alice.quality().remote_packets_lost, Some(25));
    }
}
