"""Teams (API.md §4): list, create, retrieve, update, delete, members and ownership, with every
listed error body."""
import datetime

import pytest

from support.client import (NOT_AUTHENTICATED, NOT_FOUND, TIMESTAMP, api, assert_401,
                            assert_json, register)
from support.teams import (CHANNELS, FORBIDDEN, NOT_TEAM_MEMBER, OWNER_CANNOT_LEAVE, TEAM_KEYS,
                           TEAMS, acquaint, add_member, create_channel, create_team, db_exec,
                           invalid_id, invite, join, members, public, required, team_with)


# --- list and create ------------------------------------------------------------------------------

def test_create_makes_the_caller_owner_and_member(server, user):
    c = api(server, user["access"])
    before = datetime.datetime.now(datetime.timezone.utc)
    t = assert_json(c.post(TEAMS, json={"name": "Acme", "description": "Rocket skates"}), 201)
    assert set(t) == TEAM_KEYS
    assert isinstance(t["id"], int) and t["id"] > 0
    assert t["name"] == "Acme" and t["description"] == "Rocket skates"
    assert t["created_by"] == user["id"]
    assert t["members"] == [public(user)]
    assert TIMESTAMP.match(t["created_at"]), t["created_at"]
    made = datetime.datetime.strptime(t["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    assert abs((made - before).total_seconds()) < 60
    assert_json(c.get(f"{TEAMS}{t['id']}/"), 200, t)


def test_create_trims_and_defaults_description(server, user):
    c = api(server, user["access"])
    t = assert_json(c.post(TEAMS, json={"name": "  Acme \t"}), 201)
    assert t["name"] == "Acme" and t["description"] == ""
    t = assert_json(c.post("/api/chat/teams", json={"name": "B", "description": "  d  "}), 201)
    assert t["description"] == "d"
    t = assert_json(c.post(TEAMS, json={"name": "C", "description": "   "}), 201)
    assert t["description"] == ""


def test_create_ignores_read_only_and_unknown_keys(server, user):
    other = register(server)
    t = assert_json(api(server, user["access"]).post(
        TEAMS, json={"name": "Acme", "created_by": other["id"], "id": 1, "members": [other["id"]],
                     "created_at": "2000-01-01T00:00:00.000000Z", "colour": "red"}), 201)
    assert t["created_by"] == user["id"] and t["members"] == [public(user)]
    assert not t["created_at"].startswith("2000")


def test_name_limits_count_characters(server, user):
    c = api(server, user["access"])
    name = "é" * 100
    assert assert_json(c.post(TEAMS, json={"name": name}), 201)["name"] == name
    description = "ü" * 2000
    t = assert_json(c.post(TEAMS, json={"name": "x", "description": description}), 201)
    assert t["description"] == description


@pytest.mark.parametrize("body, errors", [
    ({}, {"name": ["This field is required."]}),
    ({"name": None}, {"name": ["This field may not be null."]}),
    ({"name": ""}, {"name": ["This field may not be blank."]}),
    ({"name": "   "}, {"name": ["This field may not be blank."]}),
    ({"name": 7}, {"name": ["Not a valid string."]}),
    ({"name": ["Acme"]}, {"name": ["Not a valid string."]}),
    ({"name": "x" * 101}, {"name": ["Ensure this field has no more than 100 characters."]}),
    ({"name": "Acme", "description": None}, {"description": ["This field may not be null."]}),
    ({"name": "Acme", "description": 3}, {"description": ["Not a valid string."]}),
    ({"name": "Acme", "description": "d" * 2001},
     {"description": ["Ensure this field has no more than 2000 characters."]}),
    ({"name": "", "description": None},
     {"name": ["This field may not be blank."], "description": ["This field may not be null."]}),
])
def test_create_validation(server, user, body, errors):
    assert_json(api(server, user["access"]).post(TEAMS, json=body), 400, errors)


def test_create_body_errors(server, user):
    c = api(server, user["access"])
    r = c.post(TEAMS, data=b"{", headers={"Content-Type": "application/json"})
    assert assert_json(r, 400)["code"] == "parse_error"
    assert_json(c.post(TEAMS, json=["Acme"]), 400,
                {"detail": "Expected a JSON object.", "code": "parse_error"})
    assert_json(c.post(TEAMS, data=b"name=Acme", headers={"Content-Type": "text/plain"}), 415,
                {"detail": "Unsupported media type \"text/plain\" in request.",
                 "code": "unsupported_media_type"})
    # An empty body reads as {} (§0.3).
    assert_json(c.post(TEAMS, data=b"", headers={"Content-Type": "text/plain"}), 400,
                {"name": ["This field is required."]})


def test_list_is_the_callers_teams_by_id(server):
    alice, bob, carol = register(server), register(server), register(server)
    assert_json(api(server, alice["access"]).get(TEAMS), 200, [])
    t1 = create_team(server, alice, name="One")
    t2 = create_team(server, bob, name="Two")
    t3 = create_team(server, alice, name="Three")
    add_member(server, bob, t2["id"], alice)
    listed = assert_json(api(server, alice["access"]).get(TEAMS), 200)
    assert [t["id"] for t in listed] == [t1["id"], t2["id"], t3["id"]]
    assert listed[1]["members"] == members(alice, bob)
    assert listed[1]["created_by"] == bob["id"]
    for t in listed:
        assert set(t) == TEAM_KEYS
    assert_json(api(server, alice["access"]).get("/api/chat/teams"), 200, listed)
    assert_json(api(server, carol["access"]).get(TEAMS), 200, [])


def test_staff_list_is_scoped_by_membership(server, staff):
    u = register(server)
    create_team(server, u)
    for t in assert_json(api(server, staff["access"]).get(TEAMS), 200):
        assert staff["id"] in [m["id"] for m in t["members"]]


@pytest.mark.parametrize("method, path", [
    ("GET", TEAMS), ("POST", TEAMS), ("GET", f"{TEAMS}1/"), ("PUT", f"{TEAMS}1/"),
    ("PATCH", f"{TEAMS}1/"), ("DELETE", f"{TEAMS}1/"), ("POST", f"{TEAMS}1/add_member/"),
    ("POST", f"{TEAMS}1/remove_member/"), ("POST", f"{TEAMS}1/leave/"),
    ("POST", f"{TEAMS}1/transfer_ownership/"), ("POST", f"{TEAMS}1/create_invitation/"),
    ("GET", f"{TEAMS}1/invitations/"), ("POST", f"{TEAMS}1/revoke_invitation/"),
    ("POST", f"{TEAMS}join_via_invitation/"),
])
def test_requires_authentication(server, method, path):
    assert_401(api(server).request(method, path, json={}), NOT_AUTHENTICATED)


# --- retrieve -------------------------------------------------------------------------------------

def test_get_visible_only_to_members(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    assert t["members"] == members(alice, bob)
    assert_json(api(server, bob["access"]).get(f"{TEAMS}{t['id']}/"), 200, t)
    assert_json(api(server, bob["access"]).get(f"{TEAMS}{t['id']}"), 200, t)
    assert_json(api(server, carol["access"]).get(f"{TEAMS}{t['id']}/"), 404, NOT_FOUND)


def test_get_path_ids(server, user):
    t = create_team(server, user)
    c = api(server, user["access"])
    assert_json(c.get(f"{TEAMS}{t['id']:05d}/"), 200, t)
    for bad in ("abc", "0", "-1", "1.5", str(2 ** 63), f"{t['id']}x"):
        assert_json(c.get(f"{TEAMS}{bad}/"), 404, NOT_FOUND)
    assert_json(c.get(f"{TEAMS}{2 ** 62}/"), 404, NOT_FOUND)


def test_staff_sees_any_team(server, staff):
    u = register(server)
    t = create_team(server, u)
    assert_json(api(server, staff["access"]).get(f"{TEAMS}{t['id']}/"), 200, t)


def test_unknown_method_is_405(server, user):
    r = api(server, user["access"]).post(f"{TEAMS}1/", json={})
    assert_json(r, 405, {"detail": "Method \"POST\" not allowed.", "code": "method_not_allowed"})
    assert r.headers["Allow"] == "GET, PUT, PATCH, DELETE, OPTIONS"


# --- update ---------------------------------------------------------------------------------------

def test_patch_by_owner(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    c = api(server, alice["access"])
    out = assert_json(c.patch(f"{TEAMS}{t['id']}/", json={"description": " Rocket skates "}), 200)
    assert out == {**t, "description": "Rocket skates"}
    out = assert_json(c.patch(f"{TEAMS}{t['id']}", json={"name": "Acme Corp"}), 200)
    assert out == {**t, "name": "Acme Corp", "description": "Rocket skates"}
    assert_json(c.get(f"{TEAMS}{t['id']}/"), 200, out)
    # An empty PATCH changes nothing and answers the team.
    assert_json(c.patch(f"{TEAMS}{t['id']}/", json={}), 200, out)


def test_put_requires_name_and_keeps_omitted_description(server, user):
    t = create_team(server, user, description="keep me")
    c = api(server, user["access"])
    assert_json(c.put(f"{TEAMS}{t['id']}/", json={"description": "x"}), 400,
                {"name": ["This field is required."]})
    out = assert_json(c.put(f"{TEAMS}{t['id']}/", json={"name": "New"}), 200)
    assert out["name"] == "New" and out["description"] == "keep me"
    out = assert_json(c.put(f"{TEAMS}{t['id']}/", json={"name": "New", "description": ""}), 200)
    assert out["description"] == ""


def test_update_ignores_other_keys(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    out = assert_json(api(server, alice["access"]).patch(
        f"{TEAMS}{t['id']}/", json={"created_by": bob["id"], "members": [], "id": 999,
                                    "created_at": "2000-01-01T00:00:00.000000Z"}), 200)
    assert out == t


@pytest.mark.parametrize("body, errors", [
    ({"name": ""}, {"name": ["This field may not be blank."]}),
    ({"name": None}, {"name": ["This field may not be null."]}),
    ({"name": "n" * 101}, {"name": ["Ensure this field has no more than 100 characters."]}),
    ({"description": None}, {"description": ["This field may not be null."]}),
    ({"description": False}, {"description": ["Not a valid string."]}),
])
def test_patch_validation(server, user, body, errors):
    t = create_team(server, user)
    assert_json(api(server, user["access"]).patch(f"{TEAMS}{t['id']}/", json=body), 400, errors)


def test_update_permissions(server, staff):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    path = f"{TEAMS}{t['id']}/"
    for method in ("put", "patch"):
        call = getattr(api(server, bob["access"]), method)
        assert_json(call(path, json={"name": "Mine"}), 403, FORBIDDEN)
        # Permission comes before validation (DRF order), and visibility before both.
        assert_json(call(path, json={"name": ""}), 403, FORBIDDEN)
        call = getattr(api(server, carol["access"]), method)
        assert_json(call(path, json={"name": "Mine"}), 404, NOT_FOUND)
        assert_json(call(path, json={"name": ""}), 404, NOT_FOUND)
    out = assert_json(api(server, staff["access"]).patch(path, json={"name": "By staff"}), 200)
    assert out["name"] == "By staff" and out["created_by"] == alice["id"]


# --- delete ---------------------------------------------------------------------------------------

def test_delete_by_owner_cascades(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    ch = create_channel(server, bob, t["id"])
    direct = api(server, alice["access"]).post(f"{CHANNELS}create_or_get_dm_channel/",
                                               json={"team_id": t["id"], "user_id": bob["id"]})
    direct = assert_json(direct, 200)
    code = invite(server, alice, t["id"])["invite_code"]
    assert_json(api(server, bob["access"]).delete(f"{TEAMS}{t['id']}/"), 403, FORBIDDEN)
    r = api(server, alice["access"]).delete(f"{TEAMS}{t['id']}/")
    assert r.status_code == 204 and r.content == b""
    for who in (alice, bob):
        c = api(server, who["access"])
        assert_json(c.get(f"{TEAMS}{t['id']}/"), 404, NOT_FOUND)
        assert_json(c.get(f"{CHANNELS}{ch['id']}/"), 404, NOT_FOUND)
        assert_json(c.get(f"{CHANNELS}{direct['id']}/"), 404, NOT_FOUND)
        assert t["id"] not in [x["id"] for x in assert_json(c.get(TEAMS), 200)]
        assert assert_json(c.get(CHANNELS), 200) == []
    assert_json(join(server, carol, code), 404,
                {"error": "Invalid or expired invitation code", "code": "not_found"})
    assert_json(api(server, alice["access"]).delete(f"{TEAMS}{t['id']}/"), 404, NOT_FOUND)


def test_delete_permissions(server, staff):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    assert_json(api(server, carol["access"]).delete(f"{TEAMS}{t['id']}/"), 404, NOT_FOUND)
    assert_json(api(server, bob["access"]).delete(f"{TEAMS}{t['id']}"), 403, FORBIDDEN)
    r = api(server, staff["access"]).delete(f"{TEAMS}{t['id']}")
    assert r.status_code == 204 and r.content == b""


# --- add_member -----------------------------------------------------------------------------------

def test_add_member(server):
    alice, bob, carol = register(server), register(server), register(server)
    acquaint(server, alice, bob, carol)  # add_member adds visible users only (§4)
    t = create_team(server, alice, name="Acme")
    c = api(server, alice["access"])
    assert_json(c.post(f"{TEAMS}{t['id']}/add_member/", json={"user_id": bob["id"]}), 200,
                {"message": f"Added {bob['username']} to Acme"})
    # Idempotent: same answer, nothing changes.
    assert_json(c.post(f"{TEAMS}{t['id']}/add_member", json={"user_id": str(bob["id"])}), 200,
                {"message": f"Added {bob['username']} to Acme"})
    # Any member may add.
    assert_json(api(server, bob["access"]).post(f"{TEAMS}{t['id']}/add_member/",
                                                json={"user_id": carol["id"]}), 200,
                {"message": f"Added {carol['username']} to Acme"})
    got = assert_json(c.get(f"{TEAMS}{t['id']}/"), 200)
    assert got["members"] == members(alice, bob, carol)
    # Adding the owner again is a silent no-op too.
    assert_json(c.post(f"{TEAMS}{t['id']}/add_member/", json={"user_id": alice["id"]}), 200,
                {"message": f"Added {alice['username']} to Acme"})


@pytest.mark.parametrize("action", ["add_member", "remove_member", "transfer_ownership"])
def test_user_id_errors(server, user, action):
    t = create_team(server, user)
    c = api(server, user["access"])
    path = f"{TEAMS}{t['id']}/{action}/"
    for body in ({}, {"user_id": None}, {"user_id": ""}):
        assert_json(c.post(path, json=body), 400, required("user_id"))
    assert_json(c.post(path), 400, required("user_id"))  # no body at all
    for value in (0, -1, "abc", 1.5, True, "7a", [1], 2 ** 63):
        assert_json(c.post(path, json={"user_id": value}), 400, invalid_id("user_id"))


def test_add_unknown_user_is_404(server, user):
    t = create_team(server, user)
    assert_json(api(server, user["access"]).post(f"{TEAMS}{t['id']}/add_member/",
                                                 json={"user_id": 2 ** 62}), 404, NOT_FOUND)


def test_add_inactive_user_is_404(server):
    alice, bob = register(server), register(server)
    acquaint(server, alice, bob)
    t = create_team(server, alice)
    # Deactivated behind the API's back (parley setuser would also revoke bob's tokens).
    db_exec(server, "UPDATE users SET is_active = FALSE WHERE id = ?", (bob["id"],))
    assert_json(api(server, alice["access"]).post(f"{TEAMS}{t['id']}/add_member/",
                                                  json={"user_id": bob["id"]}), 404, NOT_FOUND)
    got = assert_json(api(server, alice["access"]).get(f"{TEAMS}{t['id']}/"), 200)
    assert got["members"] == members(alice)


def test_add_member_to_invisible_team_is_404(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = create_team(server, alice)
    c = api(server, carol["access"])
    assert_json(c.post(f"{TEAMS}{t['id']}/add_member/", json={"user_id": bob["id"]}), 404,
                NOT_FOUND)
    # Visibility is checked before the body.
    assert_json(c.post(f"{TEAMS}{t['id']}/add_member/", json={}), 404, NOT_FOUND)
    assert_json(c.post(f"{TEAMS}{2 ** 62}/add_member/", json={"user_id": bob["id"]}), 404,
                NOT_FOUND)


def test_staff_adds_to_any_team(server, staff):
    alice, bob = register(server), register(server)
    t = create_team(server, alice)
    assert_json(api(server, staff["access"]).post(f"{TEAMS}{t['id']}/add_member/",
                                                  json={"user_id": bob["id"]}), 200)
    got = assert_json(api(server, alice["access"]).get(f"{TEAMS}{t['id']}/"), 200)
    assert got["members"] == members(alice, bob)


# --- remove_member and leave ----------------------------------------------------------------------

def test_owner_removes_a_member(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob, carol)
    assert_json(api(server, alice["access"]).post(f"{TEAMS}{t['id']}/remove_member/",
                                                  json={"user_id": carol["id"]}), 200,
                {"message": f"Removed {carol['username']} from Acme"})
    got = assert_json(api(server, alice["access"]).get(f"{TEAMS}{t['id']}/"), 200)
    assert got["members"] == members(alice, bob)
    assert_json(api(server, carol["access"]).get(f"{TEAMS}{t['id']}/"), 404, NOT_FOUND)


def test_member_removes_themself(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    assert_json(api(server, bob["access"]).post(f"{TEAMS}{t['id']}/remove_member/",
                                                json={"user_id": str(bob["id"])}), 200,
                {"message": f"Removed {bob['username']} from Acme"})
    assert_json(api(server, bob["access"]).get(f"{TEAMS}{t['id']}/"), 404, NOT_FOUND)


def test_remove_member_check_order(server, staff):
    alice, bob, carol, dave = (register(server) for _ in range(4))
    t = team_with(server, alice, bob, carol)
    path = f"{TEAMS}{t['id']}/remove_member/"
    as_bob = api(server, bob["access"])
    # 1. the id; 2. the target's membership (before the 403); 3. 403; 4. the owner.
    assert_json(as_bob.post(path, json={}), 400, required("user_id"))
    assert_json(as_bob.post(path, json={"user_id": "x"}), 400, invalid_id("user_id"))
    assert_json(as_bob.post(path, json={"user_id": dave["id"]}), 400, NOT_TEAM_MEMBER)
    assert_json(as_bob.post(path, json={"user_id": 2 ** 62}), 400, NOT_TEAM_MEMBER)
    assert_json(as_bob.post(path, json={"user_id": carol["id"]}), 403, FORBIDDEN)
    assert_json(as_bob.post(path, json={"user_id": alice["id"]}), 403, FORBIDDEN)
    assert_json(api(server, alice["access"]).post(path, json={"user_id": alice["id"]}), 400,
                OWNER_CANNOT_LEAVE)
    assert_json(api(server, staff["access"]).post(path, json={"user_id": alice["id"]}), 400,
                OWNER_CANNOT_LEAVE)
    # Not visible at all: 404 before anything else.
    assert_json(api(server, dave["access"]).post(path, json={}), 404, NOT_FOUND)
    got = assert_json(api(server, alice["access"]).get(f"{TEAMS}{t['id']}/"), 200)
    assert got["members"] == members(alice, bob, carol)


def test_staff_removes_a_member(server, staff):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    assert_json(api(server, staff["access"]).post(f"{TEAMS}{t['id']}/remove_member/",
                                                  json={"user_id": bob["id"]}), 200,
                {"message": f"Removed {bob['username']} from Acme"})


def test_leave(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    path = f"{TEAMS}{t['id']}/leave/"
    assert_json(api(server, carol["access"]).post(path), 404, NOT_FOUND)
    assert_json(api(server, alice["access"]).post(path), 400, OWNER_CANNOT_LEAVE)
    assert_json(api(server, bob["access"]).post(f"{TEAMS}{t['id']}/leave"), 200,
                {"message": "Left Acme"})
    assert_json(api(server, bob["access"]).get(f"{TEAMS}{t['id']}/"), 404, NOT_FOUND)
    assert_json(api(server, bob["access"]).post(path), 404, NOT_FOUND)
    got = assert_json(api(server, alice["access"]).get(f"{TEAMS}{t['id']}/"), 200)
    assert got["members"] == members(alice)


def test_staff_leave(server, staff):
    alice = register(server)
    t = create_team(server, alice)
    path = f"{TEAMS}{t['id']}/leave/"
    c = api(server, staff["access"])
    assert_json(c.post(path), 400, NOT_TEAM_MEMBER)  # staff see the team but are not in it
    add_member(server, alice, t["id"], staff)
    assert_json(c.post(path), 200, {"message": "Left Acme"})
    assert_json(c.post(path), 400, NOT_TEAM_MEMBER)


# --- transfer_ownership ---------------------------------------------------------------------------

def test_transfer_ownership(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    path = f"{TEAMS}{t['id']}/transfer_ownership/"
    c = api(server, alice["access"])
    out = assert_json(c.post(path, json={"user_id": str(bob["id"])}), 200)
    assert out == {**t, "created_by": bob["id"]}
    # The old owner is a plain member now: 403 for owner actions, and may leave.
    assert_json(c.post(path, json={"user_id": alice["id"]}), 403, FORBIDDEN)
    assert_json(c.patch(f"{TEAMS}{t['id']}/", json={"name": "x"}), 403, FORBIDDEN)
    assert_json(api(server, bob["access"]).post(f"{TEAMS}{t['id']}/leave/"), 400,
                OWNER_CANNOT_LEAVE)
    assert_json(c.post(f"{TEAMS}{t['id']}/leave/"), 200, {"message": "Left Acme"})
    got = assert_json(api(server, bob["access"]).get(f"{TEAMS}{t['id']}/"), 200)
    assert got["created_by"] == bob["id"] and got["members"] == members(bob)
    assert_json(api(server, carol["access"]).post(path, json={"user_id": carol["id"]}), 404,
                NOT_FOUND)


def test_transfer_to_current_owner_is_a_no_op(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    out = assert_json(api(server, alice["access"]).post(
        f"{TEAMS}{t['id']}/transfer_ownership/", json={"user_id": alice["id"]}), 200)
    assert out == t


def test_transfer_errors(server, staff):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    path = f"{TEAMS}{t['id']}/transfer_ownership/"
    assert_json(api(server, alice["access"]).post(path, json={"user_id": carol["id"]}), 400,
                NOT_TEAM_MEMBER)
    assert_json(api(server, alice["access"]).post(path, json={"user_id": 2 ** 62}), 400,
                NOT_TEAM_MEMBER)
    assert_json(api(server, bob["access"]).post(path, json={"user_id": bob["id"]}), 403,
                FORBIDDEN)
    out = assert_json(api(server, staff["access"]).post(path, json={"user_id": bob["id"]}), 200)
    assert out["created_by"] == bob["id"]


def test_join_then_owner_removal_with_invitation_roundtrip(server):
    alice, bob = register(server), register(server)
    t = create_team(server, alice)
    code = invite(server, alice, t["id"])["invite_code"]
    assert_json(join(server, bob, code), 200)
    assert_json(api(server, alice["access"]).post(f"{TEAMS}{t['id']}/remove_member/",
                                                  json={"user_id": bob["id"]}), 200)
    # Removed members may come back with a usable invitation.
    again = assert_json(join(server, bob, code), 200)
    assert again["members"] == members(alice, bob)
