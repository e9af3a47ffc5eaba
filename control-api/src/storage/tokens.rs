//! API tokens (`api_tokens`): bearer tokens, stored by the SHA-256 of
//! their secret.

use super::Storage;

/// A token's columns as listed: id, name, role, created_at, revoked_at,
/// user_id, expires_at.
pub type TokenColumns = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
);

impl Storage {
    /// Every token, newest first, revoked ones included.
    pub async fn tokens(&self) -> Result<Vec<TokenColumns>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, name, role, created_at, revoked_at, user_id, expires_at FROM api_tokens \
                 ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Stores a token `id` with `role` (its name) and the hash of its
    /// secret, made at `now` by no login.
    pub async fn insert_token(
        &self,
        id: &str,
        name: &str,
        role: &str,
        secret_sha256: &str,
        now: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(secret_sha256)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The role name of token `id`, if there is one.
    pub async fn token_role(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        let role: Option<(String,)> = sqlx::query_as("SELECT role FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(role.map(|(role,)| role))
    }

    /// Revokes token `id` at `now` unless it is revoked already or is the
    /// last active sysadmin token (one statement, so two revocations at
    /// once cannot both pass the check). Returns whether it revoked it.
    pub async fn revoke_token(&self, id: &str, now: &str) -> Result<bool, sqlx::Error> {
        let revoked = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
             AND (role != 'sysadmin' OR (SELECT COUNT(*) FROM api_tokens \
                  WHERE role = 'sysadmin' AND revoked_at IS NULL) > 1)",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(revoked.rows_affected() > 0)
    }

    /// Whether token `id` exists and is not revoked.
    pub async fn token_is_active(&self, id: &str) -> Result<bool, sqlx::Error> {
        let (active,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM api_tokens WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        Ok(active > 0)
    }

    /// How many sysadmin tokens are not revoked.
    pub async fn active_sysadmin_tokens(&self) -> Result<i64, sqlx::Error> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM api_tokens WHERE role = 'sysadmin' AND revoked_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    /// The token whose secret hashes to `secret_sha256`, if it works at
    /// `now`: its id, its role name and its user's agent. A login's token
    /// takes its user's role now, and works only while the user is active
    /// and unlocked, and until it expires.
    pub async fn token_caller(
        &self,
        secret_sha256: &str,
        now: &str,
    ) -> Result<Option<(String, String, Option<i64>)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT t.id, coalesce(u.role, t.role), u.agent_id FROM api_tokens t \
             LEFT JOIN users u ON u.id = t.user_id \
             WHERE t.secret_sha256 = $1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2) \
             AND (t.user_id IS NULL OR (u.active AND u.locked_at IS NULL))",
        )
        .bind(secret_sha256)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
    }
}
