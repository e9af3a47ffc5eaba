//! Skills, agents and holidays through the API: every route, paging,
//! filters, 404s, 409s, 422s naming the field, read-only tokens refused
//! writes, and writes of a row with its join rows that leave nothing
//! behind when they fail.

use super::harness::Server;
use super::{json, new_token};
use serde_json::{Value, json as body};

/// Admin requests to one server.
struct Client<'a> {
    server: &'a Server,
    token: String,
}

impl Client<'_> {
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let text = body.map(Value::to_string);
        let (status, answer) = self
            .server
            .http(method, path, Some(&self.token), text.as_deref());
        let answer = if answer.is_empty() {
            Value::Null
        } else {
            json(&answer)
        };
        (status, answer)
    }

    /// POSTs `body`, which must make something (201); what was made.
    fn make(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.send("POST", path, Some(&body));
        assert_eq!(status, 201, "POST {path} {body}: {answer}");
        answer
    }

    /// A list's items and total.
    fn list(&self, path: &str) -> (Vec<Value>, i64) {
        let (status, answer) = self.send("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {answer}");
        (
            answer["items"].as_array().unwrap().clone(),
            answer["total"].as_i64().unwrap(),
        )
    }

    /// `field` of each item of a list.
    fn listed(&self, path: &str, field: &str) -> Vec<Value> {
        self.list(path)
            .0
            .iter()
            .map(|item| item[field].clone())
            .collect()
    }

    /// Sends `body`, which must be refused with a 422 at `path`.
    fn refused_at(&self, method: &str, route: &str, body: Value, path: &str) {
        let (status, answer) = self.send(method, route, Some(&body));
        assert_eq!(
            (status, answer["path"].as_str()),
            (422, Some(path)),
            "{method} {route} {body}: {answer}"
        );
        assert!(answer["error"].is_string(), "{answer}");
    }

    /// The number of rows `sql` (a `SELECT COUNT(*)`) counts.
    fn count(&self, sql: &str) -> i64 {
        self.server.query_database(sql)[0][0].parse().unwrap()
    }
}

/// `viewer` (a read-only token) reads `collection` and its `item`, but
/// each write it tries with a valid body (`new` to make, `change` to
/// change) is refused with 403, and nothing changes.
fn read_only_cannot_write(
    server: &Server,
    viewer: &str,
    collection: &str,
    item: &Value,
    new: &Value,
    change: &Value,
) {
    let item_path = format!("{collection}/{}", item["id"]);
    let (status, body) = server.http("GET", &item_path, Some(viewer), None);
    assert_eq!((status, json(&body)), (200, item.clone()), "reads");
    let (status, body) = server.http("GET", collection, Some(viewer), None);
    assert_eq!(status, 200, "lists");
    let total = json(&body)["total"].clone();
    let (new, change) = (new.to_string(), change.to_string());
    for (method, path, request) in [
        ("POST", collection, Some(new.as_str())),
        ("PATCH", item_path.as_str(), Some(change.as_str())),
        ("DELETE", item_path.as_str(), None),
    ] {
        let (status, body) = server.http(method, path, Some(viewer), request);
        assert_eq!(status, 403, "{method} {path}: {body}");
    }
    let (_, body) = server.http("GET", &item_path, Some(viewer), None);
    assert_eq!(json(&body), *item, "unchanged");
    let (_, body) = server.http("GET", collection, Some(viewer), None);
    assert_eq!(json(&body)["total"], total, "nothing made");
}

/// Each missing item is a 404 on every route that names it.
fn missing_items_are_404s(client: &Client<'_>, collection: &str) {
    for path in [
        format!("{collection}/999999"),
        format!("{collection}/not-a-number"),
    ] {
        for (method, request) in [("GET", None), ("PATCH", Some(body!({}))), ("DELETE", None)] {
            let (status, answer) = client.send(method, &path, request.as_ref());
            assert_eq!(status, 404, "{method} {path}: {answer}");
        }
    }
}

#[test]
fn skills_are_made_read_listed_changed_and_deleted() {
    let server = Server::start();
    let client = Client {
        server: &server,
        token: server.admin_token(),
    };
    let billing = client.make(
        "/api/v1/skills",
        body!({"name": "billing", "description": "Invoices and refunds"}),
    );
    assert_eq!(
        (&billing["name"], &billing["description"]),
        (&body!("billing"), &body!("Invoices and refunds"))
    );
    assert!(billing["created_at"].is_string() && billing["updated_at"].is_string());
    let sales = client.make("/api/v1/skills", body!({"name": "  sales "}));
    assert_eq!(
        (&sales["name"], &sales["description"]),
        (&body!("sales"), &Value::Null)
    );
    client.make("/api/v1/skills", body!({"name": "spanish"}));

    // A taken name is a conflict; bad fields name themselves.
    let (status, answer) = client.send("POST", "/api/v1/skills", Some(&body!({"name": "sales"})));
    assert_eq!(status, 409, "{answer}");
    for (request, path) in [
        (body!({"name": " \t "}), "/name"),
        (body!({"name": "x".repeat(101)}), "/name"),
        (body!({"description": "no name"}), "/name"),
        (
            body!({"name": "y", "description": "d".repeat(1001)}),
            "/description",
        ),
        (body!({"name": "y", "colour": "red"}), "/colour"),
    ] {
        client.refused_at("POST", "/api/v1/skills", request, path);
    }

    // Paging and the name filter, by name.
    let (items, total) = client.list("/api/v1/skills?limit=2&offset=1");
    assert_eq!(total, 3);
    let names: Vec<&Value> = items.iter().map(|item| &item["name"]).collect();
    assert_eq!(names, [&body!("sales"), &body!("spanish")]);
    assert_eq!(
        client.listed("/api/v1/skills?name=billing", "id"),
        [billing["id"].clone()]
    );
    assert_eq!(client.list("/api/v1/skills?name=bill").1, 0, "whole names");
    for bad in ["limit=0", "offset=-1", "colour=red"] {
        let (status, answer) = client.send("GET", &format!("/api/v1/skills?{bad}"), None);
        assert_eq!(status, 422, "{bad}: {answer}");
        assert!(
            answer["path"].as_str().unwrap().starts_with('?'),
            "{answer}"
        );
    }

    let viewer = new_token(&server, &client.token, "read_only");
    read_only_cannot_write(
        &server,
        &viewer,
        "/api/v1/skills",
        &billing,
        &body!({"name": "viewing"}),
        &body!({"name": "viewed"}),
    );

    // A change touches only the fields given; null removes the description.
    let path = format!("/api/v1/skills/{}", billing["id"]);
    let (status, changed) = client.send("PATCH", &path, Some(&body!({"name": "accounts"})));
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (&changed["name"], &changed["description"]),
        (&body!("accounts"), &billing["description"])
    );
    let (status, changed) = client.send("PATCH", &path, Some(&body!({"description": null})));
    assert_eq!((status, &changed["description"]), (200, &Value::Null));
    let (status, _) = client.send("PATCH", &path, Some(&body!({"name": "sales"})));
    assert_eq!(status, 409);
    client.refused_at("PATCH", &path, body!({"name": ""}), "/name");
    client.refused_at("PATCH", &path, body!({"id": 7}), "/id");
    client.refused_at("PATCH", &path, body!([null, null]), "");
    missing_items_are_404s(&client, "/api/v1/skills");

    // A skill an agent has stays until no agent has it.
    let agent = client.make(
        "/api/v1/agents",
        body!({"login": "ann", "name": "Ann", "skills": [{"skill_id": billing["id"], "level": 4}]}),
    );
    let (status, answer) = client.send("DELETE", &path, None);
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("agent"),
        "{answer}"
    );
    let (status, _) = client.send("GET", &path, None);
    assert_eq!(status, 200, "still there");
    let (status, _) = client.send("DELETE", &format!("/api/v1/agents/{}", agent["id"]), None);
    assert_eq!(status, 204);
    let (status, _) = client.send("DELETE", &path, None);
    assert_eq!(status, 204);
    let (status, _) = client.send("GET", &path, None);
    assert_eq!(status, 404);
    assert_eq!(client.list("/api/v1/skills").1, 2);
}

#[test]
fn agents_are_made_with_their_skills_read_listed_changed_and_deleted() {
    let server = Server::start();
    let client = Client {
        server: &server,
        token: server.admin_token(),
    };
    let account = client.make(
        "/api/v1/accounts",
        body!({"number": "AG", "name": "Agency"}),
    );
    let account_id = account["id"].as_i64().unwrap();
    let phone = client.make(
        "/api/v1/phones",
        body!({"extension": "2301", "password": "desk-phone-1"}),
    );
    let sales = client.make("/api/v1/skills", body!({"name": "sales"}))["id"].clone();
    let billing = client.make("/api/v1/skills", body!({"name": "billing"}))["id"].clone();

    // Skills come back by name, with their names; levels may be whole
    // floats.
    let alice = client.make(
        "/api/v1/agents",
        body!({
            "login": "alice.smith",
            "name": "Alice Smith",
            "extension": "2301",
            "account_id": account_id,
            "skills": [{"skill_id": sales, "level": 3.0}, {"skill_id": billing, "level": 7}],
        }),
    );
    assert_eq!(
        (&alice["extension"], &alice["account_id"], &alice["active"]),
        (&body!("2301"), &body!(account_id), &body!(true))
    );
    assert_eq!(
        alice["skills"],
        body!([
            {"skill_id": billing, "name": "billing", "level": 7},
            {"skill_id": sales, "name": "sales", "level": 3},
        ])
    );
    client.make(
        "/api/v1/agents",
        body!({"login": "bob", "name": "Bob", "active": false,
               "skills": [{"skill_id": sales, "level": 5}]}),
    );
    let carol = client.make(
        "/api/v1/agents",
        body!({"login": "carol_1", "name": "Carol"}),
    );
    assert_eq!(
        (&carol["skills"], &carol["extension"], &carol["account_id"]),
        (&body!([]), &Value::Null, &Value::Null)
    );

    // A taken login and a missing account are conflicts; everything else
    // wrong is a 422 at the field.
    let (status, answer) = client.send(
        "POST",
        "/api/v1/agents",
        Some(&body!({"login": "bob", "name": "Another Bob"})),
    );
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = client.send(
        "POST",
        "/api/v1/agents",
        Some(&body!({"login": "dan", "name": "Dan", "account_id": 999999})),
    );
    assert_eq!(status, 409, "{answer}");
    for (request, path) in [
        (body!({"login": "no spaces", "name": "x"}), "/login"),
        (body!({"login": "x".repeat(65), "name": "x"}), "/login"),
        (body!({"login": "dan", "name": " "}), "/name"),
        (
            body!({"login": "dan", "name": "Dan", "extension": "9999"}),
            "/extension",
        ),
        (
            body!({"login": "dan", "name": "Dan", "extension": "a b"}),
            "/extension",
        ),
        (
            body!({"login": "dan", "name": "Dan",
                   "skills": [{"skill_id": sales, "level": 1}, {"skill_id": 999999, "level": 1}]}),
            "/skills/1/skill_id",
        ),
        (
            body!({"login": "dan", "name": "Dan",
                   "skills": [{"skill_id": sales, "level": 1}, {"skill_id": sales, "level": 2}]}),
            "/skills/1/skill_id",
        ),
        (
            body!({"login": "dan", "name": "Dan", "skills": [{"skill_id": sales, "level": 11}]}),
            "/skills/0/level",
        ),
        (
            body!({"login": "dan", "name": "Dan", "skills": [{"skill_id": sales, "level": 0}]}),
            "/skills/0/level",
        ),
        (
            body!({"login": "dan", "name": "Dan", "skills": [{"skill_id": sales}]}),
            "/skills/0/level",
        ),
        (
            body!({"login": "dan", "name": "Dan", "skills": [[sales, 5]]}),
            "/skills/0",
        ),
        (
            body!({"login": "dan", "name": "Dan", "pin": "1234"}),
            "/pin",
        ),
    ] {
        client.refused_at("POST", "/api/v1/agents", request, path);
    }
    // The agent with an unknown skill was written before its skills: the
    // failed request left neither.
    assert_eq!(
        client.count("SELECT COUNT(*) FROM agents WHERE login = 'dan'"),
        0
    );
    assert_eq!(client.count("SELECT COUNT(*) FROM agent_skills"), 3);
    let dan = client.make(
        "/api/v1/agents",
        body!({"login": "dan", "name": "Dan", "skills": [{"skill_id": billing, "level": 2}]}),
    );

    // Paging, by login, and the filters.
    let (items, total) = client.list("/api/v1/agents?limit=2&offset=1");
    assert_eq!(total, 4);
    let logins: Vec<&Value> = items.iter().map(|item| &item["login"]).collect();
    assert_eq!(logins, [&body!("bob"), &body!("carol_1")]);
    assert_eq!(items[0]["skills"][0]["name"], "sales", "listed with skills");
    for (query, logins) in [
        (format!("skill_id={billing}"), vec!["alice.smith", "dan"]),
        (format!("skill_id={sales}&active=true"), vec!["alice.smith"]),
        ("active=false".to_string(), vec!["bob"]),
        (format!("account_id={account_id}"), vec!["alice.smith"]),
        ("login=carol_1".to_string(), vec!["carol_1"]),
        ("skill_id=999999".to_string(), vec![]),
    ] {
        assert_eq!(
            client.listed(&format!("/api/v1/agents?{query}"), "login"),
            logins,
            "{query}"
        );
    }
    for bad in [
        "skill_id=sales",
        "active=maybe",
        "account_id=1.5",
        "limit=501",
    ] {
        let (status, answer) = client.send("GET", &format!("/api/v1/agents?{bad}"), None);
        assert_eq!(status, 422, "{bad}: {answer}");
        assert!(
            answer["path"].as_str().unwrap().starts_with('?'),
            "{answer}"
        );
    }

    let viewer = new_token(&server, &client.token, "read_only");
    read_only_cannot_write(
        &server,
        &viewer,
        "/api/v1/agents",
        &alice,
        &body!({"login": "viewer", "name": "Viewer"}),
        &body!({"active": false}),
    );

    // A change that fails in its skills changes nothing, its other fields
    // neither.
    let path = format!("/api/v1/agents/{}", alice["id"]);
    client.refused_at(
        "PATCH",
        &path,
        body!({"name": "Alice Jones", "skills": [{"skill_id": sales, "level": 9},
                                                 {"skill_id": 999999, "level": 1}]}),
        "/skills/1/skill_id",
    );
    let (_, unchanged) = client.send("GET", &path, None);
    assert_eq!(unchanged, alice);
    client.refused_at("PATCH", &path, body!({"extension": "2399"}), "/extension");
    client.refused_at("PATCH", &path, body!({"login": ""}), "/login");
    let (status, _) = client.send("PATCH", &path, Some(&body!({"login": "bob"})));
    assert_eq!(status, 409);
    let (status, _) = client.send("PATCH", &path, Some(&body!({"account_id": 999999})));
    assert_eq!(status, 409);

    // Skills given replace the agent's; null takes it off its phone and
    // account; what is not given stays.
    let (status, changed) = client.send(
        "PATCH",
        &path,
        Some(&body!({"name": "Alice Jones", "skills": [{"skill_id": sales, "level": 9}]})),
    );
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (&changed["name"], &changed["skills"], &changed["extension"]),
        (
            &body!("Alice Jones"),
            &body!([{"skill_id": sales, "name": "sales", "level": 9}]),
            &body!("2301")
        )
    );
    // The phone and the account it uses cannot go while it does.
    let phone_path = format!("/api/v1/phones/{}", phone["id"]);
    let account_path = format!("/api/v1/accounts/{account_id}");
    let (status, answer) = client.send("DELETE", &phone_path, None);
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = client.send("DELETE", &account_path, None);
    assert_eq!(status, 409, "{answer}");
    let (status, changed) = client.send(
        "PATCH",
        &path,
        Some(&body!({"extension": null, "account_id": null, "active": false})),
    );
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            &changed["extension"],
            &changed["account_id"],
            &changed["active"]
        ),
        (&Value::Null, &Value::Null, &body!(false))
    );
    assert_eq!(changed["skills"].as_array().unwrap().len(), 1, "kept");
    let (status, changed) = client.send("PATCH", &path, Some(&body!({"skills": []})));
    assert_eq!((status, &changed["skills"]), (200, &body!([])));
    let (status, _) = client.send("DELETE", &phone_path, None);
    assert_eq!(status, 204, "no agent's phone any more");
    let (status, _) = client.send("DELETE", &account_path, None);
    assert_eq!(status, 204, "no agent's account any more");

    // Deleted, an agent's skills go with it.
    let dan_path = format!("/api/v1/agents/{}", dan["id"]);
    let (status, _) = client.send("DELETE", &dan_path, None);
    assert_eq!(status, 204);
    assert_eq!(
        client.count(&format!(
            "SELECT COUNT(*) FROM agent_skills WHERE agent_id = {}",
            dan["id"]
        )),
        0
    );
    missing_items_are_404s(&client, "/api/v1/agents");
    let (status, _) = client.send("GET", &dan_path, None);
    assert_eq!(status, 404);
    assert_eq!(client.list("/api/v1/agents").1, 3);
}

#[test]
fn holidays_are_made_with_their_dids_read_listed_changed_and_deleted() {
    let server = Server::start();
    let client = Client {
        server: &server,
        token: server.admin_token(),
    };
    let ours = client.make("/api/v1/accounts", body!({"number": "HA", "name": "Ours"}))["id"]
        .as_i64()
        .unwrap();
    let theirs = client.make(
        "/api/v1/accounts",
        body!({"number": "HB", "name": "Theirs"}),
    )["id"]
        .as_i64()
        .unwrap();
    let did = |number: &str, account_id: i64| {
        client.make(
            "/api/v1/dids",
            body!({"number": number, "account_id": account_id, "answered_by": {"type": "echo"}}),
        )["id"]
            .as_i64()
            .unwrap()
    };
    let (main, sales, other) = (
        did("15553001000", ours),
        did("15553002000", ours),
        did("15553003000", theirs),
    );

    let new_year = client.make(
        "/api/v1/holidays",
        body!({"name": "New Year", "date": "2027-01-01", "account_id": ours}),
    );
    assert_eq!(
        (&new_year["date"], &new_year["did_ids"]),
        (&body!("2027-01-01"), &body!([])),
        "every DID of the account"
    );
    let founders = client.make(
        "/api/v1/holidays",
        body!({"name": "Founders", "date": "2026-07-04", "account_id": ours,
               "did_ids": [sales, main as f64]}),
    );
    assert_eq!(founders["did_ids"], body!([main, sales]), "by id");
    client.make(
        "/api/v1/holidays",
        body!({"name": "Theirs", "date": "2026-12-25", "account_id": theirs, "did_ids": [other]}),
    );
    let local = client.make(
        "/api/v1/holidays",
        body!({"name": "Local", "date": "2026-3-5", "account_id": ours, "did_ids": [main]}),
    );
    assert_eq!(local["date"], "2026-03-05", "stored as YYYY-MM-DD");

    // A missing account is a conflict; everything else wrong is a 422 at
    // the field.
    let (status, answer) = client.send(
        "POST",
        "/api/v1/holidays",
        Some(&body!({"name": "x", "date": "2026-01-01", "account_id": 999999})),
    );
    assert_eq!(status, 409, "{answer}");
    let base = |extra: Value| {
        let mut request = body!({"name": "Bad", "date": "2026-05-01", "account_id": ours});
        for (key, value) in extra.as_object().unwrap() {
            request[key] = value.clone();
        }
        request
    };
    for (request, path) in [
        (base(body!({"date": "2026-02-30"})), "/date"),
        (base(body!({"date": "tomorrow"})), "/date"),
        (base(body!({"date": "2026-05-01T00:00:00Z"})), "/date"),
        (base(body!({"name": ""})), "/name"),
        (base(body!({"did_ids": [other]})), "/did_ids/0"),
        (base(body!({"did_ids": [main, 999999]})), "/did_ids/1"),
        (base(body!({"did_ids": [main, main]})), "/did_ids/1"),
        (base(body!({"did_ids": [1.5]})), "/did_ids/0"),
        (base(body!({"closed": true})), "/closed"),
    ] {
        client.refused_at("POST", "/api/v1/holidays", request, path);
    }
    client.refused_at(
        "POST",
        "/api/v1/holidays",
        body!({"name": "No date", "account_id": ours}),
        "/date",
    );
    // The holiday with another account's DID was written before its DIDs:
    // the failed requests left neither.
    assert_eq!(
        client.count("SELECT COUNT(*) FROM holidays WHERE name = 'Bad'"),
        0
    );
    assert_eq!(client.count("SELECT COUNT(*) FROM holiday_dids"), 4);

    // Paging, by date, and the filters.
    let (items, total) = client.list("/api/v1/holidays?limit=2&offset=1");
    assert_eq!(total, 4);
    let names: Vec<&Value> = items.iter().map(|item| &item["name"]).collect();
    assert_eq!(names, [&body!("Founders"), &body!("Theirs")]);
    for (query, names) in [
        (
            format!("account_id={ours}"),
            vec!["Local", "Founders", "New Year"],
        ),
        (
            "from=2026-07-04&to=2026-12-31".to_string(),
            vec!["Founders", "Theirs"],
        ),
        ("from=2026-12-26".to_string(), vec!["New Year"]),
        ("to=2026-03-05".to_string(), vec!["Local"]),
        (
            format!("did_id={main}"),
            vec!["Local", "Founders", "New Year"],
        ),
        (format!("did_id={sales}"), vec!["Founders", "New Year"]),
        (format!("did_id={other}"), vec!["Theirs"]),
        (format!("did_id={other}&account_id={ours}"), vec![]),
        ("did_id=999999".to_string(), vec![]),
    ] {
        assert_eq!(
            client.listed(&format!("/api/v1/holidays?{query}"), "name"),
            names,
            "{query}"
        );
    }
    for bad in ["from=2026-13-01", "to=soon", "did_id=x", "date=2026-01-01"] {
        let (status, answer) = client.send("GET", &format!("/api/v1/holidays?{bad}"), None);
        assert_eq!(status, 422, "{bad}: {answer}");
        assert!(
            answer["path"].as_str().unwrap().starts_with('?'),
            "{answer}"
        );
    }

    let viewer = new_token(&server, &client.token, "read_only");
    read_only_cannot_write(
        &server,
        &viewer,
        "/api/v1/holidays",
        &founders,
        &body!({"name": "Viewing", "date": "2026-08-01", "account_id": ours}),
        &body!({"did_ids": []}),
    );

    // A change that fails in its DIDs changes nothing, its other fields
    // neither.
    let path = format!("/api/v1/holidays/{}", founders["id"]);
    client.refused_at(
        "PATCH",
        &path,
        body!({"name": "Founders' Day", "did_ids": [sales, other]}),
        "/did_ids/1",
    );
    let (_, unchanged) = client.send("GET", &path, None);
    assert_eq!(unchanged, founders);
    client.refused_at("PATCH", &path, body!({"date": "2026-04-31"}), "/date");
    // Moved to another account, it cannot keep this one's DIDs.
    client.refused_at("PATCH", &path, body!({"account_id": theirs}), "/account_id");
    let (status, _) = client.send("PATCH", &path, Some(&body!({"account_id": 999999})));
    assert_eq!(status, 409);

    let (status, changed) = client.send(
        "PATCH",
        &path,
        Some(&body!({"name": "Founders' Day", "date": "2026-07-03", "did_ids": [sales]})),
    );
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            &changed["name"],
            &changed["date"],
            &changed["did_ids"],
            &changed["account_id"]
        ),
        (
            &body!("Founders' Day"),
            &body!("2026-07-03"),
            &body!([sales]),
            &body!(ours)
        )
    );
    // A DID a holiday names, and an account with holidays, stay.
    let (status, answer) = client.send("DELETE", &format!("/api/v1/dids/{sales}"), None);
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = client.send("DELETE", &format!("/api/v1/accounts/{theirs}"), None);
    assert_eq!(status, 409, "{answer}");
    let (status, moved) = client.send(
        "PATCH",
        &path,
        Some(&body!({"account_id": theirs, "did_ids": []})),
    );
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        (&moved["account_id"], &moved["did_ids"], &moved["name"]),
        (&body!(theirs), &body!([]), &body!("Founders' Day"))
    );
    let (status, _) = client.send("DELETE", &format!("/api/v1/dids/{sales}"), None);
    assert_eq!(status, 204, "no holiday names it any more");

    // Deleted, a holiday's DIDs go with it.
    let local_path = format!("/api/v1/holidays/{}", local["id"]);
    let (status, _) = client.send("DELETE", &local_path, None);
    assert_eq!(status, 204);
    assert_eq!(
        client.count(&format!(
            "SELECT COUNT(*) FROM holiday_dids WHERE holiday_id = {}",
            local["id"]
        )),
        0
    );
    let (status, _) = client.send("GET", &local_path, None);
    assert_eq!(status, 404);
    let (status, _) = client.send("DELETE", &format!("/api/v1/dids/{main}"), None);
    assert_eq!(status, 204, "no holiday names it any more");
    missing_items_are_404s(&client, "/api/v1/holidays");
    assert_eq!(client.list("/api/v1/holidays").1, 3);
}
