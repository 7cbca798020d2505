//! Attempt limits on codes at the ledger, the last door a guesser can knock on: per client
//! (one token per entered code, every request) and per canonical code (one token per attempt
//! with a code that no active code set of the bundle holds: a guess, a forged or revoked code).
//! A valid code never drains its own bucket, so nobody can deny it to other shoppers; a client
//! trying many codes is slowed whatever they are. Off only with `--trusted-callers`, where the
//! shop says every caller is its own backend.
//!
//! Buckets are kept in memory (governor's GCRA, keyed), per ledger process.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// `count` attempts per `seconds`, as written on the command line: `20/60`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub seconds: NonZeroU32,
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("`{s}` is not `count/seconds` with both at least 1");
        let (c, w) = s.split_once('/').ok_or_else(bad)?;
        Ok(Rate {
            count: c.trim().parse().map_err(|_| bad())?,
            seconds: w.trim().parse().map_err(|_| bad())?,
        })
    }
}

impl Rate {
    fn quota(self) -> Option<Quota> {
        let period =
            Duration::from_secs(u64::from(self.seconds.get())).checked_div(self.count.get())?;
        Some(Quota::with_period(period)?.allow_burst(self.count))
    }
}

/// The client an attempt is counted against: an IPv4 address as it is, an IPv6 address by
/// its /64 prefix (one subscriber's network hands out a whole /64), anything else as given.
pub fn client_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

pub struct Attempts {
    per_client: DefaultKeyedRateLimiter<String>,
    per_code: DefaultKeyedRateLimiter<String>,
    client_capacity: u32,
}

impl std::fmt::Debug for Attempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Attempts")
    }
}

fn limited(wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    promoseal_wire::WireError::too_many_attempts(secs.max(1)).into()
}

impl Attempts {
    pub fn new(per_client: Rate, per_code: Rate) -> Result<Attempts, String> {
        let quota = |r: Rate| {
            r.quota()
                .ok_or_else(|| format!("`{r:?}` is not a usable rate"))
        };
        Ok(Attempts {
            per_client: RateLimiter::keyed(quota(per_client)?),
            per_code: RateLimiter::keyed(quota(per_code)?),
            client_capacity: per_client.count.get(),
        })
    }

    /// Takes one token per code from the client's bucket and one from the bucket of each code
    /// that is not known. `codes` are `(canonical code hash, known)`. A request with more codes
    /// than a client's bucket holds can never pass: it is a 400, not a wait.
    pub fn take(&self, client: &str, codes: &[(String, bool)]) -> Result<(), ApiError> {
        let Some(n) = NonZeroU32::new(u32::try_from(codes.len()).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        if n.get() > self.client_capacity {
            return Err(promoseal_wire::WireError::too_many_codes(
                codes.len(),
                self.client_capacity,
            )
            .into());
        }
        let clock = governor::clock::DefaultClock::default();
        use governor::clock::Clock as _;
        match self.per_client.check_key_n(&client_key(client), n) {
            Ok(Ok(())) => {}
            Ok(Err(not_until)) => return Err(limited(not_until.wait_time_from(clock.now()))),
            Err(_) => return Err(ApiError::internal("attempt bucket smaller than its check")),
        }
        for (hash, known) in codes {
            if *known {
                continue;
            }
            if let Err(not_until) = self.per_code.check_key(hash) {
                return Err(limited(not_until.wait_time_from(clock.now())));
            }
        }
        Ok(())
    }

    /// Forgets buckets that have refilled (run by the sweeper).
    pub fn forget_idle(&self) {
        self.per_client.retain_recent();
        self.per_code.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(s: &str) -> Rate {
        s.parse().unwrap()
    }

    #[test]
    fn clients_are_keyed_by_ipv6_prefix() {
        assert_eq!(client_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(
            client_key("2001:db8:1:2:aaaa::1"),
            client_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
        assert_eq!(client_key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(client_key("unknown"), "unknown");
    }

    #[test]
    fn valid_codes_never_drain_their_bucket_and_guesses_do() {
        let a = Attempts::new(rate("100/60"), rate("2/60")).unwrap();
        let known = [("h-valid".to_string(), true)];
        for i in 0..20 {
            a.take(&format!("10.0.0.{i}"), &known).unwrap();
        }
        let guess = [("h-guess".to_string(), false)];
        a.take("10.0.1.1", &guess).unwrap();
        a.take("10.0.1.2", &guess).unwrap();
        let e = a.take("10.0.1.3", &guess).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (429, "tooManyAttempts"));
        a.take("10.0.1.4", &known).unwrap();
    }

    #[test]
    fn a_client_is_slowed_and_an_impossible_request_is_a_400() {
        let a = Attempts::new(rate("3/60"), rate("100/60")).unwrap();
        let codes =
            |n: usize| -> Vec<(String, bool)> { (0..n).map(|i| (format!("h{i}"), true)).collect() };
        assert_eq!(a.take("c", &codes(4)).unwrap_err().code, "tooManyCodes");
        a.take("c", &codes(3)).unwrap();
        let e = a.take("c", &codes(1)).unwrap_err();
        assert_eq!(e.code, "tooManyAttempts");
        assert!(e.retry_after.is_some_and(|s| (1..=20).contains(&s)));
        a.take("other", &codes(1)).unwrap();
        a.take("c", &[]).unwrap();
        assert!("0/60".parse::<Rate>().is_err() && "5".parse::<Rate>().is_err());
    }
}
