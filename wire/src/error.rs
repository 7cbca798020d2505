//! The error envelope every host answers with, `{"error": {"code", "message", "detail"?}}`, its
//! stable codes, the answers the edge and the ledger share, and the strict reader of request
//! bodies.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::MAX_IDEMPOTENCY_KEY;

/// Every stable error code a host answers with. Clients branch on these; messages are for
/// people and may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    // The request itself.
    /// The body is not JSON.
    MalformedJson,
    /// JSON of the wrong shape (the message names the path), or a value out of range.
    InvalidRequest,
    /// A query parameter that is unknown or does not parse (ledger reports).
    InvalidQuery,
    BodyTooLarge,
    /// The body could not be read to its end.
    UnreadableBody,
    /// A JSON route was sent another `Content-Type`.
    UnsupportedMediaType,
    IdempotencyKeyRequired,
    InvalidIdempotencyKey,
    /// The key was used before with a different request.
    IdempotencyKeyReused,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    // Codes and attempts.
    /// The one answer for every code the edge does not accept.
    CodeNotAccepted,
    TooManyAttempts,
    /// More codes in one request than a client may try at once: it can never pass.
    TooManyCodes,
    // Bundles.
    /// The edge holds no bundle under this id.
    UnknownBundle,
    /// The ledger holds no such bundle id and version.
    BundleUnknown,
    /// A bundle the edge holds cannot be used now (refused update, verification failure).
    BundleUnavailable,
    BundleExpired,
    InvalidBundle,
    NoTrustRoot,
    /// The host lacks configuration a route needs.
    Misconfigured,
    // Evaluation.
    InvalidInput,
    EvaluationFailed,
    // Redemption decisions (the ledger).
    AmountMismatch,
    UnknownPromotion,
    InvalidQuote,
    QuoteExpired,
    QuoteInFuture,
    CurrencyMismatch,
    CustomerRequired,
    LimitReached,
    OrderOpen,
    PromotionWithdrawn,
    RedemptionNotFound,
    InvalidState,
    ReservationExpired,
    /// A partial refund of more than is left of the redemption (or of a line).
    RefundTooLarge,
    // The console.
    /// Signed in, but the key's roles or limits do not allow this (or the request lacks the
    /// session's CSRF token or comes from another origin).
    Forbidden,
    /// The terms changed since the form was opened (in the console or in the project folder):
    /// nothing was written; reload and apply the change again.
    StaleEdit,
    /// Something with this id exists already.
    AlreadyExists,
    /// A promotion that cannot be saved: `detail.errors` lists `{path, message}` per field.
    InvalidPromotion,
    /// An approval that does not count (`detail.reason`): not the key's signature over these
    /// terms, a key without an approving role, or terms beyond the key's limit.
    ApprovalRefused,
    // The server.
    Internal,
    /// Transient: retry the same request (with the same idempotency key) after `Retry-After`.
    Unavailable,
    /// A code this build does not know (an answer from a newer host).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformedJson",
            ErrorCode::InvalidRequest => "invalidRequest",
            ErrorCode::InvalidQuery => "invalidQuery",
            ErrorCode::BodyTooLarge => "bodyTooLarge",
            ErrorCode::UnreadableBody => "unreadableBody",
            ErrorCode::UnsupportedMediaType => "unsupportedMediaType",
            ErrorCode::IdempotencyKeyRequired => "idempotencyKeyRequired",
            ErrorCode::InvalidIdempotencyKey => "invalidIdempotencyKey",
            ErrorCode::IdempotencyKeyReused => "idempotencyKeyReused",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "notFound",
            ErrorCode::MethodNotAllowed => "methodNotAllowed",
            ErrorCode::CodeNotAccepted => "codeNotAccepted",
            ErrorCode::TooManyAttempts => "tooManyAttempts",
            ErrorCode::TooManyCodes => "tooManyCodes",
            ErrorCode::UnknownBundle => "unknownBundle",
            ErrorCode::BundleUnknown => "bundleUnknown",
            ErrorCode::BundleUnavailable => "bundleUnavailable",
            ErrorCode::BundleExpired => "bundleExpired",
            ErrorCode::InvalidBundle => "invalidBundle",
            ErrorCode::NoTrustRoot => "noTrustRoot",
            ErrorCode::Misconfigured => "misconfigured",
            ErrorCode::InvalidInput => "invalidInput",
            ErrorCode::EvaluationFailed => "evaluationFailed",
            ErrorCode::AmountMismatch => "amountMismatch",
            ErrorCode::UnknownPromotion => "unknownPromotion",
            ErrorCode::InvalidQuote => "invalidQuote",
            ErrorCode::QuoteExpired => "quoteExpired",
            ErrorCode::QuoteInFuture => "quoteInFuture",
            ErrorCode::CurrencyMismatch => "currencyMismatch",
            ErrorCode::CustomerRequired => "customerRequired",
            ErrorCode::LimitReached => "limitReached",
            ErrorCode::OrderOpen => "orderOpen",
            ErrorCode::PromotionWithdrawn => "promotionWithdrawn",
            ErrorCode::RedemptionNotFound => "redemptionNotFound",
            ErrorCode::InvalidState => "invalidState",
            ErrorCode::ReservationExpired => "reservationExpired",
            ErrorCode::RefundTooLarge => "refundTooLarge",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::StaleEdit => "staleEdit",
            ErrorCode::AlreadyExists => "alreadyExists",
            ErrorCode::InvalidPromotion => "invalidPromotion",
            ErrorCode::ApprovalRefused => "approvalRefused",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The code of an evaluator error (`invalidBundle`, `invalidInput`, `evaluationFailed`).
    pub fn of_evaluator(e: &promoseal_evaluator::Error) -> ErrorCode {
        match e {
            promoseal_evaluator::Error::Input(_) => ErrorCode::InvalidInput,
            promoseal_evaluator::Error::Evaluation(_) => ErrorCode::EvaluationFailed,
            _ => ErrorCode::InvalidBundle,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An error answer: an HTTP status, a stable code, a one-line message, optional structured
/// detail, and `Retry-After` when waiting helps.
#[derive(Clone, Debug, PartialEq)]
pub struct WireError {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<Value>,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for WireError {}

impl WireError {
    pub fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError {
            status,
            code,
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError::new(400, code, message)
    }

    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError::new(404, code, message)
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError::new(409, code, message)
    }

    pub fn unprocessable(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError::new(422, code, message)
    }

    pub fn unavailable(code: ErrorCode, message: impl Into<String>) -> WireError {
        WireError::new(503, code, message)
    }

    pub fn with_detail(mut self, detail: Value) -> WireError {
        self.detail = Some(detail);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> WireError {
        self.retry_after = Some(seconds);
        self
    }

    /// The envelope, as JSON.
    pub fn to_value(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if let (Some(d), Some(obj)) = (&self.detail, e.as_object_mut()) {
            obj.insert("detail".into(), d.clone());
        }
        json!({ "error": e })
    }

    /// The envelope, as the bytes of an answer.
    pub fn body(&self) -> String {
        self.to_value().to_string()
    }

    /// The one answer for every code the edge does not accept: unknown, expired, used up,
    /// revoked, not for this shopper, or the bundle past its expiry. Same status, same bytes.
    pub fn code_refused() -> WireError {
        WireError::unprocessable(
            ErrorCode::CodeNotAccepted,
            "This code cannot be used. Check it and try again.",
        )
    }

    /// Too many code attempts from this client, or with this code.
    pub fn too_many_attempts(retry_after: u64) -> WireError {
        WireError::new(
            429,
            ErrorCode::TooManyAttempts,
            format!("Too many code attempts; try again in {retry_after} s."),
        )
        .with_retry_after(retry_after)
    }

    /// A request that carries more codes than a client's attempt bucket holds: no wait would
    /// ever let it through, so it is the request's fault, not a 429.
    pub fn too_many_codes(codes: usize, limit: u32) -> WireError {
        WireError::bad_request(
            ErrorCode::TooManyCodes,
            format!("the request carries {codes} codes; at most {limit} are accepted at once"),
        )
    }

    /// A JSON route was sent a body that does not say it is JSON: a `text/plain` POST is a
    /// cross-site request without a CORS preflight.
    pub fn unsupported_media_type(given: Option<&str>) -> WireError {
        WireError::new(
            415,
            ErrorCode::UnsupportedMediaType,
            format!(
                "the request body must be JSON, sent with `Content-Type: application/json` (not `{}`)",
                given.unwrap_or("(none)")
            ),
        )
    }

    /// Something broke inside the host: the cause goes to its log, never to the client.
    pub fn internal() -> WireError {
        WireError::new(500, ErrorCode::Internal, "internal error")
    }

    /// Nothing is published under this bundle id (the client's mistake, unlike a held bundle
    /// that is unavailable).
    pub fn unknown_bundle(id: &str) -> WireError {
        WireError::not_found(ErrorCode::UnknownBundle, format!("no bundle `{id}`"))
    }

    pub fn no_route(path: &str) -> WireError {
        WireError::not_found(ErrorCode::NotFound, format!("no route {path}"))
    }

    pub fn method_not_allowed(method: &str, path: &str) -> WireError {
        WireError::new(
            405,
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed on {path}"),
        )
    }

    pub fn too_large(size: usize, limit: usize) -> WireError {
        WireError::new(
            413,
            ErrorCode::BodyTooLarge,
            format!("the request body is {size} bytes, more than the {limit} accepted"),
        )
    }

    /// An evaluator error as a pricing route answers it: the input's fault is 400, an
    /// evaluation that cannot be done 422, a bundle that cannot be used 503.
    pub fn from_evaluator(e: &promoseal_evaluator::Error) -> WireError {
        let status = match e {
            promoseal_evaluator::Error::Input(_) => 400,
            promoseal_evaluator::Error::Evaluation(_) => 422,
            _ => 503,
        };
        WireError::new(status, ErrorCode::of_evaluator(e), e.to_string())
    }

    /// The `limitReached` refusal: `promotion_id` ran out of `limit`.
    pub fn limit_reached(detail: LimitDetail, message: impl Into<String>) -> WireError {
        let d = serde_json::to_value(&detail).unwrap_or(Value::Null);
        WireError::conflict(ErrorCode::LimitReached, message).with_detail(d)
    }
}

/// Whether a `Content-Type` names JSON (`application/json`, parameters such as `charset`
/// allowed, in any case).
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// An error answer as a client reads it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

/// What a `limitReached` refusal says: which promotion ran out of which limit.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitDetail {
    pub promotion_id: String,
    pub limit: crate::LimitKind,
}

impl ErrorBody {
    /// Reads an answer's bytes as an error envelope (`None` when they are not one).
    pub fn read(bytes: &[u8]) -> Option<ErrorBody> {
        serde_json::from_slice(bytes).ok()
    }

    /// The detail of a `limitReached` refusal.
    pub fn limit(&self) -> Option<LimitDetail> {
        if self.error.code != ErrorCode::LimitReached {
            return None;
        }
        serde_json::from_value(self.error.detail.clone()?).ok()
    }
}

/// Reads a request body strictly (the core's one strict reader): text that is not JSON is 400
/// `malformedJson`; JSON of the wrong shape (an unknown field, a duplicate key, a wrong type)
/// is 400 `invalidRequest`, naming the path of the first problem.
pub fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    promoseal_evaluator::from_json_strict(bytes).map_err(|e| {
        if e.syntax {
            WireError::bad_request(
                ErrorCode::MalformedJson,
                format!("malformed JSON: {}", e.message),
            )
        } else {
            let message = match e.path {
                None => e.message,
                Some(path) => format!("{path}: {}", e.message),
            };
            WireError::bad_request(ErrorCode::InvalidRequest, message)
        }
    })
}

/// The `Idempotency-Key` rule, the same at the edge and the ledger: required on every write,
/// 1 to [`MAX_IDEMPOTENCY_KEY`] visible ASCII characters. `header` is the header's value, or
/// `None` when absent; a value that is not text is given as `Some("")`-like invalid input by
/// the host.
pub fn idempotency_key(header: Option<&str>) -> Result<String, WireError> {
    let key = header.ok_or_else(|| {
        WireError::bad_request(
            ErrorCode::IdempotencyKeyRequired,
            "the `Idempotency-Key` header is required",
        )
    })?;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(WireError::bad_request(
            ErrorCode::InvalidIdempotencyKey,
            format!(
                "the `Idempotency-Key` header must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
            ),
        ));
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn codes_are_written_as_serde_writes_them() {
        for code in [
            ErrorCode::MalformedJson,
            ErrorCode::IdempotencyKeyRequired,
            ErrorCode::CodeNotAccepted,
            ErrorCode::PromotionWithdrawn,
            ErrorCode::Unavailable,
        ] {
            assert_eq!(json!(code), json!(code.as_str()));
        }
        let read: ErrorCode = serde_json::from_value(json!("somethingNew")).unwrap();
        assert_eq!(read, ErrorCode::Unknown);
    }

    #[test]
    fn the_envelope_and_the_uniform_refusal() {
        assert_eq!(
            WireError::code_refused().body(),
            r#"{"error":{"code":"codeNotAccepted","message":"This code cannot be used. Check it and try again."}}"#
        );
        let e = WireError::conflict(ErrorCode::OrderOpen, "x").with_detail(json!({"a": 1}));
        assert_eq!(e.to_value()["error"]["detail"]["a"], 1);
        let back = ErrorBody::read(e.body().as_bytes()).unwrap();
        assert_eq!(back.error.code, ErrorCode::OrderOpen);
    }

    #[test]
    fn a_limit_refusal_reads_back() {
        let e = WireError::limit_reached(
            LimitDetail {
                promotion_id: "p".into(),
                limit: crate::LimitKind::SingleUseCode,
            },
            "used up",
        );
        assert_eq!(
            e.to_value()["error"]["detail"],
            json!({"promotionId": "p", "limit": "singleUseCode"})
        );
        let back = ErrorBody::read(e.body().as_bytes()).unwrap();
        assert_eq!(back.limit().unwrap().limit, crate::LimitKind::SingleUseCode);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Probe {
        #[allow(dead_code)]
        code: String,
    }

    #[test]
    fn bodies_are_read_strictly_and_problems_named() {
        let e = parse_body::<Probe>(b"{\"code\": 1}").unwrap_err();
        assert_eq!((e.status, e.code), (400, ErrorCode::InvalidRequest));
        assert!(e.message.starts_with("code: invalid type"), "{}", e.message);
        let e = parse_body::<Probe>(b"{\"code\": \"A\", \"extra\": 1}").unwrap_err();
        assert!(e.message.contains("unknown field `extra`"), "{}", e.message);
        let e = parse_body::<Probe>(b"{\"code\": \"A\", \"code\": \"B\"}").unwrap_err();
        assert!(
            e.message.contains("duplicate field `code`"),
            "{}",
            e.message
        );
        for bad in [&b"{\"code\": "[..], b"{\"code\": \"A\"} x", b"nope"] {
            let e = parse_body::<Probe>(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::MalformedJson, "{}", e.message);
            assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
        }
        // serde's array form of a struct (its fields in order) is not a body we read.
        for bad in [&b"[\"A\"]"[..], b" \n[]"] {
            let e = parse_body::<Probe>(bad).unwrap_err();
            assert_eq!((e.status, e.code), (400, ErrorCode::InvalidRequest));
            assert_eq!(e.message, "invalid type: sequence, expected struct Probe");
        }
        assert!(parse_body::<Probe>(b"{\"code\":\"A\"}").is_ok());
    }

    #[test]
    fn one_idempotency_key_rule() {
        assert_eq!(
            idempotency_key(Some("order-1/try-1")).unwrap(),
            "order-1/try-1"
        );
        assert_eq!(
            idempotency_key(None).unwrap_err().code,
            ErrorCode::IdempotencyKeyRequired
        );
        let longest = "k".repeat(MAX_IDEMPOTENCY_KEY);
        assert!(idempotency_key(Some(&longest)).is_ok());
        for bad in [String::new(), "a b".into(), "k".repeat(256), "é".into()] {
            assert_eq!(
                idempotency_key(Some(&bad)).unwrap_err().code,
                ErrorCode::InvalidIdempotencyKey
            );
        }
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/jsonx")));
        assert!(!is_json(None));
    }
}
