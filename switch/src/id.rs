//! Typed ids: a call and a leg are never named by a bare `String` or
//! number, so one cannot be passed where the other is meant.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A name that is text on the wire and in records, typed so that one
/// kind cannot be passed where another is meant: cheap to clone (shared
/// text), and a map keyed by it is looked up by `&str`.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(Arc::from(id))
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(Arc::from(id))
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }
    };
}

text_id!(
    /// A call's unique id: the caller's SIP Call-ID, or the Call-ID of
    /// the first leg of a call we placed. It is the id of the call's
    /// record too.
    CallId
);

text_id!(
    /// A phone's extension: the SIP user it registers as and is called
    /// by, e.g. `1001`.
    Extension
);

text_id!(
    /// A number as dialled: one of our DIDs, or one the trunk calls.
    Number
);

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
    fn extensions_and_numbers_are_text_of_their_own_kind() {
        let mut routes = HashMap::new();
        routes.insert(Number::from("8100"), "flow");
        assert_eq!(routes.get("8100"), Some(&"flow"));
        let extension = Extension::from("1001".to_string());
        assert_eq!(extension.as_str(), "1001");
        assert!(extension == *"1001");
        assert_eq!(
            format!("sip:{extension}@example.net"),
            "sip:1001@example.net"
        );
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
