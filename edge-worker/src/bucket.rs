//! Attempt limits as token buckets: `count` attempts, refilled evenly over `seconds`. Integer
//! arithmetic in thousandths of a token, so every host decides alike. The state lives in a
//! Durable Object per key (one per client network, one per code); this is its whole logic,
//! with the name of a client's bucket and what a request costs it.

use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::api::EdgeError;

/// The bucket of the client at `ip` (`CF-Connecting-IP`): `ip:` and the IPv4 address as is,
/// or the IPv6 /64 prefix (`ip:2001:db8:1:2::/64`): one subscriber usually holds a whole /64,
/// so per-address buckets would let them take a fresh one for every guess. An IPv4-mapped
/// IPv6 address is its IPv4 address. Anything else is its own name, bounded.
pub fn client_key(ip: &str) -> String {
    let ip = ip.trim();
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("ip:{v4}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("ip:{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        Err(_) => format!("ip:{}", ip.chars().take(64).collect::<String>()),
    }
}

/// What `codes` entered codes cost the client's bucket: one token each, or `tooManyCodes`
/// when the bucket can never hold that many (a 429 whose `Retry-After` could never be met).
pub fn cost(codes: usize, per_client: Rate) -> Result<u32, EdgeError> {
    match u32::try_from(codes) {
        Ok(n) if n <= per_client.count => Ok(n),
        _ => Err(EdgeError::too_many_codes(codes, per_client.count)),
    }
}

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

/// The answer to attempts that took from several buckets: allowed when every bucket allowed
/// it, else 429 `tooManyAttempts` with the longest wait.
pub fn combine(decisions: &[Decision]) -> Result<(), EdgeError> {
    let wait = decisions
        .iter()
        .filter(|d| !d.allowed)
        .map(|d| d.retry_after.max(1))
        .max();
    match wait {
        Some(w) => Err(EdgeError::too_many_attempts(w)),
        None => Ok(()),
    }
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
    fn clients_are_named_by_ipv4_address_and_ipv6_64_prefix() {
        assert_eq!(client_key("203.0.113.7"), "ip:203.0.113.7");
        assert_eq!(client_key(" 203.0.113.7 "), "ip:203.0.113.7");
        let net = "ip:2001:db8:1:2::/64";
        for a in [
            "2001:db8:1:2::1",
            "2001:0db8:0001:0002:ffff:ffff:ffff:ffff",
            "2001:DB8:1:2:a:b:c:d",
        ] {
            assert_eq!(client_key(a), net, "{a}");
        }
        assert_eq!(client_key("2001:db8:1:3::1"), "ip:2001:db8:1:3::/64");
        assert_eq!(client_key("::1"), "ip:0:0:0:0::/64");
        assert_eq!(client_key("::ffff:203.0.113.7"), "ip:203.0.113.7");
        assert_eq!(client_key("unknown"), "ip:unknown");
        assert_eq!(client_key(&"x".repeat(500)).len(), 3 + 64);
    }

    #[test]
    fn a_request_that_could_never_pass_is_refused_outright() {
        assert_eq!(cost(0, R), Ok(0));
        assert_eq!(cost(3, R), Ok(3));
        let e = cost(4, R).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str(), e.retry_after),
            (400, "tooManyCodes", None)
        );
    }

    #[test]
    fn the_longest_wait_wins() {
        let ok = Decision {
            allowed: true,
            retry_after: 0,
        };
        let wait = |s| Decision {
            allowed: false,
            retry_after: s,
        };
        assert_eq!(combine(&[]), Ok(()));
        assert_eq!(combine(&[ok, ok]), Ok(()));
        let e = combine(&[ok, wait(3), wait(7)]).unwrap_err();
        assert_eq!((e.status, e.retry_after), (429, Some(7)));
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let (s, _) = take(None, R, 3, 50_000);
        let (_, d) = take(Some(s), R, 1, 10_000);
        assert!(!d.allowed);
    }
}
