//! Session descriptions (RFC 8866) and the offer/answer model (RFC 3264)
//! for one G.711 audio stream with RFC 4733 telephone-events.
//!
//! Parsing and printing are the `sdp-types` crate's: it accepted every real
//! trunk body tried (no `t=` line, Cisco attributes, T.38), and keeps
//! unknown lines. [`SessionDescription`] wraps it so callers never see its
//! types and it can be swapped. The offer/answer rules are ours: [`offer`],
//! [`answer`] and [`accept_answer`].

mod direction;
mod media_description;
mod offer_answer;

pub use direction::Direction;
pub use media_description::Ptime;
pub use offer_answer::{
    Answer, CodecPreference, LocalMedia, NegotiatedMedia, NegotiationError, SessionOrigin,
    accept_answer, answer, answer_with_direction, offer,
};

use std::fmt;
use std::str::FromStr;

/// The MIME type of an SDP body, for the SIP layer's `Content-Type`.
pub const CONTENT_TYPE: &str = "application/sdp";

/// A parsed SDP session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    inner: sdp_types::Session,
}

/// Why a body is not a session description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed session description: {reason}")]
pub struct SdpParseError {
    reason: String,
}

impl SdpParseError {
    /// What is wrong, with the line number, for logs and a SIP reason
    /// phrase.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl SessionDescription {
    /// Parses an SDP body. Lenient where real peers are (missing `t=`,
    /// `o=` or `s=`, LF line ends, unknown lines), strict where it matters
    /// (`v=0` first, well-formed `key=value` lines, valid UTF-8); never
    /// panics.
    pub fn parse(body: &[u8]) -> Result<Self, SdpParseError> {
        sdp_types::Session::parse(body)
            .map(|inner| Self { inner })
            .map_err(|error| SdpParseError {
                reason: error.to_string(),
            })
    }

    /// The body to send: CRLF line ends, and a `t=0 0` line even if the
    /// description had none.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(512);
        self.inner
            .write(&mut body)
            .expect("writing to a Vec never fails");
        body
    }

    /// The session id of the `o=` line: constant for the life of a session.
    pub fn session_id(&self) -> &str {
        &self.inner.origin.sess_id
    }

    /// The session version of the `o=` line: changes with each new offer or
    /// answer of the session (RFC 3264 §8).
    pub fn session_version(&self) -> u64 {
        self.inner.origin.sess_version
    }

    /// Number of `m=` lines.
    pub fn media_count(&self) -> usize {
        self.inner.medias.len()
    }

    pub(crate) fn from_inner(inner: sdp_types::Session) -> Self {
        Self { inner }
    }

    pub(crate) fn inner(&self) -> &sdp_types::Session {
        &self.inner
    }
}

impl FromStr for SessionDescription {
    type Err = SdpParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text.as_bytes())
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(formatter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prints_what_it_parsed_with_crlf_and_a_time_line() {
        let body = "v=0\no=- 1 2 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";
        let description = SessionDescription::parse(body.as_bytes()).unwrap();
        assert_eq!(description.session_id(), "1");
        assert_eq!(description.session_version(), 2);
        assert_eq!(description.media_count(), 1);
        assert_eq!(
            String::from_utf8(description.to_bytes()).unwrap(),
            "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        );
        let again: SessionDescription = description.to_string().parse().unwrap();
        assert_eq!(again.to_bytes(), description.to_bytes());
    }

    #[test]
    fn rejects_what_is_not_sdp() {
        let error =
            SessionDescription::parse(b"INVITE sip:bob@example.com SIP/2.0\r\n").unwrap_err();
        assert!(!error.reason().is_empty());
        assert!(SessionDescription::parse(b"").is_err());
        assert!(SessionDescription::parse(b"v=1\r\n").is_err());
        assert!(SessionDescription::parse(b"v=0\r\nm=audio x RTP/AVP 0\r\n").is_err());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bodies_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = SessionDescription::parse(&body);
        }

        #[test]
        fn parsing_sdp_shaped_text_never_panics(
            lines in proptest::collection::vec("[vosctmab]=[ -~]{0,40}", 0..16)
        ) {
            let body = format!("v=0\r\n{}", lines.join("\r\n"));
            if let Ok(description) = SessionDescription::parse(body.as_bytes()) {
                let printed = description.to_bytes();
                // What we print, we can read back.
                prop_assert!(SessionDescription::parse(&printed).is_ok());
            }
        }
    }
}
