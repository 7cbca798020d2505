//! From the wire model to the validated form the engine runs on: money in minor units,
//! percentages exact, promotions in application order and indexed by what they target.
//!
//! This module holds the compiled form ([`Bundle`] and what it is made of: the pricing
//! [`Policy`], [`CodeSet`]s, [`Promotion`]s with their [`Selector`], [`Conditions`] and
//! [`Reward`], the [`Index`]), the limits and [`normalize_code`], which both halves use:
//! - [`bundle`]: a payload into a [`Bundle`] (every field validated, with the path of the first
//!   bad one), and what a bundle answers (its identity, codes, promotion schedules and limits);
//! - [`input`]: an evaluation input into the [`Input`] of one evaluation, against the bundle's
//!   currency.

mod bundle;
mod input;

use std::collections::HashMap;
use std::sync::Arc;

use crate::codes::{Campaign, CodeHash, CodeSecret};
use crate::model::{
    Allocation, AllocationWeights, AmountPer, Audience, BuyXGetYUnits, CappedLineBase, Compounding,
    DiscountClass, DiscountedUnitsSpec, FixedAmountBasis, FloorExcess, ItemSelector, LimitsSpec,
    LineSpec, RoundingPoint, RoundingTarget, ShipmentApply, StackingMode, TaxMode,
    TaxRoundingTarget, TierBasis, UnitAllocations, UnitPick,
};
use crate::money::{Currency, Percent, Rounding};
use crate::time::Instant;

pub use bundle::parse_payload;
pub use input::parse_input;
pub(crate) use input::{compile_input, Input, Shipping};

/// Most lines a cart may have.
pub const MAX_LINES: usize = 1_000;
/// Most units on one line.
pub const MAX_QUANTITY: u64 = 1_000_000;
/// Most codes one request may carry.
pub const MAX_CODES: usize = 20;
/// Longest code accepted, in bytes.
pub const MAX_CODE_LEN: usize = 64;

/// A parsed, validated and indexed bundle payload, ready to evaluate many carts.
#[derive(Debug)]
pub struct Bundle {
    pub(crate) id: Arc<str>,
    pub(crate) version: u64,
    pub(crate) audience: Audience,
    pub(crate) issued_at: Instant,
    pub(crate) expires_at: Instant,
    pub(crate) currency: Currency,
    pub(crate) policy: Policy,
    /// In application order: priority descending, then id ascending.
    pub(crate) promotions: Vec<Promotion>,
    pub(crate) index: Index,
    pub(crate) code_sets: Vec<CodeSet>,
    /// Promotion ids in application order, shared with every evaluation's why-not list.
    pub(crate) ids: Arc<crate::evaluation::PromotionIds>,
    /// The edge-held secret that checks hashed and generated codes; without it only code
    /// grants unlock code-gated promotions.
    pub(crate) code_secret: Option<CodeSecret>,
    /// The root the bundle was verified with: it checks code grants.
    #[cfg(feature = "verify")]
    pub(crate) trust: Option<Arc<crate::seal::TrustRoot>>,
    /// SHA-256 of the signed payload, when the bundle came from an envelope.
    pub(crate) digest: Option<[u8; 32]>,
    /// The shop's IANA time zone (`timeZone`): its day, for per-day limits.
    pub(crate) time_zone: Option<Arc<str>>,
}

/// What a buy-X-get-Y gives on each given unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum GetOff {
    Percent(Percent),
    /// An amount off each unit (never more than the unit).
    Amount(i64),
    /// Each unit for this price (when cheaper).
    Price(i64),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Floor {
    PercentOfOriginal(Percent),
    PerUnit(i64),
}

/// The arithmetic a bundle declares, every knob resolved: as given, else as its preset sets
/// it, else the default.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pricing {
    pub tax_mode: TaxMode,
    pub rounding_point: RoundingPoint,
    pub allocation: Allocation,
    pub compounding: Compounding,
    pub fixed_amount_basis: FixedAmountBasis,
    pub stacking: StackingMode,
    pub rounding_target: RoundingTarget,
    pub tax_rounding_target: TaxRoundingTarget,
    pub allocation_weights: AllocationWeights,
    pub capped_line_base: CappedLineBase,
    pub floor_excess: FloorExcess,
    /// The rounding of discounts, shares and floors.
    pub discount_rounding: Rounding,
    /// The rounding of tax.
    pub tax_rounding: Rounding,
    /// The rounding of net-to-gross conversions.
    pub conversion_rounding: Rounding,
    /// The rounding of allocation shares.
    pub allocation_rounding: Rounding,
    /// Whether (and how) each line's discount is split over its units in the answer.
    pub unit_allocations: Option<UnitAllocations>,
    pub buy_x_get_y_units: BuyXGetYUnits,
}

#[derive(Debug)]
pub(crate) struct Policy {
    pub pricing: Pricing,
    pub floor: Option<Floor>,
    /// `productFloors`: the first rule whose selector matches a line gives its floor.
    pub product_floors: Vec<(Selector, Floor)>,
}

impl Policy {
    /// `stacking: bestOnly`: only the single best promotion applies.
    pub fn best_only(&self) -> bool {
        self.pricing.stacking == StackingMode::BestOnly
    }
}

#[derive(Debug)]
pub(crate) struct CodeSet {
    pub id: Arc<str>,
    pub active: bool,
    pub matcher: CodeMatcher,
}

#[derive(Debug)]
pub(crate) enum CodeMatcher {
    /// Normalized (trimmed, upper-case) and sorted.
    Plain(Vec<String>),
    /// Sorted keyed hashes.
    Hashed(Vec<CodeHash>),
    Generated {
        campaign: Campaign,
        /// Ascending.
        revoked: Vec<u64>,
    },
}

/// Sorted string set with `contains` by binary search; each value keeps its position in the
/// list as written (the first, for a value written twice), so it can also be read back in that
/// order.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Set(Vec<(String, u32)>);

impl Set {
    fn new(v: Vec<String>) -> Set {
        let mut v: Vec<(String, u32)> = v
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        v.sort();
        v.dedup_by(|later, first| later.0 == first.0);
        Set(v)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn contains(&self, s: &str) -> bool {
        self.0.binary_search_by(|(x, _)| x.as_str().cmp(s)).is_ok()
    }
    pub fn contains_opt(&self, s: Option<&str>) -> bool {
        s.is_some_and(|s| self.contains(s))
    }
    pub fn any(&self, v: &[String]) -> bool {
        v.iter().any(|s| self.contains(s))
    }
    /// In sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(s, _)| s)
    }
    /// In the order the list was written.
    pub fn declared(&self) -> Vec<&str> {
        let mut v: Vec<&(String, u32)> = self.0.iter().collect();
        v.sort_by_key(|(_, at)| *at);
        v.into_iter().map(|(s, _)| s.as_str()).collect()
    }
}

/// A catalog item or a cart line as a selector sees it: what it is, whether it is on sale, its
/// stock, and how many units are wanted (a line's quantity; 1 for a catalog item).
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    pub sku: &'a str,
    pub product: Option<&'a str>,
    pub categories: &'a [String],
    pub brand: Option<&'a str>,
    pub tags: &'a [String],
    pub on_sale: bool,
    /// Units in stock; `None` when stock is not tracked.
    pub stock_available: Option<u64>,
    pub quantity: u64,
}

impl Item<'_> {
    /// Fewer units in stock than wanted: such a line is never discounted.
    pub fn out_of_stock(&self) -> bool {
        self.stock_available.is_some_and(|s| s < self.quantity)
    }
}

impl<'a> From<&'a LineSpec> for Item<'a> {
    fn from(l: &'a LineSpec) -> Item<'a> {
        Item {
            sku: &l.sku,
            product: l.product.as_deref(),
            categories: &l.categories,
            brand: l.brand.as_deref(),
            tags: &l.tags,
            on_sale: l.on_sale,
            stock_available: l.stock_available,
            quantity: l.quantity,
        }
    }
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Selector {
    pub skus: Set,
    pub products: Set,
    pub categories: Set,
    pub brands: Set,
    pub tags: Set,
    pub exclude_skus: Set,
    pub exclude_products: Set,
    pub exclude_categories: Set,
    pub exclude_brands: Set,
    pub exclude_tags: Set,
    pub exclude_on_sale: bool,
    pub low_stock_at_most: Option<u64>,
}

impl Selector {
    fn new(s: &ItemSelector) -> Selector {
        Selector {
            skus: Set::new(s.skus.clone()),
            products: Set::new(s.products.clone()),
            categories: Set::new(s.categories.clone()),
            brands: Set::new(s.brands.clone()),
            tags: Set::new(s.tags.clone()),
            exclude_skus: Set::new(s.exclude_skus.clone()),
            exclude_products: Set::new(s.exclude_products.clone()),
            exclude_categories: Set::new(s.exclude_categories.clone()),
            exclude_brands: Set::new(s.exclude_brands.clone()),
            exclude_tags: Set::new(s.exclude_tags.clone()),
            exclude_on_sale: s.exclude_on_sale,
            low_stock_at_most: s.low_stock_at_most,
        }
    }

    /// True when no include list is given: every line is targeted (before exclusions).
    pub fn includes_all(&self) -> bool {
        self.skus.is_empty()
            && self.products.is_empty()
            && self.categories.is_empty()
            && self.brands.is_empty()
            && self.tags.is_empty()
    }

    /// Whether the item is targeted, ignoring whether enough units are in stock (judged
    /// separately, for the trace: [`Item::out_of_stock`]).
    pub fn matches(&self, item: &Item) -> bool {
        let included = self.includes_all()
            || self.skus.contains(item.sku)
            || self.products.contains_opt(item.product)
            || self.categories.any(item.categories)
            || self.brands.contains_opt(item.brand)
            || self.tags.any(item.tags);
        let excluded = self.exclude_skus.contains(item.sku)
            || self.exclude_products.contains_opt(item.product)
            || self.exclude_categories.any(item.categories)
            || self.exclude_brands.contains_opt(item.brand)
            || self.exclude_tags.any(item.tags)
            || (self.exclude_on_sale && item.on_sale);
        let low_stock_ok = match self.low_stock_at_most {
            None => true,
            Some(max) => item.stock_available.is_some_and(|s| s <= max),
        };
        included && !excluded && low_stock_ok
    }
}

#[derive(Debug)]
pub(crate) struct Conditions {
    pub min_subtotal: Option<i64>,
    pub max_subtotal: Option<i64>,
    pub min_quantity: Option<u64>,
    pub customer_tiers: Set,
    pub customer_segments: Set,
    pub first_order: Option<bool>,
    pub regions: Set,
    pub channels: Set,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum TierReward {
    Percent(Percent),
    Amount(i64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Tier {
    /// Units for a quantity basis, minor units for a spend basis.
    pub threshold: i64,
    pub reward: TierReward,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum VolumeReward {
    UnitPrice(i64),
    Percent(Percent),
}

#[derive(Debug, PartialEq)]
pub(crate) enum Reward {
    PercentOffLines(Percent),
    PercentOffOrder(Percent),
    AmountOff {
        amount: i64,
        per: AmountPer,
    },
    FixedPrice(i64),
    BuyXGetY {
        buy: u64,
        get: u64,
        get_items: Option<Box<Selector>>,
        off: GetOff,
        max_applications: Option<u64>,
        /// The last application may give fewer than `get` units.
        partial: bool,
        pick: UnitPick,
    },
    Tiered {
        basis: TierBasis,
        tiers: Vec<Tier>,
    },
    Volume(Vec<(u64, VolumeReward)>),
    Shipping {
        off: TierReward,
        methods: Set,
        countries: Set,
        apply: ShipmentApply,
    },
}

impl Reward {
    pub fn class(&self) -> DiscountClass {
        match self {
            Reward::PercentOffOrder(_)
            | Reward::AmountOff {
                per: AmountPer::Order,
                ..
            } => DiscountClass::Order,
            Reward::Shipping { .. } => DiscountClass::Shipping,
            _ => DiscountClass::Product,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Promotion {
    pub id: Arc<str>,
    pub name: Arc<str>,
    /// The reporting label (`campaign`).
    pub campaign: Option<Arc<str>>,
    pub priority: i32,
    pub starts_at: Option<Instant>,
    pub ends_at: Option<Instant>,
    pub intervals: Option<Vec<(Instant, Instant)>>,
    pub code_set: Option<usize>,
    /// Code-gated without code material here: only a grant unlocks it.
    pub locked: bool,
    /// Left out of the storefront bundle, and of every public why-not list.
    pub private: bool,
    pub items: Selector,
    pub conditions: Conditions,
    pub reward: Reward,
    pub loyalty: Vec<(String, Percent)>,
    pub cap: Option<i64>,
    /// `discountedUnits`: how many units of its lines the reward may discount.
    pub units: Option<DiscountedUnitsSpec>,
    /// `includeShipping`: an order discount whose total and split take in the shipments.
    pub reaches_shipping: bool,
    pub class: DiscountClass,
    pub exclusive: bool,
    /// Indexed by `DiscountClass as usize`.
    pub combines_with: [bool; 3],
    pub group: Option<u32>,
    /// The group's name (`stacking.group`).
    pub group_name: Option<Arc<str>>,
    pub limits: LimitsSpec,
    pub budget: Option<i64>,
}

impl Promotion {
    /// Whether its parts may land on the shipments: a shipping reward, or an order discount
    /// with `includeShipping`.
    pub fn touches_shipping(&self) -> bool {
        matches!(self.reward, Reward::Shipping { .. }) || self.reaches_shipping
    }

    pub fn combines_with(&self, class: DiscountClass) -> bool {
        self.combines_with
            .get(class as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Whether the stacking flags let this promotion and `other` both apply (exclusivity and
    /// groups aside): each accepts the other's class.
    pub fn classes_combine(&self, other: &Promotion) -> bool {
        self.combines_with(other.class) && other.combines_with(self.class)
    }

    /// Whether both are in one named stacking group (at most one of a group applies).
    pub fn same_group(&self, other: &Promotion) -> bool {
        self.group.is_some() && self.group == other.group
    }

    /// Whether this promotion or `other` refuses the other whatever lines they target.
    pub fn always_conflicts(&self, other: &Promotion) -> bool {
        self.exclusive || other.exclusive || self.same_group(other)
    }

    /// The one rule of pairs: whether this promotion and `other` may both apply to a cart.
    /// Neither may be exclusive nor share a group with the other, and each must accept the
    /// other's class, except that two product discounts on different lines never meet.
    pub fn pairing(&self, other: &Promotion) -> Pairing {
        if self.always_conflicts(other) {
            Pairing::Never
        } else {
            self.class_pairing(other)
        }
    }

    /// What the classes alone allow: each accepts the other's class, or both are product
    /// discounts (which then combine on different lines only).
    pub fn class_pairing(&self, other: &Promotion) -> Pairing {
        if self.classes_combine(other) {
            Pairing::Always
        } else if self.class == DiscountClass::Product && other.class == DiscountClass::Product {
            Pairing::DisjointLines
        } else {
            Pairing::Never
        }
    }
}

/// Whether two promotions may both apply to a cart ([`Promotion::pairing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pairing {
    Always,
    /// Only when no line is discounted by both.
    DisjointLines,
    Never,
}

/// Promotions by what they target, so a cart only looks at the promotions it can match.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub all_lines: Vec<u32>,
    pub by_sku: HashMap<String, Vec<u32>>,
    pub by_product: HashMap<String, Vec<u32>>,
    pub by_category: HashMap<String, Vec<u32>>,
    pub by_brand: HashMap<String, Vec<u32>>,
    pub by_tag: HashMap<String, Vec<u32>>,
}

/// Normalizes a code as shoppers type it: surrounding space trimmed, ASCII upper-case.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}
