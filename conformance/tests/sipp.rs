//! SIPp conformance: each scenario of `conformance/sipp/` against a fresh
//! `switchboard` on loopback. A test passes when SIPp reports no failed
//! call (every expected message arrived, every regexp check held).
//!
//! Needs `sipp` (Debian `sip-tester`); the RTP scenarios play a pcap
//! through a raw socket, so they need root or CAP_NET_RAW.

#![allow(clippy::disallowed_methods)]

#[path = "../../conformance/harness.rs"]
mod harness;

use harness::{Server, UdpSniffer, free_port, register_sipp_phone, sipp, spawn_sipp, temp_dir};
use std::time::Duration;

#[test]
fn options_lists_allow_accept_supported() {
    let server = Server::start();
    sipp("options", &[&server.target(), "-s", "1000"]).assert_ok(Some(&server));
}

/// Listening on every address (0.0.0.0), the server tells peers the
/// address it is set to advertise: never 0.0.0.0 in Via, Contact or SDP,
/// so the call's ACK, RTP and BYE reach it.
#[test]
fn listening_on_every_address_tells_peers_a_reachable_one() {
    let server = Server::start_on_every_address(&["--sip-advertise", "127.0.0.1"]);
    let outcome = sipp("uac_echo", &[&server.target(), "-s", "1000", "-d", "500"]);
    outcome.assert_ok(Some(&server));
    let messages =
        std::fs::read_to_string(outcome.out_dir.join("messages.log")).expect("SIPp's message log");
    assert!(messages.contains("SIP/2.0 200"), "{messages}");
    assert!(
        !messages.contains("0.0.0.0"),
        "an unspecified address went on the wire:\n{messages}"
    );
}

#[test]
fn echo_did_answers_100_calls_over_udp() {
    let server = Server::start();
    let outcome = sipp(
        "uac_echo",
        &[
            &server.target(),
            "-s",
            "1000",
            "-m",
            "100",
            "-r",
            "20",
            "-l",
            "100",
            "-d",
            "1000",
        ],
    );
    outcome.assert_ok(Some(&server));
    assert_eq!(outcome.successful, 100, "{}", outcome.screen);
}

#[test]
fn echo_did_answers_over_tcp() {
    let server = Server::start();
    let outcome = sipp(
        "uac_echo",
        &[
            &server.target(),
            "-t",
            "t1",
            "-s",
            "1000",
            "-m",
            "10",
            "-r",
            "10",
            "-d",
            "500",
        ],
    );
    outcome.assert_ok(Some(&server));
    assert_eq!(outcome.successful, 10, "{}", outcome.screen);
}

#[test]
fn register_with_digest_auth() {
    let server = Server::start();
    for user in ["1001", "1002"] {
        sipp(
            "register_auth",
            &[
                &server.target(),
                "-s",
                user,
                "-au",
                user,
                "-ap",
                server.password(user),
            ],
        )
        .assert_ok(Some(&server));
    }
}

#[test]
fn register_with_wrong_password_is_refused() {
    let server = Server::start();
    sipp(
        "register_wrong",
        &[&server.target(), "-s", "1001", "-au", "1001"],
    )
    .assert_ok(Some(&server));
}

#[test]
fn register_locks_out_after_five_failures() {
    let server = Server::start();
    sipp(
        "register_lockout",
        &[
            &server.target(),
            "-s",
            "1002",
            "-au",
            "1002",
            "-ap",
            server.password("1002"),
        ],
    )
    .assert_ok(Some(&server));
    // the other phone is not locked out
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
}

#[test]
fn hold_and_resume_with_reinvite() {
    let server = Server::start();
    sipp("uac_hold", &[&server.target(), "-s", "1000"]).assert_ok(Some(&server));
}

#[test]
fn late_offer_gets_offer_in_200_and_answer_in_ack() {
    let server = Server::start();
    sipp("late_offer", &[&server.target(), "-s", "1000"]).assert_ok(Some(&server));
}

#[test]
fn offer_without_g711_gets_488() {
    let server = Server::start();
    sipp("codec_488", &[&server.target(), "-s", "1000"]).assert_ok(Some(&server));
}

#[test]
fn unknown_method_gets_501() {
    let server = Server::start();
    sipp("unknown_method", &[&server.target(), "-s", "1000"]).assert_ok(Some(&server));
}

#[test]
fn max_forwards_zero_gets_483() {
    let server = Server::start();
    sipp("max_forwards", &[&server.target(), "-s", "1000"]).assert_ok(Some(&server));
}

#[test]
fn bye_outside_any_dialog_gets_481() {
    let server = Server::start();
    sipp("bye_unknown_dialog", &[&server.target(), "-s", "1000"]).assert_ok(Some(&server));
}

#[test]
fn call_to_unregistered_phone_gets_480() {
    let server = Server::start();
    sipp("uac_480", &[&server.target(), "-s", "1002"]).assert_ok(Some(&server));
}

/// Phone 1001 (a SIPp UAS) registers, rings, and the caller cancels.
#[test]
fn caller_cancels_while_phone_rings() {
    let server = Server::start();
    let phone_port = free_port();
    register_sipp_phone(&server, "1001", phone_port);
    let port = phone_port.to_string();
    let mut phone = spawn_sipp("uas_ring_1001", &["-p", &port, "-m", "1"]);
    phone.wait_listening(phone_port);
    let caller = sipp("uac_cancel", &[&server.target(), "-s", "1001"]);
    let phone = phone.wait();
    caller.assert_ok(Some(&server));
    phone.assert_ok(Some(&server));
}

/// Phone 1001 (a SIPp UAS echoing RTP) registers and answers; the caller
/// plays audio through the B2BUA and hangs up; the BYE reaches the phone.
#[test]
fn call_to_registered_phone_is_bridged() {
    call_echoing_phone_1001(&Server::start());
}

/// SIPp registers as 1001 and answers, echoing RTP; another SIPp calls
/// 1001 playing g711a.pcap for 3 s and hangs up. Both must succeed.
fn call_echoing_phone_1001(server: &Server) {
    let phone_port = free_port();
    register_sipp_phone(server, "1001", phone_port);
    let port = phone_port.to_string();
    let mut phone = spawn_sipp("uas_answer_1001", &["-p", &port, "-m", "1", "-rtp_echo"]);
    phone.wait_listening(phone_port);
    let caller = sipp("uac_echo", &[&server.target(), "-s", "1001", "-d", "3000"]);
    let phone = phone.wait();
    caller.assert_ok(Some(server));
    phone.assert_ok(Some(server));
}

/// The one file in the recordings directory.
fn only_recording(server: &Server) -> std::path::PathBuf {
    let recordings: Vec<_> = std::fs::read_dir(server.data_dir().join("recordings"))
        .expect("the recordings directory exists")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    assert_eq!(recordings.len(), 1, "{recordings:?}");
    recordings.into_iter().next().expect("one recording")
}

/// The audio of SIPp's g711a.pcap (30 ms A-law packets), decoded.
fn g711a_pcap_audio() -> Vec<i16> {
    let mut sent = Vec::new();
    for payload in
        harness::pcap_udp_payloads(std::path::Path::new("/usr/share/sip-tester/g711a.pcap"))
    {
        if let Ok(packet) = media::rtp::RtpPacket::parse(&payload) {
            let mut frame = [0i16; 480];
            let count =
                media::codec::g711::decode(media::codec::Codec::Pcma, packet.payload(), &mut frame);
            sent.extend_from_slice(&frame[..count]);
        }
    }
    sent
}

/// `record_calls = true`: a call to a phone (SIPp echoing the caller's
/// RTP back) leaves a stereo WAV with the caller on the left and the phone
/// on the right; both hold the pcap's audio.
#[test]
fn a_recorded_phone_call_has_the_caller_left_and_the_phone_right() {
    let config = temp_dir("record-calls").join("switchboard.toml");
    std::fs::write(&config, "record_calls = true\n").expect("write the config");
    let server = Server::start_with(&["--config", &config.display().to_string()]);
    call_echoing_phone_1001(&server);
    assert!(
        server.wait_for_log("recording finished", Duration::from_secs(5)),
        "{}",
        server.log()
    );
    let mut reader = hound::WavReader::open(only_recording(&server)).expect("a valid WAV file");
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|sample| sample.expect("a sample"))
        .collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let sent = g711a_pcap_audio();
    let (left_lag, left_match) = harness::best_alignment(&sent, &left, 1600..9600, 4000);
    let (right_lag, right_match) = harness::best_alignment(&sent, &right, 1600..9600, 4000);
    println!(
        "left: correlation {left_match:.3} at {left_lag}; right: {right_match:.3} at {right_lag}"
    );
    assert!(
        left_match > 0.95,
        "left (caller): {left_match:.3} at {left_lag}"
    );
    assert!(
        right_match > 0.9,
        "right (phone): {right_match:.3} at {right_lag}"
    );
    // On loopback the echo is back within a millisecond, so both usually
    // play out in the same tick; it can never come first. (That the right
    // channel is the other leg and not a copy of the left is checked by
    // the engine's unit test with different audio on each side.)
    assert!(
        right_lag >= left_lag,
        "the phone's echo came before the caller"
    );
}

/// DID 3000 records the caller until hang-up: SIPp plays g711a.pcap for
/// 3 s and hangs up; the recordings directory then holds one finished
/// 8 kHz WAV about as long as the call, with the caller's audio in it.
#[test]
fn record_did_leaves_a_finished_wav_as_long_as_the_call() {
    let server = Server::start();
    let caller = sipp("uac_echo", &[&server.target(), "-s", "3000", "-d", "3000"]);
    caller.assert_ok(Some(&server));
    assert!(
        server.wait_for_log("recording finished", std::time::Duration::from_secs(5)),
        "the recording was never finished:\n{}",
        server.log()
    );
    let mut reader = hound::WavReader::open(only_recording(&server)).expect("a valid WAV file");
    assert_eq!(reader.spec().sample_rate, 8000);
    assert_eq!(reader.spec().channels, 1);
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|sample| sample.expect("a sample"))
        .collect();
    let seconds = samples.len() as f64 / 8000.0;
    assert!(
        (2.5..4.5).contains(&seconds),
        "{seconds} s recorded for a 3 s call"
    );
    // The content is what SIPp sent: the A-law of g711a.pcap, decoded,
    // found in the recording after the jitter buffer's delay.
    let sent = g711a_pcap_audio();
    assert!(
        sent.len() > 3 * 8000,
        "g711a.pcap holds {} samples",
        sent.len()
    );
    // Two seconds from 0.2 s into the call, anywhere within the first
    // half second of the recording (set-up and buffering delay).
    let (lag, correlation) = harness::best_alignment(&sent, &samples, 1600..17_600, 4000);
    println!("recording matches what was sent: correlation {correlation:.4} at {lag} samples");
    assert!(
        correlation > 0.95,
        "the recording does not hold what was sent: best correlation {correlation:.3} at {lag} samples"
    );
}

/// A number that is not ours goes out through the configured trunk; the
/// trunk's challenge is answered with digest credentials, the new INVITE's
/// 200 is ACKed with its CSeq, and the caller's BYE reaches the trunk.
fn call_out_through_trunk(trunk_scenario: &str) {
    let trunk_port = free_port();
    let config_dir = temp_dir("switchboard-trunk");
    let config = config_dir.join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[trunk]\naddress = \"127.0.0.1:{trunk_port}\"\nusername = \"acme\"\npassword = \"s3cret\"\n"
        ),
    )
    .expect("write the config file");
    let server = Server::start_with(&["--config", config.to_str().expect("UTF-8 path")]);
    let port = trunk_port.to_string();
    let mut trunk = spawn_sipp(trunk_scenario, &["-p", &port, "-m", "1", "-rtp_echo"]);
    trunk.wait_listening(trunk_port);
    let caller = sipp(
        "uac_echo",
        &[&server.target(), "-s", "5551234", "-d", "2000"],
    );
    let trunk = trunk.wait();
    caller.assert_ok(Some(&server));
    trunk.assert_ok(Some(&server));
    // Dialled numbers are logged at debug level only (the server runs at info).
    let log = server.log();
    assert!(
        !log.contains("5551234"),
        "the dialled number appears in the info log:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&config_dir);
}

/// 401 from the trunk: SIPp's verifyauth checks the digest itself.
#[test]
fn trunk_401_is_answered_with_verified_credentials() {
    call_out_through_trunk("uas_trunk_401");
}

/// 407 from the trunk: answered with Proxy-Authorization.
#[test]
fn trunk_407_is_answered_with_proxy_authorization() {
    call_out_through_trunk("uas_trunk_407");
}

/// SIGTERM during a bridged call: the server ends both legs with BYE (the
/// phone's scenario completes only if its BYE arrives) and exits 0.
#[test]
fn sigterm_ends_a_bridged_call_with_bye_to_the_phone() {
    let mut server = Server::start();
    let phone_port = free_port();
    register_sipp_phone(&server, "1001", phone_port);
    let port = phone_port.to_string();
    let mut phone = spawn_sipp("uas_answer_1001", &["-p", &port, "-m", "1", "-rtp_echo"]);
    phone.wait_listening(phone_port);
    let _caller = spawn_sipp("uac_echo", &[&server.target(), "-s", "1001", "-d", "20000"]);
    assert!(
        server.wait_for_log(
            "phone answered; bridging",
            std::time::Duration::from_secs(10)
        ),
        "the call was never bridged:\n{}",
        server.log()
    );
    let status = server.terminate().expect("the server exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    phone.wait().assert_ok(None);
}

/// SIGTERM while DID 3000 records: the server ends the call and finishes
/// the WAV before it exits, so the file's header agrees with its data and
/// it holds the call up to the signal.
#[test]
fn sigterm_during_a_recording_leaves_a_finished_wav() {
    let mut server = Server::start();
    let _caller = spawn_sipp("uac_echo", &[&server.target(), "-s", "3000", "-d", "20000"]);
    assert!(
        server.wait_for_log("answering and recording", Duration::from_secs(10)),
        "the call was never answered:\n{}",
        server.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    let status = server.terminate().expect("the server exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        server.log().contains("recording finished"),
        "{}",
        server.log()
    );
    let recording = only_recording(&server);
    let file_length = std::fs::metadata(&recording).expect("the file").len();
    let reader = hound::WavReader::open(&recording).expect("a valid WAV file");
    let samples = u64::from(reader.len());
    // A finished file: the header counts every sample written (44-byte
    // header, 16-bit mono).
    assert_eq!(44 + 2 * samples, file_length, "header and data disagree");
    let seconds = samples as f64 / 8000.0;
    assert!((1.5..3.5).contains(&seconds), "{seconds} s recorded");
}

/// DID 4000: SIPp presses 1 5 9 * # 0 as RFC 4733 events (its dtmf_2833
/// captures); the test's own receiver, on SIPp's media port, must get each
/// digit back as telephone-events exactly once, each with an end packet,
/// in order, and after each the digit spoken (audio with speech energy).
#[test]
fn digit_echo_did_sends_each_digit_back_once_and_speaks_it() {
    use media::codec::{Codec, g711};
    use media::rtp::RtpPacket;
    let server = Server::start();
    let media_port = free_port();
    let sniffer = UdpSniffer::start(media_port..=media_port);
    let outcome = sipp(
        "uac_digit_echo",
        &[
            &server.target(),
            "-s",
            "4000",
            "-mp",
            &media_port.to_string(),
        ],
    );
    let seen = sniffer.finish();
    outcome.assert_ok(Some(&server));

    // Telephone-events by event (their timestamp), in order of arrival.
    let mut events: Vec<(u32, u8, std::time::Duration, bool)> = Vec::new();
    // Audio packets: arrival and RMS.
    let mut audio: Vec<(std::time::Duration, f64)> = Vec::new();
    // Only what this test's server sent (tests run at the same time).
    let (rtp_low, rtp_high) = server.rtp_ports();
    for datagram in &seen {
        if !(rtp_low..=rtp_high).contains(&datagram.source_port) {
            continue;
        }
        let Ok(packet) = RtpPacket::parse(&datagram.payload) else {
            continue;
        };
        let header = packet.header();
        match header.payload_type.get() {
            101 => {
                let payload = packet.payload();
                let end = payload[1] & 0x80 != 0;
                match events
                    .iter_mut()
                    .find(|event| event.0 == header.timestamp.get())
                {
                    Some(event) => {
                        assert_eq!(event.1, payload[0], "one event changed its digit");
                        event.3 |= end;
                    }
                    None => events.push((header.timestamp.get(), payload[0], datagram.at, end)),
                }
            }
            type_ @ (0 | 8) => {
                let codec = if type_ == 0 { Codec::Pcmu } else { Codec::Pcma };
                let mut samples = [0i16; 160];
                let count = g711::decode(codec, packet.payload(), &mut samples);
                audio.push((datagram.at, harness::rms(&samples[..count])));
            }
            _ => {}
        }
    }
    let digits: Vec<u8> = events.iter().map(|event| event.1).collect();
    // 1, 5, 9, * (10), # (11), 0.
    assert_eq!(
        digits,
        vec![1, 5, 9, 10, 11, 0],
        "digits echoed (event codes)\n{}",
        server.log()
    );
    assert!(
        events.iter().all(|event| event.3),
        "an echoed digit never ended"
    );
    // Each digit is spoken: within a second of its echo, at least 200 ms
    // of audio well above silence.
    for (_, digit, at, _) in &events {
        let spoken = audio
            .iter()
            .filter(|(when, level)| {
                *when > *at && *when < *at + Duration::from_secs(1) && *level > 0.02
            })
            .count();
        assert!(
            spoken >= 10,
            "digit {digit}: only {spoken} loud audio packets after its echo"
        );
    }
}
