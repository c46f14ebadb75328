"""The offline generator: a deterministic planner that needs no key and no network.

The pipeline, one module each: `planner.parse` reads the prompt into a Plan over the
selected tables (words and mentions in `reading`, roles in `roles`); `rules` reshapes the
plan with small named rules; `builder` turns it into one PostgreSQL SELECT built from
sqlglot expressions (`sqlparts`; user text only ever becomes quoted literals), joining
along foreign keys from the table that holds the measure; `gate` checks the query against
the question before it is answered; `interpret` writes its one-line reading. It follows
the answer conventions in DESIGN.md: percentages 0-100, long format
for two dimensions, date_trunc buckets ordered by time (whole years as numbers), top N
with the metric next to the label and a deterministic tiebreak, half-open date ranges,
metric definitions taken from comments.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dashboard import text as textlib
from dashboard.catalog import SchemaContext, Table
from dashboard.config import Settings
from dashboard.errors import GenerationFailed
from dashboard.generators import gate, ordering, planner, rules
from dashboard.generators.base import Draft
from dashboard.generators.builder import (
    Builder,
)
from dashboard.generators.interpret import interpret
from dashboard.generators.lexicon import (
    Cond,
    Lexicon,
    Target,
    build_lexicon,
)
from dashboard.generators.planner import Plan
from dashboard.values import ValueMatch

# --- titles and explanations ------------------------------------------------------------


def _title(plan: Plan, lex: Lexicon) -> str:
    parts = []
    for m in plan.measures:
        if m.metric:
            name = m.metric
        elif m.kind in {"count", "count_distinct"} and m.table:
            name = f"number of {m.table.split('.')[-1].replace('_', ' ')}"
        elif m.col is not None:
            word = {"sum": "total", "avg": "average", "max": "highest", "min": "lowest",
                    "median": "median", "count_distinct": "distinct",
                    "per_entity": "average"}.get(m.kind, m.kind)
            name = f"{word} {m.col.column.replace('_', ' ')}"
        else:
            name = m.words or "value"
        if m.per:
            name += f" per {textlib.singular(m.per.split('.')[-1]).replace('_', ' ')}"
        if m.share or m.rate:
            name = f"share of {name}"
        parts.append(name)
    title = " and ".join(parts) if parts else "list"
    if plan.top:
        title = f"top {plan.top} by {title}" if plan.descending else \
            f"bottom {plan.top} by {title}"
    groups = ([plan.grain] if plan.grain else []) + [
        (d.column or d.table.split(".")[-1]).replace("_", " ") for d in plan.dims]
    if groups:
        title += " by " + " and ".join(groups)
    for f in plan.filters:
        title += f", {f.col.column.replace('_', ' ')} {_describe(f)}"
    for p in plan.periods:
        title += f", {p.label}"
    return title[:1].upper() + title[1:]


def _describe(cond: Cond) -> str:
    if cond.op in {"isnull", "notnull"}:
        return "is empty" if cond.op == "isnull" else "is not empty"
    if cond.op == "notin_select":
        return f"has no row in {cond.value[0]}"  # type: ignore[index]
    if cond.op == "like":
        return f"matches '{cond.value}'"
    if cond.op == "in_group_count":
        op, number = cond.value  # type: ignore[misc]
        if isinstance(number, tuple):
            return f"has {op} {number[2]:g} rows in {number[0]}"
        return f"held by {op} {number:g} rows"
    if cond.op == "vs_avg":
        return f"{'above' if cond.value[0] == '>' else 'below'} its average"  # type: ignore[index]
    if cond.op in {"in", "notin"}:
        values = ", ".join(str(v) for v in cond.value)  # type: ignore[attr-defined]
        return f"{'not ' if cond.op == 'notin' else ''}in {values}"
    words = {"=": "", "<>": "not ", ">": "over ", ">=": "at least ", "<": "under ",
             "<=": "at most "}
    return f"{words[cond.op]}{cond.value}".strip()


def _explain(plan: Plan, lex: Lexicon, notes: list[str]) -> str:
    lines = ["Planned offline from the schema (no LLM)."]
    for m in plan.measures:
        if m.metric and m.metric in lex.metrics:
            metric = lex.metrics[m.metric]
            lines.append(f"'{metric.name}' uses the definition in the {metric.source}.")
    if plan.filters:
        lines.append("Filters: " + "; ".join(
            f"{f.col.column} {_describe(f) or '= ' + str(f.value)}" for f in plan.filters) + ".")
    if plan.periods:
        lines.append("Period: " + ", ".join(p.label for p in plan.periods)
                     + " (start inclusive, end exclusive).")
    lines += notes
    return " ".join(lines)


# --- the generator ------------------------------------------------------------------------

_PLAN_CACHE_SIZE = 256


class OfflineGenerator:
    """Deterministic prompt-to-SQL planner over the selected schema context."""

    name = "offline"
    model: str | None = None

    def __init__(self, settings: Settings, *, today: date | None = None) -> None:
        self.settings = settings
        self._today = today
        self._lock = threading.Lock()
        self._plans: OrderedDict[str, Plan] = OrderedDict()
        self._lexicons: OrderedDict[tuple[str, ...], tuple[tuple[Table, ...], Lexicon]] = \
            OrderedDict()

    def today(self) -> date:
        if self._today is not None:
            return self._today
        return datetime.now(ZoneInfo(self.settings.timezone)).date()

    def generate(self, question: str, context: SchemaContext, *, feedback: str | None = None,
                 previous: Draft | None = None) -> Draft:
        if feedback:
            # Deterministic: the same plan would fail the same way again.
            raise GenerationFailed(
                "The offline planner's query was refused: " + feedback.strip().splitlines()[0]
                + " Try rephrasing, or connect an LLM (OPENAI_BASE_URL or OPENAI_API_KEY).")
        if not question or not question.strip():
            raise GenerationFailed("Type a question first.")
        if not context.tables:
            raise GenerationFailed("No tables are available to answer that question.")
        lex = _with_values(self._lexicon(context.tables), context.values)
        plan = self._plan(question, lex, previous)
        if previous is None:
            plan = rules.apply(plan, lex)
        builder = Builder(plan, lex, self.today())
        query = builder.build()
        if previous is None:
            query = ordering.apply(query, plan, lex)
        if previous is None:
            gate.check(question, plan.text, plan.tokens, plan.mentions, plan, lex, query)
        sql = query.sql(dialect="postgres")
        with self._lock:
            self._plans[sql] = plan
            self._plans.move_to_end(sql)
            while len(self._plans) > _PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        return Draft(sql=sql, chart=plan.chart, title=_title(plan, lex),
                     explanation=_explain(plan, lex, builder.notes),
                     interpretation=interpret(query, note=builder.range_note))

    def _lexicon(self, tables: tuple[Table, ...]) -> Lexicon:
        key = tuple(t.qualified_name for t in tables)
        with self._lock:
            cached = self._lexicons.get(key)
            if cached is not None and cached[0] == tables:
                return cached[1]
        lex = build_lexicon(tables)
        with self._lock:
            self._lexicons[key] = (tables, lex)
            while len(self._lexicons) > 16:
                self._lexicons.popitem(last=False)
        return lex

    def _plan(self, question: str, lex: Lexicon, previous: Draft | None) -> Plan:
        if previous is None:
            return planner.parse(question, lex)
        with self._lock:
            base = self._plans.get(previous.sql)
        if base is not None and not planner.plan_tables(base) <= set(lex.tables):
            base = None  # planned over tables this context no longer holds
        if base is None and previous.title:
            try:
                base = planner.parse(previous.title, lex)
            except GenerationFailed:
                base = None
        if base is None:
            return planner.parse(question, lex)
        return planner.refine(base, question, lex)


def _with_values(lex: Lexicon, matches: tuple[ValueMatch, ...]) -> Lexicon:
    """The lexicon plus the data values the question names (from the value index)."""
    if not matches:
        return lex
    extended = replace(lex, phrases={k: list(v) for k, v in lex.phrases.items()})
    for m in matches:
        target = Target("value", m.table, m.column, m.value)
        for text in (m.value, m.phrase):  # as stored, and as typed ("movies" for 'Movie')
            words = textlib.words(text)
            if words:
                extended.add([textlib.stem(w) for w in words], target)
    return extended
