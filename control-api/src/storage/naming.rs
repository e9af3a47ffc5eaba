//! What flows and DIDs name (`flows`, `dids`), and whether what they, a
//! voicemail box or a user name exists.

use super::Storage;

/// Something that may be named, by the key it is named with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named<'a> {
    /// A flow, by id.
    Flow(i64),
    /// A phone, by extension.
    Phone(&'a str),
    /// An agent, by login.
    AgentLogin(&'a str),
    /// A voicemail box, by name.
    Mailbox(&'a str),
    /// An account, by id.
    Account(i64),
    /// A skill, by id.
    Skill(i64),
    /// An agent, by id.
    Agent(i64),
}

impl Storage {
    /// Every flow's id and stored document.
    pub async fn flow_documents(&self) -> Result<Vec<(i64, String)>, sqlx::Error> {
        sqlx::query_as("SELECT id, document FROM flows")
            .fetch_all(&self.pool)
            .await
    }

    /// Every DID's number with its stored answering settings and inbound
    /// options.
    pub async fn did_documents(&self) -> Result<Vec<(String, String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT number, answered_by, inbound FROM dids")
            .fetch_all(&self.pool)
            .await
    }

    /// Whether what `named` names exists.
    pub async fn exists(&self, named: Named<'_>) -> Result<bool, sqlx::Error> {
        let query = match named {
            Named::Flow(id) => sqlx::query_as("SELECT id FROM flows WHERE id = $1").bind(id),
            Named::Phone(extension) => {
                sqlx::query_as("SELECT id FROM phones WHERE extension = $1").bind(extension)
            }
            Named::AgentLogin(login) => {
                sqlx::query_as("SELECT id FROM agents WHERE login = $1").bind(login)
            }
            Named::Mailbox(name) => {
                sqlx::query_as("SELECT id FROM voicemail_boxes WHERE name = $1").bind(name)
            }
            Named::Account(id) => sqlx::query_as("SELECT id FROM accounts WHERE id = $1").bind(id),
            Named::Skill(id) => sqlx::query_as("SELECT id FROM skills WHERE id = $1").bind(id),
            Named::Agent(id) => sqlx::query_as("SELECT id FROM agents WHERE id = $1").bind(id),
        };
        let row: Option<(i64,)> = query.fetch_optional(&self.pool).await?;
        Ok(row.is_some())
    }
}
