//! `/api/v1/holidays`: days an account's DIDs are closed, either the DIDs
//! listed (`did_ids`, stored in `holiday_dids`) or, with none listed,
//! every DID of the account. A holiday and its DIDs are written in one
//! transaction. Anyone with a token reads them; admins write.

use std::collections::{HashMap, HashSet};

use crate::storage::holidays::{HolidayWrite, UnclosableDid};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::paging::{IdPath, Page, Paging, ValidQuery};

/// A holiday.
#[derive(Debug, Serialize, ToSchema)]
pub struct Holiday {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The day (YYYY-MM-DD), in each DID's own time zone.
    #[schema(format = Date)]
    pub date: String,
    /// The account whose DIDs it closes.
    pub account_id: i64,
    /// The DIDs it closes, by id; empty: every DID of the account.
    pub did_ids: Vec<i64>,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A holiday to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHoliday {
    /// 1-100 characters, not all blank.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// The day, YYYY-MM-DD (a real calendar date).
    #[schema(format = Date)]
    pub date: String,
    /// The account whose DIDs it closes.
    #[serde(deserialize_with = "super::integer::i64")]
    pub account_id: i64,
    /// The DIDs of that account it closes, each once (default none: every
    /// DID of the account).
    #[serde(default, deserialize_with = "super::integer::i64_list")]
    #[schema(value_type = std::collections::BTreeSet<i64>)]
    pub did_ids: Vec<i64>,
}

/// Changes to a holiday: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayChanges {
    /// A new name.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// A new day, YYYY-MM-DD.
    #[schema(format = Date)]
    pub date: Option<String>,
    /// Another account: the DIDs it closes must be that account's.
    #[serde(default, deserialize_with = "super::integer::optional_i64")]
    pub account_id: Option<i64>,
    /// The DIDs it closes from now on, in place of those it names (empty:
    /// every DID of the account).
    #[serde(default, deserialize_with = "super::integer::optional_i64_list")]
    #[schema(value_type = Option<std::collections::BTreeSet<i64>>)]
    pub did_ids: Option<Vec<i64>>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HolidayQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only holidays of this account.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only holidays on or after this day (YYYY-MM-DD).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Only holidays on or before this day (YYYY-MM-DD).
    #[param(format = Date)]
    pub to: Option<String>,
    /// Only holidays that close this DID: those that name it, and those
    /// of its account that name no DID.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub did_id: Option<i64>,
}

/// A holiday's columns as stored (its DIDs are rows of their own).
#[derive(sqlx::FromRow)]
pub(crate) struct HolidayRow {
    id: i64,
    name: String,
    date: String,
    account_id: i64,
    created_at: String,
    updated_at: String,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("/name", "must be 1 to 100 characters"));
    }
    Ok(())
}

/// A real calendar date as stored: `YYYY-MM-DD`, years 0000 to 9999 (so
/// that stored dates sort as text in date order); chrono also reads
/// `2026-1-5`.
fn stored_date(date: &str, path: &str) -> Result<String, ApiError> {
    use chrono::Datelike;
    match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(day) if (0..=9999).contains(&day.year()) => Ok(day.format("%Y-%m-%d").to_string()),
        _ => Err(ApiError::invalid(path, "must be a date, YYYY-MM-DD")),
    }
}

/// Each DID once.
fn check_did_ids(did_ids: &[i64]) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    for (index, did_id) in did_ids.iter().enumerate() {
        if !seen.insert(did_id) {
            return Err(ApiError::invalid(
                format!("/did_ids/{index}"),
                format!("DID {did_id} is given twice"),
            ));
        }
    }
    Ok(())
}

/// What a holiday write came to: what [`HolidayWrite::Stored`] holds,
/// else the answer to give (`refused` says what a clash of the holiday's
/// own row is).
fn written(write: HolidayWrite, refused: impl FnOnce() -> String) -> Result<i64, ApiError> {
    match write {
        HolidayWrite::Stored(stored) => Ok(stored),
        HolidayWrite::Refused(error) => Err(ApiError::from_write(error, refused)),
        HolidayWrite::Unclosable(unclosable) => Err(unclosable_did(unclosable)),
        HolidayWrite::Foreign { did_id, account_id } => Err(ApiError::invalid(
            "/account_id",
            format!(
                "the holiday closes DID {did_id}, not account {account_id}'s: \
                 give did_ids too"
            ),
        )),
    }
}

/// A DID given that the holiday cannot close, as a 422 naming it.
fn unclosable_did(unclosable: UnclosableDid) -> ApiError {
    let UnclosableDid {
        index,
        did_id,
        account_id,
        owner,
    } = unclosable;
    let reason = match owner {
        Some(owner) => format!("DID {did_id} is account {owner}'s, not account {account_id}'s"),
        None => format!("there is no DID {did_id}"),
    };
    ApiError::invalid(format!("/did_ids/{index}"), reason)
}

/// The holidays of `rows` with the DIDs they name.
async fn with_dids(state: &AppState, rows: Vec<HolidayRow>) -> Result<Vec<Holiday>, ApiError> {
    let mut dids: HashMap<i64, Vec<i64>> = HashMap::new();
    let holiday_ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    for (holiday_id, did_id) in state.storage.holiday_dids(&holiday_ids).await? {
        dids.entry(holiday_id).or_default().push(did_id);
    }
    Ok(rows
        .into_iter()
        .map(|row| Holiday {
            did_ids: dids.remove(&row.id).unwrap_or_default(),
            id: row.id,
            name: row.name,
            date: row.date,
            account_id: row.account_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect())
}

async fn fetch(state: &AppState, id: i64) -> Result<Holiday, ApiError> {
    let row = state
        .storage
        .holiday(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no holiday {id}")))?;
    with_dids(state, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("no holiday {id}")))
}

/// Makes a holiday with its DIDs, all or nothing.
#[utoipa::path(
    post,
    path = "/api/v1/holidays",
    operation_id = "create_holiday",
    tag = "holidays",
    security(("bearer" = [])),
    request_body = NewHoliday,
    responses(
        (status = 201, description = "Made", body = Holiday),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "The account does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong: also a DID that does not exist, is another account's or is given twice", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewHoliday>,
) -> Result<(StatusCode, Json<Holiday>), ApiError> {
    caller.require(Role::Admin)?;
    check_name(&new.name)?;
    let date = stored_date(&new.date, "/date")?;
    check_did_ids(&new.did_ids)?;
    super::accounts::require_exists(&state, new.account_id).await?;
    let now = state.now_rfc3339();
    let write = state
        .storage
        .insert_holiday(new.name.trim(), &date, new.account_id, &new.did_ids, &now)
        .await?;
    let id = written(write, || {
        format!("account_id: there is no account {}", new.account_id)
    })?;
    // The account's DIDs with a holiday flow take the new date.
    super::dids::announce_account(&state, new.account_id).await?;
    Ok((StatusCode::CREATED, Json(fetch(&state, id).await?)))
}

/// Lists holidays, by date.
#[utoipa::path(
    get,
    path = "/api/v1/holidays",
    operation_id = "list_holidays",
    tag = "holidays",
    security(("bearer" = [])),
    params(HolidayQuery),
    responses(
        (status = 200, description = "A page of holidays", body = Page<Holiday>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<HolidayQuery>,
) -> Result<Json<Page<Holiday>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let from = query
        .from
        .as_deref()
        .map(|date| stored_date(date, "?from"))
        .transpose()?;
    let to = query
        .to
        .as_deref()
        .map(|date| stored_date(date, "?to"))
        .transpose()?;
    let (rows, total) = state
        .storage
        .holidays(
            paging.window(),
            query.account_id,
            from.as_deref(),
            to.as_deref(),
            query.did_id,
        )
        .await?;
    Ok(Json(paging.page(with_dids(&state, rows).await?, total)))
}

/// One holiday.
#[utoipa::path(
    get,
    path = "/api/v1/holidays/{id}",
    operation_id = "get_holiday",
    tag = "holidays",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The holiday's id")),
    responses(
        (status = 200, description = "The holiday", body = Holiday),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such holiday", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Holiday>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(fetch(&state, id).await?))
}

/// Changes the fields given, all or nothing; `did_ids` replaces the DIDs
/// it names.
#[utoipa::path(
    patch,
    path = "/api/v1/holidays/{id}",
    operation_id = "update_holiday",
    tag = "holidays",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The holiday's id")),
    request_body = HolidayChanges,
    responses(
        (status = 200, description = "The holiday as changed", body = Holiday),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such holiday", body = ErrorBody),
        (status = 409, description = "The account does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong: also a DID that does not exist, is another account's or is given twice", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<HolidayChanges>,
) -> Result<Json<Holiday>, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(name) = &changes.name {
        check_name(name)?;
    }
    let date = changes
        .date
        .as_deref()
        .map(|date| stored_date(date, "/date"))
        .transpose()?;
    if let Some(did_ids) = &changes.did_ids {
        check_did_ids(did_ids)?;
    }
    if let Some(account_id) = changes.account_id {
        super::accounts::require_exists(&state, account_id).await?;
    }
    let before = state.storage.holiday_account(id).await?;
    let write = state
        .storage
        .update_holiday(
            id,
            changes.name.as_deref().map(str::trim),
            date.as_deref(),
            changes.account_id,
            changes.did_ids.as_deref(),
            &state.now_rfc3339(),
        )
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no holiday {id}")))?;
    let account_id = written(write, || {
        format!(
            "account_id: there is no account {}",
            changes.account_id.unwrap_or_default()
        )
    })?;
    super::dids::announce_account(&state, account_id).await?;
    if let Some(before) = before
        && before != account_id
    {
        super::dids::announce_account(&state, before).await?;
    }
    Ok(Json(fetch(&state, id).await?))
}

/// Deletes a holiday.
#[utoipa::path(
    delete,
    path = "/api/v1/holidays/{id}",
    operation_id = "delete_holiday",
    tag = "holidays",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The holiday's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such holiday", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let account = state.storage.holiday_account(id).await?;
    if !state.storage.delete_holiday(id).await? {
        return Err(ApiError::NotFound(format!("no holiday {id}")));
    }
    if let Some(account_id) = account {
        super::dids::announce_account(&state, account_id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
