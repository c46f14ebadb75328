"""Execution-accuracy evaluation: the comparison rules, and the offline planner's scores.

The score tests run each question through schema context, the offline generator and the
real executor (guard, reader role, row cap) on real PostgreSQL, and compare with the
gold SQL's result. Thresholds: the demo file and our own paraphrases at least 90%, the
music-store schema (a second schema the planner was not written for) at least 85%.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard import evaluation
from dashboard.catalog import get_catalog
from dashboard.cli import build_parser
from dashboard.db import Database
from dashboard.errors import InvalidInput
from dashboard.evaluation import Case, cells_equal, compare, evaluate, load_cases, rows_equal
from dashboard.generators.offline import OfflineGenerator

DATA = Path(__file__).parent / "data"


# --- comparison rules -----------------------------------------------------------------


def test_numbers_compare_with_tolerance_across_types() -> None:
    assert cells_equal(Decimal("10.000001"), 10.0)
    assert cells_equal(3, 3.0)
    assert not cells_equal(10.0, 10.01)
    assert cells_equal(None, None) and not cells_equal(None, 0)
    assert cells_equal(float("nan"), float("nan"))


def test_dates_and_year_buckets() -> None:
    utc = dt.UTC
    assert cells_equal(dt.datetime(2024, 3, 1, tzinfo=utc), dt.date(2024, 3, 1))
    assert cells_equal(dt.datetime(2024, 3, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                       dt.datetime(2024, 3, 1, tzinfo=utc))
    # extract(year ...) and date_trunc('year', ...) name the same bucket.
    assert cells_equal(2024, dt.datetime(2024, 1, 1, tzinfo=utc))
    assert not cells_equal(2024, dt.datetime(2024, 2, 1))
    assert not cells_equal(10556, dt.datetime(2024, 1, 1))


def test_rows_compare_as_multisets_unless_order_matters() -> None:
    gold = [("a", 1), ("b", 2), ("b", 2)]
    assert rows_equal(gold, [("b", 2), ("a", 1), ("b", 2)], order_matters=False)
    assert not rows_equal(gold, [("b", 2), ("a", 1), ("a", 1)], order_matters=False)
    assert not rows_equal(gold, [("b", 2), ("a", 1), ("b", 2)], order_matters=True)
    assert rows_equal(gold, list(gold), order_matters=True)


def test_compare_ignores_names_and_column_order_and_reports_extras() -> None:
    gold = [("Europe", Decimal("5.5")), ("Asia", Decimal("2"))]
    got = [(2.0, "Asia", 7), (5.5, "Europe", 9)]
    verdict = compare(gold, got, order_matters=False)
    assert verdict.match and verdict.extra_columns == 1


def test_compare_says_why_results_differ() -> None:
    assert compare([(1,)], [(1,), (2,)], order_matters=False).reason == "2 rows, expected 1"
    assert "columns" in compare([(1, 2)], [(1,)], order_matters=False).reason
    verdict = compare([("a", 1), ("b", 2)], [("a", 2), ("b", 1)], order_matters=False)
    assert not verdict.match and "different rows" in verdict.reason
    assert compare([], [], order_matters=True, gold_width=1, got_width=1).match


def test_load_cases_reads_jsonl_and_rejects_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "q.jsonl"
    good.write_text(json.dumps({"id": "x", "question": "q?", "gold_sql": "SELECT 1",
                                "order_matters": True}) + "\n\n")
    assert load_cases(good) == [Case("x", "q?", "SELECT 1", True)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(InvalidInput, match="line 1"):
        load_cases(bad)
    with pytest.raises(InvalidInput, match="Cannot read"):
        load_cases(tmp_path / "missing.jsonl")


def test_eval_is_a_cli_command() -> None:
    args = build_parser().parse_args(["eval", "questions.jsonl", "--show-sql"])
    assert args.file == "questions.jsonl" and args.show_sql
    assert args.handler.__name__ == "cmd_eval"


# --- scores of the offline planner ----------------------------------------------------


def _score(db: Database, path: Path) -> evaluation.Summary:
    generator = OfflineGenerator(db.settings, today=dt.date(2026, 11, 25))
    return evaluate(load_cases(path), db=db, generator=generator,
                    catalog=get_catalog(db, refresh=True))


def _failures(summary: evaluation.Summary) -> str:
    return "\n".join(f"{r.case.id} {r.status}: {r.reason} | {r.sql}"
                     for r in summary.results if not r.ok)


@pytest.mark.slow
def test_offline_planner_on_the_demo_eval_file(db: Database) -> None:
    summary = _score(db, DATA / "demo_questions.jsonl")
    assert summary.total == 30
    assert summary.accuracy >= 0.90, _failures(summary)
    assert summary.count("error") == 0, _failures(summary)


@pytest.mark.slow
def test_offline_planner_on_our_paraphrases(db: Database) -> None:
    summary = _score(db, DATA / "paraphrases.jsonl")
    assert summary.total >= 20
    assert summary.accuracy >= 0.90, _failures(summary)


@pytest.mark.slow
def test_offline_planner_on_a_second_schema(music_db: Database) -> None:
    catalog = get_catalog(music_db, refresh=True)
    assert {t.name for t in catalog.tables} >= {"invoice", "invoice_line", "track", "genre"}
    summary = _score(music_db, DATA / "music_questions.jsonl")
    assert summary.total >= 20
    assert summary.accuracy >= 0.85, _failures(summary)


@pytest.mark.slow
def test_run_cli_prints_a_table_and_a_summary(db: Database, tmp_path: Path,
                                              capsys) -> None:
    path = tmp_path / "few.jsonl"
    lines = (DATA / "demo_questions.jsonl").read_text().splitlines()[:3]
    path.write_text("\n".join(lines) + "\n" + json.dumps({
        "id": "bad-1", "question": "What is our margin?", "gold_sql": "SELECT 1"}) + "\n")
    assert evaluation.run_cli(db, str(path)) == 0
    out = capsys.readouterr().out
    assert "demo-v01" in out and "declined" in out
    assert "3/4 correct (75.0%) with the offline generator" in out
    assert evaluation.run_cli(db, str(path), as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["correct"] == 3 and report["results"][3]["status"] == "declined"


# --- decline lines, outcomes, thresholds ------------------------------------------------


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_decline_lines_load_with_a_null_gold(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"id": "d1", "category": "unanswerable", "question": "q?",
                              "gold_sql": None, "expect": "decline"}])
    (case,) = load_cases(path)
    assert case.expects_decline and case.gold_sql is None and case.category == "unanswerable"
    # A null gold without "expect": "decline" is a malformed line, not the text "None".
    with pytest.raises(InvalidInput, match="line 1"):
        load_cases(_write(tmp_path, [{"id": "x", "question": "q?", "gold_sql": None}]))


class _Fixed:
    """A generator with fixed answers per question (None: declines)."""

    name, model = "fixed", None

    def __init__(self, answers: dict[str, str | None]) -> None:
        self.answers = answers

    def generate(self, question: str, context: object, **_: object):
        from dashboard.errors import GenerationFailed
        from dashboard.generators.base import Draft

        sql = self.answers[question]
        if sql is None:
            raise GenerationFailed("declined")
        return Draft(sql=sql)


def test_four_outcomes_per_question_and_category(db: Database) -> None:
    cases = [
        Case("a", "right", "SELECT 1", category="easy"),
        Case("b", "off", "SELECT 1", category="easy"),
        Case("c", "shy", "SELECT 1", category="hard"),
        Case("d", "must decline", None, category="hard", expect="decline"),
        Case("e", "answers anyway", None, category="hard", expect="decline"),
        Case("f", "broken gold", "SELECT no_such_column FROM nowhere", category="hard"),
        Case("g", "bad sql", "SELECT 1", category="hard"),
    ]
    generator = _Fixed({"right": "SELECT 1", "off": "SELECT 2", "shy": None,
                        "must decline": None, "answers anyway": "SELECT 1",
                        "broken gold": "SELECT 1", "bad sql": "SELECT nonsense FROM x"})
    summary = evaluate(cases, db=db, generator=generator, catalog=get_catalog(db))
    assert [r.status for r in summary.results] == [
        "correct", "wrong", "declined", "correct", "wrong", "broken", "error"]
    assert summary.by_category()["easy"] == {"correct": 1, "wrong": 1, "declined": 0,
                                             "error": 0, "broken": 0}
    text = evaluation.format_summary(summary, "fixed")
    assert "wrong:    2" in text and "broken questions (gold SQL failed): 1" in text


def test_intent_gate_runs_in_eval_like_in_the_app(db: Database) -> None:
    cases = [Case("x", "delete all cancelled orders", None, expect="decline")]
    generator = _Fixed({})  # never asked
    summary = evaluate(cases, db=db, generator=generator, catalog=get_catalog(db))
    assert summary.results[0].status == "correct"


def test_thresholds_make_the_cli_fail(db: Database, tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, [
        {"id": "ok", "question": "How many orders are there?",
         "gold_sql": "SELECT count(*) FROM demo.orders"},
        {"id": "no", "question": "What is our margin?", "gold_sql": "SELECT 1"},
    ])
    assert evaluation.run_cli(db, str(path), min_accuracy=0.5, max_wrong=0) == 0
    assert evaluation.run_cli(db, str(path), min_accuracy=90) == 1
    assert "FAILED: accuracy 50.0% is below 90.0%" in capsys.readouterr().out
    args = build_parser().parse_args(["eval", "f.jsonl", "--min-accuracy", "0.9",
                                      "--max-wrong", "5"])
    assert (args.min_accuracy, args.max_wrong) == (0.9, 5.0)


def test_a_result_cut_at_max_rows_is_compared_with_a_gold_as_large() -> None:
    gold = [(i,) for i in range(10)]
    kept = evaluation._compare_truncated(gold, [(i,) for i in range(5)], False, 1, 1)
    assert kept.match and "cut at MAX_ROWS" in kept.reason
    assert not evaluation._compare_truncated(gold, [(99,)], False, 1, 1).match
    assert evaluation._compare_truncated(gold, gold[:3], True, 1, 1).match
    assert not evaluation._compare_truncated(gold, gold[1:4], True, 1, 1).match
