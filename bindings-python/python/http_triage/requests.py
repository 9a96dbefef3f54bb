"""requests integration: classify a response, and an ``HTTPAdapter`` that retries by the core's
decisions.

.. code-block:: python

    import requests
    from http_triage.requests import TriageAdapter

    session = requests.Session()
    adapter = TriageAdapter(idempotency_key=True)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    r = session.post("https://api.example.com/v1/convert", data=b"...")

Each request is paced per host (the core's pacer), refused while the host's breaker is open,
and sent again only when ``RetryPolicy.decide`` says so, after the server's ``Retry-After``
when there is one. A file body is rewound before it is sent again; a generator body is never
re-sent (:class:`~http_triage.BodyNotReplayableError`). When the policy gives up, defers or
stops, the last response is returned (or the last exception raised) as requests would.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import rewind_body

from ._classify import classify
from ._events import BodyNotReplayableError, OnDecision
from ._native import Classification, RetryPolicy
from ._retry import REPEATABLE_METHODS, Call, Retrier, Step, host_key
from ._transport import classify_error, transport_kind

__all__ = ["TriageAdapter", "classify_response"]


def classify_response(
    response: requests.Response,
    *,
    idempotency_key: bool | None = None,
    now: float | None = None,
) -> Classification:
    """Classify a requests response (its body is read if it was not). The method comes from
    the response's request; ``idempotency_key`` defaults to whether that request carried an
    ``Idempotency-Key`` header."""
    request = response.request
    method = (request.method or "GET") if request is not None else "GET"
    has_key = request is not None and "Idempotency-Key" in request.headers
    if idempotency_key is not None:
        has_key = idempotency_key
    return classify(
        response.status_code,
        response.headers,
        response.content,
        method=method,
        idempotency_key=has_key,
        now=now,
    )


def _replayable(request: requests.PreparedRequest) -> bool:
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    # A file requests remembered the position of can be rewound.
    pos = getattr(request, "_body_position", None)
    return hasattr(body, "seek") and isinstance(pos, int)


def _not_replayable(call: Call, step: Step) -> BodyNotReplayableError:
    c = step.classification
    return BodyNotReplayableError(
        f"{call.method} to {call.host}: the core said {step.action} after {c.reason}, but the "
        "request body is a generator that cannot be sent again (pass bytes or a file)",
        c,
    )


class TriageAdapter(HTTPAdapter):
    """A retrying :class:`requests.adapters.HTTPAdapter`; mount it on a :class:`Session`.

    Options as :class:`http_triage.httpx.TriageTransport`; other keyword arguments go to
    ``HTTPAdapter`` (``pool_connections``, ``pool_maxsize``, ...). urllib3's own retries stay
    off: every retry is the core's.
    """

    def __init__(
        self,
        *,
        retrier: Retrier | None = None,
        policy: RetryPolicy | None = None,
        idempotency_key: bool = False,
        on_decision: OnDecision | None = None,
        breaker: dict[str, Any] | None = None,
        budget: dict[str, Any] | None = None,
        pacer: dict[str, Any] | None = None,
        **adapter_kwargs: Any,
    ) -> None:
        adapter_kwargs.pop("max_retries", None)
        super().__init__(max_retries=0, **adapter_kwargs)
        if retrier is None:
            retrier = Retrier(
                policy,
                idempotency_key=idempotency_key,
                on_decision=on_decision,
                breaker=breaker,
                budget=budget,
                pacer=pacer,
            )
        self.retrier = retrier

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        retrier = self.retrier
        method = (request.method or "GET").upper()
        header = retrier.idempotency_header
        has_key = header in request.headers
        if not has_key and retrier.idempotency_key and method not in REPEATABLE_METHODS:
            request.headers[header] = retrier.new_key()
            has_key = True
        url = urlsplit(request.url or "")
        host = host_key(url.scheme, url.hostname or "", url.port)
        call = retrier.call(method, host, has_key=has_key, replayable=_replayable(request))
        first = True
        while True:
            wait = call.before_send()
            while wait > 0:
                time.sleep(wait)
                wait = call.recheck()
            if not first and request.body is not None and hasattr(request.body, "seek"):
                rewind_body(request)
            first = False
            response: requests.Response | None = None
            try:
                response = super().send(
                    request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies
                )
                status = response.status_code
                if stream and status < 400:
                    body: bytes | None = None
                else:
                    body = response.content
                c = classify(status, response.headers, body, method=method, idempotency_key=has_key)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                if transport_kind(exc) is None:
                    call.abandon()
                    raise
                reading = response is not None and response.status_code < 400
                if response is not None:
                    response.close()
                c = classify_error(
                    exc, method=method, idempotency_key=has_key, reading_body=reading
                )
                step = call.after(c)
                if not step.again:
                    raise
                if not call.replayable:
                    raise _not_replayable(call, step) from exc
                time.sleep(step.delay)
                continue
            step = call.after(c)
            if not step.again:
                return response
            if not call.replayable:
                raise _not_replayable(call, step)
            response.close()
            time.sleep(step.delay)
