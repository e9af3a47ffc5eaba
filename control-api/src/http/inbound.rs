//! How a DID takes calls, besides what answers it:
//!
//! - [`Inbound`], a DID's `inbound` field: a calls limit (with the text a
//!   caller over it hears, else 486 Busy Here), a priority (for queues),
//!   the flow that runs on the account's holidays, and schedules (one-time
//!   and recurring) that pick another flow at set local times;
//! - [`InboundSettings`], `answered_by: {"type": "inbound", ...}`: the
//!   reference platform's inbound settings (rings, greeting, call options,
//!   voicemail, whisper, hold music), kept as ordinary settings and
//!   compiled to an IVR flow ([`InboundSettings::compile`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::switch::did_route::{CallsLimit, DidRoute, Schedule, When};

/// A DID's calls limit, priority, holiday flow and schedules. Every field
/// is optional; a `PATCH` replaces the whole object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    /// At most this many calls of the DID in progress at once (waiting,
    /// in the IVR or talking), 1-10000.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::integer::optional_u32"
    )]
    #[schema(minimum = 1, maximum = 10000)]
    pub calls_limit: Option<u32>,
    /// What a caller over the limit hears (spoken, then the call ends);
    /// without it the caller gets busy (486). Needs text to speech.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub calls_limit_text: Option<String>,
    /// Calls with a higher priority go ahead in queues (0-100, default 0).
    #[serde(default, deserialize_with = "whole_u32")]
    #[schema(minimum = 0, maximum = 100)]
    pub priority: u32,
    /// The flow that runs on the account's holidays for this DID (local
    /// 00:00 to 23:59:59 in the DID's time zone).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::integer::optional_i64"
    )]
    pub holiday_flow_id: Option<i64>,
    /// Flows that run on a date at set local times instead of what answers
    /// the DID; they beat the weekly ones.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::error::objects"
    )]
    #[schema(max_items = 100)]
    pub one_time: Vec<OneTimeSchedule>,
    /// Flows that run on weekdays at set local times instead of what
    /// answers the DID.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::error::objects"
    )]
    #[schema(max_items = 100)]
    pub weekly: Vec<WeeklySchedule>,
}

fn whole_u32<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    use serde::de::Error;
    let value = super::integer::i64(deserializer)?;
    u32::try_from(value).map_err(|_| D::Error::custom(format!("{value} is out of range")))
}

/// A one-time schedule: on `date`, from `from` to `to` local time (past
/// midnight when `to` is earlier; the whole day when they are equal),
/// flow `flow_id` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OneTimeSchedule {
    /// The flow.
    #[serde(deserialize_with = "super::integer::i64")]
    pub flow_id: i64,
    /// The date (YYYY-MM-DD).
    #[schema(format = Date)]
    pub date: String,
    /// From, local `HH:MM` (inclusive).
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    /// To, local `HH:MM` (exclusive).
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub to: String,
}

/// A weekly schedule: on `days`, from `from` to `to` local time (past
/// midnight when `to` is earlier, belonging to the day it starts; the
/// whole day when they are equal), flow `flow_id` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklySchedule {
    /// The flow.
    #[serde(deserialize_with = "super::integer::i64")]
    pub flow_id: i64,
    /// The weekdays.
    #[schema(min_items = 1)]
    pub days: BTreeSet<Day>,
    /// From, local `HH:MM` (inclusive).
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    /// To, local `HH:MM` (exclusive).
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub to: String,
}

/// A weekday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Day {
    fn weekday(self) -> chrono::Weekday {
        match self {
            Day::Mon => chrono::Weekday::Mon,
            Day::Tue => chrono::Weekday::Tue,
            Day::Wed => chrono::Weekday::Wed,
            Day::Thu => chrono::Weekday::Thu,
            Day::Fri => chrono::Weekday::Fri,
            Day::Sat => chrono::Weekday::Sat,
            Day::Sun => chrono::Weekday::Sun,
        }
    }
}

fn time_of_day(text: &str) -> Option<chrono::NaiveTime> {
    (text.len() == 5)
        .then(|| chrono::NaiveTime::parse_from_str(text, "%H:%M").ok())
        .flatten()
}

fn speakable(text: &str, path: &str, tts: bool) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.chars().count() > 500 {
        return Err(ApiError::invalid(path, "must be 1 to 500 characters"));
    }
    if !tts {
        return Err(ApiError::invalid(
            path,
            "text is spoken with a text-to-speech program (espeak-ng or flite), and this server has none",
        ));
    }
    Ok(())
}

impl Inbound {
    /// Checks the values (`tts`: whether texts can be spoken); `prefix`
    /// is the field's JSON pointer.
    pub fn check(&self, prefix: &str, tts: bool) -> Result<(), ApiError> {
        if let Some(limit) = self.calls_limit
            && !(1..=10_000).contains(&limit)
        {
            return Err(ApiError::invalid(
                format!("{prefix}/calls_limit"),
                "must be 1 to 10000",
            ));
        }
        if let Some(text) = &self.calls_limit_text {
            speakable(text, &format!("{prefix}/calls_limit_text"), tts)?;
        }
        if self.priority > 100 {
            return Err(ApiError::invalid(
                format!("{prefix}/priority"),
                "must be 0 to 100",
            ));
        }
        for (list, length) in [
            ("one_time", self.one_time.len()),
            ("weekly", self.weekly.len()),
        ] {
            if length > 100 {
                return Err(ApiError::invalid(
                    format!("{prefix}/{list}"),
                    "at most 100 schedules",
                ));
            }
        }
        let times = |at: &str, from: &str, to: &str| -> Result<(), ApiError> {
            time_of_day(from)
                .ok_or_else(|| ApiError::invalid(format!("{at}/from"), "must be HH:MM"))?;
            time_of_day(to)
                .ok_or_else(|| ApiError::invalid(format!("{at}/to"), "must be HH:MM"))?;
            Ok(())
        };
        for (index, schedule) in self.one_time.iter().enumerate() {
            let at = format!("{prefix}/one_time/{index}");
            if chrono::NaiveDate::parse_from_str(&schedule.date, "%Y-%m-%d").is_err() {
                return Err(ApiError::invalid(
                    format!("{at}/date"),
                    "must be a date, YYYY-MM-DD",
                ));
            }
            times(&at, &schedule.from, &schedule.to)?;
        }
        for (index, schedule) in self.weekly.iter().enumerate() {
            let at = format!("{prefix}/weekly/{index}");
            if schedule.days.is_empty() {
                return Err(ApiError::invalid(
                    format!("{at}/days"),
                    "needs at least one day",
                ));
            }
            times(&at, &schedule.from, &schedule.to)?;
        }
        Ok(())
    }

    /// The flows it names, with their pointers.
    pub fn flows(&self, prefix: &str) -> Vec<(String, i64)> {
        let mut flows: Vec<(String, i64)> = self
            .holiday_flow_id
            .map(|id| (format!("{prefix}/holiday_flow_id"), id))
            .into_iter()
            .collect();
        for (index, schedule) in self.one_time.iter().enumerate() {
            flows.push((
                format!("{prefix}/one_time/{index}/flow_id"),
                schedule.flow_id,
            ));
        }
        for (index, schedule) in self.weekly.iter().enumerate() {
            flows.push((format!("{prefix}/weekly/{index}/flow_id"), schedule.flow_id));
        }
        flows
    }

    /// Whether it changes nothing: the DID's calls go where `answered_by`
    /// says.
    fn is_plain(&self) -> bool {
        self.calls_limit.is_none()
            && self.holiday_flow_id.is_none()
            && self.one_time.is_empty()
            && self.weekly.is_empty()
    }

    /// The call controller's route for a DID in `time_zone` answered by
    /// `default` with these options and its `holidays`.
    pub fn route(
        &self,
        default: crate::switch::Route,
        time_zone: chrono_tz::Tz,
        holidays: Vec<chrono::NaiveDate>,
    ) -> crate::switch::Route {
        if self.is_plain() {
            return default;
        }
        let calls_limit = self.calls_limit.map(|calls| CallsLimit {
            calls,
            flow: self.calls_limit_text.as_ref().and_then(|text| {
                let document = json!({"verbs": [
                    {"verb": "answer"},
                    {"verb": "say", "text": text},
                    {"verb": "hangup"}
                ]});
                ivr::parse(&document).ok().map(Arc::new)
            }),
        });
        let once = self.one_time.iter().filter_map(|schedule| {
            Some(Schedule {
                flow: schedule.flow_id,
                when: When::Once(
                    chrono::NaiveDate::parse_from_str(&schedule.date, "%Y-%m-%d").ok()?,
                ),
                from: time_of_day(&schedule.from)?,
                to: time_of_day(&schedule.to)?,
            })
        });
        let weekly = self.weekly.iter().filter_map(|schedule| {
            Some(Schedule {
                flow: schedule.flow_id,
                when: When::Weekly(schedule.days.iter().map(|day| day.weekday()).collect()),
                from: time_of_day(&schedule.from)?,
                to: time_of_day(&schedule.to)?,
            })
        });
        let schedules = once.chain(weekly).collect();
        crate::switch::Route::Did(Arc::new(DidRoute {
            default,
            time_zone,
            calls_limit,
            holiday_flow: self.holiday_flow_id,
            holidays,
            schedules,
        }))
    }
}

/// Something said or played: `{"prompt": NAME}` or `{"text": TEXT}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Speech {
    /// A prompt, played.
    Prompt {
        /// Its name (bundled or uploaded).
        #[schema(pattern = "^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,3}$")]
        prompt: String,
    },
    /// Text, spoken (needs text to speech).
    Text {
        /// 1-500 characters.
        #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
        text: String,
    },
}

impl Speech {
    fn check(&self, path: &str, tts: bool) -> Result<(), ApiError> {
        match self {
            Speech::Prompt { .. } => Ok(()),
            Speech::Text { text } => speakable(text, &format!("{path}/text"), tts),
        }
    }

    fn verb(&self) -> Value {
        match self {
            Speech::Prompt { prompt } => json!({"verb": "play", "prompt": prompt}),
            Speech::Text { text } => json!({"verb": "say", "text": text}),
        }
    }
}

/// The reference platform's inbound settings of a DID, compiled to a flow:
/// rings, the greeting (with the call options as a menu, when there are
/// some), then voicemail when there is a box, else hold music until the
/// caller hangs up (queues take the call from there once they exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundSettings {
    /// Rings (ringback, 6 s each) before the answer, 0-20 (default 0).
    #[serde(default, deserialize_with = "whole_u32")]
    #[schema(minimum = 0, maximum = 20)]
    pub rings: u32,
    /// The greeting; default "Your call will be answered momentarily."
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::error::optional_object"
    )]
    pub greeting: Option<Speech>,
    /// DTMF call options offered during the greeting.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::error::optional_object"
    )]
    pub call_options: Option<CallOptions>,
    /// Voicemail when no one takes the call.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::error::optional_object"
    )]
    pub voicemail: Option<VoicemailSettings>,
    /// Played to the answering party before the caller is put through
    /// (1-500 characters, spoken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub whisper_text: Option<String>,
    /// Hold music: a prompt's name, or the server's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,3}$")]
    pub hold_music: Option<String>,
}

/// DTMF call options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallOptions {
    /// Said after a key with no option (default: the bundled "That is not
    /// a valid option.").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub invalid_text: Option<String>,
    /// What each key (`0`-`9`, `*`, `#`) does.
    pub options: std::collections::BTreeMap<String, CallOptionAction>,
}

/// What a call option does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CallOptionAction {
    /// Goes on with one of the account's flows.
    Flow {
        /// The flow's id.
        #[serde(deserialize_with = "super::integer::i64")]
        #[schema(minimum = 1)]
        flow_id: i64,
    },
    /// Takes a message in a voicemail box.
    Voicemail {
        /// The box.
        #[serde(rename = "box")]
        #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
        mailbox: String,
    },
    /// Plays a recording (a prompt's name); the call then goes on as
    /// after the greeting.
    Play {
        /// The prompt.
        #[schema(pattern = "^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,3}$")]
        prompt: String,
    },
    /// Calls a number out through the trunk.
    Dial {
        /// The number.
        #[schema(pattern = "^\\+?[0-9]{1,15}$")]
        number: String,
    },
}

/// Voicemail settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailSettings {
    /// The box messages go to.
    #[serde(rename = "box")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub mailbox: String,
    /// Played before the beep (default: the bundled "Please leave a message
    /// after the tone.").
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::error::optional_object"
    )]
    pub greeting: Option<Speech>,
    /// Said after the message (default: the bundled "Thank you for calling.
    /// Goodbye.").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub goodbye_text: Option<String>,
    /// The key that ends the message (default `#`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9*#]$")]
    pub finish_on_key: Option<String>,
    /// Longest message, seconds (1-3600, default 120).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::integer::optional_u32"
    )]
    #[schema(minimum = 1, maximum = 3600)]
    pub max_seconds: Option<u32>,
    /// Silence that ends it, seconds (1-60, default 5).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::integer::optional_u32"
    )]
    #[schema(minimum = 1, maximum = 60)]
    pub silence_seconds: Option<u32>,
}

impl InboundSettings {
    /// Checks the settings (`tts`: whether texts can be spoken): what the
    /// flow language checks is checked by compiling.
    pub fn check(&self, prefix: &str, tts: bool) -> Result<(), ApiError> {
        if self.rings > 20 {
            return Err(ApiError::invalid(
                format!("{prefix}/rings"),
                "must be 0 to 20",
            ));
        }
        if let Some(greeting) = &self.greeting {
            greeting.check(&format!("{prefix}/greeting"), tts)?;
        }
        if let Some(options) = &self.call_options {
            if let Some(text) = &options.invalid_text {
                speakable(text, &format!("{prefix}/call_options/invalid_text"), tts)?;
            }
            if options.options.is_empty() {
                return Err(ApiError::invalid(
                    format!("{prefix}/call_options/options"),
                    "needs at least one option",
                ));
            }
            for key in options.options.keys() {
                if !matches!(key.as_bytes(), [b'0'..=b'9' | b'*' | b'#']) {
                    return Err(ApiError::invalid(
                        format!("{prefix}/call_options/options/{key}"),
                        "a key is one of 0-9, * or #",
                    ));
                }
            }
        }
        if let Some(voicemail) = &self.voicemail {
            if let Some(greeting) = &voicemail.greeting {
                greeting.check(&format!("{prefix}/voicemail/greeting"), tts)?;
            }
            if let Some(text) = &voicemail.goodbye_text {
                speakable(text, &format!("{prefix}/voicemail/goodbye_text"), tts)?;
            }
        }
        if let Some(text) = &self.whisper_text {
            speakable(text, &format!("{prefix}/whisper_text"), tts)?;
        }
        // The rest (keys, boxes, numbers, lengths) as the flow checks it,
        // its pointer mapped back to the setting.
        self.compile()
            .map(|_| ())
            .map_err(|(pointer, reason)| ApiError::invalid(format!("{prefix}{pointer}"), reason))
    }

    /// The flows, prompts and voicemail boxes it names, with their
    /// pointers.
    pub fn references(&self, prefix: &str) -> ivr::References {
        let mut flows = Vec::new();
        let mut prompts = Vec::new();
        let mut mailboxes = Vec::new();
        let mut speech = |speech: &Option<Speech>, at: String| {
            if let Some(Speech::Prompt { prompt }) = speech {
                prompts.push((format!("{at}/prompt"), prompt.clone()));
            }
        };
        speech(&self.greeting, format!("{prefix}/greeting"));
        if let Some(voicemail) = &self.voicemail {
            speech(&voicemail.greeting, format!("{prefix}/voicemail/greeting"));
        }
        if let Some(music) = &self.hold_music {
            prompts.push((format!("{prefix}/hold_music"), music.clone()));
        }
        if let Some(voicemail) = &self.voicemail {
            mailboxes.push((format!("{prefix}/voicemail/box"), voicemail.mailbox.clone()));
        }
        if let Some(options) = &self.call_options {
            for (key, action) in &options.options {
                let at = format!("{prefix}/call_options/options/{key}");
                match action {
                    CallOptionAction::Flow { flow_id } => {
                        flows.push((format!("{at}/flow_id"), *flow_id))
                    }
                    CallOptionAction::Play { prompt } => {
                        prompts.push((format!("{at}/prompt"), prompt.clone()))
                    }
                    CallOptionAction::Voicemail { mailbox } => {
                        mailboxes.push((format!("{at}/box"), mailbox.clone()))
                    }
                    CallOptionAction::Dial { .. } => {}
                }
            }
        }
        ivr::References {
            flows,
            prompts,
            mailboxes,
            ..ivr::References::default()
        }
    }

    /// The flow the settings make; an error is a pointer into the
    /// settings and the reason.
    pub fn compile(&self) -> Result<ivr::Flow, (String, String)> {
        let greeting = self.greeting.as_ref().map_or_else(
            || json!({"verb": "play", "prompt": "en/greeting"}),
            Speech::verb,
        );
        let whisper: Vec<Value> = self
            .whisper_text
            .iter()
            .map(|text| json!({"verb": "say", "text": text}))
            .collect();
        let voicemail = |settings: &VoicemailSettings| -> Vec<Value> {
            let mut verb = json!({"verb": "voicemail", "box": settings.mailbox});
            if let Some(key) = &settings.finish_on_key {
                verb["finish_on_key"] = json!(key);
            }
            if let Some(seconds) = settings.max_seconds {
                verb["max_seconds"] = json!(seconds);
            }
            if let Some(seconds) = settings.silence_seconds {
                verb["silence_seconds"] = json!(seconds);
            }
            vec![
                settings.greeting.as_ref().map_or_else(
                    || json!({"verb": "play", "prompt": "en/voicemail"}),
                    Speech::verb,
                ),
                verb,
                settings.goodbye_text.as_ref().map_or_else(
                    || json!({"verb": "play", "prompt": "en/goodbye"}),
                    |text| json!({"verb": "say", "text": text}),
                ),
                json!({"verb": "hangup"}),
            ]
        };
        let mut verbs = Vec::new();
        if self.rings > 0 {
            verbs.push(json!({"verb": "ring", "count": self.rings}));
        }
        verbs.push(json!({"verb": "answer"}));
        match &self.call_options {
            Some(options) => {
                let mut branches = serde_json::Map::new();
                for (key, action) in &options.options {
                    let branch = match action {
                        CallOptionAction::Flow { flow_id } => {
                            vec![json!({"verb": "redirect", "flow": flow_id})]
                        }
                        CallOptionAction::Voicemail { mailbox } => voicemail(&VoicemailSettings {
                            mailbox: mailbox.clone(),
                            greeting: None,
                            goodbye_text: None,
                            finish_on_key: None,
                            max_seconds: None,
                            silence_seconds: None,
                        }),
                        CallOptionAction::Play { prompt } => {
                            vec![json!({"verb": "play", "prompt": prompt})]
                        }
                        CallOptionAction::Dial { number } => {
                            vec![json!({"verb": "dial", "target": {"number": number},
                                        "whisper": whisper})]
                        }
                    };
                    branches.insert(key.clone(), Value::Array(branch));
                }
                let invalid = options.invalid_text.as_ref().map_or_else(
                    || json!({"verb": "play", "prompt": "en/invalid"}),
                    |text| json!({"verb": "say", "text": text}),
                );
                verbs.push(
                    json!({"verb": "menu", "prompt": [greeting], "options": branches,
                                  "invalid": [invalid]}),
                );
            }
            None => verbs.push(greeting),
        }
        match &self.voicemail {
            Some(settings) => verbs.extend(voicemail(settings)),
            None => {
                let mut music = json!({"verb": "hold_music"});
                if let Some(prompt) = &self.hold_music {
                    music["prompt"] = json!(prompt);
                }
                verbs.push(music);
            }
        }
        let document = json!({ "verbs": verbs });
        ivr::parse(&document).map_err(|error| (self.pointer_of(&error.pointer), error.reason))
    }

    /// A pointer into the compiled flow, mapped back to the setting it came
    /// from (as near as it can tell).
    fn pointer_of(&self, flow_pointer: &str) -> String {
        if flow_pointer.contains("/box") || flow_pointer.contains("/finish_on_key") {
            return "/voicemail".into();
        }
        if flow_pointer.contains("/max_seconds") {
            return "/voicemail/max_seconds".into();
        }
        if flow_pointer.contains("/silence_seconds") {
            return "/voicemail/silence_seconds".into();
        }
        if flow_pointer.contains("/options/") || flow_pointer.contains("/number") {
            return "/call_options/options".into();
        }
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_compile_to_a_flow_of_rings_greeting_options_and_voicemail() {
        let settings: InboundSettings = serde_json::from_value(json!({
            "rings": 2,
            "greeting": {"text": "Welcome to Acme."},
            "call_options": {"options": {
                "1": {"type": "play", "prompt": "en/greeting"},
                "2": {"type": "voicemail", "box": "sales"},
                "3": {"type": "dial", "number": "+15551230000"}
            }},
            "voicemail": {"box": "support", "finish_on_key": "*", "max_seconds": 60},
            "whisper_text": "A call from the Acme line."
        }))
        .unwrap();
        let flow = serde_json::to_value(settings.compile().unwrap()).unwrap();
        let verbs = flow["verbs"].as_array().unwrap();
        assert_eq!(verbs[0], json!({"verb": "ring", "count": 2}));
        assert_eq!(verbs[1], json!({"verb": "answer"}));
        assert_eq!(verbs[2]["verb"], "menu");
        assert_eq!(
            verbs[2]["prompt"][0],
            json!({"verb": "say", "text": "Welcome to Acme."})
        );
        assert_eq!(verbs[2]["options"]["2"][1]["box"], "sales");
        assert_eq!(
            verbs[2]["options"]["3"][0]["whisper"][0]["text"],
            "A call from the Acme line."
        );
        assert_eq!(verbs[3], json!({"verb": "play", "prompt": "en/voicemail"}));
        assert_eq!(
            verbs[4],
            json!({"verb": "voicemail", "box": "support", "finish_on_key": "*", "max_seconds": 60})
        );
        assert_eq!(verbs[6], json!({"verb": "hangup"}));
    }

    #[test]
    fn without_settings_the_caller_is_greeted_and_waits_with_music() {
        let settings: InboundSettings = serde_json::from_value(json!({})).unwrap();
        let flow = serde_json::to_value(settings.compile().unwrap()).unwrap();
        assert_eq!(
            flow["verbs"],
            json!([
                {"verb": "answer"},
                {"verb": "play", "prompt": "en/greeting"},
                {"verb": "hold_music"}
            ])
        );
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let settings: InboundSettings = serde_json::from_value(json!({
            "voicemail": {"box": "no spaces"}
        }))
        .unwrap();
        assert_eq!(settings.compile().unwrap_err().0, "/voicemail");
        let settings: InboundSettings = serde_json::from_value(json!({
            "call_options": {"options": {"x": {"type": "play", "prompt": "a"}}}
        }))
        .unwrap();
        assert_eq!(settings.compile().unwrap_err().0, "/call_options/options");
    }
}
