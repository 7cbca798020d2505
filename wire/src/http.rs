//! A [`WireError`] as an axum response (feature `axum`): the status, the JSON envelope,
//! `Retry-After` when waiting helps, and `Connection: close` after a body refused for its size
//! (it was not read to its end, so the connection cannot carry another request: a client that
//! reused it would lose its next request).

use axum::extract::OriginalUri;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::WireError;

impl IntoResponse for WireError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.to_value())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// The answer of a route asked with a method it does not have, for axum's
/// `method_not_allowed_fallback` (which adds the route's `Allow`): the JSON every error has,
/// not axum's empty body.
pub async fn method_not_allowed(method: Method, uri: OriginalUri) -> WireError {
    WireError::method_not_allowed(method.as_str(), uri.0.path())
}
