//! Uploaded prompts (`prompts`): prompts and hold music by name, each
//! stored as the engine's WAV (8 kHz mono).

use media::player::Prompt;

use super::{QueryBuilder, Storage};
use crate::http::prompts::{PromptRow, UploadedPrompt};
use crate::switch::DirectoryChange;

/// The columns of [`PromptRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "name, account_id, seconds, created_at, updated_at"
    };
}

impl Storage {
    /// Uploaded prompt `name`, if there is one.
    pub async fn prompt(&self, name: &str) -> Result<Option<UploadedPrompt>, sqlx::Error> {
        let row = sqlx::query_as::<_, PromptRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM prompts WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(UploadedPrompt::from))
    }

    /// Whether an uploaded prompt `name` exists.
    pub async fn prompt_exists(&self, name: &str) -> Result<bool, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT name FROM prompts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Stores prompt `name` of `account_id`, `seconds` long, with its
    /// audio `wav`, at `now`: made, or replacing the one of that name.
    pub async fn upsert_prompt(
        &self,
        name: &str,
        account_id: Option<i64>,
        seconds: f64,
        wav: Vec<u8>,
        now: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO prompts (name, account_id, seconds, audio, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET \
             account_id = excluded.account_id, seconds = excluded.seconds, audio = excluded.audio, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(account_id)
        .bind(seconds)
        .bind(wav)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A page of uploaded prompts by name (only those of `account_id`,
    /// if given), and how many there are.
    pub async fn prompts(
        &self,
        window: (u32, u32),
        account_id: Option<i64>,
    ) -> Result<(Vec<UploadedPrompt>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
        };
        let (rows, total) = self
            .page::<PromptRow>(
                window,
                "SELECT COUNT(*) FROM prompts",
                concat!("SELECT ", columns!(), " FROM prompts"),
                " ORDER BY name",
                filter,
            )
            .await?;
        Ok((rows.into_iter().map(UploadedPrompt::from).collect(), total))
    }

    /// The audio (a WAV file) of uploaded prompt `name`, if there is one.
    pub async fn prompt_audio(&self, name: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT audio FROM prompts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(wav,)| wav))
    }

    /// Deletes uploaded prompt `name`, if there is one.
    pub async fn delete_prompt(&self, name: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM prompts WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What the call controller should know of prompt `name` now: its
    /// audio, or gone (deleted, or unreadable).
    pub async fn prompt_directory_entry(&self, name: &str) -> Result<DirectoryChange, sqlx::Error> {
        let wav = self.prompt_audio(name).await?;
        Ok(
            match wav.and_then(|wav| Prompt::decode(&wav, Some("wav")).ok()) {
                Some(prompt) => DirectoryChange::PromptActive {
                    name: name.to_string(),
                    prompt,
                },
                None => DirectoryChange::PromptGone {
                    name: name.to_string(),
                },
            },
        )
    }

    /// Every uploaded prompt, as the call controller starts with them
    /// (an unreadable one is left out, with a warning).
    pub async fn prompt_directory(&self) -> Result<Vec<DirectoryChange>, sqlx::Error> {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT name, audio FROM prompts")
            .fetch_all(&self.pool)
            .await?;
        let mut changes = Vec::with_capacity(rows.len());
        for (name, wav) in rows {
            match Prompt::decode(&wav, Some("wav")) {
                Ok(prompt) => changes.push(DirectoryChange::PromptActive { name, prompt }),
                Err(error) => {
                    tracing::warn!(prompt = %name, %error, "a stored prompt is unreadable")
                }
            }
        }
        Ok(changes)
    }
}
