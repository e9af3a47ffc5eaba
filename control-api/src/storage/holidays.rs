//! Holidays (`holidays`) and the DIDs each closes (`holiday_dids`; none
//! listed: every DID of its account). A holiday and its DIDs are written
//! in one transaction.

use super::{QueryBuilder, Storage};
use crate::http::holidays::HolidayRow;

/// The columns of [`HolidayRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, name, date, account_id, created_at, updated_at"
    };
}

/// A DID given to a holiday that it cannot close.
#[derive(Debug)]
pub struct UnclosableDid {
    /// Its place in the list given.
    pub index: usize,
    /// Its id.
    pub did_id: i64,
    /// The holiday's account.
    pub account_id: i64,
    /// The account it is of instead; `None`: there is no such DID.
    pub owner: Option<i64>,
}

/// What came of writing a holiday with its DIDs. Unless it is stored,
/// nothing of the write is kept.
#[derive(Debug)]
pub enum HolidayWrite {
    /// Stored: the holiday's id when made, its account when changed.
    Stored(i64),
    /// The holiday's own row was refused (for a clash, a missing account).
    Refused(sqlx::Error),
    /// One of the DIDs given cannot be closed.
    Unclosable(UnclosableDid),
    /// The holiday, moved to `account_id` with no DIDs given, still names
    /// DID `did_id` of another account.
    Foreign { did_id: i64, account_id: i64 },
}

/// Makes holiday `holiday_id` close `did_ids` (DIDs of `account_id`),
/// inside the transaction that wrote the holiday. Returns the first DID
/// it cannot close, if any: the caller then drops the transaction.
async fn close_dids(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    holiday_id: i64,
    account_id: i64,
    did_ids: &[i64],
) -> Result<Option<UnclosableDid>, sqlx::Error> {
    for (index, &did_id) in did_ids.iter().enumerate() {
        let inserted = sqlx::query(
            "INSERT INTO holiday_dids (holiday_id, did_id) \
             SELECT $1, id FROM dids WHERE id = $2 AND account_id = $3",
        )
        .bind(holiday_id)
        .bind(did_id)
        .bind(account_id)
        .execute(&mut **transaction)
        .await?;
        if inserted.rows_affected() == 0 {
            let owner: Option<(i64,)> = sqlx::query_as("SELECT account_id FROM dids WHERE id = $1")
                .bind(did_id)
                .fetch_optional(&mut **transaction)
                .await?;
            return Ok(Some(UnclosableDid {
                index,
                did_id,
                account_id,
                owner: owner.map(|(owner,)| owner),
            }));
        }
    }
    Ok(None)
}

impl Storage {
    /// Holiday `id` (without its DIDs), if there is one.
    pub async fn holiday(&self, id: i64) -> Result<Option<HolidayRow>, sqlx::Error> {
        sqlx::query_as::<_, HolidayRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM holidays WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    /// A page of holidays by date (without their DIDs), and how many
    /// there are; when given, only the account's, only those on or after
    /// `from` and on or before `to` (stored dates), only those that close
    /// DID `did_id` (naming it, or of its account and naming no DID).
    pub async fn holidays(
        &self,
        window: (u32, u32),
        account_id: Option<i64>,
        from: Option<&str>,
        to: Option<&str>,
        did_id: Option<i64>,
    ) -> Result<(Vec<HolidayRow>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(from) = from {
                builder.push(" AND date >= ").push_bind(from.to_string());
            }
            if let Some(to) = to {
                builder.push(" AND date <= ").push_bind(to.to_string());
            }
            if let Some(did_id) = did_id {
                builder
                    .push(
                        " AND (EXISTS (SELECT 1 FROM holiday_dids WHERE holiday_dids.holiday_id = holidays.id \
                         AND holiday_dids.did_id = ",
                    )
                    .push_bind(did_id)
                    .push(
                        ") OR (NOT EXISTS (SELECT 1 FROM holiday_dids \
                         WHERE holiday_dids.holiday_id = holidays.id) \
                         AND holidays.account_id = (SELECT dids.account_id FROM dids WHERE dids.id = ",
                    )
                    .push_bind(did_id)
                    .push(")))");
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM holidays",
            concat!("SELECT ", columns!(), " FROM holidays"),
            " ORDER BY date, id",
            filter,
        )
        .await
    }

    /// The account of holiday `id`, if there is one.
    pub async fn holiday_account(&self, id: i64) -> Result<Option<i64>, sqlx::Error> {
        let account: Option<(i64,)> =
            sqlx::query_as("SELECT account_id FROM holidays WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(account.map(|(account_id,)| account_id))
    }

    /// The DIDs that holidays `holiday_ids` name, as `(holiday_id,
    /// did_id)` pairs by DID.
    pub async fn holiday_dids(&self, holiday_ids: &[i64]) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        if holiday_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query =
            QueryBuilder::new("SELECT holiday_id, did_id FROM holiday_dids WHERE holiday_id IN (");
        for (index, &holiday_id) in holiday_ids.iter().enumerate() {
            if index > 0 {
                query.push(", ");
            }
            query.push_bind(holiday_id);
        }
        query.push(") ORDER BY did_id");
        query
            .build_query_as::<(i64, i64)>()
            .fetch_all(&self.pool)
            .await
    }

    /// Stores a new holiday made at `now` with the DIDs it closes, all or
    /// nothing; [`HolidayWrite::Stored`] holds its id.
    pub async fn insert_holiday(
        &self,
        name: &str,
        date: &str,
        account_id: i64,
        did_ids: &[i64],
        now: &str,
    ) -> Result<HolidayWrite, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
            "INSERT INTO holidays (name, date, account_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(date)
        .bind(account_id)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *transaction)
        .await;
        let (id,) = match inserted {
            Ok(row) => row,
            Err(error) => return Ok(HolidayWrite::Refused(error)),
        };
        if let Some(unclosable) = close_dids(&mut transaction, id, account_id, did_ids).await? {
            return Ok(HolidayWrite::Unclosable(unclosable));
        }
        transaction.commit().await?;
        Ok(HolidayWrite::Stored(id))
    }

    /// Changes holiday `id` at `now`, all or nothing: its name, date and
    /// account if given, and with `did_ids`, the DIDs it closes in place
    /// of those it names. [`HolidayWrite::Stored`] holds its account;
    /// `None`: there is no such holiday.
    pub async fn update_holiday(
        &self,
        id: i64,
        name: Option<&str>,
        date: Option<&str>,
        account_id: Option<i64>,
        did_ids: Option<&[i64]>,
        now: &str,
    ) -> Result<Option<HolidayWrite>, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE holidays SET name = coalesce($1, name), date = coalesce($2, date), \
             account_id = coalesce($3, account_id), updated_at = $4 WHERE id = $5",
        )
        .bind(name)
        .bind(date)
        .bind(account_id)
        .bind(now)
        .bind(id)
        .execute(&mut *transaction)
        .await;
        match updated {
            Ok(updated) if updated.rows_affected() == 0 => return Ok(None),
            Ok(_) => {}
            Err(error) => return Ok(Some(HolidayWrite::Refused(error))),
        }
        let (account,): (i64,) = sqlx::query_as("SELECT account_id FROM holidays WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *transaction)
            .await?;
        match did_ids {
            Some(did_ids) => {
                sqlx::query("DELETE FROM holiday_dids WHERE holiday_id = $1")
                    .bind(id)
                    .execute(&mut *transaction)
                    .await?;
                if let Some(unclosable) = close_dids(&mut transaction, id, account, did_ids).await?
                {
                    return Ok(Some(HolidayWrite::Unclosable(unclosable)));
                }
            }
            None if account_id.is_some() => {
                let foreign: Option<(i64,)> = sqlx::query_as(
                    "SELECT holiday_dids.did_id FROM holiday_dids \
                     JOIN dids ON dids.id = holiday_dids.did_id \
                     WHERE holiday_dids.holiday_id = $1 AND dids.account_id <> $2 \
                     ORDER BY holiday_dids.did_id LIMIT 1",
                )
                .bind(id)
                .bind(account)
                .fetch_optional(&mut *transaction)
                .await?;
                if let Some((did_id,)) = foreign {
                    return Ok(Some(HolidayWrite::Foreign {
                        did_id,
                        account_id: account,
                    }));
                }
            }
            None => {}
        }
        transaction.commit().await?;
        Ok(Some(HolidayWrite::Stored(account)))
    }

    /// Deletes holiday `id` (and with it the DIDs it names). Returns
    /// whether it existed.
    pub async fn delete_holiday(&self, id: i64) -> Result<bool, sqlx::Error> {
        // The DIDs it names go with it (ON DELETE CASCADE).
        let deleted = sqlx::query("DELETE FROM holidays WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// The holidays of DID `did_id` of account `account_id`: the days of
    /// the account's holidays that list it or list no DID.
    pub async fn did_holidays(
        &self,
        account_id: i64,
        did_id: i64,
    ) -> Result<Vec<chrono::NaiveDate>, sqlx::Error> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT date FROM holidays h WHERE h.account_id = $1 AND \
             (NOT EXISTS (SELECT 1 FROM holiday_dids d WHERE d.holiday_id = h.id) \
              OR EXISTS (SELECT 1 FROM holiday_dids d WHERE d.holiday_id = h.id AND d.did_id = $2))",
        )
        .bind(account_id)
        .bind(did_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(date,)| chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").ok())
            .collect())
    }
}
