"""Concurrency guarantees of API.md §4 and §5: one DM channel per (team, pair) however many
create_or_get_dm_channel calls race, and an invitation's last use taken exactly once."""
import concurrent.futures
import threading

from support.client import api, assert_json, register
from support.teams import (CHANNELS, INVALID_INVITATION, TEAMS, add_member, channel_ids,
                           create_team, invitation_uses, invite, join, members, team_with)

DM_PATH = f"{CHANNELS}create_or_get_dm_channel/"


def race(calls):
    """Runs the callables at once (released together by a barrier); returns their results."""
    barrier = threading.Barrier(len(calls))

    def run(fn):
        barrier.wait(timeout=30)
        return fn()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_dm_requests_make_one_channel(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)

    def call(caller, other):
        return lambda: api(server, caller["access"]).post(
            DM_PATH, json={"team_id": t["id"], "user_id": other["id"]})

    # 20 calls for the same pair, from both sides.
    results = race([call(alice, bob) if i % 2 == 0 else call(bob, alice) for i in range(20)])
    bodies = [assert_json(r, 200) for r in results]
    ids = {b["id"] for b in bodies}
    assert len(ids) == 1, ids
    for b in bodies:
        assert b["members"] == members(alice, bob) and b["channel_type"] == "direct"
    (dm_id,) = ids
    assert channel_ids(server, alice) == [dm_id]
    assert channel_ids(server, bob) == [dm_id]


def test_parallel_dm_requests_same_side(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    results = race([lambda: api(server, alice["access"]).post(
        DM_PATH, json={"team_id": t["id"], "user_id": bob["id"]}) for _ in range(20)])
    ids = {assert_json(r, 200)["id"] for r in results}
    assert len(ids) == 1, ids


def test_last_use_is_taken_once(server):
    owner = register(server)
    t = create_team(server, owner)
    code = invite(server, owner, t["id"], max_uses=1)["invite_code"]
    joiners = [register(server) for _ in range(10)]
    results = race([lambda u=u: join(server, u, code) for u in joiners])
    ok = [r for r in results if r.status_code == 200]
    assert len(ok) == 1, [(r.status_code, r.text) for r in results]
    for r in results:
        if r.status_code != 200:
            assert_json(r, 404, INVALID_INVITATION)
    assert invitation_uses(server, code) == 1
    got = assert_json(api(server, owner["access"]).get(f"{TEAMS}{t['id']}/"), 200)
    assert len(got["members"]) == 2


def test_uses_never_exceed_max(server):
    owner = register(server)
    t = create_team(server, owner)
    code = invite(server, owner, t["id"], max_uses=3)["invite_code"]
    joiners = [register(server) for _ in range(10)]
    results = race([lambda u=u: join(server, u, code) for u in joiners])
    assert sum(r.status_code == 200 for r in results) == 3
    assert invitation_uses(server, code) == 3
    got = assert_json(api(server, owner["access"]).get(f"{TEAMS}{t['id']}/"), 200)
    assert len(got["members"]) == 4


def test_same_user_joining_twice_at_once_takes_one_use(server):
    owner, joiner = register(server), register(server)
    t = create_team(server, owner)
    code = invite(server, owner, t["id"], max_uses=5)["invite_code"]
    results = race([lambda: join(server, joiner, code) for _ in range(8)])
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400}
    assert invitation_uses(server, code) == 1


def test_parallel_adds_and_channel_creation_keep_membership_consistent(server):
    owner = register(server)
    t = create_team(server, owner)
    others = [register(server) for _ in range(6)]
    calls = [lambda u=u: add_member(server, owner, t["id"], u) for u in others]
    calls += [lambda i=i: api(server, owner["access"]).post(
        CHANNELS, json={"name": f"c{i}", "team": t["id"]}) for i in range(4)]
    race(calls)
    everyone = sorted([owner["id"]] + [u["id"] for u in others])
    # Every group channel ends up with every team member, whichever committed first (§1.3).
    for ch in assert_json(api(server, owner["access"]).get(CHANNELS), 200):
        assert sorted(m["id"] for m in ch["members"]) == everyone, ch


def test_parallel_leaves_and_channel_creation_keep_membership_consistent(server):
    owner = register(server)
    t = create_team(server, owner)
    leaving = [register(server) for _ in range(5)]
    staying = [register(server) for _ in range(2)]
    for u in leaving + staying:
        add_member(server, owner, t["id"], u)
    calls = [lambda u=u: api(server, u["access"]).post(f"{TEAMS}{t['id']}/leave/")
             for u in leaving]
    calls += [lambda i=i: api(server, owner["access"]).post(
        CHANNELS, json={"name": f"c{i}", "team": t["id"]}) for i in range(4)]
    race(calls)
    remaining = sorted([owner["id"]] + [u["id"] for u in staying])
    channels = assert_json(api(server, owner["access"]).get(CHANNELS), 200)
    assert len(channels) == 4
    for ch in channels:
        assert sorted(m["id"] for m in ch["members"]) == remaining, ch
