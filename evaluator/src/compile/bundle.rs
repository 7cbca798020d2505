//! A bundle payload compiled into a [`Bundle`]: the format, identity and currency checked, the
//! pricing policy, code sets and promotions validated (each error names the JSON path of the
//! offending field), promotions sorted into application order and indexed by what they target;
//! and what a compiled bundle answers: its identity, whether it knows a code and how the code is
//! spelled, whether a promotion is live and what limits it declares.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;

use crate::codes::{Campaign, CodeHash, CodeSecret, HASH_LEN};
use crate::error::{BundleError, FieldError};
use crate::evaluation::PromotionIds;
use crate::model::{
    AmountPer, Audience, BundlePayload, CodeSetSpec, DiscountedUnitsSpec, LimitsSpec, PercentScope,
    PricingPolicy, PromotionSpec, RewardSpec, TierBasis, FORMAT_VERSION,
};
use crate::money::{Currency, DecimalString, Percent, Rounding};
use crate::presets;
use crate::time::Instant;

use super::{
    normalize_code, Bundle, CodeMatcher, CodeSet, Conditions, Floor, GetOff, Index, Policy,
    Pricing, Promotion, Reward, Selector, Set, Tier, TierReward, VolumeReward, MAX_CODE_LEN,
};

fn invalid(path: impl Into<String>, message: impl Into<String>) -> BundleError {
    BundleError::Invalid(FieldError::new(path, message))
}

/// Parses a payload strictly (unknown fields, duplicate keys and JSON numbers for money are
/// refused) without validating it.
pub fn parse_payload(bytes: &[u8]) -> Result<BundlePayload, BundleError> {
    crate::error::parse_json(bytes).map_err(BundleError::Parse)
}

impl Bundle {
    /// Parses and validates a payload from its exact JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Bundle, BundleError> {
        Bundle::compile(&parse_payload(bytes)?)
    }

    /// Validates a payload already in memory.
    pub fn compile(p: &BundlePayload) -> Result<Bundle, BundleError> {
        if p.format != FORMAT_VERSION {
            return Err(invalid(
                "format",
                format!(
                    "unsupported format `{}` (this evaluator reads {FORMAT_VERSION})",
                    p.format
                ),
            ));
        }
        if p.bundle_id.is_empty() {
            return Err(invalid("bundleId", "must not be empty"));
        }
        if p.expires_at <= p.issued_at {
            return Err(invalid("expiresAt", "must be after `issuedAt`"));
        }
        let currency = Currency::from_code(&p.currency)
            .ok_or_else(|| invalid("currency", format!("unknown currency `{}`", p.currency)))?;
        let policy = compile_policy(&p.pricing, currency)?;

        let mut code_sets = Vec::with_capacity(p.code_sets.len());
        for (i, cs) in p.code_sets.iter().enumerate() {
            let path = format!("codeSets[{i}]");
            if cs.id.is_empty() {
                return Err(invalid(format!("{path}.id"), "must not be empty"));
            }
            if code_sets.iter().any(|c: &CodeSet| *c.id == *cs.id) {
                return Err(invalid(
                    format!("{path}.id"),
                    format!("duplicate code set id `{}`", cs.id),
                ));
            }
            code_sets.push(CodeSet {
                id: Arc::from(cs.id.as_str()),
                active: cs.active,
                matcher: compile_code_set(cs, &path)?,
            });
        }

        // Group names by number, in order of first use; ids seen (a set: bundles hold 10,000s).
        let mut groups: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut seen: std::collections::HashSet<&str> =
            std::collections::HashSet::with_capacity(p.promotions.len());
        let mut promotions = Vec::with_capacity(p.promotions.len());
        for (i, spec) in p.promotions.iter().enumerate() {
            let path = format!("promotions[{i}]");
            if !seen.insert(spec.id.as_str()) {
                return Err(invalid(
                    format!("{path}.id"),
                    format!("duplicate promotion id `{}`", spec.id),
                ));
            }
            let next = u32::try_from(groups.len()).unwrap_or(u32::MAX);
            let group = spec
                .stacking
                .group
                .as_ref()
                .map(|g| *groups.entry(g.as_str()).or_insert(next));
            promotions.push(compile_promotion(spec, &path, currency, &code_sets, group)?);
        }
        // Application order: highest priority first, then by id (ids are unique). The positions
        // are sorted and each promotion then moved once: a compiled promotion is hundreds of
        // bytes, and a sort moves each one many times.
        let mut order: Vec<(std::cmp::Reverse<i32>, &str, usize)> = promotions
            .iter()
            .enumerate()
            .map(|(i, p)| (std::cmp::Reverse(p.priority), &*p.id, i))
            .collect();
        order.sort_unstable();
        let order: Vec<usize> = order.into_iter().map(|(_, _, i)| i).collect();
        let mut slots: Vec<Option<Promotion>> = promotions.into_iter().map(Some).collect();
        let promotions: Vec<Promotion> = order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect();
        let index = Index::build(&promotions);
        let ids = Arc::new(PromotionIds::new(
            promotions.iter().map(|p| p.id.clone()).collect(),
        ));
        Ok(Bundle {
            ids,
            id: Arc::from(p.bundle_id.as_str()),
            version: p.version,
            audience: p.audience,
            issued_at: p.issued_at,
            expires_at: p.expires_at,
            currency,
            policy,
            promotions,
            index,
            code_sets,
            code_secret: None,
            #[cfg(feature = "verify")]
            trust: None,
            digest: None,
            time_zone: p.time_zone.as_deref().map(Arc::from),
        })
    }
}

fn compile_code_set(cs: &CodeSetSpec, path: &str) -> Result<CodeMatcher, BundleError> {
    let given = usize::from(!cs.codes.is_empty())
        + usize::from(cs.hashes.is_some())
        + usize::from(cs.generated.is_some());
    if given > 1 {
        return Err(invalid(
            path,
            "give exactly one of `codes`, `hashes` and `generated`",
        ));
    }
    if let Some(b64) = &cs.hashes {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| invalid(format!("{path}.hashes"), format!("not base64: {e}")))?;
        if bytes.len() % HASH_LEN != 0 {
            return Err(invalid(
                format!("{path}.hashes"),
                format!("not a whole number of {HASH_LEN}-byte hashes"),
            ));
        }
        let hashes: Vec<CodeHash> = bytes
            .chunks_exact(HASH_LEN)
            .filter_map(|c| c.try_into().ok())
            .collect();
        if hashes.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
            return Err(invalid(
                format!("{path}.hashes"),
                "hashes must be sorted ascending without repeats",
            ));
        }
        return Ok(CodeMatcher::Hashed(hashes));
    }
    if let Some(g) = &cs.generated {
        let campaign = Campaign::from(g);
        campaign
            .validate()
            .map_err(|m| invalid(format!("{path}.generated"), m))?;
        if g.revoked.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
            return Err(invalid(
                format!("{path}.generated.revoked"),
                "revoked serials must be ascending without repeats",
            ));
        }
        return Ok(CodeMatcher::Generated {
            campaign,
            revoked: g.revoked.clone(),
        });
    }
    let mut codes = Vec::with_capacity(cs.codes.len());
    for (j, c) in cs.codes.iter().enumerate() {
        let n = normalize_code(c);
        if n.is_empty() || n.len() > MAX_CODE_LEN {
            return Err(invalid(
                format!("{path}.codes[{j}]"),
                format!("a code must have 1 to {MAX_CODE_LEN} bytes"),
            ));
        }
        codes.push(n);
    }
    codes.sort();
    codes.dedup();
    Ok(CodeMatcher::Plain(codes))
}

fn compile_policy(spec: &PricingPolicy, currency: Currency) -> Result<Policy, BundleError> {
    let floor = spec
        .line_floor
        .as_ref()
        .map(|f| {
            compile_floor(
                f.percent_of_original.as_ref(),
                f.per_unit.as_ref(),
                "pricing.lineFloor",
                currency,
            )
        })
        .transpose()?;
    let product_floors = spec
        .product_floors
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let path = format!("pricing.productFloors[{k}]");
            let floor = compile_floor(
                f.percent_of_original.as_ref(),
                f.per_unit.as_ref(),
                &path,
                currency,
            )?;
            Ok((Selector::new(&f.items), floor))
        })
        .collect::<Result<Vec<_>, BundleError>>()?;
    Ok(Policy {
        pricing: resolve(spec),
        floor,
        product_floors,
    })
}

/// Every knob as given, else as the preset sets it, else its default. A `rounding` given counts
/// as given for every operation whose own mode is not.
fn resolve(spec: &PricingPolicy) -> Pricing {
    // A preset may depend on whether prices include tax (WooCommerce rounds included tax
    // differently), never on anything else.
    let tax_mode = spec.tax_mode.unwrap_or_default();
    let preset = spec
        .preset
        .map(|p| presets::knobs(p, tax_mode))
        .unwrap_or_default();
    let mode = |own: Option<Rounding>, preset_own: Option<Rounding>| {
        own.or(spec.rounding)
            .or(preset_own)
            .or(preset.rounding)
            .unwrap_or_default()
    };
    Pricing {
        tax_mode,
        rounding_point: spec
            .rounding_point
            .or(preset.rounding_point)
            .unwrap_or_default(),
        allocation: spec.allocation.or(preset.allocation).unwrap_or_default(),
        compounding: spec.compounding.or(preset.compounding).unwrap_or_default(),
        fixed_amount_basis: spec
            .fixed_amount_basis
            .or(preset.fixed_amount_basis)
            .unwrap_or_default(),
        stacking: spec.stacking.or(preset.stacking).unwrap_or_default(),
        rounding_target: spec
            .rounding_target
            .or(preset.rounding_target)
            .unwrap_or_default(),
        tax_rounding_target: spec
            .tax_rounding_target
            .or(preset.tax_rounding_target)
            .unwrap_or_default(),
        allocation_weights: spec
            .allocation_weights
            .or(preset.allocation_weights)
            .unwrap_or_default(),
        capped_line_base: spec
            .capped_line_base
            .or(preset.capped_line_base)
            .unwrap_or_default(),
        floor_excess: spec
            .floor_excess
            .or(preset.floor_excess)
            .unwrap_or_default(),
        discount_rounding: mode(spec.discount_rounding, preset.discount_rounding),
        tax_rounding: mode(spec.tax_rounding, preset.tax_rounding),
        conversion_rounding: mode(spec.conversion_rounding, preset.conversion_rounding),
        allocation_rounding: spec
            .allocation_rounding
            .or(spec.discount_rounding)
            .or(spec.rounding)
            .or(preset.allocation_rounding)
            .or(preset.discount_rounding)
            .or(preset.rounding)
            .unwrap_or_default(),
        unit_allocations: spec.unit_allocations.or(preset.unit_allocations),
        buy_x_get_y_units: spec
            .buy_x_get_y_units
            .or(preset.buy_x_get_y_units)
            .unwrap_or_default(),
    }
}

/// A floor: exactly one of a share of the original amount and a price per unit.
fn compile_floor(
    percent_of_original: Option<&DecimalString>,
    per_unit: Option<&DecimalString>,
    path: &str,
    currency: Currency,
) -> Result<Floor, BundleError> {
    match (percent_of_original, per_unit) {
        (Some(p), None) => Ok(Floor::PercentOfOriginal(
            Percent::from_decimal(p, &|| format!("{path}.percentOfOriginal"))
                .map_err(BundleError::Invalid)?,
        )),
        (None, Some(a)) => Ok(Floor::PerUnit(
            currency
                .to_minor(a, &|| format!("{path}.perUnit"))
                .map_err(BundleError::Invalid)?,
        )),
        _ => Err(invalid(
            path,
            "give exactly one of `percentOfOriginal` and `perUnit`",
        )),
    }
}

fn compile_promotion(
    spec: &PromotionSpec,
    path: &str,
    currency: Currency,
    code_sets: &[CodeSet],
    group: Option<u32>,
) -> Result<Promotion, BundleError> {
    let money = |v: &DecimalString, field: &str| {
        currency
            .to_minor(v, &|| format!("{path}.{field}"))
            .map_err(BundleError::Invalid)
    };
    let percent = |v: &DecimalString, field: &str| {
        Percent::from_decimal(v, &|| format!("{path}.{field}")).map_err(BundleError::Invalid)
    };
    if spec.id.is_empty() || spec.id.len() > 128 {
        return Err(invalid(format!("{path}.id"), "must have 1 to 128 bytes"));
    }
    if let (Some(s), Some(e)) = (spec.starts_at, spec.ends_at) {
        if e <= s {
            return Err(invalid(
                format!("{path}.endsAt"),
                "must be after `startsAt`",
            ));
        }
    }
    let intervals = match &spec.intervals {
        None => None,
        Some(list) => {
            let mut out: Vec<(Instant, Instant)> = Vec::with_capacity(list.len());
            for (k, iv) in list.iter().enumerate() {
                if iv.end <= iv.start {
                    return Err(invalid(
                        format!("{path}.intervals[{k}]"),
                        "`end` must be after `start`",
                    ));
                }
                if out.last().is_some_and(|&(_, prev_end)| iv.start < prev_end) {
                    return Err(invalid(
                        format!("{path}.intervals[{k}]"),
                        "intervals must be sorted and must not overlap",
                    ));
                }
                out.push((iv.start, iv.end));
            }
            Some(out)
        }
    };
    if spec.locked && spec.code_set.is_some() {
        return Err(invalid(
            format!("{path}.locked"),
            "a locked promotion carries no `codeSet`",
        ));
    }
    let code_set = match &spec.code_set {
        None => None,
        Some(id) => Some(
            code_sets
                .iter()
                .position(|c| *c.id == **id)
                .ok_or_else(|| {
                    invalid(
                        format!("{path}.codeSet"),
                        format!("unknown code set `{id}`"),
                    )
                })?,
        ),
    };
    let c = &spec.conditions;
    let conditions = Conditions {
        min_subtotal: c
            .min_subtotal
            .as_ref()
            .map(|v| money(v, "conditions.minSubtotal"))
            .transpose()?,
        max_subtotal: c
            .max_subtotal
            .as_ref()
            .map(|v| money(v, "conditions.maxSubtotal"))
            .transpose()?,
        min_quantity: c.min_quantity,
        customer_tiers: Set::new(c.customer_tiers.clone()),
        customer_segments: Set::new(c.customer_segments.clone()),
        first_order: c.first_order,
        regions: Set::new(c.regions.clone()),
        channels: Set::new(c.channels.clone()),
    };
    if let (Some(lo), Some(hi)) = (conditions.min_subtotal, conditions.max_subtotal) {
        if hi < lo {
            return Err(invalid(
                format!("{path}.conditions.maxSubtotal"),
                "must not be below `minSubtotal`",
            ));
        }
    }
    let reward = compile_reward(&spec.reward, path, &money, &percent)?;
    let mut loyalty = Vec::with_capacity(spec.loyalty_bonus.len());
    for (k, b) in spec.loyalty_bonus.iter().enumerate() {
        if loyalty
            .iter()
            .any(|(t, _): &(String, Percent)| *t == b.tier)
        {
            return Err(invalid(
                format!("{path}.loyaltyBonus[{k}].tier"),
                format!("duplicate tier `{}`", b.tier),
            ));
        }
        loyalty.push((
            b.tier.clone(),
            percent(&b.percent, &format!("loyaltyBonus[{k}].percent"))?,
        ));
    }
    let cap = spec
        .max_discount
        .as_ref()
        .map(|v| money(v, "maxDiscount"))
        .transpose()?;
    let units = compile_units(spec, path)?;
    // `includeShipping`: only on an order discount.
    let (include_shipping, on_order) = match &spec.reward {
        RewardSpec::PercentOff {
            include_shipping,
            on,
            ..
        } => (*include_shipping, *on == PercentScope::Order),
        RewardSpec::AmountOff {
            include_shipping,
            per,
            ..
        } => (*include_shipping, *per == AmountPer::Order),
        _ => (false, true),
    };
    if include_shipping && !on_order {
        return Err(invalid(
            format!("{path}.reward.includeShipping"),
            "applies only to `percentOff` on the order and `amountOff` per order",
        ));
    }
    let reaches_shipping = include_shipping;
    let budget = spec
        .limits
        .budget
        .as_ref()
        .map(|v| money(v, "limits.budget"))
        .transpose()?;
    let mut combines_with = [false; 3];
    for class in &spec.stacking.combines_with {
        if let Some(slot) = combines_with.get_mut(*class as usize) {
            *slot = true;
        }
    }
    let class = reward.class();
    Ok(Promotion {
        id: Arc::from(spec.id.as_str()),
        name: Arc::from(spec.name.as_str()),
        campaign: spec.campaign.as_deref().map(Arc::from),
        priority: spec.priority,
        starts_at: spec.starts_at,
        ends_at: spec.ends_at,
        intervals,
        code_set,
        locked: spec.locked,
        private: spec.private,
        items: Selector::new(&spec.items),
        conditions,
        reward,
        loyalty,
        cap,
        units,
        reaches_shipping,
        class,
        exclusive: spec.stacking.exclusive,
        combines_with,
        group,
        group_name: spec.stacking.group.as_deref().map(Arc::from),
        limits: spec.limits.clone(),
        budget,
    })
}

/// `discountedUnits`: at least one quota, each at least 1, on a reward computed line by line.
fn compile_units(
    spec: &PromotionSpec,
    path: &str,
) -> Result<Option<DiscountedUnitsSpec>, BundleError> {
    let Some(units) = spec.discounted_units else {
        return Ok(None);
    };
    let field = format!("{path}.discountedUnits");
    if units.per_line.is_none() && units.per_order.is_none() {
        return Err(invalid(field, "give `perLine`, `perOrder` or both"));
    }
    if units.per_line == Some(0) || units.per_order == Some(0) {
        return Err(invalid(
            field,
            "`perLine` and `perOrder` must be at least 1",
        ));
    }
    let per_line_reward = match &spec.reward {
        RewardSpec::PercentOff { on, .. } => *on == PercentScope::Lines,
        RewardSpec::AmountOff { per, .. } => *per == AmountPer::Unit,
        RewardSpec::FixedPrice { .. } | RewardSpec::Volume { .. } => true,
        RewardSpec::Tiered { tiers, .. } => tiers.iter().all(|t| t.amount.is_none()),
        RewardSpec::BuyXGetY { .. } | RewardSpec::ShippingOff { .. } => false,
    };
    if !per_line_reward {
        return Err(invalid(
            field,
            "applies only to rewards computed line by line: `percentOff` on lines, `amountOff` \
             per unit, `fixedPrice`, `volume`, and `tiered` with percent tiers",
        ));
    }
    Ok(Some(units))
}

fn compile_reward(
    spec: &RewardSpec,
    path: &str,
    money: &dyn Fn(&DecimalString, &str) -> Result<i64, BundleError>,
    percent: &dyn Fn(&DecimalString, &str) -> Result<Percent, BundleError>,
) -> Result<Reward, BundleError> {
    let one_of = |field: &str, a: bool, b: bool, names: (&str, &str)| {
        if a == b {
            Err(invalid(
                format!("{path}.{field}"),
                format!("give exactly one of `{}` and `{}`", names.0, names.1),
            ))
        } else {
            Ok(())
        }
    };
    Ok(match spec {
        RewardSpec::PercentOff { percent: p, on, .. } => {
            let p = percent(p, "reward.percent")?;
            match on {
                PercentScope::Lines => Reward::PercentOffLines(p),
                PercentScope::Order => Reward::PercentOffOrder(p),
            }
        }
        RewardSpec::AmountOff { amount, per, .. } => Reward::AmountOff {
            amount: money(amount, "reward.amount")?,
            per: *per,
        },
        RewardSpec::FixedPrice { price } => Reward::FixedPrice(money(price, "reward.price")?),
        RewardSpec::BuyXGetY {
            buy_quantity,
            get_quantity,
            get_items,
            percent: p,
            amount,
            price,
            max_applications,
            partial_groups,
            pick,
        } => {
            if *buy_quantity == 0 || *get_quantity == 0 {
                return Err(invalid(
                    format!("{path}.reward"),
                    "`buyQuantity` and `getQuantity` must be at least 1",
                ));
            }
            if *max_applications == Some(0) {
                return Err(invalid(
                    format!("{path}.reward.maxApplications"),
                    "must be at least 1",
                ));
            }
            Reward::BuyXGetY {
                buy: u64::from(*buy_quantity),
                get: u64::from(*get_quantity),
                get_items: get_items.as_ref().map(|s| Box::new(Selector::new(s))),
                off: match (p, amount, price) {
                    (None, None, None) => GetOff::Percent(Percent::HUNDRED),
                    (Some(p), None, None) => GetOff::Percent(percent(p, "reward.percent")?),
                    (None, Some(a), None) => GetOff::Amount(money(a, "reward.amount")?),
                    (None, None, Some(v)) => GetOff::Price(money(v, "reward.price")?),
                    _ => {
                        return Err(invalid(
                            format!("{path}.reward"),
                            "give at most one of `percent`, `amount` and `price`",
                        ))
                    }
                },
                max_applications: max_applications.map(u64::from),
                partial: *partial_groups,
                pick: *pick,
            }
        }
        RewardSpec::Tiered { basis, tiers } => {
            if tiers.is_empty() {
                return Err(invalid(format!("{path}.reward.tiers"), "must not be empty"));
            }
            let mut out: Vec<Tier> = Vec::with_capacity(tiers.len());
            for (k, t) in tiers.iter().enumerate() {
                let tp = format!("reward.tiers[{k}]");
                let threshold = match (basis, t.min_quantity, &t.min_spend) {
                    (TierBasis::Quantity, Some(q), None) => {
                        i64::try_from(q).ok().filter(|q| *q >= 1).ok_or_else(|| {
                            invalid(format!("{path}.{tp}.minQuantity"), "must be at least 1")
                        })?
                    }
                    (TierBasis::Spend, None, Some(s)) => money(s, &format!("{tp}.minSpend"))?,
                    (TierBasis::Quantity, ..) => {
                        return Err(invalid(
                            format!("{path}.{tp}"),
                            "a quantity tier needs `minQuantity` only",
                        ))
                    }
                    (TierBasis::Spend, ..) => {
                        return Err(invalid(
                            format!("{path}.{tp}"),
                            "a spend tier needs `minSpend` only",
                        ))
                    }
                };
                one_of(
                    &tp,
                    t.percent.is_some(),
                    t.amount.is_some(),
                    ("percent", "amount"),
                )?;
                let reward = match (&t.percent, &t.amount) {
                    (Some(p), _) => TierReward::Percent(percent(p, &format!("{tp}.percent"))?),
                    (None, Some(a)) => TierReward::Amount(money(a, &format!("{tp}.amount"))?),
                    (None, None) => TierReward::Amount(0),
                };
                if out.last().is_some_and(|prev| prev.threshold >= threshold) {
                    return Err(invalid(
                        format!("{path}.{tp}"),
                        "tier thresholds must increase strictly",
                    ));
                }
                out.push(Tier { threshold, reward });
            }
            Reward::Tiered {
                basis: *basis,
                tiers: out,
            }
        }
        RewardSpec::Volume { tiers } => {
            if tiers.is_empty() {
                return Err(invalid(format!("{path}.reward.tiers"), "must not be empty"));
            }
            let mut out: Vec<(u64, VolumeReward)> = Vec::with_capacity(tiers.len());
            for (k, t) in tiers.iter().enumerate() {
                let tp = format!("reward.tiers[{k}]");
                one_of(
                    &tp,
                    t.unit_price.is_some(),
                    t.percent.is_some(),
                    ("unitPrice", "percent"),
                )?;
                if t.min_quantity == 0 || out.last().is_some_and(|(q, _)| *q >= t.min_quantity) {
                    return Err(invalid(
                        format!("{path}.{tp}.minQuantity"),
                        "must be at least 1 and increase strictly",
                    ));
                }
                let reward = match (&t.unit_price, &t.percent) {
                    (Some(u), _) => VolumeReward::UnitPrice(money(u, &format!("{tp}.unitPrice"))?),
                    (None, Some(p)) => VolumeReward::Percent(percent(p, &format!("{tp}.percent"))?),
                    (None, None) => VolumeReward::Percent(Percent::ZERO),
                };
                out.push((t.min_quantity, reward));
            }
            Reward::Volume(out)
        }
        RewardSpec::ShippingOff {
            percent: p,
            amount,
            methods,
            countries,
            apply,
        } => {
            one_of(
                "reward",
                p.is_some(),
                amount.is_some(),
                ("percent", "amount"),
            )?;
            let off = match (p, amount) {
                (Some(p), _) => TierReward::Percent(percent(p, "reward.percent")?),
                (None, Some(a)) => TierReward::Amount(money(a, "reward.amount")?),
                (None, None) => TierReward::Amount(0),
            };
            Reward::Shipping {
                off,
                methods: Set::new(methods.clone()),
                countries: Set::new(countries.clone()),
                apply: *apply,
            }
        }
    })
}

impl Index {
    fn build(promotions: &[Promotion]) -> Index {
        let mut index = Index::default();
        for (i, p) in promotions.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let s = &p.items;
            if s.includes_all() {
                index.all_lines.push(i);
                continue;
            }
            let add = |map: &mut HashMap<String, Vec<u32>>, set: &Set| {
                for key in set.iter() {
                    map.entry(key.clone()).or_default().push(i);
                }
            };
            add(&mut index.by_sku, &s.skus);
            add(&mut index.by_product, &s.products);
            add(&mut index.by_category, &s.categories);
            add(&mut index.by_brand, &s.brands);
            add(&mut index.by_tag, &s.tags);
        }
        index
    }
}

impl Bundle {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn version(&self) -> u64 {
        self.version
    }
    pub fn audience(&self) -> Audience {
        self.audience
    }
    pub fn currency(&self) -> &'static str {
        self.currency.code()
    }
    pub fn issued_at(&self) -> Instant {
        self.issued_at
    }
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }
    pub fn promotion_count(&self) -> usize {
        self.promotions.len()
    }
    /// SHA-256 of the signed payload (for a verified bundle).
    pub fn digest(&self) -> Option<[u8; 32]> {
        self.digest
    }
    /// Lets hashed and generated codes be checked (edge and ledger only).
    pub fn set_code_secret(&mut self, secret: CodeSecret) {
        self.code_secret = Some(secret);
    }

    /// The one spelling of a code that every per-code record keys on (counters, attempt
    /// limits, used-up markers, hashes in logs and exports): normalized as a check normalizes
    /// it and, for a genuine code of a generated campaign, spelled as the campaign writes it,
    /// so `O` for `0` and `I` or `L` for `1` are the same code. Any other code is its
    /// normalized form.
    pub fn canonical_code(&self, code: &str) -> String {
        let normalized = normalize_code(code);
        if let Some(secret) = &self.code_secret {
            for set in &self.code_sets {
                if let CodeMatcher::Generated { campaign, .. } = &set.matcher {
                    if let Some(canonical) = secret
                        .check(campaign, &normalized)
                        .and_then(|serial| secret.generate(campaign, serial))
                    {
                        return canonical;
                    }
                }
            }
        }
        normalized
    }

    /// The name a code's records go by (the ledger's counters and logs, the edge's markers and
    /// attempt buckets, the console's lookup): the keyed hash, hex, of its canonical spelling.
    pub fn code_record(&self, secret: &CodeSecret, code: &str) -> String {
        crate::codes::encode_hex(&secret.hash(&self.canonical_code(code)))
    }

    /// Whether a code belongs to an active code set of this bundle (revoked serials and
    /// deactivated sets excluded), whatever the cart, the customer or the clock: what tells a
    /// guess from a real code. Hashed and generated sets need the code secret.
    pub fn knows_code(&self, code: &str) -> bool {
        let normalized = normalize_code(code);
        let secret = self.code_secret.as_ref();
        self.code_sets
            .iter()
            .filter(|set| set.active)
            .any(|set| match &set.matcher {
                CodeMatcher::Plain(list) => list.binary_search(&normalized).is_ok(),
                CodeMatcher::Hashed(hashes) => secret.is_some_and(|s| {
                    hashes
                        .binary_search(&s.hash_normalized(&normalized))
                        .is_ok()
                }),
                CodeMatcher::Generated { campaign, revoked } => secret.is_some_and(|s| {
                    s.check(campaign, &normalized)
                        .is_some_and(|serial| revoked.binary_search(&serial).is_err())
                }),
            })
    }

    fn promotion(&self, id: &str) -> Option<&Promotion> {
        self.promotions.iter().find(|p| *p.id == *id)
    }

    /// Whether promotion `id` is live at `now` by its schedule (start, end, recurring
    /// intervals); `None` when the bundle has no such promotion. What tells a promotion a newer
    /// version removed or paused from one it keeps.
    pub fn live_at(&self, id: &str, now: Instant) -> Option<bool> {
        self.promotion(id).map(|p| {
            p.starts_at.is_none_or(|s| s <= now)
                && p.ends_at.is_none_or(|e| now < e)
                && p.intervals
                    .as_ref()
                    .is_none_or(|iv| iv.iter().any(|(s, e)| *s <= now && now < *e))
        })
    }

    /// The shop's IANA time zone (`timeZone`), when the bundle names one (else UTC).
    pub fn time_zone(&self) -> Option<&str> {
        self.time_zone.as_deref()
    }

    /// The reporting label of promotion `id` (`campaign`).
    pub fn campaign_of(&self, id: &str) -> Option<&str> {
        self.promotion(id).and_then(|p| p.campaign.as_deref())
    }

    /// The limits of promotion `id` as this version declares them, and its budget in minor
    /// units.
    pub fn limits_of(&self, id: &str) -> Option<(&LimitsSpec, Option<i64>)> {
        self.promotion(id).map(|p| (&p.limits, p.budget))
    }

    /// Leaves the private promotions out of an evaluation's why-not list: a public answer
    /// names a private promotion only when a code applied it.
    pub fn hide_private(&self, evaluation: &mut crate::Evaluation) {
        evaluation
            .not_applied
            .retain(|order| self.promotions.get(order).is_some_and(|p| !p.private));
    }
}
