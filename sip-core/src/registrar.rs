//! The registrar (RFC 3261 §10.3): binds an address of record to the
//! contacts where its user can be reached, after digest authentication.
//!
//! ```text
//!  REGISTER ──► headers ──► locked? ──► credentials ──► AOR = user? ──► contacts ──► 200 OK
//!               │ 400        │ 403       │ 401 / 403      │ 403          │ 400 / 423 / 500 / 403
//!               (To, From,   (Locked)    (challenge,      (§10.3 step 4) (§10.3 steps 6–7,
//!                Call-ID,                 stale, lockout)                  all or nothing)
//!                CSeq)
//! ```
//!
//! A binding is keyed by its `+sip.instance` (RFC 5626) when both sides
//! carry one, else by its URI. The registrar is sans-IO and has one owner:
//! the call router asks it with [`Registrar::lookup`], the driver calls
//! [`Registrar::handle_timeout`] at [`Registrar::poll_timeout`] and drains
//! [`Registrar::poll_event`].

use crate::auth::{
    AuthError, DigestCredentials, DigestServer, DigestServerConfig, Ha1s, Lockout, RejectReason,
    Verdict,
};
use crate::message::{
    Contact, Contacts, Host, Method, Name, Request, Response, SipUri, SipUriUserPart, uri_user,
};
use ezk_sip_types::print::AppendCtx;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Settings of a [`Registrar`].
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Digest settings: realm, nonce lifetime, algorithms.
    pub digest: DigestServerConfig,
    /// Shortest registration accepted, in seconds; shorter ones get `423`
    /// (default 60).
    pub min_expires: u32,
    /// Longest registration granted; longer ones are shortened (default
    /// 3600).
    pub max_expires: u32,
    /// Registration length when the request names none (default 3600).
    pub default_expires: u32,
    /// Most bindings per user (default 10).
    pub max_contacts_per_user: usize,
    /// Consecutive failed authentications that lock a user (default 5; 0
    /// never locks).
    pub lockout_threshold: u32,
    /// How long a lock lasts (default 300 s).
    pub lockout_duration: Duration,
    /// Most users whose failures are remembered (default 100,000).
    pub max_tracked_failures: usize,
}

impl RegistrarConfig {
    /// The defaults for `realm`.
    pub fn new(realm: impl Into<String>) -> RegistrarConfig {
        RegistrarConfig {
            digest: DigestServerConfig::new(realm),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts_per_user: 10,
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(300),
            max_tracked_failures: 100_000,
        }
    }
}

/// A contact's preference, `q` (RFC 3261 §20.10), in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QValue(u16);

impl QValue {
    /// `q=1`, the highest, and the rank of a contact without `q`.
    pub const ONE: QValue = QValue(1000);

    /// Parses `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
    pub fn parse(text: &str) -> Option<QValue> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match whole {
            "1" if fraction.bytes().all(|b| b == b'0') => Some(QValue::ONE),
            "0" => {
                let mut thousandths = 0u16;
                for position in 0..3 {
                    let digit = fraction.as_bytes().get(position).map_or(0, |b| b - b'0');
                    thousandths = thousandths * 10 + u16::from(digit);
                }
                Some(QValue(thousandths))
            }
            _ => None,
        }
    }

    /// The value in thousandths, 0–1000.
    pub fn thousandths(self) -> u16 {
        self.0
    }
}

impl fmt::Display for QValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1000 {
            return f.write_str("1");
        }
        if self.0 == 0 {
            return f.write_str("0");
        }
        let digits = format!("{:03}", self.0);
        write!(f, "0.{}", digits.trim_end_matches('0'))
    }
}

/// One contact bound to a user.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The contact URI.
    pub contact: SipUri,
    /// The contact URI as printed.
    pub contact_text: String,
    /// Where the REGISTER came from: requests for this contact go there
    /// (the contact's own address is often behind NAT).
    pub received: SocketAddr,
    /// The transport the REGISTER came over (`UDP`, `TCP`, …).
    pub transport: String,
    /// When the binding lapses.
    pub expires_at: Instant,
    /// When the binding was last added or refreshed.
    pub updated_at: Instant,
    /// Call-ID of the REGISTER that last set it (§10.3 step 7).
    pub call_id: String,
    /// CSeq of the REGISTER that last set it.
    pub cseq: u32,
    /// Preference among the user's contacts, if given.
    pub q: Option<QValue>,
    /// `+sip.instance` (RFC 5626), if given, without its quotes.
    pub instance_id: Option<String>,
    id: u64,
}

impl Binding {
    /// The rank used to order contacts: `q` (1 when absent).
    pub fn rank(&self) -> QValue {
        self.q.unwrap_or(QValue::ONE)
    }

    fn matches(&self, uri: &SipUri, instance_id: Option<&str>) -> bool {
        match (self.instance_id.as_deref(), instance_id) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => uri_equivalent(&self.contact, uri),
        }
    }

    /// The Contact header value listing this binding in a 200 OK.
    fn contact_header(&self, now: Instant) -> String {
        let remaining = self.expires_at.saturating_duration_since(now).as_secs();
        let mut value = format!("<{}>;expires={remaining}", self.contact_text);
        if let Some(q) = self.q {
            value.push_str(&format!(";q={q}"));
        }
        if let Some(instance) = &self.instance_id {
            value.push_str(&format!(";+sip.instance=\"{instance}\""));
        }
        value
    }
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// Its time ran out.
    Expired,
    /// The user removed it (`expires=0`, `Contact: *`).
    Unregistered,
    /// A REGISTER from the same `+sip.instance` moved it to a new URI.
    Replaced,
}

/// Something that happened in the registrar, drained with
/// [`Registrar::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// A new contact was bound (refreshes are not reported).
    RegistrationAdded {
        /// The user (AOR user part).
        user: String,
        /// The contact URI as printed.
        contact: String,
    },
    /// A contact was unbound.
    RegistrationRemoved {
        /// The user.
        user: String,
        /// The contact URI as printed.
        contact: String,
        /// Why.
        reason: RemovalReason,
    },
    /// Too many consecutive failed authentications locked the user.
    UserLocked {
        /// The user.
        user: String,
        /// When the lock ends.
        until: Instant,
    },
}

/// What the registrar did with a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Answered with a challenge (401).
    Challenged,
    /// Bindings updated or queried (200).
    Accepted {
        /// The authenticated user.
        user: String,
    },
    /// Refused (400, 403, 404, 405, 423, 500).
    Refused,
}

/// The answer to one REGISTER.
#[derive(Debug, Clone)]
pub struct RegisterOutcome {
    /// The response to send, with a To tag.
    pub response: Response,
    /// What happened.
    pub disposition: Disposition,
}

impl RegisterOutcome {
    fn refused(response: Response) -> RegisterOutcome {
        RegisterOutcome {
            response,
            disposition: Disposition::Refused,
        }
    }
}

/// A contact update that cannot be applied; nothing is changed.
enum Refusal {
    BadRequest(&'static str),
    IntervalTooBrief,
    OutOfOrder,
    TooManyContacts,
}

/// The parts of a REGISTER that go into its bindings.
struct Update<'a> {
    user: &'a str,
    call_id: &'a str,
    cseq: u32,
    expires: Option<u32>,
    source: SocketAddr,
    transport: &'a str,
}

/// The registrar: authenticates REGISTERs and keeps the bindings.
pub struct Registrar {
    config: RegistrarConfig,
    digest: DigestServer,
    lockout: Lockout,
    users: HashMap<String, Vec<Binding>>,
    /// Every binding by expiry, to find the next one due.
    expiries: BTreeMap<(Instant, u64), String>,
    events: VecDeque<RegistrarEvent>,
    next_binding_id: u64,
    rng: StdRng,
}

impl fmt::Debug for Registrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrar")
            .field("config", &self.config)
            .field("users", &self.users.len())
            .field("bindings", &self.expiries.len())
            .finish_non_exhaustive()
    }
}

impl Registrar {
    /// A registrar with random nonce secrets and tags.
    pub fn new(config: RegistrarConfig) -> Registrar {
        let digest = DigestServer::new(config.digest.clone());
        Registrar::with_parts(config, digest, StdRng::from_os_rng())
    }

    /// A deterministic registrar for tests and simulations.
    pub fn with_seed(config: RegistrarConfig, seed: u64) -> Registrar {
        let digest = DigestServer::with_seed(config.digest.clone(), seed);
        Registrar::with_parts(config, digest, StdRng::seed_from_u64(seed.rotate_left(17)))
    }

    fn with_parts(config: RegistrarConfig, digest: DigestServer, rng: StdRng) -> Registrar {
        let lockout = Lockout::new(
            config.lockout_threshold,
            config.lockout_duration,
            config.max_tracked_failures,
        );
        Registrar {
            config,
            digest,
            lockout,
            users: HashMap::new(),
            expiries: BTreeMap::new(),
            events: VecDeque::new(),
            next_binding_id: 0,
            rng,
        }
    }

    /// The settings.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Handles a REGISTER that arrived from `source` over `transport`, and
    /// returns the response to send. `lookup` gives a user's HA1s in this
    /// realm. Unknown users are challenged like known ones, so that the
    /// answers do not reveal which users exist.
    pub fn handle_register(
        &mut self,
        now: Instant,
        request: &Request,
        source: SocketAddr,
        transport: &str,
        lookup: impl FnOnce(&str) -> Option<Ha1s>,
    ) -> RegisterOutcome {
        if request.method != Method::Register {
            let mut response = Response::to_request(request, 405);
            response.headers.push(Name::ALLOW, "REGISTER");
            return RegisterOutcome::refused(response);
        }
        let bad_request = |reason: String| {
            RegisterOutcome::refused(Response::to_request(request, 400).with_reason(reason))
        };
        let to = match request.headers.to() {
            Ok(to) => to,
            Err(error) => return bad_request(error.to_string()),
        };
        if let Err(error) = request.headers.from() {
            return bad_request(error.to_string());
        }
        let call_id = match request.headers.call_id() {
            Ok(call_id) => call_id,
            Err(error) => return bad_request(error.to_string()),
        };
        let cseq = match request.headers.cseq() {
            Ok(cseq) if cseq.method == Method::Register => cseq,
            Ok(_) => return bad_request("CSeq Method Does Not Match Request Method".into()),
            Err(error) => return bad_request(error.to_string()),
        };
        let to_tag = to.tag.is_none().then(|| self.new_tag());
        let tag = to_tag.as_deref();
        let respond = |status: u16| reply(request, status, tag);

        // §10.3 step 5 comes early: there is no AOR without a user part.
        let Some(user) = uri_user(&to.uri.uri) else {
            return RegisterOutcome::refused(
                respond(404).with_reason("No User In Address Of Record"),
            );
        };

        if self.lockout.locked_until(now, user).is_some() {
            tracing::debug!(user, %source, "REGISTER refused: user locked out");
            return RegisterOutcome::refused(respond(403).with_reason("Locked"));
        }

        // §10.3 step 3: credentials for our realm; others are not ours.
        let mut credentials = None;
        let mut parse_error = None;
        for value in request.headers.all(&Name::AUTHORIZATION) {
            match DigestCredentials::parse(value) {
                Ok(parsed) if parsed.realm == self.digest.realm() => {
                    credentials = Some(parsed);
                    break;
                }
                Ok(_) | Err(AuthError::NotDigest) => {}
                Err(error) => parse_error = Some(error),
            }
        }
        let Some(credentials) = credentials else {
            if let Some(error) = parse_error {
                return RegisterOutcome::refused(respond(400).with_reason(error.to_string()));
            }
            return self.challenge(now, request, tag, false);
        };
        // §10.3 step 4, checked before the password so that it cannot be
        // used to test one user's password under another's AOR.
        if credentials.username != user {
            tracing::debug!(user, %source, "REGISTER refused: username is not the AOR user");
            return RegisterOutcome::refused(
                respond(403).with_reason("Username Does Not Match Address Of Record"),
            );
        }
        match self.digest.verify_credentials(
            now,
            Method::Register.as_str(),
            &request.uri,
            &credentials,
            lookup,
        ) {
            Verdict::Ok { .. } => self.lockout.record_success(user),
            Verdict::Stale => return self.challenge(now, request, tag, true),
            Verdict::Rejected(reason) if reason.is_wrong_credentials() => {
                tracing::debug!(user, %source, %reason, "REGISTER authentication failed");
                if let Some(until) = self.lockout.record_failure(now, user) {
                    tracing::warn!(
                        user,
                        failures = self.config.lockout_threshold,
                        lock_seconds = self.config.lockout_duration.as_secs(),
                        "user locked out after repeated failed authentications"
                    );
                    self.events.push_back(RegistrarEvent::UserLocked {
                        user: user.to_owned(),
                        until,
                    });
                }
                return RegisterOutcome::refused(respond(403));
            }
            Verdict::Rejected(reason) if reason.wants_new_challenge() => {
                tracing::debug!(user, %source, %reason, "REGISTER challenged again");
                return self.challenge(now, request, tag, false);
            }
            Verdict::Rejected(RejectReason::MissingField(field)) => {
                return RegisterOutcome::refused(
                    respond(400).with_reason(AuthError::MissingField(field).to_string()),
                );
            }
            Verdict::Malformed => {
                return RegisterOutcome::refused(
                    respond(400).with_reason(AuthError::Malformed.to_string()),
                );
            }
            Verdict::Rejected(reason) => {
                tracing::debug!(user, %source, %reason, "REGISTER credentials refused");
                return RegisterOutcome::refused(respond(403));
            }
        }

        let contacts = match request.headers.contacts() {
            Ok(contacts) => contacts,
            Err(error) => {
                return RegisterOutcome::refused(respond(400).with_reason(error.to_string()));
            }
        };
        let expires = match request.headers.expires() {
            Ok(expires) => expires,
            Err(error) => {
                return RegisterOutcome::refused(respond(400).with_reason(error.to_string()));
            }
        };
        self.expire_user(now, user);
        let update = Update {
            user,
            call_id: call_id.as_str(),
            cseq: cseq.sequence,
            expires,
            source,
            transport,
        };
        let applied = match &contacts {
            Contacts::Wildcard => {
                if request.headers.all(&Name::CONTACT).count() != 1 {
                    Err(Refusal::BadRequest("Wildcard Contact Must Be Alone"))
                } else {
                    self.unbind_all(&update)
                }
            }
            Contacts::List(list) => self.bind(now, &update, list),
        };
        if let Err(refusal) = applied {
            let response = match refusal {
                Refusal::BadRequest(reason) => respond(400).with_reason(reason),
                Refusal::IntervalTooBrief => {
                    let mut response = respond(423);
                    response
                        .headers
                        .push(Name::MIN_EXPIRES, self.config.min_expires.to_string());
                    response
                }
                Refusal::OutOfOrder => respond(500).with_reason("Out Of Order CSeq"),
                Refusal::TooManyContacts => respond(403).with_reason("Too Many Contacts"),
            };
            return RegisterOutcome::refused(response);
        }

        let mut response = respond(200);
        for binding in self.users.get(user).into_iter().flatten() {
            response
                .headers
                .push(Name::CONTACT, binding.contact_header(now));
        }
        tracing::debug!(user, %source, "REGISTER accepted");
        RegisterOutcome {
            response,
            disposition: Disposition::Accepted {
                user: user.to_owned(),
            },
        }
    }

    /// The user's unexpired bindings, highest `q` first, then the most
    /// recently refreshed: where to send a request for `user`.
    pub fn lookup(&self, now: Instant, user: &str) -> Vec<Binding> {
        let mut bindings: Vec<Binding> = self
            .users
            .get(user)
            .into_iter()
            .flatten()
            .filter(|binding| binding.expires_at > now)
            .cloned()
            .collect();
        bindings.sort_by(|a, b| {
            b.rank()
                .cmp(&a.rank())
                .then(b.updated_at.cmp(&a.updated_at))
        });
        bindings
    }

    /// Removes the bindings that lapsed by `now`, each reported as
    /// [`RegistrarEvent::RegistrationRemoved`] with
    /// [`RemovalReason::Expired`].
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.expiries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), user) = entry.remove_entry();
            let Some(bindings) = self.users.get_mut(&user) else {
                continue;
            };
            if let Some(index) = bindings.iter().position(|binding| binding.id == id) {
                let binding = bindings.remove(index);
                if bindings.is_empty() {
                    self.users.remove(&user);
                }
                self.events.push_back(RegistrarEvent::RegistrationRemoved {
                    user,
                    contact: binding.contact_text,
                    reason: RemovalReason::Expired,
                });
            }
        }
    }

    /// When the next binding lapses.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiries.keys().next().map(|(at, _)| *at)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    /// How many bindings are held, expired or not yet removed included.
    pub fn bindings_count(&self) -> usize {
        self.expiries.len()
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.next_u64())
    }

    fn next_id(&mut self) -> u64 {
        self.next_binding_id += 1;
        self.next_binding_id
    }

    fn challenge(
        &mut self,
        now: Instant,
        request: &Request,
        tag: Option<&str>,
        stale: bool,
    ) -> RegisterOutcome {
        let mut response = reply(request, 401, tag);
        for value in self.digest.challenge(now, stale) {
            response.headers.push(Name::WWW_AUTHENTICATE, value);
        }
        RegisterOutcome {
            response,
            disposition: Disposition::Challenged,
        }
    }

    /// Drops `user`'s lapsed bindings before they are counted or listed.
    fn expire_user(&mut self, now: Instant, user: &str) {
        let Some(bindings) = self.users.get_mut(user) else {
            return;
        };
        let expiries = &mut self.expiries;
        let events = &mut self.events;
        bindings.retain(|binding| {
            if binding.expires_at > now {
                return true;
            }
            expiries.remove(&(binding.expires_at, binding.id));
            events.push_back(RegistrarEvent::RegistrationRemoved {
                user: user.to_owned(),
                contact: binding.contact_text.clone(),
                reason: RemovalReason::Expired,
            });
            false
        });
        if bindings.is_empty() {
            self.users.remove(user);
        }
    }

    /// `Contact: *` with `Expires: 0` (RFC 3261 §10.2.2, §10.3 step 6).
    fn unbind_all(&mut self, update: &Update<'_>) -> Result<(), Refusal> {
        if update.expires != Some(0) {
            return Err(Refusal::BadRequest("Wildcard Contact Requires Expires: 0"));
        }
        let existing = self.users.get(update.user).map_or(&[][..], Vec::as_slice);
        if existing
            .iter()
            .any(|binding| is_out_of_order(binding, update))
        {
            return Err(Refusal::OutOfOrder);
        }
        let events: Vec<RegistrarEvent> = existing
            .iter()
            .map(|binding| RegistrarEvent::RegistrationRemoved {
                user: update.user.to_owned(),
                contact: binding.contact_text.clone(),
                reason: RemovalReason::Unregistered,
            })
            .collect();
        self.commit(update.user, Vec::new());
        self.events.extend(events);
        Ok(())
    }

    /// Adds, refreshes and removes the listed contacts (§10.3 steps 6–7):
    /// all of them or, on any refusal, none.
    fn bind(
        &mut self,
        now: Instant,
        update: &Update<'_>,
        contacts: &[Contact],
    ) -> Result<(), Refusal> {
        if contacts.is_empty() {
            return Ok(());
        }
        let existing = self.users.get(update.user).map_or(&[][..], Vec::as_slice);
        let mut bindings = existing.to_vec();
        let mut events = Vec::new();
        let mut new_ids = 0u64;
        for contact in contacts {
            let expires = match contact.params.get("expires") {
                Some(param) => param
                    .value
                    .as_deref()
                    .and_then(parse_delta_seconds)
                    .ok_or(Refusal::BadRequest("Malformed Contact expires"))?,
                None => update.expires.unwrap_or(self.config.default_expires),
            };
            if expires != 0 && expires < self.config.min_expires {
                return Err(Refusal::IntervalTooBrief);
            }
            let expires = expires.min(self.config.max_expires);
            let q = match contact.params.get("q") {
                Some(param) => Some(
                    param
                        .value
                        .as_deref()
                        .and_then(QValue::parse)
                        .ok_or(Refusal::BadRequest("Malformed Contact q"))?,
                ),
                None => None,
            };
            let instance_id = contact
                .params
                .get_val("+sip.instance")
                .map(|value| value.as_str().trim_matches('"').to_owned());
            let uri = &contact.uri.uri;
            // Step 7 against the bindings as they were before this request.
            if existing.iter().any(|binding| {
                binding.matches(uri, instance_id.as_deref()) && is_out_of_order(binding, update)
            }) {
                return Err(Refusal::OutOfOrder);
            }
            let expires_at = now + Duration::from_secs(u64::from(expires));
            let position = bindings
                .iter()
                .position(|binding| binding.matches(uri, instance_id.as_deref()));
            match position {
                Some(index) if expires == 0 => {
                    let binding = bindings.remove(index);
                    events.push(RegistrarEvent::RegistrationRemoved {
                        user: update.user.to_owned(),
                        contact: binding.contact_text,
                        reason: RemovalReason::Unregistered,
                    });
                }
                Some(index) => {
                    let binding = &mut bindings[index];
                    if !uri_equivalent(&binding.contact, uri) {
                        let contact_text = print_uri(uri);
                        events.push(RegistrarEvent::RegistrationRemoved {
                            user: update.user.to_owned(),
                            contact: std::mem::replace(
                                &mut binding.contact_text,
                                contact_text.clone(),
                            ),
                            reason: RemovalReason::Replaced,
                        });
                        events.push(RegistrarEvent::RegistrationAdded {
                            user: update.user.to_owned(),
                            contact: contact_text,
                        });
                        binding.contact = uri.clone();
                    }
                    binding.received = update.source;
                    binding.transport.clear();
                    binding.transport.push_str(update.transport);
                    binding.expires_at = expires_at;
                    binding.updated_at = now;
                    if binding.call_id != update.call_id {
                        binding.call_id = update.call_id.to_owned();
                    }
                    binding.cseq = update.cseq;
                    binding.q = q;
                    binding.instance_id = instance_id;
                }
                None if expires == 0 => {}
                None => {
                    let contact_text = print_uri(uri);
                    events.push(RegistrarEvent::RegistrationAdded {
                        user: update.user.to_owned(),
                        contact: contact_text.clone(),
                    });
                    new_ids += 1;
                    bindings.push(Binding {
                        contact: uri.clone(),
                        contact_text,
                        received: update.source,
                        transport: update.transport.to_owned(),
                        expires_at,
                        updated_at: now,
                        call_id: update.call_id.to_owned(),
                        cseq: update.cseq,
                        q,
                        instance_id,
                        id: 0,
                    });
                }
            }
        }
        if bindings.len() > self.config.max_contacts_per_user {
            return Err(Refusal::TooManyContacts);
        }
        if new_ids > 0 {
            for binding in bindings.iter_mut().filter(|binding| binding.id == 0) {
                binding.id = self.next_id();
            }
        }
        self.commit(update.user, bindings);
        self.events.extend(events);
        Ok(())
    }

    /// Replaces `user`'s bindings and keeps the expiry index in step.
    fn commit(&mut self, user: &str, bindings: Vec<Binding>) {
        let old = self.users.get(user).map_or(&[][..], Vec::as_slice);
        let unchanged = |a: &Binding, b: &Binding| a.id == b.id && a.expires_at == b.expires_at;
        for binding in old {
            if !bindings.iter().any(|new| unchanged(new, binding)) {
                self.expiries.remove(&(binding.expires_at, binding.id));
            }
        }
        for binding in &bindings {
            if !old.iter().any(|previous| unchanged(previous, binding)) {
                self.expiries
                    .insert((binding.expires_at, binding.id), user.to_owned());
            }
        }
        if bindings.is_empty() {
            self.users.remove(user);
        } else if let Some(slot) = self.users.get_mut(user) {
            *slot = bindings;
        } else {
            self.users.insert(user.to_owned(), bindings);
        }
    }
}

/// A response to `request` with a To tag when the request's To had none.
fn reply(request: &Request, status: u16, tag: Option<&str>) -> Response {
    let mut response = Response::to_request(request, status);
    if let (Some(tag), Some(to)) = (tag, request.headers.first(&Name::TO)) {
        response.headers.set(Name::TO, format!("{to};tag={tag}"));
    }
    response
}

/// §10.3 step 7: the same Call-ID with a CSeq not above the stored one.
fn is_out_of_order(binding: &Binding, update: &Update<'_>) -> bool {
    binding.call_id == update.call_id && update.cseq <= binding.cseq
}

/// `delta-seconds`; huge values are capped.
fn parse_delta_seconds(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.parse::<u64>()
            .map_or(u32::MAX, |v| v.min(u64::from(u32::MAX)) as u32),
    )
}

fn print_uri(uri: &SipUri) -> String {
    uri.default_print_ctx().to_string()
}

/// Contact URI equivalence, the parts of RFC 3261 §19.1.4 that matter for
/// bindings: scheme, user, host (case-insensitively), port and transport.
fn uri_equivalent(a: &SipUri, b: &SipUri) -> bool {
    let user = |uri: &SipUri| match &uri.user_part {
        SipUriUserPart::Empty => None,
        SipUriUserPart::User(user) => Some(user.as_str().to_owned()),
        SipUriUserPart::UserPw(user_pw) => Some(user_pw.user.as_str().to_owned()),
    };
    let hosts = match (&a.host_port.host, &b.host_port.host) {
        (Host::Name(x), Host::Name(y)) => x.eq_ignore_ascii_case(y),
        (x, y) => x == y,
    };
    let transport = |uri: &SipUri| {
        uri.uri_params
            .get_val("transport")
            .map(|value| value.as_str().to_ascii_lowercase())
    };
    a.sips == b.sips
        && hosts
        && a.host_port.port == b.host_port.port
        && user(a) == user(b)
        && transport(a) == transport(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{DigestChallenge, select_challenge};
    use crate::message::{Limits, Message, parse};
    use bytes::Bytes;
    use std::sync::{Arc, Mutex};

    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        Instant::now()
    }

    const REALM: &str = "switchboard.test";

    fn users(user: &str) -> Option<Ha1s> {
        let password = match user {
            "alice" => "secret",
            "bob" => "hunter2",
            _ => return None,
        };
        Some(Ha1s::from_password(user, REALM, password))
    }

    fn source() -> SocketAddr {
        "192.0.2.10:5060".parse().unwrap()
    }

    fn registrar() -> Registrar {
        Registrar::with_seed(RegistrarConfig::new(REALM), 42)
    }

    /// A deskphone: builds REGISTERs with growing CSeqs and answers
    /// challenges.
    struct Phone {
        user: &'static str,
        password: &'static str,
        call_id: String,
        cseq: u32,
        challenge: Option<String>,
        nc: u32,
    }

    impl Phone {
        fn new(user: &'static str, password: &'static str) -> Phone {
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
        fn request(&mut self, contacts: &[&str], extra: &str) -> Request {
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
                let value = crate::auth::answer_challenge(
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
        fn learn(&mut self, response: &Response) {
            assert_eq!(response.status, 401, "{response}");
            let challenge = select_challenge(
                response
                    .headers
                    .all(&Name::WWW_AUTHENTICATE)
                    .map(|v| v.as_str()),
            )
            .unwrap();
            assert_eq!(
                challenge.algorithm,
                Some(crate::auth::DigestAlgorithm::Sha256)
            );
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

    fn send(registrar: &mut Registrar, now: Instant, request: &Request) -> RegisterOutcome {
        registrar.handle_register(now, request, source(), "UDP", users)
    }

    /// Challenge then authorized REGISTER; returns the final response.
    fn register(
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

    fn contacts_of(response: &Response) -> Vec<String> {
        response
            .headers
            .all(&Name::CONTACT)
            .map(|v| v.as_str().to_owned())
            .collect()
    }

    fn events(registrar: &mut Registrar) -> Vec<RegistrarEvent> {
        std::iter::from_fn(|| registrar.poll_event()).collect()
    }

    fn to_tag(response: &Response) -> Option<String> {
        response
            .headers
            .to()
            .unwrap()
            .tag
            .map(|t| t.as_str().to_owned())
    }

    #[test]
    fn challenge_then_register_lists_the_binding() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        let first = send(
            &mut registrar,
            t0,
            &phone.request(&["<sip:alice@192.0.2.10:5060>"], ""),
        );
        assert_eq!(first.response.status, 401);
        assert!(to_tag(&first.response).is_some());
        let challenges: Vec<_> = first
            .response
            .headers
            .all(&Name::WWW_AUTHENTICATE)
            .map(|v| DigestChallenge::parse(v.as_str()).unwrap().algorithm)
            .collect();
        assert_eq!(
            challenges,
            [
                Some(crate::auth::DigestAlgorithm::Sha256),
                Some(crate::auth::DigestAlgorithm::Md5)
            ]
        );
        phone.learn(&first.response);

        let request = phone.request(&["<sip:alice@192.0.2.10:5060>"], "");
        let outcome = send(&mut registrar, t0, &request);
        assert_eq!(outcome.response.status, 200, "{}", outcome.response);
        assert_eq!(
            outcome.disposition,
            Disposition::Accepted {
                user: "alice".into()
            }
        );
        assert!(to_tag(&outcome.response).is_some());
        assert_eq!(
            outcome.response.headers.call_id().unwrap(),
            request.headers.call_id().unwrap()
        );
        assert_eq!(
            contacts_of(&outcome.response),
            ["<sip:alice@192.0.2.10:5060>;expires=3600"]
        );
        assert_eq!(
            events(&mut registrar),
            [RegistrarEvent::RegistrationAdded {
                user: "alice".into(),
                contact: "sip:alice@192.0.2.10:5060".into()
            }]
        );
        let bindings = registrar.lookup(t0, "alice");
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].received, source());
        assert_eq!(bindings[0].transport, "UDP");
        assert_eq!(bindings[0].cseq, 2);
        assert_eq!(bindings[0].expires_at, t0 + Duration::from_secs(3600));
        assert_eq!(registrar.bindings_count(), 1);
        assert_eq!(
            registrar.poll_timeout(),
            Some(t0 + Duration::from_secs(3600))
        );

        // A refresh with the next nonce count needs no new challenge.
        let later = t0 + Duration::from_secs(100);
        let refresh = send(
            &mut registrar,
            later,
            &phone.request(&["<sip:alice@192.0.2.10:5060>"], ""),
        );
        assert_eq!(refresh.response.status, 200);
        assert!(
            events(&mut registrar).is_empty(),
            "a refresh is not an addition"
        );
        assert_eq!(
            registrar.poll_timeout(),
            Some(later + Duration::from_secs(3600))
        );
        assert_eq!(registrar.bindings_count(), 1);
    }

    #[test]
    fn existing_to_tag_is_kept() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let request = phone.request(&[], "");
        let mut tagged = request.clone();
        tagged
            .headers
            .set(Name::TO, "<sip:alice@switchboard.test>;tag=given");
        let outcome = send(&mut registrar, epoch(), &tagged);
        assert_eq!(to_tag(&outcome.response).as_deref(), Some("given"));
    }

    #[test]
    fn wrong_password_is_forbidden() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "wrong");
        let response = register(
            &mut registrar,
            &mut phone,
            epoch(),
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        assert_eq!(response.status, 403);
        assert_eq!(registrar.bindings_count(), 0);
        assert!(events(&mut registrar).is_empty());
    }

    #[test]
    fn unknown_user_is_challenged_then_forbidden() {
        let mut registrar = registrar();
        let mut phone = Phone::new("mallory", "secret");
        let t0 = epoch();
        let first = send(
            &mut registrar,
            t0,
            &phone.request(&["<sip:m@198.51.100.1>"], ""),
        );
        assert_eq!(
            first.response.status, 401,
            "no enumeration: same as a known user"
        );
        phone.learn(&first.response);
        let second = send(
            &mut registrar,
            t0,
            &phone.request(&["<sip:m@198.51.100.1>"], ""),
        );
        assert_eq!(second.response.status, 403);
        assert_eq!(second.response.reason.as_str(), "Forbidden");
    }

    #[test]
    fn username_must_be_the_aor_user() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        let first = send(&mut registrar, t0, &phone.request(&[], ""));
        phone.learn(&first.response);
        // Alice's credentials in a REGISTER for bob's AOR.
        let mut request = phone.request(&["<sip:x@192.0.2.10>"], "");
        request.headers.set(Name::TO, "<sip:bob@switchboard.test>");
        let outcome = send(&mut registrar, t0, &request);
        assert_eq!(outcome.response.status, 403);
        assert_eq!(registrar.bindings_count(), 0);
    }

    #[test]
    fn lockout_after_five_failures_holds_even_the_right_password() {
        let mut registrar = registrar();
        let t0 = epoch();
        let mut attacker = Phone::new("alice", "guess");
        let first = send(&mut registrar, t0, &attacker.request(&[], ""));
        // A missing Authorization is not a failure.
        let again = send(&mut registrar, t0, &attacker.request(&[], ""));
        assert_eq!(again.response.status, 401);
        attacker.learn(&first.response);
        for attempt in 1..=5 {
            let outcome = send(&mut registrar, t0, &attacker.request(&[], ""));
            assert_eq!(outcome.response.status, 403, "attempt {attempt}");
            assert_eq!(outcome.response.reason.as_str(), "Forbidden");
        }
        let until = t0 + Duration::from_secs(300);
        assert_eq!(
            events(&mut registrar),
            [RegistrarEvent::UserLocked {
                user: "alice".into(),
                until
            }]
        );

        let mut owner = Phone::new("alice", "secret");
        let during = t0 + Duration::from_secs(299);
        let first = send(
            &mut registrar,
            during,
            &owner.request(&["<sip:alice@192.0.2.10>"], ""),
        );
        assert_eq!(first.response.status, 403);
        assert_eq!(first.response.reason.as_str(), "Locked");
        // Even with a valid answer to an earlier challenge.
        let bob = Phone::new("bob", "x").request(&[], "");
        owner.learn(&send(&mut registrar, t0, &bob).response);
        let answered = send(
            &mut registrar,
            during,
            &owner.request(&["<sip:alice@192.0.2.10>"], ""),
        );
        assert_eq!(answered.response.reason.as_str(), "Locked");
        assert_eq!(registrar.bindings_count(), 0);

        let after = t0 + Duration::from_secs(300);
        let mut owner = Phone::new("alice", "secret");
        let response = register(
            &mut registrar,
            &mut owner,
            after,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        assert_eq!(response.status, 200);
        assert_eq!(registrar.bindings_count(), 1);
    }

    #[test]
    fn success_resets_the_failure_count() {
        let mut registrar = registrar();
        let t0 = epoch();
        let mut attacker = Phone::new("alice", "guess");
        let mut owner = Phone::new("alice", "secret");
        let request = attacker.request(&[], "");
        attacker.learn(&send(&mut registrar, t0, &request).response);
        for _ in 0..4 {
            assert_eq!(
                send(&mut registrar, t0, &attacker.request(&[], ""))
                    .response
                    .status,
                403
            );
        }
        assert_eq!(
            register(&mut registrar, &mut owner, t0, &[], "").status,
            200
        );
        for _ in 0..4 {
            assert_eq!(
                send(&mut registrar, t0, &attacker.request(&[], ""))
                    .response
                    .status,
                403
            );
        }
        assert!(events(&mut registrar).is_empty(), "never five in a row");
        assert_eq!(
            register(&mut registrar, &mut owner, t0, &[], "").status,
            200
        );
    }

    #[test]
    fn too_brief_interval_gets_423_with_min_expires() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let response = register(
            &mut registrar,
            &mut phone,
            epoch(),
            &["<sip:alice@192.0.2.10>"],
            "Expires: 30\r\n",
        );
        assert_eq!(response.status, 423);
        assert_eq!(
            response.headers.first(&Name::MIN_EXPIRES).unwrap().as_str(),
            "60"
        );
        assert!(to_tag(&response).is_some());
        assert_eq!(registrar.bindings_count(), 0);
        let response = register(
            &mut registrar,
            &mut phone,
            epoch(),
            &["<sip:alice@192.0.2.10>;expires=59"],
            "Expires: 600\r\n",
        );
        assert_eq!(response.status, 423, "the contact's own expires wins");
    }

    #[test]
    fn long_intervals_are_clamped_and_contact_expires_wins() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let response = register(
            &mut registrar,
            &mut phone,
            epoch(),
            &[
                "<sip:alice@192.0.2.10>;expires=120",
                "<sip:alice@192.0.2.11>",
            ],
            "Expires: 86400\r\n",
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            contacts_of(&response),
            [
                "<sip:alice@192.0.2.10>;expires=120",
                "<sip:alice@192.0.2.11>;expires=3600"
            ]
        );
    }

    #[test]
    fn unregister_one_contact_with_expires_zero() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>", "<sip:alice@192.0.2.11>"],
            "",
        );
        events(&mut registrar);
        let response = register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "Expires: 0\r\n",
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            contacts_of(&response),
            ["<sip:alice@192.0.2.11>;expires=3600"]
        );
        assert_eq!(
            events(&mut registrar),
            [RegistrarEvent::RegistrationRemoved {
                user: "alice".into(),
                contact: "sip:alice@192.0.2.10".into(),
                reason: RemovalReason::Unregistered
            }]
        );
        assert_eq!(registrar.bindings_count(), 1);
    }

    #[test]
    fn unregister_everything_with_the_wildcard() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>", "<sip:alice@192.0.2.11>"],
            "",
        );
        events(&mut registrar);

        let response = register(&mut registrar, &mut phone, t0, &["*"], "Expires: 60\r\n");
        assert_eq!(response.status, 400, "* needs Expires: 0");
        let response = register(&mut registrar, &mut phone, t0, &["*"], "");
        assert_eq!(response.status, 400, "* needs an Expires header");
        let response = register(
            &mut registrar,
            &mut phone,
            t0,
            &["*", "<sip:alice@192.0.2.12>"],
            "Expires: 0\r\n",
        );
        assert_eq!(response.status, 400, "* must be alone");
        assert_eq!(registrar.bindings_count(), 2);

        let response = register(&mut registrar, &mut phone, t0, &["*"], "Expires: 0\r\n");
        assert_eq!(response.status, 200);
        assert!(contacts_of(&response).is_empty());
        assert_eq!(registrar.bindings_count(), 0);
        assert_eq!(registrar.poll_timeout(), None);
        let removed = events(&mut registrar);
        assert_eq!(removed.len(), 2);
        assert!(removed.iter().all(|event| matches!(
            event,
            RegistrarEvent::RegistrationRemoved {
                reason: RemovalReason::Unregistered,
                ..
            }
        )));
    }

    #[test]
    fn several_contacts_are_ordered_by_q_then_recency() {
        let mut registrar = registrar();
        let mut desk = Phone::new("alice", "secret");
        let mut soft = Phone::new("alice", "secret");
        soft.call_id = "softphone@192.0.2.20".into();
        let t0 = epoch();
        register(
            &mut registrar,
            &mut desk,
            t0,
            &["<sip:alice@192.0.2.10>;q=0.5"],
            "",
        );
        register(
            &mut registrar,
            &mut soft,
            t0 + Duration::from_secs(1),
            &["<sip:alice@192.0.2.20>;q=0.5"],
            "",
        );
        register(
            &mut registrar,
            &mut soft,
            t0 + Duration::from_secs(2),
            &["<sip:alice@192.0.2.30>;q=0.9", "<sip:alice@192.0.2.40>"],
            "",
        );
        let order: Vec<String> = registrar
            .lookup(t0 + Duration::from_secs(3), "alice")
            .into_iter()
            .map(|binding| binding.contact_text)
            .collect();
        assert_eq!(
            order,
            [
                "sip:alice@192.0.2.40",
                "sip:alice@192.0.2.30",
                "sip:alice@192.0.2.20",
                "sip:alice@192.0.2.10"
            ]
        );
        assert_eq!(registrar.bindings_count(), 4);
        assert!(registrar.lookup(t0, "bob").is_empty());
    }

    #[test]
    fn too_many_contacts_are_refused_as_a_whole() {
        let mut config = RegistrarConfig::new(REALM);
        config.max_contacts_per_user = 2;
        let mut registrar = Registrar::with_seed(config, 1);
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        let response = register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.11>", "<sip:alice@192.0.2.12>"],
            "",
        );
        assert_eq!(response.status, 403);
        assert_eq!(registrar.bindings_count(), 1);
        // Replacing one while adding one fits.
        let response = register(
            &mut registrar,
            &mut phone,
            t0,
            &[
                "<sip:alice@192.0.2.10>;expires=0",
                "<sip:alice@192.0.2.11>",
                "<sip:alice@192.0.2.12>",
            ],
            "",
        );
        assert_eq!(response.status, 200);
        assert_eq!(registrar.bindings_count(), 2);
    }

    #[test]
    fn bindings_expire_through_handle_timeout() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &[
                "<sip:alice@192.0.2.10>;expires=60",
                "<sip:alice@192.0.2.11>;expires=120",
            ],
            "",
        );
        events(&mut registrar);
        let first = registrar.poll_timeout().unwrap();
        assert_eq!(first, t0 + Duration::from_secs(60));
        registrar.handle_timeout(first - Duration::from_millis(1));
        assert!(events(&mut registrar).is_empty());
        assert_eq!(
            registrar
                .lookup(first - Duration::from_millis(1), "alice")
                .len(),
            2
        );
        // lookup hides a lapsed binding even before the timeout runs.
        assert_eq!(registrar.lookup(first, "alice").len(), 1);
        registrar.handle_timeout(first);
        assert_eq!(
            events(&mut registrar),
            [RegistrarEvent::RegistrationRemoved {
                user: "alice".into(),
                contact: "sip:alice@192.0.2.10".into(),
                reason: RemovalReason::Expired
            }]
        );
        let second = registrar.poll_timeout().unwrap();
        assert_eq!(second, t0 + Duration::from_secs(120));
        registrar.handle_timeout(second + Duration::from_secs(5));
        assert_eq!(events(&mut registrar).len(), 1);
        assert_eq!(registrar.bindings_count(), 0);
        assert_eq!(registrar.poll_timeout(), None);
    }

    #[test]
    fn lapsed_bindings_do_not_count_toward_the_limit() {
        let mut config = RegistrarConfig::new(REALM);
        config.max_contacts_per_user = 1;
        let mut registrar = Registrar::with_seed(config, 3);
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>;expires=60"],
            "",
        );
        // handle_timeout has not run yet; the new contact still fits.
        let later = t0 + Duration::from_secs(61);
        let mut fresh = Phone::new("alice", "secret");
        let response = register(
            &mut registrar,
            &mut fresh,
            later,
            &["<sip:alice@192.0.2.99>"],
            "",
        );
        assert_eq!(response.status, 200, "{response}");
        assert_eq!(
            contacts_of(&response),
            ["<sip:alice@192.0.2.99>;expires=3600"]
        );
    }

    #[test]
    fn replayed_nonce_count_is_challenged_not_accepted() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        let refresh = phone.request(&["<sip:alice@192.0.2.10>"], "");
        assert_eq!(send(&mut registrar, t0, &refresh).response.status, 200);
        // An attacker replays the captured refresh (same nonce and nc) with
        // a higher CSeq and its own contact: the digest does not cover them.
        let mut replay = refresh.clone();
        replay.headers.set(Name::CSEQ, "99 REGISTER");
        replay
            .headers
            .set(Name::CONTACT, "<sip:alice@203.0.113.66>");
        let outcome = send(&mut registrar, t0, &replay);
        assert_eq!(outcome.response.status, 401);
        assert_eq!(outcome.disposition, Disposition::Challenged);
        let challenge = outcome
            .response
            .headers
            .first(&Name::WWW_AUTHENTICATE)
            .unwrap();
        assert!(!DigestChallenge::parse(challenge.as_str()).unwrap().stale);
        let bindings = registrar.lookup(t0, "alice");
        assert_eq!(bindings.len(), 1);
        assert_eq!(bindings[0].contact_text, "sip:alice@192.0.2.10");
        assert_eq!(bindings[0].cseq, 3);
    }

    #[test]
    fn stale_nonce_is_challenged_with_stale_true() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        let later = t0 + Duration::from_secs(1800);
        let outcome = send(
            &mut registrar,
            later,
            &phone.request(&["<sip:alice@192.0.2.10>"], ""),
        );
        assert_eq!(outcome.response.status, 401);
        let challenges: Vec<_> = outcome
            .response
            .headers
            .all(&Name::WWW_AUTHENTICATE)
            .map(|value| DigestChallenge::parse(value.as_str()).unwrap().stale)
            .collect();
        assert_eq!(challenges, [true, true]);
        phone.learn(&outcome.response);
        let outcome = send(
            &mut registrar,
            later,
            &phone.request(&["<sip:alice@192.0.2.10>"], ""),
        );
        assert_eq!(outcome.response.status, 200);
        // Staleness is not a failure: no lockout progress was made.
        assert!(
            events(&mut registrar)
                .iter()
                .all(|e| !matches!(e, RegistrarEvent::UserLocked { .. }))
        );
    }

    #[test]
    fn out_of_order_cseq_fails_with_500_and_changes_nothing() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        let mut request = phone.request(
            &["<sip:alice@192.0.2.10>;expires=0", "<sip:alice@192.0.2.11>"],
            "",
        );
        request.headers.set(Name::CSEQ, "2 REGISTER");
        let outcome = send(&mut registrar, t0, &request);
        assert_eq!(outcome.response.status, 500);
        assert_eq!(registrar.lookup(t0, "alice").len(), 1);
        assert_eq!(
            registrar.lookup(t0, "alice")[0].contact_text,
            "sip:alice@192.0.2.10"
        );
        // Another Call-ID (a rebooted phone) may use any CSeq.
        let mut rebooted = Phone::new("alice", "secret");
        rebooted.call_id = "after-reboot@192.0.2.10".into();
        let response = register(
            &mut registrar,
            &mut rebooted,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            registrar.lookup(t0, "alice")[0].call_id,
            "after-reboot@192.0.2.10"
        );
    }

    #[test]
    fn missing_headers_get_400() {
        let mut registrar = registrar();
        let t0 = epoch();
        for (name, label) in [
            (Name::TO, "Missing To Header"),
            (Name::FROM, "Missing From Header"),
            (Name::CALL_ID, "Missing Call-ID Header"),
            (Name::CSEQ, "Missing CSeq Header"),
        ] {
            let mut request = Phone::new("alice", "secret").request(&[], "");
            request.headers.remove(&name);
            let outcome = send(&mut registrar, t0, &request);
            assert_eq!(outcome.response.status, 400);
            assert_eq!(outcome.response.reason.as_str(), label);
        }
        let mut request = Phone::new("alice", "secret").request(&[], "");
        request.headers.set(Name::TO, "<sip:switchboard.test>");
        assert_eq!(send(&mut registrar, t0, &request).response.status, 404);
        let mut request = Phone::new("alice", "secret").request(&[], "");
        request.method = Method::Invite;
        assert_eq!(send(&mut registrar, t0, &request).response.status, 405);
    }

    #[test]
    fn malformed_parameters_get_400() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        for (contact, extra) in [
            ("<sip:alice@192.0.2.10>;expires=soon", ""),
            ("<sip:alice@192.0.2.10>;q=2", ""),
            ("<sip:alice@192.0.2.10>", "Expires: never\r\n"),
        ] {
            let response = register(&mut registrar, &mut phone, t0, &[contact], extra);
            assert_eq!(response.status, 400, "{contact} {extra}");
        }
        let mut request = phone.request(&[], "");
        request.headers.remove(&Name::AUTHORIZATION);
        request
            .headers
            .push(Name::AUTHORIZATION, "Digest username=\"alice");
        assert_eq!(send(&mut registrar, t0, &request).response.status, 400);
        assert_eq!(registrar.bindings_count(), 0);
    }

    #[test]
    fn instance_id_moves_a_binding() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        let instance = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
        let first = format!("<sip:alice@192.0.2.10:5060>;{instance}");
        let response = register(&mut registrar, &mut phone, t0, &[&first], "");
        assert_eq!(response.status, 200);
        assert_eq!(
            contacts_of(&response),
            [format!(
                "<sip:alice@192.0.2.10:5060>;expires=3600;{instance}"
            )]
        );
        events(&mut registrar);
        let moved = format!("<sip:alice@192.0.2.77:5062>;{instance}");
        let response = register(&mut registrar, &mut phone, t0, &[&moved], "");
        assert_eq!(response.status, 200);
        assert_eq!(registrar.bindings_count(), 1);
        assert_eq!(
            events(&mut registrar),
            [
                RegistrarEvent::RegistrationRemoved {
                    user: "alice".into(),
                    contact: "sip:alice@192.0.2.10:5060".into(),
                    reason: RemovalReason::Replaced
                },
                RegistrarEvent::RegistrationAdded {
                    user: "alice".into(),
                    contact: "sip:alice@192.0.2.77:5062".into()
                }
            ]
        );
    }

    #[test]
    fn query_without_contacts_lists_bindings() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>;q=0.25"],
            "",
        );
        let response = register(
            &mut registrar,
            &mut phone,
            t0 + Duration::from_secs(10),
            &[],
            "",
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            contacts_of(&response),
            ["<sip:alice@192.0.2.10>;expires=3590;q=0.25"]
        );
    }

    #[test]
    fn q_values_parse_and_print() {
        assert_eq!(QValue::parse("1"), Some(QValue::ONE));
        assert_eq!(QValue::parse("1.000"), Some(QValue::ONE));
        assert_eq!(QValue::parse("0.5").unwrap().thousandths(), 500);
        assert_eq!(QValue::parse("0.125").unwrap().to_string(), "0.125");
        assert_eq!(QValue::parse("0.50").unwrap().to_string(), "0.5");
        assert_eq!(QValue::parse("0").unwrap().to_string(), "0");
        for bad in ["1.5", "0.1234", "2", "", ".5", "0.x", "-0"] {
            assert_eq!(QValue::parse(bad), None, "{bad}");
        }
    }

    /// Captures the formatted fields of every event at INFO or above.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<(tracing::Level, String)>>>);

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            struct Fields(String);
            impl tracing::field::Visit for Fields {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                    self.0.push_str(&format!("{}={:?} ", field.name(), value));
                }
            }
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0
                .lock()
                .unwrap()
                .push((*event.metadata().level(), fields.0));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn addresses_are_logged_only_at_debug() {
        let capture = Capture::default();
        tracing::subscriber::with_default(capture.clone(), || {
            let mut registrar = registrar();
            let t0 = epoch();
            let mut owner = Phone::new("alice", "secret");
            register(
                &mut registrar,
                &mut owner,
                t0,
                &["<sip:alice@192.0.2.10>"],
                "",
            );
            let mut attacker = Phone::new("alice", "guess");
            let request = attacker.request(&[], "");
            attacker.learn(&send(&mut registrar, t0, &request).response);
            for _ in 0..6 {
                send(&mut registrar, t0, &attacker.request(&[], ""));
            }
        });
        let lines = capture.0.lock().unwrap();
        assert!(
            lines
                .iter()
                .any(|(level, text)| *level == tracing::Level::DEBUG && text.contains("192.0.2.10")),
            "debug lines carry the address, so the capture sees it"
        );
        let loud: Vec<_> = lines
            .iter()
            .filter(|(level, _)| *level <= tracing::Level::INFO)
            .collect();
        assert!(
            loud.iter()
                .any(|(level, text)| *level == tracing::Level::WARN && text.contains("alice")),
            "the lockout is a warning naming the user: {loud:?}"
        );
        for (_, text) in loud {
            assert!(!text.contains("192.0.2.10"), "address above debug: {text}");
        }
    }
}
