//! Locking a user out, from one address, after repeated failed
//! authentications.

use super::bounded_map::BoundedMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Counts consecutive failed authentications per user and source address
/// and locks that user out from that address for a while after too many.
/// Failures from one address never lock the user out from another, so a
/// stranger guessing a phone's password cannot keep the phone itself out.
/// Bounded: when full, the oldest entry is forgotten.
pub struct Lockout {
    threshold: u32,
    duration: Duration,
    users: BoundedMap<(String, IpAddr), FailureState>,
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
    /// Locks a user out from an address for `duration` after `threshold`
    /// consecutive failures from it (0 disables locking), remembering at
    /// most `capacity` users and addresses.
    pub fn new(threshold: u32, duration: Duration, capacity: usize) -> Lockout {
        Lockout {
            threshold,
            duration,
            users: BoundedMap::new(capacity),
        }
    }

    /// When `user`'s lock from `source` ends, if locked at `now`. An
    /// expired lock is cleared, with its failure count.
    pub fn locked_until(&mut self, now: Instant, user: &str, source: IpAddr) -> Option<Instant> {
        let key = (user.to_owned(), source);
        let state = self.users.get_mut(&key)?;
        match state.locked_until {
            Some(until) if until > now => Some(until),
            Some(_) => {
                self.users.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Counts a failed authentication of `user` from `source`; returns
    /// when the lock ends if this failure locked it.
    pub fn record_failure(&mut self, now: Instant, user: &str, source: IpAddr) -> Option<Instant> {
        if self.threshold == 0 {
            return None;
        }
        let key = (user.to_owned(), source);
        let state = match self.users.get_mut(&key) {
            Some(state) => state,
            None => {
                let fresh = FailureState {
                    consecutive: 0,
                    locked_until: None,
                };
                self.users.insert(key.clone(), fresh);
                self.users.get_mut(&key).expect("just inserted")
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

    /// A successful authentication of `user` from `source` resets that
    /// address's count.
    pub fn record_success(&mut self, user: &str, source: IpAddr) {
        self.users.remove(&(user.to_owned(), source));
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

    const PHONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));
    const STRANGER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn lockout_counts_consecutive_failures() {
        let t0 = epoch();
        let mut lockout = Lockout::new(3, Duration::from_secs(60), 10);
        assert_eq!(lockout.record_failure(t0, "bob", PHONE), None);
        lockout.record_success("bob", PHONE);
        assert_eq!(lockout.record_failure(t0, "bob", PHONE), None);
        assert_eq!(lockout.record_failure(t0, "bob", PHONE), None);
        let until = lockout.record_failure(t0, "bob", PHONE).unwrap();
        assert_eq!(until, t0 + Duration::from_secs(60));
        assert_eq!(
            lockout.locked_until(t0 + Duration::from_secs(59), "bob", PHONE),
            Some(until)
        );
        assert_eq!(
            lockout.locked_until(t0 + Duration::from_secs(60), "bob", PHONE),
            None
        );
        assert_eq!(lockout.tracked(), 0);
        // Bounded: the oldest user is forgotten.
        let mut small = Lockout::new(3, Duration::from_secs(60), 2);
        for user in ["a", "b", "c"] {
            small.record_failure(t0, user, PHONE);
        }
        assert_eq!(small.tracked(), 2);
    }

    #[test]
    fn a_stranger_locks_only_itself_out() {
        let t0 = epoch();
        let mut lockout = Lockout::new(3, Duration::from_secs(60), 10);
        for _ in 0..2 {
            assert_eq!(lockout.record_failure(t0, "bob", STRANGER), None);
        }
        assert!(lockout.record_failure(t0, "bob", STRANGER).is_some());
        assert!(lockout.locked_until(t0, "bob", STRANGER).is_some());
        assert_eq!(lockout.locked_until(t0, "bob", PHONE), None);
        // The phone's own failures count apart, and its success clears
        // only its own count.
        assert_eq!(lockout.record_failure(t0, "bob", PHONE), None);
        lockout.record_success("bob", PHONE);
        assert!(lockout.locked_until(t0, "bob", STRANGER).is_some());
    }
}
