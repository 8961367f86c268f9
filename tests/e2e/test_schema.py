"""GET /api/schema/ (API.md §10.3): a valid OpenAPI 3.1 document whose shapes match what the server
really answers, and whose paths and methods are the ones the server routes.

That the document lists exactly the route table is a unit test (src/api/openapi_test.cpp, against
route_table()); here every documented path is probed from outside (OPTIONS answers its `Allow`),
so a documented route the server does not have, or a method it does not accept, fails.
"""
import re
import urllib.parse

import pytest
import requests

from support import client
from support.client import api, assert_json
from support.openapi import HTTP_METHODS, problems, unresolved_refs, validate_response
from support.teams import create_channel, create_team

SCHEMA = "/api/schema/"


def resolve(doc, node: dict) -> dict:
    """The object a local `{"$ref": "#/..."}` points to (the node itself without $ref)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    for part in ref[2:].split("/"):
        doc = doc[part.replace("~1", "/").replace("~0", "~")]
    return doc


@pytest.fixture(scope="module")
def doc(server):
    r = api(server).get(SCHEMA)
    return assert_json(r, 200)


def test_served_as_json_without_authentication(server):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        r = api(server).get(SCHEMA, headers=headers)
        body = assert_json(r, 200)
        assert body["openapi"] == "3.1.0"
    assert api(server).get("/api/schema").json() == body  # both slash forms (§0.2)


def test_is_valid_openapi_31(doc):
    assert problems(doc) == []


def test_every_ref_resolves(doc):
    assert unresolved_refs(doc) == []
    schemas = doc["components"]["schemas"]
    for name in ("User", "Team", "Channel", "Invitation", "Message", "Attachment", "LinkPreview",
                 "DetailError", "FieldErrors", "ErrorShape", "AuthError"):
        assert name in schemas, name


def test_bearer_security_and_websocket_summary(doc):
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"]}
    teams = doc["paths"]["/api/chat/teams/"]["get"]
    assert teams["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/api/auth/login/"]["post"]["security"] == []
    text = doc["info"]["description"]
    for needle in ("/ws/chat/", "bearer, <token>", "?token=", "resume", "4001", "channel_message"):
        assert needle in text, needle
    ids = doc["paths"]["/api/chat/teams/{id}/"]["get"]["parameters"]
    assert ids[0]["in"] == "path" and ids[0]["schema"] == {"$ref": "#/components/schemas/Id"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_documented_paths_and_methods_are_routed(server, doc):
    """OPTIONS on each documented path answers 200 with exactly the documented methods in Allow."""
    for path, item in doc["paths"].items():
        documented = {m.upper() for m in item if m in HTTP_METHODS}
        r = api(server).options(_concrete(path))
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:200]}"
        allowed = {m.strip() for m in r.headers["Allow"].split(",")} - {"OPTIONS"}
        assert allowed == documented, path


def test_web_client_routes_are_served_but_not_documented(server, doc):
    for path in ("/", "/join-team/abc/", "/static/app.js"):
        assert api(server).get(path).status_code == 200, path
        assert path not in doc["paths"]
    assert not any(p.startswith(("/static", "/join-team")) or p == "/" for p in doc["paths"])


def test_real_responses_match_the_documented_shapes(server, doc):
    """A sample of real answers, successes and each error shape, validates against the document."""
    checked = []

    def check(r, path, method, body=None):
        status = r.status_code
        data = r.json() if body is None else body
        validate_response(doc, path, method, status, data)
        checked.append((method, path, status))
        return data

    anon = api(server)
    name = client.unique_username("schema")
    reg = anon.post("/api/auth/register", json={"username": name, "email": f"{name}@example.com",
                                                "password": client.DEFAULT_PASSWORD})
    assert reg.status_code == 201
    check(reg, "/api/auth/register/", "post")
    r = anon.post("/api/auth/login", json={"username": name, "password": client.DEFAULT_PASSWORD})
    alice = check(r, "/api/auth/login/", "post")
    check(anon.post("/api/auth/login", json={"username": name, "password": "wrong-password"}),
          "/api/auth/login/", "post")  # 400 auth shape
    a = api(server, alice["access"])
    check(a.get("/api/auth/me/"), "/api/auth/me/", "get")
    check(anon.get("/api/auth/me/"), "/api/auth/me/", "get")  # 401 detail
    check(anon.post("/api/auth/token/refresh/", json={}), "/api/auth/token/refresh/", "post")  # 400 field
    check(anon.post("/api/auth/token/refresh/", json={"refresh": alice["refresh"]}),
          "/api/auth/token/refresh/", "post")

    bob = client.register(server)
    b = api(server, bob["access"])
    team = create_team(server, {"access": alice["access"]}, name="Schema team", description="Shapes")
    check(a.get("/api/chat/teams/"), "/api/chat/teams/", "get")
    check(a.post("/api/chat/teams/", json={}), "/api/chat/teams/", "post")  # 400 field
    check(a.get(f"/api/chat/teams/{team['id']}/"), "/api/chat/teams/{id}/", "get")
    check(b.get(f"/api/chat/teams/{team['id']}/"), "/api/chat/teams/{id}/", "get")  # 404 detail
    check(a.post(f"/api/chat/teams/{team['id']}/add_member/", json={}),
          "/api/chat/teams/{id}/add_member/", "post")  # 400 error shape

    r = a.post(f"/api/chat/teams/{team['id']}/create_invitation/", json={"max_uses": 5})
    inv = check(r, "/api/chat/teams/{id}/create_invitation/", "post")
    assert inv["invitation_url"] == f"/join-team/{inv['invite_code']}"
    check(a.get(f"/api/chat/teams/{team['id']}/invitations/"), "/api/chat/teams/{id}/invitations/", "get")
    r = b.post("/api/chat/teams/join_via_invitation/", json={"invite_code": inv["invite_code"]})
    check(r, "/api/chat/teams/join_via_invitation/", "post")
    check(b.post("/api/chat/teams/join_via_invitation/", json={"invite_code": "nope"}),
          "/api/chat/teams/join_via_invitation/", "post")  # 404 error shape

    general = create_channel(server, {"access": alice["access"]}, team["id"], name="general")
    check(a.get("/api/chat/channels/"), "/api/chat/channels/", "get")
    check(a.get(f"/api/chat/channels/{general['id']}/"), "/api/chat/channels/{id}/", "get")
    check(a.post("/api/chat/channels/create_or_get_dm_channel/",
                 json={"team_id": team["id"], "user_id": bob["id"]}),
          "/api/chat/channels/create_or_get_dm_channel/", "post")
    check(a.get(f"/api/chat/users/in_team/?team_id={team['id']}"), "/api/chat/users/in_team/", "get")

    r = a.post("/api/chat/messages/", json={"channel": general["id"], "content": "Hello https://example.com"})
    msg = check(r, "/api/chat/messages/", "post")
    check(a.post("/api/chat/messages/", json={"channel": general["id"]}), "/api/chat/messages/", "post")
    reply = a.post("/api/chat/messages/", json={"channel": general["id"], "content": "re", "reply_to": msg["id"]})
    check(reply, "/api/chat/messages/", "post")
    r = a.post("/api/chat/messages/", json={"message_type": "direct", "recipient": bob["id"], "content": "hi"})
    check(r, "/api/chat/messages/", "post")
    r = a.get(f"/api/chat/channels/{general['id']}/messages/?limit=1")
    check(r, "/api/chat/channels/{id}/messages/", "get")
    assert 'rel="next"' in r.headers["Link"]
    check(a.get(f"/api/chat/messages/{msg['id']}/"), "/api/chat/messages/{id}/", "get")
    check(b.post(f"/api/chat/messages/{msg['id']}/react/", json={"reaction": "👍"}),
          "/api/chat/messages/{id}/react/", "post")
    check(a.patch(f"/api/chat/messages/{msg['id']}/edit_message/", json={"content": "Edited"}),
          "/api/chat/messages/{id}/edit_message/", "patch")
    check(a.post(f"/api/chat/messages/{msg['id']}/pin/"), "/api/chat/messages/{id}/pin/", "post")
    check(b.delete(f"/api/chat/messages/{msg['id']}/delete_message/"),
          "/api/chat/messages/{id}/delete_message/", "delete")  # 403 legacy shape
    check(a.delete(f"/api/chat/messages/{msg['id']}/delete_message/"),
          "/api/chat/messages/{id}/delete_message/", "delete")
    check(a.patch(f"/api/chat/teams/{team['id']}/", json={"name": ""}), "/api/chat/teams/{id}/", "patch")

    # §7: uploads, attachments, downloads, signed media URLs, link previews.
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d4944415478da63f8cfc0f01f0005000200a6e1a5b1"
                        "0000000049454e44ae426082")
    up = a.post("/api/chat/upload-file/", files={"file": ("dot.png", png, "image/png")})
    assert up.status_code == 201, up.text
    att = check(up, "/api/chat/upload-file/", "post")
    check(a.post("/api/chat/upload-file/", data=b""), "/api/chat/upload-file/", "post")  # 400
    r = a.post("/api/chat/messages/", json={"channel": general["id"], "content": "", "file_ids": [att["id"]]})
    check(r, "/api/chat/messages/", "post")

    def check_file(r, path, status):
        """A file response: its status is documented, and so is every header it must carry."""
        assert r.status_code == status, r.text[:200]
        documented = doc["paths"][path]["get"]["responses"][str(status)]
        headers = documented.get("headers", {})
        assert {"Content-Disposition", "Content-Length"} <= set(headers), headers
        for name, ref in headers.items():
            assert name in r.headers, name
            schema = resolve(doc, ref).get("schema", {})
            if "const" in schema:
                assert r.headers[name] == schema["const"], (name, r.headers[name])
        checked.append(("get", path, status))

    check_file(b.get(f"/api/chat/{att['id']}/download/"), "/api/chat/{id}/download/", 200)
    check(api(server, client.register(server)["access"]).get(f"/api/chat/{att['id']}/download/"),
          "/api/chat/{id}/download/", "get")  # 404 error shape
    media = urllib.parse.urlsplit(att["url"])
    check_file(requests.get(att["url"], timeout=15), "/media/uploads/{name}/", 200)
    check(requests.get(f"{server.base_url}{media.path}?expires=1&signature=x", timeout=15),
          "/media/uploads/{name}/", "get")  # 403 detail
    # A loopback address is refused by the SSRF guard: still 200, with nulls (§7.4).
    check(a.post("/api/chat/fetch-link-preview/", json={"url": "http://127.0.0.1:9/"}),
          "/api/chat/fetch-link-preview/", "post")
    check(a.post("/api/chat/fetch-link-preview/", json={}), "/api/chat/fetch-link-preview/", "post")
    check(a.post("/api/chat/messages/fetch_preview/", json={"url": "http://127.0.0.1:9/"}),
          "/api/chat/messages/fetch_preview/", "post")

    # §2.6 password change and logout_all last: they revoke the caller's tokens.
    carol = client.register(server)
    c = api(server, carol["access"])
    check(c.post("/api/auth/password/", json={}), "/api/auth/password/", "post")  # 400 field
    r = c.post("/api/auth/password/", json={"old_password": carol["password"],
                                            "new_password": "another-horse-7"})
    fresh = check(r, "/api/auth/password/", "post")
    check(anon.post("/api/auth/logout_all/"), "/api/auth/logout_all/", "post")  # 401 detail
    check(api(server, fresh["access"]).post("/api/auth/logout_all/"), "/api/auth/logout_all/",
          "post")

    check(anon.get("/healthz"), "/healthz/", "get")
    check(anon.get("/readyz"), "/readyz/", "get")
    check(anon.get("/ws/chat/"), "/ws/chat/", "get")  # 426 detail

    statuses = {s for _, _, s in checked}
    assert {200, 201, 400, 401, 403, 404, 426} <= statuses, statuses
    assert len(checked) >= 35
