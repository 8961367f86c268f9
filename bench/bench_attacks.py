"""The attacks of bench/abuse.py, each built from the end-to-end suite's drivers
(tests/support/attacks_*.py) at the issue's sizes. An entry is {"env": settings the attack needs
to be reachable at this scale (none: the defaults), "run": callable(server) that performs it}.
Everything stays on loopback; attackers use 127.0.0.2 and up, the legitimate user 127.0.0.1."""
import threading
import time

from support import attacks_auth, attacks_connections, attacks_content, attacks_ws
from support.client import api, bearer, register
from support.frames import World, post
from support.teams import add_member, create_channel, team_with
from support.ws import connect

RATES_OFF = {"PARLEY_RATE_MESSAGES": "off", "PARLEY_RATE_WS": "off", "PARLEY_RATE_API": "off"}


def slow_headers(srv):
    """2,000 connections that dribble a request head (the per-address cap turns most away)."""
    attacks_connections.slow_headers(srv, count=2000, duration_s=15)


def idle_connections(srv):
    """4,000 idle connections from 16 loopback addresses, held 10 s."""
    attacks_connections.raise_own_fd_limit(4500)
    held = []
    try:
        for i in range(16):
            held += attacks_connections.open_many(srv, 250, source=f"127.0.0.{i + 2}")
        time.sleep(10)
    finally:
        attacks_connections.close_all(held)


def slow_bodies(srv):
    """20 JSON bodies and 20 uploads sent at one byte a second, for 15 s."""
    uploader = register(srv)
    upload = {"Content-Type": "multipart/form-data; boundary=xyz", **bearer(uploader["access"])}
    json_ = {"Content-Type": "application/json"}
    threads = []
    for i in range(40):
        path, headers = ("/api/auth/login/", json_) if i % 2 else ("/api/chat/upload-file/", upload)
        threads.append(threading.Thread(target=attacks_connections.slow_body,
                                        args=(srv, path, headers, 100000, 15)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def parallel_upgrades(srv):
    """200 parallel upgrades of one user, 14 times (the cap is 50)."""
    victim = register(srv)
    for _ in range(14):
        attacks_ws.parallel_upgrades(srv, victim["access"], count=200, hold_s=0.5)


def stalled_sockets(srv):
    """8 sockets that never read while 5 posters keep their channel busy (1,000 × 8 KB)."""
    w = World(srv, dm_channel=False)
    stalled = [register(srv) for _ in range(8)]
    posters = [register(srv) for _ in range(5)]
    for u in stalled + posters:
        add_member(srv, w.alice, w.team["id"], u)
    socks = attacks_ws.stalled_readers(srv, [u["access"] for u in stalled])
    senders = [connect(srv, u["access"], label=f"poster{i}") for i, u in enumerate(posters)]
    try:
        threads = [threading.Thread(target=attacks_ws.flood_channel,
                                    args=(s, w.general["id"], 200, 8000, 25, 60.0, f"p{i}"))
                   for i, s in enumerate(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in socks + senders:
            s.abort()


def long_edits(srv):
    """110 edits of one message with the longest content a member receives."""
    alice, bob = register(srv), register(srv)
    team = team_with(srv, alice, bob)
    ch = create_channel(srv, alice, team["id"], name="edits")["id"]
    m = post(srv, alice, ch, attacks_content.WIDE_CONTENT)
    member = connect(srv, bob["access"], max_size=2 ** 20, label="member")
    try:
        statuses = attacks_content.long_edits(srv, alice, m["id"], count=110, duration_s=60)
        assert statuses == [200] * 110, statuses
    finally:
        member.abort()


def login_flood(srv):
    """2,000 logins from one address, right and wrong passwords."""
    victims = [register(srv) for _ in range(3)]
    attacks_auth.login_flood(srv, victims, count=2000, duration_s=15, threads=24)


def login_flood_forged(srv):
    """2,000 logins, each with a forged X-Forwarded-For, from a trusted proxy's address."""
    victims = [register(srv) for _ in range(3)]
    n = iter(range(10 ** 9))
    attacks_auth.login_flood(
        srv, victims, count=2000, duration_s=15, threads=24,
        headers_of=lambda i: {"X-Forwarded-For": f"198.51.{next(n) % 250}.{i % 250}"})


def history_readers(srv):
    """48 slow readers of limit=1000 pages of 40 KB messages and 10 WebSocket readers that never
    read, for 15 s."""
    alice = register(srv)
    team = team_with(srv, alice)
    ch = create_channel(srv, alice, team["id"], name="big")["id"]
    attacks_content.post_many(srv, alice, ch, 300)
    path = f"/api/chat/channels/{ch}/messages/?limit=1000"
    readers = attacks_content.SlowRestReaders(srv, alice["access"], path, count=48,
                                              duration_s=15).start()
    stalled = attacks_content.stalled_ws_history_readers(srv, alice["access"], ch, count=10,
                                                         requests_each=20)
    try:
        time.sleep(15)
    finally:
        readers.stop()
        for s in stalled:
            s.abort()


def uploads_to_quota(srv):
    """One user uploads 1 MiB files until the quota refuses them (a 64 MiB quota here)."""
    user = register(srv)
    r = api(srv, user["access"])
    blob = b"\0" * (1024 * 1024)
    for i in range(80):
        r.post("/api/chat/upload-file/", files={"file": (f"f{i}.bin", blob)})


ATTACKS = {
    "slow_headers": {"run": slow_headers},
    "idle_connections": {"run": idle_connections},
    "slow_bodies": {"run": slow_bodies},
    "parallel_upgrades": {"run": parallel_upgrades},
    "stalled_sockets": {"run": stalled_sockets, "env": RATES_OFF},
    "long_edits": {"run": long_edits},
    "login_flood": {"run": login_flood},
    "login_flood_forged": {"run": login_flood_forged, "env": {"PARLEY_TRUST_PROXY": "true"}},
    "history_readers": {"run": history_readers, "env": RATES_OFF},
    "uploads_to_quota": {"run": uploads_to_quota,
                         "env": {"PARLEY_UPLOAD_QUOTA_BYTES": str(64 * 1024 * 1024),
                                 "PARLEY_RATE_API": "off"}},
}
