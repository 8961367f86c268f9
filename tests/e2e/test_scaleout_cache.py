"""The store caches across instances (issue #16, API.md §2.3 "How soon"): a revocation, a removed
team member and a deleted channel reach the other instance through the bus well within
PARLEY_CACHE_TTL (set long here, so only the bus can explain it); a deactivation by another
process (`parley setuser`) within the TTL everywhere. One instance: test_cache.py.

Run by scripts/test in its third end-to-end run (scripts/with-postgres scripts/with-redis).
"""
import os

import pytest

from support.cache_checks import history_response, logout, setup_team, within
from support.client import api, assert_401, assert_json, register, token_not_valid
from support.cluster import Cluster
from support.teams import CHANNELS, TEAMS, create_channel

ME = "/api/auth/me/"

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="scale-out tests need Redis and PostgreSQL: run them with "
                              "scripts/test (third run) or under scripts/with-postgres "
                              "scripts/with-redis"),
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith(("postgres://",
                                                                          "postgresql://")),
                       reason="scale-out tests need PostgreSQL (scripts/with-postgres)"),
]

CLUSTER_TTL_S = 5.0
BUS_BOUND_S = 1.5  # well under the TTL: the invalidation came through the bus, not the expiry


@pytest.fixture(scope="module")
def pair():
    c = Cluster(2, env={"PARLEY_CACHE_TTL": f"{int(CLUSTER_TTL_S)}s"})
    try:
        c.start()
        yield c.instances
    finally:
        c.close()


def test_revocation_reaches_the_other_instance_through_the_bus(pair):
    a, b = pair
    u = register(a)
    assert_json(api(b, u["access"]).get(ME), 200)  # cached on b
    logout(a, u)
    assert_401(api(a, u["access"]).get(ME), token_not_valid("Token is blacklisted"))
    within(BUS_BOUND_S, lambda: api(b, u["access"]).get(ME).status_code == 401,
           "a logout on the other instance")
    assert_401(api(b, u["access"]).get(ME), token_not_valid("Token is blacklisted"))
    v = register(a)
    assert_json(api(b, v["access"]).get(ME), 200)
    assert_json(api(a, v["access"]).post("/api/auth/logout_all/"), 200)
    within(BUS_BOUND_S, lambda: api(b, v["access"]).get(ME).status_code == 401,
           "a logout_all on the other instance")


def test_member_removal_and_channel_deletion_reach_the_other_instance(pair):
    a, b = pair
    alice, bob, carol, team, general = setup_team(a)
    assert history_response(b, bob, general["id"])[0] == 200  # memberships cached on b
    refused = history_response(b, carol, general["id"])
    assert_json(api(a, alice["access"]).post(f"{TEAMS}{team['id']}/remove_member/",
                                             json={"user_id": bob["id"]}), 200)
    assert history_response(a, bob, general["id"]) == refused
    within(BUS_BOUND_S, lambda: history_response(b, bob, general["id"]) == refused,
           "a member removal on the other instance")

    other = create_channel(a, alice, team["id"], name="other")
    assert history_response(b, alice, other["id"])[0] == 200
    missing = history_response(b, alice, 2 ** 40)
    assert api(a, alice["access"]).delete(f"{CHANNELS}{other['id']}/").status_code == 204
    assert history_response(a, alice, other["id"]) == missing
    within(BUS_BOUND_S, lambda: history_response(b, alice, other["id"]) == missing,
           "a channel deletion on the other instance")


def test_cli_deactivation_reaches_every_instance_within_the_ttl(pair):
    a, b = pair
    u = register(a)
    for srv in (a, b):
        assert_json(api(srv, u["access"]).get(ME), 200)
    proc = a.cli("setuser", u["username"], "--active", "no")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for srv in (a, b):
        within(CLUSTER_TTL_S + 1.0, lambda: api(srv, u["access"]).get(ME).status_code == 401,
               "a deactivation by another process")
