//! Regressions of issue 14 at the ledger, each named after what broke, on both databases: one
//! single-use code spelled three ways discounted three orders; a shopper saying "gold" got the
//! gold price; codes were kept in plaintext; a guessed code was told from an unknown one with
//! no attempt limit; a code deactivated in version 2 was redeemed through version 1; a lapsed
//! reservation was `invalidState` after the sweep; a lost database was a 500; a `text/plain`
//! body was accepted.

use promoseal_evaluator::codes::{mask, CodeSecret};
use promoseal_evaluator::model::CustomerSpec;
use promoseal_evaluator::seal::CustomerClaims;
use promoseal_evaluator::time::Instant;
use serde_json::{json, Value};
use sqlx::Connection as _;

use crate::common::*;
use ledger::db::Backend;
use promoseal_db::both;

both!(
    alias_spellings_of_a_used_single_use_code_are_refused,
    a_forged_customer_tier_gets_no_gold_price,
    codes_are_never_kept_in_plaintext,
    a_guessed_code_is_no_oracle_and_guessing_is_limited,
    a_newer_version_governs_redemptions_through_an_older_one,
    a_lapsed_reservation_is_always_reservation_expired,
    a_lost_database_answers_503_with_retry_after,
    bodies_that_are_not_json_are_refused_with_415,
);

/// Every spelling a shopper may type for a generated code: Crockford's aliases (`O` for `0`,
/// `I` and `L` for `1`) in the serial and the tag, lower case, surrounding space.
fn alias_spellings(code: &str, prefix: &str) -> Vec<String> {
    let body = &code[prefix.len()..];
    let mut out = vec![code.to_lowercase(), format!(" {code}  ")];
    for (digit, alias) in [('0', 'O'), ('0', 'o'), ('1', 'I'), ('1', 'L'), ('1', 'l')] {
        if body.contains(digit) {
            out.push(format!(
                "{prefix}{}",
                body.replace(digit, &alias.to_string())
            ));
        }
    }
    out
}

async fn alias_spellings_of_a_used_single_use_code_are_refused(backend: Backend) {
    let l = Ledger::start(backend).await;
    // Serial 1 reads "01": both a zero and a one to misspell.
    let code = CodeSecret::from_bytes(SECRET)
        .generate(&spring_campaign(), 1)
        .unwrap();
    let spellings = alias_spellings(&code, "SPR-");
    assert!(spellings.len() >= 5, "{spellings:?}");
    let (s, v) = l
        .post(
            "/v1/redemptions",
            "alias-0",
            &request(&l, "alias-0", "sku-gen", "c0", &[&code]),
        )
        .await;
    assert_eq!(
        (s, v["discountTotal"].as_str()),
        (201, Some("12.50")),
        "{v}"
    );
    for (i, spelled) in spellings.iter().enumerate() {
        let order = format!("alias-{}", i + 1);
        let body = request(&l, &order, "sku-gen", &format!("c{}", i + 1), &[spelled]);
        let (s, e) = l.post("/v1/redemptions", &order, &body).await;
        assert_eq!(s, 409, "{spelled}: {e}");
        assert_eq!(e["error"]["code"], "limitReached", "{spelled}: {e}");
        assert_eq!(e["error"]["detail"]["limit"], "singleUseCode", "{spelled}");
    }
    // One code, one counter, one hash in the log however it was typed.
    assert_eq!(
        l.count("SELECT COUNT(*) FROM counters WHERE key LIKE 'code/fixture/spring/%'")
            .await,
        1
    );
    assert_eq!(
        l.count("SELECT COUNT(DISTINCT codes) FROM events WHERE codes IS NOT NULL")
            .await,
        1
    );
    l.stop().await;
}

fn gold_claim(l: &Ledger, id: &str) -> String {
    let now = l.clock.load(std::sync::atomic::Ordering::SeqCst);
    shop_key().issue_customer_claim(&CustomerClaims {
        customer: CustomerSpec {
            id: Some(id.into()),
            tier: Some("gold".into()),
            ..CustomerSpec::default()
        },
        issued_at: Instant(now - 60),
        expires_at: Instant(now + 600),
    })
}

fn gold_input(l: &Ledger, customer: Value, claim: Option<&str>) -> Value {
    json!({
        "cart": {"currency": "USD", "lines": [
            {"id": "1", "sku": "sku-gold", "unitPrice": "50.00", "quantity": 1}
        ]},
        "customer": customer,
        "context": {"now": l.now(), "customerClaim": claim},
    })
}

async fn a_forged_customer_tier_gets_no_gold_price(backend: Backend) {
    let l = Ledger::start(backend).await;
    let says_gold = json!({"id": "eve", "tier": "gold"});
    // The browser's word alone: quoted at the gold price, refused.
    let body = request_for(&l, "g-1", 1, gold_input(&l, says_gold.clone(), None));
    assert_eq!(body["quote"]["discountTotal"], "15.00");
    let (s, e) = l.post("/v1/redemptions", "g-1", &body).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("amountMismatch")),
        "{e}"
    );
    // An altered claim, or one signed by a key without the shop role: refused the same way.
    let claim = gold_claim(&l, "ann");
    let (head, rest) = claim.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    let forged_payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap()
        .replace("\"ann\"", "\"eve\""),
    );
    let altered = format!("{head}.{forged_payload}.{sig}");
    let by_release = release_key().issue_customer_claim(&CustomerClaims {
        customer: CustomerSpec {
            id: Some("eve".into()),
            tier: Some("gold".into()),
            ..CustomerSpec::default()
        },
        issued_at: Instant(l.clock.load(std::sync::atomic::Ordering::SeqCst) - 60),
        expires_at: Instant(l.clock.load(std::sync::atomic::Ordering::SeqCst) + 600),
    });
    for (i, bad) in [altered, by_release].iter().enumerate() {
        let order = format!("g-bad-{i}");
        let body = request_for(&l, &order, 1, gold_input(&l, says_gold.clone(), Some(bad)));
        let (s, e) = l.post("/v1/redemptions", &order, &body).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (409, Some("amountMismatch")),
            "{e}"
        );
    }
    // The shop's claim: the gold price, and the customer recorded is the claim's.
    let input = gold_input(&l, json!({"id": "mallory", "tier": "gold"}), Some(&claim));
    let body = request_for(&l, "g-2", 1, input);
    let (s, v) = l.post("/v1/redemptions", "g-2", &body).await;
    assert_eq!(
        (s, v["discountTotal"].as_str()),
        (201, Some("15.00")),
        "{v}"
    );
    assert_eq!(v["customerId"], "ann");
    // Without a claim the price is the plain one, and who the request names still counts.
    let input = gold_input(&l, json!({"id": "bob", "tier": "silver"}), None);
    let (s, v) = l
        .post("/v1/redemptions", "g-3", &request_for(&l, "g-3", 1, input))
        .await;
    assert_eq!((s, v["discountTotal"].as_str()), (201, Some("0.00")), "{v}");
    assert_eq!(v["customerId"], "bob");
    l.stop().await;
}

async fn codes_are_never_kept_in_plaintext(backend: Backend) {
    let l = Ledger::start(backend).await;
    let body = request(&l, "p-1", "sku-single", "c1", &["once-0003"]);
    let (s, v) = l.post("/v1/redemptions", "p-1", &body).await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap();
    let (_, read) = l.get(&format!("/v1/redemptions/{id}")).await;
    for answer in [&v, &read] {
        let text = answer.to_string();
        assert!(!text.to_uppercase().contains("ONCE-0003"), "{text}");
        assert_eq!(answer["receipt"]["applied"][0]["code"], mask("ONCE-0003"));
        assert_eq!(answer["receipt"]["pendingLedger"][0]["code"], "ON*****03");
    }
    let stored = l
        .count("SELECT COUNT(*) FROM redemptions WHERE receipt LIKE '%ONCE-0003%'")
        .await;
    assert_eq!(stored, 0);
    let logged = l
        .count("SELECT COUNT(*) FROM events WHERE codes LIKE '%ONCE%'")
        .await;
    assert_eq!(logged, 0);
    if backend == Backend::Sqlite {
        use std::os::unix::fs::PermissionsExt as _;
        let path = l.db.url.strip_prefix("sqlite://").unwrap();
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path}");
    }
    l.stop().await;
}

/// Posts a redemption and answers the status, the body and `Retry-After`.
async fn post_full(l: &Ledger, key: &str, body: &Value) -> (u16, Value, Option<String>) {
    let r = l
        .http
        .post(format!("{}/v1/redemptions", l.base))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap(), retry)
}

async fn a_guessed_code_is_no_oracle_and_guessing_is_limited(backend: Backend) {
    let l = Ledger::start(backend).await;
    // A valid code sent with the quote of a cart without it (what a guesser sends): the
    // refusal says which fields differ and the caller's own values, nothing of the ledger's.
    let mut guess = request(&l, "o-1", "sku-single", "c1", &[]);
    guess["input"]["context"]["codes"] = json!(["ONCE-0004"]);
    let (s, e) = l.post("/v1/redemptions", "o-1", &guess).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("amountMismatch")),
        "{e}"
    );
    let differences = e["error"]["detail"]["differences"].as_array().unwrap();
    assert!(!differences.is_empty());
    for d in differences {
        assert!(d.get("ledger").is_none(), "{e}");
    }
    assert!(
        !e.to_string().contains("10.00"),
        "the code's discount leaked: {e}"
    );

    // One client trying many codes is slowed (20 a minute), with a Retry-After it can meet.
    let mut limited = None;
    for i in 0..25 {
        let mut body = request(&l, &format!("o-g-{i}"), "sku-total", "c2", &[]);
        body["input"]["context"]["codes"] = json!([format!("GUESS-{i:04}")]);
        body["clientIp"] = json!("2001:db8:7:7::1");
        let (s, _, retry) = post_full(&l, &format!("o-g-{i}"), &body).await;
        if s == 429 {
            limited = Some((i, retry));
            break;
        }
        assert_eq!(s, 201);
    }
    let (at, retry) = limited.expect("guessing was never limited");
    assert_eq!(at, 20);
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry));
    // The same /64 is the same client.
    let mut body = request(&l, "o-g-x", "sku-total", "c2", &["GUESS-X"]);
    body["clientIp"] = json!("2001:db8:7:7:ffff::2");
    assert_eq!(post_full(&l, "o-g-x", &body).await.0, 429);

    // One unknown code tried from many clients is limited (10 a minute)...
    let mut statuses = Vec::new();
    for i in 0..12 {
        let body = request(
            &l,
            &format!("o-u-{i}"),
            "sku-total",
            &format!("u{i}"),
            &["NOPE-1"],
        );
        statuses.push(post_full(&l, &format!("o-u-{i}"), &body).await.0);
    }
    assert_eq!(&statuses[..10], &[201; 10]);
    assert_eq!(statuses[10], 429);
    // ...but a valid code never is: it can only run into its own redemption limit.
    for i in 0..15 {
        let body = request(
            &l,
            &format!("o-s-{i}"),
            "sku-shared",
            &format!("s{i}"),
            &["SHARED5"],
        );
        let (s, e, _) = post_full(&l, &format!("o-s-{i}"), &body).await;
        if i < 5 {
            assert_eq!(s, 201, "{e}");
        } else {
            assert_eq!(
                (s, e["error"]["detail"]["limit"].as_str()),
                (409, Some("perCode"))
            );
        }
    }
    l.stop().await;
}

async fn a_newer_version_governs_redemptions_through_an_older_one(backend: Backend) {
    let l = Ledger::start(backend).await;
    let secret = CodeSecret::from_bytes(SECRET);
    let spring = |n| secret.generate(&spring_campaign(), n).unwrap();
    // Version 2: ONCE-0005 deactivated (its hash gone), the spring set revoked, `per-customer`
    // removed, `budget` paused (ended), `total` lowered from 100 uses to 1.
    let mut v2 = payload(2);
    let mut hashes: Vec<[u8; 12]> = single_codes()
        .iter()
        .filter(|c| *c != "ONCE-0005")
        .map(|c| secret.hash(c))
        .collect();
    hashes.push(secret.hash("SHARED5"));
    hashes.sort();
    v2["codeSets"][0]["hashes"] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        hashes.concat()
    ));
    v2["codeSets"][1]["active"] = json!(false);
    let promos = v2["promotions"].as_array_mut().unwrap();
    promos.retain(|p| p["id"] != "per-customer");
    for p in promos.iter_mut() {
        if p["id"] == "budget" {
            p["endsAt"] = json!(Instant(T0 - 60).to_string());
        }
        if p["id"] == "total" {
            p["limits"]["totalUses"] = json!(1);
        }
    }
    let (s, v, _) = l.post_raw("/v1/bundles", None, sign(&v2)).await;
    assert_eq!(s, 201, "{v}");

    // Deactivated and revoked codes are refused through version 1 at once: priced without
    // them, the quote that counted on them does not hold.
    for (order, sku, code) in [
        ("d-1", "sku-single", "ONCE-0005".to_string()),
        ("d-2", "sku-gen", spring(3)),
    ] {
        let body = request(&l, order, sku, "c1", &[&code]);
        assert_ne!(body["quote"]["discountTotal"], "0.00");
        let (s, e) = l.post("/v1/redemptions", order, &body).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (409, Some("amountMismatch")),
            "{code}: {e}"
        );
    }
    // A code version 2 keeps still works through version 1.
    let (s, _) = l
        .post(
            "/v1/redemptions",
            "d-3",
            &request(&l, "d-3", "sku-single", "c1", &["ONCE-0006"]),
        )
        .await;
    assert_eq!(s, 201);
    // The lowered limit holds for version 1 too.
    let (s, _) = l
        .post(
            "/v1/redemptions",
            "d-4",
            &request(&l, "d-4", "sku-total", "c1", &[]),
        )
        .await;
    assert_eq!(s, 201);
    let (s, e) = l
        .post(
            "/v1/redemptions",
            "d-5",
            &request(&l, "d-5", "sku-total", "c2", &[]),
        )
        .await;
    assert_eq!(
        (s, e["error"]["detail"]["limit"].as_str()),
        (409, Some("totalUses")),
        "{e}"
    );
    // Removed and paused promotions: carts priced just before the publish still redeem
    // within the grace window (15 minutes by default)...
    for (order, sku) in [("d-6", "sku-cust"), ("d-7", "sku-budget")] {
        let (s, e) = l
            .post(
                "/v1/redemptions",
                order,
                &request(&l, order, sku, "c3", &[]),
            )
            .await;
        assert_eq!(s, 201, "{sku}: {e}");
    }
    // ...and not after it.
    l.advance(900);
    for (order, sku, promotion) in [
        ("d-8", "sku-cust", "per-customer"),
        ("d-9", "sku-budget", "budget"),
    ] {
        let (s, e) = l
            .post(
                "/v1/redemptions",
                order,
                &request(&l, order, sku, "c4", &[]),
            )
            .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (409, Some("promotionWithdrawn")),
            "{e}"
        );
        assert_eq!(e["error"]["detail"]["promotionId"], promotion);
        assert_eq!(e["error"]["detail"]["currentVersion"], 2);
    }
    l.stop().await;
}

async fn a_lapsed_reservation_is_always_reservation_expired(backend: Backend) {
    let l = Ledger::start(backend).await;
    let mut ids = Vec::new();
    for order in ["r-1", "r-2"] {
        let mut body = request(&l, order, "sku-total", "c1", &[]);
        body["ttlSeconds"] = json!(60);
        let (s, v) = l.post("/v1/reservations", order, &body).await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    l.advance(61);
    // Before the sweeper released it...
    let (s, e) = l
        .post(
            &format!("/v1/redemptions/{}/commit", ids[0]),
            "rc-1",
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("reservationExpired")),
        "{e}"
    );
    // ...and after.
    let now = l.clock.load(std::sync::atomic::Ordering::SeqCst);
    assert!(l.state.db.sweep(now).await.unwrap() >= 1);
    let (s, e) = l
        .post(
            &format!("/v1/redemptions/{}/commit", ids[1]),
            "rc-2",
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("reservationExpired")),
        "{e}"
    );
    l.stop().await;
}

async fn a_lost_database_answers_503_with_retry_after(backend: Backend) {
    let l = Ledger::start(backend).await;
    let body = request(&l, "lost-1", "sku-total", "c1", &[]);
    let admin = l.db.admin().map(|(a, n)| (a.to_string(), n.to_string()));
    match &admin {
        // The server stops taking connections to this database and drops the ledger's.
        Some((admin, name)) => {
            let mut c = sqlx::AnyConnection::connect(admin).await.unwrap();
            for sql in [
                format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ),
            ] {
                sqlx::query(&sql).execute(&mut c).await.unwrap();
            }
        }
        // The database goes away under the running service.
        None => l.state.db.close().await,
    }
    let (s, e, retry) = post_full(&l, "lost-1", &body).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{e}"
    );
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(
        e["error"]["message"],
        "the ledger is busy; retry with the same idempotency key"
    );
    let (s, h) = l.get("/healthz").await;
    assert_eq!(s, 503, "{h}");
    if let Some((admin, name)) = &admin {
        // Back: the same request with the same key is decided, once.
        let mut c = sqlx::AnyConnection::connect(admin).await.unwrap();
        sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .execute(&mut c)
            .await
            .unwrap();
        let (s, v, _) = post_full(&l, "lost-1", &body).await;
        assert_eq!(s, 201, "{v}");
        let (s, _, _) = post_full(&l, "lost-1", &body).await;
        assert_eq!(s, 201);
        assert_eq!(l.count("SELECT COUNT(*) FROM redemptions").await, 1);
    }
    l.stop().await;
}

async fn bodies_that_are_not_json_are_refused_with_415(backend: Backend) {
    let l = Ledger::start(backend).await;
    let body = request(&l, "t-1", "sku-total", "c1", &[]).to_string();
    for kind in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut r = l
            .http
            .post(format!("{}/v1/redemptions", l.base))
            .header("Idempotency-Key", "t-1")
            .body(body.clone());
        if let Some(k) = kind {
            r = r.header("Content-Type", k);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 415, "{kind:?}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "unsupportedMediaType");
    }
    let r = l
        .http
        .post(format!("{}/v1/redemptions", l.base))
        .header("Idempotency-Key", "t-1")
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(l.count("SELECT COUNT(*) FROM redemptions").await, 1);
    l.stop().await;
}
