"""Every script in examples/python runs against the real ``http-triage serve``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import KEY, REPO, ServeFactory

EXAMPLES = REPO / "examples" / "python"


def run(script: str, base: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HTTP_TRIAGE_URL=base, HTTP_TRIAGE_KEY=KEY)
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_every_example_has_a_test() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == [
        "batch_files.py",
        "classify_requests.py",
        "httpx_transport.py",
        "tenacity_retry.py",
    ]


def test_classify_requests(serve: ServeFactory) -> None:
    s = serve("--permanent-rate", "0", "--transient-rate", "0")
    r = run("classify_requests.py", s.base)
    assert r.returncode == 0, r.stderr
    assert "good key: 200 -> success/ok: done" in r.stdout
    assert "bad key: 401 -> auth/" in r.stdout and ": stop" in r.stdout


@pytest.mark.parametrize("script", ["httpx_transport.py", "tenacity_retry.py"])
def test_retrying_clients(serve: ServeFactory, script: str) -> None:
    s = serve("--transient-rate", "0.5", "--permanent-rate", "0", "--hang-ms", "100")
    r = run(script, s.base)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": 200") >= 5
    assert s.stats()["duplicate_conversions"] == 0


def test_batch_files(serve: ServeFactory, tmp_path: Path) -> None:
    s = serve("--hang-ms", "100")
    src = tmp_path / "src"
    for i in range(30):
        (src / f"d{i % 2}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 2}" / f"f{i}.png").write_bytes(f"example {i}\n".encode() * 20)
    r = run("batch_files.py", s.base, str(src), str(tmp_path / "out"))
    assert r.returncode in (0, 1), r.stderr
    assert "items" in r.stdout.lower() or "done" in r.stdout.lower()
    assert len(list((tmp_path / "out").rglob("*.jpg"))) == s.stats()["conversions"]
    again = run("batch_files.py", s.base, str(src), str(tmp_path / "out"))
    assert again.returncode == r.returncode
