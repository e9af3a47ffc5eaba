//! New requests: registrations, and INVITEs that start calls (admitted,
//! routed, given media, attached to what answers them).

use super::*;

impl Switch {
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        source: Peer,
        sip: &mut Endpoint,
    ) {
        let in_dialog = request.headers.to_tag().is_some();
        match request.method {
            Method::Register => self.handle_register(now, key, request, source, sip),
            Method::Invite if !in_dialog => self.handle_new_invite(now, key, request, source, sip),
            _ if in_dialog => self.handle_in_dialog(now, key, request, sip),
            Method::Options | Method::Message | Method::Info | Method::Notify => {
                // Out of dialog: OPTIONS is answered by the endpoint; the rest
                // have no one to go to.
                respond(sip, now, &key, &request, 404);
            }
            _ => respond(sip, now, &key, &request, 481),
        }
    }

    pub(super) fn handle_register(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        source: Peer,
        sip: &mut Endpoint,
    ) {
        let to_scheme = request
            .headers
            .first(&Name::TO)
            .and_then(|to| NameAddrText::parse(to))
            .and_then(|to| {
                to.uri
                    .split_once(':')
                    .map(|(scheme, _)| scheme.to_ascii_lowercase())
            });
        if !matches!(to_scheme.as_deref(), Some("sip" | "sips")) {
            // An address of record must be a SIP URI (RFC 3261 §10.3 step 3).
            respond(sip, now, &key, &request, 416);
            return;
        }
        let users = &self.users;
        let outcome = self.registrar.handle_register(
            now,
            &request,
            source.address,
            source.transport.as_via_token(),
            |user| users.get(user).cloned(),
        );
        let mut response = outcome.response;
        sip.add_to_tag_if_missing(&mut response);
        sip.respond(now, &key, response);
        while let Some(event) = self.registrar.poll_event() {
            log_registrar_event(&event);
            self.publish_registrar_event(now, &event);
        }
    }

    /// A new INVITE: starts the call, or refuses it; a refused call gets
    /// its record here (a started one when it ends).
    pub(super) fn handle_new_invite(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        source: Peer,
        sip: &mut Endpoint,
    ) {
        let call_id = request.headers.call_id().map(|id| id.to_string());
        let caller_id = caller_id(&request);
        let number_dialed = request.uri_user().unwrap_or_default().to_string();
        if let Some(status) = self.start_call(now, key, request, source, sip)
            && let Ok(call_id) = call_id
        {
            self.cx.effects.publish(CallEvent::CallRefused {
                call_id: call_id.clone(),
                at: wall_at(self.cx.wall_clock, now),
                number_dialed: number_dialed.clone(),
                sip_status: status,
            });
            // Refused before a call existed: all setup, of no length.
            let times = CallClock::new(now, Phase::Setup).times(now);
            self.cx.effects.record(Cdr {
                caller_id,
                number_dialed,
                sip_status: status,
                ..Cdr::timed(call_id, Direction::Inbound, &times, |at| self.cx.wall(at))
            });
        }
    }

    /// Starts a call for a new INVITE; `Some(status)` when it was refused
    /// with `status` before a call existed (`None` also for an INVITE that
    /// is not a new call: no Call-ID, or a second one for a call).
    pub(super) fn start_call(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        source: Peer,
        sip: &mut Endpoint,
    ) -> Option<u16> {
        let Ok(call_id) = request.headers.call_id().map(|id| id.to_string()) else {
            return None;
        };
        if self.shutting_down {
            respond_unavailable(sip, now, &key, &request, "30");
            return Some(503);
        }
        if self.calls.contains_key(call_id.as_str()) {
            // A second INVITE with the same Call-ID but a new branch (a
            // forked or looped request): refuse it, keep the call.
            respond(sip, now, &key, &request, 482);
            return None;
        }
        self.cx.metrics.calls_total.fetch_add(1, Ordering::Relaxed);
        let span = info_span!("call", call_id = %call_id);
        let entered = span.enter();
        let user = request.uri_user().unwrap_or_default().to_string();
        let admitted = match self.routing.admit(&user, self.cx.wall(now).into()) {
            Ok(admitted) => admitted,
            Err(refused) => {
                info!(reason = refused.reason, "call refused");
                debug!(number = %user, "refused number");
                respond(sip, now, &key, &request, refused.status);
                return Some(refused.status);
            }
        };
        let offer = match parse_offer(&request) {
            Ok(offer) => offer,
            Err(mut response) => {
                sip.add_to_tag_if_missing(&mut response);
                sip.respond(now, &key, response);
                return Some(400);
            }
        };
        // Phones must be registered before we spend media on the call.
        let target = match self.route_target(now, &admitted.route) {
            Ok(target) => target,
            Err(refusal) => {
                info!(reason = %refusal.reason, "the route cannot take the call");
                respond(sip, now, &key, &request, refusal.status);
                return Some(refusal.status);
            }
        };
        let route = admitted.route.clone();
        let media = match self.caller_media(offer.as_ref(), &route) {
            Ok(media) => media,
            Err(status) => {
                self.rooms.leave(&mut *self.cx.media, &route, false);
                refuse_media(sip, now, (&key, &request), status);
                return Some(status);
            }
        };
        let leg = self.cx.legs.next_id();
        let inbound = media.offering(leg, (key, request, source), sip.new_token());
        let call = Call::new(
            CallId::from(call_id.as_str()),
            span.clone(),
            route,
            Direction::Inbound,
            (caller_id(&inbound.invite), user),
            inbound,
            CallClock::new(now, Phase::Setup),
        );
        drop(entered);
        self.begin_call(now, call, (admitted.limited_did, target), sip)
    }

    /// The media of a new call's caller for `route`, open, with our
    /// answer to `offer` (or our offer, for an INVITE without one); else
    /// the status to refuse the call with (503: no media; 488: an offer
    /// with nothing we take).
    fn caller_media(
        &mut self,
        offer: Option<&SessionDescription>,
        route: &Route,
    ) -> Result<CallerMedia, u16> {
        let leg = self
            .rooms
            .open_caller_media(&mut *self.cx.media, route)
            .map_err(|error| {
                warn!(%error, "no RTP port free");
                503_u16
            })?;
        let mut local = self.cx.new_local_media(leg.local_port());
        let Some(offer) = offer else {
            local.next_version();
            let ours = sdp::offer(&local, SdpDirection::SendRecv);
            return Ok(CallerMedia {
                answer: Bytes::from(ours.to_bytes()),
                pending_offer: Some(ours),
                codec: None,
                leg,
                local,
            });
        };
        match sdp::answer(offer, &local) {
            Ok(answer) => {
                self.cx.media.set_remote(&leg, &answer.media);
                Ok(CallerMedia {
                    answer: Bytes::from(answer.session_description.to_bytes()),
                    pending_offer: None,
                    codec: Some(answer.media.codec),
                    leg,
                    local,
                })
            }
            Err(error) => {
                info!(%error, "offer has nothing we can use");
                self.cx.media.close(leg);
                Err(488)
            }
        }
    }

    /// Gives a new call to its route (calling `target` for it, if any)
    /// and lists it; `Some(status)` when it was refused.
    fn begin_call(
        &mut self,
        now: Instant,
        mut call: Call,
        (limited_did, target): (Option<Number>, Option<Target>),
        sip: &mut Endpoint,
    ) -> Option<u16> {
        let call_id = call.id.as_str().to_string();
        let attached = match self.attach(now, &mut call, target, sip) {
            Ok(attached) => attached,
            Err(refusal) => {
                let _entered = call.span.clone().entered();
                warn!(reason = %refusal.reason, "the call could not be started");
                self.refuse_before_answer(now, &mut call, refusal.status, sip);
                return Some(refusal.status);
            }
        };
        self.cx.index.add_channel(&call_id, &call.caller.media);
        if let Some(did) = limited_did {
            self.routing.call_started(&did);
            call.limited_did = Some(did);
        }
        self.cx.effects.publish(CallEvent::CallCreated {
            call_id: call_id.clone(),
            at: wall_at(self.cx.wall_clock, now),
            direction: Direction::Inbound,
            caller_id: call.caller_id.clone(),
            number_dialed: call.number_dialed.clone(),
            route: call.route.kind().to_string(),
        });
        self.publish_attached(now, &call_id, &attached);
        self.calls.insert(call.id.clone(), call);
        self.run_flow(now, &call_id, sip);
        None
    }

    /// Where a route's outbound leg goes (a phone's registered contact,
    /// the trunk), checked before media is spent on it; `None` for the
    /// routes the switch answers itself.
    pub(super) fn route_target(
        &self,
        now: Instant,
        route: &Route,
    ) -> Result<Option<Target>, Refusal> {
        match route {
            Route::Phone(extension) if !self.users.contains_key(extension) => {
                // Deleted or deactivated: its old registration rings nothing.
                Err(Refusal::new(
                    404,
                    format!("phone {extension} is not provisioned"),
                ))
            }
            Route::Phone(extension) => {
                match self.registrar.lookup(now, extension).into_iter().next() {
                    Some(binding) => Ok(Some(Target {
                        request_uri: binding.contact.clone(),
                        to: format!("<sip:{extension}@{}>", self.cx.local_address),
                        destination: binding_peer(&binding),
                        through_trunk: false,
                    })),
                    None => Err(Refusal::new(
                        480,
                        format!("phone {extension} is not registered"),
                    )),
                }
            }
            Route::Trunk(number) if !self.routing.has_trunk() => Err(Refusal::new(
                404,
                format!("no trunk is configured to call {number} through"),
            )),
            Route::Trunk(number) => self
                .trunk_target(number)
                .map(Some)
                .ok_or_else(|| Refusal::new(500, "the trunk's domain does not make a SIP URI")),
            _ => Ok(None),
        }
    }

    /// The route an API request's `destination` names; `field` is its
    /// JSON pointer in the request.
    pub(super) fn resolve(
        &self,
        now: Instant,
        destination: &Destination,
        field: &str,
    ) -> Result<Route, Refusal> {
        match destination {
            Destination::Phone(extension) if !self.users.contains_key(extension) => {
                Err(Refusal::at(
                    404,
                    format!("{field}/extension"),
                    format!("there is no phone {extension}"),
                ))
            }
            Destination::Phone(extension) => Ok(Route::Phone(extension.clone())),
            Destination::Number(number) => Ok(Route::Trunk(number.clone())),
            Destination::Did(number) if self.routing.is_inactive(number) => {
                Err(Refusal::new(404, format!("{number} is not in service")))
            }
            Destination::Did(number) => match self.routing.route(number) {
                Some(Route::Did(did)) => Ok(did.route_at(wall_at(self.cx.wall_clock, now).into())),
                Some(route) => Ok(route.clone()),
                None => Err(Refusal::at(
                    404,
                    format!("{field}/number"),
                    format!("there is no DID {number}"),
                )),
            },
        }
    }

    /// Gives a call's caller to its route: the switch answers it itself
    /// (echo, record, a conference, the digit echo) or calls `target` for
    /// it (a phone, the trunk). A caller still offering is answered, with
    /// its stored answer, when the switch answers; one already answered (a
    /// transfer, a call we placed) hears ringback while `target` rings.
    pub(super) fn attach(
        &mut self,
        now: Instant,
        call: &mut Call,
        target: Option<Target>,
        sip: &mut Endpoint,
    ) -> Result<Attached, Refusal> {
        let _entered = call.span.clone().entered();
        let mut attached = Attached::default();
        if let Route::Did(did) = &call.route {
            call.route = did.route_at(self.cx.wall(now).into());
        }
        match call.route.clone() {
            Route::Did(_) => return Err(Refusal::new(500, "a DID's route did not resolve")),
            Route::Flow { flow, time_zone } => {
                self.start_flow(now, call, &flow, time_zone)?;
                // The flow answers when it needs to.
                return Ok(attached);
            }
            Route::Echo | Route::DigitEcho | Route::Record | Route::Conference(_) => {
                attached.recording = apps::start(&mut self.cx, &mut self.rooms, call, sip)?;
            }
            Route::Phone(_) | Route::Trunk(_) => {
                let Some(target) = target else {
                    return Err(Refusal::new(500, "nowhere to send the call"));
                };
                match &call.route {
                    Route::Phone(extension) => info!(extension = %extension, "ringing phone"),
                    _ => info!("calling out through the trunk"),
                }
                let caller_id = call.caller_id.clone();
                self.add_outbound(now, call, (target, &caller_id), RING_TIMEOUT, sip)?;
                // A transfer's new party rings as transfer time.
                if call.clock.phase() != Phase::Transferring {
                    call.clock.enter(now, Phase::Waiting);
                }
                if call.caller.state == SipState::Up {
                    self.cx.media.play(
                        &call.caller.media,
                        Player::single(Playable::Tone(ToneSpec::US_RINGBACK)),
                    );
                }
                // A caller still offering is answered when the far end is.
                return Ok(attached);
            }
        }
        // With the application (echo, conference, recorder) from now.
        call.clock.enter(now, Phase::Talking);
        if call.caller.state == SipState::Offering {
            let body = call.caller.ua.stored_answer.take().unwrap_or_default();
            answer_inbound(sip, now, call, body, &mut *self.cx.media);
            attached.answered = true;
        }
        Ok(attached)
    }

    /// Calls `target` for `call` from `caller_id`: the call's callee,
    /// with its media beside the caller's, given up after `ring_for`.
    pub(super) fn add_outbound(
        &mut self,
        now: Instant,
        call: &mut Call,
        (target, caller_id): (Target, &str),
        ring_for: Duration,
        sip: &mut Endpoint,
    ) -> Result<(), Refusal> {
        let leg = (LegRole::Callee, target, caller_id);
        self.add_leg(now, call, leg, ring_for, sip).map(|_| ())
    }

    /// Calls `target` for `call` (taken out of the calls) from
    /// `caller_id` as a leg with `role`: see [`Switch::new_leg`]. Its id.
    pub(super) fn add_leg(
        &mut self,
        now: Instant,
        call: &mut Call,
        (role, target, caller_id): (LegRole, Target, &str),
        ring_for: Duration,
        sip: &mut Endpoint,
    ) -> Result<LegId, Refusal> {
        let Ok(media) = self.cx.media.open(Near::Leg(&call.caller.media)) else {
            warn!("no RTP port free for the outbound leg");
            return Err(Refusal::new(503, "no RTP port free"));
        };
        let codec = call.caller.codec;
        let leg = (role, target, caller_id, codec, media);
        let leg = self.new_leg(now, &call.id, leg, ring_for, sip);
        let id = leg.id;
        call.legs.push(leg);
        Ok(id)
    }

    /// Calls `target` for call `call_id` from `caller_id` as a leg with
    /// `role`: see [`Switch::new_leg`]. Its id.
    pub(super) fn add_leg_to(
        &mut self,
        now: Instant,
        call_id: &str,
        (role, target, caller_id): (LegRole, Target, &str),
        ring_for: Duration,
        sip: &mut Endpoint,
    ) -> Result<LegId, Refusal> {
        let call = self
            .calls
            .get(call_id)
            .ok_or_else(|| Refusal::new(481, "no such call"))?;
        let Ok(media) = self.cx.media.open(Near::Leg(&call.caller.media)) else {
            warn!("no RTP port free for the outbound leg");
            return Err(Refusal::new(503, "no RTP port free"));
        };
        let (codec, id) = (call.caller.codec, call.id.clone());
        let leg = self.new_leg(
            now,
            &id,
            (role, target, caller_id, codec, media),
            ring_for,
            sip,
        );
        let leg_id = leg.id;
        if let Some(call) = self.calls.get_mut(call_id) {
            call.legs.push(leg);
        }
        Ok(leg_id)
    }

    /// A new leg of call `call_id` with `role`: `target` called from
    /// `caller_id` (offering `codec` first) on `media`, opened beside the
    /// caller's; given up after `ring_for`. The one place a leg is made
    /// and indexed.
    #[allow(
        clippy::type_complexity,
        reason = "what a leg is made of, named where it is used"
    )]
    fn new_leg(
        &mut self,
        now: Instant,
        call_id: &CallId,
        (role, target, caller_id, codec, media): (LegRole, Target, &str, Option<Codec>, MediaLeg),
        ring_for: Duration,
        sip: &mut Endpoint,
    ) -> OutboundLeg {
        let mut leg = self.originate(now, (caller_id, codec), target, media, sip);
        leg.role = role;
        self.ring_out(call_id, leg.id, now + ring_for);
        self.cx.index.add_outbound(call_id, &leg);
        leg
    }

    /// Answers call `call_id`'s caller with its stored answer if it still
    /// rings, and tells the live events.
    pub(super) fn answer_caller(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        if call.caller.state != SipState::Offering {
            return;
        }
        let body = call.caller.ua.stored_answer.take().unwrap_or_default();
        answer_inbound(sip, now, call, body, &mut *self.cx.media);
        self.cx.effects.publish(CallEvent::CallAnswered {
            call_id: call_id.to_string(),
            at: wall_at(self.cx.wall_clock, now),
        });
    }

    /// Tells the live events what [`Switch::attach`] did.
    pub(super) fn publish_attached(&mut self, now: Instant, call_id: &str, attached: &Attached) {
        if attached.answered {
            self.cx.effects.publish(CallEvent::CallAnswered {
                call_id: call_id.to_string(),
                at: wall_at(self.cx.wall_clock, now),
            });
        }
        if let Some(file) = &attached.recording {
            self.cx.effects.publish(CallEvent::RecordingStarted {
                call_id: call_id.to_string(),
                at: wall_at(self.cx.wall_clock, now),
                file: file.clone(),
            });
        }
    }

    /// Ends a call that never got further than its INVITE: its media goes
    /// back to the pool and the caller gets `status`.
    pub(super) fn refuse_before_answer(
        &mut self,
        now: Instant,
        call: &mut Call,
        status: u16,
        sip: &mut Endpoint,
    ) {
        let media = std::mem::replace(&mut call.caller.media, MediaLeg::closed());
        self.cx.media.close(media);
        self.rooms.leave(&mut *self.cx.media, &call.route, false);
        if let Some(key) = &call.caller.ua.server_key {
            respond(sip, now, key, &call.caller.invite, status);
        }
    }
}

/// The SDP offer of an INVITE, if it has one; a 400 that says why for an
/// offer that does not parse.
fn parse_offer(request: &Request) -> Result<Option<SessionDescription>, Response> {
    if request.body.is_empty() {
        return Ok(None);
    }
    SessionDescription::parse(&request.body)
        .map(Some)
        .map_err(|error| {
            info!(reason = error.reason(), "unparseable SDP offer");
            Response::to_request(request, 400)
                .with_reason(format!("Malformed SDP: {}", error.reason()))
        })
}

/// A new caller's media: its channel, our SDP, and what we send.
struct CallerMedia {
    leg: MediaLeg,
    local: LocalMedia,
    /// Our answer (or offer) for the 2xx.
    answer: Bytes,
    /// Our offer, for an INVITE without one (the ACK answers it).
    pending_offer: Option<SessionDescription>,
    /// The codec negotiated, when the INVITE had an offer.
    codec: Option<Codec>,
}

impl CallerMedia {
    /// The caller's leg, offering: `stored_answer` is sent when the route
    /// answers (at once, or when the far end does).
    fn offering(
        self,
        id: LegId,
        (key, invite, source): (ServerKey, Request, Peer),
        tag: String,
    ) -> CallerLeg {
        Leg {
            id,
            role: LegRole::Caller,
            state: SipState::Offering,
            invite,
            dialog: None,
            media: self.leg,
            local_media: self.local,
            holding: false,
            codec: self.codec,
            ua: Uas {
                server_key: Some(key),
                source,
                local_tag: tag,
                pending_offer: self.pending_offer,
                stored_answer: Some(self.answer),
            },
        }
    }
}

/// Refuses a new call for its media: 503 (no RTP port, retry in 5 s) or
/// 488 (no usable media in the offer, RFC 3264 §6).
fn refuse_media(
    sip: &mut Endpoint,
    now: Instant,
    (key, request): (&ServerKey, &Request),
    status: u16,
) {
    if status == 503 {
        respond_unavailable(sip, now, key, request, "5");
        return;
    }
    let mut response = Response::to_request(request, status);
    response.headers.push(
        Name::WARNING,
        "304 switchboard \"Media type not available\"",
    );
    sip.add_to_tag_if_missing(&mut response);
    sip.respond(now, key, response);
}
