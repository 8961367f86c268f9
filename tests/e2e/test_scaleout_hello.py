"""`hello` is the first frame of every socket across instances (API.md §8.1, §13.2): while a
socket opens on one instance, frames published on another (typing, messages, presence: the user's
own online event among them) reach it only after its `hello`.

Run by scripts/test in its scale-out run (scripts/with-postgres scripts/with-redis); the
single-instance form is tests/e2e/test_conformance.py.
"""
import os
import threading

import pytest

from support.client import register
from support.cluster import Cluster
from support.teams import create_channel, team_with
from support.ws import assert_hello_then_own_online, connect

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="needs several instances over Redis and PostgreSQL: run with "
                              "scripts/test --backend scaleout"),
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith(("postgres://",
                                                                          "postgresql://")),
                       reason="needs PostgreSQL (scripts/with-postgres)"),
]


def test_hello_is_the_first_frame_on_every_instance():
    # A zero offline delay: every reconnect is an online transition, published through Redis.
    cluster = Cluster(2, env={"PARLEY_PRESENCE_OFFLINE_DELAY": "0s"})
    try:
        cluster.start()
        a, b = cluster.instances
        alice, bob, carol = register(a), register(a), register(a)
        team = team_with(a, alice, bob, carol)
        channel = create_channel(a, alice, team["id"])["id"]
        watcher = connect(b, bob["access"], label="bob@2")
        noisy = connect(b, carol["access"], label="carol@2")
        stop = threading.Event()

        def noise():  # carol types and posts on instance 2 the whole time
            n = 0
            while not stop.is_set():
                noisy.send_json({"message_type": "typing", "channel_id": channel,
                                 "is_typing": n % 2 == 0})
                noisy.send_json({"message_type": "channel_message", "channel": channel,
                                 "content": f"noise {n}"})
                n += 1
                stop.wait(0.01)

        thread = threading.Thread(target=noise, daemon=True)
        thread.start()
        try:
            for attempt in range(6):
                for inst in (a, b):
                    assert_hello_then_own_online(inst, alice, watcher,
                                                 f"alice@{inst.name} attempt {attempt}")
        finally:
            stop.set()
            thread.join(5)
            noisy.close()
            watcher.close()
    finally:
        cluster.close()
