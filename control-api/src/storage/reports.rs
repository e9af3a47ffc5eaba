//! Reports: single aggregate queries over `cdrs` (with `accounts` for the
//! clients' names), the same on SQLite and PostgreSQL.

use super::{QueryBuilder, Storage};
use crate::http::reports::{SkillLevel, UsageRow};

/// Appends the start-time conditions of a period (stored times, either
/// end open) to a query over `cdrs c` ending in a `WHERE`.
fn push_period(builder: &mut QueryBuilder, from: Option<String>, to: Option<String>) {
    if let Some(from) = from {
        builder.push(" AND c.start_time >= ").push_bind(from);
    }
    if let Some(to) = to {
        builder.push(" AND c.start_time < ").push_bind(to);
    }
}

impl Storage {
    /// Calls, answered calls, connected seconds and billed units (each
    /// call rounded up to `unit` seconds) per account and month of the
    /// calls that started from `from` to before `to` (only account
    /// `account_id`'s, if given), by month then account number.
    /// `billed_minutes` is left at zero.
    pub async fn usage_rows(
        &self,
        unit: u32,
        from: Option<String>,
        to: Option<String>,
        account_id: Option<i64>,
    ) -> Result<Vec<UsageRow>, sqlx::Error> {
        // A call's units: its seconds over the unit, rounded up. CAST rounds
        // on PostgreSQL and truncates on SQLite; either way it lands on the
        // floor or the ceiling, and the CASE adds one only below the time.
        let mut builder = QueryBuilder::new(
            "SELECT c.account_id, a.number AS account_number, a.name AS account_name, \
             substr(c.start_time, 1, 7) AS month, COUNT(*) AS calls, \
             CAST(SUM(CASE WHEN c.answer_time IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS answered, \
             CAST(coalesce(SUM(c.connection_seconds), 0) AS DOUBLE PRECISION) AS connected_seconds, \
             CAST(coalesce(SUM(",
        );
        builder
            .push("CAST(c.connection_seconds / ")
            .push_bind(f64::from(unit))
            .push(" AS BIGINT) + CASE WHEN c.connection_seconds > CAST(c.connection_seconds / ")
            .push_bind(f64::from(unit))
            .push(" AS BIGINT) * ")
            .push_bind(f64::from(unit))
            .push(
                " THEN 1 ELSE 0 END), 0) AS BIGINT) AS billed_units \
                 FROM cdrs c LEFT JOIN accounts a ON a.id = c.account_id WHERE 1 = 1",
            );
        push_period(&mut builder, from, to);
        if let Some(account_id) = account_id {
            builder.push(" AND c.account_id = ").push_bind(account_id);
        }
        builder.push(
            " GROUP BY c.account_id, a.number, a.name, substr(c.start_time, 1, 7) \
             ORDER BY month, a.number IS NULL, a.number",
        );
        builder.build_query_as().fetch_all(&self.pool).await
    }

    /// Per skill, by name, of the queued calls that started from `from`
    /// to before `to` (only skill `skill`'s, if given): calls, answered,
    /// abandoned, average wait, talk and hold, and waits over `threshold`
    /// seconds. `abandoned_percent` is left at zero.
    pub async fn skill_levels(
        &self,
        threshold: u32,
        from: Option<String>,
        to: Option<String>,
        skill: Option<&str>,
    ) -> Result<Vec<SkillLevel>, sqlx::Error> {
        let mut builder = QueryBuilder::new(
            "SELECT c.skill_name AS skill, COUNT(*) AS calls, \
             CAST(SUM(CASE WHEN c.agent_answer_time IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS answered, \
             CAST(SUM(CASE WHEN c.agent_answer_time IS NULL AND c.hung_up_by = 'caller' \
                  THEN 1 ELSE 0 END) AS BIGINT) AS abandoned, \
             CAST(AVG(c.wait_seconds) AS DOUBLE PRECISION) AS average_wait_seconds, \
             CAST(AVG(CASE WHEN c.agent_answer_time IS NOT NULL THEN c.talk_seconds END) \
                  AS DOUBLE PRECISION) AS average_talk_seconds, \
             CAST(AVG(CASE WHEN c.agent_answer_time IS NOT NULL THEN c.hold_seconds END) \
                  AS DOUBLE PRECISION) AS average_hold_seconds, \
             CAST(SUM(CASE WHEN c.wait_seconds > ",
        );
        builder.push_bind(f64::from(threshold)).push(
            " THEN 1 ELSE 0 END) AS BIGINT) AS waits_over_threshold \
                 FROM cdrs c WHERE c.skill_name IS NOT NULL",
        );
        push_period(&mut builder, from, to);
        if let Some(skill) = skill {
            builder
                .push(" AND c.skill_name = ")
                .push_bind(skill.to_string());
        }
        builder.push(" GROUP BY c.skill_name ORDER BY c.skill_name");
        builder.build_query_as().fetch_all(&self.pool).await
    }
}
