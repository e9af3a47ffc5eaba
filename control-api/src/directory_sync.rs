//! Several nodes on one PostgreSQL database keep their call controllers'
//! directories (phones and DIDs) in step. A node that changes a phone or
//! a DID through its API applies the change itself, then announces it
//! with `NOTIFY`; every node listening, itself included, reads that phone
//! or DID back from the database and applies what it now is (applying
//! it twice changes nothing). Whenever a node (re)connects its listener
//! it reads the whole directory again, so a notification missed while it
//! was disconnected costs nothing. On SQLite there is one node, and
//! nothing to announce.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use crate::storage::{Backend, Storage};
use crate::switch::{Command, DirectoryChange};

/// The notification channel.
pub const CHANNEL: &str = "switchboard_directory";

/// What a notification names: a phone by extension, a DID by number, or
/// a flow by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// A phone.
    Phone(String),
    /// A DID.
    Did(String),
    /// A flow, by id.
    Flow(i64),
    /// An uploaded prompt, by name.
    Prompt(String),
    /// An agent, by login.
    Agent(String),
}

impl Changed {
    /// What `change` is about, if it is about one phone or DID.
    pub fn of(change: &DirectoryChange) -> Option<Changed> {
        match change {
            DirectoryChange::PhoneActive { extension, .. }
            | DirectoryChange::PhoneGone { extension } => {
                Some(Changed::Phone(extension.to_string()))
            }
            DirectoryChange::DidActive { number, .. }
            | DirectoryChange::DidInactive { number }
            | DirectoryChange::DidGone { number } => Some(Changed::Did(number.to_string())),
            DirectoryChange::FlowActive { id, .. } | DirectoryChange::FlowGone { id } => {
                Some(Changed::Flow(*id))
            }
            DirectoryChange::PromptActive { name, .. } | DirectoryChange::PromptGone { name } => {
                Some(Changed::Prompt(name.clone()))
            }
            DirectoryChange::AgentActive { login, .. } | DirectoryChange::AgentGone { login } => {
                Some(Changed::Agent(login.clone()))
            }
            DirectoryChange::Replace(_) => None,
        }
    }

    /// The notification's payload: `phone:EXTENSION`, `did:NUMBER`,
    /// `flow:ID`, `prompt:NAME` or `agent:LOGIN`.
    pub fn payload(&self) -> String {
        match self {
            Changed::Phone(extension) => format!("phone:{extension}"),
            Changed::Did(number) => format!("did:{number}"),
            Changed::Flow(id) => format!("flow:{id}"),
            Changed::Prompt(name) => format!("prompt:{name}"),
            Changed::Agent(login) => format!("agent:{login}"),
        }
    }

    /// Reads a payload back.
    pub fn parse(payload: &str) -> Option<Changed> {
        let (kind, key) = payload.split_once(':')?;
        if key.is_empty() {
            return None;
        }
        match kind {
            "phone" => Some(Changed::Phone(key.to_string())),
            "did" => Some(Changed::Did(key.to_string())),
            "flow" => key.parse().ok().map(Changed::Flow),
            "prompt" => Some(Changed::Prompt(key.to_string())),
            "agent" => Some(Changed::Agent(key.to_string())),
            _ => None,
        }
    }
}

/// Tells every node that `changed` changed (PostgreSQL only). A failure
/// is logged: the other nodes catch up when their listener reconnects.
pub async fn announce(storage: &Storage, changed: &Changed) {
    if storage.backend() != Backend::Postgres {
        return;
    }
    let sent = storage.notify(CHANNEL, &changed.payload()).await;
    if let Err(error) = sent {
        warn!(%error, payload = %changed.payload(), "directory change not announced to other nodes");
    }
}

/// What `changed` is now, read from the database.
async fn current(
    storage: &Storage,
    realm: &str,
    changed: &Changed,
) -> anyhow::Result<DirectoryChange> {
    match changed {
        Changed::Phone(extension) => Ok(storage.phone_directory_entry(realm, extension).await?),
        Changed::Did(number) => Ok(storage.did_directory_entry(number).await?),
        Changed::Flow(id) => Ok(storage.flow_directory_entry(*id).await?),
        Changed::Prompt(name) => Ok(storage.prompt_directory_entry(name).await?),
        Changed::Agent(login) => Ok(storage.agent_directory_entry(login).await?),
    }
}

/// The whole directory, as a node starts with it.
pub async fn snapshot(storage: &Storage, realm: &str) -> anyhow::Result<Vec<DirectoryChange>> {
    let mut changes: Vec<DirectoryChange> = storage
        .phone_directory(realm)
        .await?
        .into_iter()
        .map(|(extension, ha1s)| DirectoryChange::PhoneActive {
            extension: extension.into(),
            ha1s,
        })
        .collect();
    changes.extend(storage.prompt_directory().await?);
    changes.extend(storage.flow_directory().await?);
    changes.extend(storage.did_directory().await?);
    changes.extend(storage.agent_directory().await?);
    Ok(changes)
}

/// Follows every node's directory changes on the PostgreSQL database at
/// `url` and hands them to the call controller, until it stops.
pub async fn follow(
    url: String,
    storage: Storage,
    realm: String,
    commands: UnboundedSender<Command>,
) {
    while !commands.is_closed() {
        if let Err(error) = listen(&url, &storage, &realm, &commands).await {
            warn!(error = %format!("{error:#}"), "directory listener failed: connecting again");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One connection's worth of [`follow`]: `Ok` when it was lost.
async fn listen(
    url: &str,
    storage: &Storage,
    realm: &str,
    commands: &UnboundedSender<Command>,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    // Whatever changed while this node was not listening.
    let whole = snapshot(storage, realm).await?;
    let send = |change| {
        commands
            .send(Command::Directory {
                change,
                applied: None,
            })
            .is_ok()
    };
    if !send(DirectoryChange::Replace(whole)) {
        return Ok(());
    }
    info!("following directory changes on PostgreSQL");
    while let Some(notification) = listener.try_recv().await? {
        let Some(changed) = Changed::parse(notification.payload()) else {
            warn!(
                payload = notification.payload(),
                "unreadable directory notification"
            );
            continue;
        };
        let change = current(storage, realm, &changed).await?;
        if !send(change) {
            return Ok(());
        }
    }
    info!("directory listener's connection lost");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_a_phone_or_a_did_and_read_back() {
        for changed in [
            Changed::Phone("1001".into()),
            Changed::Did("+15551230000".into()),
            Changed::Flow(12),
            Changed::Prompt("acme-welcome".into()),
            Changed::Agent("alice.smith".into()),
        ] {
            assert_eq!(Changed::parse(&changed.payload()), Some(changed));
        }
        assert_eq!(Changed::parse("phone:"), None);
        assert_eq!(Changed::parse("flow:twelve"), None);
        assert_eq!(Changed::parse("queue:1"), None);
        assert_eq!(Changed::parse("nothing"), None);
        assert_eq!(
            Changed::of(&DirectoryChange::DidGone {
                number: "2000".into()
            }),
            Some(Changed::Did("2000".into()))
        );
        assert_eq!(Changed::of(&DirectoryChange::Replace(Vec::new())), None);
    }
}
