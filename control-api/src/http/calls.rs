//! `/api/v1/calls`: the calls in progress, from the call controller
//! itself, and what the API does to them: place one, hang one up,
//! transfer it, record it, play a prompt into it.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use crate::switch::{Command, ControlError, Destination, Listeners, LiveCall, Origination};

/// Who a placed call rings first.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CallParty {
    /// A provisioned phone, which must be registered.
    Phone {
        /// Its extension.
        #[schema(pattern = "^[A-Za-z0-9._-]{1,32}$")]
        extension: String,
    },
    /// A number, out through the trunk.
    Number {
        /// Digits, `*` and `#`, optionally after `+`.
        #[schema(pattern = "^\\+?[0-9*#]{1,32}$")]
        number: String,
    },
}

/// Where a call goes: a phone, a number out through the trunk, or one of
/// our numbers (a DID, a demo number), whatever answers it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CallDestination {
    /// A provisioned phone, which must be registered.
    Phone {
        /// Its extension.
        #[schema(pattern = "^[A-Za-z0-9._-]{1,32}$")]
        extension: String,
    },
    /// A number, out through the trunk.
    Number {
        /// Digits, `*` and `#`, optionally after `+`.
        #[schema(pattern = "^\\+?[0-9*#]{1,32}$")]
        number: String,
    },
    /// One of our numbers: what answers it takes the call.
    Did {
        /// The number.
        #[schema(pattern = "^\\+?[0-9*#]{1,32}$")]
        number: String,
    },
}

impl CallParty {
    fn destination(&self, path: &str) -> Result<Destination, ApiError> {
        match self {
            Self::Phone { extension } => {
                Ok(Destination::Phone(extension_at(extension, path)?.into()))
            }
            Self::Number { number } => Ok(Destination::Number(number_at(number, path)?.into())),
        }
    }
}

impl CallDestination {
    fn destination(&self, path: &str) -> Result<Destination, ApiError> {
        match self {
            Self::Phone { extension } => {
                Ok(Destination::Phone(extension_at(extension, path)?.into()))
            }
            Self::Number { number } => Ok(Destination::Number(number_at(number, path)?.into())),
            Self::Did { number } => Ok(Destination::Did(number_at(number, path)?.into())),
        }
    }
}

/// Whether `text` is 1 to `longest` ASCII letters and digits or `extra`.
fn token(text: &str, longest: usize, extra: &[u8]) -> bool {
    (1..=longest).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || extra.contains(&byte))
}

fn extension_at(extension: &str, path: &str) -> Result<String, ApiError> {
    if token(extension, 32, b"._-") {
        Ok(extension.to_string())
    } else {
        Err(ApiError::invalid(
            format!("{path}/extension"),
            "must be 1 to 32 letters, digits, '.', '-' or '_'",
        ))
    }
}

fn number_at(number: &str, path: &str) -> Result<String, ApiError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if (1..=32).contains(&digits.len())
        && digits
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'*' || byte == b'#')
    {
        Ok(number.to_string())
    } else {
        Err(ApiError::invalid(
            format!("{path}/number"),
            "must be 1 to 32 digits, '*' or '#', optionally after '+'",
        ))
    }
}

/// A call to place.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCall {
    /// Who is called first.
    pub to: CallParty,
    /// The caller ID it is shown (the From user): 1 to 32 letters, digits,
    /// `+`, `*`, `#`, `.`, `-`, `_`.
    #[schema(pattern = "^[A-Za-z0-9+*#._-]{1,32}$")]
    pub caller_id: String,
    /// What it is joined to once it answers.
    pub then: CallDestination,
    /// How long it may ring, in seconds (1 to 300, default 60).
    #[serde(default, deserialize_with = "super::integer::optional_u32")]
    #[schema(minimum = 1, maximum = 300)]
    pub ring_timeout_seconds: Option<u32>,
}

/// A call placed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlacedCall {
    /// Its id (the Call-ID of our INVITE), to follow it in
    /// `/api/v1/calls` and the events.
    pub call_id: String,
}

/// Where to transfer a call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The caller's new destination.
    pub to: CallDestination,
}

/// A recording started.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordingStarted {
    /// The recording's id, under which `/api/v1/recordings` lists it once
    /// the call has ended.
    pub recording_id: String,
}

/// Who hears a prompt.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromptListeners {
    /// The caller.
    Caller,
    /// The called party.
    Callee,
    /// Both (the default).
    #[default]
    Both,
}

/// A prompt to play into a call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayPrompt {
    /// A bundled prompt's name, such as `en/greeting`.
    #[schema(pattern = "^[A-Za-z0-9/_-]{1,64}$")]
    pub prompt: String,
    /// Who hears it (default: both parties).
    #[serde(default)]
    pub to: PromptListeners,
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> ApiError {
        match error {
            ControlError::NoSuchCall => ApiError::NotFound("no such call in progress".into()),
            ControlError::Unknown { field, reason } => ApiError::invalid(field, reason),
            ControlError::Conflict(reason) => ApiError::Conflict(reason),
            ControlError::Failed(reason) => ApiError::Internal(anyhow::anyhow!(reason)),
        }
    }
}

/// A call's id in the path (any text; a SIP Call-ID).
pub struct CallIdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CallIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            // NUL names nothing (and no database can hold it as text).
            .filter(|axum::extract::Path(id)| !id.contains('\0'))
            .map(|axum::extract::Path(id)| Self(id))
            .ok_or_else(|| ApiError::NotFound("no such call".to_string()))
    }
}

/// Asks the call controller, which answers between two SIP events.
async fn ask<T>(
    state: &AppState,
    command: impl FnOnce(tokio::sync::oneshot::Sender<T>) -> Command,
) -> Result<T, ApiError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    state
        .commands
        .send(command(reply))
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("the call controller has stopped")))?;
    answer
        .await
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("the call controller did not answer")))
}

/// The calls in progress, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/calls",
    operation_id = "list_calls",
    tag = "calls",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The calls in progress", body = Vec<LiveCall>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<LiveCall>>, ApiError> {
    caller.require(Role::Supervisor)?;
    Ok(Json(ask(&state, |reply| Command::Calls { reply }).await?))
}

/// Hangs a call up: the caller gets a BYE (or a final response if it
/// still rings) and so does the called party; its record says the system
/// hung up.
#[utoipa::path(
    delete,
    path = "/api/v1/calls/{call_id}",
    operation_id = "hang_up_call",
    tag = "calls",
    security(("bearer" = [])),
    params(("call_id" = String, Path, description = "The call's id")),
    responses(
        (status = 204, description = "Hung up"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such call in progress", body = ErrorBody),
    )
)]
pub async fn hang_up(
    State(state): State<AppState>,
    caller: Caller,
    CallIdPath(call_id): CallIdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Supervisor)?;
    let existed = ask(&state, |reply| Command::Hangup {
        call_id: call_id.clone(),
        reply,
    })
    .await?;
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no call {call_id} in progress")))
    }
}

/// Places a call: `to` is called with `caller_id`; once it answers it is
/// joined to `then` (a phone, a number, or what answers one of our
/// numbers). Its events and record follow as for any call, with direction
/// `outbound`.
#[utoipa::path(
    post,
    path = "/api/v1/calls",
    operation_id = "place_call",
    tag = "calls",
    security(("bearer" = [])),
    request_body = NewCall,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 201, description = "Placed: `to` is being called", body = PlacedCall),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 409, description = "Not possible now: the phone is not registered, no trunk, a DID out of service", body = ErrorBody),
        (status = 422, description = "A bad field, or one that names nothing", body = ErrorBody),
    )
)]
pub async fn place(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewCall>,
) -> Result<(StatusCode, Json<PlacedCall>), ApiError> {
    caller.require(Role::Supervisor)?;
    if !token(&new.caller_id, 32, b"+*#._-") {
        return Err(ApiError::invalid(
            "/caller_id",
            "must be 1 to 32 letters, digits, '+', '*', '#', '.', '-' or '_'",
        ));
    }
    let ring_timeout = match new.ring_timeout_seconds {
        None => 60,
        Some(seconds @ 1..=300) => seconds,
        Some(_) => {
            return Err(ApiError::invalid(
                "/ring_timeout_seconds",
                "must be from 1 to 300",
            ));
        }
    };
    let origination = Origination {
        to: new.to.destination("/to")?,
        caller_id: new.caller_id,
        then: new.then.destination("/then")?,
        ring_timeout: Duration::from_secs(u64::from(ring_timeout)),
    };
    let call_id = ask(&state, |reply| Command::Originate { origination, reply }).await??;
    Ok((StatusCode::CREATED, Json(PlacedCall { call_id })))
}

/// Transfers a call (blind): its caller goes to `to`, and the party it
/// was talking to, if any, is hung up. An answered caller hears ringback
/// until the new party answers; the record counts that wait as transfer
/// time. A transfer that cannot go through ends the call.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{call_id}/transfer",
    operation_id = "transfer_call",
    tag = "calls",
    security(("bearer" = [])),
    params(("call_id" = String, Path, description = "The call's id")),
    request_body = Transfer,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 204, description = "Transferred: the new party is being called (or answered)"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such call in progress", body = ErrorBody),
        (status = 409, description = "Not possible now: not answered yet, the phone is not registered, no trunk", body = ErrorBody),
        (status = 422, description = "A bad field, or one that names nothing", body = ErrorBody),
    )
)]
pub async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    CallIdPath(call_id): CallIdPath,
    ValidJson(transfer): ValidJson<Transfer>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Supervisor)?;
    let to = transfer.to.destination("/to")?;
    ask(&state, |reply| Command::Transfer { call_id, to, reply }).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts recording a call into a new stereo WAV: the caller left, the
/// other party right (what the caller is played, on a call with no other
/// party). It goes on across transfers until stopped or the call ends, and
/// is listed under `/api/v1/recordings` with the call's record.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{call_id}/recording",
    operation_id = "start_call_recording",
    tag = "calls",
    security(("bearer" = [])),
    params(("call_id" = String, Path, description = "The call's id")),
    responses(
        (status = 201, description = "Recording", body = RecordingStarted),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such call in progress", body = ErrorBody),
        (status = 409, description = "Not answered yet, or recorded already", body = ErrorBody),
    )
)]
pub async fn start_recording(
    State(state): State<AppState>,
    caller: Caller,
    CallIdPath(call_id): CallIdPath,
) -> Result<(StatusCode, Json<RecordingStarted>), ApiError> {
    caller.require(Role::Supervisor)?;
    let file = ask(&state, |reply| Command::StartRecording { call_id, reply }).await??;
    Ok((
        StatusCode::CREATED,
        Json(RecordingStarted {
            recording_id: crate::cdr::recording_id(&file),
        }),
    ))
}

/// Stops a call's recording; the file is finished at once.
#[utoipa::path(
    delete,
    path = "/api/v1/calls/{call_id}/recording",
    operation_id = "stop_call_recording",
    tag = "calls",
    security(("bearer" = [])),
    params(("call_id" = String, Path, description = "The call's id")),
    responses(
        (status = 204, description = "Stopped"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such call in progress", body = ErrorBody),
        (status = 409, description = "Not answered yet, or not being recorded", body = ErrorBody),
    )
)]
pub async fn stop_recording(
    State(state): State<AppState>,
    caller: Caller,
    CallIdPath(call_id): CallIdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Supervisor)?;
    ask(&state, |reply| Command::StopRecording { call_id, reply }).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Plays a bundled prompt into an answered call, to the caller, the other
/// party or both; while it plays they hear it instead of each other (or
/// of what was playing).
#[utoipa::path(
    post,
    path = "/api/v1/calls/{call_id}/play",
    operation_id = "play_into_call",
    tag = "calls",
    security(("bearer" = [])),
    params(("call_id" = String, Path, description = "The call's id")),
    request_body = PlayPrompt,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 204, description = "Playing"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such call in progress", body = ErrorBody),
        (status = 409, description = "Not answered yet, or no other party to play to", body = ErrorBody),
        (status = 422, description = "No such prompt", body = ErrorBody),
    )
)]
pub async fn play(
    State(state): State<AppState>,
    caller: Caller,
    CallIdPath(call_id): CallIdPath,
    ValidJson(play): ValidJson<PlayPrompt>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Supervisor)?;
    if !crate::prompts::is_bundled(&play.prompt) {
        return Err(ApiError::invalid(
            "/prompt",
            format!("there is no prompt {:?}", play.prompt),
        ));
    }
    let listeners = match play.to {
        PromptListeners::Caller => Listeners::Caller,
        PromptListeners::Callee => Listeners::Callee,
        PromptListeners::Both => Listeners::Both,
    };
    ask(&state, |reply| Command::Play {
        call_id,
        prompt: play.prompt,
        listeners,
        reply,
    })
    .await??;
    Ok(StatusCode::NO_CONTENT)
}
