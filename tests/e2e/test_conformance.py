"""Contract conformance gaps (issue #14 item 4 and the string rule of item 3), on both backends:

- `hello` is the very first frame of every socket (§8.1, §13.2): the user's own online
  `user_presence`, and anyone else's, comes after it;
- every error frame of a request that had a valid `request_id` echoes it, the envelope's own
  errors (missing or non-string `message_type`) included (§8.3);
- an integer id beyond 64 bits is DRF's `Invalid pk "<digits>"`, not "received float" (§0.4);
- U+0000 in any string of a body or frame is a 400 / `invalid` error in the endpoint's own shape,
  invalid UTF-8 (lone surrogate escapes too) a parse error, and bad query values a 400: never a
  503 from a database that cannot store them (§0.3).
"""
import pytest

from support.client import api, assert_json, auth_error, register
from support.teams import CHANNELS, TEAMS, create_channel, create_team, invite, team_with
from support.ws import assert_hello_then_own_online, connect, handshake_status

BIG = 2 ** 70  # 1180591620717411303424: Boost.JSON reads it as a double
BIG_PK = f'Invalid pk "{BIG}" - object does not exist.'
NUL_TEXT = "Null characters are not allowed."


def first_frames(server, token, n=1, timeout=5.0) -> list:
    """Opens a socket and returns its first n frames exactly as they arrive (no skipping)."""
    sock = connect(server, token, wait_hello=False)
    try:
        return [sock.recv(timeout) for _ in range(n)]
    finally:
        sock.close()


# --- hello first ----------------------------------------------------------------------------------

def test_hello_is_the_first_frame_and_own_presence_follows(fresh_server):
    # A zero offline delay makes every reconnect an offline → online transition, so each new
    # socket's own user_presence is published while that socket is being opened.
    srv = fresh_server(env={"PARLEY_PRESENCE_OFFLINE_DELAY": "0s"})
    alice, bob = register(srv), register(srv)
    team = team_with(srv, alice, bob)
    watcher = connect(srv, bob["access"])  # someone online who sees alice's transitions
    try:
        for attempt in range(8):
            assert_hello_then_own_online(srv, alice, watcher, f"attempt {attempt}", team["id"])
    finally:
        watcher.close()


def test_hello_comes_before_frames_of_a_busy_team(server):
    # Others typing and posting while sockets open: still nothing before hello.
    alice, bob = register(server), register(server)
    team = team_with(server, alice, bob)
    channel = create_channel(server, alice, team["id"])["id"]
    bob_sock = connect(server, bob["access"])
    try:
        for i in range(10):
            bob_sock.send_json({"message_type": "typing", "channel_id": channel})
            bob_sock.send_json({"message_type": "channel_message", "channel": channel,
                                "content": f"busy {i}"})
            frames = first_frames(server, alice["access"])
            assert frames[0].get("type") == "hello", frames
    finally:
        bob_sock.close()


# --- request_id in every error frame --------------------------------------------------------------

@pytest.mark.parametrize("frame,code,field", [
    ({"request_id": "r-1"}, "required", "message_type"),
    ({"message_type": None, "request_id": 17}, "required", "message_type"),
    ({"message_type": 42, "request_id": "r-3"}, "invalid", "message_type"),
    ({"message_type": ["ping"], "request_id": 4}, "invalid", "message_type"),
    ({"message_type": "no_such_type", "request_id": "r-5"}, "unknown_message_type", None),
    ({"message_type": "channel_message", "request_id": "r-6"}, "required", "channel"),
])
def test_every_error_frame_echoes_the_request_id(server, user, frame, code, field):
    with connect(server, user["access"]) as sock:
        sock.send_json(frame)
        err = sock.recv_type("error")
        assert err["code"] == code, err
        assert err["request_id"] == frame["request_id"], err
        assert err.get("field") == field, err
        expected_type = frame.get("message_type")
        assert err["message_type"] == (expected_type if isinstance(expected_type, str) else None)


def test_an_invalid_request_id_is_never_echoed(server, user):
    with connect(server, user["access"]) as sock:
        for frame in ({"request_id": ""}, {"message_type": 1, "request_id": "x" * 65},
                      {"message_type": "ping", "request_id": 1.5}):
            sock.send_json(frame)
            err = sock.recv_type("error")
            assert "request_id" not in err, (frame, err)
        sock.send_json({"message_type": "ping", "request_id": "a\u0000b"})
        err = sock.recv_type("error")
        assert err["field"] == "request_id" and "request_id" not in err, err


# --- ids beyond 64 bits ---------------------------------------------------------------------------

def test_an_id_beyond_64_bits_is_an_invalid_pk(server):
    alice = register(server)
    team = create_team(server, alice)
    channel = create_channel(server, alice, team["id"])
    http = api(server, alice["access"])
    # json.dumps writes 2**70 as the integer literal 1180591620717411303424.
    r = http.post(CHANNELS, json={"name": "x", "team": BIG})
    assert assert_json(r, 400)["team"] == [BIG_PK]
    r = http.post("/api/chat/messages/", json={"channel": BIG, "content": "x"})
    assert assert_json(r, 400)["channel"] == [BIG_PK]
    r = http.post("/api/chat/messages/", json={"channel": channel["id"], "content": "x",
                                               "reply_to": BIG})
    assert assert_json(r, 400)["reply_to"] == [BIG_PK]
    r = http.post("/api/chat/messages/", json={"channel": -BIG, "content": "x"})
    assert assert_json(r, 400)["channel"] == [f'Invalid pk "{-BIG}" - object does not exist.']
    # A float stays a float.
    r = http.post(CHANNELS, json={"name": "x", "team": 1.5})
    assert assert_json(r, 400)["team"] == ["Incorrect type. Expected pk value, received float."]
    # A page parameter beyond 64 bits is out of range, not "not an integer".
    r = http.get(f"/api/chat/channels/{channel['id']}/messages/?limit={BIG}")
    assert r.status_code == 400, r.text
    with connect(server, alice["access"]) as sock:
        sock.send_json({"message_type": "channel_message", "channel": BIG, "content": "x",
                        "request_id": "big"})
        err = sock.recv_type("error")
        assert err["error"] == BIG_PK and err["field"] == "channel", err
        assert err["request_id"] == "big"


# --- NUL, invalid UTF-8, bad query values ---------------------------------------------------------

def raw_post(http, path, body: bytes):
    return http.post(path, data=body, headers={"Content-Type": "application/json"})


def test_nul_in_auth_bodies_is_a_400_in_the_auth_shape(server):
    http = api(server)
    expected = auth_error(NUL_TEXT, "invalid")
    # Registration's own rules (§2.5) refuse control characters with their texts.
    username_rule = auth_error("Username may contain only letters, digits and @/./+/-/_ and must "
                               "be 1-150 characters long.", "invalid")
    email_rule = auth_error("Enter a valid email address.", "invalid")
    for body, error in (
            ({"username": "a\u0000b", "email": "a@example.com", "password": "Pa55word!x"},
             username_rule),
            ({"username": "abc", "email": "a\u0000@example.com", "password": "Pa55word!x"},
             email_rule)):
        assert_json(http.post("/api/auth/register", json=body), 400, error)
    assert_json(http.post("/api/auth/login", json={"username": "x\u0000", "password": "p"}), 400,
                expected)
    user = register(server)
    r = api(server, user["access"]).post("/api/auth/logout",
                                         json={"refresh": user["refresh"] + "\u0000"})
    assert_json(r, 400, expected)
    r = http.post("/api/auth/token/refresh/", json={"refresh": "\u0000"})
    assert_json(r, 400, {"refresh": [NUL_TEXT]})
    # The account is untouched: the refused logout revoked nothing.
    assert http.get("/api/auth/me/", headers={"Authorization": "Bearer " + user["access"]}) \
        .status_code == 200


def test_nul_in_chat_bodies_is_a_400_in_each_endpoints_shape(server):
    alice, bob = register(server), register(server)
    team = team_with(server, alice, bob)
    channel = create_channel(server, alice, team["id"])
    http = api(server, alice["access"])
    # Field shape (serializer-style writes), nested strings included.
    assert_json(http.post(TEAMS, json={"name": "a\u0000"}), 400, {"name": [NUL_TEXT]})
    assert_json(http.post(TEAMS, json={"name": "ok", "description": "\u0000"}), 400,
                {"description": [NUL_TEXT]})
    assert_json(http.patch(f"{TEAMS}{team['id']}/", json={"name": "x\u0000y"}), 400,
                {"name": [NUL_TEXT]})
    assert_json(http.post(CHANNELS, json={"name": "c\u0000", "team": team["id"]}), 400,
                {"name": [NUL_TEXT]})
    assert_json(http.post("/api/chat/messages/",
                          json={"channel": channel["id"], "content": "hi\u0000"}), 400,
                {"content": [NUL_TEXT]})
    assert_json(http.post("/api/chat/messages/",
                          json={"channel": channel["id"], "content": "hi",
                                "link_preview": {"url": "https://example.com/",
                                                 "title": "t\u0000"}}), 400)
    assert_json(http.post(f"{TEAMS}{team['id']}/create_invitation/",
                          json={"junk\u0000key": 1}), 400, {"junk\u0000key": [NUL_TEXT]})
    # Error shape (custom actions).
    code = invite(server, alice, team["id"])["invite_code"]
    assert_json(http.post(f"{TEAMS}join_via_invitation/", json={"invite_code": code + "\u0000"}),
                400, {"error": NUL_TEXT, "code": "invalid"})
    assert_json(http.post(f"{TEAMS}{team['id']}/add_member/", json={"user_id": "1\u0000"}), 400,
                {"error": NUL_TEXT, "code": "invalid"})
    assert_json(http.post("/api/chat/fetch-link-preview/", json={"url": "http://a\u0000b/"}),
                400, {"error": NUL_TEXT, "code": "invalid"})
    # Nothing was written.
    msgs = assert_json(http.get(f"/api/chat/channels/{channel['id']}/messages/"), 200)
    assert msgs == []
    assert [t["name"] for t in assert_json(http.get(TEAMS), 200)] == [team["name"]]


def test_nul_in_websocket_frames_is_an_invalid_error_frame(server):
    alice, bob = register(server), register(server)
    team = team_with(server, alice, bob)
    channel = create_channel(server, alice, team["id"])["id"]
    with connect(server, alice["access"]) as sock:
        for frame, field in [
            ({"message_type": "channel_message", "channel": channel, "content": "a\u0000"},
             "content"),
            ({"message_type": "create_channel", "team_id": team["id"], "name": "n\u0000"}, "name"),
            ({"message_type": "team_notification", "team_id": team["id"],
              "notification_type": "\u0000"}, "notification_type"),
            ({"message_type": "resume", "channels": {str(channel): {"offset": 0,
                                                                    "epoch": "e\u0000"}}},
             "channels"),
        ]:
            frame["request_id"] = field
            sock.send_json(frame)
            err = sock.recv_type("error")
            assert (err["code"], err["field"], err["error"]) == ("invalid", field, NUL_TEXT), err
            assert err["request_id"] == field and err["message_type"] == frame["message_type"]
        # A reaction keeps its own rule's text (§6.8: no control characters).
        m = assert_json(api(server, alice["access"]).post(
            "/api/chat/messages/", json={"channel": channel, "content": "react to me"}), 201)
        sock.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": "\u0000",
                        "request_id": "re"})
        err = sock.recv_type("error")
        assert (err["code"], err["field"], err["request_id"]) == ("invalid", "reaction", "re"), err
        assert sock.ping()["type"] == "pong"
    msgs = assert_json(api(server, alice["access"]).get(
        f"/api/chat/channels/{channel}/messages/"), 200)
    assert [x["content"] for x in msgs] == ["react to me"] and msgs[0]["reactions"] == {}


@pytest.mark.parametrize("body", [
    b'{"name": "\\ud800"}',             # a lone high surrogate escape
    b'{"name": "\\udc00x"}',            # a lone low surrogate escape
    b'{"name": "\xff"}',                # a byte that is never UTF-8
    b'{"name": "\xed\xa0\x80"}',        # a UTF-8-encoded surrogate
])
def test_invalid_utf8_in_a_body_is_a_parse_error(server, user, body):
    r = raw_post(api(server, user["access"]), TEAMS, body)
    data = assert_json(r, 400)
    assert data["code"] == "parse_error" and data["detail"].startswith("JSON parse error - "), data


def test_invalid_utf8_in_a_websocket_text_is_a_parse_error(server, user):
    with connect(server, user["access"]) as sock:
        sock.send_text('{"message_type": "ping", "request_id": "\\ud800"}')
        err = sock.recv_type("error")
        assert err["code"] == "parse_error", err
        assert sock.ping()["type"] == "pong"


@pytest.mark.parametrize("query", ["%00", "%FF", "1%00", "%ED%A0%80"])
def test_bad_query_values_are_a_400_never_a_503(server, query):
    alice, bob = register(server), register(server)
    team = team_with(server, alice, bob)
    channel = create_channel(server, alice, team["id"])["id"]
    http = api(server, alice["access"])
    for path in (f"/api/chat/users/in_team/?team_id={query}",
                 f"/api/chat/users/in_channel/?channel_id={query}",
                 f"/api/chat/users/interacted/?team_id={query}",
                 f"/api/chat/messages/direct_messages/?user_id={query}",
                 f"/api/chat/messages/direct_messages/?user_id={bob['id']}&team_id={query}",
                 f"/api/chat/channels/{channel}/messages/?limit={query}",
                 f"/api/chat/channels/{channel}/messages/?before={query}",
                 f"/api/chat/messages/?after={query}"):
        r = http.get(path)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/json"), path
    # Path pieces: not an id → 404; a media name Parley never issued → 404.
    for path in (f"/api/chat/teams/{query}/", f"/api/chat/channels/{query}/messages/",
                 f"/media/uploads/{query}.png?expires=1&signature=x"):
        assert http.get(path).status_code == 404, path
    # A WebSocket token that is not one: 401, not a database error.
    assert handshake_status(server, "a\u0000b") == 401
