//! Starting and stopping the server: storage, the admin token, the HTTP
//! API, the media workers, the SIP endpoint and call control, the record
//! and voicemail writers, and the order they stop in.

#![allow(clippy::disallowed_methods)] // the driver of drivers: it reads the clock and spawns

use crate::config::{self, Settings};
use crate::media_leg::MediaPool;
use crate::metrics;
use crate::prompts::Prompts;
use crate::switch::{CachedAudio, Command, DirectoryChange, Outside, SwitchTask};
use anyhow::Context;
use sip_core::auth::DigestAlgorithm;
use sip_core::driver::{self, Listeners};
use sip_core::endpoint::{Endpoint, EndpointConfig};
use sip_core::registrar::{Registrar, RegistrarConfig};
use std::time::Duration;
use tracing::info;

use crate::{cdr, demo, directory_sync, events, http, storage, tts, voicemail, webhook};

/// Runs the server with `settings` until SIGTERM or SIGINT: every call is
/// ended with its record, and the writers drain, before it returns.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    // The signal handlers first: a SIGTERM during start-up stops the
    // server as cleanly as one later.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    create_private_dir(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    let storage =
        storage::Storage::open(&settings.data_dir, settings.database_url.as_deref()).await?;
    let token_path = settings.data_dir.join("admin-token");
    let keep = |secret: &str| write_secret_file(&token_path, secret);
    if let Some(secret) =
        http::tokens::ensure_admin_token(&storage, &http::now_rfc3339(), keep).await?
    {
        // On the terminal whatever the log level, and in the file; not in
        // the structured log that may be shipped elsewhere.
        eprintln!(
            "Switchboard admin API token (shown once, kept in {}): {secret}",
            token_path.display()
        );
        info!(file = %token_path.display(), "admin API token created");
    }
    let http = tokio::net::TcpListener::bind(settings.http_listen)
        .await
        .with_context(|| format!("binding HTTP on {} (--http-listen)", settings.http_listen))?;
    let http_address = http.local_addr()?;
    let (commands, messages) = tokio::sync::mpsc::unbounded_channel();
    let tts = tts::Tts::from_setting(&settings.tts, settings.data_dir.join("tts"))?;
    let metrics = std::sync::Arc::new(metrics::Metrics::default());
    let events = events::EventHub::new();
    let app = http::router(http::AppState {
        storage: storage.clone(),
        realm: settings.realm.clone(),
        commands: commands.clone(),
        directory_lock: Default::default(),
        metrics: metrics.clone(),
        events: events.clone(),
        stopping: stopped.clone(),
        recordings_dir: settings.data_dir.join("recordings"),
        voicemail_dir: settings.data_dir.join("voicemail"),
        login: http::users::LoginPolicy {
            lockout_threshold: settings.login_lockout_threshold,
            token_lifetime: chrono::Duration::hours(i64::from(settings.login_token_hours)),
        },
        billing_unit_seconds: settings.billing_unit_seconds,
        tts: tts.clone(),
    });
    let mut http_stopped = stopped.clone();
    let http_server = tokio::spawn(async move {
        axum::serve(http, app)
            .with_graceful_shutdown(async move {
                let _ = http_stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    let (credentials, created) = demo::provision(&settings.data_dir)?;
    if created {
        for (phone, password) in &credentials {
            info!(%phone, %password, realm = %settings.realm, "demo phone provisioned (password shown once)");
        }
    }
    demo::seed(
        &storage,
        &credentials,
        created,
        &settings.realm,
        tts.is_available(),
    )
    .await?;
    if created {
        // Other nodes on the same database learn the demo phones' passwords.
        for extension in credentials.keys() {
            let changed = directory_sync::Changed::Phone(extension.clone());
            directory_sync::announce(&storage, &changed).await;
        }
    }
    let listeners = Listeners::bind(settings.sip_listen)
        .await
        .with_context(|| format!("binding SIP on {}", settings.sip_listen))?;
    let bound = listeners.local_address()?;
    // What peers are told (Via, Contact): never 0.0.0.0 or ::.
    let local_address = std::net::SocketAddr::new(settings.advertise.sip, bound.port());
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

    let (cdrs, cdr_writer) = cdr::writer(storage.clone(), metrics.clone(), events.clone());
    let cdr_writer = tokio::spawn(cdr_writer);
    let voicemail_dir = settings.data_dir.join("voicemail");
    std::fs::create_dir_all(&voicemail_dir)
        .with_context(|| format!("creating {}", voicemail_dir.display()))?;
    let (voicemail, voicemail_writer) = voicemail::writer(
        storage.clone(),
        events.clone(),
        voicemail::Transcriber::detect(),
    );
    let voicemail_writer = tokio::spawn(voicemail_writer);
    let recordings_dir = settings.data_dir.join("recordings");
    std::fs::create_dir_all(&recordings_dir)
        .with_context(|| format!("creating {}", recordings_dir.display()))?;
    // The retention sweeper: at start, then hourly.
    let (sweep_storage, sweep_dir) = (storage.clone(), recordings_dir.clone());
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(Duration::from_secs(3600));
        loop {
            hourly.tick().await;
            match http::recordings::sweep(&sweep_storage, &sweep_dir, std::time::SystemTime::now())
                .await
            {
                Ok(swept) if swept.expired + swept.missing > 0 => {
                    info!(
                        expired = swept.expired,
                        missing = swept.missing,
                        "recordings swept"
                    )
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "recording sweep failed")
                }
            }
        }
    });
    let prompts = Prompts::load()?;
    let directory_commands = commands.clone();
    let flow_commands = commands.clone();
    let media = MediaPool::new(
        settings.sip_listen.ip(),
        settings.rtp_low,
        settings.rtp_high,
        move |event| {
            let _ = commands.send(Command::Media(event));
        },
    )
    .context("starting media (--rtp-ports)")?;
    let url_audio = webhook::AudioCache::default();
    let switch = ::switch::Switch::new(
        registrar,
        Box::new(media),
        local_address,
        ::switch::Resources {
            trunk: settings.trunk.clone().map(config::Trunk::into_switch),
            recordings_dir,
            prompts,
            mix_bridges: settings.mix_bridges,
            record_calls: settings.record_calls,
            wall_clock: (std::time::Instant::now(), std::time::SystemTime::now()),
            metrics,
            audio: Box::new(CachedAudio {
                tts: tts.clone(),
                url_audio: url_audio.clone(),
            }),
            voicemail_dir,
            media_address: Some(settings.advertise.rtp),
        },
    );
    let mut switch = SwitchTask::new(
        switch,
        Outside {
            cdrs,
            events,
            tts,
            url_audio,
            voicemail,
            commands: flow_commands,
        },
    );
    // The phones and DIDs, in force before the first INVITE is read.
    switch.apply_directory_change(DirectoryChange::Replace(
        directory_sync::snapshot(&storage, &settings.realm).await?,
    ));
    // Other nodes on the same PostgreSQL database change the directory too.
    if let (storage::Backend::Postgres, Some(url)) =
        (storage.backend(), settings.database_url.clone())
    {
        tokio::spawn(directory_sync::follow(
            url,
            storage.clone(),
            settings.realm.clone(),
            directory_commands,
        ));
    }
    info!(
        sip = %bound,
        sip_advertised = %local_address,
        rtp_advertised = %settings.advertise.rtp,
        http = %http_address,
        rtp = format!("{}-{}", settings.rtp_low, settings.rtp_high),
        data_dir = %settings.data_dir.display(),
        "switchboard listening (SIP on UDP and TCP, HTTP API)"
    );
    let mut sip_stopped = stopped;
    let sip = driver::run(listeners, endpoint, switch, messages, async move {
        let _ = sip_stopped.wait_for(|stop| *stop).await;
    })
    .await;
    // Whatever ended the SIP side: the controller ended every call as it
    // stopped, and is gone with its record sink, so the writer drains what
    // is queued and finishes; the HTTP API gets a few seconds to finish
    // its requests; then the database closes.
    if let Err(error) = cdr_writer.await {
        tracing::warn!(%error, "CDR writer task failed");
    }
    if let Err(error) = voicemail_writer.await {
        tracing::warn!(%error, "voicemail writer task failed");
    }
    match tokio::time::timeout(Duration::from_secs(5), http_server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "HTTP API stopped with an error"),
        Ok(Err(error)) => tracing::warn!(%error, "HTTP API task failed"),
        Err(_) => tracing::warn!("HTTP API requests still running after 5 s: dropped"),
    }
    storage.close().await;
    info!("stopped");
    sip.map_err(Into::into)
}

/// Writes a secret to `path`, readable by our user only (mode 0600): a
/// new file, synced, then renamed over any old one, so the file is whole
/// and private whatever was there before.
fn write_secret_file(path: &std::path::Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension(format!("tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    writeln!(file, "{secret}").with_context(|| format!("writing {}", temporary.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))?;
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

/// Creates the data directory, if it is new, readable by the server's
/// user only: it holds the database (digest HA1s, as good as passwords),
/// the admin token and the recordings. An existing one is left as it is.
fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_data_directory_is_the_servers_users_only() {
        let base = std::env::temp_dir().join(format!("sb-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("data");
        create_private_dir(&dir).unwrap();
        for made in [&base, &dir] {
            let mode = std::fs::metadata(made).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", made.display());
        }
        // Again: an existing directory is fine.
        create_private_dir(&dir).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
    }
}
