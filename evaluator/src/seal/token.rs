//! Short-lived signed tokens: `keyId.payload.signature`, the last two base64url without
//! padding. The payload is JSON claims with `issuedAt` and `expiresAt`; the signature is an
//! Ed25519 signature, by a key of the trust root holding the token's role, over the token's
//! domain and the SHA-256 of the payload bytes. Code grants (role `edge`) and customer claims
//! (role `shop`) are the two kinds; each module says what its claims mean.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::root::TrustRoot;
use super::verify::{Refusal, Subject, VerifyError};
use super::{sha256, verify_raw, SigningIdentity};
use crate::time::Instant;

/// Longest token read, in bytes.
const MAX_TOKEN_LEN: usize = 4096;

/// How far in the future a token's `issuedAt` may be: the issuer's clock and the checker's
/// (a browser's, or the time a cart was priced at) are not the same clock.
const MAX_CLOCK_SKEW: i64 = 300;

/// What kind of token, and what it must meet.
pub(crate) struct Kind {
    pub subject: Subject,
    /// The signature domain (`promoseal/v1/<domain>\0…`).
    pub domain: &'static str,
    /// The role the signing key must hold.
    pub role: &'static str,
    /// Longest lifetime accepted, in seconds.
    pub max_lifetime: i64,
    pub what: &'static str,
}

impl Kind {
    fn refuse(&self, r: Refusal) -> VerifyError {
        VerifyError::new(self.subject, r)
    }

    /// Signs `payload` (the claims' JSON) as a token of this kind.
    pub fn issue(&self, key: &SigningIdentity, payload: &[u8]) -> String {
        let sig = key.sign_raw(self.domain, &sha256(payload));
        format!(
            "{}.{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// Verifies a token's signature (before its payload is parsed), then parses its claims
    /// strictly and checks their lifetime at `now`.
    pub fn open<T: serde::de::DeserializeOwned>(
        &self,
        root: &TrustRoot,
        token: &str,
        now: Instant,
        lifetime: impl Fn(&T) -> (Instant, Instant),
    ) -> Result<T, VerifyError> {
        let malformed = || self.refuse(Refusal::Malformed(format!("{} token", self.what)));
        if token.len() > MAX_TOKEN_LEN {
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
        let Some(key) = root.key(&key_id) else {
            return Err(self.refuse(Refusal::UnknownKey { key_id }));
        };
        if !key.has(self.role) {
            let role = self.role.into();
            return Err(self.refuse(Refusal::WrongRole { key_id, role }));
        }
        if !key.live(now) {
            return Err(self.refuse(Refusal::KeyExpired { key_id }));
        }
        if !verify_raw(&key.key, self.domain, &sha256(&payload), &sig) {
            return Err(self.refuse(Refusal::BadSignature { key_id }));
        }
        let claims: T = crate::error::parse_json(&payload)
            .map_err(|e| self.refuse(Refusal::Malformed(format!("{}: {e}", self.what))))?;
        let (issued_at, expires_at) = lifetime(&claims);
        let span = expires_at.seconds().saturating_sub(issued_at.seconds());
        if !(1..=self.max_lifetime).contains(&span) {
            return Err(self.refuse(Refusal::Malformed(format!(
                "{}: lifetime {span}s outside 1..={}s",
                self.what, self.max_lifetime
            ))));
        }
        if now.seconds() < issued_at.seconds().saturating_sub(MAX_CLOCK_SKEW) || now >= expires_at {
            return Err(self.refuse(Refusal::Expired { expires_at, now }));
        }
        Ok(claims)
    }
}
