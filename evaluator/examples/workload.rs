//! Writes the benchmark workloads as files, for hosts that cannot run the Rust generators (the
//! Node harness in `evaluator-wasm/npm/bench/`): the typical shop's 1,000-promotion payload and
//! its 20-line cart (the `evaluate` bench), the `combinable` shop's (Medusa's semantics: every
//! promotion combines with every other), an empty bundle (the fixed cost of an evaluation), and
//! the typical shop signed, with its trust root (the `verify` bench). `cargo run --release -p promoseal-evaluator --example workload -- DIR`

// Benchmark code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../benches/verify.rs"]
#[allow(dead_code)]
mod verify;

use verify::gen::{self, Shop};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: workload DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        ("bundle-1000.json", gen::bundle(Shop::Typical, 1_000)),
        (
            "bundle-combinable-1000.json",
            gen::bundle(Shop::Combinable, 1_000),
        ),
        ("bundle-0.json", gen::bundle(Shop::Typical, 0)),
        (
            "cart-20.json",
            serde_json::to_vec(&gen::input(Shop::Typical, 20)).unwrap(),
        ),
        ("signed-1000.env", verify::signed(1_000)),
        ("root.env", verify::root_envelope(true)),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
