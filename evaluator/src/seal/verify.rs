//! Opening a signed bundle: size, signatures, then strict parsing, then every rule a bundle must
//! meet before one cart is priced with it. Publicly every refusal is the same "invalid bundle";
//! [`VerifyError::refusal`] keeps the precise reason for logs.

use std::fmt;
use std::sync::Arc;

use super::approval::{batches, uncovered_in};
use super::envelope::{Envelope, EnvelopeType, MAX_HEADER};
use super::root::{TrustRoot, ROLE_RELEASE};
use crate::compile::Bundle;
use crate::error::BundleError;
use crate::model::{Audience, BundlePayload};
use crate::time::Instant;

/// Default payload limit: 32 MiB, room for two million imported codes.
pub const DEFAULT_MAX_PAYLOAD: usize = 32 * 1024 * 1024;

/// How far in the future a bundle's `issuedAt` may be (clock skew between signer and host).
const MAX_CLOCK_SKEW: i64 = 300;

/// What the verifier is told by its host.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The audience this host serves: an edge never loads a storefront bundle and vice versa.
    pub audience: Audience,
    pub now: Instant,
    /// The highest version this host accepted before (persisted by the host), if any.
    pub highest_accepted: Option<Accepted>,
    /// Largest payload read, in bytes; checked before anything else.
    pub max_payload: usize,
}

impl VerifyOptions {
    pub fn new(audience: Audience, now: Instant) -> VerifyOptions {
        VerifyOptions {
            audience,
            now,
            highest_accepted: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// A version a host accepted, and the digest of that version's payload: a later load of the
/// same version is accepted only with the same bytes (no two bundles share a version).
///
/// It is also the record a host persists: `{"version": 3, "digest": "<64 hex digits>"}` (the
/// edge's guards in Durable Object storage, the ledger's `bundles` rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub version: u64,
    pub digest: [u8; 32],
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct AcceptedRecord {
    version: u64,
    digest: String,
}

impl serde::Serialize for Accepted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AcceptedRecord {
            version: self.version,
            digest: crate::codes::encode_hex(&self.digest),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Accepted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Accepted, D::Error> {
        let r = AcceptedRecord::deserialize(d)?;
        let digest = crate::codes::decode_hex(&r.digest)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| serde::de::Error::custom("digest: 64 hex digits"))?;
        Ok(Accepted {
            version: r.version,
            digest,
        })
    }
}

/// What was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Bundle,
    Root,
    Grant,
    CustomerClaim,
}

/// Why something signed was refused: the precise reason, for logs and tests, never for shoppers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Oversize {
        size: usize,
        limit: usize,
    },
    Malformed(String),
    WrongType {
        expected: EnvelopeType,
        found: EnvelopeType,
    },
    UnknownKey {
        key_id: String,
    },
    WeakKey {
        key_id: String,
    },
    WrongRole {
        key_id: String,
        role: String,
    },
    KeyExpired {
        key_id: String,
    },
    BadSignature {
        key_id: String,
    },
    BelowThreshold {
        role: String,
        valid: u32,
        required: u32,
    },
    RootExpired {
        expires_at: Instant,
        now: Instant,
    },
    RootVersion {
        version: u64,
        expected: u64,
    },
    RotationNotAuthorized(Box<Refusal>),
    Payload(BundleError),
    WrongAudience {
        expected: Audience,
        found: Audience,
    },
    Expired {
        expires_at: Instant,
        now: Instant,
    },
    NotYetValid {
        issued_at: Instant,
        now: Instant,
    },
    Rollback {
        version: u64,
        highest: u64,
    },
    Equivocation {
        version: u64,
    },
    CodeMaterial {
        what: String,
    },
    Unapproved {
        promotion: String,
        role: String,
        valid: u32,
        required: u32,
    },
    /// Valid, but for another bundle, audience or subject (code grants).
    Mismatch(String),
}

impl Refusal {
    /// A stable machine code for the reason (logs, test vectors).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Oversize { .. } => "oversize",
            Refusal::Malformed(_) => "malformed",
            Refusal::WrongType { .. } => "wrongType",
            Refusal::UnknownKey { .. } => "unknownKey",
            Refusal::WeakKey { .. } => "weakKey",
            Refusal::WrongRole { .. } => "wrongRole",
            Refusal::KeyExpired { .. } => "keyExpired",
            Refusal::BadSignature { .. } => "badSignature",
            Refusal::BelowThreshold { .. } => "belowThreshold",
            Refusal::RootExpired { .. } => "rootExpired",
            Refusal::RootVersion { .. } => "rootVersion",
            Refusal::RotationNotAuthorized(_) => "rotationNotAuthorized",
            Refusal::Payload(_) => "payload",
            Refusal::WrongAudience { .. } => "wrongAudience",
            Refusal::Expired { .. } => "expired",
            Refusal::NotYetValid { .. } => "notYetValid",
            Refusal::Rollback { .. } => "rollback",
            Refusal::Equivocation { .. } => "equivocation",
            Refusal::CodeMaterial { .. } => "codeMaterial",
            Refusal::Unapproved { .. } => "unapproved",
            Refusal::Mismatch(_) => "mismatch",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Oversize { size, limit } => {
                write!(f, "oversize: {size} bytes, the limit is {limit}")
            }
            Refusal::Malformed(m) => write!(f, "malformed: {m}"),
            Refusal::WrongType { expected, found } => write!(
                f,
                "wrong envelope type: `{}`, expected `{}`",
                found.as_str(),
                expected.as_str()
            ),
            Refusal::UnknownKey { key_id } => write!(f, "unknown key `{key_id}`"),
            Refusal::WeakKey { key_id } => write!(f, "weak key `{key_id}`"),
            Refusal::WrongRole { key_id, role } => {
                write!(f, "key `{key_id}` does not hold the `{role}` role")
            }
            Refusal::KeyExpired { key_id } => write!(f, "key `{key_id}` has expired"),
            Refusal::BadSignature { key_id } => write!(f, "bad signature by key `{key_id}`"),
            Refusal::BelowThreshold {
                role,
                valid,
                required,
            } => write!(
                f,
                "below threshold: {valid} valid `{role}` signatures, {required} required"
            ),
            Refusal::RootExpired { expires_at, now } => {
                write!(f, "trust root expired at {expires_at} (now {now})")
            }
            Refusal::RootVersion { version, expected } => {
                write!(f, "root version {version}, expected {expected}")
            }
            Refusal::RotationNotAuthorized(r) => {
                write!(f, "rotation not signed by the previous root: {r}")
            }
            Refusal::Payload(e) => write!(f, "{e}"),
            Refusal::WrongAudience { expected, found } => {
                write!(f, "wrong audience: `{found:?}`, expected `{expected:?}`")
            }
            Refusal::Expired { expires_at, now } => {
                write!(f, "expired at {expires_at} (now {now})")
            }
            Refusal::NotYetValid { issued_at, now } => {
                write!(f, "issued in the future ({issued_at}, now {now})")
            }
            Refusal::Rollback { version, highest } => write!(
                f,
                "rollback: version {version} is below the accepted version {highest}"
            ),
            Refusal::Equivocation { version } => write!(
                f,
                "rollback: another payload was already accepted as version {version}"
            ),
            Refusal::CodeMaterial { what } => write!(f, "code material: {what}"),
            Refusal::Unapproved {
                promotion,
                role,
                valid,
                required,
            } => write!(
                f,
                "promotion `{promotion}` lacks `{role}` approval: {valid} covering approvals, {required} required"
            ),
            Refusal::Mismatch(m) => write!(f, "mismatch: {m}"),
        }
    }
}

/// A refusal. `Display` is the one public answer ("invalid bundle"); the reason is for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    subject: Subject,
    refusal: Refusal,
}

impl VerifyError {
    pub(crate) fn new(subject: Subject, refusal: Refusal) -> VerifyError {
        VerifyError { subject, refusal }
    }
    pub fn refusal(&self) -> &Refusal {
        &self.refusal
    }
    pub fn subject(&self) -> Subject {
        self.subject
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.subject {
            Subject::Bundle => "invalid bundle",
            Subject::Root => "invalid trust root",
            Subject::Grant => "invalid grant",
            Subject::CustomerClaim => "invalid customer claim",
        })
    }
}

impl std::error::Error for VerifyError {}

fn refuse(refusal: Refusal) -> VerifyError {
    VerifyError::new(Subject::Bundle, refusal)
}

/// Opens a bundle as a host holds it, the one way the ledger, the edge and the CLI do:
/// verified for `audience` at `now` ([`open_bundle`]), admitted against the version the host
/// accepted before for the bundle's id (`accepted`: rollback and equivocation refused; a host
/// whose admission is remote, like the edge's guards, passes `|_| None` and admits after), and
/// with the code secret attached when the host holds it (edge bundles).
pub fn open_held(
    bytes: &[u8],
    root: &Arc<TrustRoot>,
    audience: Audience,
    now: Instant,
    secret: Option<&crate::codes::CodeSecret>,
    accepted: impl FnOnce(&str) -> Option<Accepted>,
) -> Result<Bundle, VerifyError> {
    let mut bundle = open_bundle(bytes, root, &VerifyOptions::new(audience, now))?;
    if let (Some(held), Some(digest)) = (accepted(bundle.id()), bundle.digest()) {
        held.admits(bundle.version(), &digest).map_err(refuse)?;
    }
    if let Some(secret) = secret {
        bundle.set_code_secret(secret.clone());
    }
    Ok(bundle)
}

/// Verifies a signed bundle against a trust root and compiles it. Order: size, envelope
/// header, root expiry, `release` signatures over the exact payload bytes, then strict parsing,
/// audience, validity window, rollback, code material, approvals and compilation.
pub fn open_bundle(
    bytes: &[u8],
    root: &Arc<TrustRoot>,
    opts: &VerifyOptions,
) -> Result<Bundle, VerifyError> {
    let limit = opts.max_payload.saturating_add(MAX_HEADER + 1);
    if bytes.len() > limit {
        return Err(refuse(Refusal::Oversize {
            size: bytes.len(),
            limit,
        }));
    }
    let env = Envelope::parse(bytes).map_err(|m| refuse(Refusal::Malformed(m)))?;
    if env.payload.len() > opts.max_payload {
        return Err(refuse(Refusal::Oversize {
            size: env.payload.len(),
            limit: opts.max_payload,
        }));
    }
    if env.kind != EnvelopeType::Bundle {
        return Err(refuse(Refusal::WrongType {
            expected: EnvelopeType::Bundle,
            found: env.kind,
        }));
    }
    let now = opts.now;
    if let Some(expires_at) = root.payload.expires_at.filter(|t| now >= *t) {
        return Err(refuse(Refusal::RootExpired { expires_at, now }));
    }
    root.check_threshold(
        ROLE_RELEASE,
        &env.signatures,
        &env.digest,
        EnvelopeType::Bundle,
        Some(now),
    )
    .map_err(refuse)?;

    let payload =
        crate::compile::parse_payload(env.payload).map_err(|e| refuse(Refusal::Payload(e)))?;
    check_payload(&payload, root, opts, &env.digest)?;
    let mut bundle = Bundle::compile(&payload).map_err(|e| refuse(Refusal::Payload(e)))?;
    bundle.trust = Some(root.clone());
    bundle.digest = Some(env.digest);
    Ok(bundle)
}

fn check_payload(
    p: &BundlePayload,
    root: &TrustRoot,
    opts: &VerifyOptions,
    digest: &[u8; 32],
) -> Result<(), VerifyError> {
    let now = opts.now;
    if p.audience != opts.audience {
        return Err(refuse(Refusal::WrongAudience {
            expected: opts.audience,
            found: p.audience,
        }));
    }
    if now >= p.expires_at {
        return Err(refuse(Refusal::Expired {
            expires_at: p.expires_at,
            now,
        }));
    }
    if p.issued_at.seconds() > now.seconds().saturating_add(MAX_CLOCK_SKEW) {
        return Err(refuse(Refusal::NotYetValid {
            issued_at: p.issued_at,
            now,
        }));
    }
    if let Some(acc) = opts.highest_accepted {
        acc.admits(p.version, digest).map_err(refuse)?;
    }
    for cs in &p.code_sets {
        let what = if p.audience == Audience::Storefront {
            Some(format!("code set `{}` in a storefront bundle", cs.id))
        } else if !cs.codes.is_empty() {
            Some(format!("plaintext codes in code set `{}`", cs.id))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(refuse(Refusal::CodeMaterial { what }));
        }
    }
    // Every batch is read once: refused when malformed, then weighed.
    let batches = batches(p).map_err(|m| refuse(Refusal::Malformed(m)))?;
    if let Some(u) = uncovered_in(root, p, &batches, now).into_iter().next() {
        return Err(refuse(Refusal::Unapproved {
            promotion: u.promotion,
            role: u.role,
            valid: u.valid,
            required: u.required,
        }));
    }
    Ok(())
}

impl Accepted {
    /// Whether a bundle of `version` with payload `digest` may follow this one: not an older
    /// version (rollback), and the same version only with the same bytes (equivocation).
    pub fn admits(&self, version: u64, digest: &[u8; 32]) -> Result<(), Refusal> {
        if version < self.version {
            return Err(Refusal::Rollback {
                version,
                highest: self.version,
            });
        }
        if version == self.version && *digest != self.digest {
            return Err(Refusal::Equivocation { version });
        }
        Ok(())
    }
}

impl Bundle {
    /// What the host persists after loading this bundle, to refuse rollbacks later.
    pub fn accepted(&self) -> Option<Accepted> {
        self.digest.map(|digest| Accepted {
            version: self.version,
            digest,
        })
    }
}
