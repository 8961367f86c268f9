"""Users (API.md §3) without teams: listing, retrieval, staff, and the errors of the team-scoped
lists (in_team, in_channel and interacted succeed only with teams, tested with the teams work)."""
import pytest

from support.client import (NOT_AUTHENTICATED, NOT_FOUND, api, assert_401, assert_json,
                            create_superuser, login, register)

USERS = "/api/chat/users/"


def public(u: dict) -> dict:
    """The User shape of §1.5."""
    return {"id": u["id"], "username": u["username"], "email": u["email"]}


def test_list_is_only_self_without_teams(server):
    register(server)                           # someone else exists
    u = register(server)
    assert_json(api(server, u["access"]).get(USERS), 200, [public(u)])
    assert_json(api(server, u["access"]).get("/api/chat/users"), 200, [public(u)])


def test_retrieve_self(server, user):
    c = api(server, user["access"])
    assert_json(c.get(f"{USERS}{user['id']}/"), 200, public(user))
    assert_json(c.get(f"{USERS}{user['id']}"), 200, public(user))


def test_stranger_is_not_visible(server):
    a, b = register(server), register(server)
    assert_json(api(server, a["access"]).get(f"{USERS}{b['id']}/"), 404, NOT_FOUND)
    assert_json(api(server, b["access"]).get(f"{USERS}{a['id']}/"), 404, NOT_FOUND)
    assert_json(api(server, a["access"]).get(f"{USERS}{b['id']}"), 404, NOT_FOUND)


def test_unknown_user_404(server, user):
    assert_json(api(server, user["access"]).get(f"{USERS}{2 ** 62}/"), 404, NOT_FOUND)


@pytest.mark.parametrize("path", [USERS, f"{USERS}1/", f"{USERS}in_team/?team_id=1",
                                  f"{USERS}in_channel/?channel_id=1",
                                  f"{USERS}interacted/?team_id=1"])
def test_requires_authentication(server, path):
    assert_401(api(server).get(path), NOT_AUTHENTICATED)


def test_staff_sees_everyone(server, staff):
    a, b = register(server), register(server)
    c = api(server, staff["access"])
    listed = assert_json(c.get(USERS), 200)
    ids = [u["id"] for u in listed]
    assert ids == sorted(ids), "users are listed by id ascending (§0.12)"
    assert len(ids) == len(set(ids))
    for u in listed:
        assert set(u) == {"id", "username", "email"}, u
    by_id = {u["id"]: u for u in listed}
    for u in (a, b):
        assert by_id[u["id"]] == public(u)
    assert by_id[staff["id"]]["username"] == staff["username"]
    # Staff pass every visibility check (§1.2).
    assert_json(c.get(f"{USERS}{a['id']}/"), 200, public(a))
    # ... while the regular users still see only themselves.
    assert_json(api(server, a["access"]).get(USERS), 200, [public(a)])


def test_createsuperuser_before_serve(fresh_server):
    srv = fresh_server(start=False)
    # An operator prepares a new installation: migrate, create the superuser, then serve.
    migrate = srv.cli("migrate")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    made = create_superuser(srv, username="Root_Admin", email="root@Example.ORG")
    srv.start()
    boss = login(srv, made["username"])
    m = assert_json(api(srv, boss["access"]).get("/api/auth/me/"), 200)
    assert m["is_staff"] is True
    assert m["username"] == "Root_Admin" and m["email"] == "root@example.org"
    u = register(srv)
    listed = assert_json(api(srv, boss["access"]).get(USERS), 200)
    assert [x["id"] for x in listed] == [boss["id"], u["id"]]
    assert_json(api(srv, u["access"]).get(USERS), 200, [public(u)])


# --- in_team, in_channel, interacted: errors (§3) ---------------------------------------------------

LISTS = [("in_team", "team_id"), ("in_channel", "channel_id"), ("interacted", "team_id")]


@pytest.mark.parametrize("query", ["", "?", "?team=1&channel=1", "?{p}=", "?other=7"],
                         ids=["none", "bare-question-mark", "other-names", "blank", "other"])
@pytest.mark.parametrize("action,param", LISTS)
def test_list_param_required(server, user, action, param, query):
    r = api(server, user["access"]).get(f"{USERS}{action}/" + query.replace("{p}", param))
    assert_json(r, 400, {"error": f"{param} is required", "code": "required"})


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "7a", "true", "1e3",
                                   "99999999999999999999", "9223372036854775808"])
@pytest.mark.parametrize("action,param", LISTS)
def test_list_param_invalid(server, user, action, param, value):
    r = api(server, user["access"]).get(f"{USERS}{action}/?{param}={value}")
    assert_json(r, 400, {"error": f"{param} must be a positive integer", "code": "invalid"})


@pytest.mark.parametrize("value", ["999999999", "0000999999999", str(2 ** 63 - 1)])
@pytest.mark.parametrize("action,param", LISTS)
def test_list_unknown_target_404(server, user, action, param, value):
    r = api(server, user["access"]).get(f"{USERS}{action}/?{param}={value}")
    assert_json(r, 404, NOT_FOUND)
