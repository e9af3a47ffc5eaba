//! `/api/v1/phones`: SIP users that register and are called by extension.
//! A phone made, changed or deactivated here takes effect for the next
//! REGISTER and the next call: each change is also sent to the call
//! controller ([`DirectoryChange`]).

use crate::storage::Flag;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sip_core::auth::{DigestAlgorithm, Ha1s};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::paging::{IdPath, Page, Paging, ValidQuery};
use crate::switch::DirectoryChange;

/// A phone (never its password).
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Phone {
    /// Its id.
    pub id: i64,
    /// The SIP user it registers as and is called by (unique).
    pub extension: String,
    /// The account it belongs to, if any.
    pub account_id: Option<i64>,
    /// A name to show.
    pub display_name: Option<String>,
    /// Whether it may register and be called.
    #[sqlx(try_from = "Flag")]
    pub active: bool,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A phone to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPhone {
    /// 1-32 letters, digits, `.`, `-` or `_`; unique.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,32}$")]
    pub extension: String,
    /// The SIP password, 8-128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// The account it belongs to.
    #[serde(default, deserialize_with = "super::integer::optional_i64")]
    pub account_id: Option<i64>,
    /// A name to show, up to 100 characters.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// Whether it may register and be called (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Changes to a phone: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneChanges {
    /// A new SIP password, 8-128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    /// Move it to this account.
    #[serde(default, deserialize_with = "super::integer::optional_i64")]
    pub account_id: Option<i64>,
    /// A new name to show.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// Activate or deactivate it (at once).
    pub active: Option<bool>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PhoneQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only this extension.
    pub extension: Option<String>,
    /// Only phones of this account.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only active (true) or inactive (false) phones.
    pub active: Option<bool>,
}

fn check_extension(extension: &str) -> Result<(), ApiError> {
    let valid = (1..=32).contains(&extension.len())
        && extension
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "/extension",
            "must be 1 to 32 letters, digits, '.', '-' or '_'",
        ))
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if (8..=128).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "/password",
            "must be 8 to 128 characters",
        ))
    }
}

fn check_display_name(name: Option<&str>) -> Result<(), ApiError> {
    if name.is_some_and(|name| name.chars().count() > 100) {
        return Err(ApiError::invalid(
            "/display_name",
            "must be at most 100 characters",
        ));
    }
    Ok(())
}

/// What is stored of a password: argon2, and the HA1s of `realm`.
pub struct StoredPassword {
    /// The password's argon2 hash.
    pub(crate) argon2: String,
    /// Its digest HA1 with MD5, in hex.
    pub(crate) ha1_md5: String,
    /// Its digest HA1 with SHA-256, in hex.
    pub(crate) ha1_sha256: String,
}

impl StoredPassword {
    /// Hashes `password` for `extension` in `realm` (argon2 is slow on
    /// purpose: call it off the runtime's threads).
    pub fn new(extension: &str, realm: &str, password: &str) -> anyhow::Result<Self> {
        let argon2 = super::passwords::hash(password)?;
        let ha1s = Ha1s::from_password(extension, realm, password);
        Ok(Self {
            argon2,
            ha1_md5: ha1s
                .get(DigestAlgorithm::Md5)
                .unwrap_or_default()
                .to_string(),
            ha1_sha256: ha1s
                .get(DigestAlgorithm::Sha256)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

async fn hash_off_thread(
    extension: String,
    realm: String,
    password: String,
) -> Result<StoredPassword, ApiError> {
    super::passwords::off_thread(move || StoredPassword::new(&extension, &realm, &password))
        .await?
        .map_err(ApiError::Internal)
}

/// A phone's fields as inserted.
pub struct PhoneRow<'a> {
    /// The SIP user.
    pub extension: &'a str,
    /// Its account.
    pub account_id: Option<i64>,
    /// A name to show.
    pub display_name: Option<&'a str>,
    /// Whether it may register and be called.
    pub active: bool,
}

async fn fetch(state: &AppState, id: i64) -> Result<Phone, ApiError> {
    state
        .storage
        .phone(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no phone {id}")))
}

/// Tells the call controller what a phone now is.
async fn publish(state: &AppState, id: i64) -> Result<(), ApiError> {
    let extension = state.storage.phone_extension(id).await?;
    let change = state
        .storage
        .phone_directory_entry(&state.realm, &extension)
        .await?;
    state.directory(change).await;
    Ok(())
}

/// Makes a phone; it can register at once.
#[utoipa::path(
    post,
    path = "/api/v1/phones",
    operation_id = "create_phone",
    tag = "phones",
    security(("bearer" = [])),
    request_body = NewPhone,
    responses(
        (status = 201, description = "Made", body = Phone),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "The extension is taken, or the account does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewPhone>,
) -> Result<(StatusCode, Json<Phone>), ApiError> {
    caller.require(Role::Admin)?;
    check_extension(&new.extension)?;
    check_password(&new.password)?;
    check_display_name(new.display_name.as_deref())?;
    if let Some(account_id) = new.account_id {
        super::accounts::require_exists(&state, account_id).await?;
    }
    let stored = hash_off_thread(new.extension.clone(), state.realm.clone(), new.password).await?;
    let shared = state.clone();
    let phone = shared
        .directory_write(async move {
            if state.storage.is_did_number(&new.extension).await? {
                return Err(ApiError::Conflict(format!(
                    "extension {} is a DID's number",
                    new.extension
                )));
            }
            let row = PhoneRow {
                extension: &new.extension,
                account_id: new.account_id,
                display_name: new.display_name.as_deref(),
                active: new.active,
            };
            let id = state
                .storage
                .insert_phone(row, &stored, &state.realm, &state.now_rfc3339())
                .await
                .map_err(|error| {
                    ApiError::from_write(error, || format!("extension {} is taken", new.extension))
                })?;
            publish(&state, id).await?;
            fetch(&state, id).await
        })
        .await?;
    Ok((StatusCode::CREATED, Json(phone)))
}

/// Lists phones, by extension.
#[utoipa::path(
    get,
    path = "/api/v1/phones",
    operation_id = "list_phones",
    tag = "phones",
    security(("bearer" = [])),
    params(PhoneQuery),
    responses(
        (status = 200, description = "A page of phones", body = Page<Phone>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<PhoneQuery>,
) -> Result<Json<Page<Phone>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .phones(
            paging.window(),
            query.extension.as_deref(),
            query.account_id,
            query.active,
        )
        .await?;
    Ok(Json(paging.page(rows, total)))
}

/// One phone.
#[utoipa::path(
    get,
    path = "/api/v1/phones/{id}",
    operation_id = "get_phone",
    tag = "phones",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The phone's id")),
    responses(
        (status = 200, description = "The phone", body = Phone),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such phone", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Phone>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(fetch(&state, id).await?))
}

/// Changes the fields given; a new password or `active` applies to the
/// next REGISTER and call.
#[utoipa::path(
    patch,
    path = "/api/v1/phones/{id}",
    operation_id = "update_phone",
    tag = "phones",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The phone's id")),
    request_body = PhoneChanges,
    responses(
        (status = 200, description = "The phone as changed", body = Phone),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such phone", body = ErrorBody),
        (status = 409, description = "The account does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<PhoneChanges>,
) -> Result<Json<Phone>, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(password) = &changes.password {
        check_password(password)?;
    }
    check_display_name(changes.display_name.as_deref())?;
    if let Some(account_id) = changes.account_id {
        super::accounts::require_exists(&state, account_id).await?;
    }
    let phone = fetch(&state, id).await?;
    let stored = match changes.password.clone() {
        Some(password) => {
            Some(hash_off_thread(phone.extension.clone(), state.realm.clone(), password).await?)
        }
        None => None,
    };
    let shared = state.clone();
    let phone = shared
        .directory_write(async move { apply_changes(&state, id, changes, stored).await })
        .await?;
    Ok(Json(phone))
}

/// Stores `changes` (with the new password's hashes) and tells the call
/// controller; inside [`AppState::directory_write`].
async fn apply_changes(
    state: &AppState,
    id: i64,
    changes: PhoneChanges,
    stored: Option<StoredPassword>,
) -> Result<Phone, ApiError> {
    let found = state
        .storage
        .update_phone(
            id,
            &changes,
            stored.as_ref(),
            &state.realm,
            &state.now_rfc3339(),
        )
        .await
        .map_err(|error| {
            ApiError::from_write(error, || "account_id: no such account".to_string())
        })?;
    if !found {
        return Err(ApiError::NotFound(format!("no phone {id}")));
    }
    publish(state, id).await?;
    fetch(state, id).await
}

/// Deletes a phone that is no agent's extension; it can no longer
/// register or be called, at once.
#[utoipa::path(
    delete,
    path = "/api/v1/phones/{id}",
    operation_id = "delete_phone",
    tag = "phones",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The phone's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such phone", body = ErrorBody),
        (status = 409, description = "An agent takes calls on it", body = ErrorBody),
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
            let phone = fetch(&state, id).await?;
            state.storage.delete_phone(id).await.map_err(|error| {
                ApiError::from_write(error, || {
                    format!(
                        "extension {} is an agent's: move its agents first",
                        phone.extension
                    )
                })
            })?;
            state
                .directory(DirectoryChange::PhoneGone {
                    extension: phone.extension.into(),
                })
                .await;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
