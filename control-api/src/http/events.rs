//! The live event stream, from the moment of subscribing, ending when the
//! server stops: `/api/v1/events` as Server-Sent Events (one JSON object
//! per event, `event:` its `type`) and `/api/v1/events/ws` as a WebSocket
//! (one JSON text message per event).

use std::convert::Infallible;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::auth::{Caller, Role, TokenQuery};
use super::error::{ApiError, ErrorBody};
use super::paging::ValidQuery;
use crate::events::LiveEvent;

/// What a subscriber gets next: an event, or how many it missed by
/// falling behind; `None` once the server stops.
async fn next(
    receiver: &mut tokio::sync::broadcast::Receiver<LiveEvent>,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<Result<LiveEvent, u64>> {
    loop {
        if *stopping.borrow() {
            return None;
        }
        tokio::select! {
            received = receiver.recv() => {
                return match received {
                    Ok(event) => Some(Ok(event)),
                    Err(RecvError::Lagged(missed)) => Some(Err(missed)),
                    Err(RecvError::Closed) => None,
                };
            }
            changed = stopping.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
        }
    }
}

/// The live events as Server-Sent Events.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "event_stream",
    tag = "events",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Events as they happen (text/event-stream): each `data:` a LiveEvent; a subscriber that falls behind gets an `event: lagged` whose data is how many it missed", content_type = "text/event-stream"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(Role::Supervisor)?;
    let receiver = state.events.subscribe();
    let stopping = state.stopping.clone();
    let events = futures_util::stream::unfold(
        (receiver, stopping),
        |(mut receiver, mut stopping)| async move {
            let event = match next(&mut receiver, &mut stopping).await? {
                Ok(event) => Event::default()
                    .event(event.kind())
                    .json_data(&event)
                    .unwrap_or_else(|_| Event::default().comment("unserialisable")),
                Err(missed) => Event::default().event("lagged").data(missed.to_string()),
            };
            Some((Ok(event), (receiver, stopping)))
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The live events over a WebSocket: each a JSON text message (a
/// LiveEvent); a subscriber that falls behind gets
/// `{"type": "lagged", "missed": N}`. Pings are answered; the socket
/// closes (1001) when the server stops.
#[utoipa::path(
    get,
    path = "/api/v1/events/ws",
    operation_id = "event_socket",
    tag = "events",
    security(("bearer" = [])),
    params(TokenQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Needs the supervisor role", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
    )
)]
pub async fn socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<TokenQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let caller =
        Caller::from_headers_or_query(&state, headers, query.access_token.as_deref()).await?;
    caller.require(Role::Supervisor)?;
    let upgrade = upgrade.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let receiver = state.events.subscribe();
    let stopping = state.stopping.clone();
    Ok(upgrade.on_upgrade(move |socket| relay(socket, receiver, stopping)))
}

/// Sends events down `socket` until the server stops or the peer goes.
async fn relay(
    mut socket: WebSocket,
    mut receiver: tokio::sync::broadcast::Receiver<LiveEvent>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            next = next(&mut receiver, &mut stopping) => {
                let text = match next {
                    Some(Ok(event)) => serde_json::to_string(&event).unwrap_or_default(),
                    Some(Err(missed)) => format!(r#"{{"type":"lagged","missed":{missed}}}"#),
                    None => {
                        let close = axum::extract::ws::CloseFrame {
                            code: axum::extract::ws::close_code::AWAY,
                            reason: "the server is stopping".into(),
                        };
                        let _ = socket.send(Message::Close(Some(close))).await;
                        return;
                    }
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // Pings are answered by the protocol layer; anything the
                // client sends is otherwise ignored.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
