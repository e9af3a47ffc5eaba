//! Paging and query strings for list routes: `?limit=&offset=` plus each
//! route's filters, answered as `{"items": [...], "total": N, "limit",
//! "offset"}`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::error::ApiError;

/// The most items one page holds.
pub const MAX_LIMIT: u32 = 500;

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: u32 = 50;

/// The furthest a page may start.
pub const MAX_OFFSET: u32 = 1_000_000_000;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match, over every page.
    pub total: i64,
    /// The page size asked for.
    pub limit: u32,
    /// How many matching items come before this page.
    pub offset: u32,
}

/// `limit` and `offset`, checked: `limit` 1 to [`MAX_LIMIT`].
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// Items per page.
    pub limit: u32,
    /// Items skipped.
    pub offset: u32,
}

impl Paging {
    /// Checks a query's `limit` and `offset`.
    pub fn new(limit: Option<u32>, offset: Option<u32>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::invalid(
                "?limit",
                format!("must be 1 to {MAX_LIMIT}"),
            ));
        }
        let offset = offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            return Err(ApiError::invalid(
                "?offset",
                format!("must be 0 to {MAX_OFFSET}"),
            ));
        }
        Ok(Self { limit, offset })
    }

    /// The window for [`crate::storage::Storage::page`]: `(limit, offset)`.
    pub fn window(self) -> (u32, u32) {
        (self.limit, self.offset)
    }

    /// The page of `items` out of `total`.
    pub fn page<T>(self, items: Vec<T>, total: i64) -> Page<T> {
        Page {
            items,
            total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// A query string whose errors are 422s naming the parameter (`?name`).
pub struct ValidQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            return Err(ApiError::invalid(
                format!("?{}", name.replace('\0', "")),
                "may not contain NUL",
            ));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        match serde_path_to_error::deserialize(deserializer) {
            Ok(value) => Ok(Self(value)),
            Err(error) => {
                let parameter = error.path().to_string();
                let reason = error.into_inner().to_string();
                let parameter = match reason
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.strip_suffix('`'))
                {
                    Some(field) => field.to_string(),
                    None => parameter,
                };
                Err(ApiError::invalid(format!("?{parameter}"), reason))
            }
        }
    }
}

/// A numeric id in the path: anything else names nothing, a 404.
pub struct IdPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound("no such item".to_string()))?;
        text.parse()
            .map(Self)
            .map_err(|_| ApiError::NotFound(format!("no item {text:?}")))
    }
}
