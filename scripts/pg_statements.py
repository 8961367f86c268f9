"""The body of scripts/pg-statements: statements and round trips per API operation on PostgreSQL.

Runs inside scripts/with-postgres with pg_stat_statements loaded (the wrapper does that)."""
import argparse
import collections
import os
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support import client, ws  # noqa: E402
from support.server import Server  # noqa: E402

TEAM_SIZE = 100
HISTORY = 100


def psql(db: str, sql: str) -> str:
    """Runs sql as the superuser over the server's socket; returns unaligned output."""
    proc = subprocess.run(
        ["psql", "-X", "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h",
         os.environ["PARLEY_PG_SOCKET_DIR"], "-p", os.environ["PARLEY_PG_PORT"], "-U", "postgres",
         "-d", db, "-c", sql], capture_output=True, text=True, check=True)
    return proc.stdout


def segments_sent(pid: int, port: str) -> int:
    """Data segments parley (pid) has sent on its open connections to PostgreSQL."""
    out = subprocess.run(["ss", "-tinpH", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    total = 0
    # ss prints each socket on one line, its TCP info on the next.
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if f"pid={pid}," not in line or i + 1 >= len(lines):
            continue
        m = re.search(r"data_segs_out:(\d+)", lines[i + 1])
        if m:
            total += int(m.group(1))
    return total


def statements(db: str) -> list:
    """(calls, toplevel, query) of the server database since the last reset; nested statements
    (foreign-key checks run by triggers) have toplevel false."""
    out = psql(db, "SELECT s.calls, s.toplevel, regexp_replace(s.query, '\\s+', ' ', 'g') "
               "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
               f"WHERE d.datname = '{db}' ORDER BY s.calls DESC, s.query")
    rows = []
    for line in out.splitlines():
        calls, toplevel, query = line.split("\t", 2)
        rows.append((int(calls), toplevel == "t", query))
    return rows


def setup(server, db):
    owner = client.register(server)
    poster = client.register(server)
    api = client.api(server, owner["access"])
    r = api.post("/api/chat/teams/", json={"name": "bench", "description": ""})
    assert r.status_code == 201, r.text
    team = r.json()["id"]
    # The other members straight into the database: registering 98 accounts would cost 98
    # password hashes (and add_member only adds users the caller can already see).
    extra = TEAM_SIZE - 2
    psql(db, f"""
        INSERT INTO users (username, email, password_hash, date_joined)
        SELECT 'member_' || g, 'member_' || g || '@example.com', '!', 0
        FROM generate_series(1, {extra}) g;
        INSERT INTO team_members (team_id, user_id)
        SELECT {team}, id FROM users WHERE username LIKE 'member\\_%' OR id = {poster["id"]};""")
    r = api.post("/api/chat/channels/", json={"name": "general", "team": team})
    assert r.status_code == 201, r.text
    channel = r.json()["id"]
    assert len(r.json()["members"]) == TEAM_SIZE
    papi = client.api(server, poster["access"])
    for i in range(HISTORY):
        r = papi.post("/api/chat/messages/", json={"channel": channel, "content": f"history {i}"})
        assert r.status_code == 201, r.text
    return owner, poster, team, channel


def operations(server, owner, poster, team, channel):
    api = client.api(server, owner["access"])
    papi = client.api(server, poster["access"])
    counter = iter(range(10 ** 9))

    def teams():
        r = api.get("/api/chat/teams/")
        assert r.status_code == 200 and len(r.json()[0]["members"]) == TEAM_SIZE, r.text

    def history():
        r = api.get(f"/api/chat/channels/{channel}/messages/?limit={HISTORY}")
        assert r.status_code == 200 and len(r.json()) == HISTORY, r.text

    def post():
        r = papi.post("/api/chat/messages/", json={"channel": channel, "content": "hello"})
        assert r.status_code == 201, r.text

    def team_channels():
        r = api.post("/api/chat/channels/team_id/", json={"team_id": str(team)})
        assert r.status_code == 200, r.text

    def create_channel():
        r = api.post("/api/chat/channels/", json={"name": f"c{next(counter)}", "team": team})
        assert r.status_code == 201, r.text

    def ws_members():
        with ws.connect(server, owner["access"]) as c:
            reply = c.request({"message_type": "get_team_members", "team_id": str(team)},
                              "team_members")
            assert len(reply["members"]) == TEAM_SIZE, reply

    return [
        ("GET /api/chat/teams/ (1 team, 100 members)", teams),
        ("GET /api/chat/channels/{id}/messages/?limit=100", history),
        ("POST /api/chat/messages/", post),
        ("POST /api/chat/channels/team_id/ (list)", team_channels),
        ("POST /api/chat/channels/ (create, 100 members)", create_channel),
        ("WS connect + get_team_members + close", ws_members),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200, help="repetitions per operation")
    parser.add_argument("--bin", help="parley binary (default $PARLEY_BIN or the debug build)")
    parser.add_argument("--quiet", action="store_true", help="the summary table only")
    parser.add_argument("--no-cache", action="store_true",
                        help="PARLEY_CACHE_ENTRIES=0: every lookup reads the database (issue #16)")
    args = parser.parse_args()
    if args.bin:
        os.environ["PARLEY_BIN"] = args.bin
    env = {"PARLEY_LOG_LEVEL": "error"}
    if args.no_cache:
        env["PARLEY_CACHE_ENTRIES"] = "0"
    server = Server(env=env).start()
    db = server.env["DATABASE_URL"].rsplit("/", 1)[1]
    port = os.environ["PARLEY_PG_PORT"]
    psql(db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    summary = []
    try:
        owner, poster, team, channel = setup(server, db)
        for name, op in operations(server, owner, poster, team, channel):
            for _ in range(5):  # warm up: statements prepared, connections open
                op()
            time.sleep(0.5)
            psql(db, "SELECT pg_stat_statements_reset()")
            sent = segments_sent(server.proc.pid, port)
            start = time.monotonic()
            for _ in range(args.n):
                op()
            elapsed = time.monotonic() - start
            time.sleep(0.5)  # work after a WebSocket close (presence) lands
            trips = (segments_sent(server.proc.pid, port) - sent) / args.n
            rows = [r for r in statements(db) if "pg_stat_statements" not in r[2]]
            total = sum(c for c, top, _ in rows if top) / args.n
            nested = sum(c for c, top, _ in rows if not top) / args.n
            summary.append((name, total, nested, trips, elapsed / args.n * 1e3))
            if not args.quiet:
                print(f"\n== {name}: {total:.2f} statements (+{nested:.2f} nested), "
                      f"{trips:.2f} round trips, {elapsed / args.n * 1e3:.2f} ms per operation "
                      f"(N={args.n})")
                for calls, top, query in rows:
                    print(f"  {calls / args.n:6.2f} {' ' if top else 'n'} {query[:150]}")
    finally:
        server.close()
    print("\n| operation | statements | nested (FK checks) | round trips | ms/op (client) |\n"
          "|---|---|---|---|---|")
    for name, total, nested, trips, ms in summary:
        print(f"| {name} | {total:.2f} | {nested:.2f} | {trips:.2f} | {ms:.2f} |")


if __name__ == "__main__":
    main()
