//! SIP messages (RFC 3261 §7): parsing, printing and stream framing.
//!
//! [`parse`] turns one datagram (or one framed stream message) into a
//! [`Message`]; [`frame`] finds message boundaries on a stream transport with
//! a cheap scan before any full parse. Peer input never panics: every
//! problem is a [`ParseError`] whose text becomes the reason phrase of a
//! `400 Bad Request`.

mod headers;
mod method;

pub use ezk_sip_types::Name;
pub use ezk_sip_types::header::typed::{Contact, FromTo, Via};
pub use ezk_sip_types::host::{Host, HostPort};
pub use ezk_sip_types::uri::NameAddr;
pub use ezk_sip_types::uri::params::{CPS, Param, Params};
pub use ezk_sip_types::uri::{SipUri, SipUriUserPart};
pub(crate) use headers::parse_delta_seconds;
pub use headers::{CSeq, Contacts, Header, Headers, NameAddrText};
pub use method::Method;

use bytes::{BufMut, Bytes, BytesMut};
use bytesstr::BytesStr;
use ezk_sip_types::msg::{Line, PullParser};
use ezk_sip_types::print::AppendCtx;
use std::fmt;
use std::str::FromStr;

/// Size limits applied to every received message.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message, head and body, in bytes.
    pub max_message_bytes: usize,
    /// Most header lines in one message.
    pub max_headers: usize,
    /// Longest single header line, in bytes.
    pub max_header_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 65_535,
            max_headers: 128,
            max_header_line_bytes: 8_192,
        }
    }
}

/// Why a message could not be accepted. The `Display` text is suitable as
/// the reason phrase of a `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but whitespace: a keep-alive, not a message.
    #[error("Empty Message")]
    Empty,
    /// Larger than [`Limits::max_message_bytes`].
    #[error("Message Too Large")]
    TooLarge,
    /// More header lines than [`Limits::max_headers`].
    #[error("Too Many Headers")]
    TooManyHeaders,
    /// A header line longer than [`Limits::max_header_line_bytes`].
    #[error("Header Line Too Long")]
    HeaderLineTooLong,
    /// No empty line ends the header section.
    #[error("Header Section Not Terminated")]
    UnterminatedHead,
    /// The first line is neither a Request-Line nor a Status-Line.
    #[error("Malformed Start Line")]
    StartLine,
    /// A SIP version other than 2.0; answered with `505`.
    #[error("Version Not Supported")]
    Version,
    /// A Request-URI scheme other than `sip`/`sips`; answered with `416`.
    #[error("Unsupported URI Scheme")]
    UriScheme,
    /// The Request-URI does not parse.
    #[error("Malformed Request-URI")]
    RequestUri,
    /// A line in the header section has no `name:`.
    #[error("Malformed Header Line")]
    HeaderLine,
    /// Header text that is not UTF-8.
    #[error("Header Not UTF-8")]
    NotUtf8,
    /// A single-valued header given more than once.
    #[error("Multiple {0} Headers")]
    Repeated(&'static str),
    /// A header that is present but malformed.
    #[error("Malformed {0} Header")]
    Header(&'static str),
    /// A mandatory header that is absent.
    #[error("Missing {0} Header")]
    Missing(&'static str),
    /// Content-Length claims more bytes than arrived (RFC 3261 §18.3).
    #[error("Content-Length Larger Than Body")]
    ShortBody,
    /// The CSeq method differs from the Request-Line method.
    #[error("CSeq Method Does Not Match Request Method")]
    CSeqMismatch,
}

/// A SIP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request's method.
    pub method: Method,
    /// The Request-URI.
    pub uri: SipUri,
    /// Every header except Content-Length, which is printed from the body.
    pub headers: Headers,
    /// The message body (SDP, …), possibly empty.
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code, 100–699.
    pub status: u16,
    /// The reason phrase.
    pub reason: BytesStr,
    /// Every header except Content-Length, which is printed from the body.
    pub headers: Headers,
    /// The message body, possibly empty.
    pub body: Bytes,
}

/// A request or a response.
#[derive(Debug, Clone)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// Prints the message to bytes ready for a transport.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Message::Request(request) => request.to_bytes(),
            Message::Response(response) => response.to_bytes(),
        }
    }

    /// The message's headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(request) => &request.headers,
            Message::Response(response) => &response.headers,
        }
    }
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: SipUri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// The Request-URI as printed: what a digest `uri` parameter covers.
    pub fn uri_text(&self) -> String {
        self.uri.default_print_ctx().to_string()
    }

    /// Prints the request to bytes, with a Content-Length from the body.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(512 + self.body.len());
        write_fmt(
            &mut out,
            format_args!(
                "{} {} SIP/2.0\r\n{}Content-Length: {}\r\n\r\n",
                self.method,
                self.uri.default_print_ctx(),
                self.headers,
                self.body.len()
            ),
        );
        out.put_slice(&self.body);
        exact(out)
    }

    /// Checks the headers every request needs (RFC 3261 §8.1.1) and that the
    /// CSeq method matches the Request-Line.
    pub fn validate(&self) -> Result<(), ParseError> {
        self.check().map(|_| ())
    }

    /// [`Request::validate`], giving the topmost Via it read on the way
    /// (each Via is parsed once).
    pub fn check(&self) -> Result<Via, ParseError> {
        let top = self
            .headers
            .vias()?
            .into_iter()
            .next()
            .ok_or(ParseError::Missing("Via"))?;
        for (name, label) in [
            (Name::FROM, "From"),
            (Name::TO, "To"),
            (Name::CALL_ID, "Call-ID"),
            (Name::CSEQ, "CSeq"),
            (Name::MAX_FORWARDS, "Max-Forwards"),
        ] {
            self.headers.check_single(&name, label)?;
        }
        if !self.headers.contains(&Name::FROM) {
            return Err(ParseError::Missing("From"));
        }
        if !self.headers.contains(&Name::TO) {
            return Err(ParseError::Missing("To"));
        }
        self.headers.call_id()?;
        let cseq = self.headers.cseq()?;
        self.headers.max_forwards()?;
        if cseq.method != self.method {
            return Err(ParseError::CSeqMismatch);
        }
        Ok(top)
    }

    /// The user part of the Request-URI (a DID or an extension), if any.
    pub fn uri_user(&self) -> Option<&str> {
        uri_user(&self.uri)
    }
}

impl Response {
    /// A response with the given status and its standard reason phrase.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            reason: BytesStr::from_static(reason_phrase(status)),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// A response to `request` (RFC 3261 §8.2.6.2): Via, From, To, Call-ID
    /// and CSeq copied; a To tag is added by the caller where needed.
    pub fn to_request(request: &Request, status: u16) -> Response {
        let mut response = Response::new(status);
        let source = &request.headers;
        let headers = &mut response.headers;
        headers.copy_from(source, &Name::VIA);
        headers.copy_from(source, &Name::FROM);
        headers.copy_from(source, &Name::TO);
        headers.copy_from(source, &Name::CALL_ID);
        headers.copy_from(source, &Name::CSEQ);
        if status == 100 {
            headers.copy_from(source, &Name::TIMESTAMP);
        }
        response
    }

    /// Replaces the reason phrase.
    pub fn with_reason(mut self, reason: impl Into<BytesStr>) -> Response {
        self.reason = reason.into();
        self
    }

    /// Whether this is a provisional (1xx) response.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// Prints the response to bytes, with a Content-Length from the body.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(384 + self.body.len());
        write_fmt(
            &mut out,
            format_args!(
                "SIP/2.0 {} {}\r\n{}Content-Length: {}\r\n\r\n",
                self.status,
                self.reason,
                self.headers,
                self.body.len()
            ),
        );
        out.put_slice(&self.body);
        exact(out)
    }

    /// Checks the headers every response needs.
    pub fn validate(&self) -> Result<(), ParseError> {
        self.check().map(|_| ())
    }

    /// [`Response::validate`], giving the topmost Via and the CSeq it
    /// read on the way, which name the client transaction.
    pub fn check(&self) -> Result<(Via, CSeq), ParseError> {
        let via = self.headers.top_via()?;
        self.headers.from()?;
        self.headers.to()?;
        self.headers.call_id()?;
        let cseq = self.headers.cseq()?;
        Ok((via, cseq))
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// The user part of a SIP URI, if it has one.
pub fn uri_user(uri: &SipUri) -> Option<&str> {
    match &uri.user_part {
        SipUriUserPart::User(user) => Some(user.as_str()),
        SipUriUserPart::UserPw(user_pw) => Some(user_pw.user.as_str()),
        SipUriUserPart::Empty => None,
    }
}

/// Parses a SIP URI from text.
pub fn parse_uri(text: &str) -> Result<SipUri, ParseError> {
    SipUri::from_str(text).map_err(|_| ParseError::RequestUri)
}

/// The printed message in an allocation of its own size. Transactions keep
/// what they sent for up to 64·T1 to answer retransmissions, so a buffer
/// that grew past its first guess is not kept whole.
fn exact(out: BytesMut) -> Bytes {
    if out.capacity() - out.len() > 64 {
        Bytes::copy_from_slice(&out)
    } else {
        out.freeze()
    }
}

fn write_fmt(out: &mut BytesMut, args: fmt::Arguments<'_>) {
    use std::fmt::Write;
    struct Writer<'a>(&'a mut BytesMut);
    impl Write for Writer<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.put_slice(s.as_bytes());
            Ok(())
        }
    }
    Writer(out)
        .write_fmt(args)
        .expect("writing to memory cannot fail");
}

/// What [`frame`] found at the start of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet for a whole message.
    Incomplete,
    /// A RFC 5626 keep-alive: `n` bytes of CRLF to consume; a double CRLF
    /// ("ping") is answered with a single CRLF ("pong").
    KeepAlive {
        /// Bytes to consume.
        len: usize,
        /// Whether this was a ping that wants a pong.
        ping: bool,
    },
    /// A whole message of this many bytes.
    Message(usize),
}

/// Finds the first message boundary on a stream transport (RFC 3261 §18.3):
/// the head ends at the first empty line and the body is Content-Length
/// bytes. Only the header names are scanned; the full parse comes after.
pub fn frame(buffer: &[u8], limits: &Limits) -> Result<Frame, ParseError> {
    if buffer.starts_with(b"\r\n\r\n") {
        return Ok(Frame::KeepAlive { len: 4, ping: true });
    }
    let leading = buffer
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    if leading == buffer.len() {
        // Only line breaks: a partial ping, or a lone CRLF pong.
        return Ok(if buffer.starts_with(b"\r\n") && buffer.len() == 2 {
            Frame::KeepAlive {
                len: 2,
                ping: false,
            }
        } else {
            Frame::Incomplete
        });
    }
    if leading > 0 {
        return Ok(Frame::KeepAlive {
            len: leading,
            ping: false,
        });
    }
    let Some(head_end) = find(buffer, b"\r\n\r\n") else {
        if buffer.len() > limits.max_message_bytes {
            return Err(ParseError::TooLarge);
        }
        return Ok(Frame::Incomplete);
    };
    let head = &buffer[..head_end];
    let mut content_length = 0usize;
    for line in head.split(|b| *b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = trim_ascii(&line[..colon]);
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = std::str::from_utf8(trim_ascii(&line[colon + 1..]))
                .map_err(|_| ParseError::Header("Content-Length"))?;
            content_length = value
                .parse::<usize>()
                .map_err(|_| ParseError::Header("Content-Length"))?;
        }
    }
    let total = head_end + 4 + content_length;
    if total > limits.max_message_bytes {
        return Err(ParseError::TooLarge);
    }
    if buffer.len() < total {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Message(total))
}

/// Parses one message from a datagram or a framed stream message.
///
/// A Content-Length shorter than the rest of the datagram truncates the
/// body (RFC 3261 §18.3); a longer one is [`ParseError::ShortBody`].
/// Mandatory headers are not checked here: see [`Request::validate`], so
/// that a request with a bad header can still be answered with a `400`.
pub fn parse(bytes: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(ParseError::TooLarge);
    }
    let start = bytes
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        .count();
    if start == bytes.len() {
        return Err(ParseError::Empty);
    }
    let bytes = bytes.slice(start..);
    let mut lines = PullParser::new(&bytes, 0);
    let start_line = match lines.next() {
        Some(Ok(line)) => line,
        _ => return Err(ParseError::UnterminatedHead),
    };
    let start_line = std::str::from_utf8(start_line).map_err(|_| ParseError::NotUtf8)?;
    let mut headers = Headers::new();
    let mut content_length = None;
    loop {
        let line = match lines.next() {
            None => break,
            Some(Ok(line)) => line,
            Some(Err(_)) => return Err(ParseError::UnterminatedHead),
        };
        if line.len() > limits.max_header_line_bytes {
            return Err(ParseError::HeaderLineTooLong);
        }
        if headers.len() >= limits.max_headers {
            return Err(ParseError::TooManyHeaders);
        }
        let text = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
        let Ok((_, Line { name, value })) = Line::parse(&bytes, text) else {
            return Err(ParseError::HeaderLine);
        };
        if name.as_print_str().is_empty() {
            return Err(ParseError::HeaderLine);
        }
        let value = unfold(value);
        if headers::same_name(&name, &Name::CONTENT_LENGTH) {
            let length = value
                .trim()
                .parse::<usize>()
                .map_err(|_| ParseError::Header("Content-Length"))?;
            if content_length.is_some_and(|previous| previous != length) {
                return Err(ParseError::Header("Content-Length"));
            }
            content_length = Some(length);
            continue;
        }
        headers.push(name, value);
    }
    let head_end = lines.head_end();
    if head_end == lines.progress() {
        return Err(ParseError::UnterminatedHead);
    }
    let rest = bytes.len() - head_end;
    let body = match content_length {
        Some(length) if length > rest => return Err(ParseError::ShortBody),
        Some(length) => bytes.slice(head_end..head_end + length),
        None => bytes.slice(head_end..),
    };
    parse_start_line(&bytes, start_line, headers, body)
}

/// Builds the answer to a request that failed to parse or validate:
/// `505` for a SIP version other than 2.0, `416` for a URI scheme other
/// than sip/sips, `513` when too large, else `400` with the problem as the
/// reason phrase. Returns `None` when the bytes are not a request or carry
/// no Via to answer along (RFC 3261 §18.2.2); such input is dropped.
pub fn error_response(bytes: &Bytes, error: &ParseError) -> Option<Response> {
    let start = bytes
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    let bytes = bytes.slice(start..);
    if bytes.starts_with(b"SIP/") || bytes.first().is_none_or(|b| !b.is_ascii_alphabetic()) {
        return None;
    }
    let mut lines = PullParser::new(&bytes, 0);
    let request_line = lines.next()?.ok()?;
    if request_line.starts_with(b"ACK ") {
        return None;
    }
    let mut headers = Headers::new();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        if let Ok((_, Line { name, value })) = Line::parse(&bytes, text) {
            headers.push(name, unfold(value));
        }
    }
    headers.first(&Name::VIA)?;
    let status = match error {
        ParseError::Version => 505,
        ParseError::UriScheme => 416,
        ParseError::TooLarge => 513,
        _ => 400,
    };
    let mut response = Response::new(status);
    if status == 400 {
        response.reason = BytesStr::from(error.to_string());
    }
    for name in [Name::VIA, Name::FROM, Name::TO, Name::CALL_ID, Name::CSEQ] {
        response.headers.copy_from(&headers, &name);
    }
    Some(response)
}

fn parse_start_line(
    source: &Bytes,
    line: &str,
    headers: Headers,
    body: Bytes,
) -> Result<Message, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/") {
        let (version, rest) = rest.split_once(' ').ok_or(ParseError::StartLine)?;
        if version != "2.0" {
            return Err(ParseError::Version);
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let status = code
            .parse::<u16>()
            .ok()
            .filter(|status| (100..=699).contains(status) && code.len() == 3)
            .ok_or(ParseError::StartLine)?;
        let reason = if reason.is_empty() {
            BytesStr::from_static("")
        } else {
            BytesStr::from_parse(source, reason)
        };
        return Ok(Message::Response(Response {
            status,
            reason,
            headers,
            body,
        }));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly one space
    // between the elements (RFC 3261 §7.1).
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine);
    };
    let method = Method::parse(method).ok_or(ParseError::StartLine)?;
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        if version
            .get(..4)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("SIP/"))
        {
            return Err(ParseError::Version);
        }
        return Err(ParseError::StartLine);
    }
    let scheme_end = uri.find(':').ok_or(ParseError::RequestUri)?;
    let scheme = &uri[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(ParseError::RequestUri);
    }
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return Err(ParseError::UriScheme);
    }
    let uri = parse_uri(uri)?;
    Ok(Message::Request(Request {
        method,
        uri,
        headers,
        body,
    }))
}

/// Undoes header folding (RFC 3261 §7.3.1): each CRLF followed by
/// whitespace becomes one space. Values without line breaks are not copied.
fn unfold(value: BytesStr) -> BytesStr {
    let trimmed = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let value = if trimmed.len() == value.len() {
        value
    } else {
        let start = trimmed.as_ptr() as usize - value.as_ptr() as usize;
        value.slice_ref(&value[start..start + trimmed.len()])
    };
    if !value.contains(['\r', '\n']) {
        return value;
    }
    let mut unfolded = String::with_capacity(value.len());
    let mut in_break = false;
    for c in value.chars() {
        match c {
            '\r' | '\n' => in_break = true,
            ' ' | '\t' if in_break => {}
            c => {
                if in_break {
                    unfolded.push(' ');
                    in_break = false;
                }
                unfolded.push(c);
            }
        }
    }
    BytesStr::from(unfolded)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// The standard reason phrase of a status code (RFC 3261 §21 and others).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:1000@127.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
t: <sip:1000@127.0.0.1>\r\n\
f: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n\
i: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
m: <sip:alice@10.0.0.1:5060>\r\n\
c: application/sdp\r\n\
l: 5\r\n\
\r\n\
v=0\r\n";

    fn parse_request(text: &str) -> Result<Request, ParseError> {
        match parse(Bytes::copy_from_slice(text.as_bytes()), &Limits::default())? {
            Message::Request(request) => Ok(request),
            Message::Response(_) => panic!("expected a request"),
        }
    }

    #[test]
    fn compact_forms_parse_and_print_long() {
        let request = parse_request(INVITE).unwrap();
        request.validate().unwrap();
        assert_eq!(request.method, Method::Invite);
        assert_eq!(request.uri_user(), Some("1000"));
        assert_eq!(&request.body[..], b"v=0\r\n");
        let printed = String::from_utf8(request.to_bytes().to_vec()).unwrap();
        assert!(printed.contains("\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;"));
        assert!(printed.contains("\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\n"));
        assert!(printed.contains("\r\nContent-Length: 5\r\n\r\nv=0\r\n"));
        let again = parse_request(&printed).unwrap();
        assert_eq!(again.headers.to_string(), request.headers.to_string());
    }

    #[test]
    fn content_length_longer_than_body_is_an_error() {
        let text = INVITE.replace("l: 5", "l: 400");
        assert_eq!(parse_request(&text).unwrap_err(), ParseError::ShortBody);
    }

    /// Found by the fuzzer: a version field whose fourth byte falls inside
    /// a multi-byte character was sliced mid-character.
    #[test]
    fn version_with_multibyte_character_is_an_error_not_a_panic() {
        let input: &[u8] = b"J  \x01\x00\x01\xd6\xbc\n\n \n";
        assert!(parse(Bytes::from_static(input), &Limits::default()).is_err());
        let text = INVITE.replace("SIP/2.0\r\nv:", "SI\u{5bc}2.0\r\nv:");
        assert_eq!(parse_request(&text).unwrap_err(), ParseError::StartLine);
    }

    #[test]
    fn start_line_errors_are_named() {
        let bad_version = INVITE.replace("SIP/2.0\r\nv:", "SIP/7.0\r\nv:");
        assert_eq!(
            parse_request(&bad_version).unwrap_err(),
            ParseError::Version
        );
        let bad_scheme = INVITE.replace("sip:1000@127.0.0.1 SIP", "tel:1000 SIP");
        assert_eq!(
            parse_request(&bad_scheme).unwrap_err(),
            ParseError::UriScheme
        );
        let two_spaces = INVITE.replace("INVITE sip", "INVITE  sip");
        assert_eq!(
            parse_request(&two_spaces).unwrap_err(),
            ParseError::StartLine
        );
    }

    #[test]
    fn cseq_method_must_match() {
        let text = INVITE.replace("314159 INVITE", "314159 BYE");
        let request = parse_request(&text).unwrap();
        assert_eq!(request.validate().unwrap_err(), ParseError::CSeqMismatch);
    }

    #[test]
    fn folded_header_is_unfolded() {
        let text = INVITE.replace(
            "Max-Forwards: 70\r\n",
            "Subject: hello\r\n   world\r\nMax-Forwards: 70\r\n",
        );
        let request = parse_request(&text).unwrap();
        assert_eq!(
            request.headers.first(&Name::SUBJECT).unwrap().as_str(),
            "hello world"
        );
    }

    #[test]
    fn response_parses() {
        let text = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let Message::Response(response) =
            parse(Bytes::from_static(text.as_bytes()), &Limits::default()).unwrap()
        else {
            panic!("expected a response");
        };
        response.validate().unwrap();
        assert_eq!(response.status, 180);
        assert_eq!(response.reason.as_str(), "Ringing");
    }

    #[test]
    fn framing_on_streams() {
        let limits = Limits::default();
        let whole = INVITE.as_bytes();
        assert_eq!(frame(whole, &limits), Ok(Frame::Message(whole.len())));
        assert_eq!(
            frame(&whole[..whole.len() - 1], &limits),
            Ok(Frame::Incomplete)
        );
        assert_eq!(frame(&whole[..20], &limits), Ok(Frame::Incomplete));
        assert_eq!(
            frame(b"\r\n\r\nINVITE", &limits),
            Ok(Frame::KeepAlive { len: 4, ping: true })
        );
        let mut two = whole.to_vec();
        two.extend_from_slice(whole);
        assert_eq!(frame(&two, &limits), Ok(Frame::Message(whole.len())));
        let huge = vec![b'a'; 70_000];
        assert_eq!(frame(&huge, &limits), Err(ParseError::TooLarge));
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "",
            "\r\n",
            "INVITE",
            "INVITE sip:a SIP/2.0",
            "INVITE sip:a SIP/2.0\r\n\r\n",
            "SIP/2.0\r\n\r\n",
            "SIP/2.0 99999 x\r\n\r\n",
            "INVITE sip:a SIP/2.0\r\n: nothing\r\n\r\n",
            "INVITE sip:a SIP/2.0\r\nl: -1\r\n\r\n",
        ] {
            let _ =
                parse(Bytes::copy_from_slice(text.as_bytes()), &Limits::default()).map(|message| {
                    match message {
                        Message::Request(request) => request.validate().is_ok(),
                        Message::Response(response) => response.validate().is_ok(),
                    }
                });
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let limits = Limits::default();
            let _ = frame(&bytes, &limits);
            if let Ok(Message::Request(request)) = parse(Bytes::from(bytes), &limits) {
                let _ = request.validate();
            }
        }

        #[test]
        fn mutated_invites_never_panic(position in 0usize..400, byte in proptest::prelude::any::<u8>()) {
            let mut bytes = INVITE.as_bytes().to_vec();
            let index = position % bytes.len();
            bytes[index] = byte;
            if let Ok(Message::Request(request)) = parse(Bytes::from(bytes), &Limits::default()) {
                let _ = request.validate();
                let _ = request.to_bytes();
            }
        }
    }
}
