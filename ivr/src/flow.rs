//! The flow language: a flow is a JSON document of verbs, in the family of
//! TwiML and jambonz.
//!
//! ```json
//! {"verbs": [
//!   {"verb": "answer"},
//!   {"verb": "ring", "count": 2},
//!   {"verb": "menu",
//!    "prompt": [{"verb": "say", "text": "Press 1 for sales."}],
//!    "options": {"1": [{"verb": "dial", "target": {"phone": "1001"}}]},
//!    "invalid": [{"verb": "say", "text": "Sorry."}]},
//!   {"verb": "hangup"}
//! ]}
//! ```
//!
//! [`parse`] reads a document and checks it whole: every error comes back
//! with the JSON pointer of the value at fault and why, so a bad flow is
//! refused when it is uploaded, not when a caller reaches it. What the
//! checks here cannot know — whether a referenced flow, phone or prompt
//! exists — is listed by [`Flow::references`] for the store to check.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Verbs nest (a menu's branches hold verbs); deeper than this is refused.
pub const MAX_DEPTH: usize = 8;
/// Verbs in one flow, nested ones included, at most.
pub const MAX_VERBS: usize = 1_000;

/// A flow document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// What the call does, in order.
    pub verbs: Vec<Verb>,
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case", deny_unknown_fields)]
pub enum Verb {
    /// Answers the call (200 OK); verbs that need media answer by
    /// themselves.
    Answer {},
    /// Rings (ringback, 180) `count` times before going on (1-20).
    Ring {
        /// Rings, each 6 s.
        #[serde(deserialize_with = "whole::u32")]
        count: u32,
    },
    /// Speaks `text` (text to speech).
    Say {
        /// 1-2000 characters.
        text: String,
        /// The TTS voice (e.g. `en`), or the server's default.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        voice: Option<String>,
        /// Times to say it (1-10, default 1).
        #[serde(
            default = "one",
            skip_serializing_if = "is_one",
            deserialize_with = "whole::u32"
        )]
        repeat: u32,
    },
    /// Plays a prompt: an uploaded or bundled one by name, or a URL.
    Play {
        /// A prompt's name.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        prompt: Option<String>,
        /// An `http://` URL of an audio file (fetched once, cached).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        url: Option<String>,
        /// Times to play it (1-10, default 1).
        #[serde(
            default = "one",
            skip_serializing_if = "is_one",
            deserialize_with = "whole::u32"
        )]
        repeat: u32,
    },
    /// Silence for `seconds` (0.1-60).
    Pause {
        /// Seconds.
        seconds: f64,
    },
    /// Collects digits into the `digits` variable.
    Gather {
        /// What to play while waiting; a key stops it (barge-in).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        prompt: Vec<Verb>,
        /// Digits to collect (1-32), or until `finish_on_key`.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "whole::optional_u32"
        )]
        num_digits: Option<u32>,
        /// The key that ends the input (not kept), e.g. `#`.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        finish_on_key: Option<String>,
        /// Seconds to wait for the first and each next digit (1-60,
        /// default 5).
        #[serde(
            default = "five",
            skip_serializing_if = "is_five",
            deserialize_with = "whole::u32"
        )]
        timeout_seconds: u32,
        /// Times to ask again after no input (0-10, default 0).
        #[serde(
            default,
            skip_serializing_if = "is_zero",
            deserialize_with = "whole::u32"
        )]
        retries: u32,
        /// Played when the input is empty, before asking again.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        invalid_prompt: Vec<Verb>,
    },
    /// Asks for one key and branches on it.
    Menu {
        /// What to play while waiting; a key stops it (barge-in).
        prompt: Vec<Verb>,
        /// A DTMF key (`0`-`9`, `*`, `#`) to the verbs it runs.
        options: BTreeMap<String, Vec<Verb>>,
        /// Played on a key with no option, or no key, before asking again.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        invalid: Vec<Verb>,
        /// Seconds to wait for a key (1-60, default 5).
        #[serde(
            default = "five",
            skip_serializing_if = "is_five",
            deserialize_with = "whole::u32"
        )]
        timeout_seconds: u32,
        /// Times to ask again (0-10, default 2); then the flow goes on
        /// after the menu.
        #[serde(
            default = "two",
            skip_serializing_if = "is_two",
            deserialize_with = "whole::u32"
        )]
        retries: u32,
    },
    /// Records the caller (into the call's recordings).
    Record {
        /// Beep first (default true).
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        beep: bool,
        /// The key that ends the recording.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        finish_on_key: Option<String>,
        /// Longest recording, seconds (1-3600, default 120).
        #[serde(
            default = "two_minutes",
            skip_serializing_if = "is_two_minutes",
            deserialize_with = "whole::u32"
        )]
        max_seconds: u32,
        /// Silence that ends it, seconds (1-60, default 5).
        #[serde(
            default = "five",
            skip_serializing_if = "is_five",
            deserialize_with = "whole::u32"
        )]
        silence_seconds: u32,
    },
    /// Leaves a message in a voicemail box (after a beep).
    Voicemail {
        /// The box (1-64 letters, digits, `-`, `_`).
        #[serde(rename = "box")]
        mailbox: String,
        /// The key that ends the message (default `#`).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        finish_on_key: Option<String>,
        /// Longest message, seconds (1-3600, default 120).
        #[serde(
            default = "two_minutes",
            skip_serializing_if = "is_two_minutes",
            deserialize_with = "whole::u32"
        )]
        max_seconds: u32,
        /// Silence that ends it, seconds (1-60, default 5).
        #[serde(
            default = "five",
            skip_serializing_if = "is_five",
            deserialize_with = "whole::u32"
        )]
        silence_seconds: u32,
    },
    /// Calls someone and bridges the caller to whoever answers.
    Dial {
        /// Whom.
        target: DialTarget,
        /// Seconds to ring before giving up (1-300, default 30).
        #[serde(
            default = "thirty",
            skip_serializing_if = "is_thirty",
            deserialize_with = "whole::u32"
        )]
        timeout_seconds: u32,
        /// The caller ID shown (a number), or the caller's own.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        caller_id: Option<String>,
        /// Played only to the party that answers, before the bridge.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        whisper: Vec<Verb>,
    },
    /// Hold music, until something else happens (or `seconds`).
    HoldMusic {
        /// A prompt's name, or the server's hold music.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        prompt: Option<String>,
        /// How long, seconds (1-86400), or until the call moves on.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "whole::optional_u32"
        )]
        seconds: Option<u32>,
    },
    /// Goes on with another flow (by id).
    Redirect {
        /// The flow's id.
        #[serde(deserialize_with = "whole::i64")]
        flow: i64,
    },
    /// Fetches the next verbs from the operator's URL (POST with the
    /// call's variables).
    Webhook {
        /// An `http://` URL.
        url: String,
        /// Seconds to wait for it (1-30, default 5).
        #[serde(
            default = "five",
            skip_serializing_if = "is_five",
            deserialize_with = "whole::u32"
        )]
        timeout_seconds: u32,
        /// The flow (by id) to go on with if it fails or times out.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "whole::optional_i64"
        )]
        fallback_flow: Option<i64>,
    },
    /// Sets a call variable.
    Set {
        /// Its name: letters, digits, `_`, not starting with a digit; not
        /// one of the call's own (`caller_id`, `did`, `digits`, `time`).
        variable: String,
        /// Its value.
        value: String,
    },
    /// Runs `then` or `else` by a condition on a call variable.
    If {
        /// The variable: one the flow set, or `caller_id`, `did`,
        /// `digits`, or `time` (local `HH:MM` in the DID's zone).
        variable: String,
        /// Holds when the variable equals this.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        equals: Option<String>,
        /// Holds when the variable starts with this.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        starts_with: Option<String>,
        /// Holds when the variable is one of these.
        #[serde(
            default,
            rename = "in",
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        one_of: Option<Vec<String>>,
        /// Holds when `time` (local `HH:MM`) is from the first to the
        /// second (which may be past midnight).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        between: Option<[String; 2]>,
        /// Verbs when it holds.
        then: Vec<Verb>,
        /// Verbs when it does not.
        #[serde(default, rename = "else", skip_serializing_if = "Vec::is_empty")]
        otherwise: Vec<Verb>,
    },
    /// Hangs up.
    Hangup {},
}

/// Whom a `dial` calls: exactly one of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DialTarget {
    /// A phone by extension.
    Phone(String),
    /// An agent (by login), at the phone it takes calls on.
    Agent(String),
    /// A number outside, through the trunk (E.164, `+` optional).
    Number(String),
    /// One of our DIDs: its flow runs.
    Did(String),
}

/// An optional field given: its value, never `null` (absent is `None`),
/// as the flow language's schema has it.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Whole numbers written as JSON numbers of any kind (`5` or `5.0`, as a
/// JSON Schema integer may be written).
mod whole {
    use serde::{Deserialize, Deserializer, de::Error};

    /// Floats are exact integers up to 2^53.
    const EXACT: f64 = 9_007_199_254_740_992.0;

    fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        let value = f64::deserialize(deserializer)?;
        if value.fract() == 0.0 && value.abs() <= EXACT {
            Ok(value)
        } else {
            Err(D::Error::custom(format!("{value} is not a whole number")))
        }
    }

    pub fn u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let value = number(deserializer)?;
        if (0.0..=f64::from(u32::MAX)).contains(&value) {
            Ok(value as u32)
        } else {
            Err(D::Error::custom(format!("{value} is out of range")))
        }
    }

    pub fn i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        number(deserializer).map(|value| value as i64)
    }

    pub fn optional_u32<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u32>, D::Error> {
        u32(deserializer).map(Some)
    }

    pub fn optional_i64<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        i64(deserializer).map(Some)
    }
}

fn one() -> u32 {
    1
}
fn is_one(n: &u32) -> bool {
    *n == 1
}
fn two() -> u32 {
    2
}
fn is_two(n: &u32) -> bool {
    *n == 2
}
fn five() -> u32 {
    5
}
fn is_five(n: &u32) -> bool {
    *n == 5
}
fn thirty() -> u32 {
    30
}
fn is_thirty(n: &u32) -> bool {
    *n == 30
}
fn two_minutes() -> u32 {
    120
}
fn is_two_minutes(n: &u32) -> bool {
    *n == 120
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn yes() -> bool {
    true
}
fn is_yes(b: &bool) -> bool {
    *b
}

/// What is wrong with a flow, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}")]
pub struct FlowError {
    /// The JSON pointer of the value at fault (`/verbs/2/options/1/0`).
    pub pointer: String,
    /// Why.
    pub reason: String,
}

/// What a flow names outside itself, each with where it is named.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    /// Flows (`redirect`, `webhook` fallback), by id.
    pub flows: Vec<(String, i64)>,
    /// Prompts (`play`, `hold_music`), by name.
    pub prompts: Vec<(String, String)>,
    /// Phones dialled, by extension.
    pub phones: Vec<(String, String)>,
    /// Agents dialled, by login.
    pub agents: Vec<(String, String)>,
    /// Voicemail boxes messages go to, by name.
    pub mailboxes: Vec<(String, String)>,
    /// Whether it speaks (`say`): it needs a TTS program.
    pub speaks: Option<String>,
}

/// Reads and checks a flow document.
pub fn parse(document: &serde_json::Value) -> Result<Flow, FlowError> {
    if !document.is_object() {
        return Err(fail("", r#"a flow is an object: {"verbs": [...]}"#));
    }
    check_tags(document, &mut String::new())?;
    let flow: Flow = serde_path_to_error::deserialize(document).map_err(|error| {
        let pointer = pointer_of(error.path());
        let reason = error.into_inner().to_string();
        FlowError { pointer, reason }
    })?;
    flow.check()?;
    Ok(flow)
}

/// Every `verb` is a string: serde would also take a variant's index.
fn check_tags(value: &serde_json::Value, pointer: &mut String) -> Result<(), FlowError> {
    let length = pointer.len();
    match value {
        serde_json::Value::Object(fields) => {
            if fields.get("verb").is_some_and(|tag| !tag.is_string()) {
                return Err(fail(format!("{pointer}/verb"), "must be a verb's name"));
            }
            for (key, field) in fields {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                check_tags(field, pointer)?;
                pointer.truncate(length);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                pointer.push_str(&format!("/{index}"));
                check_tags(item, pointer)?;
                pointer.truncate(length);
            }
        }
        _ => {}
    }
    Ok(())
}

/// A serde path (`verbs[2].options.1`) as a JSON pointer.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}

impl Flow {
    /// Checks what serde cannot: ranges, keys, names, nesting.
    pub fn check(&self) -> Result<(), FlowError> {
        if self.verbs.is_empty() {
            return Err(fail("/verbs", "a flow needs at least one verb"));
        }
        let mut count = 0;
        check_verbs(&self.verbs, "/verbs", 1, &mut count)
    }

    /// What it names outside itself.
    pub fn references(&self) -> References {
        let mut references = References::default();
        collect(&self.verbs, "/verbs", &mut references);
        references
    }
}

fn fail(pointer: impl Into<String>, reason: impl Into<String>) -> FlowError {
    FlowError {
        pointer: pointer.into(),
        reason: reason.into(),
    }
}

fn range(value: u32, low: u32, high: u32, pointer: String) -> Result<(), FlowError> {
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(fail(pointer, format!("must be {low} to {high}")))
    }
}

fn is_dtmf_key(key: &str) -> bool {
    key.len() == 1
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

fn check_key(key: &Option<String>, pointer: String) -> Result<(), FlowError> {
    match key {
        Some(key) if !is_dtmf_key(key) => Err(fail(pointer, "must be one of 0-9, * or #")),
        _ => Ok(()),
    }
}

/// `text` is `low` to `high` bytes, each `allowed`.
fn check_chars(
    text: &str,
    low: usize,
    high: usize,
    allowed: fn(u8) -> bool,
    pointer: String,
    rule: &str,
) -> Result<(), FlowError> {
    if (low..=high).contains(&text.len()) && text.bytes().all(allowed) {
        Ok(())
    } else {
        Err(fail(pointer, format!("must be {rule}")))
    }
}

fn name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// A prompt's name: 1 to 4 `/`-separated parts of 1 to 64 letters,
/// digits, `_` or `-` (`en/greeting`).
fn check_prompt_name(name: &str, pointer: String) -> Result<(), FlowError> {
    let parts: Vec<&str> = name.split('/').collect();
    let valid = parts.len() <= 4
        && parts
            .iter()
            .all(|part| (1..=64).contains(&part.len()) && part.bytes().all(name_byte));
    if valid {
        Ok(())
    } else {
        Err(fail(
            pointer,
            "must be a prompt's name: 1 to 4 '/'-separated parts of letters, digits, '_' or '-'",
        ))
    }
}

fn check_url(url: &str, pointer: String) -> Result<(), FlowError> {
    // Plain http: Switchboard has no TLS client.
    let rest = url.strip_prefix("http://");
    match rest {
        Some(rest)
            if !rest.is_empty()
                && url.len() <= 2000
                && rest.bytes().all(|byte| (b'!'..=b'~').contains(&byte)) =>
        {
            Ok(())
        }
        _ => Err(fail(
            pointer,
            "must be an http:// URL of printable ASCII (non-ASCII percent-encoded; https is not fetched)",
        )),
    }
}

fn check_number(number: &str, pointer: String) -> Result<(), FlowError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(fail(
            pointer,
            "must be a number: 1 to 15 digits, '+' optional",
        ))
    }
}

/// The call's own variables, which `set` may not overwrite.
const CALL_VARIABLES: [&str; 4] = ["caller_id", "did", "digits", "time"];

fn check_variable(name: &str, pointer: String) -> Result<(), FlowError> {
    let valid = (1..=64).contains(&name.len())
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(fail(
            pointer,
            "must be 1 to 64 letters, digits or '_', not starting with a digit",
        ))
    }
}

fn check_time_of_day(text: &str, pointer: String) -> Result<(), FlowError> {
    let valid = text.len() == 5
        && text.as_bytes()[2] == b':'
        && text[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && text[3..].parse::<u8>().is_ok_and(|m| m < 60)
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 2 || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(fail(pointer, "must be a time of day HH:MM"))
    }
}

/// Checks a list of verbs at `pointer`, `depth` levels deep.
fn check_verbs(
    verbs: &[Verb],
    pointer: &str,
    depth: usize,
    count: &mut usize,
) -> Result<(), FlowError> {
    if depth > MAX_DEPTH {
        return Err(fail(
            pointer,
            format!("verbs nest at most {MAX_DEPTH} deep"),
        ));
    }
    for (index, verb) in verbs.iter().enumerate() {
        *count += 1;
        if *count > MAX_VERBS {
            return Err(fail(
                format!("{pointer}/{index}"),
                format!("a flow has at most {MAX_VERBS} verbs"),
            ));
        }
        check_verb(verb, &format!("{pointer}/{index}"), depth, count)?;
    }
    Ok(())
}

/// Only what may be played while waiting for keys: `say`, `play`, `pause`.
fn check_prompt(
    verbs: &[Verb],
    pointer: &str,
    depth: usize,
    count: &mut usize,
) -> Result<(), FlowError> {
    for (index, verb) in verbs.iter().enumerate() {
        if !matches!(
            verb,
            Verb::Say { .. } | Verb::Play { .. } | Verb::Pause { .. }
        ) {
            return Err(fail(
                format!("{pointer}/{index}/verb"),
                "a prompt holds only say, play and pause",
            ));
        }
    }
    check_verbs(verbs, pointer, depth + 1, count)
}

fn check_verb(verb: &Verb, at: &str, depth: usize, count: &mut usize) -> Result<(), FlowError> {
    let field = |name: &str| format!("{at}/{name}");
    match verb {
        Verb::Answer {} | Verb::Hangup {} => Ok(()),
        Verb::Ring { count: rings } => range(*rings, 1, 20, field("count")),
        Verb::Say {
            text,
            voice,
            repeat,
        } => {
            if text.trim().is_empty() || text.chars().count() > 2000 {
                return Err(fail(field("text"), "must be 1 to 2000 characters"));
            }
            if let Some(voice) = voice {
                check_chars(
                    voice,
                    1,
                    64,
                    |b| name_byte(b) || b == b'+',
                    field("voice"),
                    "1 to 64 letters, digits, '_', '-' or '+'",
                )?;
            }
            range(*repeat, 1, 10, field("repeat"))
        }
        Verb::Play {
            prompt,
            url,
            repeat,
        } => {
            match (prompt, url) {
                (Some(prompt), None) => check_prompt_name(prompt, field("prompt"))?,
                (None, Some(url)) => check_url(url, field("url"))?,
                _ => return Err(fail(at, "needs exactly one of prompt and url")),
            }
            range(*repeat, 1, 10, field("repeat"))
        }
        Verb::Pause { seconds } => {
            if seconds.is_finite() && (0.1..=60.0).contains(seconds) {
                Ok(())
            } else {
                Err(fail(field("seconds"), "must be 0.1 to 60"))
            }
        }
        Verb::Gather {
            prompt,
            num_digits,
            finish_on_key,
            timeout_seconds,
            retries,
            invalid_prompt,
        } => {
            if let Some(digits) = num_digits {
                range(*digits, 1, 32, field("num_digits"))?;
            } else if finish_on_key.is_none() {
                return Err(fail(at, "needs num_digits, finish_on_key or both"));
            }
            check_key(finish_on_key, field("finish_on_key"))?;
            range(*timeout_seconds, 1, 60, field("timeout_seconds"))?;
            range(*retries, 0, 10, field("retries"))?;
            check_prompt(prompt, &field("prompt"), depth, count)?;
            check_prompt(invalid_prompt, &field("invalid_prompt"), depth, count)
        }
        Verb::Menu {
            prompt,
            options,
            invalid,
            timeout_seconds,
            retries,
        } => {
            if options.is_empty() {
                return Err(fail(field("options"), "a menu needs at least one option"));
            }
            range(*timeout_seconds, 1, 60, field("timeout_seconds"))?;
            range(*retries, 0, 10, field("retries"))?;
            check_prompt(prompt, &field("prompt"), depth, count)?;
            for (key, verbs) in options {
                let pointer = format!("{at}/options/{}", key.replace('~', "~0").replace('/', "~1"));
                if !is_dtmf_key(key) {
                    return Err(fail(pointer, "an option's key is one of 0-9, * or #"));
                }
                if verbs.is_empty() {
                    return Err(fail(pointer, "an option needs at least one verb"));
                }
                check_verbs(verbs, &pointer, depth + 1, count)?;
            }
            check_prompt(invalid, &field("invalid"), depth, count)
        }
        Verb::Record {
            finish_on_key,
            max_seconds,
            silence_seconds,
            ..
        } => {
            check_key(finish_on_key, field("finish_on_key"))?;
            range(*max_seconds, 1, 3600, field("max_seconds"))?;
            range(*silence_seconds, 1, 60, field("silence_seconds"))
        }
        Verb::Voicemail {
            mailbox,
            finish_on_key,
            max_seconds,
            silence_seconds,
        } => {
            check_chars(
                mailbox,
                1,
                64,
                name_byte,
                field("box"),
                "1 to 64 letters, digits, '-' or '_'",
            )?;
            check_key(finish_on_key, field("finish_on_key"))?;
            range(*max_seconds, 1, 3600, field("max_seconds"))?;
            range(*silence_seconds, 1, 60, field("silence_seconds"))
        }
        Verb::Dial {
            target,
            timeout_seconds,
            caller_id,
            whisper,
        } => {
            let target_at = field("target");
            match target {
                DialTarget::Phone(extension) => check_chars(
                    extension,
                    1,
                    32,
                    |b| name_byte(b) || b == b'.',
                    format!("{target_at}/phone"),
                    "a phone's extension: 1 to 32 letters, digits, '.', '_' or '-'",
                )?,
                DialTarget::Agent(login) => check_chars(
                    login,
                    1,
                    64,
                    |b| name_byte(b) || b == b'.',
                    format!("{target_at}/agent"),
                    "an agent's login: 1 to 64 letters, digits, '.', '_' or '-'",
                )?,
                DialTarget::Number(number) => check_number(number, format!("{target_at}/number"))?,
                DialTarget::Did(number) => check_number(number, format!("{target_at}/did"))?,
            }
            range(*timeout_seconds, 1, 300, field("timeout_seconds"))?;
            if let Some(caller_id) = caller_id {
                check_number(caller_id, field("caller_id"))?;
            }
            check_prompt(whisper, &field("whisper"), depth, count)
        }
        Verb::HoldMusic { prompt, seconds } => {
            if let Some(prompt) = prompt {
                check_prompt_name(prompt, field("prompt"))?;
            }
            match seconds {
                Some(seconds) => range(*seconds, 1, 86_400, field("seconds")),
                None => Ok(()),
            }
        }
        Verb::Redirect { flow } => {
            if *flow > 0 {
                Ok(())
            } else {
                Err(fail(field("flow"), "must be a flow's id"))
            }
        }
        Verb::Webhook {
            url,
            timeout_seconds,
            fallback_flow,
        } => {
            check_url(url, field("url"))?;
            range(*timeout_seconds, 1, 30, field("timeout_seconds"))?;
            match fallback_flow {
                Some(flow) if *flow <= 0 => {
                    Err(fail(field("fallback_flow"), "must be a flow's id"))
                }
                _ => Ok(()),
            }
        }
        Verb::Set { variable, value } => {
            check_variable(variable, field("variable"))?;
            if CALL_VARIABLES.contains(&variable.as_str()) {
                return Err(fail(
                    field("variable"),
                    format!("{variable} is the call's own and cannot be set"),
                ));
            }
            if value.chars().count() > 1000 {
                return Err(fail(field("value"), "must be at most 1000 characters"));
            }
            Ok(())
        }
        Verb::If {
            variable,
            equals,
            starts_with,
            one_of,
            between,
            then,
            otherwise,
        } => {
            check_variable(variable, field("variable"))?;
            let tests = [
                equals.is_some(),
                starts_with.is_some(),
                one_of.is_some(),
                between.is_some(),
            ];
            if tests.iter().filter(|given| **given).count() != 1 {
                return Err(fail(
                    at,
                    "needs exactly one of equals, starts_with, in and between",
                ));
            }
            for (text, name) in [(equals, "equals"), (starts_with, "starts_with")] {
                if text
                    .as_ref()
                    .is_some_and(|text| text.chars().count() > 1000)
                {
                    return Err(fail(field(name), "must be at most 1000 characters"));
                }
            }
            if let Some(values) = one_of {
                if values.is_empty() || values.len() > 100 {
                    return Err(fail(field("in"), "must list 1 to 100 values"));
                }
                if let Some(index) = values.iter().position(|value| value.chars().count() > 1000) {
                    return Err(fail(
                        format!("{at}/in/{index}"),
                        "must be at most 1000 characters",
                    ));
                }
            }
            if let Some([from, to]) = between {
                if variable != "time" {
                    return Err(fail(
                        field("between"),
                        "between compares only the time variable",
                    ));
                }
                check_time_of_day(from, field("between/0"))?;
                check_time_of_day(to, field("between/1"))?;
            }
            if then.is_empty() {
                return Err(fail(field("then"), "needs at least one verb"));
            }
            check_verbs(then, &field("then"), depth + 1, count)?;
            check_verbs(otherwise, &field("else"), depth + 1, count)
        }
    }
}

fn collect(verbs: &[Verb], pointer: &str, references: &mut References) {
    for (index, verb) in verbs.iter().enumerate() {
        let at = format!("{pointer}/{index}");
        match verb {
            Verb::Say { .. } => {
                references
                    .speaks
                    .get_or_insert_with(|| format!("{at}/text"));
            }
            Verb::Play {
                prompt: Some(prompt),
                ..
            }
            | Verb::HoldMusic {
                prompt: Some(prompt),
                ..
            } => references
                .prompts
                .push((format!("{at}/prompt"), prompt.clone())),
            Verb::Redirect { flow } => references.flows.push((format!("{at}/flow"), *flow)),
            Verb::Voicemail { mailbox, .. } => references
                .mailboxes
                .push((format!("{at}/box"), mailbox.clone())),
            Verb::Webhook {
                fallback_flow: Some(flow),
                ..
            } => references
                .flows
                .push((format!("{at}/fallback_flow"), *flow)),
            _ => {}
        }
        match verb {
            Verb::Gather {
                prompt,
                invalid_prompt,
                ..
            } => {
                collect(prompt, &format!("{at}/prompt"), references);
                collect(invalid_prompt, &format!("{at}/invalid_prompt"), references);
            }
            Verb::Menu {
                prompt,
                options,
                invalid,
                ..
            } => {
                collect(prompt, &format!("{at}/prompt"), references);
                for (key, verbs) in options {
                    collect(verbs, &format!("{at}/options/{key}"), references);
                }
                collect(invalid, &format!("{at}/invalid"), references);
            }
            Verb::Dial {
                target, whisper, ..
            } => {
                match target {
                    DialTarget::Phone(extension) => references
                        .phones
                        .push((format!("{at}/target/phone"), extension.clone())),
                    DialTarget::Agent(login) => references
                        .agents
                        .push((format!("{at}/target/agent"), login.clone())),
                    DialTarget::Number(_) | DialTarget::Did(_) => {}
                }
                collect(whisper, &format!("{at}/whisper"), references);
            }
            Verb::If {
                then, otherwise, ..
            } => {
                collect(then, &format!("{at}/then"), references);
                collect(otherwise, &format!("{at}/else"), references);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(document: serde_json::Value) -> FlowError {
        parse(&document).expect_err("refused")
    }

    #[test]
    fn a_full_flow_reads_and_round_trips() {
        let document = json!({"verbs": [
            {"verb": "answer"},
            {"verb": "ring", "count": 2},
            {"verb": "say", "text": "Welcome."},
            {"verb": "play", "prompt": "en/demo-4000"},
            {"verb": "pause", "seconds": 0.5},
            {"verb": "gather", "num_digits": 4, "finish_on_key": "#",
             "prompt": [{"verb": "say", "text": "Your PIN."}], "retries": 2},
            {"verb": "set", "variable": "tier", "value": "gold"},
            {"verb": "if", "variable": "time", "between": ["22:00", "06:00"],
             "then": [{"verb": "voicemail", "box": "night"}],
             "else": [{"verb": "hold_music", "seconds": 30}]},
            {"verb": "menu", "prompt": [{"verb": "say", "text": "1 or 2."}],
             "options": {
                "1": [{"verb": "dial", "target": {"phone": "1001"}, "timeout_seconds": 20,
                       "whisper": [{"verb": "say", "text": "A sales call."}]}],
                "2": [{"verb": "redirect", "flow": 7}],
                "#": [{"verb": "webhook", "url": "http://example.com/next", "fallback_flow": 8}]},
             "invalid": [{"verb": "say", "text": "Sorry."}]},
            {"verb": "record", "max_seconds": 60},
            {"verb": "hangup"}
        ]});
        let flow = parse(&document).unwrap();
        assert_eq!(flow.verbs.len(), 11);
        let again = parse(&serde_json::to_value(&flow).unwrap()).unwrap();
        assert_eq!(again, flow, "what is stored reads back the same");
        let references = flow.references();
        assert_eq!(
            references.flows,
            vec![
                ("/verbs/8/options/#/0/fallback_flow".to_string(), 8),
                ("/verbs/8/options/2/0/flow".to_string(), 7),
            ]
        );
        assert_eq!(
            references.phones,
            vec![(
                "/verbs/8/options/1/0/target/phone".to_string(),
                "1001".to_string()
            )]
        );
        assert_eq!(
            references.prompts,
            vec![("/verbs/3/prompt".to_string(), "en/demo-4000".to_string())]
        );
        assert_eq!(references.speaks.as_deref(), Some("/verbs/2/text"));
        assert_eq!(
            references.mailboxes,
            vec![("/verbs/7/then/0/box".to_string(), "night".to_string())]
        );
    }

    #[test]
    fn structural_errors_name_the_value() {
        let e = error(json!({"verbs": [{"verb": "answer"}, {"verb": "ring"}]}));
        assert_eq!(e.pointer, "/verbs/1");
        assert!(e.reason.contains("count"), "{e}");
        let e = error(json!({"verbs": [{"verb": "dance"}]}));
        assert_eq!(e.pointer, "/verbs/0/verb");
        assert!(e.reason.contains("dance"), "{e}");
        // Inside a verb (an internally tagged object), a value of the wrong
        // type is placed at the verb, and the reason says what was expected.
        let e = error(json!({"verbs": [{"verb": "ring", "count": "two"}]}));
        assert_eq!(e.pointer, "/verbs/0");
        assert!(e.reason.contains("invalid type"), "{e}");
        let e =
            error(json!({"verbs": [{"verb": "play", "prompt": null, "url": "http://x/y.wav"}]}));
        assert!(e.reason.contains("null"), "{e}");
        let e = error(
            json!({"verbs": [{"verb": "if", "variable": "did", "equals": "1",
                                        "then": [{"verb": 0}]}]}),
        );
        assert_eq!(e.pointer, "/verbs/0/then/0/verb");
        let e = error(json!({"verbs": [{"verb": "hangup", "cause": 1}]}));
        assert!(e.reason.contains("cause"), "{e}");
        let e = error(json!([[{"verb": "hangup"}]]));
        assert_eq!(e.pointer, "");
        let e = error(json!({"verbs": [], "extra": 1}));
        assert!(e.reason.contains("extra"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_value() {
        let cases = [
            (json!({"verbs": []}), "/verbs"),
            (
                json!({"verbs": [{"verb": "ring", "count": 0}]}),
                "/verbs/0/count",
            ),
            (
                json!({"verbs": [{"verb": "say", "text": "  "}]}),
                "/verbs/0/text",
            ),
            (json!({"verbs": [{"verb": "play"}]}), "/verbs/0"),
            (
                json!({"verbs": [{"verb": "play", "url": "ftp://x/y.wav"}]}),
                "/verbs/0/url",
            ),
            (
                json!({"verbs": [{"verb": "play", "prompt": "../etc/passwd"}]}),
                "/verbs/0/prompt",
            ),
            (
                json!({"verbs": [{"verb": "pause", "seconds": 0}]}),
                "/verbs/0/seconds",
            ),
            (json!({"verbs": [{"verb": "gather"}]}), "/verbs/0"),
            (
                json!({"verbs": [{"verb": "gather", "num_digits": 2, "finish_on_key": "x"}]}),
                "/verbs/0/finish_on_key",
            ),
            (
                json!({"verbs": [{"verb": "gather", "num_digits": 2, "prompt": [{"verb": "hangup"}]}]}),
                "/verbs/0/prompt/0/verb",
            ),
            (
                json!({"verbs": [{"verb": "menu", "prompt": [], "options": {"12": [{"verb": "hangup"}]}}]}),
                "/verbs/0/options/12",
            ),
            (
                json!({"verbs": [{"verb": "menu", "prompt": [], "options": {"1": [{"verb": "ring", "count": 99}]}}]}),
                "/verbs/0/options/1/0/count",
            ),
            (
                json!({"verbs": [{"verb": "menu", "prompt": [], "options": {}}]}),
                "/verbs/0/options",
            ),
            (
                json!({"verbs": [{"verb": "dial", "target": {"number": "12ab"}}]}),
                "/verbs/0/target/number",
            ),
            (
                json!({"verbs": [{"verb": "voicemail", "box": ""}]}),
                "/verbs/0/box",
            ),
            (
                json!({"verbs": [{"verb": "redirect", "flow": 0}]}),
                "/verbs/0/flow",
            ),
            (
                json!({"verbs": [{"verb": "set", "variable": "digits", "value": "1"}]}),
                "/verbs/0/variable",
            ),
            (
                json!({"verbs": [{"verb": "if", "variable": "did", "between": ["09:00", "17:00"], "then": [{"verb": "hangup"}]}]}),
                "/verbs/0/between",
            ),
            (
                json!({"verbs": [{"verb": "if", "variable": "time", "between": ["09:00", "25:00"], "then": [{"verb": "hangup"}]}]}),
                "/verbs/0/between/1",
            ),
            (
                json!({"verbs": [{"verb": "if", "variable": "did", "equals": "1", "then": []}]}),
                "/verbs/0/then",
            ),
        ];
        for (document, pointer) in cases {
            let e = error(document.clone());
            assert_eq!(e.pointer, pointer, "{document}: {e}");
        }
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let mut verbs = json!([{"verb": "hangup"}]);
        for _ in 0..MAX_DEPTH {
            verbs = json!([{"verb": "if", "variable": "did", "equals": "1", "then": verbs}]);
        }
        let e = error(json!({ "verbs": verbs }));
        assert!(e.reason.contains("nest"), "{e}");
        let many: Vec<_> = (0..=MAX_VERBS).map(|_| json!({"verb": "answer"})).collect();
        let e = error(json!({ "verbs": many }));
        assert_eq!(e.pointer, format!("/verbs/{MAX_VERBS}"));
    }
}
