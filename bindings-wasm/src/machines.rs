//! The retry policy and the state machines (breaker, budget, gate, pacer): options in as
//! camelCase objects, snapshots in and out in the core's own snake_case format.

use crate::classify::classification_from_js;
use crate::convert::{
    array, members, millis, ms_duration, options, random, read_list, read_members, read_name,
    snapshot, time, BindError, Obj, Read, Res, Slot, Unknown,
};
use http_triage::{
    Admission, Attempt, BreakerConfig, BreakerSnapshot, BudgetConfig, BudgetSnapshot,
    CircuitBreaker, GateSnapshot, Jitter, LongWait, Pacer, PacerConfig, PacerSnapshot, RateGate,
    RetryBudget, RetryPolicy, WindowBucket,
};
use std::time::Duration;
use wasm_bindgen::prelude::*;

/// The core's duration fields of `RetryPolicy`, named `…Ms` in JavaScript.
const POLICY_MS_FIELDS: &[&str] = &[
    "base_delay",
    "max_delay",
    "deadline",
    "poll_interval",
    "max_server_delay",
];

// ---- options and snapshots, read member by member (see `convert`) ----
//
// Each list is the core type's serde names, in its order (a test checks them against serde);
// missing members take the core's defaults, unknown ones are refused (`deny_unknown_fields`).

const POLICY_FIELDS: &[&str] = &[
    "max_attempts",
    "max_rate_limited",
    "base_delay",
    "multiplier",
    "max_delay",
    "jitter",
    "deadline",
    "poll_interval",
    "max_polls",
    "max_server_delay",
    "long_wait",
    "server_delay_jitter",
];
const JITTER: &[&str] = &["none", "full", "equal", "decorrelated"];
const JITTERS: &[Jitter] = &[
    Jitter::None,
    Jitter::Full,
    Jitter::Equal,
    Jitter::Decorrelated,
];
const LONG_WAIT: &[&str] = &["clamp", "give_up", "defer"];
const LONG_WAITS: &[LongWait] = &[LongWait::Clamp, LongWait::GiveUp, LongWait::Defer];

fn policy_from(v: &JsValue) -> Res<RetryPolicy> {
    let mut p = RetryPolicy::DEFAULT;
    options(v, "policy", POLICY_MS_FIELDS, POLICY_FIELDS, &mut |i, v| {
        match i {
            0 => Slot::U32(&mut p.max_attempts),
            1 => Slot::U32(&mut p.max_rate_limited),
            2 => Slot::Ms(&mut p.base_delay),
            3 => Slot::F64(&mut p.multiplier),
            4 => Slot::Ms(&mut p.max_delay),
            5 => {
                p.jitter = read_name(v, JITTER, JITTERS)?;
                return Ok(());
            }
            6 => Slot::OptMs(&mut p.deadline),
            7 => Slot::Ms(&mut p.poll_interval),
            8 => Slot::U32(&mut p.max_polls),
            9 => Slot::Ms(&mut p.max_server_delay),
            10 => {
                p.long_wait = read_name(v, LONG_WAIT, LONG_WAITS)?;
                return Ok(());
            }
            _ => Slot::F64(&mut p.server_delay_jitter),
        }
        .read(v)
    })?;
    Ok(p)
}

const ATTEMPT_FIELDS: &[&str] = &[
    "number",
    "polls",
    "elapsed_ms",
    "now_ms",
    "previous_delay_ms",
    "rate_limited",
];

/// Errors are `invalid_input` (an attempt is not an option).
fn attempt_from(v: &JsValue) -> Res<Attempt> {
    let mut a = Attempt::default();
    options(v, "attempt", &[], ATTEMPT_FIELDS, &mut |i, v| {
        match i {
            0 => Slot::U32(&mut a.number),
            1 => Slot::U32(&mut a.polls),
            2 => Slot::U64(&mut a.elapsed_ms),
            3 => Slot::U64(&mut a.now_ms),
            4 => Slot::OptU64(&mut a.previous_delay_ms),
            _ => Slot::U32(&mut a.rate_limited),
        }
        .read(v)
    })
    .map_err(|e| BindError::input(e.message))?;
    Ok(a)
}

const BREAKER_FIELDS: &[&str] = &[
    "failure_threshold",
    "failure_ratio",
    "window_ms",
    "min_throughput",
    "open_for_ms",
    "max_open_for_ms",
    "half_open_probes",
];

fn breaker_config(v: &JsValue) -> Res<BreakerConfig> {
    let mut c = BreakerConfig::DEFAULT;
    options(v, "breaker options", &[], BREAKER_FIELDS, &mut |i, v| {
        match i {
            0 => Slot::U32(&mut c.failure_threshold),
            1 => Slot::OptF64(&mut c.failure_ratio),
            2 => Slot::Ms(&mut c.window),
            3 => Slot::U32(&mut c.min_throughput),
            4 => Slot::Ms(&mut c.open_for),
            5 => Slot::Ms(&mut c.max_open_for),
            _ => Slot::U32(&mut c.half_open_probes),
        }
        .read(v)
    })?;
    Ok(c)
}

const BREAKER_SNAPSHOT_FIELDS: &[&str] = &[
    "version",
    "state",
    "open_until_ms",
    "clock_ms",
    "consecutive_failures",
    "bucket_ms",
    "buckets",
    "probes_in_flight",
    "probe_successes",
    "probe_deadline_ms",
];

fn read_bucket(v: &JsValue) -> Read<WindowBucket> {
    let mut b = WindowBucket::default();
    read_members(
        members(v)?,
        &["successes", "failures"],
        Unknown::Refuse,
        0b11,
        &mut |i, v| {
            if i == 0 {
                Slot::U32(&mut b.successes).read(v)?;
            } else {
                Slot::U32(&mut b.failures).read(v)?;
            }
            Ok(())
        },
    )?;
    Ok(b)
}

fn breaker_snapshot(v: &JsValue) -> Res<BreakerSnapshot> {
    let mut s = BreakerSnapshot {
        version: 0,
        state: String::new(),
        open_until_ms: None,
        clock_ms: 0,
        consecutive_failures: 0,
        bucket_ms: 0,
        buckets: Vec::new(),
        probes_in_flight: 0,
        probe_successes: 0,
        probe_deadline_ms: None,
    };
    // All but `open_until_ms` and `probe_deadline_ms` (options: `null` when absent).
    let required = 0b01_1111_1011;
    snapshot(
        v,
        "breaker snapshot",
        BREAKER_SNAPSHOT_FIELDS,
        required,
        &mut |i, v| {
            match i {
                0 => Slot::U32(&mut s.version),
                1 => Slot::Str(&mut s.state),
                2 => Slot::OptU64(&mut s.open_until_ms),
                3 => Slot::U64(&mut s.clock_ms),
                4 => Slot::U32(&mut s.consecutive_failures),
                5 => Slot::U64(&mut s.bucket_ms),
                6 => {
                    s.buckets = read_list(v, read_bucket)?;
                    return Ok(());
                }
                7 => Slot::U32(&mut s.probes_in_flight),
                8 => Slot::U32(&mut s.probe_successes),
                _ => Slot::OptU64(&mut s.probe_deadline_ms),
            }
            .read(v)
        },
    )?;
    Ok(s)
}

const BUDGET_FIELDS: &[&str] = &["max_tokens", "token_ratio"];

fn budget_config(v: &JsValue) -> Res<BudgetConfig> {
    let mut c = BudgetConfig::DEFAULT;
    options(v, "budget options", &[], BUDGET_FIELDS, &mut |i, v| {
        if i == 0 {
            Slot::F64(&mut c.max_tokens).read(v)?;
        } else {
            Slot::F64(&mut c.token_ratio).read(v)?;
        }
        Ok(())
    })?;
    Ok(c)
}

fn budget_snapshot(v: &JsValue) -> Res<BudgetSnapshot> {
    let mut s = BudgetSnapshot {
        version: 0,
        tokens: 0.0,
    };
    snapshot(
        v,
        "budget snapshot",
        &["version", "tokens"],
        0b11,
        &mut |i, v| {
            if i == 0 {
                Slot::U32(&mut s.version).read(v)?;
            } else {
                Slot::F64(&mut s.tokens).read(v)?;
            }
            Ok(())
        },
    )?;
    Ok(s)
}

fn gate_snapshot(v: &JsValue) -> Res<GateSnapshot> {
    let mut s = GateSnapshot {
        version: 0,
        reopens_at_ms: None,
    };
    snapshot(
        v,
        "gate snapshot",
        &["version", "reopens_at_ms"],
        0b01,
        &mut |i, v| {
            if i == 0 {
                Slot::U32(&mut s.version).read(v)?;
            } else {
                Slot::OptU64(&mut s.reopens_at_ms).read(v)?;
            }
            Ok(())
        },
    )?;
    Ok(s)
}

const PACER_FIELDS: &[&str] = &["beta", "scale", "min_rate", "max_rate"];

fn set_pacer_config(c: &mut PacerConfig, i: usize, v: &JsValue) -> Read<()> {
    match i {
        0 => Slot::F64(&mut c.beta),
        1 => Slot::F64(&mut c.scale),
        2 => Slot::F64(&mut c.min_rate),
        _ => Slot::OptF64(&mut c.max_rate),
    }
    .read(v)
}

fn pacer_config(v: &JsValue) -> Res<PacerConfig> {
    let mut c = PacerConfig::default();
    options(v, "pacer options", &[], PACER_FIELDS, &mut |i, v| {
        set_pacer_config(&mut c, i, v)
    })?;
    Ok(c)
}

const PACER_SNAPSHOT_FIELDS: &[&str] = &[
    "version",
    "config",
    "rate",
    "next_ms",
    "w_max",
    "last_cut_ms",
    "cut_slot_ms",
    "last_slot_ms",
    "cuts",
    "bucket_start_ms",
    "bucket_sends",
    "previous_bucket_sends",
    "accepted_bucket_start_ms",
    "bucket_accepted",
    "previous_bucket_accepted",
    "window_ends_at_ms",
    "window_left",
    "window_next_ms",
    "window_basis_ms",
    "window_reported",
    "limit",
    "window_ms",
    "hold_until_ms",
];

fn pacer_snapshot(v: &JsValue) -> Res<PacerSnapshot> {
    // The core's snapshot type is `non_exhaustive`: one of a new pacer, every member then set
    // (to what the snapshot says, or to the core's serde default: nothing learned).
    let mut s = Pacer::new(PacerConfig::default())
        .map_err(BindError::from)?
        .snapshot();
    s.version = 0;
    s.rate = None;
    s.next_ms = 0.0;
    s.w_max = 0.0;
    s.last_cut_ms = None;
    s.cut_slot_ms = None;
    s.last_slot_ms = None;
    s.cuts = 0;
    s.bucket_start_ms = None;
    s.bucket_sends = 0;
    s.previous_bucket_sends = 0;
    s.accepted_bucket_start_ms = None;
    s.bucket_accepted = 0;
    s.previous_bucket_accepted = 0;
    s.window_ends_at_ms = None;
    s.window_left = 0;
    s.window_next_ms = 0;
    s.window_basis_ms = 0;
    s.window_reported = 0;
    s.limit = None;
    s.window_ms = None;
    s.hold_until_ms = None;
    // `version`, `config` and `next_ms` (`rate` is an option: `null` when absent).
    let required = 0b1011;
    snapshot(
        v,
        "pacer snapshot",
        PACER_SNAPSHOT_FIELDS,
        required,
        &mut |i, v| {
            match i {
                0 => Slot::U32(&mut s.version),
                1 => {
                    // A config inside a snapshot: missing members take their defaults.
                    let mut c = PacerConfig::default();
                    read_members(
                        members(v)?,
                        PACER_FIELDS,
                        Unknown::Refuse,
                        0,
                        &mut |i, v| set_pacer_config(&mut c, i, v),
                    )?;
                    s.config = c;
                    return Ok(());
                }
                2 => Slot::OptF64(&mut s.rate),
                3 => Slot::F64(&mut s.next_ms),
                4 => Slot::F64(&mut s.w_max),
                5 => Slot::OptU64(&mut s.last_cut_ms),
                6 => Slot::OptU64(&mut s.cut_slot_ms),
                7 => Slot::OptU64(&mut s.last_slot_ms),
                8 => Slot::U64(&mut s.cuts),
                9 => Slot::OptU64(&mut s.bucket_start_ms),
                10 => Slot::U64(&mut s.bucket_sends),
                11 => Slot::U64(&mut s.previous_bucket_sends),
                12 => Slot::OptU64(&mut s.accepted_bucket_start_ms),
                13 => Slot::U64(&mut s.bucket_accepted),
                14 => Slot::U64(&mut s.previous_bucket_accepted),
                15 => Slot::OptU64(&mut s.window_ends_at_ms),
                16 => Slot::U64(&mut s.window_left),
                17 => Slot::U64(&mut s.window_next_ms),
                18 => Slot::U64(&mut s.window_basis_ms),
                19 => Slot::U64(&mut s.window_reported),
                20 => Slot::OptU64(&mut s.limit),
                21 => Slot::OptU64(&mut s.window_ms),
                _ => Slot::OptU64(&mut s.hold_until_ms),
            }
            .read(v)
        },
    )?;
    Ok(s)
}

/// A retry policy: classification + where the call stands → what to do next.
#[wasm_bindgen(js_name = RetryPolicy)]
pub struct JsRetryPolicy {
    inner: RetryPolicy,
}

#[wasm_bindgen(js_class = RetryPolicy)]
impl JsRetryPolicy {
    /// A policy from camelCase options (`maxAttempts`, `baseDelayMs`, …); missing ones take the
    /// core's defaults, unknown ones are an `invalid_option` error.
    #[wasm_bindgen(constructor)]
    pub fn new(options_value: JsValue) -> Result<JsRetryPolicy, JsValue> {
        let inner = policy_from(&options_value)?;
        inner.validate().map_err(BindError::from)?;
        Ok(JsRetryPolicy { inner })
    }

    /// Decide. `attempt` is `{number, polls, elapsedMs, nowMs, previousDelayMs, rateLimited}`;
    /// `random` a draw in [0, 1) for jitter.
    pub fn decide(
        &self,
        classification: JsValue,
        attempt: JsValue,
        random_draw: f64,
    ) -> Result<JsValue, JsValue> {
        let c = classification_from_js(classification)?;
        let attempt = attempt_from(&attempt)?;
        let d = self.inner.decide(&c, attempt, random(random_draw)?);
        let f = d.fields();
        let o = Obj::new();
        o.str("decision", Some(f.kind));
        o.num("delayMs", f.delay_ms);
        o.str("source", f.source);
        o.str("giveUpReason", f.give_up_reason);
        o.str("stopReason", f.stop_reason);
        o.num("resumeAtMs", f.resume_at_ms);
        Ok(o.done())
    }

    /// The backoff delay (ms) before attempt `attempt + 1`, without server hints.
    pub fn backoff(
        &self,
        attempt: u32,
        previous_delay_ms: Option<f64>,
        random_draw: f64,
    ) -> Result<f64, JsValue> {
        let prev = previous_delay_ms
            .map(|v| ms_duration(v, "previousDelayMs"))
            .transpose()?;
        let d = self.inner.backoff(attempt, prev, random(random_draw)?);
        Ok(millis(d) as f64)
    }
}

// ---- state machines ----

fn admission_js(a: Admission) -> JsValue {
    let o = Obj::new();
    o.str("admission", Some(a.as_str()));
    o.num("retryAtMs", a.retry_at_ms());
    o.done()
}

/// The core's snapshots, as its serde wrote them (snake_case, the core's field order).
fn breaker_snapshot_js(s: &BreakerSnapshot) -> JsValue {
    let o = Obj::new();
    o.num("version", Some(s.version.into()));
    o.str("state", Some(&s.state));
    o.num("open_until_ms", s.open_until_ms);
    o.num("clock_ms", Some(s.clock_ms));
    o.num("consecutive_failures", Some(s.consecutive_failures.into()));
    o.num("bucket_ms", Some(s.bucket_ms));
    let buckets = array(&s.buckets, |b| {
        let o = Obj::new();
        o.num("successes", Some(b.successes.into()));
        o.num("failures", Some(b.failures.into()));
        o.done()
    });
    o.set("buckets", &buckets);
    o.num("probes_in_flight", Some(s.probes_in_flight.into()));
    o.num("probe_successes", Some(s.probe_successes.into()));
    o.num("probe_deadline_ms", s.probe_deadline_ms);
    o.done()
}

fn budget_snapshot_js(s: &BudgetSnapshot) -> JsValue {
    let o = Obj::new();
    o.num("version", Some(s.version.into()));
    o.float("tokens", Some(s.tokens));
    o.done()
}

fn gate_snapshot_js(s: &GateSnapshot) -> JsValue {
    let o = Obj::new();
    o.num("version", Some(s.version.into()));
    o.num("reopens_at_ms", s.reopens_at_ms);
    o.done()
}

fn pacer_snapshot_js(s: &PacerSnapshot) -> JsValue {
    let o = Obj::new();
    o.num("version", Some(s.version.into()));
    let c = Obj::new();
    c.float("beta", Some(s.config.beta));
    c.float("scale", Some(s.config.scale));
    c.float("min_rate", Some(s.config.min_rate));
    c.float("max_rate", s.config.max_rate);
    o.set("config", &c.done());
    o.float("rate", s.rate);
    o.float("next_ms", Some(s.next_ms));
    o.float("w_max", Some(s.w_max));
    o.num("last_cut_ms", s.last_cut_ms);
    o.num("cut_slot_ms", s.cut_slot_ms);
    o.num("last_slot_ms", s.last_slot_ms);
    o.num("cuts", Some(s.cuts));
    o.num("bucket_start_ms", s.bucket_start_ms);
    o.num("bucket_sends", Some(s.bucket_sends));
    o.num("previous_bucket_sends", Some(s.previous_bucket_sends));
    o.num("accepted_bucket_start_ms", s.accepted_bucket_start_ms);
    o.num("bucket_accepted", Some(s.bucket_accepted));
    o.num("previous_bucket_accepted", Some(s.previous_bucket_accepted));
    o.num("window_ends_at_ms", s.window_ends_at_ms);
    o.num("window_left", Some(s.window_left));
    o.num("window_next_ms", Some(s.window_next_ms));
    o.num("window_basis_ms", Some(s.window_basis_ms));
    o.num("window_reported", Some(s.window_reported));
    o.num("limit", s.limit);
    o.num("window_ms", s.window_ms);
    o.num("hold_until_ms", s.hold_until_ms);
    o.done()
}

/// A circuit breaker (see the core's `breaker` module). Times are the caller's monotonic clock
/// in milliseconds.
#[wasm_bindgen(js_name = CircuitBreaker)]
pub struct JsCircuitBreaker {
    inner: CircuitBreaker,
}

#[wasm_bindgen(js_class = CircuitBreaker)]
impl JsCircuitBreaker {
    /// A closed breaker from camelCase options (`failureThreshold`, `windowMs`, …).
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<JsCircuitBreaker, JsValue> {
        let config = breaker_config(&config)?;
        let inner = CircuitBreaker::new(config).map_err(BindError::from)?;
        Ok(JsCircuitBreaker { inner })
    }

    /// May a request be sent now? `{admission, retryAtMs}`.
    pub fn admit(&mut self, now_ms: JsValue) -> Result<JsValue, JsValue> {
        let a = self.inner.admit(time(&now_ms, "nowMs")?);
        Ok(admission_js(a))
    }

    /// Report a success.
    #[wasm_bindgen(js_name = onSuccess)]
    pub fn on_success(&mut self, now_ms: JsValue) -> Result<(), JsValue> {
        self.inner.on_success(time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// Report a failure, with the server's Retry-After when it gave one.
    #[wasm_bindgen(js_name = onFailure)]
    pub fn on_failure(
        &mut self,
        now_ms: JsValue,
        retry_after_ms: Option<f64>,
    ) -> Result<(), JsValue> {
        let ra = retry_after_ms
            .map(|v| ms_duration(v, "retryAfterMs"))
            .transpose()?;
        self.inner.on_failure(time(&now_ms, "nowMs")?, ra);
        Ok(())
    }

    /// Report an outcome that says nothing about the service's health.
    #[wasm_bindgen(js_name = onNeutral)]
    pub fn on_neutral(&mut self, now_ms: JsValue) -> Result<(), JsValue> {
        self.inner.on_neutral(time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// Report a classified call (the core decides whether it counts as a failure).
    pub fn record(&mut self, classification: JsValue, now_ms: JsValue) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner.record(&c, time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// `{state, untilMs}`.
    pub fn state(&self, now_ms: JsValue) -> Result<JsValue, JsValue> {
        let s = self.inner.state(time(&now_ms, "nowMs")?);
        let o = Obj::new();
        o.str("state", Some(s.as_str()));
        o.num("untilMs", s.until_ms());
        Ok(o.done())
    }

    /// The core's snapshot (snake_case, the same format in every language).
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(breaker_snapshot_js(&self.inner.snapshot()))
    }

    /// A breaker from a snapshot and the options it runs with.
    pub fn restore(snapshot: JsValue, config: JsValue) -> Result<JsCircuitBreaker, JsValue> {
        let config = breaker_config(&config)?;
        let s = breaker_snapshot(&snapshot)?;
        let inner = CircuitBreaker::restore(config, &s).map_err(BindError::from)?;
        Ok(JsCircuitBreaker { inner })
    }
}

/// A retry budget (token bucket of retries).
#[wasm_bindgen(js_name = RetryBudget)]
pub struct JsRetryBudget {
    inner: RetryBudget,
}

#[wasm_bindgen(js_class = RetryBudget)]
impl JsRetryBudget {
    /// A full budget from camelCase options (`maxTokens`, `tokenRatio`).
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<JsRetryBudget, JsValue> {
        let config = budget_config(&config)?;
        let inner = RetryBudget::new(config).map_err(BindError::from)?;
        Ok(JsRetryBudget { inner })
    }

    /// True while retries are allowed.
    #[wasm_bindgen(js_name = canRetry)]
    pub fn can_retry(&self) -> bool {
        self.inner.can_retry()
    }

    /// Report a success (puts a fraction of a token back).
    #[wasm_bindgen(js_name = onSuccess)]
    pub fn on_success(&mut self) {
        self.inner.on_success();
    }

    /// Report a failure (takes a token).
    #[wasm_bindgen(js_name = onFailure)]
    pub fn on_failure(&mut self) {
        self.inner.on_failure();
    }

    /// Report a classified call.
    pub fn record(&mut self, classification: JsValue) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner.record(&c);
        Ok(())
    }

    /// Tokens left.
    pub fn tokens(&self) -> f64 {
        self.inner.tokens()
    }

    /// The core's snapshot.
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(budget_snapshot_js(&self.inner.snapshot()))
    }

    /// A budget from a snapshot and its options.
    pub fn restore(snapshot: JsValue, config: JsValue) -> Result<JsRetryBudget, JsValue> {
        let config = budget_config(&config)?;
        let s = budget_snapshot(&snapshot)?;
        let inner = RetryBudget::restore(config, &s).map_err(BindError::from)?;
        Ok(JsRetryBudget { inner })
    }
}

/// A rate gate: closed while the server asked every caller to wait.
#[wasm_bindgen(js_name = RateGate)]
pub struct JsRateGate {
    inner: RateGate,
}

impl Default for JsRateGate {
    fn default() -> Self {
        JsRateGate::new()
    }
}

#[wasm_bindgen(js_class = RateGate)]
impl JsRateGate {
    /// An open gate.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsRateGate {
        JsRateGate {
            inner: RateGate::new(),
        }
    }

    /// Close until `nowMs + delayMs` (only ever extends).
    #[wasm_bindgen(js_name = closeFor)]
    pub fn close_for(&mut self, now_ms: JsValue, delay_ms: JsValue) -> Result<(), JsValue> {
        self.inner.close_for(
            time(&now_ms, "nowMs")?,
            Duration::from_millis(time(&delay_ms, "delayMs")?),
        );
        Ok(())
    }

    /// Report a classified call (closes on throttling with a delay).
    pub fn record(&mut self, classification: JsValue, now_ms: JsValue) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner.record(&c, time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// Milliseconds to wait before sending (0 when open).
    pub fn wait(&self, now_ms: JsValue) -> Result<f64, JsValue> {
        Ok(millis(self.inner.wait(time(&now_ms, "nowMs")?)) as f64)
    }

    /// True when a request may be sent now.
    #[wasm_bindgen(js_name = isOpen)]
    pub fn is_open(&self, now_ms: JsValue) -> Result<bool, JsValue> {
        Ok(self.inner.is_open(time(&now_ms, "nowMs")?))
    }

    /// When the gate reopens (or reopened); `undefined` if never closed.
    #[wasm_bindgen(js_name = reopensAtMs)]
    pub fn reopens_at_ms(&self) -> Option<f64> {
        self.inner.reopens_at_ms().map(|t| t as f64)
    }

    /// The core's snapshot.
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(gate_snapshot_js(&self.inner.snapshot()))
    }

    /// A gate from a snapshot.
    pub fn restore(snapshot: JsValue) -> Result<JsRateGate, JsValue> {
        let s = gate_snapshot(&snapshot)?;
        let inner = RateGate::restore(&s).map_err(BindError::from)?;
        Ok(JsRateGate { inner })
    }
}

/// A per-host pacer handing out send times at the rate the server sustains.
#[wasm_bindgen(js_name = Pacer)]
pub struct JsPacer {
    inner: Pacer,
}

#[wasm_bindgen(js_class = Pacer)]
impl JsPacer {
    /// A pacer from camelCase options (`beta`, `scale`, `minRate`, `maxRate`, …: whatever the
    /// core's `PacerConfig` reads).
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<JsPacer, JsValue> {
        let config = pacer_config(&config)?;
        let inner = Pacer::new(config).map_err(BindError::from)?;
        Ok(JsPacer { inner })
    }

    /// Reserve the next send: the time (ms, at least `nowMs`) at which this caller may send.
    pub fn acquire(&mut self, now_ms: JsValue) -> Result<f64, JsValue> {
        Ok(self.inner.acquire(time(&now_ms, "nowMs")?) as f64)
    }

    /// How long a caller asking now would wait, without reserving.
    #[wasm_bindgen(js_name = waitMs)]
    pub fn wait_ms(&self, now_ms: JsValue) -> Result<f64, JsValue> {
        Ok(self.inner.wait_ms(time(&now_ms, "nowMs")?) as f64)
    }

    /// Learn from a classified call.
    pub fn record(&mut self, classification: JsValue, now_ms: JsValue) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner.record(&c, time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// Learn from a classified call sent at `sent_ms` and answered at `now_ms`.
    #[wasm_bindgen(js_name = recordSent)]
    pub fn record_sent(
        &mut self,
        classification: JsValue,
        sent_ms: JsValue,
        now_ms: JsValue,
    ) -> Result<(), JsValue> {
        let c = classification_from_js(classification)?;
        self.inner
            .record_sent(&c, time(&sent_ms, "sentMs")?, time(&now_ms, "nowMs")?);
        Ok(())
    }

    /// The paced rate (requests per second), `undefined` while not pacing.
    pub fn rate(&self) -> Option<f64> {
        self.inner.rate()
    }

    /// The pace in force now (requests per second), `undefined` when none.
    pub fn pace(&self, now_ms: JsValue) -> Result<Option<f64>, JsValue> {
        Ok(self.inner.pace(time(&now_ms, "nowMs")?))
    }

    /// How many times the rate was cut.
    pub fn cuts(&self) -> f64 {
        self.inner.cuts() as f64
    }

    /// The send rate measured over the recent window (requests per second).
    #[wasm_bindgen(js_name = measuredRate)]
    pub fn measured_rate(&self, now_ms: JsValue) -> Result<f64, JsValue> {
        Ok(self.inner.measured_rate(time(&now_ms, "nowMs")?))
    }

    /// The core's snapshot.
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(pacer_snapshot_js(&self.inner.snapshot()))
    }

    /// A pacer from a snapshot.
    pub fn restore(snapshot: JsValue) -> Result<JsPacer, JsValue> {
        let s = pacer_snapshot(&snapshot)?;
        let inner = Pacer::restore(&s).map_err(BindError::from)?;
        Ok(JsPacer { inner })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use serde::de::value::{Error, MapDeserializer, StrDeserializer};
    use serde::Deserialize;

    /// The names serde lists after "expected" in an error.
    pub(crate) fn listed(message: &str) -> Vec<String> {
        let tail = &message[message.find("expected").unwrap()..];
        tail.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    /// The member names serde reads for `T`, in its order.
    fn serde_fields<T: for<'de> Deserialize<'de>>() -> Vec<String> {
        let m = MapDeserializer::<_, Error>::new(std::iter::once(("?", 0u32)));
        listed(&T::deserialize(m).err().unwrap().to_string())
    }

    /// The names serde reads for the enum `T`, in its order.
    pub(crate) fn serde_variants<T: for<'de> Deserialize<'de>>() -> Vec<String> {
        let d = StrDeserializer::<Error>::new("?");
        listed(&T::deserialize(d).err().unwrap().to_string())
    }

    #[test]
    fn the_readers_take_the_members_serde_takes() {
        assert_eq!(serde_fields::<RetryPolicy>(), POLICY_FIELDS);
        assert_eq!(serde_fields::<Attempt>(), ATTEMPT_FIELDS);
        assert_eq!(serde_fields::<BreakerConfig>(), BREAKER_FIELDS);
        assert_eq!(serde_fields::<BreakerSnapshot>(), BREAKER_SNAPSHOT_FIELDS);
        assert_eq!(serde_fields::<WindowBucket>(), ["successes", "failures"]);
        assert_eq!(serde_fields::<BudgetConfig>(), BUDGET_FIELDS);
        assert_eq!(serde_fields::<BudgetSnapshot>(), ["version", "tokens"]);
        assert_eq!(serde_fields::<GateSnapshot>(), ["version", "reopens_at_ms"]);
        assert_eq!(serde_fields::<PacerConfig>(), PACER_FIELDS);
        assert_eq!(serde_fields::<PacerSnapshot>(), PACER_SNAPSHOT_FIELDS);
    }

    #[test]
    fn the_readers_know_every_name_serde_knows() {
        assert_eq!(serde_variants::<Jitter>(), JITTER);
        assert_eq!(serde_variants::<LongWait>(), LONG_WAIT);
        for (name, value) in JITTER.iter().zip(JITTERS) {
            let d = StrDeserializer::<Error>::new(name);
            assert_eq!(Jitter::deserialize(d).unwrap(), *value);
        }
        for (name, value) in LONG_WAIT.iter().zip(LONG_WAITS) {
            let d = StrDeserializer::<Error>::new(name);
            assert_eq!(LongWait::deserialize(d).unwrap(), *value);
        }
    }

    /// The members missing from an empty object that serde refuses, and those it does not:
    /// the same as the readers' `required` masks.
    #[test]
    fn the_required_members_are_serdes() {
        fn first_missing<T: for<'de> Deserialize<'de>>() -> String {
            let m = MapDeserializer::<_, Error>::new(std::iter::empty::<(&str, u32)>());
            T::deserialize(m).err().unwrap().to_string()
        }
        assert_eq!(
            first_missing::<BreakerSnapshot>(),
            "missing field `version`"
        );
        assert_eq!(first_missing::<BudgetSnapshot>(), "missing field `version`");
        assert_eq!(first_missing::<GateSnapshot>(), "missing field `version`");
        assert_eq!(first_missing::<PacerSnapshot>(), "missing field `version`");
    }
}
