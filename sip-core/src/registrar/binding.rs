//! A binding of an address of record to a contact (RFC 3261 §10.3), and
//! the contact's `q` preference.

use crate::message::{Host, SipUri, uri_user};
use ezk_sip_types::print::AppendCtx;
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

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
    pub(super) id: u64,
}

impl Binding {
    /// The rank used to order contacts: `q` (1 when absent).
    pub fn rank(&self) -> QValue {
        self.q.unwrap_or(QValue::ONE)
    }

    pub(super) fn matches(&self, uri: &SipUri, instance_id: Option<&str>) -> bool {
        match (self.instance_id.as_deref(), instance_id) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => uri_equivalent(&self.contact, uri),
        }
    }

    /// The Contact header value listing this binding in a 200 OK.
    pub(super) fn contact_header(&self, now: Instant) -> String {
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

pub(super) fn print_uri(uri: &SipUri) -> String {
    uri.default_print_ctx().to_string()
}

/// Contact URI equivalence, the parts of RFC 3261 §19.1.4 that matter for
/// bindings: scheme, user, host (case-insensitively), port and transport.
pub(super) fn uri_equivalent(a: &SipUri, b: &SipUri) -> bool {
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
        && uri_user(a) == uri_user(b)
        && transport(a) == transport(b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
