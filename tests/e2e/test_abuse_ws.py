"""Hostile load on the WebSocket (issue #13 items 3, 10, 11; API.md §8.1, §8.2, §8.8): one user's
parallel upgrades never pass the per-user cap; sockets that never read are closed with 4008 by
their own budget and, past the process-wide one, the largest holders first; a socket that reads
is never closed because its first second was held; a frame Redis could not take is announced
with resync_required. A legitimate user keeps being served and memory stays bounded."""
import os
import threading
import time

import pytest
import websockets.exceptions

from support.abuse import LegitUser, RssWatch, rss_bound_kib
from support.attacks_ws import flood_channel, parallel_upgrades, stalled_readers
from support.client import register
from support.frames import World, post
from support.teams import add_member, create_channel, create_team
from support.ws import Closed, connect

CAP = 50
SIZE = 8000  # characters per flood message (the frame is a little larger)


def read_channel(sock, channel_id, until_offset, timeout=30):
    """Reads the socket's frames until the channel's stream frame `until_offset` (or a close);
    returns (offsets of its stream frames in order, resync frames, close code or None)."""
    offsets, resyncs = [], []
    deadline = time.monotonic() + timeout
    while not offsets or offsets[-1] < until_offset:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            f = sock.recv(left)
        except Closed as e:
            return offsets, resyncs, e.code
        except TimeoutError:
            break
        if f.get("channel_id") != channel_id or "offset" not in f:
            continue
        if f.get("type") == "resync_required":
            resyncs.append(f)
        offsets.append(f["offset"])
    return offsets, resyncs, None


def connect_retrying(srv, token, label, within_s=10.0):
    """connect(), retried while the handshake is refused with 429 (slots still returning)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return connect(srv, token, label=label)
        except websockets.exceptions.InvalidStatusCode as e:
            if e.status_code != 429 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def contiguous(offsets) -> bool:
    return offsets == list(range(offsets[0], offsets[0] + len(offsets))) if offsets else False


def test_parallel_upgrades_of_one_user_never_pass_the_cap(fresh_server):
    srv = fresh_server(env={"PARLEY_WS_MAX_CONNECTIONS_PER_USER": str(CAP)})
    probe = LegitUser(srv)
    victim = register(srv)
    watch = RssWatch(srv.proc.pid)
    rounds = []
    with probe.running():
        for _ in range(3):
            stats = parallel_upgrades(srv, victim["access"], count=200, hold_s=0.5)
            rounds.append(stats)
            assert stats["max_open"] <= CAP, rounds
            assert stats["accepted"] >= 1, rounds
            assert stats["errors"] == 0, rounds
            assert stats["accepted"] + stats["refused"].get(429, 0) == 200, rounds
    growth = watch.stop()
    probe.assert_served(p99_s=1.0)
    assert growth < rss_bound_kib(100), growth
    # Every slot came back (a closed socket's slot returns when its session ends, a moment
    # after the close handshake): the user can open CAP sockets again.
    socks = [connect_retrying(srv, victim["access"], f"again{i}") for i in range(CAP)]
    for s in socks:
        s.close()
    assert srv.running
    probe.close()


def test_stalled_readers_of_a_busy_channel_get_4008_and_others_are_served(fresh_server):
    queue = 262_144
    srv = fresh_server(env={"PARLEY_WS_SEND_QUEUE_BYTES": str(queue), "PARLEY_LOG_LEVEL": "info"})
    probe = LegitUser(srv)
    w = World(srv, dm_channel=False)
    stalled_users = [register(srv) for _ in range(4)]
    for u in stalled_users:
        add_member(srv, w.alice, w.team["id"], u)
    ch = w.general["id"]
    sender = connect(srv, w.alice["access"], label="sender")
    stalled = stalled_readers(srv, [u["access"] for u in stalled_users])
    watch = RssWatch(srv.proc.pid)
    try:
        with probe.running():
            seen = flood_channel(sender, ch, count=1000, size=SIZE, batch=25)
            deadline = time.monotonic() + 15
            log = srv.log_text()
            for s in stalled:
                marker = f"{s.hello['connection_id']}: more than {queue} bytes waiting"
                while marker not in log:
                    assert time.monotonic() < deadline, f"{s.label} was not closed as slow"
                    time.sleep(0.2)
                    log = srv.log_text()
            time.sleep(1.0)  # the legitimate user keeps chatting meanwhile
        assert contiguous([o for o, _ in seen]) and len(seen) == 1000
        growth = watch.stop()
        probe.assert_served(p99_s=1.0)
        assert growth < rss_bound_kib(200), growth
        assert f"{sender.hello['connection_id']}: more than" not in log
        sender.ping()
    finally:
        for s in [sender, *stalled]:
            s.close()
        probe.close()
    assert srv.running


def test_past_the_process_wide_budget_the_largest_holders_are_closed_first(fresh_server):
    # Per socket 64 MiB: no socket here reaches it. All outboxes together: 1 MiB.
    srv = fresh_server(env={"PARLEY_WS_SEND_QUEUE_BYTES": str(64 << 20),
                            "PARLEY_WS_OUTBOX_TOTAL_BYTES": str(1 << 20),
                            "PARLEY_LOG_LEVEL": "info"})
    probe = LegitUser(srv)
    # Two teams: `busy` floods the big holder's channel, `quiet` gives the small one a little.
    busy_owner, big = register(srv), register(srv)
    quiet_owner, small = register(srv), register(srv)
    busy_team = create_team(srv, busy_owner, name="busy")
    add_member(srv, busy_owner, busy_team["id"], big)
    busy_ch = create_channel(srv, busy_owner, busy_team["id"], name="busy")["id"]
    quiet_team = create_team(srv, quiet_owner, name="quiet")
    add_member(srv, quiet_owner, quiet_team["id"], small)
    quiet_ch = create_channel(srv, quiet_owner, quiet_team["id"], name="quiet")["id"]
    busy_sender = connect(srv, busy_owner["access"], label="busy-sender")
    quiet_sender = connect(srv, quiet_owner["access"], label="quiet-sender")
    big_sock, small_sock = stalled_readers(srv, [big["access"], small["access"]])
    watch = RssWatch(srv.proc.pid)
    try:
        shed = "the most of all sockets, while all together pass 1048576 bytes"
        with probe.running():
            quiet = flood_channel(quiet_sender, quiet_ch, count=50, size=SIZE, batch=25)
            flood_channel(busy_sender, busy_ch, count=1000, size=SIZE, batch=25)
            deadline = time.monotonic() + 15
            while shed not in srv.log_text():
                assert time.monotonic() < deadline, "nobody was closed past the total budget"
                time.sleep(0.2)
            time.sleep(1.0)  # the legitimate user keeps chatting meanwhile
        growth = watch.stop()
        probe.assert_served(p99_s=1.0)
        assert growth < rss_bound_kib(200), growth
        log = srv.log_text()
        big_line = [ln for ln in log.splitlines() if shed in ln]
        assert any(big_sock.hello["connection_id"] in ln for ln in big_line), big_line
        for s in (small_sock, busy_sender, quiet_sender, probe.sock):
            assert not any(s.hello["connection_id"] in ln for ln in big_line), (s.label, big_line)
        # The small holder kept its socket and gets every frame of its channel, in order.
        offsets, resyncs, code = read_channel(small_sock, quiet_ch, quiet[-1][0])
        assert code is None and not resyncs
        assert offsets == [o for o, _ in quiet]
        small_sock.ping()
    finally:
        for s in (busy_sender, quiet_sender, big_sock, small_sock):
            s.close()
        probe.close()
    assert srv.running


def test_a_socket_held_at_connect_on_a_busy_channel_is_never_closed_while_it_reads(fresh_server):
    # A small budget: the first second's frames of the busy channel pass it while they are held.
    queue = 262_144
    srv = fresh_server(env={"PARLEY_WS_SEND_QUEUE_BYTES": str(queue), "PARLEY_LOG_LEVEL": "info"})
    probe = LegitUser(srv)
    w = World(srv, dm_channel=False)
    ch = w.general["id"]
    senders = [connect(srv, a["access"], label=f"sender{i}")
               for i, a in enumerate((w.alice, w.bob))]
    results, errors = {}, []

    def flood(i, sock):
        try:
            results[i] = flood_channel(sock, ch, count=80, size=SIZE, batch=40, prefix=f"s{i}")
        except Exception as e:  # noqa: BLE001 (asserted below)
            errors.append(e)

    watch = RssWatch(srv.proc.pid)
    try:
        with probe.running():
            # The new socket: it reads (the client takes every frame as it comes) and sends
            # nothing, so the server holds its event frames for up to a second while the
            # senders post 1.28 MB to its channel.
            reader = connect(srv, w.carol["access"], label="held-reader")
            connected = time.monotonic()
            threads = [threading.Thread(target=flood, args=(i, s)) for i, s in enumerate(senders)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            time.sleep(max(0.0, connected + 1.2 - time.monotonic()))
            assert not errors, errors
            last = max(max(o for o, _ in r) for r in results.values())
            offsets, resyncs, code = read_channel(reader, ch, last)
        growth = watch.stop()
        probe.assert_served(p99_s=1.0)
        assert growth < rss_bound_kib(200), growth
        assert code is None, f"the reading socket was closed with {code}"
        assert not resyncs
        assert offsets and offsets[-1] == last and contiguous(offsets), offsets[:5]
        assert len(offsets) == 160, len(offsets)
        assert f"{reader.hello['connection_id']}: more than" not in srv.log_text()
        reader.ping()
        reader.close()
    finally:
        for s in senders:
            s.close()
        probe.close()
    assert srv.running


needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("PARLEY_REDIS_CLI"),
    reason="needs Redis: the scale-out run (scripts/test --backend scaleout) provides it")


@needs_redis
def test_frames_redis_could_not_take_are_announced_with_resync_required(fresh_server):
    from support.cluster import redis_ctl
    db = 9  # a Redis database of its own, so channel ids cannot meet another server's
    redis_ctl("cli", "-n", str(db), "FLUSHDB")
    url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{db}"
    # At most 16 KiB of stream frames waiting for Redis: four 4 KB frames.
    srv = fresh_server(env={"REDIS_URL": url, "PARLEY_REDIS_BACKLOG_BYTES": "16384",
                            "PARLEY_LOG_LEVEL": "info"})
    w = World(srv, dm_channel=False)
    ch = w.general["id"]
    reader = connect(srv, w.bob["access"], label="reader")
    reader.ping()  # its first frame: nothing is held any more
    first = post(srv, w.alice, ch, "before the pause")
    watch = RssWatch(srv.proc.pid)
    # Redis takes no write for 2 s (PING still answered, so the connection stays): the stream
    # script of every post waits. No legitimate-user probe here: while Redis takes no write, the
    # fan-out of every instance waits by design (only the backlog's bound is under test).
    redis_ctl("cli", "CLIENT", "PAUSE", "2000", "WRITE")
    posted = [post(srv, w.alice, ch, f"during the pause {i} " + "y" * 4000) for i in range(10)]
    offsets, resyncs, code = read_channel(reader, ch, 10**9, timeout=8)
    growth = watch.stop()
    assert code is None
    assert resyncs, f"no resync_required; offsets {offsets}"
    r = resyncs[0]
    assert set(r) == {"type", "channel_id", "offset", "epoch", "reason"}, r
    assert r["channel_id"] == ch and r["reason"] == "frames_lost" and isinstance(r["epoch"], str)
    # Nothing else is missing: the stream's offsets (resync_required included) are contiguous
    # from the first post, and fewer messages came live than were posted.
    assert offsets[0] == 1 and contiguous(offsets), offsets
    assert len(offsets) - len(resyncs) < len(posted) + 1
    assert growth < rss_bound_kib(100), growth
    # The history the client reloads has every message.
    reader.send_json({"message_type": "get_channel_messages", "channel_id": ch,
                      "request_id": "h"})
    page = reader.recv_type("channel_messages", 10)
    ids = {m["id"] for m in page["messages"]}
    assert {first["id"], *(p["id"] for p in posted)} <= ids
    # After the pause the channel flows again without loss.
    after = post(srv, w.alice, ch, "after the pause")
    more, more_resyncs, code = read_channel(reader, ch, offsets[-1] + 1, timeout=10)
    assert code is None and more == [offsets[-1] + 1] and not more_resyncs, more
    assert after["id"]
    reader.close()
    assert srv.running
