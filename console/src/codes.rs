//! The code inventory: per code set (the project's `codes/<set>.json`, the CLI's format), its
//! counts and the promotions it unlocks; generating a campaign (the codes come back once, as a
//! CSV download, and are never stored), importing a CSV or spreadsheet (the code column found as
//! `promoseal codes import` finds it; kept as keyed hashes), exporting, looking one code up (its
//! set, its status, its redemptions at the ledger), and deactivating or reactivating codes,
//! which takes effect in the next published version. Codes are handled with the code secret
//! the edge and the ledger hold; the console's server reads it from `--code-secret`.

use std::path::Path;

use anyhow::anyhow;
use promoseal_evaluator::codes::{Campaign, CodeSecret};
use promoseal_evaluator::model::Audience;
use promoseal_evaluator::model::PromotionSpec;
use promoseal_evaluator::normalize_code;
use promoseal_evaluator::seal::{open_bundle, VerifyOptions};
use promoseal_signer::codeset::{self, CodeSetFile};
use promoseal_signer::import::{read_codes, ImportOptions};
use promoseal_signer::support;
use promoseal_wire::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit;
use crate::auth::Person;
use crate::error::{ApiError, ApiResult};
use crate::Shared;

/// Roles that keep the code inventory: the promotions manager, and release engineers.
const KEEPERS: &[&str] = &["promotions", "release"];
/// The most codes one generation makes.
pub const MAX_GENERATE: u64 = 1_000_000;
/// The largest upload of codes, in bytes.
pub const MAX_UPLOAD: usize = 10 * 1024 * 1024;

fn keeper(who: &Person) -> ApiResult<()> {
    if KEEPERS.iter().any(|r| who.has(r)) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "the code inventory needs the `promotions` or `release` role",
        ))
    }
}

fn secret(state: &Shared) -> ApiResult<CodeSecret> {
    let path = state.settings.code_secret.as_ref().ok_or_else(|| {
        ApiError::new(
            503,
            ErrorCode::Misconfigured,
            "the console has no code secret (--code-secret): codes cannot be handled",
        )
    })?;
    support::load_code_secret(path).map_err(ApiError::from)
}

fn set_id_ok(id: &str) -> ApiResult<()> {
    codeset::check_id(id).map_err(ApiError::bad_request)
}

fn load(dir: &Path, id: &str) -> ApiResult<CodeSetFile> {
    set_id_ok(id)?;
    if !codeset::path(dir, id).exists() {
        return Err(ApiError::not_found(format!("no code set `{id}`")));
    }
    CodeSetFile::load(dir, id).map_err(ApiError::from)
}

/// One code set as the inventory lists it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetView {
    pub id: String,
    /// `generated` or `listed`.
    pub kind: &'static str,
    pub active: bool,
    /// Codes in the set: a campaign's count, or the listed codes (active and deactivated).
    pub codes: u64,
    pub deactivated: u64,
    /// The promotions this set unlocks (approved or live terms).
    pub promotions: Vec<String>,
    /// Orders the ledger committed with a promotion of this set (not reversed): the set's
    /// codes in use. `None` without a ledger, or when it cannot answer now.
    pub used: Option<u64>,
    pub summary: String,
}

fn count(b64: Option<&String>) -> u64 {
    use base64::Engine as _;
    b64.and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map_or(0, |bytes| {
            (bytes.len() / promoseal_evaluator::codes::HASH_LEN) as u64
        })
}

pub async fn list(state: &Shared) -> ApiResult<Vec<SetView>> {
    let project = state.reader.project()?;
    let sets = CodeSetFile::load_all(&project.dir)?;
    let orders = orders_by_promotion(state).await;
    Ok(sets
        .iter()
        .map(|f| {
            let (kind, codes, deactivated) = match &f.generated {
                Some(g) => ("generated", g.count, g.revoked.len() as u64),
                None => {
                    let off = count(f.deactivated.as_ref());
                    ("listed", count(f.hashes.as_ref()) + off, off)
                }
            };
            let promotions: Vec<String> = project
                .promotions
                .iter()
                .filter(|p| p.code_set.as_deref() == Some(f.id.as_str()))
                .map(|p| p.id.clone())
                .collect();
            SetView {
                id: f.id.clone(),
                kind,
                active: f.active,
                codes,
                deactivated,
                used: orders
                    .as_ref()
                    .map(|o| promotions.iter().filter_map(|p| o.get(p)).sum()),
                promotions,
                summary: f.summary(),
            }
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Generate {
    pub set: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
    pub count: u64,
    /// Characters of the random part (serial and check tag); default 10.
    #[serde(default)]
    pub length: Option<u32>,
}

/// A new generated campaign; its codes come back as CSV text, once.
pub async fn generate(state: &Shared, who: &Person, g: &Generate) -> ApiResult<String> {
    keeper(who)?;
    set_id_ok(&g.set)?;
    if g.count == 0 || g.count > MAX_GENERATE {
        return Err(ApiError::bad_request(format!("count: 1 to {MAX_GENERATE}")));
    }
    let secret = secret(state)?;
    let campaign = Campaign::new(
        &g.set,
        &g.prefix,
        &g.suffix,
        g.count,
        g.length.unwrap_or(10),
    )
    .map_err(|m| ApiError::bad_request(m.to_string()))?;
    let folder = state.folder.lock().await;
    if codeset::path(&folder.dir, &g.set).exists() {
        return Err(ApiError::conflict(
            ErrorCode::AlreadyExists,
            format!("code set `{}` exists already", g.set),
        ));
    }
    let mut csv = String::from("code\n");
    for code in secret.generate_all(&campaign) {
        csv.push_str(&code);
        csv.push('\n');
    }
    CodeSetFile::new_generated(&g.set, &campaign, &secret).save(&folder.dir)?;
    let now = state.now().0;
    audit::record(
        &state.db,
        now,
        &who.key_id,
        "codesGenerated",
        None,
        json!({ "set": g.set, "count": g.count, "prefix": g.prefix, "suffix": g.suffix }),
    )
    .await?;
    Ok(csv)
}

/// What an import did.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub read: usize,
    pub added: usize,
    pub duplicates: usize,
    /// The first rows that could not be used: `[row, why]`.
    pub skipped: Vec<(usize, String)>,
    pub skipped_total: usize,
    /// Codes left out because another set holds them: `[set, how many]` (a code belongs to one
    /// set).
    pub in_other_sets: Vec<(String, usize)>,
    pub summary: String,
}

/// Codes from an uploaded file (`filename` gives its type) into a listed set, created if new.
pub async fn import(
    state: &Shared,
    who: &Person,
    set: &str,
    filename: &str,
    column: Option<String>,
    bytes: &[u8],
) -> ApiResult<Imported> {
    keeper(who)?;
    set_id_ok(set)?;
    let ext = Path::new(filename)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("csv")
        .to_ascii_lowercase();
    if !["csv", "tsv", "txt", "xlsx", "xlsm", "xlsb", "xls", "ods"].contains(&ext.as_str()) {
        return Err(ApiError::bad_request(format!(
            "`{filename}`: unsupported file type (use .csv, .tsv, .txt, .xlsx, .xls or .ods)"
        )));
    }
    let secret = secret(state)?;
    // The reader works on files (spreadsheets need one): a private temporary file, removed
    // whatever happens.
    let tmp = std::env::temp_dir().join(format!(
        "promoseal-console-upload-{}.{ext}",
        crate::auth::random_token()?
    ));
    support::write_secret(&tmp, bytes)?;
    let read = read_codes(
        &tmp,
        &ImportOptions {
            column,
            sheet: None,
        },
    );
    let _ = std::fs::remove_file(&tmp);
    let read = read.map_err(|e| {
        let text = format!("{e:#}").replace(&tmp.display().to_string(), filename);
        ApiError::unprocessable(ErrorCode::InvalidRequest, text)
    })?;
    // Say why the rows were not codes, when some were refused.
    if let Some(why) = read.none_found(filename) {
        return Err(ApiError::unprocessable(ErrorCode::InvalidRequest, why));
    }
    let folder = state.folder.lock().await;
    let mut f = if codeset::path(&folder.dir, set).exists() {
        CodeSetFile::load(&folder.dir, set)?
    } else {
        CodeSetFile::new_listed(set, &secret)
    };
    let done = f
        .import_new(&CodeSetFile::load_all(&folder.dir)?, &secret, &read.codes)
        .map_err(|e| ApiError::conflict(ErrorCode::InvalidState, format!("{e:#}")))?;
    let added = done.added;
    f.save(&folder.dir)?;
    let now = state.now().0;
    audit::record(
        &state.db,
        now,
        &who.key_id,
        "codesImported",
        None,
        json!({ "set": set, "file": filename, "read": read.codes.len(), "added": added }),
    )
    .await?;
    Ok(Imported {
        read: read.codes.len(),
        added,
        duplicates: read.duplicates,
        skipped_total: read.skipped.len(),
        skipped: read.skipped.into_iter().take(20).collect(),
        in_other_sets: done.elsewhere,
        summary: f.summary(),
    })
}

/// A set as CSV: a campaign's codes with their status, a listed set's keyed hashes.
pub async fn export(state: &Shared, who: &Person, set: &str) -> ApiResult<String> {
    keeper(who)?;
    let f = load(&state.reader.dir, set)?;
    let secret = secret(state)?;
    let mut out = Vec::new();
    f.export(&secret, &mut out)
        .map_err(|e| ApiError::conflict(ErrorCode::InvalidState, format!("{e:#}")))?;
    let now = state.now().0;
    audit::record(
        &state.db,
        now,
        &who.key_id,
        "codesExported",
        None,
        json!({ "set": set }),
    )
    .await?;
    String::from_utf8(out).map_err(ApiError::internal)
}

/// What to deactivate or reactivate: some codes, or the whole set, said explicitly (a body
/// that forgot its codes must not switch a whole set off).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Codes {
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub whole_set: bool,
}

/// Deactivates (`on == false`) or reactivates codes, or the whole set, from the next release.
pub async fn set_active(
    state: &Shared,
    who: &Person,
    set: &str,
    req: &Codes,
    on: bool,
) -> ApiResult<Value> {
    keeper(who)?;
    let codes = req.codes.as_slice();
    if codes.is_empty() != req.whole_set {
        return Err(ApiError::bad_request(
            "give `codes` (the codes to change) or `wholeSet: true` (every code of the set), \
             one of the two",
        ));
    }
    if codes.len() > 10_000 {
        return Err(ApiError::bad_request("codes: at most 10,000 at once"));
    }
    let secret = secret(state)?;
    let folder = state.folder.lock().await;
    let mut f = load(&folder.dir, set)?;
    let changed = f
        .set_active(&secret, codes, on)
        .map_err(|e| ApiError::unprocessable(ErrorCode::InvalidRequest, format!("{e:#}")))?;
    f.save(&folder.dir)?;
    let now = state.now().0;
    audit::record(
        &state.db,
        now,
        &who.key_id,
        if on {
            "codesReactivated"
        } else {
            "codesDeactivated"
        },
        None,
        // The log names how many changed, never which: it holds no code.
        json!({ "set": set, "codes": changed, "wholeSet": codes.is_empty() }),
    )
    .await?;
    Ok(json!({
        "summary": f.summary(), "changed": changed,
        "effective": "from the next published version",
    }))
}

/// One code: the set that holds it and its status there in the project, whether the published
/// version accepts it now (the project's change takes effect from the next one), and its
/// redemptions at the ledger.
pub async fn lookup(state: &Shared, who: &Person, code: &str) -> ApiResult<Value> {
    keeper(who)?;
    if code.trim().is_empty() || code.len() > 128 {
        return Err(ApiError::bad_request("code: 1 to 128 characters"));
    }
    let secret = secret(state)?;
    let project = state.reader.project()?;
    let root = state.root()?;
    let normalized = normalize_code(code);
    // Which sets hold it, active or not, from the files themselves (one, unless sets made
    // before imports checked the others share it).
    let mut holders: Vec<(String, &'static str)> = Vec::new();
    for f in CodeSetFile::load_all(&project.dir)? {
        if let Some(status) = f.status_of(&secret, &normalized)? {
            holders.push((f.id.clone(), status.as_str()));
        }
    }
    let found = holders
        .iter()
        .find(|(_, s)| *s == "active")
        .or(holders.first())
        .cloned();
    // The published version: whether it accepts the code now (a change to the project takes
    // effect from the next one).
    let published = found.as_ref().and_then(|_| {
        let bytes = support::read(&project.dir.join("published/edge.bundle")).ok()?;
        let mut b = open_bundle(
            &bytes,
            &root,
            &VerifyOptions::new(Audience::Edge, state.now()),
        )
        .ok()?;
        b.set_code_secret(secret.clone());
        Some(b)
    });
    // The ledger knows a code by the keyed hash of its canonical spelling in the bundle.
    let redemptions = match (&state.settings.ledger_url, &published) {
        (Some(url), Some(b)) => {
            let hash = b.code_record(&secret, code);
            // A ledger that cannot answer leaves the rest of the lookup standing.
            Some(
                ledger_redemptions(state, url, &hash)
                    .await
                    .unwrap_or_else(|e| json!({ "unavailable": e.0.message })),
            )
        }
        _ => None,
    };
    // The promotions a set unlocks.
    let unlocking = |set: &str| -> Vec<&PromotionSpec> {
        project
            .promotions
            .iter()
            .filter(|p| p.code_set.as_deref() == Some(set))
            .collect()
    };
    let ids = |promotions: &[&PromotionSpec]| -> Vec<String> {
        promotions.iter().map(|p| p.id.clone()).collect()
    };
    // Uses the ledger holds (reserved or committed) against each promotion's limit per code.
    let live: Vec<&str> = redemptions
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| matches!(r["state"].as_str(), Some("reserved" | "committed")))
        .filter_map(|r| r["promotionId"].as_str())
        .collect();
    let uses_left = |promotions: &[&PromotionSpec]| -> serde_json::Map<String, Value> {
        promotions
            .iter()
            .filter_map(|p| {
                let limit = if p.limits.single_use_codes {
                    Some(1)
                } else {
                    p.limits.per_code
                }?;
                let used = live.iter().filter(|&&id| id == p.id).count() as u64;
                Some((p.id.clone(), json!(limit.saturating_sub(used))))
            })
            .collect()
    };
    Ok(match found {
        Some((set, status)) => {
            let unlocked = unlocking(&set);
            let left = uses_left(&unlocked);
            let promotions = ids(&unlocked);
            // Used up: every promotion it unlocks limits its uses per code, and none is left.
            let used_up = redemptions.is_some()
                && !promotions.is_empty()
                && promotions
                    .iter()
                    .all(|p| left.get(p).and_then(Value::as_u64) == Some(0));
            json!({
                "found": true, "set": set, "status": status,
                // `true`/`false`: whether the published version accepts it now; null: none is.
                "acceptedNow": published.as_ref().map(|b| b.knows_code(code)),
                "promotions": promotions,
                // Per promotion with a limit per code: the uses the ledger still allows.
                "usesLeft": left,
                "usedUp": used_up,
                "sets": holders.iter().map(|(set, status)| json!({
                    "set": set, "status": status, "promotions": ids(&unlocking(set)),
                })).collect::<Vec<_>>(),
                "redemptions": redemptions,
            })
        }
        None => json!({ "found": false }),
    })
}

/// Committed orders per promotion since the beginning, from the ledger's report.
async fn orders_by_promotion(state: &Shared) -> Option<std::collections::HashMap<String, u64>> {
    let url = state.settings.ledger_url.as_ref()?;
    let mut req = state.http.get(format!(
        "{}/v1/reports?by=promotion&from=1970-01-01T00:00:00Z",
        url.trim_end_matches('/')
    ));
    if let Some(token) = &state.settings.ledger_token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    let v: Value = res.json().await.ok()?;
    let mut out = std::collections::HashMap::new();
    for g in v.get("groups")?.as_array()? {
        if let (Some(key), Some(orders)) = (
            g.get("key").and_then(Value::as_str),
            g.get("orders").and_then(Value::as_u64),
        ) {
            *out.entry(key.to_string()).or_insert(0) += orders;
        }
    }
    Some(out)
}

async fn ledger_redemptions(state: &Shared, url: &str, hash: &str) -> ApiResult<Value> {
    let mut req = state.http.get(format!(
        "{}/v1/codes/{hash}/redemptions",
        url.trim_end_matches('/')
    ));
    if let Some(token) = &state.settings.ledger_token {
        req = req.bearer_auth(token);
    }
    let res = req
        .send()
        .await
        .map_err(|e| ApiError::internal(anyhow!("the ledger: {e}")))?;
    if !res.status().is_success() {
        return Err(ApiError::internal(anyhow!(
            "the ledger answered {}",
            res.status()
        )));
    }
    let v: Value = res
        .json()
        .await
        .map_err(|e| ApiError::internal(anyhow!("the ledger: {e}")))?;
    Ok(v.get("redemptions").cloned().unwrap_or(Value::Null))
}
