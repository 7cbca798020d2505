//! Code checks at the edge: which promotions a typed code unlocks for this shopper now, the
//! grants that let the storefront preview them, and what the edge learns about used-up codes
//! and promotions from the ledger's answers.
//!
//! Every refusal is the same answer ([`EdgeError::code_refused`]) and costs the same work: the
//! code is hashed and every code-gated promotion checked (no early exit), the same two KV reads
//! are made for known and unknown codes, and the answer waits out `CODE_CHECK_MIN_MS`.

use promoseal_evaluator::codes::{encode_hex, CodeSecret};
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::seal::{GrantClaims, SigningIdentity};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{code_unlocks, normalize_code, parse_input, Bundle, LedgerCheck};
use serde_json::{json, Value};

use crate::api::{CodeCheckAnswer, CodeCheckRequest, EdgeError, GrantAnswer};
use crate::slots::sha256;

/// How long the edge remembers that a code is used up (a single-use code redeemed, a per-code
/// limit reached), in seconds. The ledger stays the authority; this only spares the shopper a
/// preview of a code checkout would refuse.
pub const USED_TTL: u64 = 24 * 3600;
/// How long the edge remembers that a promotion's total uses or budget ran out, in seconds.
pub const EXHAUSTED_TTL: u64 = 600;

/// The name a code is known by in attempt limits and KV markers: its keyed hash (the code
/// secret's pepper), never the code. Without a secret, an unkeyed SHA-256.
pub fn code_key(secret: Option<&CodeSecret>, code: &str) -> String {
    match secret {
        Some(s) => encode_hex(&s.hash(code)),
        None => encode_hex(&sha256(
            format!("promoseal/edge/code\0{}", normalize_code(code)).as_bytes(),
        )),
    }
}

/// The attempt-limit names of entered codes.
pub fn code_keys(secret: Option<&CodeSecret>, codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| code_key(secret, c)).collect()
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

/// The evaluation input a code is checked with: the shopper's customer and context if given,
/// the edge's clock, this one code, no grants.
fn check_input(
    bundle: &Bundle,
    req: &CodeCheckRequest,
    now: Instant,
) -> Result<promoseal_evaluator::EvaluationInput, promoseal_evaluator::Error> {
    let mut input = match &req.input {
        Some(input) => input.clone(),
        None => parse_input(
            json!({"cart": {"currency": bundle.currency(), "lines": []}, "context": {"now": now}})
                .to_string()
                .as_bytes(),
        )?,
    };
    input.context.now = now;
    input.context.codes = vec![req.code.clone()];
    input.context.grants = Vec::new();
    input.context.subject = req.subject.clone();
    Ok(input)
}

/// Decides a code check: the grants for every promotion the code unlocks that is not known
/// to be used up, or the uniform refusal. `used` lists the promotions this code is used up
/// for, `exhausted` those that ran out (both from KV markers).
pub fn check(
    bundle: &Bundle,
    req: &CodeCheckRequest,
    now: Instant,
    grant_ttl: i64,
    key: &SigningIdentity,
    used: &[String],
    exhausted: &[String],
) -> Result<CodeCheckAnswer, EdgeError> {
    let unlocked = check_input(bundle, req, now)
        .and_then(|input| code_unlocks(bundle, &input))
        .unwrap_or_default();
    let usable: Vec<_> = unlocked
        .into_iter()
        .filter(|u| !used.iter().chain(exhausted).any(|p| **p == *u.promotion_id))
        .collect();
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
/// `limitReached` refusal names the promotion and the limit.
pub fn learn(
    status: u16,
    answer: &Value,
    pending: &[Pending<'_>],
    secret: Option<&CodeSecret>,
) -> Vec<Learned> {
    let code_of = |promotion: &str| {
        pending
            .iter()
            .find(|c| c.promotion_id == promotion)
            .and_then(|c| c.code)
    };
    let used = |code: &str, promotion: &str| Learned::Used {
        code_key: code_key(secret, code),
        promotions: vec![promotion.to_string()],
    };
    if (200..300).contains(&status) {
        return pending
            .iter()
            .filter(|c| c.single_use_code)
            .filter_map(|c| c.code.map(|code| used(code, c.promotion_id)))
            .collect();
    }
    let field = |path: &str| answer.pointer(path).and_then(Value::as_str);
    if status != 409 || field("/error/code") != Some("limitReached") {
        return Vec::new();
    }
    let Some(promotion) = field("/error/detail/promotionId") else {
        return Vec::new();
    };
    match field("/error/detail/limit") {
        Some("totalUses" | "budget") => vec![Learned::Exhausted {
            promotion: promotion.to_string(),
        }],
        Some("singleUseCode" | "perCode") => code_of(promotion)
            .map(|code| vec![used(code, promotion)])
            .unwrap_or_default(),
        _ => Vec::new(),
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

    #[test]
    fn the_ledger_teaches_used_codes_and_exhausted_promotions() {
        let secret = CodeSecret::from_bytes([5; 32]);
        let s = Some(&secret);
        let checks = [
            pending("once", Some("ONCE-1"), true),
            pending("welcome", Some("HI"), false),
        ];
        let key = code_key(s, "ONCE-1");
        let used = |p: &str| Learned::Used {
            code_key: key.clone(),
            promotions: vec![p.into()],
        };
        assert_eq!(learn(201, &json!({}), &checks, s), [used("once")]);
        assert_eq!(
            learn(409, &refusal("once", "singleUseCode"), &checks, s),
            [used("once")]
        );
        assert_eq!(
            learn(409, &refusal("welcome", "totalUses"), &checks, s),
            [Learned::Exhausted {
                promotion: "welcome".into()
            }]
        );
        assert_eq!(
            learn(409, &refusal("welcome", "budget"), &checks, s),
            [Learned::Exhausted {
                promotion: "welcome".into()
            }]
        );
        // Per customer and per day say nothing about the next shopper.
        assert!(learn(409, &refusal("welcome", "perCustomer"), &checks, s).is_empty());
        assert!(learn(409, &refusal("welcome", "perDay"), &checks, s).is_empty());
        assert!(learn(
            422,
            &json!({"error": {"code": "amountMismatch"}}),
            &checks,
            s
        )
        .is_empty());
        assert!(learn(500, &Value::Null, &checks, s).is_empty());
    }

    #[test]
    fn codes_are_known_by_keyed_hash_only() {
        let secret = CodeSecret::from_bytes([5; 32]);
        let k = code_key(Some(&secret), " once-1 ");
        assert_eq!(k, code_key(Some(&secret), "ONCE-1"), "normalized first");
        assert_ne!(
            k,
            code_key(Some(&CodeSecret::from_bytes([6; 32])), "ONCE-1")
        );
        assert!(!k.to_uppercase().contains("ONCE"));
        let mut list = read_list(Some("[\"b\",\"a\"]"));
        merge(&mut list, &["a".into(), "c".into()]);
        assert_eq!(list, ["a", "b", "c"]);
        assert!(read_list(Some("not json")).is_empty());
    }
}
