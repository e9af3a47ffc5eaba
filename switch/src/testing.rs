//! Whole calls through call control on a fake clock (feature
//! `test-support`): the switch's endpoint and two user agents on
//! sip-core's simulated network, the fake media port, and the effects
//! kept for assertions. No socket, no thread, no sleep: time jumps to the
//! next delivery or deadline.
//!
//! The user agents are scripted by the test with the helpers here:
//! [`Harness::invite`], [`Harness::answer`], [`Harness::hang_up`], …

#![allow(clippy::disallowed_methods)] // tests take one clock origin

use crate::cdr::Cdr;
use crate::control::{Command, DirectoryChange, Reply, Resources, Switch};
use crate::effect::{CallEvent, Effect, NoAudio};
use crate::fake_media::FakeMedia;
use crate::media_port::{ChannelId, MediaEvent, MediaEventKind};
use crate::prompts::Prompts;
use crate::route::Route;
use bytes::Bytes;
use media::sdp::{self, Direction, LocalMedia, SessionDescription, SessionOrigin};
use sip_core::auth::{Ha1s, response_challenge};
use sip_core::dialog::Dialog;
use sip_core::endpoint::{Endpoint, EndpointConfig, Event};
use sip_core::message::{Method, Name, Request, Response, parse_uri};
use sip_core::registrar::{Registrar, RegistrarConfig};
use sip_core::testing::network::{Conditions, Network};
use sip_core::transaction::{ClientKey, ServerKey};
use sip_core::transport::{Peer, Transport};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// A switch on 127.0.0.1:5060 with media `media` and the demo routes
/// (1000 echo, 2000 a conference, 3000 records, 4000 the digit echo),
/// phones 1001 and 1002 provisioned (not registered), no trunk, calls
/// relayed; its wall clock reads the Unix epoch at `now`.
pub fn demo_switch(now: Instant, media: FakeMedia) -> Switch {
    let mut switch = Switch::new(
        Registrar::new(RegistrarConfig::new(REALM)),
        Box::new(media),
        address(SWITCH),
        Resources {
            trunk: None,
            recordings_dir: PathBuf::from("/recordings"),
            prompts: prompts(),
            mix_bridges: false,
            record_calls: false,
            wall_clock: (now, SystemTime::UNIX_EPOCH),
            metrics: Arc::default(),
            audio: Box::new(NoAudio),
            voicemail_dir: PathBuf::from("/voicemail"),
            media_address: None,
        },
    );
    let demo = [
        ("1000", Route::Echo),
        ("2000", Route::Conference("2000".into())),
        ("3000", Route::Record),
        ("4000", Route::DigitEcho),
    ];
    for (number, route) in demo {
        switch.apply_directory_change(DirectoryChange::DidActive {
            number: number.into(),
            route,
        });
    }
    for extension in ["1001", "1002"] {
        switch.apply_directory_change(DirectoryChange::PhoneActive {
            extension: extension.into(),
            ha1s: Ha1s::from_password(extension, REALM, PASSWORD),
        });
    }
    switch
}

/// The switch's node on the network.
pub const SWITCH: usize = 0;
/// The caller's user agent.
pub const ALICE: usize = 1;
/// A phone's user agent (registers as extension 1001).
pub const BOB: usize = 2;
/// A second phone (registers as extension 1002).
pub const CAROL: usize = 3;

const ADDRESSES: [&str; 4] = [
    "127.0.0.1:5060",
    "127.0.0.1:5070",
    "127.0.0.1:5080",
    "127.0.0.1:5090",
];

/// The realm phones register in.
pub const REALM: &str = "switchboard.test";
/// Every test phone's password.
pub const PASSWORD: &str = "secret-1234";

/// The start of a test's fake time: any instant will do, as tests only
/// move forward from it.
pub fn epoch() -> Instant {
    Instant::now()
}

/// The bundled prompts, decoded once per process.
fn prompts() -> Prompts {
    static PROMPTS: OnceLock<Prompts> = OnceLock::new();
    PROMPTS
        .get_or_init(|| Prompts::load().expect("the bundled prompts decode"))
        .clone()
}

/// A user agent's INVITE, and the dialog its 2xx made.
#[derive(Debug)]
pub struct Outgoing {
    /// The INVITE's client transaction.
    pub key: ClientKey,
    /// The INVITE as sent.
    pub invite: Request,
    /// The dialog, once answered.
    pub dialog: Option<Dialog>,
    /// The final status, once one came.
    pub status: Option<u16>,
}

/// What a user agent heard back on an INVITE it sent: every response
/// (retransmissions of a 2xx left out, as its ACK answers them), and the
/// dialog a 2xx made, ACKed at once.
#[derive(Debug, Default)]
struct Answers {
    node: usize,
    invite: Option<Request>,
    statuses: Vec<u16>,
    dialog: Option<Dialog>,
}

/// An INVITE a user agent received, and its dialog once it answered.
#[derive(Debug)]
pub struct Incoming {
    /// Its server transaction.
    pub key: ServerKey,
    /// The INVITE.
    pub invite: Request,
    /// Where it came from.
    pub source: Peer,
    /// Our To tag.
    pub tag: String,
    /// The dialog, once answered.
    pub dialog: Option<Dialog>,
}

/// The switch and its peers on a simulated network.
pub struct Harness {
    /// The network: the switch's endpoint and the user agents'.
    pub net: Network,
    /// Call control.
    pub switch: Switch,
    /// What media was told.
    pub media: FakeMedia,
    /// Every effect so far, oldest first.
    pub effects: Vec<Effect>,
    /// Events the user agents received and the test has not taken.
    inboxes: Vec<Vec<Event>>,
    /// The user agents' INVITEs and what came back on them.
    answers: std::collections::HashMap<ClientKey, Answers>,
}

impl Default for Harness {
    fn default() -> Harness {
        Harness::new()
    }
}

impl Harness {
    /// The [`demo_switch`] and three user agents.
    pub fn new() -> Harness {
        let endpoints = ADDRESSES
            .iter()
            .enumerate()
            .map(|(index, address)| {
                let mut config = EndpointConfig::new(address.parse().expect("an address"));
                config.seed = index as u64 + 1;
                Endpoint::new(config)
            })
            .collect();
        let net = Network::new(endpoints, Conditions::PERFECT, 7);
        let media = FakeMedia::new();
        let switch = demo_switch(net.now, media.clone());
        Harness {
            net,
            switch,
            media,
            effects: Vec::new(),
            inboxes: vec![Vec::new(); ADDRESSES.len()],
            answers: Default::default(),
        }
    }

    /// Now, on the fake clock.
    pub fn now(&self) -> Instant {
        self.net.now
    }

    /// Applies a directory change.
    pub fn directory(&mut self, change: DirectoryChange) {
        self.command(Command::Directory(change));
    }

    /// Asks call control, as the API does.
    pub fn command(&mut self, command: Command) -> Reply {
        let now = self.net.now;
        let reply = self
            .switch
            .handle_command(now, command, &mut self.net.nodes[SWITCH].0);
        self.pump();
        reply
    }

    /// Runs the network and call control for `duration`.
    pub fn run_for(&mut self, duration: Duration) {
        let until = self.net.now + duration;
        loop {
            self.pump();
            let bound = self
                .switch
                .poll_timeout()
                .filter(|due| *due < until)
                .unwrap_or(until);
            if !self.net.step(bound) {
                self.net.now = self.net.now.max(bound);
                if bound >= until {
                    self.pump();
                    return;
                }
            }
        }
    }

    /// Hands call control what its endpoint received, and its timers
    /// due; keeps the effects; sorts the user agents' events.
    fn pump(&mut self) {
        loop {
            let now = self.net.now;
            let events = self.net.take_events(SWITCH);
            let mut busy = !events.is_empty();
            for event in events {
                let sip = &mut self.net.nodes[SWITCH].0;
                self.switch.handle_sip(now, event, sip);
            }
            if self.switch.poll_timeout().is_some_and(|due| due <= now) {
                let sip = &mut self.net.nodes[SWITCH].0;
                self.switch.handle_timeout(now, sip);
                busy = true;
            }
            while let Some(effect) = self.switch.poll_effect() {
                self.effects.push(effect);
            }
            for node in [ALICE, BOB, CAROL] {
                for event in self.net.take_events(node) {
                    busy |= self.user_agent(node, event);
                }
            }
            if !busy {
                return;
            }
        }
    }

    /// Media reports `kind` on channel `channel`, now.
    pub fn media_event(&mut self, channel: ChannelId, kind: MediaEventKind) {
        let now = self.net.now;
        let event = MediaEvent { channel, kind };
        self.switch
            .handle_media(now, event, &mut self.net.nodes[SWITCH].0);
        self.pump();
    }

    /// A user agent's event: a response to one of its INVITEs is noted
    /// (a 2xx ACKed at once); anything else waits for the test. Whether
    /// it sent something.
    fn user_agent(&mut self, node: usize, event: Event) -> bool {
        let Event::Response { key, response } = &event else {
            self.inboxes[node].push(event);
            return false;
        };
        let Some(answers) = self.answers.get_mut(key) else {
            self.inboxes[node].push(event);
            return false;
        };
        let success = (200..300).contains(&response.status);
        if success && answers.dialog.is_some() {
            return false;
        }
        answers.statuses.push(response.status);
        if !success {
            return false;
        }
        let invite = answers.invite.as_ref().expect("the INVITE is kept");
        let dialog = Dialog::from_uac(invite, response, peer(SWITCH)).expect("a dialog");
        let ack = dialog.create_ack(1);
        answers.dialog = Some(dialog);
        let node = answers.node;
        self.net.nodes[node].0.send_ack(key, ack, peer(SWITCH));
        true
    }

    /// The events user agent `node` received since last asked.
    pub fn take(&mut self, node: usize) -> Vec<Event> {
        std::mem::take(&mut self.inboxes[node])
    }

    /// Registers phone `extension` from user agent `node` (answering the
    /// digest challenge).
    pub fn register(&mut self, node: usize, extension: &str) {
        let mut sequence = 1;
        let mut credentials = None;
        loop {
            let mut request = Request::new(Method::Register, uri(&format!("sip:{}", ADDRESSES[0])));
            let headers = &mut request.headers;
            let aor = format!("<sip:{extension}@{}>", ADDRESSES[0]);
            headers.push(Name::FROM, format!("{aor};tag=reg{node}"));
            headers.push(Name::TO, aor);
            headers.push(Name::CALL_ID, format!("register-{node}@test"));
            headers.push(Name::CSEQ, format!("{sequence} REGISTER"));
            headers.push(
                Name::CONTACT,
                format!("<sip:{extension}@{}>", ADDRESSES[node]),
            );
            headers.push(Name::EXPIRES, "3600");
            if let Some(value) = credentials.take() {
                headers.push(Name::AUTHORIZATION, value);
            }
            let now = self.net.now;
            self.net.nodes[node]
                .0
                .send_request(now, request, peer(SWITCH));
            self.run_for(Duration::from_millis(50));
            let response = self
                .take(node)
                .into_iter()
                .find_map(|event| match event {
                    Event::Response { response, .. } if response.status >= 200 => Some(response),
                    _ => None,
                })
                .expect("a final response to REGISTER");
            match response.status {
                200 => return,
                401 if sequence == 1 => {
                    let (_, challenge) = response_challenge(&response).expect("a challenge");
                    let uri = format!("sip:{}", ADDRESSES[0]);
                    credentials = Some(
                        challenge
                            .answer("REGISTER", &uri, extension, PASSWORD, 1, "cnonce1")
                            .expect("an answer"),
                    );
                    sequence += 1;
                }
                status => panic!("REGISTER got {status}"),
            }
        }
    }

    /// User agent `node` calls `number` with a G.711 offer (none when
    /// `offer` is false).
    pub fn invite(&mut self, node: usize, number: &str, call_id: &str, offer: bool) -> Outgoing {
        let mut invite = Request::new(
            Method::Invite,
            uri(&format!("sip:{number}@{}", ADDRESSES[0])),
        );
        let headers = &mut invite.headers;
        headers.push(
            Name::FROM,
            format!("<sip:caller{node}@{}>;tag=from{node}", ADDRESSES[node]),
        );
        headers.push(Name::TO, format!("<sip:{number}@{}>", ADDRESSES[0]));
        headers.push(Name::CALL_ID, call_id.to_string());
        headers.push(Name::CSEQ, "1 INVITE");
        headers.push(
            Name::CONTACT,
            format!("<sip:caller{node}@{}>", ADDRESSES[node]),
        );
        if offer {
            headers.push(Name::CONTENT_TYPE, "application/sdp");
            invite.body =
                Bytes::from(sdp::offer(&local_media(node), Direction::SendRecv).to_bytes());
        }
        let now = self.net.now;
        let key = self.net.nodes[node]
            .0
            .send_request(now, invite.clone(), peer(SWITCH));
        self.answers.insert(
            key.clone(),
            Answers {
                node,
                invite: Some(invite.clone()),
                ..Answers::default()
            },
        );
        Outgoing {
            key,
            invite,
            dialog: None,
            status: None,
        }
    }

    /// The responses user agent `node` got to `call`'s INVITE so far,
    /// oldest first; the final one, and the dialog of a 2xx, are kept in
    /// `call`.
    pub fn responses(&mut self, node: usize, call: &mut Outgoing) -> Vec<u16> {
        let answers = self.answers.get_mut(&call.key).expect("an INVITE of ours");
        assert_eq!(answers.node, node, "the INVITE was sent by another agent");
        let statuses = std::mem::take(&mut answers.statuses);
        if let Some(status) = statuses.iter().rev().find(|status| **status >= 200) {
            call.status = Some(*status);
        }
        if call.dialog.is_none() {
            call.dialog = answers.dialog.take();
        }
        statuses
    }

    /// The final status `call` got so far (its dialog kept if a 2xx).
    pub fn final_status(&mut self, node: usize, call: &mut Outgoing) -> Option<u16> {
        self.responses(node, call);
        call.status
    }

    /// The INVITE user agent `node` received, if one came.
    pub fn incoming(&mut self, node: usize) -> Option<Incoming> {
        let mut found = None;
        let mut others = Vec::new();
        for event in self.take(node) {
            match event {
                Event::Request {
                    key,
                    request,
                    source,
                } if request.method == Method::Invite && found.is_none() => {
                    found = Some(Incoming {
                        key,
                        invite: request,
                        source,
                        tag: format!("to{node}"),
                        dialog: None,
                    });
                }
                other => others.push(other),
            }
        }
        self.inboxes[node].extend(others);
        found
    }

    /// User agent `node` answers `call` with `status` (a 2xx with an SDP
    /// answer, which makes the dialog).
    pub fn respond(&mut self, node: usize, call: &mut Incoming, status: u16) {
        let mut response = Response::to_request(&call.invite, status);
        if let Some(to) = response.headers.first(&Name::TO).cloned() {
            response
                .headers
                .set(Name::TO, format!("{to};tag={}", call.tag));
        }
        if (200..300).contains(&status) {
            response
                .headers
                .push(Name::CONTACT, format!("<sip:phone@{}>", ADDRESSES[node]));
            let offer = SessionDescription::parse(&call.invite.body).expect("an SDP offer");
            let answer = sdp::answer(&offer, &local_media(node)).expect("an SDP answer");
            response.headers.push(Name::CONTENT_TYPE, "application/sdp");
            response.body = Bytes::from(answer.session_description.to_bytes());
            call.dialog =
                Some(Dialog::from_uas(&call.invite, &call.tag, call.source).expect("a dialog"));
        }
        let now = self.net.now;
        self.net.nodes[node].0.respond(now, &call.key, response);
    }

    /// User agent `node` answers `call` (180, then 200).
    pub fn answer(&mut self, node: usize, call: &mut Incoming) {
        self.respond(node, call, 180);
        self.respond(node, call, 200);
    }

    /// User agent `node` sends BYE in `dialog`.
    pub fn hang_up(&mut self, node: usize, dialog: &mut Dialog) {
        let bye = dialog.create_request(Method::Bye);
        let now = self.net.now;
        let destination = dialog.destination();
        self.net.nodes[node].0.send_request(now, bye, destination);
    }

    /// User agent `node` sends a re-INVITE in `dialog` whose offer sends
    /// (`holding` false) or only receives (true).
    pub fn reinvite(&mut self, node: usize, dialog: &mut Dialog, holding: bool) -> ClientKey {
        let mut invite = dialog.create_request(Method::Invite);
        let mut local = local_media(node);
        local.next_version();
        let direction = if holding {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        invite.headers.push(Name::CONTENT_TYPE, "application/sdp");
        invite.body = Bytes::from(sdp::offer(&local, direction).to_bytes());
        let now = self.net.now;
        let destination = dialog.destination();
        self.net.nodes[node]
            .0
            .send_request(now, invite, destination)
    }

    /// User agent `node` cancels its INVITE.
    pub fn cancel(&mut self, node: usize, call: &Outgoing) {
        let now = self.net.now;
        self.net.nodes[node].0.cancel(now, &call.key);
    }

    /// Answers every request user agent `node` received (a BYE, a
    /// re-INVITE's ACK needs none) with 200; returns their methods.
    pub fn accept_requests(&mut self, node: usize) -> Vec<Method> {
        let mut methods = Vec::new();
        let mut others = Vec::new();
        for event in self.take(node) {
            match event {
                Event::Request { key, request, .. } if request.method != Method::Invite => {
                    methods.push(request.method.clone());
                    let mut response = Response::to_request(&request, 200);
                    self.net.nodes[node].0.add_to_tag_if_missing(&mut response);
                    let now = self.net.now;
                    self.net.nodes[node].0.respond(now, &key, response);
                }
                Event::Cancelled { .. } => methods.push(Method::Cancel),
                other => others.push(other),
            }
        }
        self.inboxes[node].extend(others);
        methods
    }

    /// The call records so far.
    pub fn cdrs(&self) -> Vec<&Cdr> {
        self.effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Cdr(cdr) => Some(&**cdr),
                _ => None,
            })
            .collect()
    }

    /// The live events so far.
    pub fn events(&self) -> Vec<&CallEvent> {
        self.effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Event(event) => Some(event),
                _ => None,
            })
            .collect()
    }
}

/// User agent `node`'s address.
pub fn address(node: usize) -> SocketAddr {
    ADDRESSES[node].parse().expect("an address")
}

fn peer(node: usize) -> Peer {
    Peer {
        transport: Transport::Udp,
        address: address(node),
    }
}

fn uri(text: &str) -> sip_core::message::SipUri {
    parse_uri(text).expect("a SIP URI")
}

fn local_media(node: usize) -> LocalMedia {
    let port = 30_000 + node as u16 * 2;
    LocalMedia::new(address(node).ip(), port, SessionOrigin::new(node as u64, 1))
}
