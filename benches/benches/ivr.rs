//! The IVR interpreter: one call through a real flow (answer, a greeting,
//! a gather that takes three digits, a menu, a goodbye, hang-up), every
//! event fed and every action drained, as a call's driver does.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ivr::interpreter::{Action, Event, Interpreter};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const FLOW: &str = r#"{"verbs": [
  {"verb": "answer"},
  {"verb": "play", "prompt": "en/greeting"},
  {"verb": "gather", "num_digits": 3, "timeout_seconds": 5,
   "prompt": [{"verb": "say", "text": "Enter your account number."}]},
  {"verb": "menu", "prompt": [{"verb": "play", "prompt": "en/greeting"}],
   "options": {"1": [{"verb": "play", "prompt": "en/digit-1"}],
               "2": [{"verb": "voicemail", "box": "sales"}]},
   "invalid": [{"verb": "play", "prompt": "en/invalid"}]},
  {"verb": "play", "prompt": "en/goodbye"},
  {"verb": "hangup"}
]}"#;

/// Events of one call: the greeting heard, 1 2 3 typed over the prompt,
/// 9 (no such option) then 1 in the menu, the goodbye heard.
const SCRIPT: [Option<char>; 8] = [
    None,
    Some('1'),
    Some('2'),
    Some('3'),
    Some('9'),
    Some('1'),
    None,
    None,
];

/// Runs one call; the number of actions it took.
fn call(flow: &ivr::Flow, now: Instant) -> usize {
    let mut interpreter = Interpreter::new(
        flow.clone(),
        now,
        Duration::from_secs(9 * 3600),
        BTreeMap::from([("caller_id".to_string(), "5551234".to_string())]),
    );
    let mut actions = 0;
    let mut last_play = 0;
    let mut drain = |interpreter: &mut Interpreter| {
        while let Some(action) = interpreter.poll_action() {
            if let Action::Play { id, .. } = action {
                last_play = id;
            }
            actions += 1;
            black_box(&action);
        }
        last_play
    };
    let mut playing = drain(&mut interpreter);
    for step in SCRIPT {
        let event = match step {
            Some(digit) => Event::DigitReceived { digit },
            None => Event::PlaybackFinished { id: playing },
        };
        interpreter.handle_event(now, event);
        playing = drain(&mut interpreter);
    }
    assert!(interpreter.is_ended(), "the call runs to its hang-up");
    actions
}

fn interpreter(c: &mut Criterion) {
    let value: serde_json::Value = serde_json::from_str(FLOW).expect("JSON");
    let flow = ivr::parse(&value).expect("a valid flow");
    #[allow(clippy::disallowed_methods)] // one instant for the whole run: time is an argument
    let now = Instant::now();
    let mut group = c.benchmark_group("ivr");
    group.throughput(Throughput::Elements(1));
    group.bench_function("call_through_a_menu_flow", |b| {
        b.iter(|| black_box(call(black_box(&flow), now)))
    });
    group.finish();
}

criterion_group!(benches, interpreter);
criterion_main!(benches);
