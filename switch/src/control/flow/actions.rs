//! What a flow does to its own call's caller: ring, play, hold music,
//! record (a voicemail message or the call), ask for a webhook. Each
//! works on the call and the [`Context`] (media, effects), never the
//! rest of the controller; what a flow does beyond its call (answer,
//! dial, go on with another flow, hang up) stays with the controller.

use super::*;

/// A ring before the answer: a 180 once (then nothing more is said on
/// the wire), or ringback in the media once the caller is answered.
pub(super) fn ring(
    cx: &mut Context,
    now: Instant,
    call: &mut Call,
    sip: &mut Endpoint,
) -> Option<ivr::Event> {
    let run = call.flow.as_mut()?;
    if call.caller.state != SipState::Offering {
        let ringback = Player::single(Playable::Tone(ToneSpec::US_RINGBACK));
        cx.media.play(&call.caller.media, ringback);
    } else if !std::mem::replace(&mut run.rang, true) {
        ring_caller(sip, now, call, cx.local_address);
    }
    None
}

/// Plays a flow's audio to its caller: at once when it is at hand, else
/// once it is rendered or fetched (a play that cannot be made is
/// reported finished).
pub(super) fn play(cx: &mut Context, call: &mut Call, id: u64, audio: Audio) -> Option<ivr::Event> {
    let run = call.flow.as_mut()?;
    let prompts = PromptLookup::new(&cx.prompts, &cx.uploaded_prompts);
    match playable(&audio, &*cx.audio, prompts) {
        Resolved::Ready(playable) => {
            run.waiting_audio = None;
            let player = Player::single(playable).tagged(id);
            cx.media.play(&call.caller.media, player);
            None
        }
        Resolved::Pending => {
            run.waiting_audio = Some(id);
            // What played before stops while the audio is made.
            cx.media.stop_playback(&call.caller.media);
            let play = (call.id.clone(), id);
            cx.effects.push(match audio {
                Audio::Say { text, voice } => Effect::Say {
                    text,
                    voice,
                    play: Some(play),
                },
                Audio::Url(url) => Effect::FetchAudio { url, play },
                _ => return Some(ivr::Event::PlaybackFinished { id }),
            });
            None
        }
        Resolved::Missing(reason) => {
            warn!(%reason, "a flow's prompt cannot be played: skipped");
            Some(ivr::Event::PlaybackFinished { id })
        }
    }
}

/// Stops what plays to the caller (a flow's audio no longer awaited).
pub(super) fn stop_playback(cx: &mut Context, call: &mut Call) -> Option<ivr::Event> {
    if let Some(run) = call.flow.as_mut() {
        run.waiting_audio = None;
    }
    cx.media.stop_playback(&call.caller.media);
    None
}

/// Loops hold music to the caller: the prompt named `prompt` (uploaded
/// or bundled), else the bundled music.
pub(super) fn hold_music(
    cx: &mut Context,
    call: &mut Call,
    prompt: Option<&str>,
) -> Option<ivr::Event> {
    let prompts = PromptLookup::new(&cx.prompts, &cx.uploaded_prompts);
    let music = prompt.and_then(|name| prompts.named(name));
    let music = music.unwrap_or(&cx.prompts.hold_music).clone();
    let player = Player::single(Playable::Looped(music));
    cx.media.play(&call.caller.media, player);
    None
}

/// Starts a flow's recording `id`: into voicemail box `mailbox`, or the
/// call's recordings.
pub(super) fn record(
    cx: &mut Context,
    now: Instant,
    call: &mut Call,
    (id, mailbox): (u64, Option<String>),
    sip: &mut Endpoint,
) -> Option<ivr::Event> {
    let dir = if mailbox.is_some() {
        &cx.voicemail_dir
    } else {
        &cx.recordings_dir
    };
    let path = dir.join(format!("{}.wav", sip.new_token()));
    if let Err(error) = cx
        .media
        .record(&call.caller.media, None, &path, Channels::Mono)
    {
        warn!(%error, file = %path.display(), "cannot create the flow's recording");
        return Some(ivr::Event::RecordingFinished {
            id,
            duration: Duration::ZERO,
        });
    }
    let file = file_name(&path);
    match &mailbox {
        Some(mailbox) => info!(%mailbox, %file, "taking a voicemail message"),
        None => info!(%file, "the flow records the caller"),
    }
    cx.media.detect_speech(&call.caller.media, true);
    if mailbox.is_none() {
        call.recording_started(&file, false);
        cx.effects.publish(CallEvent::RecordingStarted {
            call_id: call.id.to_string(),
            at: cx.wall(now),
            file: file.clone(),
        });
    }
    call.flow.as_mut()?.recording = Some(FlowRecording {
        id,
        file,
        path,
        mailbox,
        started: now,
    });
    None
}

/// Ends a flow's recording `id`, if it is the one running.
pub(super) fn stop_recording(
    cx: &mut Context,
    now: Instant,
    call: &mut Call,
    id: u64,
) -> Option<ivr::Event> {
    let run = call.flow.as_mut()?;
    let recording = run.recording.take_if(|recording| recording.id == id)?;
    cx.media.stop_recording(&call.caller.media);
    cx.media.detect_speech(&call.caller.media, false);
    let duration = now.saturating_duration_since(recording.started);
    let ended = (cx.wall(now), duration);
    recording_over(&mut cx.effects, ended, call, recording);
    Some(ivr::Event::RecordingFinished { id, duration })
}

/// Asks for a flow's webhook `id` to `url` with `variables` (its answer
/// comes back as [`crate::Command::FlowWebhook`]).
pub(super) fn fetch(
    cx: &mut Context,
    call: &Call,
    (id, url): (u64, String),
    variables: BTreeMap<String, String>,
) -> Option<ivr::Event> {
    cx.effects.push(Effect::Webhook {
        call_id: call.id.clone(),
        fetch: id,
        url,
        variables,
    });
    None
}

/// A flow's recording is over (at a wall-clock time, this long): a
/// voicemail message goes to its box; any other recording is listed with
/// the call's record.
pub(super) fn recording_over(
    effects: &mut Effects,
    (ended, duration): (std::time::SystemTime, Duration),
    call: &mut Call,
    recording: FlowRecording,
) {
    let Some(mailbox) = recording.mailbox else {
        call.recording_now = None;
        return;
    };
    info!(%mailbox, seconds = format!("{:.1}", duration.as_secs_f64()), "voicemail message taken");
    effects.push(Effect::Voicemail(VoicemailMessage {
        mailbox,
        call_id: call.id.to_string(),
        caller_id: call.caller_id.clone(),
        did: call.number_dialed.clone(),
        file: recording.file,
        path: recording.path,
        duration,
        received_at: ended,
    }));
}
