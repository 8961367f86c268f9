"""Link previews (API.md §7.4, §6.12, §13.4) against small HTML servers this test starts on the
loopback: Open Graph fields, fallbacks, whitespace and lengths, relative images, non-HTML, the
1 MiB and 5 s bounds, redirects, and the SSRF guards (refused addresses are never connected to)."""
import http.server
import re
import socket
import socketserver
import threading
import time
import uuid

import pytest

from support.client import NOT_AUTHENTICATED, api, assert_401, assert_json, register
from support.server import Server

PREVIEW = "/api/chat/fetch-link-preview/"
PREVIEW_ALIAS = "/api/chat/messages/fetch_preview/"
URL_REQUIRED = {"error": "URL is required", "code": "required"}
URL_INVALID = {"error": "Enter a valid http or https URL.", "code": "invalid"}
MiB = 1024 * 1024

OG_PAGE = b"""<!doctype html><html><head>
<meta property="og:title" content="  The   Title &amp; more ">
<meta property="og:description" content="About
   things">
<meta property="og:image" content="https://cdn.example.com/cover.png">
<meta property="og:site_name" content="Example Site">
<title>Not this one</title>
<meta name="description" content="nor this">
</head><body><p>Hello</p></body></html>"""


class _Pages(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    recorder = None  # (host, port) of the blocked-address recorder, set by the fixture

    def log_message(self, *args):
        pass

    def send_page(self, body: bytes, ctype="text/html; charset=utf-8", status=200):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client stopped reading (1 MiB cap)

    def redirect(self, location: str):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/og":
            self.send_page(OG_PAGE)
        elif path == "/title":
            self.send_page(b"<html><head><title>\n   Spaced\t\n  out   title </title>"
                           b"<meta name='description' content='  a  \n b  '></head></html>")
        elif path == "/long":
            self.send_page(b"<title>" + b"T" * 400 + b"</title><meta name=description content='"
                           + b"d " * 1200 + b"'><meta property='og:site_name' content='"
                           + b"s" * 300 + b"'>")
        elif path == "/dir/page":
            self.send_page(b"<meta property='og:image' content='../img/cover.png'>"
                           b"<title>Relative</title>")
        elif path == "/badimage":
            self.send_page(b"<meta property='og:image' content='javascript:alert(1)'>"
                           b"<title>Bad image</title>")
        elif path == "/text":
            self.send_page(b"<title>Not HTML</title>", "text/plain")
        elif path == "/big":
            head = b"<html><head><title>Big page</title></head><body>"
            self.send_page(head + b"<p>" + b"x" * (10 * MiB - len(head) - 3))
        elif path == "/hang":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                self.wfile.write(b"<html><head><title>Slow")
                self.wfile.flush()
                time.sleep(8)
            except OSError:
                pass
        elif path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])  # n redirects, then the page
            self.redirect(f"/redirect/{n - 1}" if n > 1 else "/og")
        elif path == "/relative-redirect":
            self.redirect("og")
        elif path == "/to-blocked":
            host, port = _Pages.recorder
            self.redirect(f"http://{host}:{port}/")
        else:
            self.send_page(b"not found", "text/plain", 404)


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Recorder:
    """Listens on an address and counts the connections that reach it (there must be none)."""

    def __init__(self, host: str, port: int = 0, family=socket.AF_INET):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def pages():
    """The HTML server on 127.0.0.1 and a recorder on 127.0.0.2 (blocked: only 127.0.0.1 is
    allowed)."""
    recorder = Recorder("127.0.0.2")
    _Pages.recorder = ("127.0.0.2", recorder.port)
    httpd = _ThreadingServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"base": f"http://127.0.0.1:{httpd.server_address[1]}",
               "port": httpd.server_address[1], "recorder": recorder}
    finally:
        httpd.shutdown()
        httpd.server_close()
        recorder.close()


@pytest.fixture(scope="module")
def allowed_server():
    """A server whose allow list exempts 127.0.0.1 (and only it)."""
    srv = Server(env={"PARLEY_LINK_PREVIEW_ALLOW": "127.0.0.1"}, name="previews")
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def preview(server, user, url, path=PREVIEW):
    r = api(server, user["access"]).post(path, json={"url": url})
    return assert_json(r, 200)


def fresh(url: str) -> str:
    """The URL with a unique query, so the 1 h cache of another test never answers."""
    return f"{url}{'&' if '?' in url else '?'}t={uuid.uuid4().hex[:8]}"


def failure(url: str, site_name: str) -> dict:
    return {"url": url, "title": None, "description": None, "image": None, "site_name": site_name}


# --- what a page gives -----------------------------------------------------------------------------

def test_open_graph_fields(allowed_server, pages):
    u = register(allowed_server)
    url = fresh(pages["base"] + "/og")
    got = preview(allowed_server, u, url)
    assert got == {"url": url, "title": "The Title & more", "description": "About things",
                   "image": "https://cdn.example.com/cover.png", "site_name": "Example Site"}
    # The messages form is the same endpoint (§6.12), and the answer is cached.
    assert preview(allowed_server, u, url, PREVIEW_ALIAS) == got


def test_title_fallback_whitespace_and_host_as_site_name(allowed_server, pages):
    u = register(allowed_server)
    url = fresh(pages["base"] + "/title")
    got = preview(allowed_server, u, url)
    assert got == {"url": url, "title": "Spaced out title", "description": "a b", "image": None,
                   "site_name": f"127.0.0.1:{pages['port']}"}  # §13.4: with its port


def test_long_values_are_cut(allowed_server, pages):
    u = register(allowed_server)
    got = preview(allowed_server, u, fresh(pages["base"] + "/long"))
    assert got["title"] == "T" * 300
    assert len(got["description"]) == 1000 and got["description"].startswith("d d d")
    assert got["site_name"] == "s" * 200


def test_relative_og_image_is_made_absolute_http_only(allowed_server, pages):
    u = register(allowed_server)
    got = preview(allowed_server, u, fresh(pages["base"] + "/dir/page"))
    assert got["image"] == pages["base"] + "/img/cover.png"
    assert got["title"] == "Relative"
    bad = preview(allowed_server, u, fresh(pages["base"] + "/badimage"))
    assert bad["image"] is None and bad["title"] == "Bad image"


def test_non_html_and_errors_give_nulls(allowed_server, pages):
    u = register(allowed_server)
    site = f"127.0.0.1:{pages['port']}"
    for path in ("/text", "/missing"):
        url = fresh(pages["base"] + path)
        assert preview(allowed_server, u, url) == failure(url, site)
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there: connection refused
    url = f"http://127.0.0.1:{port}/"
    assert preview(allowed_server, u, url) == failure(url, f"127.0.0.1:{port}")


def test_a_10_mib_page_is_read_only_up_to_1_mib(allowed_server, pages):
    u = register(allowed_server)
    started = time.monotonic()
    got = preview(allowed_server, u, fresh(pages["base"] + "/big"))
    assert got["title"] == "Big page"
    assert time.monotonic() - started < 5


def test_a_page_that_never_finishes_is_bounded_by_5_seconds(allowed_server, pages):
    u = register(allowed_server)
    url = fresh(pages["base"] + "/hang")
    started = time.monotonic()
    got = preview(allowed_server, u, url)
    took = time.monotonic() - started
    assert 4 <= took < 7, took
    assert got["url"] == url and got["site_name"] == f"127.0.0.1:{pages['port']}"
    assert got["description"] is None and got["image"] is None


def test_redirects_up_to_three_are_followed(allowed_server, pages):
    u = register(allowed_server)
    assert preview(allowed_server, u, fresh(pages["base"] + "/redirect/3"))["title"] == \
        "The Title & more"
    assert preview(allowed_server, u, fresh(pages["base"] + "/relative-redirect"))["title"] == \
        "The Title & more"
    url = fresh(pages["base"] + "/redirect/4")
    assert preview(allowed_server, u, url) == failure(url, f"127.0.0.1:{pages['port']}")


def test_a_redirect_to_a_blocked_address_is_refused_without_connecting(allowed_server, pages):
    u = register(allowed_server)
    url = fresh(pages["base"] + "/to-blocked")
    assert preview(allowed_server, u, url) == failure(url, f"127.0.0.1:{pages['port']}")
    assert pages["recorder"].connections == 0


# --- the address guard without an allow list --------------------------------------------------------

@pytest.fixture
def listeners():
    """Listeners on 127.0.0.1 and ::1 (same port when possible) recording connections."""
    v4 = Recorder("127.0.0.1")
    v6 = None
    try:
        v6 = Recorder("::1", v4.port, socket.AF_INET6)
    except OSError:
        pass
    yield v4, v6
    v4.close()
    if v6:
        v6.close()


def _remote_addresses(pid: int) -> set:
    """Remote addresses (hex, as the kernel writes them) of the TCP sockets in the server's
    network namespace, connecting or connected."""
    out = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    out.add(line.split()[2].split(":")[0])
        except OSError:
            pass
    return out


def _proc_hex(address: str) -> str:
    """An address as /proc/net/tcp{,6} writes it: 32-bit words in host (little-endian) order."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    raw = socket.inet_pton(family, address)
    return "".join(raw[i:i + 4][::-1].hex().upper() for i in range(0, len(raw), 4))


def test_blocked_addresses_are_refused_without_a_connection(fresh_server, listeners):
    """§7.4 without an allow list. Loopback listeners record any connection (there must be
    none); for addresses off this machine no traffic is ever sent: the server's debug log shows
    the refusal at the address check, the answer is immediate (a connection attempt to a
    non-routable address would take the 5 s bound) and no socket towards them appears."""
    srv = fresh_server(env={"PARLEY_LOG_LEVEL": "debug"})
    user = register(srv)
    v4, v6 = listeners
    p = v4.port
    cases = [
        (f"http://127.0.0.1:{p}/", f"127.0.0.1:{p}", "127.0.0.1"),
        (f"http://localhost:{p}/", f"localhost:{p}", None),  # 127.0.0.1 and/or ::1
        (f"http://[::1]:{p}/", f"[::1]:{p}", "::1"),
        (f"http://[::ffff:127.0.0.1]:{p}/", f"[::ffff:127.0.0.1]:{p}", "::ffff:127.0.0.1"),
        (f"http://2130706433:{p}/", f"2130706433:{p}", "127.0.0.1"),
        (f"http://0.0.0.0:{p}/", f"0.0.0.0:{p}", "0.0.0.0"),
        (f"https://127.0.0.1:{p}/", f"127.0.0.1:{p}", "127.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "169.254.169.254"),
        ("http://10.0.0.1/", "10.0.0.1", "10.0.0.1"),
        ("http://[::ffff:10.0.0.1]/", "[::ffff:10.0.0.1]", "::ffff:10.0.0.1"),
        ("http://[fd00:ec2::254]/", "[fd00:ec2::254]", "fd00:ec2::254"),
    ]
    seen = set()
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.update(_remote_addresses(srv.proc.pid))
            time.sleep(0.001)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for url, site, address in cases:
            log_from = srv.log_size()
            started = time.monotonic()
            assert preview(srv, user, url) == failure(url, site), url
            assert time.monotonic() - started < 2, url
            log = srv.log_text(log_from)
            assert re.search(r"link preview .*: blocked", log), (url, log)
            if address is not None:
                assert f"resolves to refused address {address}\n" in log, (url, log)
    finally:
        stop.set()
        watcher.join(2)
    assert v4.connections == 0
    assert v6 is None or v6.connections == 0
    # The watcher did read the tables: it saw this test's own connections to the server.
    assert _proc_hex("127.0.0.1") in seen, seen
    off_machine = {_proc_hex(a) for a in ("10.0.0.1", "169.254.169.254", "::ffff:10.0.0.1",
                                          "::ffff:169.254.169.254", "fd00:ec2::254")}
    assert not seen & off_machine, seen & off_machine


# --- request errors ---------------------------------------------------------------------------------

def test_request_errors(server, user):
    a = api(server, user["access"])
    for path in (PREVIEW, PREVIEW_ALIAS):
        for body in ({}, {"url": None}, {"url": ""}):
            assert_json(a.post(path, json=body), 400, URL_REQUIRED)
        for bad in (123, ["http://x"], "ftp://example.com/", "javascript:alert(1)", "example.com",
                    "http://", "http://exa mple.com/", "http://example.com/" + "a" * 2040):
            assert_json(a.post(path, json={"url": bad}), 400, URL_INVALID)
        assert_401(api(server).post(path, json={"url": "http://example.com/"}), NOT_AUTHENTICATED)
        assert_json(a.get(path), 405)
