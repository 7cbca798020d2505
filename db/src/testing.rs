//! A fresh, empty test database of either kind (feature `testing`), shared by the ledger's and
//! the console's tests: SQLite in a temporary folder, or a new PostgreSQL database on the server
//! `LEDGER_TEST_POSTGRES` names (default `postgres://postgres@127.0.0.1:5432/postgres`; the
//! hosts tier, `cargo xtask test hosts`, starts one when none is running).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection as _;

use crate::Backend;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database of one kind; dropped (file removed, database dropped) at the end.
pub struct TestDb {
    pub url: String,
    admin: Option<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl TestDb {
    /// PostgreSQL: the admin URL and this database's name.
    pub fn admin(&self) -> Option<(&str, &str)> {
        self.admin.as_ref().map(|(a, n)| (a.as_str(), n.as_str()))
    }

    pub async fn new(backend: Backend) -> TestDb {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}_{}", std::process::id(), n);
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("promoseal-test-{tag}"));
                std::fs::create_dir_all(&dir).unwrap();
                TestDb {
                    url: format!("sqlite://{}/ledger.db", dir.display()),
                    admin: None,
                    dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("LEDGER_TEST_POSTGRES")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("promoseal_test_{tag}");
                sqlx::any::install_default_drivers();
                let mut c = sqlx::AnyConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL at {admin}: {e} (cargo xtask test hosts starts one)")
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    admin: Some((admin.clone(), name)),
                    dir: None,
                }
            }
        }
    }

    /// A handle on the database `url` another `TestDb` owns: `drop_now` leaves it alone.
    pub fn borrowed(url: &str) -> TestDb {
        TestDb {
            url: url.to_string(),
            admin: None,
            dir: None,
        }
    }

    pub async fn drop_now(&self) {
        if let Some((admin, name)) = &self.admin {
            if let Ok(mut c) = sqlx::AnyConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs each named async test case (`async fn case(backend: Backend)`) on both databases: the
/// SQLite case always, the PostgreSQL case in the hosts tier (`cargo test` lists it as ignored,
/// naming the tier; `cargo xtask test hosts` runs it with `--ignored`).
#[macro_export]
macro_rules! both {
    ($($case:ident),* $(,)?) => {
        $(mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$case($crate::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[ignore = "needs PostgreSQL: the hosts tier runs it (cargo xtask test hosts)"]
            async fn postgres() {
                super::$case($crate::Backend::Postgres).await
            }
        })*
    };
}
