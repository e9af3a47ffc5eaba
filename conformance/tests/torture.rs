//! RFC 4475 torture messages against a running `switchboard`: each
//! message of `conformance/torture/` is sent as one UDP datagram and must
//! get the verdict `torture/expected.toml` gives it; afterwards the server
//! must still answer OPTIONS.
//!
//! The messages go out through `harness::loopback_safe`: the RFC's
//! addresses become loopback ones of the same length and the top Via's
//! sent-by host becomes 127.0.1.N (N: the message's place in the manifest),
//! so a server answering to the Via rather than to the source sends into
//! the loopback, never to the LAN or DNS, and no two messages look like one
//! transaction.

#[path = "../../conformance/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

use harness::{Server, TortureCase, Verdict, conformance_dir, header_value, judge, loopback_safe};

/// How long to wait for an answer; a `drop` case waits all of it.
const WAIT: Duration = Duration::from_secs(2);

/// The contract: over UDP the server answers to the packet's source
/// address and port (symmetric response routing, as with RFC 3581 rport),
/// whatever the Via says, so the harness adds nothing. `TORTURE_ADD_RPORT=1`
/// puts `;rport` after each top Via's sent-by, to try a server that follows
/// RFC 3261 18.2.2 only (received + sent-by port).
fn add_rport() -> bool {
    std::env::var_os("TORTURE_ADD_RPORT").is_some()
}

/// The sent-by host standing in for message `index`'s top Via host.
fn via_host(index: usize) -> String {
    format!("127.0.1.{}", index + 1)
}

/// Message `index` as the harness sends it.
fn wire_bytes(index: usize, case: &TortureCase) -> Vec<u8> {
    loopback_safe(&case.bytes, &via_host(index), add_rport())
}

/// Every `.sip` file has an entry in expected.toml and every entry a file.
#[test]
fn manifest_lists_every_message() {
    let cases = harness::torture_manifest();
    let listed: BTreeSet<String> = cases.iter().map(|c| c.name.clone()).collect();
    let files: BTreeSet<String> = fs::read_dir(conformance_dir().join("torture"))
        .expect("read torture/")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "sip" {
                return None;
            }
            Some(path.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(listed, files, "torture/*.sip and expected.toml disagree");
    assert_eq!(listed.len(), cases.len(), "a name is listed twice");
    for case in &cases {
        assert!(
            case.bytes.windows(4).any(|w| w == b"\r\n\r\n"),
            "{}: no CRLF CRLF end of header",
            case.name
        );
    }
}

/// The loopback rewrite keeps every body byte for byte, leaves no address
/// of the RFC that leads off this machine and gives each top Via its host.
#[test]
fn loopback_rewrite_keeps_bodies_and_leaves_no_outside_address() {
    for (index, case) in harness::torture_manifest().into_iter().enumerate() {
        let safe = loopback_safe(&case.bytes, &via_host(index), false);
        let body = |m: &[u8]| {
            let at = m
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("CRLF CRLF");
            m[at..].to_vec()
        };
        assert_eq!(
            body(&case.bytes).len(),
            body(&safe).len(),
            "{}: body length",
            case.name
        );
        let text = String::from_utf8_lossy(&safe);
        for outside in ["192.0.2.", "192.168.", "255.255.255.255", "135.180."] {
            assert!(!text.contains(outside), "{}: {outside} left", case.name);
        }
        // the first sent-by in the message is the top Via's, also when folded
        let host = via_host(index);
        let found = [" ", "\t", "\n"].iter().any(|lead| {
            [";", ":", "\r", ","]
                .iter()
                .any(|end| text.contains(&format!("{lead}{host}{end}")))
        });
        assert!(found, "{}: top Via host is not {host}", case.name);
    }
}

#[test]
fn every_torture_message_gets_its_verdict() {
    let server = Server::start();
    let cases = harness::torture_manifest();
    // all at once, each from its own socket: a drop case costs WAIT once
    let results: Vec<(TortureCase, Vec<Vec<u8>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .enumerate()
            .map(|(index, case)| {
                let server = &server;
                let bytes = wire_bytes(index, case);
                scope.spawn(move || (case.clone(), server.exchange_udp(&bytes, WAIT)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("torture thread"))
            .collect()
    });

    let mut report = Vec::new();
    let mut failures = 0;
    for (case, replies) in &results {
        let mut verdict = judge(case, replies);
        // dblreq: the one answer is for the REGISTER, the trailing INVITE is noise
        if case.name == "dblreq" && verdict.is_ok() {
            let cseq = replies
                .last()
                .and_then(|r| header_value(r, "CSeq", None))
                .unwrap_or_default();
            if !cseq.ends_with("REGISTER") {
                verdict = Err(format!("answered the trailing noise: CSeq {cseq}"));
            }
        }
        match verdict {
            Ok(got) => report.push(format!("ok   {:<10} {:<9} {got}", case.name, case.section)),
            Err(why) => {
                failures += 1;
                report.push(format!(
                    "FAIL {:<10} {:<9} {why}\n       expected {:?} {:?}: {}",
                    case.name, case.section, case.verdict, case.status, case.reason
                ));
            }
        }
    }
    println!("{}", report.join("\n"));

    let alive = server.options_ping(Duration::from_secs(2));
    assert!(
        alive.is_some(),
        "server stopped answering OPTIONS after the torture messages\n{}",
        report.join("\n")
    );
    assert_eq!(failures, 0, "torture verdicts:\n{}", report.join("\n"));
}

/// The valid messages whose framing does not rely on the datagram's end
/// also parse over TCP (one connection each).
#[test]
fn valid_messages_parse_over_tcp() {
    let server = Server::start();
    let over_tcp = [
        "wsinv",
        "intmeth",
        "esc01",
        "lwsdisp",
        "longreq",
        "semiuri",
        "transports",
        "mpart01",
    ];
    let mut failures = Vec::new();
    for (index, case) in harness::torture_manifest().into_iter().enumerate() {
        if !over_tcp.contains(&case.name.as_str()) {
            continue;
        }
        assert_eq!(case.verdict, Verdict::Valid, "{} is not valid", case.name);
        let replies = server.exchange_tcp(&wire_bytes(index, &case), WAIT);
        if let Err(why) = judge(&case, &replies) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        server.options_ping(Duration::from_secs(2)).is_some(),
        "server died"
    );
    assert!(failures.is_empty(), "over TCP:\n{}", failures.join("\n"));
}
