//! Approvals are signatures: a role key signs a promotion's content digest, and every verifier
//! checks that the approvals a promotion carries cover what the trust root demands for it.
//!
//! The digest covers the promotion's terms and the bundle currency, never its code material:
//! `codeSet` is replaced by `locked: true`, so the edge and the storefront form of a promotion
//! have the same digest, and codes can be added or deactivated without a new approval.

use rust_decimal::Decimal;
use serde::Serialize;

use super::root::{ApprovalPolicy, AuthorizationLimits, Key, KeySpec, TrustRoot};
use super::{sha256, SigningIdentity};
use std::collections::HashMap;

use crate::model::{ApprovalSpec, BundlePayload, PromotionSpec, RewardSpec};
use crate::money::DecimalString;

/// Amounts per currency code.
type Limits = std::collections::BTreeMap<String, DecimalString>;
use crate::time::Instant;

/// Signature domain of approvals.
pub(crate) const APPROVAL: &str = "approval";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApprovedContent<'a> {
    approval: &'static str,
    currency: &'a str,
    promotion: &'a PromotionSpec,
}

/// SHA-256 of the canonical JSON of what an approver approves.
pub fn approval_digest(currency: &str, promotion: &PromotionSpec) -> [u8; 32] {
    let mut view = promotion.clone();
    view.locked |= view.code_set.take().is_some();
    let content = ApprovedContent {
        approval: "promoseal/1",
        currency,
        promotion: &view,
    };
    // Serializing plain data cannot fail; an empty digest input would never verify anyway.
    sha256(&serde_json::to_vec(&content).unwrap_or_default())
}

impl SigningIdentity {
    /// Approves one promotion of a bundle in `currency`.
    pub fn approve(&self, currency: &str, promotion: &PromotionSpec) -> ApprovalSpec {
        let s = self.sign(APPROVAL, &approval_digest(currency, promotion));
        ApprovalSpec {
            promotion: promotion.id.clone(),
            key_id: s.key_id,
            signature: s.sig,
        }
    }
}

/// The most a promotion can grant, as declared: its deepest percentage, its largest fixed
/// amount and its budget; what approval rules, authorization limits and lint policies measure.
/// `None` means the promotion has no such component.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Deepest percentage off, loyalty bonus included (capped at 100 as the evaluator does).
    /// Rewards that set a price (`fixedPrice`, volume `unitPrice` tiers) count as 100: the
    /// price may be far below the item's. Free items (`buyXGetY` without a percent) are 100.
    pub max_percent: Option<Decimal>,
    /// Largest fixed amount off (amountOff, amount tiers, shipping amount), in the bundle
    /// currency. `maxDiscount` is a cap, not an exposure, and is not counted.
    pub max_amount: Option<Decimal>,
    /// `limits.budget`.
    pub budget: Option<Decimal>,
}

impl Exposure {
    /// The exposure of one promotion.
    pub fn of(p: &PromotionSpec) -> Exposure {
        fn raise(slot: &mut Option<Decimal>, v: Decimal) {
            *slot = Some(slot.map_or(v, |s| s.max(v)));
        }
        let hundred = Decimal::ONE_HUNDRED;
        let bonus = p
            .loyalty_bonus
            .iter()
            .map(|b| b.percent.0)
            .max()
            .unwrap_or(Decimal::ZERO);
        let with_bonus = |d: Decimal| d.checked_add(bonus).map_or(hundred, |s| s.min(hundred));
        let mut percent = None;
        let mut amount = None;
        match &p.reward {
            RewardSpec::PercentOff { percent: x, .. } => raise(&mut percent, with_bonus(x.0)),
            RewardSpec::AmountOff { amount: a, .. } => raise(&mut amount, a.0),
            RewardSpec::FixedPrice { .. } => raise(&mut percent, hundred),
            RewardSpec::BuyXGetY { percent: x, .. } => {
                raise(&mut percent, x.map_or(hundred, |x| x.0));
            }
            RewardSpec::Tiered { tiers, .. } => {
                for t in tiers {
                    if let Some(x) = &t.percent {
                        raise(&mut percent, with_bonus(x.0));
                    }
                    if let Some(a) = &t.amount {
                        raise(&mut amount, a.0);
                    }
                }
            }
            RewardSpec::Volume { tiers } => {
                for t in tiers {
                    if let Some(x) = &t.percent {
                        raise(&mut percent, with_bonus(x.0));
                    }
                    if t.unit_price.is_some() {
                        raise(&mut percent, hundred);
                    }
                }
            }
            RewardSpec::ShippingOff {
                percent: x,
                amount: a,
                ..
            } => {
                match x {
                    Some(x) => raise(&mut percent, x.0),
                    // An amount off shipping can be all of a cheap shipping fee.
                    None => raise(&mut percent, hundred),
                }
                if let Some(a) = a {
                    raise(&mut amount, a.0);
                }
            }
        }
        Exposure {
            max_percent: percent.map(|d| d.normalize()),
            max_amount: amount,
            budget: p.limits.budget.map(|b| b.0),
        }
    }
}

fn above(value: Option<Decimal>, thresholds: &Limits, currency: &str) -> bool {
    match (value, thresholds.is_empty()) {
        (None, _) | (_, true) => false,
        (Some(v), false) => thresholds.get(currency).is_none_or(|t| v > t.0),
    }
}

impl ApprovalPolicy {
    /// The roles that must approve a promotion with this exposure, each once, in policy order.
    pub fn roles_for(&self, e: &Exposure, currency: &str) -> Vec<&str> {
        let mut roles: Vec<&str> = self.required.iter().map(String::as_str).collect();
        for rule in &self.rules {
            let triggered = rule
                .percent_above
                .is_some_and(|t| e.max_percent.is_some_and(|p| p > t.0))
                || above(e.max_amount, &rule.amount_above, currency)
                || above(e.budget, &rule.budget_above, currency);
            if triggered && !roles.contains(&rule.role.as_str()) {
                roles.push(&rule.role);
            }
        }
        roles
    }
}

impl AuthorizationLimits {
    /// Whether an approval under these limits covers the exposure. A promotion without a
    /// declared budget is not measured against budget limits (lint warns about it).
    pub fn covers(&self, e: &Exposure, currency: &str) -> bool {
        let within = |v: Option<Decimal>, m: &Limits| {
            v.is_none_or(|v| m.is_empty() || m.get(currency).is_some_and(|l| v <= l.0))
        };
        let percent_ok = match (e.max_percent, self.max_percent) {
            (Some(p), Some(l)) => p <= l.0,
            _ => true,
        };
        percent_ok && within(e.max_amount, &self.max_amount) && within(e.budget, &self.max_budget)
    }
}

/// Whether an approval by a key with these limits covers the exposure: no limits cover anything.
fn limits_cover(limits: Option<&AuthorizationLimits>, e: &Exposure, currency: &str) -> bool {
    limits.is_none_or(|l| l.covers(e, currency))
}

impl Key {
    fn covers(&self, e: &Exposure, currency: &str) -> bool {
        limits_cover(self.limits.as_ref(), e, currency)
    }
}

impl KeySpec {
    /// Whether an approval by this key covers the exposure (a key without limits covers
    /// anything): what a verifier counts, before the signature and the key's lifetime.
    pub fn covers(&self, e: &Exposure, currency: &str) -> bool {
        limits_cover(self.limits.as_ref(), e, currency)
    }
}

/// A promotion whose approvals fall short of what the trust root demands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uncovered {
    pub promotion: String,
    /// The first role short of approvals.
    pub role: String,
    /// Valid approvals by live keys of the role whose limits cover the promotion.
    pub valid: u32,
    pub required: u32,
}

/// Every promotion of a payload whose approvals do not cover it, in payload order.
pub fn uncovered(root: &TrustRoot, payload: &BundlePayload, now: Instant) -> Vec<Uncovered> {
    let mut by_promotion: HashMap<&str, Vec<&ApprovalSpec>> = HashMap::new();
    for a in &payload.approvals {
        by_promotion
            .entry(a.promotion.as_str())
            .or_default()
            .push(a);
    }
    payload
        .promotions
        .iter()
        .filter_map(|p| {
            let approvals = by_promotion
                .get(p.id.as_str())
                .map_or(&[][..], Vec::as_slice);
            missing_role(root, &payload.currency, p, approvals, now).map(
                |(role, valid, required)| Uncovered {
                    promotion: p.id.clone(),
                    role,
                    valid,
                    required,
                },
            )
        })
        .collect()
}

/// The first role a promotion's approvals fail to cover, with how many valid covering
/// approvals it had and how many the root wants; `None` when it is covered.
fn missing_role(
    root: &TrustRoot,
    currency: &str,
    promotion: &PromotionSpec,
    approvals: &[&ApprovalSpec],
    now: Instant,
) -> Option<(String, u32, u32)> {
    let exposure = Exposure::of(promotion);
    let roles = root.payload.approvals.roles_for(&exposure, currency);
    if roles.is_empty() {
        return None;
    }
    let digest = approval_digest(currency, promotion);
    let mut signers: Vec<&Key> = Vec::new();
    for a in approvals {
        if let Some(k) = root.key(&a.key_id) {
            if k.live(now)
                && !signers.iter().any(|s| s.id == k.id)
                && super::verify_signature(&k.key, APPROVAL, &digest, &a.signature)
            {
                signers.push(k);
            }
        }
    }
    roles.into_iter().find_map(|role| {
        let have = signers
            .iter()
            .filter(|k| k.has(role) && k.covers(&exposure, currency))
            .count() as u32;
        let need = root.threshold(role);
        (have < need).then(|| (role.to_string(), have, need))
    })
}

/// Why one approval does not count for a promotion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalRefusal {
    /// The trust root has no key with this id.
    UnknownKey,
    /// The key's `notAfter` has passed.
    KeyExpired,
    /// The signature is not the key's over these terms (forged, or made over other terms).
    BadSignature,
    /// The key holds none of the roles that must approve this promotion.
    NotAnApprover { required: Vec<String> },
    /// The promotion's exposure is beyond the key's authorization limits.
    BeyondLimit,
}

impl std::fmt::Display for ApprovalRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApprovalRefusal::UnknownKey => write!(f, "the trust root has no such key"),
            ApprovalRefusal::KeyExpired => write!(f, "the key has expired"),
            ApprovalRefusal::BadSignature => {
                write!(f, "the signature is not the key's over these terms")
            }
            ApprovalRefusal::NotAnApprover { required } if required.is_empty() => {
                write!(f, "this promotion needs no approval")
            }
            ApprovalRefusal::NotAnApprover { required } => write!(
                f,
                "the key holds none of the roles that must approve this promotion ({})",
                required.join(", ")
            ),
            ApprovalRefusal::BeyondLimit => {
                write!(f, "the promotion is beyond the key's authorization limit")
            }
        }
    }
}

/// The bytes an approver's key signs for a promotion whose approval digest is `digest`: what
/// a browser holding the key (WebCrypto Ed25519) signs, exactly as `promoseal approve` does.
pub fn approval_message(digest: &[u8; 32]) -> Vec<u8> {
    super::signing_message(APPROVAL, digest)
}

/// Judges one approval of a promotion as every verifier will: the key is the root's and live,
/// the signature is its over these exact terms, it holds a role the promotion needs, and the
/// promotion is within its limits. `Ok` holds the needed roles the approval counts for.
pub fn judge_approval(
    root: &TrustRoot,
    currency: &str,
    promotion: &PromotionSpec,
    approval: &ApprovalSpec,
    now: Instant,
) -> Result<Vec<String>, ApprovalRefusal> {
    let key = root
        .key(&approval.key_id)
        .ok_or(ApprovalRefusal::UnknownKey)?;
    if !key.live(now) {
        return Err(ApprovalRefusal::KeyExpired);
    }
    let digest = approval_digest(currency, promotion);
    if approval.promotion != promotion.id
        || !super::verify_signature(&key.key, APPROVAL, &digest, &approval.signature)
    {
        return Err(ApprovalRefusal::BadSignature);
    }
    let exposure = Exposure::of(promotion);
    let required = root.payload.approvals.roles_for(&exposure, currency);
    let held: Vec<String> = required
        .iter()
        .filter(|r| key.has(r))
        .map(|r| r.to_string())
        .collect();
    if held.is_empty() {
        return Err(ApprovalRefusal::NotAnApprover {
            required: required.iter().map(|r| r.to_string()).collect(),
        });
    }
    if !key.covers(&exposure, currency) {
        return Err(ApprovalRefusal::BeyondLimit);
    }
    Ok(held)
}
