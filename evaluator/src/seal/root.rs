//! The trust root: which keys exist, what each may do, how many must agree, and who must
//! approve which promotions. It is itself a signed envelope (type `root`), and a new root is
//! accepted only when a threshold of the old root's `root` keys *and* of the new one's sign it.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::envelope::{Envelope, EnvelopeType, SignatureSpec};
use super::verify::{Refusal, Subject, VerifyError};
use super::{parse_public_key, verify_signature};
use crate::money::DecimalString;
use crate::time::Instant;

/// A role name. `root` signs trust roots, `release` signs bundles, `edge` signs code grants;
/// any other role (`marketing`, `finance`, `legal`, …) approves promotions.
pub type Role = String;

pub const ROLE_ROOT: &str = "root";
pub const ROLE_RELEASE: &str = "release";
pub const ROLE_EDGE: &str = "edge";

/// The machines' roles: the root's keys, the release key, the edge, the shop's backend.
pub const MACHINE_ROLES: [&str; 4] = [
    ROLE_ROOT,
    ROLE_RELEASE,
    ROLE_EDGE,
    super::customer::ROLE_SHOP,
];

/// Whether a role approves promotions: every role but the machines' ([`MACHINE_ROLES`],
/// matched here by name: a loop over the list costs bytes in the `.wasm`, whose budget is tight).
pub fn approves(role: &str) -> bool {
    !matches!(
        role,
        ROLE_ROOT | ROLE_RELEASE | ROLE_EDGE | super::customer::ROLE_SHOP
    )
}

/// The root payload as signed.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RootPayload {
    pub format: u32,
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Instant>,
    pub keys: Vec<KeySpec>,
    /// Signatures needed per role (a role not listed needs one).
    #[serde(default)]
    pub thresholds: BTreeMap<Role, u32>,
    #[serde(default)]
    pub approvals: ApprovalPolicy,
}

impl RootPayload {
    /// Signatures needed for `role` (a role not listed needs one).
    pub fn threshold(&self, role: &str) -> u32 {
        self.thresholds.get(role).copied().unwrap_or(1)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeySpec {
    pub id: String,
    /// Standard base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Instant>,
    /// What an approval by this key can cover; absent: anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<AuthorizationLimits>,
}

/// An approver's authorization limits. Amounts are per currency; an amount in a currency the
/// map does not name is not covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct AuthorizationLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_percent: Option<DecimalString>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub max_amount: BTreeMap<String, DecimalString>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub max_budget: BTreeMap<String, DecimalString>,
}

/// Who must approve a promotion: the `required` roles always, and each rule's role when the
/// promotion's exposure passes one of the rule's thresholds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ApprovalPolicy {
    pub required: Vec<Role>,
    pub rules: Vec<ApprovalRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApprovalRule {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_above: Option<DecimalString>,
    /// Per currency; a fixed amount in a currency not named here always triggers the rule.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub amount_above: BTreeMap<String, DecimalString>,
    /// Per currency; a budget in a currency not named here always triggers the rule.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub budget_above: BTreeMap<String, DecimalString>,
}

#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub id: String,
    pub key: VerifyingKey,
    pub roles: Vec<Role>,
    pub not_after: Option<Instant>,
    pub limits: Option<AuthorizationLimits>,
}

impl Key {
    pub fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
    pub fn live(&self, now: Instant) -> bool {
        self.not_after.is_none_or(|t| now < t)
    }
}

/// A verified trust root.
#[derive(Clone, Debug)]
pub struct TrustRoot {
    pub(crate) payload: RootPayload,
    pub(crate) keys: Vec<Key>,
    /// SHA-256 of the root payload, for logs and pinning.
    pub(crate) digest: [u8; 32],
}

fn refuse(refusal: Refusal) -> VerifyError {
    VerifyError::new(Subject::Root, refusal)
}

impl TrustRoot {
    /// Reads an initial root, which must carry a threshold of its own `root` keys' signatures.
    /// (Trust in it comes from where the operator got it: the file is pinned by configuration.)
    pub fn from_envelope(bytes: &[u8]) -> Result<TrustRoot, VerifyError> {
        let (root, env_sigs, digest) = TrustRoot::read(bytes)?;
        root.check_threshold(ROLE_ROOT, &env_sigs, &digest, EnvelopeType::Root, None)
            .map_err(refuse)?;
        Ok(root)
    }

    /// Accepts `bytes` as the next root: version exactly one above this one, signed by a
    /// threshold of this root's `root` keys and of its own.
    pub fn rotate(&self, bytes: &[u8]) -> Result<TrustRoot, VerifyError> {
        let (next, sigs, digest) = TrustRoot::read(bytes)?;
        if next.payload.version != self.payload.version.saturating_add(1) {
            return Err(refuse(Refusal::RootVersion {
                version: next.payload.version,
                expected: self.payload.version.saturating_add(1),
            }));
        }
        // Expiry does not apply here: rotating away from aging keys is what rotation is for.
        self.check_threshold(ROLE_ROOT, &sigs, &digest, EnvelopeType::Root, None)
            .map_err(|r| refuse(Refusal::RotationNotAuthorized(Box::new(r))))?;
        next.check_threshold(ROLE_ROOT, &sigs, &digest, EnvelopeType::Root, None)
            .map_err(refuse)?;
        Ok(next)
    }

    fn read(bytes: &[u8]) -> Result<(TrustRoot, Vec<SignatureSpec>, [u8; 32]), VerifyError> {
        let env = Envelope::parse(bytes).map_err(|e| refuse(Refusal::Malformed(e)))?;
        if env.kind != EnvelopeType::Root {
            return Err(refuse(Refusal::WrongType {
                expected: EnvelopeType::Root,
                found: env.kind,
            }));
        }
        let payload: RootPayload = crate::error::parse_json(env.payload)
            .map_err(|e| refuse(Refusal::Malformed(format!("root: {e}"))))?;
        let root = TrustRoot::from_payload(payload, env.digest).map_err(refuse)?;
        Ok((root, env.signatures, env.digest))
    }

    /// Validates a root payload (used to build one before it is signed).
    pub fn from_payload(payload: RootPayload, digest: [u8; 32]) -> Result<TrustRoot, Refusal> {
        let bad = |m: String| Refusal::Malformed(format!("root: {m}"));
        if payload.format != 1 {
            return Err(bad(format!("unsupported format `{}`", payload.format)));
        }
        let mut keys: Vec<Key> = Vec::with_capacity(payload.keys.len());
        for (i, k) in payload.keys.iter().enumerate() {
            if k.id.is_empty() || keys.iter().any(|x| x.id == k.id) {
                return Err(bad(format!(
                    "keys[{i}].id: empty or duplicate key id `{}`",
                    k.id
                )));
            }
            let key = parse_public_key(&k.public_key).map_err(|m| {
                if m.contains("weak") {
                    Refusal::WeakKey {
                        key_id: k.id.clone(),
                    }
                } else {
                    bad(format!("keys[{i}].publicKey: {m}"))
                }
            })?;
            if keys.iter().any(|x| x.key == key) {
                return Err(bad(format!(
                    "keys[{i}]: the same public key is listed twice"
                )));
            }
            if k.roles.is_empty() || k.roles.iter().any(String::is_empty) {
                return Err(bad(format!("keys[{i}].roles: at least one non-empty role")));
            }
            keys.push(Key {
                id: k.id.clone(),
                key,
                roles: k.roles.clone(),
                not_after: k.not_after,
                limits: k.limits.clone(),
            });
        }
        for (role, n) in &payload.thresholds {
            let holders = keys.iter().filter(|k| k.has(role)).count();
            if *n == 0 || *n as usize > holders {
                return Err(bad(format!(
                    "thresholds.{role}: {n} cannot be met by the {holders} keys holding the role"
                )));
            }
        }
        for role in [ROLE_ROOT, ROLE_RELEASE] {
            if !keys.iter().any(|k| k.has(role)) {
                return Err(bad(format!("no key holds the `{role}` role")));
            }
        }
        let approving = payload
            .approvals
            .required
            .iter()
            .chain(payload.approvals.rules.iter().map(|r| &r.role));
        for role in approving {
            if !keys.iter().any(|k| k.has(role)) {
                return Err(bad(format!(
                    "approvals name role `{role}`, which no key holds"
                )));
            }
        }
        Ok(TrustRoot {
            payload,
            keys,
            digest,
        })
    }

    pub fn version(&self) -> u64 {
        self.payload.version
    }

    pub fn payload(&self) -> &RootPayload {
        &self.payload
    }

    /// SHA-256 of the root payload, lower-case hex.
    pub fn digest_hex(&self) -> String {
        crate::codes::encode_hex(&self.digest)
    }

    pub fn threshold(&self, role: &str) -> u32 {
        self.payload.threshold(role)
    }

    pub(crate) fn key(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// The roles of a live key whose signature over `digest` in the domain `kind` verifies;
    /// `None` for an unknown or expired key or a signature that is not the key's. Hosts use
    /// it for their own domains (the console's sign-in challenges), never the root's own
    /// (`bundle`, `approval`, `grant`, `customer`, `root`).
    pub fn signed_by(
        &self,
        key_id: &str,
        kind: &str,
        digest: &[u8; 32],
        signature: &str,
        now: Instant,
    ) -> Option<Vec<Role>> {
        let key = self.key(key_id)?;
        (key.live(now) && verify_signature(&key.key, kind, digest, signature))
            .then(|| key.roles.clone())
    }

    /// The authorization limits of a key, as the root lists them.
    pub fn limits_of(&self, key_id: &str) -> Option<&AuthorizationLimits> {
        self.key(key_id).and_then(|k| k.limits.as_ref())
    }

    /// Counts valid signatures by distinct live keys holding `role`; refuses below the role's
    /// threshold, naming the most telling failure among the signatures.
    pub(crate) fn check_threshold(
        &self,
        role: &str,
        sigs: &[SignatureSpec],
        digest: &[u8; 32],
        kind: EnvelopeType,
        now: Option<Instant>,
    ) -> Result<(), Refusal> {
        let mut valid: Vec<&str> = Vec::new();
        let mut failure: Option<Refusal> = None;
        for s in sigs {
            let outcome = match self.key(&s.key_id) {
                None => Err(Refusal::UnknownKey {
                    key_id: s.key_id.clone(),
                }),
                Some(k) if !k.has(role) => Err(Refusal::WrongRole {
                    key_id: s.key_id.clone(),
                    role: role.to_string(),
                }),
                Some(k) if now.is_some_and(|t| !k.live(t)) => Err(Refusal::KeyExpired {
                    key_id: s.key_id.clone(),
                }),
                Some(k) => {
                    if verify_signature(&k.key, kind.as_str(), digest, &s.sig) {
                        Ok(k.id.as_str())
                    } else {
                        Err(Refusal::BadSignature {
                            key_id: s.key_id.clone(),
                        })
                    }
                }
            };
            match outcome {
                Ok(id) if !valid.contains(&id) => valid.push(id),
                Ok(_) => {}
                Err(r) => {
                    failure.get_or_insert(r);
                }
            }
        }
        let required = self.threshold(role);
        if valid.len() >= required as usize {
            return Ok(());
        }
        Err(failure.unwrap_or(Refusal::BelowThreshold {
            role: role.to_string(),
            valid: valid.len() as u32,
            required,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{approves, MACHINE_ROLES};

    #[test]
    fn the_machines_roles_are_exactly_those_that_do_not_approve() {
        for role in MACHINE_ROLES {
            assert!(!approves(role), "{role}");
        }
        for role in ["marketing", "finance", "legal", "Release", "roots"] {
            assert!(approves(role), "{role}");
        }
    }
}
