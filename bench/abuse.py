#!/usr/bin/python3
"""The abuse scenario (issue: hold up under hostile load): for each attack, a legitimate user
keeps chatting (one REST call and one WebSocket message awaited until its own event, every
200 ms) while the attack runs; reports the legitimate client's p50/p99 for REST and for the
WebSocket, and the server's RSS and descriptors before, at peak, and after.

    PARLEY_BIN=build/release/src/app/parley bench/abuse.py                  # every attack
    PARLEY_BIN=build/release/src/app/parley bench/abuse.py --nofile 1024    # fd limit 1,024
    PARLEY_BIN=... bench/abuse.py --attacks slow_headers,login_flood --json-out results.jsonl

Each attack gets a fresh server in its default configuration (rate limits on), except where the
attack needs a setting to be reachable at this scale (named in its row). Attacks come from the
end-to-end suite's drivers (tests/support/attacks_*.py), so the bench and the tests attack the
same way; everything stays on loopback and is bounded in count and time.
"""
import argparse
import json
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

from support import abuse  # noqa: E402
from support.server import Server  # noqa: E402

from bench_attacks import ATTACKS  # noqa: E402  (bench/bench_attacks.py)


def baseline(srv, rounds):
    probe = abuse.LegitUser(srv)
    try:
        probe.sample(rounds)
        return probe.summary()
    finally:
        probe.close()


def run_attack(name, spec, nofile, rounds, extra_env=None):
    env = dict(spec.get("env", {}))
    env.update(extra_env or {})
    srv = Server(env=env, name=f"abuse-{name}", nofile=nofile)
    srv.start()
    try:
        pid = srv.proc.pid
        base = baseline(srv, rounds)
        probe = abuse.LegitUser(srv)
        before = {"rss_kib": abuse.rss_kib(pid), "fds": abuse.fd_count(pid)}
        watch = abuse.RssWatch(pid)
        t0 = time.monotonic()
        with probe.running():
            spec["run"](srv)
        took = time.monotonic() - t0
        watch.stop()
        time.sleep(1.0)  # let closed connections go
        after = {"rss_kib": abuse.rss_kib(pid), "fds": abuse.fd_count(pid)}
        attacked = probe.summary()
        probe.close()
        return {
            "attack": name, "nofile": nofile, "seconds": round(took, 1),
            "unattacked": base, "attacked": attacked,
            "rss_before_mib": round(before["rss_kib"] / 1024, 1),
            "rss_peak_growth_mib": round(watch.peak_growth_kib / 1024, 1),
            "rss_after_mib": round(after["rss_kib"] / 1024, 1),
            "fds_before": before["fds"], "fds_after": after["fds"],
            "server_up": srv.running,
            "p99_within_2x": (attacked["rest_p99_ms"] <= 2 * max(base["rest_p99_ms"], 5) and
                              attacked["ws_p99_ms"] <= 2 * max(base["ws_p99_ms"], 5)),
        }
    finally:
        srv.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--attacks", default=",".join(ATTACKS),
                    help="comma-separated, of: " + ", ".join(ATTACKS))
    ap.add_argument("--nofile", type=int, default=0,
                    help="the server's RLIMIT_NOFILE (soft and hard); 0 keeps the shell's")
    ap.add_argument("--rounds", type=int, default=20, help="unattacked probe rounds")
    ap.add_argument("--json-out", help="append one JSON line per attack to this file")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting for every attack's server (repeatable)")
    args = ap.parse_args()
    if args.nofile:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if args.nofile > hard:
            sys.exit(f"--nofile {args.nofile} is above this shell's hard limit {hard}")
    names = [n for n in args.attacks.split(",") if n]
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        sys.exit(f"unknown attacks: {unknown}; known: {list(ATTACKS)}")
    rows = []
    for name in names:
        extra = dict(kv.split("=", 1) for kv in args.env)
        row = run_attack(name, ATTACKS[name], args.nofile or None, args.rounds, extra)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json_out:
            with open(args.json_out, "a") as f:
                f.write(json.dumps(row) + "\n")
    print()
    head = (f"{'attack':<22} {'REST p50/p99 ms':>18} {'(unattacked)':>14} {'WS p50/p99 ms':>16} "
            f"{'(unattacked)':>14} {'RSS peak +MiB':>13} {'fds before/after':>17} {'fail':>4}")
    print(head)
    for r in rows:
        a, b = r["attacked"], r["unattacked"]
        print(f"{r['attack']:<22} {a['rest_p50_ms']:>8.1f}/{a['rest_p99_ms']:<9.1f} "
              f"{b['rest_p99_ms']:>13.1f} {a['ws_p50_ms']:>7.1f}/{a['ws_p99_ms']:<8.1f} "
              f"{b['ws_p99_ms']:>13.1f} {r['rss_peak_growth_mib']:>13.1f} "
              f"{r['fds_before']:>8}/{r['fds_after']:<8} {a['failures']:>4}")
    ok = all(r["server_up"] and r["attacked"]["failures"] == 0 for r in rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
