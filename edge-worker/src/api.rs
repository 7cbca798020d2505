//! The edge's wire format: request bodies, the error body and its statuses, and the one
//! uniform refusal for codes. Errors are `{"error": {"code", "message", "detail"?}}` with the
//! same stable camelCase codes as the evaluator and the ledger.

use promoseal_evaluator::{EvaluationInput, NotAppliedView};
use serde::{Deserialize, Serialize};

pub use promoseal_wire::{
    idempotency_key, parse_body, BundleRef, EdgeRedeemRequest as RedeemRequest, ErrorCode,
};

/// An error answer: the wire's (status, stable code, plain message, optional detail,
/// `Retry-After`), shared with the ledger.
pub type EdgeError = promoseal_wire::WireError;

/// A POST body must say it is JSON: the media type of `Content-Type` is `application/json`
/// (any case, parameters such as `charset` allowed). A form or `text/plain` POST is what a
/// page of another site can send without a CORS preflight, so it is never read.
pub fn require_json(content_type: Option<&str>) -> Result<(), EdgeError> {
    if promoseal_wire::error::is_json(content_type) {
        Ok(())
    } else {
        Err(EdgeError::unsupported_media_type(content_type))
    }
}

/// `POST /v1/evaluate?notApplied=all|cart|none`: which promotions the answer's `notApplied`
/// lists (absent: `all`, byte-identical to every other host).
pub fn not_applied_view(value: Option<&str>) -> Result<NotAppliedView, EdgeError> {
    value.map_or(Ok(NotAppliedView::All), |v| {
        v.parse()
            .map_err(|m: String| EdgeError::new(400, ErrorCode::InvalidRequest, m))
    })
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

#[cfg(test)]
mod tests {
    #[test]
    fn not_applied_views() {
        use promoseal_evaluator::NotAppliedView as V;
        assert_eq!(super::not_applied_view(None).unwrap(), V::All);
        assert_eq!(super::not_applied_view(Some("cart")).unwrap(), V::Cart);
        assert_eq!(super::not_applied_view(Some("none")).unwrap(), V::None);
        let e = super::not_applied_view(Some("some")).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("all, cart or none"), "{}", e.message);
    }

    use super::*;

    #[test]
    fn bodies_are_parsed_strictly_and_problems_named() {
        let e = parse_body::<CodeCheckRequest>(b"{\"code\": 1}").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "invalidRequest"));
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
            assert_eq!(
                (e.status, e.code.as_str()),
                (415, "unsupportedMediaType"),
                "{bad:?}"
            );
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
}
