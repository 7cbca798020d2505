//! `promoseal codes`: the code secret, generated campaigns, imported lists, export, and
//! deactivation; the set files themselves are in `crate::codeset`.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use promoseal_evaluator::codes::Campaign;
use promoseal_evaluator::normalize_code;

use crate::codeset::{self, CodeSetFile};
use crate::import;
use crate::support;

#[derive(Subcommand)]
pub enum CodesCommand {
    /// Create the code secret (edge and ledger hold it; mode 0600).
    Secret {
        #[arg(long)]
        out: PathBuf,
    },
    /// Create a campaign of self-verifying codes and write them to a CSV for distribution.
    Generate {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        /// Campaign name (part of every code's key); default: the set id.
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value = "")]
        suffix: String,
        /// Characters between prefix and suffix (serial + tag).
        #[arg(long, default_value_t = 12)]
        length: u32,
        #[arg(long)]
        secret: PathBuf,
        /// Where to write the codes (CSV, mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Add codes from a CSV/XLSX list (any layout) or the command line, as keyed hashes.
    Import {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        #[arg(long)]
        file: Option<PathBuf>,
        /// Column holding the codes: header name or 1-based index.
        #[arg(long)]
        column: Option<String>,
        /// Worksheet of an XLSX/ODS file.
        #[arg(long)]
        sheet: Option<String>,
        /// A code to add (repeatable), e.g. a named public code.
        #[arg(long = "code")]
        codes: Vec<String>,
        #[arg(long)]
        secret: PathBuf,
    },
    /// Write a set as CSV: every generated code with its status, or a listed set's hashes.
    Export {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        #[arg(long)]
        secret: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Deactivate codes (or, without `--code`, the whole set) from the next bundle version.
    Deactivate {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        #[arg(long = "code")]
        codes: Vec<String>,
        #[arg(long)]
        secret: PathBuf,
    },
    /// Reactivate codes (or, without `--code`, the whole set) from the next bundle version.
    Reactivate {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long)]
        set: String,
        #[arg(long = "code")]
        codes: Vec<String>,
        #[arg(long)]
        secret: PathBuf,
    },
}

pub fn run(cmd: &CodesCommand) -> Result<()> {
    match cmd {
        CodesCommand::Generate { set, .. }
        | CodesCommand::Import { set, .. }
        | CodesCommand::Export { set, .. }
        | CodesCommand::Deactivate { set, .. }
        | CodesCommand::Reactivate { set, .. } => {
            codeset::check_id(set).map_err(anyhow::Error::msg)?;
        }
        CodesCommand::Secret { .. } => {}
    }
    match cmd {
        CodesCommand::Secret { out } => {
            support::new_code_secret(out)?;
            out!(
                "code secret written to {} (mode 0600): give it to the edge and the ledger only",
                out.display()
            )?;
        }
        CodesCommand::Generate {
            project,
            set,
            campaign,
            count,
            prefix,
            suffix,
            length,
            secret,
            out,
        } => {
            let secret = support::load_code_secret(secret)?;
            if codeset::path(project, set).exists() {
                bail!("code set `{set}` exists already");
            }
            let campaign = Campaign::new(
                campaign.as_deref().unwrap_or(set),
                prefix,
                suffix,
                *count,
                *length,
            )
            .map_err(|m| anyhow!("{m}"))?;
            let mut csv =
                String::with_capacity((campaign.len() + 1) * (*count as usize).min(10_000_000) + 5);
            csv.push_str("code\n");
            for code in secret.generate_all(&campaign) {
                csv.push_str(&code);
                csv.push('\n');
            }
            support::write_secret(out, csv.as_bytes())?;
            CodeSetFile::new_generated(set, &campaign, &secret).save(project)?;
            out!("{count} codes of campaign `{}` written to {} (mode 0600); the bundle carries none of them", campaign.campaign, out.display())?;
        }
        CodesCommand::Import {
            project,
            set,
            file,
            column,
            sheet,
            codes,
            secret,
        } => {
            let secret = support::load_code_secret(secret)?;
            let mut list: Vec<String> = codes.iter().map(|c| normalize_code(c)).collect();
            if list.iter().any(String::is_empty) {
                bail!("--code: a code is never empty");
            }
            if let Some((code, why)) = list
                .iter()
                .find_map(|c| import::code_problem(c).map(|why| (c, why)))
            {
                bail!("--code `{code}`: {why}");
            }
            if let Some(file) = file {
                let imported = import::read_codes(
                    file,
                    &import::ImportOptions {
                        column: column.clone(),
                        sheet: sheet.clone(),
                    },
                )?;
                for (row, why) in imported.skipped.iter().take(20) {
                    say!("skipped row {row}: {why}");
                }
                say!(
                    "{} codes read, {} duplicates, {} rows skipped",
                    imported.codes.len(),
                    imported.duplicates,
                    imported.skipped.len()
                );
                if let Some(why) = imported.none_found(&file.display().to_string()) {
                    bail!("{why}");
                }
                list.extend(imported.codes);
            }
            if list.is_empty() {
                bail!("no codes to import: give --file or --code");
            }
            let mut f = if codeset::path(project, set).exists() {
                CodeSetFile::load(project, set)?
            } else {
                CodeSetFile::new_listed(set, &secret)
            };
            let done = f.import_new(&CodeSetFile::load_all(project)?, &secret, &list)?;
            f.save(project)?;
            out!("{}; {} new", f.summary(), done.added)?;
            if let Some(why) = done.left_out() {
                out!("{why}")?;
            }
        }
        CodesCommand::Export {
            project,
            set,
            secret,
            out,
        } => {
            let secret = support::load_code_secret(secret)?;
            let f = CodeSetFile::load(project, set)?;
            let mut buf = Vec::new();
            f.export(&secret, &mut buf)?;
            match out {
                Some(path) => {
                    support::write_secret(path, &buf)?;
                    out!("{} written to {}", f.summary(), path.display())?;
                }
                None => std::io::Write::write_all(&mut std::io::stdout(), &buf)?,
            }
        }
        CodesCommand::Deactivate {
            project,
            set,
            codes,
            secret,
        }
        | CodesCommand::Reactivate {
            project,
            set,
            codes,
            secret,
        } => {
            let on = matches!(cmd, CodesCommand::Reactivate { .. });
            let secret = support::load_code_secret(secret)?;
            let mut f = CodeSetFile::load(project, set)?;
            let changed = f.set_active(&secret, codes, on)?;
            f.save(project)?;
            out!(
                "{} ({changed} changed; effective from the next signed bundle)",
                f.summary()
            )?;
        }
    }
    Ok(())
}
