"""Execution-accuracy evaluation of a generator on questions with gold SQL.

A JSON-lines file holds `{"id", "question", "gold_sql", "order_matters"}` per line (and an
optional `category`). A line with `"expect": "decline"` and `"gold_sql": null` is a question
the data cannot answer: it is correct iff the generator declines it. Each question goes
through schema context -> generator -> the executor (guard, reader role, timeout, row cap);
the gold SQL, which is trusted, runs read-only on a reader connection; a gold query that
fails is a broken question, not a generator error.

Four outcomes per question: correct, wrong (answered, not matching), declined, error
(and "broken" for a failing gold query).
Results match when their rows are equal as multisets (as sequences when order matters),
numbers within a small tolerance, column names ignored. A generated result may carry
columns the gold answer lacks (a label next to "which region" answers, say): it still
matches, and the extra columns are reported separately.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg import sql as pgsql

from dashboard.errors import DashboardError, InvalidInput

REL_TOL = 1e-5  # numeric vs float arithmetic differ in the last digits
ABS_TOL = 1e-6
_MAX_GREEDY_ROWS = 2000  # above this, unordered rows are only compared after sorting


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    gold_sql: str | None
    order_matters: bool = False
    category: str = ""
    expect: str = "answer"  # "answer" | "decline"

    @property
    def expects_decline(self) -> bool:
        return self.expect == "decline"


OUTCOMES = ("correct", "wrong", "declined", "error", "broken")


@dataclass(frozen=True)
class Comparison:
    match: bool
    reason: str = ""
    extra_columns: int = 0


@dataclass
class CaseResult:
    case: Case
    status: str  # one of OUTCOMES
    reason: str = ""
    sql: str = ""
    extra_columns: int = 0
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "correct"


@dataclass
class Summary:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def correct(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def wrong_rate(self) -> float:
        return self.count("wrong") / self.total if self.total else 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def by_category(self) -> dict[str, dict[str, int]]:
        """Outcome counts per category (in first-seen order)."""
        table: dict[str, dict[str, int]] = {}
        for r in self.results:
            row = table.setdefault(r.case.category or "-", dict.fromkeys(OUTCOMES, 0))
            row[r.status] += 1
        return table


# --- reading the file -------------------------------------------------------------------


def load_cases(path: str | Path) -> list[Case]:
    """Read an evaluation file; a malformed line is an InvalidInput naming its number."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {file}: {exc.strerror or exc}.") from None
    cases = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            expect = str(row.get("expect") or "answer")
            gold = row["gold_sql"]
            if expect not in ("answer", "decline") or (gold is None) != (expect == "decline"):
                raise TypeError
            case = Case(str(row["id"]), str(row["question"]),
                        None if gold is None else str(gold),
                        bool(row.get("order_matters", False)),
                        str(row.get("category") or ""), expect)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise InvalidInput(
                f"{file.name} line {number} is not a JSON object with id, question and "
                'gold_sql (null only with "expect": "decline").') from None
        cases.append(case)
    if not cases:
        raise InvalidInput(f"{file.name} holds no questions.")
    return cases


# --- comparing results ------------------------------------------------------------------


def normalize(value: Any) -> Any:
    """A comparable form of one cell: numbers as float, dates as naive UTC datetimes."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, memoryview | bytes):
        return bytes(value)
    if isinstance(value, list | tuple):
        return tuple(normalize(v) for v in value)
    return value


def cells_equal(a: Any, b: Any) -> bool:
    """Equal cells: numbers within tolerance; a whole year equals its first instant."""
    a, b = normalize(a), normalize(b)
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    # A year bucket written as extract(year ...) equals date_trunc('year', ...).
    if isinstance(a, float) and isinstance(b, dt.datetime):
        return _is_year_start(b, a)
    if isinstance(a, dt.datetime) and isinstance(b, float):
        return _is_year_start(a, b)
    return a == b


def _is_year_start(moment: dt.datetime, year: float) -> bool:
    return year.is_integer() and 1 <= year <= 9999 and moment == dt.datetime(int(year), 1, 1)


def _sort_key(row: Sequence[Any]) -> tuple:
    key = []
    for cell in row:
        cell = normalize(cell)
        if isinstance(cell, dt.datetime) and cell.month == 1 and cell.day == 1 and \
                cell.time() == dt.time(0):
            cell = float(cell.year)  # sort year buckets with their numeric twins
        if cell is None:
            key.append((0, 0))
        elif isinstance(cell, float):
            key.append((1, round(cell, 6) if math.isfinite(cell) else 0.0))
        elif isinstance(cell, dt.datetime):
            key.append((2, cell.isoformat()))
        else:
            key.append((3, str(cell)))
    return tuple(key)


def rows_equal(gold: Sequence[Sequence[Any]], got: Sequence[Sequence[Any]],
               order_matters: bool) -> bool:
    """Rows equal as sequences (order matters) or as multisets."""
    if len(gold) != len(got):
        return False
    if any(len(a) != len(b) for a, b in zip(gold, got, strict=True)):
        return False

    def same(a: Sequence[Any], b: Sequence[Any]) -> bool:
        return all(cells_equal(x, y) for x, y in zip(a, b, strict=True))

    if order_matters:
        return all(same(a, b) for a, b in zip(gold, got, strict=True))
    left = sorted(gold, key=_sort_key)
    right = sorted(got, key=_sort_key)
    if all(same(a, b) for a, b in zip(left, right, strict=True)):
        return True
    if len(gold) > _MAX_GREEDY_ROWS:
        return False
    # Rounding at a sort-key boundary can misalign equal rows: match greedily instead.
    remaining = list(right)
    for row in left:
        for i, candidate in enumerate(remaining):
            if same(row, candidate):
                del remaining[i]
                break
        else:
            return False
    return True


def compare(gold_rows: Sequence[Sequence[Any]], got_rows: Sequence[Sequence[Any]],
            *, order_matters: bool, gold_width: int | None = None,
            got_width: int | None = None) -> Comparison:
    """Execution-accuracy comparison of two results, ignoring column names and order.

    Each gold column must be matched by a distinct generated column (in any position);
    generated columns left over are counted as `extra_columns`, not as an error.
    """
    gold_width = gold_width if gold_width is not None else (len(gold_rows[0]) if gold_rows
                                                            else 0)
    got_width = got_width if got_width is not None else (len(got_rows[0]) if got_rows else 0)
    if len(gold_rows) != len(got_rows):
        return Comparison(False, f"{len(got_rows)} rows, expected {len(gold_rows)}")
    if got_width < gold_width:
        return Comparison(False, f"{got_width} columns, expected {gold_width}")
    extra = got_width - gold_width
    if not gold_rows:
        return Comparison(True, "both empty", extra)
    candidates = [[j for j in range(got_width) if _column_fits(gold_rows, i, got_rows, j)]
                  for i in range(gold_width)]
    if any(not c for c in candidates):
        missing = next(i for i, c in enumerate(candidates) if not c)
        return Comparison(False, f"no column matches expected column {missing + 1}", extra)
    for mapping in _assignments(candidates):
        projected = [[row[j] for j in mapping] for row in got_rows]
        if rows_equal(gold_rows, projected, order_matters):
            return Comparison(True, "", extra)
    return Comparison(False, "the same values, combined into different rows"
                      if not order_matters else "rows differ or come in another order", extra)


def _column_fits(gold: Sequence[Sequence[Any]], i: int, got: Sequence[Sequence[Any]],
                 j: int) -> bool:
    return rows_equal([[r[i]] for r in gold], [[r[j]] for r in got], order_matters=False)


def _assignments(candidates: list[list[int]]) -> Iterable[tuple[int, ...]]:
    """Injective choices of one generated column per gold column (few in practice)."""
    for combo in itertools.islice(itertools.product(*candidates), 5000):
        if len(set(combo)) == len(combo):
            yield combo


# --- running --------------------------------------------------------------------------

Execute = Callable[[Any, str], Any]  # (db, sql) -> QueryResult(columns, rows, ...)


def run_gold(db: Any, sql: str) -> tuple[list[str], list[tuple]]:
    """Trusted gold SQL, read-only as the reader role, under QUERY_TIMEOUT_MS."""
    with db.reader_connection() as conn:
        try:
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(pgsql.SQL("SET LOCAL statement_timeout = {}").format(
                pgsql.Literal(db.settings.query_timeout_ms)))
            cursor = conn.execute(sql)
            columns = [d.name for d in cursor.description or []]
            rows = cursor.fetchall()
        finally:
            conn.rollback()
    return columns, rows


def evaluate(cases: Sequence[Case], *, db: Any, generator: Any, catalog: Any,
             execute: Execute | None = None,
             on_result: Callable[[CaseResult], None] | None = None) -> Summary:
    """Run each case through context -> generator -> executor and score it."""
    if execute is None:
        from dashboard.executor import run_query

        execute = run_query
    summary = Summary()
    for case in cases:
        started = time.perf_counter()
        result = _evaluate_one(case, db=db, generator=generator, catalog=catalog,
                               execute=execute)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        summary.results.append(result)
        if on_result is not None:
            on_result(result)
    return summary


def _generate(case: Case, *, db: Any, generator: Any, catalog: Any) -> Any:
    """The generator's draft for one question (the intent gate first, as in the app)."""
    from dashboard.catalog import build_context
    from dashboard.generators.base import ask_deadline
    from dashboard.intent import check_intent

    settings = db.settings
    check_intent(case.question)
    context = build_context(catalog, case.question, token_budget=settings.context_tokens,
                            send_samples=settings.send_sample_values)
    # A silent model server must not stall the run: one ASK_DEADLINE_S per question.
    token = ask_deadline.set(time.monotonic() + settings.ask_deadline_s)
    try:
        return generator.generate(case.question, context)
    finally:
        ask_deadline.reset(token)


def _evaluate_one(case: Case, *, db: Any, generator: Any, catalog: Any,
                  execute: Execute) -> CaseResult:
    result = CaseResult(case, "error")
    try:
        draft = _generate(case, db=db, generator=generator, catalog=catalog)
    except DashboardError as exc:
        status = "correct" if case.expects_decline else "declined"
        return CaseResult(case, status, exc.message)
    except Exception as exc:  # a generator bug is one error, not the end of the run
        return CaseResult(case, "error", f"{type(exc).__name__}: {exc}"[:200])
    result.sql = draft.sql
    if case.expects_decline:
        result.status, result.reason = "wrong", "answered a question the data cannot answer"
        return result
    try:
        got = execute(db, draft.sql)
    except DashboardError as exc:
        result.reason = exc.message
        return result
    except Exception as exc:
        result.reason = f"{type(exc).__name__}: {exc}"[:200]
        return result
    try:
        gold_columns, gold_rows = run_gold(db, str(case.gold_sql))
    except Exception as exc:  # the question is broken, not the generator
        result.status, result.reason = "broken", f"gold SQL failed: {exc}"[:200]
        return result
    rows = list(got.rows)
    if getattr(got, "truncated", False):
        if len(gold_rows) <= len(rows):
            result.status, result.reason = "wrong", "result was cut at MAX_ROWS"
            return result
        # The gold is as large: compare the cut result with the gold's first rows when order
        # matters, else check that every generated row is among the gold rows.
        verdict = _compare_truncated(gold_rows, rows, case.order_matters,
                                     len(gold_columns), len(got.columns))
    else:
        verdict = compare(gold_rows, rows, order_matters=case.order_matters,
                          gold_width=len(gold_columns), got_width=len(got.columns))
    result.status = "correct" if verdict.match else "wrong"
    result.reason = verdict.reason
    result.extra_columns = verdict.extra_columns
    return result


def _compare_truncated(gold_rows: Sequence[Sequence[Any]], got_rows: Sequence[Sequence[Any]],
                       order_matters: bool, gold_width: int, got_width: int) -> Comparison:
    """A result cut at MAX_ROWS against a gold at least as large: compare what was kept."""
    if order_matters:
        verdict = compare(gold_rows[: len(got_rows)], got_rows, order_matters=True,
                          gold_width=gold_width, got_width=got_width)
    else:
        keys = {_sort_key(row) for row in gold_rows}
        fits = got_width == gold_width and all(_sort_key(row) in keys for row in got_rows)
        verdict = Comparison(fits, "" if fits else "the kept rows are not all in the gold")
    if verdict.match:
        return Comparison(True, f"compared the first {len(got_rows)} rows (cut at MAX_ROWS)",
                          verdict.extra_columns)
    return verdict


_MARKS = {"correct": "ok", "wrong": "WRONG", "declined": "declined", "error": "ERROR",
          "broken": "BROKEN"}


def format_row(result: CaseResult, width: int = 60) -> str:
    question = result.case.question if len(result.case.question) <= width else \
        result.case.question[: width - 1] + "…"
    note = result.reason
    if result.extra_columns:
        note = (note + "; " if note else "") + f"+{result.extra_columns} extra column(s)"
    return (f"{result.case.id:<14} {_MARKS[result.status]:<9} {result.elapsed_ms:>7.0f} "
            f"{question:<{width}} {note}")


def format_summary(summary: Summary, generator_name: str) -> str:
    extra = sum(1 for r in summary.results if r.ok and r.extra_columns)
    lines = [
        f"{summary.correct}/{summary.total} correct ({100 * summary.accuracy:.1f}%) with "
        f"the {generator_name} generator.",
        f"wrong:    {summary.count('wrong')} ({100 * summary.wrong_rate:.1f}%) answered "
        "without matching",
        f"declined: {summary.count('declined')}",
        f"errors:   {summary.count('error')}",
    ]
    if summary.count("broken"):
        lines.append(f"broken questions (gold SQL failed): {summary.count('broken')}")
    lines.append(f"{extra} correct answers carried extra columns.")
    categories = summary.by_category()
    if len(categories) > 1 or "-" not in categories:
        lines.append("")
        lines.append(f"{'category':<20} {'correct':>7} {'wrong':>6} {'declined':>8} "
                     f"{'error':>6}")
        for name, row in categories.items():
            lines.append(f"{name:<20} {row['correct']:>7} {row['wrong']:>6} "
                         f"{row['declined']:>8} {row['error'] + row['broken']:>6}")
    return "\n".join(lines)


def run_cli(db: Any, path: str, *, show_sql: bool = False, as_json: bool = False,
            min_accuracy: float | None = None, max_wrong: float | None = None) -> int:
    """`python -m dashboard eval FILE.jsonl`: score the configured generator, print a table.

    Exits 1 when accuracy is below `min_accuracy` or the wrong rate above `max_wrong`
    (fractions 0-1, or percentages above 1).
    """
    from dashboard.catalog import get_catalog
    from dashboard.generators.base import get_generator

    cases = load_cases(path)
    generator = get_generator(db.settings)
    catalog = get_catalog(db)
    name = generator.name + (f" ({generator.model})" if generator.model else "")

    def show(result: CaseResult) -> None:
        if as_json:
            return
        print(format_row(result), flush=True)
        if show_sql and result.sql and not result.ok:
            print(f"{'':<14} sql: {result.sql}")

    if not as_json:
        print(f"Evaluating {len(cases)} questions from {Path(path).name} with the {name} "
              "generator (execution accuracy).\n")
        print(f"{'id':<14} {'result':<9} {'ms':>7} {'question':<60} note")
    summary = evaluate(cases, db=db, generator=generator, catalog=catalog, on_result=show)
    failures = _threshold_failures(summary, min_accuracy, max_wrong)
    if as_json:
        print(json.dumps({
            "generator": generator.name, "model": generator.model,
            "total": summary.total, "correct": summary.correct,
            "accuracy": round(summary.accuracy, 4),
            **{outcome: summary.count(outcome) for outcome in OUTCOMES if outcome != "correct"},
            "categories": summary.by_category(),
            "failed_thresholds": failures,
            "results": [{"id": r.case.id, "category": r.case.category, "status": r.status,
                         "reason": r.reason, "extra_columns": r.extra_columns, "sql": r.sql,
                         "elapsed_ms": round(r.elapsed_ms, 1)} for r in summary.results],
        }, indent=2))
    else:
        print("\n" + format_summary(summary, name))
        for failure in failures:
            print(failure)
    return 1 if failures else 0


def _fraction(value: float) -> float:
    return value / 100 if value > 1 else value


def _threshold_failures(summary: Summary, min_accuracy: float | None,
                        max_wrong: float | None) -> list[str]:
    failures = []
    if min_accuracy is not None and summary.accuracy < _fraction(min_accuracy):
        failures.append(f"FAILED: accuracy {100 * summary.accuracy:.1f}% is below "
                        f"{100 * _fraction(min_accuracy):.1f}%.")
    if max_wrong is not None and summary.wrong_rate > _fraction(max_wrong):
        failures.append(f"FAILED: {100 * summary.wrong_rate:.1f}% wrong is above "
                        f"{100 * _fraction(max_wrong):.1f}%.")
    return failures
