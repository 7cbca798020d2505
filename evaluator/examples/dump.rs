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
