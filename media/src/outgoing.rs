//! What a channel sends on each 20 ms tick, and what its recording's
//! right channel hears: the engine's per-channel decisions, kept apart
//! from its sockets and threads so that they are tested on their own.
//!
//! - A player plays over everything, except while a digit goes out as
//!   RFC 4733 events: the player then waits, losing none of its audio.
//! - Without a player, a channel in a mix sends what the mix gives it
//!   (mix-minus: everyone but itself, by role).
//! - Otherwise (idle, echoed or relayed packet by packet) nothing is made
//!   on the tick.

use crate::audio::Frame;
use crate::player::Player;

/// Fills `frame` with what a channel sends this tick; `false` when it
/// sends nothing made on the tick. `mix_output` is what its mix gives it,
/// if it is in one.
pub fn fill(
    player: Option<&mut Player>,
    sending_digits: bool,
    mix_output: Option<&Frame>,
    frame: &mut Frame,
) -> bool {
    match (player, mix_output) {
        // A digit going out holds the player back rather than losing its
        // audio.
        (Some(_), _) if sending_digits => false,
        (Some(player), _) => player.fill_frame(frame),
        (None, Some(output)) => {
            *frame = *output;
            true
        }
        (None, None) => false,
    }
}

/// The right channel of a channel's recording this tick: for a recorded
/// call, what the other party heard (silence when it is gone); else what
/// the channel itself was sent (`sent`: a player's or a mix's frame).
pub fn recording_right<'a>(
    recording_a_call: bool,
    other_heard: Option<&'a Frame>,
    sent: &'a Frame,
    silence: &'a Frame,
) -> &'a Frame {
    match (recording_a_call, other_heard) {
        (true, Some(other)) => other,
        (true, None) => silence,
        (false, _) => sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::SILENCE;
    use crate::player::{Playable, ToneSpec};

    fn tone() -> Player {
        Player::single(Playable::Tone(ToneSpec::BEEP))
    }

    #[test]
    fn a_player_plays_over_the_mix() {
        let mut player = tone();
        let mixed: Frame = [7; 160];
        let mut frame = SILENCE;
        assert!(fill(Some(&mut player), false, Some(&mixed), &mut frame));
        assert_ne!(frame, mixed, "the tone, not the mix");
        assert_ne!(frame, SILENCE);
    }

    #[test]
    fn a_digit_going_out_holds_the_player_back_without_losing_audio() {
        let mut player = tone();
        let mut frame = SILENCE;
        assert!(!fill(Some(&mut player), true, None, &mut frame));
        assert_eq!(player.played(), std::time::Duration::ZERO, "nothing played");
        assert!(fill(Some(&mut player), false, None, &mut frame));
        assert!(player.played() > std::time::Duration::ZERO);
    }

    #[test]
    fn without_a_player_a_mixed_channel_sends_its_mix_and_others_nothing() {
        let mixed: Frame = [7; 160];
        let mut frame = SILENCE;
        assert!(fill(None, false, Some(&mixed), &mut frame));
        assert_eq!(frame, mixed);
        let mut frame = SILENCE;
        assert!(!fill(None, false, None, &mut frame));
        assert_eq!(frame, SILENCE);
    }

    #[test]
    fn a_recorded_call_takes_the_other_party_else_what_was_sent() {
        let (other, sent): (Frame, Frame) = ([1; 160], [2; 160]);
        assert_eq!(recording_right(true, Some(&other), &sent, &SILENCE), &other);
        assert_eq!(recording_right(true, None, &sent, &SILENCE), &SILENCE);
        assert_eq!(recording_right(false, Some(&other), &sent, &SILENCE), &sent);
    }
}
