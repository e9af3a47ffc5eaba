//! Typed ids: a call and a leg are never named by a bare `String` or
//! number, so one cannot be passed where the other is meant.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A call's unique id: the caller's SIP Call-ID, or the Call-ID of the
/// first leg of a call we placed. It is the id of the call's record too.
///
/// Cheap to clone (shared text), and a map keyed by it is looked up by
/// `&str`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(Arc<str>);

impl CallId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for CallId {
    fn from(id: &str) -> CallId {
        CallId(Arc::from(id))
    }
}

impl From<String> for CallId {
    fn from(id: String) -> CallId {
        CallId(Arc::from(id))
    }
}

impl Borrow<str> for CallId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for CallId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// One leg of a call (a SIP dialog and its media endpoint), unique for
/// the life of the switch: a leg's id is never given to another leg, so a
/// late report about a released leg cannot be taken for a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LegId(u64);

impl fmt::Display for LegId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "leg-{}", self.0)
    }
}

/// Hands out leg ids, each once.
#[derive(Debug, Default)]
pub struct LegIds {
    last: u64,
}

impl LegIds {
    /// The next id, never handed out before.
    pub fn next_id(&mut self) -> LegId {
        self.last += 1;
        LegId(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn calls_are_looked_up_by_their_text() {
        let mut calls = HashMap::new();
        calls.insert(CallId::from("a84b4c76e66710"), 1);
        assert_eq!(calls.get("a84b4c76e66710"), Some(&1));
        assert_eq!(calls.get("other"), None);
        assert_eq!(CallId::from("x").to_string(), "x");
    }

    #[test]
    fn leg_ids_are_never_handed_out_twice() {
        let mut ids = LegIds::default();
        let first = ids.next_id();
        let second = ids.next_id();
        assert_ne!(first, second);
        assert_eq!(first.to_string(), "leg-1");
    }
}
