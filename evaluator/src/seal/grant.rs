//! Code grants: what the edge hands the browser for a code it accepted, so the storefront's
//! evaluator can preview a locked promotion without ever seeing code material.
//!
//! A grant is `keyId.payload.signature`, the last two base64url without padding; the payload is
//! the JSON of [`GrantClaims`] and the signature is an `edge` key's over the `grant` domain.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::root::{TrustRoot, ROLE_EDGE};
use super::verify::{Refusal, Subject, VerifyError};
use super::{sha256, verify_raw, SigningIdentity};
use crate::model::Audience;
use crate::time::Instant;

const GRANT: &str = "grant";

/// Longest grant lifetime a verifier accepts, in seconds.
pub const MAX_GRANT_LIFETIME: i64 = 3600;
/// Longest grant token read, in bytes.
const MAX_GRANT_LEN: usize = 2048;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrantClaims {
    pub bundle_id: String,
    pub promotion: String,
    pub audience: Audience,
    /// Who it was issued to (a session or customer id); the evaluation must name the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub issued_at: Instant,
    pub expires_at: Instant,
}

fn refuse(r: Refusal) -> VerifyError {
    VerifyError::new(Subject::Grant, r)
}

impl SigningIdentity {
    /// Issues a grant (the edge's job; its key must hold the `edge` role).
    pub fn issue_grant(&self, claims: &GrantClaims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let sig = self.sign_raw(GRANT, &sha256(&payload));
        format!(
            "{}.{}.{}",
            self.id,
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }
}

impl TrustRoot {
    /// Verifies a grant token's signature and lifetime at `now`; matching it to a bundle,
    /// audience and subject is the caller's.
    pub fn check_grant(&self, token: &str, now: Instant) -> Result<GrantClaims, VerifyError> {
        let malformed = || refuse(Refusal::Malformed("grant token".into()));
        if token.len() > MAX_GRANT_LEN {
            return Err(malformed());
        }
        let mut parts = token.split('.');
        let (Some(key_id), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| malformed())?;
        let key_id = key_id.to_string();
        let Some(key) = self.key(&key_id) else {
            return Err(refuse(Refusal::UnknownKey { key_id }));
        };
        if !key.has(ROLE_EDGE) {
            let role = ROLE_EDGE.into();
            return Err(refuse(Refusal::WrongRole { key_id, role }));
        }
        if !key.live(now) {
            return Err(refuse(Refusal::KeyExpired { key_id }));
        }
        if !verify_raw(&key.key, GRANT, &sha256(&payload), &sig) {
            return Err(refuse(Refusal::BadSignature { key_id }));
        }
        let claims: GrantClaims = crate::error::parse_json(&payload)
            .map_err(|e| refuse(Refusal::Malformed(format!("grant: {e}"))))?;
        let lifetime = claims
            .expires_at
            .seconds()
            .saturating_sub(claims.issued_at.seconds());
        if !(1..=MAX_GRANT_LIFETIME).contains(&lifetime) {
            return Err(refuse(Refusal::Malformed(format!(
                "grant: lifetime {lifetime}s outside 1..={MAX_GRANT_LIFETIME}s"
            ))));
        }
        if now < claims.issued_at || now >= claims.expires_at {
            return Err(refuse(Refusal::Expired {
                expires_at: claims.expires_at,
                now,
            }));
        }
        Ok(claims)
    }
}

impl crate::compile::Bundle {
    /// Checks a grant for this bundle: signed by an `edge` key of the root the bundle was
    /// verified with, live at `now`, for this bundle and audience, and issued to `subject` when
    /// it names one. A bundle opened without a root accepts no grant.
    pub fn check_grant(
        &self,
        token: &str,
        now: Instant,
        subject: Option<&str>,
    ) -> Result<GrantClaims, VerifyError> {
        let Some(root) = &self.trust else {
            return Err(refuse(Refusal::Mismatch(
                "bundle opened without a trust root".into(),
            )));
        };
        let claims = root.check_grant(token, now)?;
        let what = if *claims.bundle_id != *self.id {
            Some(format!("grant for bundle `{}`", claims.bundle_id))
        } else if claims.audience != self.audience {
            Some("grant for another audience".into())
        } else if claims
            .subject
            .as_deref()
            .is_some_and(|s| Some(s) != subject)
        {
            Some("grant issued to another subject".into())
        } else {
            None
        };
        match what {
            Some(what) => Err(refuse(Refusal::Mismatch(what))),
            None => Ok(claims),
        }
    }
}
