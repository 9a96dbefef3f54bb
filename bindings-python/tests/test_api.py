"""The native API: types, conversions, value semantics, secrets kept out of reprs, threads."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import http_triage as ht
import pytest
from http_triage import Category

SECRET = "sk_live_51HxSECRETdoNotLeak"
NOW = 1_763_800_000.0


def stripe_429() -> ht.Classification:
    body = json.dumps(
        {
            "error": {
                "type": "rate_limit_error",
                "code": "rate_limited",
                "message": f"Too many requests for key {SECRET}",
                "doc_url": "https://example.invalid",
            }
        }
    )
    return ht.classify(
        429,
        {"Retry-After": "7", "Request-Id": "req_123", "Content-Type": "application/json"},
        body,
        method="POST",
        idempotency_key=True,
        now=NOW,
    )


def test_classify_reads_status_headers_and_body() -> None:
    c = stripe_429()
    assert c.category is Category.RETRYABLE
    assert c.category == "retryable"
    assert isinstance(c.category, str)
    assert c.reason == "rate_limited"
    assert c.status == 429
    assert c.retry_after == 7.0
    assert c.request_id == "req_123"
    assert c.code == "rate_limited"
    assert c.transport_error is None
    assert c.violations == ()
    d = c.to_dict()
    assert set(d) == {
        "category",
        "reason",
        "code",
        "message",
        "request_id",
        "retryable_hint",
        "retry_after_seconds",
        "violations",
        "dialect",
    }
    assert d["retry_after_seconds"] == 7


def test_headers_in_every_shape_give_the_same_classification() -> None:
    pairs = [("Retry-After", "3"), ("X-Request-Id", "abc")]
    base = ht.classify(503, dict(pairs), now=NOW)
    assert ht.classify(503, pairs, now=NOW) == base
    assert ht.classify(503, tuple(pairs), now=NOW) == base
    assert ht.classify(503, [[k, v] for k, v in pairs], now=NOW) == base  # type: ignore[misc]
    assert ht.classify(503, [(k.encode(), v.encode()) for k, v in pairs], now=NOW) == base

    class ItemsOnly:
        def items(self) -> Iterator[tuple[str, str]]:
            return iter(pairs)

    class MultiItems:
        def multi_items(self) -> list[tuple[str, str]]:
            return pairs

        def items(self) -> list[tuple[str, str]]:
            raise AssertionError("multi_items must be preferred")

    assert ht.classify(503, ItemsOnly(), now=NOW) == base
    assert ht.classify(503, MultiItems(), now=NOW) == base
    assert base.retry_after == 3.0 and base.request_id == "abc"


def test_requests_and_httpx_headers() -> None:
    requests = pytest.importorskip("requests")
    httpx = pytest.importorskip("httpx")
    h1 = requests.structures.CaseInsensitiveDict({"retry-after": "4"})
    h2 = httpx.Headers([("Retry-After", "4"), ("Set-Cookie", "a"), ("Set-Cookie", "b")])
    assert ht.classify(429, h1, now=NOW).retry_after == 4.0
    assert ht.classify(429, h2, now=NOW).retry_after == 4.0


def test_body_types() -> None:
    raw = b'{"error":{"code":"invalid_request","message":"bad"}}'
    base = ht.classify(400, None, raw, now=NOW)
    assert base.code == "invalid_request"
    assert ht.classify(400, None, bytearray(raw), now=NOW) == base
    assert ht.classify(400, None, memoryview(raw), now=NOW) == base
    assert ht.classify(400, None, raw.decode(), now=NOW) == base


def test_now_defaults_to_the_system_clock() -> None:
    when = time.time() + 30
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(when))
    c = ht.classify(503, {"Retry-After": http_date})
    assert c.retry_after is not None and 25 <= c.retry_after <= 31


def test_transport_errors() -> None:
    assert ht.transport_error_kinds()[0] == "dns"
    c = ht.classify_transport("connect_refused", method="POST")
    assert c.category is Category.RETRYABLE
    assert c.transport_error == "connect_refused"
    assert c.request_not_processed is True
    c = ht.classify_transport("timeout_after_send", method="POST")
    assert c.reason == "not_safe_to_repeat"
    assert ht.classify_transport("timeout_after_send", method="POST", idempotency_key=True) != c


def test_value_semantics() -> None:
    a, b = stripe_429(), stripe_429()
    assert a == b and a is not b
    assert a != ht.classify(500, now=NOW)
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(AttributeError):
        a.status = 200  # type: ignore[misc]
    v = ht.Violation("email", "is invalid")
    assert v == ht.Violation("email", "is invalid") and v != ht.Violation("email", "x")
    assert {ht.Violation("a", "b")} == {ht.Violation("a", "b")}


def test_reprs_never_show_secrets() -> None:
    c = stripe_429()
    assert c.message is not None and SECRET in c.message  # the attribute has it...
    r = repr(c)
    assert SECRET not in r  # ...the repr does not
    assert "category='retryable'" in r and "status=429" in r and "retry_after=7.0" in r
    e = ht.parse_envelope(
        json.dumps({"error": {"code": "x", "message": SECRET}}), "application/json"
    )
    assert SECRET not in repr(e)
    h = ht.read_headers({"Authorization": f"Bearer {SECRET}", "Retry-After": "1"}, now=NOW)
    assert SECRET not in repr(h)
    v = ht.classify(
        422,
        None,
        json.dumps({"errors": [{"field": "card", "message": f"{SECRET} is not a card"}]}),
        now=NOW,
    )
    assert SECRET not in repr(v) and all(SECRET not in repr(x) for x in v.violations)


def test_details_are_parsed_json() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "message": "bad",
                "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest"}],
            }
        }
    )
    e = ht.parse_envelope(body, "application/json")
    assert e.dialect == "google_rpc"
    assert isinstance(e.details, list)


def test_rules_override_categories() -> None:
    assert ht.classify(409, now=NOW).category is Category.PERMANENT
    assert (
        ht.classify(409, rules={"status": {409: "retryable"}}, now=NOW).category
        is Category.RETRYABLE
    )
    assert (
        ht.classify(409, rules={"status": {"409": "pending"}}, now=NOW).category is Category.PENDING
    )


def test_policy_and_decisions() -> None:
    p = ht.RetryPolicy(base_delay=0.5, max_attempts=3, jitter="none")
    assert p.base_delay == 0.5 and p.max_attempts == 3 and p.jitter == "none"
    assert p == ht.RetryPolicy.from_config(p.to_config())
    assert p.to_config()["base_delay"] == 500
    d = p.decide(ht.classify(503, now=NOW), 1, random=0.0)
    assert d.action == "retry" and d.delay == 0.5 and d.source == "backoff" and d.is_retry
    d = p.decide(stripe_429(), 1, random=0.0)
    assert d.delay == 7.0 and d.source == "server"
    d = p.decide(ht.classify(401, now=NOW), 1, random=0.0)
    assert d.action == "stop" and d.stop_reason == "auth" and d.is_stop
    d = p.decide(ht.classify(503, now=NOW), 3, random=0.0)
    assert d.action == "give_up" and d.give_up_reason == "attempts_exhausted"
    assert d == p.decide(ht.classify(503, now=NOW), 3, random=0.0) and hash(d) == hash(d)
    long = ht.classify(429, {"Retry-After": "3600"}, now=NOW)
    d = p.decide(long, 1, now=NOW, random=0.0)
    assert d.action == "defer" and d.resume_at == NOW + 3600
    assert p.backoff(3, random=0.999) == pytest.approx(2.0)


def test_breaker_opens_and_snapshots() -> None:
    b = ht.CircuitBreaker(failure_threshold=2, failure_ratio=None, open_for=10)
    fail = ht.classify(503, now=NOW)
    assert b.admit(0.0) == "allowed"
    b.record(fail, 0.1)
    b.record(fail, 0.2)
    assert b.state(0.3) == "open"
    assert b.open_until(0.3) == pytest.approx(10.2)
    assert b.try_admit(1.0) == ("rejected", pytest.approx(10.2))
    snap = b.snapshot()
    assert snap["state"] == "open"
    b2 = ht.CircuitBreaker.restore(
        json.loads(json.dumps(snap)), failure_threshold=2, failure_ratio=None, open_for=10
    )
    assert b2.state(0.3) == "open" and b2.snapshot() == snap
    assert b.admit(11.0) == "probe"


def test_budget_gate_pacer() -> None:
    budget = ht.RetryBudget(max_tokens=4)
    for _ in range(2):
        budget.on_failure()
    assert budget.can_retry is False
    assert ht.RetryBudget.restore(budget.snapshot(), max_tokens=4).tokens == budget.tokens

    gate = ht.RateGate()
    gate.record(ht.classify(429, {"Retry-After": "5"}, now=NOW), 100.0)
    assert gate.wait(101.0) == pytest.approx(4.0)
    assert not gate.is_open(101.0) and gate.reopens_at == pytest.approx(105.0)
    assert ht.RateGate.restore(gate.snapshot()).wait(101.0) == pytest.approx(4.0)

    pacer = ht.Pacer(beta=0.5)
    assert pacer.rate is None and pacer.acquire(1.0) == 1.0
    pacer.record(ht.classify(429, now=NOW), 1.0)
    assert pacer.rate is not None
    t1, t2 = pacer.acquire(2.0), pacer.acquire(2.0)
    assert t2 > t1 >= 2.0
    assert pacer.wait(2.0) > 0
    again = ht.Pacer.restore(pacer.snapshot())
    assert again.snapshot() == pacer.snapshot()


def test_state_machines_default_to_the_monotonic_clock() -> None:
    gate = ht.RateGate()
    gate.close_for(60)
    assert 59 <= gate.wait() <= 60
    assert gate.wait(time.monotonic() + 61) == 0
    pacer = ht.Pacer()
    assert pacer.acquire() == pytest.approx(time.monotonic(), abs=1.0)


def test_pacer_shared_by_threads_hands_out_distinct_slots() -> None:
    pacer = ht.Pacer(min_rate=0.5)
    pacer.record(ht.classify(429, now=NOW), 0.0)
    rate = pacer.rate
    assert rate is not None
    slots: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(200):
                t = pacer.acquire(0.0)
                pacer.record(ht.classify(200, now=NOW), 0.0)
                with lock:
                    slots.append(t)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(slots) == 1600
    # Every caller got its own slot: no two callers were handed the same send time.
    assert len(set(slots)) == len(slots)


def test_breaker_shared_by_threads() -> None:
    b = ht.CircuitBreaker(failure_threshold=1_000_000, failure_ratio=None)
    fail = ht.classify(500, now=NOW)

    def worker() -> None:
        for i in range(500):
            b.record(fail, float(i))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.consecutive_failures == 2000


def test_ledger_round_trip_and_report() -> None:
    c = ht.classify(422, None, '{"error":{"code":"corrupted","message":"bad pdf"}}', now=NOW)
    lines = [
        ht.ledger_line("a.pdf", "started", NOW),
        ht.ledger_line("a.pdf", "done", NOW + 1, category="success", status=200, attempts=1),
        ht.ledger_line("b.pdf", "started", NOW),
        ht.ledger_line("b.pdf", "quarantined", NOW + 2, classification=c, attempts=1),
        ht.ledger_line("c.pdf", "deferred", NOW + 3, resume_at=NOW + 3600),
        ht.ledger_line("d.pdf", "started", NOW + 4),
    ]
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    rec = ht.parse_ledger_line(lines[3])
    assert (
        rec["reason"] == "corrupted" and rec["status"] == 422 and rec["at_ms"] == (NOW + 2) * 1000
    )
    assert ht.ledger_line_from_record(rec) == lines[3]
    replay = ht.Replay.from_text("".join(lines))
    assert replay.done == ["a.pdf"] and replay.quarantined == ["b.pdf"]
    assert replay.deferred == ["c.pdf"] and replay.in_flight == ["d.pdf"]
    assert replay.resume_at("c.pdf") == NOW + 3600
    assert not replay.should_run("a.pdf") and replay.should_run("d.pdf")
    assert replay.outcome_of("b.pdf") == "quarantined"
    rep = ht.report(replay, alert_rate=0.05)
    assert rep.above_threshold and rep.exit_code == 4 and rep.total == 4
    text = rep.render_text()
    assert "b.pdf" in text and text.startswith("4 items:")
    assert rep.to_dict()["quarantined"] == 1
    # Feeding lines one by one gives the same replay, a torn last line included.
    incremental = ht.Replay()
    torn = "".join(lines) + '{"v":1,"item":"e.pdf","outc'
    all_lines = torn.split("\n")
    for i, line in enumerate(all_lines, 1):
        incremental.push_line(i, line, i == len(all_lines))
    assert incremental.torn_tail and incremental.done == ["a.pdf"]


def test_report_text_is_the_clis(tmp_path: object) -> None:
    """`render_text` is the Rust CLI's text after its `ledger:` line (checked byte for byte
    against the binary when HTTP_TRIAGE_BIN is set, as scripts/test-python.sh does)."""
    import os
    import subprocess
    from pathlib import Path

    binary = os.environ.get("HTTP_TRIAGE_BIN")
    if not binary:
        pytest.skip("HTTP_TRIAGE_BIN not set")
    c = ht.classify(422, None, '{"error":{"code":"corrupted","message":"bad"}}', now=NOW)
    text = "".join(
        [
            ht.ledger_line(f"{i}.pdf", "done", NOW + i, category="success", status=200)
            for i in range(20)
        ]
        + [ht.ledger_line(f"q{i}.pdf", "quarantined", NOW + i, classification=c) for i in range(4)]
    )
    path = Path(str(tmp_path)) / "ledger.jsonl"
    path.write_text(text)
    out = subprocess.run([binary, "report", str(path)], capture_output=True, text=True, check=False)
    rep = ht.report(ht.Replay.from_text(text))
    assert out.returncode == rep.exit_code
    assert out.stdout == f"ledger: {path}\n" + rep.render_text()
