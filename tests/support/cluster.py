"""Several Parley instances of one deployment behind nginx, for the scale-out tests.

    with Cluster(2, env={...}) as c:     # instances share PARLEY_SECRET_KEY, DATABASE_URL, REDIS_URL
        c.instances[0], c.instances[1]   # support.server.Server objects (direct access)
        c.lb                             # nginx: .base_url/.port/.name like a Server
        c.kill(1)                        # SIGKILL, as a crash

The first instance owns the database (a fresh one on PostgreSQL runs); the others use it. Redis
comes from $REDIS_URL (scripts/with-redis), PostgreSQL from $DATABASE_URL (scripts/with-postgres).
nginx (Debian's nginx-light) runs in the foreground with a config in a temp folder, round robin
over the instances, WebSocket upgrade headers and a long proxy_read_timeout (README, "Running
several instances").
"""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import requests

from support.server import Server, ServerError, _die_with_parent, free_port

NGINX = os.environ.get("PARLEY_NGINX", "/usr/sbin/nginx")
SECRET = "scale-out-test-key-" + "k" * 48


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "")


def redis_ctl(*args) -> str:
    """Runs $PARLEY_REDIS_CLI (scripts/with-redis): stop, start, restart, flush, ping, cli ..."""
    ctl = os.environ.get("PARLEY_REDIS_CLI")
    if not ctl:
        raise ServerError("PARLEY_REDIS_CLI is not set: run under scripts/with-redis")
    proc = subprocess.run([ctl, *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0 and args[0] != "ping":
        raise ServerError(f"{ctl} {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def nginx_config(prefix: pathlib.Path, port: int, upstreams) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;"
                        for p in upstreams)
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream parley {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://parley;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""


class Balancer:
    """nginx in front of the instances; quacks like a Server for the test helpers."""

    def __init__(self, upstream_ports):
        self.name = "nginx"
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="parley-e2e-nginx-"))
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.root / kind).mkdir()
            os.chmod(self.root / kind, 0o777)  # nginx workers run as nobody under root
        os.chmod(self.root, 0o755)
        self.upstreams = list(upstream_ports)
        self.proc = None
        self.port = None
        self.base_url = None

    def start(self) -> "Balancer":
        if not os.access(NGINX, os.X_OK):
            raise ServerError(f"nginx not found at {NGINX} (scripts/install-deps: nginx-light)")
        for _ in range(3):
            self.port = free_port()
            self.base_url = f"http://127.0.0.1:{self.port}"
            conf = self.root / "nginx.conf"
            conf.write_text(nginx_config(self.root, self.port, self.upstreams))
            log = open(self.root / "stdout.log", "ab")
            self.proc = subprocess.Popen(
                [NGINX, "-p", str(self.root), "-c", str(conf), "-e", str(self.root / "error.log")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent)
            log.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if requests.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
                time.sleep(0.05)
            self.stop()
        raise ServerError(f"nginx did not start:\n{self.log_text()}")

    def log_text(self) -> str:
        out = []
        for name in ("error.log", "stdout.log"):
            path = self.root / name
            if path.exists():
                out.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(out)

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful: finish the open requests
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<Balancer {self.base_url}>"


class Cluster:
    """`count` instances sharing one database and one Redis, and nginx in front of them."""

    def __init__(self, count=2, env=None):
        if not redis_url():
            raise ServerError("REDIS_URL is not set: run under scripts/with-redis")
        # As the README's deployment: the instances believe nginx's X-Forwarded-For (nginx is on
        # loopback, a trusted proxy by default), and every connection comes from nginx's address,
        # so the per-address connection cap is off (API.md §0.8).
        common = {"PARLEY_SECRET_KEY": SECRET, "REDIS_URL": redis_url(),
                  "PARLEY_MAX_CONNECTIONS_PER_IP": "0", "PARLEY_TRUST_PROXY": "true"}
        common.update(env or {})
        self.instances = []
        self.lb = None
        first = Server(env=common, name="node-1")
        self.instances.append(first)
        # The first one creates the database (PostgreSQL runs) and migrates it before the others.
        db_url = first.env.get("DATABASE_URL")
        if db_url is None:
            raise ServerError("the scale-out tests need PostgreSQL (scripts/with-postgres)")
        for i in range(2, count + 1):
            self.instances.append(Server(env=common, name=f"node-{i}", database_url=db_url))

    def start(self) -> "Cluster":
        for srv in self.instances:
            srv.start()
        self.lb = Balancer([s.port for s in self.instances]).start()
        return self

    def kill(self, index: int) -> None:
        """SIGKILL one instance: no shutdown sequence, its sockets just drop (a crash)."""
        srv = self.instances[index]
        if srv.proc is not None:
            srv.proc.kill()
            srv.proc.wait()
            srv.proc = None

    def close(self) -> None:
        errors = []
        if self.lb is not None:
            self.lb.close()
        # The database owner last: it drops the database the others use.
        for srv in reversed(self.instances):
            try:
                srv.close()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
