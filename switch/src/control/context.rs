//! What a call's features work with besides the call itself: the media
//! port, the index of legs, the timers, the effects, and what the
//! switch was set up with. The controller keeps it apart from its map
//! of calls, so a feature can change one call and these together.

use super::*;

pub(super) struct Context {
    pub(super) media: Box<dyn MediaPort>,
    pub(super) media_address: IpAddr,
    pub(super) local_address: SocketAddr,
    /// Calls by their legs' dialogs, INVITEs and media channels.
    pub(super) index: Index,
    pub(super) origin_counter: u64,
    pub(super) recordings_dir: PathBuf,
    pub(super) prompts: Prompts,
    pub(super) mix_bridges: bool,
    pub(super) record_calls: bool,
    /// What is to be done outside: records, events, renders, fetches.
    pub(super) effects: Effects,
    /// The wall-clock time at an instant, to date records by.
    pub(super) wall_clock: (Instant, SystemTime),
    /// What `/metrics` shows.
    pub(super) metrics: Arc<Metrics>,
    /// Every call timer (ring-outs, flows' deadlines), soonest first.
    pub(super) timers: Deadlines<(CallId, CallTimer)>,
    /// Ids for new legs.
    pub(super) legs: LegIds,
    /// Speech and fetched audio at hand.
    pub(super) audio: Box<dyn RenderedAudio>,
    pub(super) voicemail_dir: PathBuf,
    /// Prompts uploaded through the API, by name.
    pub(super) uploaded_prompts: HashMap<String, media::player::Prompt>,
}

impl Context {
    /// The wall-clock time at `at`, from the anchor taken at start.
    pub(super) fn wall(&self, at: Instant) -> SystemTime {
        wall_at(self.wall_clock, at)
    }

    /// A prompt by name: uploaded, else bundled.
    pub(super) fn prompt_named(&self, name: &str) -> Option<&media::player::Prompt> {
        flow::PromptLookup::new(&self.prompts, &self.uploaded_prompts).named(name)
    }

    /// Our media description for a new leg on local `port`.
    pub(super) fn new_local_media(&mut self, port: u16) -> LocalMedia {
        self.origin_counter += 1;
        LocalMedia::new(
            self.media_address,
            port,
            SessionOrigin::new(self.origin_counter + 1_000_000, 1),
        )
    }
}
