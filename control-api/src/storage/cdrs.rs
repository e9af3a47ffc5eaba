//! Call detail records (`cdrs`): written in batches by the CDR writer,
//! each with its recordings' index rows, and read, filtered and exported
//! through the API.

use super::{QueryBuilder, Storage};
use crate::cdr::{Cdr, Direction, LegQuality, recording_id, timestamp};
use crate::http::cdrs::{CdrFilter, CdrRow};

/// The columns of [`CdrRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, call_id, direction, account_id, start_time, answer_time, agent_answer_time, \
         end_time, hangup_time, caller_id, number_dialed, did, route, agent_name, skill_name, \
         connection_seconds, ivr_seconds, wait_seconds, talk_seconds, hold_seconds, \
         transfer_seconds, wrap_seconds, hung_up_by, sip_status, disposition, campaign, \
         recording_id, caller_rtp, callee_rtp"
    };
}

/// Appends the conditions of `filter` to a query ending in a `WHERE`.
fn push_conditions(builder: &mut QueryBuilder, filter: &CdrFilter<'_>) {
    if let Some(from) = &filter.from {
        builder.push(" AND start_time >= ").push_bind(from.clone());
    }
    if let Some(to) = &filter.to {
        builder.push(" AND start_time < ").push_bind(to.clone());
    }
    if let Some(account_id) = filter.account_id {
        builder.push(" AND account_id = ").push_bind(account_id);
    }
    if let Some(did) = filter.did {
        builder.push(" AND did = ").push_bind(did.to_string());
    }
    if let Some(direction) = filter.direction {
        let direction = match direction {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        };
        builder.push(" AND direction = ").push_bind(direction);
    }
}

impl Storage {
    /// Record `id`, if there is one.
    pub async fn cdr(&self, id: i64) -> Result<Option<CdrRow>, sqlx::Error> {
        sqlx::query_as::<_, CdrRow>(concat!("SELECT ", columns!(), " FROM cdrs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The record of call `call_id`, if written.
    pub async fn cdr_of_call(&self, call_id: &str) -> Result<Option<CdrRow>, sqlx::Error> {
        sqlx::query_as::<_, CdrRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM cdrs WHERE call_id = $1"
        ))
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// A page of the records `filter` matches, newest first, and how many
    /// there are.
    pub async fn cdrs(
        &self,
        window: (u32, u32),
        filter: &CdrFilter<'_>,
    ) -> Result<(Vec<CdrRow>, i64), sqlx::Error> {
        self.page(
            window,
            "SELECT COUNT(*) FROM cdrs",
            concat!("SELECT ", columns!(), " FROM cdrs"),
            " ORDER BY start_time DESC, id DESC",
            |builder: &mut QueryBuilder| push_conditions(builder, filter),
        )
        .await
    }

    /// Every record `filter` matches, oldest first.
    pub async fn cdrs_oldest_first(
        &self,
        filter: &CdrFilter<'_>,
    ) -> Result<Vec<CdrRow>, sqlx::Error> {
        let mut select =
            QueryBuilder::new(concat!("SELECT ", columns!(), " FROM cdrs WHERE 1 = 1"));
        push_conditions(&mut select, filter);
        select.push(" ORDER BY start_time, id");
        select
            .build_query_as::<CdrRow>()
            .fetch_all(&self.pool)
            .await
    }

    /// Stores `batch` in one transaction: each record (unless its call's
    /// is already there) with its account and DID from the number
    /// dialled, and its recordings' index rows.
    pub async fn insert_cdrs(&self, batch: &[Cdr]) -> Result<(), sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        for cdr in batch {
            let hangup = timestamp(cdr.end_time);
            sqlx::query(
                "INSERT INTO cdrs (call_id, direction, account_id, start_time, answer_time, \
                 agent_answer_time, end_time, hangup_time, caller_id, number_dialed, did, route, \
                 connection_seconds, ivr_seconds, wait_seconds, talk_seconds, hold_seconds, \
                 transfer_seconds, wrap_seconds, hung_up_by, sip_status, caller_rtp, callee_rtp, \
                 recording_id) \
                 VALUES ($1, $2, (SELECT account_id FROM dids WHERE number = $3), $4, $5, $6, $7, $8, $9, $10, \
                 (SELECT number FROM dids WHERE number = $11), $12, $13, $14, $15, $16, $17, $18, 0, $19, $20, $21, $22, $23) \
                 ON CONFLICT (call_id) DO NOTHING",
            )
            .bind(&cdr.call_id)
            .bind(cdr.direction.as_str())
            .bind(&cdr.number_dialed)
            .bind(timestamp(cdr.start_time))
            .bind(cdr.answer_time.map(timestamp))
            .bind(cdr.agent_answer_time.map(timestamp))
            .bind(&hangup)
            .bind(&hangup)
            .bind(&cdr.caller_id)
            .bind(&cdr.number_dialed)
            .bind(&cdr.number_dialed)
            .bind(cdr.route)
            .bind(cdr.connection_seconds)
            .bind(cdr.ivr_seconds)
            .bind(cdr.wait_seconds)
            .bind(cdr.talk_seconds)
            .bind(cdr.hold_seconds)
            .bind(cdr.transfer_seconds)
            .bind(cdr.hung_up_by.as_str())
            .bind(i64::from(cdr.sip_status))
            .bind(cdr.caller_rtp.map(|quality| {
                serde_json::to_string(&LegQuality::from(quality)).unwrap_or_default()
            }))
            .bind(cdr.callee_rtp.map(|quality| {
                serde_json::to_string(&LegQuality::from(quality)).unwrap_or_default()
            }))
            .bind(cdr.recordings.first().map(|file| recording_id(file)))
            .execute(&mut *transaction)
            .await?;
            for file_name in &cdr.recordings {
                sqlx::query(
                    "INSERT INTO recordings (id, call_id, file_name, account_id, created_at) \
                     VALUES ($1, $2, $3, (SELECT account_id FROM dids WHERE number = $4), $5) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(recording_id(file_name))
                .bind(&cdr.call_id)
                .bind(file_name)
                .bind(&cdr.number_dialed)
                .bind(timestamp(cdr.answer_time.unwrap_or(cdr.start_time)))
                .execute(&mut *transaction)
                .await?;
            }
        }
        transaction.commit().await?;
        Ok(())
    }
}
