"""End to end in Debian's Chromium driven by Playwright, against a real app server.

Screenshots land in test-artifacts/ (CI keeps them; the README shows current ones).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import as_url

from dashboard.config import PROJECT_DIR
from dashboard.db import Database

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = PROJECT_DIR / "test-artifacts"
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        message = "Chromium is missing: apt-get install chromium (CI installs it)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(db: Database) -> Iterator[str]:
    _require_chromium()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": as_url(db.owner_url)}
    log = (ARTIFACTS / "streamlit.log")
    ARTIFACTS.mkdir(exist_ok=True)
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail(f"the app did not start; see {log}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


def _wait_idle(page) -> None:
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_timeout(300)  # let the last deltas paint
    page.wait_for_selector(READY, timeout=60_000)


def _sign_in(page, url: str, username: str) -> None:
    page.goto(url)
    _wait_idle(page)
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for(timeout=60_000)
    _wait_idle(page)


def test_testuser_sees_the_seed_chart(app_url: str, browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, app_url, "testuser")
    page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stSidebar"]').get_by_text("testuser").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "dashboard-seed.png"), full_page=True)
    context.close()
