//! A ledger served in-process on a real socket, over a fresh database of either kind, with a
//! clock the test sets, and the signed fixture bundle it redeems against.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use ledger::db::{Backend, Sync};
use ledger::{Settings, State};
use promoseal_evaluator::codes::CodeSecret;
use promoseal_evaluator::seal::{Envelope, EnvelopeType, SigningIdentity, TrustRoot};
use promoseal_evaluator::time::Instant;
use serde_json::{json, Value};

/// 2026-11-21T15:00:00Z: the fixture clock's start.
pub const T0: i64 = 1_795_273_200;

pub const SECRET: [u8; 32] = [7; 32];

/// Single-use codes of promotion `single`.
pub fn single_codes() -> Vec<String> {
    (1..=20).map(|i| format!("ONCE-{i:04}")).collect()
}

/// A generated campaign of single-use codes (promotion `spring`, on `sku-gen`).
pub fn spring_campaign() -> promoseal_evaluator::codes::Campaign {
    promoseal_evaluator::codes::Campaign::new("spring", "SPR-", "", 1000, 10).unwrap()
}

pub fn release_key() -> SigningIdentity {
    SigningIdentity::from_seed("release-1", [2; 32])
}

/// The shop backend's key: it signs customer claims.
pub fn shop_key() -> SigningIdentity {
    SigningIdentity::from_seed("shop-1", [3; 32])
}

pub fn root_envelope() -> Vec<u8> {
    let root = SigningIdentity::from_seed("root-1", [1; 32]);
    let payload = json!({
        "format": 1, "version": 1,
        "keys": [
            {"id": "root-1", "publicKey": root.public_key(), "roles": ["root"]},
            {"id": "release-1", "publicKey": release_key().public_key(), "roles": ["release"]},
            {"id": "shop-1", "publicKey": shop_key().public_key(), "roles": ["shop"]},
        ],
    });
    Envelope::seal(EnvelopeType::Root, payload.to_string().as_bytes(), &[&root])
}

fn promo(id: &str, sku: &str, reward: Value, limits: Value) -> Value {
    json!({
        "id": id, "name": id, "campaign": if id.starts_with("camp-") { "spring" } else { "core" },
        "items": {"skus": [sku]},
        "reward": reward,
        "stacking": {"combinesWith": ["product", "order", "shipping"]},
        "limits": limits,
    })
}

/// The fixture bundle payload: one promotion per limit, each on its own SKU so a cart picks
/// exactly the promotion a test is about.
pub fn payload(version: u64) -> Value {
    let secret = CodeSecret::from_bytes(SECRET);
    let mut hashes: Vec<[u8; 12]> = single_codes().iter().map(|c| secret.hash(c)).collect();
    hashes.push(secret.hash("SHARED5"));
    hashes.sort();
    let hashes = base64::engine::general_purpose::STANDARD.encode(hashes.concat());
    let pct = |p: &str| json!({"type": "percentOff", "percent": p});
    let mut single = promo(
        "single",
        "sku-single",
        pct("20"),
        json!({"singleUseCodes": true}),
    );
    single["codeSet"] = json!("codes");
    let mut shared = promo("shared", "sku-shared", pct("5"), json!({"perCode": 5}));
    shared["codeSet"] = json!("codes");
    let mut spring = promo(
        "spring",
        "sku-gen",
        pct("25"),
        json!({"singleUseCodes": true}),
    );
    spring["codeSet"] = json!("spring");
    let mut gold = promo("gold", "sku-gold", pct("30"), json!({}));
    gold["conditions"] = json!({"customerTiers": ["gold"]});
    json!({
        "format": 1, "bundleId": "fixture", "audience": "edge", "version": version,
        "issuedAt": "2026-11-01T00:00:00Z", "expiresAt": "2027-11-01T00:00:00Z",
        "currency": "USD", "timeZone": "America/New_York",
        "codeSets": [
            {"id": "codes", "hashes": hashes},
            {"id": "spring", "generated": spring_campaign().spec()},
        ],
        "promotions": [
            promo("total", "sku-total", pct("10"), json!({"totalUses": 100})),
            promo("per-customer", "sku-cust", pct("10"), json!({"perCustomer": 3})),
            promo("budget", "sku-budget",
                json!({"type": "amountOff", "amount": "10.00", "per": "order"}),
                json!({"budget": "1000.00"})),
            promo("daily", "sku-day", pct("10"), json!({"perDay": 2})),
            promo("keep", "sku-keep", pct("10"), json!({"totalUses": 1, "reversal": "keep"})),
            promo("cancel-only", "sku-cancel", pct("10"),
                json!({"totalUses": 1, "reversal": "recreditCancel"})),
            promo("camp-open", "sku-open", pct("15"), json!({})),
            single,
            shared,
            spring,
            gold,
        ],
    })
}

pub fn signed_bundle(version: u64) -> Vec<u8> {
    sign(&payload(version))
}

pub fn sign(payload: &Value) -> Vec<u8> {
    Envelope::seal(
        EnvelopeType::Bundle,
        payload.to_string().as_bytes(),
        &[&release_key()],
    )
}

pub use promoseal_db::testing::TestDb;

/// A running ledger.
pub struct Ledger {
    pub base: String,
    pub state: Arc<State>,
    pub clock: Arc<AtomicI64>,
    pub http: reqwest::Client,
    pub db: TestDb,
    server: tokio::task::JoinHandle<()>,
}

impl Ledger {
    pub async fn start(backend: Backend) -> Ledger {
        Ledger::start_with(backend, Settings::default()).await
    }

    pub async fn start_with(backend: Backend, settings: Settings) -> Ledger {
        let db = TestDb::new(backend).await;
        let ledger = Ledger::serve(db, Arc::new(AtomicI64::new(T0)), settings).await;
        let r = ledger.post_raw("/v1/bundles", None, signed_bundle(1)).await;
        assert_eq!(r.0, 201, "{}", r.1);
        ledger
    }

    /// Another ledger instance on this one's database and clock (its own process state:
    /// bundles held, the writer, attempt buckets), as a second process would be. Its `stop`
    /// leaves the database to the first.
    pub async fn join(&self) -> Ledger {
        let db = TestDb::borrowed(&self.db.url);
        Ledger::serve(db, self.clock.clone(), Settings::default()).await
    }

    async fn serve(db: TestDb, clock: Arc<AtomicI64>, settings: Settings) -> Ledger {
        let c = clock.clone();
        let state = Arc::new(
            State::new(
                ledger::db::connect(&db.url, 16, Sync::Normal)
                    .await
                    .unwrap(),
                Some(Arc::new(
                    TrustRoot::from_envelope(&root_envelope()).unwrap(),
                )),
                CodeSecret::from_bytes(SECRET),
                settings,
                Arc::new(move || Instant(c.load(Ordering::SeqCst))),
            )
            .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = ledger::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Ledger {
            base: format!("http://{addr}"),
            state,
            clock,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(128)
                .build()
                .unwrap(),
            db,
            server,
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn now(&self) -> String {
        Instant(self.clock.load(Ordering::SeqCst)).to_string()
    }

    pub async fn post_raw(
        &self,
        path: &str,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value, bool) {
        let (status, text, replayed) = self.post_text(path, key, body).await;
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v, replayed)
    }

    /// The answer's status, its body exactly as sent, and whether it was a replay.
    pub async fn post_text(
        &self,
        path: &str,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, String, bool) {
        let kind = if path == "/v1/bundles" {
            "application/vnd.promoseal.envelope"
        } else {
            "application/json"
        };
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", kind)
            .body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let replayed = r.headers().contains_key("idempotency-replayed");
        (status, r.text().await.unwrap(), replayed)
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let (s, v, _) = self
            .post_raw(path, Some(key), body.to_string().into_bytes())
            .await;
        (s, v)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The value of one SQL count.
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row as _;
        sqlx::query(sql)
            .fetch_one(self.state.db.reader())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap()
    }

    pub async fn stop(self) {
        self.server.abort();
        self.state.db.close().await;
        self.db.drop_now().await;
    }
}

/// A one-line cart of `sku` at $50, with the quote the ledger's own copy of the fixture bundle
/// gives for it (hashed codes need the code secret, which the test holds).
pub fn request(ledger: &Ledger, order: &str, sku: &str, customer: &str, codes: &[&str]) -> Value {
    let input = json!({
        "cart": {"currency": "USD", "lines": [
            {"id": "1", "sku": sku, "unitPrice": "50.00", "quantity": 1, "unitCost": "20.00"}
        ]},
        "customer": {"id": customer, "email": format!("{customer}@example.com")},
        "context": {"now": ledger.now(), "channel": "web", "codes": codes},
    });
    request_for(ledger, order, 1, input)
}

/// A redemption of `input` priced with version `version` as the test's copy of it says (the
/// customer as the input describes it: the quote a browser would make).
pub fn request_for(ledger: &Ledger, order: &str, version: u64, input: Value) -> Value {
    let customer = input["customer"]["id"]
        .as_str()
        .unwrap_or("anon")
        .to_string();
    let loaded = ledger.state.bundles.get("fixture", version).unwrap();
    let parsed = promoseal_evaluator::parse_input(&serde_json::to_vec(&input).unwrap()).unwrap();
    let e = promoseal_evaluator::evaluate(&loaded.bundle, &parsed).unwrap();
    json!({
        "orderId": order,
        "bundle": {"id": "fixture", "version": version},
        "input": input,
        "quote": {"discountTotal": e.discount_total.to_string(), "total": e.total.to_string()},
        // Each customer shops from an address of their own, as the edge forwards it.
        "clientIp": customer_ip(&customer),
    })
}

/// A stable address per customer id (10.x.y.z).
pub fn customer_ip(customer: &str) -> String {
    let h = customer.bytes().fold(2_166_136_261_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    });
    let [a, b, c, _] = h.to_be_bytes();
    format!("10.{a}.{b}.{c}")
}
