//! The routes. Each handler reads the request, asks the pure modules, and answers.

use std::time::Duration;

use futures_util::future::join_all;
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::{parse_input, to_json};
use serde_json::{json, Value};
use subtle::ConstantTimeEq as _;
use worker::{console_log, Delay, Env, Method, Request};

use super::{bundles, internal, ledger, now, now_ms, objects, Reply};
use crate::api::{
    idempotency_key, if_none_match, not_applied_view, parse_body, require_json, CodeCheckRequest,
    EdgeError, ErrorCode, RedeemRequest,
};
use crate::bucket;
use crate::codes;
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
        _ => match allowed(&path) {
            Some(allow) => {
                let e = EdgeError::method_not_allowed(method.as_ref(), &path);
                Ok(Reply::json(e.status, e.body()).header("Allow", allow))
            }
            None => Err(EdgeError::no_route(&path)),
        },
    }
}

/// The methods a route answers (RFC 9110's `Allow` of a 405), `None` for no route.
fn allowed(path: &str) -> Option<&'static str> {
    match path {
        "/v1/ping" | "/healthz" | "/v1/admin/dead-letters" => Some("GET, OPTIONS"),
        "/v1/bundle/storefront" => Some("GET, HEAD, OPTIONS"),
        "/v1/evaluate" | "/v1/codes/check" | "/v1/redeem" | "/v1/admin/dead-letters/replay" => {
            Some("POST, OPTIONS")
        }
        _ => None,
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

/// The body of a POST: declared JSON (else 415), refused past `MAX_BODY_BYTES` (by its
/// declared length first, then as read).
async fn body(req: &mut Request, cfg: &Config) -> Result<Vec<u8>, EdgeError> {
    require_json(req.headers().get("Content-Type").ok().flatten().as_deref())?;
    let declared = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > cfg.max_body) {
        return Err(EdgeError::too_large(n, cfg.max_body));
    }
    let bytes = req.bytes().await.map_err(|e| {
        EdgeError::new(
            400,
            ErrorCode::InvalidRequest,
            format!("unreadable body: {e}"),
        )
    })?;
    if bytes.len() > cfg.max_body {
        return Err(EdgeError::too_large(bytes.len(), cfg.max_body));
    }
    Ok(bytes)
}

/// The bundle id a request names (`?bundle=`), else the default.
fn query(req: &Request, name: &str) -> Option<String> {
    req.url().ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

fn bundle_id(req: &Request, cfg: &Config) -> Result<String, EdgeError> {
    let id = query(req, "bundle").unwrap_or_else(|| cfg.default_bundle.clone());
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

/// Entered codes take one token each from the client's bucket (its IPv4 address or IPv6
/// /64), valid codes and invalid alike.
async fn take_client(
    env: &Env,
    cfg: &Config,
    req: &Request,
    codes: usize,
) -> Result<(), EdgeError> {
    let cost = bucket::cost(codes, cfg.per_ip)?;
    if cost == 0 {
        return Ok(());
    }
    let name = bucket::client_key(&client_ip(req));
    let decision = objects::take(env, &name, cfg.per_ip, cost).await?;
    bucket::combine(&[decision])
}

/// Failed code checks take one token each from their code's bucket (by its canonical keyed
/// hash); an accepted code never touches it, so no one can make a valid code refused.
async fn take_failed(env: &Env, cfg: &Config, code_keys: &[&String]) -> Result<(), EdgeError> {
    let names: Vec<String> = code_keys.iter().map(|k| format!("code:{k}")).collect();
    let decisions = join_all(
        names
            .iter()
            .map(|name| objects::take(env, name, cfg.per_code, 1)),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, EdgeError>>()?;
    bucket::combine(&decisions)
}

/// The used-up markers of codes (by their keys, in order) and the bundle's exhausted
/// promotions, read from KV together.
async fn markers(
    env: &Env,
    bundle_id: &str,
    code_keys: &[String],
) -> Result<(Vec<Vec<String>>, Vec<String>), EdgeError> {
    let used_keys: Vec<String> = code_keys.iter().map(|k| codes::used_key(k)).collect();
    let exhausted_key = codes::exhausted_key(bundle_id);
    let (used, exhausted) = futures_util::join!(
        join_all(used_keys.iter().map(|k| bundles::kv_text(env, k))),
        bundles::kv_text(env, &exhausted_key),
    );
    let used = used
        .into_iter()
        .map(|v| v.map(|v| codes::read_list(v.as_deref())))
        .collect::<Result<Vec<_>, EdgeError>>()?;
    Ok((used, codes::read_list(exhausted?.as_deref())))
}

async fn evaluate_route(req: &mut Request, env: &Env, cfg: &Config) -> Answer {
    let id = bundle_id(req, cfg)?;
    let view = not_applied_view(query(req, "notApplied").as_deref())?;
    let body = body(req, cfg).await?;
    let input = parse_input(&body).map_err(|e| EdgeError::from_evaluator(&e.into()))?;
    let bundle = bundles::edge(env, cfg, &id).await?;
    let entered = input.context.codes.len();
    take_client(env, cfg, req, entered).await?;
    let (keys, used, exhausted) = if entered == 0 {
        Default::default()
    } else {
        let keys = codes::code_keys(&bundle, cfg.code_secret.as_ref(), &input.context.codes);
        let (used, exhausted) = markers(env, bundle.id(), &keys).await?;
        (keys, used, exhausted)
    };
    let public = codes::evaluate_public(&bundle, &cfg.root, input, view, now(), &used, &exhausted)
        .map_err(|e| EdgeError::from_evaluator(&e))?;
    let failed: Vec<&String> = public.refused.iter().filter_map(|&i| keys.get(i)).collect();
    if !failed.is_empty() {
        take_failed(env, cfg, &failed).await?;
    }
    let json = to_json(&public.evaluation).map_err(|e| EdgeError::from_evaluator(&e))?;
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
            ErrorCode::Misconfigured,
            "code checks need EDGE_KEY_ID and EDGE_SIGNING_KEY",
        ));
    };
    take_client(env, cfg, req, 1).await?;
    let bundle = match bundles::edge(env, cfg, &id).await {
        Ok(b) => b,
        // An expired bundle accepts no code: the same refusal as any other.
        Err(e) if e.code == "bundleExpired" => return Err(EdgeError::code_refused()),
        Err(e) => return Err(e),
    };
    let code = codes::code_key(&bundle, cfg.code_secret.as_ref(), &check.code);
    // The same two reads whatever the code.
    let (used, exhausted) = markers(env, bundle.id(), std::slice::from_ref(&code)).await?;
    let markers = codes::Markers {
        used: used.first().map_or(&[], Vec::as_slice),
        exhausted: &exhausted,
    };
    match codes::check(
        &bundle,
        &cfg.root,
        &check,
        now(),
        cfg.grant_ttl,
        key,
        markers,
    ) {
        Ok(answer) => {
            let json =
                serde_json::to_string(&answer).map_err(|e| internal("code check answer", e))?;
            Ok(Reply::json(200, json).header("Cache-Control", "no-store"))
        }
        Err(refused) => {
            take_failed(env, cfg, &[&code]).await?;
            Err(refused)
        }
    }
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
        .is_some_and(|v| if_none_match(&v, &etag));
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
        return Err(EdgeError::no_route(&req.path()));
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
            ErrorCode::Unauthorized,
            "a valid admin bearer token is required",
        ))
    }
}

async fn redeem(req: &mut Request, env: &Env, cfg: &Config) -> Answer {
    let body = body(req, cfg).await?;
    let header = req.headers().get("Idempotency-Key").ok().flatten();
    let key = idempotency_key(header.as_deref())?;
    let r: RedeemRequest = parse_body(&body)?;
    if cfg.ledger_url.is_none() {
        return Err(EdgeError::unavailable(
            ErrorCode::Misconfigured,
            "redemptions need LEDGER_URL",
        ));
    }
    let id = redeem::bundle_id(&r, &cfg.default_bundle).to_string();
    check_bundle_id(&id)?;
    let ip = client_ip(req);
    // The client's bucket only: whether a code still holds is the ledger's to say.
    take_client(env, cfg, req, r.input.context.codes.len()).await?;
    let current = bundles::edge(env, cfg, &id).await;
    let prepared = redeem::prepare(r, current.as_ref(), &ip, &cfg.root)?;
    let forward = prepared.body;

    match ledger::forward(cfg, &key, &forward).await {
        Ok(answer) => {
            if let (Some(e), Ok(bundle)) = (&prepared.evaluation, &current) {
                let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                let pending: Vec<codes::Pending> =
                    e.pending_ledger.iter().map(Into::into).collect();
                let learned = codes::learn(
                    answer.status,
                    &parsed,
                    &pending,
                    bundle,
                    cfg.code_secret.as_ref(),
                );
                bundles::remember(env, &prepared.bundle_id, learned).await;
            }
            let mut reply = Reply::json(answer.status, answer.body);
            if answer.replayed {
                reply = reply.header("Idempotency-Replayed", "true");
            }
            Ok(reply.header("Cache-Control", "no-store"))
        }
        Err(why) => {
            console_log!(
                "ledger unreachable, redemption queued as a dead letter: {}",
                why.why
            );
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
