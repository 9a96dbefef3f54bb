"""Fixtures of the adapter, batch and CLI tests: the real ``http-triage serve`` on loopback.

The binary is ``$HTTP_TRIAGE_BIN`` (scripts/test-python.sh builds it), else
``target/debug/http-triage``, built with ``cargo build -p http-triage --features cli`` when
missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import http_triage
import pytest

REPO = Path(__file__).resolve().parents[2]
KEY = "test-key-0123456789"


def triage_bin() -> Path:
    env = os.environ.get("HTTP_TRIAGE_BIN")
    if env:
        return Path(env)
    path = REPO / "target" / "debug" / "http-triage"
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "-p", "http-triage", "--features", "cli"], cwd=REPO, check=True
        )
    return path


class Serve:
    """A running ``http-triage serve``."""

    def __init__(self, *flags: str) -> None:
        env = dict(os.environ, HTTP_TRIAGE_SERVE_KEY=KEY)
        self.proc = subprocess.Popen(
            [str(triage_bin()), "serve", "--port", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.kill()
            raise RuntimeError(f"serve did not start: {line!r} {err}")
        self.base = line.split()[-1].strip()
        # Keep draining stderr so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        if self.proc.stderr is not None:
            for _ in self.proc.stderr:
                pass

    @property
    def url(self) -> str:
        """The conversion endpoint."""
        return f"{self.base}/v1/convert?target=jpg"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEY}"}

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}/stats", timeout=5) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


ServeFactory = Callable[..., Serve]


@pytest.fixture
def serve() -> Iterator[ServeFactory]:
    """``serve(*flags)`` starts a server (stopped after the test)."""
    started: list[Serve] = []

    def start(*flags: str) -> Serve:
        s = Serve(*flags)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


_FATES: dict[tuple[tuple[str, ...], int], bytes] = {}


def content_with_fate(flags: tuple[str, ...], status: int | None) -> bytes:
    """Bytes whose first answer from a server started with ``flags`` has ``status`` (``None``:
    a dropped connection). A probe server with the same flags finds them (a file's fate is a
    hash of the seed and its bytes, so a fresh server treats them the same way)."""
    key = (flags, -1 if status is None else status)
    if key in _FATES:
        return _FATES[key]
    import httpx

    # Only the seed and the rates fix a fate: the probe needs no rate limit and short hangs.
    kept: list[str] = []
    skip = False
    for f in flags:
        if skip:
            skip = False
        elif f in ("--rate-limit", "--hang-ms", "--latency-ms"):
            skip = True
        else:
            kept.append(f)
    probe = Serve(*kept, "--rate-limit", "0", "--hang-ms", "50")
    try:
        with httpx.Client(timeout=5) as client:
            for i in range(400):
                data = f"probe file {i}\n".encode() * 8
                try:
                    r = client.post(probe.url, content=data, headers=probe.headers)
                    got: int | None = r.status_code
                except httpx.TransportError:
                    got = None
                if got == status:
                    _FATES[key] = data
                    return data
    finally:
        probe.stop()
    raise RuntimeError(f"no content with first answer {status} under {flags}")


@pytest.fixture(autouse=True)
def _waits_on() -> Iterator[None]:
    http_triage.set_testing(False)
    yield
    http_triage.set_testing(False)


def python_cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``python -m http_triage ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "http_triage", *args], capture_output=True, text=True, **kwargs
    )
