//! The client side of digest authentication: answering a trunk's or a
//! proxy's challenge.

use super::syntax::push_quoted;
use super::{AuthError, AuthKind, DigestAlgorithm, DigestChallenge, ha1_digest, response_digest};
use crate::message::Response;

impl DigestChallenge<'_> {
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

/// The challenge to answer in a `401` or `407` response, with its kind (so
/// the caller knows which credentials header to send): the preferred one
/// of its `WWW-Authenticate` or `Proxy-Authenticate` values, as
/// [`select_challenge`] picks. `None` for other statuses, or when no value
/// is a digest challenge this side can answer.
pub fn response_challenge(response: &Response) -> Option<(AuthKind, DigestChallenge<'_>)> {
    let kind = match response.status {
        401 => AuthKind::Www,
        407 => AuthKind::Proxy,
        _ => return None,
    };
    let challenge = select_challenge(
        response
            .headers
            .all(&kind.challenge_header())
            .map(|value| value.as_str()),
    )?;
    Some((kind, challenge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::syntax::test_param as param;
    use crate::auth::{DigestAlgorithm, ha1};
    use crate::message::Name;

    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616_challenge(algorithm: &str) -> String {
        format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={algorithm}, nonce=\"{RFC7616_NONCE}\", opaque=\"{RFC7616_OPAQUE}\""
        )
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
    fn response_challenge_takes_the_kind_from_the_status() {
        let invite = crate::testing::invite("z9hG4bK-auth");
        let mut proxy = crate::testing::response_to(&invite, 407, Some("t"));
        proxy.headers.push(
            Name::PROXY_AUTHENTICATE,
            "Digest realm=\"trunk\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"",
        );
        proxy.headers.push(
            Name::PROXY_AUTHENTICATE,
            "Digest realm=\"trunk\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\"",
        );
        let (kind, challenge) = response_challenge(&proxy).unwrap();
        assert_eq!(kind, AuthKind::Proxy);
        assert_eq!(challenge.effective_algorithm(), DigestAlgorithm::Sha256);

        // A 401 is answered from WWW-Authenticate only.
        let mut server = crate::testing::response_to(&invite, 401, Some("t"));
        server.headers.push(
            Name::PROXY_AUTHENTICATE,
            "Digest realm=\"trunk\", nonce=\"n2\", qop=\"auth\"",
        );
        assert!(response_challenge(&server).is_none());
        server.headers.push(
            Name::WWW_AUTHENTICATE,
            "Digest realm=\"trunk\", nonce=\"n3\", qop=\"auth\"",
        );
        let (kind, challenge) = response_challenge(&server).unwrap();
        assert_eq!(kind, AuthKind::Www);
        assert_eq!(challenge.nonce, "n3");

        let ok = crate::testing::response_to(&invite, 200, Some("t"));
        assert!(response_challenge(&ok).is_none());
    }
}
