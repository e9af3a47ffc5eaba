//! `/api/v1/skills`: what agents are good at, each agent at a level
//! (`/api/v1/agents`). Anyone with a token reads them; admins write. A
//! skill an agent has cannot be deleted.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::paging::{IdPath, Page, Paging, ValidQuery};

/// A skill.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Skill {
    /// Its id.
    pub id: i64,
    /// Its name (unique).
    pub name: String,
    /// What it means, if said.
    pub description: Option<String>,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A skill to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSkill {
    /// 1-100 characters, not all blank; unique.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// What it means, up to 1,000 characters.
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// Changes to a skill: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillChanges {
    /// A new name.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// A new description; `null` removes it.
    #[serde(default, deserialize_with = "super::patch::nullable")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SkillQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only the skill with this name.
    pub name: Option<String>,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("/name", "must be 1 to 100 characters"));
    }
    Ok(())
}

fn check_description(description: Option<&str>) -> Result<(), ApiError> {
    if description.is_some_and(|text| text.chars().count() > 1000) {
        return Err(ApiError::invalid(
            "/description",
            "must be at most 1000 characters",
        ));
    }
    Ok(())
}

async fn fetch(state: &AppState, id: i64) -> Result<Skill, ApiError> {
    state
        .storage
        .skill(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no skill {id}")))
}

/// Makes a skill.
#[utoipa::path(
    post,
    path = "/api/v1/skills",
    operation_id = "create_skill",
    tag = "skills",
    security(("bearer" = [])),
    request_body = NewSkill,
    responses(
        (status = 201, description = "Made", body = Skill),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewSkill>,
) -> Result<(StatusCode, Json<Skill>), ApiError> {
    caller.require(Role::Admin)?;
    check_name(&new.name)?;
    check_description(new.description.as_deref())?;
    let name = new.name.trim();
    let now = state.now_rfc3339();
    let id = state
        .storage
        .insert_skill(name, new.description.as_deref(), &now)
        .await
        .map_err(|error| ApiError::from_write(error, || format!("skill {name:?} exists")))?;
    Ok((StatusCode::CREATED, Json(fetch(&state, id).await?)))
}

/// Lists skills, by name.
#[utoipa::path(
    get,
    path = "/api/v1/skills",
    operation_id = "list_skills",
    tag = "skills",
    security(("bearer" = [])),
    params(SkillQuery),
    responses(
        (status = 200, description = "A page of skills", body = Page<Skill>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<SkillQuery>,
) -> Result<Json<Page<Skill>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .skills(paging.window(), query.name.as_deref())
        .await?;
    Ok(Json(paging.page(rows, total)))
}

/// One skill.
#[utoipa::path(
    get,
    path = "/api/v1/skills/{id}",
    operation_id = "get_skill",
    tag = "skills",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The skill's id")),
    responses(
        (status = 200, description = "The skill", body = Skill),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such skill", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Skill>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(fetch(&state, id).await?))
}

/// Changes the fields given.
#[utoipa::path(
    patch,
    path = "/api/v1/skills/{id}",
    operation_id = "update_skill",
    tag = "skills",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The skill's id")),
    request_body = SkillChanges,
    responses(
        (status = 200, description = "The skill as changed", body = Skill),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such skill", body = ErrorBody),
        (status = 409, description = "The new name is taken", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<SkillChanges>,
) -> Result<Json<Skill>, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(name) = &changes.name {
        check_name(name)?;
    }
    if let Some(description) = &changes.description {
        check_description(description.as_deref())?;
    }
    let name = changes.name.as_deref().map(str::trim);
    let description = changes.description.as_ref().map(Option::as_deref);
    let found = state
        .storage
        .update_skill(id, name, description, &state.now_rfc3339())
        .await
        .map_err(|error| {
            ApiError::from_write(error, || {
                format!("skill {:?} exists", name.unwrap_or_default())
            })
        })?;
    if !found {
        return Err(ApiError::NotFound(format!("no skill {id}")));
    }
    Ok(Json(fetch(&state, id).await?))
}

/// Deletes a skill that no agent has.
#[utoipa::path(
    delete,
    path = "/api/v1/skills/{id}",
    operation_id = "delete_skill",
    tag = "skills",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The skill's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such skill", body = ErrorBody),
        (status = 409, description = "An agent has it, or a group voicemail box is its", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let existed = state.storage.delete_skill(id).await.map_err(|error| {
        ApiError::from_write(error, || {
            format!("skill {id} is an agent's or a group voicemail box's: take it from them first")
        })
    })?;
    if !existed {
        return Err(ApiError::NotFound(format!("no skill {id}")));
    }
    Ok(StatusCode::NO_CONTENT)
}
