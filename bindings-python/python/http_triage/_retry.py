"""The retry loop the adapters share, as a small state machine with no IO of its own.

Every decision comes from the core: a response or a transport error is classified
(``classify`` / ``classify_error``), recorded in the host's pacer, breaker and budget, and
``RetryPolicy.decide`` says what to do next. This module only keeps the counts the policy
asks for (attempt number, polls, rate-limited answers, the previous backoff), turns the
decision into a wait, and reports each decision to the ``on_decision`` hook. The sync and
async adapters drive it with their own sleeps.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from ._events import CircuitOpenError, DecisionEvent, OnDecision, is_testing
from ._native import CircuitBreaker, Classification, Pacer, RetryBudget, RetryPolicy

__all__ = ["REPEATABLE_METHODS", "Call", "Retrier", "Step", "host_key"]

#: Methods whose repetition is harmless by definition (RFC 9110 idempotent methods).
REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


def host_key(scheme: str, host: str, port: int | None) -> str:
    """``host:port``, the port always written (as the Rust driver names hosts)."""
    if port is None:
        port = 443 if scheme == "https" else 80
    return f"{host}:{port}"


@dataclasses.dataclass
class _Host:
    pacer: Pacer
    breaker: CircuitBreaker
    budget: RetryBudget


class Retrier:
    """Retry policy plus per-host state (pacer, circuit breaker, retry budget), shared by every
    adapter and thread that holds it.

    ``policy`` is a :class:`RetryPolicy` (default options when ``None``); ``breaker``,
    ``budget`` and ``pacer`` are keyword options of :class:`CircuitBreaker`,
    :class:`RetryBudget` and :class:`Pacer`, applied to each host's fresh state.
    ``idempotency_key``: when true, a request whose method is not repeatable (POST, PATCH) and
    that carries no ``idempotency_header`` gets one random key, the same for all its attempts.
    ``on_decision`` is called with a :class:`DecisionEvent` after every attempt.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        breaker: Mapping[str, Any] | None = None,
        budget: Mapping[str, Any] | None = None,
        pacer: Mapping[str, Any] | None = None,
        idempotency_key: bool = False,
        idempotency_header: str = "Idempotency-Key",
        on_decision: OnDecision | None = None,
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self._breaker = dict(breaker or {})
        self._budget = dict(budget or {})
        self._pacer = dict(pacer or {})
        # Fail on bad options now, not at the first request.
        CircuitBreaker(**self._breaker)
        RetryBudget(**self._budget)
        Pacer(**self._pacer)
        self.idempotency_key = idempotency_key
        self.idempotency_header = idempotency_header
        self.on_decision = on_decision
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def host(self, key: str) -> _Host:
        """The state of one host, created on first use."""
        with self._lock:
            h = self._hosts.get(key)
            if h is None:
                h = _Host(
                    pacer=Pacer(**self._pacer),
                    breaker=CircuitBreaker(**self._breaker),
                    budget=RetryBudget(**self._budget),
                )
                self._hosts[key] = h
            return h

    def new_key(self) -> str:
        """A fresh random Idempotency-Key (32 hex digits)."""
        return uuid.uuid4().hex

    def call(self, method: str, host: str, *, has_key: bool, replayable: bool = True) -> Call:
        """Start one call (all attempts of one request)."""
        return Call(self, method.upper(), host, has_key=has_key, replayable=replayable)


@dataclasses.dataclass(frozen=True)
class Step:
    """What the driver does after an attempt: ``action`` is the core's decision (or
    ``budget_exhausted``), ``delay`` the seconds to sleep before the next attempt (0 in test
    mode), ``classification`` the attempt's."""

    action: str
    delay: float
    classification: Classification
    resume_after: float | None = None
    give_up_reason: str | None = None
    stop_reason: str | None = None

    @property
    def again(self) -> bool:
        """True when the request is to be sent again (retry or poll)."""
        return self.action in ("retry", "poll")


class Call:
    """All attempts of one request. ``before_send()`` → send → ``after(classification)``."""

    def __init__(
        self, retrier: Retrier, method: str, host: str, *, has_key: bool, replayable: bool
    ) -> None:
        self.retrier = retrier
        self.method = method
        self.host = host
        self.has_key = has_key
        self.replayable = replayable
        self.state = retrier.host(host)
        self.number = 0
        self.polls = 0
        self.rate_limited = 0
        self.previous_delay: float | None = None
        self.next_is_poll = False
        self.started = time.monotonic()
        self.sent_at: float | None = None
        self._cuts: int | None = None
        self._asks = 0
        self.history: list[DecisionEvent] = []

    @property
    def attempts(self) -> int:
        """Requests sent so far."""
        return self.number + self.polls

    def before_send(self) -> float:
        """Ask the breaker, reserve a send time from the pacer; returns the seconds to wait
        before sending (0 in test mode). Raises :class:`CircuitOpenError` when the breaker
        refuses (nothing is to be sent)."""
        now = time.monotonic()
        admission = self.state.breaker.admit(now)
        if admission == "rejected":
            raise CircuitOpenError(self.host, _breaker_wait(self.state.breaker, now))
        if self.next_is_poll:
            self.polls += 1
        else:
            self.number += 1
        self._asks = 0
        return self._reserve(now)

    def recheck(self) -> float:
        """Call after sleeping the wait :meth:`before_send` returned: 0 when the send time
        stands, else the wait for a new one (a throttle cut the host's rate meanwhile, so the
        slot was paced at the old rate; asked again up to 4 times, as the Rust driver does)."""
        self._asks += 1
        if self._asks >= 4 or _cuts(self.state.pacer) == self._cuts:
            return 0.0
        return self._reserve(time.monotonic())

    def _reserve(self, now: float) -> float:
        pacer = self.state.pacer
        at = pacer.acquire(now)
        self.sent_at = at
        self._cuts = _cuts(pacer)
        return 0.0 if is_testing() else max(0.0, at - now)

    def abandon(self) -> None:
        """The attempt ended without a classification (a bad request, a bug in a caller's
        code): the breaker forgets the admission it gave."""
        self.state.breaker.on_neutral(time.monotonic())

    def after(self, c: Classification) -> Step:
        """Record the attempt's classification in the host's state, ask the policy, report the
        decision; returns what to do."""
        now = time.monotonic()
        st = self.state
        if self.sent_at is not None:
            # One cut per round trip: the pacer needs to know when this request left.
            st.pacer.record_sent(c, self.sent_at, now)
        else:
            st.pacer.record(c, now)
        st.breaker.record(c, now)
        st.budget.record(c)
        can_retry = st.budget.can_retry
        if c.reason == "rate_limited":
            self.rate_limited += 1
        d = self.retrier.policy.decide(
            c,
            max(self.number, 1),
            polls=self.polls,
            elapsed=now - self.started,
            previous_delay=self.previous_delay,
            rate_limited=self.rate_limited,
            random=random.random(),
        )
        action: str = d.action
        delay = d.delay
        if action == "retry" and not can_retry:
            action, delay = "budget_exhausted", None
        event = DecisionEvent(
            attempt=self.attempts,
            action=action,
            category=str(c.category.value),
            reason=c.reason,
            code=c.code,
            status=c.status,
            transport_error=c.transport_error,
            delay=delay,
            source=d.source if action in ("retry", "poll", "defer") else None,
            request_id=c.request_id,
            method=self.method,
            host=self.host,
        )
        self.history.append(event)
        hook = self.retrier.on_decision
        if hook is not None:
            hook(event)
        if action == "retry":
            if d.source == "backoff":
                self.previous_delay = delay
            self.next_is_poll = False
        elif action == "poll":
            self.next_is_poll = True
        wait = 0.0 if (is_testing() or delay is None) else max(0.0, delay)
        return Step(
            action=action,
            delay=wait,
            classification=c,
            resume_after=delay if action == "defer" else None,
            give_up_reason=d.give_up_reason,
            stop_reason=d.stop_reason,
        )


def _cuts(pacer: Pacer) -> int:
    """How many times the pacer cut its rate."""
    return pacer.cuts


def _breaker_wait(breaker: CircuitBreaker, now: float) -> float | None:
    """Seconds until an open breaker lets a probe through."""
    until = breaker.open_until(now)
    return None if until is None else max(0.0, until - now)
