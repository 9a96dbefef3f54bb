"""The Python batch runner against the real ``http-triage serve``: as a library, through
``python -m http_triage batch``, killed with SIGKILL and resumed, and its ledger read by the Rust
``http-triage report`` (and the other way round)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import http_triage
import httpx
from conftest import KEY, ServeFactory, python_cli, triage_bin
from http_triage import Replay, parse_ledger_line
from http_triage.batch import Batch, Item, idempotency_key


def converted(data: bytes, target: str = "jpg") -> bytes:
    """What serve answers for a file (core/src/serve `converted`)."""
    digest = hashlib.sha256(data).hexdigest()
    return (
        f"http-triage converted target={target} sha256={digest} bytes={len(data)}\n".encode() + data
    )


def write_files(src: Path, n: int, seed: int = 7) -> dict[str, bytes]:
    rng = random.Random(seed)
    out: dict[str, bytes] = {}
    for i in range(n):
        rel = f"d{i % 3}/file{i:04d}.{['png', 'pdf', 'heic'][i % 3]}"
        data = f"batch file {i}\n".encode() + rng.randbytes(32 + i % 200)
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        out[rel] = data
    return out


def test_key_is_the_rust_runners() -> None:
    # The value of core/src/batch/mod.rs idempotency_key("a.png", b"x", 0), computed by hand.
    h = hashlib.sha256()
    h.update(b"a.png\0" + hashlib.sha256(b"x").digest() + b"\0" + (0).to_bytes(4, "big"))
    assert idempotency_key("a.png", b"x", 0) == h.hexdigest()[:32]
    assert idempotency_key("a.png", b"x", 0) != idempotency_key("a.png", b"x", 1)


def test_library_run_converts_quarantines_and_resumes(serve: ServeFactory, tmp_path: Path) -> None:
    s = serve("--hang-ms", "50", "--seed", "3")
    items = [
        Item.from_bytes(
            f"f{i:03d}.png", f"library item {i}\n".encode() * 4, tmp_path / "out" / f"f{i:03d}.jpg"
        )
        for i in range(80)
    ]
    events: list[http_triage.DecisionEvent] = []

    async def send(client: httpx.AsyncClient, item: Item) -> httpx.Response:
        return await client.post(s.url, content=item.body, headers=s.headers)

    http_triage.set_testing(True)
    state = tmp_path / "state"
    summary = asyncio.run(
        Batch(send, state_dir=state, concurrency=6, on_decision=events.append).run(items)
    )
    p = summary.progress
    assert p.done + p.quarantined == 80 and p.deferred == 0
    assert p.quarantined >= 1 or p.done == 80
    replay = Replay.from_text((state / "ledger.jsonl").read_text())
    for item in items:
        if replay.is_done(item.id):
            assert item.output is not None and item.output.read_bytes() == converted(
                item.data or b""
            )
    stats = s.stats()
    assert stats["duplicate_conversions"] == 0
    assert stats["conversions"] == p.done
    assert any(e.action == "retry" for e in events)

    # Resume: nothing is sent again.
    again = asyncio.run(Batch(send, state_dir=state).run(items))
    assert again.progress.skipped_done == p.done
    assert again.progress.skipped_quarantined == p.quarantined
    assert again.progress.requests == 0
    assert s.stats()["requests"] == stats["requests"]


def test_cli_batch_and_the_rust_report_agree(serve: ServeFactory, tmp_path: Path) -> None:
    s = serve("--hang-ms", "50", "--seed", "5")
    src = tmp_path / "src"
    files = write_files(src, 60)
    out = tmp_path / "out"
    env = dict(os.environ, BATCH_KEY=KEY)
    r = python_cli(
        "batch",
        str(src),
        "--url",
        s.url,
        "--out",
        str(out),
        "-H",
        "Authorization: Bearer ${BATCH_KEY}",
        "--concurrency",
        "5",
        env=env,
    )
    assert r.returncode in (0, 1), r.stderr
    assert KEY not in r.stdout + r.stderr
    ledger = out / ".http-triage" / "ledger.jsonl"
    text = ledger.read_text()
    assert KEY not in text
    for line in text.splitlines():
        rec = parse_ledger_line(line)
        assert next(iter(json.loads(line))) == "v"  # the core's canonical line
        if rec["outcome"] == "done":
            rel = rec["item"]
            assert Path(rec["output"]).read_bytes() == converted(files[rel])
    # The Rust CLI reads the Python runner's ledger and says the same as the Python CLI.
    rust = subprocess.run(
        [str(triage_bin()), "report", str(ledger.parent)], capture_output=True, text=True
    )
    py = python_cli("report", str(ledger.parent))
    assert rust.returncode == py.returncode
    assert rust.stdout == py.stdout
    rust_json = subprocess.run(
        [str(triage_bin()), "report", str(ledger), "--json"], capture_output=True, text=True
    )
    py_json = python_cli("report", str(ledger), "--json")
    assert json.loads(rust_json.stdout) == json.loads(py_json.stdout)
    # The batch's own report is the same report.
    assert py.stdout.split("\n", 1)[1].strip() in r.stdout


def test_python_report_reads_the_rust_runners_ledger(serve: ServeFactory, tmp_path: Path) -> None:
    s = serve("--hang-ms", "50", "--seed", "9", "--permanent-rate", "0.2")
    src = tmp_path / "src"
    write_files(src, 40, seed=9)
    out = tmp_path / "out"
    env = dict(os.environ, BATCH_KEY=KEY)
    rust_batch = subprocess.run(
        [
            str(triage_bin()),
            "batch",
            str(src),
            "--url",
            s.url,
            "--out",
            str(out),
            "-H",
            "Authorization: Bearer ${BATCH_KEY}",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert rust_batch.returncode == 1, rust_batch.stderr  # some quarantined
    state = out / ".http-triage"
    rust = subprocess.run([str(triage_bin()), "report", str(state)], capture_output=True, text=True)
    py = python_cli("report", str(state))
    assert py.returncode == rust.returncode == 4  # 20% failures, above the 5% alert rate
    assert py.stdout == rust.stdout
    assert python_cli("report", str(state), "--alert-rate", "0.9").returncode == 0
    assert python_cli("report", str(state), "--alert-rate", "2").returncode == 3
    assert python_cli("report", str(tmp_path / "nope")).returncode == 3

    # And the Python runner resumes the Rust runner's batch: nothing left to send.
    again = python_cli(
        "batch",
        str(src),
        "--url",
        s.url,
        "--out",
        str(out),
        "-H",
        "Authorization: Bearer ${BATCH_KEY}",
        env=env,
    )
    assert again.returncode == 1
    assert " 0 requests" in again.stderr


def test_auth_failure_stops_with_status_2(serve: ServeFactory, tmp_path: Path) -> None:
    s = serve("--permanent-rate", "0", "--transient-rate", "0")
    src = tmp_path / "src"
    write_files(src, 30)
    out = tmp_path / "out"
    r = python_cli(
        "batch",
        str(src),
        "--url",
        s.url,
        "--out",
        str(out),
        "-H",
        "Authorization: Bearer wrong-key-123",
        "--concurrency",
        "2",
    )
    assert r.returncode == 2, r.stderr
    assert "the API key was rejected (401" in r.stderr
    assert "wrong-key-123" not in r.stdout + r.stderr
    assert "wrong-key-123" not in (out / ".http-triage" / "ledger.jsonl").read_text()
    assert s.stats()["auth_failures"] <= 2


def test_usage_errors_exit_3(tmp_path: Path) -> None:
    assert (
        python_cli("batch", str(tmp_path), "--url", "ftp://x", "--out", str(tmp_path)).returncode
        == 3
    )
    assert (
        python_cli(
            "batch", str(tmp_path / "no"), "--url", "http://127.0.0.1:1/", "--out", str(tmp_path)
        ).returncode
        == 3
    )
    r = python_cli(
        "batch",
        str(tmp_path),
        "--url",
        "http://127.0.0.1:1/",
        "--out",
        str(tmp_path),
        "-H",
        "X-Key: ${NOT_SET_ANYWHERE}",
    )
    assert r.returncode == 3 and "NOT_SET_ANYWHERE" in r.stderr
    assert python_cli("batch").returncode == 3
    assert python_cli("nope").returncode == 3


def test_sigkill_and_resume_loses_nothing_and_converts_nothing_twice(
    serve: ServeFactory, tmp_path: Path
) -> None:
    s = serve("--hang-ms", "100", "--latency-ms", "15", "--seed", "11")
    src = tmp_path / "src"
    files = write_files(src, 240, seed=11)
    out = tmp_path / "out"
    env = dict(os.environ, BATCH_KEY=KEY)
    cmd = [
        sys.executable,
        "-m",
        "http_triage",
        "batch",
        str(src),
        "--url",
        s.url,
        "--out",
        str(out),
        "-H",
        "Authorization: Bearer ${BATCH_KEY}",
        "--concurrency",
        "8",
        "--timeout",
        "5",
    ]
    ledger = out / ".http-triage" / "ledger.jsonl"

    def lines() -> int:
        try:
            return ledger.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    # Kill at random points of the run's progress (not of the clock, so a fast machine cannot
    # finish first): after 5-60 more ledger lines, plus a random sub-millisecond offset.
    rng = random.Random(1234)
    kills = 0
    for _ in range(6):
        target = lines() + rng.randint(5, 60)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while lines() < target and proc.poll() is None:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.001))
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    assert kills >= 5, "the batch ended before it could be killed"
    final = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert final.returncode in (0, 1), final.stderr

    replay = Replay.from_text((out / ".http-triage" / "ledger.jsonl").read_text())
    assert replay.items == len(files)
    assert not replay.in_flight
    for rel, data in files.items():
        output = (out / rel).with_suffix(".jpg")
        if replay.is_done(rel):
            assert output.read_bytes() == converted(data)  # whole, never torn
        else:
            assert replay.outcome_of(rel) == "quarantined"
    assert not list(out.rglob("*.part"))
    stats = s.stats()
    assert stats["duplicate_conversions"] == 0
    assert stats["conversions"] == len(replay.done)


def test_quota_stops_and_resume_finishes_nothing_twice(serve: ServeFactory, tmp_path: Path) -> None:
    s = serve("--permanent-rate", "0", "--transient-rate", "0", "--quota", "10")
    src = tmp_path / "src"
    write_files(src, 25)
    out = tmp_path / "out"
    env = dict(os.environ, BATCH_KEY=KEY)
    args = ["batch", str(src), "--url", s.url, "--out", str(out)]
    args += ["-H", "Authorization: Bearer ${BATCH_KEY}", "--concurrency", "3"]
    r = python_cli(*args, env=env)
    assert r.returncode == 2, r.stderr
    assert "quota exhausted (429 quota_exceeded" in r.stderr
    replay = Replay.from_text((out / ".http-triage" / "ledger.jsonl").read_text())
    assert len(replay.done) == 10
    assert replay.stopped
    # A quota does not come back by itself: the resume stops again, converting nothing twice.
    again = python_cli(*args, env=env)
    assert again.returncode == 2
    assert s.stats()["duplicate_conversions"] == 0
    assert s.stats()["conversions"] == 10


def test_python_and_rust_runners_write_the_same_records(
    serve: ServeFactory, tmp_path: Path
) -> None:
    flags = ("--hang-ms", "50", "--seed", "21", "--permanent-rate", "0.1", "--rate-limit", "0")
    src = tmp_path / "src"
    write_files(src, 40, seed=21)
    env = dict(os.environ, BATCH_KEY=KEY)
    ledgers = {}
    for name in ("rust", "python"):
        s = serve(*flags)
        out = tmp_path / name
        args = ["batch", str(src), "--url", s.url, "--out", str(out)]
        args += ["-H", "Authorization: Bearer ${BATCH_KEY}", "--concurrency", "4"]
        if name == "rust":
            r = subprocess.run([str(triage_bin()), *args], capture_output=True, text=True, env=env)
        else:
            r = python_cli(*args, env=env)
        assert r.returncode == 1, r.stderr  # 10% permanent failures
        ledgers[name] = (out / ".http-triage" / "ledger.jsonl").read_text()

    def last_records(text: str) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for line in text.splitlines():
            rec = json.loads(line)
            out[rec["item"]] = rec
        return out

    rust, py = last_records(ledgers["rust"]), last_records(ledgers["python"])
    assert rust.keys() == py.keys()
    same = ("v", "outcome", "category", "reason", "code", "status", "attempts", "extension")
    for item, rec in rust.items():
        other = py[item]
        assert {k: rec.get(k) for k in same} == {k: other.get(k) for k in same}, item
        # The same fields are present (values such as times and paths differ).
        assert set(rec) == set(other), (item, set(rec) ^ set(other))
        # The same Idempotency-Key: derived from the item, not from the runner.
        assert rec.get("idempotency_key") == other.get("idempotency_key")
