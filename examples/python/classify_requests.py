"""Classify a `requests` response: what should the caller do with it?

Run against the fake API: `http-triage serve --port 8080` in one terminal, then
`HTTP_TRIAGE_URL=http://127.0.0.1:8080 python classify_requests.py`.
"""

from __future__ import annotations

import os

import requests
from http_triage import RetryPolicy
from http_triage.requests import classify_response

URL = os.environ.get("HTTP_TRIAGE_URL", "http://127.0.0.1:8080") + "/v1/convert?target=jpg"
KEY = os.environ.get("HTTP_TRIAGE_KEY", "demo-key")

policy = RetryPolicy()
for name, key in (("good key", KEY), ("bad key", "not-the-key")):
    response = requests.post(
        URL, data=b"%PDF-1.7 hello", headers={"Authorization": f"Bearer {key}"}
    )
    c = classify_response(response)
    decision = policy.decide(c, 1)
    print(f"{name}: {response.status_code} -> {c.category.value}/{c.reason}: {decision.action}")
