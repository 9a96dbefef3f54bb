//! Errors crossing into Python: the classes live in `http_triage._errors` (pure Python, so that
//! each can subclass both `HttpTriageError` and `ValueError`/`TypeError`); this module builds
//! instances of them. Messages never quote a caller's string values (they may be secrets).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Which exception class to raise.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `InvalidOptionError` (ValueError): an option or argument out of range.
    InvalidOption,
    /// `InvalidSnapshotError` (ValueError).
    InvalidSnapshot,
    /// `UnknownNameError` (ValueError): not one of the known names.
    UnknownName,
    /// `InvalidInputError` (TypeError): an argument of the wrong type or shape.
    InvalidInput,
    /// `LedgerError` (ValueError), with the core's code.
    Ledger,
    /// `InternalError` (RuntimeError): a bug in http-triage (a caught panic).
    Internal,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::InvalidOption => "InvalidOptionError",
            Kind::InvalidSnapshot => "InvalidSnapshotError",
            Kind::UnknownName => "UnknownNameError",
            Kind::InvalidInput => "InvalidInputError",
            Kind::Ledger => "LedgerError",
            Kind::Internal => "InternalError",
        }
    }
}

/// Build the exception. `option` names the offending option (for `InvalidOptionError`);
/// `code` overrides the class's code (the ledger's codes).
pub(crate) fn error(
    py: Python<'_>,
    kind: Kind,
    message: &str,
    option: Option<&str>,
    code: Option<&str>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module = ERRORS.get_or_try_init(py, || {
            PyModule::import(py, "http_triage._errors").map(Bound::unbind)
        })?;
        let class = module.bind(py).getattr(kind.class_name())?;
        let kwargs = PyDict::new(py);
        if let Some(o) = option {
            kwargs.set_item("option", o)?;
        }
        if let Some(c) = code {
            kwargs.set_item("code", c)?;
        }
        let instance = class.call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(instance))
    };
    // If even the error module cannot be imported, that failure is the better report.
    build().unwrap_or_else(|e| e)
}

/// An `InvalidInputError` (a `TypeError`).
pub(crate) fn invalid_input(py: Python<'_>, message: &str) -> PyErr {
    error(py, Kind::InvalidInput, message, None, None)
}

/// An `InvalidOptionError` naming `option`.
pub(crate) fn invalid_option(py: Python<'_>, option: &str, message: &str) -> PyErr {
    error(py, Kind::InvalidOption, message, Some(option), None)
}

/// The core's error as the matching Python exception.
pub(crate) fn from_core(py: Python<'_>, e: &http_triage::Error) -> PyErr {
    let message = e.to_string();
    match e {
        http_triage::Error::InvalidOption { name, .. } => {
            error(py, Kind::InvalidOption, &message, Some(name), None)
        }
        http_triage::Error::InvalidSnapshot(_) => {
            error(py, Kind::InvalidSnapshot, &message, None, None)
        }
        // The core's message quotes the value; ours does not.
        http_triage::Error::UnknownName { kind, .. } => error(
            py,
            Kind::UnknownName,
            &format!("unknown {kind} name"),
            None,
            None,
        ),
        _ => error(py, Kind::Internal, &message, None, None),
    }
}

/// Run `f`, turning a panic into an `InternalError` so that none reaches Python. The core
/// documents that it does not panic; this is the binding's guarantee on top.
pub(crate) fn guard<T>(py: Python<'_>, f: impl FnOnce() -> T) -> PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| {
        error(
            py,
            Kind::Internal,
            "internal error in http-triage (a bug: please report it)",
            None,
            None,
        )
    })
}
