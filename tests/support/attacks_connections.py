"""Connection-level attacks (issue #13; API.md §0.8): many slow or idle connections, slow request
bodies, protected bodies without credentials, and readers that never read. Each attack is bounded
by count and time and returns what it observed; the tests (tests/e2e/test_abuse_connections.py)
assert on it, and a bench scenario can run the same drivers.

Attackers connect from another loopback address (`ATTACKER`, any of 127.0.0.0/8 works on Linux)
so the per-address cap hits them and not the legitimate user on 127.0.0.1.
"""
import contextlib
import resource
import socket
import time

ATTACKER = "127.0.0.2"


def raise_own_fd_limit(needed: int) -> None:
    """Lets this test process hold `needed` sockets (soft limit up to the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, needed + 256)) if hard != resource.RLIM_INFINITY else needed + 256
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def connect_from(server, source: str = ATTACKER, timeout_s: float = 5.0) -> socket.socket:
    """A TCP connection to the server from `source` (a loopback address)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout_s)
        s.bind((source, 0))
        s.connect(("127.0.0.1", server.port))
    except OSError:
        s.close()
        raise
    return s


def open_many(server, count: int, send: bytes = b"", source: str = ATTACKER) -> list:
    """Up to `count` connections from `source`, each sending `send` first; stops at the first
    connect that fails. The caller closes them (close_all)."""
    raise_own_fd_limit(count)
    socks = []
    for _ in range(count):
        try:
            s = connect_from(server, source)
            if send:
                s.sendall(send)
        except OSError:
            break
        socks.append(s)
    return socks


def close_all(socks) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.close()


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed this connection (EOF or reset), without blocking. A connection
    that got an answer (a 503) and then EOF counts as closed. (No select(): descriptors past
    1024 are common here.)"""
    try:
        sock.setblocking(False)
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        with contextlib.suppress(OSError):
            sock.setblocking(True)


def first_bytes(sock: socket.socket, timeout_s: float = 3.0) -> bytes:
    """What the server sends before it closes or goes quiet (b"" on a close without an answer)."""
    sock.settimeout(timeout_s)
    data = b""
    try:
        while len(data) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def dribble_until_closed(socks, duration_s: float, interval_s: float = 0.5) -> dict:
    """Sends one more header byte on every open connection each `interval_s` (a slowloris that
    never finishes its headers) for at most `duration_s`, stopping early once the server has closed
    them all. Returns {"closed": n, "open": n, "last_close_s": seconds from the start}."""
    start = time.monotonic()
    open_socks = list(socks)
    last_close = 0.0
    while open_socks and time.monotonic() - start < duration_s:
        still = []
        for s in open_socks:
            if closed_by_server(s):
                last_close = time.monotonic() - start
                continue
            try:
                s.send(b"a")
            except OSError:
                last_close = time.monotonic() - start
                continue
            still.append(s)
        open_socks = still
        time.sleep(interval_s)
    return {"closed": len(socks) - len(open_socks), "open": len(open_socks),
            "last_close_s": last_close}


def slow_headers(server, count: int, duration_s: float, source: str = ATTACKER) -> dict:
    """`count` connections that send a partial request head and then one byte per half second
    (never a blank line) for at most `duration_s`. Returns dribble_until_closed's figures."""
    socks = open_many(server, count, b"GET /api/chat/teams/ HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                      source)
    try:
        result = dribble_until_closed(socks, duration_s)
        result["opened"] = len(socks)
        return result
    finally:
        close_all(socks)


def slow_body(server, path: str, headers: dict, length: int, duration_s: float,
              bytes_per_s: float = 1.0, source: str = ATTACKER) -> dict:
    """One request whose head is complete and whose body (of `length` bytes announced) comes at
    `bytes_per_s` for at most `duration_s`. Returns {"closed_after_s": seconds or None, "sent"}."""
    s = connect_from(server, source)
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    start = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - start < duration_s and sent < length:
            if closed_by_server(s):
                return {"closed_after_s": time.monotonic() - start, "sent": sent}
            try:
                s.send(b"x")
            except OSError:
                return {"closed_after_s": time.monotonic() - start, "sent": sent}
            sent += 1
            time.sleep(1.0 / bytes_per_s)
        return {"closed_after_s": None, "sent": sent}
    finally:
        s.close()


def unread_pipeline(server, request: bytes, count: int, source: str = ATTACKER,
                    rcvbuf: int = 4096) -> socket.socket:
    """A connection that sends `count` pipelined copies of `request` and never reads: the server's
    answers pile up until the socket buffers are full. The caller closes it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", server.port))
    s.sendall(request * count)
    return s


def drain(sock: socket.socket, timeout_s: float = 5.0) -> tuple:
    """Reads until EOF, a reset or `timeout_s` of silence: (bytes read, how it ended)."""
    sock.settimeout(timeout_s)
    total = 0
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return total, "eof"
            total += len(chunk)
    except socket.timeout:
        return total, "open"
    except OSError:
        return total, "reset"
