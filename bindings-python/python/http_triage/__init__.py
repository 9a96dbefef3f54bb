"""http-triage: turn a failed HTTP API call into a decision.

Retry after *d*, poll again, quarantine the item and go on, or stop everything. The decisions
come from the Rust core (``http_triage._native``); this package re-exports them with Python
types. Times are seconds as floats: Unix time for ``classify``/``read_headers``/the ledger,
monotonic time (``time.monotonic()``) for the state machines.
"""

from __future__ import annotations

from ._category import Category
from ._classify import classify
from ._errors import (
    HttpTriageError,
    InternalError,
    InvalidInputError,
    InvalidOptionError,
    InvalidSnapshotError,
    LedgerError,
    UnknownNameError,
)
from ._native import (
    CircuitBreaker,
    Classification,
    Decision,
    Envelope,
    HeaderHints,
    Pacer,
    RateGate,
    Replay,
    Report,
    RetryBudget,
    RetryPolicy,
    Violation,
    __version__,
    classify_line,
    classify_transport,
    ledger_line,
    ledger_line_from_record,
    parse_envelope,
    parse_ledger_line,
    read_headers,
    reasons,
    report,
    transport_error_kinds,
)

__all__ = [
    "Category",
    "CircuitBreaker",
    "Classification",
    "Decision",
    "Envelope",
    "HeaderHints",
    "HttpTriageError",
    "InternalError",
    "InvalidInputError",
    "InvalidOptionError",
    "InvalidSnapshotError",
    "LedgerError",
    "Pacer",
    "RateGate",
    "Replay",
    "Report",
    "RetryBudget",
    "RetryPolicy",
    "UnknownNameError",
    "Violation",
    "__version__",
    "classify",
    "classify_line",
    "classify_transport",
    "ledger_line",
    "ledger_line_from_record",
    "parse_envelope",
    "parse_ledger_line",
    "read_headers",
    "reasons",
    "report",
    "transport_error_kinds",
]

# ---- re-exports of the adapters' modules (ADAPTERS helper) below this line ----
from ._events import (
    BodyNotReplayableError,
    CircuitOpenError,
    DecisionEvent,
    is_testing,
    set_testing,
)
from ._transport import classify_error

__all__ += [
    "BodyNotReplayableError",
    "CircuitOpenError",
    "DecisionEvent",
    "classify_error",
    "is_testing",
    "set_testing",
]
