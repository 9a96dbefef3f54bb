//! The retry policy and the state machines (breaker, budget, gate, pacer): options in as
//! camelCase objects, snapshots in and out in the core's own snake_case format.

use crate::classify::classification_from_js;
use crate::convert::{
    millis, ms_duration, options, random, snapshot_from, time, to_js, BindError, Res,
};
use http_triage::{
    Admission, Attempt, BreakerConfig, BreakerSnapshot, BudgetConfig, BudgetSnapshot,
    CircuitBreaker, GateSnapshot, Pacer, PacerConfig, PacerSnapshot, RateGate, RetryBudget,
    RetryPolicy,
};
use serde::Serialize;
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

/// A retry policy: classification + where the call stands → what to do next.
#[wasm_bindgen(js_name = RetryPolicy)]
pub struct JsRetryPolicy {
    inner: RetryPolicy,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DecisionOut {
    decision: &'static str,
    delay_ms: Option<u64>,
    source: Option<&'static str>,
    give_up_reason: Option<&'static str>,
    stop_reason: Option<&'static str>,
    resume_at_ms: Option<u64>,
}

#[wasm_bindgen(js_class = RetryPolicy)]
impl JsRetryPolicy {
    /// A policy from camelCase options (`maxAttempts`, `baseDelayMs`, …); missing ones take the
    /// core's defaults, unknown ones are an `invalid_option` error.
    #[wasm_bindgen(constructor)]
    pub fn new(options_value: JsValue) -> Result<JsRetryPolicy, JsValue> {
        let inner: RetryPolicy = options(options_value, "policy", POLICY_MS_FIELDS)?;
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
        let attempt: Attempt =
            options(attempt, "attempt", &[]).map_err(|e| BindError::input(e.message))?;
        let d = self.inner.decide(&c, attempt, random(random_draw)?);
        let f = d.fields();
        let out = DecisionOut {
            decision: f.kind,
            delay_ms: f.delay_ms,
            source: f.source,
            give_up_reason: f.give_up_reason,
            stop_reason: f.stop_reason,
            resume_at_ms: f.resume_at_ms,
        };
        Ok(to_js(&out)?)
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionOut {
    admission: &'static str,
    retry_at_ms: Option<u64>,
}

fn admission_js(a: Admission) -> Res<JsValue> {
    to_js(&AdmissionOut {
        admission: a.as_str(),
        retry_at_ms: a.retry_at_ms(),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateOut {
    state: &'static str,
    until_ms: Option<u64>,
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
        let config: BreakerConfig = options(config, "breaker options", &[])?;
        let inner = CircuitBreaker::new(config).map_err(BindError::from)?;
        Ok(JsCircuitBreaker { inner })
    }

    /// May a request be sent now? `{admission, retryAtMs}`.
    pub fn admit(&mut self, now_ms: JsValue) -> Result<JsValue, JsValue> {
        let a = self.inner.admit(time(&now_ms, "nowMs")?);
        Ok(admission_js(a)?)
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
        Ok(to_js(&StateOut {
            state: s.as_str(),
            until_ms: s.until_ms(),
        })?)
    }

    /// The core's snapshot (snake_case, the same format in every language).
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.inner.snapshot())?)
    }

    /// A breaker from a snapshot and the options it runs with.
    pub fn restore(snapshot: JsValue, config: JsValue) -> Result<JsCircuitBreaker, JsValue> {
        let config: BreakerConfig = options(config, "breaker options", &[])?;
        let s: BreakerSnapshot = snapshot_from(snapshot, "breaker snapshot")?;
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
        let config: BudgetConfig = options(config, "budget options", &[])?;
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
        Ok(to_js(&self.inner.snapshot())?)
    }

    /// A budget from a snapshot and its options.
    pub fn restore(snapshot: JsValue, config: JsValue) -> Result<JsRetryBudget, JsValue> {
        let config: BudgetConfig = options(config, "budget options", &[])?;
        let s: BudgetSnapshot = snapshot_from(snapshot, "budget snapshot")?;
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
        Ok(to_js(&self.inner.snapshot())?)
    }

    /// A gate from a snapshot.
    pub fn restore(snapshot: JsValue) -> Result<JsRateGate, JsValue> {
        let s: GateSnapshot = snapshot_from(snapshot, "gate snapshot")?;
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
        let config: PacerConfig = options(config, "pacer options", &[])?;
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
        Ok(to_js(&self.inner.snapshot())?)
    }

    /// A pacer from a snapshot.
    pub fn restore(snapshot: JsValue) -> Result<JsPacer, JsValue> {
        let s: PacerSnapshot = snapshot_from(snapshot, "pacer snapshot")?;
        let inner = Pacer::restore(&s).map_err(BindError::from)?;
        Ok(JsPacer { inner })
    }
}
