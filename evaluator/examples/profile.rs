//! Evaluates the benchmark's typical 20-line cart against 1,000 promotions N times (or against
//! the `combinable` shop's, or an `empty` bundle), for profilers:
//! `valgrind --tool=callgrind target/release/examples/profile 200 [typical|combinable|empty]`
//! or `perf record`.

// Benchmark code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../benches/evaluate.rs"]
#[allow(dead_code)]
mod gen;
fn main() {
    use gen::Shop;
    let n: usize = std::env::args().nth(1).map_or(1, |a| a.parse().unwrap());
    let (shop, promotions) = match std::env::args().nth(2).as_deref() {
        None | Some("typical") => (Shop::Typical, 1000),
        Some("combinable") => (Shop::Combinable, 1000),
        Some("empty") => (Shop::Typical, 0),
        Some(other) => panic!("no workload `{other}`: typical, combinable or empty"),
    };
    let bundle = promoseal_evaluator::Bundle::from_json(&gen::bundle(shop, promotions)).unwrap();
    let input = gen::input(shop, 20);
    for _ in 0..n {
        std::hint::black_box(promoseal_evaluator::evaluate(&bundle, &input).unwrap());
    }
}
