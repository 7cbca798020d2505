//! A promotions project on disk, and the key and secret files the CLI reads and writes.
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
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use promoseal_evaluator::codes::{decode_hex, encode_hex, CodeSecret};
use promoseal_evaluator::model::{ApprovalSpec, PricingPolicy, PromotionSpec};
use promoseal_evaluator::seal::{approval_digest, SigningIdentity};
use serde::{Deserialize, Serialize};

pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

pub fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Writes a file atomically (temporary file, then rename), so a crash never leaves half of one.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with_mode(path, bytes, None)
}

/// Writes a secret: created with mode 0600 before a byte is written; never overwrites.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        bail!(
            "`{}` exists; refusing to overwrite a secret",
            path.display()
        );
    }
    write_with_mode(path, bytes, Some(0o600))
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let tmp = path.with_extension("tmp~");
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode.unwrap_or(0o644));
    }
    let _ = mode;
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot write `{}`", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write `{}`", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))
}

/// A secret key file: `{"keyId": "…", "seed": "<64 hex>"}`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyFile {
    pub key_id: String,
    pub seed: String,
}

pub fn random32() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(b)
}

pub fn load_key(path: &Path) -> Result<SigningIdentity> {
    let text = read_text(path)?;
    let k: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a promoseal key file", path.display()))?;
    let seed: [u8; 32] = decode_hex(&k.seed)
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("`{}`: the seed is not 64 hex digits", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "`{}` is readable by others (mode {:o}); run `chmod 600` on it",
                path.display(),
                mode & 0o777
            );
        }
    }
    Ok(SigningIdentity::from_seed(k.key_id, seed))
}

pub fn load_keys(paths: &[PathBuf]) -> Result<Vec<SigningIdentity>> {
    paths.iter().map(|p| load_key(p)).collect()
}

pub fn load_code_secret(path: &Path) -> Result<CodeSecret> {
    CodeSecret::from_hex(&read_text(path)?)
        .map_err(|m| anyhow::anyhow!("`{}`: {m}", path.display()))
}

pub fn new_code_secret(path: &Path) -> Result<()> {
    let mut text = encode_hex(&random32()?);
    text.push('\n');
    write_secret(path, text.as_bytes())
}

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

/// An approval as `promoseal approve` stores it: the signature and what it was over.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApprovalRecord {
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

fn files_with(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
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

/// Parses TOML or JSON (by extension) strictly into `T`, naming the file.
pub fn parse_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_text(path)?;
    let parsed = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{e}"))
    } else {
        let de = &mut serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(de)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.path(), e.inner()))
    };
    parsed.with_context(|| format!("`{}`", path.display()))
}

impl Project {
    pub fn load(dir: &Path) -> Result<Project> {
        let config: Config = parse_file(&dir.join("promoseal.toml"))?;
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

    /// Current approvals (those over the promotion's present content); stale ones are
    /// returned apart so the caller can say so.
    pub fn approvals(&self) -> Result<(Vec<ApprovalSpec>, Vec<String>)> {
        let mut current = Vec::new();
        let mut stale = Vec::new();
        for path in files_with(&self.dir.join("approvals"), &["json"])? {
            let r: ApprovalRecord = parse_file(&path)?;
            let Some(p) = self
                .promotions
                .iter()
                .find(|p| p.id == r.approval.promotion)
            else {
                stale.push(format!("{} (promotion no longer exists)", path.display()));
                continue;
            };
            if encode_hex(&approval_digest(&self.config.currency, p)) == r.digest {
                current.push(r.approval);
            } else {
                stale.push(format!("{} (the promotion changed since)", path.display()));
            }
        }
        Ok((current, stale))
    }
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
