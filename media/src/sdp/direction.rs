//! The media direction attributes (RFC 8866 §6.7, RFC 3264 §5.1 and §6.1):
//! `a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive`.

use std::fmt;

/// Which way media flows on a stream, from the point of view of the side
/// whose SDP carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Both ways; the default when no attribute is present.
    #[default]
    SendRecv,
    /// This side only sends (it puts the other on hold).
    SendOnly,
    /// This side only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// Builds a direction from whether this side sends and receives.
    pub const fn from_flows(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// Whether this side sends media.
    pub const fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether this side receives media.
    pub const fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    /// The direction the answerer mirrors for an offered one (RFC 3264
    /// §6.1): sendonly ↔ recvonly, sendrecv and inactive unchanged.
    #[must_use]
    pub const fn reversed(self) -> Self {
        Self::from_flows(self.receives(), self.sends())
    }

    /// What both this direction and `other` (same point of view) allow.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self::from_flows(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    /// The attribute name, as written in `a=`.
    pub const fn attribute_name(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// The direction an attribute name stands for, in any case.
    pub fn from_attribute_name(name: &str) -> Option<Self> {
        [
            Self::SendRecv,
            Self::SendOnly,
            Self::RecvOnly,
            Self::Inactive,
        ]
        .into_iter()
        .find(|direction| direction.attribute_name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.attribute_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_mirrors_the_offer() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(Direction::RecvOnly.reversed(), Direction::SendOnly);
        assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
        assert_eq!(Direction::SendRecv.reversed(), Direction::SendRecv);
    }

    #[test]
    fn intersection_and_names() {
        assert_eq!(
            Direction::SendOnly.intersection(Direction::RecvOnly),
            Direction::Inactive
        );
        assert_eq!(
            Direction::SendRecv.intersection(Direction::SendOnly),
            Direction::SendOnly
        );
        assert_eq!(
            Direction::from_attribute_name("SendOnly"),
            Some(Direction::SendOnly)
        );
        assert_eq!(Direction::from_attribute_name("rtcp-mux"), None);
        assert_eq!(Direction::Inactive.to_string(), "inactive");
    }
}
