//! The ledger's error: the wire's error answer (`promoseal_wire::WireError`: a status, a
//! stable code from one enum shared with the edge, a one-line message, optional detail) as an
//! axum response. Client errors say what is wrong; server errors say "internal error" and are
//! logged in full, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promoseal_wire::{ErrorCode, WireError};
use serde_json::Value;

/// A [`WireError`] the ledger answers with (a newtype: axum's and sqlx's traits attach here).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError(pub WireError);

impl std::ops::Deref for ApiError {
    type Target = WireError;
    fn deref(&self) -> &WireError {
        &self.0
    }
}

impl From<WireError> for ApiError {
    fn from(e: WireError) -> ApiError {
        ApiError(e)
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(WireError::new(status.as_u16(), code, message))
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(WireError::bad_request(code, message))
    }

    pub fn unprocessable(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(WireError::unprocessable(code, message))
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(WireError::conflict(code, message))
    }

    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(WireError::not_found(code, message))
    }

    pub fn with_detail(self, detail: Value) -> ApiError {
        ApiError(self.0.with_detail(detail))
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// A server-side failure: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError(WireError::internal())
    }

    /// A transient failure (the database busy, unreachable or restarting): 503 with
    /// `Retry-After`, logged with its cause. Nothing was written: the same request with the
    /// same idempotency key is safe to send again.
    pub fn unavailable(cause: impl std::fmt::Display) -> ApiError {
        tracing::warn!(%cause, "unavailable");
        ApiError(
            WireError::unavailable(
                ErrorCode::Unavailable,
                "the ledger is busy; retry with the same idempotency key",
            )
            .with_retry_after(1),
        )
    }

    /// The JSON body every error answers with.
    pub fn body(&self) -> Value {
        self.0.to_value()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        if crate::db::is_transient(&e) {
            ApiError::unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl std::error::Error for ApiError {}
