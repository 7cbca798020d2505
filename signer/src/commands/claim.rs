//! `promoseal claim`.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use promoseal_evaluator::model::CustomerSpec;
use promoseal_evaluator::seal::{CustomerClaims, MAX_CLAIM_LIFETIME};
use promoseal_evaluator::time::Instant;

use crate::support::{self, now_or_clock};

#[derive(clap::Args)]
pub struct Args {
    /// The shop key (`keygen --role shop`).
    #[arg(long)]
    pub key: PathBuf,
    /// The customer as an evaluation input gives it: `{"id": "…", "tier": "gold", …}`.
    #[arg(long)]
    pub customer: String,
    /// Lifetime in seconds (at most an hour).
    #[arg(long, default_value_t = 900)]
    pub ttl: i64,
    /// Issue time (RFC 3339) instead of the clock.
    #[arg(long)]
    pub now: Option<String>,
}

/// Prints a customer claim token signed by the shop key.
pub fn run(args: &Args) -> Result<()> {
    let Args {
        key,
        customer,
        ttl,
        now,
    } = args;
    let ttl = *ttl;
    if !(1..=MAX_CLAIM_LIFETIME).contains(&ttl) {
        bail!("--ttl: {ttl} is outside 1..={MAX_CLAIM_LIFETIME} seconds");
    }
    let customer: CustomerSpec =
        serde_json::from_str(customer).map_err(|e| anyhow!("--customer: {e}"))?;
    let key = support::load_key(key)?;
    let issued_at = now_or_clock(now.as_deref())?;
    let expires_at = Instant(issued_at.seconds().saturating_add(ttl));
    if expires_at > Instant::LAST {
        bail!(
            "--now: a claim issued at {issued_at} would expire after {}, which no host reads",
            Instant::LAST
        );
    }
    let token = key.issue_customer_claim(&CustomerClaims {
        customer,
        issued_at,
        expires_at,
    });
    out!("{token}")?;
    Ok(())
}
