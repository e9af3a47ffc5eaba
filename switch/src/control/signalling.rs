//! Small SIP and time helpers shared by the controller's modules.

use super::*;

pub(super) fn log_registrar_event(event: &RegistrarEvent) {
    match event {
        RegistrarEvent::RegistrationAdded { user, .. } => info!(%user, "registration added"),
        RegistrarEvent::RegistrationRemoved { user, reason, .. } => {
            info!(%user, ?reason, "registration removed")
        }
        RegistrarEvent::UserLocked { user, .. } => {
            warn!(%user, "user locked out from an address after failed authentications")
        }
    }
}

/// The key of the timer that gives up on call `call_id`'s leg `leg`.
pub(super) fn ring_out_timer(call_id: &str, leg: LegId) -> (CallId, CallTimer) {
    (CallId::from(call_id), CallTimer::RingOut(leg))
}

pub(super) fn binding_peer(binding: &Binding) -> Peer {
    Peer {
        transport: Transport::from_via_token(&binding.transport).unwrap_or(Transport::Udp),
        address: binding.received,
    }
}

pub(super) fn outbound_call_id(invite: &Request) -> String {
    invite
        .headers
        .call_id()
        .map(|id| id.to_string())
        .unwrap_or_default()
}

pub(super) fn set_to_tag(response: &mut Response, tag: &str) {
    if response.headers.to_tag().is_none()
        && let Some(to) = response.headers.first(&Name::TO).cloned()
    {
        response.headers.set(Name::TO, format!("{to};tag={tag}"));
    }
}

pub(super) fn respond(
    sip: &mut Endpoint,
    now: Instant,
    key: &ServerKey,
    request: &Request,
    status: u16,
) {
    let mut response = Response::to_request(request, status);
    sip.add_to_tag_if_missing(&mut response);
    sip.respond(now, key, response);
}

/// The wall-clock time at `at`, from `anchor` (an instant and the wall
/// time then).
pub(super) fn wall_at(anchor: (Instant, SystemTime), at: Instant) -> SystemTime {
    let (instant, wall) = anchor;
    match at.checked_duration_since(instant) {
        Some(elapsed) => wall + elapsed,
        None => wall
            .checked_sub(instant.saturating_duration_since(at))
            .unwrap_or(wall),
    }
}

/// 503 Service Unavailable with `Retry-After: seconds`, to a request that
/// started no call.
pub(super) fn respond_unavailable(
    sip: &mut Endpoint,
    now: Instant,
    key: &ServerKey,
    request: &Request,
    seconds: &str,
) {
    let mut response = Response::to_request(request, 503);
    response.headers.push(Name::RETRY_AFTER, seconds);
    sip.add_to_tag_if_missing(&mut response);
    sip.respond(now, key, response);
}

/// A recording's file name, as the recordings directory holds it.
pub(super) fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The caller as a record names it: the From user, else its display
/// name, else `anonymous`.
pub(super) fn caller_id(request: &Request) -> String {
    request
        .headers
        .from()
        .ok()
        .and_then(|from| sip_core::message::uri_user(&from.uri.uri).map(str::to_string))
        .unwrap_or_else(|| "anonymous".to_string())
}

pub(super) fn respond_call(sip: &mut Endpoint, now: Instant, call: &mut Call, status: u16) {
    if let Some(key) = &call.caller.ua.server_key {
        let mut response = Response::to_request(&call.caller.invite, status);
        set_to_tag(&mut response, &call.caller.ua.local_tag);
        sip.respond(now, key, response);
    }
    call.caller.state = SipState::Ending;
    call.final_status = Some(status);
}

pub(super) fn add_contact_and_body(
    response: &mut Response,
    local: SocketAddr,
    transport: Transport,
    body: Bytes,
) {
    response.headers.push(
        Name::CONTACT,
        dialog::our_contact("switchboard", local, transport),
    );
    response.headers.push(Name::CONTENT_TYPE, "application/sdp");
    response.body = body;
}

/// Sends the caller a 180 Ringing (in the dialog its answer will make).
pub(super) fn ring_caller(sip: &mut Endpoint, now: Instant, call: &Call, local: SocketAddr) {
    let Some(server_key) = &call.caller.ua.server_key else {
        return;
    };
    let mut ringing = Response::to_request(&call.caller.invite, 180);
    set_to_tag(&mut ringing, &call.caller.ua.local_tag);
    ringing.headers.push(
        Name::CONTACT,
        dialog::our_contact("switchboard", local, call.caller.ua.source.transport),
    );
    sip.respond(now, server_key, ringing);
}

/// Sends the 2xx to the caller and creates the inbound dialog.
pub(super) fn answer_inbound(
    sip: &mut Endpoint,
    now: Instant,
    call: &mut Call,
    body: Bytes,
    media: &mut dyn MediaPort,
) {
    let inbound = &mut call.caller;
    let uas = &inbound.ua;
    let Some(key) = &uas.server_key else {
        return;
    };
    let mut response = Response::to_request(&inbound.invite, 200);
    set_to_tag(&mut response, &uas.local_tag);
    response.headers.push(Name::ALLOW, Method::ALLOWED);
    let local = sip.config().local_address;
    add_contact_and_body(&mut response, local, uas.source.transport, body);
    sip.respond(now, key, response);
    inbound.dialog = Dialog::from_uas(&inbound.invite, &uas.local_tag, uas.source).ok();
    inbound.state = SipState::Up;
    call.clock.answered(now);
    call.final_status = Some(200);
    // A timeout that fired while the call rang is forgotten: the no-RTP
    // hang-up counts from the answer.
    media.restart_media_timeout(&inbound.media);
    if let Some(outbound) = call.callee() {
        media.restart_media_timeout(&outbound.media);
    }
}
