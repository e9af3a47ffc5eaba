//! Users (`users`): people who use the API with a username and password,
//! and the tokens their logins make.

use super::{Flag, QueryBuilder, Storage};
use crate::http::auth::Role;
use crate::http::users::{NewUser, User, UserChanges};

/// The columns of [`User`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, username, name, role, active, agent_id, failed_logins, locked_at, last_login_at, \
         created_at, updated_at"
    };
}

impl Storage {
    /// User `id`, if there is one.
    pub async fn user(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        sqlx::query_as::<_, User>(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Stores user `new`, with its password stored as `password_argon2`,
    /// made at `now`; returns its id.
    pub async fn insert_user(
        &self,
        new: &NewUser,
        password_argon2: &str,
        now: &str,
    ) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (username, name, role, password_argon2, active, agent_id, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&new.username)
        .bind(new.name.as_deref())
        .bind(new.role.as_str())
        .bind(password_argon2)
        .bind(new.active)
        .bind(new.agent_id)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// A page of users by username (only those with `role`, `active` or
    /// not, and `locked` or not, each if given), and how many there are.
    pub async fn users(
        &self,
        window: (u32, u32),
        role: Option<Role>,
        active: Option<bool>,
        locked: Option<bool>,
    ) -> Result<(Vec<User>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(role) = role {
                builder.push(" AND role = ").push_bind(role.as_str());
            }
            if let Some(active) = active {
                builder.push(" AND active = ").push_bind(active);
            }
            match locked {
                Some(true) => {
                    builder.push(" AND locked_at IS NOT NULL");
                }
                Some(false) => {
                    builder.push(" AND locked_at IS NULL");
                }
                None => {}
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM users",
            concat!("SELECT ", columns!(), " FROM users"),
            " ORDER BY username",
            filter,
        )
        .await
    }

    /// Changes user `id` at `now`: each field of `changes` that is given
    /// (`Some(None)` takes its agent away), its password stored as
    /// `password_argon2` if given. Returns whether it exists.
    pub async fn update_user(
        &self,
        id: i64,
        changes: &UserChanges,
        password_argon2: Option<&str>,
        now: &str,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE users SET name = coalesce($1, name), role = coalesce($2, role), \
             password_argon2 = coalesce($3, password_argon2), active = coalesce($4, active), \
             agent_id = CASE WHEN $5 THEN $6 ELSE agent_id END, updated_at = $7 WHERE id = $8",
        )
        .bind(changes.name.as_deref())
        .bind(changes.role.map(Role::as_str))
        .bind(password_argon2)
        .bind(changes.active)
        .bind(changes.agent_id.is_some())
        .bind(changes.agent_id.flatten())
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Deletes user `id`, and with it the tokens its logins made. Returns
    /// whether it existed.
    pub async fn delete_user(&self, id: i64) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Unlocks user `id` at `now` and clears its count of failed logins.
    /// Returns whether it exists.
    pub async fn unlock_user(&self, id: i64, now: &str) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_at = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// What a login with `username` is checked against, if there is such
    /// a user: its id, stored password, whether it is active and when it
    /// was locked.
    pub async fn user_credentials(
        &self,
        username: &str,
    ) -> Result<Option<(i64, String, Flag, Option<String>)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, password_argon2, active, locked_at FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
    }

    /// Counts a failed login of user `id` at `now`, locking it when the
    /// count reaches `lockout_threshold`, in one statement so that logins
    /// at once each count. Returns the count and when it was locked, or
    /// `None` when it was locked already.
    pub async fn count_failed_login(
        &self,
        id: i64,
        lockout_threshold: i64,
        now: &str,
    ) -> Result<Option<(i64, Option<String>)>, sqlx::Error> {
        sqlx::query_as(
            "UPDATE users SET failed_logins = failed_logins + 1, \
             locked_at = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_at END \
             WHERE id = $3 AND locked_at IS NULL RETURNING failed_logins, locked_at",
        )
        .bind(lockout_threshold)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Records a good login of user `id` at `now` and stores its token
    /// `token_id` (named `token_name`, with the user's role, expiring at
    /// `expires_at`), in one transaction, only if the user is still
    /// unlocked: a lock that came meanwhile wins. Returns whether it was
    /// unlocked.
    pub async fn record_login(
        &self,
        id: i64,
        now: &str,
        token_id: &str,
        token_name: &str,
        secret_sha256: &str,
        expires_at: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        let reset = sqlx::query(
            "UPDATE users SET failed_logins = 0, last_login_at = $1 WHERE id = $2 AND locked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        if reset.rows_affected() == 0 {
            // Dropping the transaction rolls it back.
            return Ok(false);
        }
        let role: (String,) = sqlx::query_as("SELECT role FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *transaction)
            .await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_at, user_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_id)
        .bind(token_name)
        .bind(&role.0)
        .bind(secret_sha256)
        .bind(now)
        .bind(id)
        .bind(expires_at)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(true)
    }
}
