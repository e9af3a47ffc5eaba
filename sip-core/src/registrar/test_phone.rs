//! A fake deskphone and helpers for the registrar's tests.

use super::{Disposition, RegisterOutcome, Registrar, RegistrarConfig, RegistrarEvent};
use crate::auth::{DigestAlgorithm, Ha1s, answer_challenge, select_challenge};
use crate::message::{Limits, Message, Name, Request, Response, parse};
use bytes::Bytes;
use std::net::SocketAddr;
use std::time::Instant;

#[allow(clippy::disallowed_methods)]
pub(super) fn epoch() -> Instant {
    Instant::now()
}

pub(super) const REALM: &str = "switchboard.test";

pub(super) fn users(user: &str) -> Option<Ha1s> {
    let password = match user {
        "alice" => "secret",
        "bob" => "hunter2",
        _ => return None,
    };
    Some(Ha1s::from_password(user, REALM, password))
}

pub(super) fn source() -> SocketAddr {
    "192.0.2.10:5060".parse().unwrap()
}

pub(super) fn registrar() -> Registrar {
    Registrar::with_seed(RegistrarConfig::new(REALM), 42)
}

/// A deskphone: builds REGISTERs with growing CSeqs and answers
/// challenges.
pub(super) struct Phone {
    pub(super) user: &'static str,
    pub(super) password: &'static str,
    pub(super) call_id: String,
    pub(super) cseq: u32,
    pub(super) challenge: Option<String>,
    pub(super) nc: u32,
}

impl Phone {
    pub(super) fn new(user: &'static str, password: &'static str) -> Phone {
        Phone {
            user,
            password,
            call_id: format!("reg-{user}@192.0.2.10"),
            cseq: 0,
            challenge: None,
            nc: 0,
        }
    }

    /// A REGISTER with `contacts` and extra header lines, with
    /// credentials when a challenge was seen.
    pub(super) fn request(&mut self, contacts: &[&str], extra: &str) -> Request {
        self.cseq += 1;
        let mut text = format!(
            "REGISTER sip:switchboard.test SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{cseq}\r\n\
Max-Forwards: 70\r\n\
From: <sip:{user}@switchboard.test>;tag=phone\r\n\
To: <sip:{user}@switchboard.test>\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} REGISTER\r\n",
            cseq = self.cseq,
            user = self.user,
            call_id = self.call_id,
        );
        for contact in contacts {
            text.push_str(&format!("Contact: {contact}\r\n"));
        }
        text.push_str(extra);
        if let Some(challenge) = &self.challenge {
            self.nc += 1;
            let value = answer_challenge(
                challenge,
                "REGISTER",
                "sip:switchboard.test",
                self.user,
                self.password,
                self.nc,
                "0a4f113b",
            )
            .unwrap();
            text.push_str(&format!("Authorization: {value}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match parse(Bytes::from(text), &Limits::default()).unwrap() {
            Message::Request(request) => request,
            Message::Response(_) => unreachable!(),
        }
    }

    /// Remembers the preferred challenge of a 401.
    pub(super) fn learn(&mut self, response: &Response) {
        assert_eq!(response.status, 401, "{response}");
        let challenge = select_challenge(
            response
                .headers
                .all(&Name::WWW_AUTHENTICATE)
                .map(|v| v.as_str()),
        )
        .unwrap();
        assert_eq!(challenge.algorithm, Some(DigestAlgorithm::Sha256));
        self.challenge = Some(
            response
                .headers
                .first(&Name::WWW_AUTHENTICATE)
                .unwrap()
                .as_str()
                .to_owned(),
        );
        self.nc = 0;
    }
}

pub(super) fn send(registrar: &mut Registrar, now: Instant, request: &Request) -> RegisterOutcome {
    registrar.handle_register(now, request, source(), "UDP", users)
}

/// Challenge then authorized REGISTER; returns the final response.
pub(super) fn register(
    registrar: &mut Registrar,
    phone: &mut Phone,
    now: Instant,
    contacts: &[&str],
    extra: &str,
) -> Response {
    if phone.challenge.is_none() {
        let first = send(registrar, now, &phone.request(contacts, extra));
        assert_eq!(first.disposition, Disposition::Challenged);
        phone.learn(&first.response);
    }
    send(registrar, now, &phone.request(contacts, extra)).response
}

pub(super) fn contacts_of(response: &Response) -> Vec<String> {
    response
        .headers
        .all(&Name::CONTACT)
        .map(|v| v.as_str().to_owned())
        .collect()
}

pub(super) fn events(registrar: &mut Registrar) -> Vec<RegistrarEvent> {
    std::iter::from_fn(|| registrar.poll_event()).collect()
}

pub(super) fn to_tag(response: &Response) -> Option<String> {
    response
        .headers
        .to()
        .unwrap()
        .tag
        .map(|t| t.as_str().to_owned())
}
