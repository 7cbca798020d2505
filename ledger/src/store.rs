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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        "SELECT request_hash, status, response FROM idempotency WHERE op = $1 AND key = $2",
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
    Ok(Claim::Replay(Answer {
        status: u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body: row.try_get("response")?,
        replayed: true,
    }))
}

async fn remember(
    tx: &mut AnyConnection,
    op: Op,
    key: &str,
    answer: &Answer,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE idempotency SET status = $1, response = $2 WHERE op = $3 AND key = $4")
        .bind(i64::from(answer.status.as_u16()))
        .bind(answer.body.as_str())
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
    let join = |v: &[String]| (!v.is_empty()).then(|| v.join(" "));
    sqlx::query(
        "INSERT INTO events (at, op, outcome, reason, redemption_id, order_id, idempotency_key, \
         customer_id, email, ip, channel, codes, promotions, bundle_version, client_discount, \
         ledger_discount, total, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
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
    .bind(e.detail.as_ref().map(Value::to_string))
    .execute(&mut *tx)
    .await?;
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
    pub async fn redemption(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let mut conn = self.reader().acquire().await?;
        Ok(load(&mut conn, id).await?)
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
    remember(tx, r.op, &r.key, &answer).await?;
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
    let state = if r.op == Op::Reserve {
        "reserved"
    } else {
        "committed"
    };
    // New or returning: the client's word (`ordersCount`) or, without it, the ledger's history.
    let first_order = match plan.first_order {
        Some(f) => f,
        None => match &r.attempt.customer_id {
            None => false,
            Some(c) => {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM redemptions WHERE customer_id = $1 AND state = 'committed'",
                )
                .bind(c.as_str())
                .fetch_one(&mut *tx)
                .await?;
                row.try_get::<i64, _>("n")? == 0
            }
        },
    };
    let inserted = sqlx::query(
        "INSERT INTO redemptions (id, order_id, state, bundle_id, bundle_version, currency, \
         customer_id, email, channel, ip, new_customer, subtotal, discount_total, tax_total, total, \
         cost, receipt, created_at, expires_at, committed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(id)
    .bind(r.order_id.as_str())
    .bind(state)
    .bind(r.bundle_id.as_str())
    .bind(i64::try_from(r.bundle_version).unwrap_or(i64::MAX))
    .bind(plan.currency.code())
    .bind(r.attempt.customer_id.clone())
    .bind(r.attempt.email.clone())
    .bind(r.attempt.channel.clone())
    .bind(r.attempt.ip.clone())
    .bind(i64::from(first_order))
    .bind(plan.subtotal)
    .bind(plan.discount_total)
    .bind(plan.tax_total)
    .bind(plan.total)
    .bind(plan.cost)
    .bind(plan.receipt.as_str())
    .bind(now)
    .bind(r.expires_at)
    .bind((r.op == Op::Redeem).then_some(now))
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
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
        sqlx::query(
            "INSERT INTO redemption_usage (redemption_id, counter_key, uses, amount, reversal) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(inc.key.as_str())
        .bind(inc.uses)
        .bind(inc.amount)
        .bind(reversal_name(inc.reversal))
        .execute(&mut *tx)
        .await?;
    }
    for a in &plan.applied {
        sqlx::query(
            "INSERT INTO redemption_promotions (redemption_id, promotion_id, campaign, amount, code_hash) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(a.promotion_id.as_str())
        .bind(a.campaign.clone())
        .bind(a.amount)
        .bind(a.code_hash.clone())
        .execute(&mut *tx)
        .await?;
    }
    let view = load(tx, id)
        .await?
        .ok_or_else(|| sqlx::Error::RowNotFound)?;
    Ok(Applied::Done(view.to_string()))
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

/// Gives back what a redemption added to its counters: all of it on release or lapse, what
/// each promotion's reversal policy allows on a reversal.
async fn give_back(
    tx: &mut AnyConnection,
    id: &str,
    reversal: Option<ReversalKind>,
) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT counter_key, uses, amount, reversal FROM redemption_usage \
         WHERE redemption_id = $1 ORDER BY counter_key",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    for row in rows {
        let policy: String = row.try_get("reversal")?;
        let back = matches!(
            (reversal, policy.as_str()),
            (None, _) | (Some(_), "recredit") | (Some(ReversalKind::Cancel), "recreditCancel")
        );
        if !back {
            continue;
        }
        sqlx::query("UPDATE counters SET used = used - $1, amount = amount - $2 WHERE key = $3")
            .bind(row.try_get::<i64, _>("uses")?)
            .bind(row.try_get::<i64, _>("amount")?)
            .bind(row.try_get::<String, _>("counter_key")?)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
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
    let refusal = if updated {
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
    };
    let view = load(tx, t.id).await?;
    let attempt = match &view {
        Some(v) => Attempt {
            customer_id: v["customerId"].as_str().map(str::to_string),
            channel: v["channel"].as_str().map(str::to_string),
            ..Attempt::default()
        },
        None => Attempt::default(),
    };
    let mut event = Event {
        at: now,
        op: t.op.as_str(),
        accepted: refusal.is_none(),
        redemption_id: Some(t.id.to_string()),
        order_id: view
            .as_ref()
            .and_then(|v| v["orderId"].as_str().map(str::to_string)),
        idempotency_key: Some(t.key.to_string()),
        attempt,
        detail: t.reason.map(|r| json!({ "reason": r })),
        ..Event::default()
    };
    let answer = match (&refusal, view) {
        (None, Some(v)) => Answer {
            status: StatusCode::OK,
            body: v.to_string(),
            replayed: false,
        },
        (Some(e), _) => {
            event.reason = Some(e.code.to_string());
            Answer::of_error(e)
        }
        (None, None) => return Err(sqlx::Error::RowNotFound),
    };
    record(tx, &event).await?;
    remember(tx, t.op, t.key, &answer).await?;
    Ok(answer)
}

/// Reads one redemption with its promotions as the API shows it.
async fn load(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Option<Value>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "SELECT id, order_id, state, bundle_id, bundle_version, currency, customer_id, channel, \
         new_customer, subtotal, discount_total, tax_total, total, receipt, created_at, expires_at, \
         committed_at, closed_at, reversal FROM redemptions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let currency: String = r.try_get("currency")?;
    let exp = promoseal_evaluator::money::Currency::from_code(&currency)
        .map(|c| c.exponent())
        .unwrap_or(2);
    let money = |col: &str| -> Result<String, sqlx::Error> {
        Ok(format_minor(r.try_get::<i64, _>(col)?, exp))
    };
    let time = |col: &str| -> Result<Option<String>, sqlx::Error> {
        Ok(r.try_get::<Option<i64>, _>(col)?
            .map(|t| Instant(t).to_string()))
    };
    let promotions = sqlx::query(
        "SELECT promotion_id, campaign, amount FROM redemption_promotions \
         WHERE redemption_id = $1 ORDER BY promotion_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|p| -> Result<Value, sqlx::Error> {
        let mut v = json!({
            "promotionId": p.try_get::<String, _>("promotion_id")?,
            "amount": format_minor(p.try_get::<i64, _>("amount")?, exp),
        });
        if let (Some(c), Some(o)) = (
            p.try_get::<Option<String>, _>("campaign")?,
            v.as_object_mut(),
        ) {
            o.insert("campaign".into(), json!(c));
        }
        Ok(v)
    })
    .collect::<Result<Vec<_>, _>>()?;
    let receipt: String = r.try_get("receipt")?;
    let mut v = json!({
        "id": r.try_get::<String, _>("id")?,
        "orderId": r.try_get::<String, _>("order_id")?,
        "state": r.try_get::<String, _>("state")?,
        "bundleId": r.try_get::<String, _>("bundle_id")?,
        "bundleVersion": r.try_get::<i64, _>("bundle_version")?,
        "currency": currency,
        "subtotal": money("subtotal")?,
        "discountTotal": money("discount_total")?,
        "taxTotal": money("tax_total")?,
        "total": money("total")?,
        "promotions": promotions,
        "newCustomer": r.try_get::<i64, _>("new_customer")? == 1,
        "createdAt": time("created_at")?,
        "receipt": serde_json::from_str::<Value>(&receipt).map_err(|e| sqlx::Error::Decode(e.into()))?,
    });
    if let Some(o) = v.as_object_mut() {
        for (name, value) in [
            ("customerId", r.try_get::<Option<String>, _>("customer_id")?),
            ("channel", r.try_get::<Option<String>, _>("channel")?),
            ("expiresAt", time("expires_at")?),
            ("committedAt", time("committed_at")?),
            ("closedAt", time("closed_at")?),
            ("reversal", r.try_get::<Option<String>, _>("reversal")?),
        ] {
            if let Some(value) = value {
                o.insert(name.into(), json!(value));
            }
        }
    }
    Ok(Some(v))
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
    pub async fn stored_bundles(&self) -> Result<Vec<(Vec<u8>, i64)>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT envelope, accepted_at FROM bundles ORDER BY bundle_id, version")
                .fetch_all(self.reader())
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("envelope")?, r.try_get("accepted_at")?)))
            .collect()
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
