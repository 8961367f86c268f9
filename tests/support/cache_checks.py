"""Helpers of the store cache tests (test_cache.py, test_scaleout_cache.py)."""
import time

from support.client import api, assert_json, register
from support.frames import post
from support.teams import CHANNELS, create_channel, team_with


def history_response(server, account, channel_id):
    r = api(server, account["access"]).get(f"{CHANNELS}{channel_id}/messages/?limit=10")
    return r.status_code, r.json()


def logout(server, account):
    assert_json(api(server, account["access"]).post("/api/auth/logout",
                                                    json={"refresh": account["refresh"]}), 200)


def within(seconds, check, what):
    """Polls check() (True when the change shows) and returns how long it took; fails after
    `seconds`."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{what}: not in effect after {seconds} s")
        time.sleep(0.05)


def setup_team(srv):
    """alice owns a team with bob and a channel with one message; carol shares nothing."""
    alice, bob, carol = register(srv), register(srv), register(srv)
    team = team_with(srv, alice, bob)
    general = create_channel(srv, alice, team["id"], name="general")
    post(srv, alice, general["id"], "hello")
    return alice, bob, carol, team, general
