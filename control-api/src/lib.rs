//! Switchboard's binary as a library: the composition root that opens
//! storage, starts the media workers, the SIP endpoint with call control
//! (the `switch` crate) and the HTTP API, and carries out what call
//! control asks ([`serve`]). `main.rs` only reads the settings, starts
//! logging and the runtime.

mod cdr;
mod config;
mod demo;
mod directory_sync;
mod events;
mod http;
mod media_leg;
mod serve;
mod storage;
mod switch;
mod tts;
mod voicemail;
mod webhook;

use ::switch::{metrics, prompts};

pub use config::{Flags, Settings};
pub use serve::serve;
