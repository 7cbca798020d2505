//! What the commands share: reading and writing files, key and secret files, the clock, and the
//! trust root with [`Refused`], the verdict that exits 3.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use promoseal_authoring::review::disguising;
use promoseal_evaluator::codes::{decode_hex, encode_hex, CodeSecret};
use promoseal_evaluator::seal::{SigningIdentity, TrustRoot, VerifyError};
use promoseal_evaluator::time::Instant;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

pub fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Parses TOML or JSON (by extension) strictly into `T`, naming the file.
pub fn parse_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_text(path)?;
    let parsed = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(|e| anyhow!("{e}"))
    } else {
        // The evaluator's one strict reader: the offending field's path, or the line and
        // column of a text that is not JSON.
        promoseal_evaluator::from_json_strict(text.as_bytes()).map_err(|e| match e.path {
            Some(path) if !e.syntax => anyhow!("{path}: {}", e.detail),
            _ => anyhow!("{}", e.message),
        })
    };
    parsed.with_context(|| format!("`{}`", path.display()))
}

/// `text` as a terminal may show it: a control character (but a line break or a tab) or a
/// character that disguises text (`promoseal_authoring::review::disguising`: direction
/// overrides, isolates and marks, invisible ones) as a `\u` escape of JSON's form, so that JSON
/// stays JSON; any other text as it is.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| (c.is_control() && c != '\n' && c != '\t') || disguising(c);
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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

/// Writes a file that must not exist yet, atomically: the complete temporary file is linked
/// in under the name, which fails when the name is taken (two writers cannot both win).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("{}.tmp~", std::process::id()));
    write_with_mode(&tmp, bytes, None)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("`{}` exists: refusing to write over it", path.display())
        }
        Err(e) => Err(e).with_context(|| format!("cannot write `{}`", path.display())),
    }
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

// ---------------------------------------------------------------------------------------------
// Keys and secrets
// ---------------------------------------------------------------------------------------------

/// A secret key file: `{"keyId": "…", "seed": "<64 hex>"}`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyFile {
    pub key_id: String,
    pub seed: String,
}

pub fn random32() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| anyhow!("no randomness from the OS: {e}"))?;
    Ok(b)
}

pub fn load_key(path: &Path) -> Result<SigningIdentity> {
    let text = read_text(path)?;
    let k: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a promoseal key file", path.display()))?;
    let seed: [u8; 32] = decode_hex(&k.seed)
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("`{}`: the seed is not 64 hex digits", path.display()))?;
    private(path)?;
    Ok(SigningIdentity::from_seed(k.key_id, seed))
}

/// Refuses a secret file (a key, the code secret) that others than its owner may read.
fn private(path: &Path) -> Result<()> {
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
    Ok(())
}

pub fn load_keys(paths: &[PathBuf]) -> Result<Vec<SigningIdentity>> {
    paths.iter().map(|p| load_key(p)).collect()
}

pub fn load_code_secret(path: &Path) -> Result<CodeSecret> {
    let secret = CodeSecret::from_hex(&read_text(path)?)
        .map_err(|m| anyhow!("`{}`: {m}", path.display()))?;
    private(path)?;
    Ok(secret)
}

pub fn new_code_secret(path: &Path) -> Result<()> {
    let mut text = encode_hex(&random32()?);
    text.push('\n');
    write_secret(path, text.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// The clock
// ---------------------------------------------------------------------------------------------

pub fn instant(s: &str, what: &str) -> Result<Instant> {
    Instant::parse(s).map_err(|m| anyhow!("{what}: {m}"))
}

/// `--now`, or the clock.
pub fn now_or_clock(now: Option<&str>) -> Result<Instant> {
    match now {
        Some(s) => instant(s, "--now"),
        None => Ok(Instant(jiff::Timestamp::now().as_second())),
    }
}

// ---------------------------------------------------------------------------------------------
// The trust root and refusals
// ---------------------------------------------------------------------------------------------

/// Standard output could not be written (`out!`): a closed pipe or a full disk.
#[derive(Debug)]
pub struct Output(pub std::io::Error);

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing to standard output: {}", self.0)
    }
}

impl std::error::Error for Output {}

/// A failure that is a verification verdict (exit 3), not a usage or I/O problem.
#[derive(Debug)]
pub struct Refused(pub(crate) String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

pub fn refused(e: &VerifyError) -> anyhow::Error {
    anyhow::Error::new(Refused(format!("{e}: {}", e.refusal())))
}

/// The trust root at `path`, rotated through `rotations` in order.
pub fn load_root(path: &Path, rotations: &[PathBuf]) -> Result<TrustRoot> {
    let mut root = TrustRoot::from_envelope(&read(path)?).map_err(|e| refused(&e))?;
    for r in rotations {
        root = root.rotate(&read(r)?).map_err(|e| refused(&e))?;
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn text_that_could_hide_or_disguise_is_shown_escaped_and_json_stays_json() {
        assert_eq!(shown("10% off\tall\nitems"), "10% off\tall\nitems");
        assert_eq!(shown("Socks\u{1b}[8m"), "Socks\\u001b[8m");
        assert_eq!(shown("Sale \u{202E}gnp.exe"), "Sale \\u202egnp.exe");
        assert_eq!(shown("a\u{200B}b\u{feff}"), "a\\u200bb\\ufeff");
        // Joiners stay: emoji sequences need them.
        assert_eq!(shown("👨\u{200D}👩"), "👨\u{200D}👩");
        let json = serde_json::json!({"name": "x\u{202E}y\u{1b}"}).to_string();
        let back: serde_json::Value = serde_json::from_str(&shown(&json)).unwrap();
        assert_eq!(back["name"], "x\u{202E}y\u{1b}");
    }
}
