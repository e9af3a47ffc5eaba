//! What names the engine's channels and mixes, and what a channel
//! reports: shared by the engine and the call control that drives it (or
//! a fake of it), so it builds without the engine's threads.

use crate::channel::ChannelEvent;
use crate::detector::SpeechEvent;
use crate::mixer::ParticipantId;
use crate::player::PlayerEvent;

/// Names a channel within the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(u64);

impl ChannelId {
    /// The channel numbered `number` (the engine numbers its channels;
    /// fakes of it number theirs).
    pub const fn new(number: u64) -> Self {
        Self(number)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The channel as a participant of a mix (for [`crate::mixer::Role::Whisper`]'s `to`).
    pub const fn participant(self) -> ParticipantId {
        ParticipantId::new(self.0)
    }
}

/// Names a mix (a conference, or a call something listens to) within the
/// engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MixId(u64);

impl MixId {
    /// The mix numbered `number`.
    pub const fn new(number: u64) -> Self {
        Self(number)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// What a channel reported, for the call controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEvent {
    /// The channel.
    pub channel: ChannelId,
    /// What happened.
    pub kind: MediaEventKind,
}

/// What happened on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEventKind {
    /// The channel's protocol reported something (a digit, a latch, an
    /// RTCP BYE, a media timeout).
    Channel(ChannelEvent),
    /// Its player finished or was stopped.
    Playback {
        /// What happened.
        event: PlayerEvent,
        /// The player's tag ([`crate::player::Player::tagged`]).
        tag: u64,
    },
    /// The caller's speech started or ended, while speech is detected
    /// (the engine's `ChannelHandle::detect_speech`).
    Speech(SpeechEvent),
}
