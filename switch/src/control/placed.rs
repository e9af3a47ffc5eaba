//! Calls placed through the API: the first party rings, and once it
//! answers it becomes the caller of a call routed where the API said.

use super::*;

impl Switch {
    /// Places a call for the API: `to` is called with the caller ID; when
    /// it answers it becomes the caller of a call routed to `then`.
    pub(super) fn place_call(
        &mut self,
        now: Instant,
        origination: Origination,
        sip: &mut Endpoint,
    ) -> Result<String, ControlError> {
        if self.shutting_down {
            return Err(ControlError::Conflict("the switch is shutting down".into()));
        }
        let to = self.resolve(now, &origination.to, "/to")?;
        let then = self.resolve(now, &origination.then, "/then")?;
        let target = self.route_target(now, &to)?.ok_or_else(|| {
            ControlError::Conflict("only a phone or a number can be called".into())
        })?;
        // What `then` needs is checked now, and again when `to` answers.
        self.route_target(now, &then)?;
        let media = self
            .rooms
            .open_caller_media(&mut *self.cx.media, &then)
            .map_err(|error| {
                warn!(%error, "no RTP port free");
                self.rooms.leave(&mut *self.cx.media, &then, false);
                ControlError::Conflict("no RTP port free".into())
            })?;
        self.cx.metrics.calls_total.fetch_add(1, Ordering::Relaxed);
        let leg = self.originate(now, (&origination.caller_id, None), target, media, sip);
        let call_id = outbound_call_id(&leg.invite);
        self.ring_out(&call_id, leg.id, now + origination.ring_timeout);
        let span = info_span!("call", call_id = %call_id);
        {
            let _entered = span.enter();
            info!(to = to.kind(), then = then.kind(), "placing a call");
            debug!(caller_id = %origination.caller_id, "placed call's caller ID");
        }
        let number_dialed = match &origination.to {
            Destination::Phone(extension) => extension.to_string(),
            Destination::Number(number) | Destination::Did(number) => number.to_string(),
        };
        self.cx.index.add_placed(&call_id, &leg);
        self.cx.effects.publish(CallEvent::CallCreated {
            call_id: call_id.clone(),
            at: wall_at(self.cx.wall_clock, now),
            direction: Direction::Outbound,
            caller_id: origination.caller_id.clone(),
            number_dialed: number_dialed.clone(),
            route: then.kind().to_string(),
        });
        self.placed.insert(
            CallId::from(call_id.as_str()),
            PlacedCall {
                span,
                leg,
                then,
                caller_id: origination.caller_id,
                number_dialed,
                clock: CallClock::new(now, Phase::Waiting),
            },
        );
        Ok(call_id)
    }

    /// A response to a placed call's INVITE: ringing, the answer that
    /// makes it a call, or a refusal that ends it.
    pub(super) fn handle_placed_response(
        &mut self,
        now: Instant,
        key: &ClientKey,
        call_id: &str,
        response: Response,
        sip: &mut Endpoint,
    ) {
        let status = response.status;
        match status {
            100 => {}
            101..=199 => self.cx.effects.publish(CallEvent::CallRinging {
                call_id: call_id.to_string(),
                at: wall_at(self.cx.wall_clock, now),
            }),
            200..=299 => {
                let Some(call) = self.placed_answered(now, (key, call_id), &response, sip) else {
                    return;
                };
                let _entered = call.span.clone().entered();
                self.cx.effects.publish(CallEvent::CallAnswered {
                    call_id: call_id.to_string(),
                    at: wall_at(self.cx.wall_clock, now),
                });
                let mut call = call;
                let attached = self
                    .route_target(now, &call.route)
                    .and_then(|target| self.attach(now, &mut call, target, sip));
                self.calls.insert(call.id.clone(), call);
                match attached {
                    Ok(attached) => {
                        self.publish_attached(now, call_id, &attached);
                        self.run_flow(now, call_id, sip);
                    }
                    Err(refusal) => {
                        warn!(reason = %refusal.reason, "the answered call has nowhere to go");
                        self.end_call(now, call_id, Side::Switch, sip);
                    }
                }
            }
            _ => {
                if let Some(placed) = self.placed.get(call_id) {
                    let _entered = placed.span.clone().entered();
                    info!(status, "the called party refused the call");
                }
                self.end_placed(now, call_id, status, HungUpBy::Callee, sip);
            }
        }
    }

    /// A placed call's first party answered (`response`, a 2xx to INVITE
    /// `key`): ACKed, its media set, and made the caller of a new call
    /// (not yet listed). `None` for an answer that makes no dialog.
    fn placed_answered(
        &mut self,
        now: Instant,
        (key, call_id): (&ClientKey, &str),
        response: &Response,
        sip: &mut Endpoint,
    ) -> Option<Call> {
        let placed = self.placed.get(call_id)?;
        let Ok(dialog) = Dialog::from_uac(&placed.leg.invite, response, placed.leg.ua.destination)
        else {
            let _entered = placed.span.clone().entered();
            warn!("the answer does not make a dialog");
            return None;
        };
        let PlacedCall {
            span,
            mut leg,
            then,
            caller_id,
            number_dialed,
            mut clock,
        } = self.placed.remove(call_id)?;
        let _entered = span.clone().entered();
        sip.send_ack(key, dialog.create_ack(leg.ua.sequence), leg.ua.destination);
        let negotiated = SessionDescription::parse(&response.body)
            .map_err(|e| e.reason().to_string())
            .and_then(|answer| {
                sdp::accept_answer(&leg.ua.offer, &answer).map_err(|e| e.to_string())
            });
        match &negotiated {
            Ok(negotiated) => {
                self.cx.media.set_remote(&leg.media, negotiated);
                leg.codec = Some(negotiated.codec);
            }
            Err(reason) => info!(%reason, "answered without usable SDP"),
        }
        info!("the called party answered");
        self.cx.media.restart_media_timeout(&leg.media);
        self.cx.index.remove_placed_invite(key);
        self.cx.timers.cancel(&ring_out_timer(call_id, leg.id));
        clock.answered(now);
        // The party called first is the call's caller from now; its
        // dialog is up, so nothing is answered on it.
        let inbound = Leg {
            id: leg.id,
            role: LegRole::Caller,
            state: SipState::Up,
            invite: leg.invite,
            dialog: Some(dialog),
            media: leg.media,
            local_media: leg.local_media,
            holding: false,
            codec: leg.codec,
            ua: Uas {
                server_key: None,
                source: leg.ua.destination,
                // Ours is in the dialog; no response is ever sent on it.
                local_tag: String::new(),
                pending_offer: None,
                stored_answer: None,
            },
        };
        let mut call = Call::new(
            CallId::from(call_id),
            span.clone(),
            then,
            Direction::Outbound,
            (caller_id, number_dialed),
            inbound,
            clock,
        );
        call.final_status = Some(response.status);
        Some(call)
    }

    /// Ends a placed call that was never answered: `status` is the final
    /// one it got (487 when we gave up, and CANCEL it).
    pub(super) fn end_placed(
        &mut self,
        now: Instant,
        call_id: &str,
        status: u16,
        hung_up_by: HungUpBy,
        sip: &mut Endpoint,
    ) {
        let Some(placed) = self.placed.remove(call_id) else {
            return;
        };
        let _entered = placed.span.clone().entered();
        if hung_up_by == HungUpBy::System {
            sip.cancel(now, &placed.leg.ua.client_key);
        }
        self.cx
            .index
            .remove_placed_invite(&placed.leg.ua.client_key);
        self.cx
            .timers
            .cancel(&ring_out_timer(call_id, placed.leg.id));
        self.cx.index.remove_channel(&placed.leg.media);
        self.cx.media.close(placed.leg.media);
        self.rooms.leave(&mut *self.cx.media, &placed.then, false);
        info!(status, "placed call ended unanswered");
        self.cx.effects.publish(CallEvent::CallEnded {
            call_id: call_id.to_string(),
            at: wall_at(self.cx.wall_clock, now),
            hung_up_by,
            sip_status: status,
            talk_seconds: 0.0,
        });
        let times = placed.clock.times(now);
        self.cx.effects.record(Cdr {
            caller_id: placed.caller_id,
            number_dialed: placed.number_dialed,
            route: placed.then.kind(),
            hung_up_by,
            sip_status: status,
            ..Cdr::timed(call_id.to_string(), Direction::Outbound, &times, |at| {
                self.cx.wall(at)
            })
        });
    }
}
