//! The explained result: every line and the shipping priced (discount, total, tax, and which
//! promotion took what), the applied discounts, and the checks left to the ledger
//! (`pendingLedger`). The why-not list and the unlock hints come from the assessment and the
//! choice of the combination ([`super::run`]).

use std::sync::Arc;

use crate::error::EvaluationError;
use crate::evaluation::{
    Allocation as AllocationOut, AppliedDiscount, Evaluation, LedgerCheck, LineAmount, LineOutcome,
    NotApplied, ShipmentAmount, ShippingOutcome, UnitDiscount, Unlock,
};
use crate::model::UnitAllocations;
use crate::money::Amount;

use super::rewards::Outcome;
use super::{at, overflow, Candidate, Ctx};

/// The evaluation of the combination `set` applied as `outcome`.
pub(super) fn build(
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
    // What is left of slot `i` (a line or a shipment) and its tax, counted in the total.
    let mut taxed = |i: usize, rate, what: &str| -> Result<(i64, i64), EvaluationError> {
        let total = at(&outcome.remaining, i);
        let tax = ctx.tax(total, rate).ok_or_else(|| overflow(what))?;
        tax_total = tax_total
            .checked_add(tax)
            .ok_or_else(|| overflow("tax total"))?;
        Ok((total, tax))
    };
    // Each line's id, once: the line and every promotion's part on it share it.
    let line_ids: Vec<Arc<str>> = input.lines.iter().map(|l| Arc::from(l.id)).collect();
    let mut lines = Vec::with_capacity(input.lines.len());
    for ((i, l), id) in input.lines.iter().enumerate().zip(&line_ids) {
        let (total, tax) = taxed(i, l.tax_rate, "line tax")?;
        // Sized first: a collect through a filter would grow it step by step.
        let parts = outcome
            .effects
            .iter()
            .filter(|e| at(&e.lines, i) > 0)
            .count();
        let mut allocations: Vec<AllocationOut> = Vec::with_capacity(parts);
        allocations.extend(set.iter().zip(&outcome.effects).filter_map(|(c, e)| {
            let a = at(&e.lines, i);
            (a > 0).then(|| AllocationOut {
                promotion_id: c.promo.id.clone(),
                amount: fmt(a),
            })
        }));
        let units = match bundle.policy.pricing.unit_allocations {
            None => Vec::new(),
            Some(side) => unit_discounts(i, l.quantity, outcome, side)
                .ok_or_else(|| overflow("unit allocations"))?
                .into_iter()
                .map(|(quantity, d)| UnitDiscount {
                    quantity,
                    discount: fmt(d),
                })
                .collect(),
        };
        lines.push(LineOutcome {
            id: id.clone(),
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
            units,
        });
    }
    let mut shipments = Vec::with_capacity(input.shipments.len());
    for (j, s) in input.shipments.iter().enumerate() {
        let (total, tax) = taxed(ctx.n_lines + j, s.tax_rate, "shipping tax")?;
        shipments.push(ShippingOutcome {
            id: s.id.map(str::to_string),
            method: s.method.to_string(),
            amount: fmt(s.amount),
            discount: fmt(s.amount - total),
            total: fmt(total),
            tax: fmt(tax),
        });
    }
    // One shipment given as `context.shipping` is answered as `shipping`.
    let shipping = if input.several { None } else { shipments.pop() };
    let mut applied = Vec::with_capacity(set.len());
    let mut pending_ledger = Vec::new();
    for (c, e) in set.iter().zip(&outcome.effects) {
        let total = e.total().ok_or_else(|| overflow("discount"))?;
        let p = c.promo;
        let on_lines = e.lines.iter().take(ctx.n_lines).filter(|a| **a > 0).count();
        let mut line_parts = Vec::with_capacity(on_lines);
        line_parts.extend(
            line_ids
                .iter()
                .zip(&e.lines)
                .filter(|(_, a)| **a > 0)
                .map(|(id, a)| LineAmount {
                    line_id: id.clone(),
                    amount: fmt(*a),
                }),
        );
        applied.push(AppliedDiscount {
            promotion_id: p.id.clone(),
            name: p.name.clone(),
            class: p.class,
            amount: fmt(total),
            lines: line_parts,
            shipping: Some(e.shipping(ctx.n_lines)).filter(|&a| a > 0).map(fmt),
            shipments: if input.several {
                input
                    .shipments
                    .iter()
                    .zip(e.lines.iter().skip(ctx.n_lines))
                    .filter(|(_, a)| **a > 0)
                    .map(|(s, a)| ShipmentAmount {
                        shipment_id: s.id.unwrap_or_default().to_string(),
                        amount: fmt(*a),
                    })
                    .collect()
            } else {
                Vec::new()
            },
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
    let subtotal: i64 = ctx.original.iter().take(ctx.n_lines).sum();
    Ok(Evaluation {
        bundle_id: bundle.id.clone(),
        bundle_version: bundle.version,
        currency: cur.code(),
        evaluated_at: input.now,
        tax_mode: bundle.policy.pricing.tax_mode,
        subtotal: fmt(subtotal),
        discount_total: fmt(outcome.discount),
        shipping,
        shipments,
        tax_total: fmt(tax_total),
        total: fmt(outcome.payable),
        lines,
        applied,
        not_applied,
        unlocks,
        pending_ledger,
    })
}

/// Line `i`'s discount unit by unit, as runs `(units, discount of each)` in unit order. Each
/// promotion's part is split evenly over the units it discounted (the first `n` of the line for
/// a quota or a buy X get Y, after those earlier buy X get Y promotions used when they use
/// units once; every unit otherwise, and every unit too for a part that reached the
/// line only as a floor's excess), the minor units left over one each to the first or the last of
/// them.
fn unit_discounts(
    i: usize,
    quantity: u64,
    outcome: &Outcome,
    side: UnitAllocations,
) -> Option<Vec<(u64, i64)>> {
    // Each part adds a constant over unit ranges: `(from, to, amount)`.
    let mut pieces: Vec<(u64, u64, i64)> = Vec::new();
    // Where the next buy X get Y's given units start: after the units earlier ones took from
    // those that may be given (`buyXGetYUnits`), 0 when they share units.
    let mut start = 0_u64;
    for e in &outcome.effects {
        let part = at(&e.lines, i);
        // A buy X get Y that used units (`consumed`) gives the units after those used before it.
        let from = if e.consumed.is_empty() { 0 } else { start };
        start += e
            .consumed
            .get(e.consumed.len() / 2 + i)
            .copied()
            .unwrap_or(0);
        if part <= 0 {
            continue;
        }
        let n = match &e.units {
            Some(u) => match u.get(i).copied() {
                Some(n) if n > 0 && from + n <= quantity => n,
                _ => quantity,
            },
            None => quantity,
        };
        let from = if n == quantity { 0 } else { from };
        let each = part / i64::try_from(n).ok()?;
        let left = u64::try_from(part % i64::try_from(n).ok()?).ok()?;
        pieces.push((from, from + n, each));
        if left > 0 {
            let (a, b) = match side {
                UnitAllocations::First => (from, from + left),
                UnitAllocations::Last => (from + n - left, from + n),
            };
            pieces.push((a, b, 1));
        }
    }
    // Sweep the breakpoints; runs of equal discount merge.
    // Kept sorted and distinct by insertion: a line has few parts, and a sort would cost the
    // wasm module a few KB.
    let mut cuts: Vec<u64> = vec![0, quantity];
    for (from, to, _) in &pieces {
        for cut in [*from, *to] {
            let at = cuts.partition_point(|&c| c < cut);
            if cuts.get(at) != Some(&cut) {
                cuts.insert(at, cut);
            }
        }
    }
    let mut runs: Vec<(u64, i64)> = Vec::new();
    for w in cuts.windows(2) {
        let (from, to) = (*w.first()?, *w.get(1)?);
        let d = pieces
            .iter()
            .filter(|(a, b, _)| *a <= from && to <= *b)
            .try_fold(0_i64, |s, (_, _, v)| s.checked_add(*v))?;
        match runs.last_mut() {
            Some((units, last)) if *last == d => *units += to - from,
            _ => runs.push((to - from, d)),
        }
    }
    Some(runs)
}
