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
//! algorithm ([`Ha1s`]). A [`Lockout`] counts failed attempts per user.
//!
//! The client side, [`answer_challenge`], answers a trunk's challenge.
//!
//! Files: `syntax` parses challenges and credentials, `server` and `client`
//! are the two roles, `lockout` and `bounded_map` bound what failures and
//! nonce counts may cost in memory.

mod bounded_map;
mod client;
mod lockout;
mod server;
mod syntax;

pub use client::{answer_challenge, response_challenge, select_challenge};
pub use lockout::Lockout;
pub use server::{DigestServer, DigestServerConfig, RejectReason, Verdict};
pub use syntax::{DigestChallenge, DigestCredentials, NonceCount};

use crate::message::Name;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1s_from_hex_and_redacted_debug() {
        let full = Ha1s::from_password("alice", "switchboard.test", "secret");
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
}
