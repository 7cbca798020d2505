//! Signed bundles: verify + parse for 10 / 1,000 / 10,000 promotions (every promotion approved by
//! marketing in one batch, as a real root demands; and the 1,000 approved one by one, a batch
//! each) and for an imported list of 1,000,000 codes; one code check per kind of code set;
//! signing.
//! Run: `cargo bench -p promoseal-evaluator --bench verify`.
// Benchmark code may panic: the no-panic lints guard library code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "evaluate.rs"]
#[allow(dead_code)]
pub mod gen;

use std::hint::black_box;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use gen::Shop;
use promoseal_evaluator::codes::{Campaign, CodeSecret};
use promoseal_evaluator::model::{Audience, PromotionSpec};
use promoseal_evaluator::seal::{
    open_bundle, Envelope, EnvelopeType, SigningIdentity, TrustRoot, VerifyOptions,
};
use promoseal_evaluator::time::Instant;
use serde_json::{json, Value};

fn release() -> SigningIdentity {
    SigningIdentity::from_seed("release-1", [11; 32])
}
fn marketing() -> SigningIdentity {
    SigningIdentity::from_seed("marketing-1", [21; 32])
}

/// The benchmark's trust root envelope: release and marketing keys, marketing approval
/// required (or no approval rules at all).
pub fn root_envelope(approvals: bool) -> Vec<u8> {
    let root_key = SigningIdentity::from_seed("root-1", [1; 32]);
    let payload = json!({
        "format": 1, "version": 1,
        "keys": [
            {"id": "root-1", "publicKey": root_key.public_key(), "roles": ["root"]},
            {"id": "release-1", "publicKey": release().public_key(), "roles": ["release"]},
            {"id": "marketing-1", "publicKey": marketing().public_key(), "roles": ["marketing"]},
        ],
        "approvals": {"required": if approvals { vec!["marketing"] } else { vec![] }}
    });
    let bytes = serde_json::to_vec(&payload).unwrap();
    Envelope::seal(EnvelopeType::Root, &bytes, &[&root_key])
}

fn root(approvals: bool) -> Arc<TrustRoot> {
    Arc::new(TrustRoot::from_envelope(&root_envelope(approvals)).unwrap())
}

/// The benchmark shop's signed edge bundle of `n` promotions (approved in one batch).
pub fn signed(n: usize) -> Vec<u8> {
    Envelope::seal(EnvelopeType::Bundle, &payload(n, |_| {}), &[&release()])
}

/// The benchmark shop's payload with every promotion approved by marketing in one batch, and
/// more fields.
fn payload(promotions: usize, extra: impl FnOnce(&mut Value)) -> Vec<u8> {
    payload_with(promotions, true, extra)
}

/// The payload, its promotions approved in one batch or one by one.
fn payload_with(promotions: usize, batch: bool, extra: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut p: Value = serde_json::from_slice(&gen::bundle(Shop::Typical, promotions)).unwrap();
    let m = marketing();
    let specs: Vec<PromotionSpec> = p["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| serde_json::from_value(x.clone()).unwrap())
        .collect();
    let approvals: Vec<Value> = if batch {
        let all: Vec<&PromotionSpec> = specs.iter().collect();
        vec![serde_json::to_value(m.approve_all("USD", &all)).unwrap()]
    } else {
        specs
            .iter()
            .map(|spec| serde_json::to_value(m.approve("USD", spec)).unwrap())
            .collect()
    };
    p["approvals"] = Value::Array(approvals);
    // Signed bundles carry listed codes as keyed hashes, never plaintext.
    let secret = CodeSecret::from_bytes([77; 32]);
    for set in p["codeSets"].as_array_mut().into_iter().flatten() {
        let mut hashes: Vec<[u8; 12]> = set["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| secret.hash(c.as_str().unwrap()))
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        *set = json!({"id": set["id"], "hashes": STANDARD.encode(hashes.concat())});
    }
    p["expiresAt"] = json!("2027-01-01T00:00:00Z");
    extra(&mut p);
    serde_json::to_vec(&p).unwrap()
}

fn opts() -> VerifyOptions {
    VerifyOptions::new(
        Audience::Edge,
        Instant::parse("2026-06-01T00:00:00Z").unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    let with_rules = root(true);
    let mut group = c.benchmark_group("verify");
    group.sample_size(10);
    for n in [10, 1_000, 10_000] {
        let env = signed(n);
        open_bundle(&env, &with_rules, &opts()).unwrap();
        group.bench_function(format!("{n}-promotions"), |b| {
            b.iter(|| open_bundle(black_box(&env), &with_rules, &opts()).unwrap())
        });
    }
    // The same 1,000 promotions approved one by one: a signature check per promotion.
    let one_by_one = Envelope::seal(
        EnvelopeType::Bundle,
        &payload_with(1_000, false, |_| {}),
        &[&release()],
    );
    open_bundle(&one_by_one, &with_rules, &opts()).unwrap();
    group.bench_function("1000-promotions-approved-one-by-one", |b| {
        b.iter(|| open_bundle(black_box(&one_by_one), &with_rules, &opts()).unwrap())
    });
    // The share of the approval checks: the same 1,000 promotions under a root without rules.
    let no_rules = root(false);
    let env = signed(1_000);
    group.bench_function("1000-promotions-no-approval-rules", |b| {
        b.iter(|| open_bundle(black_box(&env), &no_rules, &opts()).unwrap())
    });

    // 1,000,000 imported codes as sorted keyed hashes, behind one promotion.
    let secret = CodeSecret::from_bytes([77; 32]);
    let mut hashes: Vec<[u8; 12]> = (0..1_000_000u32)
        .map(|i| secret.hash(&format!("IMPORTED-{i:07}")))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    let blob = STANDARD.encode(hashes.concat());
    let big = payload(10, |p| {
        p["codeSets"] = json!([{"id": "imported", "hashes": blob}]);
        p["promotions"][0]["codeSet"] = json!("imported");
    });
    // The promotion changed (it now needs a code), so approve the batch again.
    let big = {
        let mut p: Value = serde_json::from_slice(&big).unwrap();
        let specs: Vec<PromotionSpec> = serde_json::from_value(p["promotions"].clone()).unwrap();
        let all: Vec<&PromotionSpec> = specs.iter().collect();
        p["approvals"][0] = serde_json::to_value(marketing().approve_all("USD", &all)).unwrap();
        serde_json::to_vec(&p).unwrap()
    };
    let env = Envelope::seal(EnvelopeType::Bundle, &big, &[&release()]);
    println!("1,000,000-code bundle: {} bytes", env.len());
    open_bundle(&env, &with_rules, &opts()).unwrap();
    group.bench_function("1000000-imported-codes", |b| {
        b.iter(|| open_bundle(black_box(&env), &with_rules, &opts()).unwrap())
    });
    group.finish();

    // One code check, as the evaluator runs it: hash + binary search, or tag recomputation.
    let mut group = c.benchmark_group("code-check");
    group.bench_function("keyed-hash-in-1000000", |b| {
        b.iter(|| {
            let h = secret.hash(black_box("imported-0424242"));
            hashes.binary_search(&h).is_ok()
        })
    });
    let campaign = Campaign::new("spring", "SPR-", "", 1_000_000, 12).unwrap();
    let code = secret.generate(&campaign, 424_242).unwrap();
    group.bench_function("generated", |b| {
        b.iter(|| secret.check(&campaign, black_box(&code)).is_some())
    });
    group.finish();

    let mut group = c.benchmark_group("sign");
    let bytes = payload(1_000, |_| {});
    group.bench_function("bundle-1000-promotions", |b| {
        b.iter(|| Envelope::seal(EnvelopeType::Bundle, black_box(&bytes), &[&release()]))
    });
    let spec: PromotionSpec = serde_json::from_value(
        serde_json::from_slice::<Value>(&bytes).unwrap()["promotions"][0].clone(),
    )
    .unwrap();
    group.bench_function("approval", |b| {
        b.iter(|| marketing().approve("USD", black_box(&spec)))
    });
    let specs: Vec<PromotionSpec> = serde_json::from_value(
        serde_json::from_slice::<Value>(&bytes).unwrap()["promotions"].clone(),
    )
    .unwrap();
    let all: Vec<&PromotionSpec> = specs.iter().collect();
    group.bench_function("approval-batch-1000", |b| {
        b.iter(|| marketing().approve_all("USD", black_box(&all)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
