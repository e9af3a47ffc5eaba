//! What the API asks of calls in progress: transfer, record, play,
//! hang up, the list of calls; and what the switch publishes.

use super::*;

impl Switch {
    /// A call the API may act on: in progress and answered.
    pub(super) fn answered_call<'a>(
        (calls, placed): (&'a mut HashMap<CallId, Call>, &HashMap<CallId, PlacedCall>),
        call_id: &str,
    ) -> Result<&'a mut Call, ControlError> {
        if placed.contains_key(call_id) {
            return Err(ControlError::Conflict(
                "the call is not answered yet".into(),
            ));
        }
        let call = calls
            .get_mut(call_id)
            .filter(|call| call.caller.state != SipState::Ending)
            .ok_or(ControlError::NoSuchCall)?;
        if call.caller.state != SipState::Up {
            return Err(ControlError::Conflict(
                "the call is not answered yet".into(),
            ));
        }
        Ok(call)
    }

    /// Sends a call's caller to `to` (blind transfer). The called party,
    /// if any, is released (BYE, or CANCEL while it rings); an answered
    /// caller hears ringback until the new party answers, and the time
    /// until then is the record's transfer time. A caller still ringing
    /// is simply offered elsewhere.
    pub(super) fn transfer(
        &mut self,
        now: Instant,
        call_id: &str,
        to: &Destination,
        sip: &mut Endpoint,
    ) -> Result<(), ControlError> {
        if self.placed.contains_key(call_id) {
            return Err(ControlError::Conflict(
                "the call is not answered yet".into(),
            ));
        }
        let call = self
            .calls
            .get(call_id)
            .filter(|call| call.caller.state != SipState::Ending)
            .ok_or(ControlError::NoSuchCall)?;
        let route = self.resolve(now, to, "/to")?;
        let target = self.route_target(now, &route)?;
        if let Route::Conference(room) = &route
            && !self
                .rooms
                .can_join(&*self.cx.media, &call.caller.media, room)
        {
            return Err(ControlError::Conflict(
                "the room's media runs on another worker than the call's, so the call cannot join it"
                    .into(),
            ));
        }
        let mut call = self.calls.remove(call_id).ok_or(ControlError::NoSuchCall)?;
        let entered = call.span.clone().entered();
        info!(
            from = call.route.kind(),
            to = route.kind(),
            "transferring the call"
        );
        let answered = call.caller.state == SipState::Up;
        flow::leave_flow(&mut self.cx, now, &mut call);
        self.release_outbound(now, &mut call, true, sip);
        call.note_hold(now);
        self.cx.media.stop_playback(&call.caller.media);
        self.cx.media.isolate(&call.caller.media);
        self.rooms.leave(&mut *self.cx.media, &call.route, answered);
        if answered {
            call.clock.enter(now, Phase::Transferring);
        }
        call.route = route;
        let attached = self.attach(now, &mut call, target, sip);
        drop(entered);
        let kind = call.route.kind();
        self.calls.insert(call.id.clone(), call);
        match attached {
            Ok(attached) => {
                self.cx.effects.publish(CallEvent::CallTransferred {
                    call_id: call_id.to_string(),
                    at: wall_at(self.cx.wall_clock, now),
                    route: kind.to_string(),
                });
                self.publish_attached(now, call_id, &attached);
                self.run_flow(now, call_id, sip);
                Ok(())
            }
            Err(refusal) => {
                warn!(call_id, reason = %refusal.reason, "transfer failed: ending the call");
                self.end_call(now, call_id, Side::Switch, sip);
                Err(refusal.into())
            }
        }
    }

    /// Starts recording an answered call into a new stereo file: the
    /// caller left, the called party right (what the caller is played,
    /// when there is none). It goes on across transfers until stopped or
    /// the call ends, and is listed with the call's record.
    pub(super) fn start_recording(
        &mut self,
        now: Instant,
        call_id: &str,
        sip: &mut Endpoint,
    ) -> Result<String, ControlError> {
        let path = self
            .cx
            .recordings_dir
            .join(format!("{}.wav", sip.new_token()));
        let call = Self::answered_call((&mut self.calls, &self.placed), call_id)?;
        let _entered = call.span.clone().entered();
        if call.callee().is_some_and(|leg| !leg.is_up()) {
            return Err(ControlError::Conflict(
                "the called party has not answered yet".into(),
            ));
        }
        if call.recording_now.is_some() {
            return Err(ControlError::Conflict(
                "the call is being recorded already".into(),
            ));
        }
        let other = call.callee().map(|leg| &leg.media);
        self.cx
            .media
            .record(&call.caller.media, other, &path, Channels::Stereo)
            .map_err(|error| {
                warn!(%error, "cannot create the recording file");
                ControlError::Failed(format!("cannot create the recording file: {error}"))
            })?;
        let file = file_name(&path);
        info!(%file, "recording started through the API");
        call.recording_started(&file, true);
        self.cx.effects.publish(CallEvent::RecordingStarted {
            call_id: call_id.to_string(),
            at: wall_at(self.cx.wall_clock, now),
            file: file.clone(),
        });
        Ok(file)
    }

    /// Stops a call's recording: the file is finished at once, and listed
    /// with the call's record when the call ends.
    pub(super) fn stop_recording(&mut self, call_id: &str) -> Result<(), ControlError> {
        let call = Self::answered_call((&mut self.calls, &self.placed), call_id)?;
        let Some(recording) = call.recording_now.take() else {
            return Err(ControlError::Conflict(
                "the call is not being recorded".into(),
            ));
        };
        let _entered = call.span.clone().entered();
        info!(file = %recording.file, "recording stopped through the API");
        self.cx.media.stop_recording(&call.caller.media);
        Ok(())
    }

    /// Plays a bundled prompt to a call's caller, its called party, or
    /// both; it replaces what they hear until it ends.
    pub(super) fn play(
        &mut self,
        call_id: &str,
        name: &str,
        listeners: Listeners,
    ) -> Result<(), ControlError> {
        let prompt = self
            .cx
            .prompt_named(name)
            .cloned()
            .ok_or_else(|| ControlError::Unknown {
                field: "/prompt".into(),
                reason: format!("there is no prompt {name:?}"),
            })?;
        let call = Self::answered_call((&mut self.calls, &self.placed), call_id)?;
        let _entered = call.span.clone().entered();
        let callee = call.callee().filter(|leg| leg.is_up());
        let legs: Vec<&MediaLeg> = match listeners {
            Listeners::Caller => vec![&call.caller.media],
            Listeners::Callee => vec![
                &callee
                    .ok_or_else(|| {
                        ControlError::Conflict("the call has no answered called party".into())
                    })?
                    .media,
            ],
            Listeners::Both => std::iter::once(&call.caller.media)
                .chain(callee.map(|leg| &leg.media))
                .collect(),
        };
        info!(prompt = name, ?listeners, "playing a prompt into the call");
        for leg in legs {
            self.cx
                .media
                .play(leg, Player::single(Playable::Prompt(prompt.clone())));
        }
        Ok(())
    }

    /// The calls in progress, oldest first: placed calls still ringing
    /// among them.
    pub(super) fn live_calls(&self) -> Vec<CallSnapshot> {
        let mut calls: Vec<(Instant, CallSnapshot)> = self
            .calls
            .iter()
            .map(|(call_id, call)| {
                let mut legs = vec![LegSnapshot {
                    side: LegRole::Caller.name(),
                    codec: call.caller.codec.map(Codec::encoding_name),
                    holding: call.caller.holding,
                    answered: true,
                }];
                legs.extend(call.legs.iter().map(|leg| LegSnapshot {
                    side: leg.role.name(),
                    codec: leg.codec.map(Codec::encoding_name),
                    holding: leg.holding,
                    answered: leg.is_up(),
                }));
                let live = CallSnapshot {
                    call_id: call_id.to_string(),
                    direction: call.direction,
                    route: call.route.kind(),
                    caller_id: call.caller_id.clone(),
                    number_dialed: call.number_dialed.clone(),
                    answered: call.clock.answered_at().is_some(),
                    started_at: self.cx.wall(call.clock.started()),
                    answered_at: call.clock.answered_at().map(|at| self.cx.wall(at)),
                    recording: call.recording_now.is_some(),
                    legs,
                };
                (call.clock.started(), live)
            })
            .chain(self.placed.iter().map(|(call_id, placed)| {
                let live = CallSnapshot {
                    call_id: call_id.to_string(),
                    direction: Direction::Outbound,
                    route: placed.then.kind(),
                    caller_id: placed.caller_id.clone(),
                    number_dialed: placed.number_dialed.clone(),
                    answered: false,
                    started_at: self.cx.wall(placed.clock.started()),
                    answered_at: None,
                    recording: false,
                    legs: vec![LegSnapshot {
                        side: LegRole::Caller.name(),
                        codec: None,
                        holding: false,
                        answered: false,
                    }],
                };
                (placed.clock.started(), live)
            }))
            .collect();
        calls.sort_by_key(|(started, _)| *started);
        calls.into_iter().map(|(_, live)| live).collect()
    }

    /// A registrar event, for the live event stream.
    pub(super) fn publish_registrar_event(&mut self, now: Instant, event: &RegistrarEvent) {
        let at = wall_at(self.cx.wall_clock, now);
        match event {
            RegistrarEvent::RegistrationAdded { user, .. } => {
                self.cx.effects.publish(CallEvent::RegistrationAdded {
                    at,
                    user: user.clone(),
                });
            }
            RegistrarEvent::RegistrationRemoved { user, reason, .. } => {
                self.cx.effects.publish(CallEvent::RegistrationRemoved {
                    at,
                    user: user.clone(),
                    reason: format!("{reason:?}").to_lowercase(),
                });
            }
            RegistrarEvent::UserLocked { .. } => {}
        }
    }

    /// Publishes the gauges and counters `/metrics` shows.
    pub(super) fn publish_metrics(&self, sip: &Endpoint) {
        let metrics = &self.cx.metrics;
        metrics
            .calls_active
            .store(self.calls.len() as i64, Ordering::Relaxed);
        metrics
            .registrations
            .store(self.registrar.bindings_count() as i64, Ordering::Relaxed);
        for (counter, value) in metrics.sip_responses.iter().zip(sip.stats().responses_sent) {
            counter.store(value, Ordering::Relaxed);
        }
    }

    /// Hangs up a call (or a placed call still ringing) for the API;
    /// whether there was one.
    pub(super) fn hang_up(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) -> bool {
        if self.placed.contains_key(call_id) {
            self.end_placed(now, call_id, 487, HungUpBy::System, sip);
            return true;
        }
        let Some(call) = self.calls.get(call_id) else {
            return false;
        };
        let _entered = call.span.clone().entered();
        info!("hung up through the API");
        self.end_call(now, call_id, Side::Switch, sip);
        true
    }
}
