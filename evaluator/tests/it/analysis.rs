//! The analysis API answers as the engine behaves: what a promotion can discount, what it
//! combines with, when it is live, and the most it can cost.

use promoseal_evaluator::analysis::{
    self, Combination, Conflict, Dimension, Item, PercentBasis, RewardKind, SharedTarget, Span,
};
use promoseal_evaluator::model::{DiscountClass, EvaluationInput, LineSpec};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::{evaluate, Bundle};
use serde_json::{json, Value};

fn bundle_with(pricing: Value, promotions: Value) -> Bundle {
    let payload = json!({
        "format": 1, "bundleId": "analysis", "audience": "edge", "version": 1,
        "issuedAt": "2026-01-01T00:00:00Z", "expiresAt": "2027-01-01T00:00:00Z", "currency": "USD",
        "pricing": pricing,
        "codeSets": [{"id": "c", "codes": ["CODE"]}],
        "promotions": promotions,
    });
    Bundle::from_json(payload.to_string().as_bytes()).unwrap()
}

fn bundle(promotions: Value) -> Bundle {
    bundle_with(json!({}), promotions)
}

fn input(lines: Value, shipping: Option<Value>) -> EvaluationInput {
    let mut context = json!({"now": "2026-06-01T12:00:00Z"});
    if let Some(s) = shipping {
        context["shipping"] = s;
    }
    serde_json::from_value(json!({
        "cart": {"currency": "USD", "lines": lines},
        "context": context,
    }))
    .unwrap()
}

fn instant(s: &str) -> Instant {
    Instant::parse(s).unwrap()
}

#[test]
fn promotions_come_in_application_order_with_what_they_are() {
    let b = bundle(json!([
        {"id": "b", "name": "B", "priority": 1, "reward": {"type": "percentOff", "percent": "10", "on": "order"}},
        {"id": "a", "name": "A", "priority": 1, "reward": {"type": "shippingOff", "amount": "5.00"}},
        {"id": "c", "name": "C", "priority": 9, "items": {"skus": ["S"]},
         "reward": {"type": "buyXGetY", "buyQuantity": 1, "getQuantity": 1}},
        {"id": "d", "name": "D", "reward": {"type": "amountOff", "amount": "2.00", "per": "unit"}},
    ]));
    let seen: Vec<(&str, &str, usize, DiscountClass, RewardKind)> = analysis::promotions(&b)
        .map(|p| (p.id(), p.name(), p.order(), p.class(), p.reward_kind()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("c", "C", 0, DiscountClass::Product, RewardKind::BuyXGetY),
            (
                "a",
                "A",
                1,
                DiscountClass::Shipping,
                RewardKind::ShippingOff
            ),
            ("b", "B", 2, DiscountClass::Order, RewardKind::PercentOff),
            ("d", "D", 3, DiscountClass::Product, RewardKind::AmountOff),
        ]
    );
    assert!(analysis::promotion(&b, "zzz").is_none());
    assert_eq!(analysis::promotion(&b, "d").unwrap().order(), 3);
}

#[test]
fn conditions_and_stacking_read_as_written() {
    let b = bundle(json!([
        {"id": "p", "name": "P", "codeSet": "c", "reward": {"type": "percentOff", "percent": "10"},
         "conditions": {"minSubtotal": "50", "maxSubtotal": "500.5", "minQuantity": 2,
                        "customerTiers": ["gold", "bronze", "gold"], "customerSegments": ["z", "a"],
                        "firstOrder": true, "regions": ["US"], "channels": ["web", "app"]},
         "stacking": {"group": "site", "combinesWith": ["shipping", "product"]}},
    ]));
    let p = analysis::promotion(&b, "p").unwrap();
    let c = p.conditions();
    assert_eq!(c.min_subtotal.unwrap().to_string(), "50.00");
    assert_eq!(c.max_subtotal.unwrap().to_string(), "500.50");
    assert_eq!(c.min_quantity, Some(2));
    assert_eq!(c.customer_tiers, vec!["gold", "bronze"]);
    assert_eq!(c.customer_segments, vec!["z", "a"]);
    assert_eq!(c.first_order, Some(true));
    assert_eq!(c.regions, vec!["US"]);
    assert_eq!(c.channels, vec!["web", "app"]);
    assert!(c.code_required);
    let s = p.stacking();
    assert!(!s.exclusive);
    assert_eq!(s.group, Some("site"));
    assert_eq!(
        s.combines_with,
        vec![DiscountClass::Product, DiscountClass::Shipping]
    );
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["minSubtotal"], "50.00");
    assert_eq!(json["customerTiers"], json!(["gold", "bronze"]));
}

fn line(id: &str, sku: &str, extra: Value) -> Value {
    let mut l = json!({"id": id, "sku": sku, "unitPrice": "10.00", "quantity": 2});
    if let (Some(l), Some(extra)) = (l.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            l.insert(k.clone(), v.clone());
        }
    }
    l
}

/// Every line a promotion takes something off is one the API says it can discount, and a
/// percentage off lines takes something off every such line.
#[test]
fn what_it_can_discount_is_what_evaluate_discounts() {
    let promotions = json!([
        {"id": "cat", "name": "cat", "items": {"categories": ["tees", "caps"], "excludeSkus": ["T2"]},
         "reward": {"type": "percentOff", "percent": "10"}},
        {"id": "sale", "name": "sale", "items": {"brands": ["Loop"], "excludeOnSale": true},
         "reward": {"type": "percentOff", "percent": "10"}},
        {"id": "low", "name": "low", "items": {"tags": ["x"], "lowStockAtMost": 5},
         "reward": {"type": "percentOff", "percent": "10"}},
        {"id": "all", "name": "all", "items": {"excludeProducts": ["P9"], "excludeTags": ["y"]},
         "reward": {"type": "percentOff", "percent": "10"}},
        {"id": "bxgy", "name": "bxgy", "items": {"skus": ["T1"]},
         "reward": {"type": "buyXGetY", "buyQuantity": 1, "getQuantity": 1,
                    "getItems": {"categories": ["caps"]}}},
    ]);
    let lines = json!([
        line("1", "T1", json!({"categories": ["tees"], "brand": "Loop"})),
        line(
            "2",
            "T2",
            json!({"categories": ["tees"], "tags": ["x"], "stockAvailable": 3})
        ),
        line(
            "3",
            "C1",
            json!({"categories": ["caps"], "brand": "Loop", "onSale": true})
        ),
        line(
            "4",
            "C2",
            json!({"categories": ["caps"], "tags": ["x"], "stockAvailable": 1})
        ),
        line(
            "5",
            "M1",
            json!({"product": "P9", "tags": ["x"], "stockAvailable": 9})
        ),
        line("6", "M2", json!({"tags": ["y"], "brand": "Loop"})),
    ]);
    let cart = input(lines, None);
    let items: Vec<Item> = cart.cart.lines.iter().map(Item::from).collect();
    for promo in promotions.as_array().unwrap() {
        let b = bundle(json!([promo]));
        let view = analysis::promotions(&b).next().unwrap();
        let e = evaluate(&b, &cart).unwrap();
        let discounted: Vec<&str> = e
            .applied
            .iter()
            .flat_map(|a| a.lines.iter().map(|l| &*l.line_id))
            .collect();
        let can: Vec<&str> = cart
            .cart
            .lines
            .iter()
            .zip(&items)
            .filter(|(_, item)| view.can_discount(item))
            .map(|(l, _)| l.id.as_str())
            .collect();
        for id in &discounted {
            assert!(can.contains(id), "{}: line {id} discounted", view.id());
        }
        if view.reward_kind() == RewardKind::PercentOff {
            assert_eq!(discounted, can, "{}", view.id());
        }
    }
    // By hand: out of stock (line 4 wants 2, has 1) is never discounted; `getItems` counts.
    let b = bundle(promotions);
    let can = |id: &str| -> Vec<bool> {
        let p = analysis::promotion(&b, id).unwrap();
        items.iter().map(|i| p.can_discount(i)).collect()
    };
    assert_eq!(can("cat"), [true, false, true, false, false, false]);
    assert_eq!(can("sale"), [true, false, false, false, false, true]);
    assert_eq!(can("low"), [false, true, false, false, false, false]);
    assert_eq!(can("all"), [true, true, true, false, false, false]);
    assert_eq!(can("bxgy"), [true, false, true, false, false, false]);
    let bxgy = analysis::promotion(&b, "bxgy").unwrap();
    assert!(!bxgy.targets(&items[2]), "the get pool is not targeted");
    // A catalog item is an item of quantity 1.
    let spec: LineSpec = serde_json::from_value(line(
        "c",
        "C2",
        json!({"categories": ["caps"], "stockAvailable": 1}),
    ))
    .unwrap();
    let catalog = Item {
        quantity: 1,
        ..Item::from(&spec)
    };
    assert!(analysis::promotion(&b, "cat")
        .unwrap()
        .can_discount(&catalog));
}

/// One promotion of each shape, with stacking flags.
fn shaped(id: &str, shape: usize, exclusive: bool, classes: usize, group: bool) -> Value {
    let (items, reward) = match shape {
        0 => (
            json!({"categories": ["x"]}),
            json!({"type": "percentOff", "percent": "10"}),
        ),
        1 => (
            json!({"categories": ["y"]}),
            json!({"type": "percentOff", "percent": "10"}),
        ),
        2 => (
            json!({}),
            json!({"type": "percentOff", "percent": "10", "on": "order"}),
        ),
        _ => (json!({}), json!({"type": "shippingOff", "percent": "50"})),
    };
    let combines: Vec<&str> = ["product", "order", "shipping"]
        .into_iter()
        .enumerate()
        .filter(|(k, _)| classes & (1 << k) != 0)
        .map(|(_, c)| c)
        .collect();
    let mut stacking = json!({"exclusive": exclusive, "combinesWith": combines});
    if group {
        stacking["group"] = json!("g");
    }
    json!({"id": id, "name": id, "items": items, "reward": reward, "stacking": stacking})
}

/// For every pair of shapes and stacking flags: the API's answer is what `evaluate` does on a
/// cart where both are eligible. `never`: exactly one applies; `combines`: both; disjoint lines
/// only: both exactly when they discount different lines.
#[test]
fn combination_answers_are_the_engines_behaviour() {
    let cart = input(
        json!([
            {"id": "1", "sku": "X", "categories": ["x"], "unitPrice": "100.00", "quantity": 1},
            {"id": "2", "sku": "Y", "categories": ["y"], "unitPrice": "50.00", "quantity": 1},
        ]),
        Some(json!({"method": "standard", "amount": "10.00"})),
    );
    let flags: Vec<(bool, usize, bool)> = (0..32)
        .map(|f| (f & 1 != 0, (f >> 1) & 7, f & 16 != 0))
        .collect();
    let mut seen = [0_usize; 3];
    for (shape_a, shape_b) in (0..4).flat_map(|a| (0..4).map(move |b| (a, b))) {
        for &(ea, ca, ga) in &flags {
            for &(eb, cb, gb) in &flags {
                for best_only in [false, true] {
                    // bestOnly on a sample of the pairs is enough.
                    if best_only && (ca + cb) % 5 != 0 {
                        continue;
                    }
                    let pricing = if best_only {
                        json!({"stacking": "bestOnly"})
                    } else {
                        json!({})
                    };
                    let b = bundle_with(
                        pricing,
                        json!([
                            shaped("a", shape_a, ea, ca, ga),
                            shaped("b", shape_b, eb, cb, gb)
                        ]),
                    );
                    let pa = analysis::promotion(&b, "a").unwrap();
                    let pb = analysis::promotion(&b, "b").unwrap();
                    let answer = pa.combination(&pb);
                    assert!(symmetric(&answer, &pb.combination(&pa)));
                    let e = evaluate(&b, &cart).unwrap();
                    let applied: Vec<&str> = e.applied.iter().map(|a| &*a.promotion_id).collect();
                    let case = format!("{shape_a}/{shape_b} a={ea},{ca},{ga} b={eb},{cb},{gb} best_only={best_only}: {answer:?} but {applied:?}");
                    match &answer {
                        Combination::Never { conflicts } => {
                            seen[0] += 1;
                            assert!(!conflicts.is_empty(), "{case}");
                            assert_eq!(applied.len(), 1, "{case}");
                        }
                        Combination::Combines => {
                            seen[1] += 1;
                            assert_eq!(applied.len(), 2, "{case}");
                        }
                        Combination::DisjointLinesOnly => {
                            seen[2] += 1;
                            let disjoint = shape_a != shape_b;
                            assert_eq!(applied.len(), if disjoint { 2 } else { 1 }, "{case}");
                        }
                    }
                }
            }
        }
    }
    assert!(seen.iter().all(|n| *n > 100), "{seen:?}");
}

/// The same answer from either side (the conflicts in either order).
fn symmetric(x: &Combination, y: &Combination) -> bool {
    match (x, y) {
        (Combination::Never { conflicts: a }, Combination::Never { conflicts: b }) => {
            a.len() == b.len() && a.iter().all(|c| b.contains(c))
        }
        _ => x == y,
    }
}

#[test]
fn combination_gives_every_reason() {
    let b = bundle(json!([
        {"id": "ex", "name": "ex", "priority": 3, "reward": {"type": "percentOff", "percent": "10", "on": "order"},
         "stacking": {"exclusive": true, "group": "g"}},
        {"id": "grouped", "name": "grouped", "priority": 2, "reward": {"type": "percentOff", "percent": "10"},
         "stacking": {"group": "g", "combinesWith": ["order"]}},
        {"id": "plain", "name": "plain", "priority": 1, "reward": {"type": "shippingOff", "percent": "10"}},
        {"id": "product", "name": "product", "reward": {"type": "percentOff", "percent": "5"},
         "stacking": {"combinesWith": ["shipping"]}},
    ]));
    let p = |id| analysis::promotion(&b, id).unwrap();
    assert_eq!(
        p("ex").combination(&p("grouped")),
        Combination::Never {
            conflicts: vec![
                Conflict::Exclusive { promotion: "ex" },
                Conflict::SameGroup { group: "g" },
                Conflict::ClassRefused {
                    promotion: "ex",
                    class: DiscountClass::Product
                },
            ]
        }
    );
    assert_eq!(p("ex").combination(&p("grouped")).shared_group(), Some("g"));
    assert_eq!(
        p("grouped").combination(&p("plain")),
        Combination::Never {
            conflicts: vec![
                Conflict::ClassRefused {
                    promotion: "grouped",
                    class: DiscountClass::Shipping
                },
                Conflict::ClassRefused {
                    promotion: "plain",
                    class: DiscountClass::Product
                },
            ]
        }
    );
    assert_eq!(
        p("grouped").combination(&p("product")),
        Combination::DisjointLinesOnly
    );
    assert!(p("grouped").combination(&p("product")).may_combine());
    let all: Vec<(&str, bool)> = p("product")
        .combinations()
        .into_iter()
        .map(|(o, c)| (o.id(), c.may_combine()))
        .collect();
    assert_eq!(
        all,
        vec![("ex", false), ("grouped", true), ("plain", false)]
    );
    let json = serde_json::to_value(p("ex").combination(&p("grouped"))).unwrap();
    assert_eq!(
        json,
        json!({"kind": "never", "conflicts": [
            {"kind": "exclusive", "promotion": "ex"}, {"kind": "sameGroup", "group": "g"},
            {"kind": "classRefused", "promotion": "ex", "class": "product"}]})
    );
}

#[test]
fn shared_targets_name_what_both_can_discount() {
    let b = bundle(json!([
        {"id": "a", "name": "a", "items": {"categories": ["zebra", "socks", "apple"]},
         "reward": {"type": "percentOff", "percent": "5"}},
        {"id": "b", "name": "b", "items": {"categories": ["apple", "zebra"], "excludeCategories": ["zebra"]},
         "reward": {"type": "percentOff", "percent": "5"}},
        {"id": "every", "name": "every", "items": {"excludeCategories": ["zebra"]},
         "reward": {"type": "percentOff", "percent": "5", "on": "order"}},
        {"id": "every2", "name": "every2", "reward": {"type": "percentOff", "percent": "5"}},
        {"id": "brand", "name": "brand", "items": {"brands": ["Loop"]},
         "reward": {"type": "buyXGetY", "buyQuantity": 1, "getQuantity": 1, "getItems": {"categories": ["socks"]}}},
        {"id": "ship1", "name": "ship1", "reward": {"type": "shippingOff", "percent": "5", "methods": ["std", "exp"]}},
        {"id": "ship2", "name": "ship2", "reward": {"type": "shippingOff", "percent": "5", "countries": ["US"]}},
        {"id": "ship3", "name": "ship3", "reward": {"type": "shippingOff", "percent": "5", "methods": ["pickup"]}},
    ]));
    let p = |id| analysis::promotion(&b, id).unwrap();
    let named = |dimension, value| SharedTarget::Named { dimension, value };
    // The first value the first promotion wrote that both select: `b` excludes `zebra`.
    assert_eq!(
        p("a").shared_target(&p("b")),
        Some(named(Dimension::Category, "apple"))
    );
    assert_eq!(
        p("a").shared_target(&p("every")),
        Some(SharedTarget::EveryItemAnd {
            dimension: Dimension::Category,
            value: "socks"
        })
    );
    assert_eq!(
        p("every").shared_target(&p("every2")),
        Some(SharedTarget::EveryItem)
    );
    // A category and a brand are not compared; the get pool is.
    assert_eq!(
        p("a").shared_target(&p("brand")),
        Some(named(Dimension::Category, "socks"))
    );
    assert_eq!(p("b").shared_target(&p("brand")), None);
    assert_eq!(
        p("ship1").shared_target(&p("ship2")),
        Some(SharedTarget::Shipping)
    );
    assert_eq!(p("ship1").shared_target(&p("ship3")), None);
    assert_eq!(p("ship2").shared_target(&p("every2")), None);
}

#[test]
fn schedule_spans_agree_with_live_at() {
    let b = bundle(json!([
        {"id": "w", "name": "w", "startsAt": "2026-03-01T00:00:00Z", "endsAt": "2026-04-01T00:00:00Z",
         "intervals": [
            {"start": "2026-02-20T00:00:00Z", "end": "2026-03-02T00:00:00Z"},
            {"start": "2026-03-10T00:00:00Z", "end": "2026-03-11T00:00:00Z"},
            {"start": "2026-03-31T00:00:00Z", "end": "2026-04-05T00:00:00Z"}],
         "reward": {"type": "percentOff", "percent": "5"}},
        {"id": "open", "name": "open", "startsAt": "2026-03-10T12:00:00Z",
         "reward": {"type": "percentOff", "percent": "5"}},
        {"id": "never", "name": "never", "intervals": [], "reward": {"type": "percentOff", "percent": "5"}},
        {"id": "always", "name": "always", "reward": {"type": "percentOff", "percent": "5"}},
    ]));
    let p = |id| analysis::promotion(&b, id).unwrap();
    let span = |s: &str, e: &str| Span {
        start: Some(instant(s)),
        end: Some(instant(e)),
    };
    assert_eq!(
        p("w").schedule(),
        vec![
            span("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"),
            span("2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z"),
            span("2026-03-31T00:00:00Z", "2026-04-01T00:00:00Z"),
        ]
    );
    assert_eq!(
        p("open").schedule(),
        vec![Span {
            start: Some(instant("2026-03-10T12:00:00Z")),
            end: None
        }]
    );
    assert!(p("never").schedule().is_empty());
    assert_eq!(
        p("always").schedule(),
        vec![Span {
            start: None,
            end: None
        }]
    );
    assert_eq!(
        p("w").live_together(&p("open")),
        Some(span("2026-03-10T12:00:00Z", "2026-03-11T00:00:00Z"))
    );
    assert_eq!(p("w").live_together(&p("never")), None);
    assert_eq!(
        p("open").live_together(&p("always")),
        p("open").schedule().first().copied()
    );
    for now in [
        "2026-01-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
        "2026-03-05T00:00:00Z",
        "2026-03-10T05:00:00Z",
        "2026-03-25T00:00:00Z",
        "2026-05-01T00:00:00Z",
    ] {
        let now = instant(now);
        for id in ["w", "open", "always"] {
            let live = p(id).nearest_live(now).unwrap();
            assert_eq!(b.live_at(id, live), Some(true), "{id} at {live}");
            if b.live_at(id, now) == Some(true) {
                assert_eq!(live, now);
            }
        }
        assert_eq!(p("never").nearest_live(now), None);
    }
    assert_eq!(
        p("w").nearest_live(instant("2026-03-05T00:00:00Z")),
        Some(instant("2026-03-01T23:59:59Z"))
    );
}

#[test]
fn exposure_is_the_most_a_promotion_can_take() {
    let b = bundle(json!([
        {"id": "pct", "name": "pct", "reward": {"type": "percentOff", "percent": "20"},
         "loyaltyBonus": [{"tier": "gold", "percent": "5"}, {"tier": "vip", "percent": "10.5"}],
         "maxDiscount": "30.00", "limits": {"budget": "5000.00", "totalUses": 100}},
        {"id": "order", "name": "order", "reward": {"type": "amountOff", "amount": "15", "per": "order"},
         "limits": {"totalUses": 10}},
        {"id": "unit", "name": "unit", "reward": {"type": "amountOff", "amount": "2", "per": "unit"},
         "limits": {"totalUses": 10}},
        {"id": "tiers", "name": "tiers", "reward": {"type": "tiered", "basis": "spend", "tiers": [
            {"minSpend": "50", "amount": "5.00"}, {"minSpend": "100", "percent": "15"}, {"minSpend": "200", "amount": "25.00"}]}},
        {"id": "amount-tiers", "name": "amount-tiers", "reward": {"type": "tiered", "basis": "spend", "tiers": [
            {"minSpend": "50", "amount": "5.00"}, {"minSpend": "200", "amount": "25.00"}]},
         "limits": {"budget": "100"}, "maxDiscount": "20"},
        {"id": "ship", "name": "ship", "reward": {"type": "shippingOff", "amount": "7.50"}},
        {"id": "fixed", "name": "fixed", "reward": {"type": "fixedPrice", "price": "1.00"}},
        {"id": "free", "name": "free", "reward": {"type": "buyXGetY", "buyQuantity": 2, "getQuantity": 1}},
        {"id": "half", "name": "half", "reward": {"type": "buyXGetY", "buyQuantity": 2, "getQuantity": 1, "percent": "50"}},
        {"id": "volume", "name": "volume", "reward": {"type": "volume", "tiers": [
            {"minQuantity": 3, "percent": "10"}, {"minQuantity": 6, "unitPrice": "9.00"}]}},
    ]));
    let e = |id| analysis::promotion(&b, id).unwrap().exposure();
    let text = |a: Option<promoseal_evaluator::money::Amount>| a.map(|a| a.to_string());
    let pct = e("pct");
    assert_eq!(pct.max_percent.map(|p| p.format()).as_deref(), Some("30.5"));
    assert_eq!(pct.percent_basis, Some(PercentBasis::WithLoyaltyBonus));
    assert_eq!(pct.max_amount, None);
    assert_eq!(text(pct.max_per_order).as_deref(), Some("30.00"));
    assert_eq!(text(pct.budget).as_deref(), Some("5000.00"));
    // 100 uses × 30.00 = 3000.00, below the budget.
    assert_eq!(text(pct.max_total).as_deref(), Some("3000.00"));
    let order = e("order");
    assert_eq!(order.max_percent, None);
    assert_eq!(order.percent_basis, None);
    assert_eq!(text(order.max_amount).as_deref(), Some("15.00"));
    assert_eq!(text(order.max_per_order).as_deref(), Some("15.00"));
    assert_eq!(text(order.max_total).as_deref(), Some("150.00"));
    // Per unit: it grows with the cart.
    let unit = e("unit");
    assert_eq!(text(unit.max_amount).as_deref(), Some("2.00"));
    assert_eq!((unit.max_per_order, unit.max_total), (None, None));
    let tiers = e("tiers");
    assert_eq!(tiers.max_percent.map(|p| p.format()).as_deref(), Some("15"));
    assert_eq!(tiers.percent_basis, Some(PercentBasis::Stated));
    assert_eq!(text(tiers.max_amount).as_deref(), Some("25.00"));
    assert_eq!(tiers.max_per_order, None);
    let amount_tiers = e("amount-tiers");
    assert_eq!(text(amount_tiers.max_per_order).as_deref(), Some("20.00"));
    assert_eq!(text(amount_tiers.max_total).as_deref(), Some("100.00"));
    let ship = e("ship");
    assert_eq!(ship.max_percent.map(|p| p.format()).as_deref(), Some("100"));
    assert_eq!(ship.percent_basis, Some(PercentBasis::ShippingAmount));
    assert_eq!(text(ship.max_per_order).as_deref(), Some("7.50"));
    for (id, basis) in [
        ("fixed", PercentBasis::SetPrice),
        ("free", PercentBasis::FreeItem),
        ("volume", PercentBasis::UnitPriceTier),
    ] {
        let x = e(id);
        assert_eq!(
            x.max_percent.map(|p| p.format()).as_deref(),
            Some("100"),
            "{id}"
        );
        assert_eq!(x.percent_basis, Some(basis), "{id}");
        assert_eq!(x.max_per_order, None, "{id}");
    }
    assert_eq!(e("half").percent_basis, Some(PercentBasis::Stated));
    let json = serde_json::to_value(e("order")).unwrap();
    assert_eq!(json["maxPerOrder"], "15.00");

    // A fixed amount net of an included tax is grossed up at the line's rate: no bound.
    let net = bundle_with(
        json!({"taxMode": "inclusive", "fixedAmountBasis": "net"}),
        json!([{"id": "order", "name": "order", "reward": {"type": "amountOff", "amount": "15", "per": "order"}}]),
    );
    let x = analysis::promotion(&net, "order").unwrap().exposure();
    assert_eq!(x.max_per_order, None);
}

/// The exposure read from the compiled promotion is the declared one approvals measure.
#[cfg(feature = "verify")]
#[test]
fn exposure_agrees_with_the_declared_exposure() {
    use promoseal_evaluator::model::PromotionSpec;
    use promoseal_evaluator::seal::Exposure;
    use rust_decimal::Decimal;

    let promotions = json!([
        {"id": "a", "name": "a", "reward": {"type": "percentOff", "percent": "20"},
         "loyaltyBonus": [{"tier": "gold", "percent": "85"}], "limits": {"budget": "10"}},
        {"id": "b", "name": "b", "reward": {"type": "amountOff", "amount": "3.5", "per": "line"}},
        {"id": "c", "name": "c", "reward": {"type": "tiered", "basis": "quantity", "tiers": [
            {"minQuantity": 2, "percent": "12.25"}, {"minQuantity": 4, "amount": "8"}]},
         "loyaltyBonus": [{"tier": "gold", "percent": "1"}]},
        {"id": "d", "name": "d", "reward": {"type": "volume", "tiers": [{"minQuantity": 3, "percent": "7"}]}},
        {"id": "e", "name": "e", "reward": {"type": "shippingOff", "percent": "40"},
         "loyaltyBonus": [{"tier": "gold", "percent": "5"}]},
        {"id": "f", "name": "f", "reward": {"type": "buyXGetY", "buyQuantity": 1, "getQuantity": 1, "percent": "30"},
         "loyaltyBonus": [{"tier": "gold", "percent": "5"}]},
        {"id": "g", "name": "g", "reward": {"type": "fixedPrice", "price": "4"}},
    ]);
    let b = bundle(promotions.clone());
    for spec in promotions.as_array().unwrap() {
        let spec: PromotionSpec = serde_json::from_value(spec.clone()).unwrap();
        let declared = Exposure::of(&spec);
        let compiled = analysis::promotion(&b, &spec.id).unwrap().exposure();
        let percent = compiled
            .max_percent
            .map(|p| Decimal::from_i128_with_scale(i128::from(p.units()), 6).normalize());
        let money = |a: Option<promoseal_evaluator::money::Amount>| {
            a.map(|a| Decimal::new(a.minor(), a.exponent()))
        };
        assert_eq!(percent, declared.max_percent, "{}", spec.id);
        assert_eq!(
            money(compiled.max_amount),
            declared.max_amount,
            "{}",
            spec.id
        );
        assert_eq!(money(compiled.budget), declared.budget, "{}", spec.id);
    }
}
