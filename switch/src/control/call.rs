//! A call and its legs: the caller's leg, and the legs the switch calls
//! for it (the called party, listeners), each with its role and id.

use super::*;

/// A conference room with callers in it.
pub(super) struct Room {
    pub(super) mix: Mix,
    pub(super) members: usize,
}

/// Where a leg's INVITE dialog stands: one state for every leg, the
/// caller's and those the switch calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SipState {
    /// An INVITE received (the caller's), no final response sent yet.
    Offering,
    /// An INVITE sent (a leg the switch calls), no answer received yet.
    Calling,
    /// Answered: the 2xx sent or received.
    Up,
    /// Released; waiting to be dropped.
    Ending,
}

/// What a leg is to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegRole {
    /// The caller: the party whose INVITE made the call, or, for a call
    /// the switch placed, the party it called first. One per call.
    Caller,
    /// The called party the caller talks to (a phone, the trunk, a
    /// flow's dial): at most one per call.
    Callee,
    /// A silent monitor (supervisor listen): hears both parties through
    /// the call's mix, heard by nobody.
    Listener,
}

impl LegRole {
    /// Its name in live calls' snapshots.
    pub(super) fn name(self) -> &'static str {
        match self {
            LegRole::Caller => "caller",
            LegRole::Callee => "callee",
            LegRole::Listener => "listener",
        }
    }
}

/// A leg of a call: one INVITE dialog with one party and its media. `U`
/// is what only one side of a dialog has: [`Uas`] for the caller's leg
/// (the switch answered its INVITE), [`Uac`] for the legs the switch
/// calls.
pub(super) struct Leg<U> {
    /// The leg's id, which its timers name.
    pub(super) id: LegId,
    /// What it is to the call.
    pub(super) role: LegRole,
    /// Where its INVITE dialog stands.
    pub(super) state: SipState,
    /// The INVITE that began it (received or sent).
    pub(super) invite: Request,
    pub(super) dialog: Option<Dialog>,
    pub(super) media: MediaLeg,
    /// Our side of its media (address, port, codecs and `o=` line), for
    /// answering its re-INVITEs.
    pub(super) local_media: LocalMedia,
    /// The party put the call on hold (its last offer does not receive).
    pub(super) holding: bool,
    /// The codec negotiated with the party, once known.
    pub(super) codec: Option<Codec>,
    /// What only this side of the dialog has.
    pub(super) ua: U,
}

/// The caller's leg, whose INVITE the switch answers.
pub(super) type CallerLeg = Leg<Uas>;

/// A leg the switch calls for a call.
pub(super) type OutboundLeg = Leg<Uac>;

/// What the caller's leg has as the switch answers it (RFC 3261's user
/// agent server).
pub(super) struct Uas {
    /// The caller's INVITE transaction; none for a call we placed.
    pub(super) server_key: Option<ServerKey>,
    /// Where the INVITE came from.
    pub(super) source: Peer,
    /// Our To tag in the responses.
    pub(super) local_tag: String,
    /// Our SDP offer in a 200 to an INVITE without SDP (late offer).
    pub(super) pending_offer: Option<SessionDescription>,
    /// Our answer to the caller's offer, held until the call is answered.
    pub(super) stored_answer: Option<Bytes>,
}

/// What a leg the switch calls has (RFC 3261's user agent client).
pub(super) struct Uac {
    /// Its INVITE client transaction.
    pub(super) client_key: ClientKey,
    /// The SDP offer in its INVITE.
    pub(super) offer: SessionDescription,
    /// Where the INVITE goes.
    pub(super) destination: Peer,
    /// The INVITE's CSeq number: 1, then one more for each challenge
    /// answered.
    pub(super) sequence: u32,
    /// Challenges answered so far (a second one in a row for the same
    /// credentials means they are wrong).
    pub(super) challenges_answered: u8,
    /// It goes out through the trunk (whose challenges are answered).
    pub(super) through_trunk: bool,
}

/// A recording in progress.
#[derive(Debug, Clone)]
pub(super) struct ActiveRecording {
    pub(super) file: String,
    /// Stereo, with the other party right: moved to a new party on a
    /// transfer.
    pub(super) stereo: bool,
}

/// What [`Switch::attach`] did, for the live events.
#[derive(Debug, Default)]
pub(super) struct Attached {
    /// The caller was answered.
    pub(super) answered: bool,
    /// A recording began (the record route).
    pub(super) recording: Option<String>,
}

/// A call we placed (the API), while its first party rings.
pub(super) struct PlacedCall {
    pub(super) span: Span,
    pub(super) leg: OutboundLeg,
    /// What the answered party is joined to.
    pub(super) then: Route,
    pub(super) caller_id: String,
    pub(super) number_dialed: String,
    /// Waiting for the first party from the start.
    pub(super) clock: CallClock,
}

pub(super) struct Call {
    /// The call's id (its record's too).
    pub(super) id: CallId,
    pub(super) span: Span,
    pub(super) route: Route,
    pub(super) direction: Direction,
    /// Who called (the From user), as records show it.
    pub(super) caller_id: String,
    /// The number dialled, as records show it.
    pub(super) number_dialed: String,
    /// The caller's leg.
    pub(super) caller: CallerLeg,
    /// The legs the switch called for it, oldest first, each with its
    /// role: at most one callee, any number of listeners.
    pub(super) legs: Vec<OutboundLeg>,
    /// Where the call's time goes, and when it was answered.
    pub(super) clock: CallClock,
    /// The mix joining the two legs, when calls are mixed rather than
    /// relayed.
    pub(super) bridge_mix: Option<Mix>,
    /// The final status the caller got, once it got one.
    pub(super) final_status: Option<u16>,
    /// The files the call was recorded into, oldest first.
    pub(super) recordings: Vec<String>,
    /// The recording in progress.
    pub(super) recording_now: Option<ActiveRecording>,
    /// The quality of a called party's leg released by a transfer.
    pub(super) released_callee_rtp: Option<LegQuality>,
    /// The IVR flow the call runs, while it runs one.
    pub(super) flow: Option<Box<flow::FlowRun>>,
    /// The DID whose calls limit the call counts against.
    pub(super) limited_did: Option<Number>,
}

impl<U> Leg<U> {
    /// Whether it answered.
    pub(super) fn is_up(&self) -> bool {
        self.state == SipState::Up
    }
}

impl Call {
    /// Tells the clock whether the call is on hold: while either
    /// answered party holds.
    pub(super) fn note_hold(&mut self, now: Instant) {
        let on_hold = self
            .callee()
            .is_some_and(|leg| leg.is_up() && (leg.holding || self.caller.holding));
        self.clock.hold(now, on_hold);
    }

    /// The called party's leg, if there is one.
    pub(super) fn callee(&self) -> Option<&OutboundLeg> {
        callee(&self.legs)
    }

    /// Notes that the call is recorded into `file` from now (`stereo`:
    /// the caller left, the other party right): the file is listed with
    /// the call's record.
    pub(super) fn recording_started(&mut self, file: &str, stereo: bool) {
        self.recordings.push(file.to_string());
        self.recording_now = Some(ActiveRecording {
            file: file.to_string(),
            stereo,
        });
    }

    /// Leg `id`, if it is one of the call's.
    pub(super) fn leg_mut(&mut self, id: LegId) -> Option<&mut OutboundLeg> {
        self.legs.iter_mut().find(|leg| leg.id == id)
    }

    /// Takes leg `id` out of the call.
    pub(super) fn take_leg(&mut self, id: LegId) -> Option<OutboundLeg> {
        let index = self.legs.iter().position(|leg| leg.id == id)?;
        Some(self.legs.remove(index))
    }

    /// The leg whose dialog has SIP Call-ID `call_id`.
    pub(super) fn leg_of_dialog(&self, call_id: &str) -> Option<&OutboundLeg> {
        self.legs
            .iter()
            .find(|leg| leg.invite.headers.call_id().is_ok_and(|id| id == call_id))
    }

    /// The leg whose INVITE is client transaction `key`.
    pub(super) fn leg_of_invite(&self, key: &ClientKey) -> Option<&OutboundLeg> {
        self.legs.iter().find(|leg| leg.ua.client_key == *key)
    }

    /// The leg of media channel `channel`.
    pub(super) fn leg_of_channel(&self, channel: ChannelId) -> Option<&OutboundLeg> {
        self.legs.iter().find(|leg| leg.media.id() == Some(channel))
    }

    /// A new call `id` for a caller's leg, timed by `clock`.
    pub(super) fn new(
        id: CallId,
        span: Span,
        route: Route,
        direction: Direction,
        (caller_id, number_dialed): (String, String),
        caller: CallerLeg,
        clock: CallClock,
    ) -> Call {
        Call {
            id,
            span,
            route,
            direction,
            caller_id,
            number_dialed,
            caller,
            legs: Vec::new(),
            clock,
            bridge_mix: None,
            final_status: None,
            recordings: Vec::new(),
            recording_now: None,
            released_callee_rtp: None,
            flow: None,
            limited_did: None,
        }
    }
}

/// The called party's leg among a call's `legs`, if there is one.
pub(super) fn callee(legs: &[OutboundLeg]) -> Option<&OutboundLeg> {
    legs.iter().find(|leg| leg.role == LegRole::Callee)
}

/// The called party's leg among a call's `legs`, to change (borrowing
/// the legs alone, not the whole call).
pub(super) fn callee_mut(legs: &mut [OutboundLeg]) -> Option<&mut OutboundLeg> {
    legs.iter_mut().find(|leg| leg.role == LegRole::Callee)
}
