//! A media port without sockets or threads, for tests and benchmarks of
//! call control (feature `test-support`): it keeps what each channel was
//! told (where it sends, what it is routed to, what it plays and
//! records), and a test reads that back through a [`FakeMedia`] clone.

use crate::media_port::{ChannelId, Channels, MediaLeg, MediaPort, Mix, MixId, Near, OpenError};
use media::channel::ChannelStats;
use media::dtmf::Digit;
use media::mixer::Role;
use media::player::Player;
use media::sdp::NegotiatedMedia;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Where a fake channel's received media goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeRouting {
    /// Nowhere.
    Idle,
    /// Back to its sender.
    Echo,
    /// Out of the other channel.
    Bridge(ChannelId),
    /// Into a mix.
    Mix(MixId, Role),
}

/// What a fake channel was told.
#[derive(Debug, Clone)]
pub struct FakeChannel {
    /// The local RTP port it was given.
    pub port: u16,
    /// Where it sends, once negotiated.
    pub remote: Option<NegotiatedMedia>,
    /// Where its received media goes.
    pub routing: FakeRouting,
    /// What it plays now, if anything.
    pub playing: Option<Player>,
    /// The file it records into, if recording: with its channels and the
    /// other party.
    pub recording: Option<(PathBuf, Channels, Option<ChannelId>)>,
    /// Whether speech is detected.
    pub detecting_speech: bool,
    /// Digits sent, oldest first.
    pub digits_sent: Vec<Digit>,
    /// Times its no-RTP timeout was restarted.
    pub timeout_restarts: u32,
    /// Its worker (channels are opened beside each other, or anywhere).
    pub worker: u64,
}

/// Everything the fake was told.
#[derive(Debug, Default)]
pub struct FakeState {
    next_id: u64,
    /// Channels open now.
    pub channels: BTreeMap<ChannelId, FakeChannel>,
    /// Mixes, with the worker each is on.
    pub mixes: BTreeMap<MixId, u64>,
    /// Channels opened so far.
    pub opened: u64,
    /// Channels closed so far.
    pub closed: u64,
    /// Opens that fail from now on (no port free).
    pub ports_exhausted: bool,
    /// Recordings that fail from now on (a directory that is not
    /// writable).
    pub files_fail: bool,
    /// Every file recorded into, oldest first.
    pub files: Vec<PathBuf>,
}

/// The fake media port; clones share one [`FakeState`].
#[derive(Debug, Clone, Default)]
pub struct FakeMedia(Arc<Mutex<FakeState>>);

impl FakeMedia {
    /// A fake with no channels.
    pub fn new() -> FakeMedia {
        FakeMedia::default()
    }

    /// What it was told so far.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The channel of `leg`, if open.
    pub fn channel(&self, id: ChannelId) -> Option<FakeChannel> {
        self.state().channels.get(&id).cloned()
    }

    fn with(&self, leg: &MediaLeg, change: impl FnOnce(&mut FakeChannel)) {
        if let Some(id) = leg.id()
            && let Some(channel) = self.state().channels.get_mut(&id)
        {
            change(channel);
        }
    }

    fn worker_of(&self, leg: &MediaLeg) -> Option<u64> {
        let id = leg.id()?;
        self.state().channels.get(&id).map(|channel| channel.worker)
    }
}

impl MediaPort for FakeMedia {
    fn open(&mut self, near: Near<'_>) -> Result<MediaLeg, OpenError> {
        let mut state = self.state();
        if state.ports_exhausted {
            return Err(OpenError("no free RTP port pair".into()));
        }
        state.next_id += 1;
        let number = state.next_id;
        let worker = match near {
            Near::Anywhere => number,
            Near::Leg(leg) => leg
                .id()
                .and_then(|id| state.channels.get(&id))
                .map_or(number, |channel| channel.worker),
            Near::Mix(mix) => state.mixes.get(&mix.id()).copied().unwrap_or(number),
        };
        let id = ChannelId::new(number);
        let port = 20_000 + u16::try_from(number % 20_000).unwrap_or(0) * 2;
        state.channels.insert(
            id,
            FakeChannel {
                port,
                remote: None,
                routing: FakeRouting::Idle,
                playing: None,
                recording: None,
                detecting_speech: false,
                digits_sent: Vec::new(),
                timeout_restarts: 0,
                worker,
            },
        );
        state.opened += 1;
        Ok(MediaLeg::new(id, port))
    }

    fn create_mix(&mut self, beside: Option<&MediaLeg>) -> Mix {
        let worker = beside.and_then(|leg| self.worker_of(leg));
        let mut state = self.state();
        state.next_id += 1;
        let id = MixId::new(state.next_id);
        let worker = worker.unwrap_or(state.next_id);
        state.mixes.insert(id, worker);
        Mix::new(id)
    }

    fn release_mix(&mut self, mix: Mix) {
        self.state().mixes.remove(&mix.id());
    }

    fn close(&mut self, leg: MediaLeg) {
        if let Some(id) = leg.id() {
            let mut state = self.state();
            if state.channels.remove(&id).is_some() {
                state.closed += 1;
            }
        }
    }

    fn stats(&self, leg: &MediaLeg) -> Option<ChannelStats> {
        let id = leg.id()?;
        self.state()
            .channels
            .contains_key(&id)
            .then(ChannelStats::default)
    }

    fn set_remote(&mut self, leg: &MediaLeg, media: &NegotiatedMedia) {
        self.with(leg, |channel| channel.remote = Some(media.clone()));
    }

    fn restart_media_timeout(&mut self, leg: &MediaLeg) {
        self.with(leg, |channel| channel.timeout_restarts += 1);
    }

    fn echo(&mut self, leg: &MediaLeg) {
        self.with(leg, |channel| channel.routing = FakeRouting::Echo);
    }

    fn isolate(&mut self, leg: &MediaLeg) {
        self.with(leg, |channel| channel.routing = FakeRouting::Idle);
    }

    fn bridge(&mut self, a: &MediaLeg, b: &MediaLeg) {
        let (Some(a_id), Some(b_id)) = (a.id(), b.id()) else {
            return;
        };
        self.with(a, |channel| channel.routing = FakeRouting::Bridge(b_id));
        self.with(b, |channel| channel.routing = FakeRouting::Bridge(a_id));
    }

    fn join(&mut self, leg: &MediaLeg, mix: Mix, role: Role) -> bool {
        if !self.is_beside(leg, mix) {
            return false;
        }
        self.with(leg, |channel| {
            channel.routing = FakeRouting::Mix(mix.id(), role);
        });
        true
    }

    fn is_beside(&self, leg: &MediaLeg, mix: Mix) -> bool {
        let worker = self.worker_of(leg);
        worker.is_some() && self.state().mixes.get(&mix.id()).copied() == worker
    }

    fn play(&mut self, leg: &MediaLeg, player: Player) {
        self.with(leg, |channel| channel.playing = Some(player));
    }

    fn stop_playback(&mut self, leg: &MediaLeg) {
        self.with(leg, |channel| channel.playing = None);
    }

    fn send_digit(&mut self, leg: &MediaLeg, digit: Digit, _duration: Duration) {
        self.with(leg, |channel| channel.digits_sent.push(digit));
    }

    fn record(
        &mut self,
        leg: &MediaLeg,
        other: Option<&MediaLeg>,
        path: &Path,
        channels: Channels,
    ) -> Result<(), String> {
        if self.state().files_fail {
            return Err("permission denied".into());
        }
        let other = other.and_then(MediaLeg::id);
        self.with(leg, |channel| {
            channel.recording = Some((path.to_path_buf(), channels, other));
        });
        self.state().files.push(path.to_path_buf());
        Ok(())
    }

    fn record_other(&mut self, leg: &MediaLeg, other: &MediaLeg) {
        let other = other.id();
        self.with(leg, |channel| {
            if let Some((_, _, right)) = channel.recording.as_mut() {
                *right = other;
            }
        });
    }

    fn stop_recording(&mut self, leg: &MediaLeg) {
        self.with(leg, |channel| channel.recording = None);
    }

    fn detect_speech(&mut self, leg: &MediaLeg, on: bool) {
        self.with(leg, |channel| channel.detecting_speech = on);
    }
}
