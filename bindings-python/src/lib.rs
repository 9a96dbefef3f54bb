//! Python bindings of http-triage: the private module `http_triage._native`, re-exported by
//! the pure-Python package `http_triage`.
//!
//! Thin by design: this crate converts values, maps errors and exports. Every decision comes
//! from the core. Times are seconds as floats: Unix time for `classify`/`read_headers`/the
//! ledger (the system clock when omitted), monotonic time for the state machines
//! (`time.monotonic()` when omitted). No panic crosses into Python: calls into the core that
//! read caller data run under `catch_unwind` and a panic becomes `InternalError`.

mod config;
mod convert;
mod errors;
mod ledger;
mod machines;
mod policy;
mod values;

use pyo3::prelude::*;

/// The native half of the `http_triage` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(values::classify, m)?)?;
    m.add_function(wrap_pyfunction!(values::classify_transport, m)?)?;
    m.add_function(wrap_pyfunction!(values::classify_line, m)?)?;
    m.add_function(wrap_pyfunction!(values::parse_envelope, m)?)?;
    m.add_function(wrap_pyfunction!(values::read_headers, m)?)?;
    m.add_function(wrap_pyfunction!(values::transport_error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(values::reasons, m)?)?;
    m.add_class::<values::PyClassification>()?;
    m.add_class::<values::PyViolation>()?;
    m.add_class::<values::PyEnvelope>()?;
    m.add_class::<values::PyHeaderHints>()?;
    m.add_class::<policy::PyRetryPolicy>()?;
    m.add_class::<policy::PyDecision>()?;
    m.add_class::<machines::PyCircuitBreaker>()?;
    m.add_class::<machines::PyRetryBudget>()?;
    m.add_class::<machines::PyRateGate>()?;
    m.add_class::<machines::PyPacer>()?;
    m.add_function(wrap_pyfunction!(ledger::ledger_line, m)?)?;
    m.add_function(wrap_pyfunction!(ledger::parse_ledger_line, m)?)?;
    m.add_function(wrap_pyfunction!(ledger::ledger_line_from_record, m)?)?;
    m.add_function(wrap_pyfunction!(ledger::report, m)?)?;
    m.add_class::<ledger::PyReplay>()?;
    m.add_class::<ledger::PyReport>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
