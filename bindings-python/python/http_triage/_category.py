"""The category enum: what a driver should do with a call, in one word."""

from __future__ import annotations

import enum

__all__ = ["Category"]


class Category(str, enum.Enum):
    """What to do with a call. A ``str`` subclass: ``Category.RETRYABLE == "retryable"``."""

    SUCCESS = "success"
    """A 2xx/3xx that carries no error: keep the result."""
    RETRYABLE = "retryable"
    """Transient (429, 5xx, timeouts, resets): wait, try again."""
    PENDING = "pending"
    """Still processing (202, 412 + retryable): poll again after an interval."""
    PERMANENT = "permanent"
    """The request or the item is bad (400, 404, 422...): quarantine it, go on."""
    AUTH = "auth"
    """401/403, revoked key: stop the whole batch."""
    QUOTA = "quota"
    """Quota or billing exhausted: stop the whole batch."""

    def __str__(self) -> str:
        return self.value

    @property
    def stops_batch(self) -> bool:
        """True for the categories that stop a whole batch (auth, quota)."""
        return self in (Category.AUTH, Category.QUOTA)
