"""The built-in web client (API.md §0.1) in real headless Chromium: two people in two browsers
register, create a team, invite and join by link, talk in a channel and a DM, react, edit, delete,
lose the connection and the server, and attach an image. Screenshots of each step go to
build/screenshots/; timings and sizes to build/screenshots/web-client-metrics.json.

The tests of this module run in order and share one scenario (`world`).
"""
import json
import pathlib
import struct
import time
import urllib.parse
import zlib

import pytest
import requests
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from proxy import Proxy
from support import client
from support.server import Server

WAIT_S = 15
RECONNECT_WAIT_S = 30
PASSWORD = client.DEFAULT_PASSWORD
WEB = pathlib.Path(__file__).resolve().parents[2] / "web"
METRICS = {}
# A message's text in the page, without the " (edited)" label.
TEXT = "(c => [...c.childNodes].filter(n => !n.classList?.contains('edited')).map(n => n.textContent).join(''))"


class Page:
    """One person's browser: waits, DOM reads through small scripts, screenshots."""

    def __init__(self, driver, base_url, who, shots):
        self.d = driver
        self.base = base_url
        self.who = who
        self.shots = shots
        self.console = []

    def open(self, path="/"):
        self.d.get(self.base + path)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def wait(self, cond, what, timeout=WAIT_S):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(lambda _: cond())
        except TimeoutException:
            self.shot(f"FAILED-{what.replace(' ', '-')[:40]}")
            raise AssertionError(f"{self.who}: timed out after {timeout} s waiting for {what}") from None

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def click(self, css):
        self.wait(lambda: self.js("const e = document.querySelector(arguments[0]); return !!e && !e.disabled && e.offsetParent !== null", css),
                  f"{css} to be clickable")
        self.find(css).click()

    def fill(self, css, text):
        el = self.find(css)
        el.clear()
        el.send_keys(text)

    def shot(self, name):
        n = len(list(self.shots.glob("*.png"))) + 1
        self.d.save_screenshot(str(self.shots / f"{n:02d}-{self.who}-{name}.png"))

    def logs(self):
        self.console += self.d.get_log("browser")
        return self.console

    # ---- the chat

    def contents(self):
        """Texts of the messages shown (confirmed ones only, not pending sends), in order."""
        return self.js("return [...document.querySelectorAll('.msg[data-id] [data-testid=content]')]"
                       ".map(" + TEXT + ")")

    def message_ids(self):
        return self.js("return [...document.querySelectorAll('.msg[data-id]')].map(e => Number(e.dataset.id))")

    def count(self, text):
        return self.contents().count(text)

    def message_el(self, text):
        """The message element whose content is `text` (focused, so its toolbar shows)."""
        return self.js("""
            const el = [...document.querySelectorAll('.msg[data-id]')].find(m => {
              const c = m.querySelector('[data-testid=content]');
              return c && (""" + TEXT + """)(c) === arguments[0];
            });
            if (el) el.focus();
            return el || null;""", text)

    def send(self, text):
        box = self.find("[data-testid=composer]")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def wait_text(self, text, times=1):
        self.wait(lambda: self.count(text) == times, f"{text!r} shown {times} time(s)")

    def conn(self):
        return self.js("return document.body.dataset.conn || ''")

    def title(self):
        return self.find("[data-testid=channel-title]").text

    def open_channel(self, name):
        self.js("""[...document.querySelectorAll('[data-testid=channel], [data-testid=dm]')]
                   .find(b => b.querySelector('.name').textContent === arguments[0]).click()""", name)
        self.wait(lambda: self.title().endswith(name), f"channel {name} open")


def png(width=48, height=32, rgb=(79, 70, 229)):
    """A small solid PNG, made here (no test data files)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def world(server, launch, screenshots, tmp_path_factory):
    for old in screenshots.glob("*.png"):
        old.unlink()
    pa, pb = Proxy(server.port), Proxy(server.port)
    w = {
        "server": server, "pa": pa, "pb": pb,
        "alice": Page(launch(), pa.base_url, "alice", screenshots),
        "bob": Page(launch(), pb.base_url, "bob", screenshots),
        "names": {"alice": client.unique_username("alice"), "bob": client.unique_username("bob")},
        "tmp": tmp_path_factory.mktemp("browser"),
        "launch": launch, "shots": screenshots,
    }
    yield w
    pa.close()
    pb.close()
    (screenshots / "web-client-metrics.json").write_text(json.dumps(METRICS, indent=2) + "\n")


def register(page, username, path="/"):
    page.open(path)
    page.wait(lambda: page.js("return !!document.querySelector('form.auth-form')"), "the sign-in form")
    if page.find("form.auth-form h1").text.startswith("Sign in"):
        page.click(".switch button")
    page.fill("input[name=username]", username)
    page.fill("input[name=email]", f"{username}@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.shot("register")
    page.find("form.auth-form button.primary").click()


def rest(world, who):
    """A REST client logged in as alice or bob (for checks and for sends while a browser is away)."""
    account = client.login(world["server"], world["names"][who])
    return client.api(world["server"], account["access"]), account


# ---- the scenario ----------------------------------------------------------------------------------

def test_register_and_create_a_team(world):
    alice = world["alice"]
    register(alice, world["names"]["alice"])
    alice.wait(lambda: alice.conn() == "online", "the WebSocket to connect")
    alice.shot("welcome")
    alice.click("[data-testid=new-team]")
    alice.fill("[data-testid=team-name-input]", "Acme")
    alice.find("dialog form button.primary").click()
    alice.wait(lambda: alice.title() == "# general", "#general of the new team")
    assert alice.find("[data-testid=team-name]").text == "Acme"
    alice.shot("team-created")


def test_invite_and_join_by_link(world):
    alice, bob = world["alice"], world["bob"]
    codes = "return [...document.querySelectorAll('[data-testid=invitations] code')].map(e => e.textContent)"
    alice.click("[data-testid=invite]")
    alice.click("[data-testid=create-invite]")
    alice.wait(lambda: alice.find("[data-testid=invite-link]").get_attribute("value"), "the invitation link")
    link = alice.find("[data-testid=invite-link]").get_attribute("value")
    alice.wait(lambda: len(alice.js(codes)) == 1, "the invitation in the list")
    path = urllib.parse.urlsplit(link).path
    assert path.startswith("/join-team/") and len(path) == len("/join-team/") + 22, link
    # A second link, revoked at once: the list keeps the first.
    alice.click("[data-testid=create-invite]")
    alice.wait(lambda: len(alice.js(codes)) == 2, "two invitations")
    second = alice.js(codes)[0]  # newest first
    assert second != path.rsplit("/", 1)[1]
    alice.click("[data-testid=revoke]")
    alice.wait(lambda: alice.js(codes) == [path.rsplit("/", 1)[1]], "the revoked one to go")
    alice.shot("invitation")
    alice.js("document.querySelector('dialog .buttons button').click()")

    # Bob opens the link (on his own origin), is asked to sign up, then confirms the join.
    register(bob, world["names"]["bob"], path)
    assert "invited" in bob.find(".notice").text
    bob.wait(lambda: bob.js("return !!document.querySelector('dialog [data-testid=confirm]')"), "the join offer")
    bob.shot("join-offer")
    bob.click("dialog [data-testid=confirm]")
    bob.wait(lambda: bob.js("return document.querySelector('[data-testid=team-name]')?.textContent") == "Acme", "team Acme")
    bob.wait(lambda: bob.title() == "# general", "#general")
    assert bob.js("return location.pathname") == "/"
    alice.wait(lambda: bob_in_members(alice, world["names"]["bob"]), "bob among the members")
    bob.shot("joined")


def bob_in_members(page, name):
    return name in page.js("return [...document.querySelectorAll('[data-testid=member] .name')].map(e => e.textContent)")


def test_channel_messages_and_typing(world):
    alice, bob = world["alice"], world["bob"]
    alice.send("Hello from Alice 👋")
    bob.wait_text("Hello from Alice 👋")
    # Typing (§8.10): bob types without sending; alice sees it.
    bob.find("[data-testid=composer]").send_keys("Hi Alice")
    alice.wait(lambda: "is typing" in alice.find("[data-testid=typing]").text, "bob's typing notice")
    alice.shot("typing")
    bob.find("[data-testid=composer]").send_keys("!", Keys.ENTER)
    alice.wait_text("Hi Alice!")
    alice.wait(lambda: alice.find("[data-testid=typing]").text == "", "the typing notice to clear")
    assert alice.contents() == bob.contents() == ["Hello from Alice 👋", "Hi Alice!"]
    alice.shot("channel")


def test_react_edit_delete(world):
    alice, bob = world["alice"], world["bob"]
    # Bob reacts to Alice's message.
    assert bob.message_el("Hello from Alice 👋")
    bob.js("document.activeElement.querySelector('[data-testid=react]').click()")
    bob.js("document.activeElement.closest('.msg').querySelector('[data-testid=pick-reaction]').click()")
    chips = "return [...document.querySelectorAll('[data-testid=reaction]')].map(e => e.textContent)"
    alice.wait(lambda: alice.js(chips) == ["👍 1"], "bob's 👍 on alice's message")
    alice.shot("reaction")

    # Alice edits it (↑ in the empty composer edits her last message; here through the toolbar).
    assert alice.message_el("Hello from Alice 👋")
    alice.js("document.activeElement.querySelector('[data-testid=edit]').click()")
    box = alice.find("[data-testid=edit-input]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("Hello everyone 👋", Keys.ENTER)
    bob.wait_text("Hello everyone 👋")
    assert bob.count("Hello from Alice 👋") == 0
    assert bob.js("return !!document.querySelector('.msg[data-id] .edited')")
    bob.shot("edited")

    # And deletes another.
    alice.send("This one goes away")
    bob.wait_text("This one goes away")
    assert alice.message_el("This one goes away")
    alice.js("document.activeElement.querySelector('[data-testid=delete]').click()")
    alice.click("dialog [data-testid=confirm]")
    bob.wait_text("This one goes away", times=0)
    alice.wait_text("This one goes away", times=0)
    assert bob.contents() == ["Hello everyone 👋", "Hi Alice!"]


def test_direct_messages_with_unread_count(world):
    alice, bob = world["alice"], world["bob"]
    bob.js("""[...document.querySelectorAll('[data-testid=member]')]
              .find(b => b.querySelector('.name').textContent === arguments[0]).click()""", world["names"]["alice"])
    bob.wait(lambda: bob.title() == "@" + world["names"]["alice"], "the DM with alice")
    bob.send("psst, a secret")
    # Alice gets the DM (channel_created, then the message) with an unread badge.
    dm_badge = ("return [...document.querySelectorAll('[data-testid=dm]')].map(b => "
                "b.querySelector('[data-testid=unread]')?.textContent || '')")
    alice.wait(lambda: alice.js(dm_badge) == ["1"], "the DM with one unread message")
    alice.shot("dm-unread")
    alice.open_channel(world["names"]["bob"])
    alice.wait_text("psst, a secret")
    assert alice.js(dm_badge) == [""]
    alice.send("got it")
    bob.wait_text("got it")
    bob.shot("dm")
    alice.open_channel("general")
    bob.open_channel("general")


def test_pin_and_forward(world):
    alice, bob = world["alice"], world["bob"]
    assert alice.message_el("Hi Alice!")
    alice.js("document.activeElement.querySelector('[data-testid=pin]').click()")
    bob.wait(lambda: "Hi Alice!" in bob.find("[data-testid=pinned]").text, "the pinned message bar")
    bob.shot("pinned")
    # Alice forwards her greeting to the DM with bob.
    assert alice.message_el("Hello everyone 👋")
    alice.js("document.activeElement.querySelector('[data-testid=forward]').click()")
    alice.js("""[...document.querySelectorAll('dialog label.check')]
                .find(l => l.textContent === '@' + arguments[0]).querySelector('input').click()""",
             world["names"]["bob"])
    alice.find("dialog form button.primary").click()
    bob.open_channel(world["names"]["alice"])
    bob.wait_text("Hello everyone 👋")
    assert bob.js("return document.querySelector('.msg[data-id] .forwarded')?.textContent") == "↪ Forwarded"
    bob.shot("forwarded")
    bob.open_channel("general")


def test_lost_connection_shows_every_message_once(world):
    """Alice's network drops; meanwhile bob talks and alice writes; after the reconnect (resume,
    §8.8) alice sees every message exactly once and her queued one is delivered exactly once."""
    alice, bob, pa = world["alice"], world["bob"], world["pa"]
    pa.cut()
    alice.wait(lambda: alice.conn() == "offline", "alice to notice the cut")
    for i in range(1, 4):
        bob.send(f"while you were away {i}")
        bob.wait_text(f"while you were away {i}")
    alice.send("written while offline")
    alice.wait(lambda: alice.js("return document.querySelectorAll('[data-testid=pending]').length") == 1,
               "the queued message")
    alice.shot("offline")
    pa.restore()
    alice.wait(lambda: alice.conn() == "online", "alice to reconnect", timeout=RECONNECT_WAIT_S)
    for i in range(1, 4):
        alice.wait_text(f"while you were away {i}")
    alice.wait_text("written while offline")
    bob.wait_text("written while offline")
    alice.wait(lambda: alice.js("return document.querySelectorAll('[data-testid=pending]').length") == 0,
               "no pending message")
    time.sleep(1)  # late duplicates, if any, would show by now
    api, _ = rest(world, "bob")
    general = next(c for c in api.get("/api/chat/channels/").json() if c["name"] == "general")
    ids = [m["id"] for m in api.get(f"/api/chat/channels/{general['id']}/messages/").json()]
    assert alice.message_ids() == ids
    assert bob.message_ids() == ids
    assert alice.contents() == bob.contents()
    alice.shot("reconnected")
    world["general"] = general


def test_server_restart_shows_every_message_once(world):
    """The server restarts (in-process stream history is lost: a new epoch); messages sent while
    both browsers were away appear once after they reconnect (resync_required → reload)."""
    alice, bob, pa, pb, server = world["alice"], world["bob"], world["pa"], world["pb"], world["server"]
    pa.cut()
    pb.cut()
    server.restart()
    pa.retarget(server.port)
    pb.retarget(server.port)
    api, bob_account = rest(world, "bob")
    general = world["general"]
    for text in ("after the restart 1", "after the restart 2"):
        r = api.post("/api/chat/messages/", json={"channel": general["id"], "content": text})
        assert r.status_code == 201, r.text
    dm = next(c for c in api.get("/api/chat/channels/").json() if c["is_direct_message"])
    assert api.post("/api/chat/messages/", json={"channel": dm["id"], "content": "dm after restart"}).status_code == 201
    pa.restore()
    pb.restore()
    for page in (alice, bob):
        page.wait(lambda p=page: p.conn() == "online", f"{page.who} to reconnect", timeout=RECONNECT_WAIT_S)
        page.wait_text("after the restart 1")
        page.wait_text("after the restart 2")
    time.sleep(1)
    ids = [m["id"] for m in api.get(f"/api/chat/channels/{general['id']}/messages/").json()]
    assert alice.message_ids() == ids
    assert bob.message_ids() == ids
    alice.wait(lambda: alice.js("return [...document.querySelectorAll('[data-testid=dm] [data-testid=unread]')]"
                                ".map(e => e.textContent)") == ["1"], "the DM sent during the restart as unread")
    alice.open_channel(world["names"]["bob"])
    alice.wait_text("dm after restart")
    alice.shot("after-restart")
    alice.open_channel("general")


def test_time_to_first_message_and_client_size(world):
    """A fresh browser (empty cache) with a signed-in session loads the page: the time from
    navigation to the first rendered message (performance marks). Also the embedded file sizes."""
    alice = world["alice"]
    session = alice.js("return localStorage.getItem('parley.session')")
    last = alice.js("return Object.entries(localStorage).filter(([k]) => k.startsWith('parley.last.'))")
    fresh = Page(world["launch"](), world["pa"].base_url, "fresh", world["shots"])
    fresh.open("/static/icon.svg")  # same origin, so the session can be put in localStorage
    fresh.js("localStorage.setItem('parley.session', arguments[0]);"
             "for (const [k, v] of arguments[1]) localStorage.setItem(k, v);", session, last)
    fresh.open("/")
    mark = "return performance.getEntriesByName(arguments[0])[0]?.startTime ?? null"
    fresh.wait(lambda: fresh.js(mark, "parley:first-message") is not None, "the first message")
    cold = fresh.js(mark, "parley:first-message")
    hello = fresh.js(mark, "parley:hello")
    fresh.shot("first-load")
    fresh.open("/")  # again: revalidated from the cache (304)
    fresh.wait(lambda: fresh.js(mark, "parley:first-message") is not None, "the first message again")
    warm = fresh.js(mark, "parley:first-message")
    METRICS["time_to_first_message_ms"] = {"cold_cache": round(cold), "revalidated": round(warm),
                                           "websocket_hello_ms": round(hello)}
    assert cold < 5000, METRICS

    # Embedded client: every file under web/, identity and gzip.
    base = world["server"].base_url
    raw = gz = 0
    for f in sorted(p for p in WEB.rglob("*") if p.is_file()):
        name = f.relative_to(WEB).as_posix()
        path = "/" if name == "index.html" else f"/static/{name}"
        plain = requests.get(base + path, headers={"Accept-Encoding": "identity"}, timeout=10)
        zipped = requests.get(base + path, headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True)
        assert plain.status_code == 200 and plain.content == f.read_bytes(), name
        raw += int(plain.headers["Content-Length"])
        gz += int(zipped.headers["Content-Length"])
        zipped.close()
    METRICS["embedded_client_bytes"] = {"files": len(list(WEB.rglob("*.*"))), "identity": raw, "gzip": gz}


def test_phone_width_layout(world):
    page = Page(world["launch"](390, 844, phone=True), world["pa"].base_url, "phone", world["shots"])
    alice = world["alice"]
    page.open("/static/icon.svg")
    page.js("localStorage.setItem('parley.session', arguments[0])", alice.js("return localStorage.getItem('parley.session')"))
    page.open("/")
    page.wait(lambda: page.conn() == "online" and page.contents(), "the chat on a phone")
    assert page.js("return getComputedStyle(document.querySelector('.sidebar')).transform") != "none"
    assert page.js("return window.innerWidth") == 390
    assert page.js("return document.documentElement.scrollWidth <= window.innerWidth")
    page.shot("phone")
    page.click("button.menu")
    page.wait(lambda: page.js("return document.querySelector('.shell').classList.contains('drawer-open')"), "the drawer")
    time.sleep(0.3)  # the slide-in transition
    page.shot("phone-drawer")
    page.open_channel("general")
    assert not page.js("return document.querySelector('.shell').classList.contains('drawer-open')")


def test_infinite_scroll_pages_through_the_history(world):
    """130 messages in a new channel: the newest page comes over the WebSocket, older ones through
    the REST list (before= and the Link header) as the list scrolls up; each message once, in order."""
    alice = world["alice"]
    api, _ = rest(world, "alice")
    team = next(t for t in api.get("/api/chat/teams/").json() if t["name"] == "Acme")
    history = api.post("/api/chat/channels/", json={"name": "history", "team": team["id"]}).json()
    for i in range(1, 131):
        r = api.post("/api/chat/messages/", json={"channel": history["id"], "content": f"old message {i}"})
        assert r.status_code == 201, r.text
    alice.wait(lambda: alice.js("return [...document.querySelectorAll('[data-testid=channel] .name')]"
                                ".some(e => e.textContent === 'history')"), "the new channel")
    alice.open_channel("history")
    alice.wait(lambda: alice.count("old message 130") == 1, "the newest message")
    for _ in range(20):  # bounded: 130 messages are 3 pages of 50
        if alice.count("old message 1") == 1:
            break
        before = len(alice.message_ids())
        alice.js("document.querySelector('[data-testid=messages]').scrollTop = 0")
        alice.wait(lambda b=before: len(alice.message_ids()) > b or alice.count("old message 1") == 1,
                   "an older page")
    assert alice.contents() == [f"old message {i}" for i in range(1, 131)]
    ids = alice.message_ids()
    assert ids == sorted(set(ids))
    assert alice.find("[data-testid=history-top]").text == "Start of the conversation"
    alice.shot("history-top")
    alice.open_channel("general")


def test_expired_access_token_is_refreshed(world):
    """A stored session whose access token no longer works: the client refreshes it through
    /api/auth/token/refresh/ and carries on."""
    alice = world["alice"]
    session = json.loads(alice.js("return localStorage.getItem('parley.session')"))
    session["access"] = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.invalid"
    page = Page(world["launch"](), world["pa"].base_url, "refresh", world["shots"])
    page.open("/static/icon.svg")
    page.js("localStorage.setItem('parley.session', arguments[0])", json.dumps(session))
    page.open("/")
    page.wait(lambda: page.conn() == "online" and page.contents(), "the chat with a refreshed token")
    stored = json.loads(page.js("return localStorage.getItem('parley.session')"))
    assert stored["access"] != session["access"]
    assert stored["refresh"] == session["refresh"]


def test_socket_reauthenticates_before_its_token_expires(world):
    """§2.3, §8.4: a socket closes with 4001 when its access token expires unless the client sends
    `reauth` with a fresh one first. With 47 s tokens the client's reauth (45 s before expiry) is
    due at once and again after each fresh token: the socket stays the same while it reauths."""
    srv = Server(name="browser-reauth", env={"DATABASE_URL": None, "REDIS_URL": None,
                                             "PARLEY_ACCESS_TOKEN_LIFETIME": "47s"})
    srv.start()
    try:
        account = client.register(srv)
        session = {"access": account["access"], "refresh": account["refresh"],
                   "user": {"id": account["id"], "username": account["username"],
                            "email": account["email"]}}
        page = Page(world["launch"](), srv.base_url, "reauth", world["shots"])
        page.open("/static/icon.svg")
        page.js("localStorage.setItem('parley.session', arguments[0])", json.dumps(session))
        page.open("/")
        page.wait(lambda: page.conn() == "online", "the socket online")

        def counted(name, **labels):
            text = requests.get(srv.url("/metrics"), timeout=5).text
            want = ",".join(f'{k}="{v}"' for k, v in labels.items())
            prefix = f"{name}{{{want}}} " if want else f"{name} "
            for line in text.splitlines():
                if line.startswith(prefix):
                    return float(line.split()[-1])
            return 0.0

        page.wait(lambda: counted("parley_ws_frames_received_total", message_type="reauth") >= 2,
                  "two reauth frames", timeout=20)
        assert page.conn() == "online"
        assert counted("parley_ws_connections_total") == 1  # never reconnected
        assert counted("parley_ws_errors_total", code="token_not_valid") == 0
    finally:
        srv.close()


def test_no_policy_violations_in_the_console(world):
    for who in ("alice", "bob"):
        # Failed WebSocket connections while the network was cut are expected; a blocked or
        # missing file, a CSP violation or an uncaught exception is not.
        problems = [e["message"] for e in world[who].logs()
                    if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
                    or "Failed to load resource" in e["message"] or "Uncaught" in e["message"]]
        assert problems == [], problems


def test_attach_an_image(world):
    """Upload with a progress bar (§7.1), then the message with fileIds; the image shows inline."""
    alice, bob = world["alice"], world["bob"]
    image = world["tmp"] / "square.png"
    image.write_bytes(png())
    alice.find("[data-testid=file-input]").send_keys(str(image))
    alice.wait(lambda: alice.js("return document.querySelector('[data-testid=upload]')?.className || ''") != "",
               "the upload to finish")
    assert "failed" not in alice.js("return document.querySelector('[data-testid=upload]').className"), \
        alice.find("[data-testid=upload]").text
    alice.shot("upload")
    alice.send("a picture")
    shown = ("return [...document.querySelectorAll('[data-testid=attachment-image]')]"
             ".filter(i => i.complete && i.naturalWidth === 48).length")
    bob.wait(lambda: bob.js(shown) == 1, "the image in bob's browser")
    alice.wait(lambda: alice.js(shown) == 1, "the image in alice's browser")
    bob.shot("image")
