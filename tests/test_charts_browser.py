"""Plotly.js in a real Chromium draws hostile titles, labels and values as plain text."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dashboard import charts
from dashboard.charts import ChartSpec

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ATTACK = ('<a href="https://evil.example/?q=secret">click</a>'
          '<img src=x onerror="window.__pwned=1"><b>bold</b>')


def _specs() -> dict[str, ChartSpec]:
    columns = [ATTACK + "m", ATTACK + "region", ATTACK + "v"]
    rows = [["2025-01-01", ATTACK + "a", 1.0], ["2025-02-01", ATTACK + "a", 2.0],
            ["2025-01-01", "b", 3.0], ["2025-02-01", "b", 1.0]]
    return {
        "line": ChartSpec(chart="line", columns=columns, data=rows, title=ATTACK,
                          x=columns[0], y=[columns[2]], color=columns[1], row_count=99,
                          truncated=True),
        "bar": ChartSpec(chart="bar", columns=columns, data=rows, title=ATTACK,
                         x=columns[1], y=[columns[2]], orientation="h"),
        "pie": ChartSpec(chart="pie", columns=columns, data=rows[:1] + rows[2:3],
                         title=ATTACK, x=columns[1], y=[columns[2]]),
    }


@pytest.mark.parametrize("chart", ["line", "bar", "pie"])
def test_plotly_renders_injected_markup_as_text(chart: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        message = "Chromium is missing: apt-get install chromium (CI installs it)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / f"{chart}.html"
    page_file.write_text(charts.build_figure(_specs()[chart]).to_html(
        include_plotlyjs="inline", full_html=True))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            page.wait_for_selector(".main-svg")
            assert page.eval_on_selector_all("svg a", "els => els.length") == 0
            assert page.eval_on_selector_all("img, svg image", "els => els.length") == 0
            assert page.eval_on_selector_all("svg [style*='bold']", "els => els.length") == 0
            assert page.text_content(".gtitle") == ATTACK
            assert page.evaluate("window.__pwned === undefined")
            assert not [u for u in requests if "evil.example" in u]
        finally:
            browser.close()
