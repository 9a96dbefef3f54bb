//! Pacer: a per-host client-side rate limiter whose send rate is learned from the server.
//!
//! A [`RateGate`](crate::RateGate) answers a 429 by closing for the whole `Retry-After`: with a
//! token bucket that refills a token every 10 ms but says `Retry-After: 1` (nearly every real
//! API rounds up to whole seconds), every caller stalls for a second, then all leave together,
//! empty the bucket in a few milliseconds and meet the next 429. The pacer instead *spaces*
//! sends at a rate: lowered when the server throttles, grown back while it does not, and bounded
//! by what the rate-limit headers say is left.
//!
//! One pacer per host; the driver keeps the map. Sans-IO: `now_ms` is the caller's monotonic
//! clock in milliseconds (the same clock as every other `now_ms` in the core), nothing here reads
//! a clock, sleeps or panics.
//!
//! # The drive loop
//!
//! ```
//! use http_triage::{Pacer, PacerConfig};
//! # use http_triage::{classify, Request, Response, Rules};
//! let mut pacer = Pacer::new(PacerConfig::default())?;
//! let now = 1_000;
//! let send_at = pacer.acquire(now); // sleep until `send_at`, then send
//! assert_eq!(send_at, now); // a host that never pushed back is not paced
//! # let response = Response::new(429, &[("retry-after", "1")], b"");
//! # let c = classify(&response, &Request::new("GET"), 0, &Rules::default());
//! // ... classify the answer into `c`, then:
//! pacer.record_sent(&c, send_at, now + 2);
//! assert!(pacer.rate().is_some()); // a 429: now paced
//! # Ok::<(), http_triage::Error>(())
//! ```
//!
//! # Rules, and why
//!
//! | rule | why |
//! |---|---|
//! | no pacing until the host pushes back ([`rate`](Pacer::rate) is `None`), unless a [`max_rate`](PacerConfig::max_rate) is set | an unthrottled host must not get slower |
//! | [`acquire`](Pacer::acquire) hands out one send time per call, each at least `1000 / rate` ms after the previous one (GCRA's virtual scheduling, burst 1) | after a 429 the waiters leave one by one at the paced rate, not together; no client burst: the server's own bucket burst is the slack that absorbs network jitter, spending it on purpose leaves none |
//! | `acquire` never returns a time before `now_ms` | a request that was told to wait sleeps its own `Retry-After` first (the retry policy decides that delay, including its `long_wait`), then asks: the pacer can only make it later, never earlier |
//! | a throttle's `Retry-After` of *d* holds **every** send until now + *d* − 1 s | a whole-second `Retry-After` is the wait rounded up, so the server refuses anything earlier anyway: "come back in an hour" stops the host (not one 429 per caller), while `Retry-After: 1` — the token may come in 10 ms — holds nothing |
//! | after a hold, until the server accepts a request again, sends go at most every 100 ms, and a throttle of one sent as the hold ended (or up to 1 s before its end) does not cut | such a request probed a window that may still be shut (a sliding-window limiter reopens as its oldest requests age out): its 429 says *when*, not *how fast*. Cutting from the trickle of probes left the host paced at 1–2 req/s as the window reopened; sending every waiter at the learned rate spent a 429 each. Measured against a sliding-window-log limiter of 100 per 10 s with whole-second `Retry-After` (300 files, 10 in flight): 25.5 s → 21.2 s, the naive loop 21.3 s; 429s 28 → 27 |
//! | a cut ignores a measured rate whose counts span less than one bucket, once a rate is learned | the first sends after a hold or a pause read as 2 req/s; the learned rate is the better base then |
//! | a **throttle** is a 429, reason `rate_limited` or `overloaded`, or `remaining == 0` without a reset time; not a quota or auth answer, not a 500 | only "too fast" is about the rate; a failing server is the breaker's business, a spent quota stops the batch |
//! | on a throttle the rate is cut to `beta × min(rate, measured send rate, accepted rate)` (at least `min_rate`), and the next send is one new interval away | AWS's adaptive retry (CUBIC) cuts from the measured send rate: what actually reached the server, so the cut lands below the limit even when the paced rate was far above it. The rate of answers that were not throttles (same buckets) is what the server let through: the closest estimate of its limit. Without it the curve plateaus at the rate that was throttled, 10–25% over the limit, and meets a 429 every second; with it the plateau sits at the limit (measured: 429s 3.2% → 2.2% with a limit falling to 30/s, wall 1.20 → 1.15 × the floor, in a simulation of the benchmark) |
//! | one cut per round trip: a throttle for a request sent before the last cut, or given its send time before it, does not cut again ([`record_sent`](Pacer::record_sent)) | those requests were paced at the old rate; their 429s say nothing new (TCP's one-decrease-per-window). [`record`](Pacer::record) does not know the send time: its throttles count as sent at `now` |
//! | the measured send rate is the number of send times handed out in the current and the previous 500-ms bucket, over the time they span (at least 500 ms); the accepted rate likewise counts answers that were not throttles | AWS smooths over half-second buckets too; a short burst of a few sends at start-up reads as a low rate, not as thousands per second |
//! | after a cut the rate grows along `w_max × (1 + scale × (t − k)³)`, `k = ∛((1 − beta) / scale)`, `t` seconds since the cut, `w_max` the rate cut from | CUBIC: fast back toward the rate that was throttled, flat near it, then probing past it; **relative** to `w_max` (AWS's curve is absolute, which takes 6 s to get back to 100 req/s and 0.4 s to 1 req/s): with the defaults the rate is back at `w_max` 0.9 s after a cut whatever the limit |
//! | growth needs an answer from the server (a status) that was not a throttle, and is capped at twice the measured send rate (never below the current rate) | a transport error says nothing about the limit; a rate the callers do not use is not a rate the server accepted |
//! | **headers**: `remaining` R with a reset in T means at most R sends until now + T, spread evenly over T (R = 0: none until T) | the server says what is left before any 429; spreading (instead of a burst) keeps answers coming, so the next window's headers are read as soon as it opens |
//! | within a window the server's `remaining` only goes down: a higher one (for a request sent after the last one read) is a new window; otherwise keep the lower of its count and ours, and the earlier reset; an answer to a request sent before the last one read is old news | the server's count does not hold our sends in flight (ours does); a reset rounded up to whole seconds moves later with each answer, and the jump of `remaining` finds the real window start at once (else the next window starts late, and the lag grows) |
//! | with a known `limit` L and window `w` (`RateLimit-Policy`'s `q` and `w`) a window that ends opens the next with L sends; without them the header bound ends with its window | the next answers refresh it anyway |
//! | arithmetic saturates; a clock that goes backwards only means a longer wait; rates stay within `[min_rate, max_rate]` and at most 10⁹ req/s | no input can panic, wrap or produce NaN |

use crate::classify::{Category, Classification, Reason};
use crate::gate::ceil_ms;
use serde::{Deserialize, Serialize};

/// The snapshot format version written by this build.
const SNAPSHOT_VERSION: u32 = 1;

/// The width of one send-rate bucket, ms.
const BUCKET_MS: u64 = 500;

/// While a window that was shut may still be (see [`Pacer::record_sent`]), sends go out at
/// most this often, ms: at most ten refusals a second, and the window is found open at most
/// this late.
const PROBE_GAP_MS: u64 = 100;

/// No rate is ever above this many requests per second.
const RATE_CEILING: f64 = 1e9;

/// Options of a [`Pacer`]. Rates are requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PacerConfig {
    /// The factor the rate is cut by on a throttle (AWS: 0.7). In (0, 1).
    pub beta: f64,
    /// How fast the rate grows back after a throttle: the cubic's coefficient, relative to the
    /// rate at the last throttle, per s³ (0.4: back at that rate 0.9 s after the cut, 10% past
    /// it 0.6 s later). > 0.
    pub scale: f64,
    /// The lowest rate the pacer ever paces at (AWS: 0.5 req/s). > 0.
    pub min_rate: f64,
    /// A ceiling the caller sets, or `None`. When set, sends are paced at most this fast from
    /// the start.
    pub max_rate: Option<f64>,
}

impl Default for PacerConfig {
    fn default() -> Self {
        PacerConfig {
            beta: 0.7,
            scale: 0.4,
            min_rate: 0.5,
            max_rate: None,
        }
    }
}

impl PacerConfig {
    /// Check the options: `beta` in (0, 1), `scale` and `min_rate` finite and above 0,
    /// `max_rate` finite and at least `min_rate`, all at most 10⁹.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let finite_pos = |x: f64| x.is_finite() && x > 0.0 && x <= RATE_CEILING;
        if !(finite_pos(self.beta) && self.beta < 1.0) {
            return Err(crate::Error::invalid_option("beta", "must be in (0, 1)"));
        }
        if !finite_pos(self.scale) {
            return Err(crate::Error::invalid_option(
                "scale",
                "must be above 0 and at most 1e9",
            ));
        }
        if !finite_pos(self.min_rate) {
            return Err(crate::Error::invalid_option(
                "min_rate",
                "must be above 0 and at most 1e9",
            ));
        }
        if let Some(m) = self.max_rate {
            if !finite_pos(m) || m < self.min_rate {
                return Err(crate::Error::invalid_option(
                    "max_rate",
                    "must be at most 1e9 and at least min_rate",
                ));
            }
        }
        Ok(())
    }
}

/// A per-host pacer. One per host; the driver keeps the map. See the [module docs](self) for
/// the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacer {
    config: PacerConfig,
    /// The learned rate, or `None` while the host has not pushed back.
    rate: Option<f64>,
    /// The next free send time of the learned rate (GCRA's theoretical arrival time), ms.
    next_ms: f64,
    /// The rate the last cut was made from (CUBIC's `W_max`).
    w_max: f64,
    /// When the last cut was made.
    last_cut_ms: Option<u64>,
    /// Cuts so far.
    cuts: u64,
    /// The latest send time handed out before the last cut.
    cut_slot_ms: Option<u64>,
    /// The latest send time handed out so far.
    last_slot_ms: Option<u64>,
    /// Send times handed out, counted in 500-ms buckets.
    sends: SendCounter,
    /// Answers that were not throttles, counted in 500-ms buckets.
    accepted: SendCounter,
    /// The header bound: what the server said is left in its window.
    window: Option<Window>,
    /// The window's quota, when the headers said.
    limit: Option<u64>,
    /// The window's length in ms, when the headers said.
    window_ms: Option<u64>,
    /// No send before this time: a long `Retry-After` of a throttle, less a second.
    hold_until_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct SendCounter {
    /// Start of the current bucket; `None` before the first send.
    start_ms: Option<u64>,
    current: u64,
    previous: u64,
}

impl SendCounter {
    /// (start, current, previous) as seen at `t` (buckets rolled forward, not stored).
    fn at(&self, t: u64) -> (u64, u64, u64) {
        let Some(start) = self.start_ms else {
            return (t, 0, 0);
        };
        if t < start.saturating_add(BUCKET_MS) {
            (start, self.current, self.previous)
        } else if t < start.saturating_add(2 * BUCKET_MS) {
            (start.saturating_add(BUCKET_MS), 0, self.current)
        } else {
            (t, 0, 0)
        }
    }

    fn count(&mut self, t: u64) {
        let (start, current, previous) = self.at(t);
        *self = SendCounter {
            start_ms: Some(start),
            current: current.saturating_add(1),
            previous,
        };
    }

    /// Whether the count as of `now` spans at least one whole bucket: less (a first send, or
    /// the first after a second or more of silence) tells nothing about a rate.
    fn spans_a_bucket(&self, now: u64) -> bool {
        let Some(start) = self.start_ms else {
            return false;
        };
        let t = now.max(start);
        let (start, _, previous) = self.at(t);
        previous > 0 || t.saturating_sub(start) >= BUCKET_MS
    }

    /// Sends per second over the current and the previous bucket, as of `now`.
    fn rate(&self, now: u64) -> f64 {
        let Some(start) = self.start_ms else {
            return 0.0;
        };
        // Send times may lie a little ahead of `now` (handed out for later): read the buckets at
        // the later of the two.
        let t = now.max(start);
        let (start, current, previous) = self.at(t);
        let span = (t - start)
            .saturating_add(BUCKET_MS)
            .clamp(BUCKET_MS, 2 * BUCKET_MS);
        current.saturating_add(previous) as f64 * 1000.0 / span as f64
    }
}

/// What the headers said is left: at most `left` more sends before `ends_at_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    ends_at_ms: u64,
    left: u64,
    /// The next send time the even spread allows.
    next_ms: u64,
    /// Answers to requests sent before this time are older than what the window knows.
    basis_ms: u64,
    /// The `remaining` the server last said for this window (the quota, for a window opened
    /// from the policy).
    reported: u64,
}

/// The state of a [`Pacer`] as plain data. Fields after `next_ms` may be absent (a skeleton
/// snapshot): they default to "nothing learned".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PacerSnapshot {
    /// The snapshot format version (1).
    pub version: u32,
    /// The options.
    pub config: PacerConfig,
    /// The learned rate in requests per second, `null` when the host never pushed back.
    pub rate: Option<f64>,
    /// The next free send time of the learned rate on the caller's clock, ms.
    pub next_ms: f64,
    /// The rate the last cut was made from (CUBIC's `W_max`), req/s.
    #[serde(default)]
    pub w_max: f64,
    /// When the last cut was made, on the caller's clock.
    #[serde(default)]
    pub last_cut_ms: Option<u64>,
    /// The latest send time handed out before the last cut: throttles of sends up to it do not
    /// cut again.
    #[serde(default)]
    pub cut_slot_ms: Option<u64>,
    /// The latest send time handed out so far.
    #[serde(default)]
    pub last_slot_ms: Option<u64>,
    /// Cuts so far.
    #[serde(default)]
    pub cuts: u64,
    /// Start of the current send-rate bucket (`null` before the first send).
    #[serde(default)]
    pub bucket_start_ms: Option<u64>,
    /// Sends in the current bucket.
    #[serde(default)]
    pub bucket_sends: u64,
    /// Sends in the previous bucket.
    #[serde(default)]
    pub previous_bucket_sends: u64,
    /// Start of the current bucket of answers that were not throttles.
    #[serde(default)]
    pub accepted_bucket_start_ms: Option<u64>,
    /// Answers that were not throttles in that bucket.
    #[serde(default)]
    pub bucket_accepted: u64,
    /// Answers that were not throttles in the previous bucket.
    #[serde(default)]
    pub previous_bucket_accepted: u64,
    /// When the header bound's window ends (`null`: no header bound).
    #[serde(default)]
    pub window_ends_at_ms: Option<u64>,
    /// Sends left in that window.
    #[serde(default)]
    pub window_left: u64,
    /// The next send time the header bound allows.
    #[serde(default)]
    pub window_next_ms: u64,
    /// Answers to requests sent before this time are older than the window's news.
    #[serde(default)]
    pub window_basis_ms: u64,
    /// The `remaining` the server last said for that window.
    #[serde(default)]
    pub window_reported: u64,
    /// The window's quota from the headers.
    #[serde(default)]
    pub limit: Option<u64>,
    /// The window's length from the headers, ms.
    #[serde(default)]
    pub window_ms: Option<u64>,
    /// No send before this time (a long `Retry-After` of a throttle, less a second).
    #[serde(default)]
    pub hold_until_ms: Option<u64>,
}

impl Pacer {
    /// A pacer that does not pace until the host pushes back (or at most `max_rate`, when set).
    pub fn new(config: PacerConfig) -> Result<Self, crate::Error> {
        config.validate()?;
        Ok(Pacer {
            config,
            rate: None,
            next_ms: 0.0,
            w_max: 0.0,
            last_cut_ms: None,
            cuts: 0,
            cut_slot_ms: None,
            last_slot_ms: None,
            sends: SendCounter::default(),
            accepted: SendCounter::default(),
            window: None,
            limit: None,
            window_ms: None,
            hold_until_ms: None,
        })
    }

    /// The options.
    pub fn config(&self) -> &PacerConfig {
        &self.config
    }

    /// The interval of the learned rate (capped by `max_rate`), ms; `None`: not paced.
    fn interval(&self) -> Option<f64> {
        let r = match (self.rate, self.config.max_rate) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(1000.0 / r)
    }

    /// The learned slot at or after `now` (fractional ms).
    fn learned_slot(&self, now: u64) -> f64 {
        let now = now as f64;
        match self.interval() {
            Some(_) => self.next_ms.max(now),
            None => now,
        }
    }

    /// The header window as it stands at `t`: a window that ended opens the next one when the
    /// quota and window length are known, and is gone otherwise.
    fn window_at(&self, t: u64) -> Option<Window> {
        let w = self.window?;
        if t < w.ends_at_ms {
            return Some(w);
        }
        let (limit, len) = (self.limit?, self.window_ms.filter(|&l| l > 0)?);
        let periods = (t - w.ends_at_ms) / len;
        let start = w.ends_at_ms.saturating_add(periods.saturating_mul(len));
        let ends_at_ms = start.saturating_add(len);
        (ends_at_ms > t).then_some(Window {
            ends_at_ms,
            left: limit,
            next_ms: start,
            basis_ms: start,
            reported: limit,
        })
    }

    /// The earliest time at or after `t` the header bound allows.
    fn header_slot(&self, t: u64) -> u64 {
        match self.window_at(t) {
            None => t,
            Some(w) if w.left == 0 => w.ends_at_ms,
            Some(w) => t.max(w.next_ms),
        }
    }

    /// The send time a caller asking at `now` would get, without reserving it.
    fn slot(&self, now: u64) -> (f64, u64) {
        let learned = self.learned_slot(now);
        // `max(now)`: above 2^53 ms the float may round below `now`.
        let t = ceil_u64(learned)
            .max(now)
            .max(self.hold_until_ms.unwrap_or(0));
        let at = self.header_slot(t);
        (learned, at)
    }

    /// Reserve the next send: returns the time (ms, `>= now_ms`) at which this caller may send.
    /// Each call takes one slot, so concurrent callers get successive times.
    pub fn acquire(&mut self, now_ms: u64) -> u64 {
        let (learned, at) = self.slot(now_ms);
        if let Some(interval) = self.interval() {
            // Pushed later by the header bound: the learned spacing counts from the real send.
            let base = if at > ceil_u64(learned) {
                at as f64
            } else {
                learned
            };
            // While a hold has not been followed by an accepted request, one probe at a time.
            let gap = if self.hold_until_ms.is_some() {
                interval.max(PROBE_GAP_MS as f64)
            } else {
                interval
            };
            self.next_ms = (base + gap).min(u64::MAX as f64);
        }
        self.window = self.window_at(at).or(self.window).map(|mut w| {
            if w.left > 0 && at < w.ends_at_ms {
                w.left -= 1;
                // The sends still left share the time still left, evenly (rounded up: never
                // early).
                let rest = w.ends_at_ms - at;
                w.next_ms = at.saturating_add(rest.div_ceil(w.left.saturating_add(1)));
            }
            w
        });
        self.sends.count(at);
        self.last_slot_ms = Some(self.last_slot_ms.map_or(at, |l| l.max(at)));
        at
    }

    /// How long a caller asking now would wait, without reserving anything.
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        self.slot(now_ms).1.saturating_sub(now_ms)
    }

    /// Learn from a classified call whose send time is unknown: as
    /// [`record_sent`](Self::record_sent) with the request sent at `now_ms`, so every throttle
    /// cuts (as in AWS's SDKs). Prefer `record_sent` when the send time is known.
    pub fn record(&mut self, c: &Classification, now_ms: u64) {
        self.record_sent(c, now_ms, now_ms);
    }

    /// Learn from a classified call sent at `sent_ms` (the time [`acquire`](Self::acquire)
    /// handed out) and answered at `now_ms`: throttles cut the rate (once per round trip: not
    /// for a request sent before the last cut), other answers grow it back, rate-limit headers
    /// bound the sends until their reset.
    pub fn record_sent(&mut self, c: &Classification, sent_ms: u64, now_ms: u64) {
        self.read_headers(c, sent_ms, now_ms);
        if is_throttle(c) {
            // Sent as a hold ended (or later), and the server has not accepted anything since:
            // it probed a window that has not opened yet. Its answer says when, not how fast:
            // it may hold again but does not cut. (After a hold the measured send rate is the
            // trickle of probes, and a cut from it left the host paced at a few requests a
            // second once the window opened.)
            let probe = self.probing(sent_ms);
            let mut until = c.retry_after.map_or(now_ms, |d| {
                now_ms.saturating_add(ceil_ms(d).saturating_sub(1000))
            });
            if probe {
                // One probe at a time, not every waiter at the learned rate into a shut window.
                until = until.max(now_ms.saturating_add(PROBE_GAP_MS));
            }
            if until > now_ms {
                self.hold_until_ms = Some(self.hold_until_ms.map_or(until, |h| h.max(until)));
            }
            // Slots handed out before the cut were paced at the old rate, even those that leave
            // after it.
            let before_cut = self.last_cut_ms.is_some_and(|t| sent_ms < t)
                || self.cut_slot_ms.is_some_and(|t| sent_ms <= t);
            if !before_cut && !probe {
                self.cut(now_ms);
            }
        } else if c.status.is_some() {
            if self.probing(sent_ms) {
                // The server took a request sent as the hold ended: its window is open again,
                // and the probes' spacing ends.
                self.hold_until_ms = None;
                if let Some(interval) = self.interval() {
                    self.next_ms = self.next_ms.min(now_ms as f64 + interval);
                }
            }
            self.accepted.count(now_ms);
            self.grow(now_ms);
        }
    }

    /// A request sent at `sent_ms` went out as a hold ended or later (the hold ends a second
    /// before the server's whole-second wait does, so up to a second before it counts too):
    /// until the server accepts one, such requests are probing a window that may still be shut.
    fn probing(&self, sent_ms: u64) -> bool {
        self.hold_until_ms
            .is_some_and(|h| sent_ms.saturating_add(1000) > h)
    }

    fn cut(&mut self, now: u64) {
        let measured = self.sends.rate(now);
        // With a learned rate, counts that span less than a bucket (the first sends after a hold
        // or a pause: a few in a bucket read as 2 req/s) say nothing; the learned rate is cut.
        // Measured after a 5-s hold against a sliding-window limiter, they had cut it to
        // 1-2 req/s just as the window reopened.
        let known = |c: &SendCounter| self.rate.is_none() || c.spans_a_bucket(now);
        let mut base = match self.rate {
            Some(r) if known(&self.sends) => r.min(measured),
            Some(r) => r,
            None => measured,
        };
        // What the server let through is the better estimate of its limit, once there is any.
        let accepted = self.accepted.rate(now);
        if accepted > 0.0 && known(&self.accepted) {
            base = base.min(accepted);
        }

        let base = self.bounded(base);
        self.w_max = base;
        let rate = self.bounded(base * self.config.beta);
        self.rate = Some(rate);
        self.last_cut_ms = Some(now);
        self.cuts = self.cuts.saturating_add(1);
        self.cut_slot_ms = self.last_slot_ms;
        if let Some(interval) = self.interval() {
            // Send times handed out at the old rate and not yet used are given up: their
            // holders ask again (see `cuts`) and queue at the new rate.
            self.next_ms = (now as f64 + interval).min(u64::MAX as f64);
        }
    }

    fn grow(&mut self, now: u64) {
        let (Some(rate), Some(cut)) = (self.rate, self.last_cut_ms) else {
            return;
        };
        let t = now.saturating_sub(cut) as f64 / 1000.0;
        let PacerConfig { beta, scale, .. } = self.config;
        let k = ((1.0 - beta) / scale).cbrt();
        let cubic = self.w_max * (1.0 + scale * (t - k).powi(3));
        let ceiling = rate.max(2.0 * self.sends.rate(now));
        let grown = if cubic.is_finite() {
            cubic.min(ceiling)
        } else {
            ceiling
        };
        self.rate = Some(self.bounded(grown.max(rate)));
    }

    /// `r` within `[min_rate, max_rate]` and at most 10⁹ (NaN reads as `min_rate`).
    fn bounded(&self, r: f64) -> f64 {
        let top = self.config.max_rate.unwrap_or(RATE_CEILING);
        if r.is_nan() {
            return self.config.min_rate;
        }
        // Not `f64::clamp` (its panic message links Rust's float formatting into the wasm
        // module): `validate` keeps `min_rate <= top`, so this is the same.
        r.max(self.config.min_rate).min(top)
    }

    fn read_headers(&mut self, c: &Classification, sent: u64, now: u64) {
        if let Some(l) = c.rate_limit_limit {
            self.limit = Some(l);
        }
        if let Some(w) = c.rate_limit_window {
            self.window_ms = Some(ceil_ms(w));
        }
        let (Some(left), Some(reset)) = (c.rate_limit_remaining, c.rate_limit_reset) else {
            return;
        };
        let ends_at_ms = now.saturating_add(ceil_ms(reset));
        let fresh = Window {
            ends_at_ms,
            left,
            next_ms: now,
            basis_ms: sent,
            reported: left,
        };
        let Some(w) = self.window_at(now).or(self.window) else {
            self.window = Some(fresh);
            return;
        };
        self.window = Some(if sent < w.basis_ms {
            // Older news than the window's: an answer to a request sent before the one the
            // window was last told about.
            w
        } else if left > w.reported || sent >= w.ends_at_ms {
            // The server's count went up: its window reset. Or the request left after the
            // window ended: it speaks of a later one.
            fresh
        } else {
            // The same window (a window that has ended stays ended): the lower count (ours
            // also holds the sends still in flight, the server's those of other clients) and
            // the earlier end (a reset rounded up to whole seconds moves later with each
            // answer).
            Window {
                ends_at_ms: w.ends_at_ms.min(ends_at_ms),
                left: left.min(w.left),
                basis_ms: sent,
                reported: left,
                ..w
            }
        });
    }

    /// How many times the rate was cut so far. A caller holding a send time that lies after a
    /// cut (the count changed since its [`acquire`](Self::acquire)) should give it up and
    /// `acquire` again: the time was handed out at the old rate, and the pacer no longer keeps it
    /// free.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// The learned rate in requests per second, or `None` while the host has not pushed back.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// The rate sends are held to right now, req/s: the lowest of the learned rate, `max_rate`
    /// and what the header bound leaves (sends left over the time left); `None` when nothing
    /// holds sends back. This is what a progress line shows ("paced at 96 req/s").
    pub fn pace(&self, now_ms: u64) -> Option<f64> {
        let learned = self.interval().map(|i| 1000.0 / i);
        let header = self.window_at(now_ms).map(|w| {
            let rest = w.ends_at_ms.saturating_sub(now_ms).max(1);
            w.left as f64 * 1000.0 / rest as f64
        });
        match (learned, header) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The send rate measured over the last half second to second, req/s.
    pub fn measured_rate(&self, now_ms: u64) -> f64 {
        self.sends.rate(now_ms)
    }

    /// The pacer as plain data.
    pub fn snapshot(&self) -> PacerSnapshot {
        PacerSnapshot {
            version: SNAPSHOT_VERSION,
            config: self.config,
            rate: self.rate,
            next_ms: self.next_ms,
            w_max: self.w_max,
            last_cut_ms: self.last_cut_ms,
            cut_slot_ms: self.cut_slot_ms,
            last_slot_ms: self.last_slot_ms,
            cuts: self.cuts,
            bucket_start_ms: self.sends.start_ms,
            bucket_sends: self.sends.current,
            previous_bucket_sends: self.sends.previous,
            accepted_bucket_start_ms: self.accepted.start_ms,
            bucket_accepted: self.accepted.current,
            previous_bucket_accepted: self.accepted.previous,
            window_ends_at_ms: self.window.map(|w| w.ends_at_ms),
            window_left: self.window.map_or(0, |w| w.left),
            window_next_ms: self.window.map_or(0, |w| w.next_ms),
            window_basis_ms: self.window.map_or(0, |w| w.basis_ms),
            window_reported: self.window.map_or(0, |w| w.reported),
            limit: self.limit,
            window_ms: self.window_ms,
            hold_until_ms: self.hold_until_ms,
        }
    }

    /// A pacer from a snapshot. Fails on a version this build does not know or bad fields (a
    /// rate outside the config's bounds, a negative or non-finite time).
    pub fn restore(s: &PacerSnapshot) -> Result<Self, crate::Error> {
        let bad = |why: &str| {
            Err(crate::Error::InvalidSnapshot(format!(
                "pacer snapshot: {why}"
            )))
        };
        if s.version != SNAPSHOT_VERSION {
            return Err(crate::Error::InvalidSnapshot(format!(
                "pacer snapshot version {} (this build reads {SNAPSHOT_VERSION})",
                s.version
            )));
        }
        s.config
            .validate()
            .map_err(|e| crate::Error::InvalidSnapshot(e.to_string()))?;
        let top = s.config.max_rate.unwrap_or(RATE_CEILING);
        if let Some(r) = s.rate {
            if !(r.is_finite() && r >= s.config.min_rate && r <= top) {
                return bad("rate is outside [min_rate, max_rate]");
            }
        }
        if !(s.next_ms.is_finite() && s.next_ms >= 0.0) {
            return bad("next_ms must be a finite time");
        }
        if !(s.w_max.is_finite() && (0.0..=RATE_CEILING).contains(&s.w_max)) {
            return bad("w_max must be a rate");
        }
        let window = s.window_ends_at_ms.map(|ends_at_ms| Window {
            ends_at_ms,
            left: s.window_left,
            next_ms: s.window_next_ms,
            basis_ms: s.window_basis_ms,
            reported: s.window_reported,
        });
        Ok(Pacer {
            config: s.config,
            rate: s.rate,
            next_ms: s.next_ms,
            w_max: s.w_max,
            last_cut_ms: s.last_cut_ms,
            cut_slot_ms: s.cut_slot_ms,
            last_slot_ms: s.last_slot_ms,
            sends: SendCounter {
                start_ms: s.bucket_start_ms,
                current: s.bucket_sends,
                previous: s.previous_bucket_sends,
            },
            cuts: s.cuts,
            accepted: SendCounter {
                start_ms: s.accepted_bucket_start_ms,
                current: s.bucket_accepted,
                previous: s.previous_bucket_accepted,
            },
            window,
            limit: s.limit,
            window_ms: s.window_ms,
            hold_until_ms: s.hold_until_ms,
        })
    }
}

/// Whether a classified call tells the pacer to slow down.
fn is_throttle(c: &Classification) -> bool {
    if matches!(c.category, Category::Quota | Category::Auth) {
        return false;
    }
    matches!(c.reason, Reason::RateLimited | Reason::Overloaded)
        || c.status == Some(429)
        || (c.rate_limit_remaining == Some(0) && c.rate_limit_reset.is_none())
}

/// `x` rounded up to a whole ms, saturating (NaN reads as 0). Float noise below a microsecond
/// is dropped first: `50.000000003` ms (a rate of 19.999999998/s) is 50, not 51.
fn ceil_u64(x: f64) -> u64 {
    // `as` saturates for floats (and maps NaN to 0).
    (x - 1e-3).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{classify_transport, Request, TransportError};
    use proptest::prelude::*;
    use std::time::Duration;

    fn answer(status: u16, remaining: Option<u64>, reset_ms: Option<u64>) -> Classification {
        let mut c = classify_transport(TransportError::Dns, &Request::unknown());
        c.transport_error = None;
        c.status = Some(status);
        (c.category, c.reason) = match status {
            429 => (Category::Retryable, Reason::RateLimited),
            500 => (Category::Retryable, Reason::ServerError),
            _ => (Category::Success, Reason::Ok),
        };
        c.rate_limit_remaining = remaining;
        c.rate_limit_reset = reset_ms.map(Duration::from_millis);
        c
    }

    #[test]
    fn waiters_leave_one_by_one_after_a_429() {
        let mut p = Pacer::new(PacerConfig::default()).unwrap_or_else(|_| unreachable!());
        for _ in 0..10 {
            assert_eq!(p.acquire(0), 0);
        }
        p.record_sent(&answer(429, None, None), 0, 5);
        let times: Vec<u64> = (0..5).map(|_| p.acquire(5)).collect();
        assert!(times.windows(2).all(|w| w[1] >= w[0] + 70), "{times:?}");
        assert!(times[0] > 5);
    }

    #[test]
    fn a_cut_just_after_a_hold_cuts_the_learned_rate_not_the_trickle() {
        let mut p = Pacer::new(PacerConfig::default()).unwrap_or_else(|_| unreachable!());
        for t in 0..100 {
            let at = p.acquire(t);
            p.record_sent(&answer(200, None, None), at, t + 1);
        }
        let mut full = answer(429, None, None);
        full.retry_after = Some(Duration::from_secs(3));
        p.record_sent(&full, 99, 100);
        let learned = p.rate().unwrap_or_default();
        assert!(learned > 100.0, "{learned}");
        // The hold ends at 2100; a probe gets through, so the window is open again.
        let at = p.acquire(150);
        assert_eq!(at, 2_100);
        p.record_sent(&answer(200, None, None), at, at + 1);
        // The next throttle cuts: from the learned rate, not from the 2 req/s of the two sends
        // and one answer since the hold.
        let at = p.acquire(at + 1);
        p.record_sent(&answer(429, None, None), at, at + 5);
        let cut = p.rate().unwrap_or_default();
        assert!((cut - 0.7 * learned).abs() < 1e-6, "{cut} after {learned}");
    }

    #[test]
    fn a_500_never_slows() {
        let mut p = Pacer::new(PacerConfig::default()).unwrap_or_else(|_| unreachable!());
        p.acquire(0);
        for t in 0..100 {
            p.record_sent(&answer(500, None, None), t, t);
        }
        assert_eq!(p.rate(), None);
        assert_eq!(p.acquire(100), 100);
    }

    proptest! {
        #[test]
        fn never_early_never_panics(
            ops in proptest::collection::vec(
                (0u8..4, any::<u64>(), 0u64..3_000, prop_oneof![Just(200u16), Just(429), Just(500)],
                 proptest::option::of(0u64..5), proptest::option::of(any::<u64>())),
                1..60),
            beta in 0.01f64..0.99, scale in 0.001f64..100.0, min_rate in 0.001f64..1000.0,
        ) {
            let config = PacerConfig { beta, scale, min_rate, max_rate: None };
            let mut p = Pacer::new(config).unwrap_or_else(|_| unreachable!());
            let mut clock = 0u64;
            for (op, jump, small, status, remaining, reset) in ops {
                // Mostly forward, sometimes anywhere (a clock from another process).
                clock = if op == 3 { jump } else { clock.saturating_add(small) };
                match op {
                    0 | 3 => {
                        let at = p.acquire(clock);
                        prop_assert!(at >= clock);
                    }
                    1 => p.record_sent(&answer(status, remaining, reset), clock.saturating_sub(small), clock),
                    _ => p.record(&answer(status, remaining, reset), clock),
                }
                if let Some(r) = p.rate() {
                    prop_assert!(r.is_finite() && r >= min_rate && r <= RATE_CEILING);
                }
                if let Some(r) = p.pace(clock) {
                    prop_assert!(r.is_finite() && r >= 0.0);
                }
                let _ = p.wait_ms(clock);
                let back = Pacer::restore(&p.snapshot());
                prop_assert_eq!(back.as_ref(), Ok(&p));
                let json = serde_json::to_string(&p.snapshot()).unwrap_or_default();
                let s: Result<PacerSnapshot, _> = serde_json::from_str(&json);
                prop_assert!(s.is_ok(), "{}", json);
            }
        }
    }
}
