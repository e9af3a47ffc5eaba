//! Calls answered by an IVR flow: the switch drives each one's
//! [`Interpreter`] (the `ivr` crate's sans-IO core). What happens on the
//! call (a prompt ends, a key, speech, a dial answered or over, a TTS
//! render or webhook back, a deadline) goes in as an [`ivr::Event`]; what
//! the flow asks for comes out as [`Action`]s, carried out here with the
//! call's media and SIP legs.
//!
//! - Plays are tagged with the flow's play id, so the engine's report of
//!   a play that was replaced or stopped is told from the current one.
//! - `say` is rendered outside ([`Effect::Say`]): a render at hand
//!   ([`RenderedAudio`]) plays at once, another is asked for and played
//!   when it is back ([`crate::Command::FlowAudio`]) if the flow still
//!   waits for it.
//! - A `dial` is the call's outbound leg, as for a phone route, but its
//!   end goes back to the flow (`dial_status`) instead of ending the call;
//!   a whisper plays to the answering party before the bridge.
//! - Voicemail is recorded mono into the voicemail directory, with speech
//!   detection for the silence timeout, and filed ([`Effect::Voicemail`])
//!   when it ends, the caller's hang-up included.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Timelike;
use ivr::flow::DialTarget;
use ivr::{Action, Audio, DialStatus, Interpreter};
use media::detector::SpeechEvent;
use media::player::{Playable, Player, PlayerEvent, ToneSpec};
use sip_core::endpoint::Endpoint;
use tracing::{debug, info, warn};

use super::{
    Call, Context, Destination, LegRole, Refusal, Route, Side, SipState, Switch, file_name,
    ring_caller, wall_at,
};
use crate::clock::Phase;
use crate::effect::{CallEvent, Effect, Effects, RenderedAudio, VoicemailMessage};
use crate::media_port::{Channels, MediaEvent, MediaEventKind, MediaLeg, MediaPort};
use crate::prompts::Prompts;
use crate::route::FlowSource;
use crate::timer::CallTimer;

mod actions;

/// The tag of a whisper's player on the answering party's leg.
const WHISPER: u64 = u64::MAX;

/// How long a flow's dial may ring at most, besides the flow's own timeout
/// (which ends it first).
const DIAL_RING_LIMIT: Duration = Duration::from_secs(3_600);

/// Why a flow's dial rings no phone.
enum DialElsewhere {
    /// It cannot be made.
    Failed,
    /// The call went on elsewhere (another flow, a route the switch
    /// answers itself), or ended.
    Gone,
}

/// A flow running on a call.
pub(super) struct FlowRun {
    interpreter: Interpreter,
    /// The flow's id, for logs.
    flow: i64,
    /// The play whose audio is being rendered, if the flow waits for one.
    waiting_audio: Option<u64>,
    /// The flow's recording in progress.
    recording: Option<FlowRecording>,
    /// The flow's dial in progress.
    dial: Option<FlowDial>,
    /// A 180 was sent for a ring before the answer.
    rang: bool,
}

struct FlowRecording {
    id: u64,
    file: String,
    path: PathBuf,
    mailbox: Option<String>,
    started: Instant,
}

struct FlowDial {
    id: u64,
    whisper: Vec<Audio>,
    whispering: bool,
}

impl FlowRun {
    /// Plays the dial's whisper to the party that answered, if it has one
    /// that can be played now; the bridge waits for it to end.
    pub(super) fn whisper_on_answer(
        &mut self,
        (media, callee): (&mut dyn MediaPort, &MediaLeg),
        audio: &dyn RenderedAudio,
        prompts: PromptLookup<'_>,
    ) -> bool {
        let Some(dial) = self.dial.as_mut() else {
            return false;
        };
        let items: Vec<Playable> = dial
            .whisper
            .iter()
            .filter_map(|item| match playable(item, audio, prompts) {
                Resolved::Ready(playable) => Some(playable),
                Resolved::Pending => {
                    warn!("the whisper's speech is not rendered yet: left out");
                    None
                }
                Resolved::Missing(reason) => {
                    warn!(%reason, "the whisper cannot be played: left out");
                    None
                }
            })
            .collect();
        if items.is_empty() {
            return false;
        }
        media.play(callee, Player::new(items).tagged(WHISPER));
        dial.whispering = true;
        true
    }
}

/// What a flow's audio is now.
#[allow(
    clippy::large_enum_variant,
    reason = "made and matched at once, never stored: boxing would allocate per play"
)]
enum Resolved {
    Ready(Playable),
    /// Speech not rendered yet.
    Pending,
    Missing(String),
}

/// Prompts by name: uploaded, else bundled.
#[derive(Clone, Copy)]
pub(super) struct PromptLookup<'a> {
    bundled: &'a Prompts,
    uploaded: &'a std::collections::HashMap<String, media::player::Prompt>,
}

impl<'a> PromptLookup<'a> {
    /// Looks in `uploaded`, then in `bundled` (a switch's fields,
    /// borrowed apart from the call being driven).
    pub(super) fn new(
        bundled: &'a Prompts,
        uploaded: &'a std::collections::HashMap<String, media::player::Prompt>,
    ) -> Self {
        PromptLookup { bundled, uploaded }
    }

    pub(super) fn named(self, name: &str) -> Option<&'a media::player::Prompt> {
        self.uploaded.get(name).or_else(|| self.bundled.named(name))
    }
}

fn playable(audio: &Audio, rendered: &dyn RenderedAudio, prompts: PromptLookup<'_>) -> Resolved {
    match audio {
        Audio::Prompt(name) => match prompts.named(name) {
            Some(prompt) => Resolved::Ready(Playable::Prompt(prompt.clone())),
            None => Resolved::Missing(format!("there is no prompt {name:?}")),
        },
        Audio::Url(url) => match rendered.fetched(url) {
            Some(prompt) => Resolved::Ready(Playable::Prompt(prompt)),
            None => Resolved::Pending,
        },
        Audio::Say { text, voice } => match rendered.said(text, voice.as_deref()) {
            Some(prompt) => Resolved::Ready(Playable::Prompt(prompt)),
            None if rendered.can_say() => Resolved::Pending,
            None => Resolved::Missing("no text-to-speech program".into()),
        },
        Audio::Silence(duration) => Resolved::Ready(Playable::Silence(*duration)),
        Audio::Beep => Resolved::Ready(Playable::Tone(ToneSpec::BEEP)),
    }
}

impl Switch {
    /// Starts flow `flow` on `call` (its actions run once the call is
    /// listed: [`Switch::run_flow`]).
    pub(super) fn start_flow(
        &mut self,
        now: Instant,
        call: &mut Call,
        source: &FlowSource,
        time_zone: chrono_tz::Tz,
    ) -> Result<(), Refusal> {
        let (document, flow) = match source {
            FlowSource::Stored(id) => match self.flows.get(id) {
                Some(document) => (document.clone(), *id),
                None => return Err(Refusal::new(404, format!("there is no flow {id}"))),
            },
            // A DID's inbound settings: flow 0 in logs and events.
            FlowSource::Compiled(document) => (document.clone(), 0),
        };
        let wall: chrono::DateTime<chrono::Utc> = self.cx.wall(now).into();
        let local = wall.with_timezone(&time_zone);
        let time_of_day = Duration::from_secs(u64::from(local.num_seconds_from_midnight()));
        let variables = BTreeMap::from([
            ("caller_id".to_string(), call.caller_id.clone()),
            ("did".to_string(), call.number_dialed.clone()),
        ]);
        info!(flow, "running the flow");
        call.clock.enter(now, Phase::Ivr);
        let interpreter = Interpreter::new((*document).clone(), now, time_of_day, variables);
        call.flow = Some(Box::new(FlowRun {
            interpreter,
            flow,
            waiting_audio: None,
            recording: None,
            dial: None,
            rang: false,
        }));
        Ok(())
    }

    /// The flow call `call_id` runs, if it runs one.
    fn flow_of(&mut self, call_id: &str) -> Option<&mut FlowRun> {
        self.calls
            .get_mut(call_id)
            .and_then(|call| call.flow.as_deref_mut())
    }

    /// Carries out what a call's flow asks for, until it waits for
    /// something; a flow that is over ends the call.
    pub(super) fn run_flow(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) {
        loop {
            let Some(call) = self.calls.get_mut(call_id) else {
                return;
            };
            let span = call.span.clone();
            let Some(run) = call.flow.as_mut() else {
                return;
            };
            let Some(action) = run.interpreter.poll_action() else {
                break;
            };
            let _entered = span.enter();
            debug!(flow = run.flow, %action, "flow action");
            if !matches!(action, Action::StopPlayback) {
                self.cx.effects.publish(CallEvent::CallFlow {
                    call_id: call_id.to_string(),
                    at: wall_at(self.cx.wall_clock, now),
                    flow: run.flow,
                    action: action.to_string(),
                });
            }
            if let Some(event) = self.flow_action(now, call_id, action, sip)
                && let Some(run) = self.flow_of(call_id)
            {
                run.interpreter.handle_event(now, event);
            }
        }
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(run) = call.flow.as_mut() else {
            return;
        };
        if run.interpreter.is_ended() {
            let _entered = call.span.clone().entered();
            info!("the flow is over: hanging up");
            self.end_call(now, call_id, Side::Switch, sip);
            return;
        }
        let timer = (call.id.clone(), CallTimer::FlowTimeout);
        match run.interpreter.poll_timeout() {
            Some(due) => self.cx.timers.set(timer, due),
            None => {
                self.cx.timers.cancel(&timer);
            }
        }
    }

    /// Tells a call's flow what happened, and carries out what follows.
    pub(super) fn flow_event(
        &mut self,
        now: Instant,
        call_id: &str,
        event: ivr::Event,
        sip: &mut Endpoint,
    ) {
        let Some(run) = self.flow_of(call_id) else {
            return;
        };
        run.interpreter.handle_event(now, event);
        self.run_flow(now, call_id, sip);
    }

    /// Call `call_id`'s flow reached the deadline it asked for.
    pub(super) fn flow_timeout(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) {
        let Some(run) = self.flow_of(call_id) else {
            return;
        };
        run.interpreter.handle_timeout(now);
        self.run_flow(now, call_id, sip);
    }

    /// A media event of a call running a flow: its caller's plays, keys
    /// and speech go to the flow; the end of a whisper bridges the dial.
    pub(super) fn flow_media_event(
        &mut self,
        now: Instant,
        call_id: &str,
        event: &MediaEvent,
        sip: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let caller = call.caller.media.id() == Some(event.channel);
        let Some(run) = call.flow.as_mut() else {
            return;
        };
        let flow_event = match &event.kind {
            MediaEventKind::Playback {
                event: PlayerEvent::PlaybackFinished,
                tag,
            } if caller && *tag != 0 && *tag != WHISPER => {
                Some(ivr::Event::PlaybackFinished { id: *tag })
            }
            MediaEventKind::Playback { tag: WHISPER, .. } if !caller => {
                if let Some(dial) = run.dial.as_mut().filter(|dial| dial.whispering) {
                    dial.whispering = false;
                    info!("whisper over: bridging");
                    self.bridge_answered(now, call_id, sip);
                }
                None
            }
            MediaEventKind::Channel(media::channel::ChannelEvent::DigitReceived {
                digit, ..
            }) if caller => Some(ivr::Event::DigitReceived {
                digit: digit.as_char(),
            }),
            MediaEventKind::Speech(SpeechEvent::SpeechStarted { .. }) if caller => {
                Some(ivr::Event::VoiceStarted)
            }
            MediaEventKind::Speech(SpeechEvent::SpeechEnded { .. }) if caller => {
                Some(ivr::Event::VoiceStopped)
            }
            _ => None,
        };
        if let Some(flow_event) = flow_event {
            self.flow_event(now, call_id, flow_event, sip);
        }
    }

    /// A prompt rendered for a call's flow: played if the flow still
    /// waits for it.
    pub(super) fn flow_audio(
        &mut self,
        now: Instant,
        call_id: &str,
        play: u64,
        prompt: Result<media::player::Prompt, String>,
        sip: &mut Endpoint,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(run) = call.flow.as_mut() else {
            return;
        };
        if run.waiting_audio != Some(play) {
            return;
        }
        run.waiting_audio = None;
        match prompt {
            Ok(prompt) => {
                let player = Player::single(Playable::Prompt(prompt)).tagged(play);
                self.cx.media.play(&call.caller.media, player);
            }
            Err(reason) => {
                let _entered = call.span.clone().entered();
                warn!(%reason, "speech could not be rendered: skipped");
                self.flow_event(now, call_id, ivr::Event::PlaybackFinished { id: play }, sip);
            }
        }
    }

    /// Carries out one action of a call's flow; what it reports at once
    /// (a flow loaded, a play that cannot start) comes back as an event.
    fn flow_action(
        &mut self,
        now: Instant,
        call_id: &str,
        action: Action,
        sip: &mut Endpoint,
    ) -> Option<ivr::Event> {
        let call = self.calls.get_mut(call_id)?;
        let cx = &mut self.cx;
        match action {
            Action::Answer => {
                self.answer_caller(now, call_id, sip);
                None
            }
            Action::Ring(_) => actions::ring(cx, now, call, sip),
            Action::Play { id, audio } => actions::play(cx, call, id, audio),
            Action::StopPlayback => actions::stop_playback(cx, call),
            Action::HoldMusic { prompt } => actions::hold_music(cx, call, prompt.as_deref()),
            Action::Record { id, mailbox } => actions::record(cx, now, call, (id, mailbox), sip),
            Action::StopRecording { id } => actions::stop_recording(cx, now, call, id),
            Action::Dial {
                id,
                target,
                caller_id,
                whisper,
            } => self.flow_dial(now, call_id, id, target, caller_id, whisper, sip),
            Action::CancelDial { id } => {
                let run = call.flow.as_mut()?;
                run.dial.take_if(|dial| dial.id == id)?;
                info!("the flow's dial rang out: cancelled");
                self.release_outbound_of(now, call_id, true, sip);
                if let Some(call) = self.calls.get(call_id) {
                    self.cx.media.stop_playback(&call.caller.media);
                }
                None
            }
            Action::Fetch { id, url, variables } => actions::fetch(cx, call, (id, url), variables),
            Action::LoadFlow { id, flow } => Some(self.flow_load(call_id, id, flow)),
            Action::Hangup => {
                info!("the flow hangs up");
                self.end_call(now, call_id, Side::Switch, sip);
                None
            }
        }
    }

    /// The flow `flow` a call's flow goes on with, for its load `id`.
    fn flow_load(&mut self, call_id: &str, id: u64, flow: i64) -> ivr::Event {
        let Some(document) = self.flows.get(&flow).cloned() else {
            warn!(flow, "the flow to go on with does not exist");
            return ivr::Event::FlowMissing { id };
        };
        // Events name the flow the call runs from now.
        if let Some(run) = self.flow_of(call_id) {
            run.flow = flow;
        }
        ivr::Event::FlowLoaded {
            id,
            flow: (*document).clone(),
        }
    }

    /// Calls `target` for a flow's dial: the caller is answered (if it
    /// still rings) and hears ringback until the far end answers.
    #[allow(clippy::too_many_arguments)]
    fn flow_dial(
        &mut self,
        now: Instant,
        call_id: &str,
        id: u64,
        target: DialTarget,
        caller_id: String,
        whisper: Vec<Audio>,
        sip: &mut Endpoint,
    ) -> Option<ivr::Event> {
        let failed = Some(ivr::Event::DialEnded {
            id,
            status: DialStatus::Failed,
        });
        let route = match self.dial_route(now, call_id, target, sip) {
            Ok(route) => route,
            Err(DialElsewhere::Failed) => return failed,
            Err(DialElsewhere::Gone) => return None,
        };
        let target = match self.route_target(now, &route) {
            Ok(Some(target)) => target,
            Ok(None) => return failed,
            Err(refusal) => {
                info!(reason = %refusal.reason, "the flow's dial cannot be made");
                return Some(ivr::Event::DialEnded {
                    id,
                    status: if refusal.status == 480 {
                        DialStatus::NoAnswer
                    } else {
                        DialStatus::Failed
                    },
                });
            }
        };
        self.answer_caller(now, call_id, sip);
        match &route {
            Route::Phone(extension) => info!(extension = %extension, "the flow dials a phone"),
            _ => info!("the flow dials out through the trunk"),
        }
        debug!(%caller_id, "the dial's caller ID");
        let leg = (LegRole::Callee, target, caller_id.as_str());
        if self
            .add_leg_to(now, call_id, leg, DIAL_RING_LIMIT, sip)
            .is_err()
        {
            return failed;
        }
        self.warm_whisper(&whisper);
        let call = self.calls.get_mut(call_id)?;
        call.clock.enter(now, Phase::Waiting);
        self.cx.media.play(
            &call.caller.media,
            Player::single(Playable::Tone(ToneSpec::US_RINGBACK)),
        );
        if let Some(run) = call.flow.as_mut() {
            run.dial = Some(FlowDial {
                id,
                whisper,
                whispering: false,
            });
        }
        None
    }

    /// The route a flow's dial goes to: a phone or the trunk. A DID with a
    /// flow takes the call on in that flow, and one the switch answers
    /// itself (echo, record, a conference) takes the call from the flow:
    /// the dial is then gone.
    fn dial_route(
        &mut self,
        now: Instant,
        call_id: &str,
        target: DialTarget,
        sip: &mut Endpoint,
    ) -> Result<Route, DialElsewhere> {
        let number = match target {
            DialTarget::Phone(extension) => return Ok(Route::Phone(extension.into())),
            DialTarget::Number(number) => return Ok(Route::Trunk(number.into())),
            DialTarget::Agent(login) => {
                let Some(extension) = self.agents.get(&login) else {
                    info!(%login, "the flow dials an agent who is inactive or on no phone");
                    return Err(DialElsewhere::Failed);
                };
                info!(%login, %extension, "the flow dials an agent");
                return Ok(Route::Phone(extension.clone()));
            }
            DialTarget::Did(number) => number,
        };
        let route = self
            .routing
            .route(&number)
            .cloned()
            .map(|route| match route {
                Route::Did(did) => did.route_at(self.cx.wall(now).into()),
                route => route,
            });
        match route {
            Some(route @ (Route::Phone(_) | Route::Trunk(_))) => Ok(route),
            Some(Route::Flow { flow, time_zone }) => {
                // The call goes on in that DID's flow.
                let mut call = self.calls.remove(call_id).ok_or(DialElsewhere::Gone)?;
                leave_flow(&mut self.cx, now, &mut call);
                let started = self.start_flow(now, &mut call, &flow, time_zone);
                self.calls.insert(call.id.clone(), call);
                if let Err(refusal) = started {
                    warn!(reason = %refusal.reason, "the DID's flow cannot run: hanging up");
                    self.end_call(now, call_id, Side::Switch, sip);
                }
                Err(DialElsewhere::Gone)
            }
            Some(_) => {
                // Echo, record, a conference: the call goes there and the
                // flow ends.
                let _ = self.transfer(now, call_id, &Destination::Did(number.into()), sip);
                Err(DialElsewhere::Gone)
            }
            None => {
                warn!(%number, "the flow dials a DID that is not ours");
                Err(DialElsewhere::Failed)
            }
        }
    }

    /// Renders a dial's whisper while the dial rings, so that it is ready
    /// when the far end answers.
    fn warm_whisper(&mut self, whisper: &[Audio]) {
        for audio in whisper {
            if let Audio::Say { text, voice } = audio
                && self.cx.audio.said(text, voice.as_deref()).is_none()
            {
                self.cx.effects.push(Effect::Say {
                    text: text.clone(),
                    voice: voice.clone(),
                    play: None,
                });
            }
        }
    }

    /// The flow's dial was answered and bridged: the flow hears of it.
    pub(super) fn flow_dial_answered(&mut self, now: Instant, call_id: &str, sip: &mut Endpoint) {
        let Some(run) = self.flow_of(call_id) else {
            return;
        };
        let Some(id) = run.dial.as_ref().map(|dial| dial.id) else {
            return;
        };
        self.flow_event(now, call_id, ivr::Event::DialAnswered { id }, sip);
    }

    /// A flow's dial is over (the far end hung up, refused, or never
    /// answered): the caller goes back to the flow. False when the call
    /// has no flow's dial (the call ends as calls do).
    pub(super) fn end_flow_dial(
        &mut self,
        now: Instant,
        call_id: &str,
        status: DialStatus,
        sip: &mut Endpoint,
    ) -> bool {
        let Some(run) = self.flow_of(call_id) else {
            return false;
        };
        let Some(dial) = run.dial.take() else {
            return false;
        };
        info!(status = status.as_str(), "the flow's dial is over");
        // The far end is gone already (BYE, a final response, no answer).
        self.release_outbound_of(now, call_id, false, sip);
        let Some(call) = self.calls.get_mut(call_id) else {
            return false;
        };
        call.note_hold(now);
        call.clock.enter(now, Phase::Ivr);
        self.cx.media.stop_playback(&call.caller.media);
        self.cx.media.isolate(&call.caller.media);
        self.flow_event(
            now,
            call_id,
            ivr::Event::DialEnded {
                id: dial.id,
                status,
            },
            sip,
        );
        true
    }
}

/// The call leaves its flow (it ends, or is transferred): a voicemail
/// message being taken is kept, and the time with the flow counted.
pub(super) fn leave_flow(cx: &mut Context, now: Instant, call: &mut Call) {
    let Some(mut run) = call.flow.take() else {
        return;
    };
    cx.timers.cancel(&(call.id.clone(), CallTimer::FlowTimeout));
    if let Some(recording) = run.recording.take() {
        cx.media.stop_recording(&call.caller.media);
        cx.media.detect_speech(&call.caller.media, false);
        let duration = now.saturating_duration_since(recording.started);
        let ended = (cx.wall(now), duration);
        actions::recording_over(&mut cx.effects, ended, call, recording);
    }
}
