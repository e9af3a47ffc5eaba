//! Live-call control through the API against real SIP peers (SIPp): a
//! call placed to a phone and joined to a DID, a blind transfer from the
//! echo to a phone, and a recording started and stopped while a prompt is
//! played into the call.

use super::harness::{Server, require_tool, spawn_sipp};
use super::{answering_phone, new_token, raw_http, send, wait_for_items};
use serde_json::{Value, json as body};
use std::time::{Duration, Instant};

/// Asserts a 422 whose error names `path`.
fn assert_invalid(answer: (u16, Value), path: &str) {
    let (status, body) = answer;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["path"], path, "{body}");
}

/// The only call in progress, once there is one in `state` (10 s at most).
fn wait_for_call(server: &Server, token: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, calls) = send(server, token, "GET", "/api/v1/calls", None);
        assert_eq!(status, 200, "{calls}");
        if let Some(call) = calls.as_array().and_then(|calls| calls.first())
            && call["state"] == state
        {
            return call.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {state} call: {calls}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A call placed through the API rings phone 1001 with the caller ID
/// asked for; answered, it is joined to what DID 1000 does (the echo) and
/// listed as outbound; hung up through the API, it leaves an outbound
/// record. Bad requests are refused with the field named.
#[test]
fn a_placed_call_rings_a_phone_with_the_caller_id_and_joins_it_to_a_did() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let place = |call: Value| send(&server, &admin, "POST", "/api/v1/calls", Some(call));

    assert_invalid(
        place(
            body!({"to": {"type": "phone", "extension": "9999"}, "caller_id": "5550100",
                     "then": {"type": "did", "number": "1000"}}),
        ),
        "/to/extension",
    );
    assert_invalid(
        place(
            body!({"to": {"type": "phone", "extension": "1001"}, "caller_id": "5550100",
                     "then": {"type": "did", "number": "777"}}),
        ),
        "/then/number",
    );
    assert_invalid(
        place(
            body!({"to": {"type": "phone", "extension": "1001"}, "caller_id": "bad id",
                     "then": {"type": "did", "number": "1000"}}),
        ),
        "/caller_id",
    );
    assert_invalid(
        place(
            body!({"to": {"type": "phone", "extension": "1001"}, "caller_id": "5550100",
                     "then": {"type": "did", "number": "1000"}, "ring_timeout_seconds": 0}),
        ),
        "/ring_timeout_seconds",
    );
    assert_invalid(
        place(
            body!({"to": {"type": "did", "number": "1000"}, "caller_id": "5550100",
                     "then": {"type": "did", "number": "1000"}}),
        ),
        "/to/type",
    );
    // Not registered yet; and no trunk to call numbers through.
    let (status, answer) = place(body!({"to": {"type": "phone", "extension": "1001"},
        "caller_id": "5550100", "then": {"type": "did", "number": "1000"}}));
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("not registered"),
        "{answer}"
    );
    let (status, answer) = place(body!({"to": {"type": "number", "number": "+15551230000"},
        "caller_id": "5550100", "then": {"type": "did", "number": "1000"}}));
    assert_eq!(status, 409, "{answer}");
    let viewer = new_token(&server, &admin, "read_only");
    let (status, _) = send(
        &server,
        &viewer,
        "POST",
        "/api/v1/calls",
        Some(body!({
        "to": {"type": "phone", "extension": "1001"}, "caller_id": "5550100",
        "then": {"type": "did", "number": "1000"}})),
    );
    assert_eq!(status, 403);

    let phone = answering_phone(&server, "1001");
    let (status, placed) = place(body!({"to": {"type": "phone", "extension": "1001"},
        "caller_id": "5550100", "then": {"type": "did", "number": "1000"}}));
    assert_eq!(status, 201, "{placed}");
    let call_id = placed["call_id"].as_str().unwrap().to_string();
    let call = wait_for_call(&server, &admin, "answered");
    assert_eq!(call["call_id"], call_id.as_str(), "{call}");
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["route"], "echo");
    assert_eq!(call["caller_id"], "5550100");
    assert_eq!(call["number_dialed"], "1001");
    assert!(call["legs"][0]["codec"].is_string(), "{call}");

    std::thread::sleep(Duration::from_secs(2));
    let (status, _) = send(
        &server,
        &admin,
        "DELETE",
        &format!("/api/v1/calls/{call_id}"),
        None,
    );
    assert_eq!(status, 204);
    let phone = phone.wait();
    phone.assert_ok(Some(&server));
    let messages = std::fs::read_to_string(phone.out_dir.join("messages.log")).unwrap_or_default();
    assert!(
        messages.contains("From: <sip:5550100@"),
        "the phone was not shown the caller ID:\n{messages}"
    );

    let page = wait_for_items(&server, &admin, "/api/v1/cdrs?direction=outbound", 1);
    let cdr = &page["items"][0];
    assert_eq!(cdr["call_id"], call_id.as_str(), "{cdr}");
    assert_eq!(cdr["caller_id"], "5550100");
    assert_eq!(cdr["number_dialed"], "1001");
    assert_eq!(cdr["route"], "echo");
    assert_eq!(cdr["hung_up_by"], "system");
    let talk = cdr["talk_seconds"].as_f64().unwrap();
    assert!((1.5..3.5).contains(&talk), "talk {talk} s for a 2 s call");
}

/// A caller talking to the echo is transferred to phone 1001: it hears
/// ringback, then the phone; the record names the phone's route, the
/// phone's answer and the time the transfer took.
#[test]
fn a_call_is_transferred_blind_from_the_echo_to_a_phone() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let phone = answering_phone(&server, "1001");
    let caller = spawn_sipp("uac_echo", &[&server.target(), "-s", "1000", "-d", "6000"]);
    let call = wait_for_call(&server, &admin, "answered");
    assert_eq!(call["route"], "echo");
    let path = format!(
        "/api/v1/calls/{}/transfer",
        call["call_id"].as_str().unwrap()
    );

    assert_invalid(
        send(
            &server,
            &admin,
            "POST",
            &path,
            Some(body!({"to": {"type": "phone", "extension": "9999"}})),
        ),
        "/to/extension",
    );
    let (status, _) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/calls/no-such-call/transfer",
        Some(body!({"to": {"type": "phone", "extension": "1001"}})),
    );
    assert_eq!(status, 404);
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        &path,
        Some(body!({"to": {"type": "phone", "extension": "1001"}})),
    );
    assert_eq!(status, 204, "{answer}");
    let call = wait_for_call(&server, &admin, "answered");
    assert_eq!(call["route"], "phone", "{call}");

    let caller = caller.wait();
    let phone = phone.wait();
    caller.assert_ok(Some(&server));
    phone.assert_ok(Some(&server));
    let page = wait_for_items(&server, &admin, "/api/v1/cdrs", 1);
    let cdr = &page["items"][0];
    assert_eq!(cdr["route"], "phone", "{cdr}");
    assert_eq!(cdr["hung_up_by"], "caller");
    assert!(cdr["agent_answer_time"].is_string(), "{cdr}");
    let transfer = cdr["transfer_seconds"].as_f64().unwrap();
    assert!(
        (0.1..2.0).contains(&transfer),
        "transfer took {transfer} s: {cdr}"
    );
    assert!(cdr["callee_rtp"].is_object(), "{cdr}");
}

/// A recording started and stopped through the API holds the stretch
/// between, in stereo: the caller left, and right the prompt played to
/// the caller meanwhile. It is listed with the call's record.
#[test]
fn a_call_is_recorded_between_start_and_stop_while_a_prompt_plays_into_it() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let caller = spawn_sipp("uac_echo", &[&server.target(), "-s", "1000", "-d", "6000"]);
    let call = wait_for_call(&server, &admin, "answered");
    let call_id = call["call_id"].as_str().unwrap().to_string();
    let recording = format!("/api/v1/calls/{call_id}/recording");
    let play = format!("/api/v1/calls/{call_id}/play");

    let (status, started) = send(&server, &admin, "POST", &recording, None);
    assert_eq!(status, 201, "{started}");
    let recording_id = started["recording_id"].as_str().unwrap().to_string();
    let (status, _) = send(&server, &admin, "POST", &recording, None);
    assert_eq!(status, 409, "recorded already");
    assert_eq!(
        wait_for_call(&server, &admin, "answered")["recording"],
        true
    );

    assert_invalid(
        send(
            &server,
            &admin,
            "POST",
            &play,
            Some(body!({"prompt": "en/nothing"})),
        ),
        "/prompt",
    );
    let (status, _) = send(
        &server,
        &admin,
        "POST",
        &play,
        Some(body!({"prompt": "en/greeting", "to": "callee"})),
    );
    assert_eq!(status, 409, "the echo has no called party");
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        &play,
        Some(body!({"prompt": "en/greeting", "to": "caller"})),
    );
    assert_eq!(status, 204, "{answer}");
    std::thread::sleep(Duration::from_millis(3000));
    let (status, _) = send(&server, &admin, "DELETE", &recording, None);
    assert_eq!(status, 204);
    let (status, _) = send(&server, &admin, "DELETE", &recording, None);
    assert_eq!(status, 409, "not recorded any more");
    let (status, _) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/calls/no-such-call/recording",
        None,
    );
    assert_eq!(status, 404);

    caller.wait().assert_ok(Some(&server));
    let page = wait_for_items(&server, &admin, "/api/v1/recordings", 1);
    let listed = &page["items"][0];
    assert_eq!(listed["id"], recording_id.as_str(), "{page}");
    assert_eq!(listed["cdr"]["call_id"], call_id.as_str());
    assert_eq!(listed["channels"], 2);
    let (status, head, audio) = raw_http(
        &server,
        &format!(
            "GET /api/v1/recordings/{recording_id}/audio HTTP/1.1\r\nHost: s\r\n\
             Connection: close\r\nAuthorization: Bearer {admin}\r\n\r\n"
        ),
    );
    assert_eq!(status, 200, "{head}");
    let mut reader = hound::WavReader::new(std::io::Cursor::new(&audio)).expect("a valid WAV");
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let seconds = samples.len() as f64 / 2.0 / 8000.0;
    assert!(
        (2.0..4.5).contains(&seconds),
        "{seconds} s recorded between start and stop"
    );
    let energy = |channel: usize| {
        let side: Vec<f64> = samples
            .iter()
            .skip(channel)
            .step_by(2)
            .map(|s| f64::from(*s))
            .collect();
        (side.iter().map(|s| s * s).sum::<f64>() / side.len() as f64).sqrt()
    };
    assert!(
        energy(0) > 100.0,
        "the caller's side is silent ({})",
        energy(0)
    );
    assert!(
        energy(1) > 100.0,
        "the prompt is not in the recording ({})",
        energy(1)
    );
}
