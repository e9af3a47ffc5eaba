//! The bundled sounds (`sounds/`, see its README), built into the binary
//! so that it runs with no files beside it, decoded once at start.

use media::dtmf::Digit;
use media::player::{Prompt, PromptError};

/// A bundled sound: its name (for errors) and its WAV bytes.
struct Bundled {
    name: &'static str,
    bytes: &'static [u8],
}

/// A bundled prompt by its name: its path under `sounds/` without `.wav`.
macro_rules! named {
    ($name:literal) => {
        Bundled {
            name: $name,
            bytes: include_bytes!(concat!("../../sounds/", $name, ".wav")),
        }
    };
}

/// The prompts a flow may `play` by name, and the API may play into a
/// call (uploads join them later). The digits are in [`digit_index`]
/// order from [`FIRST_DIGIT`].
const BUNDLED: [Bundled; 18] = [
    named!("hold-music"),
    named!("en/demo-4000"),
    named!("en/goodbye"),
    named!("en/greeting"),
    named!("en/invalid"),
    named!("en/voicemail"),
    named!("en/digit-0"),
    named!("en/digit-1"),
    named!("en/digit-2"),
    named!("en/digit-3"),
    named!("en/digit-4"),
    named!("en/digit-5"),
    named!("en/digit-6"),
    named!("en/digit-7"),
    named!("en/digit-8"),
    named!("en/digit-9"),
    named!("en/digit-star"),
    named!("en/digit-pound"),
];

/// Where the digits start in [`BUNDLED`].
const FIRST_DIGIT: usize = 6;

/// Whether `name` is a bundled prompt.
pub fn is_bundled(name: &str) -> bool {
    BUNDLED.iter().any(|sound| sound.name == name)
}

/// The bundled prompts' names.
pub fn bundled_names() -> Vec<&'static str> {
    BUNDLED.iter().map(|sound| sound.name).collect()
}

/// The decoded bundled prompts.
#[derive(Debug, Clone)]
pub struct Prompts {
    /// "Press any key and I will say it back." (DID 4000).
    pub digit_echo_intro: Prompt,
    /// Looping hold music.
    pub hold_music: Prompt,
    /// Every bundled prompt, in [`BUNDLED`] order.
    all: Vec<Prompt>,
}

/// A bundled sound that does not decode (a broken build).
#[derive(Debug, thiserror::Error)]
#[error("bundled sound {name}: {source}")]
pub struct BundledSoundError {
    name: &'static str,
    #[source]
    source: PromptError,
}

impl Prompts {
    /// Decodes every bundled sound.
    pub fn load() -> Result<Prompts, BundledSoundError> {
        let all = BUNDLED
            .iter()
            .map(|sound| {
                Prompt::decode(sound.bytes, Some("wav")).map_err(|source| BundledSoundError {
                    name: sound.name,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let find = |name: &str| {
            all[BUNDLED
                .iter()
                .position(|sound| sound.name == name)
                .unwrap_or(0)]
            .clone()
        };
        Ok(Prompts {
            digit_echo_intro: find("en/demo-4000"),
            hold_music: find("hold-music"),
            all,
        })
    }

    /// A bundled prompt by name.
    pub fn named(&self, name: &str) -> Option<&Prompt> {
        BUNDLED
            .iter()
            .position(|sound| sound.name == name)
            .and_then(|index| self.all.get(index))
    }

    /// The spoken name of a digit; `None` for A to D, which have none.
    pub fn digit(&self, digit: Digit) -> Option<&Prompt> {
        digit_index(digit).and_then(|index| self.all.get(FIRST_DIGIT + index))
    }
}

/// Where a digit's prompt is among the digits of [`BUNDLED`].
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
    fn bundled_prompts_are_found_by_name_and_the_digits_by_digit() {
        let prompts = Prompts::load().unwrap();
        assert!(is_bundled("en/greeting") && !is_bundled("en/nothing"));
        assert!(prompts.named("en/greeting").is_some_and(|p| !p.is_empty()));
        assert!(prompts.named("greeting").is_none());
        assert_eq!(
            prompts.named("en/digit-7").unwrap().samples(),
            prompts
                .digit(Digit::from_char('7').unwrap())
                .unwrap()
                .samples()
        );
        assert_eq!(
            prompts.named("en/digit-pound").unwrap().samples(),
            prompts
                .digit(Digit::from_char('#').unwrap())
                .unwrap()
                .samples()
        );
    }
}
