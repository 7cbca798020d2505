//! Regressions of issue 14 in the core: a generated code is one code however it is spelled,
//! private promotions stay out of public answers, and customer claims are the only customer a
//! deciding host prices with.

use promoseal_evaluator::codes::{Campaign, CodeSecret};
use promoseal_evaluator::model::CustomerSpec;
use promoseal_evaluator::seal::{
    vouch, CustomerClaims, Envelope, EnvelopeType, SigningIdentity, TrustRoot, Vouched,
};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{evaluate, parse_input, Bundle, EvaluationInput};
use serde_json::{json, Value};

const NOW: &str = "2026-06-01T12:00:00Z";

fn secret() -> CodeSecret {
    CodeSecret::from_bytes([4; 32])
}

fn campaign() -> Campaign {
    Campaign::new("spring", "SPR-", "", 1000, 10).unwrap()
}

/// A shop with a single-use generated campaign, a private VIP code and a gold-tier promotion.
fn bundle() -> Bundle {
    let vip = secret().hash("VIP-ANNA");
    let payload = json!({
        "format": 1, "bundleId": "trust", "audience": "edge", "version": 1,
        "issuedAt": "2026-01-01T00:00:00Z", "expiresAt": "2027-01-01T00:00:00Z",
        "currency": "USD",
        "codeSets": [
            {"id": "spring", "generated": campaign().spec()},
            {"id": "vip", "hashes": base64(&vip)},
        ],
        "promotions": [
            {"id": "spring", "name": "Spring", "items": {"categories": ["shoes"]},
             "reward": {"type": "percentOff", "percent": "10"}, "codeSet": "spring",
             "limits": {"singleUseCodes": true}},
            {"id": "vip", "name": "VIP", "items": {"categories": ["shoes"]}, "private": true,
             "reward": {"type": "percentOff", "percent": "30"}, "codeSet": "vip",
             "stacking": {"exclusive": true}},
            {"id": "gold", "name": "Gold", "items": {"categories": ["shoes"]},
             "conditions": {"customerTiers": ["gold"]},
             "reward": {"type": "percentOff", "percent": "20"},
             "stacking": {"combinesWith": ["product"]}},
        ],
    });
    let mut b = Bundle::from_json(payload.to_string().as_bytes()).unwrap();
    b.set_code_secret(secret());
    b
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn input(codes: &[&str], customer: Value, claim: Option<&str>) -> EvaluationInput {
    parse_input(
        json!({
            "cart": {"currency": "USD", "lines": [
                {"id": "1", "sku": "RUN-1", "categories": ["shoes"], "unitPrice": "100.00", "quantity": 1}
            ]},
            "customer": customer,
            "context": {"now": NOW, "codes": codes, "customerClaim": claim}
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

fn evaluation(b: &Bundle, i: &EvaluationInput) -> Value {
    serde_json::to_value(evaluate(b, i).unwrap()).unwrap()
}

/// Every way a shopper may type a generated code that reads the same (Crockford: `O` is `0`,
/// `I` and `L` are `1`), and in lower case.
fn alias_spellings(code: &str) -> Vec<String> {
    let swaps: &[(char, &[char])] = &[('0', &['O', 'o']), ('1', &['I', 'L', 'i', 'l'])];
    let mut out = vec![code.to_lowercase(), format!("  {code} ")];
    for (digit, aliases) in swaps {
        for a in *aliases {
            let spelled: String = code
                .char_indices()
                .map(|(i, c)| if i >= 4 && c == *digit { *a } else { c })
                .collect();
            if spelled != code {
                out.push(spelled);
            }
        }
    }
    out
}

#[test]
fn a_generated_code_is_one_code_however_it_is_spelled() {
    let b = bundle();
    // Serial 1 is "01": every spelling has at least one alias to try.
    let code = secret().generate(&campaign(), 1).unwrap();
    let spellings = alias_spellings(&code);
    assert!(spellings.len() >= 4, "{spellings:?}");
    let canonical = evaluation(&b, &input(&[&code], json!({}), None));
    assert_eq!(canonical["applied"][0]["code"], json!(code));
    for spelled in &spellings {
        assert_eq!(b.canonical_code(spelled), code, "{spelled}");
        assert!(b.knows_code(spelled), "{spelled}");
        let e = evaluation(&b, &input(&[spelled], json!({}), None));
        assert_eq!(e["applied"][0]["code"], json!(code), "{spelled}");
        assert_eq!(e["pendingLedger"][0]["code"], json!(code), "{spelled}");
        assert_eq!(e["pendingLedger"][0]["singleUseCode"], json!(true));
    }
    // Codes that are not generated keep their normalized spelling; guesses are not known.
    assert_eq!(b.canonical_code(" vip-anna "), "VIP-ANNA");
    assert!(b.knows_code("vip-anna"));
    assert_eq!(b.canonical_code("SPR-OOOOOOOO"), "SPR-OOOOOOOO");
    assert!(!b.knows_code("SPR-OOOOOOOO"));
    assert!(!b.knows_code("VIP-ANNE"));
}

#[test]
fn private_promotions_stay_out_of_public_answers() {
    let b = bundle();
    let mut e = evaluate(&b, &input(&[], json!({}), None)).unwrap();
    assert!(e.not_applied.reason("vip").is_some());
    b.hide_private(&mut e);
    assert!(e.not_applied.reason("vip").is_none());
    assert!(e.not_applied.reason("spring").is_some(), "public ones stay");
    // Applied with its code, a private promotion is on the receipt as ever.
    let mut e = evaluate(&b, &input(&["vip-anna"], json!({}), None)).unwrap();
    b.hide_private(&mut e);
    assert_eq!(&*e.applied[0].promotion_id, "vip");
}

fn key(id: &str, seed: u8) -> SigningIdentity {
    SigningIdentity::from_seed(id, [seed; 32])
}

fn root() -> TrustRoot {
    let payload = json!({
        "format": 1, "version": 1,
        "keys": [
            {"id": "root-1", "publicKey": key("root-1", 1).public_key(), "roles": ["root"]},
            {"id": "release-1", "publicKey": key("release-1", 2).public_key(), "roles": ["release"]},
            {"id": "edge-1", "publicKey": key("edge-1", 3).public_key(), "roles": ["edge"]},
            {"id": "shop-1", "publicKey": key("shop-1", 5).public_key(), "roles": ["shop"]},
        ],
    });
    let env = Envelope::seal(
        EnvelopeType::Root,
        payload.to_string().as_bytes(),
        &[&key("root-1", 1)],
    );
    TrustRoot::from_envelope(&env).unwrap()
}

fn gold(id: &str) -> CustomerClaims {
    CustomerClaims {
        customer: CustomerSpec {
            id: Some(id.into()),
            tier: Some("gold".into()),
            ..CustomerSpec::default()
        },
        issued_at: Instant::parse("2026-06-01T11:55:00Z").unwrap(),
        expires_at: Instant::parse("2026-06-01T12:10:00Z").unwrap(),
    }
}

fn applied_ids(b: &Bundle, i: &EvaluationInput) -> Vec<String> {
    evaluation(b, i)["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["promotionId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn only_a_signed_claim_makes_a_gold_customer() {
    let (b, root) = (bundle(), root());
    let now = Instant::parse(NOW).unwrap();
    let claim = key("shop-1", 5).issue_customer_claim(&gold("cus_1"));
    let says_gold = json!({"id": "cus_9", "email": "eve@example.com", "tier": "gold"});

    // Unsigned: the shopper's word is previewed as given, but a deciding host drops it.
    let mut i = input(&[], says_gold.clone(), None);
    assert_eq!(applied_ids(&b, &i), ["gold"]);
    assert!(matches!(vouch(&root, &mut i, now), Vouched::Unvouched));
    assert!(applied_ids(&b, &i).is_empty());
    let c = i.customer.as_ref().unwrap();
    assert_eq!((c.id.as_deref(), c.tier.as_deref()), (Some("cus_9"), None));
    assert_eq!(c.email.as_deref(), Some("eve@example.com"));

    // Signed: the claim's customer, whatever the input says beside it.
    let mut i = input(&[], json!({"tier": "bronze"}), Some(&claim));
    assert!(matches!(vouch(&root, &mut i, now), Vouched::Claim));
    assert_eq!(applied_ids(&b, &i), ["gold"]);
    assert_eq!(i.customer.as_ref().unwrap().id.as_deref(), Some("cus_1"));

    // Altered, signed by a key without the shop role, expired, or too long-lived: no customer.
    let mut altered = claim.clone().into_bytes();
    let mid = altered.len() / 2;
    altered[mid] = if altered[mid] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let by_edge = key("edge-1", 3).issue_customer_claim(&gold("cus_1"));
    let long = key("shop-1", 5).issue_customer_claim(&CustomerClaims {
        expires_at: Instant::parse("2026-06-02T00:00:00Z").unwrap(),
        ..gold("cus_1")
    });
    for (token, at, why) in [
        (&altered, now, "malformed"),
        (&by_edge, now, "wrongRole"),
        (
            &claim,
            Instant::parse("2026-06-01T12:10:00Z").unwrap(),
            "expired",
        ),
        (&long, now, "malformed"),
    ] {
        let mut i = input(&[], says_gold.clone(), Some(token));
        match vouch(&root, &mut i, at) {
            Vouched::Refused(e) => {
                assert_eq!(e.to_string(), "invalid customer claim");
                if why != "malformed" || token != &altered {
                    assert_eq!(e.refusal().code(), why, "{token}");
                }
            }
            other => panic!("{other:?} for {token}"),
        }
        assert!(i.customer.is_none());
        assert!(applied_ids(&b, &i).is_empty());
    }
}
