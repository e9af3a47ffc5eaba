//! The demo's own rows: the `meta` keys that say what of it was seeded,
//! the demo account and its voicemail box. The demo's DIDs, flows and
//! phones are stored as any others are.

use sqlx::AnyConnection;

use super::Storage;

impl Storage {
    /// The value stored under `key` in `meta`, if any.
    pub async fn meta_value(&self, key: &str) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(value,)| value))
    }

    /// A transaction to seed the demo in: its rows go in together, or
    /// none of them.
    pub async fn seeding_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        self.pool.begin().await
    }
}

/// Stores `value` under `key` in `meta` (an error if `key` is there).
pub async fn insert_meta(
    connection: &mut AnyConnection,
    key: &str,
    value: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
        .bind(key)
        .bind(value)
        .execute(connection)
        .await?;
    Ok(())
}

/// The id of account `number`, if there is one.
pub async fn account_id_by_number(
    connection: &mut AnyConnection,
    number: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM accounts WHERE number = $1")
        .bind(number)
        .fetch_optional(connection)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// Makes the demo account `number` at `now` unless it exists; returns
/// its id.
pub async fn insert_demo_account(
    connection: &mut AnyConnection,
    number: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO accounts (number, name, created_at, updated_at) VALUES ($1, 'Demo', $2, $3) \
         ON CONFLICT (number) DO NOTHING",
    )
    .bind(number)
    .bind(now)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    account_id_by_number(connection, number)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Makes the demo voicemail box `name` of `account_id` at `now`, unless
/// a box of that name exists.
pub async fn insert_demo_mailbox(
    connection: &mut AnyConnection,
    name: &str,
    account_id: i64,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO voicemail_boxes (name, description, account_id, created_at, updated_at) \
         VALUES ($1, 'The demo voicemail box', $2, $3, $4) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(account_id)
    .bind(now)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}
