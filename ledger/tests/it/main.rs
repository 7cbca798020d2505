//! The ledger's integration tests: every case runs against SQLite and against a real
//! PostgreSQL server (`LEDGER_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! `scripts/postgres.sh` starts one when none is running).

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
