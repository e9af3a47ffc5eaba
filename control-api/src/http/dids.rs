//! `/api/v1/dids`: the numbers carriers send calls to, each answered by
//! what `answered_by` names. A DID made, changed, deactivated or deleted
//! here applies to the very next INVITE ([`DirectoryChange`]); a
//! deactivated one answers 404 and is never sent out through the trunk.

use crate::storage::Named;
use std::str::FromStr;

use crate::storage::Flag;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::inbound::{Inbound, InboundSettings};
use super::paging::{IdPath, Page, Paging, ValidQuery};
use crate::switch::{DirectoryChange, Route};

/// What answers a DID: a flow written in the IVR language, or one of the
/// switch's own services. Keys other than a variant's own are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AnsweredBy {
    /// Answer and send the caller's audio back.
    Echo {},
    /// Answer and record the caller until hang-up.
    Record {},
    /// A conference room: everyone calling it is mixed together.
    Conference {
        /// The room (1-64 letters, digits, `-`, `_`): DIDs naming the same
        /// room share it.
        #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
        room: String,
    },
    /// Play a prompt, then send each digit pressed back and speak it.
    DigitEcho {},
    /// Ring a phone by its extension.
    Phone {
        /// The phone's extension.
        #[schema(pattern = "^[A-Za-z0-9._-]{1,32}$")]
        extension: String,
    },
    /// An IVR flow (`/api/v1/flows`), at its version current when the
    /// call comes in.
    Flow {
        /// The flow's id.
        #[serde(deserialize_with = "super::integer::i64")]
        flow_id: i64,
    },
    /// Inbound settings (rings, greeting, call options, voicemail,
    /// whisper, hold music), compiled to a flow.
    Inbound(Box<InboundSettings>),
}

impl AnsweredBy {
    /// The call controller's route for it, for a DID in `time_zone`.
    pub fn route(&self, time_zone: chrono_tz::Tz) -> Route {
        match self {
            Self::Flow { flow_id } => Route::Flow {
                flow: crate::switch::FlowSource::Stored(*flow_id),
                time_zone,
            },
            Self::Inbound(settings) => {
                let flow = settings.compile().unwrap_or_else(|(pointer, reason)| {
                    // Checked when stored: only a rule tightened since.
                    tracing::warn!(%pointer, %reason, "stored inbound settings no longer compile");
                    ivr::Flow {
                        verbs: vec![ivr::Verb::Hangup {}],
                    }
                });
                Route::Flow {
                    flow: crate::switch::FlowSource::Compiled(std::sync::Arc::new(flow)),
                    time_zone,
                }
            }
            Self::Echo {} => Route::Echo,
            Self::Record {} => Route::Record,
            Self::Conference { room } => Route::Conference(room.clone()),
            Self::DigitEcho {} => Route::DigitEcho,
            Self::Phone { extension } => Route::Phone(extension.as_str().into()),
        }
    }

    fn check(&self, tts: bool) -> Result<(), ApiError> {
        if let Self::Inbound(settings) = self {
            settings.check("/answered_by", tts)?;
        }
        let token = |text: &str, longest: usize, extra: &[u8]| {
            (1..=longest).contains(&text.len())
                && text
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || extra.contains(&byte))
        };
        match self {
            Self::Conference { room } if !token(room, 64, b"-_") => Err(ApiError::invalid(
                "/answered_by/room",
                "must be 1 to 64 letters, digits, '-' or '_'",
            )),
            Self::Phone { extension } if !token(extension, 32, b"._-") => Err(ApiError::invalid(
                "/answered_by/extension",
                "must be 1 to 32 letters, digits, '.', '-' or '_'",
            )),
            _ => Ok(()),
        }
    }
}

/// A DID.
#[derive(Debug, Serialize, ToSchema)]
pub struct Did {
    /// Its id.
    pub id: i64,
    /// The number as carriers send it in the Request-URI (unique): up to
    /// 15 digits, optionally after `+` (E.164).
    pub number: String,
    /// The account it belongs to.
    pub account_id: i64,
    /// Its city.
    pub city: Option<String>,
    /// Its state or region.
    pub state: Option<String>,
    /// Its IANA time zone (for holidays and schedules).
    pub time_zone: String,
    /// The date it became or becomes available (YYYY-MM-DD).
    pub available_on: Option<String>,
    /// Whether calls to it are answered.
    pub active: bool,
    /// What answers it.
    pub answered_by: AnsweredBy,
    /// Its calls limit, priority, holiday flow and schedules.
    pub inbound: Inbound,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A DID to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDid {
    /// Up to 15 digits, optionally after `+`; unique.
    #[schema(pattern = "^\\+?[0-9]{1,15}$")]
    pub number: String,
    /// The account it belongs to.
    #[serde(deserialize_with = "super::integer::i64")]
    pub account_id: i64,
    /// Its city (up to 100 characters).
    #[schema(max_length = 100)]
    pub city: Option<String>,
    /// Its state or region (up to 100 characters).
    #[schema(max_length = 100)]
    pub state: Option<String>,
    /// An IANA time zone such as `America/New_York` (default `UTC`).
    pub time_zone: Option<String>,
    /// YYYY-MM-DD.
    #[schema(format = Date)]
    pub available_on: Option<String>,
    /// Whether calls to it are answered (default true).
    #[serde(default = "yes")]
    pub active: bool,
    /// What answers it.
    pub answered_by: AnsweredBy,
    /// Its calls limit, priority, holiday flow and schedules (default
    /// none).
    #[serde(default, deserialize_with = "super::error::object")]
    pub inbound: Inbound,
}

fn yes() -> bool {
    true
}

/// Changes to a DID: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DidChanges {
    /// Its city.
    #[schema(max_length = 100)]
    pub city: Option<String>,
    /// Its state or region.
    #[schema(max_length = 100)]
    pub state: Option<String>,
    /// An IANA time zone.
    pub time_zone: Option<String>,
    /// YYYY-MM-DD.
    #[schema(format = Date)]
    pub available_on: Option<String>,
    /// Activate or deactivate it (at once).
    pub active: Option<bool>,
    /// What answers it from the next call on.
    pub answered_by: Option<AnsweredBy>,
    /// Its calls limit, priority, holiday flow and schedules, replaced
    /// whole.
    #[serde(default, deserialize_with = "super::error::optional_object")]
    pub inbound: Option<Inbound>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DidQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only this number.
    pub number: Option<String>,
    /// Only DIDs of this account.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only active (true) or inactive (false) DIDs.
    pub active: Option<bool>,
}

/// A DID's columns as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct DidRow {
    id: i64,
    number: String,
    account_id: i64,
    city: Option<String>,
    state: Option<String>,
    time_zone: String,
    available_on: Option<String>,
    #[sqlx(try_from = "Flag")]
    active: bool,
    answered_by: String,
    inbound: String,
    created_at: String,
    updated_at: String,
}

impl DidRow {
    /// The DID as the API shows it, its settings read back from their JSON.
    pub(crate) fn into_did(self) -> Result<Did, ApiError> {
        let answered_by = serde_json::from_str(&self.answered_by).map_err(|error| {
            ApiError::Internal(anyhow::anyhow!("DID {} answered_by: {error}", self.number))
        })?;
        let inbound = serde_json::from_str(&self.inbound).map_err(|error| {
            ApiError::Internal(anyhow::anyhow!("DID {} inbound: {error}", self.number))
        })?;
        Ok(Did {
            id: self.id,
            number: self.number,
            account_id: self.account_id,
            city: self.city,
            state: self.state,
            time_zone: self.time_zone,
            available_on: self.available_on,
            active: self.active,
            answered_by,
            inbound,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn check_number(number: &str) -> Result<(), ApiError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if (1..=15).contains(&digits.len()) && digits.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "/number",
            "must be 1 to 15 digits, optionally after '+'",
        ))
    }
}

fn check_text(text: Option<&str>, path: &str) -> Result<(), ApiError> {
    if text.is_some_and(|text| text.chars().count() > 100) {
        return Err(ApiError::invalid(path, "must be at most 100 characters"));
    }
    Ok(())
}

fn check_time_zone(zone: Option<&str>) -> Result<(), ApiError> {
    match zone {
        Some(zone) if chrono_tz::Tz::from_str(zone).is_err() => Err(ApiError::invalid(
            "/time_zone",
            format!("{zone:?} is not an IANA time zone"),
        )),
        _ => Ok(()),
    }
}

fn check_date(date: Option<&str>) -> Result<(), ApiError> {
    match date {
        Some(date) if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() => Err(
            ApiError::invalid("/available_on", "must be a date, YYYY-MM-DD"),
        ),
        _ => Ok(()),
    }
}

/// Checks where and since when a DID is: city and state, time zone, date.
fn check_place(
    city: Option<&str>,
    state: Option<&str>,
    time_zone: Option<&str>,
    available_on: Option<&str>,
) -> Result<(), ApiError> {
    check_text(city, "/city")?;
    check_text(state, "/state")?;
    check_time_zone(time_zone)?;
    check_date(available_on)
}

/// What a DID's settings name, with their pointers: the flow that
/// answers it, what its inbound settings name, and its holiday and
/// scheduled flows.
pub fn references(answered_by: Option<&AnsweredBy>, inbound: Option<&Inbound>) -> ivr::References {
    let mut references = match answered_by {
        Some(AnsweredBy::Inbound(settings)) => settings.references("/answered_by"),
        Some(AnsweredBy::Flow { flow_id }) => ivr::References {
            flows: vec![("/answered_by/flow_id".into(), *flow_id)],
            ..ivr::References::default()
        },
        _ => ivr::References::default(),
    };
    if let Some(inbound) = inbound {
        references.flows.extend(inbound.flows("/inbound"));
    }
    references
}

async fn fetch(state: &AppState, id: i64) -> Result<Did, ApiError> {
    state
        .storage
        .did(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no DID {id}")))?
        .into_did()
}

/// Makes a DID; it answers from the next call on.
#[utoipa::path(
    post,
    path = "/api/v1/dids",
    operation_id = "create_did",
    tag = "dids",
    security(("bearer" = [])),
    request_body = NewDid,
    responses(
        (status = 201, description = "Made", body = Did),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "The number is taken, or the account, or a flow or prompt it names (at `path`), does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewDid>,
) -> Result<(StatusCode, Json<Did>), ApiError> {
    caller.require(Role::Admin)?;
    check_number(&new.number)?;
    check_place(
        new.city.as_deref(),
        new.state.as_deref(),
        new.time_zone.as_deref(),
        new.available_on.as_deref(),
    )?;
    new.answered_by.check(state.tts.is_available())?;
    new.inbound.check("/inbound", state.tts.is_available())?;
    super::accounts::require_exists(&state, new.account_id).await?;
    let named = references(Some(&new.answered_by), Some(&new.inbound));
    super::naming::require(&state, &named, "").await?;
    let shared = state.clone();
    let did = shared
        .directory_write(async move {
            if state.storage.exists(Named::Phone(&new.number)).await? {
                return Err(ApiError::Conflict(format!(
                    "{} is a phone's extension",
                    new.number
                )));
            }
            let id = state
                .storage
                .insert_did(&new, &state.now_rfc3339())
                .await
                .map_err(|error| match &error {
                    sqlx::Error::Database(database) if database.is_unique_violation() => {
                        ApiError::Conflict(format!("DID {} exists", new.number))
                    }
                    sqlx::Error::Database(database) if database.is_foreign_key_violation() => {
                        ApiError::Conflict(format!(
                            "account_id: there is no account {}",
                            new.account_id
                        ))
                    }
                    _ => error.into(),
                })?;
            let did = fetch(&state, id).await?;
            announce(&state, &did).await?;
            Ok(did)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(did)))
}

/// Lists DIDs, by number.
#[utoipa::path(
    get,
    path = "/api/v1/dids",
    operation_id = "list_dids",
    tag = "dids",
    security(("bearer" = [])),
    params(DidQuery),
    responses(
        (status = 200, description = "A page of DIDs", body = Page<Did>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<DidQuery>,
) -> Result<Json<Page<Did>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .dids(
            paging.window(),
            query.number.as_deref(),
            query.account_id,
            query.active,
        )
        .await?;
    let items = rows
        .into_iter()
        .map(DidRow::into_did)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(paging.page(items, total)))
}

/// One DID.
#[utoipa::path(
    get,
    path = "/api/v1/dids/{id}",
    operation_id = "get_did",
    tag = "dids",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The DID's id")),
    responses(
        (status = 200, description = "The DID", body = Did),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such DID", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Did>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(fetch(&state, id).await?))
}

/// Changes the fields given; they apply from the next call on.
#[utoipa::path(
    patch,
    path = "/api/v1/dids/{id}",
    operation_id = "update_did",
    tag = "dids",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The DID's id")),
    request_body = DidChanges,
    responses(
        (status = 200, description = "The DID as changed", body = Did),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such DID", body = ErrorBody),
        (status = 409, description = "A flow or prompt it names (at `path`) does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<DidChanges>,
) -> Result<Json<Did>, ApiError> {
    caller.require(Role::Admin)?;
    check_place(
        changes.city.as_deref(),
        changes.state.as_deref(),
        changes.time_zone.as_deref(),
        changes.available_on.as_deref(),
    )?;
    if let Some(answered_by) = &changes.answered_by {
        answered_by.check(state.tts.is_available())?;
    }
    if let Some(inbound) = &changes.inbound {
        inbound.check("/inbound", state.tts.is_available())?;
    }
    let named = references(changes.answered_by.as_ref(), changes.inbound.as_ref());
    super::naming::require(&state, &named, "").await?;
    let shared = state.clone();
    let did = shared
        .directory_write(async move { apply_changes(&state, id, changes).await })
        .await?;
    Ok(Json(did))
}

/// Stores a DID's changes and tells the call controller; inside
/// [`AppState::directory_write`].
async fn apply_changes(state: &AppState, id: i64, changes: DidChanges) -> Result<Did, ApiError> {
    let found = state
        .storage
        .update_did(id, &changes, &state.now_rfc3339())
        .await?;
    if !found {
        return Err(ApiError::NotFound(format!("no DID {id}")));
    }
    let did = fetch(state, id).await?;
    announce(state, &did).await?;
    Ok(did)
}

/// Tells the call controller (and the other nodes) what `did` is now.
async fn announce(state: &AppState, did: &Did) -> Result<(), ApiError> {
    let change = state.storage.did_change(did).await?;
    state.directory(change).await;
    Ok(())
}

/// Tells the call controller again about every DID of `account_id` (their
/// holidays changed).
pub async fn announce_account(state: &AppState, account_id: i64) -> Result<(), ApiError> {
    let rows = state.storage.account_dids(account_id).await?;
    for row in rows {
        announce(state, &row.into_did()?).await?;
    }
    Ok(())
}

/// Deletes a DID that no holiday names: it is no longer ours from the
/// next call on.
#[utoipa::path(
    delete,
    path = "/api/v1/dids/{id}",
    operation_id = "delete_did",
    tag = "dids",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The DID's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such DID", body = ErrorBody),
        (status = 409, description = "A holiday names it", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let shared = state.clone();
    shared
        .directory_write(async move {
            let did = fetch(&state, id).await?;
            state.storage.delete_did(id).await.map_err(|error| {
                ApiError::from_write(error, || {
                    format!("a holiday names DID {}: take it off first", did.number)
                })
            })?;
            state
                .directory(DirectoryChange::DidGone {
                    number: did.number.into(),
                })
                .await;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
