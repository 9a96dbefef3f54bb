//! Python values → the core's plain parts, and back. Conversions only: no decisions.

use crate::errors::{invalid_input, invalid_option};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString, PyTuple};
use serde_json::Value;
use std::borrow::Cow;

/// A header name or value: the `str`'s own UTF-8 (held by Python, no copy on the Rust side),
/// or text built here (bytes read as Latin-1, lone surrogates replaced).
pub(crate) enum HeaderText {
    /// Borrowed from a Python `str`.
    Py(PyBackedStr),
    /// Built here.
    Owned(String),
}

impl HeaderText {
    fn as_str(&self) -> &str {
        match self {
            HeaderText::Py(s) => s,
            HeaderText::Owned(s) => s,
        }
    }
}

/// Header pairs, in order.
pub(crate) type Headers = Vec<(HeaderText, HeaderText)>;

/// One header name or value: `str`, or `bytes` read as Latin-1 (HTTP's historical charset).
fn header_text(py: Python<'_>, v: &Bound<'_, PyAny>, what: &str) -> PyResult<HeaderText> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(match PyBackedStr::try_from(s.clone()) {
            Ok(b) => HeaderText::Py(b),
            // Lone surrogates (from `surrogateescape` decoding) become U+FFFD, as bad bytes would.
            Err(_) => HeaderText::Owned(s.to_string_lossy().into_owned()),
        });
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(HeaderText::Owned(
            b.as_bytes().iter().map(|&c| char::from(c)).collect(),
        ));
    }
    Err(invalid_input(
        py,
        &format!("a header {what} must be str or bytes, not {}", type_name(v)),
    ))
}

fn push_pair(py: Python<'_>, out: &mut Headers, pair: &Bound<'_, PyAny>) -> PyResult<()> {
    let shape = || invalid_input(py, "headers as a list hold (name, value) pairs");
    if let Ok(t) = pair.cast::<PyTuple>() {
        if t.len() != 2 {
            return Err(shape());
        }
        out.push((
            header_text(py, &t.get_item(0)?, "name")?,
            header_text(py, &t.get_item(1)?, "value")?,
        ));
        return Ok(());
    }
    if let Ok(l) = pair.cast::<PyList>() {
        if l.len() != 2 {
            return Err(shape());
        }
        out.push((
            header_text(py, &l.get_item(0)?, "name")?,
            header_text(py, &l.get_item(1)?, "value")?,
        ));
        return Ok(());
    }
    Err(shape())
}

/// Headers from a dict, a list/tuple of pairs, an object with `.multi_items()` (httpx, keeps
/// repeated headers) or `.items()` (requests' `CaseInsensitiveDict`, any mapping), or `None`.
pub(crate) fn headers(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Headers> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if let Ok(d) = obj.cast::<PyDict>() {
        out.reserve(d.len());
        for (k, v) in d.iter() {
            out.push((header_text(py, &k, "name")?, header_text(py, &v, "value")?));
        }
        return Ok(out);
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        for pair in obj.try_iter()? {
            push_pair(py, &mut out, &pair?)?;
        }
        return Ok(out);
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(invalid_input(
            py,
            "headers must be a mapping or (name, value) pairs, not a string",
        ));
    }
    let items = if obj.hasattr("multi_items")? {
        obj.call_method0("multi_items")?
    } else if obj.hasattr("items")? {
        obj.call_method0("items")?
    } else {
        return Err(invalid_input(
            py,
            &format!(
                "headers must be a mapping, (name, value) pairs or an object with .items(), not {}",
                type_name(obj)
            ),
        ));
    };
    for pair in items.try_iter()? {
        push_pair(py, &mut out, &pair?)?;
    }
    Ok(out)
}

/// The headers as the core's borrowed pairs.
pub(crate) fn pairs(h: &Headers) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A body: `bytes` (borrowed, no copy), `bytearray`, `memoryview` (or any buffer with
/// `.tobytes()`), `str` (UTF-8), or `None` (empty).
pub(crate) fn body<'a>(
    py: Python<'_>,
    obj: Option<&'a Bound<'_, PyAny>>,
) -> PyResult<Cow<'a, [u8]>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Cow::Borrowed(&[]));
    };
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Cow::Owned(s.to_string_lossy().into_owned().into_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    if obj.hasattr("tobytes")? {
        let b = obj.call_method0("tobytes")?;
        if let Ok(b) = b.cast::<PyBytes>() {
            return Ok(Cow::Owned(b.as_bytes().to_vec()));
        }
    }
    Err(invalid_input(
        py,
        &format!(
            "body must be bytes, bytearray, memoryview or str, not {}",
            type_name(obj)
        ),
    ))
}

/// The Python type name of `v`, for messages (never its value).
pub(crate) fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .and_then(|n| n.to_cow().map(Cow::into_owned))
        .unwrap_or_else(|_| "object".to_owned())
}

/// A float argument (an `int` or `float`; not `bool`).
pub(crate) fn f64_arg(py: Python<'_>, v: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(invalid_input(
            py,
            &format!("`{name}` must be a number, not bool"),
        ));
    }
    v.extract::<f64>().map_err(|_| {
        invalid_input(
            py,
            &format!("`{name}` must be a number, not {}", type_name(v)),
        )
    })
}

/// A non-negative integer argument that fits `u64`.
pub(crate) fn u64_arg(py: Python<'_>, v: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    if v.is_instance_of::<pyo3::types::PyBool>() || !v.is_instance_of::<pyo3::types::PyInt>() {
        return Err(invalid_input(
            py,
            &format!("`{name}` must be an int, not {}", type_name(v)),
        ));
    }
    v.extract::<u64>().map_err(|_| {
        invalid_option(
            py,
            name,
            &format!("`{name}` must be a non-negative integer in range"),
        )
    })
}

/// A `u32` argument.
pub(crate) fn u32_arg(py: Python<'_>, v: &Bound<'_, PyAny>, name: &str) -> PyResult<u32> {
    let n = u64_arg(py, v, name)?;
    u32::try_from(n).map_err(|_| invalid_option(py, name, &format!("`{name}` is too large")))
}

/// A `bool` argument (only `True`/`False`).
pub(crate) fn bool_arg(py: Python<'_>, v: &Bound<'_, PyAny>, name: &str) -> PyResult<bool> {
    v.cast::<pyo3::types::PyBool>()
        .map(|b| b.is_true())
        .map_err(|_| {
            invalid_input(
                py,
                &format!("`{name}` must be True or False, not {}", type_name(v)),
            )
        })
}

/// A `str` argument.
pub(crate) fn str_arg(py: Python<'_>, v: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    match v.cast::<PyString>() {
        Ok(s) => s
            .to_cow()
            .map(Cow::into_owned)
            .map_err(|_| invalid_input(py, &format!("`{name}` is not valid Unicode text"))),
        Err(_) => Err(invalid_input(
            py,
            &format!("`{name}` must be a str, not {}", type_name(v)),
        )),
    }
}

/// Seconds (non-negative) → whole milliseconds, saturating at the end of the `u64` clock as
/// the core's own arithmetic does.
pub(crate) fn secs_to_ms(py: Python<'_>, secs: f64, name: &str) -> PyResult<u64> {
    let ms = secs * 1000.0;
    if ms.is_nan() || ms < 0.0 {
        return Err(invalid_option(
            py,
            name,
            &format!("`{name}` must be a non-negative number of seconds"),
        ));
    }
    // `as` saturates: values past u64::MAX (and +inf) become u64::MAX.
    Ok(ms.round() as u64)
}

/// An optional seconds argument → milliseconds. A `float` is exact to the millisecond up to
/// 2^53 ms; an `int`, `fractions.Fraction` or `decimal.Decimal` is converted exactly (Python
/// computes `round(v * 1000)`), for times near the end of the `u64` millisecond clock.
pub(crate) fn secs_arg_ms(
    py: Python<'_>,
    v: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResult<Option<u64>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if v.is_instance_of::<pyo3::types::PyFloat>() {
        let s = f64_arg(py, v, name)?;
        return secs_to_ms(py, s, name).map(Some);
    }
    let exact = !v.is_instance_of::<pyo3::types::PyBool>()
        && (v.is_instance_of::<pyo3::types::PyInt>()
            || v.hasattr("denominator")?
            || v.hasattr("quantize")?);
    if !exact {
        return Err(invalid_input(
            py,
            &format!("`{name}` must be a number of seconds, not {}", type_name(v)),
        ));
    }
    let scaled = v
        .mul(1000)
        .and_then(|x| py.import("builtins")?.getattr("round")?.call1((x,)))
        .map_err(|_| invalid_input(py, &format!("`{name}` must be a number of seconds")))?;
    if scaled.lt(0)? {
        return Err(invalid_option(
            py,
            name,
            &format!("`{name}` must be a non-negative number of seconds"),
        ));
    }
    // Past the end of the u64 clock: saturate, as the core's own arithmetic does.
    Ok(Some(scaled.extract::<u64>().unwrap_or(u64::MAX)))
}

/// Milliseconds → seconds.
pub(crate) fn ms_to_secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

static MONOTONIC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `now` for the state machines: the given monotonic seconds, else `time.monotonic()` (the
/// same clock a Python caller reads, so explicit and default times mix).
pub(crate) fn monotonic_ms(py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    if let Some(ms) = secs_arg_ms(py, now, "now")? {
        return Ok(ms);
    }
    let f = MONOTONIC.get_or_try_init(py, || {
        py.import("time")?.getattr("monotonic").map(Bound::unbind)
    })?;
    let s: f64 = f.bind(py).call0()?.extract()?;
    secs_to_ms(py, s, "now")
}

/// `now` for classification: the given Unix seconds, else the system clock.
pub(crate) fn unix_ms(py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    match secs_arg_ms(py, now, "now")? {
        Some(ms) if ms <= 10_000_000_000_000_000 => Ok(ms as i64),
        Some(_) => Err(invalid_option(py, "now", "`now` is too far in the future")),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)),
    }
}

static RANDOM: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The random draw in [0, 1): the given one, else `random.random()`. The core never draws.
pub(crate) fn random_arg(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
    if let Some(v) = v.filter(|v| !v.is_none()) {
        // Out-of-range draws are the core's to clamp (NaN counts as 0).
        return f64_arg(py, v, "random");
    }
    let f = RANDOM.get_or_try_init(py, || {
        py.import("random")?.getattr("random").map(Bound::unbind)
    })?;
    f.bind(py).call0()?.extract()
}

/// Python → JSON value (dicts, lists, str, int, float, bool, None).
pub(crate) fn to_json(py: Python<'_>, v: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    pythonize::depythonize::<Value>(v).map_err(|_| {
        invalid_input(
            py,
            &format!("{what} must be plain data (dict, list, str, int, float, bool, None)"),
        )
    })
}

/// JSON value → Python.
pub(crate) fn from_json<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, v).map_err(|e| {
        crate::errors::error(
            py,
            crate::errors::Kind::Internal,
            &format!("cannot convert to Python: {e}"),
            None,
            None,
        )
    })
}

/// Any serializable core value → Python (dicts with the core's JSON field names).
pub(crate) fn to_py<'py, T: serde::Serialize>(
    py: Python<'py>,
    v: &T,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, v).map_err(|e| {
        crate::errors::error(
            py,
            crate::errors::Kind::Internal,
            &format!("cannot convert to Python: {e}"),
            None,
            None,
        )
    })
}

/// A `str` argument whose wrong type raises `InvalidInputError` (not a bare `TypeError`).
pub(crate) struct Text(pub(crate) String);

impl<'a, 'py> FromPyObject<'a, 'py> for Text {
    type Error = PyErr;
    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        str_arg(obj.py(), &obj, "argument").map(Text)
    }
}

/// A `bool` argument whose wrong type raises `InvalidInputError`.
pub(crate) struct Flag(pub(crate) bool);

impl<'a, 'py> FromPyObject<'a, 'py> for Flag {
    type Error = PyErr;
    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        bool_arg(obj.py(), &obj, "argument").map(Flag)
    }
}

/// A non-negative `int` argument whose wrong type raises `InvalidInputError`.
pub(crate) struct Count(pub(crate) usize);

impl<'a, 'py> FromPyObject<'a, 'py> for Count {
    type Error = PyErr;
    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        let n = u64_arg(py, &obj, "argument")?;
        usize::try_from(n)
            .map(Count)
            .map_err(|_| invalid_option(py, "argument", "the number is too large"))
    }
}
