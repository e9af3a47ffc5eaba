//! Switchboard's SIP stack.
//!
//! Every protocol piece here is a sans-IO state machine: it takes `now` and
//! input, and the caller drains its outputs (`poll_transmit`, `poll_event`,
//! `poll_timeout`). Sockets, the real clock and tasks live only in
//! [`driver`], behind the `driver` cargo feature.

pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod message;
pub mod registrar;
pub mod transaction;
pub mod transport;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;

#[cfg(feature = "driver")]
pub mod driver;
