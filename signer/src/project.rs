//! A promotions project on disk.
//!
//! ```text
//! shop/
//!   promoseal.toml        bundle settings: bundleId, currency, timeZone, validDays, root, [pricing]
//!   promotions/*.toml     one promotion each (the JSON reference's fields; `.json` works too)
//!   approvals/*.json      approval signatures (`promoseal approve`)
//!   codes/*.json          code sets: hashed lists and generated campaigns (`promoseal codes`)
//!   published/            signed bundles and `state.json` (`promoseal sign`)
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use promoseal_evaluator::codes::encode_hex;
use promoseal_evaluator::model::{ApprovalSpec, PricingPolicy, PromotionSpec};
use promoseal_evaluator::seal::approval_digest;
use promoseal_evaluator::{parse_input, EvaluationInput};
use serde::{Deserialize, Serialize};

use crate::support::parse_file;

/// `promoseal.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    pub bundle_id: String,
    pub currency: String,
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Each signed bundle is valid this many days from its issue.
    #[serde(default = "default_valid_days")]
    pub valid_days: u32,
    /// The trust root envelope, relative to the project.
    #[serde(default = "default_root")]
    pub root: PathBuf,
    #[serde(default)]
    pub pricing: PricingPolicy,
}

fn default_valid_days() -> u32 {
    30
}

fn default_root() -> PathBuf {
    PathBuf::from("root.env")
}

/// An approval of one promotion as `promoseal approve` (and the console) store it: the batch
/// it was signed in (one signature over the digests of every promotion approved at once) and
/// this promotion's digest in it. A batch of N promotions is kept as N records with the same
/// signature; a release carries it once.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApprovalRecord {
    /// The promotion this record approves.
    pub promotion: String,
    #[serde(flatten)]
    pub approval: ApprovalSpec,
    /// Hex SHA-256 of the approved content, to tell a stale approval from a current one.
    pub digest: String,
    pub approved_at: String,
}

pub struct Project {
    pub dir: PathBuf,
    pub config: Config,
    /// Sorted by id.
    pub promotions: Vec<PromotionSpec>,
}

/// The files of `dir` with one of the extensions, sorted; none when `dir` does not exist.
pub fn files_with(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot list `{}`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
        })
        .collect();
    out.sort();
    Ok(out)
}

impl Project {
    pub fn load(dir: &Path) -> Result<Project> {
        let config: Config = parse_file(&dir.join("promoseal.toml"))?;
        // The zone the shop's times are written in: one the time-zone database knows, or every
        // time would be shown and read in UTC without a word.
        if let Some(zone) = &config.time_zone {
            if jiff::tz::TimeZone::get(zone).is_err() {
                bail!(
                    "`{}`: timeZone: unknown time zone `{zone}` (an IANA name such as \
                     `America/New_York`)",
                    dir.join("promoseal.toml").display()
                );
            }
        }
        let mut promotions: Vec<PromotionSpec> = Vec::new();
        for path in files_with(&dir.join("promotions"), &["toml", "json"])? {
            let p: PromotionSpec = parse_file(&path)?;
            if promotions.iter().any(|q| q.id == p.id) {
                bail!(
                    "`{}`: promotion id `{}` is used twice",
                    path.display(),
                    p.id
                );
            }
            promotions.push(p);
        }
        promotions.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Project {
            dir: dir.to_path_buf(),
            config,
            promotions,
        })
    }

    /// Every promotion as its file writes it (JSON's form of the TOML or JSON), by id, read in
    /// one pass: for the rules that read what was written rather than what it means (an empty
    /// list reads as left out, and the parsed terms drop it).
    pub fn written(&self) -> Result<std::collections::HashMap<String, serde_json::Value>> {
        let mut out = std::collections::HashMap::new();
        for path in files_with(&self.dir.join("promotions"), &["toml", "json"])? {
            let v: serde_json::Value = parse_file(&path)?;
            if let Some(id) = v.get("id").and_then(serde_json::Value::as_str) {
                out.insert(id.to_string(), v);
            }
        }
        Ok(out)
    }

    pub fn root_path(&self) -> PathBuf {
        self.dir.join(&self.config.root)
    }

    pub fn promotion(&self, id: &str) -> Result<&PromotionSpec> {
        self.promotions
            .iter()
            .find(|p| p.id == id)
            .with_context(|| {
                let ids: Vec<&str> = self.promotions.iter().map(|p| p.id.as_str()).collect();
                format!("no promotion `{id}` (the project has: {})", ids.join(", "))
            })
    }

    pub fn approval_path(&self, promotion: &str, key_id: &str) -> PathBuf {
        self.dir
            .join("approvals")
            .join(format!("{promotion}.{key_id}.json"))
    }

    /// Current approvals (batches naming a promotion's present content), each batch once;
    /// stale records are returned apart so the caller can say so.
    pub fn approvals(&self) -> Result<(Vec<ApprovalSpec>, Vec<String>)> {
        let mut current: Vec<ApprovalSpec> = Vec::new();
        let mut stale = Vec::new();
        for path in files_with(&self.dir.join("approvals"), &["json"])? {
            let r: ApprovalRecord = parse_file(&path)?;
            let Some(p) = self.promotions.iter().find(|p| p.id == r.promotion) else {
                stale.push(format!("{} (promotion no longer exists)", path.display()));
                continue;
            };
            let digest = encode_hex(&approval_digest(&self.config.currency, p));
            if r.digest != digest || !r.approval.digests.contains(&digest) {
                stale.push(format!("{} (the promotion changed since)", path.display()));
            } else if !current.contains(&r.approval) {
                current.push(r.approval);
            }
        }
        Ok((current, stale))
    }

    /// Promotions that `approvals` (a batch is one signature over all of its digests) still
    /// approve for a key although the key's record for them was removed: a batch cannot drop
    /// one digest, so deleting a record withdraws nothing while the batch travels for another
    /// promotion. Said, so that nobody believes an approval withdrawn.
    pub fn carried_without_record(&self, approvals: &[ApprovalSpec]) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.promotions {
            let digest = encode_hex(&approval_digest(&self.config.currency, p));
            for a in approvals.iter().filter(|a| a.digests.contains(&digest)) {
                if !self.approval_path(&p.id, &a.key_id).exists() {
                    out.push(format!(
                        "`{}`'s approval of `{}` has no record in approvals/, but the batch it \
                         signed with other promotions still approves it; to withdraw it, change \
                         the terms, or approve the others again without it",
                        a.key_id, p.id
                    ));
                }
            }
        }
        out
    }
}

/// Sample carts (`samples/*.json`: evaluation inputs) by file name, sorted: what lint projects
/// a promotion's cost on, and the console's cart simulator prices.
pub fn samples(dir: &Path) -> Result<Vec<(String, EvaluationInput)>> {
    let mut out = Vec::new();
    for path in files_with(dir, &["json"])? {
        let input = parse_input(&crate::support::read(&path)?)
            .with_context(|| format!("`{}`", path.display()))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, input));
    }
    Ok(out)
}

/// `published/state.json`: the last version signed, so versions only grow.
#[derive(Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishState {
    pub version: u64,
    pub edge_digest: String,
    pub storefront_digest: String,
    pub signed_at: String,
}
