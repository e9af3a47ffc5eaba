//! `/api/v1/voicemails`: the messages flows' `voicemail` verbs took, newest
//! first, by box or by the agent whose boxes they are in; each one's audio (HTTP range requests served by tower-http),
//! marking it heard, and deleting it (file and row).

use crate::storage::Flag;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::paging::{IdPath, Page, Paging, ValidQuery};
use super::recordings::file_of;

/// A voicemail message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Voicemail {
    /// Its id.
    pub id: i64,
    /// The box it was left in.
    pub mailbox: String,
    /// The call it was left on.
    pub call_id: String,
    /// Who left it (the caller ID).
    pub caller_id: String,
    /// The number that was called.
    pub did: String,
    /// The account of that DID, if any.
    pub account_id: Option<i64>,
    /// Its length in seconds.
    pub duration_seconds: f64,
    /// When it was left (RFC 3339, UTC).
    pub received_at: String,
    /// Whether someone has marked it heard.
    pub heard: bool,
    /// What was said, when transcribed.
    pub transcription: Option<String>,
    /// `pending` (being transcribed), `done`, `failed`, or `unavailable`
    /// (no speech-to-text engine on the server: not transcribed).
    pub transcription_status: String,
}

/// A message as stored.
#[derive(sqlx::FromRow)]
pub struct VoicemailRow {
    id: i64,
    mailbox: String,
    call_id: String,
    caller_id: String,
    did: String,
    account_id: Option<i64>,
    file_name: String,
    duration_seconds: f64,
    received_at: String,
    heard: Flag,
    transcription: Option<String>,
    transcription_status: String,
}

impl From<VoicemailRow> for Voicemail {
    fn from(row: VoicemailRow) -> Self {
        Voicemail {
            id: row.id,
            mailbox: row.mailbox,
            call_id: row.call_id,
            caller_id: row.caller_id,
            did: row.did,
            account_id: row.account_id,
            duration_seconds: row.duration_seconds,
            received_at: row.received_at,
            heard: row.heard.into(),
            transcription: row.transcription,
            transcription_status: row.transcription_status,
        }
    }
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VoicemailQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only this box's messages.
    pub mailbox: Option<String>,
    /// Only heard (`true`) or new (`false`) messages.
    pub heard: Option<bool>,
    /// Only messages left for this account's DIDs.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only messages in the boxes this agent reads: its own and its
    /// groups' (`/api/v1/voicemail-boxes`).
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub agent_id: Option<i64>,
}

/// Changes to a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailChanges {
    /// Mark it heard, or new again.
    pub heard: bool,
}

/// Message `id`, if `caller` may read it: anyone's from the supervisor
/// role up, an agent's own boxes' with the agent role (another's is a
/// 404, as if it were not there).
async fn readable(state: &AppState, caller: &Caller, id: i64) -> Result<VoicemailRow, ApiError> {
    let reader = caller.voicemail_reader()?;
    let message = row(state, id).await?;
    if let Some(agent_id) = reader
        && !state
            .storage
            .agent_reads_mailbox(agent_id, &message.mailbox)
            .await?
    {
        return Err(ApiError::NotFound(format!("no voicemail message {id}")));
    }
    Ok(message)
}

async fn row(state: &AppState, id: i64) -> Result<VoicemailRow, ApiError> {
    state
        .storage
        .voicemail(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no voicemail message {id}")))
}

/// Voicemail messages, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/voicemails",
    operation_id = "list_voicemails",
    tag = "voicemails",
    security(("bearer" = [])),
    params(VoicemailQuery),
    responses(
        (status = 200, description = "A page of messages", body = Page<Voicemail>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role, or the agent role as an agent", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<VoicemailQuery>,
) -> Result<Json<Page<Voicemail>>, ApiError> {
    let agent_id = caller.voicemail_agent(query.agent_id)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .voicemails(
            paging.window(),
            query.mailbox.as_deref(),
            query.heard,
            query.account_id,
            agent_id,
        )
        .await?;
    Ok(Json(paging.page(
        rows.into_iter().map(Voicemail::from).collect(),
        total,
    )))
}

/// One message.
#[utoipa::path(
    get,
    path = "/api/v1/voicemails/{id}",
    operation_id = "get_voicemail",
    tag = "voicemails",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The message's id")),
    responses(
        (status = 200, description = "The message", body = Voicemail),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role, or the agent role as an agent", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Voicemail>, ApiError> {
    Ok(Json(readable(&state, &caller, id).await?.into()))
}

/// The message's audio, `audio/wav` (8 kHz mono), with HTTP range
/// requests.
#[utoipa::path(
    get,
    path = "/api/v1/voicemails/{id}/audio",
    operation_id = "download_voicemail",
    tag = "voicemails",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The message's id")),
    responses(
        (status = 200, description = "The WAV file", content_type = "audio/wav"),
        (status = 206, description = "The range asked for", content_type = "audio/wav"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role, or the agent role as an agent", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 416, description = "The range is outside the file"),
    )
)]
pub async fn audio(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    request: Request,
) -> Result<Response, ApiError> {
    let row = readable(&state, &caller, id).await?;
    let path = file_of(&state.voicemail_dir, &row.file_name)
        .filter(|path| path.is_file())
        .ok_or_else(|| ApiError::NotFound(format!("voicemail message {id} has no file")))?;
    super::recordings::serve_wav(path, request).await
}

/// Marks a message heard (or new again).
#[utoipa::path(
    patch,
    path = "/api/v1/voicemails/{id}",
    operation_id = "update_voicemail",
    tag = "voicemails",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The message's id")),
    request_body = VoicemailChanges,
    responses(
        (status = 200, description = "The message as changed", body = Voicemail),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role, or the agent role as an agent", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<VoicemailChanges>,
) -> Result<Json<Voicemail>, ApiError> {
    readable(&state, &caller, id).await?;
    if !state.storage.set_voicemail_heard(id, changes.heard).await? {
        return Err(ApiError::NotFound(format!("no voicemail message {id}")));
    }
    Ok(Json(row(&state, id).await?.into()))
}

/// Deletes a message: its file and its row.
#[utoipa::path(
    delete,
    path = "/api/v1/voicemails/{id}",
    operation_id = "delete_voicemail",
    tag = "voicemails",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The message's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Supervisor)?;
    let row = row(&state, id).await?;
    if let Some(path) = file_of(&state.voicemail_dir, &row.file_name) {
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(ApiError::Internal(error.into())),
        }
    }
    state.storage.delete_voicemail(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
