//! Which promotions may apply to a cart, and why the others may not.
//!
//! A promotion is looked at when the bundle's index says a line may match it (or it targets every
//! line). Then, in order: the lines it targets ([`matching`]), the conditions on who, when and
//! which code ([`gate`]: an entered code of the promotion's set, else a code grant), shipping
//! eligibility, and the thresholds (subtotal, quantity, the lowest tier) on the targeted lines.
//! What passes is a [`Candidate`] with what it gives on its own; what fails carries a [`Reason`],
//! and a promotion held back only by spend or quantity an [`Unlock`] hint.

use crate::codes::CodeHash;
use crate::compile::{
    Bundle, CodeMatcher, CodeSet, Input, Pairing, Promotion, Reward, Selector, TierReward,
};
use crate::error::EvaluationError;
use crate::evaluation::{CodeUnlock, Reason, SpendExcess, SpendShortfall, Unlock};
use crate::model::TierBasis;
use crate::money::{Amount, Percent};

use super::rewards::Effect;
use super::{overflow, Ctx};

/// Promotions the input's code grants unlock: grants signed by an `edge` key of the root the
/// bundle was verified with, for this bundle and audience, live at `now`, issued to the input's
/// subject (when they name one). Invalid grants unlock nothing and are not errors.
#[cfg(feature = "verify")]
pub(super) fn granted_promotions(bundle: &Bundle, input: &Input<'_>) -> Vec<String> {
    input
        .grants
        .iter()
        .filter_map(|t| bundle.check_grant(t, input.now, input.subject).ok())
        .map(|c| c.promotion)
        .collect()
}

#[cfg(not(feature = "verify"))]
pub(super) fn granted_promotions(_: &Bundle, _: &Input<'_>) -> Vec<String> {
    Vec::new()
}

/// Keyed hashes of the entered codes, in their order, when the bundle has the code secret and
/// hashed code sets; empty otherwise.
pub(super) fn entered_code_hashes(bundle: &Bundle, input: &Input<'_>) -> Vec<CodeHash> {
    match &bundle.code_secret {
        Some(secret)
            if bundle
                .code_sets
                .iter()
                .any(|c| matches!(c.matcher, CodeMatcher::Hashed(_))) =>
        {
            input
                .codes
                .iter()
                .map(|c| secret.hash_normalized(c))
                .collect()
        }
        _ => Vec::new(),
    }
}

impl Ctx<'_> {
    /// The first entered code that belongs to the set, in its canonical spelling: as
    /// normalized, and a generated code as the campaign writes it (`O` typed for `0`, `I` or
    /// `L` for `1` name the same code, and every per-code record must see one code).
    fn entered_code(&self, set: &CodeSet) -> Option<String> {
        let codes = &self.input.codes;
        if !set.active {
            return None;
        }
        match &set.matcher {
            CodeMatcher::Plain(list) => codes
                .iter()
                .find(|c| list.binary_search(c).is_ok())
                .cloned(),
            CodeMatcher::Hashed(hashes) => codes
                .iter()
                .zip(&self.code_hashes)
                .find(|(_, h)| hashes.binary_search(h).is_ok())
                .map(|(c, _)| c.clone()),
            CodeMatcher::Generated { campaign, revoked } => {
                let secret = self.bundle.code_secret.as_ref()?;
                codes.iter().find_map(|c| {
                    secret
                        .check(campaign, c)
                        .filter(|serial| revoked.binary_search(serial).is_err())
                        .and_then(|serial| secret.generate(campaign, serial))
                })
            }
        }
    }
}

/// An eligible promotion, with what it targets and what it gives on its own.
#[derive(Clone)]
pub(crate) struct Candidate<'a> {
    /// Position in the bundle's application order.
    pub order: usize,
    pub promo: &'a Promotion,
    /// Targeted, in-stock lines in cart order.
    pub lines: Vec<u16>,
    /// Buy-X-get-Y: the lines whose units may be given (`lines` when it has no `getItems`);
    /// empty for every other reward.
    pub get_lines: Vec<u16>,
    /// The percentage of a percentage reward, loyalty bonus included.
    pub percent: Percent,
    /// The tier reached (tiered rewards).
    pub tier: Option<TierReward>,
    pub code: Option<String>,
    /// What this promotion takes off on its own.
    pub alone: Effect,
    /// Bit set of the lines it may discount (`lines` ∪ `get_lines`).
    pub mask: Vec<u64>,
}

impl Candidate<'_> {
    /// Whether both may apply ([`Promotion::pairing`]): two product discounts that only meet
    /// on different lines combine when no line is discounted by both.
    pub fn compatible(&self, other: &Candidate) -> bool {
        match self.promo.pairing(other.promo) {
            Pairing::Always => true,
            Pairing::Never => false,
            Pairing::DisjointLines => self.mask.iter().zip(&other.mask).all(|(x, y)| x & y == 0),
        }
    }
}

fn line_mask(n: usize, lines: &[u16], more: &[u16]) -> Vec<u64> {
    let mut mask = vec![0_u64; n.div_ceil(64)];
    for &i in lines.iter().chain(more) {
        if let Some(w) = mask.get_mut(usize::from(i) / 64) {
            *w |= 1 << (i % 64);
        }
    }
    mask
}

/// Which lines each promotion's include lists hit, from the bundle's index: `(promotion, line)`
/// pairs sorted and deduplicated. Promotions that target every line are not listed: they are
/// always looked at. Only these promotions are looked at closely.
fn index_hits(bundle: &Bundle, input: &Input<'_>) -> Vec<(u32, u16)> {
    let idx = &bundle.index;
    let mut hits = Vec::with_capacity(input.lines.len() * 4);
    for (i, line) in input.lines.iter().enumerate() {
        let Ok(i) = u16::try_from(i) else { break };
        let mut add = |ids: Option<&Vec<u32>>| {
            hits.extend(ids.into_iter().flatten().map(|&p| (p, i)));
        };
        add(idx.by_sku.get(line.item.sku));
        if let Some(p) = line.item.product {
            add(idx.by_product.get(p));
        }
        if let Some(b) = line.item.brand {
            add(idx.by_brand.get(b));
        }
        for c in line.item.categories {
            add(idx.by_category.get(c));
        }
        for t in line.item.tags {
            add(idx.by_tag.get(t));
        }
    }
    hits.sort_unstable();
    hits.dedup();
    hits
}

/// What is missing for a promotion held back only by thresholds.
struct Gap {
    spend: i64,
    quantity: u64,
    tier: Option<TierReward>,
}

enum Verdict<'a> {
    Eligible(Candidate<'a>),
    Ineligible(Reason, Option<(Candidate<'a>, Gap)>),
}

/// The targeted, in-stock lines among `among` (every line when `None`).
fn matching(ctx: &Ctx, sel: &Selector, among: Option<&[u16]>) -> Result<Vec<u16>, Reason> {
    let mut matched = false;
    let mut lines = Vec::with_capacity(among.map_or(ctx.input.lines.len(), <[u16]>::len));
    let mut consider = |i: u16| {
        if let Some(l) = ctx.input.lines.get(usize::from(i)) {
            if sel.matches(&l.item) {
                matched = true;
                if !l.out_of_stock() {
                    lines.push(i);
                }
            }
        }
    };
    match among {
        Some(hits) => hits.iter().copied().for_each(&mut consider),
        None => (0..ctx.input.lines.len())
            .filter_map(|i| u16::try_from(i).ok())
            .for_each(&mut consider),
    }
    match (matched, lines.is_empty()) {
        (false, _) => Err(Reason::NoEligibleItems),
        (true, true) => Err(Reason::OutOfStock),
        _ => Ok(lines),
    }
}

/// The conditions on who, when and which code, in order: schedule, window, channel, customer,
/// region, then the code (an entered code of the promotion's set, else a grant). `Ok` carries
/// the entered code, if any.
fn gate(ctx: &Ctx, promo: &Promotion) -> Result<Option<String>, Reason> {
    let input = ctx.input;
    let now = input.now;
    if let Some(s) = promo.starts_at {
        if now < s {
            return Err(Reason::NotStarted { starts_at: s });
        }
    }
    if let Some(e) = promo.ends_at {
        if now >= e {
            return Err(Reason::Ended { ended_at: e });
        }
    }
    if let Some(iv) = &promo.intervals {
        if !iv.iter().any(|(s, e)| *s <= now && now < *e) {
            let next_start = iv.iter().map(|(s, _)| *s).find(|s| *s > now);
            return Err(Reason::OutsideWindow { next_start });
        }
    }
    let cond = &promo.conditions;
    if !cond.channels.is_empty() && !cond.channels.contains_opt(input.channel) {
        return Err(Reason::ChannelMismatch {
            channel: input.channel.map(str::to_string),
        });
    }
    let customer = &input.customer;
    if !cond.customer_tiers.is_empty()
        && !cond.customer_tiers.contains_opt(customer.tier.as_deref())
    {
        return Err(Reason::CustomerTierMismatch);
    }
    if !cond.customer_segments.is_empty() && !cond.customer_segments.any(&customer.segments) {
        return Err(Reason::SegmentMismatch);
    }
    if let Some(first) = cond.first_order {
        let is_first = customer.orders_count == Some(0);
        let is_returning = customer.orders_count.is_some_and(|n| n > 0);
        if (first && !is_first) || (!first && !is_returning) {
            return Err(Reason::FirstOrderMismatch { required: first });
        }
    }
    if !cond.regions.is_empty() && !cond.regions.contains_opt(customer.region.as_deref()) {
        return Err(Reason::RegionMismatch);
    }
    if promo.code_set.is_none() && !promo.locked {
        return Ok(None);
    }
    let entered = promo
        .code_set
        .and_then(|k| ctx.bundle.code_sets.get(k))
        .and_then(|set| ctx.entered_code(set));
    match entered {
        Some(c) => Ok(Some(c)),
        None if ctx.granted.iter().any(|g| **g == *promo.id) => Ok(None),
        None => Err(Reason::CodeMissing),
    }
}

fn check<'a>(ctx: &Ctx, order: usize, promo: &'a Promotion, hits: Option<&[u16]>) -> Verdict<'a> {
    let input = ctx.input;
    let fail = |r: Reason| Verdict::Ineligible(r, None);
    let lines = match matching(ctx, &promo.items, hits) {
        Ok(l) => l,
        Err(r) => return fail(r),
    };
    let code = match gate(ctx, promo) {
        Ok(code) => code,
        Err(r) => return fail(r),
    };
    let cond = &promo.conditions;
    if let Reward::Shipping {
        methods, countries, ..
    } = &promo.reward
    {
        let ok = input
            .shipments
            .iter()
            .any(|s| super::ships_to(methods, countries, s));
        if !ok {
            return fail(Reason::ShippingNotEligible);
        }
    }
    let get_lines = match &promo.reward {
        Reward::BuyXGetY {
            get_items: Some(sel),
            ..
        } => match matching(ctx, sel, None) {
            Ok(l) => l,
            Err(r) => return fail(r),
        },
        Reward::BuyXGetY {
            get_items: None, ..
        } => lines.clone(),
        _ => Vec::new(),
    };
    let percent = match &promo.reward {
        Reward::PercentOffLines(p) | Reward::PercentOffOrder(p) => ctx.with_loyalty(promo, *p),
        _ => Percent::ZERO,
    };
    let mut cand = Candidate {
        order,
        promo,
        lines,
        get_lines,
        percent,
        tier: None,
        code,
        alone: Effect::default(),
        mask: Vec::new(),
    };
    cand.mask = line_mask(input.lines.len(), &cand.lines, &cand.get_lines);

    // Thresholds, on the targeted lines before any discount.
    let currency = ctx.bundle.currency;
    let (mut subtotal, mut quantity) = (0_i64, 0_u64);
    for &i in &cand.lines {
        if let Some(l) = input.lines.get(usize::from(i)) {
            subtotal = subtotal.saturating_add(l.amount);
            quantity = quantity.saturating_add(l.quantity);
        }
    }
    let mut reason: Option<Reason> = None;
    let mut gap = Gap {
        spend: 0,
        quantity: 0,
        tier: None,
    };
    if let Some(min) = cond.min_subtotal {
        if subtotal < min {
            gap.spend = min - subtotal;
            reason = Some(Reason::BelowMinimumSubtotal(Box::new(SpendShortfall {
                minimum: Amount::new(min, currency),
                current: Amount::new(subtotal, currency),
                missing: Amount::new(min - subtotal, currency),
            })));
        }
    }
    if let Some(max) = cond.max_subtotal {
        if subtotal > max {
            return fail(Reason::AboveMaximumSubtotal(Box::new(SpendExcess {
                maximum: Amount::new(max, currency),
                current: Amount::new(subtotal, currency),
            })));
        }
    }
    if let Some(min) = cond.min_quantity {
        if quantity < min {
            gap.quantity = min - quantity;
            reason.get_or_insert(Reason::BelowMinimumQuantity {
                minimum: min,
                current: quantity,
                missing: min - quantity,
            });
        }
    }
    if let Reward::Tiered { basis, tiers } = &promo.reward {
        let reached = match basis {
            TierBasis::Quantity => i64::try_from(quantity).unwrap_or(i64::MAX),
            TierBasis::Spend => subtotal,
        };
        cand.tier = tiers
            .iter()
            .rev()
            .find(|t| t.threshold <= reached)
            .map(|t| t.reward);
        if cand.tier.is_none() {
            if let Some(lowest) = tiers.first() {
                let missing = lowest.threshold - reached;
                gap.tier = Some(lowest.reward);
                match basis {
                    TierBasis::Quantity => {
                        let missing = u64::try_from(missing).unwrap_or(0);
                        gap.quantity = gap.quantity.max(missing);
                        reason.get_or_insert(Reason::BelowMinimumQuantity {
                            minimum: u64::try_from(lowest.threshold).unwrap_or(0),
                            current: quantity,
                            missing,
                        });
                    }
                    TierBasis::Spend => {
                        gap.spend = gap.spend.max(missing);
                        reason.get_or_insert(Reason::BelowMinimumSubtotal(Box::new(
                            SpendShortfall {
                                minimum: Amount::new(lowest.threshold, currency),
                                current: Amount::new(subtotal, currency),
                                missing: Amount::new(missing, currency),
                            },
                        )));
                    }
                }
            }
        }
    }
    if let Reward::BuyXGetY {
        buy,
        get,
        get_items: None,
        partial,
        ..
    } = &promo.reward
    {
        // One unit to give beyond those bought, with partial groups; a whole group otherwise.
        let need = buy.saturating_add(if *partial { 1 } else { *get });
        if quantity < need {
            // Not an unlock hint: at the current cart there is no unit to give yet.
            return fail(reason.unwrap_or(Reason::BelowMinimumQuantity {
                minimum: need,
                current: quantity,
                missing: need - quantity,
            }));
        }
    }
    match reason {
        None => Verdict::Eligible(cand),
        Some(r) => {
            // Adding the missing spend must not push the subtotal above a maximum.
            let hint_ok = cond
                .max_subtotal
                .is_none_or(|max| subtotal.saturating_add(gap.spend) <= max);
            if hint_ok {
                cand.tier = gap.tier.or(cand.tier);
                Verdict::Ineligible(r, Some((cand, gap)))
            } else {
                Verdict::Ineligible(r, None)
            }
        }
    }
}

/// Every promotion judged on its own: the eligible ones with their standalone effects, the
/// others with their reasons, and unlock hints.
pub(crate) struct Assessment<'a> {
    pub eligible: Vec<Candidate<'a>>,
    pub not_applied: Vec<(u32, Reason)>,
    pub untargeted: Vec<u64>,
    pub unlocks: Vec<Unlock>,
}

pub(crate) fn assess<'a>(ctx: &Ctx<'a>) -> Result<Assessment<'a>, EvaluationError> {
    let bundle = ctx.bundle;
    let hits = index_hits(bundle, ctx.input);
    let mut cursor = 0;
    let currency = bundle.currency;
    let n = bundle.promotions.len();
    // Every promotion starts untargeted; those the cart's lines hit (or that target every line)
    // are looked at, in application order.
    let mut untargeted = vec![u64::MAX; n.div_ceil(64)];
    let mut looked_at: Vec<u32> = hits.iter().map(|(p, _)| *p).collect();
    looked_at.extend_from_slice(&bundle.index.all_lines);
    looked_at.sort_unstable();
    looked_at.dedup();
    let mut not_applied: Vec<(u32, Reason)> = Vec::with_capacity(looked_at.len());
    let mut unlocks = Vec::new();
    let mut eligible: Vec<Candidate> = Vec::new();
    let mut scratch = Vec::with_capacity(ctx.original.len());
    let mut hit_lines: Vec<u16> = Vec::new();
    for &p in &looked_at {
        let order = p as usize;
        let Some(promo) = bundle.promotions.get(order) else {
            continue;
        };
        if let Some(w) = untargeted.get_mut(order / 64) {
            *w &= !(1 << (order % 64));
        }
        hit_lines.clear();
        while let Some(&(q, line)) = hits.get(cursor) {
            if q > p {
                break;
            }
            if q == p {
                hit_lines.push(line);
            }
            cursor += 1;
        }
        let among = if promo.items.includes_all() {
            None
        } else {
            Some(hit_lines.as_slice())
        };
        match check(ctx, order, promo, among) {
            Verdict::Eligible(mut cand) => {
                let effect = ctx.alone(&cand, &mut scratch)?;
                if effect.total() == Some(0) {
                    not_applied.push((p, Reason::NoDiscount));
                } else {
                    cand.alone = effect;
                    eligible.push(cand);
                }
            }
            Verdict::Ineligible(reason, hint) => {
                if let Some((cand, gap)) = hint {
                    let would_give = ctx
                        .alone(&cand, &mut scratch)?
                        .total()
                        .ok_or_else(|| overflow("discount"))?;
                    if would_give > 0 {
                        unlocks.push(Unlock {
                            promotion_id: promo.id.clone(),
                            name: promo.name.clone(),
                            missing_spend: (gap.spend > 0)
                                .then(|| Amount::new(gap.spend, currency)),
                            missing_quantity: (gap.quantity > 0).then_some(gap.quantity),
                            would_give: Amount::new(would_give, currency),
                        });
                    }
                }
                not_applied.push((p, reason));
            }
        }
    }
    // Bits past the last promotion are not promotions.
    if let Some(last) = untargeted.last_mut() {
        if n % 64 != 0 {
            *last &= (1_u64 << (n % 64)) - 1;
        }
    }
    Ok(Assessment {
        eligible,
        not_applied,
        untargeted,
        unlocks,
    })
}

/// The code-gated promotions an input's entered codes unlock, whatever the cart holds: the
/// promotion's code set holds an entered code, and its schedule, window, channel, customer and
/// region conditions hold at `input.now`. Grants do not count. Every code-gated promotion is
/// checked, matched or not (no early exit on the first match).
pub(crate) fn code_unlocks(
    bundle: &Bundle,
    input: &Input<'_>,
) -> Result<Vec<CodeUnlock>, EvaluationError> {
    let ctx = Ctx::new(bundle, input)?;
    let mut unlocked = Vec::new();
    for promo in bundle.promotions.iter().filter(|p| p.code_set.is_some()) {
        if let Ok(Some(_)) = gate(&ctx, promo) {
            unlocked.push(CodeUnlock {
                promotion_id: promo.id.clone(),
                name: promo.name.clone(),
            });
        }
    }
    Ok(unlocked)
}
