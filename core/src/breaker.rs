//! Circuit breaker: stop sending to a service that is failing, give it time, then let a few
//! trial requests through to see whether it is back.
//!
//! ```text
//!               failure_threshold in a row, or failure_ratio over the window
//!   Closed ─────────────────────────────────────────────────────────▶ Open { until_ms }
//!     ▲                                                                  │       ▲
//!     │ half_open_probes successes                        now ≥ until_ms │       │ one failure
//!     │                                                                  ▼       │
//!     └──────────────────────────────────────────────────────────── HalfOpen ────┘
//! ```
//!
//! Ask [`admit`](CircuitBreaker::admit) before sending, report the outcome with
//! [`record`](CircuitBreaker::record) (or [`on_success`](CircuitBreaker::on_success) /
//! [`on_failure`](CircuitBreaker::on_failure) / [`on_neutral`](CircuitBreaker::on_neutral)).
//! Time is always an argument: milliseconds on the caller's monotonic clock.
//!
//! Defaults, and why:
//!
//! | option | default | why |
//! |---|---|---|
//! | `failure_threshold` | 10 | ten failures in a row are no longer bad luck, yet the tail of a batch (where only the items still being retried are in flight, so failures bunch up) does not trip it; with 10 calls in flight an outage trips it within about one round (0 turns the rule off) |
//! | `failure_ratio` | 0.5 | half the calls failing is an outage even when successes keep breaking up the streak (resilience4j's default rate) |
//! | `window` | 30 s | long enough to hold `min_throughput` calls of a moderate caller, short enough to forget a blip quickly |
//! | `min_throughput` | 20 | below that a ratio is noise: 2 failures out of 3 calls must not open the breaker |
//! | `open_for` | 30 s | most transient outages (deploys, failovers) take tens of seconds; probing sooner mostly adds load |
//! | `max_open_for` | 300 s | a server's `Retry-After` may lengthen the open time, but one header must not close a host for hours: probe at least every five minutes |
//! | `half_open_probes` | 1 | one trial request is enough to learn the service is back, and the least load if it is not |
//!
//! Behaviour, and why:
//! - **The window is bounded memory**: ten buckets of `window / 10` (rounded up to the
//!   millisecond), not a list of calls. An outcome is forgotten between 0.9 × `window` and
//!   `window` after it happened, as whole buckets age out.
//! - **Open time** is `max(open_for, retry_after)`, at most `max_open_for`: a server that says
//!   "come back in 60 s" is believed, up to a point.
//! - **Opening and closing start afresh**: the streak and the window are cleared, so the failures
//!   that opened the breaker do not re-open it on the first failure after it closes.
//! - **Half-open** lets `half_open_probes` requests through at once ([`Admission::Probe`]);
//!   that many successes close the breaker, one failure re-opens it. A probe whose outcome is
//!   never reported (a dropped future) must not wedge the breaker: probe slots still taken
//!   `open_for` after the latest probe was admitted are freed.
//! - **Outcomes that say nothing about health are not counted**: a 429 (the server is up, it
//!   throttles: the [`RateGate`](crate::RateGate) handles that), auth and quota failures. They
//!   still free a probe slot ([`on_neutral`](CircuitBreaker::on_neutral)).
//! - **Outcomes reported while open are ignored**: they are calls admitted before it opened.
//! - **A clock that goes backwards** counts as no time passing: the breaker keeps the latest
//!   `now_ms` it saw and never panics. Snapshots carry that clock, so restore a snapshot only
//!   onto the same clock (for sharing between processes, use a shared clock such as Unix ms).

use crate::classify::{Category, Classification, Reason};
use crate::gate::ceil_ms;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The snapshot format version written by this build.
const SNAPSHOT_VERSION: u32 = 1;
/// The failure-ratio window is split into this many buckets.
pub const WINDOW_BUCKETS: usize = 10;

/// Circuit breaker options. See the module docs for the defaults and the reasons for them.
///
/// In JSON, durations are whole milliseconds in fields named `*_ms` (`"window_ms": 30000`);
/// missing fields take their defaults and unknown fields are an error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker; 0 turns the rule off.
    pub failure_threshold: u32,
    /// Open when failures / calls over `window` reach this ratio (in (0, 1]), once at least
    /// `min_throughput` calls were seen; `None` turns the rule off.
    pub failure_ratio: Option<f64>,
    /// How far back the failure ratio looks. At least 10 ms when `failure_ratio` is set.
    #[serde(rename = "window_ms", with = "ms")]
    pub window: Duration,
    /// Calls needed in the window before the ratio is trusted.
    pub min_throughput: u32,
    /// How long the breaker stays open. More than zero.
    #[serde(rename = "open_for_ms", with = "ms")]
    pub open_for: Duration,
    /// Cap on an open time lengthened by a server's `Retry-After`. At least `open_for`.
    #[serde(rename = "max_open_for_ms", with = "ms")]
    pub max_open_for: Duration,
    /// Trial requests let through at once when half-open; that many successes close the breaker,
    /// one failure re-opens it. At least 1.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig::DEFAULT
    }
}

impl BreakerConfig {
    /// The defaults (see the module docs).
    pub const DEFAULT: BreakerConfig = BreakerConfig {
        failure_threshold: 10,
        failure_ratio: Some(0.5),
        window: Duration::from_secs(30),
        min_throughput: 20,
        open_for: Duration::from_secs(30),
        max_open_for: Duration::from_secs(300),
        half_open_probes: 1,
    };

    /// With `failure_threshold` (0 = off).
    pub const fn with_failure_threshold(mut self, n: u32) -> Self {
        self.failure_threshold = n;
        self
    }
    /// With `failure_ratio` (`None` = off).
    pub const fn with_failure_ratio(mut self, ratio: Option<f64>) -> Self {
        self.failure_ratio = ratio;
        self
    }
    /// With `window`.
    pub const fn with_window(mut self, d: Duration) -> Self {
        self.window = d;
        self
    }
    /// With `min_throughput`.
    pub const fn with_min_throughput(mut self, n: u32) -> Self {
        self.min_throughput = n;
        self
    }
    /// With `open_for`.
    pub const fn with_open_for(mut self, d: Duration) -> Self {
        self.open_for = d;
        self
    }
    /// With `max_open_for`.
    pub const fn with_max_open_for(mut self, d: Duration) -> Self {
        self.max_open_for = d;
        self
    }
    /// With `half_open_probes`.
    pub const fn with_half_open_probes(mut self, n: u32) -> Self {
        self.half_open_probes = n;
        self
    }

    /// Check the options: `failure_ratio` finite and in (0, 1]; `window` at least 10 ms when a
    /// ratio is set; `open_for` more than zero; `max_open_for ≥ open_for`; `half_open_probes ≥ 1`.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |name, why: &str| Err(crate::Error::invalid_option(name, why));
        if let Some(r) = self.failure_ratio {
            if !r.is_finite() || r <= 0.0 || r > 1.0 {
                return bad(
                    "failure_ratio",
                    "must be a finite number in (0, 1], or null to turn it off",
                );
            }
            if ceil_ms(self.window) < WINDOW_BUCKETS as u64 {
                return bad(
                    "window",
                    "must be at least 10 ms (it is split into 10 buckets)",
                );
            }
        }
        if self.open_for.is_zero() {
            return bad("open_for", "must be more than zero");
        }
        if self.max_open_for < self.open_for {
            return bad("max_open_for", "must not be less than open_for");
        }
        if self.half_open_probes == 0 {
            return bad(
                "half_open_probes",
                "must be at least 1 (no probe would never close it)",
            );
        }
        Ok(())
    }

    /// The width of one window bucket in milliseconds (never zero).
    fn bucket_ms(&self) -> u64 {
        ceil_ms(self.window).div_ceil(WINDOW_BUCKETS as u64).max(1)
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakerState {
    /// Requests go through; outcomes are counted.
    Closed,
    /// Requests are rejected until `until_ms` (the caller's clock).
    Open {
        /// When the breaker turns half-open.
        until_ms: u64,
    },
    /// A few trial requests go through to learn whether the service is back.
    HalfOpen,
}

impl BreakerState {
    /// `"closed"`, `"open"` or `"half_open"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// When an open breaker turns half-open.
    pub fn until_ms(&self) -> Option<u64> {
        match self {
            BreakerState::Open { until_ms } => Some(*until_ms),
            _ => None,
        }
    }
}

/// The answer to "may I send?".
#[must_use = "a request sent without looking at the admission bypasses the breaker"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Admission {
    /// Closed: send.
    Allowed,
    /// Half-open: send, as one of the trial requests; report its outcome.
    Probe,
    /// Do not send. Nothing will change before `retry_at_ms` unless outcomes are reported (the
    /// end of the open time, or when unreported probes are given up on).
    Rejected {
        /// When to ask again, on the caller's clock.
        retry_at_ms: u64,
    },
}

impl Admission {
    /// `"allowed"`, `"probe"` or `"rejected"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Admission::Allowed => "allowed",
            Admission::Probe => "probe",
            Admission::Rejected { .. } => "rejected",
        }
    }

    /// True for [`Allowed`](Admission::Allowed) and [`Probe`](Admission::Probe).
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Admission::Rejected { .. })
    }

    /// When to ask again, for [`Rejected`](Admission::Rejected).
    pub fn retry_at_ms(&self) -> Option<u64> {
        match self {
            Admission::Rejected { retry_at_ms } => Some(*retry_at_ms),
            _ => None,
        }
    }
}

/// Outcomes counted in one slice of the failure-ratio window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowBucket {
    /// Successes counted.
    pub successes: u32,
    /// Failures counted.
    pub failures: u32,
}

/// The state of a [`CircuitBreaker`] as plain data, to persist it or share it. Times are on the
/// caller's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSnapshot {
    /// The snapshot format version (1).
    pub version: u32,
    /// `"closed"`, `"open"` or `"half_open"`, as last updated (an open breaker whose time has
    /// passed is still `"open"` here; it turns half-open when next asked).
    pub state: String,
    /// When an open breaker turns half-open; `null` unless `state` is `"open"`.
    pub open_until_ms: Option<u64>,
    /// The latest `now_ms` the breaker saw.
    pub clock_ms: u64,
    /// Failures in a row (closed only; cleared on opening).
    pub consecutive_failures: u32,
    /// Width of a window bucket, in milliseconds. A snapshot restored with a different `window`
    /// starts with an empty window.
    pub bucket_ms: u64,
    /// The window, oldest bucket first; the last one holds `clock_ms`. Exactly 10.
    pub buckets: Vec<WindowBucket>,
    /// Probes admitted whose outcome has not been reported (half-open only).
    pub probes_in_flight: u32,
    /// Probe successes so far (half-open only).
    pub probe_successes: u32,
    /// When unreported probes are given up on; set exactly when `probes_in_flight > 0`.
    pub probe_deadline_ms: Option<u64>,
}

/// The failure-ratio window: a ring of buckets, the slot of a bucket being its index modulo
/// [`WINDOW_BUCKETS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    bucket_ms: u64,
    /// Bucket index (`time / bucket_ms`) of the newest bucket.
    head: u64,
    slots: [WindowBucket; WINDOW_BUCKETS],
}

impl Window {
    fn new(bucket_ms: u64, now_ms: u64) -> Self {
        let bucket_ms = bucket_ms.max(1);
        Window {
            bucket_ms,
            head: now_ms / bucket_ms,
            slots: [WindowBucket::default(); WINDOW_BUCKETS],
        }
    }

    fn slot(index: u64) -> usize {
        // Always < WINDOW_BUCKETS.
        (index % WINDOW_BUCKETS as u64) as usize
    }

    /// Age out the buckets that fall out of the window by `now_ms`. Earlier times change nothing.
    fn advance(&mut self, now_ms: u64) {
        let index = now_ms / self.bucket_ms;
        if index <= self.head {
            return;
        }
        if index - self.head >= WINDOW_BUCKETS as u64 {
            self.clear();
        } else {
            for i in self.head + 1..=index {
                self.slots[Window::slot(i)] = WindowBucket::default();
            }
        }
        self.head = index;
    }

    fn add(&mut self, failure: bool) {
        let b = &mut self.slots[Window::slot(self.head)];
        if failure {
            b.failures = b.failures.saturating_add(1);
        } else {
            b.successes = b.successes.saturating_add(1);
        }
    }

    /// (successes, failures) over the window.
    fn totals(&self) -> (u64, u64) {
        self.slots.iter().fold((0, 0), |(s, f), b| {
            (s + u64::from(b.successes), f + u64::from(b.failures))
        })
    }

    fn clear(&mut self) {
        self.slots = [WindowBucket::default(); WINDOW_BUCKETS];
    }

    /// Oldest first.
    fn ordered(&self) -> Vec<WindowBucket> {
        (0..WINDOW_BUCKETS as u64)
            .map(
                |k| match self.head.checked_sub(WINDOW_BUCKETS as u64 - 1 - k) {
                    Some(i) => self.slots[Window::slot(i)],
                    // Before the clock's zero: nothing can be in it.
                    None => WindowBucket::default(),
                },
            )
            .collect()
    }
}

/// Where the machine is, with what each state needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open {
        until_ms: u64,
    },
    HalfOpen {
        in_flight: u32,
        successes: u32,
        deadline_ms: Option<u64>,
    },
}

/// A circuit breaker for one service (or host), shared by its callers. See the module docs.
///
/// ```
/// use http_triage::breaker::{Admission, BreakerState};
/// use http_triage::{BreakerConfig, CircuitBreaker};
/// use std::time::Duration;
///
/// let config = BreakerConfig::DEFAULT.with_failure_threshold(3).with_open_for(Duration::from_secs(10));
/// let mut breaker = CircuitBreaker::new(config)?;
/// for t in [0, 100, 200] {
///     assert_eq!(breaker.admit(t), Admission::Allowed);
///     breaker.on_failure(t, None);
/// }
/// assert_eq!(breaker.state(300), BreakerState::Open { until_ms: 10_200 });
/// assert_eq!(breaker.admit(300), Admission::Rejected { retry_at_ms: 10_200 });
/// assert_eq!(breaker.admit(10_200), Admission::Probe); // half-open: one trial request
/// breaker.on_success(10_450);
/// assert_eq!(breaker.state(10_450), BreakerState::Closed);
/// # Ok::<(), http_triage::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    phase: Phase,
    clock_ms: u64,
    consecutive_failures: u32,
    window: Window,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker::fresh(BreakerConfig::DEFAULT)
    }
}

impl CircuitBreaker {
    /// A closed breaker. Fails on invalid options.
    pub fn new(config: BreakerConfig) -> Result<Self, crate::Error> {
        config.validate()?;
        Ok(CircuitBreaker::fresh(config))
    }

    fn fresh(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config,
            phase: Phase::Closed,
            clock_ms: 0,
            consecutive_failures: 0,
            window: Window::new(config.bucket_ms(), 0),
        }
    }

    /// The options.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Failures in a row while closed.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// May a request be sent now? An open breaker whose time has passed turns half-open here;
    /// a half-open one admits up to `half_open_probes` probes at once, then rejects.
    pub fn admit(&mut self, now_ms: u64) -> Admission {
        let now = self.tick(now_ms);
        let max_probes = self.config.half_open_probes;
        let open_for = ceil_ms(self.config.open_for);
        match &mut self.phase {
            Phase::Closed => Admission::Allowed,
            Phase::Open { until_ms } => Admission::Rejected {
                retry_at_ms: *until_ms,
            },
            Phase::HalfOpen {
                in_flight,
                deadline_ms,
                ..
            } => {
                if *in_flight < max_probes {
                    *in_flight += 1;
                    *deadline_ms = Some(now.saturating_add(open_for));
                    Admission::Probe
                } else {
                    Admission::Rejected {
                        retry_at_ms: deadline_ms.unwrap_or(now),
                    }
                }
            }
        }
    }

    /// A call succeeded (or the server answered sanely). Closed: ends the streak. Half-open:
    /// counts towards closing.
    pub fn on_success(&mut self, now_ms: u64) {
        self.tick(now_ms);
        let needed = self.config.half_open_probes;
        match &mut self.phase {
            Phase::Closed => {
                self.consecutive_failures = 0;
                self.window.add(false);
            }
            Phase::Open { .. } => {}
            Phase::HalfOpen {
                in_flight,
                successes,
                deadline_ms,
            } => {
                *in_flight = in_flight.saturating_sub(1);
                if *in_flight == 0 {
                    *deadline_ms = None;
                }
                *successes = successes.saturating_add(1);
                if *successes >= needed {
                    self.phase = Phase::Closed;
                    self.consecutive_failures = 0;
                    self.window.clear();
                }
            }
        }
    }

    /// A call failed in a way that says the service is unhealthy. `retry_after` is the server's
    /// delay, if any: the breaker opens for `max(open_for, retry_after)`, at most `max_open_for`.
    pub fn on_failure(&mut self, now_ms: u64, retry_after: Option<Duration>) {
        let now = self.tick(now_ms);
        match self.phase {
            Phase::Closed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.window.add(true);
                if self.should_open() {
                    self.open(now, retry_after);
                }
            }
            Phase::Open { .. } => {}
            Phase::HalfOpen { .. } => self.open(now, retry_after),
        }
    }

    /// A call finished with an answer that says nothing about the service's health (a 429, an
    /// auth or quota failure). Counts nothing; frees a probe slot when half-open.
    pub fn on_neutral(&mut self, now_ms: u64) {
        self.tick(now_ms);
        if let Phase::HalfOpen {
            in_flight,
            deadline_ms,
            ..
        } = &mut self.phase
        {
            *in_flight = in_flight.saturating_sub(1);
            if *in_flight == 0 {
                *deadline_ms = None;
            }
        }
    }

    /// Feed a classified call. Success, pending and permanent answers are successes (the server
    /// answered sanely); retryable ones are failures, with the server's `retry_after`, except a
    /// rate limit (`rate_limited`: the service is up and throttling; the rate gate handles it),
    /// which, like auth and quota failures, is not counted.
    pub fn record(&mut self, c: &Classification, now_ms: u64) {
        match c.category {
            Category::Success | Category::Pending | Category::Permanent => self.on_success(now_ms),
            Category::Retryable if c.reason == Reason::RateLimited => self.on_neutral(now_ms),
            Category::Retryable => self.on_failure(now_ms, c.retry_after),
            Category::Auth | Category::Quota => self.on_neutral(now_ms),
        }
    }

    /// Where the breaker stands at `now_ms` (an open breaker whose time has passed is half-open).
    pub fn state(&self, now_ms: u64) -> BreakerState {
        let now = now_ms.max(self.clock_ms);
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until_ms } if now < until_ms => BreakerState::Open { until_ms },
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// The breaker as plain data.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let (state, open_until_ms, in_flight, successes, deadline) = match self.phase {
            Phase::Closed => ("closed", None, 0, 0, None),
            Phase::Open { until_ms } => ("open", Some(until_ms), 0, 0, None),
            Phase::HalfOpen {
                in_flight,
                successes,
                deadline_ms,
            } => ("half_open", None, in_flight, successes, deadline_ms),
        };
        BreakerSnapshot {
            version: SNAPSHOT_VERSION,
            state: state.to_owned(),
            open_until_ms,
            clock_ms: self.clock_ms,
            consecutive_failures: self.consecutive_failures,
            bucket_ms: self.window.bucket_ms,
            buckets: self.window.ordered(),
            probes_in_flight: in_flight,
            probe_successes: successes,
            probe_deadline_ms: deadline,
        }
    }

    /// A breaker from a snapshot, with (possibly new) options. Fails on invalid options, an
    /// unknown version, or fields that contradict each other (an open breaker without an open
    /// time, probes outside half-open, a window that is not 10 buckets, …).
    pub fn restore(
        config: BreakerConfig,
        snapshot: &BreakerSnapshot,
    ) -> Result<Self, crate::Error> {
        config.validate()?;
        let bad = |why: &str| Err(crate::Error::InvalidSnapshot(format!("breaker: {why}")));
        let s = snapshot;
        if s.version != SNAPSHOT_VERSION {
            return bad(&format!(
                "version {} (this build reads {SNAPSHOT_VERSION})",
                s.version
            ));
        }
        if s.buckets.len() != WINDOW_BUCKETS {
            return bad("`buckets` must hold exactly 10 buckets");
        }
        if s.bucket_ms == 0 {
            return bad("`bucket_ms` must be more than zero");
        }
        if s.state != "open" && s.open_until_ms.is_some() {
            return bad("`open_until_ms` is set but the state is not open");
        }
        if s.state != "half_open"
            && (s.probes_in_flight != 0 || s.probe_successes != 0 || s.probe_deadline_ms.is_some())
        {
            return bad("probe fields are set but the state is not half_open");
        }
        if s.probe_deadline_ms.is_some() != (s.probes_in_flight > 0) {
            return bad("`probe_deadline_ms` must be set exactly when probes are in flight");
        }
        let phase = match s.state.as_str() {
            "closed" => Phase::Closed,
            "open" => match s.open_until_ms {
                Some(until_ms) => Phase::Open { until_ms },
                None => return bad("an open breaker needs `open_until_ms`"),
            },
            "half_open" => Phase::HalfOpen {
                in_flight: s.probes_in_flight,
                successes: s.probe_successes,
                deadline_ms: s.probe_deadline_ms,
            },
            other => {
                let other: String = other.chars().take(32).collect();
                return bad(&format!("unknown state `{other}`"));
            }
        };
        let mut window = Window::new(config.bucket_ms(), s.clock_ms);
        if s.bucket_ms == window.bucket_ms {
            // Oldest first: the k-th bucket has index head - 9 + k.
            for (k, b) in s.buckets.iter().enumerate() {
                if let Some(i) = window.head.checked_sub((WINDOW_BUCKETS - 1 - k) as u64) {
                    window.slots[Window::slot(i)] = *b;
                }
            }
        }
        Ok(CircuitBreaker {
            config,
            phase,
            clock_ms: s.clock_ms,
            consecutive_failures: s.consecutive_failures,
            window,
        })
    }

    /// Move the clock to `now_ms` (never backwards), age the window, turn an expired open into
    /// half-open and give up on probes past their deadline. Returns the effective now.
    fn tick(&mut self, now_ms: u64) -> u64 {
        let now = now_ms.max(self.clock_ms);
        self.clock_ms = now;
        self.window.advance(now);
        if let Phase::Open { until_ms } = self.phase {
            if now >= until_ms {
                self.phase = Phase::HalfOpen {
                    in_flight: 0,
                    successes: 0,
                    deadline_ms: None,
                };
            }
        }
        if let Phase::HalfOpen {
            in_flight,
            deadline_ms,
            ..
        } = &mut self.phase
        {
            if deadline_ms.is_some_and(|d| now >= d) {
                *in_flight = 0;
                *deadline_ms = None;
            }
        }
        now
    }

    fn should_open(&self) -> bool {
        let c = &self.config;
        if c.failure_threshold > 0 && self.consecutive_failures >= c.failure_threshold {
            return true;
        }
        let Some(ratio) = c.failure_ratio else {
            return false;
        };
        let (s, f) = self.window.totals();
        let total = s + f;
        // Division, not `f >= ratio * total`: 3 / 10 is the same double as 0.3, 0.3 × 10 is not 3.
        total > 0 && total >= u64::from(c.min_throughput) && (f as f64) / (total as f64) >= ratio
    }

    fn open(&mut self, now: u64, retry_after: Option<Duration>) {
        let c = &self.config;
        let d = retry_after
            .map_or(c.open_for, |r| r.max(c.open_for))
            .min(c.max_open_for);
        self.phase = Phase::Open {
            until_ms: now.saturating_add(ceil_ms(d)),
        };
        self.consecutive_failures = 0;
        self.window.clear();
    }
}

/// Durations as whole milliseconds (rounded up, saturating) in JSON.
mod ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(crate::gate::ceil_ms(*d))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::classify::{classify_transport, Request, TransportError};
    use proptest::prelude::*;

    const S: Duration = Duration::from_secs(1);

    fn consecutive(n: u32) -> BreakerConfig {
        BreakerConfig::DEFAULT
            .with_failure_threshold(n)
            .with_failure_ratio(None)
            .with_open_for(10 * S)
            .with_max_open_for(60 * S)
    }

    fn classification(
        category: Category,
        reason: Reason,
        retry_after_ms: Option<u64>,
    ) -> Classification {
        let mut c = classify_transport(TransportError::Dns, &Request::unknown());
        c.category = category;
        c.reason = reason;
        c.retry_after = retry_after_ms.map(Duration::from_millis);
        c
    }

    #[test]
    fn defaults_are_valid() {
        BreakerConfig::DEFAULT.validate().unwrap();
        assert_eq!(
            CircuitBreaker::default(),
            CircuitBreaker::new(BreakerConfig::default()).unwrap()
        );
    }

    #[test]
    fn consecutive_failures_open_and_success_resets() {
        let mut b = CircuitBreaker::new(consecutive(3)).unwrap();
        b.on_failure(0, None);
        b.on_failure(1, None);
        b.on_success(2);
        b.on_failure(3, None);
        b.on_failure(4, None);
        assert_eq!(b.state(4), BreakerState::Closed);
        assert_eq!(b.consecutive_failures(), 2);
        b.on_failure(5, None);
        assert_eq!(b.state(5), BreakerState::Open { until_ms: 10_005 });
        assert_eq!(
            b.admit(10_004),
            Admission::Rejected {
                retry_at_ms: 10_005
            }
        );
        assert_eq!(b.state(10_005), BreakerState::HalfOpen);
    }

    #[test]
    fn threshold_zero_is_off() {
        let mut b = CircuitBreaker::new(consecutive(0)).unwrap();
        for t in 0..1000 {
            b.on_failure(t, None);
        }
        assert_eq!(b.state(1000), BreakerState::Closed);
    }

    #[test]
    fn ratio_needs_min_throughput_and_forgets() {
        let config = BreakerConfig::DEFAULT
            .with_failure_threshold(0)
            .with_failure_ratio(Some(0.5))
            .with_min_throughput(10)
            .with_window(10 * S);
        let mut b = CircuitBreaker::new(config).unwrap();
        for t in 0..4 {
            b.on_success(t * 100);
            b.on_failure(t * 100 + 50, None);
        }
        b.on_failure(900, None);
        assert_eq!(
            b.state(900),
            BreakerState::Closed,
            "9 calls < min_throughput"
        );
        b.on_success(950);
        b.on_failure(960, None);
        assert_eq!(b.state(960), BreakerState::Open { until_ms: 30_960 });

        // The same 11 calls spread so that the oldest ones have aged out.
        let mut b = CircuitBreaker::new(config).unwrap();
        for t in 0..5 {
            b.on_failure(t, None);
        }
        for t in 0..5 {
            b.on_success(9_500 + t);
        }
        // At 10_000 the bucket [0, 1000) with the 5 failures is gone.
        b.on_failure(10_000, None);
        assert_eq!(b.state(10_000), BreakerState::Closed);
    }

    #[test]
    fn retry_after_lengthens_open_time_up_to_the_cap() {
        let mut b = CircuitBreaker::new(consecutive(1)).unwrap();
        b.on_failure(1_000, Some(Duration::from_secs(25)));
        assert_eq!(b.state(1_000), BreakerState::Open { until_ms: 26_000 });
        let mut b = CircuitBreaker::new(consecutive(1)).unwrap();
        b.on_failure(1_000, Some(Duration::from_secs(3)));
        assert_eq!(b.state(1_000), BreakerState::Open { until_ms: 11_000 });
        let mut b = CircuitBreaker::new(consecutive(1)).unwrap();
        b.on_failure(1_000, Some(Duration::from_secs(3600)));
        assert_eq!(b.state(1_000), BreakerState::Open { until_ms: 61_000 });
        let mut b = CircuitBreaker::new(consecutive(1)).unwrap();
        b.on_failure(u64::MAX - 5, None);
        assert_eq!(
            b.state(u64::MAX - 5),
            BreakerState::Open { until_ms: u64::MAX }
        );
    }

    #[test]
    fn half_open_probes() {
        let mut b = CircuitBreaker::new(consecutive(1).with_half_open_probes(2)).unwrap();
        b.on_failure(0, None);
        assert_eq!(b.admit(10_000), Admission::Probe);
        assert_eq!(b.admit(10_001), Admission::Probe);
        assert_eq!(
            b.admit(10_002),
            Admission::Rejected {
                retry_at_ms: 20_001
            }
        );
        b.on_success(10_100);
        assert_eq!(b.state(10_100), BreakerState::HalfOpen);
        assert_eq!(b.admit(10_101), Admission::Probe);
        b.on_success(10_200);
        assert_eq!(b.state(10_200), BreakerState::Closed);
        assert_eq!(b.admit(10_201), Admission::Allowed);

        // One failure re-opens.
        b.on_failure(10_300, Some(Duration::from_secs(20)));
        assert_eq!(b.admit(30_300), Admission::Probe);
        b.on_failure(30_400, None);
        assert_eq!(b.state(30_400), BreakerState::Open { until_ms: 40_400 });
    }

    #[test]
    fn lost_probes_are_given_up_on() {
        let mut b = CircuitBreaker::new(consecutive(1)).unwrap();
        b.on_failure(0, None);
        assert_eq!(b.admit(10_000), Admission::Probe);
        assert_eq!(
            b.admit(15_000),
            Admission::Rejected {
                retry_at_ms: 20_000
            }
        );
        assert_eq!(b.admit(20_000), Admission::Probe);
    }

    #[test]
    fn neutral_outcomes_free_a_probe_and_count_nothing() {
        let mut b = CircuitBreaker::new(consecutive(2)).unwrap();
        b.on_failure(0, None);
        b.record(
            &classification(Category::Retryable, Reason::RateLimited, Some(5_000)),
            1,
        );
        b.record(
            &classification(Category::Auth, Reason::Unauthenticated, None),
            2,
        );
        b.record(
            &classification(Category::Quota, Reason::QuotaExceeded, None),
            3,
        );
        assert_eq!(b.consecutive_failures(), 1);
        b.record(
            &classification(Category::Retryable, Reason::ServerError, Some(40_000)),
            4,
        );
        assert_eq!(b.state(4), BreakerState::Open { until_ms: 40_004 });
        assert_eq!(b.admit(40_004), Admission::Probe);
        b.record(
            &classification(Category::Retryable, Reason::RateLimited, None),
            40_005,
        );
        assert_eq!(b.admit(40_006), Admission::Probe, "the 429 freed the slot");
        b.record(
            &classification(Category::Permanent, Reason::NotFound, None),
            40_007,
        );
        assert_eq!(b.state(40_007), BreakerState::Closed);
    }

    #[test]
    fn outcomes_while_open_are_ignored() {
        let mut b = CircuitBreaker::new(consecutive(1)).unwrap();
        b.on_failure(0, None);
        b.on_success(1);
        b.on_failure(2, Some(Duration::from_secs(50)));
        assert_eq!(b.state(3), BreakerState::Open { until_ms: 10_000 });
    }

    #[test]
    fn backwards_clock_is_no_time_passing() {
        let mut b = CircuitBreaker::new(consecutive(1)).unwrap();
        b.on_failure(50_000, None);
        assert_eq!(
            b.admit(0),
            Admission::Rejected {
                retry_at_ms: 60_000
            }
        );
        assert_eq!(b.state(0), BreakerState::Open { until_ms: 60_000 });
        assert_eq!(b.admit(60_000), Admission::Probe);
        b.on_success(1);
        assert_eq!(b.state(0), BreakerState::Closed);
    }

    #[test]
    fn invalid_options() {
        for (c, name) in [
            (
                BreakerConfig::DEFAULT.with_failure_ratio(Some(0.0)),
                "failure_ratio",
            ),
            (
                BreakerConfig::DEFAULT.with_failure_ratio(Some(1.01)),
                "failure_ratio",
            ),
            (
                BreakerConfig::DEFAULT.with_failure_ratio(Some(f64::NAN)),
                "failure_ratio",
            ),
            (
                BreakerConfig::DEFAULT.with_window(Duration::from_millis(9)),
                "window",
            ),
            (
                BreakerConfig::DEFAULT.with_open_for(Duration::ZERO),
                "open_for",
            ),
            (
                BreakerConfig::DEFAULT.with_max_open_for(10 * S),
                "max_open_for",
            ),
            (
                BreakerConfig::DEFAULT.with_half_open_probes(0),
                "half_open_probes",
            ),
        ] {
            match CircuitBreaker::new(c) {
                Err(crate::Error::InvalidOption { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{c:?}: {other:?}"),
            }
        }
        // The window only matters with a ratio.
        CircuitBreaker::new(
            BreakerConfig::DEFAULT
                .with_failure_ratio(None)
                .with_window(Duration::ZERO),
        )
        .unwrap();
    }

    #[test]
    fn serde_config_uses_ms_fields() {
        let c: BreakerConfig =
            serde_json::from_str(r#"{"window_ms": 1000, "failure_ratio": null}"#).unwrap();
        assert_eq!(
            c,
            BreakerConfig::DEFAULT
                .with_window(S)
                .with_failure_ratio(None)
        );
        assert!(serde_json::from_str::<BreakerConfig>(r#"{"window": 1000}"#).is_err());
        assert_eq!(
            serde_json::to_value(BreakerConfig::DEFAULT).unwrap(),
            serde_json::json!({
                "failure_threshold": 10, "failure_ratio": 0.5, "window_ms": 30000, "min_throughput": 20,
                "open_for_ms": 30000, "max_open_for_ms": 300000, "half_open_probes": 1
            })
        );
    }

    #[test]
    fn snapshot_format_and_round_trip() {
        let config = BreakerConfig::DEFAULT.with_window(10 * S);
        let mut b = CircuitBreaker::new(config).unwrap();
        b.on_failure(500, None);
        b.on_success(2_500);
        b.on_failure(2_600, None);
        let s = b.snapshot();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({
                "version": 1, "state": "closed", "open_until_ms": null, "clock_ms": 2600,
                "consecutive_failures": 1, "bucket_ms": 1000,
                "buckets": [
                    {"successes": 0, "failures": 0}, {"successes": 0, "failures": 0},
                    {"successes": 0, "failures": 0}, {"successes": 0, "failures": 0},
                    {"successes": 0, "failures": 0}, {"successes": 0, "failures": 0},
                    {"successes": 0, "failures": 0}, {"successes": 0, "failures": 1},
                    {"successes": 0, "failures": 0}, {"successes": 1, "failures": 1}
                ],
                "probes_in_flight": 0, "probe_successes": 0, "probe_deadline_ms": null
            })
        );
        let back = CircuitBreaker::restore(config, &s).unwrap();
        assert_eq!(back, b);
        // A different window starts afresh but keeps the rest.
        let other = CircuitBreaker::restore(config.with_window(20 * S), &s).unwrap();
        assert_eq!(other.window.totals(), (0, 0));
        assert_eq!(other.consecutive_failures(), 1);
    }

    #[test]
    fn inconsistent_snapshots_are_refused() {
        let good = CircuitBreaker::default().snapshot();
        let cases: [fn(&mut BreakerSnapshot); 9] = [
            |s| s.version = 2,
            |s| s.state = "ajar".into(),
            |s| s.state = "open".into(),
            |s| s.open_until_ms = Some(5),
            |s| {
                s.buckets.pop();
            },
            |s| s.bucket_ms = 0,
            |s| s.probes_in_flight = 1,
            |s| {
                s.state = "half_open".into();
                s.probes_in_flight = 1;
            },
            |s| {
                s.state = "half_open".into();
                s.probe_deadline_ms = Some(1);
            },
        ];
        for (i, f) in cases.iter().enumerate() {
            let mut s = good.clone();
            f(&mut s);
            assert!(
                matches!(
                    CircuitBreaker::restore(BreakerConfig::DEFAULT, &s),
                    Err(crate::Error::InvalidSnapshot(_))
                ),
                "case {i}"
            );
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Admit(u64, bool),
        Success(u64),
        Failure(u64, Option<u64>),
        Neutral(u64),
        RoundTrip,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Time steps, backwards ones included.
        let dt = prop_oneof![0u64..50, 0u64..5_000, 0u64..200_000];
        prop_oneof![
            3 => (dt.clone(), proptest::bool::weighted(0.2)).prop_map(|(d, back)| Op::Admit(d, back)),
            2 => dt.clone().prop_map(Op::Success),
            3 => (dt.clone(), proptest::option::of(0u64..600_000)).prop_map(|(d, r)| Op::Failure(d, r)),
            1 => dt.prop_map(Op::Neutral),
            1 => Just(Op::RoundTrip),
        ]
    }

    fn config() -> impl Strategy<Value = BreakerConfig> {
        (
            0u32..6,
            proptest::option::of(0.05f64..=1.0),
            10u64..100_000,
            0u32..10,
            1u64..60_000,
            0u64..600_000,
            1u32..4,
        )
            .prop_map(
                |(th, ratio, window, min, open, extra, probes)| BreakerConfig {
                    failure_threshold: th,
                    failure_ratio: ratio,
                    window: Duration::from_millis(window),
                    min_throughput: min,
                    open_for: Duration::from_millis(open),
                    max_open_for: Duration::from_millis(open + extra),
                    half_open_probes: probes,
                },
            )
    }

    proptest! {
        #[test]
        fn invariants_hold_over_any_run(config in config(), start in 0u64..1_000_000, ops in proptest::collection::vec(op(), 0..200)) {
            let mut b = CircuitBreaker::new(config).unwrap();
            let mut t = start;
            for op in ops {
                match op {
                    Op::Admit(d, back) => {
                        // Some steps go backwards: the breaker must treat them as no time passing.
                        t = if back { t.saturating_sub(d) } else { t.saturating_add(d) };
                        let before = b.state(t);
                        let eff = t.max(b.clock_ms);
                        let a = b.admit(t);
                        if let BreakerState::Open { until_ms } = before {
                            prop_assert!(eff < until_ms);
                            prop_assert_eq!(a, Admission::Rejected { retry_at_ms: until_ms });
                        }
                        if let Admission::Rejected { retry_at_ms } = a {
                            prop_assert!(retry_at_ms > eff);
                        }
                        if a == Admission::Allowed {
                            prop_assert_eq!(before, BreakerState::Closed);
                        }
                        if a == Admission::Probe {
                            prop_assert_eq!(b.state(t), BreakerState::HalfOpen);
                        }
                    }
                    Op::Success(d) => { t = t.saturating_add(d); b.on_success(t); }
                    Op::Failure(d, r) => {
                        t = t.saturating_add(d);
                        let was_closed = b.state(t) == BreakerState::Closed;
                        let was_half = b.state(t) == BreakerState::HalfOpen;
                        b.on_failure(t, r.map(Duration::from_millis));
                        if was_half || (was_closed && b.state(t) != BreakerState::Closed) {
                            let open = r.map_or(config.open_for, |r| Duration::from_millis(r).max(config.open_for)).min(config.max_open_for);
                            let eff = t.max(b.clock_ms);
                            prop_assert_eq!(b.state(t), BreakerState::Open { until_ms: eff.saturating_add(ceil_ms(open)) });
                        }
                        if config.failure_threshold == 1 && was_closed {
                            prop_assert!(b.state(t).until_ms().is_some(), "threshold 1 opens on the first failure");
                        }
                    }
                    Op::Neutral(d) => { t = t.saturating_add(d); b.on_neutral(t); }
                    Op::RoundTrip => {
                        let json = serde_json::to_string(&b.snapshot()).unwrap();
                        let s: BreakerSnapshot = serde_json::from_str(&json).unwrap();
                        let back = CircuitBreaker::restore(config, &s).unwrap();
                        prop_assert_eq!(&back, &b);
                        b = back;
                    }
                }
                if let Phase::HalfOpen { in_flight, .. } = b.phase {
                    prop_assert!(in_flight <= config.half_open_probes);
                }
                let (s, f) = b.window.totals();
                if b.phase != Phase::Closed {
                    prop_assert_eq!((s, f, b.consecutive_failures), (0, 0, 0));
                }
            }
        }

        #[test]
        fn any_snapshot_is_an_answer_not_a_panic(
            state in prop_oneof![Just("closed"), Just("open"), Just("half_open"), Just("x")],
            until in proptest::option::of(any::<u64>()),
            clock in any::<u64>(),
            consecutive in any::<u32>(),
            bucket_ms in any::<u64>(),
            buckets in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..12),
            in_flight in any::<u32>(),
            successes in any::<u32>(),
            deadline in proptest::option::of(any::<u64>()),
            times in proptest::collection::vec(any::<u64>(), 0..10),
        ) {
            let s = BreakerSnapshot {
                version: 1,
                state: state.to_owned(),
                open_until_ms: until,
                clock_ms: clock,
                consecutive_failures: consecutive,
                bucket_ms,
                buckets: buckets.into_iter().map(|(successes, failures)| WindowBucket { successes, failures }).collect(),
                probes_in_flight: in_flight,
                probe_successes: successes,
                probe_deadline_ms: deadline,
            };
            let config = BreakerConfig::DEFAULT.with_window(Duration::from_millis(bucket_ms.saturating_mul(10)));
            if let Ok(mut b) = CircuitBreaker::restore(config, &s) {
                for (i, t) in times.into_iter().enumerate() {
                    match i % 4 {
                        0 => { let _ = b.admit(t); }
                        1 => b.on_failure(t, Some(Duration::MAX)),
                        2 => b.on_success(t),
                        _ => { let _ = b.state(t); }
                    }
                }
                let _ = b.snapshot();
            }
        }
    }
}
