"""Abuse of authentication (issue #13 items 5-7; API.md §0.9, §10.2): a login flood must not delay
everyone else's requests and messages (password hashing has its own bounded pool), forged
X-Forwarded-For entries must not choose the rate-limit key (PARLEY_TRUSTED_PROXIES), failed logins
are limited per username whatever the address, and the limiter's memory stays bounded."""
import os
import random
import time

import pytest

from support.abuse import LegitUser, RssWatch, percentile, rss_bound_kib
from support.attacks_auth import (distinct_forwarded_keys, login_flood, logins_from,
                                  logins_with_forwarded_for, random_ipv4)
from support.client import register
from support.cluster import NGINX, Balancer

THROTTLED_CODE = "throttled"
INVALID = {"error": "Invalid credentials", "message": "Invalid credentials",
           "code": "invalid_credentials"}


def test_a_login_flood_leaves_other_users_served(fresh_server):
    # The auth and failed-login limits are high, so most logins reach password hashing: only the
    # hashing pool's bound protects the workers.
    srv = fresh_server(env={"PARLEY_RATE_AUTH": "100000/min",
                            "PARLEY_RATE_LOGIN_FAILURES": "100000/min"})
    victims = [register(srv) for _ in range(3)]
    probe = LegitUser(srv)
    probe.sample(3)
    rss = RssWatch(srv.proc.pid)
    try:
        with probe.running():
            out = login_flood(srv, victims, count=500, duration_s=10.0, threads=24)
    finally:
        growth = rss.stop()
        probe.close()
    assert not out.errors, out.errors[:5]
    assert out.total == 500, out
    assert out.by_status[200] > 0 and out.by_status[400] > 0, out  # hashing did run
    # Past the pool's bound the answer is an immediate 429, never a wait behind the flood.
    assert out.by_status[429] > 0, out
    assert set(out.by_status) <= {200, 400, 429}, out
    assert percentile(out.latency_s[429], 0.5) < 0.25, percentile(out.latency_s[429], 0.5)
    probe.assert_served(p99_s=1.0)
    # At most the pool's few argon2id checks (64 MiB each) at once.
    assert growth < rss_bound_kib(192), f"RSS grew {growth // 1024} MiB"
    assert srv.running


def test_a_forged_leftmost_forwarded_for_does_not_choose_the_key(fresh_server):
    # Daily windows, so no test straddles a window boundary. Default trusted proxies (loopback): the test's own connection is the proxy. nginx appends
    # the address it saw, so the rightmost untrusted entry is the real client whatever the client
    # wrote before it.
    srv = fresh_server(env={"PARLEY_TRUST_PROXY": "true", "PARLEY_RATE_AUTH": "5/day",
                            "PARLEY_RATE_LOGIN_FAILURES": "off"})
    rng = random.Random(3)
    results = logins_with_forwarded_for(
        srv, "nobody", "wrong-password-1",
        lambda i: f"{random_ipv4(rng)}, 203.0.113.50", count=12)
    statuses = [s for s, _ in results]
    assert statuses[:5] == [400] * 5, statuses
    assert statuses[5:] == [429] * 7, statuses
    assert results[5][1]["code"] == THROTTLED_CODE
    # Another real client (another appended address) has its own bucket...
    other = logins_with_forwarded_for(srv, "nobody", "wrong-password-1",
                                      lambda i: "6.6.6.6, 203.0.113.51", count=1)
    assert other[0][0] == 400, other
    # ...and trusted hops to the right of it (a second proxy on loopback) change nothing.
    again = logins_with_forwarded_for(srv, "nobody", "wrong-password-1",
                                      lambda i: "7.7.7.7, 203.0.113.50, 127.0.0.5", count=1)
    assert again[0][0] == 429, again


def test_behind_a_real_nginx_the_client_cannot_choose_its_key(fresh_server):
    # nginx (on 127.0.0.1, the one trusted proxy) appends the address it saw: the test connects
    # to it from 127.0.0.2, as a remote client would from its own address.
    if not os.access(NGINX, os.X_OK):
        pytest.skip(f"nginx not found at {NGINX} (scripts/install-deps: nginx-light)")
    srv = fresh_server(env={"PARLEY_TRUST_PROXY": "true", "PARLEY_TRUSTED_PROXIES": "127.0.0.1",
                            "PARLEY_RATE_AUTH": "5/day", "PARLEY_RATE_LOGIN_FAILURES": "off"})
    lb = Balancer([srv.port]).start()
    try:
        rng = random.Random(6)
        results = logins_from("127.0.0.1", lb.port, "127.0.0.2", "nobody", "wrong-password-1",
                              lambda i: f"{random_ipv4(rng)}, {random_ipv4(rng)}", count=8)
        statuses = [s for s, _ in results]
        assert statuses == [400] * 5 + [429] * 3, statuses
        # Another client address behind the same proxy has its own bucket.
        other = logins_from("127.0.0.1", lb.port, "127.0.0.3", "nobody", "wrong-password-1",
                            lambda i: None, count=1)
        assert other[0][0] == 400, other
    finally:
        lb.close()


def test_forwarded_for_from_an_untrusted_peer_is_ignored(fresh_server):
    # PARLEY_TRUSTED_PROXIES names a proxy that is not the test's peer: every forged address is
    # ignored and all logins share the peer's bucket.
    srv = fresh_server(env={"PARLEY_TRUST_PROXY": "true", "PARLEY_TRUSTED_PROXIES": "10.9.9.9",
                            "PARLEY_RATE_AUTH": "5/day", "PARLEY_RATE_LOGIN_FAILURES": "off"})
    rng = random.Random(4)
    results = logins_with_forwarded_for(srv, "nobody", "wrong-password-1",
                                        lambda i: random_ipv4(rng), count=10)
    statuses = [s for s, _ in results]
    assert statuses == [400] * 5 + [429] * 5, statuses


def test_failed_logins_are_limited_per_username_from_any_address(fresh_server):
    srv = fresh_server(env={"PARLEY_TRUST_PROXY": "true", "PARLEY_RATE_AUTH": "100/min",
                            "PARLEY_RATE_LOGIN_FAILURES": "5/day"})
    victim = register(srv)
    bystander = register(srv)
    rng = random.Random(5)
    # Every guess from another address (the test connects from a trusted proxy, so its single
    # X-Forwarded-For entry is the client).
    results = logins_with_forwarded_for(srv, victim["username"], "guess-password-1",
                                        lambda i: random_ipv4(rng), count=5)
    assert [s for s, _ in results] == [400] * 5, results
    assert all(body == INVALID for _, body in results)
    t0 = time.monotonic()
    refused = logins_with_forwarded_for(srv, victim["username"].upper(), "guess-password-1",
                                        lambda i: random_ipv4(rng), count=5)
    elapsed = time.monotonic() - t0
    assert [s for s, _ in refused] == [429] * 5, refused
    assert refused[0][1]["code"] == THROTTLED_CODE
    assert elapsed < 1.0, elapsed  # refused before any hashing
    # The right password too, for the rest of the window (the price of slowing a guesser).
    right = logins_with_forwarded_for(srv, victim["username"], victim["password"],
                                      lambda i: random_ipv4(rng), count=1)
    assert right[0][0] == 429, right
    # Other accounts are not affected.
    ok = logins_with_forwarded_for(srv, bystander["username"], bystander["password"],
                                   lambda i: random_ipv4(rng), count=1)
    assert ok[0][0] == 200, ok


def test_rate_limiter_memory_stays_bounded_under_many_forged_addresses(fresh_server):
    srv = fresh_server(env={"PARLEY_TRUST_PROXY": "true", "PARLEY_RATE_AUTH": "20/min",
                            "PARLEY_LOG_LEVEL": "error"})
    rss = RssWatch(srv.proc.pid)
    try:
        # 50,000 distinct keys, each request carrying 2 KiB of forged text to the left of its
        # address: a limiter keyed on the leftmost entry would keep ~100 MiB.
        statuses = distinct_forwarded_keys(srv, count=50_000, connections=8, junk_bytes=2048)
    finally:
        growth = rss.stop()
    assert sum(statuses.values()) == 50_000, statuses
    assert set(statuses) == {400}, statuses  # each forged address had its own, fresh bucket
    assert growth < rss_bound_kib(40), f"RSS grew {growth // 1024} MiB"
    assert srv.running
