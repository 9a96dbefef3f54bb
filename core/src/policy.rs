//! Retry decisions: a [`Classification`] plus where we are ([`Attempt`]) plus a random draw →
//! a [`Decision`]. Pure: the same inputs always give the same decision.
//!
//! Defaults, and why:
//!
//! | option | default | why |
//! |---|---|---|
//! | `max_attempts` | 5 | 3–5 attempts clear almost all transient faults; more only multiplies load in an outage. Rate-limited answers do not count (see `max_rate_limited`) |
//! | `max_rate_limited` | 20 | a 429 says nothing about the item and the server paces it, so it does not use up `max_attempts`; this bounds a call that is throttled again and again |
//! | `base_delay` | 1 s | the first retry of a 5xx rarely succeeds in under a second |
//! | `multiplier` | 2.0 | classic exponential backoff: 1, 2, 4, 8 s |
//! | `max_delay` | 30 s | caps *backoff* (never a server's Retry-After) |
//! | `jitter` | full | spreads synchronized clients best (AWS "Exponential Backoff and Jitter") |
//! | `deadline` | none | a call ends by attempts; set one when a caller has a budget of time |
//! | `poll_interval` | 5 s | what polling APIs (412 "not ready", 202) document as a sane pace |
//! | `max_polls` | 120 | ten minutes of polling at the default interval |
//! | `max_server_delay` | 120 s | longer waits are usually quota windows, not blips |
//! | `long_wait` | defer | neither sleep for hours nor retry early into another 429: hand back a resume-at time |
//! | `server_delay_jitter` | 0.0 | a server's delay is followed exactly; raise it to spread a herd *above* the server's time |

use crate::classify::{Category, Classification, Reason};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How random the backoff delay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Jitter {
    /// Exactly the exponential delay.
    None,
    /// Uniform in `[0, exp)`.
    #[default]
    Full,
    /// `exp/2 + uniform[0, exp/2)`.
    Equal,
    /// `min(cap, uniform[base, 3 × previous))` (AWS "decorrelated jitter").
    Decorrelated,
}

/// What to do when a server asks to wait longer than [`RetryPolicy::max_server_delay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LongWait {
    /// Wait `max_server_delay` only, and retry (likely early).
    Clamp,
    /// Give the item up.
    GiveUp,
    /// Hand back [`Decision::Defer`] with the time the item may be resumed.
    #[default]
    Defer,
}

/// Where a delay came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DelaySource {
    /// The server asked for it (Retry-After and friends): followed exactly.
    Server,
    /// The server asked for more than the limit; clamped by [`LongWait::Clamp`].
    ServerClamped,
    /// Exponential backoff.
    Backoff,
    /// The policy's poll interval.
    PollInterval,
}

impl DelaySource {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DelaySource::Server => "server",
            DelaySource::ServerClamped => "server_clamped",
            DelaySource::Backoff => "backoff",
            DelaySource::PollInterval => "poll_interval",
        }
    }
}

/// Why an item is given up (quarantined).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The failure is permanent (see the classification's reason).
    Permanent,
    /// `max_attempts` reached.
    AttemptsExhausted,
    /// `max_polls` reached.
    PollsExhausted,
    /// The next wait would pass the deadline.
    DeadlineExceeded,
    /// The server asked to wait longer than `max_server_delay` and the policy says give up.
    RetryAfterTooLong,
}

impl GiveUpReason {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUpReason::Permanent => "permanent",
            GiveUpReason::AttemptsExhausted => "attempts_exhausted",
            GiveUpReason::PollsExhausted => "polls_exhausted",
            GiveUpReason::DeadlineExceeded => "deadline_exceeded",
            GiveUpReason::RetryAfterTooLong => "retry_after_too_long",
        }
    }
}

/// Why everything stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StopReason {
    /// Credentials rejected: no other item will do better.
    Auth,
    /// Quota or billing exhausted.
    Quota,
}

impl StopReason {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Auth => "auth",
            StopReason::Quota => "quota",
        }
    }
}

/// What to do next.
#[must_use = "a decision that is not acted on is a retry loop that does not exist"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// The call succeeded: keep the result.
    Done,
    /// Wait `delay`, then send the request again.
    Retry {
        /// How long to wait.
        delay: Duration,
        /// Where the delay came from.
        source: DelaySource,
    },
    /// Still processing: wait `delay`, then poll again.
    Poll {
        /// How long to wait.
        delay: Duration,
        /// Where the delay came from.
        source: DelaySource,
    },
    /// The server asked for a wait longer than the policy allows in-line: put the item aside and
    /// resume it at `resume_at_ms` (on the caller's clock, as given in [`Attempt::now_ms`]).
    Defer {
        /// How long the server asked to wait.
        delay: Duration,
        /// `now_ms + delay`.
        resume_at_ms: u64,
    },
    /// Quarantine this item and go on with the rest.
    GiveUp {
        /// Why.
        reason: GiveUpReason,
    },
    /// Stop the whole batch.
    Stop {
        /// Why.
        reason: StopReason,
    },
}

impl Decision {
    /// `"done"`, `"retry"`, `"poll"`, `"defer"`, `"give_up"` or `"stop"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::Done => "done",
            Decision::Retry { .. } => "retry",
            Decision::Poll { .. } => "poll",
            Decision::Defer { .. } => "defer",
            Decision::GiveUp { .. } => "give_up",
            Decision::Stop { .. } => "stop",
        }
    }

    /// The wait before the next request, for `Retry` and `Poll`.
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Decision::Retry { delay, .. } | Decision::Poll { delay, .. } => Some(*delay),
            _ => None,
        }
    }

    /// The decision as flat fields (absent ones `None`), the shape the bindings hand to Python
    /// and JavaScript: one mapping here, so the languages cannot drift apart.
    pub fn fields(&self) -> DecisionFields {
        // Whole milliseconds, rounded down as the vectors' `delay_ms` is; saturating.
        let ms = |d: &Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut f = DecisionFields {
            kind: self.kind(),
            delay_ms: None,
            source: None,
            give_up_reason: None,
            stop_reason: None,
            resume_at_ms: None,
        };
        match self {
            Decision::Done => {}
            Decision::Retry { delay, source } | Decision::Poll { delay, source } => {
                f.delay_ms = Some(ms(delay));
                f.source = Some(source.as_str());
            }
            Decision::Defer {
                delay,
                resume_at_ms,
            } => {
                f.delay_ms = Some(ms(delay));
                f.resume_at_ms = Some(*resume_at_ms);
            }
            Decision::GiveUp { reason } => f.give_up_reason = Some(reason.as_str()),
            Decision::Stop { reason } => f.stop_reason = Some(reason.as_str()),
        }
        f
    }
}

/// A [`Decision`] as flat fields ([`Decision::fields`]): what a binding or a serializer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct DecisionFields {
    /// `"done"`, `"retry"`, `"poll"`, `"defer"`, `"give_up"` or `"stop"`.
    pub kind: &'static str,
    /// The wait in whole milliseconds, for `retry`, `poll` and `defer`.
    pub delay_ms: Option<u64>,
    /// Where the delay came from (`"retry_after"`, `"backoff"`, …), for `retry` and `poll`.
    pub source: Option<&'static str>,
    /// Why the item is given up on, for `give_up`.
    pub give_up_reason: Option<&'static str>,
    /// Why everything stops, for `stop`.
    pub stop_reason: Option<&'static str>,
    /// When to resume, on the caller's clock, for `defer`.
    pub resume_at_ms: Option<u64>,
}

/// Where a call stands when a decision is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Attempt {
    /// Requests sent so far that were not polls (1 after the first request).
    pub number: u32,
    /// Polls made so far after a `pending` answer.
    pub polls: u32,
    /// Time since the first request started, in milliseconds.
    pub elapsed_ms: u64,
    /// The caller's clock now, in milliseconds (only used for [`Decision::Defer`]).
    pub now_ms: u64,
    /// The previous backoff delay, in milliseconds (for decorrelated jitter).
    pub previous_delay_ms: Option<u64>,
    /// How many of the `number` requests were answered with a rate limit (reason
    /// `rate_limited`), this one included. They do not count toward `max_attempts`; a caller
    /// that leaves this at 0 gets every request counted.
    pub rate_limited: u32,
}

impl Attempt {
    /// After the first request, `elapsed_ms` after it started.
    pub fn first(elapsed_ms: u64) -> Self {
        Attempt {
            number: 1,
            elapsed_ms,
            ..Attempt::default()
        }
    }

    /// After the `number`th request.
    pub fn nth(number: u32, elapsed_ms: u64) -> Self {
        Attempt {
            number,
            elapsed_ms,
            ..Attempt::default()
        }
    }

    /// With the caller's clock reading, for [`Decision::Defer`].
    #[must_use]
    pub fn with_now_ms(mut self, now_ms: u64) -> Self {
        self.now_ms = now_ms;
        self
    }

    /// With the number of polls made so far.
    #[must_use]
    pub fn with_polls(mut self, polls: u32) -> Self {
        self.polls = polls;
        self
    }

    /// With the number of rate-limited answers so far (this one included).
    #[must_use]
    pub fn with_rate_limited(mut self, n: u32) -> Self {
        self.rate_limited = n;
        self
    }

    /// With the previous backoff delay.
    #[must_use]
    pub fn with_previous_delay(mut self, delay: Duration) -> Self {
        self.previous_delay_ms = Some(duration_ms(delay));
        self
    }
}

/// A retry policy. See the module docs for every default and the reason for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Most requests per call, the first included, not counting rate-limited answers. At least 1.
    pub max_attempts: u32,
    /// Most rate-limited answers per call.
    pub max_rate_limited: u32,
    /// The first backoff delay.
    #[serde(with = "ms")]
    pub base_delay: Duration,
    /// Growth per attempt; at least 1.
    pub multiplier: f64,
    /// Cap on backoff delays (not on server-given delays).
    #[serde(with = "ms")]
    pub max_delay: Duration,
    /// Randomization of the backoff.
    pub jitter: Jitter,
    /// Total time a call may take, waits included.
    #[serde(with = "ms_opt")]
    pub deadline: Option<Duration>,
    /// Wait between polls when the server gives no delay.
    #[serde(with = "ms")]
    pub poll_interval: Duration,
    /// Most polls per call.
    pub max_polls: u32,
    /// The longest server-given wait followed in-line.
    #[serde(with = "ms")]
    pub max_server_delay: Duration,
    /// What to do with a longer one.
    pub long_wait: LongWait,
    /// Extra random wait on top of a server-given delay, as a fraction of it (0.1 = up to
    /// +10%). Never below what the server asked.
    pub server_delay_jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

impl RetryPolicy {
    /// The defaults (see the module docs).
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        max_rate_limited: 20,
        base_delay: Duration::from_secs(1),
        multiplier: 2.0,
        max_delay: Duration::from_secs(30),
        jitter: Jitter::Full,
        deadline: None,
        poll_interval: Duration::from_secs(5),
        max_polls: 120,
        max_server_delay: Duration::from_secs(120),
        long_wait: LongWait::Defer,
        server_delay_jitter: 0.0,
    };

    /// With `max_attempts`.
    pub const fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }
    /// With `max_rate_limited`.
    pub const fn with_max_rate_limited(mut self, n: u32) -> Self {
        self.max_rate_limited = n;
        self
    }
    /// With `base_delay`.
    pub const fn with_base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }
    /// With `multiplier`.
    pub const fn with_multiplier(mut self, m: f64) -> Self {
        self.multiplier = m;
        self
    }
    /// With `max_delay`.
    pub const fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }
    /// With `jitter`.
    pub const fn with_jitter(mut self, j: Jitter) -> Self {
        self.jitter = j;
        self
    }
    /// With a total `deadline`.
    pub const fn with_deadline(mut self, d: Option<Duration>) -> Self {
        self.deadline = d;
        self
    }
    /// With `poll_interval`.
    pub const fn with_poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }
    /// With `max_polls`.
    pub const fn with_max_polls(mut self, n: u32) -> Self {
        self.max_polls = n;
        self
    }
    /// With `max_server_delay` and what to do beyond it.
    pub const fn with_long_wait(mut self, limit: Duration, what: LongWait) -> Self {
        self.max_server_delay = limit;
        self.long_wait = what;
        self
    }
    /// With `server_delay_jitter`.
    pub const fn with_server_delay_jitter(mut self, fraction: f64) -> Self {
        self.server_delay_jitter = fraction;
        self
    }

    /// Check the options: `max_attempts ≥ 1`, `multiplier` finite and ≥ 1, `base_delay ≤
    /// max_delay`, `server_delay_jitter` finite and in `[0, 10]`.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |name, why: &str| Err(crate::Error::invalid_option(name, why));
        if self.max_attempts == 0 {
            return bad(
                "max_attempts",
                "must be at least 1 (the first request counts)",
            );
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return bad("multiplier", "must be a finite number ≥ 1");
        }
        if self.base_delay > self.max_delay {
            return bad("base_delay", "must not exceed max_delay");
        }
        if !self.server_delay_jitter.is_finite()
            || !(0.0..=10.0).contains(&self.server_delay_jitter)
        {
            return bad("server_delay_jitter", "must be a fraction in [0, 10]");
        }
        Ok(())
    }

    /// The backoff delay after the `attempt`th request (1-based), before any server delay.
    /// `random` is a draw in `[0, 1)` (values outside are clamped; NaN counts as 0).
    pub fn backoff(&self, attempt: u32, previous: Option<Duration>, random: f64) -> Duration {
        let r = unit(random);
        let cap = self.max_delay.as_secs_f64();
        let base = self.base_delay.as_secs_f64().min(cap);
        let exp = {
            let n = attempt.saturating_sub(1).min(1024) as i32;
            let m = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
                self.multiplier
            } else {
                1.0
            };
            (base * m.powi(n)).min(cap)
        };
        let secs = match self.jitter {
            Jitter::None => exp,
            Jitter::Full => r * exp,
            Jitter::Equal => exp / 2.0 + r * exp / 2.0,
            Jitter::Decorrelated => {
                let prev = previous.map(|d| d.as_secs_f64()).unwrap_or(base);
                let hi = (prev * 3.0).max(base);
                (base + r * (hi - base)).min(cap)
            }
        };
        // Not `f64::clamp`: its check of the bounds (a panic message that prints floats) links
        // Rust's float formatting (~14 KB) into the wasm module. The same result: `cap` is a
        // duration's seconds (never below 0 or NaN), and a NaN `secs` reads as 0 either way.
        secs_to_duration(secs.max(0.0).min(cap))
    }

    /// Decide what to do after a classified attempt. `random` is a draw in `[0, 1)` used for
    /// jitter; it is the only randomness, so equal inputs give equal decisions.
    pub fn decide(&self, c: &Classification, attempt: Attempt, random: f64) -> Decision {
        match c.category {
            Category::Success => Decision::Done,
            Category::Auth => Decision::Stop {
                reason: StopReason::Auth,
            },
            Category::Quota => Decision::Stop {
                reason: StopReason::Quota,
            },
            Category::Permanent => Decision::GiveUp {
                reason: GiveUpReason::Permanent,
            },
            Category::Pending => {
                if attempt.polls >= self.max_polls {
                    return Decision::GiveUp {
                        reason: GiveUpReason::PollsExhausted,
                    };
                }
                let (delay, source) = match c.retry_after {
                    Some(d) => (d, DelaySource::Server),
                    None => (self.poll_interval, DelaySource::PollInterval),
                };
                self.finish(delay, source, attempt, random, true)
            }
            Category::Retryable => {
                // A throttled answer is the server pacing us, not the item failing: it does not
                // use up `max_attempts`, only `max_rate_limited`.
                let throttled = c.reason == Reason::RateLimited;
                let counted = attempt.number.saturating_sub(attempt.rate_limited);
                let exhausted = if throttled {
                    attempt.rate_limited >= self.max_rate_limited || counted >= self.max_attempts
                } else {
                    counted >= self.max_attempts
                };
                if exhausted {
                    return Decision::GiveUp {
                        reason: GiveUpReason::AttemptsExhausted,
                    };
                }
                match c.retry_after {
                    Some(d) => self.finish(d, DelaySource::Server, attempt, random, false),
                    None => {
                        let prev = attempt.previous_delay_ms.map(Duration::from_millis);
                        let n = if throttled {
                            attempt.rate_limited
                        } else {
                            counted
                        };
                        let d = self.backoff(n.max(1), prev, random);
                        self.finish(d, DelaySource::Backoff, attempt, random, false)
                    }
                }
            }
        }
    }

    fn finish(
        &self,
        mut delay: Duration,
        mut source: DelaySource,
        attempt: Attempt,
        random: f64,
        poll: bool,
    ) -> Decision {
        if source == DelaySource::Server {
            if delay > self.max_server_delay {
                match self.long_wait {
                    LongWait::Clamp => {
                        delay = self.max_server_delay;
                        source = DelaySource::ServerClamped;
                    }
                    LongWait::GiveUp => {
                        return Decision::GiveUp {
                            reason: GiveUpReason::RetryAfterTooLong,
                        }
                    }
                    LongWait::Defer => {
                        return Decision::Defer {
                            delay,
                            resume_at_ms: attempt.now_ms.saturating_add(duration_ms(delay)),
                        }
                    }
                }
            } else if self.server_delay_jitter > 0.0 {
                // Only ever *above* what the server asked.
                let extra = delay.as_secs_f64() * self.server_delay_jitter.min(10.0) * unit(random);
                delay = delay.saturating_add(secs_to_duration(extra));
            }
        }
        if let Some(deadline) = self.deadline {
            let at = Duration::from_millis(attempt.elapsed_ms).saturating_add(delay);
            if at > deadline {
                return Decision::GiveUp {
                    reason: GiveUpReason::DeadlineExceeded,
                };
            }
        }
        if poll {
            Decision::Poll { delay, source }
        } else {
            Decision::Retry { delay, source }
        }
    }
}

fn unit(r: f64) -> f64 {
    if r.is_nan() {
        0.0
    } else {
        r.clamp(0.0, 1.0 - f64::EPSILON)
    }
}

/// Seconds → Duration, saturating, rounded to the millisecond so that every delay the core
/// hands out is a whole number of milliseconds (the unit of the vectors and the bindings).
fn secs_to_duration(secs: f64) -> Duration {
    if !secs.is_finite() || secs <= 0.0 {
        return Duration::ZERO;
    }
    let ms = (secs * 1000.0).round();
    if ms >= u64::MAX as f64 {
        Duration::from_millis(u64::MAX)
    } else {
        Duration::from_millis(ms as u64)
    }
}

/// Milliseconds of a duration, saturating at `u64::MAX`.
pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

mod ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(super::duration_ms(*d))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

mod ms_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&super::duration_ms(*d)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}
