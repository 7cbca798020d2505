//! Evaluation: which promotions are eligible, what each would give, which combination is best
//! for the shopper, and the explained result.
//!
//! [`run`] is the whole pipeline, one step a module:
//! - [`eligibility`]: which promotions may apply to this cart and why the others may not: the
//!   gates (schedule, window, channel, customer, region, code or grant), the lines a promotion
//!   targets, the thresholds, and the unlock hints of those held back only by spend or quantity
//!   ([`assess`]); also which code-gated promotions the entered codes unlock ([`code_unlocks`]).
//! - [`rewards`]: what each reward type takes off (percentages, amounts, fixed prices, buy X get
//!   Y, tiers, volume breaks, shipping), caps and line floors, and applying a combination.
//! - [`crate::select`]: which combination of eligible promotions is best for the shopper.
//! - [`explain`]: the [`Evaluation`]: priced lines and shipping, applied discounts, the checks
//!   left to the ledger.
//!
//! This module holds what they share: the [`Ctx`] of one evaluation and what the shopper pays
//! for given amounts (tax included).

mod eligibility;
mod explain;
mod rewards;

use std::sync::Arc;

use crate::codes::CodeHash;
use crate::compile::{Bundle, Floor, Input, Set, Shipping};
use crate::error::EvaluationError;
use crate::evaluation::{Evaluation, NotApplied, Reason};
use crate::model::{Compounding, FloorExcess, TaxMode, TaxRoundingTarget};
use crate::money::{gross_up, net_of, percent_of, tax_in, Percent, Rounding};
use crate::select;
use eligibility::{entered_code_hashes, granted_promotions, Assessment};
use explain::build;

pub(crate) use eligibility::{assess, code_unlocks, Candidate};

/// Everything about one evaluation that does not change while combinations are tried.
pub(crate) struct Ctx<'a> {
    pub bundle: &'a Bundle,
    pub input: &'a Input<'a>,
    /// `ranks[line]`: the line's position in line-id order (tie-breaks).
    pub ranks: Vec<u32>,
    /// The lowest amount each line may be discounted to.
    pub floors: Vec<i64>,
    /// The amount of every slot before any promotion: the lines, then the shipments. Every
    /// amount vector of an evaluation has these slots.
    pub original: Vec<i64>,
    /// The number of lines: slots from here on are shipments.
    pub n_lines: usize,
    /// What the shopper would pay with no promotion at all.
    pub baseline_payable: i64,
    /// Whether a promotion's part can meet a line's floor, or zero (computed on the original
    /// amounts, `compounding: original`), and its excess move to its other lines.
    pub excess_moves: bool,
    /// Keyed hashes of the entered codes (when the bundle has the code secret and hashed sets).
    code_hashes: Vec<CodeHash>,
    /// Promotions unlocked by valid code grants.
    granted: Vec<String>,
}

fn overflow(what: &str) -> EvaluationError {
    EvaluationError::Overflow(what.to_string())
}

/// Whether a shipping reward limited to `methods` and `countries` (empty: any) suits shipment
/// `s`; a listed country needs the shipment's country.
pub(crate) fn ships_to(methods: &Set, countries: &Set, s: &Shipping) -> bool {
    (methods.is_empty() || methods.contains(s.method))
        && (countries.is_empty() || countries.contains_opt(s.country))
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
        let rounding = bundle.policy.pricing.discount_rounding;
        // A line's floor: the first product floor targeting it (else the bundle's), or its own
        // `floorUnitPrice` when that is higher; never above the line.
        let policy = &bundle.policy;
        let floors = input
            .lines
            .iter()
            .map(|l| {
                let rule = policy
                    .product_floors
                    .iter()
                    .find(|(selector, _)| selector.matches(&l.item))
                    .map(|(_, floor)| *floor)
                    .or(policy.floor);
                let floor = match rule {
                    None => 0,
                    Some(Floor::PercentOfOriginal(p)) => percent_of(l.amount, p, rounding)?,
                    Some(Floor::PerUnit(u)) => u.checked_mul(i64::try_from(l.quantity).ok()?)?,
                };
                Some(floor.max(l.own_floor).min(l.amount))
            })
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| overflow("line floor"))?;
        let original: Vec<i64> = input
            .lines
            .iter()
            .map(|l| l.amount)
            .chain(input.shipments.iter().map(|s| s.amount))
            .collect();
        let excess_moves = policy.pricing.floor_excess != FloorExcess::None
            && (policy.pricing.compounding == Compounding::Original
                || floors.iter().any(|&f| f > 0));
        let mut ctx = Ctx {
            bundle,
            input,
            ranks,
            floors,
            original,
            n_lines: n,
            baseline_payable: 0,
            excess_moves,
            code_hashes: entered_code_hashes(bundle, input),
            granted: granted_promotions(bundle, input),
        };
        ctx.baseline_payable = ctx
            .payable(&ctx.original)
            .ok_or_else(|| overflow("cart total"))?;
        Ok(ctx)
    }

    /// The rounding of discounts, shares and floors.
    fn rounding(&self) -> Rounding {
        self.bundle.policy.pricing.discount_rounding
    }

    fn inclusive(&self) -> bool {
        self.bundle.policy.pricing.tax_mode == TaxMode::Inclusive
    }

    /// Tax on a line or shipping amount as it stands.
    /// The tax itself is rounded, or (`taxRoundingTarget: converted`) the amount converted from
    /// the price, the gross or the net, and the tax is the difference.
    pub fn tax(&self, amount: i64, rate: Percent) -> Option<i64> {
        let pricing = &self.bundle.policy.pricing;
        let mode = pricing.tax_rounding;
        match (self.inclusive(), pricing.tax_rounding_target) {
            (true, TaxRoundingTarget::Tax) => tax_in(amount, rate, mode),
            (false, TaxRoundingTarget::Tax) => percent_of(amount, rate, mode),
            (true, TaxRoundingTarget::Converted) => {
                net_of(amount, rate, mode).and_then(|net| amount.checked_sub(net))
            }
            (false, TaxRoundingTarget::Converted) => {
                gross_up(amount, rate, mode).and_then(|gross| gross.checked_sub(amount))
            }
        }
    }

    /// The tax rate of slot `i`: a line's, or a shipment's.
    fn rate(&self, i: usize) -> Percent {
        match self.input.lines.get(i) {
            Some(l) => l.tax_rate,
            None => i
                .checked_sub(self.n_lines)
                .and_then(|j| self.input.shipments.get(j))
                .map_or(Percent::ZERO, |s| s.tax_rate),
        }
    }

    /// What the shopper pays for slot `i` (a line or a shipment) at `amount`: tax added when
    /// prices exclude it.
    pub fn slot_payable(&self, i: usize, amount: i64) -> Option<i64> {
        if self.inclusive() {
            return Some(amount);
        }
        amount.checked_add(self.tax(amount, self.rate(i))?)
    }

    /// What the shopper pays for these slot amounts (the lines, then the shipments).
    pub fn payable(&self, slots: &[i64]) -> Option<i64> {
        slots.iter().enumerate().try_fold(0_i64, |total, (i, a)| {
            total.checked_add(self.slot_payable(i, *a)?)
        })
    }

    /// The shipments' slots.
    pub fn shipment_slots(&self) -> std::ops::Range<usize> {
        self.n_lines..self.original.len()
    }

    /// The tie-break rank of slot `i`: a line's line-id order, the shipments after every line
    /// in input order.
    pub fn slot_rank(&self, i: usize) -> u32 {
        match i.checked_sub(self.n_lines) {
            None => at(&self.ranks, i),
            Some(j) => {
                let count = self.original.len() - self.n_lines;
                u32::MAX - u32::try_from(count - j).unwrap_or(u32::MAX)
            }
        }
    }
}

/// Evaluates a compiled input against a bundle.
pub(crate) fn run(bundle: &Bundle, input: &Input<'_>) -> Result<Evaluation, EvaluationError> {
    let ctx = Ctx::new(bundle, input)?;
    let Assessment {
        eligible,
        not_applied,
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
    // Why each eligible promotion outside the combination is not applied, in application order
    // (`eligible`, `chosen` and `emptied` are all ascending), then merged with the assessment's
    // reasons, which are ascending too: the answer lists them by application order.
    let mut lost: Vec<(u32, Reason)> = Vec::new();
    for (k, cand) in eligible.iter().enumerate() {
        let order = u32::try_from(cand.order).unwrap_or(u32::MAX);
        if chosen.binary_search(&k).is_ok() {
            if emptied.binary_search(&cand.order).is_ok() {
                lost.push((
                    order,
                    Reason::LostToCombination {
                        winners: set.iter().map(|w| w.promo.id.clone()).collect(),
                    },
                ));
            }
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
        lost.push((order, reason));
    }
    let not_applied = merge_by_order(not_applied, lost);

    let not_applied = NotApplied {
        ids: bundle.ids.clone(),
        untargeted,
        reasons: not_applied,
    };
    build(&ctx, &set, &outcome, not_applied, unlocks)
}

/// Two lists ascending by promotion order, as one (a promotion is in at most one of them).
fn merge_by_order(a: Vec<(u32, Reason)>, b: Vec<(u32, Reason)>) -> Vec<(u32, Reason)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0 <= y.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}
