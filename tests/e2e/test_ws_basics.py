"""The WebSocket transport (API.md §8.1, §8.2, §8.3, §8.7, §8.9, §2.3, §10.1): the handshake and
its refusals, hello, envelope errors, limits, presence, revocation, shutdown, and REST-made team
and channel changes reaching open sockets."""
import re
import threading
import time

import pytest

from support import jwt
from support.client import TIMESTAMP, api, assert_json, login, register
from support.teams import (CHANNELS, TEAMS, add_member, create_channel, create_team, db_exec, dm,
                           team_with)
from support.ws import Closed, connect, handshake

NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided.",
                     "code": "not_authenticated"}
BAD_TOKEN = {"detail": "Given token not valid for any token type", "code": "token_not_valid"}
ORIGIN_REFUSED = {"detail": "Origin not allowed.", "code": "permission_denied"}
TOO_MANY = {"detail": "Too many connections.", "code": "throttled"}
UPGRADE_REQUIRED = {"detail": "WebSocket upgrade required.", "code": "upgrade_required"}
HELLO_KEYS = {"type", "user_id", "username", "connection_id", "server_time", "protocol"}
CONNECTION_ID = re.compile(r"^c_[0-9a-f]{8}$")
MESSAGES = "/api/chat/messages/"


def logout(server, account):
    r = api(server).post("/api/auth/logout", token=account["access"],
                         json={"refresh": account["refresh"]})
    assert_json(r, 200)


def post_message(server, account, channel_id, content="hi"):
    r = api(server, account["access"]).post(MESSAGES, json={"channel": channel_id,
                                                            "content": content})
    return assert_json(r, 201)


# --- handshake (§8.1) -----------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["query", "header", "subprotocol"])
def test_each_token_form_opens_a_socket(server, user, how):
    sock = connect(server, user["access"], how=how)
    try:
        assert sock.subprotocol == ("bearer" if how == "subprotocol" else None)
        assert sock.hello["user_id"] == user["id"]
        sock.send_json({"message_type": "ping"})
        assert sock.recv_type("pong")["type"] == "pong"
    finally:
        sock.close()


def test_the_path_without_trailing_slash_works(server, user):
    sock = connect(server, user["access"], path="/ws/chat")
    sock.close()


def test_hello_frame(server, user):
    a = connect(server, user["access"])
    b = connect(server, user["access"])
    try:
        h = a.hello
        assert set(h) == HELLO_KEYS
        assert h["type"] == "hello"
        assert h["user_id"] == user["id"]
        assert h["username"] == user["username"]
        assert CONNECTION_ID.match(h["connection_id"]), h["connection_id"]
        assert TIMESTAMP.match(h["server_time"]), h["server_time"]
        assert h["protocol"] == 1
        assert b.hello["connection_id"] != h["connection_id"]
    finally:
        a.close()
        b.close()


def test_authorization_header_wins_over_the_query(server, user):
    # The header is first in §8.1's order: a bad header token is refused even with a good query.
    status, _, body = handshake(server, path=f"/ws/chat/?token={user['access']}",
                                headers={"Authorization": "Bearer nope"})
    assert (status, body) == (401, BAD_TOKEN)


def test_refusals_without_or_with_a_bad_token(server, user):
    key = server.secret_key()
    cases = {
        "none": {},
        "other scheme": {"Authorization": f"Basic {user['access']}"},
    }
    for name, headers in cases.items():
        status, hdrs, body = handshake(server, headers=headers)
        assert (status, body) == (401, NOT_AUTHENTICATED), name
        assert hdrs["content-type"].startswith("application/json")

    bad = {
        "garbage": "not-a-token",
        "tampered": jwt.tamper_signature(user["access"]),
        "expired": jwt.sign(jwt.claims_for(user["id"], lifetime_s=-10), key),
        "refresh": user["refresh"],
        "unknown user": jwt.sign(jwt.claims_for(2 ** 62), key),
        "alg none": jwt.unsigned(jwt.claims_for(user["id"])),
    }
    for name, token in bad.items():
        for path, headers in ((f"/ws/chat/?token={token}", {}),
                              ("/ws/chat/", {"Authorization": f"Bearer {token}"}),
                              ("/ws/chat/", {"Sec-WebSocket-Protocol": f"bearer, {token}"})):
            status, _, body = handshake(server, path=path, headers=headers)
            assert (status, body) == (401, BAD_TOKEN), (name, headers or path)


def test_blacklisted_and_inactive_users_are_refused(server):
    u = register(server)
    logout(server, u)
    status, _, body = handshake(server, path=f"/ws/chat/?token={u['access']}")
    assert (status, body) == (401, BAD_TOKEN)

    v = register(server)
    db_exec(server, "UPDATE users SET is_active = FALSE WHERE id = ?", (v["id"],))
    status, _, body = handshake(server, path=f"/ws/chat/?token={v['access']}")
    assert (status, body) == (401, BAD_TOKEN)


def test_plain_get_is_426(server):
    for path in ("/ws/chat/", "/ws/chat"):
        status, _, body = handshake(server, path=path, upgrade=False)
        assert (status, body) == (426, UPGRADE_REQUIRED)


def test_foreign_origin_is_refused_when_origins_are_configured(fresh_server):
    srv = fresh_server(env={"PARLEY_CORS_ORIGINS": "https://chat.example.com"})
    u = register(srv)
    status, _, body = handshake(srv, path=f"/ws/chat/?token={u['access']}",
                                headers={"Origin": "https://evil.example.com"})
    assert (status, body) == (403, ORIGIN_REFUSED)
    connect(srv, u["access"], origin="https://chat.example.com").close()
    connect(srv, u["access"]).close()  # no Origin: not a browser, allowed


def test_any_origin_is_allowed_by_default(server, user):
    connect(server, user["access"], origin="https://anywhere.example.com").close()


def test_connections_per_user_are_capped(fresh_server):
    srv = fresh_server(env={"PARLEY_WS_MAX_CONNECTIONS_PER_USER": "2"})
    u = register(srv)
    a = connect(srv, u["access"])
    b = connect(srv, u["access"])
    status, _, body = handshake(srv, path=f"/ws/chat/?token={u['access']}")
    assert (status, body) == (429, TOO_MANY)
    other = register(srv)  # the cap is per user
    connect(srv, other["access"]).close()
    a.close()
    deadline = time.monotonic() + 5
    while True:  # the server notices the close shortly after the handshake ends
        status, _, _ = handshake(srv, path=f"/ws/chat/?token={u['access']}")
        if status == 101 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 101
    b.close()


# --- frames, errors, limits (§8.2, §8.3) ----------------------------------------------------------

def test_ping_pong_echoes_request_id(server, user):
    sock = connect(server, user["access"])
    try:
        for rid in (5, "r-17"):
            f = sock.request({"message_type": "ping", "request_id": rid})
            assert set(f) == {"type", "request_id", "server_time"}
            assert f["type"] == "pong" and f["request_id"] == rid
            assert TIMESTAMP.match(f["server_time"])
        f = sock.request({"message_type": "ping"})
        assert set(f) == {"type", "server_time"}
    finally:
        sock.close()


def test_bad_frames_get_error_frames_and_the_socket_stays_open(server, user):
    sock = connect(server, user["access"])
    try:
        sock.send("{not json")
        f = sock.recv_type("error")
        assert f["message_type"] is None and f["code"] == "parse_error"
        assert f["error"].startswith("JSON parse error - "), f
        assert "request_id" not in f

        sock.send(b"\x00\x01")
        f = sock.recv_type("error")
        assert f == {"type": "error", "message_type": None,
                     "error": "Binary frames are not supported.", "code": "parse_error"}

        f = sock.request({"message_type": "no_such_thing", "request_id": "x1"})
        assert f["type"] == "error" and f["code"] == "unknown_message_type"
        assert f["message_type"] == "no_such_thing" and f["request_id"] == "x1"

        f = sock.request({"message_type": "ping", "request_id": 1})
        assert f["type"] == "pong"
    finally:
        sock.close()


def test_oversized_message_closes_with_1009(server, user):
    sock = connect(server, user["access"])
    sock.send("x" * (70 * 1024))
    assert sock.wait_closed() == 1009


# --- presence (§8.9) ------------------------------------------------------------------------------

def presence_frames(frames, user_id):
    return [f for f in frames if f.get("type") == "user_presence" and f["user_id"] == user_id]


def test_presence_online_at_first_socket_offline_after_the_delay(fresh_server):
    srv = fresh_server(env={"PARLEY_PRESENCE_OFFLINE_DELAY": "1s"})
    alice, bob = register(srv), register(srv)
    team = team_with(srv, alice, bob)
    watcher = connect(srv, bob["access"])
    try:
        watcher.frames(0.3)  # bob's own online event
        a1 = connect(srv, alice["access"])
        # The user's own sockets get the event too, before hello (§8.9, §13.2).
        own = a1.recv_type("user_presence", timeout=1)
        assert own["user_id"] == alice["id"] and own["status"] == "online"
        f = watcher.recv_type("user_presence")
        assert set(f) == {"type", "user_id", "status", "timestamp", "team_id"}
        assert (f["user_id"], f["status"], f["team_id"]) == (alice["id"], "online", team["id"])
        assert TIMESTAMP.match(f["timestamp"])

        a2 = connect(srv, alice["access"])  # not a transition: nothing published
        assert presence_frames(watcher.frames(0.5), alice["id"]) == []
        a1.close()
        assert presence_frames(watcher.frames(1.8), alice["id"]) == []  # a2 keeps her online
        closed_at = time.monotonic()
        a2.close()
        f = watcher.recv_type("user_presence", timeout=4)
        waited = time.monotonic() - closed_at
        assert (f["user_id"], f["status"], f["team_id"]) == (alice["id"], "offline", team["id"])
        assert 0.7 <= waited < 3.5, waited
    finally:
        watcher.close()


def test_reconnecting_within_the_delay_does_not_flap(fresh_server):
    srv = fresh_server(env={"PARLEY_PRESENCE_OFFLINE_DELAY": "1s"})
    alice, bob = register(srv), register(srv)
    team_with(srv, alice, bob)
    watcher = connect(srv, bob["access"])
    try:
        watcher.frames(0.3)  # bob's own online event
        a1 = connect(srv, alice["access"])
        watcher.recv_type("user_presence")
        a1.close()
        time.sleep(0.3)
        a2 = connect(srv, alice["access"])
        assert presence_frames(watcher.frames(1.8), alice["id"]) == []
        a2.close()
    finally:
        watcher.close()


# --- revocation and shutdown (§2.3, §10.1) --------------------------------------------------------

def test_logout_closes_the_socket_with_4001_within_5_seconds(server):
    u = register(server)
    other = login(server, u["username"])  # another session of the same user stays open
    sock = connect(server, u["access"])
    kept = connect(server, other["access"])
    try:
        start = time.monotonic()
        logout(server, u)
        assert sock.wait_closed(timeout=7) == 4001
        assert time.monotonic() - start < 5.5
        assert kept.request({"message_type": "ping"})["type"] == "pong"
    finally:
        kept.close()


def test_deactivated_user_is_closed_with_4001(server):
    u = register(server)
    sock = connect(server, u["access"])
    db_exec(server, "UPDATE users SET is_active = FALSE WHERE id = ?", (u["id"],))
    assert sock.wait_closed(timeout=7) == 4001


def test_sigterm_closes_sockets_with_1001(fresh_server):
    srv = fresh_server()
    u = register(srv)
    sock = connect(srv, u["access"])
    stopper = threading.Thread(target=srv.stop)  # asserts a clean exit
    stopper.start()
    try:
        assert sock.wait_closed(timeout=10) == 1001
    finally:
        stopper.join(20)
    assert not srv.running


# --- REST-made changes reach open sockets (§8.5, §8.7) --------------------------------------------


def test_channel_created_reaches_the_team_and_subscribes_it(server):
    alice, bob = register(server), register(server)
    team = team_with(server, alice, bob)
    sock = connect(server, bob["access"])
    try:
        ch = create_channel(server, alice, team["id"], name="design")
        f = sock.recv_type("channel_created")
        assert f["channel"]["id"] == ch["id"]
        assert f["channel"]["team_id"] == team["id"] and f["channel"]["team"] == team["id"]
        assert {m["id"] for m in f["channel"]["members"]} == {alice["id"], bob["id"]}
        msg = post_message(server, alice, ch["id"], "hello design")
        live = sock.recv_type("channels")
        assert live["id"] == msg["id"] and live["channel_id"] == ch["id"]
        assert live["offset"] == 1 and isinstance(live["epoch"], str)
    finally:
        sock.close()


def test_a_team_created_after_connecting_reaches_the_creators_open_socket(server):
    # §8.7: a socket receives the frames of every team its user is a member of at this moment,
    # including a team the user creates after the socket opened.
    alice, bob = register(server), register(server)
    sock = connect(server, alice["access"])
    try:
        team = create_team(server, alice, name="Fresh")
        ch = create_channel(server, alice, team["id"], name="general")
        f = sock.recv_type("channel_created")
        assert f["channel"]["id"] == ch["id"]
        add_member(server, alice, team["id"], bob)
        added = sock.recv_type("member_added")
        assert added["team_id"] == team["id"] and added["user_id"] == bob["id"]
        msg = post_message(server, bob, ch["id"], "hi alice")
        live = sock.recv_type("channels")
        assert live["id"] == msg["id"] and live["offset"] == 1
    finally:
        sock.close()


def test_dm_channel_created_goes_to_the_other_participant_only(server):
    alice, bob = register(server), register(server)
    team = team_with(server, alice, bob)
    a = connect(server, alice["access"])
    b = connect(server, bob["access"])
    try:
        channel = dm(server, alice, team["id"], bob)
        f = b.recv_type("channel_created")
        assert f["channel"]["id"] == channel["id"]
        post_message(server, alice, channel["id"], "psst")
        # Both participants' sockets were subscribed; the creator got no channel_created.
        assert b.recv_type("direct")["content"] == "psst"
        frames = [a.recv_type("direct")]
        frames += a.frames(0.3)
        assert "channel_created" not in [x["type"] for x in frames]
    finally:
        a.close()
        b.close()


def test_member_added_subscribes_and_member_removed_unsubscribes(server):
    alice, carol = register(server), register(server)
    team = create_team(server, alice)
    general = create_channel(server, alice, team["id"], name="general")
    sock = connect(server, carol["access"])
    try:
        add_member(server, alice, team["id"], carol)
        f = sock.recv_type("member_added")
        assert {k: f[k] for k in ("team_id", "user_id", "username")} == {
            "team_id": team["id"], "user_id": carol["id"], "username": carol["username"]}
        post_message(server, alice, general["id"], "welcome")
        assert sock.recv_type("channels")["content"] == "welcome"

        r = api(server, alice["access"]).post(f"{TEAMS}{team['id']}/remove_member/",
                                              json={"user_id": carol["id"]})
        assert_json(r, 200)
        f = sock.recv_type("member_removed")
        assert (f["team_id"], f["user_id"]) == (team["id"], carol["id"])
        sock.frames(0.2)  # drop what came before (carol's own presence in the team)
        post_message(server, alice, general["id"], "gone")
        assert sock.frames(1.0) == []
    finally:
        sock.close()


LIVE_KEYS = {"type", "message_type", "id", "sender", "sender_id", "content", "timestamp",
             "channel_id", "team_id", "reply_to", "replied_message", "link_preview", "attachments",
             "reactions", "is_forwarded", "is_pinned", "is_edited", "edited_at", "offset", "epoch"}


def test_rest_messages_reach_channel_members_in_offset_order(server):
    alice, bob = register(server), register(server)
    team = team_with(server, alice, bob)
    ch = create_channel(server, alice, team["id"], name="general")
    a = connect(server, alice["access"])
    b = connect(server, bob["access"])
    try:
        m1 = post_message(server, alice, ch["id"], "one")
        m2 = post_message(server, alice, ch["id"], "two")
        for sock in (a, b):
            f1, f2 = sock.recv_type("channels"), sock.recv_type("channels")
            assert set(f1) == LIVE_KEYS
            assert (f1["id"], f1["offset"], f1["message_type"]) == (m1["id"], 1, "channels")
            assert (f2["id"], f2["offset"]) == (m2["id"], 2)
            assert f1["epoch"] == f2["epoch"] and re.match(r"^[A-Za-z0-9_-]{1,32}$", f1["epoch"])
            assert (f1["sender"], f1["sender_id"], f1["team_id"]) == (
                alice["username"], alice["id"], team["id"])
    finally:
        a.close()
        b.close()


def test_frames_are_not_sent_to_non_members(server):
    alice, bob, eve = register(server), register(server), register(server)
    team = team_with(server, alice, bob)
    ch = create_channel(server, alice, team["id"])
    sock = connect(server, eve["access"])
    try:
        post_message(server, alice, ch["id"], "private")
        assert sock.frames(0.8) == []
    finally:
        sock.close()
