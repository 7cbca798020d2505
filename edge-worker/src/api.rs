//! The edge's wire format: request bodies, the error body and its statuses, and the one
//! uniform refusal for codes. Errors are `{"error": {"code", "message", "detail"?}}` with the
//! same stable camelCase codes as the evaluator and the ledger.

use promoseal_evaluator::EvaluationInput;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// An error answer: status, stable code, plain message, optional detail.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub detail: Option<Value>,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
}

impl EdgeError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> EdgeError {
        EdgeError {
            status,
            code,
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }

    pub fn with_detail(mut self, detail: Value) -> EdgeError {
        self.detail = Some(detail);
        self
    }

    pub fn body(&self) -> String {
        let mut error = json!({"code": self.code, "message": self.message});
        if let (Some(d), Some(obj)) = (&self.detail, error.as_object_mut()) {
            obj.insert("detail".into(), d.clone());
        }
        json!({ "error": error }).to_string()
    }

    /// The one answer for every code the edge does not accept: unknown, expired, used up,
    /// revoked, not for this shopper, or the bundle past its expiry. Same status, same bytes.
    pub fn code_refused() -> EdgeError {
        EdgeError::new(
            422,
            "codeNotAccepted",
            "This code cannot be used. Check it and try again.",
        )
    }

    pub fn rate_limited(retry_after: u64) -> EdgeError {
        let mut e = EdgeError::new(
            429,
            "tooManyAttempts",
            format!("Too many code attempts; try again in {retry_after} s."),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// A request that carries more codes than the client's attempt bucket holds: no wait
    /// would ever let it through, so it is the request's fault, not a 429.
    pub fn too_many_codes(codes: usize, limit: u32) -> EdgeError {
        EdgeError::new(
            400,
            "tooManyCodes",
            format!("the request carries {codes} codes; at most {limit} are accepted at once"),
        )
    }

    /// Nothing is published under this bundle id.
    pub fn unknown_bundle(id: &str) -> EdgeError {
        EdgeError::new(404, "unknownBundle", format!("no bundle `{id}`"))
    }

    pub fn unsupported_media_type() -> EdgeError {
        EdgeError::new(
            415,
            "unsupportedMediaType",
            "the request body must be JSON, sent with `Content-Type: application/json`",
        )
    }

    pub fn not_found(what: &str) -> EdgeError {
        EdgeError::new(404, "notFound", format!("no route {what}"))
    }

    pub fn method_not_allowed(method: &str, path: &str) -> EdgeError {
        EdgeError::new(
            405,
            "methodNotAllowed",
            format!("{method} is not allowed on {path}"),
        )
    }

    pub fn too_large(size: usize, limit: usize) -> EdgeError {
        EdgeError::new(
            413,
            "bodyTooLarge",
            format!("the request body is {size} bytes, more than the {limit} accepted"),
        )
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> EdgeError {
        EdgeError::new(503, code, message)
    }

    /// Something broke inside the Worker: the cause goes to the log, never to the client.
    pub fn internal() -> EdgeError {
        EdgeError::new(500, "internal", "internal error")
    }

    /// An evaluator error: the input's fault is 400, an evaluation that cannot be done 422.
    pub fn from_evaluator(e: &promoseal_evaluator::Error) -> EdgeError {
        let status = match e {
            promoseal_evaluator::Error::Input(_) => 400,
            promoseal_evaluator::Error::Evaluation(_) => 422,
            _ => 503,
        };
        EdgeError::new(status, e.code(), e.to_string())
    }
}

/// Parses a request body strictly: unknown fields, duplicate keys and wrong types are 400
/// `invalidRequest` naming the path of the first problem.
pub fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, EdgeError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let syntax = matches!(
            inner.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        );
        let message = if syntax || path == "." {
            format!("malformed JSON: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        EdgeError::new(400, "invalidRequest", message)
    })?;
    de.end()
        .map_err(|e| EdgeError::new(400, "invalidRequest", format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// A POST body must say it is JSON: the media type of `Content-Type` is `application/json`
/// (any case, parameters such as `charset` allowed). A form or `text/plain` POST is what a
/// page of another site can send without a CORS preflight, so it is never read.
pub fn require_json(content_type: Option<&str>) -> Result<(), EdgeError> {
    let media_type = content_type
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(EdgeError::unsupported_media_type())
    }
}

/// Whether an `If-None-Match` value matches `etag` (RFC 9110 §13.1.2): `*`, or any entity tag
/// of the list equal to it by weak comparison (`W/"x"` matches `"x"`).
pub fn if_none_match(header: &str, etag: &str) -> bool {
    let opaque = |tag: &str| -> String {
        let tag = tag.trim();
        tag.strip_prefix("W/").unwrap_or(tag).to_string()
    };
    let ours = opaque(etag);
    header.trim() == "*" || header.split(',').any(|t| opaque(t) == ours)
}

/// `POST /v1/codes/check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeCheckRequest {
    pub code: String,
    /// Who the grant is for (a session or customer id); a grant for a subject unlocks only
    /// for that subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// The shopper's context and customer, for the customer conditions (tier, segment,
    /// region, channel, first order). Its `now`, codes and grants are the edge's, its cart is
    /// not looked at, and its customer is taken from `context.customerClaim` as the shop
    /// signed it (`seal::vouch`): without a claim, no tier or segment counts.
    #[serde(default)]
    pub input: Option<EvaluationInput>,
}

/// One promotion a code unlocks, with its grant.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantAnswer {
    pub promotion_id: String,
    pub name: String,
    pub grant: String,
}

/// The answer to an accepted code.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeCheckAnswer {
    pub bundle_id: String,
    pub bundle_version: u64,
    pub expires_at: promoseal_evaluator::time::Instant,
    pub grants: Vec<GrantAnswer>,
}

/// A bundle a redemption is priced with.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRef {
    pub id: String,
    pub version: u64,
}

/// `POST /v1/redeem`: the ledger's one-shot redemption, with `bundle` and `quote` filled in
/// by the edge when left out, and `clientIp` always the edge's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedeemRequest {
    pub order_id: String,
    #[serde(default)]
    pub bundle: Option<BundleRef>,
    pub input: EvaluationInput,
    #[serde(default)]
    pub quote: Option<Value>,
}

/// An idempotency key: 1 to 200 visible ASCII characters.
pub fn idempotency_key(header: Option<String>) -> Result<String, EdgeError> {
    let key = header.unwrap_or_default();
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(EdgeError::new(
            400,
            "invalidIdempotencyKey",
            "Idempotency-Key: required, 1 to 200 visible ASCII characters",
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_refusal_is_one_answer() {
        assert_eq!(EdgeError::code_refused(), EdgeError::code_refused());
        assert_eq!(
            EdgeError::code_refused().body(),
            r#"{"error":{"code":"codeNotAccepted","message":"This code cannot be used. Check it and try again."}}"#
        );
    }

    #[test]
    fn bodies_are_parsed_strictly_and_problems_named() {
        let e = parse_body::<CodeCheckRequest>(b"{\"code\": 1}").unwrap_err();
        assert_eq!((e.status, e.code), (400, "invalidRequest"));
        assert!(e.message.starts_with("code: invalid type"), "{}", e.message);
        let e = parse_body::<CodeCheckRequest>(b"{\"code\": \"A\", \"extra\": 1}").unwrap_err();
        assert!(e.message.contains("unknown field `extra`"), "{}", e.message);
        let e = parse_body::<CodeCheckRequest>(b"{\"code\": \"A\", \"code\": \"B\"}").unwrap_err();
        assert!(
            e.message.contains("duplicate field `code`"),
            "{}",
            e.message
        );
        let e = parse_body::<CodeCheckRequest>(b"{\"code\": ").unwrap_err();
        assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
        let e = parse_body::<CodeCheckRequest>(b"{\"code\": \"A\"} x").unwrap_err();
        assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
        assert_eq!(
            parse_body::<CodeCheckRequest>(b"{\"code\":\"A\"}")
                .unwrap()
                .code,
            "A"
        );
    }

    #[test]
    fn a_post_body_must_be_declared_json() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
        ] {
            assert_eq!(require_json(Some(ok)), Ok(()), "{ok}");
        }
        for bad in [
            None,
            Some(""),
            Some("text/plain"),
            Some("text/plain; charset=utf-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
            Some("application/json-patch+json"),
        ] {
            let e = require_json(bad).unwrap_err();
            assert_eq!((e.status, e.code), (415, "unsupportedMediaType"), "{bad:?}");
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let etag = "\"abc\"";
        for hit in [
            "\"abc\"",
            "W/\"abc\"",
            "*",
            " \"x\", W/\"abc\" ",
            "\"x\",\"abc\"",
        ] {
            assert!(if_none_match(hit, etag), "{hit}");
        }
        for miss in ["\"abd\"", "abc", "W/\"x\"", "", "\"abc"] {
            assert!(!if_none_match(miss, etag), "{miss}");
        }
        assert!(if_none_match("\"abc\"", "W/\"abc\""));
    }

    #[test]
    fn idempotency_keys_are_checked() {
        assert_eq!(
            idempotency_key(Some("order-1/try-1".into())).unwrap(),
            "order-1/try-1"
        );
        for bad in [
            None,
            Some(String::new()),
            Some("a b".into()),
            Some("x".repeat(201)),
        ] {
            assert_eq!(
                idempotency_key(bad).unwrap_err().code,
                "invalidIdempotencyKey"
            );
        }
    }
}
