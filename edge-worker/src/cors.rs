//! CORS for the storefront's origins: which origin a response names, and the preflight answer.
//! An origin not configured gets no CORS headers at all, so the browser blocks the response.

/// The methods and request headers a storefront may use.
pub const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
pub const ALLOW_HEADERS: &str = "Content-Type, Idempotency-Key";
/// The response headers a storefront script may read.
pub const EXPOSE_HEADERS: &str = "ETag, Retry-After, Idempotency-Replayed";
/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE: &str = "86400";

/// The value of `Access-Control-Allow-Origin` for a request from `origin`, if it is allowed.
pub fn allow_origin(allowed: &[String], origin: Option<&str>) -> Option<String> {
    let origin = origin?;
    if allowed.iter().any(|a| a == "*") {
        return Some("*".into());
    }
    allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(origin.trim_end_matches('/')))
        .then(|| origin.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_origins_are_named() {
        let allowed = vec!["https://shop.example".to_string()];
        assert_eq!(
            allow_origin(&allowed, Some("https://shop.example")).as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(allow_origin(&allowed, Some("https://evil.example")), None);
        assert_eq!(
            allow_origin(&allowed, Some("https://shop.example.evil")),
            None
        );
        assert_eq!(allow_origin(&allowed, None), None);
        assert_eq!(allow_origin(&[], Some("https://shop.example")), None);
        assert_eq!(
            allow_origin(&["*".to_string()], Some("http://localhost:8080")).as_deref(),
            Some("*")
        );
    }
}
