//! Endpoint tests over the simulated network, with a fake clock.

use super::*;
use crate::message::{SipUri, parse_uri};
use crate::testing::network::{Conditions, Network};
use crate::testing::{epoch, request};

const UAC: &str = "127.0.0.1:5070";
const UAS: &str = "127.0.0.1:5060";

fn endpoint(address: &str, seed: u64) -> Endpoint {
    let mut config = EndpointConfig::new(address.parse().unwrap());
    config.seed = seed;
    Endpoint::new(config)
}

fn udp(address: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        address: address.parse().unwrap(),
    }
}

fn new_invite(uac: &mut Endpoint) -> Request {
    let uri: SipUri = parse_uri("sip:1000@127.0.0.1:5060").unwrap();
    let mut invite = Request::new(Method::Invite, uri);
    let tag = uac.new_token();
    let call_id = uac.new_token();
    let h = &mut invite.headers;
    h.push(Name::FROM, format!("<sip:alice@{UAC}>;tag={tag}"));
    h.push(Name::TO, "<sip:1000@127.0.0.1>");
    h.push(Name::CALL_ID, call_id);
    h.push(Name::CSEQ, "1 INVITE");
    h.push(Name::CONTACT, format!("<sip:alice@{UAC}>"));
    invite
}

fn ack_for(invite: &Request, ok: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    ack.headers.copy_from(&invite.headers, &Name::FROM);
    ack.headers.copy_from(&ok.headers, &Name::TO);
    ack.headers.copy_from(&invite.headers, &Name::CALL_ID);
    ack.headers.push(Name::CSEQ, "1 ACK");
    ack
}

/// Drives a whole INVITE → 180 → 200 → ACK exchange; returns (UAC events, UAS events).
fn call_under(conditions: Conditions, seed: u64) -> (Vec<Event>, Vec<Event>) {
    let mut uac = endpoint(UAC, seed);
    let invite = new_invite(&mut uac);
    let mut net = Network::new(vec![uac, endpoint(UAS, seed + 1)], conditions, seed);
    let start = net.now;
    let key = net.nodes[0].0.send_request(start, invite.clone(), udp(UAS));
    let mut uac_events = Vec::new();
    let mut uas_events = Vec::new();
    let mut answered = false;
    let mut acked = false;
    while net.step(start + Duration::from_secs(70)) {
        for event in net.take_events(1) {
            if let Event::Request { key, request, .. } = &event {
                let now = net.now;
                let uas = &mut net.nodes[1].0;
                let mut ringing = Response::to_request(request, 180);
                ringing
                    .headers
                    .set(Name::TO, "<sip:1000@127.0.0.1>;tag=uas");
                uas.respond(now, key, ringing);
                let mut ok = Response::to_request(request, 200);
                ok.headers.set(Name::TO, "<sip:1000@127.0.0.1>;tag=uas");
                uas.respond(now, key, ok);
                answered = true;
            }
            uas_events.push(event);
        }
        for event in net.take_events(0) {
            if let Event::Response { response, .. } = &event
                && response.status == 200
                && !acked
            {
                let ack = ack_for(&invite, response);
                net.nodes[0].0.send_ack(&key, ack, udp(UAS));
                acked = true;
            }
            uac_events.push(event);
        }
    }
    assert!(answered, "the INVITE reached the UAS");
    (uac_events, uas_events)
}

#[test]
fn invite_completes_on_a_perfect_network() {
    let (uac, uas) = call_under(Conditions::PERFECT, 1);
    let statuses: Vec<u16> = uac
        .iter()
        .filter_map(|e| match e {
            Event::Response { response, .. } => Some(response.status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, vec![100, 180, 200]);
    assert_eq!(
        uas.iter()
            .filter(|e| matches!(e, Event::Ack { .. }))
            .count(),
        1
    );
    assert!(!uas.iter().any(|e| matches!(e, Event::AckTimedOut { .. })));
}

#[test]
fn invite_survives_loss_duplication_and_reordering() {
    let lossy = Conditions {
        loss: 0.2,
        duplication: 0.2,
        max_delay: Duration::from_millis(80),
    };
    for seed in 0..20 {
        let (uac, uas) = call_under(lossy, seed * 7 + 3);
        let requests = uas
            .iter()
            .filter(|e| matches!(e, Event::Request { .. }))
            .count();
        assert_eq!(requests, 1, "seed {seed}: retransmissions are absorbed");
        let finals = uac
            .iter()
            .filter(|e| matches!(e, Event::Response { response, .. } if response.status == 200))
            .count();
        assert_eq!(finals, 1, "seed {seed}: the TU sees the 2xx once");
        assert!(
            uas.iter().any(|e| matches!(e, Event::Ack { .. })),
            "seed {seed}: the ACK arrives"
        );
        assert!(
            !uas.iter().any(|e| matches!(e, Event::AckTimedOut { .. })),
            "seed {seed}: 2xx retransmission stops at the ACK"
        );
    }
}

#[test]
fn unanswered_2xx_times_out_after_64_t1() {
    let mut uac = endpoint(UAC, 9);
    let invite = new_invite(&mut uac);
    let mut net = Network::new(vec![uac, endpoint(UAS, 10)], Conditions::PERFECT, 9);
    let start = net.now;
    net.nodes[0].0.send_request(start, invite, udp(UAS));
    net.step(start + Duration::from_millis(10));
    let events = net.take_events(1);
    let Some(Event::Request { key, request, .. }) = events.first() else {
        panic!("expected the INVITE");
    };
    let mut ok = Response::to_request(request, 200);
    ok.headers.set(Name::TO, "<sip:1000@127.0.0.1>;tag=uas");
    let now = net.now;
    net.nodes[1].0.respond(now, key, ok);
    // The UAC never ACKs.
    net.run_until(start + Duration::from_secs(40));
    let uas_events = net.take_events(1);
    assert!(
        uas_events
            .iter()
            .any(|e| matches!(e, Event::AckTimedOut { sequence: 1, .. }))
    );
}

#[test]
fn cancel_gets_200_and_the_invite_487() {
    let mut uac = endpoint(UAC, 21);
    let invite = new_invite(&mut uac);
    let mut net = Network::new(vec![uac, endpoint(UAS, 22)], Conditions::PERFECT, 21);
    let start = net.now;
    let key = net.nodes[0].0.send_request(start, invite, udp(UAS));
    net.step(start + Duration::from_millis(10));
    let Some(Event::Request {
        key: server_key,
        request,
        ..
    }) = net.take_events(1).into_iter().next()
    else {
        panic!("expected the INVITE");
    };
    let mut ringing = Response::to_request(&request, 180);
    ringing
        .headers
        .set(Name::TO, "<sip:1000@127.0.0.1>;tag=uas");
    let now = net.now;
    net.nodes[1].0.respond(now, &server_key, ringing);
    net.run_until(now + Duration::from_millis(20));
    let now = net.now;
    let cancel_key = net.nodes[0].0.cancel(now, &key).expect("INVITE is pending");
    net.run_until(now + Duration::from_millis(20));
    let uas_events = net.take_events(1);
    assert!(
        uas_events
            .iter()
            .any(|e| matches!(e, Event::Cancelled { invite } if *invite == server_key))
    );
    let invite = net.nodes[1].0.server_request(&server_key).unwrap().clone();
    let mut terminated = Response::to_request(&invite, 487);
    terminated
        .headers
        .set(Name::TO, "<sip:1000@127.0.0.1>;tag=uas");
    let now = net.now;
    net.nodes[1].0.respond(now, &server_key, terminated);
    net.run_until(now + Duration::from_secs(40));
    let uac_events = net.take_events(0);
    assert!(uac_events.iter().any(
        |e| matches!(e, Event::Response { key, response } if *key == cancel_key && response.status == 200)
    ));
    assert!(uac_events.iter().any(
        |e| matches!(e, Event::Response { key: k, response } if *k == key && response.status == 487)
    ));
    // The 487 was ACKed by the client transaction: no Timer H expiry.
    assert_eq!(net.nodes[1].0.transaction_count(), 0);
}

fn answer_to(raw: &str) -> Option<String> {
    let mut net = Network::new(vec![endpoint(UAS, 1)], Conditions::PERFECT, 1);
    let raw = raw.replace("\r\n", "\n").replace('\n', "\r\n");
    net.inject(0, UAC.parse().unwrap(), raw.as_bytes());
    let transmit = net.nodes[0].0.poll_transmit()?;
    assert_eq!(
        transmit.destination.address,
        UAC.parse::<SocketAddr>().unwrap()
    );
    Some(String::from_utf8_lossy(&transmit.bytes).into_owned())
}

const HEAD: &str = "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKauto;rport\n\
From: <sip:alice@127.0.0.1>;tag=a\n\
To: <sip:1000@127.0.0.1>\n\
Call-ID: auto@127.0.0.1\n";

#[test]
fn automatic_answers() {
    let options = answer_to(&format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\n{HEAD}CSeq: 1 OPTIONS\n\n"
    ))
    .unwrap();
    assert!(options.starts_with("SIP/2.0 200 OK\r\n"), "{options}");
    assert!(options.contains("\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS"));
    assert!(options.contains("\r\nAccept: application/sdp\r\n"));
    assert!(options.contains("\r\nSupported: "));
    assert!(options.contains("rport=5070"));

    let unknown = answer_to(&format!("FOO sip:127.0.0.1 SIP/2.0\n{HEAD}CSeq: 1 FOO\n\n")).unwrap();
    assert!(
        unknown.starts_with("SIP/2.0 501 Not Implemented\r\n"),
        "{unknown}"
    );

    let hops = answer_to(&format!(
        "INVITE sip:1000@127.0.0.1 SIP/2.0\n{HEAD}Max-Forwards: 0\nCSeq: 1 INVITE\n\n"
    ))
    .unwrap();
    assert!(hops.starts_with("SIP/2.0 483 Too Many Hops\r\n"), "{hops}");

    let bad_cseq = answer_to(&format!(
        "INVITE sip:1000@127.0.0.1 SIP/2.0\n{HEAD}CSeq: one INVITE\n\n"
    ))
    .unwrap();
    assert!(
        bad_cseq.starts_with("SIP/2.0 400 Malformed CSeq Header\r\n"),
        "{bad_cseq}"
    );

    let version = answer_to(&format!(
        "INVITE sip:1000@127.0.0.1 SIP/3.0\n{HEAD}CSeq: 1 INVITE\n\n"
    ))
    .unwrap();
    assert!(version.starts_with("SIP/2.0 505 "), "{version}");

    let scheme = answer_to(&format!(
        "INVITE tel:1000 SIP/2.0\n{HEAD}CSeq: 1 INVITE\n\n"
    ))
    .unwrap();
    assert!(scheme.starts_with("SIP/2.0 416 "), "{scheme}");

    let cancel = answer_to(&format!(
        "CANCEL sip:1000@127.0.0.1 SIP/2.0\n{HEAD}CSeq: 1 CANCEL\n\n"
    ))
    .unwrap();
    assert!(cancel.starts_with("SIP/2.0 481 "), "{cancel}");

    let require = answer_to(&format!(
        "INVITE sip:1000@127.0.0.1 SIP/2.0\n{HEAD}Require: nothingweknow\nCSeq: 1 INVITE\n\n"
    ))
    .unwrap();
    assert!(require.starts_with("SIP/2.0 420 "), "{require}");
    assert!(require.contains("\r\nUnsupported: nothingweknow\r\n"));

    assert_eq!(answer_to("this is not SIP at all\r\n\r\n"), None);
    assert_eq!(answer_to("\r\n\r\n"), None);
}

#[test]
fn new_requests_reach_the_tu_and_invites_get_100_trying() {
    let mut net = Network::new(vec![endpoint(UAS, 1)], Conditions::PERFECT, 1);
    let invite = crate::testing::invite("z9hG4bKx1");
    net.inject(0, UAC.parse().unwrap(), &invite.to_bytes());
    let trying = net.nodes[0].0.poll_transmit().unwrap();
    assert!(trying.bytes.starts_with(b"SIP/2.0 100 Trying\r\n"));
    let events = net.take_events(0);
    let Some(Event::Request {
        request, source, ..
    }) = events.first()
    else {
        panic!("expected the INVITE");
    };
    assert_eq!(source.address, UAC.parse::<SocketAddr>().unwrap());
    let via = request.headers.top_via().unwrap();
    assert_eq!(via.params.get_val("rport").unwrap().as_str(), "5070");
    // A retransmission gets the 100 again and no new event.
    net.inject(0, UAC.parse().unwrap(), &invite.to_bytes());
    assert!(net.nodes[0].0.poll_transmit().is_some());
    assert!(net.take_events(0).is_empty());
}

#[test]
fn large_requests_move_to_tcp() {
    let mut uac = endpoint(UAC, 5);
    let mut invite = new_invite(&mut uac);
    invite.body = Bytes::from(vec![b'x'; 2000]);
    let now = epoch();
    uac.send_request(now, invite, udp(UAS));
    let transmit = uac.poll_transmit().unwrap();
    assert_eq!(transmit.destination.transport, Transport::Tcp);
    assert!(transmit.bytes.windows(15).any(|w| w == b"SIP/2.0/TCP 127"));
}

#[test]
fn tcp_stream_framing_handles_split_and_pipelined_messages() {
    let mut uas = endpoint(UAS, 3);
    let now = epoch();
    let peer = Peer {
        transport: Transport::Tcp,
        address: UAC.parse().unwrap(),
    };
    let one = request(&format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\n{HEAD}CSeq: 1 OPTIONS\n\n"
    ))
    .to_bytes();
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(&one);
    stream.extend_from_slice(&one[..40]);
    let consumed = uas.handle_stream(now, peer, &stream).unwrap();
    assert_eq!(consumed, 4 + one.len());
    let pong = uas.poll_transmit().unwrap();
    assert_eq!(&pong.bytes[..], b"\r\n");
    let answer = uas.poll_transmit().unwrap();
    assert!(answer.bytes.starts_with(b"SIP/2.0 200 OK"));
    assert_eq!(answer.destination, peer);
}

#[test]
fn request_uri_with_user_is_kept() {
    let invite = crate::testing::invite("z9hG4bKuri");
    assert_eq!(invite.uri_user(), Some("1000"));
}
