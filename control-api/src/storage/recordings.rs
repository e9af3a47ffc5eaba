//! The recordings index (`recordings`): one row per recorded call's WAV
//! file, written with the call's record, read and deleted through the API
//! and kept in step with the files by the retention sweeper.

use super::{QueryBuilder, Storage};
use crate::http::recordings::RecordingRow;

/// Days a recording is kept when its call has no account.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

/// The columns of [`RecordingRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, call_id, file_name, account_id, created_at"
    };
}

impl Storage {
    /// Recording `id`, if there is one.
    pub async fn recording(&self, id: &str) -> Result<Option<RecordingRow>, sqlx::Error> {
        sqlx::query_as::<_, RecordingRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM recordings WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// A page of recordings, newest first (only an account's, or the one
    /// of call `call_id`, as given), and how many there are.
    pub async fn recordings(
        &self,
        window: (u32, u32),
        account_id: Option<i64>,
        call_id: Option<&str>,
    ) -> Result<(Vec<RecordingRow>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(call_id) = call_id {
                builder
                    .push(" AND call_id = ")
                    .push_bind(call_id.to_string());
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM recordings",
            concat!("SELECT ", columns!(), " FROM recordings"),
            " ORDER BY created_at DESC, id",
            filter,
        )
        .await
    }

    /// Every recording's id, file name, start time and the days it is
    /// kept: its account's retention, or [`DEFAULT_RETENTION_DAYS`]
    /// without an account.
    pub async fn recording_retentions(
        &self,
    ) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT r.id, r.file_name, r.created_at, coalesce(a.recording_retention_days, $1) \
             FROM recordings r LEFT JOIN accounts a ON a.id = r.account_id",
        )
        .bind(DEFAULT_RETENTION_DAYS)
        .fetch_all(&self.pool)
        .await
    }

    /// Deletes recording `id`'s index row. Returns whether it existed.
    pub async fn delete_recording(&self, id: &str) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::recordings::{Swept, sweep};

    #[tokio::test]
    async fn the_sweeper_deletes_expired_recordings_and_forgets_missing_files() {
        let dir = std::env::temp_dir().join(format!("sb-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let storage = Storage::open(&dir, None).await.unwrap();
        sqlx::query(
            "INSERT INTO accounts (id, number, name, recording_retention_days, created_at, updated_at) \
             VALUES (1, 'A', 'A', 7, '', '')",
        )
        .execute(&storage.pool)
        .await
        .unwrap();
        for (id, account, created, file) in [
            ("old", Some(1), "2026-11-01T00:00:00.000Z", true),
            ("young", Some(1), "2026-11-20T00:00:00.000Z", true),
            ("gone", Some(1), "2026-11-20T00:00:00.000Z", false),
            ("default", None, "2026-09-01T00:00:00.000Z", true),
        ] {
            sqlx::query(
                "INSERT INTO recordings (id, call_id, file_name, account_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(format!("call-{id}"))
            .bind(format!("{id}.wav"))
            .bind(account)
            .bind(created)
            .execute(&storage.pool)
            .await
            .unwrap();
            if file {
                std::fs::write(dir.join(format!("{id}.wav")), b"RIFF").unwrap();
            }
        }
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z").unwrap();
        let swept = sweep(&storage, &dir, now.into()).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                expired: 1,
                missing: 1
            }
        );
        let left: Vec<(String,)> = sqlx::query_as("SELECT id FROM recordings ORDER BY id")
            .fetch_all(&storage.pool)
            .await
            .unwrap();
        let left: Vec<&str> = left.iter().map(|(id,)| id.as_str()).collect();
        // 90 days without an account: September's stays until December.
        assert_eq!(left, ["default", "young"]);
        assert!(!dir.join("old.wav").exists() && dir.join("young.wav").exists());
        storage.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
