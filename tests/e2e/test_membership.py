"""Membership follows the team (API.md §1.2, §1.3): joining through every door puts the user in
every group channel; leaving or being removed takes them out; DM rows survive but are hidden
while outside the team; the users/ lists (§3) follow."""
import pytest

from support.client import NOT_FOUND, api, assert_json, register
from support.teams import (CHANNELS, TEAMS, USERS, acquaint, add_member_rest, channel_ids,
                           create_channel, create_team, dm, in_channel, invite, join, members,
                           public, team_with)


def interacted(server, who, team_id):
    return api(server, who["access"]).get(f"{USERS}interacted/?team_id={team_id}")


def in_team(server, who, team_id):
    return api(server, who["access"]).get(f"{USERS}in_team/?team_id={team_id}")


def join_by_invitation(server, actor, team_id, user):
    assert_json(join(server, user, invite(server, actor, team_id)["invite_code"]), 200)


def join_by_add_member(server, actor, team_id, user):
    acquaint(server, actor, user)  # add_member adds visible users only (§4)
    add_member_rest(server, actor, team_id, user)


def leave_by_leave(server, owner, team_id, user):
    assert_json(api(server, user["access"]).post(f"{TEAMS}{team_id}/leave/"), 200)


def leave_by_removal(server, owner, team_id, user):
    assert_json(api(server, owner["access"]).post(f"{TEAMS}{team_id}/remove_member/",
                                                  json={"user_id": user["id"]}), 200)


def leave_by_self_removal(server, owner, team_id, user):
    assert_json(api(server, user["access"]).post(f"{TEAMS}{team_id}/remove_member/",
                                                 json={"user_id": user["id"]}), 200)


JOINS = [join_by_invitation, join_by_add_member]
LEAVES = [leave_by_leave, leave_by_removal, leave_by_self_removal]


@pytest.mark.parametrize("join_team", JOINS, ids=lambda f: f.__name__)
def test_joining_adds_to_every_group_channel(server, join_team):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob)
    g1 = create_channel(server, alice, t["id"], name="general")
    g2 = create_channel(server, bob, t["id"], name="random")
    d = dm(server, alice, t["id"], bob)
    other = create_team(server, alice, name="Other")
    elsewhere = create_channel(server, alice, other["id"])

    join_team(server, alice, t["id"], carol)
    assert channel_ids(server, carol) == [g1["id"], g2["id"]]
    for g in (g1, g2):
        assert in_channel(server, carol, g["id"]) == sorted([alice["id"], bob["id"], carol["id"]])
        got = assert_json(api(server, carol["access"]).get(f"{CHANNELS}{g['id']}/"), 200)
        assert got["members"] == members(alice, bob, carol)
    # Not the DM of others, not the channels of other teams.
    assert_json(api(server, carol["access"]).get(f"{CHANNELS}{d['id']}/"), 404, NOT_FOUND)
    assert_json(api(server, carol["access"]).get(f"{CHANNELS}{elsewhere['id']}/"), 404, NOT_FOUND)
    assert_json(in_team(server, carol, t["id"]), 200, members(alice, bob, carol))


@pytest.mark.parametrize("join_team", JOINS, ids=lambda f: f.__name__)
def test_channel_created_after_join_contains_the_new_member(server, join_team):
    alice, bob = register(server), register(server)
    t = create_team(server, alice)
    join_team(server, alice, t["id"], bob)
    ch = create_channel(server, alice, t["id"], name="later")
    assert ch["members"] == members(alice, bob)
    assert channel_ids(server, bob) == [ch["id"]]


@pytest.mark.parametrize("leave", LEAVES, ids=lambda f: f.__name__)
def test_leaving_removes_from_group_channels_and_hides_dms(server, leave):
    alice, bob, carol = register(server), register(server), register(server)
    t = team_with(server, alice, bob, carol)
    g = create_channel(server, alice, t["id"])
    d = dm(server, bob, t["id"], alice)
    d_carol = dm(server, carol, t["id"], bob)

    leave(server, alice, t["id"], bob)

    # The group channel no longer lists bob; bob sees nothing of the team.
    assert in_channel(server, alice, g["id"]) == sorted([alice["id"], carol["id"]])
    assert_json(api(server, bob["access"]).get(f"{CHANNELS}{g['id']}/"), 404, NOT_FOUND)
    assert channel_ids(server, bob) == []
    for ch in (d, d_carol):
        assert_json(api(server, bob["access"]).get(f"{CHANNELS}{ch['id']}/"), 404, NOT_FOUND)
        r = api(server, bob["access"]).get(f"{USERS}in_channel/?channel_id={ch['id']}")
        assert_json(r, 404, NOT_FOUND)
    assert_json(in_team(server, bob, t["id"]), 404, NOT_FOUND)
    assert_json(interacted(server, bob, t["id"]), 404, NOT_FOUND)
    r = api(server, bob["access"]).post(f"{CHANNELS}team_id/", json={"team_id": t["id"]})
    assert_json(r, 404, NOT_FOUND)

    # The DM rows survive: the remaining participant still reads them, membership included.
    got = assert_json(api(server, alice["access"]).get(f"{CHANNELS}{d['id']}/"), 200)
    assert got["members"] == members(alice, bob)
    assert in_channel(server, alice, d["id"]) == sorted([alice["id"], bob["id"]])
    assert d["id"] in channel_ids(server, alice)
    assert d_carol["id"] in channel_ids(server, carol)
    # ... but the departed partner is no longer an interacted user.
    assert_json(interacted(server, alice, t["id"]), 200, [])
    assert_json(interacted(server, carol, t["id"]), 200, [])
    assert_json(in_team(server, alice, t["id"]), 200, members(alice, carol))
    # A new DM with someone outside the team is refused.
    r = api(server, alice["access"]).post(f"{CHANNELS}create_or_get_dm_channel/",
                                          json={"team_id": t["id"], "user_id": bob["id"]})
    assert_json(r, 400, {"error": "User is not a member of this team", "code": "not_team_member"})


def test_rejoining_restores_dms_and_group_channels(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    g = create_channel(server, alice, t["id"])
    d = dm(server, alice, t["id"], bob)
    leave_by_leave(server, alice, t["id"], bob)
    g2 = create_channel(server, alice, t["id"], name="while away")
    assert g2["members"] == members(alice)
    join_by_invitation(server, alice, t["id"], bob)
    assert channel_ids(server, bob) == [g["id"], d["id"], g2["id"]]
    assert dm(server, bob, t["id"], alice)["id"] == d["id"]
    got = assert_json(interacted(server, alice, t["id"]), 200)
    assert got == [{**public(bob), "channel_id": d["id"]}]


def test_users_visibility_follows_membership(server):
    alice, bob = register(server), register(server)
    assert_json(api(server, alice["access"]).get(f"{USERS}{bob['id']}/"), 404, NOT_FOUND)
    t = team_with(server, alice, bob)
    assert_json(api(server, alice["access"]).get(f"{USERS}{bob['id']}/"), 200, public(bob))
    assert_json(api(server, bob["access"]).get(USERS), 200, members(alice, bob))
    leave_by_leave(server, alice, t["id"], bob)
    assert_json(api(server, alice["access"]).get(f"{USERS}{bob['id']}/"), 404, NOT_FOUND)
    assert_json(api(server, bob["access"]).get(USERS), 200, [public(bob)])


def test_users_in_team_in_channel_interacted(server, staff):
    alice, bob, carol, dave = (register(server) for _ in range(4))
    t = team_with(server, alice, bob, carol)
    g = create_channel(server, carol, t["id"])
    d_ab = dm(server, alice, t["id"], bob)
    d_ca = dm(server, carol, t["id"], alice)
    assert_json(in_team(server, bob, t["id"]), 200, members(alice, bob, carol))
    assert_json(in_team(server, dave, t["id"]), 404, NOT_FOUND)
    assert_json(in_team(server, staff, t["id"]), 200, members(alice, bob, carol))
    assert in_channel(server, bob, g["id"]) == sorted(u["id"] for u in (alice, bob, carol))
    assert in_channel(server, bob, d_ab["id"]) == sorted([alice["id"], bob["id"]])
    r = api(server, carol["access"]).get(f"{USERS}in_channel/?channel_id={d_ab['id']}")
    assert_json(r, 404, NOT_FOUND)
    r = api(server, dave["access"]).get(f"{USERS}in_channel/?channel_id={g['id']}")
    assert_json(r, 404, NOT_FOUND)
    got = assert_json(interacted(server, alice, t["id"]), 200)
    assert got == sorted([{**public(bob), "channel_id": d_ab["id"]},
                          {**public(carol), "channel_id": d_ca["id"]}], key=lambda u: u["id"])
    assert_json(interacted(server, bob, t["id"]), 200, [{**public(alice), "channel_id": d_ab["id"]}])
    assert_json(interacted(server, dave, t["id"]), 404, NOT_FOUND)


def test_team_deletion_removes_everything_for_members(server):
    alice, bob = register(server), register(server)
    t = team_with(server, alice, bob)
    g = create_channel(server, bob, t["id"])
    d = dm(server, bob, t["id"], alice)
    r = api(server, alice["access"]).delete(f"{TEAMS}{t['id']}/")
    assert r.status_code == 204
    for who in (alice, bob):
        assert channel_ids(server, who) == []
        for ch in (g, d):
            assert_json(api(server, who["access"]).get(f"{CHANNELS}{ch['id']}/"), 404, NOT_FOUND)
