//! `promoseal inspect`.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use promoseal_authoring::describe;
use promoseal_evaluator::codes;
use promoseal_evaluator::model::BundlePayload;
use promoseal_evaluator::seal::{approval_digest, Envelope, EnvelopeType, RootPayload};

use crate::support::{now_or_clock, read};

#[derive(clap::Args)]
pub struct Args {
    pub file: PathBuf,
    #[arg(long)]
    pub now: Option<String>,
}

/// Describes a signed bundle or root in plain words, without verifying it.
pub fn run(args: &Args) -> Result<()> {
    let Args { file, now } = args;
    let bytes = read(file)?;
    let env = Envelope::parse(&bytes).map_err(|m| anyhow!("`{}`: {m}", file.display()))?;
    let signers: Vec<&str> = env.signatures.iter().map(|s| s.key_id.as_str()).collect();
    out!(
        "{}: a signed {} ({} bytes, payload sha256 {})",
        file.display(),
        env.kind.as_str(),
        bytes.len(),
        codes::encode_hex(&env.digest)
    )?;
    out!(
        "signed by: {} (not verified here: use `promoseal verify`)",
        signers.join(", ")
    )?;
    if env.kind == EnvelopeType::Root {
        let root: RootPayload = serde_json::from_slice(env.payload)?;
        out!(
            "trust root version {}{}",
            root.version,
            root.expires_at
                .map_or(String::new(), |t| format!(", expires {t}"))
        )?;
        for k in &root.keys {
            let until = k
                .not_after
                .map_or(String::new(), |t| format!(", valid until {t}"));
            let limits = k.limits.as_ref().map_or(String::new(), |l| {
                format!(", limits {}", serde_json::to_string(l).unwrap_or_default())
            });
            out!("  key {}: {}{until}{limits}", k.id, k.roles.join(", "))?;
        }
        for (role, n) in &root.thresholds {
            out!("  threshold: {n} `{role}` signatures")?;
        }
        out!(
            "  every promotion needs: {}",
            if root.approvals.required.is_empty() {
                "no approval".to_string()
            } else {
                root.approvals.required.join(", ")
            }
        )?;
        for r in &root.approvals.rules {
            out!(
                "  `{}` approval when: {}",
                r.role,
                serde_json::to_string(r).unwrap_or_default()
            )?;
        }
        return Ok(());
    }
    let p: BundlePayload = promoseal_evaluator::parse_payload(env.payload)?;
    let now = now_or_clock(now.as_deref())?;
    let days = (p.expires_at.0 - now.0) as f64 / 86_400.0;
    let expiry = if days > 0.0 {
        format!("expires {} (in {days:.1} days)", p.expires_at)
    } else {
        format!("EXPIRED at {}", p.expires_at)
    };
    out!(
        "bundle `{}` version {} for the {:?}, {}, issued {}, {expiry}",
        p.bundle_id,
        p.version,
        p.audience,
        p.currency,
        p.issued_at
    )?;
    for cs in &p.code_sets {
        let what = match (&cs.generated, &cs.hashes) {
            (Some(g), _) => format!(
                "generated campaign `{}`: {} codes, {} revoked",
                g.campaign,
                g.count,
                g.revoked.len()
            ),
            (None, Some(h)) => {
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, h)
                    .map_or(0, |b| b.len());
                format!(
                    "{} listed codes as keyed hashes",
                    bytes / promoseal_evaluator::codes::HASH_LEN
                )
            }
            (None, None) => format!("{} PLAINTEXT codes", cs.codes.len()),
        };
        out!(
            "code set {}: {what}{}",
            cs.id,
            if cs.active { "" } else { " (deactivated)" }
        )?;
    }
    out!("{} promotions:", p.promotions.len())?;
    for promo in &p.promotions {
        let mut lines = describe::promotion(promo, &p.currency, p.time_zone.as_deref()).into_iter();
        out!("- {}", lines.next().unwrap_or_default())?;
        for l in lines {
            out!("    {l}")?;
        }
        // Batches naming its digest (their signatures are what `promoseal verify` checks).
        let digest = codes::encode_hex(&approval_digest(&p.currency, promo));
        let mut by: Vec<&str> = p
            .approvals
            .iter()
            .filter(|a| a.digests.contains(&digest))
            .map(|a| a.key_id.as_str())
            .collect();
        by.sort_unstable();
        by.dedup();
        out!(
            "    approved by: {} (not verified here: use `promoseal verify`)",
            if by.is_empty() {
                "nobody".to_string()
            } else {
                by.join(", ")
            }
        )?;
    }
    Ok(())
}
