//! IVR flows (`flows`) and every version of their documents
//! (`flow_versions`).

use std::sync::Arc;

use super::{QueryBuilder, Storage};
use crate::http::flows::FlowRow;
use crate::switch::DirectoryChange;

/// The columns of [`FlowRow`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, name, account_id, version, document, created_at, updated_at"
    };
}

/// Inserts a flow at version 1, with that version's row, inside
/// `transaction` (the API and the demo); the document was checked.
/// Returns its id.
pub async fn insert_flow(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    account_id: Option<i64>,
    document: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO flows (name, account_id, version, document, created_at, updated_at) \
         VALUES ($1, $2, 1, $3, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(account_id)
    .bind(document)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **transaction)
    .await?;
    sqlx::query(
        "INSERT INTO flow_versions (flow_id, version, document, created_at) VALUES ($1, 1, $2, $3)",
    )
    .bind(id)
    .bind(document)
    .bind(now)
    .execute(&mut **transaction)
    .await?;
    Ok(id)
}

/// A stored document, read again (it was checked when uploaded; one that
/// no longer reads is logged and left out).
fn parse_stored(id: i64, document: &str) -> Option<ivr::Flow> {
    let parsed = serde_json::from_str(document)
        .map_err(|error| error.to_string())
        .and_then(|document| ivr::parse(&document).map_err(|error| error.to_string()));
    match parsed {
        Ok(flow) => Some(flow),
        Err(error) => {
            tracing::warn!(flow = id, %error, "a stored flow is unusable");
            None
        }
    }
}

impl Storage {
    /// Flow `id` at its current version, if there is one.
    pub async fn flow(&self, id: i64) -> Result<Option<FlowRow>, sqlx::Error> {
        sqlx::query_as::<_, FlowRow>(concat!("SELECT ", columns!(), " FROM flows WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Stores a new flow made at `now`, at version 1, in one transaction;
    /// returns its id. The document was checked.
    pub async fn create_flow(
        &self,
        name: &str,
        account_id: Option<i64>,
        document: &str,
        now: &str,
    ) -> Result<i64, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        let id = insert_flow(&mut transaction, name, account_id, document, now).await?;
        transaction.commit().await?;
        Ok(id)
    }

    /// A page of flows by name (only the account's, only those named
    /// `name`, when given), and how many there are.
    pub async fn flows(
        &self,
        window: (u32, u32),
        account_id: Option<i64>,
        name: Option<&str>,
    ) -> Result<(Vec<FlowRow>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(name) = name {
                builder.push(" AND name = ").push_bind(name.to_string());
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM flows",
            concat!("SELECT ", columns!(), " FROM flows"),
            " ORDER BY name, id",
            filter,
        )
        .await
    }

    /// Changes flow `id` at `now`: its name if given, and with a new
    /// (checked) document, its next version, kept with the others; all in
    /// one transaction. Returns its version after, or `None` when there is
    /// no such flow.
    pub async fn update_flow(
        &self,
        id: i64,
        name: Option<&str>,
        document: Option<&str>,
        now: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        // One statement takes the next version number, so two uploads at
        // once get two versions.
        let version: Option<(i64,)> = sqlx::query_as(
            "UPDATE flows SET name = coalesce($1, name), \
             version = CASE WHEN $2 THEN version + 1 ELSE version END, \
             document = coalesce($3, document), updated_at = $4 WHERE id = $5 RETURNING version",
        )
        .bind(name)
        .bind(document.is_some())
        .bind(document)
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((version,)) = version else {
            return Ok(None);
        };
        if let Some(document) = document {
            sqlx::query(
                "INSERT INTO flow_versions (flow_id, version, document, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(version)
            .bind(document)
            .bind(now)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(Some(version))
    }

    /// Deletes flow `id` and its versions. Returns whether it existed.
    pub async fn delete_flow(&self, id: i64) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM flows WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Every version of flow `id`'s document, newest first: the version,
    /// when it was uploaded and the document.
    pub async fn flow_versions(&self, id: i64) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT version, created_at, document FROM flow_versions WHERE flow_id = $1 \
             ORDER BY version DESC",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
    }

    /// What the call controller should know of flow `id` now: its current
    /// version, or that it is gone.
    pub async fn flow_directory_entry(&self, id: i64) -> Result<DirectoryChange, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT document FROM flows WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row.map(|(document,)| parse_stored(id, &document)) {
            Some(Some(flow)) => DirectoryChange::FlowActive {
                id,
                flow: Arc::new(flow),
            },
            _ => DirectoryChange::FlowGone { id },
        })
    }

    /// Every flow's current version, as the call controller starts with
    /// them.
    pub async fn flow_directory(&self) -> Result<Vec<DirectoryChange>, sqlx::Error> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, document FROM flows")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, document)| {
                parse_stored(id, &document).map(|flow| DirectoryChange::FlowActive {
                    id,
                    flow: Arc::new(flow),
                })
            })
            .collect())
    }
}
