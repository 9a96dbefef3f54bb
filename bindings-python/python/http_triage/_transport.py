"""From a Python transport exception to the core's transport error kind.

Which kind is right decides whether a POST may be sent again: ``dns``, ``connect_refused``,
``connect_timeout`` and ``tls`` say the request never left (the core marks them
``request_not_processed``), every other kind says it may have reached the server. So a kind of
the first group is only given on proof that the failure happened while connecting; anything
else falls back to the conservative kinds, as the Rust driver does
(``core/src/client/transport.rs``).

The evidence is read off the exception and everything it wraps: ``__cause__``,
``__context__``, urllib3's ``MaxRetryError.reason``, ``urllib.error.URLError.reason`` and
exceptions passed as arguments (requests' ``ConnectionError(MaxRetryError(...))``, urllib3's
``ProtocolError("Connection aborted.", RemoteDisconnected(...))``).

=====================================================  ==========================
evidence (anywhere in the chain, strongest first)      kind
=====================================================  ==========================
an error raised while reading a 2xx/3xx body           ``body_truncated``
``socket.gaierror``, urllib3 ``NameResolutionError``   ``dns``
httpx ``ConnectTimeout`` / ``PoolTimeout``, urllib3
``ConnectTimeoutError``, requests ``ConnectTimeout``   ``connect_timeout``
an ``ssl`` error of the handshake (certificate,
protocol, httpx ``ConnectError``/urllib3 connect)     ``tls``
``ConnectionRefusedError``                             ``connect_refused``
httpx ``ConnectError``, urllib3 ``NewConnectionError``
(unreachable network, ...): never left                 ``connect_refused``
``http.client.IncompleteRead``, "incomplete chunked
read", "received N bytes, expected M"                  ``body_truncated``
``http.client.RemoteDisconnected``, httpx "Server
disconnected without sending a response"              ``closed_before_response``
``ConnectionResetError`` / ``ConnectionAbortedError``
/ ``BrokenPipeError``                                  ``reset_before_response``
a read/write timeout, ``TimeoutError``                 ``timeout_after_send``
any other transport error (``ReadError``, ...)         ``closed_before_response``
=====================================================  ==========================
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._native import Classification

__all__ = ["TRANSPORT_KINDS", "classify_error", "transport_kind"]

#: The core's transport error kinds.
TRANSPORT_KINDS = (
    "dns",
    "connect_refused",
    "connect_timeout",
    "tls",
    "reset_before_response",
    "timeout_after_send",
    "closed_before_response",
    "body_truncated",
)

# How deep the chain of wrapped exceptions is followed (a cycle is also cut).
_MAX_CHAIN = 24


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps, outermost first, each once."""
    seen: set[int] = set()
    stack = [exc]
    while stack and len(seen) < _MAX_CHAIN:
        e = stack.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        wrapped: list[BaseException] = []
        for attr in ("reason", "original_error"):
            inner = getattr(e, attr, None)
            if isinstance(inner, BaseException):
                wrapped.append(inner)
        wrapped.extend(a for a in e.args if isinstance(a, BaseException))
        if e.__cause__ is not None:
            wrapped.append(e.__cause__)
        if e.__context__ is not None and not e.__suppress_context__:
            wrapped.append(e.__context__)
        stack.extend(wrapped)


def _names(e: BaseException) -> set[str]:
    """``module.Class`` names of the exception's classes (so httpx, httpcore, urllib3 and
    requests are recognised without importing them)."""
    out = set()
    for cls in type(e).__mro__:
        module = cls.__module__.split(".")[0]
        out.add(f"{module}.{cls.__name__}")
    return out


_CONNECT_TIMEOUT = {
    "httpx.ConnectTimeout",
    "httpx.PoolTimeout",
    "httpcore.ConnectTimeout",
    "httpcore.PoolTimeout",
    "urllib3.ConnectTimeoutError",
    "requests.ConnectTimeout",
}
# Wrappers that prove the failure happened while connecting (before anything was sent).
_CONNECT_PHASE = {
    "httpx.ConnectError",
    "httpcore.ConnectError",
    "urllib3.NewConnectionError",
}
_DNS = {"urllib3.NameResolutionError"}
_BODY_TRUNCATED_TEXT = (
    "incomplete chunked read",
    "without sending complete message body",
    "incompleteread",
    "response ended prematurely",
)
_NO_RESPONSE_TEXT = ("server disconnected without sending a response",)
_TIMEOUTS = {
    "httpx.TimeoutException",
    "httpcore.TimeoutException",
    "urllib3.TimeoutError",
    "requests.Timeout",
}
_TRANSPORT = {
    "httpx.TransportError",
    "httpcore.NetworkError",
    "httpcore.RemoteProtocolError",
    "urllib3.HTTPError",
    "requests.ConnectionError",
}
# Not transport failures: the request itself is unusable, or the client is misconfigured.
_NOT_TRANSPORT = {
    "httpx.UnsupportedProtocol",
    "httpx.LocalProtocolError",
    "httpx.ProxyError",
    "httpx.InvalidURL",
    "requests.InvalidURL",
    "requests.InvalidSchema",
    "requests.MissingSchema",
    "requests.InvalidHeader",
    "urllib3.LocationValueError",
    "urllib3.ProxySchemeUnknown",
}


# errno values of a bare OSError that are network failures.
_NET_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.ETIMEDOUT,
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.ENETDOWN,
    errno.EHOSTDOWN,
    errno.ENOTCONN,
}


def _is_network_error(e: BaseException) -> bool:
    """A standard-library exception that is a network failure (not, say, a missing file)."""
    if isinstance(
        e,
        (
            ConnectionError,
            TimeoutError,
            socket.gaierror,
            socket.herror,
            ssl.SSLError,
            ssl.CertificateError,
            http.client.HTTPException,
        ),
    ):
        return True
    return isinstance(e, OSError) and e.errno in _NET_ERRNOS


def transport_kind(exc: BaseException, *, reading_body: bool = False) -> str | None:
    """The core's transport kind for ``exc``, or ``None`` when it is not a transport failure
    this module knows. ``reading_body``: the error was raised while reading the body of a
    2xx/3xx response (then any transport failure is ``body_truncated``)."""
    chain = list(_chain(exc))
    names = [_names(e) for e in chain]
    every: set[str] = set().union(*names)
    if every & _NOT_TRANSPORT:
        return None
    known = bool(every & (_TRANSPORT | _TIMEOUTS | _CONNECT_TIMEOUT | _CONNECT_PHASE)) or any(
        _is_network_error(e) for e in chain
    )
    if not known:
        return None
    if reading_body:
        return "body_truncated"

    connect_phase = bool(every & (_CONNECT_PHASE | _CONNECT_TIMEOUT | _DNS))
    if any(isinstance(e, socket.gaierror) for e in chain) or every & _DNS:
        return "dns"
    # urllib3 2's NewConnectionError subclasses ConnectTimeoutError: it is not a timeout.
    if any(n & _CONNECT_TIMEOUT and "urllib3.NewConnectionError" not in n for n in names):
        return "connect_timeout"
    ssl_errors = [e for e in chain if isinstance(e, (ssl.SSLError, ssl.CertificateError))]
    if ssl_errors:
        # A closed connection reads as an SSL EOF at any time; only while connecting is it the
        # handshake's failure. A certificate or protocol error is the handshake's by nature.
        handshake = connect_phase or any(
            not isinstance(e, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) for e in ssl_errors
        )
        if handshake:
            return "tls"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connect_refused"
    if connect_phase:
        # Unreachable network, a reset during the handshake...: the request never left.
        return "connect_refused"
    text = " ".join(str(e).lower() for e in chain)
    if any(isinstance(e, http.client.IncompleteRead) for e in chain) or any(
        t in text for t in _BODY_TRUNCATED_TEXT
    ):
        return "body_truncated"
    if any(isinstance(e, http.client.RemoteDisconnected) for e in chain) or any(
        t in text for t in _NO_RESPONSE_TEXT
    ):
        return "closed_before_response"
    if any(
        isinstance(e, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError))
        for e in chain
    ):
        return "reset_before_response"
    if every & _TIMEOUTS or any(isinstance(e, TimeoutError) for e in chain):
        return "timeout_after_send"
    return "closed_before_response"


def classify_error(
    exc: BaseException,
    *,
    method: str = "GET",
    idempotency_key: bool = False,
    reading_body: bool = False,
) -> Classification:
    """Classify a transport exception of httpx, requests/urllib3 or the standard library.

    Raises ``InvalidInputError`` (a ``TypeError``) when ``exc`` is not a transport failure
    this module knows (a bad URL, a programming error, ...): retrying those would not help.
    """
    from ._errors import InvalidInputError
    from ._native import classify_transport

    if not isinstance(exc, BaseException):
        raise InvalidInputError(f"classify_error wants an exception, got {type(exc).__name__}")
    kind = transport_kind(exc, reading_body=reading_body)
    if kind is None:
        raise InvalidInputError(
            f"{type(exc).__module__}.{type(exc).__qualname__} is not a transport error "
            "http-triage knows (dns, connect, tls, timeout, reset, closed connection)"
        )
    return classify_transport(kind, method=method, idempotency_key=idempotency_key)
