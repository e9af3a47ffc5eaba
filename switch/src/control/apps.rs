//! What the switch answers a call with itself, on the caller's leg
//! alone: echo, the digit echo, the recorder and conference rooms. Each
//! works with the call and the [`Context`] (media, effects), never the
//! rest of the controller: [`start`] when the call reaches its route,
//! [`digit`] for a digit the caller pressed, [`Rooms::leave`] when it
//! leaves.

use super::*;

/// How long a digit sent back by [`Route::DigitEcho`] lasts at most (a
/// held key is not held for ever), and at least (a tap is still heard).
const ECHOED_DIGIT_MAX: Duration = Duration::from_secs(1);
const ECHOED_DIGIT_MIN: Duration = Duration::from_millis(60);

/// Conference rooms with callers in them, by name.
#[derive(Default)]
pub(super) struct Rooms(HashMap<String, Room>);

impl Rooms {
    /// Opens the media of a caller for `route`: on the worker of its
    /// conference room (made empty if it is new), else anywhere.
    pub(super) fn open_caller_media(
        &mut self,
        media: &mut dyn MediaPort,
        route: &Route,
    ) -> Result<MediaLeg, OpenError> {
        match route {
            Route::Conference(room) => {
                let mix = self.mix_of(media, room, None);
                media.open(Near::Mix(mix))
            }
            _ => media.open(Near::Anywhere),
        }
    }

    /// Whether `leg` can join `room` as it stands: the room is new, or
    /// its media runs on the leg's worker.
    pub(super) fn can_join(&self, media: &dyn MediaPort, leg: &MediaLeg, room: &str) -> bool {
        self.0
            .get(room)
            .is_none_or(|existing| media.is_beside(leg, existing.mix))
    }

    /// Joins a call's caller to conference `room` (made if it is new).
    fn join(&mut self, media: &mut dyn MediaPort, call: &Call, room: &str) -> Result<(), Refusal> {
        let mix = self.mix_of(media, room, Some(&call.caller.media));
        if !media.join(&call.caller.media, mix, Role::Normal) {
            return Err(Refusal::new(
                409,
                "the room's media runs on another worker than the call's",
            ));
        }
        let room = self
            .0
            .get_mut(room)
            .expect("the room was just made if it was missing");
        room.members += 1;
        info!(members = room.members, "answering into the conference");
        Ok(())
    }

    /// A caller of a conference `route` left its room (`member`: it had
    /// joined); the last one out closes it. Other routes have no room.
    pub(super) fn leave(&mut self, media: &mut dyn MediaPort, route: &Route, member: bool) {
        let Route::Conference(room) = route else {
            return;
        };
        if let Some(state) = self.0.get_mut(room) {
            if member {
                state.members = state.members.saturating_sub(1);
            }
            if state.members == 0 {
                let mix = state.mix;
                self.0.remove(room);
                media.release_mix(mix);
            }
        }
    }

    /// Room `room`'s mix, made (beside `near`, if given) if it is new.
    fn mix_of(&mut self, media: &mut dyn MediaPort, room: &str, near: Option<&MediaLeg>) -> Mix {
        if let Some(existing) = self.0.get(room) {
            return existing.mix;
        }
        let mix = media.create_mix(near);
        self.0.insert(room.to_string(), Room { mix, members: 0 });
        mix
    }
}

/// Starts the application `call`'s route names (echo, digit echo,
/// record, conference) on its caller's leg. The file it records into,
/// for the record route.
pub(super) fn start(
    cx: &mut Context,
    rooms: &mut Rooms,
    call: &mut Call,
    sip: &mut Endpoint,
) -> Result<Option<String>, Refusal> {
    let media = &mut *cx.media;
    match &call.route {
        Route::Echo => {
            info!("answering with echo");
            media.echo(&call.caller.media);
        }
        Route::DigitEcho => {
            info!("answering with the digit echo");
            let intro = Playable::Prompt(cx.prompts.digit_echo_intro.clone());
            media.play(&call.caller.media, Player::single(intro));
        }
        Route::Conference(room) => rooms.join(media, call, &room.clone())?,
        Route::Record => return record_caller(cx, call, sip).map(Some),
        route => {
            warn!(
                route = route.kind(),
                "not an application the switch answers with"
            );
            return Err(Refusal::new(500, "the route is not an application"));
        }
    }
    Ok(None)
}

/// A digit the caller of `call` pressed: the digit echo sends it back
/// and says it; the other applications ignore it.
pub(super) fn digit(cx: &mut Context, call: &Call, digit: media::dtmf::Digit, held: Duration) {
    if call.route != Route::DigitEcho {
        return;
    }
    let leg = &call.caller.media;
    let held = held.clamp(ECHOED_DIGIT_MIN, ECHOED_DIGIT_MAX);
    cx.media.send_digit(leg, digit, held);
    if let Some(prompt) = cx.prompts.digit(digit) {
        let prompt = Playable::Prompt(prompt.clone());
        cx.media.play(leg, Player::single(prompt));
    }
}

/// Records a call's caller into a new mono file (the record route):
/// its name.
fn record_caller(cx: &mut Context, call: &mut Call, sip: &mut Endpoint) -> Result<String, Refusal> {
    let path = cx.recordings_dir.join(format!("{}.wav", sip.new_token()));
    cx.media
        .record(&call.caller.media, None, &path, Channels::Mono)
        .map_err(|error| {
            warn!(%error, "cannot create the recording file");
            Refusal::new(500, "cannot create the recording file")
        })?;
    info!(file = %path.display(), "answering and recording");
    let file = file_name(&path);
    call.recording_started(&file, false);
    Ok(file)
}
