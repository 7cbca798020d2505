//! What each action does: the checks (the core's review of the terms, the core's judgement of
//! an approval, the tag an edit started from, the person's roles), the write to the project
//! folder, and the audit entry, in that order, under the folder's lock. The server re-checks
//! everything the page checked.
//!
//! States: a promotion with a draft is `draft` or `review` (the `reviews` table); once the
//! draft's approvals cover it, its terms replace the promotion's (`approved`); released, it
//! is `live` until it ends (`ended`); `paused` promotions are left out of releases.

use promoseal_authoring::review::{review, DraftError, Review};
use promoseal_evaluator::codes::encode_hex;
use promoseal_evaluator::model::{ApprovalSpec, BundlePayload, PromotionSpec};
use promoseal_evaluator::seal::{
    approval_digest, judge_approval, uncovered, ApprovalRefusal, TrustRoot,
};
use promoseal_evaluator::time::Instant;
use promoseal_signer::project::ApprovalRecord;
use promoseal_wire::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row as _;

use crate::audit;
use crate::auth::Person;
use crate::error::{ApiError, ApiResult};
use crate::folder::{Folder, Terms, WriteError};
use crate::Shared;

/// The longest comment, in characters.
pub const MAX_COMMENT: usize = 4000;

fn stale(e: WriteError) -> ApiError {
    match e {
        WriteError::Stale { current } => ApiError::conflict(
            ErrorCode::StaleEdit,
            "these terms changed since you opened them (in the console or the project folder): \
             reload, then apply your change again",
        )
        .with_detail(json!({ "current": current })),
        WriteError::Exists => ApiError::conflict(
            ErrorCode::AlreadyExists,
            "a promotion with this id exists: choose another id",
        ),
        WriteError::NotFound => ApiError::not_found("no such promotion"),
        WriteError::InvalidState(reason) => ApiError::conflict(ErrorCode::InvalidState, reason),
        WriteError::Io(e) => ApiError::from(e),
    }
}

/// [`stale`], with a missing promotion named by its id.
fn about(id: &str) -> impl Fn(WriteError) -> ApiError + '_ {
    move |e| match e {
        WriteError::NotFound => ApiError::not_found(format!("no promotion `{id}`")),
        e => stale(e),
    }
}

fn invalid(errors: Vec<DraftError>) -> ApiError {
    let first = errors
        .first()
        .map(|e| format!("{}: {}", e.path, e.message))
        .unwrap_or_default();
    ApiError::unprocessable(
        ErrorCode::InvalidPromotion,
        format!("the promotion cannot be saved: {first}"),
    )
    .with_detail(json!({ "errors": errors }))
}

/// The core's review of terms, natively: what the page showed, checked again.
pub fn check(state: &Shared, terms: &Value) -> ApiResult<(PromotionSpec, Review)> {
    let input = state.review_input(terms.clone())?;
    let r = review(&input).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let errors = r.errors.clone();
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let spec: PromotionSpec = serde_json::from_value(terms.clone()).map_err(|e| {
        invalid(vec![DraftError {
            path: "$".into(),
            message: e.to_string(),
        }])
    })?;
    Ok((spec, r))
}

async fn set_review_state(
    tx: &mut promoseal_db::Tx,
    id: &str,
    state: Option<&str>,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reviews WHERE promotion = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if let Some(s) = state {
        sqlx::query(
            "INSERT INTO reviews (promotion, state, updated_at, updated_by) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(s)
        .bind(at)
        .bind(by)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn review_state(state: &Shared, id: &str) -> ApiResult<Option<String>> {
    Ok(
        sqlx::query("SELECT state FROM reviews WHERE promotion = $1")
            .bind(id)
            .fetch_optional(state.db.reader())
            .await?
            .map(|r| r.try_get::<String, _>("state"))
            .transpose()?,
    )
}

/// The answer to a write: the terms' new tag and the review of them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    pub id: String,
    pub tag: String,
    pub state: String,
    pub digest: Option<String>,
}

/// A new promotion, as a draft.
pub async fn create(state: &Shared, who: &Person, terms: &Value) -> ApiResult<Saved> {
    who.require_writer()?;
    let (spec, r) = check(state, terms)?;
    let folder = state.folder.lock().await;
    let tag = folder.save_draft(&spec, None).map_err(stale)?;
    let now = state.now().0;
    let mut tx = state.db.begin().await?;
    set_review_state(&mut tx, &spec.id, Some("draft"), now, &who.key_id).await?;
    audit::append(
        &mut tx,
        now,
        &who.key_id,
        "created",
        Some(&spec.id),
        json!({ "tag": tag, "digest": r.digest, "terms": terms }),
    )
    .await?;
    tx.commit().await?;
    Ok(Saved {
        id: spec.id,
        tag,
        state: "draft".into(),
        digest: r.digest,
    })
}

/// New terms for a promotion (its draft, or a first draft of a change to approved terms),
/// if `base` is the tag of what the editor started from.
pub async fn save(
    state: &Shared,
    who: &Person,
    id: &str,
    terms: &Value,
    base: &str,
) -> ApiResult<Saved> {
    who.require_writer()?;
    if terms.get("id").and_then(Value::as_str) != Some(id) {
        return Err(invalid(vec![DraftError {
            path: "id".into(),
            message: format!("the id of a saved promotion cannot change (it is `{id}`)"),
        }]));
    }
    let (spec, r) = check(state, terms)?;
    let folder = state.folder.lock().await;
    let tag = folder.save_draft(&spec, Some(base)).map_err(stale)?;
    let now = state.now().0;
    let mut tx = state.db.begin().await?;
    // Changed terms go back to draft: approvals of the earlier terms are stale.
    set_review_state(&mut tx, id, Some("draft"), now, &who.key_id).await?;
    audit::append(
        &mut tx,
        now,
        &who.key_id,
        "edited",
        Some(id),
        json!({ "from": base, "tag": tag, "digest": r.digest, "terms": terms }),
    )
    .await?;
    tx.commit().await?;
    Ok(Saved {
        id: id.into(),
        tag,
        state: "draft".into(),
        digest: r.digest,
    })
}

fn draft_at(folder: &Folder, id: &str, base: &str) -> ApiResult<Terms> {
    folder.draft_at(id, base).map_err(about(id))
}

/// Sends a draft to review.
pub async fn submit(state: &Shared, who: &Person, id: &str, base: &str) -> ApiResult<Saved> {
    who.require_writer()?;
    let folder = state.folder.lock().await;
    let d = draft_at(&folder, id, base)?;
    let (_, r) = check(
        state,
        &serde_json::to_value(&d.spec).map_err(ApiError::internal)?,
    )?;
    let now = state.now().0;
    let mut tx = state.db.begin().await?;
    set_review_state(&mut tx, id, Some("review"), now, &who.key_id).await?;
    audit::append(
        &mut tx,
        now,
        &who.key_id,
        "submitted",
        Some(id),
        json!({ "tag": d.tag, "digest": r.digest }),
    )
    .await?;
    tx.commit().await?;
    Ok(Saved {
        id: id.into(),
        tag: d.tag,
        state: "review".into(),
        digest: r.digest,
    })
}

/// Withdraws a draft: the promotion keeps its approved terms, if it has any.
pub async fn withdraw(state: &Shared, who: &Person, id: &str, base: &str) -> ApiResult<()> {
    who.require_writer()?;
    let folder = state.folder.lock().await;
    folder.discard_draft(id, base).map_err(about(id))?;
    let now = state.now().0;
    let mut tx = state.db.begin().await?;
    set_review_state(&mut tx, id, None, now, &who.key_id).await?;
    audit::append(
        &mut tx,
        now,
        &who.key_id,
        "withdrawn",
        Some(id),
        json!({ "tag": base }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn comment(state: &Shared, who: &Person, id: &str, text: &str) -> ApiResult<()> {
    who.require_writer()?;
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_COMMENT {
        return Err(ApiError::bad_request(format!(
            "a comment is 1 to {MAX_COMMENT} characters"
        )));
    }
    if text.contains('\0') {
        return Err(ApiError::bad_request("a comment holds no NUL character"));
    }
    if state.reader.working(id)?.is_none() {
        return Err(ApiError::not_found(format!("no promotion `{id}`")));
    }
    let now = state.now().0;
    audit::record(
        &state.db,
        now,
        &who.key_id,
        "commented",
        Some(id),
        json!({ "text": text }),
    )
    .await?;
    Ok(())
}

/// An approval of a draft, signed in the approver's browser.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Approval {
    /// The tag of the draft the approver read.
    pub base: String,
    /// The approval digest the approver's page computed (hex): it must be the server's.
    pub digest: String,
    /// Standard base64 Ed25519 signature of the approval message over that digest.
    pub signature: String,
}

/// What an approval did.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Approved {
    /// The roles of the promotion's required set this approval counts for.
    pub counts_for: Vec<String>,
    /// Whether the approvals now cover the terms (they then replaced the promotion's terms).
    pub covered: bool,
    /// The first role still short, when not covered.
    pub waiting_for: Option<String>,
    pub state: String,
}

fn refusal(r: &ApprovalRefusal) -> ApiError {
    let status = match r {
        ApprovalRefusal::NotAnApprover { .. } | ApprovalRefusal::BeyondLimit => 403,
        _ => 422,
    };
    let reason = r.code();
    ApiError::new(
        status,
        ErrorCode::ApprovalRefused,
        format!("approval refused: {r}"),
    )
    .with_detail(json!({ "reason": reason }))
}

/// The approvals of a draft whose digest is its current one.
fn current_draft_approvals(
    folder: &Folder,
    id: &str,
    digest: &str,
) -> ApiResult<Vec<ApprovalSpec>> {
    Ok(folder
        .draft_approvals(id)?
        .into_iter()
        .filter(|(_, r)| r.digest == digest)
        .map(|(_, r)| r.approval)
        .collect())
}

/// Whether approvals cover a promotion, as a release would judge them.
fn coverage(
    root: &TrustRoot,
    currency: &str,
    spec: &PromotionSpec,
    approvals: Vec<ApprovalSpec>,
    now: Instant,
) -> Option<String> {
    let payload = BundlePayload {
        format: promoseal_evaluator::model::FORMAT_VERSION,
        bundle_id: "coverage".into(),
        audience: promoseal_evaluator::model::Audience::Edge,
        version: 1,
        issued_at: now,
        expires_at: now,
        currency: currency.into(),
        time_zone: None,
        pricing: Default::default(),
        code_sets: Vec::new(),
        promotions: vec![spec.clone()],
        approvals,
    };
    uncovered(root, &payload, now)
        .into_iter()
        .next()
        .map(|u| u.role)
}

pub async fn approve(state: &Shared, who: &Person, id: &str, a: &Approval) -> ApiResult<Approved> {
    let batch = Batch {
        items: vec![BatchItem {
            id: id.into(),
            base: a.base.clone(),
            digest: a.digest.clone(),
        }],
        signature: a.signature.clone(),
    };
    let mut done = approve_batch(state, who, &batch).await?;
    done.results.pop().map(|r| r.approved).ok_or_else(|| {
        ApiError::new(
            500,
            ErrorCode::Internal,
            "an approval of one promotion approved none",
        )
    })
}

/// Approvals of several drafts at once, signed in the approver's browser as one batch: one
/// signature over the Merkle root of their approval digests (`seal::approval_root`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Batch {
    /// The drafts approved, each as the approver read it. At most [`MAX_BATCH`].
    pub items: Vec<BatchItem>,
    /// Standard base64 Ed25519 signature of the approval message over the batch's root.
    pub signature: String,
}

/// Most drafts one batch approves in the console.
pub const MAX_BATCH: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BatchItem {
    pub id: String,
    /// The tag of the draft the approver read.
    pub base: String,
    /// The approval digest the approver's page computed (hex): it must be the server's.
    pub digest: String,
}

/// What a batch did, promotion by promotion, in the order given.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchApproved {
    pub results: Vec<BatchResult>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    pub id: String,
    #[serde(flatten)]
    pub approved: Approved,
}

/// Approves drafts in one batch: every one must be in review and read as it is (its digest the
/// server's), the signature the key's over exactly their digests, and the key an approver the
/// promotion needs within its limits. Any refusal refuses the whole batch, naming the promotion;
/// nothing is recorded then. Each promotion whose approvals are then complete is approved.
pub async fn approve_batch(state: &Shared, who: &Person, b: &Batch) -> ApiResult<BatchApproved> {
    if b.items.is_empty() || b.items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "a batch approves 1 to {MAX_BATCH} promotions, not {}",
            b.items.len()
        )));
    }
    let folder = state.folder.lock().await;
    let project = folder.project()?;
    let currency = project.config.currency.clone();
    let mut drafts = Vec::with_capacity(b.items.len());
    for item in &b.items {
        if drafts
            .iter()
            .any(|(i, _, _): &(&BatchItem, Terms, String)| i.id == item.id)
        {
            return Err(ApiError::bad_request(format!(
                "`{}` is in the batch twice",
                item.id
            )));
        }
        // A refusal names the promotion of the batch it is about.
        let d = draft_at(&folder, &item.id, &item.base).map_err(|e| {
            let mut detail = e.0.detail.clone().unwrap_or_else(|| json!({}));
            if let Some(fields) = detail.as_object_mut() {
                fields.insert("promotion".into(), json!(item.id));
            }
            ApiError::new(
                e.0.status,
                e.0.code,
                format!("`{}`: {}", item.id, e.0.message),
            )
            .with_detail(detail)
        })?;
        if review_state(state, &item.id).await?.as_deref() != Some("review") {
            return Err(ApiError::conflict(
                ErrorCode::InvalidState,
                format!(
                    "`{}`: only terms in review can be approved: submit the draft first",
                    item.id
                ),
            ));
        }
        let digest = encode_hex(&approval_digest(&currency, &d.spec));
        if !item.digest.eq_ignore_ascii_case(&digest) {
            return Err(ApiError::conflict(
                ErrorCode::StaleEdit,
                format!(
                    "`{}`: the terms you approved are not the terms under review: reload and \
                     read them again",
                    item.id
                ),
            )
            .with_detail(json!({ "promotion": item.id, "current": d.tag })));
        }
        drafts.push((item, d, digest));
    }
    let mut digests: Vec<String> = drafts.iter().map(|(_, _, d)| d.clone()).collect();
    digests.sort_unstable();
    digests.dedup();
    let approval = ApprovalSpec {
        key_id: who.key_id.clone(),
        digests,
        signature: b.signature.clone(),
    };
    let root = folder.root()?;
    let now = state.now();
    let mut counts = Vec::with_capacity(drafts.len());
    for (item, d, _) in &drafts {
        let roles = judge_approval(&root, &currency, &d.spec, &approval, now).map_err(|r| {
            let e = refusal(&r);
            // The signature is the batch's: a bad one is not about one of its promotions.
            let message = if matches!(r, ApprovalRefusal::BadSignature) {
                format!("the batch's one signature: {}", e.0.message)
            } else {
                format!("`{}`: {}", item.id, e.0.message)
            };
            ApiError::new(e.0.status, ErrorCode::ApprovalRefused, message)
                .with_detail(json!({ "reason": r.code(), "promotion": item.id }))
        })?;
        counts.push(roles);
    }
    let mut results = Vec::with_capacity(drafts.len());
    let mut tx = state.db.begin().await?;
    for ((item, d, digest), counts_for) in drafts.iter().zip(counts) {
        let id = item.id.as_str();
        folder.add_draft_approval(&ApprovalRecord {
            promotion: id.into(),
            approval: approval.clone(),
            digest: digest.clone(),
            approved_at: now.to_string(),
        })?;
        let approvals = current_draft_approvals(&folder, id, digest)?;
        let waiting_for = coverage(&root, &currency, &d.spec, approvals, now);
        let covered = waiting_for.is_none();
        audit::append(
            &mut tx,
            now.0,
            &who.key_id,
            "approved",
            Some(id),
            json!({
                "keyId": who.key_id, "digest": digest, "signature": b.signature,
                "batch": approval.digests.len(), "roles": counts_for,
            }),
        )
        .await?;
        if covered {
            folder.promote(id, &d.tag).map_err(stale)?;
            set_review_state(&mut tx, id, None, now.0, &who.key_id).await?;
            audit::append(
                &mut tx,
                now.0,
                "console",
                "approvalsComplete",
                Some(id),
                json!({ "digest": digest }),
            )
            .await?;
        }
        results.push(BatchResult {
            id: id.into(),
            approved: Approved {
                counts_for,
                covered,
                waiting_for,
                state: if covered { "approved" } else { "review" }.into(),
            },
        });
    }
    tx.commit().await?;
    Ok(BatchApproved { results })
}

/// One promotion as the list shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub id: String,
    pub name: String,
    /// draft, review, approved, live, ended or paused.
    pub state: String,
    /// The state of a pending change to approved terms (`draft` or `review`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// The tag an edit starts from.
    pub tag: String,
}

fn settled_state(
    t: &Terms,
    published: Option<&crate::folder::Published>,
    currency: &str,
    now: Instant,
) -> &'static str {
    if t.spec.ends_at.is_some_and(|e| e <= now) {
        return "ended";
    }
    let digest = encode_hex(&approval_digest(currency, &t.spec));
    match published.and_then(|p| p.digest_of(&t.spec.id)) {
        Some(d) if d == digest => "live",
        _ => "approved",
    }
}

pub async fn list(state: &Shared) -> ApiResult<Vec<Summary>> {
    let folder = &state.reader;
    let project = folder.project()?;
    let root = folder.root()?;
    let now = state.now();
    let published = folder.published(&root, now)?;
    let reviews: Vec<(String, String)> = sqlx::query("SELECT promotion, state FROM reviews")
        .fetch_all(state.db.reader())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("promotion")?, r.try_get("state")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let review_of = |id: &str| {
        reviews
            .iter()
            .find(|(p, _)| p == id)
            .map_or("draft".to_string(), |(_, s)| s.clone())
    };
    let mut out: Vec<Summary> = Vec::new();
    let drafts = folder.drafts()?;
    for t in folder.current()? {
        let change = drafts
            .iter()
            .any(|d| d.spec.id == t.spec.id)
            .then(|| review_of(&t.spec.id));
        out.push(Summary {
            state: settled_state(&t, published.as_ref(), &project.config.currency, now).into(),
            id: t.spec.id,
            name: t.spec.name,
            change,
            tag: t.tag,
        });
    }
    for t in folder.paused()? {
        let change = drafts
            .iter()
            .any(|d| d.spec.id == t.spec.id)
            .then(|| review_of(&t.spec.id));
        out.push(Summary {
            id: t.spec.id,
            name: t.spec.name,
            state: "paused".into(),
            change,
            tag: t.tag,
        });
    }
    for d in drafts {
        if out.iter().any(|s| s.id == d.spec.id) {
            continue;
        }
        out.push(Summary {
            state: review_of(&d.spec.id),
            id: d.spec.id,
            name: d.spec.name,
            change: None,
            tag: d.tag,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Everything about one promotion: its working terms (draft, else approved, else paused),
/// the approved terms it would replace, approvals with whether each is current, the review,
/// and its history.
pub async fn detail(state: &Shared, id: &str) -> ApiResult<Value> {
    let folder = &state.reader;
    let working = folder
        .working(id)?
        .ok_or_else(|| ApiError::not_found(format!("no promotion `{id}`")))?;
    let project = folder.project()?;
    let currency = &project.config.currency;
    let digest = encode_hex(&approval_digest(currency, &working.spec));
    let draft = folder.draft(id)?;
    let current = folder.current_of(id)?;
    let paused = folder.paused_of(id)?;
    let approvals = if draft.is_some() {
        folder.draft_approvals(id)?
    } else if paused.is_some() {
        folder.paused_approvals(id)?
    } else {
        folder.current_approvals(id)?
    };
    let root = folder.root()?;
    let now = state.now();
    let published = folder.published(&root, now)?;
    let state_name = match (&draft, &paused) {
        (Some(_), _) => review_state(state, id)
            .await?
            .unwrap_or_else(|| "draft".into()),
        (None, Some(_)) => "paused".into(),
        (None, None) => settled_state(&working, published.as_ref(), currency, now).into(),
    };
    let input =
        state.review_input(serde_json::to_value(&working.spec).map_err(ApiError::internal)?)?;
    let r = review(&input).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let approvals: Vec<Value> = approvals
        .into_iter()
        .map(|(_, rec)| {
            json!({
                "keyId": rec.approval.key_id,
                "approvedAt": rec.approved_at,
                "digest": rec.digest,
                "current": rec.digest == digest,
            })
        })
        .collect();
    let history = audit::entries(&state.db, Some(id)).await?;
    let paused_now = current.is_none() && paused.is_some();
    let settled = current.or(paused);
    Ok(json!({
        "id": id,
        "state": state_name,
        "tag": working.tag,
        "terms": working.spec,
        "approvedTerms": settled.as_ref().map(|t| &t.spec),
        // What pausing or resuming starts from, and where the approved terms stand, when a
        // change is pending.
        "approvedTag": settled.as_ref().map(|t| &t.tag),
        "approvedState": settled.as_ref().map(|t| if paused_now { "paused" } else {
            settled_state(t, published.as_ref(), currency, now)
        }),
        "hasDraft": draft.is_some(),
        "digest": digest,
        "approvals": approvals,
        "review": r,
        "publishedVersion": published.as_ref().map(|p| p.version),
        "history": history,
    }))
}

/// Takes approved terms out of releases (or puts them back) and publishes at once: a paused
/// promotion stops at the edge and the ledger with the next version.
pub async fn pause(
    state: &Shared,
    who: &Person,
    id: &str,
    base: &str,
    paused: bool,
) -> ApiResult<crate::publish::Release> {
    crate::publish::release_key(state, who, "pausing and resuming")?;
    let _one = state.releasing.lock().await;
    {
        let folder = state.folder.lock().await;
        folder.set_paused(id, paused, base).map_err(about(id))?;
        let action = if paused { "paused" } else { "resumed" };
        audit::record(
            &state.db,
            state.now().0,
            &who.key_id,
            action,
            Some(id),
            json!({ "tag": base }),
        )
        .await?;
    }
    crate::publish::release(state, who, if paused { "pause" } else { "resume" }).await
}

/// Rolls back to the terms of an earlier release by publishing them as a new version (the
/// edge and the ledger refuse a lower version: rollback is forward). The earlier release is
/// verified against the root as of when it was released.
pub async fn rollback(
    state: &Shared,
    who: &Person,
    version: u64,
) -> ApiResult<crate::publish::Release> {
    crate::publish::release_key(state, who, "rolling back")?;
    let _one = state.releasing.lock().await;
    let log = audit::entries(&state.db, None).await?;
    // When it was released: the console's log, else now (a release the CLI made recently).
    let released_at = log
        .iter()
        .rev()
        .find(|e| e.action == "published" && e.detail.get("version") == Some(&json!(version)))
        .map_or(state.now(), |e| Instant(e.at));
    // When each key approved each set of terms, as the log recorded it (the latest entry of
    // each, read in one pass).
    let approvals: std::collections::HashMap<(&str, &str, &str), i64> = log
        .iter()
        .filter(|e| e.action == "approved")
        .filter_map(|e| {
            let key = e.detail.get("keyId")?.as_str()?;
            let digest = e.detail.get("digest")?.as_str()?;
            Some(((e.promotion.as_deref()?, key, digest), e.at))
        })
        .collect();
    let approved_at = |promotion: &str, key: &str, digest: &str| {
        approvals
            .get(&(promotion, key, digest))
            .map(|&at| Instant(at).to_string())
    };
    {
        let folder = state.folder.lock().await;
        if !folder
            .dir
            .join(format!("published/edge-v{version}.bundle"))
            .exists()
        {
            return Err(ApiError::not_found(format!("no release version {version}")));
        }
        let root = folder.root()?;
        if let Some(p) = folder.published(&root, state.now())? {
            if version >= p.version {
                return Err(ApiError::conflict(
                    ErrorCode::InvalidState,
                    format!(
                        "version {version} is the current version: roll back to an earlier one"
                    ),
                ));
            }
        }
        let r = folder
            .restore(&root, version, released_at, &approved_at)
            .map_err(|e| ApiError::conflict(ErrorCode::InvalidState, format!("{e:#}")))?;
        let now = state.now().0;
        let mut tx = state.db.begin().await?;
        audit::append(
            &mut tx,
            now,
            &who.key_id,
            "rolledBack",
            None,
            json!({ "to": version, "restored": r.restored, "paused": r.paused }),
        )
        .await?;
        // Each promotion the rollback changed says so in its own history.
        for (id, outcome) in r
            .changed
            .iter()
            .map(|id| (id, "restored"))
            .chain(r.paused.iter().map(|id| (id, "paused")))
        {
            audit::append(
                &mut tx,
                now,
                &who.key_id,
                "rolledBack",
                Some(id),
                json!({ "to": version, "outcome": outcome }),
            )
            .await?;
        }
        tx.commit().await?;
    }
    crate::publish::release(state, who, &format!("rollback to version {version}")).await
}
