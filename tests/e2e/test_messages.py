"""Messages (API.md §6): post (both forms), list, direct_messages, retrieve, edit, delete,
reactions, pins, pagination (§0.11), limits (§0.8), idempotency and the messages rate bucket
(§0.9), with every listed error body."""
import time

import pytest

from support.client import (NOT_AUTHENTICATED, NOT_FOUND, TIMESTAMP, api, assert_401,
                            assert_json, register)
from support.teams import (CHANNELS, FORBIDDEN, TEAMS, add_member, create_channel, create_team,
                           db_exec, dm, public, team_with)

MESSAGES = "/api/chat/messages/"
DIRECT = f"{MESSAGES}direct_messages/"
MESSAGE_KEYS = {"id", "sender", "sender_id", "content", "channel", "reply_to", "reactions",
                "link_preview", "created_at", "is_edited", "edited_at", "is_pinned",
                "is_forwarded", "attachments"}
NOT_CHANNEL_MEMBER = {"error": "You are not a member of this channel.", "code": "invalid"}
PARTNER_LEFT = {"error": "The other participant is no longer a member of this team.",
                "code": "permission_denied"}
LEGACY_FORBIDDEN = {"Error": "You can only delete your messages", "code": "permission_denied"}
EDIT_FORBIDDEN = {"error": "You can only edit your own messages", "code": "permission_denied"}
NEW_CONTENT_REQUIRED = {"error": "New content is required", "code": "required"}
REACTION_REQUIRED = {"error": "Reaction is required.", "code": "required"}
REACTION_INVALID = {"error": "Reaction must be a string of 1 to 64 characters.", "code": "invalid"}
NO_REACTION = {"error": "No reaction to remove for this user.", "code": "no_reaction"}
REQUIRED = ["This field is required."]
BLANK = ["This field may not be blank."]
TOO_LONG = ["Ensure this field has no more than 10000 characters."]


def invalid_pk(value) -> list:
    return [f"Invalid pk \"{value}\" - object does not exist."]


@pytest.fixture
def world(server):
    """alice owns Acme with bob and carol, and created #general; dave is outside."""
    alice, bob, carol, dave = (register(server) for _ in range(4))
    t = team_with(server, alice, bob, carol)
    general = create_channel(server, alice, t["id"])
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "team": t,
            "general": general}


def post(server, user, channel_id, content="hello", **extra) -> dict:
    r = api(server, user["access"]).post(MESSAGES, json={"channel": channel_id,
                                                         "content": content, **extra})
    return assert_json(r, 201)


def get(server, user, message_id) -> dict:
    return assert_json(api(server, user["access"]).get(f"{MESSAGES}{message_id}/"), 200)


def listed(server, user, path) -> list:
    return [m["id"] for m in assert_json(api(server, user["access"]).get(path), 200)]


# --- post, retrieve ------------------------------------------------------------------------------

def test_post_and_retrieve_rest_shape(server, world):
    alice, general = world["alice"], world["general"]
    m = post(server, alice, general["id"], "Hello team")
    assert set(m) == MESSAGE_KEYS
    assert TIMESTAMP.match(m["created_at"])
    assert m == {"id": m["id"], "sender": public(alice), "sender_id": alice["id"],
                 "content": "Hello team", "channel": general["id"], "reply_to": None,
                 "reactions": {}, "link_preview": None, "created_at": m["created_at"],
                 "is_edited": False, "edited_at": None, "is_pinned": False,
                 "is_forwarded": False, "attachments": []}
    for path in (f"{MESSAGES}{m['id']}/", f"{MESSAGES}{m['id']}"):
        assert assert_json(api(server, world["bob"]["access"]).get(path), 200) == m
    # Content is never trimmed; a string channel id is an id (§0.4).
    m2 = post(server, alice, str(general["id"]), "  padded\n")
    assert m2["content"] == "  padded\n" and m2["channel"] == general["id"]


def test_get_invisible_or_unknown_is_404(server, world):
    m = post(server, world["alice"], world["general"]["id"])
    dave = api(server, world["dave"]["access"])
    assert_json(dave.get(f"{MESSAGES}{m['id']}/"), 404, NOT_FOUND)
    assert_json(dave.get(f"{MESSAGES}999999999/"), 404, NOT_FOUND)
    assert_json(dave.get(f"{MESSAGES}abc/"), 404, NOT_FOUND)


@pytest.mark.parametrize("body, errors", [
    ({}, {"channel": REQUIRED, "content": REQUIRED}),
    ({"content": "x"}, {"channel": REQUIRED}),
    ({"channel": None, "content": "x"}, {"channel": ["This field may not be null."]}),
    ({"channel": 999999999, "content": "x"}, {"channel": invalid_pk(999999999)}),
    ({"channel": "abc", "content": "x"},
     {"channel": ["Incorrect type. Expected pk value, received str."]}),
    ({"channel": 0, "content": "x"}, {"channel": invalid_pk(0)}),
    ({"channel": True, "content": "x"},
     {"channel": ["Incorrect type. Expected pk value, received bool."]}),
    ({"channel": 999999999, "content": ""},
     {"channel": invalid_pk(999999999), "content": BLANK}),
])
def test_post_channel_errors(server, world, body, errors):
    r = api(server, world["alice"]["access"]).post(MESSAGES, json=body)
    assert_json(r, 400, errors)


def test_post_in_invisible_channel(server, world):
    other = create_team(server, world["dave"], name="Other")
    hidden = create_channel(server, world["dave"], other["id"], name="hidden")
    r = api(server, world["alice"]["access"]).post(MESSAGES, json={"channel": hidden["id"],
                                                                   "content": "x"})
    assert_json(r, 400, NOT_CHANNEL_MEMBER)
    # The existence check comes first, and validation only after visibility.
    r = api(server, world["alice"]["access"]).post(MESSAGES, json={"channel": hidden["id"],
                                                                   "content": ""})
    assert_json(r, 400, NOT_CHANNEL_MEMBER)


@pytest.mark.parametrize("extra, errors", [
    ({"content": ""}, {"content": BLANK}),
    ({"content": " \n\t "}, {"content": BLANK}),
    ({"content": None}, {"content": ["This field may not be null."]}),
    ({"content": 5}, {"content": ["Not a valid string."]}),
    ({"content": ["x"]}, {"content": ["Not a valid string."]}),
    ({"content": "a\u0000b"}, {"content": ["Null characters are not allowed."]}),
    ({"content": "é" * 10001}, {"content": TOO_LONG}),
    ({"reply_to": 999999999}, {"reply_to": invalid_pk(999999999)}),
    ({"reply_to": "x"}, {"reply_to": ["Incorrect type. Expected pk value, received str."]}),
    ({"link_preview": "https://example.com"},
     {"link_preview": ["Expected a dictionary of items but got type \"str\"."]}),
    ({"link_preview": {"url": "ftp://example.com"}},
     {"link_preview": ["Enter a valid http or https URL."]}),
    ({"link_preview": {"title": "no url"}}, {"link_preview": ["Enter a valid http or https URL."]}),
    ({"link_preview": {"url": "https://e.com", "image": "javascript:alert(1)"}},
     {"link_preview": ["Enter a valid http or https URL."]}),
    ({"link_preview": {"url": "https://e.com/" + "a" * 2048}},
     {"link_preview": ["Enter a valid http or https URL."]}),
    ({"link_preview": {"url": "https://e.com", "title": "t" * 301}},
     {"link_preview": ["Ensure title has no more than 300 characters."]}),
    ({"file_ids": [5]}, {"file_ids": ["Invalid file id 5."]}),
    ({"fileIds": [7], "content": ""}, {"fileIds": ["Invalid file id 7."]}),
    ({"file_ids": "5"}, {"file_ids": ["Expected a list of items but got type \"str\"."]}),
    ({"file_ids": list(range(1, 12))},
     {"file_ids": ["Ensure this field has no more than 10 elements."]}),
    ({"content": "", "reply_to": 999999999},
     {"content": BLANK, "reply_to": invalid_pk(999999999)}),
])
def test_post_field_errors(server, world, extra, errors):
    body = {"channel": world["general"]["id"], "content": "x", **extra}
    r = api(server, world["alice"]["access"]).post(MESSAGES, json=body)
    assert_json(r, 400, errors)
    assert listed(server, world["alice"], f"{CHANNELS}{world['general']['id']}/messages/") == []


def test_content_limit_counts_code_points(server, world):
    m = post(server, world["alice"], world["general"]["id"], "👍" * 10000)
    assert len(m["content"]) == 10000


def test_link_preview_is_validated_and_normalized(server, world):
    preview = {"url": "https://example.com/post", "title": "A post", "extra": "dropped"}
    m = post(server, world["alice"], world["general"]["id"], "see", link_preview=preview)
    expected = {"url": "https://example.com/post", "title": "A post", "description": None,
                "image": None, "site_name": None}
    assert m["link_preview"] == expected
    assert get(server, world["bob"], m["id"])["link_preview"] == expected


def test_message_type_choices(server, world):
    a = api(server, world["alice"]["access"])
    for bad, shown in (("x", "x"), (5, "5"), (True, "True")):
        r = a.post(MESSAGES, json={"message_type": bad, "channel": world["general"]["id"],
                                   "content": "x"})
        assert_json(r, 400, {"message_type": [f"\"{shown}\" is not a valid choice."]})
    r = a.post(MESSAGES, json={"message_type": "channels", "channel": world["general"]["id"],
                               "content": "x"})
    m = assert_json(r, 201)
    assert m["message_type"] == "channels" and m["recipient"] is None
    assert set(m) == MESSAGE_KEYS | {"message_type", "recipient"}


def test_replies_stay_in_their_channel(server, world):
    alice, bob = world["alice"], world["bob"]
    random = create_channel(server, alice, world["team"]["id"], name="random")
    first = post(server, bob, world["general"]["id"], "first")
    reply = post(server, alice, world["general"]["id"], "re", reply_to=first["id"])
    assert reply["reply_to"] == first["id"]
    r = api(server, alice["access"]).post(MESSAGES, json={"channel": random["id"], "content": "x",
                                                          "reply_to": first["id"]})
    assert_json(r, 400, {"reply_to": invalid_pk(first["id"])})
    # Deleting the original nulls the reply's reply_to (§1.4).
    assert api(server, bob["access"]).delete(f"{MESSAGES}{first['id']}/").status_code == 204
    assert get(server, alice, reply["id"])["reply_to"] is None


def test_staff_posts_only_where_a_team_member(server, world, staff):
    r = api(server, staff["access"]).post(MESSAGES, json={"channel": world["general"]["id"],
                                                          "content": "x"})
    assert_json(r, 400, {"error": "You are not a member of this team.",
                         "code": "not_team_member"})
    # Staff read every message (§1.2).
    m = post(server, world["alice"], world["general"]["id"])
    assert get(server, staff, m["id"]) == m


# --- direct form (§6.3) -------------------------------------------------------------------------

def direct(server, user, body):
    return api(server, user["access"]).post(MESSAGES, json={"message_type": "direct", **body})


def test_direct_form_creates_then_reuses_the_dm(server, world):
    alice, bob = world["alice"], world["bob"]
    m = assert_json(direct(server, alice, {"recipient": bob["id"], "content": "Hey!"}), 201)
    assert set(m) == MESSAGE_KEYS | {"message_type", "recipient"}
    assert m["message_type"] == "direct" and m["recipient"] == public(bob)
    assert m["sender"] == public(alice) and m["content"] == "Hey!"
    ch = assert_json(api(server, alice["access"]).get(f"{CHANNELS}{m['channel']}/"), 200)
    assert ch["channel_type"] == "direct" and ch["name"] == f"DM: {alice['username']} and {bob['username']}"
    assert ch["team"] == world["team"]["id"] and ch["created_by"] == alice["id"]
    # The DM is the one create_or_get_dm_channel answers, and the next send reuses it.
    assert dm(server, bob, world["team"]["id"], alice)["id"] == m["channel"]
    again = assert_json(direct(server, bob, {"recipient": str(alice["id"]), "content": "Yo"}), 201)
    assert again["channel"] == m["channel"] and again["recipient"] == public(alice)


def test_direct_form_team_selection(server, world):
    alice, bob = world["alice"], world["bob"]
    t1 = world["team"]
    t2 = team_with(server, alice, bob, name="Second")
    # Only t2 has their DM: without team_id it is chosen over the lower-id t1.
    existing = dm(server, alice, t2["id"], bob)
    m = assert_json(direct(server, alice, {"recipient": bob["id"], "content": "a"}), 201)
    assert m["channel"] == existing["id"]
    # team_id picks the team, creating its DM there.
    m1 = assert_json(direct(server, alice, {"recipient": bob["id"], "content": "b",
                                            "team_id": t1["id"]}), 201)
    ch = assert_json(api(server, alice["access"]).get(f"{CHANNELS}{m1['channel']}/"), 200)
    assert ch["team"] == t1["id"] and m1["channel"] != existing["id"]
    # With no DM anywhere, the lowest-id shared team gets one.
    carol = world["carol"]
    t3 = team_with(server, carol, alice, name="Third")
    m3 = assert_json(direct(server, carol, {"recipient": alice["id"], "content": "c"}), 201)
    ch3 = assert_json(api(server, carol["access"]).get(f"{CHANNELS}{m3['channel']}/"), 200)
    assert ch3["team"] == min(t1["id"], t3["id"]) == t1["id"]


def test_direct_form_errors(server, world, staff):
    alice, bob, dave = world["alice"], world["bob"], world["dave"]
    cases = [
        ({"content": "x"}, {"recipient": REQUIRED}),
        ({"recipient": alice["id"], "content": "x"},
         {"recipient": ["You cannot send a message to yourself."]}),
        ({"recipient": 999999999, "content": "x"}, {"recipient": invalid_pk(999999999)}),
        ({"recipient": dave["id"], "content": "x"}, {"recipient": invalid_pk(dave["id"])}),
        ({"recipient": "x", "content": "x"},
         {"recipient": ["Incorrect type. Expected pk value, received str."]}),
        ({"recipient": bob["id"], "content": ""}, {"content": BLANK}),
        ({"recipient": bob["id"], "content": "x", "team_id": 999999999},
         {"team_id": invalid_pk(999999999)}),
    ]
    other = create_team(server, dave, name="Dave's")
    cases.append(({"recipient": bob["id"], "content": "x", "team_id": other["id"]},
                  {"team_id": invalid_pk(other["id"])}))
    mine = create_team(server, alice, name="Alone")
    cases.append(({"recipient": bob["id"], "content": "x", "team_id": mine["id"]},
                  {"recipient": invalid_pk(bob["id"])}))
    for body, errors in cases:
        assert_json(direct(server, alice, body), 400, errors)
    # Inactive users cannot be written to.
    db_exec(server, "UPDATE users SET is_active = false WHERE id = ?", (bob["id"],))
    assert_json(direct(server, alice, {"recipient": bob["id"], "content": "x"}), 400,
                {"recipient": invalid_pk(bob["id"])})


def test_dm_partner_left(server, world):
    alice, bob = world["alice"], world["bob"]
    ch = dm(server, alice, world["team"]["id"], bob)
    m = post(server, bob, ch["id"], "bye")
    r = api(server, bob["access"]).post(f"{TEAMS}{world['team']['id']}/leave/")
    assert r.status_code == 200, r.text
    r = api(server, alice["access"]).post(MESSAGES, json={"channel": ch["id"], "content": "x"})
    assert_json(r, 403, PARTNER_LEFT)
    # alice still reads the history; bob no longer sees the channel.
    assert listed(server, alice, f"{CHANNELS}{ch['id']}/messages/") == [m["id"]]
    r = api(server, bob["access"]).post(MESSAGES, json={"channel": ch["id"], "content": "x"})
    assert_json(r, 400, NOT_CHANNEL_MEMBER)


# --- lists ----------------------------------------------------------------------------------------

def test_list_all_is_scoped_to_visible_channels(server, world):
    alice, bob, dave = world["alice"], world["bob"], world["dave"]
    g = post(server, alice, world["general"]["id"])
    ch = dm(server, alice, world["team"]["id"], bob)
    d = post(server, bob, ch["id"])
    other = create_team(server, dave, name="Other")
    hidden = create_channel(server, dave, other["id"])
    h = post(server, dave, hidden["id"])
    assert listed(server, alice, MESSAGES) == [g["id"], d["id"]]
    assert listed(server, world["carol"], MESSAGES) == [g["id"]]
    assert listed(server, dave, MESSAGES) == [h["id"]]
    assert listed(server, register(server), MESSAGES) == []


def test_direct_messages(server, world):
    alice, bob, carol = world["alice"], world["bob"], world["carol"]
    t2 = team_with(server, alice, bob, name="Second")
    c1 = dm(server, alice, world["team"]["id"], bob)
    c2 = dm(server, bob, t2["id"], alice)
    m1 = post(server, alice, c1["id"], "one")
    m2 = post(server, bob, c2["id"], "two")
    m3 = post(server, bob, c1["id"], "three")
    post(server, alice, world["general"]["id"], "group")
    assert listed(server, alice, f"{DIRECT}?user_id={bob['id']}") == [m1["id"], m2["id"], m3["id"]]
    assert listed(server, bob, f"{DIRECT}?user_id={alice['id']}&team_id={t2['id']}") == [m2["id"]]
    assert listed(server, alice, f"{DIRECT}?user_id={carol['id']}") == []
    assert listed(server, carol, f"{DIRECT}?user_id={bob['id']}") == []
    assert listed(server, alice, f"{DIRECT}?user_id={bob['id']}&limit=1") == [m3["id"]]
    a = api(server, alice["access"])
    assert_json(a.get(DIRECT), 400, {"error": "user_id is required", "code": "required"})
    assert_json(a.get(f"{DIRECT}?user_id="), 400, {"error": "user_id is required",
                                                   "code": "required"})
    assert_json(a.get(f"{DIRECT}?user_id=abc"), 400,
                {"error": "user_id must be a positive integer", "code": "invalid"})
    assert_json(a.get(f"{DIRECT}?user_id={bob['id']}&team_id=x"), 400,
                {"error": "team_id must be a positive integer", "code": "invalid"})
    assert_json(a.get(f"{DIRECT}?user_id=999999999"), 404, NOT_FOUND)
    assert_json(a.get(f"{DIRECT}?user_id={bob['id']}&limit=0"), 400,
                {"limit": ["Ensure this value is greater than or equal to 1."]})


# --- pagination (§0.11) ---------------------------------------------------------------------------

def test_channel_pages_and_link_header(server, world):
    alice, cid = world["alice"], world["general"]["id"]
    ids = [post(server, alice, cid, f"m{i}")["id"] for i in range(5)]
    base = f"{server.base_url}/api/chat/channels/{cid}/messages/"
    a = api(server, alice["access"])

    def page(query):
        r = a.get(f"/api/chat/channels/{cid}/messages/{query}")
        return [m["id"] for m in assert_json(r, 200)], r.headers.get("Link")

    assert page("") == (ids, None)
    assert page("?limit=2") == (ids[3:], f'<{base}?limit=2&before={ids[3]}>; rel="next"')
    assert page(f"?limit=2&before={ids[3]}") == (ids[1:3],
                                                 f'<{base}?limit=2&before={ids[1]}>; rel="next"')
    assert page(f"?limit=2&before={ids[1]}") == (ids[:1], None)
    assert page(f"?after={ids[0]}&limit=2") == (ids[1:3],
                                                f'<{base}?limit=2&after={ids[2]}>; rel="next"')
    assert page(f"?after={ids[2]}&limit=2") == (ids[3:], None)
    assert page(f"?after={ids[0]}&before={ids[4]}&limit=2") == (
        ids[1:3], f'<{base}?limit=2&before={ids[4]}&after={ids[2]}>; rel="next"')
    assert page(f"?after={ids[0]}&before={ids[4]}&limit=3") == (ids[1:4], None)
    # Other parameters are kept; the effective limit is always carried (§13.3).
    assert page(f"?foo=bar&before={ids[4]}&limit=3") == (
        ids[1:4], f'<{base}?foo=bar&limit=3&before={ids[1]}>; rel="next"')
    assert page("?limit=1000") == (ids, None)
    # The slashless form keeps its own path.
    r = a.get(f"/api/chat/channels/{cid}/messages?limit=4")
    assert r.headers["Link"] == (f'<{server.base_url}/api/chat/channels/{cid}/messages'
                                 f'?limit=4&before={ids[1]}>; rel="next"')


def test_default_page_is_the_newest_hundred(server, world):
    alice, cid = world["alice"], world["general"]["id"]
    ids = [post(server, alice, cid, f"m{i}")["id"] for i in range(101)]
    r = api(server, alice["access"]).get(f"{MESSAGES}")
    got = [m["id"] for m in assert_json(r, 200)]
    assert got == ids[1:]
    assert r.headers["Link"] == (f'<{server.base_url}/api/chat/messages/'
                                 f'?limit=100&before={ids[1]}>; rel="next"')


@pytest.mark.parametrize("query, errors", [
    ("limit=0", {"limit": ["Ensure this value is greater than or equal to 1."]}),
    ("limit=-3", {"limit": ["Ensure this value is greater than or equal to 1."]}),
    ("limit=1001", {"limit": ["Ensure this value is less than or equal to 1000."]}),
    ("limit=abc", {"limit": ["A valid integer is required."]}),
    ("limit=", {"limit": ["A valid integer is required."]}),
    ("limit=1.5", {"limit": ["A valid integer is required."]}),
    ("before=abc", {"before": ["A valid integer is required."]}),
    ("after=x&before=y", {"before": ["A valid integer is required."],
                          "after": ["A valid integer is required."]}),
    ("before=0", {"before": ["Ensure this value is greater than or equal to 1."]}),
])
def test_invalid_page_parameters(server, world, query, errors):
    a = api(server, world["alice"]["access"])
    for path in (f"{CHANNELS}{world['general']['id']}/messages/", MESSAGES,
                 f"{DIRECT}?user_id={world['bob']['id']}&"):
        sep = "" if path.endswith("&") else "?"
        assert_json(a.get(f"{path}{sep}{query}"), 400, errors)


def test_channel_messages_of_invisible_channel_is_404(server, world):
    r = api(server, world["dave"]["access"]).get(
        f"{CHANNELS}{world['general']['id']}/messages/?limit=0")
    assert_json(r, 404, NOT_FOUND)


def test_link_uses_public_url(fresh_server):
    srv = fresh_server(env={"PARLEY_PUBLIC_URL": "https://chat.example.com/"})
    alice = register(srv)
    t = create_team(srv, alice)
    ch = create_channel(srv, alice, t["id"])
    ids = [post(srv, alice, ch["id"])["id"] for _ in range(2)]
    r = api(srv, alice["access"]).get(f"{CHANNELS}{ch['id']}/messages/?limit=1")
    assert r.headers["Link"] == (f'<https://chat.example.com/api/chat/channels/{ch["id"]}'
                                 f'/messages/?limit=1&before={ids[1]}>; rel="next"')


# --- edits (§6.5, §6.9) ---------------------------------------------------------------------------

def edit_history(server, message_id) -> list:
    """The stored history as (content, edited_at µs), oldest first."""
    rows = db_exec(server, "SELECT content, edited_at FROM message_edits WHERE message_id = ? "
                           "ORDER BY id", (message_id,))
    return [(c, int(t)) for c, t in rows]


def micros(ts: str) -> int:
    """§0.5 timestamp → microseconds since the epoch."""
    from datetime import datetime, timezone
    dt = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def test_patch_put_and_edit_history(server, world):
    alice, bob = world["alice"], world["bob"]
    m = post(server, alice, world["general"]["id"], "Hello team")
    a = api(server, alice["access"])
    # Unchanged content is not an edit.
    same = assert_json(a.patch(f"{MESSAGES}{m['id']}/", json={"content": "Hello team"}), 200)
    assert same == m and edit_history(server, m["id"]) == []
    e1 = assert_json(a.patch(f"{MESSAGES}{m['id']}/", json={"content": "Hello, team",
                                                            "channel": 999, "is_pinned": True,
                                                            "reply_to": 5}), 200)
    assert e1["content"] == "Hello, team" and e1["is_edited"] is True
    assert TIMESTAMP.match(e1["edited_at"]) and e1["is_pinned"] is False
    assert e1["channel"] == m["channel"] and e1["reply_to"] is None
    e2 = assert_json(a.put(f"{MESSAGES}{m['id']}/edit_message/", json={"content": "Hello, team!"}),
                     200)
    assert e2["content"] == "Hello, team!" and e2["edited_at"] >= e1["edited_at"]
    # Each entry is the replaced content stamped with the time it was written (§6.9).
    assert edit_history(server, m["id"]) == [("Hello team", micros(m["created_at"])),
                                             ("Hello, team", micros(e1["edited_at"]))]
    # A preview change is an edit too; PUT requires content.
    e3 = assert_json(a.patch(f"{MESSAGES}{m['id']}/",
                             json={"link_preview": {"url": "http://example.com"}}), 200)
    assert e3["link_preview"]["url"] == "http://example.com" and e3["content"] == "Hello, team!"
    assert len(edit_history(server, m["id"])) == 3
    assert_json(a.put(f"{MESSAGES}{m['id']}/", json={"link_preview": None}), 400,
                {"content": REQUIRED})
    e4 = assert_json(a.put(f"{MESSAGES}{m['id']}/", json={"content": "v4", "link_preview": None}),
                     200)
    assert e4["link_preview"] is None and e4["content"] == "v4"
    assert get(server, bob, m["id"]) == e4


def test_edit_history_keeps_newest_hundred(server, world):
    alice = world["alice"]
    m = post(server, alice, world["general"]["id"], "v0")
    a = api(server, alice["access"])
    for i in range(1, 103):
        assert a.patch(f"{MESSAGES}{m['id']}/edit_message/", json={"content": f"v{i}"}).ok
    history = edit_history(server, m["id"])
    assert len(history) == 100
    assert history[0][0] == "v2" and history[-1][0] == "v101"


def test_edit_errors(server, world, staff):
    alice, bob = world["alice"], world["bob"]
    m = post(server, alice, world["general"]["id"], "mine")
    path = f"{MESSAGES}{m['id']}/"
    b = api(server, bob["access"])
    assert_json(b.patch(path, json={"content": "x"}), 403, FORBIDDEN)
    assert_json(b.put(path, json={"content": "x"}), 403, FORBIDDEN)
    assert_json(b.patch(f"{path}edit_message/", json={"content": "x"}), 403, EDIT_FORBIDDEN)
    assert_json(api(server, world["dave"]["access"]).patch(path, json={"content": "x"}), 404,
                NOT_FOUND)
    assert_json(api(server, world["dave"]["access"]).put(f"{path}edit_message/",
                                                         json={"content": "x"}), 404, NOT_FOUND)
    a = api(server, alice["access"])
    for body, errors in (({"content": ""}, {"content": BLANK}),
                         ({"content": None}, {"content": ["This field may not be null."]}),
                         ({"content": 5}, {"content": ["Not a valid string."]}),
                         ({"content": "x" * 10001}, {"content": TOO_LONG}),
                         ({"link_preview": "x"},
                          {"link_preview": ["Expected a dictionary of items but got type \"str\"."]}),
                         ({"link_preview": {"url": "nope"}},
                          {"link_preview": ["Enter a valid http or https URL."]})):
        assert_json(a.patch(path, json=body), 400, errors)
    for body in ({}, {"content": ""}, {"content": "  "}, {"content": None}, {"content": 5}):
        assert_json(a.patch(f"{path}edit_message/", json=body), 400, NEW_CONTENT_REQUIRED)
    assert_json(a.put(f"{path}edit_message/", json={"content": "x" * 10001}), 400,
                {"error": "Ensure this field has no more than 10000 characters.",
                 "code": "invalid"})
    assert get(server, alice, m["id"])["is_edited"] is False
    # Staff may edit anyone's message.
    s = assert_json(api(server, staff["access"]).patch(f"{path}edit_message/",
                                                        json={"content": "moderated"}), 200)
    assert s["content"] == "moderated"


# --- delete (§6.6, §6.7) --------------------------------------------------------------------------

def test_delete_rules(server, world, staff):
    alice, bob, carol, dave = world["alice"], world["bob"], world["carol"], world["dave"]
    cid = world["general"]["id"]
    m = post(server, bob, cid, "bob's")
    path = f"{MESSAGES}{m['id']}/"
    assert_json(api(server, carol["access"]).delete(path), 403, FORBIDDEN)
    assert_json(api(server, carol["access"]).delete(f"{path}delete_message/"), 403,
                LEGACY_FORBIDDEN)
    assert_json(api(server, dave["access"]).delete(path), 404, NOT_FOUND)
    assert_json(api(server, dave["access"]).delete(f"{path}delete_message/"), 404, NOT_FOUND)
    r = api(server, alice["access"]).delete(path)  # the team owner moderates group channels
    assert r.status_code == 204 and r.content == b""
    assert_json(api(server, bob["access"]).get(path), 404, NOT_FOUND)

    own = post(server, bob, cid, "own")
    assert_json(api(server, bob["access"]).delete(f"{MESSAGES}{own['id']}/delete_message/"), 200,
                {"Message": "Message deleted Successfully"})
    by_staff = post(server, bob, cid, "staff")
    assert api(server, staff["access"]).delete(f"{MESSAGES}{by_staff['id']}/").status_code == 204
    assert listed(server, bob, f"{CHANNELS}{cid}/messages/") == []

    # Owner moderation covers group channels only.
    ch = dm(server, alice, world["team"]["id"], bob)
    d = post(server, bob, ch["id"], "dm")
    assert_json(api(server, alice["access"]).delete(f"{MESSAGES}{d['id']}/"), 403, FORBIDDEN)
    assert api(server, bob["access"]).delete(f"{MESSAGES}{d['id']}/").status_code == 204


def test_deleting_a_pinned_message_takes_its_pin(server, world):
    alice, cid = world["alice"], world["general"]["id"]
    m = post(server, alice, cid)
    assert_json(api(server, alice["access"]).post(f"{MESSAGES}{m['id']}/pin/"), 200)
    assert api(server, alice["access"]).delete(f"{MESSAGES}{m['id']}/").status_code == 204
    n = post(server, alice, cid)
    assert get(server, alice, n["id"])["is_pinned"] is False


# --- reactions (§6.8) -----------------------------------------------------------------------------

def test_react_and_remove(server, world):
    alice, bob, carol = world["alice"], world["bob"], world["carol"]
    m = post(server, alice, world["general"]["id"])
    path = f"{MESSAGES}{m['id']}/"
    b = api(server, bob["access"])
    assert_json(b.post(f"{path}react/", json={"reaction": "👍"}), 200,
                {"message_id": m["id"], "reactions": {bob["username"]: "👍"},
                 "updated_by": bob["username"], "reaction": "👍"})
    assert_json(b.post(f"{path}react/", json={"reaction": "🎉"}), 200,
                {"message_id": m["id"], "reactions": {bob["username"]: "🎉"},
                 "updated_by": bob["username"], "reaction": "🎉"})
    assert_json(b.post(f"{path}react/", json={"reaction": "🎉"}), 200)  # unchanged: no event
    assert_json(api(server, carol["access"]).post(f"{path}react/", json={"reaction": "x"}), 200)
    assert get(server, alice, m["id"])["reactions"] == {bob["username"]: "🎉",
                                                        carol["username"]: "x"}
    assert_json(b.delete(f"{path}remove_reaction/"), 200,
                {"message_id": m["id"], "reactions": {carol["username"]: "x"},
                 "updated_by": bob["username"]})
    assert_json(b.delete(f"{path}remove_reaction/"), 400, NO_REACTION)
    assert get(server, alice, m["id"])["reactions"] == {carol["username"]: "x"}


@pytest.mark.parametrize("body, error", [
    ({}, REACTION_REQUIRED),
    ({"reaction": None}, REACTION_REQUIRED),
    ({"reaction": ""}, REACTION_REQUIRED),
    ({"reaction": "x" * 65}, REACTION_INVALID),
    ({"reaction": 5}, REACTION_INVALID),
    ({"reaction": ["👍"]}, REACTION_INVALID),
    ({"reaction": "a\nb"}, REACTION_INVALID),
    ({"reaction": "\u0000"}, REACTION_INVALID),
])
def test_react_errors(server, world, body, error):
    m = post(server, world["alice"], world["general"]["id"])
    r = api(server, world["bob"]["access"]).post(f"{MESSAGES}{m['id']}/react/", json=body)
    assert_json(r, 400, error)


def test_reaction_limits_count_code_points(server, world):
    m = post(server, world["alice"], world["general"]["id"])
    r = api(server, world["bob"]["access"]).post(f"{MESSAGES}{m['id']}/react/",
                                                 json={"reaction": "👍" * 64})
    assert assert_json(r, 200)["reaction"] == "👍" * 64


def test_reactions_need_visibility(server, world):
    m = post(server, world["alice"], world["general"]["id"])
    d = api(server, world["dave"]["access"])
    assert_json(d.post(f"{MESSAGES}{m['id']}/react/", json={"reaction": "x"}), 404, NOT_FOUND)
    assert_json(d.post(f"{MESSAGES}{m['id']}/react/", json={}), 404, NOT_FOUND)
    assert_json(d.delete(f"{MESSAGES}{m['id']}/remove_reaction/"), 404, NOT_FOUND)


# --- pins (§6.10) ---------------------------------------------------------------------------------

def test_one_pin_per_channel(server, world):
    alice, bob, cid = world["alice"], world["bob"], world["general"]["id"]
    random = create_channel(server, alice, world["team"]["id"], name="random")
    m1, m2 = post(server, alice, cid, "1"), post(server, bob, cid, "2")
    other = post(server, alice, random["id"], "other")
    b = api(server, bob["access"])
    assert assert_json(b.post(f"{MESSAGES}{other['id']}/pin/"), 200)["is_pinned"] is True
    p1 = assert_json(b.post(f"{MESSAGES}{m1['id']}/pin/"), 200)
    assert p1 == {**m1, "is_pinned": True}
    assert assert_json(b.post(f"{MESSAGES}{m2['id']}/pin/"), 200)["is_pinned"] is True
    assert get(server, alice, m1["id"])["is_pinned"] is False
    assert get(server, alice, other["id"])["is_pinned"] is True  # other channels keep theirs
    assert assert_json(b.post(f"{MESSAGES}{m2['id']}/pin/"), 200)["is_pinned"] is True
    assert assert_json(b.post(f"{MESSAGES}{m2['id']}/unpin/"), 200)["is_pinned"] is False
    assert assert_json(b.post(f"{MESSAGES}{m2['id']}/unpin/"), 200)["is_pinned"] is False
    assert assert_json(b.post(f"{MESSAGES}{m1['id']}/unpin/"), 200)["is_pinned"] is False
    pinned = [m["id"] for m in assert_json(b.get(f"{CHANNELS}{cid}/messages/"), 200)
              if m["is_pinned"]]
    assert pinned == []
    d = api(server, world["dave"]["access"])
    assert_json(d.post(f"{MESSAGES}{m1['id']}/pin/"), 404, NOT_FOUND)
    assert_json(d.post(f"{MESSAGES}{m1['id']}/unpin/"), 404, NOT_FOUND)


# --- idempotency (§6.3) and the messages bucket (§0.9) -------------------------------------------

def test_idempotency_key(server, world):
    alice, bob, cid = world["alice"], world["bob"], world["general"]["id"]
    a = api(server, alice["access"])
    body = {"channel": cid, "content": "once"}
    first = assert_json(a.post(MESSAGES, json=body, headers={"Idempotency-Key": "k-1.x_Y"}), 201)
    again = assert_json(a.post(MESSAGES, json={"channel": cid, "content": "other"},
                               headers={"Idempotency-Key": "k-1.x_Y"}), 201)
    assert again == first
    # Another user's identical key is theirs; a new key creates.
    theirs = assert_json(api(server, bob["access"]).post(
        MESSAGES, json=body, headers={"Idempotency-Key": "k-1.x_Y"}), 201)
    fresh = assert_json(a.post(MESSAGES, json=body, headers={"Idempotency-Key": "k-2"}), 201)
    assert listed(server, alice, f"{CHANNELS}{cid}/messages/") == [first["id"], theirs["id"],
                                                                    fresh["id"]]
    # A failed request does not consume its key.
    r = a.post(MESSAGES, json={"channel": cid, "content": ""}, headers={"Idempotency-Key": "k-3"})
    assert_json(r, 400)
    ok = assert_json(a.post(MESSAGES, json=body, headers={"Idempotency-Key": "k-3"}), 201)
    assert ok["content"] == "once"
    # The direct form shares the store and answers its own shape again.
    d1 = assert_json(a.post(MESSAGES, json={"message_type": "direct", "recipient": bob["id"],
                                            "content": "hi"}, headers={"Idempotency-Key": "d"}),
                     201)
    d2 = assert_json(a.post(MESSAGES, json={"message_type": "direct", "recipient": bob["id"],
                                            "content": "hi"}, headers={"Idempotency-Key": "d"}),
                     201)
    assert d1 == d2
    for bad in ("x" * 65, "a b", "ü"):
        r = a.post(MESSAGES, json=body, headers={"Idempotency-Key": bad.encode()})
        assert r.status_code == 400, r.text


def wait_for_fresh_window(margin_s=8):
    """Fixed windows align to the clock minute (§0.9): avoid starting near its end."""
    left = 60 - time.time() % 60
    if left < margin_s:
        time.sleep(left + 0.1)


def test_messages_rate_limit(fresh_server):
    srv = fresh_server(env={"PARLEY_RATE_MESSAGES": "3/min"})
    alice = register(srv)
    t = create_team(srv, alice)
    ch = create_channel(srv, alice, t["id"])
    a = api(srv, alice["access"])
    wait_for_fresh_window()
    m = post(srv, alice, ch["id"], "1")
    post(srv, alice, ch["id"], "2")
    # Refused requests do not count; edits do.
    assert_json(a.post(MESSAGES, json={"channel": ch["id"], "content": ""}), 400)
    assert_json(a.patch(f"{MESSAGES}{m['id']}/", json={"content": "edited"}), 200)
    r = a.post(MESSAGES, json={"channel": ch["id"], "content": "4"})
    body = assert_json(r, 429)
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 60
    unit = "second" if wait == 1 else "seconds"
    assert body == {"detail": f"Request was throttled. Expected available in {wait} {unit}.",
                    "code": "throttled"}
    assert_json(a.patch(f"{MESSAGES}{m['id']}/edit_message/", json={"content": "again"}), 429)
    # Reading, reacting and pinning are not in this bucket.
    assert_json(a.get(f"{CHANNELS}{ch['id']}/messages/"), 200)
    assert_json(a.post(f"{MESSAGES}{m['id']}/react/", json={"reaction": "x"}), 200)
    assert len(listed(srv, alice, f"{CHANNELS}{ch['id']}/messages/")) == 2


# --- authentication -------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("GET", MESSAGES), ("POST", MESSAGES), ("GET", DIRECT + "?user_id=1"),
    ("GET", f"{MESSAGES}1/"), ("PUT", f"{MESSAGES}1/"), ("PATCH", f"{MESSAGES}1/"),
    ("DELETE", f"{MESSAGES}1/"), ("DELETE", f"{MESSAGES}1/delete_message/"),
    ("POST", f"{MESSAGES}1/react/"), ("DELETE", f"{MESSAGES}1/remove_reaction/"),
    ("PUT", f"{MESSAGES}1/edit_message/"), ("PATCH", f"{MESSAGES}1/edit_message/"),
    ("POST", f"{MESSAGES}1/pin/"), ("POST", f"{MESSAGES}1/unpin/"),
    ("GET", f"{CHANNELS}1/messages/"),
])
def test_requires_authentication(server, method, path):
    assert_401(api(server).request(method, path), NOT_AUTHENTICATED)


def test_methods_not_allowed(server, user):
    a = api(server, user["access"])
    r = a.request("DELETE", MESSAGES)
    assert_json(r, 405, {"detail": "Method \"DELETE\" not allowed.", "code": "method_not_allowed"})
    assert r.headers["Allow"] == "GET, POST, OPTIONS"
    r = a.request("GET", f"{MESSAGES}1/react/")
    assert_json(r, 405)
    assert r.headers["Allow"] == "POST, OPTIONS"
    assert a.request("POST", f"{MESSAGES}1/edit_message/").headers["Allow"] == \
        "PUT, PATCH, OPTIONS"
