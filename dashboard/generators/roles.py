"""Helpers that give schema mentions their role in a plan: the column or value meant,
measures, dimensions, HAVING counts and the finishing touches on measures."""

from __future__ import annotations

import re
from dataclasses import replace

from dashboard import text as textlib
from dashboard.errors import GenerationFailed
from dashboard.generators.lexicon import ColRef, Cond, Lexicon, Target
from dashboard.generators.reading import (
    _DISTINCT_CUES,
    Dim,
    Measure,
    Mention,
    Plan,
    Token,
    _has,
)


def _add_having(plan: Plan, lex: Lexicon, counted: str, marker: Token) -> None:
    """'customers with more than 10 orders': a count of related rows per counted row."""
    parents = [m.table or (m.col.table if m.col else None) for m in plan.measures]
    parents += [d.table for d in plan.dims if d.kind == "entity"] + plan.hints
    op, number, _percent = marker.value  # type: ignore[misc]
    for parent in [p for p in parents if p]:
        for edge in lex.edges:
            if edge.parent != parent:
                continue
            bridge_ok = edge.child == counted or any(
                e.child == edge.child and e.parent == counted for e in lex.edges)
            if bridge_ok:
                plan.having.append((parent, edge.child, edge.column, op, number))
                return
    raise GenerationFailed(
        f"I could not tell how to count {counted.split('.')[-1]} for "
        f"'{marker.word.strip()}'.")


def _flag_value(c) -> tuple[object, object] | None:
    """(yes, no) for a boolean column or a 0/1 integer flag; None for other columns."""
    if c.type == "boolean":
        return True, False
    name = c.name.lower()
    if c.type in {"integer", "smallint", "bigint"} and not c.primary_key and \
            c.references is None and not name.endswith("id") and \
            c.distinct_estimate is not None and c.distinct_estimate <= 2 and \
            (name.startswith(("is_", "has_")) or name.endswith("ed") or name == "active"):
        # a 0/1 column named like a state: is_active, deleted, archived, discontinued
        return 1, 0
    return None


def _pick_value(targets: list[Target], mentions: list[Mention], index: int,
                stems: set[str] | None = None) -> Target:
    """A value found in several columns: prefer one whose column is named nearby, then
    one in a table named nearby, then one whose column name shares a word with the
    question ("shipped to Germany" -> ship_country)."""
    nearby = mentions[max(0, index - 3): index + 3]
    columns = {(t.table, t.column) for m in nearby for t in m.targets if t.kind == "column"}
    tables = {t.table for m in nearby for t in m.targets if t.kind in {"column", "entity"}}
    stems = stems or set()

    def score(t: Target) -> tuple[int, int, int]:
        words = {textlib.stem(w) for w in textlib.words(t.column)}
        return ((t.table, t.column) in columns, t.table in tables, len(words & stems))

    return max(targets, key=score)


def _value_of_column_near(mentions: list[Mention], index: int, col: ColRef) -> bool:
    for m in mentions[max(0, index - 1): index + 2]:
        for t in m.targets:
            if t.kind == "value" and t.table == col.table and t.column == col.column:
                return True
    return False


def _comparison(col: ColRef, spec: object, lex: Lexicon) -> Cond:
    op, number, percent = spec  # type: ignore[misc]
    c = lex.column(col)
    if percent and c.comment and re.search(r"fraction|0 (?:to|and) 1|0\.\d+ = ", c.comment):
        number = number / 100
    value: object = int(number) if float(number).is_integer() else number
    return Cond(col, op, value)


def _pick_column(targets: list[Target], plan: Plan, lex: Lexicon,
                 numeric: bool = False, typed: str = "") -> ColRef | None:
    """Choose among same-named columns: one whose name holds the typed word ("rating",
    not "rental_rate"), then one in a table the question already involves."""
    cols = [ColRef(t.table, t.column) for t in targets if t.kind == "column"]
    if numeric:
        cols = [c for c in cols if lex.column(c).is_numeric] or cols
    if not cols:
        return None
    typed_words = set(textlib.words(typed))
    exact = [c for c in cols if typed_words & set(textlib.words(c.column))]
    if typed_words and exact and len(exact) < len(cols):
        cols = exact
    involved = _involved_tables(plan, lex)
    for c in cols:
        if c.table in involved:
            return c
    named = {t.table for m in plan.mentions for t in m.targets if t.kind == "entity"}
    for c in cols:
        if c.table in named:
            return c  # "population of city X": the table the question names
    if involved:
        # The column whose table is fewest joins away from what is already involved.
        def distance(c: ColRef) -> int:
            lengths = [len(p) for t in involved if (p := lex.path(t, c.table)) is not None]
            return min(lengths, default=99)
        return min(cols, key=distance)
    return cols[0]


def _involved_tables(plan: Plan, lex: Lexicon) -> list[str]:
    tables: list[str] = []
    for m in plan.measures:
        if m.metric and m.metric in lex.metrics:
            metric = lex.metrics[m.metric]
            tables += sorted(metric.tables)
            if metric.numerator and metric.numerator in lex.metrics:
                tables += sorted(lex.metrics[metric.numerator].tables)
        if m.table:
            tables.append(m.table)
        if m.col:
            tables.append(m.col.table)
    tables += [d.table for d in plan.dims] + plan.hints
    return list(dict.fromkeys(tables))


def _dim_for(m: Mention, plan: Plan, lex: Lexicon, words: str) -> Dim | None:
    column = [t for t in m.targets if t.kind == "column"]
    entity = next((t for t in m.targets if t.kind == "entity"), None)
    if column:
        col = _pick_column(column, plan, lex, typed=words)
        if col is not None:
            if lex.column(col).is_time:
                plan.time_col = col
                plan.grain = plan.grain or "day"
                return None
            return Dim("column", col.table, col.column, words)
    if entity is not None:
        return Dim("entity", _through_link(lex, entity.table, words), None, words)
    return None


def _through_link(lex: Lexicon, table: str, words: str) -> str:
    """'film category' names the link table film_category; group by the category."""
    t = lex.tables[table]
    keys = [c for c in t.columns if c.references is not None]
    others = [c for c in t.columns if c.references is None and not c.is_time]
    if len(keys) < 2 or others:
        return table
    last = textlib.stem(textlib.words(words)[-1]) if textlib.words(words) else ""
    parents = [f"{c.references.schema}.{c.references.table}" for c in keys
               if c.references is not None]
    parents = [p for p in parents if p in lex.tables]
    for parent in parents:
        if last in {textlib.stem(w) for w in textlib.words(parent.split(".")[-1])}:
            return parent
    return parents[-1] if parents else table


def _measure_for(cue: str, m: Mention, plan: Plan, lex: Lexicon, before: list[str],
                 words: str) -> Measure | None:
    entity = next((t for t in m.targets if t.kind == "entity"), None)
    metric = next((t for t in m.targets if t.kind == "metric"), None)
    columns = [t for t in m.targets if t.kind == "column"]
    if metric is not None:
        if cue == "avg":
            return Measure("metric", metric=metric.metric, words=words, inner="avg")
        return Measure("metric", metric=metric.metric, words=words)
    if cue in {"count", "distinct"}:
        distinct = cue == "distinct" or _has(before, _DISTINCT_CUES)
        if not distinct and words in {"items", "item", "units", "unit", "pieces"}:
            qty = _quantity_column(lex, plan)
            if qty is not None:
                return Measure("sum", col=qty, words=words)  # "number of items sold"
        if entity is not None and not columns:
            return Measure("count_distinct" if distinct else "count", table=entity.table,
                           words=words)
        col = _pick_column(columns, plan, lex)
        if col is not None:
            c = lex.column(col)
            if not distinct and c.is_numeric and not c.primary_key:
                return Measure("sum", col=col, words=words)  # "number of units"
            # "number of countries": distinct values of a descriptive column.
            return Measure("count_distinct", col=col, words=words)
        return None
    if entity is not None and not columns:
        if cue in {"median", "max", "min"}:
            raise GenerationFailed(
                f"I could not tell which value of {words} to take the {cue} of; name a "
                "column.")
        if cue == "sum":
            money = _money_column(lex, entity.table)
            if money is not None:
                return Measure("sum", col=money, words=words)  # "total payments"
            return Measure("count", table=entity.table, words=words)
        if cue == "avg":
            return Measure("count", table=entity.table, words=words, inner="avg")
        return None
    col = _pick_column(columns, plan, lex, numeric=True, typed=words)
    if col is None:
        return None
    if cue == "distinct":
        return Measure("count_distinct", col=col, words=words)
    return Measure(cue, col=col, words=words)


_MONEY_ENTITIES = {"payment", "sal", "transaction", "charg", "donation", "expens", "deposit",
                   "transfer", "refund", "withdrawal", "purchas", "contribution"}


def _money_column(lex: Lexicon, table: str) -> ColRef | None:
    """The amount of a money-movement table ("total payments" adds up payment.amount)."""
    from dashboard.generators.lexicon import _AMOUNT_NAMES

    t = lex.tables[table]
    if not any(textlib.stem(w) in _MONEY_ENTITIES for w in textlib.words(t.name)):
        return None
    amounts = [c for c in t.columns if c.is_numeric and c.name.lower() in _AMOUNT_NAMES]
    return ColRef(table, amounts[0].name) if len(amounts) == 1 else None


def _make_per_entity(plan: Plan, entity: str, lex: Lexicon) -> None:
    last = plan.measures[-1]
    if last.kind == "avg" and last.col is not None and last.col.table == entity:
        return  # "average quantity per order item": the rows are already the items
    if last.kind == "avg" and last.col is not None:
        plan.measures[-1] = Measure("per_entity", col=last.col, per=entity, inner="sum",
                                    words=last.words)
    elif last.kind == "metric":
        plan.measures[-1] = Measure("per_entity", metric=last.metric, per=entity,
                                    words=last.words)
    elif last.kind == "count" and last.table:
        plan.measures[-1] = Measure("per_entity", table=last.table, per=entity,
                                    inner="count", words=last.words)


def _resolve_values(plan: Plan, values: list[tuple[Target, bool, bool]], lex: Lexicon,
                    share: bool) -> None:
    by_column: dict[tuple[ColRef, bool], list[str]] = {}
    for target, negated, including in values:
        col = ColRef(target.table, target.column)
        if including:
            plan.include_cols.add(col)
            continue
        by_column.setdefault((col, negated), [])
        if target.value not in by_column[(col, negated)]:
            by_column[(col, negated)].append(target.value)
    for (col, negated), vals in by_column.items():
        if len(vals) == 1:
            plan.filters.append(Cond(col, "<>" if negated else "=", vals[0]))
        else:
            plan.filters.append(Cond(col, "notin" if negated else "in", tuple(vals)))


def _finish_measures(plan: Plan, lex: Lexicon, bare_numeric: list[ColRef], share: bool,
                     text: str) -> None:
    if not plan.measures:
        if re.search(r"\bbest sell|\btop sell|\bmost sold\b|\bsold the most\b|\bunits sold\b",
                     text):
            qty = _quantity_column(lex, plan)
            if qty is not None:
                plan.measures.append(Measure("sum", col=qty, words="units sold"))
        if not plan.measures and re.search(r"\bexpensive\b|\bpriciest\b|\bcheapest\b|"
                                           r"\bcheap\b|\bprice", text):
            price = _price_column(lex, plan)
            if price is not None:
                kind = "min" if re.search(r"\bcheap", text) else "max"
                if re.search(r"\baverage\b|\bmean\b|\bavg\b", text):
                    kind = "avg"
                plan.measures.append(Measure(kind, col=price, words="price"))
        if not plan.measures and share and plan.filters:
            # "cancellation rate": the share of rows of the table holding the value.
            plan.measures.append(Measure("count", table=plan.filters[0].col.table))
        if not plan.measures and bare_numeric:
            plan.measures.append(Measure("sum", col=bare_numeric[0]))
        if not plan.measures and plan.hints:
            plan.measures.append(Measure("count", table=plan.hints.pop(0)))
    if not plan.measures:
        return
    # Share / rate: numbers as 0-100 percentages.
    if share:
        measure = plan.measures[0]
        rate_filters = [f for f in plan.filters if f.op in {"=", "in", "<>", "notin"}
                        and f.col not in _metric_condition_cols(measure, lex)]
        if rate_filters and not _filters_define_dims(plan, rate_filters):
            measure.rate = tuple(rate_filters)
            plan.filters = [f for f in plan.filters if f not in rate_filters]
        else:
            measure.share = True
    # Count of an entity while another table that references it is named: the other
    # table is where the events are ("customers who placed an order in 2025").
    if re.search(r"\b(active|ordering|buying|purchasing|returning|repeat)\b", text):
        for measure in plan.measures:
            if measure.kind in {"count", "count_distinct"} and measure.table:
                plan.hints += [e.child for e in lex.edges if e.parent == measure.table
                               and lex.time_columns(e.child) and e.child not in plan.hints]
    if (plan.periods or plan.grain) and plan.time_col is None:
        # Counting things without dates of their own over a period: count them through
        # the table of events that point to them (customers -> invoices in 2023). So too
        # "unique customers per quarter": rows of one table are distinct anyway.
        for measure in plan.measures:
            if measure.kind in {"count", "count_distinct"} and measure.table and (
                    not lex.time_columns(measure.table) or measure.kind == "count_distinct"):
                plan.hints += [e.child for e in lex.edges if e.parent == measure.table
                               and lex.time_columns(e.child) and e.child not in plan.hints]
    for i, measure in enumerate(plan.measures):
        if measure.kind in {"count", "count_distinct"} and measure.table:
            for hint in plan.hints:
                edge = next((e for e in lex.edges if e.child == hint
                             and e.parent == measure.table), None)
                if edge is not None and hint != measure.table:
                    plan.measures[i] = replace(measure, kind="count_distinct", table=None,
                                               col=ColRef(hint, edge.column))
                    break


def _filters_define_dims(plan: Plan, filters: list[Cond]) -> bool:
    return any(d.column == f.col.column and d.table == f.col.table
               for d in plan.dims for f in filters)


def _metric_condition_cols(measure: Measure, lex: Lexicon) -> set[ColRef]:
    metric = lex.metrics.get(measure.metric or "")
    if metric is None:
        return set()
    return {c.col for c in metric.conditions}


def _quantity_column(lex: Lexicon, plan: Plan) -> ColRef | None:
    targets = lex.phrases.get(("quantity",), []) + lex.phrases.get(("unit", "sell"), [])
    for names in (("quantity", "qty", "units", "quantity_sold", "units_sold"),):
        for q, t in lex.tables.items():
            for c in t.columns:
                if c.name.lower() in names and c.is_numeric:
                    targets.append(Target("column", q, c.name))
    return _pick_column(targets, plan, lex, numeric=True) if targets else None


def _price_column(lex: Lexicon, plan: Plan) -> ColRef | None:
    targets = [Target("column", q, c.name) for q, t in lex.tables.items() for c in t.columns
               if c.is_numeric and re.search(r"price|cost|rate|fee", c.name.lower())]
    if not targets:
        return None
    # A price of the entity being ranked ("the most expensive product").
    for dim_table in [d.table for d in plan.dims] + plan.hints:
        for t in targets:
            if t.table == dim_table:
                return ColRef(t.table, t.column)
    return _pick_column(targets, plan, lex, numeric=True)


# Capitalized words that are not names of things in the data.
