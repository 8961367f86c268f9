"""Abuse of uploads (issue #13 item 8; API.md §7.1, §10.2): a per-user quota of stored bytes
(PARLEY_UPLOAD_QUOTA_BYTES) and a free-space reserve (PARLEY_MIN_FREE_DISK_BYTES), checked
against the declared size before the body and again as the bytes arrive."""
from support.client import api, assert_json, raw_request, register

UPLOAD = "/api/chat/upload-file/"
KiB = 1024
MiB = 1024 * KiB
QUOTA = 1 * MiB
QUOTA_EXCEEDED = {"detail": f"Upload quota exceeded. Each user may store {QUOTA} bytes of files.",
                  "code": "payload_too_large"}
NO_SPACE = {"detail": "Not enough storage space on the server for this upload.",
            "code": "insufficient_storage"}


def upload(server, user, size: int, name="blob.bin"):
    return api(server, user["access"]).post(
        UPLOAD, files={"file": (name, b"x" * size, "application/octet-stream")})


def part_files(server) -> list:
    d = server.data_dir / "media" / "uploads"
    return [p.name for p in d.iterdir() if p.name.endswith(".part")] if d.exists() else []


def stored_files(server) -> list:
    d = server.data_dir / "media" / "uploads"
    return [p.name for p in d.iterdir() if not p.name.startswith(".")] if d.exists() else []


def test_uploads_stop_at_the_users_quota(fresh_server):
    srv = fresh_server(env={"PARLEY_UPLOAD_QUOTA_BYTES": str(QUOTA)})
    u = register(srv)
    assert_json(upload(srv, u, 400 * KiB), 201)
    assert_json(upload(srv, u, 400 * KiB), 201)
    # Declared too large for what is left: refused from the head, before the body.
    assert_json(upload(srv, u, 400 * KiB), 413, QUOTA_EXCEEDED)
    # What still fits is accepted, up to the quota exactly.
    assert_json(upload(srv, u, 224 * KiB - 1), 201)
    assert_json(upload(srv, u, 1), 201)
    assert_json(upload(srv, u, 1), 413, QUOTA_EXCEEDED)
    assert len(stored_files(srv)) == 4
    assert not part_files(srv)
    # Another user has a quota of their own.
    other = register(srv)
    assert_json(upload(srv, other, 900 * KiB), 201)


def test_the_quota_is_checked_as_bytes_arrive(fresh_server):
    srv = fresh_server(env={"PARLEY_UPLOAD_QUOTA_BYTES": str(QUOTA)})
    u = register(srv)
    assert_json(upload(srv, u, 960 * KiB), 201)
    # 100 KiB declared: within the framing allowance of the head check, so the body is read, and
    # refused once the file's bytes pass the quota.
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"late.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body += b"y" * (100 * KiB) + f"\r\n--{boundary}--\r\n".encode()
    status, _, data = raw_request(srv, "POST", UPLOAD, {
        "Authorization": f"Bearer {u['access']}",
        "Content-Type": f"multipart/form-data; boundary={boundary}"}, body)
    assert status == 413, (status, data)
    assert b"Upload quota exceeded" in data, data
    assert len(stored_files(srv)) == 1
    assert not part_files(srv)  # the partial file is gone


def test_uploads_are_refused_below_the_free_space_reserve(fresh_server):
    # A reserve larger than any disk: every upload is refused, the rest of the API still works.
    srv = fresh_server(env={"PARLEY_MIN_FREE_DISK_BYTES": str(1 << 59)})
    u = register(srv)
    assert_json(upload(srv, u, 10), 507, NO_SPACE)
    assert_json(upload(srv, u, 300 * KiB), 507, NO_SPACE)
    assert not stored_files(srv) and not part_files(srv)
    assert api(srv, u["access"]).get("/api/chat/teams/").status_code == 200


def test_the_quota_off_and_the_reserve_off(fresh_server):
    srv = fresh_server(env={"PARLEY_UPLOAD_QUOTA_BYTES": "0", "PARLEY_MIN_FREE_DISK_BYTES": "0",
                            "PARLEY_MAX_UPLOAD_BYTES": str(2 * MiB)})
    u = register(srv)
    for _ in range(3):
        assert_json(upload(srv, u, 1536 * KiB), 201)
