//! `promoseal keygen`.

use std::path::PathBuf;

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use promoseal_evaluator::codes;
use promoseal_evaluator::money::DecimalString;
use promoseal_evaluator::seal::{AuthorizationLimits, KeySpec, SigningIdentity};

use crate::support;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub id: String,
    /// Roles for the root entry: root, release, edge, shop (signs customer claims), or an approving role (marketing, …).
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    #[arg(long, default_value = "keys")]
    pub out: PathBuf,
    /// Authorization limit of an approver: the deepest percentage off it may approve.
    #[arg(long, value_name = "PERCENT")]
    pub max_percent: Option<String>,
    /// Authorization limit: the largest fixed amount off, per currency (`USD:50`); repeats.
    #[arg(long, value_name = "CUR:AMOUNT")]
    pub max_amount: Vec<String>,
    /// Authorization limit: the largest budget, per currency (`USD:20000`); repeats.
    #[arg(long, value_name = "CUR:AMOUNT")]
    pub max_budget: Vec<String>,
}

fn decimal(s: &str, what: &str) -> Result<DecimalString> {
    DecimalString::parse(s).map_err(|e| anyhow!("{what} `{s}`: {e}"))
}

fn per_currency(list: &[String], what: &str) -> Result<BTreeMap<String, DecimalString>> {
    list.iter()
        .map(|item| {
            let (cur, amount) = item
                .split_once(':')
                .ok_or_else(|| anyhow!("{what} `{item}`: write CURRENCY:AMOUNT, as USD:50"))?;
            Ok((cur.to_string(), decimal(amount, what)?))
        })
        .collect()
}

/// The limits the flags give, `None` when none is given.
fn limits(args: &Args) -> Result<Option<AuthorizationLimits>> {
    if args.max_percent.is_none() && args.max_amount.is_empty() && args.max_budget.is_empty() {
        return Ok(None);
    }
    Ok(Some(AuthorizationLimits {
        max_percent: args
            .max_percent
            .as_deref()
            .map(|p| decimal(p, "--max-percent"))
            .transpose()?,
        max_amount: per_currency(&args.max_amount, "--max-amount")?,
        max_budget: per_currency(&args.max_budget, "--max-budget")?,
    }))
}

/// Writes `<out>/<id>.key` (mode 0600) and `<out>/<id>.pub.json`, and prints the public entry.
pub fn run(args: &Args) -> Result<()> {
    let Args { id, roles, out, .. } = args;
    let limits = limits(args)?;
    let seed = support::random32()?;
    let key_file = support::KeyFile {
        key_id: id.to_string(),
        seed: codes::encode_hex(&seed),
    };
    let secret_path = out.join(format!("{id}.key"));
    support::write_secret(&secret_path, &serde_json::to_vec_pretty(&key_file)?)?;
    let public = KeySpec {
        id: id.to_string(),
        public_key: SigningIdentity::from_seed(id, seed).public_key(),
        roles: roles.to_vec(),
        not_after: None,
        limits,
    };
    let json = serde_json::to_string_pretty(&public)?;
    support::write(
        &out.join(format!("{id}.pub.json")),
        format!("{json}\n").as_bytes(),
    )?;
    eprintln!("secret key: {} (mode 0600)", secret_path.display());
    println!("{json}");
    Ok(())
}
