"""The store caches (issue #16, API.md §2.3, §10.2 PARLEY_CACHE_TTL): a revoked token, a removed
team member, a deactivated user and a deleted channel take effect at once on the instance that
made the change, and on the other instances through the bus (well within the TTL); a change made
by another process (`parley setuser`) within PARLEY_CACHE_TTL everywhere.

Each test first makes the requests that fill the caches (the token holder, the memberships), then
changes, then asserts that the next request is refused exactly like one that never had access.
The scale-out tests run under scripts/with-postgres scripts/with-redis (scripts/test, third run).
"""
import os
import time

import pytest

from support.client import api, assert_401, assert_json, register, token_not_valid
from support.cluster import Cluster
from support.frames import post
from support.teams import CHANNELS, TEAMS, create_channel, team_with

ME = "/api/auth/me/"
TTL_S = 2.0  # PARLEY_CACHE_TTL's default


def history_response(server, account, channel_id):
    r = api(server, account["access"]).get(f"{CHANNELS}{channel_id}/messages/?limit=10")
    return r.status_code, r.json()


def logout(server, account):
    assert_json(api(server, account["access"]).post("/api/auth/logout",
                                                    json={"refresh": account["refresh"]}), 200)


def within(seconds, check, what):
    """Polls check() (True when the change shows) and returns how long it took; fails after
    `seconds`."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{what}: not in effect after {seconds} s")
        time.sleep(0.05)


def setup_team(srv):
    """alice owns a team with bob and a channel with one message; carol shares nothing."""
    alice, bob, carol = register(srv), register(srv), register(srv)
    team = team_with(srv, alice, bob)
    general = create_channel(srv, alice, team["id"], name="general")
    post(srv, alice, general["id"], "hello")
    return alice, bob, carol, team, general


# --- one instance: at once ------------------------------------------------------------------------

def test_revoked_token_is_refused_at_once(server):
    u = register(server)
    assert_json(api(server, u["access"]).get(ME), 200)  # cached: the user, the jti, the family
    logout(server, u)
    assert_401(api(server, u["access"]).get(ME), token_not_valid("Token is blacklisted"))
    v = register(server)
    assert_json(api(server, v["access"]).get(ME), 200)
    assert_json(api(server, v["access"]).post("/api/auth/logout_all/"), 200)
    assert_401(api(server, v["access"]).get(ME), token_not_valid("Token is blacklisted"))


def test_removed_member_loses_access_at_once(server):
    alice, bob, carol, team, general = setup_team(server)
    assert history_response(server, bob, general["id"])[0] == 200  # memberships cached
    refused = history_response(server, carol, general["id"])
    assert refused[0] in (403, 404), refused
    assert_json(api(server, alice["access"]).post(f"{TEAMS}{team['id']}/remove_member/",
                                                  json={"user_id": bob["id"]}), 200)
    assert history_response(server, bob, general["id"]) == refused
    r = api(server, bob["access"]).post("/api/chat/messages/",
                                        json={"channel": general["id"], "content": "x"})
    assert r.status_code in (400, 403, 404), r.text


def test_deleted_channel_is_gone_at_once(server):
    alice, bob, carol, team, general = setup_team(server)
    assert history_response(server, bob, general["id"])[0] == 200
    missing = history_response(server, bob, 2 ** 40)
    assert api(server, alice["access"]).delete(f"{CHANNELS}{general['id']}/").status_code == 204
    assert history_response(server, bob, general["id"]) == missing
    assert history_response(server, alice, general["id"]) == missing


def test_deactivation_by_the_cli_takes_effect_within_the_ttl(server):
    u = register(server)
    assert_json(api(server, u["access"]).get(ME), 200)  # the user is cached, active
    proc = server.cli("setuser", u["username"], "--active", "no")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    took = within(TTL_S + 1.0, lambda: api(server, u["access"]).get(ME).status_code == 401,
                  "a deactivation by another process")
    assert took <= TTL_S + 1.0
    assert api(server, u["access"]).get(ME).json()["code"] == "user_inactive"


def test_cache_can_be_turned_off(fresh_server):
    srv = fresh_server(env={"PARLEY_CACHE_ENTRIES": "0"})
    u = register(srv)
    assert_json(api(srv, u["access"]).get(ME), 200)
    logout(srv, u)
    assert_401(api(srv, u["access"]).get(ME), token_not_valid("Token is blacklisted"))


# --- several instances: through the bus, well within the TTL -----------------------------------

CLUSTER_TTL_S = 5.0
BUS_BOUND_S = 1.5  # well under the TTL: the invalidation came through the bus, not the expiry


@pytest.fixture(scope="module")
def pair():
    if not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith(
            ("postgres://", "postgresql://")):
        pytest.skip("scale-out tests need Redis and PostgreSQL (scripts/with-postgres "
                    "scripts/with-redis)")
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
