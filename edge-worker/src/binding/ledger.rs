//! Sending a redemption to the ledger: one attempt with a time-out, and the live retries (see
//! `crate::outbox` for the policy).

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit};

use crate::config::Config;
use crate::outbox::{live_delay_ms, retry_after_ms, verdict, Unanswered, Verdict};

/// The ledger's answer, relayed to the client as is.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub replayed: bool,
    /// Its `Retry-After` (a 503 or 429), in milliseconds.
    pub retry_after_ms: Option<u64>,
}

/// One attempt: the answer, or why there was none.
pub async fn send(cfg: &Config, key: &str, body: &str) -> Result<Answer, String> {
    let Some(base) = &cfg.ledger_url else {
        return Err("LEDGER_URL is not set".into());
    };
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(|e| e.to_string());
    set("Content-Type", "application/json")?;
    set("Idempotency-Key", key)?;
    if let Some(token) = &cfg.ledger_token {
        set("Authorization", &format!("Bearer {token}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(body)));
    let request = Request::new_with_init(&format!("{base}/v1/redemptions"), &init)
        .map_err(|e| format!("request: {e}"))?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let fetch = Fetch::Request(request);
        let mut response = fetch
            .send_with_signal(&signal)
            .await
            .map_err(|e| format!("ledger unreachable: {e}"))?;
        let status = response.status_code();
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let replayed = header("Idempotency-Replayed").is_some_and(|v| v == "true");
        let retry_after_ms = retry_after_ms(header("Retry-After").as_deref());
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("ledger answer unreadable: {e}"))?;
        Ok(Answer {
            status,
            body,
            replayed,
            retry_after_ms,
        })
    };
    let timeout = Delay::from(Duration::from_millis(cfg.ledger_timeout_ms));
    pin_mut!(exchange);
    match select(exchange, timeout).await {
        Either::Left((answer, _)) => answer,
        Either::Right(_) => {
            controller.abort();
            Err(format!(
                "ledger timed out after {} ms",
                cfg.ledger_timeout_ms
            ))
        }
    }
}

/// Up to `LEDGER_ATTEMPTS` attempts: the first definite answer, or the last reason there was
/// none (a 503 from a busy ledger is retried like a lost answer, and its `Retry-After` kept
/// for the dead letter).
pub async fn forward(cfg: &Config, key: &str, body: &str) -> Result<Answer, Unanswered> {
    let mut last = Unanswered {
        why: String::from("no attempt made"),
        retry_after_ms: None,
    };
    for attempt in 0..cfg.ledger_attempts {
        let wait = live_delay_ms(attempt, cfg.ledger_backoff_ms);
        if wait > 0 {
            Delay::from(Duration::from_millis(wait)).await;
        }
        let result = send(cfg, key, body).await;
        let status = result.as_ref().ok().map(|a| a.status);
        let error = result.as_ref().err().cloned().unwrap_or_default();
        match verdict(status, &error) {
            Verdict::Answered => {
                return result.map_err(|why| Unanswered {
                    why,
                    retry_after_ms: None,
                })
            }
            Verdict::Retry(why) => {
                last = Unanswered {
                    why,
                    retry_after_ms: result.ok().and_then(|a| a.retry_after_ms),
                }
            }
        }
    }
    Err(last)
}
