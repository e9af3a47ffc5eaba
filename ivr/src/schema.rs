//! The flow language as JSON Schema (2020-12, as OpenAPI 3.1 takes it),
//! for the API's document and for operators' editors. It states what
//! [`crate::flow::parse`] checks of a document's shape and values; what
//! only the store can know (that a named flow, phone or prompt exists) is
//! not in it.

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The flow language's schemas, by name, each referring to the others as
/// `{prefix}{name}` (e.g. `#/components/schemas/`). `FlowDocument` is a
/// whole flow.
pub fn json_schemas(prefix: &str) -> BTreeMap<String, Value> {
    let reference = |name: &str| json!({ "$ref": format!("{prefix}{name}") });
    let verbs = |name: &str, min: usize| json!({"type": "array", "minItems": min, "items": reference(name)});
    let count = |low: u32, high: u32, default: Option<u32>| {
        let mut schema = json!({"type": "integer", "minimum": low, "maximum": high});
        if let Some(default) = default {
            schema["default"] = json!(default);
        }
        schema
    };
    let key = json!({"type": "string", "pattern": "^[0-9*#]$", "description": "A DTMF key"});
    let text =
        |max: usize| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": "\\S"});
    let url = json!({"type": "string", "maxLength": 2000, "pattern": "^http://[!-~]+$"});
    let number = json!({"type": "string", "pattern": "^\\+?[0-9]{1,15}$"});
    let prompt_name = json!({
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,3}$",
        "description": "A prompt's name (en/greeting)"
    });
    let variable = json!({"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"});
    let flow_id = json!({"type": "integer", "minimum": 1, "maximum": 9_007_199_254_740_991_i64});
    let time_of_day = json!({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"});
    let verb = |name: &str, description: &str, required: &[&str], properties: Value| {
        let mut all = json!({"verb": {"const": name}});
        if let Value::Object(extra) = properties {
            all.as_object_mut().expect("an object").extend(extra);
        }
        let mut required_all = vec!["verb".to_string()];
        required_all.extend(required.iter().map(|field| field.to_string()));
        json!({
            "type": "object",
            "description": description,
            "additionalProperties": false,
            "required": required_all,
            "properties": all,
        })
    };

    let mut schemas = BTreeMap::new();
    let mut add = |name: &str, schema: Value| {
        schemas.insert(name.to_string(), schema);
    };
    add(
        "FlowDocument",
        json!({
            "type": "object",
            "description": "An IVR flow: its verbs, run in order",
            "additionalProperties": false,
            "required": ["verbs"],
            "properties": {"verbs": verbs("FlowVerb", 1)},
        }),
    );
    let names = [
        "Answer",
        "Ring",
        "Say",
        "Play",
        "Pause",
        "Gather",
        "Menu",
        "Record",
        "Voicemail",
        "Dial",
        "HoldMusic",
        "Redirect",
        "Webhook",
        "Set",
        "If",
        "Hangup",
    ];
    add(
        "FlowVerb",
        json!({"oneOf": names.iter().map(|name| reference(&format!("FlowVerb{name}"))).collect::<Vec<_>>()}),
    );
    add(
        "FlowPromptVerb",
        json!({
            "description": "What may be played while waiting for keys",
            "oneOf": [reference("FlowVerbSay"), reference("FlowVerbPlay"), reference("FlowVerbPause")]
        }),
    );
    add(
        "FlowVerbAnswer",
        verb("answer", "Answers the call", &[], json!({})),
    );
    add("FlowVerbHangup", verb("hangup", "Hangs up", &[], json!({})));
    add(
        "FlowVerbRing",
        verb(
            "ring",
            "Rings before going on",
            &["count"],
            json!({"count": count(1, 20, None)}),
        ),
    );
    add(
        "FlowVerbSay",
        verb(
            "say",
            "Speaks text (text to speech)",
            &["text"],
            json!({
                "text": text(2000),
                "voice": {"type": "string", "pattern": "^[A-Za-z0-9_+-]{1,64}$"},
                "repeat": count(1, 10, Some(1)),
            }),
        ),
    );
    let mut play = verb(
        "play",
        "Plays a prompt by name, or a WAV file by URL",
        &[],
        json!({"prompt": prompt_name, "url": url, "repeat": count(1, 10, Some(1))}),
    );
    play["oneOf"] = json!([{"required": ["prompt"]}, {"required": ["url"]}]);
    add("FlowVerbPlay", play);
    add(
        "FlowVerbPause",
        verb(
            "pause",
            "Silence",
            &["seconds"],
            json!({"seconds": {"type": "number", "minimum": 0.1, "maximum": 60}}),
        ),
    );
    let mut gather = verb(
        "gather",
        "Collects digits into the digits variable",
        &[],
        json!({
            "prompt": verbs("FlowPromptVerb", 0),
            "num_digits": count(1, 32, None),
            "finish_on_key": key,
            "timeout_seconds": count(1, 60, Some(5)),
            "retries": count(0, 10, Some(0)),
            "invalid_prompt": verbs("FlowPromptVerb", 0),
        }),
    );
    gather["anyOf"] = json!([{"required": ["num_digits"]}, {"required": ["finish_on_key"]}]);
    add("FlowVerbGather", gather);
    add(
        "FlowVerbMenu",
        verb(
            "menu",
            "Asks for one key and branches on it",
            &["prompt", "options"],
            json!({
                "prompt": verbs("FlowPromptVerb", 0),
                "options": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": "^[0-9*#]$"},
                    "additionalProperties": verbs("FlowVerb", 1),
                },
                "invalid": verbs("FlowPromptVerb", 0),
                "timeout_seconds": count(1, 60, Some(5)),
                "retries": count(0, 10, Some(2)),
            }),
        ),
    );
    add(
        "FlowVerbRecord",
        verb(
            "record",
            "Records the caller",
            &[],
            json!({
                "beep": {"type": "boolean", "default": true},
                "finish_on_key": key,
                "max_seconds": count(1, 3600, Some(120)),
                "silence_seconds": count(1, 60, Some(5)),
            }),
        ),
    );
    add(
        "FlowVerbVoicemail",
        verb(
            "voicemail",
            "Leaves a message in a voicemail box",
            &["box"],
            json!({
                "box": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                "finish_on_key": key,
                "max_seconds": count(1, 3600, Some(120)),
                "silence_seconds": count(1, 60, Some(5)),
            }),
        ),
    );
    let target = |field: &str, schema: Value| {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": [field],
            "properties": {field: schema},
        })
    };
    add(
        "FlowVerbDial",
        verb(
            "dial",
            "Calls someone and bridges the caller to whoever answers",
            &["target"],
            json!({
                "target": {"oneOf": [
                    target("phone", json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,32}$"})),
                    target("agent", json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"})),
                    target("number", number.clone()),
                    target("did", number.clone()),
                ]},
                "timeout_seconds": count(1, 300, Some(30)),
                "caller_id": number,
                "whisper": verbs("FlowPromptVerb", 0),
            }),
        ),
    );
    add(
        "FlowVerbHoldMusic",
        verb(
            "hold_music",
            "Hold music",
            &[],
            json!({"prompt": prompt_name, "seconds": count(1, 86_400, None)}),
        ),
    );
    add(
        "FlowVerbRedirect",
        verb(
            "redirect",
            "Goes on with another flow",
            &["flow"],
            json!({"flow": flow_id}),
        ),
    );
    add(
        "FlowVerbWebhook",
        verb(
            "webhook",
            "Fetches the next verbs from the operator's URL",
            &["url"],
            json!({
                "url": url,
                "timeout_seconds": count(1, 30, Some(5)),
                "fallback_flow": flow_id,
            }),
        ),
    );
    let mut set_variable = variable.clone();
    set_variable["not"] = json!({"enum": ["caller_id", "did", "digits", "time"]});
    add(
        "FlowVerbSet",
        verb(
            "set",
            "Sets a call variable",
            &["variable", "value"],
            json!({"variable": set_variable, "value": {"type": "string", "maxLength": 1000}}),
        ),
    );
    let mut branch = verb(
        "if",
        "Runs then or else by a test of a call variable",
        &["variable", "then"],
        json!({
            "variable": variable,
            "equals": {"type": "string", "maxLength": 1000},
            "starts_with": {"type": "string", "maxLength": 1000},
            "in": {"type": "array", "minItems": 1, "maxItems": 100,
                   "items": {"type": "string", "maxLength": 1000}},
            "between": {"type": "array", "minItems": 2, "maxItems": 2, "items": time_of_day},
            "then": verbs("FlowVerb", 1),
            "else": verbs("FlowVerb", 0),
        }),
    );
    // Exactly one test; `between` only of `time`.
    branch["oneOf"] = json!([
        {"required": ["equals"]},
        {"required": ["starts_with"]},
        {"required": ["in"]},
        {"required": ["between"]},
    ]);
    branch["anyOf"] = json!([
        {"not": {"required": ["between"]}},
        {"properties": {"variable": {"const": "time"}}},
    ]);
    add("FlowVerbIf", branch);
    schemas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_has_a_schema_and_every_reference_resolves() {
        let schemas = json_schemas("#/");
        let text = serde_json::to_string(&schemas).unwrap();
        for piece in text.split("\"$ref\":\"#/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(schemas.contains_key(name), "{name}");
        }
        for verb in [
            "answer",
            "ring",
            "say",
            "play",
            "pause",
            "gather",
            "menu",
            "record",
            "voicemail",
            "dial",
            "hold_music",
            "redirect",
            "webhook",
            "set",
            "if",
            "hangup",
        ] {
            assert!(
                text.contains(&format!("{{\"const\":\"{verb}\"}}")),
                "{verb}"
            );
        }
    }
}
