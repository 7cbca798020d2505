//! `promoseal approve`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use promoseal_authoring::describe;
use promoseal_evaluator::codes;
use promoseal_evaluator::seal::approval_digest;

use crate::project::{self, Project};
use crate::support;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    #[arg(long)]
    pub promotion: String,
    #[arg(long)]
    pub key: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

/// Shows the promotion in plain words with its content digest, asks (unless `--yes`), and
/// writes the approval to `<project>/approvals/`.
pub fn run(args: &Args) -> Result<()> {
    let Args {
        project: project_dir,
        promotion,
        key,
        yes,
    } = args;
    let project = Project::load(project_dir)?;
    let p = project.promotion(promotion)?;
    let key = support::load_key(key)?;
    let currency = &project.config.currency;
    let digest = codes::encode_hex(&approval_digest(currency, p));
    println!("You are approving, as key `{}`, in {currency}:", key.id);
    for line in describe::promotion(p, currency) {
        println!("  {line}");
    }
    println!("  content digest: {digest}");
    if !*yes {
        use std::io::BufRead as _;
        eprint!("Approve this promotion? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("not approved");
        }
    }
    let record = project::ApprovalRecord {
        approval: key.approve(currency, p),
        digest,
        approved_at: jiff::Timestamp::now().to_string(),
    };
    let path = project.approval_path(promotion, &key.id);
    let mut bytes = serde_json::to_vec_pretty(&record)?;
    bytes.push(b'\n');
    support::write(&path, &bytes)?;
    println!("approval written to {}", path.display());
    Ok(())
}
