"""classify_error against real failures: real sockets on 127.0.0.1 that refuse, reset, close
early, stall, truncate a body or speak plain HTTP to a TLS client; the exceptions are the ones
httpx, requests and the standard library raise for them, not hand-made ones."""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import httpx
import pytest
import requests
from http_triage._transport import transport_kind

Behaviour = Callable[[socket.socket], None]


@contextlib.contextmanager
def raw_server(behaviour: Behaviour) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that runs `behaviour` on every connection; yields its port."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conns.append(conn)
            threading.Thread(target=behaviour, args=(conn,), daemon=True).start()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join()
        srv.close()
        for c in conns:
            with contextlib.suppress(OSError):
                c.close()


def read_request(conn: socket.socket) -> None:
    """Read a whole request, its body included: a socket closed with unread bytes in its buffer
    sends a reset, not a close, and the client would then see ECONNRESET at random (when the
    body arrived after the head) instead of the behaviour under test."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def reset(conn: socket.socket) -> None:
    read_request(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def close_early(conn: socket.socket) -> None:
    read_request(conn)
    conn.close()


def stall(conn: socket.socket) -> None:
    read_request(conn)
    threading.Event().wait(3)
    conn.close()


def truncated_body(conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nabc")
    conn.close()


def plain_http(conn: socket.socket) -> None:
    conn.settimeout(5)
    with contextlib.suppress(OSError):
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conn.close()


def refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()  # bound, never listening: connecting is refused
    return port


def fetch_all(url: str, timeout: float = 0.5) -> dict[str, BaseException]:
    """The exception each client raises for a GET of `url`."""
    out: dict[str, BaseException] = {}
    try:
        httpx.get(url, timeout=timeout)
    except Exception as e:
        out["httpx"] = e
    try:
        requests.get(url, timeout=timeout)
    except Exception as e:
        out["requests"] = e
    try:
        urllib.request.urlopen(url, timeout=timeout).read()
    except Exception as e:
        out["urllib"] = e
    host, _, port = url.split("//")[1].split("/")[0].partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
    except Exception as e:
        out["http.client"] = e
    finally:
        conn.close()
    return out


def kinds(excs: dict[str, BaseException]) -> dict[str, str | None]:
    return {name: transport_kind(e) for name, e in excs.items()}


def test_refused_connection_is_connect_refused() -> None:
    excs = fetch_all(f"http://127.0.0.1:{refused_port()}/")
    assert set(excs) == {"httpx", "requests", "urllib", "http.client"}
    assert kinds(excs) == dict.fromkeys(excs, "connect_refused")


def test_reset_after_the_request_is_reset_before_response() -> None:
    with raw_server(reset) as port:
        excs = fetch_all(f"http://127.0.0.1:{port}/")
    assert set(excs) == {"httpx", "requests", "urllib", "http.client"}
    # The request was sent: the server may have acted on it.
    assert kinds(excs) == dict.fromkeys(excs, "reset_before_response")


def test_close_without_response_is_closed_before_response() -> None:
    with raw_server(close_early) as port:
        excs = fetch_all(f"http://127.0.0.1:{port}/")
    assert set(excs) == {"httpx", "requests", "urllib", "http.client"}
    assert kinds(excs) == dict.fromkeys(excs, "closed_before_response")


def test_read_timeout_is_timeout_after_send() -> None:
    with raw_server(stall) as port:
        excs = fetch_all(f"http://127.0.0.1:{port}/", timeout=0.2)
    assert set(excs) == {"httpx", "requests", "urllib", "http.client"}
    assert isinstance(excs["httpx"], httpx.ReadTimeout)
    assert isinstance(excs["requests"], requests.ReadTimeout)
    assert kinds(excs) == dict.fromkeys(excs, "timeout_after_send")


def test_truncated_body_is_body_truncated() -> None:
    with raw_server(truncated_body) as port:
        excs = fetch_all(f"http://127.0.0.1:{port}/")
    assert set(excs) == {"httpx", "requests", "urllib", "http.client"}
    assert kinds(excs) == dict.fromkeys(excs, "body_truncated")


def test_plain_http_to_a_tls_client_is_tls() -> None:
    with raw_server(plain_http) as port:
        url = f"https://127.0.0.1:{port}/"
        excs: dict[str, BaseException] = {}
        for name, get in (("httpx", httpx.get), ("requests", requests.get)):
            try:
                get(url, timeout=2)
            except Exception as e:
                excs[name] = e
        try:
            urllib.request.urlopen(url, timeout=2)
        except Exception as e:
            excs["urllib"] = e
    assert set(excs) == {"httpx", "requests", "urllib"}
    assert kinds(excs) == dict.fromkeys(excs, "tls")


def test_connect_timeout_on_a_full_backlog() -> None:
    # A listener that never accepts, its backlog filled: the kernel drops further SYNs.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            fillers.append(s)
        probe = socket.socket()
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", port))
            pytest.skip("this kernel accepted past the backlog")
        except (TimeoutError, socket.timeout):
            pass
        finally:
            probe.close()
        excs: dict[str, BaseException] = {}
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=httpx.Timeout(5, connect=0.3))
        except Exception as e:
            excs["httpx"] = e
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=(0.3, 5))
        except Exception as e:
            excs["requests"] = e
    finally:
        for s in fillers:
            s.close()
        srv.close()
    assert isinstance(excs["httpx"], httpx.ConnectTimeout)
    assert isinstance(excs["requests"], requests.ConnectTimeout)
    assert kinds(excs) == dict.fromkeys(excs, "connect_timeout")


def test_pool_timeout_is_connect_timeout() -> None:
    # One connection in the pool, held by a stalled request: the second never gets to send.
    with raw_server(stall) as port:
        client = httpx.Client(
            limits=httpx.Limits(max_connections=1), timeout=httpx.Timeout(2, pool=0.2)
        )

        def hold() -> None:
            with contextlib.suppress(httpx.HTTPError):
                client.get(f"http://127.0.0.1:{port}/")

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        threading.Event().wait(0.2)
        with pytest.raises(httpx.PoolTimeout) as info:
            client.get(f"http://127.0.0.1:{port}/")
        holder.join()
        client.close()
    assert transport_kind(info.value) == "connect_timeout"


def test_dns_failure_is_dns() -> None:
    try:
        socket.getaddrinfo("no-such-host.invalid", 80)
    except socket.gaierror as e:
        assert transport_kind(e) == "dns"
    else:
        pytest.skip("this resolver answers for .invalid")
    for get in (httpx.get, requests.get):
        with pytest.raises(Exception) as info:
            get("http://no-such-host.invalid/", timeout=5)
        assert transport_kind(info.value) == "dns", repr(info.value)
    with pytest.raises(urllib.error.URLError) as uinfo:
        urllib.request.urlopen("http://no-such-host.invalid/", timeout=5)
    assert transport_kind(uinfo.value) == "dns"


def test_errors_that_are_not_transport_failures_are_refused() -> None:
    assert transport_kind(FileNotFoundError(2, "no such file")) is None
    assert transport_kind(ValueError("bad")) is None
    with pytest.raises(httpx.UnsupportedProtocol) as info:
        httpx.get("ftp://127.0.0.1/")
    assert transport_kind(info.value) is None
    with pytest.raises(requests.exceptions.MissingSchema) as rinfo:
        requests.get("127.0.0.1/x")
    assert transport_kind(rinfo.value) is None


def test_errors_while_reading_a_success_body_are_body_truncated() -> None:
    with raw_server(stall) as port, pytest.raises(httpx.ReadTimeout) as info:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=0.2)
    assert transport_kind(info.value, reading_body=True) == "body_truncated"


def test_cycles_in_the_chain_end() -> None:
    a = ConnectionResetError("a")
    b = OSError("b")
    a.__context__ = b
    b.__context__ = a
    assert transport_kind(a) == "reset_before_response"


def test_classify_error_gives_the_cores_classification() -> None:
    import http_triage

    with pytest.raises(httpx.ConnectError) as refused:
        httpx.post(f"http://127.0.0.1:{refused_port()}/", content=b"x")
    c = http_triage.classify_error(refused.value, method="POST")
    assert (c.category, c.reason, c.transport_error) == (
        http_triage.Category.RETRYABLE,
        "connect_refused",
        "connect_refused",
    )
    assert c.request_not_processed
    with raw_server(close_early) as port, pytest.raises(httpx.RemoteProtocolError) as closed:
        httpx.post(f"http://127.0.0.1:{port}/", content=b"x")
    c = http_triage.classify_error(closed.value, method="POST")
    assert c.transport_error == "closed_before_response" and not c.request_not_processed
    # A POST that may have been processed is not resent without a key; with one it is.
    policy = http_triage.RetryPolicy()
    assert policy.decide(c, 1, random=0.0).action == "give_up"
    keyed = http_triage.classify_error(closed.value, method="POST", idempotency_key=True)
    assert policy.decide(keyed, 1, random=0.0).action == "retry"
    with pytest.raises(http_triage.InvalidInputError) as info:
        http_triage.classify_error(ValueError("not a transport error"))
    assert info.value.code == "invalid_input"
    assert isinstance(info.value, TypeError)
