//! The HTTP control API against the real binary: health without a token,
//! the admin token written at first start (mode 0600), tokens made,
//! listed and revoked, role limits, and errors that name the field; the
//! provisioning collections (skills, agents, holidays) in `provisioning`.

#![allow(clippy::disallowed_methods)]

#[path = "../../conformance/harness.rs"]
mod harness;

#[path = "api/ivr.rs"]
mod ivr;
#[path = "api/live_calls.rs"]
mod live_calls;
#[path = "api/nodes.rs"]
mod nodes;
#[path = "api/provisioning.rs"]
mod provisioning;

use harness::{Server, register_sipp_phone, require_tool, sipp, spawn_sipp};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// `method path` with a JSON body and `token`: status and body.
fn send(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let text = body.map(|body| body.to_string());
    let (status, answer) = server.http(method, path, Some(token), text.as_deref());
    let answer = if answer.is_empty() {
        Value::Null
    } else {
        json(&answer)
    };
    (status, answer)
}

/// The secret of a new token with `role`, made with `admin`.
fn new_token(server: &Server, admin: &str, role: &str) -> String {
    let (status, body) = server.http(
        "POST",
        "/api/v1/tokens",
        Some(admin),
        Some(&format!(
            r#"{{"name": "{role} for a test", "role": "{role}"}}"#
        )),
    );
    assert_eq!(status, 201, "{body}");
    json(&body)["secret"].as_str().unwrap().to_string()
}

#[test]
fn health_and_the_reference_need_no_token_and_everything_else_does() {
    let server = Server::start();
    let (status, body) = server.http("GET", "/api/v1/health", None, None);
    assert_eq!((status, json(&body)["status"].as_str()), (200, Some("ok")));
    // The reference describes the API and holds no data.
    let (status, body) = server.http("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    assert!(json(&body)["paths"].is_object());
    assert_eq!(server.http("GET", "/api/v1/docs", None, None).0, 200);

    for (method, path) in [
        ("GET", "/api/v1/tokens"),
        ("GET", "/api/v1/phones"),
        ("DELETE", "/api/v1/tokens/tok_0000000000000000"),
    ] {
        let (status, body) = server.http(method, path, None, None);
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert!(json(&body)["error"].is_string());
        let (status, _) = server.http(method, path, Some("sb_not-a-token"), None);
        assert_eq!(status, 401, "{method} {path} with a made-up token");
    }
    let (status, body) = server.http("GET", "/api/v1/nowhere", Some(&server.admin_token()), None);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn the_admin_token_is_written_once_and_private() {
    let server = Server::start();
    let path = server.data_dir().join("admin-token");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let token = server.admin_token();
    assert!(token.starts_with("sb_") && token.len() == 51, "{token}");
    assert!(server.log().contains(&token), "shown once in the log");
    // The database keeps only its hash.
    let tokens = server.query_database("SELECT id, secret_sha256 FROM api_tokens");
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(
        !format!("{tokens:?}").contains(&token),
        "the secret is not stored"
    );
    if server.database_url().is_none() {
        // The database holds digest HA1s: the server's user's only, its
        // WAL and shared-memory files too.
        for name in ["switchboard.db", "switchboard.db-wal", "switchboard.db-shm"] {
            let path = server.data_dir().join(name);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
        let database = std::fs::read(server.data_dir().join("switchboard.db")).unwrap();
        let wal = std::fs::read(server.data_dir().join("switchboard.db-wal")).unwrap_or_default();
        for bytes in [database, wal] {
            assert!(
                !bytes
                    .windows(token.len())
                    .any(|window| window == token.as_bytes()),
                "the secret is not stored"
            );
        }
    }
}

#[test]
fn tokens_are_made_listed_used_and_revoked_within_roles() {
    let server = Server::start();
    let admin = server.admin_token();

    let (status, body) = server.http(
        "POST",
        "/api/v1/tokens",
        Some(&admin),
        Some(r#"{"name": "reports", "role": "read_only"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let created = json(&body);
    let (id, secret) = (
        created["id"].as_str().unwrap().to_string(),
        created["secret"].as_str().unwrap().to_string(),
    );
    assert_eq!(created["role"], "read_only");

    let (status, body) = server.http("GET", "/api/v1/tokens", Some(&admin), None);
    assert_eq!(status, 200, "{body}");
    let listed = json(&body);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(!body.contains(&secret), "secrets are never listed");

    // The new token works, within its role.
    let (status, _) = server.http("GET", "/api/v1/phones", Some(&secret), None);
    assert_eq!(status, 200);
    let (status, body) = server.http("GET", "/api/v1/tokens", Some(&secret), None);
    assert_eq!(status, 403, "{body}");

    // An admin cannot make a sysadmin.
    let ops = new_token(&server, &admin, "admin");
    let (status, body) = server.http(
        "POST",
        "/api/v1/tokens",
        Some(&ops),
        Some(r#"{"name": "root", "role": "sysadmin"}"#),
    );
    assert_eq!(status, 403, "{body}");

    // Revoked: it stops working at once, and stays listed.
    let (status, _) = server.http(
        "DELETE",
        &format!("/api/v1/tokens/{id}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = server.http("GET", "/api/v1/phones", Some(&secret), None);
    assert_eq!(status, 401);
    let (_, body) = server.http("GET", "/api/v1/tokens", Some(&admin), None);
    let revoked = json(&body)
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert!(revoked["revoked_at"].is_string());
    let (status, _) = server.http(
        "DELETE",
        "/api/v1/tokens/tok_0000000000000000",
        Some(&admin),
        None,
    );
    assert_eq!(status, 404);
    // The last active sysadmin token cannot be revoked.
    let (_, body) = server.http("GET", "/api/v1/tokens", Some(&admin), None);
    let first = json(&body)
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["role"] == "sysadmin")
        .map(|token| token["id"].as_str().unwrap().to_string())
        .unwrap();
    let (status, body) = server.http(
        "DELETE",
        &format!("/api/v1/tokens/{first}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 409, "{body}");
    let (status, _) = server.http("GET", "/api/v1/tokens", Some(&admin), None);
    assert_eq!(status, 200, "still works");
}

/// Logs in as `username`: the status and the body.
fn login(server: &Server, username: &str, password: &str) -> (u16, Value) {
    let (status, body) = server.http(
        "POST",
        "/api/v1/login",
        None,
        Some(&format!(
            r#"{{"username": "{username}", "password": "{password}"}}"#
        )),
    );
    (status, json(&body))
}

/// Users: made within the maker's role, logging in for a token that
/// follows the user (its role, its deactivation, its deletion), locked
/// after five consecutive failed logins whatever the password, and
/// unlocked by a sysadmin only.
#[test]
fn users_log_in_are_locked_after_five_failures_and_unlocked_by_a_sysadmin() {
    let server = Server::start();
    let sysadmin = server.admin_token();
    let admin = new_token(&server, &sysadmin, "admin");

    // An admin cannot make a sysadmin; passwords have a floor.
    let (status, body) = server.http(
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(r#"{"username": "root2", "role": "sysadmin", "password": "long enough pw"}"#),
    );
    assert_eq!(status, 403, "{body}");
    let (status, body) = server.http(
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(r#"{"username": "ann", "role": "supervisor", "password": "short"}"#),
    );
    assert_eq!(
        (status, json(&body)["path"].as_str()),
        (422, Some("/password")),
        "{body}"
    );
    let (status, body) = server.http(
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(r#"{"username": "ann", "name": "Ann", "role": "admin", "password": "correct horse"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let ann = json(&body);
    let id = ann["id"].as_i64().unwrap();
    assert_eq!(ann["role"], "admin");
    assert!(
        ann.get("password").is_none() && !body.contains("argon2"),
        "{body}"
    );
    let (status, body) = server.http(
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(r#"{"username": "ann", "role": "agent", "password": "another one"}"#),
    );
    assert_eq!(status, 409, "{body}");

    // A login's token works with the user's role, and follows its changes.
    let (status, session) = login(&server, "ann", "correct horse");
    assert_eq!(status, 200, "{session}");
    let token = session["secret"].as_str().unwrap().to_string();
    assert!(session["expires_at"].as_str().unwrap() > "2026");
    assert_eq!(session["user"]["username"], "ann");
    let (status, body) = server.http(
        "POST",
        "/api/v1/accounts",
        Some(&token),
        Some(r#"{"number": "ANN1", "name": "Ann's"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.http(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(&admin),
        Some(r#"{"role": "read_only"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.http(
        "POST",
        "/api/v1/accounts",
        Some(&token),
        Some(r#"{"number": "ANN2", "name": "Ann's"}"#),
    );
    assert_eq!(status, 403, "now read-only");
    let (status, _) = server.http("GET", "/api/v1/accounts", Some(&token), None);
    assert_eq!(status, 200);
    let (status, body) = server.http(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(&admin),
        Some(r#"{"active": false}"#),
    );
    assert_eq!(
        (status, json(&body)["active"].as_bool()),
        (200, Some(false))
    );
    let (status, _) = server.http("GET", "/api/v1/accounts", Some(&token), None);
    assert_eq!(status, 401, "an inactive user's token stops");
    let (status, _) = login(&server, "ann", "correct horse");
    assert_eq!(status, 401, "an inactive user cannot log in");
    server.http(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(&admin),
        Some(r#"{"active": true}"#),
    );
    let (status, _) = server.http("GET", "/api/v1/accounts", Some(&token), None);
    assert_eq!(status, 200, "active again");

    // Unknown users and wrong passwords are refused alike.
    let (status, nobody) = login(&server, "nobody", "correct horse");
    assert_eq!(status, 401);
    // Five consecutive failures lock (the inactive one above counted, and
    // a good login since cleared the count) ...
    let (status, session) = login(&server, "ann", "correct horse");
    assert_eq!(status, 200, "{session}");
    for attempt in 1..=5 {
        let (status, body) = login(&server, "ann", "wrong horse");
        assert_eq!(status, 401, "attempt {attempt}");
        assert_eq!(body["error"], nobody["error"], "no hint which was wrong");
    }
    let (status, body) = server.http("GET", &format!("/api/v1/users/{id}"), Some(&admin), None);
    assert_eq!(status, 200);
    let user = json(&body);
    assert_eq!(user["failed_logins"], 5, "{user}");
    assert!(user["locked_at"].is_string(), "{user}");
    // ... whatever the password, and the user's tokens stop.
    let (status, body) = login(&server, "ann", "correct horse");
    assert_eq!(status, 403, "{body}");
    let (status, _) = server.http("GET", "/api/v1/accounts", Some(&token), None);
    assert_eq!(status, 401);
    let (status, body) = server.http("GET", "/api/v1/users?locked=true", Some(&admin), None);
    assert_eq!(
        (status, json(&body)["total"].as_i64()),
        (200, Some(1)),
        "{body}"
    );
    // Neither a new password nor an admin unlocks it; a sysadmin does.
    let (status, _) = server.http(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(&admin),
        Some(r#"{"password": "battery staple"}"#),
    );
    assert_eq!(status, 200);
    assert_eq!(login(&server, "ann", "battery staple").0, 403);
    let unlock = format!("/api/v1/users/{id}/unlock");
    assert_eq!(server.http("POST", &unlock, Some(&admin), None).0, 403);
    let (status, body) = server.http("POST", &unlock, Some(&sysadmin), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["failed_logins"], 0);
    assert_eq!(
        login(&server, "ann", "correct horse").0,
        401,
        "the old password is gone"
    );
    let (status, session) = login(&server, "ann", "battery staple");
    assert_eq!(status, 200, "{session}");
    let token = session["secret"].as_str().unwrap().to_string();

    // Listed with paging; the login's tokens are listed as the user's.
    let (status, body) = server.http("GET", "/api/v1/users?limit=1", Some(&admin), None);
    let page = json(&body);
    assert_eq!(
        (
            status,
            page["total"].as_i64(),
            page["items"].as_array().map(Vec::len)
        ),
        (200, Some(1), Some(1))
    );
    let (_, body) = server.http("GET", "/api/v1/tokens", Some(&admin), None);
    let logins = json(&body)
        .as_array()
        .unwrap()
        .iter()
        .filter(|token| token["user_id"].as_i64() == Some(id))
        .count();
    assert_eq!(logins, 3, "{body}");
    // Only admins manage users; deleting one ends its tokens.
    assert_eq!(
        server.http("GET", "/api/v1/users", Some(&token), None).0,
        403
    );
    let (status, _) = server.http("DELETE", &format!("/api/v1/users/{id}"), Some(&admin), None);
    assert_eq!(status, 204);
    assert_eq!(
        server.http("GET", "/api/v1/accounts", Some(&token), None).0,
        401
    );
    assert_eq!(
        server
            .http("GET", &format!("/api/v1/users/{id}"), Some(&admin), None)
            .0,
        404
    );
}

/// Flows: a document checked whole at upload (a 422 points into it),
/// versioned on each new document, listed, and kept from deletion while
/// another flow goes on to it.
#[test]
fn flows_are_checked_at_upload_versioned_and_listed() {
    let server = Server::start();
    let admin = server.admin_token();
    let reader = new_token(&server, &admin, "read_only");
    let post = |body: &str| {
        let (status, body) = server.http("POST", "/api/v1/flows", Some(&admin), Some(body));
        (status, json(&body))
    };
    let (status, made) = post(
        r#"{"name": "Main", "document": {"verbs": [
            {"verb": "answer"},
            {"verb": "menu", "prompt": [{"verb": "play", "prompt": "en/greeting"}],
             "options": {"1": [{"verb": "dial", "target": {"phone": "1001"}}],
                         "2": [{"verb": "voicemail", "box": "5000"}]}},
            {"verb": "hangup"}]}}"#,
    );
    assert_eq!(status, 201, "{made}");
    let main = made["id"].as_i64().unwrap();
    assert_eq!(made["version"], 1);
    assert_eq!(
        made["document"]["verbs"][1]["options"]["2"][0]["box"],
        "5000"
    );

    // Each mistake is refused with where it is.
    for (document, path) in [
        (
            r#"{"verbs": [{"verb": "ring", "count": 0}]}"#,
            "/document/verbs/0/count",
        ),
        (
            r#"{"verbs": [{"verb": "dance"}]}"#,
            "/document/verbs/0/verb",
        ),
        (r#"{"verbs": []}"#, "/document/verbs"),
        (
            r#"{"verbs": [{"verb": "menu", "prompt": [], "options": {"x": [{"verb": "hangup"}]}}]}"#,
            "/document/verbs/0/options/x",
        ),
        (r#"{"steps": []}"#, "/document/steps"),
        (r#"[1, 2]"#, "/document"),
    ] {
        let (status, body) = post(&format!(r#"{{"name": "Bad", "document": {document}}}"#));
        assert_eq!(status, 422, "{document}: {body}");
        assert_eq!(body["path"], path, "{document}: {body}");
    }
    // What it names must exist: a 409, pointing at where it is named.
    for (document, path) in [
        (
            r#"{"verbs": [{"verb": "answer"}, {"verb": "dial", "target": {"phone": "9999"}}]}"#,
            "/document/verbs/1/target/phone",
        ),
        (
            r#"{"verbs": [{"verb": "play", "prompt": "no-such-prompt"}]}"#,
            "/document/verbs/0/prompt",
        ),
        (
            r#"{"verbs": [{"verb": "redirect", "flow": 424242}]}"#,
            "/document/verbs/0/flow",
        ),
        (
            r#"{"verbs": [{"verb": "dial", "target": {"agent": "nobody"}}]}"#,
            "/document/verbs/0/target/agent",
        ),
        (
            r#"{"verbs": [{"verb": "voicemail", "box": "no-such-box"}]}"#,
            "/document/verbs/0/box",
        ),
    ] {
        let (status, body) = post(&format!(r#"{{"name": "Bad", "document": {document}}}"#));
        assert_eq!(status, 409, "{document}: {body}");
        assert_eq!(body["path"], path, "{document}: {body}");
    }
    let (status, body) = post(r#"{"name": " ", "document": {"verbs": [{"verb": "hangup"}]}}"#);
    assert_eq!(
        (status, body["path"].as_str()),
        (422, Some("/name")),
        "{body}"
    );
    let (status, _) = server.http(
        "POST",
        "/api/v1/flows",
        Some(&reader),
        Some(r#"{"name": "Mine", "document": {"verbs": [{"verb": "hangup"}]}}"#),
    );
    assert_eq!(status, 403);

    // A second flow goes on to the first.
    let (status, night) = post(&format!(
        r#"{{"name": "Night", "document": {{"verbs": [{{"verb": "say", "text": "We are closed."}},
            {{"verb": "redirect", "flow": {main}}}]}}}}"#
    ));
    assert_eq!(status, 201, "{night}");
    let night = night["id"].as_i64().unwrap();

    // A new document is a new version; a rename is not.
    let path = format!("/api/v1/flows/{main}");
    let (status, body) = server.http(
        "PATCH",
        &path,
        Some(&admin),
        Some(r#"{"document": {"verbs": [{"verb": "ring", "count": 2}, {"verb": "hangup"}]}}"#),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["version"], 2);
    let (status, body) = server.http(
        "PATCH",
        &path,
        Some(&admin),
        Some(r#"{"name": "Main line"}"#),
    );
    assert_eq!(
        (status, json(&body)["version"].as_i64()),
        (200, Some(2)),
        "{body}"
    );
    let (status, body) = server.http(
        "PATCH",
        &path,
        Some(&admin),
        Some(r#"{"document": {"verbs": [{"verb": "ring", "count": 21}]}}"#),
    );
    assert_eq!(
        (status, json(&body)["path"].as_str()),
        (422, Some("/document/verbs/0/count"))
    );
    let (status, body) = server.http("GET", &format!("{path}/versions"), Some(&reader), None);
    assert_eq!(status, 200, "{body}");
    let versions = json(&body);
    assert_eq!(
        versions.as_array().unwrap().len(),
        2,
        "the refused one is not kept"
    );
    assert_eq!(versions[0]["version"], 2);
    assert_eq!(versions[1]["document"]["verbs"][0]["verb"], "answer");

    // Listed and read by anyone with a token: the demo's two flows (its
    // voicemail and menu DIDs) and these two.
    let (status, body) = server.http("GET", "/api/v1/flows?limit=3", Some(&reader), None);
    let page = json(&body);
    assert_eq!((status, page["total"].as_i64()), (200, Some(4)), "{body}");
    assert_eq!(page["items"][2]["name"], "Main line");
    let (_, body) = server.http("GET", "/api/v1/flows?name=Night", Some(&reader), None);
    assert_eq!(json(&body)["items"][0]["id"].as_i64(), Some(night));

    // Not deleted while another flow goes on to it.
    let (status, body) = server.http("DELETE", &path, Some(&admin), None);
    assert_eq!(status, 409, "{body}");
    let (status, _) = server.http(
        "DELETE",
        &format!("/api/v1/flows/{night}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = server.http("DELETE", &path, Some(&admin), None);
    assert_eq!(status, 204);
    let (status, _) = server.http("GET", &path, Some(&reader), None);
    assert_eq!(status, 404);
    let (status, _) = server.http("GET", &format!("{path}/versions"), Some(&reader), None);
    assert_eq!(status, 404);
}

/// The reference for people: an HTML page from the same document, with
/// every operation and how to authenticate, needing no token.
#[test]
fn the_docs_page_shows_every_operation() {
    let server = Server::start();
    let admin = server.admin_token();
    let (status, page) = server.http("GET", "/api/v1/docs", None, None);
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"authentication\""),
        "says how to authenticate"
    );
    assert!(page.contains("Authorization: Bearer"));
    assert!(
        page.starts_with("<!doctype html>"),
        "{}",
        &page[..page.len().min(200)]
    );
    let (_, document) = server.http("GET", "/api/v1/openapi.json", Some(&admin), None);
    let document = json(&document);
    for (path, item) in document["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(page.contains(&format!("id=\"{id}\"")), "{path} {id}");
        }
    }
    assert!(page.contains("id=\"schema-FlowVerbMenu\""));
}

/// Reports over call records (written straight into the database here,
/// as the call controller writes them): usage per client and month billed
/// in rounded-up units, and service level per skill.
#[test]
fn reports_add_up_usage_by_client_and_month_and_service_level_by_skill() {
    let server = Server::start();
    let admin = server.admin_token();
    let agent = new_token(&server, &admin, "agent");
    let (_, body) = server.http("GET", "/api/v1/accounts?number=DEMO", Some(&admin), None);
    let demo = json(&body)["items"][0]["id"].as_i64().unwrap();
    let demo = demo.to_string();
    // call id, account, start, answered, connected, skill, agent answered,
    // wait, talk, hold, hung up by
    let calls = [
        (
            "a",
            demo.as_str(),
            "2026-10-05T10:00:00.000Z",
            true,
            30.0,
            "",
            false,
            0.0,
            30.0,
            0.0,
            "caller",
        ),
        (
            "b",
            &demo,
            "2026-10-06T10:00:00.000Z",
            true,
            61.0,
            "",
            false,
            0.0,
            61.0,
            0.0,
            "callee",
        ),
        (
            "c",
            &demo,
            "2026-10-07T10:00:00.000Z",
            false,
            0.0,
            "",
            false,
            0.0,
            0.0,
            0.0,
            "caller",
        ),
        (
            "d",
            &demo,
            "2026-11-01T10:00:00.000Z",
            true,
            120.0,
            "",
            false,
            0.0,
            120.0,
            0.0,
            "caller",
        ),
        (
            "e",
            "NULL",
            "2026-11-02T10:00:00.000Z",
            true,
            59.5,
            "",
            false,
            0.0,
            59.5,
            0.0,
            "caller",
        ),
        (
            "f",
            &demo,
            "2026-11-03T10:00:00.000Z",
            true,
            115.0,
            "sales",
            true,
            10.0,
            100.0,
            5.0,
            "caller",
        ),
        (
            "g",
            &demo,
            "2026-11-03T11:00:00.000Z",
            true,
            70.0,
            "sales",
            false,
            70.0,
            0.0,
            0.0,
            "caller",
        ),
        (
            "h",
            &demo,
            "2026-11-03T12:00:00.000Z",
            true,
            140.0,
            "sales",
            true,
            90.0,
            50.0,
            0.0,
            "callee",
        ),
        (
            "i",
            &demo,
            "2026-11-04T12:00:00.000Z",
            true,
            5.0,
            "support",
            false,
            5.0,
            0.0,
            0.0,
            "caller",
        ),
    ];
    for (id, account, start, answered, connected, skill, agent_answered, wait, talk, hold, by) in
        calls
    {
        let answer = if answered {
            format!("'{start}'")
        } else {
            "NULL".to_string()
        };
        let agent_answer = if agent_answered {
            format!("'{start}'")
        } else {
            "NULL".to_string()
        };
        let skill = if skill.is_empty() {
            "NULL".to_string()
        } else {
            format!("'{skill}'")
        };
        server.query_database(&format!(
            "INSERT INTO cdrs (call_id, direction, account_id, start_time, answer_time, \
             agent_answer_time, end_time, hangup_time, caller_id, number_dialed, route, \
             skill_name, connection_seconds, ivr_seconds, wait_seconds, talk_seconds, \
             hold_seconds, transfer_seconds, wrap_seconds, hung_up_by, sip_status) VALUES \
             ('{id}', 'inbound', {account}, '{start}', {answer}, {agent_answer}, '{start}', \
             '{start}', '15550001111', '1000', 'phone', {skill}, {connected}, 0, {wait}, \
             {talk}, {hold}, 0, 0, '{by}', 200)"
        ));
    }

    let (status, body) = server.http("GET", "/api/v1/reports/usage", Some(&agent), None);
    assert_eq!(status, 403, "{body}");
    let (status, body) = server.http(
        "GET",
        "/api/v1/reports/usage?to=2026-11-03",
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let usage = json(&body);
    assert_eq!(usage["unit_seconds"], 60);
    let rows: Vec<(Value, String, i64, i64, f64, i64, f64)> = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["account_number"].clone(),
                row["month"].as_str().unwrap().to_string(),
                row["calls"].as_i64().unwrap(),
                row["answered"].as_i64().unwrap(),
                row["connected_seconds"].as_f64().unwrap(),
                row["billed_units"].as_i64().unwrap(),
                row["billed_minutes"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                Value::from("DEMO"),
                "2026-10".to_string(),
                3,
                2,
                91.0,
                3,
                3.0
            ),
            (
                Value::from("DEMO"),
                "2026-11".to_string(),
                1,
                1,
                120.0,
                2,
                2.0
            ),
            (Value::Null, "2026-11".to_string(), 1, 1, 59.5, 1, 1.0),
        ],
        "{body}"
    );
    let (_, body) = server.http(
        "GET",
        &format!(
            "/api/v1/reports/usage?unit_seconds=30&account_id={demo}&from=2026-10-01&to=2026-10-31"
        ),
        Some(&admin),
        None,
    );
    let usage = json(&body);
    assert_eq!(usage["rows"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(
        usage["rows"][0]["billed_units"], 4,
        "30 s: 1 + 3 + 0: {body}"
    );
    assert_eq!(usage["rows"][0]["billed_minutes"], 2.0);
    let (status, body) = server.http(
        "GET",
        "/api/v1/reports/usage?unit_seconds=0",
        Some(&admin),
        None,
    );
    assert_eq!(
        (status, json(&body)["path"].as_str()),
        (422, Some("?unit_seconds"))
    );

    let (status, body) = server.http("GET", "/api/v1/reports/service-level", Some(&admin), None);
    assert_eq!(status, 200, "{body}");
    let report = json(&body);
    assert_eq!(report["threshold_seconds"], 60);
    let sales = &report["skills"][0];
    assert_eq!(sales["skill"], "sales", "{body}");
    assert_eq!(
        (
            sales["calls"].as_i64(),
            sales["answered"].as_i64(),
            sales["abandoned"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert!(
        (sales["abandoned_percent"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-9,
        "{body}"
    );
    assert!((sales["average_wait_seconds"].as_f64().unwrap() - 170.0 / 3.0).abs() < 1e-9);
    assert_eq!(sales["average_talk_seconds"], 75.0);
    assert_eq!(sales["average_hold_seconds"], 2.5);
    assert_eq!(sales["waits_over_threshold"], 2);
    let support = &report["skills"][1];
    assert_eq!(support["skill"], "support");
    assert_eq!(
        (
            support["abandoned"].as_i64(),
            support["abandoned_percent"].as_f64()
        ),
        (Some(1), Some(100.0))
    );
    assert!(
        support["average_talk_seconds"].is_null(),
        "no call was answered: {body}"
    );
    let (_, body) = server.http(
        "GET",
        "/api/v1/reports/service-level?threshold_seconds=80&skill=sales",
        Some(&admin),
        None,
    );
    let report = json(&body);
    assert_eq!(report["skills"].as_array().unwrap().len(), 1);
    assert_eq!(report["skills"][0]["waits_over_threshold"], 1, "{body}");
}

#[test]
fn bad_bodies_get_an_answer_that_names_the_field() {
    let server = Server::start();
    let admin = server.admin_token();
    for (body, path) in [
        (r#"{"role": "admin"}"#, "/name"),
        (r#"{"name": "x", "role": "emperor"}"#, "/role"),
        (r#"{"name": 7, "role": "admin"}"#, "/name"),
        (
            r#"{"name": "x", "role": "admin", "colour": "red"}"#,
            "/colour",
        ),
        (r#"{"name": "  ", "role": "admin"}"#, "/name"),
    ] {
        let (status, answer) = server.http("POST", "/api/v1/tokens", Some(&admin), Some(body));
        assert_eq!(status, 422, "{body}: {answer}");
        let answer = json(&answer);
        assert_eq!(answer["path"].as_str(), Some(path), "{body}: {answer}");
        assert!(answer["error"].is_string());
    }
    let (status, answer) = server.http("POST", "/api/v1/tokens", Some(&admin), Some("{not json"));
    assert_eq!(status, 400, "{answer}");
}

#[test]
fn the_openapi_document_describes_the_routes() {
    let server = Server::start();
    let (status, body) = server.http(
        "GET",
        "/api/v1/openapi.json",
        Some(&server.admin_token()),
        None,
    );
    assert_eq!(status, 200);
    let document = json(&body);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/health", "/api/v1/tokens", "/api/v1/tokens/{id}"] {
        assert!(document["paths"][path].is_object(), "{path} in {body}");
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // A validator of its own validates it (openapi-spec-validator, from
    // PyPI, which the test script installs).
    let file = server.data_dir().join("openapi.json");
    std::fs::write(&file, &body).unwrap();
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the OpenAPI document does not validate (is openapi-spec-validator installed?):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn accounts_are_made_read_listed_changed_and_deleted() {
    let server = Server::start();
    let admin = server.admin_token();
    let make = |number: &str, name: &str| {
        server.http(
            "POST",
            "/api/v1/accounts",
            Some(&admin),
            Some(&format!(r#"{{"number": "{number}", "name": "{name}"}}"#)),
        )
    };
    let (status, body) = make("ACME-1", "Acme Plumbing");
    assert_eq!(status, 201, "{body}");
    let acme = json(&body);
    assert_eq!(acme["call_recording"], false);
    assert_eq!(acme["recording_retention_days"], 90);
    let id = acme["id"].as_i64().unwrap();
    for index in 0..4 {
        assert_eq!(
            make(&format!("C{index}"), &format!("Client {index}")).0,
            201
        );
    }

    // A duplicate number is a conflict; bad fields name themselves.
    let (status, body) = make("ACME-1", "Again");
    assert_eq!(status, 409, "{body}");
    let (status, body) = make("no spaces", "x");
    assert_eq!(
        (status, json(&body)["path"].as_str()),
        (422, Some("/number"))
    );

    // Paging and filters.
    let (status, body) = server.http(
        "GET",
        "/api/v1/accounts?limit=2&offset=1",
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let page = json(&body);
    assert_eq!(page["total"], 6, "with the demo account");
    let numbers: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["C0", "C1"], "by number: ACME-1 first");
    let (_, body) = server.http(
        "GET",
        "/api/v1/accounts?name_contains=PLUMB",
        Some(&admin),
        None,
    );
    assert_eq!(json(&body)["total"], 1);
    for bad in ["limit=0", "limit=501", "limit=x", "colour=red"] {
        let (status, body) = server.http(
            "GET",
            &format!("/api/v1/accounts?{bad}"),
            Some(&admin),
            None,
        );
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(
            json(&body)["path"].as_str().unwrap().starts_with('?'),
            "{body}"
        );
    }

    // Read-only tokens read but do not write.
    let viewer = new_token(&server, &admin, "read_only");
    let path = format!("/api/v1/accounts/{id}");
    let (status, body) = server.http("GET", &path, Some(&viewer), None);
    assert_eq!(
        (status, json(&body)["name"].as_str()),
        (200, Some("Acme Plumbing"))
    );
    let (status, _) = server.http("PATCH", &path, Some(&viewer), Some(r#"{"name": "Mine"}"#));
    assert_eq!(status, 403);

    // A change touches only the fields given.
    let (status, body) = server.http(
        "PATCH",
        &path,
        Some(&admin),
        Some(r#"{"call_recording": true, "recording_retention_days": 30}"#),
    );
    assert_eq!(status, 200, "{body}");
    let changed = json(&body);
    assert_eq!(
        (
            &changed["name"],
            &changed["call_recording"],
            &changed["recording_retention_days"]
        ),
        (&acme["name"], &Value::Bool(true), &Value::from(30))
    );
    let (status, _) = server.http("PATCH", &path, Some(&admin), Some(r#"{"number": "C0"}"#));
    assert_eq!(status, 409);
    let (status, body) = server.http(
        "PATCH",
        &path,
        Some(&admin),
        Some(r#"{"recording_retention_days": 0}"#),
    );
    assert_eq!(
        (status, json(&body)["path"].as_str()),
        (422, Some("/recording_retention_days"))
    );

    let (status, _) = server.http("DELETE", &path, Some(&admin), None);
    assert_eq!(status, 204);
    for (method, path) in [
        ("GET", path.as_str()),
        ("DELETE", path.as_str()),
        ("GET", "/api/v1/accounts/not-a-number"),
    ] {
        let (status, body) = server.http(method, path, Some(&admin), None);
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
}

/// What schemathesis is told beyond the document: a well-formed agent or
/// holiday may name a skill, a phone's extension or a DID that does not
/// exist (or is another account's), which the document cannot say and
/// the API refuses with a 422 at that field; so for those writes alone a
/// 422 is also a right answer to a valid request.
const SCHEMATHESIS_CONFIG: &str = r#"
[[operations]]
include-operation-id = ["create_agent", "update_agent", "create_holiday", "update_holiday"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# An upload must be audio this server decodes (WAV, MP3, FLAC, Ogg
# Vorbis), which the document cannot say: other bytes get 422.
[[operations]]
include-operation-id = ["upload_prompt"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# A call is placed to, transferred to and played a phone, DID or prompt
# that must exist: valid requests naming none get 422.
[[operations]]
include-operation-id = ["place_call", "transfer_call", "play_into_call"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"#;

/// schemathesis (from PyPI, which the test script installs) fuzzes every
/// route from the OpenAPI document: no 500, no answer outside the
/// document, no valid request refused (but see [`SCHEMATHESIS_CONFIG`])
/// and no invalid one taken. Token revocation is left out of the run (it
/// would revoke the fuzzer's own token), and so is the endless event
/// stream; the tests above cover both.
#[test]
fn schemathesis_finds_nothing() {
    let server = Server::start();
    let token = server.admin_token();
    let (status, body) = server.http("GET", "/api/v1/openapi.json", Some(&token), None);
    assert_eq!(status, 200);
    let file = server.data_dir().join("openapi.json");
    std::fs::write(&file, &body).unwrap();
    let config = server.data_dir().join("schemathesis.toml");
    std::fs::write(&config, SCHEMATHESIS_CONFIG).unwrap();
    // The SQLite pass explores each operation with 100 examples; the
    // PostgreSQL pass runs every operation again against the other
    // storage with fewer, which keeps CI within its time.
    let examples = if harness::test_postgres().is_some() {
        "30"
    } else {
        "100"
    };
    let output = std::process::Command::new("schemathesis")
        // Its cache goes with the server's data, not into the checkout.
        .current_dir(server.data_dir())
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&file)
        .args(["--url", &format!("http://{}", server.http_addr())])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", examples, "--seed", "20261122"])
        .args(["--exclude-operation-id", "revoke_token"])
        // The event stream never ends by itself; the socket is a switch of
        // protocol, not a request and response.
        .args(["--exclude-operation-id", "event_stream"])
        .args(["--exclude-operation-id", "event_socket"])
        .output()
        .expect("schemathesis runs (the test script installs it from PyPI)");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{}{}\n---- server ----\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
}

/// A phone made through the API registers at once (SIPp, digest auth);
/// deactivated, it is refused at once; the demo phones are ordinary rows.
#[test]
fn a_phone_made_through_the_api_registers_and_stops_when_deactivated() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let (_, body) = server.http("GET", "/api/v1/phones?active=true", Some(&admin), None);
    let extensions: Vec<String> = json(&body)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|phone| phone["extension"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(extensions, ["1001", "1002"], "the demo phones: {body}");

    let (_, body) = server.http(
        "POST",
        "/api/v1/accounts",
        Some(&admin),
        Some(r#"{"number": "A1", "name": "Acme"}"#),
    );
    let account = json(&body)["id"].as_i64().unwrap();
    let (status, body) = server.http(
        "POST",
        "/api/v1/phones",
        Some(&admin),
        Some(&format!(
            r#"{{"extension": "2101", "password": "s3cret-pass", "account_id": {account}}}"#
        )),
    );
    assert_eq!(status, 201, "{body}");
    let phone = json(&body);
    assert!(phone.get("password").is_none() && !body.contains("s3cret-pass"));
    let path = format!("/api/v1/phones/{}", phone["id"]);
    let register = |scenario: &str| {
        sipp(
            scenario,
            &[
                &server.target(),
                "-s",
                "2101",
                "-au",
                "2101",
                "-ap",
                "s3cret-pass",
            ],
        )
    };
    register("register_auth").assert_ok(Some(&server));

    // A duplicate extension, a short password, an unknown account.
    for (body, status_wanted) in [
        (r#"{"extension": "2101", "password": "another-pass"}"#, 409),
        (r#"{"extension": "2102", "password": "short"}"#, 422),
        (
            r#"{"extension": "2102", "password": "long-enough", "account_id": 999}"#,
            409,
        ),
    ] {
        let (status, answer) = server.http("POST", "/api/v1/phones", Some(&admin), Some(body));
        assert_eq!(status, status_wanted, "{body}: {answer}");
    }
    // The account cannot go while its phone is there.
    let (status, _) = server.http(
        "DELETE",
        &format!("/api/v1/accounts/{account}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 409);

    let (status, body) = server.http("PATCH", &path, Some(&admin), Some(r#"{"active": false}"#));
    assert_eq!(
        (status, json(&body)["active"].as_bool()),
        (200, Some(false))
    );
    // register_refused passes when the right credentials are refused.
    register("register_refused").assert_ok(Some(&server));
    // Its registration from before rings nothing any more.
    assert_eq!(invite_status(&server, "2101"), 404);

    let (status, _) = server.http("PATCH", &path, Some(&admin), Some(r#"{"active": true}"#));
    assert_eq!(status, 200);
    register("register_auth").assert_ok(Some(&server));
    let (status, _) = server.http("DELETE", &path, Some(&admin), None);
    assert_eq!(status, 204);
    register("register_refused").assert_ok(Some(&server));
}

/// The final status the server gives a bare INVITE for `number` (sent
/// without SDP over UDP).
fn invite_status(server: &Server, number: &str) -> u16 {
    let invite = bare_invite(server, number);
    let replies = server.exchange_udp(invite.as_bytes(), std::time::Duration::from_secs(3));
    replies
        .iter()
        .filter_map(|reply| {
            let text = String::from_utf8_lossy(reply);
            text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse::<u16>().ok()
        })
        .find(|status| *status >= 200)
        .unwrap_or_else(|| panic!("no final answer for {number}: {replies:?}"))
}

/// An INVITE for `number` without SDP, with a Call-ID of its own.
fn bare_invite(server: &Server, number: &str) -> String {
    let call_id = harness::unique_name("did-invite");
    format!(
        "INVITE sip:{number}@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:caller@127.0.0.1>;tag=t{call_id}\r\n\
         To: <sip:{number}@{sip}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@127.0.0.1:5999>\r\n\
         Content-Length: 0\r\n\r\n",
        sip = server.sip_addr()
    )
}

/// A DID made through the API answers the next call (SIPp echo call);
/// deactivated it answers 404 at once, and deleted it is gone; the demo
/// DIDs are ordinary rows of the demo account.
#[test]
fn a_did_made_through_the_api_answers_and_stops_when_deactivated() {
    require_tool("sipp", "sip-tester");
    // A trunk that only listens: numbers that are not ours go there.
    let trunk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    trunk
        .set_read_timeout(Some(std::time::Duration::from_secs(3)))
        .unwrap();
    let config = harness::temp_dir("did-trunk").join("switchboard.toml");
    std::fs::write(
        &config,
        format!("[trunk]\naddress = \"{}\"\n", trunk.local_addr().unwrap()),
    )
    .unwrap();
    let server = Server::start_with(&["--config", &config.display().to_string()]);
    // Whether the trunk gets a new INVITE (not a retransmission of an
    // earlier one: a Call-ID it has not seen) after one for `number`.
    let seen = std::cell::RefCell::new(std::collections::HashSet::new());
    let trunk_gets_invite = |number: &str| {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .send_to(bare_invite(&server, number).as_bytes(), server.sip_addr())
            .unwrap();
        let mut buffer = [0u8; 4096];
        while let Ok(length) = trunk.recv(&mut buffer) {
            let text = String::from_utf8_lossy(&buffer[..length]).to_string();
            let call_id = text
                .lines()
                .find_map(|line| line.strip_prefix("Call-ID:"))
                .map(|id| id.trim().to_string())
                .unwrap_or_default();
            if text.starts_with("INVITE ") && seen.borrow_mut().insert(call_id) {
                return true;
            }
        }
        false
    };
    let admin = server.admin_token();
    let (_, body) = server.http("GET", "/api/v1/dids", Some(&admin), None);
    let demo = json(&body);
    let numbers: Vec<&str> = demo["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|did| did["number"].as_str().unwrap())
        .collect();
    assert_eq!(
        numbers,
        ["1000", "2000", "3000", "4000", "5000", "6000"],
        "{body}"
    );
    assert_eq!(demo["items"][1]["answered_by"]["type"], "conference");
    assert_eq!(demo["items"][5]["answered_by"]["type"], "flow");

    let (_, body) = server.http(
        "POST",
        "/api/v1/accounts",
        Some(&admin),
        Some(r#"{"number": "A2", "name": "Acme"}"#),
    );
    let account = json(&body)["id"].as_i64().unwrap();
    assert!(
        trunk_gets_invite("15550001000"),
        "not ours yet: the trunk's"
    );
    let (status, body) = server.http(
        "POST",
        "/api/v1/dids",
        Some(&admin),
        Some(&format!(
            r#"{{"number": "15550001000", "account_id": {account}, "city": "Springfield",
                "time_zone": "America/Chicago", "available_on": "2026-11-01",
                "answered_by": {{"type": "echo"}}}}"#
        )),
    );
    assert_eq!(status, 201, "{body}");
    let did = json(&body);
    assert_eq!(did["time_zone"], "America/Chicago");
    let path = format!("/api/v1/dids/{}", did["id"]);
    let call = || {
        sipp(
            "uac_echo",
            &[
                &server.target(),
                "-s",
                "15550001000",
                "-m",
                "1",
                "-d",
                "500",
            ],
        )
    };
    call().assert_ok(Some(&server));

    for (body, status_wanted, field) in [
        (
            format!(
                r#"{{"number": "15550001000", "account_id": {account}, "answered_by": {{"type": "echo"}}}}"#
            ),
            409,
            None,
        ),
        (
            format!(
                r#"{{"number": "1555-0001", "account_id": {account}, "answered_by": {{"type": "echo"}}}}"#
            ),
            422,
            Some("/number"),
        ),
        (
            format!(
                r#"{{"number": "15550002000", "account_id": {account}, "time_zone": "Mars/Olympus", "answered_by": {{"type": "echo"}}}}"#
            ),
            422,
            Some("/time_zone"),
        ),
        (
            format!(
                r#"{{"number": "15550002000", "account_id": {account}, "answered_by": {{"type": "fax"}}}}"#
            ),
            422,
            Some("/answered_by"),
        ),
        (
            format!(
                r#"{{"number": "15550002000", "account_id": {account}, "available_on": "2026-13-01", "answered_by": {{"type": "echo"}}}}"#
            ),
            422,
            Some("/available_on"),
        ),
        (
            r#"{"number": "15550002000", "account_id": 99999, "answered_by": {"type": "echo"}}"#
                .to_string(),
            409,
            None,
        ),
    ] {
        let (status, answer) = server.http("POST", "/api/v1/dids", Some(&admin), Some(&body));
        assert_eq!(status, status_wanted, "{body}: {answer}");
        if let Some(field) = field {
            assert!(
                json(&answer)["path"]
                    .as_str()
                    .is_some_and(|path| path.starts_with(field)),
                "{body}: {answer}"
            );
        }
    }

    let (status, body) = server.http("PATCH", &path, Some(&admin), Some(r#"{"active": false}"#));
    assert_eq!(status, 200, "{body}");
    assert_eq!(invite_status(&server, "15550001000"), 404, "deactivated");
    assert!(
        !trunk_gets_invite("15550001000"),
        "a deactivated DID is still ours: never the trunk's"
    );
    let (status, _) = server.http("PATCH", &path, Some(&admin), Some(r#"{"active": true}"#));
    assert_eq!(status, 200);
    call().assert_ok(Some(&server));
    let (status, _) = server.http("DELETE", &path, Some(&admin), None);
    assert_eq!(status, 204);
    assert!(
        trunk_gets_invite("15550001000"),
        "deleted: the trunk's again"
    );
    // A DID may not take a phone's extension, nor a phone a DID's number.
    let (status, body) = server.http(
        "POST",
        "/api/v1/dids",
        Some(&admin),
        Some(&format!(
            r#"{{"number": "1001", "account_id": {account}, "answered_by": {{"type": "echo"}}}}"#
        )),
    );
    assert_eq!(status, 409, "{body}");
    let (status, body) = server.http(
        "POST",
        "/api/v1/phones",
        Some(&admin),
        Some(r#"{"extension": "1000", "password": "long-enough"}"#),
    );
    assert_eq!(status, 409, "{body}");
}

/// Registers a SIPp phone as `extension` and starts it answering one call
/// (echoing the RTP it gets).
fn answering_phone(server: &Server, extension: &str) -> harness::SippRun {
    let port = harness::free_port();
    harness::register_sipp_phone_with(server, extension, server.password(extension), port);
    let port_text = port.to_string();
    let mut phone = spawn_sipp(
        "uas_answer_1001",
        &["-p", &port_text, "-m", "1", "-rtp_echo"],
    );
    phone.wait_listening(port);
    phone
}

/// Polls `path` until its page holds at least `count` items (CDRs are
/// written in the background).
fn wait_for_items(server: &Server, token: &str, path: &str, count: usize) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = server.http("GET", path, Some(token), None);
        assert_eq!(status, 200, "{path}: {body}");
        let page = json(&body);
        if page["items"]
            .as_array()
            .is_some_and(|items| items.len() >= count)
            || std::time::Instant::now() > deadline
        {
            return page;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Every call leaves a record, answered or refused: an echo call SIPp
/// holds for 3 s has about 3 s of talk, an unrouted number a 404 record;
/// both are in the CSV export.
#[test]
fn calls_leave_cdrs_with_their_times_and_outcome() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    sipp(
        "uac_echo",
        &[&server.target(), "-s", "1000", "-m", "1", "-d", "3000"],
    )
    .assert_ok(Some(&server));
    assert_eq!(invite_status(&server, "5550123"), 404);

    let page = wait_for_items(&server, &admin, "/api/v1/cdrs", 2);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let refused = &items[0];
    assert_eq!(refused["number_dialed"], "5550123");
    assert_eq!(refused["sip_status"], 404);
    assert_eq!(refused["route"], "none");
    assert_eq!(refused["hung_up_by"], "system");
    let echo = &items[1];
    assert_eq!(echo["number_dialed"], "1000");
    assert_eq!(echo["did"], "1000");
    assert!(echo["account_id"].is_i64(), "the demo account: {echo}");
    assert_eq!(echo["route"], "echo");
    assert_eq!(echo["sip_status"], 200);
    assert_eq!(echo["hung_up_by"], "caller");
    let talk = echo["talk_seconds"].as_f64().unwrap();
    assert!((talk - 3.0).abs() < 1.0, "talk {talk} s for a 3 s call");
    assert!(echo["answer_time"].is_string() && echo["end_time"].is_string());
    assert!(
        echo["caller_rtp"]["packets_received"].as_u64().unwrap() > 50,
        "{echo}"
    );

    // Filters: by DID, by time window, by direction.
    let (_, body) = server.http("GET", "/api/v1/cdrs?did=1000", Some(&admin), None);
    assert_eq!(json(&body)["total"], 1);
    let (_, body) = server.http(
        "GET",
        "/api/v1/cdrs?from=2000-01-01&to=2000-01-02",
        Some(&admin),
        None,
    );
    assert_eq!(json(&body)["total"], 0);
    let (_, body) = server.http("GET", "/api/v1/cdrs?direction=inbound", Some(&admin), None);
    assert_eq!(json(&body)["total"], 2);
    let (status, body) = server.http("GET", "/api/v1/cdrs?from=yesterday", Some(&admin), None);
    assert_eq!((status, json(&body)["path"].as_str()), (422, Some("?from")));

    let (status, csv) = server.http("GET", "/api/v1/cdrs.csv", Some(&admin), None);
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("call_id,direction,account_id,start_time"));
    assert!(lines[1].contains(",1000,1000,echo,"), "{csv}");

    // A read-only token does not see call records.
    let viewer = new_token(&server, &admin, "read_only");
    let (status, _) = server.http("GET", "/api/v1/cdrs", Some(&viewer), None);
    assert_eq!(status, 403);

    // The same calls in /metrics, which any token reads.
    let (status, _) = server.http("GET", "/metrics", None, None);
    assert_eq!(status, 401);
    let (status, text) = server.http("GET", "/metrics", Some(&viewer), None);
    assert_eq!(status, 200);
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert_eq!(value("switchboard_calls_total"), 2.0, "{text}");
    assert_eq!(value("switchboard_calls_active"), 0.0);
    assert_eq!(value("switchboard_cdrs_written_total"), 2.0);
    assert_eq!(value("switchboard_cdr_backlog"), 0.0);
    assert!(value("switchboard_sip_responses_total{class=\"2xx\"}") >= 1.0);
    assert!(value("switchboard_sip_responses_total{class=\"4xx\"}") >= 1.0);
    assert!(value("switchboard_rtp_packets_received_total") > 50.0);
}

/// SIGTERM during a call: the server ends it and writes its record before
/// it exits (read back from the database).
#[test]
fn sigterm_during_a_call_still_writes_its_cdr() {
    require_tool("sipp", "sip-tester");
    let mut server = Server::start();
    let _caller = spawn_sipp("uac_echo", &[&server.target(), "-s", "1000", "-d", "20000"]);
    assert!(
        server.wait_for_log("answering with echo", std::time::Duration::from_secs(10)),
        "{}",
        server.log()
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    let status = server.terminate().expect("the server exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    let rows =
        server.query_database("SELECT number_dialed, route, hung_up_by, talk_seconds FROM cdrs");
    assert_eq!(rows.len(), 1, "{rows:?}\n{}", server.log());
    assert_eq!(rows[0][..3], ["1000", "echo", "system"], "{rows:?}");
}

/// A call in progress is listed with its legs, and hanging it up through
/// the API ends it (its record says the system hung up).
#[test]
fn calls_in_progress_are_listed_and_hung_up() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let _caller = spawn_sipp("uac_echo", &[&server.target(), "-s", "1000", "-d", "20000"]);
    assert!(
        server.wait_for_log("answering with echo", std::time::Duration::from_secs(10)),
        "{}",
        server.log()
    );
    let (status, body) = server.http("GET", "/api/v1/calls", Some(&admin), None);
    assert_eq!(status, 200, "{body}");
    let calls = json(&body);
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 1, "{body}");
    let call = &calls[0];
    assert_eq!(call["route"], "echo");
    assert_eq!(call["state"], "answered");
    assert_eq!(call["number_dialed"], "1000");
    assert_eq!(call["legs"][0]["side"], "caller");
    assert!(call["legs"][0]["codec"].is_string(), "{call}");
    let call_id = call["call_id"].as_str().unwrap().to_string();

    let viewer = new_token(&server, &admin, "read_only");
    let path = format!("/api/v1/calls/{call_id}");
    let (status, _) = server.http("DELETE", &path, Some(&viewer), None);
    assert_eq!(status, 403);
    let (status, body) = server.http("DELETE", &path, Some(&admin), None);
    assert_eq!(status, 204, "{body}");
    let (_, body) = server.http("GET", "/api/v1/calls", Some(&admin), None);
    assert_eq!(json(&body), serde_json::json!([]));
    let (status, _) = server.http("DELETE", &path, Some(&admin), None);
    assert_eq!(status, 404);
    let page = wait_for_items(&server, &admin, "/api/v1/cdrs", 1);
    assert_eq!(page["items"][0]["hung_up_by"], "system", "{page}");
}

/// The live event stream (Server-Sent Events) tells a subscriber about a
/// phone registering and a call from creation to its end, in order.
#[test]
fn the_event_stream_follows_a_registration_and_a_call() {
    use std::io::{BufRead, BufReader, Write};
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let mut stream = std::net::TcpStream::connect(server.http_addr()).unwrap();
    write!(
        stream,
        "GET /api/v1/events HTTP/1.1\r\nHost: switchboard\r\nAuthorization: Bearer {admin}\r\n\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    assert!(status_line.starts_with("HTTP/1.1 200"), "{status_line}");

    sipp(
        "register_auth",
        &[
            &server.target(),
            "-s",
            "1001",
            "-au",
            "1001",
            "-ap",
            server.password("1001"),
        ],
    )
    .assert_ok(Some(&server));
    sipp(
        "uac_echo",
        &[&server.target(), "-s", "1000", "-m", "1", "-d", "500"],
    )
    .assert_ok(Some(&server));

    let mut kinds = Vec::new();
    let mut line = String::new();
    while !kinds.contains(&"call.ended".to_string()) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if let Some(kind) = line.trim_end().strip_prefix("event: ") {
                    kinds.push(kind.to_string());
                }
                if let Some(data) = line.trim_end().strip_prefix("data: ") {
                    let event = json(data);
                    assert!(
                        event["type"].is_string() && event["at"].is_string(),
                        "{data}"
                    );
                }
            }
        }
    }
    assert_eq!(
        kinds,
        [
            "registration.added",
            "call.created",
            "call.answered",
            "call.ended"
        ],
        "{}",
        server.log()
    );
}

/// Opens the WebSocket event stream with `request_extra` (header lines)
/// and `query`: the status line, and the stream when it upgraded.
fn open_event_socket(
    server: &Server,
    query: &str,
    request_extra: &str,
) -> (String, std::io::BufReader<std::net::TcpStream>) {
    use std::io::{BufRead, Write};
    let mut stream = std::net::TcpStream::connect(server.http_addr()).unwrap();
    write!(
        stream,
        "GET /api/v1/events/ws{query} HTTP/1.1\r\nHost: switchboard\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{request_extra}\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let mut head = status_line.clone();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    if status_line.starts_with("HTTP/1.1 101") {
        // RFC 6455 section 1.3's example key and answer.
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
    }
    (status_line, reader)
}

/// The next WebSocket message from the server (unmasked, RFC 6455): its
/// opcode and payload; `None` when the connection ends.
fn read_frame(reader: &mut impl std::io::Read) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    reader.read_exact(&mut head).ok()?;
    let opcode = head[0] & 0x0f;
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let length = match head[1] & 0x7f {
        126 => {
            let mut extended = [0u8; 2];
            reader.read_exact(&mut extended).ok()?;
            u64::from(u16::from_be_bytes(extended))
        }
        127 => {
            let mut extended = [0u8; 8];
            reader.read_exact(&mut extended).ok()?;
            u64::from_be_bytes(extended)
        }
        short => u64::from(short),
    };
    let mut payload = vec![0u8; usize::try_from(length).unwrap()];
    reader.read_exact(&mut payload).ok()?;
    Some((opcode, payload))
}

/// The WebSocket stream: supervisors only, the token in the header or (for
/// browsers) the query; a registration, a recorded call and its
/// recording, finished and listed by the time its event arrives.
#[test]
fn the_event_socket_follows_a_registration_and_a_recorded_call() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let reader_token = new_token(&server, &admin, "read_only");
    let (status, _) = open_event_socket(&server, "", "");
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    let (status, _) = open_event_socket(&server, &format!("?access_token={reader_token}"), "");
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    let (status, _) = open_event_socket(&server, "", &format!("Authorization: Bearer {admin}\r\n"));
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    let (status, mut socket) = open_event_socket(&server, &format!("?access_token={admin}"), "");
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");

    register_sipp_phone(&server, "1001", harness::free_port());
    sipp(
        "uac_echo",
        &[&server.target(), "-s", "3000", "-m", "1", "-d", "1000"],
    )
    .assert_ok(Some(&server));

    let mut kinds = Vec::new();
    while !kinds.contains(&"recording.finished".to_string()) {
        let Some((opcode, payload)) = read_frame(socket.get_mut()) else {
            break;
        };
        assert_eq!(opcode, 1, "text messages");
        let event = json(&String::from_utf8(payload).unwrap());
        kinds.push(event["type"].as_str().unwrap().to_string());
        if event["type"] == "recording.finished" {
            let id = event["recording_id"].as_str().unwrap();
            let (status, body) = server.http(
                "GET",
                &format!("/api/v1/recordings/{id}"),
                Some(&admin),
                None,
            );
            assert_eq!(status, 200, "listed once finished: {body}");
            assert_eq!(json(&body)["cdr"]["call_id"], event["call_id"]);
        }
    }
    assert_eq!(
        kinds,
        [
            "registration.added",
            "call.created",
            "call.answered",
            "recording.started",
            "call.ended",
            "recording.finished"
        ],
        "{}",
        server.log()
    );
}

/// An HTTP request with extra header lines; the answer's status, head and
/// raw body (bodies here are not chunked: files have a length).
fn raw_http(server: &Server, request_head: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.http_addr()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request_head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("an HTTP head");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, answer[split + 4..].to_vec())
}

/// A call to the recording DID leaves a recording in the index with its
/// call's record; its audio downloads whole and by range; deleting it
/// removes the file.
#[test]
fn a_recorded_call_is_listed_downloaded_by_range_and_deleted() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    sipp(
        "uac_echo",
        &[&server.target(), "-s", "3000", "-m", "1", "-d", "2000"],
    )
    .assert_ok(Some(&server));
    let page = wait_for_items(&server, &admin, "/api/v1/recordings", 1);
    let recording = &page["items"][0];
    let id = recording["id"].as_str().unwrap().to_string();
    assert_eq!(recording["channels"], 1, "{recording}");
    let seconds = recording["seconds"].as_f64().unwrap();
    assert!((seconds - 2.0).abs() < 1.0, "{seconds} s for a 2 s call");
    assert_eq!(recording["cdr"]["recording_id"], id.as_str(), "{recording}");
    assert_eq!(recording["cdr"]["number_dialed"], "3000");
    let bytes = recording["bytes"].as_u64().unwrap();

    let get = |extra: &str| {
        raw_http(
            &server,
            &format!(
                "GET /api/v1/recordings/{id}/audio HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\
                 Authorization: Bearer {admin}\r\n{extra}\r\n"
            ),
        )
    };
    let (status, head, body) = get("");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: audio/wav"),
        "{head}"
    );
    assert_eq!(body.len() as u64, bytes);
    assert!(
        hound::WavReader::new(std::io::Cursor::new(&body)).is_ok(),
        "a valid WAV"
    );
    let (status, head, body) = get("Range: bytes=0-43\r\n");
    assert_eq!(status, 206, "{head}");
    assert_eq!(&body[..4], b"RIFF");
    assert_eq!(body.len(), 44);
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-range: bytes 0-43/{bytes}")),
        "{head}"
    );
    let (status, _, _) = get(&format!("Range: bytes={}-\r\n", bytes + 10));
    assert_eq!(status, 416);

    let path = format!("/api/v1/recordings/{id}");
    let (status, _) = server.http("DELETE", &path, Some(&admin), None);
    assert_eq!(status, 204);
    let (status, _) = server.http("GET", &path, Some(&admin), None);
    assert_eq!(status, 404);
    let files = std::fs::read_dir(server.data_dir().join("recordings"))
        .unwrap()
        .count();
    assert_eq!(files, 0, "the file went with it");
}

/// The whole path, as an operator drives it: an account, a DID and two
/// phones made through the API; SIPp registers one phone and answers
/// (echoing) when another SIPp calls the DID for 3 s; the call's record
/// has about 3 s of talk, its recording (calls are recorded) is listed
/// with that record and downloads as a valid stereo WAV; deactivating the
/// DID makes the next INVITE fail with 404.
#[test]
fn provisioned_through_the_api_a_did_rings_a_phone_and_leaves_a_cdr_and_recording() {
    require_tool("sipp", "sip-tester");
    let config = harness::temp_dir("e2e").join("switchboard.toml");
    std::fs::write(&config, "record_calls = true\n").unwrap();
    let server = Server::start_with(&["--config", &config.display().to_string()]);
    let admin = server.admin_token();
    let post = |path: &str, body: String| {
        let (status, answer) = server.http("POST", path, Some(&admin), Some(&body));
        assert_eq!(status, 201, "{path} {body}: {answer}");
        json(&answer)
    };
    let account = post(
        "/api/v1/accounts",
        r#"{"number": "E2E", "name": "End to end", "call_recording": true}"#.to_string(),
    )["id"]
        .as_i64()
        .unwrap();
    for extension in ["2201", "2202"] {
        post(
            "/api/v1/phones",
            format!(
                r#"{{"extension": "{extension}", "password": "pass-{extension}", "account_id": {account}}}"#
            ),
        );
    }
    let did = post(
        "/api/v1/dids",
        format!(
            r#"{{"number": "15552001000", "account_id": {account}, "time_zone": "America/New_York",
                "answered_by": {{"type": "phone", "extension": "2201"}}}}"#
        ),
    );

    let phone_port = harness::free_port();
    harness::register_sipp_phone_with(&server, "2201", "pass-2201", phone_port);
    let port = phone_port.to_string();
    let mut phone = spawn_sipp("uas_answer_1001", &["-p", &port, "-m", "1", "-rtp_echo"]);
    phone.wait_listening(phone_port);
    let caller = sipp(
        "uac_echo",
        &[&server.target(), "-s", "15552001000", "-d", "3000"],
    );
    let phone = phone.wait();
    caller.assert_ok(Some(&server));
    phone.assert_ok(Some(&server));

    let page = wait_for_items(&server, &admin, "/api/v1/cdrs?did=15552001000", 1);
    let cdr = &page["items"][0];
    assert_eq!(cdr["account_id"], account, "{cdr}");
    assert_eq!(cdr["route"], "phone");
    assert_eq!(cdr["sip_status"], 200);
    assert!(cdr["agent_answer_time"].is_string(), "{cdr}");
    let talk = cdr["talk_seconds"].as_f64().unwrap();
    assert!((talk - 3.0).abs() <= 1.0, "talk {talk} s for a 3 s call");
    let recording_id = cdr["recording_id"]
        .as_str()
        .expect("a recording")
        .to_string();

    let page = wait_for_items(
        &server,
        &admin,
        &format!("/api/v1/recordings?account_id={account}"),
        1,
    );
    let recording = &page["items"][0];
    assert_eq!(recording["id"], recording_id.as_str());
    assert_eq!(recording["channels"], 2, "caller left, phone right");
    assert_eq!(recording["cdr"]["call_id"], cdr["call_id"]);
    let (status, head, body) = raw_http(
        &server,
        &format!(
            "GET /api/v1/recordings/{recording_id}/audio HTTP/1.1\r\nHost: s\r\n\
             Connection: close\r\nAuthorization: Bearer {admin}\r\n\r\n"
        ),
    );
    assert_eq!(status, 200, "{head}");
    let reader = hound::WavReader::new(std::io::Cursor::new(&body)).expect("a valid WAV");
    let seconds = f64::from(reader.duration()) / f64::from(reader.spec().sample_rate);
    assert!((seconds - 3.0).abs() <= 1.0, "{seconds} s recorded");

    let (status, _) = server.http(
        "PATCH",
        &format!("/api/v1/dids/{}", did["id"]),
        Some(&admin),
        Some(r#"{"active": false}"#),
    );
    assert_eq!(status, 200);
    assert_eq!(invite_status(&server, "15552001000"), 404);
}
