"""Chart choice on real results: the demo questions' gold SQL on real PostgreSQL.

Each question in tests/data/demo_questions.jsonl names the chart an analyst expects;
the result of its gold query, run as the reader role, must get that chart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboard import charts
from dashboard.db import Database

QUESTIONS = [json.loads(line) for line in
             (Path(__file__).parent / "data" / "demo_questions.jsonl").read_text().splitlines()
             if line.strip()]


@dataclass(frozen=True)
class _Column:
    name: str
    type_name: str


@dataclass(frozen=True)
class _Result:
    columns: tuple[_Column, ...]
    rows: list[tuple[Any, ...]]
    row_count: int
    truncated: bool


def run(db: Database, sql: str) -> Any:
    """The gold query's result with PostgreSQL's own column types.

    Uses the executor when it exists (the real path); otherwise a named cursor on the
    reader's connection, which is how the executor runs queries too.
    """
    try:
        from dashboard.executor import run as execute
    except ImportError:
        execute = None
    if execute is not None:
        return execute(db, sql)
    with db.reader_connection() as conn, conn.transaction(), \
            conn.cursor(name="chart_demo") as cur:
        cur.execute(sql)
        rows = cur.fetchall()
        columns = tuple(_Column(c.name, c.type_display) for c in cur.description or [])
    return _Result(columns, rows, len(rows), False)


@pytest.fixture(scope="module")
def results(db: Database) -> dict[str, Any]:
    return {q["id"]: run(db, q["gold_sql"]) for q in QUESTIONS}


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q.get("chart")],
                         ids=lambda q: q["id"])
def test_demo_question_gets_the_expected_chart(question: dict[str, Any],
                                               results: dict[str, Any]) -> None:
    spec = charts.spec_from_result(results[question["id"]], prompt=question["question"],
                                   title=question["question"])
    assert spec.chart == question["chart"], (question["question"], spec)
    assert charts.parse_content(spec.to_json()) == spec
    if spec.is_figure:
        assert charts.build_figure(spec).data


def test_monthly_revenue_by_region_draws_one_line_per_region_over_12_months(
        results: dict[str, Any]) -> None:
    question = next(q for q in QUESTIONS if q["id"] == "demo-v18")
    spec = charts.spec_from_result(results["demo-v18"], prompt=question["question"])
    assert (spec.chart, spec.x, spec.color) == ("line", "month", "region")
    figure = charts.build_figure(spec)
    assert sorted(t.name for t in figure.data) == sorted(
        ["North America", "Europe", "Asia Pacific", "Latin America"])
    for trace in figure.data:
        assert len(trace.x) == 12 and list(trace.x) == sorted(trace.x)
        assert trace.x[0].startswith("2025-01-01")
