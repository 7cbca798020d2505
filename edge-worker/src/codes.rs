//! Code checks at the edge: which promotions a typed code unlocks for this shopper now, the
//! grants that let the storefront preview them, which entered codes a public evaluation keeps,
//! and what the edge learns about used-up codes and promotions from the ledger's answers.
//!
//! Every refusal is the same answer ([`EdgeError::code_refused`]) and costs the same work: the
//! code is hashed and every code-gated promotion checked (no early exit), the same two KV reads
//! are made for known and unknown codes, and the answer waits out `CODE_CHECK_MIN_MS`.
//!
//! A code is one code however it is typed: every record of it (attempt limits, used-up
//! markers) keys on its canonical spelling ([`Bundle::canonical_code`]), so `o` for `0` or `L`
//! for `1` in a generated code is the same code as the campaign wrote it.

use promoseal_evaluator::codes::{encode_hex, CodeSecret};
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::seal::{vouch, GrantClaims, SigningIdentity, TrustRoot};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{
    code_unlocks, evaluate, parse_input, Bundle, CodeUnlock, Evaluation, EvaluationInput,
    LedgerCheck, NotAppliedView,
};
use promoseal_wire::ErrorBody;
use serde_json::{json, Value};

use crate::api::{CodeCheckAnswer, CodeCheckRequest, EdgeError, GrantAnswer};
use crate::slots::sha256;

/// How long the edge remembers that a code is used up (a single-use code redeemed, a per-code
/// limit reached), in seconds. The ledger stays the authority; this only spares the shopper a
/// preview of a code checkout would refuse.
pub const USED_TTL: u64 = 24 * 3600;
/// How long the edge remembers that a promotion's total uses or budget ran out, in seconds.
pub const EXHAUSTED_TTL: u64 = 600;

/// The name a code is known by in attempt limits and KV markers: the keyed hash (the code
/// secret's pepper) of its canonical spelling in `bundle`, never the code. Without a secret,
/// an unkeyed SHA-256.
pub fn code_key(bundle: &Bundle, secret: Option<&CodeSecret>, code: &str) -> String {
    match secret {
        Some(s) => bundle.code_record(s, code),
        None => encode_hex(&sha256(
            format!("promoseal/edge/code\0{}", bundle.canonical_code(code)).as_bytes(),
        )),
    }
}

/// The names of entered codes, in order.
pub fn code_keys(bundle: &Bundle, secret: Option<&CodeSecret>, codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| code_key(bundle, secret, c)).collect()
}

/// KV key of a code's used-up marker (a JSON list of promotion ids).
pub fn used_key(code_key: &str) -> String {
    format!("used/{code_key}")
}

/// KV key of a bundle's exhausted promotions (a JSON list of promotion ids).
pub fn exhausted_key(bundle_id: &str) -> String {
    format!("exhausted/{bundle_id}")
}

/// Reads a marker's JSON list (anything else counts as empty).
pub fn read_list(value: Option<&str>) -> Vec<String> {
    value
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

/// What the edge's KV says about one code: the promotions it is used up for, and the
/// bundle's promotions that ran out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Markers<'a> {
    pub used: &'a [String],
    pub exhausted: &'a [String],
}

/// The shopper a code is checked for: the cart's currency (no lines: a code check looks at no
/// cart), the context as given (channel, shipping) at the edge's clock with no codes and no
/// grants, and the customer as the shop vouches for it at that clock ([`vouch`]: the claim's
/// customer, else only who the input names, never a tier or segment the browser says).
fn shopper(root: &TrustRoot, given: &EvaluationInput, now: Instant) -> EvaluationInput {
    let mut input = given.clone();
    input.cart.lines.clear();
    input.context.now = now;
    input.context.codes.clear();
    input.context.grants.clear();
    vouch(root, &mut input, now);
    input
}

/// The promotions `code` unlocks for `shopper`, less those known to be used up or exhausted.
fn usable(
    bundle: &Bundle,
    shopper: &mut EvaluationInput,
    code: &str,
    markers: Markers<'_>,
) -> Vec<CodeUnlock> {
    shopper.context.codes = vec![code.to_string()];
    let unlocked = code_unlocks(bundle, shopper).unwrap_or_default();
    shopper.context.codes.clear();
    unlocked
        .into_iter()
        .filter(|u| {
            !markers
                .used
                .iter()
                .chain(markers.exhausted)
                .any(|p| **p == *u.promotion_id)
        })
        .collect()
}

/// The evaluation input a code check starts from when the request gives none.
fn empty_input(
    bundle: &Bundle,
    now: Instant,
) -> Result<EvaluationInput, promoseal_evaluator::Error> {
    parse_input(
        json!({"cart": {"currency": bundle.currency(), "lines": []}, "context": {"now": now}})
            .to_string()
            .as_bytes(),
    )
    .map_err(Into::into)
}

/// Decides a code check: the grants for every promotion the code unlocks for this shopper at
/// the edge's clock `now` that is not known to be used up, or the uniform refusal.
pub fn check(
    bundle: &Bundle,
    root: &TrustRoot,
    req: &CodeCheckRequest,
    now: Instant,
    grant_ttl: i64,
    key: &SigningIdentity,
    markers: Markers<'_>,
) -> Result<CodeCheckAnswer, EdgeError> {
    let given = match &req.input {
        Some(input) => Ok(input.clone()),
        None => empty_input(bundle, now),
    };
    let usable = given
        .map(|given| usable(bundle, &mut shopper(root, &given, now), &req.code, markers))
        .unwrap_or_default();
    if usable.is_empty() {
        return Err(EdgeError::code_refused());
    }
    let expires_at = Instant(
        now.seconds()
            .saturating_add(grant_ttl)
            .min(bundle.expires_at().seconds()),
    );
    let grants = usable
        .into_iter()
        .map(|u| GrantAnswer {
            grant: key.issue_grant(&GrantClaims {
                bundle_id: bundle.id().to_string(),
                promotion: u.promotion_id.to_string(),
                audience: Audience::Storefront,
                subject: req.subject.clone(),
                issued_at: now,
                expires_at,
            }),
            promotion_id: u.promotion_id.to_string(),
            name: u.name.to_string(),
        })
        .collect();
    Ok(CodeCheckAnswer {
        bundle_id: bundle.id().to_string(),
        bundle_version: bundle.version(),
        expires_at,
        grants,
    })
}

/// Which entered codes a public evaluation keeps: exactly those a code check would accept
/// now for this shopper ([`check`]: the edge's clock `now`, the customer vouched for, the
/// used-up markers `used[i]` of code `i` and the bundle's `exhausted` promotions). The others
/// are taken out of `input`, so they are priced as unknown codes are, and their positions in
/// the entered list are returned (each counts as a failed code check).
pub fn admit(
    bundle: &Bundle,
    root: &TrustRoot,
    input: &mut EvaluationInput,
    now: Instant,
    used: &[Vec<String>],
    exhausted: &[String],
) -> Vec<usize> {
    let entered = std::mem::take(&mut input.context.codes);
    let mut shopper = shopper(root, input, now);
    let mut refused = Vec::new();
    for (i, code) in entered.into_iter().enumerate() {
        let markers = Markers {
            used: used.get(i).map_or(&[], Vec::as_slice),
            exhausted,
        };
        if usable(bundle, &mut shopper, &code, markers).is_empty() {
            refused.push(i);
        } else {
            input.context.codes.push(code);
        }
    }
    refused
}

/// A public evaluation (`/v1/evaluate`) and the entered codes it refused.
#[derive(Debug)]
pub struct PublicEvaluation {
    pub evaluation: Evaluation,
    /// Positions in `context.codes` of the codes a code check would have refused.
    pub refused: Vec<usize>,
}

/// Prices `input` for the public: the input as given (its `now`, its customer: a preview
/// decides nothing), except that its codes are [`admit`]ted first, so the answer says no
/// more about a code than a code check would, and private promotions are left out of the
/// why-not list, which keeps what `view` asks for. An input the evaluator refuses is refused as
/// it would be with every code.
pub fn evaluate_public(
    bundle: &Bundle,
    root: &TrustRoot,
    mut input: EvaluationInput,
    view: NotAppliedView,
    now: Instant,
    used: &[Vec<String>],
    exhausted: &[String],
) -> Result<PublicEvaluation, promoseal_evaluator::Error> {
    // The input's own errors (its lines, its codes, its currency) as with every code entered.
    if !input.context.codes.is_empty() {
        code_unlocks(bundle, &input)?;
    }
    let refused = admit(bundle, root, &mut input, now, used, exhausted);
    let mut evaluation = evaluate(bundle, &input)?;
    bundle.hide_private(&mut evaluation);
    evaluation.not_applied.view(view);
    Ok(PublicEvaluation {
        evaluation,
        refused,
    })
}

/// What the edge learns from the ledger's answer to a redemption it forwarded.
#[derive(Debug, PartialEq, Eq)]
pub enum Learned {
    /// This code (by [`code_key`]) is used up for these promotions.
    Used {
        code_key: String,
        promotions: Vec<String>,
    },
    /// This promotion's total uses or budget ran out.
    Exhausted { promotion: String },
}

/// What the edge's own pricing said about one applied promotion (from the evaluation's
/// `pendingLedger`).
#[derive(Clone, Copy, Debug)]
pub struct Pending<'a> {
    pub promotion_id: &'a str,
    pub code: Option<&'a str>,
    pub single_use_code: bool,
}

impl<'a> From<&'a LedgerCheck> for Pending<'a> {
    fn from(c: &'a LedgerCheck) -> Pending<'a> {
        Pending {
            promotion_id: &c.promotion_id,
            code: c.code.as_deref(),
            single_use_code: c.single_use_code,
        }
    }
}

/// Reads a ledger answer: a redemption that used single-use codes uses them up; a
/// `limitReached` refusal names the promotion and the limit. Codes are named by
/// [`code_key`] in `bundle`, the one the redemption was priced with.
pub fn learn(
    status: u16,
    answer: &Value,
    pending: &[Pending<'_>],
    bundle: &Bundle,
    secret: Option<&CodeSecret>,
) -> Vec<Learned> {
    let code_of = |promotion: &str| {
        pending
            .iter()
            .find(|c| c.promotion_id == promotion)
            .and_then(|c| c.code)
    };
    let used = |code: &str, promotion: &str| Learned::Used {
        code_key: code_key(bundle, secret, code),
        promotions: vec![promotion.to_string()],
    };
    if (200..300).contains(&status) {
        return pending
            .iter()
            .filter(|c| c.single_use_code)
            .filter_map(|c| c.code.map(|code| used(code, c.promotion_id)))
            .collect();
    }
    if status != 409 {
        return Vec::new();
    }
    let Some(refusal) = serde_json::from_value::<ErrorBody>(answer.clone())
        .ok()
        .and_then(|b| b.limit())
    else {
        return Vec::new();
    };
    let promotion = refusal.promotion_id.as_str();
    if refusal.limit.exhausts_promotion() {
        vec![Learned::Exhausted {
            promotion: promotion.to_string(),
        }]
    } else if refusal.limit.uses_up_code() {
        code_of(promotion)
            .map(|code| vec![used(code, promotion)])
            .unwrap_or_default()
    } else {
        Vec::new()
    }
}

/// Adds `promotions` to a marker's list, keeping it sorted and without repeats.
pub fn merge(list: &mut Vec<String>, promotions: &[String]) {
    list.extend(promotions.iter().cloned());
    list.sort();
    list.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, claim, edge_key, input, vip_code, NOW};

    fn pending<'a>(promotion_id: &'a str, code: Option<&'a str>, single: bool) -> Pending<'a> {
        Pending {
            promotion_id,
            code,
            single_use_code: single,
        }
    }

    fn refusal(promotion: &str, limit: &str) -> Value {
        json!({"error": {"code": "limitReached", "message": "…",
                         "detail": {"promotionId": promotion, "limit": limit}}})
    }

    /// The spellings a shopper may type for a generated code: lower case, `O` for `0`, `I` or
    /// `L` for `1` (the prefix as written).
    fn aliases(code: &str) -> Vec<String> {
        let (prefix, body) = code.split_at(4);
        vec![
            code.to_lowercase(),
            format!("{prefix}{}", body.replace('0', "O")),
            format!("{prefix}{}", body.replace('1', "I")),
            format!("{prefix}{}", body.replace('1', "L")),
            format!(" {prefix}{} ", body.replace('0', "o").replace('1', "l")),
        ]
    }

    fn check_code(code: &str, given: Option<EvaluationInput>, markers: Markers<'_>) -> Vec<String> {
        let req = CodeCheckRequest {
            code: code.into(),
            subject: Some("s-1".into()),
            input: given,
        };
        let b = testing::bundle();
        match check(
            &b,
            &testing::root(),
            &req,
            Instant(NOW),
            900,
            &edge_key(),
            markers,
        ) {
            Ok(a) => a.grants.into_iter().map(|g| g.promotion_id).collect(),
            Err(e) => {
                assert_eq!(e, EdgeError::code_refused());
                Vec::new()
            }
        }
    }

    #[test]
    fn the_ledger_teaches_used_codes_and_exhausted_promotions() {
        let secret = testing::secret();
        let s = Some(&secret);
        let b = testing::bundle();
        let checks = [
            pending("once", Some("ONCE-1"), true),
            pending("welcome", Some("HI"), false),
        ];
        let key = code_key(&b, s, "ONCE-1");
        let used = |p: &str| Learned::Used {
            code_key: key.clone(),
            promotions: vec![p.into()],
        };
        assert_eq!(learn(201, &json!({}), &checks, &b, s), [used("once")]);
        assert_eq!(
            learn(409, &refusal("once", "singleUseCode"), &checks, &b, s),
            [used("once")]
        );
        assert_eq!(
            learn(409, &refusal("welcome", "totalUses"), &checks, &b, s),
            [Learned::Exhausted {
                promotion: "welcome".into()
            }]
        );
        assert_eq!(
            learn(409, &refusal("welcome", "budget"), &checks, &b, s),
            [Learned::Exhausted {
                promotion: "welcome".into()
            }]
        );
        // Per customer and per day say nothing about the next shopper.
        assert!(learn(409, &refusal("welcome", "perCustomer"), &checks, &b, s).is_empty());
        assert!(learn(409, &refusal("welcome", "perDay"), &checks, &b, s).is_empty());
        assert!(learn(
            422,
            &json!({"error": {"code": "amountMismatch"}}),
            &checks,
            &b,
            s
        )
        .is_empty());
        assert!(learn(500, &Value::Null, &checks, &b, s).is_empty());
    }

    #[test]
    fn codes_are_known_by_keyed_hash_only() {
        let secret = testing::secret();
        let b = testing::bundle();
        let k = code_key(&b, Some(&secret), " once-1 ");
        assert_eq!(k, code_key(&b, Some(&secret), "ONCE-1"), "normalized first");
        assert_ne!(
            k,
            code_key(&b, Some(&CodeSecret::from_bytes([6; 32])), "ONCE-1")
        );
        assert!(!k.to_uppercase().contains("ONCE"));
        let mut list = read_list(Some("[\"b\",\"a\"]"));
        merge(&mut list, &["a".into(), "c".into()]);
        assert_eq!(list, ["a", "b", "c"]);
        assert!(read_list(Some("not json")).is_empty());
    }

    #[test]
    fn a_generated_code_is_one_code_however_it_is_spelled() {
        let secret = testing::secret();
        let b = testing::bundle();
        let code = vip_code(1);
        let key = code_key(&b, Some(&secret), &code);
        for alias in aliases(&code) {
            assert_ne!(alias, code);
            assert_eq!(code_key(&b, Some(&secret), &alias), key, "{alias}");
            assert_eq!(
                check_code(&alias, None, Markers::default()),
                ["vip"],
                "{alias}"
            );
        }
        assert_ne!(code_key(&b, Some(&secret), &vip_code(2)), key);
        // What the ledger's answer teaches about one spelling holds for all of them.
        let evaluation = evaluate(
            &b,
            &input(&[&aliases(&code)[1]], NOW, json!(null), json!({})),
        )
        .unwrap();
        let pending: Vec<Pending> = evaluation.pending_ledger.iter().map(Into::into).collect();
        assert_eq!(pending.first().and_then(|p| p.code), Some(code.as_str()));
        let learned = learn(201, &json!({}), &pending, &b, Some(&secret));
        let used = vec!["vip".to_string()];
        assert_eq!(
            learned,
            [Learned::Used {
                code_key: key,
                promotions: used.clone()
            }]
        );
        for alias in aliases(&code) {
            let markers = Markers {
                used: &used,
                exhausted: &[],
            };
            assert!(check_code(&alias, None, markers).is_empty(), "{alias}");
        }
    }

    #[test]
    fn a_check_takes_the_customer_from_the_shops_claim_only() {
        let forged = input(&[], NOW, json!({"id": "c-1", "tier": "gold"}), json!({}));
        assert!(check_code("GOLD25", Some(forged), Markers::default()).is_empty());
        let gold = claim(json!({"id": "c-1", "tier": "gold"}));
        let vouched = input(
            &[],
            NOW,
            json!({"id": "c-1"}),
            json!({"customerClaim": gold}),
        );
        assert_eq!(
            check_code("gold25", Some(vouched), Markers::default()),
            ["gold"]
        );
        // A claim whose payload was changed does not verify: no customer at all.
        let silver = claim(json!({"id": "c-1", "tier": "silver"}));
        let mut parts: Vec<&str> = silver.split('.').collect();
        let payload = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&json!({"customer": {"id": "c-1", "tier": "gold"},
                "issuedAt": Instant(NOW - 60), "expiresAt": Instant(NOW + 600)}))
            .unwrap(),
        );
        parts[1] = &payload;
        let altered = input(
            &[],
            NOW,
            json!({"tier": "gold"}),
            json!({"customerClaim": parts.join(".")}),
        );
        assert!(check_code("GOLD25", Some(altered), Markers::default()).is_empty());
        // The customer's other attributes and the time the input says are not the edge's.
        let past = input(&[], NOW - 2 * 86_400, json!({}), json!({}));
        assert!(check_code("OLD15", Some(past), Markers::default()).is_empty());
    }

    #[test]
    fn known_used_and_exhausted_promotions_are_refused_like_unknown_codes() {
        assert_eq!(
            check_code("WELCOME10", None, Markers::default()),
            ["welcome"]
        );
        let welcome = vec!["welcome".to_string()];
        let used = Markers {
            used: &welcome,
            exhausted: &[],
        };
        assert!(check_code("WELCOME10", None, used).is_empty());
        let exhausted = Markers {
            used: &[],
            exhausted: &welcome,
        };
        assert!(check_code("WELCOME10", None, exhausted).is_empty());
        assert!(check_code("NOPE-1234", None, Markers::default()).is_empty());
    }

    fn public(
        given: EvaluationInput,
        used: &[Vec<String>],
        exhausted: &[String],
    ) -> (Value, Vec<usize>) {
        let b = testing::bundle();
        let p = evaluate_public(
            &b,
            &testing::root(),
            given,
            NotAppliedView::All,
            Instant(NOW),
            used,
            exhausted,
        )
        .unwrap();
        (serde_json::to_value(&p.evaluation).unwrap(), p.refused)
    }

    /// The applied promotions, sorted.
    fn applied(v: &Value) -> Vec<&str> {
        let mut ids: Vec<&str> = v["applied"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["promotionId"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn a_public_evaluation_says_no_more_about_codes_than_a_code_check() {
        let yesterday_but_one = NOW - 2 * 86_400;
        // An ended promotion's code, previewed at a time it was live: priced as an unknown code.
        let (ended, refused) = public(
            input(&["OLD15"], yesterday_but_one, json!(null), json!({})),
            &[],
            &[],
        );
        let (unknown, _) = public(
            input(&["NOPE-1234"], yesterday_but_one, json!(null), json!({})),
            &[],
            &[],
        );
        assert_eq!(refused, [0]);
        assert_eq!(ended, unknown);
        assert_eq!(applied(&ended), ["socks"]);
        // A used-up single-use code: refused; the same code with no marker applies.
        let once = [vec!["once".to_string()]];
        let (used, refused) = public(
            input(&["WELCOME10", "ONCE-1"], NOW, json!(null), json!({})),
            &once[..0],
            &[],
        );
        assert_eq!(
            (applied(&used), refused),
            (vec!["once", "socks", "welcome"], vec![])
        );
        let markers = vec![Vec::new(), once[0].clone()];
        let (used, refused) = public(
            input(&["WELCOME10", "ONCE-1"], NOW, json!(null), json!({})),
            &markers,
            &[],
        );
        assert_eq!(
            (applied(&used), refused),
            (vec!["socks", "welcome"], vec![1])
        );
        // A gold-only code for a browser that says gold: refused; with the shop's claim: kept, and
        // the price is the input's customer (a preview decides nothing).
        let forged = input(&["GOLD25"], NOW, json!({"tier": "gold"}), json!({}));
        assert_eq!(public(forged, &[], &[]).1, [0]);
        let gold = claim(json!({"id": "c-1", "tier": "gold"}));
        let vouched = input(
            &["GOLD25"],
            NOW,
            json!({"tier": "gold"}),
            json!({"customerClaim": gold}),
        );
        let (v, refused) = public(vouched, &[], &[]);
        assert_eq!((applied(&v), refused), (vec!["gold", "socks"], vec![]));
    }

    #[test]
    fn a_public_evaluation_names_private_promotions_only_when_applied() {
        let names = |v: &Value| v["notApplied"].to_string();
        let (plain, _) = public(input(&[], NOW, json!(null), json!({})), &[], &[]);
        assert!(!names(&plain).contains("staff"), "{}", names(&plain));
        assert!(names(&plain).contains("welcome"));
        let (staff, refused) = public(input(&["staff50"], NOW, json!(null), json!({})), &[], &[]);
        assert!(refused.is_empty());
        assert!(applied(&staff).contains(&"staff"));
    }

    #[test]
    fn a_public_evaluation_refuses_a_bad_input_as_the_evaluator_does() {
        let b = testing::bundle();
        let long = "X".repeat(promoseal_evaluator::MAX_CODE_LEN + 1);
        let given = input(&["NOPE", &long], NOW, json!(null), json!({}));
        let native = evaluate(&b, &given).unwrap_err();
        let public = evaluate_public(
            &b,
            &testing::root(),
            given,
            NotAppliedView::All,
            Instant(NOW),
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!(public.to_string(), native.to_string());
    }
}
