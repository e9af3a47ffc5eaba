//! How calls end: every leg released as its state needs, the record
//! made, media closed; and the media events and timers that end calls.

use super::*;

impl Switch {
    /// Ends a call: `ended_by` has already gone; every other leg is
    /// released with BYE, CANCEL or a final response as its state needs.
    pub(super) fn end_call(
        &mut self,
        now: Instant,
        call_id: &str,
        ended_by: Side,
        sip: &mut Endpoint,
    ) {
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        let _entered = call.span.clone().entered();
        flow::leave_flow(&mut self.cx, now, &mut call);
        if let Some(did) = call.limited_did.take() {
            self.routing.call_ended(&did);
        }
        let member = call.caller.state == SipState::Up;
        self.rooms.leave(&mut *self.cx.media, &call.route, member);
        if ended_by != Side::Inbound {
            match call.caller.state {
                SipState::Offering => respond_call(sip, now, &mut call, 480),
                SipState::Up => {
                    if let Some(dialog) = call.caller.dialog.as_mut() {
                        let bye = dialog.create_request(Method::Bye);
                        sip.send_request(now, bye, dialog.destination());
                    }
                }
                // A caller's leg is never calling: a placed call's first
                // party becomes the caller once it answers.
                SipState::Calling | SipState::Ending => {}
            }
        } else if call.caller.state == SipState::Offering {
            // Cancelled by the caller.
            respond_call(sip, now, &mut call, 487);
        }
        call.caller.state = SipState::Ending;
        self.release_outbound(now, &mut call, ended_by != Side::Outbound, sip);
        let hung_up_by = match ended_by {
            Side::Inbound => HungUpBy::Caller,
            Side::Outbound => HungUpBy::Callee,
            Side::Switch => HungUpBy::System,
        };
        self.record_end(now, &mut call, hung_up_by);
        self.cx.index.remove_channel(&call.caller.media);
        // The media worker logs each leg's quality as it closes it.
        let media = std::mem::replace(&mut call.caller.media, MediaLeg::closed());
        self.cx.media.close(media);
    }

    /// The record and the live event of a call that ends now, and its
    /// legs' RTP counted in the metrics.
    fn record_end(&mut self, now: Instant, call: &mut Call, hung_up_by: HungUpBy) {
        let callee_rtp = call.released_callee_rtp;
        let times = call.clock.times(now);
        let duration = now.duration_since(call.clock.started()).as_secs_f64();
        let talk = times.talk.as_secs_f64();
        info!(
            route = call.route.kind(),
            duration_s = format!("{duration:.1}"),
            talk_s = format!("{talk:.1}"),
            "call ended"
        );
        let caller_rtp = self
            .cx
            .media
            .stats(&call.caller.media)
            .map(|stats| LegQuality::from_stats(&stats));
        for quality in [&caller_rtp, &callee_rtp].into_iter().flatten() {
            self.cx
                .metrics
                .rtp_packets_received
                .fetch_add(quality.packets_received, Ordering::Relaxed);
            self.cx
                .metrics
                .rtp_packets_lost
                .fetch_add(quality.packets_lost.max(0) as u64, Ordering::Relaxed);
        }
        let call_id = call.id.as_str().to_string();
        self.cx.effects.publish(CallEvent::CallEnded {
            call_id: call_id.clone(),
            at: wall_at(self.cx.wall_clock, now),
            hung_up_by,
            sip_status: call.final_status.unwrap_or(487),
            talk_seconds: talk,
        });
        self.cx.effects.record(Cdr {
            caller_id: std::mem::take(&mut call.caller_id),
            number_dialed: std::mem::take(&mut call.number_dialed),
            route: call.route.kind(),
            hung_up_by,
            sip_status: call.final_status.unwrap_or(487),
            caller_rtp,
            callee_rtp,
            recordings: std::mem::take(&mut call.recordings),
            ..Cdr::timed(call_id, call.direction, &times, |at| self.cx.wall(at))
        });
    }

    /// Releases the called party of `call` (taken out of the calls):
    /// see [`release_outbound`].
    pub(super) fn release_outbound(
        &mut self,
        now: Instant,
        call: &mut Call,
        signal: bool,
        sip: &mut Endpoint,
    ) {
        let legs = Legs {
            media: &mut *self.cx.media,
            index: &mut self.cx.index,
            timers: &mut self.cx.timers,
        };
        release_outbound(legs, now, call, signal, sip);
    }

    /// Releases the called party of call `call_id`, if it has one: see
    /// [`release_outbound`].
    pub(super) fn release_outbound_of(
        &mut self,
        now: Instant,
        call_id: &str,
        signal: bool,
        sip: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let legs = Legs {
            media: &mut *self.cx.media,
            index: &mut self.cx.index,
            timers: &mut self.cx.timers,
        };
        release_outbound(legs, now, call, signal, sip);
    }

    /// Releases listener `leg` of call `call_id` (it hung up, refused, or
    /// rang out; BYE or CANCEL when `signal`); the call goes on.
    pub(super) fn release_listener(
        &mut self,
        now: Instant,
        call_id: &str,
        leg: LegId,
        signal: bool,
        sip: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(leg) = call.take_leg(leg) else {
            return;
        };
        info!("listener released");
        let timers = (&mut self.cx.index, &mut self.cx.timers);
        release_leg(
            &mut *self.cx.media,
            timers,
            (now, &call.id),
            leg,
            signal,
            sip,
        );
    }

    /// What a media channel reported, for the call it belongs to.
    pub(super) fn handle_media_event(
        &mut self,
        now: Instant,
        event: MediaEvent,
        sip: &mut Endpoint,
    ) {
        let Some(call_id) = self.cx.index.call_of_channel(event.channel).cloned() else {
            return;
        };
        let Some(call) = self.calls.get(call_id.as_str()) else {
            return;
        };
        let _entered = call.span.clone().entered();
        if call.flow.is_some() {
            self.flow_media_event(now, &call_id, &event, sip);
        }
        let Some(call) = self.calls.get(call_id.as_str()) else {
            return;
        };
        match event.kind {
            MediaEventKind::Channel(ChannelEvent::DigitReceived {
                digit,
                duration,
                source,
            }) => {
                let on_caller = call.caller.media.id() == Some(event.channel);
                self.digit_received(now, &call_id, on_caller, (digit, duration, source));
            }
            MediaEventKind::Channel(ChannelEvent::MediaTimeout { .. })
                if call
                    .leg_of_channel(event.channel)
                    .is_some_and(|leg| leg.role == LegRole::Listener) =>
            {
                // A listener that went silent leaves; the call goes on.
                if let Some(leg) = call.leg_of_channel(event.channel).map(|leg| leg.id) {
                    info!("no RTP from the listener: releasing it");
                    self.release_listener(now, &call_id, leg, true, sip);
                }
            }
            MediaEventKind::Channel(ChannelEvent::MediaTimeout { silent_for }) => {
                let answered = call.caller.state == SipState::Up
                    && call.callee().is_none_or(|leg| leg.is_up());
                // A held phone may well send nothing.
                let holding = call.caller.holding || call.callee().is_some_and(|leg| leg.holding);
                if answered && !holding {
                    info!(
                        silent_s = silent_for.as_secs(),
                        "no RTP from a leg: hanging up"
                    );
                    self.end_call(now, &call_id, Side::Switch, sip);
                }
            }
            MediaEventKind::Channel(ChannelEvent::RemoteLatched { address, previous }) => {
                debug!(%address, ?previous, "media latched");
            }
            MediaEventKind::Channel(ChannelEvent::ByeReceived { .. }) => {
                debug!("RTCP BYE received");
            }
            MediaEventKind::Playback { event, tag } => debug!(?event, tag, "playback"),
            MediaEventKind::Speech(speech) => debug!(?speech, "speech"),
        }
    }

    /// A digit pressed on a leg of call `call_id` (its caller's when
    /// `on_caller`): told to the live events, and echoed back and spoken
    /// by the digit echo.
    fn digit_received(
        &mut self,
        now: Instant,
        call_id: &str,
        on_caller: bool,
        (digit, duration, source): (media::dtmf::Digit, Duration, DigitSource),
    ) {
        debug!(%digit, ?source, ms = duration.as_millis(), "digit received");
        self.cx.effects.publish(CallEvent::Dtmf {
            call_id: call_id.to_string(),
            at: wall_at(self.cx.wall_clock, now),
            digit: digit.to_string(),
            duration_ms: duration.as_millis() as u64,
            source: match source {
                DigitSource::Rfc4733 => "rfc4733",
                DigitSource::InBand => "inband",
            }
            .to_string(),
        });
        if let Some(call) = self.calls.get(call_id)
            && on_caller
        {
            apps::digit(&mut self.cx, call, digit, duration);
        }
    }

    /// Carries out what the call timers due by `now` guard.
    pub(super) fn expire_timers(&mut self, now: Instant, sip: &mut Endpoint) {
        while let Some(((call_id, timer), _)) = self.cx.timers.pop_due(now) {
            match timer {
                CallTimer::RingOut(leg) => self.ring_out_expired(now, call_id.as_str(), leg, sip),
                CallTimer::FlowTimeout => self.flow_timeout(now, call_id.as_str(), sip),
            }
        }
    }

    /// Leg `leg` of call `call_id` rang too long.
    pub(super) fn ring_out_expired(
        &mut self,
        now: Instant,
        call_id: &str,
        leg: LegId,
        sip: &mut Endpoint,
    ) {
        if self
            .placed
            .get(call_id)
            .is_some_and(|placed| placed.leg.id == leg)
        {
            self.end_placed(now, call_id, 487, HungUpBy::System, sip);
            return;
        }
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(ringing) = call.leg_mut(leg).filter(|leg| !leg.is_up()) else {
            return;
        };
        if ringing.role == LegRole::Listener {
            info!("the listener did not answer");
            self.release_listener(now, call_id, leg, true, sip);
        } else {
            // Still ringing at the phone: end_call cancels it, and hangs up
            // a caller already answered (a transfer, a placed call).
            self.fail_unanswered(now, call_id, "no answer from the phone", Side::Switch, sip);
        }
    }
}

/// What releasing a leg touches besides its call.
pub(super) struct Legs<'a> {
    media: &'a mut dyn MediaPort,
    index: &'a mut Index,
    timers: &'a mut Deadlines<(CallId, CallTimer)>,
}

/// Releases a call's called party, if it has one, and its listeners
/// with it (they listen to the two parties): BYE once answered, else
/// CANCEL (for the called party only when `signal`: not when it is the
/// one that left), and their media; the called party's quality is kept
/// for the record.
fn release_outbound(
    legs: Legs<'_>,
    now: Instant,
    call: &mut Call,
    signal: bool,
    sip: &mut Endpoint,
) {
    if call.legs.is_empty() {
        return;
    }
    for leg in std::mem::take(&mut call.legs) {
        let callee = leg.role == LegRole::Callee;
        if callee && let Some(stats) = legs.media.stats(&leg.media) {
            call.released_callee_rtp = Some(LegQuality::from_stats(&stats));
        }
        release_leg(
            &mut *legs.media,
            (&mut *legs.index, &mut *legs.timers),
            (now, &call.id),
            leg,
            signal || !callee,
            sip,
        );
    }
    if let Some(mix) = call.bridge_mix.take() {
        legs.media.release_mix(mix);
    }
}

/// Releases one leg of call `call_id`: out of the index and the timers,
/// BYE once answered, else CANCEL (when `signal`), its media closed.
fn release_leg(
    media: &mut dyn MediaPort,
    (index, timers): (&mut Index, &mut Deadlines<(CallId, CallTimer)>),
    (now, call_id): (Instant, &CallId),
    mut leg: OutboundLeg,
    signal: bool,
    sip: &mut Endpoint,
) {
    index.remove_outbound(&leg);
    timers.cancel(&ring_out_timer(call_id.as_str(), leg.id));
    if signal {
        match leg.dialog.as_mut() {
            Some(dialog) => {
                let bye = dialog.create_request(Method::Bye);
                sip.send_request(now, bye, dialog.destination());
            }
            None => {
                sip.cancel(now, &leg.ua.client_key);
            }
        }
    }
    media.close(leg.media);
}
