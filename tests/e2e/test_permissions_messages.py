"""The message rows of the permission matrix (API.md §9), table-driven: every action against
every role, with the exact refusal bodies. Roles stack as §9 says; here each role is held by a
different user so that each column is tested on its own."""
import pytest

from support.client import NOT_AUTHENTICATED, NOT_FOUND, api, assert_json, register
from support.teams import FORBIDDEN, add_member, add_member_rest, create_channel, create_team, dm

MESSAGES = "/api/chat/messages/"
ROLES = ("anon", "non_member", "member", "sender", "creator", "owner", "staff")
NOT_CHANNEL_MEMBER = {"error": "You are not a member of this channel.", "code": "invalid"}
STAFF_NOT_TEAM_MEMBER = {"error": "You are not a member of this team.", "code": "not_team_member"}
EDIT_FORBIDDEN = {"error": "You can only edit your own messages", "code": "permission_denied"}
LEGACY_FORBIDDEN = {"Error": "You can only delete your messages", "code": "permission_denied"}


@pytest.fixture(scope="module")
def w(server):
    """owner owns the team; creator (a member) created #ops; sender and member are members;
    non_member is in another team; staff is a superuser outside the team. The DM channel is
    owner's and sender's, created by owner."""
    from support.client import create_superuser, login
    users = {r: register(server) for r in ("owner", "creator", "sender", "member", "non_member")}
    made = create_superuser(server)
    users["staff"] = login(server, made["username"], made["password"])
    team = create_team(server, users["owner"])
    for r in ("creator", "sender", "member"):
        add_member(server, users["owner"], team["id"], users[r])
    create_team(server, users["non_member"], name="Elsewhere")
    ops = create_channel(server, users["creator"], team["id"], name="ops")
    direct = dm(server, users["owner"], team["id"], users["sender"])
    return {"users": users, "team": team, "group": ops["id"], "dm": direct["id"]}


def token(w, role):
    return None if role == "anon" else w["users"][role]["access"]


def new_message(server, w, channel_key="group") -> int:
    r = api(server, w["users"]["sender"]["access"]).post(
        MESSAGES, json={"channel": w[channel_key], "content": "hello"})
    return assert_json(r, 201)["id"]


def react_first(server, w, role, mid):
    if role in ("anon", "non_member"):
        return
    r = api(server, token(w, role)).post(f"{MESSAGES}{mid}/react/", json={"reaction": "x"})
    assert_json(r, 200)


# Each action: (name, request(server, w, role, mid) -> response, {role: (status, body)}).
# Roles absent from the dict succeed with the action's `ok` status; anon is always 401.
def call(method, suffix="", body=None, setup=None):
    def run(server, w, role, mid):
        if setup:
            setup(server, w, role, mid)
        kw = {} if body is None else {"json": body}
        return api(server, token(w, role)).request(method, f"{MESSAGES}{mid}/{suffix}", **kw)
    return run


def post_group(server, w, role, mid):
    return api(server, token(w, role)).post(MESSAGES, json={"channel": w["group"],
                                                            "content": "hi"})


def list_all(server, w, role, mid):
    return api(server, token(w, role)).get(MESSAGES)


def list_direct(server, w, role, mid):
    return api(server, token(w, role)).get(
        f"{MESSAGES}direct_messages/?user_id={w['users']['sender']['id']}")


def channel_messages(server, w, role, mid):
    return api(server, token(w, role)).get(f"/api/chat/channels/{w['group']}/messages/")


HIDDEN = {"non_member": (404, NOT_FOUND)}
EDIT_REFUSALS = {**HIDDEN, "member": (403, FORBIDDEN), "creator": (403, FORBIDDEN),
                 "owner": (403, FORBIDDEN)}

ACTIONS = [
    ("GET /messages/", list_all, 200, {}),
    ("GET direct_messages", list_direct, 200, {}),
    ("POST /messages/", post_group, 201,
     {"non_member": (400, NOT_CHANNEL_MEMBER),
      # §13.13: staff see every channel but post only in teams they belong to.
      "staff": (400, STAFF_NOT_TEAM_MEMBER)}),
    ("GET /messages/{id}/", call("GET"), 200, HIDDEN),
    ("GET /channels/{id}/messages/", channel_messages, 200, HIDDEN),
    ("PATCH /messages/{id}/", call("PATCH", body={"content": "edited"}), 200, EDIT_REFUSALS),
    ("PUT /messages/{id}/", call("PUT", body={"content": "edited"}), 200, EDIT_REFUSALS),
    ("PUT edit_message", call("PUT", "edit_message/", {"content": "edited"}), 200,
     {**HIDDEN, "member": (403, EDIT_FORBIDDEN), "creator": (403, EDIT_FORBIDDEN),
      "owner": (403, EDIT_FORBIDDEN)}),
    ("PATCH edit_message", call("PATCH", "edit_message/", {"content": "edited"}), 200,
     {**HIDDEN, "member": (403, EDIT_FORBIDDEN), "creator": (403, EDIT_FORBIDDEN),
      "owner": (403, EDIT_FORBIDDEN)}),
    ("DELETE /messages/{id}/ (group)", call("DELETE"), 204,
     {**HIDDEN, "member": (403, FORBIDDEN), "creator": (403, FORBIDDEN)}),
    ("DELETE delete_message (group)", call("DELETE", "delete_message/"), 200,
     {**HIDDEN, "member": (403, LEGACY_FORBIDDEN), "creator": (403, LEGACY_FORBIDDEN)}),
    ("POST react", call("POST", "react/", {"reaction": "x"}), 200, HIDDEN),
    ("DELETE remove_reaction", call("DELETE", "remove_reaction/", setup=react_first), 200,
     HIDDEN),
    ("POST pin", call("POST", "pin/"), 200, HIDDEN),
    ("POST unpin", call("POST", "unpin/"), 200, HIDDEN),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name, request_fn, ok, refusals", ACTIONS,
                         ids=[a[0] for a in ACTIONS])
def test_message_rows(server, w, name, request_fn, ok, refusals, role):
    mid = new_message(server, w)
    r = request_fn(server, w, role, mid)
    if role == "anon":
        assert_json(r, 401, NOT_AUTHENTICATED)
        return
    status, body = refusals.get(role, (ok, None))
    if status == 204:
        assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    else:
        assert_json(r, status, body)


# DM rows: the owner and the creator are the DM's other participant; a team member outside the
# DM is this row's non-member. Owner moderation does not reach DMs (§9).
DM_ROLES = {"anon": None, "non_member": "member", "sender": "sender", "owner": "owner",
            "staff": "staff"}


@pytest.mark.parametrize("role", DM_ROLES)
@pytest.mark.parametrize("suffix, ok, forbidden", [
    ("", 204, FORBIDDEN),
    ("delete_message/", 200, LEGACY_FORBIDDEN),
])
def test_delete_in_dm_channel(server, w, suffix, ok, forbidden, role):
    mid = new_message(server, w, "dm")
    who = DM_ROLES[role]
    r = api(server, token(w, who) if who else None).delete(f"{MESSAGES}{mid}/{suffix}")
    expected = {"anon": (401, NOT_AUTHENTICATED), "non_member": (404, NOT_FOUND),
                "owner": (403, forbidden)}.get(role, (ok, None))
    if expected[0] == 204:
        assert r.status_code == 204, r.text
    else:
        assert_json(r, *expected)


@pytest.mark.parametrize("role", ["member", "sender"])
def test_post_in_dm_channel(server, w, role):
    """Only the participants can post in a DM; the team member outside it cannot see it."""
    who = {"member": "member", "sender": "sender"}[role]
    r = api(server, token(w, who)).post(MESSAGES, json={"channel": w["dm"], "content": "x"})
    if role == "member":
        assert_json(r, 400, NOT_CHANNEL_MEMBER)
    else:
        assert_json(r, 201)


def test_staff_member_posts(server, w):
    """A staff user who is a team member posts like any member (§9 Staff ✓)."""
    staff = w["users"]["staff"]
    # Staff can add themselves: any visible team accepts add_member from staff (§4).
    add_member_rest(server, staff, w["team"]["id"], staff)
    r = api(server, staff["access"]).post(MESSAGES, json={"channel": w["group"], "content": "x"})
    assert_json(r, 201)
    # Staff post in a DM channel they can see through the staff bypass, as §9 allows.
    r = api(server, staff["access"]).post(MESSAGES, json={"channel": w["dm"], "content": "x"})
    assert_json(r, 201)
