//! Settings: command-line flags, `SWITCHBOARD_*` environment variables and
//! an optional TOML file, in that order of precedence.

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Command-line flags. Each has an environment variable of the same name.
#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard: SIP/RTP media and IVR server"
)]
pub struct Flags {
    /// SIP listen address, for UDP and TCP [default: 127.0.0.1:5060].
    #[arg(long, env = "SWITCHBOARD_SIP_LISTEN")]
    pub sip_listen: Option<SocketAddr>,
    /// The address put in Via and Contact when the SIP listen address
    /// is not one peers can reach (0.0.0.0, ::, or behind NAT)
    /// [default: external_address, else the listen address].
    #[arg(long, env = "SWITCHBOARD_SIP_ADVERTISE")]
    pub sip_advertise: Option<IpAddr>,
    /// The address put in SDP for RTP [default: external_address, else
    /// the SIP address].
    #[arg(long, env = "SWITCHBOARD_RTP_ADVERTISE")]
    pub rtp_advertise: Option<IpAddr>,
    /// RTP port range, LO-HI [default: 16384-32767].
    #[arg(long, env = "SWITCHBOARD_RTP_PORTS")]
    pub rtp_ports: Option<String>,
    /// HTTP control API listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "SWITCHBOARD_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Data directory [default: ./data].
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL to store in (postgres://user:password@host/database)
    /// [default: SQLite, DATA_DIR/switchboard.db].
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive [default: info].
    #[arg(long, env = "SWITCHBOARD_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Optional TOML file with the same settings (sip_listen, rtp_ports, data_dir, log_level, …).
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Settings read from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    sip_listen: Option<SocketAddr>,
    sip_advertise: Option<IpAddr>,
    rtp_advertise: Option<IpAddr>,
    external_address: Option<IpAddr>,
    http_listen: Option<SocketAddr>,
    rtp_ports: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    log_level: Option<String>,
    realm: Option<String>,
    lockout_threshold: Option<u32>,
    lockout_seconds: Option<u64>,
    login_lockout_threshold: Option<u32>,
    login_token_hours: Option<u32>,
    billing_unit_seconds: Option<u32>,
    digest_sha256: Option<bool>,
    trunk: Option<Trunk>,
    mix_bridges: Option<bool>,
    record_calls: Option<bool>,
    tts: Option<String>,
}

/// A SIP trunk (or outbound proxy) for numbers that are not ours: the
/// `[trunk]` table of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    /// Where INVITEs are sent, `IP:PORT`.
    pub address: SocketAddr,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub transport: TrunkTransport,
    /// The host part of the Request-URI and To (default: the address' IP).
    pub domain: Option<String>,
    /// Digest username for the trunk's 401/407 challenges.
    pub username: Option<String>,
    /// Digest password.
    pub password: Option<String>,
}

impl Trunk {
    /// The trunk as call control takes it.
    pub fn into_switch(self) -> switch::Trunk {
        switch::Trunk {
            address: self.address,
            transport: match self.transport {
                TrunkTransport::Udp => sip_core::transport::Transport::Udp,
                TrunkTransport::Tcp => sip_core::transport::Transport::Tcp,
            },
            domain: self.domain,
            username: self.username,
            password: self.password,
        }
    }
}

/// The addresses peers are told to reach the server at: never an
/// unspecified one (0.0.0.0 or ::), which no peer can send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertise {
    /// In Via and Contact (with the SIP listen port).
    pub sip: IpAddr,
    /// In SDP's `c=` and `o=` lines.
    pub rtp: IpAddr,
}

impl Advertise {
    /// The addresses for SIP listening on `listen`: `sip` and `rtp` when
    /// given, else `external` (one address for both, as behind NAT),
    /// else the listen address, which must then be a specific one.
    pub fn new(
        listen: IpAddr,
        sip: Option<IpAddr>,
        rtp: Option<IpAddr>,
        external: Option<IpAddr>,
    ) -> anyhow::Result<Advertise> {
        let given = sip.or(external);
        let sip = match given {
            Some(address) => address,
            None if listen.is_unspecified() => anyhow::bail!(
                "listening on {listen} needs an address to tell peers: \
                 --sip-advertise IP (or external_address in the config file)"
            ),
            None => listen,
        };
        let rtp = rtp.or(external).unwrap_or(sip);
        for (what, address) in [("--sip-advertise", sip), ("--rtp-advertise", rtp)] {
            if address.is_unspecified() {
                anyhow::bail!("{what} {address}: peers cannot send to an unspecified address");
            }
        }
        Ok(Advertise { sip, rtp })
    }
}

/// The transport to a trunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    /// UDP.
    #[default]
    Udp,
    /// TCP.
    Tcp,
}

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// SIP listen address.
    pub sip_listen: SocketAddr,
    /// The addresses peers are told: SIP (Via, Contact) and RTP (SDP).
    pub advertise: Advertise,
    /// HTTP control API listen address.
    pub http_listen: SocketAddr,
    /// Lowest RTP port.
    pub rtp_low: u16,
    /// Highest RTP port.
    pub rtp_high: u16,
    /// Data directory.
    pub data_dir: PathBuf,
    /// PostgreSQL's URL, or none for SQLite in the data directory.
    pub database_url: Option<String>,
    /// Log filter.
    pub log_level: String,
    /// Digest realm.
    pub realm: String,
    /// Consecutive failed authentications before a user is locked.
    pub lockout_threshold: u32,
    /// How long a lock lasts, in seconds.
    pub lockout_seconds: u64,
    /// Consecutive failed API logins that lock a user (until a sysadmin
    /// unlocks it).
    pub login_lockout_threshold: u32,
    /// How long a login's token lasts, in hours.
    pub login_token_hours: u32,
    /// The usage report's billing unit, in seconds (1-3600).
    pub billing_unit_seconds: u32,
    /// Whether digest challenges offer SHA-256 (after MD5).
    pub digest_sha256: bool,
    /// Where numbers that are not ours are sent, if anywhere.
    pub trunk: Option<Trunk>,
    /// Whether two-party calls are decoded and mixed rather than relayed
    /// packet by packet (`mix_bridges = true`).
    pub mix_bridges: bool,
    /// Whether calls to phones and trunks are recorded, stereo
    /// (`record_calls = true`).
    pub record_calls: bool,
    /// The text-to-speech program: `auto` (espeak-ng, else flite, from
    /// `PATH`), `none`, or a path to `espeak-ng` or `flite`.
    pub tts: String,
}

impl Settings {
    /// Merges flags (and their environment variables) over the file over defaults.
    pub fn load(flags: Flags) -> anyhow::Result<Settings> {
        let file = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<FileSettings>(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let rtp_ports = flags
            .rtp_ports
            .or(file.rtp_ports)
            .unwrap_or_else(|| "16384-32767".to_string());
        let (rtp_low, rtp_high) = parse_port_range(&rtp_ports)?;
        let sip_listen = flags
            .sip_listen
            .or(file.sip_listen)
            .unwrap_or_else(|| "127.0.0.1:5060".parse().expect("valid default"));
        let advertise = Advertise::new(
            sip_listen.ip(),
            flags.sip_advertise.or(file.sip_advertise),
            flags.rtp_advertise.or(file.rtp_advertise),
            file.external_address,
        )?;
        Ok(Settings {
            sip_listen,
            advertise,
            http_listen: flags
                .http_listen
                .or(file.http_listen)
                .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid default")),
            rtp_low,
            rtp_high,
            data_dir: flags
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./data")),
            database_url: flags.database_url.or(file.database_url),
            log_level: flags
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".to_string()),
            realm: file.realm.unwrap_or_else(|| "switchboard".to_string()),
            lockout_threshold: file.lockout_threshold.unwrap_or(5),
            lockout_seconds: file.lockout_seconds.unwrap_or(300),
            login_lockout_threshold: file.login_lockout_threshold.unwrap_or(5).max(1),
            login_token_hours: file.login_token_hours.unwrap_or(12).clamp(1, 24 * 365),
            billing_unit_seconds: file.billing_unit_seconds.unwrap_or(60).clamp(1, 3600),
            digest_sha256: file.digest_sha256.unwrap_or(false),
            trunk: file.trunk,
            mix_bridges: file.mix_bridges.unwrap_or(false),
            record_calls: file.record_calls.unwrap_or(false),
            tts: file.tts.unwrap_or_else(|| "auto".to_string()),
        })
    }
}

/// Parses `LO-HI`: two ports, LO below HI, room for at least one RTP/RTCP pair.
pub fn parse_port_range(text: &str) -> anyhow::Result<(u16, u16)> {
    let Some((low, high)) = text.split_once('-') else {
        bail!("--rtp-ports must be LO-HI, got {text:?}");
    };
    let low: u16 = low
        .trim()
        .parse()
        .context("--rtp-ports: LO is not a port")?;
    let high: u16 = high
        .trim()
        .parse()
        .context("--rtp-ports: HI is not a port")?;
    if low == 0 || high <= low {
        bail!("--rtp-ports: need 0 < LO < HI, got {low}-{high}");
    }
    Ok((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("20000-20100").unwrap(), (20000, 20100));
        assert!(parse_port_range("20000").is_err());
        assert!(parse_port_range("300-200").is_err());
        assert!(parse_port_range("0-10").is_err());
    }

    #[test]
    fn file_settings_apply_under_flags() {
        let dir = std::env::temp_dir().join(format!("sb-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("switchboard.toml");
        std::fs::write(
            &path,
            "sip_listen = \"127.0.0.1:5999\"\nrtp_ports = \"30000-30010\"\n",
        )
        .unwrap();
        let flags = Flags::parse_from([
            "switchboard",
            "--config",
            path.to_str().unwrap(),
            "--rtp-ports",
            "40000-40010",
        ]);
        let settings = Settings::load(flags).unwrap();
        assert_eq!(settings.sip_listen.port(), 5999);
        assert_eq!((settings.rtp_low, settings.rtp_high), (40000, 40010));
        std::fs::write(
            &path,
            "[trunk]\naddress = \"127.0.0.1:5080\"\ntransport = \"tcp\"\nusername = \"acme\"\npassword = \"s3cret\"\n",
        )
        .unwrap();
        let flags = Flags::parse_from(["switchboard", "--config", path.to_str().unwrap()]);
        let trunk = Settings::load(flags).unwrap().trunk.unwrap();
        assert_eq!(trunk.address.port(), 5080);
        assert_eq!(trunk.transport, TrunkTransport::Tcp);
        assert_eq!(trunk.username.as_deref(), Some("acme"));
        std::fs::write(&path, "[trunk]\naddress = \"127.0.0.1:5080\"\nport = 1\n").unwrap();
        let flags = Flags::parse_from(["switchboard", "--config", path.to_str().unwrap()]);
        assert!(Settings::load(flags).is_err());
        std::fs::write(&path, "bogus = 1\n").unwrap();
        let flags = Flags::parse_from(["switchboard", "--config", path.to_str().unwrap()]);
        assert!(Settings::load(flags).is_err());
    }

    #[test]
    fn peers_are_never_told_an_unspecified_address() {
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let public: IpAddr = "203.0.113.5".parse().unwrap();
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        let error = Advertise::new(any, None, None, None).unwrap_err();
        assert!(error.to_string().contains("--sip-advertise"), "{error}");
        assert!(Advertise::new("::".parse().unwrap(), None, None, None).is_err());
        assert!(Advertise::new(lan, Some(any), None, None).is_err());
        assert_eq!(
            Advertise::new(any, None, None, Some(public)).unwrap(),
            Advertise {
                sip: public,
                rtp: public
            }
        );
        assert_eq!(
            Advertise::new(any, Some(lan), Some(public), None).unwrap(),
            Advertise {
                sip: lan,
                rtp: public
            }
        );
        assert_eq!(
            Advertise::new(lan, None, None, None).unwrap(),
            Advertise { sip: lan, rtp: lan }
        );
    }
}
