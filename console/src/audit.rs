//! The audit log: every action, appended in the transaction that does it, each entry chained to
//! the one before by SHA-256 so that an edited, removed or reordered entry breaks the chain.
//!
//! `hash = SHA-256(prev ‖ canonical JSON of {seq, at, actor, action, promotion, detail})`; the
//! first entry's `prev` is 64 zeros. The `audit_head` row, updated in the same transaction,
//! serializes appends on both backends (a row lock on PostgreSQL, the write lock on SQLite).

use promoseal_db::{Db, Row, Tx};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use promoseal_evaluator::codes::encode_hex;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// The key id of who did it (`console` for the server itself).
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<String>,
    pub detail: Value,
    pub prev: String,
    pub hash: String,
}

fn chain(
    prev: &str,
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    promotion: Option<&str>,
    detail: &Value,
) -> String {
    let body = json!({
        "seq": seq, "at": at, "actor": actor, "action": action,
        "promotion": promotion, "detail": detail,
    });
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(body.to_string().as_bytes());
    encode_hex(h.finalize().as_slice())
}

/// Appends one entry in `tx`.
pub async fn append(
    tx: &mut Tx,
    at: i64,
    actor: &str,
    action: &str,
    promotion: Option<&str>,
    detail: Value,
) -> Result<Entry, sqlx::Error> {
    let row = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut **tx)
        .await?;
    let seq: i64 = row.try_get("seq")?;
    let prev: String = row.try_get("hash")?;
    let hash = chain(&prev, seq, at, actor, action, promotion, &detail);
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO audit (seq, at, actor, action, promotion, detail, prev, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(promotion)
    .bind(detail.to_string())
    .bind(&prev)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    Ok(Entry {
        seq,
        at,
        actor: actor.into(),
        action: action.into(),
        promotion: promotion.map(Into::into),
        detail,
        prev,
        hash,
    })
}

/// Appends one entry in a transaction of its own: for actions whose other effects are in the
/// project folder, not the database.
pub async fn record(
    db: &Db,
    at: i64,
    actor: &str,
    action: &str,
    promotion: Option<&str>,
    detail: Value,
) -> Result<Entry, sqlx::Error> {
    let mut tx = db.begin().await?;
    let e = append(&mut tx, at, actor, action, promotion, detail).await?;
    tx.commit().await?;
    Ok(e)
}

fn entry(row: &Row) -> Result<Entry, sqlx::Error> {
    let detail: String = row.try_get("detail")?;
    Ok(Entry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        promotion: row.try_get("promotion")?,
        detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
        prev: row.try_get("prev")?,
        hash: row.try_get("hash")?,
    })
}

/// Entries in order, all of them or one promotion's.
pub async fn entries(db: &Db, promotion: Option<&str>) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = match promotion {
        Some(p) => {
            sqlx::query("SELECT * FROM audit WHERE promotion = $1 ORDER BY seq")
                .bind(p)
                .fetch_all(db.reader())
                .await?
        }
        None => {
            sqlx::query("SELECT * FROM audit ORDER BY seq")
                .fetch_all(db.reader())
                .await?
        }
    };
    rows.iter().map(entry).collect()
}

/// The log, or one promotion's part of it, with the result of checking the whole chain.
#[derive(Serialize)]
pub struct View {
    pub intact: bool,
    #[serde(rename = "break")]
    pub broken: Option<Break>,
    pub entries: Vec<Entry>,
}

impl View {
    /// One entry per line (the export).
    pub fn jsonl(&self) -> String {
        self.entries
            .iter()
            .filter_map(|e| serde_json::to_string(e).ok())
            .map(|line| line + "\n")
            .collect()
    }
}

pub async fn view(db: &Db, promotion: Option<&str>) -> Result<View, sqlx::Error> {
    let all = entries(db, None).await?;
    let broken = verify(&all);
    Ok(View {
        intact: broken.is_none(),
        broken,
        entries: all
            .into_iter()
            .filter(|e| promotion.is_none_or(|p| e.promotion.as_deref() == Some(p)))
            .collect(),
    })
}

/// Where a chain breaks: the first entry whose `prev` or `hash` is not what the entries
/// before it make, or a gap in the sequence.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Break {
    pub seq: i64,
    pub reason: &'static str,
}

/// Checks a whole log, in order.
pub fn verify(entries: &[Entry]) -> Option<Break> {
    let mut prev = "0".repeat(64);
    for (i, e) in entries.iter().enumerate() {
        let want_seq = i as i64 + 1;
        if e.seq != want_seq {
            return Some(Break {
                seq: want_seq,
                reason: "an entry is missing",
            });
        }
        if e.prev != prev {
            return Some(Break {
                seq: e.seq,
                reason: "the entry does not follow the one before",
            });
        }
        let want = chain(
            &e.prev,
            e.seq,
            e.at,
            &e.actor,
            &e.action,
            e.promotion.as_deref(),
            &e.detail,
        );
        if e.hash != want {
            return Some(Break {
                seq: e.seq,
                reason: "the entry was altered",
            });
        }
        prev = e.hash.clone();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn log(n: i64) -> Vec<Entry> {
        let mut prev = "0".repeat(64);
        (1..=n)
            .map(|seq| {
                let detail = json!({"n": seq});
                let hash = chain(
                    &prev,
                    seq,
                    100 + seq,
                    "marketing-1",
                    "edited",
                    Some("p"),
                    &detail,
                );
                let e = Entry {
                    seq,
                    at: 100 + seq,
                    actor: "marketing-1".into(),
                    action: "edited".into(),
                    promotion: Some("p".into()),
                    detail,
                    prev: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert!(verify(&log(5)).is_none());
        assert!(verify(&[]).is_none());
    }

    #[test]
    fn an_altered_entry_breaks_the_chain_where_it_was_altered() {
        let mut l = log(5);
        l[2].detail = json!({"n": 99});
        let b = verify(&l).unwrap();
        assert_eq!((b.seq, b.reason), (3, "the entry was altered"));
        let mut l = log(5);
        l[1].actor = "finance-1".into();
        assert_eq!(verify(&l).unwrap().seq, 2);
    }

    #[test]
    fn a_removed_or_reordered_entry_breaks_the_chain() {
        let mut l = log(5);
        l.remove(2);
        assert_eq!(verify(&l).unwrap().reason, "an entry is missing");
        let mut l = log(5);
        l.swap(1, 2);
        assert!(verify(&l).is_some());
        // Rehashing an altered entry does not help: the next one no longer follows.
        let mut l = log(5);
        l[2].detail = json!({"n": 99});
        l[2].hash = chain(
            &l[2].prev,
            3,
            l[2].at,
            "marketing-1",
            "edited",
            Some("p"),
            &l[2].detail,
        );
        assert_eq!(
            verify(&l).unwrap(),
            Break {
                seq: 4,
                reason: "the entry does not follow the one before"
            }
        );
    }
}
