"""What the adapters share: the decision event, the test-mode switch and their errors."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

from ._errors import HttpTriageError

if TYPE_CHECKING:
    from ._native import Classification

__all__ = [
    "BodyNotReplayableError",
    "CircuitOpenError",
    "DecisionEvent",
    "OnDecision",
    "is_testing",
    "set_testing",
]

_TESTING = False


def set_testing(enabled: bool) -> None:
    """Turn the adapters' waits off (``True``) or back on, for fast test suites.

    Decisions are still made by the core and reported to ``on_decision`` with their real
    delays; only the sleeping is skipped (as stamina's ``set_testing``).
    """
    global _TESTING
    _TESTING = bool(enabled)


def is_testing() -> bool:
    """Whether :func:`set_testing` turned the waits off."""
    return _TESTING


@dataclasses.dataclass(frozen=True)
class DecisionEvent:
    """One decision of the core about one attempt, as handed to an ``on_decision`` hook.

    ``attempt`` counts every request of the call (1 for the first); ``action`` is the core's
    decision (``done``, ``retry``, ``poll``, ``defer``, ``give_up``, ``stop``), or
    ``budget_exhausted`` when the host's retry budget refused a retry; ``delay`` is the wait in
    seconds before the next attempt (``None`` when there is none) and ``source`` where it came
    from (``retry_after``, ``backoff``, ...). Holds no header value, so never a secret.
    """

    attempt: int
    action: str
    category: str
    reason: str
    code: str | None
    status: int | None
    transport_error: str | None
    delay: float | None
    source: str | None
    request_id: str | None
    method: str
    host: str


#: The type of an ``on_decision`` hook.
OnDecision = Callable[[DecisionEvent], None]


class BodyNotReplayableError(HttpTriageError, ValueError):
    """The core said to retry, but the request body was a generator or a consumed stream that
    cannot be sent again. Raised instead of sending an empty body; ``classification`` is the
    failure that asked for the retry."""

    def __init__(self, message: str, classification: Classification | None = None) -> None:
        super().__init__(message)
        self.code = "body_not_replayable"
        self.classification = classification


class CircuitOpenError(HttpTriageError):
    """The host's circuit breaker is open: nothing was sent. ``retry_after`` is how long until
    it lets a probe through, in seconds."""

    def __init__(self, host: str, retry_after: float | None) -> None:
        wait = "" if retry_after is None else f" (retry in {retry_after:.1f}s)"
        super().__init__(f"the circuit breaker for {host} is open{wait}")
        self.code = "circuit_open"
        self.host = host
        self.retry_after = retry_after
