//! Switchboard's call control, sans-IO.
//!
//! Like the protocol cores it stands on (sip-core, media, ivr), nothing
//! here owns a socket, a thread, a file or the clock: time is an argument,
//! and what is due comes out of [`timer::Deadlines`]. This crate builds
//! without tokio, axum, sqlx or utoipa (CI checks it with `cargo tree`).
//!
//! - [`id`]: typed ids of calls and legs, instead of `String` keys.
//! - [`timer`]: the call timers, named for what they guard, in one
//!   deadline queue whose next deadline costs no scan.
//! - [`route`] and [`admission`]: what a number answers with, and the one
//!   place where a new call is admitted or refused.
//! - [`clock`]: one clock per call, from which every record's intervals
//!   (IVR, waiting, talk, hold, transfer) are made, whichever way the call
//!   ends.

pub mod admission;
pub mod clock;
pub mod id;
pub mod route;
pub mod timer;

pub use admission::{Admitted, Refused, Routing};
pub use clock::{CallClock, CallTimes, Phase};
pub use id::{CallId, LegId, LegIds};
pub use route::{FlowSource, Route};
pub use timer::{CallTimer, Deadlines};

#[cfg(test)]
mod testing {
    use std::time::Instant;

    /// The start of a test's fake time: any instant will do, as tests
    /// only move forward from it.
    #[allow(clippy::disallowed_methods)]
    pub(crate) fn epoch() -> Instant {
        Instant::now()
    }
}
