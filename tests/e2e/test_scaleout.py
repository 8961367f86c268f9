"""Scale-out (issue #5): several Parley instances over one PostgreSQL and one Redis, behind nginx.

API.md §0.9 (rate limits across instances), §2.3 (revocation on every instance), §8.7 (frames from
whichever instance produced them), §8.8 (one offset order everywhere), §8.9 (presence across
instances; a crashed instance's sockets stop counting), §10.3 (/readyz redis check).

Run by scripts/test in its third end-to-end run (scripts/with-postgres scripts/with-redis); skipped
elsewhere. Directly:
  scripts/with-postgres scripts/with-redis env PARLEY_E2E_BACKEND=postgres \
      /usr/bin/python3 -m pytest -c tests/pytest.ini tests/e2e/test_scaleout.py
"""
import os
import time

import pytest
import requests

from support.client import api, assert_json, login, register
from support.cluster import Cluster, redis_ctl
from support.frames import EPOCH, MESSAGES, live_message, post
from support.teams import create_channel, dm, invite, join, team_with
from support.ws import connect

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="scale-out tests need Redis and PostgreSQL: run them with "
                              "scripts/test (third run) or under scripts/with-postgres "
                              "scripts/with-redis"),
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith(("postgres://",
                                                                          "postgresql://")),
                       reason="scale-out tests need PostgreSQL (scripts/with-postgres)"),
]

FAST = {"PARLEY_PRESENCE_OFFLINE_DELAY": "1s", "PARLEY_PRESENCE_TTL": "3s"}


def wait_for(predicate, timeout=10.0, step=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what} not reached within {timeout} s")


def readyz(srv):
    r = requests.get(srv.url("/readyz"), timeout=5)
    return r.status_code, r.json()


def presence_of(frames, user_id):
    return [f["status"] for f in frames if f.get("type") == "user_presence"
            and f.get("user_id") == user_id]


def logout(srv, account):
    r = api(srv).post("/api/auth/logout", token=account["access"],
                      json={"refresh": account["refresh"]})
    assert_json(r, 200)


@pytest.fixture(scope="module")
def cluster():
    """Three instances with the short presence timings, shared by the tests that do not break
    anything."""
    c = Cluster(3, env=FAST)
    try:
        c.start()
        yield c
    finally:
        c.close()


@pytest.fixture
def fresh_cluster():
    """Factory for a cluster of this test only (fault tests, special settings)."""
    made = []

    def factory(count=2, env=None):
        c = Cluster(count, env={**FAST, **(env or {})})
        made.append(c)
        return c.start()

    yield factory
    errors = []
    for c in made:
        try:
            c.close()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


# --- delivery across instances ---------------------------------------------------------------------

def test_readyz_reports_redis_ok_on_every_instance(cluster):
    for srv in cluster.instances:
        assert readyz(srv) == (200, {"status": "ok",
                                     "checks": {"database": "ok", "redis": "ok"}})
        assert "\nparley_redis_up 1\n" in requests.get(srv.url("/metrics"), timeout=10).text


def test_check_pings_redis(cluster):
    a = cluster.instances[0]
    ok = a.cli("check")
    assert "ERROR" not in ok.stdout, ok.stdout
    bad = a.cli("check", env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert bad.returncode == 1, bad.stdout
    assert "ERROR: Redis does not answer at 127.0.0.1:1 (REDIS_URL)" in bad.stdout, bad.stdout
    bad = a.cli("check", env={"REDIS_URL": "http://nope"})
    assert bad.returncode == 1 and "ERROR: REDIS_URL must look like" in bad.stdout, bad.stdout


def test_channel_messages_reach_sockets_on_other_instances_in_one_offset_order(cluster):
    a, b, c = cluster.instances
    alice, bob, carol = register(a), register(b), register(c)
    team = team_with(a, alice, bob, carol)
    general = create_channel(b, bob, team["id"], name="general")
    sa, sb, sc = (connect(a, alice["access"], label="alice@1"),
                  connect(b, bob["access"], label="bob@2"),
                  connect(c, carol["access"], label="carol@3"))
    try:
        # Alternate the instance that publishes: one order everywhere (§8.8).
        sa.request({"message_type": "channel_message", "channel": general["id"],
                    "content": "from 1 over ws", "request_id": "r1"})
        post(b, bob, general["id"], "from 2 over rest")
        post(c, carol, general["id"], "from 3 over rest")
        sa.request({"message_type": "channel_message", "channel": general["id"],
                    "content": "from 1 again", "request_id": "r2"})
        seen = []
        for sock in (sa, sb, sc):
            frames = [sock.recv_until(lambda f: f.get("type") == "channels", timeout=5)
                      for _ in range(4)]
            for f in frames:
                live_message(f)
            seen.append([(f["content"], f["offset"], f["epoch"]) for f in frames])
        assert seen[0] == seen[1] == seen[2], seen
        offsets = [o for _, o, _ in seen[0]]
        assert offsets == list(range(offsets[0], offsets[0] + 4)), offsets
        assert [x for x, _, _ in seen[0]] == ["from 1 over ws", "from 2 over rest",
                                              "from 3 over rest", "from 1 again"]
        assert EPOCH.match(seen[0][0][2])
        # History replies on every instance report the same stream position.
        positions = set()
        for sock in (sa, sb, sc):
            h = sock.request({"message_type": "get_channel_messages",
                              "channel_id": general["id"], "request_id": "h"})
            positions.add((h["offset"], h["epoch"]))
        assert positions == {(offsets[-1], seen[0][0][2])}
    finally:
        for s in (sa, sb, sc):
            s.close()


def test_dms_reactions_edits_deletes_and_typing_cross_instances(cluster):
    a, b = cluster.instances[0], cluster.instances[1]
    alice, bob = register(a), register(b)
    team = team_with(a, alice, bob)
    channel = dm(a, alice, team["id"], bob)
    sa, sb = connect(a, alice["access"], label="alice@1"), connect(b, bob["access"], label="bob@2")
    try:
        sb.request({"message_type": "direct_message", "recipient_id": alice["id"],
                    "team_id": team["id"], "content": "psst", "request_id": "d1"})
        got = sa.recv_type("direct")
        live_message(got, direct=True)
        assert (got["content"], got["sender_id"], got["recipient_id"]) == ("psst", bob["id"],
                                                                           alice["id"])
        mid = got["id"]
        sa.request({"message_type": "reaction", "message_id": mid, "reaction": "👍",
                    "request_id": "x1"})
        r = sb.recv_type("reaction_update")
        assert (r["message_id"], r["user_id"], r["reaction"]) == (mid, alice["id"], "👍")
        assert r["offset"] == got["offset"] + 1
        sb.request({"message_type": "edit_message", "message_id": mid, "content": "psst!",
                    "request_id": "e1"})
        e = sa.recv_type("message_edited")
        assert (e["message_id"], e["content"]) == (mid, "psst!")
        sa.send_json({"message_type": "typing", "channel_id": channel["id"]})
        t = sb.recv_type("typing")
        assert (t["user_id"], t["is_typing"]) == (alice["id"], True)
        r = api(b, bob["access"]).delete(f"{MESSAGES}{mid}/")
        assert r.status_code == 204, r.text
        d = sa.recv_type("message_deleted")
        assert (d["message_id"], d["message_type"]) == (mid, "direct")
        # Same frames, same offsets on both sides.
        assert sb.recv_type("message_deleted")["offset"] == d["offset"]
        assert not [f for f in sb.collect(0.3) if f.get("type") == "typing"
                    and f.get("user_id") == bob["id"]]
    finally:
        sa.close()
        sb.close()


def test_idempotency_keys_hold_across_instances(cluster):
    a, b = cluster.instances[0], cluster.instances[1]
    u = register(a)
    team = team_with(a, u)
    ch = create_channel(a, u, team["id"])
    frame = {"message_type": "channel_message", "channel": ch["id"], "content": "once",
             "request_id": "same-key"}
    with connect(a, u["access"]) as sa, connect(b, u["access"]) as sb:
        first = sa.request(frame, "ack")
        assert first["duplicate"] is False, first
        again = sb.request(frame, "ack")  # the same request, retried through another instance
        assert again["duplicate"] is True and again["message_id"] == first["message_id"], again
    body = {"channel": ch["id"], "content": "rest once"}
    r1 = api(a, u["access"]).post(MESSAGES, json=body, headers={"Idempotency-Key": "rk"})
    r2 = api(b, u["access"]).post(MESSAGES, json=body, headers={"Idempotency-Key": "rk"})
    assert assert_json(r1, 201)["id"] == assert_json(r2, 201)["id"]
    contents = [m["content"] for m in
                assert_json(api(b, u["access"]).get(f"/api/chat/channels/{ch['id']}/messages/"),
                            200)]
    assert contents.count("once") == 1 and contents.count("rest once") == 1, contents


def test_presence_is_announced_once_across_instances(cluster):
    a, b, c = cluster.instances
    alice, bob = register(a), register(a)
    team = team_with(a, alice, bob)
    watcher = connect(c, alice["access"], label="alice@3")
    try:
        watcher.frames(0.3)
        b1 = connect(a, bob["access"], label="bob@1")
        b2 = connect(b, bob["access"], label="bob@2")  # a second socket elsewhere: no event
        frames = watcher.collect(1.0)
        assert presence_of(frames, bob["id"]) == ["online"], frames
        p = watcher.request({"message_type": "get_user_presences", "team_id": team["id"],
                             "request_id": "p"})
        by_id = {x["user_id"]: x["status"] for x in p["presences"]}
        assert by_id == {alice["id"]: "online", bob["id"]: "online"}
        # The same answer on every instance.
        with connect(b, alice["access"]) as other:
            q = other.request({"message_type": "get_user_presences", "team_id": team["id"],
                               "request_id": "q"})
            assert {x["user_id"]: x["status"] for x in q["presences"]} == by_id
        b1.close()
        assert presence_of(watcher.collect(2.0), bob["id"]) == []  # b2 keeps him online
        b2.close()
        f = watcher.recv_until(lambda f: f.get("type") == "user_presence"
                               and f.get("user_id") == bob["id"], timeout=5)
        assert f["status"] == "offline"
        assert presence_of(watcher.collect(1.5), bob["id"]) == []  # once
    finally:
        watcher.close()


def test_live_subscription_after_a_join_through_another_instance(cluster):
    a, b = cluster.instances[0], cluster.instances[1]
    owner, joiner = register(a), register(b)
    team = team_with(a, owner)
    general = create_channel(a, owner, team["id"], name="general")
    code = invite(a, owner, team["id"])["invite_code"]
    sock = connect(b, joiner["access"], label="joiner@2")
    try:
        assert join(a, joiner, code).status_code == 200
        added = sock.recv_type("member_added")
        assert (added["team_id"], added["user_id"]) == (team["id"], joiner["id"])
        post(a, owner, general["id"], "welcome")
        live = sock.recv_type("channels")
        assert (live["content"], live["channel_id"]) == ("welcome", general["id"])
        # A channel created on a third instance afterwards is delivered too.
        news = create_channel(cluster.instances[2], owner, team["id"], name="news")
        created = sock.recv_type("channel_created")
        assert created["channel"]["id"] == news["id"]
        post(cluster.instances[2], owner, news["id"], "first news")
        assert sock.recv_type("channels")["content"] == "first news"
    finally:
        sock.close()


def test_logout_on_one_instance_is_refused_everywhere_and_closes_sockets_elsewhere(cluster):
    a, b, c = cluster.instances
    u = register(a)
    sock = connect(b, u["access"], label="u@2")
    start = time.monotonic()
    logout(a, u)
    for srv in (b, c, cluster.lb):
        r = api(srv, u["access"]).get("/api/auth/me/")
        assert r.status_code == 401, r.text
        assert r.json()["messages"][0]["message"] == "Token is blacklisted"
    assert sock.wait_closed(timeout=7) == 4001
    assert time.monotonic() - start < 6


def test_logout_all_password_change_and_deactivation_close_sockets_on_every_instance(cluster):
    """§2.3: the generation bump reaches every instance's sockets (a control frame on the
    user's group; the CLI, another process, through each instance's revocation sweep)."""
    a, b, c = cluster.instances
    for end in ("logout_all", "password", "cli"):
        u = register(a)
        second = login(b, u["username"])
        socks = [connect(b, u["access"], label=f"{end}@2"),
                 connect(c, second["access"], label=f"{end}@3"),
                 connect(a, second["access"], label=f"{end}@1")]
        start = time.monotonic()
        if end == "logout_all":
            assert_json(api(a, u["access"]).post("/api/auth/logout_all/"), 200)
        elif end == "password":
            assert_json(api(c, u["access"]).post("/api/auth/password/", json={
                "old_password": u["password"], "new_password": "another-horse-7"}), 200)
        else:
            proc = a.cli("setuser", u["username"], "--active", "no")
            assert proc.returncode == 0, proc.stdout + proc.stderr
        for sock in socks:
            assert sock.wait_closed(timeout=7) == 4001, end
        assert time.monotonic() - start < 6.5, end
        for srv in (a, b, c, cluster.lb):
            for account in (u, second):
                r = api(srv, account["access"]).get("/api/auth/me/")
                assert r.status_code == 401, (end, r.text)
                r = api(srv).post("/api/auth/token/refresh/", json={"refresh": account["refresh"]})
                assert r.status_code == 401, (end, r.text)


def test_clients_through_nginx_exchange_messages(cluster):
    lb = cluster.lb
    alice, bob = register(lb), register(lb)
    team = team_with(lb, alice, bob)
    general = create_channel(lb, alice, team["id"])
    # nginx spreads these over the instances (round robin).
    socks = [connect(lb, acc["access"], label=f"lb-{i}")
             for i, acc in enumerate((alice, bob, alice, bob))]
    try:
        for i in range(3):
            post(lb, alice if i % 2 else bob, general["id"], f"m{i}")
        for s in socks:
            got = [s.recv_type("channels")["content"] for _ in range(3)]
            assert got == ["m0", "m1", "m2"], got
    finally:
        for s in socks:
            s.close()


def test_rate_limit_is_shared_by_the_instances(fresh_cluster):
    c = fresh_cluster(2, env={"PARLEY_RATE_MESSAGES": "5/min"})
    a, b = c.instances
    u = register(a)
    team = team_with(a, u)
    ch = create_channel(a, u, team["id"])
    # Windows are aligned to the minute (§0.9): start well inside one.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    statuses = []
    for i in range(6):
        srv = a if i % 2 == 0 else b
        r = api(srv, u["access"]).post(MESSAGES, json={"channel": ch["id"], "content": f"n{i}"})
        statuses.append(r.status_code)
    assert statuses == [201] * 5 + [429], statuses  # five in the window across both instances
    assert r.json()["code"] == "throttled"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # The refused hit was not counted, and the other instance refuses too.
    r = api(a, u["access"]).post(MESSAGES, json={"channel": ch["id"], "content": "again"})
    assert r.status_code == 429, r.text


# --- faults ---------------------------------------------------------------------------------------

def test_redis_outage_keeps_local_delivery_and_cross_instance_delivery_resumes(fresh_cluster):
    c = fresh_cluster(2)
    a, b = c.instances
    alice, bob, carol = register(a), register(a), register(b)
    team = team_with(a, alice, bob, carol)
    general = create_channel(a, alice, team["id"])
    sa, sb, sc = (connect(a, alice["access"], label="alice@1"),
                  connect(a, bob["access"], label="bob@1"),
                  connect(b, carol["access"], label="carol@2"))
    try:
        redis_ctl("stop")
        wait_for(lambda: readyz(a)[0] == 503, what="/readyz 503")
        assert readyz(a) == (503, {"status": "unavailable",
                                   "checks": {"database": "ok", "redis": "error"}})
        assert "\nparley_redis_up 0\n" in requests.get(a.url("/metrics"), timeout=10).text
        # Same instance: still delivered, with offsets of the fallback epoch.
        sa.request({"message_type": "channel_message", "channel": general["id"],
                    "content": "during the outage", "request_id": "o1"})
        got = sb.recv_type("channels")
        assert got["content"] == "during the outage"
        assert sa.recv_type("channels")["content"] == "during the outage"
        redis_ctl("start")
        wait_for(lambda: all(readyz(s)[0] == 200 for s in (a, b)), timeout=15,
                 what="/readyz 200 after Redis came back")
        time.sleep(0.3)  # resubscribed
        post(b, carol, general["id"], "after the outage")
        for s in (sa, sb, sc):
            f = s.recv_until(lambda f: f.get("type") == "channels"
                             and f["content"] == "after the outage", timeout=5)
            assert EPOCH.match(f["epoch"])
        # A history reply reports the new stream position (the epoch changed: Redis lost it).
        h = sa.request({"message_type": "get_channel_messages", "channel_id": general["id"],
                        "request_id": "h"})
        assert h["epoch"] == f["epoch"] and h["offset"] == f["offset"]
    finally:
        for s in (sa, sb, sc):
            s.close()
        redis_ctl("start")


def test_postgres_restart_gives_503_then_recovers(fresh_cluster):
    ctl = os.environ.get("PARLEY_PG_CTL")
    if not ctl:
        pytest.skip("PARLEY_PG_CTL is not set (scripts/with-postgres)")
    c = fresh_cluster(2)
    a, b = c.instances
    u = register(a)
    subprocess_run([ctl, "stop", "-m", "fast"])
    try:
        for srv in (a, b, c.lb):
            r = api(srv, u["access"]).get("/api/chat/teams/")
            assert r.status_code == 503, r.text
            assert r.json() == {"detail": "Service temporarily unavailable.",
                                "code": "service_unavailable"}
            assert r.headers["Retry-After"] == "1"
            assert readyz(srv)[1]["checks"]["database"] == "error"
    finally:
        subprocess_run([ctl, "start"])
    for srv in (a, b, c.lb):
        wait_for(lambda: api(srv, u["access"]).get("/api/chat/teams/").status_code == 200,
                 timeout=15, what="recovery after the restart")
        assert readyz(srv)[0] == 200


def test_killed_instance_clients_reconnect_through_nginx_and_presence_expires(fresh_cluster):
    c = fresh_cluster(2)
    a, b = c.instances
    alice, bob, carol = register(a), register(a), register(a)
    team = team_with(a, alice, bob, carol)
    watcher = connect(b, alice["access"], label="alice@2")
    victim = connect(a, bob["access"], label="bob@1")
    # carol's sockets go through nginx, round robin: some land on the instance about to die.
    spread = [connect(c.lb, carol["access"], label=f"carol@lb{i}") for i in range(4)]
    try:
        wait_for(lambda: "online" in presence_of(watcher.collect(0.2), bob["id"]), timeout=5,
                 what="bob online")
        killed_at = time.monotonic()
        c.kill(0)
        victim.wait_closed(timeout=5)  # dropped without a close frame
        # The sockets nginx had put on the dead instance drop; reconnecting through nginx
        # reaches the survivor, and so does every new connection.
        dropped = 0
        for i, sock in enumerate(spread):
            try:
                sock.ping(timeout=2)
            except Exception:
                dropped += 1
                spread[i] = connect(c.lb, carol["access"], label=f"carol@lb{i}'")
                spread[i].ping()
        assert dropped >= 1, "nginx put none of four sockets on the first instance"
        again = connect(c.lb, bob["access"], label="bob@lb")
        again.close()
        # bob's only socket now is none: his count on the dead instance expires (PARLEY_PRESENCE_TTL
        # 3 s), a survivor reaps it and publishes "offline" once (after the 1 s offline delay).
        f = watcher.recv_until(lambda f: f.get("type") == "user_presence"
                               and f.get("user_id") == bob["id"] and f["status"] == "offline",
                               timeout=15)
        took = time.monotonic() - killed_at
        assert took < 3 + 1 + 1 + 3, took  # ttl + a heartbeat + the delay + slack
        assert presence_of(watcher.collect(1.5), bob["id"]) == []
        p = watcher.request({"message_type": "get_user_presences", "team_id": team["id"],
                             "request_id": "p"})
        assert {x["user_id"]: x["status"] for x in p["presences"]}[bob["id"]] == "offline"
        assert f["team_id"] == team["id"]
    finally:
        watcher.close()
        for sock in spread:
            sock.close()


def subprocess_run(cmd):
    import subprocess
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)
