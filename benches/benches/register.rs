//! The registrar's hot path as a deskphone drives it: the first REGISTER
//! (parsed, challenged, 401 printed) and an authenticated refresh (parsed,
//! digest verified, binding refreshed, 200 printed), plus the digest check
//! on its own.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sip_core::auth::{
    DigestAlgorithm, DigestServer, DigestServerConfig, Ha1s, Verdict, answer_challenge,
};
use sip_core::message::{Limits, Message, Name, Request, parse};
use sip_core::registrar::{Disposition, Registrar, RegistrarConfig};
use sip_core::testing::epoch;
use std::hint::black_box;
use std::net::SocketAddr;

const REALM: &str = "switchboard";
const USER: &str = "1001";
const PASSWORD: &str = "correct horse battery staple";

fn lookup(user: &str) -> Option<Ha1s> {
    (user == USER).then(|| Ha1s::from_password(USER, REALM, PASSWORD))
}

/// A REGISTER from the phone, with credentials answering `challenge` at
/// nonce count `nc` when given.
fn register_bytes(cseq: u32, challenge: Option<(&str, u32)>) -> Bytes {
    let mut text = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-reg-{cseq};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{USER}@127.0.0.1>;tag=phone-1001\r\n\
To: <sip:{USER}@127.0.0.1>\r\n\
Call-ID: reg-1001@127.0.0.1\r\n\
CSeq: {cseq} REGISTER\r\n\
Contact: <sip:{USER}@127.0.0.1:5070;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000000001001>\"\r\n\
Expires: 3600\r\n\
User-Agent: Deskphone 2.1\r\n"
    );
    if let Some((challenge, nc)) = challenge {
        text.push_str(&format!(
            "Authorization: {}\r\n",
            credentials(challenge, nc)
        ));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    Bytes::from(text)
}

/// The phone's answer to `challenge` at nonce count `nc`.
fn credentials(challenge: &str, nc: u32) -> String {
    answer_challenge(
        challenge,
        "REGISTER",
        "sip:127.0.0.1",
        USER,
        PASSWORD,
        nc,
        "8f2d1c",
    )
    .expect("challenge answers")
}

fn request(bytes: Bytes) -> Request {
    match parse(bytes, &Limits::default()).expect("REGISTER parses") {
        Message::Request(request) => request,
        Message::Response(_) => unreachable!("a REGISTER is a request"),
    }
}

fn new_registrar() -> Registrar {
    let mut config = RegistrarConfig::new(REALM);
    config.digest.algorithms = vec![DigestAlgorithm::Md5];
    Registrar::with_seed(config, 7)
}

fn register(c: &mut Criterion) {
    let source: SocketAddr = "127.0.0.1:5070".parse().expect("address");
    let limits = Limits::default();
    let now = epoch();
    let mut group = c.benchmark_group("register");

    let mut registrar = new_registrar();
    let first = register_bytes(1, None);
    group.bench_function("challenge", |b| {
        b.iter(|| {
            let request = request(black_box(first.clone()));
            let outcome = registrar.handle_register(now, &request, source, "UDP", lookup);
            outcome.response.to_bytes()
        })
    });

    // One nonce, its count going up with each refresh as a phone's does.
    let mut registrar = new_registrar();
    let outcome = registrar.handle_register(now, &request(first.clone()), source, "UDP", lookup);
    let challenge = outcome
        .response
        .headers
        .first(&Name::WWW_AUTHENTICATE)
        .expect("a 401 carries a challenge")
        .as_str()
        .to_owned();
    let mut nc = 0;
    group.bench_function("authenticated_refresh", |b| {
        b.iter_batched(
            || {
                nc += 1;
                register_bytes(nc + 1, Some((&challenge, nc)))
            },
            |bytes| {
                let request = match parse(bytes, &limits).expect("REGISTER parses") {
                    Message::Request(request) => request,
                    Message::Response(_) => unreachable!("a REGISTER is a request"),
                };
                let outcome = registrar.handle_register(now, &request, source, "UDP", lookup);
                assert!(
                    matches!(outcome.disposition, Disposition::Accepted { .. }),
                    "{}",
                    outcome.response
                );
                outcome.response.to_bytes()
            },
            BatchSize::SmallInput,
        )
    });

    // The digest check alone: parse the Authorization value, check the
    // nonce's MAC and count, compute the response hash.
    let mut digest = DigestServer::with_seed(DigestServerConfig::new(REALM), 9);
    let challenge = digest
        .challenge(now, false)
        .into_iter()
        .find(|value| value.contains("algorithm=MD5"))
        .expect("an MD5 challenge");
    let uri = request(register_bytes(1, None)).uri.clone();
    let mut nc = 0;
    group.bench_function("digest_verify", |b| {
        b.iter_batched(
            || {
                nc += 1;
                credentials(&challenge, nc)
            },
            |authorization| {
                let verdict = digest.verify(now, "REGISTER", &uri, &authorization, lookup);
                assert!(matches!(verdict, Verdict::Ok { .. }), "{verdict:?}");
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, register);
criterion_main!(benches);
