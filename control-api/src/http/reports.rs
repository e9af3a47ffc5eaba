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
    let mut rows = state
        .storage
        .usage_rows(unit, from, to, query.account_id)
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
    let mut skills = state
        .storage
        .skill_levels(threshold, from, to, query.skill.as_deref())
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
