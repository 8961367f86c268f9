"""Invitations (API.md §4): create, list, revoke and join, with every listed error body."""
import datetime
import re

import pytest

from support.client import NOT_FOUND, TIMESTAMP, api, assert_json, register
from support.teams import (ALREADY_MEMBER, CODE_REQUIRED, INVALID_INVITATION, INVITATION_KEYS,
                           TEAMS, create_team, expire_invitation, invitation_uses, invite, join,
                           members, team_with)

CODE = re.compile(r"^[A-Za-z0-9]{22}$")
REVOKED = {"message": "Invitation revoked successfully"}
INVALID_CODE = {"error": "Invalid invitation code", "code": "not_found"}
NO_REVOKE = {"error": "You do not have permission to revoke invitations for this team",
             "code": "permission_denied"}


def parse(ts: str) -> datetime.datetime:
    assert TIMESTAMP.match(ts), ts
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def plain(inv: dict) -> dict:
    """An Invitation as lists show it: without `invitation_url`."""
    return {k: v for k, v in inv.items() if k != "invitation_url"}


def listed(server, who, team_id) -> list:
    return assert_json(api(server, who["access"]).get(f"{TEAMS}{team_id}/invitations/"), 200)


def revoke(server, who, team_id, code):
    return api(server, who["access"]).post(f"{TEAMS}{team_id}/revoke_invitation/",
                                           json={"invite_code": code})


# --- create ---------------------------------------------------------------------------------------

def test_create_defaults(server, user):
    t = create_team(server, user)
    r = api(server, user["access"]).post(f"{TEAMS}{t['id']}/create_invitation/")
    inv = assert_json(r, 200)
    assert set(inv) == INVITATION_KEYS | {"invitation_url"}
    assert CODE.match(inv["invite_code"]), inv["invite_code"]
    assert inv["invitation_url"] == "/join-team/" + inv["invite_code"]
    assert inv["team"] == t["id"] and inv["created_by"] == user["id"]
    assert inv["is_active"] is True and inv["max_uses"] is None and inv["uses"] == 0
    lifetime = parse(inv["expires_at"]) - parse(inv["created_at"])
    assert lifetime == datetime.timedelta(hours=168)


def test_create_with_terms(server, user):
    t = create_team(server, user)
    inv = invite(server, user, t["id"], expires_in_hours=1, max_uses=5)
    assert parse(inv["expires_at"]) - parse(inv["created_at"]) == datetime.timedelta(hours=1)
    assert inv["max_uses"] == 5
    inv = invite(server, user, t["id"], expires_in_hours="8760", max_uses=None)
    assert parse(inv["expires_at"]) - parse(inv["created_at"]) == datetime.timedelta(hours=8760)
    assert inv["max_uses"] is None
    inv = invite(server, user, t["id"], max_uses=1000000)
    assert inv["max_uses"] == 1000000


def test_codes_are_unique(server, user):
    t = create_team(server, user)
    codes = {invite(server, user, t["id"])["invite_code"] for _ in range(20)}
    assert len(codes) == 20


def test_default_hours_setting(fresh_server):
    srv = fresh_server(env={"PARLEY_INVITE_DEFAULT_HOURS": "3"})
    u = register(srv)
    t = create_team(srv, u)
    inv = invite(srv, u, t["id"])
    assert parse(inv["expires_at"]) - parse(inv["created_at"]) == datetime.timedelta(hours=3)


@pytest.mark.parametrize("body, errors", [
    ({"expires_in_hours": 0}, {"expires_in_hours": ["Ensure this value is greater than or equal to 1."]}),
    ({"expires_in_hours": 8761},
     {"expires_in_hours": ["Ensure this value is less than or equal to 8760."]}),
    ({"expires_in_hours": "soon"}, {"expires_in_hours": ["A valid integer is required."]}),
    ({"expires_in_hours": 1.5}, {"expires_in_hours": ["A valid integer is required."]}),
    ({"expires_in_hours": None}, {"expires_in_hours": ["This field may not be null."]}),
    ({"max_uses": 0}, {"max_uses": ["Ensure this value is greater than or equal to 1."]}),
    ({"max_uses": 1000001}, {"max_uses": ["Ensure this value is less than or equal to 1000000."]}),
    ({"max_uses": "many"}, {"max_uses": ["A valid integer is required."]}),
    ({"expires_in_hours": -1, "max_uses": -1},
     {"expires_in_hours": ["Ensure this value is greater than or equal to 1."],
      "max_uses": ["Ensure this value is greater than or equal to 1."]}),
])
def test_create_validation(server, user, body, errors):
    t = create_team(server, user)
    r = api(server, user["access"]).post(f"{TEAMS}{t['id']}/create_invitation/", json=body)
    assert_json(r, 400, errors)
    assert listed(server, user, t["id"]) == []


def test_create_by_member_and_not_by_others(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    inv = invite(server, bob, t["id"])
    assert inv["created_by"] == bob["id"]
    r = api(server, carol["access"]).post(f"{TEAMS}{t['id']}/create_invitation/", json={})
    assert_json(r, 404, NOT_FOUND)
    # Visibility before validation.
    r = api(server, carol["access"]).post(f"{TEAMS}{t['id']}/create_invitation/",
                                          json={"max_uses": 0})
    assert_json(r, 404, NOT_FOUND)


# --- list -----------------------------------------------------------------------------------------

def test_list_usable_newest_first(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    first = invite(server, alice, t["id"])
    used_up = invite(server, alice, t["id"], max_uses=1)
    revoked = invite(server, alice, t["id"])
    expired = invite(server, bob, t["id"])
    last = invite(server, bob, t["id"], max_uses=2)
    assert_json(join(server, carol, used_up["invite_code"]), 200)
    assert_json(revoke(server, alice, t["id"], revoked["invite_code"]), 200, REVOKED)
    expire_invitation(server, expired["invite_code"])
    got = listed(server, bob, t["id"])
    for inv in got:
        assert set(inv) == INVITATION_KEYS, inv
    assert got == [plain(last), plain(first)]
    assert_json(api(server, register(server)["access"]).get(f"{TEAMS}{t['id']}/invitations/"),
                404, NOT_FOUND)


def test_list_shows_uses(server):
    alice, bob = register(server), register(server)
    t = create_team(server, alice)
    inv = invite(server, alice, t["id"], max_uses=3)
    assert_json(join(server, bob, inv["invite_code"]), 200)
    (got,) = listed(server, alice, t["id"])
    assert got["uses"] == 1 and got["max_uses"] == 3 and got["is_active"] is True


# --- revoke ---------------------------------------------------------------------------------------

def test_revoke_by_creator_owner_and_staff(server, staff):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob, carol)
    by_bob = invite(server, bob, t["id"])["invite_code"]
    by_carol = invite(server, carol, t["id"])["invite_code"]
    by_alice = invite(server, alice, t["id"])["invite_code"]
    assert_json(revoke(server, bob, t["id"], by_carol), 403, NO_REVOKE)
    assert_json(revoke(server, bob, t["id"], by_alice), 403, NO_REVOKE)
    assert_json(revoke(server, bob, t["id"], by_bob), 200, REVOKED)
    assert_json(revoke(server, alice, t["id"], by_carol), 200, REVOKED)
    assert_json(revoke(server, staff, t["id"], by_alice), 200, REVOKED)
    assert listed(server, alice, t["id"]) == []
    for code in (by_bob, by_carol, by_alice):
        assert_json(join(server, register(server), code), 404, INVALID_INVITATION)
        # Already revoked: no longer an active invitation.
        assert_json(revoke(server, alice, t["id"], code), 404, INVALID_CODE)


def test_revoke_expired_and_used_up(server):
    alice, bob = register(server), register(server)
    t = create_team(server, alice)
    expired = invite(server, alice, t["id"])["invite_code"]
    expire_invitation(server, expired)
    used_up = invite(server, alice, t["id"], max_uses=1)["invite_code"]
    assert_json(join(server, bob, used_up), 200)
    assert_json(revoke(server, alice, t["id"], expired), 200, REVOKED)
    assert_json(revoke(server, alice, t["id"], used_up), 200, REVOKED)


def test_revoke_errors(server):
    alice, bob = register(server), register(server)
    t = create_team(server, alice)
    other = create_team(server, bob)
    foreign = invite(server, bob, other["id"])["invite_code"]
    c = api(server, alice["access"])
    path = f"{TEAMS}{t['id']}/revoke_invitation/"
    for body in ({}, {"invite_code": None}, {"invite_code": ""}, {"invite_code": 12345}):
        assert_json(c.post(path, json=body), 400, CODE_REQUIRED)
    assert_json(c.post(path), 400, CODE_REQUIRED)
    assert_json(c.post(path, json={"invite_code": "nope"}), 404, INVALID_CODE)
    assert_json(c.post(path, json={"invite_code": "x" * 500}), 404, INVALID_CODE)
    # A code of another team is not an invitation of this one.
    assert_json(c.post(path, json={"invite_code": foreign}), 404, INVALID_CODE)
    assert_json(join(server, alice, foreign), 200)  # still usable
    # Not visible: 404 detail before anything else.
    assert_json(api(server, register(server)["access"]).post(path, json={}), 404, NOT_FOUND)


# --- join -----------------------------------------------------------------------------------------

def test_join_answers_the_team(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    inv = invite(server, alice, t["id"], max_uses=5)
    got = assert_json(join(server, carol, inv["invite_code"]), 200)
    assert got == {**t, "members": members(alice, bob, carol)}
    assert_json(api(server, carol["access"]).get(f"{TEAMS}{t['id']}/"), 200, got)
    assert invitation_uses(server, inv["invite_code"]) == 1


def test_join_when_already_member_takes_no_use(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    inv = invite(server, alice, t["id"], max_uses=1)
    for who in (alice, bob):
        assert_json(join(server, who, inv["invite_code"]), 400, ALREADY_MEMBER)
    assert invitation_uses(server, inv["invite_code"]) == 0
    assert_json(join(server, register(server), inv["invite_code"]), 200)
    assert invitation_uses(server, inv["invite_code"]) == 1


def test_join_code_required(server, user):
    c = api(server, user["access"])
    path = f"{TEAMS}join_via_invitation/"
    for body in ({}, {"invite_code": None}, {"invite_code": ""}, {"invite_code": 7},
                 {"invite_code": ["x"]}, {"invite_code": {"a": 1}}):
        assert_json(c.post(path, json=body), 400, CODE_REQUIRED)
    assert_json(c.post(path), 400, CODE_REQUIRED)
    assert_json(c.post("/api/chat/teams/join_via_invitation", json={}), 400, CODE_REQUIRED)


def test_join_unknown_codes(server, user):
    for code in ("nope", "A" * 22, "x" * 64, "x" * 65, "y" * 5000, " "):
        assert_json(join(server, user, code), 404, INVALID_INVITATION)


def test_join_revoked_expired_used_up(server):
    alice, bob, carol = register(server), register(server), register(server)
    t = create_team(server, alice)
    revoked = invite(server, alice, t["id"])["invite_code"]
    assert_json(revoke(server, alice, t["id"], revoked), 200, REVOKED)
    expired = invite(server, alice, t["id"])["invite_code"]
    expire_invitation(server, expired)
    used_up = invite(server, alice, t["id"], max_uses=1)["invite_code"]
    assert_json(join(server, bob, used_up), 200)
    for code in (revoked, expired, used_up):
        assert_json(join(server, carol, code), 404, INVALID_INVITATION)
    assert invitation_uses(server, used_up) == 1
    assert_json(api(server, carol["access"]).get(f"{TEAMS}{t['id']}/"), 404, NOT_FOUND)


def test_join_codes_are_case_sensitive(server):
    alice, bob = register(server), register(server)
    t = create_team(server, alice)
    code = invite(server, alice, t["id"])["invite_code"]
    swapped = code.swapcase()
    if swapped != code:
        assert_json(join(server, bob, swapped), 404, INVALID_INVITATION)


def test_staff_join(server, staff):
    alice = register(server)
    t = create_team(server, alice)
    code = invite(server, alice, t["id"])["invite_code"]
    got = assert_json(join(server, staff, code), 200)
    assert staff["id"] in [m["id"] for m in got["members"]]
    assert_json(join(server, staff, code), 400, ALREADY_MEMBER)
    assert_json(api(server, staff["access"]).post(f"{TEAMS}{t['id']}/leave/"), 200)
