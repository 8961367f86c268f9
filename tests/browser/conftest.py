"""Fixtures of the browser tests: a server of their own (SQLite), loopback proxies in front of it,
and real headless Chromium browsers (Debian's chromium and chromium-driver, driven by
python3-selenium), each with a new empty profile.

Run: scripts/test runs them after the end-to-end suites on SQLite, or directly:
  PARLEY_BIN=build/debug/src/app/parley /usr/bin/python3 -m pytest -c tests/pytest.ini \
      --rootdir tests tests/browser
Screenshots of each step land in build/screenshots/.
"""
import pathlib
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from support.server import Server, ServerError, binary  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Headless, sandbox-less (root in CI), and no traffic of its own beyond the loopback server.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-features=Translate,MediaRouter",
         "--password-store=basic"]


def pytest_configure(config):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not pathlib.Path(path).exists():
            raise pytest.UsageError(f"{path} is missing: scripts/install-deps installs chromium and chromium-driver")


def pytest_report_header(config):
    return [f"parley: {binary()}", f"browser: {CHROMIUM}"]


@pytest.fixture(scope="module")
def server():
    """The module's own server on SQLite; rate limits off (support.server's defaults)."""
    srv = Server(name="browser", env={"DATABASE_URL": None, "REDIS_URL": None})
    try:
        srv.start()
    except ServerError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="module")
def launch():
    """Factory: launch(width=1280, height=900, phone=False) -> a new Chromium, empty profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers, dirs = [], []

    def factory(width=1280, height=900, phone=False):
        profile = tempfile.mkdtemp(prefix="parley-chromium-")
        dirs.append(profile)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in FLAGS + [f"--user-data-dir={profile}", f"--window-size={width},{height}"]:
            opts.add_argument(flag)
        if phone:  # a phone's viewport and touch (headless windows are at least 500 px wide)
            opts.add_experimental_option("mobileEmulation", {
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": True}})
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        drivers.append(driver)
        return driver

    yield factory
    for d in drivers:
        try:
            d.quit()
        except Exception:  # noqa: BLE001 - a crashed browser must not hide the test's own failure
            pass
    for p in dirs:
        shutil.rmtree(p, ignore_errors=True)
