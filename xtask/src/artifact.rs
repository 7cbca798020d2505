//! The one freshness rule for what the pipeline builds outside cargo: an artifact is fresh when
//! its outputs exist and the content hash of its declared inputs equals the one recorded after
//! its last successful build (`target/xtask/<name>.inputs`). Content, not modification times:
//! a checkout, a `touch` or a clock step never fools it, and an edit always counts. The
//! pipeline's own source is an input of every artifact, so a changed recipe rebuilds too.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::steps::{repo, Result};

/// Something the pipeline builds, with what it is built from.
pub struct Artifact {
    pub name: &'static str,
    /// Files or folders (walked, minus build output folders), relative to the repository.
    pub inputs: &'static [&'static str],
    /// What must exist after a build, relative to the repository.
    pub outputs: &'static [&'static str],
}

/// Folders never walked: build outputs and installed packages.
const SKIPPED: &[&str] = &["target", "node_modules", "dist", "build", ".git"];

impl Artifact {
    /// Builds the artifact with `build` unless it is fresh.
    pub fn ensure(&self, build: impl FnOnce() -> Result) -> Result {
        let root = repo();
        let stamp = root
            .join("target/xtask")
            .join(format!("{}.inputs", self.name));
        let want = self.input_hash(&root)?;
        let built = self.outputs.iter().all(|o| root.join(o).exists());
        if built && fs::read_to_string(&stamp).is_ok_and(|have| have == want) {
            eprintln!("xtask: {} is fresh", self.name);
            return Ok(());
        }
        // A failed or interrupted build leaves no stamp behind.
        let _ = fs::remove_file(&stamp);
        build()?;
        if let Some(missing) = self.outputs.iter().find(|o| !root.join(o).exists()) {
            return Err(format!("{}: the build did not write {missing}", self.name));
        }
        fs::create_dir_all(stamp.parent().unwrap_or(&root)).map_err(|e| e.to_string())?;
        fs::write(&stamp, want).map_err(|e| format!("{}: {e}", stamp.display()))
    }

    fn input_hash(&self, root: &Path) -> Result<String> {
        let mut files = Vec::new();
        for input in self.inputs.iter().chain(&["xtask/src", "xtask/Cargo.toml"]) {
            walk(&root.join(input), &mut files)?;
        }
        files.sort();
        let mut h = Sha256::new();
        for f in &files {
            let rel = f.strip_prefix(root).unwrap_or(f);
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            let bytes = fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
        Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> Result {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for entry in fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        if SKIPPED.iter().any(|s| name == **s) {
            continue;
        }
        walk(&entry.path(), out)?;
    }
    Ok(())
}
