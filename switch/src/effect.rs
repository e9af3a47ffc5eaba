//! What call control needs done outside it, as typed effects: a record
//! to store, a live event to publish, speech to render, audio or a
//! webhook to fetch, a voicemail message to file. The binary carries them
//! out ([`crate::Switch::poll_effect`]); what comes back (a render, a
//! webhook's answer) comes in as a [`crate::Command`].

use crate::cdr::{Cdr, Direction, HungUpBy};
use crate::id::CallId;
use media::player::Prompt;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// One thing to be done outside call control.
#[derive(Debug)]
pub enum Effect {
    /// Store a call's record (every call gets exactly one, however it
    /// ends).
    Cdr(Box<Cdr>),
    /// Publish a live event.
    Event(CallEvent),
    /// Render `text` in `voice`; when `play` names a call's flow's play,
    /// the prompt (or why none) comes back as
    /// [`crate::Command::FlowAudio`]; else it is only made ready for
    /// later (a whisper rendered while its dial rings).
    Say {
        /// The text.
        text: String,
        /// The voice, if the flow names one.
        voice: Option<String>,
        /// The call and play waiting for it.
        play: Option<(CallId, u64)>,
    },
    /// Fetch the audio at `url` for a call's flow's play; it comes back as
    /// [`crate::Command::FlowAudio`].
    FetchAudio {
        /// Where.
        url: String,
        /// The call and play waiting for it.
        play: (CallId, u64),
    },
    /// POST a call's flow's variables to `url`; the verbs it answers come
    /// back as [`crate::Command::FlowWebhook`].
    Webhook {
        /// The call.
        call_id: CallId,
        /// The fetch's id in the flow.
        fetch: u64,
        /// Where.
        url: String,
        /// What is posted.
        variables: BTreeMap<String, String>,
    },
    /// A voicemail message was recorded: file it in its box.
    Voicemail(VoicemailMessage),
}

/// A voicemail message, recorded and finished.
#[derive(Debug, Clone)]
pub struct VoicemailMessage {
    /// The box.
    pub mailbox: String,
    /// The call it was left on.
    pub call_id: String,
    /// Who left it.
    pub caller_id: String,
    /// The number called.
    pub did: String,
    /// The file's name in the voicemail directory.
    pub file: String,
    /// The file.
    pub path: PathBuf,
    /// Its length.
    pub duration: Duration,
    /// When it ended.
    pub received_at: SystemTime,
}

/// What call control tells operators as it happens. The binary publishes
/// each one on its live event stream.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// An INVITE (or the API) started a call.
    CallCreated {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// Which way.
        direction: Direction,
        /// The caller.
        caller_id: String,
        /// The number dialled.
        number_dialed: String,
        /// What handles it.
        route: String,
    },
    /// An INVITE was refused before a call existed.
    CallRefused {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// The number dialled.
        number_dialed: String,
        /// The final status the caller got.
        sip_status: u16,
    },
    /// The called phone or trunk is ringing.
    CallRinging {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
    },
    /// The caller was answered.
    CallAnswered {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
    },
    /// The called party answered and the two were joined.
    CallBridged {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
    },
    /// The call was transferred to a new route.
    CallTransferred {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// What handles it now.
        route: String,
    },
    /// A call's IVR flow did something.
    CallFlow {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// The flow's id (0 for a DID's compiled settings).
        flow: i64,
        /// What it did.
        action: String,
    },
    /// A digit was pressed on one of the call's legs.
    Dtmf {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: String,
        /// How long it was held, in milliseconds.
        duration_ms: u64,
        /// `rfc4733` or `inband`.
        source: String,
    },
    /// Recording began.
    RecordingStarted {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// The file's name in the recordings directory.
        file: String,
    },
    /// The call ended.
    CallEnded {
        /// The call's id.
        call_id: String,
        /// When.
        at: SystemTime,
        /// Who ended it.
        hung_up_by: HungUpBy,
        /// The final status the caller got (200 if answered).
        sip_status: u16,
        /// Talk time, in seconds.
        talk_seconds: f64,
    },
    /// A phone registered a contact.
    RegistrationAdded {
        /// When.
        at: SystemTime,
        /// The phone's extension.
        user: String,
    },
    /// A contact went: unregistered, expired or replaced.
    RegistrationRemoved {
        /// When.
        at: SystemTime,
        /// The phone's extension.
        user: String,
        /// Why, as the registrar says it.
        reason: String,
    },
}

/// Effects waiting to be polled, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Effects(VecDeque<Effect>);

impl Effects {
    /// Queues a live event.
    pub(crate) fn publish(&mut self, event: CallEvent) {
        self.0.push_back(Effect::Event(event));
    }

    /// Queues a call's record.
    pub(crate) fn record(&mut self, cdr: Cdr) {
        self.0.push_back(Effect::Cdr(Box::new(cdr)));
    }

    /// Queues any effect.
    pub(crate) fn push(&mut self, effect: Effect) {
        self.0.push_back(effect);
    }

    /// The oldest effect.
    pub(crate) fn pop(&mut self) -> Option<Effect> {
        self.0.pop_front()
    }
}

/// Speech and fetched audio already at hand, which a flow plays at once
/// (the rest is asked for with [`Effect::Say`] and
/// [`Effect::FetchAudio`]).
pub trait RenderedAudio: Send {
    /// Whether speech can be rendered at all.
    fn can_say(&self) -> bool;
    /// `text` in `voice`, if rendered before.
    fn said(&self, text: &str, voice: Option<&str>) -> Option<Prompt>;
    /// The audio at `url`, if fetched before.
    fn fetched(&self, url: &str) -> Option<Prompt>;
}

/// No speech and nothing fetched: every `say` is missing, every URL is
/// fetched.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAudio;

impl RenderedAudio for NoAudio {
    fn can_say(&self) -> bool {
        false
    }

    fn said(&self, _text: &str, _voice: Option<&str>) -> Option<Prompt> {
        None
    }

    fn fetched(&self, _url: &str) -> Option<Prompt> {
        None
    }
}
