//! Outbound legs: the INVITEs the switch sends for a call (to a phone or
//! the trunk, answering the trunk's challenges), their responses, and
//! the bridge once the called party answers.

use super::*;

impl Switch {
    /// Where a trunk call goes: `sip:NUMBER@DOMAIN` at the trunk's address.
    pub(super) fn trunk_target(&self, number: &str) -> Option<Target> {
        let trunk = self.trunk.as_ref()?;
        let domain = trunk
            .domain
            .clone()
            .unwrap_or_else(|| match trunk.address.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            });
        let request_uri = parse_uri(&format!("sip:{number}@{domain}")).ok()?;
        let transport = trunk.transport;
        Some(Target {
            request_uri,
            to: format!("<sip:{number}@{domain}>"),
            destination: Peer {
                transport,
                address: trunk.address,
            },
            through_trunk: true,
        })
    }

    /// Gives up on call `call_id`'s leg `leg` if it has not answered by
    /// `at`.
    pub(super) fn ring_out(&mut self, call_id: &str, leg: LegId, at: Instant) {
        self.cx.timers.set(ring_out_timer(call_id, leg), at);
    }

    /// Sends an outbound leg's INVITE to `target` from `caller`, offering
    /// our media with `first_codec` (the caller's) first; [`Switch::ring_out`]
    /// says how long it may ring.
    pub(super) fn originate(
        &mut self,
        now: Instant,
        (caller, first_codec): (&str, Option<Codec>),
        target: Target,
        media: MediaLeg,
        sip: &mut Endpoint,
    ) -> OutboundLeg {
        let mut local_media = self.cx.new_local_media(media.local_port());
        // The caller's codec first: a callee that takes it is relayed to
        // without decoding.
        if let Some(first) = first_codec {
            local_media.codecs = codecs_preferring(first);
        }
        let offer = sdp::offer(&local_media, SdpDirection::SendRecv);
        let mut invite = Request::new(Method::Invite, target.request_uri);
        let tag = sip.new_token();
        let leg_call_id = format!("{}@switchboard", sip.new_token());
        let local = self.cx.local_address;
        let destination = target.destination;
        let through_trunk = target.through_trunk;
        let transport = destination.transport;
        let headers = &mut invite.headers;
        headers.push(Name::FROM, format!("<sip:{caller}@{local}>;tag={tag}"));
        headers.push(Name::TO, target.to);
        headers.push(Name::CALL_ID, leg_call_id);
        headers.push(Name::CSEQ, "1 INVITE");
        headers.push(
            Name::CONTACT,
            dialog::our_contact("switchboard", local, transport),
        );
        headers.push(Name::ALLOW, Method::ALLOWED);
        headers.push(Name::CONTENT_TYPE, "application/sdp");
        invite.body = Bytes::from(offer.to_bytes());
        let client_key = sip.send_request(now, invite.clone(), destination);
        let leg = self.cx.legs.next_id();
        Leg {
            id: leg,
            role: LegRole::Callee,
            state: SipState::Calling,
            invite,
            dialog: None,
            media,
            local_media,
            holding: false,
            codec: None,
            ua: Uac {
                client_key,
                offer,
                destination,
                sequence: 1,
                challenges_answered: 0,
                through_trunk,
            },
        }
    }

    /// Answers a trunk's 401/407 by sending the INVITE again with
    /// credentials (RFC 3261 §22.2). `false` when there is nothing to
    /// answer with: no credentials, a challenge we cannot parse, or the
    /// same credentials already refused.
    pub(super) fn answer_trunk_challenge(
        &mut self,
        now: Instant,
        call_id: &str,
        response: &Response,
        sip: &mut Endpoint,
    ) -> bool {
        let Some(Trunk {
            username: Some(username),
            password: Some(password),
            ..
        }) = self.trunk.clone()
        else {
            return false;
        };
        let (leg, span) = if let Some(placed) = self.placed.get_mut(call_id) {
            (&mut placed.leg, placed.span.clone())
        } else if let Some(call) = self.calls.get_mut(call_id)
            && matches!(call.route, Route::Trunk(_))
            && let Some(outbound) = callee_mut(&mut call.legs)
        {
            (outbound, call.span.clone())
        } else {
            return false;
        };
        if !leg.ua.through_trunk {
            return false;
        }
        let _entered = span.entered();
        let Some((kind, challenge)) = response_challenge(response) else {
            info!("the trunk's challenge has no digest we can answer");
            return false;
        };
        // A second challenge right after an answer means the credentials
        // were refused, unless the trunk only says our nonce went stale.
        if leg.ua.challenges_answered >= 1 && !challenge.stale {
            info!("the trunk refused our credentials");
            return false;
        }
        if leg.ua.challenges_answered >= 3 {
            return false;
        }
        let uri = leg.invite.uri_text();
        let cnonce = sip.new_token();
        let Ok(credentials) = challenge.answer("INVITE", &uri, &username, &password, 1, &cnonce)
        else {
            return false;
        };
        leg.ua.challenges_answered += 1;
        leg.ua.sequence += 1;
        let mut invite = leg.invite.clone();
        invite.headers.remove(&Name::AUTHORIZATION);
        invite.headers.remove(&Name::PROXY_AUTHORIZATION);
        invite.headers.push(kind.credentials_header(), credentials);
        invite
            .headers
            .set(Name::CSEQ, format!("{} INVITE", leg.ua.sequence));
        invite.headers.remove(&Name::VIA);
        let new_key = sip.send_request(now, invite.clone(), leg.ua.destination);
        let old_key = std::mem::replace(&mut leg.ua.client_key, new_key.clone());
        leg.invite = invite;
        info!(status = response.status, "answered the trunk's challenge");
        self.cx.index.rekey_invite(&old_key, new_key, call_id);
        true
    }

    pub(super) fn handle_response(
        &mut self,
        now: Instant,
        key: ClientKey,
        response: Response,
        sip: &mut Endpoint,
    ) {
        if key.method != Method::Invite {
            return;
        }
        let Some(call_id) = self.cx.index.call_of_invite(&key).cloned() else {
            return;
        };
        if matches!(response.status, 401 | 407)
            && self.answer_trunk_challenge(now, &call_id, &response, sip)
        {
            return;
        }
        if self.placed.contains_key(call_id.as_str()) {
            self.handle_placed_response(now, &key, &call_id, response, sip);
            return;
        }
        let Some(call) = self.calls.get_mut(call_id.as_str()) else {
            return;
        };
        let _entered = call.span.clone().entered();
        let Some((leg, role)) = call.leg_of_invite(&key).map(|leg| (leg.id, leg.role)) else {
            return;
        };
        if role == LegRole::Listener {
            self.listener_response(now, (&key, &call_id, leg), &response, sip);
            return;
        }
        let status = response.status;
        match status {
            100 => {}
            101..=199 => {
                if call.caller.state == SipState::Offering {
                    // Early media would need an early answer: a 183 is
                    // relayed as ringing.
                    ring_caller(sip, now, call, self.cx.local_address);
                }
                if call.caller.state != SipState::Ending {
                    self.cx.effects.publish(CallEvent::CallRinging {
                        call_id: call_id.to_string(),
                        at: wall_at(self.cx.wall_clock, now),
                    });
                }
            }
            200..=299 => self.callee_answered(now, (&key, &call_id), &response, sip),
            _ if call.flow.is_some() => {
                info!(status, "the flow's dial was refused");
                let dial_status = match status {
                    486 | 600 | 603 => ivr::DialStatus::Busy,
                    408 | 480 | 487 => ivr::DialStatus::NoAnswer,
                    _ => ivr::DialStatus::Failed,
                };
                self.end_flow_dial(now, &call_id, dial_status, sip);
            }
            _ => {
                info!(status, "far end refused the call");
                let relayed = match status {
                    408 => 480,
                    486 | 600 => 486,
                    s if (300..700).contains(&s) => s,
                    _ => 480,
                };
                if call.caller.state == SipState::Offering {
                    respond_call(sip, now, call, relayed);
                }
                self.end_call(now, &call_id, Side::Outbound, sip);
            }
        }
    }

    /// A call's called party answered (`response`, a 2xx to INVITE `key`):
    /// ACKed and its media set; then whispered to (a flow's dial), bridged,
    /// or hung up if the caller has left meanwhile.
    fn callee_answered(
        &mut self,
        now: Instant,
        (key, call_id): (&ClientKey, &str),
        response: &Response,
        sip: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(outbound) = callee_mut(&mut call.legs) else {
            return;
        };
        if outbound.is_up() {
            // A retransmission or a second fork: the endpoint re-ACKs.
            return;
        }
        outbound.state = SipState::Up;
        self.cx.timers.cancel(&ring_out_timer(call_id, outbound.id));
        let dialog = Dialog::from_uac(&outbound.invite, response, outbound.ua.destination);
        let Ok(dialog) = dialog else {
            return;
        };
        let ack = dialog.create_ack(outbound.ua.sequence);
        sip.send_ack(key, ack, outbound.ua.destination);
        outbound.dialog = Some(dialog);
        let negotiated = SessionDescription::parse(&response.body)
            .map_err(|e| e.reason().to_string())
            .and_then(|answer| {
                sdp::accept_answer(&outbound.ua.offer, &answer).map_err(|e| e.to_string())
            });
        match negotiated {
            Ok(negotiated) => {
                self.cx.media.set_remote(&outbound.media, &negotiated);
                outbound.codec = Some(negotiated.codec);
            }
            Err(reason) => info!(%reason, "phone answered without usable SDP"),
        }
        if call.caller.state == SipState::Ending {
            // The caller left while the phone answered: hang up the phone.
            self.end_call(now, call_id, Side::Inbound, sip);
            return;
        }
        if let Some(flow) = call.flow.as_mut()
            && flow.whisper_on_answer(
                (&mut *self.cx.media, &outbound.media),
                &*self.cx.audio,
                flow::PromptLookup::new(&self.cx.prompts, &self.cx.uploaded_prompts),
            )
        {
            info!("the dialled party answered: whispering before the bridge");
            return;
        }
        self.bridge_answered(now, call_id, sip);
    }

    /// Bridges a call's caller to its called party, which has answered
    /// (after any whisper): the caller is answered if it still rings, the
    /// call recorded if calls are, and a flow's dial told.
    pub(super) fn bridge_answered(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let _entered = call.span.clone().entered();
        let Some(outbound) = callee_mut(&mut call.legs) else {
            return;
        };
        let mixed = self.cx.mix_bridges || !codecs_relay(call.caller.codec, outbound.codec);
        info!(mixed, "phone answered; bridging");
        if mixed {
            call.bridge_mix = Some(self.cx.media.create_mix(Some(&outbound.media)));
        }
        // Ringback played to an answered caller stops.
        self.cx.media.stop_playback(&call.caller.media);
        connect(
            &mut *self.cx.media,
            call.bridge_mix,
            &call.caller.media,
            &outbound.media,
        );
        call.clock.agent_answered(now);
        call.clock.enter(now, Phase::Talking);
        self.answer_caller(now, call_id, sip);
        self.record_bridged(now, call_id, sip);
        self.cx.effects.publish(CallEvent::CallBridged {
            call_id: call_id.to_string(),
            at: wall_at(self.cx.wall_clock, now),
        });
        self.flow_dial_answered(now, call_id, sip);
    }

    /// Records a call just bridged when calls are recorded; a recording
    /// that spans a transfer takes the new party as its right channel.
    fn record_bridged(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(outbound) = callee(&call.legs) else {
            return;
        };
        match &call.recording_now {
            Some(recording) if recording.stereo => {
                self.cx
                    .media
                    .record_other(&call.caller.media, &outbound.media);
                return;
            }
            Some(_) => return,
            None if !self.cx.record_calls => return,
            None => {}
        }
        let path = self
            .cx
            .recordings_dir
            .join(format!("{}.wav", sip.new_token()));
        let recorded = self.cx.media.record(
            &call.caller.media,
            Some(&outbound.media),
            &path,
            Channels::Stereo,
        );
        if let Err(error) = recorded {
            warn!(%error, "cannot create the recording file");
            return;
        }
        info!(file = %path.display(), "recording the call");
        let file = file_name(&path);
        call.recording_started(&file, true);
        self.cx.effects.publish(CallEvent::RecordingStarted {
            call_id: call_id.to_string(),
            at: wall_at(self.cx.wall_clock, now),
            file,
        });
    }

    pub(super) fn handle_timed_out(&mut self, now: Instant, key: ClientKey, sip: &mut Endpoint) {
        if key.method != Method::Invite {
            return;
        }
        let Some(call_id) = self.cx.index.call_of_invite(&key).cloned() else {
            return;
        };
        if self.placed.contains_key(call_id.as_str()) {
            // No final response at all: nothing to cancel.
            self.end_placed(now, &call_id, 408, HungUpBy::Callee, sip);
            return;
        }
        let listener = self.calls.get(call_id.as_str()).and_then(|call| {
            call.leg_of_invite(&key)
                .filter(|leg| leg.role == LegRole::Listener)
                .map(|leg| leg.id)
        });
        if let Some(leg) = listener {
            self.release_listener(now, &call_id, leg, false, sip);
            return;
        }
        if self.end_flow_dial(now, &call_id, ivr::DialStatus::NoAnswer, sip) {
            return;
        }
        // The INVITE transaction is over: nothing to cancel at the phone.
        self.fail_unanswered(
            now,
            &call_id,
            "phone did not answer the INVITE",
            Side::Outbound,
            sip,
        );
    }

    /// The phone never answered: a caller still waiting gets 480, and the
    /// call ends as if `ended_by` had left.
    pub(super) fn fail_unanswered(
        &mut self,
        now: Instant,
        call_id: &str,
        reason: &'static str,
        ended_by: Side,
        sip: &mut Endpoint,
    ) {
        if let Some(call) = self.calls.get_mut(call_id) {
            let _entered = call.span.clone().entered();
            info!(reason);
            if call.caller.state == SipState::Offering {
                respond_call(sip, now, call, 480);
            }
        }
        self.end_call(now, call_id, ended_by, sip);
    }
}
