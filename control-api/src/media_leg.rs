//! One call leg's media channel, and the pool of RTP ports and media
//! workers they come from.

use media::dtmf::Digit;
use media::engine::{
    self, BindError, ChannelHandle, ChannelId, MediaEngine, MediaEvent, MixHandle, Near, Routing,
};
use media::mixer::Role;
use media::player::Player;
use media::ports::{PortAllocator, PortError};
use media::recorder::Recorder;
use media::sdp::NegotiatedMedia;
use std::net::IpAddr;
use std::thread;
use std::time::Duration;

/// The RTP ports, the address channels bind on, and the media workers.
pub struct MediaPool {
    address: IpAddr,
    ports: PortAllocator,
    engine: MediaEngine,
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
        })
    }

    /// Opens a channel that sends nothing until told where; on the same
    /// media worker as `beside` (the other leg of the call) when given.
    pub fn open(&mut self, beside: Option<&MediaLeg>) -> Result<MediaLeg, BindError> {
        let near = beside
            .and_then(|leg| leg.handle.as_ref())
            .map(Near::Channel);
        let handle = self.engine.open(self.address, &mut self.ports, near)?;
        Ok(MediaLeg {
            handle: Some(handle),
        })
    }

    /// A new, empty mix (a conference room).
    pub fn create_mix(&mut self) -> MixHandle {
        self.engine.create_mix(None)
    }

    /// A new, empty mix on the media worker of `leg` (to mix a call's legs).
    pub fn create_mix_beside(&mut self, leg: &MediaLeg) -> MixHandle {
        let near = leg.handle.as_ref().map(Near::Channel);
        self.engine.create_mix(near)
    }

    /// Opens a channel on the media worker of `mix`, ready to join it.
    pub fn open_for_mix(&mut self, mix: &MixHandle) -> Result<MediaLeg, BindError> {
        let handle = self
            .engine
            .open(self.address, &mut self.ports, Some(Near::Mix(mix)))?;
        Ok(MediaLeg {
            handle: Some(handle),
        })
    }

    /// Closes a leg's channel and gives its ports back.
    pub fn close(&mut self, mut leg: MediaLeg) {
        if let Some(handle) = leg.handle.take() {
            handle.close();
            // The worker closes the sockets at once; should a new call draw
            // the same pair first, binding moves on to the next pair.
            let _ = self.ports.release(handle.port_pair());
        }
    }
}

/// A call leg's media channel.
pub struct MediaLeg {
    handle: Option<ChannelHandle>,
}

impl MediaLeg {
    /// A leg with no channel (after close).
    pub fn closed() -> MediaLeg {
        MediaLeg { handle: None }
    }

    /// The channel's counters so far (none once closed).
    pub fn stats(&self) -> Option<media::channel::ChannelStats> {
        self.handle.as_ref().map(|handle| handle.stats())
    }

    /// The local RTP port, for our SDP.
    pub fn local_port(&self) -> u16 {
        self.handle
            .as_ref()
            .map(|handle| handle.local_rtp_address().port())
            .unwrap_or(0)
    }

    /// Applies an offer/answer result: where to send and in which direction.
    pub fn set_remote(&self, media: &NegotiatedMedia) {
        if let Some(handle) = &self.handle {
            handle.set_remote(media);
        }
    }

    /// Starts the no-RTP timeout afresh (the call was just answered).
    pub fn restart_media_timeout(&self) {
        if let Some(handle) = &self.handle {
            handle.restart_media_timeout();
        }
    }

    /// Sends back whatever arrives.
    pub fn echo(&self) {
        if let Some(handle) = &self.handle {
            handle.route(Routing::Echo);
        }
    }

    /// Records what the leg receives until it closes.
    pub fn record(&self, recorder: Recorder) {
        if let Some(handle) = &self.handle {
            handle.record(recorder);
        }
    }

    /// Whether `mix` is on this leg's media worker (so that it may join it).
    pub fn is_beside(&self, mix: &MixHandle) -> bool {
        self.handle
            .as_ref()
            .is_some_and(|handle| handle.is_beside(mix))
    }

    /// Finishes the leg's recording now.
    pub fn stop_recording(&self) {
        if let Some(handle) = &self.handle {
            handle.stop_recording();
        }
    }

    /// Starts or stops detecting speech in what the leg receives.
    pub fn detect_speech(&self, on: bool) {
        if let Some(handle) = &self.handle {
            handle.detect_speech(on.then(media::detector::SpeechDetectorConfig::default));
        }
    }

    /// Moves this leg's call recording to `other` as the other party.
    pub fn record_other(&self, other: &MediaLeg) {
        if let (Some(handle), Some(other)) = (&self.handle, &other.handle)
            && let Err(error) = handle.record_other(other)
        {
            tracing::warn!(%error, "recording not moved to the new party");
        }
    }

    /// The channel's id, as in media events.
    pub fn id(&self) -> Option<ChannelId> {
        self.handle.as_ref().map(ChannelHandle::id)
    }

    /// Records the call of this leg (the caller, left) and `other` (the
    /// other party, right) until this leg closes.
    pub fn record_call(&self, other: &MediaLeg, recorder: Recorder) {
        if let (Some(handle), Some(other)) = (&self.handle, &other.handle)
            && let Err(error) = handle.record_call(other, recorder)
        {
            tracing::warn!(%error, "call not recorded");
        }
    }

    /// Relays media between two legs (opened on the same worker).
    pub fn bridge(a: &MediaLeg, b: &MediaLeg) {
        if let (Some(a), Some(b)) = (&a.handle, &b.handle)
            && let Err(error) = engine::bridge(a, b)
        {
            tracing::warn!(%error, "legs not bridged");
        }
    }

    /// Sends the leg's received media nowhere (its call is on hold).
    pub fn isolate(&self) {
        if let Some(handle) = &self.handle {
            handle.route(Routing::Idle);
        }
    }

    /// Joins a mix (opened with [`MediaPool::open_for_mix`]) with `role`;
    /// `false` if the mix is on another media worker.
    pub fn join(&self, mix: &MixHandle, role: Role) -> bool {
        match &self.handle {
            Some(handle) => match handle.join(mix, role) {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%error, "leg not mixed");
                    false
                }
            },
            None => false,
        }
    }

    /// Plays to the leg, replacing what was playing.
    pub fn play(&self, player: Player) {
        if let Some(handle) = &self.handle {
            handle.play(player);
        }
    }

    /// Stops what is playing to the leg.
    pub fn stop_playback(&self) {
        if let Some(handle) = &self.handle {
            handle.stop_playback();
        }
    }

    /// Sends a digit to the leg as RFC 4733 telephone-events.
    pub fn send_digit(&self, digit: Digit, duration: Duration) {
        if let Some(handle) = &self.handle {
            handle.send_digit(digit, duration);
        }
    }
}
