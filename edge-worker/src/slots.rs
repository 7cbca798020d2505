//! Bundles at the edge. Each signed bundle sits in KV under `<audience>/<bundle id>`. An isolate
//! verifies it once (signatures over the exact bytes, then strict parsing, audience, expiry,
//! approvals) and keeps it; after `BUNDLE_REFRESH_SECONDS` it reads KV again and verifies only
//! if the bytes changed. A new version is admitted by the bundle's guard (a Durable Object per
//! audience and id that persists the highest version accepted): an older version (rollback) or
//! other bytes under the same version (equivocation) are refused, and the isolate keeps what it
//! had.

use std::sync::Arc;

use promoseal_evaluator::codes::{encode_hex, CodeSecret};
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::seal::{open_held, Accepted, Refusal, TrustRoot, VerifyError};
use promoseal_evaluator::time::Instant;
use promoseal_evaluator::Bundle;
use sha2::{Digest, Sha256};

use crate::api::{EdgeError, ErrorCode};

/// The KV key of a bundle.
pub fn kv_key(audience: Audience, id: &str) -> String {
    format!("{}/{id}", audience_name(audience))
}

pub fn audience_name(audience: Audience) -> &'static str {
    match audience {
        Audience::Edge => "edge",
        Audience::Storefront => "storefront",
    }
}

/// A bundle id as a request may name it: 1 to 100 of `A-Z a-z 0-9 . _ -`.
pub fn check_bundle_id(id: &str) -> Result<(), EdgeError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(EdgeError::new(
            400,
            ErrorCode::InvalidRequest,
            "bundle: 1 to 100 letters, digits, `.`, `_` or `-`",
        ))
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Verifies a bundle for this edge at `now` (the edge's clock). The guard's admission comes
/// after, from the persisted highest version.
pub fn open(
    bytes: &[u8],
    root: &Arc<TrustRoot>,
    audience: Audience,
    now: Instant,
    secret: Option<&CodeSecret>,
) -> Result<Bundle, VerifyError> {
    // The guard admits the version afterwards (a Durable Object call), so none here.
    open_held(bytes, root, audience, now, secret, |_| None)
}

/// A bundle is served only under its own id: a key `edge/<id>` holding a genuine bundle of
/// another id (another market's, another currency's) is refused, with the reason for the log.
pub fn check_filed(bundle: &Bundle, id: &str) -> Result<(), String> {
    if bundle.id() == id {
        Ok(())
    } else {
        Err(format!(
            "misfiled: the key names bundle `{id}` but holds bundle `{}`",
            bundle.id()
        ))
    }
}

/// A guard's decision on `version` with payload `digest`, given the accepted-version record it
/// persists (`Accepted`, `{"version", "digest"}`): `Ok(Some)` is the new record to persist,
/// `Ok(None)` the same version again (nothing to write).
pub fn admit(
    stored: Option<&Accepted>,
    version: u64,
    digest: &[u8; 32],
) -> Result<Option<Accepted>, Refusal> {
    if let Some(accepted) = stored {
        accepted.admits(version, digest)?;
        if accepted.version == version {
            return Ok(None);
        }
    }
    Ok(Some(Accepted {
        version,
        digest: *digest,
    }))
}

/// A verified bundle an isolate holds.
pub struct Slot {
    pub bundle: Arc<Bundle>,
    /// The signed bytes, served as is (the storefront bundle).
    pub envelope: Arc<Vec<u8>>,
    /// SHA-256 of `envelope`: a changed KV value is recognised without verifying it.
    pub envelope_digest: [u8; 32],
    /// When KV was last read for it (ms since the epoch).
    pub checked_ms: u64,
    /// The last newer value KV held that was refused, kept for `/healthz`.
    pub refused: Option<String>,
}

impl Slot {
    pub fn new(bundle: Bundle, envelope: Vec<u8>, now_ms: u64) -> Slot {
        Slot {
            envelope_digest: sha256(&envelope),
            bundle: Arc::new(bundle),
            envelope: Arc::new(envelope),
            checked_ms: now_ms,
            refused: None,
        }
    }

    /// Whether KV should be read again.
    pub fn stale(&self, now_ms: u64, refresh_ms: u64) -> bool {
        now_ms.saturating_sub(self.checked_ms) >= refresh_ms
    }

    /// The strong ETag of the signed bytes.
    pub fn etag(&self) -> String {
        format!("\"{}\"", encode_hex(&self.envelope_digest))
    }

    /// The answer once a bundle's expiry passed on the edge's clock: nothing is priced and no
    /// code is accepted with an expired bundle, whatever time a request says it is.
    pub fn expired(bundle: &Bundle) -> EdgeError {
        EdgeError::unavailable(
            ErrorCode::BundleExpired,
            format!(
                "bundle `{}` version {} expired at {}; waiting for a newer one",
                bundle.id(),
                bundle.version(),
                bundle.expires_at()
            ),
        )
    }
}

/// The 404 when nothing is published under a bundle id.
pub fn unknown(id: &str) -> EdgeError {
    EdgeError::unknown_bundle(id)
}

/// The 503 when what is published under a key is not usable.
pub fn unavailable(key: &str, why: &str) -> EdgeError {
    EdgeError::unavailable(
        ErrorCode::BundleUnavailable,
        format!("no usable bundle `{key}`: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_admits_newer_versions_and_refuses_rollbacks_and_equivocation() {
        let (d1, d2) = ([1; 32], [2; 32]);
        let first = admit(None, 3, &d1).unwrap().unwrap();
        assert_eq!(
            first,
            Accepted {
                version: 3,
                digest: d1
            }
        );
        // The record as storage keeps it.
        assert_eq!(
            serde_json::to_value(first).unwrap(),
            serde_json::json!({"version": 3, "digest": encode_hex(&d1)})
        );
        assert_eq!(admit(Some(&first), 3, &d1), Ok(None));
        assert_eq!(admit(Some(&first), 4, &d2).unwrap().unwrap().version, 4);
        assert_eq!(admit(Some(&first), 2, &d2).unwrap_err().code(), "rollback");
        assert_eq!(
            admit(Some(&first), 3, &d2).unwrap_err().code(),
            "equivocation"
        );
    }

    #[test]
    fn bundle_ids_are_checked() {
        assert!(check_bundle_id("shop-2026.eu_1").is_ok());
        for bad in ["", "a/b", "a b", "../x", &"x".repeat(101)] {
            assert!(check_bundle_id(bad).is_err(), "{bad}");
        }
        assert_eq!(kv_key(Audience::Storefront, "shop"), "storefront/shop");
        let e = unknown("nope");
        assert_eq!((e.status, e.code.as_str()), (404, "unknownBundle"));
    }

    #[test]
    fn a_bundle_is_served_only_under_its_own_id() {
        let b = crate::testing::bundle();
        assert_eq!(check_filed(&b, "shop"), Ok(()));
        let why = check_filed(&b, "shop-eu").unwrap_err();
        assert!(why.starts_with("misfiled"), "{why}");
        assert!(why.contains("`shop-eu`") && why.contains("`shop`"), "{why}");
    }
}
