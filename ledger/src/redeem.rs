//! The decision half of a redemption, pure: re-price the cart natively with the named bundle
//! version, compare with what the client was quoted, and turn every pending-ledger fact into
//! the counter increments the store applies atomically. No I/O and no clock here: `now` comes in.

use std::collections::BTreeMap;

use promoseal_evaluator::codes::{encode_hex, mask, CodeSecret};
use promoseal_evaluator::model::{CustomerSpec, Reversal};
use promoseal_evaluator::money::{Currency, DecimalString};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{evaluate, Bundle, Evaluation, LedgerCheck};
use promoseal_wire::ErrorCode;
use serde_json::json;

use crate::bundles::Loaded;
use crate::error::ApiError;

/// Largest counter value: far beyond any real limit, far from overflowing a sum of two.
pub const UNLIMITED: i64 = i64::MAX / 4;

pub use promoseal_wire::{BundleRef, LimitKind, Quote, QuotedPromotion, RedeemRequest};

/// One conditional increment: `used + uses ≤ max_uses` and `amount + amount ≤ max_amount`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Increment {
    pub key: String,
    pub kind: LimitKind,
    pub promotion_id: String,
    pub uses: i64,
    pub max_uses: i64,
    pub amount: i64,
    pub max_amount: i64,
    pub reversal: Reversal,
}

/// One applied promotion as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub promotion_id: String,
    pub campaign: Option<String>,
    pub amount: i64,
    pub code_hash: Option<String>,
}

/// Everything a redemption writes, decided before the transaction opens.
#[derive(Clone, Debug)]
pub struct Plan {
    pub currency: Currency,
    pub subtotal: i64,
    pub discount_total: i64,
    pub tax_total: i64,
    pub total: i64,
    /// The sum of line costs when every line declares a unit cost.
    pub cost: Option<i64>,
    pub applied: Vec<Applied>,
    /// Sorted by key: every transaction locks counters in the same order (no deadlocks).
    pub increments: Vec<Increment>,
    /// `customer.ordersCount == 0`, when the client says.
    pub first_order: Option<bool>,
    /// The evaluation without its why-not list: the receipt.
    pub receipt: String,
}

/// Who and what, for the event log, read from a request before anything else is decided.
#[derive(Clone, Debug, Default)]
pub struct Attempt {
    pub customer_id: Option<String>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub channel: Option<String>,
    /// Keyed hashes of the codes entered.
    pub codes: Vec<String>,
    pub client_discount: Option<i64>,
}

/// Policy a decision is taken under.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// How old `context.now` may be (a quote priced earlier at checkout).
    pub max_quote_age: i64,
    /// How far ahead of the ledger's clock `context.now` may be.
    pub max_clock_skew: i64,
    /// How long after a newer version was accepted a promotion it removed or paused may still
    /// be redeemed through an older version (carts priced just before the publish).
    pub withdrawal_grace: i64,
}

/// The keyed hash under which a code appears in the ledger (never the code itself): of its
/// canonical spelling, so every spelling of one code is one record. `bundle` spells a code as
/// typed canonically; `None` for a code that already is (an evaluation's `code`).
pub fn code_hash(secret: &CodeSecret, bundle: Option<&Bundle>, code: &str) -> String {
    match bundle {
        Some(b) => b.code_record(secret, code),
        None => encode_hex(&secret.hash(code)),
    }
}

/// The customer a redemption is counted and logged with (the claim's, or who the request names)
/// is stored and indexed (`customer_id`, per-customer counter keys), and an index entry is
/// bounded (about 2.7 KB on PostgreSQL): like `orderId`, its id and email are at most 255
/// bytes, and hold no NUL character (PostgreSQL's text cannot).
pub fn customer_fits(customer: Option<&CustomerSpec>) -> Result<(), ApiError> {
    let Some(c) = customer else {
        return Ok(());
    };
    for (field, value) in [("id", &c.id), ("email", &c.email)] {
        if value
            .as_ref()
            .is_some_and(|v| v.len() > 255 || v.contains('\0'))
        {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                format!("input.customer.{field}: must be at most 255 bytes, without NUL"),
            ));
        }
    }
    Ok(())
}

/// Lower-cased and trimmed; for every domain `+tags` are dropped, and Gmail's dots too
/// (`J.Doe+promo@GoogleMail.com` → `jdoe@gmail.com`): one person, one address for limits and
/// fraud signals.
pub fn normalize_email(email: &str) -> String {
    let e = email.trim().to_lowercase();
    let Some((local, domain)) = e.rsplit_once('@') else {
        return e;
    };
    let local = local.split('+').next().unwrap_or(local);
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        d => (local.to_string(), d),
    };
    format!("{local}@{domain}")
}

pub fn attempt(req: &RedeemRequest, secret: &CodeSecret, bundle: Option<&Bundle>) -> Attempt {
    let customer = req.input.customer.as_ref();
    let client_discount = Currency::from_code(&req.input.cart.currency)
        .and_then(|c| c.to_minor(&req.quote.discount_total, &String::new).ok());
    Attempt {
        customer_id: customer.and_then(|c| c.id.clone()),
        email: customer
            .and_then(|c| c.email.as_deref())
            .map(normalize_email),
        ip: req.client_ip.clone(),
        channel: req.input.context.channel.clone(),
        codes: req
            .input
            .context
            .codes
            .iter()
            .map(|c| code_hash(secret, bundle, c))
            .collect(),
        client_discount,
    }
}

/// Prices the request with `loaded` at the ledger's `now` and plans its counter increments.
/// Every refusal here is an answer (recorded, and replayed for the same idempotency key).
///
/// `current` is the newest accepted version of the same bundle when it is newer than
/// `loaded`: what it says wins over the older version the request names (docs/DESIGN.md,
/// "A newer version governs older ones"):
/// - a code the newest version does not hold (deactivated, revoked, removed) counts as not
///   entered, at once;
/// - a promotion the newest version removed, or whose schedule it ended or paused at `now`,
///   is refused (`promotionWithdrawn`) once `withdrawal_grace` seconds have passed since the
///   newest version was accepted;
/// - each limit is the lower of the two versions' (`limits`).
pub fn plan(
    loaded: &Loaded,
    current: Option<&Loaded>,
    req: &RedeemRequest,
    now: Instant,
    window: Window,
    secret: &CodeSecret,
) -> Result<Plan, ApiError> {
    let bundle = &loaded.bundle;
    let current = current.filter(|c| c.bundle.version() > bundle.version());
    if now >= loaded.expires_at {
        return Err(ApiError::conflict(
            ErrorCode::BundleExpired,
            format!(
                "bundle `{}` version {} expired at {}",
                bundle.id(),
                bundle.version(),
                loaded.expires_at
            ),
        ));
    }
    if req.input.cart.currency != bundle.currency() {
        return Err(ApiError::unprocessable(
            ErrorCode::CurrencyMismatch,
            format!(
                "cart currency `{}` does not match bundle currency `{}`",
                req.input.cart.currency,
                bundle.currency()
            ),
        ));
    }
    let priced_at = req.input.context.now;
    if priced_at.seconds() < now.seconds().saturating_sub(window.max_quote_age) {
        return Err(ApiError::conflict(
            ErrorCode::QuoteExpired,
            format!(
                "the quote was priced at {priced_at}, more than {} s before the ledger's clock ({now})",
                window.max_quote_age
            ),
        ));
    }
    if priced_at.seconds() > now.seconds().saturating_add(window.max_clock_skew) {
        return Err(ApiError::conflict(
            ErrorCode::QuoteInFuture,
            format!("the quote was priced at {priced_at}, ahead of the ledger's clock ({now})"),
        ));
    }
    let currency = Currency::from_code(bundle.currency())
        .ok_or_else(|| ApiError::internal("a compiled bundle has an unknown currency"))?;
    let minor = |d: &DecimalString, field: &str| {
        currency.to_minor(d, &|| field.to_string()).map_err(|e| {
            ApiError::unprocessable(
                ErrorCode::InvalidQuote,
                format!("{}: {}", e.path, e.message),
            )
        })
    };
    let revoked;
    let input = match current {
        Some(c)
            if req
                .input
                .context
                .codes
                .iter()
                .any(|k| !c.bundle.knows_code(k)) =>
        {
            let mut input = req.input.clone();
            input.context.codes.retain(|k| c.bundle.knows_code(k));
            revoked = input;
            &revoked
        }
        _ => &req.input,
    };
    let mut evaluation = evaluate(bundle, input).map_err(|e| {
        let mut detail = json!({ "evaluatorCode": e.code() });
        if let (Some(f), Some(o)) = (e.field(), detail.as_object_mut()) {
            o.insert("path".into(), json!(f.path));
        }
        ApiError::unprocessable(ErrorCode::InvalidInput, e.to_string()).with_detail(detail)
    })?;
    evaluation.not_applied.clear();
    let discount_total = evaluation.discount_total.minor();
    let total = evaluation.total.minor();
    let quoted_discount = minor(&req.quote.discount_total, "quote.discountTotal")?;
    let quoted_total = minor(&req.quote.total, "quote.total")?;
    let mut differences = Vec::new();
    if quoted_discount != discount_total {
        differences.push(json!({"field": "discountTotal",
            "client": currency.format(quoted_discount), "ledger": currency.format(discount_total)}));
    }
    if quoted_total != total {
        differences.push(json!({"field": "total",
            "client": currency.format(quoted_total), "ledger": currency.format(total)}));
    }
    if let Some(quoted) = &req.quote.promotions {
        let mut client = BTreeMap::new();
        for (i, q) in quoted.iter().enumerate() {
            if bundle.limits_of(&q.promotion_id).is_none() {
                return Err(ApiError::unprocessable(
                    ErrorCode::UnknownPromotion,
                    format!(
                        "quote.promotions[{i}]: promotion `{}` is not in bundle `{}` version {}",
                        q.promotion_id,
                        bundle.id(),
                        bundle.version()
                    ),
                ));
            }
            let amount = minor(&q.amount, &format!("quote.promotions[{i}].amount"))?;
            if client.insert(q.promotion_id.as_str(), amount).is_some() {
                return Err(ApiError::unprocessable(
                    ErrorCode::InvalidQuote,
                    format!(
                        "quote.promotions[{i}]: promotion `{}` is listed twice",
                        q.promotion_id
                    ),
                ));
            }
        }
        let ledger: BTreeMap<&str, i64> = evaluation
            .applied
            .iter()
            .map(|a| (&*a.promotion_id, a.amount.minor()))
            .collect();
        for id in client
            .keys()
            .chain(ledger.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let (c, l) = (client.get(id), ledger.get(id));
            if c != l {
                differences.push(json!({"field": "promotions", "promotionId": id,
                    "client": c.map(|v| currency.format(*v)), "ledger": l.map(|v| currency.format(*v))}));
            }
        }
    }
    if !differences.is_empty() {
        // With codes entered, the ledger's side of a difference would tell a valid guessed
        // code from an invalid one (and what it gives): say which fields differ, with the
        // caller's own values only.
        if !req.input.context.codes.is_empty() {
            differences.retain(|d| !d["client"].is_null());
            for d in &mut differences {
                if let Some(o) = d.as_object_mut() {
                    o.remove("ledger");
                }
            }
        }
        return Err(ApiError::conflict(
            ErrorCode::AmountMismatch,
            "the ledger priced the cart differently from the quote",
        )
        .with_detail(json!({ "differences": differences })));
    }
    if let Some(c) = current {
        let grace_ends = c
            .accepted_at
            .seconds()
            .saturating_add(window.withdrawal_grace);
        if now.seconds() >= grace_ends {
            for a in &evaluation.applied {
                if c.bundle.live_at(&a.promotion_id, now) != Some(true) {
                    return Err(ApiError::conflict(
                        ErrorCode::PromotionWithdrawn,
                        format!(
                            "promotion `{}` is removed or paused in version {} of bundle `{}`; price the cart again",
                            a.promotion_id,
                            c.bundle.version(),
                            bundle.id()
                        ),
                    )
                    .with_detail(json!({
                        "promotionId": a.promotion_id,
                        "currentVersion": c.bundle.version(),
                    })));
                }
            }
        }
    }
    let increments = increments(loaded, current, &evaluation, req, now, secret)?;
    let applied = evaluation
        .applied
        .iter()
        .map(|a| Applied {
            promotion_id: a.promotion_id.to_string(),
            campaign: bundle.campaign_of(&a.promotion_id).map(str::to_string),
            amount: a.amount.minor(),
            code_hash: a.code.as_deref().map(|c| code_hash(secret, None, c)),
        })
        .collect();
    // What is stored and shown: codes masked (the keyed hashes above are the records).
    for a in &mut evaluation.applied {
        a.code = a.code.as_deref().map(mask);
    }
    for c in &mut evaluation.pending_ledger {
        c.code = c.code.as_deref().map(mask);
    }
    let cost = evaluation
        .lines
        .iter()
        .try_fold(0_i64, |acc, l| acc.checked_add(l.cost?.minor()));
    let receipt = promoseal_evaluator::to_json(&evaluation)
        .map_err(|e| ApiError::unprocessable(ErrorCode::InvalidInput, e.to_string()))?;
    Ok(Plan {
        currency,
        subtotal: evaluation.subtotal.minor(),
        discount_total,
        tax_total: evaluation.tax_total.minor(),
        total,
        cost,
        applied,
        increments,
        first_order: req
            .input
            .customer
            .as_ref()
            .and_then(|c| c.orders_count)
            .map(|n| n == 0),
        receipt,
    })
}

fn increments(
    loaded: &Loaded,
    current: Option<&Loaded>,
    evaluation: &Evaluation,
    req: &RedeemRequest,
    now: Instant,
    secret: &CodeSecret,
) -> Result<Vec<Increment>, ApiError> {
    let bundle = loaded.bundle.id();
    let day = jiff::Timestamp::from_second(now.seconds())
        .map(|t| t.to_zoned(loaded.time_zone.clone()).date().to_string())
        .map_err(ApiError::internal)?;
    let customer = req.input.customer.as_ref();
    let customer_key = customer
        .and_then(|c| c.id.as_deref().map(|id| format!("id:{id}")))
        .or_else(|| {
            customer
                .and_then(|c| c.email.as_deref())
                .map(|e| format!("email:{}", normalize_email(e)))
        });
    let mut out = Vec::new();
    for check in &evaluation.pending_ledger {
        let p: &str = &check.promotion_id;
        let reversal = loaded
            .bundle
            .limits_of(p)
            .map(|(l, _)| l.reversal)
            .unwrap_or_default();
        let mut push = |key: String, kind: LimitKind, max_uses: i64, amount: i64, max_amount| {
            out.push(Increment {
                key,
                kind,
                promotion_id: p.to_string(),
                uses: 1,
                max_uses,
                amount,
                max_amount,
                reversal,
            });
        };
        let cap = |n: u64| i64::try_from(n).unwrap_or(UNLIMITED).min(UNLIMITED);
        let LedgerCheck {
            total_uses,
            per_code,
            per_customer,
            per_day,
            budget,
            single_use_code,
            code,
            discount,
            ..
        } = check;
        // A limit a newer version lowered holds for the older one too.
        let newer = current.and_then(|c| c.bundle.limits_of(p));
        let lower = |old: &Option<u64>, new: Option<u64>| match (*old, new) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, _) => a,
        };
        let total_uses = &lower(total_uses, newer.and_then(|(l, _)| l.total_uses));
        let per_code = &lower(per_code, newer.and_then(|(l, _)| l.per_code));
        let per_customer = &lower(per_customer, newer.and_then(|(l, _)| l.per_customer));
        let per_day = &lower(per_day, newer.and_then(|(l, _)| l.per_day));
        let budget = &budget.map(|b| match newer.and_then(|(_, nb)| nb) {
            Some(nb) if nb < b.minor() => nb,
            _ => b.minor(),
        });
        if let Some(n) = total_uses {
            push(
                format!("total/{bundle}/{p}"),
                LimitKind::TotalUses,
                cap(*n),
                0,
                UNLIMITED,
            );
        }
        if let Some(b) = budget {
            push(
                format!("budget/{bundle}/{p}"),
                LimitKind::Budget,
                UNLIMITED,
                discount.minor(),
                *b,
            );
        }
        if let Some(code) = code
            .as_deref()
            .filter(|_| *single_use_code || per_code.is_some())
        {
            let (kind, max) = match (single_use_code, per_code) {
                (true, Some(n)) if *n < 1 => (LimitKind::PerCode, cap(*n)),
                (true, _) => (LimitKind::SingleUseCode, 1),
                (false, n) => (LimitKind::PerCode, cap(n.unwrap_or(u64::MAX))),
            };
            let hash = code_hash(secret, None, code);
            push(format!("code/{bundle}/{p}/{hash}"), kind, max, 0, UNLIMITED);
        }
        if let Some(n) = per_customer {
            let who = customer_key.as_deref().ok_or_else(|| {
                ApiError::unprocessable(
                    ErrorCode::CustomerRequired,
                    format!(
                        "promotion `{p}` is limited per customer: the input needs customer.id or customer.email"
                    ),
                )
            })?;
            push(
                format!("customer/{bundle}/{p}/{who}"),
                LimitKind::PerCustomer,
                cap(*n),
                0,
                UNLIMITED,
            );
        }
        if let Some(n) = per_day {
            push(
                format!("day/{bundle}/{p}/{day}"),
                LimitKind::PerDay,
                cap(*n),
                0,
                UNLIMITED,
            );
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{customer_fits, normalize_email};
    use promoseal_evaluator::model::CustomerSpec;

    #[test]
    fn a_customer_id_too_long_for_an_index_entry_is_refused() {
        let who = |id: String| CustomerSpec {
            id: Some(id),
            email: Some("a@example.com".into()),
            ..CustomerSpec::default()
        };
        customer_fits(Some(&who("c".repeat(255)))).unwrap();
        customer_fits(None).unwrap();
        for bad in ["c".repeat(256), "a\0b".to_string()] {
            let e = customer_fits(Some(&who(bad))).unwrap_err();
            assert_eq!((e.status, e.code.as_str()), (400, "invalidRequest"));
            assert_eq!(
                e.message,
                "input.customer.id: must be at most 255 bytes, without NUL"
            );
        }
    }

    #[test]
    fn emails_normalize_to_one_address_per_person() {
        assert_eq!(
            normalize_email(" J.Doe+promo@GoogleMail.com "),
            "jdoe@gmail.com"
        );
        assert_eq!(
            normalize_email("Ann.Lee+x@Example.COM"),
            "ann.lee@example.com"
        );
        assert_eq!(normalize_email("not-an-email"), "not-an-email");
    }
}
