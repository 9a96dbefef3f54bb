//! The state machines shared by concurrent callers: `CircuitBreaker`, `RetryBudget`,
//! `RateGate`, `Pacer`. Each holds its core machine behind a mutex, so one instance can be
//! shared by threads; `now` is monotonic seconds (`time.monotonic()` when omitted).

use crate::config::{self, Seconds};
use crate::convert::{self, monotonic_ms, ms_to_secs, secs_arg_ms, to_json};
use crate::errors::{self, from_core, guard, Kind};
use crate::values::classification_arg;
use http_triage::breaker::BreakerSnapshot;
use http_triage::budget::BudgetSnapshot;
use http_triage::gate::GateSnapshot;
use http_triage::pacer::PacerSnapshot;
use http_triage::{
    BreakerConfig, BudgetConfig, CircuitBreaker, Pacer, PacerConfig, RateGate, RetryBudget,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};
use serde::de::DeserializeOwned;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Lock, ignoring poisoning: the machines' methods do not panic midway (and a caught panic
/// leaves a state that is still a valid machine state).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A snapshot dict → the core's snapshot type.
fn snapshot_arg<S: DeserializeOwned>(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<S> {
    let value = to_json(py, v, "a snapshot")?;
    serde_json::from_value::<S>(value).map_err(|e| {
        // serde's messages name fields and expected types; strings in them are hidden anyway.
        let msg = e.to_string();
        let msg: String = if msg.contains('"') {
            "the snapshot does not have the expected fields".to_owned()
        } else {
            format!("invalid snapshot: {msg}")
        };
        errors::error(py, Kind::InvalidSnapshot, &msg, None, None)
    })
}

const BREAKER_SECONDS: Seconds = &[
    ("window", "window_ms"),
    ("open_for", "open_for_ms"),
    ("max_open_for", "max_open_for_ms"),
];

/// A circuit breaker per host: consecutive failures or a failure ratio open it; after
/// `open_for` a few probes decide whether it closes.
#[pyclass(frozen, module = "http_triage._native", name = "CircuitBreaker")]
pub struct PyCircuitBreaker {
    config: BreakerConfig,
    inner: Mutex<CircuitBreaker>,
}

#[pymethods]
impl PyCircuitBreaker {
    /// Options as keywords, durations in seconds (`open_for=30`), or the core's `*_ms` names.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let config: BreakerConfig = config::build(py, options, BREAKER_SECONDS)?;
        let inner = CircuitBreaker::new(config).map_err(|e| from_core(py, &e))?;
        Ok(PyCircuitBreaker {
            config,
            inner: Mutex::new(inner),
        })
    }

    /// A breaker from `snapshot()`'s dict and the same options as the constructor.
    #[classmethod]
    #[pyo3(signature = (snapshot, **options))]
    fn restore(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        snapshot: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let config: BreakerConfig = config::build(py, options, BREAKER_SECONDS)?;
        let s: BreakerSnapshot = snapshot_arg(py, snapshot)?;
        let inner = CircuitBreaker::restore(config, &s).map_err(|e| from_core(py, &e))?;
        Ok(PyCircuitBreaker {
            config,
            inner: Mutex::new(inner),
        })
    }

    /// May I send? `"allowed"`, `"probe"` (send, and report the outcome) or `"rejected"`.
    #[pyo3(signature = (now=None))]
    fn admit(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<&'static str> {
        let now = monotonic_ms(py, now)?;
        Ok(lock(&self.inner).admit(now).as_str())
    }

    /// `admit`, with when to ask again after a rejection (seconds on the same clock).
    #[pyo3(signature = (now=None))]
    fn try_admit(
        &self,
        py: Python<'_>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(&'static str, Option<f64>)> {
        let now = monotonic_ms(py, now)?;
        let a = lock(&self.inner).admit(now);
        Ok((a.as_str(), a.retry_at_ms().map(ms_to_secs)))
    }

    /// Report an outcome from its classification (successes, failures and neutral answers
    /// are told apart by the core).
    #[pyo3(signature = (classification, now=None))]
    fn record(
        &self,
        py: Python<'_>,
        classification: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let c = classification_arg(py, classification)?;
        let now = monotonic_ms(py, now)?;
        let mut b = lock(&self.inner);
        guard(py, || b.record(&c.inner, now))
    }

    /// Report a success.
    #[pyo3(signature = (now=None))]
    fn on_success(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let now = monotonic_ms(py, now)?;
        lock(&self.inner).on_success(now);
        Ok(())
    }

    /// Report a failure, with the server's Retry-After in seconds when it gave one.
    #[pyo3(signature = (now=None, retry_after=None))]
    fn on_failure(
        &self,
        py: Python<'_>,
        now: Option<&Bound<'_, PyAny>>,
        retry_after: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let now = monotonic_ms(py, now)?;
        let ra = secs_arg_ms(py, retry_after, "retry_after")?.map(Duration::from_millis);
        lock(&self.inner).on_failure(now, ra);
        Ok(())
    }

    /// Report an answer that says nothing about the host's health.
    #[pyo3(signature = (now=None))]
    fn on_neutral(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let now = monotonic_ms(py, now)?;
        lock(&self.inner).on_neutral(now);
        Ok(())
    }

    /// `"closed"`, `"open"` or `"half_open"`.
    #[pyo3(signature = (now=None))]
    fn state(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<&'static str> {
        let now = monotonic_ms(py, now)?;
        Ok(lock(&self.inner).state(now).as_str())
    }

    /// When an open breaker turns half-open (seconds), else None.
    #[pyo3(signature = (now=None))]
    fn open_until(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
        let now = monotonic_ms(py, now)?;
        Ok(lock(&self.inner).state(now).until_ms().map(ms_to_secs))
    }

    /// Failures in a row so far.
    #[getter]
    fn consecutive_failures(&self) -> u32 {
        lock(&self.inner).consecutive_failures()
    }

    /// The options in the core's JSON form.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.config)
    }

    /// The state as a dict (the core's snapshot format, shared with Rust and JS).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = lock(&self.inner).snapshot();
        convert::to_py(py, &s)
    }

    fn __repr__(&self) -> String {
        let s = lock(&self.inner).snapshot();
        format!(
            "CircuitBreaker(state='{}', consecutive_failures={})",
            s.state, s.consecutive_failures
        )
    }
}

/// A retry budget (gRPC's token bucket): retries stop when too many calls fail.
#[pyclass(frozen, module = "http_triage._native", name = "RetryBudget")]
pub struct PyRetryBudget {
    config: BudgetConfig,
    inner: Mutex<RetryBudget>,
}

#[pymethods]
impl PyRetryBudget {
    /// Options as keywords (`max_tokens`, `token_ratio`).
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let config: BudgetConfig = config::build(py, options, &[])?;
        let inner = RetryBudget::new(config).map_err(|e| from_core(py, &e))?;
        Ok(PyRetryBudget {
            config,
            inner: Mutex::new(inner),
        })
    }

    /// A budget from `snapshot()`'s dict and the same options as the constructor.
    #[classmethod]
    #[pyo3(signature = (snapshot, **options))]
    fn restore(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        snapshot: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let config: BudgetConfig = config::build(py, options, &[])?;
        let s: BudgetSnapshot = snapshot_arg(py, snapshot)?;
        let inner = RetryBudget::restore(config, &s).map_err(|e| from_core(py, &e))?;
        Ok(PyRetryBudget {
            config,
            inner: Mutex::new(inner),
        })
    }

    /// Report an outcome from its classification.
    fn record(&self, py: Python<'_>, classification: &Bound<'_, PyAny>) -> PyResult<()> {
        let c = classification_arg(py, classification)?;
        let mut b = lock(&self.inner);
        guard(py, || b.record(&c.inner))
    }

    /// Report a success.
    fn on_success(&self) {
        lock(&self.inner).on_success();
    }

    /// Report a failure.
    fn on_failure(&self) {
        lock(&self.inner).on_failure();
    }

    /// True while retries are allowed.
    #[getter]
    fn can_retry(&self) -> bool {
        lock(&self.inner).can_retry()
    }

    /// Tokens left.
    #[getter]
    fn tokens(&self) -> f64 {
        lock(&self.inner).tokens()
    }

    /// The options in the core's JSON form.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.config)
    }

    /// The state as a dict (the core's snapshot format).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = lock(&self.inner).snapshot();
        convert::to_py(py, &s)
    }

    fn __repr__(&self) -> String {
        let b = lock(&self.inner);
        format!(
            "RetryBudget(tokens={}, can_retry={})",
            b.tokens(),
            if b.can_retry() { "True" } else { "False" }
        )
    }
}

/// A per-host gate that closes while the server says "slow down" (Retry-After on a 429/503).
#[pyclass(frozen, module = "http_triage._native", name = "RateGate")]
pub struct PyRateGate {
    inner: Mutex<RateGate>,
}

#[pymethods]
impl PyRateGate {
    /// An open gate.
    #[new]
    fn new() -> Self {
        PyRateGate {
            inner: Mutex::new(RateGate::new()),
        }
    }

    /// A gate from `snapshot()`'s dict.
    #[classmethod]
    fn restore(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        snapshot: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let s: GateSnapshot = snapshot_arg(py, snapshot)?;
        let inner = RateGate::restore(&s).map_err(|e| from_core(py, &e))?;
        Ok(PyRateGate {
            inner: Mutex::new(inner),
        })
    }

    /// Close the gate for `delay` seconds from `now`.
    #[pyo3(signature = (delay, now=None))]
    fn close_for(
        &self,
        py: Python<'_>,
        delay: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let d = secs_arg_ms(py, Some(delay), "delay")?.unwrap_or(0);
        let now = monotonic_ms(py, now)?;
        lock(&self.inner).close_for(now, Duration::from_millis(d));
        Ok(())
    }

    /// Learn from a classified call (throttles close the gate).
    #[pyo3(signature = (classification, now=None))]
    fn record(
        &self,
        py: Python<'_>,
        classification: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let c = classification_arg(py, classification)?;
        let now = monotonic_ms(py, now)?;
        let mut g = lock(&self.inner);
        guard(py, || g.record(&c.inner, now))
    }

    /// Seconds to wait before sending (0.0 when open).
    #[pyo3(signature = (now=None))]
    fn wait(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
        let now = monotonic_ms(py, now)?;
        Ok(lock(&self.inner).wait(now).as_secs_f64())
    }

    /// True when a request may go now.
    #[pyo3(signature = (now=None))]
    fn is_open(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let now = monotonic_ms(py, now)?;
        Ok(lock(&self.inner).is_open(now))
    }

    /// When the gate reopens (seconds), if it was ever closed.
    #[getter]
    fn reopens_at(&self) -> Option<f64> {
        lock(&self.inner).reopens_at_ms().map(ms_to_secs)
    }

    /// The state as a dict (the core's snapshot format).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = lock(&self.inner).snapshot();
        convert::to_py(py, &s)
    }

    fn __repr__(&self) -> String {
        let g = lock(&self.inner);
        format!(
            "RateGate(reopens_at={})",
            g.reopens_at_ms()
                .map_or("None".to_owned(), |ms| ms_to_secs(ms).to_string())
        )
    }
}

/// A per-host pacer: a client-side send rate learned from the server's throttling.
#[pyclass(frozen, module = "http_triage._native", name = "Pacer")]
pub struct PyPacer {
    inner: Mutex<Pacer>,
}

#[pymethods]
impl PyPacer {
    /// Options as keywords (`beta`, `scale`, `min_rate`, `max_rate`, and whatever the core's
    /// `PacerConfig` has), rates in requests per second.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let config: PacerConfig = config::build(py, options, &[])?;
        let inner = Pacer::new(config).map_err(|e| from_core(py, &e))?;
        Ok(PyPacer {
            inner: Mutex::new(inner),
        })
    }

    /// A pacer from `snapshot()`'s dict (it holds the options too).
    #[classmethod]
    fn restore(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        snapshot: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let s: PacerSnapshot = snapshot_arg(py, snapshot)?;
        let inner = Pacer::restore(&s).map_err(|e| from_core(py, &e))?;
        Ok(PyPacer {
            inner: Mutex::new(inner),
        })
    }

    /// Reserve the next send: the time (seconds, on the `now` clock, `>= now`) at which this
    /// caller may send. Sleep `max(0, t - now)`, then send.
    #[pyo3(signature = (now=None))]
    fn acquire(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
        let now = monotonic_ms(py, now)?;
        let mut p = lock(&self.inner);
        guard(py, || ms_to_secs(p.acquire(now)))
    }

    /// Seconds a caller asking now would wait, without reserving anything.
    #[pyo3(signature = (now=None))]
    fn wait(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
        let now = monotonic_ms(py, now)?;
        let p = lock(&self.inner);
        guard(py, || ms_to_secs(p.wait_ms(now)))
    }

    /// Learn from a classified call: throttles slow the pace, other answers speed it up,
    /// rate-limit headers bound the sends until their reset.
    #[pyo3(signature = (classification, now=None))]
    fn record(
        &self,
        py: Python<'_>,
        classification: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let c = classification_arg(py, classification)?;
        let now = monotonic_ms(py, now)?;
        let mut p = lock(&self.inner);
        guard(py, || p.record(&c.inner, now))
    }

    /// `record` for a call sent at `sent` (the time `acquire` handed out, same clock) and
    /// answered at `now`: a throttle then cuts the rate once per round trip, not once per
    /// answer.
    #[pyo3(signature = (classification, sent, now=None))]
    fn record_sent(
        &self,
        py: Python<'_>,
        classification: &Bound<'_, PyAny>,
        sent: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let c = classification_arg(py, classification)?;
        let sent = secs_arg_ms(py, Some(sent), "sent")?.unwrap_or(0);
        let now = monotonic_ms(py, now)?;
        let mut p = lock(&self.inner);
        guard(py, || p.record_sent(&c.inner, sent, now))
    }

    /// The learned rate in requests per second, or None while not pacing.
    #[getter]
    fn rate(&self) -> Option<f64> {
        lock(&self.inner).rate()
    }

    /// The rate sends are held to now (req/s), or None when nothing holds them back.
    #[pyo3(signature = (now=None))]
    fn pace(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
        let now = monotonic_ms(py, now)?;
        Ok(lock(&self.inner).pace(now))
    }

    /// The send rate measured over the last second (req/s).
    #[pyo3(signature = (now=None))]
    fn measured_rate(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
        let now = monotonic_ms(py, now)?;
        Ok(lock(&self.inner).measured_rate(now))
    }

    /// How many times the rate was cut so far. A caller whose send time predates a cut (the
    /// count changed since its `acquire`) should `acquire` again.
    #[getter]
    fn cuts(&self) -> u64 {
        lock(&self.inner).cuts()
    }

    /// The options in the core's JSON form.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = *lock(&self.inner).config();
        convert::to_py(py, &c)
    }

    /// The state as a dict (the core's snapshot format, options included).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = lock(&self.inner).snapshot();
        convert::to_py(py, &s)
    }

    fn __repr__(&self) -> String {
        format!(
            "Pacer(rate={})",
            lock(&self.inner)
                .rate()
                .map_or("None".to_owned(), |r| r.to_string())
        )
    }
}
