//! The server side of digest authentication: stateless nonces, a bounded
//! nonce-count table against replays, and the check of a response.

use super::bounded_map::BoundedMap;
use super::syntax::push_quoted;
use super::{AuthError, DigestAlgorithm, DigestCredentials, Ha1s, HexDigest, response_digest};
use crate::message::{Host, SipUri, uri_user};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Settings of a [`DigestServer`].
#[derive(Debug, Clone)]
pub struct DigestServerConfig {
    /// The realm, usually the SIP domain.
    pub realm: String,
    /// How long a nonce may be used before it is stale (default 300 s).
    pub nonce_lifetime: Duration,
    /// Algorithms offered, one challenge each, preferred first (default
    /// SHA-256 then MD5, RFC 8760 §2.4).
    pub algorithms: Vec<DigestAlgorithm>,
    /// Accept RFC 2069 credentials without qop (default true). Such a
    /// nonce is single-use, since there is no nc to order reuses.
    pub allow_no_qop: bool,
    /// Most nonces whose nonce count is remembered (default 100,000, a few
    /// MB). When full the least recently first-used one is forgotten, and
    /// any forgotten nonce is answered as stale.
    pub max_tracked_nonces: usize,
}

impl DigestServerConfig {
    /// The defaults for `realm`.
    pub fn new(realm: impl Into<String>) -> DigestServerConfig {
        DigestServerConfig {
            realm: realm.into(),
            nonce_lifetime: Duration::from_secs(300),
            algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            allow_no_qop: true,
            max_tracked_nonces: 100_000,
        }
    }
}

/// What [`DigestServer::verify`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right and fresh.
    Ok {
        /// The authenticated user.
        username: String,
    },
    /// The response is right but the nonce is too old (or forgotten):
    /// challenge again with `stale=true`, the client retries silently.
    Stale,
    /// Well-formed credentials that do not authenticate.
    Rejected(RejectReason),
    /// Not parseable as Digest credentials.
    Malformed,
}

/// Why credentials were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The response does not match the stored HA1.
    #[error("wrong response")]
    WrongResponse,
    /// No such user.
    #[error("unknown user")]
    UnknownUser,
    /// The nonce count did not grow: a replay.
    #[error("nonce count replayed")]
    NonceCountReplay,
    /// The nonce was not issued by this server (forged, or from before a
    /// restart).
    #[error("nonce not issued here")]
    InvalidNonce,
    /// Credentials for another realm.
    #[error("realm mismatch")]
    RealmMismatch,
    /// A mandatory parameter is absent.
    #[error("missing {0}")]
    MissingField(&'static str),
    /// `uri` is not the Request-URI.
    #[error("uri does not match the Request-URI")]
    BadUri,
    /// An algorithm not offered, or for which the user has no HA1.
    #[error("algorithm not offered")]
    UnsupportedAlgorithm,
    /// A qop other than `auth`, or none when RFC 2069 clients are refused.
    #[error("qop not supported")]
    UnsupportedQop,
    /// `userhash` or `username*`.
    #[error("userhash not supported")]
    UnsupportedUserhash,
}

impl RejectReason {
    /// Whether this rejection tested a password, and so counts toward a
    /// lockout. Replays, foreign nonces and syntax slips do not.
    pub fn is_wrong_credentials(self) -> bool {
        matches!(
            self,
            RejectReason::WrongResponse | RejectReason::UnknownUser
        )
    }

    /// Whether the right answer is a fresh challenge rather than `403`: the
    /// client may hold an old nonce through no fault of its own.
    pub fn wants_new_challenge(self) -> bool {
        matches!(
            self,
            RejectReason::NonceCountReplay | RejectReason::InvalidNonce
        )
    }
}

impl From<AuthError> for Verdict {
    fn from(error: AuthError) -> Verdict {
        match error {
            AuthError::NotDigest | AuthError::Malformed | AuthError::InvalidNonceCount => {
                Verdict::Malformed
            }
            AuthError::MissingField(field) => Verdict::Rejected(RejectReason::MissingField(field)),
            AuthError::UnsupportedAlgorithm | AuthError::InvalidHa1 => {
                Verdict::Rejected(RejectReason::UnsupportedAlgorithm)
            }
            AuthError::UnsupportedQop => Verdict::Rejected(RejectReason::UnsupportedQop),
            AuthError::UnsupportedUserhash => Verdict::Rejected(RejectReason::UnsupportedUserhash),
        }
    }
}

/// HMAC-SHA256 (RFC 2104) with the pads already absorbed, so a MAC costs two
/// compressions.
#[derive(Clone)]
struct NonceKey {
    inner: Sha256,
    outer: Sha256,
}

impl NonceKey {
    fn new(secret: &[u8]) -> NonceKey {
        let mut block = [0u8; 64];
        if secret.len() > block.len() {
            block[..32].copy_from_slice(&Sha256::digest(secret));
        } else {
            block[..secret.len()].copy_from_slice(secret);
        }
        let mut inner = Sha256::new();
        let mut outer = Sha256::new();
        inner.update(block.map(|b| b ^ 0x36));
        outer.update(block.map(|b| b ^ 0x5c));
        NonceKey { inner, outer }
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        inner.update(data);
        let mut outer = self.outer.clone();
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// A nonce this server issued, recovered from its text.
#[derive(Debug, Clone, Copy)]
struct IssuedNonce {
    /// Timestamp and random part: unique per nonce.
    id: u128,
    /// Milliseconds since the server's epoch.
    issued_ms: u64,
}

const NONCE_RAW_BYTES: usize = 32;
const NONCE_HEX_LEN: usize = 2 * NONCE_RAW_BYTES;
/// How far in the future a nonce's timestamp may lie before it is treated
/// as stale.
const CLOCK_SLACK_MS: u64 = 1_000;

/// Where a nonce's count stands.
enum CountCheck {
    Accepted,
    Replayed,
    /// Dropped from the table: its past counts are unknown.
    Forgotten,
}

/// The last nonce count seen per nonce, bounded.
struct NonceCounts {
    last: BoundedMap<u128, (u32, u64)>,
    /// Every forgotten nonce was issued at or before this instant.
    forgotten_up_to_ms: Option<u64>,
}

impl NonceCounts {
    fn check_and_record(&mut self, nonce: IssuedNonce, count: u32) -> CountCheck {
        if let Some((last, _)) = self.last.get_mut(&nonce.id) {
            if count <= *last {
                return CountCheck::Replayed;
            }
            *last = count;
            return CountCheck::Accepted;
        }
        if self
            .forgotten_up_to_ms
            .is_some_and(|limit| nonce.issued_ms <= limit)
        {
            return CountCheck::Forgotten;
        }
        if let Some((_, (_, issued_ms))) = self.last.insert(nonce.id, (count, nonce.issued_ms)) {
            let limit = self.forgotten_up_to_ms.get_or_insert(issued_ms);
            *limit = (*limit).max(issued_ms);
        }
        CountCheck::Accepted
    }
}

/// The server side of digest authentication: issues challenges and checks
/// credentials, for one realm. Owned by one owner (the registrar, or a
/// proxy core); `now` comes from the caller.
pub struct DigestServer {
    config: DigestServerConfig,
    key: NonceKey,
    rng: StdRng,
    /// Nonce timestamps count from here; set by the first call.
    epoch: Option<Instant>,
    counts: NonceCounts,
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("config", &self.config)
            .field("tracked_nonces", &self.counts.last.len())
            .finish_non_exhaustive()
    }
}

impl DigestServer {
    /// A server with a random secret from the operating system. Nonces are
    /// valid only for this instance: after a restart clients get a fresh
    /// challenge.
    pub fn new(config: DigestServerConfig) -> DigestServer {
        let mut secret = [0u8; 32];
        StdRng::from_os_rng().fill_bytes(&mut secret);
        DigestServer::with_secret(config, &secret, StdRng::from_os_rng())
    }

    /// A deterministic server for tests and simulations: the secret and the
    /// nonces' random parts derive from `seed`, so only 64 bits of it are
    /// secret; production code uses [`DigestServer::new`].
    pub fn with_seed(config: DigestServerConfig, seed: u64) -> DigestServer {
        let secret = Sha256::new()
            .chain_update(b"switchboard digest nonce secret")
            .chain_update(seed.to_be_bytes())
            .finalize();
        DigestServer::with_secret(config, &secret, StdRng::seed_from_u64(seed))
    }

    fn with_secret(config: DigestServerConfig, secret: &[u8], rng: StdRng) -> DigestServer {
        let capacity = config.max_tracked_nonces;
        DigestServer {
            config,
            key: NonceKey::new(secret),
            rng,
            epoch: None,
            counts: NonceCounts {
                last: BoundedMap::new(capacity),
                forgotten_up_to_ms: None,
            },
        }
    }

    /// The settings.
    pub fn config(&self) -> &DigestServerConfig {
        &self.config
    }

    /// The realm challenged for.
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// How many nonces' counts are remembered.
    pub fn tracked_nonces(&self) -> usize {
        self.counts.last.len()
    }

    fn clock_ms(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn issue_nonce(&mut self, now: Instant) -> String {
        let issued_ms = self.clock_ms(now);
        let mut raw = [0u8; NONCE_RAW_BYTES];
        raw[..8].copy_from_slice(&issued_ms.to_be_bytes());
        raw[8..16].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        let mac = self.key.mac(&raw[..16]);
        raw[16..].copy_from_slice(&mac[..16]);
        hex::encode(raw)
    }

    fn check_nonce(&self, nonce: &str) -> Option<IssuedNonce> {
        if nonce.len() != NONCE_HEX_LEN {
            return None;
        }
        let mut raw = [0u8; NONCE_RAW_BYTES];
        hex::decode_to_slice(nonce, &mut raw).ok()?;
        let mac = self.key.mac(&raw[..16]);
        if !bool::from(mac[..16].ct_eq(&raw[16..])) {
            return None;
        }
        let id: [u8; 16] = raw[..16].try_into().expect("16 bytes");
        let issued: [u8; 8] = raw[..8].try_into().expect("8 bytes");
        Some(IssuedNonce {
            id: u128::from_be_bytes(id),
            issued_ms: u64::from_be_bytes(issued),
        })
    }

    /// Challenge header values, one per offered algorithm, preferred first,
    /// sharing one fresh nonce: put each in a `WWW-Authenticate` (401) or
    /// `Proxy-Authenticate` (407) header. `stale` says the client's
    /// credentials were right but its nonce expired.
    pub fn challenge(&mut self, now: Instant, stale: bool) -> Vec<String> {
        let nonce = self.issue_nonce(now);
        let mut values = Vec::with_capacity(self.config.algorithms.len());
        for algorithm in &self.config.algorithms {
            let mut value = String::with_capacity(160);
            value.push_str("Digest realm=");
            push_quoted(&mut value, &self.config.realm);
            value.push_str(", nonce=\"");
            value.push_str(&nonce);
            value.push_str("\", algorithm=");
            value.push_str(algorithm.as_str());
            value.push_str(", qop=\"auth\"");
            if stale {
                value.push_str(", stale=true");
            }
            values.push(value);
        }
        values
    }

    /// Checks one `Authorization` or `Proxy-Authorization` value for a
    /// request with `method` and `request_uri`. `lookup` maps a username to
    /// its HA1s in this realm.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &str,
        request_uri: &SipUri,
        authorization: &str,
        lookup: impl FnOnce(&str) -> Option<Ha1s>,
    ) -> Verdict {
        match DigestCredentials::parse(authorization) {
            Ok(credentials) => {
                self.verify_credentials(now, method, request_uri, &credentials, lookup)
            }
            Err(error) => error.into(),
        }
    }

    /// [`DigestServer::verify`] for credentials already parsed, so a caller
    /// can first pick the header for its realm or match the username.
    pub fn verify_credentials(
        &mut self,
        now: Instant,
        method: &str,
        request_uri: &SipUri,
        credentials: &DigestCredentials<'_>,
        lookup: impl FnOnce(&str) -> Option<Ha1s>,
    ) -> Verdict {
        if credentials.realm != self.config.realm.as_str() {
            return Verdict::Rejected(RejectReason::RealmMismatch);
        }
        let algorithm = credentials.algorithm;
        if !self.config.algorithms.contains(&algorithm) {
            return Verdict::Rejected(RejectReason::UnsupportedAlgorithm);
        }
        let qop = match (&credentials.qop, &credentials.nc, &credentials.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) => {
                Some((nc.text.as_ref(), cnonce.as_ref(), qop.as_ref()))
            }
            (Some(_), None, _) => return Verdict::Rejected(RejectReason::MissingField("nc")),
            (Some(_), _, None) => return Verdict::Rejected(RejectReason::MissingField("cnonce")),
            (None, _, _) if self.config.allow_no_qop => None,
            (None, _, _) => return Verdict::Rejected(RejectReason::UnsupportedQop),
        };
        if !digest_uri_matches(&credentials.uri, request_uri) {
            return Verdict::Rejected(RejectReason::BadUri);
        }
        let Some(nonce) = self.check_nonce(&credentials.nonce) else {
            return Verdict::Rejected(RejectReason::InvalidNonce);
        };
        let stored = lookup(&credentials.username);
        let ha1 = match stored {
            Some(ha1s) => match ha1s.digest(algorithm) {
                Some(ha1) => *ha1,
                None => return Verdict::Rejected(RejectReason::UnsupportedAlgorithm),
            },
            // Same work as for a known user, so timing does not tell them
            // apart.
            None => HexDigest {
                digits: [b'0'; 64],
                len: if algorithm == DigestAlgorithm::Md5 {
                    32
                } else {
                    64
                },
            },
        };
        let expected = response_digest(
            algorithm,
            ha1.as_bytes(),
            &credentials.nonce,
            method,
            &credentials.uri,
            qop,
        );
        let mut given = [0u8; 64];
        let given_len = credentials.response.len();
        let matches = given_len == expected.as_bytes().len() && {
            for (slot, byte) in given.iter_mut().zip(credentials.response.bytes()) {
                *slot = byte.to_ascii_lowercase();
            }
            bool::from(given[..given_len].ct_eq(expected.as_bytes()))
        };
        if stored.is_none() {
            return Verdict::Rejected(RejectReason::UnknownUser);
        }
        if !matches {
            return Verdict::Rejected(RejectReason::WrongResponse);
        }
        let now_ms = self.clock_ms(now);
        let lifetime_ms = u64::try_from(self.config.nonce_lifetime.as_millis()).unwrap_or(u64::MAX);
        if nonce.issued_ms > now_ms.saturating_add(CLOCK_SLACK_MS)
            || now_ms.saturating_sub(nonce.issued_ms) > lifetime_ms
        {
            return Verdict::Stale;
        }
        // RFC 2069 credentials carry no count: the first use is count 1 and
        // any reuse is a replay.
        let count = credentials.nc.as_ref().map_or(1, |nc| nc.value);
        match self.counts.check_and_record(nonce, count) {
            CountCheck::Accepted => Verdict::Ok {
                username: credentials.username.clone().into_owned(),
            },
            CountCheck::Replayed => Verdict::Rejected(RejectReason::NonceCountReplay),
            CountCheck::Forgotten => Verdict::Stale,
        }
    }
}

/// Whether the digest `uri` names the Request-URI (RFC 2617 §3.2.2.5):
/// same scheme, user, host (case-insensitively) and port (a missing port
/// is the scheme's default). Parameters are ignored, since proxies and
/// clients print them differently.
fn digest_uri_matches(digest_uri: &str, request_uri: &SipUri) -> bool {
    let Ok(uri) = SipUri::from_str(digest_uri) else {
        return false;
    };
    let default_port = |uri: &SipUri| if uri.sips { 5061 } else { 5060 };
    let hosts_match = match (&uri.host_port.host, &request_uri.host_port.host) {
        (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    };
    uri.sips == request_uri.sips
        && hosts_match
        && uri.host_port.port.unwrap_or(default_port(&uri))
            == request_uri
                .host_port
                .port
                .unwrap_or(default_port(request_uri))
        && uri_user(&uri) == uri_user(request_uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::syntax::test_param as param;
    use crate::auth::{AuthKind, DigestChallenge, answer_challenge, select_challenge};
    use crate::message::{Name, parse_uri};

    /// A clock origin; the tests only add durations to it.
    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        Instant::now()
    }

    const REALM: &str = "switchboard.test";

    fn server() -> DigestServer {
        DigestServer::with_seed(DigestServerConfig::new(REALM), 7)
    }

    fn alice(user: &str) -> Option<Ha1s> {
        (user == "alice").then(|| Ha1s::from_password("alice", REALM, "secret"))
    }

    fn register_uri() -> SipUri {
        parse_uri("sip:switchboard.test").unwrap()
    }

    /// The client's answer to the server's challenge number `index`.
    fn answer(challenges: &[String], index: usize, password: &str, nc: u32) -> String {
        answer_challenge(
            &challenges[index],
            "REGISTER",
            "sip:switchboard.test",
            "alice",
            password,
            nc,
            "c0ffee",
        )
        .unwrap()
    }

    #[test]
    fn hmac_matches_rfc4231() {
        let key = NonceKey::new(&[0x0b; 20]);
        assert_eq!(
            hex::encode(key.mac(b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let key = NonceKey::new(b"Jefe");
        assert_eq!(
            hex::encode(key.mac(b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn challenges_offer_sha256_then_md5_with_one_nonce() {
        let mut server = server();
        let t0 = epoch();
        let challenges = server.challenge(t0, false);
        assert_eq!(challenges.len(), 2);
        let sha = DigestChallenge::parse(&challenges[0]).unwrap();
        let md5 = DigestChallenge::parse(&challenges[1]).unwrap();
        assert_eq!(sha.algorithm, Some(DigestAlgorithm::Sha256));
        assert_eq!(md5.algorithm, Some(DigestAlgorithm::Md5));
        assert!(sha.qop_auth && !sha.stale);
        assert_eq!(sha.nonce, md5.nonce);
        assert_eq!(sha.realm, REALM);
        assert!(challenges[0].contains("qop=\"auth\""));
        let stale = server.challenge(t0, true);
        assert!(DigestChallenge::parse(&stale[0]).unwrap().stale);
        assert_ne!(DigestChallenge::parse(&stale[0]).unwrap().nonce, sha.nonce);
        let picked = select_challenge(challenges.iter().rev().map(String::as_str)).unwrap();
        assert_eq!(picked.algorithm, Some(DigestAlgorithm::Sha256));
    }

    #[test]
    fn round_trip_with_both_algorithms() {
        let mut server = server();
        let t0 = epoch();
        let challenges = server.challenge(t0, false);
        for index in 0..2 {
            let value = answer(&challenges, index, "secret", 1 + index as u32);
            let verdict = server.verify(t0, "REGISTER", &register_uri(), &value, alice);
            assert_eq!(
                verdict,
                Verdict::Ok {
                    username: "alice".into()
                },
                "{value}"
            );
        }
    }

    #[test]
    fn legacy_credentials_without_qop_are_single_use() {
        let mut server = server();
        let t0 = epoch();
        let challenges = server.challenge(t0, false);
        let no_qop = challenges[1].replace(", qop=\"auth\"", "");
        let value = answer_challenge(
            &no_qop,
            "REGISTER",
            "sip:switchboard.test",
            "alice",
            "secret",
            1,
            "x",
        )
        .unwrap();
        assert!(!value.contains("qop"));
        let uri = register_uri();
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &value, alice),
            Verdict::Ok {
                username: "alice".into()
            }
        );
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &value, alice),
            Verdict::Rejected(RejectReason::NonceCountReplay)
        );
        let mut strict = DigestServer::with_seed(
            DigestServerConfig {
                allow_no_qop: false,
                ..DigestServerConfig::new(REALM)
            },
            7,
        );
        let challenges = strict.challenge(t0, false);
        let no_qop = challenges[1].replace(", qop=\"auth\"", "");
        let value = answer_challenge(
            &no_qop,
            "REGISTER",
            "sip:switchboard.test",
            "alice",
            "secret",
            1,
            "x",
        )
        .unwrap();
        assert_eq!(
            strict.verify(t0, "REGISTER", &uri, &value, alice),
            Verdict::Rejected(RejectReason::UnsupportedQop)
        );
    }

    #[test]
    fn wrong_password_and_unknown_user_are_rejected() {
        let mut server = server();
        let t0 = epoch();
        let challenges = server.challenge(t0, false);
        let uri = register_uri();
        let wrong = answer(&challenges, 0, "guess", 1);
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &wrong, alice),
            Verdict::Rejected(RejectReason::WrongResponse)
        );
        let right = answer(&challenges, 0, "secret", 1);
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &right, |_| None),
            Verdict::Rejected(RejectReason::UnknownUser)
        );
        // A failed attempt does not burn the count: nc=1 still works.
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &right, alice),
            Verdict::Ok {
                username: "alice".into()
            }
        );
        // Only an MD5 HA1 stored: SHA-256 cannot authenticate.
        let md5_only = |_: &str| {
            let full = Ha1s::from_password("alice", REALM, "secret");
            Some(Ha1s::from_hex(full.get(DigestAlgorithm::Md5), None).unwrap())
        };
        let sha = answer(&challenges, 0, "secret", 2);
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &sha, md5_only),
            Verdict::Rejected(RejectReason::UnsupportedAlgorithm)
        );
        let md5 = answer(&challenges, 1, "secret", 3);
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &md5, md5_only),
            Verdict::Ok {
                username: "alice".into()
            }
        );
    }

    #[test]
    fn expired_nonce_is_stale_only_with_the_right_password() {
        let mut server = server();
        let t0 = epoch();
        let challenges = server.challenge(t0, false);
        let uri = register_uri();
        let later = t0 + Duration::from_secs(301);
        let right = answer(&challenges, 0, "secret", 1);
        assert_eq!(
            server.verify(later, "REGISTER", &uri, &right, alice),
            Verdict::Stale
        );
        let wrong = answer(&challenges, 0, "guess", 1);
        assert_eq!(
            server.verify(later, "REGISTER", &uri, &wrong, alice),
            Verdict::Rejected(RejectReason::WrongResponse)
        );
        let in_time = t0 + Duration::from_secs(299);
        assert_eq!(
            server.verify(in_time, "REGISTER", &uri, &right, alice),
            Verdict::Ok {
                username: "alice".into()
            }
        );
    }

    #[test]
    fn replayed_nonce_count_is_rejected() {
        let mut server = server();
        let t0 = epoch();
        let challenges = server.challenge(t0, false);
        let uri = register_uri();
        let ok = Verdict::Ok {
            username: "alice".into(),
        };
        let replay = Verdict::Rejected(RejectReason::NonceCountReplay);
        let first = answer(&challenges, 0, "secret", 1);
        assert_eq!(server.verify(t0, "REGISTER", &uri, &first, alice), ok);
        assert_eq!(server.verify(t0, "REGISTER", &uri, &first, alice), replay);
        let third = answer(&challenges, 0, "secret", 3);
        assert_eq!(server.verify(t0, "REGISTER", &uri, &third, alice), ok);
        let second = answer(&challenges, 0, "secret", 2);
        assert_eq!(server.verify(t0, "REGISTER", &uri, &second, alice), replay);
        assert_eq!(server.tracked_nonces(), 1);
    }

    #[test]
    fn forgotten_nonces_are_stale_not_replayable() {
        let mut server = DigestServer::with_seed(
            DigestServerConfig {
                max_tracked_nonces: 2,
                ..DigestServerConfig::new(REALM)
            },
            7,
        );
        let t0 = epoch();
        let uri = register_uri();
        let mut first_answers = Vec::new();
        for step in 0..3u64 {
            let now = t0 + Duration::from_millis(10 * step);
            let challenges = server.challenge(now, false);
            let value = answer(&challenges, 0, "secret", 1);
            assert!(matches!(
                server.verify(now, "REGISTER", &uri, &value, alice),
                Verdict::Ok { .. }
            ));
            first_answers.push(value);
        }
        assert_eq!(server.tracked_nonces(), 2);
        // The first nonce was evicted: its replay must not pass.
        assert_eq!(
            server.verify(
                t0 + Duration::from_secs(1),
                "REGISTER",
                &uri,
                &first_answers[0],
                alice
            ),
            Verdict::Stale
        );
        // The others are still tracked.
        assert_eq!(
            server.verify(
                t0 + Duration::from_secs(1),
                "REGISTER",
                &uri,
                &first_answers[2],
                alice
            ),
            Verdict::Rejected(RejectReason::NonceCountReplay)
        );
    }

    #[test]
    fn forged_nonces_are_rejected() {
        let mut server = server();
        let t0 = epoch();
        let uri = register_uri();
        let challenges = server.challenge(t0, false);
        let nonce = DigestChallenge::parse(&challenges[0])
            .unwrap()
            .nonce
            .into_owned();
        // Flip one digit of the timestamp: the MAC no longer matches.
        let mut forged = nonce.clone().into_bytes();
        forged[15] = if forged[15] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap();
        for fake in [forged.as_str(), "dcd98b7102dd2f0e8b11d0f600bfb0c093", ""] {
            let challenge = challenges[0].replace(&nonce, fake);
            let value = answer(&[challenge], 0, "secret", 1);
            assert_eq!(
                server.verify(t0, "REGISTER", &uri, &value, alice),
                Verdict::Rejected(RejectReason::InvalidNonce),
                "{fake}"
            );
        }
        // A nonce from another server (another secret) is foreign too.
        let mut other = DigestServer::with_seed(DigestServerConfig::new(REALM), 8);
        let value = answer(&other.challenge(t0, false), 0, "secret", 1);
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &value, alice),
            Verdict::Rejected(RejectReason::InvalidNonce)
        );
    }

    #[test]
    fn realm_uri_and_fields_are_checked() {
        let mut server = server();
        let t0 = epoch();
        let uri = register_uri();
        let challenges = server.challenge(t0, false);
        let value = answer(&challenges, 0, "secret", 1);

        let other_realm = value.replace("realm=\"switchboard.test\"", "realm=\"elsewhere\"");
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &other_realm, alice),
            Verdict::Rejected(RejectReason::RealmMismatch)
        );
        let elsewhere = parse_uri("sip:elsewhere.test").unwrap();
        assert_eq!(
            server.verify(t0, "REGISTER", &elsewhere, &value, alice),
            Verdict::Rejected(RejectReason::BadUri)
        );
        // Host case and an explicit default port do not matter.
        let same = parse_uri("sip:SwitchBoard.TEST:5060;transport=tcp").unwrap();
        assert!(matches!(
            server.verify(t0, "REGISTER", &same, &value, alice),
            Verdict::Ok { .. }
        ));
        let no_response = value.replace("response=", "other=");
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &no_response, alice),
            Verdict::Rejected(RejectReason::MissingField("response"))
        );
        let sess = value.replace("algorithm=SHA-256", "algorithm=SHA-256-sess");
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &sess, alice),
            Verdict::Rejected(RejectReason::UnsupportedAlgorithm)
        );
        let auth_int = value.replace("qop=auth", "qop=auth-int");
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &auth_int, alice),
            Verdict::Rejected(RejectReason::UnsupportedQop)
        );
        let no_nc = value.replace(", nc=00000001", "");
        assert_eq!(
            server.verify(t0, "REGISTER", &uri, &no_nc, alice),
            Verdict::Rejected(RejectReason::MissingField("nc"))
        );
        for broken in [
            "",
            "Digest",
            "Basic YWxpY2U6c2VjcmV0",
            "Digest username=\"alice",
            "Digest username=\"alice\" realm=\"x\"",
            "Digest username",
            "Digest username=\"a\", username=\"b\", realm=\"x\"",
        ] {
            let verdict = server.verify(t0, "REGISTER", &uri, broken, alice);
            assert!(
                matches!(
                    verdict,
                    Verdict::Malformed | Verdict::Rejected(RejectReason::MissingField(_))
                ),
                "{broken}: {verdict:?}"
            );
        }
    }

    #[test]
    fn usernames_with_quotes_round_trip() {
        let mut server = server();
        let t0 = epoch();
        let name = "o\"brien\\x";
        let lookup = |user: &str| (user == name).then(|| Ha1s::from_password(name, REALM, "pw"));
        let challenges = server.challenge(t0, false);
        let value = answer_challenge(
            &challenges[0],
            "REGISTER",
            "sip:switchboard.test",
            name,
            "pw",
            1,
            "c",
        )
        .unwrap();
        assert!(value.contains(r#"username="o\"brien\\x""#));
        assert_eq!(
            server.verify(t0, "REGISTER", &register_uri(), &value, lookup),
            Verdict::Ok {
                username: name.into()
            }
        );
    }

    #[test]
    fn upper_case_response_digits_are_accepted() {
        let mut server = server();
        let t0 = epoch();
        let challenges = server.challenge(t0, false);
        let value = answer(&challenges, 1, "secret", 1);
        let response = param(&value, "response").into_owned();
        let upper = value.replace(&response, &response.to_ascii_uppercase());
        assert!(matches!(
            server.verify(t0, "REGISTER", &register_uri(), &upper, alice),
            Verdict::Ok { .. }
        ));
    }

    #[test]
    fn proxy_flow_uses_the_same_digest() {
        assert_eq!(AuthKind::Proxy.status(), 407);
        assert_eq!(AuthKind::Proxy.challenge_header(), Name::PROXY_AUTHENTICATE);
        assert_eq!(
            AuthKind::Proxy.credentials_header(),
            Name::PROXY_AUTHORIZATION
        );
        assert_eq!(AuthKind::Www.status(), 401);
        assert_eq!(AuthKind::Www.credentials_header(), Name::AUTHORIZATION);
        let mut server = server();
        let t0 = epoch();
        let challenges = server.challenge(t0, false);
        let uri = parse_uri("sip:2000@switchboard.test").unwrap();
        let value = answer_challenge(
            &challenges[0],
            "INVITE",
            "sip:2000@switchboard.test",
            "alice",
            "secret",
            1,
            "c",
        )
        .unwrap();
        assert!(matches!(
            server.verify(t0, "INVITE", &uri, &value, alice),
            Verdict::Ok { .. }
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic(value in "\\PC{0,200}") {
            let mut server = server();
            let t0 = epoch();
            let _ = server.verify(t0, "REGISTER", &register_uri(), &value, alice);
            let _ = DigestChallenge::parse(&value);
        }
    }
}
