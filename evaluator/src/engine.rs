//! Evaluation: which promotions are eligible, what each would give, which combination is best
//! for the shopper, and the explained result.

use std::sync::Arc;

use crate::allocate::{allocate, allocate_slots, clamp_and_respread, Slot};
use crate::codes::CodeHash;
use crate::compile::{
    Bundle, CodeMatcher, CodeSet, Floor, Input, Promotion, Reward, Selector, TierReward,
    VolumeReward,
};
use crate::error::EvaluationError;
use crate::evaluation::{
    Allocation as AllocationOut, AppliedDiscount, CodeUnlock, Evaluation, LedgerCheck, LineAmount,
    LineOutcome, NotApplied, Reason, ShippingOutcome, SpendExcess, SpendShortfall, Unlock,
};
use crate::model::{
    AmountPer, Compounding, DiscountClass, FixedAmountBasis, RoundingPoint, TaxMode, TierBasis,
};
use crate::money::{
    div_round, gross_up, net_of, percent_of, Amount, Percent, Rounding, PERCENT_UNIT,
};
use crate::select;

const HUNDRED: i128 = 100 * PERCENT_UNIT as i128;

/// Promotions the input's code grants unlock: grants signed by an `edge` key of the root the
/// bundle was verified with, for this bundle and audience, live at `now`, issued to the input's
/// subject (when they name one). Invalid grants unlock nothing and are not errors.
#[cfg(feature = "verify")]
fn granted_promotions(bundle: &Bundle, input: &Input<'_>) -> Vec<String> {
    input
        .grants
        .iter()
        .filter_map(|t| bundle.check_grant(t, input.now, input.subject).ok())
        .map(|c| c.promotion)
        .collect()
}

#[cfg(not(feature = "verify"))]
fn granted_promotions(_: &Bundle, _: &Input<'_>) -> Vec<String> {
    Vec::new()
}

/// Everything about one evaluation that does not change while combinations are tried.
pub(crate) struct Ctx<'a> {
    pub bundle: &'a Bundle,
    pub input: &'a Input<'a>,
    /// `ranks[line]`: the line's position in line-id order (tie-breaks).
    pub ranks: Vec<u32>,
    /// The lowest amount each line may be discounted to.
    pub floors: Vec<i64>,
    pub original: Vec<i64>,
    pub shipping: i64,
    /// What the shopper would pay with no promotion at all.
    pub baseline_payable: i64,
    /// Keyed hashes of the entered codes (when the bundle has the code secret and hashed sets).
    code_hashes: Vec<CodeHash>,
    /// Promotions unlocked by valid code grants.
    granted: Vec<String>,
}

/// An eligible promotion, with what it targets and what it gives on its own.
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
    /// What the shopper saves with this promotion alone.
    pub saving: i64,
    /// What this promotion takes off on its own.
    pub alone: Effect,
    /// Bit set of the lines it may discount (`lines` ∪ `get_lines`).
    pub mask: Vec<u64>,
}

impl Candidate<'_> {
    /// Whether both may apply: neither is exclusive, they are not in one group, and each accepts
    /// the other's class — except that two product discounts on different lines never meet.
    pub fn compatible(&self, other: &Candidate) -> bool {
        let (a, b) = (self.promo, other.promo);
        if a.always_conflicts(b) {
            return false;
        }
        if a.classes_combine(b) {
            return true;
        }
        a.class == DiscountClass::Product
            && b.class == DiscountClass::Product
            && self.mask.iter().zip(&other.mask).all(|(x, y)| x & y == 0)
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

/// What one promotion takes off: per line (dense, cart order) and off shipping.
#[derive(Clone, Debug, Default)]
pub(crate) struct Effect {
    pub lines: Vec<i64>,
    pub shipping: i64,
}

impl Effect {
    pub fn total(&self) -> Option<i64> {
        self.lines
            .iter()
            .try_fold(self.shipping, |a, d| a.checked_add(*d))
    }
}

/// A combination applied to the cart.
pub(crate) struct Outcome {
    pub effects: Vec<Effect>,
    pub remaining: Vec<i64>,
    pub shipping_remaining: i64,
    pub payable: i64,
    pub discount: i64,
}

fn overflow(what: &str) -> EvaluationError {
    EvaluationError::Overflow(what.to_string())
}

fn at<T: Copy + Default>(v: &[T], i: usize) -> T {
    v.get(i).copied().unwrap_or_default()
}

impl<'a> Ctx<'a> {
    /// The context of one evaluation; an expired bundle evaluates nothing.
    pub fn new(bundle: &'a Bundle, input: &'a Input<'a>) -> Result<Ctx<'a>, EvaluationError> {
        if input.now >= bundle.expires_at {
            return Err(EvaluationError::BundleExpired {
                bundle_id: bundle.id.to_string(),
                expires_at: bundle.expires_at.to_string(),
                now: input.now.to_string(),
            });
        }
        let n = input.lines.len();
        let mut ranks = vec![0_u32; n];
        for (rank, &line) in input.by_id.iter().enumerate() {
            if let Some(r) = ranks.get_mut(usize::from(line)) {
                *r = u32::try_from(rank).unwrap_or(u32::MAX);
            }
        }
        let rounding = bundle.policy.spec.rounding;
        let floors = input
            .lines
            .iter()
            .map(|l| match bundle.policy.floor {
                None => Some(0),
                Some(Floor::PercentOfOriginal(p)) => percent_of(l.amount, p, rounding),
                Some(Floor::PerUnit(u)) => i64::try_from(l.quantity)
                    .ok()
                    .and_then(|q| u.checked_mul(q))
                    .map(|f| f.min(l.amount)),
            })
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| overflow("line floor"))?;
        let original: Vec<i64> = input.lines.iter().map(|l| l.amount).collect();
        let shipping = input.shipping.as_ref().map_or(0, |s| s.amount);
        let mut ctx = Ctx {
            bundle,
            input,
            ranks,
            floors,
            original,
            shipping,
            baseline_payable: 0,
            code_hashes: match &bundle.code_secret {
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
            },
            granted: granted_promotions(bundle, input),
        };
        ctx.baseline_payable = ctx
            .payable(&ctx.original, shipping)
            .ok_or_else(|| overflow("cart total"))?;
        Ok(ctx)
    }

    fn rounding(&self) -> Rounding {
        self.bundle.policy.spec.rounding
    }

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

    fn inclusive(&self) -> bool {
        self.bundle.policy.spec.tax_mode == TaxMode::Inclusive
    }

    /// Tax on a line or shipping amount as it stands.
    pub fn tax(&self, amount: i64, rate: Percent) -> Option<i64> {
        if self.inclusive() {
            net_of(amount, rate, self.rounding()).map(|net| amount - net)
        } else {
            percent_of(amount, rate, self.rounding())
        }
    }

    /// What the shopper pays for line `i` at `amount` (tax added when prices exclude it).
    pub fn line_payable(&self, i: usize, amount: i64) -> Option<i64> {
        if self.inclusive() {
            return Some(amount);
        }
        let rate = self
            .input
            .lines
            .get(i)
            .map_or(Percent::ZERO, |l| l.tax_rate);
        amount.checked_add(self.tax(amount, rate)?)
    }

    /// What the shopper pays for shipping at `amount`.
    pub fn shipping_payable(&self, amount: i64) -> Option<i64> {
        if self.inclusive() {
            return Some(amount);
        }
        let rate = self
            .input
            .shipping
            .as_ref()
            .map_or(Percent::ZERO, |s| s.tax_rate);
        amount.checked_add(self.tax(amount, rate)?)
    }

    /// What the shopper pays for these line amounts and this shipping amount.
    pub fn payable(&self, lines: &[i64], shipping: i64) -> Option<i64> {
        let mut total = shipping;
        if !self.inclusive() {
            let ship_rate = self
                .input
                .shipping
                .as_ref()
                .map_or(Percent::ZERO, |s| s.tax_rate);
            total = total.checked_add(self.tax(shipping, ship_rate)?)?;
        }
        for (line, amount) in self.input.lines.iter().zip(lines) {
            total = total.checked_add(*amount)?;
            if !self.inclusive() {
                total = total.checked_add(self.tax(*amount, line.tax_rate)?)?;
            }
        }
        Some(total)
    }

    /// A percentage of a line amount, rounded at the declared point.
    fn percent_of_line(&self, amount: i64, quantity: u64, p: Percent) -> Option<i64> {
        match self.bundle.policy.spec.rounding_point {
            RoundingPoint::Line => percent_of(amount, p, self.rounding()),
            RoundingPoint::Unit => {
                let q = i128::from(quantity);
                let num = i128::from(amount).checked_mul(i128::from(p.units()))?;
                let per_unit = div_round(num, HUNDRED.checked_mul(q)?, self.rounding())?;
                i64::try_from(per_unit.checked_mul(q)?).ok()
            }
        }
    }

    /// A fixed amount in the price basis of a line: grossed up when amounts are net but
    /// prices include tax.
    fn fixed_in_price_basis(&self, amount: i64, rate: Percent) -> Option<i64> {
        if self.inclusive() && self.bundle.policy.spec.fixed_amount_basis == FixedAmountBasis::Net {
            gross_up(amount, rate, self.rounding())
        } else {
            Some(amount)
        }
    }

    /// What an effect just applied (leaving `remaining` and `shipping_remaining`) saved the
    /// shopper, tax included; only the lines it touched are priced again.
    pub fn saved(
        &self,
        effect: &Effect,
        remaining: &[i64],
        shipping_remaining: i64,
    ) -> Option<i64> {
        let mut saved = 0_i64;
        for (i, d) in effect.lines.iter().enumerate() {
            if *d > 0 {
                let now = *remaining.get(i)?;
                saved += self.line_payable(i, now.checked_add(*d)?)? - self.line_payable(i, now)?;
            }
        }
        if effect.shipping > 0 {
            let now = shipping_remaining;
            saved += self.shipping_payable(now.checked_add(effect.shipping)?)?
                - self.shipping_payable(now)?;
        }
        Some(saved)
    }

    /// One promotion on its own: what it takes off and what that saves the shopper.
    pub fn alone(
        &self,
        c: &Candidate,
        scratch: &mut Vec<i64>,
    ) -> Result<(Effect, i64), EvaluationError> {
        scratch.clear();
        scratch.extend_from_slice(&self.original);
        let mut shipping = self.shipping;
        let effect = self.step(c, scratch, &mut shipping)?;
        let saving = self
            .saved(&effect, scratch, shipping)
            .ok_or_else(|| overflow("cart total"))?;
        Ok((effect, saving))
    }

    /// Applies promotions in application order and prices the result.
    pub fn apply(&self, set: &[&Candidate]) -> Result<Outcome, EvaluationError> {
        let mut remaining = self.original.clone();
        let mut shipping_remaining = self.shipping;
        let mut effects = Vec::with_capacity(set.len());
        for c in set {
            effects.push(self.step(c, &mut remaining, &mut shipping_remaining)?);
        }
        let payable = self
            .payable(&remaining, shipping_remaining)
            .ok_or_else(|| overflow("cart total"))?;
        let discount = effects
            .iter()
            .try_fold(0_i64, |a, e| a.checked_add(e.total()?))
            .ok_or_else(|| overflow("discount total"))?;
        Ok(Outcome {
            effects,
            remaining,
            shipping_remaining,
            payable,
            discount,
        })
    }

    /// Applies one more promotion to `remaining` (and shipping) in place: the search's step.
    pub fn step(
        &self,
        c: &Candidate,
        remaining: &mut [i64],
        shipping_remaining: &mut i64,
    ) -> Result<Effect, EvaluationError> {
        let effect = if self.bundle.policy.spec.compounding == Compounding::Sequential {
            self.effect(
                c,
                remaining,
                *shipping_remaining,
                remaining,
                *shipping_remaining,
            )
        } else {
            self.effect(
                c,
                &self.original,
                self.shipping,
                remaining,
                *shipping_remaining,
            )
        }
        .ok_or_else(|| overflow(&format!("promotion `{}`", c.promo.id)))?;
        for (r, d) in remaining.iter_mut().zip(&effect.lines) {
            *r -= d;
        }
        *shipping_remaining -= effect.shipping;
        Ok(effect)
    }

    /// What one promotion takes off, computed on `base` amounts and limited to what is left of
    /// each line above its floor (`remaining − floor`) and of shipping.
    fn effect(
        &self,
        c: &Candidate,
        base: &[i64],
        shipping_base: i64,
        remaining: &[i64],
        shipping_cap: i64,
    ) -> Option<Effect> {
        let lines = &self.input.lines;
        let mut d = vec![0_i64; lines.len()];
        let mut shipping = 0_i64;
        let targets: &[u16] = match c.promo.reward {
            Reward::BuyXGetY { .. } => &c.get_lines,
            _ => &c.lines,
        };
        let line = |i: u16| lines.get(usize::from(i));
        let b = |i: u16| at(base, usize::from(i));
        match &c.promo.reward {
            Reward::PercentOffLines(_) => self.percent_lines(&c.lines, base, c.percent, &mut d)?,
            Reward::PercentOffOrder(_) => {
                let sum = c
                    .lines
                    .iter()
                    .try_fold(0_i64, |a, &i| a.checked_add(b(i)))?;
                let total = percent_of(sum, c.percent, self.rounding())?;
                self.spread(total, &c.lines, base, &mut d)?;
            }
            Reward::AmountOff { amount, per } => match per {
                AmountPer::Unit | AmountPer::Line => {
                    for &i in &c.lines {
                        let l = line(i)?;
                        let each = self.fixed_in_price_basis(*amount, l.tax_rate)?;
                        let off = if *per == AmountPer::Unit {
                            each.checked_mul(i64::try_from(l.quantity).ok()?)?
                        } else {
                            each
                        };
                        *d.get_mut(usize::from(i))? = off.min(b(i));
                    }
                }
                AmountPer::Order => self.fixed_order(*amount, &c.lines, base, &mut d)?,
            },
            Reward::FixedPrice(price) => {
                for &i in &c.lines {
                    let l = line(i)?;
                    let target = price.checked_mul(i64::try_from(l.quantity).ok()?)?;
                    *d.get_mut(usize::from(i))? = (b(i) - target).max(0);
                }
            }
            Reward::Volume(tiers) => {
                for &i in &c.lines {
                    let l = line(i)?;
                    let tier = tiers.iter().rev().find(|(q, _)| l.quantity >= *q);
                    let off = match tier {
                        None => 0,
                        Some((_, VolumeReward::UnitPrice(p))) => {
                            let target = p.checked_mul(i64::try_from(l.quantity).ok()?)?;
                            (b(i) - target).max(0)
                        }
                        Some((_, VolumeReward::Percent(p))) => {
                            let p = self.with_loyalty(c.promo, *p);
                            self.percent_of_line(b(i), l.quantity, p)?
                        }
                    };
                    *d.get_mut(usize::from(i))? = off;
                }
            }
            Reward::Tiered { .. } => match c.tier {
                None => {}
                Some(TierReward::Percent(p)) => {
                    let p = self.with_loyalty(c.promo, p);
                    self.percent_lines(&c.lines, base, p, &mut d)?;
                }
                Some(TierReward::Amount(a)) => self.fixed_order(a, &c.lines, base, &mut d)?,
            },
            Reward::BuyXGetY {
                buy,
                get,
                percent,
                max_applications,
                ..
            } => self.buy_x_get_y(c, base, *buy, *get, *percent, *max_applications, &mut d)?,
            Reward::Shipping { off, .. } => {
                let rate = self
                    .input
                    .shipping
                    .as_ref()
                    .map_or(Percent::ZERO, |s| s.tax_rate);
                shipping = match off {
                    TierReward::Percent(p) => percent_of(shipping_base, *p, self.rounding())?,
                    TierReward::Amount(a) => {
                        self.fixed_in_price_basis(*a, rate)?.min(shipping_base)
                    }
                };
            }
        }
        // A cap on what the promotion may give: the capped amount is spread over its parts.
        if let Some(cap) = c.promo.cap {
            let total = d.iter().try_fold(shipping, |a, x| a.checked_add(*x))?;
            if total > cap {
                let mut weights: Vec<i64> =
                    targets.iter().map(|&i| at(&d, usize::from(i))).collect();
                weights.push(shipping);
                let mut ids: Vec<u16> = targets.to_vec();
                ids.push(u16::MAX);
                let ranks: Vec<u32> = ids
                    .iter()
                    .map(|&i| {
                        if i == u16::MAX {
                            u32::MAX
                        } else {
                            at(&self.ranks, usize::from(i))
                        }
                    })
                    .collect();
                let parts = allocate(
                    cap,
                    &weights,
                    &ranks,
                    self.bundle.policy.spec.allocation,
                    self.rounding(),
                )?;
                for (&i, part) in ids.iter().zip(parts) {
                    if i == u16::MAX {
                        shipping = part;
                    } else {
                        *d.get_mut(usize::from(i))? = part;
                    }
                }
            }
        }
        // Never below a line's floor (or zero): the excess goes to the promotion's other lines.
        let room =
            |i: u16| (at(remaining, usize::from(i)) - at(&self.floors, usize::from(i))).max(0);
        if targets.iter().all(|&i| at(&d, usize::from(i)) <= room(i)) {
            return Some(Effect {
                lines: d,
                shipping: shipping.clamp(0, shipping_cap.max(0)),
            });
        }
        let mut parts: Vec<i64> = targets.iter().map(|&i| at(&d, usize::from(i))).collect();
        let part_caps: Vec<i64> = targets.iter().map(|&i| room(i)).collect();
        let ranks: Vec<u32> = targets
            .iter()
            .map(|&i| at(&self.ranks, usize::from(i)))
            .collect();
        clamp_and_respread(
            &mut parts,
            &part_caps,
            &ranks,
            self.bundle.policy.spec.allocation,
            self.rounding(),
        )?;
        for (&i, part) in targets.iter().zip(parts) {
            *d.get_mut(usize::from(i))? = part;
        }
        Some(Effect {
            lines: d,
            shipping: shipping.clamp(0, shipping_cap.max(0)),
        })
    }

    pub fn with_loyalty(&self, promo: &Promotion, p: Percent) -> Percent {
        let tier = self.input.customer.tier.as_deref();
        match promo.loyalty.iter().find(|(t, _)| Some(t.as_str()) == tier) {
            Some((_, bonus)) => p.plus_capped(*bonus),
            None => p,
        }
    }

    fn percent_lines(
        &self,
        targets: &[u16],
        base: &[i64],
        p: Percent,
        d: &mut [i64],
    ) -> Option<()> {
        for &i in targets {
            let l = self.input.lines.get(usize::from(i))?;
            *d.get_mut(usize::from(i))? =
                self.percent_of_line(at(base, usize::from(i)), l.quantity, p)?;
        }
        Some(())
    }

    /// One amount spread over the targeted lines in proportion to their amounts.
    fn spread(&self, total: i64, targets: &[u16], base: &[i64], d: &mut [i64]) -> Option<()> {
        let mut slots: Vec<Slot> = targets
            .iter()
            .map(|&i| Slot::new(at(base, usize::from(i)), at(&self.ranks, usize::from(i))))
            .collect();
        allocate_slots(
            total,
            &mut slots,
            self.bundle.policy.spec.allocation,
            self.rounding(),
        )?;
        for (&i, slot) in targets.iter().zip(&slots) {
            *d.get_mut(usize::from(i))? = slot.share;
        }
        Some(())
    }

    /// A fixed amount off the targeted lines together (order amount, tier amount).
    fn fixed_order(&self, amount: i64, targets: &[u16], base: &[i64], d: &mut [i64]) -> Option<()> {
        let sum = targets
            .iter()
            .try_fold(0_i64, |a, &i| a.checked_add(at(base, usize::from(i))))?;
        let net_basis =
            self.inclusive() && self.bundle.policy.spec.fixed_amount_basis == FixedAmountBasis::Net;
        if !net_basis {
            return self.spread(amount.min(sum), targets, base, d);
        }
        // The amount is net: spread it, then gross each part up at its line's rate.
        self.spread(amount, targets, base, d)?;
        for &i in targets {
            let rate = self.input.lines.get(usize::from(i))?.tax_rate;
            let slot = d.get_mut(usize::from(i))?;
            *slot = gross_up(*slot, rate, self.rounding())?;
        }
        Some(())
    }

    /// Buy X get Y: applications as many as the units allow (up to the limit), the cheapest
    /// givable units discounted, the dearer ones counted as bought.
    #[allow(clippy::too_many_arguments)]
    fn buy_x_get_y(
        &self,
        c: &Candidate,
        base: &[i64],
        buy: u64,
        get: u64,
        percent: Percent,
        max_applications: Option<u64>,
        d: &mut [i64],
    ) -> Option<()> {
        let lines = &self.input.lines;
        let qty = |i: u16| lines.get(usize::from(i)).map_or(0, |l| l.quantity);
        let in_buy = |i: u16| c.lines.contains(&i);
        let in_get = |i: u16| c.get_lines.contains(&i);
        let mut buy_only = 0_u64;
        let mut get_only = 0_u64;
        let mut both = 0_u64;
        for &i in &c.lines {
            if in_get(i) {
                both = both.checked_add(qty(i))?;
            } else {
                buy_only = buy_only.checked_add(qty(i))?;
            }
        }
        for &i in &c.get_lines {
            if !in_buy(i) {
                get_only = get_only.checked_add(qty(i))?;
            }
        }
        let feasible = |k: u64| -> bool {
            let (Some(need_buy), Some(need_get)) = (k.checked_mul(buy), k.checked_mul(get)) else {
                return false;
            };
            need_buy.saturating_sub(buy_only) + need_get.saturating_sub(get_only) <= both
        };
        let mut lo = 0_u64;
        let mut hi = (buy_only + both) / buy;
        if let Some(m) = max_applications {
            hi = hi.min(m);
        }
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if feasible(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let k = lo;
        if k == 0 {
            return Some(());
        }
        let mut to_give = k.checked_mul(get)?;
        // Shared units that must stay on the buy side.
        let mut shared_left = both - k.checked_mul(buy)?.saturating_sub(buy_only);
        let mut order: Vec<u16> = c.get_lines.clone();
        order.sort_by(|&a, &b| {
            // Cheapest unit first: base[a] / qty[a] against base[b] / qty[b], then line id.
            let ua = i128::from(at(base, usize::from(a))) * i128::from(qty(b));
            let ub = i128::from(at(base, usize::from(b))) * i128::from(qty(a));
            ua.cmp(&ub)
                .then_with(|| at(&self.ranks, usize::from(a)).cmp(&at(&self.ranks, usize::from(b))))
        });
        for i in order {
            if to_give == 0 {
                break;
            }
            let mut take = qty(i).min(to_give);
            if in_buy(i) {
                take = take.min(shared_left);
                shared_left -= take;
            }
            if take == 0 {
                continue;
            }
            to_give -= take;
            let q = i128::from(qty(i));
            let num =
                i128::from(at(base, usize::from(i))).checked_mul(i128::from(percent.units()))?;
            let off = match self.bundle.policy.spec.rounding_point {
                RoundingPoint::Unit => div_round(num, HUNDRED.checked_mul(q)?, self.rounding())?
                    .checked_mul(i128::from(take))?,
                RoundingPoint::Line => div_round(
                    num.checked_mul(i128::from(take))?,
                    HUNDRED.checked_mul(q)?,
                    self.rounding(),
                )?,
            };
            *d.get_mut(usize::from(i))? = i64::try_from(off).ok()?;
        }
        Some(())
    }
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
        add(idx.by_sku.get(line.sku));
        if let Some(p) = line.product {
            add(idx.by_product.get(p));
        }
        if let Some(b) = line.brand {
            add(idx.by_brand.get(b));
        }
        for c in line.categories {
            add(idx.by_category.get(c));
        }
        for t in line.tags {
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
    let mut lines = Vec::new();
    let mut consider = |i: u16| {
        if let Some(l) = ctx.input.lines.get(usize::from(i)) {
            if sel.matches(l) {
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
        let ok = input.shipping.as_ref().is_some_and(|s| {
            (methods.is_empty() || methods.contains(s.method))
                && (countries.is_empty() || countries.contains_opt(s.country))
        });
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
        saving: 0,
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
        ..
    } = &promo.reward
    {
        let need = buy.saturating_add(*get);
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

/// Every promotion judged on its own: the eligible ones with their standalone savings, the
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
                let (effect, saving) = ctx.alone(&cand, &mut scratch)?;
                if effect.total() == Some(0) {
                    not_applied.push((p, Reason::NoDiscount));
                } else {
                    cand.saving = saving;
                    cand.alone = effect;
                    eligible.push(cand);
                }
            }
            Verdict::Ineligible(reason, hint) => {
                if let Some((cand, gap)) = hint {
                    let would_give = ctx
                        .alone(&cand, &mut scratch)?
                        .0
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

/// Evaluates a compiled input against a bundle.
pub(crate) fn run(bundle: &Bundle, input: &Input<'_>) -> Result<Evaluation, EvaluationError> {
    let ctx = Ctx::new(bundle, input)?;
    let Assessment {
        eligible,
        mut not_applied,
        untargeted,
        unlocks,
    } = assess(&ctx)?;
    let chosen = select::best(&ctx, &eligible)?;
    let set: Vec<&Candidate> = chosen.iter().filter_map(|&k| eligible.get(k)).collect();
    let mut outcome = ctx.apply(&set)?;
    // A promotion of the combination that ends up taking nothing (what it targets was already
    // discounted away) is not on the receipt and uses no limit.
    let mut kept = Vec::with_capacity(set.len());
    let mut effects = Vec::with_capacity(set.len());
    let mut emptied = Vec::new();
    for (c, e) in set.iter().zip(std::mem::take(&mut outcome.effects)) {
        if e.total() == Some(0) {
            emptied.push(c.order);
        } else {
            kept.push(*c);
            effects.push(e);
        }
    }
    outcome.effects = effects;
    let set = kept;
    for order in emptied {
        not_applied.push((
            u32::try_from(order).unwrap_or(u32::MAX),
            Reason::LostToCombination {
                winners: set.iter().map(|w| w.promo.id.clone()).collect(),
            },
        ));
    }
    for (k, cand) in eligible.iter().enumerate() {
        if chosen.contains(&k) {
            continue;
        }
        let conflicts: Vec<Arc<str>> = set
            .iter()
            .filter(|w| !w.compatible(cand))
            .map(|w| w.promo.id.clone())
            .collect();
        let reason = if conflicts.is_empty() {
            Reason::LostToCombination {
                winners: set.iter().map(|w| w.promo.id.clone()).collect(),
            }
        } else {
            Reason::NotCombinable { with: conflicts }
        };
        not_applied.push((u32::try_from(cand.order).unwrap_or(u32::MAX), reason));
    }
    not_applied.sort_by_key(|(order, _)| *order);

    let not_applied = NotApplied {
        ids: bundle.ids.clone(),
        untargeted,
        reasons: not_applied,
    };
    build(&ctx, &set, &outcome, not_applied, unlocks)
}

fn build(
    ctx: &Ctx,
    set: &[&Candidate],
    outcome: &Outcome,
    not_applied: NotApplied,
    unlocks: Vec<Unlock>,
) -> Result<Evaluation, EvaluationError> {
    let bundle = ctx.bundle;
    let input = ctx.input;
    let cur = bundle.currency;
    let fmt = |v: i64| Amount::new(v, cur);
    let mut tax_total = 0_i64;
    let mut lines = Vec::with_capacity(input.lines.len());
    for (i, l) in input.lines.iter().enumerate() {
        let total = at(&outcome.remaining, i);
        let tax = ctx
            .tax(total, l.tax_rate)
            .ok_or_else(|| overflow("line tax"))?;
        tax_total = tax_total
            .checked_add(tax)
            .ok_or_else(|| overflow("tax total"))?;
        let allocations: Vec<AllocationOut> = set
            .iter()
            .zip(&outcome.effects)
            .filter_map(|(c, e)| {
                let a = at(&e.lines, i);
                (a > 0).then(|| AllocationOut {
                    promotion_id: c.promo.id.clone(),
                    amount: fmt(a),
                })
            })
            .collect();
        lines.push(LineOutcome {
            id: l.id.to_string(),
            quantity: l.quantity,
            unit_price: fmt(l.unit_price),
            amount: fmt(l.amount),
            discount: fmt(l.amount - total),
            total: fmt(total),
            tax_rate: l.tax_rate,
            tax: fmt(tax),
            cost: l
                .unit_cost
                .and_then(|c| c.checked_mul(i64::try_from(l.quantity).ok()?))
                .map(fmt),
            allocations,
        });
    }
    let shipping = match &input.shipping {
        None => None,
        Some(s) => {
            let total = outcome.shipping_remaining;
            let tax = ctx
                .tax(total, s.tax_rate)
                .ok_or_else(|| overflow("shipping tax"))?;
            tax_total = tax_total
                .checked_add(tax)
                .ok_or_else(|| overflow("tax total"))?;
            Some(ShippingOutcome {
                method: s.method.to_string(),
                amount: fmt(s.amount),
                discount: fmt(s.amount - total),
                total: fmt(total),
                tax: fmt(tax),
            })
        }
    };
    let mut applied = Vec::with_capacity(set.len());
    let mut pending_ledger = Vec::new();
    for (c, e) in set.iter().zip(&outcome.effects) {
        let total = e.total().ok_or_else(|| overflow("discount"))?;
        let p = c.promo;
        applied.push(AppliedDiscount {
            promotion_id: p.id.clone(),
            name: p.name.clone(),
            class: p.class,
            amount: fmt(total),
            lines: input
                .lines
                .iter()
                .zip(&e.lines)
                .filter(|(_, a)| **a > 0)
                .map(|(l, a)| LineAmount {
                    line_id: l.id.to_string(),
                    amount: fmt(*a),
                })
                .collect(),
            shipping: (e.shipping > 0).then(|| fmt(e.shipping)),
            code: c.code.clone(),
        });
        let lim = &p.limits;
        if lim.total_uses.is_some()
            || lim.per_code.is_some()
            || lim.per_customer.is_some()
            || lim.per_day.is_some()
            || p.budget.is_some()
            || lim.single_use_codes
        {
            pending_ledger.push(LedgerCheck {
                promotion_id: p.id.clone(),
                discount: fmt(total),
                total_uses: lim.total_uses,
                per_code: lim.per_code.filter(|_| c.code.is_some()),
                per_customer: lim.per_customer,
                per_day: lim.per_day,
                budget: p.budget.map(fmt),
                single_use_code: lim.single_use_codes && c.code.is_some(),
                code: c.code.clone(),
                customer_id: input.customer.id.clone(),
            });
        }
    }
    let subtotal: i64 = ctx.original.iter().sum();
    Ok(Evaluation {
        bundle_id: bundle.id.clone(),
        bundle_version: bundle.version,
        currency: cur.code(),
        evaluated_at: input.now,
        tax_mode: bundle.policy.spec.tax_mode,
        subtotal: fmt(subtotal),
        discount_total: fmt(outcome.discount),
        shipping,
        tax_total: fmt(tax_total),
        total: fmt(outcome.payable),
        lines,
        applied,
        not_applied,
        unlocks,
        pending_ledger,
    })
}
