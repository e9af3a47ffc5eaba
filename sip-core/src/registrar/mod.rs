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

mod binding;
#[cfg(test)]
mod test_phone;
mod update;

pub use binding::{Binding, QValue};

use crate::auth::{
    AuthError, DigestCredentials, DigestServer, DigestServerConfig, Ha1s, Lockout, RejectReason,
    Verdict,
};
use crate::message::{Method, Name, Request, Response, uri_user};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use update::{Refusal, Update};

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
    /// Consecutive failed authentications from one address that lock a
    /// user out from that address (default 5; 0 never locks).
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

    /// A deterministic registrar for tests and simulations (see
    /// [`DigestServer::with_seed`]); production code uses [`Registrar::new`].
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

        if let Err(outcome) = self.authenticate(now, request, user, source, tag, lookup) {
            return outcome;
        }

        let update = Update {
            user,
            call_id: call_id.as_str(),
            cseq: cseq.sequence,
            source,
            transport,
        };
        if let Err(refusal) = self.update_bindings(now, request, &update) {
            let response = match refusal {
                Refusal::BadRequest(reason) => respond(400).with_reason(reason.into_owned()),
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

    /// §10.3 steps 3–4: `Ok` when the request proves it comes from `user`,
    /// otherwise the answer to send: a challenge, or a refusal that may
    /// count toward a lockout.
    fn authenticate(
        &mut self,
        now: Instant,
        request: &Request,
        user: &str,
        source: SocketAddr,
        tag: Option<&str>,
        lookup: impl FnOnce(&str) -> Option<Ha1s>,
    ) -> Result<(), RegisterOutcome> {
        let respond = |status: u16| reply(request, status, tag);
        if self.lockout.locked_until(now, user, source.ip()).is_some() {
            tracing::debug!(user, %source, "REGISTER refused: user locked out");
            return Err(RegisterOutcome::refused(respond(403).with_reason("Locked")));
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
                return Err(RegisterOutcome::refused(
                    respond(400).with_reason(error.to_string()),
                ));
            }
            return Err(self.challenge(now, request, tag, false));
        };
        // §10.3 step 4, checked before the password so that it cannot be
        // used to test one user's password under another's AOR.
        if credentials.username != user {
            tracing::debug!(user, %source, "REGISTER refused: username is not the AOR user");
            return Err(RegisterOutcome::refused(
                respond(403).with_reason("Username Does Not Match Address Of Record"),
            ));
        }
        let outcome = match self.digest.verify_credentials(
            now,
            Method::Register.as_str(),
            &request.uri,
            &credentials,
            lookup,
        ) {
            Verdict::Ok { .. } => {
                self.lockout.record_success(user, source.ip());
                return Ok(());
            }
            Verdict::Stale => self.challenge(now, request, tag, true),
            Verdict::Rejected(reason) if reason.is_wrong_credentials() => {
                tracing::debug!(user, %source, %reason, "REGISTER authentication failed");
                if let Some(until) = self.lockout.record_failure(now, user, source.ip()) {
                    tracing::warn!(
                        user,
                        failures = self.config.lockout_threshold,
                        lock_seconds = self.config.lockout_duration.as_secs(),
                        "user locked out from an address after repeated failed authentications"
                    );
                    self.events.push_back(RegistrarEvent::UserLocked {
                        user: user.to_owned(),
                        until,
                    });
                }
                RegisterOutcome::refused(respond(403))
            }
            Verdict::Rejected(reason) if reason.wants_new_challenge() => {
                tracing::debug!(user, %source, %reason, "REGISTER challenged again");
                self.challenge(now, request, tag, false)
            }
            Verdict::Rejected(RejectReason::MissingField(field)) => RegisterOutcome::refused(
                respond(400).with_reason(AuthError::MissingField(field).to_string()),
            ),
            Verdict::Malformed => {
                RegisterOutcome::refused(respond(400).with_reason(AuthError::Malformed.to_string()))
            }
            Verdict::Rejected(reason) => {
                tracing::debug!(user, %source, %reason, "REGISTER credentials refused");
                RegisterOutcome::refused(respond(403))
            }
        };
        Err(outcome)
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
}

/// A response to `request` with a To tag when the request's To had none.
fn reply(request: &Request, status: u16, tag: Option<&str>) -> Response {
    let mut response = Response::to_request(request, status);
    if let (Some(tag), Some(to)) = (tag, request.headers.first(&Name::TO)) {
        response.headers.set(Name::TO, format!("{to};tag={tag}"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::test_phone::*;
    use super::*;
    use crate::auth::DigestChallenge;
    use std::sync::{Arc, Mutex};

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
    fn a_strangers_failures_do_not_lock_the_phone_out_from_its_own_address() {
        let mut registrar = registrar();
        let t0 = epoch();
        let stranger: SocketAddr = "198.51.100.7:5060".parse().unwrap();
        let mut attacker = Phone::new("alice", "guess");
        let first =
            registrar.handle_register(t0, &attacker.request(&[], ""), stranger, "UDP", users);
        attacker.learn(&first.response);
        for _ in 0..5 {
            let request = attacker.request(&[], "");
            let outcome = registrar.handle_register(t0, &request, stranger, "UDP", users);
            assert_eq!(outcome.response.status, 403);
        }
        assert!(matches!(
            events(&mut registrar)[..],
            [RegistrarEvent::UserLocked { .. }]
        ));
        let request = attacker.request(&[], "");
        let locked = registrar.handle_register(t0, &request, stranger, "UDP", users);
        assert_eq!(locked.response.reason.as_str(), "Locked");
        // The phone, from its own address, registers as ever.
        let mut owner = Phone::new("alice", "secret");
        let response = register(
            &mut registrar,
            &mut owner,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        assert_eq!(response.status, 200);
        assert_eq!(registrar.bindings_count(), 1);
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
