//! Writes what the Worker tests (`edge-worker/test/edge.test.mjs`) run against the built Worker
//! in workerd: a trust root with an edge key and a shop key, a code secret, the `shop` bundles
//! (versions 1 and 2, edge and storefront) with every kind of code set, customer claims signed
//! by the shop key, and every corpus case signed as its own edge bundle with the native answer
//! to its input, byte for byte. Written to
//! `target/tmp/edge/fixtures.json` by `cargo test`, so the native side is this build's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use promoseal_evaluator::codes::{encode_hex, Campaign, CodeSecret};
use promoseal_evaluator::model::{Audience, BundlePayload};
use promoseal_evaluator::seal::{
    open_bundle, CustomerClaims, Envelope, EnvelopeType, SigningIdentity, TrustRoot, VerifyOptions,
};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{evaluate, parse_input, parse_payload, to_json};
use serde_json::{json, Value};

const SECRET: [u8; 32] = [9; 32];
/// The shop backend's key (role `shop`): it signs customer claims.
const SHOP_KEY: (&str, u8) = ("shop-1", 7);

fn key(id: &str, seed: u8) -> SigningIdentity {
    SigningIdentity::from_seed(id, [seed; 32])
}

fn root() -> Vec<u8> {
    let payload = json!({
        "format": 1, "version": 1,
        "keys": [
            {"id": "root-1", "publicKey": key("root-1", 1).public_key(), "roles": ["root"]},
            {"id": "release-1", "publicKey": key("release-1", 2).public_key(), "roles": ["release"]},
            {"id": "edge-1", "publicKey": key("edge-1", 3).public_key(), "roles": ["edge"]},
            {"id": SHOP_KEY.0, "publicKey": key(SHOP_KEY.0, SHOP_KEY.1).public_key(), "roles": ["shop"]},
        ],
    });
    Envelope::seal(
        EnvelopeType::Root,
        payload.to_string().as_bytes(),
        &[&key("root-1", 1)],
    )
}

fn seal(payload: &[u8]) -> String {
    STANDARD.encode(Envelope::seal(
        EnvelopeType::Bundle,
        payload,
        &[&key("release-1", 2)],
    ))
}

fn rfc3339(t: i64) -> String {
    Instant(t).to_string()
}

fn hashes(secret: &CodeSecret, codes: &[&str]) -> String {
    let mut h: Vec<[u8; 12]> = codes.iter().map(|c| secret.hash(c)).collect();
    h.sort();
    STANDARD.encode(h.concat())
}

/// The generated single-use campaign: `VIP-` + 2 serial + 8 tag characters.
fn vip_campaign() -> Campaign {
    Campaign::new("vip", "VIP-", "", 1000, 10).unwrap()
}

/// A customer claim signed by the shop key, live for the test run.
fn claim(customer: Value, now: i64) -> String {
    key(SHOP_KEY.0, SHOP_KEY.1).issue_customer_claim(&CustomerClaims {
        customer: serde_json::from_value(customer).unwrap(),
        issued_at: Instant(now - 300),
        expires_at: Instant(now + 3300),
    })
}

/// The shop: one automatic promotion and one per kind of code (a generated single-use
/// campaign, a private promotion).
fn shop(version: u64, now: i64) -> Value {
    let secret = CodeSecret::from_bytes(SECRET);
    let campaign = Campaign::new("spring", "SPR-", "", 1000, 10).unwrap();
    let once: Vec<String> = (1..=5).map(|i| format!("ONCE-{i:04}")).collect();
    let once: Vec<&str> = once.iter().map(String::as_str).collect();
    let pct = |p: &str| json!({"type": "percentOff", "percent": p});
    let stack = json!({"combinesWith": ["product", "order", "shipping"]});
    let promo = |id: &str, reward: Value| {
        json!({"id": id, "name": format!("{id} offer"), "items": {"categories": ["shoes"]},
               "reward": reward, "stacking": stack})
    };
    let mut welcome = promo("welcome", pct("10"));
    welcome["codeSet"] = json!("named");
    let mut once_promo = promo("once", pct("20"));
    once_promo["codeSet"] = json!("once");
    once_promo["limits"] = json!({"singleUseCodes": true});
    let mut spring = promo("spring", pct("5"));
    spring["codeSet"] = json!("spring");
    let mut ended = promo("ended", pct("15"));
    ended["codeSet"] = json!("old");
    ended["endsAt"] = json!(rfc3339(now - 86_400));
    let mut gold = promo("gold", pct("25"));
    gold["codeSet"] = json!("gold");
    gold["conditions"] = json!({"customerTiers": ["gold"]});
    let mut vip = promo("vip", pct("30"));
    vip["codeSet"] = json!("vip");
    vip["limits"] = json!({"singleUseCodes": true});
    let mut staff = promo("staff", pct("50"));
    staff["codeSet"] = json!("staff");
    staff["private"] = json!(true);
    let mut socks = promo("socks", pct(if version == 1 { "5" } else { "6" }));
    socks["items"] = json!({"categories": ["socks"]});
    json!({
        "format": 1, "bundleId": "shop", "audience": "edge", "version": version,
        "issuedAt": rfc3339(now - 3600), "expiresAt": rfc3339(now + 30 * 86_400),
        "currency": "USD",
        "codeSets": [
            {"id": "named", "hashes": hashes(&secret, &["WELCOME10"])},
            {"id": "once", "hashes": hashes(&secret, &once)},
            {"id": "old", "hashes": hashes(&secret, &["OLD15"])},
            {"id": "gold", "hashes": hashes(&secret, &["GOLD25"])},
            {"id": "spring", "generated": campaign.spec()},
            {"id": "vip", "generated": vip_campaign().spec()},
            {"id": "staff", "hashes": hashes(&secret, &["STAFF50"])},
        ],
        "promotions": [welcome, once_promo, spring, ended, gold, vip, staff, socks],
    })
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

fn corpus_cases() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "json"))
        {
            let name = f
                .strip_prefix(corpus_dir())
                .unwrap()
                .to_string_lossy()
                .to_string();
            out.push((
                name,
                serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap(),
            ));
        }
    }
    out
}

fn result(r: Result<String, promoseal_evaluator::Error>) -> Value {
    match r {
        Ok(json) => json!({"ok": true, "json": json}),
        Err(e) => json!({"ok": false, "code": e.code(), "message": e.to_string()}),
    }
}

#[test]
fn write_edge_fixtures() {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let root_bytes = root();
    let trust = Arc::new(TrustRoot::from_envelope(&root_bytes).unwrap());
    let secret = CodeSecret::from_bytes(SECRET);

    let mut shop_bundles = serde_json::Map::new();
    for version in [1, 2] {
        let payload = serde_json::to_vec(&shop(version, now)).unwrap();
        let parsed: BundlePayload = parse_payload(&payload).unwrap();
        let storefront = serde_json::to_vec(&parsed.storefront()).unwrap();
        shop_bundles.insert(format!("edge-v{version}"), json!(seal(&payload)));
        shop_bundles.insert(format!("storefront-v{version}"), json!(seal(&storefront)));
    }
    let campaign = Campaign::new("spring", "SPR-", "", 1000, 10).unwrap();

    // Every corpus case as its own edge bundle `corpus-<n>`, valid on today's clock; the
    // expected answer is this build's, from the verified bundle as the edge holds it.
    let mut cases = Vec::new();
    for (n, (name, case)) in corpus_cases().into_iter().enumerate() {
        let mut bundle = case["bundle"].clone();
        let id = format!("corpus-{n}");
        bundle["bundleId"] = json!(id);
        bundle["expiresAt"] = json!("2099-01-01T00:00:00Z");
        let payload = serde_json::to_vec(&bundle).unwrap();
        let envelope = seal(&payload);
        let input = serde_json::to_string(&case["input"]).unwrap();
        let opened = open_bundle(
            &STANDARD.decode(&envelope).unwrap(),
            &trust,
            &VerifyOptions::new(Audience::Edge, Instant(now)),
        );
        let expected = match opened {
            Ok(mut b) => {
                b.set_code_secret(secret.clone());
                result(
                    parse_input(input.as_bytes())
                        .map_err(promoseal_evaluator::Error::from)
                        .and_then(|i| to_json(&evaluate(&b, &i)?)),
                )
            }
            Err(e) => json!({"ok": false, "refused": e.refusal().code(), "message": e.to_string()}),
        };
        cases.push(
            json!({"case": name, "bundle": id, "envelope": envelope, "input": input,
                          "result": expected}),
        );
    }
    assert!(cases.len() > 100, "the corpus is where it should be");

    let fixtures = json!({
        "now": now,
        "root": STANDARD.encode(&root_bytes),
        "rootDigest": trust.digest_hex(),
        "edgeKeyId": "edge-1",
        "edgeSeed": encode_hex(&[3; 32]),
        "codeSecret": encode_hex(&SECRET),
        "spring": (1..=3).map(|s| secret.generate(&campaign, s).unwrap()).collect::<Vec<_>>(),
        // Codes of the single-use generated campaign `vip`, serials 0 to 4 (serial 1 is
        // `VIP-01…`: a 0 and a 1 to misspell).
        "vip": (0..5).map(|s| secret.generate(&vip_campaign(), s).unwrap()).collect::<Vec<_>>(),
        "shopKeyId": SHOP_KEY.0,
        "shopSeed": encode_hex(&[SHOP_KEY.1; 32]),
        // Customer claims signed by the shop key, live from 5 minutes before `now` for an hour.
        "claims": {
            "gold": claim(json!({"id": "cus_1", "email": "ann@example.com", "tier": "gold"}), now),
            "silver": claim(json!({"id": "cus_1", "email": "ann@example.com", "tier": "silver"}), now),
        },
        "shop": shop_bundles,
        "corpus": cases,
    });
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("edge");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("fixtures.json"),
        serde_json::to_vec(&fixtures).unwrap(),
    )
    .unwrap();
    // The benchmark's shop (scripts/bench-edge.sh): the typical 1,000-promotion payload of the
    // evaluator's benchmarks as edge bundle `bench`, and its 20-line cart.
    if let Ok(workload) = std::env::var("PROMOSEAL_WORKLOAD") {
        let workload = Path::new(&workload);
        let mut bundle: Value =
            serde_json::from_slice(&std::fs::read(workload.join("bundle-1000.json")).unwrap())
                .unwrap();
        bundle["bundleId"] = json!("bench");
        bundle["expiresAt"] = json!("2099-01-01T00:00:00Z");
        // An edge bundle carries no plaintext codes: listed codes become keyed hashes.
        for set in bundle["codeSets"].as_array_mut().into_iter().flatten() {
            if let Some(codes) = set.as_object_mut().and_then(|o| o.remove("codes")) {
                let codes: Vec<&str> = codes
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                set["hashes"] = json!(hashes(&secret, &codes));
            }
        }
        let envelope = STANDARD
            .decode(seal(&serde_json::to_vec(&bundle).unwrap()))
            .unwrap();
        std::fs::write(dir.join("bench.bundle"), envelope).unwrap();
        std::fs::copy(workload.join("cart-20.json"), dir.join("cart-20.json")).unwrap();
    }
    // The files the ledger reads.
    std::fs::write(dir.join("root.env"), &root_bytes).unwrap();
    std::fs::write(dir.join("code.secret"), encode_hex(&SECRET)).unwrap();
    for version in [1, 2] {
        let env = STANDARD
            .decode(shop_bundles[&format!("edge-v{version}")].as_str().unwrap())
            .unwrap();
        std::fs::write(dir.join(format!("shop-v{version}.bundle")), env).unwrap();
    }
}
