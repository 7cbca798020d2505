//! The Promoseal edge: a Cloudflare Worker near the shopper.
//!
//! It verifies the signed bundles from KV once per isolate, prices carts, checks codes and
//! issues code grants, serves the public storefront bundle, and forwards redemptions to the
//! origin ledger, keeping what it cannot deliver as dead letters until it can. `README.md` in
//! this folder is the reference: routes, configuration, storage, limits.
//!
//! The crate has two halves. Everything decided here (configuration, errors and the uniform
//! refusal, CORS, token buckets and client names, bundle admission, code checks and which codes a
//! public evaluation admits, preparing redemptions, the dead-letter schedule) is
//! plain Rust over the evaluator, unit-tested natively. `binding` (wasm32 only) is the thin
//! part that talks to the Workers runtime: requests, KV, Durable Objects, timers, `fetch`.

pub mod api;
pub mod bucket;
pub mod codes;
pub mod config;
pub mod cors;
pub mod outbox;
pub mod redeem;
pub mod slots;
#[cfg(test)]
mod testing;

#[cfg(target_arch = "wasm32")]
mod binding;
