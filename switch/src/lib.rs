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
pub mod cdr;
pub mod clock;
pub mod control;
pub mod effect;
/// A media port without sockets or threads.
#[cfg(any(test, feature = "test-support"))]
pub mod fake_media;
pub mod id;
pub mod media_port;
pub mod metrics;
pub mod prompts;
pub mod route;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod timer;

#[cfg(test)]
mod call_tests;

pub use admission::{Admitted, Refused, Routing};
pub use clock::{CallClock, CallTimes, Phase};
pub use control::{
    CallSnapshot, Command, ControlError, Destination, DirectoryChange, LegSnapshot, Listeners,
    Origination, Reply, Resources, Switch, Trunk,
};
pub use effect::{CallEvent, Effect, RenderedAudio};
pub use id::{CallId, LegId, LegIds};
pub use media_port::MediaPort;
pub use route::{FlowSource, Route};
pub use timer::{CallTimer, Deadlines};
