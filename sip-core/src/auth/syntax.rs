//! The auth-param syntax of challenges and credentials (RFC 7616 §3.3,
//! §3.4; RFC 7235 §2.1).
//!
//! Parsed here rather than by `ezk-sip-types`, whose parser rejects a
//! quoted string holding an escaped quote, keeps the backslashes of other
//! escapes, compares the scheme and parameter names case-sensitively, and
//! lets a repeated parameter silently win. Values are borrowed from the
//! header unless they held an escape.

use super::{AuthError, DigestAlgorithm};
use std::borrow::Cow;

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

/// Splits `Scheme a=b, c="d"` into the scheme and its parameters.
/// The value of auth-param `name` in a header value (tests only).
#[cfg(test)]
pub(super) fn test_param<'a>(value: &'a str, name: &str) -> std::borrow::Cow<'a, str> {
    let (_, params) = split_scheme(value).unwrap();
    params
        .map(Result::unwrap)
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {value}"))
}

pub(super) fn split_scheme(value: &str) -> Option<(&str, AuthParams<'_>)> {
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
pub(super) struct AuthParams<'a> {
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
pub(super) fn push_quoted(out: &mut String, value: &str) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn challenges_parse_strictly() {
        let challenge = DigestChallenge::parse(
            "Digest realm=\"\", NONCE=abc, qop=\"auth-int, auth\", stale=TRUE, algorithm=\"sha-256\"",
        )
        .unwrap();
        assert_eq!(challenge.realm, "");
        assert_eq!(challenge.nonce, "abc");
        assert!(challenge.qop_auth && challenge.stale);
        assert_eq!(challenge.algorithm, Some(DigestAlgorithm::Sha256));
        let errors = [
            (
                "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
                AuthError::UnsupportedQop,
            ),
            (
                "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess",
                AuthError::UnsupportedAlgorithm,
            ),
            (
                "Digest realm=\"r\", nonce=\"n\", stale=maybe",
                AuthError::Malformed,
            ),
            ("Digest nonce=\"n\"", AuthError::MissingField("realm")),
            ("Basic realm=\"r\"", AuthError::NotDigest),
            // Two challenges folded into one value are not split here.
            (
                "Digest realm=\"r\", nonce=\"n\", Digest realm=\"s\"",
                AuthError::Malformed,
            ),
        ];
        for (value, error) in errors {
            assert_eq!(DigestChallenge::parse(value), Err(error), "{value}");
        }
    }
}
