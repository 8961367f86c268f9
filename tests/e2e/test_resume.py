"""Resume from retained channel history (API.md §8.8, issue #8; docs/decisions/0004-resume.md).

Every row of the §8.8 table, both position forms, the window (size and TTL), byte-identical replay,
and the guarantee under load: clients that drop and resume while three senders keep a channel busy
end with offsets 1..N exactly once, in order, with the bytes an always-connected observer saw. The
Redis half (two instances, epochs across Redis data loss and Parley restarts) runs under
scripts/with-postgres scripts/with-redis like test_scaleout.py.
"""
import os
import random
import threading
import time

import pytest

from support.client import api, assert_json, register
from support.frames import EPHEMERAL, EPOCH, MESSAGES, assert_error, post
from support.teams import create_channel, dm, team_with
from support.server import Server
from support.ws import connect

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith(
        ("postgres://", "postgresql://")),
    reason="needs Redis and PostgreSQL: scripts/with-postgres scripts/with-redis")


def own_streams(db, env=None):
    """`env` for a server whose streams cannot meet another server's: under Redis, a Redis
    database of its own (`db`), emptied (channel ids of a new database start again at 1)."""
    env = dict(env or {})
    url = os.environ.get("REDIS_URL")
    if url:
        from support.cluster import redis_ctl
        redis_ctl("cli", "-n", str(db), "FLUSHDB")
        env["REDIS_URL"] = url.rsplit("/", 1)[0] + f"/{db}"
    return env


def stream_of(frames, ch):
    return [f for f in frames if f.get("channel_id") == ch and "offset" in f
            and f.get("type") != "resync_required"]


def resume_request(sock, channels, request_id="r"):
    """Sends resume; returns (frames before `resumed` in order, presence and typing left out;
    the `resumed` frame)."""
    sock.send_json({"message_type": "resume", "request_id": request_id, "channels": channels})
    before = []
    while True:
        f = sock.recv(10)
        if f.get("type") == "resumed":
            return before, f
        if f.get("type") == "error":
            raise AssertionError(f)
        if f.get("type") not in EPHEMERAL:
            before.append(f)


def observe(sock, ch, count, timeout=20):
    """The next `count` stream frames of channel `ch` on `sock` (raw text kept)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, [f["offset"] for f in got]
        f = sock.recv(10)
        if stream_of([f], ch):
            got.append(f)
    return got


class Scene:
    """alice owns a team with bob; `general` (group channel) and `dm` (alice-bob)."""

    def __init__(self, srv):
        self.alice = register(srv)
        self.bob = register(srv)
        self.team = team_with(srv, self.alice, self.bob)
        self.general = create_channel(srv, self.alice, self.team["id"], name="general")["id"]
        self.dm = dm(srv, self.alice, self.team["id"], self.bob)["id"]


@pytest.fixture(scope="module")
def server():
    """This file's server (default history settings), with its own Redis database under Redis."""
    srv = Server(env=own_streams(6), name="resume")
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def scene(server):
    return Scene(server)


# --- the table ------------------------------------------------------------------------------------

def test_recovered_replays_the_missed_frames_byte_identical_in_order(server, scene):
    ch, dm_id = scene.general, scene.dm
    watcher = connect(server, scene.bob["access"], label="watcher")
    try:
        m = post(server, scene.alice, ch, "one")
        for i in range(4):
            post(server, scene.bob, ch, f"m{i}")
        r = api(server, scene.alice["access"])
        assert_json(r.patch(f"{MESSAGES}{m['id']}/", json={"content": "edited"}), 200)
        assert_json(r.post(f"{MESSAGES}{m['id']}/react/", json={"reaction": "👍"}), 200)
        for i in range(3):
            post(server, scene.bob, dm_id, f"d{i}")
        live = observe(watcher, ch, 7)
        live_dm = observe(watcher, dm_id, 3)
        assert [f["offset"] for f in live] == list(range(1, 8))
        epoch = live[0]["epoch"]
        assert EPOCH.match(epoch)

        a = connect(server, scene.alice["access"], label="alice")
        # {offset, epoch} form for general, a bare offset for the DM.
        before, done = resume_request(a, {str(ch): {"offset": 2, "epoch": epoch}, str(dm_id): 0},
                                      request_id=9)
        assert done == {"type": "resumed", "request_id": 9, "channels": {
            str(ch): {"status": "recovered", "offset": 7, "epoch": epoch, "replayed": 5},
            str(dm_id): {"status": "recovered", "offset": 3, "epoch": epoch, "replayed": 3}}}
        assert [f.raw for f in stream_of(before, ch)] == [f.raw for f in live[2:]]
        assert [f.raw for f in stream_of(before, dm_id)] == [f.raw for f in live_dm]
        assert [f for f in before if f.get("type") == "resync_required"] == []
        # Nothing twice afterwards; live frames continue after the replayed ones.
        assert stream_of(a.frames(0.3), ch) == []
        post(server, scene.bob, ch, "after")
        nxt = observe(a, ch, 1)[0]
        assert nxt["offset"] == 8 and nxt.raw == observe(watcher, ch, 1)[0].raw
        a.close()
    finally:
        watcher.close()


def test_every_resync_row_and_not_found(server, scene):
    ch, dm_id = scene.general, scene.dm
    for i in range(3):
        post(server, scene.bob, ch, f"m{i}")
    outsider = register(server)
    hidden = create_channel(server, outsider, team_with(server, outsider)["id"], name="x")["id"]
    b = connect(server, scene.bob["access"], label="bob")
    epoch = b.request({"message_type": "get_channel_messages", "channel_id": ch})["epoch"]
    before, done = resume_request(b, {
        str(ch): {"offset": 3, "epoch": "Zz1"},   # another epoch
        str(dm_id): {"offset": 4, "epoch": epoch},  # ahead of the stream (offset 0)
        "99999999": 0,                              # unknown
        str(hidden): 0,                             # not visible
        f"{ch:05d}": 3,                             # §0.4 id with leading zeros: up to date
    })
    assert [f for f in before if f.get("type") == "resync_required"] == [
        {"type": "resync_required", "channel_id": ch, "offset": 3, "epoch": epoch,
         "reason": "epoch_changed"},
        {"type": "resync_required", "channel_id": dm_id, "offset": 0, "epoch": epoch,
         "reason": "offset_ahead"}]
    assert done["channels"] == {
        str(ch): {"status": "resync_required", "offset": 3, "epoch": epoch},
        str(dm_id): {"status": "resync_required", "offset": 0, "epoch": epoch},
        "99999999": {"status": "not_found"},
        str(hidden): {"status": "not_found"},
        f"{ch:05d}": {"status": "recovered", "offset": 3, "epoch": epoch, "replayed": 0},
    }
    assert "request_id" not in before[0] and done["request_id"] == "r"
    b.close()


def test_an_invalid_channels_value_replays_nothing(server, scene):
    ch = scene.general
    for i in range(3):
        post(server, scene.bob, ch, f"m{i}")
    b = connect(server, scene.bob["access"])
    b.send_json({"message_type": "resume", "request_id": "bad",
                 "channels": {str(ch): 0, "abc": 1}})
    f = b.recv_until(lambda x: x["type"] in ("error", "resumed", "resync_required"))
    assert_error(f, "resume", "invalid", request_id="bad", field="channels")
    rest = b.frames(0.5)
    assert stream_of(rest, ch) == []
    assert [x for x in rest if x["type"] in ("resumed", "resync_required")] == []
    b.close()


def test_out_of_window_past_the_size_and_after_the_ttl(fresh_server):
    srv = fresh_server(env=own_streams(7, {"PARLEY_CHANNEL_HISTORY_SIZE": "20",
                                        "PARLEY_CHANNEL_HISTORY_TTL": "2s"}))
    s = Scene(srv)
    ch = s.general
    watcher = connect(srv, s.alice["access"], label="watcher")
    for i in range(25):
        post(srv, s.bob, ch, f"m{i}")
    live = observe(watcher, ch, 25)
    epoch = live[0]["epoch"]
    b = connect(srv, s.bob["access"])
    # 20 retained: 6..25. From 5 (frame 6 is the oldest retained) it recovers; from 4 it does not.
    before, done = resume_request(b, {str(ch): {"offset": 4, "epoch": epoch}})
    assert stream_of(before, ch) == []
    assert before == [{"type": "resync_required", "channel_id": ch, "offset": 25, "epoch": epoch,
                       "reason": "out_of_window"}]
    assert done["channels"] == {str(ch): {"status": "resync_required", "offset": 25,
                                          "epoch": epoch}}
    b.close()
    b = connect(srv, s.bob["access"])
    before, done = resume_request(b, {str(ch): {"offset": 5, "epoch": epoch}})
    assert [f.raw for f in stream_of(before, ch)] == [f.raw for f in live[5:]]
    assert done["channels"][str(ch)]["replayed"] == 20
    b.close()
    # Past the TTL nothing is replayed (the position stays).
    time.sleep(2.5)
    b = connect(srv, s.bob["access"])
    before, done = resume_request(b, {str(ch): 24})
    assert before == [{"type": "resync_required", "channel_id": ch, "offset": 25, "epoch": epoch,
                       "reason": "out_of_window"}]
    before, done = resume_request(b, {str(ch): 25})
    assert done["channels"][str(ch)] == {"status": "recovered", "offset": 25, "epoch": epoch,
                                         "replayed": 0}
    b.close()
    watcher.close()


def test_out_of_window_past_the_byte_bound(fresh_server):
    """PARLEY_CHANNEL_HISTORY_BYTES (§8.8): the oldest frames go until the retained ones fit, in the
    ring and in the Redis stream alike; a resume from a trimmed offset is out_of_window, from a
    retained one it recovers byte-identical."""
    srv = fresh_server(env=own_streams(8, {"PARLEY_CHANNEL_HISTORY_BYTES": "65536"}))
    s = Scene(srv)
    ch = s.general
    watcher = connect(srv, s.alice["access"], label="watcher")
    for i in range(25):  # frames of ~10.5 KB: six fit in 64 KiB, far under the 1000-frame bound
        post(srv, s.bob, ch, f"m{i:02} " + "x" * 9990)
    live = observe(watcher, ch, 25)
    epoch = live[0]["epoch"]
    sizes = [len(f.raw.encode()) for f in live]
    kept = 0
    while kept < len(sizes) and sum(sizes[len(sizes) - kept - 1:]) <= 65536:
        kept += 1
    assert 3 <= kept < 10, sizes
    first = 25 - kept + 1  # the oldest retained offset
    b = connect(srv, s.bob["access"])
    before, done = resume_request(b, {str(ch): {"offset": first - 2, "epoch": epoch}})
    assert before == [{"type": "resync_required", "channel_id": ch, "offset": 25, "epoch": epoch,
                       "reason": "out_of_window"}]
    assert done["channels"] == {str(ch): {"status": "resync_required", "offset": 25,
                                          "epoch": epoch}}
    b.close()
    b = connect(srv, s.bob["access"])
    before, done = resume_request(b, {str(ch): {"offset": first - 1, "epoch": epoch}})
    assert [f.raw for f in stream_of(before, ch)] == [f.raw for f in live[first - 1:]]
    assert done["channels"][str(ch)]["replayed"] == kept
    b.close()
    watcher.close()


def test_history_byte_settings_are_validated(fresh_server):
    srv = fresh_server(start=False)
    for env, text in (({"PARLEY_CHANNEL_HISTORY_BYTES": "1000"}, "PARLEY_CHANNEL_HISTORY_BYTES"),
                      ({"PARLEY_CHANNEL_HISTORY_BYTES": "lots"}, "PARLEY_CHANNEL_HISTORY_BYTES"),
                      ({"PARLEY_MAX_RESPONSE_BYTES": "100"}, "PARLEY_MAX_RESPONSE_BYTES")):
        r = srv.cli("check", env=env)
        assert r.returncode != 0 and text in (r.stdout + r.stderr), (env, r.stdout, r.stderr)


def test_history_settings_are_validated(fresh_server):
    srv = fresh_server(start=False)
    for env, text in (({"PARLEY_CHANNEL_HISTORY_SIZE": "0"}, "PARLEY_CHANNEL_HISTORY_SIZE"),
                      ({"PARLEY_CHANNEL_HISTORY_TTL": "0"}, "PARLEY_CHANNEL_HISTORY_TTL"),
                      ({"PARLEY_CHANNEL_HISTORY_TTL": "soon"}, "PARLEY_CHANNEL_HISTORY_TTL")):
        r = srv.cli("check", env=env)
        assert r.returncode != 0 and text in (r.stdout + r.stderr), (env, r.stdout, r.stderr)


def test_a_late_resume_on_a_live_socket_never_reorders(server, scene):
    """Frames newer than the client's offset that already went out live on this socket cannot be
    preceded by the missing ones: resync_required (out_of_window), nothing replayed."""
    ch = scene.general
    b = connect(server, scene.bob["access"])
    for i in range(2):
        post(server, scene.bob, ch, f"m{i}")
    got = observe(b, ch, 2)  # the initial hold ended (1 s at most): these went out live
    epoch = got[0]["epoch"]
    before, done = resume_request(b, {str(ch): {"offset": 0, "epoch": epoch}})
    # 1 and 2 went out on this very socket: nothing is sent again.
    assert done["channels"][str(ch)] == {"status": "recovered", "offset": 2, "epoch": epoch,
                                         "replayed": 0}
    b.close()
    c = connect(server, scene.alice["access"])
    b = connect(server, scene.bob["access"])
    b.ping()  # its first frame: the initial hold is over
    for i in range(2):
        post(server, scene.bob, ch, f"n{i}")
    assert [f["offset"] for f in observe(b, ch, 2)] == [3, 4]
    before, done = resume_request(b, {str(ch): {"offset": 1, "epoch": epoch}})
    assert before == [{"type": "resync_required", "channel_id": ch, "offset": 4, "epoch": epoch,
                       "reason": "out_of_window"}]
    assert stream_of(b.frames(0.3), ch) == []
    b.close()
    c.close()


# --- no gap, no duplicate while the channel is busy ---------------------------------------------

FINAL = 300  # messages, 100 per sender


def busy_channel_property(pick_server, senders_at, seed, clients=4):
    """3 senders post FINAL messages to a new channel; `clients` readers drop their socket at
    random points and resume on a new one (first frame after hello). Each must end with offsets
    1..FINAL in order, each once, the bytes of an always-connected observer."""
    home = pick_server(0)
    owner = register(home)
    others = [register(home) for _ in range(2)]
    readers = [register(home) for _ in range(clients)]
    team = team_with(home, owner, *others, *readers)
    ch = create_channel(home, owner, team["id"], name="busy")["id"]
    observer = connect(home, owner["access"], label="observer")
    errors = []
    results = {}

    def sender(i, account):
        rng_local = random.Random(seed * 10 + i)
        try:
            srv = senders_at(i)
            if i == 2:  # REST
                for n in range(FINAL // 3):
                    post(srv, account, ch, f"s{i}-{n}")
                    time.sleep(rng_local.uniform(0, 0.02))
                return
            sock = connect(srv, account["access"], label=f"sender{i}")
            for n in range(FINAL // 3):
                sock.send_json({"message_type": "channel_message", "channel": ch,
                                "content": f"s{i}-{n}", "request_id": n})
                time.sleep(rng_local.uniform(0, 0.02))
            acks = 0
            while acks < FINAL // 3:
                if sock.recv(20).get("type") == "ack":
                    acks += 1
            sock.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"sender {i}: {e!r}")

    def reader(i, account):
        r = random.Random(seed * 100 + i)
        got, last, epoch, drops = [], 0, None, 0
        deadline = time.monotonic() + 120
        try:
            while last < FINAL:
                assert time.monotonic() < deadline, f"reader {i} stuck at {last}"
                srv = pick_server(r.randrange(1000))
                sock = connect(srv, account["access"], label=f"reader{i}")
                position = {"offset": last, "epoch": epoch} if epoch else last
                sock.send_json({"message_type": "resume", "request_id": drops,
                                "channels": {str(ch): position}})
                budget = r.randint(5, 60) if drops < 8 else FINAL
                n = 0
                while last < FINAL and n < budget:
                    f = sock.recv(20)
                    if f.get("type") == "resumed":
                        status = f["channels"][str(ch)]
                        assert status["status"] == "recovered", (i, status)
                    elif f.get("type") == "resync_required":
                        raise AssertionError(f"reader {i}: {f}")
                    elif stream_of([f], ch):
                        assert f["offset"] == last + 1, (i, last, f["offset"])
                        assert epoch is None or f["epoch"] == epoch
                        got.append(f.raw)
                        last, epoch, n = f["offset"], f["epoch"], n + 1
                if last < FINAL:
                    drops += 1
                    sock.abort() if r.random() < 0.5 else sock.close()
                else:
                    extra = stream_of(sock.frames(0.5), ch)
                    assert extra == [], (i, [f["offset"] for f in extra])
                    sock.close()
            results[i] = (got, drops)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"reader {i}: {e!r}")

    threads = [threading.Thread(target=reader, args=(i, a)) for i, a in enumerate(readers)]
    threads += [threading.Thread(target=sender, args=(i, a))
                for i, a in enumerate([owner, *others])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not any(t.is_alive() for t in threads), "threads still running"
    assert errors == []
    seen = observe(observer, ch, FINAL, timeout=30)
    observer.close()
    assert [f["offset"] for f in seen] == list(range(1, FINAL + 1))
    raw = [f.raw for f in seen]
    for i in range(clients):
        got, drops = results[i]
        assert drops >= 1, f"reader {i} never dropped"
        assert got == raw, f"reader {i}"
    return results


def test_readers_that_drop_and_resume_miss_nothing_and_see_nothing_twice(server):
    busy_channel_property(lambda _: server, lambda _: server, seed=8)


# --- with Redis -----------------------------------------------------------------------------------

@pytest.fixture
def cluster_factory():
    from support.cluster import Cluster, redis_ctl
    made = []

    def factory(count=2, env=None):
        # Each cluster has a new database whose ids start again: streams of an earlier test's
        # channel 1 must not be this test's.
        redis_ctl("flush")
        c = Cluster(count, env=env)
        made.append(c)
        return c.start()

    yield factory
    for c in made:
        c.close()


@needs_redis
def test_across_two_instances_sharing_redis(cluster_factory):
    c = cluster_factory(2)
    a, b = c.instances
    busy_channel_property(lambda k: (a, b)[k % 2], lambda i: (a, b)[i % 2], seed=13)
    # Senders and the observer on a only: a reader resuming on b is often b's only subscriber of
    # the channel, whose Redis subscription is then brand new when the history is read.
    busy_channel_property(lambda k: (a, b)[k % 2], lambda i: a, seed=21, clients=2)


@needs_redis
def test_epochs_with_redis_survive_parley_restarts_and_change_after_flushall(cluster_factory):
    from support.cluster import redis_ctl
    c = cluster_factory(2)
    a, b = c.instances
    s = Scene(a)
    ch = s.general
    watcher = connect(b, s.bob["access"])
    for i in range(5):
        post(a, s.alice, ch, f"m{i}")
    live = observe(watcher, ch, 5)
    watcher.close()
    epoch = live[0]["epoch"]
    # Both instances restart: Redis keeps the epoch, the offsets and the history.
    a.restart()
    b.restart()
    sock = connect(b, s.bob["access"])
    before, done = resume_request(sock, {str(ch): {"offset": 2, "epoch": epoch}})
    assert done["channels"][str(ch)] == {"status": "recovered", "offset": 5, "epoch": epoch,
                                         "replayed": 3}
    assert [f.raw for f in stream_of(before, ch)] == [f.raw for f in live[2:]]
    sock.close()
    # Redis loses its data: a new epoch, offsets restart, the old history is never replayed.
    redis_ctl("flush")
    sock = connect(a, s.bob["access"])
    before, done = resume_request(sock, {str(ch): {"offset": 2, "epoch": epoch}})
    new = done["channels"][str(ch)]
    assert new["status"] == "resync_required" and new["epoch"] != epoch and new["offset"] == 0
    assert before == [{"type": "resync_required", "channel_id": ch, "offset": 0,
                       "epoch": new["epoch"], "reason": "epoch_changed"}]
    post(a, s.alice, ch, "after the flush")
    f = observe(sock, ch, 1)[0]
    assert (f["offset"], f["epoch"]) == (1, new["epoch"])
    sock.close()
    sock = connect(b, s.bob["access"])
    before, done = resume_request(sock, {str(ch): {"offset": 0, "epoch": new["epoch"]}})
    assert done["channels"][str(ch)]["replayed"] == 1
    assert [x.raw for x in stream_of(before, ch)] == [f.raw]
    sock.close()


def test_a_restart_without_redis_changes_the_epoch(fresh_server):
    if os.environ.get("REDIS_URL"):
        srv = fresh_server(env={"REDIS_URL": None})
    else:
        srv = fresh_server()
    s = Scene(srv)
    ch = s.general
    for i in range(3):
        post(srv, s.alice, ch, f"m{i}")
    b = connect(srv, s.bob["access"])
    epoch = b.request({"message_type": "get_channel_messages", "channel_id": ch})["epoch"]
    b.close()
    srv.restart()
    b = connect(srv, s.bob["access"])
    before, done = resume_request(b, {str(ch): {"offset": 3, "epoch": epoch}})
    st = done["channels"][str(ch)]
    assert st["status"] == "resync_required" and st["epoch"] != epoch and st["offset"] == 0
    assert before[0]["reason"] == "epoch_changed"
    # A bare offset is taken to be in the current epoch: ahead of it.
    before, done = resume_request(b, {str(ch): 3})
    assert before[0]["reason"] == "offset_ahead"
    b.close()
