//! Attempt limits as token buckets: `count` attempts, refilled evenly over `seconds`. Integer
//! arithmetic in thousandths of a token, so every host decides alike. The state lives in a
//! Durable Object per key (one per client IP, one per code); this is its whole logic.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `count` attempts per `seconds`, as written in configuration: `10/60`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Rate {
    pub count: u32,
    pub seconds: u32,
}

impl Rate {
    pub const fn new(count: u32, seconds: u32) -> Rate {
        Rate { count, seconds }
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("`{s}` is not `count/seconds` with both at least 1");
        let (c, w) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = c.trim().parse().map_err(|_| bad())?;
        let seconds: u32 = w.trim().parse().map_err(|_| bad())?;
        if count == 0 || seconds == 0 {
            return Err(bad());
        }
        Ok(Rate { count, seconds })
    }
}

/// A bucket's state: thousandths of a token, as of `at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Bucket {
    pub milli: u64,
    pub at_ms: u64,
}

/// The answer to one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub allowed: bool,
    /// Whole seconds until the attempt would be allowed (0 when allowed).
    pub retry_after: u64,
}

/// Takes `cost` tokens from `bucket` (a new key starts full) at `now_ms`: the new state and
/// the decision. A refused attempt takes nothing.
pub fn take(bucket: Option<Bucket>, rate: Rate, cost: u32, now_ms: u64) -> (Bucket, Decision) {
    let capacity = u64::from(rate.count) * 1000;
    let milli = match bucket {
        None => capacity,
        Some(b) => {
            let elapsed = u128::from(now_ms.saturating_sub(b.at_ms));
            let refill = elapsed * u128::from(rate.count) / u128::from(rate.seconds);
            let refill = u64::try_from(refill).unwrap_or(u64::MAX);
            b.milli.saturating_add(refill).min(capacity)
        }
    };
    let need = u64::from(cost) * 1000;
    if milli >= need {
        let state = Bucket {
            milli: milli - need,
            at_ms: now_ms,
        };
        return (
            state,
            Decision {
                allowed: true,
                retry_after: 0,
            },
        );
    }
    // Thousandths missing, at `count` thousandths per `seconds` milliseconds.
    let missing = u128::from(need.min(capacity).saturating_sub(milli).max(1));
    let wait_ms = (missing * u128::from(rate.seconds)).div_ceil(u128::from(rate.count));
    let retry_after = u64::try_from(wait_ms.div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1);
    (
        Bucket {
            milli,
            at_ms: now_ms,
        },
        Decision {
            allowed: false,
            retry_after,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Rate = Rate::new(3, 60);

    fn run(times: &[u64]) -> Vec<bool> {
        let mut state = None;
        times
            .iter()
            .map(|&t| {
                let (s, d) = take(state, R, 1, t);
                state = Some(s);
                d.allowed
            })
            .collect()
    }

    #[test]
    fn a_burst_is_capped_and_refills_evenly() {
        // 3 at once, the 4th refused; one token per 20 s after that.
        assert_eq!(run(&[0, 0, 0, 0]), [true, true, true, false]);
        assert_eq!(run(&[0, 0, 0, 19_999]), [true, true, true, false]);
        assert_eq!(
            run(&[0, 0, 0, 20_000, 20_001]),
            [true, true, true, true, false]
        );
        // Idle for long: full again, never more than full.
        assert_eq!(
            run(&[0, 0, 0, 10_000_000, 10_000_000, 10_000_000, 10_000_000]),
            [true, true, true, true, true, true, false]
        );
    }

    #[test]
    fn a_refusal_says_when_to_come_back_and_takes_nothing() {
        let (s, _) = take(None, R, 3, 0);
        let (s2, d) = take(Some(s), R, 1, 5_000);
        assert_eq!(
            d,
            Decision {
                allowed: false,
                retry_after: 15
            }
        );
        // Refused attempts do not push the wait further out.
        let (_, d) = take(Some(s2), R, 1, 19_999);
        assert_eq!(
            d,
            Decision {
                allowed: false,
                retry_after: 1
            }
        );
        let (_, d) = take(Some(s2), R, 1, 20_000);
        assert!(d.allowed);
    }

    #[test]
    fn rates_parse_strictly() {
        assert_eq!("10/60".parse::<Rate>(), Ok(Rate::new(10, 60)));
        assert_eq!(" 5 / 1 ".parse::<Rate>(), Ok(Rate::new(5, 1)));
        for bad in ["", "10", "0/60", "10/0", "-1/60", "a/b", "10/60/1"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let (s, _) = take(None, R, 3, 50_000);
        let (_, d) = take(Some(s), R, 1, 10_000);
        assert!(!d.allowed);
    }
}
