//! `/api/v1/tokens`: bearer tokens, created (the secret shown once),
//! listed and revoked. Admins manage tokens up to their own role; the
//! first one, a sysadmin's, is made at first start (see
//! [`ensure_admin_token`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Caller, Role, new_secret, new_token_id};
use super::error::{ApiError, ErrorBody, ValidJson};
use crate::storage::Storage;

/// A token as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    /// Its id, for revoking it.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// The user whose login made it, if one did.
    pub user_id: Option<i64>,
    /// When it stops working, if it does (a login's token).
    pub expires_at: Option<String>,
}

/// A token just made, with its secret: the only time it is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub token: Token,
    /// The bearer secret (`Authorization: Bearer <secret>`).
    pub secret: String,
}

/// A token to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for (1-100 characters, not all blank).
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// What it may do: at most the caller's own role.
    pub role: Role,
}

/// The tokens, newest first.
#[utoipa::path(
    operation_id = "list_tokens",
    get,
    path = "/api/v1/tokens",
    tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every token, revoked ones included", body = Vec<Token>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Token>>, ApiError> {
    caller.require(Role::Admin)?;
    let rows = state.storage.tokens().await?;
    let tokens = rows
        .into_iter()
        .filter_map(
            |(id, name, role, created_at, revoked_at, user_id, expires_at)| {
                Some(Token {
                    id,
                    name,
                    role: Role::from_name(&role)?,
                    created_at,
                    revoked_at,
                    user_id,
                    expires_at,
                })
            },
        )
        .collect();
    Ok(Json(tokens))
}

/// Makes a token; its secret is in the answer and nowhere else.
#[utoipa::path(
    operation_id = "create_token",
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    security(("bearer" = [])),
    request_body = NewToken,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 201, description = "Made; `secret` is shown this once", body = CreatedToken),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role, and at least the role given", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    caller.require(Role::Admin)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("/name", "must be 1 to 100 characters"));
    }
    if !caller.role.at_least(new.role) {
        return Err(ApiError::Forbidden(format!(
            "a {} token cannot make a {} token",
            caller.role.as_str(),
            new.role.as_str()
        )));
    }
    let created = insert(&state.storage, name, new.role, &state.now_rfc3339()).await?;
    tracing::info!(
        token = %created.token.id,
        role = new.role.as_str(),
        by = %caller.token_id,
        "API token created"
    );
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a token at once; it stays listed, with `revoked_at`.
#[utoipa::path(
    operation_id = "revoke_token",
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked (or already was)"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role, and at least the token's role", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 409, description = "The last active sysadmin token", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if id.contains('\0') {
        return Err(ApiError::NotFound("no such token".to_string()));
    }
    let role = state
        .storage
        .token_role(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no token {id}")))?;
    let role = Role::from_name(&role).unwrap_or(Role::Sysadmin);
    if !caller.role.at_least(role) {
        return Err(ApiError::Forbidden(format!(
            "a {} token cannot revoke a {} token",
            caller.role.as_str(),
            role.as_str()
        )));
    }
    // The last active sysadmin token stays, even with two revocations at
    // once.
    let revoked = state
        .storage
        .revoke_token(&id, &state.now_rfc3339())
        .await?;
    if !revoked && role == Role::Sysadmin && state.storage.token_is_active(&id).await? {
        return Err(ApiError::Conflict(
            "this is the last active sysadmin token: make another first".to_string(),
        ));
    }
    tracing::info!(token = %id, by = %caller.token_id, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}

async fn insert(
    storage: &Storage,
    name: &str,
    role: Role,
    now: &str,
) -> Result<CreatedToken, ApiError> {
    let secret = new_secret();
    let id = new_token_id();
    storage
        .insert_token(&id, name, role.as_str(), &secret.sha256, now)
        .await?;
    Ok(CreatedToken {
        token: Token {
            id,
            name: name.to_string(),
            role,
            created_at: now.to_string(),
            revoked_at: None,
            user_id: None,
            expires_at: None,
        },
        secret: secret.secret,
    })
}

/// On a database with no active sysadmin token (first start): makes one,
/// has `keep` store its secret (`DATA_DIR/admin-token`) before the token
/// is stored, so a failure leaves no token that nobody holds, and returns
/// the secret to show once. `None` when an active sysadmin token exists.
pub async fn ensure_admin_token(
    storage: &Storage,
    now: &str,
    keep: impl FnOnce(&str) -> anyhow::Result<()>,
) -> anyhow::Result<Option<String>> {
    if storage.active_sysadmin_tokens().await? > 0 {
        return Ok(None);
    }
    let secret = new_secret();
    keep(&secret.secret)?;
    storage
        .insert_token(
            &new_token_id(),
            "admin (first start)",
            Role::Sysadmin.as_str(),
            &secret.sha256,
            now,
        )
        .await?;
    Ok(Some(secret.secret))
}
