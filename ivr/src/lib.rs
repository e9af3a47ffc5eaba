//! Switchboard's IVR: the flow language operators script calls with.
//!
//! [`flow`] is the language: a flow is a JSON document of verbs, read and
//! checked whole when it is uploaded, every error naming the JSON pointer
//! of the value at fault. [`interpreter`] runs one call's flow: it takes
//! what happened on the call and the time, and says what to do. The
//! crate is sans-IO: no sockets, files or clocks.

pub mod flow;
pub mod interpreter;
pub mod schema;

pub use flow::{Flow, FlowError, References, Verb, parse};
pub use interpreter::{Action, Audio, DialStatus, Event, Interpreter};
pub use schema::json_schemas;
