//! The fault-injecting fake conversion API (feature `serve`).
//!
//! A fake of the seeds' conversion API on `127.0.0.1`: `POST /v1/convert?target=EXT` with
//! `Authorization: Bearer KEY` and the raw file bytes as the body answers 200 with the
//! [`converted`] bytes — unless the file's [`Fate`] says otherwise. Each file's fate is fixed by a
//! hash of the seed and its bytes ([`fate_of`]): most files convert, a fraction fail permanently
//! (422 `corrupted` / `encrypted` / `unsupported_variant`, 413 `file_too_large`, 400
//! `bad_request`), and a fraction fail transiently a fixed number of times (500, an HTML 502, 503,
//! 504, a dropped connection, a hang) and then convert.
//!
//! On top of the fates: a per-key rate limit that behaves like real APIs' (a token bucket with a
//! burst, or fixed 1-s windows; a limit that can change over time; 429 `rate_limited` with
//! `Retry-After` in whole seconds, `retry-after-ms` and rate-limit headers only when asked), a
//! quota (429 `quota_exceeded`), an outage switch (503 `service_unavailable`),
//! Idempotency-Key semantics (replay, 409 while in flight, 422 on reuse with another payload),
//! error bodies in a chosen [`ErrorDialect`], exact counters ([`Stats`], also at
//! `GET /stats`), opt-in CORS for browser clients, and converted bodies of any size streamed
//! from a small input ([`ServeConfig::output_bytes`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use http_triage::serve::{Server, ServeConfig};
//! let server = Server::start(ServeConfig { transient_rate: 0.1, ..ServeConfig::default() }).await?;
//! println!("POST files to {}/v1/convert?target=pdf", server.url());
//! let stats = server.stats();
//! assert_eq!(stats.duplicate_conversions, 0);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

mod errors;
mod server;
mod store;
mod stream;

pub use server::Server;
pub use stream::ConvertedReader;

/// The default body limit: 110 MB (the seeds' sync limit is 100 MB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 110 * 1024 * 1024;

/// How the fake server behaves. Build with struct update syntax over [`ServeConfig::default`].
#[derive(Clone, PartialEq)]
pub struct ServeConfig {
    /// The port to bind on 127.0.0.1; 0 picks any free port (read it back with
    /// [`Server::addr`]). The server always binds the loopback interface only.
    pub port: u16,
    /// The one accepted bearer key (`Authorization: Bearer KEY`); default `"demo-key"`.
    pub api_key: String,
    /// The shape of error bodies; default [`ErrorDialect::Nested`].
    pub dialect: ErrorDialect,
    /// The fraction of files whose fate is permanent, in [0, 1]; default 0.03.
    pub permanent_rate: f64,
    /// The fraction of files that fail transiently at first, in [0, 1]; default 0.05.
    /// `permanent_rate + transient_rate` must not exceed 1.
    pub transient_rate: f64,
    /// Requests per second allowed per API key; beyond it 429 `rate_limited` with
    /// `Retry-After` (see [`limiter`](Self::limiter)). `None` turns the limit off; default
    /// `Some(200)`. `Some(0)` is treated as `None`.
    pub rate_limit_per_sec: Option<u32>,
    /// How the rate limit is enforced; default [`RateLimiter::Bucket`].
    pub limiter: RateLimiter,
    /// The token bucket's capacity (the burst allowed after a quiet spell). `None`: one
    /// second's worth (the current rate). Ignored by the window limiters.
    pub burst: Option<u32>,
    /// The length of [`RateLimiter::Window`]'s and [`RateLimiter::Sliding`]'s windows in
    /// seconds, each allowing `rate × window_secs` requests; default 1. Ignored by the bucket.
    pub window_secs: u32,
    /// The rate limit changes at these times (sorted or not): from `at` after the server
    /// started, `rate` requests per second (0 = no limit). Default none.
    pub rate_changes: Vec<RateChange>,
    /// Send `retry-after-ms` (the exact wait in milliseconds) beside `Retry-After` on a 429.
    /// Default false: like nearly every real API, only `Retry-After` in whole seconds (the wait
    /// rounded up, at least 1).
    pub retry_after_ms: bool,
    /// Rate-limit headers on every `/v1/convert` answer that passed authentication, telling the
    /// limiter's real state. Default [`RateHeaders::Off`] (most APIs send none).
    pub rate_headers: RateHeaders,
    /// Answer browsers from any origin: `Access-Control-Allow-Origin: *` on every answer, the
    /// rate-limit and request-id headers exposed, and `OPTIONS` preflights answered 204.
    /// Default false.
    pub cors: bool,
    /// Make every converted body exactly this many bytes (the usual head line and input,
    /// then deterministic filler derived from the input; see [`ConvertedReader`]), streamed
    /// in chunks, never held whole. `None` (default): the head line and the input.
    pub output_bytes: Option<u64>,
    /// After this many successful conversions, every further conversion answers 429
    /// `quota_exceeded` (no `Retry-After`). Default `None` (no quota).
    pub quota: Option<u64>,
    /// When on, every `POST /v1/convert` answers 503 `service_unavailable` without
    /// `Retry-After`. Can be toggled at runtime with [`Server::set_outage`].
    pub outage: bool,
    /// How long a [`TransientKind::Hang`] stalls before answering 504, in ms; default 30 000.
    pub hang_ms: u64,
    /// Added to every request that gets as far as conversion (after auth, rate limit, quota and
    /// idempotency checks), in ms; default 0.
    pub latency_ms: u64,
    /// Mixed into the fate hash: another seed gives every file another fate. Default 0.
    pub seed: u64,
    /// The largest accepted body; a larger one answers 413 `file_too_large`. Default
    /// [`DEFAULT_MAX_BODY_BYTES`] (110 MB).
    pub max_body_bytes: u64,
    /// How many Idempotency-Keys are remembered; the oldest are forgotten first. Default 100 000.
    pub idempotency_capacity: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            port: 0,
            api_key: "demo-key".to_owned(),
            dialect: ErrorDialect::Nested,
            permanent_rate: 0.03,
            transient_rate: 0.05,
            rate_limit_per_sec: Some(200),
            limiter: RateLimiter::Bucket,
            burst: None,
            window_secs: 1,
            rate_changes: Vec::new(),
            retry_after_ms: false,
            rate_headers: RateHeaders::Off,
            cors: false,
            output_bytes: None,
            quota: None,
            outage: false,
            hang_ms: 30_000,
            latency_ms: 0,
            seed: 0,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            idempotency_capacity: 100_000,
        }
    }
}

/// The key is never printed.
impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("port", &self.port)
            .field("api_key", &"<redacted>")
            .field("dialect", &self.dialect)
            .field("permanent_rate", &self.permanent_rate)
            .field("transient_rate", &self.transient_rate)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("limiter", &self.limiter)
            .field("burst", &self.burst)
            .field("rate_changes", &self.rate_changes)
            .field("retry_after_ms", &self.retry_after_ms)
            .field("rate_headers", &self.rate_headers)
            .field("cors", &self.cors)
            .field("output_bytes", &self.output_bytes)
            .field("quota", &self.quota)
            .field("outage", &self.outage)
            .field("hang_ms", &self.hang_ms)
            .field("latency_ms", &self.latency_ms)
            .field("seed", &self.seed)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("idempotency_capacity", &self.idempotency_capacity)
            .finish()
    }
}

impl ServeConfig {
    /// Check the options: rates are finite and in [0, 1], their sum is at most 1, the key is
    /// not empty. The message names the offending option.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("permanent_rate", self.permanent_rate),
            ("transient_rate", self.transient_rate),
        ] {
            if !v.is_finite() || !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be in [0, 1], got {v}"));
            }
        }
        if self.permanent_rate + self.transient_rate > 1.0 + 1e-12 {
            return Err(format!(
                "permanent_rate + transient_rate must be at most 1, got {} + {}",
                self.permanent_rate, self.transient_rate
            ));
        }
        if self.burst == Some(0) {
            return Err("burst must be at least 1".to_owned());
        }
        if !(1..=86_400).contains(&self.window_secs) {
            return Err(format!(
                "window_secs must be from 1 to 86400, got {}",
                self.window_secs
            ));
        }
        if self.limiter == RateLimiter::Sliding {
            // The sliding log keeps one entry per request in its window.
            let top = self
                .rate_changes
                .iter()
                .map(|c| c.rate)
                .chain(self.rate_limit_per_sec)
                .max()
                .unwrap_or(0);
            if u64::from(top) * u64::from(self.window_secs) > MAX_SLIDING_LOG {
                return Err(format!(
                    "the sliding limiter keeps every request of its window: rate x window_secs must be at most {MAX_SLIDING_LOG}, got {top} x {}",
                    self.window_secs
                ));
            }
        }
        if self.api_key.is_empty() {
            return Err("api_key must not be empty".to_owned());
        }
        if self
            .api_key
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ')
        {
            return Err("api_key must not contain spaces or control characters".to_owned());
        }
        Ok(())
    }

    /// The rate limit in force `elapsed` after the server started (`None`: no limit): the last
    /// of [`rate_changes`](Self::rate_changes) at or before `elapsed`, else
    /// [`rate_limit_per_sec`](Self::rate_limit_per_sec).
    pub fn rate_at(&self, elapsed: Duration) -> Option<u32> {
        self.rate_changes
            .iter()
            .filter(|c| c.at <= elapsed)
            .max_by_key(|c| c.at)
            .map_or(self.rate_limit_per_sec, |c| Some(c.rate))
            .filter(|r| *r > 0)
    }
}

/// How the server enforces its rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RateLimiter {
    /// A token bucket per key: refilled at the rate, holding [`ServeConfig::burst`] tokens. A
    /// 429's wait is the time to the next token.
    #[default]
    Bucket,
    /// Fixed windows of [`ServeConfig::window_secs`] (counted from the server's start), each of
    /// `rate × window_secs` requests per key. A 429's wait is the time to the window's end.
    Window,
    /// A sliding-window log, as many SaaS APIs keep: at most `rate × window_secs` requests per
    /// key in any rolling [`ServeConfig::window_secs`]. A 429's wait is the time until the
    /// oldest request in the window ages out; the window reopens as the requests that filled
    /// it age out, at the pace they came.
    Sliding,
}

/// The most requests a sliding window may hold (each is remembered until it ages out).
pub const MAX_SLIDING_LOG: u64 = 1_000_000;

impl RateLimiter {
    /// `bucket`, `window` or `sliding`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimiter::Bucket => "bucket",
            RateLimiter::Window => "window",
            RateLimiter::Sliding => "sliding",
        }
    }
}

impl fmt::Display for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RateLimiter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bucket" | "token-bucket" => Ok(RateLimiter::Bucket),
            "window" | "fixed-window" => Ok(RateLimiter::Window),
            "sliding" | "sliding-window" | "sliding-log" => Ok(RateLimiter::Sliding),
            _ => Err(format!(
                "unknown limiter `{s}` (expected bucket, window or sliding)"
            )),
        }
    }
}

/// Which rate-limit headers the server sends (see [`ServeConfig::rate_headers`]). Resets are
/// delta seconds, rounded up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RateHeaders {
    /// None.
    #[default]
    Off,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining` (after this request) and
    /// `X-RateLimit-Reset` (seconds until `Remaining` is back to `Limit`: the window's end, or
    /// the time the bucket takes to fill).
    XRateLimit,
    /// IETF `RateLimit: "default";r=REMAINING;t=RESET` and
    /// `RateLimit-Policy: "default";q=LIMIT;w=WINDOW`.
    Ietf,
}

impl RateHeaders {
    /// `off`, `x-ratelimit` or `ietf`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateHeaders::Off => "off",
            RateHeaders::XRateLimit => "x-ratelimit",
            RateHeaders::Ietf => "ietf",
        }
    }
}

impl fmt::Display for RateHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RateHeaders {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Ok(RateHeaders::Off),
            "x" | "x-ratelimit" | "github" => Ok(RateHeaders::XRateLimit),
            "ietf" | "ratelimit" => Ok(RateHeaders::Ietf),
            _ => Err(format!(
                "unknown rate headers `{s}` (expected off, x-ratelimit or ietf)"
            )),
        }
    }
}

/// A change of the rate limit at a time after the server's start (`T:RATE` on the command line,
/// `T` in seconds, fractions allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateChange {
    /// Time since the server started.
    pub at: Duration,
    /// Requests per second from then on (0 = no limit).
    pub rate: u32,
}

impl FromStr for RateChange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (t, r) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not T:RATE (seconds:requests per second)"))?;
        let secs: f64 = t
            .trim()
            .parse()
            .map_err(|_| format!("`{t}` in `{s}` is not a number of seconds"))?;
        if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
            return Err(format!("`{t}` in `{s}` must be between 0 and 1e9 seconds"));
        }
        let rate: u32 = r
            .trim()
            .parse()
            .map_err(|_| format!("`{r}` in `{s}` is not a whole number of requests per second"))?;
        Ok(RateChange {
            at: Duration::from_secs_f64(secs),
            rate,
        })
    }
}

/// Parse `T:RATE,T:RATE,...` (see [`RateChange`]).
pub fn parse_rate_changes(s: &str) -> Result<Vec<RateChange>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// The shape of error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ErrorDialect {
    /// Seed 001: `{"error": {"code", "message", "details"}}`.
    #[default]
    Nested,
    /// Seed 002: `{"error", "detail", "error_code", "retryable", "request_id"}` (and
    /// `reference_id` on 500).
    Flat,
    /// `{"error": message, "error_code": code}`.
    Minimal,
    /// RFC 9457 `application/problem+json` with `type`, `title`, `status`, `detail`,
    /// `instance` and the extensions `code` and `request_id`.
    Problem,
}

impl ErrorDialect {
    /// Every dialect, in a stable order.
    pub const ALL: [ErrorDialect; 4] = [
        ErrorDialect::Nested,
        ErrorDialect::Flat,
        ErrorDialect::Minimal,
        ErrorDialect::Problem,
    ];

    /// The dialect's name: `nested`, `flat`, `minimal` or `problem`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorDialect::Nested => "nested",
            ErrorDialect::Flat => "flat",
            ErrorDialect::Minimal => "minimal",
            ErrorDialect::Problem => "problem",
        }
    }
}

impl fmt::Display for ErrorDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorDialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nested" => Ok(ErrorDialect::Nested),
            "flat" => Ok(ErrorDialect::Flat),
            "minimal" => Ok(ErrorDialect::Minimal),
            "problem" | "problem+json" => Ok(ErrorDialect::Problem),
            _ => Err(format!(
                "unknown dialect `{s}` (expected nested, flat, minimal or problem)"
            )),
        }
    }
}

/// What the server does with a file, fixed by [`fate_of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fate {
    /// Converts on the first try.
    Ok,
    /// Fails the same way every time.
    Permanent(PermanentKind),
    /// Fails its first `failures` requests (1 or 2, counted per content hash on the server,
    /// whatever the Idempotency-Key or target), then converts.
    Transient {
        /// How many requests fail before the file converts: 1 or 2.
        failures: u32,
        /// How each of those requests fails.
        kind: TransientKind,
    },
}

/// How a permanently bad file fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PermanentKind {
    /// 422 `corrupted`.
    Corrupted,
    /// 422 `encrypted`.
    Encrypted,
    /// 422 `unsupported_variant`.
    UnsupportedVariant,
    /// 413 `file_too_large`.
    TooLarge,
    /// 400 `bad_request`.
    BadRequest,
}

impl PermanentKind {
    /// Every kind, in a stable order.
    pub const ALL: [PermanentKind; 5] = [
        PermanentKind::Corrupted,
        PermanentKind::Encrypted,
        PermanentKind::UnsupportedVariant,
        PermanentKind::TooLarge,
        PermanentKind::BadRequest,
    ];

    /// The HTTP status this kind answers with.
    pub fn status(self) -> u16 {
        match self {
            PermanentKind::Corrupted
            | PermanentKind::Encrypted
            | PermanentKind::UnsupportedVariant => 422,
            PermanentKind::TooLarge => 413,
            PermanentKind::BadRequest => 400,
        }
    }

    /// The error code in the body.
    pub fn code(self) -> &'static str {
        match self {
            PermanentKind::Corrupted => "corrupted",
            PermanentKind::Encrypted => "encrypted",
            PermanentKind::UnsupportedVariant => "unsupported_variant",
            PermanentKind::TooLarge => "file_too_large",
            PermanentKind::BadRequest => "bad_request",
        }
    }
}

/// How a transiently failing file fails while it still fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransientKind {
    /// 500 `internal_error` (JSON, with a `reference_id` in the flat dialect).
    Status500,
    /// 502 with an HTML gateway page (`text/html`, `<title>502 Bad Gateway</title>`).
    Status502Html,
    /// 503 `service_unavailable` with `Retry-After: 1`.
    Status503,
    /// 504 `gateway_timeout`.
    Status504,
    /// The connection is closed without a response (after the body was read).
    Drop,
    /// The server stalls [`ServeConfig::hang_ms`], then answers 504 `gateway_timeout`.
    Hang,
}

impl TransientKind {
    /// Every kind, in a stable order.
    pub const ALL: [TransientKind; 6] = [
        TransientKind::Status500,
        TransientKind::Status502Html,
        TransientKind::Status503,
        TransientKind::Status504,
        TransientKind::Drop,
        TransientKind::Hang,
    ];

    /// The HTTP status this kind answers with, `None` for a dropped connection.
    pub fn status(self) -> Option<u16> {
        match self {
            TransientKind::Status500 => Some(500),
            TransientKind::Status502Html => Some(502),
            TransientKind::Status503 => Some(503),
            TransientKind::Status504 | TransientKind::Hang => Some(504),
            TransientKind::Drop => None,
        }
    }
}

/// The server's counters. A snapshot from [`Server::stats`] or `GET /stats` (JSON, with the
/// `by_status` keys as strings). Only `/v1/convert` requests are counted; `/stats` and
/// `/healthz` are not.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `/v1/convert` requests received (counted when the request head arrives).
    pub requests: u64,
    /// Successful conversions actually performed (not idempotent replays).
    pub conversions: u64,
    /// Answers replayed from the idempotency store (`Idempotent-Replayed: true`).
    pub replays: u64,
    /// Conversions of content converted before (same sha256 of the bytes and same target).
    /// A client that keeps its Idempotency-Keys across a crash keeps this at 0. Tracked for the
    /// first million distinct conversions.
    pub duplicate_conversions: u64,
    /// Responses sent for `/v1/convert`, by status. Dropped connections are not here.
    pub by_status: BTreeMap<u16, u64>,
    /// 429 `rate_limited` answers.
    pub rate_limited: u64,
    /// 429 `quota_exceeded` answers.
    pub quota_rejections: u64,
    /// 401 `invalid_api_key` answers.
    pub auth_failures: u64,
    /// Connections closed on purpose without a response ([`TransientKind::Drop`]).
    pub dropped: u64,
    /// Hangs started ([`TransientKind::Hang`]), whether or not the client waited for the 504.
    pub hangs: u64,
    /// 409 answers: the Idempotency-Key was in flight.
    pub in_flight_conflicts: u64,
    /// 422 answers: the Idempotency-Key was reused with another payload.
    pub idempotency_mismatches: u64,
    /// Conversions counted against the quota (equal to `conversions`).
    pub quota_used: u64,
}

/// The sha256 of some bytes.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of some bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// A uniform number in [0, 1) from 8 bytes.
fn unit(b: &[u8]) -> f64 {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    (u64::from_be_bytes(a) >> 11) as f64 / (1u64 << 53) as f64
}

/// Pick from weighted alternatives with a number in [0, 1).
fn pick<T: Copy>(u: f64, options: &[(T, u32)]) -> Option<T> {
    let total: u32 = options.iter().map(|o| o.1).sum();
    let mut x = u * f64::from(total);
    for &(t, w) in options {
        if x < f64::from(w) {
            return Some(t);
        }
        x -= f64::from(w);
    }
    options.last().map(|o| o.0)
}

/// The fate of a file given the sha256 of its bytes (what [`fate_of`] does after hashing).
pub fn fate_of_digest(content_sha256: &[u8; 32], config: &ServeConfig) -> Fate {
    let mut h = Sha256::new();
    h.update(b"http-triage fate v1\0");
    h.update(config.seed.to_le_bytes());
    h.update(content_sha256);
    let h: [u8; 32] = h.finalize().into();
    let u = unit(&h[0..8]);
    let p = config.permanent_rate.clamp(0.0, 1.0);
    let t = config.transient_rate.clamp(0.0, 1.0);
    if u < p {
        // Weights: the seeds' common causes first.
        let kind = pick(
            unit(&h[8..16]),
            &[
                (PermanentKind::Corrupted, 30),
                (PermanentKind::Encrypted, 20),
                (PermanentKind::UnsupportedVariant, 30),
                (PermanentKind::TooLarge, 10),
                (PermanentKind::BadRequest, 10),
            ],
        )
        .unwrap_or(PermanentKind::Corrupted);
        Fate::Permanent(kind)
    } else if u < p + t {
        let failures = 1 + u32::from(h[16] & 1);
        let kind = pick(
            unit(&h[17..25]),
            &[
                (TransientKind::Status500, 25),
                (TransientKind::Status502Html, 15),
                (TransientKind::Status503, 20),
                (TransientKind::Status504, 15),
                (TransientKind::Drop, 15),
                (TransientKind::Hang, 10),
            ],
        )
        .unwrap_or(TransientKind::Status500);
        Fate::Transient { failures, kind }
    } else {
        Fate::Ok
    }
}

/// The fate of a file: deterministic in the seed and the bytes (a sha256 of the seed and the
/// sha256 of the bytes). A fraction `permanent_rate` of files is permanent (corrupted 30%,
/// encrypted 20%, unsupported variant 30%, too large 10%, bad request 10%), a fraction
/// `transient_rate` transient (1 or 2 failures, evenly; 500 25%, HTML 502 15%, 503 20%, 504 15%,
/// drop 15%, hang 10%), the rest [`Fate::Ok`]. The target does not matter.
pub fn fate_of(bytes: &[u8], config: &ServeConfig) -> Fate {
    fate_of_digest(&sha256(bytes), config)
}

/// The deterministic "converted" output: the line
/// `http-triage converted target=TARGET sha256=HEX bytes=LEN\n` followed by the input bytes.
pub fn converted(bytes: &[u8], target: &str) -> Vec<u8> {
    converted_with_digest(bytes, &sha256(bytes), target)
}

pub(crate) fn converted_with_digest(bytes: &[u8], digest: &[u8; 32], target: &str) -> Vec<u8> {
    let head = format!(
        "http-triage converted target={target} sha256={} bytes={}\n",
        hex(digest),
        bytes.len()
    );
    let mut out = Vec::with_capacity(head.len() + bytes.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(bytes);
    out
}
