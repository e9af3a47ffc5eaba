//! `switchboard`: the SIP/RTP media and IVR server.
//!
//! Starts with embedded defaults and no set-up: SIP on 127.0.0.1:5060 (UDP
//! and TCP), RTP on 16384-32767, data in `./data`, the bundled prompts,
//! and on first start a demo: DID 1000 echoes, 2000 is a conference room,
//! 3000 records the caller, 4000 echoes digits and speaks them; phones 1001
//! and 1002 register with the passwords written to
//! `DATA_DIR/demo-credentials.json`.

#![allow(clippy::disallowed_methods)] // main is the driver of drivers: it reads the clock and spawns

mod config;
mod demo;
mod media_leg;
mod prompts;
mod switch;

use anyhow::Context;
use clap::Parser;
use config::{Flags, Settings};
use media_leg::MediaPool;
use prompts::Prompts;
use sip_core::auth::{DigestAlgorithm, Ha1s};
use sip_core::driver::{self, Listeners};
use sip_core::endpoint::{Endpoint, EndpointConfig};
use sip_core::registrar::{Registrar, RegistrarConfig};
use std::collections::HashMap;
use std::time::Duration;
use switch::{Command, Resources, Route, Switch};
use tracing::info;

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

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let (credentials, created) = demo::provision(&settings.data_dir)?;
    if created {
        for (phone, password) in &credentials {
            info!(%phone, %password, realm = %settings.realm, "demo phone provisioned (password shown once)");
        }
    }
    let listeners = Listeners::bind(settings.sip_listen)
        .await
        .with_context(|| format!("binding SIP on {}", settings.sip_listen))?;
    let local_address = listeners.local_address()?;
    let mut endpoint_config = EndpointConfig::new(local_address);
    endpoint_config.seed = rand::random();
    let endpoint = Endpoint::new(endpoint_config);

    let mut registrar_config = RegistrarConfig::new(settings.realm.clone());
    // MD5 alone by default: SIPp answers only the first challenge and
    // baresip 1.0 refuses to register when any challenge is not MD5.
    // `digest_sha256 = true` in the config file adds SHA-256 after MD5.
    registrar_config.digest.algorithms = if settings.digest_sha256 {
        vec![DigestAlgorithm::Md5, DigestAlgorithm::Sha256]
    } else {
        vec![DigestAlgorithm::Md5]
    };
    registrar_config.lockout_threshold = settings.lockout_threshold;
    registrar_config.lockout_duration = Duration::from_secs(settings.lockout_seconds);
    let registrar = Registrar::new(registrar_config);
    let users = credentials
        .iter()
        .map(|(phone, password)| {
            (
                phone.clone(),
                Ha1s::from_password(phone, &settings.realm, password),
            )
        })
        .collect();

    let mut routes = HashMap::new();
    routes.insert(demo::ECHO_DID.to_string(), Route::Echo);
    routes.insert(demo::RECORD_DID.to_string(), Route::Record);
    routes.insert(
        demo::CONFERENCE_DID.to_string(),
        Route::Conference(demo::CONFERENCE_DID.to_string()),
    );
    routes.insert(demo::DIGIT_ECHO_DID.to_string(), Route::DigitEcho);
    let recordings_dir = settings.data_dir.join("recordings");
    std::fs::create_dir_all(&recordings_dir)
        .with_context(|| format!("creating {}", recordings_dir.display()))?;
    for phone in demo::PHONES {
        routes.insert(phone.to_string(), Route::Phone(phone.to_string()));
    }
    let prompts = Prompts::load()?;
    let (commands, messages) = tokio::sync::mpsc::unbounded_channel();
    let media = MediaPool::new(
        local_address.ip(),
        settings.rtp_low,
        settings.rtp_high,
        move |event| {
            let _ = commands.send(Command::Media(event));
        },
    )
    .context("starting media (--rtp-ports)")?;
    let switch = Switch::new(
        routes,
        registrar,
        users,
        media,
        local_address,
        Resources {
            trunk: settings.trunk.clone(),
            recordings_dir,
            prompts,
            mix_bridges: settings.mix_bridges,
            record_calls: settings.record_calls,
        },
    );
    info!(
        sip = %local_address,
        rtp = format!("{}-{}", settings.rtp_low, settings.rtp_high),
        data_dir = %settings.data_dir.display(),
        "switchboard listening (UDP and TCP)"
    );
    driver::run(listeners, endpoint, switch, messages, shutdown_signal()).await?;
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    tokio::select! {
        _ = terminate.recv() => info!("SIGTERM received"),
        _ = interrupt.recv() => info!("SIGINT received"),
    }
}
