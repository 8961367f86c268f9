"""Restart (API.md §2.1, §2.3, §10.1): a clean SIGTERM exit, then the same data folder and database
serve the same users, tokens and blacklist; the generated key persists with mode 0600."""
import stat

from support import jwt
from support.client import api, assert_401, assert_json, login, register, token_not_valid

ME = "/api/auth/me/"


def test_restart_keeps_users_tokens_and_key(fresh_server):
    srv = fresh_server()
    u = register(srv)
    revoked = login(srv, u["username"])
    r = api(srv, revoked["access"]).post("/api/auth/logout", json={"refresh": revoked["refresh"]})
    assert r.status_code == 200, r.text
    me_before = assert_json(api(srv, u["access"]).get(ME), 200)

    key_path = srv.data_dir / "secret_key"
    assert key_path.is_file(), "development key generated in <data dir>/secret_key (§2.1)"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = key_path.read_bytes()
    assert len(key) > 0

    srv.stop()                      # SIGTERM, asserts exit status 0
    assert key_path.read_bytes() == key
    srv.start()

    assert key_path.read_bytes() == key, "the key is generated once, not per start"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    # The old access token still works: same key, same user.
    assert_json(api(srv, u["access"]).get(ME), 200, me_before)
    assert api(srv).post("/api/auth/token/refresh/", json={"refresh": u["refresh"]}).status_code \
        == 200
    again = login(srv, u["username"])
    assert again["id"] == u["id"]
    # The blacklist survives too.
    assert_401(api(srv, revoked["access"]).get(ME), token_not_valid("Token is blacklisted"))
    r = api(srv).post("/api/auth/token/refresh/", json={"refresh": revoked["refresh"]})
    assert_json(r, 401, {"detail": "Token is blacklisted", "code": "token_not_valid"})
    assert_json(api(srv).get("/readyz"), 200)


def test_restart_twice_and_register_after(fresh_server):
    srv = fresh_server()
    first = register(srv)
    srv.restart()
    srv.restart()
    second = register(srv)
    assert second["id"] > first["id"]
    assert assert_json(api(srv, first["access"]).get(ME), 200)["id"] == first["id"]
    assert assert_json(api(srv, second["access"]).get(ME), 200)["id"] == second["id"]


def test_configured_key_is_used_and_not_written(fresh_server):
    key = "k" * 40
    srv = fresh_server(env={"PARLEY_SECRET_KEY": key})
    u = register(srv)
    assert jwt.signature_ok(u["access"], key.encode())   # §13.12: the UTF-8 bytes as configured
    # §2.1: a key is generated only when none is configured.
    assert not (srv.data_dir / "secret_key").exists()
    srv.restart()
    assert assert_json(api(srv, u["access"]).get(ME), 200)["id"] == u["id"]
