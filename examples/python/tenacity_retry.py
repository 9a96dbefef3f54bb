"""tenacity with http-triage's retry predicate and wait strategy (Retry-After included).

Run: `HTTP_TRIAGE_URL=http://127.0.0.1:8080 python tenacity_retry.py`.
"""

from __future__ import annotations

import os
import uuid

import httpx
import tenacity
from http_triage.tenacity import Triage

URL = os.environ.get("HTTP_TRIAGE_URL", "http://127.0.0.1:8080") + "/v1/convert?target=jpg"
HEADERS = {"Authorization": "Bearer " + os.environ.get("HTTP_TRIAGE_KEY", "demo-key")}

triage = Triage(on_decision=lambda e: print(f"  {e.reason} -> {e.action} {e.delay or ''}"))


@tenacity.retry(retry=triage.retry, wait=triage.wait, sleep=triage.sleep)
def convert(data: bytes, key: str) -> httpx.Response:
    # One key for every attempt: the server answers a repeat with its stored result.
    return httpx.post(URL, content=data, headers={**HEADERS, "Idempotency-Key": key}, timeout=10)


for i in range(5):
    r = convert(f"tenacity file {i}\n".encode() * 5, uuid.uuid4().hex)
    print(f"file {i}: {r.status_code}")
