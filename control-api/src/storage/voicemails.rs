//! Voicemail messages (`voicemails`): what flows' `voicemail` verbs took,
//! listed by the voicemail writer and read, marked and deleted through the
//! API.

use super::mailboxes::push_agent_boxes;
use super::{QueryBuilder, Storage};
use crate::cdr::timestamp;
use crate::http::voicemails::VoicemailRow;
use crate::voicemail::VoicemailMessage;

/// The columns of [`VoicemailRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, mailbox, call_id, caller_id, did, account_id, file_name, duration_seconds, \
         received_at, heard, transcription, transcription_status"
    };
}

impl Storage {
    /// Message `id`, if there is one.
    pub async fn voicemail(&self, id: i64) -> Result<Option<VoicemailRow>, sqlx::Error> {
        sqlx::query_as::<_, VoicemailRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM voicemails WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// A page of messages, newest first (only those in box `mailbox`,
    /// heard or not, an account's, or in the boxes agent `agent_id`
    /// reads, as given), and how many there are.
    pub async fn voicemails(
        &self,
        window: (u32, u32),
        mailbox: Option<&str>,
        heard: Option<bool>,
        account_id: Option<i64>,
        agent_id: Option<i64>,
    ) -> Result<(Vec<VoicemailRow>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(mailbox) = mailbox {
                builder
                    .push(" AND mailbox = ")
                    .push_bind(mailbox.to_string());
            }
            if let Some(heard) = heard {
                builder.push(" AND heard = ").push_bind(heard);
            }
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(agent_id) = agent_id {
                builder.push(" AND mailbox IN");
                push_agent_boxes(builder, agent_id);
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM voicemails",
            concat!("SELECT ", columns!(), " FROM voicemails"),
            " ORDER BY received_at DESC, id DESC",
            filter,
        )
        .await
    }

    /// Stores a new message, new (not heard), its account that of its
    /// DID, its transcription `transcription_status`; returns its id.
    pub async fn insert_voicemail(
        &self,
        message: &VoicemailMessage,
        transcription_status: &str,
    ) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO voicemails (mailbox, call_id, caller_id, did, account_id, file_name, \
             duration_seconds, received_at, heard, transcription_status) \
             VALUES ($1, $2, $3, $4, (SELECT account_id FROM dids WHERE number = $5), $6, $7, $8, \
             $9, $10) RETURNING id",
        )
        .bind(&message.mailbox)
        .bind(&message.call_id)
        .bind(&message.caller_id)
        .bind(&message.did)
        .bind(&message.did)
        .bind(&message.file)
        .bind(message.duration.as_secs_f64())
        .bind(timestamp(message.received_at))
        .bind(false)
        .bind(transcription_status)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Stores message `id`'s transcription (none if it failed) and its
    /// status.
    pub async fn set_transcription(
        &self,
        id: i64,
        text: Option<&str>,
        status: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE voicemails SET transcription = $1, transcription_status = $2 WHERE id = $3",
        )
        .bind(text)
        .bind(status)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks message `id` heard or not. Returns whether it exists.
    pub async fn set_voicemail_heard(&self, id: i64, heard: bool) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query("UPDATE voicemails SET heard = $1 WHERE id = $2")
            .bind(heard)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Deletes message `id`'s row. Returns whether it existed.
    pub async fn delete_voicemail(&self, id: i64) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM voicemails WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}
