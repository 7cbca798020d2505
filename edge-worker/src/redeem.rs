//! What `POST /v1/redeem` sends the ledger: the client's request with `bundle` and `quote`
//! filled in from the edge's own pricing when they are left out, and `clientIp` always the
//! edge's. The edge prices the request when it holds the version named (or none was named),
//! with the customer the shop vouches for (`seal::vouch`: the claim in
//! `context.customerClaim`, else no tier or segment), as the ledger will; that evaluation also
//! says what to learn from the ledger's answer (`crate::codes::learn`). The input is sent on
//! exactly as the client sent it: the ledger vouches for itself.

use std::sync::Arc;

use promoseal_evaluator::money::DecimalString;
use promoseal_evaluator::seal::{vouch, TrustRoot};
use promoseal_evaluator::{evaluate, Bundle, Evaluation};
use promoseal_wire::{Quote, QuotedPromotion};

use crate::api::{BundleRef, EdgeError, ErrorCode, RedeemRequest};

/// A redemption ready to send.
pub struct Prepared {
    /// The exact JSON body for the ledger (and, if it cannot be reached, the dead letter).
    pub body: String,
    pub bundle_id: String,
    /// The edge's own pricing, when it held the version.
    pub evaluation: Option<Evaluation>,
}

/// The bundle id a redemption is priced with: the one it names, else the default.
pub fn bundle_id<'a>(r: &'a RedeemRequest, default: &'a str) -> &'a str {
    r.bundle.as_ref().map_or(default, |b| b.id.as_str())
}

/// The quote the edge fills in for a redemption that came without one: its own pricing.
fn quote_of(e: &Evaluation) -> Result<Quote, EdgeError> {
    let decimal = |a: &promoseal_evaluator::money::Amount| {
        DecimalString::parse(&a.to_string()).map_err(|_| EdgeError::internal())
    };
    Ok(Quote {
        discount_total: decimal(&e.discount_total)?,
        total: decimal(&e.total)?,
        promotions: Some(
            e.applied
                .iter()
                .map(|a| {
                    Ok(QuotedPromotion {
                        promotion_id: a.promotion_id.to_string(),
                        amount: decimal(&a.amount)?,
                    })
                })
                .collect::<Result<_, EdgeError>>()?,
        ),
    })
}

/// Prepares `r` given the edge bundle it names as the edge holds it (`current`), and the trust
/// root that says whose customer claims count.
pub fn prepare(
    r: RedeemRequest,
    current: Result<&Arc<Bundle>, &EdgeError>,
    client_ip: &str,
    root: &TrustRoot,
) -> Result<Prepared, EdgeError> {
    let priced = match (current, &r.bundle) {
        (Ok(b), None) => Some(b),
        (Ok(b), Some(named)) if named.version == b.version() => Some(b),
        (Err(e), None) => return Err(e.clone()),
        _ => None,
    };
    let evaluation = priced
        .map(|b| {
            let mut input = r.input.clone();
            let at = input.context.now;
            vouch(root, &mut input, at);
            evaluate(b, &input)
        })
        .transpose()
        .map_err(|e| EdgeError::from_evaluator(&e))?;
    let (quote, bundle) = match (r.quote, r.bundle, priced, &evaluation) {
        (Some(q), Some(b), _, _) => (q, b),
        (q, _, Some(b), Some(e)) => (
            match q {
                Some(q) => q,
                None => quote_of(e)?,
            },
            BundleRef {
                id: b.id().to_string(),
                version: b.version(),
            },
        ),
        _ => {
            return Err(EdgeError::new(
                400,
                ErrorCode::InvalidRequest,
                "quote: required when the edge does not hold the bundle version named",
            ))
        }
    };
    let bundle_id = bundle.id.clone();
    let forward = promoseal_wire::RedeemRequest {
        order_id: r.order_id,
        bundle,
        input: r.input,
        quote,
        ttl_seconds: None,
        client_ip: Some(client_ip.to_string()),
    };
    let body = serde_json::to_string(&forward).map_err(|_| EdgeError::internal())?;
    Ok(Prepared {
        body,
        bundle_id,
        evaluation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, claim, input, NOW};
    use serde_json::{json, Value};

    fn request(customer: Value, context: Value) -> RedeemRequest {
        let given = input(&["GOLD25"], NOW, customer, context);
        crate::api::parse_body(
            json!({"orderId": "o-1", "input": given})
                .to_string()
                .as_bytes(),
        )
        .unwrap()
    }

    fn prepared(r: RedeemRequest) -> (Value, Vec<String>) {
        let b = Arc::new(testing::bundle());
        let p = prepare(r, Ok(&b), "203.0.113.7", &testing::root()).unwrap();
        let applied = p
            .evaluation
            .unwrap()
            .applied
            .iter()
            .map(|a| a.promotion_id.to_string())
            .collect();
        (serde_json::from_str(&p.body).unwrap(), applied)
    }

    #[test]
    fn the_edge_prices_a_redemption_for_the_customer_the_shop_vouches_for() {
        // A browser that says gold: no gold price from the edge, and the ledger gets the input
        // as sent (it vouches for itself).
        let (body, applied) = prepared(request(json!({"id": "c-1", "tier": "gold"}), json!({})));
        assert_eq!(applied, ["socks"]);
        assert_eq!(
            body["input"]["customer"],
            json!({"id": "c-1", "tier": "gold"})
        );
        assert_eq!(body["quote"]["discountTotal"], "0.80");
        assert_eq!(body["clientIp"], "203.0.113.7");
        // The shop's claim: the gold price.
        let gold = claim(json!({"id": "c-1", "tier": "gold"}));
        let (body, mut applied) = prepared(request(
            json!({"id": "c-1"}),
            json!({"customerClaim": gold}),
        ));
        applied.sort();
        assert_eq!(applied, ["gold", "socks"]);
        assert_eq!(body["input"]["customer"], json!({"id": "c-1"}));
        assert_eq!(body["input"]["context"]["customerClaim"], json!(gold));
    }
}
