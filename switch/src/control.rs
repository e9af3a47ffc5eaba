//! The call controller: the transaction user that joins sip-core and media.
//!
//! Every call is a B2BUA: an inbound leg (the caller's dialog and media
//! endpoint) and, when the call goes to a phone, an outbound leg with its
//! own dialog and media endpoint. Legs are joined only through media,
//! never by proxying signalling. The controller owns all calls; its
//! driver calls it for each SIP event, media event, command and timeout,
//! so no call state is shared, and what it needs done outside comes out
//! of [`Switch::poll_effect`].

use crate::admission::{Admitted, Routing};
use crate::cdr::{Cdr, Direction, HungUpBy, LegQuality};
use crate::clock::{CallClock, Phase};
use crate::effect::{CallEvent, Effect, Effects, RenderedAudio};
use crate::id::{CallId, LegId, LegIds};
use crate::media_port::{
    ChannelId, Channels, MediaEvent, MediaEventKind, MediaLeg, MediaPort, Mix, Near, OpenError,
};
use crate::metrics::Metrics;
use crate::prompts::Prompts;
use crate::route::Route;
use crate::timer::{CallTimer, Deadlines};
use bytes::Bytes;
use media::channel::{ChannelEvent, DigitSource};
use media::codec::Codec;
use media::mixer::Role;
use media::player::{Playable, Player, ToneSpec};
use media::sdp::{
    self, CodecPreference, Direction as SdpDirection, LocalMedia, SessionDescription, SessionOrigin,
};
use sip_core::auth::{Ha1s, response_challenge};
use sip_core::dialog::{self, Dialog};
use sip_core::endpoint::{Endpoint, Event};
use sip_core::message::{Method, Name, NameAddrText, Request, Response, SipUri, parse_uri};
use sip_core::registrar::{Binding, Registrar, RegistrarEvent};
use sip_core::transaction::{ClientKey, ServerKey};
use sip_core::transport::{Peer, Transport};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
use tracing::{Span, debug, info, info_span, warn};

mod flow;

/// What the API asks of the controller; [`Switch::handle_command`]
/// answers each with a [`Reply`].
#[derive(Debug)]
pub enum Command {
    /// The calls in progress: [`Reply::Calls`].
    Calls,
    /// Hang up a call: both legs are released as the switch ends calls.
    /// [`Reply::Existed`] says whether the call existed.
    Hangup {
        /// The call's id (the caller's Call-ID).
        call_id: String,
    },
    /// Place a call: [`Reply::Placed`] with its id, or why not.
    Originate(Origination),
    /// Send a call's caller somewhere else (blind transfer); the called
    /// party, if any, is released. [`Reply::Done`].
    Transfer {
        /// The call's id.
        call_id: String,
        /// Where the caller goes.
        to: Destination,
    },
    /// Start recording a call (stereo: the caller left, what the caller
    /// hears right): [`Reply::Recording`] with the file's name.
    StartRecording {
        /// The call's id.
        call_id: String,
    },
    /// Stop a call's recording; the file is finished at once.
    /// [`Reply::Done`].
    StopRecording {
        /// The call's id.
        call_id: String,
    },
    /// Play a prompt into a call, to one party or both. [`Reply::Done`].
    Play {
        /// The call's id.
        call_id: String,
        /// The prompt's name.
        prompt: String,
        /// Who hears it.
        listeners: Listeners,
    },
    /// The provisioned directory changed: in force on return.
    /// [`Reply::Applied`].
    Directory(DirectoryChange),
    /// Speech or audio asked for with [`Effect::Say`] or
    /// [`Effect::FetchAudio`] is at hand, or failed. [`Reply::Applied`].
    FlowAudio {
        /// The call's id.
        call_id: String,
        /// The flow's play it is for.
        play: u64,
        /// The prompt, or why there is none.
        prompt: Result<media::player::Prompt, String>,
    },
    /// A flow's webhook ([`Effect::Webhook`]) answered, or failed.
    /// [`Reply::Applied`].
    FlowWebhook {
        /// The call's id.
        call_id: String,
        /// The fetch's id.
        fetch: u64,
        /// The verbs it answered with, checked as a flow.
        flow: Option<ivr::Flow>,
    },
}

/// The controller's answer to a [`Command`].
#[derive(Debug)]
pub enum Reply {
    /// Done; nothing to tell.
    Applied,
    /// The calls in progress, oldest first.
    Calls(Vec<CallSnapshot>),
    /// Whether there was such a call.
    Existed(bool),
    /// The placed call's id.
    Placed(Result<String, ControlError>),
    /// The recording's file name.
    Recording(Result<String, ControlError>),
    /// Whether it was done.
    Done(Result<(), ControlError>),
}

/// Where the API sends a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A provisioned and registered phone, by extension.
    Phone(String),
    /// A number, out through the trunk.
    Number(String),
    /// One of our numbers (a DID, an extension, a demo number): what
    /// answers it takes the call.
    Did(String),
}

/// A call the API places: `to` is called with `caller_id`, and once it
/// answers it is joined to `then`.
#[derive(Debug, Clone)]
pub struct Origination {
    /// Who is called (a phone or a number).
    pub to: Destination,
    /// The caller ID it is shown (the From user).
    pub caller_id: String,
    /// What the answered party is joined to.
    pub then: Destination,
    /// How long `to` may ring.
    pub ring_timeout: Duration,
}

/// Who hears a prompt played into a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listeners {
    /// The caller.
    Caller,
    /// The called party.
    Callee,
    /// Both.
    Both,
}

/// Why the controller did not do what the API asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// No such call is in progress.
    NoSuchCall,
    /// A field of the request names nothing: its JSON pointer and why.
    Unknown {
        /// The field's JSON pointer.
        field: String,
        /// What is missing.
        reason: String,
    },
    /// Not possible in the call's or the switch's present state.
    Conflict(String),
    /// The switch failed at it (a file it could not create).
    Failed(String),
}

/// Why a route cannot take a call: the SIP status a caller gets, and for
/// the API the field that names nothing (else the call's state is at
/// fault) and the reason.
#[derive(Debug)]
struct Refusal {
    status: u16,
    field: Option<String>,
    reason: String,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            field: None,
            reason: reason.into(),
        }
    }

    fn at(status: u16, field: String, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            field: Some(field),
            reason: reason.into(),
        }
    }
}

impl From<Refusal> for ControlError {
    fn from(refusal: Refusal) -> ControlError {
        match refusal.field {
            Some(field) => ControlError::Unknown {
                field,
                reason: refusal.reason,
            },
            None => ControlError::Conflict(refusal.reason),
        }
    }
}

/// A call in progress, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSnapshot {
    /// The call's id (the caller's Call-ID, or ours for a call we placed).
    pub call_id: String,
    /// Inbound (someone called us) or outbound (placed through the API).
    pub direction: Direction,
    /// What handles it: `echo`, `phone`, `trunk`, …
    pub route: &'static str,
    /// The caller (From user).
    pub caller_id: String,
    /// The number dialled.
    pub number_dialed: String,
    /// Whether the caller (for a call we placed, the called party) is
    /// answered.
    pub answered: bool,
    /// When the INVITE arrived.
    pub started_at: SystemTime,
    /// When the caller was answered.
    pub answered_at: Option<SystemTime>,
    /// Whether it is being recorded now.
    pub recording: bool,
    /// Its legs: the caller's, and the called party's if there is one.
    pub legs: Vec<LegSnapshot>,
}

/// One leg of a call in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegSnapshot {
    /// `caller` or `callee` (for a call we placed, the party called
    /// first is the caller).
    pub side: &'static str,
    /// The codec negotiated, once known (`PCMU`, `PCMA`, `G722`, `opus`).
    pub codec: Option<&'static str>,
    /// Whether this party holds the call.
    pub holding: bool,
    /// Whether it answered (a caller who called us counts as answered).
    pub answered: bool,
}

/// The trunk numbers with no route go out through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// Where INVITEs are sent.
    pub address: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// The host part of the Request-URI and To (default: the address' IP).
    pub domain: Option<String>,
    /// Digest username for the trunk's 401/407 challenges.
    pub username: Option<String>,
    /// Digest password.
    pub password: Option<String>,
}

/// A change to the phones the registrar and the routes know.
#[derive(Debug, Clone)]
pub enum DirectoryChange {
    /// A phone that may register and be called, with its HA1s (created,
    /// activated, or its password changed).
    PhoneActive {
        /// Its extension (the SIP user).
        extension: String,
        /// Its digest secrets.
        ha1s: Ha1s,
    },
    /// A phone deleted or deactivated: it can no longer register or be
    /// called, at once.
    PhoneGone {
        /// Its extension.
        extension: String,
    },
    /// A DID that answers with `route` (created, changed or activated).
    DidActive {
        /// The number as dialled.
        number: String,
        /// What answers it.
        route: Route,
    },
    /// A DID of ours that is deactivated: calls to it get 404, and are
    /// not sent out through the trunk.
    DidInactive {
        /// The number.
        number: String,
    },
    /// A DID deleted: no longer ours.
    DidGone {
        /// The number.
        number: String,
    },
    /// A flow's current version (created, or a new version uploaded):
    /// calls that start from now on run it.
    FlowActive {
        /// The flow's id.
        id: i64,
        /// The flow.
        flow: Arc<ivr::Flow>,
    },
    /// A flow deleted.
    FlowGone {
        /// Its id.
        id: i64,
    },
    /// A prompt uploaded (or replaced): flows play it by name.
    PromptActive {
        /// Its name.
        name: String,
        /// The audio.
        prompt: media::player::Prompt,
    },
    /// An uploaded prompt deleted.
    PromptGone {
        /// Its name.
        name: String,
    },
    /// An active agent and the extension it takes calls on: flows dial
    /// it by login.
    AgentActive {
        /// Its login.
        login: String,
        /// Its phone's extension.
        extension: String,
    },
    /// An agent deleted, deactivated or taken off its phone: flows that
    /// dial it find no one.
    AgentGone {
        /// Its login.
        login: String,
    },
    /// The whole directory, read again (another node may have changed
    /// it while this one was not listening): replaces every phone, DID
    /// and flow.
    Replace(Vec<DirectoryChange>),
}

/// How long a digit sent back by [`Route::DigitEcho`] lasts at most (a
/// long press is echoed no longer than this) and at least.
const ECHOED_DIGIT_MAX: Duration = Duration::from_secs(1);
const ECHOED_DIGIT_MIN: Duration = Duration::from_millis(60);

/// A conference room with callers in it.
struct Room {
    mix: Mix,
    members: usize,
}

/// How long an outbound leg may ring before the caller gets a 480.
const RING_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InboundState {
    /// INVITE received, no final response yet.
    Offering,
    /// 2xx sent.
    Answered,
    /// Ended; waiting to be dropped.
    Ended,
}

/// The caller's leg: a caller's INVITE to us, or, for a call we placed,
/// the party we called first once it answered.
struct InboundLeg {
    /// The caller's INVITE transaction; none for a call we placed.
    server_key: Option<ServerKey>,
    invite: Request,
    source: Peer,
    local_tag: String,
    dialog: Option<Dialog>,
    media: MediaLeg,
    local_media: LocalMedia,
    /// Our SDP offer in a 200 to an INVITE without SDP (late offer).
    pending_offer: Option<SessionDescription>,
    /// Our answer to the caller's offer, held until the phone answers.
    stored_answer: Option<Bytes>,
    state: InboundState,
    /// The caller put the call on hold (its last offer does not receive).
    holding: bool,
    /// The codec negotiated with the caller, once known.
    codec: Option<Codec>,
}

struct OutboundLeg {
    client_key: ClientKey,
    invite: Request,
    offer: SessionDescription,
    /// What we offered the callee from (our address, port and `o=` line),
    /// for answering its re-INVITEs.
    local_media: LocalMedia,
    destination: Peer,
    dialog: Option<Dialog>,
    media: MediaLeg,
    answered: bool,
    /// When the far end answered.
    answered_at: Option<Instant>,
    /// The leg's id, which its ring-out timer names.
    id: LegId,
    /// The INVITE's CSeq number: 1, then one more for each challenge
    /// answered.
    sequence: u32,
    /// Challenges answered so far (a second one in a row for the same
    /// credentials means they are wrong).
    challenges_answered: u8,
    /// The callee put the call on hold.
    holding: bool,
    /// The codec negotiated with the callee, once it answered.
    codec: Option<Codec>,
    /// It goes out through the trunk (whose challenges are answered).
    through_trunk: bool,
}

/// A recording in progress.
#[derive(Debug, Clone)]
struct ActiveRecording {
    file: String,
    /// Stereo, with the other party right: moved to a new party on a
    /// transfer.
    stereo: bool,
}

/// What [`Switch::attach`] did, for the live events.
#[derive(Debug, Default)]
struct Attached {
    /// The caller was answered.
    answered: bool,
    /// A recording began (the record route).
    recording: Option<String>,
}

/// A call we placed (the API), while its first party rings.
struct PlacedCall {
    span: Span,
    leg: OutboundLeg,
    /// What the answered party is joined to.
    then: Route,
    caller_id: String,
    number_dialed: String,
    /// Waiting for the first party from the start.
    clock: CallClock,
}

struct Call {
    /// The call's id (its record's too).
    id: CallId,
    span: Span,
    route: Route,
    direction: Direction,
    /// Who called (the From user), as records show it.
    caller_id: String,
    /// The number dialled, as records show it.
    number_dialed: String,
    inbound: InboundLeg,
    outbound: Option<OutboundLeg>,
    /// Where the call's time goes, and when it was answered.
    clock: CallClock,
    /// The mix joining the two legs, when calls are mixed rather than
    /// relayed.
    bridge_mix: Option<Mix>,
    /// The final status the caller got, once it got one.
    final_status: Option<u16>,
    /// The files the call was recorded into, oldest first.
    recordings: Vec<String>,
    /// The recording in progress.
    recording_now: Option<ActiveRecording>,
    /// The quality of a called party's leg released by a transfer.
    released_callee_rtp: Option<LegQuality>,
    /// The IVR flow the call runs, while it runs one.
    flow: Option<Box<flow::FlowRun>>,
    /// The DID whose calls limit the call counts against.
    limited_did: Option<String>,
}

impl Call {
    /// Tells the clock whether the call is on hold: while either
    /// answered party holds.
    fn note_hold(&mut self, now: Instant) {
        let on_hold = self
            .outbound
            .as_ref()
            .is_some_and(|leg| leg.answered && (leg.holding || self.inbound.holding));
        self.clock.hold(now, on_hold);
    }

    /// A new call `id` for a caller's leg, timed by `clock`.
    fn new(
        id: CallId,
        span: Span,
        route: Route,
        direction: Direction,
        (caller_id, number_dialed): (String, String),
        inbound: InboundLeg,
        clock: CallClock,
    ) -> Call {
        Call {
            id,
            span,
            route,
            direction,
            caller_id,
            number_dialed,
            inbound,
            outbound: None,
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

/// What the controller's routes use besides SIP and media.
pub struct Resources {
    /// Where numbers with no route go, if anywhere.
    pub trunk: Option<Trunk>,
    /// Where recordings are written.
    pub recordings_dir: PathBuf,
    /// The prompts and hold music.
    pub prompts: Prompts,
    /// Whether two-party calls are mixed rather than relayed.
    pub mix_bridges: bool,
    /// Whether two-party calls are recorded (stereo: caller left, the
    /// other party right).
    pub record_calls: bool,
    /// The wall-clock time at an instant, to date records by.
    pub wall_clock: (Instant, SystemTime),
    /// What `/metrics` shows.
    pub metrics: Arc<Metrics>,
    /// Speech and fetched audio at hand.
    pub audio: Box<dyn RenderedAudio>,
    /// Where voicemail files are written.
    pub voicemail_dir: PathBuf,
}

/// The call controller.
pub struct Switch {
    /// What numbers answer with, and who is let in.
    routing: Routing,
    registrar: Registrar,
    /// SIP users and their digest HA1s.
    users: HashMap<String, Ha1s>,
    media: Box<dyn MediaPort>,
    media_address: IpAddr,
    local_address: SocketAddr,
    /// Calls by the inbound leg's Call-ID.
    calls: HashMap<String, Call>,
    /// Inbound Call-ID by the outbound leg's Call-ID.
    outbound_calls: HashMap<String, String>,
    /// Client transactions of outbound INVITEs, to their inbound Call-ID
    /// (or a placed call's).
    outbound_invites: HashMap<ClientKey, String>,
    /// Calls placed through the API whose first party has not answered,
    /// by their Call-ID.
    placed: HashMap<String, PlacedCall>,
    origin_counter: u64,
    shutting_down: bool,
    trunk: Option<Trunk>,
    recordings_dir: PathBuf,
    prompts: Prompts,
    mix_bridges: bool,
    record_calls: bool,
    /// Conference rooms with callers, by name.
    rooms: HashMap<String, Room>,
    /// What is to be done outside: records, events, renders, fetches.
    effects: Effects,
    /// The wall-clock time at an instant, to date records by.
    wall_clock: (Instant, SystemTime),
    /// What `/metrics` shows.
    metrics: Arc<Metrics>,
    /// Inbound Call-ID of each media channel's call.
    channel_calls: HashMap<ChannelId, String>,
    /// Flows by id, at their current versions.
    flows: HashMap<i64, Arc<ivr::Flow>>,
    /// Every call timer (ring-outs, flows' deadlines), soonest first.
    timers: Deadlines<(CallId, CallTimer)>,
    /// Ids for new legs.
    legs: LegIds,
    /// Speech and fetched audio at hand.
    audio: Box<dyn RenderedAudio>,
    voicemail_dir: PathBuf,
    /// Prompts uploaded through the API, by name.
    uploaded_prompts: HashMap<String, media::player::Prompt>,
    /// Active agents' extensions, by login.
    agents: HashMap<String, String>,
}

impl Switch {
    /// A controller with this registrar and media, and no phones or
    /// DIDs until the directory is applied ([`Command::Directory`]).
    /// Numbers with no route go to the trunk of `resources` when one is
    /// configured.
    pub fn new(
        registrar: Registrar,
        media: Box<dyn MediaPort>,
        local_address: SocketAddr,
        resources: Resources,
    ) -> Switch {
        let Resources {
            trunk,
            recordings_dir,
            prompts,
            mix_bridges,
            record_calls,
            wall_clock,
            metrics,
            audio,
            voicemail_dir,
        } = resources;
        Switch {
            routing: Routing::new(trunk.is_some()),
            registrar,
            users: HashMap::new(),
            media,
            media_address: local_address.ip(),
            local_address,
            calls: HashMap::new(),
            outbound_calls: HashMap::new(),
            outbound_invites: HashMap::new(),
            placed: HashMap::new(),
            origin_counter: 0,
            shutting_down: false,
            trunk,
            recordings_dir,
            prompts,
            mix_bridges,
            record_calls,
            effects: Effects::default(),
            wall_clock,
            metrics,
            rooms: HashMap::new(),
            channel_calls: HashMap::new(),
            flows: HashMap::new(),
            timers: Deadlines::default(),
            legs: LegIds::default(),
            audio,
            voicemail_dir,
            uploaded_prompts: HashMap::new(),
            agents: HashMap::new(),
        }
    }

    /// A prompt by name: uploaded, else bundled.
    fn prompt_named(&self, name: &str) -> Option<&media::player::Prompt> {
        flow::PromptLookup::new(&self.prompts, &self.uploaded_prompts).named(name)
    }

    fn new_local_media(&mut self, port: u16) -> LocalMedia {
        self.origin_counter += 1;
        LocalMedia::new(
            self.media_address,
            port,
            SessionOrigin::new(self.origin_counter + 1_000_000, 1),
        )
    }

    fn handle_request(
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

    fn handle_register(
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
    fn handle_new_invite(
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
            self.effects.publish(CallEvent::CallRefused {
                call_id: call_id.clone(),
                at: wall_at(self.wall_clock, now),
                number_dialed: number_dialed.clone(),
                sip_status: status,
            });
            // Refused before a call existed: all setup, of no length.
            let times = CallClock::new(now, Phase::Setup).times(now);
            self.effects.record(Cdr {
                caller_id,
                number_dialed,
                sip_status: status,
                ..Cdr::timed(call_id, Direction::Inbound, &times, |at| self.wall(at))
            });
        }
    }

    /// Starts a call for a new INVITE; `Some(status)` when it was refused
    /// with `status` before a call existed (`None` also for an INVITE that
    /// is not a new call: no Call-ID, or a second one for a call).
    fn start_call(
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
        if self.calls.contains_key(&call_id) {
            // A second INVITE with the same Call-ID but a new branch (a
            // forked or looped request): refuse it, keep the call.
            respond(sip, now, &key, &request, 482);
            return None;
        }
        self.metrics.calls_total.fetch_add(1, Ordering::Relaxed);
        let span = info_span!("call", call_id = %call_id);
        let _entered = span.enter();
        let user = request.uri_user().unwrap_or_default().to_string();
        let Admitted { route, limited_did } = match self.routing.admit(&user, self.wall(now).into())
        {
            Ok(admitted) => admitted,
            Err(refused) => {
                info!(reason = refused.reason, "call refused");
                debug!(number = %user, "refused number");
                respond(sip, now, &key, &request, refused.status);
                return Some(refused.status);
            }
        };
        let offer = if request.body.is_empty() {
            None
        } else {
            match SessionDescription::parse(&request.body) {
                Ok(offer) => Some(offer),
                Err(error) => {
                    info!(reason = error.reason(), "unparseable SDP offer");
                    let response = Response::to_request(&request, 400)
                        .with_reason(format!("Malformed SDP: {}", error.reason()));
                    let mut response = response;
                    sip.add_to_tag_if_missing(&mut response);
                    sip.respond(now, &key, response);
                    return Some(400);
                }
            }
        };
        // Phones must be registered before we spend media on the call.
        let target = match self.route_target(now, &route) {
            Ok(target) => target,
            Err(refusal) => {
                info!(reason = %refusal.reason, "the route cannot take the call");
                respond(sip, now, &key, &request, refusal.status);
                return Some(refusal.status);
            }
        };
        let media = match self.open_caller_media(&route) {
            Ok(media) => media,
            Err(error) => {
                warn!(%error, "no RTP port free");
                self.leave_room(&route, false);
                respond_unavailable(sip, now, &key, &request, "5");
                return Some(503);
            }
        };
        let mut local_media = self.new_local_media(media.local_port());
        let answer_body;
        let mut pending_offer = None;
        let mut codec = None;
        if let Some(offer) = &offer {
            match sdp::answer(offer, &local_media) {
                Ok(answer) => {
                    self.media.set_remote(&media, &answer.media);
                    codec = Some(answer.media.codec);
                    answer_body = Bytes::from(answer.session_description.to_bytes());
                }
                Err(error) => {
                    info!(%error, "offer has nothing we can use");
                    self.media.close(media);
                    self.leave_room(&route, false);
                    // Every offer we cannot answer is 488 (RFC 3264 §6).
                    let mut response = Response::to_request(&request, 488);
                    response.headers.push(
                        Name::WARNING,
                        "304 switchboard \"Media type not available\"",
                    );
                    sip.add_to_tag_if_missing(&mut response);
                    sip.respond(now, &key, response);
                    return Some(488);
                }
            }
        } else {
            local_media.next_version();
            let ours = sdp::offer(&local_media, SdpDirection::SendRecv);
            answer_body = Bytes::from(ours.to_bytes());
            pending_offer = Some(ours);
        }
        let local_tag = sip.new_token();
        let names = (caller_id(&request), user.clone());
        let inbound = InboundLeg {
            server_key: Some(key),
            invite: request,
            source,
            local_tag,
            dialog: None,
            media,
            local_media,
            pending_offer,
            // Sent when the route answers: at once, or when the far end does.
            stored_answer: Some(answer_body),
            state: InboundState::Offering,
            holding: false,
            codec,
        };
        let mut call = Call::new(
            CallId::from(call_id.as_str()),
            span.clone(),
            route,
            Direction::Inbound,
            names,
            inbound,
            CallClock::new(now, Phase::Setup),
        );
        drop(_entered);
        let attached = match self.attach(now, &call_id, &mut call, target, sip) {
            Ok(attached) => attached,
            Err(refusal) => {
                let _entered = call.span.clone().entered();
                warn!(reason = %refusal.reason, "the call could not be started");
                self.refuse_before_answer(now, &mut call, refusal.status, sip);
                return Some(refusal.status);
            }
        };
        if let Some(channel) = call.inbound.media.id() {
            self.channel_calls.insert(channel, call_id.clone());
        }
        if let Some(did) = limited_did {
            self.routing.call_started(&did);
            call.limited_did = Some(did);
        }
        self.effects.publish(CallEvent::CallCreated {
            call_id: call_id.clone(),
            at: wall_at(self.wall_clock, now),
            direction: Direction::Inbound,
            caller_id: call.caller_id.clone(),
            number_dialed: user.clone(),
            route: call.route.kind().to_string(),
        });
        self.publish_attached(now, &call_id, &attached);
        self.calls.insert(call_id.clone(), call);
        self.run_flow(now, &call_id, sip);
        None
    }

    /// Opens the media of a caller for `route`: on the worker of its
    /// conference room (made empty if it is new), else anywhere.
    fn open_caller_media(&mut self, route: &Route) -> Result<MediaLeg, OpenError> {
        match route {
            Route::Conference(room) => {
                if !self.rooms.contains_key(room) {
                    let mix = self.media.create_mix(None);
                    self.rooms.insert(room.clone(), Room { mix, members: 0 });
                }
                let mix = self.rooms[room].mix;
                self.media.open(Near::Mix(mix))
            }
            _ => self.media.open(Near::Anywhere),
        }
    }

    /// Where a route's outbound leg goes (a phone's registered contact,
    /// the trunk), checked before media is spent on it; `None` for the
    /// routes the switch answers itself.
    fn route_target(&self, now: Instant, route: &Route) -> Result<Option<Target>, Refusal> {
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
                        to: format!("<sip:{extension}@{}>", self.local_address),
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
    fn resolve(
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
                Some(Route::Did(did)) => Ok(did.route_at(wall_at(self.wall_clock, now).into())),
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
    fn attach(
        &mut self,
        now: Instant,
        call_id: &str,
        call: &mut Call,
        target: Option<Target>,
        sip: &mut Endpoint,
    ) -> Result<Attached, Refusal> {
        let _entered = call.span.clone().entered();
        let mut attached = Attached::default();
        if let Route::Did(did) = &call.route {
            call.route = did.route_at(self.wall(now).into());
        }
        match call.route.clone() {
            Route::Did(_) => return Err(Refusal::new(500, "a DID's route did not resolve")),
            Route::Echo => {
                info!("answering with echo");
                self.media.echo(&call.inbound.media);
            }
            Route::Conference(room_name) => {
                if !self.rooms.contains_key(&room_name) {
                    let mix = self.media.create_mix(Some(&call.inbound.media));
                    self.rooms
                        .insert(room_name.clone(), Room { mix, members: 0 });
                }
                let room = self
                    .rooms
                    .get_mut(&room_name)
                    .expect("the room was just made if it was missing");
                if !self.media.join(&call.inbound.media, room.mix, Role::Normal) {
                    return Err(Refusal::new(
                        409,
                        "the room's media runs on another worker than the call's",
                    ));
                }
                room.members += 1;
                info!(members = room.members, "answering into the conference");
            }
            Route::Flow { flow, time_zone } => {
                self.start_flow(now, call, &flow, time_zone)?;
                // The flow answers when it needs to.
                return Ok(attached);
            }
            Route::DigitEcho => {
                info!("answering with the digit echo");
                self.media.play(
                    &call.inbound.media,
                    Player::single(Playable::Prompt(self.prompts.digit_echo_intro.clone())),
                );
            }
            Route::Record => {
                let path = self.recordings_dir.join(format!("{}.wav", sip.new_token()));
                self.media
                    .record(&call.inbound.media, None, &path, Channels::Mono)
                    .map_err(|error| {
                        warn!(%error, "cannot create the recording file");
                        Refusal::new(500, "cannot create the recording file")
                    })?;
                info!(file = %path.display(), "answering and recording");
                let file = file_name(&path);
                call.recordings.push(file.clone());
                call.recording_now = Some(ActiveRecording {
                    file: file.clone(),
                    stereo: false,
                });
                attached.recording = Some(file);
            }
            Route::Phone(_) | Route::Trunk(_) => {
                let Some(target) = target else {
                    return Err(Refusal::new(500, "nowhere to send the call"));
                };
                let Ok(outbound_media) = self.media.open(Near::Leg(&call.inbound.media)) else {
                    warn!("no RTP port free for the outbound leg");
                    return Err(Refusal::new(503, "no RTP port free"));
                };
                match &call.route {
                    Route::Phone(extension) => info!(extension = %extension, "ringing phone"),
                    _ => info!("calling out through the trunk"),
                }
                let outbound = self.originate(
                    now,
                    (&call.caller_id, call.inbound.codec),
                    target,
                    outbound_media,
                    sip,
                );
                self.ring_out(call_id, outbound.id, now + RING_TIMEOUT);
                if let Some(channel) = outbound.media.id() {
                    self.channel_calls.insert(channel, call_id.to_string());
                }
                self.outbound_calls
                    .insert(outbound_call_id(&outbound.invite), call_id.to_string());
                self.outbound_invites
                    .insert(outbound.client_key.clone(), call_id.to_string());
                call.outbound = Some(outbound);
                // A transfer's new party rings as transfer time.
                if call.clock.phase() != Phase::Transferring {
                    call.clock.enter(now, Phase::Waiting);
                }
                if call.inbound.state == InboundState::Answered {
                    self.media.play(
                        &call.inbound.media,
                        Player::single(Playable::Tone(ToneSpec::US_RINGBACK)),
                    );
                }
                // A caller still offering is answered when the far end is.
                return Ok(attached);
            }
        }
        // With the application (echo, conference, recorder) from now.
        call.clock.enter(now, Phase::Talking);
        if call.inbound.state == InboundState::Offering {
            let body = call.inbound.stored_answer.take().unwrap_or_default();
            answer_inbound(sip, now, call, body, &mut *self.media);
            attached.answered = true;
        }
        Ok(attached)
    }

    /// Tells the live events what [`Switch::attach`] did.
    fn publish_attached(&mut self, now: Instant, call_id: &str, attached: &Attached) {
        if attached.answered {
            self.effects.publish(CallEvent::CallAnswered {
                call_id: call_id.to_string(),
                at: wall_at(self.wall_clock, now),
            });
        }
        if let Some(file) = &attached.recording {
            self.effects.publish(CallEvent::RecordingStarted {
                call_id: call_id.to_string(),
                at: wall_at(self.wall_clock, now),
                file: file.clone(),
            });
        }
    }

    /// Ends a call that never got further than its INVITE: its media goes
    /// back to the pool and the caller gets `status`.
    fn refuse_before_answer(
        &mut self,
        now: Instant,
        call: &mut Call,
        status: u16,
        sip: &mut Endpoint,
    ) {
        let media = std::mem::replace(&mut call.inbound.media, MediaLeg::closed());
        self.media.close(media);
        self.leave_room(&call.route, false);
        if let Some(key) = &call.inbound.server_key {
            respond(sip, now, key, &call.inbound.invite, status);
        }
    }

    /// Where a trunk call goes: `sip:NUMBER@DOMAIN` at the trunk's address.
    fn trunk_target(&self, number: &str) -> Option<Target> {
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
    fn ring_out(&mut self, call_id: &str, leg: LegId, at: Instant) {
        self.timers.set(ring_out_timer(call_id, leg), at);
    }

    /// Sends an outbound leg's INVITE to `target` from `caller`, offering
    /// our media with `first_codec` (the caller's) first; [`Switch::ring_out`]
    /// says how long it may ring.
    fn originate(
        &mut self,
        now: Instant,
        (caller, first_codec): (&str, Option<Codec>),
        target: Target,
        media: MediaLeg,
        sip: &mut Endpoint,
    ) -> OutboundLeg {
        let mut local_media = self.new_local_media(media.local_port());
        // The caller's codec first: a callee that takes it is relayed to
        // without decoding.
        if let Some(first) = first_codec {
            local_media.codecs = codecs_preferring(first);
        }
        let offer = sdp::offer(&local_media, SdpDirection::SendRecv);
        let mut invite = Request::new(Method::Invite, target.request_uri);
        let tag = sip.new_token();
        let leg_call_id = format!("{}@switchboard", sip.new_token());
        let local = self.local_address;
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
        let leg = self.legs.next_id();
        OutboundLeg {
            client_key,
            invite,
            offer,
            local_media,
            destination,
            dialog: None,
            media,
            answered: false,
            answered_at: None,
            id: leg,
            sequence: 1,
            challenges_answered: 0,
            holding: false,
            codec: None,
            through_trunk,
        }
    }

    /// Answers a trunk's 401/407 by sending the INVITE again with
    /// credentials (RFC 3261 §22.2). `false` when there is nothing to
    /// answer with: no credentials, a challenge we cannot parse, or the
    /// same credentials already refused.
    fn answer_trunk_challenge(
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
            && let Some(outbound) = call.outbound.as_mut()
        {
            (outbound, call.span.clone())
        } else {
            return false;
        };
        if !leg.through_trunk {
            return false;
        }
        let _entered = span.entered();
        let Some((kind, challenge)) = response_challenge(response) else {
            info!("the trunk's challenge has no digest we can answer");
            return false;
        };
        // A second challenge right after an answer means the credentials
        // were refused, unless the trunk only says our nonce went stale.
        if leg.challenges_answered >= 1 && !challenge.stale {
            info!("the trunk refused our credentials");
            return false;
        }
        if leg.challenges_answered >= 3 {
            return false;
        }
        let uri = leg.invite.uri_text();
        let cnonce = sip.new_token();
        let Ok(credentials) = challenge.answer("INVITE", &uri, &username, &password, 1, &cnonce)
        else {
            return false;
        };
        leg.challenges_answered += 1;
        leg.sequence += 1;
        let mut invite = leg.invite.clone();
        invite.headers.remove(&Name::AUTHORIZATION);
        invite.headers.remove(&Name::PROXY_AUTHORIZATION);
        invite.headers.push(kind.credentials_header(), credentials);
        invite
            .headers
            .set(Name::CSEQ, format!("{} INVITE", leg.sequence));
        invite.headers.remove(&Name::VIA);
        let new_key = sip.send_request(now, invite.clone(), leg.destination);
        let old_key = std::mem::replace(&mut leg.client_key, new_key.clone());
        leg.invite = invite;
        info!(status = response.status, "answered the trunk's challenge");
        self.outbound_invites.remove(&old_key);
        self.outbound_invites.insert(new_key, call_id.to_string());
        true
    }

    fn handle_in_dialog(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: Request,
        sip: &mut Endpoint,
    ) {
        let Ok(call_id) = request.headers.call_id().map(|id| id.to_string()) else {
            return;
        };
        let (inbound_id, is_outbound) = match self.outbound_calls.get(&call_id) {
            Some(inbound) => (inbound.clone(), true),
            None => (call_id.clone(), false),
        };
        let Some(call) = self.calls.get_mut(&inbound_id) else {
            respond(sip, now, &key, &request, 481);
            return;
        };
        let _entered = call.span.clone().entered();
        let dialog = if is_outbound {
            call.outbound.as_mut().and_then(|leg| leg.dialog.as_mut())
        } else {
            call.inbound.dialog.as_mut()
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
            Method::Invite => {
                self.handle_reinvite(now, &inbound_id, is_outbound, key, request, sip)
            }
            Method::Update if !request.body.is_empty() => {
                self.handle_reinvite(now, &inbound_id, is_outbound, key, request, sip)
            }
            Method::Info | Method::Update | Method::Message | Method::Notify | Method::Options => {
                respond(sip, now, &key, &request, 200)
            }
            Method::Refer => respond(sip, now, &key, &request, 603),
            _ => respond(sip, now, &key, &request, 405),
        }
    }

    /// A re-INVITE (or UPDATE with SDP): hold, resume or a new address.
    fn handle_reinvite(
        &mut self,
        now: Instant,
        call_id: &str,
        is_outbound: bool,
        key: ServerKey,
        request: Request,
        sip: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let (media, local_media, transport, codec) = if is_outbound {
            let Some(leg) = call.outbound.as_mut() else {
                return;
            };
            (
                &leg.media,
                &mut leg.local_media,
                leg.destination.transport,
                leg.codec,
            )
        } else {
            (
                &call.inbound.media,
                &mut call.inbound.local_media,
                call.inbound.source.transport,
                call.inbound.codec,
            )
        };
        local_media.next_version();
        if request.body.is_empty() {
            // Offerless re-INVITE: we offer, the ACK answers. The codec in
            // use first, so that a peer taking the first one it has keeps
            // it (and a relayed call stays relayed).
            if let Some(current) = codec {
                local_media.codecs = codecs_preferring(current);
            }
            let ours = sdp::offer(local_media, SdpDirection::SendRecv);
            let mut response = Response::to_request(&request, 200);
            add_contact_and_body(
                &mut response,
                self.local_address,
                transport,
                Bytes::from(ours.to_bytes()),
            );
            if !is_outbound {
                call.inbound.pending_offer = Some(ours);
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
        match sdp::answer(&offer, local_media) {
            Ok(answer) => {
                info!(direction = ?answer.media.direction, "session modified");
                self.media.set_remote(media, &answer.media);
                let mut response = Response::to_request(&request, 200);
                add_contact_and_body(
                    &mut response,
                    self.local_address,
                    transport,
                    Bytes::from(answer.session_description.to_bytes()),
                );
                sip.respond(now, &key, response);
                // An offer that does not receive from us puts the call on hold.
                let holding = !answer.media.direction.sends();
                let codec = Some(answer.media.codec);
                let changed = if is_outbound {
                    call.outbound.as_mut().is_some_and(|leg| {
                        leg.codec = codec;
                        std::mem::replace(&mut leg.holding, holding) != holding
                    })
                } else {
                    call.inbound.codec = codec;
                    std::mem::replace(&mut call.inbound.holding, holding) != holding
                };
                mix_if_codecs_differ(call, &mut *self.media);
                if changed {
                    call.note_hold(now);
                    apply_hold(call, &self.prompts, &mut *self.media);
                }
            }
            Err(_) => respond(sip, now, &key, &request, 488),
        }
    }

    fn handle_ack(&mut self, request: Request) {
        let Ok(call_id) = request.headers.call_id().map(|id| id.to_string()) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Some(offer) = call.inbound.pending_offer.take() else {
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
                self.media.set_remote(&call.inbound.media, &negotiated);
                call.inbound.codec = Some(negotiated.codec);
                mix_if_codecs_differ(call, &mut *self.media);
            }
            Err(reason) => info!(%reason, "unusable answer in ACK"),
        }
    }

    fn handle_cancelled(&mut self, now: Instant, invite: ServerKey, sip: &mut Endpoint) {
        // Calls are keyed by the caller's Call-ID: the cancelled INVITE's.
        let call_id = sip
            .server_request(&invite)
            .and_then(|request| request.headers.call_id().ok())
            .map(|call_id| call_id.to_string())
            .filter(|call_id| {
                self.calls
                    .get(call_id)
                    .is_some_and(|call| call.inbound.server_key.as_ref() == Some(&invite))
            });
        let Some(call_id) = call_id else {
            if let Some(request) = sip.server_request(&invite).cloned() {
                respond(sip, now, &invite, &request, 487);
            }
            return;
        };
        if let Some(call) = self.calls.get(&call_id) {
            let _entered = call.span.clone().entered();
            info!("caller cancelled");
        }
        self.end_call(now, &call_id, Side::Inbound, sip);
    }

    fn handle_response(
        &mut self,
        now: Instant,
        key: ClientKey,
        response: Response,
        sip: &mut Endpoint,
    ) {
        if key.method != Method::Invite {
            return;
        }
        let Some(call_id) = self.outbound_invites.get(&key).cloned() else {
            return;
        };
        if matches!(response.status, 401 | 407)
            && self.answer_trunk_challenge(now, &call_id, &response, sip)
        {
            return;
        }
        if self.placed.contains_key(&call_id) {
            self.handle_placed_response(now, &key, &call_id, response, sip);
            return;
        }
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let _entered = call.span.clone().entered();
        let Some(outbound) = call.outbound.as_mut() else {
            return;
        };
        let status = response.status;
        match status {
            100 => {}
            101..=199 => {
                if call.inbound.state == InboundState::Offering {
                    // Early media would need an early answer: a 183 is
                    // relayed as ringing.
                    ring_caller(sip, now, call, self.local_address);
                }
                if call.inbound.state != InboundState::Ended {
                    self.effects.publish(CallEvent::CallRinging {
                        call_id: call_id.clone(),
                        at: wall_at(self.wall_clock, now),
                    });
                }
            }
            200..=299 => {
                if outbound.answered {
                    // A retransmission or a second fork: the endpoint re-ACKs.
                    return;
                }
                outbound.answered = true;
                outbound.answered_at = Some(now);
                self.timers.cancel(&ring_out_timer(&call_id, outbound.id));
                let dialog = Dialog::from_uac(&outbound.invite, &response, outbound.destination);
                let Ok(dialog) = dialog else {
                    return;
                };
                let ack = dialog.create_ack(outbound.sequence);
                sip.send_ack(&key, ack, outbound.destination);
                outbound.dialog = Some(dialog);
                let negotiated = SessionDescription::parse(&response.body)
                    .map_err(|e| e.reason().to_string())
                    .and_then(|answer| {
                        sdp::accept_answer(&outbound.offer, &answer).map_err(|e| e.to_string())
                    });
                match negotiated {
                    Ok(negotiated) => {
                        self.media.set_remote(&outbound.media, &negotiated);
                        outbound.codec = Some(negotiated.codec);
                    }
                    Err(reason) => info!(%reason, "phone answered without usable SDP"),
                }
                if call.inbound.state == InboundState::Ended {
                    // The caller left while the phone answered: hang up the phone.
                    self.end_call(now, &call_id, Side::Inbound, sip);
                    return;
                }
                if let Some(flow) = call.flow.as_mut()
                    && flow.whisper_on_answer(
                        (&mut *self.media, &outbound.media),
                        &*self.audio,
                        flow::PromptLookup::new(&self.prompts, &self.uploaded_prompts),
                    )
                {
                    info!("the dialled party answered: whispering before the bridge");
                    return;
                }
                self.bridge_answered(now, &call_id, sip);
            }
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
                if call.inbound.state == InboundState::Offering {
                    respond_call(sip, now, call, relayed);
                }
                self.end_call(now, &call_id, Side::Outbound, sip);
            }
        }
    }

    /// Bridges a call's caller to its called party, which has answered
    /// (after any whisper): the caller is answered if it still rings, the
    /// call recorded if calls are, and a flow's dial told.
    fn bridge_answered(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) {
        let call_id = call_id.to_string();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let _entered = call.span.clone().entered();
        let Some(outbound) = call.outbound.as_mut() else {
            return;
        };
        {
            let mixed = self.mix_bridges || !codecs_relay(call.inbound.codec, outbound.codec);
            info!(mixed, "phone answered; bridging");
            if mixed {
                call.bridge_mix = Some(self.media.create_mix(Some(&outbound.media)));
            }
            // Ringback played to an answered caller stops.
            self.media.stop_playback(&call.inbound.media);
            connect(
                &mut *self.media,
                call.bridge_mix,
                &call.inbound.media,
                &outbound.media,
            );
            call.clock.agent_answered(now);
            call.clock.enter(now, Phase::Talking);
            let mut events = Vec::new();
            match &call.recording_now {
                Some(recording) if recording.stereo => {
                    // A recording that spans a transfer: the new party
                    // is its right channel.
                    self.media
                        .record_other(&call.inbound.media, &outbound.media);
                }
                Some(_) => {}
                None if self.record_calls => {
                    let path = self.recordings_dir.join(format!("{}.wav", sip.new_token()));
                    let recorded = self.media.record(
                        &call.inbound.media,
                        Some(&outbound.media),
                        &path,
                        Channels::Stereo,
                    );
                    match recorded {
                        Ok(()) => {
                            info!(file = %path.display(), "recording the call");
                            let file = file_name(&path);
                            call.recordings.push(file.clone());
                            call.recording_now = Some(ActiveRecording {
                                file: file.clone(),
                                stereo: true,
                            });
                            events.push(CallEvent::RecordingStarted {
                                call_id: call_id.clone(),
                                at: wall_at(self.wall_clock, now),
                                file,
                            });
                        }
                        Err(error) => warn!(%error, "cannot create the recording file"),
                    }
                }
                None => {}
            }
            if call.inbound.state == InboundState::Offering {
                let body = call.inbound.stored_answer.take().unwrap_or_default();
                answer_inbound(sip, now, call, body, &mut *self.media);
                events.insert(
                    0,
                    CallEvent::CallAnswered {
                        call_id: call_id.clone(),
                        at: wall_at(self.wall_clock, now),
                    },
                );
            }
            events.push(CallEvent::CallBridged {
                call_id: call_id.clone(),
                at: wall_at(self.wall_clock, now),
            });
            for event in events {
                self.effects.publish(event);
            }
        }
        self.flow_dial_answered(now, &call_id, sip);
    }

    /// Places a call for the API: `to` is called with the caller ID; when
    /// it answers it becomes the caller of a call routed to `then`.
    fn place_call(
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
        let media = self.open_caller_media(&then).map_err(|error| {
            warn!(%error, "no RTP port free");
            self.leave_room(&then, false);
            ControlError::Conflict("no RTP port free".into())
        })?;
        self.metrics.calls_total.fetch_add(1, Ordering::Relaxed);
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
            Destination::Phone(number) | Destination::Number(number) | Destination::Did(number) => {
                number.clone()
            }
        };
        if let Some(channel) = leg.media.id() {
            self.channel_calls.insert(channel, call_id.clone());
        }
        self.outbound_invites
            .insert(leg.client_key.clone(), call_id.clone());
        self.effects.publish(CallEvent::CallCreated {
            call_id: call_id.clone(),
            at: wall_at(self.wall_clock, now),
            direction: Direction::Outbound,
            caller_id: origination.caller_id.clone(),
            number_dialed: number_dialed.clone(),
            route: then.kind().to_string(),
        });
        self.placed.insert(
            call_id.clone(),
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
    fn handle_placed_response(
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
            101..=199 => self.effects.publish(CallEvent::CallRinging {
                call_id: call_id.to_string(),
                at: wall_at(self.wall_clock, now),
            }),
            200..=299 => {
                let Some(placed) = self.placed.get(call_id) else {
                    return;
                };
                let Ok(dialog) =
                    Dialog::from_uac(&placed.leg.invite, &response, placed.leg.destination)
                else {
                    let _entered = placed.span.clone().entered();
                    warn!("the answer does not make a dialog");
                    return;
                };
                let Some(PlacedCall {
                    span,
                    mut leg,
                    then,
                    caller_id,
                    number_dialed,
                    mut clock,
                }) = self.placed.remove(call_id)
                else {
                    return;
                };
                let _entered = span.clone().entered();
                sip.send_ack(key, dialog.create_ack(leg.sequence), leg.destination);
                let negotiated = SessionDescription::parse(&response.body)
                    .map_err(|e| e.reason().to_string())
                    .and_then(|answer| {
                        sdp::accept_answer(&leg.offer, &answer).map_err(|e| e.to_string())
                    });
                match &negotiated {
                    Ok(negotiated) => {
                        self.media.set_remote(&leg.media, negotiated);
                        leg.codec = Some(negotiated.codec);
                    }
                    Err(reason) => info!(%reason, "answered without usable SDP"),
                }
                info!("the called party answered");
                self.media.restart_media_timeout(&leg.media);
                let inbound = InboundLeg {
                    server_key: None,
                    invite: leg.invite,
                    source: leg.destination,
                    // Ours is in the dialog; no response is ever sent on it.
                    local_tag: String::new(),
                    dialog: Some(dialog),
                    media: leg.media,
                    local_media: leg.local_media,
                    pending_offer: None,
                    stored_answer: None,
                    state: InboundState::Answered,
                    holding: false,
                    codec: leg.codec,
                };
                self.outbound_invites.remove(key);
                self.timers.cancel(&ring_out_timer(call_id, leg.id));
                clock.answered(now);
                let mut call = Call::new(
                    CallId::from(call_id),
                    span.clone(),
                    then,
                    Direction::Outbound,
                    (caller_id, number_dialed),
                    inbound,
                    clock,
                );
                call.final_status = Some(status);
                self.effects.publish(CallEvent::CallAnswered {
                    call_id: call_id.to_string(),
                    at: wall_at(self.wall_clock, now),
                });
                let attached = self
                    .route_target(now, &call.route)
                    .and_then(|target| self.attach(now, call_id, &mut call, target, sip));
                self.calls.insert(call_id.to_string(), call);
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

    /// Ends a placed call that was never answered: `status` is the final
    /// one it got (487 when we gave up, and CANCEL it).
    fn end_placed(
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
            sip.cancel(now, &placed.leg.client_key);
        }
        self.outbound_invites.remove(&placed.leg.client_key);
        self.timers.cancel(&ring_out_timer(call_id, placed.leg.id));
        if let Some(channel) = placed.leg.media.id() {
            self.channel_calls.remove(&channel);
        }
        self.media.close(placed.leg.media);
        self.leave_room(&placed.then, false);
        info!(status, "placed call ended unanswered");
        self.effects.publish(CallEvent::CallEnded {
            call_id: call_id.to_string(),
            at: wall_at(self.wall_clock, now),
            hung_up_by,
            sip_status: status,
            talk_seconds: 0.0,
        });
        let times = placed.clock.times(now);
        self.effects.record(Cdr {
            caller_id: placed.caller_id,
            number_dialed: placed.number_dialed,
            route: placed.then.kind(),
            hung_up_by,
            sip_status: status,
            ..Cdr::timed(call_id.to_string(), Direction::Outbound, &times, |at| {
                self.wall(at)
            })
        });
    }

    fn handle_timed_out(&mut self, now: Instant, key: ClientKey, sip: &mut Endpoint) {
        if key.method != Method::Invite {
            return;
        }
        let Some(call_id) = self.outbound_invites.get(&key).cloned() else {
            return;
        };
        if self.placed.contains_key(&call_id) {
            // No final response at all: nothing to cancel.
            self.end_placed(now, &call_id, 408, HungUpBy::Callee, sip);
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
    fn fail_unanswered(
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
            if call.inbound.state == InboundState::Offering {
                respond_call(sip, now, call, 480);
            }
        }
        self.end_call(now, call_id, ended_by, sip);
    }

    /// Ends a call: `ended_by` has already gone; every other leg is
    /// released with BYE, CANCEL or a final response as its state needs.
    fn end_call(&mut self, now: Instant, call_id: &str, ended_by: Side, sip: &mut Endpoint) {
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        let _entered = call.span.clone().entered();
        self.leave_flow(now, call_id, &mut call);
        if let Some(did) = call.limited_did.take() {
            self.routing.call_ended(&did);
        }
        let member = call.inbound.state == InboundState::Answered;
        self.leave_room(&call.route, member);
        if ended_by != Side::Inbound {
            match call.inbound.state {
                InboundState::Offering => respond_call(sip, now, &mut call, 480),
                InboundState::Answered => {
                    if let Some(dialog) = call.inbound.dialog.as_mut() {
                        let bye = dialog.create_request(Method::Bye);
                        sip.send_request(now, bye, dialog.destination());
                    }
                }
                InboundState::Ended => {}
            }
        } else if call.inbound.state == InboundState::Offering {
            // Cancelled by the caller.
            respond_call(sip, now, &mut call, 487);
        }
        call.inbound.state = InboundState::Ended;
        self.release_outbound(now, &mut call, ended_by != Side::Outbound, sip);
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
        let hung_up_by = match ended_by {
            Side::Inbound => HungUpBy::Caller,
            Side::Outbound => HungUpBy::Callee,
            Side::Switch => HungUpBy::System,
        };
        let caller_rtp = self
            .media
            .stats(&call.inbound.media)
            .map(|stats| LegQuality::from_stats(&stats));
        for quality in [&caller_rtp, &callee_rtp].into_iter().flatten() {
            self.metrics
                .rtp_packets_received
                .fetch_add(quality.packets_received, Ordering::Relaxed);
            self.metrics
                .rtp_packets_lost
                .fetch_add(quality.packets_lost.max(0) as u64, Ordering::Relaxed);
        }
        self.effects.publish(CallEvent::CallEnded {
            call_id: call_id.to_string(),
            at: wall_at(self.wall_clock, now),
            hung_up_by,
            sip_status: call.final_status.unwrap_or(487),
            talk_seconds: talk,
        });
        self.effects.record(Cdr {
            caller_id: std::mem::take(&mut call.caller_id),
            number_dialed: std::mem::take(&mut call.number_dialed),
            route: call.route.kind(),
            hung_up_by,
            sip_status: call.final_status.unwrap_or(487),
            caller_rtp,
            callee_rtp,
            recordings: std::mem::take(&mut call.recordings),
            ..Cdr::timed(call_id.to_string(), call.direction, &times, |at| {
                self.wall(at)
            })
        });
        if let Some(channel) = call.inbound.media.id() {
            self.channel_calls.remove(&channel);
        }
        // The media worker logs each leg's quality as it closes it.
        let media = std::mem::replace(&mut call.inbound.media, MediaLeg::closed());
        self.media.close(media);
    }

    /// Releases a call's called party, if it has one: BYE once answered,
    /// else CANCEL (when `signal`; not when it is the one that left), and
    /// its media; its quality is kept for the record.
    fn release_outbound(
        &mut self,
        now: Instant,
        call: &mut Call,
        signal: bool,
        sip: &mut Endpoint,
    ) {
        let Some(mut outbound) = call.outbound.take() else {
            return;
        };
        if let Some(stats) = self.media.stats(&outbound.media) {
            call.released_callee_rtp = Some(LegQuality::from_stats(&stats));
        }
        self.outbound_invites.remove(&outbound.client_key);
        self.outbound_calls
            .remove(&outbound_call_id(&outbound.invite));
        self.timers
            .cancel(&ring_out_timer(call.id.as_str(), outbound.id));
        if signal {
            match outbound.dialog.as_mut() {
                Some(dialog) => {
                    let bye = dialog.create_request(Method::Bye);
                    sip.send_request(now, bye, dialog.destination());
                }
                None => {
                    sip.cancel(now, &outbound.client_key);
                }
            }
        }
        if let Some(channel) = outbound.media.id() {
            self.channel_calls.remove(&channel);
        }
        if let Some(mix) = call.bridge_mix.take() {
            self.media.release_mix(mix);
        }
        self.media.close(outbound.media);
    }

    /// A caller of a conference `route` left its room (`member`: it had
    /// joined); the last one out closes it. Other routes have no room.
    fn leave_room(&mut self, route: &Route, member: bool) {
        let Route::Conference(room) = route else {
            return;
        };
        if let Some(state) = self.rooms.get_mut(room) {
            if member {
                state.members = state.members.saturating_sub(1);
            }
            if state.members == 0 {
                let mix = state.mix;
                self.rooms.remove(room);
                self.media.release_mix(mix);
            }
        }
    }

    /// What a media channel reported, for the call it belongs to.
    fn handle_media_event(&mut self, now: Instant, event: MediaEvent, sip: &mut Endpoint) {
        let Some(call_id) = self.channel_calls.get(&event.channel).cloned() else {
            return;
        };
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let _entered = call.span.clone().entered();
        if call.flow.is_some() {
            self.flow_media_event(now, &call_id, &event, sip);
        }
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        match event.kind {
            MediaEventKind::Channel(ChannelEvent::DigitReceived {
                digit,
                duration,
                source,
            }) => {
                debug!(%digit, ?source, ms = duration.as_millis(), "digit received");
                self.effects.publish(CallEvent::Dtmf {
                    call_id: call_id.clone(),
                    at: wall_at(self.wall_clock, now),
                    digit: digit.to_string(),
                    duration_ms: duration.as_millis() as u64,
                    source: match source {
                        DigitSource::Rfc4733 => "rfc4733",
                        DigitSource::InBand => "inband",
                    }
                    .to_string(),
                });
                if call.route == Route::DigitEcho && call.inbound.media.id() == Some(event.channel)
                {
                    let leg = &call.inbound.media;
                    let held = duration.clamp(ECHOED_DIGIT_MIN, ECHOED_DIGIT_MAX);
                    self.media.send_digit(leg, digit, held);
                    if let Some(prompt) = self.prompts.digit(digit) {
                        let prompt = Playable::Prompt(prompt.clone());
                        self.media.play(leg, Player::single(prompt));
                    }
                }
            }
            MediaEventKind::Channel(ChannelEvent::MediaTimeout { silent_for }) => {
                let answered = call.inbound.state == InboundState::Answered
                    && call.outbound.as_ref().is_none_or(|leg| leg.answered);
                // A held phone may well send nothing.
                let holding =
                    call.inbound.holding || call.outbound.as_ref().is_some_and(|leg| leg.holding);
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

    /// Carries out what the call timers due by `now` guard.
    fn expire_timers(&mut self, now: Instant, sip: &mut Endpoint) {
        while let Some(((call_id, timer), _)) = self.timers.pop_due(now) {
            match timer {
                CallTimer::RingOut(leg) => self.ring_out_expired(now, call_id.as_str(), leg, sip),
                CallTimer::FlowTimeout => self.flow_timeout(now, call_id.as_str(), sip),
            }
        }
    }

    /// Leg `leg` of call `call_id` rang too long.
    fn ring_out_expired(&mut self, now: Instant, call_id: &str, leg: LegId, sip: &mut Endpoint) {
        if self
            .placed
            .get(call_id)
            .is_some_and(|placed| placed.leg.id == leg)
        {
            self.end_placed(now, call_id, 487, HungUpBy::System, sip);
            return;
        }
        let ringing = self.calls.get(call_id).is_some_and(|call| {
            call.outbound
                .as_ref()
                .is_some_and(|outbound| outbound.id == leg && !outbound.answered)
        });
        if ringing {
            // Still ringing at the phone: end_call cancels it, and hangs up
            // a caller already answered (a transfer, a placed call).
            self.fail_unanswered(now, call_id, "no answer from the phone", Side::Switch, sip);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The caller left (BYE or CANCEL).
    Inbound,
    /// The phone left or failed.
    Outbound,
    /// Neither: the switch ends the call (shutdown), releasing both legs.
    Switch,
}

impl Switch {
    /// A call the API may act on: in progress and answered.
    fn answered_call<'a>(
        (calls, placed): (&'a mut HashMap<String, Call>, &HashMap<String, PlacedCall>),
        call_id: &str,
    ) -> Result<&'a mut Call, ControlError> {
        if placed.contains_key(call_id) {
            return Err(ControlError::Conflict(
                "the call is not answered yet".into(),
            ));
        }
        let call = calls
            .get_mut(call_id)
            .filter(|call| call.inbound.state != InboundState::Ended)
            .ok_or(ControlError::NoSuchCall)?;
        if call.inbound.state != InboundState::Answered {
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
    fn transfer(
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
            .filter(|call| call.inbound.state != InboundState::Ended)
            .ok_or(ControlError::NoSuchCall)?;
        let route = self.resolve(now, to, "/to")?;
        let target = self.route_target(now, &route)?;
        if let Route::Conference(room) = &route
            && let Some(existing) = self.rooms.get(room)
            && !self.media.is_beside(&call.inbound.media, existing.mix)
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
        let answered = call.inbound.state == InboundState::Answered;
        self.leave_flow(now, call_id, &mut call);
        self.release_outbound(now, &mut call, true, sip);
        call.note_hold(now);
        self.media.stop_playback(&call.inbound.media);
        self.media.isolate(&call.inbound.media);
        self.leave_room(&call.route, answered);
        if answered {
            call.clock.enter(now, Phase::Transferring);
        }
        call.route = route;
        let attached = self.attach(now, call_id, &mut call, target, sip);
        drop(entered);
        let kind = call.route.kind();
        self.calls.insert(call_id.to_string(), call);
        match attached {
            Ok(attached) => {
                self.effects.publish(CallEvent::CallTransferred {
                    call_id: call_id.to_string(),
                    at: wall_at(self.wall_clock, now),
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
    fn start_recording(
        &mut self,
        now: Instant,
        call_id: &str,
        sip: &mut Endpoint,
    ) -> Result<String, ControlError> {
        let path = self.recordings_dir.join(format!("{}.wav", sip.new_token()));
        let call = Self::answered_call((&mut self.calls, &self.placed), call_id)?;
        let _entered = call.span.clone().entered();
        if call.outbound.as_ref().is_some_and(|leg| !leg.answered) {
            return Err(ControlError::Conflict(
                "the called party has not answered yet".into(),
            ));
        }
        if call.recording_now.is_some() {
            return Err(ControlError::Conflict(
                "the call is being recorded already".into(),
            ));
        }
        let other = call.outbound.as_ref().map(|leg| &leg.media);
        self.media
            .record(&call.inbound.media, other, &path, Channels::Stereo)
            .map_err(|error| {
                warn!(%error, "cannot create the recording file");
                ControlError::Failed(format!("cannot create the recording file: {error}"))
            })?;
        let file = file_name(&path);
        info!(%file, "recording started through the API");
        call.recordings.push(file.clone());
        call.recording_now = Some(ActiveRecording {
            file: file.clone(),
            stereo: true,
        });
        self.effects.publish(CallEvent::RecordingStarted {
            call_id: call_id.to_string(),
            at: wall_at(self.wall_clock, now),
            file: file.clone(),
        });
        Ok(file)
    }

    /// Stops a call's recording: the file is finished at once, and listed
    /// with the call's record when the call ends.
    fn stop_recording(&mut self, call_id: &str) -> Result<(), ControlError> {
        let call = Self::answered_call((&mut self.calls, &self.placed), call_id)?;
        let Some(recording) = call.recording_now.take() else {
            return Err(ControlError::Conflict(
                "the call is not being recorded".into(),
            ));
        };
        let _entered = call.span.clone().entered();
        info!(file = %recording.file, "recording stopped through the API");
        self.media.stop_recording(&call.inbound.media);
        Ok(())
    }

    /// Plays a bundled prompt to a call's caller, its called party, or
    /// both; it replaces what they hear until it ends.
    fn play(
        &mut self,
        call_id: &str,
        name: &str,
        listeners: Listeners,
    ) -> Result<(), ControlError> {
        let prompt = self
            .prompt_named(name)
            .cloned()
            .ok_or_else(|| ControlError::Unknown {
                field: "/prompt".into(),
                reason: format!("there is no prompt {name:?}"),
            })?;
        let call = Self::answered_call((&mut self.calls, &self.placed), call_id)?;
        let _entered = call.span.clone().entered();
        let callee = call.outbound.as_ref().filter(|leg| leg.answered);
        let legs: Vec<&MediaLeg> = match listeners {
            Listeners::Caller => vec![&call.inbound.media],
            Listeners::Callee => vec![
                &callee
                    .ok_or_else(|| {
                        ControlError::Conflict("the call has no answered called party".into())
                    })?
                    .media,
            ],
            Listeners::Both => std::iter::once(&call.inbound.media)
                .chain(callee.map(|leg| &leg.media))
                .collect(),
        };
        info!(prompt = name, ?listeners, "playing a prompt into the call");
        for leg in legs {
            self.media
                .play(leg, Player::single(Playable::Prompt(prompt.clone())));
        }
        Ok(())
    }

    /// The calls in progress, oldest first: placed calls still ringing
    /// among them.
    fn live_calls(&self) -> Vec<CallSnapshot> {
        let mut calls: Vec<(Instant, CallSnapshot)> = self
            .calls
            .iter()
            .map(|(call_id, call)| {
                let mut legs = vec![LegSnapshot {
                    side: "caller",
                    codec: call.inbound.codec.map(Codec::encoding_name),
                    holding: call.inbound.holding,
                    answered: true,
                }];
                if let Some(outbound) = &call.outbound {
                    legs.push(LegSnapshot {
                        side: "callee",
                        codec: outbound.codec.map(Codec::encoding_name),
                        holding: outbound.holding,
                        answered: outbound.answered,
                    });
                }
                let live = CallSnapshot {
                    call_id: call_id.clone(),
                    direction: call.direction,
                    route: call.route.kind(),
                    caller_id: call.caller_id.clone(),
                    number_dialed: call.number_dialed.clone(),
                    answered: call.clock.answered_at().is_some(),
                    started_at: self.wall(call.clock.started()),
                    answered_at: call.clock.answered_at().map(|at| self.wall(at)),
                    recording: call.recording_now.is_some(),
                    legs,
                };
                (call.clock.started(), live)
            })
            .chain(self.placed.iter().map(|(call_id, placed)| {
                let live = CallSnapshot {
                    call_id: call_id.clone(),
                    direction: Direction::Outbound,
                    route: placed.then.kind(),
                    caller_id: placed.caller_id.clone(),
                    number_dialed: placed.number_dialed.clone(),
                    answered: false,
                    started_at: self.wall(placed.clock.started()),
                    answered_at: None,
                    recording: false,
                    legs: vec![LegSnapshot {
                        side: "caller",
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
    fn publish_registrar_event(&mut self, now: Instant, event: &RegistrarEvent) {
        let at = wall_at(self.wall_clock, now);
        match event {
            RegistrarEvent::RegistrationAdded { user, .. } => {
                self.effects.publish(CallEvent::RegistrationAdded {
                    at,
                    user: user.clone(),
                });
            }
            RegistrarEvent::RegistrationRemoved { user, reason, .. } => {
                self.effects.publish(CallEvent::RegistrationRemoved {
                    at,
                    user: user.clone(),
                    reason: format!("{reason:?}").to_lowercase(),
                });
            }
            RegistrarEvent::UserLocked { .. } => {}
        }
    }

    /// Publishes the gauges and counters `/metrics` shows.
    fn publish_metrics(&self, sip: &Endpoint) {
        let metrics = &self.metrics;
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

    /// The wall-clock time at `at`, from the anchor taken at start.
    fn wall(&self, at: Instant) -> SystemTime {
        wall_at(self.wall_clock, at)
    }

    /// Takes a phone or a DID in or out of the registrar's users and the
    /// routes.
    pub fn apply_directory_change(&mut self, change: DirectoryChange) {
        match change {
            DirectoryChange::PhoneActive { extension, ha1s } => {
                info!(%extension, "phone provisioned");
                self.routing.phone_active(extension.clone());
                self.users.insert(extension, ha1s);
            }
            DirectoryChange::PhoneGone { extension } => {
                info!(%extension, "phone removed");
                // Only the phone's own route: a DID routed to it stays (and
                // finds no phone to ring).
                self.routing.phone_gone(&extension);
                self.users.remove(&extension);
            }
            DirectoryChange::DidActive { number, route } => {
                info!(%number, route = route.kind(), "DID provisioned");
                self.routing.did_active(number, route);
            }
            DirectoryChange::DidInactive { number } => {
                info!(%number, "DID deactivated");
                self.routing.did_inactive(number);
            }
            DirectoryChange::DidGone { number } => {
                info!(%number, "DID removed");
                self.routing.did_gone(&number);
            }
            DirectoryChange::FlowActive { id, flow } => {
                info!(flow = id, "flow version in force");
                self.flows.insert(id, flow);
            }
            DirectoryChange::FlowGone { id } => {
                info!(flow = id, "flow removed");
                self.flows.remove(&id);
            }
            DirectoryChange::PromptActive { name, prompt } => {
                info!(prompt = %name, "uploaded prompt in force");
                self.uploaded_prompts.insert(name, prompt);
            }
            DirectoryChange::PromptGone { name } => {
                info!(prompt = %name, "uploaded prompt removed");
                self.uploaded_prompts.remove(&name);
            }
            DirectoryChange::AgentActive { login, extension } => {
                info!(%login, %extension, "agent on a phone");
                self.agents.insert(login, extension);
            }
            DirectoryChange::AgentGone { login } => {
                info!(%login, "agent off its phone");
                self.agents.remove(&login);
            }
            DirectoryChange::Replace(changes) => {
                info!(entries = changes.len(), "directory read again");
                self.routing.clear();
                self.users.clear();
                self.flows.clear();
                self.uploaded_prompts.clear();
                self.agents.clear();
                for change in changes {
                    self.apply_directory_change(change);
                }
            }
        }
    }
}

impl Switch {
    /// A SIP event from the endpoint (a request, a response, a
    /// cancellation, a timeout).
    pub fn handle_sip(&mut self, now: Instant, event: Event, sip: &mut Endpoint) {
        match event {
            Event::Request {
                key,
                request,
                source,
            } => self.handle_request(now, key, request, source, sip),
            Event::Cancelled { invite } => self.handle_cancelled(now, invite, sip),
            Event::Ack { request, .. } => self.handle_ack(request),
            Event::AckTimedOut { call_id, .. } => {
                let inbound = self
                    .outbound_calls
                    .get(&call_id)
                    .cloned()
                    .unwrap_or(call_id);
                self.end_call(now, &inbound, Side::Inbound, sip);
            }
            Event::Response { key, response } => self.handle_response(now, key, response, sip),
            Event::TimedOut { key } => self.handle_timed_out(now, key, sip),
        }
        self.publish_metrics(sip);
    }

    /// What a media channel reported.
    pub fn handle_media(&mut self, now: Instant, event: MediaEvent, sip: &mut Endpoint) {
        self.handle_media_event(now, event, sip);
        self.publish_metrics(sip);
    }

    /// Carries out what the API asks.
    pub fn handle_command(&mut self, now: Instant, command: Command, sip: &mut Endpoint) -> Reply {
        let reply = match command {
            Command::Directory(change) => {
                self.apply_directory_change(change);
                Reply::Applied
            }
            Command::Calls => Reply::Calls(self.live_calls()),
            Command::Hangup { call_id } => Reply::Existed(self.hang_up(now, &call_id, sip)),
            Command::Originate(origination) => {
                Reply::Placed(self.place_call(now, origination, sip))
            }
            Command::Transfer { call_id, to } => {
                Reply::Done(self.transfer(now, &call_id, &to, sip))
            }
            Command::StartRecording { call_id } => {
                Reply::Recording(self.start_recording(now, &call_id, sip))
            }
            Command::StopRecording { call_id } => Reply::Done(self.stop_recording(&call_id)),
            Command::Play {
                call_id,
                prompt,
                listeners,
            } => Reply::Done(self.play(&call_id, &prompt, listeners)),
            Command::FlowAudio {
                call_id,
                play,
                prompt,
            } => {
                self.flow_audio(now, &call_id, play, prompt, sip);
                Reply::Applied
            }
            Command::FlowWebhook {
                call_id,
                fetch,
                flow,
            } => {
                let event = match flow {
                    Some(flow) => ivr::Event::WebhookAnswered { id: fetch, flow },
                    None => ivr::Event::WebhookFailed { id: fetch },
                };
                self.flow_event(now, &call_id, event, sip);
                Reply::Applied
            }
        };
        self.publish_metrics(sip);
        reply
    }

    /// Hangs up a call (or a placed call still ringing) for the API;
    /// whether there was one.
    fn hang_up(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) -> bool {
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

    /// Carries out what is due by `now`: registrations that expire, and
    /// the call timers.
    pub fn handle_timeout(&mut self, now: Instant, sip: &mut Endpoint) {
        self.registrar.handle_timeout(now);
        while let Some(event) = self.registrar.poll_event() {
            log_registrar_event(&event);
            self.publish_registrar_event(now, &event);
        }
        self.expire_timers(now, sip);
        self.publish_metrics(sip);
    }

    /// When [`Switch::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.registrar.poll_timeout(), self.timers.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next thing to be done outside, oldest first.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop()
    }

    /// Refuses new calls from now on and ends every call in progress:
    /// each gets its record.
    pub fn begin_shutdown(&mut self, now: Instant, sip: &mut Endpoint) {
        self.shutting_down = true;
        let placed: Vec<String> = self.placed.keys().cloned().collect();
        for call_id in placed {
            self.end_placed(now, &call_id, 487, HungUpBy::System, sip);
        }
        let calls: Vec<String> = self.calls.keys().cloned().collect();
        info!(calls = calls.len(), "ending calls for shutdown");
        for call_id in calls {
            if let Some(call) = self.calls.get_mut(&call_id)
                && call.inbound.state == InboundState::Offering
                && let Some(key) = &call.inbound.server_key
            {
                let mut response = Response::to_request(&call.inbound.invite, 503);
                response.headers.push(Name::RETRY_AFTER, "30");
                set_to_tag(&mut response, &call.inbound.local_tag);
                sip.respond(now, key, response);
                call.inbound.state = InboundState::Ended;
            }
            self.end_call(now, &call_id, Side::Switch, sip);
        }
    }

    /// Whether no call is in progress.
    pub fn is_idle(&self) -> bool {
        self.calls.is_empty() && self.placed.is_empty()
    }
}

/// Joins or parts a bridged call's legs after a hold or resume: while one
/// side holds, the other hears hold music; when neither does, they are
/// bridged again.
fn apply_hold(call: &Call, prompts: &Prompts, media: &mut dyn MediaPort) {
    let Some(outbound) = call.outbound.as_ref().filter(|leg| leg.answered) else {
        return;
    };
    let inbound = &call.inbound;
    match (inbound.holding, outbound.holding) {
        (false, false) => {
            info!("call resumed");
            media.stop_playback(&inbound.media);
            media.stop_playback(&outbound.media);
            connect(media, call.bridge_mix, &inbound.media, &outbound.media);
        }
        (caller_holds, callee_holds) => {
            info!(caller_holds, callee_holds, "call on hold");
            media.isolate(&inbound.media);
            media.isolate(&outbound.media);
            for (leg, held) in [
                (&outbound.media, caller_holds && !callee_holds),
                (&inbound.media, callee_holds && !caller_holds),
            ] {
                if held {
                    let music = Playable::Looped(prompts.hold_music.clone());
                    media.play(leg, Player::single(music));
                } else {
                    media.stop_playback(leg);
                }
            }
        }
    }
}

/// A bridged call whose legs' codecs (after a re-INVITE, or a late offer
/// answered in the ACK) cannot be relayed to each other is moved into a
/// mix.
fn mix_if_codecs_differ(call: &mut Call, media: &mut dyn MediaPort) {
    if let Some(outbound) = call.outbound.as_ref().filter(|leg| leg.answered)
        && call.bridge_mix.is_none()
        && !codecs_relay(call.inbound.codec, outbound.codec)
    {
        info!("codecs differ: mixing the call");
        call.bridge_mix = Some(media.create_mix(Some(&outbound.media)));
        if !call.inbound.holding && !outbound.holding {
            connect(media, call.bridge_mix, &call.inbound.media, &outbound.media);
        }
    }
}

/// Every codec we have, `first` first.
fn codecs_preferring(first: Codec) -> CodecPreference {
    let ours: Vec<Codec> = std::iter::once(first).chain(Codec::ALL).collect();
    CodecPreference::new(&ours).unwrap_or_default()
}

/// Whether a caller's and a callee's codecs can be relayed to each other
/// packet by packet (G.722 on one side and G.711 on the other cannot: such
/// calls are mixed). Unknown yet counts as relayable.
fn codecs_relay(caller: Option<Codec>, callee: Option<Codec>) -> bool {
    match (caller, callee) {
        (Some(caller), Some(callee)) => caller.relays_to(callee),
        _ => true,
    }
}

/// Joins a call's two legs: through `mix` when calls are mixed, else
/// relayed packet by packet.
fn connect(media: &mut dyn MediaPort, mix: Option<Mix>, a: &MediaLeg, b: &MediaLeg) {
    match mix {
        Some(mix) => {
            media.join(a, mix, Role::Normal);
            media.join(b, mix, Role::Normal);
        }
        None => media.bridge(a, b),
    }
}

fn log_registrar_event(event: &RegistrarEvent) {
    match event {
        RegistrarEvent::RegistrationAdded { user, .. } => info!(%user, "registration added"),
        RegistrarEvent::RegistrationRemoved { user, reason, .. } => {
            info!(%user, ?reason, "registration removed")
        }
        RegistrarEvent::UserLocked { user, .. } => {
            warn!(%user, "user locked after failed authentications")
        }
    }
}

/// Where requests for a registered contact go: the address its REGISTER
/// came from, over the same transport (phones behind NAT).
/// Where an outbound leg goes.
struct Target {
    request_uri: SipUri,
    /// The To header value.
    to: String,
    destination: Peer,
    /// It is the trunk (whose challenges are answered).
    through_trunk: bool,
}

/// The key of the timer that gives up on call `call_id`'s leg `leg`.
fn ring_out_timer(call_id: &str, leg: LegId) -> (CallId, CallTimer) {
    (CallId::from(call_id), CallTimer::RingOut(leg))
}

fn binding_peer(binding: &Binding) -> Peer {
    Peer {
        transport: Transport::from_via_token(&binding.transport).unwrap_or(Transport::Udp),
        address: binding.received,
    }
}

fn outbound_call_id(invite: &Request) -> String {
    invite
        .headers
        .call_id()
        .map(|id| id.to_string())
        .unwrap_or_default()
}

fn set_to_tag(response: &mut Response, tag: &str) {
    if response.headers.to_tag().is_none()
        && let Some(to) = response.headers.first(&Name::TO).cloned()
    {
        response.headers.set(Name::TO, format!("{to};tag={tag}"));
    }
}

fn respond(sip: &mut Endpoint, now: Instant, key: &ServerKey, request: &Request, status: u16) {
    let mut response = Response::to_request(request, status);
    sip.add_to_tag_if_missing(&mut response);
    sip.respond(now, key, response);
}

/// The wall-clock time at `at`, from `anchor` (an instant and the wall
/// time then).
fn wall_at(anchor: (Instant, SystemTime), at: Instant) -> SystemTime {
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
fn respond_unavailable(
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
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The caller as a record names it: the From user, else its display
/// name, else `anonymous`.
fn caller_id(request: &Request) -> String {
    request
        .headers
        .from()
        .ok()
        .and_then(|from| sip_core::message::uri_user(&from.uri.uri).map(str::to_string))
        .unwrap_or_else(|| "anonymous".to_string())
}

fn respond_call(sip: &mut Endpoint, now: Instant, call: &mut Call, status: u16) {
    if let Some(key) = &call.inbound.server_key {
        let mut response = Response::to_request(&call.inbound.invite, status);
        set_to_tag(&mut response, &call.inbound.local_tag);
        sip.respond(now, key, response);
    }
    call.inbound.state = InboundState::Ended;
    call.final_status = Some(status);
}

fn add_contact_and_body(
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
fn ring_caller(sip: &mut Endpoint, now: Instant, call: &Call, local: SocketAddr) {
    let Some(server_key) = &call.inbound.server_key else {
        return;
    };
    let mut ringing = Response::to_request(&call.inbound.invite, 180);
    set_to_tag(&mut ringing, &call.inbound.local_tag);
    ringing.headers.push(
        Name::CONTACT,
        dialog::our_contact("switchboard", local, call.inbound.source.transport),
    );
    sip.respond(now, server_key, ringing);
}

/// Sends the 2xx to the caller and creates the inbound dialog.
fn answer_inbound(
    sip: &mut Endpoint,
    now: Instant,
    call: &mut Call,
    body: Bytes,
    media: &mut dyn MediaPort,
) {
    let inbound = &mut call.inbound;
    let Some(key) = &inbound.server_key else {
        return;
    };
    let mut response = Response::to_request(&inbound.invite, 200);
    set_to_tag(&mut response, &inbound.local_tag);
    response.headers.push(Name::ALLOW, Method::ALLOWED);
    let local = sip.config().local_address;
    add_contact_and_body(&mut response, local, inbound.source.transport, body);
    sip.respond(now, key, response);
    inbound.dialog = Dialog::from_uas(&inbound.invite, &inbound.local_tag, inbound.source).ok();
    inbound.state = InboundState::Answered;
    call.clock.answered(now);
    call.final_status = Some(200);
    // A timeout that fired while the call rang is forgotten: the no-RTP
    // hang-up counts from the answer.
    media.restart_media_timeout(&inbound.media);
    if let Some(outbound) = &call.outbound {
        media.restart_media_timeout(&outbound.media);
    }
}
