//! One clock per call, and the intervals every call record is made from.
//!
//! At every instant a call is in exactly one [`Phase`]; the clock adds
//! each stretch of time to its phase as the call moves on. A record's
//! intervals are those sums, so they add up to the call's length whichever
//! way the call goes and ends:
//!
//! ```text
//!            answer (app)            hold          resume
//!   Setup ──────────────► Talking ─────► (held) ─────► Talking ──► end
//!     │                     ▲
//!     │ flow starts         │ dial answered
//!     ▼        dial         │
//!    Ivr ──────────────► Waiting ◄── a phone or trunk route rings
//!     ▲                     │
//!     └─────────────────────┘ dial over (no answer, busy, hung up)
//!
//!   Talking ── transfer ──► Transferring ── new party answers ──► Talking
//! ```
//!
//! Hold is not a phase of its own but a state over the phases: it counts
//! as hold while the call talks, and as the phase it is in otherwise (a
//! caller who holds while a transfer rings is transferring).

use std::time::{Duration, Instant};

/// What a call is doing, for the record's intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before anything else: the call is being routed (a refused call is
    /// all setup, and so is its zero length).
    Setup,
    /// With an IVR flow: prompts, menus, voicemail.
    Ivr,
    /// Waiting for a called party to answer: a phone, trunk or agent
    /// ringing, or the first party of a call we placed.
    Waiting,
    /// Talking: with a called party, or with the application (echo,
    /// conference, recorder).
    Talking,
    /// Waiting for the new party of a transfer to answer.
    Transferring,
}

/// Time spent in each phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Spent {
    setup: Duration,
    ivr: Duration,
    waiting: Duration,
    talking: Duration,
    held: Duration,
    transferring: Duration,
}

/// A call's clock: where its time went, and when it was answered.
#[derive(Debug, Clone)]
pub struct CallClock {
    started: Instant,
    phase: Phase,
    held: bool,
    /// Since when the current stretch runs (not yet in `spent`).
    since: Instant,
    spent: Spent,
    answered: Option<Instant>,
    agent_answered: Option<Instant>,
}

impl CallClock {
    /// A clock for a call that began at `started`, in `phase`.
    pub fn new(started: Instant, phase: Phase) -> CallClock {
        CallClock {
            started,
            phase,
            held: false,
            since: started,
            spent: Spent::default(),
            answered: None,
            agent_answered: None,
        }
    }

    /// The call moves to `phase` at `now`.
    pub fn enter(&mut self, now: Instant, phase: Phase) {
        self.settle(now);
        self.phase = phase;
    }

    /// The call is put on hold (`true`) or resumed (`false`) at `now`.
    pub fn hold(&mut self, now: Instant, held: bool) {
        self.settle(now);
        self.held = held;
    }

    /// We answered the caller at `now` (the first answer counts).
    pub fn answered(&mut self, now: Instant) {
        self.answered.get_or_insert(now);
    }

    /// A called party (phone, agent, trunk) answered at `now`; the first
    /// answer counts, across transfers.
    pub fn agent_answered(&mut self, now: Instant) {
        self.agent_answered.get_or_insert(now);
    }

    /// The phase the call is in.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the call is on hold.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// When the call began.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// When we answered the caller, once we did.
    pub fn answered_at(&self) -> Option<Instant> {
        self.answered
    }

    /// The call's times if it ended at `now`.
    pub fn times(&self, now: Instant) -> CallTimes {
        let mut clock = self.clone();
        clock.settle(now);
        let spent = clock.spent;
        CallTimes {
            started: self.started,
            answered: self.answered,
            agent_answered: self.agent_answered,
            ended: now,
            connection: self
                .answered
                .map_or(Duration::ZERO, |at| now.saturating_duration_since(at)),
            setup: spent.setup,
            ivr: spent.ivr,
            wait: spent.waiting,
            talk: spent.talking,
            hold: spent.held,
            transfer: spent.transferring,
        }
    }

    /// Adds the stretch since the last change to the phase it was spent
    /// in.
    fn settle(&mut self, now: Instant) {
        let stretch = now.saturating_duration_since(self.since);
        self.since = self.since.max(now);
        let bucket = match (self.phase, self.held) {
            (Phase::Talking, true) => &mut self.spent.held,
            (Phase::Talking, false) => &mut self.spent.talking,
            (Phase::Setup, _) => &mut self.spent.setup,
            (Phase::Ivr, _) => &mut self.spent.ivr,
            (Phase::Waiting, _) => &mut self.spent.waiting,
            (Phase::Transferring, _) => &mut self.spent.transferring,
        };
        *bucket += stretch;
    }
}

/// A call's times, as its record gives them. `setup + ivr + wait + talk +
/// hold + transfer` is the call's whole length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimes {
    /// When the call began (the INVITE, or the first leg of a placed
    /// call).
    pub started: Instant,
    /// When we answered the caller.
    pub answered: Option<Instant>,
    /// When a called party first answered.
    pub agent_answered: Option<Instant>,
    /// When the call ended.
    pub ended: Instant,
    /// From our answer to the end.
    pub connection: Duration,
    /// Routing, before anything else.
    pub setup: Duration,
    /// With IVR flows.
    pub ivr: Duration,
    /// Waiting for called parties to answer.
    pub wait: Duration,
    /// Talking, less hold.
    pub talk: Duration,
    /// On hold while talking.
    pub hold: Duration,
    /// Waiting for transfers' new parties to answer.
    pub transfer: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(start: Instant, seconds: u64) -> Instant {
        start + Duration::from_secs(seconds)
    }

    #[test]
    fn a_menu_call_dialled_to_a_phone_splits_ivr_wait_and_talk() {
        let start = crate::testing::epoch();
        let mut clock = CallClock::new(start, Phase::Setup);
        clock.enter(start, Phase::Ivr);
        clock.answered(start);
        clock.enter(secs(start, 12), Phase::Waiting);
        clock.agent_answered(secs(start, 17));
        clock.enter(secs(start, 17), Phase::Talking);
        clock.hold(secs(start, 30), true);
        clock.hold(secs(start, 34), false);
        let times = clock.times(secs(start, 60));
        assert_eq!(times.ivr, Duration::from_secs(12));
        assert_eq!(times.wait, Duration::from_secs(5));
        assert_eq!(times.talk, Duration::from_secs(39));
        assert_eq!(times.hold, Duration::from_secs(4));
        assert_eq!(times.connection, Duration::from_secs(60));
        assert_eq!(times.agent_answered, Some(secs(start, 17)));
    }

    #[test]
    fn a_call_that_only_runs_a_flow_has_no_talk() {
        let start = crate::testing::epoch();
        let mut clock = CallClock::new(start, Phase::Ivr);
        clock.answered(secs(start, 1));
        let times = clock.times(secs(start, 7));
        assert_eq!(times.ivr, Duration::from_secs(7));
        assert_eq!(times.talk, Duration::ZERO);
        assert_eq!(times.connection, Duration::from_secs(6));
    }

    #[test]
    fn a_hold_during_a_transfer_is_transfer_time_then_hold_once_it_talks() {
        let start = crate::testing::epoch();
        let mut clock = CallClock::new(start, Phase::Talking);
        clock.answered(start);
        clock.enter(secs(start, 10), Phase::Transferring);
        clock.hold(secs(start, 12), true);
        clock.enter(secs(start, 15), Phase::Talking);
        clock.hold(secs(start, 20), false);
        let times = clock.times(secs(start, 30));
        assert_eq!(times.talk, Duration::from_secs(20));
        assert_eq!(times.transfer, Duration::from_secs(5));
        assert_eq!(times.hold, Duration::from_secs(5));
    }

    #[test]
    fn the_first_answers_count() {
        let start = crate::testing::epoch();
        let mut clock = CallClock::new(start, Phase::Waiting);
        clock.answered(secs(start, 2));
        clock.answered(secs(start, 5));
        clock.agent_answered(secs(start, 2));
        clock.agent_answered(secs(start, 9));
        let times = clock.times(secs(start, 10));
        assert_eq!(times.answered, Some(secs(start, 2)));
        assert_eq!(times.agent_answered, Some(secs(start, 2)));
        assert_eq!(clock.answered_at(), Some(secs(start, 2)));
    }

    fn phase() -> impl Strategy<Value = Phase> {
        prop_oneof![
            Just(Phase::Setup),
            Just(Phase::Ivr),
            Just(Phase::Waiting),
            Just(Phase::Talking),
            Just(Phase::Transferring),
        ]
    }

    proptest! {
        /// However a call moves, its intervals add up to its length.
        #[test]
        fn the_intervals_add_up_to_the_call(
            steps in prop::collection::vec((0u64..5_000, phase(), any::<bool>()), 0..50),
            tail in 0u64..5_000,
        ) {
            let start = crate::testing::epoch();
            let mut clock = CallClock::new(start, Phase::Setup);
            let mut now = start;
            for (ms, phase, held) in steps {
                now += Duration::from_millis(ms);
                clock.enter(now, phase);
                clock.hold(now, held);
            }
            let end = now + Duration::from_millis(tail);
            let times = clock.times(end);
            prop_assert_eq!(
                times.setup + times.ivr + times.wait + times.talk + times.hold + times.transfer,
                end - start
            );
        }
    }
}
