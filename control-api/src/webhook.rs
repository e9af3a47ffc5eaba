//! Flows' HTTP: webhooks and prompts by URL, over plain `http://` (there
//! is no TLS client), through hyper's HTTP/1 client connection.
//!
//! - A webhook POSTs the call's variables as a JSON object to the
//!   operator's URL, which answers with the next verbs as a flow document
//!   (`{"verbs": [...]}`), checked like an uploaded flow. Anything else
//!   (unreachable, a non-2xx status, a body over 1 MiB, not a valid flow,
//!   over 30 s) is a failure, and the flow takes its fallback. The flow's
//!   own `timeout_seconds` usually decides first.
//! - A prompt by URL is fetched once (GET, up to 32 MiB), decoded (WAV,
//!   MP3, FLAC, Ogg Vorbis) to 8 kHz and kept in memory by URL.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use tracing::{info, warn};

/// The longest answer read.
const LARGEST_ANSWER: usize = 1 << 20;
/// The largest audio file fetched.
const LARGEST_AUDIO: usize = 32 << 20;
/// Prompts kept by URL at most (the cache starts over past that).
const CACHED_URLS: usize = 500;

/// Prompts fetched by URL, kept in memory (cheap to clone: shared).
#[derive(Clone, Default)]
pub struct AudioCache {
    fetched: std::sync::Arc<std::sync::Mutex<HashMap<String, media::player::Prompt>>>,
}

impl AudioCache {
    /// The prompt at `url`, if fetched before.
    pub fn cached(&self, url: &str) -> Option<media::player::Prompt> {
        self.fetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(url)
            .cloned()
    }

    /// Fetches `url` on the runtime and calls `done` with the prompt, or
    /// why not.
    #[allow(clippy::disallowed_methods)] // fetching is a driver: it spawns
    pub fn fetch(
        &self,
        url: &str,
        done: impl FnOnce(Result<media::player::Prompt, String>) + Send + 'static,
    ) {
        let (cache, url) = (self.clone(), url.to_string());
        tokio::spawn(async move {
            let fetched = match tokio::time::timeout(LONGEST, get_audio(&url)).await {
                Ok(fetched) => fetched,
                Err(_) => Err(format!("no answer in {} s", LONGEST.as_secs())),
            };
            if let Ok(prompt) = &fetched {
                let mut kept = cache
                    .fetched
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if kept.len() >= CACHED_URLS {
                    kept.clear();
                }
                kept.insert(url, prompt.clone());
            }
            done(fetched);
        });
    }
}

async fn get_audio(url: &str) -> Result<media::player::Prompt, String> {
    let bytes = exchange(url, None, LARGEST_AUDIO).await?;
    let hint = url
        .rsplit('.')
        .next()
        .filter(|hint| hint.len() <= 4)
        .map(str::to_string);
    tokio::task::spawn_blocking(move || {
        media::player::Prompt::decode(&bytes, hint.as_deref())
            .map_err(|error| format!("not audio this server reads: {error}"))
    })
    .await
    .map_err(|error| error.to_string())?
}
/// The longest a webhook may take, whatever the flow says.
const LONGEST: Duration = Duration::from_secs(30);

/// POSTs `variables` to `url` on the runtime, then calls `done` with the
/// verbs it answered, or `None`.
#[allow(clippy::disallowed_methods)] // webhooks are a driver: they spawn
pub fn fetch(
    url: String,
    variables: BTreeMap<String, String>,
    done: impl FnOnce(Option<ivr::Flow>) + Send + 'static,
) {
    tokio::spawn(async move {
        let answer = match tokio::time::timeout(LONGEST, post(&url, &variables)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer in {} s", LONGEST.as_secs())),
        };
        match answer {
            Ok(flow) => {
                info!(verbs = flow.verbs.len(), "webhook answered");
                done(Some(flow));
            }
            Err(reason) => {
                warn!(%reason, "webhook failed");
                done(None);
            }
        }
    });
}

async fn post(url: &str, variables: &BTreeMap<String, String>) -> Result<ivr::Flow, String> {
    let body = serde_json::to_vec(variables).map_err(|error| error.to_string())?;
    let bytes = exchange(url, Some(body), LARGEST_ANSWER).await?;
    let document: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|error| format!("not JSON: {error}"))?;
    ivr::parse(&document)
        .map_err(|error| format!("not a flow: {} at {}", error.reason, error.pointer))
}

/// One HTTP/1.1 exchange with `url`: a POST of `body` (JSON), or a GET;
/// the answer's body (at most `largest` bytes) if its status is 2xx.
#[allow(clippy::disallowed_methods)] // the connection's own task
async fn exchange(url: &str, body: Option<Vec<u8>>, largest: usize) -> Result<Bytes, String> {
    let uri: hyper::Uri = url.parse().map_err(|error| format!("bad URL: {error}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs are called".into());
    }
    let host = uri.host().ok_or("the URL has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let address = host.trim_start_matches('[').trim_end_matches(']');
    let stream = tokio::net::TcpStream::connect((address, port))
        .await
        .map_err(|error| format!("connecting to {host}:{port}: {error}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|error| format!("HTTP handshake: {error}"))?;
    // The connection is driven beside the exchange, and ends with it.
    let driver = tokio::spawn(connection);
    let path = uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_string();
    let authority = uri
        .authority()
        .map_or(host.clone(), |authority| authority.to_string());
    let request = match &body {
        Some(_) => hyper::Request::post(path)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json"),
        None => hyper::Request::get(path),
    }
    .header(hyper::header::HOST, authority)
    .header(hyper::header::USER_AGENT, "Switchboard")
    .body(Full::new(Bytes::from(body.unwrap_or_default())))
    .map_err(|error| error.to_string())?;
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("request: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        Ok(Limited::new(response.into_body(), largest)
            .collect()
            .await
            .map_err(|error| format!("reading the answer: {error}"))?
            .to_bytes())
    };
    let answer = exchange.await;
    driver.abort();
    answer
}
