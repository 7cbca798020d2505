//! The JSON contract, defined once: the bundle payload and the evaluation input as they appear
//! on the wire (camelCase, money as decimal strings, unknown fields and duplicate keys refused).
//! `docs/json-reference.md` documents every field; [`crate::compile`] turns these into the
//! validated, indexed form the engine runs on.

use serde::{Deserialize, Serialize};

use crate::money::{DecimalString, Rounding};
use crate::time::Instant;

/// The current (and only) payload format version.
pub const FORMAT_VERSION: u32 = 1;

/// The signed part of a bundle: everything the evaluator needs, nothing it does not.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BundlePayload {
    pub format: u32,
    pub bundle_id: String,
    pub audience: Audience,
    pub version: u64,
    pub issued_at: Instant,
    pub expires_at: Instant,
    pub currency: String,
    /// IANA zone the shop counts days in (per-day limits, reports); informational here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub pricing: PricingPolicy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_sets: Vec<CodeSetSpec>,
    pub promotions: Vec<PromotionSpec>,
    /// Approval signatures over promotions' content digests (see `docs/signing.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalSpec>,
}

/// One approver's signature over a batch of promotions: the approval digests of the terms
/// approved, and one signature over their Merkle tree hash (`seal::approval_root`), so a bundle
/// carries one signature per approver per batch, not one per promotion. An approval of one
/// promotion is a batch of one, whose root is that promotion's digest.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApprovalSpec {
    pub key_id: String,
    /// Lowercase hex SHA-256 approval digests (`seal::approval_digest`), ascending, each once.
    /// A batch may name terms that are not in this bundle (another audience's, a later
    /// change's): they are not looked at.
    pub digests: Vec<String>,
    /// Standard base64 of the Ed25519 signature.
    pub signature: String,
}

/// Who a bundle is for: the edge (may hold code material) or the public storefront.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Audience {
    Edge,
    Storefront,
}

/// The declared arithmetic of a bundle. Every knob is optional: one given here wins, then the
/// one its `preset` sets, then the documented default (resolved in [`crate::compile`]). `null`
/// is refused like any other wrong type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct PricingPolicy {
    /// The engine whose arithmetic the knobs not given here follow.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub preset: Option<Preset>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub tax_mode: Option<TaxMode>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub rounding: Option<Rounding>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub rounding_point: Option<RoundingPoint>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub allocation: Option<Allocation>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub compounding: Option<Compounding>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub fixed_amount_basis: Option<FixedAmountBasis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_floor: Option<LineFloorSpec>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub stacking: Option<StackingMode>,
    /// The mode for discounts (percentages, shares, floors); absent: `rounding`.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub discount_rounding: Option<Rounding>,
    /// The mode for the tax on each line and on shipping; absent: `rounding`.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub tax_rounding: Option<Rounding>,
    /// The mode for net-to-gross conversions of fixed amounts; absent: `rounding`.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub conversion_rounding: Option<Rounding>,
    /// The mode for the shares of `carryForward`, `roundedToFirst` and `roundedToLast`;
    /// absent: the discount mode.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub allocation_rounding: Option<Rounding>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub rounding_target: Option<RoundingTarget>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub tax_rounding_target: Option<TaxRoundingTarget>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub allocation_weights: Option<AllocationWeights>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub capped_line_base: Option<CappedLineBase>,
    /// Floors by item: the first rule whose `items` target a line gives its floor (before
    /// `lineFloor`, which covers the lines no rule targets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub product_floors: Vec<ProductFloorSpec>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub floor_excess: Option<FloorExcess>,
    /// Each line's discount split over its units in the evaluation; absent: not split.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub unit_allocations: Option<UnitAllocations>,
    /// Whether a buy X get Y counts the units an earlier one bought or gave; absent: `shared`.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub buy_x_get_y_units: Option<BuyXGetYUnits>,
}

/// Whether buy X get Y promotions share the cart's units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BuyXGetYUnits {
    /// Each counts every unit of the cart, as it would alone.
    #[default]
    Shared,
    /// A unit that an earlier buy X get Y of the combination bought or gave counts for no
    /// later one.
    Once,
    /// A unit is bought by at most one buy X get Y and given by at most one (Medusa): a unit
    /// an earlier one bought may still be given by a later one, and one it gave may still be
    /// bought.
    OncePerRole,
}

/// Where the minor units left over when a part is split over units go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UnitAllocations {
    /// One each to the first units.
    First,
    /// One each to the last units.
    Last,
}

/// An optional knob that, when written, must hold a value (`null` is refused as a wrong type).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Reads a [`RewardSpec`] inside its own object's read. serde reads an internally tagged enum
/// in two steps: the object into a buffer, then the variant from the buffer. An error of the
/// second step (a missing or unknown field of the variant) is raised after the object's read
/// has returned, so serde_json would place it at whatever the enclosing object reads next,
/// which is the enclosing object's end when `reward` is its last field. Handing the variant's
/// reader the object's own fields keeps both steps inside the object's read, so the error is
/// placed at the object's end and names `reward` (`crate::error::from_json_strict`). The
/// messages are serde's own: the same derived reader runs.
fn reward<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RewardSpec, D::Error> {
    struct Within;
    impl<'de> serde::de::Visitor<'de> for Within {
        type Value = RewardSpec;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("internally tagged enum RewardSpec")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RewardSpec, A::Error> {
            RewardSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<RewardSpec, A::Error> {
            RewardSpec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
        }
    }
    d.deserialize_any(Within)
}

/// An engine whose arithmetic a bundle may declare at once (`docs/migrating.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Preset {
    Shopify,
    Commercetools,
    Medusa,
    Vendure,
    Saleor,
    Woocommerce,
    Magento,
    Sylius,
}

/// What tax rounding rounds: the tax itself, or the amount converted from the price (the gross
/// when prices exclude tax, the net when they include it), the tax being the difference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TaxRoundingTarget {
    #[default]
    Tax,
    Converted,
}

/// A floor for the lines `items` targets: a share of their original amount or a price per unit.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProductFloorSpec {
    pub items: ItemSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_of_original: Option<DecimalString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit: Option<DecimalString>,
}

/// Where the part a floor pushes off a line goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FloorExcess {
    /// Spread over the promotion's other lines in proportion to the room each has left.
    #[default]
    Room,
    /// Spread over the promotion's other lines with room in proportion to their original
    /// amounts (each still within its room).
    Original,
    /// Not spread: the promotion gives less.
    None,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Which rounded value a percentage produces: the discount, or the discounted price (they differ
/// by a minor unit on halves).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RoundingTarget {
    /// The discount is rounded; the price is what is left.
    #[default]
    Discount,
    /// The discounted price is rounded; the discount is what it took off.
    Price,
}

/// The weights an amount spread over lines is split by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AllocationWeights {
    /// The line amounts as priced: net when prices exclude tax, gross when they include it.
    #[default]
    PriceBasis,
    /// The net line amounts (the price basis less each line's tax when prices include it).
    Net,
    /// The gross line amounts (the price basis plus each line's tax when prices exclude it).
    Gross,
}

/// What a promotion limited to some units of a line (`discountedUnits`) computes on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CappedLineBase {
    /// The units' share of what is left of the line: `left × units ÷ quantity`, rounded.
    #[default]
    Share,
    /// The units at their unit price, less every earlier discount on the line.
    Slice,
    /// The lesser of what is left of the line and the units at their unit price.
    Lesser,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum TaxMode {
    /// Prices are net; tax is added on top.
    #[default]
    Exclusive,
    /// Prices are gross; tax is the part of them above net.
    Inclusive,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RoundingPoint {
    /// A percentage is taken of the line amount and rounded once per line.
    #[default]
    Line,
    /// A percentage is taken of one unit, rounded, then multiplied by the quantity.
    Unit,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Allocation {
    /// Floor every share, then one minor unit each to the largest remainders (ties: line id).
    #[default]
    LargestRemainder,
    /// Floor every share, then one minor unit each to the first lines in cart order.
    RemainderToFirst,
    /// Floor every share but the last line's, which takes what is left.
    RemainderToLast,
    /// Round the running total line by line and carry the rounding error forward.
    CarryForward,
    /// Round every share, then one minor unit each of the difference to (or from) the first
    /// lines in cart order.
    RoundedToFirst,
    /// Round every share, then the last line in cart order takes the whole difference.
    RoundedToLast,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Compounding {
    /// Each discount is taken of what earlier (higher-priority) discounts left.
    #[default]
    Sequential,
    /// Every discount is taken of the original amounts.
    Original,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FixedAmountBasis {
    /// A fixed amount comes off the price as shown (gross when prices include tax).
    #[default]
    Gross,
    /// A fixed amount comes off the net price; with tax-inclusive prices it is grossed up per line.
    Net,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StackingMode {
    /// The best allowed combination of promotions applies.
    #[default]
    BestCombination,
    /// Only the single best promotion applies.
    BestOnly,
}

/// A floor no line may be discounted below: a share of its original amount or a price per unit.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LineFloorSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_of_original: Option<DecimalString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit: Option<DecimalString>,
}

/// The codes that unlock code-gated promotions. Exactly one of `codes` (plaintext: unsigned
/// development payloads only, refused by every verifier), `hashes` or `generated` is given.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeSetSpec {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    /// Standard base64 of the sorted 12-byte keyed hashes of listed codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<String>,
    /// A campaign of self-verifying generated codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<GeneratedSpec>,
    /// A deactivated set accepts no code at all.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Self-verifying codes: `prefix + serial + tag + suffix` (see `docs/signing.md`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GeneratedSpec {
    pub campaign: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
    pub count: u64,
    pub serial_chars: u32,
    pub tag_chars: u32,
    /// Deactivated serials, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<u64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PromotionSpec {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A reporting label grouping promotions (the ledger's reports by campaign).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Higher applies first and wins ties; default 0.
    #[serde(default)]
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Instant>,
    /// UTC intervals (expanded from a recurring window by the signer); when present the
    /// promotion is live only inside one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<Vec<IntervalSpec>>,
    /// The code set whose code must be entered; absent for automatic promotions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_set: Option<String>,
    /// Code-gated, with the code material left out (the storefront form): only a code grant
    /// unlocks it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub locked: bool,
    /// Left out of the public storefront bundle altogether.
    #[serde(default, skip_serializing_if = "is_false")]
    pub private: bool,
    #[serde(default)]
    pub items: ItemSelector,
    #[serde(default)]
    pub conditions: ConditionsSpec,
    #[serde(deserialize_with = "reward")]
    pub reward: RewardSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loyalty_bonus: Vec<LoyaltyBonusSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_discount: Option<DecimalString>,
    /// How many units of the targeted lines the reward may discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discounted_units: Option<DiscountedUnitsSpec>,
    #[serde(default)]
    pub stacking: StackingSpec,
    #[serde(default)]
    pub limits: LimitsSpec,
}

/// A quota of discounted units: at most `perLine` units of each line and at most `perOrder`
/// units in all, taken in `pick` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DiscountedUnitsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_order: Option<u64>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub pick: UnitPick,
}

/// The order in which units are taken: by a per-order quota (`discountedUnits`), or as the
/// given units of a buy-X-get-Y.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UnitPick {
    /// The cheapest units first (current unit price; ties in line-id order).
    #[default]
    Cheapest,
    /// The most expensive units first (ties in line-id order).
    MostExpensive,
    /// Line by line in cart order.
    CartOrder,
    /// Line by line, the line with the smallest amount first (ties in line-id order).
    CheapestLine,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntervalSpec {
    pub start: Instant,
    pub end: Instant,
}

/// Which cart lines a promotion targets. Include lists are alternatives (a line matching any
/// of them is in; no include list at all means every line); exclusions always win.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ItemSelector {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skus: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_skus: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_products: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_categories: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_brands: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_tags: Vec<String>,
    /// Leave out lines already on sale.
    pub exclude_on_sale: bool,
    /// Only lines whose available stock is at most this (low-stock clearance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_stock_at_most: Option<u64>,
}

/// Cart, customer and context conditions; all that are given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ConditionsSpec {
    /// Minimum subtotal of the targeted lines, before discounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_subtotal: Option<DecimalString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_subtotal: Option<DecimalString>,
    /// Minimum number of targeted units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_quantity: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub customer_tiers: Vec<String>,
    /// The customer must be in at least one of these segments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub customer_segments: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_order: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum RewardSpec {
    /// A percentage off every targeted line (`on: lines`, product class) or off the targeted
    /// subtotal as one amount spread over the lines (`on: order`, order class).
    PercentOff {
        percent: DecimalString,
        #[serde(default)]
        on: PercentScope,
        /// With `on: order`: the shipping counts in the total and takes its share.
        #[serde(default, skip_serializing_if = "is_false")]
        include_shipping: bool,
    },
    /// A fixed amount off each targeted unit, each targeted line, or the order.
    AmountOff {
        amount: DecimalString,
        per: AmountPer,
        /// With `per: order`: the amount is spread over the shipping too.
        #[serde(default, skip_serializing_if = "is_false")]
        include_shipping: bool,
    },
    /// Each targeted unit for this price (when that is cheaper).
    FixedPrice { price: DecimalString },
    /// Buy `buyQuantity` targeted units, get `getQuantity` units of `getItems` (default: the
    /// targeted items) at `percent` off (default 100: free), `amount` off each or for `price`
    /// each, the units picked in `pick` order (default: cheapest first).
    BuyXGetY {
        buy_quantity: u32,
        get_quantity: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        get_items: Option<Box<ItemSelector>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percent: Option<DecimalString>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<DecimalString>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<DecimalString>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_applications: Option<u32>,
        /// The last application may give fewer than `getQuantity` units.
        #[serde(default, skip_serializing_if = "is_false")]
        partial_groups: bool,
        #[serde(default, skip_serializing_if = "is_default")]
        pick: UnitPick,
    },
    /// The best tier reached by the targeted quantity or spend.
    Tiered {
        basis: TierBasis,
        tiers: Vec<TierSpec>,
    },
    /// Per-line quantity breaks: each line gets the tier its own quantity reaches.
    Volume { tiers: Vec<VolumeTierSpec> },
    /// Shipping off (100 % is free shipping), optionally only for some methods or countries.
    ShippingOff {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percent: Option<DecimalString>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<DecimalString>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        methods: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        countries: Vec<String>,
        /// Which eligible shipments it takes off, when a cart has several.
        #[serde(default, skip_serializing_if = "is_default")]
        apply: ShipmentApply,
    },
}

/// Which of a cart's eligible shipments a shipping reward takes off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ShipmentApply {
    /// Each eligible shipment: the percentage of each, or the amount off each.
    #[default]
    Each,
    /// The eligible shipments together: the percentage of each, or the amount spread over
    /// them in proportion to their amounts.
    Across,
    /// Only the cheapest eligible shipment (ties: the first in the input).
    Cheapest,
    /// Only the dearest eligible shipment (ties: the first in the input).
    MostExpensive,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PercentScope {
    #[default]
    Lines,
    Order,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AmountPer {
    Unit,
    Line,
    Order,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TierBasis {
    Quantity,
    Spend,
}

/// One tier: a threshold (`minQuantity` or `minSpend`, matching the basis) and a reward
/// (`percent` off each line, or `amount` off the targeted lines together).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TierSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_quantity: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_spend: Option<DecimalString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<DecimalString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<DecimalString>,
}

/// One volume break: from `minQuantity` units on a line, a `unitPrice` or a `percent` off.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeTierSpec {
    pub min_quantity: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<DecimalString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<DecimalString>,
}

/// Extra percentage points for a customer tier, added to a percentage reward.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoyaltyBonusSpec {
    pub tier: String,
    pub percent: DecimalString,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum DiscountClass {
    Product,
    Order,
    Shipping,
}

/// How a promotion combines with others. By default it combines with nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct StackingSpec {
    /// Applies alone: never combined with any other promotion.
    pub exclusive: bool,
    /// Classes of other promotions this one may be combined with (both sides must agree).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub combines_with: Vec<DiscountClass>,
    /// At most one promotion of a named group applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Limits that need shared state: reported to the ledger, never decided by the evaluator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct LimitsSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_uses: Option<u64>,
    /// Uses allowed per code of the promotion's code set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_code: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_customer: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<DecimalString>,
    pub single_use_codes: bool,
    /// What a reversed redemption gives back to these limits.
    #[serde(skip_serializing_if = "Reversal::is_default")]
    pub reversal: Reversal,
}

/// What reversing a redemption (a refund or a cancellation) gives back to the promotion's
/// limits: its use (total, per code, per customer, per day, the single-use code) and its
/// discount (the budget).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reversal {
    /// Refunds and cancellations both give the use back.
    #[default]
    Recredit,
    /// Only a cancellation gives the use back; a refunded order keeps it.
    RecreditCancel,
    /// A use stays used.
    Keep,
}

impl Reversal {
    fn is_default(&self) -> bool {
        *self == Reversal::Recredit
    }
}

/// What is evaluated: a cart, who is buying, and the circumstances.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EvaluationInput {
    pub cart: CartSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerSpec>,
    pub context: ContextSpec,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Cart"))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CartSpec {
    pub currency: String,
    pub lines: Vec<LineSpec>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Line"))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LineSpec {
    pub id: String,
    pub sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub unit_price: DecimalString,
    pub quantity: u64,
    /// Percent, e.g. `"20"` or `"8.875"`; default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<DecimalString>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub on_sale: bool,
    /// Units in stock; absent means not tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_available: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_cost: Option<DecimalString>,
    /// The lowest price per unit promotions may take the line to (a minimum advertised price,
    /// a variant's minimum price); absent: no floor of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_unit_price: Option<DecimalString>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Customer"))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Context"))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContextSpec {
    pub now: Instant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<ShippingSpec>,
    /// Several shipments (instead of `shipping`), each with its id, method and amount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shipments: Vec<ShipmentSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    /// Code grants from the edge (`keyId.payload.signature`), accepted in place of codes by a
    /// bundle opened with a trust root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<String>,
    /// Who is evaluating (a session or customer id); a grant issued to a subject only unlocks
    /// for that subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The shop's signed word for `customer` (`keyId.payload.signature`, a `shop` key's): the
    /// edge and the ledger price with the claim's customer and nothing else
    /// (`seal::vouch`). Evaluation itself reads `customer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_claim: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Shipping"))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ShippingSpec {
    pub method: String,
    pub amount: DecimalString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<DecimalString>,
}

/// One shipment of a cart with several.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "Shipment"))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ShipmentSpec {
    pub id: String,
    pub method: String,
    pub amount: DecimalString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<DecimalString>,
}

impl BundlePayload {
    /// The public storefront form of an edge payload: no code material at all. Code-gated
    /// promotions become `locked` (only a code grant unlocks them), private promotions and the
    /// approvals that approve nothing else are left out, and code sets are dropped. Approval signatures carry over
    /// unchanged: the approved digest never covers code material.
    pub fn storefront(&self) -> BundlePayload {
        let promotions: Vec<PromotionSpec> = self
            .promotions
            .iter()
            .filter(|p| !p.private)
            .map(|p| {
                let mut p = p.clone();
                p.locked |= p.code_set.take().is_some();
                p
            })
            .collect();
        // The batches that approve a promotion left in (a batch may also name a private one's
        // digest: a hash of its terms, not its name).
        let kept: std::collections::HashSet<String> = promotions
            .iter()
            .map(|p| crate::codes::encode_hex(&crate::seal::approval_digest(&self.currency, p)))
            .collect();
        let approvals = self
            .approvals
            .iter()
            .filter(|a| a.digests.iter().any(|d| kept.contains(d)))
            .cloned()
            .collect();
        BundlePayload {
            format: self.format,
            bundle_id: self.bundle_id.clone(),
            audience: Audience::Storefront,
            version: self.version,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            currency: self.currency.clone(),
            time_zone: self.time_zone.clone(),
            pricing: self.pricing.clone(),
            code_sets: Vec::new(),
            promotions,
            approvals,
        }
    }
}
