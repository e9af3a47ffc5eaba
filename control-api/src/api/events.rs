//! `/api/v1/events`: the live event stream as Server-Sent Events, one
//! JSON object per event (`event:` is its `type`), from the moment of
//! subscribing; it ends when the server stops.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::auth::{Caller, Role};
use super::error::{ApiError, ErrorBody};

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
            loop {
                if *stopping.borrow() {
                    return None;
                }
                tokio::select! {
                    received = receiver.recv() => {
                        let event = match received {
                            Ok(event) => Event::default()
                                .event(event.kind())
                                .json_data(&event)
                                .unwrap_or_else(|_| Event::default().comment("unserialisable")),
                            Err(RecvError::Lagged(missed)) => {
                                Event::default().event("lagged").data(missed.to_string())
                            }
                            Err(RecvError::Closed) => return None,
                        };
                        return Some((Ok(event), (receiver, stopping)));
                    }
                    changed = stopping.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
