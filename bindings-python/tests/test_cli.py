"""``python -m http_triage classify`` writes what ``http-triage classify`` writes."""

from __future__ import annotations

import json
import subprocess

from conftest import python_cli, triage_bin

LINES = [
    {
        "status": 429,
        "headers": {"Retry-After": "7"},
        "body": json.dumps({"error": {"code": "rate_limited", "message": "slow down"}}),
    },
    {
        "status": 422,
        "headers": [["Content-Type", "application/problem+json"], ["X-Request-Id", "r1"]],
        "body": json.dumps(
            {"type": "about:blank", "title": "bad", "status": 422, "code": "corrupted"}
        ),
    },
    {"status": 503, "headers": {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, "method": "POST"},
    {"transport_error": "connect_refused", "method": "POST"},
    {"transport_error": "timeout_after_send", "method": "POST", "idempotency_key": True},
    {"status": 401, "body": "<html><title>401 Unauthorized</title></html>"},
    {"status": 409, "rules": {"status": {"409": "retryable"}}},
    {"status": 200, "body": json.dumps({"ok": False, "error": "quota_exceeded"})},
]
BAD = ["not json", json.dumps({"status": "x"}), json.dumps({"transport_error": "nope"}), "[]"]


def run(cmd: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True)


def test_classify_output_is_the_rust_clis() -> None:
    stdin = "\n".join([json.dumps(x) for x in LINES] + [""] + BAD) + "\n"
    rust = run([str(triage_bin()), "classify", "--now", "1763800000"], stdin)
    py = python_cli("classify", "--now", "1763800000", input=stdin)
    assert rust.returncode == py.returncode == 0
    assert py.stdout == rust.stdout
    assert len(py.stdout.splitlines()) == len(LINES) + len(BAD)
    assert json.loads(py.stdout.splitlines()[0])["retry_after_seconds"] == 7
    assert "error" in json.loads(py.stdout.splitlines()[-1])


def test_classify_bad_now_is_a_usage_error() -> None:
    assert python_cli("classify", "--now", "-1", input="").returncode == 3
