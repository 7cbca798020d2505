//! The Workers binding (wasm32 only): the `fetch` entry, the reply type, the isolate's
//! configuration, and the calls into KV, Durable Objects and the ledger. Decisions are made
//! by the pure modules of this crate; this part only moves bytes.

mod bundles;
mod ledger;
mod objects;
mod routes;

use std::cell::RefCell;
use std::rc::Rc;

use promoseal_evaluator::time::Instant;
use worker::{console_error, event, Context, Date, Env, Headers, Request, Response, Result};

use crate::api::{EdgeError, ErrorCode};
use crate::config::Config;
use crate::cors;

/// A finished answer, before it becomes a `worker::Response`.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            body: body.into(),
            content_type: "application/json",
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    fn error(e: &EdgeError) -> Reply {
        let mut r = Reply::json(e.status, e.body());
        if let Some(s) = e.retry_after {
            r = r.header("Retry-After", s.to_string());
        }
        r
    }
}

thread_local! {
    /// The configuration, read once per isolate (a bad one is read again on the next request,
    /// so a fixed deployment recovers without a restart).
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// A var or secret, by name.
fn read_env(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|s| s.to_string()))
        .ok()
}

pub fn config(env: &Env) -> std::result::Result<Rc<Config>, EdgeError> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    match Config::load(&|name: &str| read_env(env, name)) {
        Ok(c) => {
            let c = Rc::new(c);
            CONFIG.with(|slot| *slot.borrow_mut() = Some(c.clone()));
            Ok(c)
        }
        Err(why) => {
            // Names the variable; never prints a value.
            console_error!("configuration refused: {why}");
            Err(EdgeError::unavailable(
                ErrorCode::Misconfigured,
                "the edge is misconfigured; see its log",
            ))
        }
    }
}

pub fn now_ms() -> u64 {
    Date::now().as_millis()
}

pub fn now() -> Instant {
    Instant(i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX))
}

fn to_response(reply: Reply, cors_origin: Option<String>) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", reply.content_type)?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    if let Some(origin) = cors_origin {
        headers.set("Access-Control-Allow-Origin", &origin)?;
        headers.set("Access-Control-Expose-Headers", cors::EXPOSE_HEADERS)?;
    }
    headers.append("Vary", "Origin")?;
    let body = if reply.status == 204 || reply.status == 304 {
        None
    } else {
        Some(reply.body)
    };
    let response = match body {
        Some(b) => Response::from_bytes(b)?,
        None => Response::empty()?,
    };
    Ok(response.with_status(reply.status).with_headers(headers))
}

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let origin = req.headers().get("Origin").ok().flatten();
    let (reply, allowed) = match config(&env) {
        Ok(cfg) => {
            let reply = routes::handle(req, &env, &cfg).await;
            let allowed = cors::allow_origin(&cfg.allowed_origins, origin.as_deref());
            (reply, allowed)
        }
        Err(e) => (Err(e), None),
    };
    let reply = reply.unwrap_or_else(|e| Reply::error(&e));
    to_response(reply, allowed)
}

/// Logs an internal failure (never request bodies or secrets) and gives the generic 500.
pub fn internal(what: &str, e: impl std::fmt::Display) -> EdgeError {
    console_error!("{what}: {e}");
    EdgeError::internal()
}
