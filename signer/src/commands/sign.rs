//! `promoseal sign`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use promoseal_evaluator::codes;
use promoseal_evaluator::model::{Audience, BundlePayload};
use promoseal_evaluator::seal::{
    approval_digest, judge_approval, open_bundle, uncovered, Envelope, EnvelopeType,
    SigningIdentity, VerifyOptions,
};
use promoseal_evaluator::{time::Instant, Bundle};

use crate::codeset::CodeSetFile;
use crate::project::{self, Project};
use crate::support::{self, load_root, now_or_clock, refused};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    /// Issue time (RFC 3339) instead of the clock.
    #[arg(long)]
    pub now: Option<String>,
}

/// Builds the edge and storefront bundles of the next version, refuses promotions without the
/// approvals the root requires, signs, verifies and writes them to `<project>/published/`.
pub fn run(args: &Args) -> Result<()> {
    let Args {
        project: project_dir,
        keys,
        now,
    } = args;
    let project = Project::load(project_dir)?;
    let root = Arc::new(load_root(&project.root_path(), &[])?);
    let keys = support::load_keys(keys)?;
    let now = now_or_clock(now.as_deref())?;
    // An unknown currency makes every approval stale (the digest covers it): name the cause.
    if promoseal_evaluator::money::Currency::from_code(&project.config.currency).is_none() {
        bail!(
            "`{}`: currency: unknown currency `{}` (ISO 4217, upper case: USD, EUR, …)",
            project.dir.join("promoseal.toml").display(),
            project.config.currency
        );
    }
    let (current, stale) = project.approvals()?;
    for s in &stale {
        say!("warning: ignoring stale approval {s}");
    }
    for c in project.carried_without_record(&current) {
        say!("warning: {c}");
    }
    let released = release(&project, &root, &keys, now)?;
    let clock = now_or_clock(None)?;
    for b in &released.bundles {
        if let Some(note) = &b.note {
            say!("note: {} bundle {note}", b.name);
        }
        // Issued at another time than the clock's (`--now`): say when hosts would refuse it.
        if b.note.is_none() && args.now.is_some() {
            let audience = if b.name == "edge" {
                Audience::Edge
            } else {
                Audience::Storefront
            };
            if let Err(e) = open_bundle(&b.sealed, &root, &VerifyOptions::new(audience, clock)) {
                say!(
                    "warning: {} bundle v{}: at the clock ({clock}) every host would refuse it: {}",
                    b.name,
                    released.version,
                    e.refusal()
                );
            }
        }
        out!(
            "{} bundle v{}: {} ({} promotions, {} bytes)",
            b.name,
            released.version,
            b.file.display(),
            b.promotions,
            b.sealed.len()
        )?;
    }
    Ok(())
}

/// One signed bundle of a release.
pub struct Sealed {
    /// `edge` or `storefront`.
    pub name: &'static str,
    pub file: PathBuf,
    pub sealed: Vec<u8>,
    pub promotions: usize,
    /// Why the bundle does not verify yet (more `release` signatures needed), if so.
    pub note: Option<String>,
}

/// What [`release`] signed.
pub struct Released {
    pub version: u64,
    /// The edge bundle, then the storefront bundle.
    pub bundles: Vec<Sealed>,
}

/// The next version of a project's bundles, signed by `keys` and written to
/// `<project>/published/` (each bundle as `<name>-v<N>.bundle` and `<name>.bundle`, and
/// `state.json`): the one release procedure of the CLI (`promoseal sign`) and the console.
/// Refuses promotions whose approvals do not cover them, as every verifier would.
pub fn release(
    project: &Project,
    root: &Arc<promoseal_evaluator::seal::TrustRoot>,
    keys: &[SigningIdentity],
    now: Instant,
) -> Result<Released> {
    let (approvals, _) = project.approvals()?;
    let state_path = project.dir.join("published/state.json");
    let state: project::PublishState = if state_path.exists() {
        support::parse_file(&state_path)?
    } else {
        project::PublishState::default()
    };
    // The next version follows every version already written, not only the one `state.json`
    // records: a lost or reset state file must never sign a second, different bundle under a
    // published number (an equivocation every verifier would see as one).
    let out = project.dir.join("published");
    let version = state
        .version
        .max(highest_written(&out)?)
        .checked_add(1)
        .ok_or_else(|| anyhow!("`{}`: no version follows the last", out.display()))?;
    let cfg = &project.config;
    let payload = BundlePayload {
        format: promoseal_evaluator::model::FORMAT_VERSION,
        bundle_id: cfg.bundle_id.clone(),
        audience: Audience::Edge,
        version,
        issued_at: now,
        expires_at: Instant(now.0 + i64::from(cfg.valid_days) * 86_400),
        currency: cfg.currency.clone(),
        time_zone: cfg.time_zone.clone(),
        pricing: cfg.pricing.clone(),
        code_sets: CodeSetFile::load_all(&project.dir)?
            .iter()
            .map(CodeSetFile::spec)
            .collect(),
        promotions: project.promotions.clone(),
        approvals,
    };
    // The terms first: terms the evaluator refuses are the problem, not their approvals.
    Bundle::compile(&payload)?;
    let missing = uncovered(root, &payload, now);
    if !missing.is_empty() {
        // Each promotion short of approvals, and why the approvals of its terms do not count,
        // in the refusal itself (the console shows it).
        let mut why = Vec::new();
        for u in &missing {
            why.push(format!(
                "promotion `{}` needs {} `{}` approval(s) covering it, has {}",
                u.promotion, u.required, u.role, u.valid
            ));
            let Some(p) = payload.promotions.iter().find(|p| p.id == u.promotion) else {
                continue;
            };
            let digest = codes::encode_hex(&approval_digest(&payload.currency, p));
            for a in payload
                .approvals
                .iter()
                .filter(|a| a.digests.contains(&digest))
            {
                if let Err(refusal) = judge_approval(root, &payload.currency, p, a, now) {
                    why.push(format!(
                        "  `{}`'s approval does not count: {refusal}",
                        a.key_id
                    ));
                }
            }
        }
        bail!(
            "refusing to sign: {} promotion(s) lack approvals (promoseal approve):\n{}",
            missing.len(),
            why.join("\n")
        );
    }
    let refs: Vec<&SigningIdentity> = keys.iter().collect();
    let mut bundles = Vec::new();
    for (name, p) in [
        ("edge", payload.clone()),
        ("storefront", payload.storefront()),
    ] {
        let bytes = serde_json::to_vec(&p)?;
        let sealed = Envelope::seal(EnvelopeType::Bundle, &bytes, &refs);
        let opts = VerifyOptions::new(p.audience, now);
        let note = match open_bundle(&sealed, root, &opts) {
            Ok(_) => None,
            Err(e) if e.refusal().code() == "belowThreshold" => Some(format!(
                "needs more `release` signatures ({}): promoseal cosign",
                e.refusal()
            )),
            Err(e) => return Err(refused(&e)),
        };
        let file = out.join(format!("{name}-v{version}.bundle"));
        bundles.push(Sealed {
            name,
            file,
            sealed,
            promotions: p.promotions.len(),
            note,
        });
    }
    // Written only once both are signed, so a refusal leaves the folder as it was: first the
    // versioned files, each only if its name is free (two signers at once cannot both take a
    // version), then the current names, then the state.
    for b in &bundles {
        support::write_new(&b.file, &b.sealed)?;
    }
    for b in &bundles {
        support::write(&out.join(format!("{}.bundle", b.name)), &b.sealed)?;
    }
    let digest = |i: usize| -> Result<String> {
        let Some(b) = bundles.get(i) else {
            return Ok(String::new());
        };
        let env = Envelope::parse(&b.sealed).map_err(|m| anyhow!("{m}"))?;
        Ok(codes::encode_hex(&env.digest))
    };
    let state = project::PublishState {
        version,
        edge_digest: digest(0)?,
        storefront_digest: digest(1)?,
        signed_at: now.to_string(),
    };
    let mut bytes = serde_json::to_vec_pretty(&state)?;
    bytes.push(b'\n');
    support::write(&state_path, &bytes)?;
    Ok(Released { version, bundles })
}

/// The highest version of a bundle written in `published/` (`<name>-v<N>.bundle`), 0 for none.
fn highest_written(published: &Path) -> Result<u64> {
    if !published.exists() {
        return Ok(0);
    }
    let mut highest = 0;
    for entry in std::fs::read_dir(published)
        .with_context(|| format!("cannot read `{}`", published.display()))?
    {
        let name = entry?.file_name();
        // Only the names `release` writes: `edge-v<N>.bundle`, `storefront-v<N>.bundle`.
        let version = name
            .to_str()
            .and_then(|n| n.strip_suffix(".bundle"))
            .and_then(|n| {
                n.strip_prefix("edge-v")
                    .or_else(|| n.strip_prefix("storefront-v"))
            })
            .and_then(|v| v.parse::<u64>().ok());
        highest = highest.max(version.unwrap_or(0));
    }
    Ok(highest)
}
