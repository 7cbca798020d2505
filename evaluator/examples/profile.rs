//! Evaluates the benchmark's typical 20-line cart against 1,000 promotions N times, for
//! profilers: `valgrind --tool=callgrind target/release/examples/profile 200` or `perf record`.

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
    let bundle = promoseal_evaluator::Bundle::from_json(&gen::bundle(Shop::Typical, 1000)).unwrap();
    let input = gen::input(Shop::Typical, 20);
    let n: usize = std::env::args().nth(1).map_or(1, |a| a.parse().unwrap());
    for _ in 0..n {
        std::hint::black_box(promoseal_evaluator::evaluate(&bundle, &input).unwrap());
    }
}
