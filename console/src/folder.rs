//! The project folder: the one source of truth for terms, approvals and published versions,
//! shared with the `promoseal` CLI (a release engineer can work from a git checkout of it).
//!
//! ```text
//! promotions/*.{toml,json}   approved terms, released by the next `sign` (the CLI's)
//! approvals/*.json           approvals of those terms (the CLI's)
//! published/                 signed bundles and state.json (the CLI's)
//! drafts/<id>.json           proposed terms: a new promotion or a change to one (the console's)
//! drafts/approvals/*.json    approvals of proposed terms, until they cover them (the console's)
//! paused/<id>.json           approved terms taken out of releases (the console's)
//! paused/approvals/*.json    their approvals, until they are resumed (the console's)
//! ```
//!
//! Drafts stay out of `promotions/` so that an unapproved change never blocks or joins a
//! release; once a draft's approvals cover it, it replaces the promotion's terms and its
//! approvals replace the old ones. Every file has a tag (the SHA-256 of its bytes): an edit
//! names the tag it started from and is refused when the file changed since, whether the
//! change came from the console or from the CLI.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use promoseal_evaluator::codes::encode_hex;
use promoseal_evaluator::model::{Audience, BundlePayload, PromotionSpec};
use promoseal_evaluator::seal::{approval_digest, open_bundle, Envelope, TrustRoot, VerifyOptions};
use promoseal_evaluator::time::Instant;
use promoseal_signer::project::{self, ApprovalRecord, Project};
use promoseal_signer::support;
use sha2::{Digest, Sha256};

/// Terms as a file holds them.
#[derive(Clone, Debug)]
pub struct Terms {
    pub spec: PromotionSpec,
    /// The SHA-256 of the file's bytes (hex): what an edit must name to replace it.
    pub tag: String,
    pub path: PathBuf,
}

pub fn tag_of(bytes: &[u8]) -> String {
    encode_hex(Sha256::digest(bytes).as_slice())
}

/// The project folder.
pub struct Folder {
    pub dir: PathBuf,
}

/// Why a write was not done.
#[derive(Debug)]
pub enum WriteError {
    /// The file changed since the tag the writer started from (`current` is its tag now, empty
    /// when it is gone).
    Stale {
        current: String,
    },
    /// A new promotion's id is taken.
    Exists,
    /// No promotion has this id.
    NotFound,
    /// The promotion is not in a state the change applies to (the reason says which).
    InvalidState(&'static str),
    Io(anyhow::Error),
}

impl From<anyhow::Error> for WriteError {
    fn from(e: anyhow::Error) -> WriteError {
        WriteError::Io(e)
    }
}

fn promotion_files(dir: &Path) -> Result<Vec<PathBuf>> {
    project::files_with(dir, &["toml", "json"])
}

fn read_terms(path: &Path) -> Result<Terms> {
    let bytes = support::read(path)?;
    let spec: PromotionSpec = support::parse_file(path)?;
    Ok(Terms {
        spec,
        tag: tag_of(&bytes),
        path: path.to_path_buf(),
    })
}

/// Pretty JSON with a final newline: what the console writes for terms and approvals.
fn json_file<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl Folder {
    pub fn new(dir: PathBuf) -> Folder {
        Folder { dir }
    }

    pub fn project(&self) -> Result<Project> {
        Project::load(&self.dir)
    }

    pub fn root(&self) -> Result<Arc<TrustRoot>> {
        let project = self.project()?;
        Ok(Arc::new(support::load_root(&project.root_path(), &[])?))
    }

    fn all_in(&self, sub: &str) -> Result<Vec<Terms>> {
        promotion_files(&self.dir.join(sub))?
            .iter()
            .map(|p| read_terms(p))
            .collect()
    }

    fn one_in(&self, sub: &str, id: &str) -> Result<Option<Terms>> {
        Ok(self.all_in(sub)?.into_iter().find(|t| t.spec.id == id))
    }

    /// Every draft (`drafts/`).
    pub fn drafts(&self) -> Result<Vec<Terms>> {
        self.all_in("drafts")
    }

    /// Approved terms (`promotions/`).
    pub fn current(&self) -> Result<Vec<Terms>> {
        self.all_in("promotions")
    }

    pub fn paused(&self) -> Result<Vec<Terms>> {
        self.all_in("paused")
    }

    pub fn draft(&self, id: &str) -> Result<Option<Terms>> {
        self.one_in("drafts", id)
    }

    pub fn current_of(&self, id: &str) -> Result<Option<Terms>> {
        self.one_in("promotions", id)
    }

    pub fn paused_of(&self, id: &str) -> Result<Option<Terms>> {
        self.one_in("paused", id)
    }

    /// What an editor of `id` starts from: its draft, else its approved terms, else its paused
    /// ones.
    pub fn working(&self, id: &str) -> Result<Option<Terms>> {
        Ok(match self.draft(id)? {
            Some(t) => Some(t),
            None => match self.current_of(id)? {
                Some(t) => Some(t),
                None => self.paused_of(id)?,
            },
        })
    }

    /// Saves proposed terms as the draft of `spec.id`, if `base` is the tag of what the
    /// writer started from (`None` for a new promotion). Returns the new tag.
    pub fn save_draft(
        &self,
        spec: &PromotionSpec,
        base: Option<&str>,
    ) -> Result<String, WriteError> {
        let working = self.working(&spec.id)?;
        match (&working, base) {
            (None, None) => {}
            (Some(_), None) => return Err(WriteError::Exists),
            (Some(w), Some(b)) if w.tag == b => {}
            (w, Some(_)) => {
                return Err(WriteError::Stale {
                    current: w.as_ref().map(|w| w.tag.clone()).unwrap_or_default(),
                })
            }
        }
        let bytes = json_file(spec)?;
        let path = match self.draft(&spec.id)? {
            Some(d) => d.path,
            None => self
                .dir
                .join("drafts")
                .join(format!("{}.json", file_stem(&spec.id))),
        };
        support::write(&path, &bytes)?;
        Ok(tag_of(&bytes))
    }

    /// A promotion's draft as of `base`: no promotion, no draft (its terms are approved as
    /// they are, or the draft was withdrawn), or a draft changed since, each refused apart.
    pub fn draft_at(&self, id: &str, base: &str) -> Result<Terms, WriteError> {
        let Some(d) = self.draft(id)? else {
            return Err(if self.working(id)?.is_none() {
                WriteError::NotFound
            } else {
                WriteError::InvalidState(
                    "there is no draft: the terms are approved as they are, or the draft was \
                     withdrawn",
                )
            });
        };
        if d.tag != base {
            return Err(WriteError::Stale { current: d.tag });
        }
        Ok(d)
    }

    /// Withdraws a draft (its approvals go with it).
    pub fn discard_draft(&self, id: &str, base: &str) -> Result<(), WriteError> {
        let d = self.draft_at(id, base)?;
        remove(&d.path)?;
        for (path, _) in self.draft_approvals(id)? {
            remove(&path)?;
        }
        Ok(())
    }

    fn approvals_in(&self, sub: &str, id: &str) -> Result<Vec<(PathBuf, ApprovalRecord)>> {
        let mut out = Vec::new();
        let paths = project::files_with(&self.dir.join(sub), &["json"])?;
        for path in paths {
            let r: ApprovalRecord = support::parse_file(&path)?;
            if r.promotion == id {
                out.push((path, r));
            }
        }
        Ok(out)
    }

    /// The approvals kept for a draft.
    pub fn draft_approvals(&self, id: &str) -> Result<Vec<(PathBuf, ApprovalRecord)>> {
        self.approvals_in("drafts/approvals", id)
    }

    /// The approvals of a promotion's approved terms.
    pub fn current_approvals(&self, id: &str) -> Result<Vec<(PathBuf, ApprovalRecord)>> {
        self.approvals_in("approvals", id)
    }

    /// Keeps an approval of a draft (one per key: a key's newer approval replaces its older).
    pub fn add_draft_approval(&self, record: &ApprovalRecord) -> Result<()> {
        let path = self.dir.join("drafts/approvals").join(format!(
            "{}.{}.json",
            file_stem(&record.promotion),
            file_stem(&record.approval.key_id)
        ));
        support::write(&path, &json_file(record)?)
    }

    /// The draft becomes the promotion's terms (replacing the file that held them, wherever
    /// the CLI put it), and its approvals replace the old ones. `base` is the draft's tag.
    pub fn promote(&self, id: &str, base: &str) -> Result<(), WriteError> {
        let Some(draft) = self.draft(id)? else {
            return Err(WriteError::Stale {
                current: String::new(),
            });
        };
        if draft.tag != base {
            return Err(WriteError::Stale { current: draft.tag });
        }
        let approvals = self.draft_approvals(id)?;
        // Old approvals first: a crash between the steps leaves terms without approvals (not
        // releasable) rather than approvals over terms they do not cover.
        for (path, _) in self
            .current_approvals(id)?
            .into_iter()
            .chain(self.paused_approvals(id)?)
        {
            remove(&path)?;
        }
        for old in [self.current_of(id)?, self.paused_of(id)?]
            .into_iter()
            .flatten()
        {
            remove(&old.path)?;
        }
        let target = self
            .dir
            .join("promotions")
            .join(format!("{}.json", file_stem(id)));
        support::write(&target, &support::read(&draft.path)?)?;
        for (path, record) in approvals {
            let to = self.dir.join("approvals").join(format!(
                "{}.{}.json",
                file_stem(id),
                file_stem(&record.approval.key_id)
            ));
            support::write(&to, &json_file(&record)?)?;
            remove(&path)?;
        }
        remove(&draft.path)?;
        Ok(())
    }

    /// Moves approved terms out of releases (`paused/`), or back (`promotions/`).
    pub fn set_paused(&self, id: &str, paused: bool, base: &str) -> Result<(), WriteError> {
        if self.working(id)?.is_none() {
            return Err(WriteError::NotFound);
        }
        let (from, to) = if paused {
            (self.current_of(id)?, "paused")
        } else {
            (self.paused_of(id)?, "promotions")
        };
        let Some(from) = from else {
            return Err(WriteError::InvalidState(if paused {
                "only approved terms can be paused, and these are not (a draft, or paused already)"
            } else {
                "this promotion is not paused"
            }));
        };
        if from.tag != base {
            return Err(WriteError::Stale { current: from.tag });
        }
        let name = from
            .path
            .file_name()
            .ok_or_else(|| anyhow!("`{}` has no file name", from.path.display()))?;
        support::write(&self.dir.join(to).join(name), &support::read(&from.path)?)?;
        remove(&from.path)?;
        let (from_approvals, to_approvals) = if paused {
            ("approvals", "paused/approvals")
        } else {
            ("paused/approvals", "approvals")
        };
        self.move_approvals(id, from_approvals, to_approvals)?;
        Ok(())
    }

    /// Moves a promotion's approvals with its terms (paused approvals stay out of the CLI's
    /// `approvals/`, where they would count as approvals of a promotion that does not exist).
    fn move_approvals(&self, id: &str, from: &str, to: &str) -> Result<()> {
        for (path, record) in self.approvals_in(from, id)? {
            let name = path
                .file_name()
                .ok_or_else(|| anyhow!("`{}` has no file name", path.display()))?;
            support::write(&self.dir.join(to).join(name), &json_file(&record)?)?;
            remove(&path)?;
        }
        Ok(())
    }

    /// The approvals kept with paused terms.
    pub fn paused_approvals(&self, id: &str) -> Result<Vec<(PathBuf, ApprovalRecord)>> {
        self.approvals_in("paused/approvals", id)
    }

    /// The promotions of the last release and its version, from `published/edge.bundle`,
    /// verified against the root first. `None` before the first release or when the bundle
    /// no longer verifies (expired).
    pub fn published(&self, root: &Arc<TrustRoot>, now: Instant) -> Result<Option<Published>> {
        let path = self.dir.join("published/edge.bundle");
        if !path.exists() {
            return Ok(None);
        }
        let bytes = support::read(&path)?;
        if open_bundle(&bytes, root, &VerifyOptions::new(Audience::Edge, now)).is_err() {
            return Ok(None);
        }
        let env = Envelope::parse(&bytes).map_err(|m| anyhow!("{m}"))?;
        let payload: BundlePayload = serde_json::from_slice(env.payload)?;
        let digests = payload
            .promotions
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    encode_hex(&approval_digest(&payload.currency, p)),
                )
            })
            .collect();
        Ok(Some(Published {
            version: payload.version,
            issued_at: payload.issued_at,
            digests,
        }))
    }
}

/// The last release.
pub struct Published {
    pub version: u64,
    pub issued_at: Instant,
    /// (promotion id, approval digest) of every promotion released.
    pub digests: Vec<(String, String)>,
}

impl Published {
    pub fn digest_of(&self, id: &str) -> Option<&str> {
        self.digests
            .iter()
            .find(|(p, _)| p == id)
            .map(|(_, d)| d.as_str())
    }
}

fn remove(path: &Path) -> Result<()> {
    fs::remove_file(path).with_context(|| format!("cannot remove `{}`", path.display()))
}

/// A file name for an id: ids are checked to be safe before anything is written (see
/// `review::check_id`); this only guards the path against anything that slipped through.
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What [`Folder::restore`] did.
pub struct Restored {
    /// Every promotion of the release.
    pub restored: Vec<String>,
    /// Those whose approved terms or state it changed (other terms, or paused before).
    pub changed: Vec<String>,
    /// Approved promotions the release did not carry, now paused.
    pub paused: Vec<String>,
}

impl Folder {
    /// The terms and approvals of an earlier release (`published/edge-v<N>.bundle`, verified
    /// against the root at `at`, the time it was released) become the approved terms again:
    /// each promotion's file and approvals are replaced by the release's, and approved
    /// promotions the release did not carry are paused. Drafts are left as they are.
    ///
    /// An approval keeps the time it was made: the record the folder holds of the same key and
    /// terms, else `approved_at(promotion, key, digest)` (the console's log), else the release's
    /// issue time, which it cannot be later than.
    pub fn restore(
        &self,
        root: &Arc<TrustRoot>,
        version: u64,
        at: Instant,
        approved_at: &dyn Fn(&str, &str, &str) -> Option<String>,
    ) -> Result<Restored> {
        let path = self.dir.join(format!("published/edge-v{version}.bundle"));
        let bytes = support::read(&path)?;
        open_bundle(&bytes, root, &VerifyOptions::new(Audience::Edge, at))
            .map_err(|e| anyhow!("version {version} does not verify: {}", e.refusal()))?;
        let env = Envelope::parse(&bytes).map_err(|m| anyhow!("{m}"))?;
        let payload: BundlePayload = serde_json::from_slice(env.payload)?;
        let mut paused = Vec::new();
        for t in self.current()? {
            if !payload.promotions.iter().any(|p| p.id == t.spec.id) {
                let name = t
                    .path
                    .file_name()
                    .ok_or_else(|| anyhow!("`{}` has no file name", t.path.display()))?;
                support::write(
                    &self.dir.join("paused").join(name),
                    &support::read(&t.path)?,
                )?;
                remove(&t.path)?;
                self.move_approvals(&t.spec.id, "approvals", "paused/approvals")?;
                paused.push(t.spec.id);
            }
        }
        let mut restored = Vec::new();
        let mut changed = Vec::new();
        for p in &payload.promotions {
            let digest = encode_hex(&approval_digest(&payload.currency, p));
            let mut kept = Vec::new();
            for (path, record) in self
                .current_approvals(&p.id)?
                .into_iter()
                .chain(self.paused_approvals(&p.id)?)
            {
                if record.digest == digest {
                    kept.push((record.approval.key_id, record.approved_at));
                }
                remove(&path)?;
            }
            let current = self.current_of(&p.id)?;
            // Changed: not approved and live before (new, or paused), or other terms.
            let same = current.as_ref().is_some_and(|t| {
                encode_hex(&approval_digest(&payload.currency, &t.spec)) == digest
            });
            if !same {
                changed.push(p.id.clone());
            }
            for old in [current, self.paused_of(&p.id)?].into_iter().flatten() {
                remove(&old.path)?;
            }
            for a in payload
                .approvals
                .iter()
                .filter(|a| a.digests.contains(&digest))
            {
                let approved_at = kept
                    .iter()
                    .find(|(key, _)| *key == a.key_id)
                    .map(|(_, at)| at.clone())
                    .or_else(|| approved_at(&p.id, &a.key_id, &digest))
                    .unwrap_or_else(|| payload.issued_at.to_string());
                let record = ApprovalRecord {
                    promotion: p.id.clone(),
                    approval: a.clone(),
                    digest: digest.clone(),
                    approved_at,
                };
                let to = self.dir.join("approvals").join(format!(
                    "{}.{}.json",
                    file_stem(&p.id),
                    file_stem(&a.key_id)
                ));
                support::write(&to, &json_file(&record)?)?;
            }
            let target = self
                .dir
                .join("promotions")
                .join(format!("{}.json", file_stem(&p.id)));
            support::write(&target, &json_file(p)?)?;
            restored.push(p.id.clone());
        }
        Ok(Restored {
            restored,
            changed,
            paused,
        })
    }
}
