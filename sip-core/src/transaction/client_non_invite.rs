//! Non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!                    |Request from TU
//!                    |send request
//!Timer E             V
//!send request  +-----------+
//!    +---------|  Trying   |-------------+
//!    +-------->+-----------+  Timer F    |
//!     200-699     |  |        or Transport Err.
//!     resp. to TU |  |1xx     inform TU  |
//!                 |  V                   |
//!Timer E     +-----------+               |
//!send req    |Proceeding |---------------+
//!    +-------+-----------+  Timer F      |
//!    +-------->  | 200-699               |
//!                V resp. to TU           |
//!            +-----------+               |
//!            | Completed |  Timer K      |
//!            +-----------+-------->Terminated
//! ```

use super::{Action, Actions, Reliability, Timer, TimerConfig, Timers};
use crate::message::Response;
use bytes::Bytes;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying { retransmit_interval: Duration },
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE client transaction (REGISTER, BYE, OPTIONS, CANCEL, …).
#[derive(Debug)]
pub struct ClientNonInvite {
    state: State,
    timers: Timers,
    config: TimerConfig,
    reliability: Reliability,
    request: Bytes,
}

impl ClientNonInvite {
    /// Starts the transaction: the request is sent at once.
    pub fn start(
        now: Instant,
        request: Bytes,
        reliability: Reliability,
        config: TimerConfig,
        actions: &mut Actions,
    ) -> ClientNonInvite {
        let mut timers = Timers::default();
        if reliability == Reliability::Unreliable {
            timers.start(Timer::E, now, config.t1);
        }
        timers.start(Timer::F, now, config.timeout());
        actions.push(Action::Transmit(request.clone()));
        ClientNonInvite {
            state: State::Trying {
                retransmit_interval: config.t1,
            },
            timers,
            config,
            reliability,
            request,
        }
    }

    /// Handles a response matched to this transaction.
    pub fn handle_response(&mut self, now: Instant, response: Response, actions: &mut Actions) {
        match (self.state, response.status) {
            (State::Trying { .. } | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                actions.push(Action::Deliver(response));
            }
            (State::Trying { .. } | State::Proceeding, _) => {
                self.timers.clear();
                let wait = match self.reliability {
                    Reliability::Unreliable => self.config.t4,
                    Reliability::Reliable => Duration::ZERO,
                };
                self.timers.start(Timer::K, now, wait);
                self.state = State::Completed;
                actions.push(Action::Deliver(response));
            }
            _ => {}
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, actions: &mut Actions) {
        while let Some(timer) = self.timers.take_due(now) {
            match (timer, self.state) {
                (
                    Timer::E,
                    State::Trying {
                        retransmit_interval,
                    },
                ) => {
                    let next = (retransmit_interval * 2).min(self.config.t2);
                    actions.push(Action::Transmit(self.request.clone()));
                    self.timers.start(Timer::E, now, next);
                    self.state = State::Trying {
                        retransmit_interval: next,
                    };
                }
                (Timer::E, State::Proceeding) => {
                    actions.push(Action::Transmit(self.request.clone()));
                    self.timers.start(Timer::E, now, self.config.t2);
                }
                (Timer::F, State::Trying { .. } | State::Proceeding) => {
                    actions.push(Action::TimedOut);
                    self.terminate(actions);
                }
                (Timer::K, State::Completed) => self.terminate(actions),
                _ => {}
            }
        }
    }

    /// A transport error: inform the TU and end (§17.1.4).
    pub fn handle_transport_error(&mut self, actions: &mut Actions) {
        if matches!(self.state, State::Trying { .. } | State::Proceeding) {
            actions.push(Action::TimedOut);
        }
        self.terminate(actions);
    }

    /// Whether no final response has arrived yet.
    pub fn is_pending(&self) -> bool {
        matches!(self.state, State::Trying { .. } | State::Proceeding)
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Whether the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    fn terminate(&mut self, actions: &mut Actions) {
        self.timers.clear();
        self.state = State::Terminated;
        actions.push(Action::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invite, response_to};

    #[test]
    fn timer_e_caps_at_t2_and_f_times_out() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let mut transaction = ClientNonInvite::start(
            start,
            Bytes::from_static(b"OPTIONS"),
            Reliability::Unreliable,
            TimerConfig::default(),
            &mut actions,
        );
        actions.drain().for_each(drop);
        let mut sent_at = Vec::new();
        let mut timed_out = false;
        while let Some(now) = transaction.poll_timeout() {
            transaction.handle_timeout(now, &mut actions);
            for action in actions.drain() {
                match action {
                    Action::Transmit(_) => sent_at.push((now - start).as_millis()),
                    Action::TimedOut => timed_out = (now - start).as_secs() == 32,
                    _ => {}
                }
            }
        }
        assert!(timed_out);
        assert_eq!(
            &sent_at[..6],
            &[500, 1500, 3500, 7500, 11500, 15500],
            "E doubles from T1 and caps at T2"
        );
    }

    #[test]
    fn proceeding_retransmits_every_t2_and_final_completes() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let request = invite("z9hG4bKq");
        let mut transaction = ClientNonInvite::start(
            start,
            request.to_bytes(),
            Reliability::Unreliable,
            TimerConfig::default(),
            &mut actions,
        );
        transaction.handle_response(start, response_to(&request, 100, None), &mut actions);
        transaction.handle_timeout(start + Duration::from_millis(500), &mut actions);
        assert_eq!(
            transaction.poll_timeout(),
            Some(start + Duration::from_millis(4500))
        );
        transaction.handle_response(start, response_to(&request, 200, None), &mut actions);
        // Retransmitted finals are absorbed.
        transaction.handle_response(start, response_to(&request, 200, None), &mut actions);
        let finals = actions
            .drain()
            .filter(|a| matches!(a, Action::Deliver(r) if r.status == 200))
            .count();
        assert_eq!(finals, 1);
        transaction.handle_timeout(start + Duration::from_secs(5), &mut actions);
        assert!(transaction.is_terminated());
    }
}
