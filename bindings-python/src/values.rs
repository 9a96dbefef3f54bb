//! `classify`, `classify_transport`, `parse_envelope`, `read_headers` and the frozen value
//! classes they return. Fields are converted when read, so a call pays only for what it uses.

use crate::convert::{self, str_arg, u64_arg, Count, Text};
use crate::errors::{self, guard, invalid_input, invalid_option, Kind};
use http_triage::envelope::Limits;
use http_triage::wire::{ClassifyInput, ClassifyOutput};
use http_triage::{
    Category, Classification, Envelope, Reason, Request, Response, Rules, TransportError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::fmt::Write as _;
use std::time::Duration;

static CATEGORIES: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();

/// The `http_triage.Category` member for `c` (a `str` enum defined in Python).
pub(crate) fn category<'py>(py: Python<'py>, c: Category) -> PyResult<Bound<'py, PyAny>> {
    let members = CATEGORIES.get_or_try_init(py, || -> PyResult<Vec<Py<PyAny>>> {
        let enum_ = py.import("http_triage._category")?.getattr("Category")?;
        Category::ALL
            .iter()
            .map(|c| enum_.call1((c.as_str(),)).map(Bound::unbind))
            .collect()
    })?;
    let i = Category::ALL.iter().position(|x| *x == c).unwrap_or(0);
    match members.get(i) {
        Some(m) => Ok(m.bind(py).clone()),
        None => Ok(PyString::new(py, c.as_str()).into_any()),
    }
}

/// A category from its name (`"retryable"`, or a `Category` member, which is a `str`).
pub(crate) fn category_arg(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<Category> {
    let s = str_arg(py, v, "category")?;
    s.parse::<Category>().map_err(|_| {
        let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        errors::error(
            py,
            Kind::UnknownName,
            &format!("unknown category; one of: {}", names.join(", ")),
            None,
            None,
        )
    })
}

fn opt_secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

fn repr_str(s: &str) -> String {
    // Python-style quoting for short identifiers (codes, ids, names).
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// One field-level problem from an error body.
#[pyclass(frozen, eq, hash, module = "http_triage._native", name = "Violation")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyViolation {
    /// The field (`"email"`, `"items[0].qty"`).
    #[pyo3(get)]
    field: String,
    /// What is wrong with it.
    #[pyo3(get)]
    message: String,
}

#[pymethods]
impl PyViolation {
    #[new]
    fn new(field: String, message: String) -> Self {
        PyViolation { field, message }
    }

    fn __repr__(&self) -> String {
        // The field name only: messages may echo a submitted value.
        format!("Violation(field={})", repr_str(&self.field))
    }
}

fn violations<'py>(py: Python<'py>, v: &[http_triage::Violation]) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        v.iter().map(|v| PyViolation {
            field: v.field.clone(),
            message: v.message.clone(),
        }),
    )
}

fn details<'py>(py: Python<'py>, d: Option<&http_triage::Details>) -> PyResult<Bound<'py, PyAny>> {
    match d {
        None => Ok(py.None().into_bound(py)),
        Some(d) => convert::from_json(py, &d.to_value()),
    }
}

/// The verdict on one call (frozen; equal when every field is).
#[pyclass(frozen, eq, module = "http_triage._native", name = "Classification")]
#[derive(Clone, PartialEq)]
pub struct PyClassification {
    pub(crate) inner: Classification,
}

#[pymethods]
impl PyClassification {
    /// A classification made by hand (for tests and fakes): `category` and `reason` by name,
    /// everything else absent unless given.
    #[classmethod]
    #[pyo3(signature = (category, reason, *, status=None, retry_after=None, rate_limit_remaining=None, rate_limit_limit=None, rate_limit_reset=None, rate_limit_window=None, code=None, request_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        _cls: &Bound<'_, pyo3::types::PyType>,
        py: Python<'_>,
        category: &Bound<'_, PyAny>,
        reason: &Bound<'_, PyAny>,
        status: Option<&Bound<'_, PyAny>>,
        retry_after: Option<&Bound<'_, PyAny>>,
        rate_limit_remaining: Option<&Bound<'_, PyAny>>,
        rate_limit_limit: Option<&Bound<'_, PyAny>>,
        rate_limit_reset: Option<&Bound<'_, PyAny>>,
        rate_limit_window: Option<&Bound<'_, PyAny>>,
        code: Option<Text>,
        request_id: Option<Text>,
    ) -> PyResult<Self> {
        let category = category_arg(py, category)?;
        let reason_s = str_arg(py, reason, "reason")?;
        let reason: Reason = reason_s
            .parse()
            .map_err(|_| errors::error(py, Kind::UnknownName, "unknown reason name", None, None))?;
        // The core builds classifications only from calls; start from a bare transport one
        // and set the parts, as the shared vector runner does.
        let mut c = http_triage::classify_transport(TransportError::Dns, &Request::unknown());
        c.category = category;
        c.reason = reason;
        c.transport_error = None;
        c.request_not_processed = false;
        c.status = match status.filter(|s| !s.is_none()) {
            None => None,
            Some(s) => {
                let n = u64_arg(py, s, "status")?;
                Some(
                    u16::try_from(n)
                        .ok()
                        .filter(|s| (100..=999).contains(s))
                        .ok_or_else(|| {
                            invalid_option(py, "status", "`status` must be from 100 to 999")
                        })?,
                )
            }
        };
        c.retry_after =
            convert::secs_arg_ms(py, retry_after, "retry_after")?.map(Duration::from_millis);
        c.rate_limit_remaining = match rate_limit_remaining.filter(|s| !s.is_none()) {
            None => None,
            Some(v) => Some(u64_arg(py, v, "rate_limit_remaining")?),
        };
        c.rate_limit_limit = match rate_limit_limit.filter(|s| !s.is_none()) {
            None => None,
            Some(v) => Some(u64_arg(py, v, "rate_limit_limit")?),
        };
        c.rate_limit_reset = convert::secs_arg_ms(py, rate_limit_reset, "rate_limit_reset")?
            .map(Duration::from_millis);
        c.rate_limit_window = convert::secs_arg_ms(py, rate_limit_window, "rate_limit_window")?
            .map(Duration::from_millis);
        c.code = code.map(|t| t.0);
        c.request_id = request_id.map(|t| t.0);
        Ok(PyClassification { inner: c })
    }

    /// What to do, in one word (a `Category`).
    #[getter]
    fn category<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        category(py, self.inner.category)
    }
    /// Why: a stable, machine-readable name (`"rate_limited"`).
    #[getter]
    fn reason<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::intern(py, self.inner.reason.as_str())
    }
    /// The HTTP status, when a response came back.
    #[getter]
    fn status(&self) -> Option<u16> {
        self.inner.status
    }
    /// How the call broke (`"connect_refused"`), when no response came back.
    #[getter]
    fn transport_error(&self) -> Option<&'static str> {
        self.inner.transport_error.map(TransportError::as_str)
    }
    /// The error code from the body.
    #[getter]
    fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }
    /// The message from the body (never shown in `repr`).
    #[getter]
    fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }
    /// The request id from the headers, else the body.
    #[getter]
    fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }
    /// A second support reference from the body.
    #[getter]
    fn reference_id(&self) -> Option<&str> {
        self.inner.reference_id.as_deref()
    }
    /// The server's word on retrying.
    #[getter]
    fn retryable_hint(&self) -> Option<bool> {
        self.inner.retryable_hint
    }
    /// How long the server asked to wait, in seconds.
    #[getter]
    fn retry_after(&self) -> Option<f64> {
        opt_secs(self.inner.retry_after)
    }
    /// Requests left in the rate-limit window.
    #[getter]
    fn rate_limit_remaining(&self) -> Option<u64> {
        self.inner.rate_limit_remaining
    }
    /// When the rate-limit window resets, in seconds from now.
    #[getter]
    fn rate_limit_reset(&self) -> Option<f64> {
        opt_secs(self.inner.rate_limit_reset)
    }
    /// The window's request quota.
    #[getter]
    fn rate_limit_limit(&self) -> Option<u64> {
        self.inner.rate_limit_limit
    }
    /// The length of the rate-limit window, in seconds, when the headers say.
    #[getter]
    fn rate_limit_window(&self) -> Option<f64> {
        opt_secs(self.inner.rate_limit_window)
    }
    /// Field-level problems.
    #[getter]
    fn violations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        violations(py, &self.inner.violations)
    }
    /// Which body dialect was read (`"stripe"`, `"problem"`, `"empty"`…).
    #[getter]
    fn dialect<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::intern(py, self.inner.dialect.as_str())
    }
    /// True when the failure proves the server did not act on the request.
    #[getter]
    fn request_not_processed(&self) -> bool {
        self.inner.request_not_processed
    }
    /// Structured details from the body, parsed from JSON (or None).
    #[getter]
    fn details<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        details(py, self.inner.details.as_ref())
    }

    /// The `http-triage classify` output line as a dict (same keys, same values).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &ClassifyOutput::from(&self.inner))
    }

    fn __repr__(&self) -> String {
        // Names, numbers and ids only: messages, details and violation texts may echo what a
        // caller sent (keys, personal data).
        let c = &self.inner;
        let mut s = format!(
            "Classification(category={}, reason={}",
            repr_str(c.category.as_str()),
            repr_str(c.reason.as_str())
        );
        if let Some(st) = c.status {
            let _ = write!(s, ", status={st}");
        }
        if let Some(t) = c.transport_error {
            let _ = write!(s, ", transport_error={}", repr_str(t.as_str()));
        }
        if let Some(code) = &c.code {
            let _ = write!(s, ", code={}", repr_str(code));
        }
        if let Some(d) = c.retry_after {
            let _ = write!(s, ", retry_after={:?}", d.as_secs_f64());
        }
        if let Some(id) = &c.request_id {
            let _ = write!(s, ", request_id={}", repr_str(id));
        }
        if !c.violations.is_empty() {
            let _ = write!(s, ", violations={}", c.violations.len());
        }
        s.push(')');
        s
    }
}

/// Read `rules` (`{"status": {"409": "retryable"}, "codes": {"locked": "pending"}}`) with the
/// wire contract's reader, so that errors are the CLI's (and never quote values).
fn rules_arg(py: Python<'_>, rules: Option<&Bound<'_, PyAny>>) -> PyResult<Rules> {
    let Some(rules) = rules.filter(|r| !r.is_none()) else {
        return Ok(Rules::default());
    };
    // Python callers may key statuses by int (`{409: "retryable"}`); the wire form has strings.
    let rules = match rules.cast::<PyDict>() {
        Ok(d) => {
            let copy = PyDict::new(py);
            for (k, v) in d.iter() {
                match (k.extract::<String>().as_deref(), v.cast::<PyDict>()) {
                    (Ok("status"), Ok(statuses)) => {
                        let s = PyDict::new(py);
                        for (code, cat) in statuses.iter() {
                            s.set_item(code.str()?, cat)?;
                        }
                        copy.set_item(k, s)?;
                    }
                    _ => copy.set_item(k, v)?,
                }
            }
            copy.into_any()
        }
        Err(_) => rules.clone(),
    };
    let v = convert::to_json(py, &rules, "`rules`")?;
    let mut map = serde_json::Map::new();
    map.insert("status".into(), serde_json::Value::from(200));
    map.insert("rules".into(), v);
    ClassifyInput::from_map(&map)
        .map(|i| i.rules)
        .map_err(|e| invalid_option(py, "rules", &e.to_string()))
}

fn status_arg(py: Python<'_>, status: &Bound<'_, PyAny>) -> PyResult<u16> {
    let n = u64_arg(py, status, "status")?;
    u16::try_from(n)
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| {
            invalid_option(
                py,
                "status",
                "`status` must be an HTTP status from 100 to 999",
            )
        })
}

fn request_arg(
    py: Python<'_>,
    method: Option<&Bound<'_, PyAny>>,
    idempotency_key: Option<&Bound<'_, PyAny>>,
) -> PyResult<Request> {
    let key = match idempotency_key.filter(|k| !k.is_none()) {
        None => false,
        Some(k) => convert::bool_arg(py, k, "idempotency_key")?,
    };
    let request = match method.filter(|m| !m.is_none()) {
        None => Request::unknown(),
        Some(m) => {
            let m = str_arg(py, m, "method")?;
            let m = m.trim();
            if m.is_empty() || m.len() > 32 {
                return Err(invalid_option(
                    py,
                    "method",
                    "`method` must be a short string like \"POST\"",
                ));
            }
            Request::new(m)
        }
    };
    Ok(request.with_idempotency_key(key))
}

/// Classify a response from its parts. Positional only: `http_triage.classify` (Python) is the
/// keyword API and passes everything by position, because reading keyword names costs an
/// allocation each under the 3.9 stable ABI.
#[pyfunction]
#[pyo3(signature = (status, headers=None, body=None, method=None, idempotency_key=None, now=None, rules=None, /))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn classify(
    py: Python<'_>,
    status: &Bound<'_, PyAny>,
    headers: Option<&Bound<'_, PyAny>>,
    body: Option<&Bound<'_, PyAny>>,
    method: Option<&Bound<'_, PyAny>>,
    idempotency_key: Option<&Bound<'_, PyAny>>,
    now: Option<&Bound<'_, PyAny>>,
    rules: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyClassification> {
    let status = status_arg(py, status)?;
    let headers = convert::headers(py, headers)?;
    let body = convert::body(py, body)?;
    let request = request_arg(py, method, idempotency_key)?;
    let now = convert::unix_ms(py, now)?;
    let rules = rules_arg(py, rules)?;
    let pairs = convert::pairs(&headers);
    let response = Response::new(status, &pairs, &body);
    let inner = guard(py, || {
        http_triage::classify(&response, &request, now, &rules)
    })?;
    Ok(PyClassification { inner })
}

/// Classify a call that got no response: `kind` is one of the core's transport error kinds.
#[pyfunction]
#[pyo3(signature = (kind, *, method=None, idempotency_key=None))]
pub(crate) fn classify_transport(
    py: Python<'_>,
    kind: &Bound<'_, PyAny>,
    method: Option<&Bound<'_, PyAny>>,
    idempotency_key: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyClassification> {
    let kind_s = str_arg(py, kind, "kind")?;
    let kind: TransportError = kind_s.parse().map_err(|_| {
        let kinds: Vec<&str> = TransportError::ALL.iter().map(|t| t.as_str()).collect();
        errors::error(
            py,
            Kind::UnknownName,
            &format!("unknown transport error kind; one of: {}", kinds.join(", ")),
            None,
            None,
        )
    })?;
    let request = request_arg(py, method, idempotency_key)?;
    let inner = guard(py, || http_triage::classify_transport(kind, &request))?;
    Ok(PyClassification { inner })
}

/// One `http-triage classify` input line → its output line (no newline), byte for byte the
/// CLI's: a bad line gives the CLI's error object naming `line_no`. `default_now` (Unix
/// seconds) is used when the line has no `now`; omitted, the system clock.
#[pyfunction]
#[pyo3(signature = (line, line_no=Count(1), default_now=None), text_signature = "(line, line_no=1, default_now=None)")]
pub(crate) fn classify_line(
    py: Python<'_>,
    line: Text,
    line_no: Count,
    default_now: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let now = convert::unix_ms(py, default_now)?;
    guard(py, || {
        http_triage::wire::classify_line(&line.0, line_no.0, now)
    })
}

/// The transport error kinds `classify_transport` knows, in the core's order.
#[pyfunction]
pub(crate) fn transport_error_kinds() -> Vec<&'static str> {
    TransportError::ALL.iter().map(|t| t.as_str()).collect()
}

/// The reasons the core can give, in its order.
#[pyfunction]
pub(crate) fn reasons() -> Vec<&'static str> {
    Reason::ALL.iter().map(|r| r.as_str()).collect()
}

/// An error body read into one shape (frozen; equal when every field is).
#[pyclass(frozen, eq, module = "http_triage._native", name = "Envelope")]
#[derive(Clone, PartialEq)]
pub struct PyEnvelope {
    inner: Envelope,
}

#[pymethods]
impl PyEnvelope {
    /// Which shape was read.
    #[getter]
    fn dialect<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        PyString::intern(py, self.inner.dialect.as_str())
    }
    /// The error code.
    #[getter]
    fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }
    /// The message.
    #[getter]
    fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }
    /// Structured details, parsed from JSON (or None).
    #[getter]
    fn details<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        details(py, self.inner.details.as_ref())
    }
    /// The request id in the body.
    #[getter]
    fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }
    /// A second support reference.
    #[getter]
    fn reference_id(&self) -> Option<&str> {
        self.inner.reference_id.as_deref()
    }
    /// The body's `retryable` flag.
    #[getter]
    fn retryable(&self) -> Option<bool> {
        self.inner.retryable
    }
    /// A delay hint in the body, in seconds.
    #[getter]
    fn retry_after(&self) -> Option<f64> {
        opt_secs(self.inner.retry_after)
    }
    /// Field-level problems.
    #[getter]
    fn violations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        violations(py, &self.inner.violations)
    }
    /// True when the body itself says it is an error.
    #[getter]
    fn signals_error(&self) -> bool {
        self.inner.signals_error
    }
    /// True when the body describes work that is still running (`"done": false`,
    /// `"status": "running"`): a 2xx carrying it is `pending`.
    #[getter]
    fn in_progress(&self) -> bool {
        self.inner.in_progress
    }

    fn __repr__(&self) -> String {
        let e = &self.inner;
        let mut s = format!("Envelope(dialect={}", repr_str(e.dialect.as_str()));
        if let Some(code) = &e.code {
            let _ = write!(s, ", code={}", repr_str(code));
        }
        if let Some(r) = e.retryable {
            let _ = write!(s, ", retryable={}", if r { "True" } else { "False" });
        }
        if let Some(d) = e.retry_after {
            let _ = write!(s, ", retry_after={:?}", d.as_secs_f64());
        }
        if let Some(id) = &e.request_id {
            let _ = write!(s, ", request_id={}", repr_str(id));
        }
        let _ = write!(
            s,
            ", signals_error={}",
            if e.signals_error { "True" } else { "False" }
        );
        if e.in_progress {
            s.push_str(", in_progress=True");
        }
        s.push(')');
        s
    }
}

/// Read an error body into one shape.
#[pyfunction]
#[pyo3(signature = (body, content_type=None, *, max_body_bytes=None, max_depth=None))]
pub(crate) fn parse_envelope(
    py: Python<'_>,
    body: &Bound<'_, PyAny>,
    content_type: Option<&Bound<'_, PyAny>>,
    max_body_bytes: Option<&Bound<'_, PyAny>>,
    max_depth: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyEnvelope> {
    let body = convert::body(py, Some(body))?;
    let content_type = match content_type.filter(|c| !c.is_none()) {
        None => None,
        Some(c) => Some(str_arg(py, c, "content_type")?),
    };
    let mut limits = Limits::DEFAULT;
    if let Some(v) = max_body_bytes.filter(|v| !v.is_none()) {
        limits.max_body_bytes =
            usize::try_from(u64_arg(py, v, "max_body_bytes")?).unwrap_or(usize::MAX);
    }
    if let Some(v) = max_depth.filter(|v| !v.is_none()) {
        limits.max_depth = usize::try_from(u64_arg(py, v, "max_depth")?).unwrap_or(usize::MAX);
    }
    let inner = guard(py, || {
        http_triage::parse_envelope(&body, content_type.as_deref(), &limits)
    })?;
    Ok(PyEnvelope { inner })
}

/// What the headers say about retrying (frozen; equal when every field is).
#[pyclass(frozen, eq, module = "http_triage._native", name = "HeaderHints")]
#[derive(Clone, PartialEq)]
pub struct PyHeaderHints {
    /// Retry-After (and its cousins), in seconds.
    #[pyo3(get)]
    retry_after: Option<f64>,
    /// When the rate-limit window resets, seconds from now.
    #[pyo3(get)]
    rate_limit_reset: Option<f64>,
    /// Requests left in the window.
    #[pyo3(get)]
    rate_limit_remaining: Option<u64>,
    /// The window's request quota.
    #[pyo3(get)]
    rate_limit_limit: Option<u64>,
    /// The window's length, in seconds.
    #[pyo3(get)]
    rate_limit_window: Option<f64>,
    /// `x-should-retry` / `Stripe-Should-Retry`.
    #[pyo3(get)]
    should_retry: Option<bool>,
    /// The request id.
    #[pyo3(get)]
    request_id: Option<String>,
    /// The content type.
    #[pyo3(get)]
    content_type: Option<String>,
}

#[pymethods]
impl PyHeaderHints {
    fn __repr__(&self) -> String {
        let f = |v: Option<f64>| v.map_or("None".to_owned(), |v| format!("{v:?}"));
        let s = |v: &Option<String>| v.as_deref().map_or("None".to_owned(), repr_str);
        format!(
            "HeaderHints(retry_after={}, rate_limit_reset={}, rate_limit_remaining={}, rate_limit_limit={}, rate_limit_window={}, should_retry={}, request_id={}, content_type={})",
            f(self.retry_after),
            f(self.rate_limit_reset),
            self.rate_limit_remaining.map_or("None".to_owned(), |v| v.to_string()),
            self.rate_limit_limit.map_or("None".to_owned(), |v| v.to_string()),
            f(self.rate_limit_window),
            self.should_retry.map_or("None", |b| if b { "True" } else { "False" }),
            s(&self.request_id),
            s(&self.content_type),
        )
    }
}

/// Read Retry-After and its cousins, rate-limit headers and ids. `now` is Unix seconds.
#[pyfunction]
#[pyo3(signature = (headers, now=None))]
pub(crate) fn read_headers(
    py: Python<'_>,
    headers: &Bound<'_, PyAny>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyHeaderHints> {
    let headers = convert::headers(py, Some(headers))?;
    let now = convert::unix_ms(py, now)?;
    let pairs = convert::pairs(&headers);
    guard(py, || {
        let h = http_triage::read_headers(&pairs, now);
        PyHeaderHints {
            retry_after: opt_secs(h.retry_after),
            rate_limit_reset: opt_secs(h.rate_limit_reset),
            rate_limit_remaining: h.rate_limit_remaining,
            rate_limit_limit: h.rate_limit_limit,
            rate_limit_window: opt_secs(h.rate_limit_window),
            should_retry: h.should_retry,
            request_id: h.request_id.map(str::to_owned),
            content_type: h.content_type.map(str::to_owned),
        }
    })
}

/// A `Classification` argument.
pub(crate) fn classification_arg<'a>(
    py: Python<'_>,
    v: &'a Bound<'_, PyAny>,
) -> PyResult<pyo3::PyRef<'a, PyClassification>> {
    v.cast::<PyClassification>()
        .map(|b| b.borrow())
        .map_err(|_| {
            invalid_input(
                py,
                &format!("expected a Classification, not {}", convert::type_name(v)),
            )
        })
}
