//! The media port of call control, on the media engine: RTP ports, the
//! media worker threads, and the handles of the channels and mixes call
//! control names by id.

use media::dtmf::Digit;
use media::engine::{
    self, ChannelHandle, ChannelId, MediaEngine, MediaEvent, MixHandle, MixId, Routing,
};
use media::mixer::Role;
use media::player::Player;
use media::ports::{PortAllocator, PortError};
use media::recorder::{Recorder, RecordingFormat};
use media::sdp::NegotiatedMedia;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::thread;
use std::time::Duration;
use switch::media_port::{Channels, MediaLeg, MediaPort, Mix, Near, OpenError};

/// The RTP ports, the address channels bind on, the media workers, and
/// the channels and mixes open on them.
pub struct MediaPool {
    address: IpAddr,
    ports: PortAllocator,
    engine: MediaEngine,
    channels: HashMap<ChannelId, ChannelHandle>,
    mixes: HashMap<MixId, MixHandle>,
}

/// Why the pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum MediaPoolError {
    /// The port range is not usable.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// A media worker could not start.
    #[error("starting the media workers: {0}")]
    Workers(#[from] std::io::Error),
}

impl MediaPool {
    /// A pool over ports `low..=high` on `address`, with one media worker
    /// per core.
    /// Every media event is passed to `on_event`, on a media worker's
    /// thread.
    pub fn new(
        address: IpAddr,
        low: u16,
        high: u16,
        on_event: impl Fn(MediaEvent) + Send + Sync + 'static,
    ) -> Result<MediaPool, MediaPoolError> {
        let workers = thread::available_parallelism().map_or(1, |cores| cores.get());
        let engine = MediaEngine::start(workers, on_event)?;
        Ok(MediaPool {
            address,
            ports: PortAllocator::new(low, high)?,
            engine,
            channels: HashMap::new(),
            mixes: HashMap::new(),
        })
    }

    fn handle(&self, leg: &MediaLeg) -> Option<&ChannelHandle> {
        leg.id().and_then(|id| self.channels.get(&id))
    }
}

impl MediaPort for MediaPool {
    fn open(&mut self, near: Near<'_>) -> Result<MediaLeg, OpenError> {
        let channels = &self.channels;
        let near = match near {
            Near::Anywhere => None,
            Near::Leg(leg) => leg
                .id()
                .and_then(|id| channels.get(&id))
                .map(engine::Near::Channel),
            Near::Mix(mix) => self.mixes.get(&mix.id()).map(engine::Near::Mix),
        };
        let handle = self
            .engine
            .open(self.address, &mut self.ports, near)
            .map_err(|error| OpenError(error.to_string()))?;
        let leg = MediaLeg::new(handle.id(), handle.local_rtp_address().port());
        self.channels.insert(handle.id(), handle);
        Ok(leg)
    }

    fn create_mix(&mut self, beside: Option<&MediaLeg>) -> Mix {
        let near = beside
            .and_then(MediaLeg::id)
            .and_then(|id| self.channels.get(&id))
            .map(engine::Near::Channel);
        let mix = self.engine.create_mix(near);
        let id = mix.id();
        self.mixes.insert(id, mix);
        Mix::new(id)
    }

    fn release_mix(&mut self, mix: Mix) {
        self.mixes.remove(&mix.id());
    }

    fn close(&mut self, leg: MediaLeg) {
        if let Some(handle) = leg.id().and_then(|id| self.channels.remove(&id)) {
            handle.close();
            // The worker closes the sockets at once; should a new call draw
            // the same pair first, binding moves on to the next pair.
            let _ = self.ports.release(handle.port_pair());
        }
    }

    fn stats(&self, leg: &MediaLeg) -> Option<media::channel::ChannelStats> {
        self.handle(leg).map(ChannelHandle::stats)
    }

    fn set_remote(&mut self, leg: &MediaLeg, media: &NegotiatedMedia) {
        if let Some(handle) = self.handle(leg) {
            handle.set_remote(media);
        }
    }

    fn restart_media_timeout(&mut self, leg: &MediaLeg) {
        if let Some(handle) = self.handle(leg) {
            handle.restart_media_timeout();
        }
    }

    fn echo(&mut self, leg: &MediaLeg) {
        if let Some(handle) = self.handle(leg) {
            handle.route(Routing::Echo);
        }
    }

    fn isolate(&mut self, leg: &MediaLeg) {
        if let Some(handle) = self.handle(leg) {
            handle.route(Routing::Idle);
        }
    }

    fn bridge(&mut self, a: &MediaLeg, b: &MediaLeg) {
        if let (Some(a), Some(b)) = (self.handle(a), self.handle(b))
            && let Err(error) = engine::bridge(a, b)
        {
            tracing::warn!(%error, "legs not bridged");
        }
    }

    fn join(&mut self, leg: &MediaLeg, mix: Mix, role: Role) -> bool {
        let (Some(handle), Some(mix)) = (self.handle(leg), self.mixes.get(&mix.id())) else {
            return false;
        };
        match handle.join(mix, role) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "leg not mixed");
                false
            }
        }
    }

    fn is_beside(&self, leg: &MediaLeg, mix: Mix) -> bool {
        match (self.handle(leg), self.mixes.get(&mix.id())) {
            (Some(handle), Some(mix)) => handle.is_beside(mix),
            _ => false,
        }
    }

    fn play(&mut self, leg: &MediaLeg, player: Player) {
        if let Some(handle) = self.handle(leg) {
            handle.play(player);
        }
    }

    fn stop_playback(&mut self, leg: &MediaLeg) {
        if let Some(handle) = self.handle(leg) {
            handle.stop_playback();
        }
    }

    fn send_digit(&mut self, leg: &MediaLeg, digit: Digit, duration: Duration) {
        if let Some(handle) = self.handle(leg) {
            handle.send_digit(digit, duration);
        }
    }

    fn record(
        &mut self,
        leg: &MediaLeg,
        other: Option<&MediaLeg>,
        path: &Path,
        channels: Channels,
    ) -> Result<(), String> {
        let format = match channels {
            Channels::Mono => RecordingFormat::Mono,
            Channels::Stereo => RecordingFormat::Stereo,
        };
        let Some(handle) = self.handle(leg) else {
            return Err("the leg's media is closed".into());
        };
        let recorder = Recorder::create(path, format).map_err(|error| error.to_string())?;
        match other.and_then(|other| self.handle(other)) {
            Some(other) => handle
                .record_call(other, recorder)
                .map_err(|error| error.to_string()),
            None => {
                handle.record(recorder);
                Ok(())
            }
        }
    }

    fn record_other(&mut self, leg: &MediaLeg, other: &MediaLeg) {
        if let (Some(handle), Some(other)) = (self.handle(leg), self.handle(other))
            && let Err(error) = handle.record_other(other)
        {
            tracing::warn!(%error, "recording not moved to the new party");
        }
    }

    fn stop_recording(&mut self, leg: &MediaLeg) {
        if let Some(handle) = self.handle(leg) {
            handle.stop_recording();
        }
    }

    fn detect_speech(&mut self, leg: &MediaLeg, on: bool) {
        if let Some(handle) = self.handle(leg) {
            handle.detect_speech(on.then(media::detector::SpeechDetectorConfig::default));
        }
    }
}
