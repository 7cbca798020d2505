//! What each reward takes off, and applying promotions to the cart.
//!
//! [`Ctx::effect`] computes one promotion's [`Effect`] on given base amounts: percentages (per
//! line or of the order, rounded per unit or per line), amounts off per unit, line or order,
//! fixed prices, volume breaks, tiers, buy X get Y and shipping; then the promotion's cap
//! (spread over its parts) and the line floors (the excess moved to its other lines).
//! [`Ctx::step`] applies one promotion (sequentially or on the original amounts, as the policy
//! compounds), [`Ctx::apply`] a whole combination, and [`Ctx::saved`] prices what an effect saved
//! the shopper.

use crate::allocate::{allocate, allocate_slots, clamp_and_respread, Slot};
use crate::compile::{GetOff, Promotion, Reward, Set, TierReward, VolumeReward};
use crate::error::EvaluationError;
use crate::model::{
    AllocationWeights, AmountPer, BuyXGetYUnits, CappedLineBase, Compounding, FixedAmountBasis,
    FloorExcess, RoundingPoint, RoundingTarget, ShipmentApply, UnitPick,
};
use crate::money::{div_round, gross_up, percent_of, percent_off_price, Percent, PERCENT_UNIT};

use super::{at, overflow, ships_to, Candidate, Ctx};

const HUNDRED: i128 = 100 * PERCENT_UNIT as i128;

/// What one promotion takes off, per slot: the lines (dense, cart order), then the shipments.
#[derive(Clone, Debug, Default)]
pub(crate) struct Effect {
    pub lines: Vec<i64>,
    /// Per line, how many units the promotion discounted, when it did not discount them all
    /// (a unit quota, buy X get Y); kept only when the bundle declares `unitAllocations`.
    pub units: Option<Vec<u64>>,
    /// What a buy X get Y takes from the units left to buy, then from those left to give, per
    /// line, when buy X get Y promotions use units once (`buyXGetYUnits`); empty otherwise.
    pub consumed: Vec<u64>,
}

impl Effect {
    pub fn total(&self) -> Option<i64> {
        self.lines.iter().try_fold(0_i64, |a, d| a.checked_add(*d))
    }

    /// What it takes off the shipments (the slots from `n_lines` on).
    pub fn shipping(&self, n_lines: usize) -> i64 {
        self.lines.get(n_lines..).map_or(0, |s| s.iter().sum())
    }
}

/// A combination applied to the cart.
pub(crate) struct Outcome {
    pub effects: Vec<Effect>,
    /// What is left of every slot (the lines, then the shipments).
    pub remaining: Vec<i64>,
    pub payable: i64,
    pub discount: i64,
}

impl Ctx<'_> {
    /// A percentage of an amount, rounded once on the declared target (the discount, or the
    /// price left).
    fn percent_amount(&self, amount: i64, p: Percent) -> Option<i64> {
        match self.bundle.policy.pricing.rounding_target {
            RoundingTarget::Discount => percent_of(amount, p, self.rounding()),
            RoundingTarget::Price => percent_off_price(amount, p, self.rounding()),
        }
    }

    /// A percentage of `units` units worth `amount`, rounded at the declared point and on the
    /// declared target.
    fn percent_of_line(&self, amount: i64, units: u64, p: Percent) -> Option<i64> {
        match self.bundle.policy.pricing.rounding_point {
            RoundingPoint::Line => self.percent_amount(amount, p),
            RoundingPoint::Unit if units == 0 => Some(0),
            RoundingPoint::Unit => {
                let q = i128::from(units);
                let (share, target) = (
                    i128::from(p.units()),
                    self.bundle.policy.pricing.rounding_target,
                );
                let share = match target {
                    RoundingTarget::Discount => share,
                    RoundingTarget::Price => HUNDRED.checked_sub(share)?,
                };
                let num = i128::from(amount).checked_mul(share)?;
                let per_unit = div_round(num, HUNDRED.checked_mul(q)?, self.rounding())?;
                let rounded = per_unit.checked_mul(q)?;
                let off = match target {
                    RoundingTarget::Discount => rounded,
                    RoundingTarget::Price => (i128::from(amount) - rounded).max(0),
                };
                i64::try_from(off).ok()
            }
        }
    }

    /// The positions in `lines` in the order units are taken from them: by current unit price
    /// (`base ÷ quantity`) or line amount, ties in line-id order; or as listed (cart order).
    fn ordered(&self, lines: &[u16], base: &[i64], pick: UnitPick) -> Vec<u16> {
        if pick == UnitPick::CartOrder {
            return (0..lines.len())
                .filter_map(|k| u16::try_from(k).ok())
                .collect();
        }
        // One integer key per line, so every order shares one sort: `base × 10¹² ÷ quantity`
        // orders unit prices exactly (two different ones differ by at least 1 ÷ (q₁ × q₂) ≥
        // 10⁻¹², and equal ones get equal keys).
        let mut keyed: Vec<(i128, u32, u16)> = lines
            .iter()
            .enumerate()
            .filter_map(|(k, &i)| {
                let amount = at(base, usize::from(i)).max(0);
                let q = self.input.lines.get(usize::from(i))?.quantity.max(1);
                // In 64 bits when it fits (amounts below 1.8 × 10⁷ minor units): an i128
                // division costs several times more.
                let unit = || match u64::try_from(amount).ok()?.checked_mul(1_000_000_000_000) {
                    Some(scaled) => Some(i128::from(scaled / q)),
                    None => Some(i128::from(amount) * 1_000_000_000_000 / i128::from(q)),
                };
                let key = match pick {
                    UnitPick::Cheapest => unit()?,
                    UnitPick::MostExpensive => -unit()?,
                    UnitPick::CheapestLine | UnitPick::CartOrder => i128::from(amount),
                };
                Some((key, at(&self.ranks, usize::from(i)), u16::try_from(k).ok()?))
            })
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, _, k)| k).collect()
    }

    /// Per targeted line (in `c.lines` order), how many units `discountedUnits` lets the
    /// reward discount: at most `perLine` of each, at most `perOrder` in all, taken in the
    /// declared order. `None` when the promotion has no quota (every unit).
    fn unit_counts(&self, c: &Candidate, base: &[i64]) -> Option<Option<Vec<u64>>> {
        let Some(units) = c.promo.units else {
            return Some(None);
        };
        let qty = |i: u16| {
            self.input
                .lines
                .get(usize::from(i))
                .map_or(0, |l| l.quantity)
        };
        let mut counts: Vec<u64> = c
            .lines
            .iter()
            .map(|&i| units.per_line.map_or(qty(i), |m| qty(i).min(m)))
            .collect();
        if let Some(mut left) = units.per_order {
            let order = self.ordered(&c.lines, base, units.pick);
            for k in order {
                let n = counts.get_mut(usize::from(k))?;
                *n = (*n).min(left);
                left -= *n;
            }
        }
        Some(Some(counts))
    }

    /// What a line reward computes on for line `i`: the amount of the units it may discount
    /// and their number. The whole line (`base`, its quantity) without a quota; with one, the
    /// units' share of the base, or their unit price less the line's earlier discounts
    /// (`cappedLineBase`).
    fn slice(&self, i: u16, base: &[i64], count: Option<u64>) -> Option<(i64, u64)> {
        let l = self.input.lines.get(usize::from(i))?;
        let b = at(base, usize::from(i));
        let n = match count {
            Some(n) if n < l.quantity => n,
            _ => return Some((b, l.quantity)),
        };
        let amount = match self.bundle.policy.pricing.capped_line_base {
            CappedLineBase::Share => i64::try_from(div_round(
                i128::from(b).checked_mul(i128::from(n))?,
                i128::from(l.quantity),
                self.rounding(),
            )?)
            .ok()?,
            CappedLineBase::Slice => {
                let earlier = l.amount.checked_sub(b)?;
                let units = l.unit_price.checked_mul(i64::try_from(n).ok()?)?;
                units.checked_sub(earlier)?.max(0)
            }
            CappedLineBase::Lesser => l.unit_price.checked_mul(i64::try_from(n).ok()?)?.min(b),
        };
        Some((amount, n))
    }

    /// A fixed amount in the price basis of a line: grossed up when amounts are net but
    /// prices include tax.
    fn fixed_in_price_basis(&self, amount: i64, rate: Percent) -> Option<i64> {
        if self.inclusive()
            && self.bundle.policy.pricing.fixed_amount_basis == FixedAmountBasis::Net
        {
            gross_up(amount, rate, self.bundle.policy.pricing.conversion_rounding)
        } else {
            Some(amount)
        }
    }

    /// What an effect just applied (leaving `remaining`) saved the
    /// shopper, tax included; only the lines it touched are priced again.
    pub fn saved(&self, effect: &Effect, remaining: &[i64]) -> Option<i64> {
        self.saved_leaving(effect, |i, _| remaining.get(i).copied())
    }

    /// What a promotion's standalone effect ([`Ctx::alone`]) saves the shopper, tax included.
    pub fn saved_alone(&self, effect: &Effect) -> Option<i64> {
        self.saved_leaving(effect, |i, d| self.original.get(i)?.checked_sub(d))
    }

    /// What `effect` saved, given what it left of each slot it touched (`left(slot, part)`).
    fn saved_leaving(
        &self,
        effect: &Effect,
        left: impl Fn(usize, i64) -> Option<i64>,
    ) -> Option<i64> {
        let mut saved = 0_i64;
        for (i, d) in effect.lines.iter().enumerate() {
            if *d > 0 {
                let now = left(i, *d)?;
                saved += self.slot_payable(i, now.checked_add(*d)?)? - self.slot_payable(i, now)?;
            }
        }
        Some(saved)
    }

    /// One promotion on its own: what it takes off the original amounts. (What that saves the
    /// shopper, [`Ctx::saved_alone`], only the combination search needs.)
    pub fn alone(&self, c: &Candidate, scratch: &mut Vec<i64>) -> Result<Effect, EvaluationError> {
        scratch.clear();
        scratch.extend_from_slice(&self.original);
        self.step(c, scratch, &mut [])
    }

    /// Applies promotions in application order and prices the result.
    pub fn apply(&self, set: &[&Candidate]) -> Result<Outcome, EvaluationError> {
        let mut remaining = self.original.clone();
        let mut units_left = self.units_left();
        let mut effects = Vec::with_capacity(set.len());
        for c in set {
            effects.push(self.step(c, &mut remaining, &mut units_left)?);
        }
        let payable = self
            .payable(&remaining)
            .ok_or_else(|| overflow("cart total"))?;
        let discount = effects
            .iter()
            .try_fold(0_i64, |a, e| a.checked_add(e.total()?))
            .ok_or_else(|| overflow("discount total"))?;
        Ok(Outcome {
            effects,
            remaining,
            payable,
            discount,
        })
    }

    /// The units each line has for buy X get Y promotions before any is applied, to buy then
    /// to give: every unit when they use units once (`buyXGetYUnits`), else empty (each
    /// counts every unit).
    pub fn units_left(&self) -> Vec<u64> {
        if self.bundle.policy.pricing.buy_x_get_y_units == BuyXGetYUnits::Shared {
            return Vec::new();
        }
        let quantities = self.input.lines.iter().map(|l| l.quantity);
        quantities.clone().chain(quantities).collect()
    }

    /// Applies one more promotion to `remaining` (every slot) and `units_left` (see
    /// [`Ctx::units_left`]; empty: every unit) in place.
    pub fn step(
        &self,
        c: &Candidate,
        remaining: &mut [i64],
        units_left: &mut [u64],
    ) -> Result<Effect, EvaluationError> {
        self.step_into(c, remaining, units_left, Vec::new())
    }

    /// [`Ctx::step`], writing the effect's per-slot parts into `lines` (cleared first): the
    /// search's step, which hands back the buffer of a branch it has left.
    pub fn step_into(
        &self,
        c: &Candidate,
        remaining: &mut [i64],
        units_left: &mut [u64],
        lines: Vec<i64>,
    ) -> Result<Effect, EvaluationError> {
        let effect = if self.bundle.policy.pricing.compounding == Compounding::Sequential {
            self.effect(c, remaining, remaining, units_left, lines)
        } else {
            self.effect(c, &self.original, remaining, units_left, lines)
        }
        .ok_or_else(|| overflow(&format!("promotion `{}`", c.promo.id)))?;
        for (r, d) in remaining.iter_mut().zip(&effect.lines) {
            *r -= d;
        }
        for (u, n) in units_left.iter_mut().zip(&effect.consumed) {
            *u -= n;
        }
        Ok(effect)
    }

    /// What one promotion takes off, computed on `base` amounts and limited to what is left of
    /// each line above its floor (`remaining − floor`) and of shipping; its parts are written
    /// into `d`.
    fn effect(
        &self,
        c: &Candidate,
        base: &[i64],
        remaining: &[i64],
        units_left: &[u64],
        mut d: Vec<i64>,
    ) -> Option<Effect> {
        let lines = &self.input.lines;
        d.clear();
        d.resize(self.original.len(), 0);
        let mut consumed = Vec::new();
        let targets: &[u16] = match c.promo.reward {
            Reward::BuyXGetY { .. } => &c.get_lines,
            _ => &c.lines,
        };
        let line = |i: u16| lines.get(usize::from(i));
        let b = |i: u16| at(base, usize::from(i));
        let counts = self.unit_counts(c, base)?;
        let count = |k: usize| counts.as_ref().and_then(|v| v.get(k).copied());
        // Which units each line's part sits on, for per-unit allocations only.
        let mut units: Option<Vec<u64>> = None;
        if self.bundle.policy.pricing.unit_allocations.is_some() {
            let quota = counts.as_ref();
            let all = matches!(c.promo.reward, Reward::BuyXGetY { .. }) || quota.is_some();
            if all {
                let mut dense = vec![0_u64; lines.len()];
                for (&i, &n) in c.lines.iter().zip(quota.into_iter().flatten()) {
                    *dense.get_mut(usize::from(i))? = n;
                }
                units = Some(dense);
            }
        }
        match &c.promo.reward {
            Reward::PercentOffLines(_) => {
                self.percent_lines(&c.lines, base, c.percent, counts.as_deref(), &mut d)?
            }
            Reward::PercentOffOrder(_) => {
                let order = self.order_slots(c);
                let sum = order.iter().try_fold(0_i64, |a, &i| a.checked_add(b(i)))?;
                let total = self.percent_amount(sum, c.percent)?;
                self.spread(total, &order, base, &mut d)?;
            }
            Reward::AmountOff { amount, per } => match per {
                AmountPer::Unit | AmountPer::Line => {
                    for (k, &i) in c.lines.iter().enumerate() {
                        let l = line(i)?;
                        let (slice, n) = self.slice(i, base, count(k))?;
                        let each = self.fixed_in_price_basis(*amount, l.tax_rate)?;
                        let off = if *per == AmountPer::Unit {
                            each.checked_mul(i64::try_from(n).ok()?)?
                        } else {
                            each
                        };
                        *d.get_mut(usize::from(i))? = off.min(slice);
                    }
                }
                AmountPer::Order => {
                    self.fixed_order(*amount, &self.order_slots(c), base, &mut d)?
                }
            },
            Reward::FixedPrice(price) => {
                for (k, &i) in c.lines.iter().enumerate() {
                    let (slice, n) = self.slice(i, base, count(k))?;
                    let target = price.checked_mul(i64::try_from(n).ok()?)?;
                    *d.get_mut(usize::from(i))? = (slice - target).max(0);
                }
            }
            Reward::Volume(tiers) => {
                for (k, &i) in c.lines.iter().enumerate() {
                    let l = line(i)?;
                    let (slice, n) = self.slice(i, base, count(k))?;
                    let tier = tiers.iter().rev().find(|(q, _)| l.quantity >= *q);
                    let off = match tier {
                        None => 0,
                        Some((_, VolumeReward::UnitPrice(p))) => {
                            let target = p.checked_mul(i64::try_from(n).ok()?)?;
                            (slice - target).max(0)
                        }
                        Some((_, VolumeReward::Percent(p))) => {
                            let p = self.with_loyalty(c.promo, *p);
                            self.percent_of_line(slice, n, p)?
                        }
                    };
                    *d.get_mut(usize::from(i))? = off;
                }
            }
            Reward::Tiered { .. } => match c.tier {
                None => {}
                Some(TierReward::Percent(p)) => {
                    let p = self.with_loyalty(c.promo, p);
                    self.percent_lines(&c.lines, base, p, counts.as_deref(), &mut d)?;
                }
                Some(TierReward::Amount(a)) => self.fixed_order(a, &c.lines, base, &mut d)?,
            },
            Reward::BuyXGetY { .. } => {
                let units = units.as_deref_mut();
                self.buy_x_get_y(c, base, units_left, &mut d, units, &mut consumed)?
            }
            Reward::Shipping {
                off,
                methods,
                countries,
                apply,
            } => self.shipping_off(*off, methods, countries, *apply, base, &mut d)?,
        }
        let touches_shipping = c.promo.touches_shipping();
        // A cap on what the promotion may give: the capped amount is spread over its parts
        // (on a tie, the shipments' parts come last).
        if let Some(cap) = c.promo.cap {
            let total = d.iter().try_fold(0_i64, |a, x| a.checked_add(*x))?;
            if total > cap {
                let shipments = if touches_shipping {
                    self.shipment_slots()
                } else {
                    0..0
                };
                let ids: Vec<usize> = targets
                    .iter()
                    .map(|&i| usize::from(i))
                    .chain(shipments)
                    .collect();
                let weights: Vec<i64> = ids.iter().map(|&i| at(&d, i)).collect();
                let ranks: Vec<u32> = ids.iter().map(|&i| self.slot_rank(i)).collect();
                let parts = allocate(
                    cap,
                    &weights,
                    &ranks,
                    self.bundle.policy.pricing.allocation,
                    self.bundle.policy.pricing.allocation_rounding,
                )?;
                for (&i, part) in ids.iter().zip(parts) {
                    *d.get_mut(i)? = part;
                }
            }
        }
        // A shipment's part never exceeds what is left of it.
        if touches_shipping {
            for i in self.shipment_slots() {
                let part = d.get_mut(i)?;
                *part = (*part).clamp(0, at(remaining, i).max(0));
            }
        }
        // Never below a line's floor (or zero): the excess goes to the promotion's other lines.
        // With a unit quota, a line's part also stays within its discounted units' amount, so
        // the excess never reaches units outside the quota.
        let room =
            |i: u16| (at(remaining, usize::from(i)) - at(&self.floors, usize::from(i))).max(0);
        let part_caps: Vec<i64> = match &counts {
            None if targets.iter().all(|&i| at(&d, usize::from(i)) <= room(i)) => {
                return Some(Effect {
                    lines: d,
                    units,
                    consumed,
                });
            }
            None => targets.iter().map(|&i| room(i)).collect(),
            Some(counts) => targets
                .iter()
                .zip(counts)
                .map(|(&i, &n)| Some(room(i).min(self.slice(i, base, Some(n))?.0)))
                .collect::<Option<_>>()?,
        };
        if targets
            .iter()
            .zip(&part_caps)
            .all(|(&i, cap)| at(&d, usize::from(i)) <= *cap)
        {
            return Some(Effect {
                lines: d,
                units,
                consumed,
            });
        }
        let mut parts: Vec<i64> = targets.iter().map(|&i| at(&d, usize::from(i))).collect();
        let ranks: Vec<u32> = targets
            .iter()
            .map(|&i| at(&self.ranks, usize::from(i)))
            .collect();
        let excess = self.bundle.policy.pricing.floor_excess;
        let originals: Vec<i64>;
        let weights = if excess == FloorExcess::Original {
            originals = targets
                .iter()
                .map(|&i| at(&self.original, usize::from(i)))
                .collect();
            Some(originals.as_slice())
        } else {
            None
        };
        clamp_and_respread(
            &mut parts,
            &part_caps,
            &ranks,
            weights,
            excess != FloorExcess::None,
            self.bundle.policy.pricing.allocation,
            self.bundle.policy.pricing.allocation_rounding,
        )?;
        for (&i, part) in targets.iter().zip(parts) {
            *d.get_mut(usize::from(i))? = part;
        }
        Some(Effect {
            lines: d,
            units,
            consumed,
        })
    }

    /// The slots an order discount is spread over: its targeted lines, and the shipments with
    /// `includeShipping`.
    fn order_slots<'c>(&self, c: &'c Candidate) -> std::borrow::Cow<'c, [u16]> {
        if !c.promo.reaches_shipping {
            return std::borrow::Cow::Borrowed(&c.lines);
        }
        let shipments = self.shipment_slots().filter_map(|i| u16::try_from(i).ok());
        std::borrow::Cow::Owned(c.lines.iter().copied().chain(shipments).collect())
    }

    /// A shipping reward on the eligible shipments: the percentage of each, or the amount off
    /// each (`each`), spread over them in proportion to their amounts (`across`), or on the
    /// cheapest or the dearest one only.
    fn shipping_off(
        &self,
        off: TierReward,
        methods: &Set,
        countries: &Set,
        apply: ShipmentApply,
        base: &[i64],
        d: &mut [i64],
    ) -> Option<()> {
        let mut slots: Vec<usize> = self
            .shipment_slots()
            .filter(|&i| {
                i.checked_sub(self.n_lines)
                    .and_then(|j| self.input.shipments.get(j))
                    .is_some_and(|s| ships_to(methods, countries, s))
            })
            .collect();
        let pick = |better: fn(i64, i64) -> bool| {
            let mut best: Option<usize> = None;
            for &i in &slots {
                if best.is_none_or(|b| better(at(base, i), at(base, b))) {
                    best = Some(i);
                }
            }
            best.into_iter().collect::<Vec<usize>>()
        };
        match apply {
            ShipmentApply::Each | ShipmentApply::Across => {}
            ShipmentApply::Cheapest => slots = pick(|a, b| a < b),
            ShipmentApply::MostExpensive => slots = pick(|a, b| a > b),
        }
        match off {
            TierReward::Percent(p) => {
                for &i in &slots {
                    *d.get_mut(i)? = self.percent_amount(at(base, i), p)?;
                }
            }
            TierReward::Amount(a) if apply == ShipmentApply::Across && slots.len() > 1 => {
                let ids: Vec<u16> = slots
                    .iter()
                    .filter_map(|&i| u16::try_from(i).ok())
                    .collect();
                self.fixed_order(a, &ids, base, d)?;
            }
            TierReward::Amount(a) => {
                for &i in &slots {
                    let each = self.fixed_in_price_basis(a, self.rate(i))?;
                    *d.get_mut(i)? = each.min(at(base, i));
                }
            }
        }
        Some(())
    }

    pub fn with_loyalty(&self, promo: &Promotion, p: Percent) -> Percent {
        let tier = self.input.customer.tier.as_deref();
        match promo.loyalty.iter().find(|(t, _)| Some(t.as_str()) == tier) {
            Some((_, bonus)) => p.plus_capped(*bonus),
            None => p,
        }
    }

    /// A percentage off each targeted line (of the units its quota allows, when it has one).
    fn percent_lines(
        &self,
        targets: &[u16],
        base: &[i64],
        p: Percent,
        counts: Option<&[u64]>,
        d: &mut [i64],
    ) -> Option<()> {
        for (k, &i) in targets.iter().enumerate() {
            let (slice, n) = self.slice(i, base, counts.and_then(|v| v.get(k).copied()))?;
            *d.get_mut(usize::from(i))? = self.percent_of_line(slice, n, p)?;
        }
        Some(())
    }

    /// One amount spread over the targeted lines in proportion to their amounts, net or gross
    /// as `allocationWeights` declares.
    fn spread(&self, total: i64, targets: &[u16], base: &[i64], d: &mut [i64]) -> Option<()> {
        let weights = self.bundle.policy.pricing.allocation_weights;
        let adjust = match weights {
            AllocationWeights::PriceBasis => 0,
            AllocationWeights::Net if self.inclusive() => -1,
            AllocationWeights::Gross if !self.inclusive() => 1,
            AllocationWeights::Net | AllocationWeights::Gross => 0,
        };
        let mut slots = Vec::with_capacity(targets.len());
        for &i in targets {
            let amount = at(base, usize::from(i));
            let weight = if adjust == 0 {
                amount
            } else {
                amount.checked_add(adjust * self.tax(amount, self.rate(usize::from(i)))?)?
            };
            slots.push(Slot::new(weight, self.slot_rank(usize::from(i))));
        }
        allocate_slots(
            total,
            &mut slots,
            self.bundle.policy.pricing.allocation,
            self.bundle.policy.pricing.allocation_rounding,
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
        let net_basis = self.inclusive()
            && self.bundle.policy.pricing.fixed_amount_basis == FixedAmountBasis::Net;
        if !net_basis {
            return self.spread(amount.min(sum), targets, base, d);
        }
        // The amount is net: spread it, then gross each part up at its line's rate.
        self.spread(amount, targets, base, d)?;
        for &i in targets {
            let rate = self.rate(usize::from(i));
            let slot = d.get_mut(usize::from(i))?;
            *slot = gross_up(*slot, rate, self.bundle.policy.pricing.conversion_rounding)?;
        }
        Some(())
    }

    /// Buy X get Y: applications as many as the units allow (up to the limit; with partial
    /// groups, one more with fewer given units), the givable units taken in the declared order,
    /// the others counted as bought.
    /// `given`, when asked for, receives the number of units given on each line.
    ///
    /// `units_left` (see [`Ctx::units_left`]; empty: every unit counts) holds, per line, the
    /// units earlier buy X get Y promotions of the combination left to buy, then those left to
    /// give. `consumed` then receives what this one takes from them: the bought units come
    /// from the lines that cannot be given first, then from the shared units not given, each
    /// side in the declared order.
    fn buy_x_get_y(
        &self,
        c: &Candidate,
        base: &[i64],
        units_left: &[u64],
        d: &mut [i64],
        mut given: Option<&mut [u64]>,
        consumed: &mut Vec<u64>,
    ) -> Option<()> {
        let Reward::BuyXGetY {
            buy,
            get,
            off,
            max_applications,
            partial,
            pick,
            ..
        } = &c.promo.reward
        else {
            return Some(());
        };
        let (buy, get) = (*buy, *get);
        let lines = &self.input.lines;
        let n = lines.len();
        let mode = self.bundle.policy.pricing.buy_x_get_y_units;
        let quantity = |i: u16| lines.get(usize::from(i)).map_or(0, |l| l.quantity);
        // Per line: the units that may be bought, those that may be given, and those usable
        // at all (a unit bought by an earlier promotion may still be given under
        // `oncePerRole`, so every unit is usable there).
        let can_buy = |i: u16| match units_left.get(usize::from(i)) {
            Some(&u) => u,
            None => quantity(i),
        };
        let can_give = |i: u16| match units_left.get(n + usize::from(i)) {
            Some(&u) => u,
            None => quantity(i),
        };
        let usable = |i: u16| match mode {
            BuyXGetYUnits::OncePerRole => quantity(i),
            BuyXGetYUnits::Shared | BuyXGetYUnits::Once => can_buy(i),
        };
        let in_buy = |i: u16| c.lines.contains(&i);
        let in_get = |i: u16| c.get_lines.contains(&i);
        // Units of the lines that can only be bought, or only given; and of the shared lines,
        // those that may be bought, given, and used in all (a unit is bought or given, not both).
        let mut buy_only = 0_u64;
        let mut get_only = 0_u64;
        let (mut both_buy, mut both_give, mut both) = (0_u64, 0_u64, 0_u64);
        for &i in &c.lines {
            if in_get(i) {
                both_buy = both_buy.checked_add(can_buy(i))?;
                both_give = both_give.checked_add(can_give(i))?;
                both = both.checked_add(usable(i).min(can_buy(i).saturating_add(can_give(i))))?;
            } else {
                buy_only = buy_only.checked_add(can_buy(i))?;
            }
        }
        for &i in &c.get_lines {
            if !in_buy(i) {
                get_only = get_only.checked_add(can_give(i))?;
            }
        }
        // Whether `bought` units can count as bought and `given` further units be given.
        let feasible = |bought: Option<u64>, given: Option<u64>| -> bool {
            let (Some(need_buy), Some(need_get)) = (bought, given) else {
                return false;
            };
            let (b, g) = (
                need_buy.saturating_sub(buy_only),
                need_get.saturating_sub(get_only),
            );
            b <= both_buy && g <= both_give && b + g <= both
        };
        // The largest `n` in `lo..=hi` for which `fits(n)`, given `fits(lo)`.
        let largest = |mut lo: u64, mut hi: u64, fits: &dyn Fn(u64) -> bool| {
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if fits(mid) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            lo
        };
        let mut hi = (buy_only + both_buy) / buy;
        if let Some(m) = max_applications {
            hi = hi.min(*m);
        }
        let k = largest(0, hi, &|k| feasible(k.checked_mul(buy), k.checked_mul(get)));
        let mut bought = k.checked_mul(buy)?;
        let mut to_give = k.checked_mul(get)?;
        if *partial && max_applications.is_none_or(|m| k < m) {
            // One more application, incomplete: as many given units as fit, fewer than `get`.
            let bought_more = bought.checked_add(buy);
            if feasible(bought_more, to_give.checked_add(1)) {
                let g = largest(1, get - 1, &|g| {
                    feasible(bought_more, to_give.checked_add(g))
                });
                bought = bought_more?;
                to_give += g;
            }
        }
        if to_give == 0 {
            return Some(());
        }
        let tracked = !units_left.is_empty();
        let mut taken = vec![0_u64; if tracked { n } else { 0 }];
        // What the shared lines may give beyond the units they need to keep for buying: a
        // shared line gives its units that cannot be bought freely, the others from this slack.
        let mut slack = both_buy - bought.saturating_sub(buy_only);
        for k in self.ordered(&c.get_lines, base, *pick) {
            if to_give == 0 {
                break;
            }
            let i = *c.get_lines.get(usize::from(k))?;
            let mut take = can_give(i).min(usable(i)).min(to_give);
            if in_buy(i) {
                let free = usable(i).saturating_sub(can_buy(i));
                take = take.min(free + slack);
                slack -= take.saturating_sub(free);
            }
            if take == 0 {
                continue;
            }
            to_give -= take;
            *d.get_mut(usize::from(i))? =
                self.given_off(i, at(base, usize::from(i)), take, *off)?;
            if let Some(g) = given.as_deref_mut() {
                *g.get_mut(usize::from(i))? = take;
            }
            if let Some(t) = taken.get_mut(usize::from(i)) {
                *t = take;
            }
        }
        if !tracked {
            return Some(());
        }
        // The bought units: from the lines that cannot be given first, then from the shared
        // units not given. `consumed`: what leaves the units to buy, then the units to give.
        *consumed = vec![0; 2 * n];
        // Line `i` bought `b` units and gave `g`: what leaves each side.
        let used = |consumed: &mut [u64], i: u16, b: u64, g: u64| -> Option<()> {
            let (to_buy, to_give) = match mode {
                BuyXGetYUnits::OncePerRole => (b, g),
                BuyXGetYUnits::Shared | BuyXGetYUnits::Once => (b + g, b + g),
            };
            *consumed.get_mut(usize::from(i))? = to_buy;
            *consumed.get_mut(n + usize::from(i))? = to_give;
            Some(())
        };
        let order = self.ordered(&c.lines, base, *pick);
        for shared in [false, true] {
            for &k in &order {
                let i = *c.lines.get(usize::from(k))?;
                if in_get(i) != shared {
                    continue;
                }
                let g = at(&taken, usize::from(i));
                let b = can_buy(i).min(usable(i) - g).min(bought);
                bought -= b;
                used(consumed, i, b, g)?;
            }
        }
        // Lines that are only given.
        for &i in &c.get_lines {
            let g = at(&taken, usize::from(i));
            if !in_buy(i) && g > 0 {
                used(consumed, i, 0, g)?;
            }
        }
        Some(())
    }

    /// What `take` given units of line `i` (worth `amount` in all) lose: a percentage of
    /// them, an amount off each (never more than the units), or down to a price each.
    fn given_off(&self, i: u16, amount: i64, take: u64, off: GetOff) -> Option<i64> {
        let q = i128::from(self.input.lines.get(usize::from(i))?.quantity);
        let point = self.bundle.policy.pricing.rounding_point;
        // `amount × share ÷ quantity` for the taken units, rounded at the declared point.
        let of_units = |share: i128, scale: i128| -> Option<i64> {
            let num = i128::from(amount).checked_mul(share)?;
            let v = match point {
                RoundingPoint::Unit => div_round(num, scale.checked_mul(q)?, self.rounding())?
                    .checked_mul(i128::from(take))?,
                RoundingPoint::Line => div_round(
                    num.checked_mul(i128::from(take))?,
                    scale.checked_mul(q)?,
                    self.rounding(),
                )?,
            };
            i64::try_from(v).ok()
        };
        let units = i64::try_from(take).ok()?;
        match off {
            GetOff::Percent(p) => of_units(i128::from(p.units()), HUNDRED),
            GetOff::Amount(a) => {
                let rate = self.input.lines.get(usize::from(i))?.tax_rate;
                let each = self.fixed_in_price_basis(a, rate)?;
                Some(each.checked_mul(units)?.min(of_units(1, 1)?))
            }
            GetOff::Price(p) => Some((of_units(1, 1)? - p.checked_mul(units)?).max(0)),
        }
    }
}
