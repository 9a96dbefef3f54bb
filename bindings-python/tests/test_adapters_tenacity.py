"""The tenacity predicate and wait strategy against the real ``http-triage serve``."""

from __future__ import annotations

import contextlib
import time

import http_triage
import httpx
import requests
import tenacity
from conftest import ServeFactory, content_with_fate
from http_triage import DecisionEvent
from http_triage.tenacity import Triage

TRANSIENT = ("--transient-rate", "1", "--permanent-rate", "0", "--hang-ms", "50")
PERMANENT = ("--permanent-rate", "1", "--transient-rate", "0")


def test_waits_follow_retry_after_and_422_is_not_retried(serve: ServeFactory) -> None:
    data = content_with_fate(TRANSIENT, 503)
    s = serve(*TRANSIENT)
    events: list[DecisionEvent] = []
    triage = Triage(on_decision=events.append)

    @tenacity.retry(retry=triage.retry, wait=triage.wait, sleep=triage.sleep)
    def convert(url: str, body: bytes, key: str) -> httpx.Response:
        headers = {**s.headers, "Idempotency-Key": key}
        return httpx.post(url, content=body, headers=headers, timeout=10)

    started = time.monotonic()
    r = convert(s.url, data, "k-1")
    assert r.status_code == 200
    assert events[0].action == "retry" and events[0].source == "server"
    assert events[0].delay is not None
    assert time.monotonic() - started >= events[0].delay
    assert events[-1].action == "done"

    p = serve(*PERMANENT)
    events.clear()
    r = convert(p.url, content_with_fate(PERMANENT, 422), "k-2")
    assert r.status_code == 422
    assert [e.action for e in events] == ["give_up"]
    assert p.stats()["requests"] == 1


def test_exceptions_and_requests_responses(serve: ServeFactory) -> None:
    http_triage.set_testing(True)
    s = serve("--permanent-rate", "0", "--transient-rate", "0", "--outage")
    events: list[DecisionEvent] = []
    triage = Triage(http_triage.RetryPolicy(max_attempts=3), on_decision=events.append)

    @tenacity.retry(retry=triage.retry, wait=triage.wait, sleep=triage.sleep)
    def call() -> requests.Response:
        return requests.post(
            s.url, data=b"x", headers={**s.headers, "Idempotency-Key": "k"}, timeout=10
        )

    assert call().status_code == 503
    assert [e.action for e in events] == ["retry", "retry", "give_up"]

    events.clear()
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    @tenacity.retry(retry=triage.retry, wait=triage.wait, sleep=triage.sleep, reraise=True)
    def refused() -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=2)

    with contextlib.suppress(httpx.ConnectError):
        refused()
    assert [e.transport_error for e in events] == ["connect_refused"] * 3
    assert events[-1].action == "give_up"


def test_async_retrying_follows_the_same_decisions(serve: ServeFactory) -> None:
    import asyncio

    data = content_with_fate(TRANSIENT, 503)
    s = serve(*TRANSIENT)
    events: list[DecisionEvent] = []
    triage = Triage(on_decision=events.append)

    async def go() -> int:
        async with httpx.AsyncClient(timeout=10) as client:

            async def post() -> httpx.Response:
                headers = {**s.headers, "Idempotency-Key": "async-1"}
                return await client.post(s.url, content=data, headers=headers)

            retrying = tenacity.AsyncRetrying(retry=triage.retry, wait=triage.wait)
            r: httpx.Response = await retrying(post)
            return r.status_code

    started = time.monotonic()
    assert asyncio.run(go()) == 200
    assert events[0].action == "retry" and events[0].delay is not None
    assert time.monotonic() - started >= events[0].delay
    assert events[-1].action == "done"
