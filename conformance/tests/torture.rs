//! RFC 4475 torture messages against a running `switchboard`: each
//! message of `conformance/torture/` is sent as one UDP datagram and must
//! get the verdict `torture/expected.toml` gives it; afterwards the server
//! must still answer OPTIONS.

#[path = "../../conformance/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

use harness::{Server, TortureCase, Verdict, conformance_dir, header_value, judge};

/// How long to wait for an answer; a `drop` case waits all of it.
const WAIT: Duration = Duration::from_secs(2);

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

#[test]
fn every_torture_message_gets_its_verdict() {
    let server = Server::start();
    let cases = harness::torture_manifest();
    // all at once, each from its own socket: a drop case costs WAIT once
    let results: Vec<(TortureCase, Vec<Vec<u8>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| {
                let server = &server;
                scope.spawn(move || (case.clone(), server.exchange_udp(&case.bytes, WAIT)))
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
    for case in harness::torture_manifest()
        .into_iter()
        .filter(|c| over_tcp.contains(&c.name.as_str()))
    {
        assert_eq!(case.verdict, Verdict::Valid, "{} is not valid", case.name);
        let replies = server.exchange_tcp(&case.bytes, WAIT);
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
