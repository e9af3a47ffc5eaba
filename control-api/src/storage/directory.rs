//! Announcing directory changes to the other nodes on one PostgreSQL
//! database (`NOTIFY`).

use super::Storage;

impl Storage {
    /// Sends `payload` to every connection listening on `channel`
    /// (PostgreSQL only).
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), sqlx::Error> {
        // pg_notify returns `void`, which the Any driver cannot read: count it.
        sqlx::query("SELECT count(*) FROM (SELECT pg_notify($1, $2)) AS sent")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
