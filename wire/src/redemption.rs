//! Redemptions as they travel: from a storefront or a backend to the edge
//! ([`EdgeRedeemRequest`]), from the edge or a backend to the ledger ([`RedeemRequest`]), and
//! the limits a refusal names ([`LimitKind`]).

use promoseal_evaluator::model::EvaluationInput;
use promoseal_evaluator::money::DecimalString;
use serde::{Deserialize, Serialize};

/// The bundle version a redemption was priced with.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRef {
    pub id: String,
    pub version: u64,
}

/// What the shopper was shown; any difference from the ledger's own pricing is refused.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Quote {
    pub discount_total: DecimalString,
    pub total: DecimalString,
    /// Optional: the amount of each applied promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotions: Option<Vec<QuotedPromotion>>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuotedPromotion {
    pub promotion_id: String,
    pub amount: DecimalString,
}

/// `POST /v1/reservations` and `POST /v1/redemptions` at the ledger.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedeemRequest {
    /// The shop's order: at most one open (reserved or committed) redemption per order.
    pub order_id: String,
    pub bundle: BundleRef,
    /// What was evaluated, exactly as the edge or the storefront evaluated it.
    pub input: EvaluationInput,
    /// What the client was shown.
    pub quote: Quote,
    /// Reservations only: how long the reservation holds its uses (default and maximum are
    /// configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// The shopper's address as the edge saw it (for attempt limits, the event log and fraud
    /// signals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// `POST /v1/redeem` at the edge: the ledger's one-shot redemption, with `bundle` and `quote`
/// filled in by the edge when left out (its own pricing), and `clientIp` always the edge's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EdgeRedeemRequest {
    pub order_id: String,
    #[serde(default)]
    pub bundle: Option<BundleRef>,
    pub input: EvaluationInput,
    #[serde(default)]
    pub quote: Option<Quote>,
}

/// Which limit a counter enforces, named in `limitReached` refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LimitKind {
    TotalUses,
    PerCode,
    SingleUseCode,
    PerCustomer,
    PerDay,
    Budget,
}

impl LimitKind {
    /// Whether running out of this limit says something about the next shopper: a promotion
    /// out of total uses or budget is out for everyone, a code out of uses is out for whoever
    /// types it; per customer and per day are one shopper's or one day's.
    pub fn exhausts_promotion(self) -> bool {
        matches!(self, LimitKind::TotalUses | LimitKind::Budget)
    }

    pub fn uses_up_code(self) -> bool {
        matches!(self, LimitKind::SingleUseCode | LimitKind::PerCode)
    }
}
