//! How the API says no: a status and a JSON body `{"error": "..."}`, with
//! `"path"` (a JSON pointer to the offending field) on a 422. A client's
//! mistake is never a 500; a 500 is logged with its cause and tells the
//! client nothing of it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// On a 422: the JSON pointer (RFC 6901) of the offending field, `""`
    /// for the body as a whole; on a 409 about something named that does
    /// not exist, where it is named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// An error response.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not JSON.
    BadRequest(String),
    /// 401: no token, or not a valid one.
    Unauthorized(&'static str),
    /// 403: a valid token whose role may not do this.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409: it would clash with what exists.
    Conflict(String),
    /// 409: the body names, at `path`, something that does not exist.
    ConflictAt {
        /// JSON pointer of where it is named.
        path: String,
        /// What is missing.
        reason: String,
    },
    /// 413: the body is over the limit (2 MiB).
    TooLarge,
    /// 415: the body is not declared as JSON.
    UnsupportedMediaType,
    /// 422: a field's value is wrong.
    Invalid {
        /// JSON pointer of the field.
        path: String,
        /// Why.
        reason: String,
    },
    /// 500: our fault (the storage failed); logged, not shown.
    Internal(anyhow::Error),
}

impl ApiError {
    /// A 422 for the field at `path`.
    pub fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl ApiError {
    /// A failed write: a unique or foreign-key violation is the client's
    /// clash with what exists (409, `clash` says which), anything else
    /// our fault.
    pub fn from_write(error: sqlx::Error, clash: impl FnOnce() -> String) -> Self {
        match &error {
            sqlx::Error::Database(database)
                if database.is_unique_violation() || database.is_foreign_key_violation() =>
            {
                Self::Conflict(clash())
            }
            _ => error.into(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, path) = match self {
            Self::BadRequest(reason) => (StatusCode::BAD_REQUEST, reason, None),
            Self::Unauthorized(reason) => (StatusCode::UNAUTHORIZED, reason.to_string(), None),
            Self::Forbidden(reason) => (StatusCode::FORBIDDEN, reason, None),
            Self::NotFound(what) => (StatusCode::NOT_FOUND, what, None),
            Self::Conflict(reason) => (StatusCode::CONFLICT, reason, None),
            Self::ConflictAt { path, reason } => (StatusCode::CONFLICT, reason, Some(path)),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is over 2 MiB".to_string(),
                None,
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON (Content-Type: application/json)".to_string(),
                None,
            ),
            Self::Invalid { path, reason } => {
                (StatusCode::UNPROCESSABLE_ENTITY, reason, Some(path))
            }
            Self::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "API request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_string(),
                    None,
                )
            }
        };
        let mut response = (status, Json(ErrorBody { error, path })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"switchboard\""),
            );
        }
        response
    }
}

/// A JSON body whose errors name the field: `415` if it is not declared
/// JSON, `400` if it is not JSON at all, `422` with the field's JSON
/// pointer if a field is missing, unknown or of the wrong type, or if the
/// body is not an object.
pub struct ValidJson<T>(pub T);

/// A struct read only from a JSON object: serde also reads a struct from
/// an array of its fields' values, which no schema of this API allows.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(Fields(std::marker::PhantomData))
            .map(Object)
    }
}

/// A list of structs each read only from a JSON object ([`Object`]), for
/// `#[serde(deserialize_with = ...)]`.
pub fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let objects = Vec::<Object<T>>::deserialize(deserializer)?;
    Ok(objects.into_iter().map(|Object(value)| value).collect())
}

/// A struct read only from a JSON object ([`Object`]), for
/// `#[serde(deserialize_with = ...)]`.
pub fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Object::<T>::deserialize(deserializer).map(|Object(value)| value)
}

/// An optional [`object`] (absent or `null`: `None`).
pub fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Object<T>>::deserialize(deserializer).map(|value| value.map(|Object(value)| value))
}

/// An optional [`objects`] (absent or `null`: `None`).
pub fn optional_objects<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let objects = Option::<Vec<Object<T>>>::deserialize(deserializer)?;
    Ok(objects.map(|objects| objects.into_iter().map(|Object(value)| value).collect()))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge
                } else {
                    ApiError::BadRequest(rejection.body_text())
                }
            })?;
        if has_escaped_nul(&bytes) {
            return Err(ApiError::invalid("", "text may not contain NUL (\\u0000)"));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut deserializer) {
            Ok(Object(value)) => {
                deserializer
                    .end()
                    .map_err(|error| ApiError::BadRequest(format!("not JSON: {error}")))?;
                Ok(Self(value))
            }
            Err(error) => {
                let path = json_pointer(error.path());
                let inner = error.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    Err(ApiError::BadRequest(format!("not JSON: {inner}")))
                } else {
                    let reason = strip_position(&inner.to_string());
                    Err(ApiError::invalid(field_path(path, &reason), reason))
                }
            }
        }
    }
}

/// The JSON pointer of the field a body error is about: a missing field
/// is reported at its parent, so it is named; an unknown one is reported
/// at itself.
fn field_path(path: String, reason: &str) -> String {
    let escape = |field: &str| field.replace('~', "~0").replace('/', "~1");
    if let Some(field) = reason
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return format!("{path}/{}", escape(field));
    }
    if let Some((field, _)) = reason
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
    {
        let segment = format!("/{}", escape(field));
        if !path.ends_with(&segment) {
            return format!("{path}{segment}");
        }
    }
    path
}

/// A serde path as a JSON pointer: `tokens[2].name` → `/tokens/2/name`.
/// Whether a JSON text holds a NUL character: `\u0000` as an escape (a
/// raw NUL is not JSON), which no database stores in text.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut rest = json;
    while let Some(at) = rest.iter().position(|&byte| byte == b'\\') {
        let escape = &rest[at..];
        if escape.len() >= 6 && &escape[1..6] == b"u0000" {
            return true;
        }
        // Skip the whole escape (`\\` included), so `\\u0000` is text.
        rest = &escape[escape.len().min(2)..];
    }
    false
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// serde_json's message without its " at line 1 column 17" suffix.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_nuls_are_found_and_escaped_backslashes_are_not() {
        assert!(has_escaped_nul(br#"{"name": "a\u0000b"}"#));
        assert!(has_escaped_nul(br#"{"name": "\\\u0000"}"#));
        assert!(!has_escaped_nul(br#"{"name": "a\\u0000b"}"#));
        assert!(!has_escaped_nul(br#"{"name": "\u0001 \n"}"#));
        assert!(!has_escaped_nul(br#"{"name": "\"#));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read only to be refused
    struct Outer {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        level: u32,
    }

    fn path_of(body: &str) -> String {
        let mut deserializer = serde_json::Deserializer::from_str(body);
        let error =
            serde_path_to_error::deserialize::<_, Object<Outer>>(&mut deserializer).unwrap_err();
        let path = json_pointer(error.path());
        field_path(path, &strip_position(&error.into_inner().to_string()))
    }

    #[test]
    fn structs_are_read_only_from_objects() {
        let read = |body: &str| serde_json::from_str::<Object<Inner>>(body).map(|Object(x)| x);
        assert_eq!(read(r#"{"level": 3}"#).unwrap().level, 3);
        assert!(read("[3]").is_err(), "a struct from an array");
        assert!(
            serde_json::from_str::<Inner>("[3]").is_ok(),
            "as serde reads it"
        );
        assert_eq!(path_of(r#"["x", null]"#), "");
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Listed {
        #[serde(default, deserialize_with = "super::optional_objects")]
        items: Option<Vec<Inner>>,
    }

    #[test]
    fn lists_of_structs_are_read_only_from_objects() {
        let read = |body: &str| serde_json::from_str::<Listed>(body);
        let listed = read(r#"{"items": [{"level": 3}]}"#).unwrap();
        assert_eq!(listed.items.unwrap()[0].level, 3);
        assert!(read(r#"{"items": null}"#).unwrap().items.is_none());
        assert!(read(r#"{}"#).unwrap().items.is_none());
        assert!(
            read(r#"{"items": [[3]]}"#).is_err(),
            "an item from an array"
        );
    }

    #[test]
    fn body_errors_name_the_field_once() {
        assert_eq!(path_of(r#"{"colour": 1}"#), "/colour");
        assert_eq!(path_of(r#"{"name": "x", "colour": 1}"#), "/colour");
        assert_eq!(path_of(r#"{}"#), "/name");
        assert_eq!(path_of(r#"{"name": 7}"#), "/name");
        assert_eq!(path_of(r#"{"name": "x", "inner": {}}"#), "/inner/level");
        assert_eq!(
            path_of(r#"{"name": "x", "inner": {"level": 1, "pin": 2}}"#),
            "/inner/pin"
        );
        assert_eq!(
            path_of(r#"{"name": "x", "inner": {"a/b~": 2}}"#),
            "/inner/a~1b~0"
        );
    }
}
