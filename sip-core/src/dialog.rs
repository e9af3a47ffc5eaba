//! Dialogs (RFC 3261 §12): the state two user agents share between an
//! INVITE's 2xx and the BYE.
//!
//! ```text
//!   UAC: INVITE sent --1xx with tag--> Early --2xx--> Confirmed --BYE--> Terminated
//!   UAS: INVITE received --2xx sent-----------------> Confirmed --BYE--> Terminated
//! ```
//!
//! A dialog is identified by Call-ID, local tag and remote tag; it keeps
//! the local and remote CSeq, the remote target (refreshed by re-INVITE and
//! UPDATE) and the route set (from Record-Route, fixed at creation).

use crate::message::{Contacts, Headers, Method, Name, NameAddr, Request, Response, SipUri};
use crate::transport::{Peer, Transport};
use ezk_sip_types::print::AppendCtx;
use std::net::SocketAddr;

/// The three identifiers of a dialog (RFC 3261 §12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

/// Why an in-dialog request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// CSeq lower than or equal to the last one seen: `500` (§12.2.2).
    #[error("CSeq out of order")]
    OutOfOrder,
    /// The request lacks headers a dialog needs.
    #[error("missing dialog headers")]
    Incomplete,
}

/// A SIP dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID and tags.
    pub id: DialogId,
    /// Our last CSeq number.
    pub local_sequence: u32,
    /// The peer's last CSeq number, if it has sent a request.
    pub remote_sequence: Option<u32>,
    /// Our URI and tag, printed as our From (UAC) or To (UAS).
    pub local: String,
    /// The peer's URI and tag, printed as our To.
    pub remote: String,
    /// Where in-dialog requests go: the peer's Contact.
    pub remote_target: SipUri,
    /// Route set, in the order our requests carry it.
    pub route_set: Vec<String>,
    /// Where the peer is reachable (its latched address).
    pub peer: Peer,
}

impl Dialog {
    /// The dialog a UAS creates when it answers `request` with a 2xx (§12.1.1).
    pub fn from_uas(request: &Request, local_tag: &str, peer: Peer) -> Result<Dialog, DialogError> {
        let headers = &request.headers;
        let call_id = headers.call_id().map_err(|_| DialogError::Incomplete)?;
        let from = headers.from().map_err(|_| DialogError::Incomplete)?;
        let remote_tag = from.tag.map(|t| t.to_string()).unwrap_or_default();
        let to = headers.first(&Name::TO).ok_or(DialogError::Incomplete)?;
        let remote = headers.first(&Name::FROM).ok_or(DialogError::Incomplete)?;
        let cseq = headers.cseq().map_err(|_| DialogError::Incomplete)?;
        let local = if headers.to().is_ok_and(|to| to.tag.is_some()) {
            to.to_string()
        } else {
            format!("{to};tag={local_tag}")
        };
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag,
            },
            local_sequence: 0,
            remote_sequence: Some(cseq.sequence),
            local,
            remote: remote.to_string(),
            remote_target: contact_uri(headers).unwrap_or_else(|| from.uri.uri.clone()),
            route_set: headers
                .all(&Name::RECORD_ROUTE)
                .map(|r| r.to_string())
                .collect(),
            peer,
        })
    }

    /// The dialog a UAC creates from a 2xx (or tagged 1xx) to its INVITE (§12.1.2).
    pub fn from_uac(
        invite: &Request,
        response: &Response,
        peer: Peer,
    ) -> Result<Dialog, DialogError> {
        let headers = &response.headers;
        let call_id = headers.call_id().map_err(|_| DialogError::Incomplete)?;
        let local_tag = invite
            .headers
            .from()
            .ok()
            .and_then(|from| from.tag)
            .map(|t| t.to_string())
            .ok_or(DialogError::Incomplete)?;
        let to = headers.to().map_err(|_| DialogError::Incomplete)?;
        let remote_tag = to.tag.map(|t| t.to_string()).unwrap_or_default();
        let cseq = invite.headers.cseq().map_err(|_| DialogError::Incomplete)?;
        let mut route_set: Vec<String> = headers
            .all(&Name::RECORD_ROUTE)
            .map(|r| r.to_string())
            .collect();
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_string(),
                local_tag,
                remote_tag,
            },
            local_sequence: cseq.sequence,
            remote_sequence: None,
            local: invite
                .headers
                .first(&Name::FROM)
                .map(|f| f.to_string())
                .unwrap_or_default(),
            remote: headers
                .first(&Name::TO)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            remote_target: contact_uri(headers).unwrap_or_else(|| invite.uri.clone()),
            route_set,
            peer,
        })
    }

    /// Checks an in-dialog request's CSeq (§12.2.2) and applies a target
    /// refresh (re-INVITE, UPDATE) from its Contact.
    pub fn handle_request(&mut self, request: &Request) -> Result<(), DialogError> {
        let cseq = request
            .headers
            .cseq()
            .map_err(|_| DialogError::Incomplete)?;
        if request.method != Method::Ack && request.method != Method::Cancel {
            if let Some(last) = self.remote_sequence
                && cseq.sequence <= last
            {
                return Err(DialogError::OutOfOrder);
            }
            self.remote_sequence = Some(cseq.sequence);
        }
        if matches!(request.method, Method::Invite | Method::Update)
            && let Some(target) = contact_uri(&request.headers)
        {
            self.remote_target = target;
        }
        Ok(())
    }

    /// A new in-dialog request (§12.2.1.1): Request-URI from the remote
    /// target, From/To/Call-ID from the dialog, the next CSeq and the route set.
    pub fn create_request(&mut self, method: Method) -> Request {
        if method != Method::Ack && method != Method::Cancel {
            self.local_sequence += 1;
        }
        self.request_with_sequence(method, self.local_sequence)
    }

    /// The ACK for the 2xx to our INVITE with CSeq number `sequence` (§13.2.2.4).
    pub fn create_ack(&self, sequence: u32) -> Request {
        self.request_with_sequence(Method::Ack, sequence)
    }

    fn request_with_sequence(&self, method: Method, sequence: u32) -> Request {
        let mut request = Request::new(method.clone(), self.remote_target.clone());
        let headers = &mut request.headers;
        for route in &self.route_set {
            headers.push(Name::ROUTE, route.clone());
        }
        headers.push(Name::FROM, self.local.clone());
        headers.push(Name::TO, self.remote.clone());
        headers.push(Name::CALL_ID, self.id.call_id.clone());
        headers.push(Name::CSEQ, format!("{sequence} {method}"));
        request
    }

    /// Where in-dialog requests are sent: the latched peer address, over the
    /// transport the dialog was set up on.
    pub fn destination(&self) -> Peer {
        self.peer
    }
}

/// The first Contact URI of a request or response.
pub fn contact_uri(headers: &Headers) -> Option<SipUri> {
    match headers.contacts().ok()? {
        Contacts::List(list) => list.into_iter().next().map(|c| c.uri.uri),
        Contacts::Wildcard => None,
    }
}

/// Our Contact header value for `local` over `transport`, with `user`.
pub fn our_contact(user: &str, local: SocketAddr, transport: Transport) -> String {
    let mut uri = SipUri::new(local.into());
    if !user.is_empty() {
        uri.set_user(user.to_string().into());
    }
    if transport == Transport::Tcp {
        uri.uri_params
            .push(crate::message::Param::value("transport", "tcp"));
    }
    let name_addr = NameAddr::uri(uri);
    format!("<{}>", name_addr.uri.default_print_ctx())
}

/// The address a SIP URI points at, when its host is an IP address.
pub fn uri_address(uri: &SipUri) -> Option<Peer> {
    let ip = uri.host_port.ip()?;
    let transport = match uri.uri_params.get_val("transport") {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        _ => Transport::Udp,
    };
    Some(Peer {
        transport,
        address: SocketAddr::new(ip, uri.host_port.port.unwrap_or(5060)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invite, request, response_to};

    fn peer() -> Peer {
        Peer {
            transport: Transport::Udp,
            address: "127.0.0.1:5070".parse().unwrap(),
        }
    }

    #[test]
    fn uas_dialog_builds_in_dialog_bye() {
        let invite = invite("z9hG4bKd1");
        let mut dialog = Dialog::from_uas(&invite, "ours", peer()).unwrap();
        assert_eq!(dialog.id.remote_tag, "alice1");
        let bye = dialog.create_request(Method::Bye);
        let text = bye.to_string();
        assert!(
            text.starts_with("BYE sip:alice@127.0.0.1:5070 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("From: <sip:1000@127.0.0.1>;tag=ours\r\n"));
        assert!(text.contains("To: \"Alice\" <sip:alice@127.0.0.1>;tag=alice1\r\n"));
        assert!(text.contains("CSeq: 1 BYE\r\n"));
    }

    #[test]
    fn out_of_order_cseq_is_refused_and_reinvite_refreshes_target() {
        let invite = invite("z9hG4bKd2");
        let mut dialog = Dialog::from_uas(&invite, "ours", peer()).unwrap();
        let reinvite = request(
            "INVITE sip:1000@127.0.0.1 SIP/2.0\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKre\n\
From: <sip:alice@127.0.0.1>;tag=alice1\n\
To: <sip:1000@127.0.0.1>;tag=ours\n\
Call-ID: call-z9hG4bKd2@127.0.0.1\n\
CSeq: 2 INVITE\n\
Contact: <sip:alice@127.0.0.9:5999>\n\n",
        );
        dialog.handle_request(&reinvite).unwrap();
        assert_eq!(dialog.remote_target.host_port.port, Some(5999));
        assert_eq!(
            dialog.handle_request(&reinvite),
            Err(DialogError::OutOfOrder)
        );
    }

    #[test]
    fn uac_dialog_from_2xx_acks_with_invite_cseq() {
        let invite = invite("z9hG4bKd3");
        let mut ok = response_to(&invite, 200, Some("bob"));
        ok.headers.push(Name::CONTACT, "<sip:bob@127.0.0.2:5080>");
        ok.headers.push(Name::RECORD_ROUTE, "<sip:p1;lr>");
        ok.headers.push(Name::RECORD_ROUTE, "<sip:p2;lr>");
        let mut dialog = Dialog::from_uac(&invite, &ok, peer()).unwrap();
        let ack = dialog.create_ack(1).to_string();
        assert!(
            ack.starts_with("ACK sip:bob@127.0.0.2:5080 SIP/2.0\r\n"),
            "{ack}"
        );
        assert!(ack.contains("CSeq: 1 ACK\r\n"));
        assert!(ack.find("sip:p2;lr").unwrap() < ack.find("sip:p1;lr").unwrap());
        let bye = dialog.create_request(Method::Bye).to_string();
        assert!(bye.contains("CSeq: 2 BYE\r\n"));
        assert!(bye.contains("To: <sip:1000@127.0.0.1>;tag=bob\r\n"));
    }

    #[test]
    fn contact_and_address_helpers() {
        let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        assert_eq!(
            our_contact("1000", local, Transport::Tcp),
            "<sip:1000@127.0.0.1:5060;transport=tcp>"
        );
        let uri = crate::message::parse_uri("sip:x@127.0.0.5:5099;transport=TCP").unwrap();
        let peer = uri_address(&uri).unwrap();
        assert_eq!(peer.transport, Transport::Tcp);
        assert_eq!(peer.address.port(), 5099);
    }
}
