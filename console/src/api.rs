//! The routes: the JSON API under `/api` and the pages. Each route decodes, makes one call
//! (`flow`, `auth`, `publish`, `audit`), and encodes.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use promoseal_authoring::review::review;
use promoseal_wire::error::is_json;
use promoseal_wire::{parse_body, ErrorCode, WireError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{self, Person};
use crate::error::{ApiError, ApiResult};
use crate::{audit, codes, flow, pages, publish, Shared};

/// The largest request body: terms, comments and approvals are small.
pub const MAX_BODY: usize = 256 * 1024;

/// The pages' Content-Security-Policy: scripts and styles from the console only (the
/// evaluator's wasm may be compiled: `wasm-unsafe-eval`), no frames, no plugins, forms and
/// requests to the console only.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/session/challenge", post(challenge))
        .route("/session", post(sign_in).delete(sign_out).get(me))
        .route("/context", get(context))
        .route("/review", post(review_terms))
        .route("/promotions", get(list).post(create))
        .route("/promotions/{id}", get(detail).put(save))
        .route("/promotions/{id}/submit", post(submit))
        .route("/promotions/{id}/withdraw", post(withdraw))
        .route("/promotions/{id}/approvals", post(approve))
        .route("/approvals", post(approve_batch))
        .route("/promotions/{id}/comments", post(comment))
        .route("/promotions/{id}/pause", post(pause))
        .route("/promotions/{id}/resume", post(resume))
        .route("/releases", get(releases).post(release))
        .route("/releases/rollback", post(rollback))
        .route("/audit", get(audit_log))
        .route("/codes", get(code_sets))
        .route("/codes/generate", post(generate_codes))
        .route("/codes/lookup", post(lookup_code))
        .route(
            "/codes/{set}/import",
            post(import_codes).layer(DefaultBodyLimit::max(codes::MAX_UPLOAD)),
        )
        .route("/codes/{set}/export", get(export_codes))
        .route("/codes/{set}/deactivate", post(deactivate_codes))
        .route("/codes/{set}/reactivate", post(reactivate_codes))
        .method_not_allowed_fallback(promoseal_wire::http::method_not_allowed)
        .fallback(|| async { ApiError(WireError::no_route("under /api")) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(no_store));
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .nest("/api", api)
        // Pages, scripts and the wasm compressed (the API is not: its answers carry the CSRF
        // token and echo input, the mix compression attacks such as BREACH need).
        .merge(pages::router().layer(tower_http::compression::CompressionLayer::new()))
        .method_not_allowed_fallback(promoseal_wire::http::method_not_allowed)
        .fallback(pages::not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    res
}

async fn no_store(req: axum::extract::Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A JSON body, strictly: 415 for another media type, 413 beyond [`MAX_BODY`], 400 naming
/// the path of a wrong field.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> ApiResult<Body<T>> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("(not text)").to_string());
        if !is_json(ct.as_deref()) {
            return Err(ApiError(WireError::unsupported_media_type(ct.as_deref())));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    413,
                    ErrorCode::BodyTooLarge,
                    format!("the request body is larger than {MAX_BODY} bytes"),
                )
            } else {
                ApiError::new(400, ErrorCode::UnreadableBody, e.body_text())
            }
        })?;
        parse_body(&bytes).map(Body).map_err(ApiError)
    }
}

/// A route's path parameters (`{id}`, `{set}`): axum's `Path`, refused as every bad input is
/// (JSON, `invalidRequest`) when a segment is not UTF-8 once percent-decoded.
pub struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Path<T>> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) if e.status().is_client_error() => Err(ApiError::bad_request(format!(
                "{}: not UTF-8 once percent-decoded",
                parts.uri.path()
            ))),
            Err(e) => Err(ApiError::internal(e.body_text())),
        }
    }
}

/// A query string, strictly (`deny_unknown_fields` as its type says): axum's `Query`, refused
/// as every bad input is (JSON, `invalidQuery`, naming the parameter).
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Query<T>> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| {
                let text = e.body_text();
                let why = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ApiError::new(400, ErrorCode::InvalidQuery, format!("query: {why}"))
            })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ChallengeRequest {
    key_id: String,
}

async fn challenge(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(req): Body<ChallengeRequest>,
) -> ApiResult<Json<auth::Challenge>> {
    auth::same_origin(&state, &headers)?;
    state.sign_in_limit.check(peer.ip())?;
    if req.key_id.is_empty() || req.key_id.len() > 128 || req.key_id.contains('\0') {
        return Err(ApiError::bad_request("keyId: 1 to 128 characters"));
    }
    Ok(Json(auth::challenge(&state, &req.key_id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SignInRequest {
    challenge_id: String,
    signature: String,
}

async fn sign_in(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(req): Body<SignInRequest>,
) -> ApiResult<Response> {
    auth::same_origin(&state, &headers)?;
    state.sign_in_limit.check(peer.ip())?;
    let (person, cookie) = auth::sign_in(&state, &req.challenge_id, &req.signature).await?;
    let mut res = Json(json!({
        "keyId": person.key_id, "roles": person.roles, "csrf": person.csrf,
    }))
    .into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(res)
}

async fn sign_out(
    State(state): State<Shared>,
    who: Person,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let cookie = auth::sign_out(&state, &headers).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    let _ = who;
    Ok(res)
}

/// Who is signed in: `{signedIn: true, keyId, roles, csrf}`, or `{signedIn: false}` with no
/// (valid) session. A 200 either way: the sign-in page asks before anyone has signed in, and a
/// 401 there would be an error in every browser's console. Every other route answers 401.
async fn me(who: Result<Person, ApiError>) -> ApiResult<Json<Value>> {
    match who {
        Ok(who) => Ok(Json(json!({
            "signedIn": true, "keyId": who.key_id, "roles": who.roles, "csrf": who.csrf
        }))),
        Err(e) if e.0.status == 401 => Ok(Json(json!({ "signedIn": false }))),
        Err(e) => Err(e),
    }
}

/// What the page's review (wasm) needs besides the draft: the same input the server's review
/// takes, and the trust root envelope the page verifies itself.
async fn context(State(state): State<Shared>, _who: Person) -> ApiResult<Json<Value>> {
    Ok(Json(state.context()?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TermsRequest {
    terms: Value,
    #[serde(default)]
    base: Option<String>,
}

async fn review_terms(
    State(state): State<Shared>,
    _who: Person,
    Body(req): Body<TermsRequest>,
) -> ApiResult<Json<Value>> {
    let input = state.review_input(req.terms)?;
    let r = review(&input).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(serde_json::to_value(r).map_err(ApiError::internal)?))
}

async fn list(State(state): State<Shared>, _who: Person) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "promotions": flow::list(&state).await? })))
}

async fn create(
    State(state): State<Shared>,
    who: Person,
    Body(req): Body<TermsRequest>,
) -> ApiResult<(StatusCode, Json<flow::Saved>)> {
    if req.base.is_some() {
        return Err(ApiError::bad_request(
            "base: a new promotion starts from nothing (PUT /api/promotions/{id} edits one)",
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(flow::create(&state, &who, &req.terms).await?),
    ))
}

async fn detail(
    State(state): State<Shared>,
    _who: Person,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(flow::detail(&state, &id).await?))
}

async fn save(
    State(state): State<Shared>,
    who: Person,
    Path(id): Path<String>,
    Body(req): Body<TermsRequest>,
) -> ApiResult<Json<flow::Saved>> {
    let base = req
        .base
        .ok_or_else(|| ApiError::bad_request("base: the tag of the terms the edit started from"))?;
    Ok(Json(
        flow::save(&state, &who, &id, &req.terms, &base).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BaseRequest {
    base: String,
}

async fn submit(
    State(state): State<Shared>,
    who: Person,
    Path(id): Path<String>,
    Body(req): Body<BaseRequest>,
) -> ApiResult<Json<flow::Saved>> {
    Ok(Json(flow::submit(&state, &who, &id, &req.base).await?))
}

async fn withdraw(
    State(state): State<Shared>,
    who: Person,
    Path(id): Path<String>,
    Body(req): Body<BaseRequest>,
) -> ApiResult<StatusCode> {
    flow::withdraw(&state, &who, &id, &req.base).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn approve(
    State(state): State<Shared>,
    who: Person,
    Path(id): Path<String>,
    Body(req): Body<flow::Approval>,
) -> ApiResult<Json<flow::Approved>> {
    Ok(Json(flow::approve(&state, &who, &id, &req).await?))
}

async fn approve_batch(
    State(state): State<Shared>,
    who: Person,
    Body(req): Body<flow::Batch>,
) -> ApiResult<Json<flow::BatchApproved>> {
    Ok(Json(flow::approve_batch(&state, &who, &req).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentRequest {
    text: String,
}

async fn comment(
    State(state): State<Shared>,
    who: Person,
    Path(id): Path<String>,
    Body(req): Body<CommentRequest>,
) -> ApiResult<StatusCode> {
    flow::comment(&state, &who, &id, &req.text).await?;
    Ok(StatusCode::CREATED)
}

async fn pause(
    State(state): State<Shared>,
    who: Person,
    Path(id): Path<String>,
    Body(req): Body<BaseRequest>,
) -> ApiResult<Json<publish::Release>> {
    Ok(Json(flow::pause(&state, &who, &id, &req.base, true).await?))
}

async fn resume(
    State(state): State<Shared>,
    who: Person,
    Path(id): Path<String>,
    Body(req): Body<BaseRequest>,
) -> ApiResult<Json<publish::Release>> {
    Ok(Json(
        flow::pause(&state, &who, &id, &req.base, false).await?,
    ))
}

/// `{}`: a release is of what is approved now.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseRequest {}

async fn release(
    State(state): State<Shared>,
    who: Person,
    Body(_): Body<ReleaseRequest>,
) -> ApiResult<(StatusCode, Json<publish::Release>)> {
    Ok((
        StatusCode::CREATED,
        Json(publish::publish(&state, &who).await?),
    ))
}

async fn releases(State(state): State<Shared>, _who: Person) -> ApiResult<Json<Value>> {
    Ok(Json(publish::overview(&state).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    #[serde(default)]
    promotion: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// The log (or one promotion's part of it) with the result of checking the whole chain;
/// `format=jsonl` downloads it, one entry per line.
async fn audit_log(
    State(state): State<Shared>,
    _who: Person,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    let view = audit::view(&state.db, q.promotion.as_deref()).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(view).into_response()),
        Some("jsonl") => {
            let mut res = view.jsonl().into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jsonl"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"promoseal-audit.jsonl\""),
            );
            Ok(res)
        }
        Some(other) => Err(ApiError::new(
            400,
            ErrorCode::InvalidQuery,
            format!("format: json or jsonl, not `{other}`"),
        )),
    }
}

async fn code_sets(State(state): State<Shared>, _who: Person) -> ApiResult<Json<Value>> {
    Ok(Json(json!({
        "sets": codes::list(&state).await?,
        "canHandleCodes": state.settings.code_secret.is_some(),
    })))
}

/// A CSV download: never cached, never stored.
fn csv(name: &str, text: String) -> ApiResult<Response> {
    let mut res = text.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\""))
            .map_err(ApiError::internal)?,
    );
    Ok(res)
}

async fn generate_codes(
    State(state): State<Shared>,
    who: Person,
    Body(req): Body<codes::Generate>,
) -> ApiResult<Response> {
    let text = codes::generate(&state, &who, &req).await?;
    let mut res = csv(&req.set, text)?;
    *res.status_mut() = StatusCode::CREATED;
    Ok(res)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    filename: String,
    #[serde(default)]
    column: Option<String>,
}

/// The file's bytes as the body (`application/octet-stream`, up to 10 MB); `filename` gives
/// its type, `column` the code column when the header does not say.
async fn import_codes(
    State(state): State<Shared>,
    who: Person,
    Path(set): Path<String>,
    Query(q): Query<ImportQuery>,
    bytes: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<codes::Imported>> {
    let bytes = bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                413,
                ErrorCode::BodyTooLarge,
                format!("the file is larger than {} bytes", codes::MAX_UPLOAD),
            )
        } else {
            ApiError::new(400, ErrorCode::UnreadableBody, e.body_text())
        }
    })?;
    Ok(Json(
        codes::import(&state, &who, &set, &q.filename, q.column, &bytes).await?,
    ))
}

async fn export_codes(
    State(state): State<Shared>,
    who: Person,
    Path(set): Path<String>,
) -> ApiResult<Response> {
    let text = codes::export(&state, &who, &set).await?;
    csv(&set, text)
}

async fn deactivate_codes(
    State(state): State<Shared>,
    who: Person,
    Path(set): Path<String>,
    Body(req): Body<codes::Codes>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        codes::set_active(&state, &who, &set, &req, false).await?,
    ))
}

async fn reactivate_codes(
    State(state): State<Shared>,
    who: Person,
    Path(set): Path<String>,
    Body(req): Body<codes::Codes>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        codes::set_active(&state, &who, &set, &req, true).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupRequest {
    code: String,
}

/// A code is looked up with POST: it never appears in a URL or an access log.
async fn lookup_code(
    State(state): State<Shared>,
    who: Person,
    Body(req): Body<LookupRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(codes::lookup(&state, &who, &req.code).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    version: u64,
}

/// Publishes the terms of an earlier release as a new version.
async fn rollback(
    State(state): State<Shared>,
    who: Person,
    Body(req): Body<RollbackRequest>,
) -> ApiResult<(StatusCode, Json<publish::Release>)> {
    Ok((
        StatusCode::CREATED,
        Json(flow::rollback(&state, &who, req.version).await?),
    ))
}
