//! DIDs (`dids`): the numbers carriers send calls to, with what answers
//! each, and what the call controller knows of them.

use super::{QueryBuilder, Storage};
use crate::http::dids::{Did, DidChanges, DidRow, NewDid};
use crate::switch::DirectoryChange;

/// The columns of [`DidRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, number, account_id, city, state, time_zone, available_on, active, answered_by, \
         inbound, created_at, updated_at"
    };
}

/// A checked date as stored: `YYYY-MM-DD` (chrono also reads `2026-1-5`).
fn normal_date(date: &str) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|date| date.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| date.to_string())
}

/// Inserts a DID made at `now` (demo seeding and the API); the caller
/// checked it. Returns its id.
pub async fn insert_did<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    new: &NewDid,
    now: &str,
) -> Result<i64, sqlx::Error> {
    let answered_by = serde_json::to_string(&new.answered_by).expect("serialises");
    let inbound = serde_json::to_string(&new.inbound).expect("serialises");
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO dids (number, account_id, city, state, time_zone, available_on, active, \
         answered_by, inbound, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(&new.number)
    .bind(new.account_id)
    .bind(&new.city)
    .bind(&new.state)
    .bind(new.time_zone.as_deref().unwrap_or("UTC"))
    .bind(new.available_on.as_deref().map(normal_date))
    .bind(new.active)
    .bind(answered_by)
    .bind(inbound)
    .bind(now)
    .bind(now)
    .fetch_one(executor)
    .await?;
    Ok(id)
}

impl Storage {
    /// DID `id` as stored, if there is one.
    pub async fn did(&self, id: i64) -> Result<Option<DidRow>, sqlx::Error> {
        sqlx::query_as::<_, DidRow>(concat!("SELECT ", columns!(), " FROM dids WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Stores a new DID made at `now`; the caller checked it. Returns its
    /// id.
    pub async fn insert_did(&self, new: &NewDid, now: &str) -> Result<i64, sqlx::Error> {
        insert_did(&self.pool, new, now).await
    }

    /// A page of DIDs by number (only `number`, only those of
    /// `account_id`, only those `active` or not, when given), as stored,
    /// and how many there are.
    pub async fn dids(
        &self,
        window: (u32, u32),
        number: Option<&str>,
        account_id: Option<i64>,
        active: Option<bool>,
    ) -> Result<(Vec<DidRow>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(number) = number {
                builder.push(" AND number = ").push_bind(number.to_string());
            }
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(active) = active {
                builder.push(" AND active = ").push_bind(active);
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM dids",
            concat!("SELECT ", columns!(), " FROM dids"),
            " ORDER BY number",
            filter,
        )
        .await
    }

    /// Every DID of account `account_id`, as stored.
    pub async fn account_dids(&self, account_id: i64) -> Result<Vec<DidRow>, sqlx::Error> {
        sqlx::query_as::<_, DidRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM dids WHERE account_id = $1"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
    }

    /// Changes DID `id` at `now`: each field given (checked by the
    /// caller). Returns whether it exists.
    pub async fn update_did(
        &self,
        id: i64,
        changes: &DidChanges,
        now: &str,
    ) -> Result<bool, sqlx::Error> {
        let answered_by = changes
            .answered_by
            .as_ref()
            .map(|answered_by| serde_json::to_string(answered_by).expect("serialises"));
        let inbound = changes
            .inbound
            .as_ref()
            .map(|inbound| serde_json::to_string(inbound).expect("serialises"));
        let updated = sqlx::query(
            "UPDATE dids SET city = coalesce($1, city), state = coalesce($2, state), \
             time_zone = coalesce($3, time_zone), available_on = coalesce($4, available_on), \
             active = coalesce($5, active), answered_by = coalesce($6, answered_by), \
             inbound = coalesce($7, inbound), updated_at = $8 WHERE id = $9",
        )
        .bind(&changes.city)
        .bind(&changes.state)
        .bind(&changes.time_zone)
        .bind(changes.available_on.as_deref().map(normal_date))
        .bind(changes.active)
        .bind(answered_by)
        .bind(inbound)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Deletes DID `id` (refused by the database while a holiday names
    /// it).
    pub async fn delete_did(&self, id: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM dids WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What the call controller should know of `did`: its route (with
    /// its holidays when it has a holiday flow), or that it answers no
    /// call.
    pub async fn did_change(&self, did: &Did) -> Result<DirectoryChange, sqlx::Error> {
        Ok(if did.active {
            let time_zone = did.time_zone.parse().unwrap_or(chrono_tz::UTC);
            let holidays = if did.inbound.holiday_flow_id.is_some() {
                self.did_holidays(did.account_id, did.id).await?
            } else {
                Vec::new()
            };
            DirectoryChange::DidActive {
                number: did.number.as_str().into(),
                route: did
                    .inbound
                    .route(did.answered_by.route(time_zone), time_zone, holidays),
            }
        } else {
            DirectoryChange::DidInactive {
                number: did.number.as_str().into(),
            }
        })
    }

    /// Every DID as the call controller starts with it (one that no
    /// longer reads is logged and left out).
    pub async fn did_directory(&self) -> Result<Vec<DirectoryChange>, sqlx::Error> {
        let rows = sqlx::query_as::<_, DidRow>(concat!("SELECT ", columns!(), " FROM dids"))
            .fetch_all(&self.pool)
            .await?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows {
            match row.into_did() {
                Ok(did) => changes.push(self.did_change(&did).await?),
                Err(error) => tracing::warn!(?error, "a stored DID is unusable"),
            }
        }
        Ok(changes)
    }

    /// What the call controller should know of the DID `number` now
    /// (gone, when there is none or it no longer reads).
    pub async fn did_directory_entry(&self, number: &str) -> Result<DirectoryChange, sqlx::Error> {
        let row = sqlx::query_as::<_, DidRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM dids WHERE number = $1"
        ))
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row.map(DidRow::into_did) {
            Some(Ok(did)) => self.did_change(&did).await?,
            Some(Err(error)) => {
                tracing::warn!(?error, %number, "a stored DID is unusable");
                DirectoryChange::DidGone {
                    number: number.into(),
                }
            }
            None => DirectoryChange::DidGone {
                number: number.into(),
            },
        })
    }
}
