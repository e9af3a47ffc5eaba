//! A call's record (CDR), as call control makes it when the call ends,
//! answered or not and however it ends: [`Cdr::timed`] takes every
//! interval from the call's [`CallClock`](crate::CallClock).

use crate::clock::CallTimes;
use std::time::{Instant, SystemTime};

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A caller (carrier, trunk or phone) called us.
    Inbound,
    /// We called out (dialer, originate).
    Outbound,
}

impl Direction {
    /// As records and events spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HungUpBy {
    /// The calling party (BYE, CANCEL, or its media stopped).
    Caller,
    /// The called party (phone, agent or far end of the trunk).
    Callee,
    /// Switchboard: a rejection, a timeout, or shutdown.
    System,
}

impl HungUpBy {
    /// As records and events spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Callee => "callee",
            Self::System => "system",
        }
    }
}

/// One leg's RTP quality, as kept in a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegQuality {
    /// RTP packets received.
    pub packets_received: u64,
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Packets lost on the way to us.
    pub packets_lost: i64,
    /// Of those expected, the share lost (0-1).
    pub loss_fraction: f64,
    /// The largest interarrival jitter seen, in milliseconds.
    pub max_jitter_ms: f64,
    /// The mean interarrival jitter, in milliseconds.
    pub mean_jitter_ms: f64,
    /// The round-trip time from RTCP, if measured.
    pub round_trip_time_ms: Option<f64>,
    /// Packets the far end reports lost on the way to it (RTCP).
    pub remote_packets_lost: Option<i64>,
}

impl LegQuality {
    /// The quality of a leg from its channel's counters.
    pub fn from_stats(stats: &media::channel::ChannelStats) -> Self {
        let quality = &stats.quality;
        Self {
            packets_received: stats.packets_received,
            packets_sent: stats.packets_sent,
            packets_lost: quality.packets_lost,
            loss_fraction: quality.loss_fraction,
            max_jitter_ms: quality.max_jitter_ms,
            mean_jitter_ms: quality.mean_jitter_ms,
            round_trip_time_ms: quality.round_trip_time_ms,
            remote_packets_lost: quality.remote_packets_lost,
        }
    }
}

/// A call's record, as the call controller made it.
#[derive(Debug, Clone)]
pub struct Cdr {
    /// The call's unique id (the caller's SIP Call-ID).
    pub call_id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// When the INVITE arrived.
    pub start_time: SystemTime,
    /// When we answered the caller (200 OK).
    pub answer_time: Option<SystemTime>,
    /// When the called phone, agent or trunk answered.
    pub agent_answer_time: Option<SystemTime>,
    /// When the call ended.
    pub end_time: SystemTime,
    /// The caller's number or user (From).
    pub caller_id: String,
    /// The number dialled (Request-URI user).
    pub number_dialed: String,
    /// What handled it: `echo`, `phone`, `trunk`, … or `none`.
    pub route: &'static str,
    /// From our answer to the end.
    pub connection_seconds: f64,
    /// In the IVR (before a queue or a bridge).
    pub ivr_seconds: f64,
    /// Ringing the phone or trunk before it answered (or gave up).
    pub wait_seconds: f64,
    /// Talking: connected to the called party (or to the application),
    /// less hold.
    pub talk_seconds: f64,
    /// On hold.
    pub hold_seconds: f64,
    /// Waiting for the party of a transfer to answer.
    pub transfer_seconds: f64,
    /// Who ended it.
    pub hung_up_by: HungUpBy,
    /// The final status we gave the caller (200 if answered).
    pub sip_status: u16,
    /// The caller's leg's RTP quality, if it had media.
    pub caller_rtp: Option<LegQuality>,
    /// The called party's leg's RTP quality, if there was one.
    pub callee_rtp: Option<LegQuality>,
    /// The file names of the call's recordings in the recordings
    /// directory, oldest first (the record names the first).
    pub recordings: Vec<String>,
}

impl Cdr {
    /// The record of call `call_id` with the times its clock gave (dated
    /// by `wall`); what else it says is that of a call that reached
    /// nothing, to be set by the caller: no route, no parties, no
    /// recordings, ended by the switch with a 487.
    pub fn timed(
        call_id: String,
        direction: Direction,
        times: &CallTimes,
        wall: impl Fn(Instant) -> SystemTime,
    ) -> Cdr {
        Cdr {
            call_id,
            direction,
            start_time: wall(times.started),
            answer_time: times.answered.map(&wall),
            agent_answer_time: times.agent_answered.map(&wall),
            end_time: wall(times.ended),
            caller_id: String::new(),
            number_dialed: String::new(),
            route: "none",
            connection_seconds: times.connection.as_secs_f64(),
            ivr_seconds: times.ivr.as_secs_f64(),
            wait_seconds: times.wait.as_secs_f64(),
            talk_seconds: times.talk.as_secs_f64(),
            hold_seconds: times.hold.as_secs_f64(),
            transfer_seconds: times.transfer.as_secs_f64(),
            hung_up_by: HungUpBy::System,
            sip_status: 487,
            caller_rtp: None,
            callee_rtp: None,
            recordings: Vec::new(),
        }
    }
}
