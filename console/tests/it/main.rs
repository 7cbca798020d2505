//! The console's API end to end, in-process on a real socket, on SQLite and on PostgreSQL
//! (the PostgreSQL half in the hosts tier: `cargo xtask test hosts`).

// Test code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codes;
mod common;
mod flows;
mod refusals;
