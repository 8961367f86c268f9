"""Helpers for the team, invitation and channel tests (API.md §4, §5): building teams with
members, channels and DMs through the API, the exact error bodies, and direct database access for
states the API cannot produce (an expired invitation)."""
import sqlite3
import subprocess

from support.client import api, assert_json
from support.server import backend

TEAMS = "/api/chat/teams/"
CHANNELS = "/api/chat/channels/"
USERS = "/api/chat/users/"

FORBIDDEN = {"detail": "You do not have permission to perform this action.",
             "code": "permission_denied"}
INVALID_INVITATION = {"error": "Invalid or expired invitation code", "code": "not_found"}
CODE_REQUIRED = {"error": "Invitation code is required", "code": "required"}
NOT_TEAM_MEMBER = {"error": "User is not a member of this team", "code": "not_team_member"}
OWNER_CANNOT_LEAVE = {
    "error": "The team owner cannot leave or be removed. Transfer ownership or delete the team.",
    "code": "owner_cannot_leave"}
ALREADY_MEMBER = {"error": "You are already a member of this team", "code": "already_member"}
DM_ELSEWHERE = "Direct message channels are created with create_or_get_dm_channel."

TEAM_KEYS = {"id", "name", "description", "created_at", "created_by", "members"}
CHANNEL_KEYS = {"id", "name", "description", "team", "created_at", "channel_type",
                "is_direct_message", "created_by", "members"}
INVITATION_KEYS = {"id", "team", "invite_code", "created_at", "expires_at", "is_active",
                   "created_by", "max_uses", "uses"}


def required(name: str) -> dict:
    return {"error": f"{name} is required", "code": "required"}


def invalid_id(name: str) -> dict:
    return {"error": f"{name} must be a positive integer", "code": "invalid"}


def public(u: dict) -> dict:
    """The User shape of §1.5."""
    return {"id": u["id"], "username": u["username"], "email": u["email"]}


def members(*users) -> list:
    """The `members` list of §1.5: User objects by id ascending."""
    return sorted((public(u) for u in users), key=lambda m: m["id"])


def create_team(server, owner, name="Acme", description=None) -> dict:
    body = {"name": name}
    if description is not None:
        body["description"] = description
    return assert_json(api(server, owner["access"]).post(TEAMS, json=body), 201)


def add_member(server, actor, team_id, user) -> None:
    """Puts `user` in the team as `actor` arranges it: an invitation of `actor` (one use) that
    `user` accepts. The REST add_member only adds users the actor can already see (§4), which a
    freshly registered user is not; add_member_rest() is that call."""
    team = assert_json(api(server, actor["access"]).get(f"{TEAMS}{team_id}/"), 200)
    if any(m["id"] == user["id"] for m in team["members"]):
        return
    code = invite(server, actor, team_id, max_uses=1)["invite_code"]
    assert_json(join(server, user, code), 200)


def add_member_rest(server, actor, team_id, user) -> None:
    """POST /teams/{id}/add_member/ (200 expected): `user` must be visible to `actor` (§1.2)."""
    r = api(server, actor["access"]).post(f"{TEAMS}{team_id}/add_member/",
                                          json={"user_id": user["id"]})
    assert_json(r, 200)


def acquaint(server, actor, *users) -> dict:
    """Makes `users` visible to `actor` (§1.2: sharing a team): a "Lobby" team of `actor` that
    they join by invitation. Returns the Lobby team."""
    lobby = create_team(server, actor, name="Lobby")
    for u in users:
        add_member(server, actor, lobby["id"], u)
    return lobby


def team_with(server, owner, *others, name="Acme") -> dict:
    """A team owned by `owner` with `others` added as members; returns the Team after the adds."""
    t = create_team(server, owner, name=name)
    for u in others:
        add_member(server, owner, t["id"], u)
    return assert_json(api(server, owner["access"]).get(f"{TEAMS}{t['id']}/"), 200)


def create_channel(server, actor, team_id, name="general", **extra) -> dict:
    r = api(server, actor["access"]).post(CHANNELS, json={"name": name, "team": team_id, **extra})
    return assert_json(r, 201)


def dm(server, actor, team_id, other) -> dict:
    r = api(server, actor["access"]).post(f"{CHANNELS}create_or_get_dm_channel/",
                                          json={"team_id": team_id, "user_id": other["id"]})
    return assert_json(r, 200)


def invite(server, actor, team_id, **body) -> dict:
    r = api(server, actor["access"]).post(f"{TEAMS}{team_id}/create_invitation/", json=body)
    return assert_json(r, 200)


def join(server, user, code):
    return api(server, user["access"]).post(f"{TEAMS}join_via_invitation/",
                                            json={"invite_code": code})


def channel_ids(server, user, path=CHANNELS) -> list:
    return [c["id"] for c in assert_json(api(server, user["access"]).get(path), 200)]


def in_channel(server, user, channel_id) -> list:
    r = api(server, user["access"]).get(f"{USERS}in_channel/?channel_id={channel_id}")
    return [u["id"] for u in assert_json(r, 200)]


# --- direct database access -----------------------------------------------------------------------

def db_exec(server, sql: str, params=()) -> list:
    """Runs one statement on the server's database (SQLite file or PostgreSQL) and returns its
    rows. `?` placeholders; values are inlined for psql (tests pass only ints and codes)."""
    if backend() == "sqlite":
        con = sqlite3.connect(server.data_dir / "parley.sqlite3", timeout=30)
        try:
            rows = con.execute(sql, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()
    text = sql
    for p in params:
        literal = str(int(p)) if isinstance(p, int) else "'" + str(p).replace("'", "''") + "'"
        text = text.replace("?", literal, 1)
    proc = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                           "-d", server.env["DATABASE_URL"], "-c", text],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [tuple(line.split("\t")) for line in proc.stdout.splitlines() if line]


def expire_invitation(server, code: str) -> None:
    """Moves the invitation's expiry one hour into the past (microseconds, §0.5 storage)."""
    db_exec(server, "UPDATE invitations SET expires_at = created_at - 3600000000 "
                    "WHERE invite_code = ?", (code,))


def invitation_uses(server, code: str) -> int:
    rows = db_exec(server, "SELECT uses FROM invitations WHERE invite_code = ?", (code,))
    assert len(rows) == 1, rows
    return int(rows[0][0])
