"""Starts, restarts and stops a real `parley serve` for the end-to-end tests.

STYLE.md, "End-to-end tests own their server": a free port, a temporary data folder, a fresh
database (PostgreSQL runs), readiness through /readyz, SIGTERM by PID and a clean exit asserted.
"""
import ctypes
import functools
import itertools
import os
import pathlib
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT_S = float(os.environ.get("PARLEY_E2E_START_TIMEOUT", "20"))
STOP_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 120.0

# Test settings every server gets unless a test overrides them (None removes a variable).
DEFAULT_ENV = {
    "PARLEY_RATE_AUTH": "off",
    "PARLEY_RATE_API": "off",
    "PARLEY_RATE_MESSAGES": "off",
    "PARLEY_RATE_WS": "off",
    "PARLEY_LOG_LEVEL": "warn",
}

_RUN_ID = uuid.uuid4().hex[:8]
_counter = itertools.count(1)


class ServerError(RuntimeError):
    """The server could not be started; the message carries its log."""


def binary() -> pathlib.Path:
    """The parley binary under test: $PARLEY_BIN, default build/debug/src/app/parley."""
    path = pathlib.Path(os.environ.get("PARLEY_BIN") or "build/debug/src/app/parley")
    if not path.is_absolute():
        path = ROOT / path
    return path


def check_binary() -> pathlib.Path:
    path = binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServerError(
            f"parley binary not found at {path}: build it (scripts/test builds the debug preset) "
            "or point PARLEY_BIN at it")
    return path


def backend() -> str:
    """'sqlite' or 'postgres': $PARLEY_E2E_BACKEND, else inferred from $DATABASE_URL."""
    url = os.environ.get("DATABASE_URL", "")
    name = os.environ.get("PARLEY_E2E_BACKEND") or ("postgres" if is_postgres_url(url) else "sqlite")
    if name not in ("sqlite", "postgres"):
        raise ServerError(f"PARLEY_E2E_BACKEND must be sqlite or postgres, not {name!r}")
    if name == "postgres" and not is_postgres_url(url):
        raise ServerError("PARLEY_E2E_BACKEND=postgres needs DATABASE_URL=postgres://... "
                          "(run the suite under scripts/with-postgres)")
    return name


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _inherited_env() -> dict:
    """The runner's environment minus anything that would configure the server behind our back."""
    env = {}
    for k, v in os.environ.items():
        if k.startswith("PARLEY_") or k in ("DATABASE_URL", "REDIS_URL"):
            continue
        env[k] = v
    return env


def _die_with_parent(nofile=None):
    # A server must not outlive a killed test run (PR_SET_PDEATHSIG = 1).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass
    if nofile is not None:
        # Both limits: the server raises its soft limit to the hard one at start (API.md §0.8).
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))


def _psql(url: str, sql: str) -> None:
    proc = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"})
    if proc.returncode != 0:
        raise ServerError(f"psql failed ({sql}): {proc.stderr.strip()}")


def _with_database(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


class Server:
    """One parley server: its data folder, database, environment and process.

    Attributes: base_url, port, data_dir, proc, env (the full environment the server and the CLI
    commands run with; DATABASE_URL is set on PostgreSQL runs), name.
    """

    everyone: "list[Server]" = []  # every server of this test run, for failure reports

    def __init__(self, env=None, args=(), name=None, database_url=None, nofile=None):
        self.name = name or f"parley-{next(_counter)}"
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) of the process; None: inherited
        self.root = pathlib.Path(tempfile.mkdtemp(prefix=f"parley-e2e-{self.name}-"))
        self.data_dir = self.root / "data"
        self.data_dir.mkdir()
        self.log_path = self.root / "server.log"
        self.log_path.touch()
        self.args = list(args)
        self.proc = None
        self.port = None
        self.base_url = None
        self._database = None

        self.env = _inherited_env()
        self.env.update(DEFAULT_ENV)
        # Both serve (--data-dir below) and the CLI commands find the data folder through this.
        self.env["PARLEY_DATA_DIR"] = str(self.data_dir)
        if database_url is not None:
            # Another server's database (several instances of one deployment); not dropped here.
            self.env["DATABASE_URL"] = database_url
        elif backend() == "postgres":
            self._database = f"parley_e2e_{_RUN_ID}_{next(_counter)}"
            admin_url = os.environ["DATABASE_URL"]
            _psql(admin_url, f'CREATE DATABASE "{self._database}"')
            self.env["DATABASE_URL"] = _with_database(admin_url, self._database)
        for k, v in (env or {}).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = str(v)
        Server.everyone.append(self)

    # --- process ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "Server":
        """Starts `parley serve` on a free port and waits for /readyz (20 s at most)."""
        exe = check_binary()
        last_error = None
        for _ in range(3):  # another process may grab the free port before the server binds it
            self.port = free_port()
            self.base_url = f"http://127.0.0.1:{self.port}"
            cmd = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--data-dir", str(self.data_dir), *self.args]
            log_start = self.log_path.stat().st_size
            with open(self.log_path, "ab") as log:
                log.write(f"\n--- {' '.join(cmd)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    cmd, env=self.env, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=functools.partial(_die_with_parent, self.nofile))
            try:
                self._wait_ready()
                return self
            except ServerError as e:
                last_error = e
                in_use = "in use" in self.log_text(log_start).lower()
                if self.running:
                    self.proc.kill()
                    self.proc.wait()
                if not in_use:
                    break
        raise last_error

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerError(f"{self.name}: parley serve exited with {rc} before it was ready\n"
                                  f"{self.log_tail()}")
            try:
                r = requests.get(self.base_url + "/readyz", timeout=1)
                if r.status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name}: /readyz not 200 within {START_TIMEOUT_S:.0f} s\n"
                                  f"{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM; asserts that the server exits with status 0 within 15 s."""
        if self.proc is None:
            return 0
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"{self.name}: no exit within {STOP_TIMEOUT_S:.0f} s of SIGTERM"
                                     f"\n{self.log_tail()}")
        assert proc.returncode == 0, (f"{self.name}: exit status {proc.returncode} after SIGTERM "
                                      f"(expected 0)\n{self.log_tail()}")
        return proc.returncode

    def restart(self) -> "Server":
        """Stops (asserting a clean exit) and starts again on the same data folder and database."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Final teardown: stop (asserting a clean exit), then remove the folder and database."""
        try:
            self.stop()
        finally:
            if self._database:
                try:
                    _psql(os.environ["DATABASE_URL"],
                          f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
                except (ServerError, subprocess.TimeoutExpired):
                    pass
            if not os.environ.get("PARLEY_E2E_KEEP"):
                shutil.rmtree(self.root, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def cli(self, *args, input=None, env=None, timeout=CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
        """Runs `parley <args>` against this server's data folder and database (text output)."""
        full_env = dict(self.env)
        for k, v in (env or {}).items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = str(v)
        return subprocess.run(
            [str(check_binary()), *args], env=full_env, cwd=self.root, input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout)

    def secret_key(self) -> bytes:
        """The generated development key (<data dir>/secret_key), as the server signs with it."""
        return (self.data_dir / "secret_key").read_bytes()

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_text(self, start: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, limit: int = 8000) -> str:
        text = self.log_text()
        return ("...\n" + text[-limit:]) if len(text) > limit else text

    def __repr__(self) -> str:
        return f"<Server {self.name} {self.base_url}>"
