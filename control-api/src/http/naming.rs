//! What flows and DIDs name outside themselves: other flows, prompts,
//! phones, agents and voicemail boxes. Each is checked to exist when a
//! flow or a DID's settings are written, and a flow, prompt, agent or box
//! that something still names is not deleted (or renamed) from under it.

use std::fmt;

use ivr::References;

use super::AppState;
use super::error::ApiError;
use crate::storage::Named;
use crate::storage::Storage;

/// A flow or a DID that names something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namer {
    /// A flow, by id.
    Flow(i64),
    /// A DID (its answering settings or its inbound options), by number.
    Did(String),
}

impl fmt::Display for Namer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Namer::Flow(id) => write!(f, "flow {id}"),
            Namer::Did(number) => write!(f, "DID {number}"),
        }
    }
}

/// What every stored flow and DID names, read in one pass. A stored
/// document that no longer reads names nothing.
async fn everything(storage: &Storage) -> anyhow::Result<Vec<(Namer, References)>> {
    let flows = storage.flow_documents().await?;
    let dids = storage.did_documents().await?;
    let mut all = Vec::with_capacity(flows.len() + dids.len());
    for (id, document) in flows {
        if let Some(flow) = serde_json::from_str(&document)
            .ok()
            .and_then(|document| ivr::parse(&document).ok())
        {
            all.push((Namer::Flow(id), flow.references()));
        }
    }
    for (number, answered_by, inbound) in dids {
        let answered_by = serde_json::from_str(&answered_by).ok();
        let inbound = serde_json::from_str(&inbound).ok();
        all.push((
            Namer::Did(number),
            super::dids::references(answered_by.as_ref(), inbound.as_ref()),
        ));
    }
    Ok(all)
}

/// The first flow or DID, other than `except`, of whose references
/// `names` holds.
pub async fn first(
    storage: &Storage,
    except: Option<&Namer>,
    names: impl Fn(&References) -> bool,
) -> Result<Option<Namer>, ApiError> {
    Ok(everything(storage)
        .await
        .map_err(ApiError::Internal)?
        .into_iter()
        .find(|(namer, references)| Some(namer) != except && names(references))
        .map(|(namer, _)| namer))
}

/// A 409 at `prefix` + the pointer of the first thing `references` names
/// that does not exist.
pub async fn require(
    state: &AppState,
    references: &References,
    prefix: &str,
) -> Result<(), ApiError> {
    let missing = |pointer: &str, reason: String| ApiError::ConflictAt {
        path: format!("{prefix}{pointer}"),
        reason,
    };
    for (pointer, id) in &references.flows {
        if !state.storage.exists(Named::Flow(*id)).await? {
            return Err(missing(pointer, format!("there is no flow {id}")));
        }
    }
    for (pointer, extension) in &references.phones {
        if !state.storage.exists(Named::Phone(extension)).await? {
            return Err(missing(pointer, format!("there is no phone {extension}")));
        }
    }
    for (pointer, login) in &references.agents {
        if !state.storage.exists(Named::AgentLogin(login)).await? {
            return Err(missing(pointer, format!("there is no agent {login}")));
        }
    }
    for (pointer, name) in &references.mailboxes {
        if !state.storage.exists(Named::Mailbox(name)).await? {
            return Err(missing(
                pointer,
                format!("there is no voicemail box {name:?}"),
            ));
        }
    }
    for (pointer, name) in &references.prompts {
        let known = crate::prompts::is_bundled(name) || state.storage.prompt_exists(name).await?;
        if !known {
            return Err(missing(pointer, format!("there is no prompt {name:?}")));
        }
    }
    Ok(())
}
