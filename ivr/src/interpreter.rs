//! The flow interpreter: runs one call's flow, sans-IO.
//!
//! The call's driver feeds it what happened ([`Event`]: a prompt finished,
//! a digit, the caller hung up, a dial answered, a webhook's verbs…) and
//! the time, and carries out what it asks ([`Action`]: answer, play,
//! record, dial, fetch…). It keeps no sockets, files or clocks: every
//! timeout (gather, menu, record, dial, webhook, pause, ring) is a
//! deadline it reports through [`Interpreter::poll_timeout`].
//!
//! ```text
//!            ┌──────────────── next verb ◄──────────────────┐
//!            ▼                                               │
//!   Running ─┬─ answer, set, if, hangup (at once) ───────────┤
//!            ├─ ring, pause, hold_music ──► Waiting ─────────┤ deadline
//!            ├─ say, play ───────────────► Playing ──────────┤ PlaybackFinished
//!            ├─ gather, menu ────────────► Collecting ───────┤ digits, timeouts
//!            ├─ record, voicemail ───────► Recording ────────┤ RecordingFinished
//!            ├─ dial ────────────────────► Dialing ──────────┤ DialEnded, timeout
//!            └─ webhook, redirect ───────► Fetching ─────────┘ verbs, failure
//!   any state ── CallerHungUp / hangup / end of the flow ──► Ended
//! ```
//!
//! Plays, recordings, dials and fetches carry an id, so a late report of
//! one that was stopped or timed out is told from the current one.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::flow::{DialTarget, Flow, Verb};

/// How long one `ring` lasts (the North American cadence, 2 s on, 4 s off).
pub const RING: Duration = Duration::from_secs(6);
/// Redirects and webhook flows one call may go through; past that it is
/// hung up (a flow that redirects to itself).
pub const MAX_REDIRECTS: u32 = 16;
/// Voicemail's defaults: the longest message, the silence that ends it,
/// and the key that ends it.
pub const VOICEMAIL_MAX: Duration = Duration::from_secs(120);
/// See [`VOICEMAIL_MAX`].
pub const VOICEMAIL_SILENCE: Duration = Duration::from_secs(5);
/// See [`VOICEMAIL_MAX`].
pub const VOICEMAIL_FINISH_KEY: char = '#';

/// Something to play to the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Audio {
    /// A prompt by name (bundled or uploaded).
    Prompt(String),
    /// A WAV file at a URL (fetched once, cached).
    Url(String),
    /// Text to speech.
    Say {
        /// The text.
        text: String,
        /// The voice, or the server's default.
        voice: Option<String>,
    },
    /// Silence.
    Silence(Duration),
    /// The beep before a recording.
    Beep,
}

/// Whom a `dial` reached, or why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialStatus {
    /// Answered (and the bridge has ended).
    Answered,
    /// Rang out unanswered.
    NoAnswer,
    /// Busy.
    Busy,
    /// Could not be called.
    Failed,
}

impl DialStatus {
    /// The `dial_status` variable's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::NoAnswer => "no-answer",
            Self::Busy => "busy",
            Self::Failed => "failed",
        }
    }
}

/// What happened on the call, for the interpreter.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A play ended (or was stopped).
    PlaybackFinished {
        /// The play's id.
        id: u64,
    },
    /// The caller pressed a key (`0`-`9`, `*`, `#`, `A`-`D`).
    DigitReceived {
        /// The key.
        digit: char,
    },
    /// The caller started speaking (for a recording's silence timeout).
    VoiceStarted,
    /// The caller stopped speaking.
    VoiceStopped,
    /// A recording ended and is kept.
    RecordingFinished {
        /// The recording's id.
        id: u64,
        /// Its length.
        duration: Duration,
    },
    /// The dialled party answered; the caller is bridged to it.
    DialAnswered {
        /// The dial's id.
        id: u64,
    },
    /// A dial is over: the bridge ended, or it never answered.
    DialEnded {
        /// The dial's id.
        id: u64,
        /// How it went.
        status: DialStatus,
    },
    /// A webhook answered with verbs.
    WebhookAnswered {
        /// The fetch's id.
        id: u64,
        /// The verbs, checked as a flow.
        flow: Flow,
    },
    /// A webhook failed (unreachable, an error status, not a flow).
    WebhookFailed {
        /// The fetch's id.
        id: u64,
    },
    /// A flow asked for with [`Action::LoadFlow`] was read.
    FlowLoaded {
        /// The load's id.
        id: u64,
        /// The flow's current version.
        flow: Flow,
    },
    /// A flow asked for does not exist (any more).
    FlowMissing {
        /// The load's id.
        id: u64,
    },
    /// The caller hung up.
    CallerHungUp,
}

/// What the driver is to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer the call (200 OK).
    Answer,
    /// Ring for this long: 180 before the answer, ringback after.
    Ring(Duration),
    /// Play to the caller, replacing what plays; report
    /// [`Event::PlaybackFinished`] with `id`.
    Play {
        /// The play's id.
        id: u64,
        /// What.
        audio: Audio,
    },
    /// Stop what plays (a key barged in, or the wait is over).
    StopPlayback,
    /// Record the caller until [`Action::StopRecording`]; report
    /// [`Event::RecordingFinished`] with `id`.
    Record {
        /// The recording's id.
        id: u64,
        /// Into this voicemail box, or the call's recordings.
        mailbox: Option<String>,
    },
    /// Finish the recording.
    StopRecording {
        /// Its id.
        id: u64,
    },
    /// Call someone and bridge the caller to whoever answers; report
    /// [`Event::DialAnswered`] and [`Event::DialEnded`] with `id`.
    Dial {
        /// The dial's id.
        id: u64,
        /// Whom.
        target: DialTarget,
        /// The caller ID to show.
        caller_id: String,
        /// Played to the answering party only, before the bridge.
        whisper: Vec<Audio>,
    },
    /// Give up a dial still ringing.
    CancelDial {
        /// Its id.
        id: u64,
    },
    /// Play hold music (a prompt by name, or the server's own) until
    /// [`Action::StopPlayback`].
    HoldMusic {
        /// The prompt.
        prompt: Option<String>,
    },
    /// POST the call's variables to `url`; report
    /// [`Event::WebhookAnswered`] or [`Event::WebhookFailed`] with `id`.
    Fetch {
        /// The fetch's id.
        id: u64,
        /// The operator's URL.
        url: String,
        /// The call's variables.
        variables: BTreeMap<String, String>,
    },
    /// Read flow `flow`; report [`Event::FlowLoaded`] or
    /// [`Event::FlowMissing`] with `id`.
    LoadFlow {
        /// The load's id.
        id: u64,
        /// The flow's id.
        flow: i64,
    },
    /// Hang up.
    Hangup,
}

/// The verbs of one level: the flow, or a branch inside it.
#[derive(Debug)]
struct Frame {
    verbs: Vec<Verb>,
    next: usize,
}

/// What a `gather` or a `menu` does with keys.
#[derive(Debug)]
enum Collect {
    Gather {
        num_digits: Option<usize>,
        finish_on_key: Option<char>,
    },
    Menu {
        options: BTreeMap<String, Vec<Verb>>,
    },
}

/// A `gather` or `menu` in progress.
#[derive(Debug)]
struct Collecting {
    collect: Collect,
    prompt: Vec<Audio>,
    invalid: Vec<Audio>,
    timeout: Duration,
    retries_left: u32,
    digits: String,
    /// What plays now, if anything.
    playing: Option<PromptPlaying>,
    /// The wait for a (next) key, once nothing plays.
    deadline: Option<Instant>,
}

impl Collecting {
    /// A gather or menu about to ask, with its prompt and invalid-input
    /// prompt verbs, its wait for a key and its tries.
    fn new(
        collect: Collect,
        prompt: &[Verb],
        invalid: &[Verb],
        timeout_seconds: u32,
        retries: u32,
    ) -> Box<Collecting> {
        Box::new(Collecting {
            collect,
            prompt: audios(prompt),
            invalid: audios(invalid),
            timeout: Duration::from_secs(u64::from(timeout_seconds)),
            retries_left: retries,
            digits: String::new(),
            playing: None,
            deadline: None,
        })
    }
}

/// A gather's or menu's prompt playing.
#[derive(Debug, Clone, Copy)]
struct PromptPlaying {
    /// The invalid-input prompt (another try follows), else the prompt
    /// (the wait for keys follows).
    invalid: bool,
    /// The item after the one playing.
    next: usize,
    /// The play's id.
    id: u64,
}

/// A `record` or `voicemail` in progress: the beep (`beep` is its play
/// id), then the recording `id`, until the key, the longest length, or
/// silence.
#[derive(Debug)]
struct Recording {
    id: u64,
    beep: Option<u64>,
    mailbox: Option<String>,
    finish_on_key: Option<char>,
    max: Duration,
    silence: Duration,
    max_deadline: Option<Instant>,
    silence_deadline: Option<Instant>,
    stopping: bool,
}

impl Recording {
    /// Asks for the recording to finish; nothing more times it.
    fn stop(&mut self, actions: &mut VecDeque<Action>) {
        actions.push_back(Action::StopRecording { id: self.id });
        self.stopping = true;
        self.max_deadline = None;
        self.silence_deadline = None;
    }

    /// Whether the caller is being recorded (the beep is over, no stop
    /// asked).
    fn is_recording(&self) -> bool {
        self.beep.is_none() && !self.stopping
    }
}

/// What the interpreter waits for.
#[derive(Debug)]
enum State {
    /// Ready for the next verb.
    Running,
    /// `ring`, `pause` or `hold_music`: until the deadline (hold music
    /// without one: until the call moves on).
    Waiting {
        until: Option<Instant>,
        stop_playback: bool,
    },
    /// `say`, `play`: `left` more times after the one with `id`.
    Playing { id: u64, audio: Audio, left: u32 },
    /// `gather`, `menu`.
    Collecting(Box<Collecting>),
    /// `record`, `voicemail`.
    Recording(Recording),
    /// `dial`: until it ends, or rings out at the deadline.
    Dialing { id: u64, deadline: Option<Instant> },
    /// `webhook` (with its fallback flow) or `redirect`.
    Fetching {
        id: u64,
        deadline: Option<Instant>,
        fallback: Option<i64>,
    },
    /// Hung up.
    Ended,
}

/// One call's flow, running.
#[derive(Debug)]
pub struct Interpreter {
    frames: Vec<Frame>,
    state: State,
    variables: BTreeMap<String, String>,
    actions: VecDeque<Action>,
    answered: bool,
    redirects: u32,
    next_id: u64,
    started: Instant,
    /// Local time of day at `started` (the DID's zone), for `time`.
    local_at_start: Duration,
}

/// Seconds in a day.
const DAY: u64 = 24 * 3600;

impl Interpreter {
    /// Starts `flow` for a call at `now`, whose DID's local time of day
    /// is `local_time` (since midnight), with the call's variables
    /// (`caller_id`, `did`, …).
    pub fn new(
        flow: Flow,
        now: Instant,
        local_time: Duration,
        variables: BTreeMap<String, String>,
    ) -> Interpreter {
        let mut interpreter = Interpreter {
            frames: vec![Frame {
                verbs: flow.verbs,
                next: 0,
            }],
            state: State::Running,
            variables,
            actions: VecDeque::new(),
            answered: false,
            redirects: 0,
            next_id: 0,
            started: now,
            local_at_start: local_time,
        };
        interpreter.variables.entry("digits".into()).or_default();
        interpreter.run(now);
        interpreter
    }

    /// The call's variables now.
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.variables
    }

    /// Whether the flow is over (hung up).
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Interpreter::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Waiting { until, .. } => *until,
            State::Collecting(collecting) => collecting.deadline,
            State::Recording(recording) => [recording.max_deadline, recording.silence_deadline]
                .into_iter()
                .flatten()
                .min(),
            State::Dialing { deadline, .. } | State::Fetching { deadline, .. } => *deadline,
            State::Running | State::Playing { .. } | State::Ended => None,
        }
    }

    /// Something happened on the call.
    pub fn handle_event(&mut self, now: Instant, event: Event) {
        if event == Event::CallerHungUp {
            self.state = State::Ended;
            return;
        }
        let state = std::mem::replace(&mut self.state, State::Running);
        self.state = match (state, event) {
            (State::Playing { id, audio, left }, Event::PlaybackFinished { id: done })
                if id == done =>
            {
                if left > 0 {
                    let id = self.play(audio.clone());
                    State::Playing {
                        id,
                        audio,
                        left: left - 1,
                    }
                } else {
                    State::Running
                }
            }
            (State::Collecting(collecting), event) => self.collect(now, collecting, event),
            (State::Recording(recording), event) => self.recording_event(now, recording, event),
            (State::Dialing { id, deadline }, Event::DialAnswered { id: done }) if id == done => {
                let _ = deadline;
                State::Dialing { id, deadline: None }
            }
            (State::Dialing { id, .. }, Event::DialEnded { id: done, status }) if id == done => {
                self.variables
                    .insert("dial_status".into(), status.as_str().into());
                State::Running
            }
            (State::Fetching { id, .. }, Event::WebhookAnswered { id: done, flow })
            | (State::Fetching { id, .. }, Event::FlowLoaded { id: done, flow })
                if id == done =>
            {
                self.frames = vec![Frame {
                    verbs: flow.verbs,
                    next: 0,
                }];
                State::Running
            }
            (State::Fetching { id, fallback, .. }, Event::WebhookFailed { id: done })
                if id == done =>
            {
                self.fall_back(fallback)
            }
            (State::Fetching { id, .. }, Event::FlowMissing { id: done }) if id == done => {
                self.actions.push_back(Action::Hangup);
                State::Ended
            }
            // Anything else is stale (a report of something stopped) or
            // means nothing here (a key while a prompt plays).
            (state, _) => state,
        };
        self.run(now);
    }

    /// A deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_none_or(|due| due > now) {
            return;
        }
        let state = std::mem::replace(&mut self.state, State::Running);
        self.state = match state {
            State::Waiting { stop_playback, .. } => {
                if stop_playback {
                    self.actions.push_back(Action::StopPlayback);
                }
                State::Running
            }
            State::Collecting(collecting) => self.collect_timeout(now, collecting),
            State::Recording(mut recording) => {
                recording.stop(&mut self.actions);
                State::Recording(recording)
            }
            State::Dialing { id, .. } => {
                self.actions.push_back(Action::CancelDial { id });
                self.variables
                    .insert("dial_status".into(), DialStatus::NoAnswer.as_str().into());
                State::Running
            }
            State::Fetching { fallback, .. } => self.fall_back(fallback),
            state => state,
        };
        self.run(now);
    }

    /// A webhook failed or timed out: its fallback flow, else on.
    fn fall_back(&mut self, fallback: Option<i64>) -> State {
        match fallback {
            Some(flow) => self.load(flow, None),
            None => State::Running,
        }
    }

    /// Asks for flow `flow` (a redirect, a webhook's fallback).
    fn load(&mut self, flow: i64, fallback: Option<i64>) -> State {
        self.redirects += 1;
        if self.redirects > MAX_REDIRECTS {
            self.actions.push_back(Action::Hangup);
            return State::Ended;
        }
        let id = self.new_id();
        self.actions.push_back(Action::LoadFlow { id, flow });
        State::Fetching {
            id,
            deadline: None,
            fallback,
        }
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn play(&mut self, audio: Audio) -> u64 {
        let id = self.new_id();
        self.actions.push_back(Action::Play { id, audio });
        id
    }

    fn answer(&mut self) {
        if !self.answered {
            self.answered = true;
            self.actions.push_back(Action::Answer);
        }
    }

    /// The local time of day now, `HH:MM`.
    fn local_time(&self, now: Instant) -> String {
        let seconds =
            (self.local_at_start + now.saturating_duration_since(self.started)).as_secs() % DAY;
        format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
    }

    /// Runs verbs until one waits or the flow ends.
    fn run(&mut self, now: Instant) {
        while matches!(self.state, State::Running) {
            let Some(frame) = self.frames.last_mut() else {
                // The end of the flow.
                self.actions.push_back(Action::Hangup);
                self.state = State::Ended;
                return;
            };
            let Some(verb) = frame.verbs.get(frame.next).cloned() else {
                self.frames.pop();
                continue;
            };
            frame.next += 1;
            self.state = self.start(now, verb);
        }
    }

    /// Starts one verb: the state it leaves the interpreter in.
    fn start(&mut self, now: Instant, verb: Verb) -> State {
        match verb {
            Verb::Answer {} => {
                self.answer();
                State::Running
            }
            Verb::Ring { count } => {
                let duration = RING * count;
                self.actions.push_back(Action::Ring(duration));
                State::Waiting {
                    until: Some(now + duration),
                    stop_playback: false,
                }
            }
            verb @ (Verb::Say { .. } | Verb::Play { .. }) => {
                self.answer();
                let (audio, repeat) = audio_of(&verb).expect("say and play are audio");
                let id = self.play(audio.clone());
                State::Playing {
                    id,
                    audio,
                    left: repeat.saturating_sub(1),
                }
            }
            Verb::Pause { seconds } => State::Waiting {
                until: Some(now + Duration::from_secs_f64(seconds.clamp(0.0, 3600.0))),
                stop_playback: false,
            },
            Verb::Gather {
                prompt,
                num_digits,
                finish_on_key,
                timeout_seconds,
                retries,
                invalid_prompt,
            } => {
                self.answer();
                self.variables.insert("digits".into(), String::new());
                let collect = Collect::Gather {
                    num_digits: num_digits.map(|n| n as usize),
                    finish_on_key: finish_on_key.and_then(|key| key.chars().next()),
                };
                let collecting =
                    Collecting::new(collect, &prompt, &invalid_prompt, timeout_seconds, retries);
                self.ask(now, collecting)
            }
            Verb::Menu {
                prompt,
                options,
                invalid,
                timeout_seconds,
                retries,
            } => {
                self.answer();
                let collect = Collect::Menu { options };
                let collecting =
                    Collecting::new(collect, &prompt, &invalid, timeout_seconds, retries);
                self.ask(now, collecting)
            }
            Verb::Record {
                beep,
                finish_on_key,
                max_seconds,
                silence_seconds,
            } => self.record(
                now,
                beep,
                None,
                finish_on_key.and_then(|key| key.chars().next()),
                Duration::from_secs(u64::from(max_seconds)),
                Duration::from_secs(u64::from(silence_seconds)),
            ),
            Verb::Voicemail {
                mailbox,
                finish_on_key,
                max_seconds,
                silence_seconds,
            } => self.record(
                now,
                true,
                Some(mailbox),
                Some(
                    finish_on_key
                        .and_then(|key| key.chars().next())
                        .unwrap_or(VOICEMAIL_FINISH_KEY),
                ),
                Duration::from_secs(u64::from(max_seconds)),
                Duration::from_secs(u64::from(silence_seconds)),
            ),
            Verb::Dial {
                target,
                timeout_seconds,
                caller_id,
                whisper,
            } => {
                let id = self.new_id();
                let caller_id = caller_id
                    .or_else(|| self.variables.get("caller_id").cloned())
                    .unwrap_or_else(|| "anonymous".into());
                self.actions.push_back(Action::Dial {
                    id,
                    target,
                    caller_id,
                    whisper: audios(&whisper),
                });
                State::Dialing {
                    id,
                    deadline: Some(now + Duration::from_secs(u64::from(timeout_seconds))),
                }
            }
            Verb::HoldMusic { prompt, seconds } => {
                self.answer();
                self.actions.push_back(Action::HoldMusic { prompt });
                State::Waiting {
                    until: seconds.map(|seconds| now + Duration::from_secs(u64::from(seconds))),
                    stop_playback: true,
                }
            }
            Verb::Redirect { flow } => self.load(flow, None),
            Verb::Webhook {
                url,
                timeout_seconds,
                fallback_flow,
            } => {
                let id = self.new_id();
                let mut variables = self.variables.clone();
                variables.insert("time".into(), self.local_time(now));
                self.actions.push_back(Action::Fetch { id, url, variables });
                State::Fetching {
                    id,
                    deadline: Some(now + Duration::from_secs(u64::from(timeout_seconds))),
                    fallback: fallback_flow,
                }
            }
            Verb::Set { variable, value } => {
                self.variables.insert(variable, value);
                State::Running
            }
            Verb::If {
                variable,
                equals,
                starts_with,
                one_of,
                between,
                then,
                otherwise,
            } => {
                let value = if variable == "time" {
                    self.local_time(now)
                } else {
                    self.variables.get(&variable).cloned().unwrap_or_default()
                };
                let holds = equals.is_none_or(|wanted| value == wanted)
                    && starts_with.is_none_or(|prefix| value.starts_with(&prefix))
                    && one_of.is_none_or(|values| values.contains(&value))
                    && between.is_none_or(|[from, to]| {
                        if from <= to {
                            from <= value && value <= to
                        } else {
                            // Past midnight.
                            value >= from || value <= to
                        }
                    });
                let branch = if holds { then } else { otherwise };
                self.frames.push(Frame {
                    verbs: branch,
                    next: 0,
                });
                State::Running
            }
            Verb::Hangup {} => {
                self.actions.push_back(Action::Hangup);
                State::Ended
            }
        }
    }

    /// Starts a recording: the beep first, if wanted.
    fn record(
        &mut self,
        now: Instant,
        beep: bool,
        mailbox: Option<String>,
        finish_on_key: Option<char>,
        max: Duration,
        silence: Duration,
    ) -> State {
        self.answer();
        let id = self.new_id();
        let beep = beep.then(|| self.play(Audio::Beep));
        let recording_now = beep.is_none();
        if recording_now {
            self.actions.push_back(Action::Record {
                id,
                mailbox: mailbox.clone(),
            });
        }
        State::Recording(Recording {
            id,
            beep,
            mailbox,
            finish_on_key,
            max,
            silence,
            max_deadline: recording_now.then_some(now + max),
            silence_deadline: recording_now.then_some(now + silence),
            stopping: false,
        })
    }

    /// An event while a `record` or `voicemail` runs.
    fn recording_event(&mut self, now: Instant, mut recording: Recording, event: Event) -> State {
        match event {
            Event::PlaybackFinished { id } if recording.beep == Some(id) => {
                recording.beep = None;
                self.actions.push_back(Action::Record {
                    id: recording.id,
                    mailbox: recording.mailbox.clone(),
                });
                recording.max_deadline = Some(now + recording.max);
                recording.silence_deadline = Some(now + recording.silence);
            }
            Event::RecordingFinished { id, duration } if id == recording.id => {
                self.variables
                    .insert("recording_seconds".into(), duration.as_secs().to_string());
                return State::Running;
            }
            Event::DigitReceived { digit }
                if recording.is_recording() && Some(digit) == recording.finish_on_key =>
            {
                recording.stop(&mut self.actions);
            }
            Event::VoiceStarted if recording.is_recording() => recording.silence_deadline = None,
            Event::VoiceStopped if recording.is_recording() => {
                recording.silence_deadline = Some(now + recording.silence);
            }
            _ => {}
        }
        State::Recording(recording)
    }

    /// Plays a gather's or menu's prompt (or waits for keys if it has
    /// none).
    fn ask(&mut self, now: Instant, mut collecting: Box<Collecting>) -> State {
        collecting.digits.clear();
        self.play_next(now, &mut collecting, false, 0);
        State::Collecting(collecting)
    }

    /// Plays item `next` of the prompt (or of the invalid-input prompt);
    /// past its last, waits for a key (or asks again).
    fn play_next(&mut self, now: Instant, collecting: &mut Collecting, invalid: bool, next: usize) {
        let items = if invalid {
            &collecting.invalid
        } else {
            &collecting.prompt
        };
        collecting.deadline = None;
        collecting.playing = None;
        match items.get(next).cloned() {
            Some(audio) => {
                let id = self.play(audio);
                collecting.playing = Some(PromptPlaying {
                    invalid,
                    next: next + 1,
                    id,
                });
            }
            None if invalid => self.play_next(now, collecting, false, 0),
            None => collecting.deadline = Some(now + collecting.timeout),
        }
    }

    /// An event while a gather or menu waits.
    fn collect(&mut self, now: Instant, mut collecting: Box<Collecting>, event: Event) -> State {
        match event {
            Event::PlaybackFinished { id } => {
                if let Some(playing) = collecting.playing
                    && playing.id == id
                {
                    self.play_next(now, &mut collecting, playing.invalid, playing.next);
                }
                State::Collecting(collecting)
            }
            Event::DigitReceived { digit } => {
                if collecting.playing.take().is_some() {
                    // Barge-in: a key stops the prompt.
                    self.actions.push_back(Action::StopPlayback);
                }
                match &collecting.collect {
                    Collect::Gather {
                        num_digits,
                        finish_on_key,
                    } => {
                        if Some(digit) == *finish_on_key {
                            // The key alone is no input.
                            return if collecting.digits.is_empty() {
                                self.invalid(now, collecting)
                            } else {
                                self.gathered(&collecting)
                            };
                        }
                        collecting.digits.push(digit);
                        if num_digits.is_some_and(|wanted| collecting.digits.len() >= wanted) {
                            return self.gathered(&collecting);
                        }
                        collecting.deadline = Some(now + collecting.timeout);
                        State::Collecting(collecting)
                    }
                    Collect::Menu { options } => {
                        let key = digit.to_string();
                        self.variables.insert("digits".into(), key.clone());
                        match options.get(&key) {
                            Some(branch) => {
                                self.frames.push(Frame {
                                    verbs: branch.clone(),
                                    next: 0,
                                });
                                State::Running
                            }
                            None => self.invalid(now, collecting),
                        }
                    }
                }
            }
            _ => State::Collecting(collecting),
        }
    }

    /// No (next) key in time.
    fn collect_timeout(&mut self, now: Instant, collecting: Box<Collecting>) -> State {
        match &collecting.collect {
            Collect::Gather { .. } if !collecting.digits.is_empty() => self.gathered(&collecting),
            _ => self.invalid(now, collecting),
        }
    }

    /// No input, or a key with no option: the invalid-input prompt and
    /// another try, or, with no tries left, on with the flow.
    fn invalid(&mut self, now: Instant, mut collecting: Box<Collecting>) -> State {
        if collecting.retries_left == 0 {
            if let Collect::Gather { .. } = collecting.collect {
                self.variables.insert("digits".into(), String::new());
            }
            return State::Running;
        }
        collecting.retries_left -= 1;
        collecting.digits.clear();
        self.play_next(now, &mut collecting, true, 0);
        State::Collecting(collecting)
    }

    /// A gather's input is complete.
    fn gathered(&mut self, collecting: &Collecting) -> State {
        self.variables
            .insert("digits".into(), collecting.digits.clone());
        State::Running
    }
}

/// The audio of a `say`, `play` or `pause` verb, and how many times.
fn audio_of(verb: &Verb) -> Option<(Audio, u32)> {
    match verb {
        Verb::Say {
            text,
            voice,
            repeat,
        } => Some((
            Audio::Say {
                text: text.clone(),
                voice: voice.clone(),
            },
            *repeat,
        )),
        Verb::Play {
            prompt: Some(prompt),
            repeat,
            ..
        } => Some((Audio::Prompt(prompt.clone()), *repeat)),
        Verb::Play {
            url: Some(url),
            repeat,
            ..
        } => Some((Audio::Url(url.clone()), *repeat)),
        Verb::Pause { seconds } => Some((
            Audio::Silence(Duration::from_secs_f64(seconds.clamp(0.0, 3600.0))),
            1,
        )),
        _ => None,
    }
}

/// A prompt's verbs as what to play, repeats spelled out.
fn audios(verbs: &[Verb]) -> Vec<Audio> {
    verbs
        .iter()
        .filter_map(audio_of)
        .flat_map(|(audio, repeat)| std::iter::repeat_n(audio, repeat.max(1) as usize))
        .collect()
}

impl fmt::Display for Audio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Audio::Prompt(name) => write!(f, "prompt {name}"),
            Audio::Url(url) => write!(f, "url {url}"),
            Audio::Say { text, voice: None } => write!(f, "say {text:?}"),
            Audio::Say {
                text,
                voice: Some(voice),
            } => write!(f, "say {text:?} voice={voice}"),
            Audio::Silence(duration) => write!(f, "silence {}", seconds(*duration)),
            Audio::Beep => f.write_str("beep"),
        }
    }
}

/// `5s`, `1.5s`.
fn seconds(duration: Duration) -> String {
    let value = duration.as_secs_f64();
    if value.fract() == 0.0 {
        format!("{value:.0}s")
    } else {
        format!("{value}s")
    }
}

/// Actions as golden transcripts write them (`< play prompt en/greeting`);
/// ids are left out, the transcript runner tracks them.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Answer => f.write_str("answer"),
            Action::Ring(duration) => write!(f, "ring {}", seconds(*duration)),
            Action::Play { audio, .. } => write!(f, "play {audio}"),
            Action::StopPlayback => f.write_str("stop playback"),
            Action::Record { mailbox: None, .. } => f.write_str("record"),
            Action::Record {
                mailbox: Some(mailbox),
                ..
            } => write!(f, "record box={mailbox}"),
            Action::StopRecording { .. } => f.write_str("stop recording"),
            Action::Dial {
                target,
                caller_id,
                whisper,
                ..
            } => {
                let (kind, whom) = match target {
                    DialTarget::Phone(whom) => ("phone", whom),
                    DialTarget::Agent(whom) => ("agent", whom),
                    DialTarget::Number(whom) => ("number", whom),
                    DialTarget::Did(whom) => ("did", whom),
                };
                write!(f, "dial {kind} {whom} caller_id={caller_id}")?;
                for audio in whisper {
                    write!(f, " whisper=[{audio}]")?;
                }
                Ok(())
            }
            Action::CancelDial { .. } => f.write_str("cancel dial"),
            Action::HoldMusic { prompt: None } => f.write_str("hold music"),
            Action::HoldMusic {
                prompt: Some(prompt),
            } => write!(f, "hold music {prompt}"),
            Action::Fetch { url, .. } => write!(f, "fetch {url}"),
            Action::LoadFlow { flow, .. } => write!(f, "load flow {flow}"),
            Action::Hangup => f.write_str("hangup"),
        }
    }
}
