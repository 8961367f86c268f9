#!/usr/bin/python3
"""Upload throughput and the server's peak memory while a large file streams in (API.md §7.1).

Starts `parley serve` (a binary given, read-only use) on a free loopback port with a temporary
data folder (SQLite), PARLEY_MAX_UPLOAD_BYTES raised above the size, all rate limits off; registers
a user; then, per run, POSTs one multipart/form-data body of SIZE MiB (Content-Length set, sent in
1 MiB pieces from memory) to /api/chat/upload-file/ and times it from the first byte sent to the
201. The server's VmRSS/VmHWM (/proc/PID/status) are read before the first run and after each
one, the peak reset first (clear_refs); the download of the last file is timed too. Traffic stays on 127.0.0.1.

    bench/upload.py [--bin PATH] [--size-mib 200] [--runs 3] [--pin]

--pin puts the server on core 0 and this client on core 1 (taskset), as bench/run does.
"""
import argparse
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024  # MiB
    return out


def reset_peak(pid: int) -> None:
    """Resets VmHWM to the current RSS (Linux >= 4.0): the start-up peak (the password hash of
    register and login takes tens of MiB) would otherwise hide any growth below it."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    h = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
    h.update(headers or {})
    conn.request(method, path, data, h)
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    return r.status, payload


def upload(port, token, size):
    """One streamed upload; returns (seconds, response body)."""
    boundary = "bench" + uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    piece = b"\xab" * MiB
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.putrequest("POST", "/api/chat/upload-file/")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.endheaders()
    started = time.perf_counter()
    conn.send(head)
    left = size
    while left > 0:
        n = min(MiB, left)
        conn.send(piece if n == MiB else piece[:n])
        left -= n
    conn.send(tail)
    r = conn.getresponse()
    body = r.read()
    took = time.perf_counter() - started
    conn.close()
    if r.status != 201:
        raise SystemExit(f"upload: HTTP {r.status}: {body[:300]!r}")
    return took, json.loads(body)


def download(port, token, file_id, size):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", f"/api/chat/{file_id}/download/", headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    got = 0
    while True:
        chunk = r.read(MiB)
        if not chunk:
            break
        got += len(chunk)
    took = time.perf_counter() - started
    conn.close()
    if r.status != 200 or got != size:
        raise SystemExit(f"download: HTTP {r.status}, {got} bytes")
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "build/debug/src/app/parley"))
    ap.add_argument("--size-mib", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pin", action="store_true")
    args = ap.parse_args()
    size = args.size_mib * MiB

    root = pathlib.Path(tempfile.mkdtemp(prefix="parley-bench-upload-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"PARLEY_RATE_AUTH": "off", "PARLEY_RATE_API": "off", "PARLEY_RATE_MESSAGES": "off",
                "PARLEY_RATE_WS": "off", "PARLEY_LOG_LEVEL": "warn",
                "PARLEY_MAX_UPLOAD_BYTES": str(size + MiB)})
    cmd = [args.bin, "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(root / "data")]
    if args.pin:
        cmd = ["taskset", "-c", "0"] + cmd
        os.sched_setaffinity(0, {1})
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(port, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start:\n{(root / 'server.log').read_text()}")
            time.sleep(0.05)
        name = "bench" + uuid.uuid4().hex[:8]
        status, body = request(port, "POST", "/api/auth/register",
                               {"username": name, "email": f"{name}@example.com",
                                "password": "bench-password-1"})
        assert status == 201, body
        status, body = request(port, "POST", "/api/auth/login",
                               {"username": name, "password": "bench-password-1"})
        assert status == 200, body
        token = json.loads(body)["access"]

        reset_peak(proc.pid)
        base = memory(proc.pid)
        print(f"binary {args.bin}")
        print(f"server idle: VmRSS {base['VmRSS']:.1f} MiB, VmHWM {base['VmHWM']:.1f} MiB")
        rates, peaks = [], []
        last = None
        for i in range(args.runs):
            took, last = upload(port, token, size)
            m = memory(proc.pid)
            rates.append(args.size_mib / took)
            peaks.append(m["VmHWM"])
            print(f"run {i + 1}: {args.size_mib} MiB in {took:.2f} s = {rates[-1]:.0f} MiB/s; "
                  f"VmRSS {m['VmRSS']:.1f} MiB, VmHWM {m['VmHWM']:.1f} MiB")
        took = download(port, token, last["id"], size)
        m = memory(proc.pid)
        print(f"download: {args.size_mib} MiB in {took:.2f} s = {args.size_mib / took:.0f} MiB/s; "
              f"VmHWM {m['VmHWM']:.1f} MiB")
        print(f"upload median {statistics.median(rates):.0f} MiB/s; peak RSS (VmHWM) "
              f"{max(peaks):.1f} MiB, {max(peaks) - base['VmHWM']:+.1f} MiB over idle")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
