//! Storage: SQLite in the data directory (WAL), through sqlx, with the
//! schema kept by embedded migrations (`migrations/sqlite/`).
//!
//! Queries are checked at run time, not compile time, so one build serves
//! every backend the tests run against.

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

/// The database file in the data directory.
pub const DATABASE_FILE: &str = "switchboard.db";

/// The schema, embedded in the binary.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The connection pool and what is stored through it.
#[derive(Debug, Clone)]
pub struct Storage {
    pool: SqlitePool,
}

impl Storage {
    /// Opens (creating if needed) `DATA_DIR/switchboard.db` in WAL mode
    /// with foreign keys on, and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(DATABASE_FILE);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL is durable across a crash of the process
            // (not of the machine), the usual choice for WAL.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the database {}", path.display()))?;
        MIGRATIONS
            .run(&pool)
            .await
            .with_context(|| format!("migrating the database {}", path.display()))?;
        Ok(Self { pool })
    }

    /// The pool, for the modules that keep their own tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (on shutdown, after the last write).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
