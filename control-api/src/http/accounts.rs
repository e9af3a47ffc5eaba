//! `/api/v1/accounts`: the accounts (clients) that DIDs, phones, agents,
//! holidays and recordings belong to. Anyone with a token reads them;
//! admins write.

use crate::storage::Flag;
use crate::storage::Named;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::paging::{IdPath, Page, Paging, ValidQuery};

/// The longest recording retention we take: ten years.
const MAX_RETENTION_DAYS: u32 = 3650;

/// An account.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Account {
    /// Its id.
    pub id: i64,
    /// The account number (unique): letters, digits, `-` and `_`.
    pub number: String,
    /// Its name.
    pub name: String,
    /// Whether its calls are recorded.
    #[sqlx(try_from = "Flag")]
    pub call_recording: bool,
    /// Days its recordings are kept before the sweeper deletes them.
    pub recording_retention_days: i64,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// An account to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// 1-32 letters, digits, `-` or `_`; unique.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub number: String,
    /// 1-200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// Record its calls (default false).
    #[serde(default)]
    pub call_recording: bool,
    /// Days to keep recordings, 1-3650 (default 90).
    #[serde(
        default = "default_retention",
        deserialize_with = "super::integer::u32"
    )]
    #[schema(minimum = 1, maximum = 3650)]
    pub recording_retention_days: u32,
}

fn default_retention() -> u32 {
    90
}

/// Changes to an account: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChanges {
    /// A new account number.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub number: Option<String>,
    /// A new name.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// Record its calls, or not.
    pub call_recording: Option<bool>,
    /// Days to keep recordings.
    #[serde(default, deserialize_with = "super::integer::optional_u32")]
    #[schema(minimum = 1, maximum = 3650)]
    pub recording_retention_days: Option<u32>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only the account with this number.
    pub number: Option<String>,
    /// Only accounts whose name contains this (any case).
    pub name_contains: Option<String>,
}

fn check_number(number: &str, path: &str) -> Result<(), ApiError> {
    let valid = (1..=32).contains(&number.len())
        && number
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            path,
            "must be 1 to 32 letters, digits, '-' or '_'",
        ))
    }
}

fn check_name(name: &str, path: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(path, "must be 1 to 200 characters"));
    }
    Ok(())
}

fn check_retention(days: u32, path: &str) -> Result<(), ApiError> {
    if days == 0 || days > MAX_RETENTION_DAYS {
        return Err(ApiError::invalid(
            path,
            format!("must be 1 to {MAX_RETENTION_DAYS} days"),
        ));
    }
    Ok(())
}

/// 409 unless account `account_id` exists: a well-formed reference to
/// nothing is wrong with the state, not the request (as deleting an
/// account in use is).
pub async fn require_exists(state: &AppState, account_id: i64) -> Result<(), ApiError> {
    if state.storage.exists(Named::Account(account_id)).await? {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "account_id: there is no account {account_id}"
        )))
    }
}

async fn fetch(state: &AppState, id: i64) -> Result<Account, ApiError> {
    state
        .storage
        .account(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account {id}")))
}

/// Makes an account.
#[utoipa::path(
    operation_id = "create_account",
    post,
    path = "/api/v1/accounts",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = NewAccount,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 201, description = "Made", body = Account),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "The number is taken", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewAccount>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    caller.require(Role::Admin)?;
    check_number(&new.number, "/number")?;
    check_name(&new.name, "/name")?;
    check_retention(new.recording_retention_days, "/recording_retention_days")?;
    let now = state.now_rfc3339();
    let id = state
        .storage
        .insert_account(
            &new.number,
            new.name.trim(),
            new.call_recording,
            i64::from(new.recording_retention_days),
            &now,
        )
        .await
        .map_err(|error| {
            ApiError::from_write(error, || format!("account number {} is taken", new.number))
        })?;
    Ok((StatusCode::CREATED, Json(fetch(&state, id).await?)))
}

/// Lists accounts, by number.
#[utoipa::path(
    operation_id = "list_accounts",
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    security(("bearer" = [])),
    params(AccountQuery),
    responses(
        (status = 200, description = "A page of accounts", body = Page<Account>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<AccountQuery>,
) -> Result<Json<Page<Account>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .accounts(
            paging.window(),
            query.number.as_deref(),
            query.name_contains.as_deref(),
        )
        .await?;
    Ok(Json(paging.page(rows, total)))
}

/// One account.
#[utoipa::path(
    operation_id = "get_account",
    get,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The account", body = Account),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Account>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(fetch(&state, id).await?))
}

/// Changes the fields given.
#[utoipa::path(
    operation_id = "update_account",
    patch,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account's id")),
    request_body = AccountChanges,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 200, description = "The account as changed", body = Account),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The new number is taken", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<AccountChanges>,
) -> Result<Json<Account>, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(number) = &changes.number {
        check_number(number, "/number")?;
    }
    if let Some(name) = &changes.name {
        check_name(name, "/name")?;
    }
    if let Some(days) = changes.recording_retention_days {
        check_retention(days, "/recording_retention_days")?;
    }
    let found = state
        .storage
        .update_account(
            id,
            changes.number.as_deref(),
            changes.name.as_deref().map(str::trim),
            changes.call_recording,
            changes.recording_retention_days.map(i64::from),
            &state.now_rfc3339(),
        )
        .await
        .map_err(|error| {
            ApiError::from_write(error, || {
                format!(
                    "account number {} is taken",
                    changes.number.as_deref().unwrap_or_default()
                )
            })
        })?;
    if !found {
        return Err(ApiError::NotFound(format!("no account {id}")));
    }
    Ok(Json(fetch(&state, id).await?))
}

/// Deletes an account that nothing belongs to any more.
#[utoipa::path(
    operation_id = "delete_account",
    delete,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Something still belongs to it", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let existed = state.storage.delete_account(id).await.map_err(|error| {
        ApiError::from_write(error, || {
            format!("account {id} still has DIDs, phones, agents, holidays or voicemail boxes")
        })
    })?;
    if !existed {
        return Err(ApiError::NotFound(format!("no account {id}")));
    }
    Ok(StatusCode::NO_CONTENT)
}
