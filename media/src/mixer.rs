//! The N-party audio mixer: bridges, conferences, and the supervisor
//! roles of a contact centre (listen, whisper/coach, barge).
//!
//! Once per 20 ms tick the owner puts each participant's decoded frame
//! with [`Mixer::put_frame`], calls [`Mixer::mix`], and reads what each
//! participant hears with [`Mixer::output`]. Every participant hears the
//! sum of what it may hear minus itself (mix-minus), saturated to 16 bits.
//!
//! Who hears whom:
//!
//! | role | hears | heard by |
//! |---|---|---|
//! | [`Role::Normal`] | everyone heard by all, and whisperers to it | everyone |
//! | [`Role::Barge`] | the same | everyone |
//! | [`Role::Listen`] | the same | nobody |
//! | [`Role::Whisper`] | the same | only its `to` |
//!
//! A muted participant hears as its role says and is heard by nobody.
//!
//! The sum of everyone heard by all is computed once, in 32 bits; each
//! output is that sum minus the participant's own contribution, plus any
//! whisper to it: O(N) per tick, not O(N²). Nothing allocates per tick.

use crate::audio::{FRAME_SAMPLES, Frame, SILENCE};
use std::collections::HashMap;

/// Names one participant of a mixer; the owner chooses the values (a leg
/// or channel number), unique within one mixer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(u64);

impl ParticipantId {
    /// Any number names a participant.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// What a participant hears and who hears it (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A party to the call or conference.
    Normal,
    /// A silent monitor: hears everyone, heard by nobody.
    Listen,
    /// A coach: hears everyone, heard only by the participant `to` (for
    /// example the agent, not the customer).
    Whisper {
        /// The only participant who hears the whisperer.
        to: ParticipantId,
    },
    /// A supervisor who joins the call: hears everyone, heard by everyone.
    Barge,
}

/// A mixer operation the mixer's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MixerError {
    /// A participant with this id is already in the mixer.
    #[error("participant {0:?} is already in the mixer")]
    AlreadyPresent(ParticipantId),
    /// No participant with this id is in the mixer.
    #[error("participant {0:?} is not in the mixer")]
    NotPresent(ParticipantId),
    /// A participant cannot whisper to itself.
    #[error("participant {0:?} cannot whisper to itself")]
    WhisperToSelf(ParticipantId),
}

/// One participant's state, inputs and output.
#[derive(Debug, Clone)]
struct Participant {
    id: ParticipantId,
    role: Role,
    muted: bool,
    /// Whether `input` holds this tick's frame.
    has_input: bool,
    input: Frame,
    output: Frame,
    /// During `mix`, the first whisperer (index) to this participant and
    /// the next whisperer to the same target: a list threaded through the
    /// participants, so collecting whispers allocates nothing.
    first_whisperer: Option<usize>,
    next_whisperer: Option<usize>,
}

/// How a participant's input reaches the others this tick.
enum Contribution {
    Nobody,
    Everyone,
    Only(usize),
}

/// An N-party mixer of 20 ms frames with mix-minus and supervisor roles.
#[derive(Debug, Clone, Default)]
pub struct Mixer {
    participants: Vec<Participant>,
    positions: HashMap<ParticipantId, usize>,
}

impl Mixer {
    /// An empty mixer.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty mixer with room for `participants` without reallocating.
    pub fn with_capacity(participants: usize) -> Self {
        Self {
            participants: Vec::with_capacity(participants),
            positions: HashMap::with_capacity(participants),
        }
    }

    /// Adds a participant with `role`, unmuted, hearing silence until the
    /// next [`mix`](Self::mix).
    pub fn add(&mut self, id: ParticipantId, role: Role) -> Result<(), MixerError> {
        if self.positions.contains_key(&id) {
            return Err(MixerError::AlreadyPresent(id));
        }
        check_role(id, role)?;
        self.positions.insert(id, self.participants.len());
        self.participants.push(Participant {
            id,
            role,
            muted: false,
            has_input: false,
            input: SILENCE,
            output: SILENCE,
            first_whisperer: None,
            next_whisperer: None,
        });
        Ok(())
    }

    /// Removes a participant and everything the mixer held for it; it may
    /// be added to another mixer at once. Whisperers to it are heard by
    /// nobody until their role changes. Returns its role.
    pub fn remove(&mut self, id: ParticipantId) -> Result<Role, MixerError> {
        let position = self
            .positions
            .remove(&id)
            .ok_or(MixerError::NotPresent(id))?;
        let removed = self.participants.swap_remove(position);
        if let Some(moved) = self.participants.get(position) {
            self.positions.insert(moved.id, position);
        }
        Ok(removed.role)
    }

    /// Changes a participant's role, from the next tick.
    pub fn set_role(&mut self, id: ParticipantId, role: Role) -> Result<(), MixerError> {
        check_role(id, role)?;
        self.participant_mut(id)?.role = role;
        Ok(())
    }

    /// Mutes (heard by nobody) or unmutes a participant, from the next tick.
    pub fn set_muted(&mut self, id: ParticipantId, muted: bool) -> Result<(), MixerError> {
        self.participant_mut(id)?.muted = muted;
        Ok(())
    }

    /// A participant's role.
    pub fn role(&self, id: ParticipantId) -> Option<Role> {
        self.participant(id).map(|participant| participant.role)
    }

    /// Whether a participant is muted.
    pub fn is_muted(&self, id: ParticipantId) -> Option<bool> {
        self.participant(id).map(|participant| participant.muted)
    }

    /// Whether the mixer has a participant `id`.
    pub fn contains(&self, id: ParticipantId) -> bool {
        self.positions.contains_key(&id)
    }

    /// How many participants the mixer has.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// Whether the mixer has no participants.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Sets a participant's input for this tick. A participant without an
    /// input when [`mix`](Self::mix) runs contributes silence.
    pub fn put_frame(&mut self, id: ParticipantId, frame: &Frame) -> Result<(), MixerError> {
        let participant = self.participant_mut(id)?;
        participant.input = *frame;
        participant.has_input = true;
        Ok(())
    }

    /// Mixes this tick: computes every participant's output from the
    /// inputs put since the last mix, then forgets the inputs.
    pub fn mix(&mut self) {
        // The sum of every input heard by all.
        let mut sum = [0i32; FRAME_SAMPLES];
        for participant in &mut self.participants {
            participant.first_whisperer = None;
            participant.next_whisperer = None;
        }
        for position in 0..self.participants.len() {
            match self.contribution(position) {
                Contribution::Nobody => {}
                Contribution::Everyone => {
                    add_into(&mut sum, &self.participants[position].input);
                }
                Contribution::Only(target) => {
                    let previous = self.participants[target].first_whisperer;
                    self.participants[target].first_whisperer = Some(position);
                    self.participants[position].next_whisperer = previous;
                }
            }
        }
        for position in 0..self.participants.len() {
            let own_heard = matches!(self.contribution(position), Contribution::Everyone);
            let mut accumulator = sum;
            if own_heard {
                subtract_from(&mut accumulator, &self.participants[position].input);
            }
            let mut whisperer = self.participants[position].first_whisperer;
            while let Some(source) = whisperer {
                add_into(&mut accumulator, &self.participants[source].input);
                whisperer = self.participants[source].next_whisperer;
            }
            let output = &mut self.participants[position].output;
            for (sample, total) in output.iter_mut().zip(&accumulator) {
                *sample = (*total).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            }
        }
        for participant in &mut self.participants {
            participant.has_input = false;
        }
    }

    /// What `id` hears, as of the last [`mix`](Self::mix) (silence if it
    /// joined since).
    pub fn output(&self, id: ParticipantId) -> Option<&Frame> {
        self.participant(id).map(|participant| &participant.output)
    }

    fn contribution(&self, position: usize) -> Contribution {
        let participant = &self.participants[position];
        if participant.muted || !participant.has_input {
            return Contribution::Nobody;
        }
        match participant.role {
            Role::Normal | Role::Barge => Contribution::Everyone,
            Role::Listen => Contribution::Nobody,
            Role::Whisper { to } => match self.positions.get(&to) {
                Some(&target) => Contribution::Only(target),
                None => Contribution::Nobody,
            },
        }
    }

    fn participant(&self, id: ParticipantId) -> Option<&Participant> {
        let position = *self.positions.get(&id)?;
        Some(&self.participants[position])
    }

    fn participant_mut(&mut self, id: ParticipantId) -> Result<&mut Participant, MixerError> {
        let position = *self.positions.get(&id).ok_or(MixerError::NotPresent(id))?;
        Ok(&mut self.participants[position])
    }
}

fn check_role(id: ParticipantId, role: Role) -> Result<(), MixerError> {
    match role {
        Role::Whisper { to } if to == id => Err(MixerError::WhisperToSelf(id)),
        _ => Ok(()),
    }
}

fn add_into(accumulator: &mut [i32; FRAME_SAMPLES], frame: &Frame) {
    for (total, sample) in accumulator.iter_mut().zip(frame) {
        *total += i32::from(*sample);
    }
}

fn subtract_from(accumulator: &mut [i32; FRAME_SAMPLES], frame: &Frame) {
    for (total, sample) in accumulator.iter_mut().zip(frame) {
        *total -= i32::from(*sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: u64) -> ParticipantId {
        ParticipantId::new(value)
    }

    /// A frame whose every sample is distinct and identifies `seed`.
    fn frame(seed: i16) -> Frame {
        let mut frame = SILENCE;
        for (position, sample) in frame.iter_mut().enumerate() {
            *sample = seed.wrapping_mul(10).wrapping_add(position as i16 - 80);
        }
        frame
    }

    /// The sample-by-sample saturated sum of `frames`.
    fn expected(frames: &[Frame]) -> Frame {
        let mut output = SILENCE;
        for (position, sample) in output.iter_mut().enumerate() {
            let total: i32 = frames.iter().map(|frame| i32::from(frame[position])).sum();
            *sample = total.clamp(-32_768, 32_767) as i16;
        }
        output
    }

    fn mixer_with(roles: &[(u64, Role)]) -> Mixer {
        let mut mixer = Mixer::new();
        for &(value, role) in roles {
            mixer.add(id(value), role).expect("fresh id");
        }
        mixer
    }

    fn put_all(mixer: &mut Mixer, values: &[u64]) {
        for &value in values {
            mixer
                .put_frame(id(value), &frame(value as i16))
                .expect("present");
        }
    }

    fn heard(mixer: &Mixer, value: u64) -> Frame {
        *mixer.output(id(value)).expect("present")
    }

    #[test]
    fn each_normal_participant_hears_everyone_but_itself() {
        let mut mixer = mixer_with(&[(1, Role::Normal), (2, Role::Normal), (3, Role::Normal)]);
        put_all(&mut mixer, &[1, 2, 3]);
        mixer.mix();
        assert_eq!(heard(&mixer, 1), expected(&[frame(2), frame(3)]));
        assert_eq!(heard(&mixer, 2), expected(&[frame(1), frame(3)]));
        assert_eq!(heard(&mixer, 3), expected(&[frame(1), frame(2)]));
    }

    #[test]
    fn a_two_party_bridge_passes_each_side_to_the_other() {
        let mut mixer = mixer_with(&[(1, Role::Normal), (2, Role::Normal)]);
        put_all(&mut mixer, &[1, 2]);
        mixer.mix();
        assert_eq!(heard(&mixer, 1), frame(2));
        assert_eq!(heard(&mixer, 2), frame(1));
    }

    #[test]
    fn a_participant_without_input_this_tick_contributes_silence() {
        let mut mixer = mixer_with(&[(1, Role::Normal), (2, Role::Normal), (3, Role::Normal)]);
        put_all(&mut mixer, &[1, 2, 3]);
        mixer.mix();
        put_all(&mut mixer, &[1]);
        mixer.mix();
        assert_eq!(heard(&mixer, 2), frame(1));
        assert_eq!(heard(&mixer, 1), SILENCE);
    }

    #[test]
    fn a_listener_hears_everyone_and_nobody_hears_it() {
        let mut mixer = mixer_with(&[(1, Role::Normal), (2, Role::Normal), (9, Role::Listen)]);
        put_all(&mut mixer, &[1, 2, 9]);
        mixer.mix();
        assert_eq!(heard(&mixer, 9), expected(&[frame(1), frame(2)]));
        assert_eq!(heard(&mixer, 1), frame(2));
        assert_eq!(heard(&mixer, 2), frame(1));
    }

    #[test]
    fn a_whisperer_is_heard_only_by_its_target_and_hears_everyone() {
        // 1 the customer, 2 the agent, 9 the coach.
        let roles = [
            (1, Role::Normal),
            (2, Role::Normal),
            (9, Role::Whisper { to: id(2) }),
        ];
        let mut mixer = mixer_with(&roles);
        put_all(&mut mixer, &[1, 2, 9]);
        mixer.mix();
        assert_eq!(heard(&mixer, 1), frame(2));
        assert_eq!(heard(&mixer, 2), expected(&[frame(1), frame(9)]));
        assert_eq!(heard(&mixer, 9), expected(&[frame(1), frame(2)]));
    }

    #[test]
    fn two_whisperers_to_one_target_and_one_to_another_are_kept_apart() {
        let roles = [
            (1, Role::Normal),
            (2, Role::Normal),
            (3, Role::Normal),
            (7, Role::Whisper { to: id(2) }),
            (8, Role::Whisper { to: id(2) }),
            (9, Role::Whisper { to: id(3) }),
        ];
        let mut mixer = mixer_with(&roles);
        put_all(&mut mixer, &[1, 2, 3, 7, 8, 9]);
        mixer.mix();
        let room = [frame(1), frame(2), frame(3)];
        assert_eq!(heard(&mixer, 1), expected(&[frame(2), frame(3)]));
        assert_eq!(
            heard(&mixer, 2),
            expected(&[frame(1), frame(3), frame(7), frame(8)])
        );
        assert_eq!(heard(&mixer, 3), expected(&[frame(1), frame(2), frame(9)]));
        for whisperer in [7, 8, 9] {
            assert_eq!(heard(&mixer, whisperer), expected(&room));
        }
    }

    #[test]
    fn a_barging_supervisor_hears_and_is_heard_by_everyone() {
        let roles = [
            (1, Role::Normal),
            (2, Role::Normal),
            (9, Role::Barge),
            (5, Role::Listen),
        ];
        let mut mixer = mixer_with(&roles);
        put_all(&mut mixer, &[1, 2, 9, 5]);
        mixer.mix();
        assert_eq!(heard(&mixer, 1), expected(&[frame(2), frame(9)]));
        assert_eq!(heard(&mixer, 2), expected(&[frame(1), frame(9)]));
        assert_eq!(heard(&mixer, 9), expected(&[frame(1), frame(2)]));
        assert_eq!(heard(&mixer, 5), expected(&[frame(1), frame(2), frame(9)]));
    }

    #[test]
    fn a_muted_participant_is_heard_by_nobody_but_still_hears() {
        let roles = [
            (1, Role::Normal),
            (2, Role::Normal),
            (3, Role::Whisper { to: id(1) }),
        ];
        let mut mixer = mixer_with(&roles);
        mixer.set_muted(id(2), true).expect("present");
        mixer.set_muted(id(3), true).expect("present");
        assert_eq!(mixer.is_muted(id(2)), Some(true));
        put_all(&mut mixer, &[1, 2, 3]);
        mixer.mix();
        assert_eq!(heard(&mixer, 1), SILENCE);
        assert_eq!(heard(&mixer, 2), frame(1));
        assert_eq!(heard(&mixer, 3), frame(1));
        mixer.set_muted(id(2), false).expect("present");
        put_all(&mut mixer, &[1, 2, 3]);
        mixer.mix();
        assert_eq!(heard(&mixer, 1), frame(2));
    }

    #[test]
    fn sums_saturate_to_sixteen_bits_and_mix_minus_is_exact_before_saturating() {
        let loud = [30_000i16; FRAME_SAMPLES];
        let quiet_negative = [-30_000i16; FRAME_SAMPLES];
        let mut mixer = mixer_with(&[
            (1, Role::Normal),
            (2, Role::Normal),
            (3, Role::Normal),
            (4, Role::Normal),
        ]);
        for value in [1, 2, 3] {
            mixer.put_frame(id(value), &loud).expect("present");
        }
        mixer.mix();
        assert_eq!(heard(&mixer, 4), [i16::MAX; FRAME_SAMPLES]);
        // 1 hears 60,000 (saturated), not 90,000 - 30,000 after clipping.
        assert_eq!(heard(&mixer, 1), [i16::MAX; FRAME_SAMPLES]);
        for value in [1, 2, 3] {
            mixer
                .put_frame(id(value), &quiet_negative)
                .expect("present");
        }
        mixer.put_frame(id(4), &loud).expect("present");
        mixer.mix();
        assert_eq!(heard(&mixer, 4), [i16::MIN; FRAME_SAMPLES]);
        assert_eq!(heard(&mixer, 1), [-30_000; FRAME_SAMPLES]);
    }

    #[test]
    fn role_changes_take_effect_at_the_next_mix() {
        let mut mixer = mixer_with(&[(1, Role::Normal), (2, Role::Normal), (9, Role::Listen)]);
        mixer
            .set_role(id(9), Role::Whisper { to: id(2) })
            .expect("present");
        put_all(&mut mixer, &[1, 2, 9]);
        mixer.mix();
        assert_eq!(heard(&mixer, 2), expected(&[frame(1), frame(9)]));
        mixer.set_role(id(9), Role::Barge).expect("present");
        put_all(&mut mixer, &[1, 2, 9]);
        mixer.mix();
        assert_eq!(heard(&mixer, 1), expected(&[frame(2), frame(9)]));
        assert_eq!(mixer.role(id(9)), Some(Role::Barge));
    }

    #[test]
    fn a_participant_moves_between_mixers_without_stale_state() {
        let mut first = mixer_with(&[
            (1, Role::Normal),
            (2, Role::Normal),
            (3, Role::Whisper { to: id(2) }),
        ]);
        let mut second = mixer_with(&[(5, Role::Normal)]);
        put_all(&mut first, &[1, 2, 3]);
        first.mix();
        // Between ticks, 2 goes to the second mixer with its input put.
        put_all(&mut first, &[2]);
        let role = first.remove(id(2)).expect("present");
        second.add(id(2), role).expect("fresh id");
        assert_eq!(heard(&second, 2), SILENCE, "nothing heard before a mix");
        put_all(&mut first, &[1, 3]);
        put_all(&mut second, &[2, 5]);
        first.mix();
        second.mix();
        assert_eq!(heard(&first, 1), SILENCE, "the whisperer's target left");
        assert_eq!(heard(&first, 3), frame(1));
        assert_eq!(heard(&second, 2), frame(5));
        assert_eq!(heard(&second, 5), frame(2));
        assert_eq!(first.output(id(2)), None);
        assert_eq!((first.len(), second.len()), (2, 2));
    }

    #[test]
    fn removal_keeps_the_others_lookups_right() {
        let mut mixer = mixer_with(&[
            (1, Role::Normal),
            (2, Role::Normal),
            (3, Role::Normal),
            (4, Role::Whisper { to: id(3) }),
        ]);
        mixer.remove(id(1)).expect("present");
        put_all(&mut mixer, &[2, 3, 4]);
        mixer.mix();
        assert_eq!(heard(&mixer, 2), frame(3));
        assert_eq!(heard(&mixer, 3), expected(&[frame(2), frame(4)]));
        assert_eq!(heard(&mixer, 4), expected(&[frame(2), frame(3)]));
    }

    #[test]
    fn misuse_is_refused_with_a_typed_error() {
        let mut mixer = mixer_with(&[(1, Role::Normal)]);
        assert_eq!(
            mixer.add(id(1), Role::Listen),
            Err(MixerError::AlreadyPresent(id(1)))
        );
        assert_eq!(mixer.remove(id(7)), Err(MixerError::NotPresent(id(7))));
        assert_eq!(
            mixer.set_role(id(1), Role::Whisper { to: id(1) }),
            Err(MixerError::WhisperToSelf(id(1)))
        );
        assert_eq!(
            mixer.put_frame(id(7), &SILENCE),
            Err(MixerError::NotPresent(id(7)))
        );
        assert_eq!(
            mixer.set_muted(id(7), true),
            Err(MixerError::NotPresent(id(7)))
        );
        assert!(mixer.contains(id(1)) && !mixer.is_empty());
    }

    #[test]
    fn a_hundred_party_conference_matches_the_naive_mix() {
        let mut mixer = Mixer::with_capacity(100);
        for value in 0..100 {
            let role = match value {
                0 | 1 => Role::Listen,
                2 => Role::Whisper { to: id(50) },
                _ => Role::Normal,
            };
            mixer.add(id(value), role).expect("fresh id");
        }
        mixer.set_muted(id(10), true).expect("present");
        let values: Vec<u64> = (0..100).collect();
        put_all(&mut mixer, &values);
        mixer.mix();
        let heard_by_all: Vec<u64> = (3..100).filter(|value| *value != 10).collect();
        for value in 0..100 {
            let mut sources: Vec<Frame> = heard_by_all
                .iter()
                .filter(|source| **source != value)
                .map(|source| frame(*source as i16))
                .collect();
            if value == 50 {
                sources.push(frame(2));
            }
            assert_eq!(
                heard(&mixer, value),
                expected(&sources),
                "participant {value}"
            );
        }
    }
}
