//! One request at a time: answers, refusals, idempotency, reservations, reversals, days.

use ledger::db::Backend;
use serde_json::{json, Value};

use crate::common::{request, signed_bundle, Ledger};
use promoseal_db::both;

both!(
    partial_refunds_give_back_in_proportion,
    redeem_replay_and_refusals,
    bad_input_writes_nothing,
    reservations_hold_commit_release_and_lapse,
    reversal_follows_each_promotions_policy,
    days_are_counted_in_the_bundles_time_zone,
    bundle_versions_are_kept_and_rollbacks_refused,
    reports_reconciliation_and_fraud_signals,
);

async fn redeem_replay_and_refusals(backend: Backend) {
    let l = Ledger::start(backend).await;
    let body = request(&l, "o-1", "sku-total", "c1", &[]);
    let (s, first) = l.post("/v1/redemptions", "k-1", &body).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["state"], "committed");
    assert_eq!(first["discountTotal"], "5.00");
    assert_eq!(first["total"], "45.00");
    assert_eq!(
        first["promotions"],
        json!([{"promotionId": "total", "amount": "5.00", "campaign": "core"}])
    );
    assert_eq!(first["receipt"]["applied"][0]["promotionId"], "total");
    assert!(first["receipt"]
        .get("notApplied")
        .is_none_or(|v| v.as_array().is_some_and(|a| a.is_empty())));

    // A replay answers the first answer, byte for byte, and says so.
    let (s, again, replayed) = l
        .post_raw(
            "/v1/redemptions",
            Some("k-1"),
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!((s, &again, replayed), (201, &first, true));
    // Whitespace and key order do not make a different request.
    let pretty = serde_json::to_vec_pretty(&body).unwrap();
    assert_eq!(
        l.post_raw("/v1/redemptions", Some("k-1"), pretty).await.0,
        201
    );

    // A retry from another address (another edge location, a phone that changed networks) is
    // the same request.
    let mut moved = body.clone();
    moved["clientIp"] = json!("198.51.100.77");
    assert_eq!(
        l.post_raw(
            "/v1/redemptions",
            Some("k-1"),
            moved.to_string().into_bytes()
        )
        .await
        .0,
        201
    );

    // The same key with another body is refused.
    let other = request(&l, "o-2", "sku-total", "c1", &[]);
    let (s, e) = l.post("/v1/redemptions", "k-1", &other).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("idempotencyKeyReused")),
        "{e}"
    );

    // Reading it back.
    let id = first["id"].as_str().unwrap();
    let (s, read) = l.get(&format!("/v1/redemptions/{id}")).await;
    assert_eq!((s, &read), (200, &first));
    assert_eq!(l.get("/v1/redemptions/rdm_nope").await.0, 404);
    // A path that is not UTF-8 is a JSON 400 wherever a route takes a parameter.
    for path in ["/v1/redemptions/%FF", "/v1/codes/%FF/redemptions"] {
        let (s, e) = l.get(path).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalidRequest")),
            "{path}: {e}"
        );
    }
    // A method a route does not have: 405 with `Allow` and the JSON every error has.
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/v1/events", "GET,HEAD"),
        (reqwest::Method::PUT, "/healthz", "GET,HEAD"),
        (reqwest::Method::GET, "/v1/redemptions", "POST"),
    ] {
        let r = l
            .http
            .request(method.clone(), format!("{}{path}", l.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "methodNotAllowed", "{e}");
        assert_eq!(
            e["error"]["message"],
            format!("{method} is not allowed on {path}")
        );
    }

    // A second open redemption for the same order is refused.
    let (s, e) = l.post("/v1/redemptions", "k-2", &body).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("orderOpen")),
        "{e}"
    );

    // The ledger prices the cart itself: a quote that differs is refused, with both figures.
    let mut cheat = request(&l, "o-3", "sku-total", "c1", &[]);
    cheat["quote"]["discountTotal"] = json!("25.00");
    cheat["quote"]["total"] = json!("25.00");
    let (s, e) = l.post("/v1/redemptions", "k-3", &cheat).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("amountMismatch")),
        "{e}"
    );
    assert_eq!(
        e["error"]["detail"]["differences"][0],
        json!({"field": "discountTotal", "client": "25.00", "ledger": "5.00"})
    );
    // Refusals are answers too: the replay gets the same one.
    assert_eq!(l.post("/v1/redemptions", "k-3", &cheat).await, (409, e));

    // Per-promotion amounts, when quoted, must match as well, and name real promotions.
    let mut named = request(&l, "o-4", "sku-total", "c1", &[]);
    named["quote"]["promotions"] = json!([{"promotionId": "nope", "amount": "5.00"}]);
    let (s, e) = l.post("/v1/redemptions", "k-4", &named).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("unknownPromotion")),
        "{e}"
    );
    named["quote"]["promotions"] = json!([{"promotionId": "total", "amount": "4.99"}]);
    let (s, e) = l.post("/v1/redemptions", "k-5", &named).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("amountMismatch")),
        "{e}"
    );
    named["quote"]["promotions"] = json!([{"promotionId": "total", "amount": "5.00"}]);
    assert_eq!(l.post("/v1/redemptions", "k-6", &named).await.0, 201);

    // Wrong currency, unknown version, stale quote.
    let mut eur = request(&l, "o-7", "sku-total", "c1", &[]);
    eur["input"]["cart"]["currency"] = json!("EUR");
    let (s, e) = l.post("/v1/redemptions", "k-7", &eur).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("currencyMismatch")),
        "{e}"
    );
    let mut v9 = request(&l, "o-8", "sku-total", "c1", &[]);
    v9["bundle"]["version"] = json!(9);
    let (s, e) = l.post("/v1/redemptions", "k-8", &v9).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("bundleUnknown")),
        "{e}"
    );
    let stale = request(&l, "o-9", "sku-total", "c1", &[]);
    l.advance(2 * 3600);
    let (s, e) = l.post("/v1/redemptions", "k-9", &stale).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("quoteExpired")),
        "{e}"
    );

    // Every attempt after parsing is in the event log, refusals with their reason.
    assert_eq!(
        l.count("SELECT COUNT(*) FROM events WHERE outcome = 'accepted'")
            .await,
        2
    );
    assert_eq!(
        l.count("SELECT COUNT(*) FROM events WHERE reason = 'amountMismatch'")
            .await,
        2
    );
    assert_eq!(l.count("SELECT COUNT(*) FROM redemptions").await, 2);
    l.stop().await;
}

async fn bad_input_writes_nothing(backend: Backend) {
    let l = Ledger::start(backend).await;
    let before = (
        l.count("SELECT COUNT(*) FROM events").await,
        l.count("SELECT COUNT(*) FROM idempotency").await,
    );
    // One Idempotency-Key rule at the ledger and the edge (promoseal-wire): 1 to 255 visible
    // ASCII characters.
    let longest = "k".repeat(255);
    let too_long = "k".repeat(256);
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (
            Some(&too_long),
            b"{}".to_vec(),
            400,
            "invalidIdempotencyKey",
        ),
        (Some("a b"), b"{}".to_vec(), 400, "invalidIdempotencyKey"),
        (Some(&longest), b"{}".to_vec(), 400, "invalidRequest"),
        (Some("b-1"), b"{not json".to_vec(), 400, "malformedJson"),
        (Some("b-2"), b"{}".to_vec(), 400, "invalidRequest"),
        (
            Some("b-3"),
            b"{\"orderId\": \"x\", \"extra\": 1}".to_vec(),
            400,
            "invalidRequest",
        ),
        (None, b"{}".to_vec(), 400, "idempotencyKeyRequired"),
        (Some("b-4"), vec![b' '; 2 << 20], 413, "bodyTooLarge"),
    ];
    for (key, body, status, code) in cases {
        let (s, e, _) = l.post_raw("/v1/redemptions", key, body).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{e}"
        );
        assert!(e["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let mut bad_money = request(&l, "o-1", "sku-total", "c1", &[]);
    bad_money["input"]["cart"]["lines"][0]["unitPrice"] = json!(50.0);
    let (s, e) = l.post("/v1/redemptions", "b-5", &bad_money).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalidRequest")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input.cart.lines[0].unitPrice"),
        "{e}"
    );
    let (s, e) = l
        .post(
            "/v1/redemptions/rdm_x/reverse",
            "b-6",
            &json!({"kind": "oops"}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalidRequest")),
        "{e}"
    );
    let after = (
        l.count("SELECT COUNT(*) FROM events").await,
        l.count("SELECT COUNT(*) FROM idempotency").await,
    );
    assert_eq!(before, after);
    assert_eq!(l.count("SELECT COUNT(*) FROM redemptions").await, 0);
    l.stop().await;
}

async fn reserve(l: &Ledger, order: &str, sku: &str, ttl: Option<u64>) -> (u16, Value) {
    let mut body = request(l, order, sku, "c1", &[]);
    if let Some(t) = ttl {
        body["ttlSeconds"] = json!(t);
    }
    l.post("/v1/reservations", &format!("r-{order}"), &body)
        .await
}

async fn reservations_hold_commit_release_and_lapse(backend: Backend) {
    let l = Ledger::start(backend).await;
    // `keep` allows one use: a reservation holds it.
    let (s, r) = reserve(&l, "o-1", "sku-keep", Some(60)).await;
    assert_eq!((s, r["state"].as_str()), (201, Some("reserved")), "{r}");
    assert_eq!(r["expiresAt"], "2026-11-21T15:01:00Z");
    let (s, e) = reserve(&l, "o-2", "sku-keep", None).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("limitReached")),
        "{e}"
    );
    assert_eq!(
        e["error"]["detail"],
        json!({"promotionId": "keep", "limit": "totalUses"})
    );

    // Released: the use is free again.
    let id = r["id"].as_str().unwrap();
    let (s, v) = l
        .post(
            &format!("/v1/redemptions/{id}/release"),
            "rel-1",
            &json!({}),
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("released")), "{v}");
    let (s, e) = l
        .post(&format!("/v1/redemptions/{id}/commit"), "com-0", &json!({}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("invalidState")),
        "{e}"
    );

    // Lapsed: past its TTL the hold no longer counts, and a commit is refused.
    let (s, r) = reserve(&l, "o-3", "sku-keep", Some(60)).await;
    assert_eq!(s, 201, "{r}");
    l.advance(61);
    let id3 = r["id"].as_str().unwrap();
    let (s, e) = l
        .post(
            &format!("/v1/redemptions/{id3}/commit"),
            "com-3",
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("reservationExpired")),
        "{e}"
    );
    let (s, r) = reserve(&l, "o-4", "sku-keep", Some(60)).await;
    assert_eq!(s, 201, "{r}");
    // A lapsed hold is released even before any sweep runs.
    l.advance(61);
    let (s, r5) = reserve(&l, "o-5", "sku-keep", Some(600)).await;
    assert_eq!(s, 201, "{r5}");
    let id5 = r5["id"].as_str().unwrap();
    let (s, c) = l
        .post(
            &format!("/v1/redemptions/{id5}/commit"),
            "com-5",
            &json!({}),
        )
        .await;
    assert_eq!((s, c["state"].as_str()), (200, Some("committed")), "{c}");
    assert!(c["committedAt"].is_string());
    // Commit is idempotent by key and refuses a second commit under another key.
    assert_eq!(
        l.post(
            &format!("/v1/redemptions/{id5}/commit"),
            "com-5",
            &json!({})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        l.post(
            &format!("/v1/redemptions/{id5}/commit"),
            "com-6",
            &json!({})
        )
        .await
        .0,
        409
    );
    assert_eq!(
        l.count("SELECT used FROM counters WHERE key = 'total/fixture/keep'")
            .await,
        1
    );
    let (s, e) = l
        .post("/v1/redemptions/rdm_none/commit", "com-7", &json!({}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("redemptionNotFound"))
    );
    assert_eq!(
        l.count("SELECT COUNT(*) FROM redemptions WHERE state = 'expired'")
            .await,
        2
    );
    l.stop().await;
}

async fn redeem_one(l: &Ledger, order: &str, sku: &str) -> (u16, Value) {
    let body = request(l, order, sku, "c1", &[]);
    l.post("/v1/redemptions", &format!("k-{order}"), &body)
        .await
}

async fn reversal_follows_each_promotions_policy(backend: Backend) {
    let l = Ledger::start(backend).await;
    let reverse = |id: String, kind: &'static str, key: &'static str| {
        let l = &l;
        async move {
            l.post(
                &format!("/v1/redemptions/{id}/reverse"),
                key,
                &json!({"kind": kind, "reason": "customer"}),
            )
            .await
        }
    };
    // `keep`: a refunded use stays used.
    let (_, r) = redeem_one(&l, "o-1", "sku-keep").await;
    let (s, v) = reverse(r["id"].as_str().unwrap().into(), "refund", "rv-1").await;
    assert_eq!(
        (s, v["state"].as_str(), v["reversal"].as_str()),
        (200, Some("reversed"), Some("refund")),
        "{v}"
    );
    assert_eq!(redeem_one(&l, "o-2", "sku-keep").await.0, 409);
    // `recreditCancel`: a refund keeps the use, a cancellation gives it back.
    let (_, r) = redeem_one(&l, "o-3", "sku-cancel").await;
    reverse(r["id"].as_str().unwrap().into(), "refund", "rv-3").await;
    assert_eq!(redeem_one(&l, "o-4", "sku-cancel").await.0, 409);
    let (_, r) = redeem_one(&l, "o-1", "sku-cancel").await; // still refused: the use was kept
    assert!(r["error"].is_object());
    assert_eq!(
        l.count("SELECT used FROM counters WHERE key = 'total/fixture/cancel-only'")
            .await,
        1
    );
    let reversed = l
        .count("SELECT COUNT(*) FROM redemptions WHERE state = 'reversed'")
        .await;
    assert_eq!(reversed, 2);
    // `recredit` (the default): the budget and the uses come back.
    let (_, r) = redeem_one(&l, "o-5", "sku-budget").await;
    assert_eq!(
        l.count("SELECT amount FROM counters WHERE key = 'budget/fixture/budget'")
            .await,
        1000
    );
    let rid: String = r["id"].as_str().unwrap().into();
    let (s, _) = reverse(rid.clone(), "cancel", "rv-5").await;
    assert_eq!(s, 200);
    assert_eq!(
        l.count("SELECT amount FROM counters WHERE key = 'budget/fixture/budget'")
            .await,
        0
    );
    let (s, e) = reverse(rid, "cancel", "rv-6").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("invalidState")),
        "{e}"
    );
    l.stop().await;
}

/// Partial refunds, by amount and by lines: the budget comes back in proportion to what is
/// refunded (rounded down, the last refund giving back the exact rest), uses only when the
/// whole redemption is refunded; more than is left is refused and changes nothing.
async fn partial_refunds_give_back_in_proportion(backend: Backend) {
    let l = Ledger::start(backend).await;
    let budget = "SELECT amount FROM counters WHERE key = 'budget/fixture/budget'";
    let budget_uses = "SELECT used FROM counters WHERE key = 'budget/fixture/budget'";
    // Four units at $12.50, $10 off the order: $40 paid, $10 a unit.
    let input = json!({
        "cart": {"currency": "USD", "lines": [
            {"id": "a", "sku": "sku-budget", "unitPrice": "12.50", "quantity": 4}]},
        "customer": {"id": "c1"},
        "context": {"now": l.now()},
    });
    let body = crate::common::request_for(&l, "o-1", 1, input);
    let (s, r) = l.post("/v1/redemptions", "k-1", &body).await;
    assert_eq!((s, r["total"].as_str()), (201, Some("40.00")), "{r}");
    // A redemption that applies is written set by set (one batch, of one).
    let stats = l.state.writer.stats();
    assert_eq!(
        (stats.batches, stats.set_batches, stats.redemptions),
        (1, 1, 1)
    );
    let id = r["id"].as_str().unwrap().to_string();
    let path = format!("/v1/redemptions/{id}/reverse");
    assert_eq!(
        (l.count(budget).await, l.count(budget_uses).await),
        (1000, 1)
    );

    // $10 of $40: a quarter of the $10 discount comes back; the use stays.
    let ten = json!({"kind": "refund", "amount": "10.00"});
    let (s, v) = l.post(&path, "rf-1", &ten).await;
    assert_eq!(
        (s, v["state"].as_str(), v["refunded"].as_str()),
        (200, Some("committed"), Some("10.00")),
        "{v}"
    );
    assert_eq!(
        (l.count(budget).await, l.count(budget_uses).await),
        (750, 1)
    );
    // The same key again: the same answer, however the amount is written; with another
    // amount: a reused key.
    assert_eq!(l.post(&path, "rf-1", &ten).await, (200, v.clone()));
    for same in ["10", "10.0", "10.000"] {
        let again = json!({"kind": "refund", "amount": same});
        assert_eq!(
            l.post(&path, "rf-1", &again).await,
            (200, v.clone()),
            "{same}"
        );
    }
    let (s, e) = l
        .post(&path, "rf-1", &json!({"kind": "refund", "amount": "5.00"}))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("idempotencyKeyReused"))
    );

    // One unit of line a: what was paid for it, $10.
    let unit = json!({"kind": "refund", "lines": [{"id": "a", "quantity": 1}]});
    let (s, v) = l.post(&path, "rf-2", &unit).await;
    assert_eq!((s, v["refunded"].as_str()), (200, Some("20.00")), "{v}");
    assert_eq!(l.count(budget).await, 500);

    // More than is left, of the line or of the whole: refused, nothing changes.
    for (key, body) in [
        (
            "rf-3",
            json!({"kind": "refund", "lines": [{"id": "a", "quantity": 4}]}),
        ),
        ("rf-4", json!({"kind": "refund", "amount": "20.01"})),
    ] {
        let (s, e) = l.post(&path, key, &body).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (409, Some("refundTooLarge")),
            "{e}"
        );
    }
    for (key, body, field) in [
        (
            "rf-5",
            json!({"kind": "refund", "lines": [{"id": "zz", "quantity": 1}]}),
            "lines[0].id",
        ),
        ("rf-6", json!({"kind": "cancel", "amount": "1.00"}), "kind"),
        (
            "rf-7",
            json!({"kind": "refund", "amount": "1.00", "lines": [{"id": "a", "quantity": 1}]}),
            "amount, lines",
        ),
        (
            "rf-8",
            json!({"kind": "refund", "amount": "0.00"}),
            "amount",
        ),
        (
            "rf-9",
            json!({"kind": "refund", "amount": "1.001"}),
            "amount",
        ),
    ] {
        let (s, e) = l.post(&path, key, &body).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalidRequest")),
            "{e}"
        );
        assert!(
            e["error"]["message"].as_str().unwrap().starts_with(field),
            "{e}"
        );
    }
    assert_eq!(l.count(budget).await, 500);
    let (_, read) = l.get(&format!("/v1/redemptions/{id}")).await;
    assert_eq!(read["refunded"], "20.00");
    // Reports count revenue net of refunds.
    let (_, report) = l.get("/v1/reports?by=promotion").await;
    let group = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "budget")
        .cloned()
        .unwrap();
    assert_eq!(
        (group["orders"].as_i64(), group["revenue"].as_str()),
        (Some(1), Some("20.00")),
        "{report}"
    );

    // The rest, $20 (two units' worth): the redemption is refunded whole; the rest of the
    // budget and the use come back, exactly.
    let (s, v) = l
        .post(
            &path,
            "rf-10",
            &json!({"kind": "refund", "amount": "20.00"}),
        )
        .await;
    assert_eq!(
        (
            s,
            v["state"].as_str(),
            v["reversal"].as_str(),
            v["refunded"].as_str()
        ),
        (200, Some("reversed"), Some("refund"), Some("40.00")),
        "{v}"
    );
    assert_eq!((l.count(budget).await, l.count(budget_uses).await), (0, 0));
    let (s, e) = l.post(&path, "rf-11", &ten).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("invalidState")),
        "{e}"
    );
    assert_eq!(
        l.count(&format!(
            "SELECT COUNT(*) FROM redemption_refunds WHERE redemption_id = '{id}'"
        ))
        .await,
        3
    );

    // `recreditCancel`: a partial refund gives nothing back; cancelling the rest gives the use
    // back.
    let (_, r) = redeem_one(&l, "o-2", "sku-cancel").await;
    let path = format!("/v1/redemptions/{}/reverse", r["id"].as_str().unwrap());
    let uses = "SELECT used FROM counters WHERE key = 'total/fixture/cancel-only'";
    let (s, _) = l
        .post(&path, "rf-12", &json!({"kind": "refund", "amount": "5.00"}))
        .await;
    assert_eq!((s, l.count(uses).await), (200, 1));
    let (s, v) = l.post(&path, "rf-13", &json!({"kind": "cancel"})).await;
    assert_eq!(
        (
            s,
            v["reversal"].as_str(),
            v["refunded"].as_str(),
            l.count(uses).await
        ),
        (200, Some("cancel"), Some("5.00"), 0),
        "{v}"
    );
    l.stop().await;
}

async fn days_are_counted_in_the_bundles_time_zone(backend: Backend) {
    let l = Ledger::start(backend).await;
    // 2026-11-21T15:00Z is 10:00 in New York; 23:30 local is 04:30Z on the 22nd.
    l.advance(13 * 3600 + 1800);
    assert_eq!(redeem_one(&l, "o-1", "sku-day").await.0, 201);
    assert_eq!(redeem_one(&l, "o-2", "sku-day").await.0, 201);
    let (s, e) = redeem_one(&l, "o-3", "sku-day").await;
    assert_eq!(
        (s, e["error"]["detail"]["limit"].as_str()),
        (409, Some("perDay")),
        "{e}"
    );
    // 00:30 local: a new day in New York (it was already the 22nd in UTC an hour ago).
    l.advance(3600);
    assert_eq!(redeem_one(&l, "o-4", "sku-day").await.0, 201);
    assert_eq!(
        l.count("SELECT used FROM counters WHERE key = 'day/fixture/daily/2026-11-21'")
            .await,
        2
    );
    assert_eq!(
        l.count("SELECT used FROM counters WHERE key = 'day/fixture/daily/2026-11-22'")
            .await,
        1
    );
    l.stop().await;
}

async fn bundle_versions_are_kept_and_rollbacks_refused(backend: Backend) {
    let l = Ledger::start(backend).await;
    let (s, v, _) = l.post_raw("/v1/bundles", None, signed_bundle(2)).await;
    assert_eq!((s, v["version"].as_u64()), (201, Some(2)), "{v}");
    // Version 1 is below the highest held: a new upload of it is a rollback.
    let (s, e, _) = l.post_raw("/v1/bundles", None, signed_bundle(1)).await;
    assert_eq!(
        (s, e["error"]["detail"]["reason"].as_str()),
        (422, Some("rollback")),
        "{e}"
    );
    // Tampered bytes never verify.
    let mut bad = signed_bundle(3);
    let n = bad.len();
    bad[n - 3] ^= 1;
    let (s, e, _) = l.post_raw("/v1/bundles", None, bad).await;
    assert_eq!(
        (s, e["error"]["message"].as_str()),
        (422, Some("invalid bundle")),
        "{e}"
    );
    // A redemption priced on version 1, still valid, is re-evaluated with version 1.
    assert_eq!(redeem_one(&l, "o-1", "sku-total").await.0, 201);
    let (_, list) = l.get("/v1/bundles").await;
    assert_eq!(list["bundles"].as_array().unwrap().len(), 2);
    // Both versions are stored, to be loaded again at the next start.
    let stored = l.state.db.stored_versions().await.unwrap();
    assert_eq!(stored.len(), 2);
    l.stop().await;
}

async fn reports_reconciliation_and_fraud_signals(backend: Backend) {
    let l = Ledger::start(backend).await;
    let ids: Vec<String> = {
        let mut ids = vec![];
        for (order, sku) in [
            ("o-1", "sku-total"),
            ("o-2", "sku-open"),
            ("o-3", "sku-none"),
            ("o-4", "sku-open"),
        ] {
            let (s, v) = redeem_one(&l, order, sku).await;
            assert_eq!(s, 201, "{v}");
            ids.push(v["id"].as_str().unwrap().to_string());
        }
        ids
    };
    // The first order of customer c1 is new, the others returning; o-4 is refunded.
    let (s, _) = l
        .post(
            &format!("/v1/redemptions/{}/reverse", ids[3]),
            "rv",
            &json!({"kind": "refund"}),
        )
        .await;
    assert_eq!(s, 200);

    let (s, r) = l.get("/v1/reports?by=promotion").await;
    assert_eq!(s, 200, "{r}");
    let total = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "total")
        .unwrap();
    // o-1: $50 less 10 % = $45 paid, $20 of cost. The two other live orders: $42.50 and $50.
    assert_eq!(
        *total,
        json!({"key": "total", "currency": "USD", "orders": 1, "reversed": 0, "revenue": "45.00",
               "discountCost": "5.00", "newCustomers": 1, "returningCustomers": 0,
               "averageOrderValue": "45.00", "averageOrderValueWithout": "46.25",
               "grossProfit": "25.00", "profitImpact": "-1.25"})
    );
    let open = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "camp-open")
        .unwrap();
    assert_eq!(
        (open["orders"].as_i64(), open["reversed"].as_i64()),
        (Some(1), Some(1))
    );
    let (_, c) = l.get("/v1/reports?by=campaign").await;
    let keys: Vec<&str> = c["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["core", "spring"]);
    let csv = l
        .http
        .get(format!("{}/v1/reports?by=channel&format=csv", l.base))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("key,currency,orders,reversed,revenue,"));
    assert!(
        lines.next().unwrap().starts_with("web,USD,3,1,137.50,"),
        "{csv}"
    );
    let (s, e) = l.get("/v1/reports?by=sku").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalidQuery"))
    );

    // Reconciliation: o-1 matches, o-2 is reported twice with another amount, o-9 never reached
    // the ledger, o-3 was never reported; o-4 is reversed and out of scope.
    let body = json!({"from": "2026-11-21T00:00:00Z", "to": "2026-11-22T00:00:00Z", "edge": [
        {"orderId": "o-1", "discountTotal": "5.00", "total": "45.00"},
        {"orderId": "o-2", "discountTotal": "7.00"},
        {"orderId": "o-2", "discountTotal": "7.00"},
        {"orderId": "o-9", "discountTotal": "1.00"},
    ]});
    let (s, rec) = l.post("/v1/reconciliation", "unused", &body).await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!(rec["matched"], 1);
    assert_eq!(
        rec["missingAtLedger"],
        json!([{"orderId": "o-9", "discountTotal": "1.00"}])
    );
    assert_eq!(rec["missingAtEdge"][0]["orderId"], "o-3");
    assert_eq!(rec["duplicated"], json!([{"orderId": "o-2", "count": 2}]));
    assert_eq!(
        rec["amountMismatch"][0]["ledger"],
        json!({"discountTotal": "7.50", "total": "42.50"})
    );

    // Fraud signals: one account trying many single-use codes, refused for a reused one.
    for (i, code) in ["ONCE-0001", "ONCE-0002", "ONCE-0001"].iter().enumerate() {
        let mut body = request(&l, &format!("f-{i}"), "sku-single", "mallory", &[code]);
        body["clientIp"] = json!("203.0.113.9");
        l.post("/v1/redemptions", &format!("f-{i}"), &body).await;
    }
    // A code's redemptions, by its keyed hash: the console's code lookup.
    let hash = promoseal_evaluator::codes::encode_hex(
        &promoseal_evaluator::codes::CodeSecret::from_bytes(crate::common::SECRET)
            .hash("ONCE-0001"),
    );
    let (s, r) = l.get(&format!("/v1/codes/{hash}/redemptions")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["redemptions"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["redemptions"][0]["orderId"], "f-0");
    assert_eq!(r["redemptions"][0]["promotionId"], "single");
    let (s, _) = l
        .get(&format!("/v1/codes/{}/redemptions", "0".repeat(64)))
        .await;
    assert_eq!(s, 400);
    let (s, f) = l
        .get("/v1/fraud-signals?codesPerAccount=2&refusals=1&attemptsPerIp=3")
        .await;
    assert_eq!(s, 200, "{f}");
    let kinds: Vec<(&str, &str)> = f["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["kind"].as_str().unwrap(), x["by"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("manyCodes", "account")), "{f}");
    assert!(kinds.contains(&("velocity", "ip")), "{f}");
    assert!(kinds.contains(&("repeatedRefusals", "customer")), "{f}");
    for (query, message) in [
        ("bogus=1", "unknown field `bogus`"),
        (
            "windowSeconds=-1",
            "windowSeconds: `-1` is not between 1 and 31622400",
        ),
        (
            "windowSeconds=0",
            "windowSeconds: `0` is not between 1 and 31622400",
        ),
        ("attemptsPerIp=0", "attemptsPerIp: must be at least 1"),
        ("attemptsPerIp=-3", "invalid value"),
    ] {
        let (s, e) = l.get(&format!("/v1/fraud-signals?{query}")).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalidQuery")),
            "{query}: {e}"
        );
        let m = e["error"]["message"].as_str().unwrap();
        assert!(m.contains(message), "{query}: {m}");
    }

    // The event log pages through every attempt with who, what and why.
    let (s, ev) = l.get("/v1/events?limit=2").await;
    assert_eq!((s, ev["events"].as_array().unwrap().len()), (200, 2));
    let (_, all) = l.get("/v1/events").await;
    let refused = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["outcome"] == "refused")
        .unwrap();
    assert_eq!(refused["reason"], "limitReached");
    assert_eq!(refused["ip"], "203.0.113.9");
    assert_eq!(refused["email"], "mallory@example.com");
    assert_eq!(
        refused["codes"].as_array().unwrap()[0]
            .as_str()
            .unwrap()
            .len(),
        24
    );
    l.stop().await;
}
