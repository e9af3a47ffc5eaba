//! Call detail records: call control builds one as each call ends
//! (answered or not, however it ends: [`Cdr`]) and the switch task hands
//! it to [`CdrSink`], which
//! never blocks; a background writer stores them in batches, each batch
//! one transaction. When the controller stops (SIGTERM) it ends every
//! call first, so their records are in the queue; the writer drains the
//! queue before the server exits.

use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{info, warn};
use utoipa::ToSchema;

use crate::events::{EventHub, LiveEvent};
use crate::metrics::Metrics;
use crate::storage::Storage;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A caller (carrier, trunk or phone) called us.
    Inbound,
    /// We called out (dialer, originate).
    Outbound,
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HungUpBy {
    /// The calling party (BYE, CANCEL, or its media stopped).
    Caller,
    /// The called party (phone, agent or far end of the trunk).
    Callee,
    /// Switchboard: a rejection, a timeout, or shutdown.
    System,
}

/// One leg's RTP quality, as kept in a record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, ToSchema)]
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

pub use switch::cdr::Cdr;

impl From<switch::cdr::Direction> for Direction {
    fn from(direction: switch::cdr::Direction) -> Direction {
        match direction {
            switch::cdr::Direction::Inbound => Direction::Inbound,
            switch::cdr::Direction::Outbound => Direction::Outbound,
        }
    }
}

impl From<switch::cdr::HungUpBy> for HungUpBy {
    fn from(by: switch::cdr::HungUpBy) -> HungUpBy {
        match by {
            switch::cdr::HungUpBy::Caller => HungUpBy::Caller,
            switch::cdr::HungUpBy::Callee => HungUpBy::Callee,
            switch::cdr::HungUpBy::System => HungUpBy::System,
        }
    }
}

impl From<switch::cdr::LegQuality> for LegQuality {
    fn from(quality: switch::cdr::LegQuality) -> LegQuality {
        let switch::cdr::LegQuality {
            packets_received,
            packets_sent,
            packets_lost,
            loss_fraction,
            max_jitter_ms,
            mean_jitter_ms,
            round_trip_time_ms,
            remote_packets_lost,
        } = quality;
        LegQuality {
            packets_received,
            packets_sent,
            packets_lost,
            loss_fraction,
            max_jitter_ms,
            mean_jitter_ms,
            round_trip_time_ms,
            remote_packets_lost,
        }
    }
}

/// Where the call controller puts records: never blocks, never fails (a
/// writer that has stopped, after shutdown, drops them with a warning).
#[derive(Debug, Clone)]
pub struct CdrSink {
    queue: mpsc::UnboundedSender<Cdr>,
    metrics: Arc<Metrics>,
}

impl CdrSink {
    /// Queues a record for writing.
    pub fn record(&self, cdr: Cdr) {
        match self.queue.send(cdr) {
            Ok(()) => {
                self.metrics.cdr_backlog.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => warn!(call_id = %error.0.call_id, "CDR writer stopped: record lost"),
        }
    }
}

/// The largest batch written in one transaction.
const BATCH: usize = 256;

/// Starts the writer: returns the sink and the writer's future, which
/// ends once every sink is dropped and the queue is written.
pub fn writer(
    storage: Storage,
    metrics: Arc<Metrics>,
    events: EventHub,
) -> (CdrSink, impl std::future::Future<Output = ()>) {
    let (sender, mut receiver) = mpsc::unbounded_channel::<Cdr>();
    let sink = CdrSink {
        queue: sender,
        metrics: metrics.clone(),
    };
    let task = async move {
        let mut written = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        while receiver.recv_many(&mut batch, BATCH).await > 0 {
            match storage.insert_cdrs(&batch).await {
                Ok(()) => {
                    written += batch.len() as u64;
                    batch
                        .iter()
                        .for_each(|cdr| announce_recordings(&events, cdr));
                }
                Err(error) => {
                    // Retried one by one, so a bad record costs only itself.
                    warn!(error = %format!("{error:#}"), "CDR batch failed; writing one by one");
                    for cdr in &batch {
                        match storage.insert_cdrs(std::slice::from_ref(cdr)).await {
                            Ok(()) => {
                                written += 1;
                                announce_recordings(&events, cdr);
                            }
                            Err(error) => warn!(
                                call_id = %cdr.call_id,
                                error = %format!("{error:#}"),
                                "CDR not written"
                            ),
                        }
                    }
                }
            }
            metrics
                .cdr_backlog
                .fetch_sub(batch.len() as i64, Ordering::Relaxed);
            metrics.cdrs_written.store(written, Ordering::Relaxed);
            batch.clear();
        }
        info!(written, "CDR writer finished");
    };
    (sink, task)
}

/// Tells the live events that a call's recordings are finished and
/// listed (their index rows are written with the call's record).
fn announce_recordings(events: &EventHub, cdr: &Cdr) {
    for file in &cdr.recordings {
        events.publish(LiveEvent::RecordingFinished {
            call_id: cdr.call_id.clone(),
            at: timestamp(cdr.end_time),
            recording_id: recording_id(file),
            file: file.clone(),
        });
    }
}

/// A recording's id: its file name without `.wav`.
pub fn recording_id(file_name: &str) -> String {
    file_name
        .strip_suffix(".wav")
        .unwrap_or(file_name)
        .to_string()
}

/// RFC 3339, UTC, milliseconds: sorts as text in time order.
pub fn timestamp(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
