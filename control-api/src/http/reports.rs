//! `/api/v1/reports`: what the call records add up to.
//!
//! - `usage`: per client (account) and month, the calls and the time they
//!   were connected, billed in whole units (each call rounded up to the
//!   unit, 60 s unless `?unit_seconds=` or `billing_unit_seconds` says
//!   otherwise).
//! - `service-level`: per skill, calls, answered, abandoned (the caller
//!   hung up before an agent answered) and their share, average wait, talk
//!   and hold, and how many waited longer than a threshold (60 s unless
//!   `?threshold_seconds=`).
//!
//! Both are single aggregate queries over `cdrs`, the same on SQLite and
//! PostgreSQL.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::cdrs::query_time;
use super::error::{ApiError, ErrorBody};
use super::paging::ValidQuery;
use crate::storage::QueryBuilder;

/// Which calls a report covers: by when they started.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Calls that started at or after this time (RFC 3339, or a date).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Calls that started before this time (RFC 3339, or a date).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Only this account.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// The billing unit in seconds, 1-3600 (default: the server's
    /// `billing_unit_seconds`, 60).
    #[param(minimum = 1, maximum = 3600)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub unit_seconds: Option<u32>,
}

/// One client's month.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct UsageRow {
    /// The account (none: calls to numbers of no account).
    pub account_id: Option<i64>,
    /// Its number.
    pub account_number: Option<String>,
    /// Its name.
    pub account_name: Option<String>,
    /// The month, `YYYY-MM` (UTC).
    pub month: String,
    /// Calls that month.
    pub calls: i64,
    /// Of them, answered.
    pub answered: i64,
    /// Seconds connected, as measured.
    pub connected_seconds: f64,
    /// Units billed: each call's connected time rounded up to the unit.
    pub billed_units: i64,
    /// `billed_units` in minutes.
    #[sqlx(skip)]
    pub billed_minutes: f64,
}

/// The usage report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// The unit calls were rounded up to, in seconds.
    pub unit_seconds: u32,
    /// Per client and month, by month then account number.
    pub rows: Vec<UsageRow>,
}

/// Which calls the service-level report covers, and its threshold.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceLevelQuery {
    /// Calls that started at or after this time (RFC 3339, or a date).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Calls that started before this time (RFC 3339, or a date).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Only this skill (by name).
    pub skill: Option<String>,
    /// A wait longer than this many seconds counts as over (1-3600,
    /// default 60).
    #[param(minimum = 1, maximum = 3600)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub threshold_seconds: Option<u32>,
}

/// One skill's service level.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SkillLevel {
    /// The skill.
    pub skill: String,
    /// Calls that queued for it.
    pub calls: i64,
    /// Of them, answered by an agent.
    pub answered: i64,
    /// Of them, the caller hung up before an agent answered.
    pub abandoned: i64,
    /// `abandoned` out of `calls`, in percent.
    #[sqlx(skip)]
    pub abandoned_percent: f64,
    /// Average wait for an agent, seconds (all calls).
    pub average_wait_seconds: f64,
    /// Average talk, seconds (answered calls; none if none was).
    pub average_talk_seconds: Option<f64>,
    /// Average hold, seconds (answered calls; none if none was).
    pub average_hold_seconds: Option<f64>,
    /// Calls that waited longer than the threshold.
    pub waits_over_threshold: i64,
}

/// The service-level report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceLevel {
    /// The threshold waits were compared with, in seconds.
    pub threshold_seconds: u32,
    /// Per skill, by name.
    pub skills: Vec<SkillLevel>,
}

/// The start-time conditions of a report (checked).
fn period(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<String>, Option<String>), ApiError> {
    Ok((
        from.map(|text| query_time(text, "from")).transpose()?,
        to.map(|text| query_time(text, "to")).transpose()?,
    ))
}

fn push_period(builder: &mut QueryBuilder, from: Option<String>, to: Option<String>) {
    if let Some(from) = from {
        builder.push(" AND c.start_time >= ").push_bind(from);
    }
    if let Some(to) = to {
        builder.push(" AND c.start_time < ").push_bind(to);
    }
}

fn check_range(value: u32, parameter: &str) -> Result<u32, ApiError> {
    if (1..=3600).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            format!("?{parameter}"),
            "must be 1 to 3600",
        ))
    }
}

/// Calls, connected time and billed units per client and month.
#[utoipa::path(
    get,
    path = "/api/v1/reports/usage",
    operation_id = "usage_report",
    tag = "reports",
    security(("bearer" = [])),
    params(UsageQuery),
    responses(
        (status = 200, description = "The usage by client and month", body = Usage),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<UsageQuery>,
) -> Result<Json<Usage>, ApiError> {
    caller.require(Role::Supervisor)?;
    let unit = check_range(
        query.unit_seconds.unwrap_or(state.billing_unit_seconds),
        "unit_seconds",
    )?;
    let (from, to) = period(query.from.as_deref(), query.to.as_deref())?;
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
    if let Some(account_id) = query.account_id {
        builder.push(" AND c.account_id = ").push_bind(account_id);
    }
    builder.push(
        " GROUP BY c.account_id, a.number, a.name, substr(c.start_time, 1, 7) \
         ORDER BY month, a.number IS NULL, a.number",
    );
    let mut rows: Vec<UsageRow> = builder
        .build_query_as()
        .fetch_all(state.storage.pool())
        .await?;
    for row in &mut rows {
        row.billed_minutes = (row.billed_units as f64) * f64::from(unit) / 60.0;
    }
    Ok(Json(Usage {
        unit_seconds: unit,
        rows,
    }))
}

/// The service level of each skill's queue.
#[utoipa::path(
    get,
    path = "/api/v1/reports/service-level",
    operation_id = "service_level_report",
    tag = "reports",
    security(("bearer" = [])),
    params(ServiceLevelQuery),
    responses(
        (status = 200, description = "The service level per skill", body = ServiceLevel),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn service_level(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<ServiceLevelQuery>,
) -> Result<Json<ServiceLevel>, ApiError> {
    caller.require(Role::Supervisor)?;
    let threshold = check_range(query.threshold_seconds.unwrap_or(60), "threshold_seconds")?;
    let (from, to) = period(query.from.as_deref(), query.to.as_deref())?;
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
    if let Some(skill) = &query.skill {
        builder
            .push(" AND c.skill_name = ")
            .push_bind(skill.clone());
    }
    builder.push(" GROUP BY c.skill_name ORDER BY c.skill_name");
    let mut skills: Vec<SkillLevel> = builder
        .build_query_as()
        .fetch_all(state.storage.pool())
        .await?;
    for skill in &mut skills {
        skill.abandoned_percent = if skill.calls > 0 {
            100.0 * skill.abandoned as f64 / skill.calls as f64
        } else {
            0.0
        };
    }
    Ok(Json(ServiceLevel {
        threshold_seconds: threshold,
        skills,
    }))
}
