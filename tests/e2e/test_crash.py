"""A crash (API.md §8.3: an ack is sent after the effect is committed): senders keep posting
`channel_message` with `request_id` over the WebSocket while the server is killed with SIGKILL;
after a restart on the same data folder (SQLite) or database (PostgreSQL), every message whose ack
reached a sender is in the channel's history, with its content, exactly once."""
import asyncio
import json
import signal
import threading
import time

import websockets
import websockets.exceptions

from support.client import api, assert_json, register
from support.teams import create_channel, team_with
from support.ws import ws_url

SENDERS = 3
WINDOW = 8  # requests a sender keeps in flight (so that some are unanswered at the kill)
KILL_AFTER_ACKS = 300  # the kill comes once this many acks arrived in total (or after 10 s)


async def _sender(url: str, channel: int, tag: str, acked: dict, sent: list, stop: asyncio.Event):
    """Posts messages `<tag>-<n>` until the connection dies; records the acks it gets."""
    try:
        async with websockets.connect(url, open_timeout=10, max_size=None) as ws:
            while json.loads(await ws.recv()).get("type") != "hello":
                pass
            in_flight = 0
            n = 0
            while True:
                while in_flight < WINDOW and not stop.is_set():
                    rid = f"{tag}-{n}"
                    n += 1
                    await ws.send(json.dumps({"message_type": "channel_message",
                                              "channel": channel, "content": rid,
                                              "request_id": rid}))
                    sent.append(rid)
                    in_flight += 1
                if in_flight == 0:
                    return
                frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if frame.get("type") == "ack" and frame.get("message_type") == "channel_message":
                    assert frame["duplicate"] is False, frame
                    assert frame["channel_id"] == channel, frame
                    acked[frame["request_id"]] = frame["message_id"]
                    in_flight -= 1
                elif frame.get("type") == "error":
                    raise AssertionError(f"error frame: {frame}")
    except (websockets.exceptions.ConnectionClosed, ConnectionError, OSError):
        return  # the server died under us: what was acked so far is what counts


def _history(server, user, channel: int) -> list:
    """Every message of the channel, oldest first, paging back with `before` (§0.11)."""
    out, query = [], ""
    while True:
        page = assert_json(api(server, user["access"]).get(
            f"/api/chat/channels/{channel}/messages/?limit=1000{query}"), 200)
        out = page + out
        if len(page) < 1000:
            return out
        query = f"&before={page[0]['id']}"


def test_acknowledged_messages_survive_sigkill(fresh_server):
    srv = fresh_server()
    owner = register(srv)
    members = [register(srv) for _ in range(SENDERS)]
    team = team_with(srv, owner, *members)
    channel = create_channel(srv, owner, team["id"])["id"]
    acked: dict = {}
    sent: list = []
    done = threading.Event()

    async def run():
        stop = asyncio.Event()
        senders = [asyncio.create_task(_sender(ws_url(srv, m["access"]), channel, f"s{i}",
                                               acked, sent, stop))
                   for i, m in enumerate(members)]
        deadline = time.monotonic() + 10
        while len(acked) < KILL_AFTER_ACKS and time.monotonic() < deadline:
            assert not all(t.done() for t in senders), "every sender stopped before the kill"
            await asyncio.sleep(0.01)
        srv.proc.send_signal(signal.SIGKILL)  # mid-stream: requests in flight, some unanswered
        await asyncio.gather(*senders)
        done.set()

    asyncio.run(asyncio.wait_for(run(), 60))
    assert done.is_set()
    proc = srv.proc
    assert proc.wait(10) == -signal.SIGKILL
    srv.proc = None  # killed on purpose: no clean exit to assert
    assert len(acked) >= KILL_AFTER_ACKS // 2, f"only {len(acked)} acks before the kill"
    assert len(sent) > len(acked), "nothing was in flight at the kill"

    srv.start()  # same data folder, same DATABASE_URL
    history = _history(srv, owner, channel)
    by_content: dict = {}
    for m in history:
        assert m["content"] not in by_content, f"{m['content']} stored twice"
        by_content[m["content"]] = m["id"]
    missing = sorted(set(acked) - set(by_content))
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:5]}"
    for rid, message_id in acked.items():
        assert by_content[rid] == message_id, (rid, message_id, by_content[rid])
    assert set(by_content) <= set(sent)
    print(f"\n{len(sent)} sent, {len(acked)} acked before SIGKILL, {len(history)} in history")

    # The restarted server goes on: the channel takes new messages after the recovered ones.
    r = api(srv, members[0]["access"]).post("/api/chat/messages/",
                                            json={"channel": channel, "content": "after"})
    assert assert_json(r, 201)["id"] > max(by_content.values())
