//! Choosing the combination of eligible promotions that is best for the shopper.
//!
//! The rule (documented in `docs/json-reference.md`):
//! - A combination is *allowed* when no exclusive promotion is beside another, no named group
//!   has two members, and every pair accepts each other's class (`combinesWith`), except that
//!   two product discounts that target no common line never meet and so always combine.
//! - It is *maximal* when no other eligible promotion could be added to it: an eligible
//!   promotion that combines with everything applied is always applied. So a promotion that
//!   did not apply always conflicts with one that did (`notCombinable`).
//! - Among the maximal allowed combinations, the one with the lowest total to pay wins; ties go
//!   to the larger discount, then to the combination whose promotions, in application order,
//!   come first (a prefix beats a longer list). With `stacking: bestOnly` only single promotions
//!   compete.
//!
//! The search walks the candidates in application order, applying each included one to the
//! running amounts (one step per node), and prunes a branch when even the most it could still
//! save cannot beat the best found: per line, the smaller of what is left of the line and what
//! the remaining line-local promotions would take off it alone, plus the standalone totals of
//! the remaining promotions whose parts can move between lines (order amounts, buy-X-get-Y,
//! capped ones, or any under a line floor), with tax and a rounding slack. Candidates that all
//! conflict with each other (a clique, within one line, the moving parts or shipping) count once,
//! by the largest part of those that still fit: at most one of them is ever applied. After
//! [`MAX_NODES`] branching steps it keeps the best combination found so far; the answer is
//! still deterministic and identical on every host.
//!
//! The search costs what the conflicts cost. A promotion that conflicts with no other eligible
//! one is in every maximal combination: it is taken without a branch (and without the tight
//! bound), and when no two candidates conflict, all of them is the answer without a search.
//! When every candidate's parts stay on its own lines, the free ones that share no line with
//! a contested one are set aside and the search runs on the rest.

use std::cmp::Ordering;

use crate::compile::Reward;
use crate::engine::{Candidate, Ctx};
use crate::error::EvaluationError;
use crate::model::{BuyXGetYUnits, TaxMode};
use crate::money::{Percent, PERCENT_UNIT};

/// Most search nodes where the search may branch (each prices one promotion or bounds one
/// branch) per evaluation; promotions that conflict with none are taken without counting.
pub const MAX_NODES: usize = 2_000;

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

fn compatible(cands: &[Candidate], a: usize, b: usize) -> bool {
    match (cands.get(a), cands.get(b)) {
        (Some(x), Some(y)) => x.compatible(y),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) fn allowed(cands: &[Candidate], set: &[usize]) -> bool {
    set.iter()
        .enumerate()
        .all(|(n, &a)| set.iter().skip(n + 1).all(|&b| compatible(cands, a, b)))
}

#[cfg(test)]
pub(crate) fn maximal(cands: &[Candidate], set: &[usize]) -> bool {
    (0..cands.len())
        .filter(|k| !set.contains(k))
        .all(|k| set.iter().any(|&c| !compatible(cands, k, c)))
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

/// Whether a promotion's parts stay on the lines where it takes them alone, whatever was
/// taken before it (so its standalone parts bound it line by line). Never when a part can meet
/// a line's floor (or zero, computed on original amounts) and its excess moves to other lines.
fn line_local(ctx: &Ctx, c: &Candidate) -> bool {
    let local_reward = match &c.promo.reward {
        Reward::PercentOffLines(_)
        | Reward::FixedPrice(_)
        | Reward::Volume(_)
        | Reward::Shipping { .. } => true,
        Reward::AmountOff { per, .. } => *per != crate::model::AmountPer::Order,
        Reward::Tiered { .. } => matches!(c.tier, Some(crate::compile::TierReward::Percent(_))),
        Reward::PercentOffOrder(_) | Reward::BuyXGetY { .. } => false,
    };
    local_reward && c.promo.cap.is_none() && !ctx.excess_moves
}

/// The most a promotion whose parts may move between lines can take off in any combination:
/// what it takes alone, except a buy X get Y when they use units once (`buyXGetYUnits`). An
/// earlier one may then have used the units it gives alone and leave it dearer ones, so each
/// unit it may give counts at the dearest unit price of its lines (a given unit never loses
/// more than its price).
fn most(ctx: &Ctx, c: &Candidate) -> i64 {
    let alone = c.alone.total().unwrap_or(i64::MAX);
    let Reward::BuyXGetY {
        get,
        max_applications,
        ..
    } = &c.promo.reward
    else {
        return alone;
    };
    if ctx.bundle.policy.pricing.buy_x_get_y_units == BuyXGetYUnits::Shared {
        return alone;
    }
    let (mut all, mut dearest) = (0_i64, 0_i64);
    for &i in &c.get_lines {
        let amount = ctx
            .original
            .get(usize::from(i))
            .copied()
            .unwrap_or(0)
            .max(0);
        let q = ctx
            .input
            .lines
            .get(usize::from(i))
            .map_or(1, |l| l.quantity.max(1));
        all = all.saturating_add(amount);
        let unit = u64::try_from(amount).unwrap_or(0).div_ceil(q);
        dearest = dearest.max(i64::try_from(unit).unwrap_or(i64::MAX));
    }
    let mut bound = all;
    if let Some(units) = max_applications.and_then(|m| m.checked_mul(*get)) {
        bound = bound.min(dearest.saturating_mul(i64::try_from(units).unwrap_or(i64::MAX)));
    }
    if let Some(cap) = c.promo.cap {
        bound = bound.min(cap);
    }
    bound
}

/// The indices (into `cands`, in application order) of the combination to apply.
pub(crate) fn best(ctx: &Ctx, cands: &[Candidate]) -> Result<Vec<usize>, EvaluationError> {
    if cands.is_empty() {
        return Ok(Vec::new());
    }
    let orders = |k: usize| cands.get(k).map_or(usize::MAX, |c| c.order);
    if ctx.bundle.policy.best_only() {
        let mut best: Option<Score> = None;
        for k in 0..cands.len() {
            let s = price(ctx, cands, &[k])?;
            if best.as_ref().is_none_or(|b| better(&s, b, &orders)) {
                best = Some(s);
            }
        }
        return Ok(best.map(|b| b.set).unwrap_or_default());
    }
    let graph = Graph::of(cands);
    // A candidate that conflicts with none is in every maximal combination; when none
    // conflicts, all of them together is the only one, and there is nothing to search.
    if graph.free.iter().all(|&f| f) {
        return Ok((0..cands.len()).collect());
    }
    // Such a candidate whose price cannot depend on the contested ones (nor theirs on it) is
    // set aside, and the search runs on the rest alone.
    let aside = independent(ctx, cands, &graph);
    if !aside.iter().any(|&a| a) {
        return search(ctx, cands, graph);
    }
    let kept: Vec<usize> = (0..cands.len())
        .filter(|&k| !aside.get(k).copied().unwrap_or(false))
        .collect();
    let sub: Vec<Candidate> = kept.iter().filter_map(|&k| cands.get(k).cloned()).collect();
    let chosen = search(ctx, &sub, Graph::of(&sub))?;
    let mut all: Vec<usize> = chosen
        .iter()
        .filter_map(|&j| kept.get(j).copied())
        .chain((0..cands.len()).filter(|&k| aside.get(k).copied().unwrap_or(false)))
        .collect();
    all.sort_unstable();
    Ok(all)
}

/// Whether every pair of candidates may apply together because none is exclusive or in a named
/// group and each accepts every class among them ([`crate::compile::Promotion::pairing`] is
/// then `Always` for every pair). `false` does not mean a conflict: the graph decides.
fn all_combine(cands: &[Candidate]) -> bool {
    let mut present = [false; 3];
    for c in cands {
        if let Some(p) = present.get_mut(c.promo.class as usize) {
            *p = true;
        }
    }
    cands.iter().all(|c| {
        let p = c.promo;
        !p.exclusive
            && p.group.is_none()
            && present
                .iter()
                .zip(&p.combines_with)
                .all(|(&here, &accepts)| !here || accepts)
    })
}

/// The conflicts between candidates.
struct Graph {
    /// Bit sets, `words` per candidate (row k: the candidates k cannot be combined with).
    conflicts: Vec<u64>,
    words: usize,
    /// The last later candidate each one conflicts with (without one, leaving it out while it
    /// still fits can never end in a maximal combination).
    last_conflict: Vec<Option<usize>>,
    /// Whether a candidate conflicts with none.
    free: Vec<bool>,
}

impl Graph {
    fn of(cands: &[Candidate]) -> Graph {
        let n = cands.len();
        let words = n.div_ceil(64);
        let mut conflicts = vec![0_u64; n * words];
        let mut last_conflict: Vec<Option<usize>> = vec![None; n];
        let mut free = vec![true; n];
        // When every pair combines (Medusa's semantics), no pair needs looking at.
        if all_combine(cands) {
            return Graph {
                conflicts,
                words,
                last_conflict,
                free,
            };
        }
        for a in 0..n {
            for b in a + 1..n {
                if compatible(cands, a, b) {
                    continue;
                }
                for (x, y) in [(a, b), (b, a)] {
                    if let Some(w) = conflicts.get_mut(x * words + y / 64) {
                        *w |= 1 << (y % 64);
                    }
                    if let Some(f) = free.get_mut(x) {
                        *f = false;
                    }
                }
                if let Some(l) = last_conflict.get_mut(a) {
                    *l = Some(b);
                }
            }
        }
        Graph {
            conflicts,
            words,
            last_conflict,
            free,
        }
    }
}

/// The free candidates whose price cannot depend on the contested ones, nor theirs on them:
/// when every candidate's parts stay on its own lines (no order amounts, caps or floors), a
/// free candidate that shares no line (and not shipping) with any contested one. What the
/// shopper pays is a sum over lines and shipping, so leaving these out shifts every
/// combination's payable and discount by the same amounts, and the order of promotions breaks
/// ties between maximal combinations the same way with or without them. All `false` when
/// nothing can be set aside.
fn independent(ctx: &Ctx, cands: &[Candidate], graph: &Graph) -> Vec<bool> {
    let none = vec![false; cands.len()];
    if !cands.iter().all(|c| line_local(ctx, c)) {
        return none;
    }
    let ships = |c: &Candidate| c.promo.touches_shipping();
    let mut lines: Vec<u64> = Vec::new();
    let mut shipping = false;
    for (c, free) in cands.iter().zip(&graph.free) {
        if !free {
            if lines.len() < c.mask.len() {
                lines.resize(c.mask.len(), 0);
            }
            for (l, m) in lines.iter_mut().zip(&c.mask) {
                *l |= m;
            }
            shipping |= ships(c);
        }
    }
    cands
        .iter()
        .zip(&graph.free)
        .map(|(c, &free)| {
            free && !(shipping && ships(c)) && c.mask.iter().zip(&lines).all(|(m, l)| m & l == 0)
        })
        .collect()
}

/// The branch-and-bound search over candidates whose conflicts are `graph`.
fn search(ctx: &Ctx, cands: &[Candidate], graph: Graph) -> Result<Vec<usize>, EvaluationError> {
    let n = cands.len();
    let lines = ctx.input.lines.len();
    let Graph {
        conflicts,
        words,
        last_conflict,
        free,
    } = graph;
    let exclusive = ctx.bundle.policy.pricing.tax_mode == TaxMode::Exclusive;
    // What each candidate takes off alone, by place and clique, for the bounds.
    let shares = Shares::of(ctx, cands, &conflicts, words);
    // Suffix sums from candidate k on: line-local parts (tax included), moving totals, shipping.
    let mut local_total = vec![0_i64; n + 1];
    let mut moving = vec![0_i64; n + 1];
    let mut shipping = vec![0_i64; n + 1];
    for k in (0..n).rev() {
        let (mut own_local, mut own_moving, mut own_shipping) = (0_i64, 0_i64, 0_i64);
        for share in shares.of_candidate(k) {
            let d = share.amount;
            match shares.places.get(share.clique as usize) {
                Some(Place::Line(i)) => {
                    let rate = ctx
                        .input
                        .lines
                        .get(usize::from(*i))
                        .map_or(Percent::ZERO, |l| l.tax_rate);
                    own_local = own_local.saturating_add(with_tax(d, rate, exclusive));
                }
                Some(Place::Moving) => own_moving = own_moving.saturating_add(d),
                Some(Place::Shipping) => own_shipping = own_shipping.saturating_add(d),
                None => {}
            }
        }
        for (v, own) in [
            (&mut local_total, own_local),
            (&mut moving, own_moving),
            (&mut shipping, own_shipping),
        ] {
            let next = v.get(k + 1).copied().unwrap_or(0);
            if let Some(slot) = v.get_mut(k) {
                *slot = next.saturating_add(own);
            }
        }
    }
    let max_rate = ctx
        .input
        .lines
        .iter()
        .map(|l| l.tax_rate)
        .chain(ctx.input.shipments.iter().map(|s| s.tax_rate))
        .max()
        .unwrap_or(Percent::ZERO);
    let ship_rate = ctx
        .input
        .shipments
        .iter()
        .map(|s| s.tax_rate)
        .max()
        .unwrap_or(Percent::ZERO);
    // What each saves alone, tax included: the twins' first test and the greedy's order.
    let savings = cands
        .iter()
        .map(|c| ctx.saved_alone(&c.alone))
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| EvaluationError::Overflow("cart total".into()))?;
    // A candidate identical to an earlier one in every respect that matters (reward, lines,
    // stacking, cap) must share its fate: taken with it when they combine, never otherwise.
    let twin_of: Vec<Option<usize>> = (0..n)
        .map(|k| (0..k).find(|&j| savings.get(j) == savings.get(k) && twins(cands, j, k)))
        .collect();
    // A strong first incumbent makes the bounds bite early: take candidates by standalone
    // saving, largest first, whenever they fit (a maximal combination by construction).
    let mut by_saving: Vec<usize> = (0..n).collect();
    by_saving.sort_by_key(|&k| (std::cmp::Reverse(savings.get(k).copied().unwrap_or(0)), k));
    let mut greedy: Vec<usize> = Vec::new();
    for k in by_saving {
        if greedy.iter().all(|&j| compatible(cands, j, k)) {
            greedy.push(k);
        }
    }
    greedy.sort_unstable();
    let incumbent = price(ctx, cands, &greedy)?;
    let mut search = Search {
        ctx,
        cands,
        best_in_clique: vec![0; shares.places.len()],
        touched_cliques: Vec::new(),
        shares,
        acc: vec![0; lines],
        touched: Vec::new(),
        twin_of,
        local_total,
        moving,
        shipping,
        last_conflict,
        free,
        conflicts,
        words,
        blocked: vec![0_u64; words],
        blocked_saved: Vec::new(),
        spare: Vec::new(),
        max_rate,
        ship_rate,
        best: incumbent,
        nodes: 0,
        chosen: Vec::new(),
        excluded: Vec::new(),
        remaining: ctx.original.clone(),
        units_left: ctx.units_left(),
        shipping_left: ctx
            .original
            .get(ctx.shipment_slots())
            .map_or(0, |s| s.iter().sum()),
        payable: ctx.baseline_payable,
        discount: 0,
    };
    search.dfs(0, None)?;
    Ok(search.best.set)
}

fn twins(cands: &[Candidate], j: usize, k: usize) -> bool {
    let (Some(a), Some(b)) = (cands.get(j), cands.get(k)) else {
        return false;
    };
    let (p, q) = (a.promo, b.promo);
    a.alone.lines == b.alone.lines
        && a.mask == b.mask
        && a.lines == b.lines
        && a.get_lines == b.get_lines
        && a.percent == b.percent
        && a.tier == b.tier
        && p.class == q.class
        && p.combines_with == q.combines_with
        && !p.exclusive
        && !q.exclusive
        && p.group.is_none()
        && q.group.is_none()
        && p.cap == q.cap
        && p.reward == q.reward
        && p.loyalty == q.loyalty
}

/// Where a part of what a candidate takes off alone lands, as the bounds see it.
#[derive(Clone, Copy)]
enum Place {
    /// On this line only (a line-local candidate).
    Line(u16),
    /// On any of its lines (order amounts, buy X get Y, caps, floors).
    Moving,
    Shipping,
}

/// A part of what a candidate takes off alone, in one clique of its place.
#[derive(Clone, Copy)]
struct Share {
    clique: u32,
    amount: i64,
}

/// What every candidate takes off alone, as the bounds see it: its parts, each in a clique of
/// mutually conflicting candidates of the same place. At most one member of a clique is ever
/// applied, so the bounds count each clique's largest part, not the sum: a shop's product
/// discounts that do not stack with each other count once per shared line, its order discounts
/// once per order.
struct Shares {
    /// Every candidate's shares, one after the other (`start[k]..start[k + 1]`).
    list: Vec<Share>,
    start: Vec<usize>,
    /// Each clique's place.
    places: Vec<Place>,
}

impl Shares {
    /// Splits the candidates of every place into cliques greedily, in candidate order: each
    /// joins the first clique of its place whose every member it conflicts with.
    fn of(ctx: &Ctx, cands: &[Candidate], conflicts: &[u64], words: usize) -> Shares {
        let lines = ctx.input.lines.len();
        let mut shares = Shares {
            list: Vec::with_capacity(cands.len() * 2),
            start: Vec::with_capacity(cands.len() + 1),
            places: Vec::new(),
        };
        // Per place (the lines, then moving, then shipping), its cliques; per clique, the
        // candidates that conflict with every member (`words` each).
        let mut by_place: Vec<Vec<u32>> = vec![Vec::new(); lines + 2];
        let mut common: Vec<u64> = Vec::new();
        for (k, c) in cands.iter().enumerate() {
            shares.start.push(shares.list.len());
            let row = conflicts.get(k * words..(k + 1) * words).unwrap_or(&[]);
            let mut add = |place: Place, amount: i64| {
                if amount <= 0 {
                    return;
                }
                let slot = match place {
                    Place::Line(i) => usize::from(i),
                    Place::Moving => lines,
                    Place::Shipping => lines + 1,
                };
                let Some(ids) = by_place.get_mut(slot) else {
                    return;
                };
                let joins = |&id: &u32| {
                    common
                        .get(id as usize * words + k / 64)
                        .is_some_and(|w| w & (1 << (k % 64)) != 0)
                };
                let clique = match ids.iter().copied().find(joins) {
                    Some(id) => {
                        let from = id as usize * words;
                        for (w, r) in common.iter_mut().skip(from).take(words).zip(row) {
                            *w &= r;
                        }
                        id
                    }
                    None => {
                        let Ok(id) = u32::try_from(shares.places.len()) else {
                            return;
                        };
                        shares.places.push(place);
                        common.extend_from_slice(row);
                        ids.push(id);
                        id
                    }
                };
                shares.list.push(Share { clique, amount });
            };
            if !line_local(ctx, c) {
                add(Place::Moving, most(ctx, c));
            } else if let ship @ 1.. = c.alone.shipping(lines) {
                add(Place::Shipping, ship);
            } else {
                for (i, d) in c.alone.lines.iter().enumerate().take(lines) {
                    if let Ok(i) = u16::try_from(i) {
                        add(Place::Line(i), *d);
                    }
                }
            }
        }
        shares.start.push(shares.list.len());
        shares
    }

    /// Candidate k's shares.
    fn of_candidate(&self, k: usize) -> &[Share] {
        let (Some(&from), Some(&to)) = (self.start.get(k), self.start.get(k + 1)) else {
            return &[];
        };
        self.list.get(from..to).unwrap_or(&[])
    }
}

struct Search<'s, 'a> {
    ctx: &'s Ctx<'a>,
    cands: &'s [Candidate<'a>],
    shares: Shares,
    /// Scratch for [`Search::bound_fitting`]: the largest fitting part per clique and the
    /// cliques touched, then per-line sums and the lines touched.
    best_in_clique: Vec<i64>,
    touched_cliques: Vec<u32>,
    acc: Vec<i64>,
    touched: Vec<u16>,
    twin_of: Vec<Option<usize>>,
    /// `local_total[k]`: the line-local suffix from k on, all lines together, tax included.
    local_total: Vec<i64>,
    moving: Vec<i64>,
    shipping: Vec<i64>,
    /// The last candidate each one conflicts with.
    last_conflict: Vec<Option<usize>>,
    /// Whether a candidate conflicts with none (it is in every maximal combination).
    free: Vec<bool>,
    conflicts: Vec<u64>,
    words: usize,
    /// The candidates that conflict with a chosen one (one bit each), and the earlier sets
    /// (a stack, `words` per choice) to restore when a choice is undone.
    blocked: Vec<u64>,
    blocked_saved: Vec<u64>,
    /// Per-slot buffers of the branches left, for the next steps' effects.
    spare: Vec<Vec<i64>>,
    max_rate: Percent,
    /// The highest tax rate of the shipments.
    ship_rate: Percent,
    /// The best maximal combination found so far (first: the greedy one).
    best: Score,
    nodes: usize,
    chosen: Vec<usize>,
    excluded: Vec<usize>,
    /// What is left of every slot (the lines, then the shipments).
    remaining: Vec<i64>,
    /// The units each line has left for buy X get Y promotions (see [`Ctx::units_left`]).
    units_left: Vec<u64>,
    /// What is left of the shipments together.
    shipping_left: i64,
    /// What the shopper pays for `remaining`.
    payable: i64,
    discount: i64,
}

/// An upper bound of what taking `amount` off a line saves with its tax at `rate` (exclusive
/// prices): the amount, its exact tax rounded up, and one minor unit for the line's tax rounding.
fn with_tax(amount: i64, rate: Percent, exclusive: bool) -> i64 {
    if !exclusive || amount <= 0 {
        return amount.max(0);
    }
    let tax = u64::try_from(amount)
        .ok()
        .and_then(|a| a.checked_mul(rate.units()))
        .map(|t| t.div_ceil(100 * PERCENT_UNIT))
        .and_then(|t| i64::try_from(t).ok())
        .unwrap_or_else(|| {
            amount.saturating_mul(i64::try_from(rate.units().div_ceil(PERCENT_UNIT)).unwrap_or(100))
                / 100
                + 1
        });
    amount.saturating_add(tax).saturating_add(1)
}

impl Search<'_, '_> {
    /// Whether candidate k conflicts with nothing chosen.
    fn fits(&self, k: usize) -> bool {
        self.blocked
            .get(k / 64)
            .is_some_and(|w| w & (1 << (k % 64)) == 0)
    }

    /// Chooses candidate k: what conflicts with it is blocked until [`Search::unchoose`].
    fn choose(&mut self, k: usize) {
        let to = k * self.words;
        self.blocked_saved.extend_from_slice(&self.blocked);
        let row = self.conflicts.get(to..to + self.words).unwrap_or(&[]);
        for (b, c) in self.blocked.iter_mut().zip(row) {
            *b |= c;
        }
    }

    /// Undoes the last [`Search::choose`].
    fn unchoose(&mut self) {
        let from = self.blocked_saved.len().saturating_sub(self.words);
        for (b, saved) in self
            .blocked
            .iter_mut()
            .zip(self.blocked_saved.drain(from..))
        {
            *b = saved;
        }
    }

    /// The most the candidates from `k` on that still fit with the chosen ones could take off
    /// what the shopper pays (candidates that conflict with a chosen one can never be added).
    fn bound_fitting(&mut self, k: usize) -> i64 {
        let exclusive = self.ctx.bundle.policy.pricing.tax_mode == TaxMode::Exclusive;
        let mut moving = 0_i64;
        let mut ship = 0_i64;
        for j in k..self.cands.len() {
            if !self.fits(j) {
                continue;
            }
            for share in self.shares.of_candidate(j) {
                if let Some(m) = self.best_in_clique.get_mut(share.clique as usize) {
                    if *m == 0 {
                        self.touched_cliques.push(share.clique);
                    }
                    *m = (*m).max(share.amount);
                }
            }
        }
        for &c in &self.touched_cliques {
            let Some(m) = self.best_in_clique.get_mut(c as usize) else {
                continue;
            };
            let d = std::mem::take(m);
            match self.shares.places.get(c as usize) {
                Some(Place::Line(i)) => {
                    if let Some(a) = self.acc.get_mut(usize::from(*i)) {
                        if *a == 0 {
                            self.touched.push(*i);
                        }
                        *a = a.saturating_add(d);
                    }
                }
                Some(Place::Moving) => moving = moving.saturating_add(d),
                Some(Place::Shipping) => ship = ship.saturating_add(d),
                None => {}
            }
        }
        self.touched_cliques.clear();
        let mut total = 0_i64;
        for &i in &self.touched {
            let i = usize::from(i);
            let acc = self.acc.get(i).copied().unwrap_or(0);
            let room = self.remaining.get(i).copied().unwrap_or(0)
                - self.ctx.floors.get(i).copied().unwrap_or(0);
            let rate = self
                .ctx
                .input
                .lines
                .get(i)
                .map_or(Percent::ZERO, |l| l.tax_rate);
            total = total.saturating_add(with_tax(room.max(0).min(acc), rate, exclusive));
            if let Some(a) = self.acc.get_mut(i) {
                *a = 0;
            }
        }
        self.touched.clear();
        total.saturating_add(self.moving_and_shipping_bound(moving, ship))
    }

    /// What `moving` (parts that may land on any line) and `ship` (off shipping) can save at
    /// most: tax at the highest rate in the cart, one minor unit of rounding per line.
    #[inline]
    fn moving_and_shipping_bound(&self, moving: i64, ship: i64) -> i64 {
        let exclusive = self.ctx.bundle.policy.pricing.tax_mode == TaxMode::Exclusive;
        let mut total = 0_i64;
        if moving > 0 {
            // One unit of rounding per slot an amount may land on: the lines and shipments.
            let slack = i64::try_from(self.ctx.original.len()).unwrap_or(i64::MAX);
            total = with_tax(moving, self.max_rate, exclusive).saturating_add(slack);
        }
        if ship <= 0 {
            return total;
        }
        let count = i64::try_from(self.ctx.shipment_slots().len()).unwrap_or(i64::MAX);
        let ship = ship.min(self.shipping_left);
        if ship > 0 {
            // The highest shipping rate, and a unit of tax rounding per shipment.
            total = total
                .saturating_add(with_tax(ship, self.ship_rate, exclusive))
                .saturating_add(count.saturating_sub(1));
        }
        total
    }

    /// The most the other candidates from `k` on (parts that move between lines, shipping)
    /// could still take off what the shopper pays.
    fn moving_and_shipping(&self, k: usize) -> i64 {
        let moving = self.moving.get(k).copied().unwrap_or(0);
        let ship = self.shipping.get(k).copied().unwrap_or(0);
        self.moving_and_shipping_bound(moving, ship)
    }

    fn leaf(&mut self) -> Result<(), EvaluationError> {
        // Maximal: everything left out conflicts with something chosen.
        let maximal = self.excluded.iter().all(|&e| !self.fits(e));
        if !maximal {
            return Ok(());
        }
        let score = Score {
            payable: self.payable,
            discount: self.discount,
            set: self.chosen.clone(),
        };
        let cands = self.cands;
        let orders = |k: usize| cands.get(k).map_or(usize::MAX, |c| c.order);
        if better(&score, &self.best, &orders) {
            self.best = score;
        }
        Ok(())
    }

    /// Searches from candidate `k` on. `tight` is [`Search::bound_fitting`]`(k)` when the
    /// caller already knows it: from a candidate that did not fit, the state and the fitting
    /// candidates are those of the node before.
    fn dfs(&mut self, k: usize, tight: Option<i64>) -> Result<(), EvaluationError> {
        if k == self.cands.len() {
            return self.leaf();
        }
        // Every node where the search may branch counts against the budget (the bounds cost
        // as much as a step); a candidate that conflicts with none is taken without a choice.
        let forced = self.free.get(k).copied().unwrap_or(false);
        if !forced {
            self.nodes += 1;
            if self.nodes > MAX_NODES {
                return Ok(());
            }
        }
        // A candidate left out while it fitted needs a later conflicting one to be chosen; once
        // the last of those is behind, a still-fitting one makes every completion non-maximal.
        let stranded = self.excluded.iter().any(|&e| {
            self.last_conflict
                .get(e)
                .copied()
                .flatten()
                .is_none_or(|last| last < k)
                && self.fits(e)
        });
        if stranded {
            return Ok(());
        }
        // A cheap bound first (suffix totals), then a tight one: only the candidates that still
        // fit with what is chosen, each line capped by what is left of it. The tight one costs a
        // pass over the candidates left, so it runs only where the search branches: a candidate
        // that conflicts with none is taken without a choice, and the next branch bounds it.
        let best_payable = self.best.payable;
        let coarse = self.local_total.get(k).copied().unwrap_or(i64::MAX);
        let rest = self.moving_and_shipping(k);
        if self.payable.saturating_sub(coarse.saturating_add(rest)) > best_payable {
            return Ok(());
        }
        let mut tight = tight;
        if !forced {
            let bound = match tight {
                Some(b) => b,
                None => self.bound_fitting(k),
            };
            if self.payable.saturating_sub(bound) > best_payable {
                return Ok(());
            }
            tight = Some(bound);
        }
        let fitted = self.fits(k);
        let mut fits = fitted;
        let twin = self.twin_of.get(k).copied().flatten();
        if let Some(j) = twin {
            // Follow the twin: in when it is in (and they combine), out otherwise.
            fits = fits && self.chosen.contains(&j);
        }
        if fits {
            let Some(c) = self.cands.get(k) else {
                return Ok(());
            };
            let spare = self.spare.pop().unwrap_or_default();
            let effect = self
                .ctx
                .step_into(c, &mut self.remaining, &mut self.units_left, spare)?;
            let total = effect
                .total()
                .ok_or_else(|| EvaluationError::Overflow("discount total".into()))?;
            let saved = self
                .ctx
                .saved(&effect, &self.remaining)
                .ok_or_else(|| EvaluationError::Overflow("cart total".into()))?;
            let shipping = effect.shipping(self.ctx.n_lines);
            self.shipping_left -= shipping;
            self.discount = self.discount.saturating_add(total);
            self.payable -= saved;
            self.chosen.push(k);
            self.choose(k);
            let result = self.dfs(k + 1, None);
            self.unchoose();
            self.chosen.pop();
            self.payable += saved;
            self.discount = self.discount.saturating_sub(total);
            for (r, d) in self.remaining.iter_mut().zip(&effect.lines) {
                *r += d;
            }
            for (u, n) in self.units_left.iter_mut().zip(&effect.consumed) {
                *u += n;
            }
            self.shipping_left += shipping;
            self.spare.push(effect.lines);
            result?;
        }
        // Leave k out: only worth it when something later could conflict with it (a twin's
        // fate is already decided).
        let later_conflict = self.last_conflict.get(k).copied().flatten().is_some();
        if !fits || (twin.is_none() && later_conflict) {
            self.excluded.push(k);
            // Without k, which did not fit, the next node bounds what this one did.
            let result = self.dfs(k + 1, if fitted { None } else { tight });
            self.excluded.pop();
            result?;
        }
        Ok(())
    }
}
