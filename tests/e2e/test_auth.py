"""Authentication (API.md §2): tokens, the §2.2 401 answers, blacklist, registration rules and
every endpoint of §2.6 with its success and each listed error."""
import json
import re
import threading
import time

import pytest

from support import jwt
from support.client import (BAD_AUTH_HEADER, DEFAULT_PASSWORD, NOT_AUTHENTICATED, TIMESTAMP, api,
                            assert_401, assert_json, auth_error, login, register, token_not_valid,
                            unique_username)

REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
LOGOUT = "/api/auth/logout"
REFRESH = "/api/auth/token/refresh/"
VERIFY = "/api/auth/token/verify/"
ME = "/api/auth/me/"

RULE = {
    1: "Please provide username, email and password",
    2: "Username may contain only letters, digits and @/./+/-/_ and must be 1-150 characters long.",
    3: "Enter a valid email address.",
    4: "This password is too short. It must contain at least 8 characters.",
    5: "This password is too long. It must contain at most 128 characters.",
    6: "This password is entirely numeric.",
    7: "The password is too similar to the username.",
    8: "Username already exists",
    9: "Email already exists",
}
LOGIN_REQUIRED = auth_error("Please provide both username and password", "required")
INVALID_CREDENTIALS = auth_error("Invalid credentials", "invalid_credentials")
JTI = re.compile(r"^[0-9a-f]{32}$")
INVALID_OR_EXPIRED = {"detail": "Token is invalid or expired", "code": "token_not_valid"}
BLACKLISTED = {"detail": "Token is blacklisted", "code": "token_not_valid"}


def rule_error(n: int) -> dict:
    return auth_error(RULE[n], "required" if n == 1 else "invalid")


def check_token(token: str, token_type: str, user_id: int, lifetime_s: int, key: bytes):
    header, claims = jwt.decode(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert set(claims) >= {"token_type", "exp", "iat", "jti", "user_id"}, claims
    assert claims["token_type"] == token_type
    assert type(claims["exp"]) is int and type(claims["iat"]) is int
    assert claims["exp"] - claims["iat"] == lifetime_s
    assert abs(claims["iat"] - time.time()) < 120
    assert JTI.match(claims["jti"]), claims["jti"]
    assert claims["user_id"] == user_id and type(claims["user_id"]) is int
    # §13.12: the key is the content of <data dir>/secret_key when none is configured.
    assert jwt.signature_ok(token, key)
    return claims


def me(server, token):
    return assert_json(api(server, token).get(ME), 200)


# --- register ------------------------------------------------------------------------------------

def test_register_success(server):
    name = unique_username("Reg")
    r = api(server).post(REGISTER, json={"username": name, "email": f"{name}@example.com",
                                         "password": DEFAULT_PASSWORD})
    body = assert_json(r, 201)
    assert set(body) == {"user_id", "message", "refresh", "access", "username", "email"}
    assert body["message"] == "User created successfully"
    assert type(body["user_id"]) is int and body["user_id"] > 0
    assert body["username"] == name and body["email"] == f"{name}@example.com"

    key = server.secret_key()
    a = check_token(body["access"], "access", body["user_id"], 6 * 3600, key)
    f = check_token(body["refresh"], "refresh", body["user_id"], 24 * 3600, key)
    assert a["jti"] != f["jti"]

    m = me(server, body["access"])
    assert set(m) == {"id", "username", "email", "is_staff", "date_joined", "last_login"}
    assert m["id"] == body["user_id"] and m["username"] == name
    assert m["email"] == f"{name}@example.com" and m["is_staff"] is False
    assert TIMESTAMP.match(m["date_joined"]), m
    # §1.1: last_login is set by each successful login; registering is not a login.
    assert m["last_login"] is None


def test_register_ids_increase(server):
    a, b = register(server), register(server)
    assert b["id"] > a["id"]


def test_register_email_domain_lowercased_and_trimmed(server):
    local = unique_username("Mixed.Case")
    r = api(server).post(REGISTER, json={"username": unique_username(),
                                         "email": f"  {local}@Example.COM ",
                                         "password": DEFAULT_PASSWORD})
    body = assert_json(r, 201)
    # Literal reading: the response shows the stored email (local part kept, domain lowercased).
    assert body["email"] == f"{local}@example.com"
    assert me(server, body["access"])["email"] == f"{local}@example.com"


def test_register_keeps_username_case(server):
    name = unique_username("CamelCase")
    assert register(server, username=name)["username"] == name


@pytest.mark.parametrize("username_of,email_of,password", [
    (lambda n: (n + "_" * 150)[:150], None, DEFAULT_PASSWORD),      # 150 characters
    (lambda n: n + "a.b+c-d@e_f", None, DEFAULT_PASSWORD),          # every allowed symbol
    (None, lambda n: (n + "l" * 64)[:64] + "@example.com", DEFAULT_PASSWORD),  # local part 64
    (None, lambda n: f"{n}@{'d' * 63}.example.org", DEFAULT_PASSWORD),  # 63-character label
    (None, lambda n: f"{n}@a.b", DEFAULT_PASSWORD),                 # single-character labels
    (None, lambda n: f"{n}@x-y.example.com", DEFAULT_PASSWORD),     # hyphen inside a label
    (None, None, "abcdefg8"),                                       # password of 8
    (None, None, "p" * 127 + "9"),                                  # password of 128
], ids=["username-150", "username-symbols", "local-64", "label-63", "short-labels", "hyphen",
        "password-8", "password-128"])
def test_register_accepts_edges(server, username_of, email_of, password):
    base = unique_username()
    username = username_of(base) if username_of else base
    email = email_of(base) if email_of else f"{base}@example.com"
    r = api(server).post(REGISTER, json={"username": username, "email": email,
                                         "password": password})
    body = assert_json(r, 201)
    assert body["username"] == username
    login(server, username, password)


def _payload(name, **fields):
    p = {"username": name, "email": f"{name}@example.com", "password": DEFAULT_PASSWORD}
    for k, v in fields.items():
        if v is _ABSENT:
            p.pop(k)
        else:
            p[k] = v(name) if callable(v) else v
    return p


_ABSENT = object()

# (id, fields relative to a valid payload for a new unique name, the rule that must be reported)
RULE_CASES = [
    ("missing-username", {"username": _ABSENT}, 1),
    ("missing-email", {"email": _ABSENT}, 1),
    ("missing-password", {"password": _ABSENT}, 1),
    ("null-username", {"username": None}, 1),
    ("null-email", {"email": None}, 1),
    ("null-password", {"password": None}, 1),
    ("blank-username", {"username": ""}, 1),      # §13.1: "" is missing, not rule 2
    ("blank-email", {"email": ""}, 1),
    ("blank-password", {"password": ""}, 1),
    ("number-username", {"username": 42}, 1),
    ("list-email", {"email": ["a@example.com"]}, 1),
    ("object-password", {"password": {"p": 1}}, 1),
    ("bool-username", {"username": True}, 1),
    ("missing-beats-bad-username", {"username": "bad name", "email": _ABSENT}, 1),
    ("username-space", {"username": lambda n: n + " x"}, 2),
    ("username-bang", {"username": lambda n: n + "!"}, 2),
    ("username-non-ascii", {"username": lambda n: n + "é"}, 2),
    ("username-151", {"username": lambda n: (n + "x" * 151)[:151]}, 2),
    ("username-tab", {"username": lambda n: n + "\t"}, 2),
    ("username-slash", {"username": lambda n: n + "/x"}, 2),
    ("bad-username-beats-bad-email", {"username": lambda n: n + "!", "email": "nope"}, 2),
    ("email-no-at", {"email": lambda n: f"{n}.example.com"}, 3),
    ("email-one-label", {"email": lambda n: f"{n}@example"}, 3),
    ("email-two-at", {"email": lambda n: f"{n}@x@example.com"}, 3),
    ("email-empty-local", {"email": "@example.com"}, 3),
    ("email-empty-domain", {"email": lambda n: f"{n}@"}, 3),
    ("email-space-local", {"email": lambda n: f"a b{n}@example.com"}, 3),
    ("email-space-domain", {"email": lambda n: f"{n}@exa mple.com"}, 3),
    ("email-control-local", {"email": lambda n: f"a\x01{n}@example.com"}, 3),
    ("email-empty-label", {"email": lambda n: f"{n}@example..com"}, 3),
    ("email-leading-dot", {"email": lambda n: f"{n}@.example.com"}, 3),
    ("email-label-leading-hyphen", {"email": lambda n: f"{n}@-example.com"}, 3),
    ("email-label-trailing-hyphen", {"email": lambda n: f"{n}@example-.com"}, 3),
    ("email-label-64", {"email": lambda n: f"{n}@{'d' * 64}.com"}, 3),
    ("email-label-underscore", {"email": lambda n: f"{n}@ex_ample.com"}, 3),
    ("email-local-65", {"email": lambda n: (n + "l" * 65)[:65] + "@example.com"}, 3),
    ("email-over-254", {"email": lambda n: f"{n}@" + ("d" * 60 + ".") * 4 + "example.com"}, 3),
    ("bad-email-beats-short-password", {"email": "nope", "password": "short"}, 3),
    ("password-7", {"password": "abcdef7"}, 4),
    ("short-beats-numeric", {"password": "1234"}, 4),
    ("password-129", {"password": "p" * 128 + "9"}, 5),
    ("long-beats-numeric", {"password": "1" * 129}, 5),
    ("password-numeric", {"password": "12345678"}, 6),
    ("password-numeric-long", {"password": "9" * 40}, 6),
    ("password-is-username", {"password": lambda n: n}, 7),
    ("password-is-username-other-case", {"password": lambda n: n.upper()}, 7),
]


@pytest.mark.parametrize("fields,rule", [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_register_rules(server, fields, rule):
    name = unique_username()
    r = api(server).post(REGISTER, json=_payload(name, **fields))
    assert_json(r, 400, rule_error(rule))
    # Nothing was created: the name and its email are still free.
    r = api(server).post(REGISTER, json=_payload(name))
    assert r.status_code == 201, r.text


def test_register_duplicates(server):
    u = register(server, username=unique_username("Dup"))
    c = api(server)
    other = unique_username()

    def attempt(username, email, password=DEFAULT_PASSWORD):
        return c.post(REGISTER, json={"username": username, "email": email, "password": password})

    assert_json(attempt(u["username"], f"{other}@example.com"), 400, rule_error(8))
    assert_json(attempt(u["username"].upper(), f"{other}@example.com"), 400, rule_error(8))
    assert_json(attempt(u["username"].lower(), f"{other}@example.com"), 400, rule_error(8))
    assert_json(attempt(other, u["email"]), 400, rule_error(9))
    assert_json(attempt(other, u["email"].upper()), 400, rule_error(9))
    local, domain = u["email"].split("@")
    assert_json(attempt(other, f"{local.swapcase()}@{domain.upper()}"), 400, rule_error(9))
    # Order: username before email; password rules (7) before existence (8).
    assert_json(attempt(u["username"], u["email"]), 400, rule_error(8))
    assert_json(attempt(u["username"], u["email"], u["username"]), 400, rule_error(7))
    assert_json(attempt(u["username"], u["email"], "1234"), 400, rule_error(4))
    # None of these created anything; the original still logs in, the free name still registers.
    login(server, u["username"])
    assert attempt(other, f"{other}@example.com").status_code == 201


def test_register_concurrent_duplicates(server):
    # §2.5: a concurrent duplicate gets the same 400, never a 500.
    name = unique_username("Race")
    results = []

    def worker(i):
        variant = name if i % 2 == 0 else name.upper()
        # Password hashing admits a few callers at once and refuses the rest with 429 (§0.9):
        # a client retries after Retry-After.
        for _ in range(60):
            r = api(server).post(REGISTER, json={"username": variant,
                                                 "email": f"{name}.{i}@example.com",
                                                 "password": DEFAULT_PASSWORD})
            if r.status_code != 429:
                break
            time.sleep(0.1)
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8
    assert sorted(s for s, _ in results) == [201] + [400] * 7, results
    for status, body in results:
        if status == 400:
            assert body == rule_error(8)


# --- login ----------------------------------------------------------------------------------------

def test_login_success(server, user):
    r = api(server).post(LOGIN, json={"username": user["username"], "password": user["password"]})
    body = assert_json(r, 200)
    assert set(body) == {"user_id", "message", "refresh", "access", "username", "email"}
    assert body["message"] == "Login successful"
    assert body["user_id"] == user["id"]
    assert body["username"] == user["username"] and body["email"] == user["email"]
    key = server.secret_key()
    check_token(body["access"], "access", user["id"], 6 * 3600, key)
    check_token(body["refresh"], "refresh", user["id"], 24 * 3600, key)
    assert body["access"] != user["access"]
    assert me(server, body["access"])["id"] == user["id"]


def test_login_sets_last_login(server, user):
    before = me(server, user["access"])
    assert before["last_login"] is None
    first = login(server, user["username"])
    m1 = me(server, first["access"])
    assert TIMESTAMP.match(m1["last_login"]), m1
    assert m1["last_login"] >= m1["date_joined"]
    time.sleep(0.01)
    second = login(server, user["username"])
    m2 = me(server, second["access"])
    assert m2["last_login"] > m1["last_login"]
    assert {k: v for k, v in m2.items() if k != "last_login"} == \
           {k: v for k, v in before.items() if k != "last_login"}


def test_login_case_insensitive_fallback(server):
    u = register(server, username=unique_username("MiXeD"))
    for variant in (u["username"].lower(), u["username"].upper(), u["username"].swapcase()):
        body = assert_json(api(server).post(LOGIN, json={"username": variant,
                                                         "password": u["password"]}), 200)
        assert body["user_id"] == u["id"]
        assert body["username"] == u["username"]


@pytest.mark.parametrize("payload", [
    {}, {"username": "someone"}, {"password": DEFAULT_PASSWORD},
    {"username": None, "password": DEFAULT_PASSWORD}, {"username": "someone", "password": None},
    {"username": "", "password": DEFAULT_PASSWORD}, {"username": "someone", "password": ""},
    {"username": 17, "password": DEFAULT_PASSWORD}, {"username": "someone", "password": ["x"]},
], ids=["empty", "no-password", "no-username", "null-username", "null-password", "blank-username",
        "blank-password", "number-username", "list-password"])
def test_login_required(server, payload):
    assert_json(api(server).post(LOGIN, json=payload), 400, LOGIN_REQUIRED)


def test_login_invalid_credentials(server, user):
    c = api(server)
    for payload in (
        {"username": user["username"], "password": user["password"] + "x"},
        {"username": user["username"], "password": user["password"].upper()},
        {"username": unique_username("ghost"), "password": DEFAULT_PASSWORD},
        {"username": user["email"], "password": user["password"]},   # not a login by email
    ):
        assert_json(c.post(LOGIN, json=payload), 400, INVALID_CREDENTIALS)


# --- me --------------------------------------------------------------------------------------------

def test_me(server, user):
    m = me(server, user["access"])
    assert TIMESTAMP.match(m["date_joined"])
    assert m == {"id": user["id"], "username": user["username"], "email": user["email"],
                 "is_staff": False, "date_joined": m["date_joined"], "last_login": None}


def test_me_staff(server, staff):
    m = me(server, staff["access"])
    assert m["is_staff"] is True and m["username"] == staff["username"]
    assert TIMESTAMP.match(m["last_login"])


# --- §2.2: authenticating requests ----------------------------------------------------------------

PROTECTED = [
    ("GET", "/api/auth/me/"),
    ("GET", "/api/auth/me"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/chat/users/"),
    ("GET", "/api/chat/users/{id}/"),
    ("GET", "/api/chat/users/in_team/?team_id=1"),
    ("GET", "/api/chat/users/in_channel/?channel_id=1"),
    ("GET", "/api/chat/users/interacted/?team_id=1"),
]


@pytest.fixture(scope="module")
def victim(server):
    return register(server)


def _forge(server, victim, situation):
    """(Authorization header value or None, expected 401 body)."""
    key = server.secret_key()
    access = victim["access"]
    claims = jwt.decode(access)[1]
    if situation == "none":
        return None, NOT_AUTHENTICATED
    if situation == "bearer-alone":
        return "Bearer", BAD_AUTH_HEADER
    if situation == "bearer-two-parts":
        return "Bearer a b", BAD_AUTH_HEADER
    if situation == "bearer-token-and-extra":
        return f"Bearer {access} extra", BAD_AUTH_HEADER
    if situation == "garbage":
        return "Bearer not-a-token", token_not_valid()
    if situation == "tampered-signature":
        return f"Bearer {jwt.tamper_signature(access)}", token_not_valid()
    if situation == "tampered-claims":
        head, _, sig = access.split(".")
        forged = jwt.b64url_encode(json.dumps({**claims, "user_id": claims["user_id"] + 1}).encode())
        return f"Bearer {head}.{forged}.{sig}", token_not_valid()
    if situation == "alg-none":
        return f"Bearer {jwt.unsigned(claims)}", token_not_valid()
    if situation == "alg-none-signed":
        return f"Bearer {jwt.sign(claims, key, header={'alg': 'none', 'typ': 'JWT'})}", \
            token_not_valid()
    if situation == "alg-hs512-header":
        return f"Bearer {jwt.sign(claims, key, header={'alg': 'HS512', 'typ': 'JWT'})}", \
            token_not_valid()
    if situation == "other-key":
        return f"Bearer {jwt.sign(claims, b'another-key-' * 4)}", token_not_valid()
    if situation == "expired-signed":
        old = jwt.claims_for(victim["id"], lifetime_s=-10)
        return f"Bearer {jwt.sign(old, key)}", token_not_valid()
    if situation == "refresh-token":
        return f"Bearer {victim['refresh']}", token_not_valid("Token has wrong type")
    if situation == "unknown-user":
        ghost = jwt.claims_for(2 ** 62)
        return f"Bearer {jwt.sign(ghost, key)}", {"detail": "User not found",
                                                  "code": "user_not_found"}
    raise AssertionError(situation)


SITUATIONS = ["none", "bearer-alone", "bearer-two-parts", "bearer-token-and-extra", "garbage",
              "tampered-signature", "tampered-claims", "alg-none", "alg-none-signed",
              "alg-hs512-header", "other-key", "expired-signed", "refresh-token", "unknown-user"]


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("method,path", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_unauthorized(server, victim, method, path, situation):
    header, body = _forge(server, victim, situation)
    headers = {"Authorization": header} if header is not None else {}
    r = api(server).request(method, path.replace("{id}", str(victim["id"])), headers=headers,
                            json={"refresh": victim["refresh"]} if method == "POST" else None)
    assert_401(r, body)
    # The victim's own tokens are untouched by all of this.
    assert me(server, victim["access"])["id"] == victim["id"]


def test_forged_with_the_real_key_is_accepted(server, victim):
    # Proves the tests above are refused for the stated reason; user_id may be a numeric string.
    key = server.secret_key()
    for uid in (victim["id"], str(victim["id"])):
        token = jwt.sign(jwt.claims_for(uid), key)
        assert me(server, token)["id"] == victim["id"]


def test_expired_tokens(fresh_server):
    srv = fresh_server(env={"PARLEY_ACCESS_TOKEN_LIFETIME": "1s",
                            "PARLEY_REFRESH_TOKEN_LIFETIME": "1s"})
    u = register(srv)
    key = srv.secret_key()
    check_token(u["access"], "access", u["id"], 1, key)
    check_token(u["refresh"], "refresh", u["id"], 1, key)
    time.sleep(2.1)
    c = api(srv)
    assert_401(c.get(ME, token=u["access"]), token_not_valid())
    assert_401(c.get("/api/chat/users/", token=u["access"]), token_not_valid())
    assert_401(c.post(LOGOUT, token=u["access"], json={"refresh": u["refresh"]}), token_not_valid())
    assert_json(c.post(VERIFY, json={"token": u["access"]}), 401, INVALID_OR_EXPIRED)
    assert_json(c.post(VERIFY, json={"token": u["refresh"]}), 401, INVALID_OR_EXPIRED)
    assert_json(c.post(REFRESH, json={"refresh": u["refresh"]}), 401, INVALID_OR_EXPIRED)
    login(srv, u["username"])  # (its 1 s tokens are not used: they may expire at once)


# --- logout ------------------------------------------------------------------------------------------

def test_logout(server):
    u = register(server)
    other = login(server, u["username"])      # a second session of the same user
    c = api(server)
    r = c.post(LOGOUT, token=u["access"], json={"refresh": u["refresh"]})
    assert_json(r, 200, {"message": "User logged out successfully"})
    # Both tokens of that session are revoked everywhere (§2.3).
    assert_401(c.get(ME, token=u["access"]), token_not_valid("Token is blacklisted"))
    assert_401(c.get("/api/chat/users/", token=u["access"]), token_not_valid("Token is blacklisted"))
    assert_json(c.post(REFRESH, json={"refresh": u["refresh"]}), 401, BLACKLISTED)
    assert_json(c.post(VERIFY, json={"token": u["refresh"]}), 401, BLACKLISTED)
    assert_json(c.post(VERIFY, json={"token": u["access"]}), 401, BLACKLISTED)
    assert_401(c.post(LOGOUT, token=u["access"], json={"refresh": u["refresh"]}),
               token_not_valid("Token is blacklisted"))
    # The other session is unaffected.
    assert me(server, other["access"])["id"] == u["id"]
    assert c.post(REFRESH, json={"refresh": other["refresh"]}).status_code == 200


def test_logout_unauthenticated(server, user):
    assert_401(api(server).post(LOGOUT, json={"refresh": user["refresh"]}), NOT_AUTHENTICATED)
    # Nothing was revoked.
    assert api(server).post(REFRESH, json={"refresh": user["refresh"]}).status_code == 200


@pytest.mark.parametrize("payload", [{}, {"refresh": None}, {"refresh": ""}],
                         ids=["absent", "null", "blank"])
def test_logout_refresh_required(server, user, payload):
    r = api(server, user["access"]).post(LOGOUT, json=payload)
    assert_json(r, 400, auth_error("Refresh token is required", "required"))
    assert me(server, user["access"])["id"] == user["id"]


def test_logout_invalid_refresh(server):
    u = register(server)
    stranger = register(server)
    key = server.secret_key()
    bad = [
        "garbage",
        u["access"],                                        # not a refresh token
        stranger["refresh"],                                # another user's
        jwt.tamper_signature(u["refresh"]),
        jwt.sign(jwt.claims_for(u["id"], "refresh", lifetime_s=-5), key),   # expired
        jwt.sign(jwt.claims_for(u["id"], "refresh"), b"not-the-key" * 4),   # other key
    ]
    c = api(server, u["access"])
    for token in bad:
        r = c.post(LOGOUT, json={"refresh": token})
        assert_json(r, 400, auth_error("Token is invalid or expired", "token_not_valid"))
    # On any error nothing is revoked: both users' tokens still work.
    assert me(server, u["access"])["id"] == u["id"]
    assert api(server).post(REFRESH, json={"refresh": u["refresh"]}).status_code == 200
    assert api(server).post(REFRESH, json={"refresh": stranger["refresh"]}).status_code == 200


def test_logout_blacklisted_refresh(server):
    u = register(server)
    second = login(server, u["username"])
    c = api(server)
    assert c.post(LOGOUT, token=u["access"], json={"refresh": u["refresh"]}).status_code == 200
    r = c.post(LOGOUT, token=second["access"], json={"refresh": u["refresh"]})
    assert_json(r, 400, auth_error("Token is blacklisted", "token_not_valid"))
    # Nothing was revoked by the failed logout.
    assert me(server, second["access"])["id"] == u["id"]
    assert c.post(REFRESH, json={"refresh": second["refresh"]}).status_code == 200


# --- token refresh -----------------------------------------------------------------------------------

def test_refresh(server, user):
    r = api(server).post(REFRESH, json={"refresh": user["refresh"]})
    body = assert_json(r, 200)
    assert set(body) == {"access"}
    check_token(body["access"], "access", user["id"], 6 * 3600, server.secret_key())
    assert me(server, body["access"])["id"] == user["id"]
    # Without rotation the same refresh token keeps working.
    assert api(server).post(REFRESH, json={"refresh": user["refresh"]}).status_code == 200


@pytest.mark.parametrize("payload,body", [
    ({}, {"refresh": ["This field is required."]}),
    ({"refresh": None}, {"refresh": ["This field may not be null."]}),    # §13.1
    ({"refresh": ""}, {"refresh": ["This field may not be blank."]}),     # §13.1
    ({"refresh": 42}, {"refresh": ["Not a valid string."]}),
    ({"refresh": ["x"]}, {"refresh": ["Not a valid string."]}),
], ids=["absent", "null", "blank", "number", "list"])
def test_refresh_field_errors(server, payload, body):
    assert_json(api(server).post(REFRESH, json=payload), 400, body)


def test_refresh_invalid(server, user):
    key = server.secret_key()
    c = api(server)
    for token in ("garbage", user["access"], jwt.tamper_signature(user["refresh"]),
                  jwt.unsigned(jwt.decode(user["refresh"])[1]),
                  jwt.sign(jwt.claims_for(user["id"], "refresh", lifetime_s=-5), key)):
        assert_json(c.post(REFRESH, json={"refresh": token}), 401, INVALID_OR_EXPIRED)


def test_refresh_no_active_account(server):
    ghost = jwt.sign(jwt.claims_for(2 ** 62, "refresh"), server.secret_key())
    r = api(server).post(REFRESH, json={"refresh": ghost})
    assert_json(r, 401, {"detail": "No active account found for the given token.",
                         "code": "no_active_account"})


def test_refresh_rotation(fresh_server):
    srv = fresh_server(env={"PARLEY_ROTATE_REFRESH_TOKENS": "true"})
    u = register(srv)
    c = api(srv)
    body = assert_json(c.post(REFRESH, json={"refresh": u["refresh"]}), 200)
    assert set(body) == {"access", "refresh"}
    key = srv.secret_key()
    new = check_token(body["refresh"], "refresh", u["id"], 24 * 3600, key)
    assert new["jti"] != jwt.decode(u["refresh"])[1]["jti"]
    check_token(body["access"], "access", u["id"], 6 * 3600, key)
    # The old refresh token is blacklisted (PARLEY_BLACKLIST_AFTER_ROTATION defaults to true).
    assert_json(c.post(VERIFY, json={"token": u["refresh"]}), 401, BLACKLISTED)
    # The new one works, and rotates in turn.
    again = assert_json(c.post(REFRESH, json={"refresh": body["refresh"]}), 200)
    assert set(again) == {"access", "refresh"}
    assert me(srv, again["access"])["id"] == u["id"]
    # Presenting a rotated one again is reuse: refused, and its whole family goes with it
    # (§2.3; tests/e2e/test_sessions.py has the details).
    assert_json(c.post(REFRESH, json={"refresh": u["refresh"]}), 401, BLACKLISTED)
    assert_json(c.post(REFRESH, json={"refresh": again["refresh"]}), 401, BLACKLISTED)


def test_refresh_rotation_without_blacklist(fresh_server):
    srv = fresh_server(env={"PARLEY_ROTATE_REFRESH_TOKENS": "true",
                            "PARLEY_BLACKLIST_AFTER_ROTATION": "false"})
    u = register(srv)
    c = api(srv)
    body = assert_json(c.post(REFRESH, json={"refresh": u["refresh"]}), 200)
    assert set(body) == {"access", "refresh"}
    assert assert_json(c.post(REFRESH, json={"refresh": u["refresh"]}), 200)["refresh"]


# --- token verify -------------------------------------------------------------------------------------

def test_verify(server, user):
    assert_json(api(server).post(VERIFY, json={"token": user["access"]}), 200, {})
    assert_json(api(server).post(VERIFY, json={"token": user["refresh"]}), 200, {})


def test_verify_required(server):
    assert_json(api(server).post(VERIFY, json={}), 400, {"token": ["This field is required."]})


def test_verify_invalid(server, user):
    key = server.secret_key()
    claims = jwt.decode(user["access"])[1]
    c = api(server)
    for token in ("garbage", "a.b.c", jwt.tamper_signature(user["access"]), jwt.unsigned(claims),
                  jwt.sign(claims, b"some-other-key" * 3),
                  jwt.sign(claims, key, header={"alg": "HS512", "typ": "JWT"}),
                  jwt.sign(jwt.claims_for(user["id"], lifetime_s=-5), key)):
        assert_json(c.post(VERIFY, json={"token": token}), 401, INVALID_OR_EXPIRED)


# --- rate limit of the auth bucket (§0.9) ----------------------------------------------------------

def test_auth_rate_limit(fresh_server):
    srv = fresh_server(env={"PARLEY_RATE_AUTH": "3/min"})
    c = api(srv)
    into_minute = time.time() % 60
    if into_minute > 45:  # keep all requests inside one window even if windows follow the clock
        time.sleep(61 - into_minute)
    u = register(srv)                                                  # 1
    assert c.post(LOGIN, json={"username": u["username"], "password": "wrong-password"}) \
        .status_code == 400                                            # 2
    assert c.post(VERIFY, json={"token": u["access"]}).status_code == 200   # 3
    for path, payload in ((LOGIN, {"username": u["username"], "password": u["password"]}),
                          (REFRESH, {"refresh": u["refresh"]}),
                          (REGISTER, {"username": unique_username(), "email": "x@example.com",
                                      "password": DEFAULT_PASSWORD})):
        r = c.post(path, json=payload)
        body = assert_json(r, 429)
        assert set(body) == {"detail", "code"} and body["code"] == "throttled"
        m = re.fullmatch(r"Request was throttled\. Expected available in (\d+) seconds?\.",
                         body["detail"])
        assert m, body
        assert r.headers.get("Retry-After") == m.group(1)
        assert 1 <= int(m.group(1)) <= 60
    # Authenticated endpoints are not in the auth bucket.
    assert me(srv, u["access"])["id"] == u["id"]
