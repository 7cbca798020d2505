//! 64 concurrent clients against every kind of limit: exactly the limit is granted, never one
//! more, on both databases. Bounded in time by the request counts, not by sleeping.

use std::sync::Arc;

use ledger::db::Backend;
use serde_json::{json, Value};

use crate::common::{request, single_codes, Ledger};
use promoseal_db::both;

both!(
    three_instances_share_one_database,
    total_uses_hold_under_64_clients,
    total_uses_hold_one_redemption_per_transaction,
    per_customer_limits_hold_under_64_clients,
    single_use_codes_hold_under_64_clients,
    budget_holds_under_64_clients,
    duplicate_deliveries_apply_once,
    new_and_returning_customers_decided_in_batches,
    batches_never_deadlock_over_two_hot_promotions,
    replays_are_byte_identical_and_receipts_kept_once,
);

const CLIENTS: usize = 64;

/// Runs `CLIENTS` tasks; task `c` sends its `per_client` requests in order. Each request is
/// `(path, key, body)`; reservations that succeed are committed. Returns the committed ids.
async fn storm(
    l: &Arc<Ledger>,
    make: impl Fn(usize, usize) -> (String, Value) + Send + Sync + 'static,
    per_client: usize,
    reserve_some: bool,
) -> Vec<String> {
    let make = Arc::new(make);
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let l = l.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for i in 0..per_client {
                let (key, body) = make(c, i);
                // Odd clients reserve then commit; even clients redeem in one shot.
                let two_step = reserve_some && c % 2 == 1;
                let path = if two_step {
                    "/v1/reservations"
                } else {
                    "/v1/redemptions"
                };
                let (s, v) = l.post(path, &key, &body).await;
                match s {
                    201 if two_step => {
                        let id = v["id"].as_str().unwrap();
                        let (s, v) = l
                            .post(
                                &format!("/v1/redemptions/{id}/commit"),
                                &format!("{key}-c"),
                                &json!({}),
                            )
                            .await;
                        assert_eq!(s, 200, "{v}");
                        committed.push(id.to_string());
                    }
                    201 => committed.push(v["id"].as_str().unwrap().to_string()),
                    409 => assert_eq!(v["error"]["code"], "limitReached", "{v}"),
                    _ => panic!("unexpected {s}: {v}"),
                }
            }
            committed
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

async fn total_uses_hold_under_64_clients(backend: Backend) {
    let l = Arc::new(Ledger::start(backend).await);
    total_uses_hold(&l).await;
    // Group commit grouped: 64 clients' redemptions shared transactions.
    let ledger::group::WriterStats {
        batches,
        redemptions,
        ..
    } = l.state.writer.stats();
    assert!(
        batches < redemptions,
        "{redemptions} redemptions in {batches} batches"
    );
    Arc::into_inner(l).unwrap().stop().await;
}

/// The same limit with group commit off (`--max-batch 1`): one transaction per redemption.
async fn total_uses_hold_one_redemption_per_transaction(backend: Backend) {
    let settings = ledger::Settings {
        max_batch: 1,
        ..ledger::Settings::default()
    };
    let l = Arc::new(Ledger::start_with(backend, settings).await);
    total_uses_hold(&l).await;
    let stats = l.state.writer.stats();
    assert_eq!(stats.batches, stats.redemptions);
    Arc::into_inner(l).unwrap().stop().await;
}

/// Three ledger instances on one database, 64 clients spread over them against a 100-use
/// limit: exactly 100 commits. A version accepted by one instance is priced by the others,
/// and judged by them for rollbacks.
async fn three_instances_share_one_database(backend: Backend) {
    let a = Arc::new(Ledger::start(backend).await);
    let b = Arc::new(a.join().await);
    let c = Arc::new(a.join().await);
    // 64 clients, client n on instance n % 3.
    let instances = [a.clone(), b.clone(), c.clone()];
    let l2 = a.clone();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let at = instances[client % 3].clone();
        let l2 = l2.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = 0;
            for i in 0..3 {
                let body = request(
                    &l2,
                    &format!("o-{client}-{i}"),
                    "sku-total",
                    &format!("c{client}"),
                    &[],
                );
                let (s, v) = at
                    .post("/v1/redemptions", &format!("t-{client}-{i}"), &body)
                    .await;
                match s {
                    201 => won += 1,
                    409 => assert_eq!(v["error"]["code"], "limitReached", "{v}"),
                    _ => panic!("unexpected {s}: {v}"),
                }
            }
            won
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += t.await.unwrap();
    }
    assert_eq!(won, 100);
    assert_eq!(
        a.count("SELECT used FROM counters WHERE key = 'total/fixture/total'")
            .await,
        100
    );
    // Version 2, accepted at a: b prices a redemption naming it.
    let r = a
        .post_raw("/v1/bundles", None, crate::common::signed_bundle(2))
        .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let body = crate::common::request_for(
        &a,
        "o-v2",
        2,
        json!({"cart": {"currency": "USD", "lines": [
            {"id": "1", "sku": "sku-open", "unitPrice": "50.00", "quantity": 1}]},
            "context": {"now": a.now()}}),
    );
    let (s, v) = b.post("/v1/redemptions", "v2-at-b", &body).await;
    assert_eq!(s, 201, "{v}");
    // Version 3 at a; then version 2 at c, which never held 3, is a rollback.
    let r = a
        .post_raw("/v1/bundles", None, crate::common::signed_bundle(3))
        .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let r = c
        .post_raw("/v1/bundles", None, crate::common::signed_bundle(2))
        .await;
    assert_eq!(
        (r.0, r.1["error"]["detail"]["reason"].as_str()),
        (422, Some("rollback")),
        "{}",
        r.1
    );
    drop(instances);
    drop(l2);
    for l in [c, b] {
        Arc::into_inner(l).unwrap().stop().await;
    }
    Arc::into_inner(a).unwrap().stop().await;
}

/// 64 clients, three orders each, half reserving then committing, against a 100-use limit:
/// exactly 100 commits.
async fn total_uses_hold(l: &Arc<Ledger>) {
    let l2 = l.clone();
    let won = storm(
        l,
        move |c, i| {
            (
                format!("t-{c}-{i}"),
                request(
                    &l2,
                    &format!("o-{c}-{i}"),
                    "sku-total",
                    &format!("c{c}"),
                    &[],
                ),
            )
        },
        3,
        true,
    )
    .await;
    assert_eq!(won.len(), 100);
    assert_eq!(
        l.count("SELECT used FROM counters WHERE key = 'total/fixture/total'")
            .await,
        100
    );
    assert_eq!(
        l.count("SELECT COUNT(*) FROM redemptions WHERE state = 'committed'")
            .await,
        100
    );
    assert_eq!(
        l.count("SELECT COUNT(*) FROM events WHERE reason = 'limitReached'")
            .await,
        92
    );
}

async fn per_customer_limits_hold_under_64_clients(backend: Backend) {
    let l = Arc::new(Ledger::start(backend).await);
    let l2 = l.clone();
    // 8 customers, each shared by 8 clients sending 2 orders: 16 tries per customer, limit 3.
    let won = storm(
        &l,
        move |c, i| {
            (
                format!("p-{c}-{i}"),
                request(
                    &l2,
                    &format!("o-{c}-{i}"),
                    "sku-cust",
                    &format!("cust{}", c % 8),
                    &[],
                ),
            )
        },
        2,
        true,
    )
    .await;
    assert_eq!(won.len(), 24);
    for c in 0..8 {
        let n = l
            .count(&format!(
                "SELECT COUNT(*) FROM redemptions WHERE state = 'committed' AND customer_id = 'cust{c}'"
            ))
            .await;
        assert_eq!(n, 3, "customer cust{c}");
    }
    Arc::into_inner(l).unwrap().stop().await;
}

async fn single_use_codes_hold_under_64_clients(backend: Backend) {
    let l = Arc::new(Ledger::start(backend).await);
    let l2 = l.clone();
    let codes = single_codes();
    // Every client tries 4 codes; each of the 20 codes is tried by about 13 clients.
    let won = storm(
        &l,
        move |c, i| {
            let code = codes[(c * 4 + i) % codes.len()].clone();
            (
                format!("s-{c}-{i}"),
                request(
                    &l2,
                    &format!("o-{c}-{i}"),
                    "sku-single",
                    &format!("c{c}"),
                    &[code.as_str()],
                ),
            )
        },
        4,
        false,
    )
    .await;
    assert_eq!(won.len(), 20);
    assert_eq!(
        l.count("SELECT COUNT(DISTINCT code_hash) FROM redemption_promotions WHERE promotion_id = 'single'").await,
        20
    );
    Arc::into_inner(l).unwrap().stop().await;
}

async fn budget_holds_under_64_clients(backend: Backend) {
    let l = Arc::new(Ledger::start(backend).await);
    let l2 = l.clone();
    // $10 off each order against a $1,000 budget: 100 orders, not one cent more.
    let won = storm(
        &l,
        move |c, i| {
            (
                format!("b-{c}-{i}"),
                request(
                    &l2,
                    &format!("o-{c}-{i}"),
                    "sku-budget",
                    &format!("c{c}"),
                    &[],
                ),
            )
        },
        3,
        true,
    )
    .await;
    assert_eq!(won.len(), 100);
    assert_eq!(
        l.count("SELECT amount FROM counters WHERE key = 'budget/fixture/budget'")
            .await,
        100_000
    );
    assert_eq!(
        l.count(
            "SELECT CAST(SUM(discount_total) AS BIGINT) FROM redemptions WHERE state = 'committed'"
        )
        .await,
        100_000
    );
    Arc::into_inner(l).unwrap().stop().await;
}

async fn duplicate_deliveries_apply_once(backend: Backend) {
    let l = Arc::new(Ledger::start(backend).await);
    let body = request(&l, "o-dup", "sku-total", "c1", &[]);
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let l = l.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            l.post("/v1/redemptions", "same-key", &body).await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "every delivery gets the first answer"
    );
    assert_eq!(answers[0].0, 201);
    assert_eq!(l.count("SELECT COUNT(*) FROM redemptions").await, 1);
    assert_eq!(
        l.count("SELECT used FROM counters WHERE key = 'total/fixture/total'")
            .await,
        1
    );
    assert_eq!(l.count("SELECT COUNT(*) FROM events").await, 1);
    Arc::into_inner(l).unwrap().stop().await;
}

/// New or returning, decided for a whole batch at once: eight customers with a committed order
/// and eight without each place an order at the same moment; exactly the eight without are new.
async fn new_and_returning_customers_decided_in_batches(backend: Backend) {
    let l = Arc::new(Ledger::start(backend).await);
    for c in 0..8 {
        let body = request(&l, &format!("first-{c}"), "sku-none", &format!("c{c}"), &[]);
        let (s, v) = l
            .post("/v1/redemptions", &format!("k-first-{c}"), &body)
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let mut tasks = Vec::new();
    for c in 0..16 {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            let body = request(
                &l,
                &format!("second-{c}"),
                "sku-none",
                &format!("c{c}"),
                &[],
            );
            l.post("/v1/redemptions", &format!("k-second-{c}"), &body)
                .await
        }));
    }
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, 201, "{v}");
    }
    let (s, r) = l.get("/v1/reports?by=channel").await;
    assert_eq!(s, 200, "{r}");
    let web = &r["groups"][0];
    assert_eq!(
        (web["key"].as_str(), web["orders"].as_i64()),
        (Some("web"), Some(24)),
        "{r}"
    );
    // The first eight orders, and the second orders of c8 to c15.
    assert_eq!(
        (
            web["newCustomers"].as_i64(),
            web["returningCustomers"].as_i64()
        ),
        (Some(16), Some(8)),
        "{r}"
    );
}

/// Four writers deciding batches one by one (eight customers shared by 64 clients put the same
/// customer twice in most batches), each order taking one of two hot promotions, alternately: a
/// batch that took the first then the second while another took them the other way round would
/// wait for it until PostgreSQL broke the deadlock and the batch ran again. Every counter of a
/// batch is locked up front in key order, so no batch runs twice, and both limits hold.
async fn batches_never_deadlock_over_two_hot_promotions(backend: Backend) {
    let settings = ledger::Settings {
        writers: 4,
        ..ledger::Settings::default()
    };
    let l = Arc::new(Ledger::start_with(backend, settings).await);
    let l2 = l.clone();
    let won = storm(
        &l,
        move |c, i| {
            let sku = if (c + i) % 2 == 0 {
                "sku-total"
            } else {
                "sku-budget"
            };
            (
                format!("d-{c}-{i}"),
                request(
                    &l2,
                    &format!("o-{c}-{i}"),
                    sku,
                    &format!("cust{}", c % 8),
                    &[],
                ),
            )
        },
        8,
        false,
    )
    .await;
    // 100 uses of `total`, 100 orders of 10.00 from `budget`'s 1,000.00.
    assert_eq!(won.len(), 200);
    assert_eq!(
        l.count("SELECT used FROM counters WHERE key = 'total/fixture/total'")
            .await,
        100
    );
    let stats = l.state.writer.stats();
    assert!(
        stats.set_batches < stats.batches,
        "no batch was decided one by one: {stats:?}"
    );
    assert_eq!(stats.retries, 0, "{stats:?}");
    Arc::into_inner(l).unwrap().stop().await;
}

/// Every accepted answer shows its receipt; the idempotency row keeps it without (the
/// redemption row has it), and a replay puts it back byte for byte: answers from batches
/// written set by set, from batches decided one by one (64 clients, one customer: most batches
/// hold that customer twice), and from commits.
async fn replays_are_byte_identical_and_receipts_kept_once(backend: Backend) {
    let l = Arc::new(Ledger::start(backend).await);
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("b-{c}");
            let body = request(&l, &format!("o-{c}"), "sku-total", "same", &[]);
            let body = body.to_string().into_bytes();
            let (s, first, _) = l
                .post_text("/v1/redemptions", Some(&key), body.clone())
                .await;
            (key, body, s, first)
        }));
    }
    let mut firsts = Vec::new();
    for t in tasks {
        firsts.push(t.await.unwrap());
    }
    let stats = l.state.writer.stats();
    assert!(
        stats.set_batches < stats.batches,
        "no batch was decided one by one: {stats:?}"
    );
    // A reservation's commit answers the redemption too.
    let body = request(&l, "o-commit", "sku-total", "other", &[]);
    let (s, held) = l.post("/v1/reservations", "r-1", &body).await;
    assert_eq!(s, 201, "{held}");
    let commit = format!("/v1/redemptions/{}/commit", held["id"].as_str().unwrap());
    let (s, committed, _) = l.post_text(&commit, Some("c-1"), b"{}".to_vec()).await;
    assert_eq!(s, 200, "{committed}");
    firsts.push(("c-1".into(), b"{}".to_vec(), s, committed));
    let kept = l
        .count("SELECT COUNT(*) FROM idempotency WHERE receipt_of IS NOT NULL")
        .await;
    assert_eq!(kept, 66, "64 redemptions, a reservation and its commit");
    let whole = l
        .count("SELECT COUNT(*) FROM idempotency WHERE response LIKE '%\"applied\"%'")
        .await;
    assert_eq!(whole, 0, "an answer kept its receipt");
    for (key, body, status, first) in firsts {
        assert_eq!(status, if key == "c-1" { 200 } else { 201 }, "{first}");
        let path = if key == "c-1" {
            commit.as_str()
        } else {
            "/v1/redemptions"
        };
        let (s, again, replayed) = l.post_text(path, Some(&key), body).await;
        assert_eq!((s, replayed), (status, true));
        assert_eq!(again, first, "the replay of {key}");
    }
    Arc::into_inner(l).unwrap().stop().await;
}
