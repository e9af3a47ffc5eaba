//! Sample traffic for Switchboard's benchmarks: the messages a carrier
//! trunk and a deskphone typically send, byte for byte as they arrive.
//!
//! The criterion benchmarks live in `benches/`; the SIPp load harness in
//! `load/` (see `load/README.md`).

use bytes::Bytes;

/// An INVITE as a carrier trunk sends it to a DID: two Vias, a
/// Record-Route, P-Asserted-Identity, Allow/Supported and a PCMU/PCMA/
/// telephone-event SDP offer.
pub const INVITE: &str = "INVITE sip:1000@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-524287-1---6a1c3b7e9d0f2a14;rport\r\n\
Via: SIP/2.0/UDP 10.1.2.3:5060;received=10.1.2.3;branch=z9hG4bK776asdhds\r\n\
Record-Route: <sip:127.0.0.2;lr;ftag=as5d1c0e7b>\r\n\
Max-Forwards: 69\r\n\
From: \"Jane Caller\" <sip:+15551230000@127.0.0.2>;tag=as5d1c0e7b\r\n\
To: <sip:+15557654321@127.0.0.1>\r\n\
Call-ID: 4c3b2a1d5e6f7081@127.0.0.2\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:+15551230000@127.0.0.2:5060;transport=udp>\r\n\
P-Asserted-Identity: \"Jane Caller\" <sip:+15551230000@127.0.0.2>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE\r\n\
Supported: replaces, timer\r\n\
User-Agent: Carrier SBC 4.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 220\r\n\
\r\n\
v=0\r\n\
o=- 1742 1742 IN IP4 127.0.0.2\r\n\
s=-\r\n\
c=IN IP4 127.0.0.2\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// The 200 OK Switchboard sends to [`INVITE`]: the Vias and Record-Route
/// copied back, our To tag and Contact, and the SDP answer.
pub const OK_200: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-524287-1---6a1c3b7e9d0f2a14;rport=5060;received=127.0.0.2\r\n\
Via: SIP/2.0/UDP 10.1.2.3:5060;received=10.1.2.3;branch=z9hG4bK776asdhds\r\n\
Record-Route: <sip:127.0.0.2;lr;ftag=as5d1c0e7b>\r\n\
From: \"Jane Caller\" <sip:+15551230000@127.0.0.2>;tag=as5d1c0e7b\r\n\
To: <sip:+15557654321@127.0.0.1>;tag=sb-8f14e45fceea167a\r\n\
Call-ID: 4c3b2a1d5e6f7081@127.0.0.2\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:1000@127.0.0.1:5060>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, INFO\r\n\
Supported: replaces\r\n\
Server: Switchboard\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 200\r\n\
\r\n\
v=0\r\n\
o=- 9 9 IN IP4 127.0.0.1\r\n\
s=Switchboard\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 16384 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// `text` as the datagram bytes the transport hands to the parser.
pub fn datagram(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_core::message::{Limits, Message, parse};

    #[test]
    fn samples_parse_and_validate() {
        match parse(datagram(INVITE), &Limits::default()).unwrap() {
            Message::Request(request) => request.validate().unwrap(),
            Message::Response(_) => panic!("INVITE parsed as a response"),
        }
        match parse(datagram(OK_200), &Limits::default()).unwrap() {
            Message::Response(response) => response.validate().unwrap(),
            Message::Request(_) => panic!("200 OK parsed as a request"),
        }
    }
}
