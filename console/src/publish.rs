//! Releases: the next version of the shop's edge and storefront bundles, signed on the server
//! with its release key by the CLI's own release procedure (`promoseal_signer::commands::sign::
//! release`: it refuses promotions whose approvals do not cover them, as every verifier would),
//! then pushed to the ledger (`POST /v1/bundles`) and to the edge's KV (the local workerd's
//! persistence through `wrangler kv bulk put --local`, or Cloudflare's API). After a push the
//! console measures how long the edge takes to serve the new version.

use std::time::{Duration, Instant as Clock};

use anyhow::{anyhow, bail, Context as _, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use promoseal_evaluator::codes::encode_hex;
use promoseal_evaluator::seal::SigningIdentity;
use promoseal_signer::commands::sign::{release as sign_release, Released};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit;
use crate::auth::{can, Person};
use crate::error::{ApiError, ApiResult};
use crate::Shared;
use promoseal_wire::ErrorCode;

/// What a release did.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub version: u64,
    pub promotions: usize,
    /// Where the bundles went: `ledger`, `edge`.
    pub pushed: Vec<String>,
    /// Pushes that failed (the release is signed and kept; push again with the next one).
    pub failed: Vec<String>,
}

/// The server's release key, for a person who may publish (the `release` role).
pub fn release_key<'a>(
    state: &'a Shared,
    who: &Person,
    what: &str,
) -> ApiResult<&'a SigningIdentity> {
    who.require(can::PUBLISH, what)?;
    state.release_key.as_ref().ok_or_else(|| {
        ApiError::new(
            503,
            ErrorCode::Misconfigured,
            "the console has no release key (--release-key): nothing can be published",
        )
    })
}

/// Signs and pushes the next release, after any release under way ([`crate::State::releasing`]).
pub async fn publish(state: &Shared, who: &Person) -> ApiResult<Release> {
    release_key(state, who, "publishing")?;
    let _one = state.releasing.lock().await;
    release(state, who, "publish").await
}

/// Signs and pushes the next release; the caller holds [`crate::State::releasing`]. `why` goes
/// into the audit log (`publish`, `pause`, …).
pub async fn release(state: &Shared, who: &Person, why: &str) -> ApiResult<Release> {
    let key = release_key(state, who, "publishing")?;
    let folder = state.folder.lock().await;
    let project = folder.project()?;
    let root = folder.root()?;
    let now = state.now();
    let released: Released = sign_release(&project, &root, std::slice::from_ref(key), now)
        .map_err(|e| {
            ApiError::conflict(
                ErrorCode::InvalidState,
                format!("nothing was published: {e:#}"),
            )
        })?;
    drop(folder);
    let bundle_id = project.config.bundle_id.clone();
    let mut pushed = Vec::new();
    let mut failed = Vec::new();
    let edge_bundle = released
        .bundles
        .first()
        .map(|b| b.sealed.clone())
        .unwrap_or_default();
    let storefront = released
        .bundles
        .get(1)
        .map(|b| b.sealed.clone())
        .unwrap_or_default();
    let storefront_bytes = storefront.clone();
    if let Some(url) = &state.settings.ledger_url {
        match push_ledger(state, url, &edge_bundle).await {
            Ok(()) => pushed.push("ledger".to_string()),
            Err(e) => failed.push(format!("ledger: {e:#}")),
        }
    }
    if let Some(target) = &state.settings.edge_kv {
        let entries = [
            (format!("edge/{bundle_id}"), edge_bundle),
            (format!("storefront/{bundle_id}"), storefront.clone()),
        ];
        match push_edge(state, target, &entries).await {
            Ok(()) => pushed.push("edge".to_string()),
            Err(e) => failed.push(format!("edge: {e:#}")),
        }
    }
    let promotions = released.bundles.first().map_or(0, |b| b.promotions);
    audit::record(
        &state.db,
        now.0,
        &who.key_id,
        "published",
        None,
        json!({
            "version": released.version, "why": why, "promotions": promotions,
            "pushed": pushed, "failed": failed,
        }),
    )
    .await?;
    for f in &failed {
        tracing::warn!(version = released.version, "push failed: {f}");
    }
    if pushed.iter().any(|p| p == "edge") {
        if let Some(edge) = state.settings.edge_url.clone() {
            // The edge's ETag is the SHA-256 of the signed bytes it serves.
            let etag = encode_hex(Sha256::digest(&storefront_bytes).as_slice());
            tokio::spawn(measure(
                state.clone(),
                edge,
                bundle_id,
                released.version,
                etag,
            ));
        }
    }
    Ok(Release {
        version: released.version,
        promotions,
        pushed,
        failed,
    })
}

/// The current release and the history of releases (`GET /api/releases`).
pub async fn overview(state: &Shared) -> ApiResult<serde_json::Value> {
    let entries = audit::entries(&state.db, None).await?;
    let history: Vec<&audit::Entry> = entries
        .iter()
        .filter(|e| e.action == "published" || e.action == "servedAtEdge")
        .collect();
    let root = state.root()?;
    let published = state.reader.published(&root, state.now())?;
    Ok(json!({
        "current": published.map(|p| json!({
            "version": p.version, "issuedAt": p.issued_at, "promotions": p.digests.len(),
        })),
        "canPublish": state.release_key.is_some(),
        "history": history,
    }))
}

async fn push_ledger(state: &Shared, url: &str, bundle: &[u8]) -> Result<()> {
    let mut req = state
        .http
        .post(format!("{}/v1/bundles", url.trim_end_matches('/')))
        .header("content-type", "application/octet-stream")
        .body(bundle.to_vec());
    if let Some(token) = &state.settings.ledger_token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await?;
    if !res.status().is_success() {
        bail!("{}: {}", res.status(), res.text().await.unwrap_or_default());
    }
    Ok(())
}

/// `local:DIR` or `cloudflare:ACCOUNT/NAMESPACE`.
async fn push_edge(state: &Shared, target: &str, entries: &[(String, Vec<u8>)]) -> Result<()> {
    if let Some(dir) = target.strip_prefix("local:") {
        let list: Vec<_> = entries
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": STANDARD.encode(v), "base64": true }))
            .collect();
        let file =
            std::path::Path::new(dir).join(format!("console-release-{}.json", std::process::id()));
        tokio::fs::write(&file, serde_json::to_vec(&list)?).await?;
        let out = tokio::process::Command::new(&state.settings.wrangler)
            .args(["kv", "bulk", "put"])
            .arg(&file)
            .args([
                "--binding",
                "BUNDLES",
                "--local",
                "--persist-to",
                dir,
                "--config",
            ])
            .arg(&state.settings.wrangler_config)
            .output()
            .await
            .with_context(|| format!("cannot run {}", state.settings.wrangler.display()))?;
        let _ = tokio::fs::remove_file(&file).await;
        if !out.status.success() {
            bail!(
                "wrangler kv bulk put: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    } else if let Some(rest) = target.strip_prefix("cloudflare:") {
        let (account, namespace) = rest
            .split_once('/')
            .ok_or_else(|| anyhow!("--edge-kv cloudflare:ACCOUNT_ID/NAMESPACE_ID"))?;
        let token = std::env::var("CLOUDFLARE_API_TOKEN")
            .context("CLOUDFLARE_API_TOKEN is needed to write Workers KV")?;
        for (key, value) in entries {
            let url = format!(
                "https://api.cloudflare.com/client/v4/accounts/{account}/storage/kv/namespaces/{namespace}/values/{}",
                key.replace('/', "%2F")
            );
            let res = state
                .http
                .put(url)
                .bearer_auth(&token)
                .body(value.clone())
                .send()
                .await?;
            if !res.status().is_success() {
                bail!("Cloudflare KV {key}: {}", res.status());
            }
        }
        Ok(())
    } else {
        bail!("--edge-kv is local:DIR or cloudflare:ACCOUNT_ID/NAMESPACE_ID, not `{target}`")
    }
}

/// Polls the edge until it serves the released storefront bundle (its `ETag` is the SHA-256 of
/// the signed bytes) for at most two minutes, and logs how long that took from the push: the
/// publish-to-edge latency.
async fn measure(state: Shared, edge: String, bundle_id: String, version: u64, etag: String) {
    let started = Clock::now();
    let url = format!(
        "{}/v1/bundle/storefront?bundle={bundle_id}",
        edge.trim_end_matches('/')
    );
    while started.elapsed() < Duration::from_secs(120) {
        if let Ok(res) = state.http.get(&url).send().await {
            let served = res
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains(&etag));
            if served {
                let ms = started.elapsed().as_millis() as u64;
                tracing::info!(version, ms, "the edge serves the new version");
                if let Ok(mut tx) = state.db.begin().await {
                    let at = state.now().0;
                    let ok = audit::append(
                        &mut tx,
                        at,
                        "console",
                        "servedAtEdge",
                        None,
                        json!({ "version": version, "afterMs": ms }),
                    )
                    .await
                    .is_ok();
                    if ok {
                        let _ = tx.commit().await;
                    }
                }
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tracing::warn!(
        version,
        "the edge did not serve the new version within two minutes"
    );
}
