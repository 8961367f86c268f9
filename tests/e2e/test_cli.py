"""The command line (API.md §10.1): version, help, usage errors, migrate, createsuperuser,
changepassword, check, and the production start-up refusal of §2.1."""
import re
import subprocess

import pytest

from support.client import api, assert_json, auth_error, login, register, unique_username
from support.server import check_binary, free_port

SEMVER = r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
TOO_SHORT = "This password is too short. It must contain at least 8 characters."
NUMERIC = "This password is entirely numeric."
INVALID_CREDENTIALS = auth_error("Invalid credentials", "invalid_credentials")


def run(*args, timeout=60):
    return subprocess.run([str(check_binary()), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def output(proc) -> str:
    return proc.stdout + proc.stderr


def lines(proc):
    return [line.strip() for line in output(proc).splitlines()]


@pytest.fixture
def sandbox(fresh_server):
    """A data folder and database with no server running (Server.cli runs commands on it)."""
    return fresh_server(start=False)


def test_version():
    proc = run("--version")
    assert proc.returncode == 0, output(proc)
    assert re.fullmatch(f"parley {SEMVER}", proc.stdout.strip()), proc.stdout


@pytest.mark.parametrize("args,mentions", [(["--help"], "serve"), (["serve", "--help"], "--port"),
                                           (["migrate", "--help"], "--check")])
def test_help(args, mentions):
    proc = run(*args)
    assert proc.returncode == 0, output(proc)
    assert mentions in proc.stdout, proc.stdout


@pytest.mark.parametrize("args", [["frobnicate"], ["serve", "--no-such-flag"],
                                  ["migrate", "--bogus"], ["--no-such-global-flag"]])
def test_usage_error_exits_2(args):
    proc = run(*args)
    assert proc.returncode == 2, output(proc)


def test_migrate_check(sandbox):
    first = sandbox.cli("migrate", "--check")
    assert first.returncode == 1, output(first)           # a fresh database has pending migrations
    applied = sandbox.cli("migrate")
    assert applied.returncode == 0, output(applied)
    after = sandbox.cli("migrate", "--check")
    assert after.returncode == 0, output(after)
    again = sandbox.cli("migrate")
    assert again.returncode == 0, output(again)           # nothing pending is not an error
    sandbox.start()                                       # serve finds nothing to apply
    assert_json(api(sandbox).get("/readyz"), 200)


def _superuser_env(username, password, email=None):
    return {"PARLEY_SUPERUSER_USERNAME": username,
            "PARLEY_SUPERUSER_EMAIL": email or f"{username}@example.com",
            "PARLEY_SUPERUSER_PASSWORD": password}


def test_createsuperuser_rules(sandbox):
    assert sandbox.cli("migrate").returncode == 0
    name = unique_username("admin")
    cases = [
        (_superuser_env(name, "short7!"), TOO_SHORT),
        (_superuser_env(name, "12345678"), NUMERIC),
        (_superuser_env(name + "!", "correct-horse-9"),
         "Username may contain only letters, digits and @/./+/-/_ and must be 1-150 characters long."),
        (_superuser_env(name, "correct-horse-9", email="not-an-email"),
         "Enter a valid email address."),
    ]
    for env, text in cases:
        proc = sandbox.cli("createsuperuser", "--no-input", env=env)
        assert proc.returncode == 1, output(proc)
        assert text in output(proc), output(proc)

    ok = sandbox.cli("createsuperuser", "--no-input", env=_superuser_env(name, "correct-horse-9"))
    assert ok.returncode == 0, output(ok)
    dup = sandbox.cli("createsuperuser", "--no-input",
                      env=_superuser_env(name.upper(), "correct-horse-9", f"other{name}@example.com"))
    assert dup.returncode == 1 and "Username already exists" in output(dup), output(dup)
    missing = sandbox.cli("createsuperuser", "--no-input",
                          env={"PARLEY_SUPERUSER_USERNAME": unique_username(),
                               "PARLEY_SUPERUSER_EMAIL": None, "PARLEY_SUPERUSER_PASSWORD": None})
    assert missing.returncode == 1, output(missing)

    sandbox.start()
    boss = login(sandbox, name, "correct-horse-9")
    assert assert_json(api(sandbox, boss["access"]).get("/api/auth/me/"), 200)["is_staff"] is True


def test_createsuperuser_while_serving(server):
    name = unique_username("live_admin")
    proc = server.cli("createsuperuser", "--no-input", env=_superuser_env(name, "correct-horse-9"))
    assert proc.returncode == 0, output(proc)
    boss = login(server, name, "correct-horse-9")
    assert assert_json(api(server, boss["access"]).get("/api/auth/me/"), 200)["is_staff"] is True


def test_changepassword(server):
    u = register(server)
    new = "brand-new-pass-7"
    proc = server.cli("changepassword", u["username"], "--password-stdin", input=new + "\n")
    assert proc.returncode == 0, output(proc)
    login(server, u["username"], new)
    r = api(server).post("/api/auth/login", json={"username": u["username"],
                                                  "password": u["password"]})
    assert_json(r, 400, INVALID_CREDENTIALS)


@pytest.mark.parametrize("password,text", [("short", TOO_SHORT), ("87654321", NUMERIC)])
def test_changepassword_rules(server, password, text):
    u = register(server)
    proc = server.cli("changepassword", u["username"], "--password-stdin", input=password + "\n")
    assert proc.returncode == 1, output(proc)
    assert text in output(proc), output(proc)
    login(server, u["username"], u["password"])           # unchanged


def test_changepassword_unknown_user(server):
    proc = server.cli("changepassword", unique_username("ghost"), "--password-stdin",
                      input="brand-new-pass-7\n")
    assert proc.returncode == 1, output(proc)


def test_check_production_without_key(sandbox):
    proc = sandbox.cli("check", env={"PARLEY_ENV": "production", "PARLEY_SECRET_KEY": None})
    assert proc.returncode == 1, output(proc)
    assert any(line.startswith("ERROR:") for line in lines(proc)), output(proc)


def test_check_production_short_key(sandbox):
    proc = sandbox.cli("check", env={"PARLEY_ENV": "production", "PARLEY_SECRET_KEY": "k" * 31})
    assert proc.returncode == 1, output(proc)
    assert any(line.startswith("ERROR:") for line in lines(proc)), output(proc)


def test_check_production_with_key(sandbox):
    proc = sandbox.cli("check", env={"PARLEY_ENV": "production", "PARLEY_SECRET_KEY": "k" * 48})
    assert proc.returncode == 0, output(proc)
    assert not any(line.startswith("ERROR:") for line in lines(proc)), output(proc)
    # CORS open to all origins in production is a warning (§10.1).
    assert any(line.startswith("WARNING:") and "cors" in line.lower() for line in lines(proc)), \
        output(proc)


def test_check_development_generated_key(sandbox):
    proc = sandbox.cli("check", env={"PARLEY_ENV": None, "PARLEY_SECRET_KEY": None})
    assert proc.returncode == 0, output(proc)
    assert any(line.startswith("WARNING:") and "key" in line.lower() for line in lines(proc)), \
        output(proc)
    assert not any(line.startswith("ERROR:") for line in lines(proc)), output(proc)


def test_serve_refuses_production_without_key(sandbox):
    # §2.1: a missing key, or one shorter than 32 bytes, stops the server at start (exit 1, §10.1).
    for key in (None, "k" * 31):
        proc = sandbox.cli("serve", "--host", "127.0.0.1", "--port", str(free_port()),
                           "--data-dir", str(sandbox.data_dir), timeout=30,
                           env={"PARLEY_ENV": "production", "PARLEY_SECRET_KEY": key})
        assert proc.returncode == 1, output(proc)
    assert not (sandbox.data_dir / "secret_key").exists()


def test_serve_production_with_key(fresh_server):
    srv = fresh_server(env={"PARLEY_ENV": "production", "PARLEY_SECRET_KEY": "p" * 64})
    u = register(srv)
    assert assert_json(api(srv, u["access"]).get("/api/auth/me/"), 200)["id"] == u["id"]
    srv.stop()
