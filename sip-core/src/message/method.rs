//! SIP request methods (RFC 3261 §7.1 and the extension RFCs).
//!
//! Method names are case-sensitive tokens; an unknown token is kept as an
//! extension method so the endpoint can answer `501 Not Implemented`.

use std::fmt;

/// A SIP request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// RFC 3261: starts a session.
    Invite,
    /// RFC 3261: acknowledges a final response to an INVITE.
    Ack,
    /// RFC 3261: ends a session.
    Bye,
    /// RFC 3261: cancels a pending request.
    Cancel,
    /// RFC 3261: binds an address of record to contacts.
    Register,
    /// RFC 3261: queries capabilities.
    Options,
    /// RFC 3262: acknowledges a reliable provisional response.
    Prack,
    /// RFC 3311: updates session parameters inside a dialog.
    Update,
    /// RFC 6086: carries mid-dialog application information.
    Info,
    /// RFC 3428: an instant message.
    Message,
    /// RFC 3515: asks the recipient to issue a request (transfer).
    Refer,
    /// RFC 6665: subscribes to an event package.
    Subscribe,
    /// RFC 6665: notifies a subscriber.
    Notify,
    /// RFC 3903: publishes event state.
    Publish,
    /// Any other token; answered with `501 Not Implemented`.
    Extension(Box<str>),
}

impl Method {
    /// Every method this stack implements, as listed in `Allow`.
    pub const ALLOWED: &'static str =
        "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, PRACK, UPDATE, INFO, MESSAGE, REFER, NOTIFY";

    /// Maps a method token from the wire. Returns `None` when `token` is not a
    /// valid RFC 3261 token.
    pub fn parse(token: &str) -> Option<Method> {
        let method = match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "INFO" => Method::Info,
            "MESSAGE" => Method::Message,
            "REFER" => Method::Refer,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            other if !other.is_empty() && other.bytes().all(is_token_byte) => {
                Method::Extension(other.into())
            }
            _ => return None,
        };
        Some(method)
    }

    /// The method's token as printed on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Info => "INFO",
            Method::Message => "MESSAGE",
            Method::Refer => "REFER",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Extension(token) => token,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 3261 §25.1 `token` characters.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_case_sensitive_and_exact() {
        assert_eq!(Method::parse("INVITE"), Some(Method::Invite));
        assert_eq!(
            Method::parse("INVITEX"),
            Some(Method::Extension("INVITEX".into()))
        );
        assert_eq!(
            Method::parse("invite"),
            Some(Method::Extension("invite".into()))
        );
        assert_eq!(Method::parse("IN VITE"), None);
        assert_eq!(Method::parse(""), None);
    }

    #[test]
    fn extension_method_round_trips() {
        let method = Method::parse("!interesting-Method0123456789_*+`.%indeed'~").unwrap();
        assert_eq!(
            method.to_string(),
            "!interesting-Method0123456789_*+`.%indeed'~"
        );
    }
}
