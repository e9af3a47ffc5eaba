//! `/api/v1/cdrs`: call detail records, newest first, filtered by time,
//! account, DID and direction, as JSON pages or a CSV export.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody};
use super::paging::{IdPath, Page, Paging, ValidQuery};
use crate::cdr::{Direction, HungUpBy, LegQuality};

/// A call detail record.
#[derive(Debug, Serialize, ToSchema)]
pub struct CdrRecord {
    /// Its id.
    pub id: i64,
    /// The call's unique id (the caller's SIP Call-ID).
    pub call_id: String,
    /// Which way the call went.
    pub direction: Direction,
    /// The account of the DID called, if it is one.
    pub account_id: Option<i64>,
    /// When the INVITE arrived (RFC 3339, UTC).
    pub start_time: String,
    /// When we answered the caller.
    pub answer_time: Option<String>,
    /// When the called phone, agent or trunk answered.
    pub agent_answer_time: Option<String>,
    /// When the call ended.
    pub end_time: String,
    /// When it was hung up (the end, until wrap-up exists).
    pub hangup_time: String,
    /// The caller's number or user.
    pub caller_id: String,
    /// The number dialled.
    pub number_dialed: String,
    /// The DID, when the number dialled is one.
    pub did: Option<String>,
    /// What handled it: `echo`, `record`, `conference`, `digit-echo`,
    /// `phone`, `trunk`, or `none` (refused).
    pub route: String,
    /// The agent who took it.
    pub agent_name: Option<String>,
    /// The skill it was queued for.
    pub skill_name: Option<String>,
    /// From our answer to the end.
    pub connection_seconds: f64,
    /// In the IVR.
    pub ivr_seconds: f64,
    /// Waiting: ringing the called party (or in a queue).
    pub wait_seconds: f64,
    /// Talking, less hold.
    pub talk_seconds: f64,
    /// On hold.
    pub hold_seconds: f64,
    /// In transfers.
    pub transfer_seconds: f64,
    /// In the agent's wrap-up.
    pub wrap_seconds: f64,
    /// Who ended it.
    pub hung_up_by: HungUpBy,
    /// The final SIP status the caller got (200 if answered).
    pub sip_status: i64,
    /// The agent's disposition.
    pub disposition: Option<String>,
    /// The campaign, for dialer calls.
    pub campaign: Option<String>,
    /// The recording, if the call was recorded.
    pub recording_id: Option<String>,
    /// The caller's leg's RTP quality.
    pub caller_rtp: Option<LegQuality>,
    /// The called party's leg's RTP quality.
    pub callee_rtp: Option<LegQuality>,
}

/// A record as stored.
#[derive(sqlx::FromRow)]
pub struct CdrRow {
    id: i64,
    call_id: String,
    direction: String,
    account_id: Option<i64>,
    start_time: String,
    answer_time: Option<String>,
    agent_answer_time: Option<String>,
    end_time: String,
    hangup_time: String,
    caller_id: String,
    number_dialed: String,
    did: Option<String>,
    route: String,
    agent_name: Option<String>,
    skill_name: Option<String>,
    connection_seconds: f64,
    ivr_seconds: f64,
    wait_seconds: f64,
    talk_seconds: f64,
    hold_seconds: f64,
    transfer_seconds: f64,
    wrap_seconds: f64,
    hung_up_by: String,
    sip_status: i64,
    disposition: Option<String>,
    campaign: Option<String>,
    recording_id: Option<String>,
    caller_rtp: Option<String>,
    callee_rtp: Option<String>,
}

impl CdrRow {
    fn into_record(self) -> CdrRecord {
        let quality = |text: Option<String>| text.and_then(|text| serde_json::from_str(&text).ok());
        CdrRecord {
            id: self.id,
            call_id: self.call_id,
            direction: if self.direction == "outbound" {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            account_id: self.account_id,
            start_time: self.start_time,
            answer_time: self.answer_time,
            agent_answer_time: self.agent_answer_time,
            end_time: self.end_time,
            hangup_time: self.hangup_time,
            caller_id: self.caller_id,
            number_dialed: self.number_dialed,
            did: self.did,
            route: self.route,
            agent_name: self.agent_name,
            skill_name: self.skill_name,
            connection_seconds: self.connection_seconds,
            ivr_seconds: self.ivr_seconds,
            wait_seconds: self.wait_seconds,
            talk_seconds: self.talk_seconds,
            hold_seconds: self.hold_seconds,
            transfer_seconds: self.transfer_seconds,
            wrap_seconds: self.wrap_seconds,
            hung_up_by: match self.hung_up_by.as_str() {
                "caller" => HungUpBy::Caller,
                "callee" => HungUpBy::Callee,
                _ => HungUpBy::System,
            },
            sip_status: self.sip_status,
            disposition: self.disposition,
            campaign: self.campaign,
            recording_id: self.recording_id,
            caller_rtp: quality(self.caller_rtp),
            callee_rtp: quality(self.callee_rtp),
        }
    }
}

/// Which records, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CdrQuery {
    /// Items per page, 1-500 (default 50; the CSV export ignores paging).
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    #[param(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::integer::query_u32")]
    pub offset: Option<u32>,
    /// Calls that started at or after this time (RFC 3339; a plain date
    /// is also taken, as its midnight UTC).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Calls that started before this time (RFC 3339, or a date).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Only calls to DIDs of this account.
    #[serde(default, deserialize_with = "super::integer::query_i64")]
    pub account_id: Option<i64>,
    /// Only calls to this DID.
    pub did: Option<String>,
    /// Only calls this way.
    pub direction: Option<Direction>,
}

/// A query time as stored (RFC 3339 UTC with milliseconds), so that text
/// order is time order.
pub(super) fn query_time(text: &str, parameter: &str) -> Result<String, ApiError> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(crate::cdr::timestamp(
            time.with_timezone(&chrono::Utc).into(),
        ));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(midnight) = date.and_hms_opt(0, 0, 0)
    {
        return Ok(crate::cdr::timestamp(midnight.and_utc().into()));
    }
    Err(ApiError::invalid(
        format!("?{parameter}"),
        "must be an RFC 3339 time or a YYYY-MM-DD date",
    ))
}

impl<'de> Deserialize<'de> for Direction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "inbound" => Ok(Self::Inbound),
            "outbound" => Ok(Self::Outbound),
            other => Err(serde::de::Error::custom(format!(
                "unknown direction {other:?}, expected inbound or outbound"
            ))),
        }
    }
}

/// Which records a query asks for: its times checked and as stored.
#[derive(Debug)]
pub struct CdrFilter<'a> {
    /// Calls that started at or after this time.
    pub from: Option<String>,
    /// Calls that started before this time.
    pub to: Option<String>,
    /// Only calls to DIDs of this account.
    pub account_id: Option<i64>,
    /// Only calls to this DID.
    pub did: Option<&'a str>,
    /// Only calls this way.
    pub direction: Option<Direction>,
}

/// The records `query` asks for (its times checked).
fn filter(query: &CdrQuery) -> Result<CdrFilter<'_>, ApiError> {
    let from = query
        .from
        .as_deref()
        .map(|text| query_time(text, "from"))
        .transpose()?;
    let to = query
        .to
        .as_deref()
        .map(|text| query_time(text, "to"))
        .transpose()?;
    Ok(CdrFilter {
        from,
        to,
        account_id: query.account_id,
        did: query.did.as_deref(),
        direction: query.direction,
    })
}

/// Call detail records, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/cdrs",
    operation_id = "list_cdrs",
    tag = "cdrs",
    security(("bearer" = [])),
    params(CdrQuery),
    responses(
        (status = 200, description = "A page of records", body = Page<CdrRecord>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<CdrQuery>,
) -> Result<Json<Page<CdrRecord>>, ApiError> {
    caller.require(Role::Supervisor)?;
    let paging = Paging::new(query.limit, query.offset)?;
    let (rows, total) = state
        .storage
        .cdrs(paging.window(), &filter(&query)?)
        .await?;
    let items = rows.into_iter().map(CdrRow::into_record).collect();
    Ok(Json(paging.page(items, total)))
}

/// One record.
#[utoipa::path(
    get,
    path = "/api/v1/cdrs/{id}",
    operation_id = "get_cdr",
    tag = "cdrs",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The record", body = CdrRecord),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<CdrRecord>, ApiError> {
    caller.require(Role::Supervisor)?;
    state
        .storage
        .cdr(id)
        .await?
        .map(|row| Json(row.into_record()))
        .ok_or_else(|| ApiError::NotFound(format!("no CDR {id}")))
}

/// The record of call `call_id`, if written.
pub(crate) async fn cdr_for_call(
    state: &AppState,
    call_id: &str,
) -> Result<Option<CdrRecord>, ApiError> {
    Ok(state
        .storage
        .cdr_of_call(call_id)
        .await?
        .map(CdrRow::into_record))
}

/// The CSV header, in the column order of each line.
const CSV_HEADER: &str = "call_id,direction,account_id,start_time,answer_time,agent_answer_time,\
end_time,hangup_time,caller_id,number_dialed,did,route,agent_name,skill_name,connection_seconds,\
ivr_seconds,wait_seconds,talk_seconds,hold_seconds,transfer_seconds,wrap_seconds,hung_up_by,\
sip_status,disposition,campaign,recording_id";

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or line
/// break, quotes doubled; a field a spreadsheet would read as a formula
/// gets a leading `'`.
fn csv_field(out: &mut String, text: &str) {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

/// The records as CSV (every match, oldest first; `limit` and `offset`
/// are ignored).
#[utoipa::path(
    get,
    path = "/api/v1/cdrs.csv",
    operation_id = "export_cdrs",
    tag = "cdrs",
    security(("bearer" = [])),
    params(CdrQuery),
    responses(
        (status = 200, description = "The records, one CSV line each, with a header line", content_type = "text/csv"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ValidQuery(query): ValidQuery<CdrQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Supervisor)?;
    Paging::new(query.limit, query.offset)?;
    let rows = state.storage.cdrs_oldest_first(&filter(&query)?).await?;
    let mut csv = String::with_capacity(256 * (rows.len() + 1));
    csv.push_str(CSV_HEADER);
    csv.push_str("\r\n");
    for row in rows {
        let record = row.into_record();
        let fields: [String; 26] = [
            record.call_id,
            if record.direction == Direction::Outbound {
                "outbound"
            } else {
                "inbound"
            }
            .to_string(),
            record
                .account_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            record.start_time,
            record.answer_time.unwrap_or_default(),
            record.agent_answer_time.unwrap_or_default(),
            record.end_time,
            record.hangup_time,
            record.caller_id,
            record.number_dialed,
            record.did.unwrap_or_default(),
            record.route,
            record.agent_name.unwrap_or_default(),
            record.skill_name.unwrap_or_default(),
            format!("{:.3}", record.connection_seconds),
            format!("{:.3}", record.ivr_seconds),
            format!("{:.3}", record.wait_seconds),
            format!("{:.3}", record.talk_seconds),
            format!("{:.3}", record.hold_seconds),
            format!("{:.3}", record.transfer_seconds),
            format!("{:.3}", record.wrap_seconds),
            match record.hung_up_by {
                HungUpBy::Caller => "caller",
                HungUpBy::Callee => "callee",
                HungUpBy::System => "system",
            }
            .to_string(),
            record.sip_status.to_string(),
            record.disposition.unwrap_or_default(),
            record.campaign.unwrap_or_default(),
            record.recording_id.unwrap_or_default(),
        ];
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                csv.push(',');
            }
            csv_field(&mut csv, field);
        }
        csv.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"cdrs.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let field = |text: &str| {
            let mut out = String::new();
            csv_field(&mut out, text);
            out
        };
        assert_eq!(field("1001"), "1001");
        assert_eq!(field("Smith, J"), "\"Smith, J\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+15551234567"), "+15551234567", "a number stays");
        assert_eq!(field("-3.5"), "-3.5");
    }

    #[test]
    fn query_times_become_stored_times() {
        assert_eq!(
            query_time("2026-11-22T10:00:00+01:00", "from").unwrap(),
            "2026-11-22T09:00:00.000Z"
        );
        assert_eq!(
            query_time("2026-11-22", "to").unwrap(),
            "2026-11-22T00:00:00.000Z"
        );
        assert!(query_time("yesterday", "from").is_err());
    }
}
