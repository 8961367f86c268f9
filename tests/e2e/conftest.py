"""Fixtures that own the server (STYLE.md): `server` (one per session), `fresh_server` (a factory
for tests that need their own configuration or data), and accounts on them.

Run: scripts/test --e2e, or directly:
  PARLEY_BIN=build/debug/src/app/parley /usr/bin/python3 -m pytest -c tests/pytest.ini tests/e2e
PostgreSQL: scripts/with-postgres env PARLEY_E2E_BACKEND=postgres /usr/bin/python3 -m pytest ...
"""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from support import client  # noqa: E402
from support.server import Server, ServerError, backend, binary  # noqa: E402


def pytest_configure(config):
    try:
        backend()
    except ServerError as e:
        raise pytest.UsageError(str(e))


def pytest_report_header(config):
    return [f"parley: {binary()}", f"backend: {backend()}"]


@pytest.fixture(scope="session")
def e2e_backend() -> str:
    """'sqlite' or 'postgres' (PARLEY_E2E_BACKEND), for tests that label or branch on it."""
    return backend()


@pytest.fixture(scope="session")
def server():
    """The shared server: default configuration, rate limits off. Tests use unique usernames."""
    srv = Server(name="session")
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def fresh_server():
    """Factory: fresh_server(env={...}, args=[...], start=True, nofile=None) -> a server of this
    test only (`nofile`: its RLIMIT_NOFILE, soft and hard).

    `env` overrides the defaults (None removes a variable); with start=False the data folder and
    database exist but the process is not started (for CLI commands before `serve`)."""
    made = []

    def factory(env=None, args=(), start=True, name=None, nofile=None):
        srv = Server(env=env, args=args, name=name, nofile=nofile)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    failures = []
    for srv in made:
        try:
            srv.close()
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture
def user(server):
    """A newly registered user on the shared server (client.register's dict)."""
    return client.register(server)


@pytest.fixture(scope="session")
def staff(server):
    """A superuser created with `parley createsuperuser --no-input` while the server runs,
    logged in: client.login's dict."""
    made = client.create_superuser(server)
    return client.login(server, made["username"], made["password"])


# --- server logs in failure reports ----------------------------------------------------------------

def pytest_runtest_setup(item):
    item._parley_log_marks = {id(s): s.log_size() for s in Server.everyone}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    marks = getattr(item, "_parley_log_marks", {})
    for srv in Server.everyone:
        text = srv.log_text(marks.get(id(srv), 0)).strip()
        if not text:
            continue
        if len(text) > 12000:
            text = "...\n" + text[-12000:]
        report.sections.append((f"parley log ({srv.name}, {report.when})", text))
