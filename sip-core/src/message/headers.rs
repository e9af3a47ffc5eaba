//! The header section of a SIP message (RFC 3261 §7.3).
//!
//! Headers keep their wire order and their raw values, sliced from the
//! received buffer without copying. Compact names (`v`, `f`, `i`, …) are
//! recognised and printed in their long form. Typed views (Via, From, CSeq,
//! digest credentials, …) are decoded on demand from the raw values by the
//! `ezk-sip-types` parsers, behind the accessors in this module.

use super::ParseError;
use super::method::Method;
use bytesstr::BytesStr;
use ezk_sip_types::Name;
use ezk_sip_types::header::HeaderParse;
use ezk_sip_types::header::typed::{Contact, FromTo, Via};
use std::fmt;

/// A header name's identity, worked out once per name rather than at
/// every comparison.
///
/// `ezk-sip-types` compares names by their text, case-insensitively,
/// against every spelling: the hot path of every header lookup. A name it
/// knows always prints as the same static text, so two known names are
/// the same header exactly when their printed texts are the same static
/// string (address and length); only names it does not know are compared
/// as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NameKey(Option<(usize, usize)>);

impl NameKey {
    fn of(name: &Name) -> NameKey {
        if name.as_parse_strs().is_none() {
            return NameKey(None);
        }
        let text = name.as_print_str();
        NameKey(Some((text.as_ptr() as usize, text.len())))
    }
}

/// Whether header name `a` (whose key is `a_key`) and `b` (`b_key`) are
/// the same header, compact forms included.
fn same_keyed(a: &Name, a_key: NameKey, b: &Name, b_key: NameKey) -> bool {
    match (a_key.0, b_key.0) {
        (Some(a_key), Some(b_key)) => a_key == b_key,
        _ => a == b,
    }
}

/// Whether two header names are the same header, compact forms included.
pub(super) fn same_name(a: &Name, b: &Name) -> bool {
    same_keyed(a, NameKey::of(a), b, NameKey::of(b))
}

/// One header line: its name and its raw value.
#[derive(Debug, Clone)]
pub struct Header {
    /// The header's name; compact forms compare equal to their long forms.
    pub name: Name,
    /// The value with surrounding whitespace removed and folding undone.
    pub value: BytesStr,
    /// The name's identity, for lookups.
    key: NameKey,
}

impl Header {
    /// A header line called `name` with `value`.
    pub fn new(name: Name, value: BytesStr) -> Header {
        let key = NameKey::of(&name);
        Header { name, value, key }
    }

    /// Whether it is called `name` (whose key is `key`).
    fn is(&self, name: &Name, key: NameKey) -> bool {
        same_keyed(&self.name, self.key, name, key)
    }
}

/// The ordered header section of a message.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    entries: Vec<Header>,
}

impl Headers {
    /// An empty header section.
    pub fn new() -> Self {
        Headers {
            entries: Vec::with_capacity(12),
        }
    }

    /// Appends a header after all others.
    pub fn push(&mut self, name: Name, value: impl Into<BytesStr>) {
        self.entries.push(Header::new(name, value.into()));
    }

    /// Inserts a header before all others (a new topmost Via).
    pub fn push_front(&mut self, name: Name, value: impl Into<BytesStr>) {
        self.entries.insert(0, Header::new(name, value.into()));
    }

    /// Removes every header called `name`.
    pub fn remove(&mut self, name: &Name) {
        let key = NameKey::of(name);
        self.entries.retain(|header| !header.is(name, key));
    }

    /// Replaces every header called `name` by one with `value`, placed
    /// where the first one was (or at the end).
    pub fn set(&mut self, name: Name, value: impl Into<BytesStr>) {
        let value = value.into();
        let key = NameKey::of(&name);
        match self.entries.iter().position(|h| h.is(&name, key)) {
            Some(first) => {
                self.entries[first].value = value;
                let mut index = 0;
                self.entries.retain(|header| {
                    let keep = index <= first || !header.is(&name, key);
                    index += 1;
                    keep
                });
            }
            None => self.push(name, value),
        }
    }

    /// The raw value of the first header called `name`.
    pub fn first(&self, name: &Name) -> Option<&BytesStr> {
        let key = NameKey::of(name);
        self.entries
            .iter()
            .find(|header| header.is(name, key))
            .map(|header| &header.value)
    }

    /// Raw values of every header called `name`, in order. The values
    /// borrow from the headers only, not from `name`.
    pub fn all<'a>(&'a self, name: &Name) -> impl Iterator<Item = &'a BytesStr> + use<'a> {
        let name = name.clone();
        let key = NameKey::of(&name);
        self.entries
            .iter()
            .filter(move |header| header.is(&name, key))
            .map(|header| &header.value)
    }

    /// Whether a header called `name` is present.
    pub fn contains(&self, name: &Name) -> bool {
        self.first(name).is_some()
    }

    /// Every header, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.entries.iter()
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Copies every header called `name` from `other`, in order.
    pub fn copy_from(&mut self, other: &Headers, name: &Name) {
        for value in other.all(name) {
            self.push(name.clone(), value.clone());
        }
    }

    /// Every Via value, split at commas (RFC 3261 §7.3.1), topmost first.
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        let mut vias = Vec::with_capacity(2);
        for value in self.all(&Name::VIA) {
            parse_comma_list(value, &mut vias).map_err(|_| ParseError::Header("Via"))?;
        }
        Ok(vias)
    }

    /// The topmost Via, which names the transaction (RFC 3261 §17.2.3).
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let value = self.first(&Name::VIA).ok_or(ParseError::Missing("Via"))?;
        let (rest, via) = <Via as HeaderParse>::parse(value.as_ref(), value.as_str())
            .map_err(|_| ParseError::Header("Via"))?;
        let rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with(',') {
            Ok(via)
        } else {
            Err(ParseError::Header("Via"))
        }
    }

    /// The From header.
    pub fn from(&self) -> Result<FromTo, ParseError> {
        self.single::<FromTo>(&Name::FROM, "From")
    }

    /// The To header.
    pub fn to(&self) -> Result<FromTo, ParseError> {
        self.single::<FromTo>(&Name::TO, "To")
    }

    /// The tag of the From header, read leniently (any URI scheme, escaped
    /// quotes in the display name).
    pub fn from_tag(&self) -> Option<&str> {
        self.first(&Name::FROM)
            .and_then(|value| NameAddrText::parse(value)?.tag)
    }

    /// The tag of the To header, read leniently.
    pub fn to_tag(&self) -> Option<&str> {
        self.first(&Name::TO)
            .and_then(|value| NameAddrText::parse(value)?.tag)
    }

    /// Checks that a single-valued header (From, To, Call-ID, CSeq,
    /// Max-Forwards) appears at most once and, for From/To, is a
    /// well-formed name-addr or addr-spec with any URI scheme.
    pub fn check_single(&self, name: &Name, label: &'static str) -> Result<(), ParseError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some()
            || first.is_some_and(|v| has_top_level_comma(v) && label != "Call-ID")
        {
            return Err(ParseError::Repeated(label));
        }
        if (*name == Name::FROM || *name == Name::TO)
            && let Some(value) = first
            && NameAddrText::parse(value).is_none()
        {
            return Err(ParseError::Header(label));
        }
        Ok(())
    }

    /// The Call-ID, checked to be a `word [ "@" word ]` without whitespace.
    pub fn call_id(&self) -> Result<&BytesStr, ParseError> {
        let value = self
            .first(&Name::CALL_ID)
            .ok_or(ParseError::Missing("Call-ID"))?;
        if value.is_empty() || value.bytes().any(|b| b.is_ascii_whitespace() || b < 0x21) {
            return Err(ParseError::Header("Call-ID"));
        }
        Ok(value)
    }

    /// The CSeq header (RFC 3261 §20.16).
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        let value = self.first(&Name::CSEQ).ok_or(ParseError::Missing("CSeq"))?;
        CSeq::parse(value).ok_or(ParseError::Header("CSeq"))
    }

    /// Max-Forwards, if present (RFC 3261 §20.22).
    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        match self.first(&Name::MAX_FORWARDS) {
            None => Ok(None),
            Some(value) => value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|hops| *hops <= 255)
                .map(Some)
                .ok_or(ParseError::Header("Max-Forwards")),
        }
    }

    /// The Expires header value in seconds, if present.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        match self.first(&Name::EXPIRES) {
            None => Ok(None),
            Some(value) => parse_delta_seconds(value)
                .map(Some)
                .ok_or(ParseError::Header("Expires")),
        }
    }

    /// Every Contact value, split at commas. `Contact: *` yields
    /// [`Contacts::Wildcard`].
    pub fn contacts(&self) -> Result<Contacts, ParseError> {
        let mut contacts = Vec::new();
        for value in self.all(&Name::CONTACT) {
            if value.trim() == "*" {
                return Ok(Contacts::Wildcard);
            }
            parse_comma_list(value, &mut contacts).map_err(|_| ParseError::Header("Contact"))?;
        }
        Ok(Contacts::List(contacts))
    }

    /// The Content-Type header, lower-cased media type without parameters.
    pub fn content_type(&self) -> Option<String> {
        self.first(&Name::CONTENT_TYPE).map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// Whether a `Require` or `Proxy-Require` lists `option`.
    pub fn requires(&self, header: &Name) -> Vec<String> {
        self.all(header)
            .flat_map(|value| value.split(','))
            .map(|option| option.trim().to_string())
            .filter(|option| !option.is_empty())
            .collect()
    }

    fn single<H: HeaderParse>(&self, name: &Name, label: &'static str) -> Result<H, ParseError> {
        let value = self.first(name).ok_or(ParseError::Missing(label))?;
        let (rest, parsed) =
            H::parse(value.as_ref(), value.as_str()).map_err(|_| ParseError::Header(label))?;
        if rest.trim().is_empty() {
            Ok(parsed)
        } else {
            Err(ParseError::Header(label))
        }
    }
}

impl fmt::Display for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for header in &self.entries {
            write!(f, "{}: {}\r\n", header.name.as_print_str(), header.value)?;
        }
        Ok(())
    }
}

/// The Contact headers of a REGISTER or a dialog-creating message.
#[derive(Debug, Clone)]
pub enum Contacts {
    /// `Contact: *`, which removes every binding (RFC 3261 §10.2.2).
    Wildcard,
    /// Zero or more contacts.
    List(Vec<Contact>),
}

/// The CSeq header: a sequence number and the request's method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number, less than 2**31 (RFC 3261 §8.1.1.5).
    pub sequence: u32,
    /// Method of the request this CSeq belongs to.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(value: &str) -> Option<CSeq> {
        let mut parts = value.split_ascii_whitespace();
        let sequence = parts.next()?;
        let method = parts.next()?;
        if parts.next().is_some() || sequence.len() > 10 {
            return None;
        }
        let sequence = sequence.parse::<u64>().ok().filter(|n| *n < (1 << 31))? as u32;
        Some(CSeq {
            sequence,
            method: Method::parse(method)?,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.sequence, self.method)
    }
}

/// A From/To/Contact value split without interpreting the URI
/// (RFC 3261 §25.1 name-addr / addr-spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddrText<'a> {
    /// The URI text, scheme included.
    pub uri: &'a str,
    /// The `tag` parameter, if present.
    pub tag: Option<&'a str>,
}

impl<'a> NameAddrText<'a> {
    /// Splits `value`; `None` when quotes or angle brackets do not balance
    /// or the URI has no scheme.
    pub fn parse(value: &'a str) -> Option<NameAddrText<'a>> {
        let value = value.trim();
        let mut rest = value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = closing_quote(quoted)?;
            rest = quoted[end + 1..].trim_start();
            if !rest.starts_with('<') {
                return None;
            }
        } else if rest.contains('"') && rest.find('"') < rest.find('<') {
            return None;
        }
        let (uri, params) = match rest.find('<') {
            Some(open) => {
                let after = &rest[open + 1..];
                let close = after.find('>')?;
                (&after[..close], &after[close + 1..])
            }
            None => {
                if rest.contains('>') {
                    return None;
                }
                rest.split_once(';').unwrap_or((rest, ""))
            }
        };
        let uri = uri.trim();
        let (scheme, _) = uri.split_once(':')?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return None;
        }
        if params.contains('"') && params.matches('"').count() % 2 == 1 {
            return None;
        }
        let tag = params
            .split(';')
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("tag"))
            .map(|(_, tag)| tag.trim())
            .filter(|tag| !tag.is_empty());
        Some(NameAddrText { uri, tag })
    }
}

/// Index of the closing quote of a quoted string whose opening quote was
/// already consumed, honouring backslash escapes.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (index, byte) in text.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(index),
            _ => {}
        }
    }
    None
}

/// Whether a comma outside quotes and angle brackets separates two values.
fn has_top_level_comma(value: &str) -> bool {
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for byte in value.bytes() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => return true,
            _ => {}
        }
    }
    false
}

/// `delta-seconds`: digits; values beyond u32 are capped (RFC 3261 §20.19
/// lets huge values mean "a long time").
pub(crate) fn parse_delta_seconds(value: &str) -> Option<u32> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        value
            .parse::<u64>()
            .map_or(u32::MAX, |v| v.min(u32::MAX as u64) as u32),
    )
}

/// Parses a comma-separated list of `H` values, strictly: anything left
/// that is not a comma is an error.
fn parse_comma_list<H: HeaderParse>(value: &BytesStr, out: &mut Vec<H>) -> Result<(), ()> {
    let mut input = value.as_str();
    loop {
        let (rest, item) = H::parse(value.as_ref(), input).map_err(|_| ())?;
        out.push(item);
        let rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(());
        }
        match rest.strip_prefix(',') {
            Some(next) if !next.trim().is_empty() => input = next.trim_start(),
            _ => return Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> Headers {
        let mut headers = Headers::new();
        for (name, value) in lines {
            headers.push(Name::from(BytesStr::from(*name)), BytesStr::from(*value));
        }
        headers
    }

    #[test]
    fn names_are_the_same_header_in_any_spelling_and_case() {
        let named = |text: &str| Name::from(BytesStr::from(text.to_string()));
        assert!(same_name(&named("f"), &Name::FROM));
        assert!(same_name(&named("FROM"), &Name::FROM));
        assert!(same_name(&named("call-id"), &named("i")));
        assert!(!same_name(&named("To"), &Name::FROM));
        assert!(same_name(&named("X-Custom"), &named("x-custom")));
        assert!(!same_name(&named("X-Custom"), &named("X-Other")));
        assert!(!same_name(&named("X-Custom"), &Name::VIA));
        let headers = headers(&[("f", "<sip:a@b>;tag=1"), ("X-Custom", "yes")]);
        assert_eq!(
            headers.first(&Name::FROM).map(|v| v.as_str()),
            Some("<sip:a@b>;tag=1")
        );
        assert_eq!(
            headers.first(&named("x-CUSTOM")).map(|v| v.as_str()),
            Some("yes")
        );
    }

    #[test]
    fn comma_joined_vias_split() {
        let headers = headers(&[
            (
                "Via",
                "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2",
            ),
            ("v", "SIP/2.0/UDP c.example.com;branch=z9hG4bK3"),
        ]);
        let vias = headers.vias().unwrap();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[1].sent_by.port, Some(5070));
        assert_eq!(
            vias[2].params.get_val("branch").unwrap().as_str(),
            "z9hG4bK3"
        );
    }

    #[test]
    fn trailing_garbage_in_via_is_an_error() {
        let headers = headers(&[("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1 junk")]);
        assert_eq!(headers.vias().unwrap_err(), ParseError::Header("Via"));
    }

    #[test]
    fn cseq_rules() {
        assert_eq!(
            CSeq::parse("4711 INVITE"),
            Some(CSeq {
                sequence: 4711,
                method: Method::Invite
            })
        );
        assert_eq!(
            CSeq::parse("  1   BYE "),
            Some(CSeq::parse("1 BYE").unwrap())
        );
        assert_eq!(CSeq::parse("2147483648 INVITE"), None);
        assert_eq!(CSeq::parse("-1 INVITE"), None);
        assert_eq!(CSeq::parse("1 INVITE extra"), None);
        assert_eq!(CSeq::parse("INVITE"), None);
    }

    #[test]
    fn lenient_name_addr() {
        let escaped =
            NameAddrText::parse(r#""BEL:\\ NUL:\\0 \"quoted\"" <sip:a@b>;tag=x"#).unwrap();
        assert_eq!(escaped.uri, "sip:a@b");
        assert_eq!(escaped.tag, Some("x"));
        assert_eq!(
            NameAddrText::parse("<isbn:2983792873>;TAG=t").unwrap().tag,
            Some("t")
        );
        assert_eq!(NameAddrText::parse("sip:a@b;tag=1").unwrap().uri, "sip:a@b");
        assert!(NameAddrText::parse(r#""Mr J. User <sip:j.user@example.com>"#).is_none());
        assert!(NameAddrText::parse("<sip:a@b").is_none());
        assert!(NameAddrText::parse("nothing").is_none());
    }

    #[test]
    fn wildcard_contact() {
        let headers = headers(&[("Contact", " * ")]);
        assert!(matches!(headers.contacts().unwrap(), Contacts::Wildcard));
    }

    #[test]
    fn set_replaces_all_values_in_place() {
        let mut headers = headers(&[("A", "1"), ("B", "2"), ("A", "3")]);
        headers.set(Name::from(BytesStr::from("A")), BytesStr::from("9"));
        assert_eq!(headers.to_string(), "A: 9\r\nB: 2\r\n");
    }

    #[test]
    fn expires_caps_huge_values() {
        let headers = headers(&[("Expires", "99999999999999999999")]);
        assert_eq!(headers.expires().unwrap(), Some(u32::MAX));
        let bad = self::headers(&[("Expires", "soon")]);
        assert_eq!(bad.expires().unwrap_err(), ParseError::Header("Expires"));
    }
}
