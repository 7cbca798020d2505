//! `promoseal keygen`.

use std::path::PathBuf;

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use promoseal_evaluator::codes;
use promoseal_evaluator::money::{Currency, DecimalString};
use promoseal_evaluator::seal::{AuthorizationLimits, KeySpec, SigningIdentity, MACHINE_ROLES};

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

/// `CUR:AMOUNT` items, each currency a known ISO 4217 code given once, each amount one it can
/// hold.
fn per_currency(list: &[String], what: &str) -> Result<BTreeMap<String, DecimalString>> {
    let mut out = BTreeMap::new();
    for item in list {
        let (cur, amount) = item
            .split_once(':')
            .ok_or_else(|| anyhow!("{what} `{item}`: write CURRENCY:AMOUNT, as USD:50"))?;
        let currency = Currency::from_code(cur).ok_or_else(|| {
            anyhow!("{what} `{item}`: `{cur}` is not a currency code (upper case, as USD)")
        })?;
        let value = decimal(amount, what)?;
        currency
            .to_minor(&value, &|| format!("{what} `{item}`"))
            .map_err(|e| anyhow!("{e}"))?;
        if out.insert(cur.to_string(), value).is_some() {
            return Err(anyhow!("{what}: `{cur}` is given twice"));
        }
    }
    Ok(out)
}

/// A key id names the key's files (`<out>/<id>.key`): 1 to 64 letters, digits, `-`, `_` or
/// `.`, not starting with `.`, so it can never name a path outside `--out`.
fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "--id `{id}`: a key id is 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`"
        ))
    }
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
            .map(|p| {
                let d = decimal(p, "--max-percent")?;
                if d.0 > rust_decimal::Decimal::ONE_HUNDRED {
                    return Err(anyhow!("--max-percent `{p}`: at most 100"));
                }
                Ok(d)
            })
            .transpose()?,
        max_amount: per_currency(&args.max_amount, "--max-amount")?,
        max_budget: per_currency(&args.max_budget, "--max-budget")?,
    }))
}

/// Writes `<out>/<id>.key` (mode 0600) and `<out>/<id>.pub.json`, and prints the public entry.
pub fn run(args: &Args) -> Result<()> {
    let Args { id, roles, out, .. } = args;
    check_id(id)?;
    if let Some(role) = roles
        .iter()
        .find(|r| r.trim().is_empty() || r.trim() != r.as_str())
    {
        return Err(anyhow!("--role `{role}`: a role is a name, as marketing"));
    }
    for role in roles {
        role_error(role)?;
    }
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
    say!("secret key: {} (mode 0600)", secret_path.display());
    out!("{json}")?;
    Ok(())
}

/// A role the root's rules can name: lower-case letters, digits and `-`; and not a typo of a
/// machine's role (one letter from `root`, `edge`, `shop`, two from `release`), which would
/// silently make an approving role (`relase` approves promotions; `release` signs bundles).
fn role_error(role: &str) -> Result<()> {
    if !role
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(anyhow!(
            "--role `{role}`: a role is lower-case letters, digits and `-`, as marketing"
        ));
    }
    if let Some(near) = MACHINE_ROLES
        .iter()
        .find(|m| **m != role && strsim::levenshtein(m, role) <= if m.len() <= 4 { 1 } else { 2 })
    {
        return Err(anyhow!(
            "--role `{role}`: did you mean `{near}`? A role that is not a machine's ({}) \
             approves promotions; if `{role}` is meant, it is too close to `{near}` to be told \
             apart",
            MACHINE_ROLES.join(", ")
        ));
    }
    Ok(())
}
