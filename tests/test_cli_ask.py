"""`python -m dashboard ask / widgets / refresh` end to end, in-process through
`cli.main(argv)`: the offline planner, a private copy of the demo database. One real
process per command is in test_cli_subprocess.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

import pytest

from dashboard import charts, cli, store
from dashboard import db as dbmodule
from dashboard.db import Database


class Ran(NamedTuple):
    code: int
    out: str
    err: str


Cli = Callable[..., Ran]


@pytest.fixture(scope="module")
def cli_db(databases, template_db) -> Database:  # type: ignore[no-untyped-def]
    """One private database for this module's commands (they save widgets)."""
    return databases.open(databases.create(template=template_db), GENERATOR="offline")


@pytest.fixture
def run(cli_db: Database, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    """`python -m dashboard ARGS` in this process, on `cli_db` (the process-wide database
    the commands open is that one)."""
    monkeypatch.setattr(dbmodule, "_database", cli_db)

    def call(*args: str) -> Ran:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return call


def test_ask_saves_monthly_revenue_by_region_as_one_line_per_region(run: Cli,
                                                                     cli_db: Database) -> None:
    done = run("ask", "--user", "testuser", "--json",
               "monthly revenue in 2025 by region as a line chart")
    assert done.code == 0, done.err
    out = json.loads(done.out)
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


def test_ask_no_save_plain_output(run: Cli, cli_db: Database) -> None:
    user = store.get_or_create_user(cli_db, "testuser")
    before = len(store.list_widgets(cli_db, user))
    done = run("ask", "--user", "testuser", "--no-save", "how many orders per region")
    assert done.code == 0, done.err
    assert "SELECT" in done.out and "4 rows" in done.out
    assert "Chart: bar" in done.out and "Europe" in done.out
    assert "Not saved (--no-save)." in done.out
    assert len(store.list_widgets(cli_db, user)) == before
    as_json = json.loads(run("ask", "--user", "testuser", "--no-save", "--json",
                             "how many orders per region").out)
    assert as_json["widget_id"] is None and as_json["row_count"] == 4


@pytest.mark.parametrize("args", [
    ["ask", "--user", "testuser", "   "],
    ["ask", "--user", "bad name!", "orders by region"],
    ["ask", "--user", "testuser", "the margin of each warehouse robot"],
])
def test_ask_errors_are_one_line(run: Cli, args: list[str]) -> None:
    done = run(*args)
    assert done.code == 1, done.out
    assert done.err.startswith("error: ") and len(done.err.strip().splitlines()) == 1
    assert "Traceback" not in done.err


def test_widgets_and_refresh(run: Cli) -> None:
    saved = json.loads(run("ask", "--user", "cli-refresher", "--json", "orders by channel").out)
    listed = json.loads(run("widgets", "--user", "cli-refresher", "--json").out)
    assert [w["id"] for w in listed] == [saved["widget_id"]]
    assert listed[0]["chart"] == saved["content"]["chart"] and listed[0]["row_count"] == 3
    plain = run("widgets", "--user", "cli-refresher")
    assert f"#{saved['widget_id']}" in plain.out
    one = run("refresh", "--user", "cli-refresher", "--id", str(saved["widget_id"]))
    assert one.code == 0 and "refreshed, 3 rows" in one.out
    every = run("refresh", "--user", "testuser", "--all")
    assert every.code == 0, every.out + every.err
    assert "static (no query)" in every.out  # the seed widget
    other = run("refresh", "--user", "cli-someone-else", "--id", str(saved["widget_id"]))
    assert other.code == 1 and "not found" in other.err


def test_widgets_of_a_user_without_any(run: Cli) -> None:
    done = run("widgets", "--user", "cli-newcomer")
    assert done.code == 0 and done.out == "cli-newcomer has no widgets yet.\n"
