//! Signed bundles, trust roots, approvals, code grants and customer claims: the one envelope format, defined here
//! and nowhere else (`docs/signing.md` is its reference).
//!
//! An envelope is one header line of JSON, a newline, then the payload's exact bytes:
//!
//! ```text
//! {"envelope":"promoseal/1","type":"bundle","signatures":[{"keyId":"release-1","sig":"…"}]}\n
//! {"format":1,"bundleId":"shop", …}
//! ```
//!
//! Every signature is Ed25519 over a domain-separated digest of the exact payload bytes:
//! `"promoseal/v1/" + type + "\0" + SHA-256(payload)`. Verification (`verify_strict`: no weak
//! keys, no malleable signatures) happens before the payload is parsed, the payload is never
//! re-serialized, and the size limit is checked before anything else. One hash of the payload
//! serves every signature, so a threshold of three costs one pass over a large code list.

mod approval;
mod customer;
mod envelope;
mod grant;
mod root;
mod token;
mod verify;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

pub use approval::{
    approval_digest, approval_message, approval_root, approval_root_hex, judge_approval, uncovered,
    ApprovalRefusal, Exposure, Uncovered, MAX_BATCH,
};
pub use customer::{vouch, CustomerClaims, Vouched, MAX_CLAIM_LIFETIME, ROLE_SHOP};
pub use envelope::{Envelope, EnvelopeType, SignatureSpec, MAX_HEADER};
pub use grant::{GrantClaims, MAX_GRANT_LIFETIME};
pub use root::{
    approves, ApprovalPolicy, ApprovalRule, AuthorizationLimits, KeySpec, Role, RootPayload,
    TrustRoot, MACHINE_ROLES,
};
pub use verify::{
    open_bundle, open_held, Accepted, Refusal, Subject, VerifyError, VerifyOptions,
    DEFAULT_MAX_PAYLOAD,
};

/// A domain-separated message: what an Ed25519 key actually signs.
pub(crate) fn signing_message(kind: &str, digest: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(16 + kind.len() + 32);
    m.extend_from_slice(b"promoseal/v1/");
    m.extend_from_slice(kind.as_bytes());
    m.push(0);
    m.extend_from_slice(digest);
    m
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A key that signs: an id (as the trust root names it) and an Ed25519 secret seed.
pub struct SigningIdentity {
    pub id: String,
    key: SigningKey,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningIdentity({})", self.id)
    }
}

impl SigningIdentity {
    pub fn from_seed(id: impl Into<String>, seed: [u8; 32]) -> SigningIdentity {
        SigningIdentity {
            id: id.into(),
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The public key as the trust root writes it (standard base64 of 32 bytes).
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    pub(crate) fn sign_raw(&self, kind: &str, digest: &[u8; 32]) -> [u8; 64] {
        self.key.sign(&signing_message(kind, digest)).to_bytes()
    }

    pub(crate) fn sign(&self, kind: &str, digest: &[u8; 32]) -> SignatureSpec {
        SignatureSpec {
            key_id: self.id.clone(),
            sig: STANDARD.encode(self.sign_raw(kind, digest)),
        }
    }
}

/// Parses a standard-base64 Ed25519 public key, refusing weak (small-order) keys.
pub(crate) fn parse_public_key(b64: &str) -> Result<VerifyingKey, String> {
    let bytes = STANDARD
        .decode(b64)
        .map_err(|_| "a public key is standard base64".to_string())?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "a public key is 32 bytes".to_string())?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| "not a curve point".to_string())?;
    if key.is_weak() {
        return Err("weak (small-order) public key".into());
    }
    Ok(key)
}

/// `verify_strict` of one base64 signature over a domain-separated digest.
pub(crate) fn verify_signature(
    key: &VerifyingKey,
    kind: &str,
    digest: &[u8; 32],
    sig_b64: &str,
) -> bool {
    STANDARD
        .decode(sig_b64)
        .is_ok_and(|bytes| verify_raw(key, kind, digest, &bytes))
}

/// `verify_strict` of raw signature bytes.
pub(crate) fn verify_raw(key: &VerifyingKey, kind: &str, digest: &[u8; 32], sig: &[u8]) -> bool {
    Signature::from_slice(sig).is_ok_and(|sig| {
        key.verify_strict(&signing_message(kind, digest), &sig)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_verification_refuses_the_identity_key_forgery() {
        // With the identity point as public key, (R = identity, S = 0) satisfies the plain
        // Ed25519 equation for every message; `verify_strict` must refuse it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        assert!(key.is_weak());
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let b64 = STANDARD.encode(sig);
        assert!(!verify_signature(&key, "bundle", &[0; 32], &b64));
        assert!(parse_public_key(&STANDARD.encode(identity)).is_err());
    }

    #[test]
    fn signatures_are_domain_separated() {
        let id = SigningIdentity::from_seed("k", [1; 32]);
        let key = parse_public_key(&id.public_key()).unwrap();
        let digest = sha256(b"payload");
        let sig = id.sign("bundle", &digest);
        assert!(verify_signature(&key, "bundle", &digest, &sig.sig));
        assert!(!verify_signature(&key, "root", &digest, &sig.sig));
        assert!(!verify_signature(
            &key,
            "bundle",
            &sha256(b"payloaD"),
            &sig.sig
        ));
    }
}
