//! `promoseal lint`: reads the project, the policy and the sample carts, runs
//! [`promoseal_authoring::lint`] and prints its report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use promoseal_authoring::lint::{lint, LintInput};
use promoseal_evaluator::parse_input;

use crate::lint::policy_from_toml;
use crate::project::Project;
use crate::support::{self, read};

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
    let samples_dir = samples
        .as_deref()
        .map_or_else(|| project.dir.join("samples"), Path::to_path_buf);
    let mut samples = Vec::new();
    if samples_dir.exists() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&samples_dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let input =
                parse_input(&read(&path)?).with_context(|| format!("`{}`", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            samples.push((name, input));
        }
    }
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
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(report.violations() == 0)
}
