//! `RetryPolicy` and `Decision`.

use crate::config::{self, Seconds};
use crate::convert::{self, ms_to_secs, secs_arg_ms, u32_arg};
use crate::errors::{from_core, guard};
use crate::values::classification_arg;
use http_triage::{Attempt, Decision, Jitter, LongWait, RetryPolicy};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};
use std::time::Duration;

/// Keywords given in seconds, and the core's millisecond fields.
const SECONDS: Seconds = &[
    ("base_delay", "base_delay"),
    ("max_delay", "max_delay"),
    ("deadline", "deadline"),
    ("poll_interval", "poll_interval"),
    ("max_server_delay", "max_server_delay"),
];

/// How to retry: attempts, backoff, polling, long waits. Immutable; share it freely.
#[pyclass(frozen, eq, module = "http_triage._native", name = "RetryPolicy")]
#[derive(Clone, PartialEq)]
pub struct PyRetryPolicy {
    inner: RetryPolicy,
}

fn jitter_name(j: Jitter) -> String {
    serde_json::to_value(j)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn long_wait_name(l: LongWait) -> String {
    serde_json::to_value(l)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl PyRetryPolicy {
    fn checked(py: Python<'_>, inner: RetryPolicy) -> PyResult<Self> {
        inner.validate().map_err(|e| from_core(py, &e))?;
        Ok(PyRetryPolicy { inner })
    }
}

#[pymethods]
impl PyRetryPolicy {
    /// Options as keywords, durations in seconds (`base_delay=0.5`); unknown names raise
    /// `InvalidOptionError`.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Self::checked(py, config::build(py, options, SECONDS)?)
    }

    /// From the core's JSON form (durations in milliseconds), as in the shared vectors.
    #[classmethod]
    fn from_config(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        config: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        Self::checked(py, config::build(py, Some(config), &[])?)
    }

    /// The core's JSON form (durations in milliseconds).
    fn to_config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.inner)
    }

    /// Most requests per call, rate-limited answers not counted.
    #[getter]
    fn max_attempts(&self) -> u32 {
        self.inner.max_attempts
    }
    /// Most rate-limited answers per call.
    #[getter]
    fn max_rate_limited(&self) -> u32 {
        self.inner.max_rate_limited
    }
    /// The first backoff delay, seconds.
    #[getter]
    fn base_delay(&self) -> f64 {
        self.inner.base_delay.as_secs_f64()
    }
    /// Growth per attempt.
    #[getter]
    fn multiplier(&self) -> f64 {
        self.inner.multiplier
    }
    /// Cap on backoff delays, seconds.
    #[getter]
    fn max_delay(&self) -> f64 {
        self.inner.max_delay.as_secs_f64()
    }
    /// `"full"`, `"none"`, … (the core's names).
    #[getter]
    fn jitter(&self) -> String {
        jitter_name(self.inner.jitter)
    }
    /// Total time a call may take, seconds, or None.
    #[getter]
    fn deadline(&self) -> Option<f64> {
        self.inner.deadline.map(|d| d.as_secs_f64())
    }
    /// Wait between polls, seconds.
    #[getter]
    fn poll_interval(&self) -> f64 {
        self.inner.poll_interval.as_secs_f64()
    }
    /// Most polls per call.
    #[getter]
    fn max_polls(&self) -> u32 {
        self.inner.max_polls
    }
    /// The longest server-given wait followed in-line, seconds.
    #[getter]
    fn max_server_delay(&self) -> f64 {
        self.inner.max_server_delay.as_secs_f64()
    }
    /// What to do with a longer one (`"defer"`, …).
    #[getter]
    fn long_wait(&self) -> String {
        long_wait_name(self.inner.long_wait)
    }
    /// Extra random wait on top of a server delay, as a fraction of it.
    #[getter]
    fn server_delay_jitter(&self) -> f64 {
        self.inner.server_delay_jitter
    }

    /// What to do after the `attempt`th request got `classification`. `now` is the clock
    /// `Decision.resume_at` is on (Unix seconds by default); `random` a draw in [0, 1) (by
    /// default `random.random()`).
    #[pyo3(signature = (classification, attempt=None, *, polls=None, elapsed=None, now=None, previous_delay=None, rate_limited=None, random=None))]
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        py: Python<'_>,
        classification: &Bound<'_, PyAny>,
        attempt: Option<&Bound<'_, PyAny>>,
        polls: Option<&Bound<'_, PyAny>>,
        elapsed: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
        previous_delay: Option<&Bound<'_, PyAny>>,
        rate_limited: Option<&Bound<'_, PyAny>>,
        random: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        let c = classification_arg(py, classification)?;
        let opt_u32 = |v: Option<&Bound<'_, PyAny>>, name: &str| -> PyResult<Option<u32>> {
            match v.filter(|v| !v.is_none()) {
                None => Ok(None),
                Some(v) => u32_arg(py, v, name).map(Some),
            }
        };
        let now_ms = match now.filter(|n| !n.is_none()) {
            Some(_) => secs_arg_ms(py, now, "now")?.unwrap_or(0),
            None => u64::try_from(convert::unix_ms(py, None)?).unwrap_or(0),
        };
        let a = Attempt {
            number: opt_u32(attempt, "attempt")?.unwrap_or(1),
            polls: opt_u32(polls, "polls")?.unwrap_or(0),
            elapsed_ms: secs_arg_ms(py, elapsed, "elapsed")?.unwrap_or(0),
            now_ms,
            previous_delay_ms: secs_arg_ms(py, previous_delay, "previous_delay")?,
            rate_limited: opt_u32(rate_limited, "rate_limited")?.unwrap_or(0),
        };
        let r = convert::random_arg(py, random)?;
        let policy = self.inner;
        let c = &c.inner;
        let d = guard(py, || policy.decide(c, a, r))?;
        Ok(PyDecision::from(d))
    }

    /// The backoff delay in seconds after the `attempt`th request, before any server delay.
    #[pyo3(signature = (attempt, previous_delay=None, random=None))]
    fn backoff(
        &self,
        py: Python<'_>,
        attempt: &Bound<'_, PyAny>,
        previous_delay: Option<&Bound<'_, PyAny>>,
        random: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<f64> {
        let n = u32_arg(py, attempt, "attempt")?;
        let prev = secs_arg_ms(py, previous_delay, "previous_delay")?.map(Duration::from_millis);
        let r = convert::random_arg(py, random)?;
        let policy = self.inner;
        guard(py, || policy.backoff(n, prev, r).as_secs_f64())
    }

    fn __repr__(&self) -> String {
        let p = &self.inner;
        format!(
            "RetryPolicy(max_attempts={}, base_delay={}, multiplier={}, max_delay={}, jitter='{}', deadline={}, max_server_delay={}, long_wait='{}')",
            p.max_attempts,
            p.base_delay.as_secs_f64(),
            p.multiplier,
            p.max_delay.as_secs_f64(),
            jitter_name(p.jitter),
            p.deadline.map_or("None".to_owned(), |d| d.as_secs_f64().to_string()),
            p.max_server_delay.as_secs_f64(),
            long_wait_name(p.long_wait),
        )
    }
}

/// What to do next (frozen; equal when every field is).
#[pyclass(frozen, eq, hash, module = "http_triage._native", name = "Decision")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDecision {
    /// `"done"`, `"retry"`, `"poll"`, `"defer"`, `"give_up"` or `"stop"`.
    #[pyo3(get)]
    action: &'static str,
    delay_ms: Option<u64>,
    /// Where the delay came from (`"retry_after"`, `"backoff"`, …), for retry and poll.
    #[pyo3(get)]
    source: Option<&'static str>,
    /// Why the item is given up on, for `give_up`.
    #[pyo3(get)]
    give_up_reason: Option<&'static str>,
    /// Why everything stops, for `stop`.
    #[pyo3(get)]
    stop_reason: Option<&'static str>,
    resume_at_ms: Option<u64>,
}

impl From<Decision> for PyDecision {
    fn from(d: Decision) -> Self {
        let f = d.fields();
        PyDecision {
            action: f.kind,
            delay_ms: f.delay_ms,
            source: f.source,
            give_up_reason: f.give_up_reason,
            stop_reason: f.stop_reason,
            resume_at_ms: f.resume_at_ms,
        }
    }
}

#[pymethods]
impl PyDecision {
    /// The wait in seconds: before the next request (retry, poll), or the server's (defer).
    #[getter]
    fn delay(&self) -> Option<f64> {
        self.delay_ms.map(ms_to_secs)
    }
    /// When to resume a deferred item, in seconds on the `now` clock given to `decide`.
    #[getter]
    fn resume_at(&self) -> Option<f64> {
        self.resume_at_ms.map(ms_to_secs)
    }
    /// True for `retry`.
    #[getter]
    fn is_retry(&self) -> bool {
        self.action == "retry"
    }
    /// True for `done`.
    #[getter]
    fn is_done(&self) -> bool {
        self.action == "done"
    }
    /// True for `stop`.
    #[getter]
    fn is_stop(&self) -> bool {
        self.action == "stop"
    }
    /// The decision as a dict (`action`, `delay`, `source`, `give_up_reason`, `stop_reason`,
    /// `resume_at`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("action", self.action)?;
        d.set_item("delay", self.delay())?;
        d.set_item("source", self.source)?;
        d.set_item("give_up_reason", self.give_up_reason)?;
        d.set_item("stop_reason", self.stop_reason)?;
        d.set_item("resume_at", self.resume_at())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let mut s = format!("Decision(action='{}'", self.action);
        if let Some(d) = self.delay() {
            s.push_str(&format!(", delay={d:?}"));
        }
        for (k, v) in [
            ("source", self.source),
            ("give_up_reason", self.give_up_reason),
            ("stop_reason", self.stop_reason),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(", {k}='{v}'"));
            }
        }
        if let Some(r) = self.resume_at() {
            s.push_str(&format!(", resume_at={r:?}"));
        }
        s.push(')');
        s
    }
}
