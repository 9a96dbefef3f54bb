"""The keyword API of ``classify``: a plain forwarder to the native function.

The native function takes its arguments by position only: under the 3.9 stable ABI, PyO3 reads
every keyword name into a new UTF-8 buffer, which would cost more than the classification.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _native

if TYPE_CHECKING:
    # Aliases of the stubs only.
    from ._native import Classification, _BodyLike, _HeadersLike, _Seconds

__all__ = ["classify"]


def classify(
    status: int,
    headers: _HeadersLike | None = None,
    body: _BodyLike | None = None,
    *,
    method: str | None = None,
    idempotency_key: bool | None = None,
    now: _Seconds | None = None,
    rules: Mapping[str, Mapping[Any, str]] | None = None,
) -> Classification:
    """Classify a response from its parts.

    ``headers``: a dict, (name, value) pairs, ``requests``/``httpx`` headers, anything with
    ``.items()``. ``body``: bytes, bytearray, memoryview or str. ``method``: None means unknown
    (treated as safe to repeat). ``idempotency_key``: whether the request carried one. ``now``:
    Unix seconds for HTTP-date Retry-After values (default: the system clock). ``rules``:
    ``{"status": {409: "retryable"}, "codes": {"locked": "pending"}}``.
    """
    return _native.classify(status, headers, body, method, idempotency_key, now, rules)
