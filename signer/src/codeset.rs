//! Code sets as the project keeps them (`codes/<set>.json`): keyed hashes of listed codes, or a
//! generated campaign; never a plaintext code. `promoseal sign` turns each into the bundle's
//! `codeSets` entry as is, so a deactivation takes effect in the next bundle version.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use promoseal_evaluator::codes::{encode_hex, Campaign, CodeHash, CodeSecret, HASH_LEN};
use promoseal_evaluator::model::{CodeSetSpec, GeneratedSpec};
use promoseal_evaluator::normalize_code;
use serde::{Deserialize, Serialize};

use crate::support::{parse_file, write};

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeSetFile {
    pub id: String,
    pub active: bool,
    /// The fingerprint of the code secret the set was made with (`CodeSecret::fingerprint`);
    /// absent in sets made before it was recorded, which are not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<GeneratedSpec>,
    /// Sorted keyed hashes of the active listed codes (standard base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<String>,
    /// Sorted keyed hashes of deactivated listed codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated: Option<String>,
}

fn decode(b64: Option<&String>) -> Result<BTreeSet<CodeHash>> {
    let Some(b64) = b64 else {
        return Ok(BTreeSet::new());
    };
    let bytes = STANDARD.decode(b64).context("hashes are not base64")?;
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .filter_map(|c| c.try_into().ok())
        .collect())
}

fn encode(set: &BTreeSet<CodeHash>) -> Option<String> {
    (!set.is_empty()).then(|| STANDARD.encode(set.iter().flatten().copied().collect::<Vec<u8>>()))
}

/// What [`CodeSetFile::import_new`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Imported {
    /// Codes new to the set.
    pub added: usize,
    /// Codes left out because another set holds them: `(set, how many)`, by set id.
    pub elsewhere: Vec<(String, usize)>,
}

impl Imported {
    /// "2 left out: already in set `vip` (1), `spring` (1)", or nothing.
    pub fn left_out(&self) -> Option<String> {
        let n: usize = self.elsewhere.iter().map(|(_, k)| k).sum();
        (n > 0).then(|| {
            let sets: Vec<String> = self
                .elsewhere
                .iter()
                .map(|(set, k)| format!("`{set}` ({k})"))
                .collect();
            format!(
                "{n} left out: already in set {} (a code belongs to one set)",
                sets.join(", ")
            )
        })
    }
}

/// A code's status in the set that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeStatus {
    Active,
    /// The code, or its whole set, is switched off.
    Deactivated,
}

impl CodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Active => "active",
            CodeStatus::Deactivated => "deactivated",
        }
    }
}

/// For each code (in its one spelling), the id of a set other than `except` that already
/// holds it, active or not. A code belongs to one set: in two, it would unlock both sets'
/// promotions, and a deactivation in one would leave it working through the other.
pub fn held_elsewhere(
    sets: &[CodeSetFile],
    except: &str,
    secret: &CodeSecret,
    codes: &[String],
) -> Result<Vec<Option<String>>> {
    let mut listed = Vec::new();
    let mut campaigns = Vec::new();
    for f in sets.iter().filter(|f| f.id != except) {
        match f.campaign() {
            Some(c) => campaigns.push((f.id.as_str(), c)),
            None => {
                let mut all = decode(f.hashes.as_ref())?;
                all.extend(decode(f.deactivated.as_ref())?);
                listed.push((f.id.as_str(), all));
            }
        }
    }
    Ok(codes
        .iter()
        .map(|c| {
            let h = secret.hash(c);
            listed
                .iter()
                .find(|(_, all)| all.contains(&h))
                .map(|(id, _)| *id)
                .or_else(|| {
                    campaigns
                        .iter()
                        .find(|(_, campaign)| secret.check(campaign, c).is_some())
                        .map(|(id, _)| *id)
                })
                .map(str::to_string)
        })
        .collect())
}

/// The rule for a code set's id, which names its file (`codes/<id>.json`): 1 to 64 lower-case
/// letters, digits, `-` or `_`, so it can never name a path outside `codes/`.
pub fn check_id(id: &str) -> std::result::Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "code set `{id}`: a code set id is 1 to 64 lower-case letters, digits, `-` or `_`"
        ))
    }
}

pub fn path(project: &Path, id: &str) -> PathBuf {
    project.join("codes").join(format!("{id}.json"))
}

impl CodeSetFile {
    pub fn load(project: &Path, id: &str) -> Result<CodeSetFile> {
        let p = path(project, id);
        if !p.exists() {
            bail!("no code set `{id}` (expected `{}`)", p.display());
        }
        parse_file(&p)
    }

    pub fn load_all(project: &Path) -> Result<Vec<CodeSetFile>> {
        let dir = project.join("codes");
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths.iter().map(|p| parse_file(p)).collect()
    }

    pub fn save(&self, project: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        write(&path(project, &self.id), &bytes)
    }

    pub fn campaign(&self) -> Option<Campaign> {
        self.generated.as_ref().map(Campaign::from)
    }

    /// The bundle's entry for this set.
    pub fn spec(&self) -> CodeSetSpec {
        CodeSetSpec {
            id: self.id.clone(),
            codes: Vec::new(),
            hashes: if self.generated.is_some() {
                None
            } else {
                Some(self.hashes.clone().unwrap_or_default())
            },
            generated: self.generated.clone(),
            active: self.active,
        }
    }

    pub fn new_generated(id: &str, campaign: &Campaign, secret: &CodeSecret) -> CodeSetFile {
        CodeSetFile {
            id: id.to_string(),
            active: true,
            secret: Some(secret.fingerprint()),
            generated: Some(campaign.spec()),
            hashes: None,
            deactivated: None,
        }
    }

    pub fn new_listed(id: &str, secret: &CodeSecret) -> CodeSetFile {
        CodeSetFile {
            id: id.to_string(),
            active: true,
            secret: Some(secret.fingerprint()),
            generated: None,
            hashes: None,
            deactivated: None,
        }
    }

    /// Refuses a secret other than the one the set was made with: its hashes would match no
    /// code a shopper types, its campaign's codes would be refused everywhere.
    fn same_secret(&self, secret: &CodeSecret) -> Result<()> {
        match &self.secret {
            Some(made) if *made != secret.fingerprint() => bail!(
                "code set `{}` was made with another code secret (fingerprint {made}; this \
                 one's is {}): use the secret the hosts hold",
                self.id,
                secret.fingerprint()
            ),
            _ => Ok(()),
        }
    }

    /// Adds listed codes that no other set of the project (`sets`) holds; those another set
    /// holds are left out and counted by set ([`held_elsewhere`]).
    pub fn import_new(
        &mut self,
        sets: &[CodeSetFile],
        secret: &CodeSecret,
        codes: &[String],
    ) -> Result<Imported> {
        let held = held_elsewhere(sets, &self.id, secret, codes)?;
        let mut elsewhere: std::collections::BTreeMap<String, usize> = Default::default();
        let mut fresh = Vec::with_capacity(codes.len());
        for (c, h) in codes.iter().zip(held) {
            match h {
                Some(set) => *elsewhere.entry(set).or_default() += 1,
                None => fresh.push(c.clone()),
            }
        }
        Ok(Imported {
            added: self.import(secret, &fresh)?,
            elsewhere: elsewhere.into_iter().collect(),
        })
    }

    /// Adds listed codes (as keyed hashes); returns how many were new.
    pub fn import(&mut self, secret: &CodeSecret, codes: &[String]) -> Result<usize> {
        self.same_secret(secret)?;
        if self.generated.is_some() {
            bail!(
                "code set `{}` is a generated campaign; import into a listed set",
                self.id
            );
        }
        let mut active = decode(self.hashes.as_ref())?;
        let mut off = decode(self.deactivated.as_ref())?;
        let before = active.len();
        for c in codes {
            let h = secret.hash(c);
            off.remove(&h);
            active.insert(h);
        }
        let added = active.len() - before;
        self.hashes = encode(&active);
        self.deactivated = encode(&off);
        Ok(added)
    }

    /// Whether this set holds `code` (already in its one spelling, [`normalize_code`]), and
    /// its status here: `None` when it does not hold it.
    pub fn status_of(&self, secret: &CodeSecret, code: &str) -> Result<Option<CodeStatus>> {
        let on = |active: bool| {
            if active && self.active {
                CodeStatus::Active
            } else {
                CodeStatus::Deactivated
            }
        };
        if let (Some(g), Some(campaign)) = (&self.generated, self.campaign()) {
            return Ok(secret
                .check(&campaign, code)
                .map(|serial| on(g.revoked.binary_search(&serial).is_err())));
        }
        let h = secret.hash(code);
        Ok(if decode(self.hashes.as_ref())?.contains(&h) {
            Some(on(true))
        } else if decode(self.deactivated.as_ref())?.contains(&h) {
            Some(on(false))
        } else {
            None
        })
    }

    /// Deactivates (`on == false`) or reactivates codes; an empty list means the whole set.
    /// Returns how many changed (a code named twice, or already in that state, does not count;
    /// the whole set counts as one).
    pub fn set_active(&mut self, secret: &CodeSecret, codes: &[String], on: bool) -> Result<usize> {
        self.same_secret(secret)?;
        if codes.is_empty() {
            let changed = usize::from(self.active != on);
            self.active = on;
            return Ok(changed);
        }
        let mut changed = 0;
        if let Some(campaign) = self.campaign() {
            let g = self.generated.as_mut().context("generated set")?;
            for c in codes {
                let serial = secret
                    .check(&campaign, &normalize_code(c))
                    .with_context(|| {
                        format!("`{c}` is not a code of campaign `{}`", campaign.campaign)
                    })?;
                match (on, g.revoked.binary_search(&serial)) {
                    (false, Err(at)) => {
                        g.revoked.insert(at, serial);
                        changed += 1;
                    }
                    (true, Ok(at)) => {
                        g.revoked.remove(at);
                        changed += 1;
                    }
                    _ => {}
                }
            }
            return Ok(changed);
        }
        let mut active = decode(self.hashes.as_ref())?;
        let mut off = decode(self.deactivated.as_ref())?;
        for c in codes {
            let h = secret.hash(c);
            let (from, to) = if on {
                (&mut off, &mut active)
            } else {
                (&mut active, &mut off)
            };
            if from.remove(&h) {
                to.insert(h);
                changed += 1;
            } else if !to.contains(&h) {
                bail!("`{c}` is not a code of set `{}`", self.id);
            }
        }
        self.hashes = encode(&active);
        self.deactivated = encode(&off);
        Ok(changed)
    }

    /// CSV rows for `codes export`: generated campaigns give every code with its serial and
    /// status; listed sets give hashes only (their plaintext was never kept).
    pub fn export(&self, secret: &CodeSecret, out: &mut impl std::io::Write) -> Result<()> {
        self.same_secret(secret)?;
        let set_status = if self.active { "active" } else { "deactivated" };
        if let (Some(campaign), Some(g)) = (self.campaign(), &self.generated) {
            writeln!(out, "code,serial,status")?;
            for (serial, code) in secret.generate_all(&campaign).enumerate() {
                let revoked = g.revoked.binary_search(&(serial as u64)).is_ok();
                let status = if revoked { "deactivated" } else { set_status };
                writeln!(out, "{code},{serial},{status}")?;
            }
            return Ok(());
        }
        writeln!(out, "hash,status")?;
        for h in decode(self.hashes.as_ref())? {
            writeln!(out, "{},{set_status}", encode_hex(&h))?;
        }
        for h in decode(self.deactivated.as_ref())? {
            writeln!(out, "{},deactivated", encode_hex(&h))?;
        }
        Ok(())
    }

    /// A one-line summary in plain words.
    pub fn summary(&self) -> String {
        // A whole set switched off says so in words of its own: "0 revoked (deactivated)" read as if
        // no code were off.
        let state = if self.active {
            ""
        } else {
            "; the whole set is deactivated: none of its codes is accepted"
        };
        match &self.generated {
            Some(g) => format!(
                "{}: generated campaign `{}`, {} codes like {}{}{}{}, {} revoked{state}",
                self.id,
                g.campaign,
                g.count,
                g.prefix,
                "X".repeat(g.serial_chars as usize),
                "#".repeat(g.tag_chars as usize),
                g.suffix,
                g.revoked.len()
            ),
            None => {
                let n = |b: &Option<String>| decode(b.as_ref()).map(|s| s.len()).unwrap_or(0);
                format!(
                    "{}: {} listed codes as keyed hashes, {} deactivated{state}",
                    self.id,
                    n(&self.hashes),
                    n(&self.deactivated)
                )
            }
        }
    }
}
