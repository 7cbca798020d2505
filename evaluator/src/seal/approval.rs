//! Approvals are signatures: a role key signs a promotion's content digest, and every verifier
//! checks that the approvals a promotion carries cover what the trust root demands for it.
//!
//! The digest covers the promotion's terms and the bundle currency, never its code material:
//! `codeSet` is replaced by `locked: true`, so the edge and the storefront form of a promotion
//! have the same digest, and codes can be added or deactivated without a new approval.

use rust_decimal::Decimal;
use serde::Serialize;

use super::root::{ApprovalPolicy, AuthorizationLimits, Key, TrustRoot};
use super::{sha256, SigningIdentity};
use crate::model::{ApprovalSpec, PromotionSpec, RewardSpec};
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

/// The most a promotion can give, as approval rules and authorization limits measure it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exposure {
    /// Largest percentage off (a free or fixed-price item counts as 100).
    pub max_percent: Option<DecimalString>,
    /// Largest fixed amount off, in the bundle currency.
    pub max_amount: Option<DecimalString>,
    /// The declared budget (`limits.budget`).
    pub budget: Option<DecimalString>,
}

impl Exposure {
    pub fn of(p: &PromotionSpec) -> Exposure {
        let hundred = Decimal::ONE_HUNDRED;
        let mut max_percent: Option<Decimal> = None;
        let mut percent = |v: Decimal| max_percent = Some(max_percent.map_or(v, |m| m.max(v)));
        let mut amounts: Vec<Decimal> = Vec::new();
        let loyalty = p
            .loyalty_bonus
            .iter()
            .map(|b| b.percent.0)
            .max()
            .unwrap_or_default();
        match &p.reward {
            RewardSpec::PercentOff { percent: v, .. } => percent((v.0 + loyalty).min(hundred)),
            RewardSpec::AmountOff { amount, .. } => amounts.push(amount.0),
            RewardSpec::FixedPrice { .. } => percent(hundred),
            RewardSpec::BuyXGetY { percent: v, .. } => percent(v.map_or(hundred, |v| v.0)),
            RewardSpec::Tiered { tiers, .. } => {
                for t in tiers {
                    if let Some(v) = t.percent {
                        percent(v.0);
                    }
                    amounts.extend(t.amount.map(|a| a.0));
                }
            }
            RewardSpec::Volume { tiers } => {
                for t in tiers {
                    // A tier unit price may be far below the item price: count it as 100.
                    percent(t.percent.map_or(hundred, |v| v.0));
                }
            }
            RewardSpec::ShippingOff {
                percent: v, amount, ..
            } => match (v, amount) {
                (_, Some(a)) => amounts.push(a.0),
                (Some(v), None) => percent(v.0),
                (None, None) => percent(hundred),
            },
        }
        Exposure {
            max_percent: max_percent.map(DecimalString),
            max_amount: amounts.into_iter().max().map(DecimalString),
            budget: p.limits.budget,
        }
    }
}

fn above(value: Option<DecimalString>, thresholds: &Limits, currency: &str) -> bool {
    match (value, thresholds.is_empty()) {
        (None, _) | (_, true) => false,
        (Some(v), false) => thresholds.get(currency).is_none_or(|t| v.0 > t.0),
    }
}

impl ApprovalPolicy {
    /// The roles that must approve a promotion with this exposure, each once, in policy order.
    pub fn roles_for(&self, e: &Exposure, currency: &str) -> Vec<&str> {
        let mut roles: Vec<&str> = self.required.iter().map(String::as_str).collect();
        for rule in &self.rules {
            let triggered = rule
                .percent_above
                .is_some_and(|t| e.max_percent.is_some_and(|p| p.0 > t.0))
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
        let within = |v: Option<DecimalString>, m: &Limits| {
            v.is_none_or(|v| m.is_empty() || m.get(currency).is_some_and(|l| v.0 <= l.0))
        };
        let percent_ok = match (e.max_percent, self.max_percent) {
            (Some(p), Some(l)) => p.0 <= l.0,
            _ => true,
        };
        percent_ok && within(e.max_amount, &self.max_amount) && within(e.budget, &self.max_budget)
    }
}

impl Key {
    fn covers(&self, e: &Exposure, currency: &str) -> bool {
        self.limits.as_ref().is_none_or(|l| l.covers(e, currency))
    }
}

/// The first role a promotion's approvals fail to cover, with how many valid covering
/// approvals it had and how many the root wants; `None` when it is covered.
pub(crate) fn missing_approval(
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
