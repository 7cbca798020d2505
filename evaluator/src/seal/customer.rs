//! Customer claims: the shop's word for who a shopper is. Customer conditions (tier, segments,
//! first order, region) and per-customer identity decide money, and only the shop's backend
//! knows them: a browser that says "gold member" must not get the gold discount at checkout.
//!
//! A claim is a token (`keyId.payload.signature`, see `token.rs`) whose payload is
//! [`CustomerClaims`], signed by a key the trust root gives the `shop` role, over the
//! `customer` domain, living at most [`MAX_CLAIM_LIFETIME`]. The storefront passes it in
//! `context.customerClaim`; hosts that decide (the edge's code checks and redemptions, the
//! ledger) take the customer from the claim alone ([`vouch`]).

use serde::{Deserialize, Serialize};

use super::root::TrustRoot;
use super::token::Kind;
use super::verify::{Subject, VerifyError};
use super::SigningIdentity;
use crate::model::{CustomerSpec, EvaluationInput};
use crate::time::Instant;

/// The role of the shop backend's keys: they vouch for customers.
pub const ROLE_SHOP: &str = "shop";

/// Longest claim lifetime a verifier accepts, in seconds: a claim is issued per session or per
/// checkout, not kept.
pub const MAX_CLAIM_LIFETIME: i64 = 3600;

const CLAIM: Kind = Kind {
    subject: Subject::CustomerClaim,
    domain: "customer",
    role: ROLE_SHOP,
    max_lifetime: MAX_CLAIM_LIFETIME,
    what: "customer claim",
};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomerClaims {
    /// The customer exactly as an evaluation input gives one.
    pub customer: CustomerSpec,
    pub issued_at: Instant,
    pub expires_at: Instant,
}

impl SigningIdentity {
    /// Issues a customer claim (the shop backend's job; its key must hold the `shop` role).
    pub fn issue_customer_claim(&self, claims: &CustomerClaims) -> String {
        CLAIM.issue(self, &serde_json::to_vec(claims).unwrap_or_default())
    }
}

impl TrustRoot {
    /// Verifies a customer claim's signature and lifetime at `now`.
    pub fn check_customer_claim(
        &self,
        token: &str,
        now: Instant,
    ) -> Result<CustomerClaims, VerifyError> {
        CLAIM.open(self, token, now, |c: &CustomerClaims| {
            (c.issued_at, c.expires_at)
        })
    }
}

/// What [`vouch`] did with an input's customer.
#[derive(Debug)]
pub enum Vouched {
    /// The claim verified: the customer is the claim's.
    Claim,
    /// No claim: the customer keeps only who it names (`id`, `email`), no attribute.
    Unvouched,
    /// A claim was given and refused: the customer is dropped whole.
    Refused(VerifyError),
}

/// Makes an input's customer the shop's word, as every host that decides money must before it
/// prices: with a claim that verifies at `at` (the time the cart was priced), the customer is
/// the claim's, whatever the input said; without one, the attributes that condition promotions
/// (tier, segments, orders count, region) are dropped and only who the input names is kept (for
/// per-customer limits and the event log); with a claim that does not verify, no customer at
/// all. The claim itself is left in place (it is part of the request as sent).
pub fn vouch(root: &TrustRoot, input: &mut EvaluationInput, at: Instant) -> Vouched {
    match &input.context.customer_claim {
        Some(token) => match root.check_customer_claim(token, at) {
            Ok(claims) => {
                input.customer = Some(claims.customer);
                Vouched::Claim
            }
            Err(e) => {
                input.customer = None;
                Vouched::Refused(e)
            }
        },
        None => {
            input.customer = input.customer.take().and_then(|c| {
                (c.id.is_some() || c.email.is_some()).then_some(CustomerSpec {
                    id: c.id,
                    email: c.email,
                    ..CustomerSpec::default()
                })
            });
            Vouched::Unvouched
        }
    }
}
