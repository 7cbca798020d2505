//! Every refusal: sign-in, CSRF and origin, invalid terms, stale edits, approvals that must not
//! count, and bad input. Each leaves nothing behind.

use promoseal_db::{both, Backend};
use promoseal_evaluator::codes::encode_hex;
use promoseal_evaluator::model::PromotionSpec;
use promoseal_evaluator::seal::approval_digest;
use serde_json::json;

use crate::common::{key, running_shoes, sign_in_signature, Console};

both!(
    sign_in_refusals_look_alike,
    writes_need_the_origin_and_the_csrf_token,
    invalid_terms_are_refused_field_by_field,
    stale_edits_are_refused_not_lost,
    approvals_that_must_not_count,
    bad_input_gets_a_clear_error,
);

async fn sign_in_refusals_look_alike(backend: Backend) {
    let c = Console::start(backend).await;
    let a = c.anonymous();
    let try_with = |id: &'static str, signer: &'static str| {
        let a = &a;
        async move {
            let ch = a
                .post("/api/session/challenge", json!({"keyId": id}))
                .await
                .json();
            let sig = sign_in_signature(signer, ch["text"].as_str().unwrap());
            let r = a
                .post(
                    "/api/session",
                    json!({"challengeId": ch["id"], "signature": sig}),
                )
                .await;
            (ch, r)
        }
    };
    // A key the root does not list (signed by another key), a wrong signature, a machine key.
    let (_, unknown) = try_with("nobody-1", "marketing-1").await;
    let (_, wrong) = try_with("finance-1", "marketing-1").await;
    let (_, machine) = try_with("edge-1", "edge-1").await;
    for r in [&unknown, &wrong, &machine] {
        assert_eq!((r.status, r.text.as_str()), (401, unknown.text.as_str()));
    }
    // A challenge is answered once, and within two minutes.
    let (ch, ok) = try_with("marketing-1", "marketing-1").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let sig = sign_in_signature("marketing-1", ch["text"].as_str().unwrap());
    let replay = a
        .post(
            "/api/session",
            json!({"challengeId": ch["id"], "signature": sig}),
        )
        .await;
    assert_eq!(
        (replay.status, replay.text.as_str()),
        (401, unknown.text.as_str())
    );
    let ch = a
        .post("/api/session/challenge", json!({"keyId": "marketing-1"}))
        .await
        .json();
    c.advance(121);
    let sig = sign_in_signature("marketing-1", ch["text"].as_str().unwrap());
    let late = a
        .post(
            "/api/session",
            json!({"challengeId": ch["id"], "signature": sig}),
        )
        .await;
    assert_eq!(late.status, 401);
    // The challenge names the console's origin.
    assert!(ch["text"]
        .as_str()
        .unwrap()
        .contains("origin: http://console.test"));
    // Attempts per client address are limited (30 per minute in this setup).
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(
            a.post("/api/session/challenge", json!({"keyId": "marketing-1"}))
                .await
                .status,
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    c.stop().await;
}

async fn writes_need_the_origin_and_the_csrf_token(backend: Backend) {
    let c = Console::start(backend).await;
    let mut m = c.signed_in("marketing-1").await;
    let csrf = m.csrf.take();
    let r = m
        .post("/api/promotions", json!({"terms": running_shoes()}))
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    m.csrf = Some("not-the-token".into());
    assert_eq!(
        m.post("/api/promotions", json!({"terms": running_shoes()}))
            .await
            .status,
        403
    );
    m.csrf = csrf;
    // Another origin, with the right token.
    let res = m
        .http
        .post(format!("{}/api/promotions", m.base))
        .header("origin", "https://evil.example")
        .header("cookie", m.cookie.clone().unwrap())
        .header("x-csrf-token", m.csrf.clone().unwrap())
        .header("content-type", "application/json")
        .body(json!({"terms": running_shoes()}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        !c.dir.join("drafts").exists()
            || std::fs::read_dir(c.dir.join("drafts"))
                .unwrap()
                .next()
                .is_none()
    );
    // Reading needs a session; pages carry the CSP.
    assert_eq!(c.anonymous().get("/api/promotions").await.status, 401);
    let page = c.anonymous().get("/").await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    c.stop().await;
}

async fn invalid_terms_are_refused_field_by_field(backend: Backend) {
    let c = Console::start(backend).await;
    let m = c.signed_in("marketing-1").await;
    let mut terms = running_shoes();
    terms["id"] = json!("Running Shoes!");
    terms["reward"]["percent"] = json!("150");
    let r = m.post("/api/promotions", json!({"terms": terms})).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (422, "invalidPromotion"),
        "{}",
        r.text
    );
    let paths: Vec<String> = r.json()["error"]["detail"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert!(paths.contains(&"id".to_string()), "{paths:?}");
    assert!(paths.iter().any(|p| p == "reward.percent"), "{paths:?}");
    let mut terms = running_shoes();
    terms["colour"] = json!("red");
    let r = m.post("/api/promotions", json!({"terms": terms})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("colour"), "{}", r.text);
    // A viewer cannot write at all.
    let v = c.signed_in("viewer-1").await;
    assert_eq!(
        v.post("/api/promotions", json!({"terms": running_shoes()}))
            .await
            .code(),
        "forbidden"
    );
    assert!(!c.dir.join("drafts/running-10.json").exists());
    c.stop().await;
}

async fn stale_edits_are_refused_not_lost(backend: Backend) {
    let c = Console::start(backend).await;
    let m = c.signed_in("marketing-1").await;
    let f = c.signed_in("finance-1").await;
    let created = m
        .post("/api/promotions", json!({"terms": running_shoes()}))
        .await;
    let base = created.json()["tag"].clone();
    // The same id again.
    let again = f
        .post("/api/promotions", json!({"terms": running_shoes()}))
        .await;
    assert_eq!(
        (again.status, again.code().as_str()),
        (409, "alreadyExists")
    );
    // Two editors from the same base: the second is refused and told what is there now.
    let mut a = running_shoes();
    a["name"] = json!("Running shoes, 10 % off");
    let first = m
        .put(
            "/api/promotions/running-10",
            json!({"terms": a, "base": base}),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let mut b = running_shoes();
    b["reward"]["percent"] = json!("12");
    let second = f
        .put(
            "/api/promotions/running-10",
            json!({"terms": b, "base": base}),
        )
        .await;
    assert_eq!((second.status, second.code().as_str()), (409, "staleEdit"));
    assert_eq!(
        second.json()["error"]["detail"]["current"],
        first.json()["tag"]
    );
    // A change made in the project folder (the CLI, git) counts the same.
    let path = c.dir.join("drafts/running-10.json");
    let mut on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    on_disk["name"] = json!("Edited in git");
    std::fs::write(&path, serde_json::to_vec_pretty(&on_disk).unwrap()).unwrap();
    let third = m
        .put(
            "/api/promotions/running-10",
            json!({"terms": a, "base": first.json()["tag"]}),
        )
        .await;
    assert_eq!(third.code(), "staleEdit");
    let d = m.get("/api/promotions/running-10").await.json();
    assert_eq!(d["terms"]["name"], "Edited in git");
    // The id of saved terms cannot change.
    let mut renamed = running_shoes();
    renamed["id"] = json!("running-11");
    let r = m
        .put(
            "/api/promotions/running-10",
            json!({"terms": renamed, "base": d["tag"]}),
        )
        .await;
    assert_eq!(r.code(), "invalidPromotion");
    c.stop().await;
}

async fn approvals_that_must_not_count(backend: Backend) {
    let c = Console::start(backend).await;
    let m = c.signed_in("marketing-1").await;
    // 25 % off with a 15,000 USD budget: marketing and finance must approve.
    let mut terms = running_shoes();
    terms["reward"]["percent"] = json!("25");
    terms["limits"]["budget"] = json!("15000");
    let tag = m
        .post("/api/promotions", json!({"terms": terms}))
        .await
        .json()["tag"]
        .clone();
    m.post("/api/promotions/running-10/submit", json!({"base": tag}))
        .await;

    // Beyond the approver's limit (finance-2 may approve budgets up to 1,000 USD).
    let junior = c.signed_in("finance-2").await;
    let r = junior.approve("running-10", "finance-2").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "approvalRefused"),
        "{}",
        r.text
    );
    assert_eq!(r.json()["error"]["detail"]["reason"], "beyondLimit");
    // A viewer cannot approve.
    let viewer = c.signed_in("viewer-1").await;
    let r = viewer.approve("running-10", "viewer-1").await;
    assert_eq!(
        (r.status, r.json()["error"]["detail"]["reason"].clone()),
        (403, json!("notAnApprover"))
    );
    // A signature by someone else's key (forged for this person), and one over other terms.
    let finance = c.signed_in("finance-1").await;
    let d = finance.get("/api/promotions/running-10").await.json();
    let spec: PromotionSpec = serde_json::from_value(d["terms"].clone()).unwrap();
    let digest = encode_hex(&approval_digest("USD", &spec));
    let forged = key("marketing-1").approve("USD", &spec).signature;
    let r = finance
        .post(
            "/api/promotions/running-10/approvals",
            json!({"base": d["tag"], "digest": digest, "signature": forged}),
        )
        .await;
    assert_eq!(
        r.json()["error"]["detail"]["reason"],
        "badSignature",
        "{}",
        r.text
    );
    let mut other = spec.clone();
    other.name = "something else".into();
    let over_other = key("finance-1").approve("USD", &other).signature;
    let r = finance
        .post(
            "/api/promotions/running-10/approvals",
            json!({"base": d["tag"], "digest": digest, "signature": over_other}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["detail"]["reason"].clone()),
        (422, json!("badSignature"))
    );
    // A digest of other terms than those in review.
    let r = finance
        .post(
            "/api/promotions/running-10/approvals",
            json!({"base": d["tag"], "digest": encode_hex(&approval_digest("USD", &other)), "signature": over_other}),
        )
        .await;
    assert_eq!(r.code(), "staleEdit");
    // Nothing above was kept.
    assert!(
        !c.dir.join("drafts/approvals").exists()
            || std::fs::read_dir(c.dir.join("drafts/approvals"))
                .unwrap()
                .next()
                .is_none()
    );

    // Marketing approves; then an edit makes that approval stale, visibly, and nothing is
    // released when finance approves the new terms alone.
    assert_eq!(m.approve("running-10", "marketing-1").await.status, 200);
    let d = m.get("/api/promotions/running-10").await.json();
    let mut edited = d["terms"].clone();
    edited["limits"]["budget"] = json!("14000");
    let saved = m
        .put(
            "/api/promotions/running-10",
            json!({"terms": edited, "base": d["tag"]}),
        )
        .await;
    let d = m.get("/api/promotions/running-10").await.json();
    assert_eq!(d["state"], "draft");
    assert_eq!(d["approvals"][0]["current"], false);
    m.post(
        "/api/promotions/running-10/submit",
        json!({"base": saved.json()["tag"]}),
    )
    .await;
    let r = finance.approve("running-10", "finance-1").await;
    assert_eq!(
        (r.json()["covered"].clone(), r.json()["waitingFor"].clone()),
        (json!(false), json!("marketing"))
    );
    assert!(!c.dir.join("promotions/running-10.json").exists());
    let release = c.signed_in("release-1").await;
    let rel = release.post("/api/releases", json!({})).await;
    assert_eq!(rel.json()["promotions"], 1, "{}", rel.text);
    c.stop().await;
}

async fn bad_input_gets_a_clear_error(backend: Backend) {
    let c = Console::start(backend).await;
    let m = c.signed_in("marketing-1").await;
    let raw = |ct: &'static str, body: Vec<u8>| {
        let m = &m;
        async move {
            let res = m
                .http
                .post(format!("{}/api/promotions", m.base))
                .header("origin", crate::common::ORIGIN)
                .header("cookie", m.cookie.clone().unwrap())
                .header("x-csrf-token", m.csrf.clone().unwrap())
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let v: serde_json::Value = res.json().await.unwrap();
            (status, v["error"]["code"].as_str().unwrap().to_string())
        }
    };
    assert_eq!(
        raw("application/json", b"{\"terms\": ".to_vec()).await,
        (400, "malformedJson".into())
    );
    assert_eq!(
        raw("text/plain", b"{}".to_vec()).await,
        (415, "unsupportedMediaType".into())
    );
    assert_eq!(
        raw(
            "application/json",
            b"{\"terms\": {}, \"extra\": 1}".to_vec()
        )
        .await
        .1,
        "invalidRequest"
    );
    let big = format!("{{\"terms\": {{\"id\": \"{}\"}}}}", "x".repeat(300 * 1024));
    assert_eq!(raw("application/json", big.into_bytes()).await.0, 413);
    let r = m.get("/api/nothing-here").await;
    assert_eq!((r.status, r.code().as_str()), (404, "notFound"));
    let r = m.get("/api/promotions/no-such").await;
    assert_eq!(r.status, 404);
    // Every refusal of the API is the JSON envelope: a method a route does not have (with
    // `Allow`), a path that is not UTF-8, a query the route does not take.
    let r = m.send("DELETE", "/api/promotions", None).await;
    assert_eq!((r.status, r.code().as_str()), (405, "methodNotAllowed"));
    assert_eq!(r.headers["allow"], "GET,HEAD,POST");
    let r = m.get("/api/promotions/%FF").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "invalidRequest"),
        "{}",
        r.text
    );
    let r = m.get("/api/audit?bogus=1").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "invalidQuery"),
        "{}",
        r.text
    );
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `bogus`"));
    let r = m
        .send_raw(
            "/api/codes/vip/import",
            "application/octet-stream",
            b"code\nA1\n".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "invalidQuery"),
        "{}",
        r.text
    );
    // An address with no page is a page that says so.
    let r = m.get("/no-such-page").await;
    assert_eq!(r.status, 404);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text.contains("Page not found"), "{}", r.text);
    let r = m
        .post("/api/promotions/running-10/comments", json!({"text": ""}))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        !c.dir.join("drafts").exists()
            || std::fs::read_dir(c.dir.join("drafts"))
                .unwrap()
                .next()
                .is_none()
    );
    c.stop().await;
}
