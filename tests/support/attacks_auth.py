"""Attacks on authentication and its rate limits (tests/e2e/test_abuse_auth.py; reusable by a
bench scenario): a login flood from one address, logins under forged X-Forwarded-For entries, and
many distinct forged addresses sent as fast as a few pipelined connections allow.

Everything stays on 127.0.0.1 and is bounded in count and time.
"""
import collections
import concurrent.futures
import http.client
import json
import random
import socket
import threading
import time
import urllib.parse

import requests

LOGIN = "/api/auth/login/"


def random_ipv4(rng: random.Random) -> str:
    """A public-looking IPv4 address (documentation ranges are too small for thousands)."""
    return f"{rng.randint(11, 99)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


class LoginOutcome:
    """Status counts and latencies of an attack's logins, by status."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_status = collections.Counter()
        self.latency_s = collections.defaultdict(list)
        self.errors = []

    def record(self, status: int, seconds: float):
        with self._lock:
            self.by_status[status] += 1
            self.latency_s[status].append(seconds)

    def error(self, text: str):
        with self._lock:
            self.errors.append(text)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def __repr__(self):
        return f"LoginOutcome({dict(self.by_status)}, errors={len(self.errors)})"


def login_flood(server, accounts, count: int = 500, duration_s: float = 10.0, threads: int = 16,
                headers_of=None, seed: int = 1) -> LoginOutcome:
    """`count` logins spread over about `duration_s` from `threads` concurrent clients. Each
    login picks one of `accounts` (dicts with username and password) and, every other time, a
    wrong password, or an unknown username. `headers_of(i)` may add headers to login `i`."""
    out = LoginOutcome()
    rng = random.Random(seed)
    plan = []
    for i in range(count):
        acct = accounts[i % len(accounts)]
        kind = i % 3
        if kind == 0:
            body = {"username": acct["username"], "password": acct["password"]}
        elif kind == 1:
            body = {"username": acct["username"], "password": f"wrong-{rng.random()}"}
        else:
            body = {"username": f"nobody-{rng.randrange(10**9)}", "password": "whatever-123"}
        plan.append(body)
    url = server.url(LOGIN)
    start = time.monotonic()
    interval = duration_s / max(1, count)

    def one(i):
        # Paced: login i starts no earlier than its slot, so the flood lasts about duration_s.
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        headers = headers_of(i) if headers_of else None
        t0 = time.monotonic()
        try:
            r = requests.post(url, json=plan[i], headers=headers, timeout=30)
            out.record(r.status_code, time.monotonic() - t0)
        except requests.RequestException as e:
            out.error(f"{type(e).__name__}: {e}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(count)))
    return out


def logins_with_forwarded_for(server, username: str, password: str, forwarded_for, count: int):
    """`count` sequential logins; login i sends `X-Forwarded-For: forwarded_for(i)` (None: no
    header). Returns the list of (status, json body)."""
    results = []
    url = server.url(LOGIN)
    with requests.Session() as s:
        for i in range(count):
            xff = forwarded_for(i)
            headers = {"X-Forwarded-For": xff} if xff is not None else {}
            r = s.post(url, json={"username": username, "password": password}, headers=headers,
                       timeout=30)
            results.append((r.status_code, r.json() if r.content else None))
    return results


def logins_from(host: str, port: int, source_ip: str, username: str, password: str,
                forwarded_for, count: int):
    """Like logins_with_forwarded_for, but each connection comes from `source_ip` (a loopback
    address other than 127.0.0.1), to `host:port` (for example nginx in front of the server)."""
    results = []
    for i in range(count):
        conn = http.client.HTTPConnection(host, port, timeout=30, source_address=(source_ip, 0))
        try:
            headers = {"Content-Type": "application/json"}
            xff = forwarded_for(i)
            if xff is not None:
                headers["X-Forwarded-For"] = xff
            conn.request("POST", LOGIN, body=json.dumps({"username": username,
                                                        "password": password}), headers=headers)
            r = conn.getresponse()
            data = r.read()
            results.append((r.status, json.loads(data) if data else None))
        finally:
            conn.close()
    return results


def _read_responses(sock, count: int, deadline: float) -> collections.Counter:
    """Reads `count` HTTP/1.1 responses (Content-Length bodies) from a pipelined connection."""
    statuses = collections.Counter()
    buf = b""
    while count > 0:
        head_end = buf.find(b"\r\n\r\n")
        if head_end < 0:
            if time.monotonic() > deadline:
                raise TimeoutError("responses did not arrive in time")
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
            continue
        head = buf[:head_end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        total = head_end + 4 + length
        while len(buf) < total:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        statuses[int(head.split(" ", 2)[1])] += 1
        buf = buf[total:]
        count -= 1
    return statuses


def distinct_forwarded_keys(server, count: int = 50_000, connections: int = 8, batch: int = 100,
                            junk_bytes: int = 2048, time_limit_s: float = 60.0,
                            seed: int = 7) -> collections.Counter:
    """`count` logins with an empty body (400 before any hashing, but after the per-address rate
    limit counted them), each under a different forged address: `X-Forwarded-For: <junk_bytes of
    unique text>, <unique IPv4>`. A server that keyed its limits on the leftmost entry keeps
    `count` keys of junk_bytes each; one that keys on the rightmost untrusted entry keeps short
    ones. Requests are pipelined `batch` at a time over `connections` keep-alive connections.
    Returns the count of responses by status."""
    parsed = urllib.parse.urlsplit(server.base_url)
    per_conn = count // connections
    deadline = time.monotonic() + time_limit_s
    totals = collections.Counter()
    lock = threading.Lock()

    def run(conn_index: int):
        rng = random.Random(seed * 1000 + conn_index)
        sock = socket.create_connection((parsed.hostname, parsed.port), timeout=30)
        try:
            sent = 0
            while sent < per_conn:
                n = min(batch, per_conn - sent)
                reqs = []
                for k in range(n):
                    tag = f"{conn_index}-{sent + k}-"
                    junk = (tag + "x" * junk_bytes)[:junk_bytes]
                    xff = f"{junk}, {random_ipv4(rng)}"
                    reqs.append((f"POST {LOGIN} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
                                 f"Content-Type: application/json\r\nContent-Length: 2\r\n"
                                 f"X-Forwarded-For: {xff}\r\n\r\n{{}}").encode("latin-1"))
                sock.sendall(b"".join(reqs))
                got = _read_responses(sock, n, deadline)
                with lock:
                    totals.update(got)
                sent += n
        finally:
            sock.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=connections) as pool:
        for f in [pool.submit(run, i) for i in range(connections)]:
            f.result()
    return totals
