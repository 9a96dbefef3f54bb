"""An httpx client that retries by http-triage's decisions (sync and async).

The transport waits exactly as long as the server asks (Retry-After), backs off otherwise, paces
each host, gives one Idempotency-Key to all attempts of a POST, and reports every decision.
Run: `HTTP_TRIAGE_URL=http://127.0.0.1:8080 python httpx_transport.py`.
"""

from __future__ import annotations

import asyncio
import os

import httpx
from http_triage import DecisionEvent
from http_triage.httpx import AsyncTriageTransport, TriageTransport

BASE = os.environ.get("HTTP_TRIAGE_URL", "http://127.0.0.1:8080")
URL = BASE + "/v1/convert?target=jpg"
HEADERS = {"Authorization": "Bearer " + os.environ.get("HTTP_TRIAGE_KEY", "demo-key")}


def log(event: DecisionEvent) -> None:
    delay = "" if event.delay is None else f" in {event.delay:.2f}s ({event.source})"
    print(
        f"  attempt {event.attempt}: {event.status or event.transport_error} "
        f"{event.category}/{event.reason} -> {event.action}{delay}"
    )


transport = TriageTransport(idempotency_key=True, on_decision=log)
with httpx.Client(transport=transport, timeout=10) as client:
    for i in range(5):
        r = client.post(URL, content=f"file {i}\n".encode() * 10, headers=HEADERS)
        print(f"file {i}: {r.status_code}, {len(r.content)} bytes")


async def main() -> None:
    t = AsyncTriageTransport(idempotency_key=True, on_decision=log)
    async with httpx.AsyncClient(transport=t, timeout=10) as client:
        rs = await asyncio.gather(
            *(client.post(URL, content=f"async {i}\n".encode(), headers=HEADERS) for i in range(5))
        )
        print("async:", [r.status_code for r in rs])


asyncio.run(main())
