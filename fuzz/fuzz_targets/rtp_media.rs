//! Fuzzes what a media leg does with untrusted datagrams: the RTP parser,
//! RFC 3550 sequence and timestamp unwrapping, the jitter buffer, the
//! RFC 4733 telephone-event receiver and the RTCP session. The input is a
//! run of datagrams, each prefixed by a length byte; a virtual clock
//! advances 20 ms per datagram. No input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::dtmf::rfc4733::TelephoneEventReceiver;
use media::jitter_buffer::JitterBuffer;
use media::rtcp::{RtcpConfig, RtcpSession};
use media::rtp::{RtpPacket, SequenceTracker, Ssrc, TimestampUnwrapper, is_rtcp};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fuzz_target!(|data: &[u8]| {
    let start = epoch();
    let mut jitter_buffer = JitterBuffer::new();
    let mut events = TelephoneEventReceiver::new(8000);
    let mut rtcp = RtcpSession::new(start, RtcpConfig::new(Ssrc::new(0x5357_4221), "fuzz", 7));
    let mut sequence: Option<SequenceTracker> = None;
    let mut timestamps = TimestampUnwrapper::new(8000);
    let mut rest = data;
    let mut tick = 0u64;
    while let Some((&length, tail)) = rest.split_first() {
        let length = usize::from(length).min(tail.len());
        let (datagram, tail) = tail.split_at(length);
        rest = tail;
        tick += 1;
        let now = start + Duration::from_millis(20 * tick);
        if is_rtcp(datagram) {
            let _ = rtcp.handle_rtcp(now, datagram);
            while rtcp.poll_event().is_some() {}
            continue;
        }
        let Ok(packet) = RtpPacket::parse(datagram) else {
            continue;
        };
        let header = packet.header();
        rtcp.handle_rtp_received(now, &header, packet.payload().len());
        sequence
            .get_or_insert_with(|| SequenceTracker::new(header.sequence_number))
            .update(header.sequence_number);
        let _ = timestamps.unwrap(header.timestamp);
        if header.payload_type.get() == 101 {
            let _ = events.handle_packet(now, header.timestamp, header.marker, packet.payload());
        } else {
            let _ = jitter_buffer.push(now, header.sequence_number, header.timestamp, packet.payload());
        }
        let _ = jitter_buffer.pop(now);
        events.handle_timeout(now);
        while events.poll_event().is_some() {}
        let _ = rtcp.poll_transmit(now, std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    }
    let _ = rtcp.quality();
    let _ = jitter_buffer.stats();
});
