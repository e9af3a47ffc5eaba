//! `/api/v1/flows`: IVR flows, JSON documents of verbs (the language is
//! the `ivr` crate's; its JSON Schema is in the OpenAPI document as
//! `FlowDocument`). A document is checked whole when it is uploaded and
//! refused with a `path` pointing into it: a 422 for its shape and values
//! (`/document/verbs/2/count`), a 409 for a flow, phone, agent or prompt it
//! names that does not exist. Each new document is a new version; the
//! old ones are kept and listed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::naming::Namer;
use super::paging::{IdPath, Page, Paging, ValidQuery};
use crate::switch::DirectoryChange;

/// A flow, at its current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Flow {
    /// Its id (what `redirect` and DIDs name it by).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The account it belongs to, if any.
    pub account_id: Option<i64>,
    /// Its current version (1 when made; each new document adds one).
    pub version: i64,
    /// The document: `{"verbs": [...]}`.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A flow's columns as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct FlowRow {
    id: i64,
    name: String,
    account_id: Option<i64>,
    version: i64,
    document: String,
    created_at: String,
    updated_at: String,
}

impl From<FlowRow> for Flow {
    fn from(row: FlowRow) -> Self {
        Flow {
            id: row.id,
            name: row.name,
            account_id: row.account_id,
            version: row.version,
            document: serde_json::from_str(&row.document).unwrap_or(serde_json::Value::Null),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A flow to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFlow {
    /// 1-100 characters, not all blank.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// The account it belongs to.
    #[serde(default, deserialize_with = "super::integer::optional_i64")]
    pub account_id: Option<i64>,
    /// The document: `{"verbs": [...]}`.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

/// Changes to a flow: a new name, a new document (a new version), or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowChanges {
    /// A new name.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// A new document: the flow's next version.
    #[schema(value_type = Option<Object>)]
    pub document: Option<serde_json::Value>,
}

/// One version of a flow's document.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowVersion {
    /// The version.
    pub version: i64,
    /// When it was uploaded.
    pub created_at: String,
    /// The document.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlowQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only the account's flows.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only flows with this name.
    pub name: Option<String>,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("/name", "must be 1 to 100 characters"));
    }
    Ok(())
}

/// Checks a document whole: its shape and values, then that what it names
/// exists. The checked document, as stored (defaults left out).
async fn check_document(
    state: &AppState,
    document: &serde_json::Value,
) -> Result<String, ApiError> {
    let flow = ivr::parse(document)
        .map_err(|error| ApiError::invalid(format!("/document{}", error.pointer), error.reason))?;
    let references = flow.references();
    super::naming::require(state, &references, "/document").await?;
    if let Some(pointer) = &references.speaks
        && !state.tts.is_available()
    {
        return Err(ApiError::invalid(
            format!("/document{pointer}"),
            "`say` needs a text-to-speech program (espeak-ng or flite), and this server has none",
        ));
    }
    serde_json::to_string(&flow).map_err(|error| ApiError::Internal(error.into()))
}

async fn fetch(state: &AppState, id: i64) -> Result<Flow, ApiError> {
    state
        .storage
        .flow(id)
        .await?
        .map(Flow::from)
        .ok_or_else(|| ApiError::NotFound(format!("no flow {id}")))
}

/// Makes a flow (version 1) from a checked document.
#[utoipa::path(
    operation_id = "create_flow",
    post,
    path = "/api/v1/flows",
    tag = "flows",
    security(("bearer" = [])),
    request_body = NewFlow,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 201, description = "Made", body = Flow),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "No such account, or the document names (at `path`) a flow, phone, agent or prompt that does not exist", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "A field, or the document at `path`, is wrong", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewFlow>,
) -> Result<(StatusCode, Json<Flow>), ApiError> {
    caller.require(Role::Admin)?;
    check_name(&new.name)?;
    if let Some(account_id) = new.account_id {
        super::accounts::require_exists(&state, account_id).await?;
    }
    let document = check_document(&state, &new.document).await?;
    let now = state.now_rfc3339();
    let id = state
        .storage
        .create_flow(new.name.trim(), new.account_id, &document, &now)
        .await
        .map_err(|error| ApiError::from_write(error, || "the account is gone".to_string()))?;
    tracing::info!(flow = id, name = %new.name.trim(), "flow made");
    state
        .directory(state.storage.flow_directory_entry(id).await?)
        .await;
    Ok((StatusCode::CREATED, Json(fetch(&state, id).await?)))
}

/// Lists flows, by name.
#[utoipa::path(
    operation_id = "list_flows",
    get,
    path = "/api/v1/flows",
    tag = "flows",
    security(("bearer" = [])),
    params(FlowQuery),
    responses(
        (status = 200, description = "A page of flows", body = Page<Flow>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<FlowQuery>,
) -> Result<Json<Page<Flow>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .flows(paging.window(), query.account_id, query.name.as_deref())
        .await?;
    Ok(Json(
        paging.page(rows.into_iter().map(Flow::from).collect(), total),
    ))
}

/// One flow, at its current version.
#[utoipa::path(
    operation_id = "get_flow",
    get,
    path = "/api/v1/flows/{id}",
    tag = "flows",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "The flow", body = Flow),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such flow", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Flow>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(fetch(&state, id).await?))
}

/// Renames a flow, or uploads its next version, or both.
#[utoipa::path(
    operation_id = "update_flow",
    patch,
    path = "/api/v1/flows/{id}",
    tag = "flows",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The flow's id")),
    request_body = FlowChanges,
    responses(
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 200, description = "The flow as changed", body = Flow),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such flow", body = ErrorBody),
        (status = 409, description = "The document names (at `path`) a flow, phone, agent or prompt that does not exist", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "A field, or the document at `path`, is wrong", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<FlowChanges>,
) -> Result<Json<Flow>, ApiError> {
    caller.require(Role::Admin)?;
    fetch(&state, id).await?;
    if let Some(name) = &changes.name {
        check_name(name)?;
    }
    let document = match &changes.document {
        Some(document) => Some(check_document(&state, document).await?),
        None => None,
    };
    let now = state.now_rfc3339();
    let version = state
        .storage
        .update_flow(
            id,
            changes.name.as_deref().map(str::trim),
            document.as_deref(),
            &now,
        )
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no flow {id}")))?;
    if document.is_some() {
        tracing::info!(flow = id, version, "flow version uploaded");
        state
            .directory(state.storage.flow_directory_entry(id).await?)
            .await;
    }
    Ok(Json(fetch(&state, id).await?))
}

/// Deletes a flow and its versions, unless another flow names it.
#[utoipa::path(
    operation_id = "delete_flow",
    delete,
    path = "/api/v1/flows/{id}",
    tag = "flows",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The flow's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such flow", body = ErrorBody),
        (status = 409, description = "Another flow names it", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    fetch(&state, id).await?;
    let goes_here = |named: &ivr::References| named.flows.iter().any(|(_, flow)| *flow == id);
    if let Some(namer) =
        super::naming::first(&state.storage, Some(&Namer::Flow(id)), goes_here).await?
    {
        return Err(ApiError::Conflict(format!(
            "{namer} goes to this flow: change it first"
        )));
    }
    if !state.storage.delete_flow(id).await? {
        return Err(ApiError::NotFound(format!("no flow {id}")));
    }
    tracing::info!(flow = id, "flow deleted");
    state.directory(DirectoryChange::FlowGone { id }).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version of a flow's document, newest first.
#[utoipa::path(
    operation_id = "list_flow_versions",
    get,
    path = "/api/v1/flows/{id}/versions",
    tag = "flows",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The flow's id")),
    responses(
        (status = 200, description = "Its versions", body = Vec<FlowVersion>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such flow", body = ErrorBody),
    )
)]
pub async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Vec<FlowVersion>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    fetch(&state, id).await?;
    let rows = state.storage.flow_versions(id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(version, created_at, document)| FlowVersion {
                version,
                created_at,
                document: serde_json::from_str(&document).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
    ))
}
