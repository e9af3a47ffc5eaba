//! A real softphone against `switchboard`: two baresip instances register
//! as 1001 and 1002 with the demo credentials (digest auth, UDP, loopback);
//! 1002 calls 1001, which answers by itself; each sends a tone from a WAV
//! file (1002: 1000 Hz, 1001: 440 Hz) and records what it receives (the
//! sndfile module). The test checks each recording holds the other's tone.
//!
//! Needs `baresip` 1.0 (Debian `baresip`) with its g711, aufile, aubridge,
//! sndfile and menu modules. Nothing touches a sound card: the player is the
//! aubridge null device.

#![allow(clippy::disallowed_methods)]

#[path = "../../conformance/harness.rs"]
mod harness;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use harness::{
    Server, UdpSniffer, dominant_frequency, free_port_block, read_wav, require_tool, rms,
    stop_child, temp_dir, wait_child, write_tone_wav,
};

/// One baresip instance with its own config dir.
struct Phone {
    user: &'static str,
    dir: PathBuf,
    child: Child,
    /// Its RTP ports.
    rtp: std::ops::RangeInclusive<u16>,
}

impl Phone {
    /// Writes `dir/config` and `dir/accounts` and starts baresip as `user`
    /// sending a `tone_hz` tone, running `commands`, quitting by itself
    /// after `quit_after` seconds. It registers when `register` (else it
    /// dials without: `regint=0`, no password; calls to DIDs are not
    /// challenged), listens on the UDP console `console` when given, and
    /// offers `codecs` (baresip names: `PCMU,PCMA`, `G722/16000/1`).
    #[allow(clippy::too_many_arguments)]
    fn launch(
        server: &Server,
        user: &'static str,
        tone_hz: f64,
        quit_after: u32,
        commands: &[String],
        register: bool,
        console: Option<u16>,
        codecs: &str,
    ) -> Phone {
        let dir = temp_dir(&format!("baresip-{user}"));
        let tone = dir.join("tone.wav");
        write_tone_wav(&tone, tone_hz, 30.0, 8000);
        let recordings = dir.join("recordings");
        fs::create_dir_all(&recordings).expect("recordings dir");
        // baresip listens on the SIP port and on port+1 (TLS), UDP and TCP
        let sip_port = free_port_block(2);
        let rtp = free_port_block(20);
        let mut config = baresip_config(sip_port, (rtp, rtp + 19), &tone, &recordings);
        if let Some(port) = console {
            config.push_str(&format!(
                "module\t\t\tcons.so\ncons_listen\t\t127.0.0.1:{port}\n"
            ));
        }
        fs::write(dir.join("config"), config).expect("write config");
        let account = if register {
            format!(
                "<sip:{user}@{server}>;auth_pass={pass};answermode=auto;regint=600;\
                 audio_codecs={codecs}\n",
                server = server.sip_addr(),
                pass = server.password(user),
            )
        } else {
            format!(
                "<sip:{user}@{server}>;answermode=auto;regint=0;audio_codecs={codecs}\n",
                server = server.sip_addr(),
            )
        };
        fs::write(dir.join("accounts"), account).expect("write accounts");
        let log = fs::File::create(dir.join("baresip.log")).expect("baresip log");
        let mut command = Command::new("baresip");
        command
            .arg("-4")
            .arg("-f")
            .arg(&dir)
            .arg("-t")
            .arg(quit_after.to_string());
        for c in commands {
            command.arg("-e").arg(c);
        }
        let child = command
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start baresip");
        Phone {
            user,
            dir,
            child,
            rtp: rtp..=rtp + 19,
        }
    }

    fn log(&self) -> String {
        // the statistics line is redrawn with \r: keep the log readable
        fs::read_to_string(self.dir.join("baresip.log"))
            .unwrap_or_default()
            .replace('\r', "\n")
    }

    /// Waits for "200 OK" to the REGISTER (baresip prints the binding count).
    fn wait_registered(&mut self, server: &Server, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let log = self.log();
            if log
                .lines()
                .any(|l| l.contains("200 OK") && l.contains("binding"))
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("baresip {} exited ({status}):\n{log}", self.user);
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "baresip {} did not register within {timeout:?}:\n{}\n---- server ----\n{}",
            self.user,
            self.log(),
            server.log()
        );
    }

    /// The recording of what this phone received (`dump-*-dec.wav`).
    fn received_audio(&self) -> Option<PathBuf> {
        fs::read_dir(self.dir.join("recordings"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().ends_with("-dec.wav"))
                    .unwrap_or(false)
            })
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "---- baresip {} log ({}) ----\n{}",
                self.user,
                self.dir.display(),
                self.log()
            );
        }
        stop_child(&mut self.child, Duration::from_secs(3));
        if !harness::keep_output() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// baresip 1.0 configuration: loopback only, G.711, G.722 and Opus
/// (each account picks with `audio_codecs`), a WAV file as
/// microphone, the aubridge null device as speaker, sndfile recording
/// both directions into `recordings`.
fn baresip_config(sip_port: u16, rtp: (u16, u16), tone: &Path, recordings: &Path) -> String {
    format!(
        "poll_method\t\tepoll\n\
         sip_listen\t\t127.0.0.1:{sip_port}\n\
         net_interface\t\t127.0.0.1\n\
         call_local_timeout\t30\n\
         call_max_calls\t\t4\n\
         audio_player\t\taubridge,nil\n\
         audio_source\t\taufile,{tone}\n\
         audio_alert\t\taubridge,nil\n\
         ausrc_srate\t\t8000\n\
         auplay_srate\t\t8000\n\
         ausrc_channels\t\t1\n\
         auplay_channels\t\t1\n\
         audio_buffer\t\t20-160\n\
         rtp_ports\t\t{lo}-{hi}\n\
         rtcp_mux\t\tno\n\
         jitter_buffer_delay\t1-10\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\tg722.so\n\
         module\t\t\topus.so\n\
         module\t\t\taufile.so\n\
         module\t\t\taubridge.so\n\
         module\t\t\tsndfile.so\n\
         module_tmp\t\taccount.so\n\
         module_app\t\tmenu.so\n\
         snd_path\t\t{recordings}\n",
        tone = tone.display(),
        lo = rtp.0,
        hi = rtp.1,
        recordings = recordings.display(),
    )
}

/// Checks that `phone` received a tone near `expected_hz`.
fn assert_received_tone(phone: &Phone, expected_hz: f64) -> String {
    let (path, rate, samples) = received(phone);
    let second = rate as usize;
    assert!(
        samples.len() >= 3 * second,
        "baresip {}: only {} samples in {}",
        phone.user,
        samples.len(),
        path.display()
    );
    // skip the first second (call set-up, jitter buffer filling)
    let window = &samples[second..samples.len().min(4 * second)];
    let level = rms(window);
    let found = dominant_frequency(window, rate);
    assert!(
        level > 0.05,
        "baresip {}: received audio is (nearly) silent, RMS {level:.4} in {}",
        phone.user,
        path.display()
    );
    assert!(
        (found - expected_hz).abs() <= expected_hz * 0.03,
        "baresip {}: dominant frequency {found} Hz, expected {expected_hz} Hz ({})",
        phone.user,
        path.display()
    );
    format!("{}: {found} Hz at RMS {level:.3}", phone.user)
}

#[test]
fn two_baresip_phones_talk_through_switchboard() {
    require_tool("baresip", "baresip");
    two_phones_talk(&Server::start());
}

/// The same call with `mix_bridges = true`: the legs are decoded, mixed
/// and encoded on every tick instead of relayed.
#[test]
fn two_baresip_phones_talk_through_a_mixed_bridge() {
    require_tool("baresip", "baresip");
    let config = temp_dir("mixed-bridges").join("switchboard.toml");
    fs::write(&config, "mix_bridges = true\n").expect("write the config");
    let server = Server::start_with(&["--config", &config.display().to_string()]);
    two_phones_talk(&server);
    assert!(server.log().contains("mixed=true"), "{}", server.log());
}

/// 1002 calls 1001; each must hear the other's tone.
fn two_phones_talk(server: &Server) {
    two_phones_talk_with(server, "PCMU,PCMA", "PCMU,PCMA");
}

/// A G.722 phone calls a G.711 one: the switch cannot relay between the
/// two codecs, so it mixes the call (G.722 decoded and encoded).
#[test]
fn a_g722_phone_talks_to_a_g711_phone_through_a_mix() {
    require_tool("baresip", "baresip");
    let server = Server::start();
    two_phones_talk_with(&server, "G722/16000/1", "PCMU");
    let log = server.log();
    assert!(log.contains("mixed=true"), "{log}");
}

/// Two G.722 phones: relayed packet by packet, wideband kept.
#[test]
fn two_g722_phones_are_relayed() {
    require_tool("baresip", "baresip");
    let server = Server::start();
    two_phones_talk_with(&server, "G722/16000/1", "G722/16000/1");
    let log = server.log();
    assert!(log.contains("mixed=false"), "{log}");
}

/// Two Opus phones: relayed packet by packet.
#[cfg(feature = "opus")]
#[test]
fn two_opus_phones_are_relayed() {
    require_tool("baresip", "baresip");
    let server = Server::start();
    two_phones_talk_with(&server, "opus/48000/2", "opus/48000/2");
    let log = server.log();
    assert!(log.contains("mixed=false"), "{log}");
}

/// An Opus phone calls a G.711 one: Opus is decoded and encoded at 8 kHz
/// in a mix.
#[cfg(feature = "opus")]
#[test]
fn an_opus_phone_talks_to_a_g711_phone_through_a_mix() {
    require_tool("baresip", "baresip");
    let server = Server::start();
    two_phones_talk_with(&server, "opus/48000/2", "PCMU");
    let log = server.log();
    assert!(log.contains("mixed=true"), "{log}");
}

/// 1002 (offering `caller_codecs`) calls 1001 (taking `callee_codecs`);
/// each must hear the other's tone.
fn two_phones_talk_with(server: &Server, caller_codecs: &str, callee_codecs: &str) {
    // 1001 answers; it must be registered before 1002 calls
    let mut callee = Phone::launch(server, "1001", 440.0, 25, &[], true, None, callee_codecs);
    callee.wait_registered(server, Duration::from_secs(10));

    // 1002 dials at start-up (INVITEs to phones are not challenged) and
    // quits after 12 s, hanging up
    let dial = format!("/dial sip:1001@{}", server.sip_addr());
    let mut caller = Phone::launch(
        server,
        "1002",
        1000.0,
        12,
        &[dial],
        true,
        None,
        caller_codecs,
    );
    caller.wait_registered(server, Duration::from_secs(10));

    let caller_exit = wait_child(&mut caller.child, Duration::from_secs(20));
    assert!(caller_exit.is_some(), "baresip 1002 did not quit by itself");
    // the hang-up must reach 1001 through the server; give it a moment,
    // then let 1001 finish its recording
    thread::sleep(Duration::from_secs(1));
    stop_child(&mut callee.child, Duration::from_secs(5));

    let callee_log = callee.log();
    assert!(
        callee_log.contains("Call established"),
        "1001 never answered:\n{callee_log}\n---- server ----\n{}",
        server.log()
    );
    // Each phone used the codec it was limited to.
    for (phone, codecs) in [(&caller, caller_codecs), (&callee, callee_codecs)] {
        let name = codecs.split(['/', ',']).next().unwrap_or_default();
        assert!(
            phone.log().contains(&format!("Set audio encoder: {name}")),
            "baresip {} did not send {name}",
            phone.user
        );
    }
    let a = assert_received_tone(&callee, 1000.0);
    let b = assert_received_tone(&caller, 440.0);
    println!("{a}\n{b}");
}

/// The power of `frequency` in `samples` between `from` and `to` seconds.
fn tone_power(samples: &[i16], rate: u32, from: f64, to: f64, frequency: f64) -> f64 {
    let start = ((from * f64::from(rate)) as usize).min(samples.len());
    let end = ((to * f64::from(rate)) as usize).min(samples.len());
    harness::goertzel_power(&samples[start..end], rate, frequency)
}

/// What `phone` received: (its recording, rate, samples).
fn received(phone: &Phone) -> (PathBuf, u32, Vec<i16>) {
    let path = phone
        .received_audio()
        .unwrap_or_else(|| panic!("baresip {} recorded nothing", phone.user));
    let (rate, samples) = read_wav(&path).unwrap_or_else(|e| panic!("{e}"));
    (path, if rate == 0 { 8000 } else { rate }, samples)
}

/// Waits until `phone`'s log says its call is up.
fn wait_established(phone: &Phone, server: &Server, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if phone.log().contains("Call established") {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "baresip {}: no call within {timeout:?}:\n{}\n---- server ----\n{}",
        phone.user,
        phone.log(),
        server.log()
    );
}

/// DID 2000: three phones call the conference room, each sending its own
/// tone. Each must hear the other two tones and not its own (mix-minus).
#[test]
fn three_baresip_phones_in_the_conference_hear_each_other_but_not_themselves() {
    require_tool("baresip", "baresip");
    let server = Server::start();
    let room = format!("/dial sip:2000@{}", server.sip_addr());
    let tones = [("conf-a", 440.0), ("conf-b", 1000.0), ("conf-c", 1600.0)];
    let mut phones: Vec<Phone> = tones
        .iter()
        .map(|(user, hz)| {
            let phone = Phone::launch(
                &server,
                user,
                *hz,
                12,
                std::slice::from_ref(&room),
                false,
                None,
                "PCMU,PCMA",
            );
            thread::sleep(Duration::from_millis(300));
            phone
        })
        .collect();
    for phone in &mut phones {
        let exit = wait_child(&mut phone.child, Duration::from_secs(20));
        assert!(
            exit.is_some(),
            "baresip {} did not quit by itself",
            phone.user
        );
    }
    let mut report = Vec::new();
    for (phone, (_, own)) in phones.iter().zip(tones) {
        let (_, rate, samples) = received(phone);
        // Everyone has joined after about a second; look at 3 s to 8 s of
        // each phone's call.
        let (from, to) = (3.0, 8.0);
        let own_power = tone_power(&samples, rate, from, to, own);
        let others: Vec<(f64, f64)> = tones
            .iter()
            .filter(|(_, hz)| *hz != own)
            .map(|(_, hz)| (*hz, tone_power(&samples, rate, from, to, *hz)))
            .collect();
        report.push(format!(
            "{}: own {own} Hz {own_power:.2e}, others {others:?}",
            phone.user
        ));
        for (hz, power) in &others {
            assert!(
                *power > 1e-3 && *power > 100.0 * own_power,
                "{} hears {hz} Hz at {power:.2e} and itself ({own} Hz) at {own_power:.2e}\n{}\n---- server ----\n{}",
                phone.user,
                report.join("\n"),
                server.log()
            );
        }
    }
    println!("{}", report.join("\n"));
}

/// Two phones in a call through the switch: the caller puts the call on
/// hold (re-INVITE, sendonly) and resumes it. On hold the callee hears
/// hold music instead of the caller; after the resume both hear each other
/// again.
#[test]
fn a_call_between_two_baresip_phones_keeps_flowing_after_hold_and_resume() {
    require_tool("baresip", "baresip");
    hold_and_resume(false);
}

/// The same with the callee holding: its re-INVITE is answered from its
/// own leg's media, and the caller hears the music.
#[test]
fn a_call_keeps_flowing_after_the_callee_holds_and_resumes() {
    require_tool("baresip", "baresip");
    hold_and_resume(true);
}

/// 1002 (1000 Hz) calls 1001 (440 Hz); one of them (the callee when
/// `callee_holds`) holds 5 s into the call and resumes at 9 s.
fn hold_and_resume(callee_holds: bool) {
    let server = Server::start();
    let console = harness::free_port();
    let callee_console = callee_holds.then_some(console);
    let caller_console = (!callee_holds).then_some(console);
    let mut callee = Phone::launch(
        &server,
        "1001",
        440.0,
        30,
        &[],
        true,
        callee_console,
        "PCMU",
    );
    callee.wait_registered(&server, Duration::from_secs(10));
    let dial = format!("/dial sip:1001@{}", server.sip_addr());
    let mut caller = Phone::launch(
        &server,
        "1002",
        1000.0,
        17,
        &[dial],
        true,
        caller_console,
        "PCMU",
    );
    let (holder_hz, listener_hz) = if callee_holds {
        (440.0, 1000.0)
    } else {
        (1000.0, 440.0)
    };
    // baresip stops writing what it receives once it has held a call, so
    // what reaches the holding phone is taken off the wire.
    let sniffing = Instant::now();
    let holder_ports = if callee_holds {
        callee.rtp.clone()
    } else {
        caller.rtp.clone()
    };
    let sniffer = UdpSniffer::start(holder_ports);
    wait_established(&caller, &server, Duration::from_secs(10));
    let established = Instant::now();
    let command = |text: &str, at: f64| {
        thread::sleep(
            (established + Duration::from_secs_f64(at)).saturating_duration_since(Instant::now()),
        );
        std::net::UdpSocket::bind("127.0.0.1:0")
            .expect("a console socket")
            .send_to(text.as_bytes(), ("127.0.0.1", console))
            .expect("send to the baresip console");
    };
    command("/hold\n", 5.0);
    command("/resume\n", 9.0);
    let exit = wait_child(&mut caller.child, Duration::from_secs(25));
    assert!(exit.is_some(), "baresip 1002 did not quit by itself");
    let to_holder = sniffer.finish();
    thread::sleep(Duration::from_secs(1));
    stop_child(&mut callee.child, Duration::from_secs(5));
    let log = server.log();
    assert!(log.contains("call on hold"), "no hold seen:\n{log}");
    assert!(log.contains("call resumed"), "no resume seen:\n{log}");

    let listener = if callee_holds { &caller } else { &callee };
    let (_, rate, at_listener) = received(listener);
    let holder_tone = |from, to| tone_power(&at_listener, rate, from, to, holder_hz);
    // What reached the holder between two moments of its call: µ-law
    // audio decoded in arrival order.
    let offset = established.duration_since(sniffing).as_secs_f64();
    // Only what this test's server sent: other tests run at the same time
    // and their phones' port blocks may overlap this one's.
    let (rtp_low, rtp_high) = server.rtp_ports();
    // Packets, not one stream: should the sniffer miss some under load,
    // the tone is still judged on each 20 ms it did see.
    let holder_heard = |from: f64, to: f64| -> Vec<Vec<i16>> {
        let mut packets = Vec::new();
        for datagram in &to_holder {
            let at = datagram.at.as_secs_f64() - offset;
            if at < from || at >= to || !(rtp_low..=rtp_high).contains(&datagram.source_port) {
                continue;
            }
            if let Ok(packet) = media::rtp::RtpPacket::parse(&datagram.payload)
                && packet.header().payload_type.get() == 0
            {
                let mut frame = [0i16; 160];
                let count = media::codec::g711::decode(
                    media::codec::Codec::Pcmu,
                    packet.payload(),
                    &mut frame,
                );
                packets.push(frame[..count].to_vec());
            }
        }
        packets
    };
    let listener_tone = |from, to| {
        let packets = holder_heard(from, to);
        let total: f64 = packets
            .iter()
            .map(|packet| harness::goertzel_power(packet, 8000, listener_hz))
            .sum();
        total / packets.len().max(1) as f64
    };
    let on_hold = &at_listener[(6.0 * f64::from(rate)) as usize..(8.5 * f64::from(rate)) as usize];
    let report = format!(
        "{} hears {holder_hz} Hz: before {:.2e}, on hold {:.2e}, after {:.2e}; on-hold RMS {:.3}\n\
         holder hears {listener_hz} Hz: before {:.2e} ({} packets), after {:.2e} ({} packets); \
         {} packets sent to it on hold",
        listener.user,
        holder_tone(1.5, 4.5),
        holder_tone(6.0, 8.5),
        holder_tone(10.5, 14.0),
        rms(on_hold),
        listener_tone(1.5, 4.5),
        holder_heard(1.5, 4.5).len(),
        listener_tone(10.5, 14.0),
        holder_heard(10.5, 14.0).len(),
        holder_heard(6.0, 8.5).len(),
    );
    assert!(holder_tone(1.5, 4.5) > 1e-2, "{report}\n{log}");
    assert!(listener_tone(1.5, 4.5) > 1e-2, "{report}\n{log}");
    // On hold: the other phone hears music, not the holder; the holder
    // is sent nothing (it asked to only send).
    assert!(holder_tone(6.0, 8.5) < 1e-4, "{report}\n{log}");
    assert!(rms(on_hold) > 0.01, "no hold music: {report}\n{log}");
    assert!(holder_heard(6.0, 8.5).is_empty(), "{report}\n{log}");
    // Resumed: both ways again.
    assert!(holder_tone(10.5, 14.0) > 1e-2, "{report}\n{log}");
    assert!(listener_tone(10.5, 14.0) > 1e-2, "{report}\n{log}");
    println!("{report}");
}

/// How much of the audio between `from` and `to` seconds is the test's
/// tones (the phones' 440 and 1000 Hz, ringback's 440 and 480 Hz): near 1
/// for tones, far below for speech; and its RMS.
fn tonal_share(samples: &[i16], rate: u32, from: f64, to: f64) -> (f64, f64) {
    let start = ((from * f64::from(rate)) as usize).min(samples.len());
    let end = ((to * f64::from(rate)) as usize).min(samples.len());
    let level = rms(&samples[start..end]);
    // A sine of amplitude A has RMS² A²/2 and Goertzel power A²/4.
    let tones: f64 = [440.0, 480.0, 1000.0]
        .iter()
        .map(|frequency| tone_power(samples, rate, from, to, *frequency))
        .sum();
    (2.0 * tones / (level * level).max(1e-12), level)
}

/// A flow dials phone 1001 with a whisper (the bundled greeting, 2.5 s of
/// speech): baresip 1001 hears the whisper first and only then the caller;
/// the caller (baresip 1002, dialling the flow's DID) hears ringback and
/// then 1001, never the whisper.
#[test]
fn a_dial_whisper_is_heard_by_the_answering_phone_only() {
    require_tool("baresip", "baresip");
    let server = Server::start();
    let admin = server.admin_token();
    let (status, flow) = server.http(
        "POST",
        "/api/v1/flows",
        Some(&admin),
        Some(
            r#"{"name": "whisper", "document": {"verbs": [
                {"verb": "answer"},
                {"verb": "dial", "target": {"phone": "1001"},
                 "whisper": [{"verb": "play", "prompt": "en/greeting"}]}]}}"#,
        ),
    );
    assert_eq!(status, 201, "{flow}");
    let flow_id = flow
        .split("\"id\":")
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .unwrap()
        .to_string();
    let (status, did) = server.http(
        "POST",
        "/api/v1/dids",
        Some(&admin),
        Some(&format!(
            r#"{{"number": "7900", "account_id": 1, "answered_by": {{"type": "flow", "flow_id": {flow_id}}}}}"#
        )),
    );
    assert_eq!(status, 201, "{did}");

    let mut callee = Phone::launch(&server, "1001", 440.0, 25, &[], true, None, "PCMU");
    callee.wait_registered(&server, Duration::from_secs(10));
    let dial = format!("/dial sip:7900@{}", server.sip_addr());
    let mut caller = Phone::launch(&server, "1002", 1000.0, 12, &[dial], false, None, "PCMU");
    let caller_exit = wait_child(&mut caller.child, Duration::from_secs(20));
    assert!(caller_exit.is_some(), "baresip 1002 did not quit by itself");
    thread::sleep(Duration::from_secs(1));
    stop_child(&mut callee.child, Duration::from_secs(5));

    let (_, rate, heard_by_callee) = received(&callee);
    let (_, caller_rate, heard_by_caller) = received(&caller);
    // The callee: the whisper's speech first (loud, not tones), without
    // the caller's tone; then the caller's tone.
    let (share, level) = tonal_share(&heard_by_callee, rate, 0.3, 2.2);
    assert!(
        level > 0.02 && share < 0.3,
        "the callee heard no speech first (RMS {level:.3}, tonal share {share:.2})\n{}",
        server.log()
    );
    let early = tone_power(&heard_by_callee, rate, 0.3, 2.2, 1000.0);
    let later = tone_power(&heard_by_callee, rate, 4.0, 7.0, 1000.0);
    assert!(
        later > 100.0 * early,
        "the callee should hear the caller after the whisper, not during it \
         (1000 Hz: {early:.2e} during, {later:.2e} after)\n{}",
        server.log()
    );
    // The caller: ringback, then the callee's tone; never speech.
    let seconds = heard_by_caller.len() as f64 / f64::from(caller_rate);
    let mut from = 0.0;
    while from + 0.5 <= seconds {
        let (share, level) = tonal_share(&heard_by_caller, caller_rate, from, from + 0.5);
        assert!(
            level < 0.01 || share > 0.6,
            "the caller heard something besides tones at {from:.1} s (RMS {level:.3}, tonal share {share:.2})\n{}",
            server.log()
        );
        from += 0.5;
    }
    assert!(
        tone_power(&heard_by_caller, caller_rate, 0.0, seconds, 440.0) > 0.001,
        "the caller never heard the callee\n{}",
        server.log()
    );
}
