//! Voicemail boxes (`voicemail_boxes`): where flows' `voicemail` verbs
//! leave messages, each an account's, a group's or an agent's.

use super::{QueryBuilder, Storage};
use crate::http::mailboxes::{MailboxRow, Owner};

/// The columns of [`MailboxRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, name, description, account_id, skill_id, agent_id, \
         (SELECT COUNT(*) FROM voicemails WHERE voicemails.mailbox = voicemail_boxes.name) \
         AS messages, \
         (SELECT COUNT(*) FROM voicemails WHERE voicemails.mailbox = voicemail_boxes.name \
         AND NOT voicemails.heard) AS new_messages, \
         created_at, updated_at"
    };
}

/// The SQL condition "box `name` is one agent `$n` reads" (its own, and
/// its skills' groups'), after `column IN`.
pub(super) fn push_agent_boxes(builder: &mut QueryBuilder, agent_id: i64) {
    builder
        .push(" (SELECT name FROM voicemail_boxes WHERE agent_id = ")
        .push_bind(agent_id)
        .push(" OR skill_id IN (SELECT skill_id FROM agent_skills WHERE agent_id = ")
        .push_bind(agent_id)
        .push("))");
}

impl Storage {
    /// Whether agent `agent_id` reads box `name`: its own, or its group's.
    pub async fn agent_reads_mailbox(
        &self,
        agent_id: i64,
        name: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut query = QueryBuilder::new("SELECT COUNT(*) FROM voicemail_boxes WHERE name = ");
        query.push_bind(name.to_string()).push(" AND name IN");
        push_agent_boxes(&mut query, agent_id);
        let (count,): (i64,) = query.build_query_as().fetch_one(&self.pool).await?;
        Ok(count > 0)
    }

    /// Box `id` with its message counts, if there is one.
    pub async fn mailbox(&self, id: i64) -> Result<Option<MailboxRow>, sqlx::Error> {
        sqlx::query_as::<_, MailboxRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM voicemail_boxes WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Stores a new box of `owner` made at `now`; returns its id.
    pub async fn insert_mailbox(
        &self,
        name: &str,
        description: Option<&str>,
        owner: Owner,
        now: &str,
    ) -> Result<i64, sqlx::Error> {
        let (account_id, skill_id, agent_id) = owner.columns();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO voicemail_boxes (name, description, account_id, skill_id, agent_id, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(account_id)
        .bind(skill_id)
        .bind(agent_id)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// A page of boxes by name, with their message counts (only the one
    /// named `name`, an account's, a group's, or those agent `agent_id`
    /// reads, as given), and how many there are.
    pub async fn mailboxes(
        &self,
        window: (u32, u32),
        name: Option<&str>,
        account_id: Option<i64>,
        skill_id: Option<i64>,
        agent_id: Option<i64>,
    ) -> Result<(Vec<MailboxRow>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(name) = name {
                builder.push(" AND name = ").push_bind(name.to_string());
            }
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(skill_id) = skill_id {
                builder.push(" AND skill_id = ").push_bind(skill_id);
            }
            if let Some(agent_id) = agent_id {
                builder.push(" AND name IN");
                push_agent_boxes(builder, agent_id);
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM voicemail_boxes",
            concat!("SELECT ", columns!(), " FROM voicemail_boxes"),
            " ORDER BY name, id",
            filter,
        )
        .await
    }

    /// Changes box `id` at `now`: its description if given (`Some(None)`
    /// removes it), its owner if given. Returns whether it exists.
    pub async fn update_mailbox(
        &self,
        id: i64,
        description: Option<Option<&str>>,
        owner: Option<Owner>,
        now: &str,
    ) -> Result<bool, sqlx::Error> {
        let (account_id, skill_id, agent_id) =
            owner.map(Owner::columns).unwrap_or((None, None, None));
        let updated = sqlx::query(
            "UPDATE voicemail_boxes SET \
             description = CASE WHEN $1 THEN $2 ELSE description END, \
             account_id = CASE WHEN $3 THEN $4 ELSE account_id END, \
             skill_id = CASE WHEN $3 THEN $5 ELSE skill_id END, \
             agent_id = CASE WHEN $3 THEN $6 ELSE agent_id END, \
             updated_at = $7 WHERE id = $8",
        )
        .bind(description.is_some())
        .bind(description.flatten())
        .bind(owner.is_some())
        .bind(account_id)
        .bind(skill_id)
        .bind(agent_id)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Deletes box `id`. Returns whether it existed.
    pub async fn delete_mailbox(&self, id: i64) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM voicemail_boxes WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}
