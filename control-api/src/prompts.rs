//! The bundled sounds (`sounds/`, see its README), built into the binary
//! so that it runs with no files beside it, decoded once at start.

use media::dtmf::Digit;
use media::player::{Prompt, PromptError};

/// A bundled sound: its name (for errors) and its WAV bytes.
struct Bundled {
    name: &'static str,
    bytes: &'static [u8],
}

macro_rules! bundled {
    ($path:literal) => {
        Bundled {
            name: $path,
            bytes: include_bytes!(concat!("../../sounds/", $path)),
        }
    };
}

/// Digit prompts in [`Digit`] order of [`digit_index`].
const DIGITS: [Bundled; 12] = [
    bundled!("en/digit-0.wav"),
    bundled!("en/digit-1.wav"),
    bundled!("en/digit-2.wav"),
    bundled!("en/digit-3.wav"),
    bundled!("en/digit-4.wav"),
    bundled!("en/digit-5.wav"),
    bundled!("en/digit-6.wav"),
    bundled!("en/digit-7.wav"),
    bundled!("en/digit-8.wav"),
    bundled!("en/digit-9.wav"),
    bundled!("en/digit-star.wav"),
    bundled!("en/digit-pound.wav"),
];

/// The prompts a flow may `play` by name: the bundled sounds, named by
/// their path under `sounds/` without `.wav` (uploads join them later).
pub const BUNDLED_NAMES: [&str; 18] = [
    "hold-music",
    "en/demo-4000",
    "en/goodbye",
    "en/greeting",
    "en/invalid",
    "en/voicemail",
    "en/digit-0",
    "en/digit-1",
    "en/digit-2",
    "en/digit-3",
    "en/digit-4",
    "en/digit-5",
    "en/digit-6",
    "en/digit-7",
    "en/digit-8",
    "en/digit-9",
    "en/digit-star",
    "en/digit-pound",
];

/// The decoded bundled prompts.
#[derive(Debug, Clone)]
pub struct Prompts {
    /// "Press any key and I will say it back." (DID 4000).
    pub digit_echo_intro: Prompt,
    /// Looping hold music.
    pub hold_music: Prompt,
    digits: Vec<Prompt>,
}

/// A bundled sound that does not decode (a broken build).
#[derive(Debug, thiserror::Error)]
#[error("bundled sound {name}: {source}")]
pub struct BundledSoundError {
    name: &'static str,
    #[source]
    source: PromptError,
}

fn decode(sound: &Bundled) -> Result<Prompt, BundledSoundError> {
    Prompt::decode(sound.bytes, Some("wav")).map_err(|source| BundledSoundError {
        name: sound.name,
        source,
    })
}

impl Prompts {
    /// Decodes every bundled sound.
    pub fn load() -> Result<Prompts, BundledSoundError> {
        Ok(Prompts {
            digit_echo_intro: decode(&bundled!("en/demo-4000.wav"))?,
            hold_music: decode(&bundled!("hold-music.wav"))?,
            digits: DIGITS.iter().map(decode).collect::<Result<_, _>>()?,
        })
    }

    /// The spoken name of a digit; `None` for A to D, which have none.
    pub fn digit(&self, digit: Digit) -> Option<&Prompt> {
        digit_index(digit).and_then(|index| self.digits.get(index))
    }
}

/// Where a digit's prompt is in [`DIGITS`].
fn digit_index(digit: Digit) -> Option<usize> {
    match digit.as_char() {
        character @ '0'..='9' => Some(usize::from(character as u8 - b'0')),
        '*' => Some(10),
        '#' => Some(11),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_sound_decodes_and_each_digit_has_its_own() {
        let prompts = Prompts::load().unwrap();
        assert!(prompts.digit_echo_intro.duration().as_secs_f64() > 1.0);
        assert!(prompts.hold_music.duration().as_secs_f64() > 10.0);
        let digits: Vec<&Prompt> = "0123456789*#"
            .chars()
            .map(|character| {
                prompts
                    .digit(Digit::from_char(character).unwrap())
                    .unwrap_or_else(|| panic!("no prompt for {character}"))
            })
            .collect();
        for (n, prompt) in digits.iter().enumerate() {
            assert!(!prompt.is_empty());
            assert!(
                digits[..n]
                    .iter()
                    .all(|other| other.samples() != prompt.samples())
            );
        }
        assert!(prompts.digit(Digit::from_char('A').unwrap()).is_none());
    }

    #[test]
    fn every_bundled_name_is_a_bundled_file() {
        let sounds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sounds");
        for name in super::BUNDLED_NAMES {
            assert!(sounds.join(format!("{name}.wav")).is_file(), "{name}");
        }
    }
}
