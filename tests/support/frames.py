"""The WebSocket frames of API.md §8.5/§8.6 as key sets, and helpers to build a small world of
users, a team, channels and DMs (through REST) for the WebSocket end-to-end tests."""
import re

from support.client import api, assert_json, register
from support.teams import TEAMS, add_member, create_channel, create_team, dm

MESSAGES = "/api/chat/messages/"
EPOCH = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # §8.8

# §1.5 WS Message; §8.6 adds type, message_type, offset, epoch (recipient_id in DMs only).
WS_MESSAGE_KEYS = {"id", "sender", "sender_id", "content", "timestamp", "channel_id", "team_id",
                   "reply_to", "replied_message", "link_preview", "attachments", "reactions",
                   "is_forwarded", "is_pinned", "is_edited", "edited_at"}
LIVE_KEYS = WS_MESSAGE_KEYS | {"type", "message_type", "offset", "epoch"}
LIVE_DM_KEYS = LIVE_KEYS | {"recipient_id"}
STREAM = {"offset", "epoch"}

# §8.5, besides `type`.
FRAME_KEYS = {
    "message_edited": {"message_id", "channel_id", "content", "link_preview", "edited_at",
                       "is_edited", "edit_history"} | STREAM,
    "message_deleted": {"message_id", "channel_id", "message_type"} | STREAM,
    "reaction_update": {"message_id", "channel_id", "reactions", "user_id", "username",
                        "reaction"} | STREAM,
    "message_pinned": {"message_id", "channel_id", "user_id", "unpinned_message_id"} | STREAM,
    "message_unpinned": {"message_id", "channel_id", "user_id"} | STREAM,
    "channel_updated": {"channel"} | STREAM,
    "channel_deleted": {"channel_id", "team_id"} | STREAM,
    "channel_created": {"channel"},
    "member_added": {"team_id", "user_id", "username"},
    "member_removed": {"team_id", "user_id", "username"},
    "team_updated": {"team"},
    "team_deleted": {"team_id"},
    "team_notification": {"notification_type", "team_id", "sender", "sender_id", "timestamp"},
    "user_presence": {"user_id", "status", "timestamp", "team_id"},
    "typing": {"channel_id", "team_id", "user_id", "username", "is_typing", "timestamp"},
    "channel_messages": {"channel_id", "messages", "has_more", "offset", "epoch"},
    "direct_messages": {"channel_id", "messages", "has_more", "offset", "epoch"},
    "team_channels": {"team_id", "channels"},
    "team_members": {"team_id", "members"},
    "interacted_users": {"team_id", "users"},
    "user_presences": {"team_id", "presences"},
    "pong": {"server_time"},
    "resync_required": {"channel_id", "offset", "epoch", "reason"},
    "resumed": {"channels"},
}
CHANNEL_KEYS = {"id", "name", "description", "team", "created_at", "channel_type",
                "is_direct_message", "created_by", "members"}
TEAM_KEYS = {"id", "name", "description", "created_at", "created_by", "members"}

# Frames that may arrive at any time from other tests' or the presence machinery's activity.
EPHEMERAL = {"user_presence", "typing"}


def keys(frame) -> set:
    return set(frame)


def assert_frame(frame, type_, *, request_id=None, **values):
    """`frame` is a `type_` frame with exactly the keys of §8.5 (plus request_id when given),
    and the given values."""
    assert frame.get("type") == type_, frame
    expected = {"type"} | FRAME_KEYS[type_]
    if request_id is not None:
        expected.add("request_id")
        assert frame["request_id"] == request_id, frame
    assert set(frame) == expected, (type_, sorted(set(frame) ^ expected), frame)
    for k, v in values.items():
        assert frame[k] == v, (k, frame[k], v, frame)
    if "epoch" in FRAME_KEYS[type_] and frame.get("epoch") is not None:
        assert EPOCH.match(frame["epoch"]), frame
    return frame


def assert_ack(frame, message_type, request_id, **extras):
    """{"type": "ack", "message_type", "request_id", extras...} exactly (§8.3, §8.4)."""
    expected = {"type": "ack", "message_type": message_type, "request_id": request_id, **extras}
    assert frame == expected, frame
    return frame


def assert_error(frame, message_type, code, *, request_id=None, field=None, error=None,
                 extra=None):
    """An error frame of §8.3 with exactly these keys (retry_after for rate_limited)."""
    assert frame.get("type") == "error", frame
    expected = {"type", "message_type", "error", "code"}
    if request_id is not None:
        expected.add("request_id")
        assert frame["request_id"] == request_id, frame
    if field is not None:
        expected.add("field")
        assert frame["field"] == field, frame
    if code == "rate_limited":
        expected.add("retry_after")
        assert isinstance(frame["retry_after"], int) and frame["retry_after"] >= 1, frame
    expected |= set(extra or {})
    assert frame["message_type"] == message_type, frame
    assert frame["code"] == code, frame
    assert isinstance(frame["error"], str) and frame["error"], frame
    if error is not None:
        assert frame["error"] == error, frame
    for k, v in (extra or {}).items():
        assert frame[k] == v, frame
    assert set(frame) == expected, (sorted(set(frame) ^ expected), frame)
    return frame


def live_message(frame, *, direct=False):
    """Checks the §8.6 key set of a live message frame and returns it."""
    t = "direct" if direct else "channels"
    assert frame.get("type") == t and frame.get("message_type") == t, frame
    expected = LIVE_DM_KEYS if direct else LIVE_KEYS
    assert set(frame) == expected, (sorted(set(frame) ^ expected), frame)
    assert EPOCH.match(frame["epoch"]), frame
    assert isinstance(frame["offset"], int) and frame["offset"] >= 1, frame
    return frame


def ws_message_of(live: dict) -> dict:
    """The WS Message (§1.5) inside a live frame."""
    return {k: v for k, v in live.items() if k in WS_MESSAGE_KEYS | {"recipient_id"}}


def post(server, account, channel_id, content="hi", **extra) -> dict:
    r = api(server, account["access"]).post(MESSAGES, json={"channel": channel_id,
                                                            "content": content, **extra})
    return assert_json(r, 201)


def history(server, account, channel_id) -> list:
    r = api(server, account["access"]).get(f"/api/chat/channels/{channel_id}/messages/?limit=1000")
    return assert_json(r, 200)


class World:
    """alice owns team `team`; bob and carol are members; `general` is a group channel alice
    created; `dm_ab` is the DM channel of alice and bob (created by alice). `outsider` shares no
    team with them."""

    def __init__(self, server, *, dm_channel=True, members=("bob", "carol")):
        self.server = server
        self.alice = register(server)
        self.bob = register(server)
        self.carol = register(server)
        self.outsider = register(server)
        self.team = create_team(server, self.alice)
        for name in members:
            add_member(server, self.alice, self.team["id"], getattr(self, name))
        self.general = create_channel(server, self.alice, self.team["id"], name="general")
        self.dm_ab = dm(server, self.alice, self.team["id"], self.bob) if dm_channel else None

    def team_url(self, suffix=""):
        return f"{TEAMS}{self.team['id']}/{suffix}"


def user_ref(account) -> dict:
    return {"id": account["id"], "username": account["username"]}


def offsets_of(frames, channel_id) -> list:
    return [f["offset"] for f in frames if f.get("channel_id") == channel_id and "offset" in f]
