"""The httpx transports against the real ``http-triage serve`` on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import http_triage
import httpx
import pytest
from conftest import KEY, ServeFactory, content_with_fate
from http_triage import BodyNotReplayableError, DecisionEvent, RetryPolicy
from http_triage.httpx import AsyncTriageTransport, TriageTransport, classify_response

TRANSIENT = ("--transient-rate", "1", "--permanent-rate", "0")
PERMANENT = ("--permanent-rate", "1", "--transient-rate", "0")
CLEAN = ("--permanent-rate", "0", "--transient-rate", "0")


class Recording(httpx.HTTPTransport):
    """The real transport, noting the Idempotency-Key each attempt carried and when it left."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str | None] = []
        self.sent_at: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get("idempotency-key"))
        self.sent_at.append(time.monotonic())
        return super().handle_request(request)


def client_with(
    events: list[DecisionEvent], inner: httpx.BaseTransport | None = None, **kw: object
) -> httpx.Client:
    t = TriageTransport(inner, on_decision=events.append, **kw)  # type: ignore[arg-type]
    return httpx.Client(transport=t, timeout=10)


def test_503_with_retry_after_is_retried_no_earlier_than_asked(serve: ServeFactory) -> None:
    flags = (*TRANSIENT, "--hang-ms", "50")
    data = content_with_fate(flags, 503)
    s = serve(*flags)
    events: list[DecisionEvent] = []
    inner = Recording()
    with client_with(events, inner, idempotency_key=True) as client:
        r = client.post(s.url, content=data, headers=s.headers)
    assert r.status_code == 200
    first = events[0]
    assert (first.action, first.status, first.source) == ("retry", 503, "server")
    assert first.delay is not None and first.delay >= 1.0
    # The retry left no earlier than the server's Retry-After after the 503 came back.
    assert inner.sent_at[1] - inner.sent_at[0] >= first.delay
    assert events[-1].action == "done"


def test_5xx_is_retried_until_it_converts(serve: ServeFactory) -> None:
    flags = (*TRANSIENT, "--hang-ms", "50")
    data = content_with_fate(flags, 500)
    s = serve(*flags)
    events: list[DecisionEvent] = []
    http_triage.set_testing(True)
    with client_with(events, idempotency_key=True) as client:
        r = client.post(s.url, content=data, headers=s.headers)
    assert r.status_code == 200
    assert [e.action for e in events[:-1]] == ["retry"] * (len(events) - 1)
    assert events[0].status == 500 and events[0].category == "retryable"
    assert events[-1].action == "done" and events[-1].attempt == len(events)
    assert s.stats()["requests"] == len(events)


def test_422_is_not_retried(serve: ServeFactory) -> None:
    data = content_with_fate(PERMANENT, 422)
    s = serve(*PERMANENT)
    events: list[DecisionEvent] = []
    with client_with(events, idempotency_key=True) as client:
        r = client.post(s.url, content=data, headers=s.headers)
    assert r.status_code == 422
    assert [(e.action, e.category) for e in events] == [("give_up", "permanent")]
    assert events[0].code is not None
    assert s.stats()["requests"] == 1
    c = classify_response(r)
    assert c.category == http_triage.Category.PERMANENT


def test_401_stops(serve: ServeFactory) -> None:
    s = serve(*CLEAN)
    events: list[DecisionEvent] = []
    with client_with(events, idempotency_key=True) as client:
        r = client.post(s.url, content=b"x", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert [(e.action, e.category) for e in events] == [("stop", "auth")]
    assert s.stats()["auth_failures"] == 1
    assert KEY not in repr(events)


def test_post_is_retried_only_with_its_key(serve: ServeFactory) -> None:
    flags = (*TRANSIENT, "--hang-ms", "50")
    data = content_with_fate(flags, 500)
    http_triage.set_testing(True)

    # Without a key, a 500 may mean the POST was processed: not sent again.
    s = serve(*flags)
    events: list[DecisionEvent] = []
    inner = Recording()
    with client_with(events, inner) as client:
        r = client.post(s.url, content=data, headers=s.headers)
    assert r.status_code == 500
    assert [e.action for e in events] == ["give_up"]
    assert inner.keys == [None]

    # With one, it is retried, every attempt carrying the same key.
    s2 = serve(*flags)
    events2: list[DecisionEvent] = []
    inner2 = Recording()
    with client_with(events2, inner2, idempotency_key=True) as client:
        r2 = client.post(s2.url, content=data, headers=s2.headers)
    assert r2.status_code == 200
    assert len(inner2.keys) >= 2 and len(set(inner2.keys)) == 1 and inner2.keys[0]
    assert s2.stats()["conversions"] == 1


def test_a_generator_body_is_never_resent_empty(serve: ServeFactory) -> None:
    flags = (*TRANSIENT, "--hang-ms", "50")
    data = content_with_fate(flags, 503)
    s = serve(*flags)
    events: list[DecisionEvent] = []

    def body() -> Iterator[bytes]:
        yield data

    with (
        client_with(events, idempotency_key=True) as client,
        pytest.raises(BodyNotReplayableError) as info,
    ):
        client.post(s.url, content=body(), headers=s.headers)
    assert info.value.code == "body_not_replayable"
    assert info.value.classification is not None
    assert s.stats()["requests"] == 1


def test_testing_mode_turns_waits_off_but_reports_the_delay(serve: ServeFactory) -> None:
    flags = (*TRANSIENT, "--hang-ms", "50")
    data = content_with_fate(flags, 503)
    s = serve(*flags)
    events: list[DecisionEvent] = []
    http_triage.set_testing(True)
    inner = Recording()
    with client_with(events, inner, idempotency_key=True) as client:
        r = client.post(s.url, content=data, headers=s.headers)
    assert r.status_code == 200
    assert events[0].delay is not None and events[0].delay >= 1.0
    assert inner.sent_at[1] - inner.sent_at[0] < events[0].delay


def test_dropped_connection_is_retried_with_a_key(serve: ServeFactory) -> None:
    flags = (*TRANSIENT, "--hang-ms", "50")
    data = content_with_fate(flags, None)
    s = serve(*flags)
    events: list[DecisionEvent] = []
    http_triage.set_testing(True)
    with client_with(events, idempotency_key=True) as client:
        r = client.post(s.url, content=data, headers=s.headers)
    assert r.status_code == 200
    assert events[0].transport_error in ("closed_before_response", "reset_before_response")
    assert events[0].action == "retry"


def test_async_transport_follows_the_same_decisions(serve: ServeFactory) -> None:
    flags = (*TRANSIENT, "--hang-ms", "50")
    retry_me = content_with_fate(flags, 503)
    bad = content_with_fate(PERMANENT, 422)
    s = serve(*flags)
    p = serve(*PERMANENT)
    events: list[DecisionEvent] = []

    async def go() -> tuple[int, int]:
        t = AsyncTriageTransport(on_decision=events.append, idempotency_key=True)
        async with httpx.AsyncClient(transport=t, timeout=10) as client:
            a = await client.post(s.url, content=retry_me, headers=s.headers)
            b = await client.post(p.url, content=bad, headers=p.headers)
            return a.status_code, b.status_code

    started = time.monotonic()
    assert asyncio.run(go()) == (200, 422)
    assert time.monotonic() - started >= 1.0  # the 503's Retry-After: 1 was waited for
    actions = [e.action for e in events]
    # The fate fails once or twice before it converts.
    assert actions in (["retry", "done", "give_up"], ["retry", "retry", "done", "give_up"])


def test_policy_max_attempts_is_the_cores(serve: ServeFactory) -> None:
    s = serve(*CLEAN, "--outage")
    events: list[DecisionEvent] = []
    http_triage.set_testing(True)
    with client_with(events, policy=RetryPolicy(max_attempts=3), idempotency_key=True) as client:
        r = client.post(s.url, content=b"x", headers=s.headers)
    assert r.status_code == 503
    assert [e.action for e in events] == ["retry", "retry", "give_up"]
    assert s.stats()["requests"] == 3


def test_multipart_bodies_are_buffered_and_replayable() -> None:
    import io

    from http_triage._retry import Retrier
    from http_triage.httpx import _prepare

    request = httpx.Request(
        "POST", "http://127.0.0.1:1/", files={"f": ("a.txt", io.BytesIO(b"abc"))}
    )
    call = _prepare(Retrier(), request)
    assert call.replayable
    assert b"abc" in request.content
    generator = httpx.Request("POST", "http://127.0.0.1:1/", content=iter([b"x"]))
    assert not _prepare(Retrier(), generator).replayable
