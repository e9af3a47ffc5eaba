//! Optional fields of a change (PATCH) that can also be removed: absent,
//! the field stays as it is; `null`, it is removed; a value replaces it.
//! Read into `Option<Option<T>>` with `#[serde(default, deserialize_with
//! = ...)]` (serde alone reads `null` as absent).

use serde::Deserialize;
use serde::de::Deserializer;

/// A field that `null` removes: `Some(None)` for `null`, `Some(Some(_))`
/// for a value (absent, with `#[serde(default)]`: `None`).
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A reference that `null` removes, written as any whole number
/// ([`super::integer::i64`]).
pub fn nullable_i64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    super::integer::optional_i64(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Changes {
        #[serde(default, deserialize_with = "super::nullable")]
        text: Option<Option<String>>,
        #[serde(default, deserialize_with = "super::nullable_i64")]
        id: Option<Option<i64>>,
    }

    #[test]
    fn absent_keeps_null_removes_a_value_replaces() {
        let parse = |text: &str| serde_json::from_str::<Changes>(text).unwrap();
        let kept = parse("{}");
        assert_eq!((kept.text, kept.id), (None, None));
        let removed = parse(r#"{"text": null, "id": null}"#);
        assert_eq!((removed.text, removed.id), (Some(None), Some(None)));
        let replaced = parse(r#"{"text": "x", "id": 7.0}"#);
        assert_eq!(
            (replaced.text, replaced.id),
            (Some(Some("x".to_string())), Some(Some(7)))
        );
        assert!(serde_json::from_str::<Changes>(r#"{"id": 1.5}"#).is_err());
    }
}
