//! The demo provisioned on first start: DID 1000 echoes, phones 1001 and
//! 1002 get random SIP passwords written to `DATA_DIR/demo-credentials.json`.

use anyhow::Context;
use rand::Rng;
use std::collections::BTreeMap;
use std::path::Path;

use crate::storage::demo::{
    account_id_by_number, insert_demo_account, insert_demo_mailbox, insert_meta,
};
use crate::storage::phones::{insert_phone, is_did_number, replace_password};

/// The echo DID.
pub const ECHO_DID: &str = "1000";

/// The demo conference room: everyone who calls it is mixed together.
pub const CONFERENCE_DID: &str = "2000";
/// The demo DID that records the caller until hang-up.
pub const RECORD_DID: &str = "3000";
/// The demo DID that sends each digit pressed back and speaks it.
pub const DIGIT_ECHO_DID: &str = "4000";
/// The demo voicemail box's DID (a flow: greeting, beep, message, goodbye).
pub const VOICEMAIL_DID: &str = "5000";
/// The demo menu's DID (a flow: 1 a prompt, 2 voicemail, 3 phone 1001).
pub const MENU_DID: &str = "6000";
/// The demo voicemail box.
pub const MAILBOX: &str = "5000";
/// The demo phone extensions.
pub const PHONES: [&str; 2] = ["1001", "1002"];
/// The credentials file name inside the data directory.
pub const CREDENTIALS_FILE: &str = "demo-credentials.json";

/// Phone extensions and their SIP passwords.
pub type Credentials = BTreeMap<String, String>;

/// Loads the demo credentials, creating them on first start. Returns the
/// credentials and whether they were just created (so they are logged once).
pub fn provision(data_dir: &Path) -> anyhow::Result<(Credentials, bool)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let path = data_dir.join(CREDENTIALS_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let credentials: Credentials =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        return Ok((credentials, false));
    }
    let mut rng = rand::rng();
    let credentials: Credentials = PHONES
        .iter()
        .map(|phone| {
            let password: String = (0..16)
                .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
                .collect();
            (phone.to_string(), password)
        })
        .collect();
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, serde_json::to_string_pretty(&credentials)?)
        .with_context(|| format!("writing {}", temporary.display()))?;
    restrict_permissions(&temporary)?;
    std::fs::rename(&temporary, &path)?;
    Ok((credentials, true))
}

/// The demo account the demo DIDs and phones belong to.
pub const ACCOUNT_NUMBER: &str = "DEMO";

/// The `meta` key set once the demo rows are in the database.
const SEEDED: &str = "demo_seeded";
/// The `meta` key set once the demo flows are in the database (a database
/// seeded before flows existed gets them on its next start).
const FLOWS_SEEDED: &str = "demo_flows_seeded";
/// The `meta` key set once the demo voicemail box is in the database.
const MAILBOX_SEEDED: &str = "demo_mailbox_seeded";

/// The demo voicemail flow.
fn voicemail_flow() -> serde_json::Value {
    serde_json::json!({"verbs": [
        {"verb": "answer"},
        {"verb": "play", "prompt": "en/voicemail"},
        {"verb": "voicemail", "box": MAILBOX},
        {"verb": "play", "prompt": "en/goodbye"},
        {"verb": "hangup"}
    ]})
}

/// The demo menu flow; its menu is spoken when the server can speak, else
/// the bundled greeting asks.
fn menu_flow(speaks: bool) -> serde_json::Value {
    let prompt = if speaks {
        serde_json::json!({"verb": "say", "text": "Press 1 to hear our greeting, 2 to leave a message, or 3 to reach phone 1001."})
    } else {
        serde_json::json!({"verb": "play", "prompt": "en/greeting"})
    };
    serde_json::json!({"verbs": [
        {"verb": "answer"},
        {"verb": "menu",
         "prompt": [prompt],
         "options": {
             "1": [{"verb": "play", "prompt": "en/greeting"}],
             "2": [{"verb": "play", "prompt": "en/voicemail"},
                   {"verb": "voicemail", "box": MAILBOX}],
             "3": [{"verb": "dial", "target": {"phone": "1001"}}]
         },
         "invalid": [{"verb": "play", "prompt": "en/invalid"}]},
        {"verb": "play", "prompt": "en/goodbye"},
        {"verb": "hangup"}
    ]})
}

/// Makes the demo flows and their DIDs 5000 and 6000, once per database.
async fn seed_flows(
    storage: &crate::storage::Storage,
    speaks: bool,
    now: &str,
) -> anyhow::Result<()> {
    use crate::http::dids::{AnsweredBy, NewDid};
    if storage.meta_value(FLOWS_SEEDED).await?.is_some() {
        return Ok(());
    }
    let mut transaction = storage.seeding_transaction().await?;
    let account = account_id_by_number(&mut transaction, ACCOUNT_NUMBER).await?;
    let flows = [
        (VOICEMAIL_DID, "Demo voicemail", voicemail_flow()),
        (MENU_DID, "Demo menu", menu_flow(speaks)),
    ];
    for (number, name, document) in flows {
        let taken = is_did_number(&mut *transaction, number).await?;
        let (Some(account_id), false) = (account, taken) else {
            continue;
        };
        let flow = ivr::parse(&document).map_err(|error| {
            anyhow::anyhow!("demo flow {name}: {} at {}", error.reason, error.pointer)
        })?;
        let flow_id = crate::storage::flows::insert_flow(
            &mut transaction,
            name,
            Some(account_id),
            &serde_json::to_string(&flow)?,
            now,
        )
        .await?;
        let did = NewDid {
            number: number.to_string(),
            account_id,
            city: None,
            state: None,
            time_zone: None,
            available_on: None,
            active: true,
            answered_by: AnsweredBy::Flow { flow_id },
            inbound: Default::default(),
        };
        crate::storage::dids::insert_did(&mut *transaction, &did, now).await?;
    }
    insert_meta(&mut transaction, FLOWS_SEEDED, now).await?;
    transaction.commit().await?;
    Ok(())
}

/// Makes the demo ordinary rows, once per database (decided by the
/// database, not by the credentials file): the demo account, DIDs 1000
/// (echo), 2000 (conference), 3000 (record), 4000 (digit echo), and the
/// demo phones with the passwords of `credentials`; all in one
/// transaction. On a database seeded before, when the credentials file
/// was made anew (`fresh`), the demo phones that still exist take its
/// passwords, so the file always tells the truth. Then the demo flows and
/// their DIDs 5000 (voicemail) and 6000 (menu), once; the menu is spoken
/// when the server `speaks` (has TTS).
pub async fn seed(
    storage: &crate::storage::Storage,
    credentials: &Credentials,
    fresh: bool,
    realm: &str,
    speaks: bool,
) -> anyhow::Result<()> {
    seed_phones_and_dids(storage, credentials, fresh, realm).await?;
    let now = crate::http::now_rfc3339();
    seed_mailbox(storage, &now).await?;
    seed_flows(storage, speaks, &now).await
}

/// Makes the demo account's voicemail box, once per database (an operator
/// who deletes it does not see it again).
async fn seed_mailbox(storage: &crate::storage::Storage, now: &str) -> anyhow::Result<()> {
    if storage.meta_value(MAILBOX_SEEDED).await?.is_some() {
        return Ok(());
    }
    let mut transaction = storage.seeding_transaction().await?;
    if let Some(account_id) = account_id_by_number(&mut transaction, ACCOUNT_NUMBER).await? {
        insert_demo_mailbox(&mut transaction, MAILBOX, account_id, now).await?;
    }
    insert_meta(&mut transaction, MAILBOX_SEEDED, now).await?;
    transaction.commit().await?;
    Ok(())
}

async fn seed_phones_and_dids(
    storage: &crate::storage::Storage,
    credentials: &Credentials,
    fresh: bool,
    realm: &str,
) -> anyhow::Result<()> {
    use crate::http::dids::{AnsweredBy, NewDid};
    use crate::http::phones::{PhoneRow, StoredPassword};
    let seeded = storage.meta_value(SEEDED).await?;
    if seeded.is_some() && !fresh {
        return Ok(());
    }
    let mut hashed = Vec::with_capacity(credentials.len());
    for (extension, password) in credentials {
        let (extension, password, realm) = (extension.clone(), password.clone(), realm.to_string());
        let stored = tokio::task::spawn_blocking(move || {
            StoredPassword::new(&extension, &realm, &password).map(|stored| (extension, stored))
        })
        .await??;
        hashed.push(stored);
    }
    let now = crate::http::now_rfc3339();
    let mut transaction = storage.seeding_transaction().await?;
    if seeded.is_some() {
        for (extension, stored) in &hashed {
            replace_password(&mut *transaction, stored, extension, realm, &now).await?;
        }
        transaction.commit().await?;
        return Ok(());
    }
    let account_id = insert_demo_account(&mut transaction, ACCOUNT_NUMBER, &now).await?;
    let dids = [
        (ECHO_DID, AnsweredBy::Echo {}),
        (
            CONFERENCE_DID,
            AnsweredBy::Conference {
                room: CONFERENCE_DID.to_string(),
            },
        ),
        (RECORD_DID, AnsweredBy::Record {}),
        (DIGIT_ECHO_DID, AnsweredBy::DigitEcho {}),
    ];
    for (number, answered_by) in dids {
        let did = NewDid {
            number: number.to_string(),
            account_id,
            city: None,
            state: None,
            time_zone: None,
            available_on: None,
            active: true,
            answered_by,
            inbound: Default::default(),
        };
        crate::storage::dids::insert_did(&mut *transaction, &did, &now).await?;
    }
    for (extension, stored) in &hashed {
        let display_name = format!("Demo phone {extension}");
        let row = PhoneRow {
            extension,
            account_id: Some(account_id),
            display_name: Some(&display_name),
            active: true,
        };
        insert_phone(&mut *transaction, row, stored, realm, &now).await?;
    }
    insert_meta(&mut transaction, SEEDED, &now).await?;
    transaction.commit().await?;
    Ok(())
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_created_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("sb-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (first, created) = provision(&dir).unwrap();
        assert!(created);
        assert_eq!(first.len(), 2);
        assert!(first.values().all(|p| p.len() == 16));
        let (second, created) = provision(&dir).unwrap();
        assert!(!created);
        assert_eq!(first, second);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
