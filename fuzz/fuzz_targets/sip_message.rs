//! Fuzzes the SIP parser, validator, stream framer and error-response
//! builder: no input may panic or hang.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_core::message::{Limits, Message, error_response, frame, parse};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let _ = frame(data, &limits);
    let bytes = Bytes::copy_from_slice(data);
    match parse(bytes.clone(), &limits) {
        Ok(Message::Request(request)) => {
            if let Err(error) = request.validate() {
                let _ = error_response(&bytes, &error);
            }
            let _ = request.headers.vias();
            let _ = request.headers.contacts();
            let _ = request.headers.expires();
            let printed = request.to_bytes();
            let _ = parse(printed, &limits);
        }
        Ok(Message::Response(response)) => {
            let _ = response.validate();
            let _ = response.to_bytes();
        }
        Err(error) => {
            let _ = error_response(&bytes, &error);
        }
    }
});
