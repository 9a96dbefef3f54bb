//! The batch ledger: one canonical line per record (the Rust runner's format), replay, and the
//! report whose text is the `http-triage report` CLI's.

use crate::config;
use crate::convert::{self, ms_to_secs, secs_arg_ms, str_arg, u32_arg, u64_arg, Count, Flag, Text};
use crate::errors::{self, guard, invalid_option, Kind};
use crate::values::{category_arg, classification_arg};
use http_triage::ledger::{report as core_report, Outcome, Record, Replay, Report, ReportOptions};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

fn ledger_error(py: Python<'_>, e: &http_triage::ledger::LedgerError) -> PyErr {
    errors::error(py, Kind::Ledger, &e.to_string(), None, Some(e.code()))
}

/// One ledger line (with its `\n`), as the Rust runner writes it. `at`, `started_at` and
/// `resume_at` are Unix seconds; `at` defaults to now. `classification` fills category,
/// reason, code, status, request id and message; `category`, `reason`, `code`, `status`,
/// `request_id` and `message` given here override it (a give-up reason such as
/// `"attempts_exhausted"`, the runner's own message).
#[pyfunction]
#[pyo3(signature = (item, outcome, at=None, *, classification=None, category=None, reason=None, code=None, status=None, request_id=None, message=None, attempts=None, host=None, output=None, started_at=None, idempotency_key=None, resume_at=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn ledger_line(
    py: Python<'_>,
    item: &Bound<'_, PyAny>,
    outcome: &Bound<'_, PyAny>,
    at: Option<&Bound<'_, PyAny>>,
    classification: Option<&Bound<'_, PyAny>>,
    category: Option<&Bound<'_, PyAny>>,
    reason: Option<&Bound<'_, PyAny>>,
    code: Option<&Bound<'_, PyAny>>,
    status: Option<&Bound<'_, PyAny>>,
    request_id: Option<&Bound<'_, PyAny>>,
    message: Option<&Bound<'_, PyAny>>,
    attempts: Option<&Bound<'_, PyAny>>,
    host: Option<&Bound<'_, PyAny>>,
    output: Option<&Bound<'_, PyAny>>,
    started_at: Option<&Bound<'_, PyAny>>,
    idempotency_key: Option<&Bound<'_, PyAny>>,
    resume_at: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let item = str_arg(py, item, "item")?;
    if item.is_empty() {
        return Err(invalid_option(py, "item", "`item` must not be empty"));
    }
    let outcome_s = str_arg(py, outcome, "outcome")?;
    let outcome = Outcome::ALL
        .iter()
        .copied()
        .find(|o| o.as_str() == outcome_s)
        .ok_or_else(|| {
            let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
            errors::error(
                py,
                Kind::UnknownName,
                &format!("unknown outcome; one of: {}", names.join(", ")),
                None,
                None,
            )
        })?;
    let at = match secs_arg_ms(py, at, "at")? {
        Some(ms) => ms,
        None => u64::try_from(convert::unix_ms(py, None)?).unwrap_or(0),
    };
    let resume_at = secs_arg_ms(py, resume_at, "resume_at")?;
    let mut r = match outcome {
        Outcome::Started => Record::started(item, at),
        Outcome::Done => Record::done(item, at),
        Outcome::Deferred => Record::deferred(item, at, resume_at),
        Outcome::Stopped => Record::stopped(item, at),
        _ => Record::new(item, outcome, at),
    };
    if let Some(c) = classification.filter(|c| !c.is_none()) {
        let c = classification_arg(py, c)?;
        r = r.with_classification(&c.inner);
    }
    let opt_str = |v: Option<&Bound<'_, PyAny>>, name: &str| -> PyResult<Option<String>> {
        match v.filter(|v| !v.is_none()) {
            None => Ok(None),
            Some(v) => str_arg(py, v, name).map(Some),
        }
    };
    if let Some(c) = category.filter(|v| !v.is_none()) {
        r.category = Some(category_arg(py, c)?);
    }
    if let Some(s) = opt_str(reason, "reason")? {
        r = r.with_reason(s);
    }
    if let Some(s) = opt_str(code, "code")? {
        r.code = Some(s);
    }
    if let Some(s) = status.filter(|v| !v.is_none()) {
        let n = u64_arg(py, s, "status")?;
        r.status = Some(
            u16::try_from(n)
                .map_err(|_| invalid_option(py, "status", "`status` must be an HTTP status"))?,
        );
    }
    if let Some(s) = opt_str(request_id, "request_id")? {
        r.request_id = Some(s);
    }
    if let Some(s) = opt_str(message, "message")? {
        r.message = Some(s);
    }
    if let Some(a) = attempts.filter(|v| !v.is_none()) {
        r = r.with_attempts(u32_arg(py, a, "attempts")?);
    }
    if let Some(s) = opt_str(host, "host")? {
        r = r.with_host(s);
    }
    if let Some(s) = opt_str(output, "output")? {
        r = r.with_output(s);
    }
    if let Some(ms) = secs_arg_ms(py, started_at, "started_at")? {
        r = r.with_started_at_ms(ms);
    }
    if let Some(s) = opt_str(idempotency_key, "idempotency_key")? {
        r = r.with_idempotency_key(s);
    }
    if outcome != Outcome::Deferred && resume_at.is_some() {
        r.resume_at_ms = resume_at;
    }
    guard(py, || r.to_line())
}

/// Read one ledger line into a dict (the record's JSON fields). Raises `LedgerError` with the
/// core's code (`empty_line`, `json`, `unsupported_version`, `empty_item`).
#[pyfunction]
pub(crate) fn parse_ledger_line<'py>(py: Python<'py>, line: Text) -> PyResult<Bound<'py, PyAny>> {
    let r = guard(py, || Record::parse_line(&line.0))?.map_err(|e| ledger_error(py, &e))?;
    convert::to_py(py, &r)
}

/// The canonical line (with its `\n`) of a record dict as `parse_ledger_line` returns it: a
/// record read, changed and written back in the runner's format.
#[pyfunction]
pub(crate) fn ledger_line_from_record(
    py: Python<'_>,
    record: &Bound<'_, PyAny>,
) -> PyResult<String> {
    let v = convert::to_json(py, record, "a ledger record")?;
    let r: Record = serde_json::from_value(v).map_err(|_| {
        errors::error(
            py,
            Kind::Ledger,
            "not a ledger record (see parse_ledger_line for the fields)",
            None,
            Some("json"),
        )
    })?;
    // The same checks as reading a line: a record that could not be read back is refused.
    let line = guard(py, || r.to_line())?;
    guard(py, || Record::parse_line(&line))?.map_err(|e| ledger_error(py, &e))?;
    Ok(line)
}

/// A ledger read back: where every item stands.
#[pyclass(module = "http_triage._native", name = "Replay")]
pub struct PyReplay {
    inner: Replay,
}

fn keys<V>(m: &std::collections::BTreeMap<String, V>) -> Vec<String> {
    m.keys().cloned().collect()
}

#[pymethods]
impl PyReplay {
    /// An empty replay (feed it with `push_line`).
    #[new]
    fn new() -> Self {
        PyReplay {
            inner: Replay::new(),
        }
    }

    /// Replay a whole ledger's text (a torn last line is tolerated and reported).
    #[classmethod]
    fn from_text(_cls: &Bound<'_, PyType>, py: Python<'_>, text: Text) -> PyResult<Self> {
        let inner = guard(py, || Replay::from_text(&text.0))?;
        Ok(PyReplay { inner })
    }

    /// Feed one line (1-based `line_no`); `is_last` tells a torn tail from a bad line.
    #[pyo3(signature = (line_no, line, is_last=Flag(false)), text_signature = "(self, line_no, line, is_last=False)")]
    fn push_line(
        &mut self,
        py: Python<'_>,
        line_no: Count,
        line: Text,
        is_last: Flag,
    ) -> PyResult<()> {
        let r = &mut self.inner;
        guard(py, || r.push_line(line_no.0, &line.0, is_last.0))
    }

    /// The item's outcome by its last record, or None.
    fn outcome_of(&self, item: Text) -> Option<&'static str> {
        self.inner.outcome_of(&item.0).map(Outcome::as_str)
    }

    /// Whether a resumed batch runs `item`.
    #[pyo3(signature = (item, retry_quarantined=Flag(false)), text_signature = "(self, item, retry_quarantined=False)")]
    fn should_run(&self, item: Text, retry_quarantined: Flag) -> bool {
        self.inner.should_run(&item.0, retry_quarantined.0)
    }

    /// True when `item` is done.
    fn is_done(&self, item: Text) -> bool {
        self.inner.is_done(&item.0)
    }

    /// Attempts made for `item` in all runs so far.
    fn attempts_so_far(&self, item: Text) -> u32 {
        self.inner.attempts_so_far(&item.0)
    }

    /// When a deferred item may resume (Unix seconds), if known.
    fn resume_at(&self, item: Text) -> Option<f64> {
        self.inner.resume_at_ms(&item.0).map(ms_to_secs)
    }

    /// The item's last record as a dict, or None.
    fn last_record<'py>(&self, py: Python<'py>, item: Text) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.inner.last_record(&item.0) {
            None => Ok(None),
            Some(r) => convert::to_py(py, r).map(Some),
        }
    }

    /// Done items, sorted.
    #[getter]
    fn done(&self) -> Vec<String> {
        keys(&self.inner.done)
    }
    /// Quarantined items, sorted.
    #[getter]
    fn quarantined(&self) -> Vec<String> {
        keys(&self.inner.quarantined)
    }
    /// Deferred items, sorted.
    #[getter]
    fn deferred(&self) -> Vec<String> {
        keys(&self.inner.deferred)
    }
    /// Items the batch stopped on, sorted.
    #[getter]
    fn stopped(&self) -> Vec<String> {
        keys(&self.inner.stopped)
    }
    /// Items started and never finished, sorted.
    #[getter]
    fn in_flight(&self) -> Vec<String> {
        self.inner.in_flight.iter().cloned().collect()
    }
    /// True when the last line was cut short (a crash mid-write).
    #[getter]
    fn torn_tail(&self) -> bool {
        self.inner.torn_tail
    }
    /// Line numbers that could not be read.
    #[getter]
    fn bad_lines(&self) -> Vec<usize> {
        self.inner.bad_lines.clone()
    }
    /// Line numbers read after a bad line was skipped.
    #[getter]
    fn recovered_lines(&self) -> Vec<usize> {
        self.inner.recovered_lines.clone()
    }
    /// Records read.
    #[getter]
    fn records(&self) -> usize {
        self.inner.records
    }
    /// Distinct items seen.
    #[getter]
    fn items(&self) -> usize {
        self.inner.items()
    }

    fn __repr__(&self) -> String {
        format!(
            "Replay(items={}, done={}, quarantined={}, deferred={}, stopped={}, in_flight={})",
            self.inner.items(),
            self.inner.done.len(),
            self.inner.quarantined.len(),
            self.inner.deferred.len(),
            self.inner.stopped.len(),
            self.inner.in_flight.len()
        )
    }
}

/// The summary of a batch.
#[pyclass(frozen, module = "http_triage._native", name = "Report")]
pub struct PyReport {
    inner: Report,
}

#[pymethods]
impl PyReport {
    /// The report as the CLI's `--json` (a dict).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &self.inner)
    }
    /// The text report, exactly as `http-triage report` prints it after its `ledger:` line.
    fn render_text(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.inner;
        guard(py, || r.render_text())
    }
    /// True when the failure rate is above the alert rate.
    #[getter]
    fn above_threshold(&self) -> bool {
        self.inner.above_threshold
    }
    /// The CLI's exit status for this report: 4 above the alert rate, else 0.
    #[getter]
    fn exit_code(&self) -> i32 {
        if self.inner.above_threshold {
            4
        } else {
            0
        }
    }
    /// Items in the ledger.
    #[getter]
    fn total(&self) -> usize {
        self.inner.total
    }
    /// Items done.
    #[getter]
    fn done(&self) -> usize {
        self.inner.done
    }
    /// Items quarantined.
    #[getter]
    fn quarantined(&self) -> usize {
        self.inner.quarantined
    }
    /// Items deferred.
    #[getter]
    fn deferred(&self) -> usize {
        self.inner.deferred
    }
    /// Items stopped on.
    #[getter]
    fn stopped(&self) -> usize {
        self.inner.stopped
    }
    /// Items in flight.
    #[getter]
    fn in_flight(&self) -> usize {
        self.inner.in_flight
    }
    /// Quarantined / items.
    #[getter]
    fn failure_rate(&self) -> f64 {
        self.inner.failure_rate
    }

    fn __repr__(&self) -> String {
        let r = &self.inner;
        format!(
            "Report(total={}, done={}, quarantined={}, deferred={}, stopped={}, in_flight={}, failure_rate={})",
            r.total, r.done, r.quarantined, r.deferred, r.stopped, r.in_flight, r.failure_rate
        )
    }
}

/// Summarize a replayed ledger. `window` is in seconds (0 turns the time clusters off); the
/// defaults are the CLI's.
#[pyfunction]
#[pyo3(signature = (replay, **options))]
pub(crate) fn report(
    py: Python<'_>,
    replay: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyReport> {
    let replay = replay.cast::<PyReplay>().map_err(|_| {
        errors::invalid_input(
            py,
            &format!("expected a Replay, not {}", convert::type_name(replay)),
        )
    })?;
    let options: ReportOptions =
        config::build(py, options, &[("window", "correlation_window_ms")])?;
    if !(0.0..=1.0).contains(&options.alert_rate) {
        return Err(invalid_option(
            py,
            "alert_rate",
            "`alert_rate` must be between 0 and 1",
        ));
    }
    let replay = replay.borrow();
    let inner = guard(py, || core_report(&replay.inner, &options))?;
    Ok(PyReport { inner })
}
