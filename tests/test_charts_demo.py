"""Chart choice on real results: the demo questions' gold SQL on real PostgreSQL.

Each question in tests/data/demo_questions.jsonl names the chart an analyst expects;
the result of its gold query, run as the reader role, must get that chart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dashboard import charts
from dashboard.db import Database
from dashboard.executor import QueryResult, run_query

QUESTIONS = [json.loads(line) for line in
             (Path(__file__).parent / "data" / "demo_questions.jsonl").read_text().splitlines()
             if line.strip()]


def run(db: Database, sql: str) -> QueryResult:
    """The gold query's result, through the guard and the read-only executor."""
    return run_query(db, sql)


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
