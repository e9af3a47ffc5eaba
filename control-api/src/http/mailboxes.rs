//! `/api/v1/voicemail-boxes`: the boxes flows' `voicemail` verbs leave
//! messages in, by name. Each belongs to an account, to a group (shared by
//! every agent with a skill) or to one agent; an agent's boxes are its own
//! and its groups', and a user who is that agent, with the agent role,
//! reads those and no others. A box is named once and keeps its name: flows and
//! messages know it by that name. A box that a flow or DID names, or that
//! holds messages, is not deleted.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody, ValidJson};
use super::paging::{IdPath, Page, Paging, ValidQuery};
use crate::storage::Named;

/// Whose a box is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Owner {
    /// An account's.
    Account {
        /// The account's id.
        #[serde(deserialize_with = "super::integer::i64")]
        account_id: i64,
    },
    /// A group's: every agent with the skill reads it.
    Group {
        /// The skill's id.
        #[serde(deserialize_with = "super::integer::i64")]
        skill_id: i64,
    },
    /// One agent's.
    Agent {
        /// The agent's id.
        #[serde(deserialize_with = "super::integer::i64")]
        agent_id: i64,
    },
}

impl Owner {
    /// The owner's column values: account, skill and agent ids.
    pub fn columns(self) -> (Option<i64>, Option<i64>, Option<i64>) {
        match self {
            Owner::Account { account_id } => (Some(account_id), None, None),
            Owner::Group { skill_id } => (None, Some(skill_id), None),
            Owner::Agent { agent_id } => (None, None, Some(agent_id)),
        }
    }

    /// A 409 at `/owner/...` unless the owner exists: a well-formed
    /// reference to nothing is wrong with the state, not the request.
    async fn require(self, state: &AppState) -> Result<(), ApiError> {
        let (named, id, pointer, what) = match self {
            Owner::Account { account_id } => (
                Named::Account(account_id),
                account_id,
                "/owner/account_id",
                "account",
            ),
            Owner::Group { skill_id } => {
                (Named::Skill(skill_id), skill_id, "/owner/skill_id", "skill")
            }
            Owner::Agent { agent_id } => {
                (Named::Agent(agent_id), agent_id, "/owner/agent_id", "agent")
            }
        };
        if state.storage.exists(named).await? {
            Ok(())
        } else {
            Err(ApiError::ConflictAt {
                path: pointer.into(),
                reason: format!("there is no {what} {id}"),
            })
        }
    }
}

/// A voicemail box.
#[derive(Debug, Serialize, ToSchema)]
pub struct Mailbox {
    /// Its id.
    pub id: i64,
    /// Its name, as flows' `voicemail` verbs give it (unique).
    pub name: String,
    /// What it is for, if said.
    pub description: Option<String>,
    /// Whose it is.
    pub owner: Owner,
    /// How many messages it holds.
    pub messages: i64,
    /// How many of them are not yet heard.
    pub new_messages: i64,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A box as stored, with its message counts.
#[derive(sqlx::FromRow)]
pub struct MailboxRow {
    id: i64,
    name: String,
    description: Option<String>,
    account_id: Option<i64>,
    skill_id: Option<i64>,
    agent_id: Option<i64>,
    messages: i64,
    new_messages: i64,
    created_at: String,
    updated_at: String,
}

impl MailboxRow {
    fn into_mailbox(self) -> Result<Mailbox, ApiError> {
        let owner = match (self.account_id, self.skill_id, self.agent_id) {
            (Some(account_id), None, None) => Owner::Account { account_id },
            (None, Some(skill_id), None) => Owner::Group { skill_id },
            (None, None, Some(agent_id)) => Owner::Agent { agent_id },
            _ => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "voicemail box {} has no single owner",
                    self.id
                )));
            }
        };
        Ok(Mailbox {
            id: self.id,
            name: self.name,
            description: self.description,
            owner,
            messages: self.messages,
            new_messages: self.new_messages,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A box to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMailbox {
    /// 1-64 letters, digits, `-` or `_`; unique. It cannot change later.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub name: String,
    /// What it is for, up to 1,000 characters.
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Whose it is.
    #[serde(deserialize_with = "super::error::object")]
    pub owner: Owner,
}

/// Changes to a box: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxChanges {
    /// A new description; `null` removes it.
    #[serde(default, deserialize_with = "super::patch::nullable")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    /// A new owner.
    #[serde(default, deserialize_with = "super::error::optional_object")]
    pub owner: Option<Owner>,
}

/// Filters and paging of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MailboxQuery {
    /// Items per page, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Only the box with this name.
    pub name: Option<String>,
    /// Only this account's boxes.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only this group's (skill's) boxes.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub skill_id: Option<i64>,
    /// Only the boxes this agent reads: its own and its groups'.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub agent_id: Option<i64>,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !valid {
        return Err(ApiError::invalid(
            "/name",
            "must be 1 to 64 letters, digits, '-' or '_'",
        ));
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

async fn fetch(state: &AppState, id: i64) -> Result<Mailbox, ApiError> {
    state
        .storage
        .mailbox(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no voicemail box {id}")))?
        .into_mailbox()
}

/// Makes a voicemail box.
#[utoipa::path(
    post,
    path = "/api/v1/voicemail-boxes",
    operation_id = "create_voicemail_box",
    tag = "voicemails",
    security(("bearer" = [])),
    request_body = NewMailbox,
    responses(
        (status = 201, description = "Made", body = Mailbox),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "The name is taken, or the owner does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(new): ValidJson<NewMailbox>,
) -> Result<(StatusCode, Json<Mailbox>), ApiError> {
    caller.require(Role::Admin)?;
    check_name(&new.name)?;
    check_description(new.description.as_deref())?;
    new.owner.require(&state).await?;
    let now = state.now_rfc3339();
    let id = state
        .storage
        .insert_mailbox(&new.name, new.description.as_deref(), new.owner, &now)
        .await
        .map_err(|error| {
            ApiError::from_write(error, || format!("voicemail box {:?} exists", new.name))
        })?;
    tracing::info!(mailbox = %new.name, "voicemail box made");
    Ok((StatusCode::CREATED, Json(fetch(&state, id).await?)))
}

/// Lists voicemail boxes, by name, each with its message counts.
#[utoipa::path(
    get,
    path = "/api/v1/voicemail-boxes",
    operation_id = "list_voicemail_boxes",
    tag = "voicemails",
    security(("bearer" = [])),
    params(MailboxQuery),
    responses(
        (status = 200, description = "A page of boxes", body = Page<Mailbox>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role, or the agent role as an agent", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<MailboxQuery>,
) -> Result<Json<Page<Mailbox>>, ApiError> {
    let agent_id = caller.voicemail_agent(query.agent_id)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .mailboxes(
            paging.window(),
            query.name.as_deref(),
            query.account_id,
            query.skill_id,
            agent_id,
        )
        .await?;
    let boxes = rows
        .into_iter()
        .map(MailboxRow::into_mailbox)
        .collect::<Result<_, _>>()?;
    Ok(Json(paging.page(boxes, total)))
}

/// One voicemail box.
#[utoipa::path(
    get,
    path = "/api/v1/voicemail-boxes/{id}",
    operation_id = "get_voicemail_box",
    tag = "voicemails",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The box's id")),
    responses(
        (status = 200, description = "The box", body = Mailbox),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role, or the agent role as an agent", body = ErrorBody),
        (status = 404, description = "No such box", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<Mailbox>, ApiError> {
    let reader = caller.voicemail_reader()?;
    let mailbox = fetch(&state, id).await?;
    if let Some(agent_id) = reader
        && !state
            .storage
            .agent_reads_mailbox(agent_id, &mailbox.name)
            .await?
    {
        return Err(ApiError::NotFound(format!("no voicemail box {id}")));
    }
    Ok(Json(mailbox))
}

/// Changes a box's description or owner.
#[utoipa::path(
    patch,
    path = "/api/v1/voicemail-boxes/{id}",
    operation_id = "update_voicemail_box",
    tag = "voicemails",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The box's id")),
    request_body = MailboxChanges,
    responses(
        (status = 200, description = "The box as changed", body = Mailbox),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such box", body = ErrorBody),
        (status = 409, description = "The owner does not exist", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ValidJson(changes): ValidJson<MailboxChanges>,
) -> Result<Json<Mailbox>, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(description) = &changes.description {
        check_description(description.as_deref())?;
    }
    if let Some(owner) = changes.owner {
        owner.require(&state).await?;
    }
    let description = changes.description.as_ref().map(Option::as_deref);
    let found = state
        .storage
        .update_mailbox(id, description, changes.owner, &state.now_rfc3339())
        .await
        .map_err(|error| {
            ApiError::from_write(error, || "the new owner was deleted meanwhile".to_string())
        })?;
    if !found {
        return Err(ApiError::NotFound(format!("no voicemail box {id}")));
    }
    Ok(Json(fetch(&state, id).await?))
}

/// Deletes an empty box that no flow or DID names.
#[utoipa::path(
    delete,
    path = "/api/v1/voicemail-boxes/{id}",
    operation_id = "delete_voicemail_box",
    tag = "voicemails",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The box's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such box", body = ErrorBody),
        (status = 409, description = "It holds messages, or a flow or DID names it", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let mailbox = fetch(&state, id).await?;
    if mailbox.messages > 0 {
        return Err(ApiError::Conflict(format!(
            "voicemail box {:?} holds {} messages: delete them first",
            mailbox.name, mailbox.messages
        )));
    }
    let names_it = |named: &ivr::References| {
        named
            .mailboxes
            .iter()
            .any(|(_, name)| *name == mailbox.name)
    };
    if let Some(namer) = super::naming::first(&state.storage, None, names_it).await? {
        return Err(ApiError::Conflict(format!(
            "{namer} takes messages in this box: change it first"
        )));
    }
    state.storage.delete_mailbox(id).await?;
    tracing::info!(mailbox = %mailbox.name, "voicemail box deleted");
    Ok(StatusCode::NO_CONTENT)
}
