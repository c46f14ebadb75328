"""`python -m dashboard ask / widgets / refresh` end to end, in-process through
`cli.main(argv)`: the offline planner, a private copy of the demo database."""

from __future__ import annotations

import json

import pytest
from cli_inprocess import Ran, run_cli

from dashboard import charts, store
from dashboard.db import Database

pytestmark = pytest.mark.slow


def cli(db: Database, *args: str) -> Ran:
    return run_cli(*args, database=db)


@pytest.fixture(scope="module")
def cli_db(databases, template_db) -> Database:  # type: ignore[no-untyped-def]
    """One private database for this module's commands (they save widgets)."""
    return databases.open(databases.create(template=template_db), GENERATOR="offline")


def test_ask_saves_monthly_revenue_by_region_as_one_line_per_region(cli_db: Database) -> None:
    done = cli(cli_db, "ask", "--user", "testuser", "--json",
               "monthly revenue in 2025 by region as a line chart")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) >= {"widget_id", "sql", "content", "row_count", "generator", "timings_ms"}
    assert out["generator"] == "offline" and out["row_count"] == 48
    assert out["timings_ms"]["total"] >= out["timings_ms"]["execute"] >= 0
    user = store.get_or_create_user(cli_db, "testuser")
    widget = store.get_widget(cli_db, user, out["widget_id"])
    assert widget.prompt == "monthly revenue in 2025 by region as a line chart"
    assert widget.sql_query == out["sql"] and widget.generation["generator"] == "offline"
    spec = charts.parse_content(widget.content)
    assert spec.to_dict() == out["content"]
    assert spec.chart == "line" and spec.color is not None and spec.x is not None
    regions = set(spec.column_values(spec.color))
    assert regions == {"North America", "Europe", "Asia Pacific", "Latin America"}
    months_per_region: dict[str, set[str]] = {}
    for row in spec.data:
        region = row[spec.columns.index(spec.color)]
        months_per_region.setdefault(region, set()).add(str(row[spec.columns.index(spec.x)]))
    assert all(len(months) == 12 for months in months_per_region.values())
    assert all(m.startswith("2025-") for ms in months_per_region.values() for m in ms)
    figure = charts.build_figure(spec)
    lines = [t for t in figure.data if t.type == "scatter"]
    assert sorted(t.name for t in lines) == sorted(regions)
    assert all(len(t.x) == 12 for t in lines)


def test_ask_no_save_plain_output(cli_db: Database) -> None:
    user = store.get_or_create_user(cli_db, "testuser")
    before = len(store.list_widgets(cli_db, user))
    done = cli(cli_db, "ask", "--user", "testuser", "--no-save", "how many orders per region")
    assert done.returncode == 0, done.stderr
    assert "SELECT" in done.stdout and "4 rows" in done.stdout
    assert "Chart: bar" in done.stdout and "Europe" in done.stdout
    assert "Not saved (--no-save)." in done.stdout
    assert len(store.list_widgets(cli_db, user)) == before
    as_json = json.loads(cli(cli_db, "ask", "--user", "testuser", "--no-save", "--json",
                             "how many orders per region").stdout)
    assert as_json["widget_id"] is None and as_json["row_count"] == 4


@pytest.mark.parametrize("args", [
    ["ask", "--user", "testuser", "   "],
    ["ask", "--user", "bad name!", "orders by region"],
    ["ask", "--user", "testuser", "the margin of each warehouse robot"],
])
def test_ask_errors_are_one_line(cli_db: Database, args: list[str]) -> None:
    done = cli(cli_db, *args)
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_widgets_and_refresh(cli_db: Database) -> None:
    saved = json.loads(cli(cli_db, "ask", "--user", "cli-refresher", "--json",
                           "orders by channel").stdout)
    listed = json.loads(cli(cli_db, "widgets", "--user", "cli-refresher", "--json").stdout)
    assert [w["id"] for w in listed] == [saved["widget_id"]]
    assert listed[0]["chart"] == saved["content"]["chart"] and listed[0]["row_count"] == 3
    plain = cli(cli_db, "widgets", "--user", "cli-refresher")
    assert f"#{saved['widget_id']}" in plain.stdout
    one = cli(cli_db, "refresh", "--user", "cli-refresher", "--id", str(saved["widget_id"]))
    assert one.returncode == 0 and "refreshed, 3 rows" in one.stdout
    every = cli(cli_db, "refresh", "--user", "testuser", "--all")
    assert every.returncode == 0, every.stdout + every.stderr
    assert "static (no query)" in every.stdout  # the seed widget
    other = cli(cli_db, "refresh", "--user", "cli-someone-else", "--id", str(saved["widget_id"]))
    assert other.returncode == 1 and "not found" in other.stderr


def test_widgets_of_a_user_without_any(cli_db: Database) -> None:
    done = cli(cli_db, "widgets", "--user", "cli-newcomer")
    assert done.returncode == 0 and done.stdout == "cli-newcomer has no widgets yet.\n"
