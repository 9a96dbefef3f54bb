//! Classification: what came back (status + headers + body, or how the connection broke) →
//! a [`Category`], a machine-readable [`Reason`], and everything the envelope and headers said.
//!
//! The order of evidence, strongest first:
//! 1. the caller's [`Rules`] (per error code, then per status);
//! 2. a 2xx/3xx is a success unless its body says it failed (`{"ok": false}`, GraphQL `errors`,
//!    Google Maps' `{"status": "OVER_QUERY_LIMIT", "error_message"}`); then its code decides,
//!    else an HTTP error status the body states (monday.com's `"status_code": 429`) does, as
//!    if it had been the response's;
//! 3. the error *code*: quota codes stop the batch even on a 429, rate-limit codes are retryable
//!    even on AWS's 400 `ThrottlingException`, auth codes stop the batch;
//! 4. the status, refined by the code (422 `corrupted` is `corrupted`, not just `unprocessable`)
//!    and in four cases by the message: a 403 that says it throttles is a rate limit (GitHub);
//!    a 403 that says one recipient refused is permanent, not auth (Telegram's "bot was blocked
//!    by the user"); a 400, 403, 409 or vendor-specific 4xx that says the credit balance is
//!    too low or a quota is exceeded is a quota (Anthropic, Azure, DeepL's 456; not a 429, and
//!    not a 404, 413, 422… whose status names the problem); a 429 with no wait and no specific code
//!    that names a daily or monthly limit is a quota (HubSpot, Pinecone);
//! 5. the server's explicit word (`x-should-retry`, `Stripe-Should-Retry`, a body `retryable`)
//!    flips retryable ⇄ permanent, but never overrides auth, quota or pending;
//! 6. last, whether repeating the request is safe: a retryable failure of a non-idempotent
//!    request (POST without an Idempotency-Key) becomes permanent (`not_safe_to_repeat`) unless
//!    the failure proves the server never acted on it (connect errors, 429, 503, 408, …).

use crate::envelope::{parse_envelope_with, Dialect, Envelope, Limits, Violation};
use crate::headers::read_headers;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What a driver should do with a call, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// A 2xx/3xx that carries no error: keep the result.
    Success,
    /// Transient (408, 429 rate limit, 5xx, timeouts, resets, refused connections): wait, try again.
    Retryable,
    /// Still processing (412 + `retryable: true`, 202): poll again after an interval.
    Pending,
    /// The request or the item is bad (400, 404, 413, 422, corrupted, …): quarantine it, go on.
    Permanent,
    /// 401/403, revoked key, bad signature: stop the whole batch.
    Auth,
    /// Quota or billing exhausted: stop the whole batch.
    Quota,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 6] = [
        Category::Success,
        Category::Retryable,
        Category::Pending,
        Category::Permanent,
        Category::Auth,
        Category::Quota,
    ];

    /// The snake_case name (`"retryable"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Success => "success",
            Category::Retryable => "retryable",
            Category::Pending => "pending",
            Category::Permanent => "permanent",
            Category::Auth => "auth",
            Category::Quota => "quota",
        }
    }

    /// True for the categories that stop a whole batch (auth, quota).
    pub fn stops_batch(self) -> bool {
        matches!(self, Category::Auth | Category::Quota)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| crate::Error::UnknownName {
                kind: "category",
                value: s.chars().take(64).collect(),
            })
    }
}

/// How a call broke when no response came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransportError {
    /// The host name did not resolve.
    Dns,
    /// The server refused the connection.
    ConnectRefused,
    /// The connection could not be set up in time.
    ConnectTimeout,
    /// The TLS handshake failed.
    Tls,
    /// The connection was reset after it was set up, before any response.
    ResetBeforeResponse,
    /// The request was sent, and no response came in time.
    TimeoutAfterSend,
    /// The server closed the connection before responding.
    ClosedBeforeResponse,
    /// A response started but its body was cut short.
    BodyTruncated,
}

impl TransportError {
    /// Every kind, in declaration order.
    pub const ALL: [TransportError; 8] = [
        TransportError::Dns,
        TransportError::ConnectRefused,
        TransportError::ConnectTimeout,
        TransportError::Tls,
        TransportError::ResetBeforeResponse,
        TransportError::TimeoutAfterSend,
        TransportError::ClosedBeforeResponse,
        TransportError::BodyTruncated,
    ];

    /// The snake_case name (`"connect_refused"`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportError::Dns => "dns",
            TransportError::ConnectRefused => "connect_refused",
            TransportError::ConnectTimeout => "connect_timeout",
            TransportError::Tls => "tls",
            TransportError::ResetBeforeResponse => "reset_before_response",
            TransportError::TimeoutAfterSend => "timeout_after_send",
            TransportError::ClosedBeforeResponse => "closed_before_response",
            TransportError::BodyTruncated => "body_truncated",
        }
    }

    /// False when the failure proves the request never reached the server (no connection was
    /// ever established), so even a non-idempotent request is safe to send again.
    pub fn may_have_reached_server(self) -> bool {
        !matches!(
            self,
            TransportError::Dns
                | TransportError::ConnectRefused
                | TransportError::ConnectTimeout
                | TransportError::Tls
        )
    }

    fn reason(self) -> Reason {
        match self {
            TransportError::Dns => Reason::Dns,
            TransportError::ConnectRefused => Reason::ConnectRefused,
            TransportError::ConnectTimeout => Reason::ConnectTimeout,
            TransportError::Tls => Reason::Tls,
            TransportError::ResetBeforeResponse => Reason::ResetBeforeResponse,
            TransportError::TimeoutAfterSend => Reason::TimeoutAfterSend,
            TransportError::ClosedBeforeResponse => Reason::ClosedBeforeResponse,
            TransportError::BodyTruncated => Reason::BodyTruncated,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TransportError {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TransportError::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| crate::Error::UnknownName {
                kind: "transport error",
                value: s.chars().take(64).collect(),
            })
    }
}

macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )*) => {
        /// Why a call got its category: a stable, machine-readable name (`"rate_limited"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[$doc])* $variant, )*
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The snake_case name.
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $name,)* }
            }
        }
    };
}

reasons! {
    /// A 2xx/3xx without an error.
    Ok => "ok",
    /// 202 Accepted: the work goes on elsewhere.
    Accepted => "accepted",
    /// Not ready yet (412 with `retryable: true`, a pending code).
    NotReady => "not_ready",
    /// Throttled (429, a rate-limit code, a 403 with Retry-After).
    RateLimited => "rate_limited",
    /// The server says it is overloaded (529, `overloaded_error`).
    Overloaded => "overloaded",
    /// 500 and other 5xx.
    ServerError => "server_error",
    /// 502.
    BadGateway => "bad_gateway",
    /// 503.
    ServiceUnavailable => "service_unavailable",
    /// 504.
    GatewayTimeout => "gateway_timeout",
    /// 408.
    RequestTimeout => "request_timeout",
    /// 425.
    TooEarly => "too_early",
    /// 409 while a request with the same Idempotency-Key is still in flight.
    IdempotencyInFlight => "idempotency_in_flight",
    /// A 4xx the server explicitly marked retryable.
    ServerSaysRetry => "server_says_retry",
    /// DNS failure.
    Dns => "dns",
    /// Connection refused.
    ConnectRefused => "connect_refused",
    /// Connection timed out.
    ConnectTimeout => "connect_timeout",
    /// TLS handshake failed.
    Tls => "tls",
    /// Connection reset before a response.
    ResetBeforeResponse => "reset_before_response",
    /// Timed out after the request was sent.
    TimeoutAfterSend => "timeout_after_send",
    /// Connection closed before a response.
    ClosedBeforeResponse => "closed_before_response",
    /// Response body cut short.
    BodyTruncated => "body_truncated",
    /// 400.
    BadRequest => "bad_request",
    /// Field validation failed (violations, or a validation code).
    Validation => "validation",
    /// 404.
    NotFound => "not_found",
    /// 410.
    Gone => "gone",
    /// 405.
    MethodNotAllowed => "method_not_allowed",
    /// 409 that is not an in-flight idempotent request.
    Conflict => "conflict",
    /// 413 or a too-large code.
    PayloadTooLarge => "payload_too_large",
    /// 415.
    UnsupportedMediaType => "unsupported_media_type",
    /// 422 without a more precise code.
    Unprocessable => "unprocessable",
    /// The file is corrupted or truncated.
    Corrupted => "corrupted",
    /// The file is encrypted or password-protected.
    Encrypted => "encrypted",
    /// The format, variant or route is not supported.
    Unsupported => "unsupported",
    /// 412 that is not a "still processing" signal.
    PreconditionFailed => "precondition_failed",
    /// 501, 505.
    NotImplemented => "not_implemented",
    /// Another 4xx.
    ClientError => "client_error",
    /// A 1xx or a status outside 100..=599.
    UnexpectedStatus => "unexpected_status",
    /// A 2xx whose body carries an error with no more precise code.
    ErrorInBody => "error_in_body",
    /// A transient-looking failure the server marked not retryable.
    ServerSaysNoRetry => "server_says_no_retry",
    /// Retryable in itself, but the request is not safe to repeat (POST without an
    /// Idempotency-Key) and may have reached the server.
    NotSafeToRepeat => "not_safe_to_repeat",
    /// 401 or an authentication code.
    Unauthenticated => "unauthenticated",
    /// 403 or a permission code.
    Forbidden => "forbidden",
    /// A quota code (`quota_exceeded`, `insufficient_quota`, …).
    QuotaExceeded => "quota_exceeded",
    /// 402.
    PaymentRequired => "payment_required",
    /// Decided by a caller's per-status rule.
    StatusRule => "status_rule",
    /// Decided by a caller's per-code rule.
    CodeRule => "code_rule",
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Reason {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| crate::Error::UnknownName {
                kind: "reason",
                value: s.chars().take(64).collect(),
            })
    }
}

/// The request that was sent, as far as classification cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
    idempotent_method: bool,
    idempotency_key: bool,
}

impl Request {
    /// A request with this method. GET, HEAD, OPTIONS, TRACE, PUT and DELETE are idempotent
    /// (RFC 9110 §9.2.2); anything else (POST, PATCH, unknown methods) is not.
    pub fn new(method: &str) -> Self {
        let idempotent_method = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method.trim()));
        Request {
            idempotent_method,
            idempotency_key: false,
        }
    }

    /// A request whose method is not known: treated as safe to repeat, so the classification is
    /// that of the response alone.
    pub fn unknown() -> Self {
        Request {
            idempotent_method: true,
            idempotency_key: false,
        }
    }

    /// Whether the request carried an `Idempotency-Key` header.
    #[must_use]
    pub fn with_idempotency_key(mut self, has_key: bool) -> Self {
        self.idempotency_key = has_key;
        self
    }

    /// True when sending the request twice cannot do the work twice.
    pub fn is_repeatable(&self) -> bool {
        self.idempotent_method || self.idempotency_key
    }
}

/// A response, as plain parts: no HTTP client's types.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The status code.
    pub status: u16,
    /// Header name/value pairs; names are matched case-insensitively, repeats are allowed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body bytes (as much as was read).
    pub body: &'a [u8],
    /// How much of the body to examine.
    pub limits: Limits,
}

impl<'a> Response<'a> {
    /// A response with the default [`Limits`].
    pub fn new(status: u16, headers: &'a [(&'a str, &'a str)], body: &'a [u8]) -> Self {
        Response {
            status,
            headers,
            body,
            limits: Limits::DEFAULT,
        }
    }

    /// The same response with other parsing limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// A caller's overrides: "409 is retryable here", "code `locked` is pending".
///
/// A code rule matches the envelope's code after normalization (case and punctuation ignored,
/// so `rate_limited`, `RATE_LIMITED` and `RateLimited` are one code). Code rules win over
/// status rules, and both win over the built-in rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Per-status overrides.
    #[serde(default)]
    pub status: std::collections::BTreeMap<u16, Category>,
    /// Per-code overrides (keys as given; matched normalized).
    #[serde(default)]
    pub codes: std::collections::BTreeMap<String, Category>,
}

impl Rules {
    /// No overrides.
    pub fn new() -> Self {
        Rules::default()
    }

    /// Add a per-status override.
    #[must_use]
    pub fn status(mut self, status: u16, category: Category) -> Self {
        self.status.insert(status, category);
        self
    }

    /// Add a per-code override.
    #[must_use]
    pub fn code(mut self, code: &str, category: Category) -> Self {
        self.codes.insert(code.to_owned(), category);
        self
    }

    /// Add one rule as a caller writes it in data (`"status": {"409": "retryable"}`, `"codes":
    /// {"locked": "pending"}`): `place` is `"status"` (the key an HTTP status, 100-999) or
    /// `"codes"`; `category` the category's name, `None` when the value is not a string. The
    /// wire format and the bindings read rules through this, so they check them alike; the
    /// error message names the place, never the value (a caller may paste anything there).
    pub fn add_named(
        &mut self,
        place: &str,
        key: &str,
        category: Option<&str>,
    ) -> Result<(), String> {
        let status = match place {
            "status" => Some(
                crate::envelope::parse_u64(key)
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (100..=999).contains(s))
                    .ok_or("`rules.status` keys must be HTTP statuses like \"409\"")?,
            ),
            "codes" => None,
            _ => {
                let shown: String = place.chars().take(40).collect();
                return Err(format!(
                    "unknown field `rules.{shown}` (known: status, codes)"
                ));
            }
        };
        let category = category
            .and_then(|c| c.parse::<Category>().ok())
            .ok_or_else(|| {
                let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                format!(
                    "`rules.{place}` values must be one of: {}",
                    names.join(", ")
                )
            })?;
        match status {
            Some(s) => self.status.insert(s, category),
            None => self.codes.insert(key.to_owned(), category),
        };
        Ok(())
    }

    fn for_code(&self, norm: &str) -> Option<Category> {
        if self.codes.is_empty() || norm.is_empty() {
            return None;
        }
        self.codes
            .iter()
            .find(|(k, _)| NormCode::of(k).as_str() == norm)
            .map(|(_, c)| *c)
    }

    /// True when no override is set.
    pub fn is_empty(&self) -> bool {
        self.status.is_empty() && self.codes.is_empty()
    }
}

/// The verdict on one call, with everything that was read to reach it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Classification {
    /// What to do, in one word.
    pub category: Category,
    /// Why.
    pub reason: Reason,
    /// The HTTP status, when a response came back.
    pub status: Option<u16>,
    /// How the call broke, when no response came back.
    pub transport_error: Option<TransportError>,
    /// The error code from the body.
    pub code: Option<String>,
    /// The message from the body (or the `<title>` of an HTML page).
    pub message: Option<String>,
    /// The request id from the headers, else from the body.
    pub request_id: Option<String>,
    /// A second support reference from the body.
    pub reference_id: Option<String>,
    /// The server's word on retrying: `x-should-retry` / `Stripe-Should-Retry`, else the body's
    /// `retryable` flag.
    pub retryable_hint: Option<bool>,
    /// How long the server asked to wait: `retry-after-ms`, `x-ms-retry-after-ms`,
    /// `Retry-After`, a body hint, and on a 429/503 (or with no requests left) the rate-limit
    /// reset, in that order.
    pub retry_after: Option<Duration>,
    /// Requests left in the rate-limit window, when the headers say.
    pub rate_limit_remaining: Option<u64>,
    /// When the rate-limit window resets, from now, when the headers say (on any status).
    pub rate_limit_reset: Option<Duration>,
    /// The window's request quota, when the headers say (`X-RateLimit-Limit`, `RateLimit-Policy`).
    pub rate_limit_limit: Option<u64>,
    /// The window's length, when the headers say (`RateLimit-Policy`'s `w`).
    pub rate_limit_window: Option<Duration>,
    /// Field-level problems.
    pub violations: Vec<Violation>,
    /// Which body dialect was read.
    pub dialect: Dialect,
    /// Structured details from the body, kept as JSON text
    /// ([`Details::to_value`](crate::Details::to_value) parses them).
    pub details: Option<crate::envelope::Details>,
    /// True when the failure proves the server did not act on the request, so that repeating
    /// even a non-idempotent request is safe.
    pub request_not_processed: bool,
}

impl Classification {
    fn bare(category: Category, reason: Reason) -> Self {
        Classification {
            category,
            reason,
            status: None,
            transport_error: None,
            code: None,
            message: None,
            request_id: None,
            reference_id: None,
            retryable_hint: None,
            retry_after: None,
            rate_limit_remaining: None,
            rate_limit_reset: None,
            rate_limit_limit: None,
            rate_limit_window: None,
            violations: Vec::new(),
            dialect: Dialect::Empty,
            details: None,
            request_not_processed: false,
        }
    }

    /// `retry_after` in seconds as a float, as the CLI and the bindings show it.
    pub fn retry_after_seconds(&self) -> Option<f64> {
        self.retry_after.map(|d| d.as_secs_f64())
    }
}

/// Classify a transport failure (no response came back).
pub fn classify_transport(kind: TransportError, request: &Request) -> Classification {
    let mut c = Classification::bare(Category::Retryable, kind.reason());
    c.transport_error = Some(kind);
    c.request_not_processed = !kind.may_have_reached_server();
    apply_safety(&mut c, request);
    c
}

/// Classify a response. `now_unix_ms` (the caller's wall clock, Unix milliseconds) resolves
/// HTTP-dates in `Retry-After` and epoch `X-RateLimit-Reset` values.
pub fn classify(
    response: &Response<'_>,
    request: &Request,
    now_unix_ms: i64,
    rules: &Rules,
) -> Classification {
    classify_with(response, request, now_unix_ms, rules, false)
}

/// [`classify`], except that `details` are not built: when the body has some, the result's
/// `details` are [`Details::is_deferred`] ones (present, with no text), and
/// [`classify`] of the same response gives them. Everything else is as [`classify`] gives
/// it. For bindings that hand `details` over only when asked: building their text was ~10%
/// of classifying a typical envelope in wasm, and most callers never read them.
///
/// [`Details::is_deferred`]: crate::Details::is_deferred
pub fn classify_deferring_details(
    response: &Response<'_>,
    request: &Request,
    now_unix_ms: i64,
    rules: &Rules,
) -> Classification {
    classify_with(response, request, now_unix_ms, rules, true)
}

fn classify_with(
    response: &Response<'_>,
    request: &Request,
    now_unix_ms: i64,
    rules: &Rules,
    defer_details: bool,
) -> Classification {
    let status = response.status;
    let hints = read_headers(response.headers, now_unix_ms);
    let success_status = (200..400).contains(&status);

    let mut limits = response.limits;
    if success_status {
        // Errors carried by a 2xx are small; a large JSON success must not cost a full parse.
        limits.max_body_bytes = limits.max_body_bytes.min(SUCCESS_SNIFF_BYTES);
    }
    // A success body is only parsed when it may carry an error, so successful downloads cost
    // nothing here.
    let env: Envelope =
        if success_status && !success_may_carry_error(response.body, hints.content_type) {
            Envelope::default()
        } else {
            // The envelope's own wait only counts when no `Retry-After` header gave one (see
            // `retry_after` below), so its message is not scanned for one in prose otherwise.
            parse_envelope_with(
                response.body,
                hints.content_type,
                &limits,
                hints.retry_after.is_none(),
                defer_details,
            )
        };

    let mut env = env;
    if let Some(code) = query_error_code(response.headers) {
        // AWS query-compatible JSON services: the legacy Query code in `x-amzn-query-error`
        // (`AWS.SimpleQueueService.NonExistentQueue;Sender`) is the one callers match on.
        env.code = Some(code);
    }
    if env.code.is_none() {
        // AWS restJson1, Azure Storage and gRPC-web put the code in a header, not the body.
        // gRPC-web answers failures with HTTP 200, so a header code marks a 2xx as failed too.
        env.code = header_error_code(response.headers);
        env.signals_error |= env.code.is_some();
    }
    // "Still running" is a poll's answer: a POST that created a payment now `processing`
    // succeeded, and must not be sent again.
    env.in_progress &= request.is_repeatable();
    let code_buf = NormCode::of(env.code.as_deref().unwrap_or(""));
    let mut norm = code_buf.as_str();
    if env.dialect == Dialect::Facebook {
        norm = facebook_code(norm).unwrap_or(norm);
    }
    let google_throttle = norm == "resourceexhausted"
        || (env.dialect == Dialect::GoogleRpc
            && by_code(norm).is_some_and(|v| v.1 == Reason::RateLimited));
    let long_quota = || {
        if env.dialect == Dialect::GoogleRpc {
            env.long_quota
        } else {
            match env.details.as_ref() {
                // Deferred: built here after all (only a non-Google RESOURCE_EXHAUSTED gets here).
                Some(d) if d.is_deferred() => {
                    parse_envelope_with(response.body, hints.content_type, &limits, false, false)
                        .details
                        .as_ref()
                        .is_some_and(names_long_quota)
                }
                d => d.is_some_and(names_long_quota),
            }
        }
    };
    if google_throttle && long_quota() {
        // Google uses RESOURCE_EXHAUSTED (and ErrorInfo reasons like RATE_LIMIT_EXCEEDED) for
        // per-minute rate limits and per-day quotas alike; only the quota id tells them apart.
        norm = "quotaexceeded";
    }
    let retryable_hint = hints.should_retry.or(env.retryable);
    let retry_after = hints.retry_after.or(env.retry_after).or_else(|| {
        let throttled = matches!(status, 429 | 503) || hints.rate_limit_remaining == Some(0);
        if throttled {
            hints.rate_limit_reset
        } else {
            None
        }
    });

    let (category, reason, not_processed) = if let Some(cat) = rules.for_code(norm) {
        (cat, Reason::CodeRule, false)
    } else if let Some(cat) = rules.status.get(&status) {
        (*cat, Reason::StatusRule, false)
    } else {
        by_evidence(
            status,
            &env,
            norm,
            retryable_hint,
            retry_after.is_some(),
            hints.rate_limit_remaining,
            success_status,
        )
    };

    let mut c = Classification {
        category,
        reason,
        status: Some(status),
        transport_error: None,
        code: env.code,
        message: env.message,
        request_id: hints.request_id.map(str::to_owned).or(env.request_id),
        reference_id: env.reference_id,
        retryable_hint,
        retry_after,
        rate_limit_remaining: hints.rate_limit_remaining,
        rate_limit_reset: hints.rate_limit_reset,
        rate_limit_limit: hints.rate_limit_limit,
        rate_limit_window: hints.rate_limit_window,
        violations: env.violations,
        dialect: env.dialect,
        details: env.details,
        // Only the explicit headers (`x-should-retry`, `Stripe-Should-Retry`) are the server's
        // word that repeating is safe; a body's `retryable: true` says retrying helps, not that
        // nothing happened.
        request_not_processed: not_processed || hints.should_retry == Some(true),
    };
    apply_safety(&mut c, request);
    c
}

/// How much of a 2xx body is read for an error: errors carried by a success are small.
const SUCCESS_SNIFF_BYTES: usize = 8 * 1024;

/// AWS query-compatible JSON services (SQS, …) send the Query protocol's code in
/// `x-amzn-query-error: CODE;Sender|Receiver`.
fn query_error_code(headers: &[(&str, &str)]) -> Option<String> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-amzn-query-error"))
        .and_then(|(_, v)| {
            let code = v.split(';').next().unwrap_or(v).trim();
            (!code.is_empty() && code.len() <= 256).then(|| code.to_owned())
        })
}

/// Facebook Graph error numbers as the codes [`by_code`] knows: 4, 17, 32, 613 and the
/// business-use-case range 80000–80014 are throttling (under `OAuthException` too), 1 and 2
/// transient, 102 and 190 an invalid or expired token, 10 and 200–299 missing permissions.
fn facebook_code(norm: &str) -> Option<&'static str> {
    let n = u32::try_from(crate::envelope::parse_u64(norm)?).ok()?;
    Some(match n {
        4 | 17 | 32 | 613 | 80_000..=80_014 => "ratelimitexceeded",
        1 | 2 => "temporarilyunavailable",
        102 | 190 => "invalidtoken",
        10 | 200..=299 => "permissiondenied",
        _ => return None,
    })
}

/// The error code some APIs send in a header instead of the body: AWS restJson1
/// `x-amzn-ErrorType` (`ThrottlingException:http://…` → `ThrottlingException`), Azure
/// `x-ms-error-code`, gRPC-web `grpc-status` (numeric; mapped to its name).
fn header_error_code(headers: &[(&str, &str)]) -> Option<String> {
    for (name, value) in headers {
        // The name first: most headers are none of these, and their values need no trim.
        let which = if name.eq_ignore_ascii_case("x-amzn-errortype") {
            0
        } else if name.eq_ignore_ascii_case("x-ms-error-code") {
            1
        } else if name.eq_ignore_ascii_case("grpc-status") {
            2
        } else {
            continue;
        };
        let v = value.trim();
        if v.is_empty() || v.len() > 256 {
            continue;
        }
        match which {
            0 => {
                let code = v.split(':').next().unwrap_or(v).trim();
                return Some(code.to_owned()).filter(|c| !c.is_empty());
            }
            1 => return Some(v.to_owned()),
            _ => {
                if let Some(name) = crate::envelope::parse_u64(v)
                    .and_then(|n| usize::try_from(n).ok())
                    .and_then(|n| crate::envelope::GRPC_CODES.get(n))
                {
                    if *name != "OK" {
                        return Some((*name).to_owned());
                    }
                }
            }
        }
    }
    None
}

/// True when details name a per-day or per-month quota (a QuotaFailure's `quotaId`, an
/// ErrorInfo's `quota_limit`): that window will not pass in a retry loop. Only for a
/// `RESOURCE_EXHAUSTED` outside the google.rpc dialect, whose walk already sets
/// `Envelope::long_quota`; the details are parsed here.
fn names_long_quota(details: &crate::envelope::Details) -> bool {
    details.any_member(6, 32, &|k, v| {
        let is_quota_key = contains_ci(k, "quotaid")
            || contains_ci(k, "quota_limit")
            || contains_ci(k, "quotalimit");
        is_quota_key
            && v.is_some_and(|s| {
                contains_ci(s, "perday")
                    || contains_ci(s, "permonth")
                    || contains_ci(s, "daily")
                    || contains_ci(s, "monthly")
            })
    })
}

/// Errors inside a 2xx come as a JSON object (`{"ok": false}`, GraphQL `errors`) or, from S3, an
/// XML `<Error>` document. Anything else (binary, HTML, a JSON array, a declared non-JSON type)
/// is a real success and is not parsed.
fn success_may_carry_error(body: &[u8], content_type: Option<&str>) -> bool {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    // Compared in any ASCII case, without a lowercased copy.
    let ct = content_type.unwrap_or("");
    let contains = |needle: &str| contains_ci(ct, needle);
    let starts = |prefix: &str| {
        ct.as_bytes()
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    match first {
        Some(b'{') => ct.is_empty() || contains("json") || starts("text/plain"),
        // S3 answers some 200s (CopyObject, CompleteMultipartUpload) with an `<Error>`.
        Some(b'<') => {
            (contains("xml") && !contains("html"))
                || (ct.is_empty() && (body.starts_with(b"<?xml") || body.starts_with(b"<Error>")))
        }
        // LLM streaming APIs answer 200 and send the failure as an `error` event.
        _ if starts("text/event-stream") => true,
        Some(b'e' | b'd') if ct.is_empty() => {
            body.starts_with(b"event:") || body.starts_with(b"data:")
        }
        _ => false,
    }
}

/// A retryable failure of a request that is not safe to repeat, and that may have been acted
/// on, must not be sent again: give it up instead.
fn apply_safety(c: &mut Classification, request: &Request) {
    if c.category == Category::Retryable && !request.is_repeatable() && !c.request_not_processed {
        c.category = Category::Permanent;
        c.reason = Reason::NotSafeToRepeat;
    }
}

/// Built-in rules: (category, reason, request_not_processed).
fn by_evidence(
    mut status: u16,
    env: &Envelope,
    norm: &str,
    hint: Option<bool>,
    has_retry_after: bool,
    remaining: Option<u64>,
    success_status: bool,
) -> (Category, Reason, bool) {
    use Category::*;

    if success_status {
        if !env.signals_error {
            return if env.in_progress {
                // A long-running operation polled before it finished.
                (Pending, Reason::NotReady, false)
            } else if status == 202 {
                (Pending, Reason::Accepted, false)
            } else {
                (Success, Reason::Ok, false)
            };
        }
        // A 2xx that says it failed: the code, else an HTTP error status the body states
        // (monday.com: a 200 with `"status_code": 429`), judged below as if the response had
        // it, else the hints. (Not a recursive call: that stopped this being inlined, +100
        // instructions a call.)
        if let Some(v) = by_code(norm) {
            return v;
        }
        match env.in_band_status {
            Some(s) => status = s,
            None => {
                return match hint {
                    Some(true) => (Retryable, Reason::ServerSaysRetry, false),
                    _ => (Permanent, Reason::ErrorInBody, false),
                }
            }
        }
    }

    if !(100..=599).contains(&status) || status < 200 {
        return (Permanent, Reason::UnexpectedStatus, false);
    }

    // The code is stronger evidence than the status for quota, throttling and auth. (Read
    // once: the refinement below asks again.)
    let coded = by_code(norm);
    // A 429 that names a day- or month-long limit, gives no wait and no code more specific than
    // RESOURCE_EXHAUSTED is a quota: HubSpot's "You have reached your daily limit.", Pinecone's
    // "…your write unit limit for the current month". (OpenAI's per-day limits come with
    // `rate_limit_exceeded` and "Please try again in 8.64s": those stay retryable.)
    if status == 429
        && !has_retry_after
        && (coded.is_none() || norm == "resourceexhausted")
        && says_long_window(env)
    {
        return (Quota, Reason::QuotaExceeded, true);
    }
    if let Some(v) = coded {
        if matches!(v.0, Quota | Auth)
            || v.1 == Reason::RateLimited
            || v.1 == Reason::Overloaded
            || norm == "aborted"
        {
            return v;
        }
    }

    let base = match status {
        401 | 407 | 511 => (Auth, Reason::Unauthenticated, true),
        403 => {
            // GitHub-style secondary rate limits answer 403 with Retry-After or no requests
            // left, or only say so ("You have exceeded a secondary rate limit").
            if has_retry_after || remaining == Some(0) || says_rate_limited(env) {
                (Retryable, Reason::RateLimited, true)
            } else if says_recipient_refused(env) {
                // Telegram: one user blocked the bot; the token is fine for everyone else.
                (Permanent, Reason::ClientError, false)
            } else {
                (Auth, Reason::Forbidden, true)
            }
        }
        // Stripe answers 402 for a declined card: that item's problem, not the account's.
        402 if has_part(norm, "card") || has_part(norm, "declined") => {
            (Permanent, Reason::ClientError, false)
        }
        402 => (Quota, Reason::PaymentRequired, true),
        // 420: Twitter's old "Enhance Your Calm", still Cloudinary's rate limit.
        429 | 420 => (Retryable, Reason::RateLimited, true),
        412 => match hint {
            Some(true) => (Pending, Reason::NotReady, true),
            _ => (Permanent, Reason::PreconditionFailed, false),
        },
        409 => {
            if has_retry_after || is_in_flight_code(norm) {
                (Retryable, Reason::IdempotencyInFlight, true)
            } else {
                (Permanent, Reason::Conflict, false)
            }
        }
        408 => (Retryable, Reason::RequestTimeout, true),
        425 => (Retryable, Reason::TooEarly, true),
        400 => (Permanent, Reason::BadRequest, false),
        404 => (Permanent, Reason::NotFound, false),
        405 => (Permanent, Reason::MethodNotAllowed, false),
        410 => (Permanent, Reason::Gone, false),
        413 => (Permanent, Reason::PayloadTooLarge, false),
        415 => (Permanent, Reason::UnsupportedMediaType, false),
        422 => (Permanent, Reason::Unprocessable, false),
        500 => (Retryable, Reason::ServerError, false),
        502 => (Retryable, Reason::BadGateway, false),
        503 => (Retryable, Reason::ServiceUnavailable, true),
        504 => (Retryable, Reason::GatewayTimeout, false),
        529 => (Retryable, Reason::Overloaded, true),
        501 | 505 => (Permanent, Reason::NotImplemented, false),
        _ if status < 500 => (Permanent, Reason::ClientError, false),
        _ => (Retryable, Reason::ServerError, false),
    };

    let (mut cat, mut reason, not_processed) = base;

    // An account out of credit or quota, said only in words, on a 400, 403, 409 or a 4xx of
    // the vendor's own: Anthropic's 400 `invalid_request_error` "Your credit balance is too
    // low…", Azure's 409 `OperationNotAllowed` "…exceeding approved Total Regional Cores
    // quota", DeepL's 456 "Quota Exceeded". Not on a 429 (Gemini's per-minute limit says "You
    // exceeded your current quota" too), nor on a status that names its own problem (404,
    // 413, 422…): the message is not scanned there (it cost a 422 ~4% of a Python classify).
    if (matches!(status, 400 | 403 | 409) || reason == Reason::ClientError)
        && !matches!(coded, Some((c, _, _)) if c != Permanent)
        && says_out_of_quota(env)
    {
        return (Quota, Reason::QuotaExceeded, true);
    }

    // A pending code ("processing", "not_ready") on an error status means poll.
    if cat == Permanent && is_pending_code(norm) && hint != Some(false) {
        return (Pending, Reason::NotReady, true);
    }

    // Refine a permanent verdict by the code: 422 `corrupted` → corrupted.
    if cat == Permanent && reason != Reason::NotImplemented {
        if let Some((Permanent, r, _)) = coded {
            reason = r;
        } else if !env.violations.is_empty() && matches!(status, 400 | 422) {
            reason = Reason::Validation;
        }
    }

    // The server's explicit word flips retryable ⇄ permanent.
    match (cat, hint) {
        (Retryable, Some(false)) => {
            cat = Permanent;
            reason = Reason::ServerSaysNoRetry;
        }
        (Permanent, Some(true)) if status != 501 => {
            return (Retryable, Reason::ServerSaysRetry, false);
        }
        _ => {}
    }
    (cat, reason, not_processed)
}

/// Whether the message holds any of `phrases` (lowercase; compared in any ASCII case). Read
/// only on the few paths where the status and the code leave a question open; out of line so
/// that those paths cost `classify_with` nothing.
#[inline(never)]
fn message_says(env: &Envelope, phrases: &[&str]) -> bool {
    env.message
        .as_deref()
        .is_some_and(|m| phrases.iter().any(|p| contains_ci(m, p)))
}

/// The message says the caller is throttled ("API rate limit exceeded", "secondary rate
/// limit", "Too Many Requests"): read only to tell a throttling 403 from a forbidden one.
fn says_rate_limited(env: &Envelope) -> bool {
    message_says(env, &["rate limit", "rate-limit", "too many requests"])
}

/// The message says a recipient refused the caller, not that its credentials are bad:
/// Telegram's 403s "Forbidden: bot was blocked by the user", "…: user is deactivated", "…: bot
/// was kicked from the group chat", "…: bot can't initiate conversation with a user" concern
/// one chat (a bad token is a 401 there).
fn says_recipient_refused(env: &Envelope) -> bool {
    message_says(
        env,
        &[
            "blocked by the user",
            "user is deactivated",
            "was kicked from",
            "can't initiate conversation",
        ],
    )
}

/// The message says the account has run out of credit or quota: read only when neither the
/// status nor the code says so ("Your credit balance is too low", "Quota Exceeded",
/// "…results in exceeding approved … quota").
fn says_out_of_quota(env: &Envelope) -> bool {
    message_says(
        env,
        &[
            "credit balance is too low",
            "insufficient credit",
            "out of credits",
        ],
    ) || (message_says(env, &["quota"]) && message_says(env, &["exceed"]))
}

/// The message names a day- or month-long limit ("You have reached your daily limit", "your
/// write unit limit for the current month"): a 429 that says so, with no wait and no specific
/// throttling code, will not clear by retrying within a batch.
fn says_long_window(env: &Envelope) -> bool {
    message_says(
        env,
        &[
            "daily limit",
            "daily quota",
            "per day",
            "monthly limit",
            "monthly quota",
            "per month",
            "current month",
            "this month",
        ],
    )
}

/// `hay.contains(needle)` for the short normalized codes: a scan for the needle's first byte,
/// then a comparison, instead of setting up a substring searcher per needle (`by_code` asks
/// for up to two dozen needles).
fn has_part(hay: &str, needle: &str) -> bool {
    crate::envelope::find_str(hay, needle).is_some()
}

/// `hay.to_ascii_lowercase().contains(needle)` for a lowercase ASCII `needle`, without the
/// copy: ASCII lowercasing maps byte to byte and leaves other bytes alone, so a window matches
/// exactly when it equals the needle in any ASCII case.
fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return true;
    };
    h.windows(n.len())
        .any(|w| w.first().map(u8::to_ascii_lowercase) == Some(first) && w.eq_ignore_ascii_case(n))
}

/// Which letters and digits `s` holds: bit `b - b'a'` for a lowercase letter, `26 + b - b'0'`
/// for a digit, bit 63 for any other byte. A string whose mask has a bit another's lacks
/// cannot be a substring of it.
const fn byte_mask(s: &[u8]) -> u64 {
    let mut m = 0u64;
    let mut rest = s;
    while let [b, tail @ ..] = rest {
        m |= match *b {
            b'a'..=b'z' => 1 << (*b - b'a'),
            b'0'..=b'9' => 1 << (26 + *b - b'0'),
            _ => 1 << 63,
        };
        rest = tail;
    }
    m
}

/// Categories the code alone decides, whatever the status.
#[inline(always)]
fn by_code(norm: &str) -> Option<(Category, Reason, bool)> {
    // Most bodies have no code: that answer costs no call.
    if norm.is_empty() {
        None
    } else {
        by_nonempty_code(norm)
    }
}

fn by_nonempty_code(norm: &str) -> Option<(Category, Reason, bool)> {
    use Category::*;
    // Throttling first: "RateLimitExceeded" and AWS "RequestLimitExceeded" are not quotas.
    // The commonest code is tried before the mask is built.
    if has_part(norm, "ratelimit") {
        return Some((Retryable, Reason::RateLimited, true));
    }
    // Most needles hold a letter the code lacks: the masks refuse them without a scan.
    let hay = byte_mask(norm.as_bytes());
    macro_rules! has {
        ($needle:literal) => {{
            const NEEDLE: u64 = byte_mask($needle.as_bytes());
            NEEDLE & !hay == 0 && has_part(norm, $needle)
        }};
    }
    if has!("throttl")
        || has!("toomanyrequests")
        || norm == "slowdown"
        || has!("requestlimitexceeded")
        || has!("provisionedthroughputexceeded")
        || norm == "resourceexhausted"
        || norm == "limitexceededexception"
        || norm == "overquerylimit"
    {
        return Some((Retryable, Reason::RateLimited, true));
    }
    if has!("overloaded") || norm == "serverbusy" || norm == "temporarilyunavailable" {
        return Some((Retryable, Reason::Overloaded, true));
    }
    // A daily limit lasts until tomorrow: Google's `dailyLimitExceeded`, Google Maps'
    // `OVER_DAILY_LIMIT`, Yelp's `ACCESS_LIMIT_REACHED` (its daily call limit).
    if has!("quota")
        || has!("dailylimit")
        || norm == "accesslimitreached"
        || has!("insufficientfunds")
        || has!("creditbalance")
        || has!("outofcredit")
        || has!("billing")
        || norm == "paymentrequired"
        || norm == "insufficientcredits"
    {
        return Some((Quota, Reason::QuotaExceeded, true));
    }
    const FORBIDDEN: &[&str] = &[
        "missingscope",
        "insufficientscope",
        "accessdenied",
        "accessdeniedexception",
        "permissiondenied",
        "permissionerror",
        "forbidden",
        "insufficientpermissions",
        "authorizationerror",
        "notauthorized",
        "notauthorizedexception",
        // Google Maps' web services: a missing, invalid or restricted key, or the API off.
        "requestdenied",
    ];
    const UNAUTHENTICATED: &[&str] = &[
        "invalidapikey",
        "authenticationerror",
        "authenticationfailed",
        "authfailed",
        "unauthenticated",
        "unauthorized",
        "invalidtoken",
        "tokenexpired",
        "expiredtoken",
        "expiredtokenexception",
        "invalidsignature",
        "invalidsignatureexception",
        "signaturedoesnotmatch",
        "unrecognizedclientexception",
        "invalidclienttokenid",
        "missingauthenticationtoken",
        "missingauthenticationtokenexception",
        "incompletesignature",
        "invalidcredentials",
        "invalidaccesskeyid",
        "apikeyinvalid",
        "apikeyrevoked",
        "revokedapikey",
        "invalidauth",
        "notauthed",
        "tokenrevoked",
        "accountinactive",
        "invalidgrant",
        "unauthorizedclient",
        "invalidclient",
        "oauthexception",
    ];
    if FORBIDDEN.contains(&norm) {
        return Some((Auth, Reason::Forbidden, true));
    }
    // `has!`: Plaid's `INVALID_API_KEYS` too.
    if UNAUTHENTICATED.contains(&norm) || has!("invalidapikey") {
        return Some((Auth, Reason::Unauthenticated, true));
    }
    if has!("corrupt") || norm == "truncatedfile" || norm == "damagedfile" {
        return Some((Permanent, Reason::Corrupted, false));
    }
    if has!("encrypted") || has!("passwordprotected") {
        return Some((Permanent, Reason::Encrypted, false));
    }
    if has!("toolarge") || norm == "entitytoolarge" {
        return Some((Permanent, Reason::PayloadTooLarge, false));
    }
    if has!("unsupported") {
        return Some((Permanent, Reason::Unsupported, false));
    }
    if has!("validation")
        || norm == "invalidargument"
        || norm == "invalidparameter"
        || norm == "invalidparametervalue"
        || norm == "unprocessableentity"
        || norm == "baduserinput"
    {
        return Some((Permanent, Reason::Validation, false));
    }
    if norm == "notfound" || norm == "resourcenotfound" || norm == "nosuchkey" || has!("notfound") {
        return Some((Permanent, Reason::NotFound, false));
    }
    if norm == "badrequest"
        || norm == "invalidjson"
        || norm == "invalidrequest"
        || norm == "invalidrequesterror"
    {
        return Some((Permanent, Reason::BadRequest, false));
    }
    if norm == "internalservererror"
        || norm == "internalerror"
        || norm == "internal"
        || norm == "apierror"
        || norm == "unavailable"
        // Google Maps' web services: "a server error; the request may succeed if you try again".
        || norm == "unknownerror"
    {
        return Some((Retryable, Reason::ServerError, false));
    }
    if norm == "aborted" {
        // google.rpc ABORTED: a concurrency conflict the API says to retry.
        return Some((Retryable, Reason::ServerError, false));
    }
    if norm == "gatewaytimeout" || norm == "deadlineexceeded" {
        return Some((Retryable, Reason::GatewayTimeout, false));
    }
    None
}

fn is_pending_code(norm: &str) -> bool {
    // Any "…not ready": Plaid's `PRODUCT_NOT_READY` ("try the request again later") too.
    has_part(norm, "notready")
        || matches!(
            norm,
            "processing"
                | "inprogress"
                | "pending"
                | "stillprocessing"
                | "notyetavailable"
                | "jobnotfinished"
        )
}

fn is_in_flight_code(norm: &str) -> bool {
    has_part(norm, "inflight")
        || has_part(norm, "inprogress")
        || has_part(norm, "idempotency")
        || has_part(norm, "concurrent")
}

/// A normalized code on the stack: classification runs on every failed call, and the code is
/// only compared, never kept. Codes are cut at 64 letters and digits (the longest known code
/// has 35).
struct NormCode {
    buf: [u8; 64],
    len: usize,
}

impl NormCode {
    fn of(code: &str) -> NormCode {
        // The buffer and length are locals while the loop runs: as fields of the returned
        // value, the length was stored to memory at every byte.
        let mut buf = [0u8; 64];
        let mut len = 0usize;
        let code = code.as_bytes();
        for &b in code.get(..256).unwrap_or(code) {
            if !b.is_ascii_alphanumeric() {
                continue;
            }
            let Some(slot) = buf.get_mut(len) else {
                break;
            };
            *slot = b.to_ascii_lowercase();
            len += 1;
        }
        NormCode { buf, len }
    }

    fn as_str(&self) -> &str {
        // ASCII letters and digits only: always valid UTF-8.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

/// Lowercase ASCII letters and digits only: `RATE_LIMITED`, `rate-limited` and `RateLimited`
/// are one code. Bounded: a code longer than 256 bytes is cut.
pub fn normalize_code(code: &str) -> String {
    code.bytes()
        .take(256)
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase() as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::parse_envelope;

    #[test]
    fn deferring_details_still_reads_them_for_a_long_quota() {
        // Not Google's dialect, so the quota's window is read from the details: deferring them
        // must not turn a daily quota into a rate limit.
        let body = br#"{"error":{"code":"RESOURCE_EXHAUSTED","message":"m","details":{"quotaId":"RequestsPerDayPerProject"}}}"#;
        let short = br#"{"error":{"code":"RESOURCE_EXHAUSTED","message":"m","details":{"quotaId":"RequestsPerMinute"}}}"#;
        let headers = [("content-type", "application/json")];
        for (body, want) in [
            (&body[..], Category::Quota),
            (&short[..], Category::Retryable),
        ] {
            let response = Response::new(429, &headers, body);
            let full = classify(&response, &Request::unknown(), 0, &Rules::default());
            let deferred =
                classify_deferring_details(&response, &Request::unknown(), 0, &Rules::default());
            assert_ne!(full.dialect, Dialect::GoogleRpc);
            assert_eq!(full.category, want);
            assert_eq!(
                (deferred.category, deferred.reason),
                (full.category, full.reason)
            );
            assert!(deferred
                .details
                .as_ref()
                .is_some_and(crate::Details::is_deferred));
        }
    }

    /// Classifying with a `Retry-After` header no longer reads the message for a prose wait:
    /// the header's wait wins either way, and the rest of the envelope is the same.
    #[test]
    fn prose_wait_skipped_only_when_header_gives_one() {
        let bodies: [&[u8]; 4] = [
            br#"{"error":{"code":"rate_limited","message":"Slow down. Try again in 30s."}}"#,
            br#"{"error":"too_many","message":"retry after 12"}"#,
            b"Rate limited, please retry in 2 minutes",
            br#"{"error":{"type":"rate_limit_error","message":"wait for 5 seconds","doc_url":"x"}}"#,
        ];
        for body in bodies {
            let full = parse_envelope(body, Some("application/json"), &Limits::DEFAULT);
            assert!(full.retry_after.is_some(), "{body:?}");
            let mut lean = parse_envelope_with(
                body,
                Some("application/json"),
                &Limits::DEFAULT,
                false,
                false,
            );
            assert_eq!(lean.retry_after, None);
            lean.retry_after = full.retry_after;
            assert_eq!(lean, full);
            for (headers, want) in [
                (&[("Retry-After", "7")][..], Duration::from_secs(7)),
                (
                    &[("retry-after-ms", "1500")][..],
                    Duration::from_millis(1500),
                ),
                (&[][..], full.retry_after.unwrap_or_default()),
            ] {
                let c = classify(
                    &Response::new(429, headers, body),
                    &Request::new("GET"),
                    0,
                    &Rules::default(),
                );
                assert_eq!(c.retry_after, Some(want), "{body:?} {headers:?}");
            }
        }
    }

    #[test]
    fn norm_code_is_normalize_code_cut_at_64() {
        let long = "A_b-9".repeat(40);
        for code in [
            "",
            "rate_limited",
            "RESOURCE_EXHAUSTED",
            "Rate-Limited.v2",
            "\u{e9}t\u{e9}_\u{1f600}x",
            "___",
            long.as_str(),
            &long[..63],
        ] {
            let want: String = normalize_code(code).chars().take(64).collect();
            assert_eq!(NormCode::of(code).as_str(), want, "{code:?}");
        }
    }

    #[test]
    fn has_part_is_contains() {
        let hays = [
            "",
            "a",
            "ratelimited",
            "documentnotfound",
            "notfoundnotfound",
            "aab",
        ];
        let needles = [
            "",
            "a",
            "ab",
            "ratelimit",
            "notfound",
            "found",
            "d",
            "aabb",
            "b",
        ];
        for h in hays {
            for n in needles {
                assert_eq!(has_part(h, n), h.contains(n), "{h:?} {n:?}");
            }
        }
    }

    #[test]
    fn byte_mask_refuses_only_non_substrings() {
        let words = [
            "",
            "a",
            "z",
            "09",
            "ratelimited",
            "documentnotfound",
            "notfound",
            "throttl",
            "x-y",
            "Quota",
            "quota",
            "resourceexhausted",
        ];
        for h in words {
            for n in words {
                if byte_mask(n.as_bytes()) & !byte_mask(h.as_bytes()) != 0 {
                    assert!(!h.contains(n), "{h:?} {n:?}");
                }
            }
        }
    }

    #[test]
    fn contains_ci_is_lowercase_and_contains() {
        let hays = [
            "",
            "Application/JSON; charset=UTF-8",
            "text/HTML",
            "\u{130}XML",
            "Rate-Limit",
            "documentnotfound",
            "notfoundnotfound",
        ];
        let needles = [
            "",
            "json",
            "xml",
            "html",
            "rate-limit",
            "i",
            "utf-8",
            "notfound",
            "dd",
        ];
        for h in hays {
            for n in needles {
                assert_eq!(
                    contains_ci(h, n),
                    h.to_ascii_lowercase().contains(n),
                    "{h:?} {n:?}"
                );
            }
        }
    }

    /// The walk over a `serde_json::Value` that `names_long_quota` replaced: the oracle.
    fn names_long_quota_by_value(details: &crate::envelope::Details) -> bool {
        use serde_json::Value;
        fn walk(v: &Value, depth: usize) -> bool {
            if depth > 6 {
                return false;
            }
            match v {
                Value::Object(m) => m.iter().any(|(k, v)| {
                    let is_quota_key = contains_ci(k, "quotaid")
                        || contains_ci(k, "quota_limit")
                        || contains_ci(k, "quotalimit");
                    (is_quota_key
                        && v.as_str().is_some_and(|s| {
                            contains_ci(s, "perday")
                                || contains_ci(s, "permonth")
                                || contains_ci(s, "daily")
                                || contains_ci(s, "monthly")
                        }))
                        || walk(v, depth + 1)
                }),
                Value::Array(a) => a.iter().take(32).any(|v| walk(v, depth + 1)),
                _ => false,
            }
        }
        walk(&details.to_value(), 0)
    }

    fn check_long_quota(text: &str) {
        let d = crate::envelope::details_for_test(text).expect(text);
        assert_eq!(
            names_long_quota(&d),
            names_long_quota_by_value(&d),
            "{text}"
        );
    }

    #[test]
    fn long_quota_walk_matches_the_value_walk() {
        let mut deep = String::from(r#"{"quotaId":"perDay"}"#);
        let mut cases = vec![
            r#"{"quotaId":"perDay"}"#.to_owned(),
            r#"{"quotaId":"perDay","quotaId":"perMinute"}"#.to_owned(),
            r#"{"quotaId":"perMinute","quotaId":"perDay"}"#.to_owned(),
            r#"{"quotaId":"perDay","quota\u0049d":"x"}"#.to_owned(),
            r#"{"quota\u0049d":"per\u0044ay"}"#.to_owned(),
            r#"{"a":{"quotaId":"daily"},"a":1}"#.to_owned(),
            r#"{"a":1,"a":{"quotaId":"daily"}}"#.to_owned(),
            r#"{"\ud800":{"quotaId":"daily"},"\udbff":0}"#.to_owned(),
            r#"{"x_QUOTA_LIMIT_y":"Monthly"}"#.to_owned(),
            r#"{"quotaLimit":["perDay"]}"#.to_owned(),
            r#"[{"quotaLimit":"perMonth"}]"#.to_owned(),
            r#""perDay""#.to_owned(),
            "null".to_owned(),
        ];
        for _ in 0..9 {
            cases.push(deep.clone());
            deep = format!(r#"{{"d":{deep}}}"#);
        }
        // The item at 32 and after is past the walk's cap.
        for n in 0..40 {
            let zeros = vec!["0"; n];
            let items = [zeros, vec![r#"{"quotaid":"daily"}"#]].concat();
            cases.push(format!("[{}]", items.join(",")));
        }
        for c in cases {
            check_long_quota(&c);
        }
    }

    proptest::proptest! {
        #[test]
        fn long_quota_walk_matches_the_value_walk_on_random_details(
            text in long_quota_json(),
        ) {
            check_long_quota(&text);
        }
    }

    /// JSON text with names and strings from small pools (so names repeat, escaped or not, and
    /// quota names and period values meet), nested up to 9 levels, arrays up to 40 items.
    fn long_quota_json() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        const NAMES: &[&str] = &[
            "quotaId",
            "QUOTA_LIMIT",
            "xquotalimitx",
            "quota\\u0049d",
            "quota\\u005flimit",
            "a",
            "b",
            "\\ud800",
            "\\udbff",
            "\\u0061",
            "quota_id",
        ];
        const STRINGS: &[&str] = &[
            "perDay",
            "per\\u0044ay",
            "Monthly",
            "x",
            "DAILY",
            "\\ud800permonth",
            "perMinute",
            "per\\nDay",
        ];
        let leaf = prop_oneof![
            proptest::sample::select(STRINGS).prop_map(|s| format!("\"{s}\"")),
            Just("null".to_owned()),
            Just("12".to_owned()),
            Just("true".to_owned()),
        ];
        leaf.prop_recursive(9, 256, 40, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..40)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec((proptest::sample::select(NAMES), inner), 0..8).prop_map(
                    |v| {
                        let members: Vec<String> =
                            v.iter().map(|(k, x)| format!("\"{k}\": {x}")).collect();
                        format!("{{{}}}", members.join(", "))
                    }
                ),
            ]
        })
    }
}
