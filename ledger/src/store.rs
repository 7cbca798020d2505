//! The write half of a redemption: one transaction holds the idempotency claim, every counter
//! increment (conditional upserts, never read-then-write), the redemption rows, the event row
//! and the stored answer. A refusal rolls back to a savepoint and still records its event and
//! its answer, so a replay of the same request gets the same answer.

use axum::http::StatusCode;
use promoseal_evaluator::model::Reversal;
use promoseal_evaluator::money::format_minor;
use promoseal_evaluator::time::Instant;
use promoseal_wire::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row as _};

use crate::db::{is_transient, is_unique_violation, Db, Tx};
use crate::error::ApiError;
use crate::redeem::{Attempt, Increment, Plan};

/// How many times a transaction that lost a lock race or a deadlock is retried.
const RETRIES: u32 = 8;

/// The writes that take an `Idempotency-Key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Reserve,
    Redeem,
    Commit,
    Release,
    Reverse,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Reserve => "reserve",
            Op::Redeem => "redeem",
            Op::Commit => "commit",
            Op::Release => "release",
            Op::Reverse => "reverse",
        }
    }
}

/// An answer: a status and its JSON body, exactly as first given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
    pub replayed: bool,
}

impl Answer {
    fn of_error(e: &ApiError) -> Answer {
        Answer {
            status: e.status(),
            body: e.body().to_string(),
            replayed: false,
        }
    }
}

/// SHA-256 of an operation's canonical request: what a replay must match.
pub fn request_hash(op: Op, target: &str, canonical: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(op.as_str().as_bytes());
    h.update([0]);
    h.update(target.as_bytes());
    h.update([0]);
    h.update(canonical);
    promoseal_evaluator::codes::encode_hex(&h.finalize())
}

enum Claim {
    New,
    Replay(Answer),
    Reused,
}

async fn claim(
    tx: &mut AnyConnection,
    op: Op,
    key: &str,
    hash: &str,
    now: i64,
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency (op, key, request_hash, status, response, created_at) \
         VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (op, key) DO NOTHING",
    )
    .bind(op.as_str())
    .bind(key)
    .bind(hash)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let row = sqlx::query(
        "SELECT i.request_hash, i.status, i.response, i.receipt_at, r.receipt \
         FROM idempotency i LEFT JOIN redemptions r ON r.id = i.receipt_of \
         WHERE i.op = $1 AND i.key = $2",
    )
    .bind(op.as_str())
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    let stored: String = row.try_get("request_hash")?;
    if stored != hash {
        return Ok(Claim::Reused);
    }
    let status: i64 = row.try_get("status")?;
    let response: String = row.try_get("response")?;
    let body = match row.try_get::<Option<i64>, _>("receipt_at")? {
        None => response,
        Some(at) => {
            let receipt: Option<String> = row.try_get("receipt")?;
            let parts = usize::try_from(at)
                .ok()
                .and_then(|at| Some((response.get(..at)?, response.get(at..)?)));
            let (Some(receipt), Some((before, after))) = (receipt, parts) else {
                return Err(sqlx::Error::Decode(
                    format!(
                        "the stored answer to {} `{key}` lost its receipt",
                        op.as_str()
                    )
                    .into(),
                ));
            };
            [before, receipt.as_str(), after].concat()
        }
    };
    Ok(Claim::Replay(Answer {
        status: u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
        replayed: true,
    }))
}

/// An answer as the idempotency table keeps it: an answer that shows a redemption, without the
/// receipt the redemption row keeps anyway (`receipt_of` names the row, `receipt_at` is where it
/// goes back, byte for byte, on a replay); any other answer whole.
struct Kept<'a> {
    response: std::borrow::Cow<'a, str>,
    receipt_of: Option<&'a str>,
    receipt_at: Option<i64>,
}

impl<'a> Kept<'a> {
    /// `shows`: the redemption the answer shows, and its receipt as stored.
    fn of(answer: &'a Answer, shows: Option<(&'a str, &str)>) -> Kept<'a> {
        let whole = Kept {
            response: std::borrow::Cow::Borrowed(&answer.body),
            receipt_of: None,
            receipt_at: None,
        };
        let Some((id, receipt)) = shows.filter(|(_, r)| !r.is_empty()) else {
            return whole;
        };
        // The receipt is the value of the top-level `receipt`, the only unescaped `"receipt":`
        // (the user's strings before it have their quotes escaped).
        const KEY: &str = "\"receipt\":";
        let body = answer.body.as_str();
        let Some(at) = body.find(KEY).map(|k| k + KEY.len()) else {
            return whole;
        };
        let (Some(before), Some(after), Ok(receipt_at)) = (
            body.get(..at),
            body.get(at..).and_then(|rest| rest.strip_prefix(receipt)),
            i64::try_from(at),
        ) else {
            return whole;
        };
        Kept {
            response: std::borrow::Cow::Owned([before, after].concat()),
            receipt_of: Some(id),
            receipt_at: Some(receipt_at),
        }
    }
}

async fn remember(
    tx: &mut AnyConnection,
    op: Op,
    key: &str,
    answer: &Answer,
    shows: Option<(&str, &str)>,
) -> Result<(), sqlx::Error> {
    let kept = Kept::of(answer, shows);
    sqlx::query(
        "UPDATE idempotency SET status = $1, response = $2, receipt_of = $3, receipt_at = $4 \
         WHERE op = $5 AND key = $6",
    )
    .bind(i64::from(answer.status.as_u16()))
    .bind(kept.response.as_ref())
    .bind(kept.receipt_of)
    .bind(kept.receipt_at)
    .bind(op.as_str())
    .bind(key)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One row of the event log.
#[derive(Clone, Debug, Default)]
pub struct Event {
    pub at: i64,
    pub op: &'static str,
    pub accepted: bool,
    pub reason: Option<String>,
    pub redemption_id: Option<String>,
    pub order_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub attempt: Attempt,
    pub promotions: Vec<String>,
    pub bundle_version: Option<u64>,
    pub ledger_discount: Option<i64>,
    pub total: Option<i64>,
    pub detail: Option<Value>,
}

async fn record(tx: &mut AnyConnection, e: &Event) -> Result<(), sqlx::Error> {
    record_all(tx, std::slice::from_ref(e)).await
}

/// `($1, $2, …), ($k, …), …`: the placeholders of `rows` rows of `columns` values each.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::new();
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", r * columns + c + 1));
        }
        out.push(')');
    }
    out
}

/// Appends events to the log, in one statement.
async fn record_all(tx: &mut AnyConnection, events: &[Event]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let join = |v: &[String]| (!v.is_empty()).then(|| v.join(" "));
    let sql = format!(
        "INSERT INTO events (at, op, outcome, reason, redemption_id, order_id, idempotency_key, \
         customer_id, email, ip, channel, codes, promotions, bundle_version, client_discount, \
         ledger_discount, total, detail) VALUES {}",
        placeholders(events.len(), 18)
    );
    let mut q = sqlx::query(&sql);
    for e in events {
        q = q
            .bind(e.at)
            .bind(e.op)
            .bind(if e.accepted { "accepted" } else { "refused" })
            .bind(e.reason.clone())
            .bind(e.redemption_id.clone())
            .bind(e.order_id.clone())
            .bind(e.idempotency_key.clone())
            .bind(e.attempt.customer_id.clone())
            .bind(e.attempt.email.clone())
            .bind(e.attempt.ip.clone())
            .bind(e.attempt.channel.clone())
            .bind(join(&e.attempt.codes))
            .bind(join(&e.promotions))
            .bind(e.bundle_version.and_then(|v| i64::try_from(v).ok()))
            .bind(e.attempt.client_discount)
            .bind(e.ledger_discount)
            .bind(e.total)
            .bind(e.detail.as_ref().map(Value::to_string));
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// A fresh redemption id: `rdm_` and 24 hex digits of randomness.
pub fn new_id() -> Result<String, ApiError> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(ApiError::internal)?;
    Ok(format!(
        "rdm_{}",
        promoseal_evaluator::codes::encode_hex(&b)
    ))
}

/// What a reserve or redeem request asks for, decided (or refused) before the transaction.
pub struct Redemption {
    pub op: Op,
    pub key: String,
    pub hash: String,
    pub order_id: String,
    pub bundle_id: String,
    pub bundle_version: u64,
    pub attempt: Attempt,
    pub plan: Result<Plan, ApiError>,
    /// Reservations: when the hold lapses.
    pub expires_at: Option<i64>,
}

enum Applied {
    Done(String),
    Refused(ApiError),
}

/// Ends a write transaction: commits a success; rolls back and asks for a retry (after a short
/// backoff) when the failure was transient (a lock wait that timed out, a deadlock victim, a
/// serialization failure); otherwise fails. `None` means "run it again".
async fn settle<T>(
    tx: Tx,
    result: Result<T, sqlx::Error>,
    attempt: &mut u32,
) -> Result<Option<T>, ApiError> {
    let error = match result {
        Ok(v) => match tx.commit().await {
            Ok(()) => return Ok(Some(v)),
            Err(e) => e,
        },
        Err(e) => {
            let _ = tx.rollback().await;
            e
        }
    };
    if !is_transient(&error) || *attempt >= RETRIES {
        return Err(error.into());
    }
    *attempt += 1;
    tokio::time::sleep(std::time::Duration::from_millis(2 << (*attempt).min(6))).await;
    Ok(None)
}

/// Runs `$body`, an expression over the write transaction `$tx`, and settles it: commits a
/// success, runs it again on a transient failure, fails otherwise.
macro_rules! write_tx {
    ($db:expr, $tx:ident => $body:expr) => {{
        let mut attempt = 0;
        loop {
            let mut $tx = $db.begin().await?;
            let result = $body;
            if let Some(v) = settle($tx, result, &mut attempt).await? {
                break v;
            }
        }
    }};
}

impl Db {
    /// Releases lapsed reservations (state `expired`, counters given back) and forgets
    /// idempotency keys older than `retain` seconds. Returns the reservations released.
    pub async fn sweep(&self, now: i64) -> Result<u64, ApiError> {
        Ok(write_tx!(self, tx => sweep_tx(&mut tx, now).await))
    }

    /// Forgets idempotency keys claimed before `before`.
    pub async fn forget_keys(&self, before: i64) -> Result<u64, ApiError> {
        Ok(
            write_tx!(self, tx => sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
                .bind(before)
                .execute(&mut *tx)
                .await
                .map(|r| r.rows_affected())),
        )
    }

    /// Commit, release or reverse one redemption.
    pub async fn transition(&self, t: &Transition<'_>, now: i64) -> Result<Answer, ApiError> {
        Ok(write_tx!(self, tx => transition_tx(&mut tx, t, now).await))
    }

    /// The redemption as `GET /v1/redemptions/{id}` shows it.
    pub async fn redemption(&self, id: &str) -> Result<Option<String>, ApiError> {
        let mut conn = self.reader().acquire().await?;
        match load(&mut conn, id).await? {
            Some(view) => Ok(Some(render(&view)?)),
            None => Ok(None),
        }
    }
}

/// Reserve or one-shot redeem, atomically within `tx` (a savepoint of a batch, see
/// [`crate::group`]): the answer, 201 with the redemption or the refusal.
pub(crate) async fn redeem_tx(
    tx: &mut AnyConnection,
    r: &Redemption,
    id: &str,
    now: i64,
) -> Result<Answer, sqlx::Error> {
    match claim(tx, r.op, &r.key, &r.hash, now).await? {
        Claim::Replay(a) => return Ok(a),
        Claim::Reused => return Ok(Answer::of_error(&key_reused(&r.key))),
        Claim::New => {}
    }
    let mut event = Event {
        at: now,
        op: r.op.as_str(),
        order_id: Some(r.order_id.to_string()),
        idempotency_key: Some(r.key.to_string()),
        attempt: r.attempt.clone(),
        bundle_version: Some(r.bundle_version),
        ..Event::default()
    };
    let outcome = match &r.plan {
        Err(e) => Applied::Refused(e.clone()),
        Ok(plan) => {
            event.promotions = plan
                .applied
                .iter()
                .map(|a| a.promotion_id.clone())
                .collect();
            event.ledger_discount = Some(plan.discount_total);
            event.total = Some(plan.total);
            let outcome = try_apply(tx, r, plan, id, now).await?;
            match outcome {
                // A limit may be held by reservations that lapsed since the last sweep:
                // release them in this transaction and decide once more.
                Applied::Refused(e) if e.code == "limitReached" && sweep_tx(tx, now).await? > 0 => {
                    try_apply(tx, r, plan, id, now).await?
                }
                outcome => outcome,
            }
        }
    };
    let answer = match outcome {
        Applied::Done(body) => {
            event.accepted = true;
            event.redemption_id = Some(id.to_string());
            Answer {
                status: StatusCode::CREATED,
                body,
                replayed: false,
            }
        }
        Applied::Refused(e) => {
            event.reason = Some(e.code.to_string());
            event.detail = e.detail.clone();
            Answer::of_error(&e)
        }
    };
    record(tx, &event).await?;
    let shows = match (&r.plan, event.accepted) {
        (Ok(plan), true) => Some((id, plan.receipt.as_str())),
        _ => None,
    };
    remember(tx, r.op, &r.key, &answer, shows).await?;
    Ok(answer)
}

/// Applies a plan inside a savepoint: all of it, or (refused) none of it.
async fn try_apply(
    tx: &mut AnyConnection,
    r: &Redemption,
    plan: &Plan,
    id: &str,
    now: i64,
) -> Result<Applied, sqlx::Error> {
    let mut sp = sqlx::Connection::begin(&mut *tx).await?;
    let outcome = apply(&mut sp, r, plan, id, now).await?;
    match outcome {
        Applied::Done(_) => sp.commit().await?,
        Applied::Refused(_) => sp.rollback().await?,
    }
    Ok(outcome)
}

/// Which of these customers already have a committed redemption: the ledger's own answer to
/// "new or returning?" when the client did not say. One probe of the committed customers' index
/// per customer. (Written as `customer_id IN (…)`, PostgreSQL's planner, while its statistics
/// still described a young table, also scanned the whole open-order index for every batch: 4 ms
/// a batch at 30,000 redemptions, and growing.)
async fn returning_customers(
    tx: &mut AnyConnection,
    customers: &[&str],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let mut returning = std::collections::HashSet::new();
    if customers.is_empty() {
        return Ok(returning);
    }
    let sql = format!(
        "SELECT v.column1 AS customer_id FROM (VALUES {}) AS v WHERE EXISTS \
         (SELECT 1 FROM redemptions r WHERE r.customer_id = v.column1 AND r.state = 'committed')",
        placeholders(customers.len(), 1)
    );
    let mut q = sqlx::query(&sql);
    for c in customers {
        q = q.bind(*c);
    }
    for row in q.fetch_all(&mut *tx).await? {
        returning.insert(row.try_get("customer_id")?);
    }
    Ok(returning)
}

fn key_reused(key: &str) -> ApiError {
    ApiError::unprocessable(
        ErrorCode::IdempotencyKeyReused,
        format!("idempotency key `{key}` was already used with a different request"),
    )
}

async fn apply(
    tx: &mut AnyConnection,
    r: &Redemption,
    plan: &Plan,
    id: &str,
    now: i64,
) -> Result<Applied, sqlx::Error> {
    // New or returning: the client's word (`ordersCount`) or, without it, the ledger's history.
    let first_order = match plan.first_order {
        Some(f) => f,
        None => match &r.attempt.customer_id {
            None => false,
            Some(c) => returning_customers(tx, &[c.as_str()]).await?.is_empty(),
        },
    };
    let row = NewRow {
        id,
        r,
        plan,
        first_order,
        now,
    };
    match insert_redemptions(tx, std::slice::from_ref(&row)).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            return Ok(Applied::Refused(ApiError::conflict(
                ErrorCode::OrderOpen,
                format!("order `{}` already has an open redemption", r.order_id),
            )))
        }
        Err(e) => return Err(e),
    }
    for inc in &plan.increments {
        if inc.uses > inc.max_uses || inc.amount > inc.max_amount || !increment(tx, inc).await? {
            return Ok(Applied::Refused(limit_reached(inc, plan)));
        }
    }
    insert_details(tx, std::slice::from_ref(&row)).await?;
    Ok(Applied::Done(row.answer()?))
}

/// A new redemption's rows, as a reserve or redeem writes them.
struct NewRow<'a> {
    id: &'a str,
    r: &'a Redemption,
    plan: &'a Plan,
    first_order: bool,
    now: i64,
}

impl NewRow<'_> {
    fn state(&self) -> &'static str {
        if self.r.op == Op::Reserve {
            "reserved"
        } else {
            "committed"
        }
    }

    /// The redemption's JSON, as `GET /v1/redemptions/{id}` then shows it.
    fn answer(&self) -> Result<String, sqlx::Error> {
        let (r, plan) = (self.r, self.plan);
        render(&View {
            id: self.id.to_string(),
            order_id: r.order_id.clone(),
            state: self.state().to_string(),
            bundle_id: r.bundle_id.clone(),
            bundle_version: i64::try_from(r.bundle_version).unwrap_or(i64::MAX),
            currency: plan.currency.code().to_string(),
            customer_id: r.attempt.customer_id.clone(),
            channel: r.attempt.channel.clone(),
            new_customer: self.first_order,
            subtotal: plan.subtotal,
            discount_total: plan.discount_total,
            tax_total: plan.tax_total,
            total: plan.total,
            receipt: plan.receipt.clone(),
            created_at: self.now,
            expires_at: r.expires_at,
            committed_at: (r.op == Op::Redeem).then_some(self.now),
            closed_at: None,
            reversal: None,
            refunded: 0,
            promotions: plan
                .applied
                .iter()
                .map(|a| (a.promotion_id.clone(), a.campaign.clone(), a.amount))
                .collect(),
        })
    }
}

/// Inserts redemption rows, in one statement.
async fn insert_redemptions(
    tx: &mut AnyConnection,
    rows: &[NewRow<'_>],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO redemptions (id, order_id, state, bundle_id, bundle_version, currency, \
         customer_id, email, channel, ip, new_customer, subtotal, discount_total, tax_total, total, \
         cost, receipt, created_at, expires_at, committed_at) VALUES {}",
        placeholders(rows.len(), 20)
    );
    let mut q = sqlx::query(&sql);
    for row in rows {
        let (r, plan) = (row.r, row.plan);
        q = q
            .bind(row.id)
            .bind(r.order_id.as_str())
            .bind(row.state())
            .bind(r.bundle_id.as_str())
            .bind(i64::try_from(r.bundle_version).unwrap_or(i64::MAX))
            .bind(plan.currency.code())
            .bind(r.attempt.customer_id.clone())
            .bind(r.attempt.email.clone())
            .bind(r.attempt.channel.clone())
            .bind(r.attempt.ip.clone())
            .bind(i64::from(row.first_order))
            .bind(plan.subtotal)
            .bind(plan.discount_total)
            .bind(plan.tax_total)
            .bind(plan.total)
            .bind(plan.cost)
            .bind(plan.receipt.as_str())
            .bind(row.now)
            .bind(r.expires_at)
            .bind((r.op == Op::Redeem).then_some(row.now));
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// Inserts what the redemptions took from each counter and their promotions, in one statement
/// each.
async fn insert_details(tx: &mut AnyConnection, rows: &[NewRow<'_>]) -> Result<(), sqlx::Error> {
    let usage: Vec<(&str, &Increment)> = rows
        .iter()
        .flat_map(|row| row.plan.increments.iter().map(move |inc| (row.id, inc)))
        .collect();
    if !usage.is_empty() {
        let sql = format!(
            "INSERT INTO redemption_usage (redemption_id, counter_key, uses, amount, reversal) \
             VALUES {}",
            placeholders(usage.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (id, inc) in usage {
            q = q
                .bind(id)
                .bind(inc.key.as_str())
                .bind(inc.uses)
                .bind(inc.amount)
                .bind(reversal_name(inc.reversal));
        }
        q.execute(&mut *tx).await?;
    }
    let applied: Vec<(&str, &crate::redeem::Applied)> = rows
        .iter()
        .flat_map(|row| row.plan.applied.iter().map(move |a| (row.id, a)))
        .collect();
    if !applied.is_empty() {
        let sql = format!(
            "INSERT INTO redemption_promotions (redemption_id, promotion_id, campaign, amount, \
             code_hash) VALUES {}",
            placeholders(applied.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (id, a) in applied {
            q = q
                .bind(id)
                .bind(a.promotion_id.as_str())
                .bind(a.campaign.clone())
                .bind(a.amount)
                .bind(a.code_hash.clone());
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// One redemption of a batch: the request, its id, the ledger's clock when it came.
pub(crate) struct Queued<'a> {
    pub redemption: &'a Redemption,
    pub id: &'a str,
    pub now: i64,
}

/// Locks every counter the batch's redemptions take, in key order, in one statement (creating
/// the ones that do not exist yet, at zero), before they are decided one by one. Each
/// redemption takes its own counters in key order, but a batch takes them redemption after
/// redemption: two writers (or two ledger instances) deciding batches that hold two hot
/// promotions in opposite orders would each wait for the other until PostgreSQL broke the
/// deadlock (`deadlock_timeout`, a second by default) and the batch ran again. Locked up front,
/// in the order the set-wise statement also takes them, batches only ever queue.
pub(crate) async fn lock_counters(
    tx: &mut AnyConnection,
    batch: &[Queued<'_>],
) -> Result<(), sqlx::Error> {
    let keys: std::collections::BTreeSet<&str> = batch
        .iter()
        .filter_map(|q| q.redemption.plan.as_ref().ok())
        .flat_map(|p| &p.increments)
        .map(|inc| inc.key.as_str())
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (1..=keys.len()).map(|i| format!("(${i}, 0, 0)")).collect();
    let sql = format!(
        "INSERT INTO counters (key, used, amount) VALUES {} \
         ON CONFLICT (key) DO UPDATE SET used = counters.used",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for key in keys {
        q = q.bind(key);
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// Writes a batch of redemptions that all apply, set by set: one statement each for the
/// idempotency keys (with their answers), every counter (the batch's summed uses and amounts,
/// checked against the tightest limit any of them declares), the redemptions, their usage and
/// promotion rows, and the events; about ten statements for the batch instead of a dozen for
/// each redemption. The counters come last, locked in one statement, in key order: from there
/// to the commit is all a hot promotion's rows are held.
///
/// `None` when the batch is not of that kind: a redemption refused before the transaction, two
/// with the same key, order or customer, a counter whose sum does not fit (a limit about to be
/// reached: who gets the last uses is decided one by one), a key already claimed, an order
/// already open. The caller then rolls its savepoint back and decides each redemption alone.
pub(crate) async fn redeem_set(
    tx: &mut AnyConnection,
    batch: &[Queued<'_>],
) -> Result<Option<Vec<Answer>>, sqlx::Error> {
    use std::collections::{BTreeMap, HashSet};
    let (mut keys, mut orders, mut customers) = (HashSet::new(), HashSet::new(), HashSet::new());
    let mut plans = Vec::with_capacity(batch.len());
    for q in batch {
        let r = q.redemption;
        let Ok(plan) = &r.plan else {
            return Ok(None);
        };
        let customer_repeats = r
            .attempt
            .customer_id
            .as_deref()
            .is_some_and(|c| !customers.insert(c));
        if !keys.insert((r.op, r.key.as_str()))
            || !orders.insert(r.order_id.as_str())
            || customer_repeats
        {
            return Ok(None);
        }
        plans.push(plan);
    }
    // Each counter's sum, and the tightest limits declared for it.
    #[derive(Clone, Copy)]
    struct Sum {
        uses: i64,
        amount: i64,
        max_uses: i64,
        max_amount: i64,
    }
    let mut sums: BTreeMap<&str, Sum> = BTreeMap::new();
    for inc in plans.iter().flat_map(|p| &p.increments) {
        let s = sums.entry(inc.key.as_str()).or_insert(Sum {
            uses: 0,
            amount: 0,
            max_uses: i64::MAX,
            max_amount: i64::MAX,
        });
        let (Some(uses), Some(amount)) = (
            s.uses.checked_add(inc.uses),
            s.amount.checked_add(inc.amount),
        ) else {
            return Ok(None);
        };
        *s = Sum {
            uses,
            amount,
            max_uses: s.max_uses.min(inc.max_uses),
            max_amount: s.max_amount.min(inc.max_amount),
        };
    }
    if sums
        .values()
        .any(|s| s.uses > s.max_uses || s.amount > s.max_amount)
    {
        return Ok(None);
    }
    // New or returning, for the customers whose client did not say.
    let ask: Vec<&str> = batch
        .iter()
        .zip(&plans)
        .filter(|(_, p)| p.first_order.is_none())
        .filter_map(|(q, _)| q.redemption.attempt.customer_id.as_deref())
        .collect();
    let returning = returning_customers(tx, &ask).await?;
    let rows: Vec<NewRow> = batch
        .iter()
        .zip(&plans)
        .map(|(q, plan)| NewRow {
            id: q.id,
            r: q.redemption,
            plan,
            first_order: plan.first_order.unwrap_or_else(|| {
                q.redemption
                    .attempt
                    .customer_id
                    .as_ref()
                    .is_some_and(|c| !returning.contains(c))
            }),
            now: q.now,
        })
        .collect();
    let mut answers = Vec::with_capacity(rows.len());
    for row in &rows {
        answers.push(Answer {
            status: StatusCode::CREATED,
            body: row.answer()?,
            replayed: false,
        });
    }
    // The keys, claimed with their answers: a key already held means a replay or a reuse.
    let sql = format!(
        "INSERT INTO idempotency (op, key, request_hash, status, response, receipt_of, \
         receipt_at, created_at) VALUES {} ON CONFLICT (op, key) DO NOTHING",
        placeholders(rows.len(), 8)
    );
    let kept: Vec<Kept> = rows
        .iter()
        .zip(&answers)
        .map(|(row, answer)| Kept::of(answer, Some((row.id, row.plan.receipt.as_str()))))
        .collect();
    let mut q = sqlx::query(&sql);
    for ((row, answer), kept) in rows.iter().zip(&answers).zip(&kept) {
        q = q
            .bind(row.r.op.as_str())
            .bind(row.r.key.as_str())
            .bind(row.r.hash.as_str())
            .bind(i64::from(answer.status.as_u16()))
            .bind(kept.response.as_ref())
            .bind(kept.receipt_of)
            .bind(kept.receipt_at)
            .bind(row.now);
    }
    if q.execute(&mut *tx).await?.rows_affected() != rows.len() as u64 {
        return Ok(None);
    }
    match insert_redemptions(tx, &rows).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => return Ok(None),
        Err(e) => return Err(e),
    }
    insert_details(tx, &rows).await?;
    let events: Vec<Event> = rows
        .iter()
        .map(|row| Event {
            at: row.now,
            op: row.r.op.as_str(),
            accepted: true,
            redemption_id: Some(row.id.to_string()),
            order_id: Some(row.r.order_id.clone()),
            idempotency_key: Some(row.r.key.clone()),
            attempt: row.r.attempt.clone(),
            promotions: row
                .plan
                .applied
                .iter()
                .map(|a| a.promotion_id.clone())
                .collect(),
            bundle_version: Some(row.r.bundle_version),
            ledger_discount: Some(row.plan.discount_total),
            total: Some(row.plan.total),
            ..Event::default()
        })
        .collect();
    record_all(tx, &events).await?;
    // Every counter at once, each only if its sum fits: last, so that a promotion's hot rows
    // are locked only from here to the commit.
    if !sums.is_empty() {
        let sql = format!(
            "INSERT INTO counters (key, used, amount, max_used, max_amount) VALUES {} \
             ON CONFLICT (key) DO UPDATE SET used = counters.used + excluded.used, \
             amount = counters.amount + excluded.amount, max_used = excluded.max_used, \
             max_amount = excluded.max_amount \
             WHERE counters.used + excluded.used <= excluded.max_used \
             AND counters.amount + excluded.amount <= excluded.max_amount",
            placeholders(sums.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (key, s) in &sums {
            q = q
                .bind(*key)
                .bind(s.uses)
                .bind(s.amount)
                .bind(s.max_uses)
                .bind(s.max_amount);
        }
        if q.execute(&mut *tx).await?.rows_affected() != sums.len() as u64 {
            return Ok(None);
        }
    }
    Ok(Some(answers))
}

/// The conditional increment: true when the counter had room and was incremented.
async fn increment(tx: &mut AnyConnection, inc: &Increment) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO counters (key, used, amount) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET used = counters.used + excluded.used, \
         amount = counters.amount + excluded.amount \
         WHERE counters.used + excluded.used <= $4 AND counters.amount + excluded.amount <= $5",
    )
    .bind(inc.key.as_str())
    .bind(inc.uses)
    .bind(inc.amount)
    .bind(inc.max_uses)
    .bind(inc.max_amount)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

fn limit_reached(inc: &Increment, plan: &Plan) -> ApiError {
    use crate::redeem::LimitKind;
    let what = match inc.kind {
        LimitKind::TotalUses => "its total uses".to_string(),
        LimitKind::PerCode => "the uses of this code".to_string(),
        LimitKind::SingleUseCode => "this single-use code".to_string(),
        LimitKind::PerCustomer => "this customer's uses".to_string(),
        LimitKind::PerDay => "today's uses".to_string(),
        LimitKind::Budget => format!(
            "its budget (this order's discount is {})",
            format_minor(inc.amount, plan.currency.exponent())
        ),
    };
    promoseal_wire::WireError::limit_reached(
        promoseal_wire::LimitDetail {
            promotion_id: inc.promotion_id.clone(),
            limit: inc.kind,
        },
        format!("promotion `{}` has used up {what}", inc.promotion_id),
    )
    .into()
}

fn reversal_name(r: Reversal) -> &'static str {
    match r {
        Reversal::Recredit => "recredit",
        Reversal::RecreditCancel => "recreditCancel",
        Reversal::Keep => "keep",
    }
}

/// Gives back what a redemption added to its counters and has not given back yet: all of it on
/// release or lapse, what each promotion's reversal policy allows on a reversal (after partial
/// refunds, the rest).
async fn give_back(
    tx: &mut AnyConnection,
    id: &str,
    reversal: Option<ReversalKind>,
) -> Result<(), sqlx::Error> {
    for row in usage(tx, id).await? {
        let back = matches!(
            (reversal, row.policy.as_str()),
            (None, _) | (Some(_), "recredit") | (Some(ReversalKind::Cancel), "recreditCancel")
        );
        if back {
            return_to(tx, id, &row, row.uses, row.amount).await?;
        }
    }
    Ok(())
}

/// What a redemption took from one counter, and has given back so far.
struct Usage {
    counter: String,
    uses: i64,
    amount: i64,
    policy: String,
    returned_uses: i64,
    returned_amount: i64,
}

async fn usage(tx: &mut AnyConnection, id: &str) -> Result<Vec<Usage>, sqlx::Error> {
    sqlx::query(
        "SELECT counter_key, uses, amount, reversal, returned_uses, returned_amount \
         FROM redemption_usage WHERE redemption_id = $1 ORDER BY counter_key",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok(Usage {
            counter: r.try_get("counter_key")?,
            uses: r.try_get("uses")?,
            amount: r.try_get("amount")?,
            policy: r.try_get("reversal")?,
            returned_uses: r.try_get("returned_uses")?,
            returned_amount: r.try_get("returned_amount")?,
        })
    })
    .collect()
}

/// Brings what `row` has given back up to `uses` and `amount` in all (never down).
async fn return_to(
    tx: &mut AnyConnection,
    id: &str,
    row: &Usage,
    uses: i64,
    amount: i64,
) -> Result<(), sqlx::Error> {
    let (du, da) = (uses - row.returned_uses, amount - row.returned_amount);
    if du <= 0 && da <= 0 {
        return Ok(());
    }
    sqlx::query("UPDATE counters SET used = used - $1, amount = amount - $2 WHERE key = $3")
        .bind(du.max(0))
        .bind(da.max(0))
        .bind(row.counter.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE redemption_usage SET returned_uses = $1, returned_amount = $2 \
         WHERE redemption_id = $3 AND counter_key = $4",
    )
    .bind(uses.max(row.returned_uses))
    .bind(amount.max(row.returned_amount))
    .bind(id)
    .bind(row.counter.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A partial refund of a committed redemption: `amount` (or the lines' paid units) more of its
/// total is refunded. Each `recredit` counter gets back its share of what it took in
/// proportion to all that is refunded so far, rounded down, so that the refund that completes
/// the total gives back the exact rest; uses come back only then (a use is not divisible).
/// `recreditCancel` and `keep` counters get nothing back from refunds. A refund of the whole
/// rest reverses the redemption (`reversal: refund`). More than is left is `refundTooLarge`.
async fn refund(
    tx: &mut AnyConnection,
    id: &str,
    part: &Refund,
    now: i64,
) -> Result<Option<ApiError>, sqlx::Error> {
    // Two refunds of one redemption at once: the second sees the first (a compare-and-set on
    // what was refunded), then decides again.
    for _ in 0..RETRIES {
        let Some(row) = sqlx::query(
            "SELECT state, currency, total, refunded, receipt FROM redemptions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Some(ApiError::not_found(
                ErrorCode::RedemptionNotFound,
                format!("no redemption `{id}`"),
            )));
        };
        let state: String = row.try_get("state")?;
        if state != "committed" {
            return Ok(Some(
                ApiError::conflict(
                    ErrorCode::InvalidState,
                    format!("redemption `{id}` is {state}: it cannot be refunded"),
                )
                .with_detail(json!({ "state": state })),
            ));
        }
        let total: i64 = row.try_get("total")?;
        let refunded: i64 = row.try_get("refunded")?;
        let currency: String = row.try_get("currency")?;
        let Some(currency) = promoseal_evaluator::money::Currency::from_code(&currency) else {
            return Err(sqlx::Error::Decode(format!("currency `{currency}`").into()));
        };
        // The units refunded so far matter only to a refund of lines.
        let prior = match part {
            Refund::Lines(_) => refunded_lines(tx, id).await?,
            Refund::Amount(_) => Default::default(),
        };
        let receipt: String = row.try_get("receipt")?;
        let amount = match refund_amount(part, currency, &receipt, &prior) {
            Ok(a) => a,
            Err(e) => return Ok(Some(e)),
        };
        let left = total - refunded;
        if amount > left {
            return Ok(Some(ApiError::conflict(
                ErrorCode::RefundTooLarge,
                format!(
                    "a refund of {} is more than the {} left of redemption `{id}`",
                    format_minor(amount, currency.exponent()),
                    format_minor(left, currency.exponent())
                ),
            )));
        }
        let after = refunded + amount;
        let whole = after == total;
        let updated = sqlx::query(
            "UPDATE redemptions SET refunded = $1, \
             state = CASE WHEN $2 = 1 THEN 'reversed' ELSE state END, \
             closed_at = CASE WHEN $2 = 1 THEN $3 ELSE closed_at END, \
             reversal = CASE WHEN $2 = 1 THEN 'refund' ELSE reversal END \
             WHERE id = $4 AND state = 'committed' AND refunded = $5",
        )
        .bind(after)
        .bind(i64::from(whole))
        .bind(now)
        .bind(id)
        .bind(refunded)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            continue;
        }
        let n: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM redemption_refunds WHERE redemption_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        let lines = match part {
            Refund::Lines(lines) => {
                Some(serde_json::to_string(lines).map_err(|e| sqlx::Error::Decode(e.into()))?)
            }
            Refund::Amount(_) => None,
        };
        sqlx::query(
            "INSERT INTO redemption_refunds (redemption_id, n, amount, lines, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(n + 1)
        .bind(amount)
        .bind(lines)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for row in usage(tx, id).await? {
            if row.policy != "recredit" {
                continue;
            }
            let (uses, amount) = if whole {
                (row.uses, row.amount)
            } else {
                let share = i128::from(row.amount) * i128::from(after) / i128::from(total.max(1));
                (
                    row.returned_uses,
                    i64::try_from(share).unwrap_or(row.amount),
                )
            };
            return_to(tx, id, &row, uses, amount).await?;
        }
        return Ok(None);
    }
    Err(sqlx::Error::Protocol(
        "refunds of one redemption kept racing".into(),
    ))
}

/// The units of each line refunded so far.
async fn refunded_lines(
    tx: &mut AnyConnection,
    id: &str,
) -> Result<std::collections::HashMap<String, u64>, sqlx::Error> {
    let mut out = std::collections::HashMap::new();
    let rows = sqlx::query(
        "SELECT lines FROM redemption_refunds WHERE redemption_id = $1 AND lines IS NOT NULL",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    for r in rows {
        let text: String = r.try_get("lines")?;
        let lines: Vec<RefundLine> =
            serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(e.into()))?;
        for l in lines {
            *out.entry(l.id).or_insert(0) += l.quantity;
        }
    }
    Ok(out)
}

/// How much a partial refund gives back, in minor units, or why it cannot: an amount as
/// given; units of lines at what was paid for them (the line's total, plus its tax when prices
/// exclude tax), each line's share rounded down on the units refunded so far, so that refunding
/// every unit of a line refunds exactly what was paid for it.
fn refund_amount(
    part: &Refund,
    currency: promoseal_evaluator::money::Currency,
    receipt: &str,
    prior: &std::collections::HashMap<String, u64>,
) -> Result<i64, ApiError> {
    let bad = |m: String| ApiError::bad_request(ErrorCode::InvalidRequest, m);
    let amount = match part {
        Refund::Amount(a) => currency
            .to_minor(a, &|| "amount".into())
            .map_err(|e| bad(e.to_string()))?,
        Refund::Lines(lines) => {
            let receipt: Value = serde_json::from_str(receipt).map_err(ApiError::internal)?;
            let exclusive = receipt.get("taxMode").and_then(Value::as_str) == Some("exclusive");
            let field = |v: &Value, name: &str| v.get(name).cloned().unwrap_or(Value::Null);
            let money = |v: &Value| -> Result<i64, ApiError> {
                let d = v
                    .as_str()
                    .and_then(|s| promoseal_evaluator::money::DecimalString::parse(s).ok())
                    .ok_or_else(|| ApiError::internal("a receipt amount does not parse"))?;
                currency
                    .to_minor(&d, &|| "receipt".into())
                    .map_err(|e| ApiError::internal(e.to_string()))
            };
            let mut seen = std::collections::HashSet::new();
            let mut sum = 0_i64;
            for (i, l) in lines.iter().enumerate() {
                if !seen.insert(l.id.as_str()) {
                    return Err(bad(format!(
                        "lines[{i}].id: line `{}` is named twice",
                        l.id
                    )));
                }
                if l.quantity == 0 {
                    return Err(bad(format!("lines[{i}].quantity: must be at least 1")));
                }
                let Some(line) = receipt
                    .get("lines")
                    .and_then(Value::as_array)
                    .and_then(|ls| ls.iter().find(|x| field(x, "id") == l.id.as_str()))
                else {
                    return Err(bad(format!(
                        "lines[{i}].id: the redemption has no line `{}`",
                        l.id
                    )));
                };
                let quantity = field(line, "quantity").as_u64().unwrap_or(0);
                let before = prior.get(&l.id).copied().unwrap_or(0);
                if before + l.quantity > quantity {
                    return Err(ApiError::conflict(
                        ErrorCode::RefundTooLarge,
                        format!(
                            "lines[{i}]: {} of line `{}` left to refund, not {}",
                            quantity.saturating_sub(before),
                            l.id,
                            l.quantity
                        ),
                    ));
                }
                let mut paid = money(&field(line, "total"))?;
                if exclusive {
                    paid += money(&field(line, "tax"))?;
                }
                let upto =
                    |units: u64| i128::from(paid) * i128::from(units) / i128::from(quantity.max(1));
                let share = upto(before + l.quantity) - upto(before);
                sum += i64::try_from(share).unwrap_or(i64::MAX);
            }
            sum
        }
    };
    if amount <= 0 {
        return Err(bad(match part {
            Refund::Amount(_) => "amount: must be more than zero".to_string(),
            Refund::Lines(_) => "lines: nothing was paid for these units".to_string(),
        }));
    }
    Ok(amount)
}

async fn sweep_tx(tx: &mut AnyConnection, now: i64) -> Result<u64, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, order_id FROM redemptions WHERE state = 'reserved' AND expires_at <= $1 \
         ORDER BY expires_at LIMIT 500",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut n = 0;
    for row in rows {
        let id: String = row.try_get("id")?;
        if lapse(tx, &id, now).await? {
            record(
                tx,
                &Event {
                    at: now,
                    op: "expire",
                    accepted: true,
                    redemption_id: Some(id),
                    order_id: row.try_get("order_id")?,
                    ..Event::default()
                },
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn lapse(tx: &mut AnyConnection, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE redemptions SET state = 'expired', closed_at = $1 \
         WHERE id = $2 AND state = 'reserved' AND expires_at <= $1",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 1 {
        give_back(tx, id, None).await?;
    }
    Ok(n == 1)
}

/// Refund or cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReversalKind {
    Refund,
    Cancel,
}

/// Commit, release or reverse of one redemption.
pub struct Transition<'a> {
    pub op: Op,
    pub id: &'a str,
    pub key: &'a str,
    pub hash: &'a str,
    pub reversal: Option<ReversalKind>,
    pub reason: Option<&'a str>,
    /// A partial refund: some amount, or some units of some lines.
    pub part: Option<&'a Refund>,
}

/// What a partial refund gives back to the customer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Refund {
    /// This much, in the redemption's currency.
    Amount(promoseal_evaluator::money::DecimalString),
    /// These units of these lines, at what was paid for them.
    Lines(Vec<RefundLine>),
}

impl Refund {
    /// The partial refund a reverse request names (`amount` or `lines`), if any, or why it is
    /// not one: both, no line, or a cancellation (which always reverses the whole).
    pub fn of(
        kind: ReversalKind,
        amount: Option<promoseal_evaluator::money::DecimalString>,
        lines: Option<Vec<RefundLine>>,
    ) -> Result<Option<Refund>, ApiError> {
        let bad = |m: &str| ApiError::bad_request(ErrorCode::InvalidRequest, m);
        let part = match (amount, lines) {
            (None, None) => return Ok(None),
            // One form per amount (`1`, `1.0` and `1.00` alike), so a retry that writes it
            // otherwise is the same request to the idempotency record.
            (Some(a), None) => {
                Refund::Amount(promoseal_evaluator::money::DecimalString(a.0.normalize()))
            }
            (None, Some(l)) if l.is_empty() => return Err(bad("lines: name at least one line")),
            (None, Some(l)) => Refund::Lines(l),
            (Some(_), Some(_)) => {
                return Err(bad(
                    "amount, lines: a partial refund names an amount or lines, not both",
                ))
            }
        };
        if kind != ReversalKind::Refund {
            return Err(bad(
                "kind: a cancellation reverses the whole redemption; partial reversals are refunds",
            ));
        }
        Ok(Some(part))
    }
}

/// Units of one line of a redemption's cart.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefundLine {
    pub id: String,
    pub quantity: u64,
}

async fn transition_tx(
    tx: &mut AnyConnection,
    t: &Transition<'_>,
    now: i64,
) -> Result<Answer, sqlx::Error> {
    match claim(tx, t.op, t.key, t.hash, now).await? {
        Claim::Replay(a) => return Ok(a),
        Claim::Reused => return Ok(Answer::of_error(&key_reused(t.key))),
        Claim::New => {}
    }
    let refusal = match (t.op, t.part) {
        (Op::Reverse, Some(part)) => refund(tx, t.id, part, now).await?,
        _ => change_state(tx, t, now).await?,
    };
    let view = load(tx, t.id).await?;
    let attempt = match &view {
        Some(v) => Attempt {
            customer_id: v.customer_id.clone(),
            channel: v.channel.clone(),
            ..Attempt::default()
        },
        None => Attempt::default(),
    };
    let mut event = Event {
        at: now,
        op: t.op.as_str(),
        accepted: refusal.is_none(),
        redemption_id: Some(t.id.to_string()),
        order_id: view.as_ref().map(|v| v.order_id.clone()),
        idempotency_key: Some(t.key.to_string()),
        attempt,
        detail: t.reason.map(|r| json!({ "reason": r })),
        ..Event::default()
    };
    let (answer, receipt) = match (&refusal, view) {
        (None, Some(v)) => (
            Answer {
                status: StatusCode::OK,
                body: render(&v)?,
                replayed: false,
            },
            Some(v.receipt),
        ),
        (Some(e), _) => {
            event.reason = Some(e.code.to_string());
            (Answer::of_error(e), None)
        }
        (None, None) => return Err(sqlx::Error::RowNotFound),
    };
    record(tx, &event).await?;
    let shows = receipt.as_deref().map(|r| (t.id, r));
    remember(tx, t.op, t.key, &answer, shows).await?;
    Ok(answer)
}

/// Commit, release or reverse as a whole: the new state, and what goes back to the counters;
/// or why not.
async fn change_state(
    tx: &mut AnyConnection,
    t: &Transition<'_>,
    now: i64,
) -> Result<Option<ApiError>, sqlx::Error> {
    let updated = match t.op {
        Op::Commit => sqlx::query(
            "UPDATE redemptions SET state = 'committed', committed_at = $1 \
             WHERE id = $2 AND state = 'reserved' AND expires_at > $1",
        )
        .bind(now)
        .bind(t.id),
        Op::Release => sqlx::query(
            "UPDATE redemptions SET state = 'released', closed_at = $1 \
             WHERE id = $2 AND state = 'reserved'",
        )
        .bind(now)
        .bind(t.id),
        _ => sqlx::query(
            "UPDATE redemptions SET state = 'reversed', closed_at = $1, reversal = $3 \
             WHERE id = $2 AND state = 'committed'",
        )
        .bind(now)
        .bind(t.id)
        .bind(match t.reversal {
            Some(ReversalKind::Cancel) => "cancel",
            _ => "refund",
        }),
    }
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    Ok(if updated {
        match t.op {
            Op::Release => give_back(tx, t.id, None).await?,
            Op::Reverse => give_back(tx, t.id, t.reversal).await?,
            _ => {}
        }
        None
    } else {
        let row = sqlx::query("SELECT state, expires_at FROM redemptions WHERE id = $1")
            .bind(t.id)
            .fetch_optional(&mut *tx)
            .await?;
        Some(match row {
            None => ApiError::not_found(
                ErrorCode::RedemptionNotFound,
                format!("no redemption `{}`", t.id),
            ),
            Some(row) => {
                let state: String = row.try_get("state")?;
                let lapsed = row
                    .try_get::<Option<i64>, _>("expires_at")?
                    .is_some_and(|e| e <= now);
                // A lapsed hold is `reservationExpired` to a commit, before the sweeper
                // released it (released here) and after (state `expired`).
                if t.op == Op::Commit && ((state == "reserved" && lapsed) || state == "expired") {
                    if state == "reserved" {
                        lapse(tx, t.id, now).await?;
                    }
                    ApiError::conflict(
                        ErrorCode::ReservationExpired,
                        format!("reservation `{}` expired before it was committed", t.id),
                    )
                } else {
                    ApiError::conflict(
                        ErrorCode::InvalidState,
                        format!(
                            "redemption `{}` is {state}: it cannot be {}",
                            t.id,
                            match t.op {
                                Op::Commit => "committed",
                                Op::Release => "released",
                                _ => "reversed",
                            }
                        ),
                    )
                    .with_detail(json!({ "state": state }))
                }
            }
        })
    })
}

/// A redemption as the API shows it, from its row and its promotions' rows (or, for a batch
/// written at once, from what was written): [`render`] is the one place its JSON is made.
struct View {
    id: String,
    order_id: String,
    state: String,
    bundle_id: String,
    bundle_version: i64,
    currency: String,
    customer_id: Option<String>,
    channel: Option<String>,
    new_customer: bool,
    subtotal: i64,
    discount_total: i64,
    tax_total: i64,
    total: i64,
    receipt: String,
    created_at: i64,
    expires_at: Option<i64>,
    committed_at: Option<i64>,
    closed_at: Option<i64>,
    reversal: Option<String>,
    /// Refunded so far (partial refunds).
    refunded: i64,
    /// Promotion id, campaign, amount.
    promotions: Vec<(String, Option<String>, i64)>,
}

/// The redemption's JSON: its keys in byte order, its promotions by id in byte order (whatever
/// the database's collation), and its receipt as stored, the evaluator's JSON, never parsed.
fn render(r: &View) -> Result<String, sqlx::Error> {
    #[derive(Serialize)]
    struct Promotion<'a> {
        amount: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        campaign: Option<&'a str>,
        #[serde(rename = "promotionId")]
        promotion_id: &'a str,
    }
    // Fields in byte order of their names, as clients have always seen them.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out<'a> {
        bundle_id: &'a str,
        bundle_version: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        closed_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        committed_at: Option<String>,
        created_at: String,
        currency: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        customer_id: Option<&'a str>,
        discount_total: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<String>,
        id: &'a str,
        new_customer: bool,
        order_id: &'a str,
        promotions: Vec<Promotion<'a>>,
        receipt: &'a serde_json::value::RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        refunded: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reversal: Option<&'a str>,
        state: &'a str,
        subtotal: String,
        tax_total: String,
        total: String,
    }
    let exp = promoseal_evaluator::money::Currency::from_code(&r.currency)
        .map(|c| c.exponent())
        .unwrap_or(2);
    let money = |minor: i64| format_minor(minor, exp);
    let time = |t: Option<i64>| t.map(|t| Instant(t).to_string());
    let mut promotions: Vec<Promotion> = r
        .promotions
        .iter()
        .map(|(id, campaign, amount)| Promotion {
            amount: money(*amount),
            campaign: campaign.as_deref(),
            promotion_id: id,
        })
        .collect();
    promotions.sort_by(|a, b| a.promotion_id.cmp(b.promotion_id));
    let receipt: &serde_json::value::RawValue =
        serde_json::from_str(&r.receipt).map_err(|e| sqlx::Error::Decode(e.into()))?;
    serde_json::to_string(&Out {
        bundle_id: &r.bundle_id,
        bundle_version: r.bundle_version,
        channel: r.channel.as_deref(),
        closed_at: time(r.closed_at),
        committed_at: time(r.committed_at),
        created_at: Instant(r.created_at).to_string(),
        currency: &r.currency,
        customer_id: r.customer_id.as_deref(),
        discount_total: money(r.discount_total),
        expires_at: time(r.expires_at),
        id: &r.id,
        new_customer: r.new_customer,
        order_id: &r.order_id,
        promotions,
        receipt,
        refunded: (r.refunded > 0).then(|| money(r.refunded)),
        reversal: r.reversal.as_deref(),
        state: &r.state,
        subtotal: money(r.subtotal),
        tax_total: money(r.tax_total),
        total: money(r.total),
    })
    .map_err(|e| sqlx::Error::Decode(e.into()))
}

/// Reads one redemption with its promotions.
async fn load(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Option<View>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "SELECT id, order_id, state, bundle_id, bundle_version, currency, customer_id, channel, \
         new_customer, subtotal, discount_total, tax_total, total, receipt, created_at, expires_at, \
         committed_at, closed_at, reversal, refunded FROM redemptions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let promotions = sqlx::query(
        "SELECT promotion_id, campaign, amount FROM redemption_promotions WHERE redemption_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|p| {
        Ok((
            p.try_get("promotion_id")?,
            p.try_get("campaign")?,
            p.try_get("amount")?,
        ))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let view = View {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        state: r.try_get("state")?,
        bundle_id: r.try_get("bundle_id")?,
        bundle_version: r.try_get("bundle_version")?,
        currency: r.try_get("currency")?,
        customer_id: r.try_get("customer_id")?,
        channel: r.try_get("channel")?,
        new_customer: r.try_get::<i64, _>("new_customer")? == 1,
        subtotal: r.try_get("subtotal")?,
        discount_total: r.try_get("discount_total")?,
        tax_total: r.try_get("tax_total")?,
        total: r.try_get("total")?,
        receipt: r.try_get("receipt")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        committed_at: r.try_get("committed_at")?,
        closed_at: r.try_get("closed_at")?,
        reversal: r.try_get("reversal")?,
        refunded: r.try_get("refunded")?,
        promotions,
    };
    Ok(Some(view))
}

impl Db {
    /// The redemptions a code was used in, by the code's keyed hash (24 hex digits; the code
    /// itself is never stored), oldest first, at most 100: what the console's code lookup shows.
    pub async fn code_redemptions(&self, code_hash: &str) -> Result<Vec<Value>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT r.id, r.order_id, r.state, r.currency, r.created_at, p.promotion_id, p.amount \
             FROM redemption_promotions p JOIN redemptions r ON r.id = p.redemption_id \
             WHERE p.code_hash = $1 ORDER BY r.created_at, r.id LIMIT 100",
        )
        .bind(code_hash)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let currency: String = r.try_get("currency")?;
                let exp = promoseal_evaluator::money::Currency::from_code(&currency)
                    .map(|c| c.exponent())
                    .unwrap_or(2);
                Ok(json!({
                    "id": r.try_get::<String, _>("id")?,
                    "orderId": r.try_get::<String, _>("order_id")?,
                    "state": r.try_get::<String, _>("state")?,
                    "promotionId": r.try_get::<String, _>("promotion_id")?,
                    "currency": currency,
                    "amount": format_minor(r.try_get::<i64, _>("amount")?, exp),
                    "createdAt": Instant(r.try_get::<i64, _>("created_at")?).to_string(),
                }))
            })
            .collect()
    }

    /// Every stored bundle envelope with when it was accepted, oldest version first.
    pub async fn stored_versions(&self) -> Result<Vec<(String, u64)>, sqlx::Error> {
        let rows = sqlx::query("SELECT bundle_id, version FROM bundles")
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|r| {
                let version: i64 = r.try_get("version")?;
                Ok((r.try_get("bundle_id")?, u64::try_from(version).unwrap_or(0)))
            })
            .collect()
    }

    /// One stored version's envelope and when it was first accepted.
    pub async fn stored_bundle(
        &self,
        bundle_id: &str,
        version: u64,
    ) -> Result<Option<(Vec<u8>, i64)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT envelope, accepted_at FROM bundles WHERE bundle_id = $1 AND version = $2",
        )
        .bind(bundle_id)
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| Ok((r.try_get("envelope")?, r.try_get("accepted_at")?)))
            .transpose()
    }

    /// Stores an accepted version (the same version again with the same digest is a no-op).
    pub async fn store_bundle(
        &self,
        loaded: &crate::bundles::Loaded,
        envelope: &[u8],
        now: i64,
    ) -> Result<(), ApiError> {
        write_tx!(self, tx => sqlx::query(
                "INSERT INTO bundles (bundle_id, version, digest, envelope, expires_at, accepted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (bundle_id, version) DO NOTHING",
            )
            .bind(loaded.bundle.id())
            .bind(i64::try_from(loaded.bundle.version()).unwrap_or(i64::MAX))
            .bind(loaded.digest_hex())
            .bind(envelope.to_vec())
            .bind(loaded.expires_at.seconds())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map(|_| ()));
        Ok(())
    }
}

impl Db {
    /// The pepper code hashes in the log use when no code secret is configured: random, made
    /// once per database and kept, so hashes stay comparable across restarts.
    pub async fn pepper(&self) -> Result<promoseal_evaluator::codes::CodeSecret, ApiError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(ApiError::internal)?;
        let hex = write_tx!(self, tx => async {
                sqlx::query("INSERT INTO meta (key, value) VALUES ('pepper', $1) ON CONFLICT (key) DO NOTHING")
                    .bind(promoseal_evaluator::codes::encode_hex(&fresh))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT value FROM meta WHERE key = 'pepper'")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get::<String, _>("value")
            }
            .await);
        promoseal_evaluator::codes::CodeSecret::from_hex(&hex).map_err(ApiError::internal)
    }
}
