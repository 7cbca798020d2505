#![doc = include_str!("../README.md")]

pub mod error;
#[cfg(feature = "axum")]
pub mod http;
pub mod redemption;

pub use error::{
    idempotency_key, parse_body, ErrorBody, ErrorCode, ErrorDetail, LimitDetail, WireError,
};
pub use promoseal_evaluator::seal::Accepted;
pub use redemption::{
    BundleRef, EdgeRedeemRequest, LimitKind, Quote, QuotedPromotion, RedeemRequest,
};

/// The longest `Idempotency-Key` accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;
