//! `promoseal cosign`.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use promoseal_evaluator::seal::{Envelope, SigningIdentity};

use crate::support::{self, read};

#[derive(clap::Args)]
pub struct Args {
    pub file: PathBuf,
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
}

/// Adds the keys' signatures to a signed root or bundle, in place.
pub fn run(args: &Args) -> Result<()> {
    let Args { file, keys } = args;
    let keys = support::load_keys(keys)?;
    let refs: Vec<&SigningIdentity> = keys.iter().collect();
    let signed = Envelope::add_signatures(&read(file)?, &refs)
        .map_err(|m| anyhow!("`{}`: {m}", file.display()))?;
    support::write(file, &signed)?;
    let env = Envelope::parse(&signed).map_err(|m| anyhow!("{m}"))?;
    let ids: Vec<&str> = env.signatures.iter().map(|s| s.key_id.as_str()).collect();
    out!("{} now signed by: {}", file.display(), ids.join(", "))?;
    Ok(())
}
