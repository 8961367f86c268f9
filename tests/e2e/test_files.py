"""Files (API.md §7.1–§7.3, §1.4, §6.1, §9): uploads streamed to disk, attachments on messages
(REST and WebSocket), downloads with the access rule, signed media URLs, the size limit, memory
while a large upload streams, interrupted uploads and the orphan sweep."""
import concurrent.futures
import os
import re
import socket
import threading
import time
import urllib.parse

import pytest
import requests

from support.client import (NOT_AUTHENTICATED, NOT_FOUND, api, assert_401, assert_json,
                            raw_request, register)
from support.server import Server
from support.teams import create_channel, team_with
from support import ws as wsclient

UPLOAD = "/api/chat/upload-file/"
MESSAGES = "/api/chat/messages/"
NO_FILE = {"error": "No file provided", "code": "required"}
FILE_NOT_FOUND = {"error": "File not found", "code": "not_found"}
BAD_SIGNATURE = {"detail": "Invalid or expired signature.", "code": "permission_denied"}
CSP = "default-src 'none'; sandbox"
UUID_NAME = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
SIGNED_PATH = re.compile(r"^/media/uploads/(" + UUID_NAME + r")(\.[a-z0-9]{1,10})?"
                         r"\?expires=(\d+)&signature=([A-Za-z0-9_-]{43})$")
MiB = 1024 * 1024
# How much the server's peak RSS may grow while 200 MiB stream through it. AddressSanitizer keeps
# freed memory in quarantine (256 MiB by default) and pads allocations: a sanitizer build gets
# that much more room.
RSS_GROWTH_MIB = 8 + (320 if "ASAN_OPTIONS" in os.environ else 0)


def too_large(limit: int) -> dict:
    return {"detail": f"File too large. The limit is {limit} bytes.", "code": "payload_too_large"}


def upload(server, user, name="plan.pdf", data=b"%PDF-1.4 test", ctype="application/pdf",
           status=201):
    r = api(server, user["access"]).post(UPLOAD, files={"file": (name, data, ctype)})
    return assert_json(r, status)


def relative(url: str) -> str:
    """The path and query of an absolute URL."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + "?" + parts.query


def media_get(server, path: str):
    return requests.get(server.base_url + path, timeout=15, allow_redirects=False)


def uploads_dir(server):
    return server.data_dir / "media" / "uploads"


def files_on_disk(server) -> list:
    d = uploads_dir(server)
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def wait_for(predicate, timeout=10.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def proc_status(server) -> dict:
    """VmRSS and VmHWM of the server process, in KiB."""
    out = {}
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def reset_peak(server) -> None:
    """Resets the server's VmHWM to its current RSS (Linux >= 4.0). Without this, the peak of
    start-up and of the password hashes (register, login: tens of MiB) hides any smaller growth."""
    with open(f"/proc/{server.proc.pid}/clear_refs", "w") as f:
        f.write("5")


def multipart_stream(boundary: str, total: int, piece=MiB, name="big.bin"):
    """A multipart body with one `file` part of `total` bytes, produced piece by piece."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    chunk = b"\0" * piece
    left = total
    while left > 0:
        n = min(piece, left)
        yield chunk[:n]
        left -= n
    yield f"\r\n--{boundary}--\r\n".encode()


@pytest.fixture
def world(server):
    """alice owns a team with bob; dave shares no team with them."""
    alice, bob, dave = (register(server) for _ in range(3))
    team = team_with(server, alice, bob)
    general = create_channel(server, alice, team["id"])
    return {"alice": alice, "bob": bob, "dave": dave, "team": team, "general": general}


# --- upload ----------------------------------------------------------------------------------------

def test_upload_stores_the_file_and_answers_an_absolute_signed_url(server, user):
    body = upload(server, user, "plan.pdf", b"%PDF-1.4 " + b"x" * 48204)
    assert set(body) == {"id", "filename", "url", "content_type", "size"}
    assert body["filename"] == "plan.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == 48213
    assert isinstance(body["id"], int)
    assert body["url"].startswith(server.base_url + "/media/uploads/"), body
    m = SIGNED_PATH.match(relative(body["url"]))
    assert m and m.group(2) == ".pdf", body["url"]
    assert int(m.group(3)) > time.time() + 3000  # PARLEY_MEDIA_URL_TTL 1 h
    assert m.group(1) + ".pdf" in files_on_disk(server)
    r = requests.get(body["url"], timeout=15)
    assert r.status_code == 200
    assert r.content == b"%PDF-1.4 " + b"x" * 48204
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Length"] == "48213"
    assert r.headers["Content-Disposition"] == \
        "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "private, no-store"
    assert r.headers["Content-Security-Policy"] == CSP


def test_upload_uses_public_url_when_configured(fresh_server):
    srv = fresh_server(env={"PARLEY_PUBLIC_URL": "https://chat.example.com/"})
    u = register(srv)
    body = upload(srv, u)
    assert body["url"].startswith("https://chat.example.com/media/uploads/"), body


def test_upload_errors(server, user):
    a = api(server, user["access"])
    assert_json(a.post(UPLOAD, files={"other": ("a.txt", b"x")}), 400, NO_FILE)
    assert_json(a.post(UPLOAD, data={"file": "not a file"}), 400, NO_FILE)
    assert_json(a.post(UPLOAD, files={"file": ("", b"x")}), 400, NO_FILE)  # §13.11
    assert_json(a.post(UPLOAD, json={"file": "x"}), 400, NO_FILE)
    assert_json(a.post(UPLOAD, data=b"x", headers={"Content-Type": "text/plain"}), 400, NO_FILE)
    assert_json(a.post(UPLOAD, data=b"--b\r\n", headers={
        "Content-Type": "multipart/form-data; boundary=b"}), 400, NO_FILE)  # cut short
    assert_json(a.post(UPLOAD, data=b"",
                       headers={"Content-Type": "multipart/form-data"}), 400, NO_FILE)
    assert_401(api(server).post(UPLOAD, files={"file": ("a.txt", b"x")}), NOT_AUTHENTICATED)
    assert_json(a.get(UPLOAD), 405)
    assert not [n for n in files_on_disk(server) if n.endswith(".part")]


def test_uploads_count_against_the_api_rate_bucket(fresh_server):
    srv = fresh_server(env={"PARLEY_RATE_API": "2/min"})
    u = register(srv)
    upload(srv, u, "a.txt", b"1", "text/plain")
    upload(srv, u, "b.txt", b"2", "text/plain")
    r = api(srv, u["access"]).post(UPLOAD, files={"file": ("c.txt", b"3", "text/plain")})
    body = assert_json(r, 429)
    assert body["code"] == "throttled" and int(r.headers["Retry-After"]) > 0, body
    assert len(files_on_disk(srv)) == 2  # the throttled body was never stored
    r = api(srv, u["access"]).post("/api/chat/fetch-link-preview/",
                                   json={"url": "http://example.com/"})
    assert_json(r, 429)


def test_filenames_and_types_follow_section_71(server, user):
    evil = upload(server, user, '../../etc/pa"ss\\wd.TXT', b"x", "text/plain; charset=utf-8")
    assert evil["filename"] == "wd.TXT"
    assert evil["content_type"] == "text/plain"
    assert SIGNED_PATH.match(relative(evil["url"])).group(2) == ".txt"
    odd = upload(server, user, "noext", b"x", "not a type")
    assert odd["filename"] == "noext"
    assert odd["content_type"] == "application/octet-stream"
    assert SIGNED_PATH.match(relative(odd["url"])).group(2) is None
    long_name = "a" * 300 + ".pdf"
    cut = upload(server, user, long_name, b"x")
    assert cut["filename"] == "a" * 251 + ".pdf"
    euro = upload(server, user, "€ rates.pdf", b"x")
    assert euro["filename"] == "€ rates.pdf"
    r = requests.get(euro["url"], timeout=15)
    assert r.headers["Content-Disposition"] == \
        "attachment; filename=\"_ rates.pdf\"; filename*=UTF-8''%E2%82%AC%20rates.pdf"


def test_images_are_inline_other_types_attachment(server, user):
    png = upload(server, user, "pic.png", b"\x89PNG\r\n\x1a\n", "image/png")
    r = requests.get(png["url"], timeout=15)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith("inline; filename=\"pic.png\"")
    assert r.headers["Content-Security-Policy"] == CSP
    svg = upload(server, user, "pic.svg", b"<svg/>", "image/svg+xml")
    r = requests.get(svg["url"], timeout=15)
    assert r.headers["Content-Disposition"].startswith("attachment;")
    html = upload(server, user, "x.html", b"<script>alert(1)</script>", "text/html")
    r = requests.get(html["url"], timeout=15)
    assert r.headers["Content-Type"] == "text/html"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"] == CSP


# --- attachments, downloads and the access rule ---------------------------------------------------

def post_with_files(server, user, channel_id, file_ids, key="file_ids", content="", status=201):
    r = api(server, user["access"]).post(MESSAGES, json={"channel": channel_id, "content": content,
                                                         key: file_ids})
    return assert_json(r, status)


def download(server, user, file_id):
    return api(server, user["access"] if user else None).get(f"/api/chat/{file_id}/download/")


def test_attach_download_and_media_urls_for_every_role(server, world, staff):
    alice, bob, dave = world["alice"], world["bob"], world["dave"]
    data = b"plan " * 1000
    f = upload(server, alice, "plan.pdf", data)
    msg = post_with_files(server, alice, world["general"]["id"], [f["id"]])
    assert msg["content"] == ""  # file-only messages are accepted (§11)
    [att] = msg["attachments"]
    assert set(att) == {"id", "filename", "url", "content_type", "size"}
    assert (att["id"], att["filename"], att["content_type"], att["size"]) == \
        (f["id"], "plan.pdf", "application/pdf", len(data))
    assert SIGNED_PATH.match(att["url"]), att  # relative in message objects (§1.5)
    # The same message read back carries a freshly signed URL.
    again = assert_json(api(server, bob["access"]).get(f"{MESSAGES}{msg['id']}/"), 200)
    assert SIGNED_PATH.match(again["attachments"][0]["url"])

    for who in (alice, bob, staff):
        r = download(server, who, f["id"])
        assert r.status_code == 200, (who["username"], r.text)
        assert r.content == data
        assert r.headers["Content-Type"] == "application/pdf"
        assert r.headers["Content-Length"] == str(len(data))
        assert r.headers["Content-Disposition"] == \
            "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "private, no-store"
    assert_json(download(server, dave, f["id"]), 404, FILE_NOT_FOUND)
    assert_json(download(server, dave, f["id"] + 100000), 404, FILE_NOT_FOUND)
    assert_401(download(server, None, f["id"]), NOT_AUTHENTICATED)
    assert_json(api(server, alice["access"]).get("/api/chat/0/download/"), 404, NOT_FOUND)
    r = media_get(server, att["url"])  # no auth at all: the signature is the permission
    assert r.status_code == 200 and r.content == data

    # §1.4: deleting the message removes the link, not the file.
    r = api(server, alice["access"]).delete(f"{MESSAGES}{msg['id']}/")
    assert r.status_code == 204
    assert_json(download(server, bob, f["id"]), 404, FILE_NOT_FOUND)
    assert download(server, alice, f["id"]).status_code == 200
    assert download(server, staff, f["id"]).status_code == 200
    assert media_get(server, att["url"]).status_code == 200  # until it expires or is swept


def test_a_member_who_leaves_loses_access(server, world):
    alice, bob = world["alice"], world["bob"]
    f = upload(server, alice)
    post_with_files(server, alice, world["general"]["id"], [f["id"]], content="see attached")
    assert download(server, bob, f["id"]).status_code == 200
    r = api(server, bob["access"]).post(f"/api/chat/teams/{world['team']['id']}/leave/", json={})
    assert r.status_code == 200
    assert_json(download(server, bob, f["id"]), 404, FILE_NOT_FOUND)


def rules_setup(server, world):
    """alice's upload, bob's upload, the channel, its history path and its current length."""
    alice, bob = world["alice"], world["bob"]
    general = world["general"]["id"]
    history = f"/api/chat/channels/{general}/messages/"
    before = len(assert_json(api(server, alice["access"]).get(history), 200))
    return upload(server, alice), upload(server, bob), general, history, before


def test_file_ids_rules(server, world):
    alice = world["alice"]
    mine, theirs, general, history, before = rules_setup(server, world)

    def refused(ids, key="file_ids", message=None):
        body = post_with_files(server, alice, general, ids, key=key, content="x", status=400)
        assert body == {key: [message]}, body

    refused([theirs["id"]], message=f"Invalid file id {theirs['id']}.")
    refused([mine["id"], theirs["id"]], key="fileIds", message=f"Invalid file id {theirs['id']}.")
    refused([mine["id"] + 100000], message=f"Invalid file id {mine['id'] + 100000}.")
    refused([mine["id"], mine["id"]], message=f"Invalid file id {mine['id']}.")
    refused(["x"], message="Invalid file id x.")
    refused(list(range(1, 12)), message="Ensure this field has no more than 10 elements.")
    body = post_with_files(server, alice, general, "3", content="x", status=400)
    assert body == {"file_ids": ['Expected a list of items but got type "str".']}
    assert len(assert_json(api(server, alice["access"]).get(history), 200)) == before

    ok = post_with_files(server, alice, general, [mine["id"]], key="fileIds", content="x")
    assert [a["id"] for a in ok["attachments"]] == [mine["id"]]
    # Already attached to a message: not attachable again (§6.1, only uploads not yet attached).
    refused([mine["id"]], message=f"Invalid file id {mine['id']}.")
    # Ten at once, in the order given.
    ten = [upload(server, alice, f"f{i}.txt", b"x", "text/plain")["id"] for i in range(10)]
    msg = post_with_files(server, alice, general, list(reversed(ten)))
    assert [a["id"] for a in msg["attachments"]] == list(reversed(ten))
    # Blank content needs an attachment.
    body = post_with_files(server, alice, general, [], content="  ", status=400)
    assert body == {"content": ["This field may not be blank."]}


def test_websocket_messages_carry_signed_attachments(server, world):
    alice, bob = world["alice"], world["bob"]
    f = upload(server, alice, "notes.txt", b"hello", "text/plain")
    bob_ws = wsclient.connect(server, bob["access"])
    alice_ws = wsclient.connect(server, alice["access"])
    try:
        ack = alice_ws.request({"message_type": "channel_message", "channel": world["general"]["id"],
                                "content": "", "fileIds": [f["id"]], "request_id": "f1"})
        assert ack["type"] == "ack", ack
        live = bob_ws.recv_until(lambda fr: fr.get("type") == "channels")
        [att] = live["attachments"]
        assert att["id"] == f["id"] and att["filename"] == "notes.txt"
        assert SIGNED_PATH.match(att["url"]), att
        r = media_get(server, att["url"])
        assert r.status_code == 200 and r.content == b"hello"
        # Someone else's upload over the WebSocket: an invalid error frame, nothing posted.
        theirs = upload(server, bob)
        err = alice_ws.request({"message_type": "channel_message",
                                "channel": world["general"]["id"], "content": "x",
                                "file_ids": [theirs["id"]], "request_id": "f2"})
        assert err["type"] == "error" and err["code"] == "invalid", err
    finally:
        alice_ws.close()
        bob_ws.close()


def test_file_ids_rules_over_the_websocket(server, world):
    alice = world["alice"]
    mine, theirs, general, history, before = rules_setup(server, world)
    sock = wsclient.connect(server, alice["access"])
    try:
        def send(rid, key, ids, content="x"):
            return sock.request({"message_type": "channel_message", "channel": general,
                                 "content": content, key: ids, "request_id": rid})

        def refused(rid, key, ids, error):
            err = send(rid, key, ids)
            assert err["type"] == "error", err
            assert (err["code"], err["field"], err["error"]) == ("invalid", key, error), err

        refused("w1", "fileIds", [theirs["id"]], f"Invalid file id {theirs['id']}.")
        refused("w2", "file_ids", [mine["id"], theirs["id"]], f"Invalid file id {theirs['id']}.")
        refused("w3", "fileIds", [mine["id"] + 100000], f"Invalid file id {mine['id'] + 100000}.")
        refused("w4", "fileIds", [mine["id"], mine["id"]], f"Invalid file id {mine['id']}.")
        refused("w5", "fileIds", list(range(1, 12)),
                "Ensure this field has no more than 10 elements.")
        assert len(assert_json(api(server, alice["access"]).get(history), 200)) == before

        ack = send("w6", "file_ids", [mine["id"]], content="")
        assert ack["type"] == "ack", ack
        msg = assert_json(api(server, alice["access"]).get(f"{MESSAGES}{ack['message_id']}/"), 200)
        assert [a["id"] for a in msg["attachments"]] == [mine["id"]]
        # Attached now: neither the WebSocket nor REST attaches it a second time.
        refused("w7", "fileIds", [mine["id"]], f"Invalid file id {mine['id']}.")
        body = post_with_files(server, alice, general, [mine["id"]], content="x", status=400)
        assert body == {"file_ids": [f"Invalid file id {mine['id']}."]}
        ten = [upload(server, alice, f"w{i}.txt", b"x", "text/plain")["id"] for i in range(10)]
        ack = send("w8", "fileIds", ten)
        assert ack["type"] == "ack", ack
        msg = assert_json(api(server, alice["access"]).get(f"{MESSAGES}{ack['message_id']}/"), 200)
        assert [a["id"] for a in msg["attachments"]] == ten
    finally:
        sock.close()


def test_parallel_posts_attach_an_upload_once(server, world):
    """Twelve posts race for one upload: one message carries it, the others are refused."""
    alice = world["alice"]
    general = world["general"]["id"]
    for round_ in range(3):
        f = upload(server, alice, f"race{round_}.txt", b"x", "text/plain")
        barrier = threading.Barrier(12)

        def post(i):
            a = api(server, alice["access"])
            barrier.wait(10)
            return a.post(MESSAGES, json={"channel": general, "content": f"r{i}",
                                          "file_ids": [f["id"]]})

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(post, range(12)))
        created = [assert_json(r, 201) for r in results if r.status_code == 201]
        refused = [assert_json(r, 400) for r in results if r.status_code != 201]
        assert len(created) == 1, [r.status_code for r in results]
        assert created[0]["attachments"][0]["id"] == f["id"]
        assert all(b == {"file_ids": [f"Invalid file id {f['id']}."]} for b in refused), refused
        history = assert_json(api(server, alice["access"]).get(
            f"/api/chat/channels/{general}/messages/?limit=1000"), 200)
        carrying = [m["id"] for m in history if any(a["id"] == f["id"] for a in m["attachments"])]
        assert carrying == [created[0]["id"]]


# --- signed media URLs ----------------------------------------------------------------------------

def test_tampered_or_missing_signatures_are_refused(server, user):
    f = upload(server, user, "a.txt", b"secret", "text/plain")
    other = upload(server, user, "b.txt", b"other", "text/plain")
    path = relative(f["url"])
    m = SIGNED_PATH.match(path)
    name, ext, expires, sig = m.group(1), m.group(2), m.group(3), m.group(4)
    base = f"/media/uploads/{name}{ext}"
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    other_name = SIGNED_PATH.match(relative(other["url"])).group(1)
    for bad in (f"{base}?expires={expires}&signature={flipped}",
                f"{base}?expires={int(expires) + 1}&signature={sig}",
                f"{base}?expires={expires}",
                f"{base}?signature={sig}",
                base,
                f"/media/uploads/{other_name}.txt?expires={expires}&signature={sig}"):
        r = media_get(server, bad)
        assert_json(r, 403, BAD_SIGNATURE)
        assert r.headers["Content-Security-Policy"] == CSP
    assert media_get(server, path).content == b"secret"
    assert media_get(server, f"{base}/?expires={expires}&signature={sig}").status_code == 200


def test_paths_outside_uploads_never_reach_the_file_system(server, user):
    f = upload(server, user, "a.txt", b"x", "text/plain")
    query = urllib.parse.urlsplit(f["url"]).query
    for path in ("/media/uploads/..%2Fsecret_key", "/media/uploads/%2e%2e%2fparley.sqlite3",
                 "/media/uploads/..", "/media/uploads/%2E%2E", "/media/uploads/secret_key",
                 "/media/uploads/..%5Csecret_key", "/media/uploads/x%00.txt",
                 "/media/uploads/%2Fetc%2Fpasswd", "/media/secret_key", "/media/uploads/"):
        status, headers, body = raw_request(server, "GET", f"{path}?{query}", {})
        assert status == 404, (path, status, body)
        assert headers["content-security-policy"] == CSP
    for path in ("/media/uploads/../secret_key", "/media/../secret_key", "/media//etc/passwd"):
        status, _, _ = raw_request(server, "GET", f"{path}?{query}", {})
        assert status == 404, path


def test_expired_urls_are_refused(fresh_server):
    srv = fresh_server(env={"PARLEY_MEDIA_URL_TTL": "3s"})
    u = register(srv)
    f = upload(srv, u, "a.txt", b"x", "text/plain")
    expires = int(SIGNED_PATH.match(relative(f["url"])).group(3))
    assert expires <= time.time() + 4
    assert requests.get(f["url"], timeout=15).status_code == 200
    while time.time() <= expires + 1:
        time.sleep(0.2)
    assert_json(requests.get(f["url"], timeout=15), 403, BAD_SIGNATURE)
    # The durable door still works (§7.3: clients use §7.2).
    assert download(srv, u, f["id"]).status_code == 200


# --- the size limit -------------------------------------------------------------------------------

def test_sizes_at_and_just_over_the_limit(fresh_server):
    srv = fresh_server(env={"PARLEY_MAX_UPLOAD_BYTES": "1000"})
    u = register(srv)
    at = upload(srv, u, "at.bin", b"a" * 1000, "application/octet-stream")
    assert at["size"] == 1000
    a = api(srv, u["access"])
    r = a.post(UPLOAD, files={"file": ("over.bin", b"a" * 1001)})
    assert_json(r, 413, too_large(1000))
    # Far over: refused on Content-Length before the body is read.
    status, _, body = raw_request(srv, "POST", UPLOAD, {
        "Authorization": f"Bearer {u['access']}",
        "Content-Type": "multipart/form-data; boundary=b"}, b"x" * (200 * 1024))
    assert status == 413, body
    assert body == b'{"detail":"File too large. The limit is 1000 bytes.","code":"payload_too_large"}'
    assert wait_for(lambda: len(files_on_disk(srv)) == 1, 5)  # only the accepted file


def test_a_200_mib_upload_is_refused_while_streaming_without_memory_growth(fresh_server):
    srv = fresh_server()  # default limit: 25 MiB
    u = register(srv)
    upload(srv, u, "warm.bin", b"w" * MiB, "application/octet-stream")  # warm the allocator
    reset_peak(srv)
    before = proc_status(srv)
    boundary = "parleyboundary7MA4YWxk"
    try:
        r = requests.post(srv.url(UPLOAD), data=multipart_stream(boundary, 200 * MiB),
                          headers={"Authorization": f"Bearer {u['access']}",
                                   "Content-Type": f"multipart/form-data; boundary={boundary}"},
                          timeout=60)
        assert_json(r, 413, too_large(26214400))
    except requests.ConnectionError:
        pass  # the server answered 413 and closed while the client was still sending
    after = proc_status(srv)
    grown = (after["VmHWM"] - before["VmHWM"]) / 1024
    print(f"\n200 MiB refused: VmHWM {before['VmHWM'] / 1024:.1f} -> "
          f"{after['VmHWM'] / 1024:.1f} MiB")
    assert grown < RSS_GROWTH_MIB, f"peak RSS grew by {grown:.1f} MiB"
    assert wait_for(lambda: len(files_on_disk(srv)) == 1, 5), files_on_disk(srv)


def test_a_200_mib_upload_streams_to_disk(fresh_server):
    srv = fresh_server(env={"PARLEY_MAX_UPLOAD_BYTES": str(256 * MiB)})
    u = register(srv)
    upload(srv, u, "warm.bin", b"w" * MiB, "application/octet-stream")
    reset_peak(srv)
    before = proc_status(srv)
    boundary = "parleyboundary7MA4YWxk"
    started = time.monotonic()
    r = requests.post(srv.url(UPLOAD), data=multipart_stream(boundary, 200 * MiB),
                      headers={"Authorization": f"Bearer {u['access']}",
                               "Content-Type": f"multipart/form-data; boundary={boundary}"},
                      timeout=300)
    took = time.monotonic() - started
    body = assert_json(r, 201)
    after = proc_status(srv)
    assert body["size"] == 200 * MiB
    name = SIGNED_PATH.match(relative(body["url"]))
    assert (uploads_dir(srv) / (name.group(1) + ".bin")).stat().st_size == 200 * MiB
    grown = (after["VmHWM"] - before["VmHWM"]) / 1024
    print(f"\n200 MiB upload: {200 / took:.0f} MiB/s ({took:.2f} s), VmHWM "
          f"{before['VmHWM'] / 1024:.1f} -> {after['VmHWM'] / 1024:.1f} MiB")
    assert grown < RSS_GROWTH_MIB, f"peak RSS grew by {grown:.1f} MiB"
    # And it comes back out without being read whole either.
    started = time.monotonic()
    got = 0
    with api(srv, u["access"]).get(f"/api/chat/{body['id']}/download/", stream=True) as d:
        assert d.status_code == 200
        assert d.headers["Content-Length"] == str(200 * MiB)
        for chunk in d.iter_content(MiB):
            got += len(chunk)
    assert got == 200 * MiB
    final = proc_status(srv)
    print(f"200 MiB download: {200 / (time.monotonic() - started):.0f} MiB/s, VmHWM "
          f"{final['VmHWM'] / 1024:.1f} MiB")
    assert (final["VmHWM"] - before["VmHWM"]) / 1024 < RSS_GROWTH_MIB


def test_an_interrupted_upload_leaves_no_file(fresh_server):
    srv = fresh_server()
    u = register(srv)
    boundary = "cutboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"cut.bin\"\r\n\r\n").encode()
    total = 4 * MiB
    body_len = len(head) + total + len(f"\r\n--{boundary}--\r\n")
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
    try:
        sock.sendall((f"POST {UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                      f"Authorization: Bearer {u['access']}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {body_len}\r\n\r\n").encode() + head)
        sock.sendall(b"z" * (total // 2))
        # The half that arrived is on disk already, in a temporary file (streamed, §7.1).
        assert wait_for(lambda: any(n.endswith(".part") for n in files_on_disk(srv)), 5), \
            files_on_disk(srv)
    finally:
        sock.close()
    assert wait_for(lambda: files_on_disk(srv) == [], 5), files_on_disk(srv)
    # The server is fine afterwards.
    assert upload(srv, u, "next.txt", b"ok", "text/plain")["size"] == 2


# --- orphans ---------------------------------------------------------------------------------------

def test_orphan_files_are_swept_after_the_ttl(fresh_server):
    srv = fresh_server(env={"PARLEY_ORPHAN_FILE_TTL": "4s"})
    alice, bob = register(srv), register(srv)
    team = team_with(srv, alice, bob)
    general = create_channel(srv, alice, team["id"])
    loose = upload(srv, alice, "loose.txt", b"x", "text/plain")
    kept = upload(srv, alice, "kept.txt", b"y", "text/plain")
    msg = post_with_files(srv, alice, general["id"], [kept["id"]])
    assert len(files_on_disk(srv)) == 2
    # Never attached: gone (file and row) once older than the TTL.
    assert wait_for(lambda: download(srv, alice, loose["id"]).status_code == 404, 20, 0.5)
    assert_json(download(srv, alice, loose["id"]), 404, FILE_NOT_FOUND)
    assert media_get(srv, relative(loose["url"])).status_code == 404
    assert len(files_on_disk(srv)) == 1
    # Attached: kept while linked, then swept a TTL after its last link went (§1.4).
    time.sleep(5)
    assert download(srv, bob, kept["id"]).status_code == 200
    assert api(srv, alice["access"]).delete(f"{MESSAGES}{msg['id']}/").status_code == 204
    assert download(srv, alice, kept["id"]).status_code == 200
    assert wait_for(lambda: files_on_disk(srv) == [], 20), files_on_disk(srv)
    assert_json(download(srv, alice, kept["id"]), 404, FILE_NOT_FOUND)


def test_deleting_a_channel_or_team_removes_its_files_from_disk(fresh_server):
    """§1.4: the cascade removes the attachment links; the sweep then removes the orphaned files
    (file and row) a TTL later. Files of surviving messages stay."""
    srv = fresh_server(env={"PARLEY_ORPHAN_FILE_TTL": "3s"})
    alice, bob = register(srv), register(srv)
    team = team_with(srv, alice, bob)
    doomed_channel = create_channel(srv, alice, team["id"], name="doomed")
    kept_channel = create_channel(srv, alice, team["id"], name="kept")
    other_team = team_with(srv, alice, bob, name="Other")
    other_channel = create_channel(srv, alice, other_team["id"])
    in_channel = upload(srv, alice, "channel.txt", b"c", "text/plain")
    in_team = upload(srv, bob, "team.txt", b"t", "text/plain")
    kept = upload(srv, alice, "kept.txt", b"k", "text/plain")
    post_with_files(srv, alice, doomed_channel["id"], [in_channel["id"]])
    post_with_files(srv, bob, other_channel["id"], [in_team["id"]])
    post_with_files(srv, alice, kept_channel["id"], [kept["id"]])
    name = {f["id"]: SIGNED_PATH.match(relative(f["url"])).group(1) + ".txt"
            for f in (in_channel, in_team, kept)}
    time.sleep(4)  # older than the TTL, but linked: nothing is swept
    assert files_on_disk(srv) == sorted(name.values())

    a = api(srv, alice["access"])
    assert a.delete(f"/api/chat/channels/{doomed_channel['id']}/").status_code == 204
    assert a.delete(f"/api/chat/teams/{other_team['id']}/").status_code == 204
    # The uploaders still reach them until the sweep (§1.4: the TTL counts from the unlink).
    assert download(srv, alice, in_channel["id"]).status_code == 200
    assert wait_for(lambda: files_on_disk(srv) == [name[kept["id"]]], 20), files_on_disk(srv)
    assert_json(download(srv, alice, in_channel["id"]), 404, FILE_NOT_FOUND)
    assert_json(download(srv, bob, in_team["id"]), 404, FILE_NOT_FOUND)
    assert media_get(srv, relative(in_team["url"])).status_code == 404
    assert download(srv, bob, kept["id"]).status_code == 200
