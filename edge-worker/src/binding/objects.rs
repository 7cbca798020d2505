//! The Durable Objects, and the Worker's calls into them.
//!
//! - `Limiter`, one per attempt-limit key (`ip:<IPv4 address or IPv6 /64>`, `code:<keyed
//!   hash of the canonical code>`): a token
//!   bucket (`crate::bucket`) in its storage, removed by an alarm once idle long enough to be
//!   full again.
//! - `Guard`, one per bundle KV key: the highest version admitted (`crate::slots::admit`).
//! - `Outbox`, one: the dead letters and their redelivery (`crate::outbox`).
//!
//! Each object is single-threaded, so a read and the write that follows it cannot interleave
//! with another request's.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{
    console_error, durable_object, DurableObject, Env, ListOptions, Method, Request, RequestInit,
    Response, Result, State,
};

use super::{config, internal, ledger, now_ms, Reply};
use crate::api::EdgeError;
use crate::bucket::{take as take_token, Bucket, Decision, Rate};
use crate::outbox::{verdict, Delivered, Letter, Unanswered, Verdict, DONE_RETENTION_MS};
use crate::slots::admit as admit_version;
use promoseal_wire::Accepted;

/// Calls an object with a JSON body and reads its JSON answer.
async fn call<T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    method: Method,
    path: &str,
    body: Option<String>,
) -> std::result::Result<(u16, T), EdgeError> {
    let ns = env
        .durable_object(binding)
        .map_err(|e| internal("Durable Object binding", e))?;
    let stub = ns
        .id_from_name(name)
        .and_then(|id| id.get_stub())
        .map_err(|e| internal("Durable Object stub", e))?;
    let mut init = RequestInit::new();
    init.with_method(method)
        .with_body(body.map(|b| JsValue::from_str(&b)));
    let req = Request::new_with_init(&format!("https://object{path}"), &init)
        .map_err(|e| internal("Durable Object request", e))?;
    let mut res = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| internal("Durable Object call", e))?;
    let status = res.status_code();
    let value = res
        .json::<T>()
        .await
        .map_err(|e| internal("Durable Object answer", e))?;
    Ok((status, value))
}

fn json_response<T: Serialize>(status: u16, value: &T) -> Result<Response> {
    Ok(Response::from_json(value)?.with_status(status))
}

async fn read<T: DeserializeOwned>(req: &mut Request) -> Result<T> {
    req.json().await
}

// ---- Limiter ----------------------------------------------------------------------------

#[derive(Deserialize, Serialize)]
struct Take {
    rate: Rate,
    cost: u32,
}

/// Takes `cost` attempts from the bucket `name`.
pub async fn take(
    env: &Env,
    name: &str,
    rate: Rate,
    cost: u32,
) -> std::result::Result<Decision, EdgeError> {
    let body = serde_json::to_string(&Take { rate, cost }).map_err(|e| internal("limiter", e))?;
    Ok(
        call(env, "LIMITER", name, Method::Post, "/take", Some(body))
            .await?
            .1,
    )
}

#[durable_object]
pub struct Limiter {
    state: State,
}

impl DurableObject for Limiter {
    fn new(state: State, _env: Env) -> Self {
        Limiter { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let Take { rate, cost } = read(&mut req).await?;
        let storage = self.state.storage();
        let bucket: Option<Bucket> = storage.get("bucket").await?;
        let (bucket, decision) = take_token(bucket, rate, cost, now_ms());
        storage.put("bucket", bucket).await?;
        // Idle for a whole period, the bucket is full again: forget it.
        let period = i64::from(rate.seconds).saturating_mul(1000);
        storage.set_alarm(period).await?;
        json_response(200, &decision)
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::ok("")
    }
}

// ---- Guard ------------------------------------------------------------------------------

#[derive(Deserialize, Serialize)]
struct Admission {
    admitted: bool,
    #[serde(default)]
    refusal: Option<String>,
}

/// Asks the guard of `key` to admit `version`: `Ok(Err(why))` is a refusal (rollback,
/// equivocation).
pub async fn admit(
    env: &Env,
    key: &str,
    version: u64,
    digest: &[u8; 32],
) -> std::result::Result<std::result::Result<(), String>, EdgeError> {
    let body = serde_json::to_string(&Accepted {
        version,
        digest: *digest,
    })
    .map_err(|e| internal("guard", e))?;
    let (_, a): (u16, Admission) =
        call(env, "GUARD", key, Method::Post, "/admit", Some(body)).await?;
    Ok(if a.admitted {
        Ok(())
    } else {
        Err(a.refusal.unwrap_or_else(|| "refused".into()))
    })
}

#[durable_object]
pub struct Guard {
    state: State,
}

impl DurableObject for Guard {
    fn new(state: State, _env: Env) -> Self {
        Guard { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let Accepted { version, digest } = read(&mut req).await?;
        let storage = self.state.storage();
        let stored: Option<Accepted> = storage.get("highest").await?;
        let answer = match admit_version(stored.as_ref(), version, &digest) {
            Ok(Some(new)) => {
                storage.put("highest", new).await?;
                Admission {
                    admitted: true,
                    refusal: None,
                }
            }
            Ok(None) => Admission {
                admitted: true,
                refusal: None,
            },
            Err(r) => Admission {
                admitted: false,
                refusal: Some(format!("{}: {r}", r.code())),
            },
        };
        json_response(200, &answer)
    }
}

// ---- Outbox -----------------------------------------------------------------------------

const OUTBOX: &str = "outbox";

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Enqueue {
    key: String,
    body: String,
    error: String,
    #[serde(default)]
    retry_after_ms: Option<u64>,
}

/// Stores a redemption the ledger did not answer.
pub async fn enqueue(
    env: &Env,
    key: &str,
    body: &str,
    why: &Unanswered,
) -> std::result::Result<(), EdgeError> {
    let msg = serde_json::to_string(&Enqueue {
        key: key.into(),
        body: body.into(),
        error: why.why.clone(),
        retry_after_ms: why.retry_after_ms,
    })
    .map_err(|e| internal("outbox", e))?;
    call::<serde_json::Value>(env, "OUTBOX", OUTBOX, Method::Post, "/enqueue", Some(msg)).await?;
    Ok(())
}

/// Relays an admin call to the outbox.
pub async fn outbox_call(
    env: &Env,
    method: Method,
    path: &str,
    body: Option<String>,
) -> std::result::Result<Reply, EdgeError> {
    let (status, value): (u16, serde_json::Value) =
        call(env, "OUTBOX", OUTBOX, method, path, body).await?;
    Ok(Reply::json(status, value.to_string()).header("Cache-Control", "no-store"))
}

#[durable_object]
pub struct Outbox {
    state: State,
    env: Env,
}

/// Storage keys: a letter, and the record of a delivered one.
fn letter_key(key: &str) -> String {
    format!("letter:{key}")
}
fn done_key(key: &str) -> String {
    format!("done:{key}")
}

impl Outbox {
    /// Every stored value under `prefix`, parsed.
    async fn list<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>> {
        let map = self
            .state
            .storage()
            .list_with_options(ListOptions::new().prefix(prefix))
            .await?;
        let mut out = Vec::new();
        for entry in map.entries() {
            let pair = js_sys::Array::from(&entry?);
            let key = pair.get(0).as_string().unwrap_or_default();
            match serde_wasm_bindgen::from_value::<T>(pair.get(1)) {
                Ok(v) => out.push((key, v)),
                Err(e) => console_error!("outbox: unreadable entry {key}: {e}"),
            }
        }
        Ok(out)
    }

    /// Sends every due letter (every letter when `all`), once each. Returns how many were
    /// answered and how many remain.
    async fn deliver(&self, all: bool) -> Result<(usize, usize)> {
        let cfg = config(&self.env).map_err(|e| worker::Error::RustError(e.message))?;
        let storage = self.state.storage();
        let now = now_ms();
        let (mut answered, mut remaining) = (0, 0);
        for (_, mut letter) in self.list::<Letter>("letter:").await? {
            if !all && !letter.due(now) {
                remaining += 1;
                continue;
            }
            let result = ledger::send(&cfg, &letter.key, &letter.body).await;
            let status = result.as_ref().ok().map(|a| a.status);
            let retry_after = result.as_ref().ok().and_then(|a| a.retry_after_ms);
            let error = result.as_ref().err().cloned().unwrap_or_default();
            match verdict(status, &error) {
                Verdict::Answered => {
                    let record = Delivered {
                        key: letter.key.clone(),
                        status: status.unwrap_or(0),
                        attempts: letter.attempts.saturating_add(1),
                        at_ms: now_ms(),
                    };
                    storage.put(&done_key(&letter.key), record).await?;
                    storage.delete(&letter_key(&letter.key)).await?;
                    answered += 1;
                }
                Verdict::Retry(why) => {
                    let at = now_ms();
                    letter.failed(why, at, cfg.replay_base_ms, cfg.replay_max_ms);
                    letter.not_before(at, retry_after, cfg.replay_max_ms);
                    storage.put(&letter_key(&letter.key), &letter).await?;
                    remaining += 1;
                }
            }
        }
        Ok((answered, remaining))
    }

    /// Forgets delivery records older than a week, and sets the alarm for the next due letter.
    async fn reschedule(&self) -> Result<()> {
        let storage = self.state.storage();
        let now = now_ms();
        for (key, done) in self.list::<Delivered>("done:").await? {
            if now.saturating_sub(done.at_ms) > DONE_RETENTION_MS {
                storage.delete(&key).await?;
            }
        }
        let next = self
            .list::<Letter>("letter:")
            .await?
            .iter()
            .map(|(_, l)| l.next_ms)
            .min();
        match next {
            Some(at) => {
                let offset = i64::try_from(at.saturating_sub(now)).unwrap_or(i64::MAX);
                storage.set_alarm(offset.max(1)).await?;
            }
            None => storage.delete_alarm().await?,
        }
        Ok(())
    }
}

impl DurableObject for Outbox {
    fn new(state: State, env: Env) -> Self {
        Outbox { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let storage = self.state.storage();
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/enqueue") => {
                let Enqueue {
                    key,
                    body,
                    error,
                    retry_after_ms,
                } = read(&mut req).await?;
                let cfg = config(&self.env).map_err(|e| worker::Error::RustError(e.message))?;
                // A letter already waiting under this key keeps its place and its count.
                if storage.get::<Letter>(&letter_key(&key)).await?.is_none() {
                    let now = now_ms();
                    let mut letter = Letter::new(key.clone(), body, error, now, cfg.replay_base_ms);
                    letter.not_before(now, retry_after_ms, cfg.replay_max_ms);
                    storage.put(&letter_key(&key), letter).await?;
                }
                self.reschedule().await?;
                json_response(202, &json!({"queued": key}))
            }
            (Method::Get, "/letters") => {
                let letters: Vec<_> = self
                    .list::<Letter>("letter:")
                    .await?
                    .into_iter()
                    .map(|(_, l)| {
                        json!({"idempotencyKey": l.key, "attempts": l.attempts,
                               "firstFailedMs": l.first_failed_ms, "nextAttemptMs": l.next_ms,
                               "lastError": l.last_error})
                    })
                    .collect();
                let delivered: Vec<_> = self
                    .list::<Delivered>("done:")
                    .await?
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect();
                json_response(200, &json!({"letters": letters, "delivered": delivered}))
            }
            (Method::Post, "/replay") => {
                let (answered, remaining) = self.deliver(true).await?;
                self.reschedule().await?;
                json_response(200, &json!({"delivered": answered, "remaining": remaining}))
            }
            _ => json_response(404, &json!({"error": "no such outbox route"})),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.deliver(false).await?;
        self.reschedule().await?;
        Response::ok("")
    }
}
