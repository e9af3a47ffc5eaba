//! What call control asks of media, as a trait: the media engine's
//! worker threads implement it in the binary, `fake_media` (feature
//! `test-support`) in tests and benchmarks. Call control names channels
//! and mixes by id and never holds a socket or a thread.

use media::channel::ChannelStats;
use media::dtmf::Digit;
use media::mixer::Role;
use media::player::Player;
use media::sdp::NegotiatedMedia;
use std::path::Path;
use std::time::Duration;

pub use media::event::{ChannelId, MediaEvent, MediaEventKind, MixId};

/// A call leg's media channel: its id, and the local RTP port our SDP
/// names. A closed leg has no channel.
#[derive(Debug, PartialEq, Eq)]
pub struct MediaLeg {
    channel: Option<ChannelId>,
    port: u16,
}

impl MediaLeg {
    /// The leg of channel `channel`, receiving on `port`.
    pub fn new(channel: ChannelId, port: u16) -> MediaLeg {
        MediaLeg {
            channel: Some(channel),
            port,
        }
    }

    /// A leg with no channel (after close).
    pub fn closed() -> MediaLeg {
        MediaLeg {
            channel: None,
            port: 0,
        }
    }

    /// The channel's id, as in media events; none once closed.
    pub fn id(&self) -> Option<ChannelId> {
        self.channel
    }

    /// The local RTP port, for our SDP (0 once closed).
    pub fn local_port(&self) -> u16 {
        self.port
    }
}

/// A mix: a conference room, or the two legs of a call whose codecs do
/// not relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mix(MixId);

impl Mix {
    /// The mix with id `id`.
    pub fn new(id: MixId) -> Mix {
        Mix(id)
    }

    /// Its id.
    pub fn id(self) -> MixId {
        self.0
    }
}

/// Where a new channel is opened: channels that are joined (a call's two
/// legs, a mix's members) must share a media worker.
#[derive(Debug, Clone, Copy)]
pub enum Near<'a> {
    /// Anywhere.
    Anywhere,
    /// Beside another leg (the other leg of the same call).
    Leg(&'a MediaLeg),
    /// Beside a mix it will join.
    Mix(Mix),
}

/// Why no channel was opened (no free RTP port pair, or none binds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError(pub String);

impl std::fmt::Display for OpenError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Whether a recording has one channel (what the leg hears) or two (the
/// leg left, the other party or what it is played right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// One channel.
    Mono,
    /// Two channels.
    Stereo,
}

/// What call control asks of media. Operations on a closed leg do
/// nothing.
pub trait MediaPort: Send {
    /// Opens a channel that sends nothing until told where.
    fn open(&mut self, near: Near<'_>) -> Result<MediaLeg, OpenError>;
    /// A new, empty mix, on the worker of `beside` when given.
    fn create_mix(&mut self, beside: Option<&MediaLeg>) -> Mix;
    /// Forgets a mix no channel is joined to any more.
    fn release_mix(&mut self, mix: Mix);
    /// Closes a leg's channel and gives its ports back.
    fn close(&mut self, leg: MediaLeg);
    /// The channel's counters so far.
    fn stats(&self, leg: &MediaLeg) -> Option<ChannelStats>;
    /// Applies an offer/answer result: where to send and in which
    /// direction.
    fn set_remote(&mut self, leg: &MediaLeg, media: &NegotiatedMedia);
    /// Starts the no-RTP timeout afresh (the call was just answered).
    fn restart_media_timeout(&mut self, leg: &MediaLeg);
    /// Sends back whatever arrives.
    fn echo(&mut self, leg: &MediaLeg);
    /// Sends the leg's received media nowhere (on hold, or between
    /// routes).
    fn isolate(&mut self, leg: &MediaLeg);
    /// Relays media between two legs, packet by packet.
    fn bridge(&mut self, a: &MediaLeg, b: &MediaLeg);
    /// Joins a mix with `role`; `false` if it is on another worker.
    fn join(&mut self, leg: &MediaLeg, mix: Mix, role: Role) -> bool;
    /// Whether `mix` is on the leg's worker (so that it may join it).
    fn is_beside(&self, leg: &MediaLeg, mix: Mix) -> bool;
    /// Plays to the leg, replacing what was playing.
    fn play(&mut self, leg: &MediaLeg, player: Player);
    /// Stops what is playing to the leg.
    fn stop_playback(&mut self, leg: &MediaLeg);
    /// Sends a digit as RFC 4733 telephone-events.
    fn send_digit(&mut self, leg: &MediaLeg, digit: Digit, duration: Duration);
    /// Records into a new file at `path` until the leg closes or the
    /// recording is stopped: mono, what the leg receives; stereo, that
    /// left and `other` (else what the leg is played) right.
    fn record(
        &mut self,
        leg: &MediaLeg,
        other: Option<&MediaLeg>,
        path: &Path,
        channels: Channels,
    ) -> Result<(), String>;
    /// Moves the leg's stereo recording's right channel to `other` (a
    /// transfer's new party).
    fn record_other(&mut self, leg: &MediaLeg, other: &MediaLeg);
    /// Finishes the leg's recording now.
    fn stop_recording(&mut self, leg: &MediaLeg);
    /// Starts or stops detecting speech in what the leg receives.
    fn detect_speech(&mut self, leg: &MediaLeg, on: bool);
}
