//! `/api/v1/prompts`: prompts and hold music uploaded by operators, by
//! name, for flows' `play` and `hold_music` and DIDs' inbound settings.
//! An upload (WAV, MP3, FLAC or Ogg Vorbis, the content deciding) is
//! decoded and converted once, to the engine's 8 kHz mono, and stored as
//! a WAV in the database, so that every node sharing it plays the same
//! audio; a bad file is a 422 and replaces nothing. The bundled prompts
//! (`en/greeting`, `hold-music`, ...) are listed by
//! `GET /api/v1/prompts/bundled` and cannot be replaced.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody};
use super::paging::{Page, Paging, ValidQuery};
use crate::switch::DirectoryChange;
use media::player::Prompt;

/// The longest upload, in bytes.
pub const LARGEST_UPLOAD: usize = 32 << 20;
/// The longest prompt or hold music.
pub const LONGEST: Duration = Duration::from_secs(600);

/// An uploaded prompt.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadedPrompt {
    /// Its name (what flows play it by).
    pub name: String,
    /// The account it belongs to, if any.
    pub account_id: Option<i64>,
    /// Its length in seconds.
    pub seconds: f64,
    /// When it was first uploaded (RFC 3339, UTC).
    pub created_at: String,
    /// When it was last replaced.
    pub updated_at: String,
}

/// An uploaded prompt as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct PromptRow {
    name: String,
    account_id: Option<i64>,
    seconds: f64,
    created_at: String,
    updated_at: String,
}

impl From<PromptRow> for UploadedPrompt {
    fn from(row: PromptRow) -> Self {
        UploadedPrompt {
            name: row.name,
            account_id: row.account_id,
            seconds: row.seconds,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Paging and filters of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PromptQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only the account's prompts.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
}

/// Who an upload belongs to.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The account it belongs to.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
}

/// Whether `name` may name an uploaded prompt: 1-64 letters, digits, `_`
/// or `-` (as flows name prompts), and not a bundled prompt's.
fn check_name(name: &str) -> Result<(), ApiError> {
    let plain = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"_-".contains(&byte));
    if !plain {
        return Err(ApiError::invalid(
            "/name",
            "must be 1 to 64 letters, digits, '_' or '-'",
        ));
    }
    if crate::prompts::is_bundled(name) || name == "bundled" {
        return Err(ApiError::invalid(
            "/name",
            "is a bundled prompt's name: choose another",
        ));
    }
    Ok(())
}

/// The engine's audio as a WAV file (8 kHz, mono, 16-bit).
fn wav_of(prompt: &Prompt) -> Result<Vec<u8>, hound::Error> {
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + prompt.len() * 2));
    {
        let mut writer = hound::WavWriter::new(
            &mut out,
            hound::WavSpec {
                channels: 1,
                sample_rate: media::audio::SAMPLE_RATE,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            },
        )?;
        for &sample in prompt.samples() {
            writer.write_sample(sample)?;
        }
        writer.finalize()?;
    }
    Ok(out.into_inner())
}

/// Uploads a prompt or hold music by name, or replaces it: the body is the
/// audio file (WAV, MP3, FLAC or Ogg Vorbis), converted once to 8 kHz
/// mono. Calls from then on play the new audio.
#[utoipa::path(
    put,
    path = "/api/v1/prompts/{name}",
    operation_id = "upload_prompt",
    tag = "prompts",
    security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "The prompt's name"),
        UploadQuery,
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "A WAV, MP3, FLAC or Ogg Vorbis file, up to 10 minutes"),
    responses(
        (status = 200, description = "Replaced", body = UploadedPrompt),
        (status = 201, description = "Made", body = UploadedPrompt),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "The account does not exist", body = ErrorBody),
        (status = 413, description = "The file is too large", body = ErrorBody),
        (status = 422, description = "The name is wrong, or the file is not audio we read", body = ErrorBody),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ValidQuery(query): ValidQuery<UploadQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<UploadedPrompt>), ApiError> {
    caller.require(Role::Admin)?;
    check_name(&name)?;
    if let Some(account_id) = query.account_id {
        super::accounts::require_exists(&state, account_id).await?;
    }
    let decoded = tokio::task::spawn_blocking(move || {
        let prompt = Prompt::decode(&body, None).map_err(|error| {
            format!("not audio this server reads (WAV, MP3, FLAC, Ogg Vorbis): {error}")
        })?;
        if prompt.is_empty() {
            return Err("the file holds no audio".to_string());
        }
        if prompt.duration() > LONGEST {
            return Err(format!("longer than {} minutes", LONGEST.as_secs() / 60));
        }
        let wav = wav_of(&prompt).map_err(|error| error.to_string())?;
        Ok((prompt, wav))
    })
    .await
    .map_err(|error| ApiError::Internal(error.into()))?;
    let (prompt, wav) = decoded.map_err(|reason| ApiError::invalid("/body", reason))?;
    let seconds = prompt.duration().as_secs_f64();
    let now = state.now_rfc3339();
    let existed = state.storage.prompt_exists(&name).await?;
    state
        .storage
        .upsert_prompt(&name, query.account_id, seconds, wav, &now)
        .await
        .map_err(|error| ApiError::from_write(error, || "the account is gone".to_string()))?;
    tracing::info!(prompt = %name, seconds = format!("{seconds:.1}"), "prompt uploaded");
    state
        .directory(DirectoryChange::PromptActive {
            name: name.clone(),
            prompt,
        })
        .await;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(fetch(&state, &name).await?)))
}

async fn fetch(state: &AppState, name: &str) -> Result<UploadedPrompt, ApiError> {
    state
        .storage
        .prompt(name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no uploaded prompt {name:?}")))
}

/// Uploaded prompts, by name.
#[utoipa::path(
    get,
    path = "/api/v1/prompts",
    operation_id = "list_prompts",
    tag = "prompts",
    security(("bearer" = [])),
    params(PromptQuery),
    responses(
        (status = 200, description = "A page of prompts", body = Page<UploadedPrompt>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<PromptQuery>,
) -> Result<Json<Page<UploadedPrompt>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (prompts, total) = state
        .storage
        .prompts(paging.window(), query.account_id)
        .await?;
    Ok(Json(paging.page(prompts, total)))
}

/// The bundled prompts' names.
#[utoipa::path(
    get,
    path = "/api/v1/prompts/bundled",
    operation_id = "list_bundled_prompts",
    tag = "prompts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Their names", body = Vec<String>),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn bundled(caller: Caller) -> Result<Json<Vec<&'static str>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(crate::prompts::bundled_names()))
}

/// One uploaded prompt.
#[utoipa::path(
    get,
    path = "/api/v1/prompts/{name}",
    operation_id = "get_prompt",
    tag = "prompts",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The prompt's name")),
    responses(
        (status = 200, description = "The prompt", body = UploadedPrompt),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such uploaded prompt", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<UploadedPrompt>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(fetch(&state, &name).await?))
}

/// An uploaded prompt's audio as converted: `audio/wav`, 8 kHz mono.
#[utoipa::path(
    get,
    path = "/api/v1/prompts/{name}/audio",
    operation_id = "download_prompt",
    tag = "prompts",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The prompt's name")),
    responses(
        (status = 200, description = "The WAV file", content_type = "audio/wav"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such uploaded prompt", body = ErrorBody),
    )
)]
pub async fn audio(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::ReadOnly)?;
    let wav = state
        .storage
        .prompt_audio(&name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no uploaded prompt {name:?}")))?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], wav).into_response())
}

/// Deletes an uploaded prompt no flow or DID names.
#[utoipa::path(
    delete,
    path = "/api/v1/prompts/{name}",
    operation_id = "delete_prompt",
    tag = "prompts",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The prompt's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such uploaded prompt", body = ErrorBody),
        (status = 409, description = "A flow or DID plays it", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    fetch(&state, &name).await?;
    let plays_it = |named: &ivr::References| named.prompts.iter().any(|(_, n)| *n == name);
    if let Some(user) = super::naming::first(&state.storage, None, plays_it).await? {
        return Err(ApiError::Conflict(format!(
            "{user} plays this prompt: change it first"
        )));
    }
    state.storage.delete_prompt(&name).await?;
    tracing::info!(prompt = %name, "prompt deleted");
    state.directory(DirectoryChange::PromptGone { name }).await;
    Ok(StatusCode::NO_CONTENT)
}
