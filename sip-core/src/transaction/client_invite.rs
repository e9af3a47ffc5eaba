//! INVITE client transaction (RFC 3261 §17.1.1, updated by RFC 6026 §8.4).
//!
//! ```text
//!                    |INVITE from TU
//!  Timer A fires     |INVITE sent        Timer B fires
//!  Reset A,          V                   or Transport Err.
//!  INVITE sent +-----------+             inform TU
//!    +---------|  Calling  |----------------------------+
//!    |         +-----------+ 2xx                         |
//!    +-------->  |   |       2xx to TU ----------+       |
//!          1xx   |   |300-699                    |       |
//!    1xx to TU   |   |ACK sent, resp. to TU      |       |
//!  +-----------+ |   |                           V       |
//!  |Proceeding |<+   |                    +-----------+  |
//!  +-----------+     |  2xx to TU ------->| Accepted  |  |
//!     |  300-699     |                    +-----------+  |
//!     |  ACK sent    V                      | Timer M    |
//!     +-------->+-----------+               V            |
//!               | Completed |------------>Terminated<----+
//!               +-----------+  Timer D
//! ```

use super::{Action, Actions, Reliability, Timer, TimerConfig, Timers};
use crate::message::{Request, Response};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// The states of an INVITE client transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Calling { retransmit_interval: Duration },
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug)]
pub struct ClientInvite {
    state: State,
    timers: Timers,
    config: TimerConfig,
    reliability: Reliability,
    request: Bytes,
    /// The INVITE, kept to build the ACK for a non-2xx final (§17.1.1.3).
    invite: Request,
    /// The ACK sent for a non-2xx final, resent on each retransmission.
    ack: Option<Bytes>,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE is sent at once.
    pub fn start(
        now: Instant,
        invite: Request,
        bytes: Bytes,
        reliability: Reliability,
        config: TimerConfig,
        actions: &mut Actions,
    ) -> ClientInvite {
        let mut timers = Timers::default();
        if reliability == Reliability::Unreliable {
            timers.start(Timer::A, now, config.t1);
        }
        timers.start(Timer::B, now, config.timeout());
        actions.push(Action::Transmit(bytes.clone()));
        ClientInvite {
            state: State::Calling {
                retransmit_interval: config.t1,
            },
            timers,
            config,
            reliability,
            request: bytes,
            invite,
            ack: None,
        }
    }

    /// Handles a response matched to this transaction.
    pub fn handle_response(&mut self, now: Instant, response: Response, actions: &mut Actions) {
        let status = response.status;
        match (&self.state, status) {
            (State::Calling { .. } | State::Proceeding, 100..=199) => {
                self.timers.stop(Timer::A);
                self.state = State::Proceeding;
                actions.push(Action::Deliver(response));
            }
            (State::Calling { .. } | State::Proceeding, 200..=299) => {
                self.timers.clear();
                self.timers.start(Timer::M, now, self.config.timeout());
                self.state = State::Accepted;
                actions.push(Action::Deliver(response));
            }
            (State::Calling { .. } | State::Proceeding, _) => {
                self.timers.clear();
                let ack = build_ack(&self.invite, &response).to_bytes();
                actions.push(Action::Transmit(ack.clone()));
                self.ack = Some(ack);
                let wait = match self.reliability {
                    Reliability::Unreliable => Duration::from_secs(32),
                    Reliability::Reliable => Duration::ZERO,
                };
                self.timers.start(Timer::D, now, wait);
                self.state = State::Completed;
                actions.push(Action::Deliver(response));
            }
            (State::Completed, 300..=699) => {
                if let Some(ack) = &self.ack {
                    actions.push(Action::Transmit(ack.clone()));
                }
            }
            // RFC 6026: every 2xx in Accepted goes to the TU, which ACKs it.
            (State::Accepted, 200..=299) => actions.push(Action::Deliver(response)),
            _ => {}
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, actions: &mut Actions) {
        while let Some(timer) = self.timers.take_due(now) {
            match (timer, &self.state) {
                (
                    Timer::A,
                    State::Calling {
                        retransmit_interval,
                    },
                ) => {
                    let next = *retransmit_interval * 2;
                    actions.push(Action::Transmit(self.request.clone()));
                    self.timers.start(Timer::A, now, next);
                    self.state = State::Calling {
                        retransmit_interval: next,
                    };
                }
                (Timer::B, State::Calling { .. } | State::Proceeding) => {
                    actions.push(Action::TimedOut);
                    self.terminate(actions);
                }
                (Timer::D, State::Completed) | (Timer::M, State::Accepted) => {
                    self.terminate(actions)
                }
                _ => {}
            }
        }
    }

    /// A transport error: inform the TU and end (§17.1.4).
    pub fn handle_transport_error(&mut self, actions: &mut Actions) {
        if matches!(self.state, State::Calling { .. } | State::Proceeding) {
            actions.push(Action::TimedOut);
        }
        self.terminate(actions);
    }

    /// Whether a CANCEL may be sent: only once a provisional arrived (§9.1).
    pub fn is_proceeding(&self) -> bool {
        self.state == State::Proceeding
    }

    /// Whether no final response has arrived yet.
    pub fn is_pending(&self) -> bool {
        matches!(self.state, State::Calling { .. } | State::Proceeding)
    }

    /// The INVITE this transaction sent.
    pub fn invite(&self) -> &Request {
        &self.invite
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

/// Builds the ACK for a non-2xx final response (RFC 3261 §17.1.1.3): the
/// INVITE's Request-URI, Call-ID, From, top Via and Route, the response's
/// To (with its tag), and CSeq with the INVITE's number and method ACK.
pub fn build_ack(invite: &Request, response: &Response) -> Request {
    use crate::message::{Method, Name};
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    let headers = &mut ack.headers;
    if let Some(via) = invite.headers.first(&Name::VIA) {
        headers.push(Name::VIA, via.clone());
    }
    headers.push(Name::MAX_FORWARDS, "70");
    headers.copy_from(&invite.headers, &Name::FROM);
    headers.copy_from(&response.headers, &Name::TO);
    headers.copy_from(&invite.headers, &Name::CALL_ID);
    let sequence = invite.headers.cseq().map(|cseq| cseq.sequence).unwrap_or(1);
    headers.push(Name::CSEQ, format!("{sequence} ACK"));
    headers.copy_from(&invite.headers, &Name::ROUTE);
    ack
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invite, response_to};

    fn transmits(actions: &mut Actions) -> usize {
        actions
            .drain()
            .filter(|action| matches!(action, Action::Transmit(_)))
            .count()
    }

    #[test]
    fn timer_a_doubles_until_timer_b() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let request = invite("z9hG4bKa");
        let bytes = request.to_bytes();
        let mut transaction = ClientInvite::start(
            start,
            request,
            bytes,
            Reliability::Unreliable,
            TimerConfig::default(),
            &mut actions,
        );
        assert_eq!(transmits(&mut actions), 1);
        // Retransmits at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B fires at 32 s.
        let mut sent_at = Vec::new();
        while let Some(now) = transaction.poll_timeout() {
            transaction.handle_timeout(now, &mut actions);
            for action in actions.drain() {
                match action {
                    Action::Transmit(_) => sent_at.push((now - start).as_millis()),
                    Action::TimedOut => assert_eq!((now - start).as_secs(), 32),
                    _ => {}
                }
            }
        }
        assert_eq!(sent_at, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert!(transaction.is_terminated());
    }

    #[test]
    fn non_2xx_final_is_acked_and_ack_repeated_on_retransmission() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let request = invite("z9hG4bKb");
        let mut transaction = ClientInvite::start(
            start,
            request.clone(),
            request.to_bytes(),
            Reliability::Unreliable,
            TimerConfig::default(),
            &mut actions,
        );
        actions.drain().for_each(drop);
        let busy = response_to(&request, 486, Some("callee"));
        transaction.handle_response(start, busy.clone(), &mut actions);
        let drained: Vec<_> = actions.drain().collect();
        let Action::Transmit(ack) = &drained[0] else {
            panic!("expected the ACK first")
        };
        let ack = String::from_utf8_lossy(ack);
        assert!(ack.starts_with("ACK sip:1000@127.0.0.1 SIP/2.0\r\n"));
        assert!(ack.contains("To: <sip:1000@127.0.0.1>;tag=callee\r\n"));
        assert!(ack.contains("CSeq: 1 ACK\r\n"));
        assert!(matches!(&drained[1], Action::Deliver(r) if r.status == 486));
        // The retransmitted 486 is absorbed and answered with the same ACK.
        transaction.handle_response(start, busy, &mut actions);
        let again: Vec<_> = actions.drain().collect();
        assert_eq!(again.len(), 1);
        assert!(matches!(&again[0], Action::Transmit(_)));
        transaction.handle_timeout(start + Duration::from_secs(32), &mut actions);
        assert!(transaction.is_terminated());
    }

    #[test]
    fn every_2xx_reaches_the_tu_in_accepted() {
        let start = crate::testing::epoch();
        let mut actions = Actions::default();
        let request = invite("z9hG4bKc");
        let mut transaction = ClientInvite::start(
            start,
            request.clone(),
            request.to_bytes(),
            Reliability::Reliable,
            TimerConfig::default(),
            &mut actions,
        );
        actions.drain().for_each(drop);
        transaction.handle_response(start, response_to(&request, 180, Some("x")), &mut actions);
        assert!(transaction.is_proceeding());
        let ok = response_to(&request, 200, Some("x"));
        transaction.handle_response(start, ok.clone(), &mut actions);
        transaction.handle_response(start, ok, &mut actions);
        let delivered = actions
            .drain()
            .filter(|action| matches!(action, Action::Deliver(r) if r.status == 200))
            .count();
        assert_eq!(delivered, 2);
        transaction.handle_timeout(start + Duration::from_secs(32), &mut actions);
        assert!(transaction.is_terminated());
    }
}
