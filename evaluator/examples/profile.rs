//! Evaluates the benchmark's typical 20-line cart against 1,000 promotions N times (or against
//! the `combinable` shop's, or an `empty` bundle), for profilers; with `json`, from the input's
//! JSON bytes to the answer's, as a binding does; or opens the signed 1,000-promotion bundle
//! (`open`: verify, parse, compile) N times:
//! `valgrind --tool=callgrind target/release/examples/profile 200 [typical|combinable|empty|open] [json]`
//! or `perf record`.

// Benchmark code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

// The workloads of both benchmarks (`verify` includes the evaluate benchmark's generator).
#[path = "../benches/verify.rs"]
#[allow(dead_code)]
mod verify;
use verify::gen;
fn main() {
    use gen::Shop;
    let n: usize = std::env::args().nth(1).map_or(1, |a| a.parse().unwrap());
    if std::env::args().nth(2).as_deref() == Some("open") {
        use promoseal_evaluator::seal::{open_bundle, TrustRoot, VerifyOptions};
        let root =
            std::sync::Arc::new(TrustRoot::from_envelope(&verify::root_envelope(true)).unwrap());
        let env = verify::signed(1000);
        let opts = VerifyOptions::new(
            promoseal_evaluator::model::Audience::Edge,
            promoseal_evaluator::time::Instant::parse("2026-06-01T00:00:00Z").unwrap(),
        );
        for _ in 0..n {
            std::hint::black_box(open_bundle(&env, &root, &opts).unwrap());
        }
        return;
    }
    let (shop, promotions) = match std::env::args().nth(2).as_deref() {
        None | Some("typical") => (Shop::Typical, 1000),
        Some("combinable") => (Shop::Combinable, 1000),
        Some("empty") => (Shop::Typical, 0),
        Some(other) => panic!("no workload `{other}`: typical, combinable or empty"),
    };
    let bundle = promoseal_evaluator::Bundle::from_json(&gen::bundle(shop, promotions)).unwrap();
    let input = gen::input(shop, 20);
    if std::env::args().nth(3).as_deref() == Some("json") {
        let bytes = serde_json::to_vec(&input).unwrap();
        for _ in 0..n {
            let input = promoseal_evaluator::parse_input(std::hint::black_box(&bytes)).unwrap();
            let answer = promoseal_evaluator::evaluate(&bundle, &input).unwrap();
            std::hint::black_box(promoseal_evaluator::to_json(&answer).unwrap());
        }
        return;
    }
    for _ in 0..n {
        std::hint::black_box(promoseal_evaluator::evaluate(&bundle, &input).unwrap());
    }
}
