"""The requests adapter against the real ``http-triage serve`` on loopback."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import http_triage
import pytest
import requests
from conftest import ServeFactory, content_with_fate
from http_triage import BodyNotReplayableError, DecisionEvent
from http_triage.requests import TriageAdapter, classify_response

TRANSIENT = ("--transient-rate", "1", "--permanent-rate", "0", "--hang-ms", "50")
PERMANENT = ("--permanent-rate", "1", "--transient-rate", "0")
CLEAN = ("--permanent-rate", "0", "--transient-rate", "0")


def session(events: list[DecisionEvent], **kw: object) -> requests.Session:
    s = requests.Session()
    adapter = TriageAdapter(on_decision=events.append, **kw)  # type: ignore[arg-type]
    s.mount("http://", adapter)
    return s


def test_503_retry_after_is_honoured(serve: ServeFactory) -> None:
    data = content_with_fate(TRANSIENT, 503)
    s = serve(*TRANSIENT)
    events: list[DecisionEvent] = []
    started = time.monotonic()
    r = session(events, idempotency_key=True).post(s.url, data=data, headers=s.headers)
    elapsed = time.monotonic() - started
    assert r.status_code == 200 and r.content
    assert (events[0].action, events[0].status, events[0].source) == ("retry", 503, "server")
    assert events[0].delay is not None
    assert elapsed >= events[0].delay
    assert events[-1].action == "done"


def test_5xx_retried_422_not_401_stops(serve: ServeFactory) -> None:
    http_triage.set_testing(True)
    t = serve(*TRANSIENT)
    p = serve(*PERMANENT)
    events: list[DecisionEvent] = []
    sess = session(events, idempotency_key=True)
    ok = sess.post(t.url, data=content_with_fate(TRANSIENT, 500), headers=t.headers)
    assert ok.status_code == 200
    assert events[0].action == "retry" and events[-1].action == "done"
    events.clear()
    bad = sess.post(p.url, data=content_with_fate(PERMANENT, 422), headers=p.headers)
    assert bad.status_code == 422
    assert [(e.action, e.category) for e in events] == [("give_up", "permanent")]
    assert classify_response(bad).reason == events[0].reason
    events.clear()
    denied = sess.post(p.url, data=b"x", headers={"Authorization": "Bearer nope"})
    assert denied.status_code == 401
    assert [(e.action, e.category) for e in events] == [("stop", "auth")]


def test_post_without_key_is_not_resent(serve: ServeFactory) -> None:
    http_triage.set_testing(True)
    t = serve(*TRANSIENT)
    events: list[DecisionEvent] = []
    r = session(events).post(t.url, data=content_with_fate(TRANSIENT, 500), headers=t.headers)
    assert r.status_code == 500
    assert [e.action for e in events] == ["give_up"]
    assert t.stats()["requests"] == 1


def test_a_file_body_is_rewound_and_a_generator_refused(serve: ServeFactory) -> None:
    http_triage.set_testing(True)
    data = content_with_fate(TRANSIENT, 503)
    t = serve(*TRANSIENT)
    events: list[DecisionEvent] = []
    sess = session(events, idempotency_key=True)
    r = sess.post(t.url, data=io.BytesIO(data), headers=t.headers)
    assert r.status_code == 200
    assert t.stats()["conversions"] == 1

    t2 = serve(*TRANSIENT)

    def gen() -> Iterator[bytes]:
        yield data

    with pytest.raises(BodyNotReplayableError):
        sess.post(t2.url, data=gen(), headers=t2.headers)
    assert t2.stats()["requests"] == 1


def test_refused_connection_is_retried_even_for_a_post_without_key() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    http_triage.set_testing(True)
    events: list[DecisionEvent] = []
    with pytest.raises(requests.ConnectionError):
        session(events, policy=http_triage.RetryPolicy(max_attempts=2)).post(
            f"http://127.0.0.1:{port}/", data=b"x"
        )
    # Never reached the server: safe to send again without a key.
    assert [e.action for e in events] == ["retry", "give_up"]
    assert events[0].transport_error == "connect_refused"
