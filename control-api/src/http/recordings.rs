//! `/api/v1/recordings`: the recordings index with each recording's call
//! record, the audio (HTTP range requests served by tower-http), deleting,
//! and the retention sweeper that deletes recordings past their account's
//! retention and keeps the index in step with the files.

use std::path::Path;
use std::time::SystemTime;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::calls::CallIdPath;
use super::cdrs::{CdrRecord, cdr_for_call};
use super::error::{ApiError, ErrorBody};
use super::paging::{Page, Paging, ValidQuery};
use crate::storage::Storage;

/// A recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recording {
    /// Its id (also in its call's record as `recording_id`).
    pub id: String,
    /// The call it recorded.
    pub call_id: String,
    /// The account of the DID called, if any.
    pub account_id: Option<i64>,
    /// When recording began (RFC 3339, UTC).
    pub created_at: String,
    /// The WAV file's size in bytes.
    pub bytes: u64,
    /// Its length in seconds.
    pub seconds: f64,
    /// `1` (the caller, or a mix) or `2` (caller left, other party right).
    pub channels: u16,
    /// The call's record, once written.
    pub cdr: Option<CdrRecord>,
}

/// A recording's index row.
#[derive(sqlx::FromRow)]
pub struct RecordingRow {
    id: String,
    call_id: String,
    file_name: String,
    account_id: Option<i64>,
    created_at: String,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordingQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only recordings of calls to this account's DIDs.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only the recording of this call.
    pub call_id: Option<String>,
}

/// A recording's or message's file, if its name stays in the directory
/// (plain names: nothing that could leave it).
pub(super) fn file_of(dir: &Path, file_name: &str) -> Option<std::path::PathBuf> {
    let plain = !file_name.is_empty()
        && file_name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte))
        && !file_name.starts_with('.');
    plain.then(|| dir.join(file_name))
}

async fn describe(state: &AppState, row: RecordingRow) -> Result<Recording, ApiError> {
    let path = file_of(&state.recordings_dir, &row.file_name);
    let (bytes, seconds, channels) = match path {
        Some(path) => tokio::task::spawn_blocking(move || {
            let bytes = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
            match hound::WavReader::open(&path) {
                Ok(reader) => {
                    let spec = reader.spec();
                    let seconds = f64::from(reader.duration()) / f64::from(spec.sample_rate.max(1));
                    (bytes, seconds, spec.channels)
                }
                Err(_) => (bytes, 0.0, 0),
            }
        })
        .await
        .map_err(|error| ApiError::Internal(error.into()))?,
        None => (0, 0.0, 0),
    };
    let cdr = cdr_for_call(state, &row.call_id).await?;
    Ok(Recording {
        id: row.id,
        call_id: row.call_id,
        account_id: row.account_id,
        created_at: row.created_at,
        bytes,
        seconds,
        channels,
        cdr,
    })
}

async fn row(state: &AppState, id: &str) -> Result<RecordingRow, ApiError> {
    state
        .storage
        .recording(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no recording {id}")))
}

/// Recordings, newest first, each with its call's record.
#[utoipa::path(
    get,
    path = "/api/v1/recordings",
    operation_id = "list_recordings",
    tag = "recordings",
    security(("bearer" = [])),
    params(RecordingQuery),
    responses(
        (status = 200, description = "A page of recordings", body = Page<Recording>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<RecordingQuery>,
) -> Result<Json<Page<Recording>>, ApiError> {
    caller.require(Role::Supervisor)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .recordings(paging.window(), query.account_id, query.call_id.as_deref())
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(describe(&state, row).await?);
    }
    Ok(Json(paging.page(items, total)))
}

/// One recording, with its call's record.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}",
    operation_id = "get_recording",
    tag = "recordings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The recording's id")),
    responses(
        (status = 200, description = "The recording", body = Recording),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such recording", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    CallIdPath(id): CallIdPath,
) -> Result<Json<Recording>, ApiError> {
    caller.require(Role::Supervisor)?;
    let row = row(&state, &id).await?;
    Ok(Json(describe(&state, row).await?))
}

/// The recording's audio, `audio/wav`, with HTTP range requests
/// (`Range: bytes=…` gets `206 Partial Content`).
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/audio",
    operation_id = "download_recording",
    tag = "recordings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The recording's id")),
    responses(
        (status = 200, description = "The WAV file", content_type = "audio/wav"),
        (status = 206, description = "The range asked for", content_type = "audio/wav"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such recording", body = ErrorBody),
        (status = 416, description = "The range is outside the file"),
    )
)]
pub async fn audio(
    State(state): State<AppState>,
    caller: Caller,
    CallIdPath(id): CallIdPath,
    request: Request,
) -> Result<Response, ApiError> {
    caller.require(Role::Supervisor)?;
    let row = row(&state, &id).await?;
    let path = file_of(&state.recordings_dir, &row.file_name)
        .filter(|path| path.is_file())
        .ok_or_else(|| ApiError::NotFound(format!("recording {id} has no file")))?;
    serve_wav(path, request).await
}

/// Serves a WAV file as `audio/wav`, with HTTP range requests.
pub(super) async fn serve_wav(
    path: std::path::PathBuf,
    request: Request,
) -> Result<Response, ApiError> {
    let served = tower_http::services::ServeFile::new_with_mime(
        path,
        &"audio/wav".parse().expect("a valid MIME type"),
    )
    .oneshot(request)
    .await
    .map_err(|error| ApiError::Internal(error.into()))?;
    Ok(served.map(Body::new).into_response())
}

/// Deletes a recording: its file and its index row.
#[utoipa::path(
    delete,
    path = "/api/v1/recordings/{id}",
    operation_id = "delete_recording",
    tag = "recordings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The recording's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such recording", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    CallIdPath(id): CallIdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let row = row(&state, &id).await?;
    remove(
        &state.storage,
        &state.recordings_dir,
        &row.id,
        &row.file_name,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a recording's file (if there) and then its row.
async fn remove(storage: &Storage, dir: &Path, id: &str, file_name: &str) -> Result<(), ApiError> {
    if let Some(path) = file_of(dir, file_name) {
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(ApiError::Internal(error.into())),
        }
    }
    storage.delete_recording(id).await?;
    Ok(())
}

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Recordings past their retention, deleted.
    pub expired: usize,
    /// Index rows whose file was gone, dropped.
    pub missing: usize,
}

/// Deletes the recordings older than their account's retention (90 days
/// without an account) at `now`, and drops index rows whose file is gone.
pub async fn sweep(storage: &Storage, dir: &Path, now: SystemTime) -> anyhow::Result<Swept> {
    let rows = storage.recording_retentions().await?;
    let now = chrono::DateTime::<chrono::Utc>::from(now);
    let mut swept = Swept::default();
    for (id, file_name, created_at, days) in rows {
        let exists = file_of(dir, &file_name).is_some_and(|path| path.is_file());
        let expired = chrono::DateTime::parse_from_rfc3339(&created_at).is_ok_and(|created| {
            now - created.with_timezone(&chrono::Utc) > chrono::Duration::days(days)
        });
        if !exists || expired {
            remove(storage, dir, &id, &file_name)
                .await
                .map_err(|error| anyhow::anyhow!("removing recording {id}: {error:?}"))?;
            if exists {
                swept.expired += 1;
            } else {
                swept.missing += 1;
            }
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_name_files() {
        let dir = Path::new("/data/recordings");
        assert!(file_of(dir, "abc-1.wav").is_some());
        for bad in ["../x.wav", "a/b.wav", ".hidden", "", "x\0.wav"] {
            assert!(file_of(dir, bad).is_none(), "{bad:?}");
        }
    }
}
