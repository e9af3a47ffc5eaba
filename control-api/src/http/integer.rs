//! Integers in JSON bodies as JSON Schema reads them: `138.0` is the
//! integer 138 (a number whose fractional part is zero), which serde's own
//! integer types refuse. Used with `#[serde(deserialize_with = ...)]`.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

/// Floats are exact integers up to 2^53.
const EXACT: f64 = 9_007_199_254_740_992.0;

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

/// An `i64` written as any JSON number with no fractional part (within
/// ±2^53 for one written as a float, where floats are exact).
pub fn i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && float.abs() <= EXACT)
                .map(|float| float as i64)
        })
        .ok_or_else(|| D::Error::custom(format!("{number} is not a whole number in range")))
}

/// An optional [`i64`] (absent or `null`: `None`).
pub fn optional_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "i64")] i64);
    Ok(Option::<Whole>::deserialize(deserializer)?.map(|Whole(value)| value))
}

/// A list of [`i64`]s, each written as any whole number.
pub fn i64_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "i64")] i64);
    Ok(Vec::<Whole>::deserialize(deserializer)?
        .into_iter()
        .map(|Whole(value)| value)
        .collect())
}

/// An optional [`i64_list`] (absent or `null`: `None`).
pub fn optional_i64_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<i64>>, D::Error> {
    #[derive(Deserialize)]
    struct List(#[serde(deserialize_with = "i64_list")] Vec<i64>);
    Ok(Option::<List>::deserialize(deserializer)?.map(|List(values)| values))
}

/// A whole number in a query string (`?limit=20`, or `20.0` as a JSON
/// Schema integer may be written), as an optional `u32`.
pub fn query_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let whole = query_whole(deserializer)?;
    u32::try_from(whole)
        .map(Some)
        .map_err(|_| D::Error::custom(format!("must be 0 to {}", u32::MAX)))
}

/// A whole number in a query string, as an optional `i64`.
pub fn query_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    query_whole(deserializer).map(Some)
}

fn query_whole<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let text = String::deserialize(deserializer)?;
    if let Ok(whole) = text.parse::<i64>() {
        return Ok(whole);
    }
    text.parse::<f64>()
        .ok()
        .filter(|float| float.fract() == 0.0 && float.abs() <= EXACT)
        .map(|float| float as i64)
        .ok_or_else(|| D::Error::custom(format!("{text:?} is not a whole number")))
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

    #[derive(Debug, serde::Deserialize)]
    struct Reference {
        #[serde(default, deserialize_with = "super::optional_i64")]
        id: Option<i64>,
    }

    #[test]
    fn references_take_whole_floats_of_either_sign() {
        let parse = |text: &str| serde_json::from_str::<Reference>(text).map(|r| r.id);
        assert_eq!(parse(r#"{"id": -394292.0}"#).unwrap(), Some(-394_292));
        assert_eq!(
            parse(r#"{"id": 9223372036854775807}"#).unwrap(),
            Some(i64::MAX)
        );
        assert_eq!(parse(r#"{}"#).unwrap(), None);
        assert!(parse(r#"{"id": 0.5}"#).is_err());
        assert!(parse(r#"{"id": 1e300}"#).is_err());
    }

    #[derive(Debug, serde::Deserialize)]
    struct References {
        #[serde(deserialize_with = "super::i64_list")]
        ids: Vec<i64>,
        #[serde(default, deserialize_with = "super::optional_i64_list")]
        more: Option<Vec<i64>>,
    }

    #[test]
    fn lists_of_references_take_whole_floats() {
        let parse = |text: &str| serde_json::from_str::<References>(text);
        let read = parse(r#"{"ids": [1, 2.0, -3], "more": [4.0]}"#).unwrap();
        assert_eq!((read.ids, read.more), (vec![1, 2, -3], Some(vec![4])));
        assert_eq!(parse(r#"{"ids": [], "more": null}"#).unwrap().more, None);
        assert!(parse(r#"{"ids": [1, 2.5]}"#).is_err());
        assert!(parse(r#"{"ids": 1}"#).is_err());
    }
}
