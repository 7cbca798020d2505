//! Promotions in plain words: what an approver reads before signing (`promoseal approve`, the
//! console's review), and what `promoseal inspect` shows.

use promoseal_evaluator::model::{
    AmountPer, DiscountedUnitsSpec, ItemSelector, PercentScope, PromotionSpec, RewardSpec,
    ShipmentApply, TierBasis, UnitPick,
};
use promoseal_evaluator::seal::Exposure;

fn list(label: &str, v: &[String], out: &mut Vec<String>) {
    if !v.is_empty() {
        out.push(format!("{label} {}", v.join(", ")));
    }
}

fn items(sel: &ItemSelector) -> String {
    let mut inc = Vec::new();
    list("SKUs", &sel.skus, &mut inc);
    list("products", &sel.products, &mut inc);
    list("categories", &sel.categories, &mut inc);
    list("brands", &sel.brands, &mut inc);
    list("tags", &sel.tags, &mut inc);
    let mut exc = Vec::new();
    list("SKUs", &sel.exclude_skus, &mut exc);
    list("products", &sel.exclude_products, &mut exc);
    list("categories", &sel.exclude_categories, &mut exc);
    list("brands", &sel.exclude_brands, &mut exc);
    list("tags", &sel.exclude_tags, &mut exc);
    if sel.exclude_on_sale {
        exc.push("items on sale".into());
    }
    let mut s = if inc.is_empty() {
        "every item".to_string()
    } else {
        format!("items in {}", inc.join(" or "))
    };
    if !exc.is_empty() {
        s.push_str(&format!(", except {}", exc.join(" and ")));
    }
    if let Some(n) = sel.low_stock_at_most {
        s.push_str(&format!(", with at most {n} in stock"));
    }
    s
}

fn reward(r: &RewardSpec, cur: &str, target: &str) -> String {
    match r {
        RewardSpec::PercentOff {
            percent,
            on,
            include_shipping,
        } => match on {
            PercentScope::Lines => format!("{}% off {target}", percent.0),
            PercentScope::Order if *include_shipping => {
                format!(
                    "{}% off the subtotal of {target} and the shipping",
                    percent.0
                )
            }
            PercentScope::Order => format!("{}% off the subtotal of {target}", percent.0),
        },
        RewardSpec::AmountOff {
            amount,
            per,
            include_shipping,
        } => {
            let shipping = if *include_shipping {
                " and the shipping"
            } else {
                ""
            };
            let per = match per {
                AmountPer::Unit => "each unit of",
                AmountPer::Line => "each line of",
                AmountPer::Order => "the order, on",
            };
            format!("{} {cur} off {per} {target}{shipping}", amount.0)
        }
        RewardSpec::FixedPrice { price } => format!("{target} for {} {cur} each", price.0),
        RewardSpec::BuyXGetY {
            buy_quantity,
            get_quantity,
            get_items,
            percent,
            amount,
            price,
            max_applications,
            partial_groups,
            pick,
        } => {
            let off = match (percent, amount, price) {
                (_, Some(a), _) => format!("at {} {cur} off each", a.0),
                (_, _, Some(p)) => format!("for {} {cur} each", p.0),
                (Some(p), _, _) => format!("at {}% off", p.0),
                (None, None, None) => "free".to_string(),
            };
            let what = get_items.as_deref().map_or(target.to_string(), items);
            let cap = max_applications.map_or(String::new(), |m| format!(", at most {m} times"));
            let partial = if *partial_groups {
                ", the last group may be incomplete"
            } else {
                ""
            };
            let order = match pick {
                UnitPick::Cheapest => String::new(),
                other => format!(", units given {}", pick_words(*other)),
            };
            format!(
                "buy {buy_quantity} of {target}, get {get_quantity} of {what} {off}{cap}{partial}{order}"
            )
        }
        RewardSpec::Tiered { basis, tiers } => {
            let steps: Vec<String> = tiers
                .iter()
                .map(|t| {
                    let at = match basis {
                        TierBasis::Quantity => format!("{} units", t.min_quantity.unwrap_or(0)),
                        TierBasis::Spend => format!(
                            "{} {cur}",
                            t.min_spend.map(|s| s.0.to_string()).unwrap_or_default()
                        ),
                    };
                    match (t.percent, t.amount) {
                        (Some(p), _) => format!("{}% from {at}", p.0),
                        (None, Some(a)) => format!("{} {cur} from {at}", a.0),
                        (None, None) => format!("nothing from {at}"),
                    }
                })
                .collect();
            format!("tiered on {target}: {}", steps.join("; "))
        }
        RewardSpec::Volume { tiers } => {
            let steps: Vec<String> = tiers
                .iter()
                .map(|t| match (t.percent, t.unit_price) {
                    (Some(p), _) => format!("{}% off from {} units", p.0, t.min_quantity),
                    (None, Some(u)) => {
                        format!("{} {cur} a unit from {} units", u.0, t.min_quantity)
                    }
                    (None, None) => format!("nothing from {} units", t.min_quantity),
                })
                .collect();
            format!("volume pricing per line of {target}: {}", steps.join("; "))
        }
        RewardSpec::ShippingOff {
            percent,
            amount,
            methods,
            countries,
            apply,
        } => {
            let what = match (percent, amount) {
                (_, Some(a)) => format!("{} {cur} off shipping", a.0),
                (Some(p), None) if p.0 < rust_decimal::Decimal::ONE_HUNDRED => {
                    format!("{}% off shipping", p.0)
                }
                _ => "free shipping".to_string(),
            };
            let mut s = what;
            if !methods.is_empty() {
                s.push_str(&format!(" by {}", methods.join(" or ")));
            }
            if !countries.is_empty() {
                s.push_str(&format!(" to {}", countries.join(", ")));
            }
            s.push_str(match apply {
                ShipmentApply::Each => "",
                ShipmentApply::Across => ", across the shipments",
                ShipmentApply::Cheapest => ", on the cheapest shipment",
                ShipmentApply::MostExpensive => ", on the dearest shipment",
            });
            s
        }
    }
}

/// The order units are taken in, in words: "cheapest first", "in cart order"…
fn pick_words(pick: UnitPick) -> &'static str {
    match pick {
        UnitPick::Cheapest => "cheapest first",
        UnitPick::MostExpensive => "most expensive first",
        UnitPick::CartOrder => "in cart order",
        UnitPick::CheapestLine => "smallest line first",
    }
}

/// The unit quota in words: "on at most 2 units of each line and 3 units in all, cheapest first".
fn units(u: &DiscountedUnitsSpec) -> String {
    let plural = |n: u64| if n == 1 { "unit" } else { "units" };
    let mut parts = Vec::new();
    if let Some(n) = u.per_line {
        parts.push(format!("{n} {} of each line", plural(n)));
    }
    if let Some(n) = u.per_order {
        parts.push(format!("{n} {} in all, {}", plural(n), pick_words(u.pick)));
    }
    format!("on at most {}", parts.join(" and "))
}

/// Plain-words lines describing one promotion.
/// An instant as a person of the shop reads it: in the shop's time zone with its abbreviation,
/// and the UTC instant the terms hold (`2027-03-14 03:30 EDT (2027-03-14T07:30:00Z)`). Without a
/// zone, or one the database does not know, or UTC: the instant alone.
fn instant_words(
    t: promoseal_evaluator::time::Instant,
    zone: Option<&jiff::tz::TimeZone>,
) -> String {
    let local = zone.filter(|z| z.iana_name() != Some("UTC")).and_then(|z| {
        let zoned = jiff::Timestamp::from_second(t.seconds())
            .ok()?
            .to_zoned(z.clone());
        Some(zoned.strftime("%Y-%m-%d %H:%M %Z").to_string())
    });
    match local {
        Some(local) => format!("{local} ({t})"),
        None => t.to_string(),
    }
}

/// The promotion in plain words, line by line; times in `zone` (an IANA name: the shop's) as
/// well as in UTC.
pub fn promotion(p: &PromotionSpec, currency: &str, zone: Option<&str>) -> Vec<String> {
    let zone = zone.and_then(|z| jiff::tz::TimeZone::get(z).ok());
    let mut out = vec![format!("{} — \"{}\"", p.id, p.name)];
    out.push(format!(
        "gives: {}",
        reward(&p.reward, currency, &items(&p.items))
    ));
    for b in &p.loyalty_bonus {
        out.push(format!("plus {}% for {} customers", b.percent.0, b.tier));
    }
    if let Some(u) = &p.discounted_units {
        out.push(units(u));
    }
    if let Some(m) = p.max_discount {
        out.push(format!("capped at {} {currency} per order", m.0));
    }
    let c = &p.conditions;
    let mut when = Vec::new();
    if let Some(m) = c.min_subtotal {
        when.push(format!("spend at least {} {currency}", m.0));
    }
    if let Some(m) = c.max_subtotal {
        when.push(format!("spend at most {} {currency}", m.0));
    }
    if let Some(m) = c.min_quantity {
        when.push(format!("buy at least {m} units"));
    }
    list("customer tier", &c.customer_tiers, &mut when);
    list("customer segment", &c.customer_segments, &mut when);
    match c.first_order {
        Some(true) => when.push("first order only".into()),
        Some(false) => when.push("returning customers only".into()),
        None => {}
    }
    list("region", &c.regions, &mut when);
    list("channel", &c.channels, &mut when);
    if !when.is_empty() {
        out.push(format!("when: {}", when.join("; ")));
    }
    match (&p.code_set, p.locked) {
        (Some(set), _) => out.push(format!("needs a code from set `{set}`")),
        (None, true) => out.push("needs a code (locked here: unlocked by a code grant)".into()),
        (None, false) => out.push("automatic (no code)".into()),
    }
    if p.private {
        out.push("private: left out of the storefront bundle".into());
    }
    let from = p
        .starts_at
        .map_or("now".to_string(), |t| instant_words(t, zone.as_ref()));
    let to = p.ends_at.map_or("no end date".to_string(), |t| {
        instant_words(t, zone.as_ref())
    });
    out.push(format!("runs: from {from} until {to}"));
    if let Some(iv) = &p.intervals {
        out.push(format!("only during {} listed time windows", iv.len()));
    }
    let l = &p.limits;
    let mut limits = Vec::new();
    if let Some(n) = l.total_uses {
        limits.push(format!("{n} uses in all"));
    }
    if let Some(n) = l.per_customer {
        limits.push(format!("{n} per customer"));
    }
    if let Some(n) = l.per_day {
        limits.push(format!("{n} per day"));
    }
    if let Some(b) = l.budget {
        limits.push(format!("budget {} {currency}", b.0));
    }
    if l.single_use_codes {
        limits.push("each code once".into());
    }
    out.push(if limits.is_empty() {
        "limits: none (no budget)".into()
    } else {
        format!("limits: {}", limits.join(", "))
    });
    let s = &p.stacking;
    if s.exclusive {
        out.push("stacking: exclusive, never combined".into());
    } else if !s.combines_with.is_empty() {
        let classes: Vec<String> = s
            .combines_with
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect();
        out.push(format!(
            "stacking: combines with {} discounts",
            classes.join(", ")
        ));
    }
    let e = Exposure::of(p);
    let mut exposure = Vec::new();
    if let Some(v) = e.max_percent {
        exposure.push(format!("up to {v}% off"));
    }
    if let Some(v) = e.max_amount {
        exposure.push(format!("up to {v} {currency} off"));
    }
    if !exposure.is_empty() {
        out.push(format!("exposure: {}", exposure.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promotion_in_plain_words() {
        let p: PromotionSpec = serde_json::from_str(
            r#"{"id": "gold-tees", "name": "Gold tees", "startsAt": "2026-11-01T00:00:00Z",
                "items": {"categories": ["tees"], "excludeOnSale": true},
                "conditions": {"minSubtotal": "40", "customerTiers": ["gold"], "firstOrder": false},
                "reward": {"type": "buyXGetY", "buyQuantity": 2, "getQuantity": 1, "percent": "50",
                           "maxApplications": 2},
                "maxDiscount": "30", "private": true,
                "stacking": {"exclusive": true},
                "limits": {"perCustomer": 1, "perDay": 100, "budget": "900.00"}}"#,
        )
        .unwrap();
        assert_eq!(
            promotion(&p, "EUR", None),
            [
                "gold-tees — \"Gold tees\"",
                "gives: buy 2 of items in categories tees, except items on sale, get 1 of items \
                 in categories tees, except items on sale at 50% off, at most 2 times",
                "capped at 30 EUR per order",
                "when: spend at least 40 EUR; customer tier gold; returning customers only",
                "automatic (no code)",
                "private: left out of the storefront bundle",
                "runs: from 2026-11-01T00:00:00Z until no end date",
                "limits: 1 per customer, 100 per day, budget 900.00 EUR",
                "stacking: exclusive, never combined",
                "exposure: up to 50% off",
            ]
        );
        // In the shop's time zone, with the instant the terms hold; UTC and unknown zones as
        // before.
        let mut p = p;
        p.ends_at =
            Some(promoseal_evaluator::time::Instant::parse("2027-03-14T07:30:00Z").unwrap());
        let runs = |zone| {
            promotion(&p, "EUR", zone)
                .into_iter()
                .find(|l| l.starts_with("runs:"))
                .unwrap()
        };
        assert_eq!(
            runs(Some("America/New_York")),
            "runs: from 2026-10-31 20:00 EDT (2026-11-01T00:00:00Z) until 2027-03-14 03:30 EDT \
             (2027-03-14T07:30:00Z)"
        );
        for zone in [None, Some("UTC"), Some("Mars/Olympus")] {
            assert_eq!(
                runs(zone),
                "runs: from 2026-11-01T00:00:00Z until 2027-03-14T07:30:00Z"
            );
        }
    }

    #[test]
    fn a_unit_quota_in_plain_words() {
        let p: PromotionSpec = serde_json::from_str(
            r#"{"id": "cheapest", "name": "Cheapest free", "reward": {"type": "percentOff",
                "percent": "100"}, "discountedUnits": {"perLine": 2, "perOrder": 1}}"#,
        )
        .unwrap();
        let words = promotion(&p, "EUR", None);
        assert_eq!(
            words.get(1).map(String::as_str),
            Some("gives: 100% off every item")
        );
        assert_eq!(
            words.get(2).map(String::as_str),
            Some("on at most 2 units of each line and 1 unit in all, cheapest first")
        );
    }

    #[test]
    fn a_buy_x_get_y_order_in_the_quota_words() {
        let p: PromotionSpec = serde_json::from_str(
            r#"{"id": "b2g1", "name": "Buy 2 get 1", "reward": {"type": "buyXGetY",
                "buyQuantity": 2, "getQuantity": 1, "pick": "mostExpensive"}}"#,
        )
        .unwrap();
        let words = promotion(&p, "EUR", None);
        let gives = words.get(1).map(String::as_str).unwrap_or_default();
        assert!(
            gives.ends_with(", units given most expensive first"),
            "{gives}"
        );
    }
}
