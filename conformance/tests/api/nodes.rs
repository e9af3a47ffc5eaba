//! Two nodes on one PostgreSQL database: a phone or a DID provisioned,
//! changed or deactivated through one node's API is in force on the
//! other at once. Runs in the PostgreSQL pass of the suite (with
//! `SWITCHBOARD_TEST_POSTGRES` set, as `scripts/postgres.sh` does); on
//! SQLite there is only ever one node.

use super::harness::{Server, require_tool, sipp, test_postgres};
use super::{invite_status, json};
use std::time::{Duration, Instant};

/// Polls `check` for up to 5 s.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn a_phone_and_a_did_made_on_one_node_work_on_the_other() {
    if test_postgres().is_none() {
        eprintln!(
            "skipped: nodes share a directory on PostgreSQL only (run under scripts/postgres.sh)"
        );
        return;
    }
    require_tool("sipp", "sip-tester");
    let first = Server::start();
    let second = Server::start_beside(&first, &[]);
    for node in [&first, &second] {
        assert!(
            node.wait_for_log(
                "following directory changes on PostgreSQL",
                Duration::from_secs(10)
            ),
            "{}",
            node.log()
        );
    }
    let admin = first.admin_token();
    let post = |path: &str, body: String| {
        let (status, answer) = first.http("POST", path, Some(&admin), Some(&body));
        assert_eq!(status, 201, "{path} {body}: {answer}");
        json(&answer)
    };
    let account = post(
        "/api/v1/accounts",
        r#"{"number": "NODES", "name": "Two nodes"}"#.to_string(),
    )["id"]
        .as_i64()
        .unwrap();
    let phone = post(
        "/api/v1/phones",
        format!(r#"{{"extension": "3301", "password": "pass-3301-x", "account_id": {account}}}"#),
    );
    let did = post(
        "/api/v1/dids",
        format!(
            r#"{{"number": "15553301000", "account_id": {account}, "time_zone": "UTC",
                "answered_by": {{"type": "echo"}}}}"#
        ),
    );

    // Made on the first node, the phone registers on the second, and the
    // DID answers there.
    let register = |scenario: &str| {
        sipp(
            scenario,
            &[
                &second.target(),
                "-s",
                "3301",
                "-au",
                "3301",
                "-ap",
                "pass-3301-x",
            ],
        )
    };
    assert!(
        eventually(|| register("register_auth").ok()),
        "the second node never let the phone register:\n{}",
        second.log()
    );
    assert!(
        eventually(|| invite_status(&second, "15553301000") == 200),
        "{}",
        second.log()
    );

    // Deactivated on the first node, both stop on the second.
    for path in [
        format!("/api/v1/phones/{}", phone["id"]),
        format!("/api/v1/dids/{}", did["id"]),
    ] {
        let (status, answer) =
            first.http("PATCH", &path, Some(&admin), Some(r#"{"active": false}"#));
        assert_eq!(status, 200, "{answer}");
    }
    assert!(
        eventually(|| invite_status(&second, "15553301000") == 404),
        "{}",
        second.log()
    );
    register("register_refused").assert_ok(Some(&second));
}
