//! The loop shared by [`Client::execute`](super::Client::execute) and the middleware: pacer →
//! breaker → send → classify → record → decide → sleep.

use super::transport::{self, host_key, SendFailure};
use super::{
    AttemptRecord, CallError, CallOptions, ClientConfig, ClientError, HostStatus, Spill, Success,
};
use crate::breaker::{Admission, CircuitBreaker};
use crate::budget::RetryBudget;
use crate::classify::{
    classify, classify_transport, Classification, Reason, Request, Response, TransportError,
};
use crate::pacer::Pacer;
use crate::policy::{Attempt, Decision, DelaySource, GiveUpReason, LongWait, RetryPolicy};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{debug, info, warn};

/// Extra time given to reqwest's own per-request timeout before the loop gives up on an
/// attempt itself (a middleware further down may ignore the request's timeout).
const SAFETY_MARGIN: Duration = Duration::from_millis(250);

/// The per-host state machines.
#[derive(Debug, Clone)]
struct HostState {
    pacer: Pacer,
    /// Throttles met so far (429, `rate_limited`, `overloaded`).
    throttled: u64,
    breaker: CircuitBreaker,
    budget: RetryBudget,
}

/// What every clone of a client (or middleware) shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ClientConfig,
    header: HeaderName,
    fresh: HostState,
    hosts: Mutex<HashMap<String, HostState>>,
    epoch: Instant,
}

impl Shared {
    pub(crate) fn new(config: ClientConfig) -> Result<Shared, ClientError> {
        config.validate()?;
        let header =
            HeaderName::from_bytes(config.idempotency_header.as_bytes()).map_err(|_| {
                crate::Error::InvalidOption {
                    name: "idempotency_header",
                    why: "is not a valid header name".to_owned(),
                }
            })?;
        let fresh = HostState {
            pacer: Pacer::new(config.pacer)?,
            throttled: 0,
            breaker: CircuitBreaker::new(config.breaker)?,
            budget: RetryBudget::new(config.budget)?,
        };
        Ok(Shared {
            config,
            header,
            fresh,
            hosts: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        })
    }

    /// Milliseconds on the monotonic clock of this client: the `now_ms` of the state machines.
    fn now_ms(&self) -> u64 {
        ms(self.epoch.elapsed())
    }

    /// Run `f` on the host's state (created fresh on first use). Never held across an await.
    fn with_host<R>(&self, host: &str, f: impl FnOnce(&mut HostState) -> R) -> R {
        // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if !hosts.contains_key(host) {
            hosts.insert(host.to_owned(), self.fresh.clone());
        }
        match hosts.get_mut(host) {
            Some(state) => f(state),
            None => f(&mut self.fresh.clone()),
        }
    }

    pub(crate) fn host_status(&self, host: &str) -> Option<HostStatus> {
        let now = self.now_ms();
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts.get(host).map(|h| HostStatus {
            gate_wait: Duration::from_millis(h.pacer.wait_ms(now)),
            paced_rate: h.pacer.pace(now),
            throttled: h.throttled,
            breaker: h.breaker.state(now),
            budget_tokens: h.budget.tokens(),
            can_retry: h.budget.can_retry(),
        })
    }
}

/// Where requests go: straight to reqwest, or down a middleware chain.
pub(crate) enum Sender<'a> {
    /// `reqwest::Client::execute`.
    Client(&'a reqwest::Client),
    /// The rest of a `reqwest_middleware` chain.
    #[cfg(feature = "middleware")]
    Next {
        next: reqwest_middleware::Next<'a>,
        extensions: &'a mut http::Extensions,
    },
}

impl Sender<'_> {
    async fn send(
        &mut self,
        req: reqwest::Request,
        https: bool,
    ) -> Result<reqwest::Response, SendFailure> {
        match self {
            Sender::Client(client) => client
                .execute(req)
                .await
                .map_err(|e| transport::send_failure(e, https)),
            #[cfg(feature = "middleware")]
            Sender::Next { next, extensions } => match next.clone().run(req, extensions).await {
                Ok(response) => Ok(response),
                Err(reqwest_middleware::Error::Reqwest(e)) => {
                    Err(transport::send_failure(e, https))
                }
                Err(reqwest_middleware::Error::Middleware(e)) => {
                    match e.downcast::<reqwest::Error>() {
                        Ok(e) => Err(transport::send_failure(e, https)),
                        Err(e) => Err(SendFailure::Foreign(reqwest_middleware::Error::Middleware(
                            e,
                        ))),
                    }
                }
            },
        }
    }
}

/// A response as read by one attempt.
#[cfg_attr(not(feature = "middleware"), allow(dead_code))] // read by the middleware only
pub(crate) struct Received {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    /// The body was cut at `limits.max_body_bytes`.
    pub(crate) capped: bool,
    pub(crate) url: reqwest::Url,
    /// A 2xx/3xx body went to the spill file (`body` holds its head).
    pub(crate) spilled: bool,
    /// The body's length (as far as it was read).
    pub(crate) body_len: u64,
    /// A 2xx/3xx body is longer than `max_success_body`.
    pub(crate) too_large: bool,
}

/// A successful call, with what the middleware needs to rebuild the response.
#[cfg_attr(not(feature = "middleware"), allow(dead_code))] // read by the middleware only
pub(crate) struct Done {
    pub(crate) success: Success,
    pub(crate) version: Version,
    pub(crate) url: reqwest::Url,
}

/// How the loop ended.
#[cfg_attr(not(feature = "middleware"), allow(dead_code))] // read by the middleware only
pub(crate) enum Outcome {
    Done(Done),
    Failed {
        error: CallError,
        /// The last response, when the last attempt got one.
        last: Option<Received>,
    },
    /// Another middleware failed in a way the driver does not know: passed through.
    #[cfg(feature = "middleware")]
    Foreign(reqwest_middleware::Error),
}

/// The fixed facts of a call, for logs and errors.
struct Call<'a> {
    method: &'a str,
    host: &'a str,
    path: &'a str,
    started: Instant,
}

/// What changes from one attempt to the next.
#[derive(Default)]
struct Progress {
    /// Requests sent that were not polls.
    number: u32,
    polls: u32,
    /// Answers that were rate limits: they do not use up `max_attempts`.
    rate_limited: u32,
    previous_delay_ms: Option<u64>,
    next_is_poll: bool,
    last: Option<Box<Classification>>,
    last_response: Option<Received>,
    history: Vec<AttemptRecord>,
}

impl Progress {
    fn attempts(&self) -> u32 {
        self.number.saturating_add(self.polls)
    }

    /// End the call with the error `make` builds from (attempts, history, last classification).
    fn fail(
        &mut self,
        call: &Call<'_>,
        make: impl FnOnce(u32, Vec<AttemptRecord>, Option<Box<Classification>>) -> CallError,
    ) -> Outcome {
        let error = make(
            self.attempts(),
            std::mem::take(&mut self.history),
            self.last.take(),
        );
        let elapsed_ms = ms(call.started.elapsed());
        // Only a stop is a warning: during an outage every item gives up or meets the open
        // breaker, and one warning per item would drown the one that matters.
        if error.stops_batch() {
            warn!(
                method = call.method,
                host = call.host,
                path = call.path,
                kind = error.kind(),
                elapsed_ms,
                "call stopped: {error}"
            );
        } else {
            info!(
                method = call.method,
                host = call.host,
                path = call.path,
                kind = error.kind(),
                elapsed_ms,
                "call failed: {error}"
            );
        }
        Outcome::Failed {
            error,
            last: self.last_response.take(),
        }
    }
}

/// Run one call to its end. See the [module docs](super) for the steps.
pub(crate) async fn run(
    shared: &Shared,
    sender: &mut Sender<'_>,
    mut request: reqwest::Request,
    options: &CallOptions,
    spill: Option<&Spill>,
) -> Outcome {
    let config = &shared.config;
    let url = request.url().clone();
    let invalid = |why: &str| Outcome::Failed {
        error: CallError::InvalidRequest(why.to_owned()),
        last: None,
    };
    let Some(host) = host_key(&url) else {
        return invalid("the URL has no host");
    };
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return invalid("the URL scheme is neither http nor https"),
    };
    let method = request.method().as_str().to_owned();
    let call = Call {
        method: &method,
        host: &host,
        path: url.path(),
        started: Instant::now(),
    };
    let mut rng = Rng::seeded();

    // One idempotency key for every attempt of the call.
    let carried = request.headers().contains_key(&shared.header);
    let key = match &options.idempotency_key {
        Some(k) => Some(k.clone()),
        None if !carried
            && options.auto_idempotency_key
            && !Request::new(&method).is_repeatable() =>
        {
            Some(generate_key(&mut rng))
        }
        None => None,
    };
    if let Some(key) = &key {
        match HeaderValue::from_str(key) {
            Ok(mut value) => {
                value.set_sensitive(true);
                request.headers_mut().insert(shared.header.clone(), value);
            }
            Err(_) => return invalid("the idempotency key is not a valid header value"),
        }
    }
    let triage_request = Request::new(&method).with_idempotency_key(carried || key.is_some());

    let deadline = match (config.policy.deadline, options.deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut policy = config.policy.with_deadline(deadline);
    if request.try_clone().is_none() {
        // A streaming body can be sent once only.
        policy = policy.with_max_attempts(1).with_max_polls(0);
    }
    let mut original = Some(request);
    let mut progress = Progress::default();

    loop {
        // 1. A send time from the host's pacer.
        let sent_ms = match wait_for_pacer(shared, &call, &policy, deadline, &mut progress).await {
            Ok(at) => at,
            Err(end) => return end,
        };

        // 2. The host's breaker.
        let now = shared.now_ms();
        if let Admission::Rejected { retry_at_ms } =
            shared.with_host(&host, |h| h.breaker.admit(now))
        {
            let retry_after = Duration::from_millis(retry_at_ms.saturating_sub(now));
            return progress.fail(&call, |attempts, history, classification| {
                CallError::CircuitOpen {
                    retry_after,
                    host: host.clone(),
                    classification,
                    attempts,
                    history,
                }
            });
        }

        // 3. Send, within the attempt timeout and the deadline.
        let Some(mut req) = original
            .as_ref()
            .and_then(reqwest::Request::try_clone)
            .or_else(|| original.take())
        else {
            shared.with_host(&host, |h| h.breaker.on_neutral(now));
            return invalid("the request body cannot be sent again");
        };
        let mut timeout = config.attempt_timeout;
        if let Some(t) = req.timeout() {
            timeout = timeout.min(*t);
        }
        if let Some(d) = deadline {
            timeout = timeout.min(d.saturating_sub(call.started.elapsed()));
        }
        let timeout = timeout.max(Duration::from_millis(1));
        *req.timeout_mut() = Some(timeout);
        if progress.next_is_poll {
            progress.polls = progress.polls.saturating_add(1);
        } else {
            progress.number = progress.number.saturating_add(1);
        }
        let result = match tokio::time::timeout(
            timeout.saturating_add(SAFETY_MARGIN),
            attempt(sender, req, https, config, spill),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(SendFailure::Transport(
                TransportError::TimeoutAfterSend,
                "the attempt timed out".to_owned(),
            )),
        };

        // 4. Classify.
        let (c, received, detail) = match result {
            Ok(r) => {
                let pairs: Vec<(&str, &str)> = r
                    .headers
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
                    .collect();
                let response =
                    Response::new(r.status.as_u16(), &pairs, &r.body).with_limits(config.limits);
                let c = classify(&response, &triage_request, unix_ms(), &config.rules);
                drop(pairs);
                (c, Some(r), None)
            }
            Err(SendFailure::Transport(kind, detail)) => (
                classify_transport(kind, &triage_request),
                None,
                Some(detail),
            ),
            Err(SendFailure::Invalid(why)) => {
                shared.with_host(&host, |h| h.breaker.on_neutral(shared.now_ms()));
                return invalid(&why);
            }
            #[cfg(feature = "middleware")]
            Err(SendFailure::Foreign(e)) => {
                shared.with_host(&host, |h| h.breaker.on_neutral(shared.now_ms()));
                return Outcome::Foreign(e);
            }
            Err(SendFailure::BodyWrite(message)) => {
                // A local failure: it says nothing about the host.
                shared.with_host(&host, |h| h.breaker.on_neutral(shared.now_ms()));
                return progress.fail(&call, |attempts, history, _| CallError::BodyWrite {
                    message,
                    attempts,
                    history,
                });
            }
        };

        // 5. Record in the host's pacer, breaker and budget.
        let now = shared.now_ms();
        let can_retry = shared.with_host(&host, |h| {
            h.pacer.record_sent(&c, sent_ms, now);
            if c.status == Some(429) || matches!(c.reason, Reason::RateLimited | Reason::Overloaded)
            {
                h.throttled = h.throttled.saturating_add(1);
            }
            h.breaker.record(&c, now);
            h.budget.record(&c);
            h.budget.can_retry()
        });

        // 6. Decide.
        if c.reason == Reason::RateLimited {
            progress.rate_limited = progress.rate_limited.saturating_add(1);
        }
        let elapsed_ms = ms(call.started.elapsed());
        let position = Attempt {
            number: progress.number.max(1),
            polls: progress.polls,
            elapsed_ms,
            now_ms: now,
            previous_delay_ms: progress.previous_delay_ms,
            rate_limited: progress.rate_limited,
        };
        let decision = policy.decide(&c, position, rng.next_f64());
        let refused = matches!(decision, Decision::Retry { .. }) && !can_retry;
        let record = AttemptRecord {
            attempt: progress.attempts(),
            status: c.status,
            transport_error: c.transport_error,
            category: c.category,
            reason: c.reason,
            code: c.code.clone(),
            request_id: c.request_id.clone(),
            decision: if refused {
                "budget_exhausted"
            } else {
                decision.kind()
            },
            delay_ms: if refused {
                None
            } else {
                decision.delay().map(ms)
            },
            elapsed_ms,
        };
        debug!(
            method = call.method,
            host = call.host,
            path = call.path,
            attempt = record.attempt,
            status = record.status,
            transport_error = record.transport_error.map(TransportError::as_str),
            detail = detail.as_deref(),
            category = record.category.as_str(),
            reason = record.reason.as_str(),
            decision = record.decision,
            delay_ms = record.delay_ms,
            "attempt"
        );
        progress.history.push(record);
        progress.last = Some(Box::new(c));
        progress.last_response = received;

        match decision {
            Decision::Done => {
                let Some(r) = progress.last_response.take() else {
                    // Only a response can be a success; keep the type system honest.
                    return progress.fail(&call, |attempts, history, c| {
                        give_up(c, GiveUpReason::Permanent, attempts, history)
                    });
                };
                if let (true, Some(limit)) = (r.too_large, config.max_success_body) {
                    let status = r.status.as_u16();
                    return progress.fail(&call, |attempts, history, _| CallError::BodyTooLarge {
                        limit,
                        status,
                        attempts,
                        history,
                    });
                }
                let request_id = progress.last.as_ref().and_then(|c| c.request_id.clone());
                return Outcome::Done(Done {
                    success: Success {
                        status: r.status.as_u16(),
                        headers: r.headers,
                        body: if r.spilled { Vec::new() } else { r.body },
                        spilled: r.spilled,
                        body_len: r.body_len,
                        attempts: progress.attempts(),
                        request_id,
                        history: std::mem::take(&mut progress.history),
                    },
                    version: r.version,
                    url: r.url,
                });
            }
            Decision::Retry { delay, source } => {
                if refused {
                    return progress.fail(&call, |attempts, history, c| match c {
                        Some(classification) => CallError::BudgetExhausted {
                            classification,
                            attempts,
                            history,
                        },
                        None => CallError::InvalidRequest("no classification".to_owned()),
                    });
                }
                if source == DelaySource::Backoff {
                    progress.previous_delay_ms = Some(ms(delay));
                }
                progress.next_is_poll = false;
                match (&options.slot, source) {
                    // A server-given delay: the caller's place serves others meanwhile.
                    (Some(slot), DelaySource::Server | DelaySource::ServerClamped)
                        if !delay.is_zero() =>
                    {
                        slot.release();
                        tokio::time::sleep(delay).await;
                        slot.reacquire().await;
                    }
                    _ => tokio::time::sleep(delay).await,
                }
            }
            Decision::Poll { delay, .. } => {
                progress.next_is_poll = true;
                tokio::time::sleep(delay).await;
            }
            Decision::Defer { delay, .. } => {
                return progress.fail(&call, |attempts, history, classification| {
                    CallError::Deferred {
                        classification,
                        resume_after: delay,
                        attempts,
                        history,
                    }
                });
            }
            Decision::GiveUp { reason } => {
                return progress.fail(&call, |attempts, history, c| {
                    give_up(c, reason, attempts, history)
                });
            }
            Decision::Stop { reason } => {
                return progress.fail(&call, |attempts, history, c| match c {
                    Some(classification) => CallError::Stopped {
                        classification,
                        reason,
                        attempts,
                        history,
                    },
                    None => CallError::InvalidRequest("no classification".to_owned()),
                });
            }
        }
    }
}

fn give_up(
    classification: Option<Box<Classification>>,
    reason: GiveUpReason,
    attempts: u32,
    history: Vec<AttemptRecord>,
) -> CallError {
    match classification {
        Some(classification) => CallError::GaveUp {
            classification,
            reason,
            attempts,
            history,
        },
        None => CallError::InvalidRequest("no classification".to_owned()),
    }
}

/// Take a send time from the host's pacer and sleep until it; returns the send time (on the
/// pacer's clock). `Err` ends the call: the wait is longer than the policy follows in-line, or
/// runs past the deadline.
async fn wait_for_pacer(
    shared: &Shared,
    call: &Call<'_>,
    policy: &RetryPolicy,
    deadline: Option<Duration>,
    progress: &mut Progress,
) -> Result<u64, Outcome> {
    let past_deadline =
        |wait: Duration| deadline.is_some_and(|d| call.started.elapsed().saturating_add(wait) > d);
    // A send time handed out before a cut was paced at the old rate: ask again (a few times at
    // most; a host cutting that often is paced low by then anyway).
    let mut asks = 0;
    let wait = loop {
        let now = shared.now_ms();
        // Look and reserve under one lock: a slot is only taken when it will be used.
        let slot = shared.with_host(call.host, |h| {
            let wait = Duration::from_millis(h.pacer.wait_ms(now));
            if wait > policy.max_server_delay || past_deadline(wait) {
                return Err(wait);
            }
            Ok((h.pacer.acquire(now), h.pacer.cuts()))
        });
        let (at, cuts) = match slot {
            Ok(slot) => slot,
            Err(wait) => break wait,
        };
        let wait = Duration::from_millis(at.saturating_sub(now));
        if wait.is_zero() {
            return Ok(at);
        }
        debug!(
            host = call.host,
            path = call.path,
            wait_ms = ms(wait),
            "paced: waiting for a send time"
        );
        tokio::time::sleep(wait).await;
        asks += 1;
        if asks >= 4 || shared.with_host(call.host, |h| h.pacer.cuts()) == cuts {
            return Ok(at);
        }
    };
    let mut deadline_hit = wait <= policy.max_server_delay;
    if !deadline_hit {
        match policy.long_wait {
            LongWait::Clamp if !past_deadline(policy.max_server_delay) => {
                tokio::time::sleep(policy.max_server_delay).await;
                return Ok(shared.now_ms());
            }
            LongWait::Clamp => deadline_hit = true,
            LongWait::GiveUp if progress.last.is_some() => {
                return Err(progress.fail(call, |attempts, history, c| {
                    give_up(c, GiveUpReason::RetryAfterTooLong, attempts, history)
                }));
            }
            _ => {}
        }
    }
    if deadline_hit && progress.last.is_some() {
        return Err(progress.fail(call, |attempts, history, c| {
            give_up(c, GiveUpReason::DeadlineExceeded, attempts, history)
        }));
    }
    Err(progress.fail(call, |attempts, history, classification| {
        CallError::Deferred {
            classification,
            resume_after: wait,
            attempts,
            history,
        }
    }))
}

/// Send one request and read its body: whole for 2xx/3xx (up to `max_success_body`, spilled to
/// a file past `spill.above`), at most `limits.max_body_bytes` otherwise. A 2xx/3xx body cut
/// short is a `body_truncated` failure; an error body cut short is classified as far as it was
/// read.
async fn attempt(
    sender: &mut Sender<'_>,
    req: reqwest::Request,
    https: bool,
    config: &ClientConfig,
    spill: Option<&Spill>,
) -> Result<Received, SendFailure> {
    let mut response = sender.send(req, https).await?;
    let status = response.status();
    let success = status.is_success() || status.is_redirection();
    let (body, capped, spilled, body_len, too_large) = if success {
        // Keep one byte more than the classifier reads, so it sees a long body as long.
        let keep = config.limits.max_body_bytes.saturating_add(1);
        let b =
            transport::read_success_body(&mut response, config.max_success_body, spill, keep).await;
        if let Some(why) = b.write_error {
            return Err(SendFailure::BodyWrite(why));
        }
        if let Some(why) = b.error {
            return Err(SendFailure::Transport(TransportError::BodyTruncated, why));
        }
        (b.bytes, false, b.spilled, b.len, b.too_large)
    } else {
        let b = transport::read_body(&mut response, Some(config.limits.max_body_bytes)).await;
        if let Some(why) = b.error {
            debug!(status = status.as_u16(), "error body cut short: {why}");
        }
        let len = b.bytes.len() as u64;
        (b.bytes, b.capped, false, len, false)
    };
    Ok(Received {
        status,
        version: response.version(),
        headers: std::mem::take(response.headers_mut()),
        body,
        capped,
        url: response.url().clone(),
        spilled,
        body_len,
        too_large,
    })
}

/// Milliseconds, saturating.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The wall clock in Unix milliseconds (for HTTP-dates in `Retry-After`).
fn unix_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Mixed into every seed, so two calls in the same nanosecond still differ.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A small xorshift64* generator for jitter, seeded from the clock: jitter needs spread, not
/// cryptographic quality.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let seed = splitmix64(nanos ^ splitmix64(seq ^ u64::from(std::process::id())));
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A draw in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random idempotency key: 32 hex digits of SHA-256 over the clock, a sequence number, the
/// process id and the generator.
fn generate_key(rng: &mut Rng) -> String {
    let mut hash = Sha256::new();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hash.update(nanos.to_le_bytes());
    hash.update(SEQUENCE.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hash.update(std::process::id().to_le_bytes());
    hash.update(rng.next_u64().to_le_bytes());
    hash.update(rng.next_u64().to_le_bytes());
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_in_unit_interval_and_keys_differ() {
        let mut rng = Rng::seeded();
        for _ in 0..1000 {
            let r = rng.next_f64();
            assert!((0.0..1.0).contains(&r));
        }
        let a = generate_key(&mut rng);
        let b = generate_key(&mut rng);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
