//! The accepted signed edge bundles, every version kept: a redemption names the version it was
//! priced on, and any accepted version that has not expired can re-price it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use promoseal_evaluator::codes::{encode_hex, CodeSecret};
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::seal::{open_held, Accepted, Refusal, TrustRoot};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::Bundle;
use promoseal_wire::ErrorCode;

use crate::error::ApiError;

/// One accepted version, compiled.
#[derive(Debug)]
pub struct Loaded {
    pub bundle: Bundle,
    pub digest: [u8; 32],
    pub expires_at: Instant,
    /// When this ledger first accepted the version (the withdrawal grace counts from it).
    pub accepted_at: Instant,
    /// The shop's day for per-day limits (`timeZone`, UTC when absent).
    pub time_zone: jiff::tz::TimeZone,
}

/// The public refusal of a bundle: "invalid bundle", with the stable reason code for logs.
fn invalid(refusal: &Refusal) -> ApiError {
    tracing::warn!(reason = %refusal, "bundle refused");
    ApiError::unprocessable(ErrorCode::InvalidBundle, "invalid bundle")
        .with_detail(serde_json::json!({ "reason": refusal.code() }))
}

/// Verifies an edge bundle against the trust root and reads it (`seal::open_held`: the one
/// way hosts open bundles). A version that may not follow the highest one held (`highest` of
/// the same bundle id) is refused.
pub fn open(
    envelope: &[u8],
    root: &Arc<TrustRoot>,
    secret: &CodeSecret,
    now: Instant,
    highest: impl FnOnce(&str) -> Option<Accepted>,
) -> Result<Loaded, ApiError> {
    let bundle = open_held(envelope, root, Audience::Edge, now, Some(secret), highest)
        .map_err(|e| invalid(e.refusal()))?;
    let digest = bundle
        .digest()
        .ok_or_else(|| ApiError::internal("a verified bundle has no digest"))?;
    let time_zone = match bundle.time_zone() {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
            ApiError::unprocessable(
                ErrorCode::InvalidBundle,
                format!("unknown time zone `{name}` in the bundle"),
            )
        })?,
    };
    Ok(Loaded {
        expires_at: bundle.expires_at(),
        accepted_at: now,
        digest,
        time_zone,
        bundle,
    })
}

impl Loaded {
    pub fn digest_hex(&self) -> String {
        encode_hex(&self.digest)
    }
}

/// Every loaded version, by bundle id then version.
#[derive(Debug, Default)]
pub struct Registry {
    inner: RwLock<BTreeMap<String, BTreeMap<u64, Arc<Loaded>>>>,
}

impl Registry {
    pub fn get(&self, bundle_id: &str, version: u64) -> Option<Arc<Loaded>> {
        let map = self.inner.read().ok()?;
        map.get(bundle_id)?.get(&version).cloned()
    }

    /// The newest accepted version of a bundle.
    pub fn newest(&self, bundle_id: &str) -> Option<Arc<Loaded>> {
        let map = self.inner.read().ok()?;
        map.get(bundle_id)?.last_key_value().map(|(_, l)| l.clone())
    }

    pub fn highest(&self, bundle_id: &str) -> Option<Accepted> {
        let map = self.inner.read().ok()?;
        let (version, l) = map.get(bundle_id)?.last_key_value()?;
        Some(Accepted {
            version: *version,
            digest: l.digest,
        })
    }

    pub fn insert(&self, loaded: Loaded) {
        if let Ok(mut map) = self.inner.write() {
            map.entry(loaded.bundle.id().to_string())
                .or_default()
                .insert(loaded.bundle.version(), Arc::new(loaded));
        }
    }

    /// Every loaded version, oldest first.
    pub fn list(&self) -> Vec<Arc<Loaded>> {
        match self.inner.read() {
            Ok(map) => map.values().flat_map(|v| v.values().cloned()).collect(),
            Err(_) => Vec::new(),
        }
    }
}
