"""The shared vectors (tests/vectors/*.json) through the Python API.

A port of core/tests/vectors/*.rs: every file, every suite; a suite, input field, step op or
expected field this runner does not know is a failure, and the number of cases run must equal
the number of cases in the files (so nothing can be skipped silently).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import http_triage as ht
import pytest

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
DEFAULT_NOW_S = 1_763_800_000
MAX_TIMES = 1_000_000

Json = Any


class Mismatch(Exception):
    pass


# ---- helpers (main.rs) ----


def json_eq(a: Json, b: Json) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, num) and isinstance(b, num):
        return abs(a - b) <= 1e-9 * max(abs(a), 1.0)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and json_eq(v, b[k]) for k, v in a.items())
    return bool(a == b) and type(a) is type(b)


def compare(expect: Json, actual: dict[str, Json]) -> None:
    if not isinstance(expect, dict):
        raise Mismatch("expect must be an object")
    for k, want in expect.items():
        if k not in actual:
            raise Mismatch(f"unknown expect field `{k}` (known: {sorted(actual)})")
        if not json_eq(want, actual[k]):
            raise Mismatch(f"`{k}`: expected {want!r}, got {actual[k]!r}")


def only_keys(obj: dict[str, Json], allowed: list[str]) -> None:
    for k in obj:
        if k not in allowed:
            raise Mismatch(f"unknown input field `{k}`")


def take_body(inp: dict[str, Json]) -> bytes | None:
    out: bytes | None = None
    if "body" in inp:
        v = inp.pop("body")
        if isinstance(v, str):
            out = v.encode()
        elif v is not None:
            raise Mismatch("body must be a string")
    if "body_hex" in inp:
        v = "".join(inp.pop("body_hex").split())
        out = bytes.fromhex(v)
    if "body_repeat" in inp:
        o = inp.pop("body_repeat")
        for k in o:
            if k not in ("prefix", "unit", "count", "suffix", "suffix_unit"):
                raise Mismatch(f"unknown body_repeat key `{k}`")
        n = o["count"]
        out = (
            o.get("prefix", "")
            + o.get("unit", "") * n
            + o.get("suffix_unit", "") * n
            + o.get("suffix", "")
        ).encode()
    return out


def header_list(v: Json) -> list[tuple[str, str]]:
    """Headers as the vectors give them; non-string values as the wire contract reads them."""

    def text(x: Json) -> str:
        if isinstance(x, str):
            return x
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, (int, float)):
            return json.dumps(x)
        raise Mismatch("a header value must be a string")

    if v is None:
        return []
    if isinstance(v, dict):
        return [(k, text(x)) for k, x in v.items()]
    if isinstance(v, list):
        out = []
        for p in v:
            if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)):
                raise Mismatch("a header pair is [name, value]")
            out.append((p[0], text(p[1])))
        return out
    raise Mismatch("headers must be an object or a list of pairs")


def ms(seconds: float | None) -> int | None:
    """Seconds from the API → the vectors' integer milliseconds (truncated, as Rust's as_millis)."""
    if seconds is None:
        return None
    r = seconds * 1000.0
    n = round(r)
    return n if abs(r - n) < 1e-3 else math.floor(r)


def secs(ms_value: int | None) -> float | None:
    return None if ms_value is None else ms_value / 1000.0


# ---- classify ----

WIRE_KEYS = [
    "status",
    "transport_error",
    "headers",
    "body",
    "method",
    "idempotency_key",
    "now",
    "rules",
]


def classify_input(inp: Json) -> ht.Classification:
    if not isinstance(inp, dict):
        raise Mismatch("input must be an object")
    m = dict(inp)
    body = take_body(m)
    only_keys(m, WIRE_KEYS)
    method = m.get("method")
    key = bool(m.get("idempotency_key") or False)
    if m.get("transport_error") is not None:
        if m.get("status") is not None:
            raise Mismatch("give `status` or `transport_error`, not both")
        return ht.classify_transport(m["transport_error"], method=method, idempotency_key=key)
    now = m.get("now")
    return ht.classify(
        m["status"],
        header_list(m.get("headers")),
        body,
        method=method,
        idempotency_key=key,
        now=DEFAULT_NOW_S if now is None else now,
        rules=m.get("rules"),
    )


def run_classify(inp: Json, expect: Json) -> None:
    c = classify_input(inp)
    actual = {
        "category": c.category.value,
        "reason": c.reason,
        "code": c.code,
        "message": c.message,
        "request_id": c.request_id,
        "retryable_hint": c.retryable_hint,
        # The attribute keeps the core's nanoseconds (53.372318178); the vectors' seconds are
        # the wire's, to the millisecond (53.372), as `ms` reads the envelope's wait.
        "retry_after_seconds": secs(ms(c.retry_after)),
        "violations": [{"field": v.field, "message": v.message} for v in c.violations],
        "dialect": c.dialect,
        "request_not_processed": c.request_not_processed,
        "reference_id": c.reference_id,
    }
    assert isinstance(c.category, ht.Category)
    # to_dict() is the CLI's output line: the same keys, and (for text bodies, which the wire
    # can carry) the very line `http-triage classify` prints.
    d = c.to_dict()
    for k, v in d.items():
        if not json_eq(actual[k], v):
            raise Mismatch(f"to_dict `{k}` = {v!r} differs from the attribute {actual[k]!r}")
    if not any(k in inp for k in ("body_hex", "body_repeat")):
        line = json.loads(ht.classify_line(json.dumps(inp), 1, DEFAULT_NOW_S))
        if "error" not in line and line != d:
            raise Mismatch(f"to_dict {d} differs from classify_line {line}")
    compare(expect, actual)


# ---- headers ----


def run_headers(inp: Json, expect: Json) -> None:
    only_keys(inp, ["headers", "now"])
    now = inp.get("now")
    h = ht.read_headers(header_list(inp.get("headers")), now=DEFAULT_NOW_S if now is None else now)
    actual = {
        "retry_after_ms": ms(h.retry_after),
        "rate_limit_reset_ms": ms(h.rate_limit_reset),
        "rate_limit_remaining": h.rate_limit_remaining,
        "should_retry": h.should_retry,
        "request_id": h.request_id,
        "content_type": h.content_type,
    }
    # Read by cores with the pacer's header windows; absent attributes stay unknown fields.
    if hasattr(h, "rate_limit_limit"):
        actual["rate_limit_limit"] = h.rate_limit_limit
    if hasattr(h, "rate_limit_window"):
        actual["rate_limit_window_ms"] = ms(h.rate_limit_window)
    compare(expect, actual)


# ---- envelope ----


def run_envelope(inp: Json, expect: Json) -> None:
    m = dict(inp)
    body = take_body(m) or b""
    only_keys(m, ["content_type", "limits"])
    ct = m.get("content_type")
    if ct is not None and not isinstance(ct, str):
        raise Mismatch("content_type must be a string or null")
    limits = m.get("limits") or {}
    only_keys(limits, ["max_body_bytes", "max_depth"])
    e = ht.parse_envelope(
        body, ct, max_body_bytes=limits.get("max_body_bytes"), max_depth=limits.get("max_depth")
    )
    actual = {
        "dialect": e.dialect,
        "code": e.code,
        "message": e.message,
        "details": e.details,
        "request_id": e.request_id,
        "reference_id": e.reference_id,
        "retryable": e.retryable,
        "retry_after_ms": ms(e.retry_after),
        "violations": [{"field": v.field, "message": v.message} for v in e.violations],
        "signals_error": e.signals_error,
        "in_progress": e.in_progress,
    }
    compare(expect, actual)


# ---- decide, backoff ----


def policy(v: Json) -> ht.RetryPolicy:
    return ht.RetryPolicy() if v is None else ht.RetryPolicy.from_config(v)


def random_of(inp: dict[str, Json]) -> float:
    if "random" not in inp:
        raise Mismatch("`random` is required: decisions take their randomness as an argument")
    r = inp["random"]
    assert isinstance(r, (int, float))
    return float(r)


def run_decide(inp: Json, expect: Json) -> None:
    only_keys(inp, ["response", "policy", "attempt", "random"])
    c = classify_input(inp["response"])
    p = policy(inp.get("policy"))
    if "attempt" in inp:
        a = inp["attempt"]
        only_keys(
            a, ["number", "polls", "elapsed_ms", "now_ms", "previous_delay_ms", "rate_limited"]
        )
        # Attempt's serde defaults: every field 0 / None.
        kwargs: dict[str, Any] = {
            "attempt": a.get("number", 0),
            "polls": a.get("polls", 0),
            "elapsed": a.get("elapsed_ms", 0) / 1000,
            "now": a.get("now_ms", 0) / 1000,
            "previous_delay": secs(a.get("previous_delay_ms")),
            "rate_limited": a.get("rate_limited", 0),
        }
    else:
        kwargs = {"attempt": 1, "now": 0.0}
    d = p.decide(c, random=random_of(inp), **kwargs)
    actual: dict[str, Json] = {
        "decision": d.action,
        "category": c.category.value,
        "reason": c.reason,
        "delay_ms": ms(d.delay),
        "source": d.source,
        "give_up_reason": d.give_up_reason,
        "stop_reason": d.stop_reason,
        "resume_at_ms": ms(d.resume_at),
    }
    compare(expect, actual)


def run_backoff(inp: Json, expect: Json) -> None:
    only_keys(inp, ["policy", "attempt", "previous_delay_ms", "random"])
    p = policy(inp.get("policy"))
    d = p.backoff(inp["attempt"], secs(inp.get("previous_delay_ms")), random_of(inp))
    compare(expect, {"delay_ms": ms(d)})


# ---- state machines (machines.rs) ----


def build(make: Callable[[], Any], expect: Json) -> Any:
    for k in expect:
        if k not in ("error", "option"):
            raise Mismatch(f"unknown case expect field `{k}`")
    try:
        m = make()
    except ht.HttpTriageError as e:
        if not expect:
            raise Mismatch(f"unexpected error: {e}") from e
        actual = {
            "error": e.code,
            "option": e.option if isinstance(e, ht.InvalidOptionError) else None,
        }
        compare(expect, actual)
        return None
    if "error" in expect:
        raise Mismatch(f"expected error {expect['error']}, but the machine was built")
    return m


class Step:
    def __init__(self, index: int, v: Json) -> None:
        if not isinstance(v, dict) or not isinstance(v.get("op"), str):
            raise Mismatch("a step needs an `op` string")
        self.index = index
        self.op: str = v["op"]
        self.args: dict[str, Json] = v

    def only(self, keys: list[str]) -> None:
        for k in self.args:
            if k not in ("op", "expect", "note") and k not in keys:
                raise Mismatch(f"unknown field `{k}` for op `{self.op}`")

    def u64(self, key: str) -> int:
        v = self.args.get(key)
        if not isinstance(v, int) or v < 0:
            raise Mismatch(f"op `{self.op}` needs `{key}`")
        return v

    def now(self) -> Fraction:
        # Exact: the gate_saturation vectors sit at the end of the u64 millisecond clock.
        return Fraction(self.u64("at_ms"), 1000)

    def times(self) -> int:
        n = self.args.get("times", 1)
        if not isinstance(n, int) or not 1 <= n <= MAX_TIMES:
            raise Mismatch(f"`times` must be in 1..={MAX_TIMES}")
        return n

    def classification(self) -> ht.Classification:
        extra: dict[str, Any] = {}
        if "rate_limit_limit" in self.args:
            extra["rate_limit_limit"] = self.args["rate_limit_limit"]
        for k in ("rate_limit_reset", "rate_limit_window"):
            if k + "_ms" in self.args:
                extra[k] = secs(self.args[k + "_ms"])
        return ht.Classification.from_parts(
            self.args["category"],
            self.args["reason"],
            status=self.args.get("status"),
            retry_after=secs(self.args.get("retry_after_ms")),
            rate_limit_remaining=self.args.get("rate_limit_remaining"),
            **extra,
        )

    def check(self, actual: dict[str, Json]) -> None:
        if "expect" in self.args:
            try:
                compare(self.args["expect"], actual)
            except Mismatch as e:
                raise Mismatch(f"step {self.index} (`{self.op}`): {e}") from None


CLASSIFICATION_KEYS = ["category", "reason", "status", "retry_after_ms", "rate_limit_remaining"]
# The pacer's record steps also give the rate-limit window the headers described.
PACER_CLASSIFICATION_KEYS = ["rate_limit_limit", "rate_limit_reset_ms", "rate_limit_window_ms"]


def split_input(inp: Json, allowed: list[str]) -> tuple[dict[str, Json], list[Json]]:
    only_keys(inp, allowed)
    steps = inp.get("steps", [])
    if not isinstance(steps, list):
        raise Mismatch("steps must be an array")
    return dict(inp.get("config", {})), steps


def through_json(snapshot: dict[str, Json]) -> dict[str, Json]:
    out: dict[str, Json] = json.loads(json.dumps(snapshot))
    return out


def restore_step(step: Step, restore: Callable[[Json], Any]) -> tuple[dict[str, Json], Any]:
    step.only(["snapshot"])
    try:
        m = restore(step.args["snapshot"])
    except ht.HttpTriageError as e:
        return {"error": e.code}, None
    return {"error": None}, m


def run_breaker(inp: Json, expect: Json) -> None:
    config, steps = split_input(inp, ["config", "steps"])
    b = build(lambda: ht.CircuitBreaker(**config), expect)
    if b is None:
        return

    def observe(now: Fraction) -> dict[str, Json]:
        return {"state": b.state(now), "until_ms": ms(b.open_until(now))}

    for i, v in enumerate(steps):
        s = Step(i, v)
        if s.op == "admit":
            s.only(["at_ms"])
            admission, retry_at = b.try_admit(s.now())
            actual = observe(s.now())
            actual.update(admission=admission, retry_at_ms=ms(retry_at))
        elif s.op in ("success", "failure", "neutral", "record"):
            if s.op == "failure":
                s.only(["at_ms", "times", "retry_after_ms"])
            elif s.op == "record":
                s.only(["at_ms", "times", *CLASSIFICATION_KEYS])
            else:
                s.only(["at_ms", "times"])
            now = s.now()
            c = s.classification() if s.op == "record" else None
            retry_after = secs(s.args.get("retry_after_ms"))
            for _ in range(s.times()):
                if s.op == "success":
                    b.on_success(now)
                elif s.op == "failure":
                    b.on_failure(now, retry_after)
                elif c is not None:
                    b.record(c, now)
                else:
                    b.on_neutral(now)
            actual = observe(now)
        elif s.op == "state":
            s.only(["at_ms"])
            actual = observe(s.now())
        elif s.op == "snapshot":
            s.only([])
            actual = b.snapshot()
        elif s.op == "snapshot_restore":
            s.only([])
            b = ht.CircuitBreaker.restore(through_json(b.snapshot()), **config)
            actual = {}
        elif s.op == "restore":
            actual, r = restore_step(s, lambda snap: ht.CircuitBreaker.restore(snap, **config))
            b = r or b
        else:
            raise Mismatch(f"step {i}: unknown breaker op `{s.op}`")
        s.check(actual)


def run_budget(inp: Json, expect: Json) -> None:
    config, steps = split_input(inp, ["config", "steps"])
    b = build(lambda: ht.RetryBudget(**config), expect)
    if b is None:
        return

    def observe() -> dict[str, Json]:
        return {"can_retry": b.can_retry, "tokens": b.tokens}

    for i, v in enumerate(steps):
        s = Step(i, v)
        if s.op in ("success", "failure"):
            s.only(["times"])
            for _ in range(s.times()):
                b.on_success() if s.op == "success" else b.on_failure()
            actual = observe()
        elif s.op == "record":
            s.only(["times", *CLASSIFICATION_KEYS])
            c = s.classification()
            for _ in range(s.times()):
                b.record(c)
            actual = observe()
        elif s.op == "state":
            s.only([])
            actual = observe()
        elif s.op == "snapshot":
            s.only([])
            actual = b.snapshot()
        elif s.op == "snapshot_restore":
            s.only([])
            b = ht.RetryBudget.restore(through_json(b.snapshot()), **config)
            actual = {}
        elif s.op == "restore":
            actual, r = restore_step(s, lambda snap: ht.RetryBudget.restore(snap, **config))
            b = r or b
        else:
            raise Mismatch(f"step {i}: unknown budget op `{s.op}`")
        s.check(actual)


def run_gate(inp: Json, expect: Json) -> None:
    _, steps = split_input(inp, ["steps"])
    g = build(ht.RateGate, expect)
    if g is None:
        return

    def observe(now: Fraction) -> dict[str, Json]:
        return {
            "open": g.is_open(now),
            "wait_ms": ms(g.wait(now)),
            "reopens_at_ms": ms(g.reopens_at),
        }

    for i, v in enumerate(steps):
        s = Step(i, v)
        if s.op == "close_for":
            s.only(["at_ms", "delay_ms"])
            g.close_for(Fraction(s.u64("delay_ms"), 1000), s.now())
            actual = observe(s.now())
        elif s.op == "record":
            s.only(["at_ms", *CLASSIFICATION_KEYS])
            g.record(s.classification(), s.now())
            actual = observe(s.now())
        elif s.op == "wait":
            s.only(["at_ms"])
            actual = observe(s.now())
        elif s.op == "snapshot":
            s.only([])
            actual = g.snapshot()
        elif s.op == "snapshot_restore":
            s.only([])
            g = ht.RateGate.restore(through_json(g.snapshot()))
            actual = {}
        elif s.op == "restore":
            actual, r = restore_step(s, ht.RateGate.restore)
            g = r or g
        else:
            raise Mismatch(f"step {i}: unknown gate op `{s.op}`")
        s.check(actual)


def run_pacer(inp: Json, expect: Json) -> None:
    """Suite `pacer` (machines.rs `run_pacer_case`): ops `acquire` (`at_ms`, `times`; reports
    `send_at_ms` as a list), `record` (`at_ms`, the classification args, `sent_ms`, `times`),
    `state`, and the snapshot ops. Every op reports `rate`, `pace`, `wait_ms`, `cuts` and
    `measured_rate`."""
    config, steps = split_input(inp, ["config", "steps"])
    p = build(lambda: ht.Pacer(**config), expect)
    if p is None:
        return

    def observe(now: Fraction) -> dict[str, Json]:
        return {
            "rate": p.rate,
            "pace": p.pace(now),
            "wait_ms": ms(p.wait(now)),
            "cuts": p.cuts,
            "measured_rate": p.measured_rate(now),
        }

    for i, v in enumerate(steps):
        s = Step(i, v)
        if s.op == "acquire":
            s.only(["at_ms", "times"])
            sends = [ms(p.acquire(s.now())) for _ in range(s.times())]
            actual = observe(s.now())
            actual["send_at_ms"] = sends
        elif s.op == "record":
            s.only(["at_ms", "times", "sent_ms", *CLASSIFICATION_KEYS, *PACER_CLASSIFICATION_KEYS])
            c = s.classification()
            sent = s.args.get("sent_ms")
            for _ in range(s.times()):
                if sent is None:
                    p.record(c, s.now())
                else:
                    p.record_sent(c, Fraction(sent, 1000), s.now())
            actual = observe(s.now())
        elif s.op == "state":
            s.only(["at_ms"])
            actual = observe(s.now())
        elif s.op == "snapshot":
            s.only([])
            actual = p.snapshot()
        elif s.op == "snapshot_restore":
            s.only([])
            p = ht.Pacer.restore(through_json(p.snapshot()))
            actual = {}
        elif s.op == "restore":
            actual, r = restore_step(s, ht.Pacer.restore)
            p = r or p
        else:
            raise Mismatch(f"step {i}: unknown pacer op `{s.op}`")
        s.check(actual)


# ---- ledger ----

RECORD_OPTIONAL = [
    "category",
    "reason",
    "code",
    "status",
    "request_id",
    "message",
    "started_at_ms",
    "host",
    "output",
    "resume_at_ms",
    "idempotency_key",
    "extension",
]


def run_ledger_line(line: str, expect: dict[str, Json]) -> None:
    actual: dict[str, Json] = {}
    try:
        rec = ht.parse_ledger_line(line)
    except ht.LedgerError as e:
        actual.update(ok=False, error=e.code)
        compare(expect, actual)
        return
    actual.update(ok=True, error=None)
    to_line = ht.ledger_line_from_record(rec)
    if ht.parse_ledger_line(to_line) != rec:
        raise Mismatch("to_line does not round-trip")
    actual["to_line"] = to_line
    if "record" in expect:
        want = expect.pop("record")
        got = dict(rec)
        for k in RECORD_OPTIONAL:
            got.setdefault(k, None)
        try:
            compare(want, got)
        except Mismatch as e:
            raise Mismatch(f"record: {e}") from None
    compare(expect, actual)


def run_ledger(inp: Json, expect: Json) -> None:
    only_keys(inp, ["line", "lines", "text", "items", "retry_quarantined", "options"])
    expect = dict(expect)
    if "line" in inp:
        if len(inp) != 1:
            raise Mismatch("`line` cases take no other input")
        run_ledger_line(inp["line"], expect)
        return
    if ("lines" in inp) == ("text" in inp):
        raise Mismatch("give exactly one of `lines` and `text`")
    if "lines" in inp:
        text = ""
        for line in inp["lines"]:
            if isinstance(line, str):
                text += line
            elif isinstance(line, dict):
                text += json.dumps(line, separators=(",", ":"), ensure_ascii=False)
            else:
                raise Mismatch("a line is a string or an object")
            text += "\n"
    else:
        text = inp["text"]
    retry_quarantined = inp.get("retry_quarantined", False)
    items = inp.get("items")
    replay = ht.Replay.from_text(text)
    rep = ht.report(replay, **inp.get("options", {}))
    actual: dict[str, Json] = {
        "done": replay.done,
        "quarantined": replay.quarantined,
        "deferred": replay.deferred,
        "stopped": replay.stopped,
        "in_flight": replay.in_flight,
        "torn_tail": replay.torn_tail,
        "bad_lines": replay.bad_lines,
        "recovered_lines": replay.recovered_lines,
        "records": replay.records,
        "items": replay.items,
        "resume_at_ms": {i: ms(replay.resume_at(i)) for i in replay.deferred},
    }
    if items is not None:
        actual["to_run"] = [i for i in items if replay.should_run(i, retry_quarantined)]
        actual["attempts"] = {i: replay.attempts_so_far(i) for i in items}
    elif retry_quarantined:
        raise Mismatch("retry_quarantined needs `items`")
    d = rep.to_dict()
    actual["clusters"] = [f"{c['kind']}:{c['key']}" for c in d["correlated"]]
    actual["remedies"] = {r["reason"]: r["kind"] for r in d["remedies"]}
    if "report" in expect:
        try:
            compare(expect.pop("report"), d)
        except Mismatch as e:
            raise Mismatch(f"report: {e}") from None
        text_report = rep.render_text()
        for q in d["quarantined_items"]:
            if q["item"] not in text_report:
                raise Mismatch(f"render_text does not list {q['item']}")
    compare(expect, actual)


RUNNERS: dict[str, Callable[[Json, Json], None]] = {
    "envelope": run_envelope,
    "headers": run_headers,
    "classify": run_classify,
    "decide": run_decide,
    "backoff": run_backoff,
    "breaker": run_breaker,
    "budget": run_budget,
    "gate": run_gate,
    "pacer": run_pacer,
    "ledger": run_ledger,
}


def vector_files() -> list[Path]:
    return sorted(VECTORS.glob("*.json"))


def cases_in_files() -> int:
    """The Rust runner's total: every case of every file."""
    return sum(len(json.loads(f.read_text())["cases"]) for f in vector_files())


def test_shared_vectors(capsys: pytest.CaptureFixture[str]) -> None:
    files = vector_files()
    assert files, f"no vector files in {VECTORS}"
    ran = 0
    per_suite: Counter[str] = Counter()
    failures: list[str] = []
    for f in files:
        doc = json.loads(f.read_text())
        assert isinstance(doc, dict), f"{f.name}: a vector file is an object"
        for k in doc:
            assert k in ("suite", "description", "cases"), f"{f.name}: unknown top-level key `{k}`"
        suite = doc["suite"]
        run = RUNNERS.get(suite)
        assert run is not None, f"{f.name}: unknown suite `{suite}`"
        names: set[str] = set()
        for case in doc["cases"]:
            for k in case:
                assert k in ("name", "input", "expect", "note"), f"{f.name}: unknown case key `{k}`"
            name = case["name"]
            assert name not in names, f"{f.name}: duplicate case name `{name}`"
            names.add(name)
            ran += 1
            per_suite[suite] += 1
            try:
                run(case.get("input", {}), case.get("expect", {}))
            except Exception as e:  # a failure, whatever its kind, is reported with its case
                failures.append(f"{f.name} / {name}: {type(e).__name__}: {e}")
    summary = (
        f"shared vectors (Python): ran {ran} cases from {len(files)} files: "
        f"{dict(sorted(per_suite.items()))}"
    )
    with capsys.disabled():  # the count is part of what this runner reports, pass or fail
        print(summary)
    assert not failures, f"{len(failures)} of {ran} vector cases failed:\n" + "\n".join(failures)
    assert ran == cases_in_files(), f"ran {ran} cases, the files hold {cases_in_files()}"


@pytest.mark.parametrize("suite", sorted(RUNNERS))
def test_unknown_fields_fail(suite: str) -> None:
    """The runner itself refuses what it does not know (so a vector cannot pass by being ignored)."""
    inputs: dict[str, Json] = {
        "envelope": {"body": "{}", "surprise": 1},
        "headers": {"headers": {}, "surprise": 1},
        "classify": {"status": 200, "surprise": 1},
        "decide": {"response": {"status": 200}, "random": 0.5, "surprise": 1},
        "backoff": {"attempt": 1, "random": 0.5, "surprise": 1},
        "breaker": {"steps": [{"op": "explode", "at_ms": 0}]},
        "budget": {"steps": [{"op": "explode"}]},
        "gate": {"steps": [{"op": "explode"}]},
        "pacer": {"steps": [{"op": "explode"}]},
        "ledger": {"text": "", "surprise": 1},
    }
    with pytest.raises(Mismatch):
        RUNNERS[suite](inputs[suite], {})
    if suite in ("headers", "classify", "envelope"):
        ok_input = {"headers": {}} if suite == "headers" else {"status": 200}
        if suite == "envelope":
            ok_input = {"body": "{}"}
        with pytest.raises(Mismatch):
            RUNNERS[suite](ok_input, {"no_such_field": 1})
