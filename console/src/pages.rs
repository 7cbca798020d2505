//! The pages: HTML shells and their scripts and styles, compiled into the binary, and the
//! console's build of the evaluator (wasm) from `--wasm-dir`. Every page is a shell that its
//! module fills from the JSON API: the pages need the evaluator (wasm) and WebCrypto anyway, so
//! one rendering path keeps what a person sees and what the API answers the same.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::Shared;

/// (path under /assets/, content type, bytes)
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css",
        include_str!("../web/console.css"),
    ),
    (
        "common.js",
        "text/javascript",
        include_str!("../web/common.js"),
    ),
    ("keys.js", "text/javascript", include_str!("../web/keys.js")),
    (
        "sign-in.js",
        "text/javascript",
        include_str!("../web/sign-in.js"),
    ),
    ("list.js", "text/javascript", include_str!("../web/list.js")),
    (
        "editor.js",
        "text/javascript",
        include_str!("../web/editor.js"),
    ),
    (
        "promotion.js",
        "text/javascript",
        include_str!("../web/promotion.js"),
    ),
    (
        "releases.js",
        "text/javascript",
        include_str!("../web/releases.js"),
    ),
    (
        "approvals.js",
        "text/javascript",
        include_str!("../web/approvals.js"),
    ),
    (
        "audit.js",
        "text/javascript",
        include_str!("../web/audit.js"),
    ),
    (
        "codes.js",
        "text/javascript",
        include_str!("../web/codes.js"),
    ),
    (
        "templates.js",
        "text/javascript",
        include_str!("../web/templates.js"),
    ),
    (
        "review-panel.js",
        "text/javascript",
        include_str!("../web/review-panel.js"),
    ),
];

/// (route, page file)
const PAGES: &[(&str, &str)] = &[
    ("/", include_str!("../web/list.html")),
    ("/sign-in", include_str!("../web/sign-in.html")),
    ("/promotions/new", include_str!("../web/editor.html")),
    ("/releases", include_str!("../web/releases.html")),
    ("/approvals", include_str!("../web/approvals.html")),
    ("/audit", include_str!("../web/audit.html")),
    ("/codes", include_str!("../web/codes.html")),
];

fn html(page: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        page,
    )
        .into_response()
}

pub fn router() -> Router<Shared> {
    let mut r = Router::new();
    for (route, page) in PAGES {
        r = r.route(route, get(move || async move { html(page) }));
    }
    r.route(
        "/promotions/{id}",
        get(|| async { html(include_str!("../web/promotion.html")) }),
    )
    .route(
        "/promotions/{id}/edit",
        get(|| async { html(include_str!("../web/editor.html")) }),
    )
    .route("/assets/{file}", get(asset))
    .route("/wasm/{file}", get(wasm))
}

/// Any other address: a page that says so (404), with the way back.
pub async fn not_found() -> Response {
    let mut res = html(include_str!("../web/not-found.html"));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, ct, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The evaluator's wasm build for the console: its module and its `.wasm`, nothing else.
async fn wasm(State(state): State<Shared>, Path(file): Path<String>) -> Response {
    let ct = match file.as_str() {
        "promoseal_evaluator.js" => "text/javascript",
        "promoseal_evaluator_bg.wasm" => "application/wasm",
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match tokio::fs::read(state.settings.wasm_dir.join(&file)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("{}: {e}", state.settings.wasm_dir.join(&file).display());
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the console's evaluator is not built: cargo xtask build console-wasm",
            )
                .into_response()
        }
    }
}
