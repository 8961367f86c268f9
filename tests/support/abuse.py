"""Support for the abuse suite (tests/e2e/test_abuse_*.py): a legitimate user who keeps chatting
while an attack runs, and the server's resources read from /proc.

    probe = LegitUser(srv)              # registers a user, a team and a channel, opens a socket
    with probe.running():               # a background thread: every 200 ms one REST call and one
        attack(...)                     # WebSocket message whose own event is awaited
    probe.assert_served(p99_s=1.0)      # every call succeeded, p99 under the bound

Attacks stay on loopback and are bounded in count and time (the developers' guide). Nothing here
asserts an attack's own outcome: each test does that.
"""
import contextlib
import os
import threading
import time

from support.client import api, register
from support.teams import create_channel, create_team
from support.ws import connect

PROBE_INTERVAL_S = 0.2
# A legitimate call slower than this counts as failed (the tests' p99 bounds are lower).
PROBE_TIMEOUT_S = 10.0
# AddressSanitizer keeps freed memory in quarantine (256 MiB by default) and pads allocations.
ASAN = "ASAN_OPTIONS" in os.environ
ASAN_EXTRA_KIB = 384 * 1024


def rss_kib(pid: int) -> int:
    """Resident set size of a process (VmRSS), KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def fd_count(pid: int) -> int:
    """Open file descriptors of a process."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_bound_kib(mib: int) -> int:
    """A growth bound in KiB, widened on the sanitizer build."""
    return mib * 1024 + (ASAN_EXTRA_KIB if ASAN else 0)


def percentile(values, q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


class RssWatch:
    """Samples a process's RSS in a background thread; `peak_growth_kib` over the start value."""

    def __init__(self, pid: int, interval_s: float = 0.1):
        self.pid = pid
        self.interval_s = interval_s
        self.start_kib = rss_kib(pid)
        self.peak_kib = self.start_kib
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-watch", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval_s):
            try:
                self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            except (OSError, AssertionError):
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        try:
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
        except (OSError, AssertionError):
            pass
        return self.peak_growth_kib

    @property
    def peak_growth_kib(self) -> int:
        return self.peak_kib - self.start_kib


class LegitUser:
    """A user with a team, a channel and an open socket who, while `running()`, makes one REST
    call (`GET /api/chat/teams/`) and sends one WebSocket message (timed until its own event
    arrives) every PROBE_INTERVAL_S. Failures and latencies are recorded, never raised in the
    thread; `assert_served` checks them afterwards."""

    def __init__(self, server, account=None):
        self.server = server
        self.account = account or register(server)
        self.team = create_team(server, self.account, name="probe")
        self.channel = create_channel(server, self.account, self.team["id"], name="probe")
        self.rest = api(server, self.account["access"])
        self.sock = connect(server, self.account["access"], label="legit")
        self.rest_s = []
        self.ws_s = []
        self.failures = []
        self._stop = threading.Event()
        self._seq = 0

    def _rest_once(self):
        t0 = time.monotonic()
        try:
            r = self.rest.get("/api/chat/teams/", timeout=PROBE_TIMEOUT_S)
            if r.status_code != 200:
                self.failures.append(f"REST {r.status_code}: {r.text[:200]}")
                return
        except Exception as e:  # noqa: BLE001 (recorded, asserted later)
            self.failures.append(f"REST {type(e).__name__}: {e}")
            return
        self.rest_s.append(time.monotonic() - t0)

    def _ws_once(self):
        self._seq += 1
        marker = f"legit-{self._seq}"
        t0 = time.monotonic()
        try:
            self.sock.send_json({"message_type": "channel_message", "channel": self.channel["id"],
                                 "content": marker})
            self.sock.recv_until(
                lambda f: f.get("type") == "channels" and f.get("content") == marker,
                PROBE_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001
            self.failures.append(f"WS {type(e).__name__}: {e}")
            return
        self.ws_s.append(time.monotonic() - t0)

    def _loop(self):
        while not self._stop.is_set():
            started = time.monotonic()
            self._rest_once()
            self._ws_once()
            left = PROBE_INTERVAL_S - (time.monotonic() - started)
            if left > 0:
                self._stop.wait(left)

    @contextlib.contextmanager
    def running(self):
        """Probes in a background thread for the duration of the block."""
        self._stop.clear()
        thread = threading.Thread(target=self._loop, name="legit-user", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(PROBE_TIMEOUT_S * 2 + 5)

    def sample(self, rounds: int = 5):
        """A few probes in the foreground (for a baseline or right after an attack)."""
        for _ in range(rounds):
            self._rest_once()
            self._ws_once()

    def summary(self) -> dict:
        return {
            "rest_n": len(self.rest_s), "ws_n": len(self.ws_s), "failures": len(self.failures),
            "rest_p50_ms": percentile(self.rest_s, 0.5) * 1000,
            "rest_p99_ms": percentile(self.rest_s, 0.99) * 1000,
            "ws_p50_ms": percentile(self.ws_s, 0.5) * 1000,
            "ws_p99_ms": percentile(self.ws_s, 0.99) * 1000,
        }

    def assert_served(self, p99_s: float = 1.0, min_rounds: int = 3):
        """Every probe succeeded, at least `min_rounds` of each ran, and both p99s are under the
        bound."""
        s = self.summary()
        assert not self.failures, (self.failures[:5], s)
        assert s["rest_n"] >= min_rounds and s["ws_n"] >= min_rounds, s
        assert s["rest_p99_ms"] <= p99_s * 1000, s
        assert s["ws_p99_ms"] <= p99_s * 1000, s
        return s

    def close(self):
        self._stop.set()
        with contextlib.suppress(Exception):
            self.sock.close()
