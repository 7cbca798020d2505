//! `promoseal approve`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use promoseal_authoring::describe;
use promoseal_authoring::lint::{check, LintInput};
use promoseal_authoring::review::{id_error, project_errors};
use promoseal_evaluator::codes;
use promoseal_evaluator::model::PromotionSpec;
use promoseal_evaluator::seal::{
    approval_digest, approves, judge_approval, ApprovalRefusal, Exposure, SigningIdentity,
    TrustRoot,
};

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
    sound(&project, &promotions)?;
    let key = support::load_key(key)?;
    let root = approver_in_root(&project, &key)?;
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
    let clock = support::now_or_clock(None)?;
    for p in &promotions {
        if let Some(end) = p.ends_at.filter(|end| *end <= clock) {
            say!(
                "note: promotion `{}` ended at {end}: approved, it still applies to nothing",
                p.id
            );
        }
    }
    let batch = key.approve_all(currency, &promotions);
    // Judged as every verifier will judge it, before anything is written: an approval that
    // would count for nothing (an expired key, terms beyond its limit, a key holding none of
    // the roles the terms need) is refused here, before the question.
    if let Some(root) = &root {
        let mut refused = Vec::new();
        for p in &promotions {
            match judge_approval(root, currency, p, &batch, clock) {
                Ok(_) => {}
                // Terms that need no approval: the approval is harmless, and counts for nothing.
                Err(ApprovalRefusal::NotAnApprover { required }) if required.is_empty() => {
                    say!("note: promotion `{}` needs no approval", p.id);
                }
                Err(why) => refused.push(format!("promotion `{}`: {why}", p.id)),
            }
        }
        if !refused.is_empty() {
            for r in &refused {
                say!("{r}");
            }
            bail!(
                "not approved: key `{}`'s approval would not count for {} promotion(s); \
                 nothing was written",
                key.id,
                refused.len()
            );
        }
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

/// Refuses terms a shop would not sign: what the evaluator refuses (`promoseal lint` says the
/// same), and what the project's rules refuse (the id's form, a name with control or
/// text-direction characters, a reward of nothing, a limit of 0), as the console does.
fn sound(project: &Project, promotions: &[&PromotionSpec]) -> Result<()> {
    let owned: Vec<PromotionSpec> = promotions.iter().map(|p| (*p).clone()).collect();
    check(&LintInput {
        currency: &project.config.currency,
        pricing: &project.config.pricing,
        promotions: &owned,
        samples: &[],
    })
    .map_err(|e| anyhow::anyhow!("not approved: {e}"))?;
    let written = project.written()?;
    let mut errors = Vec::new();
    for p in promotions {
        let draft = written.get(&p.id).unwrap_or(&serde_json::Value::Null);
        for e in id_error(&p.id)
            .into_iter()
            .chain(project_errors(draft, p, &Exposure::of(p)))
        {
            errors.push(format!("promotion `{}`: {}: {}", p.id, e.path, e.message));
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            say!("{e}");
        }
        bail!("not approved: {} problem(s) in the terms", errors.len());
    }
    Ok(())
}

/// Refuses a key whose approval would count for nothing: one the project's trust root does not
/// list (or lists with another public key), or lists with machine roles only. Without a root
/// file yet there is nothing to check against: a warning says so. The root, when there is one.
fn approver_in_root(project: &Project, key: &SigningIdentity) -> Result<Option<TrustRoot>> {
    let path = project.root_path();
    if !path.exists() {
        say!(
            "warning: no trust root at `{}`: key `{}` is not checked against one",
            path.display(),
            key.id
        );
        return Ok(None);
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
    Ok(Some(root))
}
