"""``python -m http_triage batch|report|classify``: the Rust CLI's subcommands, flags, output and
exit statuses (``core/src/cli``), on the Python runner.

Exit statuses: ``batch`` 0 all done, 1 some quarantined or deferred, 2 stopped on auth or
quota; ``report`` 0, or 4 above ``--alert-rate``; 3 on bad usage everywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlsplit

from . import _native
from ._native import Replay, report

USAGE = 3


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's exit status 3 on bad usage."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m http_triage", description="Turn failed HTTP API calls into decisions."
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("classify", help="JSON lines of responses (stdin) to JSON lines of verdicts")
    c.add_argument("--now", type=float, help="Unix seconds for lines without `now`")

    b = sub.add_parser("batch", help="POST every file under a folder, retrying and resuming")
    b.add_argument("src_dir", type=Path)
    b.add_argument("--url", required=True)
    b.add_argument("--out", required=True, type=Path)
    b.add_argument("--ext")
    b.add_argument(
        "-H", "--header", action="append", default=[], dest="headers", metavar="NAME: VALUE"
    )
    b.add_argument("--concurrency", type=int, default=10)
    b.add_argument("--state", type=Path)
    b.add_argument("--max-attempts", type=int)
    b.add_argument("--timeout", type=float, metavar="SECS")
    b.add_argument("--retry-quarantined", action="store_true")
    b.add_argument("--no-fsync", action="store_true")

    r = sub.add_parser("report", help="summarize a batch's ledger")
    r.add_argument("state_dir", type=Path, metavar="STATE_DIR")
    r.add_argument("--json", action="store_true")
    r.add_argument("--alert-rate", type=float, default=0.05, metavar="R")
    r.add_argument("--window", type=int, default=60, metavar="SECS")
    r.add_argument("--min-cluster", type=int, default=3, metavar="N")
    return p


# ---------------------------------------------------------------- classify


def _classify(args: argparse.Namespace) -> int:
    if args.now is not None and not (math.isfinite(args.now) and args.now >= 0):
        print("http-triage classify: --now must be non-negative Unix seconds", file=sys.stderr)
        return USAGE
    now = args.now if args.now is not None else time.time()
    out = sys.stdout
    for line_no, raw in enumerate(sys.stdin.buffer, start=1):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            continue
        result = _native.classify_line(line, line_no, now)
        try:
            out.write(result + "\n")
        except BrokenPipeError:
            return 0
    out.flush()
    return 0


# ---------------------------------------------------------------- report


def _report(args: argparse.Namespace) -> int:
    if not (0.0 <= args.alert_rate <= 1.0):
        print(
            f"http-triage report: --alert-rate must be between 0 and 1 (got {args.alert_rate})",
            file=sys.stderr,
        )
        return USAGE
    path: Path = args.state_dir / "ledger.jsonl" if args.state_dir.is_dir() else args.state_dir
    try:
        data = path.read_bytes()
    except OSError as e:
        why = (
            "no such file (is this the batch's --state folder?)"
            if isinstance(e, FileNotFoundError)
            else (e.strerror or str(e))
        )
        print(f"http-triage report: cannot read the ledger {path}: {why}", file=sys.stderr)
        return USAGE
    replay = Replay.from_text(data.decode("utf-8", errors="replace"))
    rep = report(
        replay,
        alert_rate=args.alert_rate,
        window=float(args.window),
        min_cluster=args.min_cluster,
    )
    if args.json:
        text = json.dumps(rep.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = f"ledger: {path}\n{rep.render_text()}"
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return 4 if rep.above_threshold else 0


# ---------------------------------------------------------------- batch


_SECRET_NAMES = ("authorization", "proxy-authorization", "cookie")
_VAR = re.compile(r"\$\{([^}]*)\}")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _parse_header(raw: str) -> tuple[str, str, bool]:
    """``Name: value`` with ``${VAR}`` expanded; (name, value, sensitive). Messages never
    contain a value."""
    name, sep, value = raw.partition(":")
    if not sep:
        raise ValueError("-H wants 'Name: value' (no ':' found)")
    name = name.strip()
    if not _TOKEN.match(name):
        raise ValueError(f"-H: `{name[:64]}` is not a valid header name")
    value = value.strip()
    expanded = False
    out = ""
    rest = value
    while "${" in rest:
        start = rest.index("${")
        out += rest[:start]
        after = rest[start + 2 :]
        end = after.find("}")
        if end < 0:
            raise ValueError(f"-H '{name.lower()}: …': `${{` without a closing `}}`")
        var = after[:end]
        if not var or not all(c.isascii() and (c.isalnum() or c == "_") for c in var):
            raise ValueError(
                f"-H '{name.lower()}: …': `${{{var[:64]}}}` is not a valid variable name"
            )
        if var not in os.environ:
            raise ValueError(f"-H '{name.lower()}: …': the environment variable {var} is not set")
        out += os.environ[var]
        expanded = True
        rest = after[end + 1 :]
    out += rest
    if any((ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F for ch in out):
        raise ValueError(f"-H '{name.lower()}: …': the value has characters a header cannot carry")
    n = name.lower()
    sensitive = expanded or n in _SECRET_NAMES or any(w in n for w in ("key", "token", "secret"))
    return name, out, sensitive


def _walk(root: Path, skip: Sequence[Path]) -> list[tuple[str, Path]]:
    """Files under ``root`` sorted by relative path (as the Rust CLI lists them); the folders
    in ``skip`` are not entered, symlinked folders neither."""
    skip_real = {os.path.realpath(s) for s in skip if s.exists()}
    out: list[tuple[tuple[str, ...], Path]] = []
    stack = [root]
    while stack:
        d = stack.pop()
        if os.path.realpath(d) in skip_real:
            continue
        for e in os.scandir(d):
            p = Path(e.path)
            if e.is_dir(follow_symlinks=False):
                stack.append(p)
            elif e.is_file(follow_symlinks=True):
                out.append((p.relative_to(root).parts, p))
    out.sort()
    return [("/".join(parts), p) for parts, p in out]


def _batch(args: argparse.Namespace) -> int:
    from . import batch as b

    def usage(msg: str) -> int:
        print(f"http-triage batch: {msg}", file=sys.stderr)
        return USAGE

    url = urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        return usage("--url must be an http:// or https:// URL with a host")
    if args.concurrency < 1:
        return usage("--concurrency must be at least 1")
    if args.max_attempts is not None and args.max_attempts < 1:
        return usage("--max-attempts must be at least 1")
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        return usage("--timeout must be a positive number of seconds")
    headers: dict[str, str] = {}
    sensitive: list[str] = []
    for raw in args.headers:
        try:
            name, value, secret = _parse_header(raw)
        except ValueError as e:
            return usage(str(e))
        headers[name] = value
        if secret:
            sensitive.append(name)
    if not args.src_dir.is_dir():
        return usage(f"{args.src_dir} is not a folder")
    ext: str | None = args.ext.lstrip(".") if args.ext is not None else None
    if ext is None:
        ext = next((v for k, v in parse_qsl(url.query) if k == "target"), None)
    if ext is not None and (not ext or "/" in ext or "\\" in ext):
        return usage("--ext must be a plain extension such as jpg")
    state: Path = args.state if args.state is not None else args.out / ".http-triage"
    try:
        files = _walk(args.src_dir, [args.out, state])
    except OSError as e:
        return usage(f"could not list {args.src_dir}: {e}")
    items = []
    for rel, path in files:
        out = args.out / rel
        if ext is not None:
            out = out.with_suffix("." + ext)
        items.append(b.Item.from_file(rel, path, out))
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"http-triage batch: could not create {args.out}: {e}", file=sys.stderr)
        return USAGE

    policy_opts: dict[str, Any] = {}
    if args.max_attempts is not None:
        policy_opts["max_attempts"] = args.max_attempts
    policy = _native.RetryPolicy(**policy_opts)
    runner = b.Batch(
        b.default_send(args.url, headers),
        state_dir=state,
        concurrency=args.concurrency,
        policy=policy,
        timeout=args.timeout if args.timeout is not None else 30.0,
        retry_quarantined=args.retry_quarantined,
        sync=not args.no_fsync,
        headers=headers,
        sensitive_headers=sensitive,
        host=b.host_of(args.url),
        on_progress=_LineProgress(),
    )
    print(
        f"http-triage batch: {len(items)} files under {args.src_dir} -> {args.out} "
        f"(ledger {state / b.LEDGER_FILE})",
        file=sys.stderr,
    )
    try:
        summary = asyncio.run(runner.run(items))
    except (OSError, ValueError) as e:
        print(f"http-triage batch: {runner.redact(str(e))}", file=sys.stderr)
        return 1
    _print_report(runner, summary)
    return summary.exit_status()


class _LineProgress:
    """Plain progress lines on stderr, as the Rust CLI draws them without a terminal."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self, p: Any) -> None:
        step = max(1, min(100, p.to_run // 10))
        if p.finished == 0 and self.next == 0:
            print(
                f"{p.to_run} to send ({p.skipped_done} done earlier, "
                f"{p.skipped_quarantined} quarantined earlier)",
                file=sys.stderr,
            )
            self.next = step
        elif p.finished >= self.next or p.finished == p.to_run:
            self.next = p.finished - p.finished % step + step
            stopping = ", stopping" if p.stopped + p.not_started > 0 else ""
            print(
                f"[{p.finished}/{p.to_run}] {p.done} done, {p.quarantined} quarantined, "
                f"{p.deferred} deferred{stopping}",
                file=sys.stderr,
            )


def _print_report(runner: Any, summary: Any) -> None:
    p = summary.progress
    try:
        text = summary.ledger.read_text(encoding="utf-8", errors="replace")
        print(runner.redact(report(Replay.from_text(text)).render_text()))
    except OSError as e:
        print(f"http-triage batch: could not read the ledger back: {e}", file=sys.stderr)
    print(
        f"this run: {p.done} done, {p.quarantined} quarantined, {p.deferred} deferred, "
        f"{p.stopped} stopped, {p.not_started} not started; {p.skipped_done} skipped (done "
        f"earlier), {p.skipped_quarantined} left quarantined; {p.requests} requests in "
        f"{summary.elapsed:.1f}s",
        file=sys.stderr,
    )
    if summary.stop is not None:
        print(f"stopped: {runner.redact(summary.stop.message('given with -H'))}", file=sys.stderr)
        print("nothing is lost: run the same command again to resume", file=sys.stderr)
    elif summary.output_error is not None:
        print(f"stopped: {runner.redact(summary.output_error)}", file=sys.stderr)
    elif p.deferred > 0:
        print(
            f"{p.deferred} files were deferred (rate limit, open circuit or retry budget): run "
            "the same command again to resume them",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "classify":
        return _classify(args)
    if args.command == "report":
        return _report(args)
    return _batch(args)


if __name__ == "__main__":
    sys.exit(main())
