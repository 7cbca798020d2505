//! Choosing the combination of eligible promotions that is best for the shopper.
//!
//! The rule (documented in `docs/json-reference.md`): among the allowed combinations (no
//! exclusive promotion beside another, every pair accepting each other's class, at most one
//! promotion per named group), the one with the lowest total to pay wins; ties go to the larger
//! discount, then to the combination whose promotions, in application order, come first
//! (a prefix beats a longer list). With `stacking: bestOnly` only single promotions compete.
//!
//! The search is a branch and bound over the candidates, dearest first. A promotion never adds
//! more to a combination than it saves alone (thresholds are judged before discounts and each
//! reward is monotone in the amounts it is taken from), so the standalone savings of the
//! remaining candidates bound what a branch can still gain; a slack of a few minor units per
//! candidate absorbs rounding. The search stops after [`MAX_NODES`] combinations and keeps the
//! best found, which happens only with hundreds of mutually combinable candidates.

use std::cmp::Ordering;

use crate::engine::{Candidate, Ctx};
use crate::error::EvaluationError;
use crate::model::StackingMode;

/// Most combinations priced in one evaluation.
pub const MAX_NODES: usize = 20_000;

/// How a priced combination ranks: lower payable, then larger discount, then earlier promotions.
#[derive(Clone, Debug)]
pub(crate) struct Score {
    pub payable: i64,
    pub discount: i64,
    /// Candidate indices in application order.
    pub set: Vec<usize>,
}

pub(crate) fn better(a: &Score, b: &Score, orders: &dyn Fn(usize) -> usize) -> bool {
    compare(a, b, orders) == Ordering::Less
}

fn compare(a: &Score, b: &Score, orders: &dyn Fn(usize) -> usize) -> Ordering {
    a.payable
        .cmp(&b.payable)
        .then_with(|| b.discount.cmp(&a.discount))
        .then_with(|| {
            let ka = a.set.iter().map(|&k| orders(k));
            let kb = b.set.iter().map(|&k| orders(k));
            ka.cmp(kb)
        })
}

#[cfg(test)]
pub(crate) fn allowed(cands: &[Candidate], set: &[usize]) -> bool {
    set.iter().enumerate().all(|(n, &a)| {
        set.iter()
            .skip(n + 1)
            .all(|&b| match (cands.get(a), cands.get(b)) {
                (Some(x), Some(y)) => x.promo.compatible(y.promo),
                _ => false,
            })
    })
}

pub(crate) fn price(
    ctx: &Ctx,
    cands: &[Candidate],
    set: &[usize],
) -> Result<Score, EvaluationError> {
    let refs: Vec<&Candidate> = set.iter().filter_map(|&k| cands.get(k)).collect();
    let outcome = ctx.apply(&refs)?;
    Ok(Score {
        payable: outcome.payable,
        discount: outcome.discount,
        set: set.to_vec(),
    })
}

/// The indices (into `cands`, in application order) of the combination to apply.
pub(crate) fn best(ctx: &Ctx, cands: &[Candidate]) -> Result<Vec<usize>, EvaluationError> {
    if cands.is_empty() {
        return Ok(Vec::new());
    }
    let orders = |k: usize| cands.get(k).map_or(usize::MAX, |c| c.order);
    if ctx.bundle.policy.spec.stacking == StackingMode::BestOnly {
        let mut best: Option<Score> = None;
        for k in 0..cands.len() {
            let s = price(ctx, cands, &[k])?;
            if best.as_ref().is_none_or(|b| better(&s, b, &orders)) {
                best = Some(s);
            }
        }
        return Ok(best.map(|b| b.set).unwrap_or_default());
    }
    let mut branch: Vec<usize> = (0..cands.len()).collect();
    branch.sort_by(|&a, &b| {
        let (sa, sb) = (
            cands.get(a).map_or(0, |c| c.saving),
            cands.get(b).map_or(0, |c| c.saving),
        );
        sb.cmp(&sa).then(a.cmp(&b))
    });
    let mut search = Search {
        ctx,
        cands,
        branch,
        slack: i64::try_from(ctx.input.lines.len())
            .unwrap_or(i64::MAX / 4)
            .saturating_add(2),
        best: Score {
            payable: ctx.baseline_payable,
            discount: 0,
            set: Vec::new(),
        },
        nodes: 0,
    };
    let mut chosen = Vec::new();
    search.dfs(0, &mut chosen, ctx.baseline_payable)?;
    Ok(search.best.set)
}

struct Search<'s, 'a> {
    ctx: &'s Ctx<'a>,
    cands: &'s [Candidate<'a>],
    branch: Vec<usize>,
    slack: i64,
    best: Score,
    nodes: usize,
}

impl Search<'_, '_> {
    fn dfs(
        &mut self,
        pos: usize,
        chosen: &mut Vec<usize>,
        payable: i64,
    ) -> Result<(), EvaluationError> {
        let Some(&next) = self.branch.get(pos) else {
            return Ok(());
        };
        if self.nodes >= MAX_NODES {
            return Ok(());
        }
        // Bound: what the rest could still save, at most.
        let compatible = |k: usize| {
            let Some(c) = self.cands.get(k) else {
                return false;
            };
            chosen.iter().all(|&j| {
                self.cands
                    .get(j)
                    .is_some_and(|o| o.promo.compatible(c.promo))
            })
        };
        let mut bound = 0_i64;
        for &k in self.branch.iter().skip(pos) {
            if compatible(k) {
                let s = self.cands.get(k).map_or(0, |c| c.saving.max(0));
                bound = bound.saturating_add(s).saturating_add(self.slack);
            }
        }
        if payable.saturating_sub(bound) > self.best.payable {
            return Ok(());
        }
        if compatible(next) {
            chosen.push(next);
            let mut set = chosen.clone();
            set.sort_by_key(|&k| self.cands.get(k).map_or(usize::MAX, |c| c.order));
            self.nodes += 1;
            let score = price(self.ctx, self.cands, &set)?;
            let orders = |k: usize| self.cands.get(k).map_or(usize::MAX, |c| c.order);
            let new_payable = score.payable;
            if better(&score, &self.best, &orders) {
                self.best = score;
            }
            self.dfs(pos + 1, chosen, new_payable)?;
            chosen.pop();
        }
        self.dfs(pos + 1, chosen, payable)
    }
}
