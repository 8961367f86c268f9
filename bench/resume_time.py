#!/usr/bin/python3
"""How long a `resume` of 1000 retained frames takes (API.md §8.8; docs/decisions/0004-resume.md).

Starts a fresh server (default history: 1000 frames, 10 min), posts 1000 messages to one channel,
then, several times, opens a new socket and sends `resume` from offset 0 as its first frame: the
time from sending it to receiving `resumed` (after the 1000 replayed frames) is one sample.

    PARLEY_BIN=build/debug/src/app/parley bench/resume_time.py [--runs 5] [--messages 1000]
    PARLEY_BIN=build/debug/src/app/parley scripts/with-redis bench/resume_time.py --redis

Uses the end-to-end test support (tests/support) and Debian's python3-websockets; the figure
includes the client's reading of the 1000 frames (one asyncio coroutine, no JSON parse per frame).
"""
import argparse
import asyncio
import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

from support.client import register  # noqa: E402
from support.frames import post  # noqa: E402
from support.server import Server  # noqa: E402
from support.teams import create_channel, team_with  # noqa: E402
from support.ws import ws_url  # noqa: E402

import websockets  # noqa: E402


async def one_resume(srv, token, ch, run, expected):
    """Connects, waits for hello, sends resume from 0; the seconds until `resumed`. One coroutine
    reads everything (no thread hop per frame), and frames are only parsed for their type."""
    async with websockets.connect(ws_url(srv, token), compression=None, ping_interval=None,
                                  max_size=2 ** 24, max_queue=None) as ws:
        while json.loads(await ws.recv()).get("type") != "hello":
            pass
        request = json.dumps({"message_type": "resume", "request_id": run,
                              "channels": {str(ch): 0}})
        replayed = 0
        start = time.perf_counter()
        await ws.send(request)
        while True:
            text = await ws.recv()
            if text.startswith('{"type":"resumed"'):
                elapsed = time.perf_counter() - start
                break
            if '"offset":' in text:
                replayed += 1
        status = json.loads(text)["channels"][str(ch)]
        assert status["status"] == "recovered", status
        assert replayed == expected == status["replayed"], (replayed, status)
        return elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--redis", action="store_true",
                   help="keep REDIS_URL (run under scripts/with-redis): history in Redis Streams")
    args = p.parse_args()
    srv = Server(env=None if args.redis else {"REDIS_URL": None}, name="resume-bench")
    srv.start()
    try:
        alice, bob = register(srv), register(srv)
        team = team_with(srv, alice, bob)
        ch = create_channel(srv, alice, team["id"], name="bench")["id"]
        for i in range(args.messages):
            post(srv, alice, ch, f"message {i} " + "x" * 80)
        samples = [asyncio.run(one_resume(srv, bob["access"], ch, run, args.messages)) * 1000
                   for run in range(args.runs)]
        print(f"resume of {args.messages} frames: median {statistics.median(samples):.1f} ms, min {min(samples):.1f} ms, "
              f"max {max(samples):.1f} ms over {len(samples)} runs "
              f"(samples: {', '.join(f'{s:.1f}' for s in samples)})")
    finally:
        srv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
