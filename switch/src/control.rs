//! The call controller: the transaction user that joins sip-core and media.
//!
//! Every call is a B2BUA with legs of one kind (`Leg`: an id, a
//! role, a SIP state, a dialog, media, hold and codec): the caller's leg,
//! whose INVITE the switch answers, and the legs it calls for the call
//! (the called party, listeners), each with its own dialog and media.
//! Legs are joined only through media (a relay pair or a mix with
//! roles), never by proxying signalling. The controller owns all calls; its
//! driver calls it for each SIP event, media event, command and timeout,
//! so no call state is shared, and what it needs done outside comes out
//! of [`Switch::poll_effect`].

use crate::admission::Routing;
use crate::cdr::{Cdr, Direction, HungUpBy, LegQuality};
use crate::clock::{CallClock, Phase};
use crate::effect::{CallEvent, Effect, Effects, RenderedAudio};
use crate::id::{CallId, Extension, LegId, LegIds, Number};
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

mod apps;
mod bridging;
mod call;
mod context;
mod ending;
mod flow;
mod in_dialog;
mod inbound;
mod index;
mod listen;
mod operations;
mod outbound;
mod placed;
mod signalling;

use apps::Rooms;
use bridging::*;
use call::*;
use context::Context;
use index::Index;
use signalling::*;

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
    /// Call `to` to listen to a call in progress (a silent monitor who
    /// hears both parties). [`Reply::Done`] once it is being called.
    Listen {
        /// The call's id.
        call_id: String,
        /// Who listens (a phone, or a number through the trunk).
        to: Destination,
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
    Phone(Extension),
    /// A number, out through the trunk.
    Number(Number),
    /// One of our numbers (a DID, an extension, a demo number): what
    /// answers it takes the call.
    Did(Number),
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
        extension: Extension,
        /// Its digest secrets.
        ha1s: Ha1s,
    },
    /// A phone deleted or deactivated: it can no longer register or be
    /// called, at once.
    PhoneGone {
        /// Its extension.
        extension: Extension,
    },
    /// A DID that answers with `route` (created, changed or activated).
    DidActive {
        /// The number as dialled.
        number: Number,
        /// What answers it.
        route: Route,
    },
    /// A DID of ours that is deactivated: calls to it get 404, and are
    /// not sent out through the trunk.
    DidInactive {
        /// The number.
        number: Number,
    },
    /// A DID deleted: no longer ours.
    DidGone {
        /// The number.
        number: Number,
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
        extension: Extension,
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

/// How long an outbound leg may ring before the caller gets a 480.
const RING_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// The address put in SDP for the switch's media (the local
    /// address's IP when none: it must be one peers can reach).
    pub media_address: Option<IpAddr>,
}

/// The call controller.
pub struct Switch {
    /// What numbers answer with, and who is let in.
    routing: Routing,
    registrar: Registrar,
    /// SIP users and their digest HA1s.
    users: HashMap<Extension, Ha1s>,
    /// Calls by the caller's leg's Call-ID.
    calls: HashMap<CallId, Call>,
    /// Calls placed through the API whose first party has not answered,
    /// by their Call-ID.
    placed: HashMap<CallId, PlacedCall>,
    shutting_down: bool,
    trunk: Option<Trunk>,
    /// Conference rooms with callers, by name.
    rooms: Rooms,
    /// Flows by id, at their current versions.
    flows: HashMap<i64, Arc<ivr::Flow>>,
    /// Active agents' extensions, by login.
    agents: HashMap<String, Extension>,
    /// What a call's features work with: media, the index, timers and
    /// effects (borrowed beside one call of `calls`).
    cx: Context,
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
            media_address,
        } = resources;
        Switch {
            routing: Routing::new(trunk.is_some()),
            registrar,
            users: HashMap::new(),
            calls: HashMap::new(),
            placed: HashMap::new(),
            shutting_down: false,
            trunk,
            rooms: Rooms::default(),
            flows: HashMap::new(),
            agents: HashMap::new(),
            cx: Context {
                media,
                media_address: media_address.unwrap_or(local_address.ip()),
                local_address,
                index: Index::default(),
                origin_counter: 0,
                recordings_dir,
                prompts,
                mix_bridges,
                record_calls,
                effects: Effects::default(),
                wall_clock,
                metrics,
                timers: Deadlines::default(),
                legs: LegIds::default(),
                audio,
                voicemail_dir,
                uploaded_prompts: HashMap::new(),
            },
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
                self.cx.uploaded_prompts.insert(name, prompt);
            }
            DirectoryChange::PromptGone { name } => {
                info!(prompt = %name, "uploaded prompt removed");
                self.cx.uploaded_prompts.remove(&name);
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
                self.cx.uploaded_prompts.clear();
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
                    .cx
                    .index
                    .call_of_dialog(&call_id)
                    .cloned()
                    .unwrap_or_else(|| CallId::from(call_id));
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
            Command::Listen { call_id, to } => Reply::Done(self.listen(now, &call_id, &to, sip)),
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
        [
            self.registrar.poll_timeout(),
            self.cx.timers.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next thing to be done outside, oldest first.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.cx.effects.pop()
    }

    /// Refuses new calls from now on and ends every call in progress:
    /// each gets its record.
    pub fn begin_shutdown(&mut self, now: Instant, sip: &mut Endpoint) {
        self.shutting_down = true;
        let placed: Vec<CallId> = self.placed.keys().cloned().collect();
        for call_id in placed {
            self.end_placed(now, &call_id, 487, HungUpBy::System, sip);
        }
        let calls: Vec<CallId> = self.calls.keys().cloned().collect();
        info!(calls = calls.len(), "ending calls for shutdown");
        for call_id in calls {
            if let Some(call) = self.calls.get_mut(call_id.as_str())
                && call.caller.state == SipState::Offering
                && let Some(key) = &call.caller.ua.server_key
            {
                let mut response = Response::to_request(&call.caller.invite, 503);
                response.headers.push(Name::RETRY_AFTER, "30");
                set_to_tag(&mut response, &call.caller.ua.local_tag);
                sip.respond(now, key, response);
                call.caller.state = SipState::Ending;
            }
            self.end_call(now, &call_id, Side::Switch, sip);
        }
    }

    /// Whether no call is in progress.
    pub fn is_idle(&self) -> bool {
        self.calls.is_empty() && self.placed.is_empty()
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
