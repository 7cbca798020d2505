//! Code grants: what the edge hands the browser for a code it accepted, so the storefront's
//! evaluator can preview a locked promotion without ever seeing code material.
//!
//! A grant is `keyId.payload.signature`, the last two base64url without padding; the payload is
//! the JSON of [`GrantClaims`] and the signature is an `edge` key's over the `grant` domain.

use serde::{Deserialize, Serialize};

use super::root::{TrustRoot, ROLE_EDGE};
use super::token::Kind;
use super::verify::{Refusal, Subject, VerifyError};
use super::SigningIdentity;
use crate::model::Audience;
use crate::time::Instant;

/// Longest grant lifetime a verifier accepts, in seconds.
pub const MAX_GRANT_LIFETIME: i64 = 3600;

const GRANT: Kind = Kind {
    subject: Subject::Grant,
    domain: "grant",
    role: ROLE_EDGE,
    max_lifetime: MAX_GRANT_LIFETIME,
    what: "grant",
};

/// A code grant's claims: which promotion of which bundle it unlocks, for whom, and when.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(rename = "GrantInfo", optional_fields)
)]
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
        GRANT.issue(self, &serde_json::to_vec(claims).unwrap_or_default())
    }
}

impl TrustRoot {
    /// Verifies a grant token's signature and lifetime at `now`; matching it to a bundle,
    /// audience and subject is the caller's.
    pub fn check_grant(&self, token: &str, now: Instant) -> Result<GrantClaims, VerifyError> {
        GRANT.open(self, token, now, |c: &GrantClaims| {
            (c.issued_at, c.expires_at)
        })
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
