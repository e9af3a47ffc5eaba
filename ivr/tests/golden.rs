//! The golden transcripts of `conformance/ivr/`: each is a flow, a script
//! of what happens on the call (`> digit 2`, `> wait 5s`, `> hangup`) and
//! the exact actions the interpreter must take after each (`< play prompt
//! en/greeting`), run with a fake clock.
//!
//! A transcript:
//!
//! ```text
//! # What it proves.
//! time 09:30                 the DID's local time at the start (default 12:00)
//! var caller_id 5551234      a call variable
//! flow {"verbs": [...]}      the flow (JSON, may go on over several lines)
//! < answer                   what the interpreter does at the start
//! > digit 2                  something happens…
//! < stop playback            …and what it does then, in order
//! = digits 2                 a variable's value now
//! ```
//!
//! Events: `played` (the last play finished), `digit D`, `digits DDD`,
//! `wait Ns` (time passes with nothing else), `voice`, `quiet`,
//! `recorded Ns`, `answered`, `dial ended answered|no-answer|busy|failed`,
//! `webhook JSON`, `webhook failed`, `flow JSON`, `flow missing`, `hangup`.
//! Every transcript ends with the interpreter having nothing more to do.

use ivr::interpreter::{Action, DialStatus, Event, Interpreter};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn transcripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/ivr");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

/// The ids of the latest play, recording, dial and fetch or load.
#[derive(Default)]
struct Latest {
    play: u64,
    record: u64,
    dial: u64,
    fetch: u64,
}

impl Latest {
    fn note(&mut self, action: &Action) {
        match action {
            Action::Play { id, .. } => self.play = *id,
            Action::Record { id, .. } => self.record = *id,
            Action::Dial { id, .. } => self.dial = *id,
            Action::Fetch { id, .. } | Action::LoadFlow { id, .. } => self.fetch = *id,
            _ => {}
        }
    }
}

fn duration(text: &str) -> Duration {
    let seconds: f64 = text
        .strip_suffix('s')
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("not a duration like 5s: {text}"));
    Duration::from_secs_f64(seconds)
}

fn flow(json: &str) -> ivr::Flow {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|error| panic!("not JSON: {error}: {json}"));
    ivr::parse(&value).unwrap_or_else(|error| panic!("not a flow: {error:?}"))
}

/// Runs one transcript; `Err` says where it went wrong.
fn run(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let mut lines = text.lines().enumerate().peekable();
    let mut local = Duration::from_secs(12 * 3600);
    let mut variables = BTreeMap::new();
    let mut document = String::new();
    // The head: comments, time, variables, the flow.
    while let Some((_, line)) = lines.peek() {
        let line = line.trim();
        if line.starts_with('<') || line.starts_with('>') || line.starts_with('=') {
            break;
        }
        if let Some(time) = line.strip_prefix("time ") {
            let (hours, minutes) = time.split_once(':').ok_or("time is HH:MM")?;
            let hours: u64 = hours.parse().map_err(|_| "time is HH:MM")?;
            let minutes: u64 = minutes.parse().map_err(|_| "time is HH:MM")?;
            local = Duration::from_secs(hours * 3600 + minutes * 60);
        } else if let Some(variable) = line.strip_prefix("var ") {
            let (name, value) = variable.split_once(' ').unwrap_or((variable, ""));
            variables.insert(name.to_string(), value.to_string());
        } else if let Some(json) = line.strip_prefix("flow ") {
            document.push_str(json);
        } else if !line.starts_with('#') && !document.is_empty() {
            document.push_str(line);
        }
        lines.next();
    }
    #[allow(clippy::disallowed_methods)] // the fake clock's origin
    let mut now = Instant::now();
    let mut interpreter = Interpreter::new(flow(&document), now, local, variables);
    let mut latest = Latest::default();
    let mut done: Vec<Action> = Vec::new();
    let drain = |interpreter: &mut Interpreter, latest: &mut Latest, done: &mut Vec<Action>| {
        while let Some(action) = interpreter.poll_action() {
            latest.note(&action);
            done.push(action);
        }
    };
    drain(&mut interpreter, &mut latest, &mut done);
    let mut expected: Vec<(usize, String)> = Vec::new();
    let check = |done: &mut Vec<Action>, expected: &mut Vec<(usize, String)>, at: usize| {
        let got: Vec<String> = done.drain(..).map(|action| action.to_string()).collect();
        let wanted: Vec<String> = expected.drain(..).map(|(_, line)| line).collect();
        if got == wanted {
            Ok(())
        } else {
            Err(format!(
                "before line {}: expected\n  < {}\ngot\n  < {}",
                at + 1,
                wanted.join("\n  < "),
                got.join("\n  < ")
            ))
        }
    };
    for (number, line) in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(action) = line.strip_prefix("< ") {
            expected.push((number, action.to_string()));
            continue;
        }
        check(&mut done, &mut expected, number)?;
        if let Some(assertion) = line.strip_prefix("= ") {
            let (name, value) = assertion.split_once(' ').unwrap_or((assertion, ""));
            let actual = interpreter
                .variables()
                .get(name)
                .cloned()
                .unwrap_or_default();
            if actual != value {
                return Err(format!(
                    "line {}: {name} is {actual:?}, not {value:?}",
                    number + 1
                ));
            }
            continue;
        }
        let event = line
            .strip_prefix("> ")
            .ok_or_else(|| format!("line {}: not < > = or #: {line}", number + 1))?;
        let (verb, rest) = event.split_once(' ').unwrap_or((event, ""));
        let mut send = |event: Event| interpreter.handle_event(now, event);
        match verb {
            "played" => send(Event::PlaybackFinished { id: latest.play }),
            "digit" | "digits" => {
                for digit in rest.chars() {
                    send(Event::DigitReceived { digit });
                }
            }
            "voice" => send(Event::VoiceStarted),
            "quiet" => send(Event::VoiceStopped),
            "recorded" => send(Event::RecordingFinished {
                id: latest.record,
                duration: duration(rest),
            }),
            "answered" => send(Event::DialAnswered { id: latest.dial }),
            "dial" => {
                let status = match rest {
                    "ended answered" => DialStatus::Answered,
                    "ended no-answer" => DialStatus::NoAnswer,
                    "ended busy" => DialStatus::Busy,
                    "ended failed" => DialStatus::Failed,
                    _ => return Err(format!("line {}: dial ended how? {rest}", number + 1)),
                };
                send(Event::DialEnded {
                    id: latest.dial,
                    status,
                })
            }
            "webhook" if rest == "failed" => send(Event::WebhookFailed { id: latest.fetch }),
            "webhook" => send(Event::WebhookAnswered {
                id: latest.fetch,
                flow: flow(rest),
            }),
            "flow" if rest == "missing" => send(Event::FlowMissing { id: latest.fetch }),
            "flow" => send(Event::FlowLoaded {
                id: latest.fetch,
                flow: flow(rest),
            }),
            "hangup" => send(Event::CallerHungUp),
            "wait" => {
                let until = now + duration(rest);
                while let Some(due) = interpreter.poll_timeout().filter(|due| *due <= until) {
                    now = due.max(now);
                    interpreter.handle_timeout(now);
                    drain(&mut interpreter, &mut latest, &mut done);
                }
                now = until;
            }
            _ => return Err(format!("line {}: unknown event {verb}", number + 1)),
        }
        drain(&mut interpreter, &mut latest, &mut done);
    }
    check(&mut done, &mut expected, text.lines().count())?;
    Ok(())
}

#[test]
fn every_golden_transcript_holds() {
    let files = transcripts();
    assert!(files.len() >= 10, "only {} transcripts", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            run(path)
                .err()
                .map(|error| format!("{}: {error}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
