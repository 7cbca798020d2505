//! Forwarding redemptions to the ledger, and the dead letters kept when it cannot be reached.
//!
//! A redemption is sent with the client's `Idempotency-Key`, so sending it again can never
//! redeem twice: the ledger answers a repeat with its first answer. The edge tries
//! `LEDGER_ATTEMPTS` times, waiting `LEDGER_BACKOFF_MS` then doubling, on a time-out, a network
//! error, 5xx, 408 or 429. When those are used up, the exact request body is stored as a dead
//! letter in the outbox (a Durable Object) and the client gets 202. The outbox's alarm sends
//! each letter again (backoff from `REPLAY_BASE_SECONDS` doubling to `REPLAY_MAX_SECONDS`)
//! until the ledger gives a definite answer, then deletes it and keeps a record of the outcome
//! for a week. Delivered exactly once: the letter goes only after an answer, and a repeat that
//! reached the ledger before is answered from the ledger's idempotency record.

use serde::{Deserialize, Serialize};

/// How long the outbox keeps the record of a delivered letter.
pub const DONE_RETENTION_MS: u64 = 7 * 24 * 3600 * 1000;

/// A redemption waiting for the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Letter {
    pub key: String,
    /// The exact JSON body sent to the ledger.
    pub body: String,
    pub attempts: u32,
    pub first_failed_ms: u64,
    pub next_ms: u64,
    pub last_error: String,
}

/// The record of a delivered letter.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivered {
    pub key: String,
    /// The ledger's status: 201 redeemed, 4xx a definite refusal.
    pub status: u16,
    pub attempts: u32,
    pub at_ms: u64,
}

/// What an attempt's result means.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The ledger answered for good (redeemed, or refused for a reason a repeat cannot change).
    Answered,
    /// Try again later.
    Retry(String),
}

/// `status` is the ledger's, `None` when there was no answer (time-out, network error).
pub fn verdict(status: Option<u16>, error: &str) -> Verdict {
    match status {
        Some(s) if (200..300).contains(&s) => Verdict::Answered,
        Some(408 | 425 | 429) => Verdict::Retry(format!("ledger answered {}", status.unwrap_or(0))),
        Some(s) if (400..500).contains(&s) => Verdict::Answered,
        Some(s) => Verdict::Retry(format!("ledger answered {s}")),
        None => Verdict::Retry(error.to_string()),
    }
}

/// The wait before attempt `attempt` (0-based) of a live forward: 0, then `base`, doubling.
pub fn live_delay_ms(attempt: u32, base_ms: u64) -> u64 {
    match attempt {
        0 => 0,
        n => base_ms.saturating_mul(1 << (n - 1).min(20)),
    }
}

/// The wait after a letter's `attempts`-th failed redelivery: `base` doubling, at most `max`.
pub fn replay_delay_ms(attempts: u32, base_ms: u64, max_ms: u64) -> u64 {
    base_ms
        .saturating_mul(1 << attempts.saturating_sub(1).min(20))
        .min(max_ms)
}

impl Letter {
    pub fn new(key: String, body: String, error: String, now_ms: u64, base_ms: u64) -> Letter {
        Letter {
            key,
            body,
            attempts: 0,
            first_failed_ms: now_ms,
            next_ms: now_ms.saturating_add(base_ms),
            last_error: error,
        }
    }

    /// After a failed redelivery at `now_ms`.
    pub fn failed(&mut self, error: String, now_ms: u64, base_ms: u64, max_ms: u64) {
        self.attempts = self.attempts.saturating_add(1);
        self.last_error = error;
        self.next_ms = now_ms.saturating_add(replay_delay_ms(self.attempts, base_ms, max_ms));
    }

    pub fn due(&self, now_ms: u64) -> bool {
        self.next_ms <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_answers_end_a_letter_and_everything_else_retries() {
        for s in [200, 201, 400, 404, 409, 422] {
            assert_eq!(verdict(Some(s), ""), Verdict::Answered, "{s}");
        }
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(matches!(verdict(Some(s), ""), Verdict::Retry(_)), "{s}");
        }
        assert_eq!(
            verdict(None, "timed out"),
            Verdict::Retry("timed out".into())
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let live: Vec<u64> = (0..4).map(|a| live_delay_ms(a, 200)).collect();
        assert_eq!(live, [0, 200, 400, 800]);
        let replay: Vec<u64> = (1..=7)
            .map(|a| replay_delay_ms(a, 30_000, 900_000))
            .collect();
        assert_eq!(
            replay,
            [30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000]
        );
        assert_eq!(replay_delay_ms(u32::MAX, u64::MAX, 5), 5);
    }

    #[test]
    fn a_letter_is_due_after_its_backoff() {
        let mut l = Letter::new("k".into(), "{}".into(), "down".into(), 1_000, 30_000);
        assert!(!l.due(30_999));
        assert!(l.due(31_000));
        l.failed("still down".into(), 31_000, 30_000, 900_000);
        assert_eq!(
            (l.attempts, l.next_ms, l.last_error.as_str()),
            (1, 61_000, "still down")
        );
        l.failed("still down".into(), 61_000, 30_000, 900_000);
        assert_eq!(l.next_ms, 121_000);
    }
}
