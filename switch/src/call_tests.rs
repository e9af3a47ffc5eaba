//! Whole calls through call control on a fake clock ([`crate::testing`]):
//! real SIP between the switch's endpoint and scripted user agents on a
//! simulated network (1 ms each way), the fake media port, and exact
//! record intervals. Messages take 1 ms, so a caller's INVITE sent at
//! `t` starts the call at `t + 1 ms`.

use crate::cdr::{Cdr, Direction, HungUpBy};
use crate::control::{Command, ControlError, Destination, DirectoryChange, Origination, Reply};
use crate::fake_media::FakeRouting;
use crate::media_port::{ChannelId, Channels, MediaEventKind, MixId};
use crate::route::did::{CallsLimit, DidRoute};
use crate::route::{FlowSource, Route};
use crate::testing::{ALICE, BOB, CAROL, Harness};
use media::channel::{ChannelEvent, DigitSource};
use media::dtmf::Digit;
use media::mixer::Role;
use media::player::{Playable, PlayerEvent};
use sip_core::message::Method;
use std::sync::Arc;
use std::time::Duration;

/// Asserts two record intervals are equal to the microsecond.
#[track_caller]
fn assert_seconds(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-6,
        "{actual} s, expected {expected} s"
    );
}

/// The one record of call `call_id`.
#[track_caller]
fn record<'a>(harness: &'a Harness, call_id: &str) -> &'a Cdr {
    let records: Vec<&Cdr> = harness
        .cdrs()
        .into_iter()
        .filter(|cdr| cdr.call_id == call_id)
        .collect();
    assert_eq!(records.len(), 1, "one record for {call_id}");
    records[0]
}

/// The open channels whose routing is `routing`.
fn channels_routed(harness: &Harness, routing: FakeRouting) -> Vec<ChannelId> {
    harness
        .media
        .state()
        .channels
        .iter()
        .filter(|(_, channel)| channel.routing == routing)
        .map(|(id, _)| *id)
        .collect()
}

/// The first channel opened that is still open: the first caller's.
fn first_channel(harness: &Harness) -> ChannelId {
    *harness
        .media
        .state()
        .channels
        .keys()
        .next()
        .expect("a channel")
}

/// A phone call from Alice to Bob (1001), answered after `ringing`.
fn phone_call(harness: &mut Harness, call_id: &str, ringing: Duration) -> crate::testing::Outgoing {
    harness.register(BOB, "1001");
    let mut call = harness.invite(ALICE, "1001", call_id, true);
    harness.run_for(ringing);
    let mut incoming = harness.incoming(BOB).expect("Bob's phone rings");
    harness.answer(BOB, &mut incoming);
    harness.run_for(Duration::from_millis(100));
    assert_eq!(harness.final_status(ALICE, &mut call), Some(200));
    call
}

#[test]
fn an_echo_call_is_answered_echoed_and_recorded_to_the_millisecond() {
    let mut harness = Harness::new();
    let mut call = harness.invite(ALICE, "1000", "echo-1", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(ALICE, &mut call), Some(200));
    let echoing = channels_routed(&harness, FakeRouting::Echo);
    assert_eq!(echoing.len(), 1, "the caller's channel echoes");
    harness.run_for(Duration::from_secs(9));
    let mut dialog = call.dialog.take().expect("answered");
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    let cdr = record(&harness, "echo-1");
    assert_eq!(cdr.route, "echo");
    assert_eq!(cdr.sip_status, 200);
    assert_eq!(cdr.hung_up_by, HungUpBy::Caller);
    assert_eq!(cdr.direction, Direction::Inbound);
    // Answered on arrival (1 ms), ended when the BYE arrived (10 s + 1 ms).
    assert_seconds(cdr.talk_seconds, 10.0);
    assert_seconds(cdr.connection_seconds, 10.0);
    assert_seconds(cdr.wait_seconds + cdr.ivr_seconds + cdr.hold_seconds, 0.0);
    assert!(harness.media.state().channels.is_empty(), "media closed");
    assert!(harness.switch.is_idle());
}

#[test]
fn a_phone_call_rings_bridges_and_times_waiting_and_talk() {
    let mut harness = Harness::new();
    let mut call = phone_call(&mut harness, "p2p-1", Duration::from_secs(3));
    let bridged = harness
        .media
        .state()
        .channels
        .values()
        .filter(|channel| matches!(channel.routing, FakeRouting::Bridge(_)))
        .count();
    assert_eq!(bridged, 2, "the two legs are relayed to each other");
    assert!(
        harness
            .events()
            .iter()
            .any(|event| matches!(event, crate::CallEvent::CallBridged { .. }))
    );
    harness.run_for(Duration::from_secs(20) - Duration::from_millis(100));
    let mut dialog = call.dialog.take().expect("answered");
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.accept_requests(BOB), vec![Method::Bye]);
    let cdr = record(&harness, "p2p-1");
    assert_eq!(cdr.route, "phone");
    assert_eq!(cdr.hung_up_by, HungUpBy::Caller);
    // Rang from 1 ms (the INVITE's arrival) to 3 s + 1 ms (the 200's).
    assert_seconds(cdr.wait_seconds, 3.0);
    assert_seconds(cdr.talk_seconds, 20.0);
    assert!(cdr.agent_answer_time.is_some());
    assert!(harness.switch.is_idle());
}

#[test]
fn a_caller_who_cancels_while_the_phone_rings_leaves_a_487_record() {
    let mut harness = Harness::new();
    harness.register(BOB, "1001");
    let mut call = harness.invite(ALICE, "1001", "cancel-1", true);
    harness.run_for(Duration::from_secs(2));
    assert!(harness.incoming(BOB).is_some());
    harness.cancel(ALICE, &call);
    harness.run_for(Duration::from_secs(1));
    assert!(harness.responses(ALICE, &mut call).contains(&487));
    assert_eq!(harness.accept_requests(BOB), vec![Method::Cancel]);
    let cdr = record(&harness, "cancel-1");
    assert_eq!(cdr.sip_status, 487);
    assert_eq!(cdr.hung_up_by, HungUpBy::Caller);
    assert!(cdr.answer_time.is_none());
    assert_seconds(cdr.wait_seconds, 2.0);
    assert_seconds(cdr.talk_seconds, 0.0);
    assert!(harness.media.state().channels.is_empty());
}

#[test]
fn hold_and_resume_by_reinvite_are_timed_exactly() {
    let mut harness = Harness::new();
    let mut call = phone_call(&mut harness, "hold-1", Duration::from_secs(1));
    harness.run_for(Duration::from_secs(5) - Duration::from_millis(100));
    let mut dialog = call.dialog.take().expect("answered");
    harness.reinvite(ALICE, &mut dialog, true);
    harness.run_for(Duration::from_millis(100));
    let playing: Vec<bool> = harness
        .media
        .state()
        .channels
        .values()
        .map(|channel| channel.playing.is_some())
        .collect();
    assert_eq!(
        playing.iter().filter(|on| **on).count(),
        1,
        "Bob hears hold music"
    );
    assert!(channels_routed(&harness, FakeRouting::Idle).len() == 2);
    harness.run_for(Duration::from_secs(3) - Duration::from_millis(100));
    harness.reinvite(ALICE, &mut dialog, false);
    harness.run_for(Duration::from_millis(100));
    let bridged = harness
        .media
        .state()
        .channels
        .values()
        .filter(|channel| matches!(channel.routing, FakeRouting::Bridge(_)))
        .count();
    assert_eq!(bridged, 2, "bridged again on resume");
    harness.run_for(Duration::from_secs(2) - Duration::from_millis(100));
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    let cdr = record(&harness, "hold-1");
    // Held from the hold offer's arrival to the resume's: 3 s.
    assert_seconds(cdr.hold_seconds, 3.0);
    assert_seconds(cdr.talk_seconds, 10.0 - 3.0);
    assert_seconds(cdr.wait_seconds, 1.0);
}

#[test]
fn a_blind_transfer_rings_the_new_party_as_transfer_time() {
    let mut harness = Harness::new();
    harness.register(CAROL, "1002");
    let call = phone_call(&mut harness, "transfer-1", Duration::from_secs(1));
    harness.run_for(Duration::from_secs(5) - Duration::from_millis(100));
    let reply = harness.command(Command::Transfer {
        call_id: "transfer-1".into(),
        to: Destination::Phone("1002".into()),
    });
    assert!(matches!(reply, Reply::Done(Ok(()))), "{reply:?}");
    harness.run_for(Duration::from_secs(4));
    assert_eq!(harness.accept_requests(BOB), vec![Method::Bye]);
    let mut incoming = harness.incoming(CAROL).expect("Carol's phone rings");
    harness.answer(CAROL, &mut incoming);
    harness.run_for(Duration::from_secs(6));
    let mut dialog = call.dialog.expect("answered");
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    let cdr = record(&harness, "transfer-1");
    // From the transfer (5 s + 1 ms after the call began, on the API's
    // command) to Carol's 200 arriving 4 s + 1 ms later.
    assert_seconds(cdr.transfer_seconds, 4.001);
    assert_seconds(cdr.wait_seconds, 1.0);
    // Talk: from Bob's answer (1 s + 1 ms) to the transfer (6 s), and
    // from Carol's answer to Alice's BYE 6 s later.
    assert_seconds(cdr.talk_seconds, 4.999 + 6.0);
    assert!(harness.switch.is_idle());
}

#[test]
fn a_placed_call_rings_its_party_then_runs_its_route() {
    let mut harness = Harness::new();
    harness.register(BOB, "1001");
    let reply = harness.command(Command::Originate(Origination {
        to: Destination::Phone("1001".into()),
        caller_id: "5550100".into(),
        then: Destination::Did("1000".into()),
        ring_timeout: Duration::from_secs(30),
    }));
    let Reply::Placed(Ok(call_id)) = reply else {
        panic!("not placed: {reply:?}");
    };
    harness.run_for(Duration::from_secs(2));
    let mut incoming = harness.incoming(BOB).expect("Bob's phone rings");
    harness.answer(BOB, &mut incoming);
    harness.run_for(Duration::from_secs(5));
    assert_eq!(channels_routed(&harness, FakeRouting::Echo).len(), 1);
    let mut dialog = incoming.dialog.take().expect("answered");
    harness.hang_up(BOB, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    let cdr = record(&harness, &call_id);
    assert_eq!(cdr.direction, Direction::Outbound);
    assert_eq!(cdr.route, "echo");
    assert_eq!(cdr.caller_id, "5550100");
    // Rang from the command to Bob's 200 (sent 2 s later, 1 ms on the
    // way), then echoed 5 s.
    assert_seconds(cdr.wait_seconds, 2.001);
    assert_seconds(cdr.talk_seconds, 5.0);
}

/// [`menu_flow`] as flow 7, which DID 6100 runs.
fn install_menu_flow(harness: &mut Harness) {
    harness.directory(DirectoryChange::FlowActive {
        id: 7,
        flow: Arc::new(menu_flow()),
    });
    harness.directory(DirectoryChange::DidActive {
        number: "6100".into(),
        route: Route::Flow {
            flow: FlowSource::Stored(7),
            time_zone: chrono_tz::UTC,
        },
    });
}

/// A flow: a menu whose key 1 dials phone 1001 with a whisper, then a
/// hang-up.
fn menu_flow() -> ivr::Flow {
    ivr::flow::parse(&serde_json::json!({"verbs": [
        {"verb": "menu",
         "prompt": [{"verb": "play", "prompt": "en/greeting"}],
         "options": {"1": [{"verb": "dial", "target": {"phone": "1001"},
                            "whisper": [{"verb": "play", "prompt": "en/digit-1"}]}]}},
        {"verb": "hangup"}
    ]}))
    .expect("the flow parses")
}

#[test]
fn a_flow_menu_dials_a_phone_whispers_then_bridges() {
    let mut harness = Harness::new();
    harness.register(BOB, "1001");
    install_menu_flow(&mut harness);
    let mut call = harness.invite(ALICE, "6100", "flow-1", true);
    harness.run_for(Duration::from_secs(2));
    assert_eq!(harness.final_status(ALICE, &mut call), Some(200));
    let caller = first_channel(&harness);
    let greeting = harness
        .media
        .channel(caller)
        .and_then(|channel| channel.playing);
    assert!(greeting.is_some(), "the menu's prompt plays");
    harness.media_event(caller, digit('1'));
    harness.run_for(Duration::from_secs(3));
    let mut incoming = harness.incoming(BOB).expect("the flow dials Bob");
    harness.answer(BOB, &mut incoming);
    harness.run_for(Duration::from_secs(2));
    let callee = harness
        .media
        .state()
        .channels
        .iter()
        .find(|(_, channel)| {
            channel
                .playing
                .as_ref()
                .is_some_and(|player| player.tag() == u64::MAX)
        })
        .map(|(id, _)| *id)
        .expect("the whisper plays to Bob");
    assert!(channels_routed(&harness, FakeRouting::Bridge(caller)).is_empty());
    harness.media_event(
        callee,
        MediaEventKind::Playback {
            event: PlayerEvent::PlaybackFinished,
            tag: u64::MAX,
        },
    );
    assert_eq!(
        channels_routed(&harness, FakeRouting::Bridge(caller)),
        vec![callee]
    );
    harness.run_for(Duration::from_secs(10));
    let mut dialog = incoming.dialog.take().expect("answered");
    harness.hang_up(BOB, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    let cdr = record(&harness, "flow-1");
    assert_eq!(cdr.hung_up_by, HungUpBy::System, "the flow hung up");
    // IVR from 1 ms to the key at 2 s; waiting (ringing, then the
    // whisper) to the bridge at 7 s; talk to Bob's BYE at 17 s + 1 ms.
    assert_seconds(cdr.ivr_seconds, 1.999);
    assert_seconds(cdr.wait_seconds, 5.0);
    assert_seconds(cdr.talk_seconds, 10.001);
    let actions: Vec<String> = harness
        .events()
        .iter()
        .filter_map(|event| match event {
            crate::CallEvent::CallFlow { flow, action, .. } => {
                assert_eq!(*flow, 7);
                Some(action.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        actions.iter().any(|action| action.starts_with("dial")),
        "{actions:?}"
    );
}

fn digit(key: char) -> MediaEventKind {
    MediaEventKind::Channel(ChannelEvent::DigitReceived {
        digit: Digit::from_char(key).expect("a digit"),
        duration: Duration::from_millis(100),
        source: DigitSource::Rfc4733,
    })
}

#[test]
fn a_did_over_its_calls_limit_is_busy_until_a_call_ends() {
    let mut harness = Harness::new();
    harness.directory(DirectoryChange::DidActive {
        number: "7000".into(),
        route: Route::Did(Arc::new(DidRoute {
            default: Route::Echo,
            time_zone: chrono_tz::UTC,
            calls_limit: Some(CallsLimit {
                calls: 1,
                flow: None,
            }),
            holiday_flow: None,
            holidays: Vec::new(),
            schedules: Vec::new(),
        })),
    });
    let mut first = harness.invite(ALICE, "7000", "limit-1", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(ALICE, &mut first), Some(200));
    let mut second = harness.invite(CAROL, "7000", "limit-2", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(CAROL, &mut second), Some(486));
    assert_eq!(record(&harness, "limit-2").sip_status, 486);
    let mut dialog = first.dialog.take().expect("answered");
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    let mut third = harness.invite(CAROL, "7000", "limit-3", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(CAROL, &mut third), Some(200));
}

#[test]
fn shutdown_ends_every_call_with_a_record_and_refuses_new_ones() {
    let mut harness = Harness::new();
    let _phone = phone_call(&mut harness, "down-1", Duration::from_secs(1));
    let mut echo = harness.invite(CAROL, "1000", "down-2", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(CAROL, &mut echo), Some(200));
    let now = harness.now();
    harness
        .switch
        .begin_shutdown(now, &mut harness.net.nodes[crate::testing::SWITCH].0);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.accept_requests(ALICE), vec![Method::Bye]);
    assert_eq!(harness.accept_requests(BOB), vec![Method::Bye]);
    assert_eq!(harness.accept_requests(CAROL), vec![Method::Bye]);
    for call_id in ["down-1", "down-2"] {
        assert_eq!(record(&harness, call_id).hung_up_by, HungUpBy::System);
    }
    assert!(harness.switch.is_idle());
    let mut late = harness.invite(CAROL, "1000", "down-3", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(CAROL, &mut late), Some(503));
    assert!(harness.media.state().channels.is_empty());
}

#[test]
fn a_digit_on_the_digit_echo_is_sent_back_and_spoken() {
    let mut harness = Harness::new();
    let mut call = harness.invite(ALICE, "4000", "digits-1", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(ALICE, &mut call), Some(200));
    let caller = first_channel(&harness);
    harness.media_event(caller, digit('7'));
    let channel = harness.media.channel(caller).expect("open");
    assert_eq!(
        channel.digits_sent,
        vec![Digit::from_char('7').expect("a digit")]
    );
    let spoken = channel.playing.expect("the digit is spoken");
    assert!(matches!(spoken.items(), [Playable::Prompt(_)]));
    assert!(harness.events().iter().any(|event| matches!(
        event,
        crate::CallEvent::Dtmf { digit, .. } if digit == "7"
    )));
}

#[test]
fn a_listener_is_a_third_leg_that_hears_both_parties_and_leaves_alone() {
    let mut harness = Harness::new();
    harness.register(CAROL, "1002");
    let call = phone_call(&mut harness, "listen-1", Duration::from_secs(1));
    let reply = harness.command(Command::Listen {
        call_id: "listen-1".into(),
        to: Destination::Phone("1002".into()),
    });
    assert!(matches!(reply, Reply::Done(Ok(()))), "{reply:?}");
    harness.run_for(Duration::from_secs(1));
    let mut listener = harness.incoming(CAROL).expect("the listener's phone rings");
    harness.answer(CAROL, &mut listener);
    harness.run_for(Duration::from_secs(1));
    // Three legs: the two parties mixed as parties, the listener as a
    // silent monitor in the same mix.
    let routings: Vec<FakeRouting> = harness
        .media
        .state()
        .channels
        .values()
        .map(|channel| channel.routing)
        .collect();
    let mix = match routings.as_slice() {
        [
            FakeRouting::Mix(mix, Role::Normal),
            FakeRouting::Mix(other, Role::Normal),
            FakeRouting::Mix(last, Role::Listen),
        ] if mix == other && other == last => *mix,
        other => panic!("not mixed with a listener: {other:?}"),
    };
    let Reply::Calls(calls) = harness.command(Command::Calls) else {
        panic!("no calls");
    };
    let sides: Vec<&str> = calls[0].legs.iter().map(|leg| leg.side).collect();
    assert_eq!(sides, ["caller", "callee", "listener"]);
    // The listener leaves; the call goes on, still mixed.
    let mut dialog = listener.dialog.take().expect("answered");
    harness.hang_up(CAROL, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.media.state().channels.len(), 2);
    assert!(channels_routed(&harness, FakeRouting::Mix(mix, Role::Normal)).len() == 2);
    assert!(harness.cdrs().is_empty(), "the call goes on");
    let mut dialog = call.dialog.expect("answered");
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.accept_requests(BOB), vec![Method::Bye]);
    let cdr = record(&harness, "listen-1");
    assert_eq!(cdr.hung_up_by, HungUpBy::Caller);
    // Talk from Bob's answer (1 s + 1 ms) to Alice's BYE (4.1 s + 1 ms): the
    // listener changes nothing in the record.
    assert_seconds(cdr.talk_seconds, 3.1);
    assert!(harness.media.state().channels.is_empty());
    assert!(
        harness.media.state().mixes.is_empty(),
        "the mix is released"
    );
}

#[test]
fn a_listener_is_released_with_the_called_party() {
    let mut harness = Harness::new();
    harness.register(CAROL, "1002");
    let call = phone_call(&mut harness, "listen-2", Duration::from_secs(1));
    harness.command(Command::Listen {
        call_id: "listen-2".into(),
        to: Destination::Phone("1002".into()),
    });
    harness.run_for(Duration::from_secs(1));
    let mut listener = harness.incoming(CAROL).expect("the listener's phone rings");
    harness.answer(CAROL, &mut listener);
    harness.run_for(Duration::from_secs(1));
    let mut dialog = call.dialog.expect("answered");
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.accept_requests(BOB), vec![Method::Bye]);
    assert_eq!(harness.accept_requests(CAROL), vec![Method::Bye]);
    assert!(harness.switch.is_idle());
    assert!(harness.media.state().channels.is_empty());
}

#[test]
fn only_an_answered_bridged_call_can_be_listened_to() {
    let mut harness = Harness::new();
    harness.register(CAROL, "1002");
    let mut echo = harness.invite(ALICE, "1000", "listen-3", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(ALICE, &mut echo), Some(200));
    let reply = harness.command(Command::Listen {
        call_id: "listen-3".into(),
        to: Destination::Phone("1002".into()),
    });
    assert!(
        matches!(reply, Reply::Done(Err(ControlError::Conflict(_)))),
        "{reply:?}"
    );
    let reply = harness.command(Command::Listen {
        call_id: "nope".into(),
        to: Destination::Phone("1002".into()),
    });
    assert!(
        matches!(reply, Reply::Done(Err(ControlError::NoSuchCall))),
        "{reply:?}"
    );
}

#[test]
fn conference_callers_share_one_mix_released_by_the_last_out() {
    let mut harness = Harness::new();
    let mut first = harness.invite(ALICE, "2000", "room-1", true);
    let mut second = harness.invite(BOB, "2000", "room-2", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(ALICE, &mut first), Some(200));
    assert_eq!(harness.final_status(BOB, &mut second), Some(200));
    let mixed = |harness: &Harness| -> Vec<MixId> {
        let state = harness.media.state();
        let mut mixes: Vec<MixId> = state
            .channels
            .values()
            .filter_map(|channel| match channel.routing {
                FakeRouting::Mix(mix, Role::Normal) => Some(mix),
                _ => None,
            })
            .collect();
        mixes.dedup();
        mixes
    };
    assert_eq!(mixed(&harness).len(), 1, "both callers in one room");
    assert_eq!(harness.media.state().mixes.len(), 1);
    let mut dialog = first.dialog.take().expect("answered");
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.media.state().mixes.len(), 1, "one caller is left");
    let mut dialog = second.dialog.take().expect("answered");
    harness.hang_up(BOB, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    assert!(
        harness.media.state().mixes.is_empty(),
        "the last out closes it"
    );
    assert_eq!(record(&harness, "room-2").route, "conference");
    assert!(harness.switch.is_idle());
}

#[test]
fn the_record_route_records_the_caller_into_a_file_its_record_lists() {
    let mut harness = Harness::new();
    let mut call = harness.invite(ALICE, "3000", "rec-1", true);
    harness.run_for(Duration::from_secs(1));
    assert_eq!(harness.final_status(ALICE, &mut call), Some(200));
    let caller = first_channel(&harness);
    let (path, channels, other) = harness
        .media
        .channel(caller)
        .and_then(|channel| channel.recording)
        .expect("recording");
    assert_eq!((channels, other), (Channels::Mono, None));
    harness.run_for(Duration::from_secs(4));
    let mut dialog = call.dialog.take().expect("answered");
    harness.hang_up(ALICE, &mut dialog);
    harness.run_for(Duration::from_secs(1));
    let cdr = record(&harness, "rec-1");
    let file = path
        .file_name()
        .and_then(|name| name.to_str())
        .expect("a name");
    assert_eq!(cdr.recordings, vec![file.to_string()]);
    assert_seconds(cdr.talk_seconds, 5.0);
}
