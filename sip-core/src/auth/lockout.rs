//! Locking a user out after repeated failed authentications.

use super::bounded_map::BoundedMap;
use std::fmt;
use std::time::{Duration, Instant};

/// Counts consecutive failed authentications per user and locks a user out
/// for a while after too many. Bounded: when full, the oldest entry is
/// forgotten.
pub struct Lockout {
    threshold: u32,
    duration: Duration,
    users: BoundedMap<String, FailureState>,
}

#[derive(Debug, Clone, Copy)]
struct FailureState {
    consecutive: u32,
    locked_until: Option<Instant>,
}

impl fmt::Debug for Lockout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lockout")
            .field("threshold", &self.threshold)
            .field("duration", &self.duration)
            .field("tracked", &self.users.len())
            .finish()
    }
}

impl Lockout {
    /// Locks a user for `duration` after `threshold` consecutive failures
    /// (0 disables locking), remembering at most `capacity` users.
    pub fn new(threshold: u32, duration: Duration, capacity: usize) -> Lockout {
        Lockout {
            threshold,
            duration,
            users: BoundedMap::new(capacity),
        }
    }

    /// When `user`'s lock ends, if locked at `now`. An expired lock is
    /// cleared, with its failure count.
    pub fn locked_until(&mut self, now: Instant, user: &str) -> Option<Instant> {
        let state = self.users.get_mut(user)?;
        match state.locked_until {
            Some(until) if until > now => Some(until),
            Some(_) => {
                self.users.remove(user);
                None
            }
            None => None,
        }
    }

    /// Counts a failed authentication; returns when the lock ends if this
    /// failure locked the user.
    pub fn record_failure(&mut self, now: Instant, user: &str) -> Option<Instant> {
        if self.threshold == 0 {
            return None;
        }
        let state = match self.users.get_mut(user) {
            Some(state) => state,
            None => {
                self.users.insert(
                    user.to_owned(),
                    FailureState {
                        consecutive: 0,
                        locked_until: None,
                    },
                );
                self.users.get_mut(user).expect("just inserted")
            }
        };
        state.consecutive += 1;
        if state.consecutive >= self.threshold {
            let until = now + self.duration;
            state.consecutive = 0;
            state.locked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// A successful authentication resets the count.
    pub fn record_success(&mut self, user: &str) {
        self.users.remove(user);
    }

    /// How many users have failures or locks on record.
    pub fn tracked(&self) -> usize {
        self.users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock origin; the tests only add durations to it.
    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        Instant::now()
    }

    #[test]
    fn lockout_counts_consecutive_failures() {
        let t0 = epoch();
        let mut lockout = Lockout::new(3, Duration::from_secs(60), 10);
        assert_eq!(lockout.record_failure(t0, "bob"), None);
        lockout.record_success("bob");
        assert_eq!(lockout.record_failure(t0, "bob"), None);
        assert_eq!(lockout.record_failure(t0, "bob"), None);
        let until = lockout.record_failure(t0, "bob").unwrap();
        assert_eq!(until, t0 + Duration::from_secs(60));
        assert_eq!(
            lockout.locked_until(t0 + Duration::from_secs(59), "bob"),
            Some(until)
        );
        assert_eq!(
            lockout.locked_until(t0 + Duration::from_secs(60), "bob"),
            None
        );
        assert_eq!(lockout.tracked(), 0);
        // Bounded: the oldest user is forgotten.
        let mut small = Lockout::new(3, Duration::from_secs(60), 2);
        for user in ["a", "b", "c"] {
            small.record_failure(t0, user);
        }
        assert_eq!(small.tracked(), 2);
    }
}
