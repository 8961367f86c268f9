"""A message holds at most PARLEY_MAX_REACTIONS_PER_MESSAGE reactions (§6.8, §0.8), so the
`reactions` object of every message and `reaction_update` frame stays bounded: a new reactor on a
full message is refused with 400 `too_many_reactions`, on REST and over the WebSocket, and nothing
changes; a user who already reacted can still change or remove theirs."""
from support.client import api, assert_json, register
from support.teams import create_channel, team_with
from support.ws import connect

MESSAGES = "/api/chat/messages/"
FULL = {"error": "This message already has 2 reactions, the most it can hold.",
        "code": "too_many_reactions"}


def test_a_full_message_refuses_new_reactors_only(fresh_server):
    srv = fresh_server(env={"PARLEY_MAX_REACTIONS_PER_MESSAGE": "2"})
    alice, bob, carol = register(srv), register(srv), register(srv)
    team = team_with(srv, alice, bob, carol)
    channel = create_channel(srv, alice, team["id"])["id"]
    m = assert_json(api(srv, alice["access"]).post(MESSAGES, json={"channel": channel,
                                                                   "content": "vote"}), 201)
    react = f"{MESSAGES}{m['id']}/react/"
    assert_json(api(srv, alice["access"]).post(react, json={"reaction": "👍"}), 200)
    assert_json(api(srv, bob["access"]).post(react, json={"reaction": "🎉"}), 200)

    # carol would be the third: refused on REST and over the WebSocket, nothing stored or sent.
    with connect(srv, alice["access"]) as watcher, connect(srv, carol["access"]) as sock:
        assert_json(api(srv, carol["access"]).post(react, json={"reaction": "x"}), 400, FULL)
        sock.send_json({"message_type": "reaction", "message_id": m["id"], "reaction": "x",
                        "request_id": "r-1"})
        err = sock.recv_type("error")
        assert (err["code"], err.get("field"), err["request_id"]) == (
            "too_many_reactions", "reaction", "r-1"), err
        assert err["error"] == FULL["error"], err
        assert not [f for f in watcher.collect(0.5) if f.get("type") == "reaction_update"]
    got = assert_json(api(srv, alice["access"]).get(f"{MESSAGES}{m['id']}/"), 200)
    assert got["reactions"] == {alice["username"]: "👍", bob["username"]: "🎉"}

    # A reactor on the full message may change theirs; a removal makes room for carol.
    assert_json(api(srv, bob["access"]).post(react, json={"reaction": "🚀"}), 200)
    assert_json(api(srv, bob["access"]).delete(f"{MESSAGES}{m['id']}/remove_reaction/"), 200)
    assert_json(api(srv, carol["access"]).post(react, json={"reaction": "x"}), 200,
                {"message_id": m["id"], "updated_by": carol["username"], "reaction": "x",
                 "reactions": {alice["username"]: "👍", carol["username"]: "x"}})
