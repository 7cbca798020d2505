//! Forwarding redemptions to the ledger, and the dead letters kept when it cannot be reached.
//!
//! A redemption is sent with the client's `Idempotency-Key`, so sending it again can never
//! redeem twice: the ledger answers a repeat with its first answer. The edge tries
//! `LEDGER_ATTEMPTS` times, waiting `LEDGER_BACKOFF_MS` then doubling, on a time-out, a network
//! error, 5xx (the ledger's 503 `unavailable` for a busy or restarting database among them),
//! 408, 425 or 429. When those are used up, the exact request body is stored as a dead
//! letter in the outbox (a Durable Object) and the client gets 202. The outbox's alarm sends
//! each letter again (backoff from `REPLAY_BASE_SECONDS` doubling to `REPLAY_MAX_SECONDS`, and
//! never sooner than the ledger's last `Retry-After`, up to that maximum) until the ledger
//! gives a definite answer, then deletes it and keeps a record of the outcome for a week. Delivered exactly once: the letter goes only after an answer, and a repeat that
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

/// Why a redemption got no definite answer, and when the ledger asked to be tried again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unanswered {
    pub why: String,
    /// The last answer's `Retry-After`, in milliseconds.
    pub retry_after_ms: Option<u64>,
}

/// Longest `Retry-After` taken from the ledger, in seconds.
const MAX_RETRY_AFTER: u64 = 24 * 3600;

/// A `Retry-After` value in milliseconds: delay-seconds, at most a day. (An HTTP date, which
/// the ledger never sends, is ignored: the backoff applies.)
pub fn retry_after_ms(value: Option<&str>) -> Option<u64> {
    let seconds: u64 = value?.trim().parse().ok()?;
    Some(seconds.min(MAX_RETRY_AFTER).saturating_mul(1000))
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

    /// Puts the next attempt no sooner than `retry_after_ms` (the ledger's `Retry-After`) after
    /// `now_ms`, and never later than `max_ms` after it.
    pub fn not_before(&mut self, now_ms: u64, retry_after_ms: Option<u64>, max_ms: u64) {
        if let Some(wait) = retry_after_ms {
            let at = now_ms.saturating_add(wait.min(max_ms));
            self.next_ms = self.next_ms.max(at);
        }
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

    #[test]
    fn the_ledgers_retry_after_delays_a_letter_up_to_the_maximum() {
        assert_eq!(retry_after_ms(Some("1")), Some(1_000));
        assert_eq!(retry_after_ms(Some(" 30 ")), Some(30_000));
        assert_eq!(retry_after_ms(Some("999999999")), Some(86_400_000));
        for ignored in [
            None,
            Some(""),
            Some("-1"),
            Some("1.5"),
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
        ] {
            assert_eq!(retry_after_ms(ignored), None, "{ignored:?}");
        }
        // The ledger's 503 is retried like a lost answer.
        assert!(matches!(verdict(Some(503), ""), Verdict::Retry(_)));
        let mut l = Letter::new("k".into(), "{}".into(), "503".into(), 0, 1_000);
        l.not_before(0, None, 5_000);
        assert_eq!(l.next_ms, 1_000);
        l.not_before(0, Some(500), 5_000);
        assert_eq!(l.next_ms, 1_000, "never sooner than the backoff");
        l.not_before(0, Some(3_000), 5_000);
        assert_eq!(l.next_ms, 3_000);
        l.not_before(0, Some(60_000), 5_000);
        assert_eq!(l.next_ms, 5_000, "never later than the maximum");
    }
}
