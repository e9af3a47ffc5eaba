//! Switchboard's IVR: the flow language operators script calls with.
//!
//! [`flow`] is the language: a flow is a JSON document of verbs, read and
//! checked whole when it is uploaded, every error naming the JSON pointer
//! of the value at fault. The crate is sans-IO: no sockets, files or
//! clocks.

pub mod flow;
pub mod schema;

pub use flow::{Flow, FlowError, References, Verb, parse};
pub use schema::json_schemas;
