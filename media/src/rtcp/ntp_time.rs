//! NTP timestamps (RFC 3550 §4): 64-bit fixed point seconds since
//! 1900-01-01, the wall clock of sender reports. The wall clock is always
//! passed in by the caller as a `SystemTime`.

use std::time::{Duration, SystemTime};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECONDS: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp: 32 bits of seconds, 32 bits of fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTimestamp(u64);

impl NtpTimestamp {
    /// The timestamp as on the wire.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The wall-clock time `time` (before 1970 counts as 1970).
    pub fn from_system_time(time: SystemTime) -> Self {
        let since_unix = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let seconds = since_unix.as_secs() + NTP_UNIX_OFFSET_SECONDS;
        let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        Self((seconds << 32) | fraction)
    }

    /// The value on the wire.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The middle 32 bits (16.16 fixed point), as used by the LSR field of
    /// reception reports (RFC 3550 §6.4.1).
    pub const fn middle_32(self) -> u32 {
        (self.0 >> 16) as u32
    }

    /// This timestamp plus `duration`, wrapping like the NTP era does.
    #[must_use]
    pub fn wrapping_add(self, duration: Duration) -> Self {
        Self(self.0.wrapping_add(to_ntp_units(duration)))
    }
}

/// `duration` in 1/2^32 s.
fn to_ntp_units(duration: Duration) -> u64 {
    (duration.as_secs() << 32) + (u64::from(duration.subsec_nanos()) << 32) / 1_000_000_000
}

/// `duration` in 1/65536 s, the unit of DLSR and of 16.16 round-trip times,
/// saturating.
pub(crate) fn to_short_ntp_units(duration: Duration) -> u32 {
    u32::try_from(duration.as_nanos() * 65_536 / 1_000_000_000).unwrap_or(u32::MAX)
}

/// `units` of 1/65536 s as a duration.
pub(crate) fn from_short_ntp_units(units: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / 65_536)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_unix_time_to_ntp() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_500);
        let ntp = NtpTimestamp::from_system_time(time);
        assert_eq!(ntp.get() >> 32, NTP_UNIX_OFFSET_SECONDS + 1);
        assert_eq!(ntp.get() & 0xffff_ffff, 0x8000_0000);
        assert_eq!(ntp.middle_32() & 0xffff, 0x8000);
        let later = ntp.wrapping_add(Duration::from_millis(500));
        assert_eq!(later.get() >> 32, NTP_UNIX_OFFSET_SECONDS + 2);
        assert_eq!(later.get() & 0xffff_ffff, 0);
    }

    #[test]
    fn short_units_round_trip() {
        assert_eq!(to_short_ntp_units(Duration::from_secs(1)), 65_536);
        assert_eq!(from_short_ntp_units(32_768), Duration::from_millis(500));
    }
}
