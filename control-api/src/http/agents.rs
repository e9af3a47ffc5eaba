//! `/api/v1/agents`: the people who log in and take calls, each on a
//! phone's extension, with their skills at a level from 1 to 10 (stored in
//! `agent_skills`, shown embedded). An agent and its skills are written in
//! one transaction. Anyone with a token reads them; admins write. The call
//! controller knows each active agent's extension, so that flows dial an
//! agent by login; an agent that a flow or DID names keeps its login and
//! is not deleted.

use crate::storage::Named;
use std::collections::{HashMap, HashSet};

use crate::storage::{AgentWriteError, Flag};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::paging::{IdPath, Page, Paging, ValidQuery};

/// The highest skill level.
const MAX_LEVEL: u32 = 10;

/// An agent, with its skills.
#[derive(Debug, Serialize, ToSchema)]
pub struct Agent {
    /// Its id.
    pub id: i64,
    /// What it logs in as (unique).
    pub login: String,
    /// Its name.
    pub name: String,
    /// The extension of the phone it takes calls on, if any.
    pub extension: Option<String>,
    /// The account it works for, if any.
    pub account_id: Option<i64>,
    /// Whether it may take calls.
    pub active: bool,
    /// Its skills, by name.
    pub skills: Vec<AgentSkill>,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// One of an agent's skills.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AgentSkill {
    /// The skill's id.
    pub skill_id: i64,
    /// The skill's name.
    pub name: String,
    /// How good the agent is at it, 1-10.
    #[schema(minimum = 1, maximum = 10)]
    pub level: i64,
}

/// A skill to give an agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillLevel {
    /// The skill's id.
    #[serde(deserialize_with = "super::integer::i64")]
    pub skill_id: i64,
    /// How good the agent is at it, 1-10.
    #[serde(deserialize_with = "super::integer::u32")]
    #[schema(minimum = 1, maximum = 10)]
    pub level: u32,
}

/// An agent to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// 1-64 letters, digits, `.`, `_` or `-`; unique.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub login: String,
    /// 1-100 characters, not all blank.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// The extension of the phone it takes calls on (an existing phone's).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,32}$")]
    pub extension: Option<String>,
    /// The account it works for.
    #[serde(default, deserialize_with = "super::integer::optional_i64")]
    pub account_id: Option<i64>,
    /// Its skills (default none), each skill once.
    #[serde(default, deserialize_with = "super::error::objects")]
    pub skills: Vec<SkillLevel>,
    /// Whether it may take calls (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Changes to an agent: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentChanges {
    /// A new login.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub login: Option<String>,
    /// A new name.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// Another phone's extension; `null` takes it off its phone.
    #[serde(default, deserialize_with = "super::patch::nullable")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9._-]{1,32}$")]
    pub extension: Option<Option<String>>,
    /// Another account; `null` takes it off its account.
    #[serde(default, deserialize_with = "super::patch::nullable_i64")]
    #[schema(value_type = Option<i64>)]
    pub account_id: Option<Option<i64>>,
    /// Its skills from now on, in place of those it has.
    #[serde(default, deserialize_with = "super::error::optional_objects")]
    pub skills: Option<Vec<SkillLevel>>,
    /// Let it take calls, or not.
    pub active: Option<bool>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgentQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only the agent with this login.
    pub login: Option<String>,
    /// Only agents of this account.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only agents that have this skill.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub skill_id: Option<i64>,
    /// Only active (true) or inactive (false) agents.
    pub active: Option<bool>,
}

/// An agent's columns as stored (its skills are rows of their own).
#[derive(sqlx::FromRow)]
pub(crate) struct AgentRow {
    pub(crate) id: i64,
    pub(crate) login: String,
    pub(crate) name: String,
    pub(crate) extension: Option<String>,
    pub(crate) account_id: Option<i64>,
    #[sqlx(try_from = "Flag")]
    pub(crate) active: bool,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

/// An agent's skill as read with the agent it belongs to.
#[derive(sqlx::FromRow)]
pub(crate) struct SkillOfAgent {
    pub(crate) agent_id: i64,
    pub(crate) skill_id: i64,
    pub(crate) name: String,
    pub(crate) level: i64,
}

fn check_login(login: &str) -> Result<(), ApiError> {
    let valid = (1..=64).contains(&login.len())
        && login
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "/login",
            "must be 1 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("/name", "must be 1 to 100 characters"));
    }
    Ok(())
}

/// Each skill once, at a level from 1 to 10.
fn check_skills(skills: &[SkillLevel]) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    for (index, skill) in skills.iter().enumerate() {
        if !(1..=MAX_LEVEL).contains(&skill.level) {
            return Err(ApiError::invalid(
                format!("/skills/{index}/level"),
                format!("must be 1 to {MAX_LEVEL}"),
            ));
        }
        if !seen.insert(skill.skill_id) {
            return Err(ApiError::invalid(
                format!("/skills/{index}/skill_id"),
                format!("skill {} is given twice", skill.skill_id),
            ));
        }
    }
    Ok(())
}

/// 422 unless `extension` is a phone's.
async fn require_phone(state: &AppState, extension: &str) -> Result<(), ApiError> {
    let valid = (1..=32).contains(&extension.len())
        && extension
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
    if !valid {
        return Err(ApiError::invalid(
            "/extension",
            "must be 1 to 32 letters, digits, '.', '-' or '_'",
        ));
    }
    if state.storage.exists(Named::Phone(extension)).await? {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "/extension",
            format!("no phone has the extension {extension:?}"),
        ))
    }
}

/// An agent's row failed to be written: a taken login, or (a race with a
/// delete) an account or phone that is gone.
fn agent_clash(error: sqlx::Error, login: &str) -> ApiError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => {
            ApiError::Conflict(format!("login {login:?} is taken"))
        }
        sqlx::Error::Database(database) if database.is_foreign_key_violation() => {
            ApiError::Conflict("its account or phone no longer exists".to_string())
        }
        _ => error.into(),
    }
}

/// An agent and its skills failed to be written (nothing of the request
/// is kept): the agent's row as [`agent_clash`] says, for `login`; a
/// skill that does not exist is a 422 naming it.
fn write_failed(error: AgentWriteError, login: &str) -> ApiError {
    match error {
        AgentWriteError::Agent(error) => agent_clash(error, login),
        AgentWriteError::Skill {
            index,
            skill_id,
            error,
        } => match &error {
            sqlx::Error::Database(database) if database.is_foreign_key_violation() => {
                ApiError::invalid(
                    format!("/skills/{index}/skill_id"),
                    format!("there is no skill {skill_id}"),
                )
            }
            _ => error.into(),
        },
        AgentWriteError::Other(error) => error.into(),
    }
}

/// The agents of `rows` with their skills.
async fn with_skills(state: &AppState, rows: Vec<AgentRow>) -> Result<Vec<Agent>, ApiError> {
    let mut skills: HashMap<i64, Vec<AgentSkill>> = HashMap::new();
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    for skill in state.storage.skills_of_agents(&ids).await? {
        skills.entry(skill.agent_id).or_default().push(AgentSkill {
            skill_id: skill.skill_id,
            name: skill.name,
            level: skill.level,
        });
    }
    Ok(rows
        .into_iter()
        .map(|row| Agent {
            skills: skills.remove(&row.id).unwrap_or_default(),
            id: row.id,
            login: row.login,
            name: row.name,
            extension: row.extension,
            account_id: row.account_id,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect())
}

async fn fetch(state: &AppState, id: i64) -> Result<Agent, ApiError> {
    let row = state
        .storage
        .agent_row(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {id}")))?;
    with_skills(state, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("no agent {id}")))
}

/// Makes an agent with its skills, all or nothing.
#[utoipa::path(
    post,
    path = "/api/v1/agents",
    operation_id = "create_agent",
    tag = "agents",
    security(("bearer" = [])),
    request_body = NewAgent,
    responses(
        (status = 201, description = "Made", body = Agent),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "The login is taken, or the account does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong: also no phone with the extension, a skill that does not exist or is given twice", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewAgent>,
) -> Result<(StatusCode, Json<Agent>), ApiError> {
    caller.require(Role::Admin)?;
    check_login(&new.login)?;
    check_name(&new.name)?;
    check_skills(&new.skills)?;
    if let Some(account_id) = new.account_id {
        super::accounts::require_exists(&state, account_id).await?;
    }
    if let Some(extension) = &new.extension {
        require_phone(&state, extension).await?;
    }
    let shared = state.clone();
    let id = shared
        .directory_write(async move {
            let now = state.now_rfc3339();
            let id = state
                .storage
                .insert_agent(&new, &now)
                .await
                .map_err(|error| write_failed(error, &new.login))?;
            tell_controller(&state, &new.login).await?;
            Ok(id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(fetch(&shared, id).await?)))
}

/// Lists agents, by login.
#[utoipa::path(
    get,
    path = "/api/v1/agents",
    operation_id = "list_agents",
    tag = "agents",
    security(("bearer" = [])),
    params(AgentQuery),
    responses(
        (status = 200, description = "A page of agents", body = Page<Agent>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<AgentQuery>,
) -> Result<Json<Page<Agent>>, ApiError> {
    caller.require(Role::ReadOnly)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .agent_rows(
            paging.window(),
            query.login.as_deref(),
            query.account_id,
            query.skill_id,
            query.active,
        )
        .await?;
    Ok(Json(paging.page(with_skills(&state, rows).await?, total)))
}

/// One agent.
#[utoipa::path(
    get,
    path = "/api/v1/agents/{id}",
    operation_id = "get_agent",
    tag = "agents",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The agent's id")),
    responses(
        (status = 200, description = "The agent", body = Agent),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Agent>, ApiError> {
    caller.require(Role::ReadOnly)?;
    Ok(Json(fetch(&state, id).await?))
}

/// Changes the fields given, all or nothing; `skills` replaces the
/// agent's skills.
#[utoipa::path(
    patch,
    path = "/api/v1/agents/{id}",
    operation_id = "update_agent",
    tag = "agents",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The agent's id")),
    request_body = AgentChanges,
    responses(
        (status = 200, description = "The agent as changed", body = Agent),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The new login is taken, a flow or DID dials the old one, or the account does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong: also no phone with the extension, a skill that does not exist or is given twice", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<AgentChanges>,
) -> Result<Json<Agent>, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(login) = &changes.login {
        check_login(login)?;
    }
    if let Some(name) = &changes.name {
        check_name(name)?;
    }
    if let Some(skills) = &changes.skills {
        check_skills(skills)?;
    }
    if let Some(Some(account_id)) = changes.account_id {
        super::accounts::require_exists(&state, account_id).await?;
    }
    if let Some(Some(extension)) = &changes.extension {
        require_phone(&state, extension).await?;
    }
    let shared = state.clone();
    shared
        .directory_write(async move {
            let before = fetch(&state, id).await?;
            if changes
                .login
                .as_ref()
                .is_some_and(|login| *login != before.login)
            {
                refuse_if_named(&state, &before.login, "change its login").await?;
            }
            let found = state
                .storage
                .update_agent(id, &changes, &state.now_rfc3339())
                .await
                .map_err(|error| {
                    write_failed(error, changes.login.as_deref().unwrap_or_default())
                })?;
            if !found {
                return Err(ApiError::NotFound(format!("no agent {id}")));
            }
            let after = fetch(&state, id).await?;
            if after.login != before.login {
                tell_controller(&state, &before.login).await?;
            }
            tell_controller(&state, &after.login).await?;
            Ok(Json(after))
        })
        .await
}

/// Deletes an agent and its skills.
#[utoipa::path(
    delete,
    path = "/api/v1/agents/{id}",
    operation_id = "delete_agent",
    tag = "agents",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The agent's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "A flow or DID dials it, or it owns a voicemail box", body = ErrorBody),
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
            let agent = fetch(&state, id).await?;
            refuse_if_named(&state, &agent.login, "delete it").await?;
            state.storage.delete_agent(id).await.map_err(|error| {
                ApiError::from_write(error, || {
                    format!("agent {id} owns a voicemail box: give the box to someone else first")
                })
            })?;
            tell_controller(&state, &agent.login).await?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// A 409 when a flow or DID dials agent `login`: it must not `what`.
async fn refuse_if_named(state: &AppState, login: &str, what: &str) -> Result<(), ApiError> {
    let dials_it = |named: &ivr::References| named.agents.iter().any(|(_, n)| n == login);
    match super::naming::first(&state.storage, None, dials_it).await? {
        Some(namer) => Err(ApiError::Conflict(format!(
            "{namer} dials agent {login}: change it before you {what}"
        ))),
        None => Ok(()),
    }
}

/// Tells the call controller (and the other nodes) what agent `login` is
/// now.
async fn tell_controller(state: &AppState, login: &str) -> Result<(), ApiError> {
    let change = state.storage.agent_directory_entry(login).await?;
    state.directory(change).await;
    Ok(())
}
