"""Attacks on the size of what the server keeps and sends (issue #13, items 4 and 9), reusable by
bench scenarios: long edits of one message (each `message_edited` frame carries the whole edit
history and is retained for resume), and slow readers of the largest history pages over REST and
the WebSocket. Loopback only; every driver is bounded in count and time.
"""
import concurrent.futures
import contextlib
import socket
import threading
import time

from support.client import api
from support.frames import MESSAGES
from support.ws import connect

# 10,000 code points that JSON escapes to 6 bytes each (\u0001): refused since §6.1 refuses C0
# controls other than tab, line feed and carriage return.
ESCAPING_CONTENT = "\u0001" * 10000
# 10,000 code points of 4 bytes each (U+1F600): the largest content allowed, 40,000 bytes.
WIDE_CONTENT = "\U0001F600" * 10000


def wide_content(tag: str) -> str:
    """A distinct content of 10,000 four-byte code points (an edit must change the content)."""
    return tag + "\U0001F600" * (10000 - len(tag))


def long_edits(server, account, message_id: int, count: int, duration_s: float,
               content=wide_content, interval_s: float = 0.0) -> list:
    """Edits one message up to `count` times within `duration_s` (PATCH .../edit_message/, each
    content `content(str(i))`), one every `interval_s` at most; returns the status codes."""
    r = api(server, account["access"])
    statuses = []
    deadline = time.monotonic() + duration_s
    for i in range(count):
        if time.monotonic() > deadline:
            break
        resp = r.patch(f"{MESSAGES}{message_id}/edit_message/", json={"content": content(f"{i}:")},
                       timeout=30)
        statuses.append(resp.status_code)
        if interval_s:
            time.sleep(interval_s)
    return statuses


def post_many(server, account, channel_id: int, count: int, content=wide_content,
              threads: int = 4) -> list:
    """Posts `count` messages (content(str(i))) over REST from `threads` threads; returns the
    status codes."""
    r = [api(server, account["access"]) for _ in range(threads)]

    def one(i):
        return r[i % threads].post(MESSAGES, json={"channel": channel_id,
                                                   "content": content(f"{i}:")},
                                   timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


class SlowRestReaders:
    """`count` raw HTTP connections that each request `path` (a history page) and then read the
    response `chunk` bytes every `interval_s` through a small receive buffer, requesting the page
    again whenever one is complete, until stopped or `duration_s` passed. `responses` counts the
    complete responses, `bytes_read` what was read."""

    def __init__(self, server, token: str, path: str, count: int, duration_s: float,
                 chunk: int = 16384, interval_s: float = 0.05):
        self.server, self.token, self.path = server, token, path
        self.count, self.duration_s = count, duration_s
        self.chunk, self.interval_s = chunk, interval_s
        self.responses = 0
        self.bytes_read = 0
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def _request(self) -> bytes:
        return (f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.server.port}\r\n"
                f"Authorization: Bearer {self.token}\r\n\r\n").encode()

    def _one(self):
        deadline = time.monotonic() + self.duration_s
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            s.connect(("127.0.0.1", self.server.port))
        except OSError as e:
            self.errors.append(f"connect: {e}")
            return
        with contextlib.closing(s):
            pending = b""
            left = None  # body bytes still to read of the current response
            s.sendall(self._request())
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    data = s.recv(self.chunk)
                except socket.timeout:
                    continue
                except OSError as e:
                    self.errors.append(f"recv: {e}")
                    return
                if not data:
                    return  # the server closed (a write deadline may do that)
                with self._lock:
                    self.bytes_read += len(data)
                if left is None:
                    pending += data
                    head, sep, body = pending.partition(b"\r\n\r\n")
                    if not sep:
                        continue
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v)
                    left = length - len(body)
                    pending = b""
                else:
                    left -= len(data)
                if left is not None and left <= 0:
                    with self._lock:
                        self.responses += 1
                    left = None
                    s.sendall(self._request())
                self._stop.wait(self.interval_s)

    def start(self):
        for i in range(self.count):
            t = threading.Thread(target=self._one, name=f"slow-rest-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(15)


def stalled_ws_history_readers(server, token: str, channel_id: int, count: int,
                               requests_each: int) -> list:
    """Opens `count` sockets that never read (a 4 KiB read limit, one queued message) and send
    `requests_each` get_channel_messages limit=1000 each. Returns the sockets; the caller aborts
    them."""
    socks = []
    for i in range(count):
        sock = connect(server, token, max_queue=1, read_limit=2 ** 12, label=f"stalled-{i}")
        for _ in range(requests_each):
            with contextlib.suppress(Exception):
                sock.send_json({"message_type": "get_channel_messages", "channel_id": channel_id,
                                "limit": 1000})
        socks.append(sock)
    return socks
