//! The async driver: a retrying HTTP client over [`reqwest`] that acts on the core's decisions.
//!
//! [`Client::execute`] sends one [`reqwest::Request`] and loops:
//!
//! 1. **take a send time from the host's [`Pacer`](crate::Pacer)** and sleep until it: once the
//!    host (`host:port`) pushes back (a 429, `overloaded`, rate-limit headers saying little is
//!    left), every concurrent call to it leaves one by one at the paced rate, not all together.
//!    A call whose send time was handed out before the rate was cut asks again (at most four
//!    times), so one throttle costs about one 429, not one per waiting call;
//! 2. **ask the host's [`CircuitBreaker`](crate::CircuitBreaker)**: an open breaker fails the call fast with
//!    [`CallError::CircuitOpen`] (see below);
//! 3. **send** with the per-attempt timeout (and never past the call's deadline);
//! 4. **read the body** (all of it for 2xx/3xx, up to [`ClientConfig::max_success_body`] and
//!    streamed to a file past [`Spill::above`] with [`Client::execute_spilling`]; at most
//!    [`Limits::max_body_bytes`] otherwise) and
//!    **[`classify`](crate::classify())** it, or map the transport failure to a [`TransportError`];
//! 5. **record** the outcome in the host's pacer, breaker and [`RetryBudget`](crate::RetryBudget);
//! 6. **[`decide`](RetryPolicy::decide)**: done → [`Success`]; retry/poll → sleep exactly the
//!    delay (the server's `Retry-After`, or the backoff with jitter) and go to 1; give up, stop or
//!    defer → the matching [`CallError`]. A retry (not a poll) is only sent while the host's
//!    budget allows it, otherwise [`CallError::BudgetExhausted`].
//!
//! ```no_run
//! use http_triage::client::{CallError, CallOptions, Client, ClientConfig};
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(ClientConfig::default())?;
//! let request = client
//!     .http()
//!     .post("http://127.0.0.1:8080/v1/convert?target=pdf")
//!     .bearer_auth("sk-secret")
//!     .body(b"file bytes".to_vec())
//!     .build()?;
//! // A POST gets a generated Idempotency-Key, the same on every attempt of this call.
//! match client.execute(request, CallOptions::new().with_deadline(Duration::from_secs(60))).await {
//!     Ok(done) => println!("{} bytes after {} attempt(s)", done.body.len(), done.attempts),
//!     Err(CallError::Stopped { reason, .. }) => eprintln!("stop everything: {}", reason.as_str()),
//!     Err(e) => eprintln!("{e}"), // never shows header values, query strings or userinfo
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Choices worth knowing
//! - **An open breaker fails fast.** The call gets [`CallError::CircuitOpen`] with the time
//!   until the breaker lets a probe through; it does not sleep until then. During an outage a
//!   batch then ends quickly instead of parking every item for `open_for` × attempts; the caller
//!   decides when to come back. The first call after the open time is the probe.
//! - **A 429 delays the call that got it, not the host.** The call sleeps its own
//!   `Retry-After` (the policy's delay; the pacer never hands it an earlier send time); the
//!   other calls go on at the pacer's lowered rate. The driver no longer stalls every caller for
//!   a whole `Retry-After` (a [`RateGate`](crate::RateGate) did that: with whole-second
//!   `Retry-After`s and a bucket refilling every 10 ms it was up to 2.3× slower).
//! - **The pacer's wait is waited for** when it is within the policy's `max_server_delay` and
//!   the deadline (rate-limit headers may say "nothing left for an hour"). A longer wait follows
//!   `long_wait`: `defer` → [`CallError::Deferred`], `give_up` → [`CallError::GaveUp`] (or
//!   `Deferred` when this call has no answer of its own yet), `clamp` → wait `max_server_delay`
//!   once and send anyway.
//! - **Idempotency keys.** [`CallOptions::idempotency_key`] is set on every attempt. Without
//!   one, a request whose method is not idempotent (POST, PATCH) gets a generated random key
//!   unless [`CallOptions::auto_idempotency_key`] is false or the request already carries the
//!   header. Either way the key is the same on every attempt of one call.
//! - **Bodies that cannot be cloned** (streams) are sent once: the call is not repeatable, so a
//!   retryable failure gives up with `attempts_exhausted` and a pending answer with
//!   `polls_exhausted`.
//! - **A poll re-sends the same request** (the style of APIs that answer 412 "not ready" until the
//!   result exists). Polls do not count towards `max_attempts`.
//! - **Secrets.** Errors and `tracing` events carry the method, the host, the path (never the
//!   query string or userinfo), status, category, reason, code and request id; never a header
//!   value or a body.
//!
//! Behind the `middleware` feature, [`TriageMiddleware`] runs the same loop as a
//! `reqwest_middleware::Middleware`.

mod driver;
mod error;
#[cfg(feature = "middleware")]
mod middleware;
mod transport;
pub(crate) use transport::host_key;

pub use error::{CallError, ClientError};
#[cfg(feature = "middleware")]
pub use middleware::TriageMiddleware;

use crate::breaker::{BreakerConfig, BreakerState};
use crate::budget::BudgetConfig;
use crate::classify::{Category, Reason, Rules, TransportError};
use crate::envelope::Limits;
use crate::pacer::PacerConfig;
use crate::policy::RetryPolicy;
use driver::Shared;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Everything a [`Client`] (or [`TriageMiddleware`]) needs to know, with working defaults.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// When and how long to retry. Default [`RetryPolicy::DEFAULT`].
    pub policy: RetryPolicy,
    /// The caller's classification overrides. Default none.
    pub rules: Rules,
    /// One breaker per host with these options. Default [`BreakerConfig::DEFAULT`].
    pub breaker: BreakerConfig,
    /// One retry budget per host with these options. Default [`BudgetConfig::DEFAULT`].
    pub budget: BudgetConfig,
    /// Time for one attempt, from sending to the last byte of the body. Default 30 s. A
    /// per-request timeout set on the `reqwest::Request` wins when shorter, and no attempt runs
    /// past the call's deadline.
    pub attempt_timeout: Duration,
    /// Time to open a connection, for the `reqwest::Client` that [`Client::new`] builds (a client
    /// given to [`Client::with_reqwest`] keeps its own). Default 10 s.
    pub connect_timeout: Duration,
    /// How much of an error body is read and parsed. Default [`Limits::DEFAULT`] (64 KiB). A
    /// 2xx/3xx body is read whole (up to [`max_success_body`](Self::max_success_body)).
    pub limits: Limits,
    /// The longest 2xx/3xx body accepted, in bytes: a longer one ends the call with
    /// [`CallError::BodyTooLarge`] (not retried: the answer would be the same) as soon as the
    /// `Content-Length` or the bytes read say so. Default `None`: no limit. Set it when you
    /// buffer bodies ([`Client::execute`]); [`Client::execute_spilling`] bounds memory by
    /// itself.
    pub max_success_body: Option<u64>,
    /// The header that carries the idempotency key. Default `Idempotency-Key`.
    pub idempotency_header: String,
    /// One pacer per host with these options. Default [`PacerConfig::default`].
    pub pacer: PacerConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            policy: RetryPolicy::DEFAULT,
            rules: Rules::default(),
            breaker: BreakerConfig::DEFAULT,
            budget: BudgetConfig::DEFAULT,
            attempt_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            limits: Limits::DEFAULT,
            max_success_body: None,
            idempotency_header: "Idempotency-Key".to_owned(),
            pacer: PacerConfig::default(),
        }
    }
}

impl ClientConfig {
    /// With pacer options (for example a `max_rate` the API documents).
    #[must_use]
    pub fn with_pacer(mut self, pacer: PacerConfig) -> Self {
        self.pacer = pacer;
        self
    }
    /// With a retry policy.
    #[must_use]
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }
    /// With classification overrides.
    #[must_use]
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }
    /// With breaker options.
    #[must_use]
    pub fn with_breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }
    /// With retry budget options.
    #[must_use]
    pub fn with_budget(mut self, budget: BudgetConfig) -> Self {
        self.budget = budget;
        self
    }
    /// With a per-attempt timeout.
    #[must_use]
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }
    /// With a connect timeout (for the client [`Client::new`] builds).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// With body limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// With a limit on 2xx/3xx bodies (see [`max_success_body`](Self::max_success_body)).
    #[must_use]
    pub fn with_max_success_body(mut self, bytes: u64) -> Self {
        self.max_success_body = Some(bytes);
        self
    }
    /// With another idempotency header name.
    #[must_use]
    pub fn with_idempotency_header(mut self, name: impl Into<String>) -> Self {
        self.idempotency_header = name.into();
        self
    }

    /// Check every option (policy, breaker, budget, a non-zero attempt timeout, a valid header
    /// name).
    pub fn validate(&self) -> Result<(), ClientError> {
        self.policy.validate()?;
        self.breaker.validate()?;
        self.budget.validate()?;
        self.pacer.validate()?;
        if self.attempt_timeout.is_zero() {
            return Err(crate::Error::InvalidOption {
                name: "attempt_timeout",
                why: "must be more than zero".to_owned(),
            }
            .into());
        }
        if http::HeaderName::from_bytes(self.idempotency_header.as_bytes()).is_err() {
            return Err(crate::Error::InvalidOption {
                name: "idempotency_header",
                why: "is not a valid header name".to_owned(),
            }
            .into());
        }
        Ok(())
    }
}

/// Per-call options for [`Client::execute`] (or, as a request extension, for
/// [`TriageMiddleware`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptions {
    /// The idempotency key to send on every attempt. `None`: see
    /// [`auto_idempotency_key`](Self::auto_idempotency_key).
    pub idempotency_key: Option<String>,
    /// Generate a random key for a request whose method is not idempotent (POST, PATCH) when none
    /// is given and the request carries none. Default true.
    pub auto_idempotency_key: bool,
    /// Total time for the call, waits included. The shorter of this and the policy's `deadline`
    /// applies. Default none.
    pub deadline: Option<Duration>,
    /// The caller's place among its calls in flight, given back while the call sleeps a delay
    /// the server asked for (`Retry-After`) and taken again before the next send. Default none.
    pub slot: Option<Slot>,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            idempotency_key: None,
            auto_idempotency_key: true,
            deadline: None,
            slot: None,
        }
    }
}

impl CallOptions {
    /// The defaults: no key given (one is generated for POST/PATCH), no deadline.
    pub fn new() -> Self {
        CallOptions::default()
    }
    /// With an idempotency key (for example derived from the item, so a resumed batch reuses it).
    #[must_use]
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
    /// Without a generated key.
    #[must_use]
    pub fn with_auto_idempotency_key(mut self, on: bool) -> Self {
        self.auto_idempotency_key = on;
        self
    }
    /// With a total deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
    /// With the caller's concurrency slot (see [`Slot`]).
    #[must_use]
    pub fn with_slot(mut self, slot: Slot) -> Self {
        self.slot = Some(slot);
        self
    }
}

/// A caller's place among its calls in flight (a permit of its semaphore), which a call gives
/// back while it sleeps a server-given delay and takes again before its next send.
///
/// A batch of N in flight whose calls each sleep a whole-second `Retry-After` holding their
/// place sends nothing for that second, though the host's bucket refills every few
/// milliseconds; with the slot given back, other items use the pipe (paced by the host's
/// pacer) while the throttled ones wait. Clones share the one place.
#[derive(Debug, Clone)]
pub struct Slot {
    semaphore: std::sync::Arc<tokio::sync::Semaphore>,
    permit: std::sync::Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>,
}

impl PartialEq for Slot {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.permit, &other.permit)
    }
}

impl Eq for Slot {}

impl Slot {
    /// A place held by `permit`, a permit of `semaphore`.
    pub fn new(
        semaphore: std::sync::Arc<tokio::sync::Semaphore>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Self {
        Slot {
            semaphore,
            permit: std::sync::Arc::new(std::sync::Mutex::new(Some(permit))),
        }
    }

    fn cell(&self) -> std::sync::MutexGuard<'_, Option<tokio::sync::OwnedSemaphorePermit>> {
        self.permit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Give the place back (nothing when it is not held).
    pub fn release(&self) {
        drop(self.cell().take());
    }

    /// Take the place again when it is not held; waits for a permit. A closed semaphore leaves
    /// it not held.
    pub async fn reacquire(&self) {
        if self.cell().is_some() {
            return;
        }
        if let Ok(p) = std::sync::Arc::clone(&self.semaphore).acquire_owned().await {
            *self.cell() = Some(p);
        }
    }

    /// Whether the place is held.
    pub fn is_held(&self) -> bool {
        self.cell().is_some()
    }
}

/// Where [`Client::execute_spilling`] puts a large 2xx/3xx body: bodies longer than `above`
/// bytes are streamed to `path` as they arrive instead of being held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Spill {
    /// The file a large body is written to (created, or truncated on each attempt that gets a
    /// large 2xx/3xx). It is flushed, not fsync'd. On an error it may hold part of a body: remove
    /// it.
    pub path: std::path::PathBuf,
    /// Bodies up to this many bytes stay in memory ([`Success::body`]); longer ones go to
    /// `path`. Memory per call stays under about `above` + 1 MiB (the file's write buffer) +
    /// the [`Limits::max_body_bytes`] kept to classify the answer.
    pub above: usize,
}

impl Spill {
    /// Spill bodies longer than `above` bytes to `path`.
    pub fn new(path: impl Into<std::path::PathBuf>, above: usize) -> Self {
        Spill {
            path: path.into(),
            above,
        }
    }
}

/// A call that ended well: the final response, whole.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Success {
    /// The HTTP status (2xx or 3xx).
    pub status: u16,
    /// The response headers.
    pub headers: http::HeaderMap,
    /// The whole body; empty when it was spilled to a file (see [`spilled`](Self::spilled)).
    pub body: Vec<u8>,
    /// The body is in the [`Spill`] file of [`Client::execute_spilling`], not in `body`.
    pub spilled: bool,
    /// The body's length in bytes, wherever it is.
    pub body_len: u64,
    /// Requests sent, polls included.
    pub attempts: u32,
    /// The request id of the final response (headers, else body).
    pub request_id: Option<String>,
    /// One record per request sent.
    pub history: Vec<AttemptRecord>,
}

/// What happened on one request of a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// 1-based index of the request within the call (polls included).
    pub attempt: u32,
    /// The status, when a response came back.
    pub status: Option<u16>,
    /// How the request broke, when no response came back.
    pub transport_error: Option<TransportError>,
    /// The classification's category.
    pub category: Category,
    /// The classification's reason.
    pub reason: Reason,
    /// The error code from the body, if any.
    pub code: Option<String>,
    /// The request id, if any.
    pub request_id: Option<String>,
    /// What was decided: `"done"`, `"retry"`, `"poll"`, `"defer"`, `"give_up"`, `"stop"`, or
    /// `"budget_exhausted"` when a retry was refused by the budget.
    pub decision: &'static str,
    /// The wait before the next request, for retries and polls.
    pub delay_ms: Option<u64>,
    /// Time since the call started, at the end of this request, in milliseconds.
    pub elapsed_ms: u64,
}

/// How one host looks to a [`Client`] right now (see [`Client::host_status`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct HostStatus {
    /// Time a call asking now would wait for its send time (the host's pacer; zero when not
    /// paced).
    pub gate_wait: Duration,
    /// The rate the host's calls are held to now, req/s ([`Pacer::pace`](crate::Pacer::pace)),
    /// or `None` when nothing holds them back.
    pub paced_rate: Option<f64>,
    /// Throttles (429, `rate_limited`, `overloaded`) the host's calls met so far.
    pub throttled: u64,
    /// The host's breaker.
    pub breaker: BreakerState,
    /// Tokens in the host's retry budget.
    pub budget_tokens: f64,
    /// Whether the budget allows retries now.
    pub can_retry: bool,
}

/// A retrying client: a `reqwest::Client` plus one pacer, breaker and retry budget per host,
/// shared by every clone of it. See the [module docs](self).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client over a new `reqwest::Client` (with [`ClientConfig::connect_timeout`]). Fails on
    /// invalid options, or when the TLS backend cannot be set up.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| ClientError::Build(transport::error_chain(&e.without_url())))?;
        Client::with_reqwest(http, config)
    }

    /// A client over a `reqwest::Client` set up by the caller (proxies, certificates, …). Fails on
    /// invalid options.
    pub fn with_reqwest(
        inner: reqwest::Client,
        config: ClientConfig,
    ) -> Result<Client, ClientError> {
        Ok(Client {
            http: inner,
            shared: Arc::new(Shared::new(config)?),
        })
    }

    /// The inner `reqwest::Client`, to build requests with (`client.http().post(url)…build()`).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The options this client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The gate, breaker and budget of a host (`"host:port"`, the port always written), or
    /// `None` when no call went to it yet.
    pub fn host_status(&self, host: &str) -> Option<HostStatus> {
        self.shared.host_status(host)
    }

    /// Send `request`, retrying, polling and waiting as the policy decides, until it succeeds or
    /// a decision ends it. The body must be in memory (bytes) for the request to be repeated;
    /// a streaming body is sent once. See the [module docs](self) for the loop.
    pub async fn execute(
        &self,
        request: reqwest::Request,
        options: CallOptions,
    ) -> Result<Success, CallError> {
        self.execute_inner(request, options, None).await
    }

    /// Like [`execute`](Self::execute), but a 2xx/3xx body longer than `spill.above` bytes is
    /// streamed to `spill.path` as it arrives ([`Success::spilled`], [`Success::body_len`]),
    /// so a call that downloads gigabytes holds about a megabyte. A retry after a body cut
    /// short starts the file again. A write error ends the call with
    /// [`CallError::BodyWrite`].
    pub async fn execute_spilling(
        &self,
        request: reqwest::Request,
        options: CallOptions,
        spill: &Spill,
    ) -> Result<Success, CallError> {
        self.execute_inner(request, options, Some(spill)).await
    }

    async fn execute_inner(
        &self,
        request: reqwest::Request,
        options: CallOptions,
        spill: Option<&Spill>,
    ) -> Result<Success, CallError> {
        let mut sender = driver::Sender::Client(&self.http);
        match driver::run(&self.shared, &mut sender, request, &options, spill).await {
            driver::Outcome::Done(done) => Ok(done.success),
            driver::Outcome::Failed { error, .. } => Err(error),
            #[cfg(feature = "middleware")]
            driver::Outcome::Foreign(e) => Err(CallError::InvalidRequest(format!(
                "middleware error: {}",
                transport::error_chain(&e)
            ))),
        }
    }
}
