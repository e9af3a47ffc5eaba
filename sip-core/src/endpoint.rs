//! The SIP endpoint: the transaction layer and transport rules as one
//! sans-IO object.
//!
//! Feed it datagrams and stream messages with `handle_datagram`, fire its
//! timers with `handle_timeout`, and drain `poll_transmit` and `poll_event`.
//! It answers by itself what needs no transaction user: malformed requests
//! (`400` naming the problem, `505`, `416`), `OPTIONS`, unknown methods
//! (`501`), `Max-Forwards: 0` (`483`), unsupported `Require` (`420`) and
//! `CANCEL` (`200`, or `481` when nothing matches). As UAS core it
//! retransmits each 2xx to an INVITE until the ACK arrives (RFC 3261
//! §13.3.1.4); as UAC core it repeats the ACK for each retransmitted 2xx.

use crate::message::{self, Frame, Limits, Message, Method, Name, ParseError, Request, Response};
use crate::transaction::{
    Action, Actions, ClientInvite, ClientKey, ClientNonInvite, MAGIC_COOKIE, Reliability,
    ServerInvite, ServerKey, ServerNonInvite, TimerConfig,
};
use crate::transport::{self, Peer, Transmit, Transport, UDP_SIZE_LIMIT};
use bytes::Bytes;
use ezk_sip_types::print::AppendCtx;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Endpoint settings.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Transaction timer values.
    pub timers: TimerConfig,
    /// Message size limits.
    pub limits: Limits,
    /// The address put in our Via and Contact headers.
    pub local_address: SocketAddr,
    /// The `User-Agent`/`Server` header value.
    pub user_agent: String,
    /// Seed for branches, tags and Call-IDs (tests fix it; the driver draws it).
    pub seed: u64,
}

impl EndpointConfig {
    /// Defaults for an endpoint reachable at `local_address`.
    pub fn new(local_address: SocketAddr) -> EndpointConfig {
        EndpointConfig {
            timers: TimerConfig::default(),
            limits: Limits::default(),
            local_address,
            user_agent: concat!("Switchboard/", env!("CARGO_PKG_VERSION")).to_string(),
            seed: 0,
        }
    }
}

/// What the endpoint tells its transaction user.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new request that needs an answer through [`Endpoint::respond`].
    Request {
        /// The server transaction to answer on.
        key: ServerKey,
        /// The request, its top Via stamped with `received`/`rport`.
        request: Request,
        /// Where it came from.
        source: Peer,
    },
    /// A CANCEL matched a pending INVITE; the CANCEL got its `200`, the TU
    /// answers the INVITE with `487`.
    Cancelled {
        /// The INVITE's server transaction.
        invite: ServerKey,
    },
    /// An ACK for a 2xx (or one matching no transaction).
    Ack {
        /// The ACK, which may carry the SDP answer of a late offer.
        request: Request,
        /// Where it came from.
        source: Peer,
    },
    /// Our 2xx to an INVITE was never acknowledged (64·T1): the TU ends the
    /// session with a BYE (RFC 3261 §13.3.1.4).
    AckTimedOut {
        /// The dialog's Call-ID.
        call_id: String,
        /// The INVITE's CSeq number.
        sequence: u32,
    },
    /// A response to one of our requests.
    Response {
        /// The client transaction.
        key: ClientKey,
        /// The response.
        response: Response,
    },
    /// One of our requests got no final response (Timer B/F, or a
    /// transport failure): the TU treats it as `408`.
    TimedOut {
        /// The client transaction.
        key: ClientKey,
    },
}

/// Counters for metrics and logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointStats {
    /// Datagrams or stream messages that could not be parsed and were dropped.
    pub dropped_unparseable: u64,
    /// Requests answered with 400/416/505/513 because they were malformed.
    pub rejected_malformed: u64,
    /// Retransmissions absorbed by a transaction.
    pub retransmissions_absorbed: u64,
    /// Responses that matched no client transaction.
    pub stray_responses: u64,
    /// Responses we sent, by class: `[0]` 1xx … `[5]` 6xx.
    pub responses_sent: [u64; 6],
}

enum Entry {
    ClientInvite {
        key: ClientKey,
        destination: Peer,
        /// Boxed: the largest machine, and server transactions, which are
        /// most of the entries under load, should not pay for its size.
        transaction: Box<ClientInvite>,
        ack: Option<Bytes>,
    },
    ClientNonInvite {
        key: ClientKey,
        transaction: ClientNonInvite,
        destination: Peer,
    },
    ServerInvite {
        key: ServerKey,
        transaction: ServerInvite,
        destination: Peer,
        /// The INVITE, kept to answer a CANCEL and to build the 487 until a
        /// final response is sent; dropped then, since the transaction
        /// lives on for up to 64·T1 (Timer L) only to absorb
        /// retransmissions, and at thousands of calls a second the copies
        /// would add up.
        request: Option<Box<Request>>,
    },
    ServerNonInvite {
        key: ServerKey,
        transaction: ServerNonInvite,
        destination: Peer,
    },
    /// UAS core: a 2xx to an INVITE retransmitted until its ACK.
    SuccessRetransmission {
        dialog: (String, u32),
        bytes: Bytes,
        destination: Peer,
        interval: Duration,
        next: Instant,
        give_up: Instant,
    },
}

type Id = u64;

/// The SIP endpoint. See the module documentation.
pub struct Endpoint {
    config: EndpointConfig,
    rng: StdRng,
    next_id: Id,
    entries: HashMap<Id, Entry>,
    servers: HashMap<ServerKey, Id>,
    clients: HashMap<ClientKey, Id>,
    pending_acks: HashMap<(String, u32), Id>,
    timers: BinaryHeap<Reverse<(Instant, Id)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    actions: Actions,
    stats: EndpointStats,
}

impl Endpoint {
    /// An endpoint with no transactions.
    pub fn new(config: EndpointConfig) -> Endpoint {
        Endpoint {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            next_id: 1,
            entries: HashMap::new(),
            servers: HashMap::new(),
            clients: HashMap::new(),
            pending_acks: HashMap::new(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            actions: Actions::default(),
            stats: EndpointStats::default(),
        }
    }

    /// The endpoint's settings.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Counters since start.
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// Number of live transactions and 2xx retransmissions.
    pub fn transaction_count(&self) -> usize {
        self.entries.len()
    }

    /// Number of our requests still waiting for a final response.
    pub fn pending_client_count(&self) -> usize {
        self.clients
            .values()
            .filter(|id| match self.entries.get(id) {
                Some(Entry::ClientInvite { transaction, .. }) => transaction.is_pending(),
                Some(Entry::ClientNonInvite { transaction, .. }) => transaction.is_pending(),
                _ => false,
            })
            .count()
    }

    /// A new random token for tags and Call-IDs.
    pub fn new_token(&mut self) -> String {
        format!("{:016x}", self.rng.random::<u64>())
    }

    fn new_branch(&mut self) -> String {
        format!("{MAGIC_COOKIE}{:016x}", self.rng.random::<u64>())
    }

    /// Handles one datagram, or one message framed off a stream by
    /// [`message::frame`].
    pub fn handle_datagram(&mut self, now: Instant, source: Peer, bytes: Bytes) {
        match message::parse(bytes.clone(), &self.config.limits) {
            Ok(Message::Request(request)) => self.handle_request(now, source, request, &bytes),
            Ok(Message::Response(response)) => self.handle_response(now, response),
            Err(ParseError::Empty) => {}
            Err(error) => self.reject_unparseable(source, &bytes, &error),
        }
    }

    /// Handles bytes read from a stream: frames and handles every complete
    /// message, answers keep-alive pings, and returns how many bytes were
    /// consumed. An unframeable stream returns an error; the driver closes it.
    pub fn handle_stream(
        &mut self,
        now: Instant,
        source: Peer,
        buffer: &[u8],
    ) -> Result<usize, ParseError> {
        let mut consumed = 0;
        loop {
            match message::frame(&buffer[consumed..], &self.config.limits)? {
                Frame::Incomplete => return Ok(consumed),
                Frame::KeepAlive { len, ping } => {
                    if ping {
                        self.transmits.push_back(Transmit {
                            destination: source,
                            bytes: Bytes::from_static(b"\r\n"),
                        });
                    }
                    consumed += len;
                }
                Frame::Message(len) => {
                    let bytes = Bytes::copy_from_slice(&buffer[consumed..consumed + len]);
                    self.handle_datagram(now, source, bytes);
                    consumed += len;
                }
            }
        }
    }

    fn reject_unparseable(&mut self, source: Peer, bytes: &Bytes, error: &ParseError) {
        match message::error_response(bytes, error) {
            Some(response) => {
                self.stats.rejected_malformed += 1;
                tracing::debug!(%error, "rejecting malformed request");
                let destination = response_destination(&response, source);
                self.transmit_response(destination, &response);
            }
            None => {
                self.stats.dropped_unparseable += 1;
                tracing::debug!(%error, "dropping unparseable message");
            }
        }
    }

    fn handle_request(&mut self, now: Instant, source: Peer, mut request: Request, raw: &Bytes) {
        let mut via = match request.check() {
            Ok(via) => via,
            Err(error) => {
                // A Via-less or otherwise unanswerable request is dropped.
                self.reject_unparseable(source, raw, &error);
                return;
            }
        };
        let destination = transport::stamp_via(&mut via, source);
        replace_top_via(&mut request, &via);
        let branch = via
            .params
            .get_val("branch")
            .map(|branch| branch.as_str())
            .unwrap_or_default();
        let branch: Box<str> = if branch.starts_with(MAGIC_COOKIE) {
            branch.into()
        } else {
            rfc2543_key(&request).into()
        };
        let sent_by: Box<str> = via.sent_by.default_print_ctx().to_string().into();
        let method = request.method.clone();
        let lookup_method = match method {
            Method::Ack => Method::Invite,
            ref other => other.clone(),
        };
        let key = ServerKey {
            branch,
            sent_by,
            method: lookup_method,
        };
        if let Some(&id) = self.servers.get(&key) {
            self.handle_known_request(now, id, method, request, source);
            return;
        }
        match method {
            Method::Ack => self.handle_unmatched_ack(request, source),
            Method::Cancel => self.handle_cancel(now, key, request, destination),
            _ => self.handle_new_request(now, key, request, source, destination),
        }
    }

    fn handle_known_request(
        &mut self,
        now: Instant,
        id: Id,
        method: Method,
        request: Request,
        source: Peer,
    ) {
        let mut deliver_ack = false;
        match self.entries.get_mut(&id) {
            Some(Entry::ServerInvite { transaction, .. }) => {
                if method == Method::Ack {
                    transaction.handle_ack(now, &mut self.actions);
                } else {
                    self.stats.retransmissions_absorbed += 1;
                    transaction.handle_retransmission(&mut self.actions);
                }
            }
            Some(Entry::ServerNonInvite { transaction, .. }) => {
                self.stats.retransmissions_absorbed += 1;
                transaction.handle_retransmission(&mut self.actions);
            }
            _ => {}
        }
        for action in self.actions.drain().collect::<Vec<_>>() {
            if matches!(action, Action::DeliverAck) {
                deliver_ack = true;
            } else {
                self.apply(id, action);
            }
        }
        self.schedule(id);
        if deliver_ack {
            // An ACK that reused the INVITE's branch: still the 2xx's ACK.
            self.handle_unmatched_ack(request, source);
        }
    }

    fn handle_unmatched_ack(&mut self, request: Request, source: Peer) {
        if let (Ok(call_id), Ok(cseq)) = (request.headers.call_id(), request.headers.cseq()) {
            let dialog = (call_id.to_string(), cseq.sequence);
            if let Some(id) = self.pending_acks.remove(&dialog) {
                self.entries.remove(&id);
            }
        }
        self.events.push_back(Event::Ack { request, source });
    }

    fn handle_cancel(&mut self, now: Instant, key: ServerKey, request: Request, destination: Peer) {
        let invite_key = ServerKey {
            method: Method::Invite,
            ..key.clone()
        };
        let pending = self
            .servers
            .get(&invite_key)
            .and_then(|id| match self.entries.get(id) {
                Some(Entry::ServerInvite { transaction, .. }) => Some(transaction.is_proceeding()),
                _ => None,
            });
        let id = self.insert_server(key.clone(), &request, destination);
        let status = if pending.is_some() { 200 } else { 481 };
        let mut response = Response::to_request(&request, status);
        self.add_to_tag_if_missing(&mut response);
        self.respond_on(now, id, response);
        if pending == Some(true) {
            self.events
                .push_back(Event::Cancelled { invite: invite_key });
        }
    }

    fn handle_new_request(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        source: Peer,
        destination: Peer,
    ) {
        let id = self.insert_server(key.clone(), &request, destination);
        if let Some(response) = self.automatic_answer(&request) {
            self.respond_on(now, id, response);
            return;
        }
        if request.method == Method::Invite {
            let trying = Response::to_request(&request, 100);
            self.respond_on(now, id, trying);
        }
        self.events.push_back(Event::Request {
            key,
            request,
            source,
        });
    }

    /// Answers that need no transaction user.
    fn automatic_answer(&mut self, request: &Request) -> Option<Response> {
        let mut response = match &request.method {
            Method::Extension(_) | Method::Publish | Method::Subscribe => {
                let mut response = Response::to_request(request, 501);
                response.headers.push(Name::ALLOW, Method::ALLOWED);
                response
            }
            _ if request.headers.max_forwards().ok().flatten() == Some(0)
                && request.method != Method::Options =>
            {
                Response::to_request(request, 483)
            }
            _ if !request.headers.requires(&Name::REQUIRE).is_empty() => {
                let unsupported = request.headers.requires(&Name::REQUIRE).join(", ");
                let mut response = Response::to_request(request, 420);
                response.headers.push(Name::UNSUPPORTED, unsupported);
                response
            }
            Method::Options if request.headers.to_tag().is_none() => {
                let mut response = Response::to_request(request, 200);
                response.headers.push(Name::ALLOW, Method::ALLOWED);
                response.headers.push(Name::ACCEPT, "application/sdp");
                response.headers.push(Name::ACCEPT_ENCODING, "identity");
                response.headers.push(Name::ACCEPT_LANGUAGE, "en");
                response.headers.push(Name::SUPPORTED, "replaces");
                response
            }
            _ => return None,
        };
        self.add_to_tag_if_missing(&mut response);
        Some(response)
    }

    /// Adds a random To tag to a response whose request had none.
    pub fn add_to_tag_if_missing(&mut self, response: &mut Response) {
        if response.status == 100 {
            return;
        }
        let Some(to) = response.headers.first(&Name::TO).cloned() else {
            return;
        };
        if response.headers.to_tag().is_none() {
            let tag = self.new_token();
            response.headers.set(Name::TO, format!("{to};tag={tag}"));
        }
    }

    fn insert_server(&mut self, key: ServerKey, request: &Request, destination: Peer) -> Id {
        let id = self.allocate_id();
        let reliability = reliability(destination.transport);
        let entry = if request.method == Method::Invite {
            Entry::ServerInvite {
                key: key.clone(),
                transaction: ServerInvite::new(reliability, self.config.timers),
                destination,
                request: Some(Box::new(request.clone())),
            }
        } else {
            Entry::ServerNonInvite {
                key: key.clone(),
                transaction: ServerNonInvite::new(reliability, self.config.timers),
                destination,
            }
        };
        self.entries.insert(id, entry);
        self.servers.insert(key, id);
        id
    }

    /// Sends `response` on the server transaction `key`. A 2xx to an INVITE
    /// is then retransmitted until its ACK arrives.
    pub fn respond(&mut self, now: Instant, key: &ServerKey, response: Response) {
        if let Some(&id) = self.servers.get(key) {
            self.respond_on(now, id, response);
        }
    }

    /// The INVITE of a pending server transaction (to build a 487 after a
    /// CANCEL, for example).
    pub fn server_request(&self, key: &ServerKey) -> Option<&Request> {
        match self.servers.get(key).and_then(|id| self.entries.get(id)) {
            Some(Entry::ServerInvite { request, .. }) => request.as_deref(),
            _ => None,
        }
    }

    fn respond_on(&mut self, now: Instant, id: Id, mut response: Response) {
        response
            .headers
            .set(Name::SERVER, self.config.user_agent.clone());
        let status = response.status;
        let class = usize::from(status / 100);
        if (1..=6).contains(&class) {
            self.stats.responses_sent[class - 1] += 1;
        }
        let bytes = response.to_bytes();
        let mut success = None;
        match self.entries.get_mut(&id) {
            Some(Entry::ServerInvite {
                transaction,
                destination,
                request,
                ..
            }) => {
                transaction.send_response(now, status, bytes.clone(), &mut self.actions);
                if status >= 200 {
                    *request = None;
                }
                if (200..300).contains(&status) {
                    success = Some(*destination);
                }
            }
            Some(Entry::ServerNonInvite { transaction, .. }) => {
                transaction.send_response(now, status, bytes.clone(), &mut self.actions);
            }
            _ => return,
        }
        self.drain_actions(id);
        if let Some(destination) = success {
            self.start_success_retransmission(now, &response, bytes, destination);
        }
    }

    fn start_success_retransmission(
        &mut self,
        now: Instant,
        response: &Response,
        bytes: Bytes,
        destination: Peer,
    ) {
        let (Ok(call_id), Ok(cseq)) = (response.headers.call_id(), response.headers.cseq()) else {
            return;
        };
        let dialog = (call_id.to_string(), cseq.sequence);
        if let Some(old) = self.pending_acks.get(&dialog) {
            // A retransmission of the same 2xx by the TU: keep the schedule.
            if let Some(Entry::SuccessRetransmission {
                bytes: old_bytes, ..
            }) = self.entries.get_mut(old)
            {
                *old_bytes = bytes;
            }
            return;
        }
        let id = self.allocate_id();
        let interval = self.config.timers.t1;
        let next = if destination.transport.is_reliable() {
            now + self.config.timers.timeout()
        } else {
            now + interval
        };
        self.entries.insert(
            id,
            Entry::SuccessRetransmission {
                dialog: dialog.clone(),
                bytes,
                destination,
                interval,
                next,
                give_up: now + self.config.timers.timeout(),
            },
        );
        self.pending_acks.insert(dialog, id);
        self.schedule(id);
    }

    /// Sends a request in a new client transaction. The endpoint adds the
    /// top Via (with a new branch and `rport`) and Max-Forwards if absent.
    /// A request too large for UDP goes over TCP (RFC 3261 §18.1.1).
    pub fn send_request(&mut self, now: Instant, request: Request, destination: Peer) -> ClientKey {
        let branch = self.new_branch();
        self.send_request_with_branch(now, request, destination, branch)
    }

    fn send_request_with_branch(
        &mut self,
        now: Instant,
        mut request: Request,
        mut destination: Peer,
        branch: String,
    ) -> ClientKey {
        if !request.headers.contains(&Name::MAX_FORWARDS) {
            request.headers.push(Name::MAX_FORWARDS, "70");
        }
        if !request.headers.contains(&Name::USER_AGENT) {
            request
                .headers
                .push(Name::USER_AGENT, self.config.user_agent.clone());
        }
        let mut bytes = self.stamp_our_via(&mut request, destination.transport, &branch);
        if destination.transport == Transport::Udp && bytes.len() > UDP_SIZE_LIMIT {
            destination.transport = Transport::Tcp;
            request.headers.remove(&Name::VIA);
            bytes = self.stamp_our_via(&mut request, Transport::Tcp, &branch);
        }
        let key = ClientKey {
            branch: branch.into(),
            method: request.method.clone(),
        };
        let id = self.allocate_id();
        let reliability = reliability(destination.transport);
        let entry = if request.method == Method::Invite {
            Entry::ClientInvite {
                key: key.clone(),
                destination,
                transaction: Box::new(ClientInvite::start(
                    now,
                    request,
                    bytes,
                    reliability,
                    self.config.timers,
                    &mut self.actions,
                )),
                ack: None,
            }
        } else {
            Entry::ClientNonInvite {
                key: key.clone(),
                destination,
                transaction: ClientNonInvite::start(
                    now,
                    bytes,
                    reliability,
                    self.config.timers,
                    &mut self.actions,
                ),
            }
        };
        self.entries.insert(id, entry);
        self.clients.insert(key.clone(), id);
        self.drain_actions(id);
        key
    }

    fn stamp_our_via(&self, request: &mut Request, transport: Transport, branch: &str) -> Bytes {
        let via = transport::our_via(transport, self.config.local_address, branch);
        request
            .headers
            .push_front(Name::VIA, via.default_print_ctx().to_string());
        request.to_bytes()
    }

    /// Cancels a pending INVITE we sent (RFC 3261 §9.1): a CANCEL with the
    /// INVITE's branch, Request-URI, Call-ID, From, To, Route and CSeq number.
    /// Returns `None` when the INVITE already has a final response.
    pub fn cancel(&mut self, now: Instant, invite: &ClientKey) -> Option<ClientKey> {
        let id = *self.clients.get(invite)?;
        let Some(Entry::ClientInvite {
            transaction,
            destination,
            ..
        }) = self.entries.get(&id)
        else {
            return None;
        };
        if !transaction.is_pending() {
            return None;
        }
        let original = transaction.invite();
        let mut cancel = Request::new(Method::Cancel, original.uri.clone());
        for name in [Name::FROM, Name::TO, Name::CALL_ID, Name::ROUTE] {
            cancel.headers.copy_from(&original.headers, &name);
        }
        let sequence = original.headers.cseq().map(|c| c.sequence).unwrap_or(1);
        cancel
            .headers
            .push(Name::CSEQ, format!("{sequence} CANCEL"));
        let destination = *destination;
        Some(self.send_request_with_branch(now, cancel, destination, invite.branch.to_string()))
    }

    /// Sends the ACK for a 2xx to our INVITE `invite` (built by the dialog)
    /// outside any transaction, and repeats it for each retransmitted 2xx.
    pub fn send_ack(&mut self, invite: &ClientKey, mut ack: Request, destination: Peer) {
        let branch = self.new_branch();
        if !ack.headers.contains(&Name::MAX_FORWARDS) {
            ack.headers.push(Name::MAX_FORWARDS, "70");
        }
        let bytes = self.stamp_our_via(&mut ack, destination.transport, &branch);
        self.transmits.push_back(Transmit {
            destination,
            bytes: bytes.clone(),
        });
        if let Some(Entry::ClientInvite { ack, .. }) = self
            .clients
            .get(invite)
            .and_then(|id| self.entries.get_mut(id))
        {
            *ack = Some(bytes);
        }
    }

    fn handle_response(&mut self, now: Instant, response: Response) {
        let Ok((via, cseq)) = response.check() else {
            self.stats.dropped_unparseable += 1;
            return;
        };
        let branch = via
            .params
            .get_val("branch")
            .map(|b| b.as_str())
            .unwrap_or_default();
        let key = ClientKey {
            branch: branch.into(),
            method: cseq.method,
        };
        let Some(&id) = self.clients.get(&key) else {
            self.stats.stray_responses += 1;
            return;
        };
        match self.entries.get_mut(&id) {
            Some(Entry::ClientInvite {
                ack: Some(ack),
                destination,
                ..
            }) if (200..300).contains(&response.status) => {
                // A retransmitted 2xx: repeat our ACK, the TU has seen it.
                self.transmits.push_back(Transmit {
                    destination: *destination,
                    bytes: ack.clone(),
                });
                return;
            }
            Some(Entry::ClientInvite { transaction, .. }) => {
                transaction.handle_response(now, response, &mut self.actions)
            }
            Some(Entry::ClientNonInvite { transaction, .. }) => {
                transaction.handle_response(now, response, &mut self.actions)
            }
            _ => return,
        }
        self.drain_actions(id);
    }

    /// Reports that `destination` could not be reached (a refused TCP
    /// connection, an ICMP error): its client transactions time out.
    pub fn handle_transport_error(&mut self, destination: Peer) {
        let failed: Vec<Id> = self
            .entries
            .iter()
            .filter_map(|(id, entry)| match entry {
                Entry::ClientInvite { destination: d, .. }
                | Entry::ClientNonInvite { destination: d, .. }
                    if *d == destination =>
                {
                    Some(*id)
                }
                _ => None,
            })
            .collect();
        for id in failed {
            match self.entries.get_mut(&id) {
                Some(Entry::ClientInvite { transaction, .. }) => {
                    transaction.handle_transport_error(&mut self.actions)
                }
                Some(Entry::ClientNonInvite { transaction, .. }) => {
                    transaction.handle_transport_error(&mut self.actions)
                }
                _ => {}
            }
            self.drain_actions(id);
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((deadline, id))) = self.timers.peek().copied() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            self.fire(now, id);
        }
    }

    fn fire(&mut self, now: Instant, id: Id) {
        let mut gone = None;
        match self.entries.get_mut(&id) {
            Some(Entry::ClientInvite { transaction, .. }) => {
                transaction.handle_timeout(now, &mut self.actions)
            }
            Some(Entry::ClientNonInvite { transaction, .. }) => {
                transaction.handle_timeout(now, &mut self.actions)
            }
            Some(Entry::ServerInvite { transaction, .. }) => {
                transaction.handle_timeout(now, &mut self.actions)
            }
            Some(Entry::ServerNonInvite { transaction, .. }) => {
                transaction.handle_timeout(now, &mut self.actions)
            }
            Some(Entry::SuccessRetransmission {
                dialog,
                bytes,
                destination,
                interval,
                next,
                give_up,
            }) => {
                if now >= *give_up {
                    gone = Some(dialog.clone());
                } else if now >= *next {
                    if !destination.transport.is_reliable() {
                        self.transmits.push_back(Transmit {
                            destination: *destination,
                            bytes: bytes.clone(),
                        });
                    }
                    *interval = (*interval * 2).min(self.config.timers.t2);
                    *next = (now + *interval).min(*give_up);
                }
            }
            None => return,
        }
        if let Some((call_id, sequence)) = gone {
            self.entries.remove(&id);
            self.pending_acks.remove(&(call_id.clone(), sequence));
            self.events
                .push_back(Event::AckTimedOut { call_id, sequence });
            return;
        }
        self.drain_actions(id);
    }

    fn drain_actions(&mut self, id: Id) {
        let actions: Vec<Action> = self.actions.drain().collect();
        for action in actions {
            self.apply(id, action);
        }
        self.schedule(id);
    }

    fn apply(&mut self, id: Id, action: Action) {
        let Some(entry) = self.entries.get(&id) else {
            return;
        };
        match action {
            Action::Transmit(bytes) => {
                let destination = match entry {
                    Entry::ClientInvite { destination, .. }
                    | Entry::ClientNonInvite { destination, .. }
                    | Entry::ServerInvite { destination, .. }
                    | Entry::ServerNonInvite { destination, .. }
                    | Entry::SuccessRetransmission { destination, .. } => *destination,
                };
                self.transmits.push_back(Transmit { destination, bytes });
            }
            Action::Deliver(response) => {
                if let Entry::ClientInvite { key, .. } | Entry::ClientNonInvite { key, .. } = entry
                {
                    self.events.push_back(Event::Response {
                        key: key.clone(),
                        response,
                    });
                }
            }
            Action::TimedOut => {
                if let Entry::ClientInvite { key, .. } | Entry::ClientNonInvite { key, .. } = entry
                {
                    self.events.push_back(Event::TimedOut { key: key.clone() });
                }
            }
            Action::AckNotReceived | Action::DeliverAck => {}
            Action::Terminated => match self.entries.remove(&id) {
                Some(Entry::ClientInvite { key, .. } | Entry::ClientNonInvite { key, .. }) => {
                    self.clients.remove(&key);
                }
                Some(Entry::ServerInvite { key, .. } | Entry::ServerNonInvite { key, .. }) => {
                    self.servers.remove(&key);
                }
                _ => {}
            },
        }
    }

    fn schedule(&mut self, id: Id) {
        let deadline = match self.entries.get(&id) {
            Some(Entry::ClientInvite { transaction, .. }) => transaction.poll_timeout(),
            Some(Entry::ClientNonInvite { transaction, .. }) => transaction.poll_timeout(),
            Some(Entry::ServerInvite { transaction, .. }) => transaction.poll_timeout(),
            Some(Entry::ServerNonInvite { transaction, .. }) => transaction.poll_timeout(),
            Some(Entry::SuccessRetransmission { next, give_up, .. }) => Some((*next).min(*give_up)),
            None => None,
        };
        if let Some(deadline) = deadline {
            self.timers.push(Reverse((deadline, id)));
        }
    }

    fn allocate_id(&mut self) -> Id {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn transmit_response(&mut self, destination: Peer, response: &Response) {
        self.transmits.push_back(Transmit {
            destination,
            bytes: response.to_bytes(),
        });
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the transaction user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((deadline, _))| *deadline)
    }
}

fn reliability(transport: Transport) -> Reliability {
    if transport.is_reliable() {
        Reliability::Reliable
    } else {
        Reliability::Unreliable
    }
}

/// Where an error response goes when no transaction exists: by its Via's
/// `rport`/`received`, else back to the source.
fn response_destination(response: &Response, source: Peer) -> Peer {
    if source.transport.is_reliable() {
        return source;
    }
    match response.headers.top_via() {
        Ok(mut via) => transport::stamp_via(&mut via, source),
        Err(_) => source,
    }
}

/// Replaces the first Via value by `via`, splitting a comma-joined first
/// header so the rest keeps its place.
fn replace_top_via(request: &mut Request, via: &crate::message::Via) {
    let printed = via.default_print_ctx().to_string();
    let mut rest = None;
    if let Some(first) = request.headers.first(&Name::VIA) {
        let text = first.as_str();
        if let Some(comma) = find_top_level_comma(text) {
            rest = Some(text[comma + 1..].trim().to_string());
        }
    }
    let mut vias: Vec<String> = vec![printed];
    vias.extend(rest);
    vias.extend(
        request
            .headers
            .all(&Name::VIA)
            .skip(1)
            .map(|value| value.to_string()),
    );
    request.headers.remove(&Name::VIA);
    for value in vias.into_iter().rev() {
        request.headers.push_front(Name::VIA, value);
    }
}

fn find_top_level_comma(text: &str) -> Option<usize> {
    let mut quoted = false;
    for (index, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return Some(index),
            _ => {}
        }
    }
    None
}

/// A transaction key for RFC 2543 peers whose branch lacks the magic
/// cookie (RFC 3261 §17.2.3): Request-URI, From tag, Call-ID and CSeq
/// number identify the transaction.
fn rfc2543_key(request: &Request) -> String {
    let from_tag = request.headers.from_tag().unwrap_or_default();
    let call_id = request
        .headers
        .call_id()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let sequence = request.headers.cseq().map(|c| c.sequence).unwrap_or(0);
    format!("2543;{from_tag};{call_id};{sequence}")
}

#[cfg(test)]
mod tests;
