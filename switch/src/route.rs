//! What a number answers with: a DID's or an extension's route, as the
//! directory provisions it. A DID with holidays, schedules or a calls
//! limit is resolved to one of the plain routes when a call comes in
//! ([`did::DidRoute::route_at`]).

use crate::id::{Extension, Number};
use std::sync::Arc;

pub mod did;

/// What a DID or extension does when called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Answer and send the caller's audio back.
    Echo,
    /// Answer and record the caller until hang-up, into the recordings
    /// directory.
    Record,
    /// Answer and mix the caller into this conference room with everyone
    /// else who called it.
    Conference(String),
    /// Answer, play a prompt, then send each digit the caller presses back
    /// as an RFC 4733 event and speak it.
    DigitEcho,
    /// Ring a registered phone (B2BUA).
    Phone(Extension),
    /// Send the call out through the configured trunk to this number
    /// (B2BUA); the trunk's 401/407 challenges are answered.
    Trunk(Number),
    /// Run an IVR flow; `time_zone` is the DID's, for the flow's time of
    /// day.
    Flow {
        /// The flow.
        flow: FlowSource,
        /// The DID's time zone.
        time_zone: chrono_tz::Tz,
    },
    /// A DID with holidays, schedules or a calls limit: resolved to one of
    /// the routes above when a call comes in.
    Did(Arc<did::DidRoute>),
}

/// Where a flow route's flow comes from.
#[derive(Debug, Clone)]
pub enum FlowSource {
    /// A stored flow, by id, at its version current when the call comes in.
    Stored(i64),
    /// A flow compiled from a DID's inbound settings.
    Compiled(Arc<ivr::Flow>),
}

/// Stored flows are the same by id; compiled ones only when they are the
/// same compilation.
impl PartialEq for FlowSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Stored(one), Self::Stored(other)) => one == other,
            (Self::Compiled(one), Self::Compiled(other)) => Arc::ptr_eq(one, other),
            _ => false,
        }
    }
}

impl Eq for FlowSource {}

impl Route {
    /// What kind of route this is, without the number: safe to log at
    /// info level (numbers are logged at debug only).
    pub fn kind(&self) -> &'static str {
        match self {
            Route::Echo => "echo",
            Route::Record => "record",
            Route::Conference(_) => "conference",
            Route::DigitEcho => "digit-echo",
            Route::Phone(_) => "phone",
            Route::Trunk(_) => "trunk",
            Route::Flow { .. } => "flow",
            Route::Did(did) => did.default.kind(),
        }
    }
}
