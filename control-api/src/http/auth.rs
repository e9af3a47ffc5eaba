//! Bearer tokens and roles: every route but health needs
//! `Authorization: Bearer <token>`, and each route names the roles it
//! admits.
//!
//! A token is `sb_` and 48 hex digits (192 random bits). Only its SHA-256
//! is stored, so a copy of the database does not hold working tokens; a
//! token is found by the hash of what the client presents.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::AppState;
use super::error::ApiError;

/// What a token (or a user) may do, from most to least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including other administrators' tokens and lockouts.
    Sysadmin,
    /// Provisioning and reports for the whole server.
    Admin,
    /// Live calls, listening in, reports.
    Supervisor,
    /// An agent's own calls.
    Agent,
    /// Reading only.
    ReadOnly,
}

impl Role {
    /// Its name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sysadmin => "sysadmin",
            Self::Admin => "admin",
            Self::Supervisor => "supervisor",
            Self::Agent => "agent",
            Self::ReadOnly => "read_only",
        }
    }

    /// The role named `name` in the database.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Sysadmin,
            Self::Admin,
            Self::Supervisor,
            Self::Agent,
            Self::ReadOnly,
        ]
        .into_iter()
        .find(|role| role.as_str() == name)
    }

    /// Whether this role may do what `least` may: roles are ordered, each
    /// including those below it.
    pub fn at_least(self, least: Role) -> bool {
        self <= least
    }
}

impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Role::from_name(&name).ok_or_else(|| format!("unknown role {name:?}"))
    }
}

/// A bearer token in the query string, for what a browser opens itself
/// (a WebSocket, a page) and so cannot give an `Authorization` header.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The bearer token, when no `Authorization` header carries it.
    pub access_token: Option<String>,
}

/// A new token's secret and what is stored of it.
pub struct NewSecret {
    /// Shown to the client once.
    pub secret: String,
    /// Stored.
    pub sha256: String,
}

/// A fresh random secret.
pub fn new_secret() -> NewSecret {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("sb_{}", hex::encode(bytes));
    let sha256 = secret_sha256(&secret);
    NewSecret { secret, sha256 }
}

/// A token's public id: `tok_` and 16 hex digits.
pub fn new_token_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("tok_{}", hex::encode(bytes))
}

/// The stored form of a secret.
pub fn secret_sha256(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The caller of a request, authenticated by its bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's id.
    pub token_id: String,
    /// What it may do.
    pub role: Role,
    /// The agent a login's user is, if it is one.
    pub agent_id: Option<i64>,
}

impl Caller {
    /// Whose voicemail the caller reads: everyone's (`None`) from the
    /// supervisor role up; with the agent role, its agent's boxes only;
    /// else 403.
    pub fn voicemail_reader(&self) -> Result<Option<i64>, ApiError> {
        if self.role.at_least(Role::Supervisor) {
            return Ok(None);
        }
        self.require(Role::Agent)?;
        match self.agent_id {
            Some(agent_id) => Ok(Some(agent_id)),
            None => Err(ApiError::Forbidden(
                "an agent token reads its agent's voicemail, and this token's user is no agent"
                    .into(),
            )),
        }
    }

    /// The agent whose voicemail a list shows: the one `asked` for (none:
    /// everyone's) from the supervisor role up; with the agent role its
    /// own agent, and a 403 for another.
    pub fn voicemail_agent(&self, asked: Option<i64>) -> Result<Option<i64>, ApiError> {
        match (self.voicemail_reader()?, asked) {
            (Some(own), Some(asked)) if own != asked => Err(ApiError::Forbidden(
                "an agent token reads its own agent's voicemail only".into(),
            )),
            (Some(own), _) => Ok(Some(own)),
            (None, asked) => Ok(asked),
        }
    }

    /// `Ok` if the caller's role is `least` or above, else 403.
    pub fn require(&self, least: Role) -> Result<(), ApiError> {
        if self.role.at_least(least) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role or above; the token is {}",
                least.as_str(),
                self.role.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Caller::from_secret(state, bearer(&parts.headers)?).await
    }
}

/// The bearer secret of the `Authorization` header.
fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "missing Authorization: Bearer token",
        ))?;
    header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthorized(
            "the Authorization header is not `Bearer <token>`",
        ))
}

impl Caller {
    /// The caller by its `Authorization` header, or failing one by a token
    /// given in the query (`?access_token=`, for browsers, which cannot set
    /// headers on WebSockets or links).
    pub async fn from_headers_or_query(
        state: &AppState,
        headers: axum::http::HeaderMap,
        query_token: Option<&str>,
    ) -> Result<Self, ApiError> {
        match query_token {
            Some(secret) if !headers.contains_key(axum::http::header::AUTHORIZATION) => {
                Caller::from_secret(state, secret).await
            }
            _ => Caller::from_secret(state, bearer(&headers)?).await,
        }
    }

    /// The caller presenting the bearer `secret`, if it is a working token.
    pub async fn from_secret(state: &AppState, secret: &str) -> Result<Self, ApiError> {
        // A login's token takes its user's role now, and works only while
        // the user is active and unlocked, and until it expires.
        let row = state
            .storage
            .token_caller(&secret_sha256(secret), &super::now_rfc3339())
            .await?;
        let (token_id, role, agent_id) = row.ok_or(ApiError::Unauthorized(
            "unknown, revoked or expired token, or its user is locked or inactive",
        ))?;
        let role =
            Role::from_name(&role).ok_or(ApiError::Unauthorized("token has no valid role"))?;
        Ok(Caller {
            token_id,
            role,
            agent_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_those_below() {
        assert!(Role::Sysadmin.at_least(Role::Admin));
        assert!(Role::Admin.at_least(Role::Admin));
        assert!(!Role::Supervisor.at_least(Role::Admin));
        assert!(!Role::ReadOnly.at_least(Role::Agent));
        for role in [
            Role::Sysadmin,
            Role::Admin,
            Role::Supervisor,
            Role::Agent,
            Role::ReadOnly,
        ] {
            assert_eq!(Role::from_name(role.as_str()), Some(role));
        }
    }

    #[test]
    fn agents_read_their_own_voicemail_only() {
        let caller = |role, agent_id| Caller {
            token_id: "tok_1".into(),
            role,
            agent_id,
        };
        let supervisor = caller(Role::Supervisor, None);
        assert_eq!(supervisor.voicemail_agent(Some(4)).unwrap(), Some(4));
        assert_eq!(supervisor.voicemail_agent(None).unwrap(), None);
        let agent = caller(Role::Agent, Some(3));
        assert_eq!(agent.voicemail_agent(None).unwrap(), Some(3));
        assert_eq!(agent.voicemail_agent(Some(3)).unwrap(), Some(3));
        assert!(agent.voicemail_agent(Some(4)).is_err());
        assert!(caller(Role::Agent, None).voicemail_reader().is_err());
        assert!(caller(Role::ReadOnly, Some(3)).voicemail_reader().is_err());
    }

    #[test]
    fn secrets_are_random_and_stored_hashed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("sb_") && a.secret.len() == 51);
        assert_eq!(a.sha256, secret_sha256(&a.secret));
        assert!(!a.sha256.contains(&a.secret[3..]));
    }
}
