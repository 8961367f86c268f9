"""WebSocket attacks for the abuse suite (tests/e2e/test_abuse_ws.py) and bench scenarios. Each
is bounded in count and time and targets only the loopback server it is given.

    stats = parallel_upgrades(srv, token, count=200)      # one user's upgrades all at once
    socks = stalled_readers(srv, tokens)                  # sockets that never read
    n = flood_channel(srv, sender_sock, channel_id, count=100, size=8000)
"""
import asyncio
import time
import urllib.parse

import websockets
import websockets.exceptions

from support.ws import connect


def _url(server, token) -> str:
    return "ws://127.0.0.1:%d/ws/chat/?token=%s" % (server.port,
                                                    urllib.parse.quote(token, safe=""))


def parallel_upgrades(server, token, count=200, hold_s=0.5, timeout_s=20.0) -> dict:
    """Starts `count` upgrades of one user at once. Each accepted socket waits for `hello`,
    counts as open until the client closes it `hold_s` later. Returns accepted, refused (HTTP
    status -> count), errors, and max_open: the most sockets open at once as the client saw
    them (hello received, not yet closed by the client)."""
    stats = {"accepted": 0, "refused": {}, "errors": 0, "open": 0, "max_open": 0}

    async def one():
        try:
            ws = await websockets.connect(_url(server, token), compression=None,
                                          ping_interval=None, open_timeout=timeout_s,
                                          close_timeout=2)
        except websockets.exceptions.InvalidStatusCode as e:
            stats["refused"][e.status_code] = stats["refused"].get(e.status_code, 0) + 1
            return
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
            stats["errors"] += 1
            return
        try:
            while True:  # frames before hello (presence) may come first
                frame = await asyncio.wait_for(ws.recv(), timeout_s)
                if '"type":"hello"' in frame.replace(" ", ""):
                    break
            stats["accepted"] += 1
            stats["open"] += 1
            stats["max_open"] = max(stats["max_open"], stats["open"])
            await asyncio.sleep(hold_s)
            stats["open"] -= 1  # before the close starts: the server may count it a bit longer
        except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed):
            stats["errors"] += 1
        finally:
            await ws.close()

    async def all_of_them():
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count))), timeout_s * 2)

    asyncio.run(all_of_them())
    del stats["open"]
    return stats


def stalled_readers(server, tokens, label="stalled") -> list:
    """One socket per token that never reads after hello: tiny client buffers, so the server's
    outbox for it fills once the kernel buffers are full. The caller closes them."""
    return [connect(server, t, label=f"{label}{i}", max_queue=1, read_limit=1024)
            for i, t in enumerate(tokens)]


def flood_channel(sock, channel_id, count=100, size=8000, batch=50, timeout_s=30.0,
                  prefix="flood") -> list:
    """Posts `count` messages of about `size` characters to the channel through `sock` (the
    sender's own socket), `batch` at a time, reading its own live frames after each batch so
    its outbox stays small. Returns the (offset, id) of its own messages' frames (recognised by
    `prefix`), in arrival order."""
    pad = "x" * max(0, size - 32)
    seen = []
    deadline = time.monotonic() + timeout_s
    for start in range(0, count, batch):
        n = min(batch, count - start)
        for i in range(start, start + n):
            sock.send_json({"message_type": "channel_message", "channel": channel_id,
                            "content": f"{prefix} {i} {pad}"})
        target = len(seen) + n
        while len(seen) < target:
            left = deadline - time.monotonic()
            assert left > 0, f"flood: only {len(seen)} of {target} own frames back"
            f = sock.recv(left)
            if f.get("type") == "channels" and f.get("channel_id") == channel_id and \
                    f.get("content", "").startswith(prefix + " "):
                seen.append((f["offset"], f["id"]))
    return seen
