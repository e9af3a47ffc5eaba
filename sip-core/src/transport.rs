//! Transport rules (RFC 3261 §18, RFC 3581): which transport and address a
//! message goes to. Sockets themselves live in the driver.

use crate::message::{HostPort, Param, Via};
use bytes::Bytes;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, message per datagram.
    Udp,
    /// TCP: reliable, framed by Content-Length.
    Tcp,
}

impl Transport {
    /// The transport token used in Via (`UDP`, `TCP`).
    pub fn as_via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    /// Parses a Via transport token, case-insensitively.
    pub fn from_via_token(token: &str) -> Option<Transport> {
        if token.eq_ignore_ascii_case("UDP") {
            Some(Transport::Udp)
        } else if token.eq_ignore_ascii_case("TCP") {
            Some(Transport::Tcp)
        } else {
            None
        }
    }

    /// Whether the transport delivers reliably.
    pub fn is_reliable(self) -> bool {
        self == Transport::Tcp
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_via_token())
    }
}

/// The far end of a message: transport and address. On TCP the driver keeps
/// one connection per peer address and reuses it in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The transport.
    pub transport: Transport,
    /// The peer's address.
    pub address: SocketAddr,
}

/// Bytes to send, and where.
#[derive(Debug, Clone)]
pub struct Transmit {
    /// Where to.
    pub destination: Peer,
    /// The printed message.
    pub bytes: Bytes,
}

/// Requests larger than this go over TCP when they would have used UDP
/// (RFC 3261 §18.1.1: 200 bytes under a 1500-byte path MTU).
pub const UDP_SIZE_LIMIT: usize = 1300;

/// Stamps a received request's top Via (RFC 3261 §18.2.1, RFC 3581 §4):
/// `received` when sent-by is not the source IP, and `rport` filled with
/// the source port when the client asked for it. Returns where responses
/// go: on TCP back over the connection; on UDP to the source address and
/// port, always (symmetric response routing, as RFC 3581 asks with rport
/// and as NAT'd phones need without it: the Via port of a phone behind NAT
/// is unreachable, and answering the source never sends elsewhere).
pub fn stamp_via(via: &mut Via, source: Peer) -> Peer {
    let sent_by_ip = via.sent_by.ip();
    if sent_by_ip != Some(source.address.ip()) {
        set_param(via, "received", source.address.ip().to_string());
    }
    if via.params.get("rport").is_some() {
        set_param(via, "rport", source.address.port().to_string());
    }
    source
}

/// The address a response to this Via goes to when no source is known (a
/// response sent after the fact): `received`/`rport` if present, else sent-by.
pub fn via_destination(via: &Via) -> Option<SocketAddr> {
    let received = via
        .params
        .get_val("received")
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    let ip = received.or_else(|| via.sent_by.ip())?;
    let port = via
        .params
        .get_val("rport")
        .and_then(|port| port.parse::<u16>().ok())
        .or(via.sent_by.port)
        .unwrap_or(5060);
    Some(SocketAddr::new(ip, port))
}

fn set_param(via: &mut Via, name: &'static str, value: String) {
    match via.params.get_mut(name) {
        Some(param) => param.value = Some(value.into()),
        None => via.params.push(Param::value(name, value)),
    }
}

/// A Via for a request we send from `local` over `transport`.
pub fn our_via(transport: Transport, local: SocketAddr, branch: &str) -> Via {
    let mut via = Via::new(
        transport.as_via_token(),
        HostPort::from(local),
        branch.to_string(),
    );
    via.params.push(Param::name("rport"));
    via
}

#[cfg(test)]
mod tests {
    use super::*;
    use ezk_sip_types::header::HeaderParse;
    use ezk_sip_types::print::AppendCtx;

    fn via(text: &'static str) -> Via {
        let value = bytesstr::BytesStr::from_static(text);
        <Via as HeaderParse>::parse(value.as_ref(), value.as_str())
            .unwrap()
            .1
    }

    #[test]
    fn rport_answers_to_source_port() {
        let mut via = via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport");
        let source = Peer {
            transport: Transport::Udp,
            address: "127.0.0.1:40000".parse().unwrap(),
        };
        let destination = stamp_via(&mut via, source);
        assert_eq!(destination.address, "127.0.0.1:40000".parse().unwrap());
        let printed = via.default_print_ctx().to_string();
        assert!(printed.contains("received=127.0.0.1"), "{printed}");
        assert!(printed.contains("rport=40000"), "{printed}");
    }

    #[test]
    fn without_rport_still_answers_the_source() {
        let mut via = via("SIP/2.0/UDP host.example.com:5070;branch=z9hG4bK1");
        let source = Peer {
            transport: Transport::Udp,
            address: "127.0.0.2:40000".parse().unwrap(),
        };
        let destination = stamp_via(&mut via, source);
        assert_eq!(destination, source);
        assert_eq!(
            via_destination(&via),
            Some("127.0.0.2:5070".parse().unwrap())
        );
    }

    #[test]
    fn tcp_answers_over_the_connection() {
        let mut via = via("SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1");
        let source = Peer {
            transport: Transport::Tcp,
            address: "127.0.0.1:51000".parse().unwrap(),
        };
        assert_eq!(stamp_via(&mut via, source), source);
    }
}
