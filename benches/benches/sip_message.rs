//! Parsing and printing the two messages every call carries: a trunk's
//! INVITE with SDP and our 200 OK.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use benches::{INVITE, OK_200, datagram};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sip_core::message::{Limits, Message, parse};
use std::hint::black_box;

fn parse_message(text: &'static str) -> Message {
    parse(datagram(text), &Limits::default()).expect("sample parses")
}

fn messages(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("sip_message");
    for (name, text) in [("invite", INVITE), ("200_ok", OK_200)] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        let bytes = datagram(text);
        group.bench_function(format!("parse_{name}"), |b| {
            b.iter(|| parse(black_box(bytes.clone()), &limits).expect("sample parses"))
        });
        // What the transport does with every request: parse, then the
        // checks that decide between handling it and a 400.
        group.bench_function(format!("parse_validate_{name}"), |b| {
            b.iter(
                || match parse(black_box(bytes.clone()), &limits).expect("sample parses") {
                    Message::Request(request) => request.validate().map(|_| ()),
                    Message::Response(response) => response.validate().map(|_| ()),
                },
            )
        });
        let message = parse_message(text);
        group.bench_function(format!("print_{name}"), |b| {
            b.iter(|| match black_box(&message) {
                Message::Request(request) => request.to_bytes(),
                Message::Response(response) => response.to_bytes(),
            })
        });
    }
    group.finish();
}

criterion_group!(benches, messages);
criterion_main!(benches);
