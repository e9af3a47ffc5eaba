//! The call timers and their one deadline queue.
//!
//! Every timer says what it guards ([`CallTimer`]), like sip-core's
//! `Timer` enum with its RFC 3261 sections. All of a switch's timers sit
//! in one [`Deadlines`] queue, ordered by deadline: the next deadline is
//! read without a scan, and setting, replacing or cancelling a timer costs
//! O(log n) in the number of timers set.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

use crate::id::LegId;

/// What a call timer guards. A call has at most one timer of each kind
/// (one per leg for [`CallTimer::RingOut`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallTimer {
    /// A leg we called has rung too long without a final answer: it is
    /// cancelled, and the call goes on as its feature says (the caller
    /// gets a 480, a placed call ends, a flow's dial reports no answer).
    RingOut(LegId),
    /// The call's IVR flow asked to be woken then (a digit's or a
    /// prompt's timeout, a recording's length, a dial's limit).
    FlowTimeout,
}

/// Deadlines by key, soonest first. A key has at most one deadline:
/// setting it again replaces the old one.
#[derive(Debug)]
pub struct Deadlines<K> {
    /// Every deadline, in time order (ties in key order).
    queue: BTreeSet<(Instant, K)>,
    /// Each key's deadline, to replace or cancel it.
    due: HashMap<K, Instant>,
}

impl<K> Default for Deadlines<K> {
    fn default() -> Self {
        Deadlines {
            queue: BTreeSet::new(),
            due: HashMap::new(),
        }
    }
}

impl<K: Clone + Ord + Hash> Deadlines<K> {
    /// Sets `key`'s deadline to `at`, replacing the one it had.
    pub fn set(&mut self, key: K, at: Instant) {
        if let Some(previous) = self.due.insert(key.clone(), at) {
            self.queue.remove(&(previous, key.clone()));
        }
        self.queue.insert((at, key));
    }

    /// Cancels `key`'s deadline; the deadline it had, if any.
    pub fn cancel(&mut self, key: &K) -> Option<Instant> {
        let at = self.due.remove(key)?;
        self.queue.remove(&(at, key.clone()));
        Some(at)
    }

    /// `key`'s deadline, if it has one.
    pub fn deadline(&self, key: &K) -> Option<Instant> {
        self.due.get(key).copied()
    }

    /// The soonest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Takes the soonest key whose deadline is at or before `now`, with
    /// that deadline; `None` once nothing more is due.
    pub fn pop_due(&mut self, now: Instant) -> Option<(K, Instant)> {
        if self.next_deadline()? > now {
            return None;
        }
        let (at, key) = self.queue.pop_first()?;
        self.due.remove(&key);
        Some((key, at))
    }

    /// How many deadlines are set.
    pub fn len(&self) -> usize {
        self.due.len()
    }

    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{CallId, LegIds};
    use proptest::prelude::*;
    use std::time::Duration;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn the_soonest_is_due_first_and_only_once_due() {
        let start = crate::testing::epoch();
        let mut legs = LegIds::default();
        let leg = legs.next_id();
        let mut timers = Deadlines::default();
        let a = CallId::from("a");
        let b = CallId::from("b");
        timers.set((a.clone(), CallTimer::RingOut(leg)), at(start, 60_000));
        timers.set((b.clone(), CallTimer::FlowTimeout), at(start, 5_000));
        assert_eq!(timers.next_deadline(), Some(at(start, 5_000)));
        assert_eq!(timers.pop_due(at(start, 4_999)), None);
        assert_eq!(
            timers.pop_due(at(start, 5_000)),
            Some(((b, CallTimer::FlowTimeout), at(start, 5_000)))
        );
        assert_eq!(timers.pop_due(at(start, 5_000)), None);
        assert_eq!(timers.next_deadline(), Some(at(start, 60_000)));
        assert_eq!(timers.len(), 1);
        assert_eq!(
            timers.cancel(&(a, CallTimer::RingOut(leg))),
            Some(at(start, 60_000))
        );
        assert!(timers.is_empty());
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn setting_again_replaces_the_deadline() {
        let start = crate::testing::epoch();
        let mut timers = Deadlines::default();
        let call = (CallId::from("a"), CallTimer::FlowTimeout);
        timers.set(call.clone(), at(start, 1_000));
        timers.set(call.clone(), at(start, 9_000));
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.pop_due(at(start, 1_000)), None);
        assert_eq!(timers.deadline(&call), Some(at(start, 9_000)));
        timers.set(call.clone(), at(start, 500));
        assert_eq!(
            timers.pop_due(at(start, 1_000)),
            Some((call, at(start, 500)))
        );
    }

    #[derive(Debug, Clone)]
    enum Operation {
        Set(u8, u16),
        Cancel(u8),
        Pop(u16),
    }

    fn operation() -> impl Strategy<Value = Operation> {
        prop_oneof![
            (0u8..16, any::<u16>()).prop_map(|(key, ms)| Operation::Set(key, ms)),
            (0u8..16).prop_map(Operation::Cancel),
            any::<u16>().prop_map(Operation::Pop),
        ]
    }

    proptest! {
        /// The queue answers as a plain map of deadlines scanned each time.
        #[test]
        fn it_agrees_with_a_scanned_map(operations in prop::collection::vec(operation(), 0..200)) {
            let start = crate::testing::epoch();
            let mut timers = Deadlines::default();
            let mut model: HashMap<u8, Instant> = HashMap::new();
            for operation in operations {
                match operation {
                    Operation::Set(key, ms) => {
                        timers.set(key, at(start, ms.into()));
                        model.insert(key, at(start, ms.into()));
                    }
                    Operation::Cancel(key) => {
                        prop_assert_eq!(timers.cancel(&key), model.remove(&key));
                    }
                    Operation::Pop(ms) => {
                        let now = at(start, ms.into());
                        let expected = model
                            .iter()
                            .filter(|(_, due)| **due <= now)
                            .map(|(key, due)| (*due, *key))
                            .min();
                        let popped = timers.pop_due(now);
                        prop_assert_eq!(popped, expected.map(|(due, key)| (key, due)));
                        if let Some((_, key)) = expected {
                            model.remove(&key);
                        }
                    }
                }
                prop_assert_eq!(timers.len(), model.len());
                prop_assert_eq!(timers.next_deadline(), model.values().min().copied());
            }
        }
    }
}
