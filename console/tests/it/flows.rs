//! The whole flow: request, review, approvals in two roles, release; what the CLI sees.

use promoseal_db::{both, Backend};
use promoseal_evaluator::codes::encode_hex;
use promoseal_evaluator::seal::approval_digest;
use promoseal_signer::project::Project;
use serde_json::{json, Value};

use crate::common::{running_shoes, Console};

both!(
    request_review_approve_publish,
    a_change_to_approved_terms_waits_for_its_own_approvals,
    the_audit_log_is_a_chain_and_tampering_shows,
    sessions_end_on_sign_out,
    rollback_publishes_earlier_terms_as_a_new_version,
    releases_sent_together_run_one_at_a_time,
    a_batch_approves_several_with_one_signature_or_none,
);

async fn request_review_approve_publish(backend: Backend) {
    let c = Console::start(backend).await;
    let marketing = c.signed_in("marketing-1").await;
    let finance = c.signed_in("finance-1").await;
    let release = c.signed_in("release-1").await;

    // The request: a deeper discount than marketing alone may approve (25 % > 20 %).
    let mut terms = running_shoes();
    terms["reward"]["percent"] = json!("25");
    let created = marketing
        .post("/api/promotions", json!({"terms": terms}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let tag = created.json()["tag"].as_str().unwrap().to_string();
    assert!(c.dir.join("drafts/running-10.json").exists());

    // The review the server gives is the core's: plain words, approvers, digest.
    let d = marketing.get("/api/promotions/running-10").await.json();
    assert_eq!(d["state"], "draft");
    let roles: Vec<&str> = d["review"]["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["marketing", "finance"]);
    assert!(d["review"]["words"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("25")));

    // Only terms in review can be approved.
    assert_eq!(
        marketing.approve("running-10", "marketing-1").await.status,
        409
    );
    let submitted = marketing
        .post("/api/promotions/running-10/submit", json!({"base": tag}))
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.text);

    let m = marketing.approve("running-10", "marketing-1").await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(m.json()["covered"], false);
    assert_eq!(m.json()["waitingFor"], "finance");
    // Not releasable yet: the CLI does not see it among the promotions.
    let project = Project::load(&c.dir).unwrap();
    assert!(!project.promotions.iter().any(|p| p.id == "running-10"));

    let f = finance.approve("running-10", "finance-1").await;
    assert_eq!(f.status, 200, "{}", f.text);
    assert_eq!(f.json()["covered"], true);
    assert_eq!(f.json()["state"], "approved");

    // One source of truth: the CLI's project now holds the terms with current approvals.
    let project = Project::load(&c.dir).unwrap();
    assert!(project.promotions.iter().any(|p| p.id == "running-10"));
    let (current, stale) = project.approvals().unwrap();
    assert!(stale.is_empty(), "{stale:?}");
    let running = project.promotion("running-10").unwrap();
    let digest = encode_hex(&approval_digest(&project.config.currency, running));
    assert_eq!(
        current
            .iter()
            .filter(|a| a.digests.contains(&digest))
            .count(),
        2
    );

    // Marketing cannot publish; the release role can.
    assert_eq!(
        marketing.post("/api/releases", json!({})).await.code(),
        "forbidden"
    );
    let r = release.post("/api/releases", json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["version"], 1);
    assert_eq!(r.json()["promotions"], 2);
    assert!(c.dir.join("published/edge-v1.bundle").exists());
    let list = release.get("/api/promotions").await.json();
    let states: Vec<(String, String)> = list["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().into(),
                p["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("running-10".to_string(), "live".to_string()),
            ("tees-15".into(), "live".into())
        ]
    );

    // Pausing publishes the next version without it; resuming, with it again.
    let tag = release.get("/api/promotions/running-10").await.json()["tag"].clone();
    let p = release
        .post("/api/promotions/running-10/pause", json!({"base": tag}))
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(
        (p.json()["version"].clone(), p.json()["promotions"].clone()),
        (json!(2), json!(1))
    );
    let d = release.get("/api/promotions/running-10").await.json();
    assert_eq!(d["state"], "paused");
    // What cannot be paused, resumed or withdrawn says why: no such promotion, or not in
    // that state (running-10 is paused, tees-15 is live, neither has a draft).
    for (who, path, status, code) in [
        (&release, "/api/promotions/nope/pause", 404, "notFound"),
        (&release, "/api/promotions/nope/resume", 404, "notFound"),
        (
            &release,
            "/api/promotions/running-10/pause",
            409,
            "invalidState",
        ),
        (
            &release,
            "/api/promotions/tees-15/resume",
            409,
            "invalidState",
        ),
        (&marketing, "/api/promotions/nope/withdraw", 404, "notFound"),
        (
            &marketing,
            "/api/promotions/running-10/withdraw",
            409,
            "invalidState",
        ),
    ] {
        let r = who.post(path, json!({"base": d["tag"]})).await;
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {}",
            r.text
        );
    }
    let p = release
        .post(
            "/api/promotions/running-10/resume",
            json!({"base": d["tag"]}),
        )
        .await;
    assert_eq!(
        (p.json()["version"].clone(), p.json()["promotions"].clone()),
        (json!(3), json!(2))
    );
    c.stop().await;
}

async fn a_change_to_approved_terms_waits_for_its_own_approvals(backend: Backend) {
    let c = Console::start(backend).await;
    let marketing = c.signed_in("marketing-1").await;
    let finance = c.signed_in("finance-1").await;
    let d = marketing.get("/api/promotions/tees-15").await.json();
    assert_eq!(d["state"], "approved");
    let mut terms = d["terms"].clone();
    terms["reward"]["price"] = json!("12");
    let saved = marketing
        .put(
            "/api/promotions/tees-15",
            json!({"terms": terms, "base": d["tag"]}),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    // The approved terms stay what releases carry until the change is approved.
    let project = Project::load(&c.dir).unwrap();
    let tees = project.promotion("tees-15").unwrap();
    assert_eq!(serde_json::to_value(&tees.reward).unwrap()["price"], "15");
    let list = marketing.get("/api/promotions").await.json();
    assert_eq!(list["promotions"][0]["change"], "draft");

    let tag = saved.json()["tag"].clone();
    marketing
        .post("/api/promotions/tees-15/submit", json!({"base": tag}))
        .await;
    // A fixed price counts as 100 % off: finance must approve too.
    assert_eq!(
        marketing.approve("tees-15", "marketing-1").await.json()["waitingFor"],
        "finance"
    );
    assert_eq!(
        finance.approve("tees-15", "finance-1").await.json()["covered"],
        true
    );
    let project = Project::load(&c.dir).unwrap();
    let tees = project.promotion("tees-15").unwrap();
    assert_eq!(serde_json::to_value(&tees.reward).unwrap()["price"], "12");
    // The old approvals went with the old terms: none is stale, the new one is current.
    let (current, stale) = project.approvals().unwrap();
    assert!(stale.is_empty(), "{stale:?}");
    assert_eq!(current.len(), 2);
    c.stop().await;
}

async fn the_audit_log_is_a_chain_and_tampering_shows(backend: Backend) {
    let c = Console::start(backend).await;
    let marketing = c.signed_in("marketing-1").await;
    let created = marketing
        .post("/api/promotions", json!({"terms": running_shoes()}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let tag = created.json()["tag"].clone();
    marketing
        .post(
            "/api/promotions/running-10/comments",
            json!({"text": "Ends Sunday night, as agreed."}),
        )
        .await;
    marketing
        .post("/api/promotions/running-10/submit", json!({"base": tag}))
        .await;
    marketing.approve("running-10", "marketing-1").await;

    let log = marketing.get("/api/audit").await.json();
    assert_eq!(log["intact"], true, "{log}");
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "signedIn",
            "created",
            "commented",
            "submitted",
            "approved",
            "approvalsComplete"
        ]
    );
    let history = marketing.get("/api/promotions/running-10").await.json()["history"].clone();
    assert_eq!(history.as_array().unwrap().len(), 5);
    let approved = &history[3];
    assert_eq!(approved["actor"], "marketing-1");
    assert!(approved["detail"]["digest"].as_str().unwrap().len() == 64);

    let export = marketing.get("/api/audit?format=jsonl").await;
    assert_eq!(export.status, 200);
    assert_eq!(export.text.lines().count(), 6);
    assert!(export.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));

    // Someone edits a comment in the database: the chain says where.
    let mut tx = c.state.db.begin().await.unwrap();
    sqlx::query("UPDATE audit SET detail = $1 WHERE seq = 3")
        .bind(r#"{"text":"Ends Monday."}"#)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let log = marketing.get("/api/audit").await.json();
    assert_eq!(log["intact"], false);
    assert_eq!(log["break"]["seq"], 3);
    c.stop().await;
}

async fn sessions_end_on_sign_out(backend: Backend) {
    let c = Console::start(backend).await;
    let marketing = c.signed_in("marketing-1").await;
    assert_eq!(
        marketing.get("/api/session").await.json()["roles"],
        json!(["marketing"])
    );
    let out = marketing.send("DELETE", "/api/session", None).await;
    assert_eq!(out.status, 204, "{}", out.text);
    assert_eq!(marketing.get("/api/promotions").await.status, 401);
    // Who is signed in: no one, said with a 200 (the sign-in page asks).
    let me = marketing.get("/api/session").await;
    assert_eq!((me.status, me.json()), (200, json!({"signedIn": false})));
    // Sessions expire.
    let finance = c.signed_in("finance-1").await;
    c.advance(61 * 60);
    assert_eq!(finance.get("/api/promotions").await.status, 401);
    c.stop().await;
}

async fn rollback_publishes_earlier_terms_as_a_new_version(backend: Backend) {
    let c = Console::start(backend).await;
    let marketing = c.signed_in("marketing-1").await;
    let finance = c.signed_in("finance-1").await;
    let release = c.signed_in("release-1").await;
    assert_eq!(
        release.post("/api/releases", json!({})).await.json()["version"],
        1
    );

    // Version 2: a new promotion, and tees at 12 instead of 15.
    let tag = marketing
        .post("/api/promotions", json!({"terms": running_shoes()}))
        .await
        .json()["tag"]
        .clone();
    marketing
        .post("/api/promotions/running-10/submit", json!({"base": tag}))
        .await;
    assert_eq!(
        marketing.approve("running-10", "marketing-1").await.json()["covered"],
        true
    );
    let d = marketing.get("/api/promotions/tees-15").await.json();
    let mut terms = d["terms"].clone();
    terms["reward"]["price"] = json!("12");
    let tag = marketing
        .put(
            "/api/promotions/tees-15",
            json!({"terms": terms, "base": d["tag"]}),
        )
        .await
        .json()["tag"]
        .clone();
    marketing
        .post("/api/promotions/tees-15/submit", json!({"base": tag}))
        .await;
    marketing.approve("tees-15", "marketing-1").await;
    assert_eq!(
        finance.approve("tees-15", "finance-1").await.json()["covered"],
        true
    );
    let v2 = release.post("/api/releases", json!({})).await.json();
    assert_eq!(
        (v2["version"].clone(), v2["promotions"].clone()),
        (json!(2), json!(2))
    );

    // Only the release role rolls back; a version that was never released is not found.
    assert_eq!(
        marketing
            .post("/api/releases/rollback", json!({"version": 1}))
            .await
            .status,
        403
    );
    assert_eq!(
        release
            .post("/api/releases/rollback", json!({"version": 9}))
            .await
            .status,
        404
    );
    // The current version is no rollback.
    let same = release
        .post("/api/releases/rollback", json!({"version": 2}))
        .await;
    assert_eq!(
        (same.status, same.json()["error"]["code"].clone()),
        (409, json!("invalidState")),
        "{}",
        same.text
    );
    let v3 = release
        .post("/api/releases/rollback", json!({"version": 1}))
        .await;
    assert_eq!(v3.status, 201, "{}", v3.text);
    assert_eq!(
        (
            v3.json()["version"].clone(),
            v3.json()["promotions"].clone()
        ),
        (json!(3), json!(1))
    );
    let project = Project::load(&c.dir).unwrap();
    let tees = project.promotion("tees-15").unwrap();
    assert_eq!(serde_json::to_value(&tees.reward).unwrap()["price"], "15");
    let (current, stale) = project.approvals().unwrap();
    assert!(stale.is_empty(), "{stale:?}");
    assert_eq!(current.len(), 2);
    assert_eq!(
        release.get("/api/promotions/running-10").await.json()["state"],
        "paused"
    );
    assert_eq!(
        release.get("/api/promotions/tees-15").await.json()["state"],
        "live"
    );
    // Each promotion the rollback changed has it in its own history.
    let last = |d: &Value| d["history"].as_array().unwrap().last().cloned().unwrap();
    let running = release.get("/api/promotions/running-10").await.json();
    assert_eq!(
        (
            last(&running)["action"].clone(),
            last(&running)["detail"].clone()
        ),
        (json!("rolledBack"), json!({"to": 1, "outcome": "paused"}))
    );
    let tees = release.get("/api/promotions/tees-15").await.json();
    assert_eq!(
        last(&tees)["detail"],
        json!({"to": 1, "outcome": "restored"})
    );

    // Back to version 2, later: the approvals keep the times they were made (running-10's
    // from its paused record, the $12 tees' from the log), not the rollback's.
    let approved_v2 = |d: &Value| {
        d["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["approvedAt"].clone())
            .collect::<Vec<_>>()
    };
    let before = approved_v2(&running);
    c.advance(600);
    let v4 = release
        .post("/api/releases/rollback", json!({"version": 2}))
        .await;
    assert_eq!(v4.json()["promotions"], json!(2), "{}", v4.text);
    let running = release.get("/api/promotions/running-10").await.json();
    assert_eq!(running["state"], "live");
    assert_eq!(approved_v2(&running), before);
    let tees = release.get("/api/promotions/tees-15").await.json();
    let at: Vec<Value> = approved_v2(&tees);
    assert_eq!(at.len(), 2, "{tees}");
    assert!(at.iter().all(|t| before.contains(t)), "{at:?} {before:?}");
    c.stop().await;
}

/// Releases run one at a time: a publish, a rollback and a pause sent together each sign what
/// they mean (the rollback never signs another action's pause), and the log lists them in
/// version order.
async fn releases_sent_together_run_one_at_a_time(backend: Backend) {
    let c = Console::start(backend).await;
    let release = c.signed_in("release-1").await;
    // Versions 1 and 2: the rollback to 1 is to an earlier version whenever it runs.
    for _ in 0..2 {
        assert_eq!(release.post("/api/releases", json!({})).await.status, 201);
    }
    let tees = release.get("/api/promotions/tees-15").await.json();
    let (a, b, p, d) = tokio::join!(
        release.post("/api/releases", json!({})),
        release.post("/api/releases/rollback", json!({"version": 1})),
        release.post(
            "/api/promotions/tees-15/pause",
            json!({"base": tees["approvedTag"]})
        ),
        release.post("/api/releases", json!({})),
    );
    for r in [&a, &b, &d] {
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // The pause runs before the rollback, or after it and finds the terms it named rewritten.
    assert!(
        p.status == 200
            || (p.status, p.json()["error"]["code"].clone()) == (409, json!("staleEdit")),
        "{}",
        p.text
    );
    // Version 1 carried tees-15: its rollback does too, whenever the pause ran.
    assert_eq!(b.json()["promotions"], json!(1), "{}", b.text);
    let mut versions: Vec<u64> = [&a, &b, &p, &d]
        .iter()
        .filter_map(|r| r.json()["version"].as_u64())
        .collect();
    versions.sort_unstable();
    let expected: Vec<u64> = (3..3 + versions.len() as u64).collect();
    assert_eq!(versions, expected);
    let log = release.get("/api/audit").await.json();
    let published: Vec<u64> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "published")
        .map(|e| e["detail"]["version"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (1..3 + versions.len() as u64).collect();
    assert_eq!(published, expected);
    c.stop().await;
}

/// Approvals in one batch (`POST /api/approvals`): one signature over several drafts' digests;
/// a refusal for one refuses the whole batch and records nothing; the release carries the
/// batch once.
async fn a_batch_approves_several_with_one_signature_or_none(backend: Backend) {
    let c = Console::start(backend).await;
    let marketing = c.signed_in("marketing-1").await;
    let junior = c.signed_in("finance-2").await;
    let release = c.signed_in("release-1").await;
    // Three drafts in review: two that marketing alone approves, one 25 % with a budget of
    // 5,000 USD that finance must approve too (finance-2's limit is 1,000).
    let mut deep = running_shoes();
    deep["id"] = json!("deep-25");
    deep["reward"]["percent"] = json!("25");
    deep["limits"]["budget"] = json!("5000");
    let mut socks = running_shoes();
    socks["id"] = json!("socks-5");
    socks["reward"]["percent"] = json!("5");
    for terms in [running_shoes(), socks, deep] {
        let created = marketing
            .post("/api/promotions", json!({"terms": terms}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = terms["id"].as_str().unwrap().to_string();
        let r = marketing
            .post(
                &format!("/api/promotions/{id}/submit"),
                json!({"base": created.json()["tag"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    // Finance-2 cannot cover deep-25: the batch is refused whole, naming it; nothing is kept.
    let r = junior.approve_batch(&["deep-25"], "finance-2").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "approvalRefused"),
        "{}",
        r.text
    );
    assert_eq!(r.json()["error"]["detail"]["promotion"], "deep-25");
    // Marketing's batch naming an unknown draft, or one twice: refused before any signature check.
    let unknown = marketing
        .post(
            "/api/approvals",
            json!({"items": [{"id": "nope", "base": "x", "digest": "00"}], "signature": "AA=="}),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    // A draft changed since the page read it: the refusal names it. A signature that is not
    // the key's over the batch is the batch's fault, not its first promotion's.
    let stale = marketing
        .post(
            "/api/approvals",
            json!({"items": [{"id": "socks-5", "base": "old", "digest": "00"}], "signature": "AA=="}),
        )
        .await;
    assert_eq!(
        (stale.status, stale.code().as_str()),
        (409, "staleEdit"),
        "{}",
        stale.text
    );
    assert_eq!(stale.json()["error"]["detail"]["promotion"], "socks-5");
    assert!(stale.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("`socks-5`: "));
    let d = marketing.get("/api/promotions/socks-5").await.json();
    let forged = marketing
        .post(
            "/api/approvals",
            json!({"items": [{"id": "socks-5", "base": d["tag"], "digest": d["digest"]}],
                   "signature": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 64])}),
        )
        .await;
    assert_eq!(
        forged.json()["error"]["detail"]["reason"],
        "badSignature",
        "{}",
        forged.text
    );
    assert!(forged.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("the batch's one signature: "));
    let twice = marketing
        .approve_batch(&["running-10", "running-10"], "marketing-1")
        .await;
    assert_eq!(twice.status, 400, "{}", twice.text);
    assert!(
        !c.dir.join("drafts/approvals").exists()
            || std::fs::read_dir(c.dir.join("drafts/approvals"))
                .unwrap()
                .next()
                .is_none()
    );

    // Marketing approves all three with one signature.
    let r = marketing
        .approve_batch(&["running-10", "socks-5", "deep-25"], "marketing-1")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.json()["results"].clone();
    let by_id = |id: &str| {
        results
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("running-10")["state"], "approved");
    assert_eq!(by_id("socks-5")["state"], "approved");
    assert_eq!(by_id("deep-25")["waitingFor"], "finance");
    // The records share one signature over three digests.
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(c.dir.join(p)).unwrap()).unwrap()
    };
    let (a, b) = (
        read("approvals/running-10.marketing-1.json"),
        read("approvals/socks-5.marketing-1.json"),
    );
    assert_eq!(a["signature"], b["signature"]);
    assert_eq!(a["digests"].as_array().unwrap().len(), 3);

    // The release carries the batch once, and the two approved promotions.
    let rel = release.post("/api/releases", json!({})).await;
    assert_eq!(rel.status, 201, "{}", rel.text);
    let payload: serde_json::Value = {
        let bytes = std::fs::read(c.dir.join("published/edge.bundle")).unwrap();
        let nl = bytes.iter().position(|b| *b == b'\n').unwrap();
        serde_json::from_slice(&bytes[nl + 1..]).unwrap()
    };
    // (The fixture's tees-15 carries its own marketing approval: a batch of one.)
    let ours: Vec<&serde_json::Value> = payload["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["keyId"] == "marketing-1" && x["digests"] == a["digests"])
        .collect();
    assert_eq!(ours.len(), 1, "{}", payload["approvals"]);
    assert_eq!(ours[0]["signature"], a["signature"]);
    c.stop().await;
}
