//! The ledger's database: the shared layer (`promoseal-db`: SQLite or PostgreSQL, one writer on
//! SQLite, transient-error classification) with the ledger's schema. [`Db`] wraps the shared
//! handle so that the ledger's queries (`store.rs`, `analytics.rs`) can be its methods.

pub use promoseal_db::{is_transient, is_unique_violation, parse_column, Backend, Row, Sync, Tx};

/// The ledger's tables, per backend (`migrations/sqlite`, `migrations/postgres`).
pub static SCHEMA: promoseal_db::Schema = promoseal_db::Schema {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

/// The ledger's database handle.
#[derive(Clone, Debug)]
pub struct Db(promoseal_db::Db);

impl std::ops::Deref for Db {
    type Target = promoseal_db::Db;
    fn deref(&self) -> &promoseal_db::Db {
        &self.0
    }
}

/// Opens the ledger's database and brings its schema up to date.
pub async fn connect(url: &str, max_connections: u32, sync: Sync) -> Result<Db, sqlx::Error> {
    promoseal_db::Db::connect(url, max_connections, sync, &SCHEMA)
        .await
        .map(Db)
}
