//! DTMF (ITU-T Q.23 keypad, Q.24 reception): the sixteen digits, their RFC
//! 4733 event codes, RFC 4733 telephone-events received and sent
//! ([`rfc4733`]), an in-band tone generator and an in-band detector.
//!
//! ```text
//!            1209 Hz  1336 Hz  1477 Hz  1633 Hz
//!   697 Hz      1        2        3        A
//!   770 Hz      4        5        6        B
//!   852 Hz      7        8        9        C
//!   941 Hz      *        0        #        D
//! ```
//!
//! Levels are in dBm0 with the convention of ITU-T G.711: a full-scale sine
//! (peak 32767) is +3.14 dBm0 (the A-law figure; µ-law's is +3.17).

pub mod goertzel;
pub mod rfc4733;
pub mod tone_generator;

pub use goertzel::{DetectorConfig, DetectorEvent, DtmfDetector};
pub use tone_generator::ToneGenerator;

/// The level of a full-scale sine (peak amplitude 32767), in dBm0.
#[expect(clippy::approx_constant, reason = "G.711's +3.14 dBm0, not pi")]
pub const FULL_SCALE_SINE_DBM0: f64 = 3.14;

/// The low-group (row) frequencies in Hz, top row first.
pub const LOW_GROUP_HZ: [f64; 4] = [697.0, 770.0, 852.0, 941.0];

/// The high-group (column) frequencies in Hz, left column first.
pub const HIGH_GROUP_HZ: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// Peak amplitude (16-bit linear) of a sine at `level_dbm0`.
pub fn amplitude_from_dbm0(level_dbm0: f64) -> f64 {
    32767.0 * 10f64.powf((level_dbm0 - FULL_SCALE_SINE_DBM0) / 20.0)
}

/// A DTMF digit: 0-9, `*`, `#` and A-D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digit {
    /// `0`
    Zero,
    /// `1`
    One,
    /// `2`
    Two,
    /// `3`
    Three,
    /// `4`
    Four,
    /// `5`
    Five,
    /// `6`
    Six,
    /// `7`
    Seven,
    /// `8`
    Eight,
    /// `9`
    Nine,
    /// `*`
    Star,
    /// `#`
    Pound,
    /// `A`
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

/// The keypad, by (row, column).
const KEYPAD: [[Digit; 4]; 4] = [
    [Digit::One, Digit::Two, Digit::Three, Digit::A],
    [Digit::Four, Digit::Five, Digit::Six, Digit::B],
    [Digit::Seven, Digit::Eight, Digit::Nine, Digit::C],
    [Digit::Star, Digit::Zero, Digit::Pound, Digit::D],
];

impl Digit {
    /// Every digit, in RFC 4733 event code order (0-9, *, #, A-D).
    pub const ALL: [Self; 16] = [
        Self::Zero,
        Self::One,
        Self::Two,
        Self::Three,
        Self::Four,
        Self::Five,
        Self::Six,
        Self::Seven,
        Self::Eight,
        Self::Nine,
        Self::Star,
        Self::Pound,
        Self::A,
        Self::B,
        Self::C,
        Self::D,
    ];

    /// The digit a character stands for: `0`-`9`, `*`, `#`, `A`-`D` (either
    /// case).
    pub fn from_char(character: char) -> Option<Self> {
        let code = match character.to_ascii_uppercase() {
            digit @ '0'..='9' => digit as u8 - b'0',
            '*' => 10,
            '#' => 11,
            letter @ 'A'..='D' => letter as u8 - b'A' + 12,
            _ => return None,
        };
        Self::from_event_code(code)
    }

    /// The character for this digit (letters upper case).
    pub const fn as_char(self) -> char {
        b"0123456789*#ABCD"[self.event_code() as usize] as char
    }

    /// The RFC 4733 §3.2 event code: 0-9, `*` = 10, `#` = 11, A-D = 12-15.
    pub const fn event_code(self) -> u8 {
        self as u8
    }

    /// The digit for an RFC 4733 event code; `None` beyond 15 (flash and
    /// the other events are not digits).
    pub const fn from_event_code(code: u8) -> Option<Self> {
        if (code as usize) < Self::ALL.len() {
            Some(Self::ALL[code as usize])
        } else {
            None
        }
    }

    /// Row (0 = 697 Hz) and column (0 = 1209 Hz) on the keypad.
    pub const fn position(self) -> (usize, usize) {
        let mut row = 0;
        while row < 4 {
            let mut column = 0;
            while column < 4 {
                if KEYPAD[row][column] as u8 == self as u8 {
                    return (row, column);
                }
                column += 1;
            }
            row += 1;
        }
        unreachable!()
    }

    /// The digit at a keypad row and column (each 0-3).
    pub const fn from_position(row: usize, column: usize) -> Option<Self> {
        if row < 4 && column < 4 {
            Some(KEYPAD[row][column])
        } else {
            None
        }
    }

    /// The low-group and high-group frequencies in Hz.
    pub const fn frequencies(self) -> (f64, f64) {
        let (row, column) = self.position();
        (LOW_GROUP_HZ[row], HIGH_GROUP_HZ[column])
    }
}

impl std::fmt::Display for Digit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_and_event_codes_round_trip() {
        for (code, digit) in Digit::ALL.into_iter().enumerate() {
            assert_eq!(digit.event_code() as usize, code);
            assert_eq!(Digit::from_event_code(code as u8), Some(digit));
            assert_eq!(Digit::from_char(digit.as_char()), Some(digit));
            assert_eq!(
                Digit::from_char(digit.as_char().to_ascii_lowercase()),
                Some(digit)
            );
        }
        assert_eq!(Digit::from_char('#'), Some(Digit::Pound));
        assert_eq!(Digit::from_char('*').map(Digit::event_code), Some(10));
        assert_eq!(Digit::from_char('d').map(Digit::event_code), Some(15));
        assert_eq!(Digit::from_char('E'), None);
        assert_eq!(
            Digit::from_char('5').map(|d| d.to_string()),
            Some("5".into())
        );
        assert_eq!(Digit::from_event_code(16), None); // flash
    }

    #[test]
    fn frequencies_follow_the_keypad() {
        assert_eq!(Digit::One.frequencies(), (697.0, 1209.0));
        assert_eq!(Digit::Zero.frequencies(), (941.0, 1336.0));
        assert_eq!(Digit::Pound.frequencies(), (941.0, 1477.0));
        assert_eq!(Digit::D.frequencies(), (941.0, 1633.0));
        assert_eq!(Digit::Six.frequencies(), (770.0, 1477.0));
        for digit in Digit::ALL {
            let (row, column) = digit.position();
            assert_eq!(Digit::from_position(row, column), Some(digit));
        }
        assert_eq!(Digit::from_position(4, 0), None);
    }

    #[test]
    fn zero_dbm0_is_three_point_one_four_db_below_full_scale() {
        assert!((amplitude_from_dbm0(FULL_SCALE_SINE_DBM0) - 32767.0).abs() < 1e-9);
        assert!((amplitude_from_dbm0(0.0) - 22_826.4).abs() < 0.1);
    }
}
