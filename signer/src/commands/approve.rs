//! `promoseal approve`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use promoseal_authoring::describe;
use promoseal_evaluator::codes;
use promoseal_evaluator::model::PromotionSpec;
use promoseal_evaluator::seal::{approval_digest, approves, SigningIdentity};

use crate::project::{self, Project};
use crate::support;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// A promotion to approve; repeat it to approve several at once, with one signature.
    #[arg(long, required = true)]
    pub promotion: Vec<String>,
    #[arg(long)]
    pub key: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

/// Shows each promotion in plain words with its content digest, asks (unless `--yes`), signs
/// them as one batch, and writes one record per promotion to `<project>/approvals/`.
pub fn run(args: &Args) -> Result<()> {
    let Args {
        project: project_dir,
        promotion,
        key,
        yes,
    } = args;
    let project = Project::load(project_dir)?;
    let mut promotions = Vec::with_capacity(promotion.len());
    for id in promotion {
        let p = project.promotion(id)?;
        if !promotions.iter().any(|q: &&PromotionSpec| q.id == p.id) {
            promotions.push(p);
        }
    }
    let key = support::load_key(key)?;
    approver_in_root(&project, &key)?;
    let currency = &project.config.currency;
    out!("You are approving, as key `{}`, in {currency}:", key.id)?;
    for p in &promotions {
        for line in describe::promotion(p, currency, project.config.time_zone.as_deref()) {
            out!("  {line}")?;
        }
        out!(
            "  content digest: {}",
            codes::encode_hex(&approval_digest(currency, p))
        )?;
    }
    if !*yes {
        use std::io::BufRead as _;
        let what = match promotions.len() {
            1 => "this promotion".to_string(),
            n => format!("these {n} promotions"),
        };
        eprint!("Approve {what}? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("not approved");
        }
    }
    let batch = key.approve_all(currency, &promotions);
    let approved_at = jiff::Timestamp::now().to_string();
    for p in &promotions {
        let record = project::ApprovalRecord {
            promotion: p.id.clone(),
            approval: batch.clone(),
            digest: codes::encode_hex(&approval_digest(currency, p)),
            approved_at: approved_at.clone(),
        };
        let path = project.approval_path(&p.id, &key.id);
        let mut bytes = serde_json::to_vec_pretty(&record)?;
        bytes.push(b'\n');
        support::write(&path, &bytes)?;
        out!("approval written to {}", path.display())?;
    }
    Ok(())
}

/// Refuses a key whose approval would count for nothing: one the project's trust root does not
/// list (or lists with another public key), or lists with machine roles only. Without a root
/// file yet there is nothing to check against: a warning says so.
fn approver_in_root(project: &Project, key: &SigningIdentity) -> Result<()> {
    let path = project.root_path();
    if !path.exists() {
        eprintln!(
            "warning: no trust root at `{}`: key `{}` is not checked against one",
            path.display(),
            key.id
        );
        return Ok(());
    }
    let root = support::load_root(&path, &[])?;
    let Some(entry) = root.payload().keys.iter().find(|k| k.id == key.id) else {
        bail!(
            "key `{}` is not in the trust root `{}`: its approval would count for nothing",
            key.id,
            path.display()
        );
    };
    if entry.public_key != key.public_key() {
        bail!(
            "key `{}`: this key file is not the key the trust root `{}` lists under that id",
            key.id,
            path.display()
        );
    }
    if !entry.roles.iter().any(|r| approves(r)) {
        bail!(
            "key `{}` has no approving role in the trust root (it has: {}): approvals are \
             signed by marketing, finance and other approvers' keys",
            key.id,
            entry.roles.join(", ")
        );
    }
    Ok(())
}
