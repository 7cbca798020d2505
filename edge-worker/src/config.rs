//! The Worker's configuration, read once per isolate from its environment: `[vars]` in
//! `wrangler.toml` and secrets. Every value has a documented default except the trust root and,
//! for the routes that need them, the secrets. A value that does not parse is an error naming
//! the variable; the Worker then answers every route 503 `misconfigured` (never a guess).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use promoseal_evaluator::codes::{decode_hex, CodeSecret};
use promoseal_evaluator::seal::{SigningIdentity, TrustRoot};

use crate::bucket::Rate;

/// What the Worker reads from its environment, by name (a secret or a var alike).
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

pub struct Config {
    /// `TRUST_ROOT`: the signed trust root envelope, base64.
    pub root: Arc<TrustRoot>,
    /// `DEFAULT_BUNDLE`: the bundle id a request that names none is priced with.
    pub default_bundle: String,
    /// `CODE_SECRET` (secret, 64 hex digits): checks generated and hashed codes.
    pub code_secret: Option<CodeSecret>,
    /// `EDGE_KEY_ID` + `EDGE_SIGNING_KEY` (secret, 64 hex digits: the Ed25519 seed): signs
    /// code grants. The key must be in the trust root with the `edge` role.
    pub grant_key: Option<SigningIdentity>,
    /// `LEDGER_URL`: the origin ledger's base URL.
    pub ledger_url: Option<String>,
    /// `LEDGER_TOKEN` (secret): the ledger's bearer token.
    pub ledger_token: Option<String>,
    /// `ADMIN_TOKEN` (secret): enables `/v1/admin/*`.
    pub admin_token: Option<String>,
    /// `ALLOWED_ORIGINS`: comma-separated storefront origins allowed by CORS (`*` for any).
    pub allowed_origins: Vec<String>,
    /// `MAX_BODY_BYTES`: the largest request body read (default 256 KiB).
    pub max_body: usize,
    /// `BUNDLE_REFRESH_SECONDS`: how long an isolate uses a bundle before it looks at KV again
    /// (default 30). A bundle is verified again only when its bytes changed.
    pub bundle_refresh_ms: u64,
    /// `GRANT_TTL_SECONDS`: lifetime of a code grant (default 900, at most 3600).
    pub grant_ttl: i64,
    /// `CODE_ATTEMPTS_PER_IP`, `CODE_ATTEMPTS_PER_CODE`: `count/seconds` token buckets
    /// (defaults 10/60 and 30/60).
    pub per_ip: Rate,
    pub per_code: Rate,
    /// `CODE_CHECK_MIN_MS`: every code check answers no sooner than this after it arrived, accepted
    /// or refused (default 50).
    pub code_check_min_ms: u64,
    /// `LEDGER_TIMEOUT_MS` (default 5000), `LEDGER_ATTEMPTS` (default 3), `LEDGER_BACKOFF_MS`
    /// (default 200, doubled per attempt): forwarding a redemption.
    pub ledger_timeout_ms: u64,
    pub ledger_attempts: u32,
    pub ledger_backoff_ms: u64,
    /// `REPLAY_BASE_SECONDS` (default 30) and `REPLAY_MAX_SECONDS` (default 900): dead-letter
    /// redelivery backoff, doubled per failed attempt up to the maximum.
    pub replay_base_ms: u64,
    pub replay_max_ms: u64,
}

fn parse<T: std::str::FromStr>(src: &dyn Source, name: &str, default: T) -> Result<T, String> {
    match src.get(name).map(|v| v.trim().to_string()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name}: `{v}` is not a valid value")),
    }
}

fn seed(src: &dyn Source, name: &str) -> Result<Option<[u8; 32]>, String> {
    let Some(hex) = src.get(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    decode_hex(hex.trim())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(Some)
        .ok_or_else(|| format!("{name}: must be 64 hex digits"))
}

impl Config {
    pub fn load(src: &dyn Source) -> Result<Config, String> {
        let root_b64 = src
            .get("TRUST_ROOT")
            .filter(|v| !v.trim().is_empty())
            .ok_or("TRUST_ROOT: not set (the signed trust root envelope, base64)")?;
        let root_bytes = STANDARD
            .decode(root_b64.trim())
            .map_err(|e| format!("TRUST_ROOT: not base64 ({e})"))?;
        let root = TrustRoot::from_envelope(&root_bytes)
            .map_err(|e| format!("TRUST_ROOT: refused: {e}"))?;
        let code_secret = seed(src, "CODE_SECRET")?.map(CodeSecret::from_bytes);
        let grant_key = match seed(src, "EDGE_SIGNING_KEY")? {
            None => None,
            Some(seed) => {
                let id = src
                    .get("EDGE_KEY_ID")
                    .filter(|v| !v.trim().is_empty())
                    .ok_or("EDGE_KEY_ID: must name the key when EDGE_SIGNING_KEY is set")?;
                let key = SigningIdentity::from_seed(id.trim(), seed);
                // A grant signed by a key the root does not give the edge role is refused by
                // every verifier: say so now rather than hand out useless grants.
                let listed = root.payload().keys.iter().any(|k| {
                    k.id == id.trim()
                        && k.public_key == key.public_key()
                        && k.roles.iter().any(|r| r == "edge")
                });
                if !listed {
                    return Err(format!(
                        "EDGE_SIGNING_KEY: key `{}` with this public key and the edge role is not in the trust root",
                        id.trim()
                    ));
                }
                Some(key)
            }
        };
        let grant_ttl: i64 = parse(src, "GRANT_TTL_SECONDS", 900)?;
        if !(1..=promoseal_evaluator::seal::MAX_GRANT_LIFETIME).contains(&grant_ttl) {
            return Err(format!(
                "GRANT_TTL_SECONDS: {grant_ttl} is outside 1..={}",
                promoseal_evaluator::seal::MAX_GRANT_LIFETIME
            ));
        }
        let ledger_attempts: u32 = parse(src, "LEDGER_ATTEMPTS", 3)?;
        if !(1..=10).contains(&ledger_attempts) {
            return Err(format!(
                "LEDGER_ATTEMPTS: {ledger_attempts} is outside 1..=10"
            ));
        }
        let secs = |name: &str, default: u64| -> Result<u64, String> {
            Ok(parse::<u64>(src, name, default)?.saturating_mul(1000))
        };
        let text = |name: &str| {
            src.get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Ok(Config {
            root: Arc::new(root),
            default_bundle: text("DEFAULT_BUNDLE").unwrap_or_default(),
            code_secret,
            grant_key,
            ledger_url: text("LEDGER_URL").map(|u| u.trim_end_matches('/').to_string()),
            ledger_token: text("LEDGER_TOKEN"),
            admin_token: text("ADMIN_TOKEN"),
            allowed_origins: text("ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            max_body: parse(src, "MAX_BODY_BYTES", 256 * 1024)?,
            bundle_refresh_ms: secs("BUNDLE_REFRESH_SECONDS", 30)?,
            grant_ttl,
            per_ip: parse(src, "CODE_ATTEMPTS_PER_IP", Rate::new(10, 60))?,
            per_code: parse(src, "CODE_ATTEMPTS_PER_CODE", Rate::new(30, 60))?,
            code_check_min_ms: parse(src, "CODE_CHECK_MIN_MS", 50)?,
            ledger_timeout_ms: parse(src, "LEDGER_TIMEOUT_MS", 5000)?,
            ledger_attempts,
            ledger_backoff_ms: parse(src, "LEDGER_BACKOFF_MS", 200)?,
            replay_base_ms: secs("REPLAY_BASE_SECONDS", 30)?,
            replay_max_ms: secs("REPLAY_MAX_SECONDS", 900)?,
        })
    }
}
