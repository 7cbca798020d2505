//! The database the ledger and the console share: SQLite (embedded default, WAL) or PostgreSQL,
//! both through sqlx's `Any` driver so that every statement is written once. The SQL is the
//! portable subset both speak: `$n` parameters, `INSERT … ON CONFLICT … DO UPDATE … WHERE`,
//! partial indexes, `RETURNING`. Each user's schemas differ only in type names (its
//! `migrations/sqlite` and `migrations/postgres`, given to [`Db::connect`] as a [`Schema`]).

#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};

/// Which server a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How durable a SQLite commit is (`PRAGMA synchronous`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Sync {
    /// fsync on every commit: an acknowledged redemption survives power loss.
    Full,
    /// fsync at checkpoints: survives a process crash, not power loss.
    Normal,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub backend: Backend,
    /// Every write goes through here. On SQLite it holds one connection, so writers queue in the
    /// pool instead of spinning on `SQLITE_BUSY`; each transaction still opens with
    /// `BEGIN IMMEDIATE`, which also keeps other processes out.
    writer: AnyPool,
    /// Reads (GET routes, reports); several connections read the WAL concurrently.
    reader: AnyPool,
}

pub type Tx = Transaction<'static, Any>;
pub type Row = AnyRow;

/// A user's migrations, one set per backend (`sqlx::migrate!("migrations/sqlite")`, …).
pub struct Schema {
    pub sqlite: Migrator,
    pub postgres: Migrator,
}

/// Prepared statements each connection keeps, unless the URL says otherwise. A batch writes
/// each of its sets in one statement whose text depends on the batch's size (one to
/// `--max-batch` rows): with sqlx's default of 100, those texts evicted each other and every
/// batch prepared its statements again (a round trip and a plan each).
const STATEMENT_CACHE: usize = 1024;

/// A PostgreSQL URL with the statement cache sized for batches, unless it sets one.
fn postgres_url(url: &str) -> String {
    if url.contains("statement-cache-capacity=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}statement-cache-capacity={STATEMENT_CACHE}")
}

impl Db {
    /// Opens the database a URL names (`sqlite://path`, `postgres://…`) and brings its schema
    /// up to date.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        sync: Sync,
        schema: &Schema,
    ) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(sqlx::Error::Configuration(
                format!("unsupported database URL `{url}`: use sqlite://PATH or postgres://…")
                    .into(),
            ));
        };
        let db = match backend {
            Backend::Sqlite => {
                private_file(url)?;
                let url = sqlite_url(url);
                let pragmas = match sync {
                    Sync::Full => "PRAGMA synchronous = FULL;",
                    Sync::Normal => "PRAGMA synchronous = NORMAL;",
                };
                let options = move || {
                    AnyPoolOptions::new()
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                conn.execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                                     PRAGMA foreign_keys = ON;",
                                )
                                .await?;
                                conn.execute(pragmas).await?;
                                Ok(())
                            })
                        })
                };
                let writer = options().max_connections(1).connect(&url).await?;
                // Create the file and switch it to WAL before readers open it.
                writer.execute("SELECT 1").await?;
                let reader = options()
                    .max_connections(max_connections.clamp(1, 8))
                    .connect(&url)
                    .await?;
                Db {
                    backend,
                    writer,
                    reader,
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(&postgres_url(url))
                    .await?;
                Db {
                    backend,
                    writer: pool.clone(),
                    reader: pool,
                }
            }
        };
        let migrator = match db.backend {
            Backend::Sqlite => &schema.sqlite,
            Backend::Postgres => &schema.postgres,
        };
        migrator
            .run(&db.writer)
            .await
            .map_err(|e| sqlx::Error::Migrate(Box::new(e)))?;
        Ok(db)
    }

    /// A write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock up front, so nothing
    /// read inside can go stale), the default `READ COMMITTED` on PostgreSQL, where every
    /// limit is a conditional update that re-checks the row it locks.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }

    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// `sqlite://path` with `mode=rwc` so that a missing file is created.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The database file holds redemptions, customers and addresses (the ledger), sessions and the
/// audit log (the console): readable by its owner only. A new file is created `0600`; an existing one is brought to `0600`. (SQLite gives its
/// `-wal` and `-shm` files the database file's permissions.)
fn private_file(url: &str) -> Result<(), sqlx::Error> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .filter(|p| !p.is_empty() && !p.contains(":memory:"));
    let Some(path) = path else {
        return Ok(());
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A failure worth retrying with the same request, and answered 503 when retries run out:
/// lock contention, a deadlock victim, a serialization failure, an exhausted or closed pool,
/// and a lost or refused connection (PostgreSQL restarting, a network cut, the server
/// shutting down). Nothing of the request was committed in any of these.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let code = d.code();
            let code = code.as_deref().unwrap_or("");
            // SQLite: BUSY, LOCKED, BUSY_SNAPSHOT, LOCKED_SHAREDCACHE. PostgreSQL: connection
            // exceptions (class 08), serialization failure, deadlock, too many connections, a
            // lock not available, a cancelled statement, the server shutting down or starting
            // up, and a database not accepting connections (55000).
            matches!(
                code,
                "5" | "6"
                    | "517"
                    | "261"
                    | "40001"
                    | "40P01"
                    | "53300"
                    | "55000"
                    | "55P03"
                    | "57014"
                    | "57P01"
                    | "57P02"
                    | "57P03"
            ) || code.starts_with("08")
        }
        _ => false,
    }
}

/// A unique index refused the row.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d.is_unique_violation(),
        _ => false,
    }
}

/// Parses `FromStr` text columns (states, policies) with a clear error.
pub fn parse_column<T: FromStr>(value: &str, column: &str) -> Result<T, sqlx::Error> {
    value.parse().map_err(|_| {
        sqlx::Error::Decode(format!("unexpected value `{value}` in column `{column}`").into())
    })
}

#[cfg(test)]
mod tests {
    use super::postgres_url;

    #[test]
    fn postgres_urls_get_a_statement_cache_for_batches_unless_they_set_one() {
        assert_eq!(
            postgres_url("postgres://u@h/db"),
            "postgres://u@h/db?statement-cache-capacity=1024"
        );
        assert_eq!(
            postgres_url("postgres://u@h/db?sslmode=require"),
            "postgres://u@h/db?sslmode=require&statement-cache-capacity=1024"
        );
        let own = "postgres://u@h/db?statement-cache-capacity=10";
        assert_eq!(postgres_url(own), own);
    }
}
