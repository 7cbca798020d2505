//! What each engine preset declares (`pricing.preset`): the one home of the engines' arithmetic
//! as far as their public sources show it. `docs/migrating.md` cites the source of every knob
//! set here and lists, per engine, what no knob can reproduce.
//!
//! A preset is a [`PricingPolicy`] with some knobs set; a bundle's own knobs win over it
//! (resolved in [`crate::compile`]).

use crate::model::{
    Allocation, AllocationWeights, CappedLineBase, Compounding, FixedAmountBasis, FloorExcess,
    Preset, PricingPolicy, RoundingPoint, RoundingTarget, TaxMode, TaxRoundingTarget,
    UnitAllocations,
};
use crate::money::Rounding;

/// The knobs `preset` sets for a bundle whose prices are `tax_mode`; the others keep their
/// defaults.
pub(crate) fn knobs(preset: Preset, tax_mode: TaxMode) -> PricingPolicy {
    let base = PricingPolicy::default();
    match preset {
        // Shopify's allocator (the `money` library's default `:roundrobin`) hands the leftover
        // units one each to the first parts.
        // A line's discount over its units: the leftover cents on the last units (the Admin
        // API's `approximateAllocatedAmountPerItem`: 0.04 over 3 units is 0.01 / 0.01 / 0.02).
        Preset::Shopify => PricingPolicy {
            allocation: Some(Allocation::RemainderToFirst),
            unit_allocations: Some(UnitAllocations::Last),
            ..base
        },
        // Half-even by default, the discounted price of one unit rounded after each discount,
        // and tax as the difference of a rounded total.
        Preset::Commercetools => PricingPolicy {
            rounding: Some(Rounding::HalfEven),
            rounding_point: Some(RoundingPoint::Unit),
            rounding_target: Some(RoundingTarget::Price),
            tax_rounding_target: Some(TaxRoundingTarget::Converted),
            // Discounts are kept per unit (`discountedPricePerQuantity`), the leftover cent on
            // the first units (1.00 over 3 units: 0.34 / 0.33 / 0.33).
            unit_allocations: Some(UnitAllocations::First),
            ..base
        },
        // Promotions work on net amounts: fixed values are net and spread by net amounts; a
        // capped line's base is its capped units less every earlier adjustment.
        Preset::Medusa => PricingPolicy {
            fixed_amount_basis: Some(FixedAmountBasis::Net),
            allocation_weights: Some(AllocationWeights::Net),
            capped_line_base: Some(CappedLineBase::Slice),
            ..base
        },
        // `Math.round` on negative adjustments (half down on the discount), the net rounded
        // and tax as the rest, order discounts prorated by gross line totals, and an excess
        // clamped at zero lost.
        Preset::Vendure => PricingPolicy {
            discount_rounding: Some(Rounding::HalfDown),
            tax_rounding_target: Some(TaxRoundingTarget::Converted),
            allocation_weights: Some(AllocationWeights::Gross),
            floor_excess: Some(FloorExcess::None),
            ..base
        },
        // Each share of an order amount rounded half up, the last line taking the rest; the
        // net rounded and tax as the rest; an excess clamped at zero lost.
        Preset::Saleor => PricingPolicy {
            allocation: Some(Allocation::RoundedToLast),
            tax_rounding_target: Some(TaxRoundingTarget::Converted),
            floor_excess: Some(FloorExcess::None),
            ..base
        },
        // Coupons computed on the original prices (calc_discounts_sequentially off), their
        // totals rounded half down, leftover cents to the first lines, an excess lost; tax
        // rounded half down when prices include it, half up when they do not.
        Preset::Woocommerce => PricingPolicy {
            discount_rounding: Some(Rounding::HalfDown),
            tax_rounding: Some(match tax_mode {
                TaxMode::Inclusive => Rounding::HalfDown,
                TaxMode::Exclusive => Rounding::HalfUp,
            }),
            compounding: Some(Compounding::Original),
            allocation: Some(Allocation::RemainderToFirst),
            floor_excess: Some(FloorExcess::None),
            ..base
        },
        // Cart-fixed amounts split with a running rounding delta, and discounts taken off
        // prices excluding tax (the default "Apply Discount On Prices").
        Preset::Magento => PricingPolicy {
            allocation: Some(Allocation::CarryForward),
            fixed_amount_basis: Some(FixedAmountBasis::Net),
            ..base
        },
        // Unit percentages rounded per unit; order amounts split by shares rounded half down
        // with the difference one cent each to the first lines; a minimum price's excess
        // spread by the lines' totals.
        Preset::Sylius => PricingPolicy {
            rounding_point: Some(RoundingPoint::Unit),
            allocation: Some(Allocation::RoundedToFirst),
            allocation_rounding: Some(Rounding::HalfDown),
            floor_excess: Some(FloorExcess::Original),
            // Adjustments are kept per unit, the leftover cent on the first units
            // (`IntegerDistributor`: 10.00 over 3 is 3.34 / 3.33 / 3.33).
            unit_allocations: Some(UnitAllocations::First),
            ..base
        },
    }
}
