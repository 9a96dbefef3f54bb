"""Typed use of the public API: `mypy --strict` must accept this file (scripts/test-python.sh).

It is also run as a script by the test command, so the calls are real, not just annotations.
"""

from __future__ import annotations

from fractions import Fraction

import http_triage as ht
from http_triage import Category, Classification, Decision


def decide_next(c: Classification, attempt: int, policy: ht.RetryPolicy) -> float | None:
    d: Decision = policy.decide(c, attempt, random=0.5, now=0.0)
    if d.action == "retry" or d.action == "poll":
        return d.delay
    if d.action == "stop":
        reason: str | None = d.stop_reason
        assert reason is not None
    return None


def main() -> None:
    c = ht.classify(
        429,
        {"Retry-After": "2", "Content-Type": "application/json"},
        b'{"error": {"code": "rate_limited", "message": "slow down"}}',
        method="POST",
        idempotency_key=True,
        now=1_763_800_000.0,
    )
    category: Category = c.category
    assert category is Category.RETRYABLE and category.stops_batch is False
    wait: float | None = c.retry_after
    assert wait == 2.0
    fields: dict[str, object] = c.to_dict()
    assert fields["code"] == "rate_limited"
    for v in c.violations:
        name: str = v.field
        assert name

    t = ht.classify_transport("connect_timeout", method="GET")
    assert t.transport_error == "connect_timeout"

    env: ht.Envelope = ht.parse_envelope('{"detail": "nope"}', "application/json")
    hints: ht.HeaderHints = ht.read_headers([("Retry-After", "5")], now=0.0)
    assert env.dialect and hints.retry_after == 5.0

    policy = ht.RetryPolicy(max_attempts=3, base_delay=0.25, jitter="full")
    assert decide_next(c, 1, policy) == 2.0

    breaker = ht.CircuitBreaker(failure_threshold=5, open_for=30.0)
    if breaker.admit(now=1.0) != "rejected":
        breaker.record(c, now=1.5)
    state: str = breaker.state(2.0)
    assert state == "closed"
    snapshot = breaker.snapshot()
    breaker = ht.CircuitBreaker.restore(snapshot, failure_threshold=5, open_for=30.0)

    budget = ht.RetryBudget(max_tokens=10.0)
    budget.record(c)
    ok: bool = budget.can_retry
    assert ok

    gate = ht.RateGate()
    gate.record(c, now=Fraction(1, 2))
    pause: float = gate.wait(now=1.0)
    assert pause > 0

    pacer = ht.Pacer(beta=0.7, max_rate=50.0)
    pacer.record(c, now=0.0)
    send_at: float = pacer.acquire(now=0.0)
    rate: float | None = pacer.rate
    assert send_at >= 0.0 and rate is not None
    pacer = ht.Pacer.restore(pacer.snapshot())

    line: str = ht.ledger_line("a.pdf", "quarantined", 1.0, classification=c, attempts=3)
    replay = ht.Replay.from_text(line)
    report = ht.report(replay, alert_rate=0.5)
    text: str = report.render_text()
    code: int = report.exit_code
    assert "a.pdf" in text and code == 4

    try:
        ht.RetryPolicy(max_attempts=0)
    except ht.InvalidOptionError as e:
        option: str | None = e.option
        assert option == "max_attempts" and e.code == "invalid_option"


if __name__ == "__main__":
    main()
