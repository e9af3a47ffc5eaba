//! Listeners: a third leg on a call in progress (a supervisor's phone)
//! that hears both parties through the call's mix and is heard by
//! nobody. A listener is called like any leg ([`Switch::add_leg`]); once
//! it answers, the call's two parties are moved into a mix (if they were
//! relayed) and the listener joins it with [`Role::Listen`]. It leaves on
//! its own (BYE, refusal, no answer) without ending the call, and is
//! released with the called party it listens to.

use super::*;

impl Switch {
    /// Calls `to` to listen to call `call_id`, whose called party has
    /// answered.
    pub(super) fn listen(
        &mut self,
        now: Instant,
        call_id: &str,
        to: &Destination,
        sip: &mut Endpoint,
    ) -> Result<(), ControlError> {
        let route = self.resolve(now, to, "/to")?;
        let target = self
            .route_target(now, &route)?
            .ok_or_else(|| ControlError::Conflict("only a phone or a number can listen".into()))?;
        let call = Self::answered_call((&mut self.calls, &self.placed), call_id)?;
        if !call.callee().is_some_and(|leg| leg.is_up()) {
            return Err(ControlError::Conflict(
                "the call has no answered called party to listen to".into(),
            ));
        }
        let _entered = call.span.clone().entered();
        let caller_id = call.caller_id.clone();
        info!(to = route.kind(), "calling a listener");
        let leg = (LegRole::Listener, target, caller_id.as_str());
        self.add_leg_to(now, call_id, leg, RING_TIMEOUT, sip)
            .map(|_| ())
            .map_err(ControlError::from)
    }

    /// A response to listener `leg`'s INVITE: its answer joins it to the
    /// call's mix; a refusal releases it.
    pub(super) fn listener_response(
        &mut self,
        now: Instant,
        (key, call_id, leg): (&ClientKey, &str, LegId),
        response: &Response,
        sip: &mut Endpoint,
    ) {
        match response.status {
            100..=199 => {}
            200..=299 => self.listener_answered((key, call_id, leg), response, sip),
            status => {
                info!(status, "the listener refused");
                self.release_listener(now, call_id, leg, false, sip);
            }
        }
    }

    /// Listener `leg` answered: ACKed, its media set, and joined to the
    /// call's mix as a silent monitor.
    fn listener_answered(
        &mut self,
        (key, call_id, leg): (&ClientKey, &str, LegId),
        response: &Response,
        sip: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(listener) = call.leg_mut(leg).filter(|leg| !leg.is_up()) else {
            return;
        };
        listener.state = SipState::Up;
        self.cx.timers.cancel(&ring_out_timer(call_id, leg));
        let Ok(dialog) = Dialog::from_uac(&listener.invite, response, listener.ua.destination)
        else {
            return;
        };
        sip.send_ack(
            key,
            dialog.create_ack(listener.ua.sequence),
            listener.ua.destination,
        );
        listener.dialog = Some(dialog);
        let answer = SessionDescription::parse(&response.body).map_err(|e| e.reason().to_string());
        match answer.and_then(|answer| {
            sdp::accept_answer(&listener.ua.offer, &answer).map_err(|e| e.to_string())
        }) {
            Ok(negotiated) => {
                self.cx.media.set_remote(&listener.media, &negotiated);
                listener.codec = Some(negotiated.codec);
            }
            Err(reason) => info!(%reason, "the listener answered without usable SDP"),
        }
        let mix = mix_call(call, &mut *self.cx.media);
        let Some(listener) = call.leg_mut(leg) else {
            return;
        };
        if self.cx.media.join(&listener.media, mix, Role::Listen) {
            info!("the listener hears the call");
        }
    }
}

/// The mix joining a call's two parties, made now if they were relayed
/// (both moved into it unless the call is on hold).
fn mix_call(call: &mut Call, media: &mut dyn MediaPort) -> Mix {
    if let Some(mix) = call.bridge_mix {
        return mix;
    }
    let mix = media.create_mix(Some(&call.caller.media));
    call.bridge_mix = Some(mix);
    if let Some(callee) = call.callee().filter(|leg| leg.is_up())
        && !call.caller.holding
        && !callee.holding
    {
        connect(media, Some(mix), &call.caller.media, &callee.media);
    }
    mix
}
