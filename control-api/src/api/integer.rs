//! Integers in JSON bodies as JSON Schema reads them: `138.0` is the
//! integer 138 (a number whose fractional part is zero), which serde's own
//! integer types refuse. Used with `#[serde(deserialize_with = ...)]`.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

/// A `u32` written as any JSON number with no fractional part.
pub fn u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    let value = number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|float| {
                    float.fract() == 0.0 && *float >= 0.0 && *float <= f64::from(u32::MAX)
                })
                .map(|float| float as u64)
        })
        .ok_or_else(|| {
            D::Error::custom(format!(
                "{number} is not a whole number from 0 to {}",
                u32::MAX
            ))
        })?;
    u32::try_from(value)
        .map_err(|_| D::Error::custom(format!("{number} is more than {}", u32::MAX)))
}

/// An optional [`u32`] (absent or `null`: `None`).
pub fn optional_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "u32")] u32);
    Ok(Option::<Whole>::deserialize(deserializer)?.map(|Whole(value)| value))
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Days {
        #[serde(deserialize_with = "super::u32")]
        days: u32,
        #[serde(default, deserialize_with = "super::optional_u32")]
        more: Option<u32>,
    }

    #[test]
    fn whole_floats_are_integers_and_fractions_are_not() {
        let parse = |text: &str| serde_json::from_str::<Days>(text);
        assert_eq!(parse(r#"{"days": 138.0}"#).unwrap().days, 138);
        assert_eq!(parse(r#"{"days": 7, "more": 2.0}"#).unwrap().more, Some(2));
        assert_eq!(parse(r#"{"days": 7, "more": null}"#).unwrap().more, None);
        assert_eq!(parse(r#"{"days": 7}"#).unwrap().more, None);
        assert!(parse(r#"{"days": 1.5}"#).is_err());
        assert!(parse(r#"{"days": -1}"#).is_err());
        assert!(parse(r#"{"days": 4294967296}"#).is_err());
        assert!(parse(r#"{"days": "7"}"#).is_err());
    }
}
