"""The WebSocket part of the permission matrix (API.md §9), table-driven: rows are WebSocket
request types, columns the caller's role. On the WebSocket 404 is an error frame with code
`not_found`, 403 `permission_denied`, 400 the listed code, ✓ the request's reply or ack; Anon is
the handshake's 401. Staff here are not members of the team: they pass every visibility check,
but posting needs membership (§13.13: `not_team_member`)."""
import itertools

import pytest

from support.client import register
from support.frames import post
from support.teams import add_member, create_channel, create_team, dm
from support.ws import connect, handshake

ROLES = ("non_member", "member", "sender", "creator", "owner", "staff")
OK = "ok"
NF = "not_found"
PD = "permission_denied"
NTM = "not_team_member"

_rid = itertools.count(1)


class Matrix:
    """team: owned by `owner`, with `member`, `sender` and `creator`; `group`: a group channel
    made by `creator`; DM channels sender-member (made by member), sender-owner (made by sender)
    and creator-owner; `non_member` shares no team; `staff` is a superuser outside the team."""

    def __init__(self, server, staff):
        self.server = server
        self.users = {r: register(server) for r in ROLES if r != "staff"}
        self.users["staff"] = staff
        u = self.users
        self.team = create_team(server, u["owner"])
        for r in ("member", "sender", "creator"):
            add_member(server, u["owner"], self.team["id"], u[r])
        self.group = create_channel(server, u["creator"], self.team["id"], name="matrix")
        self.dm_sm = dm(server, u["member"], self.team["id"], u["sender"])
        self.dm_so = dm(server, u["sender"], self.team["id"], u["owner"])
        self.dm_co = dm(server, u["creator"], self.team["id"], u["owner"])
        self.socks = {r: connect(server, u[r]["access"], label=r) for r in ROLES}

    def close(self):
        for s in self.socks.values():
            s.close()

    def dm_for(self, role):
        """A DM channel the role takes part in (non-members and staff: one they are not in)."""
        return {"member": self.dm_sm, "sender": self.dm_sm, "creator": self.dm_co,
                "owner": self.dm_so}.get(role, self.dm_sm)["id"]

    def group_message(self):
        return post(self.server, self.users["sender"], self.group["id"], "matrix message")["id"]

    def dm_message(self, role):
        """A DM message the role did not write: for the owner, the sender's in sender-owner (made
        by the sender); for the creator, the owner's in creator-owner (made by the creator); for
        the others, the sender's in sender-member (made by the member)."""
        if role == "creator":
            return post(self.server, self.users["owner"], self.dm_co["id"], "dm message")["id"]
        channel = self.dm_so if role == "owner" else self.dm_sm
        return post(self.server, self.users["sender"], channel["id"], "dm message")["id"]


@pytest.fixture(scope="module")
def matrix(server, staff):
    m = Matrix(server, staff)
    yield m
    m.close()


# Each row: (frame builder (matrix, role) -> request, reply type on success, expected per role in
# ROLES order). The sender's row cells act on a message the sender wrote.
def _msg(m, role):
    return m.group_message()


ROWS = {
    "channel_message": (
        lambda m, r: {"channel": m.group["id"], "content": "hi"}, "ack",
        (NF, OK, OK, OK, OK, NTM)),
    "direct_message": (
        lambda m, r: {"channel_id": m.dm_for(r), "content": "hi"}, "ack",
        (NF, OK, OK, OK, OK, NTM)),
    "forward_message": (
        lambda m, r: {"channels": [m.group["id"]], "content": "fw"}, "ack",
        (NF, OK, OK, OK, OK, NTM)),
    "typing": (
        lambda m, r: {"channel_id": m.group["id"]}, "ack",
        (NF, OK, OK, OK, OK, NTM)),
    "edit_message": (
        lambda m, r: {"message_id": _msg(m, r), "content": "edited"}, "ack",
        (NF, PD, OK, PD, PD, OK)),
    "delete_message": (
        lambda m, r: {"message_id": _msg(m, r), "type": "channel"}, "ack",
        (NF, PD, OK, PD, OK, OK)),
    "delete_message (DM)": (
        lambda m, r: {"message_id": m.dm_message(r), "type": "direct"}, "ack",
        (NF, PD, OK, PD, PD, OK)),
    "reaction": (
        lambda m, r: {"message_id": _msg(m, r), "reaction": "👍"}, "ack",
        (NF, OK, OK, OK, OK, OK)),
    "pin_message": (
        lambda m, r: {"message_id": _msg(m, r)}, "ack",
        (NF, OK, OK, OK, OK, OK)),
    "unpin_message": (
        lambda m, r: {"message_id": _msg(m, r)}, "ack",
        (NF, OK, OK, OK, OK, OK)),
    "get_channel_messages": (
        lambda m, r: {"channel_id": m.group["id"]}, "channel_messages",
        (NF, OK, OK, OK, OK, OK)),
    "get_direct_messages": (
        lambda m, r: {"channel_id": m.dm_for(r)}, "direct_messages",
        (NF, OK, OK, OK, OK, OK)),
    "resume": (
        lambda m, r: {"channels": {str(m.group["id"]): 0}}, "resumed",
        (NF, OK, OK, OK, OK, OK)),
    "team_notification": (
        lambda m, r: {"team_id": m.team["id"], "notification_type": "standup"}, "ack",
        (NF, OK, OK, OK, OK, OK)),
    "get_team_channels": (
        lambda m, r: {"team_id": m.team["id"]}, "team_channels",
        (NF, OK, OK, OK, OK, OK)),
    "get_team_members": (
        lambda m, r: {"team_id": m.team["id"]}, "team_members",
        (NF, OK, OK, OK, OK, OK)),
    "get_interacted_users": (
        lambda m, r: {"team_id": m.team["id"]}, "interacted_users",
        (NF, OK, OK, OK, OK, OK)),
    "get_user_presences": (
        lambda m, r: {"team_id": m.team["id"]}, "user_presences",
        (NF, OK, OK, OK, OK, OK)),
    "create_channel": (
        lambda m, r: {"team_id": m.team["id"], "name": f"by {r}"}, "ack",
        (NF, OK, OK, OK, OK, OK)),
    # A user the caller cannot see (§1.2) is answered like an unknown one; staff see everyone.
    "add_team_member": (
        lambda m, r: {"team_id": m.team["id"], "user_id": register(m.server)["id"]}, "ack",
        (NF, NF, NF, NF, NF, OK)),
    "add_team_member of a visible user": (
        lambda m, r: {"team_id": m.team["id"], "user_id": m.users["member"]["id"]}, "ack",
        (NF, OK, OK, OK, OK, OK)),
    "ping": (
        lambda m, r: {}, "pong",
        (OK, OK, OK, OK, OK, OK)),
}

CELLS = [(row, role, expected[i]) for row, (_, _, expected) in ROWS.items()
         for i, role in enumerate(ROLES)]


@pytest.mark.parametrize("row,role,expected", CELLS,
                         ids=[f"{row}-{role}" for row, role, _ in CELLS])
def test_ws_matrix(matrix, row, role, expected):
    build, reply_type, _ = ROWS[row]
    message_type = row.split(" ")[0]
    sock = matrix.socks[role]
    sock.backlog.clear()  # other cells' broadcasts
    rid = f"m{next(_rid)}"
    frame = {"message_type": message_type, "request_id": rid, **build(matrix, role)}
    answer = sock.request(frame, reply_type, timeout=10)
    assert answer.get("request_id") == rid, answer
    if message_type == "resume":
        # Per channel (§8.8): the summary says not_found instead of an error frame.
        status = answer["channels"][str(matrix.group["id"])]["status"]
        assert answer["type"] == "resumed", answer
        assert (status == "not_found") == (expected == NF), answer
        return
    if expected == OK:
        assert answer["type"] == reply_type, (row, role, answer)
        if reply_type == "ack":
            assert answer["message_type"] == message_type
        return
    assert answer["type"] == "error", (row, role, answer)
    assert (answer["message_type"], answer["code"]) == (message_type, expected), answer
    if expected == NF:
        assert answer["error"] == "Not found.", answer


def test_anonymous_handshake_is_refused_with_401(server):
    status, _, body = handshake(server)
    assert (status, body) == (401, {"detail": "Authentication credentials were not provided.",
                                    "code": "not_authenticated"})


def test_dm_whose_partner_left_is_read_only(server):
    owner, stay, leaver = register(server), register(server), register(server)
    team = create_team(server, owner)
    add_member(server, owner, team["id"], stay)
    add_member(server, owner, team["id"], leaver)
    channel = dm(server, stay, team["id"], leaver)
    old = post(server, leaver, channel["id"], "before leaving")
    from support.client import api, assert_json
    assert_json(api(server, leaver["access"]).post(f"/api/chat/teams/{team['id']}/leave/"), 200)
    s = connect(server, stay["access"])
    try:
        for frame in ({"message_type": "channel_message", "channel": channel["id"],
                       "content": "hello?"},
                      {"message_type": "direct_message", "channel_id": channel["id"],
                       "content": "hello?"},
                      {"message_type": "typing", "channel_id": channel["id"]},
                      {"message_type": "forward_message", "channels": [channel["id"]],
                       "content": "fw"}):
            f = s.request({**frame, "request_id": "x"})
            assert (f["type"], f["code"]) == ("error", "permission_denied"), f
        # Reading still works (§1.3).
        f = s.request({"message_type": "get_direct_messages", "channel_id": channel["id"]})
        assert [m["id"] for m in f["messages"]] == [old["id"]]
        f = s.request({"message_type": "get_direct_messages", "user_id": leaver["id"]})
        assert f["channel_id"] == channel["id"]
        assert [m["recipient"] for m in f["messages"]] == [stay["username"]]
    finally:
        s.close()
    # The one who left sees nothing of it any more.
    gone = connect(server, leaver["access"])
    try:
        f = gone.request({"message_type": "get_channel_messages", "channel_id": channel["id"]})
        assert (f["type"], f["code"], f["field"]) == ("error", "not_found", "channel_id")
    finally:
        gone.close()
