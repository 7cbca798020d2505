//! The project's one entry point: `cargo xtask <step>` (the alias is in `.cargo/config.toml`).
//!
//! ```text
//! cargo xtask setup              install what the project needs (idempotent: scripts/setup.sh)
//! cargo xtask gen                the fixtures the hosts read (native answers, signed edge
//!                                fixtures) and the fuzz seeds, from the corpus and the vectors
//! cargo xtask build [ARTIFACT]   wasm | console-wasm | edge | all (default all)
//! cargo xtask test [TIER]        fast | hosts | fuzz | all (default all)
//! cargo xtask demo               the full local demo on embedded defaults
//! ```
//!
//! The tiers: **fast** needs no service, no Node and no browser (formatting, lints native and
//! wasm32, the core's purity, `cargo test`); **hosts** runs what needs them (the ledger on
//! PostgreSQL, its API under schemathesis, the wasm package in Node and Chromium, the edge
//! Worker in workerd, the storefront in Chromium); **fuzz** fuzzes verification and parsing.
//!
//! One freshness rule for built artifacts ([`Artifact`]): an artifact is rebuilt when the
//! content hash of its declared inputs differs from the one recorded when it was last built, so
//! no test runs against a stale build. Cargo's own outputs keep cargo's rule (every step asks
//! cargo, which is a no-op when nothing changed). Nothing is installed outside `setup`: every
//! step that needs tools runs `setup` first, once per process tree.

mod artifact;
mod steps;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <step>
  setup              install what the project needs (idempotent)
  gen                fixtures the hosts read, and the fuzz seeds
  build [ARTIFACT]   wasm | console-wasm | edge | all (default)
  test [TIER]        fast | hosts | fuzz | all (default); FUZZ_SECONDS=60
  demo               the full local demo: ledger, edge Worker, storefront, console";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["setup"] => steps::setup(),
        ["gen"] => steps::gen(),
        ["build"] => steps::build("all"),
        ["build", what] => steps::build(what),
        ["test"] => steps::test("all"),
        ["test", tier] => steps::test(tier),
        ["demo"] => steps::demo(),
        ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
