//! One whole call through call control on a fake clock: the switch's
//! SIP endpoint and controller with the fake media port, no sockets. An
//! INVITE with a G.711 offer to the echo DID 1000 is answered, ACKed,
//! and hung up with BYE; every message the switch sends is drained and
//! its effects (live events, the record) polled, as the binary's task
//! does. The caller's side is bytes made ahead; its only work per call
//! is reading the To tag of the 200.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use media::sdp::{self, Direction, LocalMedia, SessionOrigin};
use sip_core::endpoint::{Endpoint, EndpointConfig};
use sip_core::message::{Limits, Message, parse};
use sip_core::transport::{Peer, Transport};
use std::hint::black_box;
use std::time::{Duration, Instant};
use switch::fake_media::FakeMedia;
use switch::testing::{demo_switch, epoch};
use switch::{Effect, Switch};

const CALLER: &str = "127.0.0.1:5070";

/// The switch: its endpoint and controller.
struct Server {
    sip: Endpoint,
    switch: Switch,
    now: Instant,
    caller: Peer,
    offer: String,
    /// Call records that came out.
    records: u64,
}

impl Server {
    fn new() -> Server {
        let now = epoch();
        let local = LocalMedia::new(
            "127.0.0.1".parse().expect("an address"),
            40_000,
            SessionOrigin::new(1, 1),
        );
        let offer = String::from_utf8(sdp::offer(&local, Direction::SendRecv).to_bytes())
            .expect("SDP is text");
        Server {
            sip: Endpoint::new(EndpointConfig::new(
                "127.0.0.1:5060".parse().expect("an address"),
            )),
            switch: demo_switch(now, FakeMedia::new()),
            now,
            caller: Peer {
                transport: Transport::Udp,
                address: CALLER.parse().expect("an address"),
            },
            offer,
            records: 0,
        }
    }

    /// Delivers `text` from the caller; runs the controller on what the
    /// endpoint makes of it; the To tag of a 200 sent back, if any.
    fn deliver(&mut self, text: String) -> Option<String> {
        self.sip
            .handle_datagram(self.now, self.caller, Bytes::from(text));
        while let Some(event) = self.sip.poll_event() {
            self.switch.handle_sip(self.now, event, &mut self.sip);
        }
        while let Some(effect) = self.switch.poll_effect() {
            if matches!(effect, Effect::Cdr(_)) {
                self.records += 1;
            }
            black_box(effect);
        }
        let mut tag = None;
        while let Some(transmit) = self.sip.poll_transmit() {
            if transmit.bytes.starts_with(b"SIP/2.0 200")
                && let Ok(Message::Response(response)) = parse(transmit.bytes, &Limits::default())
                && response
                    .headers
                    .cseq()
                    .is_ok_and(|cseq| cseq.method.as_str() == "INVITE")
            {
                tag = response.headers.to_tag().map(str::to_string);
            }
        }
        tag
    }

    /// One call: INVITE, 200, ACK, BYE, 200; then time moves on 10 ms and
    /// the endpoint's and controller's timers run.
    fn call(&mut self, n: u64) {
        let invite = format!(
            "INVITE sip:1000@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{n}-i;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@{CALLER}>;tag=a{n}\r\n\
To: <sip:1000@127.0.0.1:5060>\r\n\
Call-ID: bench-{n}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@{CALLER}>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{}",
            self.offer.len(),
            self.offer
        );
        let tag = self.deliver(invite).expect("the call is answered");
        let in_dialog = |method: &str, sequence: u32, branch: &str| {
            format!(
                "{method} sip:switchboard@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{n}-{branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@{CALLER}>;tag=a{n}\r\n\
To: <sip:1000@127.0.0.1:5060>;tag={tag}\r\n\
Call-ID: bench-{n}\r\n\
CSeq: {sequence} {method}\r\n\
Content-Length: 0\r\n\r\n"
            )
        };
        self.deliver(in_dialog("ACK", 1, "a"));
        self.deliver(in_dialog("BYE", 2, "b"));
        self.now += Duration::from_millis(10);
        self.sip.handle_timeout(self.now);
        while self.sip.poll_transmit().is_some() {}
        self.switch.handle_timeout(self.now, &mut self.sip);
    }
}

fn whole_call(criterion: &mut Criterion) {
    let mut server = Server::new();
    let mut n = 0;
    // The call must really happen: a record comes out of each.
    server.call(0);
    assert!(server.switch.is_idle());
    assert_eq!(server.records, 1);
    let mut group = criterion.benchmark_group("switch");
    group.throughput(Throughput::Elements(1));
    group.bench_function("echo_call_invite_to_bye", |bench| {
        bench.iter(|| {
            n += 1;
            server.call(n);
        })
    });
    group.finish();
    assert!(server.switch.is_idle(), "every call ended");
    assert_eq!(server.records, n + 1, "every call has its record");
}

criterion_group!(benches, whole_call);
criterion_main!(benches);
