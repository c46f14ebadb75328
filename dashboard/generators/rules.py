"""Small named rules that reshape a parsed plan, applied in order after `planner.parse`.

Each rule reads the plan (with the question's tokens and schema mentions) and the
lexicon, and returns the plan unchanged when it does not apply. The precision gate
(`gate.py`) checks the result afterwards, so a rule may be bold about the shape it
recognises but must never drop a part of the question it cannot place.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dashboard.generators.lexicon import ColRef, Lexicon
from dashboard.generators.planner import Dim, Plan, _pick_column

Rule = Callable[[Plan, Lexicon], Plan]

_LIST_VERB = re.compile(
    r"^\s*(?:please\s+)?(?:list|show|display|give(?:\s+me)?|output|retrieve|return|select|"
    r"fetch|get|find|produce)\b")
_AGGREGATE = re.compile(
    r"\b(?:how many|how much|count|counts|number of|numbers of|total|totals|sum|average|"
    r"averages|avg|mean|median|max|maximum|min|minimum|most|least|fewest|highest|lowest|"
    r"largest|smallest|biggest|percentage|percent|share|proportion|ratio|rate|top|bottom|"
    r"per|grouped|breakdown|distribution|trend)\b")
_SORT = re.compile(r"\b(?:sorted|ordered|order|sort|arranged)\s+(?:them\s+)?by\b")
_DESC = re.compile(r"\b(?:desc|descending|reverse|latest first|newest first|"
                   r"highest first|largest first)\b")
_DISTINCT = re.compile(r"\b(?:without duplicates|no duplicates|distinct|unique|"
                       r"different)\b")
# Words that end the list of columns and start the description of the rows.
_ROW_START = {"of", "for", "who", "whose", "where", "that", "which", "with", "in", "from",
              "whom", "having", "on", "at"}


def listing_rows(plan: Plan, lex: Lexicon) -> Plan:
    """'Display the last name and salary of employees who earn more than 15000': the
    named columns of each matching row (not a count, not a total)."""
    text = plan.text
    if not _LIST_VERB.search(text) or _AGGREGATE.search(text) or plan.grain:
        return plan
    sort_at = _SORT.search(text)
    zones = _zones(plan)
    dims: list[Dim] = []
    columns: list[ColRef] = []
    order: list[ColRef] = []
    for m in plan.mentions:
        start = plan.tokens[m.first].start
        typed = " ".join(t.word for t in plan.tokens[m.first:m.last])
        targets = [t for t in m.targets if t.kind == "column"]
        col = _pick_column(targets, plan, lex, typed=typed) if targets else None
        if sort_at is not None and start > sort_at.start():
            if col is not None:
                order.append(col)
            continue
        if zones[m.first] != "list":
            continue  # a column named in the description of the rows: a filter
        if col is None:
            entity = next((t for t in m.targets if t.kind == "entity"), None)
            if entity is not None and not dims and lex.label_columns(entity.table):
                dims.append(Dim("entity", entity.table, None, typed))
            continue
        if col not in columns:
            columns.append(col)
            dims.append(Dim("column", col.table, col.column, col.column))
    if not columns:
        return plan
    if sort_at is not None and (_DESC.search(text) or not order or
                                any(c not in columns for c in order)):
        return plan  # an order the listing cannot show: the gate declines it
    plan.measures = []
    plan.dims = dims
    plan.listing = True
    plan.rows = not _DISTINCT.search(text)
    plan.order = order
    return plan


def _zones(plan: Plan) -> list[str]:
    """For each token: 'list' while the question names what to show, 'rows' once it
    describes which rows ("of employees who ..."); "with their ..." lists again."""
    zones = []
    zone = "list"
    previous = ""
    for i, t in enumerate(plan.tokens):
        if not t.marker:
            if t.word in _ROW_START and i > 0:
                zone = "rows"
            if t.word in {"their", "its", "his", "her"} and previous in {"with", "plus",
                                                                          "including"}:
                zone = "list"
            previous = t.word
        zones.append(zone)
    return zones


RULES: list[Rule] = [listing_rows]


def apply(plan: Plan, lex: Lexicon) -> Plan:
    for rule in RULES:
        plan = rule(plan, lex)
    return plan
