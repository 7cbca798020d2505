//! `promoseal verify`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use promoseal_evaluator::seal::{open_bundle, VerifyOptions};

use crate::support::{load_root, now_or_clock, read, refused, Refused};
use crate::AudienceArg;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub root: PathBuf,
    /// Newer roots to rotate to, in order.
    #[arg(long = "rotation")]
    pub rotations: Vec<PathBuf>,
    #[arg(long)]
    pub bundle: PathBuf,
    #[arg(long, value_enum, default_value = "edge")]
    pub audience: AudienceArg,
    #[arg(long)]
    pub now: Option<String>,
    /// Refuse versions below this one (the highest a host accepted).
    #[arg(long)]
    pub min_version: Option<u64>,
}

/// Verifies the bundle against the root (rotated through `--rotation`); a refusal is a
/// [`Refused`] error.
pub fn run(args: &Args) -> Result<()> {
    let Args {
        root,
        rotations,
        bundle,
        audience,
        now,
        min_version,
    } = args;
    let root = Arc::new(load_root(root, rotations)?);
    let opts = VerifyOptions::new((*audience).into(), now_or_clock(now.as_deref())?);
    let b = open_bundle(&read(bundle)?, &root, &opts).map_err(|e| refused(&e))?;
    if let Some(floor) = min_version.filter(|v| b.version() < *v) {
        return Err(anyhow::Error::new(Refused(format!(
            "invalid bundle: rollback: version {} is below {floor}",
            b.version()
        ))));
    }
    out!(
        "valid: bundle `{}` version {} for {:?}, {} promotions, expires {}; trust root v{}",
        b.id(),
        b.version(),
        b.audience(),
        b.promotion_count(),
        b.expires_at(),
        root.version()
    )?;
    Ok(())
}
