//! The ledger's integration tests: every case runs against SQLite and against a real
//! PostgreSQL server (`LEDGER_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! `cargo xtask test hosts` starts one when none is running). Plain `cargo test` lists the
//! PostgreSQL cases as ignored, naming the tier that runs them, so it passes after a clone on a
//! machine without the server; the hosts tier runs them (`-- --ignored`).

// Test code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod concurrency;
mod crash;
mod flows;
mod trust;
