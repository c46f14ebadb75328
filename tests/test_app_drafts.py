"""The New widget page's draft state, the Start-here panel and number cards (AppTest).

A draft is one object replaced whole; its widget keys carry its id, so nothing of an
older draft (chart type, edit box) can leak into a newer one, and the page runs once per
action (no rerun loop). Generators here are small fakes passed where the service takes
one; the database is always the real test database.
"""

from __future__ import annotations

import gc
import json
import logging
import pickle
import uuid
import weakref

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import charts, service, store, ui
from dashboard.config import PROJECT_DIR
from dashboard.db import Database
from dashboard.errors import Clarification, NeedsClarification
from dashboard.generators.base import Draft

APP = str(PROJECT_DIR / "streamlit_app.py")
PAGE_RUN = "new widget page run"


def _user(db: Database, prefix: str) -> store.User:
    return store.get_or_create_user(db, f"{prefix}-{uuid.uuid4().hex[:8]}")


def _app(user: store.User, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["user"] = {"id": user.id, "username": user.username}
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _figure(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def _edit_box(at: AppTest):
    return next(t for t in at.text_area if t.label == "Edit the SQL before saving")


def _chart_box(at: AppTest):
    return next(s for s in at.selectbox if s.label == "Chart type")


def _runs(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.getMessage() == PAGE_RUN)


def _draft(at: AppTest) -> ui.DraftState:
    return at.session_state["draft"]


@pytest.fixture
def page_runs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="dashboard.pages")
    return caplog


def test_number_card_then_line_question_is_a_line(app_env: None, db: Database,
                                                  page_runs: pytest.LogCaptureFixture) -> None:
    """Bug 1: the previous draft's chart type stuck and the page reran forever."""
    user = _user(db, "draft-type")
    at = _app(user, "pages/new_widget.py")
    at.chat_input[0].set_value("total revenue in 2024").run()
    assert not at.exception and not at.error
    assert _chart_box(at).value == "number"
    first = _draft(at)
    page_runs.clear()
    at.chat_input[0].set_value("monthly revenue in 2025 by region as a line chart").run()
    assert not at.exception and not at.error
    assert _runs(page_runs) == 1  # one run per question: no rerun loop
    assert _draft(at).id != first.id
    assert _chart_box(at).value == "line"
    assert _figure(at)["data"][0]["mode"] == "lines"
    assert [b for b in at.button if b.label in ("Refine draft", "Add to dashboard")]
    # No key of the first draft is left in the session.
    assert not [k for k in at.session_state if str(k).startswith(f"draft-{first.id}-")]

    # A refine naming a chart type always wins, and runs the page once.
    page_runs.clear()
    next(t for t in at.text_input if t.label == "Refine").input("as a bar chart")
    _button(at, "Refine draft").click().run()
    assert not at.exception and not at.error
    assert _chart_box(at).value == "bar"
    assert _figure(at)["data"][0]["type"] == "bar"
    assert _runs(page_runs) <= 2  # the click, and the widget-value rerun at most

    # A table question is a table, never the old type applied silently.
    at.chat_input[0].set_value("number of orders by status as a table").run()
    assert _chart_box(at).value == "table"
    _button(at, "Add to dashboard").click().run()
    saved = service.list_widgets(db, user)
    assert [json.loads(w.content)["chart"] for w in saved] == ["table"]


def test_edit_box_always_holds_the_current_sql(app_env: None, db: Database) -> None:
    """Bug 2: the edit box kept the previous draft's SQL."""
    user = _user(db, "draft-sql")
    at = _app(user, "pages/new_widget.py")
    at.chat_input[0].set_value("total revenue in 2025").run()
    assert _edit_box(at).value == _draft(at).preview.sql
    at.chat_input[0].set_value("number of orders in 2025").run()
    draft = _draft(at).preview
    assert "count" in draft.sql.lower()
    assert _edit_box(at).value == draft.sql
    # Checking the untouched box runs the current SQL: orders, not revenue.
    _button(at, "Check and run my SQL").click().run()
    assert not at.exception and not at.error
    edited = _draft(at).preview
    assert edited.generation["sql_source"] == "edited"
    assert edited.spec.data == draft.spec.data
    assert _edit_box(at).value == edited.sql
    assert any("your SQL" in c.value for c in at.caption)


def test_new_widget_from_elsewhere_starts_clean(app_env: None, db: Database) -> None:
    user = _user(db, "draft-clean")
    at = _app(user, "pages/new_widget.py")
    at.chat_input[0].set_value("revenue by region").run()
    assert "draft" in at.session_state
    at.switch_page("pages/dashboard.py").run()
    at.switch_page("pages/new_widget.py").run()
    assert not at.exception
    assert "draft" not in at.session_state
    assert not at.get("plotly_chart")
    at.chat_input[0].set_value("revenue by region").run()
    _button(at, "Start over").click().run()
    assert "draft" not in at.session_state
    # A new question that fails leaves no older draft under its error.
    at.chat_input[0].set_value("revenue by region").run()
    at.chat_input[0].set_value("average margin per flux capacitor").run()
    assert len(at.error) == 1 and "draft" not in at.session_state
    assert not at.get("plotly_chart")


class _Ambiguous:
    """Asks back for "sales" and answers either reading with an interpretation line."""

    name = "fake"
    model = None

    def generate(self, question: str, context, *, feedback=None, previous=None) -> Draft:
        if question == "sales":
            raise NeedsClarification("Sales can mean two things here.", [
                Clarification("revenue by region", "revenue [region]"),
                Clarification("number of orders", "orders [count]")])
        if "[count]" in question:
            return Draft(sql="SELECT count(*) AS orders FROM demo.orders",
                         interpretation="Count of all orders, cancelled ones included")
        return Draft(sql="SELECT region, count(*) AS n FROM demo.orders GROUP BY region",
                     interpretation="Orders per region")


def test_clarification_buttons_and_interpretation(app_env: None, db: Database,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "_default_generator", lambda settings: _Ambiguous())
    user = _user(db, "clarify")
    at = _app(user, "pages/new_widget.py")
    at.chat_input[0].set_value("sales").run()
    assert not at.exception
    assert any("two things" in w.value for w in at.warning)
    options = [b for b in at.button if b.label.startswith("Did you mean")]
    assert [b.label for b in options] == ["Did you mean revenue by region?",
                                          "Did you mean number of orders?"]
    options[1].click().run()
    assert not at.exception and not at.error
    assert _chart_box(at).value == "number"
    assert "Count of all orders, cancelled ones included" in [c.value for c in at.caption]
    _button(at, "Add to dashboard").click().run()
    widget = service.list_widgets(db, user)[0]
    assert widget.generation["interpretation"].startswith("Count of all orders")
    board = _app(user)
    # The card's controls (opened with "More") carry the interpretation line too.
    _button(board, "More").click().run()
    assert "Count of all orders, cancelled ones included" in [c.value for c in board.caption]


class _Wide:
    """A draft of MAX_ROWS wide rows (far more than a widget's snapshot keeps)."""

    name = "fake"
    model = None

    def generate(self, question: str, context, *, feedback=None, previous=None) -> Draft:
        return Draft(sql="SELECT o.id, o.ordered_at, o.region, o.channel, o.status, "
                         "repeat(o.region, 20) AS padding FROM demo.orders AS o",
                     chart="table", title=question)


def test_large_drafts_do_not_accumulate(app_env: None, db: Database,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Three large drafts in a row: one draft stays, the size of a widget's snapshot;
    the replaced ones (and their full results) are released."""
    monkeypatch.setattr(service, "_default_generator", lambda settings: _Wide())
    user = _user(db, "memory")
    at = _app(user, "pages/new_widget.py")
    gone: list[weakref.ref] = []
    for index in range(3):
        at.chat_input[0].set_value(f"all orders {index}").run()
        assert not at.exception and not at.error
        state = _draft(at)
        assert state.preview.result.row_count == db.settings.max_rows
        assert state.preview.result.rows == []  # the full result is not kept
        gone.append(weakref.ref(state.preview))
        del state
    drafts = [k for k in at.session_state if k == "draft"]
    assert drafts == ["draft"]
    held = len(pickle.dumps(_draft(at).preview.spec))
    snapshot = len(_draft(at).preview.spec.to_json())
    assert held <= 2 * snapshot
    assert len(_draft(at).preview.spec.data) <= charts.MAX_SNAPSHOT_ROWS
    gc.collect()
    assert [ref() is None for ref in gone[:2]] == [True, True]


def test_start_here_panel(app_env: None, db: Database) -> None:
    testuser = store.get_or_create_user(db, "testuser")
    at = _app(testuser)
    assert any("Start here" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1  # the seed sample stays
    starters = [b for b in at.button if b.key and b.key.startswith("example-")]
    assert len(starters) == 3

    newcomer = _user(db, "starter")
    at = _app(newcomer)
    assert any("Start here" in m.value for m in at.markdown)
    starters = [b for b in at.button if b.key and b.key.startswith("example-")]
    assert [b.label for b in starters] == ["Total revenue in 2025", "Revenue by region",
                                           "Number of orders per month in 2025"]
    starters[0].click().run()
    assert not at.exception and not at.error
    kinds = [json.loads(w.content)["chart"] for w in service.list_widgets(db, newcomer)]
    assert kinds == ["number"]
    assert at.metric[0].proto.delta  # against 2024
    # The panel has done its job once a real widget exists.
    assert not any("Start here" in m.value for m in at.markdown)
    # Each starter builds a real widget, one of each kind.
    other = _user(db, "starter-all")
    made = [service.create(db, other, b.label, generator=service.offline_generator(db))
            for b in starters]
    assert [json.loads(w.content)["chart"] for w in made] == ["number", "bar", "line"]


def test_number_card_shows_change_and_trend(app_env: None, db: Database) -> None:
    user = _user(db, "metric")
    widget = service.create(db, user, "Total revenue in 2025")
    compare, trend = widget.generation["compare"], widget.generation["trend"]
    assert compare["label"] == "2024" and isinstance(compare["value"], float)
    assert len(trend["values"]) == 12
    at = _app(user)
    metric = at.metric[0]
    assert metric.proto.delta.startswith(("+", "-"))
    assert "%" in metric.proto.delta
    assert "vs 2024" in metric.proto.delta_description
    assert len(metric.proto.chart_data) == 12
    # Refresh re-runs the comparison and trend queries (guarded) with the value.
    refreshed = service.refresh(db, user, widget.id).widget
    assert refreshed.generation["compare"]["value"] == compare["value"]
    assert refreshed.generation["timings_ms"]["execute"] >= 0
    # A question without one period has neither.
    plain = service.create(db, user, "How many customers are there?")
    assert "compare" not in plain.generation
