//! Digest authentication: RFC 3261 §22, with the RFC 7616 algorithms
//! (SHA-256 besides MD5) as RFC 8760 brings them to SIP.
//!
//! ```text
//!   UAC                                   DigestServer
//!    | REGISTER (no credentials)              |
//!    |--------------------------------------->| challenge(now, stale=false)
//!    | 401 WWW-Authenticate: SHA-256, MD5     |
//!    |<---------------------------------------|
//!    | REGISTER Authorization: response=…     |
//!    |--------------------------------------->| verify(now, …) -> Verdict
//! ```
//!
//! The server keeps no per-challenge state: a nonce is
//! `hex(issued_ms ‖ random ‖ HMAC-SHA256(secret, issued_ms ‖ random)[..16])`,
//! so it is checked by recomputing the MAC, and its age comes from inside it.
//! Only nonces that were answered correctly enter a bounded nonce-count
//! table, which rejects replays (RFC 7616 §3.4: nc must grow). Passwords are
//! not needed: the server stores `HA1 = H(username:realm:password)` per
//! algorithm ([`Ha1s`]).
//!
//! The client side, [`answer_challenge`], answers a trunk's challenge.
//!
//! Credentials are parsed here rather than by `ezk-sip-types`, whose parser
//! cuts a quoted string at an escaped quote, compares parameter names and
//! the scheme case-sensitively, and allocates a `Vec` per header.

use crate::message::{Host, Name, SipUri, SipUriUserPart};
use md5::Md5;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::borrow::{Borrow, Cow};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// A digest algorithm (RFC 7616 §3.2, RFC 8760 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `MD5`, the RFC 2617 default, still all that many phones speak.
    Md5,
    /// `SHA-256` (RFC 7616), preferred.
    Sha256,
}

impl DigestAlgorithm {
    /// The token as written in `algorithm=`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// Maps an `algorithm=` token, case-insensitively. The `-sess` variants
    /// and SHA-512-256 are not supported and give `None`.
    pub fn parse(token: &str) -> Option<DigestAlgorithm> {
        if token.eq_ignore_ascii_case("MD5") {
            Some(DigestAlgorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Some(DigestAlgorithm::Sha256)
        } else {
            None
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lower-case hex digest on the stack: 32 digits for MD5, 64 for SHA-256.
#[derive(Clone, Copy, PartialEq, Eq)]
struct HexDigest {
    digits: [u8; 64],
    len: u8,
}

impl HexDigest {
    fn as_bytes(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("hex digits are ASCII")
    }

    /// Parses and lower-cases `digits` hex digits.
    fn parse(text: &str, digits: usize) -> Option<HexDigest> {
        if text.len() != digits || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = HexDigest {
            digits: [0; 64],
            len: digits as u8,
        };
        for (slot, byte) in out.digits.iter_mut().zip(text.bytes()) {
            *slot = byte.to_ascii_lowercase();
        }
        Some(out)
    }
}

/// `H(part ‖ part ‖ …)` as lower-case hex, without allocating.
fn hash(algorithm: DigestAlgorithm, parts: &[&[u8]]) -> HexDigest {
    let mut out = HexDigest {
        digits: [0; 64],
        len: 0,
    };
    match algorithm {
        DigestAlgorithm::Md5 => {
            let mut hasher = Md5::new();
            for part in parts {
                hasher.update(part);
            }
            hex::encode_to_slice(hasher.finalize(), &mut out.digits[..32])
                .expect("an MD5 digest is 32 hex digits");
            out.len = 32;
        }
        DigestAlgorithm::Sha256 => {
            let mut hasher = Sha256::new();
            for part in parts {
                hasher.update(part);
            }
            hex::encode_to_slice(hasher.finalize(), &mut out.digits)
                .expect("a SHA-256 digest is 64 hex digits");
            out.len = 64;
        }
    }
    out
}

fn ha1_digest(
    algorithm: DigestAlgorithm,
    username: &str,
    realm: &str,
    password: &str,
) -> HexDigest {
    hash(
        algorithm,
        &[
            username.as_bytes(),
            b":",
            realm.as_bytes(),
            b":",
            password.as_bytes(),
        ],
    )
}

/// `HA1 = H(username ":" realm ":" password)` as lower-case hex (RFC 7616
/// §3.4.2), what a user database stores instead of the password.
pub fn ha1(username: &str, realm: &str, password: &str, algorithm: DigestAlgorithm) -> String {
    ha1_digest(algorithm, username, realm, password)
        .as_str()
        .to_owned()
}

/// The expected `response` (RFC 7616 §3.4.1); `qop` is `(nc, cnonce, qop)`
/// as the client sent them, or `None` for RFC 2069 clients.
fn response_digest(
    algorithm: DigestAlgorithm,
    ha1: &[u8],
    nonce: &str,
    method: &str,
    uri: &str,
    qop: Option<(&str, &str, &str)>,
) -> HexDigest {
    let ha2 = hash(algorithm, &[method.as_bytes(), b":", uri.as_bytes()]);
    match qop {
        Some((nc, cnonce, qop)) => hash(
            algorithm,
            &[
                ha1,
                b":",
                nonce.as_bytes(),
                b":",
                nc.as_bytes(),
                b":",
                cnonce.as_bytes(),
                b":",
                qop.as_bytes(),
                b":",
                ha2.as_bytes(),
            ],
        ),
        None => hash(
            algorithm,
            &[ha1, b":", nonce.as_bytes(), b":", ha2.as_bytes()],
        ),
    }
}

/// A user's stored secrets: HA1 per algorithm, for one realm. `Copy` and
/// heap-free, so a lookup per request costs no allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ha1s {
    md5: Option<HexDigest>,
    sha256: Option<HexDigest>,
}

impl Ha1s {
    /// Both HA1s computed from a password.
    pub fn from_password(username: &str, realm: &str, password: &str) -> Ha1s {
        Ha1s {
            md5: Some(ha1_digest(DigestAlgorithm::Md5, username, realm, password)),
            sha256: Some(ha1_digest(
                DigestAlgorithm::Sha256,
                username,
                realm,
                password,
            )),
        }
    }

    /// HA1s as stored (hex, either case); a user may have only one of them,
    /// and then only that algorithm can authenticate.
    pub fn from_hex(md5: Option<&str>, sha256: Option<&str>) -> Result<Ha1s, AuthError> {
        let md5 = md5
            .map(|text| HexDigest::parse(text, 32).ok_or(AuthError::InvalidHa1))
            .transpose()?;
        let sha256 = sha256
            .map(|text| HexDigest::parse(text, 64).ok_or(AuthError::InvalidHa1))
            .transpose()?;
        Ok(Ha1s { md5, sha256 })
    }

    /// The HA1 for `algorithm` as lower-case hex, if stored.
    pub fn get(&self, algorithm: DigestAlgorithm) -> Option<&str> {
        self.digest(algorithm).map(HexDigest::as_str)
    }

    fn digest(&self, algorithm: DigestAlgorithm) -> Option<&HexDigest> {
        match algorithm {
            DigestAlgorithm::Md5 => self.md5.as_ref(),
            DigestAlgorithm::Sha256 => self.sha256.as_ref(),
        }
    }
}

impl fmt::Debug for Ha1s {
    // HA1 is password-equivalent for its realm: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ha1s")
            .field("md5", &self.md5.map(|_| "<redacted>"))
            .field("sha256", &self.sha256.map(|_| "<redacted>"))
            .finish()
    }
}

/// Why a challenge or credentials could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The scheme is not `Digest` (say `Basic`).
    #[error("Not A Digest Header")]
    NotDigest,
    /// Broken syntax: an unterminated quote, a parameter without `=`, a
    /// duplicated parameter, a bad `nc` or `stale`.
    #[error("Malformed Digest Header")]
    Malformed,
    /// A mandatory parameter is absent.
    #[error("Missing {0} In Digest Header")]
    MissingField(&'static str),
    /// An algorithm other than MD5 and SHA-256 (`-sess`, SHA-512-256).
    #[error("Unsupported Digest Algorithm")]
    UnsupportedAlgorithm,
    /// A qop other than `auth` (`auth-int` is not supported).
    #[error("Unsupported Digest qop")]
    UnsupportedQop,
    /// `userhash=true` or `username*` (RFC 7616 §3.4.4), not supported.
    #[error("Unsupported Digest userhash")]
    UnsupportedUserhash,
    /// An nc of zero: counts start at 1.
    #[error("Invalid Nonce Count")]
    InvalidNonceCount,
    /// A stored HA1 that is not 32 (MD5) or 64 (SHA-256) hex digits.
    #[error("Invalid HA1")]
    InvalidHa1,
}

// ---------------------------------------------------------------------------
// auth-param syntax (RFC 7616 §3.3, §3.4; RFC 7235 §2.1)

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

/// Splits `Scheme a=b, c="d"` into the scheme and its parameters.
fn split_scheme(value: &str) -> Option<(&str, AuthParams<'_>)> {
    let value = value.trim_start();
    let end = value
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(value.len());
    let scheme = &value[..end];
    if scheme.is_empty() || !scheme.chars().all(is_token_char) {
        return None;
    }
    Some((
        scheme,
        AuthParams {
            rest: &value[end..],
        },
    ))
}

/// `name=token` or `name="quoted string"` pairs separated by commas. Quoted
/// values come back unescaped (borrowed unless they held a `\`).
struct AuthParams<'a> {
    rest: &'a str,
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = Result<(&'a str, Cow<'a, str>), AuthError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self
            .rest
            .trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            self.rest = rest;
            return None;
        }
        let item = Self::param(rest);
        match &item {
            Ok((_, _, after)) => self.rest = after,
            Err(_) => self.rest = "",
        }
        Some(item.map(|(name, value, _)| (name, value)))
    }
}

impl<'a> AuthParams<'a> {
    fn param(input: &'a str) -> Result<(&'a str, Cow<'a, str>, &'a str), AuthError> {
        let name_end = input
            .find(|c: char| !is_token_char(c))
            .unwrap_or(input.len());
        let (name, after) = input.split_at(name_end);
        if name.is_empty() {
            return Err(AuthError::Malformed);
        }
        let after = after
            .trim_start()
            .strip_prefix('=')
            .ok_or(AuthError::Malformed)?
            .trim_start();
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => {
                let end = after
                    .find(|c: char| c == ',' || c.is_ascii_whitespace())
                    .unwrap_or(after.len());
                if end == 0 {
                    return Err(AuthError::Malformed);
                }
                (Cow::Borrowed(&after[..end]), &after[end..])
            }
        };
        let after = after.trim_start();
        if !after.is_empty() && !after.starts_with(',') {
            return Err(AuthError::Malformed);
        }
        Ok((name, value, after))
    }
}

/// Reads a quoted string whose opening quote is already consumed; returns
/// the unescaped content and what follows the closing quote.
fn unquote(input: &str) -> Result<(Cow<'_, str>, &str), AuthError> {
    let bytes = input.as_bytes();
    let mut owned: Option<String> = None;
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => {
                let value = match owned {
                    None => Cow::Borrowed(&input[..index]),
                    Some(mut text) => {
                        text.push_str(&input[start..index]);
                        Cow::Owned(text)
                    }
                };
                return Ok((value, &input[index + 1..]));
            }
            b'\\' => {
                // quoted-pair: keep the next character, drop the backslash.
                if index + 1 >= bytes.len() {
                    return Err(AuthError::Malformed);
                }
                owned
                    .get_or_insert_with(|| String::with_capacity(input.len()))
                    .push_str(&input[start..index]);
                start = index + 1;
                index += 2;
            }
            _ => index += 1,
        }
    }
    Err(AuthError::Malformed)
}

/// Appends `value` as a quoted string, escaping `"` and `\`.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn set_once<'a>(slot: &mut Option<Cow<'a, str>>, value: Cow<'a, str>) -> Result<(), AuthError> {
    if slot.replace(value).is_some() {
        return Err(AuthError::Malformed);
    }
    Ok(())
}

/// A nonce count as sent: its value and its exact text, which is hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceCount<'a> {
    /// The count, from 1.
    pub value: u32,
    /// The eight hex digits as sent.
    pub text: Cow<'a, str>,
}

/// The parameters of an `Authorization` or `Proxy-Authorization` Digest
/// header (RFC 3261 §22.4, RFC 7616 §3.4), borrowed from the header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials<'a> {
    /// `username`.
    pub username: Cow<'a, str>,
    /// `realm`.
    pub realm: Cow<'a, str>,
    /// `nonce`, as issued by the server.
    pub nonce: Cow<'a, str>,
    /// `uri`: the Request-URI the client hashed.
    pub uri: Cow<'a, str>,
    /// `response`: hex digits.
    pub response: Cow<'a, str>,
    /// `algorithm`; MD5 when absent.
    pub algorithm: DigestAlgorithm,
    /// `qop` as sent; when present it is `auth` (in any case).
    pub qop: Option<Cow<'a, str>>,
    /// `cnonce`; present whenever `qop` is.
    pub cnonce: Option<Cow<'a, str>>,
    /// `nc`; present whenever `qop` is.
    pub nc: Option<NonceCount<'a>>,
    /// `opaque`, echoed from the challenge (this server sends none).
    pub opaque: Option<Cow<'a, str>>,
}

impl<'a> DigestCredentials<'a> {
    /// Parses a credentials header value. Parameter names and the scheme
    /// are case-insensitive; unknown parameters are ignored.
    pub fn parse(value: &'a str) -> Result<DigestCredentials<'a>, AuthError> {
        let (scheme, params) = split_scheme(value).ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest);
        }
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut cnonce = None;
        let mut nc = None;
        let mut opaque = None;
        let mut userhash = None;
        let mut username_star = None;
        for param in params {
            let (name, value) = param?;
            let slot = match name.to_ascii_lowercase().as_str() {
                "username" => &mut username,
                "realm" => &mut realm,
                "nonce" => &mut nonce,
                "uri" => &mut uri,
                "response" => &mut response,
                "algorithm" => &mut algorithm,
                "qop" => &mut qop,
                "cnonce" => &mut cnonce,
                "nc" => &mut nc,
                "opaque" => &mut opaque,
                "userhash" => &mut userhash,
                "username*" => &mut username_star,
                _ => continue,
            };
            set_once(slot, value)?;
        }
        if userhash.is_some_and(|value: Cow<'_, str>| value.eq_ignore_ascii_case("true")) {
            return Err(AuthError::UnsupportedUserhash);
        }
        let username = match (username, username_star) {
            (Some(username), None) => username,
            (None, Some(_)) => return Err(AuthError::UnsupportedUserhash),
            (Some(_), Some(_)) => return Err(AuthError::Malformed),
            (None, None) => return Err(AuthError::MissingField("username")),
        };
        let algorithm = match algorithm {
            None => DigestAlgorithm::Md5,
            Some(token) => DigestAlgorithm::parse(&token).ok_or(AuthError::UnsupportedAlgorithm)?,
        };
        let nc = match nc {
            None => None,
            Some(text) => {
                if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(AuthError::Malformed);
                }
                let value = u32::from_str_radix(&text, 16).map_err(|_| AuthError::Malformed)?;
                Some(NonceCount { value, text })
            }
        };
        if let Some(qop) = &qop {
            if !qop.eq_ignore_ascii_case("auth") {
                return Err(AuthError::UnsupportedQop);
            }
            if cnonce.is_none() {
                return Err(AuthError::MissingField("cnonce"));
            }
            match &nc {
                None => return Err(AuthError::MissingField("nc")),
                Some(count) if count.value == 0 => return Err(AuthError::InvalidNonceCount),
                Some(_) => {}
            }
        }
        Ok(DigestCredentials {
            username,
            realm: realm.ok_or(AuthError::MissingField("realm"))?,
            nonce: nonce.ok_or(AuthError::MissingField("nonce"))?,
            uri: uri.ok_or(AuthError::MissingField("uri"))?,
            response: response.ok_or(AuthError::MissingField("response"))?,
            algorithm,
            qop,
            cnonce,
            nc,
            opaque,
        })
    }
}

// ---------------------------------------------------------------------------
// Server side

/// Whether a challenge comes from the user agent server itself (401) or a
/// proxy (407) (RFC 3261 §22.2, §22.3). The digest is the same; only the
/// status and header names differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `401 Unauthorized`, `WWW-Authenticate`, `Authorization`.
    Www,
    /// `407 Proxy Authentication Required`, `Proxy-Authenticate`,
    /// `Proxy-Authorization`.
    Proxy,
}

impl AuthKind {
    /// The status code of the challenge.
    pub fn status(self) -> u16 {
        match self {
            AuthKind::Www => 401,
            AuthKind::Proxy => 407,
        }
    }

    /// The header that carries challenges.
    pub fn challenge_header(self) -> Name {
        match self {
            AuthKind::Www => Name::WWW_AUTHENTICATE,
            AuthKind::Proxy => Name::PROXY_AUTHENTICATE,
        }
    }

    /// The header that carries credentials.
    pub fn credentials_header(self) -> Name {
        match self {
            AuthKind::Www => Name::AUTHORIZATION,
            AuthKind::Proxy => Name::PROXY_AUTHORIZATION,
        }
    }
}

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

/// A map with at most `capacity` entries that forgets the oldest inserted
/// one when full.
struct BoundedMap<K, V> {
    entries: HashMap<K, (u64, V)>,
    // Insertion order; entries whose sequence number no longer matches were
    // removed and are skipped.
    order: VecDeque<(K, u64)>,
    capacity: usize,
    next_sequence: u64,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    fn new(capacity: usize) -> Self {
        BoundedMap {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            next_sequence: 0,
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key).map(|(_, value)| value)
    }

    /// Inserts a new key (or replaces a value in place); returns the entry
    /// evicted to make room.
    fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some((_, slot)) = self.entries.get_mut(&key) {
            *slot = value;
            return None;
        }
        let mut evicted = None;
        while self.entries.len() >= self.capacity {
            let Some((old, sequence)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&old).is_some_and(|(s, _)| *s == sequence) {
                let (_, value) = self.entries.remove(&old).expect("just looked up");
                evicted = Some((old, value));
            }
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.order.push_back((key.clone(), sequence));
        self.entries.insert(key, (sequence, value));
        evicted
    }

    fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = self.entries.remove(key).map(|(_, value)| value);
        if self.order.len() > 2 * self.capacity + 64 {
            let entries = &self.entries;
            self.order.retain(|(entry, sequence)| {
                entries
                    .get::<K>(entry)
                    .is_some_and(|(current, _)| current == sequence)
            });
        }
        removed
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
        let mut rng = StdRng::from_os_rng();
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        DigestServer::with_secret(config, &secret, rng)
    }

    /// A deterministic server for tests and simulations: the secret and the
    /// nonces' random parts derive from `seed`.
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
    let user = |uri: &SipUri| match &uri.user_part {
        SipUriUserPart::Empty => None,
        SipUriUserPart::User(user) => Some(user.as_str().to_owned()),
        SipUriUserPart::UserPw(user_pw) => Some(user_pw.user.as_str().to_owned()),
    };
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
        && user(&uri) == user(request_uri)
}

/// Counts consecutive failed authentications per user and locks a user out
/// for a while after too many. Bounded: when full, the oldest entry is
/// forgotten.
pub struct Lockout {
    threshold: u32,
    duration: Duration,
    users: BoundedMap<String, FailureState>,
}

#[derive(Debug, Clone, Copy)]
struct FailureState {
    consecutive: u32,
    locked_until: Option<Instant>,
}

impl fmt::Debug for Lockout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lockout")
            .field("threshold", &self.threshold)
            .field("duration", &self.duration)
            .field("tracked", &self.users.len())
            .finish()
    }
}

impl Lockout {
    /// Locks a user for `duration` after `threshold` consecutive failures
    /// (0 disables locking), remembering at most `capacity` users.
    pub fn new(threshold: u32, duration: Duration, capacity: usize) -> Lockout {
        Lockout {
            threshold,
            duration,
            users: BoundedMap::new(capacity),
        }
    }

    /// When `user`'s lock ends, if locked at `now`. An expired lock is
    /// cleared, with its failure count.
    pub fn locked_until(&mut self, now: Instant, user: &str) -> Option<Instant> {
        let state = self.users.get_mut(user)?;
        match state.locked_until {
            Some(until) if until > now => Some(until),
            Some(_) => {
                self.users.remove(user);
                None
            }
            None => None,
        }
    }

    /// Counts a failed authentication; returns when the lock ends if this
    /// failure locked the user.
    pub fn record_failure(&mut self, now: Instant, user: &str) -> Option<Instant> {
        if self.threshold == 0 {
            return None;
        }
        let state = match self.users.get_mut(user) {
            Some(state) => state,
            None => {
                self.users.insert(
                    user.to_owned(),
                    FailureState {
                        consecutive: 0,
                        locked_until: None,
                    },
                );
                self.users.get_mut(user).expect("just inserted")
            }
        };
        state.consecutive += 1;
        if state.consecutive >= self.threshold {
            let until = now + self.duration;
            state.consecutive = 0;
            state.locked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// A successful authentication resets the count.
    pub fn record_success(&mut self, user: &str) {
        self.users.remove(user);
    }

    /// How many users have failures or locks on record.
    pub fn tracked(&self) -> usize {
        self.users.len()
    }
}

// ---------------------------------------------------------------------------
// Client side

/// A Digest challenge from a `WWW-Authenticate` or `Proxy-Authenticate`
/// header (RFC 7616 §3.3), borrowed from the header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge<'a> {
    /// `realm`.
    pub realm: Cow<'a, str>,
    /// `nonce`.
    pub nonce: Cow<'a, str>,
    /// `opaque`, to be echoed.
    pub opaque: Option<Cow<'a, str>>,
    /// `algorithm`, `None` when absent (which means MD5).
    pub algorithm: Option<DigestAlgorithm>,
    /// Whether `qop` offers `auth`; when false no qop was offered and the
    /// answer uses the RFC 2069 form.
    pub qop_auth: bool,
    /// `stale=true`: the previous credentials were right, only the nonce
    /// expired, so retry without asking the user.
    pub stale: bool,
}

impl<'a> DigestChallenge<'a> {
    /// Parses one challenge. A qop list without `auth` (only `auth-int`)
    /// and algorithms other than MD5 and SHA-256 are errors.
    pub fn parse(value: &'a str) -> Result<DigestChallenge<'a>, AuthError> {
        let (scheme, params) = split_scheme(value).ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest);
        }
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut stale = None;
        for param in params {
            let (name, value) = param?;
            let slot = match name.to_ascii_lowercase().as_str() {
                "realm" => &mut realm,
                "nonce" => &mut nonce,
                "opaque" => &mut opaque,
                "algorithm" => &mut algorithm,
                "qop" => &mut qop,
                "stale" => &mut stale,
                _ => continue,
            };
            set_once(slot, value)?;
        }
        let algorithm = match algorithm {
            None => None,
            Some(token) => {
                Some(DigestAlgorithm::parse(&token).ok_or(AuthError::UnsupportedAlgorithm)?)
            }
        };
        let qop_auth = match qop {
            None => false,
            Some(list) => {
                if !list
                    .split(',')
                    .any(|option| option.trim().eq_ignore_ascii_case("auth"))
                {
                    return Err(AuthError::UnsupportedQop);
                }
                true
            }
        };
        let stale = match stale {
            None => false,
            Some(flag) if flag.eq_ignore_ascii_case("true") => true,
            Some(flag) if flag.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err(AuthError::Malformed),
        };
        Ok(DigestChallenge {
            realm: realm.ok_or(AuthError::MissingField("realm"))?,
            nonce: nonce.ok_or(AuthError::MissingField("nonce"))?,
            opaque,
            algorithm,
            qop_auth,
            stale,
        })
    }

    /// The algorithm to answer with.
    pub fn effective_algorithm(&self) -> DigestAlgorithm {
        self.algorithm.unwrap_or(DigestAlgorithm::Md5)
    }

    /// The `Authorization` (or `Proxy-Authorization`) value answering this
    /// challenge for a request with `method` and Request-URI `uri`. `nc`
    /// counts requests made with this nonce, from 1; `cnonce` is a fresh
    /// random token of the caller's.
    pub fn answer(
        &self,
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        nc: u32,
        cnonce: &str,
    ) -> Result<String, AuthError> {
        let algorithm = self.effective_algorithm();
        if self.qop_auth && nc == 0 {
            return Err(AuthError::InvalidNonceCount);
        }
        let ha1 = ha1_digest(algorithm, username, &self.realm, password);
        let nc_text = format!("{nc:08x}");
        let qop = self.qop_auth.then_some((nc_text.as_str(), cnonce, "auth"));
        let response = response_digest(algorithm, ha1.as_bytes(), &self.nonce, method, uri, qop);

        let mut value = String::with_capacity(320);
        value.push_str("Digest username=");
        push_quoted(&mut value, username);
        value.push_str(", realm=");
        push_quoted(&mut value, &self.realm);
        value.push_str(", nonce=");
        push_quoted(&mut value, &self.nonce);
        value.push_str(", uri=");
        push_quoted(&mut value, uri);
        value.push_str(", response=\"");
        value.push_str(response.as_str());
        value.push('"');
        if let Some(algorithm) = self.algorithm {
            value.push_str(", algorithm=");
            value.push_str(algorithm.as_str());
        }
        if let Some(opaque) = &self.opaque {
            value.push_str(", opaque=");
            push_quoted(&mut value, opaque);
        }
        if self.qop_auth {
            value.push_str(", qop=auth, nc=");
            value.push_str(&nc_text);
            value.push_str(", cnonce=");
            push_quoted(&mut value, cnonce);
        }
        Ok(value)
    }
}

/// Answers one challenge header value: [`DigestChallenge::parse`] then
/// [`DigestChallenge::answer`].
pub fn answer_challenge(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    nc: u32,
    cnonce: &str,
) -> Result<String, AuthError> {
    DigestChallenge::parse(challenge)?.answer(method, uri, username, password, nc, cnonce)
}

/// Picks the challenge to answer among a response's challenge headers:
/// SHA-256 before MD5, the first of equals (RFC 8760 §2.4). Challenges this
/// side cannot answer are skipped.
pub fn select_challenge<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Option<DigestChallenge<'a>> {
    let mut best: Option<DigestChallenge<'a>> = None;
    for value in values {
        let Ok(challenge) = DigestChallenge::parse(value) else {
            continue;
        };
        let better = match &best {
            None => true,
            Some(current) => {
                current.effective_algorithm() == DigestAlgorithm::Md5
                    && challenge.effective_algorithm() == DigestAlgorithm::Sha256
            }
        };
        if better {
            best = Some(challenge);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse_uri;

    /// A clock origin; the tests only add durations to it.
    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        Instant::now()
    }

    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616_challenge(algorithm: &str) -> String {
        format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={algorithm}, nonce=\"{RFC7616_NONCE}\", opaque=\"{RFC7616_OPAQUE}\""
        )
    }

    fn param<'a>(value: &'a str, name: &str) -> Cow<'a, str> {
        let (_, params) = split_scheme(value).unwrap();
        params
            .map(Result::unwrap)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {name} in {value}"))
    }

    #[test]
    fn rfc7616_sha256_vector() {
        let answer = answer_challenge(
            &rfc7616_challenge("SHA-256"),
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            1,
            RFC7616_CNONCE,
        )
        .unwrap();
        assert_eq!(
            param(&answer, "response"),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert_eq!(param(&answer, "nc"), "00000001");
        assert_eq!(param(&answer, "qop"), "auth");
        assert_eq!(param(&answer, "algorithm"), "SHA-256");
        assert_eq!(param(&answer, "opaque"), RFC7616_OPAQUE);
    }

    #[test]
    fn rfc7616_md5_vector() {
        let answer = answer_challenge(
            &rfc7616_challenge("MD5"),
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            1,
            RFC7616_CNONCE,
        )
        .unwrap();
        assert_eq!(
            param(&answer, "response"),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc2617_vector_with_qop() {
        assert_eq!(
            ha1(
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life",
                DigestAlgorithm::Md5
            ),
            "939e7578ed9e3c518a452acee763bce9"
        );
        let challenge = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let answer = answer_challenge(
            challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            1,
            "0a4f113b",
        )
        .unwrap();
        assert_eq!(
            param(&answer, "response"),
            "6629fae49393a05397450978507c4ef1"
        );
        // No algorithm in the challenge: none in the answer either.
        assert!(!answer.contains("algorithm"));
    }

    #[test]
    fn rfc2069_vector_without_qop() {
        // RFC 2069 §2.4 as corrected by erratum 749.
        let challenge = "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let answer = answer_challenge(
            challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "CircleOfLife",
            1,
            "unused",
        )
        .unwrap();
        assert_eq!(
            param(&answer, "response"),
            "1949323746fe6a43ef61f9606e7febea"
        );
        assert!(!answer.contains("qop") && !answer.contains("cnonce") && !answer.contains("nc="));
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
    fn parser_handles_escapes_case_and_spacing() {
        let value = r#"digest USERNAME="al\"ice\\" ,Realm = "r" , nonce="n",uri="sip:x",response="AB",NC=0000000A,qop="auth",cnonce="c""#;
        let credentials = DigestCredentials::parse(value).unwrap();
        assert_eq!(credentials.username, "al\"ice\\");
        assert!(matches!(credentials.username, Cow::Owned(_)));
        assert!(matches!(credentials.realm, Cow::Borrowed("r")));
        assert_eq!(credentials.nc.as_ref().unwrap().value, 10);
        assert_eq!(credentials.nc.as_ref().unwrap().text, "0000000A");
        assert_eq!(credentials.qop.as_deref(), Some("auth"));
        assert_eq!(credentials.algorithm, DigestAlgorithm::Md5);
        assert_eq!(
            DigestCredentials::parse(&value.replace("0000000A", "+0000001")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            DigestCredentials::parse(&value.replace(",NC=0000000A", ", userhash=true")),
            Err(AuthError::UnsupportedUserhash)
        );
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

    #[test]
    fn ha1s_from_hex_and_redacted_debug() {
        let full = Ha1s::from_password("alice", REALM, "secret");
        let upper = full
            .get(DigestAlgorithm::Sha256)
            .unwrap()
            .to_ascii_uppercase();
        let parsed = Ha1s::from_hex(full.get(DigestAlgorithm::Md5), Some(&upper)).unwrap();
        assert_eq!(parsed, full);
        assert_eq!(
            Ha1s::from_hex(Some("abc"), None),
            Err(AuthError::InvalidHa1)
        );
        let debug = format!("{full:?}");
        assert!(!debug.contains(full.get(DigestAlgorithm::Md5).unwrap()));
    }

    #[test]
    fn lockout_counts_consecutive_failures() {
        let t0 = epoch();
        let mut lockout = Lockout::new(3, Duration::from_secs(60), 10);
        assert_eq!(lockout.record_failure(t0, "bob"), None);
        lockout.record_success("bob");
        assert_eq!(lockout.record_failure(t0, "bob"), None);
        assert_eq!(lockout.record_failure(t0, "bob"), None);
        let until = lockout.record_failure(t0, "bob").unwrap();
        assert_eq!(until, t0 + Duration::from_secs(60));
        assert_eq!(
            lockout.locked_until(t0 + Duration::from_secs(59), "bob"),
            Some(until)
        );
        assert_eq!(
            lockout.locked_until(t0 + Duration::from_secs(60), "bob"),
            None
        );
        assert_eq!(lockout.tracked(), 0);
        // Bounded: the oldest user is forgotten.
        let mut small = Lockout::new(3, Duration::from_secs(60), 2);
        for user in ["a", "b", "c"] {
            small.record_failure(t0, user);
        }
        assert_eq!(small.tracked(), 2);
    }

    #[test]
    fn bounded_map_survives_churn() {
        let mut map = BoundedMap::new(4);
        for round in 0..1_000u32 {
            map.insert(round % 7, round);
            if round % 3 == 0 {
                map.remove(&(round % 7));
            }
            assert!(map.len() <= 4);
            assert!(map.order.len() <= 2 * 4 + 64 + 1);
        }
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
