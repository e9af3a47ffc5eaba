//! The task that owns the SIP endpoint and call control ([`switch`], the
//! sans-IO crate): it hands call control each SIP event, media event,
//! API command and timeout, and carries out the effects that come out
//! (records to the CDR writer, live events to subscribers, speech to the
//! TTS program, webhooks and audio fetched over HTTP, voicemail to its
//! writer). The API talks to it through [`Command`]s with reply channels.

use crate::cdr::{self, CdrSink};
use crate::events::{EventHub, LiveEvent};
use crate::tts::Tts;
use crate::voicemail::VoicemailSink;
use crate::webhook::AudioCache;
use media::engine::MediaEvent;
use sip_core::driver::Application;
use sip_core::endpoint::{Endpoint, Event};
use std::time::Instant;
use switch::{CallSnapshot, Effect, Reply};

pub use switch::route::did as did_route;
pub use switch::route::{FlowSource, Route};
pub use switch::{ControlError, Destination, DirectoryChange, Listeners, Origination};

/// Messages other tasks send to the switch task.
#[derive(Debug)]
pub enum Command {
    /// A media channel reported something.
    Media(MediaEvent),
    /// The calls in progress, for the API.
    Calls {
        /// Where the snapshot goes.
        reply: tokio::sync::oneshot::Sender<Vec<LiveCall>>,
    },
    /// Hang up a call (the API): both legs are released as the switch
    /// ends calls. `reply` says whether the call existed.
    Hangup {
        /// The call's id (the caller's Call-ID).
        call_id: String,
        /// Told whether there was such a call.
        reply: tokio::sync::oneshot::Sender<bool>,
    },
    /// Place a call (the API): `reply` gets its id, or why not.
    Originate {
        /// Who is called, with what caller ID, and what it is then joined to.
        origination: Origination,
        /// Told the new call's id.
        reply: tokio::sync::oneshot::Sender<Result<String, ControlError>>,
    },
    /// Send a call's caller somewhere else (blind transfer); the called
    /// party, if any, is released.
    Transfer {
        /// The call's id.
        call_id: String,
        /// Where the caller goes.
        to: Destination,
        /// Told whether it went.
        reply: tokio::sync::oneshot::Sender<Result<(), ControlError>>,
    },
    /// Start recording a call (stereo: the caller left, what the caller
    /// hears right); `reply` gets the file's name.
    StartRecording {
        /// The call's id.
        call_id: String,
        /// Told the file's name.
        reply: tokio::sync::oneshot::Sender<Result<String, ControlError>>,
    },
    /// Stop a call's recording; the file is finished at once.
    StopRecording {
        /// The call's id.
        call_id: String,
        /// Told whether there was one.
        reply: tokio::sync::oneshot::Sender<Result<(), ControlError>>,
    },
    /// Play a bundled prompt into a call, to one party or both.
    Play {
        /// The call's id.
        call_id: String,
        /// The prompt's name.
        prompt: String,
        /// Who hears it.
        listeners: Listeners,
        /// Told whether it plays.
        reply: tokio::sync::oneshot::Sender<Result<(), ControlError>>,
    },
    /// The provisioned directory changed (through the API); `applied` is
    /// told once the change is in force.
    Directory {
        /// The change.
        change: DirectoryChange,
        /// Told when it applies, if anyone waits.
        applied: Option<tokio::sync::oneshot::Sender<()>>,
    },
    /// Work done on the runtime for call control (a render, a fetch, a
    /// webhook) is back.
    Back(switch::Command),
}

/// A call in progress, as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LiveCall {
    /// The call's id (the caller's Call-ID, or ours for a call we placed).
    pub call_id: String,
    /// `inbound` (someone called us) or `outbound` (placed through the API).
    pub direction: cdr::Direction,
    /// What handles it: `echo`, `phone`, `trunk`, …
    pub route: &'static str,
    /// The caller (From user).
    pub caller_id: String,
    /// The number dialled.
    pub number_dialed: String,
    /// `ringing` until the caller (for a call we placed, the called
    /// party) is answered, then `answered`.
    pub state: &'static str,
    /// When the INVITE arrived (RFC 3339, UTC).
    pub started_at: String,
    /// When the caller was answered.
    pub answered_at: Option<String>,
    /// Whether it is being recorded now.
    pub recording: bool,
    /// Its legs: the caller's, and the called party's if there is one.
    pub legs: Vec<LiveLeg>,
}

/// One leg of a call in progress.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LiveLeg {
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

impl From<CallSnapshot> for LiveCall {
    fn from(call: CallSnapshot) -> LiveCall {
        LiveCall {
            call_id: call.call_id,
            direction: call.direction.into(),
            route: call.route,
            caller_id: call.caller_id,
            number_dialed: call.number_dialed,
            state: if call.answered { "answered" } else { "ringing" },
            started_at: cdr::timestamp(call.started_at),
            answered_at: call.answered_at.map(cdr::timestamp),
            recording: call.recording,
            legs: call
                .legs
                .into_iter()
                .map(|leg| LiveLeg {
                    side: leg.side,
                    codec: leg.codec,
                    holding: leg.holding,
                    answered: leg.answered,
                })
                .collect(),
        }
    }
}

/// Where the switch task's effects go.
pub struct Outside {
    /// Where call records go.
    pub cdrs: CdrSink,
    /// Where live events go.
    pub events: EventHub,
    /// Text to speech for flows.
    pub tts: Tts,
    /// Prompts flows fetched by URL.
    pub url_audio: AudioCache,
    /// Where voicemail messages go.
    pub voicemail: VoicemailSink,
    /// The task's own command channel, for work done on the runtime
    /// (renders, fetches, webhooks) to report back on.
    pub commands: tokio::sync::mpsc::UnboundedSender<Command>,
}

/// Speech and fetched audio at hand, from the TTS and URL caches.
pub struct CachedAudio {
    /// Text to speech.
    pub tts: Tts,
    /// Fetched audio.
    pub url_audio: AudioCache,
}

impl switch::RenderedAudio for CachedAudio {
    fn can_say(&self) -> bool {
        self.tts.is_available()
    }

    fn said(&self, text: &str, voice: Option<&str>) -> Option<media::player::Prompt> {
        self.tts.cached(text, voice)
    }

    fn fetched(&self, url: &str) -> Option<media::player::Prompt> {
        self.url_audio.cached(url)
    }
}

/// Call control and where its effects go: what the SIP driver runs.
pub struct SwitchTask {
    switch: switch::Switch,
    outside: Outside,
}

impl SwitchTask {
    /// The task running `switch`, its effects carried out to `outside`.
    pub fn new(switch: switch::Switch, outside: Outside) -> SwitchTask {
        SwitchTask { switch, outside }
    }

    /// Applies a directory change before the task runs.
    pub fn apply_directory_change(&mut self, change: DirectoryChange) {
        self.switch.apply_directory_change(change);
    }

    /// Carries out every effect call control has queued.
    fn carry_out(&mut self) {
        while let Some(effect) = self.switch.poll_effect() {
            self.outside.carry_out(effect);
        }
    }

    /// Asks call control, and gives its reply to whoever waits.
    fn command(&mut self, now: Instant, command: Command, sip: &mut Endpoint) {
        let mut ask = |command| self.switch.handle_command(now, command, sip);
        match command {
            Command::Media(event) => self.switch.handle_media(now, event, sip),
            Command::Back(command) => {
                ask(command);
            }
            Command::Directory { change, applied } => {
                ask(switch::Command::Directory(change));
                if let Some(applied) = applied {
                    let _ = applied.send(());
                }
            }
            Command::Calls { reply } => {
                if let Reply::Calls(calls) = ask(switch::Command::Calls) {
                    let _ = reply.send(calls.into_iter().map(LiveCall::from).collect());
                }
            }
            Command::Hangup { call_id, reply } => {
                if let Reply::Existed(existed) = ask(switch::Command::Hangup { call_id }) {
                    let _ = reply.send(existed);
                }
            }
            Command::Originate { origination, reply } => {
                if let Reply::Placed(placed) = ask(switch::Command::Originate(origination)) {
                    let _ = reply.send(placed);
                }
            }
            Command::Transfer { call_id, to, reply } => {
                if let Reply::Done(done) = ask(switch::Command::Transfer { call_id, to }) {
                    let _ = reply.send(done);
                }
            }
            Command::StartRecording { call_id, reply } => {
                if let Reply::Recording(file) = ask(switch::Command::StartRecording { call_id }) {
                    let _ = reply.send(file);
                }
            }
            Command::StopRecording { call_id, reply } => {
                if let Reply::Done(done) = ask(switch::Command::StopRecording { call_id }) {
                    let _ = reply.send(done);
                }
            }
            Command::Play {
                call_id,
                prompt,
                listeners,
                reply,
            } => {
                let command = switch::Command::Play {
                    call_id,
                    prompt,
                    listeners,
                };
                if let Reply::Done(done) = ask(command) {
                    let _ = reply.send(done);
                }
            }
        }
    }
}

impl Outside {
    /// Carries out one effect: nothing here waits (the renders, fetches
    /// and webhooks run on the runtime and report back as commands).
    fn carry_out(&self, effect: Effect) {
        match effect {
            Effect::Cdr(cdr) => self.cdrs.record(*cdr),
            Effect::Event(event) => self.events.publish(LiveEvent::from(event)),
            Effect::Voicemail(message) => self.voicemail.deliver(message),
            Effect::Say { text, voice, play } => match play {
                Some((call_id, play)) => {
                    let commands = self.commands.clone();
                    self.tts.render(&text, voice.as_deref(), move |prompt| {
                        let _ = commands.send(Command::Back(switch::Command::FlowAudio {
                            call_id: call_id.to_string(),
                            play,
                            prompt,
                        }));
                    });
                }
                None => self.tts.warm(&text, voice.as_deref()),
            },
            Effect::FetchAudio {
                url,
                play: (call_id, play),
            } => {
                let commands = self.commands.clone();
                self.url_audio.fetch(&url, move |prompt| {
                    let _ = commands.send(Command::Back(switch::Command::FlowAudio {
                        call_id: call_id.to_string(),
                        play,
                        prompt,
                    }));
                });
            }
            Effect::Webhook {
                call_id,
                fetch,
                url,
                variables,
            } => {
                let commands = self.commands.clone();
                crate::webhook::fetch(url, variables, move |flow| {
                    let _ = commands.send(Command::Back(switch::Command::FlowWebhook {
                        call_id: call_id.to_string(),
                        fetch,
                        flow,
                    }));
                });
            }
        }
    }
}

impl Application for SwitchTask {
    type Message = Command;

    fn handle_event(&mut self, now: Instant, event: Event, sip: &mut Endpoint) {
        self.switch.handle_sip(now, event, sip);
        self.carry_out();
    }

    fn handle_message(&mut self, now: Instant, message: Command, sip: &mut Endpoint) {
        self.command(now, message, sip);
        self.carry_out();
    }

    fn handle_timeout(&mut self, now: Instant, sip: &mut Endpoint) {
        self.switch.handle_timeout(now, sip);
        self.carry_out();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.switch.poll_timeout()
    }

    fn begin_shutdown(&mut self, now: Instant, sip: &mut Endpoint) {
        self.switch.begin_shutdown(now, sip);
        self.carry_out();
    }

    fn is_idle(&self) -> bool {
        self.switch.is_idle()
    }
}
