//! Phones (`phones`): SIP users that register and are called by
//! extension, with their passwords' hashes and the realm those were set
//! in.

use sip_core::auth::Ha1s;

use super::{Flag, QueryBuilder, Storage};
use crate::http::phones::{Phone, PhoneChanges, PhoneRow, StoredPassword};
use crate::switch::DirectoryChange;

/// The columns of [`Phone`], for `concat!` into literal SQL.
macro_rules! columns {
    () => {
        "id, extension, account_id, display_name, active, created_at, updated_at"
    };
}

impl Storage {
    /// Phone `id`, if there is one.
    pub async fn phone(&self, id: i64) -> Result<Option<Phone>, sqlx::Error> {
        sqlx::query_as::<_, Phone>(concat!("SELECT ", columns!(), " FROM phones WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    /// The extension of phone `id` (`RowNotFound` if there is none).
    pub async fn phone_extension(&self, id: i64) -> Result<String, sqlx::Error> {
        let (extension,): (String,) = sqlx::query_as("SELECT extension FROM phones WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(extension)
    }

    /// Stores a new phone whose password was set in `realm`, made at
    /// `now`; returns its id.
    pub async fn insert_phone(
        &self,
        phone: PhoneRow<'_>,
        stored: &StoredPassword,
        realm: &str,
        now: &str,
    ) -> Result<i64, sqlx::Error> {
        insert_phone(&self.pool, phone, stored, realm, now).await
    }

    /// Whether `number` is a DID's.
    pub async fn is_did_number(&self, number: &str) -> Result<bool, sqlx::Error> {
        is_did_number(&self.pool, number).await
    }

    /// A page of phones by extension (only those with `extension`, of
    /// `account_id`, or `active` or not, when given), and how many there
    /// are.
    pub async fn phones(
        &self,
        window: (u32, u32),
        extension: Option<&str>,
        account_id: Option<i64>,
        active: Option<bool>,
    ) -> Result<(Vec<Phone>, i64), sqlx::Error> {
        let filter = |builder: &mut QueryBuilder| {
            if let Some(extension) = extension {
                builder
                    .push(" AND extension = ")
                    .push_bind(extension.to_string());
            }
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(active) = active {
                builder.push(" AND active = ").push_bind(active);
            }
        };
        self.page(
            window,
            "SELECT COUNT(*) FROM phones",
            concat!("SELECT ", columns!(), " FROM phones"),
            " ORDER BY extension",
            filter,
        )
        .await
    }

    /// Changes phone `id` at `now`: the fields of `changes` that are
    /// given, and its password to `stored` (set in `realm`) if given.
    /// Returns whether it exists.
    pub async fn update_phone(
        &self,
        id: i64,
        changes: &PhoneChanges,
        stored: Option<&StoredPassword>,
        realm: &str,
        now: &str,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE phones SET account_id = coalesce($1, account_id), \
             display_name = coalesce($2, display_name), active = coalesce($3, active), \
             password_argon2 = coalesce($4, password_argon2), ha1_md5 = coalesce($5, ha1_md5), \
             ha1_sha256 = coalesce($6, ha1_sha256), realm = CASE WHEN $7 THEN $8 ELSE realm END, \
             updated_at = $9 WHERE id = $10",
        )
        .bind(changes.account_id)
        .bind(&changes.display_name)
        .bind(changes.active)
        .bind(stored.map(|stored| &stored.argon2))
        .bind(stored.map(|stored| &stored.ha1_md5))
        .bind(stored.map(|stored| &stored.ha1_sha256))
        .bind(stored.is_some())
        .bind(realm)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Deletes phone `id` (refused by the database while it is an
    /// agent's extension).
    pub async fn delete_phone(&self, id: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM phones WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What the call controller should know of the phone `extension` now:
    /// active with its HA1s of `realm`, or gone (deleted, deactivated, or
    /// its password set in another realm).
    pub async fn phone_directory_entry(
        &self,
        realm: &str,
        extension: &str,
    ) -> Result<DirectoryChange, sqlx::Error> {
        let row: Option<(Flag, String, String, String)> = sqlx::query_as(
            "SELECT active, realm, ha1_md5, ha1_sha256 FROM phones WHERE extension = $1",
        )
        .bind(extension)
        .fetch_optional(&self.pool)
        .await?;
        let extension = extension.to_string();
        Ok(match row {
            Some((Flag(true), phone_realm, md5, sha256)) if phone_realm == realm => {
                match Ha1s::from_hex(Some(&md5), Some(&sha256)) {
                    Ok(ha1s) => DirectoryChange::PhoneActive {
                        extension: extension.into(),
                        ha1s,
                    },
                    Err(_) => DirectoryChange::PhoneGone {
                        extension: extension.into(),
                    },
                }
            }
            _ => DirectoryChange::PhoneGone {
                extension: extension.into(),
            },
        })
    }

    /// The active phones with HA1s of `realm`: what the registrar starts
    /// with. Phones whose password was set in another realm cannot
    /// authenticate until it is set again, and are left out (with a
    /// warning).
    pub async fn phone_directory(&self, realm: &str) -> Result<Vec<(String, Ha1s)>, sqlx::Error> {
        let rows: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT extension, realm, ha1_md5, ha1_sha256 FROM phones WHERE active")
                .fetch_all(&self.pool)
                .await?;
        let mut directory = Vec::with_capacity(rows.len());
        for (extension, phone_realm, md5, sha256) in rows {
            if phone_realm != realm {
                tracing::warn!(%extension, realm = %phone_realm, "phone's password was set in another realm: set it again");
                continue;
            }
            match Ha1s::from_hex(Some(&md5), Some(&sha256)) {
                Ok(ha1s) => directory.push((extension, ha1s)),
                Err(error) => tracing::warn!(%extension, %error, "phone's stored HA1 is unusable"),
            }
        }
        Ok(directory)
    }
}

/// Inserts a phone whose password was set in `realm`, made at `now`;
/// the caller checked its fields. Returns its id.
pub async fn insert_phone<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    phone: PhoneRow<'_>,
    stored: &StoredPassword,
    realm: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    let PhoneRow {
        extension,
        account_id,
        display_name,
        active,
    } = phone;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO phones (extension, account_id, display_name, password_argon2, realm, \
         ha1_md5, ha1_sha256, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(extension)
    .bind(account_id)
    .bind(display_name)
    .bind(&stored.argon2)
    .bind(realm)
    .bind(&stored.ha1_md5)
    .bind(&stored.ha1_sha256)
    .bind(active)
    .bind(now)
    .bind(now)
    .fetch_one(executor)
    .await?;
    Ok(id)
}

/// Sets the password of phone `extension` (if it exists) to `stored`,
/// set in `realm`, at `now`.
pub async fn replace_password<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    stored: &StoredPassword,
    extension: &str,
    realm: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE phones SET password_argon2 = $1, ha1_md5 = $2, ha1_sha256 = $3, realm = $4, \
         updated_at = $5 WHERE extension = $6",
    )
    .bind(&stored.argon2)
    .bind(&stored.ha1_md5)
    .bind(&stored.ha1_sha256)
    .bind(realm)
    .bind(now)
    .bind(extension)
    .execute(executor)
    .await?;
    Ok(())
}

/// Whether `number` is a DID's (a phone's extension may not be: both are
/// dialled the same way).
pub async fn is_did_number<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    number: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM dids WHERE number = $1")
        .bind(number)
        .fetch_optional(executor)
        .await?;
    Ok(found.is_some())
}
