//! Group commit: every reserve and redeem of the process queues for a writer task ([`WRITERS`]
//! of them on PostgreSQL, taking turns; one on SQLite), which applies whatever has queued (up
//! to a maximum, [`MAX_BATCH`] by default) in one transaction and answers each redemption only
//! after that transaction is durable.
//!
//! Why: a redemption's counter increments lock the promotion's counter rows until its
//! transaction commits. With one transaction per redemption, a promotion that most orders take
//! admits one redemption per commit (the lock wait plus the flush), whatever the number of
//! clients. In a batch, the rows are locked once and flushed once for all of its redemptions.
//!
//! A batch is first written set by set ([`store::redeem_set`]): when every redemption in it
//! applies, about ten statements write all of them (each statement is a thread handoff or a
//! server round trip, which is what a redemption costs). Otherwise (a refusal, a limit about to
//! be reached, a replay) that transaction is rolled back and, in a new one, each redemption is
//! decided alone, in order, in its own savepoint: the same statements as without batches (the idempotency claim,
//! conditional increments that never read then write, the rows, the event, the stored answer).
//! Either way a limit is never exceeded by one and a replay gets the first answer. A
//! redemption whose statements fail is rolled back to its savepoint and answered with that
//! error; the others commit. When the commit itself fails, nothing of the batch was applied: a
//! transient failure (a deadlock with another ledger instance's batch, a lost connection) runs
//! the batch again, anything else answers every redemption in it with the error, and each may
//! be retried with its key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use crate::db::{is_transient, Backend, Db};
use crate::error::ApiError;
use crate::store::{self, Answer, Redemption};

/// Writer tasks on PostgreSQL by default: while one batch's commit is flushed, the others'
/// statements run. Measured on 2 cores shared with the database (64 clients, hot promotion,
/// interleaved 15 s runs): four gave 12-25 % more than two, at a lower p99; a batch's counters
/// are locked up front in key order ([`store::lock_counters`]), so more writers only queue.
pub const WRITERS: usize = 4;

/// Most redemptions in one transaction by default: enough to amortize a flush over every
/// client of a busy instance, few enough that the first in a batch does not wait long for the
/// last.
pub const MAX_BATCH: usize = 64;

/// How many times a batch that lost a deadlock or its connection is run again.
const RETRIES: u32 = 8;

struct Job {
    redemption: Redemption,
    id: String,
    now: i64,
    answer: oneshot::Sender<Result<Answer, ApiError>>,
}

/// The queue in front of the writer tasks.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

/// What the writers have done since they started.
#[derive(Debug, Default)]
struct Stats {
    batches: AtomicU64,
    /// Batches written set by set (every redemption in them applied).
    set_batches: AtomicU64,
    redemptions: AtomicU64,
    retries: AtomicU64,
}

/// What the writers have done since they started, as [`GroupCommit::stats`] reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Batches run.
    pub batches: u64,
    /// Batches written set by set (every redemption in them applied).
    pub set_batches: u64,
    /// Redemptions answered (applied, refused or failed).
    pub redemptions: u64,
    /// Batches run again after a transient failure (a deadlock, a lost connection).
    pub retries: u64,
}

impl GroupCommit {
    /// Starts the writer tasks over `db` (on the current tokio runtime), with batches of at
    /// most `max_batch` (at least 1): `writers` of them on PostgreSQL (at least 1), taking turns
    /// at the queue, so that one batch's statements run while another's commit is flushed; one
    /// on SQLite, which has one writer connection. They end when every handle to the queue is
    /// dropped.
    pub fn start(db: Db, max_batch: usize, writers: usize) -> GroupCommit {
        let max_batch = max_batch.max(1);
        let writers = match db.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => writers.max(1),
        };
        // Beyond four batches queued, a request waits to be queued.
        let (queue, jobs) = mpsc::channel(4 * max_batch);
        let jobs = Arc::new(Mutex::new(jobs));
        let stats = Arc::new(Stats::default());
        for _ in 0..writers {
            tokio::spawn(writer(db.clone(), jobs.clone(), max_batch, stats.clone()));
        }
        GroupCommit { queue, stats }
    }

    /// What the writers have done so far.
    pub fn stats(&self) -> WriterStats {
        let s = &self.stats;
        WriterStats {
            batches: s.batches.load(Ordering::Relaxed),
            set_batches: s.set_batches.load(Ordering::Relaxed),
            redemptions: s.redemptions.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
        }
    }

    /// Applies `redemption` (decided at `now`, under a fresh id) in the next batch and answers
    /// once that batch is durable.
    pub async fn redeem(&self, redemption: Redemption, now: i64) -> Result<Answer, ApiError> {
        let id = store::new_id()?;
        let (answer, answered) = oneshot::channel();
        let job = Job {
            redemption,
            id,
            now,
            answer,
        };
        if self.queue.send(job).await.is_err() {
            return Err(ApiError::internal("the redemption writer has stopped"));
        }
        answered
            .await
            .unwrap_or_else(|_| Err(ApiError::internal("the redemption writer has stopped")))
    }
}

async fn writer(
    db: Db,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
    stats: Arc<Stats>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    loop {
        // `recv_many` waits for one job, then takes every job already queued, up to the limit;
        // the next writer waits for the queue meanwhile.
        let taken = jobs.lock().await.recv_many(&mut batch, max_batch).await;
        if taken == 0 {
            return;
        }
        let answers = run(&db, &batch, &stats).await;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .redemptions
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for (job, answer) in batch.drain(..).zip(answers) {
            // A client that went away no longer waits for its answer; it was applied anyway
            // and its key replays it.
            let _ = job.answer.send(answer);
        }
    }
}

/// Applies a batch in one transaction and says what to answer each redemption.
async fn run(db: &Db, batch: &[Job], stats: &Stats) -> Vec<Result<Answer, ApiError>> {
    let mut attempt = 0;
    loop {
        let error = match attempt_batch(db, batch, stats).await {
            Ok(answers) => return answers,
            Err(e) => e,
        };
        if !is_transient(&error) || attempt >= RETRIES {
            tracing::warn!(error = %error, size = batch.len(), "redemption batch failed");
            let error = ApiError::from(error);
            return batch.iter().map(|_| Err(error.clone())).collect();
        }
        attempt += 1;
        stats.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(std::time::Duration::from_millis(2 << attempt.min(6))).await;
    }
}

/// One try: the batch set by set when every redemption in it applies
/// ([`store::redeem_set`]), else (in a new transaction) each redemption in its savepoint; then
/// the commit. `Err` means nothing of the batch was applied.
async fn attempt_batch(
    db: &Db,
    batch: &[Job],
    stats: &Stats,
) -> Result<Vec<Result<Answer, ApiError>>, sqlx::Error> {
    let queued: Vec<store::Queued> = batch
        .iter()
        .map(|j| store::Queued {
            redemption: &j.redemption,
            id: &j.id,
            now: j.now,
        })
        .collect();
    // Set by set in a transaction of its own (no savepoint: two round trips fewer for the
    // batches that apply, which are nearly all); rolled back whole when it does not apply.
    let mut tx = db.begin().await?;
    match store::redeem_set(&mut tx, &queued).await {
        Ok(Some(answers)) => {
            tx.commit().await?;
            stats.set_batches.fetch_add(1, Ordering::Relaxed);
            return Ok(answers.into_iter().map(Ok).collect());
        }
        Ok(None) => tx.rollback().await?,
        Err(e) if is_transient(&e) => {
            let _ = tx.rollback().await;
            return Err(e);
        }
        // Decided one by one below, where a failing redemption is answered alone.
        Err(e) => {
            tracing::warn!(error = %e, "set-wise batch failed; deciding one by one");
            tx.rollback().await?;
        }
    }
    let mut tx = db.begin().await?;
    // Several writers (and instances) share PostgreSQL; SQLite has one writer connection.
    if db.backend == Backend::Postgres {
        store::lock_counters(&mut tx, &queued).await?;
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        match store::redeem_tx(&mut savepoint, &job.redemption, &job.id, job.now).await {
            Ok(answer) => {
                savepoint.commit().await?;
                answers.push(Ok(answer));
            }
            // The batch's connection or lock is gone (or the database asks for a retry):
            // nothing in this transaction can commit.
            Err(e) if is_transient(&e) => {
                let _ = savepoint.rollback().await;
                return Err(e);
            }
            Err(e) => {
                savepoint.rollback().await?;
                answers.push(Err(ApiError::from(e)));
            }
        }
    }
    tx.commit().await?;
    Ok(answers)
}
