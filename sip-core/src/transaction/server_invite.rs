//! INVITE server transaction (RFC 3261 §17.2.1, updated by RFC 6026 §8.7).
//!
//! ```text
//!                        |INVITE
//!                        |pass INV to TU, send 100 Trying
//!     INVITE             V
//!     send response+-----------+
//!         +--------|           |--------+ 101-199 from TU
//!         |        |Proceeding |        | send response
//!         +------->|           |<-------+
//!                  +-----------+   2xx from TU, send
//!     300-699 from TU |     +---------------------+
//!     send response   |                           V
//!                     V                     +-----------+ ACK to TU
//!  INVITE       +-----------+               | Accepted  |---+ 2xx from
//!  send resp +--| Completed |               +-----------+<--+ TU: send
//!  Timer G   +->+-----------+                     | Timer L
//!                 |ACK      | Timer H             V
//!                 V         +---------------> Terminated
//!             +-----------+                       ^
//!             | Confirmed |-----------------------+ Timer I
//!             +-----------+
//! ```
//!
//! In Accepted the UAS core, not this transaction, retransmits the 2xx
//! until the ACK arrives (RFC 3261 §13.3.1.4).

use super::{Action, Actions, Reliability, Timer, TimerConfig, Timers};
use bytes::Bytes;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Proceeding {
        last_provisional: Option<Bytes>,
    },
    Completed {
        response: Bytes,
        retransmit_interval: Duration,
    },
    Confirmed,
    Accepted,
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug)]
pub struct ServerInvite {
    state: State,
    timers: Timers,
    config: TimerConfig,
    reliability: Reliability,
}

impl ServerInvite {
    /// Creates the transaction for a new INVITE. The caller sends `100
    /// Trying` through [`ServerInvite::send_response`] when it wants one.
    pub fn new(reliability: Reliability, config: TimerConfig) -> ServerInvite {
        ServerInvite {
            state: State::Proceeding {
                last_provisional: None,
            },
            timers: Timers::default(),
            config,
            reliability,
        }
    }

    /// A retransmission of the INVITE arrived.
    pub fn handle_retransmission(&mut self, actions: &mut Actions) {
        match &self.state {
            State::Proceeding {
                last_provisional: Some(response),
            }
            | State::Completed { response, .. } => actions.push(Action::Transmit(response.clone())),
            // RFC 6026: absorbed in Accepted; the UAS core retransmits the 2xx.
            _ => {}
        }
    }

    /// An ACK matched to this transaction arrived.
    pub fn handle_ack(&mut self, now: Instant, actions: &mut Actions) {
        match self.state {
            State::Completed { .. } => {
                self.timers.clear();
                let wait = match self.reliability {
                    Reliability::Unreliable => self.config.t4,
                    Reliability::Reliable => Duration::ZERO,
                };
                self.timers.start(Timer::I, now, wait);
                self.state = State::Confirmed;
            }
            State::Accepted => actions.push(Action::DeliverAck),
            _ => {}
        }
    }

    /// The TU sends a response with this status.
    pub fn send_response(
        &mut self,
        now: Instant,
        status: u16,
        bytes: Bytes,
        actions: &mut Actions,
    ) {
        match (&self.state, status) {
            (State::Proceeding { .. }, 100..=199) => {
                actions.push(Action::Transmit(bytes.clone()));
                self.state = State::Proceeding {
                    last_provisional: Some(bytes),
                };
            }
            (State::Proceeding { .. } | State::Accepted, 200..=299) => {
                actions.push(Action::Transmit(bytes));
                if !matches!(self.state, State::Accepted) {
                    self.timers.start(Timer::L, now, self.config.timeout());
                    self.state = State::Accepted;
                }
            }
            (State::Proceeding { .. }, 300..=699) => {
                actions.push(Action::Transmit(bytes.clone()));
                if self.reliability == Reliability::Unreliable {
                    self.timers.start(Timer::G, now, self.config.t1);
                }
                self.timers.start(Timer::H, now, self.config.timeout());
                self.state = State::Completed {
                    response: bytes,
                    retransmit_interval: self.config.t1,
                };
            }
            _ => {}
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, actions: &mut Actions) {
        while let Some(timer) = self.timers.take_due(now) {
            match (timer, &self.state) {
                (
                    Timer::G,
                    State::Completed {
                        response,
                        retransmit_interval,
                    },
                ) => {
                    let next = (*retransmit_interval * 2).min(self.config.t2);
                    let response = response.clone();
                    actions.push(Action::Transmit(response.clone()));
                    self.timers.start(Timer::G, now, next);
                    self.state = State::Completed {
                        response,
                        retransmit_interval: next,
                    };
                }
                (Timer::H, State::Completed { .. }) => {
                    actions.push(Action::AckNotReceived);
                    self.terminate(actions);
                }
                (Timer::I, State::Confirmed) | (Timer::L, State::Accepted) => {
                    self.terminate(actions)
                }
                _ => {}
            }
        }
    }

    /// Whether no final response has been sent yet (a CANCEL still applies).
    pub fn is_proceeding(&self) -> bool {
        matches!(self.state, State::Proceeding { .. })
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

    fn transmitted(actions: &mut Actions) -> Vec<Bytes> {
        actions
            .drain()
            .filter_map(|action| match action {
                Action::Transmit(bytes) => Some(bytes),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn retransmitted_invite_gets_last_provisional() {
        let now = crate::testing::epoch();
        let mut actions = Actions::default();
        let mut transaction = ServerInvite::new(Reliability::Unreliable, TimerConfig::default());
        transaction.handle_retransmission(&mut actions);
        assert!(actions.is_empty(), "nothing sent yet, nothing to repeat");
        transaction.send_response(now, 100, Bytes::from_static(b"100"), &mut actions);
        transaction.send_response(now, 180, Bytes::from_static(b"180"), &mut actions);
        transmitted(&mut actions);
        transaction.handle_retransmission(&mut actions);
        assert_eq!(transmitted(&mut actions), vec![Bytes::from_static(b"180")]);
    }

    #[test]
    fn timer_g_until_ack_then_i() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let mut transaction = ServerInvite::new(Reliability::Unreliable, TimerConfig::default());
        transaction.send_response(start, 486, Bytes::from_static(b"486"), &mut actions);
        transmitted(&mut actions);
        let mut now = start;
        for expected in [500, 1500, 3500, 7500, 11500] {
            now = transaction.poll_timeout().unwrap();
            transaction.handle_timeout(now, &mut actions);
            assert_eq!((now - start).as_millis(), expected);
            assert_eq!(transmitted(&mut actions).len(), 1);
        }
        transaction.handle_ack(now, &mut actions);
        transaction.handle_retransmission(&mut actions);
        assert!(transmitted(&mut actions).is_empty(), "confirmed absorbs");
        transaction.handle_timeout(now + Duration::from_secs(5), &mut actions);
        assert!(transaction.is_terminated());
    }

    #[test]
    fn timer_h_reports_missing_ack() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let mut transaction = ServerInvite::new(Reliability::Reliable, TimerConfig::default());
        transaction.send_response(start, 404, Bytes::from_static(b"404"), &mut actions);
        assert_eq!(
            transaction.poll_timeout(),
            Some(start + Duration::from_secs(32))
        );
        transaction.handle_timeout(start + Duration::from_secs(32), &mut actions);
        assert!(actions.drain().any(|a| matches!(a, Action::AckNotReceived)));
        assert!(transaction.is_terminated());
    }

    #[test]
    fn accepted_absorbs_invites_and_passes_acks() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let mut transaction = ServerInvite::new(Reliability::Unreliable, TimerConfig::default());
        transaction.send_response(start, 200, Bytes::from_static(b"200"), &mut actions);
        transmitted(&mut actions);
        transaction.handle_retransmission(&mut actions);
        assert!(actions.is_empty());
        transaction.handle_ack(start, &mut actions);
        assert!(matches!(actions.drain().next(), Some(Action::DeliverAck)));
        transaction.handle_timeout(start + Duration::from_secs(32), &mut actions);
        assert!(transaction.is_terminated());
    }
}
