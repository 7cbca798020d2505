//! The routes. Each handler reads the request, asks the pure modules, and answers.

use std::time::Duration;

use futures_util::future::join_all;
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::{evaluate, parse_input, to_json};
use serde_json::{json, Value};
use subtle::ConstantTimeEq as _;
use worker::{console_log, Delay, Env, Method, Request};

use super::{bundles, internal, ledger, now, now_ms, objects, Reply};
use crate::api::{idempotency_key, parse_body, CodeCheckRequest, EdgeError, RedeemRequest};
use crate::bucket::Rate;
use crate::codes::{self, code_key};
use crate::config::Config;
use crate::cors;
use crate::redeem;
use crate::slots::check_bundle_id;

type Answer = Result<Reply, EdgeError>;

pub async fn handle(mut req: Request, env: &Env, cfg: &Config) -> Answer {
    let path = req.path();
    let method = req.method();
    if method == Method::Options {
        return Ok(preflight());
    }
    match (method.clone(), path.as_str()) {
        (Method::Get, "/v1/ping") => Ok(Reply::json(200, "{}")),
        (Method::Get, "/healthz") => health(env, cfg).await,
        (Method::Post, "/v1/evaluate") => evaluate_route(&mut req, env, cfg).await,
        (Method::Post, "/v1/codes/check") => code_check(&mut req, env, cfg).await,
        (Method::Post, "/v1/redeem") => redeem(&mut req, env, cfg).await,
        (Method::Get | Method::Head, "/v1/bundle/storefront") => storefront(&req, env, cfg).await,
        (Method::Get, "/v1/admin/dead-letters") => {
            admin(&req, cfg)?;
            objects::outbox_call(env, Method::Get, "/letters", None).await
        }
        (Method::Post, "/v1/admin/dead-letters/replay") => {
            admin(&req, cfg)?;
            objects::outbox_call(env, Method::Post, "/replay", None).await
        }
        (_, "/v1/ping" | "/healthz" | "/v1/evaluate" | "/v1/codes/check" | "/v1/redeem")
        | (_, "/v1/bundle/storefront" | "/v1/admin/dead-letters")
        | (_, "/v1/admin/dead-letters/replay") => {
            Err(EdgeError::method_not_allowed(method.as_ref(), &path))
        }
        _ => Err(EdgeError::not_found(&path)),
    }
}

fn preflight() -> Reply {
    Reply {
        status: 204,
        body: Vec::new(),
        content_type: "text/plain",
        headers: vec![
            ("Access-Control-Allow-Methods", cors::ALLOW_METHODS.into()),
            ("Access-Control-Allow-Headers", cors::ALLOW_HEADERS.into()),
            ("Access-Control-Max-Age", cors::MAX_AGE.into()),
        ],
    }
}

/// The body, refused past `MAX_BODY_BYTES` (by its declared length first, then as read).
async fn body(req: &mut Request, cfg: &Config) -> Result<Vec<u8>, EdgeError> {
    let declared = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > cfg.max_body) {
        return Err(EdgeError::too_large(n, cfg.max_body));
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|e| EdgeError::new(400, "invalidRequest", format!("unreadable body: {e}")))?;
    if bytes.len() > cfg.max_body {
        return Err(EdgeError::too_large(bytes.len(), cfg.max_body));
    }
    Ok(bytes)
}

/// The bundle id a request names (`?bundle=`), else the default.
fn bundle_id(req: &Request, cfg: &Config) -> Result<String, EdgeError> {
    let named = req.url().ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "bundle")
            .map(|(_, v)| v.into_owned())
    });
    let id = named.unwrap_or_else(|| cfg.default_bundle.clone());
    check_bundle_id(&id)?;
    Ok(id)
}

fn client_ip(req: &Request) -> String {
    req.headers()
        .get("CF-Connecting-IP")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".into())
}

/// Attempt limits for entered codes: one token per code from the client's bucket, one from
/// each code's. The largest wait wins.
async fn attempts(
    env: &Env,
    cfg: &Config,
    ip: &str,
    code_keys: &[String],
) -> Result<(), EdgeError> {
    if code_keys.is_empty() {
        return Ok(());
    }
    let cost = u32::try_from(code_keys.len()).unwrap_or(u32::MAX);
    let mut calls: Vec<(String, Rate, u32)> = vec![(format!("ip:{ip}"), cfg.per_ip, cost)];
    calls.extend(
        code_keys
            .iter()
            .map(|k| (format!("code:{k}"), cfg.per_code, 1)),
    );
    let decisions = join_all(
        calls
            .iter()
            .map(|(name, rate, cost)| objects::take(env, name, *rate, *cost)),
    )
    .await;
    let mut wait = 0;
    for d in decisions {
        let d = d?;
        if !d.allowed {
            wait = wait.max(d.retry_after);
        }
    }
    if wait > 0 {
        return Err(EdgeError::rate_limited(wait));
    }
    Ok(())
}

async fn evaluate_route(req: &mut Request, env: &Env, cfg: &Config) -> Answer {
    let id = bundle_id(req, cfg)?;
    let body = body(req, cfg).await?;
    let bundle = bundles::edge(env, cfg, &id).await?;
    let input = parse_input(&body).map_err(|e| EdgeError::from_evaluator(&e.into()))?;
    let keys = codes::code_keys(cfg.code_secret.as_ref(), &input.context.codes);
    attempts(env, cfg, &client_ip(req), &keys).await?;
    let evaluation = evaluate(&bundle, &input).map_err(|e| EdgeError::from_evaluator(&e))?;
    let json = to_json(&evaluation).map_err(|e| EdgeError::from_evaluator(&e))?;
    Ok(Reply::json(200, json))
}

async fn code_check(req: &mut Request, env: &Env, cfg: &Config) -> Answer {
    let started = now_ms();
    let answer = code_check_inner(req, env, cfg).await;
    // Accepted or refused, the answer leaves no sooner than the floor.
    let elapsed = now_ms().saturating_sub(started);
    if elapsed < cfg.code_check_min_ms {
        Delay::from(Duration::from_millis(cfg.code_check_min_ms - elapsed)).await;
    }
    answer
}

async fn code_check_inner(req: &mut Request, env: &Env, cfg: &Config) -> Answer {
    let id = bundle_id(req, cfg)?;
    let body = body(req, cfg).await?;
    let check: CodeCheckRequest = parse_body(&body)?;
    let Some(key) = &cfg.grant_key else {
        return Err(EdgeError::unavailable(
            "misconfigured",
            "code checks need EDGE_KEY_ID and EDGE_SIGNING_KEY",
        ));
    };
    let code = code_key(cfg.code_secret.as_ref(), &check.code);
    attempts(env, cfg, &client_ip(req), std::slice::from_ref(&code)).await?;
    let bundle = match bundles::edge(env, cfg, &id).await {
        Ok(b) => b,
        // An expired bundle accepts no code: the same refusal as any other.
        Err(e) if e.code == "bundleExpired" => return Err(EdgeError::code_refused()),
        Err(e) => return Err(e),
    };
    // The same two reads whatever the code.
    let (used_key, exhausted_key) = (codes::used_key(&code), codes::exhausted_key(bundle.id()));
    let (used, exhausted) = futures_util::join!(
        bundles::kv_text(env, &used_key),
        bundles::kv_text(env, &exhausted_key),
    );
    let used = codes::read_list(used?.as_deref());
    let exhausted = codes::read_list(exhausted?.as_deref());
    let answer = codes::check(
        &bundle,
        &check,
        now(),
        cfg.grant_ttl,
        key,
        &used,
        &exhausted,
    )?;
    let json = serde_json::to_string(&answer).map_err(|e| internal("code check answer", e))?;
    Ok(Reply::json(200, json).header("Cache-Control", "no-store"))
}

async fn storefront(req: &Request, env: &Env, cfg: &Config) -> Answer {
    let id = bundle_id(req, cfg)?;
    let slot = bundles::get(env, cfg, Audience::Storefront, &id).await?;
    let etag = slot.etag;
    let fresh = req
        .headers()
        .get("If-None-Match")
        .ok()
        .flatten()
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let reply = Reply {
        status: if fresh { 304 } else { 200 },
        body: if req.method() == Method::Head {
            Vec::new()
        } else {
            slot.envelope.to_vec()
        },
        content_type: "application/vnd.promoseal.envelope",
        headers: Vec::new(),
    };
    Ok(reply.header("ETag", etag).header(
        "Cache-Control",
        "public, max-age=60, stale-while-revalidate=600",
    ))
}

async fn health(env: &Env, cfg: &Config) -> Answer {
    let mut status = 200;
    let mut bundles = Vec::new();
    for audience in [Audience::Edge, Audience::Storefront] {
        let key = crate::slots::kv_key(audience, &cfg.default_bundle);
        match bundles::get(env, cfg, audience, &cfg.default_bundle).await {
            Ok(s) => bundles.push(json!({
                "key": key, "version": s.bundle.version(), "expiresAt": s.bundle.expires_at(),
                "etag": s.etag, "refusedUpdate": s.refused,
            })),
            Err(e) => {
                status = 503;
                bundles.push(json!({"key": key, "error": {"code": e.code, "message": e.message}}));
            }
        }
    }
    let body = json!({
        "status": if status == 200 { "ok" } else { "degraded" },
        "rootDigest": cfg.root.digest_hex(),
        "bundles": bundles,
        "ledgerConfigured": cfg.ledger_url.is_some(),
        "codeChecks": cfg.grant_key.is_some() && cfg.code_secret.is_some(),
    });
    Ok(Reply::json(status, body.to_string()).header("Cache-Control", "no-store"))
}

fn admin(req: &Request, cfg: &Config) -> Result<(), EdgeError> {
    let Some(token) = &cfg.admin_token else {
        return Err(EdgeError::not_found(&req.path()));
    };
    let given = req
        .headers()
        .get("Authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let expected = format!("Bearer {token}");
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(EdgeError::new(
            401,
            "unauthorized",
            "a valid admin bearer token is required",
        ))
    }
}

async fn redeem(req: &mut Request, env: &Env, cfg: &Config) -> Answer {
    let key = idempotency_key(req.headers().get("Idempotency-Key").ok().flatten())?;
    let body = body(req, cfg).await?;
    let r: RedeemRequest = parse_body(&body)?;
    if cfg.ledger_url.is_none() {
        return Err(EdgeError::unavailable(
            "misconfigured",
            "redemptions need LEDGER_URL",
        ));
    }
    let id = redeem::bundle_id(&r, &cfg.default_bundle).to_string();
    check_bundle_id(&id)?;
    let ip = client_ip(req);
    let keys = codes::code_keys(cfg.code_secret.as_ref(), &r.input.context.codes);
    attempts(env, cfg, &ip, &keys).await?;
    let current = bundles::edge(env, cfg, &id).await;
    let prepared = redeem::prepare(r, current.as_ref(), &ip)?;
    let forward = prepared.body;

    match ledger::forward(cfg, &key, &forward).await {
        Ok(answer) => {
            if let Some(e) = &prepared.evaluation {
                let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                let pending: Vec<codes::Pending> =
                    e.pending_ledger.iter().map(Into::into).collect();
                let learned =
                    codes::learn(answer.status, &parsed, &pending, cfg.code_secret.as_ref());
                bundles::remember(env, &prepared.bundle_id, learned).await;
            }
            let mut reply = Reply::json(answer.status, answer.body);
            if answer.replayed {
                reply = reply.header("Idempotency-Replayed", "true");
            }
            Ok(reply.header("Cache-Control", "no-store"))
        }
        Err(why) => {
            console_log!("ledger unreachable, redemption queued as a dead letter: {why}");
            objects::enqueue(env, &key, &forward, &why).await?;
            let body = json!({
                "status": "queued",
                "idempotencyKey": key,
                "message": "The ledger could not be reached; the redemption is queued and will be delivered. Send the same request with the same Idempotency-Key to read its outcome.",
            });
            Ok(Reply::json(202, body.to_string()).header("Cache-Control", "no-store"))
        }
    }
}
