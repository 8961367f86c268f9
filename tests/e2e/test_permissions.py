"""The permission matrix of API.md §9 for teams, invitations, channels and the users
sub-resources, as a table: one row per action, one column per caller, the expected status in each
cell. Every cell is its own test.

The world: alice owns the team, bob is a member and creates the group channel, carol is a plain
member, dave is in no team of theirs, and a superuser made with `parley createsuperuser`. Rows that
change something build fresh objects (team, channels, invitations, DMs) for every cell; the
accounts are shared. Columns map to callers as §9 defines them:

    anon       no token                          creator  bob (created_by of the channel)
    nonmember  dave (cannot see team/channel)    owner    alice
    member     carol (sees it, holds no role)    staff    the superuser, not a team member

For DM-channel rows the DM is chosen per column so that the caller holds exactly that role:
member = carol's DM with bob, called by bob; creator = bob's DM with carol, called by bob;
owner = carol's DM with alice, called by alice. Where §9 says "(if a member)" or §13.13 makes a
staff caller's answer depend on membership, the cell first adds the superuser to the team.
"""
import dataclasses

import pytest

from support.client import api, create_superuser, login, register
from support.teams import (CHANNELS, TEAMS, USERS, add_member, create_channel, create_team,
                           dm, invite)

COLUMNS = ("anon", "nonmember", "member", "creator", "owner", "staff")


@dataclasses.dataclass
class People:
    alice: dict
    bob: dict
    carol: dict
    dave: dict
    staff: dict

    def caller(self, column):
        return {"anon": None, "nonmember": self.dave, "member": self.carol, "creator": self.bob,
                "owner": self.alice, "staff": self.staff}[column]


@dataclasses.dataclass
class World:
    server: object
    people: People
    team: dict
    group: dict  # created by bob

    def call(self, column, method, path, body=None, caller=None):
        who = caller if caller is not None else self.people.caller(column)
        c = api(self.server, who["access"] if who else None)
        return c.request(method, path, json=body if body is not None else {})


def build_world(server, people: People) -> World:
    p = people
    t = create_team(server, p.alice, name="Acme")
    add_member(server, p.alice, t["id"], p.bob)
    add_member(server, p.alice, t["id"], p.carol)
    group = create_channel(server, p.bob, t["id"], name="general")
    return World(server, p, t, group)


@pytest.fixture(scope="module")
def people(server):
    made = create_superuser(server)
    return People(register(server), register(server), register(server), register(server),
                  login(server, made["username"], made["password"]))


@pytest.fixture(scope="module")
def shared_world(server, people):
    return build_world(server, people)


# --- actions: fn(world, column) -> response ---------------------------------------------------------

def team_path(w, suffix=""):
    return f"{TEAMS}{w.team['id']}/{suffix}"


def other_member(w, column):
    """A member other than the caller and not the owner (the target of remove_member)."""
    return w.people.bob if column == "member" else w.people.carol


def own_dm(w, column):
    """A DM channel in which the caller holds exactly the column's role."""
    p = w.people
    if column == "member":
        return dm(w.server, p.carol, w.team["id"], p.bob)
    if column == "creator":
        return dm(w.server, p.bob, w.team["id"], p.carol)
    if column == "owner":
        return dm(w.server, p.carol, w.team["id"], p.alice)
    return dm(w.server, p.bob, w.team["id"], p.alice)  # nonmember, anon, staff: anyone's DM


def staff_joins(w, column):
    if column == "staff":
        add_member(w.server, w.people.alice, w.team["id"], w.people.staff)


def remove_self(w, column):
    staff_joins(w, column)
    who = w.people.caller(column)
    target = who["id"] if who else w.people.carol["id"]
    return w.call(column, "POST", team_path(w, "remove_member/"), {"user_id": target})


def leave(w, column):
    staff_joins(w, column)
    return w.call(column, "POST", team_path(w, "leave/"))


def revoke_own(w, column):
    who = w.people.caller(column)
    maker = who if column not in ("anon", "nonmember") else w.people.alice
    code = invite(w.server, maker, w.team["id"])["invite_code"]
    return w.call(column, "POST", team_path(w, "revoke_invitation/"), {"invite_code": code})


def revoke_others(w, column):
    maker = w.people.bob if column in ("member", "owner", "staff") else w.people.carol
    code = invite(w.server, maker, w.team["id"])["invite_code"]
    return w.call(column, "POST", team_path(w, "revoke_invitation/"), {"invite_code": code})


def join_via_invitation(w, column):
    code = invite(w.server, w.people.alice, w.team["id"])["invite_code"]
    return w.call(column, "POST", f"{TEAMS}join_via_invitation/", {"invite_code": code})


def dm_other(w, column):
    """create_or_get_dm_channel with a team member other than the caller."""
    staff_joins(w, column)
    other = w.people.carol if column in ("creator", "owner") else w.people.bob
    return w.call(column, "POST", f"{CHANNELS}create_or_get_dm_channel/",
                  {"team_id": w.team["id"], "user_id": other["id"]})


def change_dm(method, body=None):
    def action(w, column):
        d = own_dm(w, column)
        return w.call(column, method, f"{CHANNELS}{d['id']}/", body)
    return action


def change_group(method, body=None):
    def action(w, column):
        return w.call(column, method, f"{CHANNELS}{w.group['id']}/", body)
    return action


def simple(method, path_of, body_of=None):
    def action(w, column):
        return w.call(column, method, path_of(w), body_of(w) if body_of else None)
    return action


# (name, action, fresh world per cell, expected statuses in COLUMNS order)
ROWS = [
    # §3 users sub-resources
    ("GET users", simple("GET", lambda w: USERS), False, [401, 200, 200, 200, 200, 200]),
    ("GET users/{id}", simple("GET", lambda w: f"{USERS}{w.people.carol['id']}/"), False,
     [401, 404, 200, 200, 200, 200]),
    ("users/in_team", simple("GET", lambda w: f"{USERS}in_team/?team_id={w.team['id']}"), False,
     [401, 404, 200, 200, 200, 200]),
    ("users/interacted", simple("GET", lambda w: f"{USERS}interacted/?team_id={w.team['id']}"),
     False, [401, 404, 200, 200, 200, 200]),
    ("users/in_channel",
     simple("GET", lambda w: f"{USERS}in_channel/?channel_id={w.group['id']}"), False,
     [401, 404, 200, 200, 200, 200]),
    # §4 teams
    ("GET teams", simple("GET", lambda w: TEAMS), False, [401, 200, 200, 200, 200, 200]),
    ("POST teams", simple("POST", lambda w: TEAMS, lambda w: {"name": "New"}), False,
     [401, 201, 201, 201, 201, 201]),
    ("GET teams/{id}", simple("GET", team_path), False, [401, 404, 200, 200, 200, 200]),
    ("PUT teams/{id}", simple("PUT", team_path, lambda w: {"name": "Renamed"}), True,
     [401, 404, 403, 403, 200, 200]),
    ("PATCH teams/{id}", simple("PATCH", team_path, lambda w: {"description": "d"}), True,
     [401, 404, 403, 403, 200, 200]),
    ("DELETE teams/{id}", simple("DELETE", team_path), True, [401, 404, 403, 403, 204, 204]),
    ("transfer_ownership",
     simple("POST", lambda w: team_path(w, "transfer_ownership/"),
            lambda w: {"user_id": w.people.carol["id"]}), True, [401, 404, 403, 403, 200, 200]),
    ("add_member of a visible user",
     lambda w, col: w.call(col, "POST", team_path(w, "add_member/"),
                           {"user_id": w.people.carol["id"]}), False,
     [401, 404, 200, 200, 200, 200]),
    # A user the caller cannot see (§1.2) is answered like an unknown one; staff see everyone.
    ("add_member of an invisible user",
     lambda w, col: w.call(col, "POST", team_path(w, "add_member/"),
                           {"user_id": register(w.server)["id"]}), True,
     [401, 404, 404, 404, 404, 200]),
    ("remove_member of another member",
     lambda w, col: w.call(col, "POST", team_path(w, "remove_member/"),
                           {"user_id": other_member(w, col)["id"]}), True,
     [401, 404, 403, 403, 200, 200]),
    ("remove_member of oneself", remove_self, True, [401, 404, 200, 200, 400, 200]),
    ("leave", leave, True, [401, 404, 200, 200, 400, 200]),
    ("remove_member targeting the owner",
     simple("POST", lambda w: team_path(w, "remove_member/"),
            lambda w: {"user_id": w.people.alice["id"]}), True, [401, 404, 403, 403, 400, 400]),
    ("create_invitation", simple("POST", lambda w: team_path(w, "create_invitation/")), False,
     [401, 404, 200, 200, 200, 200]),
    ("GET invitations", simple("GET", lambda w: team_path(w, "invitations/")), False,
     [401, 404, 200, 200, 200, 200]),
    ("revoke_invitation own", revoke_own, True, [401, 404, 200, 200, 200, 200]),
    ("revoke_invitation another member's", revoke_others, True, [401, 404, 403, 403, 200, 200]),
    ("join_via_invitation", join_via_invitation, True, [401, 200, 400, 400, 400, 200]),
    # §5 channels
    ("GET channels", simple("GET", lambda w: CHANNELS), False, [401, 200, 200, 200, 200, 200]),
    ("POST channels",
     simple("POST", lambda w: CHANNELS, lambda w: {"name": "new", "team": w.team["id"]}), False,
     [401, 400, 201, 201, 201, 201]),
    ("GET channels/{id}", simple("GET", lambda w: f"{CHANNELS}{w.group['id']}/"), False,
     [401, 404, 200, 200, 200, 200]),
    ("PUT group channel", change_group("PUT", {"name": "renamed"}), True,
     [401, 404, 403, 200, 200, 200]),
    ("PATCH group channel", change_group("PATCH", {"description": "d"}), True,
     [401, 404, 403, 200, 200, 200]),
    ("DELETE group channel", change_group("DELETE"), True, [401, 404, 403, 204, 204, 204]),
    ("PUT DM channel", change_dm("PUT", {"name": "renamed"}), True,
     [401, 404, 403, 403, 403, 200]),
    ("PATCH DM channel", change_dm("PATCH", {"description": "d"}), True,
     [401, 404, 403, 403, 403, 200]),
    ("DELETE DM channel", change_dm("DELETE"), True, [401, 404, 403, 403, 403, 204]),
    ("channels/team_id",
     simple("POST", lambda w: f"{CHANNELS}team_id/", lambda w: {"team_id": w.team["id"]}), False,
     [401, 404, 200, 200, 200, 200]),
    ("create_or_get_dm_channel", dm_other, True, [401, 404, 200, 200, 200, 200]),
]

CELLS = [pytest.param(name, action, fresh, column, expected[i], id=f"{name}-{column}")
         for name, action, fresh, expected in ROWS for i, column in enumerate(COLUMNS)]


def test_every_row_has_every_column():
    for name, _, _, expected in ROWS:
        assert len(expected) == len(COLUMNS), name


@pytest.mark.parametrize("name, action, fresh, column, expected", CELLS)
def test_matrix(server, people, shared_world, name, action, fresh, column, expected):
    w = build_world(server, people) if fresh else shared_world
    r = action(w, column)
    assert r.status_code == expected, f"{name} as {column}: {r.status_code} {r.text[:300]}"
    if expected == 204:
        assert r.content == b""
    else:
        body = r.json()
        if expected == 401:
            assert body["code"] == "not_authenticated"
        elif expected == 403:
            assert body["code"] == "permission_denied"
        elif expected == 404:
            assert body == {"detail": "Not found.", "code": "not_found"}
        elif expected == 400 and name.startswith("POST channels"):
            assert body == {"team": [f"Invalid pk \"{w.team['id']}\" - object does not exist."]}
        elif expected == 400 and name == "join_via_invitation":
            assert body["code"] == "already_member"
        elif expected == 400:
            assert body["code"] == "owner_cannot_leave", body
