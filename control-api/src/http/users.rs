//! `/api/v1/users` and `/api/v1/login`: people who use the API with a
//! username and password, each with a role.
//!
//! A login answers a bearer token that belongs to the user: it expires
//! (`login_token_hours`, default 12), takes the user's role at each
//! request, and stops working when the user is deactivated, locked or
//! deleted. After `login_lockout_threshold` (default 5) consecutive failed
//! logins the user is locked, and only a sysadmin unlocks it
//! (`POST /api/v1/users/{id}/unlock`). Passwords are stored as argon2id.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role, new_secret, new_token_id};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::paging::{IdPath, Page, Paging, ValidQuery};
use super::passwords;
use crate::storage::Flag;

/// How logins are policed.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    /// Consecutive failed logins that lock a user.
    pub lockout_threshold: u32,
    /// How long a login's token lasts.
    pub token_lifetime: chrono::Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            lockout_threshold: 5,
            token_lifetime: chrono::Duration::hours(12),
        }
    }
}

/// A user (never the password).
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct User {
    /// Its id.
    pub id: i64,
    /// What it logs in as (unique).
    pub username: String,
    /// A name to show.
    pub name: Option<String>,
    /// What it may do.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// Whether it may log in.
    #[sqlx(try_from = "Flag")]
    pub active: bool,
    /// The agent it is, if any: with the `agent` role it reads that
    /// agent's voicemail.
    pub agent_id: Option<i64>,
    /// Failed logins since the last good one.
    pub failed_logins: i64,
    /// When too many failed logins locked it, if they did.
    pub locked_at: Option<String>,
    /// When it last logged in.
    pub last_login_at: Option<String>,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A user to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1-64 letters, digits, `.`, `_`, `-` or `@`; unique.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    /// A name to show (up to 200 characters).
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// What it may do: at most the caller's own role.
    pub role: Role,
    /// 8-256 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    /// Whether it may log in (default true).
    #[serde(default = "yes")]
    pub active: bool,
    /// The agent it is, if any (`/api/v1/agents`).
    #[serde(default, deserialize_with = "super::integer::optional_i64")]
    pub agent_id: Option<i64>,
}

fn yes() -> bool {
    true
}

/// Changes to a user: only the fields given change. A new password does
/// not unlock a locked user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    /// A new name to show.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// A new role: at most the caller's own.
    pub role: Option<Role>,
    /// A new password.
    #[schema(min_length = 8, max_length = 256)]
    pub password: Option<String>,
    /// Whether it may log in.
    pub active: Option<bool>,
    /// The agent it is; `null`: none.
    #[serde(default, deserialize_with = "super::patch::nullable_i64")]
    #[schema(value_type = Option<i64>)]
    pub agent_id: Option<Option<i64>>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only users with this role.
    pub role: Option<Role>,
    /// Only active (`true`) or inactive (`false`) users.
    pub active: Option<bool>,
    /// Only users locked (`true`) or not (`false`).
    pub locked: Option<bool>,
}

/// A login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The username.
    #[schema(max_length = 64)]
    pub username: String,
    /// The password.
    #[schema(max_length = 256)]
    pub password: String,
}

/// A login's answer: a token for the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// The token's id (it is listed under `/api/v1/tokens`).
    pub token_id: String,
    /// The bearer secret (`Authorization: Bearer <secret>`), shown once.
    pub secret: String,
    /// When it stops working (RFC 3339, UTC).
    pub expires_at: String,
    /// Who logged in.
    pub user: User,
}

fn check_username(username: &str) -> Result<(), ApiError> {
    let valid = (1..=64).contains(&username.len())
        && username
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._@-".contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "/username",
            "must be 1 to 64 letters, digits, '.', '_', '@' or '-'",
        ))
    }
}

fn check_name(name: Option<&str>) -> Result<(), ApiError> {
    match name {
        Some(name) if name.chars().count() > 200 => {
            Err(ApiError::invalid("/name", "must be at most 200 characters"))
        }
        _ => Ok(()),
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if (8..=256).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "/password",
            "must be 8 to 256 characters",
        ))
    }
}

/// A 409 at `/agent_id` unless agent `agent_id` exists.
async fn require_agent(state: &AppState, agent_id: i64) -> Result<(), ApiError> {
    if state
        .storage
        .exists(crate::storage::Named::Agent(agent_id))
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::ConflictAt {
            path: "/agent_id".into(),
            reason: format!("there is no agent {agent_id}"),
        })
    }
}

/// 403 unless the caller may give (or manage a user with) `role`.
fn check_role(caller: &Caller, role: Role, doing: &str) -> Result<(), ApiError> {
    if caller.role.at_least(role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a {} token cannot {doing} a {} user",
            caller.role.as_str(),
            role.as_str()
        )))
    }
}

async fn fetch(state: &AppState, id: i64) -> Result<User, ApiError> {
    state
        .storage
        .user(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {id}")))
}

/// Makes a user.
#[utoipa::path(
    operation_id = "create_user",
    post,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 201, description = "Made", body = User),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role, and at least the user's role", body = ErrorBody),
        (status = 409, description = "The username is taken, or the agent does not exist", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    caller.require(Role::Admin)?;
    check_role(&caller, new.role, "make")?;
    check_username(&new.username)?;
    check_name(new.name.as_deref())?;
    check_password(&new.password)?;
    if let Some(agent_id) = new.agent_id {
        require_agent(&state, agent_id).await?;
    }
    let password = new.password.clone();
    let stored = passwords::off_thread(move || passwords::hash(&password))
        .await?
        .map_err(ApiError::Internal)?;
    let now = state.now_rfc3339();
    let id = state
        .storage
        .insert_user(&new, &stored, &now)
        .await
        .map_err(|error| {
            ApiError::from_write(error, || {
                format!("username {} is taken, or its agent is gone", new.username)
            })
        })?;
    tracing::info!(user = %new.username, role = new.role.as_str(), by = %caller.token_id, "user made");
    Ok((StatusCode::CREATED, Json(fetch(&state, id).await?)))
}

/// Lists users, by username.
#[utoipa::path(
    operation_id = "list_users",
    get,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    params(UserQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<User>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<UserQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    caller.require(Role::Admin)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .users(paging.window(), query.role, query.active, query.locked)
        .await?;
    Ok(Json(paging.page(rows, total)))
}

/// One user.
#[utoipa::path(
    operation_id = "get_user",
    get,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<User>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(fetch(&state, id).await?))
}

/// Changes the fields given.
#[utoipa::path(
    operation_id = "update_user",
    patch,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UserChanges,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 200, description = "The user as changed", body = User),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role, and at least the user's old and new role", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The agent does not exist", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<UserChanges>,
) -> Result<Json<User>, ApiError> {
    caller.require(Role::Admin)?;
    let user = fetch(&state, id).await?;
    check_role(&caller, user.role, "change")?;
    if let Some(role) = changes.role {
        check_role(&caller, role, "make")?;
    }
    check_name(changes.name.as_deref())?;
    if let Some(Some(agent_id)) = changes.agent_id {
        require_agent(&state, agent_id).await?;
    }
    let stored = match changes.password.clone() {
        Some(password) => {
            check_password(&password)?;
            Some(
                passwords::off_thread(move || passwords::hash(&password))
                    .await?
                    .map_err(ApiError::Internal)?,
            )
        }
        None => None,
    };
    let found = state
        .storage
        .update_user(id, &changes, stored.as_deref(), &state.now_rfc3339())
        .await
        .map_err(|error| ApiError::from_write(error, || "its agent is gone".to_string()))?;
    if !found {
        return Err(ApiError::NotFound(format!("no user {id}")));
    }
    Ok(Json(fetch(&state, id).await?))
}

/// Deletes a user, and with it the tokens its logins made.
#[utoipa::path(
    operation_id = "delete_user",
    delete,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role, and at least the user's role", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let user = fetch(&state, id).await?;
    check_role(&caller, user.role, "delete")?;
    if !state.storage.delete_user(id).await? {
        return Err(ApiError::NotFound(format!("no user {id}")));
    }
    tracing::info!(user = %user.username, by = %caller.token_id, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Unlocks a user locked by failed logins, and clears its count.
#[utoipa::path(
    operation_id = "unlock_user",
    post,
    path = "/api/v1/users/{id}/unlock",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, unlocked", body = User),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the sysadmin role", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn unlock(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<User>, ApiError> {
    caller.require(Role::Sysadmin)?;
    if !state.storage.unlock_user(id, &state.now_rfc3339()).await? {
        return Err(ApiError::NotFound(format!("no user {id}")));
    }
    let user = fetch(&state, id).await?;
    tracing::info!(user = %user.username, by = %caller.token_id, "user unlocked");
    Ok(Json(user))
}

/// Logs in with a username and password: answers a token for the user.
/// No token needed. Wrong or unknown credentials are a 401 alike; a
/// locked user is a 403 whatever the password.
#[utoipa::path(
    operation_id = "login",
    post,
    path = "/api/v1/login",
    tag = "users",
    request_body = Credentials,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 200, description = "Logged in", body = Session),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 403, description = "Locked by failed logins: a sysadmin must unlock it", body = ErrorBody),
        (status = 422, description = "A field is missing", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ValidJson(credentials): ValidJson<Credentials>,
) -> Result<Json<Session>, ApiError> {
    const REFUSED: &str = "wrong username or password";
    let row = state
        .storage
        .user_credentials(&credentials.username)
        .await?;
    let Some((id, stored, Flag(active), locked_at)) = row else {
        // As long as a wrong password takes.
        let password = credentials.password;
        passwords::off_thread(move || passwords::verify(&password, passwords::decoy())).await?;
        return Err(ApiError::Unauthorized(REFUSED));
    };
    if locked_at.is_some() {
        return Err(locked(&state));
    }
    let password = credentials.password;
    let good = passwords::off_thread(move || passwords::verify(&password, &stored)).await?;
    let now = state.now_rfc3339();
    if !good || !active {
        // One statement: logins at once each count, and the one that
        // reaches the threshold locks.
        let counted = state
            .storage
            .count_failed_login(id, i64::from(state.login.lockout_threshold), &now)
            .await?;
        if let Some((failures, Some(_))) = counted {
            tracing::warn!(user = %credentials.username, failures, "user locked after failed logins");
        }
        return Err(ApiError::Unauthorized(REFUSED));
    }
    let expires_at = (chrono::Utc::now() + state.login.token_lifetime)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let secret = new_secret();
    let token_id = new_token_id();
    // Only if still unlocked: a lock that came meanwhile wins.
    let unlocked = state
        .storage
        .record_login(
            id,
            &now,
            &token_id,
            &format!("login of {}", credentials.username),
            &secret.sha256,
            &expires_at,
        )
        .await?;
    if !unlocked {
        return Err(locked(&state));
    }
    tracing::info!(user = %credentials.username, token = %token_id, "user logged in");
    Ok(Json(Session {
        token_id,
        secret: secret.secret,
        expires_at,
        user: fetch(&state, id).await?,
    }))
}

fn locked(state: &AppState) -> ApiError {
    ApiError::Forbidden(format!(
        "locked after {} failed logins: a sysadmin must unlock it",
        state.login.lockout_threshold
    ))
}
