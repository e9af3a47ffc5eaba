//! Non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!                   |Request received
//!                   |pass to TU
//!                   V
//!             +-----------+
//!             |  Trying   |-------------+
//!             +-----------+             |
//!                |  1xx from TU         | 200-699 from TU
//!                V  send response       | send response
//!             +-----------+             |
//!  Request    |Proceeding |-------------+
//!  send resp  +-----------+             |
//!                                       V
//!  Request    +-----------+  Timer J
//!  send resp  | Completed |---------> Terminated
//!             +-----------+
//! ```

use super::{Action, Actions, Reliability, Timer, TimerConfig, Timers};
use bytes::Bytes;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding { provisional: Bytes },
    Completed { response: Bytes },
    Terminated,
}

/// A non-INVITE server transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    state: State,
    timers: Timers,
    config: TimerConfig,
    reliability: Reliability,
}

impl ServerNonInvite {
    /// Creates the transaction for a new request.
    pub fn new(reliability: Reliability, config: TimerConfig) -> ServerNonInvite {
        ServerNonInvite {
            state: State::Trying,
            timers: Timers::default(),
            config,
            reliability,
        }
    }

    /// A retransmission of the request arrived.
    pub fn handle_retransmission(&mut self, actions: &mut Actions) {
        match &self.state {
            State::Proceeding {
                provisional: response,
            }
            | State::Completed { response } => actions.push(Action::Transmit(response.clone())),
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
        if matches!(self.state, State::Completed { .. } | State::Terminated) {
            return;
        }
        actions.push(Action::Transmit(bytes.clone()));
        if status < 200 {
            self.state = State::Proceeding { provisional: bytes };
            return;
        }
        let wait = match self.reliability {
            Reliability::Unreliable => self.config.timeout(),
            Reliability::Reliable => Duration::ZERO,
        };
        self.timers.start(Timer::J, now, wait);
        self.state = State::Completed { response: bytes };
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, actions: &mut Actions) {
        while let Some(timer) = self.timers.take_due(now) {
            if timer == Timer::J {
                self.timers.clear();
                self.state = State::Terminated;
                actions.push(Action::Terminated);
            }
        }
    }

    /// Whether the TU has not sent a final response yet.
    pub fn is_pending(&self) -> bool {
        matches!(self.state, State::Trying | State::Proceeding { .. })
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Whether the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_response_repeated_until_timer_j() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let mut transaction = ServerNonInvite::new(Reliability::Unreliable, TimerConfig::default());
        transaction.handle_retransmission(&mut actions);
        assert!(actions.is_empty(), "Trying absorbs retransmissions");
        transaction.send_response(start, 200, Bytes::from_static(b"200"), &mut actions);
        transaction.handle_retransmission(&mut actions);
        assert_eq!(actions.drain().count(), 2);
        assert_eq!(
            transaction.poll_timeout(),
            Some(start + Duration::from_secs(32))
        );
        transaction.handle_timeout(start + Duration::from_secs(32), &mut actions);
        assert!(transaction.is_terminated());
    }

    #[test]
    fn reliable_transport_terminates_at_once() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let mut transaction = ServerNonInvite::new(Reliability::Reliable, TimerConfig::default());
        transaction.send_response(start, 200, Bytes::from_static(b"200"), &mut actions);
        transaction.handle_timeout(start, &mut actions);
        assert!(transaction.is_terminated());
    }
}
