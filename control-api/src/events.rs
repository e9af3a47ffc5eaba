//! The live event stream: what the call controller tells operators as it
//! happens (calls created, ringing, answered, bridged, digits, ended;
//! registrations), fanned out to every `/api/v1/events` subscriber. A slow
//! subscriber that falls more than [`CAPACITY`] events behind is told how
//! many it missed; the calls never wait for anyone.

use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::cdr::{Direction, HungUpBy};

/// Events kept for subscribers that lag.
pub const CAPACITY: usize = 1024;

/// One event. `at` is RFC 3339 UTC with milliseconds.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum LiveEvent {
    /// An INVITE started a call.
    #[serde(rename = "call.created")]
    CallCreated {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
        /// `inbound` (someone called us) or `outbound` (placed through the API).
        direction: Direction,
        /// The caller.
        caller_id: String,
        /// The number dialled.
        number_dialed: String,
        /// What handles it.
        route: String,
    },
    /// An INVITE was refused before a call existed.
    #[serde(rename = "call.refused")]
    CallRefused {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
        /// The number dialled.
        number_dialed: String,
        /// The final status the caller got.
        sip_status: u16,
    },
    /// The called phone or trunk is ringing.
    #[serde(rename = "call.ringing")]
    CallRinging {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
    },
    /// The caller was answered.
    #[serde(rename = "call.answered")]
    CallAnswered {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
    },
    /// The called party answered and the two were joined.
    #[serde(rename = "call.bridged")]
    CallBridged {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
    },
    /// The call was transferred (through the API) to a new route.
    #[serde(rename = "call.transferred")]
    CallTransferred {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
        /// What handles it now.
        route: String,
    },
    /// A call's IVR flow did something: the branches a caller takes show
    /// as the plays, recordings and dials that follow their keys.
    #[serde(rename = "call.flow")]
    CallFlow {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
        /// The flow's id.
        flow: i64,
        /// What it did, e.g. `play prompt en/greeting`, `record
        /// box=5000`, `dial phone 1001`, `hangup`.
        action: String,
    },
    /// A voicemail message was left and is listed under
    /// `/api/v1/voicemails`.
    #[serde(rename = "voicemail.received")]
    VoicemailReceived {
        /// The message's id.
        voicemail_id: i64,
        /// When it was left.
        at: String,
        /// The box.
        mailbox: String,
        /// The call it was left on.
        call_id: String,
        /// Who left it.
        caller_id: String,
        /// The number called.
        did: String,
        /// Its length.
        duration_seconds: f64,
    },
    /// A digit was pressed on one of the call's legs.
    #[serde(rename = "call.dtmf")]
    Dtmf {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: String,
        /// How long it was held, in milliseconds.
        duration_ms: u64,
        /// `rfc4733` or `inband`.
        source: String,
    },
    /// Recording began.
    #[serde(rename = "recording.started")]
    RecordingStarted {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
        /// The file's name in the recordings directory.
        file: String,
    },
    /// A call's recording ended and is listed under `/api/v1/recordings`.
    #[serde(rename = "recording.finished")]
    RecordingFinished {
        /// The call's id.
        call_id: String,
        /// When (the call's end).
        at: String,
        /// The recording's id.
        recording_id: String,
        /// The file's name in the recordings directory.
        file: String,
    },
    /// The call ended.
    #[serde(rename = "call.ended")]
    CallEnded {
        /// The call's id.
        call_id: String,
        /// When.
        at: String,
        /// Who ended it.
        hung_up_by: HungUpBy,
        /// The final status the caller got (200 if answered).
        sip_status: u16,
        /// Talk time, in seconds.
        talk_seconds: f64,
    },
    /// A phone registered a contact.
    #[serde(rename = "registration.added")]
    RegistrationAdded {
        /// When.
        at: String,
        /// The phone's extension.
        user: String,
    },
    /// A contact went: unregistered, expired or replaced.
    #[serde(rename = "registration.removed")]
    RegistrationRemoved {
        /// When.
        at: String,
        /// The phone's extension.
        user: String,
        /// Why, as the registrar says it.
        reason: String,
    },
}

impl LiveEvent {
    /// The event's `type`, for the SSE `event:` line.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CallCreated { .. } => "call.created",
            Self::CallRefused { .. } => "call.refused",
            Self::CallRinging { .. } => "call.ringing",
            Self::CallAnswered { .. } => "call.answered",
            Self::CallBridged { .. } => "call.bridged",
            Self::CallTransferred { .. } => "call.transferred",
            Self::Dtmf { .. } => "call.dtmf",
            Self::CallFlow { .. } => "call.flow",
            Self::VoicemailReceived { .. } => "voicemail.received",
            Self::RecordingStarted { .. } => "recording.started",
            Self::RecordingFinished { .. } => "recording.finished",
            Self::CallEnded { .. } => "call.ended",
            Self::RegistrationAdded { .. } => "registration.added",
            Self::RegistrationRemoved { .. } => "registration.removed",
        }
    }
}

/// Where events are published; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventHub(broadcast::Sender<LiveEvent>);

impl EventHub {
    /// A hub with room for [`CAPACITY`] events per lagging subscriber.
    pub fn new() -> Self {
        Self(broadcast::channel(CAPACITY).0)
    }

    /// Publishes `event` to the subscribers there are (none is fine).
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.0.send(event);
    }

    /// A new subscriber, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.0.subscribe()
    }
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new()
    }
}

impl From<switch::CallEvent> for LiveEvent {
    fn from(event: switch::CallEvent) -> LiveEvent {
        use switch::CallEvent as E;
        let at = |at| crate::cdr::timestamp(at);
        match event {
            E::CallCreated {
                call_id,
                at: when,
                direction,
                caller_id,
                number_dialed,
                route,
            } => LiveEvent::CallCreated {
                call_id,
                at: at(when),
                direction: direction.into(),
                caller_id,
                number_dialed,
                route,
            },
            E::CallRefused {
                call_id,
                at: when,
                number_dialed,
                sip_status,
            } => LiveEvent::CallRefused {
                call_id,
                at: at(when),
                number_dialed,
                sip_status,
            },
            E::CallRinging { call_id, at: when } => LiveEvent::CallRinging {
                call_id,
                at: at(when),
            },
            E::CallAnswered { call_id, at: when } => LiveEvent::CallAnswered {
                call_id,
                at: at(when),
            },
            E::CallBridged { call_id, at: when } => LiveEvent::CallBridged {
                call_id,
                at: at(when),
            },
            E::CallTransferred {
                call_id,
                at: when,
                route,
            } => LiveEvent::CallTransferred {
                call_id,
                at: at(when),
                route,
            },
            E::CallFlow {
                call_id,
                at: when,
                flow,
                action,
            } => LiveEvent::CallFlow {
                call_id,
                at: at(when),
                flow,
                action,
            },
            E::Dtmf {
                call_id,
                at: when,
                digit,
                duration_ms,
                source,
            } => LiveEvent::Dtmf {
                call_id,
                at: at(when),
                digit,
                duration_ms,
                source,
            },
            E::RecordingStarted {
                call_id,
                at: when,
                file,
            } => LiveEvent::RecordingStarted {
                call_id,
                at: at(when),
                file,
            },
            E::CallEnded {
                call_id,
                at: when,
                hung_up_by,
                sip_status,
                talk_seconds,
            } => LiveEvent::CallEnded {
                call_id,
                at: at(when),
                hung_up_by: hung_up_by.into(),
                sip_status,
                talk_seconds,
            },
            E::RegistrationAdded { at: when, user } => {
                LiveEvent::RegistrationAdded { at: at(when), user }
            }
            E::RegistrationRemoved {
                at: when,
                user,
                reason,
            } => LiveEvent::RegistrationRemoved {
                at: at(when),
                user,
                reason,
            },
        }
    }
}
