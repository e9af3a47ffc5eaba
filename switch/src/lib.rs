//! Switchboard's call control, sans-IO.
//!
//! Like the protocol cores it stands on (sip-core, media, ivr), nothing
//! here owns a socket, a thread, a file or the clock: time is an argument,
//! and what is due comes out of [`timer::Deadlines`]. This crate builds
//! without tokio, axum, sqlx or utoipa (CI checks it with `cargo tree`).
//!
//! - [`control`]: the call controller, [`Switch`]. Its driver hands it
//!   each SIP event ([`Switch::handle_sip`]), media event
//!   ([`Switch::handle_media`]), API command ([`Switch::handle_command`],
//!   answered with a [`Reply`]) and due timeout
//!   ([`Switch::handle_timeout`], [`Switch::poll_timeout`]), and carries
//!   out what comes out of [`Switch::poll_effect`]. A call owns its
//!   caller's leg and any number of legs the switch calls, all of one
//!   type with an id, a role (caller, called party, listener), one SIP
//!   state, media, hold and codec; legs are joined only through media.
//!   The call's features (the applications the switch answers with
//!   itself, bridging, flows, placed calls, transfer, listening) are
//!   modules under `control/`; those of one call work on the call and a
//!   `Context` (media, index, timers, effects) kept beside the map of
//!   calls, not on the whole controller.
//! - [`media_port`]: what call control asks of media, as a trait (the
//!   media engine implements it in the binary, `fake_media` in tests).
//! - [`effect`]: what is done outside (records, live events, speech,
//!   fetches, webhooks, voicemail), as typed effects.
//! - [`cdr`]: the call record, made from the call's clock on every way a
//!   call ends.
//! - [`id`]: typed ids of calls and legs, instead of `String` keys.
//! - [`timer`]: the call timers, named for what they guard, in one
//!   deadline queue whose next deadline costs no scan.
//! - [`route`] and [`admission`]: what a number answers with, and the one
//!   place where a new call is admitted or refused.
//! - [`clock`]: one clock per call, from which every record's intervals
//!   (IVR, waiting, talk, hold, transfer) are made, whichever way the call
//!   ends.
//! - [`prompts`] and [`metrics`]: the bundled prompts, and the counters
//!   `/metrics` shows (plain atomics the binary reads).
//! - `testing` (feature `test-support`): whole calls on a fake clock, the
//!   switch's endpoint and user agents on sip-core's simulated network.

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
pub use id::{CallId, Extension, LegId, LegIds, Number};
pub use media_port::MediaPort;
pub use route::{FlowSource, Route};
pub use timer::{CallTimer, Deadlines};
