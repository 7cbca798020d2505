//! The evaluator's JavaScript API: the npm package `@promoseal/evaluator` (`npm/`), built by
//! `cargo xtask build wasm` with wasm-pack for browsers (`--target web`) and Node
//! (`--target nodejs`). A thin layer over the pure core `promoseal-evaluator`: each export
//! decodes its arguments, calls one core function and encodes the answer.
//!
//! Every call returns an outcome, `{ok: true, value}` or `{ok: false, error: {code, message, …}}`:
//! bad input of any kind, wrong argument types included, is an answer, never an exception or a
//! trap. The TypeScript declarations (`npm/types.d.ts`) are generated from the Rust types of
//! the core and of [`api`]; a test fails when the checked-in file differs.

pub mod api;
#[cfg(test)]
mod declarations;
#[cfg(target_arch = "wasm32")]
mod wasm;
