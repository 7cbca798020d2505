//! Who is asking. People sign in with the key the trust root lists for them, held in their
//! browser (a non-extractable WebCrypto Ed25519 key): the server hands out a one-use challenge
//! naming the console's origin, the browser signs it in the domain `console-sign-in` (distinct
//! from every domain the root's keys sign in: a sign-in signature is never an approval), and
//! the server checks it against the root. The session is a random token in an `HttpOnly`,
//! `Secure`, `SameSite=Strict` cookie; only its SHA-256 is stored. Roles are read from the
//! root on every request, so a rotation that drops a key or a role takes effect at once.
//!
//! Every write must come from the console's origin (`Origin`) and carry the session's CSRF
//! token (`X-CSRF-Token`), compared in constant time.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use promoseal_evaluator::codes::encode_hex;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use subtle::ConstantTimeEq as _;

use crate::error::{ApiError, ApiResult};
use crate::Shared;

/// The signature domain of sign-in challenges.
pub const SIGN_IN: &str = "console-sign-in";
/// The session cookie.
pub const COOKIE: &str = "promoseal_console";
/// How long a challenge may be answered.
const CHALLENGE_SECONDS: i64 = 120;
/// Roles that machines hold, never people: such keys cannot sign in.
const MACHINE_ROLES: &[&str] = &["edge", "shop", "root"];

/// What the console lets a role do beyond reading (approving is judged per promotion by the
/// core, from the root's rules and the key's limits).
pub mod can {
    /// Publish a release, pause and resume promotions.
    pub const PUBLISH: &str = "release";
    /// Read only.
    pub const VIEWER: &str = "viewer";
}

pub fn random_token() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

fn hash(token: &str) -> String {
    encode_hex(Sha256::digest(token.as_bytes()).as_slice())
}

/// A signed-in person.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub key_id: String,
    /// The key's roles in the trust root, now.
    pub roles: Vec<String>,
    #[serde(skip)]
    pub csrf: String,
}

impl Person {
    pub fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Anyone but a viewer may write drafts and comments.
    pub fn may_write(&self) -> bool {
        self.roles.iter().any(|r| r != can::VIEWER)
    }

    pub fn require_writer(&self) -> ApiResult<()> {
        if self.may_write() {
            Ok(())
        } else {
            Err(ApiError::forbidden("a viewer can read, not change"))
        }
    }

    pub fn require(&self, role: &str, what: &str) -> ApiResult<()> {
        if self.has(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{what} needs the `{role}` role"
            )))
        }
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Writes come from the console's own pages: the request's `Origin` is the console's, and
/// (once signed in) `X-CSRF-Token` is the session's.
pub fn same_origin(state: &Shared, headers: &HeaderMap) -> ApiResult<()> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match origin {
        Some(o) if o == state.settings.origin => Ok(()),
        _ => Err(ApiError::forbidden(
            "writes are accepted from the console's own pages only",
        )),
    }
}

impl FromRequestParts<Shared> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> ApiResult<Person> {
        let token = cookie_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let now = state.now();
        let row = sqlx::query(
            "SELECT key_id, csrf FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash(&token))
        .bind(now.0)
        .fetch_optional(state.db.reader())
        .await?
        .ok_or_else(ApiError::unauthorized)?;
        let key_id: String = row.try_get("key_id")?;
        let csrf: String = row.try_get("csrf")?;
        let roles = state
            .roles_of(&key_id)?
            .ok_or_else(ApiError::unauthorized)?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            same_origin(state, &parts.headers)?;
            let given = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !bool::from(given.as_bytes().ct_eq(csrf.as_bytes())) {
                return Err(ApiError::forbidden(
                    "missing or wrong CSRF token: reload the page",
                ));
            }
        }
        Ok(Person {
            key_id,
            roles,
            csrf,
        })
    }
}

/// A challenge for a key to sign.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    pub id: String,
    /// The text to sign: its SHA-256, in the domain [`SIGN_IN`].
    pub text: String,
}

pub async fn challenge(state: &Shared, key_id: &str) -> ApiResult<Challenge> {
    let now = state.now();
    let nonce = random_token()?;
    let text = format!(
        "Promoseal console sign-in\norigin: {}\nkey: {key_id}\nnonce: {nonce}\nissued: {now}",
        state.settings.origin
    );
    let id = random_token()?;
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO challenges (id, key_id, text, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(&id))
        .bind(key_id)
        .bind(&text)
        .bind(now.0 + CHALLENGE_SECONDS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Challenge { id, text })
}

/// A new session, for the key that signed the challenge. Every refusal is the same answer:
/// an unknown key, a machine key, a wrong signature and a spent or expired challenge look alike.
pub async fn sign_in(
    state: &Shared,
    challenge_id: &str,
    signature: &str,
) -> ApiResult<(Person, String)> {
    let refused = || {
        ApiError::new(
            401,
            promoseal_wire::ErrorCode::Unauthorized,
            "sign-in refused",
        )
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    // One use: the row goes whatever the outcome.
    let row =
        sqlx::query("DELETE FROM challenges WHERE id = $1 RETURNING key_id, text, expires_at")
            .bind(hash(challenge_id))
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    let row = row.ok_or_else(refused)?;
    let key_id: String = row.try_get("key_id")?;
    let text: String = row.try_get("text")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if expires_at <= now.0 {
        return Err(refused());
    }
    let root = state.root()?;
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let roles = root
        .signed_by(&key_id, SIGN_IN, &digest, signature, now)
        .ok_or_else(refused)?;
    if roles.is_empty() || roles.iter().any(|r| MACHINE_ROLES.contains(&r.as_str())) {
        return Err(refused());
    }
    let token = random_token()?;
    let csrf = random_token()?;
    let expires = now.0 + i64::from(state.settings.session_minutes) * 60;
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, key_id, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash(&token))
    .bind(&key_id)
    .bind(&csrf)
    .bind(now.0)
    .bind(expires)
    .execute(&mut *tx)
    .await?;
    crate::audit::append(
        &mut tx,
        now.0,
        &key_id,
        "signedIn",
        None,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        expires - now.0
    );
    Ok((
        Person {
            key_id,
            roles,
            csrf,
        },
        cookie,
    ))
}

pub async fn sign_out(state: &Shared, headers: &HeaderMap) -> ApiResult<String> {
    if let Some(token) = cookie_token(headers) {
        let mut tx = state.db.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash(&token))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(format!(
        "{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
    ))
}

/// Sign-in attempts per client address (governor's GCRA, in memory).
pub struct SignInLimit(DefaultKeyedRateLimiter<IpAddr>);

impl SignInLimit {
    pub fn new(per_minute: u32) -> SignInLimit {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(Duration::from_secs(60) / n.get())
            .unwrap_or_else(|| Quota::per_minute(n))
            .allow_burst(n);
        SignInLimit(RateLimiter::keyed(quota))
    }

    pub fn check(&self, ip: IpAddr) -> ApiResult<()> {
        self.0.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            ApiError(promoseal_wire::WireError::too_many_attempts(
                wait.as_secs().max(1),
            ))
        })
    }
}
