//! Conformance harness: runs the real `switchboard` binary on loopback and
//! drives it with SIPp, raw SIP messages (RFC 4475) and real softphones.
//!
//! Included by integration tests with
//! `#[path = "../../conformance/harness.rs"] mod harness;`.
//! Needs `std`, and `socket2` for the RTP sniffer. External tools: `sipp` (Debian `sip-tester`),
//! `baresip`; they are looked up on `PATH`.
//!
//! Environment:
//! * `SWITCHBOARD_BIN` - run this binary instead of the one cargo built
//!   (for example `conformance/tools/mock_switchboard.py`).
//! * `CONFORMANCE_DIR` - where `sipp/` and `torture/` are (found by itself
//!   from the crate or the working directory otherwise).
//! * `CONFORMANCE_OUT` - where SIPp traces go (default
//!   `conformance/out/`, which git ignores).
//!
//! Everything here boots whole processes and waits on real time, which the
//! house rules keep out of core tests; this is the one place it belongs.
#![allow(dead_code)]
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Loopback: every process in these tests talks only on 127.0.0.1.
pub const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// How long the server gets to answer its first OPTIONS.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a SIPp run may take before it is killed (its own -timeout is 30 s).
const SIPP_HARD_TIMEOUT: Duration = Duration::from_secs(90);
/// How long `Drop` waits after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

static UNIQUE: AtomicU32 = AtomicU32::new(0);

/// A name no other test of any process running now will pick.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name(prefix));
    fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The `conformance/` directory (with `sipp/` and `torture/`).
pub fn conformance_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CONFORMANCE_DIR") {
        return PathBuf::from(dir);
    }
    let mut candidates = Vec::new();
    if let Some(manifest) = option_env!("CARGO_MANIFEST_DIR") {
        candidates.push(Path::new(manifest).join("../conformance"));
        candidates.push(Path::new(manifest).join("conformance"));
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            candidates.push(dir.join("conformance"));
        }
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("sipp").is_dir() && dir.join("torture").is_dir())
        .map(|dir| dir.canonicalize().unwrap_or(dir))
        .expect("conformance/ not found: set CONFORMANCE_DIR")
}

/// Where SIPp traces and other test output go.
pub fn out_dir(name: &str) -> PathBuf {
    let base = std::env::var("CONFORMANCE_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| conformance_dir().join("out"));
    let dir = base.join(unique_name(name));
    fs::create_dir_all(&dir).expect("create output dir");
    dir
}

/// Panics with an install hint unless `tool` is on PATH.
pub fn require_tool(tool: &str, debian_package: &str) {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not on PATH: apt-get install {debian_package}"
    );
}

// ---------------------------------------------------------------------------
// Ports

/// True if `port` can be bound on loopback for both UDP and TCP right now.
pub fn port_is_free(port: u16) -> bool {
    let addr = SocketAddrV4::new(LOCALHOST, port);
    TcpListener::bind(addr).is_ok() && UdpSocket::bind(addr).is_ok()
}

/// A port free on loopback for both UDP and TCP.
pub fn free_port() -> u16 {
    free_port_block(1)
}

/// The first of `count` consecutive ports, all free for UDP and TCP; the
/// first one is even (RTP likes even ports).
pub fn free_port_block(count: u16) -> u16 {
    for _ in 0..200 {
        let probe = TcpListener::bind(SocketAddrV4::new(LOCALHOST, 0)).expect("bind probe");
        let port = probe.local_addr().expect("probe addr").port();
        drop(probe);
        let base = port & !1;
        if base < 1024 || u32::from(base) + u32::from(count) > 65535 {
            continue;
        }
        if (base..base + count).all(port_is_free) {
            return base;
        }
    }
    panic!("no block of {count} free ports on 127.0.0.1");
}

/// An RTP port range `lo..=hi` of `size` ports for one server: spread over
/// 20000-56000 so servers of tests running in parallel do not share ports.
fn rtp_range(size: u16) -> (u16, u16) {
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(UNIQUE.fetch_add(1, Ordering::Relaxed).wrapping_mul(40_503))
        .wrapping_add(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0),
        );
    let slots = u32::from((56_000 - 20_000) / size);
    for attempt in 0..slots {
        let slot = (seed.wrapping_add(attempt.wrapping_mul(7919)) % slots) as u16;
        let lo = 20_000 + slot * size;
        if (lo..lo + 8).all(port_is_free) {
            return (lo, lo + size - 1);
        }
    }
    panic!("no free RTP range");
}

/// Waits until something has bound `port` on loopback (UDP), up to `timeout`.
pub fn wait_port_taken(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if UdpSocket::bind(SocketAddrV4::new(LOCALHOST, port)).is_err() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

// ---------------------------------------------------------------------------
// The server under test

/// A running `switchboard` on loopback with its own ports and data dir.
/// Dropping it stops it (SIGTERM, then SIGKILL).
pub struct Server {
    child: Child,
    sip: SocketAddr,
    http: SocketAddr,
    rtp: (u16, u16),
    data_dir: PathBuf,
    log_path: PathBuf,
    credentials: BTreeMap<String, String>,
    database_url: Option<String>,
}

/// The PostgreSQL server the tests store in instead of SQLite, when
/// `SWITCHBOARD_TEST_POSTGRES` names one (`postgres://user@host:port`,
/// a superuser: each server gets a database of its own).
pub fn test_postgres() -> Option<String> {
    std::env::var("SWITCHBOARD_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
        .map(|url| url.trim_end_matches('/').to_string())
}

/// A new, empty database on the test PostgreSQL server; its URL.
fn create_test_database(server: &str) -> String {
    let name = unique_name("switchboard").replace('-', "_");
    let output = Command::new("psql")
        .arg(format!("{server}/postgres"))
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .expect("psql runs (Debian package postgresql-client)");
    assert!(
        output.status.success(),
        "creating the test database: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!("{server}/{name}")
}

impl Server {
    /// Starts a server on free ports with an empty data dir and waits until
    /// it answers OPTIONS over UDP and has written its demo credentials.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Like [`Server::start`], with extra command-line flags.
    pub fn start_with(extra_args: &[&str]) -> Server {
        // Each attempt on a database of its own: a first attempt that lost
        // a port has already made the admin token in its database, and a
        // server does not write the token file for a database that has one.
        for _ in 0..3 {
            let database_url = test_postgres().map(|server| create_test_database(&server));
            if let Some(server) = Server::try_start(database_url, extra_args, LOCALHOST) {
                return server;
            }
        }
        panic!("switchboard never found free ports to start on");
    }

    /// A second node on the database of `other` (PostgreSQL): a server of
    /// its own, sharing the provisioned directory.
    pub fn start_beside(other: &Server, extra_args: &[&str]) -> Server {
        let url = other
            .database_url
            .clone()
            .expect("nodes share a PostgreSQL database only");
        Server::start_on(Some(url), extra_args)
    }

    /// Starts a server storing in `database_url` (SQLite in its data dir
    /// when `None`). Ports are picked free; if another process takes one
    /// first, it starts again on others.
    fn start_on(database_url: Option<String>, extra_args: &[&str]) -> Server {
        for _ in 0..3 {
            if let Some(server) = Server::try_start(database_url.clone(), extra_args, LOCALHOST) {
                return server;
            }
        }
        panic!("switchboard never found free ports to start on");
    }

    /// One attempt of [`Server::start_on`]: `None` if a port it picked was
    /// taken by the time it bound it.
    /// A server whose SIP listens on every address (0.0.0.0), reached at
    /// 127.0.0.1, with `extra_args` (which must say what to advertise).
    pub fn start_on_every_address(extra_args: &[&str]) -> Server {
        for _ in 0..3 {
            let database_url = test_postgres().map(|server| create_test_database(&server));
            if let Some(server) = Server::try_start(database_url, extra_args, Ipv4Addr::UNSPECIFIED)
            {
                return server;
            }
        }
        panic!("switchboard never found free ports to start on");
    }

    fn try_start(
        database_url: Option<String>,
        extra_args: &[&str],
        listen: Ipv4Addr,
    ) -> Option<Server> {
        let binary = server_binary();
        let data_dir = temp_dir("switchboard-data");
        let log_path = data_dir.join("server.log");
        let log = fs::File::create(&log_path).expect("create server log");
        let port = free_port();
        let sip = SocketAddr::V4(SocketAddrV4::new(LOCALHOST, port));
        let http = SocketAddr::V4(SocketAddrV4::new(LOCALHOST, free_port()));
        let rtp = rtp_range(400);
        let mut command = Command::new(&binary);
        if let Some(url) = &database_url {
            command.arg("--database-url").arg(url);
        }
        let child = command
            .arg("--sip-listen")
            .arg(SocketAddrV4::new(listen, port).to_string())
            .arg("--http-listen")
            .arg(http.to_string())
            .arg("--rtp-ports")
            .arg(format!("{}-{}", rtp.0, rtp.1))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--log-level")
            .arg("info")
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("clone log")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = Server {
            child,
            sip,
            http,
            rtp,
            data_dir,
            log_path,
            credentials: BTreeMap::new(),
            database_url,
        };
        server.wait_ready().then_some(server)
    }

    /// Waits for the server to be ready: `false` if it exited because a
    /// port was taken; panics on any other failure.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut answered = false;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                if self.log().contains("Address already in use") {
                    return false;
                }
                panic!(
                    "switchboard exited during start-up ({status}):\n{}",
                    self.log()
                );
            }
            if !answered {
                answered = self.options_ping(Duration::from_millis(200)).is_some();
            }
            let creds = self.data_dir.join("demo-credentials.json");
            if answered
                && let Ok(text) = fs::read_to_string(&creds)
                && let Some(map) = parse_string_map(&text)
            {
                self.credentials = map;
                return true;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "switchboard not ready after {STARTUP_TIMEOUT:?} (OPTIONS answered: {answered}):\n{}",
            self.log()
        );
    }

    /// The SIP address (UDP and TCP).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip
    }

    /// The HTTP control API's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The admin token written at first start (`DATA_DIR/admin-token`).
    pub fn admin_token(&self) -> String {
        fs::read_to_string(self.data_dir.join("admin-token"))
            .expect("the admin token file")
            .trim()
            .to_string()
    }

    /// One HTTP/1.1 request to the control API: `method path`, with the
    /// bearer `token` and a JSON `body` if given. Returns the status and
    /// the body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.http
        );
        if let Some(token) = token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or(""));
        http_exchange(self.http, request.as_bytes())
    }

    /// `127.0.0.1:PORT`, the remote address argument for SIPp.
    pub fn target(&self) -> String {
        self.sip.to_string()
    }

    /// The RTP port range given to the server (inclusive).
    pub fn rtp_ports(&self) -> (u16, u16) {
        self.rtp
    }

    /// The demo phones' passwords (`"1001"`, `"1002"`) from
    /// `demo-credentials.json`.
    pub fn credentials(&self) -> &BTreeMap<String, String> {
        &self.credentials
    }

    /// The password of one demo phone.
    pub fn password(&self, user: &str) -> &str {
        self.credentials
            .get(user)
            .unwrap_or_else(|| panic!("no demo credentials for {user}: {:?}", self.credentials))
    }

    /// The PostgreSQL database it stores in, if not SQLite.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// Runs `sql` on the server's database (SQLite through Python's
    /// sqlite3, PostgreSQL through psql), the server running or not, and
    /// commits it; the rows, each its columns' text.
    pub fn query_database(&self, sql: &str) -> Vec<Vec<String>> {
        let output = match &self.database_url {
            Some(url) => Command::new("psql")
                .arg(url)
                .args(["-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "\u{1f}", "-c"])
                .arg(sql)
                .output()
                .expect("psql runs"),
            None => Command::new("python3")
                .arg("-c")
                .arg(
                    "import sqlite3, sys\n\
                     database = sqlite3.connect(sys.argv[1], timeout=10)\n\
                     for row in database.execute(sys.argv[2]):\n\
                     \x20   print('\\x1f'.join('' if v is None else str(v) for v in row))\n\
                     database.commit()",
                )
                .arg(self.data_dir.join("switchboard.db"))
                .arg(sql)
                .output()
                .expect("python3 runs"),
        };
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| line.split('\u{1f}').map(str::to_string).collect())
            .collect()
    }

    /// The server's data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path)
            .unwrap_or_else(|e| format!("<no log at {}: {e}>", self.log_path.display()))
    }

    /// Path of the server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends one OPTIONS over UDP; the status line of the answer, if any
    /// arrives within `wait`.
    pub fn options_ping(&self, wait: Duration) -> Option<(u16, String)> {
        let socket = UdpSocket::bind(SocketAddrV4::new(LOCALHOST, 0)).ok()?;
        let local = socket.local_addr().ok()?;
        let request = options_request(local, self.sip, &unique_name("ping"));
        socket.send_to(&request, self.sip).ok()?;
        socket.set_read_timeout(Some(wait)).ok()?;
        let mut buf = vec![0u8; 65_535];
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            let (n, _) = socket.recv_from(&mut buf).ok()?;
            if let Some(status) = status_line(&buf[..n])
                && status.0 >= 200
            {
                return Some(status);
            }
        }
        None
    }

    /// Sends `raw` as one UDP datagram; the first datagram back within 2 s.
    pub fn send_udp(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let socket = UdpSocket::bind(SocketAddrV4::new(LOCALHOST, 0)).expect("bind udp");
        socket.send_to(raw, self.sip).expect("send udp");
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = vec![0u8; 65_535];
        socket
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| buf[..n].to_vec())
    }

    /// Sends `raw` as one UDP datagram and collects what comes back: stops
    /// at the first final response (status >= 200) or after `wait`.
    pub fn exchange_udp(&self, raw: &[u8], wait: Duration) -> Vec<Vec<u8>> {
        let socket = UdpSocket::bind(SocketAddrV4::new(LOCALHOST, 0)).expect("bind udp");
        socket.send_to(raw, self.sip).expect("send udp");
        collect_datagrams(&socket, wait)
    }

    /// Sends `raw` over a new TCP connection; the first complete message
    /// back within 2 s (framed by Content-Length).
    pub fn send_tcp(&self, raw: &[u8]) -> Option<Vec<u8>> {
        self.exchange_tcp(raw, Duration::from_secs(2))
            .into_iter()
            .next()
    }

    /// Sends `raw` over a new TCP connection; the messages back until a final
    /// response or `wait`.
    pub fn exchange_tcp(&self, raw: &[u8], wait: Duration) -> Vec<Vec<u8>> {
        let mut stream =
            TcpStream::connect_timeout(&self.sip, Duration::from_secs(2)).expect("connect tcp");
        stream.write_all(raw).expect("write tcp");
        let deadline = Instant::now() + wait;
        let mut buffer = Vec::new();
        let mut messages = Vec::new();
        let mut chunk = vec![0u8; 65_535];
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("timeout");
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
            while let Some(len) = complete_message_len(&buffer) {
                let message: Vec<u8> = buffer.drain(..len).collect();
                let last = status_line(&message).is_some_and(|(code, _)| code >= 200);
                messages.push(message);
                if last {
                    return messages;
                }
            }
        }
        messages
    }
}

impl Server {
    /// Waits until the server's log contains `needle`; false on timeout.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// Sends SIGTERM and waits for the exit (SIGKILL after the stop timeout).
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        stop_child(&mut self.child, STOP_TIMEOUT)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!(
                "---- switchboard log ({}), last lines ----\n{}",
                self.log_path.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        stop_child(&mut self.child, STOP_TIMEOUT);
        if !keep_output() {
            let _ = fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// True if test output (data dirs, traces) is to be kept even when the
/// test passes: set `CONFORMANCE_KEEP=1`. A failing test always keeps it.
pub fn keep_output() -> bool {
    thread::panicking() || std::env::var_os("CONFORMANCE_KEEP").is_some()
}

/// SIGTERM, wait up to `timeout`, then SIGKILL.
pub fn stop_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Some(status) = wait_child(child, timeout) {
        return Some(status);
    }
    let _ = child.kill();
    child.wait().ok()
}

/// Polls `child` until it exits or `timeout` passes.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn server_binary() -> PathBuf {
    if let Ok(path) = std::env::var("SWITCHBOARD_BIN") {
        return PathBuf::from(path);
    }
    match option_env!("CARGO_BIN_EXE_switchboard") {
        Some(path) => PathBuf::from(path),
        None => panic!("no switchboard binary: run under cargo test or set SWITCHBOARD_BIN"),
    }
}

/// Reads a flat JSON object of strings, like `{"1001": "pw", "1002": "pw"}`.
pub fn parse_string_map(text: &str) -> Option<BTreeMap<String, String>> {
    fn string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
        let mut out = String::new();
        loop {
            match chars.next()? {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
    }
    let mut map = BTreeMap::new();
    let mut chars = text.trim().chars().peekable();
    if chars.next()? != '{' {
        return None;
    }
    loop {
        match chars.next()? {
            c if c.is_whitespace() || c == ',' => continue,
            '}' => return Some(map),
            '"' => {
                let key = string(&mut chars)?;
                while chars.peek()?.is_whitespace() || *chars.peek()? == ':' {
                    chars.next();
                }
                if chars.next()? != '"' {
                    return None;
                }
                map.insert(key, string(&mut chars)?);
            }
            _ => return None,
        }
    }
}

// ---------------------------------------------------------------------------
// SIP helpers

/// An OPTIONS request from `local` to `server`.
pub fn options_request(local: SocketAddr, server: SocketAddr, call_id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:harness@{local}>;tag={call_id}\r\n\
         To: <sip:{server}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The status code and reason phrase of a response's status line.
pub fn status_line(message: &[u8]) -> Option<(u16, String)> {
    let end = message
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(message.len());
    let line = String::from_utf8_lossy(&message[..end]);
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 {
        return None;
    }
    Some((code.parse().ok()?, reason.to_string()))
}

/// The value of the first header `name` (or its compact form `compact`),
/// without folding, case-insensitive.
pub fn header_value(message: &[u8], name: &str, compact: Option<&str>) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key = key.trim();
        let matches =
            key.eq_ignore_ascii_case(name) || compact.is_some_and(|c| key.eq_ignore_ascii_case(c));
        matches.then(|| value.trim().to_string())
    })
}

/// Length of the first complete SIP message in a stream buffer, if any.
pub fn complete_message_len(buffer: &[u8]) -> Option<usize> {
    let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let length = header_value(&buffer[..head_end], "Content-Length", Some("l"))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    (buffer.len() >= head_end + length).then_some(head_end + length)
}

fn collect_datagrams(socket: &UdpSocket, wait: Duration) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return got;
        }
        socket.set_read_timeout(Some(left)).expect("timeout");
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => {
                let message = buf[..n].to_vec();
                let last = status_line(&message).is_some_and(|(code, _)| code >= 200);
                got.push(message);
                if last {
                    return got;
                }
            }
            Err(_) => return got,
        }
    }
}

// ---------------------------------------------------------------------------
// SIPp

/// What a SIPp run did.
#[derive(Debug)]
pub struct SippOutcome {
    /// The scenario file name.
    pub scenario: String,
    /// The full command line.
    pub command: String,
    /// Exit code (`None` if killed). SIPp: 0 all calls succeeded, 1 some
    /// failed, 97 stopped by command, 99 no call processed, 255 fatal.
    pub exit_code: Option<i32>,
    /// True if the harness had to kill SIPp.
    pub killed: bool,
    /// "Successful call" cumulative count from the screen dump.
    pub successful: u64,
    /// "Failed call" cumulative count from the screen dump.
    pub failed: u64,
    /// The error log (`-trace_err`): unexpected messages, failed checks.
    pub errors: String,
    /// The last statistics screen.
    pub screen: String,
    /// SIPp's stderr (start-up errors such as bad XML land here).
    pub stderr: String,
    /// Folder with all traces (messages.log has every message).
    pub out_dir: PathBuf,
}

impl SippOutcome {
    /// True if SIPp exited 0 with no failed call and at least one success.
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0) && self.failed == 0 && self.successful > 0 && !self.killed
    }

    /// Panics with SIPp's errors, the message trace's tail and (if given)
    /// the server's log, unless [`SippOutcome::ok`].
    pub fn assert_ok(&self, server: Option<&Server>) {
        if self.ok() {
            return;
        }
        let messages = fs::read_to_string(self.out_dir.join("messages.log")).unwrap_or_default();
        let tail: String = messages
            .chars()
            .rev()
            .take(6000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!(
            "SIPp {} failed: exit {:?}, killed {}, {} successful, {} failed\n\
             command: {}\n---- errors ----\n{}\n---- stderr ----\n{}\n\
             ---- last messages ({}) ----\n{}\n---- server log ----\n{}",
            self.scenario,
            self.exit_code,
            self.killed,
            self.successful,
            self.failed,
            self.command,
            self.errors,
            self.stderr,
            self.out_dir.display(),
            tail,
            server.map(Server::log).unwrap_or_default()
        );
    }
}

/// A SIPp process running in the background (typically a UAS).
pub struct SippRun {
    child: Child,
    scenario: String,
    command: String,
    out_dir: PathBuf,
    started: Instant,
}

/// The path of a scenario in `conformance/sipp/`.
pub fn scenario_path(scenario: &str) -> PathBuf {
    let file = if scenario.ends_with(".xml") {
        scenario.to_string()
    } else {
        format!("{scenario}.xml")
    };
    conformance_dir().join("sipp").join(file)
}

/// Runs `sipp -sf conformance/sipp/SCENARIO ARGS...` in the foreground and
/// reports. `args` holds the remote `127.0.0.1:PORT` (for UACs) and the
/// scenario's options (`-s 1000`, `-m 100`, `-au`, `-ap`, `-t t1`, ...).
/// The harness adds, unless `args` has them: `-i 127.0.0.1 -mi 127.0.0.1`,
/// `-p FREE`, `-mp FREE`, `-m 1`, and always `-nostdin -timeout 30s
/// -timeout_error` plus traces (errors, screen, messages) in an out dir.
pub fn sipp(scenario: &str, args: &[&str]) -> SippOutcome {
    spawn_sipp(scenario, args).wait()
}

/// Starts SIPp in the background; see [`sipp`]. For a UAS give `-p PORT`
/// and call [`SippRun::wait_listening`] before sending it anything.
pub fn spawn_sipp(scenario: &str, args: &[&str]) -> SippRun {
    require_tool("sipp", "sip-tester");
    let path = scenario_path(scenario);
    assert!(path.is_file(), "no scenario {}", path.display());
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = out_dir(&format!("sipp-{name}"));
    let has = |flag: &str| args.contains(&flag);
    let mut full: Vec<String> = vec!["-sf".into(), path.display().to_string()];
    full.extend(args.iter().map(|a| a.to_string()));
    if !has("-i") {
        full.extend(["-i".into(), "127.0.0.1".into()]);
    }
    if !has("-mi") {
        full.extend(["-mi".into(), "127.0.0.1".into()]);
    }
    let sip_port = match args.iter().position(|a| *a == "-p") {
        Some(at) => args.get(at + 1).and_then(|port| port.parse().ok()),
        None => {
            let port = free_port();
            full.extend(["-p".into(), port.to_string()]);
            Some(port)
        }
    };
    if !has("-mp") {
        // SIPp binds the media port and the three after it (audio and
        // video RTP and RTCP): a block that leaves out its SIP port, which
        // is not bound yet and so looks free.
        let media = loop {
            let base = free_port_block(4);
            if sip_port.is_none_or(|port| !(base..base + 4).contains(&port)) {
                break base;
            }
        };
        full.extend(["-mp".into(), media.to_string()]);
    }
    if !has("-m") {
        full.extend(["-m".into(), "1".into()]);
    }
    if !has("-timeout") {
        full.extend(["-timeout".into(), "30s".into()]);
    }
    full.extend(
        [
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-trace_screen",
            "-trace_msg",
            "-trace_logs",
        ]
        .map(String::from),
    );
    for (flag, file) in [
        ("-error_file", "errors.log"),
        ("-screen_file", "screen.log"),
        ("-message_file", "messages.log"),
        ("-log_file", "actions.log"),
    ] {
        full.extend([flag.to_string(), out.join(file).display().to_string()]);
    }
    let stdout = fs::File::create(out.join("stdout.log")).expect("stdout log");
    let stderr = fs::File::create(out.join("stderr.log")).expect("stderr log");
    let command = format!("sipp {}", full.join(" "));
    let child = Command::new("sipp")
        .args(&full)
        .current_dir(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("start sipp");
    SippRun {
        child,
        scenario: name,
        command,
        out_dir: out,
        started: Instant::now(),
    }
}

impl Drop for SippRun {
    fn drop(&mut self) {
        // a test that panicked before wait(): do not leave SIPp running
        if matches!(self.child.try_wait(), Ok(None)) {
            stop_child(&mut self.child, Duration::from_secs(2));
        }
    }
}

impl Drop for SippOutcome {
    fn drop(&mut self) {
        if self.ok() && !keep_output() {
            let _ = fs::remove_dir_all(&self.out_dir);
        }
    }
}

impl SippRun {
    /// Waits until SIPp has bound its SIP port `port` (a UAS is ready).
    pub fn wait_listening(&mut self, port: u16) {
        let ready = wait_port_taken(port, Duration::from_secs(5));
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "sipp {} exited at start ({status}): {}",
                self.scenario,
                fs::read_to_string(self.out_dir.join("stderr.log")).unwrap_or_default()
            );
        }
        assert!(ready, "sipp {} never bound port {port}", self.scenario);
    }

    /// Waits for SIPp to finish (killing it after 90 s) and reports.
    pub fn wait(mut self) -> SippOutcome {
        let left = SIPP_HARD_TIMEOUT.saturating_sub(self.started.elapsed());
        let (status, killed) = match wait_child(&mut self.child, left) {
            Some(status) => (Some(status), false),
            None => (stop_child(&mut self.child, Duration::from_secs(2)), true),
        };
        let read = |file: &str| fs::read_to_string(self.out_dir.join(file)).unwrap_or_default();
        let screen_all = read("screen.log");
        let (successful, failed) = (
            screen_counter(&screen_all, "Successful call"),
            screen_counter(&screen_all, "Failed call"),
        );
        let screen = screen_all
            .rfind("Statistics Screen")
            .map(|i| screen_all[i..].to_string())
            .unwrap_or(screen_all);
        SippOutcome {
            scenario: self.scenario.clone(),
            command: self.command.clone(),
            exit_code: status.and_then(|s| s.code()),
            killed,
            successful,
            failed,
            errors: read("errors.log"),
            screen,
            stderr: read("stderr.log"),
            out_dir: self.out_dir.clone(),
        }
    }
}

/// The cumulative value of a counter row of SIPp's statistics screen, e.g.
/// `  Successful call        |        0                  |        3  `.
pub fn screen_counter(screen: &str, label: &str) -> u64 {
    screen
        .lines()
        .filter(|line| line.trim_start().starts_with(label))
        .filter_map(|line| line.rsplit('|').next()?.trim().parse().ok())
        .next_back()
        .unwrap_or(0)
}

/// Registers `user` with SIPp from local port `port` (register_auth.xml),
/// so that a SIPp UAS started on the same port receives the user's calls.
pub fn register_sipp_phone(server: &Server, user: &str, port: u16) {
    register_sipp_phone_with(server, user, server.password(user), port);
}

/// [`register_sipp_phone`] for a phone whose password is `password` (one
/// made through the API rather than a demo phone).
pub fn register_sipp_phone_with(server: &Server, user: &str, password: &str, port: u16) {
    let port = port.to_string();
    let outcome = sipp(
        "register_auth",
        &[
            &server.target(),
            "-s",
            user,
            "-au",
            user,
            "-ap",
            password,
            "-p",
            &port,
        ],
    );
    outcome.assert_ok(Some(server));
}

// ---------------------------------------------------------------------------
// RFC 4475 torture messages

/// What the server must do with a torture message (see torture/expected.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Parses: a final response other than 400.
    Valid,
    /// Malformed: a 400 whose reason phrase names the problem.
    Reject400,
    /// Not a request: no answer at all.
    Drop,
    /// The RFC leaves the choice; anything but a crash.
    Any,
}

/// One torture message with its expectation.
#[derive(Debug, Clone)]
pub struct TortureCase {
    /// RFC 4475 name (the file stem).
    pub name: String,
    /// The message bytes, as sent.
    pub bytes: Vec<u8>,
    /// The expected verdict.
    pub verdict: Verdict,
    /// If not empty, the final response must have one of these codes.
    pub status: Vec<u16>,
    /// RFC 4475 section.
    pub section: String,
    /// Why.
    pub reason: String,
}

/// `(name, bytes, verdict)` for every message listed in
/// `torture/expected.toml`.
pub fn torture_cases() -> Vec<(String, Vec<u8>, Verdict)> {
    torture_manifest()
        .into_iter()
        .map(|case| (case.name, case.bytes, case.verdict))
        .collect()
}

/// Every message listed in `torture/expected.toml`, with its file read.
pub fn torture_manifest() -> Vec<TortureCase> {
    let dir = conformance_dir().join("torture");
    let text = fs::read_to_string(dir.join("expected.toml")).expect("read expected.toml");
    parse_manifest(&text)
        .into_iter()
        .map(|(name, fields)| {
            let field = |key: &str| {
                fields
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| panic!("expected.toml: [{name}] has no {key}"))
            };
            let verdict = match field("verdict").as_str() {
                "valid" => Verdict::Valid,
                "reject-400" => Verdict::Reject400,
                "drop" => Verdict::Drop,
                "any" => Verdict::Any,
                other => panic!("expected.toml: [{name}] unknown verdict {other}"),
            };
            let status = fields
                .get("status")
                .map(|list| {
                    list.trim_matches(|c| c == '[' || c == ']')
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| s.trim().parse().expect("status code"))
                        .collect()
                })
                .unwrap_or_default();
            let path = dir.join(format!("{name}.sip"));
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            TortureCase {
                name: name.clone(),
                bytes,
                verdict,
                status,
                section: fields.get("section").cloned().unwrap_or_default(),
                reason: fields.get("reason").cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// The subset of TOML that expected.toml uses: `[name]` tables with
/// `key = "string"`, `key = number` or `key = [n, n]`; `#` comment lines.
pub fn parse_manifest(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut tables: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            tables.push((name.trim().to_string(), BTreeMap::new()));
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("expected.toml line {}: {raw}", number + 1));
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .map(|v| v.replace("\\\"", "\"").replace("\\\\", "\\"))
            .unwrap_or_else(|| value.to_string());
        tables
            .last_mut()
            .unwrap_or_else(|| panic!("expected.toml line {}: key outside a table", number + 1))
            .1
            .insert(key.trim().to_string(), value);
    }
    tables
}

/// Addresses in the RFC 4475 messages and the loopback ones sent instead:
/// the same length (Content-Length stays right), all in 127.0.0.0/8.
const LOOPBACK_MAP: [(&[u8], &[u8]); 4] = [
    (b"192.0.2.", b"127.0.0."),
    (b"192.168.255.111", b"127.168.255.111"),
    (b"255.255.255.255", b"127.255.255.255"),
    (b"135.180.130.133", b"127.180.130.133"),
];

/// Makes a torture message safe to send on this machine, where nothing may
/// leave the loopback: every IPv4 address of the RFC (192.0.2.x, ...) becomes
/// a 127.x one of the same length (bodies and Content-Length stay as they
/// are), and the top Via's sent-by host becomes `top_via_host` (port and
/// parameters kept). So a server that answers to the Via instead of the
/// packet's source sends into the loopback, never to the LAN or a DNS
/// resolver. Give each message its own `top_via_host` (127.0.1.N): several
/// RFC messages share branch, sent-by and method (escnull and regescrt,
/// cparam01 and cparam02), which RFC 3261 17.2.3 would take for one
/// transaction. With `add_rport`, `;rport` follows the sent-by.
pub fn loopback_safe(message: &[u8], top_via_host: &str, add_rport: bool) -> Vec<u8> {
    let mut out = message.to_vec();
    for (from, to) in LOOPBACK_MAP {
        let mut i = 0;
        while i + from.len() <= out.len() {
            if &out[i..i + from.len()] == from {
                out[i..i + from.len()].copy_from_slice(to);
                i += from.len();
            } else {
                i += 1;
            }
        }
    }
    let Some((host_start, host_end)) = find_top_via_host(&out) else {
        return out;
    };
    let mut sent_by_end = host_end;
    if out.get(host_end) == Some(&b':') {
        sent_by_end += 1;
        while out.get(sent_by_end).is_some_and(u8::is_ascii_digit) {
            sent_by_end += 1;
        }
    }
    let mut rewritten = out[..host_start].to_vec();
    rewritten.extend_from_slice(top_via_host.as_bytes());
    rewritten.extend_from_slice(&out[host_end..sent_by_end]);
    let line_rest = &out[sent_by_end..];
    let line_rest = &line_rest[..line_rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(line_rest.len())];
    if add_rport
        && !line_rest
            .windows(5)
            .any(|w| w.eq_ignore_ascii_case(b"rport"))
    {
        rewritten.extend_from_slice(b";rport");
    }
    rewritten.extend_from_slice(&out[sent_by_end..]);
    rewritten
}

/// Byte range of the host of the first Via's sent-by, found through odd
/// case, compact `v:`, LWS and line folding (as in wsinv).
fn find_top_via_host(message: &[u8]) -> Option<(usize, usize)> {
    let head_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(message.len());
    let mut line_start = message.windows(2).position(|w| w == b"\r\n")? + 2;
    while line_start < head_end {
        let line_end = message[line_start..head_end]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(head_end, |p| line_start + p);
        let line = &message[line_start..line_end];
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]);
            let name = name.trim();
            if name.eq_ignore_ascii_case("via") || name.eq_ignore_ascii_case("v") {
                return via_host_at(message, line_start + colon + 1, head_end);
            }
        }
        line_start = line_end + 2;
    }
    None
}

/// In a Via value starting at `i`: skip `SIP / 2.0 / TRANSPORT` and LWS;
/// the host runs to `:`, `;`, `,` or white space.
fn via_host_at(message: &[u8], mut i: usize, end: usize) -> Option<(usize, usize)> {
    let lws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut slashes = 0;
    while i < end && slashes < 2 {
        if message[i] == b'/' {
            slashes += 1;
        }
        i += 1;
    }
    while i < end && lws(message[i]) {
        i += 1;
    }
    while i < end && !lws(message[i]) && message[i] != b';' {
        i += 1;
    }
    while i < end && lws(message[i]) {
        i += 1;
    }
    let start = i;
    while i < end && !lws(message[i]) && !matches!(message[i], b':' | b';' | b',') {
        i += 1;
    }
    (slashes == 2 && i > start).then_some((start, i))
}

/// Checks what came back for one case against its verdict; `Err` says why
/// not. `replies` are the datagrams received (see [`Server::exchange_udp`]).
pub fn judge(case: &TortureCase, replies: &[Vec<u8>]) -> Result<String, String> {
    let statuses: Vec<(u16, String)> = replies.iter().filter_map(|r| status_line(r)).collect();
    if statuses.len() != replies.len() {
        return Err(format!(
            "got something that is not a SIP response: {:?}",
            replies
                .iter()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect::<Vec<_>>()
        ));
    }
    let last = statuses.iter().find(|(code, _)| *code >= 200).cloned();
    let shown = last
        .as_ref()
        .map(|(c, r)| format!("{c} {r}"))
        .unwrap_or_else(|| "no final response".into());
    if !case.status.is_empty() {
        match &last {
            Some((code, _)) if case.status.contains(code) => {}
            _ => return Err(format!("wanted one of {:?}, got {shown}", case.status)),
        }
    }
    match case.verdict {
        Verdict::Valid => match &last {
            Some((400, reason)) => Err(format!("rejected as malformed: 400 {reason}")),
            Some(_) => Ok(shown),
            None => Err("no final response to a valid request".into()),
        },
        Verdict::Reject400 => match &last {
            Some((400, reason)) => {
                let reason = reason.trim();
                if reason.is_empty() || reason.eq_ignore_ascii_case("Bad Request") {
                    Err(format!(
                        "400 without a reason naming the problem: {reason:?}"
                    ))
                } else {
                    Ok(shown)
                }
            }
            _ => Err(format!("wanted 400, got {shown}")),
        },
        Verdict::Drop => {
            if replies.is_empty() {
                Ok("dropped".into())
            } else {
                Err(format!("wanted silence, got {shown}"))
            }
        }
        Verdict::Any => Ok(shown),
    }
}

// ---------------------------------------------------------------------------
// Audio

/// Writes a mono 16-bit PCM WAV of a sine tone.
pub fn write_tone_wav(path: &Path, frequency: f64, seconds: f64, sample_rate: u32) {
    let samples = (seconds * f64::from(sample_rate)) as u32;
    let mut data = Vec::with_capacity(samples as usize * 2);
    for n in 0..samples {
        let t = f64::from(n) / f64::from(sample_rate);
        let value = (0.5 * (2.0 * std::f64::consts::PI * frequency * t).sin() * 32767.0) as i16;
        data.extend_from_slice(&value.to_le_bytes());
    }
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    fs::write(path, out).expect("write wav");
}

/// Reads a 16-bit PCM WAV: (sample rate, first channel's samples).
/// Tolerates a data chunk size of 0 or too large (a file not finalised).
pub fn read_wav(path: &Path) -> Result<(u32, Vec<i16>), String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(format!("{}: not a RIFF/WAVE file", path.display()));
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut pos = 12;
    let (mut rate, mut channels, mut bits) = (0u32, 1u16, 16u16);
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(pos + 4) as usize;
        let body = pos + 8;
        if id == b"fmt " && body + 16 <= bytes.len() {
            channels = u16_at(body + 2).max(1);
            rate = u32_at(body + 4);
            bits = u16_at(body + 14);
        } else if id == b"data" {
            if bits != 16 {
                return Err(format!("{}: {bits}-bit samples", path.display()));
            }
            let end = if size == 0 || body + size > bytes.len() {
                bytes.len()
            } else {
                body + size
            };
            let frame = 2 * usize::from(channels);
            let samples = bytes[body..end]
                .chunks_exact(frame)
                .map(|f| i16::from_le_bytes([f[0], f[1]]))
                .collect();
            return Ok((rate, samples));
        }
        pos = body + size + (size & 1);
    }
    Err(format!("{}: no data chunk", path.display()))
}

/// Power of `frequency` in `samples` (Goertzel), normalised by length.
pub fn goertzel_power(samples: &[i16], sample_rate: u32, frequency: f64) -> f64 {
    let omega = 2.0 * std::f64::consts::PI * frequency / f64::from(sample_rate);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (samples.len().max(1) as f64).powi(2)
}

/// The strongest frequency between 100 and 3000 Hz in 5 Hz steps.
pub fn dominant_frequency(samples: &[i16], sample_rate: u32) -> f64 {
    (20..=600)
        .map(|step| f64::from(step) * 5.0)
        .map(|f| (f, goertzel_power(samples, sample_rate, f)))
        .fold(
            (0.0, f64::MIN),
            |best, x| if x.1 > best.1 { x } else { best },
        )
        .0
}

/// Root mean square of `samples`, 0.0 to 1.0 of full scale.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&x| (f64::from(x) / 32768.0).powi(2))
        .sum();
    (sum / samples.len() as f64).sqrt()
}

// ---------------------------------------------------------------------------
// RTP on the wire

/// A copy of every UDP datagram sent to some ports of this host, taken
/// with a raw socket while the ports belong to another process (SIPp, a
/// softphone). Needs root or CAP_NET_RAW, as SIPp's pcap play does.
pub struct UdpSniffer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sniffed>>,
}

/// One datagram the sniffer saw.
pub struct Sniffed {
    /// When, since the sniffer started.
    pub at: std::time::Duration,
    /// The UDP payload.
    pub payload: Vec<u8>,
    /// The destination port.
    pub port: u16,
    /// The source port (tests running at the same time each have their
    /// own server RTP range: filter on it).
    pub source_port: u16,
}

impl UdpSniffer {
    /// Starts copying datagrams to `ports`.
    pub fn start(ports: std::ops::RangeInclusive<u16>) -> UdpSniffer {
        use socket2::{Domain, Protocol, Socket, Type};
        use std::io::Read;
        use std::sync::atomic::Ordering;
        let mut socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP))
            .expect("a raw socket (run as root or with CAP_NET_RAW)");
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut seen = Vec::new();
            let mut buffer = [0u8; 65_536];
            while !stopped.load(Ordering::Relaxed) {
                let Ok(length) = socket.read(&mut buffer) else {
                    continue;
                };
                // IPv4 header (its length in 32-bit words), then UDP.
                let packet = &buffer[..length];
                let header = usize::from(packet[0] & 0x0f) * 4;
                if packet.len() < header + 8 {
                    continue;
                }
                let udp = &packet[header..];
                let port = u16::from_be_bytes([udp[2], udp[3]]);
                if ports.contains(&port) {
                    seen.push(Sniffed {
                        at: started.elapsed(),
                        payload: udp[8..].to_vec(),
                        port,
                        source_port: u16::from_be_bytes([udp[0], udp[1]]),
                    });
                }
            }
            seen
        });
        UdpSniffer { stop, thread }
    }

    /// Stops and returns what was seen, in order.
    pub fn finish(self) -> Vec<Sniffed> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("the sniffer thread")
    }
}

/// The UDP payloads of a classic pcap capture (Ethernet or Linux cooked
/// link layer, IPv4), in capture order.
pub fn pcap_udp_payloads(path: &Path) -> Vec<Vec<u8>> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() >= 24, "{}: not a pcap file", path.display());
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let little = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => panic!("{}: not a classic pcap file", path.display()),
    };
    let u32_at = |i: usize| {
        let word = [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        if little {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        }
    };
    let link_header = match u32_at(20) {
        1 => 14,   // Ethernet
        113 => 16, // Linux cooked capture
        other => panic!("{}: link type {other}", path.display()),
    };
    let mut payloads = Vec::new();
    let mut position = 24;
    while position + 16 <= bytes.len() {
        let captured = u32_at(position + 8) as usize;
        let record = &bytes[position + 16..(position + 16 + captured).min(bytes.len())];
        position += 16 + captured;
        let Some(ip) = record.get(link_header..) else {
            continue;
        };
        if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
            continue;
        }
        let udp = &ip[usize::from(ip[0] & 0x0f) * 4..];
        if udp.len() >= 8 {
            payloads.push(udp[8..].to_vec());
        }
    }
    payloads
}

/// The lag (in samples, `0..=max_lag`) at which `recorded` best matches
/// `reference`, and the normalised correlation there (1.0: identical up
/// to gain) over `window` samples of the reference.
pub fn best_alignment(
    reference: &[i16],
    recorded: &[i16],
    window: std::ops::Range<usize>,
    max_lag: usize,
) -> (usize, f64) {
    let reference = &reference[window.clone()];
    let energy = |samples: &[i16]| samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
    let reference_energy = energy(reference);
    let mut best = (0, f64::MIN);
    for lag in 0..=max_lag {
        let start = window.start + lag;
        let Some(candidate) = recorded.get(start..start + reference.len()) else {
            break;
        };
        let dot: f64 = reference
            .iter()
            .zip(candidate)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        let score = dot / (reference_energy * energy(candidate)).sqrt().max(1.0);
        if score > best.1 {
            best = (lag, score);
        }
    }
    best
}

/// Sends a raw HTTP/1.1 request (with `Connection: close`) and reads the
/// whole answer: the status and the body (chunked bodies are joined).
pub fn http_exchange(address: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("HTTP connect to {address}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream.write_all(request).expect("HTTP request written");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("HTTP answer read");
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let chunked = head.lines().any(|line| {
        line.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        let mut joined = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || after.len() < size {
                break;
            }
            joined.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        joined
    } else {
        body.to_string()
    };
    (status, body)
}
