"""GET /metrics (API.md §10.3, §9 note 4): after a scripted workload on a server of its own, every
counter has its exact value; histograms are consistent; `promtool check metrics` accepts the
output; PARLEY_METRICS_TOKEN is required when set."""
import json
import pathlib
import re
import shutil
import subprocess
import time

import pytest
import requests

from support.client import api, assert_json, register
from support.server import backend
from support.teams import TEAMS, create_channel, create_team, dm, invite, join
from support.ws import connect, handshake

TOKEN = "metrics-s3cret"
MESSAGES = "/api/chat/messages/"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict:
    """{(name, frozenset(labels)): float} of an exposition; also checks every line's form."""
    out = {}
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        key = (m.group(1), labels)
        assert key not in out, f"duplicate series: {line}"
        out[key] = float(m.group(4))
    return out, types


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(server) -> str:
    r = requests.get(server.base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                     timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return r.text


def wait_for(server, name, expected, **labels):
    """Scrapes until the series has the value (socket ends are counted asynchronously)."""
    deadline = time.monotonic() + 10
    while True:
        samples, types = parse(scrape(server))
        if value(samples, name, **labels) == expected or time.monotonic() > deadline:
            return samples, types
        time.sleep(0.05)


@pytest.fixture
def metrics_server(fresh_server):
    # Auth requests limited to 3 a day so the fourth is refused; presence never goes offline
    # during the test (no offline events to count).
    return fresh_server(env={"PARLEY_METRICS_TOKEN": TOKEN, "PARLEY_RATE_AUTH": "3/day",
                             "PARLEY_PRESENCE_OFFLINE_DELAY": "1h"})


def family(samples: dict, name: str, skip=()) -> dict:
    """The non-zero series of one family: {labels as a sorted tuple: value}."""
    return {tuple(sorted(labels)): v for (n, labels), v in samples.items()
            if n == name and v != 0 and not any(pair in labels for pair in skip)}


def check_histograms(samples: dict, types: dict) -> int:
    """Every histogram series: buckets non-decreasing in `le` order, `+Inf` == `_count`, a
    `_sum`. Returns how many series were checked."""
    checked = 0
    for name, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (n, labels), v in samples.items():
            if n != name + "_bucket":
                continue
            le = dict(labels)["le"]
            rest = frozenset(p for p in labels if p[0] != "le")
            series.setdefault(rest, []).append((float(le), v))
        for rest, buckets in series.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), f"{name}{dict(rest)}: buckets decrease: {buckets}"
            assert buckets[-1][0] == float("inf"), f"{name}{dict(rest)}: no +Inf bucket"
            assert samples[(name + "_count", rest)] == counts[-1], f"{name}{dict(rest)}"
            assert samples[(name + "_sum", rest)] >= 0, f"{name}{dict(rest)}"
            checked += 1
    return checked


def L(**labels) -> tuple:
    return tuple(sorted(labels.items()))


def test_counters_after_a_scripted_workload(metrics_server):
    srv = metrics_server
    # REST: two registrations and a failed login use the 3 auth requests of the day; the
    # fourth is refused (429) before it runs.
    alice = register(srv)
    bob = register(srv)
    r = api(srv).post("/api/auth/login", json={"username": alice["username"], "password": "nope"})
    assert r.status_code == 400, r.text
    r = api(srv).post("/api/auth/login", json={"username": alice["username"],
                                                "password": alice["password"]})
    assert r.status_code == 429, r.text
    team = create_team(srv, alice)
    code = invite(srv, alice, team["id"])["invite_code"]
    assert_json(join(srv, bob, code), 200)  # member_added: team + user scope
    chan = create_channel(srv, alice, team["id"], name="general")  # channel_created: team
    direct = dm(srv, alice, team["id"], bob)  # channel_created to bob: user
    a = api(srv, alice["access"])
    assert_json(a.post(MESSAGES, json={"channel": chan["id"], "content": "rest"}), 201)
    assert_json(a.post(MESSAGES, json={"channel": direct["id"], "content": "dm"}), 201)
    assert_json(a.get(f"{TEAMS}{team['id']}/"), 200)
    assert api(srv).get(f"/api/nope/{team['id']}/").status_code == 404
    assert api(srv).get(TEAMS).status_code == 401  # not_authenticated
    assert handshake(srv)[0] == 401  # no token
    assert handshake(srv, path="/ws/chat/?token=bad")[0] == 401  # token_not_valid

    # WebSocket: each connection announces its user online to the team (one user_presence
    # each, delivered to every open socket of the team: 1 + 2).
    sa = connect(srv, alice["access"])
    sa.recv_type("user_presence")
    sb = connect(srv, bob["access"])
    sb.recv_type("user_presence")
    sa.recv_type("user_presence")
    samples, _ = parse(scrape(srv))
    assert value(samples, "parley_ws_connections") == 2
    assert value(samples, "parley_online_users") == 2
    sa.send_json({"message_type": "ping"})
    sa.recv_type("pong")
    sa.send_json({"message_type": "channel_message", "channel": chan["id"], "content": "ws",
                  "request_id": "r1"})
    sa.recv_type("ack")
    live = sa.recv_type("channels")  # delivered to both sockets
    sb.recv_type("channels")
    sa.send_text("not json")
    assert sa.recv_type("error")["code"] == "parse_error"
    sa.send_json({"message_type": "nope"})
    assert sa.recv_type("error")["code"] == "unknown_message_type"
    sa.send_json({"message_type": "resume", "request_id": "r2", "channels": {
        str(chan["id"]): {"offset": live["offset"], "epoch": live["epoch"]},  # recovered
        str(direct["id"]): 999,  # ahead of the stream: resync_required
        "987654": 0}})  # not_found
    sa.recv_type("resumed")
    sa.close()
    sb.close()
    samples, types = wait_for(srv, "parley_ws_disconnects_total", 2, code="1000")

    assert family(samples, "parley_http_requests_total",
                  skip=[("route", "/readyz/"), ("route", "/metrics/")]) == {
        L(method="POST", route="/api/auth/register/", status="201"): 2,
        L(method="POST", route="/api/auth/login/", status="400"): 1,
        L(method="POST", route="/api/auth/login/", status="429"): 1,
        L(method="POST", route="/api/chat/teams/", status="201"): 1,
        L(method="POST", route="/api/chat/teams/{id}/create_invitation/", status="200"): 1,
        L(method="POST", route="/api/chat/teams/join_via_invitation/", status="200"): 1,
        L(method="POST", route="/api/chat/channels/", status="201"): 1,
        L(method="POST", route="/api/chat/channels/create_or_get_dm_channel/", status="200"): 1,
        L(method="POST", route="/api/chat/messages/", status="201"): 2,
        L(method="GET", route="/api/chat/teams/{id}/", status="200"): 1,
        L(method="GET", route="unmatched", status="404"): 1,
        L(method="GET", route="/api/chat/teams/", status="401"): 1,
        L(method="GET", route="/ws/chat/", status="401"): 2,
        L(method="GET", route="/ws/chat/", status="101"): 2,
    }
    # Each request is observed once in its route's histogram too.
    assert value(samples, "parley_http_request_duration_seconds_count", method="POST",
                 route="/api/chat/messages/") == 2
    assert value(samples, "parley_http_request_duration_seconds_count", method="GET",
                 route="/ws/chat/") == 4
    assert value(samples, "parley_http_requests_in_flight") == 1  # this scrape
    assert value(samples, "parley_ws_connections") == 0
    assert value(samples, "parley_ws_connections_total") == 2
    assert value(samples, "parley_online_users") == 0
    assert family(samples, "parley_ws_handshake_failures_total") == {
        L(reason="not_authenticated"): 1, L(reason="token_not_valid"): 1}
    assert family(samples, "parley_ws_frames_received_total") == {
        L(message_type="ping"): 1, L(message_type="channel_message"): 1,
        L(message_type="resume"): 1, L(message_type="invalid"): 2}
    assert family(samples, "parley_ws_frames_sent_total") == {
        L(type="hello"): 2, L(type="user_presence"): 3, L(type="pong"): 1, L(type="ack"): 1,
        L(type="channels"): 2, L(type="error"): 2, L(type="resync_required"): 1,
        L(type="resumed"): 1}
    assert family(samples, "parley_ws_errors_total") == {
        L(code="parse_error"): 1, L(code="unknown_message_type"): 1}
    assert family(samples, "parley_ws_disconnects_total") == {L(code="1000"): 2}
    assert family(samples, "parley_messages_created_total") == {
        L(channel_type="group"): 2, L(channel_type="direct"): 1}
    assert family(samples, "parley_events_published_total") == {
        L(scope="channel"): 3, L(scope="team"): 4, L(scope="user"): 2}
    assert value(samples, "parley_event_deliveries_total") == 5
    assert family(samples, "parley_resume_channels_total") == {
        L(status="recovered"): 1, L(status="resync_required"): 1, L(status="not_found"): 1}
    assert family(samples, "parley_rate_limited_total") == {L(bucket="auth"): 1}
    assert family(samples, "parley_auth_failures_total") == {
        L(reason="invalid_credentials"): 1, L(reason="not_authenticated"): 1,
        L(reason="token_not_valid"): 1}
    assert value(samples, "parley_uploads_bytes_total") == 0
    assert family(samples, "parley_link_preview_fetches_total") == {}
    assert value(samples, "parley_db_errors_total") == 0
    assert value(samples, "parley_db_query_duration_seconds_count", backend=backend()) > 0
    pool = family(samples, "parley_db_pool_connections")
    assert sum(pool.values()) >= 1 and set(pool) <= {L(state="idle"), L(state="in_use")}
    assert value(samples, "parley_build_info", version=version(srv)) == 1
    assert value(samples, "process_resident_memory_bytes") > 1e6
    assert value(samples, "process_open_fds") > 3
    assert abs(value(samples, "process_start_time_seconds") - time.time()) < 600
    assert check_histograms(samples, types) >= 10


def version(srv) -> str:
    """The semver of `parley --version` ("parley 0.1.0")."""
    return srv.cli("--version").stdout.strip().split(" ", 1)[1]


def test_the_token_is_required_when_set(metrics_server):
    url = metrics_server.base_url + "/metrics"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer"}):
        r = requests.get(url, headers=headers, timeout=10)
        assert r.status_code == 401, (headers, r.status_code)
        assert r.json()["code"] == "not_authenticated"
    r = requests.get(url, headers={"Authorization": f"bearer  {TOKEN}"}, timeout=10)
    assert r.status_code == 200
    samples, _ = parse(r.text)
    assert value(samples, "parley_http_requests_total", method="GET", route="/metrics/",
                 status="401") == 5


def test_open_without_a_token_and_both_slash_forms(server):
    for path in ("/metrics", "/metrics/"):
        r = requests.get(server.base_url + path, timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "# TYPE parley_http_requests_total counter" in r.text


def test_promtool_accepts_the_output(server, user):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; scripts/install-deps)")
    # Some traffic first, so every kind of family has samples.
    assert_json(api(server, user["access"]).get(TEAMS), 200)
    with connect(server, user["access"]) as sock:
        sock.ping()
    text = requests.get(server.base_url + "/metrics", timeout=10).text
    samples, types = parse(text)
    assert check_histograms(samples, types) >= 2
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_queries_parse(tmp_path):
    """docs/operations/grafana-parley.json: every query is valid PromQL (promtool check rules)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; scripts/install-deps)")
    root = pathlib.Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "docs/operations/grafana-parley.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 6
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"parley:dashboard_{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
