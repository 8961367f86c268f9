"""HTTP conventions of API.md §0 on the foundation routes (§2, §3, §10.3): slashes, 404/405, CORS,
request ids, caching, request parsing and its limits, path ids, health endpoints."""
import json

import pytest

from support.client import (NOT_AUTHENTICATED, NOT_FOUND, REQUEST_ID, api, assert_json,
                            auth_error, bearer, raw_request, register, unique_username)

JSON = {"Content-Type": "application/json"}
ORIGIN = "http://localhost:3000"
EXPOSE = "Content-Disposition, Link, Retry-After, X-Request-Id"
ALLOW_METHODS = "DELETE, GET, OPTIONS, PATCH, POST, PUT"
ALLOW_HEADERS = ("accept, authorization, content-type, idempotency-key, user-agent, x-csrftoken, "
                 "x-request-id, x-requested-with")
PARSE_NOT_OBJECT = {"detail": "Expected a JSON object.", "code": "parse_error"}
TOO_LARGE = {"detail": "Request body too large. The limit is 1048576 bytes.",
             "code": "payload_too_large"}
REGISTER_RULE_1 = auth_error("Please provide username, email and password", "required")
LOGIN_REQUIRED = auth_error("Please provide both username and password", "required")


def both_forms(path: str):
    """The path with and without its trailing slash (§0.2), query kept."""
    base, sep, query = path.partition("?")
    stripped = base.rstrip("/")
    return [stripped + sep + query, stripped + "/" + sep + query]


# --- health ------------------------------------------------------------------------------------------

def test_healthz(server):
    assert_json(api(server).get("/healthz"), 200, {"status": "ok"})


def test_readyz(server):
    body = {"status": "ok", "checks": {"database": "ok", "redis": "disabled"}}
    assert_json(api(server).get("/readyz"), 200, body)


# --- trailing slashes (§0.2) -----------------------------------------------------------------------

def _without_tokens(body):
    return {k: v for k, v in body.items() if k not in ("access", "refresh", "user_id", "username",
                                                         "email")}


def test_slash_forms_register(server):
    results = []
    for path in both_forms("/api/auth/register"):
        name = unique_username()
        r = api(server).post(path, json={"username": name, "email": f"{name}@example.com",
                                         "password": "correct-horse-9"})
        body = assert_json(r, 201)
        assert body["username"] == name
        results.append(_without_tokens(body))
    assert results[0] == results[1]


def test_slash_forms_login(server, user):
    results = []
    for path in both_forms("/api/auth/login"):
        r = api(server).post(path, json={"username": user["username"], "password": user["password"]})
        body = assert_json(r, 200)
        assert body["user_id"] == user["id"]
        results.append(_without_tokens(body))
    assert results[0] == results[1]


def test_slash_forms_logout(server):
    for path in both_forms("/api/auth/logout"):
        u = register(server)
        r = api(server).post(path, token=u["access"], json={"refresh": u["refresh"]})
        assert_json(r, 200, {"message": "User logged out successfully"})


def test_slash_forms_refresh_and_verify(server, user):
    for path in both_forms("/api/auth/token/refresh/"):
        body = assert_json(api(server).post(path, json={"refresh": user["refresh"]}), 200)
        assert set(body) == {"access"}
    for path in both_forms("/api/auth/token/verify/"):
        assert_json(api(server).post(path, json={"token": user["access"]}), 200, {})


@pytest.mark.parametrize("path", [
    "/api/auth/me/",
    "/api/chat/users/",
    "/api/chat/users/{id}/",
    "/api/chat/users/in_team/",
    "/api/chat/users/in_team/?team_id=999999999",
    "/api/chat/users/in_channel/",
    "/api/chat/users/in_channel/?channel_id=999999999",
    "/api/chat/users/interacted/",
    "/api/chat/users/interacted/?team_id=999999999",
    "/healthz",
    "/readyz",
])
def test_slash_forms_get_routes(server, user, path):
    path = path.replace("{id}", str(user["id"]))
    answers = []
    for p in both_forms(path):
        r = api(server, user["access"]).get(p)
        assert r.status_code < 300 or r.status_code >= 400, f"{p}: redirect {r.status_code}"
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1]


def test_query_string_does_not_affect_matching(server, user):
    r = api(server, user["access"]).get("/api/auth/me?unused=1")
    assert assert_json(r, 200)["id"] == user["id"]


# --- unknown paths and methods (§0.3) --------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/api/nope"),
    ("GET", "/api/"),
    ("GET", "/api/auth/nope"),
    ("POST", "/api/auth/nope/"),
    ("GET", "/api/chat/nope/"),
    ("GET", "/api/chat/"),               # the DRF API root is not served (§0.1)
    ("GET", "/api/chat/users.json"),     # nor format-suffix variants
    ("GET", "/admin/"),
    ("GET", "/api/auth/login/extra"),
    ("DELETE", "/api/chat/users/in_team/extra/"),
])
def test_unknown_path_404(server, method, path):
    assert_json(api(server).request(method, path), 404, NOT_FOUND)


def _allow(r) -> set:
    return {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}


@pytest.mark.parametrize("method,path,allowed,authed", [
    ("PATCH", "/api/auth/login", {"POST"}, False),
    ("GET", "/api/auth/login/", {"POST"}, False),
    ("GET", "/api/auth/register", {"POST"}, False),
    ("DELETE", "/api/auth/register/", {"POST"}, False),
    ("GET", "/api/auth/token/refresh/", {"POST"}, False),
    ("PUT", "/api/auth/token/verify", {"POST"}, False),
    ("GET", "/api/auth/logout", {"POST"}, True),
    ("POST", "/api/auth/me/", {"GET"}, True),
    ("DELETE", "/api/auth/me", {"GET"}, True),
    ("POST", "/api/chat/users/", {"GET"}, True),
    ("DELETE", "/api/chat/users/{id}/", {"GET"}, True),
    ("PUT", "/api/chat/users/{id}", {"GET"}, True),
    ("POST", "/api/chat/users/in_team/", {"GET"}, True),
    ("PATCH", "/api/chat/users/in_channel/", {"GET"}, True),
    ("POST", "/api/chat/users/interacted/", {"GET"}, True),
    ("POST", "/healthz", {"GET"}, False),
    ("DELETE", "/readyz", {"GET"}, False),
])
def test_method_not_allowed(server, user, method, path, allowed, authed):
    # Chat routes are called with a valid token so that authentication cannot decide first.
    path = path.replace("{id}", str(user["id"]))
    r = api(server, user["access"] if authed else None).request(method, path, json={})
    assert_json(r, 405, {"detail": f'Method "{method}" not allowed.', "code": "method_not_allowed"})
    allow = _allow(r)
    # §0.3: the route's methods plus OPTIONS (HEAD tolerated alongside GET).
    assert allowed | {"OPTIONS"} <= allow, r.headers.get("Allow")
    assert method not in allow
    assert allow <= allowed | {"OPTIONS", "HEAD"}, r.headers.get("Allow")


# --- CORS (§0.10) -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path,request_method", [
    ("/api/auth/login", "POST"),
    ("/api/auth/login/", "POST"),
    ("/api/auth/register", "POST"),
    ("/api/auth/me/", "GET"),
    ("/api/chat/users/", "GET"),
    ("/api/chat/users/1/", "GET"),
    ("/api/chat/users/in_team/?team_id=1", "GET"),
    ("/healthz", "GET"),
])
def test_preflight(server, path, request_method):
    r = api(server).options(path, headers={
        "Origin": ORIGIN,
        "Access-Control-Request-Method": request_method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })
    assert r.status_code == 200, r.text
    assert r.content == b""
    assert r.headers.get("Access-Control-Allow-Origin") == "*"
    assert r.headers.get("Access-Control-Allow-Methods") == ALLOW_METHODS
    assert r.headers.get("Access-Control-Allow-Headers") == ALLOW_HEADERS
    assert r.headers.get("Access-Control-Max-Age") == "86400"
    assert r.headers.get("Access-Control-Expose-Headers") == EXPOSE
    assert "Access-Control-Allow-Credentials" not in r.headers


@pytest.mark.parametrize("method,path,authed,status", [
    ("GET", "/healthz", False, 200),
    ("GET", "/api/auth/me/", True, 200),
    ("GET", "/api/auth/me/", False, 401),
    ("POST", "/api/auth/login", False, 400),
    ("GET", "/api/nope", False, 404),
    ("PATCH", "/api/auth/login", False, 405),
])
def test_cors_headers_on_responses(server, user, method, path, authed, status):
    r = api(server, user["access"] if authed else None).request(
        method, path, headers={"Origin": ORIGIN}, json={})
    assert r.status_code == status
    assert r.headers.get("Access-Control-Allow-Origin") == "*"
    assert r.headers.get("Access-Control-Expose-Headers") == EXPOSE
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_cors_origins_list(fresh_server):
    allowed = "https://chat.example.com"
    srv = fresh_server(env={"PARLEY_CORS_ORIGINS": f"{allowed},http://localhost:3000"})
    c = api(srv)

    for origin in (allowed, "http://localhost:3000"):
        r = c.get("/healthz", headers={"Origin": origin})
        assert r.status_code == 200
        assert r.headers.get("Access-Control-Allow-Origin") == origin
        assert "origin" in {v.strip().lower() for v in r.headers.get("Vary", "").split(",")}
        assert r.headers.get("Access-Control-Expose-Headers") == EXPOSE

    r = c.options("/api/auth/login", headers={"Origin": allowed,
                                              "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == allowed
    assert r.headers.get("Access-Control-Allow-Methods") == ALLOW_METHODS

    # Another origin (also a look-alike) is processed but gets no CORS headers.
    name = unique_username()
    for origin in ("https://evil.example.com", "https://chat.example.com.evil.com",
                   "http://chat.example.com"):
        r = c.get("/healthz", headers={"Origin": origin})
        assert r.status_code == 200
        assert not any(h.lower().startswith("access-control-") for h in r.headers), r.headers
        r = c.options("/api/auth/login", headers={"Origin": origin,
                                                  "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in r.headers
    r = c.post("/api/auth/register", headers={"Origin": "https://evil.example.com"},
               json={"username": name, "email": f"{name}@example.com", "password": "correct-horse-9"})
    assert r.status_code == 201
    assert "Access-Control-Allow-Origin" not in r.headers


# --- X-Request-Id and Cache-Control (§0.12) --------------------------------------------------------

@pytest.mark.parametrize("rid", ["abc-123", "A.b_c-9", "x" * 64, "0"])
@pytest.mark.parametrize("path", ["/healthz", "/api/auth/me/", "/api/nope"])
def test_request_id_echoed(server, rid, path):
    r = api(server).get(path, headers={"X-Request-Id": rid})
    assert r.headers.get("X-Request-Id") == rid


@pytest.mark.parametrize("rid", ["x" * 65, "has space", "semi;colon", "a/b", "quote\"d", "tab\tid"])
def test_request_id_invalid_replaced(server, rid):
    r = api(server).get("/healthz", headers={"X-Request-Id": rid})
    got = r.headers.get("X-Request-Id")
    assert got and got != rid and REQUEST_ID.match(got), got


def test_request_id_generated(server):
    ids = [api(server).get("/healthz").headers.get("X-Request-Id") for _ in range(3)]
    assert all(i and REQUEST_ID.match(i) for i in ids), ids
    assert len(set(ids)) == 3
    r = api(server).post("/api/auth/login", json={})
    assert REQUEST_ID.match(r.headers.get("X-Request-Id", ""))


def test_cache_control_no_store(server):
    name = unique_username()
    c = api(server)
    r = c.post("/api/auth/register",
               json={"username": name, "email": f"{name}@example.com", "password": "correct-horse-9"})
    assert r.status_code == 201
    access = r.json()["access"]
    responses = [
        r,
        c.post("/api/auth/login", json={}),
        c.get("/api/auth/me/", token=access),
        c.get("/api/auth/me/"),
        c.get("/api/chat/users/", token=access),
        c.get("/api/chat/users/0/", token=access),
        c.post("/api/auth/token/verify/", json={"token": access}),
    ]
    for resp in responses:
        assert resp.headers.get("Cache-Control") == "no-store", (resp.url, resp.status_code)


# --- authorization header on unauthenticated endpoints (§2.2) ---------------------------------------

STALE_HEADERS = ["Bearer garbage", "Bearer", "Bearer a b", "Basic dXNlcjpwYXNz"]


@pytest.mark.parametrize("auth", STALE_HEADERS)
def test_unauthenticated_endpoints_ignore_authorization(server, user, auth):
    c = api(server)
    h = {"Authorization": auth}
    name = unique_username()
    r = c.post("/api/auth/register", headers=h,
               json={"username": name, "email": f"{name}@example.com", "password": "correct-horse-9"})
    assert r.status_code == 201, r.text
    r = c.post("/api/auth/login", headers=h,
               json={"username": user["username"], "password": user["password"]})
    assert r.status_code == 200, r.text
    r = c.post("/api/auth/token/refresh/", headers=h, json={"refresh": user["refresh"]})
    assert r.status_code == 200, r.text
    assert_json(c.post("/api/auth/token/verify/", headers=h, json={"token": user["access"]}), 200, {})
    assert_json(c.get("/healthz", headers=h), 200, {"status": "ok"})
    assert c.get("/readyz", headers=h).status_code == 200


@pytest.mark.parametrize("auth", ["Basic dXNlcjpwYXNz", "Token abcdef", "JWT abc.def.ghi"])
def test_other_scheme_is_anonymous(server, auth):
    r = api(server).get("/api/auth/me/", headers={"Authorization": auth})
    assert_json(r, 401, NOT_AUTHENTICATED)
    assert r.headers.get("WWW-Authenticate") == 'Bearer realm="api"'


# --- ids in paths (§0.4, §13.9) -------------------------------------------------------------------

@pytest.mark.parametrize("segment", ["abc", "0", "-1", "1.5", "7a", "+7", "99999999999999999999",
                                     "9223372036854775808"])
@pytest.mark.parametrize("slash", ["/", ""])
def test_invalid_path_id_404(server, user, segment, slash):
    r = api(server, user["access"]).get(f"/api/chat/users/{segment}{slash}")
    assert_json(r, 404, NOT_FOUND)


def test_path_id_leading_zeros(server, user):
    r = api(server, user["access"]).get(f"/api/chat/users/000{user['id']}/")
    assert_json(r, 200, {"id": user["id"], "username": user["username"], "email": user["email"]})


# --- request bodies (§0.3, §0.8) --------------------------------------------------------------------
# These run against the register and login endpoints (no auth) and the logout endpoint (auth);
# test_zz_server_unharmed_by_bad_input checks afterwards that the server and data are intact.

@pytest.fixture(scope="module")
def witness(server):
    """A user registered before the bad-input tests, and their /me."""
    u = register(server)
    me = assert_json(api(server, u["access"]).get("/api/auth/me/"), 200)
    return u, me


BODY_ENDPOINTS = ["/api/auth/register", "/api/auth/login"]

MALFORMED = [
    b'{"username": ',
    b"{username: 1}",
    b"{'username': 'x'}",
    b'{"a": 1,}',
    b'{"a": 1} x',
    b'{"a": NaN}',
    b"[1, 2",
    b"\x00",
]


def test_witness_created(witness):
    assert witness[1]["id"] == witness[0]["id"]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_malformed_json(server, path, body):
    r = api(server).post(path, data=body, headers=JSON)
    data = assert_json(r, 400)
    assert set(data) == {"detail", "code"} and data["code"] == "parse_error", data
    assert data["detail"].startswith("JSON parse error - "), data


@pytest.mark.parametrize("body", [b"[]", b'[{"username": "x"}]', b'"text"', b"42", b"null", b"true"])
@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_json_not_an_object(server, path, body):
    assert_json(api(server).post(path, data=body, headers=JSON), 400, PARSE_NOT_OBJECT)


@pytest.mark.parametrize("field,value", [
    ("username", 12345), ("username", ["a"]), ("email", 7), ("email", {"a": 1}),
    ("password", 12345678), ("password", True),
])
def test_register_wrong_types(server, field, value):
    name = unique_username()
    payload = {"username": name, "email": f"{name}@example.com", "password": "correct-horse-9"}
    payload[field] = value
    assert_json(api(server).post("/api/auth/register", json=payload), 400, REGISTER_RULE_1)


@pytest.mark.parametrize("payload", [{"username": 5, "password": "correct-horse-9"},
                                     {"username": "x", "password": 12345678}])
def test_login_wrong_types(server, payload):
    assert_json(api(server).post("/api/auth/login", json=payload), 400, LOGIN_REQUIRED)


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_body_too_large(server, path):
    body = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    status, headers, data = raw_request(server, "POST", path, {"Content-Type": "application/json"},
                                        body)
    assert status == 413, data[:300]
    assert headers.get("content-type", "").startswith("application/json")
    assert json.loads(data) == TOO_LARGE


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_unsupported_media_type(server, path, ctype):
    r = api(server).post(path, data=b"username=x&password=y", headers={"Content-Type": ctype})
    assert_json(r, 415, {"detail": f'Unsupported media type "{ctype}" in request.',
                         "code": "unsupported_media_type"})


def test_json_with_charset_parameter(server):
    r = api(server).post("/api/auth/register", data=b"{}",
                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert_json(r, 400, REGISTER_RULE_1)


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "application/json"},
                                     {"Content-Type": "text/plain"}])
def test_empty_body_is_empty_object(server, user, headers):
    c = api(server)
    assert_json(c.post("/api/auth/register", data=b"", headers=headers), 400, REGISTER_RULE_1)
    assert_json(c.post("/api/auth/login", data=b"", headers=headers), 400, LOGIN_REQUIRED)
    r = c.post("/api/auth/logout", data=b"", headers={**headers, **bearer(user["access"])})
    assert_json(r, 400, auth_error("Refresh token is required", "required"))
    r = c.post("/api/auth/token/refresh/", data=b"", headers=headers)
    assert_json(r, 400, {"refresh": ["This field is required."]})


def _nested(depth: int) -> bytes:
    # depth counts containers: the outer object is level 1.
    inner = depth - 1
    return b'{"username": ' + b"[" * inner + b"]" * inner + b"}"


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_nesting_too_deep(server, path):
    r = api(server).post(path, data=_nested(100), headers=JSON)
    data = assert_json(r, 400)
    assert data["code"] == "parse_error" and data["detail"].startswith("JSON parse error - ")


def test_nesting_at_limit_is_parsed(server):
    # §0.3: only nesting *deeper than* 64 levels is a parse error; 64 levels reach the rules.
    r = api(server).post("/api/auth/register", data=_nested(64), headers=JSON)
    assert_json(r, 400, REGISTER_RULE_1)


@pytest.mark.parametrize("body", [
    b'{"username": "\xff\xfe", "email": "a@example.com", "password": "correct-horse-9"}',
    b'{"username": "ab\xc0\xafcd", "email": "a@example.com", "password": "correct-horse-9"}',
    b'{"username": "x", "password": "abc\xe2\x82"}',
    b'{"username": "x", "password": "\xed\xa0\x80abc"}',
], ids=["ff-fe", "overlong", "truncated", "surrogate"])
@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_invalid_utf8(server, path, body):
    data = assert_json(api(server).post(path, data=body, headers=JSON), 400)
    assert data["code"] == "parse_error", data


def test_bad_input_on_authenticated_endpoint_revokes_nothing(server):
    u = register(server)
    c = api(server, u["access"])
    for body in (b'{"refresh": ', b"[]", b'{"refresh": "\xff"}'):
        r = c.post("/api/auth/logout", data=body, headers=JSON)
        assert assert_json(r, 400)["code"] == "parse_error"
    assert c.get("/api/auth/me/").status_code == 200
    assert api(server).post("/api/auth/token/refresh/", json={"refresh": u["refresh"]}).ok


def test_zz_server_unharmed_by_bad_input(server, witness):
    u, me_before = witness
    assert_json(api(server).get("/healthz"), 200, {"status": "ok"})
    assert_json(api(server, u["access"]).get("/api/auth/me/"), 200, me_before)
    r = api(server).post("/api/auth/login", json={"username": u["username"],
                                                  "password": u["password"]})
    assert r.status_code == 200
