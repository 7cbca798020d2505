//! The HTTP binding: decode, call one function, encode. Every route is under `/v1` except
//! `/healthz`; `ledger/openapi.yaml` describes them all.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promoseal_wire::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::redeem::RedeemRequest;
use crate::store::{Answer, Op, Refund, ReversalKind};
use crate::State;

type Shared = Arc<State>;

/// The ledger's router. `main` serves it; tests call it directly.
pub fn app(state: Shared) -> Router {
    let max_body = state.settings.max_body;
    let max_bundle = state.settings.max_bundle;
    let v1 = Router::new()
        .route("/reservations", post(reserve))
        .route("/redemptions", post(redeem))
        .route("/redemptions/{id}", get(read))
        .route("/redemptions/{id}/commit", post(commit))
        .route("/redemptions/{id}/release", post(release))
        .route("/redemptions/{id}/reverse", post(reverse))
        .route(
            "/bundles",
            post(upload_bundle)
                .layer(DefaultBodyLimit::max(max_bundle))
                .get(list_bundles),
        )
        .route("/codes/{hash}/redemptions", get(code_redemptions))
        .route("/reports", get(reports))
        .route("/reconciliation", post(reconciliation))
        .route("/fraud-signals", get(fraud_signals))
        .route("/events", get(events))
        .method_not_allowed_fallback(promoseal_wire::http::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/healthz", get(healthz))
        .method_not_allowed_fallback(promoseal_wire::http::method_not_allowed)
        .nest("/v1", v1)
        .fallback(|| async { ApiError::not_found(ErrorCode::NotFound, "no such route") })
        .with_state(state)
}

async fn authorize(
    axum::extract::State(state): axum::extract::State<Shared>,
    req: axum::extract::Request,
    next: Next,
) -> Response {
    if let Some(token) = &state.settings.api_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let equal: bool = subtle::ConstantTimeEq::ct_eq(given.as_bytes(), token.as_bytes()).into();
        if !equal {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "missing or wrong bearer token",
            )
            .into_response();
        }
    }
    next.run(req).await
}

async fn healthz(axum::extract::State(state): axum::extract::State<Shared>) -> Response {
    match sqlx::query("SELECT 1").execute(state.db.reader()).await {
        Ok(_) => {
            Json(json!({ "status": "ok", "database": state.db.backend.name() })).into_response()
        }
        Err(e) => ApiError::unavailable(e).into_response(),
    }
}

/// The peer's address, when the server runs with connect info (tests calling the router
/// directly have none).
struct Peer(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Peer, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

fn body(bytes: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                "the request body is larger than the ledger accepts",
            )
        } else {
            ApiError::bad_request(ErrorCode::UnreadableBody, e.body_text())
        }
    })
}

/// Whether a JSON text holds an escaped NUL character (`\u0000`) in a string. A raw NUL cannot
/// appear in a JSON string, and a backslash only inside one.
fn has_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = json.get(i) {
        if b == b'\\' {
            if json.get(i + 1..i + 6) == Some(&b"u0000"[..]) {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Strict JSON (the wire's one reader: `malformedJson` for text that is not JSON,
/// `invalidRequest` naming the path of a field of the wrong shape). No string may hold a NUL
/// character: PostgreSQL's text cannot store one, and both backends answer alike.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_nul(bytes) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "a string holds a NUL character (`\\u0000`)",
        ));
    }
    Ok(promoseal_wire::parse_body(bytes)?)
}

/// `Idempotency-Key`: the wire's rule (required on every write, 1 to 255 visible ASCII
/// characters), the same as the edge's.
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{7f}"));
    Ok(promoseal_wire::idempotency_key(value)?)
}

fn respond(answer: Answer) -> Response {
    let mut r = (answer.status, answer.body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if answer.replayed {
        r.headers_mut()
            .insert("idempotency-replayed", HeaderValue::from_static("true"));
    }
    r
}

async fn reserve(
    axum::extract::State(state): axum::extract::State<Shared>,
    peer: Peer,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    create(state, Op::Reserve, peer, headers, bytes).await
}

async fn redeem(
    axum::extract::State(state): axum::extract::State<Shared>,
    peer: Peer,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    create(state, Op::Redeem, peer, headers, bytes).await
}

/// A body is JSON only when it says so: `Content-Type: application/json` (parameters such as
/// `charset` allowed). Anything else is 415, so no web page can make a visitor's browser post
/// here without a CORS preflight (a `text/plain` POST needs none).
fn json_body(headers: &HeaderMap, bytes: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    let bytes = body(bytes)?;
    let given = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not text)"));
    // Commit and release take no body at all.
    if promoseal_wire::error::is_json(given) || (given.is_none() && bytes.is_empty()) {
        Ok(bytes)
    } else {
        Err(promoseal_wire::WireError::unsupported_media_type(given).into())
    }
}

async fn create(
    state: Shared,
    op: Op,
    peer: Peer,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let req: RedeemRequest = parse(&json_body(&headers, bytes)?)?;
    Ok(respond(state.redeem(op, &key, req, peer.0).await?))
}

/// The `{id}` of a redemption route.
fn redemption_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path_segment("id", path)
}

/// A route's one path parameter, `name`. A path that is not UTF-8 once percent-decoded, or that
/// holds a NUL character, is refused as every bad input is: JSON, `invalidRequest`.
fn path_segment(name: &str, path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    match path {
        Ok(Path(value)) if !value.contains('\0') => Ok(value),
        Ok(_) => Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            format!("{name}: holds a NUL character"),
        )),
        Err(e) if e.status().is_client_error() => Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            format!("{name}: not UTF-8 once percent-decoded"),
        )),
        Err(e) => Err(ApiError::internal(e.body_text())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReverseRequest {
    kind: ReversalKind,
    #[serde(default)]
    reason: Option<String>,
    /// A partial refund of this much.
    #[serde(default)]
    amount: Option<promoseal_evaluator::money::DecimalString>,
    /// A partial refund of these units.
    #[serde(default)]
    lines: Option<Vec<crate::store::RefundLine>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

async fn transition(
    state: Shared,
    op: Op,
    id: String,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let bytes = json_body(&headers, bytes)?;
    let (reversal, reason, part, canonical) = if op == Op::Reverse {
        let r: ReverseRequest = parse(&bytes)?;
        let part = Refund::of(r.kind, r.amount, r.lines)?;
        // What a replay must match; without a part, exactly what it was before partial refunds.
        let mut canonical = json!({ "kind": r.kind, "reason": r.reason });
        if let (Some(p), Some(o)) = (&part, canonical.as_object_mut()) {
            o.insert("part".into(), json!(p));
        }
        (Some(r.kind), r.reason, part, canonical.to_string())
    } else {
        // An empty body or `{}`.
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            parse::<Empty>(&bytes)?;
        }
        (None, None, None, String::new())
    };
    let hash = crate::store::request_hash(op, &id, canonical.as_bytes());
    let answer = state
        .transition(&crate::store::Transition {
            op,
            id: &id,
            key: &key,
            hash: &hash,
            reversal,
            reason: reason.as_deref(),
            part: part.as_ref(),
        })
        .await?;
    Ok(respond(answer))
}

async fn commit(
    axum::extract::State(state): axum::extract::State<Shared>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    transition(state, Op::Commit, redemption_id(id)?, headers, bytes).await
}

async fn release(
    axum::extract::State(state): axum::extract::State<Shared>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    transition(state, Op::Release, redemption_id(id)?, headers, bytes).await
}

async fn reverse(
    axum::extract::State(state): axum::extract::State<Shared>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    transition(state, Op::Reverse, redemption_id(id)?, headers, bytes).await
}

async fn read(
    axum::extract::State(state): axum::extract::State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = redemption_id(id)?;
    match state.db.redemption(&id).await? {
        Some(body) => Ok(respond(Answer {
            status: axum::http::StatusCode::OK,
            body,
            replayed: false,
        })),
        None => Err(ApiError::not_found(
            ErrorCode::RedemptionNotFound,
            format!("no redemption `{id}`"),
        )),
    }
}

fn bundle_view(l: &crate::bundles::Loaded) -> serde_json::Value {
    json!({
        "bundleId": l.bundle.id(),
        "version": l.bundle.version(),
        "digest": l.digest_hex(),
        "currency": l.bundle.currency(),
        "issuedAt": l.bundle.issued_at(),
        "expiresAt": l.expires_at,
        "promotionCount": l.bundle.promotion_count(),
    })
}

async fn upload_bundle(
    axum::extract::State(state): axum::extract::State<Shared>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let loaded = state.accept_bundle(&body(bytes)?).await?;
    Ok((StatusCode::CREATED, Json(bundle_view(&loaded))).into_response())
}

/// The redemptions of one code, by its keyed hash (the hex of the 12-byte keyed hash of the
/// canonical code, as the console computes it with the code secret: `Bundle::code_record`).
async fn code_redemptions(
    axum::extract::State(state): axum::extract::State<Shared>,
    hash: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let hash = path_segment("hash", hash)?;
    let digits = 2 * promoseal_evaluator::codes::HASH_LEN;
    if hash.len() != digits || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            format!("a code is named by its keyed hash: {digits} lower-case hex digits"),
        ));
    }
    Ok(Json(
        json!({ "redemptions": state.db.code_redemptions(&hash).await? }),
    ))
}

async fn list_bundles(
    axum::extract::State(state): axum::extract::State<Shared>,
) -> Json<serde_json::Value> {
    let list: Vec<_> = state
        .bundles
        .list()
        .iter()
        .map(|l| bundle_view(l))
        .collect();
    Json(json!({ "bundles": list }))
}

/// An RFC 3339 instant from a query parameter; `default` when absent.
fn instant(v: Option<&String>, name: &str, default: i64) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => promoseal_evaluator::time::Instant::parse(s)
            .map(|i| i.seconds())
            .map_err(|e| ApiError::bad_request(ErrorCode::InvalidQuery, format!("{name}: {e}"))),
    }
}

type Params = Query<std::collections::BTreeMap<String, String>>;

/// `from` and `to` (`[from, to)`, RFC 3339): the whole history up to now by default.
fn range(q: &Params, now: i64) -> Result<(i64, i64), ApiError> {
    let from = instant(q.get("from"), "from", i64::MIN / 2)?;
    let to = instant(q.get("to"), "to", now.saturating_add(1))?;
    if from >= to {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            "from: must be before `to`",
        ));
    }
    Ok((from, to))
}

fn only(q: &Params, allowed: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!(
                "unknown query parameter `{k}` (expected one of: {})",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

async fn reports(
    axum::extract::State(state): axum::extract::State<Shared>,
    q: Params,
) -> Result<Response, ApiError> {
    only(&q, &["by", "from", "to", "format"])?;
    let by = match q.get("by").map(String::as_str) {
        None | Some("promotion") => crate::analytics::GroupBy::Promotion,
        Some("campaign") => crate::analytics::GroupBy::Campaign,
        Some("channel") => crate::analytics::GroupBy::Channel,
        Some(other) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                format!("by: `{other}` is not one of promotion, campaign, channel"),
            ))
        }
    };
    let (from, to) = range(&q, state.now().seconds())?;
    let rows = crate::analytics::report(&state.db.orders(from, to).await?, by);
    match q.get("format").map(String::as_str) {
        None | Some("json") => Ok(Json(json!({ "groups": rows })).into_response()),
        Some("csv") => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            crate::analytics::report_csv(&rows)?,
        )
            .into_response()),
        Some(other) => Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("format: `{other}` is not one of json, csv"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReconciliationRequest {
    from: promoseal_evaluator::time::Instant,
    to: promoseal_evaluator::time::Instant,
    edge: Vec<crate::analytics::EdgeRecord>,
}

async fn reconciliation(
    axum::extract::State(state): axum::extract::State<Shared>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: ReconciliationRequest = parse(&json_body(&headers, bytes)?)?;
    if req.from >= req.to {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "from: must be before `to`",
        ));
    }
    let orders = state
        .db
        .orders(req.from.seconds(), req.to.seconds())
        .await?;
    let mut v = crate::analytics::reconcile(&req.edge, &orders);
    if let Some(o) = v.as_object_mut() {
        o.insert("from".into(), json!(req.from));
        o.insert("to".into(), json!(req.to));
    }
    Ok(Json(v).into_response())
}

async fn fraud_signals(
    axum::extract::State(state): axum::extract::State<Shared>,
    q: Params,
) -> Result<Response, ApiError> {
    // Configured thresholds, overridden by whichever the query names.
    let mut t = serde_json::to_value(state.settings.fraud).map_err(ApiError::internal)?;
    for (k, v) in q.iter() {
        let n: i64 = v.parse().map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidQuery,
                format!("{k}: `{v}` is not a whole number"),
            )
        })?;
        if let Some(o) = t.as_object_mut() {
            o.insert(k.clone(), json!(n));
        }
    }
    let t: crate::analytics::Thresholds = serde_json::from_value(t)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidQuery, e.to_string()))?;
    t.check()
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidQuery, e))?;
    let now = state.now().seconds();
    let attempts = state
        .db
        .attempts(now.saturating_sub(t.window_seconds), now.saturating_add(1))
        .await?;
    Ok(Json(json!({
        "thresholds": t,
        "attempts": attempts.len(),
        "signals": crate::analytics::fraud_signals(&attempts, &t),
    }))
    .into_response())
}

async fn events(
    axum::extract::State(state): axum::extract::State<Shared>,
    q: Params,
) -> Result<Response, ApiError> {
    only(&q, &["from", "to", "after", "limit"])?;
    let (from, to) = range(&q, state.now().seconds())?;
    let num = |name: &str, default: i64| -> Result<i64, ApiError> {
        q.get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|_| {
                ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    format!("{name}: `{v}` is not a whole number"),
                )
            })
        })
    };
    let limit = num("limit", 1000)?.clamp(1, 10_000);
    let events = state.db.events(from, to, num("after", 0)?, limit).await?;
    let next = events
        .last()
        .filter(|_| events.len() as i64 == limit)
        .and_then(|e| e["id"].as_i64());
    Ok(Json(json!({ "events": events, "next": next })).into_response())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::{has_nul, parse};

    #[test]
    fn a_nul_in_any_string_is_refused_before_it_reaches_postgres() {
        assert!(has_nul(br#"{"orderId":"a\u0000b"}"#));
        // An escaped backslash followed by text, and other control characters, are fine.
        assert!(!has_nul(br#"{"orderId":"a\\u0000b"}"#));
        assert!(!has_nul(br#"{"a":"\u0001","b":"\\","c":"\""}"#));
        let e = parse::<Value>(br#"{"reason":"x\u0000"}"#).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "invalidRequest"));
    }

    /// axum's own rejection of a path that is not UTF-8 was a `text/plain` 400, and an id with
    /// a NUL was a 500 on PostgreSQL.
    #[tokio::test]
    async fn a_redemption_id_not_utf8_or_with_a_nul_is_a_json_400() {
        let dir = std::env::temp_dir().join(format!("promoseal-ledger-api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/ledger.db", dir.display());
        let db = crate::db::connect(&url, 1, crate::db::Sync::Normal)
            .await
            .unwrap();
        let secret = promoseal_evaluator::codes::CodeSecret::from_bytes([7; 32]);
        let state = crate::State::new(db, None, secret, Default::default(), crate::system_clock());
        let app = super::app(Arc::new(state.unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        for (method, path) in [
            (reqwest::Method::GET, "/v1/redemptions/%FF"),
            (reqwest::Method::POST, "/v1/redemptions/%FF/commit"),
            (reqwest::Method::GET, "/v1/redemptions/a%00b"),
            (reqwest::Method::POST, "/v1/redemptions/a%00b/release"),
        ] {
            let r = http
                .request(method, format!("{base}{path}"))
                .header("idempotency-key", "k")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{path}");
            let media = r.headers().get("content-type").cloned();
            assert_eq!(media.unwrap(), "application/json", "{path}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "invalidRequest", "{path}");
        }
        std::fs::remove_dir_all(dir).ok();
    }

    /// Every route the router serves is described in `openapi.yaml`.
    #[test]
    fn openapi_describes_every_route() {
        let spec = include_str!("../openapi.yaml");
        let source = include_str!("api.rs");
        let routes: Vec<&str> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix(".route(\""))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert!(routes.len() >= 11, "{routes:?}");
        for r in routes {
            let path = if r == "/healthz" {
                r.to_string()
            } else {
                format!("/v1{r}")
            };
            assert!(
                spec.contains(&format!("\n  {path}:\n")),
                "openapi.yaml lacks {path}"
            );
        }
    }
}
