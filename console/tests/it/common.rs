//! A console served in-process on a real socket, over a fresh database of either kind and a
//! fresh project folder (examples/shop's settings, policy and samples, one approved promotion),
//! with a trust root of fixed keys, a clock the test sets, and clients signed in as its people.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use promoseal_console::{api, Clock, Settings, State, SCHEMA};
use promoseal_db::testing::TestDb;
use promoseal_db::{Backend, Db, Sync};
use promoseal_evaluator::codes::encode_hex;
use promoseal_evaluator::model::PromotionSpec;
use promoseal_evaluator::seal::{approval_digest, Envelope, EnvelopeType, SigningIdentity};
use promoseal_signer::project::ApprovalRecord;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// 2026-11-26T12:00:00Z.
pub const T0: i64 = 1_795_608_000;
pub const ORIGIN: &str = "http://console.test";
pub const CODE_SECRET: [u8; 32] = [9; 32];

/// The people and machines of the test root: (id, seed byte, roles, limits).
pub const KEYS: &[(&str, u8, &[&str])] = &[
    ("root-1", 1, &["root"]),
    ("release-1", 2, &["release"]),
    ("marketing-1", 3, &["marketing"]),
    ("finance-1", 4, &["finance"]),
    ("finance-2", 5, &["finance"]),
    ("viewer-1", 6, &["viewer"]),
    ("promotions-1", 8, &["promotions"]),
    ("edge-1", 7, &["edge"]),
];

pub fn key(id: &str) -> SigningIdentity {
    let seed = KEYS.iter().find(|k| k.0 == id).map(|k| k.1).unwrap();
    SigningIdentity::from_seed(id, [seed; 32])
}

fn limits(id: &str) -> Value {
    match id {
        // A finance partner who may approve budgets up to 20,000 USD.
        "finance-1" => json!({"maxBudget": {"USD": "20000"}}),
        // A junior partner: budgets up to 1,000 USD.
        "finance-2" => json!({"maxBudget": {"USD": "1000"}}),
        _ => Value::Null,
    }
}

/// examples/shop's approval rules (marketing always; finance above 20 %, 50 USD off or a
/// 10,000 USD budget) over the keys above.
pub fn root_envelope() -> Vec<u8> {
    let keys: Vec<Value> = KEYS
        .iter()
        .map(|(id, _, roles)| {
            let mut k = json!({"id": id, "publicKey": key(id).public_key(), "roles": roles});
            if !limits(id).is_null() {
                k["limits"] = limits(id);
            }
            k
        })
        .collect();
    let payload = json!({
        "format": 1, "version": 1, "keys": keys,
        "approvals": {
            "required": ["marketing"],
            "rules": [{"role": "finance", "percentAbove": "20", "amountAbove": {"USD": "50"}, "budgetAbove": {"USD": "10000"}}]
        }
    });
    Envelope::seal(
        EnvelopeType::Root,
        payload.to_string().as_bytes(),
        &[&key("root-1")],
    )
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The approved promotion the folder starts with.
pub fn tees() -> Value {
    json!({
        "id": "tees-15", "name": "Any tee for $15",
        "items": {"categories": ["tees"]},
        "reward": {"type": "fixedPrice", "price": "15"},
        "stacking": {"combinesWith": ["order", "shipping"]},
        "limits": {"budget": "3000"}
    })
}

/// A project folder like examples/shop with one approved promotion.
pub fn project() -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("promoseal-console-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let shop = repo().join("examples/shop");
    for sub in ["promotions", "approvals", "samples", "published", "codes"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for f in ["promoseal.toml", "policy.toml", "samples/typical.json"] {
        std::fs::copy(shop.join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("root.env"), root_envelope()).unwrap();
    let spec: PromotionSpec = serde_json::from_value(tees()).unwrap();
    std::fs::write(
        dir.join("promotions/tees.json"),
        serde_json::to_vec_pretty(&tees()).unwrap(),
    )
    .unwrap();
    for k in ["marketing-1", "finance-1"] {
        let record = ApprovalRecord {
            promotion: spec.id.clone(),
            approval: key(k).approve("USD", &spec),
            digest: encode_hex(&approval_digest("USD", &spec)),
            approved_at: "2026-11-20T00:00:00Z".into(),
        };
        std::fs::write(
            dir.join(format!("approvals/tees-15.{k}.json")),
            serde_json::to_vec_pretty(&record).unwrap(),
        )
        .unwrap();
    }
    // The code secret the edge and the ledger hold.
    std::fs::write(
        dir.join("codes.secret"),
        format!("{}\n", encode_hex(&CODE_SECRET)),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            dir.join("codes.secret"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    // The release key, as the console's server holds it (0600, as promoseal keygen writes it).
    let release = json!({"keyId": "release-1", "seed": encode_hex(&[2u8; 32])});
    let path = dir.join("release-1.key");
    std::fs::write(&path, release.to_string()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir
}

pub struct Console {
    pub base: String,
    pub state: Arc<State>,
    pub dir: PathBuf,
    pub db: TestDb,
}

impl Console {
    pub async fn start(backend: Backend) -> Console {
        let db = TestDb::new(backend).await;
        let dir = project();
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            project: dir.clone(),
            database_url: db.url.clone(),
            origin: ORIGIN.into(),
            release_key: Some(dir.join("release-1.key")),
            code_secret: Some(dir.join("codes.secret")),
            ledger_url: None,
            ledger_token: None,
            edge_kv: None,
            wrangler: "wrangler".into(),
            wrangler_config: "edge-worker/wrangler.toml".into(),
            edge_url: None,
            wasm_dir: "evaluator-wasm/npm/dist/authoring".into(),
            session_minutes: 60,
            sign_in_per_minute: 30,
        };
        let pool = Db::connect(&db.url, 4, Sync::Normal, &SCHEMA)
            .await
            .unwrap();
        let state = Arc::new(State::new(settings, pool, Clock::Fixed(T0.into())).unwrap());
        let app = api::router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Console {
            base: format!("http://{addr}"),
            state,
            dir,
            db,
        }
    }

    pub fn advance(&self, seconds: i64) {
        if let Clock::Fixed(t) = &self.state.clock {
            t.fetch_add(seconds, Ordering::SeqCst);
        }
    }

    /// A client that is not signed in.
    pub fn anonymous(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: reqwest::Client::new(),
            cookie: None,
            csrf: None,
        }
    }

    /// A client signed in as `id`, the way the browser does it.
    pub async fn signed_in(&self, id: &str) -> Client {
        let mut c = self.anonymous();
        let r = c.sign_in_as(id).await;
        assert_eq!(r.status, 200, "{}", r.text);
        c
    }

    pub async fn stop(self) {
        self.state.db.close().await;
        self.db.drop_now().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a request answered.
pub struct Answer {
    pub status: u16,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

/// The sign-in message: the domain, then the SHA-256 of the challenge text (docs/signing.md).
pub fn sign_in_signature(id: &str, text: &str) -> String {
    let seed = KEYS.iter().find(|k| k.0 == id).map(|k| k.1).unwrap();
    let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let mut m = b"promoseal/v1/console-sign-in\0".to_vec();
    m.extend_from_slice(&Sha256::digest(text.as_bytes()));
    STANDARD.encode(sk.sign(&m).to_bytes())
}

impl Client {
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header("origin", ORIGIN);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        Answer {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            text: res.text().await.unwrap(),
        }
    }

    /// A body that is not JSON (an upload).
    pub async fn send_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", ORIGIN)
            .header("content-type", content_type)
            .body(body);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        let res = req.send().await.unwrap();
        Answer {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            text: res.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send("PUT", path, Some(body)).await
    }

    pub async fn sign_in_as(&mut self, id: &str) -> Answer {
        let ch = self
            .post("/api/session/challenge", json!({"keyId": id}))
            .await;
        assert_eq!(ch.status, 200, "{}", ch.text);
        let ch = ch.json();
        let text = ch["text"].as_str().unwrap();
        let r = self
            .post(
                "/api/session",
                json!({"challengeId": ch["id"], "signature": sign_in_signature(id, text)}),
            )
            .await;
        if r.status == 200 {
            let cookie = r.headers.get("set-cookie").unwrap().to_str().unwrap();
            self.cookie = Some(cookie.split(';').next().unwrap().to_string());
            self.csrf = r.json()["csrf"].as_str().map(String::from);
        }
        r
    }

    /// Approves the terms under review the way the page does: the digest and the signature
    /// over the approval message, with the person's own key.
    pub async fn approve(&self, id: &str, as_key: &str) -> Answer {
        let d = self.get(&format!("/api/promotions/{id}")).await.json();
        let spec: PromotionSpec = serde_json::from_value(d["terms"].clone()).unwrap();
        let a = key(as_key).approve("USD", &spec);
        self.post(
            &format!("/api/promotions/{id}/approvals"),
            json!({"base": d["tag"], "digest": encode_hex(&approval_digest("USD", &spec)), "signature": a.signature}),
        )
        .await
    }
}

impl Client {
    /// Approves drafts in one batch: one signature by `as_key` over all their digests.
    pub async fn approve_batch(&self, ids: &[&str], as_key: &str) -> Answer {
        let mut specs = Vec::new();
        let mut items = Vec::new();
        for id in ids {
            let d = self.get(&format!("/api/promotions/{id}")).await.json();
            let spec: PromotionSpec = serde_json::from_value(d["terms"].clone())
                .unwrap_or_else(|e| panic!("{id}: {e}: {d}"));
            items.push(json!({"id": id, "base": d["tag"], "digest": encode_hex(&approval_digest("USD", &spec))}));
            specs.push(spec);
        }
        let refs: Vec<&PromotionSpec> = specs.iter().collect();
        let a = key(as_key).approve_all("USD", &refs);
        self.post(
            "/api/approvals",
            json!({"items": items, "signature": a.signature}),
        )
        .await
    }
}

/// "10 % off running shoes for orders over $50, ending Sunday night, at most 1,000 uses, one
/// per customer": the issue's example promotion, with a budget (without one, no finance key's
/// limit would cover it).
pub fn running_shoes() -> Value {
    json!({
        "id": "running-10", "name": "10 % off running shoes",
        "items": {"categories": ["running-shoes"]},
        "reward": {"type": "percentOff", "percent": "10"},
        "conditions": {"minSubtotal": "50"},
        "endsAt": "2026-11-30T04:59:59Z",
        "limits": {"totalUses": 1000, "perCustomer": 1, "budget": "5000"}
    })
}
