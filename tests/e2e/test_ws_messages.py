"""Every WebSocket request type of API.md §8.4 and every event of §8.5/§8.6, with exact key sets
and values: live messages, edits, deletes, reactions, pins, channel and membership events, team
notifications, typing, presence, acks (and `duplicate` on a repeated request_id), history
replies, resume, original-era aliases, REST-made changes arriving like WS-made ones, and offsets
contiguous per channel with a constant epoch (§8.8)."""
import time

import pytest

from support.client import TIMESTAMP, api, assert_json, register
from support.frames import (EPHEMERAL, EPOCH, MESSAGES, WS_MESSAGE_KEYS, World, assert_ack,
                            assert_error, assert_frame, history, live_message, post, user_ref,
                            ws_message_of)
from support.teams import (CHANNEL_KEYS, TEAM_KEYS, TEAMS, acquaint, create_channel, dm, invite, join,
                           members)
from support.ws import connect


def not_ephemeral(frames):
    return [f for f in frames if f.get("type") not in EPHEMERAL]


@pytest.fixture
def world(server):
    return World(server)


@pytest.fixture
def socks(server, world):
    """Open sockets of alice, bob and carol (closed after the test)."""
    opened = {}
    for name in ("alice", "bob", "carol"):
        opened[name] = connect(server, getattr(world, name)["access"], label=name)
    yield opened
    for s in opened.values():
        s.close()


# --- channel_message and the live message event (§8.4, §8.6) --------------------------------------

def test_channel_message_live_event_and_ack(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    ch = world.general["id"]
    a.send_json({"message_type": "channel_message", "channel": ch, "content": "Ship it",
                 "reply_to": None, "link_preview": None, "fileIds": [], "request_id": "a1"})
    got = a.recv_types(["channels", "ack"])
    live = live_message(got["channels"])
    assert_ack(got["ack"], "channel_message", "a1", message_id=live["id"], channel_id=ch,
               duplicate=False)
    assert live["offset"] == 1  # the channel's first stream frame
    expected = {"type": "channels", "message_type": "channels", "id": live["id"],
                "sender": world.alice["username"], "sender_id": world.alice["id"],
                "content": "Ship it", "timestamp": live["timestamp"], "channel_id": ch,
                "team_id": world.team["id"], "reply_to": None, "replied_message": None,
                "link_preview": None, "attachments": [], "reactions": {}, "is_forwarded": False,
                "is_pinned": False, "is_edited": False, "edited_at": None, "offset": 1,
                "epoch": live["epoch"]}
    assert live == expected
    assert TIMESTAMP.match(live["timestamp"])
    # Every member's sockets get the identical frame; carol too.
    assert b.recv_type("channels") == live
    assert socks["carol"].recv_type("channels") == live
    # The REST view of the same message.
    r = api(server, world.bob["access"]).get(f"{MESSAGES}{live['id']}/")
    rest = assert_json(r, 200)
    assert rest["created_at"] == live["timestamp"] and rest["content"] == "Ship it"


def test_channel_message_aliases_reply_and_silent_success(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    ch = world.general["id"]
    first = post(server, world.bob, ch, "original")
    b.recv_type("channels")
    a.recv_type("channels")
    # channel_id alias, numeric string id, team_id ignored (the event has the real team), no
    # request_id: no ack.
    a.send_json({"message_type": "channel_message", "channel_id": str(ch), "content": "reply",
                 "reply_to": str(first["id"]), "team_id": 999999, "file_ids": []})
    live = live_message(b.recv_type("channels"))
    assert (live["content"], live["reply_to"], live["replied_message"]) == (
        "reply", first["id"], "original")
    assert live["team_id"] == world.team["id"]
    mine = a.recv_type("channels")
    assert mine == live
    assert [f for f in not_ephemeral(a.frames(0.4)) if f["type"] == "ack"] == []


def test_request_id_repeat_is_acked_as_duplicate_and_not_broadcast(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    ch = world.general["id"]
    for rid in ("dup-1", 42):
        frame = {"message_type": "channel_message", "channel": ch, "content": f"once {rid}",
                 "request_id": rid}
        a.send_json(frame)
        first = a.recv_types(["ack", "channels"])
        assert_ack(first["ack"], "channel_message", rid, message_id=first["channels"]["id"],
                   channel_id=ch, duplicate=False)
        assert b.recv_type("channels")["id"] == first["channels"]["id"]
        a.send_json(frame)
        again = a.recv_type("ack")
        assert_ack(again, "channel_message", rid, message_id=first["channels"]["id"],
                   channel_id=ch, duplicate=True)
        assert [f for f in not_ephemeral(b.frames(0.5)) if f["type"] == "channels"] == []
    contents = [m["content"] for m in history(server, world.alice, ch)]
    assert contents == ["once dup-1", "once 42"]


def test_channel_message_into_a_dm_channel_is_direct(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    a.send_json({"message_type": "channel_message", "channel": world.dm_ab["id"],
                 "content": "into the dm"})
    live = live_message(b.recv_type("direct"), direct=True)
    assert live["recipient_id"] == world.bob["id"]
    assert a.recv_type("direct") == live
    assert [f for f in socks["carol"].frames(0.4) if f["type"] == "direct"] == []


# --- direct_message (§8.4) ------------------------------------------------------------------------

def test_direct_message_with_channel_and_recipient(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    dm_id = world.dm_ab["id"]
    a.send_json({"message_type": "direct_message", "recipient_id": world.bob["id"],
                 "channel_id": dm_id, "team_id": str(world.team["id"]), "content": "Hey!",
                 "reply_to": None, "link_preview": None, "fileIds": [], "request_id": "d1"})
    got = a.recv_types(["direct", "ack"])
    live = live_message(got["direct"], direct=True)
    assert_ack(got["ack"], "direct_message", "d1", message_id=live["id"], channel_id=dm_id,
               duplicate=False)
    assert (live["sender"], live["sender_id"], live["recipient_id"], live["channel_id"],
            live["team_id"], live["content"]) == (world.alice["username"], world.alice["id"],
                                                 world.bob["id"], dm_id, world.team["id"], "Hey!")
    assert b.recv_type("direct") == live
    # The recipient answers with the original-era `recipient` key and no channel.
    b.send_json({"message_type": "direct_message", "recipient": str(world.alice["id"]),
                 "content": "Hi back", "request_id": 7})
    back = live_message(b.recv_type("direct"), direct=True)
    assert (back["channel_id"], back["recipient_id"]) == (dm_id, world.alice["id"])
    assert_ack(b.recv_type("ack"), "direct_message", 7, message_id=back["id"], channel_id=dm_id,
               duplicate=False)
    assert a.recv_type("direct") == back
    assert [f for f in socks["carol"].frames(0.3) if f["type"] in ("direct", "channels")] == []


def test_direct_message_creates_the_dm_and_subscribes_both(server, world, socks):
    a, c = socks["alice"], socks["carol"]
    a.send_json({"message_type": "direct_message", "recipient_id": world.carol["id"],
                 "content": "new dm", "request_id": "nd"})
    created = c.recv_type("channel_created")
    channel = created["channel"]
    assert_frame(created, "channel_created")
    assert set(channel) == CHANNEL_KEYS | {"team_id"}
    assert channel["is_direct_message"] is True and channel["channel_type"] == "direct"
    assert channel["name"] == f"DM: {world.alice['username']} and {world.carol['username']}"
    assert (channel["team"], channel["team_id"], channel["created_by"]) == (
        world.team["id"], world.team["id"], world.alice["id"])
    assert channel["members"] == members(world.alice, world.carol)
    live = live_message(c.recv_type("direct"), direct=True)
    assert live["channel_id"] == channel["id"] and live["recipient_id"] == world.carol["id"]
    got = a.recv_types(["direct", "ack"])
    assert got["direct"] == live
    assert_ack(got["ack"], "direct_message", "nd", message_id=live["id"],
               channel_id=channel["id"], duplicate=False)
    # The creator gets no channel_created (§8.7); bob hears nothing of it.
    assert "channel_created" not in [f["type"] for f in a.frames(0.4)]
    assert [f for f in socks["bob"].frames(0.3) if f["type"] in ("channel_created", "direct")] == []
    # The new DM's later frames reach both participants.
    c.send_json({"message_type": "channel_message", "channel": channel["id"], "content": "yo"})
    assert a.recv_type("direct")["content"] == "yo"
    assert c.recv_type("direct")["content"] == "yo"


# --- forward_message (§8.4) -----------------------------------------------------------------------

def test_forward_message_and_its_dedupe(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    design = create_channel(server, world.alice, world.team["id"], name="design")
    a.recv_type("channel_created")
    b.recv_type("channel_created")
    targets = [world.general["id"], design["id"]]
    frame = {"message_type": "forward_message", "channels": targets, "content": "Ship it now",
             "request_id": "f1"}
    a.send_json(frame)
    lives = [live_message(a.recv_type("channels")), live_message(a.recv_type("channels"))]
    ack = a.recv_type("ack")
    by_channel = {f["channel_id"]: f for f in lives}
    ids = [by_channel[t]["id"] for t in targets]
    assert_ack(ack, "forward_message", "f1", message_ids=ids, channel_ids=targets,
               duplicate=False)
    for f in lives:
        assert f["is_forwarded"] is True and f["content"] == "Ship it now"
        assert (f["reply_to"], f["link_preview"], f["attachments"]) == (None, None, [])
    assert sorted(x["id"] for x in (b.recv_type("channels"), b.recv_type("channels"))) == sorted(ids)
    a.send_json(frame)
    assert_ack(a.recv_type("ack"), "forward_message", "f1", message_ids=ids, channel_ids=targets,
               duplicate=True)
    assert [f for f in b.frames(0.5) if f["type"] == "channels"] == []


def test_forward_message_checks_every_target_first(server, world, socks):
    a = socks["alice"]
    other_team = register(server)
    from support.teams import create_team
    foreign = create_channel(server, other_team, create_team(server, other_team)["id"])
    before = history(server, world.alice, world.general["id"])
    f = a.request({"message_type": "forward_message", "request_id": "bad",
                   "channels": [world.general["id"], foreign["id"]], "content": "x"})
    assert_error(f, "forward_message", "not_found", request_id="bad", field="channels",
                 error="Not found.", extra={"channel_id": foreign["id"]})
    assert history(server, world.alice, world.general["id"]) == before
    assert [x for x in socks["bob"].frames(0.3) if x["type"] == "channels"] == []


# --- edit, delete, reaction, pin (§8.4, §8.5, §6.9) -----------------------------------------------

def test_edit_message_frames_and_edit_history(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    ch = world.general["id"]
    a.send_json({"message_type": "channel_message", "channel": ch, "content": "Ship it"})
    created = a.recv_type("channels")
    b.recv_type("channels")
    a.send_json({"message_type": "edit_message", "message_id": created["id"],
                 "content": "Ship it now", "request_id": "e1"})
    got = a.recv_types(["message_edited", "ack"])
    e1 = assert_frame(got["message_edited"], "message_edited", message_id=created["id"],
                      channel_id=ch, content="Ship it now", link_preview=None, is_edited=True,
                      edit_history=[{"content": "Ship it", "edited_at": created["timestamp"]}])
    assert e1["offset"] == created["offset"] + 1 and e1["epoch"] == created["epoch"]
    assert TIMESTAMP.match(e1["edited_at"])
    assert_ack(got["ack"], "edit_message", "e1", message_id=created["id"])
    assert b.recv_type("message_edited") == e1
    # Second edit: the first edit's content stamped with its edited_at (§6.9).
    a.send_json({"message_type": "edit_message", "message_id": str(created["id"]),
                 "content": "Ship it later"})
    e2 = assert_frame(b.recv_type("message_edited"), "message_edited")
    assert e2["edit_history"] == [{"content": "Ship it", "edited_at": created["timestamp"]},
                                  {"content": "Ship it now", "edited_at": e1["edited_at"]}]
    assert e2["offset"] == e1["offset"] + 1
    # Same content again: nothing changes, nothing is published, still acked.
    a.send_json({"message_type": "edit_message", "message_id": created["id"],
                 "content": "Ship it later", "request_id": "same"})
    assert_ack(a.recv_type("ack"), "edit_message", "same", message_id=created["id"])
    assert [f for f in b.frames(0.4) if f["type"] == "message_edited"] == []
    r = api(server, world.alice["access"]).get(f"{MESSAGES}{created['id']}/")
    assert assert_json(r, 200)["content"] == "Ship it later"


def test_delete_message_frames(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    m = post(server, world.bob, world.general["id"], "bye")
    live = a.recv_type("channels")
    a.send_json({"message_type": "delete_message", "message_id": m["id"], "type": "whatever",
                 "request_id": "del"})
    got = a.recv_types(["message_deleted", "ack"])
    d = assert_frame(got["message_deleted"], "message_deleted", message_id=m["id"],
                     channel_id=world.general["id"], message_type="channel",
                     offset=live["offset"] + 1, epoch=live["epoch"])
    assert_ack(got["ack"], "delete_message", "del", message_id=m["id"])
    assert b.recv_type("message_deleted") == d
    # DM channel: message_type "direct".
    dm_msg = post(server, world.bob, world.dm_ab["id"], "secret")
    b.send_json({"message_type": "delete_message", "message_id": dm_msg["id"]})
    f = assert_frame(a.recv_type("message_deleted"), "message_deleted", message_id=dm_msg["id"],
                     channel_id=world.dm_ab["id"], message_type="direct")
    assert b.recv_type("message_deleted") == f
    r = api(server, world.alice["access"]).get(f"{MESSAGES}{m['id']}/")
    assert r.status_code == 404


def test_reaction_set_replace_remove(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    m = post(server, world.bob, world.general["id"], "react to me")
    a.recv_type("channels")
    b.recv_type("channels")
    a.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": "🚀",
                 "request_id": "r1"})
    got = a.recv_types(["reaction_update", "ack"])
    ru = assert_frame(got["reaction_update"], "reaction_update", message_id=m["id"],
                      channel_id=world.general["id"],
                      reactions={world.alice["username"]: "🚀"}, user_id=world.alice["id"],
                      username=world.alice["username"], reaction="🚀")
    assert_ack(got["ack"], "reaction", "r1", message_id=m["id"])
    assert b.recv_type("reaction_update") == ru
    b.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": "👍"})
    both = assert_frame(a.recv_type("reaction_update"), "reaction_update")
    assert b.recv_type("reaction_update") == both
    assert both["reactions"] == {world.alice["username"]: "🚀", world.bob["username"]: "👍"}
    assert (both["user_id"], both["reaction"]) == (world.bob["id"], "👍")
    # The same value again: no event.
    a.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": "🚀",
                 "request_id": "r2"})
    assert_ack(a.recv_type("ack"), "reaction", "r2", message_id=m["id"])
    assert [f for f in b.frames(0.4) if f["type"] == "reaction_update"] == []
    # null removes; "" when there is nothing to remove is silent (acked, no event).
    a.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": None})
    removed = assert_frame(b.recv_type("reaction_update"), "reaction_update", reaction=None,
                           reactions={world.bob["username"]: "👍"}, user_id=world.alice["id"])
    assert a.recv_type("reaction_update") == removed
    a.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": "",
                 "request_id": "r3"})
    assert_ack(a.recv_type("ack"), "reaction", "r3", message_id=m["id"])
    assert [f for f in b.frames(0.4) if f["type"] == "reaction_update"] == []
    r = api(server, world.alice["access"]).get(f"{MESSAGES}{m['id']}/")
    assert assert_json(r, 200)["reactions"] == {world.bob["username"]: "👍"}


def test_pin_replaces_the_previous_pin_and_unpin(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    ch = world.general["id"]
    m1 = post(server, world.bob, ch, "one")
    m2 = post(server, world.bob, ch, "two")
    b.recv_type("channels")
    b.recv_type("channels")
    b.send_json({"message_type": "pin_message", "message_id": m1["id"], "request_id": "p1"})
    got = b.recv_types(["message_pinned", "ack"])
    p1 = assert_frame(got["message_pinned"], "message_pinned", message_id=m1["id"], channel_id=ch,
                      user_id=world.bob["id"], unpinned_message_id=None)
    assert_ack(got["ack"], "pin_message", "p1", message_id=m1["id"])
    assert a.recv_type("message_pinned") == p1
    a.send_json({"message_type": "pin_message", "message_id": m2["id"]})
    p2 = assert_frame(b.recv_type("message_pinned"), "message_pinned", message_id=m2["id"],
                      user_id=world.alice["id"], unpinned_message_id=m1["id"])
    assert p2["offset"] == p1["offset"] + 1
    # Pinning the pinned message again changes nothing.
    a.send_json({"message_type": "pin_message", "message_id": m2["id"], "request_id": "again"})
    assert_ack(a.recv_type("ack"), "pin_message", "again", message_id=m2["id"])
    a.send_json({"message_type": "unpin_message", "message_id": m2["id"], "request_id": "u1"})
    got = a.recv_types(["message_unpinned", "ack"])
    u = assert_frame(got["message_unpinned"], "message_unpinned", message_id=m2["id"],
                     channel_id=ch, user_id=world.alice["id"], offset=p2["offset"] + 1)
    assert_ack(got["ack"], "unpin_message", "u1", message_id=m2["id"])
    assert b.recv_type("message_unpinned") == u
    a.send_json({"message_type": "unpin_message", "message_id": m2["id"]})
    assert [f for f in b.frames(0.4) if f["type"] in ("message_unpinned", "message_pinned")] == []
    r = api(server, world.alice["access"]).get(f"{MESSAGES}{m1['id']}/")
    assert assert_json(r, 200)["is_pinned"] is False


# --- typing, team_notification (§8.10, §8.4) ------------------------------------------------------

def test_typing_goes_to_others_only_and_is_throttled(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    a2 = connect(server, world.alice["access"], label="alice-2")
    try:
        ch = world.general["id"]
        first_sent = time.monotonic()
        a.send_json({"message_type": "typing", "channel_id": ch, "request_id": "t1"})
        assert_ack(a.recv_type("ack"), "typing", "t1", channel_id=ch)
        t = assert_frame(b.recv_type("typing"), "typing", channel_id=ch, team_id=world.team["id"],
                         user_id=world.alice["id"], username=world.alice["username"],
                         is_typing=True)
        assert TIMESTAMP.match(t["timestamp"])
        assert socks["carol"].recv_type("typing")["user_id"] == world.alice["id"]
        # A second true within 3 s is acked but not forwarded; false always is (alias `channel`).
        a.send_json({"message_type": "typing", "channel": ch, "is_typing": True,
                     "request_id": "t2"})
        assert_ack(a.recv_type("ack"), "typing", "t2", channel_id=ch)
        a.send_json({"message_type": "typing", "channel": ch, "is_typing": False})
        stop = assert_frame(b.recv_until(lambda f: f["type"] == "typing" and not f["is_typing"]),
                            "typing", is_typing=False)
        assert stop["user_id"] == world.alice["id"]
        others = [f for f in b.frames(0.3) if f["type"] == "typing"]
        if time.monotonic() - first_sent < 2.5:  # a loaded machine may take longer than 3 s
            assert others == []
        # Never to the sender's own sockets.
        assert [f for f in a.frames(0.2) + a2.frames(0.2) if f["type"] == "typing"] == []
        time.sleep(3.1)
        a.send_json({"message_type": "typing", "channel_id": ch})
        assert b.recv_type("typing")["is_typing"] is True
    finally:
        a2.close()


def test_team_notification_reaches_the_team(server, world, socks):
    a = socks["alice"]
    a.send_json({"message_type": "team_notification", "team_id": str(world.team["id"]),
                 "notification_type": "standup", "request_id": "n1"})
    got = a.recv_types(["team_notification", "ack"])
    n = assert_frame(got["team_notification"], "team_notification",
                     notification_type="standup", team_id=world.team["id"],
                     sender=world.alice["username"], sender_id=world.alice["id"])
    assert TIMESTAMP.match(n["timestamp"])
    assert_ack(got["ack"], "team_notification", "n1", team_id=world.team["id"])
    assert socks["bob"].recv_type("team_notification") == n
    assert socks["carol"].recv_type("team_notification") == n
    outsider = connect(server, world.outsider["access"])
    try:
        f = outsider.request({"message_type": "team_notification", "team_id": world.team["id"],
                              "notification_type": "x"})
        assert_error(f, "team_notification", "not_found", field="team_id")
    finally:
        outsider.close()


# --- create_channel, add_team_member, membership events (§8.4, §8.7) ------------------------------

def test_create_channel_over_the_websocket(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    b.send_json({"message_type": "create_channel", "team_id": str(world.team["id"]),
                 "name": "  design  ", "request_id": "cc"})
    got = b.recv_types(["channel_created", "ack"])
    created = assert_frame(got["channel_created"], "channel_created")
    ch = created["channel"]
    assert set(ch) == CHANNEL_KEYS | {"team_id"}
    assert (ch["name"], ch["description"], ch["team"], ch["team_id"], ch["channel_type"],
            ch["is_direct_message"], ch["created_by"]) == (
        "design", "", world.team["id"], world.team["id"], "group", False, world.bob["id"])
    assert ch["members"] == members(world.alice, world.bob, world.carol)
    assert_ack(got["ack"], "create_channel", "cc", channel_id=ch["id"])
    assert a.recv_type("channel_created") == created
    r = api(server, world.alice["access"]).get(f"/api/chat/channels/{ch['id']}/")
    rest = assert_json(r, 200)
    assert {k: v for k, v in ch.items() if k != "team_id"} == rest
    # Subscribed at once: the new channel's messages reach everyone.
    a.send_json({"message_type": "channel_message", "channel": ch["id"], "content": "first"})
    assert live_message(b.recv_type("channels"))["offset"] == 1
    assert socks["carol"].recv_type("channels")["channel_id"] == ch["id"]


def test_add_team_member_over_the_websocket(server, world, socks):
    a = socks["alice"]
    dave = register(server)
    # add_team_member adds visible users only (§4): dave and alice first share a Lobby team.
    lobby = acquaint(server, world.alice, dave)
    a.recv_until(lambda f: f.get("type") == "member_added" and f.get("team_id") == lobby["id"])
    d = connect(server, dave["access"], label="dave")
    try:
        a.send_json({"message_type": "add_team_member", "team_id": world.team["id"],
                     "user_id": str(dave["id"]), "request_id": "am"})
        got = a.recv_types(["member_added", "ack"])
        added = assert_frame(got["member_added"], "member_added", team_id=world.team["id"],
                             user_id=dave["id"], username=dave["username"])
        assert_ack(got["ack"], "add_team_member", "am", team_id=world.team["id"],
                   user_id=dave["id"])
        assert d.recv_type("member_added") == added  # the new member's own sockets hear it
        assert socks["bob"].recv_type("member_added") == added
        # dave is online: announced to the team after member_added (§8.9).
        p = socks["bob"].recv_until(lambda f: f["type"] == "user_presence"
                                    and f["user_id"] == dave["id"])
        assert_frame(p, "user_presence", status="online", team_id=world.team["id"])
        # Subscribed to the team's group channels at once.
        post(server, world.bob, world.general["id"], "welcome dave")
        assert d.recv_type("channels")["content"] == "welcome dave"
        # Adding a member again changes nothing: acked, no event.
        a.send_json({"message_type": "add_team_member", "team_id": world.team["id"],
                     "user_id": dave["id"], "request_id": "again"})
        assert_ack(a.recv_type("ack"), "add_team_member", "again", team_id=world.team["id"],
                   user_id=dave["id"])
        assert [f for f in socks["bob"].frames(0.4) if f["type"] == "member_added"] == []
    finally:
        d.close()


def test_join_via_invitation_subscribes_the_new_member(server, world, socks):
    dave = register(server)
    d = connect(server, dave["access"], label="dave")
    try:
        code = invite(server, world.alice, world.team["id"])["invite_code"]
        assert_json(join(server, dave, code), 200)
        added = assert_frame(d.recv_type("member_added"), "member_added",
                             team_id=world.team["id"], user_id=dave["id"],
                             username=dave["username"])
        assert socks["alice"].recv_type("member_added") == added
        socks["bob"].send_json({"message_type": "channel_message",
                                "channel": world.general["id"], "content": "hi dave"})
        assert d.recv_type("channels")["content"] == "hi dave"
    finally:
        d.close()


def test_removal_stops_delivery(server, world, socks):
    c = socks["carol"]
    r = api(server, world.alice["access"]).post(world.team_url("remove_member/"),
                                                json={"user_id": world.carol["id"]})
    assert_json(r, 200)
    removed = assert_frame(c.recv_type("member_removed"), "member_removed",
                           team_id=world.team["id"], user_id=world.carol["id"],
                           username=world.carol["username"])
    assert socks["bob"].recv_type("member_removed") == removed
    post(server, world.alice, world.general["id"], "after carol")
    socks["alice"].send_json({"message_type": "team_notification", "team_id": world.team["id"],
                              "notification_type": "x"})
    assert socks["bob"].recv_type("team_notification")["notification_type"] == "x"
    assert not_ephemeral(c.frames(0.8)) == []
    # Leaving works the same way.
    assert socks["bob"].recv_type("channels")["content"] == "after carol"
    socks["bob"].drain()
    r = api(server, world.bob["access"]).post(world.team_url("leave/"))
    assert_json(r, 200)
    f = socks["bob"].recv_type("member_removed")
    assert f["user_id"] == world.bob["id"]
    post(server, world.alice, world.general["id"], "after bob")
    assert [x for x in socks["bob"].frames(0.6) if x["type"] == "channels"] == []


# --- REST-made changes look exactly like WS-made ones (§6, §8.5) ----------------------------------

def test_rest_changes_arrive_like_websocket_ones(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    ch = world.general["id"]
    http = api(server, world.alice["access"])
    m = assert_json(http.post(MESSAGES, json={"channel": ch, "content": "via rest"}), 201)
    live = live_message(b.recv_type("channels"))
    assert ws_message_of(live)["id"] == m["id"] and live["content"] == "via rest"
    assert a.recv_type("channels") == live
    assert_json(http.patch(f"{MESSAGES}{m['id']}/", json={"content": "via rest!"}), 200)
    assert_frame(b.recv_type("message_edited"), "message_edited", content="via rest!",
                 edit_history=[{"content": "via rest", "edited_at": live["timestamp"]}])
    assert_json(http.post(f"{MESSAGES}{m['id']}/react/", json={"reaction": "👍"}), 200)
    assert_frame(b.recv_type("reaction_update"), "reaction_update", reaction="👍",
                 reactions={world.alice["username"]: "👍"})
    assert_json(http.delete(f"{MESSAGES}{m['id']}/remove_reaction/"), 200)
    assert_frame(b.recv_type("reaction_update"), "reaction_update", reaction=None, reactions={})
    assert_json(http.post(f"{MESSAGES}{m['id']}/pin/"), 200)
    assert_frame(b.recv_type("message_pinned"), "message_pinned", unpinned_message_id=None)
    assert_json(http.post(f"{MESSAGES}{m['id']}/unpin/"), 200)
    assert_frame(b.recv_type("message_unpinned"), "message_unpinned", message_id=m["id"])
    assert http.delete(f"{MESSAGES}{m['id']}/").status_code == 204
    last = assert_frame(b.recv_type("message_deleted"), "message_deleted", message_type="channel")
    assert last["offset"] == live["offset"] + 6
    # The original-era direct POST.
    r = http.post(MESSAGES, json={"message_type": "direct", "recipient": world.bob["id"],
                                  "content": "rest dm"})
    dm_msg = assert_json(r, 201)
    live_dm = live_message(b.recv_type("direct"), direct=True)
    assert (live_dm["id"], live_dm["recipient_id"]) == (dm_msg["id"], world.bob["id"])
    # Team changes.
    r = http.patch(world.team_url(), json={"name": "Acme 2"})
    team = assert_json(r, 200)
    tu = assert_frame(b.recv_type("team_updated"), "team_updated")
    assert set(tu["team"]) == TEAM_KEYS and tu["team"] == team
    # Channel changes are stream frames (channel_updated, channel_deleted).
    r = http.patch(f"/api/chat/channels/{ch}/", json={"description": "the main one"})
    changed = assert_json(r, 200)
    cu = assert_frame(b.recv_type("channel_updated"), "channel_updated", channel=changed)
    assert cu["offset"] == last["offset"] + 1
    assert http.delete(f"/api/chat/channels/{ch}/").status_code == 204
    assert_frame(b.recv_type("channel_deleted"), "channel_deleted", channel_id=ch,
                 team_id=world.team["id"], offset=cu["offset"] + 1)
    assert http.delete(world.team_url()).status_code == 204
    assert_frame(b.recv_type("team_deleted"), "team_deleted", team_id=world.team["id"])
    assert_frame(socks["carol"].recv_type("team_deleted"), "team_deleted")
    assert not_ephemeral(b.frames(0.3)) == []


def test_dm_made_over_rest_reaches_the_other_participant_only(server, world, socks):
    a, c = socks["alice"], socks["carol"]
    channel = dm(server, world.carol, world.team["id"], world.alice)
    created = assert_frame(a.recv_type("channel_created"), "channel_created")
    assert created["channel"]["id"] == channel["id"]
    assert created["channel"]["team_id"] == world.team["id"]
    assert "channel_created" not in [f["type"] for f in c.frames(0.4)]
    post(server, world.carol, channel["id"], "psst")
    assert a.recv_type("direct")["content"] == "psst"
    assert c.recv_type("direct")["content"] == "psst"


# --- history replies (§8.5, §8.8) -----------------------------------------------------------------

def test_get_channel_messages(server, world, socks):
    a = socks["alice"]
    ch = world.general["id"]
    made = [post(server, world.bob, ch, f"m{i}") for i in range(5)]
    lives = [a.recv_type("channels") for _ in made]
    f = a.request({"message_type": "get_channel_messages", "channel_id": str(ch),
                   "request_id": "h1"})
    assert_frame(f, "channel_messages", request_id="h1", channel_id=ch, has_more=False,
                 offset=lives[-1]["offset"], epoch=lives[-1]["epoch"])
    assert f["messages"] == [ws_message_of(x) for x in lives]
    for m in f["messages"]:
        assert set(m) == WS_MESSAGE_KEYS
    # Paging: the newest `limit`, then older with `before`, newer with `after`.
    f = a.request({"message_type": "get_channel_messages", "channel_id": ch, "limit": 2})
    assert set(f) == {"type", "channel_id", "messages", "has_more", "offset", "epoch"}
    assert [m["id"] for m in f["messages"]] == [made[3]["id"], made[4]["id"]] and f["has_more"]
    f = a.request({"message_type": "get_channel_messages", "channel_id": ch, "limit": 2,
                   "before": made[3]["id"]})
    assert [m["id"] for m in f["messages"]] == [made[1]["id"], made[2]["id"]] and f["has_more"]
    f = a.request({"message_type": "get_channel_messages", "channel_id": ch, "limit": "2",
                   "after": made[2]["id"]})
    assert [m["id"] for m in f["messages"]] == [made[3]["id"], made[4]["id"]]
    assert f["has_more"] is False
    for bad, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                       ({"before": "x"}, "before"), ({"after": -1}, "after")):
        f = a.request({"message_type": "get_channel_messages", "channel_id": ch, "request_id": 3,
                       **bad})
        assert_error(f, "get_channel_messages", "invalid", request_id=3, field=field)
    # An empty channel reports offset 0.
    empty = create_channel(server, world.alice, world.team["id"], name="empty")
    f = a.request({"message_type": "get_channel_messages", "channel_id": empty["id"]})
    assert (f["messages"], f["has_more"], f["offset"]) == ([], False, 0)


def test_get_direct_messages_both_forms(server, world, socks):
    a = socks["alice"]
    dm_id = world.dm_ab["id"]
    m1 = post(server, world.alice, dm_id, "to bob")
    m2 = post(server, world.bob, dm_id, "to alice")
    lives = [a.recv_type("direct"), a.recv_type("direct")]
    f = a.request({"message_type": "get_direct_messages", "channel_id": dm_id,
                   "request_id": "dm"})
    assert_frame(f, "direct_messages", request_id="dm", channel_id=dm_id, has_more=False,
                 offset=lives[-1]["offset"], epoch=lives[-1]["epoch"])
    assert f["messages"] == [ws_message_of(x) for x in lives]
    # Original era: user_id (and team_id), a `recipient` username per message, `user_id` echoed.
    f = a.request({"message_type": "get_direct_messages", "user_id": str(world.bob["id"]),
                   "team_id": world.team["id"], "request_id": "old"})
    assert set(f) == {"type", "request_id", "user_id", "channel_id", "messages", "has_more",
                      "offset", "epoch"}
    assert (f["user_id"], f["channel_id"], f["offset"], f["epoch"]) == (
        world.bob["id"], dm_id, lives[-1]["offset"], lives[-1]["epoch"])
    assert [(m["id"], m["recipient"]) for m in f["messages"]] == [
        (m1["id"], world.bob["username"]), (m2["id"], world.alice["username"])]
    assert [{k: v for k, v in m.items() if k != "recipient"} for m in f["messages"]] == [
        ws_message_of(x) for x in lives]
    # No DM with carol yet: nulls and [] (and nothing is created).
    f = a.request({"message_type": "get_direct_messages", "user_id": world.carol["id"]})
    assert f == {"type": "direct_messages", "user_id": world.carol["id"], "channel_id": None,
                 "messages": [], "has_more": False, "offset": None, "epoch": None}
    r = api(server, world.alice["access"]).get(f"/api/chat/users/interacted/?team_id="
                                               f"{world.team['id']}")
    assert [u["id"] for u in assert_json(r, 200)] == [world.bob["id"]]


# --- team queries (§8.5, §8.11) -------------------------------------------------------------------

def test_team_queries(server, world, socks):
    a = socks["alice"]
    tid = world.team["id"]
    f = a.request({"message_type": "get_team_members", "team_id": str(tid), "request_id": 1})
    assert f == {"type": "team_members", "request_id": 1, "team_id": tid,
                 "members": sorted([user_ref(world.alice), user_ref(world.bob),
                                    user_ref(world.carol)], key=lambda u: u["id"])}
    f = a.request({"message_type": "get_team_channels", "team_id": tid})
    assert f == {"type": "team_channels", "team_id": tid, "channels": [
        {"id": world.general["id"], "name": "general", "team_id": tid,
         "is_direct_message": False, "channel_type": "group"},
        {"id": world.dm_ab["id"], "name": world.dm_ab["name"], "team_id": tid,
         "is_direct_message": True, "channel_type": "direct"}]}
    # carol is not in the DM: only the group channel.
    f = socks["carol"].request({"message_type": "get_team_channels", "team_id": tid})
    assert [c["id"] for c in f["channels"]] == [world.general["id"]]
    f = a.request({"message_type": "get_interacted_users", "team_id": str(tid)})
    assert f == {"type": "interacted_users", "team_id": tid, "users": [
        {"id": world.bob["id"], "username": world.bob["username"],
         "channel_id": world.dm_ab["id"]}]}
    # Without team_id: every team of the caller, team_id null.
    other = World(server)
    from support.teams import add_member
    add_member(server, other.alice, other.team["id"], world.alice)
    dm_other = dm(server, world.alice, other.team["id"], other.bob)
    f = a.request({"message_type": "get_interacted_users", "request_id": "all"})
    assert f["team_id"] is None and f["request_id"] == "all"
    assert sorted((u["id"], u["channel_id"]) for u in f["users"]) == sorted(
        [(world.bob["id"], world.dm_ab["id"]), (other.bob["id"], dm_other["id"])])
    assert all(set(u) == {"id", "username", "channel_id"} for u in f["users"])
    f = a.request({"message_type": "get_user_presences", "team_id": tid, "request_id": "p"})
    assert set(f) == {"type", "request_id", "team_id", "presences"} and f["team_id"] == tid
    rows = {p["user_id"]: p for p in f["presences"]}
    assert list(rows) == sorted(rows)
    assert set(rows) == {world.alice["id"], world.bob["id"], world.carol["id"]}
    for p in f["presences"]:
        assert set(p) == {"user_id", "username", "status", "last_seen"}
        assert p["status"] == "online" and TIMESTAMP.match(p["last_seen"])
    for mt in ("get_team_members", "get_team_channels", "get_user_presences",
               "get_interacted_users"):
        f = a.request({"message_type": mt, "team_id": other.team["id"] + 1000000,
                       "request_id": mt})
        assert_error(f, mt, "not_found", request_id=mt, field="team_id", error="Not found.")


def test_user_presences_lists_members_who_never_connected(server):
    alice, bob = register(server), register(server)
    from support.teams import team_with
    team = team_with(server, alice, bob)
    a = connect(server, alice["access"])
    try:
        f = a.request({"message_type": "get_user_presences", "team_id": team["id"]})
        rows = {p["user_id"]: p for p in f["presences"]}
        assert rows[bob["id"]] == {"user_id": bob["id"], "username": bob["username"],
                                   "status": "offline", "last_seen": None}
        assert rows[alice["id"]]["status"] == "online"
    finally:
        a.close()


# --- offsets and epochs (§8.8) --------------------------------------------------------------------

def test_offsets_are_contiguous_per_channel_and_the_epoch_constant(server, world, socks):
    a, b = socks["alice"], socks["bob"]
    ch, dm_id = world.general["id"], world.dm_ab["id"]
    for i in range(6):
        a.send_json({"message_type": "channel_message", "channel": ch, "content": f"g{i}"})
        b.send_json({"message_type": "direct_message", "channel_id": dm_id, "content": f"d{i}"})
    m = post(server, world.alice, ch, "to edit")
    a.send_json({"message_type": "edit_message", "message_id": m["id"], "content": "edited"})
    a.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": "x"})
    a.send_json({"message_type": "pin_message", "message_id": m["id"]})
    a.send_json({"message_type": "unpin_message", "message_id": m["id"]})
    a.send_json({"message_type": "typing", "channel_id": ch})  # not a stream frame
    a.send_json({"message_type": "delete_message", "message_id": m["id"]})
    # 6 messages + 1 REST message + edit, reaction, pin, unpin, delete in general; 6 in the DM.
    expected = {ch: list(range(1, 13)), dm_id: list(range(1, 7))}
    for sock, channels in ((a, (ch, dm_id)), (b, (ch, dm_id)), (socks["carol"], (ch,))):
        seen = {c: [] for c in channels}
        epochs = set()
        deadline = time.monotonic() + 10
        while any(len(seen[c]) < len(expected[c]) for c in channels):
            assert time.monotonic() < deadline, seen
            f = sock.recv(5)
            if "offset" in f:
                assert f["channel_id"] in channels, f
                seen[f["channel_id"]].append(f["offset"])
                epochs.add(f["epoch"])
        assert seen == {c: expected[c] for c in channels}
        assert len(epochs) == 1
        assert [f for f in sock.frames(0.3) if "offset" in f] == []
    f = a.request({"message_type": "get_channel_messages", "channel_id": ch})
    assert f["offset"] == 12
    f = a.request({"message_type": "get_channel_messages", "channel_id": dm_id})
    assert f["offset"] == 6


def test_every_socket_sees_contiguous_offsets(server, world):
    watchers = [connect(server, world.bob["access"]), connect(server, world.carol["access"])]
    a = connect(server, world.alice["access"])
    try:
        ch = world.general["id"]
        epoch = None
        for i in range(20):
            a.send_json({"message_type": "channel_message", "channel": ch, "content": f"n{i}",
                         "request_id": i})
        m = post(server, world.alice, ch, "x")
        a.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": "y"})
        a.send_json({"message_type": "edit_message", "message_id": m["id"], "content": "z"})
        for w in watchers + [a]:
            got = []
            while len(got) < 23:
                f = w.recv(5)
                if f.get("channel_id") == ch and "offset" in f:
                    got.append(f)
            assert [f["offset"] for f in got] == list(range(1, 24))
            assert len({f["epoch"] for f in got}) == 1
            epoch = epoch or got[0]["epoch"]
            assert got[0]["epoch"] == epoch and EPOCH.match(epoch)
            # Every message exactly once. Id order may differ from offset order: the REST post
            # races the socket's posts between commit and publish, and §8.8 orders by offset.
            ids = [f["id"] for f in got if f["type"] == "channels"]
            assert len(ids) == 21 and len(set(ids)) == 21
    finally:
        for w in watchers + [a]:
            w.close()


# --- resume (§8.8; replay in test_resume.py) ---------------------------------------------------------------

def test_resume_statuses(server, world, socks):
    a = socks["alice"]
    ch, dm_id = world.general["id"], world.dm_ab["id"]
    for i in range(3):
        post(server, world.bob, ch, f"r{i}")
    live = [a.recv_type("channels") for _ in range(3)]
    epoch = live[0]["epoch"]
    empty = create_channel(server, world.alice, world.team["id"], name="quiet")
    a.recv_type("channel_created")
    request = {"message_type": "resume", "request_id": 9, "channels": {
        str(ch): {"offset": 3, "epoch": epoch},
        str(dm_id): 5,
        "99999999": {"offset": 3, "epoch": "Zz1"},
        str(empty["id"]): {"offset": 0},
    }}
    a.send_json(request)
    resync = a.recv_type("resync_required")
    assert resync == {"type": "resync_required", "channel_id": dm_id, "offset": 0,
                      "epoch": epoch, "reason": "offset_ahead"}
    done = a.recv_type("resumed")
    assert done == {"type": "resumed", "request_id": 9, "channels": {
        str(ch): {"status": "recovered", "offset": 3, "epoch": epoch, "replayed": 0},
        str(dm_id): {"status": "resync_required", "offset": 0, "epoch": epoch},
        "99999999": {"status": "not_found"},
        str(empty["id"]): {"status": "recovered", "offset": 0, "epoch": epoch, "replayed": 0},
    }}
    assert list(done["channels"]) == list(request["channels"])  # request order
    # Behind, but this socket already has 2 and 3 (live): recovered, nothing sent twice
    # (test_resume.py covers replay); another epoch: epoch_changed.
    a.send_json({"message_type": "resume", "channels": {
        str(ch): {"offset": 1, "epoch": epoch}, str(dm_id): {"offset": 0, "epoch": "other"}}})
    frames = [a.recv_type("resync_required")]
    assert frames == [
        {"type": "resync_required", "channel_id": dm_id, "offset": 0, "epoch": epoch,
         "reason": "epoch_changed"}]
    done = a.recv_type("resumed")
    assert done == {"type": "resumed", "channels": {
        str(ch): {"status": "recovered", "offset": 3, "epoch": epoch, "replayed": 0},
        str(dm_id): {"status": "resync_required", "offset": 0, "epoch": epoch}}}
    assert [f for f in a.frames(0.3) if "offset" in f] == []
    # carol cannot see the DM.
    c = socks["carol"]
    f = c.request({"message_type": "resume", "request_id": "c", "channels": {str(dm_id): 0}})
    assert f == {"type": "resumed", "request_id": "c",
                 "channels": {str(dm_id): {"status": "not_found"}}}
    # Live frames continue after a resume.
    post(server, world.bob, ch, "after resume")
    assert a.recv_type("channels")["offset"] == 4


@pytest.mark.parametrize("channels", [
    None, [], "12", 5, {"abc": 1}, {"0": 1}, {"12": -1}, {"12": "3"}, {"12": 1.5},
    {"12": {"epoch": "x"}}, {"12": {"offset": "1"}}, {"12": {"offset": 1, "epoch": 5}},
    {"12": None}, {str(i): 0 for i in range(1, 1002)},
])
def test_resume_with_an_invalid_channels_value_sends_one_error(server, world, socks, channels):
    a = socks["alice"]
    frame = {"message_type": "resume", "request_id": "bad"}
    if channels is not None:
        frame["channels"] = channels
    a.send_json(frame)
    f = a.recv_until(lambda x: x["type"] in ("error", "resumed", "resync_required"))
    assert_error(f, "resume", "required" if channels is None else "invalid", request_id="bad",
                 field="channels")
    assert [x for x in a.frames(0.3) if x["type"] in ("resumed", "resync_required")] == []


# --- rate limits (§0.9) ---------------------------------------------------------------------------

def test_ws_rate_limit(fresh_server):
    srv = fresh_server(env={"PARLEY_RATE_WS": "5/min"})
    u = register(srv)
    s = connect(srv, u["access"])
    try:
        for i in range(5):
            assert s.request({"message_type": "ping", "request_id": i})["type"] == "pong"
        f = s.request({"message_type": "ping", "request_id": "over"})
        assert_error(f, "ping", "rate_limited", request_id="over")
        assert 1 <= f["retry_after"] <= 60
        # Any frame counts and is refused the same way; bad frames still get their own error.
        f = s.request({"message_type": "get_team_members", "team_id": 1, "request_id": 2})
        assert_error(f, "get_team_members", "rate_limited", request_id=2)
        s.send("{nope")
        assert s.recv_type("error")["code"] == "parse_error"
        other = register(srv)  # per user
        o = connect(srv, other["access"])
        assert o.request({"message_type": "ping"})["type"] == "pong"
        o.close()
    finally:
        s.close()


def test_message_rate_limit_is_rate_limited_on_the_websocket(fresh_server):
    srv = fresh_server(env={"PARLEY_RATE_MESSAGES": "2/min"})
    w = World(srv, dm_channel=False)
    s = connect(srv, w.alice["access"])
    try:
        for i in range(2):
            s.send_json({"message_type": "channel_message", "channel": w.general["id"],
                         "content": f"m{i}", "request_id": i})
            assert s.recv_type("ack")["request_id"] == i
        f = s.request({"message_type": "channel_message", "channel": w.general["id"],
                       "content": "too many", "request_id": "x"})
        assert_error(f, "channel_message", "rate_limited", request_id="x")
        assert len(history(srv, w.alice, w.general["id"])) == 2
    finally:
        s.close()
