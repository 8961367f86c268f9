"""Malformed and hostile WebSocket frames (API.md §8.2, §8.3, §0.4; STYLE.md "a bad frame never
kills the session"): 200+ frames on ONE socket, each answered by exactly one error frame with the
contract's code (and `field`), the socket still usable afterwards and the store unchanged. The
frames that close a socket (invalid UTF-8: 1007, over 64 KiB: 1009) each use a fresh socket."""
import json

import pytest

from support.client import api, assert_json
from support.frames import World, assert_error, history, post
from support.teams import create_channel, create_team
from support.ws import connect

BIG = 9223372036854775807  # the largest valid id (§0.4)
BAD_IDS = ["abc", 1.5, True, [], {}, 0, -1, BIG + 1, "12a", " 7", "-3", "99999999999999999999"]
SOME_BAD_IDS = ["abc", 0, -1, BIG + 1, 1.5]


class Scene:
    """A world whose state the bad frames must not change, and ids of things the caller cannot
    see."""

    def __init__(self, server):
        self.w = World(server)
        w = self.w
        self.msg = post(server, w.alice, w.general["id"], "keep me")["id"]
        self.foreign_team = create_team(server, w.outsider)
        self.foreign_channel = create_channel(server, w.outsider, self.foreign_team["id"])
        self.foreign_msg = post(server, w.outsider, self.foreign_channel["id"], "not yours")["id"]
        self.bob_msg = post(server, w.bob, w.general["id"], "bob's")["id"]


def snapshot(server, scene):
    """What the bad frames must leave unchanged: histories, channel lists, teams, members."""
    w = scene.w
    http = api(server, w.alice["access"])
    return {
        "general": history(server, w.alice, w.general["id"]),
        "dm": history(server, w.alice, w.dm_ab["id"]),
        "foreign": history(server, w.outsider, scene.foreign_channel["id"]),
        "channels": assert_json(http.get("/api/chat/channels/"), 200),
        "teams": assert_json(http.get("/api/chat/teams/"), 200),
        "foreign_team": assert_json(api(server, w.outsider["access"]).get(
            f"/api/chat/teams/{scene.foreign_team['id']}/"), 200),
    }


@pytest.fixture(scope="module")
def scene(server):
    return Scene(server)


@pytest.fixture(scope="module")
def sock(server, scene):
    s = connect(server, scene.w.alice["access"], label="bad-frames")
    yield s
    s.close()


@pytest.fixture(scope="module")
def before(server, scene, sock):
    return snapshot(server, scene)


# ---- the cases: (label, what to send, expected) -----------------------------------------------
# what: a str (raw text), bytes (binary frame) or a JSON value (serialized); expected: a dict of
# the error frame's message_type, code, field (None: absent), error (optional), extra keys.

def err(mt, code, field=None, error=None, extra=None, request_id=None):
    return {"message_type": mt, "code": code, "field": field, "error": error, "extra": extra,
            "request_id": request_id}


def cases(scene):
    w = scene.w
    g, dm_id, team = w.general["id"], w.dm_ab["id"], w.team["id"]
    msg = scene.msg
    out = []

    def add(label, what, expected):
        out.append((label, what, expected))

    # Not JSON (§0.3).
    for i, text in enumerate(["{", "}", "{not json", '{"a":}', "[1,", "nul", "'single'",
                              '{"message_type": "ping",}', "", " ", '{"a":1}{"b":2}', "NaN",
                              "Infinity", '{"x": 01}', '{"x": "\\u12"}', '{"x" 1}', "\t\n",
                              '{"message_type": "ping" // c\n}', "{'message_type': 'ping'}",
                              '{"message_type": "ping"'] ):
        add(f"syntax-{i}", text, err(None, "parse_error"))
    # JSON, not an object.
    for i, text in enumerate(["[]", "[1,2]", "1", "-1", "1.5", '"str"', "true", "false", "null",
                              '[{"message_type": "ping"}]', "1e400"]):
        add(f"not-object-{i}", text,
            err(None, "parse_error", error=None if text == "1e400" else "Expected a JSON object."))
    # Nesting (§0.3: deeper than 64 is a parse error).
    for depth in (65, 66, 100, 1000, 5000):
        add(f"arrays-{depth}", '{"message_type": "ping", "x": ' + "[" * (depth - 1) +
            "]" * (depth - 1) + "}", err(None, "parse_error"))
    add("objects-65", '{"message_type": "ping", "x": ' + '{"a": ' * 64 + "1" + "}" * 64 + "}",
        err(None, "parse_error"))
    # message_type (§8.3, §13.6).
    add("no-message-type", {}, err(None, "required", "message_type"))
    # A valid request_id is echoed by every error frame, the envelope's own included (§8.3).
    add("no-message-type-rid", {"request_id": 1, "channel": g},
        err(None, "required", "message_type", request_id=1))
    add("null-message-type", {"message_type": None}, err(None, "required", "message_type"))
    for i, v in enumerate([1, 1.5, True, [], {}, ["ping"], {"ping": 1}]):
        add(f"non-string-message-type-{i}", {"message_type": v}, err(None, "invalid",
                                                                      "message_type"))
    for name in ("PING", "Ping", "ping ", " ping", "channel-message", "message", "channels",
                 "direct", "hello", "ack", "error", "pong", "get_messages", "x" * 1000,
                 "ping\u0000", "subscribe", "__proto__", "constructor"):
        add(f"unknown-{name[:20]}", {"message_type": name}, err(name, "unknown_message_type"))
    # request_id (§8.3): invalid → invalid, field request_id, not echoed.
    for i, rid in enumerate(["", "x" * 65, "é" * 65, 1.5, True, [], {}, ["a"], {"a": 1}]):
        add(f"bad-request-id-{i}", {"message_type": "ping", "request_id": rid},
            err("ping", "invalid", "request_id"))
    add("bad-request-id-unknown-type", {"message_type": "nope", "request_id": ""},
        err("nope", "invalid", "request_id"))
    # Every id key of every request, with wrong types and out-of-range values (§0.4).
    id_keys = [
        ("channel_message", {"content": "x"}, "channel", True),
        ("channel_message", {"content": "x"}, "channel_id", True),
        ("direct_message", {"content": "x"}, "recipient_id", True),
        ("direct_message", {"content": "x"}, "recipient", True),
        ("direct_message", {"content": "x"}, "channel_id", False),
        ("direct_message", {"content": "x", "recipient_id": w.bob["id"]}, "team_id", False),
        ("team_notification", {"notification_type": "x"}, "team_id", True),
        ("create_channel", {"name": "x"}, "team_id", True),
        ("add_team_member", {"user_id": w.bob["id"]}, "team_id", True),
        ("add_team_member", {"team_id": team}, "user_id", True),
        ("get_channel_messages", {}, "channel_id", True),
        ("get_direct_messages", {}, "channel_id", True),
        ("get_direct_messages", {}, "user_id", True),
        ("get_direct_messages", {"user_id": w.bob["id"]}, "team_id", False),
        ("get_team_channels", {}, "team_id", True),
        ("get_team_members", {}, "team_id", True),
        ("get_interacted_users", {}, "team_id", False),
        ("get_user_presences", {}, "team_id", True),
        ("delete_message", {}, "message_id", True),
        ("edit_message", {"content": "x"}, "message_id", True),
        ("reaction", {"reaction": "x"}, "message_id", True),
        ("pin_message", {}, "message_id", True),
        ("unpin_message", {}, "message_id", True),
        ("typing", {}, "channel_id", True),
        ("typing", {}, "channel", True),
    ]
    for mt, base, key, required in id_keys:
        values = BAD_IDS if key in ("channel", "message_id", "team_id") else SOME_BAD_IDS
        for i, v in enumerate(values):
            add(f"{mt}-{key}-{i}", {"message_type": mt, key: v, **base}, err(mt, "invalid", key))
        # Missing (absent, null, ""): `required`, under the primary key of an aliased pair.
        if required and (mt, key) not in (("channel_message", "channel_id"),
                                           ("direct_message", "recipient"),
                                           ("get_direct_messages", "user_id"),
                                           ("typing", "channel")):
            for how, frame in (("absent", {"message_type": mt, **base}),
                               ("null", {"message_type": mt, key: None, **base}),
                               ("empty", {"message_type": mt, key: "", **base})):
                add(f"{mt}-{key}-{how}", frame, err(mt, "required", key))
    # Wrong types of the other keys.
    msg_keys = [
        ({"content": 5}, "content", "invalid"), ({"content": None}, "content", "required"),
        ({"content": ["x"]}, "content", "invalid"), ({"content": ""}, "content", "required"),
        ({"content": "   "}, "content", "required"), ({"content": "x" * 10001}, "content",
                                                      "invalid"),
        ({"content": "x", "reply_to": "abc"}, "reply_to", "invalid"),
        ({"content": "x", "reply_to": 1.5}, "reply_to", "invalid"),
        ({"content": "x", "reply_to": scene.foreign_msg}, "reply_to", "invalid"),
        ({"content": "x", "reply_to": BIG}, "reply_to", "invalid"),
        ({"content": "x", "link_preview": "str"}, "link_preview", "invalid"),
        ({"content": "x", "link_preview": []}, "link_preview", "invalid"),
        ({"content": "x", "link_preview": {"url": "ftp://x"}}, "link_preview", "invalid"),
        ({"content": "x", "link_preview": {"title": "no url"}}, "link_preview", "invalid"),
        ({"content": "x", "fileIds": "1"}, "fileIds", "invalid"),
        ({"content": "x", "fileIds": [1.5]}, "fileIds", "invalid"),
        ({"content": "x", "fileIds": [BIG]}, "fileIds", "invalid"),
        ({"content": "x", "file_ids": {}}, "file_ids", "invalid"),
        ({"content": "x", "file_ids": [1] * 11}, "file_ids", "invalid"),
    ]
    for i, (extra, field, code) in enumerate(msg_keys):
        add(f"channel_message-keys-{i}", {"message_type": "channel_message", "channel": g,
                                          **extra}, err("channel_message", code, field))
        if i % 2 == 0:
            add(f"direct_message-keys-{i}", {"message_type": "direct_message",
                                             "channel_id": dm_id, **extra},
                err("direct_message", code, field))
    add("forward-channels-missing", {"message_type": "forward_message", "content": "x"},
        err("forward_message", "required", "channels"))
    for i, v in enumerate(["12", 12, {}, True, [], ["a"], [0], [BIG + 1], [g] * 11]):
        add(f"forward-channels-{i}", {"message_type": "forward_message", "channels": v,
                                      "content": "x"}, err("forward_message", "invalid",
                                                           "channels"))
    add("forward-duplicates", {"message_type": "forward_message", "channels": [g, g],
                               "content": "x"},
        err("forward_message", "invalid", "channels", extra={"channel_id": g}))
    for i, v in enumerate([5, [], ""]):
        add(f"forward-content-{i}", {"message_type": "forward_message", "channels": [g],
                                     "content": v},
            err("forward_message", "required" if v == "" else "invalid", "content"))
    add("forward-content-missing", {"message_type": "forward_message", "channels": [g]},
        err("forward_message", "required", "content"))
    for i, (v, code) in enumerate([(5, "invalid"), ("", "required"), (None, "required"),
                                   ("x" * 65, "invalid"), ([], "invalid")]):
        add(f"notification-type-{i}", {"message_type": "team_notification", "team_id": team,
                                       "notification_type": v},
            err("team_notification", code, "notification_type"))
    for i, (extra, field, code) in enumerate([
            ({}, "name", "required"), ({"name": 5}, "name", "invalid"),
            ({"name": ""}, "name", "required"), ({"name": "   "}, "name", "required"),
            ({"name": None}, "name", "required"), ({"name": "x" * 101}, "name", "invalid"),
            ({"name": "ok", "description": 5}, "description", "invalid"),
            ({"name": "ok", "description": None}, "description", "required"),
            ({"name": "ok", "description": "x" * 2001}, "description", "invalid")]):
        add(f"create_channel-{i}", {"message_type": "create_channel", "team_id": team, **extra},
            err("create_channel", code, field))
    for i, (extra, field) in enumerate([
            ({"limit": "x"}, "limit"), ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
            ({"limit": 1.5}, "limit"), ({"limit": []}, "limit"), ({"before": "x"}, "before"),
            ({"before": 0}, "before"), ({"after": -5}, "after"), ({"after": {}}, "after")]):
        add(f"history-page-{i}", {"message_type": "get_channel_messages", "channel_id": g,
                                  **extra}, err("get_channel_messages", "invalid", field))
        add(f"dm-history-page-{i}", {"message_type": "get_direct_messages",
                                     "user_id": w.carol["id"], **extra},
            err("get_direct_messages", "invalid", field))
    for i, v in enumerate([5, True, [], {"a": 1}]):
        add(f"edit-content-{i}", {"message_type": "edit_message", "message_id": msg, "content": v},
            err("edit_message", "required", "content"))
    add("edit-content-blank", {"message_type": "edit_message", "message_id": msg,
                               "content": " "}, err("edit_message", "required", "content"))
    add("edit-content-long", {"message_type": "edit_message", "message_id": msg,
                              "content": "y" * 10001}, err("edit_message", "invalid", "content"))
    for i, v in enumerate([5, True, [], {}, "x" * 65, "a\u0001b"]):
        add(f"reaction-{i}", {"message_type": "reaction", "message_id": msg, "reaction": v},
            err("reaction", "invalid", "reaction"))
    for i, v in enumerate(["yes", 1, 0, [], {}]):
        add(f"typing-is-typing-{i}", {"message_type": "typing", "channel_id": g, "is_typing": v},
            err("typing", "invalid", "is_typing"))
    for i, v in enumerate([None, [], "x", 5, {"x": 1}, {"1": -1}, {"1": {"offset": "a"}}]):
        frame = {"message_type": "resume"}
        if v is not None:
            frame["channels"] = v
        add(f"resume-{i}", frame, err("resume", "required" if v is None else "invalid",
                                      "channels"))
    # Foreign ids (exist, not visible) and unknown huge ids: not_found (§0.6 404 vs 403).
    fc, ft, fm = scene.foreign_channel["id"], scene.foreign_team["id"], scene.foreign_msg
    for label, frame, field in [
            ("channel", {"message_type": "channel_message", "channel": fc, "content": "x"},
             "channel"),
            ("channel-alias", {"message_type": "channel_message", "channel_id": str(fc),
                               "content": "x"}, "channel_id"),
            ("dm", {"message_type": "direct_message", "channel_id": fc, "content": "x"},
             "channel_id"),
            ("dm-team", {"message_type": "direct_message", "recipient_id": w.bob["id"],
                         "team_id": ft, "content": "x"}, "team_id"),
            ("forward", {"message_type": "forward_message", "channels": [g, fc],
                         "content": "x"}, "channels"),
            ("notification", {"message_type": "team_notification", "team_id": ft,
                              "notification_type": "x"}, "team_id"),
            ("create_channel", {"message_type": "create_channel", "team_id": ft, "name": "x"},
             "team_id"),
            ("add_member-team", {"message_type": "add_team_member", "team_id": ft,
                                 "user_id": w.alice["id"]}, "team_id"),
            ("add_member-user", {"message_type": "add_team_member", "team_id": team,
                                 "user_id": BIG}, "user_id"),
            ("history", {"message_type": "get_channel_messages", "channel_id": fc},
             "channel_id"),
            ("dm-history", {"message_type": "get_direct_messages", "channel_id": fc},
             "channel_id"),
            ("team_channels", {"message_type": "get_team_channels", "team_id": ft}, "team_id"),
            ("team_members", {"message_type": "get_team_members", "team_id": ft}, "team_id"),
            ("interacted", {"message_type": "get_interacted_users", "team_id": ft}, "team_id"),
            ("presences", {"message_type": "get_user_presences", "team_id": ft}, "team_id"),
            ("delete", {"message_type": "delete_message", "message_id": fm}, "message_id"),
            ("edit", {"message_type": "edit_message", "message_id": fm, "content": "x"},
             "message_id"),
            ("reaction", {"message_type": "reaction", "message_id": fm, "reaction": "x"},
             "message_id"),
            ("pin", {"message_type": "pin_message", "message_id": fm}, "message_id"),
            ("unpin", {"message_type": "unpin_message", "message_id": fm}, "message_id"),
            ("typing", {"message_type": "typing", "channel_id": fc}, "channel_id"),
            ("typing-alias", {"message_type": "typing", "channel": fc}, "channel"),
            ("typing-bad-flag", {"message_type": "typing", "channel_id": fc, "is_typing": 3},
             "channel_id"),
            ("notification-bad-type", {"message_type": "team_notification", "team_id": ft,
                                       "notification_type": 3}, "team_id"),
    ]:
        extra = {"channel_id": fc} if label == "forward" else None
        add(f"foreign-{label}", frame, err(frame["message_type"], "not_found", field,
                                           "Not found.", extra))
        if "message_id" in frame:
            add(f"huge-{label}", {**frame, "message_id": BIG},
                err(frame["message_type"], "not_found", field, "Not found."))
        for key in ("channel", "channel_id", "team_id"):
            if key == field and isinstance(frame.get(key), int):
                add(f"huge-{label}-{key}", {**frame, key: str(BIG)},
                    err(frame["message_type"], "not_found", field, "Not found."))
    add("self-dm", {"message_type": "direct_message", "recipient_id": w.alice["id"],
                    "content": "me"}, err("direct_message", "self_dm", "recipient_id"))
    add("dm-recipient-outsider", {"message_type": "direct_message",
                                  "recipient_id": w.outsider["id"], "content": "x"},
        err("direct_message", "invalid", "recipient_id"))
    add("dm-not-a-dm", {"message_type": "direct_message", "channel_id": g, "content": "x"},
        err("direct_message", "invalid", "channel_id"))
    add("dm-wrong-recipient", {"message_type": "direct_message", "channel_id": dm_id,
                               "recipient_id": w.carol["id"], "content": "x"},
        err("direct_message", "invalid", "recipient_id"))
    add("edit-others", {"message_type": "edit_message", "message_id": scene.bob_msg,
                        "content": "mine now"},
        err("edit_message", "permission_denied", "message_id",
            "You can only edit your own messages"))
    # Binary frames (§8.3).
    for i, data in enumerate([b"", b"\x00", b'{"message_type": "ping"}', bytes(range(256)),
                              b"\xff" * 1000]):
        add(f"binary-{i}", data, err(None, "parse_error",
                                     error="Binary frames are not supported."))
    return out


def _scene_cases():
    # Labels are needed at collection time: build them from a stand-in scene with fixed ids.
    class Stub:
        pass

    s = Stub()
    s.w = Stub()
    for name, i in (("alice", 1), ("bob", 2), ("carol", 3), ("outsider", 4)):
        setattr(s.w, name, {"id": i})
    s.w.general, s.w.dm_ab, s.w.team = {"id": 1}, {"id": 2}, {"id": 1}
    s.msg, s.foreign_team, s.foreign_channel, s.foreign_msg, s.bob_msg = 1, {"id": 2}, \
        {"id": 3}, 2, 3
    return [label for label, _, _ in cases(s)]


LABELS = _scene_cases()


@pytest.fixture(scope="module")
def real_cases(scene):
    return {label: (what, expected) for label, what, expected in cases(scene)}


def test_there_are_at_least_200_cases():
    assert len(LABELS) >= 200, len(LABELS)
    assert len(set(LABELS)) == len(LABELS)


@pytest.mark.parametrize("label", LABELS)
def test_bad_frame(sock, before, real_cases, label):
    what, expected = real_cases[label]
    if isinstance(what, bytes):
        sock.send_binary(what)
    elif isinstance(what, str):
        sock.send_text(what)
    else:
        sock.send_json(what)
    f = sock.recv_until(lambda x: x.get("type") not in ("user_presence", "typing"), timeout=10)
    assert_error(f, expected["message_type"], expected["code"], field=expected["field"],
                 error=expected["error"], extra=expected["extra"],
                 request_id=expected["request_id"])


def test_after_the_batch_the_socket_works_and_nothing_changed(server, scene, sock, before):
    leftovers = [f for f in sock.frames(0.5) if f.get("type") not in ("user_presence",)]
    assert leftovers == [], leftovers
    sock.ping()
    # Valid frames right at the edges still work: 64 levels of nesting, an unusual but valid
    # request_id, and a large frame under the limit.
    deep = '{"message_type": "ping", "request_id": 1, "x": ' + "[" * 63 + "]" * 63 + "}"
    sock.send_text(deep)
    assert sock.recv_type("pong")["request_id"] == 1
    for rid in ("x" * 64, "é" * 64, -5, 2 ** 63, 0):
        f = sock.request({"message_type": "ping", "request_id": rid})
        assert (f["type"], f["request_id"]) == ("pong", rid)
    sock.send_json({"message_type": "ping", "request_id": "big", "pad": "p" * 60000})
    assert sock.recv_type("pong")["request_id"] == "big"
    assert snapshot(server, scene) == before


# --- frames that close the socket (each on a fresh socket) -----------------------------------------

@pytest.mark.parametrize("data", [b"\xff\xfe", b'{"message_type": "ping", "x": "\xc3\x28"}',
                                  b'{"message_type": "ping", "x": "\xed\xa0\x80"}',
                                  b"\xf8\x88\x80\x80\x80"],
                         ids=["ff-fe", "bad-continuation", "surrogate", "five-byte"])
def test_invalid_utf8_closes_with_1007(server, user, data):
    s = connect(server, user["access"])
    s.send_raw_text(data)
    assert s.wait_closed() == 1007


@pytest.mark.parametrize("size", [65537, 1 << 20])
def test_frames_over_64_kib_close_with_1009(server, user, size):
    s = connect(server, user["access"])
    s.send_text(json.dumps({"message_type": "ping", "pad": "x" * size}))
    assert s.wait_closed() == 1009
    # The user's other sockets are unaffected.
    t = connect(server, user["access"])
    t.ping()
    t.close()
