"""The store caches (issue #16, API.md §2.3, §10.2 PARLEY_CACHE_TTL): a revoked token, a removed
team member, a deactivated user and a deleted channel take effect at once on the instance that
made the change, and on the other instances through the bus (well within the TTL); a change made
by another process (`parley setuser`) within PARLEY_CACHE_TTL everywhere.

Each test first makes the requests that fill the caches (the token holder, the memberships), then
changes, then asserts that the next request is refused exactly like one that never had access.
Across instances: test_scaleout_cache.py.
"""
from support.cache_checks import history_response, logout, setup_team, within
from support.client import api, assert_401, assert_json, register, token_not_valid
from support.teams import CHANNELS, TEAMS

ME = "/api/auth/me/"
TTL_S = 2.0  # PARLEY_CACHE_TTL's default


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
