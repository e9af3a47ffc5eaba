//! `switchboard`: the SIP/RTP media and IVR server.
//!
//! Starts with embedded defaults and no set-up: SIP on 127.0.0.1:5060 (UDP
//! and TCP), RTP on 16384-32767, data in `./data`, the bundled prompts,
//! and on first start a demo: DID 1000 echoes, 2000 is a conference room,
//! 3000 records the caller, 4000 echoes digits and speaks them; phones 1001
//! and 1002 register with the passwords written to
//! `DATA_DIR/demo-credentials.json`.

use anyhow::Context;
use clap::Parser;
use control_api::{Flags, Settings, serve};

fn main() -> anyhow::Result<()> {
    let settings = Settings::load(Flags::parse())?;
    init_logging(&settings.log_level)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchboard")
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(settings))
}

fn init_logging(level: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .with_context(|| format!("--log-level: {level:?} is not a log filter"))?;
    // Colours only on a terminal: logs written to files stay greppable.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    Ok(())
}
