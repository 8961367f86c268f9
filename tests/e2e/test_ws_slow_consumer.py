"""A slow consumer (API.md §8.2, STYLE.md "bound every queue"): one member's socket stops reading
while 10,000 messages are sent to its channel by another socket. The other members receive every
message in order (contiguous offsets, increasing ids); the stalled socket is closed with 4008 and
what it did receive is an in-order prefix; the server's memory stays bounded."""
import os
import time

import requests

from support.client import register
from support.frames import World
from support.ws import Closed, connect

TOTAL = 10_000
BATCH = 100
QUEUE_BYTES = 262_144
# +200 MiB; AddressSanitizer keeps freed memory in quarantine (256 MiB by default) and pads
# every allocation, so a sanitizer build gets that much more room.
RSS_BOUND_KIB = (200 + (384 if "ASAN_OPTIONS" in os.environ else 0)) * 1024


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def metrics_text(srv) -> str:
    return requests.get(srv.base_url + "/metrics", timeout=10).text


def take_channel_frames(sock, channel_id, want, seen, timeout=30):
    """Reads until `want` more live messages of the channel have arrived; appends them to
    `seen` as (offset, id)."""
    target = len(seen) + want
    deadline = time.monotonic() + timeout
    while len(seen) < target:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(seen)} of {target} frames"
        f = sock.recv(left)
        if f.get("type") == "channels" and f["channel_id"] == channel_id:
            seen.append((f["offset"], f["id"]))


def test_slow_consumer_is_closed_and_others_get_everything(fresh_server):
    # Info level: the server logs each slow-consumer close with the connection id.
    srv = fresh_server(env={"PARLEY_WS_SEND_QUEUE_BYTES": str(QUEUE_BYTES),
                            "PARLEY_LOG_LEVEL": "info"})
    w = World(srv, dm_channel=False)
    dave = register(srv)
    from support.teams import add_member
    add_member(srv, w.alice, w.team["id"], dave)
    ch = w.general["id"]
    sender = connect(srv, w.alice["access"], label="sender")
    reader = connect(srv, w.bob["access"], label="reader")
    reader2 = connect(srv, dave["access"], label="reader2")
    # The stalled socket: tiny client buffers, and nobody calls recv() on it.
    stalled = connect(srv, w.carol["access"], label="stalled", max_queue=1, read_limit=1024)
    rss_before = rss_kib(srv.proc.pid)
    rss_peak = rss_before
    pad = "p" * 200
    sent_seen, read_seen, read2_seen = [], [], []
    try:
        for start in range(0, TOTAL, BATCH):
            for i in range(start, start + BATCH):
                sender.send_json({"message_type": "channel_message", "channel": ch,
                                  "content": f"{i} {pad}"})
            # Everyone who reads keeps up batch by batch (their own queues stay small).
            take_channel_frames(sender, ch, BATCH, sent_seen)
            take_channel_frames(reader, ch, BATCH, read_seen)
            take_channel_frames(reader2, ch, BATCH, read2_seen)
            if start % 1000 == 0:
                rss_peak = max(rss_peak, rss_kib(srv.proc.pid))
        rss_peak = max(rss_peak, rss_kib(srv.proc.pid))
        for seen in (sent_seen, read_seen, read2_seen):
            assert [o for o, _ in seen] == list(range(1, TOTAL + 1))
            ids = [i for _, i in seen]
            assert ids == sorted(ids) and len(set(ids)) == TOTAL
        assert read_seen == sent_seen == read2_seen
        assert rss_peak - rss_before < RSS_BOUND_KIB, (rss_before, rss_peak)

        # The stalled socket: whatever it got is an in-order prefix, then the 4008 close.
        got, code = [], None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                f = stalled.recv(5)
            except Closed as e:
                code = e.code
                break
            if f.get("type") == "channels":
                got.append((f["offset"], f["id"]))
        assert got == sent_seen[:len(got)], "the stalled socket saw frames out of order"
        assert len(got) < TOTAL
        # The server decided on 4008. A client that reads nothing cannot take the close frame:
        # the server then cuts the connection a few seconds later (1006 here, no close frame).
        # Which one the client sees depends on how long the sending took.
        assert code in (4008, 1006), (code, len(got))
        cid = stalled.hello["connection_id"]
        assert f"{cid}: more than {QUEUE_BYTES} bytes waiting" in srv.log_text(), "no 4008"
        for s in (sender, reader, reader2):
            assert f"{s.hello['connection_id']}: more than" not in srv.log_text()
        # The server still serves the others, and the slow user can come back.
        sender.ping()
        again = connect(srv, w.carol["access"], label="carol-again")
        again.ping()
        again.close()
        # §10.3: the close is counted under 4008 once the socket is gone (cut after a few
        # seconds when the client takes nothing).
        deadline = time.monotonic() + 15
        while "parley_ws_disconnects_total{code=\"4008\"} 1\n" not in metrics_text(srv):
            assert time.monotonic() < deadline, "no 4008 in /metrics"
            time.sleep(0.2)
    finally:
        for s in (sender, reader, reader2, stalled):
            s.close()
