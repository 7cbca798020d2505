//! `promoseal root create` and `promoseal root rotate`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use promoseal_evaluator::seal::{Envelope, EnvelopeType, RootPayload, SigningIdentity, TrustRoot};

use crate::support::{self, load_root, refused};

#[derive(Subcommand)]
pub enum RootCommand {
    /// Sign a first root from its payload (JSON or TOML) with its `root` keys.
    Create {
        #[arg(long)]
        from: PathBuf,
        /// Key entries (`keygen`'s `<id>.pub.json`) to add to the payload's `keys`.
        #[arg(long = "public")]
        publics: Vec<PathBuf>,
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign the next root: version one above `--current`, signed by a threshold of the old
    /// root keys and of the new ones (add missing signatures with `cosign`).
    Rotate {
        #[arg(long)]
        current: PathBuf,
        #[arg(long)]
        from: PathBuf,
        /// Key entries (`keygen`'s `<id>.pub.json`) to add to the payload's `keys`.
        #[arg(long = "public")]
        publics: Vec<PathBuf>,
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: &RootCommand) -> Result<()> {
    match cmd {
        RootCommand::Create {
            from,
            publics,
            keys,
            out,
        } => create(from, publics, keys, out),
        RootCommand::Rotate {
            current,
            from,
            publics,
            keys,
            out,
        } => rotate(current, from, publics, keys, out),
    }
}

/// The root payload's bytes as they will be signed, and its version.
fn payload_bytes(from: &Path, publics: &[PathBuf]) -> Result<(Vec<u8>, u64)> {
    let mut payload: RootPayload = support::parse_file(from)?;
    for p in publics {
        payload.keys.push(support::parse_file(p)?);
    }
    TrustRoot::from_payload(payload.clone(), [0; 32])
        .map_err(|r| anyhow!("`{}`: {r}", from.display()))?;
    let mut bytes = serde_json::to_vec_pretty(&payload)?;
    bytes.push(b'\n');
    Ok((bytes, payload.version))
}

fn create(from: &Path, publics: &[PathBuf], keys: &[PathBuf], out: &Path) -> Result<()> {
    let keys = support::load_keys(keys)?;
    let refs: Vec<&SigningIdentity> = keys.iter().collect();
    let sealed = Envelope::seal(EnvelopeType::Root, &payload_bytes(from, publics)?.0, &refs);
    let root = TrustRoot::from_envelope(&sealed).map_err(|e| refused(&e))?;
    // Every bundle and approval is judged against the root: a new one never replaces one in
    // place without a word.
    if out.exists() {
        bail!(
            "`{}` exists: refusing to replace a trust root (a successor is made with `promoseal \
             root rotate`; remove the file first to start over)",
            out.display()
        );
    }
    support::write(out, &sealed)?;
    out!(
        "trust root v{} written to {} (sha256 {})",
        root.version(),
        out.display(),
        root.digest_hex()
    )?;
    Ok(())
}

fn rotate(
    current: &Path,
    from: &Path,
    publics: &[PathBuf],
    keys: &[PathBuf],
    out: &Path,
) -> Result<()> {
    let old = load_root(current, &[])?;
    let keys = support::load_keys(keys)?;
    let refs: Vec<&SigningIdentity> = keys.iter().collect();
    let (payload, version) = payload_bytes(from, publics)?;
    // Signatures can make a successor accepted; a wrong version never will be.
    if Some(version) != old.version().checked_add(1) {
        bail!(
            "`{}`: version {version}: the successor of root v{} is version {}",
            from.display(),
            old.version(),
            old.version().saturating_add(1)
        );
    }
    let sealed = Envelope::seal(EnvelopeType::Root, &payload, &refs);
    support::write(out, &sealed)?;
    match old.rotate(&sealed) {
        Ok(next) => out!(
            "trust root v{} written to {}: accepted as the successor of v{}",
            next.version(),
            out.display(),
            old.version()
        )?,
        Err(e) => out!(
            "trust root written to {}, not yet accepted: {}; add signatures with `promoseal cosign`",
            out.display(),
            e.refusal()
        )?,
    }
    Ok(())
}
