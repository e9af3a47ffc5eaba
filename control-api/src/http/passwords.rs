//! Password hashing (argon2id) off the async threads, a few at a time:
//! each hash takes tens of milliseconds and about 19 MiB, so a burst of
//! logins or phone changes waits its turn instead of exhausting memory.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

use super::error::ApiError;

/// Hashes running at once, at most.
const AT_ONCE: usize = 4;

static PERMITS: Semaphore = Semaphore::const_new(AT_ONCE);

/// Runs `work` (an argon2 hash) on a blocking thread once a permit is free.
pub async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = PERMITS
        .acquire()
        .await
        .map_err(|error| ApiError::Internal(error.into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(error.into()))
}

/// The argon2id PHC string of `password`, with a fresh salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| anyhow::anyhow!("argon2 salt: {error}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("argon2: {error}"))?
        .to_string())
}

/// Whether `password` is the one `stored` (a PHC string) was made from.
/// A malformed stored hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of no user's password, checked when a login names nobody, so
/// that the answer takes as long as for a real user's wrong password.
pub fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash("no user has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsE", &stored));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(stored, hash("correct horse").unwrap(), "salted");
    }
}
