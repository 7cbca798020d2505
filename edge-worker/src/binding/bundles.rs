//! The isolate's bundles: read from KV, verified once, checked to be filed under their own id,
//! admitted by their guard, kept until KV holds other bytes (see `crate::slots`). Nothing in
//! KV under an id is 404 `unknownBundle`. Also the KV markers of used-up codes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use promoseal_evaluator::model::Audience;
use promoseal_evaluator::Bundle;
use worker::{console_error, console_log, Env};

use super::{internal, now, now_ms, objects};
use crate::api::EdgeError;
use crate::codes::{self, Learned};
use crate::config::Config;
use crate::slots::{self, sha256, Slot};

const KV: &str = "BUNDLES";

thread_local! {
    static SLOTS: RefCell<HashMap<String, Slot>> = RefCell::new(HashMap::new());
}

/// What a route gets: the verified bundle and, for serving, its signed bytes.
pub struct Held {
    pub bundle: Arc<Bundle>,
    pub envelope: Arc<Vec<u8>>,
    pub etag: String,
    pub refused: Option<String>,
}

fn held(key: &str, now_ms: u64, touch: bool) -> Option<Held> {
    SLOTS.with(|s| {
        let mut slots = s.borrow_mut();
        let slot = slots.get_mut(key)?;
        if touch {
            slot.checked_ms = now_ms;
        }
        Some(Held {
            bundle: slot.bundle.clone(),
            envelope: slot.envelope.clone(),
            etag: slot.etag(),
            refused: slot.refused.clone(),
        })
    })
}

/// Keeps what the isolate had after a refused update, noting why; or, with nothing held, the
/// 503 that says why.
fn refuse_update(key: &str, why: String, now_ms: u64) -> Result<Held, EdgeError> {
    console_error!("bundle `{key}` in KV refused: {why}");
    SLOTS.with(|s| {
        if let Some(slot) = s.borrow_mut().get_mut(key) {
            slot.refused = Some(why.clone());
            slot.checked_ms = now_ms;
        }
    });
    held(key, now_ms, false).ok_or_else(|| slots::unavailable(key, &why))
}

/// The bundle of `audience` and `id`, live on the edge's clock.
pub async fn get(env: &Env, cfg: &Config, audience: Audience, id: &str) -> Result<Held, EdgeError> {
    let key = slots::kv_key(audience, id);
    let now_ms = now_ms();
    let fresh = SLOTS.with(|s| {
        s.borrow()
            .get(&key)
            .map(|slot| !slot.stale(now_ms, cfg.bundle_refresh_ms))
    });
    let held = match fresh {
        Some(true) => held(&key, now_ms, false),
        _ => None,
    };
    let held = match held {
        Some(h) => h,
        None => load(env, cfg, audience, id, now_ms).await?,
    };
    if now() >= held.bundle.expires_at() {
        return Err(Slot::expired(&held.bundle));
    }
    Ok(held)
}

async fn load(
    env: &Env,
    cfg: &Config,
    audience: Audience,
    id: &str,
    now_ms: u64,
) -> Result<Held, EdgeError> {
    let key = &slots::kv_key(audience, id);
    let kv = env.kv(KV).map_err(|e| internal("KV binding", e))?;
    let bytes = kv
        .get(key)
        .bytes()
        .await
        .map_err(|e| internal("KV read", e))?;
    let Some(bytes) = bytes else {
        SLOTS.with(|s| s.borrow_mut().remove(key));
        return Err(slots::unknown(id));
    };
    let digest = sha256(&bytes);
    let same = SLOTS.with(|s| {
        s.borrow()
            .get(key)
            .is_some_and(|slot| slot.envelope_digest == digest)
    });
    if same {
        return held(key, now_ms, true).ok_or_else(EdgeError::internal);
    }
    let bundle = match slots::open(
        &bytes,
        &cfg.root,
        audience,
        super::now(),
        cfg.code_secret.as_ref(),
    ) {
        Ok(b) => b,
        Err(e) => return refuse_update(key, format!("{}: {e}", e.refusal().code()), now_ms),
    };
    if let Err(why) = slots::check_filed(&bundle, id) {
        return refuse_update(key, why, now_ms);
    }
    let Some(payload_digest) = bundle.digest() else {
        return Err(EdgeError::internal());
    };
    if let Err(refusal) = objects::admit(env, key, bundle.version(), &payload_digest).await? {
        return refuse_update(key, refusal, now_ms);
    }
    console_log!(
        "bundle `{key}` version {} verified and admitted",
        bundle.version()
    );
    SLOTS.with(|s| {
        s.borrow_mut()
            .insert(key.to_string(), Slot::new(bundle, bytes, now_ms))
    });
    held(key, now_ms, false).ok_or_else(EdgeError::internal)
}

/// The edge bundle `id`.
pub async fn edge(env: &Env, cfg: &Config, id: &str) -> Result<Arc<Bundle>, EdgeError> {
    Ok(get(env, cfg, Audience::Edge, id).await?.bundle)
}

pub async fn kv_text(env: &Env, key: &str) -> Result<Option<String>, EdgeError> {
    let kv = env.kv(KV).map_err(|e| internal("KV binding", e))?;
    kv.get(key).text().await.map_err(|e| internal("KV read", e))
}

/// Records what a ledger answer taught (best effort: a lost marker only means a shopper sees
/// a preview that checkout then refuses).
pub async fn remember(env: &Env, bundle_id: &str, learned: Vec<Learned>) {
    for l in learned {
        let (key, promotions, ttl) = match l {
            Learned::Used {
                code_key,
                promotions,
            } => (codes::used_key(&code_key), promotions, codes::USED_TTL),
            Learned::Exhausted { promotion } => (
                codes::exhausted_key(bundle_id),
                vec![promotion],
                codes::EXHAUSTED_TTL,
            ),
        };
        let result: Result<(), EdgeError> = async {
            let mut list = codes::read_list(kv_text(env, &key).await?.as_deref());
            codes::merge(&mut list, &promotions);
            let kv = env.kv(KV).map_err(|e| internal("KV binding", e))?;
            let value = serde_json::to_string(&list).map_err(|e| internal("marker", e))?;
            kv.put(&key, value)
                .map_err(|e| internal("KV write", e))?
                .expiration_ttl(ttl)
                .execute()
                .await
                .map_err(|e| internal("KV write", e))
        }
        .await;
        if result.is_err() {
            console_error!("could not record a used-up marker");
        }
    }
}
