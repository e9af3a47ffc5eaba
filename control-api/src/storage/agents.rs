//! Agents (`agents`) and their skills (`agent_skills`): the people who
//! log in and take calls. An agent and its skills are written in one
//! transaction.

use sqlx::AnyConnection;

use super::{Flag, QueryBuilder, Storage};
use crate::http::agents::{AgentChanges, AgentRow, NewAgent, SkillLevel, SkillOfAgent};
use crate::switch::DirectoryChange;

/// The columns of [`AgentRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, login, name, extension, account_id, active, created_at, updated_at"
    };
}

/// Why writing an agent with its skills failed (nothing of it is kept).
#[derive(Debug)]
pub enum AgentWriteError {
    /// The agent's own row could not be written.
    Agent(sqlx::Error),
    /// The skill at `index` of those given (skill `skill_id`) could not be
    /// given to it.
    Skill {
        index: usize,
        skill_id: i64,
        error: sqlx::Error,
    },
    /// Anything else: the transaction, or taking its old skills away.
    Other(sqlx::Error),
}

impl From<sqlx::Error> for AgentWriteError {
    fn from(error: sqlx::Error) -> Self {
        Self::Other(error)
    }
}

impl Storage {
    /// Agent `id`'s row (without its skills), if there is one.
    pub async fn agent_row(&self, id: i64) -> Result<Option<AgentRow>, sqlx::Error> {
        sqlx::query_as::<_, AgentRow>(concat!("SELECT ", columns!(), " FROM agents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The skills of the agents `agent_ids`, by skill name.
    pub async fn skills_of_agents(
        &self,
        agent_ids: &[i64],
    ) -> Result<Vec<SkillOfAgent>, sqlx::Error> {
        if agent_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::new(
            "SELECT agent_skills.agent_id, agent_skills.skill_id, skills.name, agent_skills.level \
             FROM agent_skills JOIN skills ON skills.id = agent_skills.skill_id \
             WHERE agent_skills.agent_id IN (",
        );
        for (index, id) in agent_ids.iter().enumerate() {
            if index > 0 {
                query.push(", ");
            }
            query.push_bind(*id);
        }
        query.push(") ORDER BY skills.name, skills.id");
        query
            .build_query_as::<SkillOfAgent>()
            .fetch_all(&self.pool)
            .await
    }

    /// A page of agents' rows by login (only those with `login`, of
    /// `account_id`, with skill `skill_id` and `active` or not, each if
    /// given), and how many there are.
    pub async fn agent_rows(
        &self,
        window: (u32, u32),
        login: Option<&str>,
        account_id: Option<i64>,
        skill_id: Option<i64>,
        active: Option<bool>,
    ) -> Result<(Vec<AgentRow>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(login) = login {
                builder.push(" AND login = ").push_bind(login.to_string());
            }
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(skill_id) = skill_id {
                builder
                    .push(
                        " AND EXISTS (SELECT 1 FROM agent_skills WHERE agent_skills.agent_id = agents.id \
                         AND agent_skills.skill_id = ",
                    )
                    .push_bind(skill_id)
                    .push(")");
            }
            if let Some(active) = active {
                builder.push(" AND active = ").push_bind(active);
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM agents",
            concat!("SELECT ", columns!(), " FROM agents"),
            " ORDER BY login",
            filter,
        )
        .await
    }

    /// Stores agent `new` (its name trimmed) made at `now`, with its
    /// skills, all or nothing; returns its id.
    pub async fn insert_agent(&self, new: &NewAgent, now: &str) -> Result<i64, AgentWriteError> {
        let mut transaction = self.pool.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO agents (login, name, extension, account_id, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&new.login)
        .bind(new.name.trim())
        .bind(&new.extension)
        .bind(new.account_id)
        .bind(new.active)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *transaction)
        .await
        .map_err(AgentWriteError::Agent)?;
        insert_agent_skills(&mut transaction, id, &new.skills).await?;
        transaction.commit().await?;
        Ok(id)
    }

    /// Changes agent `id` at `now`, all or nothing: each field of
    /// `changes` that is given (its name trimmed; `Some(None)` removes
    /// the extension or account), and its skills replaced by
    /// `changes.skills` if given. Returns whether it exists.
    pub async fn update_agent(
        &self,
        id: i64,
        changes: &AgentChanges,
        now: &str,
    ) -> Result<bool, AgentWriteError> {
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE agents SET login = coalesce($1, login), name = coalesce($2, name), \
             extension = CASE WHEN $3 THEN $4 ELSE extension END, \
             account_id = CASE WHEN $5 THEN $6 ELSE account_id END, \
             active = coalesce($7, active), updated_at = $8 WHERE id = $9",
        )
        .bind(&changes.login)
        .bind(changes.name.as_deref().map(str::trim))
        .bind(changes.extension.is_some())
        .bind(changes.extension.clone().flatten())
        .bind(changes.account_id.is_some())
        .bind(changes.account_id.flatten())
        .bind(changes.active)
        .bind(now)
        .bind(id)
        .execute(&mut *transaction)
        .await
        .map_err(AgentWriteError::Agent)?;
        if updated.rows_affected() == 0 {
            // Dropping the transaction rolls it back.
            return Ok(false);
        }
        if let Some(skills) = &changes.skills {
            sqlx::query("DELETE FROM agent_skills WHERE agent_id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            insert_agent_skills(&mut transaction, id, skills).await?;
        }
        transaction.commit().await?;
        Ok(true)
    }

    /// Deletes agent `id` and its skills (refused by the database while
    /// it owns a voicemail box).
    pub async fn delete_agent(&self, id: i64) -> Result<(), sqlx::Error> {
        // Its skills go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM agents WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What the call controller should know of agent `login` now: the
    /// extension it takes calls on while it is active and has one.
    pub async fn agent_directory_entry(&self, login: &str) -> Result<DirectoryChange, sqlx::Error> {
        let row: Option<(Flag, Option<String>)> =
            sqlx::query_as("SELECT active, extension FROM agents WHERE login = $1")
                .bind(login)
                .fetch_optional(&self.pool)
                .await?;
        let login = login.to_string();
        Ok(match row {
            Some((Flag(true), Some(extension))) => DirectoryChange::AgentActive {
                login,
                extension: extension.into(),
            },
            _ => DirectoryChange::AgentGone { login },
        })
    }

    /// Every active agent with an extension, as the call controller
    /// starts with them.
    pub async fn agent_directory(&self) -> Result<Vec<DirectoryChange>, sqlx::Error> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT login, extension FROM agents WHERE active AND extension IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(login, extension)| DirectoryChange::AgentActive {
                login,
                extension: extension.into(),
            })
            .collect())
    }
}

/// Gives agent `agent_id` `skills`, inside the transaction that wrote the
/// agent on `connection`.
async fn insert_agent_skills(
    connection: &mut AnyConnection,
    agent_id: i64,
    skills: &[SkillLevel],
) -> Result<(), AgentWriteError> {
    for (index, skill) in skills.iter().enumerate() {
        sqlx::query("INSERT INTO agent_skills (agent_id, skill_id, level) VALUES ($1, $2, $3)")
            .bind(agent_id)
            .bind(skill.skill_id)
            .bind(i64::from(skill.level))
            .execute(&mut *connection)
            .await
            .map_err(|error| AgentWriteError::Skill {
                index,
                skill_id: skill.skill_id,
                error,
            })?;
    }
    Ok(())
}
