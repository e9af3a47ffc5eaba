//! Playing audio into a call: prompts, tones and silence, alone or as a
//! playlist, one 20 ms [`Frame`] per media tick, sans-IO.
//!
//! ```text
//!   Player::new(items) ──▶ Playing { item i } ──(last item ends)──▶ Finished
//!                               │                                  (PlaybackFinished)
//!                               └──────────(stop, barge-in)──────▶ Finished
//!                                                                  (PlaybackStopped)
//! ```
//!
//! - [`prompt`]: decoding prompt files once (WAV, MP3, FLAC, Ogg Vorbis) to
//!   8 kHz mono, and the [`PromptCache`] that shares them.
//! - [`tone`]: call-progress tones with cadences ([`ToneSpec`]) and the
//!   per-country [`ToneTable`]s.
//!
//! [`Player::next_frame`] never allocates: the playlist is built once, a
//! prompt is read through its shared samples by index, a tone is a few
//! numbers; nothing is cloned, boxed or pushed per frame.

pub mod prompt;
pub mod tone;

use std::time::Duration;

pub use prompt::{LoadError, MAX_PROMPT_DURATION, Prompt, PromptCache, PromptError};
pub use tone::{
    Cadence, MAX_CADENCE_SEGMENTS, Repeat, Segment, TonePlayer, ToneRegion, ToneSpec, ToneTable,
};

use crate::audio::{Frame, SAMPLE_RATE, SILENCE};

/// One thing to play.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a tone spec is kept inline (no heap) so starting it needs no allocation"
)]
pub enum Playable {
    /// A prompt, once.
    Prompt(Prompt),
    /// A prompt played again and again (hold music) until stopped.
    Looped(Prompt),
    /// A tone with its cadence; one that repeats forever plays until
    /// stopped.
    Tone(ToneSpec),
    /// Silence for a while (a pause between prompts).
    Silence(Duration),
}

impl Playable {
    /// How long it plays; `None` when it plays until stopped.
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Self::Prompt(prompt) => Some(prompt.duration()),
            Self::Looped(prompt) if prompt.is_empty() => Some(Duration::ZERO),
            Self::Looped(_) => None,
            Self::Tone(spec) => spec.duration(),
            Self::Silence(duration) => Some(*duration),
        }
    }
}

/// What a [`Player`] tells its owner (past-tense facts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerEvent {
    /// The last item played to its end.
    PlaybackFinished,
    /// Playback was stopped (barge-in, hang-up) before its end.
    PlaybackStopped {
        /// The item that was playing, its index in the playlist.
        item: usize,
        /// How much had been played, all items together.
        played: Duration,
    },
}

/// Where the player is inside the current item.
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "boxing the tone player would allocate when an item starts, mid-tick"
)]
enum Cursor {
    Prompt { position: usize },
    Tone(TonePlayer),
    Silence { remaining: u64 },
}

impl Cursor {
    fn start(item: &Playable) -> Self {
        match item {
            Playable::Prompt(_) | Playable::Looped(_) => Self::Prompt { position: 0 },
            Playable::Tone(spec) => Self::Tone(TonePlayer::new(*spec)),
            Playable::Silence(duration) => {
                let samples = duration.as_nanos() * u128::from(SAMPLE_RATE) / 1_000_000_000;
                Self::Silence {
                    remaining: u64::try_from(samples).unwrap_or(u64::MAX),
                }
            }
        }
    }

    /// Writes as much of `item` as fits into `out`; returns how many
    /// samples, fewer than `out.len()` only once the item has ended.
    fn fill(&mut self, item: &Playable, out: &mut [i16]) -> usize {
        match (self, item) {
            (Self::Prompt { position }, Playable::Prompt(prompt)) => {
                let rest = &prompt.samples()[*position..];
                let count = rest.len().min(out.len());
                out[..count].copy_from_slice(&rest[..count]);
                *position += count;
                count
            }
            (Self::Prompt { position }, Playable::Looped(prompt)) => {
                let samples = prompt.samples();
                if samples.is_empty() {
                    return 0;
                }
                let mut written = 0;
                while written < out.len() {
                    let rest = &samples[*position..];
                    let count = rest.len().min(out.len() - written);
                    out[written..written + count].copy_from_slice(&rest[..count]);
                    written += count;
                    *position = (*position + count) % samples.len();
                }
                written
            }
            (Self::Tone(player), Playable::Tone(_)) => player.fill(out),
            (Self::Silence { remaining }, Playable::Silence(_)) => {
                let count = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(out.len());
                out[..count].fill(0);
                *remaining -= count as u64;
                count
            }
            _ => unreachable!("a cursor is always started from its own item"),
        }
    }

    /// Whether `item` has nothing more to play.
    fn is_done(&self, item: &Playable) -> bool {
        match (self, item) {
            (Self::Prompt { position }, Playable::Prompt(prompt)) => *position >= prompt.len(),
            (Self::Prompt { .. }, Playable::Looped(prompt)) => prompt.is_empty(),
            (Self::Tone(player), _) => player.is_finished(),
            (Self::Silence { remaining }, _) => *remaining == 0,
            _ => unreachable!("a cursor is always started from its own item"),
        }
    }
}

/// Plays a playlist of [`Playable`]s, one 20 ms frame per call.
///
/// ```
/// use std::time::Duration;
/// use media::player::{Playable, Player, PlayerEvent, ToneSpec};
///
/// let mut player = Player::new([
///     Playable::Silence(Duration::from_millis(40)),
///     Playable::Tone(ToneSpec::BEEP),
/// ]);
/// let mut frames = 0;
/// while let Some(_frame) = player.next_frame() {
///     frames += 1;
/// }
/// assert_eq!(frames, 27); // 40 ms + 500 ms
/// assert_eq!(player.poll_event(), Some(PlayerEvent::PlaybackFinished));
/// ```
#[derive(Debug, Clone)]
pub struct Player {
    items: Vec<Playable>,
    /// The current item; `items.len()` once finished.
    index: usize,
    cursor: Option<Cursor>,
    played_samples: u64,
    event: Option<PlayerEvent>,
    tag: u64,
}

impl Player {
    /// A player for `items`, in order. An empty playlist finishes on the
    /// first frame.
    pub fn new(items: impl IntoIterator<Item = Playable>) -> Self {
        let items: Vec<Playable> = items.into_iter().collect();
        let cursor = items.first().map(Cursor::start);
        Self {
            items,
            index: 0,
            cursor,
            played_samples: 0,
            event: None,
            tag: 0,
        }
    }

    /// The same player, marked with `tag` (0 unless set): the engine
    /// reports its events with the tag, so its owner knows which of its
    /// plays finished.
    pub fn tagged(mut self, tag: u64) -> Self {
        self.tag = tag;
        self
    }

    /// Its tag ([`Player::tagged`]).
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// A player for one item.
    pub fn single(item: Playable) -> Self {
        Self::new([item])
    }

    /// The playlist.
    pub fn items(&self) -> &[Playable] {
        &self.items
    }

    /// The index of the item playing now; `None` once finished or stopped.
    pub fn current_item(&self) -> Option<usize> {
        self.cursor.as_ref().map(|_| self.index)
    }

    /// Whether there is still something to play.
    pub fn is_playing(&self) -> bool {
        self.cursor.is_some()
    }

    /// How much has been played so far, all items together.
    pub fn played(&self) -> Duration {
        Duration::from_nanos(self.played_samples * 1_000_000_000 / u64::from(SAMPLE_RATE))
    }

    /// The next 20 ms frame, padded with silence after the end; `None` once
    /// finished or stopped. The frame that reaches the end of the last item
    /// queues [`PlayerEvent::PlaybackFinished`].
    pub fn next_frame(&mut self) -> Option<Frame> {
        let mut frame = SILENCE;
        self.fill_frame(&mut frame).then_some(frame)
    }

    /// [`Player::next_frame`] into the caller's frame; false (and `frame`
    /// untouched) once finished or stopped.
    pub fn fill_frame(&mut self, frame: &mut Frame) -> bool {
        if self.cursor.is_none() {
            if self.index == 0 && self.items.is_empty() {
                // An empty playlist: finished the first time it is asked.
                self.index = 1;
                self.event = Some(PlayerEvent::PlaybackFinished);
            }
            return false;
        }
        let mut written = 0;
        // An item that is not done has filled the frame; one that is done
        // gives way to the next at once, so the event comes with the frame
        // holding the last sample.
        while let Some(cursor) = &mut self.cursor {
            let item = &self.items[self.index];
            written += cursor.fill(item, &mut frame[written..]);
            if !cursor.is_done(item) {
                break;
            }
            self.advance();
        }
        frame[written..].fill(0);
        self.played_samples += written as u64;
        if self.cursor.is_none() {
            self.event = Some(PlayerEvent::PlaybackFinished);
        }
        true
    }

    /// The current item has ended: start the next one, if any.
    fn advance(&mut self) {
        self.index += 1;
        self.cursor = self.items.get(self.index).map(Cursor::start);
    }

    /// Stops playback now (barge-in on a digit, hang-up); queues
    /// [`PlayerEvent::PlaybackStopped`] if anything was still to play.
    pub fn stop(&mut self) {
        if self.cursor.take().is_some() {
            self.event = Some(PlayerEvent::PlaybackStopped {
                item: self.index,
                played: self.played(),
            });
            self.index = self.items.len();
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<PlayerEvent> {
        self.event.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::FRAME_SAMPLES;

    fn ramp(len: usize) -> Prompt {
        Prompt::from_samples(
            (0..len)
                .map(|n| (n % 30_000) as i16 + 1)
                .collect::<Vec<_>>(),
        )
    }

    fn drain(player: &mut Player) -> Vec<i16> {
        let mut out = Vec::new();
        while let Some(frame) = player.next_frame() {
            out.extend_from_slice(&frame);
        }
        out
    }

    #[test]
    fn a_prompt_plays_once_padded_to_whole_frames() {
        let prompt = ramp(1000);
        let mut player = Player::single(Playable::Prompt(prompt.clone()));
        let mut frames = 0;
        let mut out = Vec::new();
        while let Some(frame) = player.next_frame() {
            frames += 1;
            out.extend_from_slice(&frame);
            // The event comes with the frame that reaches the end.
            let event = player.poll_event();
            if frames < 7 {
                assert_eq!(event, None);
            } else {
                assert_eq!(event, Some(PlayerEvent::PlaybackFinished));
            }
        }
        assert_eq!(frames, 7); // 1000 = 6 * 160 + 40
        assert_eq!(&out[..1000], prompt.samples());
        assert!(out[1000..].iter().all(|&s| s == 0));
        assert_eq!(player.played(), Duration::from_millis(125));
        assert_eq!(player.next_frame(), None);
        assert_eq!(player.poll_event(), None, "reported once");
    }

    #[test]
    fn a_prompt_of_whole_frames_ends_on_its_last_frame() {
        let mut player = Player::single(Playable::Prompt(ramp(320)));
        assert!(player.next_frame().is_some());
        assert_eq!(player.poll_event(), None);
        assert!(player.next_frame().is_some());
        assert_eq!(player.poll_event(), Some(PlayerEvent::PlaybackFinished));
        assert!(!player.is_playing());
        assert_eq!(player.next_frame(), None);
    }

    #[test]
    fn a_looped_prompt_is_continuous_across_the_loop() {
        // 1000 samples do not divide into frames: the loop point moves
        // through the frame.
        let prompt = ramp(1000);
        let mut player = Player::single(Playable::Looped(prompt.clone()));
        let mut out = Vec::new();
        for _ in 0..100 {
            out.extend_from_slice(&player.next_frame().expect("loops forever"));
            assert_eq!(player.poll_event(), None);
        }
        let expected: Vec<i16> = prompt
            .samples()
            .iter()
            .copied()
            .cycle()
            .take(16_000)
            .collect();
        assert_eq!(out, expected);
        assert_eq!(Playable::Looped(prompt).duration(), None);
    }

    #[test]
    fn hold_music_loops_without_a_click() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sounds/hold-music.wav");
        let music = Prompt::load(&path).expect("hold music");
        let mut player = Player::single(Playable::Looped(music.clone()));
        let frames = music.len() / FRAME_SAMPLES + 10;
        let mut out = Vec::new();
        for _ in 0..frames {
            out.extend_from_slice(&player.next_frame().expect("loops"));
        }
        let seam = music.len();
        assert_eq!(&out[seam..seam + 100], &music.samples()[..100]);
        let largest_step = out[seam - 50..seam + 50]
            .windows(2)
            .map(|pair| (i32::from(pair[1]) - i32::from(pair[0])).abs())
            .max()
            .unwrap_or(0);
        assert!(largest_step < 200, "{largest_step}");
    }

    #[test]
    fn a_playlist_plays_in_order_and_finishes_once() {
        let first = ramp(100);
        let second = ramp(250);
        let mut player = Player::new([
            Playable::Prompt(first.clone()),
            Playable::Silence(Duration::from_millis(10)),
            Playable::Tone(ToneSpec::BEEP),
            Playable::Prompt(Prompt::from_samples(Vec::new())),
            Playable::Prompt(second.clone()),
        ]);
        assert_eq!(player.current_item(), Some(0));
        let mut out = Vec::new();
        let mut events = Vec::new();
        while let Some(frame) = player.next_frame() {
            out.extend_from_slice(&frame);
            events.extend(player.poll_event());
        }
        assert_eq!(events, [PlayerEvent::PlaybackFinished]);
        assert_eq!(player.poll_event(), None);
        assert_eq!(player.current_item(), None);

        let total: usize = 100 + 80 + 4000 + 250;
        assert_eq!(out.len(), total.div_ceil(160) * 160);
        assert_eq!(&out[..100], first.samples());
        assert!(out[100..180].iter().all(|&s| s == 0));
        let mut beep = [0i16; 4000];
        TonePlayer::new(ToneSpec::BEEP).fill(&mut beep);
        assert_eq!(&out[180..4180], &beep[..]);
        assert_eq!(&out[4180..4430], second.samples());
        assert!(out[4430..].iter().all(|&s| s == 0));
        assert_eq!(player.played(), Duration::from_nanos(4430 * 125_000));
    }

    #[test]
    fn stopping_barges_in() {
        let mut player = Player::new([Playable::Prompt(ramp(400)), Playable::Looped(ramp(1000))]);
        for _ in 0..5 {
            player.next_frame().expect("playing");
        }
        assert_eq!(player.current_item(), Some(1));
        player.stop();
        assert_eq!(
            player.poll_event(),
            Some(PlayerEvent::PlaybackStopped {
                item: 1,
                played: Duration::from_millis(100),
            })
        );
        assert_eq!(player.next_frame(), None);
        assert_eq!(player.poll_event(), None);
        // Stopping a finished player says nothing.
        player.stop();
        assert_eq!(player.poll_event(), None);
    }

    #[test]
    fn empty_and_silent_playlists_finish() {
        let mut player = Player::new([]);
        assert_eq!(player.next_frame(), None);
        assert_eq!(player.poll_event(), Some(PlayerEvent::PlaybackFinished));
        assert_eq!(player.next_frame(), None);
        assert_eq!(player.poll_event(), None);

        // Items that play nothing (an empty looped prompt cannot loop).
        let mut player = Player::new([
            Playable::Looped(Prompt::from_samples(Vec::new())),
            Playable::Silence(Duration::ZERO),
            Playable::Silence(Duration::from_millis(30)),
        ]);
        let out = drain(&mut player);
        assert_eq!(out.len(), 320);
        assert!(out.iter().all(|&s| s == 0));
        assert_eq!(player.poll_event(), Some(PlayerEvent::PlaybackFinished));
    }

    #[test]
    fn a_forever_tone_plays_until_stopped() {
        let mut player = Player::single(Playable::Tone(ToneTable::US.ringback));
        let mut frame = SILENCE;
        for _ in 0..1000 {
            assert!(player.fill_frame(&mut frame));
        }
        assert_eq!(player.poll_event(), None);
        player.stop();
        assert!(!player.fill_frame(&mut frame));
        assert!(matches!(
            player.poll_event(),
            Some(PlayerEvent::PlaybackStopped { item: 0, .. })
        ));
    }

    #[test]
    fn next_frame_reuses_what_it_was_given() {
        // The hot path touches no heap: the playlist and the prompt's shared
        // samples are the same before and after a thousand frames.
        let prompt = ramp(1234);
        let mut player = Player::new([
            Playable::Looped(prompt.clone()),
            Playable::Tone(ToneSpec::US_BUSY),
        ]);
        let items = player.items().as_ptr();
        let mut frame = SILENCE;
        for _ in 0..1000 {
            player.fill_frame(&mut frame);
        }
        assert_eq!(player.items().as_ptr(), items);
        assert_eq!(player.items().len(), 2);
        // Only the caller's clone and the playlist's hold the samples.
        let Playable::Looped(held) = &player.items()[0] else {
            panic!("the playlist is unchanged");
        };
        assert_eq!(held, &prompt);
        assert_eq!(prompt.share_count(), 2);
    }
}
