"""Sessions you can end (API.md §2.3, §2.6, §8.2, §8.4, §9): a socket closes when its access token
expires unless the client sent `reauth`; logout_all, a password change (REST and CLI) and a
deactivation revoke every token of the user and close their sockets; staff changes reach open
sockets; with rotation a refresh token is single-use and its reuse revokes the whole family; and
add_member adds only users the caller can see. The same closures across instances are in
test_scaleout.py."""
import concurrent.futures
import threading
import time

import pytest

from support import jwt
from support.client import (NOT_FOUND, TIMESTAMP, api, assert_401, assert_json, create_superuser,
                            login, register, token_not_valid)
from support.teams import TEAMS, acquaint, create_channel, create_team, team_with
from support.ws import connect

ME = "/api/auth/me/"
REFRESH = "/api/auth/token/refresh/"
VERIFY = "/api/auth/token/verify/"
LOGOUT_ALL = "/api/auth/logout_all/"
PASSWORD = "/api/auth/password/"
BLACKLISTED = {"detail": "Token is blacklisted", "code": "token_not_valid"}
NEW_PASSWORD = "another-horse-7"
SHORT_LIFETIME = {"PARLEY_ACCESS_TOKEN_LIFETIME": "3s"}
ROTATION = {"PARLEY_ROTATE_REFRESH_TOKENS": "true"}


def exp_of(token):
    return jwt.decode(token)[1]["exp"]


def race(calls):
    """Runs the callables at once (released together by a barrier); returns their results."""
    barrier = threading.Barrier(len(calls))

    def run(fn):
        barrier.wait(timeout=30)
        return fn()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_revoked(server, account):
    """Every token of the account is refused: access on a protected endpoint and by verify,
    refresh by refresh and verify (§2.3)."""
    assert_401(api(server, account["access"]).get(ME), token_not_valid("Token is blacklisted"))
    assert_json(api(server).post(VERIFY, json={"token": account["access"]}), 401, BLACKLISTED)
    assert_json(api(server).post(VERIFY, json={"token": account["refresh"]}), 401, BLACKLISTED)
    assert_json(api(server).post(REFRESH, json={"refresh": account["refresh"]}), 401, BLACKLISTED)


def pong(sock):
    return sock.request({"message_type": "ping"})["type"] == "pong"


# --- expiry and reauth (§8.2, §8.4) ---------------------------------------------------------------

def test_socket_closes_with_4001_when_its_token_expires(fresh_server):
    srv = fresh_server(env=SHORT_LIFETIME)
    u = register(srv)
    exp = exp_of(u["access"])
    sock = connect(srv, u["access"])
    assert sock.wait_closed(timeout=8) == 4001
    # At the token's exp (whole seconds, §2.1), not before it and not a sweep later.
    closed_at = time.time()
    assert exp - 0.05 <= closed_at < exp + 2.0, (exp, closed_at)


def test_reauth_keeps_the_socket_open_until_the_new_token_expires(fresh_server):
    srv = fresh_server(env=SHORT_LIFETIME)
    u = register(srv)
    first_exp = exp_of(u["access"])
    sock = connect(srv, u["access"])
    time.sleep(1.1)  # the fresh token expires at least a second later
    fresh = assert_json(api(srv).post(REFRESH, json={"refresh": u["refresh"]}), 200)["access"]
    new_exp = exp_of(fresh)
    assert new_exp > first_exp
    ack = sock.request({"message_type": "reauth", "token": fresh, "request_id": "ra"})
    assert ack == {"type": "ack", "message_type": "reauth", "request_id": "ra",
                   "expires_at": ack["expires_at"]}, ack
    assert TIMESTAMP.match(ack["expires_at"]) and ack["expires_at"].endswith(
        time.strftime(":%S.000000Z", time.gmtime(new_exp))), ack
    # Past the first token's expiry the socket still serves.
    time.sleep(max(0.0, first_exp + 0.5 - time.time()))
    assert pong(sock)
    assert sock.wait_closed(timeout=6) == 4001
    assert time.time() >= new_exp - 0.05


def test_reauth_refuses_every_other_token(server):
    u, other = register(server), register(server)
    second = login(server, u["username"])  # a session of the same user, then logged out
    assert_json(api(server, second["access"]).post("/api/auth/logout",
                                                   json={"refresh": second["refresh"]}), 200)
    expired = jwt.sign(jwt.claims_for(u["id"], lifetime_s=-5), server.secret_key())
    sock = connect(server, u["access"])
    try:
        for token in (other["access"], u["refresh"], expired, second["access"], "garbage"):
            err = sock.request({"message_type": "reauth", "token": token, "request_id": "x"})
            assert err == {"type": "error", "message_type": "reauth", "request_id": "x",
                           "error": "Token is invalid or expired", "code": "token_not_valid",
                           "field": "token"}, (token, err)
        err = sock.request({"message_type": "reauth", "request_id": "y"})
        assert (err["code"], err["field"]) == ("required", "token"), err
        err = sock.request({"message_type": "reauth", "token": 7, "request_id": "z"})
        assert (err["code"], err["field"]) == ("invalid", "token"), err
        assert pong(sock)
        fresh = login(server, u["username"])["access"]
        ack = sock.request({"message_type": "reauth", "token": fresh, "request_id": "ok"})
        assert ack["type"] == "ack", ack
    finally:
        sock.close()


# --- logout_all and password changes (§2.3, §2.6) -------------------------------------------------

def test_logout_all_closes_every_socket_and_refuses_every_token(server):
    u = register(server)
    second = login(server, u["username"])
    bystander = register(server)
    socks = [connect(server, u["access"]), connect(server, second["access"])]
    kept = connect(server, bystander["access"])
    try:
        start = time.monotonic()
        assert_json(api(server, u["access"]).post(LOGOUT_ALL), 200,
                    {"message": "Logged out of every session"})
        for s in socks:
            assert s.wait_closed(timeout=7) == 4001
        assert time.monotonic() - start < 5.5
        for account in (u, second):
            assert_revoked(server, account)
        assert_401(api(server).post(LOGOUT_ALL),
                   {"detail": "Authentication credentials were not provided.",
                    "code": "not_authenticated"})
        # Other users are untouched; a new login works and its socket stays open.
        assert pong(kept)
        again = login(server, u["username"])
        assert assert_json(api(server, again["access"]).get(ME), 200)["id"] == u["id"]
        fresh = connect(server, again["access"])
        time.sleep(2.5)  # longer than a revocation sweep
        assert pong(fresh)
        fresh.close()
    finally:
        kept.close()


def test_password_change_checks_its_fields(server):
    u = register(server)
    c = api(server, u["access"])
    required = ["This field is required."]
    assert_json(c.post(PASSWORD, json={}), 400, {"old_password": required,
                                                 "new_password": required})
    assert_json(c.post(PASSWORD, json={"old_password": u["password"], "new_password": 12345678}),
                400, {"new_password": ["Not a valid string."]})
    wrong = ["Your old password was entered incorrectly. Please enter it again."]
    assert_json(c.post(PASSWORD, json={"old_password": "nope-nope-1", "new_password": NEW_PASSWORD}),
                400, {"old_password": wrong})
    for weak, text in (("short1", "This password is too short. It must contain at least 8 "
                                  "characters."),
                       ("12345678901", "This password is entirely numeric."),
                       (u["username"].upper(), "The password is too similar to the username.")):
        assert_json(c.post(PASSWORD, json={"old_password": u["password"], "new_password": weak}),
                    400, {"new_password": [text]})
    assert_json(c.post(PASSWORD, json={"old_password": "nope-nope-1", "new_password": "short1"}),
                400, {"old_password": wrong, "new_password": [
                    "This password is too short. It must contain at least 8 characters."]})
    # Nothing changed: the tokens and the old password still work.
    assert assert_json(c.get(ME), 200)["id"] == u["id"]
    login(server, u["username"], u["password"])


def test_password_change_closes_every_socket_and_refuses_every_token(server):
    u = register(server)
    second = login(server, u["username"])
    socks = [connect(server, u["access"]), connect(server, second["access"])]
    start = time.monotonic()
    body = assert_json(api(server, u["access"]).post(
        PASSWORD, json={"old_password": u["password"], "new_password": NEW_PASSWORD}), 200)
    assert set(body) == {"user_id", "message", "refresh", "access", "username", "email"}
    assert (body["user_id"], body["message"]) == (u["id"], "Password changed successfully")
    for s in socks:
        assert s.wait_closed(timeout=7) == 4001
    assert time.monotonic() - start < 5.5
    for account in (u, second):
        assert_revoked(server, account)
    # The answer's pair is of the new generation; the new password logs in, the old does not.
    assert assert_json(api(server, body["access"]).get(ME), 200)["id"] == u["id"]
    assert_json(api(server).post(REFRESH, json={"refresh": body["refresh"]}), 200)
    login(server, u["username"], NEW_PASSWORD)
    r = api(server).post("/api/auth/login", json={"username": u["username"],
                                                  "password": u["password"]})
    assert r.status_code == 400, r.text


def test_changepassword_cli_closes_sockets_and_refuses_tokens(server):
    u = register(server)
    sock = connect(server, u["access"])
    start = time.monotonic()
    proc = server.cli("changepassword", u["username"], "--password-stdin",
                      input=NEW_PASSWORD + "\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Another process: the revocation sweep reads the generation (§2.3: within 5 s).
    assert sock.wait_closed(timeout=7) == 4001
    assert time.monotonic() - start < 5.5 + 1.0  # plus the CLI's own start-up
    assert_revoked(server, u)
    login(server, u["username"], NEW_PASSWORD)


# --- deactivation and staff changes (§1.1, §2.3, §10.1) -------------------------------------------

def test_deactivation_via_cli_closes_the_socket_and_revokes_tokens(server):
    u = register(server)
    sock = connect(server, u["access"])
    proc = server.cli("setuser", u["username"], "--active", "no")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "active=no" in proc.stdout, proc.stdout
    assert sock.wait_closed(timeout=7) == 4001
    assert_401(api(server, u["access"]).get(ME), {"detail": "User is inactive",
                                                  "code": "user_inactive"})
    r = api(server).post("/api/auth/login", json={"username": u["username"],
                                                  "password": u["password"]})
    assert r.status_code == 400, r.text
    # Reactivated, the user logs in again; the tokens of before stay refused.
    assert server.cli("setuser", u["username"], "--active", "yes").returncode == 0
    assert_revoked(server, u)
    login(server, u["username"])


def test_setuser_usage_errors(server):
    u = register(server)
    assert server.cli("setuser", u["username"]).returncode == 2
    assert server.cli("setuser", u["username"], "--active", "maybe").returncode == 2
    missing = server.cli("setuser", "nobody-" + u["username"], "--staff", "no")
    assert missing.returncode == 1 and "does not exist" in missing.stderr, missing.stderr


def test_staff_loss_and_gain_apply_to_open_sockets(server):
    alice = register(server)
    team = create_team(server, alice)
    channel = create_channel(server, alice, team["id"])
    made = create_superuser(server)
    boss = login(server, made["username"], made["password"])
    sock = connect(server, boss["access"])
    history = {"message_type": "get_channel_messages", "channel_id": channel["id"]}
    try:
        # Staff pass visibility (§1.2): the channel's history is readable.
        assert sock.request({**history, "request_id": "h1"})["type"] == "channel_messages"
        assert server.cli("setuser", made["username"], "--staff", "no").returncode == 0
        deadline = time.monotonic() + 6
        while True:
            got = sock.request({**history, "request_id": "h2"})
            if got["type"] == "error":
                break
            assert time.monotonic() < deadline, "staff status still cached on the socket"
            time.sleep(0.3)
        assert (got["code"], got["error"]) == ("not_found", "Not found."), got
        # The token stays valid: losing staff is no revocation.
        assert assert_json(api(server, boss["access"]).get(ME), 200)["is_staff"] is False
        assert server.cli("setuser", made["username"], "--staff", "yes").returncode == 0
        deadline = time.monotonic() + 6
        while sock.request({**history, "request_id": "h3"})["type"] != "channel_messages":
            assert time.monotonic() < deadline, "staff status not regained on the socket"
            time.sleep(0.3)
    finally:
        sock.close()


# --- refresh rotation: single use and reuse detection (§2.3, §2.6) ----------------------------------

def test_parallel_refreshes_with_rotation_have_exactly_one_winner(fresh_server):
    srv = fresh_server(env=ROTATION)
    for _ in range(6):
        u = register(srv)
        results = race([lambda: api(srv).post(REFRESH, json={"refresh": u["refresh"]})
                        for _ in range(16)])
        statuses = sorted(r.status_code for r in results)
        assert statuses.count(200) == 1, statuses
        assert set(statuses) == {200, 401}, statuses
        for r in results:
            if r.status_code == 401:
                assert r.json() == BLACKLISTED, r.text
        # The losers presented a used token: the family, the winner's pair included, is revoked.
        won = next(r.json() for r in results if r.status_code == 200)
        assert_json(api(srv).post(REFRESH, json={"refresh": won["refresh"]}), 401, BLACKLISTED)
        assert_401(api(srv, won["access"]).get(ME), token_not_valid("Token is blacklisted"))


def test_reuse_of_a_rotated_refresh_token_revokes_its_family(fresh_server):
    srv = fresh_server(env=ROTATION)
    u = register(srv)
    other_session = login(srv, u["username"])  # another family of the same user
    c = api(srv)
    one = assert_json(c.post(REFRESH, json={"refresh": u["refresh"]}), 200)
    two = assert_json(c.post(REFRESH, json={"refresh": one["refresh"]}), 200)
    assert jwt.decode(two["refresh"])[1]["fam"] == jwt.decode(u["refresh"])[1]["fam"]
    sock = connect(srv, two["access"])
    # The first token again: refused, and every token of its family with it.
    assert_json(c.post(REFRESH, json={"refresh": u["refresh"]}), 401, BLACKLISTED)
    assert_json(c.post(REFRESH, json={"refresh": two["refresh"]}), 401, BLACKLISTED)
    for access in (one["access"], two["access"], u["access"]):
        assert_401(api(srv, access).get(ME), token_not_valid("Token is blacklisted"))
    assert_json(c.post(VERIFY, json={"token": two["refresh"]}), 401, BLACKLISTED)
    assert sock.wait_closed(timeout=7) == 4001
    # The other login's family is untouched.
    assert assert_json(api(srv, other_session["access"]).get(ME), 200)["id"] == u["id"]
    assert_json(c.post(REFRESH, json={"refresh": other_session["refresh"]}), 200)


def test_without_rotation_a_refresh_token_is_reusable(server):
    u = register(server)
    for _ in range(2):
        body = assert_json(api(server).post(REFRESH, json={"refresh": u["refresh"]}), 200)
        assert set(body) == {"access"}
        assert assert_json(api(server, body["access"]).get(ME), 200)["id"] == u["id"]


# --- add_member only adds visible users (§1.2, §4, §9) --------------------------------------------

def test_add_member_of_an_invisible_user_is_404_like_an_unknown_one(server):
    alice, stranger = register(server), register(server)
    team = create_team(server, alice)
    c = api(server, alice["access"])
    path = f"{TEAMS}{team['id']}/add_member/"
    unknown = c.post(path, json={"user_id": 2 ** 62})
    invisible = c.post(path, json={"user_id": stranger["id"]})
    assert_json(unknown, 404, NOT_FOUND)
    assert_json(invisible, 404, NOT_FOUND)
    assert invisible.content == unknown.content
    got = assert_json(c.get(f"{TEAMS}{team['id']}/"), 200)
    assert [m["id"] for m in got["members"]] == [alice["id"]]
    # The same over the WebSocket.
    sock = connect(server, alice["access"])
    try:
        frames = [sock.request({"message_type": "add_team_member", "team_id": team["id"],
                                "user_id": uid, "request_id": "a"})
                  for uid in (2 ** 62, stranger["id"])]
        assert frames[0] == frames[1], frames
        assert (frames[0]["type"], frames[0]["code"]) == ("error", "not_found"), frames
    finally:
        sock.close()


def test_add_member_of_a_visible_user_and_by_staff(server, staff):
    alice, bob, carol = register(server), register(server), register(server)
    acquaint(server, alice, bob)
    team = create_team(server, alice, name="Acme")
    c = api(server, alice["access"])
    assert_json(c.post(f"{TEAMS}{team['id']}/add_member/", json={"user_id": bob["id"]}), 200,
                {"message": f"Added {bob['username']} to Acme"})
    # Staff see every user.
    assert_json(api(server, staff["access"]).post(f"{TEAMS}{team['id']}/add_member/",
                                                  json={"user_id": carol["id"]}), 200)
    got = assert_json(c.get(f"{TEAMS}{team['id']}/"), 200)
    assert sorted(m["id"] for m in got["members"]) == sorted([alice["id"], bob["id"], carol["id"]])


def test_a_member_cannot_harvest_emails_through_add_member(server):
    """The attack of issue #14: add every id in turn to a team of one's own, then read the
    members' emails. Only users already visible can be added."""
    victims = [register(server) for _ in range(3)]
    mallory = register(server)
    team = team_with(server, mallory)
    c = api(server, mallory["access"])
    for v in victims:
        assert c.post(f"{TEAMS}{team['id']}/add_member/",
                      json={"user_id": v["id"]}).status_code == 404
    got = assert_json(c.get(f"{TEAMS}{team['id']}/"), 200)
    emails = {m["email"] for m in got["members"]}
    assert not emails & {v["email"] for v in victims}
