//! The transaction layer (RFC 3261 §17, with the RFC 6026 fixes for 2xx).
//!
//! Four state machines, one per file: [`ClientInvite`], [`ClientNonInvite`],
//! [`ServerInvite`] and [`ServerNonInvite`]. Each takes `now` and input, keeps
//! its deadlines in a typed [`Timers`] table named after the RFC, and writes
//! what it must do into an [`Actions`] queue that the endpoint drains.

mod client_invite;
mod client_non_invite;
mod server_invite;
mod server_non_invite;

pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;

use crate::message::{Method, Response};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// The RFC 3261 timer values (§17.1.1.1, table 4 in §A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// T1: round-trip time estimate, 500 ms by default.
    pub t1: Duration,
    /// T2: the longest retransmit interval for non-INVITE requests and
    /// INVITE responses, 4 s by default.
    pub t2: Duration,
    /// T4: the longest time a message stays in the network, 5 s by default.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64·T1: the transaction timeout (Timers B, F, H, J, L, M).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// The transaction timers of RFC 3261 §17 and RFC 6026 §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// §17.1.1.2: INVITE request retransmit interval, UDP only (starts at T1, doubles).
    A,
    /// §17.1.1.2: INVITE transaction timeout (64·T1).
    B,
    /// §17.1.1.2: wait time for response retransmits after a non-2xx final (32 s UDP, 0 TCP).
    D,
    /// §17.1.2.2: non-INVITE request retransmit interval, UDP only (T1 doubling to T2).
    E,
    /// §17.1.2.2: non-INVITE transaction timeout (64·T1).
    F,
    /// §17.2.1: INVITE non-2xx final response retransmit interval (T1 doubling to T2).
    G,
    /// §17.2.1: wait time for ACK receipt (64·T1).
    H,
    /// §17.2.1: wait time for ACK retransmits (T4 UDP, 0 TCP).
    I,
    /// §17.2.2: wait time for non-INVITE request retransmits (64·T1 UDP, 0 TCP).
    J,
    /// §17.1.2.2: wait time for response retransmits (T4 UDP, 0 TCP).
    K,
    /// RFC 6026 §8.7: wait time for accepted INVITE request retransmits (64·T1).
    L,
    /// RFC 6026 §8.4: wait time for retransmission of 2xx to INVITE (64·T1).
    M,
}

/// Most timers one transaction has armed at once: every machine runs at
/// most two together (A+B, E+F, G+H); the table keeps one spare.
const ARMED_SLOTS: usize = 3;

/// The armed timers of one transaction, one deadline per kind. Kept as a
/// few (timer, deadline) slots rather than one slot per kind: under load
/// hundreds of thousands of transactions wait out Timers J and L, and the
/// table is most of their size.
#[derive(Debug, Clone, Default)]
pub struct Timers {
    armed: [Option<(Timer, Instant)>; ARMED_SLOTS],
}

impl Timers {
    /// Arms `timer` to fire at `now + after`, replacing its old deadline.
    ///
    /// # Panics
    ///
    /// If more than [`ARMED_SLOTS`] kinds would be armed together, which
    /// no RFC 3261 machine does.
    pub fn start(&mut self, timer: Timer, now: Instant, after: Duration) {
        let deadline = now + after;
        let slot = self
            .armed
            .iter()
            .position(|slot| matches!(slot, Some((armed, _)) if *armed == timer))
            .or_else(|| self.armed.iter().position(Option::is_none))
            .expect("a transaction arms at most three timers at once");
        self.armed[slot] = Some((timer, deadline));
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        for slot in &mut self.armed {
            if matches!(slot, Some((armed, _)) if *armed == timer) {
                *slot = None;
            }
        }
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.armed
            .iter()
            .flatten()
            .map(|(_, deadline)| *deadline)
            .min()
    }

    /// Disarms and returns the earliest timer due at `now`, if any.
    pub fn take_due(&mut self, now: Instant) -> Option<Timer> {
        let (index, timer) = self
            .armed
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| slot.map(|(timer, deadline)| (index, timer, deadline)))
            .filter(|(_, _, deadline)| *deadline <= now)
            .min_by_key(|(_, _, deadline)| *deadline)
            .map(|(index, timer, _)| (index, timer))?;
        self.armed[index] = None;
        Some(timer)
    }

    /// Whether `timer` is armed.
    pub fn is_armed(&self, timer: Timer) -> bool {
        self.armed
            .iter()
            .flatten()
            .any(|(armed, _)| *armed == timer)
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.armed = [None; ARMED_SLOTS];
    }
}

/// Something a transaction asks its endpoint to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send these bytes to the transaction's peer.
    Transmit(Bytes),
    /// Pass a response up to the transaction user (client transactions).
    Deliver(Response),
    /// Pass an ACK for a 2xx up to the transaction user (server INVITE, RFC 6026).
    DeliverAck,
    /// No final response arrived in time (Timer B or F): the TU treats it as a 408.
    TimedOut,
    /// A non-2xx final response was never acknowledged (Timer H).
    AckNotReceived,
    /// The transaction is over and can be forgotten.
    Terminated,
}

/// The queue a transaction writes its actions into.
#[derive(Debug, Default)]
pub struct Actions {
    queue: Vec<Action>,
}

impl Actions {
    /// Queues an action.
    pub fn push(&mut self, action: Action) {
        self.queue.push(action);
    }

    /// Takes every queued action, oldest first.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Action> {
        self.queue.drain(..)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// Whether the transport under a transaction retransmits by itself
/// (TCP, TLS) or not (UDP). Reliable transports arm no retransmit timers
/// and zero-length wait timers (RFC 3261 §17.1.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    /// UDP: the transaction retransmits.
    Unreliable,
    /// TCP: the transport delivers.
    Reliable,
}

/// The key of a server transaction (RFC 3261 §17.2.3): the top Via's
/// branch and sent-by, and the method, with ACK matched as INVITE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    /// The branch parameter (or, for RFC 2543 peers, a key built from the
    /// dialog identifiers).
    pub branch: Box<str>,
    /// The top Via's sent-by, as printed.
    pub sent_by: Box<str>,
    /// The request method; ACK and CANCEL are mapped by the caller.
    pub method: Method,
}

/// The key of a client transaction (RFC 3261 §17.1.3): our branch and the
/// CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// The branch we put in our Via.
    pub branch: Box<str>,
    /// The method of the request we sent.
    pub method: Method,
}

/// RFC 3261 §8.1.1.7 magic cookie that starts every compliant branch.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_deadline_order() {
        let start = crate::testing::epoch();
        let mut timers = Timers::default();
        timers.start(Timer::B, start, Duration::from_secs(32));
        timers.start(Timer::A, start, Duration::from_millis(500));
        assert_eq!(timers.next(), Some(start + Duration::from_millis(500)));
        assert_eq!(timers.take_due(start), None);
        let later = start + Duration::from_secs(40);
        assert_eq!(timers.take_due(later), Some(Timer::A));
        assert_eq!(timers.take_due(later), Some(Timer::B));
        assert_eq!(timers.take_due(later), None);
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn rearming_a_timer_replaces_its_deadline_and_frees_no_other_slot() {
        let start = crate::testing::epoch();
        let mut timers = Timers::default();
        timers.start(Timer::G, start, Duration::from_millis(500));
        timers.start(Timer::H, start, Duration::from_secs(32));
        // G doubles many times without taking more slots.
        for step in 1..10 {
            timers.start(Timer::G, start, Duration::from_millis(500 * step));
        }
        timers.start(Timer::I, start, Duration::from_secs(5));
        assert!(timers.is_armed(Timer::G) && timers.is_armed(Timer::H));
        assert_eq!(timers.next(), Some(start + Duration::from_millis(4500)));
        timers.stop(Timer::G);
        assert!(!timers.is_armed(Timer::G));
        assert_eq!(timers.next(), Some(start + Duration::from_secs(5)));
        timers.clear();
        assert_eq!(timers.next(), None);
    }
}
