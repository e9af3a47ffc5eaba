//! Storage: SQLite in the data directory (WAL) by default, or PostgreSQL
//! with `--database-url postgres://…`, through sqlx's `Any` driver, with
//! each backend's schema kept by its own embedded migrations
//! (`migrations/sqlite/`, `migrations/postgres/`).
//!
//! Queries are checked at run time, not compile time, so one build serves
//! both backends. They are written in the SQL both speak: `$1`-style
//! parameters, `ON CONFLICT`, `RETURNING`, timestamps as RFC 3339 text
//! (which sorts in time order), flags read through [`Flag`].
//!
//! Every query Switchboard runs is here, one module per table (or group
//! of tables), as methods of [`Storage`]; the HTTP handlers (`http/`)
//! check input, call them and shape the answers, with no SQL of their
//! own. A write that clashes with what is stored (a unique or foreign
//! key violation) comes back as a `sqlx::Error` that
//! `ApiError::from_write` turns into a 409.

mod accounts;
mod agents;
mod cdrs;
pub mod demo;
pub mod dids;
mod directory;
pub mod flows;
pub mod holidays;
mod mailboxes;
mod naming;
pub mod phones;
mod prompts;
mod recordings;
mod reports;
mod skills;
mod tokens;
mod users;
mod voicemails;

pub use agents::AgentWriteError;
pub use naming::Named;

use anyhow::Context;
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::{Any, Arguments, AssertSqlSafe, Decode, Encode, Type, ValueRef};
use std::fmt::{Display, Write as _};
use std::path::Path;
use std::time::Duration;

/// The database file in the data directory (SQLite).
pub const DATABASE_FILE: &str = "switchboard.db";

/// The pool's type.
pub type Pool = sqlx::AnyPool;

/// The schemas, embedded in the binary.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which database the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The connection pool and what is stored through it.
#[derive(Debug, Clone)]
pub struct Storage {
    pool: Pool,
    backend: Backend,
}

impl Storage {
    /// Opens the database — PostgreSQL at `database_url` when given,
    /// else `DATA_DIR/switchboard.db` (created if needed, WAL, foreign
    /// keys on) — and brings its schema up to date.
    pub async fn open(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        match database_url {
            Some(url) => {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    anyhow::bail!("the database URL must be postgres://… (SQLite is the default)");
                }
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .context("connecting to PostgreSQL")?;
                POSTGRES_MIGRATIONS
                    .run(&pool)
                    .await
                    .context("migrating the PostgreSQL database")?;
                Ok(Self {
                    pool,
                    backend: Backend::Postgres,
                })
            }
            None => {
                let path = data_dir.join(DATABASE_FILE);
                create_private_file(&path)
                    .with_context(|| format!("creating the database {}", path.display()))?;
                let url = format!("sqlite://{}?mode=rwc", encode_path(&path));
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            // WAL with NORMAL is durable across a crash of
                            // the process (not of the machine), the usual
                            // choice for WAL.
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 5000",
                            ] {
                                sqlx::query(pragma).execute(&mut *connection).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .with_context(|| format!("opening the database {}", path.display()))?;
                SQLITE_MIGRATIONS
                    .run(&pool)
                    .await
                    .with_context(|| format!("migrating the database {}", path.display()))?;
                Ok(Self {
                    pool,
                    backend: Backend::Sqlite,
                })
            }
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (on shutdown, after the last write).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Asks the database a trivial question: an error if it does not
    /// answer.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

impl Storage {
    /// A page of a list: `count` and `select` (literal SQL up to its
    /// `WHERE`-less end, e.g. `SELECT COUNT(*) FROM phones`), each with
    /// the conditions `filter` adds, the `limit` rows of `select` in
    /// `order` (e.g. ` ORDER BY extension`) after skipping `offset`.
    /// Returns the rows and how many match.
    pub async fn page<R>(
        &self,
        (limit, offset): (u32, u32),
        count: &'static str,
        select: &'static str,
        order: &'static str,
        filter: impl Fn(&mut QueryBuilder),
    ) -> Result<(Vec<R>, i64), sqlx::Error>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut counting = QueryBuilder::new(count);
        counting.push(" WHERE 1 = 1");
        filter(&mut counting);
        let (total,): (i64,) = counting.build_query_as().fetch_one(&self.pool).await?;
        let mut selecting = QueryBuilder::new(select);
        selecting.push(" WHERE 1 = 1");
        filter(&mut selecting);
        selecting
            .push(order)
            .push(" LIMIT ")
            .push_bind(i64::from(limit))
            .push(" OFFSET ")
            .push_bind(i64::from(offset));
        let rows = selecting
            .build_query_as::<R>()
            .fetch_all(&self.pool)
            .await?;
        Ok((rows, total))
    }
}

/// Creates the database file, if it is new, readable and writable by
/// the server's user only: it holds digest HA1s, which are as good as
/// passwords. SQLite gives its WAL and shared-memory files the same mode.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// A file path as the path of a `sqlite://` URL (percent-encoded).
fn encode_path(path: &Path) -> String {
    let mut encoded = String::new();
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// A `LIKE` pattern (used with `ESCAPE '\'`) matching text that contains
/// `part`, any case (compared with `lower(column)`).
pub fn like_pattern(part: &str) -> String {
    let mut pattern = String::from("%");
    for c in part.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A stored true/false: `BOOLEAN` on PostgreSQL, a 0/1 `INTEGER` on
/// SQLite. Read either way; bind plain `bool`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> Self {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(
            ty.kind,
            AnyTypeInfoKind::Bool
                | AnyTypeInfoKind::SmallInt
                | AnyTypeInfoKind::Integer
                | AnyTypeInfoKind::BigInt
        )
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if value.type_info().kind == AnyTypeInfoKind::Bool {
            <bool as Decode<Any>>::decode(value).map(Flag)
        } else {
            <i64 as Decode<Any>>::decode(value).map(|number| Flag(number != 0))
        }
    }
}

/// A query put together at run time, with `$n` parameters as both
/// backends take them (sqlx's own builder writes `?` for `Any`).
pub struct QueryBuilder {
    text: String,
    arguments: AnyArguments,
    count: usize,
}

impl QueryBuilder {
    /// A query starting with `init` (literal SQL).
    pub fn new(init: &'static str) -> Self {
        Self {
            text: init.to_string(),
            arguments: AnyArguments::default(),
            count: 0,
        }
    }

    /// Appends literal SQL (never a client's text: that is bound).
    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        let _ = write!(self.text, "{sql}");
        self
    }

    /// Appends a parameter bound to `value`.
    pub fn push_bind<'t, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
    {
        self.count += 1;
        let _ = write!(self.text, "${}", self.count);
        if let Err(error) = self.arguments.add(value) {
            // Encoding into `Any` fails only for types it cannot carry,
            // which no caller binds.
            tracing::error!(%error, "a query parameter could not be encoded");
        }
        self
    }

    /// The query, mapping each row to `T`.
    pub fn build_query_as<T>(&mut self) -> sqlx::query::QueryAs<'static, Any, T, AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_as_with(
            AssertSqlSafe(std::mem::take(&mut self.text)),
            std::mem::take(&mut self.arguments),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_encoded_for_the_url() {
        assert_eq!(
            encode_path(Path::new("/var/lib/switch board/x.db")),
            "/var/lib/switch%20board/x.db"
        );
        assert_eq!(encode_path(Path::new("/a?b#c")), "/a%3Fb%23c");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Acme"), "%acme%");
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn built_queries_number_their_parameters() {
        let mut query = QueryBuilder::new("SELECT * FROM t WHERE 1 = 1");
        query
            .push(" AND a = ")
            .push_bind(1_i64)
            .push(" AND b = ")
            .push_bind("x");
        assert_eq!(
            query.text,
            "SELECT * FROM t WHERE 1 = 1 AND a = $1 AND b = $2"
        );
        assert_eq!(query.count, 2);
    }
}
