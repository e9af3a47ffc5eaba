//! Flows' webhooks: the call's variables are POSTed as a JSON object to the
//! operator's `http://` URL, which answers with the next verbs as a flow
//! document (`{"verbs": [...]}`), checked like an uploaded flow. Anything
//! else (unreachable, a non-2xx status, a body over 1 MiB, not a valid
//! flow, over 30 s) is a failure, and the flow takes its fallback. The
//! flow's own `timeout_seconds` usually decides first.

use std::collections::BTreeMap;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use tracing::{info, warn};

/// The longest answer read.
const LARGEST_ANSWER: usize = 1 << 20;
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

#[allow(clippy::disallowed_methods)] // the connection's own task
async fn post(url: &str, variables: &BTreeMap<String, String>) -> Result<ivr::Flow, String> {
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
    let body = serde_json::to_vec(variables).map_err(|error| error.to_string())?;
    let path = uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_string();
    let authority = uri
        .authority()
        .map_or(host.clone(), |authority| authority.to_string());
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, "Switchboard")
        .body(Full::new(Bytes::from(body)))
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
        let bytes = Limited::new(response.into_body(), LARGEST_ANSWER)
            .collect()
            .await
            .map_err(|error| format!("reading the answer: {error}"))?
            .to_bytes();
        let document: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| format!("not JSON: {error}"))?;
        ivr::parse(&document)
            .map_err(|error| format!("not a flow: {} at {}", error.reason, error.pointer))
    };
    let answer = exchange.await;
    driver.abort();
    answer
}
