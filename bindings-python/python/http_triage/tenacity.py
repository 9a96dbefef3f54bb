"""tenacity integration: a retry predicate and a wait strategy that follow the core's decisions.

.. code-block:: python

    import httpx, tenacity
    from http_triage.tenacity import Triage

    triage = Triage(idempotency_key=True)

    @tenacity.retry(retry=triage.retry, wait=triage.wait, reraise=True)
    def convert(data: bytes) -> httpx.Response:
        return httpx.post(URL, content=data, headers={"Idempotency-Key": KEY})

The outcome of each attempt (a requests/httpx response, or an exception) is classified by the
core and ``RetryPolicy.decide`` says whether to try again and after how long (the server's
``Retry-After`` included, never earlier). The host's pacer, breaker and budget are shared by
every function decorated with the same :class:`Triage`. There is no stop strategy to set: the
policy gives up by itself (``max_attempts``, ``deadline``). When the policy gives up the last
response is returned (or, with ``reraise=True``, the last exception raised).
"""

from __future__ import annotations

import time
from typing import Any

import tenacity

from ._classify import classify
from ._events import CircuitOpenError, OnDecision
from ._native import Classification, RetryPolicy
from ._retry import Call, Retrier, Step, host_key
from ._transport import classify_error

__all__ = ["Triage"]

_STEP = "_http_triage_step"
_CALL = "_http_triage_call"


def _response_parts(result: Any) -> tuple[int, Any, bytes, str, bool, str] | None:
    """(status, headers, body, method, has_key, host) of a requests or httpx response."""
    status = getattr(result, "status_code", None)
    headers = getattr(result, "headers", None)
    if not isinstance(status, int) or headers is None:
        return None
    request = getattr(result, "request", None)
    method = str(getattr(request, "method", None) or "GET").upper()
    req_headers = getattr(request, "headers", None) or {}
    has_key = "Idempotency-Key" in req_headers or "idempotency-key" in req_headers
    body = getattr(result, "content", b"")
    url = getattr(result, "url", None)
    host = _host_of(str(url) if url is not None else "")
    return status, headers, body if isinstance(body, bytes) else b"", method, has_key, host


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    try:
        port = u.port
    except ValueError:
        port = None
    return host_key(u.scheme, u.hostname or "", port)


class Triage:
    """The core's retry decisions for tenacity: pass ``retry=triage.retry`` and
    ``wait=triage.wait`` to ``tenacity.retry`` (or ``Retrying``/``AsyncRetrying``).

    ``method`` / ``idempotency_key`` say what is being retried when the outcome is an exception
    (a response carries its own request); ``host`` names the host of those exceptions for the
    per-host state (default: one shared ``"default"`` host).
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        retrier: Retrier | None = None,
        method: str = "GET",
        idempotency_key: bool = False,
        host: str = "default",
        on_decision: OnDecision | None = None,
    ) -> None:
        self.retrier = retrier if retrier is not None else Retrier(policy, on_decision=on_decision)
        self.method = method.upper()
        self.idempotency_key = idempotency_key
        self.host = host

    def classification(
        self, retry_state: tenacity.RetryCallState
    ) -> tuple[Classification, str, str, bool]:
        """Classify the outcome of the attempt that just ended: (classification, host,
        method, has_key). A result that is not a response counts as a success."""
        outcome = retry_state.outcome
        if outcome is None:
            raise RuntimeError("tenacity called the predicate before any attempt ended")
        if outcome.failed:
            exc = outcome.exception()
            if exc is None:
                raise RuntimeError("tenacity reported a failed attempt without an exception")
            response = getattr(exc, "response", None)
            parts = _response_parts(response) if response is not None else None
            if parts is None:
                c = classify_error(exc, method=self.method, idempotency_key=self.idempotency_key)
                return c, self.host, self.method, self.idempotency_key
        else:
            parts = _response_parts(outcome.result())
            if parts is None:
                return classify(200), self.host, self.method, self.idempotency_key
        status, headers, body, method, has_key, host = parts
        has_key = has_key or self.idempotency_key
        return (
            classify(status, headers, body, method=method, idempotency_key=has_key),
            host,
            method,
            has_key,
        )

    def _call(
        self, retry_state: tenacity.RetryCallState, host: str, method: str, has_key: bool
    ) -> Call:
        call: Call | None = getattr(retry_state, _CALL, None)
        if call is None:
            call = self.retrier.call(method, host, has_key=has_key)
            setattr(retry_state, _CALL, call)
        return call

    def retry(self, retry_state: tenacity.RetryCallState) -> bool:
        """The retry predicate: True when the core says retry or poll."""
        try:
            c, host, method, has_key = self.classification(retry_state)
        except CircuitOpenError:
            return False
        call = self._call(retry_state, host, method, has_key)
        # tenacity counts the attempts; the call follows its count (polls aside).
        call.number = max(retry_state.attempt_number - call.polls, 1)
        step = call.after(c)
        setattr(retry_state, _STEP, step)
        if not step.again:
            return False
        # Ask the breaker and reserve the next send from the host's pacer now: the wait
        # covers the pacer's slot.
        try:
            pacing = call.before_send()
        except CircuitOpenError:
            return False
        setattr(retry_state, _STEP, Step(step.action, max(step.delay, pacing), c))
        return True

    def wait(self, retry_state: tenacity.RetryCallState) -> float:
        """The wait strategy: the core's delay (``Retry-After`` first), the pacer's slot
        included; 0 in test mode."""
        step: Step | None = getattr(retry_state, _STEP, None)
        return 0.0 if step is None else step.delay

    def sleep(self, seconds: float) -> None:
        """A sleep for ``tenacity.retry(sleep=...)`` that test mode turns off."""
        from ._events import is_testing

        if not is_testing():
            time.sleep(seconds)
