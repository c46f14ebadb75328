"""The app as an analyst's browser sees it: Chromium (Playwright) on the real `streamlit run`.

(a) dashboard open with 10 and 50 widgets: from navigation until every chart is drawn,
    next to the same figures on a bare Streamlit page (the floor, same run);
(b) question -> draft chart visible with the offline generator, 20 demo questions;
(c) fresh install (a new embedded PostgreSQL data directory): sign-in click -> first chart.

    python -m benchmarks --only browser

Needs Debian's Chromium (`apt-get install chromium`) and Playwright's Python package.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.bench_util import BenchContext, Result, Row, demo_questions, median
from dashboard import embedded, service, store
from dashboard.config import PROJECT_DIR

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# Every figure on the page has drawn its SVG (Plotly renders asynchronously).
ALL_DRAWN = """n => { const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  return charts.length >= n
    && [...charts].every(c => c.querySelector('.main-svg .trace, .main-svg .slice'));
}"""
# A draft is visible: a drawn figure, a number card or a table (or an error, counted apart).
MAIN = '[data-testid="stMainBlockContainer"]'
DRAFT_SHOWN = """() => !!(document.querySelector(
    '[data-testid="stPlotlyChart"] .main-svg .trace, [data-testid="stPlotlyChart"] .slice')
  || document.querySelector('MAIN [data-testid="stMetric"]')
  || document.querySelector('MAIN [data-testid="stDataFrame"]')
  || document.querySelector('MAIN [data-testid="stAlertContentError"]'))""".replace("MAIN", MAIN)
_DRAWN = ", ".join(f'{MAIN} [data-testid="{t}"]'
                   for t in ("stMetric", "stDataFrame", "stPlotlyChart"))
NO_DRAFT = f"() => !document.querySelector('{_DRAWN}')"
DASHBOARD_PROMPTS = ("Revenue by region", "Monthly revenue in 2025 by region as a line chart",
                     "Number of orders per month in 2025", "Share of orders by channel as a "
                     "pie chart", "Revenue by category")
# The floor: the same stored specs drawn by a bare Streamlit script (no sign-in, no
# database, no cards), two per row like the dashboard's default.
FLOOR_SCRIPT = """
import json, sys
import streamlit as st
from dashboard import charts
st.set_page_config(layout="wide")
specs = json.loads(open(sys.argv[1]).read())
n = int(st.query_params.get("n", len(specs)))
for start in range(0, n, 2):
    for column, text in zip(st.columns(2), specs[start:start + 2]):
        with column:
            st.plotly_chart(charts.build_figure(charts.parse_content(text)), width="stretch",
                            key=f"c{start}-{id(column)}")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _streamlit(script: str, env: dict[str, str], *args: str) -> Iterator[str]:
    """`streamlit run` on a free port; yields the base URL once /health answers."""
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]
    if args:
        command += ["--", *args]
    server = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"streamlit run {script} did not start")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _app_env(settings_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "DATA_DATABASE_URL", "READER_DATABASE_URL",
                        "OPENAI_API_KEY", "OPENAI_BASE_URL", "PROMPTBOARD_DEBUG"}}
    env.update(settings_env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR), env.get("PYTHONPATH")]))
    return env


def _sign_in(page: Any, url: str, username: str) -> None:
    page.goto(url)
    page.wait_for_selector(READY, timeout=120_000)
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for(timeout=120_000)
    page.wait_for_selector(READY, timeout=120_000)
    page.wait_for_timeout(500)  # the cookie is written by the run after signing in


def _open_times(page: Any, url: str, charts: int, repeats: int) -> list[float]:
    """Seconds from navigation to every chart drawn (a new session each time)."""
    times = []
    for _ in range(repeats):
        page.goto("about:blank")
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function(ALL_DRAWN, arg=charts, timeout=180_000, polling=50)
        times.append(time.perf_counter() - started)
    return times


def _users_with_widgets(db: Any, counts: tuple[int, ...]) -> tuple[dict[int, str], list[str]]:
    """A user per dashboard size, each with `count` figure widgets (stored snapshots of
    a few real answers, repeated); returns the usernames and the stored contents."""
    seed_user = store.get_or_create_user(db, f"bench-browser-seed-{os.getpid()}")
    made = [service.create(db, seed_user, prompt, generator=service.offline_generator(db))
            for prompt in DASHBOARD_PROMPTS]
    contents = [w.content for w in made if w.content and json.loads(w.content)["chart"]
                not in ("number", "table")]
    users = {}
    for count in counts:
        name = f"bench-browser-{count}-{os.getpid()}"
        user = store.get_or_create_user(db, name)
        for index in range(count):
            source = made[index % len(made)]
            if source.content not in contents:
                source = made[0]
            store.create_widget(db, user, prompt=source.prompt, sql_query=source.sql_query,
                                content=source.content, title=source.title,
                                generation=source.generation)
        users[count] = name
    widgets = [contents[i % len(contents)] for i in range(max(counts))]
    return users, widgets


def _bench_open(browser: Any, ctx: BenchContext, app_url: str, floor_url: str,
                users: dict[int, str], result: Result) -> None:
    repeats = 2 if ctx.quick else 5
    for count, name in users.items():
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        _sign_in(page, app_url, name)
        _open_times(page, app_url, count, 1)  # warm: the server's first open of this user
        app = median(_open_times(page, app_url, count, repeats))
        _open_times(page, f"{floor_url}/?n={count}", count, 1)
        floor = median(_open_times(page, f"{floor_url}/?n={count}", count, repeats))
        context.close()
        ratio = app / floor
        result.data[f"open_{count}"] = {"app_s": app, "floor_s": floor, "ratio": ratio,
                                        "repeats": repeats}
        result.rows.append(Row(f"(a) dashboard open, {count} widgets: all charts drawn",
                               f"median {app:.2f} s", f"bare Streamlit page {floor:.2f} s",
                               f"{ratio:.2f}x", "<= 1.3x", ratio <= 1.3))


def _bench_questions(browser: Any, ctx: BenchContext, app_url: str, result: Result) -> None:
    questions = demo_questions(5 if ctx.quick else 20)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    _sign_in(page, app_url, f"bench-browser-ask-{os.getpid()}")
    page.get_by_role("link", name="New widget").first.click()
    page.wait_for_selector(READY, timeout=60_000)
    times, failed = [], 0
    for question in questions:
        restart = page.get_by_role("button", name="Start over")
        if restart.count():
            restart.click()
            page.wait_for_selector(READY, timeout=60_000)
            page.wait_for_function(NO_DRAFT, timeout=60_000)
        box = page.get_by_placeholder("Ask a question about your data", exact=False)
        box.fill(question)
        started = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(DRAFT_SHOWN, timeout=120_000, polling=20)
        elapsed = time.perf_counter() - started
        page.wait_for_selector(READY, timeout=60_000)
        if page.locator(f'{MAIN} [data-testid="stAlertContentError"]').count():
            failed += 1
            continue
        times.append(elapsed)
    context.close()
    value = median(times) if times else float("nan")
    result.data["ask"] = {"median_s": value, "times_s": times, "failed": failed,
                          "questions": len(questions)}
    result.rows.append(Row(f"(b) question -> draft chart visible ({len(times)} of "
                           f"{len(questions)} demo questions)", f"median {value:.2f} s",
                           f"max {max(times):.2f} s" if times else "", "", "<= 1.5 s",
                           bool(times) and value <= 1.5))


def _bench_fresh_install(browser: Any, ctx: BenchContext, result: Result) -> None:
    """A new embedded data directory: the app starts its PostgreSQL (initdb, demo data)
    in the background from the first page view; the click comes as soon as the form is
    there, so whatever start-up is left counts."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-fresh-", dir=PROJECT_DIR / ".data"))
    env = _app_env({"EMBEDDED_DATA_DIR": str(data_dir), "GENERATOR": "offline",
                    "READER_ROLE": f"pbbench_fresh_{os.getpid()}"})
    try:
        with _streamlit("streamlit_app.py", env) as url:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            opened = time.perf_counter()
            page.goto(url)
            page.get_by_label("Username").wait_for(timeout=120_000)
            form_s = time.perf_counter() - opened
            page.get_by_label("Username").fill("testuser")
            clicked = time.perf_counter()
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_function(ALL_DRAWN, arg=1, timeout=180_000, polling=50)
            first_chart = time.perf_counter() - clicked
            context.close()
    finally:
        with contextlib.suppress(Exception):
            embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    result.data["fresh_install"] = {"click_to_chart_s": first_chart, "page_to_form_s": form_s}
    result.rows.append(Row("(c) fresh install: sign-in click -> first chart",
                           f"{first_chart:.2f} s", f"sign-in form shown after {form_s:.2f} s",
                           "", "<= 5 s", first_chart <= 5.0))


def _step(name: str, fn: Any, *args: Any) -> None:
    """Run one measurement; a failure becomes a row saying which one, the rest go on."""
    result: Result = args[-1]
    try:
        fn(*args)
    except Exception as exc:
        message = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        result.rows.append(Row(f"{name}: FAILED", message))


def run(ctx: BenchContext) -> Result:
    result = Result("browser", "Browser (Chromium, streamlit run)")
    if not Path(CHROMIUM).exists():
        result.error = "Chromium is missing: apt-get install chromium"
        return result
    from playwright.sync_api import sync_playwright

    db = ctx.database()
    counts = (10,) if ctx.quick else (10, 50)
    users, contents = _users_with_widgets(db, counts)
    with tempfile.TemporaryDirectory() as tmp:
        specs = Path(tmp) / "specs.json"
        specs.write_text(json.dumps(contents))
        floor_script = Path(tmp) / "floor.py"
        floor_script.write_text(FLOOR_SCRIPT)
        app_env = _app_env(ctx.database_env())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            try:
                with _streamlit("streamlit_app.py", app_env) as app_url, \
                        _streamlit(str(floor_script), app_env, str(specs)) as floor_url:
                    _step("dashboard open", _bench_open, browser, ctx, app_url, floor_url,
                          users, result)
                    _step("question to draft", _bench_questions, browser, ctx, app_url,
                          result)
                _step("fresh install", _bench_fresh_install, browser, ctx, result)
            finally:
                browser.close()
    return result
