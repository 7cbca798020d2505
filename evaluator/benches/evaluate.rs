//! Evaluation speed: carts of 1 / 20 / 200 lines against bundles of 10 / 100 / 1,000 promotions.
//!
//! The `typical` shop is deterministic and synthetic: 5,000 SKUs in 200 categories and 50 brands.
//! Of its promotions 88 % are product discounts on 1–5 SKUs, 7 % on a category, 3.5 % on a
//! brand, 1 % order discounts (a third behind a code) and 0.5 % shipping offers; product discounts
//! usually combine with order and shipping discounts but not with each other, as shops set them.
//! The `dense` shop is a stress case: 2,000 SKUs in 50 categories, 28 % of promotions on whole
//! categories or brands with random stacking flags, so a 20-line cart has ~130 eligible
//! promotions and the combination search runs into its step budget.
//! The `combinable` shop is Medusa's workload, declared on Medusa's semantics (it applies every
//! matching promotion): the typical shop's catalogue, percentage and amount-off promotions only
//! (by SKU, category or brand, or off the order, some behind a minimum subtotal), every one
//! combining with every other, so the best combination is all of them.
//! Run: `cargo bench -p promoseal-evaluator --bench evaluate`.
// Test and benchmark code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use promoseal_evaluator::{evaluate, parse_input, to_json, Bundle, EvaluationInput};
use serde_json::{json, Value};
use std::hint::black_box;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn money(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn reward(rng: &mut Rng, i: usize) -> Value {
    match i % 8 {
        0 | 1 => json!({ "type": "percentOff", "percent": (5 + rng.below(30)).to_string() }),
        2 => json!({ "type": "amountOff", "amount": money(100 + rng.below(900)), "per": "unit" }),
        3 => json!({ "type": "amountOff", "amount": money(500 + rng.below(2000)), "per": "order" }),
        4 => {
            json!({ "type": "buyXGetY", "buyQuantity": 2, "getQuantity": 1, "maxApplications": 2 })
        }
        5 => json!({ "type": "tiered", "basis": "spend", "tiers": [
                { "minSpend": "50.00", "percent": "5" }, { "minSpend": "150.00", "percent": "10" } ] }),
        6 => json!({ "type": "volume", "tiers": [ { "minQuantity": 3, "percent": "10" } ] }),
        _ => json!({ "type": "fixedPrice", "price": money(500 + rng.below(2000)) }),
    }
}

#[derive(Clone, Copy)]
pub enum Shop {
    Typical,
    Dense,
    Combinable,
}

impl Shop {
    fn skus(self) -> u64 {
        match self {
            Shop::Typical | Shop::Combinable => 5000,
            Shop::Dense => 2000,
        }
    }
    fn categories(self) -> u64 {
        match self {
            Shop::Typical | Shop::Combinable => 200,
            Shop::Dense => 50,
        }
    }
    fn brands(self) -> u64 {
        match self {
            Shop::Typical | Shop::Combinable => 50,
            Shop::Dense => 20,
        }
    }
}

fn sku_list(rng: &mut Rng, shop: Shop) -> Value {
    let n = 1 + rng.below(5);
    let skus: Vec<String> = (0..n)
        .map(|_| format!("SKU-{}", rng.below(shop.skus())))
        .collect();
    json!({ "skus": skus })
}

/// What a typical shop's product discount targets: 88 % SKUs, 7 % a category, the rest a brand.
fn typical_items(rng: &mut Rng, shop: Shop, kind: u64) -> Value {
    if kind < 88 {
        sku_list(rng, shop)
    } else if kind < 95 {
        json!({ "categories": [format!("cat-{}", rng.below(shop.categories()))] })
    } else {
        json!({ "brands": [format!("brand-{}", rng.below(shop.brands()))] })
    }
}

pub fn bundle(shop: Shop, promotions: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let classes = ["product", "order", "shipping"];
    let promos: Vec<Value> = (0..promotions)
        .map(|i| {
            let kind = rng.below(100);
            let mut p = json!({
                "id": format!("promo-{i:05}"),
                "name": format!("Promotion {i}"),
                "priority": rng.below(10),
            });
            match shop {
                Shop::Dense => {
                    p["items"] = if kind < 70 {
                        sku_list(&mut rng, shop)
                    } else if kind < 90 {
                        json!({ "categories": [format!("cat-{}", rng.below(shop.categories()))] })
                    } else if kind < 98 {
                        json!({ "brands": [format!("brand-{}", rng.below(shop.brands()))] })
                    } else {
                        json!({})
                    };
                    p["reward"] = reward(&mut rng, i);
                    let combines: Vec<&str> = classes.iter().copied().filter(|_| rng.below(2) == 0).collect();
                    p["stacking"] = json!({ "combinesWith": combines });
                    if kind >= 98 && i % 2 == 0 {
                        p["codeSet"] = json!("vip");
                    }
                    if rng.below(10) == 0 {
                        p["stacking"]["group"] = json!(format!("group-{}", rng.below(5)));
                    }
                }
                Shop::Combinable => {
                    if kind < 98 {
                        p["items"] = typical_items(&mut rng, shop, kind);
                        p["reward"] = if i % 2 == 0 {
                            json!({ "type": "percentOff", "percent": (5 + rng.below(30)).to_string() })
                        } else {
                            json!({ "type": "amountOff", "amount": money(100 + rng.below(900)), "per": "unit" })
                        };
                    } else {
                        p["reward"] = if i % 2 == 0 {
                            json!({ "type": "amountOff", "amount": money(500 + rng.below(2000)), "per": "order" })
                        } else {
                            json!({ "type": "percentOff", "percent": "10", "on": "order" })
                        };
                    }
                    p["stacking"] = json!({ "combinesWith": classes });
                }
                Shop::Typical => {
                    if kind < 98 || (kind == 98 && i % 2 == 0) {
                        p["items"] = typical_items(&mut rng, shop, kind);
                        p["reward"] = reward(&mut rng, i);
                        let combines = match rng.below(10) {
                            0 => json!([]),
                            1 | 2 => json!(["product", "order", "shipping"]),
                            _ => json!(["order", "shipping"]),
                        };
                        p["stacking"] = json!({ "combinesWith": combines });
                    } else if kind < 99 {
                        p["reward"] = if i % 2 == 0 {
                            json!({ "type": "amountOff", "amount": money(500 + rng.below(2000)), "per": "order" })
                        } else {
                            json!({ "type": "percentOff", "percent": "10", "on": "order" })
                        };
                        p["stacking"] = json!({ "combinesWith": ["product", "shipping"] });
                        if i % 3 == 0 {
                            p["codeSet"] = json!("vip");
                        }
                    } else {
                        p["reward"] = json!({ "type": "shippingOff", "percent": "100" });
                        p["stacking"] = json!({ "combinesWith": ["product", "order"] });
                    }
                }
            }
            if rng.below(3) == 0 {
                p["conditions"] = json!({ "minSubtotal": money(1000 + rng.below(20000)) });
            }
            p
        })
        .collect();
    serde_json::to_vec(&json!({
        "format": 1, "bundleId": "bench", "audience": "edge", "version": 1,
        "issuedAt": "2026-01-01T00:00:00Z", "expiresAt": "2027-01-01T00:00:00Z",
        "currency": "USD",
        "codeSets": [ { "id": "vip", "codes": ["VIP-ONLY"] } ],
        "promotions": promos,
    }))
    .unwrap()
}

pub fn input(shop: Shop, lines: usize) -> EvaluationInput {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let lines: Vec<Value> = (0..lines)
        .map(|i| {
            let sku = rng.below(shop.skus());
            json!({
                "id": format!("line-{i}"),
                "sku": format!("SKU-{sku}"),
                "categories": [format!("cat-{}", sku % shop.categories())],
                "brand": format!("brand-{}", sku % shop.brands()),
                "unitPrice": money(199 + rng.below(9800)),
                "quantity": 1 + rng.below(4),
                "taxRate": "8.875",
            })
        })
        .collect();
    serde_json::from_value(json!({
        "cart": { "currency": "USD", "lines": lines },
        "customer": { "id": "c1", "tier": "gold", "ordersCount": 3 },
        "context": { "now": "2026-06-01T12:00:00Z", "channel": "web",
                     "shipping": { "method": "standard", "amount": "5.99", "country": "US" } },
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluate");
    for promotions in [10, 100, 1_000] {
        let bundle = Bundle::from_json(&bundle(Shop::Typical, promotions)).unwrap();
        for lines in [1, 20, 200] {
            let input = input(Shop::Typical, lines);
            group.throughput(Throughput::Elements(1));
            group.bench_with_input(
                BenchmarkId::new(
                    format!("typical-{promotions}-promotions"),
                    format!("{lines}-lines"),
                ),
                &input,
                |b, input| b.iter(|| evaluate(black_box(&bundle), black_box(input)).unwrap()),
            );
        }
    }
    // Medusa's semantics: every promotion combines, so all the eligible ones apply.
    let combinable = Bundle::from_json(&bundle(Shop::Combinable, 1_000)).unwrap();
    let cart20 = input(Shop::Combinable, 20);
    group.bench_function("combinable-1000-promotions/20-lines", |b| {
        b.iter(|| evaluate(black_box(&combinable), black_box(&cart20)).unwrap())
    });
    let empty = Bundle::from_json(&bundle(Shop::Typical, 0)).unwrap();
    group.bench_function("typical-0-promotions/20-lines", |b| {
        b.iter(|| evaluate(black_box(&empty), black_box(&cart20)).unwrap())
    });
    let dense = Bundle::from_json(&bundle(Shop::Dense, 1_000)).unwrap();
    let input20 = input(Shop::Dense, 20);
    group.bench_function("dense-1000-promotions/20-lines", |b| {
        b.iter(|| evaluate(black_box(&dense), black_box(&input20)).unwrap())
    });
    group.finish();

    // What a binding pays per request: parse the input JSON, evaluate, serialize the answer
    // (the 1,000-promotion why-not list included).
    let mut group = c.benchmark_group("json");
    let compiled = Bundle::from_json(&bundle(Shop::Typical, 1_000)).unwrap();
    let bytes = serde_json::to_vec(&input(Shop::Typical, 20)).unwrap();
    group.bench_function("typical-1000-promotions/20-lines", |b| {
        b.iter(|| {
            let input = parse_input(black_box(&bytes)).unwrap();
            to_json(&evaluate(&compiled, &input).unwrap()).unwrap()
        })
    });
    // The fixed cost: an empty bundle still parses the input, builds the lines and answers.
    let empty = Bundle::from_json(&bundle(Shop::Typical, 0)).unwrap();
    group.bench_function("typical-0-promotions/20-lines", |b| {
        b.iter(|| {
            let input = parse_input(black_box(&bytes)).unwrap();
            to_json(&evaluate(&empty, &input).unwrap()).unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("parse");
    for promotions in [10, 1_000] {
        let bytes = bundle(Shop::Typical, promotions);
        group.bench_function(format!("bundle-{promotions}-promotions"), |b| {
            b.iter(|| Bundle::from_json(black_box(&bytes)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
