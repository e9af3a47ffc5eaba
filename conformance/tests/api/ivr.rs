//! IVR flows against the real binary, driven by SIPp: a menu flow uploaded
//! through the API takes the branch of the key pressed (RFC 4733, SIPp's
//! dtmf_2833 captures), as the event stream and the call's record show; a
//! voicemail left by SIPp (its g711a capture) is listed with its length and
//! plays back; `say` is heard by the caller; a flow that says is refused by
//! a server with no TTS; a webhook's verbs run, and its fallback when it
//! fails; a flow dials an agent by login; voicemail boxes are an
//! account's, a group's or an agent's, and an agent's messages are those
//! of its boxes.

use super::harness::{self, Server, UdpSniffer, free_port, require_tool, sipp};
use super::{answering_phone, json, raw_http, send, wait_for_items};
use serde_json::{Value, json as body};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Uploads `document` as a flow and answers DID `number` with it.
fn flow_on_did(server: &Server, token: &str, number: &str, document: Value) -> i64 {
    let (status, flow) = send(
        server,
        token,
        "POST",
        "/api/v1/flows",
        Some(body!({"name": format!("flow for {number}"), "document": document})),
    );
    assert_eq!(status, 201, "{flow}");
    let flow_id = flow["id"].as_i64().unwrap();
    let (status, did) = send(
        server,
        token,
        "POST",
        "/api/v1/dids",
        Some(body!({"number": number, "account_id": 1,
                    "answered_by": {"type": "flow", "flow_id": flow_id}})),
    );
    assert_eq!(status, 201, "{did}");
    flow_id
}

/// The RMS of each G.711 packet `server` sent among `seen`, in order.
fn levels_sent(server: &Server, seen: &[harness::Sniffed]) -> Vec<f64> {
    use media::codec::{Codec, g711};
    use media::rtp::RtpPacket;
    let (rtp_low, rtp_high) = server.rtp_ports();
    seen.iter()
        // Only what this test's server sent (tests run at the same time).
        .filter(|datagram| (rtp_low..=rtp_high).contains(&datagram.source_port))
        .filter_map(|datagram| {
            let packet = RtpPacket::parse(&datagram.payload).ok()?;
            let codec = match packet.header().payload_type.get() {
                0 => Codec::Pcmu,
                8 => Codec::Pcma,
                _ => return None,
            };
            let mut samples = [0i16; 160];
            let count = g711::decode(codec, packet.payload(), &mut samples);
            Some(harness::rms(&samples[..count]))
        })
        .collect()
}

/// SIPp calls `number` and holds the call `hold_ms` (sending its
/// capture); the RMS of each packet the caller was sent, in order.
fn levels_heard_calling(server: &Server, number: &str, hold_ms: u32) -> Vec<f64> {
    let media_port = free_port();
    let sniffer = UdpSniffer::start(media_port..=media_port);
    let (hold, port) = (hold_ms.to_string(), media_port.to_string());
    sipp(
        "uac_echo",
        &[&server.target(), "-s", number, "-d", &hold, "-mp", &port],
    )
    .assert_ok(Some(server));
    levels_sent(server, &sniffer.finish())
}

/// The live events (Server-Sent Events) as they come, collected by a
/// thread.
struct Events {
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Events {
    fn follow(server: &Server, token: &str) -> Events {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::net::TcpStream::connect(server.http_addr()).unwrap();
        write!(
            stream,
            "GET /api/v1/events HTTP/1.1\r\nHost: switchboard\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        assert!(status_line.starts_with("HTTP/1.1 200"), "{status_line}");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let collected = seen.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if let Some(data) = line.trim_end().strip_prefix("data: ") {
                            collected.lock().unwrap().push(json(data));
                        }
                    }
                }
            }
        });
        Events { seen }
    }

    /// The events so far.
    fn all(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (20 s at most) for an event of type `kind`.
    fn wait_for(&self, kind: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(event) = self.all().into_iter().find(|event| event["type"] == kind) {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} event in {:?}",
                self.all()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the calls' flows did, in order.
    fn flow_actions(&self) -> Vec<String> {
        self.all()
            .iter()
            .filter(|event| event["type"] == "call.flow")
            .map(|event| event["action"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A menu flow uploaded through the API: SIPp presses 2, and the flow
/// plays branch 2's prompt, not the invalid-input one nor branch 1's; the
/// event stream shows the key and the branch, and the call's record its
/// time in the IVR.
#[test]
fn a_menu_flow_takes_the_branch_of_the_key_pressed() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    flow_on_did(
        &server,
        &admin,
        "7100",
        body!({"verbs": [
            {"verb": "answer"},
            {"verb": "menu",
             "prompt": [{"verb": "play", "prompt": "en/greeting"}],
             "options": {
                 "1": [{"verb": "play", "prompt": "en/voicemail"}],
                 "2": [{"verb": "play", "prompt": "en/goodbye"},
                       {"verb": "pause", "seconds": 30}]
             },
             "invalid": [{"verb": "play", "prompt": "en/invalid"}]},
            {"verb": "hangup"}
        ]}),
    );
    let events = Events::follow(&server, &admin);
    sipp("uac_menu_2", &[&server.target(), "-s", "7100"]).assert_ok(Some(&server));
    events.wait_for("call.ended");
    let dtmf = events.wait_for("call.dtmf");
    assert_eq!(dtmf["digit"], "2", "{dtmf}");
    let actions = events.flow_actions();
    assert_eq!(
        actions[..2],
        ["answer", "play prompt en/greeting"],
        "{actions:?}"
    );
    assert!(
        actions.contains(&"play prompt en/goodbye".to_string()),
        "{actions:?}\n{}",
        server.log()
    );
    for other in ["play prompt en/voicemail", "play prompt en/invalid"] {
        assert!(!actions.contains(&other.to_string()), "{actions:?}");
    }
    let page = wait_for_items(&server, &admin, "/api/v1/cdrs", 1);
    let record = &page["items"][0];
    assert_eq!(record["route"], "flow", "{record}");
    assert_eq!(record["hung_up_by"], "caller", "{record}");
    // SIPp holds the call about 6.5 s after its answer, all of it in the
    // flow: none of it is talk.
    let ivr = record["ivr_seconds"].as_f64().unwrap();
    assert!((5.0..12.0).contains(&ivr), "{record}");
    assert_eq!(record["talk_seconds"], 0.0, "{record}");
    assert_eq!(record["wait_seconds"], 0.0, "{record}");
}

/// SIPp leaves a message on the demo voicemail DID 5000 (its g711a capture,
/// 7 s of speech): after the silence timeout the flow says goodbye and
/// hangs up; the message is listed with the length of its WAV file, plays
/// back as speech, is announced, is marked heard, and is deleted with its
/// file.
#[test]
fn a_voicemail_left_by_sipp_is_listed_with_its_length_and_plays_back() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let events = Events::follow(&server, &admin);
    sipp(
        "uac_voicemail",
        &[&server.target(), "-s", "5000", "-timeout", "45s"],
    )
    .assert_ok(Some(&server));
    let announced = events.wait_for("voicemail.received");
    let page = wait_for_items(&server, &admin, "/api/v1/voicemails?mailbox=5000", 1);
    let message = &page["items"][0];
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(message["did"], "5000", "{message}");
    assert_eq!(message["caller_id"], "sipp", "{message}");
    assert_eq!(message["heard"], false, "{message}");
    assert_eq!(announced["voicemail_id"], message["id"], "{announced}");
    let seconds = message["duration_seconds"].as_f64().unwrap();
    // The capture (7 s) and the 5 s of silence that end the message.
    assert!((9.0..16.0).contains(&seconds), "{message}");
    let id = message["id"].as_i64().unwrap();

    let (status, head, wav) = raw_http(
        &server,
        &format!(
            "GET /api/v1/voicemails/{id}/audio HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 200, "{head}");
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav)).expect("a WAV file");
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (1, 8000));
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let length = samples.len() as f64 / 8000.0;
    assert!(
        (length - seconds).abs() < 0.2,
        "listed {seconds} s, the file is {length} s"
    );
    // Speech where SIPp spoke: the loudest second is well above silence.
    let loudest = samples
        .chunks(8000)
        .map(harness::rms)
        .fold(0.0f64, f64::max);
    assert!(loudest > 0.01, "the message is silent (RMS {loudest})");

    // Transcribed when the server has pocketsphinx, else said not to be.
    let transcribes = std::path::Path::new("/usr/bin/pocketsphinx_continuous").is_file();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, message) = send(
            &server,
            &admin,
            "GET",
            &format!("/api/v1/voicemails/{id}"),
            None,
        );
        let status = message["transcription_status"]
            .as_str()
            .unwrap()
            .to_string();
        if !transcribes {
            assert_eq!(status, "unavailable", "{message}");
            assert!(message["transcription"].is_null(), "{message}");
            break;
        }
        if status == "done" {
            assert!(message["transcription"].is_string(), "{message}");
            break;
        }
        assert_eq!(status, "pending", "{message}");
        assert!(Instant::now() < deadline, "not transcribed: {message}");
        std::thread::sleep(Duration::from_millis(250));
    }

    let path = format!("/api/v1/voicemails/{id}");
    let (status, changed) = send(
        &server,
        &admin,
        "PATCH",
        &path,
        Some(body!({"heard": true})),
    );
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["heard"], true);
    let (status, answer) = send(
        &server,
        &admin,
        "PATCH",
        &path,
        Some(body!({"heard": "yes"})),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["path"], "/heard", "{answer}");
    let page = wait_for_items(&server, &admin, "/api/v1/voicemails?heard=false", 0);
    assert_eq!(page["total"], 0, "{page}");
    let files = || {
        std::fs::read_dir(server.data_dir().join("voicemail"))
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .is_ok_and(|entry| entry.path().extension().is_some_and(|ext| ext == "wav"))
            })
            .count()
    };
    assert_eq!(files(), 1);
    let (status, _) = send(&server, &admin, "DELETE", &path, None);
    assert_eq!(status, 204);
    let (status, _) = send(&server, &admin, "GET", &path, None);
    assert_eq!(status, 404);
    assert_eq!(files(), 0);
}

/// `say` is rendered (espeak-ng) and heard: the RTP the caller receives
/// carries speech energy while the flow speaks.
#[test]
fn a_flow_that_says_something_is_heard_by_the_caller() {
    require_tool("sipp", "sip-tester");
    require_tool("espeak-ng", "espeak-ng");
    let server = Server::start();
    let admin = server.admin_token();
    flow_on_did(
        &server,
        &admin,
        "7200",
        body!({"verbs": [
            {"verb": "answer"},
            {"verb": "say", "text": "Thank you for calling Switchboard. All our agents are busy."},
            {"verb": "pause", "seconds": 30}
        ]}),
    );
    let levels = levels_heard_calling(&server, "7200", 5000);
    let loud = levels.iter().filter(|level| **level > 0.02).count();
    // About 4 s of speech: well over a second of loud packets.
    assert!(
        loud > 50,
        "{loud} loud packets of {}\n{}",
        levels.len(),
        server.log()
    );
}

/// A server without text to speech (`tts = "none"`) refuses a flow that
/// says something, naming the verb's text; other flows are taken.
#[test]
fn a_server_without_tts_refuses_flows_that_say() {
    let config = harness::temp_dir("tts-none").join("switchboard.toml");
    std::fs::write(&config, "tts = \"none\"\n").unwrap();
    let server = Server::start_with(&["--config", config.to_str().unwrap()]);
    let admin = server.admin_token();
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/flows",
        Some(body!({"name": "speaks", "document": {"verbs": [
            {"verb": "answer"},
            {"verb": "menu", "prompt": [{"verb": "say", "text": "Press 1."}],
             "options": {"1": [{"verb": "hangup"}]}}
        ]}})),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["path"], "/document/verbs/1/prompt/0/text",
        "{answer}"
    );
    assert!(
        answer["error"].as_str().unwrap().contains("text-to-speech"),
        "{answer}"
    );
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/flows",
        Some(body!({"name": "plays", "document": {"verbs": [
            {"verb": "play", "prompt": "en/greeting"}
        ]}})),
    );
    assert_eq!(status, 201, "{answer}");
}

/// A tiny HTTP server on loopback answering each POST with `status` and
/// `body`; what it was sent is kept.
fn webhook_server(status: u16, body: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let kept = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            // The head, then as much body as Content-Length says.
            while let Ok(count) = stream.read(&mut buffer) {
                if count == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..count]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(split) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|line| {
                            line.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|value| value.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= split + 4 + length {
                        break;
                    }
                }
            }
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&request).to_string());
            let reason = if status == 200 { "OK" } else { "Error" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, requests)
}

/// A webhook gets the call's variables and its verbs run; a webhook that
/// fails sends the call to its fallback flow.
#[test]
fn a_webhooks_verbs_run_and_a_failed_one_falls_back() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let (good, requests) = webhook_server(
        200,
        r#"{"verbs": [{"verb": "play", "prompt": "en/goodbye"}, {"verb": "pause", "seconds": 30}]}"#,
    );
    let (bad, _) = webhook_server(500, "{}");
    let (status, fallback) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/flows",
        Some(body!({"name": "fallback", "document": {"verbs": [
            {"verb": "play", "prompt": "en/invalid"}, {"verb": "pause", "seconds": 30}
        ]}})),
    );
    assert_eq!(status, 201, "{fallback}");
    let fallback = fallback["id"].as_i64().unwrap();
    for (number, port) in [("7301", good), ("7302", bad)] {
        flow_on_did(
            &server,
            &admin,
            number,
            body!({"verbs": [
                {"verb": "answer"},
                {"verb": "set", "variable": "campaign", "value": "spring"},
                {"verb": "webhook", "url": format!("http://127.0.0.1:{port}/next?from=switchboard"),
                 "fallback_flow": fallback}
            ]}),
        );
    }
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/flows",
        Some(body!({"name": "tls", "document": {"verbs": [
            {"verb": "webhook", "url": "https://example.com/next"}
        ]}})),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["path"], "/document/verbs/0/url", "{answer}");

    let events = Events::follow(&server, &admin);
    sipp("uac_echo", &[&server.target(), "-s", "7301", "-d", "3000"]).assert_ok(Some(&server));
    let actions = events.flow_actions();
    assert!(
        actions.contains(&"play prompt en/goodbye".to_string()),
        "{actions:?}\n{}",
        server.log()
    );
    let request = requests.lock().unwrap().first().cloned().expect("a POST");
    assert!(
        request.starts_with("POST /next?from=switchboard HTTP/1.1"),
        "{request}"
    );
    let posted = json(&request[request.find("\r\n\r\n").unwrap() + 4..]);
    assert_eq!(posted["did"], "7301", "{posted}");
    assert_eq!(posted["caller_id"], "sipp", "{posted}");
    assert_eq!(posted["campaign"], "spring", "{posted}");

    let events = Events::follow(&server, &admin);
    sipp("uac_echo", &[&server.target(), "-s", "7302", "-d", "3000"]).assert_ok(Some(&server));
    let actions = events.flow_actions();
    assert!(
        actions.contains(&"play prompt en/invalid".to_string()),
        "{actions:?}\n{}",
        server.log()
    );
}

/// The number of calls in progress.
fn calls_in_progress(server: &Server, token: &str) -> usize {
    let (status, calls) = send(server, token, "GET", "/api/v1/calls", None);
    assert_eq!(status, 200, "{calls}");
    calls.as_array().map_or(0, Vec::len)
}

/// A DID with a calls limit of 3: while three SIPp calls hold it, a
/// fourth hears the limit's text and is hung up, and the three are
/// unaffected; a DID at its limit with no text answers busy (486).
#[test]
fn a_call_over_the_calls_limit_hears_the_text_or_gets_busy() {
    require_tool("sipp", "sip-tester");
    require_tool("espeak-ng", "espeak-ng");
    let server = Server::start();
    let admin = server.admin_token();
    let waits = body!({"verbs": [{"verb": "answer"}, {"verb": "pause", "seconds": 60}]});
    flow_on_did(&server, &admin, "7400", waits.clone());
    flow_on_did(&server, &admin, "7401", waits);
    let limit = |number: &str, inbound: Value| {
        let (_, dids) = send(
            &server,
            &admin,
            "GET",
            &format!("/api/v1/dids?number={number}"),
            None,
        );
        let id = dids["items"][0]["id"].as_i64().unwrap();
        let (status, did) = send(
            &server,
            &admin,
            "PATCH",
            &format!("/api/v1/dids/{id}"),
            Some(body!({ "inbound": inbound })),
        );
        assert_eq!(status, 200, "{did}");
        did
    };
    let did = limit(
        "7400",
        body!({"calls_limit": 3, "calls_limit_text": "All our lines are busy. Please call again later."}),
    );
    assert_eq!(did["inbound"]["calls_limit"], 3, "{did}");
    limit("7401", body!({"calls_limit": 1}));
    let (status, answer) = send(
        &server,
        &admin,
        "PATCH",
        "/api/v1/dids/1",
        Some(body!({"inbound": {"calls_limit": 0}})),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["path"], "/inbound/calls_limit", "{answer}");

    let events = Events::follow(&server, &admin);
    let three = harness::spawn_sipp(
        "uac_echo",
        &[
            &server.target(),
            "-s",
            "7400",
            "-m",
            "3",
            "-l",
            "3",
            "-r",
            "10",
            "-d",
            "12000",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls_in_progress(&server, &admin) < 3 {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The fourth: the text, then the switch hangs up (SIPp answers its BYE).
    sipp("uac_hung_up", &[&server.target(), "-s", "7400"]).assert_ok(Some(&server));
    let actions = events.flow_actions();
    assert!(
        actions
            .contains(&"play say \"All our lines are busy. Please call again later.\"".to_string()),
        "{actions:?}"
    );
    assert_eq!(calls_in_progress(&server, &admin), 3, "{}", server.log());
    three.wait().assert_ok(Some(&server));

    let one = harness::spawn_sipp("uac_echo", &[&server.target(), "-s", "7401", "-d", "6000"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls_in_progress(&server, &admin) < 1 {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    sipp("uac_busy", &[&server.target(), "-s", "7401"]).assert_ok(Some(&server));
    one.wait().assert_ok(Some(&server));
    // Every call left a record: 3 + 1 talked, 1 said the text, 1 busy.
    let page = wait_for_items(&server, &admin, "/api/v1/cdrs", 6);
    let busy = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|record| record["sip_status"] == 486)
        .count();
    assert_eq!(busy, 1, "{page}");
}

/// Today's date where a DID is, as `YYYY-MM-DD`.
fn today_in(zone: chrono_tz::Tz) -> String {
    chrono::Utc::now()
        .with_timezone(&zone)
        .format("%Y-%m-%d")
        .to_string()
}

/// A holiday set to today in a DID's time zone sends its calls to the
/// DID's holiday flow; a DID of the same account in a zone where it is
/// another day keeps its own flow; schedules that cover the whole week
/// send another DID's calls to theirs.
#[test]
fn a_holiday_today_in_the_dids_zone_routes_to_the_holiday_flow() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let flow = |name: &str, prompt: &str| {
        let (status, flow) = send(
            &server,
            &admin,
            "POST",
            "/api/v1/flows",
            Some(body!({"name": name, "document": {"verbs": [
                {"verb": "answer"}, {"verb": "play", "prompt": prompt},
                {"verb": "pause", "seconds": 30}
            ]}})),
        );
        assert_eq!(status, 201, "{flow}");
        flow["id"].as_i64().unwrap()
    };
    let normal = flow("normal", "en/greeting");
    let closed = flow("closed", "en/goodbye");
    let scheduled = flow("scheduled", "en/voicemail");
    // UTC+14 and UTC-11: 25 hours apart, never on the same date.
    let make = |number: &str, zone: &str, inbound: Value| {
        let (status, did) = send(
            &server,
            &admin,
            "POST",
            "/api/v1/dids",
            Some(body!({"number": number, "account_id": 1, "time_zone": zone,
                        "answered_by": {"type": "flow", "flow_id": normal},
                        "inbound": inbound})),
        );
        assert_eq!(status, 201, "{did}");
    };
    make(
        "7500",
        "Pacific/Kiritimati",
        body!({"holiday_flow_id": closed}),
    );
    make(
        "7501",
        "Pacific/Pago_Pago",
        body!({"holiday_flow_id": closed}),
    );
    make(
        "7502",
        "Europe/Paris",
        body!({"weekly": [
            {"flow_id": scheduled, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
             "from": "08:00", "to": "08:00"}
        ]}),
    );
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/dids",
        Some(body!({"number": "7503", "account_id": 1,
                    "answered_by": {"type": "echo"},
                    "inbound": {"weekly": [{"flow_id": scheduled, "days": [], "from": "09:00", "to": "10:00"}]}})),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["path"], "/inbound/weekly/0/days", "{answer}");
    let (status, holiday) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/holidays",
        Some(body!({"name": "Closed", "account_id": 1,
                    "date": today_in(chrono_tz::Pacific::Kiritimati)})),
    );
    assert_eq!(status, 201, "{holiday}");

    let call = |number: &str| {
        let events = Events::follow(&server, &admin);
        sipp("uac_echo", &[&server.target(), "-s", number, "-d", "1500"]).assert_ok(Some(&server));
        events.flow_actions()
    };
    let actions = call("7500");
    assert!(
        actions.contains(&"play prompt en/goodbye".to_string()),
        "{actions:?}\n{}",
        server.log()
    );
    let actions = call("7501");
    assert!(
        actions.contains(&"play prompt en/greeting".to_string()),
        "{actions:?}"
    );
    let actions = call("7502");
    assert!(
        actions.contains(&"play prompt en/voicemail".to_string()),
        "{actions:?}"
    );
    // The holiday gone, 7500 is answered as usual again.
    let id = holiday["id"].as_i64().unwrap();
    let (status, _) = send(
        &server,
        &admin,
        "DELETE",
        &format!("/api/v1/holidays/{id}"),
        None,
    );
    assert_eq!(status, 204);
    let actions = call("7500");
    assert!(
        actions.contains(&"play prompt en/greeting".to_string()),
        "{actions:?}"
    );
}

/// Inbound settings (rings, a spoken greeting with a call option) answer
/// a DID as the flow they compile to: one ring, the greeting, and the
/// option's prompt for the key SIPp presses, then hold music.
#[test]
fn inbound_settings_ring_greet_and_take_a_call_option() {
    require_tool("sipp", "sip-tester");
    require_tool("espeak-ng", "espeak-ng");
    let server = Server::start();
    let admin = server.admin_token();
    let (status, did) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/dids",
        Some(body!({"number": "7600", "account_id": 1, "answered_by": {
            "type": "inbound", "rings": 1,
            "greeting": {"text": "Welcome to Acme. Press 2 to hear goodbye."},
            "call_options": {"options": {
                "2": {"type": "play", "prompt": "en/goodbye"},
                "3": {"type": "voicemail", "box": "5000"}
            }}
        }})),
    );
    assert_eq!(status, 201, "{did}");
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/dids",
        Some(body!({"number": "7603", "account_id": 1, "answered_by": {
            "type": "inbound",
            "call_options": {"options": {"3": {"type": "voicemail", "box": "no-such-box"}}}
        }})),
    );
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        answer["path"], "/answered_by/call_options/options/3/box",
        "{answer}"
    );
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/dids",
        Some(body!({"number": "7601", "account_id": 1, "answered_by": {
            "type": "inbound", "voicemail": {"box": "bad box"}
        }})),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["path"], "/answered_by/voicemail", "{answer}");
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/dids",
        Some(body!({"number": "7602", "account_id": 1, "answered_by": {
            "type": "inbound", "hold_music": "no-such-music"
        }})),
    );
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["path"], "/answered_by/hold_music", "{answer}");

    let events = Events::follow(&server, &admin);
    sipp("uac_menu_2", &[&server.target(), "-s", "7600"]).assert_ok(Some(&server));
    events.wait_for("call.ended");
    let actions = events.flow_actions();
    assert_eq!(
        actions[..3],
        [
            "ring 6s",
            "answer",
            "play say \"Welcome to Acme. Press 2 to hear goodbye.\""
        ],
        "{actions:?}"
    );
    assert!(
        actions.contains(&"play prompt en/goodbye".to_string()),
        "{actions:?}"
    );
    assert_eq!(
        actions.last().map(String::as_str),
        Some("hold music"),
        "{actions:?}"
    );
}

/// A prompt uploaded as FLAC (made by sox) is converted to 8 kHz mono,
/// listed, downloaded as WAV and played by a flow; a file that is not
/// audio is refused; a prompt a flow plays is not deleted.
#[test]
fn an_uploaded_prompt_is_converted_and_played() {
    require_tool("sipp", "sip-tester");
    require_tool("sox", "sox");
    let server = Server::start();
    let admin = server.admin_token();
    let dir = harness::temp_dir("upload");
    let flac = dir.join("tone.flac");
    let made = std::process::Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "2"])
        .arg(&flac)
        .args(["synth", "3", "sine", "440", "vol", "0.5"])
        .status()
        .unwrap();
    assert!(made.success());
    let upload = |name: &str, bytes: &[u8]| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(server.http_addr()).unwrap();
        write!(
            stream,
            "PUT /api/v1/prompts/{name} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: audio/flac\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        )
        .unwrap();
        stream.write_all(bytes).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status: u16 = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = answer
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        (status, json(&body))
    };
    let (status, prompt) = upload("acme-tone", &std::fs::read(&flac).unwrap());
    assert_eq!(status, 201, "{prompt}");
    assert!(
        (prompt["seconds"].as_f64().unwrap() - 3.0).abs() < 0.05,
        "{prompt}"
    );
    let (status, answer) = upload("junk", b"this is not audio at all");
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["path"], "/body", "{answer}");
    let (status, answer) = upload("en", &std::fs::read(&flac).unwrap());
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = upload("hold-music", &std::fs::read(&flac).unwrap());
    assert_eq!(status, 422, "a bundled name: {answer}");
    let (status, head, wav) = raw_http(
        &server,
        &format!(
            "GET /api/v1/prompts/acme-tone/audio HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 200, "{head}");
    let reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
    assert_eq!(
        (reader.spec().channels, reader.spec().sample_rate),
        (1, 8000)
    );
    assert_eq!(reader.duration(), 24_000);

    flow_on_did(
        &server,
        &admin,
        "7700",
        body!({"verbs": [
            {"verb": "answer"},
            {"verb": "play", "prompt": "acme-tone"},
            {"verb": "pause", "seconds": 30}
        ]}),
    );
    let loud = levels_heard_calling(&server, "7700", 4000)
        .into_iter()
        .filter(|level| *level > 0.2)
        .count();
    // 3 s of a half-scale sine (RMS 0.35): about 150 packets.
    assert!(loud > 100, "{loud} loud packets\n{}", server.log());

    let (status, answer) = send(&server, &admin, "DELETE", "/api/v1/prompts/acme-tone", None);
    assert_eq!(status, 409, "{answer}");
    let (status, _) = send(&server, &admin, "DELETE", "/api/v1/prompts/en", None);
    assert_eq!(status, 204);
    let (_, page) = send(&server, &admin, "GET", "/api/v1/prompts", None);
    assert_eq!(page["total"], 1, "{page}");
    let (_, bundled) = send(&server, &admin, "GET", "/api/v1/prompts/bundled", None);
    assert!(
        bundled
            .as_array()
            .unwrap()
            .contains(&Value::from("en/greeting")),
        "{bundled}"
    );
}

/// Makes `path`'s object from `body` (201) and returns its id.
fn made(server: &Server, token: &str, path: &str, body: Value) -> i64 {
    let (status, made) = send(server, token, "POST", path, Some(body));
    assert_eq!(status, 201, "{path}: {made}");
    made["id"].as_i64().unwrap()
}

/// A flow dials an agent by login and reaches the phone it takes calls
/// on (a SIPp phone that answers): the call is bridged and its record has
/// the agent's answer. Deactivated, the agent is not dialled and the flow
/// goes on with the dial's status; an agent a flow dials keeps its login
/// and is not deleted.
#[test]
fn a_flow_dials_an_agent_by_login_on_the_phone_it_takes_calls_on() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let alice = made(
        &server,
        &admin,
        "/api/v1/agents",
        body!({"login": "alice", "name": "Alice", "extension": "1001"}),
    );
    flow_on_did(
        &server,
        &admin,
        "7700",
        body!({"verbs": [
            {"verb": "dial", "target": {"agent": "alice"}, "timeout_seconds": 10},
            {"verb": "if", "variable": "dial_status", "equals": "failed",
             "then": [{"verb": "play", "prompt": "en/invalid"}]},
            {"verb": "hangup"}
        ]}),
    );
    let agent = format!("/api/v1/agents/{alice}");
    let (status, answer) = send(&server, &admin, "DELETE", &agent, None);
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("dials agent alice"),
        "{answer}"
    );
    let (status, answer) = send(
        &server,
        &admin,
        "PATCH",
        &agent,
        Some(body!({"login": "alice2"})),
    );
    assert_eq!(status, 409, "{answer}");

    let events = Events::follow(&server, &admin);
    let phone = answering_phone(&server, "1001");
    sipp(
        "uac_echo",
        &[&server.target(), "-s", "7700", "-m", "1", "-d", "3000"],
    )
    .assert_ok(Some(&server));
    phone.wait().assert_ok(Some(&server));
    let page = wait_for_items(&server, &admin, "/api/v1/cdrs?direction=inbound", 1);
    let record = &page["items"][0];
    assert_eq!(record["route"], "flow", "{record}");
    assert!(record["agent_answer_time"].is_string(), "{record}");
    // Until the phone answered (it rings 200 ms) the caller was in the
    // flow or waiting for the phone, each moment counted once; talk is
    // the rest.
    let seconds = |field: &str| record[field].as_f64().unwrap();
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(record[field].as_str().unwrap()).unwrap()
    };
    let until_answer = (at("agent_answer_time") - at("start_time")).as_seconds_f64();
    let until_end = (at("end_time") - at("agent_answer_time")).as_seconds_f64();
    assert!(
        (seconds("ivr_seconds") + seconds("wait_seconds") - until_answer).abs() < 0.002,
        "{record}"
    );
    assert!(seconds("wait_seconds") >= 0.2, "{record}");
    assert!(
        (seconds("talk_seconds") - until_end).abs() < 0.002,
        "{record}"
    );
    let actions = events.flow_actions();
    assert_eq!(
        actions.first().map(String::as_str),
        Some("dial agent alice caller_id=sipp"),
        "{actions:?}"
    );
    assert!(
        !actions.contains(&"play prompt en/invalid".to_string()),
        "{actions:?}"
    );

    // Off duty: the dial fails at once and the flow says so.
    let (status, answer) = send(
        &server,
        &admin,
        "PATCH",
        &agent,
        Some(body!({"active": false})),
    );
    assert_eq!(status, 200, "{answer}");
    sipp("uac_hung_up", &[&server.target(), "-s", "7700"]).assert_ok(Some(&server));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !events
        .flow_actions()
        .contains(&"play prompt en/invalid".to_string())
    {
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            events.flow_actions(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Voicemail boxes belong to an account, a group (a skill's agents) or an
/// agent: a flow may only name one that exists; a message SIPp leaves in a
/// group's box is an agent's of that group and no one else's; a box that
/// holds messages or that a flow names is not deleted, nor is its owner.
#[test]
fn voicemail_boxes_are_an_accounts_a_groups_or_an_agents() {
    require_tool("sipp", "sip-tester");
    let server = Server::start();
    let admin = server.admin_token();
    let support = made(
        &server,
        &admin,
        "/api/v1/skills",
        body!({"name": "support"}),
    );
    let alice = made(
        &server,
        &admin,
        "/api/v1/agents",
        body!({"login": "alice", "name": "Alice",
               "skills": [{"skill_id": support, "level": 5}]}),
    );
    let bob = made(
        &server,
        &admin,
        "/api/v1/agents",
        body!({"login": "bob", "name": "Bob"}),
    );
    let boxes = "/api/v1/voicemail-boxes";
    let group_box = made(
        &server,
        &admin,
        boxes,
        body!({"name": "support-line", "owner": {"type": "group", "skill_id": support}}),
    );
    let alice_box = made(
        &server,
        &admin,
        boxes,
        body!({"name": "alice", "description": "Alice's own",
               "owner": {"type": "agent", "agent_id": alice}}),
    );
    let account_box = made(
        &server,
        &admin,
        boxes,
        body!({"name": "acme-main", "owner": {"type": "account", "account_id": 1}}),
    );
    for (body, status, path) in [
        (body!({"name": "x"}), 422, "/owner"),
        (
            body!({"name": "x", "owner": {"type": "team", "skill_id": support}}),
            422,
            "/owner/type",
        ),
        (
            body!({"name": "x", "owner": {"type": "agent", "agent_id": 424242}}),
            409,
            "/owner/agent_id",
        ),
        (
            body!({"name": "bad name", "owner": {"type": "agent", "agent_id": bob}}),
            422,
            "/name",
        ),
    ] {
        let (got, answer) = send(&server, &admin, "POST", boxes, Some(body.clone()));
        assert_eq!(
            (got, answer["path"].as_str()),
            (status, Some(path)),
            "{body}: {answer}"
        );
    }
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        boxes,
        Some(body!({"name": "alice", "owner": {"type": "agent", "agent_id": bob}})),
    );
    assert_eq!(status, 409, "{answer}");

    // The boxes each agent reads: its own and its groups'.
    let names = |query: &str| -> Vec<String> {
        let (status, page) = send(&server, &admin, "GET", &format!("{boxes}?{query}"), None);
        assert_eq!(status, 200, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&format!("agent_id={alice}")),
        ["alice", "support-line"]
    );
    assert!(names(&format!("agent_id={bob}")).is_empty());
    assert_eq!(
        names("account_id=1"),
        ["5000", "acme-main"],
        "the demo's box too"
    );

    // SIPp leaves a message in the group's box.
    flow_on_did(
        &server,
        &admin,
        "7800",
        body!({"verbs": [
            {"verb": "answer"},
            {"verb": "pause", "seconds": 1},
            {"verb": "voicemail", "box": "support-line", "silence_seconds": 3},
            {"verb": "hangup"}
        ]}),
    );
    sipp(
        "uac_voicemail",
        &[&server.target(), "-s", "7800", "-timeout", "45s"],
    )
    .assert_ok(Some(&server));
    let page = wait_for_items(
        &server,
        &admin,
        &format!("/api/v1/voicemails?agent_id={alice}"),
        1,
    );
    assert_eq!(page["items"][0]["mailbox"], "support-line", "{page}");
    let (_, bobs) = send(
        &server,
        &admin,
        "GET",
        &format!("/api/v1/voicemails?agent_id={bob}"),
        None,
    );
    assert_eq!(bobs["total"], 0, "{bobs}");
    let (status, group) = send(
        &server,
        &admin,
        "GET",
        &format!("{boxes}/{group_box}"),
        None,
    );
    assert_eq!(status, 200, "{group}");
    assert_eq!(
        (group["messages"].as_i64(), group["new_messages"].as_i64()),
        (Some(1), Some(1)),
        "{group}"
    );
    assert_eq!(
        group["owner"],
        body!({"type": "group", "skill_id": support})
    );

    // Logged in as agents: Alice reads her boxes' messages and marks them
    // heard; Bob sees none of them; a user who is no agent reads nothing.
    let message = page["items"][0]["id"].as_i64().unwrap();
    let login = |username: &str, agent: Option<i64>| -> String {
        made(
            &server,
            &admin,
            "/api/v1/users",
            body!({"username": username, "role": "agent",
                   "password": "correct horse", "agent_id": agent}),
        );
        let (status, session) = server.http(
            "POST",
            "/api/v1/login",
            None,
            Some(&body!({"username": username, "password": "correct horse"}).to_string()),
        );
        assert_eq!(status, 200, "{session}");
        json(&session)["secret"].as_str().unwrap().to_string()
    };
    let (status, answer) = send(
        &server,
        &admin,
        "POST",
        "/api/v1/users",
        Some(body!({"username": "nobody.user", "role": "agent",
                    "password": "correct horse", "agent_id": 424242})),
    );
    assert_eq!(
        (status, answer["path"].as_str()),
        (409, Some("/agent_id")),
        "{answer}"
    );
    let (as_alice, as_bob, as_carol) = (
        login("alice.user", Some(alice)),
        login("bob.user", Some(bob)),
        login("carol.user", None),
    );
    let (status, mine) = send(&server, &as_alice, "GET", "/api/v1/voicemails", None);
    assert_eq!((status, mine["total"].as_i64()), (200, Some(1)), "{mine}");
    let one = format!("/api/v1/voicemails/{message}");
    let (status, heard) = send(
        &server,
        &as_alice,
        "PATCH",
        &one,
        Some(body!({"heard": true})),
    );
    assert_eq!(
        (status, heard["heard"].as_bool()),
        (200, Some(true)),
        "{heard}"
    );
    let (status, mine) = send(&server, &as_alice, "GET", boxes, None);
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["items"][1]["new_messages"], 0, "{mine}");
    let (status, _) = send(
        &server,
        &as_alice,
        "GET",
        &format!("/api/v1/voicemails?agent_id={bob}"),
        None,
    );
    assert_eq!(status, 403);
    let (status, _) = send(&server, &as_alice, "DELETE", &one, None);
    assert_eq!(status, 403, "deleting is a supervisor's");
    let (status, theirs) = send(&server, &as_bob, "GET", "/api/v1/voicemails", None);
    assert_eq!(
        (status, theirs["total"].as_i64()),
        (200, Some(0)),
        "{theirs}"
    );
    assert_eq!(send(&server, &as_bob, "GET", &one, None).0, 404);
    assert_eq!(
        send(
            &server,
            &as_bob,
            "GET",
            &format!("{boxes}/{group_box}"),
            None
        )
        .0,
        404
    );
    assert_eq!(
        send(&server, &as_carol, "GET", "/api/v1/voicemails", None).0,
        403
    );

    // Nothing is deleted from under what uses it.
    let refused = |path: String| {
        let (status, answer) = send(&server, &admin, "DELETE", &path, None);
        assert_eq!(status, 409, "{path}: {answer}");
        answer["error"].as_str().unwrap().to_string()
    };
    assert!(refused(format!("{boxes}/{group_box}")).contains("holds 1 messages"));
    assert!(refused(format!("/api/v1/skills/{support}")).contains("voicemail box"));
    assert!(refused(format!("/api/v1/agents/{alice}")).contains("voicemail box"));
    let naming = made(
        &server,
        &admin,
        "/api/v1/flows",
        body!({"name": "Main box", "document": {"verbs": [{"verb": "voicemail", "box": "acme-main"}]}}),
    );
    assert!(refused(format!("{boxes}/{account_box}")).starts_with(&format!("flow {naming} ")));
    let (status, _) = send(
        &server,
        &admin,
        "DELETE",
        &format!("/api/v1/flows/{naming}"),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = send(
        &server,
        &admin,
        "DELETE",
        &format!("{boxes}/{account_box}"),
        None,
    );
    assert_eq!(status, 204);

    // A box changes hands: Alice's becomes Bob's.
    let (status, changed) = send(
        &server,
        &admin,
        "PATCH",
        &format!("{boxes}/{alice_box}"),
        Some(body!({"owner": {"type": "agent", "agent_id": bob}, "description": null})),
    );
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["description"], Value::Null, "{changed}");
    assert_eq!(names(&format!("agent_id={bob}")), ["alice"]);
    assert_eq!(names(&format!("agent_id={alice}")), ["support-line"]);
    let reader = super::new_token(&server, &admin, "read_only");
    let (status, _) = send(&server, &reader, "GET", boxes, None);
    assert_eq!(status, 403);
}
