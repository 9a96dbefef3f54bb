"""Bad input: typed errors with stable codes, never a panic, never a secret in a message."""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import http_triage as ht
import pytest

SECRET = "Bearer sk_live_SECRET_value"


def raises(exc: type[ht.HttpTriageError], code: str, f: Callable[[], Any]) -> ht.HttpTriageError:
    with pytest.raises(exc) as info:
        f()
    e = info.value
    assert e.code == code
    assert SECRET not in str(e) and "SECRET" not in repr(e)
    return e


def test_hierarchy() -> None:
    assert issubclass(ht.InvalidOptionError, ValueError)
    assert issubclass(ht.InvalidSnapshotError, ValueError)
    assert issubclass(ht.UnknownNameError, ValueError)
    assert issubclass(ht.LedgerError, ValueError)
    assert issubclass(ht.InvalidInputError, TypeError)
    assert issubclass(ht.InternalError, RuntimeError)
    for cls in (
        ht.InvalidOptionError,
        ht.InvalidSnapshotError,
        ht.UnknownNameError,
        ht.InvalidInputError,
        ht.LedgerError,
        ht.InternalError,
    ):
        assert issubclass(cls, ht.HttpTriageError)
        assert cls("m").code == cls.code


def test_bad_classify_arguments() -> None:
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.classify("429"))  # type: ignore[arg-type]
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.classify(True))  # type: ignore[arg-type]
    e = raises(ht.InvalidOptionError, "invalid_option", lambda: ht.classify(42))
    assert isinstance(e, ht.InvalidOptionError) and e.option == "status"
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.classify(200, 5))  # type: ignore[arg-type]
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.classify(200, SECRET))  # type: ignore[arg-type]
    raises(
        ht.InvalidInputError,
        "invalid_input",
        lambda: ht.classify(200, {"Authorization": 12345}),  # type: ignore[dict-item]
    )
    raises(
        ht.InvalidInputError,
        "invalid_input",
        lambda: ht.classify(200, [("Authorization", SECRET, "x")]),  # type: ignore[list-item]
    )
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.classify(200, None, 12))  # type: ignore[arg-type]
    raises(ht.InvalidOptionError, "invalid_option", lambda: ht.classify(200, now=-1))
    raises(ht.InvalidOptionError, "invalid_option", lambda: ht.classify(200, now=float("nan")))
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.classify(200, now="now"))  # type: ignore[arg-type]
    raises(ht.InvalidOptionError, "invalid_option", lambda: ht.classify(200, method=""))
    raises(
        ht.InvalidInputError,
        "invalid_input",
        lambda: ht.classify(200, idempotency_key="yes"),  # type: ignore[arg-type]
    )
    e = raises(
        ht.InvalidOptionError,
        "invalid_option",
        lambda: ht.classify(200, rules={"codes": {"x": SECRET}}),
    )
    assert e.option == "rules"
    raises(ht.UnknownNameError, "unknown_name", lambda: ht.classify_transport(SECRET))


def test_bad_options_name_the_option() -> None:
    e = raises(ht.InvalidOptionError, "invalid_option", lambda: ht.RetryPolicy(max_attempts=0))
    assert e.option == "max_attempts"
    e = raises(ht.InvalidOptionError, "invalid_option", lambda: ht.RetryPolicy(nope=1))
    assert e.option == "nope"
    e = raises(ht.InvalidOptionError, "invalid_option", lambda: ht.RetryPolicy(jitter=SECRET))
    assert e.option == "jitter"
    e = raises(ht.InvalidOptionError, "invalid_option", lambda: ht.RetryPolicy(base_delay=-1))
    assert e.option == "base_delay"
    e = raises(ht.InvalidOptionError, "invalid_option", lambda: ht.Pacer(beta=2.0))
    assert e.option == "beta"
    e = raises(
        ht.InvalidOptionError, "invalid_option", lambda: ht.CircuitBreaker(failure_ratio=7.0)
    )
    assert e.option == "failure_ratio"
    raises(ht.InvalidOptionError, "invalid_option", lambda: ht.report(ht.Replay(), alert_rate=2.0))


def test_bad_snapshots() -> None:
    raises(ht.InvalidSnapshotError, "invalid_snapshot", lambda: ht.RateGate.restore({"v": SECRET}))
    raises(
        ht.InvalidSnapshotError,
        "invalid_snapshot",
        lambda: ht.Pacer.restore({**ht.Pacer().snapshot(), "version": 99}),
    )
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.RateGate.restore(object()))  # type: ignore[arg-type]


def test_bad_ledger_lines() -> None:
    raises(ht.LedgerError, "empty_line", lambda: ht.parse_ledger_line("  "))
    raises(ht.LedgerError, "json", lambda: ht.parse_ledger_line('{"v":1,'))
    raises(
        ht.LedgerError,
        "empty_item",
        lambda: ht.parse_ledger_line('{"v":1,"item":"","outcome":"done","at_ms":1}'),
    )
    raises(ht.UnknownNameError, "unknown_name", lambda: ht.ledger_line("a", "finished"))  # type: ignore[arg-type]
    raises(ht.InvalidOptionError, "invalid_option", lambda: ht.ledger_line("", "done"))


def test_wrong_object_where_a_classification_goes() -> None:
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.RetryPolicy().decide("429"))  # type: ignore[arg-type]
    raises(ht.InvalidInputError, "invalid_input", lambda: ht.Pacer().record({"status": 429}))  # type: ignore[arg-type]


def test_hostile_bodies_do_not_crash() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    for body in (
        deep,
        b"\xff\xfe\x00garbage",
        b'{"error":' * 10_000,
        b"<html>" * 50_000,
        b"\x00" * 10,
    ):
        for ct in ("application/json", "text/html", None):
            c = ht.classify(500, {"Content-Type": ct} if ct else None, body, now=0)
            assert c.category == "retryable"
            ht.parse_envelope(body, ct)


def test_hostile_headers_do_not_crash() -> None:
    weird = [
        ("Retry-After", "9" * 400),
        ("Retry-After", "-5"),
        ("Retry-After", "Wed, 99 Foo 99999 99:99:99 GMT"),
        ("X-RateLimit-Reset", "1e309"),
        ("RateLimit", "limit=10, remaining=0, reset=" + "9" * 50),
        ("\udcff", "x"),
    ]
    for pair in weird:
        with contextlib.suppress(ht.HttpTriageError):
            ht.read_headers([pair], now=0)


def test_wrong_types_everywhere_are_invalid_input() -> None:
    r = ht.Replay()
    for f in (
        lambda: ht.parse_ledger_line(5),  # type: ignore[arg-type]
        lambda: ht.Replay.from_text(b"x"),  # type: ignore[arg-type]
        lambda: r.push_line("1", "x"),  # type: ignore[arg-type]
        lambda: r.should_run(3),  # type: ignore[arg-type]
        lambda: r.should_run("a", 1),  # type: ignore[arg-type]
        lambda: ht.classify_line(None),  # type: ignore[arg-type]
        lambda: ht.Classification.from_parts("retryable", "server_error", code=5),  # type: ignore[arg-type]
        lambda: ht.Pacer().acquire("soon"),  # type: ignore[arg-type]
        lambda: ht.RateGate().close_for([1]),  # type: ignore[arg-type]
    ):
        raises(ht.InvalidInputError, "invalid_input", f)
