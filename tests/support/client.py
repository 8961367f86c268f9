"""HTTP helpers for the end-to-end tests: a thin requests.Session wrapper, accounts, assertions."""
import http.client
import itertools
import re
import socket
import threading
import time
import urllib.parse
import uuid

import requests

REQUEST_TIMEOUT_S = 15
DEFAULT_PASSWORD = "correct-horse-9"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")  # API.md §0.5
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # API.md §0.12

_RUN = uuid.uuid4().hex[:6]
_names = itertools.count(1)
_NO_BODY = object()


def unique_username(prefix: str = "u") -> str:
    """A username no other test of this run uses (letters, digits and `_`: valid by §2.5)."""
    return f"{prefix}_{_RUN}_{next(_names)}"


class Api:
    """requests.Session bound to one server: paths are relative, redirects are never followed.

    `token=` adds `Authorization: Bearer <token>`; `json=` sends a JSON body; `data=` raw bytes.
    """

    def __init__(self, server, token=None):
        self.server = server
        self.token = token
        self.session = requests.Session()

    def request(self, method, path, *, token=None, headers=None, json=_NO_BODY, **kwargs):
        hdrs = dict(headers or {})
        tok = token if token is not None else self.token
        if tok is not None and "Authorization" not in hdrs:
            hdrs["Authorization"] = f"Bearer {tok}"
        if json is not _NO_BODY:
            kwargs["json"] = json
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.server.base_url + path, headers=hdrs, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def options(self, path, **kw):
        return self.request("OPTIONS", path, **kw)


def api(server, token=None) -> Api:
    return Api(server, token)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _account(body: dict, password: str) -> dict:
    return {
        "id": body["user_id"],
        "access": body["access"],
        "refresh": body["refresh"],
        "username": body["username"],
        "email": body["email"],
        "password": password,
        "headers": bearer(body["access"]),
    }


def _hashing_retry(send, attempts: int = 50):
    """Sends until the answer is not the password pool's 429 (API.md §0.9: a few hashes at once,
    the rest refused with Retry-After: 1, as a client would retry). Other 429s are returned."""
    for _ in range(attempts):
        r = send()
        if r.status_code != 429 or r.headers.get("Retry-After") != "1":
            return r
        time.sleep(0.1)
    return r


def register(server, username=None, password=DEFAULT_PASSWORD, email=None) -> dict:
    """Registers a new user; returns {id, access, refresh, username, email, password, headers}."""
    username = username or unique_username()
    email = email or f"{username}@example.com"
    r = _hashing_retry(lambda: api(server).post(
        "/api/auth/register", json={"username": username, "email": email, "password": password}))
    assert r.status_code == 201, f"register {username}: {r.status_code} {r.text}"
    return _account(r.json(), password)


def login(server, username, password=DEFAULT_PASSWORD) -> dict:
    """Logs in; returns the same dict as register()."""
    r = _hashing_retry(lambda: api(server).post(
        "/api/auth/login", json={"username": username, "password": password}))
    assert r.status_code == 200, f"login {username}: {r.status_code} {r.text}"
    return _account(r.json(), password)


def create_superuser(server, username=None, password=DEFAULT_PASSWORD, email=None) -> dict:
    """`parley createsuperuser --no-input` against the server's data; returns login()'s dict."""
    username = username or unique_username("staff")
    email = email or f"{username}@example.com"
    proc = server.cli("createsuperuser", "--no-input", env={
        "PARLEY_SUPERUSER_USERNAME": username,
        "PARLEY_SUPERUSER_EMAIL": email,
        "PARLEY_SUPERUSER_PASSWORD": password,
    })
    assert proc.returncode == 0, f"createsuperuser: {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return {"username": username, "email": email, "password": password}


def assert_json(r, status: int, body=None):
    """Status, JSON content type and (when given) the exact body."""
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text[:500]}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/json", f"Content-Type {ctype!r}"
    data = r.json()
    if body is not None:
        assert data == body, f"{r.request.method} {r.url}: body {data!r}"
    return data


def assert_401(r, body: dict):
    """A protected endpoint's 401 (§2.2): exact body and the WWW-Authenticate challenge."""
    assert_json(r, 401, body)
    assert r.headers.get("WWW-Authenticate") == 'Bearer realm="api"', r.headers


NOT_FOUND = {"detail": "Not found.", "code": "not_found"}
NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided.",
                     "code": "not_authenticated"}
BAD_AUTH_HEADER = {"detail": "Authorization header must contain two space-delimited values",
                   "code": "bad_authorization_header"}


def token_not_valid(message: str = "Token is invalid or expired") -> dict:
    """The SimpleJWT 401 body of §2.2 for a bad, expired, blacklisted or wrong-type token."""
    return {"detail": "Given token not valid for any token type", "code": "token_not_valid",
            "messages": [{"token_class": "AccessToken", "token_type": "access",
                          "message": message}]}


def auth_error(text: str, code: str) -> dict:
    """The auth shape of §0.6 (register, login, logout)."""
    return {"error": text, "message": text, "code": code}


def raw_request(server, method: str, path: str, headers: dict, body: bytes = b""):
    """Sends one request over a plain socket, reading the response while the body is still being
    sent (a server may answer 413 before it has read everything). Returns (status, headers, body);
    header names are lowercased."""
    parsed = urllib.parse.urlsplit(server.base_url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=REQUEST_TIMEOUT_S)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parsed.netloc}", "Connection: close"]
    if body and not any(k.lower() == "content-length" for k in headers):
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send():
        try:
            sock.sendall(head + body)
        except OSError:
            pass  # the server closed early; its response is read below

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, hdrs, data
    finally:
        sock.close()
        sender.join(REQUEST_TIMEOUT_S)
