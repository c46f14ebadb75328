"""Hostile input at every entry point: the service, the store, the CLI and the charts.

Each input either works (stored as plain text, rendered inert) or gets one of the app's
own errors (a DashboardError with a plain message). Nothing crashes with another
exception, and nothing broken is ever stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import as_url

from dashboard import charts, service, store
from dashboard.config import PROJECT_DIR
from dashboard.db import Database
from dashboard.errors import DashboardError, InvalidChartSpec, InvalidInput
from dashboard.generators.base import Draft

BIG = "revenue by region " * 60_000  # about 1 MB
HOSTILE_PROMPTS = {
    "1 MB": BIG,
    "NUL byte": "revenue\x00 by region",
    "invalid UTF-8": "revenue by region \udcff\udcfe",
    "emoji": "revenue by region 📈🔥 please",
    "SQL injection": "revenue by region'; DROP TABLE widgets; --",
    "raw SQL": "SELECT * FROM users; DELETE FROM widgets",
    "HTML/JS": "<script>alert('x')</script> orders by status",
    "HTML attribute": '<img src=x onerror="alert(1)"> revenue by channel',
    "control characters": "orders\u202e by \x1b[31mregion\x07",
    "only spaces": " \t\n ",
}
BAD_USERNAMES = ["", "  ", "bob\x00", "bob\nsmith", "\x1b[31mred", "a\u202eb", "x" * 65,
                 "bob\udcff", "<script>", "robert'); DROP TABLE users;--", "😀"]


@dataclass
class Fixed:
    """A generator that always answers with one query (a stand-in for any LLM)."""

    sql: str
    title: str = "Result"
    name: str = "fixed"
    model: str | None = None

    def generate(self, question: str, context: Any, *, feedback: str | None = None,
                 previous: Draft | None = None) -> Draft:
        return Draft(sql=self.sql, title=self.title)


@pytest.fixture
def user(db: Database) -> store.User:
    return store.get_or_create_user(db, f"hostile-{uuid.uuid4().hex[:8]}")


def table_counts(db: Database) -> tuple[int, int]:
    with db.connection() as conn:
        return (conn.execute("SELECT count(*) FROM users").fetchone()[0],
                conn.execute("SELECT count(*) FROM widgets").fetchone()[0])


def strict_json(text: str) -> Any:
    """JSON as any other reader parses it: NaN and Infinity are not JSON."""
    def refuse(name: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {name} stored")

    return json.loads(text, parse_constant=refuse)


def assert_stored_sound(db: Database, user: store.User) -> None:
    """Every widget of the user reads back as valid content and plain text."""
    for widget in store.list_widgets(db, user):
        spec = charts.parse_content(widget.content)
        strict_json(widget.content)
        assert "\x00" not in widget.prompt
        if spec.chart in charts.FIGURE_TYPES:
            charts.build_figure(spec)


@pytest.mark.parametrize("label", list(HOSTILE_PROMPTS))
def test_hostile_prompts_work_or_fail_clearly(db: Database, user: store.User,
                                              label: str) -> None:
    prompt = HOSTILE_PROMPTS[label]
    users_before, _ = table_counts(db)
    try:
        draft = service.preview(db, user, prompt)
        widget = service.create(db, user, draft)
    except DashboardError as exc:
        assert exc.message and "Traceback" not in exc.message
    else:
        assert widget.prompt == draft.prompt
        assert service.get_widget(db, user, widget.id).prompt == draft.prompt
    assert_stored_sound(db, user)
    assert table_counts(db)[0] == users_before  # no table was touched by the prompt


@pytest.mark.parametrize("label", ["NUL byte", "invalid UTF-8"])
def test_unstorable_prompts_are_refused_before_generation(db: Database, user: store.User,
                                                          label: str) -> None:
    calls: list[str] = []

    class Recording(Fixed):
        def generate(self, question: str, context: Any, **kwargs: Any) -> Draft:
            calls.append(question)
            return super().generate(question, context, **kwargs)

    with pytest.raises(InvalidInput) as refused:
        service.preview(db, user, HOSTILE_PROMPTS[label], generator=Recording("SELECT 1"))
    assert "retype" in refused.value.message
    assert calls == []  # the generator (maybe an HTTP client) never saw it


def test_html_in_prompts_and_titles_is_stored_as_text_and_drawn_inert(
        db: Database, user: store.User) -> None:
    title = "<script>alert('t')</script><b>Bold</b> <a href='javascript:x'>link</a>"
    draft = service.preview(
        db, user, HOSTILE_PROMPTS["HTML/JS"],
        generator=Fixed("SELECT o.status AS \"<img src=x onerror=alert(1)>\", count(*) AS n "
                        "FROM demo.orders o GROUP BY 1 ORDER BY 1", title=title))
    widget = service.create(db, user, draft)
    renamed = service.rename(db, user, widget.id, title)
    assert renamed.title == title  # stored exactly as typed: text, not markup
    spec = charts.parse_content(renamed.content)
    assert spec.title == title
    for chart in ("bar", "pie", "table"):
        spec = charts.parse_content(service.set_chart(db, user, widget.id, chart).content)
        if chart == "table":
            frame = charts.table_frame(spec)
            assert frame.columns[0] == "<img src=x onerror=alert(1)>"
            continue
        shown = charts.build_figure(spec).to_json()
        for raw in ("<script", "<img", "<a href", "<b>"):
            assert raw not in shown, (chart, raw)
    from dashboard.ui import escape_markdown

    inert = escape_markdown(title)
    assert "<script" not in inert.replace("\\<", "") and "\\<" in inert


def test_sql_in_a_prompt_never_runs(db: Database, user: store.User) -> None:
    before = table_counts(db)
    for prompt in (HOSTILE_PROMPTS["SQL injection"], HOSTILE_PROMPTS["raw SQL"]):
        try:
            draft = service.preview(db, user, prompt)
        except DashboardError:
            continue
        assert "drop" not in draft.sql.lower() and "delete" not in draft.sql.lower()
        assert "users" not in draft.sql.lower()
    assert table_counts(db) == before


def test_nan_infinity_and_null_only_results(db: Database, user: store.User) -> None:
    sql = ("SELECT 'NaN'::float8 AS a, 'Infinity'::float8 AS b, '-Infinity'::numeric AS c, "
           "NULL::integer AS d, 'NaN'::numeric AS e")
    widget = service.create(db, user, service.preview(db, user, "weird numbers",
                                                      generator=Fixed(sql)))
    stored = strict_json(widget.content)
    assert stored["data"] == [[None, None, None, None, None]]
    nulls = ("SELECT o.region, NULL::numeric AS revenue FROM demo.orders o "
             "GROUP BY o.region ORDER BY o.region")
    for chart in (None, "bar", "line", "pie", "number"):
        draft = service.preview(db, user, "revenue by region", chart=chart,
                                generator=Fixed(nulls))
        widget = service.create(db, user, draft)
        spec = charts.parse_content(widget.content)
        if spec.chart in charts.FIGURE_TYPES:
            charts.build_figure(spec)
        elif spec.chart == "number":
            assert charts.number_card(spec).text
    assert_stored_sound(db, user)


def test_empty_results_are_drawable(db: Database, user: store.User) -> None:
    empty = ("SELECT date_trunc('month', o.ordered_at) AS month, count(*) AS orders "
             "FROM demo.orders o WHERE o.ordered_at < '1990-01-01' GROUP BY 1 ORDER BY 1")
    for chart in (None, "line", "bar", "pie", "table", "number", "histogram", "scatter"):
        draft = service.preview(db, user, "monthly orders", chart=chart,
                                generator=Fixed(empty))
        assert draft.result.row_count == 0
        widget = service.create(db, user, draft)
        spec = charts.parse_content(widget.content)
        assert spec.data == []
        if spec.chart in charts.FIGURE_TYPES:
            charts.build_figure(spec)
    csv_text = service.export_csv(db, user, widget.id)
    assert isinstance(csv_text, bytes)


def test_ten_thousand_columns(db: Database, user: store.User) -> None:
    # The guard stops at 1,000 selected columns or 2,000 parse-tree parts (PostgreSQL at
    # 1,664 columns): a clear error, nothing stored.
    wide = "SELECT " + ", ".join(f"{i} c{i}" for i in range(10_000))
    _, widgets_before = table_counts(db)
    with pytest.raises(DashboardError):
        service.preview(db, user, "everything", generator=Fixed(wide))
    assert table_counts(db)[1] == widgets_before
    # The widest result the guard lets through (300 columns) is kept with its first columns only.
    widest = "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(300))
    widget = service.create(db, user, service.preview(db, user, "everything",
                                                      generator=Fixed(widest)))
    spec = charts.parse_content(widget.content)
    assert len(spec.columns) == charts.MAX_COLUMNS
    assert spec.note and "columns" in spec.note
    # Stored content with 10,000 columns (written by anything else) is refused on read.
    columns = [f"c{i}" for i in range(10_000)]
    content = json.dumps({"version": 1, "chart": "table", "title": "wide",
                          "columns": columns, "data": [list(range(10_000))]})
    hostile = store.create_widget(db, user, prompt="wide", sql_query=None, content=content)
    with pytest.raises(InvalidChartSpec):
        charts.parse_content(store.get_widget(db, user, hostile.id).content)


@pytest.mark.parametrize("name", BAD_USERNAMES, ids=range(len(BAD_USERNAMES)))
def test_bad_usernames_are_refused(db: Database, name: str) -> None:
    before = table_counts(db)
    with pytest.raises(InvalidInput):
        store.get_or_create_user(db, name)
    assert table_counts(db) == before


@pytest.mark.parametrize("text", ["a\x00b", "a\udcffb", BIG])
def test_store_refuses_unstorable_text(db: Database, user: store.User, text: str) -> None:
    _, before = table_counts(db)
    with pytest.raises(InvalidInput):
        store.create_widget(db, user, prompt=text, sql_query=None, content=None)
    with pytest.raises(InvalidInput):
        store.create_widget(db, user, prompt="ok", sql_query=None, content=None, title=text)
    assert table_counts(db)[1] == before
    widget = store.create_widget(db, user, prompt="ok", sql_query=None, content=None)
    with pytest.raises(InvalidInput):
        store.update_widget(db, user, widget.id, title=text)
    with pytest.raises(DashboardError):
        service.rename(db, user, widget.id, text)
    assert store.get_widget(db, user, widget.id).title is None


@pytest.mark.parametrize("content", [
    '{"chart": "line", "data": [NaN, 1]}',
    '{"version": 1, "chart": "bar", "columns": ["a"], "data": [[Infinity]]}',
    '{"version": 1, "chart": "<script>", "columns": [], "data": []}',
    '{"version": 1, "chart": "table", "columns": ["a"], "data": [["\\u0000"]]}',
    "[" * 100_000,
    '{"chart": "line", "data": ' + "[1," * 50_000 + "1" + "]" * 50_000 + "}",
    "\udcff",
    "",
    "null",
    '"just text"',
])
def test_charts_refuse_hostile_content_with_their_own_error(content: str) -> None:
    try:
        spec = charts.parse_content(content)
    except InvalidChartSpec as exc:
        assert exc.message
    else:  # accepted: then it must be drawable
        if spec.chart in charts.FIGURE_TYPES:
            charts.build_figure(spec)


def _cli(db: Database, *args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DATA_"))}
    env.update(DATABASE_URL=as_url(db.owner_url), GENERATOR="offline")
    return subprocess.run([sys.executable, "-m", "dashboard", *args], cwd=PROJECT_DIR,
                          env=env, capture_output=True, timeout=120)


@pytest.mark.slow
def test_cli_ask_with_hostile_input_never_prints_a_traceback(db: Database) -> None:
    cases: list[tuple[str | bytes, ...]] = [
        ("ask", "--user", "cli-hostile", "--no-save", "x" * 100_000),
        ("ask", "--user", "cli-hostile", "--no-save", b"revenue by region \xff\xfe"),
        ("ask", "--user", "bad\x1bname", "--no-save", "revenue by region"),
        ("ask", "--user", "cli-hostile", "--json", "<script>alert(1)</script> revenue"),
    ]
    for args in cases:
        done = _cli(db, *args)
        err = done.stderr.decode("utf-8", "replace")
        assert done.returncode in (0, 1), (args[:3], err)
        assert "Traceback" not in err
        if done.returncode == 1:
            assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
        if "--json" in args and done.returncode == 0:
            reply = json.loads(done.stdout)
            assert reply["widget_id"] is not None
    user = store.get_or_create_user(db, "cli-hostile")
    assert_stored_sound(db, user)
