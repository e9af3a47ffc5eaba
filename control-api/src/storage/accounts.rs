//! Accounts (`accounts`): the clients that DIDs, phones, agents,
//! holidays and recordings belong to.

use super::{QueryBuilder, Storage, like_pattern};
use crate::http::accounts::Account;

/// The columns of [`Account`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, number, name, call_recording, recording_retention_days, created_at, updated_at"
    };
}

impl Storage {
    /// Account `id`, if there is one.
    pub async fn account(&self, id: i64) -> Result<Option<Account>, sqlx::Error> {
        sqlx::query_as::<_, Account>(concat!(
            "SELECT ",
            columns!(),
            " FROM accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Stores a new account made at `now`; returns its id.
    pub async fn insert_account(
        &self,
        number: &str,
        name: &str,
        call_recording: bool,
        recording_retention_days: i64,
        now: &str,
    ) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO accounts (number, name, call_recording, recording_retention_days, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(number)
        .bind(name)
        .bind(call_recording)
        .bind(recording_retention_days)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// A page of accounts by number (only the one numbered `number`, and
    /// only those whose name contains `name_contains`, if given), and how
    /// many there are.
    pub async fn accounts(
        &self,
        window: (u32, u32),
        number: Option<&str>,
        name_contains: Option<&str>,
    ) -> Result<(Vec<Account>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(number) = number {
                builder.push(" AND number = ").push_bind(number.to_string());
            }
            if let Some(part) = name_contains {
                builder
                    .push(" AND lower(name) LIKE ")
                    .push_bind(like_pattern(part))
                    .push(" ESCAPE '\\'");
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM accounts",
            concat!("SELECT ", columns!(), " FROM accounts"),
            " ORDER BY number",
            filter,
        )
        .await
    }

    /// Changes account `id` at `now`: each field that is given. Returns
    /// whether it exists.
    pub async fn update_account(
        &self,
        id: i64,
        number: Option<&str>,
        name: Option<&str>,
        call_recording: Option<bool>,
        recording_retention_days: Option<i64>,
        now: &str,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE accounts SET number = coalesce($1, number), name = coalesce($2, name), \
             call_recording = coalesce($3, call_recording), \
             recording_retention_days = coalesce($4, recording_retention_days), updated_at = $5 \
             WHERE id = $6",
        )
        .bind(number)
        .bind(name)
        .bind(call_recording)
        .bind(recording_retention_days)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Deletes account `id` (refused by the database while anything
    /// belongs to it). Returns whether it existed.
    pub async fn delete_account(&self, id: i64) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}
