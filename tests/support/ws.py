"""A small synchronous WebSocket client for the end-to-end tests (API.md §8), on Debian's
python3-websockets 10.4 (asyncio only): one event loop runs in a background thread and every call
here blocks on it with a timeout.

    sock = connect(server, user["access"])          # waits for `hello` (sock.hello)
    sock.send_json({"message_type": "ping", "request_id": 1})
    pong = sock.recv_type("pong")                   # or recv_until(predicate)
    frames = sock.frames(0.5)                       # everything that arrives within 0.5 s
    status, headers, body = handshake(server, headers={...})   # a refused upgrade

Frames that recv_type()/recv_until() pass over are kept in order and seen first by the next
receive, so a test can wait for one frame without losing the others (frames before `hello`,
such as the user's own online presence, stay there too).
"""
import asyncio
import http.client
import json
import socket
import threading
import time
import urllib.parse

import websockets
import websockets.exceptions
from websockets.frames import Opcode

DEFAULT_TIMEOUT_S = 5.0
WS_PATH = "/ws/chat/"
# Frames that answer a request (§8.3, §8.5); request() waits for one of them.
REPLY_TYPES = {"pong", "ack", "error", "channel_messages", "direct_messages", "team_channels",
               "team_members", "interacted_users", "user_presences", "resumed"}

_loop = None
_loop_lock = threading.Lock()


def _event_loop() -> asyncio.AbstractEventLoop:
    """The shared background loop (started on first use, a daemon thread)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="ws-test-loop", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def _run(coro, timeout):
    """Runs a coroutine on the background loop and waits for it (timeout in seconds, or None)."""
    future = asyncio.run_coroutine_threadsafe(coro, _event_loop())
    try:
        return future.result(None if timeout is None else timeout + 5)
    except BaseException:
        future.cancel()
        raise


def ws_url(server, token=None, path=WS_PATH) -> str:
    url = "ws://127.0.0.1:%d%s" % (server.port, path)
    if token is not None:
        url += ("&" if "?" in path else "?") + "token=" + urllib.parse.quote(token, safe="")
    return url


class Frame(dict):
    """A received JSON object frame; `raw` is its text exactly as the server sent it (§8.8
    byte-identical replay)."""
    raw = ""


class Closed(Exception):
    """The server closed the socket; `code` is its close code (None if none was received)."""

    def __init__(self, code, reason=""):
        super().__init__(f"websocket closed: {code} {reason}")
        self.code = code
        self.reason = reason


class WsClient:
    """One open WebSocket. Not thread-safe (one test thread drives it)."""

    def __init__(self, conn, label=""):
        self.conn = conn
        self.label = label
        self.backlog = []  # frames received but not yet handed out, in arrival order
        self.hello = None

    @property
    def subprotocol(self):
        return self.conn.subprotocol

    # --- sending ------------------------------------------------------------------------------

    def send(self, data) -> None:
        """A text frame for str, a binary frame for bytes; anything else is sent as JSON."""
        if isinstance(data, (bytes, bytearray)):
            self.send_binary(data)
        elif isinstance(data, str):
            self.send_text(data)
        else:
            self.send_json(data)

    def send_json(self, frame) -> None:
        """Sends a JSON text frame (dict, list or scalar)."""
        self.send_text(json.dumps(frame))

    def send_text(self, text: str) -> None:
        _run(self.conn.send(text), DEFAULT_TIMEOUT_S)

    def send_binary(self, data: bytes) -> None:
        _run(self.conn.send(bytes(data)), DEFAULT_TIMEOUT_S)

    def send_raw_text(self, data: bytes) -> None:
        """Sends `data` unchanged as one text frame (e.g. invalid UTF-8)."""
        _run(self.conn.write_frame(True, Opcode.TEXT, bytes(data)), DEFAULT_TIMEOUT_S)

    # --- receiving ----------------------------------------------------------------------------

    def _recv_network(self, timeout):
        async def one():
            return await asyncio.wait_for(self.conn.recv(), timeout)

        try:
            data = _run(one(), timeout)
        except websockets.exceptions.ConnectionClosed as e:
            raise Closed(self.close_code(), getattr(e, "reason", "")) from None
        except asyncio.TimeoutError:
            raise TimeoutError(f"{self.label}: no frame within {timeout} s") from None
        if isinstance(data, bytes):
            raise AssertionError(f"{self.label}: the server sent a binary frame: {data[:100]!r}")
        value = json.loads(data)
        if isinstance(value, dict):
            value = Frame(value)
            value.raw = data
        return value

    def recv(self, timeout=DEFAULT_TIMEOUT_S) -> dict:
        """The next frame (the backlog first). Raises TimeoutError or Closed."""
        if self.backlog:
            return self.backlog.pop(0)
        return self._recv_network(timeout)

    def recv_until(self, match, timeout=DEFAULT_TIMEOUT_S) -> dict:
        """The first frame whose `type` is `match` (a string), or for which `match(frame)` is
        true; frames passed over stay in the backlog, in order."""
        pred = match if callable(match) else (lambda f: f.get("type") == match)
        for i, f in enumerate(self.backlog):
            if pred(f):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.label}: no frame matching {match!r} within {timeout} s;"
                                   f" last passed over: {self.backlog[-10:]!r}")
            try:
                f = self._recv_network(left)
            except TimeoutError:
                continue
            if pred(f):
                return f
            self.backlog.append(f)

    def recv_type(self, type_, timeout=DEFAULT_TIMEOUT_S) -> dict:
        """The first frame of this `type` (others stay in the backlog)."""
        return self.recv_until(type_, timeout)

    def recv_types(self, types, timeout=DEFAULT_TIMEOUT_S) -> dict:
        """One frame of each type in `types`, in any order: {type: frame}."""
        out = {}
        deadline = time.monotonic() + timeout
        for t in types:
            out[t] = self.recv_until(t, max(0.01, deadline - time.monotonic()))
        return out

    def collect(self, seconds=0.5, types=None) -> list:
        """The backlog plus every frame that arrives within `seconds`; with `types`, only frames
        of those types (the others stay in the backlog)."""
        got = self.backlog
        self.backlog = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                got.append(self._recv_network(left))
            except TimeoutError:
                break
        if types is None:
            return got
        keep = [f for f in got if f.get("type") in types]
        self.backlog = [f for f in got if f.get("type") not in types]
        return keep

    def frames(self, seconds=0.5) -> list:
        """Everything pending or arriving within `seconds` (the backlog is emptied)."""
        return self.collect(seconds)

    def drain(self, seconds=0.2) -> list:
        """Discards what is pending and what arrives within `seconds`; returns it."""
        return self.collect(seconds)

    def request(self, frame, reply_type=None, timeout=DEFAULT_TIMEOUT_S) -> dict:
        """Sends a request and returns its answer: the first frame of `reply_type` (default: any
        reply of §8.3) or `error` whose request_id is the request's (when it has one)."""
        self.send_json(frame)
        rid = frame.get("request_id") if isinstance(frame, dict) else None
        wanted = REPLY_TYPES if reply_type is None else {reply_type, "error"}

        def pred(f):
            if f.get("type") not in wanted:
                return False
            return rid is None or f.get("request_id") == rid

        return self.recv_until(pred, timeout)

    def ping(self, timeout=DEFAULT_TIMEOUT_S) -> dict:
        """A ping/pong round trip: the socket is open and the server still reads it."""
        rid = "ping-%d" % time.monotonic_ns()
        pong = self.request({"message_type": "ping", "request_id": rid}, "pong", timeout)
        assert pong["type"] == "pong", pong
        return pong

    # --- closing ------------------------------------------------------------------------------

    def close_code(self):
        return self.conn.close_code

    def wait_closed(self, timeout=DEFAULT_TIMEOUT_S):
        """Reads (discarding frames) until the server closes; returns the close code."""
        self.backlog = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.label}: still open after {timeout} s")
            try:
                self._recv_network(left)
            except Closed as e:
                return e.code
            except TimeoutError:
                continue

    @property
    def open(self) -> bool:
        return self.conn.open

    def close(self) -> None:
        try:
            _run(self.conn.close(), DEFAULT_TIMEOUT_S)
        except Exception:
            pass

    def abort(self) -> None:
        """Drops the TCP connection without a closing handshake."""
        _event_loop().call_soon_threadsafe(self.conn.transport.abort)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(server, token, *, how="query", path=WS_PATH, origin=None, wait_hello=True,
            max_size=2 ** 24, max_queue=None, read_limit=2 ** 16, label="",
            timeout=DEFAULT_TIMEOUT_S, extra_headers=None) -> WsClient:
    """Opens the WebSocket with the token as `?token=` (how="query"), an Authorization header
    ("header") or the `bearer, <token>` subprotocol ("subprotocol"), and by default waits for
    `hello`. `max_queue`/`read_limit` bound what the client buffers before it stops reading (a
    stalled consumer)."""
    headers = dict(extra_headers or {})
    subprotocols = None
    if how == "query":
        url = ws_url(server, token, path)
    else:
        url = ws_url(server, None, path)
        if how == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif how == "subprotocol":
            subprotocols = ["bearer", token]
        else:
            raise ValueError(how)

    async def open_it():
        return await websockets.connect(
            url, compression=None, ping_interval=None, max_size=max_size, max_queue=max_queue,
            read_limit=read_limit, open_timeout=timeout, close_timeout=2, origin=origin,
            extra_headers=headers or None, subprotocols=subprotocols)

    conn = _run(open_it(), timeout)
    client = WsClient(conn, label or str(getattr(server, "name", "")))
    if wait_hello:
        client.hello = client.recv_until("hello", timeout)
    return client


def handshake(server, path=WS_PATH, headers=None, upgrade=True, timeout=DEFAULT_TIMEOUT_S):
    """One upgrade request over a plain socket: (status, headers with lowercase names, JSON body
    or None). A 101 is answered by closing the connection."""
    parsed = urllib.parse.urlsplit(server.base_url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=timeout)
    try:
        lines = [f"GET {path} HTTP/1.1", f"Host: {parsed.netloc}"]
        if upgrade:
            lines += ["Upgrade: websocket", "Connection: Upgrade",
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
        else:
            lines.append("Connection: close")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        resp = http.client.HTTPResponse(sock, method="GET")
        resp.begin()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if resp.status == 101:
            return 101, hdrs, None
        data = resp.read()
        body = json.loads(data) if data else None
        return resp.status, hdrs, body
    finally:
        sock.close()


def handshake_status(server, token=None, path=WS_PATH) -> int:
    """The status of an upgrade with `?token=` (101 when accepted)."""
    if token is not None:
        path = path + ("&" if "?" in path else "?") + "token=" + urllib.parse.quote(token, safe="")
    return handshake(server, path=path)[0]


def presence_of(user_id, status=None):
    """A recv_until predicate: a user_presence frame of user_id (with that status if given)."""
    return lambda f: (f.get("type") == "user_presence" and f.get("user_id") == user_id
                      and (status is None or f.get("status") == status))


def assert_hello_then_own_online(server, user, watcher, label="", team_id=None):
    """Opens a socket for user and checks `hello` is its very first frame and the user's own
    online user_presence follows (in team_id when given); closes it and waits until watcher has
    seen the user go offline, so the next socket is an online transition again (§8.1)."""
    sock = connect(server, user["access"], wait_hello=False, label=label)
    try:
        first = sock.recv(5)
        assert first.get("type") == "hello", (label, first)
        assert first["user_id"] == user["id"], first
        own = sock.recv_until(presence_of(user["id"]), 5)
        assert own["status"] == "online", own
        if team_id is not None:
            assert own["team_id"] == team_id, own
    finally:
        sock.close()
    watcher.recv_until(presence_of(user["id"], "offline"), 5)
