//! The lint policy as a project writes it (`policy.toml`). Lint itself is
//! [`promoseal_authoring::lint`], which the console shares.

use anyhow::{anyhow, Result};
use promoseal_authoring::lint::Policy;

/// Parses a policy from TOML text. Unknown keys, floats and out-of-range values are errors
/// naming the key.
pub fn policy_from_toml(text: &str) -> Result<Policy> {
    let policy: Policy = toml::from_str(text).map_err(|e| anyhow!("invalid lint policy: {e}"))?;
    policy
        .check()
        .map_err(|e| anyhow!("invalid lint policy: {e}"))?;
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn bad_policy_names_the_field() {
        let e = policy_from_toml("maxPercnt = \"10\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("maxPercnt"), "{e}");
        let e = policy_from_toml("maxPercent = 12.5")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("maxPercent") && e.contains("never floats"),
            "{e}"
        );
        let e = policy_from_toml("maxAmount = \"-3\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("maxAmount") && e.contains("negative"), "{e}");
        let e = policy_from_toml("maxPercent = \"150\"")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e, "invalid lint policy: maxPercent: `150` is above 100",
            "{e}"
        );
        let e = policy_from_toml("[projection]\nexpectedRedemption = 5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expectedRedemption"), "{e}");
        let p = policy_from_toml("maxBudget = 5000").unwrap();
        assert_eq!(p.max_budget, Some(Decimal::from(5000)));
        assert_eq!(p.projection.expected_redemptions, 1000);
    }
}
