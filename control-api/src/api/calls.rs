//! `/api/v1/calls`: the calls in progress, from the call controller
//! itself, and hanging one up.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody};
use crate::switch::{Command, LiveCall};

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
