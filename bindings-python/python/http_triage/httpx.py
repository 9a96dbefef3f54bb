"""httpx integration: classify a response, and transports that retry by the core's decisions.

.. code-block:: python

    import httpx
    from http_triage.httpx import TriageTransport

    with httpx.Client(transport=TriageTransport(idempotency_key=True)) as client:
        r = client.post("https://api.example.com/v1/convert", content=b"...")

Each request is paced per host (the core's pacer), refused while the host's breaker is open,
and sent again only when ``RetryPolicy.decide`` says so — after the server's ``Retry-After``
when there is one. A request body that cannot be sent twice (a generator) is never re-sent:
:class:`~http_triage.BodyNotReplayableError` is raised instead. When the policy gives up,
defers or stops, the last response is returned as it is (or the last transport exception is
raised), so ``raise_for_status()`` and the caller's own handling still work.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from ._classify import classify
from ._events import BodyNotReplayableError, OnDecision
from ._native import Classification, RetryPolicy
from ._retry import REPEATABLE_METHODS, Call, Retrier, Step, host_key
from ._transport import classify_error, transport_kind

__all__ = ["AsyncTriageTransport", "TriageTransport", "classify_response"]


def classify_response(
    response: httpx.Response,
    *,
    idempotency_key: bool | None = None,
    now: float | None = None,
) -> Classification:
    """Classify an httpx response (its body is read if it was not). The method comes from the
    response's request; ``idempotency_key`` defaults to whether that request carried an
    ``Idempotency-Key`` header."""
    method = "GET"
    has_key = False
    try:
        request = response.request
        method = request.method
        has_key = "idempotency-key" in request.headers
    except RuntimeError:  # a response built by hand has no request
        pass
    if idempotency_key is not None:
        has_key = idempotency_key
    body = response.read()
    return classify(
        response.status_code,
        response.headers,
        body,
        method=method,
        idempotency_key=has_key,
        now=now,
    )


def _host(request: httpx.Request) -> str:
    url = request.url
    return host_key(url.scheme, url.host, url.port)


def _replayable(request: httpx.Request) -> bool:
    """A body given as bytes (or already read) can be sent again; a generator cannot."""
    if isinstance(request.stream, httpx.ByteStream):
        return True
    try:
        request.content  # noqa: B018 - raises when the body is a stream not yet read
    except httpx.RequestNotRead:
        return False
    return True


def _prepare(retrier: Retrier, request: httpx.Request) -> Call:
    if type(request.stream).__name__ == "MultipartStream":
        # A multipart body (files=...) is rendered again from its parts on each iteration:
        # buffer it once so every attempt sends the same bytes (and the same boundary).
        request.read()
    method = request.method.upper()
    header = retrier.idempotency_header
    has_key = header in request.headers
    if not has_key and retrier.idempotency_key and method not in REPEATABLE_METHODS:
        request.headers[header] = retrier.new_key()
        has_key = True
    return retrier.call(method, _host(request), has_key=has_key, replayable=_replayable(request))


def _decoded(status: int, headers: httpx.Headers, raw: bytes) -> bytes:
    """The body as the server meant it (Content-Encoding undone), for classification."""
    if "content-encoding" not in headers:
        return raw
    try:
        return httpx.Response(status, headers=headers, content=raw).read()
    except httpx.DecodingError:
        return raw


def _rebuilt(response: httpx.Response, raw: bytes) -> httpx.Response:
    """The response with its raw body in memory (the client decodes it as usual)."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(raw),
        extensions=response.extensions,
        request=response.request if _has_request(response) else None,
    )


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018
    except RuntimeError:
        return False
    return True


def _not_replayable(call: Call, step: Step) -> BodyNotReplayableError:
    c = step.classification
    return BodyNotReplayableError(
        f"{call.method} to {call.host}: the core said {step.action} after {c.reason}, but the "
        "request body is a stream that cannot be sent again (pass bytes to make it retryable)",
        c,
    )


class _Options:
    def __init__(
        self,
        retrier: Retrier | None,
        policy: RetryPolicy | None,
        idempotency_key: bool,
        on_decision: OnDecision | None,
        read_success_body: bool,
        retrier_options: dict[str, Any],
    ) -> None:
        if retrier is None:
            retrier = Retrier(
                policy,
                idempotency_key=idempotency_key,
                on_decision=on_decision,
                **retrier_options,
            )
        self.retrier = retrier
        self.read_success_body = read_success_body


class TriageTransport(httpx.BaseTransport):
    """A retrying transport for :class:`httpx.Client`, wrapping ``transport`` (default
    ``httpx.HTTPTransport(**transport_kwargs)``).

    ``retrier`` shares policy and per-host state with other transports/adapters; otherwise one
    is built from ``policy``, ``idempotency_key``, ``on_decision`` and ``breaker`` / ``budget``
    / ``pacer`` options. ``read_success_body=False`` leaves 2xx bodies streaming (they are then
    classified by status and headers only).
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        retrier: Retrier | None = None,
        policy: RetryPolicy | None = None,
        idempotency_key: bool = False,
        on_decision: OnDecision | None = None,
        read_success_body: bool = True,
        breaker: dict[str, Any] | None = None,
        budget: dict[str, Any] | None = None,
        pacer: dict[str, Any] | None = None,
        **transport_kwargs: Any,
    ) -> None:
        self._inner = (
            transport if transport is not None else httpx.HTTPTransport(**transport_kwargs)
        )
        self._opts = _Options(
            retrier,
            policy,
            idempotency_key,
            on_decision,
            read_success_body,
            {"breaker": breaker, "budget": budget, "pacer": pacer},
        )

    @property
    def retrier(self) -> Retrier:
        """The policy and per-host state this transport uses."""
        return self._opts.retrier

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        call = _prepare(self._opts.retrier, request)
        while True:
            wait = call.before_send()
            while wait > 0:
                time.sleep(wait)
                wait = call.recheck()
            response: httpx.Response | None = None
            try:
                response = self._inner.handle_request(request)
                c, response = self._read(call, response)
            except httpx.TransportError as exc:
                if transport_kind(exc) is None:
                    call.abandon()
                    raise
                reading = response is not None and response.status_code < 400
                if response is not None:
                    response.close()
                c = classify_error(
                    exc, method=call.method, idempotency_key=call.has_key, reading_body=reading
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

    def _read(self, call: Call, response: httpx.Response) -> tuple[Classification, httpx.Response]:
        status = response.status_code
        if status < 400 and not self._opts.read_success_body:
            c = classify(
                status, response.headers, None, method=call.method, idempotency_key=call.has_key
            )
            return c, response
        try:
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        body = _decoded(status, response.headers, raw)
        c = classify(
            status, response.headers, body, method=call.method, idempotency_key=call.has_key
        )
        return c, _rebuilt(response, raw)

    def close(self) -> None:
        self._inner.close()


class AsyncTriageTransport(httpx.AsyncBaseTransport):
    """:class:`TriageTransport` for :class:`httpx.AsyncClient` (wraps
    ``httpx.AsyncHTTPTransport(**transport_kwargs)`` by default)."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        retrier: Retrier | None = None,
        policy: RetryPolicy | None = None,
        idempotency_key: bool = False,
        on_decision: OnDecision | None = None,
        read_success_body: bool = True,
        breaker: dict[str, Any] | None = None,
        budget: dict[str, Any] | None = None,
        pacer: dict[str, Any] | None = None,
        **transport_kwargs: Any,
    ) -> None:
        self._inner = (
            transport if transport is not None else httpx.AsyncHTTPTransport(**transport_kwargs)
        )
        self._opts = _Options(
            retrier,
            policy,
            idempotency_key,
            on_decision,
            read_success_body,
            {"breaker": breaker, "budget": budget, "pacer": pacer},
        )

    @property
    def retrier(self) -> Retrier:
        """The policy and per-host state this transport uses."""
        return self._opts.retrier

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = _prepare(self._opts.retrier, request)
        while True:
            wait = call.before_send()
            while wait > 0:
                await asyncio.sleep(wait)
                wait = call.recheck()
            response: httpx.Response | None = None
            try:
                response = await self._inner.handle_async_request(request)
                c, response = await self._read(call, response)
            except httpx.TransportError as exc:
                if transport_kind(exc) is None:
                    call.abandon()
                    raise
                reading = response is not None and response.status_code < 400
                if response is not None:
                    await response.aclose()
                c = classify_error(
                    exc, method=call.method, idempotency_key=call.has_key, reading_body=reading
                )
                step = call.after(c)
                if not step.again:
                    raise
                if not call.replayable:
                    raise _not_replayable(call, step) from exc
                await asyncio.sleep(step.delay)
                continue
            step = call.after(c)
            if not step.again:
                return response
            if not call.replayable:
                raise _not_replayable(call, step)
            await response.aclose()
            await asyncio.sleep(step.delay)

    async def _read(
        self, call: Call, response: httpx.Response
    ) -> tuple[Classification, httpx.Response]:
        status = response.status_code
        if status < 400 and not self._opts.read_success_body:
            c = classify(
                status, response.headers, None, method=call.method, idempotency_key=call.has_key
            )
            return c, response
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        body = _decoded(status, response.headers, raw)
        c = classify(
            status, response.headers, body, method=call.method, idempotency_key=call.has_key
        )
        return c, _rebuilt(response, raw)

    async def aclose(self) -> None:
        await self._inner.aclose()
