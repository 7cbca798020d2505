#![doc = include_str!("../README.md")]

pub mod analytics;
pub mod api;
pub mod attempts;
pub mod bundles;
pub mod db;
pub mod error;
pub mod group;
pub mod redeem;
pub mod store;

use std::sync::Arc;

use promoseal_evaluator::codes::CodeSecret;
use promoseal_evaluator::seal::{vouch, TrustRoot, Vouched};
use promoseal_evaluator::time::Instant;
use promoseal_wire::ErrorCode;

pub use api::app;

/// The ledger's clock: the system clock in service, a settable one in tests.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Instant(secs)
    })
}

/// What the service is configured with (flags and environment, see `main.rs`).
#[derive(Clone, Debug)]
pub struct Settings {
    pub window: redeem::Window,
    /// Reservation hold when the request names none, and the longest allowed, in seconds.
    pub reservation_ttl: u64,
    pub max_reservation_ttl: u64,
    /// How long idempotency keys are kept, in seconds (at least a day).
    pub key_retention: i64,
    /// Largest JSON request body, and largest signed bundle upload, in bytes.
    pub max_body: usize,
    pub max_bundle: usize,
    /// When set, every `/v1` route needs `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// Fraud-signal thresholds (each can be overridden per query).
    pub fraud: analytics::Thresholds,
    /// Every caller is the shop's own backend (`--trusted-callers`): customers are taken as
    /// given and codes are not attempt-limited. Off by default: a customer counts only through
    /// a customer claim signed by a `shop` key, and code attempts are limited.
    pub trusted_callers: bool,
    /// Code attempts per client (by `clientIp`, IPv6 by /64), and attempts with an unknown
    /// code per canonical code.
    pub code_attempts_per_client: attempts::Rate,
    pub unknown_code_attempts: attempts::Rate,
    /// Most reserves and redeems applied in one transaction ([`group`]); 1 gives each its
    /// own.
    pub max_batch: usize,
    /// Writer tasks taking turns at the batches on PostgreSQL (SQLite has one).
    pub writers: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            window: redeem::Window {
                max_quote_age: 3600,
                max_clock_skew: 60,
                withdrawal_grace: 900,
            },
            reservation_ttl: 900,
            max_reservation_ttl: 86_400,
            key_retention: 7 * 86_400,
            max_body: 1 << 20,
            max_bundle: promoseal_evaluator::seal::DEFAULT_MAX_PAYLOAD + 64 * 1024,
            api_token: None,
            fraud: analytics::Thresholds::default(),
            trusted_callers: false,
            code_attempts_per_client: attempts::Rate {
                count: std::num::NonZeroU32::MIN.saturating_add(19),
                seconds: std::num::NonZeroU32::MIN.saturating_add(59),
            },
            unknown_code_attempts: attempts::Rate {
                count: std::num::NonZeroU32::MIN.saturating_add(9),
                seconds: std::num::NonZeroU32::MIN.saturating_add(59),
            },
            max_batch: group::MAX_BATCH,
            writers: group::WRITERS,
        }
    }
}

/// Everything a request handler reaches.
pub struct State {
    pub db: db::Db,
    /// Reserves and redeems go through here: applied in batches, see [`group`].
    pub writer: group::GroupCommit,
    pub bundles: bundles::Registry,
    pub root: Option<Arc<TrustRoot>>,
    /// Campaign secret and pepper of code hashes: checks codes, and hashes them for the log.
    pub secret: CodeSecret,
    pub settings: Settings,
    pub clock: Clock,
    /// Code attempt buckets (unused with `trusted_callers`).
    pub attempts: attempts::Attempts,
}

impl State {
    /// A state over `db` with `settings`; the attempt buckets are made from the settings. It
    /// starts the redemption writer, so it must be made inside a tokio runtime.
    pub fn new(
        db: db::Db,
        root: Option<Arc<TrustRoot>>,
        secret: CodeSecret,
        settings: Settings,
        clock: Clock,
    ) -> Result<State, String> {
        let attempts = attempts::Attempts::new(
            settings.code_attempts_per_client,
            settings.unknown_code_attempts,
        )?;
        Ok(State {
            writer: group::GroupCommit::start(db.clone(), settings.max_batch, settings.writers),
            db,
            bundles: Default::default(),
            root,
            secret,
            settings,
            clock,
            attempts,
        })
    }

    pub fn now(&self) -> Instant {
        (self.clock)()
    }

    /// Reserve (`Op::Reserve`) or one-shot redeem (`Op::Redeem`) a parsed request: check it,
    /// price it with the version it names, and apply it atomically under `key`. `peer_ip` is
    /// the connection's address, used when the request names no `clientIp`.
    pub async fn redeem(
        &self,
        op: store::Op,
        key: &str,
        mut req: redeem::RedeemRequest,
        peer_ip: Option<String>,
    ) -> Result<store::Answer, error::ApiError> {
        use error::ApiError;
        if req.order_id.is_empty() || req.order_id.len() > 255 {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "orderId: must be 1 to 255 bytes",
            ));
        }
        let ttl = match (op, req.ttl_seconds) {
            (store::Op::Redeem, Some(_)) => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidRequest,
                    "ttlSeconds: only reservations take a time to live",
                ))
            }
            (_, Some(t)) if t == 0 || t > self.settings.max_reservation_ttl => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidRequest,
                    format!(
                        "ttlSeconds: must be 1 to {}",
                        self.settings.max_reservation_ttl
                    ),
                ))
            }
            (_, t) => t.unwrap_or(self.settings.reservation_ttl),
        };
        // Where a request came from is not part of what it asks: a retry from another address
        // (a phone that changed networks, another edge location) is the same request.
        let client_ip = req.client_ip.take();
        let canonical = serde_json::to_vec(&req).map_err(ApiError::internal)?;
        let hash = store::request_hash(op, "", &canonical);
        req.client_ip = client_ip.or(peer_ip);
        let now = self.now();
        let mut loaded = self.bundles.get(&req.bundle.id, req.bundle.version);
        if loaded.is_none() {
            // Perhaps accepted by another ledger instance on the same database.
            self.load_stored_bundles().await?;
            loaded = self.bundles.get(&req.bundle.id, req.bundle.version);
        }
        let bundle = loaded.as_ref().map(|l| &l.bundle);
        if !self.settings.trusted_callers {
            // The customer is the shop's word (a claim checked at the time the cart was
            // priced, which `plan` keeps within the quote window), never the browser's.
            if let Some(root) = &self.root {
                let at = req.input.context.now;
                if let Vouched::Refused(e) = vouch(root, &mut req.input, at) {
                    tracing::info!(refusal = %e.refusal(), "customer claim refused");
                }
            }
        }
        redeem::customer_fits(req.input.customer.as_ref())?;
        // Who and what, with the keyed hashes of the canonical codes the attempt limits use.
        let attempt = redeem::attempt(&req, &self.secret, bundle);
        if let (false, Some(b)) = (self.settings.trusted_callers, bundle) {
            let codes: Vec<(String, bool)> = attempt
                .codes
                .iter()
                .zip(&req.input.context.codes)
                .map(|(hash, c)| (hash.clone(), b.knows_code(c)))
                .collect();
            let client = req.client_ip.as_deref().unwrap_or("unknown");
            self.attempts.take(client, &codes)?;
        }
        let plan = match &loaded {
            None => Err(ApiError::not_found(
                ErrorCode::BundleUnknown,
                format!(
                    "the ledger holds no bundle `{}` version {}",
                    req.bundle.id, req.bundle.version
                ),
            )),
            Some(loaded) => {
                let current = self.bundles.newest(&req.bundle.id);
                redeem::plan(
                    loaded,
                    current.as_deref(),
                    &req,
                    now,
                    self.settings.window,
                    &self.secret,
                )
            }
        };
        let r = store::Redemption {
            op,
            key: key.to_string(),
            hash,
            order_id: req.order_id,
            bundle_id: req.bundle.id,
            bundle_version: req.bundle.version,
            attempt,
            plan,
            expires_at: (op == store::Op::Reserve).then(|| {
                now.seconds()
                    .saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX))
            }),
        };
        self.writer.redeem(r, now.seconds()).await
    }

    /// Commit, release or reverse a redemption (`t.hash`: [`store::request_hash`] of the
    /// request as compared on a replay).
    pub async fn transition(
        &self,
        t: &store::Transition<'_>,
    ) -> Result<store::Answer, error::ApiError> {
        self.db.transition(t, self.now().seconds()).await
    }

    /// Loads every stored bundle version this process does not hold yet and that still
    /// verifies (expired ones stay stored, unused): at start, and then whenever another ledger
    /// instance on the same database may have accepted one (the sweeper runs it; a request
    /// naming a version not held, and an upload, run it first). Returns how many it loaded.
    pub async fn load_stored_bundles(&self) -> Result<usize, error::ApiError> {
        let Some(root) = &self.root else {
            return Ok(0);
        };
        let mut n = 0;
        for (id, version) in self.db.stored_versions().await? {
            if self.bundles.get(&id, version).is_some() {
                continue;
            }
            let Some((envelope, accepted_at)) = self.db.stored_bundle(&id, version).await? else {
                continue;
            };
            match bundles::open(&envelope, root, &self.secret, self.now(), |_| None) {
                Ok(mut loaded) => {
                    loaded.accepted_at = promoseal_evaluator::time::Instant(accepted_at);
                    self.bundles.insert(loaded);
                    n += 1;
                }
                Err(e) => tracing::info!(error = %e, "stored bundle not loaded"),
            }
        }
        Ok(n)
    }

    /// Verifies and stores a new bundle version; refuses a rollback below the highest
    /// version held. Storing the same bytes again is accepted (idempotent).
    pub async fn accept_bundle(
        &self,
        envelope: &[u8],
    ) -> Result<Arc<bundles::Loaded>, error::ApiError> {
        let root = self.root.as_ref().ok_or_else(|| {
            error::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::NoTrustRoot,
                "the ledger has no trust root configured (--root)",
            )
        })?;
        // Another instance on the same database may have accepted a newer version: a rollback
        // is judged against every version stored, not only those this process holds.
        self.load_stored_bundles().await?;
        let mut loaded = bundles::open(envelope, root, &self.secret, self.now(), |id| {
            self.bundles.highest(id)
        })?;
        // The same version again: it was accepted when it first came.
        if let Some(held) = self
            .bundles
            .get(loaded.bundle.id(), loaded.bundle.version())
        {
            loaded.accepted_at = held.accepted_at;
        }
        self.db
            .store_bundle(&loaded, envelope, self.now().seconds())
            .await?;
        let (id, version) = (loaded.bundle.id().to_string(), loaded.bundle.version());
        self.bundles.insert(loaded);
        self.bundles
            .get(&id, version)
            .ok_or_else(|| error::ApiError::internal("a stored bundle is missing"))
    }
}
