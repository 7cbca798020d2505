//! `promoseal lint`: reads the project, the policy and the sample carts, runs
//! [`promoseal_authoring::lint`] and prints its report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use promoseal_authoring::lint::{lint, LintInput};

use crate::lint::policy_from_toml;
use crate::project::{self, Project};
use crate::support;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// Policy file (TOML); default `<project>/policy.toml`.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Folder of sample carts (evaluation inputs); default `<project>/samples`.
    #[arg(long)]
    pub samples: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Prints the report; `Ok(false)` when it has violations (exit 4).
pub fn run(args: &Args) -> Result<bool> {
    let Args {
        project: project_dir,
        policy,
        samples,
        json,
    } = args;
    let project = Project::load(project_dir)?;
    let policy_path = policy
        .as_deref()
        .map_or_else(|| project.dir.join("policy.toml"), Path::to_path_buf);
    let policy = policy_from_toml(&support::read_text(&policy_path)?)
        .with_context(|| format!("`{}`", policy_path.display()))?;
    // A folder named on the command line must exist; the default may be absent (no samples).
    if let Some(dir) = samples.as_deref().filter(|d| !d.exists()) {
        anyhow::bail!("--samples `{}`: no such folder", dir.display());
    }
    let samples_dir = samples
        .as_deref()
        .map_or_else(|| project.dir.join("samples"), Path::to_path_buf);
    let samples = project::samples(&samples_dir)?;
    let report = lint(
        &LintInput {
            currency: &project.config.currency,
            pricing: &project.config.pricing,
            promotions: &project.promotions,
            samples: &samples,
        },
        &policy,
    )?;
    if *json {
        out!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out!(raw "{report}")?;
    }
    Ok(report.violations() == 0)
}
