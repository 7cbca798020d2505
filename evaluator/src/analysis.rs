//! Read-only questions about a compiled [`Bundle`]: what each promotion is (class, reward,
//! conditions, stacking, schedule), which items it can discount, which promotions it combines
//! with and why not, and the most it can cost.
//!
//! Every answer is read from the compiled promotions through the rules `evaluate` itself runs:
//! the selectors' matching and the stock test of a line, the pairing rule of two promotions
//! (exclusive, groups, `combinesWith` classes, and the product discounts that only meet on
//! different lines), `stacking: bestOnly`, the schedule. Nothing here is a second copy of a
//! rule, so a tool that asks (`promoseal lint`, the console) agrees with the engine by
//! construction. Like the rest of the core it is pure and free of panics.
//!
//! ```
//! use promoseal_evaluator::{analysis, Bundle};
//! # let payload = serde_json::json!({
//! #   "format": 1, "bundleId": "b", "audience": "edge", "version": 1,
//! #   "issuedAt": "2026-01-01T00:00:00Z", "expiresAt": "2027-01-01T00:00:00Z", "currency": "USD",
//! #   "promotions": [
//! #     {"id": "tees", "name": "Tees", "items": {"categories": ["tees"]},
//! #      "reward": {"type": "percentOff", "percent": "20"}},
//! #     {"id": "all", "name": "All", "reward": {"type": "percentOff", "percent": "10"},
//! #      "stacking": {"exclusive": true}}]});
//! # let bundle = Bundle::from_json(payload.to_string().as_bytes()).unwrap();
//! let tees = analysis::promotion(&bundle, "tees").unwrap();
//! let all = analysis::promotion(&bundle, "all").unwrap();
//! assert!(!tees.combination(&all).may_combine());
//! assert_eq!(tees.exposure().max_percent.map(|p| p.format()).as_deref(), Some("20"));
//! ```

use std::fmt;

use serde::Serialize;

pub use crate::compile::Item;
use crate::compile::{
    Bundle, GetOff, Pairing, Promotion, Reward, Selector, Set, TierReward, VolumeReward,
};
use crate::model::{AmountPer, DiscountClass, FixedAmountBasis, TaxMode};
use crate::money::{Amount, Percent};
use crate::time::Instant;

/// The promotions of a bundle in application order: priority descending, then id ascending.
pub fn promotions(bundle: &Bundle) -> impl ExactSizeIterator<Item = PromotionView<'_>> + '_ {
    bundle
        .promotions
        .iter()
        .enumerate()
        .map(move |(order, promo)| PromotionView {
            bundle,
            order,
            promo,
        })
}

/// The promotion with this id, if the bundle has it.
pub fn promotion<'a>(bundle: &'a Bundle, id: &str) -> Option<PromotionView<'a>> {
    promotions(bundle).find(|p| p.id() == id)
}

/// One promotion of a compiled bundle, to ask about.
#[derive(Clone, Copy)]
pub struct PromotionView<'a> {
    bundle: &'a Bundle,
    order: usize,
    promo: &'a Promotion,
}

impl fmt::Debug for PromotionView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromotionView")
            .field("id", &self.id())
            .field("order", &self.order)
            .finish()
    }
}

/// What kind of reward a promotion gives (the `type` of its `reward`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RewardKind {
    PercentOff,
    AmountOff,
    FixedPrice,
    BuyXGetY,
    Tiered,
    Volume,
    ShippingOff,
}

/// Who, how much and which code a promotion asks for, as compiled. Lists are in the order
/// they were written, without repeats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionsSummary<'a> {
    /// Measured on the lines the promotion targets, before any discount.
    pub min_subtotal: Option<Amount>,
    pub max_subtotal: Option<Amount>,
    /// Units on the targeted lines.
    pub min_quantity: Option<u64>,
    /// The customer's tier must be one of these (when any).
    pub customer_tiers: Vec<&'a str>,
    /// The customer must be in one of these segments (when any); a customer may be in many.
    pub customer_segments: Vec<&'a str>,
    pub first_order: Option<bool>,
    pub regions: Vec<&'a str>,
    pub channels: Vec<&'a str>,
    /// A code of its code set, or a code grant, must unlock it.
    pub code_required: bool,
}

/// How a promotion declares it stacks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackingSummary<'a> {
    pub exclusive: bool,
    pub group: Option<&'a str>,
    /// In class order (product, order, shipping).
    pub combines_with: Vec<DiscountClass>,
}

/// A stretch of time `[start, end)`; `None` is an open end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub start: Option<Instant>,
    pub end: Option<Instant>,
}

/// `[start, end)` in Unix seconds; open ends are `i64::MIN` / `i64::MAX`.
type Seconds = (i64, i64);

impl Span {
    fn from_seconds((s, e): Seconds) -> Span {
        Span {
            start: (s != i64::MIN).then_some(Instant(s)),
            end: (e != i64::MAX).then_some(Instant(e)),
        }
    }
}

/// The include (and exclude) lists of a selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Dimension {
    Sku,
    Product,
    Category,
    Brand,
    Tag,
}

impl Dimension {
    /// `sku`, `product`, `category`, `brand` or `tag`.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Sku => "sku",
            Dimension::Product => "product",
            Dimension::Category => "category",
            Dimension::Brand => "brand",
            Dimension::Tag => "tag",
        }
    }
}

/// Why two promotions can discount the same thing ([`PromotionView::shared_target`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SharedTarget<'a> {
    /// Both target every item.
    EveryItem,
    /// One targets every item, and the other names this value, which the first does not
    /// exclude (the first such value the other wrote, by dimension).
    EveryItemAnd {
        dimension: Dimension,
        value: &'a str,
    },
    /// Both name this value in the same dimension and neither excludes it (the first such
    /// value the first promotion wrote, by dimension).
    Named {
        dimension: Dimension,
        value: &'a str,
    },
    /// Both take off shipping, and some shipping method and country suit both.
    Shipping,
}

/// Whether two promotions can both apply to one cart ([`PromotionView::combination`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Combination<'a> {
    /// Both may apply, on the same lines too.
    Combines,
    /// Two product discounts that do not accept each other's class: both apply only to a cart
    /// where no line is discounted by both.
    DisjointLinesOnly,
    /// Never both in one evaluation, for these reasons (each alone rules it out).
    Never { conflicts: Vec<Conflict<'a>> },
}

impl Combination<'_> {
    /// Whether some cart can get both.
    pub fn may_combine(&self) -> bool {
        !matches!(self, Combination::Never { .. })
    }

    /// The group both promotions are in, when that keeps them apart.
    pub fn shared_group(&self) -> Option<&str> {
        match self {
            Combination::Never { conflicts } => conflicts.iter().find_map(|c| match c {
                Conflict::SameGroup { group } => Some(*group),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// One reason two promotions never both apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Conflict<'a> {
    /// This promotion is exclusive: it combines with nothing.
    Exclusive { promotion: &'a str },
    /// Both are in this stacking group: at most one of a group applies.
    SameGroup { group: &'a str },
    /// This promotion does not list the other's class in `combinesWith`.
    ClassRefused {
        promotion: &'a str,
        class: DiscountClass,
    },
    /// The bundle applies only the single best promotion (`stacking: bestOnly`).
    BestOnly,
}

/// Why [`Exposure::max_percent`] is what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PercentBasis {
    /// The percentage the reward states.
    Stated,
    /// The stated percentage plus the largest loyalty bonus (at most 100).
    WithLoyaltyBonus,
    /// A `fixedPrice`: counted as 100, the price may be far below the item's.
    SetPrice,
    /// A volume tier with a `unitPrice`: counted as 100, as a set price.
    UnitPriceTier,
    /// A buy-X-get-Y whose given units are free.
    FreeItem,
    /// An amount off shipping: counted as 100, it can be all of a cheap shipping fee.
    ShippingAmount,
}

/// The most a promotion can take off, from its compiled reward, cap and limits. `None` is "no
/// such component" for the percentage and the amount, and "no bound" for the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exposure {
    /// The deepest percentage off, loyalty bonus included; set prices, free items and amounts
    /// off shipping count as 100 ([`PercentBasis`]).
    pub max_percent: Option<Percent>,
    pub percent_basis: Option<PercentBasis>,
    /// The largest fixed amount off the reward states (an amount off, an amount tier, an
    /// amount off shipping). `maxDiscount` is a cap, not counted here.
    pub max_amount: Option<Amount>,
    /// The most one order can get: `maxDiscount`, or a fixed amount per order (an order
    /// amount, amount tiers, an amount off shipping) unless fixed amounts are net of a tax
    /// included in the prices (then they grow with the tax rate). Percentages and amounts per
    /// unit or line grow with the cart: no bound without a cap.
    pub max_per_order: Option<Amount>,
    /// `limits.budget`.
    pub budget: Option<Amount>,
    /// The most all redemptions together can cost: the budget, or `totalUses` times
    /// [`Exposure::max_per_order`], whichever is smaller.
    pub max_total: Option<Amount>,
}

/// The selectors whose lines a promotion can discount: its items, then the get pool of a
/// buy-X-get-Y.
fn discountable(p: &Promotion) -> impl Iterator<Item = &Selector> {
    let get = match &p.reward {
        Reward::BuyXGetY {
            get_items: Some(g), ..
        } => Some(&**g),
        _ => None,
    };
    std::iter::once(&p.items).chain(get)
}

fn dimensions(s: &Selector) -> [(Dimension, &Set, &Set); 5] {
    [
        (Dimension::Sku, &s.skus, &s.exclude_skus),
        (Dimension::Product, &s.products, &s.exclude_products),
        (Dimension::Category, &s.categories, &s.exclude_categories),
        (Dimension::Brand, &s.brands, &s.exclude_brands),
        (Dimension::Tag, &s.tags, &s.exclude_tags),
    ]
}

/// A value by which two selectors can both match an item, if there is one: a value both
/// include in the same dimension (and neither excludes), or one targets every item and the
/// other names a value it does not exclude. Different dimensions (a category and a brand) are
/// not compared: that needs the catalog.
fn shared_items<'a>(a: &'a Selector, b: &'a Selector) -> Option<SharedTarget<'a>> {
    match (a.includes_all(), b.includes_all()) {
        (true, true) => Some(SharedTarget::EveryItem),
        (true, false) | (false, true) => {
            let (all, some) = if a.includes_all() { (a, b) } else { (b, a) };
            dimensions(some).into_iter().zip(dimensions(all)).find_map(
                |((dimension, include, _), (_, _, exclude))| {
                    let value = include
                        .declared()
                        .into_iter()
                        .find(|v| !exclude.contains(v))?;
                    Some(SharedTarget::EveryItemAnd { dimension, value })
                },
            )
        }
        (false, false) => dimensions(a).into_iter().zip(dimensions(b)).find_map(
            |((dimension, inc_a, exc_a), (_, inc_b, exc_b))| {
                let value = inc_a
                    .declared()
                    .into_iter()
                    .find(|v| inc_b.contains(v) && !exc_a.contains(v) && !exc_b.contains(v))?;
                Some(SharedTarget::Named { dimension, value })
            },
        ),
    }
}

/// Whether some value suits both lists (an empty list suits any).
fn meet(x: &Set, y: &Set) -> bool {
    x.is_empty() || y.is_empty() || x.iter().any(|v| y.contains(v))
}

/// When the promotion is live: its start and end, cut into its intervals when it has some.
fn live_seconds(p: &Promotion) -> Vec<Seconds> {
    let start = p.starts_at.map_or(i64::MIN, Instant::seconds);
    let end = p.ends_at.map_or(i64::MAX, Instant::seconds);
    match &p.intervals {
        None => (start < end).then_some((start, end)).into_iter().collect(),
        Some(list) => list
            .iter()
            .map(|(s, e)| (s.seconds().max(start), e.seconds().min(end)))
            .filter(|(s, e)| s < e)
            .collect(),
    }
}

/// The first stretch of two sorted lists of stretches that both cover.
fn first_common(a: &[Seconds], b: &[Seconds]) -> Option<Seconds> {
    let (mut i, mut j) = (0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        let s = x.0.max(y.0);
        let e = x.1.min(y.1);
        if s < e {
            return Some((s, e));
        }
        if x.1 <= y.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    None
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

impl<'a> PromotionView<'a> {
    pub fn id(&self) -> &'a str {
        &self.promo.id
    }

    pub fn name(&self) -> &'a str {
        &self.promo.name
    }

    /// Its position in the bundle's application order (0 first).
    pub fn order(&self) -> usize {
        self.order
    }

    pub fn priority(&self) -> i32 {
        self.promo.priority
    }

    /// Its discount class, from its reward: an order percentage or amount is an order
    /// discount, a shipping reward a shipping discount, every other a product discount.
    pub fn class(&self) -> DiscountClass {
        self.promo.class
    }

    pub fn reward_kind(&self) -> RewardKind {
        match &self.promo.reward {
            Reward::PercentOffLines(_) | Reward::PercentOffOrder(_) => RewardKind::PercentOff,
            Reward::AmountOff { .. } => RewardKind::AmountOff,
            Reward::FixedPrice(_) => RewardKind::FixedPrice,
            Reward::BuyXGetY { .. } => RewardKind::BuyXGetY,
            Reward::Tiered { .. } => RewardKind::Tiered,
            Reward::Volume(_) => RewardKind::Volume,
            Reward::Shipping { .. } => RewardKind::ShippingOff,
        }
    }

    /// Its loyalty bonus: percentage points added for a customer tier, in the order written.
    pub fn loyalty_bonus(&self) -> &'a [(String, Percent)] {
        &self.promo.loyalty
    }

    pub fn conditions(&self) -> ConditionsSummary<'a> {
        let c = &self.promo.conditions;
        let money = |m: Option<i64>| m.map(|m| Amount::new(m, self.bundle.currency));
        ConditionsSummary {
            min_subtotal: money(c.min_subtotal),
            max_subtotal: money(c.max_subtotal),
            min_quantity: c.min_quantity,
            customer_tiers: c.customer_tiers.declared(),
            customer_segments: c.customer_segments.declared(),
            first_order: c.first_order,
            regions: c.regions.declared(),
            channels: c.channels.declared(),
            code_required: self.promo.code_set.is_some() || self.promo.locked,
        }
    }

    pub fn stacking(&self) -> StackingSummary<'a> {
        let p = self.promo;
        StackingSummary {
            exclusive: p.exclusive,
            group: p.group_name.as_deref(),
            combines_with: [
                DiscountClass::Product,
                DiscountClass::Order,
                DiscountClass::Shipping,
            ]
            .into_iter()
            .filter(|c| p.combines_with(*c))
            .collect(),
        }
    }

    /// When it is live, in time order: its start to its end, cut into its intervals when it
    /// has some. Empty when it is never live.
    pub fn schedule(&self) -> Vec<Span> {
        live_seconds(self.promo)
            .into_iter()
            .map(Span::from_seconds)
            .collect()
    }

    /// The instant nearest to `now` at which it is live (`now` itself when it is live then;
    /// the earlier one on a tie); `None` when it is never live.
    pub fn nearest_live(&self, now: Instant) -> Option<Instant> {
        let now = now.seconds();
        live_seconds(self.promo)
            .into_iter()
            .map(|(s, e)| now.max(s).min(e.saturating_sub(1).max(s)))
            .min_by_key(|t| t.abs_diff(now))
            .map(Instant)
    }

    /// The first stretch of time when both are live, if any.
    pub fn live_together(&self, other: &PromotionView) -> Option<Span> {
        first_common(&live_seconds(self.promo), &live_seconds(other.promo)).map(Span::from_seconds)
    }

    /// Whether its `items` select the item and enough units are in stock: the lines it
    /// targets (the lines its conditions measure and a line discount takes off).
    pub fn targets(&self, item: &Item) -> bool {
        !item.out_of_stock() && self.promo.items.matches(item)
    }

    /// Whether it can take something off the item: it targets it, or the item is in the get
    /// pool (`getItems`) of a buy-X-get-Y, with enough units in stock. The conditions, the
    /// code and the thresholds decide whether it then applies.
    pub fn can_discount(&self, item: &Item) -> bool {
        !item.out_of_stock() && discountable(self.promo).any(|s| s.matches(item))
    }

    /// Why both can discount the same thing, if they can: the same shipping, or (between
    /// product and order discounts) an item both select. `None` does not prove them apart: two
    /// selectors in different dimensions (a category and a brand) may still meet on an item.
    pub fn shared_target(&self, other: &PromotionView<'a>) -> Option<SharedTarget<'a>> {
        let (a, b) = (self.promo, other.promo);
        match (&a.reward, &b.reward) {
            (
                Reward::Shipping {
                    methods: ma,
                    countries: ca,
                    ..
                },
                Reward::Shipping {
                    methods: mb,
                    countries: cb,
                    ..
                },
            ) => (meet(ma, mb) && meet(ca, cb)).then_some(SharedTarget::Shipping),
            (Reward::Shipping { .. }, _) | (_, Reward::Shipping { .. }) => None,
            _ => discountable(a).find_map(|sa| discountable(b).find_map(|sb| shared_items(sa, sb))),
        }
    }

    /// Whether this promotion and `other` can both apply to one cart, and if never, every
    /// reason: the rule `evaluate` chooses combinations by.
    pub fn combination(&self, other: &PromotionView<'a>) -> Combination<'a> {
        let (a, b) = (self.promo, other.promo);
        let mut conflicts = Vec::new();
        for p in [a, b] {
            if p.exclusive {
                conflicts.push(Conflict::Exclusive { promotion: &p.id });
            }
        }
        if a.same_group(b) {
            conflicts.push(Conflict::SameGroup {
                group: a.group_name.as_deref().unwrap_or_default(),
            });
        }
        if a.class_pairing(b) == Pairing::Never {
            for (p, q) in [(a, b), (b, a)] {
                if !p.combines_with(q.class) {
                    conflicts.push(Conflict::ClassRefused {
                        promotion: &p.id,
                        class: q.class,
                    });
                }
            }
        }
        if self.bundle.policy.best_only() {
            conflicts.push(Conflict::BestOnly);
        }
        match a.pairing(b) {
            _ if !conflicts.is_empty() => Combination::Never { conflicts },
            Pairing::Always => Combination::Combines,
            Pairing::DisjointLines => Combination::DisjointLinesOnly,
            Pairing::Never => Combination::Never { conflicts },
        }
    }

    /// Every other promotion of the bundle, in application order, with how this one combines
    /// with it.
    pub fn combinations(&self) -> Vec<(PromotionView<'a>, Combination<'a>)> {
        promotions(self.bundle)
            .filter(|o| o.order != self.order)
            .map(|o| {
                let c = self.combination(&o);
                (o, c)
            })
            .collect()
    }

    /// The most it can take off: per item as a percentage, as a stated amount, per order, and
    /// over its budget and limits.
    pub fn exposure(&self) -> Exposure {
        let p = self.promo;
        let bonus = p
            .loyalty
            .iter()
            .map(|(_, b)| *b)
            .max()
            .unwrap_or(Percent::ZERO);
        let stated = |x: Percent| {
            if bonus > Percent::ZERO {
                (x.plus_capped(bonus), PercentBasis::WithLoyaltyBonus)
            } else {
                (x, PercentBasis::Stated)
            }
        };
        fn raise_percent(slot: &mut Option<(Percent, PercentBasis)>, v: (Percent, PercentBasis)) {
            if slot.is_none_or(|(x, _)| v.0 > x) {
                *slot = Some(v);
            }
        }
        fn raise_amount(slot: &mut Option<i64>, v: i64) {
            *slot = Some(slot.map_or(v, |a| a.max(v)));
        }
        let mut percent: Option<(Percent, PercentBasis)> = None;
        let mut amount: Option<i64> = None;
        match &p.reward {
            Reward::PercentOffLines(x) | Reward::PercentOffOrder(x) => {
                raise_percent(&mut percent, stated(*x));
            }
            Reward::AmountOff { amount: a, .. } => raise_amount(&mut amount, *a),
            Reward::FixedPrice(_) => {
                raise_percent(&mut percent, (Percent::HUNDRED, PercentBasis::SetPrice));
            }
            Reward::BuyXGetY { off, .. } => match off {
                GetOff::Percent(x) => {
                    let basis = if *x == Percent::HUNDRED {
                        PercentBasis::FreeItem
                    } else {
                        PercentBasis::Stated
                    };
                    raise_percent(&mut percent, (*x, basis));
                }
                // An amount off each given unit, as `amountOff` per unit.
                GetOff::Amount(a) => raise_amount(&mut amount, *a),
                GetOff::Price(_) => {
                    raise_percent(&mut percent, (Percent::HUNDRED, PercentBasis::SetPrice));
                }
            },
            Reward::Tiered { tiers, .. } => {
                for t in tiers {
                    match t.reward {
                        TierReward::Percent(x) => raise_percent(&mut percent, stated(x)),
                        TierReward::Amount(a) => raise_amount(&mut amount, a),
                    }
                }
            }
            Reward::Volume(tiers) => {
                for (_, t) in tiers {
                    if let VolumeReward::Percent(x) = t {
                        raise_percent(&mut percent, stated(*x));
                    }
                }
                if tiers
                    .iter()
                    .any(|(_, t)| matches!(t, VolumeReward::UnitPrice(_)))
                {
                    percent = Some((Percent::HUNDRED, PercentBasis::UnitPriceTier));
                }
            }
            Reward::Shipping { off, .. } => match off {
                TierReward::Percent(x) => raise_percent(&mut percent, (*x, PercentBasis::Stated)),
                TierReward::Amount(a) => {
                    raise_percent(
                        &mut percent,
                        (Percent::HUNDRED, PercentBasis::ShippingAmount),
                    );
                    raise_amount(&mut amount, *a);
                }
            },
        }
        let spec = &self.bundle.policy.pricing;
        // A fixed amount net of an included tax is grossed up at each line's rate.
        let fixed_bounds = !(spec.tax_mode == TaxMode::Inclusive
            && spec.fixed_amount_basis == FixedAmountBasis::Net);
        let per_order_terms = match &p.reward {
            Reward::AmountOff {
                amount,
                per: AmountPer::Order,
            } => Some(*amount),
            Reward::Tiered { tiers, .. } => tiers.iter().try_fold(0_i64, |m, t| match t.reward {
                TierReward::Amount(a) => Some(m.max(a)),
                TierReward::Percent(_) => None,
            }),
            Reward::Shipping {
                off: TierReward::Amount(a),
                ..
            } => Some(*a),
            _ => None,
        }
        .filter(|_| fixed_bounds);
        let per_order = min_opt(per_order_terms, p.cap);
        let by_uses = p.limits.total_uses.zip(per_order).map(|(n, m)| {
            i64::try_from(n)
                .ok()
                .and_then(|n| m.checked_mul(n))
                .unwrap_or(i64::MAX)
        });
        let currency = self.bundle.currency;
        let money = |m: Option<i64>| m.map(|m| Amount::new(m, currency));
        Exposure {
            max_percent: percent.map(|(x, _)| x),
            percent_basis: percent.map(|(_, b)| b),
            max_amount: money(amount),
            max_per_order: money(per_order),
            budget: money(p.budget),
            max_total: money(min_opt(p.budget, by_uses)),
        }
    }
}
