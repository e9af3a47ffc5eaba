//! Requests within a call's dialogs: BYE, re-INVITE and UPDATE (hold,
//! resume, a new address), the ACK of a late offer, and CANCEL.

use super::*;

impl Switch {
    pub(super) fn handle_in_dialog(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        sip: &mut Endpoint,
    ) {
        let Ok(call_id) = request.headers.call_id().map(|id| id.to_string()) else {
            return;
        };
        let (inbound_id, is_outbound) = match self.cx.index.call_of_dialog(&call_id) {
            Some(inbound) => (inbound.clone(), true),
            None => (CallId::from(call_id.as_str()), false),
        };
        let Some(call) = self.calls.get_mut(inbound_id.as_str()) else {
            respond(sip, now, &key, &request, 481);
            return;
        };
        let _entered = call.span.clone().entered();
        // Which leg: the caller's (None), or one the switch called.
        let leg = call
            .leg_of_dialog(&call_id)
            .filter(|_| is_outbound)
            .map(|leg| (leg.id, leg.role));
        let dialog = match leg {
            Some((id, _)) => call.leg_mut(id).and_then(|leg| leg.dialog.as_mut()),
            None if is_outbound => None,
            None => call.caller.dialog.as_mut(),
        };
        let Some(dialog) = dialog else {
            respond(sip, now, &key, &request, 481);
            return;
        };
        if dialog.handle_request(&request).is_err() {
            respond(sip, now, &key, &request, 500);
            return;
        }
        match request.method {
            Method::Bye if matches!(leg, Some((_, LegRole::Listener))) => {
                info!("the listener hung up");
                respond(sip, now, &key, &request, 200);
                if let Some((id, _)) = leg {
                    self.release_listener(now, &inbound_id, id, false, sip);
                }
            }
            Method::Bye => {
                info!(
                    by = if is_outbound { "callee" } else { "caller" },
                    "hang-up"
                );
                respond(sip, now, &key, &request, 200);
                if is_outbound
                    && self.end_flow_dial(now, &inbound_id, ivr::DialStatus::Answered, sip)
                {
                    return;
                }
                self.end_call(
                    now,
                    &inbound_id,
                    if is_outbound {
                        Side::Outbound
                    } else {
                        Side::Inbound
                    },
                    sip,
                );
            }
            Method::Invite => self.handle_reinvite(now, &inbound_id, leg, key, request, sip),
            Method::Update if !request.body.is_empty() => {
                self.handle_reinvite(now, &inbound_id, leg, key, request, sip)
            }
            Method::Info | Method::Update | Method::Message | Method::Notify | Method::Options => {
                respond(sip, now, &key, &request, 200)
            }
            Method::Refer => respond(sip, now, &key, &request, 603),
            _ => respond(sip, now, &key, &request, 405),
        }
    }

    /// A re-INVITE (or UPDATE with SDP) on leg `leg` of a call (the
    /// caller's when `None`): hold, resume or a new address.
    pub(super) fn handle_reinvite(
        &mut self,
        now: Instant,
        call_id: &str,
        leg: Option<(LegId, LegRole)>,
        key: ServerKey,
        request: Request,
        sip: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let (media, local_media, transport, codec) = if let Some((id, _)) = leg {
            let Some(leg) = call.leg_mut(id) else {
                return;
            };
            (
                &leg.media,
                &mut leg.local_media,
                leg.ua.destination.transport,
                leg.codec,
            )
        } else {
            (
                &call.caller.media,
                &mut call.caller.local_media,
                call.caller.ua.source.transport,
                call.caller.codec,
            )
        };
        local_media.next_version();
        if request.body.is_empty() {
            // Offerless re-INVITE: we offer, the ACK answers. The codec in
            // use first, so that a peer taking the first one it has keeps
            // it (and a relayed call stays relayed).
            let ours = our_offer(local_media, codec);
            let mut response = Response::to_request(&request, 200);
            let body = Bytes::from(ours.to_bytes());
            add_contact_and_body(&mut response, self.cx.local_address, transport, body);
            if leg.is_none() {
                call.caller.ua.pending_offer = Some(ours);
            }
            sip.respond(now, &key, response);
            return;
        }
        let offer = match SessionDescription::parse(&request.body) {
            Ok(offer) => offer,
            Err(_) => {
                respond(sip, now, &key, &request, 488);
                return;
            }
        };
        let Ok(answer) = sdp::answer(&offer, local_media) else {
            respond(sip, now, &key, &request, 488);
            return;
        };
        info!(direction = ?answer.media.direction, "session modified");
        self.cx.media.set_remote(media, &answer.media);
        let mut response = Response::to_request(&request, 200);
        add_contact_and_body(
            &mut response,
            self.cx.local_address,
            transport,
            Bytes::from(answer.session_description.to_bytes()),
        );
        sip.respond(now, &key, response);
        // An offer that does not receive from us puts the call on hold.
        let holding = !answer.media.direction.sends();
        // A listener's hold changes nothing for the two parties.
        if let Some((_, LegRole::Listener)) = leg {
            return;
        }
        let callee = leg.is_some();
        self.leg_modified(now, call_id, callee, (holding, answer.media.codec));
    }

    /// A leg of call `call_id` (its called party's when `is_outbound`)
    /// now holds or not, with `codec`: the call is mixed if the codecs no
    /// longer relay, and put on or taken off hold.
    fn leg_modified(
        &mut self,
        now: Instant,
        call_id: &str,
        is_outbound: bool,
        (holding, codec): (bool, Codec),
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let changed = if is_outbound {
            callee_mut(&mut call.legs).is_some_and(|leg| {
                leg.codec = Some(codec);
                std::mem::replace(&mut leg.holding, holding) != holding
            })
        } else {
            call.caller.codec = Some(codec);
            std::mem::replace(&mut call.caller.holding, holding) != holding
        };
        mix_if_codecs_differ(call, &mut *self.cx.media);
        if changed {
            call.note_hold(now);
            apply_hold(call, &self.cx.prompts, &mut *self.cx.media);
        }
    }

    pub(super) fn handle_ack(&mut self, request: Request) {
        let Ok(call_id) = request.headers.call_id().map(|id| id.to_string()) else {
            return;
        };
        let Some(call) = self.calls.get_mut(call_id.as_str()) else {
            return;
        };
        let Some(offer) = call.caller.ua.pending_offer.take() else {
            return;
        };
        if request.body.is_empty() {
            return;
        }
        let _entered = call.span.clone().entered();
        match SessionDescription::parse(&request.body)
            .map_err(|e| e.reason().to_string())
            .and_then(|answer| sdp::accept_answer(&offer, &answer).map_err(|e| e.to_string()))
        {
            Ok(negotiated) => {
                info!("late-offer answer received in ACK");
                self.cx.media.set_remote(&call.caller.media, &negotiated);
                call.caller.codec = Some(negotiated.codec);
                mix_if_codecs_differ(call, &mut *self.cx.media);
            }
            Err(reason) => info!(%reason, "unusable answer in ACK"),
        }
    }

    pub(super) fn handle_cancelled(&mut self, now: Instant, invite: ServerKey, sip: &mut Endpoint) {
        // Calls are keyed by the caller's Call-ID: the cancelled INVITE's.
        let call_id = sip
            .server_request(&invite)
            .and_then(|request| request.headers.call_id().ok())
            .map(|call_id| call_id.to_string())
            .filter(|call_id| {
                self.calls
                    .get(call_id.as_str())
                    .is_some_and(|call| call.caller.ua.server_key.as_ref() == Some(&invite))
            });
        let Some(call_id) = call_id else {
            if let Some(request) = sip.server_request(&invite).cloned() {
                respond(sip, now, &invite, &request, 487);
            }
            return;
        };
        if let Some(call) = self.calls.get(call_id.as_str()) {
            let _entered = call.span.clone().entered();
            info!("caller cancelled");
        }
        self.end_call(now, &call_id, Side::Inbound, sip);
    }
}

/// Our offer from `local`, the codec in use (if any) first.
fn our_offer(local: &mut LocalMedia, codec: Option<Codec>) -> SessionDescription {
    if let Some(current) = codec {
        local.codecs = codecs_preferring(current);
    }
    sdp::offer(local, SdpDirection::SendRecv)
}
