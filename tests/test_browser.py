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
    env = {**os.environ, "DATABASE_URL": as_url(db.owner_url), "PROMPTBOARD_DEBUG": "1"}
    log = ARTIFACTS / "streamlit.log"
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


def _log_lines() -> list[str]:
    return (ARTIFACTS / "streamlit.log").read_text().splitlines()


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_create_widget_then_reload_and_isolation(app_url: str, browser) -> None:
    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    page = owner.new_page()
    _sign_in(page, app_url, "browser-owner")
    page.get_by_role("link", name="New widget").first.click()
    _wait_idle(page)
    page.get_by_text("No API key set").wait_for()
    prompt = page.get_by_placeholder("Ask a question about your data", exact=False)
    prompt.fill("monthly revenue in 2025 by region as a line chart")
    prompt.press("Enter")
    page.get_by_text("Draft ready").wait_for(timeout=60_000)
    _wait_idle(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    _no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "new-widget.png"), full_page=True)
    page.get_by_role("button", name="Add to dashboard").click()
    page.get_by_role("heading", name="Dashboard").wait_for(timeout=60_000)
    _wait_idle(page)
    page.reload()
    _wait_idle(page)
    # Session state survives a reload only through the server session: sign in again
    # if the reload dropped it, then the saved widget must be there.
    if page.get_by_label("Username").count():
        _sign_in(page, app_url, "browser-owner")
    page.get_by_text("Revenue by month and region", exact=False).first.wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 1
    _no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    intruder = browser.new_context(viewport={"width": 1280, "height": 900})
    other = intruder.new_page()
    _sign_in(other, app_url, "browser-intruder")
    assert other.get_by_text("Revenue by month and region", exact=False).count() == 0
    assert other.locator('[data-testid="stPlotlyChart"]').count() == 0
    _no_exception(other)
    owner.close()
    intruder.close()


def test_edit_sql_dialog_and_delete_and_fragment_reruns(
        app_url: str, browser, db: Database) -> None:
    from dashboard import service, store

    user = store.get_or_create_user(db, "browser-cards")
    first = service.create(db, user, "Revenue by region")
    second = service.create(db, user, "Number of orders per month in 2025")
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    _sign_in(page, app_url, "browser-cards")
    page.wait_for_selector('[data-testid="stPlotlyChart"] >> nth=1')

    # Refresh is on every card; the other controls are drawn once its "More" is clicked,
    # in that card alone.
    assert page.get_by_role("button", name="Edit SQL").count() == 0
    assert page.get_by_role("button", name="Refresh", exact=True).count() == 2
    before = len(_log_lines())
    page.get_by_role("button", name="More", exact=True).first.click()
    page.get_by_role("button", name="Edit SQL").wait_for()
    _wait_idle(page)
    new = _log_lines()[before:]
    assert f"DEBUG dashboard.pages: card {second.id} drawn" not in new
    assert page.get_by_role("button", name="Edit SQL").count() == 1

    # One card reruns alone: refreshing the first card runs neither the page nor card 2.
    before = len(_log_lines())
    page.get_by_role("button", name="Refresh", exact=True).first.click()
    _wait_idle(page)
    page.wait_for_timeout(500)
    new = _log_lines()[before:]
    assert f"DEBUG dashboard.pages: card {first.id} drawn" in new
    assert f"DEBUG dashboard.pages: card {second.id} drawn" not in new
    assert "DEBUG dashboard.pages: dashboard page run" not in new

    # Edit SQL in the dialog: an unsafe edit is refused inline and nothing changes.
    page.get_by_role("button", name="Edit SQL").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("SQL").fill("DELETE FROM demo.orders")
    dialog.get_by_role("button", name="Check, run and save").click()
    _wait_idle(page)
    dialog.locator('[data-testid="stAlertContentError"]').wait_for()
    _no_exception(page)
    assert service.get_widget(db, user, first.id).sql_query == first.sql_query
    # A working edit is saved and the dialog closes.
    dialog.get_by_label("SQL").fill(
        "SELECT region, count(*) AS orders FROM demo.orders GROUP BY region")
    dialog.get_by_role("button", name="Check, run and save").click()
    page.get_by_role("dialog").wait_for(state="detached", timeout=30_000)
    _wait_idle(page)
    assert "count(*)" in service.get_widget(db, user, first.id).sql_query.lower()

    # CSV of the card's snapshot, built when clicked (the card's controls stay open).
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert csv_text.splitlines()[0] == "region,orders"
    assert len(csv_text.splitlines()) == 5  # header + 4 regions

    # Delete asks for confirmation, then the card is gone.
    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog").wait_for(state="detached", timeout=30_000)
    _wait_idle(page)
    assert [w.id for w in service.list_widgets(db, user)] == [second.id]
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 1
    _no_exception(page)
    context.close()


@pytest.mark.parametrize(("width", "scheme"), [(390, "light"), (1280, "light"), (1280, "dark")])
def test_no_horizontal_overflow(app_url: str, browser, width: int, scheme: str) -> None:
    context = browser.new_context(viewport={"width": width, "height": 844},
                                  color_scheme=scheme)
    page = context.new_page()
    _sign_in(page, app_url, "testuser")
    page.wait_for_selector('[data-testid="stPlotlyChart"]')
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{width}px-{scheme}.png"), full_page=True)
    assert overflow <= 0
    context.close()
