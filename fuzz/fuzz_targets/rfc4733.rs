//! Fuzzes the RFC 4733 telephone-event receiver on its own, with the
//! packets' timing, marker and timestamp under the fuzzer's control (the
//! `rtp_media` target reaches it only through whole RTP packets at a fixed
//! pace). Each record is: 2 bytes of timestamp step (big-endian, added to
//! the running timestamp), 1 byte of flags (bit 0 marker, bits 1-7 the
//! milliseconds since the previous packet), 1 byte of payload length, the
//! payload. No input may panic, and no event is reported twice in a row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::dtmf::rfc4733::TelephoneEventReceiver;
use media::rtp::RtpTimestamp;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fuzz_target!(|data: &[u8]| {
    let mut now = epoch();
    let mut receiver = TelephoneEventReceiver::new(8000);
    let mut timestamp = 0u32;
    let mut last_reported = None;
    let mut rest = data;
    while rest.len() >= 4 {
        let step = u16::from_be_bytes([rest[0], rest[1]]);
        let flags = rest[2];
        let length = usize::from(rest[3]).min(rest.len() - 4);
        let payload = &rest[4..4 + length];
        rest = &rest[4 + length..];
        timestamp = timestamp.wrapping_add(u32::from(step));
        now += Duration::from_millis(u64::from(flags >> 1));
        let _ = receiver.handle_packet(now, RtpTimestamp::new(timestamp), flags & 1 == 1, payload);
        receiver.handle_timeout(now);
        while let Some(digit) = receiver.poll_event() {
            let key = (digit.timestamp, digit.event);
            assert_ne!(Some(key), last_reported, "an event was reported twice");
            last_reported = Some(key);
        }
    }
    receiver.handle_timeout(now + Duration::from_secs(10));
    while receiver.poll_event().is_some() {}
});
