//! Timing and identity headers: Retry-After and its cousins, rate-limit headers, server
//! overrides, request ids. Pure functions of the header list and the caller's `now`.
//!
//! [`read_headers`] makes one pass over the headers, allocates nothing and never panics. Header
//! names are compared case-insensitively; values are trimmed of ASCII whitespace. A header may
//! repeat: the **first valid** value of a name wins (an invalid one is skipped, not fatal), and
//! an invalid header of a higher precedence falls through to the next source. The one
//! exception is `RateLimit`, a list field: all its lines are read as one list (RFC 9110 §5.3).
//! A numeric or boolean value that is invalid as a whole but holds a comma is read as a
//! comma-joined repeat (`fetch` and some proxies merge repeated fields: `5, 5`): its first
//! element counts. An HTTP-date's own comma is no problem: the whole value is tried first.
//!
//! # Rules
//!
//! **Delay (`retry_after`)**, first found of: `retry-after-ms`, then `x-ms-retry-after-ms`
//! (both milliseconds, fractions allowed), then `Retry-After` (see [`parse_retry_after`]).
//!
//! **Numbers.** A delay or reset is `DIGITS` or `DIGITS.DIGITS`: no sign, no exponent, no
//! inner spaces; a negative or otherwise malformed value is ignored. Fractions are kept to the
//! millisecond, **rounding up** (never retry earlier than asked): `1.5` s is 1 500 ms,
//! `0.0001` s is 1 ms, `1500.2` ms is 1 501 ms. Every duration saturates at [`MAX_DELAY`]
//! (100 Julian years) instead of overflowing, so a caller's long-wait policy sees "very long".
//!
//! **Rate-limit reset (`rate_limit_reset`)**, first found of: IETF `RateLimit`
//! (`reset=` / `t=`), `RateLimit-Reset`, `X-RateLimit-Reset`, `X-Rate-Limit-Reset`. Every reset
//! value, whatever the header, is told apart by size ([`reset_from_value`]):
//! - `v < 10^9`: delta-seconds from now;
//! - `10^9 <= v < 10^12`: Unix epoch **seconds** (10^9 s is 2001-09-09);
//! - `v >= 10^12`: Unix epoch **milliseconds** (10^12 ms is 2001-09-09 too).
//!
//! An epoch is compared with `now`; a past one is zero.
//!
//! `X-RateLimit-Reset-After` (Discord's) is always delta-seconds: it comes after
//! `RateLimit-Reset` and before `X-RateLimit-Reset`, whose delta-or-epoch guess it avoids.
//!
//! **Limit (`rate_limit_limit`)**, first found of: `RateLimit` (`limit=`), `RateLimit-Policy`
//! (`q=`), `RateLimit-Limit`, `X-RateLimit-Limit`, `X-Rate-Limit-Limit`: a non-negative integer.
//! **Window (`rate_limit_window`)**: `RateLimit-Policy`'s `w=` (seconds). With several
//! policies in `RateLimit-Policy` (`"s";q=10;w=1, "d";q=1000;w=86400`), the one of the shortest
//! window gives both (then the lowest `q`): pacing is about the short run, and a long quota
//! shows in `remaining`; a policy without `q` is skipped. These say what a window holds; what
//! is *left* is `remaining`.
//!
//! **Remaining (`rate_limit_remaining`)**, first found of: `RateLimit` (`remaining=` / `r=`),
//! `RateLimit-Remaining`, `X-RateLimit-Remaining`, `X-Rate-Limit-Remaining`: a non-negative
//! integer (saturating at `u64::MAX`). Reset and remaining are resolved separately.
//!
//! **`RateLimit`** comes in two draft shapes, both read:
//! - `limit=100, remaining=0, reset=30` (earlier drafts): one policy.
//! - `"default";r=0;t=30, "daily";r=5;t=3600` (current drafts: a structured-field list of
//!   policies described by `RateLimit-Policy`, which carries quotas and windows, read for
//!   `rate_limit_limit` and `rate_limit_window` only: a policy without `t` has no known reset,
//!   and its window is not used as a guess for one).
//!
//! With several policies the most restrictive one speaks for both values: the lowest `r`,
//! and among equals the longest `t` (every exhausted window must reset before a request
//! passes). A policy without `r` only counts when no policy has one.
//!
//! **Server verdict (`should_retry`)**: `x-should-retry`, then `Stripe-Should-Retry`; `true` or
//! `false`, case-insensitive; anything else is ignored.
//!
//! **Request id (`request_id`)**, first found of, in this order: `X-Request-Id`, `request-id`
//! (and vendors' own: any `…-request-id` or `…-req-id` but a `client-request-id`, like
//! `X-GitHub-Request-Id`; `X-AREQUESTID`, `PayPal-Debug-Id`, `x-fb-trace-id`, `x-vercel-id`),
//! `x-amzn-RequestId`, `x-amz-request-id`, `x-ms-request-id`, `X-Correlation-Id`, `CF-Ray`,
//! `X-Cloud-Trace-Context` (the trace id before `/`), `traceparent` (its 32-hex trace id, if
//! well formed). Explicit request ids come first; a correlation id may be the client's own echo;
//! `CF-Ray` names the edge hop; trace contexts are often propagated from the client. The value
//! is trimmed, an empty one skipped, and one longer than [`MAX_REQUEST_ID_LEN`] bytes truncated
//! on a char boundary.
//!
//! **`content_type`**: the first non-empty `Content-Type`, trimmed, verbatim (parameters kept).

mod date;
pub(crate) use date::civil_from_days;

use std::time::Duration;

/// The longest delay or reset the headers can express: 100 Julian years (36 525 days). Larger
/// values (a `Retry-After` of 10^30, a date in the year 9999) saturate here.
pub const MAX_DELAY: Duration = Duration::from_secs(MAX_DELAY_MS / 1000);

const MAX_DELAY_MS: u64 = 36_525 * 86_400 * 1000;

/// Request ids longer than this many bytes are truncated (on a char boundary).
pub const MAX_REQUEST_ID_LEN: usize = 256;

/// A reset value at or above this (in seconds) is an epoch in seconds, not a delta.
const EPOCH_S_FROM: u64 = 1_000_000_000;
/// A reset value at or above this is an epoch in milliseconds.
const EPOCH_MS_FROM: u64 = 1_000_000_000_000;

/// What the response headers say about timing and identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HeaderHints<'a> {
    /// An explicit delay asked for by the server: `retry-after-ms`, then `x-ms-retry-after-ms`,
    /// then `Retry-After` (delta-seconds or HTTP-date; a past date is zero).
    pub retry_after: Option<Duration>,
    /// When the rate-limit window resets, from now: IETF `RateLimit` (`t=`/`reset=`), then
    /// `RateLimit-Reset`, `X-RateLimit-Reset`, `X-Rate-Limit-Reset` (delta-seconds, epoch
    /// seconds and epoch milliseconds told apart by size; a past epoch is zero).
    pub rate_limit_reset: Option<Duration>,
    /// Requests left in the window: `RateLimit` (`r=`/`remaining=`), then
    /// `RateLimit-Remaining`, `X-RateLimit-Remaining`, `X-Rate-Limit-Remaining`.
    pub rate_limit_remaining: Option<u64>,
    /// The window's request quota: `RateLimit` (`limit=`), then `RateLimit-Policy` (`q=`), then
    /// `RateLimit-Limit`, `X-RateLimit-Limit`, `X-Rate-Limit-Limit`.
    pub rate_limit_limit: Option<u64>,
    /// The window's length: `RateLimit-Policy` (`w=`, seconds).
    pub rate_limit_window: Option<Duration>,
    /// The server's own verdict: `x-should-retry`, then `Stripe-Should-Retry` (`true`/`false`,
    /// any case).
    pub should_retry: Option<bool>,
    /// The request id, borrowed from the headers, trimmed, at most [`MAX_REQUEST_ID_LEN`]
    /// bytes: `X-Request-Id`, `request-id` (or a vendor's own, like `X-GitHub-Request-Id`),
    /// `x-amzn-RequestId`, `x-amz-request-id`,
    /// `x-ms-request-id`, `X-Correlation-Id`, `CF-Ray`, `X-Cloud-Trace-Context`, `traceparent`
    /// (the first of these present, in this order, whatever the header order).
    pub request_id: Option<&'a str>,
    /// The first non-empty `Content-Type` header value, trimmed, parameters kept.
    pub content_type: Option<&'a str>,
}

/// Which header a name is. Request-id slots are numbered by precedence: 0 `x-request-id`,
/// 1 `request-id`, 2 `x-amzn-requestid`, 3 `x-amz-request-id`, 4 `x-ms-request-id`,
/// 5 `x-correlation-id`, 6 `cf-ray`, 7 `x-cloud-trace-context`, 8 `traceparent`.
#[derive(Clone, Copy)]
enum Field {
    RetryAfter,
    RetryAfterMs,
    XMsRetryAfterMs,
    RateLimit,
    /// Reset of a family: 0 `RateLimit-`, 1 `X-RateLimit-`, 2 `X-Rate-Limit-`.
    Reset(usize),
    /// Remaining of a family, as in `Reset`.
    Remaining(usize),
    /// Limit of a family, as in `Reset`.
    Limit(usize),
    /// `X-RateLimit-Reset-After`: always delta-seconds.
    ResetAfter,
    RateLimitPolicy,
    XShouldRetry,
    StripeShouldRetry,
    ContentType,
    RequestId(usize),
}

const ID_CLOUD_TRACE: usize = 7;
const ID_TRACEPARENT: usize = 8;

fn field_of(name: &str) -> Option<Field> {
    let is = |lit: &str| eq_name(name.as_bytes(), lit.as_bytes());
    // Length and first letter pick the candidate; one full comparison confirms it. (`| 0x20`
    // lowercases a letter; a false first-byte match is still refused by the comparison.)
    let first = name.as_bytes().first().map_or(0, |b| b | 0x20);
    Some(match (name.len(), first) {
        (6, b'c') if is("cf-ray") => Field::RequestId(6),
        (9, b'r') if is("ratelimit") => Field::RateLimit,
        (10, b'r') if is("request-id") => Field::RequestId(1),
        (11, b'r') if is("retry-after") => Field::RetryAfter,
        (11, b't') if is("traceparent") => Field::RequestId(ID_TRACEPARENT),
        (12, b'x') if is("x-request-id") => Field::RequestId(0),
        (12, b'c') if is("content-type") => Field::ContentType,
        (14, b'r') if is("retry-after-ms") => Field::RetryAfterMs,
        (14, b'x') if is("x-should-retry") => Field::XShouldRetry,
        (15, b'r') if is("ratelimit-reset") => Field::Reset(0),
        (15, b'r') if is("ratelimit-limit") => Field::Limit(0),
        (16, b'r') if is("ratelimit-policy") => Field::RateLimitPolicy,
        (15, b'x') if is("x-ms-request-id") => Field::RequestId(4),
        (16, b'x') if is("x-amzn-requestid") => Field::RequestId(2),
        (16, b'x') if is("x-amz-request-id") => Field::RequestId(3),
        (16, b'x') if is("x-correlation-id") => Field::RequestId(5),
        (17, b'x') if is("x-ratelimit-reset") => Field::Reset(1),
        (17, b'x') if is("x-ratelimit-limit") => Field::Limit(1),
        (18, b'x') if is("x-rate-limit-reset") => Field::Reset(2),
        (18, b'x') if is("x-rate-limit-limit") => Field::Limit(2),
        (23, b'x') if is("x-ratelimit-reset-after") => Field::ResetAfter,
        (19, b'x') if is("x-ms-retry-after-ms") => Field::XMsRetryAfterMs,
        (19, b'r') if is("ratelimit-remaining") => Field::Remaining(0),
        (19, b's') if is("stripe-should-retry") => Field::StripeShouldRetry,
        (21, b'x') if is("x-ratelimit-remaining") => Field::Remaining(1),
        (21, b'x') if is("x-cloud-trace-context") => Field::RequestId(ID_CLOUD_TRACE),
        (22, b'x') if is("x-rate-limit-remaining") => Field::Remaining(2),
        _ => return vendor_request_id(name),
    })
}

/// Vendors' own request-id headers, as explicit as `request-id` (the same precedence slot): any
/// `…-request-id` or `…-req-id` (`X-GitHub-Request-Id`, `X-Okta-Request-Id`,
/// `X-Zendesk-Request-Id`, `X-Dropbox-Request-Id`, `X-Kong-Request-Id`, `Twilio-Request-Id`,
/// `apim-request-id`, Slack's `x-slack-req-id`) except a `client-request-id` (the caller's own
/// id, echoed), and Atlassian `X-AREQUESTID`, `PayPal-Debug-Id`, Facebook `x-fb-trace-id`,
/// `x-vercel-id`.
fn vendor_request_id(name: &str) -> Option<Field> {
    const NAMES: [&str; 4] = [
        "x-arequestid",
        "paypal-debug-id",
        "x-fb-trace-id",
        "x-vercel-id",
    ];
    let b = name.as_bytes();
    let ends = |suffix: &[u8]| {
        b.len() > suffix.len()
            && b.get(b.len() - suffix.len()..)
                .is_some_and(|s| s.eq_ignore_ascii_case(suffix))
    };
    let client_echo = ends(b"client-request-id");
    let vendor = (ends(b"-request-id") || ends(b"-req-id")) && !client_echo;
    (vendor || NAMES.iter().any(|n| eq_name(b, n.as_bytes()))).then_some(Field::RequestId(1))
}

/// `name` equals the lowercase `lit`, ASCII case-insensitively; eight bytes at a time.
#[inline]
fn eq_name(name: &[u8], lit: &[u8]) -> bool {
    if name.len() != lit.len() {
        return false;
    }
    let Some(last) = name.len().checked_sub(8) else {
        return name.eq_ignore_ascii_case(lit);
    };
    let word = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    let same =
        |i: usize| matches!((word(name, i), word(lit, i)), (Some(a), Some(b)) if lower8(a) == b);
    // Whole words, then the last (possibly overlapping) word.
    let mut i = 0;
    while i < last {
        if !same(i) {
            return false;
        }
        i += 8;
    }
    same(last)
}

/// ASCII-lowercase eight bytes at once (exactly what `u8::to_ascii_lowercase` does to each).
#[inline]
const fn lower8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = x & (0x7f * ONES);
    // Per byte, bit 7 is set where the low seven bits are >= b'A', resp. > b'Z' (no carries:
    // 0x7f + 0x3f < 0x100).
    let ge_a = low7 + (0x80 - b'A' as u64) * ONES;
    let gt_z = low7 + (0x80 - b'Z' as u64 - 1) * ONES;
    let upper = ge_a & !gt_z & !x & (0x80 * ONES);
    x | (upper >> 2)
}

/// Read the timing and identity headers. `now_unix_ms` resolves HTTP-dates and epoch resets.
///
/// See the [module documentation](self) for every rule and precedence. One pass, no
/// allocation, no panic on any input.
pub fn read_headers<'a>(headers: &[(&'a str, &'a str)], now_unix_ms: i64) -> HeaderHints<'a> {
    let mut retry_ms: Option<Duration> = None;
    let mut x_ms_retry_ms: Option<Duration> = None;
    let mut retry_after: Option<Duration> = None;
    let mut ietf = Policy::NONE;
    let mut resets: [Option<Duration>; 3] = [None; 3];
    let mut remainings: [Option<u64>; 3] = [None; 3];
    let mut limits: [Option<u64>; 3] = [None; 3];
    let mut reset_after: Option<Duration> = None;
    let mut quota = Quota::NONE;
    let mut x_should: Option<bool> = None;
    let mut stripe_should: Option<bool> = None;
    // The best request id so far, with its precedence slot (lower wins).
    let mut id: Option<(usize, &'a str)> = None;
    let mut content_type: Option<&'a str> = None;

    for &(name, value) in headers {
        let Some(field) = field_of(name) else {
            continue;
        };
        match field {
            Field::RetryAfterMs => fill(&mut retry_ms, || joined(value, parse_ms)),
            Field::XMsRetryAfterMs => fill(&mut x_ms_retry_ms, || joined(value, parse_ms)),
            Field::RetryAfter => fill(&mut retry_after, || {
                joined(value, |v| parse_retry_after(v, now_unix_ms))
            }),
            Field::RateLimit => read_ratelimit(value, now_unix_ms, &mut ietf),
            Field::Reset(i) => {
                if let Some(slot) = resets.get_mut(i) {
                    fill(slot, || joined(value, |v| reset_from_value(v, now_unix_ms)));
                }
            }
            Field::Remaining(i) => {
                if let Some(slot) = remainings.get_mut(i) {
                    fill(slot, || joined(value, |v| parse_count(trim(v))));
                }
            }
            Field::Limit(i) => {
                if let Some(slot) = limits.get_mut(i) {
                    fill(slot, || joined(value, |v| parse_count(trim(v))));
                }
            }
            Field::ResetAfter => fill(&mut reset_after, || {
                joined(value, |v| parse_decimal_milli(trim(v)).map(ms_to_duration))
            }),
            Field::RateLimitPolicy => read_policy(value, &mut quota),
            Field::XShouldRetry => fill(&mut x_should, || joined(value, parse_bool)),
            Field::StripeShouldRetry => fill(&mut stripe_should, || joined(value, parse_bool)),
            Field::ContentType => fill(&mut content_type, || non_empty(trim(value))),
            Field::RequestId(slot) => {
                if !matches!(id, Some((best, _)) if best <= slot) {
                    if let Some(v) = request_id(slot, value) {
                        id = Some((slot, v));
                    }
                }
            }
        }
    }

    let [reset0, reset1, reset2] = resets;
    let [rem0, rem1, rem2] = remainings;
    let [lim0, lim1, lim2] = limits;
    HeaderHints {
        retry_after: retry_ms.or(x_ms_retry_ms).or(retry_after),
        rate_limit_reset: ietf.reset.or(reset0).or(reset_after).or(reset1).or(reset2),
        rate_limit_remaining: ietf.remaining.or(rem0).or(rem1).or(rem2),
        rate_limit_limit: ietf.limit.or(quota.limit).or(lim0).or(lim1).or(lim2),
        rate_limit_window: quota.window,
        should_retry: x_should.or(stripe_should),
        request_id: id.map(|(_, v)| v),
        content_type,
    }
}

/// Set an empty slot from `f` (first valid value wins).
#[inline]
fn fill<T>(slot: &mut Option<T>, f: impl FnOnce() -> Option<T>) {
    if slot.is_none() {
        *slot = f();
    }
}

/// Read `value` with `parse`; if that fails and the value is a comma-joined list (how `fetch`
/// and some proxies merge a repeated field: `5, 5`), read its first element instead.
#[inline]
fn joined<'v, T>(value: &'v str, parse: impl Fn(&'v str) -> Option<T>) -> Option<T> {
    parse(value).or_else(|| value.split_once(',').and_then(|(first, _)| parse(first)))
}

/// Parse a `Retry-After` value relative to `now_unix_ms` (the caller's wall clock, Unix ms).
///
/// - delta-seconds: `DIGITS`, surrounding spaces and tabs tolerated. A fraction (`1.5`) is not
///   in RFC 9110 but some servers send it: it is accepted and kept to the millisecond, rounding
///   up. A sign, an exponent or any other character makes the value invalid (`None`).
/// - HTTP-date in any of the three forms of RFC 9110 §5.6.7 (see [`parse_http_date`]); a
///   two-digit RFC 850 year is resolved against the year of `now_unix_ms` (the year in
///   `(now - 50, now + 50]`). The delay is the date minus now; a past date is zero.
///
/// The result saturates at [`MAX_DELAY`]; it never overflows or panics.
#[must_use]
pub fn parse_retry_after(value: &str, now_unix_ms: i64) -> Option<Duration> {
    let v = trim(value);
    if let Some(milli) = parse_decimal_milli(v) {
        return Some(ms_to_duration(milli));
    }
    let at = date::parse(v, date::TwoDigitYear::AroundUnixMs(now_unix_ms))?;
    Some(until(at.saturating_mul(1000), now_unix_ms))
}

/// Parse an HTTP-date (RFC 9110 §5.6.7) into Unix seconds.
///
/// Accepts IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`). Names are
/// case-insensitive and extra spaces are tolerated; the day may have one digit; the weekday may
/// be short or long, or absent before a numeric date, and must be a real weekday name but is
/// **not** checked against the date (a server's wrong weekday does not hide its date). The
/// zone must be `GMT` (or `UTC`). Impossible dates (30 February, hour 25, second 61) are `None`.
///
/// Without a `now`, a two-digit RFC 850 year is resolved against the year 2000: `00`–`50` are
/// 2000–2050 and `51`–`99` are 1951–1999. [`parse_retry_after`] and [`read_headers`] resolve
/// it against their `now` instead, as RFC 9110 asks.
#[must_use]
pub fn parse_http_date(value: &str) -> Option<i64> {
    date::parse(value, date::TwoDigitYear::Around(2000))
}

/// Turn a rate-limit reset value into a duration from `now_unix_ms`, telling a delta from an
/// epoch by size: below 10^9 it is delta-seconds, from 10^9 epoch seconds, from 10^12 epoch
/// milliseconds. Fractions are allowed (`1763800030.5`); an epoch in the past is zero; the
/// result saturates at [`MAX_DELAY`]. Negative or malformed values are `None`.
#[must_use]
pub fn reset_from_value(value: &str, now_unix_ms: i64) -> Option<Duration> {
    let milli = parse_decimal_milli(trim(value))?;
    Some(reset_from_milli(milli, now_unix_ms))
}

/// `milli` is the reset value times 1000 (so, for a delta or epoch in seconds, milliseconds).
fn reset_from_milli(milli: u64, now_unix_ms: i64) -> Duration {
    if milli >= EPOCH_MS_FROM.saturating_mul(1000) {
        // Epoch milliseconds: `milli / 1000` ms, rounded up.
        until(
            i64::try_from(milli.div_ceil(1000)).unwrap_or(i64::MAX),
            now_unix_ms,
        )
    } else if milli >= EPOCH_S_FROM * 1000 {
        until(i64::try_from(milli).unwrap_or(i64::MAX), now_unix_ms)
    } else {
        ms_to_duration(milli)
    }
}

/// From now until `at_ms` (Unix ms), zero if past, saturating at [`MAX_DELAY`].
fn until(at_ms: i64, now_unix_ms: i64) -> Duration {
    let d = at_ms.saturating_sub(now_unix_ms);
    ms_to_duration(u64::try_from(d).unwrap_or(0))
}

fn ms_to_duration(ms: u64) -> Duration {
    Duration::from_millis(ms.min(MAX_DELAY_MS))
}

/// A millisecond header (`retry-after-ms`): a decimal number of ms, fractions rounded up.
fn parse_ms(value: &str) -> Option<Duration> {
    let milli = parse_decimal_milli(trim(value))?;
    Some(ms_to_duration(milli.div_ceil(1000)))
}

/// `DIGITS` or `DIGITS.DIGITS` → the value times 1000, rounded up, saturating at `u64::MAX`.
fn parse_decimal_milli(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let (int, n) = leading_digits(b);
    if n == 0 {
        return None;
    }
    let mut milli = int.saturating_mul(1000);
    match b.get(n..) {
        Some([]) => {}
        Some([b'.', f @ ..]) => {
            let (_, m) = leading_digits(f);
            if m == 0 || m != f.len() {
                return None;
            }
            // The first three fraction digits are milliseconds; any non-zero digit after them
            // rounds up.
            let digit = |k: usize| f.get(k).map_or(0, |c| u64::from(c.wrapping_sub(b'0')));
            let round_up = f.get(3..).is_some_and(|r| r.iter().any(|&c| c != b'0'));
            let frac = digit(0) * 100 + digit(1) * 10 + digit(2) + u64::from(round_up);
            milli = milli.saturating_add(frac);
        }
        _ => return None,
    }
    Some(milli)
}

/// The value (saturating at `u64::MAX`) and the count of the ASCII digits that `b` starts with.
#[inline]
fn leading_digits(b: &[u8]) -> (u64, usize) {
    let mut v = 0u64;
    let mut n = 0;
    while let Some(d) = b.get(n).map(|c| c.wrapping_sub(b'0')).filter(|&d| d <= 9) {
        v = v.saturating_mul(10).saturating_add(u64::from(d));
        n += 1;
    }
    (v, n)
}

/// A non-negative integer, saturating at `u64::MAX`.
fn parse_count(s: &str) -> Option<u64> {
    let (v, n) = leading_digits(s.as_bytes());
    (n > 0 && n == s.len()).then_some(v)
}

fn parse_bool(value: &str) -> Option<bool> {
    let v = trim(value);
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Which of `headers` [`read_headers`] takes its `content_type` from (the first non-empty
/// `Content-Type`), by the same rules. For a caller that keeps only that header, to parse the
/// same body again later (the wasm binding, for details deferred by
/// [`crate::classify_deferring_details`]).
pub fn content_type_index(headers: &[(&str, &str)]) -> Option<usize> {
    headers.iter().position(|&(name, value)| {
        // `field_of`'s test for the name (called here, it was no longer inlined into
        // `read_headers`: +80 instructions a call).
        eq_name(name.as_bytes(), b"content-type") && non_empty(trim(value)).is_some()
    })
}

/// HTTP optional whitespace (spaces and tabs, and stray CR/LF) around a value.
fn trim(s: &str) -> &str {
    s.trim_ascii()
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The request id a header of request-id slot `slot` carries.
fn request_id(slot: usize, value: &str) -> Option<&str> {
    let v = trim(value);
    let v = match slot {
        ID_CLOUD_TRACE => v.split(['/', ';']).next().map(trim).unwrap_or(""),
        ID_TRACEPARENT => trace_id(v)?,
        _ => v,
    };
    non_empty(trim(truncate(v, MAX_REQUEST_ID_LEN)))
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if well formed and
/// not all zeros.
fn trace_id(v: &str) -> Option<&str> {
    let mut parts = v.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_hexdigit());
    let ok = hex(version, 2)
        && !version.eq_ignore_ascii_case("ff")
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|c| c != b'0')
        && (parts.next().is_none() || version != "00");
    ok.then_some(trace)
}

/// At most `max` bytes of `s`, cut on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// One rate-limit policy of an IETF `RateLimit` field.
#[derive(Clone, Copy)]
struct Policy {
    remaining: Option<u64>,
    reset: Option<Duration>,
    /// The old shape's `limit=`.
    limit: Option<u64>,
}

impl Policy {
    const NONE: Policy = Policy {
        remaining: None,
        reset: None,
        limit: None,
    };

    fn is_empty(&self) -> bool {
        self.remaining.is_none() && self.reset.is_none()
    }

    /// Keep the more restrictive of `self` and `other`: lower remaining (absent counts as
    /// unlimited), then longer reset.
    fn fold(&mut self, other: Policy) {
        if other.is_empty() {
            return;
        }
        let key = |p: &Policy| (p.remaining.is_none(), p.remaining.unwrap_or(u64::MAX));
        let better = if self.is_empty() {
            true
        } else {
            match key(&other).cmp(&key(self)) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Greater => false,
                std::cmp::Ordering::Equal => {
                    other.reset.unwrap_or_default() > self.reset.unwrap_or_default()
                }
            }
        };
        if better {
            *self = other;
        }
    }
}

/// Fold one `RateLimit` field line (either draft shape) into `acc`.
fn read_ratelimit(value: &str, now_unix_ms: i64, acc: &mut Policy) {
    // The old shape's `limit=…, remaining=…, reset=…` members make one policy.
    let mut old = Policy::NONE;
    for member in SplitTop::new(value, b',') {
        let mut parts = SplitTop::new(member, b';');
        let Some(first) = parts.next().map(trim) else {
            continue;
        };
        if let Some((k, v)) = key_value(first) {
            if k.eq_ignore_ascii_case("remaining") {
                fill(&mut old.remaining, || parse_count(v));
            } else if k.eq_ignore_ascii_case("limit") {
                fill(&mut old.limit, || parse_count(v));
            } else if k.eq_ignore_ascii_case("reset") {
                fill(&mut old.reset, || reset_from_value(v, now_unix_ms));
            }
            continue;
        }
        if first.is_empty() {
            continue;
        }
        // New shape: a policy name, then `;r=…;t=…` parameters (others ignored).
        let mut p = Policy::NONE;
        for param in parts {
            if let Some((k, v)) = key_value(trim(param)) {
                if k.eq_ignore_ascii_case("r") {
                    fill(&mut p.remaining, || parse_count(v));
                } else if k.eq_ignore_ascii_case("t") {
                    fill(&mut p.reset, || reset_from_value(v, now_unix_ms));
                }
            }
        }
        acc.fold(p);
    }
    acc.fold(old);
}

/// A quota of `RateLimit-Policy`: `q` requests per window of `w` seconds.
#[derive(Clone, Copy)]
struct Quota {
    limit: Option<u64>,
    window: Option<Duration>,
}

impl Quota {
    const NONE: Quota = Quota {
        limit: None,
        window: None,
    };

    /// The order of preference: the shortest window (absent: longest), then the lowest quota.
    fn key(&self) -> (Duration, u64) {
        (
            self.window.unwrap_or(Duration::MAX),
            self.limit.unwrap_or(u64::MAX),
        )
    }
}

/// Fold one `RateLimit-Policy` line (`"default";q=100;w=60, "daily";q=1000;w=86400`) into
/// `acc`: the policy of the shortest window speaks (then the lowest quota): pacing is about the
/// short run, and a long quota shows in `remaining` anyway; a policy without `q` is skipped.
fn read_policy(value: &str, acc: &mut Quota) {
    for member in SplitTop::new(value, b',') {
        let mut parts = SplitTop::new(member, b';');
        if parts.next().map(trim).map_or(true, str::is_empty) {
            continue;
        }
        let mut p = Quota::NONE;
        for param in parts {
            if let Some((k, v)) = key_value(trim(param)) {
                if k.eq_ignore_ascii_case("q") {
                    fill(&mut p.limit, || parse_count(v));
                } else if k.eq_ignore_ascii_case("w") {
                    fill(&mut p.window, || parse_decimal_milli(v).map(ms_to_duration));
                }
            }
        }
        if p.limit.is_some() && (acc.limit.is_none() || p.key() < acc.key()) {
            *acc = p;
        }
    }
}

/// `key=value` (the key unquoted), both trimmed.
fn key_value(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('"') {
        return None;
    }
    let (k, v) = s.split_once('=')?;
    Some((trim(k), trim(v)))
}

/// Split on an ASCII separator outside double-quoted strings (with `\` escapes).
struct SplitTop<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> SplitTop<'a> {
    fn new(s: &'a str, sep: u8) -> Self {
        SplitTop { rest: Some(s), sep }
    }
}

impl<'a> Iterator for SplitTop<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let b = s.as_bytes();
        let mut i = 0;
        // Jump from separator-or-quote to separator-or-quote; a quoted string is skipped whole.
        while let Some(off) = b
            .get(i..)
            .and_then(|r| r.iter().position(|&c| c == self.sep || c == b'"'))
        {
            let at = i + off;
            if b.get(at) == Some(&self.sep) {
                // `sep` is ASCII, so `at` and `at + 1` are char boundaries.
                self.rest = s.get(at + 1..);
                return s.get(..at);
            }
            // A quoted string: find its closing quote, stepping over `\` escapes.
            let mut k = at + 1;
            loop {
                match b.get(k) {
                    None => {
                        self.rest = None;
                        return Some(s);
                    }
                    Some(b'\\') => k += 2,
                    Some(b'"') => break,
                    Some(_) => k += 1,
                }
            }
            i = k + 1;
        }
        self.rest = None;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_index_is_where_read_headers_takes_it_from() {
        let lists: [&[(&str, &str)]; 7] = [
            &[],
            &[("Content-Type", "application/json")],
            &[
                ("x", "y"),
                ("content-type", "  "),
                ("CONTENT-TYPE", " text/html ; q=1"),
            ],
            &[
                ("content-type", ""),
                ("content-typ", "a/b"),
                ("content-types", "c/d"),
            ],
            &[
                ("content-type", "\t\r\n"),
                ("Content-Type", "a/b"),
                ("content-type", "c/d"),
            ],
            &[("retry-after", "1"), ("x-request-id", "r")],
            &[
                (" content-type", "a/b"),
                ("content-type ", "c/d"),
                ("content-type", "e/f"),
            ],
        ];
        for h in lists {
            let at = content_type_index(h);
            let from_index = at.map(|i| trim(h[i].1));
            assert_eq!(from_index, read_headers(h, 0).content_type, "{h:?}");
            if let Some(i) = at {
                // The very value read_headers returns, not an equal one elsewhere.
                let ct = read_headers(h, 0).content_type.unwrap();
                assert!(h[i].1.as_bytes().as_ptr_range().contains(&ct.as_ptr()) || ct.is_empty());
            }
        }
    }

    const NOW: i64 = 1_763_800_000_000;

    fn ms(d: Option<Duration>) -> Option<u128> {
        d.map(|d| d.as_millis())
    }

    #[test]
    fn lower8_is_to_ascii_lowercase() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = *b"aZ-9\x80\xffQz";
                if let Some(x) = w.get_mut(pos) {
                    *x = b;
                }
                let want = u64::from_le_bytes(w.map(|c| c.to_ascii_lowercase()));
                assert_eq!(lower8(u64::from_le_bytes(w)), want, "byte {b:#x} at {pos}");
            }
        }
        assert!(eq_name(b"X-RateLimit-Remaining", b"x-ratelimit-remaining"));
        assert!(eq_name(b"CF-RAY", b"cf-ray"));
        assert!(!eq_name(
            b"x\rratelimit-remaining",
            b"x-ratelimit-remaining"
        ));
        assert!(!eq_name(b"X-RateLimit-Remaininh", b"x-ratelimit-remaining"));
        assert!(!eq_name(b"Y-RateLimit-Remaining", b"x-ratelimit-remaining"));
        assert!(!eq_name(b"x-ratelimit-reset", b"x-ratelimit-remaining"));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal_milli("0"), Some(0));
        assert_eq!(parse_decimal_milli("7"), Some(7000));
        assert_eq!(parse_decimal_milli("1.5"), Some(1500));
        assert_eq!(parse_decimal_milli("1.05"), Some(1050));
        assert_eq!(parse_decimal_milli("1.0001"), Some(1001));
        assert_eq!(parse_decimal_milli("1.0000"), Some(1000));
        assert_eq!(
            parse_decimal_milli("99999999999999999999999999999"),
            Some(u64::MAX)
        );
        for bad in ["", ".5", "5.", "-1", "+1", "1e3", "1 2", "1.2.3", "x", "١"] {
            assert_eq!(parse_decimal_milli(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(ms(parse_retry_after(" 120 ", NOW)), Some(120_000));
        assert_eq!(ms(parse_retry_after("1.5", NOW)), Some(1500));
        assert_eq!(parse_retry_after("1e30", NOW), None);
        assert_eq!(parse_retry_after(&"9".repeat(40), NOW), Some(MAX_DELAY));
        assert_eq!(
            ms(parse_retry_after("Sat, 22 Nov 2025 08:27:10 GMT", NOW)),
            Some(30_000)
        );
        assert_eq!(
            ms(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW)),
            Some(0)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", NOW),
            Some(MAX_DELAY)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", i64::MIN),
            Some(MAX_DELAY)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", i64::MAX),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn http_date_pivot() {
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert!(
            parse_http_date("Monday, 01-Jan-50 00:00:00 GMT").is_some_and(|s| s > 2_000_000_000)
        );
        assert!(parse_http_date("Monday, 01-Jan-51 00:00:00 GMT").is_some_and(|s| s < 0));
    }

    #[test]
    fn resets() {
        let r = |v: &str| ms(reset_from_value(v, NOW));
        assert_eq!(r("30"), Some(30_000));
        assert_eq!(r("999999999"), Some(999_999_999_000));
        assert_eq!(r("1000000000"), Some(0));
        assert_eq!(r("1763800030"), Some(30_000));
        assert_eq!(r("1763800030.25"), Some(30_250));
        assert_eq!(r("1763800030250"), Some(30_250));
        assert_eq!(r("999999999999"), Some(MAX_DELAY.as_millis()));
        assert_eq!(r("1000000000000"), Some(0));
        assert_eq!(r("-5"), None);
    }

    #[test]
    fn ietf_shapes() {
        let h = |v: &str| {
            let hh = read_headers(&[("RateLimit", v)], NOW);
            (hh.rate_limit_remaining, ms(hh.rate_limit_reset))
        };
        assert_eq!(
            h("limit=100, remaining=0, reset=30"),
            (Some(0), Some(30_000))
        );
        assert_eq!(h("\"default\";r=0;t=30"), (Some(0), Some(30_000)));
        assert_eq!(
            h("\"a\";r=0;t=30, \"b\";r=0;t=60, \"c\";r=5;t=1"),
            (Some(0), Some(60_000))
        );
        assert_eq!(h("\"a,;\\\"x\";r=3;t=9"), (Some(3), Some(9_000)));
        assert_eq!(h("default;t=9"), (None, Some(9_000)));
        assert_eq!(h("garbage"), (None, None));
        assert_eq!(h(""), (None, None));
    }

    #[test]
    fn ids() {
        assert_eq!(
            request_id(ID_CLOUD_TRACE, "105445aa7843bc8bf206b12000100000/1;o=1"),
            Some("105445aa7843bc8bf206b12000100000")
        );
        assert_eq!(
            request_id(
                ID_TRACEPARENT,
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            ),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            request_id(
                ID_TRACEPARENT,
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
            ),
            None
        );
        let long = "é".repeat(200);
        let t = request_id(0, &long).unwrap_or_default();
        assert_eq!(t.len(), 256);
        let long = format!("a{}", "é".repeat(200));
        let t = request_id(0, &long).unwrap_or_default();
        assert_eq!(t.len(), 255);
    }

    #[test]
    fn no_allocation_shape() {
        // Borrowed straight from the input.
        let headers = [
            ("x-request-id", "  abc  "),
            ("Content-Type", "application/json"),
        ];
        let h = read_headers(&headers, NOW);
        assert_eq!(h.request_id, Some("abc"));
        assert_eq!(h.content_type, Some("application/json"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(
            name in proptest::sample::select(vec![
                "Retry-After", "retry-after-ms", "x-ms-retry-after-ms", "RateLimit",
                "RateLimit-Reset", "X-RateLimit-Reset", "x-rate-limit-remaining",
                "x-should-retry", "traceparent", "x-cloud-trace-context", "X-Request-Id",
            ]),
            value in "\\PC{0,64}",
            now in proptest::num::i64::ANY,
        ) {
            let h = read_headers(&[(name, value.as_str())], now);
            if let Some(d) = h.retry_after { proptest::prop_assert!(d <= MAX_DELAY); }
            if let Some(d) = h.rate_limit_reset { proptest::prop_assert!(d <= MAX_DELAY); }
            let _ = parse_http_date(&value);
            let _ = parse_retry_after(&value, now);
        }

        #[test]
        fn near_misses_never_panic(
            date in "[A-Za-z]{0,9},? {0,2}[0-9]{0,3}[ -]?[A-Za-z]{0,4}[ -]?[0-9]{0,5} ?[0-9]{0,3}:?[0-9]{0,3}:?[0-9]{0,3} ?[A-Za-z]{0,3}",
            asctime in "[A-Za-z]{3} [A-Za-z]{3} {1,2}[0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{1,5}",
            number in "-?[0-9]{0,40}(\\.[0-9]{0,30})?",
            now in proptest::num::i64::ANY,
        ) {
            for v in [&date, &asctime, &number] {
                for name in ["Retry-After", "retry-after-ms", "X-RateLimit-Reset", "RateLimit-Remaining"] {
                    let h = read_headers(&[(name, v.as_str())], now);
                    if let Some(d) = h.retry_after { proptest::prop_assert!(d <= MAX_DELAY); }
                    if let Some(d) = h.rate_limit_reset { proptest::prop_assert!(d <= MAX_DELAY); }
                }
                let rl = format!("\"p\";r={v};t={v}, limit={v}, remaining={v}, reset={v}");
                let _ = read_headers(&[("RateLimit", rl.as_str())], now);
            }
        }

        #[test]
        fn dates_round_trip(days in -719_162i64..2_932_896, secs in 0i64..86_400, form in 0usize..3) {
            // Build a date string from a Unix time and read it back.
            let t = days * 86_400 + secs;
            let (y, m, d) = civil(days);
            proptest::prop_assert_eq!(civil_from_days(days), (y, m, d));
            let months = ["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"];
            let mon = months.get(m as usize - 1).copied().unwrap_or("Jan");
            let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
            let s = match form {
                0 => format!("Mon, {d:02} {mon} {y:04} {hh:02}:{mm:02}:{ss:02} GMT"),
                1 => format!("Monday, {d:02}-{mon}-{y:04} {hh:02}:{mm:02}:{ss:02} GMT"),
                _ => format!("Mon {mon} {d:>2} {hh:02}:{mm:02}:{ss:02} {y:04}"),
            };
            proptest::prop_assert_eq!(parse_http_date(&s), Some(t), "{}", s);
        }
    }

    /// Reference civil-from-days for the round trip.
    fn civil(days: i64) -> (i64, u32, u32) {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y, m, d)
    }

    /// Release-mode timing: `cargo test --release -p http-triage --lib headers::tests::timing
    /// -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        let headers = [
            ("Date", "Sat, 22 Nov 2025 08:26:40 GMT"),
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", "123"),
            ("Connection", "keep-alive"),
            ("Retry-After", "7"),
            ("X-RateLimit-Limit", "100"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "1763800030"),
            ("X-Request-Id", "req_0123456789abcdef"),
            ("Server", "nginx"),
        ];
        let date_headers = [
            ("Content-Type", "application/json"),
            ("Retry-After", "Sat, 22 Nov 2025 08:27:10 GMT"),
            ("RateLimit", "\"default\";r=0;t=30"),
            ("RateLimit-Policy", "\"default\";q=100;w=60"),
            ("CF-Ray", "8c1d2e3f4a5b6c7d-AMS"),
            ("Vary", "Accept-Encoding"),
            ("Cache-Control", "no-store"),
            ("Strict-Transport-Security", "max-age=31536000"),
            ("x-should-retry", "true"),
            ("Server", "cloudflare"),
        ];
        for (label, hs) in [
            ("delta+X-RateLimit", &headers),
            ("date+RateLimit", &date_headers),
        ] {
            let n = 2_000_000u32;
            let start = std::time::Instant::now();
            let mut acc = 0u128;
            for i in 0..n {
                let h = read_headers(std::hint::black_box(hs), NOW + i64::from(i & 1));
                acc += h.retry_after.map_or(0, |d| d.as_millis());
                acc += u128::from(h.request_id.is_some());
            }
            let per = start.elapsed().as_nanos() / u128::from(n);
            println!("read_headers ({label}, 10 headers): {per} ns/call (acc {acc})");
        }
    }
}
