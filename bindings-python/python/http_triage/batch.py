"""The crash-safe batch runner on asyncio + httpx: the Python twin of the Rust runner
(``core/src/batch``), writing the same ledger.

.. code-block:: python

    import asyncio, httpx
    from http_triage.batch import Batch, Item

    async def send(client: httpx.AsyncClient, item: Item) -> httpx.Response:
        return await client.post(URL, content=item.body)   # the Idempotency-Key is added

    items = [Item.from_file("a.png", "in/a.png", output="out/a.jpg")]
    summary = asyncio.run(Batch(send, state_dir="out/.http-triage").run(items))

Every decision comes from the core: each attempt's response (or transport exception) is
classified, recorded in the host's pacer, breaker and budget, and ``RetryPolicy.decide`` says
retry, poll, defer, give up (quarantine) or stop. Ledger lines are built by the core
(``ledger_line``) and read back by its ``Replay``; the report is the core's.

Crash safety, as in the Rust runner:

- a ``started`` line is appended before an item's first request;
- a 2xx body goes to a temp file beside its output, is fsync'd, renamed into place, and the
  directory is fsync'd; only then is the ``done`` line appended (and fsync'd);
- the ledger is append-only, one ``write`` per line; a torn last line is cut off when the
  ledger is opened again;
- each item's Idempotency-Key is derived from the item (its id, the sha256 of its bytes and how
  many times it was quarantined before), so a request in flight at a crash and sent again on
  resume is answered by the server's replay instead of a second conversion.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import hashlib
import itertools
import os
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

from ._classify import classify
from ._events import CircuitOpenError, OnDecision, is_testing
from ._native import Classification, Replay, RetryPolicy, ledger_line, parse_ledger_line
from ._retry import Call, Retrier, Step, host_key
from ._transport import classify_error, transport_kind

__all__ = [
    "LEDGER_FILE",
    "REDACTED",
    "Batch",
    "Item",
    "Progress",
    "StopInfo",
    "Summary",
    "idempotency_key",
]

#: The ledger's file name inside a batch's state folder.
LEDGER_FILE = "ledger.jsonl"
#: What secrets are replaced with.
REDACTED = "[redacted]"

_CTX: contextvars.ContextVar[_ItemCall | None] = contextvars.ContextVar(
    "http_triage_batch_item", default=None
)
_TEMP_COUNTER = itertools.count()


def idempotency_key(item_id: str, data: bytes, generation: int) -> str:
    """An item's Idempotency-Key, as the Rust runner derives it: the first 32 hex digits of
    sha256(id, NUL, sha256(bytes), NUL, generation as 4 big-endian bytes)."""
    h = hashlib.sha256()
    h.update(item_id.encode())
    h.update(b"\0")
    h.update(hashlib.sha256(data).digest())
    h.update(b"\0")
    h.update(generation.to_bytes(4, "big"))
    return h.hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Item:
    """One unit of work: an id (unique, stable across runs), where its bytes come from (a
    ``path`` read when the item starts, or ``data``), and where a 2xx body goes (``output``;
    ``None`` discards it). ``body`` and ``idempotency_key`` are filled in by the runner for
    ``send``."""

    id: str
    path: Path | None = None
    data: bytes | None = None
    output: Path | None = None
    body: bytes = b""
    idempotency_key: str | None = None

    @classmethod
    def from_file(cls, id: str, path: str | Path, output: str | Path | None = None) -> Item:
        """An item whose body is read from ``path`` when it starts."""
        return cls(id=id, path=Path(path), output=None if output is None else Path(output))

    @classmethod
    def from_bytes(cls, id: str, data: bytes, output: str | Path | None = None) -> Item:
        """An item whose body is in memory."""
        return cls(id=id, data=data, output=None if output is None else Path(output))


Send = Callable[[httpx.AsyncClient, Item], Awaitable[httpx.Response]]


@dataclasses.dataclass
class Progress:
    """Where a batch stands (the Rust runner's counts)."""

    total: int = 0
    skipped_done: int = 0
    skipped_quarantined: int = 0
    to_run: int = 0
    finished: int = 0
    done: int = 0
    quarantined: int = 0
    deferred: int = 0
    stopped: int = 0
    not_started: int = 0
    requests: int = 0


@dataclasses.dataclass(frozen=True)
class StopInfo:
    """Why a batch stopped (auth or quota), and what to check. Holds no secret."""

    reason: str
    item: str
    status: int | None
    code: str | None
    request_id: str | None

    def message(self, where_key: str = "") -> str:
        """The message, with ``where_key`` telling where the key came from."""
        what = ""
        if self.status is not None:
            what += str(self.status)
        if self.code:
            what += (" " if what else "") + self.code
        if self.request_id:
            what += (", " if what else "") + "request id " + self.request_id
        what = f" ({what})" if what else ""
        if self.reason == "quota":
            return f"quota exhausted{what}: wait for the quota window or raise the plan"
        sep = " " if where_key else ""
        return f"the API key was rejected{what}: check the key{sep}{where_key}"


@dataclasses.dataclass
class Summary:
    """How a run ended."""

    progress: Progress
    stop: StopInfo | None
    output_error: str | None
    ledger: Path
    elapsed: float

    def all_done(self) -> bool:
        """True when every item given is done (in this run or an earlier one)."""
        p = self.progress
        return p.skipped_done + p.done == p.total

    def exit_status(self) -> int:
        """The CLI's exit status: 0 all done, 1 some quarantined or deferred, 2 stopped."""
        if self.stop is not None:
            return 2
        return 0 if self.all_done() else 1


class _Secrets:
    """Header values to keep out of everything written (the Rust runner's rule)."""

    def __init__(self, headers: Mapping[str, str], sensitive: Iterable[str] = ()) -> None:
        parts: list[str] = []
        marked = {s.lower() for s in sensitive}
        for name, value in headers.items():
            n = name.lower()
            secret = (
                n in marked
                or n in ("authorization", "proxy-authorization", "cookie")
                or "key" in n
                or "token" in n
                or "secret" in n
            )
            if not secret:
                continue
            for part in value.strip().split():
                if len(part) >= 4 and part not in parts:
                    parts.append(part)
        parts.sort(key=len, reverse=True)
        self.parts = [p for p in parts if p.lower() not in ("bearer", "basic", "token")]

    def redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        for p in self.parts:
            text = text.replace(p, REDACTED)
        return text


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_output(path: Path, data: bytes, sync: bool = True) -> None:
    """Write ``data`` so that ``path`` is always absent, the old file or the whole new file:
    a temp file beside it, fsync, rename, fsync the directory."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        if sync:
            _fsync_dir(directory.parent)
    tmp = directory / f".{path.name}.{os.getpid()}.{next(_TEMP_COUNTER)}.part"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if sync:
            _fsync_dir(directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_stale_temps(directory: Path) -> None:
    """Remove ``.NAME.PID.N.part`` files a killed earlier process left (not this process's)."""
    me = str(os.getpid())
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for e in entries:
        name = e.name
        if not (name.startswith(".") and name.endswith(".part")):
            continue
        parts = name[1:-5].rsplit(".", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() and parts[1] != me:
            with contextlib.suppress(OSError):
                os.unlink(e.path)


class _Ledger:
    """The append-only ledger: one ``write`` per line; ``done`` lines are fsync'd."""

    def __init__(self, path: Path, sync: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        raw = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            raw += chunk
        keep = raw.rfind(b"\n") + 1
        if keep < len(raw):
            # A torn last line (a crash inside a write): cut it, so the next line starts clean.
            os.ftruncate(fd, keep)
            os.fsync(fd)
            raw = raw[:keep]
        self.fd = fd
        self.text = raw.decode("utf-8", errors="replace")
        self.sync = sync
        self._lock = asyncio.Lock()

    async def append(self, line: str, sync: bool) -> None:
        data = line.encode()
        async with self._lock:
            os.write(self.fd, data)
        if sync and self.sync:
            await asyncio.get_running_loop().run_in_executor(None, os.fsync, self.fd)

    def close(self) -> None:
        if self.sync:
            os.fsync(self.fd)
        os.close(self.fd)


def quarantine_generations(text: str) -> dict[str, int]:
    """How many times each item was quarantined (mixed into its Idempotency-Key)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        if '"quarantined"' not in line:
            continue
        try:
            rec = parse_ledger_line(line)
        except ValueError:
            continue
        if rec.get("outcome") == "quarantined":
            item = str(rec.get("item"))
            out[item] = out.get(item, 0) + 1
    return out


_OVERRIDES = ("category", "status", "code", "request_id", "message")
_overrides_supported: bool | None = None


def _line(**args: Any) -> str:
    """One ledger line from the core's ``ledger_line``. The fields the Rust runner sets after
    the classification (``category``, ``status``, ``code``, ``request_id``, ``message``) are
    passed when this build of the native module takes them."""
    global _overrides_supported
    if _overrides_supported is None:
        try:
            ledger_line("probe", "started", 0.0, message=None)
            _overrides_supported = True
        except TypeError:
            _overrides_supported = False
    if not _overrides_supported:
        for k in _OVERRIDES:
            args.pop(k, None)
    return ledger_line(**args)


class _Slot:
    """An item's place among the requests in flight, handed back once (as soon as its request
    is over, so the next request overlaps this item's output write and fsyncs)."""

    def __init__(self, sem: asyncio.Semaphore) -> None:
        self._sem: asyncio.Semaphore | None = sem

    def release(self) -> None:
        if self._sem is not None:
            self._sem.release()
            self._sem = None


@dataclasses.dataclass
class _End:
    outcome: str
    line_args: dict[str, Any]
    attempts_now: int
    body: bytes | None = None


async def _sleep(seconds: float) -> None:
    if seconds > 0 and not is_testing():
        await asyncio.sleep(seconds)


class _ItemCall:
    """The item in hand in this task: its key and its call (made at its first request)."""

    def __init__(self, retrier: Retrier, key: str) -> None:
        self.retrier = retrier
        self.key = key
        self.call: Call | None = None


async def _before_request(request: httpx.Request) -> None:
    """The client's request hook: add the item's Idempotency-Key, ask the host's breaker and
    wait for the pacer's slot, right before each send."""
    ctx = _CTX.get()
    if ctx is None:
        return
    if "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = ctx.key
    if ctx.call is None:
        url = request.url
        ctx.call = ctx.retrier.call(
            request.method, host_key(url.scheme, url.host, url.port), has_key=True
        )
    wait = ctx.call.before_send()
    while wait > 0:
        await asyncio.sleep(wait)
        wait = ctx.call.recheck()


class Batch:
    """A batch: how each item is sent (``send``), where the ledger lives, and the retry
    state shared by all items (one :class:`~http_triage._retry.Retrier`: per-host pacer,
    breaker and budget).

    ``client`` is an :class:`httpx.AsyncClient` to use (one is made with ``timeout`` when
    ``None``); ``headers`` are only read to redact their secret values from the ledger and
    messages; ``on_progress(progress)`` is called after each item ends.
    """

    def __init__(
        self,
        send: Send,
        *,
        state_dir: str | Path,
        concurrency: int = 10,
        policy: RetryPolicy | None = None,
        retrier: Retrier | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        retry_quarantined: bool = False,
        sync: bool = True,
        headers: Mapping[str, str] | None = None,
        sensitive_headers: Iterable[str] = (),
        on_decision: OnDecision | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        deferred_rounds: int = 20,
        deferred_wait: float = 10.0,
        host: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.send = send
        self.state_dir = Path(state_dir)
        self.concurrency = concurrency
        self.retrier = retrier if retrier is not None else Retrier(policy, on_decision=on_decision)
        self.client = client
        self.timeout = timeout
        self.retry_quarantined = retry_quarantined
        self.sync = sync
        self.secrets = _Secrets(headers or {}, sensitive_headers)
        self.on_progress = on_progress
        self.deferred_rounds = deferred_rounds
        self.deferred_wait = deferred_wait
        self.host = host
        self._stopping = False
        self._stop: StopInfo | None = None
        self._output_error: str | None = None
        self.progress = Progress()

    @property
    def ledger_path(self) -> Path:
        """``state_dir/ledger.jsonl``."""
        return self.state_dir / LEDGER_FILE

    def redact(self, text: str) -> str:
        """``text`` with every secret header value replaced by ``[redacted]``."""
        return self.secrets.redact(text) or ""

    def _update(self, **changes: int) -> None:
        for k, v in changes.items():
            setattr(self.progress, k, getattr(self.progress, k) + v)
        if self.on_progress is not None:
            self.on_progress(self.progress)

    async def run(self, items: Sequence[Item]) -> Summary:
        """Resume from the ledger, send what is left, append every outcome."""
        started = time.monotonic()
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise ValueError(f"two items have the id `{item.id}`")
            seen.add(item.id)
        self._stopping = False
        self._stop = None
        self._output_error = None
        ledger = _Ledger(self.ledger_path, self.sync)
        replay = Replay.from_text(ledger.text)
        generations = quarantine_generations(ledger.text)
        self.progress = Progress(total=len(items))
        work: list[tuple[Item, int, int, float | None]] = []
        for item in items:
            if replay.should_run(item.id, retry_quarantined=self.retry_quarantined):
                work.append(
                    (item, replay.attempts_so_far(item.id), generations.get(item.id, 0), None)
                )
            elif replay.is_done(item.id):
                self.progress.skipped_done += 1
            else:
                self.progress.skipped_quarantined += 1
        self.progress.to_run = len(work)
        if self.on_progress is not None:
            self.on_progress(self.progress)
        for d in {i.output.parent for i, *_ in work if i.output is not None}:
            remove_stale_temps(d)

        own_client = self.client is None
        client = self.client or httpx.AsyncClient(timeout=self.timeout)
        hooks = client.event_hooks
        if _before_request not in hooks.get("request", []):
            hooks["request"] = [*hooks.get("request", []), _before_request]
            client.event_hooks = hooks
        try:
            deferred = await self._pass(client, ledger, work)
            rounds = stalls = 0
            while deferred and rounds < self.deferred_rounds and not self._stopping:
                horizon = time.time() + self.deferred_wait
                soon = [w for w in deferred if (w[3] or 0.0) <= horizon]
                if not soon:
                    break
                soon.sort(key=lambda w: w[3] or 0.0)
                before = len(soon)
                deferred = await self._pass(client, ledger, soon)
                rounds += 1
                if len(deferred) >= before:
                    stalls += 1
                    if stalls > 3:
                        break
                    await _sleep(0.125 * (1 << stalls))
                else:
                    stalls = 0
        finally:
            if own_client:
                await client.aclose()
            ledger.close()
        return Summary(
            progress=self.progress,
            stop=self._stop,
            output_error=self._output_error,
            ledger=self.ledger_path,
            elapsed=time.monotonic() - started,
        )

    async def _pass(
        self,
        client: httpx.AsyncClient,
        ledger: _Ledger,
        work: list[tuple[Item, int, int, float | None]],
    ) -> list[tuple[Item, int, int, float | None]]:
        sem = asyncio.Semaphore(self.concurrency)
        # Bodies waiting for the disk stay bounded: 2 x concurrency.
        writes = asyncio.Semaphore(2 * self.concurrency)
        slots: dict[asyncio.Task[tuple[Item, int, int, float | None] | None], _Slot] = {}
        deferred: list[tuple[Item, int, int, float | None]] = []
        tasks: set[asyncio.Task[tuple[Item, int, int, float | None] | None]] = set()
        errors: list[BaseException] = []

        def reap(t: asyncio.Task[tuple[Item, int, int, float | None] | None]) -> None:
            tasks.discard(t)
            slots.pop(t).release()
            if t.cancelled():
                return
            e = t.exception()
            if e is not None:
                # A failed item task (a bug in `send`, a full disk under the ledger): stop
                # starting items, report it at the end.
                errors.append(e)
                self._stopping = True
                return
            r = t.result()
            if r is not None:
                deferred.append(r)

        for w in work:
            await sem.acquire()
            if self._stopping:
                sem.release()
                if w[3] is None:
                    self._update(not_started=1, finished=1)
                continue
            slot = _Slot(sem)
            t = asyncio.ensure_future(self._run_item(client, ledger, slot, writes, *w))
            slots[t] = slot
            tasks.add(t)
            t.add_done_callback(reap)
        while tasks:
            await asyncio.wait(set(tasks))
        if errors:
            raise errors[0]
        return deferred

    async def _run_item(
        self,
        client: httpx.AsyncClient,
        ledger: _Ledger,
        slot: _Slot,
        writes: asyncio.Semaphore,
        item: Item,
        prior: int,
        generation: int,
        not_before: float | None,
    ) -> tuple[Item, int, int, float | None] | None:
        if not_before is not None:
            await _sleep(not_before - time.time())
            if self._stopping:
                return None
            self._update(deferred=-1, finished=-1)
        started_at = time.time()
        end = await self._call(client, ledger, item, prior, generation, started_at)
        sync = False
        if end.outcome == "done":
            sync = True
            if end.body is not None and item.output is not None:
                await writes.acquire()
                slot.release()
                try:
                    await asyncio.get_running_loop().run_in_executor(
                        None, write_output, item.output, end.body, self.sync
                    )
                except OSError as e:
                    msg = self.redact(f"could not write {item.output}: {e}")
                    self._stopping = True
                    if self._output_error is None:
                        self._output_error = msg
                    end.outcome = "deferred"
                    end.line_args.update(
                        outcome="deferred", reason="output_write_failed", output=None
                    )
                    sync = False
                finally:
                    writes.release()
            end.body = None
        slot.release()
        await ledger.append(_line(**end.line_args), sync)
        counts = {"finished": 1, "requests": end.attempts_now}
        key = {"done": "done", "quarantined": "quarantined", "deferred": "deferred"}
        counts[key.get(end.outcome, "stopped")] = 1
        self._update(**counts)
        if end.outcome == "deferred":
            resume = end.line_args.get("resume_at")
            attempts = end.line_args.get("attempts", prior)
            return (item, int(attempts or prior), generation, float(resume or 0.0))
        return None

    def _scrubbed(self, c: Classification | None) -> dict[str, Any]:
        """The server's code and request id, with any secret redacted (as the Rust runner)."""
        if c is None:
            return {}
        return {
            "code": self.secrets.redact(c.code),
            "request_id": self.secrets.redact(c.request_id),
        }

    def _base(
        self, item: Item, outcome: str, started_at: float, host: str | None
    ) -> dict[str, Any]:
        return {
            "item": item.id,
            "outcome": outcome,
            "at": time.time(),
            "started_at": started_at,
            "host": host,
        }

    async def _call(
        self,
        client: httpx.AsyncClient,
        ledger: _Ledger,
        item: Item,
        prior: int,
        generation: int,
        started_at: float,
    ) -> _End:
        host = self.host
        if item.data is not None:
            data = item.data
        elif item.path is not None:
            try:
                data = await asyncio.get_running_loop().run_in_executor(None, item.path.read_bytes)
            except OSError as e:
                args = self._base(item, "quarantined", started_at, host)
                args.update(
                    category="permanent",
                    reason="unreadable_source",
                    message=self.redact(f"could not read {item.path}: {e}"),
                    attempts=prior,
                )
                return _End("quarantined", args, 0)
        else:
            data = b""
        key = idempotency_key(item.id, data, generation)
        started = self._base(item, "started", started_at, host)
        started.update(idempotency_key=key, attempts=prior)
        await ledger.append(_line(**started), False)

        job = dataclasses.replace(item, body=data, idempotency_key=key)
        ctx = _ItemCall(self.retrier, key)
        token = _CTX.set(ctx)
        try:
            return await self._attempts(client, job, prior, started_at, key, ctx)
        finally:
            _CTX.reset(token)

    async def _attempts(
        self,
        client: httpx.AsyncClient,
        item: Item,
        prior: int,
        started_at: float,
        key: str,
        ctx: _ItemCall,
    ) -> _End:
        c: Classification | None = None
        while True:
            response: httpx.Response | None = None
            body = b""
            try:
                response = await self.send(client, item)
                body = await response.aread()
            except CircuitOpenError as e:
                call = ctx.call
                host = call.host if call is not None else ""
                attempts = call.attempts if call is not None else 0
                return self._deferred(
                    item,
                    host,
                    started_at,
                    prior,
                    attempts,
                    key,
                    c,
                    "breaker_open",
                    e.retry_after,
                    str(e),
                )
            except httpx.HTTPStatusError as exc:
                # `send` called raise_for_status(): the response is what counts.
                response = exc.response
                body = await response.aread()
            except httpx.HTTPError as exc:
                if ctx.call is None or transport_kind(exc) is None:
                    if ctx.call is not None:
                        ctx.call.abandon()
                    raise
                reading = response is not None and response.status_code < 400
                c = classify_error(
                    exc, method=ctx.call.method, idempotency_key=True, reading_body=reading
                )
                response = None
            call = ctx.call
            if call is None:
                raise RuntimeError(
                    "send() returned a response that was not sent through the batch's client"
                )
            if response is not None:
                c = classify(
                    response.status_code,
                    response.headers,
                    body,
                    method=call.method,
                    idempotency_key=True,
                )
            assert c is not None
            step = call.after(c)
            if step.action == "done" and response is not None:
                args = self._base(item, "done", started_at, call.host)
                args.update(
                    classification=None if _overrides_supported else c,
                    category="success",
                    status=response.status_code,
                    request_id=self.secrets.redact(c.request_id),
                    output=None if item.output is None else str(item.output),
                    attempts=prior + call.attempts,
                    idempotency_key=key,
                )
                return _End("done", args, call.attempts, body if item.output else None)
            if step.again:
                await _sleep(step.delay)
                continue
            return self._failed(item, call.host, started_at, prior, call.attempts, key, step)

    def _deferred(
        self,
        item: Item,
        host: str,
        started_at: float,
        prior: int,
        attempts: int,
        key: str,
        c: Classification | None,
        reason: str,
        resume_after: float | None,
        message: str,
    ) -> _End:
        args = self._base(item, "deferred", started_at, host)
        args.update(
            classification=c,
            **self._scrubbed(c),
            reason=reason,
            message=self.redact(message),
            attempts=prior + attempts,
            idempotency_key=key,
            resume_at=None if resume_after is None else time.time() + resume_after,
        )
        return _End("deferred", args, attempts)

    def _failed(
        self,
        item: Item,
        host: str,
        started_at: float,
        prior: int,
        attempts: int,
        key: str,
        step: Step,
    ) -> _End:
        c: Classification = step.classification
        summary = _summary(c)
        if step.action == "give_up":
            why = step.give_up_reason or "permanent"
            if why != "permanent" and c.reason in ("rate_limited", "overloaded"):
                return self._deferred(
                    item,
                    host,
                    started_at,
                    prior,
                    attempts,
                    key,
                    c,
                    c.reason,
                    c.retry_after or 0.0,
                    f"gave up after {attempts} attempt(s) ({why}): {summary}",
                )
            reason = c.reason if why == "permanent" else why
            message = (
                c.message
                if why == "permanent" and c.message
                else f"gave up after {attempts} attempt(s) ({why}): {summary}"
            )
            args = self._base(item, "quarantined", started_at, host)
            args.update(
                classification=c,
                **self._scrubbed(c),
                reason=reason,
                message=self.redact(message),
                attempts=prior + attempts,
                idempotency_key=key,
            )
            return _End("quarantined", args, attempts)
        if step.action == "stop":
            info = StopInfo(
                reason=step.stop_reason or "auth",
                item=item.id,
                status=c.status,
                code=c.code,
                request_id=c.request_id,
            )
            self._stopping = True
            if self._stop is None:
                self._stop = info
            args = self._base(item, "stopped", started_at, host)
            args.update(
                classification=c,
                **self._scrubbed(c),
                reason=c.reason,
                message=self.redact(info.message()),
                attempts=prior + attempts,
                idempotency_key=key,
            )
            return _End("stopped", args, attempts)
        if step.action == "budget_exhausted":
            return self._deferred(
                item,
                host,
                started_at,
                prior,
                attempts,
                key,
                c,
                "budget_exhausted",
                None,
                f"retry budget exhausted after {attempts} attempt(s): {summary}",
            )
        # defer
        return self._deferred(
            item,
            host,
            started_at,
            prior,
            attempts,
            key,
            c,
            c.reason,
            step.resume_after,
            f"deferred after {attempts} attempt(s): resume after "
            f"{int((step.resume_after or 0) * 1000)} ms (last: {summary})",
        )


def _summary(c: Classification) -> str:
    s = f"{c.category.value}/{c.reason}"
    if c.status is not None:
        s += f", status {c.status}"
    if c.transport_error is not None:
        s += f", transport error {c.transport_error}"
    if c.code is not None:
        s += f", code `{c.code[:64]}`"
    if c.request_id is not None:
        s += f", request id `{c.request_id[:64]}`"
    return s


def default_send(url: str, headers: Mapping[str, str] | None = None, method: str = "POST") -> Send:
    """A ``send`` that sends each item's bytes to ``url`` with ``headers``."""
    fixed = dict(headers or {})

    async def send(client: httpx.AsyncClient, item: Item) -> httpx.Response:
        return await client.request(method, url, content=item.body, headers=fixed)

    return send


def host_of(url: str) -> str:
    """``host:port`` of a URL (the ledger's ``host``)."""
    u = urlsplit(url)
    return host_key(u.scheme, u.hostname or "", u.port)
