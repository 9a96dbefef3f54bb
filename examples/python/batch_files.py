"""Send every file of a folder with the crash-safe batch runner, then print the report.

Kill it at any moment and run it again: finished files are not sent again, and a file that was
in flight keeps its Idempotency-Key, so the server does not convert it twice.
Run: `HTTP_TRIAGE_URL=http://127.0.0.1:8080 python batch_files.py SRC_DIR OUT_DIR`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
from http_triage import Replay, report
from http_triage.batch import Batch, Item

URL = os.environ.get("HTTP_TRIAGE_URL", "http://127.0.0.1:8080") + "/v1/convert?target=jpg"
HEADERS = {"Authorization": "Bearer " + os.environ.get("HTTP_TRIAGE_KEY", "demo-key")}


async def send(client: httpx.AsyncClient, item: Item) -> httpx.Response:
    # The runner adds the item's Idempotency-Key and paces the host.
    return await client.post(URL, content=item.body, headers=HEADERS)


def main(src: Path, out: Path) -> int:
    items = [
        Item.from_file(
            p.relative_to(src).as_posix(), p, (out / p.relative_to(src)).with_suffix(".jpg")
        )
        for p in sorted(src.rglob("*"))
        if p.is_file()
    ]
    batch = Batch(send, state_dir=out / ".http-triage", concurrency=8, headers=HEADERS)
    summary = asyncio.run(batch.run(items))
    print(report(Replay.from_text(summary.ledger.read_text())).render_text())
    return summary.exit_status()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
