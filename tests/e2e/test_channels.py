"""Channels (API.md §5): list, create, retrieve, update, delete, by team and DM channels, with
every listed error body."""
import pytest

from support.client import NOT_AUTHENTICATED, NOT_FOUND, TIMESTAMP, api, assert_401, assert_json, register
from support.teams import (CHANNEL_KEYS, CHANNELS, DM_ELSEWHERE, FORBIDDEN, NOT_TEAM_MEMBER,
                           TEAMS, add_member, channel_ids, create_channel, create_team, dm,
                           invalid_id, members, team_with)

DM_PATH = f"{CHANNELS}create_or_get_dm_channel/"
BY_TEAM = f"{CHANNELS}team_id/"
SELF_DM = {"error": "You cannot create a direct message channel with yourself", "code": "self_dm"}
DM_REQUIRED = {"error": "team_id and user_id are required", "code": "required"}


def invalid_pk(value) -> dict:
    return {"team": [f"Invalid pk \"{value}\" - object does not exist."]}


@pytest.fixture
def trio(server):
    """alice owns Acme with bob and carol; dave is outside."""
    alice, bob, carol, dave = (register(server) for _ in range(4))
    t = team_with(server, alice, bob, carol)
    return alice, bob, carol, dave, t


# --- create ---------------------------------------------------------------------------------------

def test_create_group_channel(server, trio):
    alice, bob, carol, dave, t = trio
    r = api(server, bob["access"]).post(CHANNELS, json={"name": " general ", "team": t["id"]})
    ch = assert_json(r, 201)
    assert set(ch) == CHANNEL_KEYS
    assert ch["name"] == "general" and ch["description"] == ""
    assert ch["team"] == t["id"] and ch["created_by"] == bob["id"]
    assert ch["channel_type"] == "group" and ch["is_direct_message"] is False
    assert ch["members"] == members(alice, bob, carol)
    assert TIMESTAMP.match(ch["created_at"])
    for who in (alice, bob, carol):
        assert_json(api(server, who["access"]).get(f"{CHANNELS}{ch['id']}/"), 200, ch)
    assert_json(api(server, dave["access"]).get(f"{CHANNELS}{ch['id']}/"), 404, NOT_FOUND)


def test_create_accepts_explicit_group_and_string_team(server, trio):
    alice, bob, carol, dave, t = trio
    ch = create_channel(server, alice, str(t["id"]), name="random", description=" d ",
                        channel_type="group", is_direct_message=False)
    assert ch["description"] == "d" and ch["team"] == t["id"]
    ch = create_channel(server, alice, t["id"], name="x", is_direct_message="false")
    assert ch["is_direct_message"] is False
    # Read-only keys are ignored.
    ch = create_channel(server, alice, t["id"], name="y", created_by=bob["id"], members=[],
                        id=1)
    assert ch["created_by"] == alice["id"] and ch["members"] == members(alice, bob, carol)


def test_names_need_not_be_unique(server, trio):
    alice, bob, carol, dave, t = trio
    a = create_channel(server, alice, t["id"], name="same")
    b = create_channel(server, bob, t["id"], name="same")
    assert a["id"] != b["id"]


def test_create_in_foreign_or_unknown_team(server, trio):
    alice, bob, carol, dave, t = trio
    c = api(server, dave["access"])
    assert_json(c.post(CHANNELS, json={"name": "x", "team": t["id"]}), 400, invalid_pk(t["id"]))
    assert_json(c.post(CHANNELS, json={"name": "x", "team": str(t["id"])}), 400,
                invalid_pk(t["id"]))
    assert_json(c.post(CHANNELS, json={"name": "x", "team": 2 ** 62}), 400, invalid_pk(2 ** 62))
    for bad in (0, -5, "0"):
        assert_json(c.post(CHANNELS, json={"name": "x", "team": bad}), 400, invalid_pk(bad))
    # Reported together with the other invalid fields.
    assert_json(c.post(CHANNELS, json={"name": "", "team": t["id"]}), 400,
                {"name": ["This field may not be blank."], **invalid_pk(t["id"])})
    # A member's own team is fine even when another field is wrong.
    assert_json(api(server, bob["access"]).post(CHANNELS, json={"name": "", "team": t["id"]}),
                400, {"name": ["This field may not be blank."]})
    assert channel_ids(server, alice) == []


def test_staff_creates_in_any_team(server, staff, trio):
    alice, bob, carol, dave, t = trio
    r = api(server, staff["access"]).post(CHANNELS, json={"name": "ops", "team": t["id"]})
    ch = assert_json(r, 201)
    assert ch["created_by"] == staff["id"]
    assert ch["members"] == members(alice, bob, carol)  # all team members; staff are not one
    r = api(server, staff["access"]).post(CHANNELS, json={"name": "ops", "team": 2 ** 62})
    assert_json(r, 400, invalid_pk(2 ** 62))


@pytest.mark.parametrize("extra, errors", [
    ({"channel_type": "direct"}, {"channel_type": [DM_ELSEWHERE]}),
    ({"channel_type": "private"}, {"channel_type": ["\"private\" is not a valid choice."]}),
    ({"channel_type": ""}, {"channel_type": ["\"\" is not a valid choice."]}),
    ({"channel_type": None}, {"channel_type": ["This field may not be null."]}),
    ({"is_direct_message": True}, {"is_direct_message": [DM_ELSEWHERE]}),
    ({"is_direct_message": "true"}, {"is_direct_message": [DM_ELSEWHERE]}),
    ({"is_direct_message": "maybe"}, {"is_direct_message": ["Must be a valid boolean."]}),
    ({"is_direct_message": None}, {"is_direct_message": ["This field may not be null."]}),
    ({"channel_type": "direct", "is_direct_message": True},
     {"channel_type": [DM_ELSEWHERE], "is_direct_message": [DM_ELSEWHERE]}),
])
def test_create_refuses_direct_channels(server, trio, extra, errors):
    alice, bob, carol, dave, t = trio
    r = api(server, alice["access"]).post(CHANNELS, json={"name": "x", "team": t["id"], **extra})
    assert_json(r, 400, errors)


@pytest.mark.parametrize("body, errors", [
    ({}, {"name": ["This field is required."], "team": ["This field is required."]}),
    ({"name": "x"}, {"team": ["This field is required."]}),
    ({"name": "x", "team": None}, {"team": ["This field may not be null."]}),
    ({"name": "x", "team": "abc"}, {"team": ["Incorrect type. Expected pk value, received str."]}),
    ({"name": "x", "team": True}, {"team": ["Incorrect type. Expected pk value, received bool."]}),
    ({"name": "x", "team": 1.5}, {"team": ["Incorrect type. Expected pk value, received float."]}),
    ({"name": "x", "team": [1]}, {"team": ["Incorrect type. Expected pk value, received list."]}),
    ({"name": "x", "team": {}}, {"team": ["Incorrect type. Expected pk value, received dict."]}),
    ({"name": None, "team": "abc"},
     {"name": ["This field may not be null."],
      "team": ["Incorrect type. Expected pk value, received str."]}),
    ({"name": "x" * 101, "team": "abc", "description": None},
     {"name": ["Ensure this field has no more than 100 characters."],
      "description": ["This field may not be null."],
      "team": ["Incorrect type. Expected pk value, received str."]}),
])
def test_create_validation(server, user, body, errors):
    assert_json(api(server, user["access"]).post(CHANNELS, json=body), 400, errors)


@pytest.mark.parametrize("method, path", [
    ("GET", CHANNELS), ("POST", CHANNELS), ("GET", f"{CHANNELS}1/"), ("PUT", f"{CHANNELS}1/"),
    ("PATCH", f"{CHANNELS}1/"), ("DELETE", f"{CHANNELS}1/"), ("POST", BY_TEAM),
    ("POST", DM_PATH),
])
def test_requires_authentication(server, method, path):
    assert_401(api(server).request(method, path, json={}), NOT_AUTHENTICATED)


# --- list, retrieve, by team ----------------------------------------------------------------------

def test_list_spans_teams_by_id(server, trio):
    alice, bob, carol, dave, t = trio
    other = create_team(server, bob, name="Other")
    g1 = create_channel(server, alice, t["id"], name="one")
    g2 = create_channel(server, bob, other["id"], name="two")
    d = dm(server, alice, t["id"], bob)
    g3 = create_channel(server, carol, t["id"], name="three")
    got = assert_json(api(server, bob["access"]).get(CHANNELS), 200)
    assert [c["id"] for c in got] == [g1["id"], g2["id"], d["id"], g3["id"]]
    for c in got:
        assert set(c) == CHANNEL_KEYS
    assert got[2]["members"] == members(alice, bob)
    assert channel_ids(server, carol) == [g1["id"], g3["id"]]
    assert channel_ids(server, alice, "/api/chat/channels") == [g1["id"], d["id"], g3["id"]]
    assert channel_ids(server, dave) == []


def test_get_errors(server, trio):
    alice, bob, carol, dave, t = trio
    c = api(server, alice["access"])
    for bad in ("abc", "0", "-1", str(2 ** 63), str(2 ** 62)):
        assert_json(c.get(f"{CHANNELS}{bad}/"), 404, NOT_FOUND)
    ch = create_channel(server, alice, t["id"])
    assert_json(c.get(f"{CHANNELS}{ch['id']:04d}"), 200, ch)


def test_dm_hidden_from_team_members_outside_it(server, trio, staff):
    alice, bob, carol, dave, t = trio
    d = dm(server, alice, t["id"], bob)
    assert_json(api(server, carol["access"]).get(f"{CHANNELS}{d['id']}/"), 404, NOT_FOUND)
    assert_json(api(server, dave["access"]).get(f"{CHANNELS}{d['id']}/"), 404, NOT_FOUND)
    assert_json(api(server, bob["access"]).get(f"{CHANNELS}{d['id']}/"), 200, d)
    assert_json(api(server, staff["access"]).get(f"{CHANNELS}{d['id']}/"), 200, d)


def test_by_team(server, trio):
    alice, bob, carol, dave, t = trio
    other = create_team(server, alice, name="Other")
    g = create_channel(server, bob, t["id"])
    create_channel(server, alice, other["id"])
    d = dm(server, carol, t["id"], bob)
    c = api(server, bob["access"])
    got = assert_json(c.post(BY_TEAM, json={"team_id": str(t["id"])}), 200)
    assert [x["id"] for x in got] == [g["id"], d["id"]]
    assert got[1]["channel_type"] == "direct" and got[1]["name"] == (
        f"DM: {carol['username']} and {bob['username']}")
    assert_json(c.post("/api/chat/channels/team_id", json={"team_id": t["id"]}), 200, got)
    got = assert_json(api(server, alice["access"]).post(BY_TEAM, json={"team_id": t["id"]}), 200)
    assert [x["id"] for x in got] == [g["id"]]


def test_by_team_errors(server, trio, staff):
    alice, bob, carol, dave, t = trio
    c = api(server, alice["access"])
    for body in ({}, {"team_id": None}, {"team_id": ""}):
        assert_json(c.post(BY_TEAM, json=body), 400,
                    {"error": "team_id is required", "code": "required"})
    for value in (0, -1, "abc", 1.5, True, "7a"):
        assert_json(c.post(BY_TEAM, json={"team_id": value}), 400, invalid_id("team_id"))
    assert_json(api(server, dave["access"]).post(BY_TEAM, json={"team_id": t["id"]}), 404,
                NOT_FOUND)
    assert_json(c.post(BY_TEAM, json={"team_id": 2 ** 62}), 404, NOT_FOUND)
    # Staff see the team; the list is still scoped by membership.
    create_channel(server, alice, t["id"])
    assert_json(api(server, staff["access"]).post(BY_TEAM, json={"team_id": t["id"]}), 200, [])
    assert_json(api(server, staff["access"]).post(BY_TEAM, json={"team_id": 2 ** 62}), 404,
                NOT_FOUND)


# --- update and delete ----------------------------------------------------------------------------

def test_update_group_channel(server, trio, staff):
    alice, bob, carol, dave, t = trio
    ch = create_channel(server, bob, t["id"], name="general")
    path = f"{CHANNELS}{ch['id']}/"
    out = assert_json(api(server, bob["access"]).patch(path, json={"name": " announcements "}),
                      200)
    assert out == {**ch, "name": "announcements"}
    out = assert_json(api(server, alice["access"]).patch(path, json={"description": "d"}), 200)
    assert out == {**ch, "name": "announcements", "description": "d"}
    out = assert_json(api(server, staff["access"]).put(path, json={"name": "by staff"}), 200)
    assert out["name"] == "by staff" and out["description"] == "d"
    # Read-only keys are ignored.
    out = assert_json(api(server, bob["access"]).patch(
        path, json={"team": 2 ** 62, "channel_type": "direct", "is_direct_message": True,
                    "members": [], "created_by": carol["id"]}), 200)
    assert out == {**ch, "name": "by staff", "description": "d"}
    assert_json(api(server, carol["access"]).patch(path, json={"name": "mine"}), 403, FORBIDDEN)
    assert_json(api(server, carol["access"]).put(path, json={"name": ""}), 403, FORBIDDEN)
    assert_json(api(server, dave["access"]).patch(path, json={"name": "mine"}), 404, NOT_FOUND)


def test_update_validation(server, trio):
    alice, bob, carol, dave, t = trio
    ch = create_channel(server, bob, t["id"])
    c = api(server, bob["access"])
    path = f"{CHANNELS}{ch['id']}/"
    assert_json(c.put(path, json={"description": "x"}), 400, {"name": ["This field is required."]})
    assert_json(c.patch(path, json={"name": ""}), 400, {"name": ["This field may not be blank."]})
    assert_json(c.patch(path, json={"name": "n" * 101}), 400,
                {"name": ["Ensure this field has no more than 100 characters."]})
    assert_json(c.patch(path, json={"description": None}), 400,
                {"description": ["This field may not be null."]})
    assert_json(c.patch(path, json=[1]), 400,
                {"detail": "Expected a JSON object.", "code": "parse_error"})
    assert_json(c.get(path), 200, ch)


def test_dm_channels_are_changed_by_staff_only(server, trio, staff):
    alice, bob, carol, dave, t = trio
    d = dm(server, alice, t["id"], bob)  # alice: owner and creator
    path = f"{CHANNELS}{d['id']}/"
    for who in (alice, bob):
        c = api(server, who["access"])
        assert_json(c.patch(path, json={"name": "ours"}), 403, FORBIDDEN)
        assert_json(c.put(path, json={"name": "ours"}), 403, FORBIDDEN)
        assert_json(c.delete(path), 403, FORBIDDEN)
    assert_json(api(server, carol["access"]).delete(path), 404, NOT_FOUND)
    out = assert_json(api(server, staff["access"]).patch(path, json={"name": "renamed"}), 200)
    assert out["name"] == "renamed" and out["channel_type"] == "direct"
    r = api(server, staff["access"]).delete(path)
    assert r.status_code == 204 and r.content == b""
    assert_json(api(server, alice["access"]).get(path), 404, NOT_FOUND)
    # The pair may get a new DM channel afterwards.
    again = dm(server, bob, t["id"], alice)
    assert again["id"] != d["id"]
    assert again["name"] == f"DM: {bob['username']} and {alice['username']}"


def test_delete_group_channel(server, trio, staff):
    alice, bob, carol, dave, t = trio
    by_bob = [create_channel(server, bob, t["id"], name=f"c{i}") for i in range(3)]
    assert_json(api(server, carol["access"]).delete(f"{CHANNELS}{by_bob[0]['id']}/"), 403,
                FORBIDDEN)
    assert_json(api(server, dave["access"]).delete(f"{CHANNELS}{by_bob[0]['id']}/"), 404,
                NOT_FOUND)
    for who, ch in zip((bob, alice, staff), by_bob):
        r = api(server, who["access"]).delete(f"{CHANNELS}{ch['id']}")
        assert r.status_code == 204 and r.content == b"", r.text
        assert_json(api(server, bob["access"]).get(f"{CHANNELS}{ch['id']}/"), 404, NOT_FOUND)
    assert channel_ids(server, bob) == []


# --- create_or_get_dm_channel ---------------------------------------------------------------------

def test_dm_created_then_found(server, trio):
    alice, bob, carol, dave, t = trio
    r = api(server, alice["access"]).post(DM_PATH, json={"team_id": str(t["id"]),
                                                         "user_id": bob["id"]})
    d = assert_json(r, 200)
    assert set(d) == CHANNEL_KEYS
    assert d["name"] == f"DM: {alice['username']} and {bob['username']}"
    assert d["description"] == "" and d["team"] == t["id"]
    assert d["channel_type"] == "direct" and d["is_direct_message"] is True
    assert d["created_by"] == alice["id"]
    assert d["members"] == members(alice, bob)
    assert dm(server, alice, t["id"], bob) == d
    assert dm(server, bob, t["id"], alice) == d  # either side finds the same channel
    assert_json(api(server, bob["access"]).post("/api/chat/channels/create_or_get_dm_channel",
                                                json={"team_id": t["id"],
                                                      "user_id": str(alice["id"])}), 200, d)


def test_dm_one_per_team(server, trio):
    alice, bob, carol, dave, t = trio
    other = team_with(server, alice, bob, name="Other")
    a = dm(server, alice, t["id"], bob)
    b = dm(server, alice, other["id"], bob)
    assert a["id"] != b["id"] and b["team"] == other["id"]


def test_dm_check_order(server, trio, staff):
    alice, bob, carol, dave, t = trio
    c = api(server, alice["access"])
    for body in ({}, {"team_id": t["id"]}, {"user_id": bob["id"]}, {"team_id": "", "user_id": 2},
                 {"team_id": None, "user_id": "x"}, {"team_id": "x", "user_id": ""}):
        assert_json(c.post(DM_PATH, json=body), 400, DM_REQUIRED)
    assert_json(c.post(DM_PATH), 400, DM_REQUIRED)
    assert_json(c.post(DM_PATH, json={"team_id": "abc", "user_id": "abc"}), 400,
                invalid_id("team_id"))
    assert_json(c.post(DM_PATH, json={"team_id": 0, "user_id": bob["id"]}), 400,
                invalid_id("team_id"))
    assert_json(c.post(DM_PATH, json={"team_id": t["id"], "user_id": -2}), 400,
                invalid_id("user_id"))
    assert_json(c.post(DM_PATH, json={"team_id": t["id"], "user_id": 1.5}), 400,
                invalid_id("user_id"))
    # The team before the self check, the self check before the user lookup.
    assert_json(api(server, dave["access"]).post(DM_PATH, json={"team_id": t["id"],
                                                                "user_id": dave["id"]}),
                404, NOT_FOUND)
    assert_json(c.post(DM_PATH, json={"team_id": 2 ** 62, "user_id": alice["id"]}), 404,
                NOT_FOUND)
    assert_json(c.post(DM_PATH, json={"team_id": t["id"], "user_id": alice["id"]}), 400, SELF_DM)
    assert_json(c.post(DM_PATH, json={"team_id": t["id"], "user_id": str(alice["id"])}), 400,
                SELF_DM)
    assert_json(c.post(DM_PATH, json={"team_id": t["id"], "user_id": 2 ** 62}), 404, NOT_FOUND)
    assert_json(c.post(DM_PATH, json={"team_id": t["id"], "user_id": dave["id"]}), 400,
                NOT_TEAM_MEMBER)
    # Staff see the team but hold no DM outside it (§13.13).
    s = api(server, staff["access"])
    assert_json(s.post(DM_PATH, json={"team_id": t["id"], "user_id": bob["id"]}), 400,
                NOT_TEAM_MEMBER)
    assert_json(s.post(DM_PATH, json={"team_id": t["id"], "user_id": staff["id"]}), 400, SELF_DM)
    add_member(server, alice, t["id"], staff)
    d = assert_json(s.post(DM_PATH, json={"team_id": t["id"], "user_id": bob["id"]}), 200)
    assert d["members"] == members(staff, bob)
    assert_json(s.post(f"{TEAMS}{t['id']}/leave/"), 200)


def test_dm_lists(server, trio):
    alice, bob, carol, dave, t = trio
    d = dm(server, alice, t["id"], bob)
    assert d["id"] in channel_ids(server, alice)
    assert d["id"] in channel_ids(server, bob)
    assert d["id"] not in channel_ids(server, carol)
    got = assert_json(api(server, alice["access"]).get(
        f"/api/chat/users/interacted/?team_id={t['id']}"), 200)
    assert got == [{"id": bob["id"], "username": bob["username"], "email": bob["email"],
                    "channel_id": d["id"]}]
