//! Fuzzes the SDP parser and the RFC 3264 answerer: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::sdp::{LocalMedia, SessionDescription, SessionOrigin, answer};

fuzz_target!(|data: &[u8]| {
    if let Ok(offer) = SessionDescription::parse(data) {
        let local = LocalMedia::new([127, 0, 0, 1].into(), 20000, SessionOrigin::new(1, 1));
        if let Ok(answer) = answer(&offer, &local) {
            let _ = SessionDescription::parse(&answer.session_description.to_bytes());
        }
        let _ = offer.to_bytes();
    }
});
