"""Every page in-process (AppTest), signed in, against the session's test database.

AppTest cannot click inside st.dialog and reruns the whole script; the dialogs (edit SQL,
delete) and "one card reruns alone" are covered in the browser tests.
"""

from __future__ import annotations

import json
import uuid

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import config, service, store
from dashboard.config import PROJECT_DIR
from dashboard.db import Database

APP = str(PROJECT_DIR / "streamlit_app.py")


def _user(db: Database, prefix: str) -> store.User:
    return store.get_or_create_user(db, f"{prefix}-{uuid.uuid4().hex[:8]}")


def _app(user: store.User, page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["user"] = {"id": user.id, "username": user.username}
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _markdown(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_dashboard_lists_only_the_users_widgets(app_env: None, db: Database) -> None:
    alice, bob = _user(db, "alice"), _user(db, "bob")
    service.create(db, alice, "Revenue by region")
    service.create(db, bob, "Number of orders per month in 2025")
    at = _app(alice)
    text = _markdown(at)
    assert "region" in text.lower()
    assert "per month" not in text.lower()
    assert len(at.get("plotly_chart")) == 1


def test_card_actions_refresh_rechart_rename(app_env: None, db: Database) -> None:
    user = _user(db, "cards")
    widget = service.create(db, user, "Revenue by region")
    at = _app(user)
    # Refresh is on the card; the other controls are drawn once its "More" is clicked.
    assert not at.selectbox and not at.text_input
    assert not [b for b in at.button if b.label == "Edit SQL"]
    _button(at, "Refresh").click().run()
    _button(at, "More").click().run()
    assert not at.exception and not at.error
    at.selectbox(key=f"chart-type-{widget.id}").select("pie").run()
    assert not at.exception
    assert json.loads(service.get_widget(db, user, widget.id).content)["chart"] == "pie"
    at.text_input(key=f"title-{widget.id}").input("Regions <b>2025</b>").run()
    _button(at, "Rename").click().run()
    assert not at.exception
    assert service.get_widget(db, user, widget.id).title == "Regions <b>2025</b>"
    # The title is shown as inert text: the tag is escaped, never live HTML.
    assert "Regions \\<b\\>2025\\</b\\>" in _markdown(at)


def test_static_seed_widget_explains_itself(app_env: None, db: Database) -> None:
    testuser = store.get_or_create_user(db, "testuser")
    at = _app(testuser)
    captions = [c.value for c in at.caption]
    assert any("no query" in c and len(c) < 80 for c in captions), captions
    _button(at, "More").click().run()
    assert not at.exception
    assert not [b for b in at.button if b.label in ("Refresh", "Edit SQL")]
    assert [t.label for t in at.text_input] == ["Title"]


def test_new_widget_flow_with_offline_generator(app_env: None, db: Database) -> None:
    user = _user(db, "new")
    at = _app(user, "pages/new_widget.py")
    assert any("offline generator" in i.value for i in at.info)
    at.chat_input[0].set_value("monthly revenue in 2025 by region as a line chart").run()
    assert not at.exception and not at.error
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(figure["data"]) == 4  # one line per region
    next(t for t in at.text_input if t.label == "Refine").input("only Europe")
    _button(at, "Refine draft").click().run()
    assert not at.exception and not at.error
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(figure["data"]) == 1
    _button(at, "Add to dashboard").click().run()
    assert not at.exception
    saved = service.list_widgets(db, user)
    assert len(saved) == 1 and "Europe" in saved[0].sql_query


def test_new_widget_errors_are_messages(app_env: None, db: Database) -> None:
    user = _user(db, "oops")
    at = _app(user, "pages/new_widget.py")
    at.chat_input[0].set_value("average margin per flux capacitor").run()
    assert not at.exception
    assert len(at.error) == 1
    assert service.list_widgets(db, user) == []


def test_new_widget_rejects_unsafe_hand_edited_sql(app_env: None, db: Database) -> None:
    user = _user(db, "edit")
    at = _app(user, "pages/new_widget.py")
    at.chat_input[0].set_value("revenue by region").run()
    next(t for t in at.text_area if t.label == "Edit the SQL before saving").input(
        "DELETE FROM demo.orders")
    _button(at, "Check and run my SQL").click().run()
    assert not at.exception
    assert any("SELECT" in e.value or "delete" in e.value.lower() for e in at.error)
    with db.reader_connection() as conn:
        assert conn.execute("SELECT count(*) FROM demo.orders").fetchone() == (100_000,)


def test_empty_dashboard_offers_examples_that_work(app_env: None, db: Database) -> None:
    user = _user(db, "empty")
    at = _app(user)
    examples = [b for b in at.button if b.key and b.key.startswith("example-")]
    assert len(examples) == 3
    examples[0].click().run()
    assert not at.exception and not at.error
    assert len(service.list_widgets(db, user)) == 1


def test_widget_of_another_user_in_url_is_not_found(app_env: None, db: Database) -> None:
    owner, other = _user(db, "owner"), _user(db, "other")
    widget = service.create(db, owner, "Revenue by region")
    at = _app(other, widget=str(widget.id))
    assert [e.value for e in at.error] == ["That widget was not found on your dashboard\\."]\
        or "not found" in at.error[0].value
    assert not at.get("plotly_chart")
    mine = _app(owner, widget=str(widget.id))
    assert len(mine.get("plotly_chart")) == 1
    junk = _app(owner, widget="1; DROP TABLE widgets")
    assert "not found" in junk.error[0].value


def test_data_page_browses_the_catalog(app_env: None, db: Database) -> None:
    user = _user(db, "data")
    at = _app(user, "pages/data.py")
    assert len(at.expander) == 4
    assert "Revenue" in _markdown(at)
    _button(at, "Show sample rows").click().run()
    assert not at.exception and not at.error
    assert len(at.dataframe) >= 1


def test_settings_page_masks_secrets(app_env: None, db: Database,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-show")
    config.get_settings.cache_clear()
    user = _user(db, "settings")
    at = _app(user, "pages/settings.py")
    frame = at.dataframe[0].value
    text = frame.to_string()
    assert "sk-do-not-show" not in text and "set (hidden)" in text
    assert "password" not in text.lower()


def test_two_sessions_in_one_process_never_mix(app_env: None, db: Database) -> None:
    alice, bob = _user(db, "mix-a"), _user(db, "mix-b")
    service.create(db, alice, "Revenue by region")
    at_alice, at_bob = _app(alice), _app(bob)
    at_alice.run()
    at_bob.run()
    assert len(at_alice.get("plotly_chart")) == 1
    assert not at_bob.get("plotly_chart")
    assert [t.value for t in at_bob.sidebar.get("text")] == [bob.username]


def test_broken_widget_shows_its_error_and_a_fix_to_accept(
        fresh_db, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refresh of a query broken by a schema change: error + proposal; accept applies it."""
    from dashboard import config, ui
    from dashboard.db import as_url

    database = fresh_db()
    monkeypatch.setenv("DATABASE_URL", as_url(database.owner_url))
    config.get_settings.cache_clear()
    ui.database.clear()
    try:
        user = _user(database, "heal")
        widget = service.create(database, user, "revenue by region")
        with database.connection() as conn:
            conn.execute("ALTER TABLE demo.orders RENAME COLUMN region TO sales_region")
        at = _app(user)
        _button(at, "Refresh all").click().run()
        assert not at.exception
        assert any("region" in e.value for e in at.error)  # the card shows why it failed
        assert any("failed to refresh" in w.value for w in at.warning)
        assert "sales_region" in " ".join(c.value for c in at.code)
        assert service.get_widget(database, user, widget.id).sql_query == widget.sql_query
        _button(at, "Accept fix").click().run()
        assert not at.exception
        assert "sales_region" in service.get_widget(database, user, widget.id).sql_query
        assert not [b for b in at.button if b.label == "Accept fix"]
    finally:
        ui.database.clear()
        config.get_settings.cache_clear()
