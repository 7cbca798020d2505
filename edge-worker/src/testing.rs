//! A small signed world for the unit tests: a trust root with an edge and a shop key, a code
//! secret, and a bundle with one promotion per kind of code (the shapes the Worker tests in
//! workerd use, `tests/fixtures.rs`).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use promoseal_evaluator::codes::{Campaign, CodeSecret};
use promoseal_evaluator::seal::{
    CustomerClaims, Envelope, EnvelopeType, SigningIdentity, TrustRoot,
};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{parse_input, Bundle, EvaluationInput};
use serde_json::{json, Value};

/// The edge's clock in the tests.
pub const NOW: i64 = 1_780_000_000;

pub fn secret() -> CodeSecret {
    CodeSecret::from_bytes([9; 32])
}

pub fn key(id: &str, seed: u8) -> SigningIdentity {
    SigningIdentity::from_seed(id, [seed; 32])
}

pub fn edge_key() -> SigningIdentity {
    key("edge-1", 3)
}

pub fn shop_key() -> SigningIdentity {
    key("shop-1", 7)
}

pub fn root() -> Arc<TrustRoot> {
    let payload = json!({
        "format": 1, "version": 1,
        "keys": [
            {"id": "root-1", "publicKey": key("root-1", 1).public_key(), "roles": ["root"]},
            {"id": "release-1", "publicKey": key("release-1", 2).public_key(), "roles": ["release"]},
            {"id": "edge-1", "publicKey": edge_key().public_key(), "roles": ["edge"]},
            {"id": "shop-1", "publicKey": shop_key().public_key(), "roles": ["shop"]},
        ],
    });
    let env = Envelope::seal(
        EnvelopeType::Root,
        payload.to_string().as_bytes(),
        &[&key("root-1", 1)],
    );
    Arc::new(TrustRoot::from_envelope(&env).unwrap())
}

/// The single-use generated campaign (`VIP-` + 2 serial + 8 tag characters).
pub fn vip() -> Campaign {
    Campaign::new("vip", "VIP-", "", 1000, 10).unwrap()
}

/// A genuine `vip` code.
pub fn vip_code(serial: u64) -> String {
    secret().generate(&vip(), serial).unwrap()
}

fn hashes(codes: &[&str]) -> String {
    let s = secret();
    let mut h: Vec<[u8; 12]> = codes.iter().map(|c| s.hash(c)).collect();
    h.sort();
    STANDARD.encode(h.concat())
}

/// The bundle `shop`: `WELCOME10` (named), `OLD15` (ended a day before `NOW`), `GOLD25` (gold
/// tier only), `ONCE-1` (single use), `VIP-…` (generated, single use), `STAFF50` (a private
/// promotion), and an automatic socks promotion.
pub fn bundle() -> Bundle {
    let promo = |id: &str, percent: &str, set: Option<&str>| {
        let mut p = json!({"id": id, "name": format!("{id} offer"),
            "items": {"categories": ["shoes"]},
            "reward": {"type": "percentOff", "percent": percent},
            "stacking": {"combinesWith": ["product", "order", "shipping"]}});
        if let Some(set) = set {
            p["codeSet"] = json!(set);
        }
        p
    };
    let mut ended = promo("ended", "15", Some("old"));
    ended["endsAt"] = json!(Instant(NOW - 86_400));
    let mut gold = promo("gold", "25", Some("gold"));
    gold["conditions"] = json!({"customerTiers": ["gold"]});
    let mut once = promo("once", "20", Some("once"));
    once["limits"] = json!({"singleUseCodes": true});
    let mut vip_promo = promo("vip", "30", Some("vip"));
    vip_promo["limits"] = json!({"singleUseCodes": true});
    let mut staff = promo("staff", "50", Some("staff"));
    staff["private"] = json!(true);
    let mut socks = promo("socks", "5", None);
    socks["items"] = json!({"categories": ["socks"]});
    let payload = json!({
        "format": 1, "bundleId": "shop", "audience": "edge", "version": 1,
        "issuedAt": Instant(NOW - 3600), "expiresAt": Instant(NOW + 30 * 86_400),
        "currency": "USD",
        "codeSets": [
            {"id": "named", "hashes": hashes(&["WELCOME10"])},
            {"id": "old", "hashes": hashes(&["OLD15"])},
            {"id": "gold", "hashes": hashes(&["GOLD25"])},
            {"id": "once", "hashes": hashes(&["ONCE-1"])},
            {"id": "staff", "hashes": hashes(&["STAFF50"])},
            {"id": "vip", "generated": vip().spec()},
        ],
        "promotions": [promo("welcome", "10", Some("named")), ended, gold, once, vip_promo,
                       staff, socks],
    });
    let mut b = Bundle::from_json(payload.to_string().as_bytes()).unwrap();
    b.set_code_secret(secret());
    b
}

/// A signed customer claim for `customer`, live at `NOW`.
pub fn claim(customer: Value) -> String {
    shop_key().issue_customer_claim(&CustomerClaims {
        customer: serde_json::from_value(customer).unwrap(),
        issued_at: Instant(NOW - 60),
        expires_at: Instant(NOW + 600),
    })
}

/// A one-shoe, one-pair-of-socks cart at `now` with `codes`, the customer and context given.
pub fn input(codes: &[&str], now: i64, customer: Value, context: Value) -> EvaluationInput {
    let mut ctx = json!({"now": Instant(now), "codes": codes});
    if let (Some(c), Some(extra)) = (ctx.as_object_mut(), context.as_object()) {
        c.extend(extra.clone());
    }
    let input = json!({
        "cart": {"currency": "USD", "lines": [
            {"id": "1", "sku": "RUN-1", "categories": ["shoes"], "unitPrice": "100.00", "quantity": 1},
            {"id": "2", "sku": "SOCK-1", "categories": ["socks"], "unitPrice": "8.00", "quantity": 2},
        ]},
        "customer": customer,
        "context": ctx,
    });
    parse_input(input.to_string().as_bytes()).unwrap()
}
