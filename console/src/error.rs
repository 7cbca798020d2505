//! The console's error answer: the wire's envelope (`{error: {code, message, detail}}`, one
//! enum of codes with the ledger and the edge). Client errors say what is wrong; server errors
//! say "internal error" and are logged in full, never shown.

use axum::response::{IntoResponse, Response};
use promoseal_wire::{ErrorCode, WireError};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct ApiError(pub WireError);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(WireError::new(status, code, message))
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, ErrorCode::InvalidRequest, message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, ErrorCode::Unauthorized, "sign in first")
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, ErrorCode::NotFound, message)
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(409, code, message)
    }

    pub fn unprocessable(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(422, code, message)
    }

    pub fn with_detail(self, detail: Value) -> ApiError {
        ApiError(self.0.with_detail(detail))
    }

    /// A server-side failure: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError(WireError::internal())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        if promoseal_db::is_transient(&e) {
            tracing::warn!(cause = %e, "unavailable");
            ApiError(
                WireError::unavailable(ErrorCode::Unavailable, "the console is busy; retry")
                    .with_retry_after(1),
            )
        } else {
            ApiError::internal(e)
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}
