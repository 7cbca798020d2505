//! Properties of the evaluator on random bundles and carts, and the slow, obvious reference for
//! the stacking choice (every allowed subset priced) compared with the branch-and-bound search.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::compile::{compile_input, Bundle};
use crate::engine::{assess, Candidate, Ctx};
use crate::model::EvaluationInput;
use crate::select::{allowed, better, maximal, price, Score};
use crate::{evaluate, Evaluation};

const CATEGORIES: [&str; 3] = ["c0", "c1", "c2"];
const SKUS: [&str; 4] = ["s0", "s1", "s2", "s3"];
const MODES: [&str; 5] = ["halfUp", "halfEven", "halfDown", "down", "up"];

fn money(minor: u32, exponent: u32) -> String {
    crate::money::format_minor(i64::from(minor), exponent)
}

#[derive(Clone, Debug)]
struct Scenario {
    bundle: Value,
    input: Value,
    exponent: u32,
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn items() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        pick(CATEGORIES.to_vec()).prop_map(|c| json!({ "categories": [c] })),
        pick(SKUS.to_vec()).prop_map(|s| json!({ "skus": [s] })),
        (pick(CATEGORIES.to_vec()), any::<bool>())
            .prop_map(|(c, sale)| json!({ "categories": [c], "excludeOnSale": sale })),
    ]
}

fn reward(exp: u32) -> impl Strategy<Value = Value> {
    let pct = (1_u32..=100).prop_map(|p| p.to_string());
    prop_oneof![
        (pct.clone(), any::<bool>(), proptest::bool::weighted(0.3)).prop_map(|(p, order, ship)| {
            let mut r = json!({ "type": "percentOff", "percent": p, "on": if order { "order" } else { "lines" } });
            if order && ship {
                r["includeShipping"] = json!(true);
            }
            r
        }),
        (1_u32..3000, pick(vec!["unit", "line", "order"]), proptest::bool::weighted(0.3))
            .prop_map(move |(a, per, ship)| {
                let mut r = json!({ "type": "amountOff", "amount": money(a, exp), "per": per });
                if per == "order" && ship {
                    r["includeShipping"] = json!(true);
                }
                r
            }),
        (1_u32..3000).prop_map(move |p| json!({ "type": "fixedPrice", "price": money(p, exp) })),
        (
            (1_u32..3, 1_u32..3, pct.clone(), proptest::option::of(1_u32..3)),
            (0_u32..3, 1_u32..3000, any::<bool>(), pick(vec!["cheapest", "mostExpensive", "cheapestLine", "cartOrder"])),
        )
            .prop_map(move |((b, g, p, m), (kind, a, partial, unit_pick))| {
                let mut r = json!({ "type": "buyXGetY", "buyQuantity": b, "getQuantity": g, "pick": unit_pick });
                match kind {
                    0 => r["percent"] = json!(p),
                    1 => r["amount"] = json!(money(a, exp)),
                    _ => r["price"] = json!(money(a, exp)),
                }
                if let Some(m) = m {
                    r["maxApplications"] = json!(m);
                }
                if partial {
                    r["partialGroups"] = json!(true);
                }
                r
            }),
        (1_u64..4, 1_u32..40, 1_u32..40).prop_map(|(q, p1, p2)| json!({
            "type": "tiered", "basis": "quantity",
            "tiers": [ { "minQuantity": q, "percent": p1.to_string() }, { "minQuantity": q + 3, "percent": (p1 + p2).min(100).to_string() } ]
        })),
        (100_u32..5000, 1_u32..2000).prop_map(move |(s, a)| json!({
            "type": "tiered", "basis": "spend", "tiers": [ { "minSpend": money(s, exp), "amount": money(a, exp) } ]
        })),
        (2_u64..4, 1_u32..50).prop_map(|(q, p)| json!({
            "type": "volume", "tiers": [ { "minQuantity": q, "percent": p.to_string() } ]
        })),
        (pct, any::<bool>(), pick(vec!["each", "across", "cheapest", "mostExpensive"]), proptest::option::of(1_u32..2000))
            .prop_map(move |(p, express, apply, amount)| {
                let mut r = json!({ "type": "shippingOff", "apply": apply });
                match amount {
                    Some(a) => r["amount"] = json!(money(a, exp)),
                    None => r["percent"] = json!(p),
                }
                if express {
                    r["methods"] = json!(["express"]);
                }
                r
            }),
    ]
}

fn promotion(i: usize, exp: u32) -> impl Strategy<Value = Value> {
    (
        items(),
        reward(exp),
        0_i32..3,
        proptest::option::of(0_u32..6000),
        proptest::option::of(1_u64..6),
        proptest::option::of(1_u32..3000),
        (
            proptest::bool::weighted(0.1),
            proptest::sample::subsequence(vec!["product", "order", "shipping"], 0..=3),
            proptest::option::weighted(0.3, pick(vec!["g0", "g1"])),
        ),
        proptest::option::weighted(0.3, 1_u32..20),
        (
            proptest::option::weighted(0.3, 1_u64..3),
            proptest::option::weighted(0.3, 1_u64..5),
            pick(vec!["cheapest", "mostExpensive", "cartOrder"]),
        ),
    )
        .prop_map(
            move |(
                items,
                reward,
                priority,
                min_sub,
                min_qty,
                cap,
                (exclusive, combines, group),
                bonus,
                (per_line, per_order, unit_pick),
            )| {
                let mut conditions = json!({});
                if let Some(m) = min_sub {
                    conditions["minSubtotal"] = json!(money(m, exp));
                }
                if let Some(q) = min_qty {
                    conditions["minQuantity"] = json!(q);
                }
                let mut p = json!({
                    "id": format!("p{i}"), "name": format!("promotion {i}"), "priority": priority,
                    "items": items, "conditions": conditions, "reward": reward,
                    "stacking": { "exclusive": exclusive, "combinesWith": combines },
                });
                if let Some(g) = group {
                    p["stacking"]["group"] = json!(g);
                }
                if let Some(c) = cap {
                    p["maxDiscount"] = json!(money(c, exp));
                }
                if let Some(b) = bonus {
                    p["loyaltyBonus"] = json!([{ "tier": "gold", "percent": b.to_string() }]);
                }
                let r = &p["reward"];
                let line_by_line = (r["type"] == "percentOff" && r["on"] == "lines")
                    || r["per"] == "unit"
                    || r["type"] == "fixedPrice"
                    || r["type"] == "volume"
                    || (r["type"] == "tiered" && r["basis"] == "quantity");
                if line_by_line && (per_line.is_some() || per_order.is_some()) {
                    let mut units = json!({ "pick": unit_pick });
                    if let Some(n) = per_line {
                        units["perLine"] = json!(n);
                    }
                    if let Some(n) = per_order {
                        units["perOrder"] = json!(n);
                    }
                    p["discountedUnits"] = units;
                }
                p
            },
        )
}

fn line(i: usize, exp: u32) -> impl Strategy<Value = Value> {
    (
        pick(SKUS.to_vec()),
        pick(CATEGORIES.to_vec()),
        1_u32..5000,
        1_u64..5,
        pick(vec!["0", "5", "8.875", "20"]),
        proptest::bool::weighted(0.2),
        proptest::option::weighted(0.2, 0_u64..6),
        proptest::option::weighted(0.15, 1_u32..100),
    )
        .prop_map(move |(sku, cat, price, qty, tax, sale, stock, floor_percent)| {
            let mut l = json!({
                "id": format!("l{i}"), "sku": sku, "categories": [cat], "unitPrice": money(price, exp),
                "quantity": qty, "taxRate": tax, "onSale": sale,
            });
            if let Some(s) = stock {
                l["stockAvailable"] = json!(s);
            }
            if let Some(f) = floor_percent {
                l["floorUnitPrice"] = json!(money(price * f / 100, exp));
            }
            l
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    scenario_of(1_usize..7, 0_usize..1)
}

/// Hundreds of promotions that combine with everything (Medusa's semantics), beside up to
/// `contested` promotions with random stacking rules: the search must cost what the conflicts
/// cost, and still find the best combination.
fn combinable_scenario() -> impl Strategy<Value = Scenario> {
    (scenario_of(0_usize..7, 100_usize..300), any::<bool>()).prop_map(|(mut s, local)| {
        if local {
            line_local(&mut s);
        }
        s
    })
}

/// Makes every promotion's parts stay on its own lines (no caps, floors, order amounts or
/// buy-X-get-Y), so the search may set aside the free ones that share no line with a contested
/// one.
fn line_local(s: &mut Scenario) {
    if let Some(pricing) = s.bundle["pricing"].as_object_mut() {
        pricing.remove("lineFloor");
    }
    for p in s.bundle["promotions"].as_array_mut().into_iter().flatten() {
        if let Some(p) = p.as_object_mut() {
            p.remove("maxDiscount");
        }
        let r = &p["reward"];
        let moving = r["on"] == "order"
            || r["per"] == "order"
            || r["type"] == "buyXGetY"
            || (r["type"] == "tiered" && r["basis"] == "spend");
        if moving {
            p["reward"] = json!({ "type": "percentOff", "percent": "15" });
        }
    }
}

/// A promotion that combines with every other.
fn combinable(i: usize, exp: u32) -> impl Strategy<Value = Value> {
    promotion(i, exp).prop_map(|mut p| {
        p["stacking"] = json!({ "combinesWith": ["product", "order", "shipping"] });
        p
    })
}

fn scenario_of(
    contested: std::ops::Range<usize>,
    combining: std::ops::Range<usize>,
) -> impl Strategy<Value = Scenario> {
    (pick(vec![("USD", 2_u32), ("JPY", 0), ("KWD", 3)]), contested, combining, 1_usize..8)
        .prop_flat_map(|((currency, exp), n_promos, n_free, n_lines)| {
            let promos: Vec<_> = (0..n_promos)
                .map(|i| promotion(i, exp).boxed())
                .chain((n_promos..n_promos + n_free).map(|i| combinable(i, exp).boxed()))
                .collect();
            let lines: Vec<_> = (0..n_lines).map(|i| line(i, exp)).collect();
            (
                Just((currency, exp)),
                promos,
                lines,
                (
                    pick(vec!["exclusive", "inclusive"]),
                    pick(vec!["halfUp", "halfEven", "halfDown", "down", "up"]),
                    pick(vec!["line", "unit"]),
                    pick(vec!["largestRemainder", "remainderToFirst", "remainderToLast", "carryForward", "roundedToFirst", "roundedToLast"]),
                    pick(vec!["sequential", "original"]),
                    pick(vec!["gross", "net"]),
                    proptest::option::weighted(0.2, 1_u32..60),
                    proptest::bool::weighted(0.15),
                ),
                (
                    proptest::collection::vec((pick(vec!["standard", "express"]), 0_u32..2000, pick(vec!["0", "10", "20"])), 0..4),
                    any::<bool>(),
                ),
                (
                    proptest::option::weighted(0.3, pick(MODES.to_vec())),
                    proptest::option::weighted(0.3, pick(MODES.to_vec())),
                    proptest::option::weighted(0.3, pick(MODES.to_vec())),
                    pick(vec!["discount", "price"]),
                    pick(vec!["priceBasis", "net", "gross"]),
                    pick(vec!["share", "slice", "lesser"]),
                    proptest::option::weighted(0.2, 1_u32..90),
                    pick(vec!["room", "original", "none"]),
                    (
                        proptest::option::weighted(0.3, pick(MODES.to_vec())),
                        pick(vec!["tax", "converted"]),
                        proptest::option::weighted(0.3, pick(vec![
                            "shopify", "commercetools", "medusa", "vendure", "saleor", "woocommerce", "magento", "sylius",
                        ])),
                        proptest::option::weighted(0.3, pick(vec!["first", "last"])),
                        pick(vec!["shared", "once", "oncePerRole"]),
                    ),
                ),
            )
        })
        .prop_map(|((currency, exp), promos, lines, policy, (shipping, gold), by_operation)| {
            let (tax, rounding, point, allocation, compounding, basis, floor, best_only) = policy;
            let (discount_mode, tax_mode, conversion_mode, target, weights, capped, product_floor, excess, more) =
                by_operation;
            let (allocation_mode, tax_target, preset, unit_allocations, buy_get_units) = more;
            let mut pricing = json!({
                "taxMode": tax, "rounding": rounding, "roundingPoint": point, "allocation": allocation,
                "compounding": compounding, "fixedAmountBasis": basis,
                "stacking": if best_only { "bestOnly" } else { "bestCombination" },
            });
            if let Some(f) = floor {
                pricing["lineFloor"] = json!({ "percentOfOriginal": f.to_string() });
            }
            for (field, mode) in [
                ("discountRounding", discount_mode),
                ("taxRounding", tax_mode),
                ("conversionRounding", conversion_mode),
            ] {
                if let Some(m) = mode {
                    pricing[field] = json!(m);
                }
            }
            pricing["roundingTarget"] = json!(target);
            pricing["allocationWeights"] = json!(weights);
            pricing["cappedLineBase"] = json!(capped);
            pricing["floorExcess"] = json!(excess);
            pricing["taxRoundingTarget"] = json!(tax_target);
            pricing["buyXGetYUnits"] = json!(buy_get_units);
            if let Some(m) = allocation_mode {
                pricing["allocationRounding"] = json!(m);
            }
            // A preset under the knobs: the ones given here win, the rest come from it.
            if let Some(p) = preset {
                pricing["preset"] = json!(p);
            }
            if let Some(u) = unit_allocations {
                pricing["unitAllocations"] = json!(u);
            }
            if let Some(f) = product_floor {
                pricing["productFloors"] =
                    json!([{ "items": { "categories": ["c0"] }, "percentOfOriginal": f.to_string() }]);
            }
            let bundle = json!({
                "format": 1, "bundleId": "prop", "audience": "edge", "version": 1,
                "issuedAt": "2026-01-01T00:00:00Z", "expiresAt": "2027-01-01T00:00:00Z",
                "currency": currency, "pricing": pricing, "promotions": promos,
            });
            let mut context = json!({ "now": "2026-06-01T12:00:00Z" });
            // No shipping, one (`shipping`), or several (`shipments`).
            match shipping.as_slice() {
                [] => {}
                [(method, amount, _)] => {
                    context["shipping"] = json!({ "method": method, "amount": money(*amount, exp), "taxRate": "10" });
                }
                several => {
                    context["shipments"] = several
                        .iter()
                        .enumerate()
                        .map(|(k, (method, amount, rate))| json!({
                            "id": format!("s{k}"), "method": method, "amount": money(*amount, exp), "taxRate": rate,
                        }))
                        .collect();
                }
            }
            let input = json!({
                "cart": { "currency": currency, "lines": lines },
                "customer": { "id": "c1", "tier": if gold { "gold" } else { "silver" } },
                "context": context,
            });
            Scenario {
                bundle,
                input,
                exponent: exp,
            }
        })
}

fn compile(s: &Scenario) -> (Bundle, EvaluationInput) {
    let bundle = Bundle::from_json(&serde_json::to_vec(&s.bundle).unwrap()).unwrap();
    let input: EvaluationInput = serde_json::from_value(s.input.clone()).unwrap();
    (bundle, input)
}

fn minor(a: &crate::money::Amount) -> i64 {
    a.minor()
}

fn check_invariants(e: &Evaluation, inclusive: bool) -> Result<(), TestCaseError> {
    let mut line_discounts = 0;
    let mut line_totals = 0;
    let mut taxes = 0;
    for l in &e.lines {
        let (amount, discount, total) = (minor(&l.amount), minor(&l.discount), minor(&l.total));
        prop_assert!(
            discount >= 0 && discount <= amount,
            "line {} discount {discount} of {amount}",
            l.id
        );
        prop_assert_eq!(total, amount - discount);
        prop_assert!(total >= 0 && minor(&l.tax) >= 0);
        let parts: i64 = l.allocations.iter().map(|a| minor(&a.amount)).sum();
        prop_assert_eq!(
            parts,
            discount,
            "allocations of line {} must sum to its discount",
            l.id
        );
        if !l.units.is_empty() {
            // Unit by unit, the runs cover every unit once and sum to the line's discount.
            let units: u64 = l.units.iter().map(|u| u.quantity).sum();
            let sum: i64 = l
                .units
                .iter()
                .map(|u| minor(&u.discount) * i64::try_from(u.quantity).unwrap())
                .sum();
            prop_assert_eq!(units, l.quantity, "units of line {}", l.id);
            prop_assert_eq!(sum, discount, "unit discounts of line {}", l.id);
            prop_assert!(l
                .units
                .iter()
                .all(|u| minor(&u.discount) >= 0 && u.quantity > 0));
        }
        line_discounts += discount;
        line_totals += total;
        taxes += minor(&l.tax);
    }
    let mut shipping_total = 0;
    let mut shipping_discount = 0;
    for s in &e.shipments {
        prop_assert!(minor(&s.discount) <= minor(&s.amount) && minor(&s.total) >= 0);
        prop_assert_eq!(minor(&s.total), minor(&s.amount) - minor(&s.discount));
        shipping_total += minor(&s.total);
        shipping_discount += minor(&s.discount);
        taxes += minor(&s.tax);
    }
    for a in &e.applied {
        let parts: i64 = a.shipments.iter().map(|s| minor(&s.amount)).sum();
        if !a.shipments.is_empty() {
            prop_assert_eq!(
                Some(parts),
                a.shipping.as_ref().map(minor),
                "shipment parts of {}",
                a.promotion_id
            );
        }
    }
    if let Some(s) = &e.shipping {
        prop_assert!(minor(&s.discount) <= minor(&s.amount) && minor(&s.total) >= 0);
        shipping_total = minor(&s.total);
        shipping_discount = minor(&s.discount);
        taxes += minor(&s.tax);
    }
    let mut applied_sum = 0;
    for a in &e.applied {
        let parts: i64 = a.lines.iter().map(|l| minor(&l.amount)).sum::<i64>()
            + a.shipping.as_ref().map_or(0, minor);
        prop_assert_eq!(
            parts,
            minor(&a.amount),
            "parts of {} must sum to its amount",
            a.promotion_id
        );
        prop_assert!(minor(&a.amount) > 0);
        applied_sum += minor(&a.amount);
    }
    prop_assert_eq!(applied_sum, minor(&e.discount_total));
    prop_assert_eq!(line_discounts + shipping_discount, minor(&e.discount_total));
    prop_assert_eq!(minor(&e.tax_total), taxes);
    let expected_total = if inclusive {
        line_totals + shipping_total
    } else {
        line_totals + shipping_total + taxes
    };
    prop_assert_eq!(minor(&e.total), expected_total);
    prop_assert!(minor(&e.total) >= 0);
    Ok(())
}

/// Sorts what depends on cart order (per-promotion line lists) so answers can be compared.
fn canonical(e: &Evaluation) -> Value {
    let mut v = serde_json::to_value(e).unwrap();
    let lines = v["lines"].as_array_mut().unwrap();
    lines.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    for a in v["applied"].as_array_mut().unwrap() {
        if let Some(ls) = a.get_mut("lines").and_then(Value::as_array_mut) {
            ls.sort_by(|x, y| x["lineId"].as_str().cmp(&y["lineId"].as_str()));
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn totals_are_consistent_and_never_negative(s in scenario()) {
        let (bundle, input) = compile(&s);
        let e = evaluate(&bundle, &input).unwrap();
        check_invariants(&e, s.bundle["pricing"]["taxMode"] == "inclusive")?;
        // Determinism: the same call gives the same bytes.
        let again = evaluate(&bundle, &input).unwrap();
        prop_assert_eq!(crate::to_json(&e).unwrap(), crate::to_json(&again).unwrap());
    }

    #[test]
    fn line_order_does_not_change_the_answer(mut s in scenario(), seed in any::<u64>()) {
        // The other allocation methods, and units picked in cart order, are defined by it.
        s.bundle["pricing"]["allocation"] = json!("largestRemainder");
        for p in s.bundle["promotions"].as_array_mut().into_iter().flatten() {
            if p["discountedUnits"]["pick"] == "cartOrder" {
                p["discountedUnits"]["pick"] = json!("cheapest");
            }
            if p["reward"]["pick"] == "cartOrder" {
                p["reward"]["pick"] = json!("cheapest");
            }
        }
        let (bundle, input) = compile(&s);
        let e = evaluate(&bundle, &input).unwrap();
        let mut shuffled = input.clone();
        let n = shuffled.cart.lines.len();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..n).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.cart.lines.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let f = evaluate(&bundle, &shuffled).unwrap();
        prop_assert_eq!(canonical(&e), canonical(&f));
    }

    #[test]
    fn branch_and_bound_finds_the_reference_best(s in scenario()) {
        let (bundle, input) = compile(&s);
        let compiled = compile_input(&input, bundle.currency).unwrap();
        let ctx = Ctx::new(&bundle, &compiled).unwrap();
        let cands = assess(&ctx).unwrap().eligible;
        prop_assume!(cands.len() <= 10);
        if std::env::var_os("PROPTEST_STATS").is_some() {
            eprintln!("candidates: {}", cands.len());
        }
        // The reference: price every allowed (and, unless best-only, maximal) subset, keep the
        // best by the documented rule.
        let best_only = s.bundle["pricing"]["stacking"] == "bestOnly";
        let n = cands.len();
        let all = (0_u32..(1 << n)).map(|mask| (0..n).filter(|k| mask & (1 << k) != 0).collect());
        let best = reference(&ctx, &cands, best_only, all);
        let chosen = crate::select::best(&ctx, &cands).unwrap();
        let chosen_score = price(&ctx, &cands, &chosen).unwrap();
        prop_assert_eq!(&chosen, &best.set, "search chose {:?} ({} payable), reference {:?} ({} payable)",
            chosen, chosen_score.payable, best.set, best.payable);
    }

    #[test]
    fn discounts_never_exceed_the_targeted_amount(s in scenario()) {
        let (bundle, input) = compile(&s);
        let e = evaluate(&bundle, &input).unwrap();
        // Each promotion's line parts stay within the lines' amounts (and so within its targets).
        for a in &e.applied {
            for part in &a.lines {
                let line = e.lines.iter().find(|l| l.id == part.line_id).unwrap();
                prop_assert!(minor(&part.amount) <= minor(&line.amount));
            }
        }
    }

    #[test]
    fn unit_quotas_are_never_exceeded(s in scenario()) {
        let (bundle, input) = compile(&s);
        let e = evaluate(&bundle, &input).unwrap();
        let promos = s.bundle["promotions"].as_array().unwrap();
        for a in &e.applied {
            let spec = promos.iter().find(|p| p["id"] == *a.promotion_id).unwrap();
            let units = &spec["discountedUnits"];
            if units.is_null() {
                continue;
            }
            let (per_line, per_order) = (units["perLine"].as_u64(), units["perOrder"].as_u64());
            // Each line's part is within the price of the units it may discount there, and a
            // per-order quota of n units touches at most n lines.
            for part in &a.lines {
                let line = e.lines.iter().find(|l| l.id == part.line_id).unwrap();
                let q = line.quantity;
                let n = q.min(per_line.unwrap_or(q)).min(per_order.unwrap_or(q));
                let most = minor(&line.unit_price) * i64::try_from(n).unwrap();
                prop_assert!(minor(&part.amount) <= most,
                    "{} takes {} off line {} ({} units of {})", a.promotion_id, minor(&part.amount), line.id, n, q);
            }
            if let Some(n) = per_order {
                prop_assert!(a.lines.len() as u64 <= n, "{} touches {} lines with a quota of {}", a.promotion_id, a.lines.len(), n);
            }
        }
    }

    #[test]
    fn no_line_goes_below_its_floor(s in scenario()) {
        let (bundle, input) = compile(&s);
        let e = evaluate(&bundle, &input).unwrap();
        let pricing = &s.bundle["pricing"];
        let percent = |v: &Value| v.as_str().map_or(0, |f| f.parse::<i128>().unwrap());
        let lines = s.input["cart"]["lines"].as_array().unwrap();
        for (l, spec) in e.lines.iter().zip(lines) {
            // The first product floor targeting the line, else the bundle's; the line's own
            // floor when higher. Percentage floors are rounded with the discount mode; `up`
            // gives the highest, so the total is at least the floor rounded down.
            let rule = &pricing["productFloors"][0];
            let by_rule = if !rule.is_null() && spec["categories"][0] == "c0" {
                percent(&rule["percentOfOriginal"])
            } else {
                percent(&pricing["lineFloor"]["percentOfOriginal"])
            };
            let amount = i128::from(minor(&l.amount));
            let own = spec["floorUnitPrice"].as_str().map_or(0, |f| {
                let minor: i128 = f.replace('.', "").parse().unwrap();
                minor * i128::from(l.quantity)
            });
            let floor = (amount * by_rule / 100).max(own).min(amount);
            prop_assert!(i128::from(minor(&l.total)) >= floor, "line {} at {} below its floor {}", l.id, minor(&l.total), floor);
        }
    }

    #[test]
    fn unlock_hints_are_exact(s in scenario()) {
        let (bundle, input) = compile(&s);
        let e = evaluate(&bundle, &input).unwrap();
        for u in &e.unlocks {
            let promo = s.bundle["promotions"].as_array().unwrap().iter()
                .find(|p| p["id"] == *u.promotion_id).unwrap();
            let spend = u.missing_spend.as_ref().map_or(0, minor);
            let qty = u.missing_quantity.unwrap_or(0).max(1);
            // A new line the promotion targets, carrying exactly the missing spend (at least one
            // minor unit per unit so quantity counts too).
            let per_unit = ((spend + qty as i64 - 1) / qty as i64).max(1);
            let exact = add_targeted(&input, promo, per_unit, qty, s.exponent);
            prop_assert!(!blocked_by_threshold(&bundle, &exact, &u.promotion_id),
                "adding {qty} x {per_unit} did not unlock {}", u.promotion_id);
            if u.missing_quantity.unwrap_or(0) > 1 {
                let fewer = add_targeted(&input, promo, per_unit * 2, qty - 1, s.exponent);
                prop_assert!(blocked_by_threshold(&bundle, &fewer, &u.promotion_id));
            }
            if spend > 0 && qty == 1 {
                let less = add_targeted(&input, promo, spend - 1, 1, s.exponent);
                prop_assert!(spend == 1 || blocked_by_threshold(&bundle, &less, &u.promotion_id),
                    "one minor unit less still unlocked {}", u.promotion_id);
            }
        }
    }
}

proptest! {
    // Each case prices hundreds of promotions up to 2^10 times: fewer cases.
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn hundreds_of_combinable_promotions_cost_only_their_conflicts(s in combinable_scenario()) {
        let (bundle, input) = compile(&s);
        let compiled = compile_input(&input, bundle.currency).unwrap();
        let ctx = Ctx::new(&bundle, &compiled).unwrap();
        let cands = assess(&ctx).unwrap().eligible;
        let n = cands.len();
        // A candidate that conflicts with none is in every maximal combination, so the
        // reference enumerates only the subsets of the contested ones.
        let contested: Vec<usize> = (0..n)
            .filter(|&k| (0..n).any(|j| j != k && !cands[k].compatible(&cands[j])))
            .collect();
        prop_assume!(contested.len() <= 10);
        let best_only = s.bundle["pricing"]["stacking"] == "bestOnly";
        let best = if best_only {
            reference(&ctx, &cands, true, (0..n).map(|k| vec![k]))
        } else {
            let subsets = (0_u32..(1 << contested.len())).map(|mask| {
                (0..n)
                    .filter(|k| match contested.iter().position(|c| c == k) {
                        Some(bit) => mask & (1 << bit) != 0,
                        None => true,
                    })
                    .collect()
            });
            reference(&ctx, &cands, false, subsets)
        };
        let chosen = crate::select::best(&ctx, &cands).unwrap();
        prop_assert_eq!(&chosen, &best.set);
        let e = evaluate(&bundle, &input).unwrap();
        check_invariants(&e, s.bundle["pricing"]["taxMode"] == "inclusive")?;
    }
}

/// The reference answer: the best of `sets` that are admissible (single promotions under
/// `bestOnly`, else allowed and maximal), by the documented rule; the empty combination when
/// none is.
fn reference(
    ctx: &Ctx,
    cands: &[Candidate],
    best_only: bool,
    sets: impl Iterator<Item = Vec<usize>>,
) -> Score {
    let orders = |k: usize| cands[k].order;
    let mut best: Option<Score> = None;
    for set in sets {
        let admissible = if best_only {
            set.len() == 1
        } else {
            allowed(cands, &set) && maximal(cands, &set)
        };
        if !admissible {
            continue;
        }
        let score = price(ctx, cands, &set).unwrap();
        if best.as_ref().is_none_or(|b| better(&score, b, &orders)) {
            best = Some(score);
        }
    }
    best.unwrap_or(Score {
        payable: ctx.baseline_payable,
        discount: 0,
        set: vec![],
    })
}

/// The input with one more line that `promo` targets: `qty` units at `unit_price` minor units.
fn add_targeted(
    input: &EvaluationInput,
    promo: &Value,
    unit_price: i64,
    qty: u64,
    exp: u32,
) -> EvaluationInput {
    let items = &promo["items"];
    let sku = items["skus"]
        .get(0)
        .and_then(Value::as_str)
        .unwrap_or("s-new");
    let category = items["categories"]
        .get(0)
        .and_then(Value::as_str)
        .unwrap_or("c-new");
    let mut out = input.clone();
    if unit_price <= 0 {
        return out;
    }
    let line = json!({
        "id": "zz-added", "sku": sku, "categories": [category],
        "unitPrice": crate::money::format_minor(unit_price, exp), "quantity": qty,
    });
    out.cart.lines.push(serde_json::from_value(line).unwrap());
    out
}

fn blocked_by_threshold(bundle: &Bundle, input: &EvaluationInput, id: &str) -> bool {
    let e = evaluate(bundle, input).unwrap();
    let blocked = matches!(
        e.not_applied.reason(id),
        Some(crate::Reason::BelowMinimumSubtotal(_) | crate::Reason::BelowMinimumQuantity { .. })
    );
    blocked
}
