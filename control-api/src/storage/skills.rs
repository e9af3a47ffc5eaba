//! Skills (`skills`): what agents are good at.

use super::{QueryBuilder, Storage};
use crate::http::skills::Skill;

/// The columns of [`Skill`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, name, description, created_at, updated_at"
    };
}

impl Storage {
    /// Skill `id`, if there is one.
    pub async fn skill(&self, id: i64) -> Result<Option<Skill>, sqlx::Error> {
        sqlx::query_as::<_, Skill>(concat!("SELECT ", columns!(), " FROM skills WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Stores a new skill made at `now`; returns its id.
    pub async fn insert_skill(
        &self,
        name: &str,
        description: Option<&str>,
        now: &str,
    ) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO skills (name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// A page of skills by name (only the one named `name`, if given),
    /// and how many there are.
    pub async fn skills(
        &self,
        window: (u32, u32),
        name: Option<&str>,
    ) -> Result<(Vec<Skill>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(name) = name {
                builder.push(" AND name = ").push_bind(name.to_string());
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM skills",
            concat!("SELECT ", columns!(), " FROM skills"),
            " ORDER BY name, id",
            filter,
        )
        .await
    }

    /// Changes skill `id` at `now`: its name if given, its description
    /// if given (`Some(None)` removes it). Returns whether it exists.
    pub async fn update_skill(
        &self,
        id: i64,
        name: Option<&str>,
        description: Option<Option<&str>>,
        now: &str,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE skills SET name = coalesce($1, name), \
             description = CASE WHEN $2 THEN $3 ELSE description END, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(name)
        .bind(description.is_some())
        .bind(description.flatten())
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Deletes skill `id` (refused by the database while an agent or a
    /// group voicemail box has it). Returns whether it existed.
    pub async fn delete_skill(&self, id: i64) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM skills WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}
