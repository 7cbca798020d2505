//! `promoseal cosign`.

use std::path::{Path, PathBuf};

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
    let env = Envelope::parse(&signed).map_err(|m| anyhow!("{m}"))?;
    // The same bundle under its other names (`edge.bundle` and `edge-v3.bundle`): they stay
    // one set of bytes.
    let twins = same_payload(file, &env.digest)?;
    // Each twin gets the signatures added to its own (it may hold one the file does not).
    let mut twins_signed = Vec::with_capacity(twins.len());
    for twin in &twins {
        let bytes = Envelope::add_signatures(&read(twin)?, &refs)
            .map_err(|m| anyhow!("`{}`: {m}", twin.display()))?;
        twins_signed.push(bytes);
    }
    support::write(file, &signed)?;
    for (twin, bytes) in twins.iter().zip(&twins_signed) {
        support::write(twin, bytes)?;
    }
    let ids: Vec<&str> = env.signatures.iter().map(|s| s.key_id.as_str()).collect();
    out!("{} now signed by: {}", file.display(), ids.join(", "))?;
    for twin in &twins {
        out!("{} too (the same bundle)", twin.display())?;
    }
    Ok(())
}

/// The other `.bundle` files beside `file` that carry the same payload (by its digest).
fn same_payload(file: &Path, digest: &[u8; 32]) -> Result<Vec<PathBuf>> {
    let Some(dir) = file.parent() else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "bundle") || path.file_name() == file.file_name() {
            continue;
        }
        let Ok(bytes) = read(&path) else { continue };
        if Envelope::parse(&bytes).is_ok_and(|e| &e.digest == digest) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
