"""Whole-question shapes the role reader cannot build, read before it (`planner.parse`).

Each reader matches the whole question strictly (every word has a place) and returns a
complete plan, or None to leave the question to the role reader. The precision gate checks
the result like any other plan.
"""

from __future__ import annotations

import re

from dashboard.generators.lexicon import ColRef, Cond, Lexicon
from dashboard.generators.reading import Dim, Mention, Plan

_OPENERS = {"which", "what", "list", "show", "display", "give", "find", "return", "name",
            "me", "the", "all", "are", "is"}
_LINKS = {"have", "has", "had", "were", "was", "are", "is", "been", "with", "shared", "used",
          "held", "by", "number", "numbers", "appear", "appears", "appeared", "in", "on",
          "occur", "occurs", "occurred"}
_STRICT_END = {"?", ".", ""}


def group_count_threshold(plan: Plan, lex: Lexicon) -> Plan | None:
    """'Which ratings have more than 500 titles?', 'Which ticket numbers were shared by at
    least 8 passengers?': the values of a column held by more (or fewer) than N rows of
    its own table (GROUP BY the column HAVING count(*), as a list of the values)."""
    tokens = plan.tokens
    compares = [i for i, t in enumerate(tokens) if t.marker == "compare"]
    if len(compares) != 1 or any(t.marker and t.marker != "compare" for t in tokens):
        return None
    at = compares[0]
    op, number, percent = tokens[at].value  # type: ignore[misc]
    if percent or op not in {">", ">=", "<", "<=", "="}:
        return None
    before = [m for m in plan.mentions if m.last <= at]
    after = [m for m in plan.mentions if m.first > at]
    flag = None
    if len(after) == 2 and after[0].last == after[1].first:
        # "at least 3 official languages": a yes/no column of the rows counted
        flags = [t for t in after[0].targets if t.kind == "column" and
                 lex.column(ColRef(t.table, t.column)).type == "boolean"]
        flag = ColRef(flags[0].table, flags[0].column) if len(flags) == 1 else None
        if flag is None or after[0].first != at + 1:
            return None
        after = after[1:]
    if len(before) != 1 or len(after) != 1:
        return None
    grouped, counted = before[0], after[0]
    if any(t.word not in _OPENERS for t in tokens[:grouped.first]) or \
            not re.match(r"\s*(?:which|what|list|show|display|give|find|return|name)\b",
                         plan.text):
        return None
    if any(t.word not in _LINKS for t in tokens[grouped.last:at]):
        return None
    if (flag is None and counted.first != at + 1) or counted.last != len(tokens):
        return None
    col = _group_column(grouped, lex)
    dim = Dim("column", col.table, col.column, col.column) if col else None
    if col is None or not _rows_of(counted, col.table, lex):
        # "Which departments have more than 5 employees?": rows of another table that
        # refer to each row (one foreign key between the two tables).
        parents = {t.table for t in grouped.targets if t.kind == "entity"}
        edges = [e for e in lex.edges if e.parent in parents and e.parent != e.child and
                 _rows_of(counted, e.child, lex)]
        if len(parents) != 1 or len(edges) != 1 or (
                flag is not None and flag.table != edges[0].child):
            return None
        edge = edges[0]
        keys = lex.tables[edge.parent].primary_key
        if len(keys) != 1 or keys[0].name != edge.parent_column:
            return None
        col = ColRef(edge.parent, edge.parent_column)
        dim = Dim("entity", edge.parent)
        number = (edge.child, edge.column, number, flag.column if flag else None)
    elif flag is not None:
        return None
    plan.filters = [Cond(col, "in_group_count", (op, number))]
    plan.dims = [dim]
    plan.measures = []
    plan.listing = True
    plan.rows = False
    plan.placed |= set(range(grouped.last, len(tokens)))
    return plan


def _group_column(m: Mention, lex: Lexicon) -> ColRef | None:
    """The one descriptive (not key, not measure) column the mention names."""
    cols = [ColRef(t.table, t.column) for t in m.targets if t.kind == "column"]
    cols = [c for c in cols if not lex.column(c).primary_key and (
        lex.column(c).is_text or (lex.column(c).references is None and
        not lex.column(c).is_numeric))]
    return cols[0] if len(cols) == 1 else None


def _rows_of(m: Mention, table: str, lex: Lexicon) -> bool:
    """'titles', 'passengers': the mention names the rows of `table` (the table itself,
    or its one label column)."""
    for t in m.targets:
        if t.kind == "entity" and t.table == table:
            return True
        if t.kind == "column" and t.table == table:
            labels = lex.label_columns(table)
            if len(labels) == 1 and labels[0].name == t.column:
                return True
            # "languages" of country_language: the column the table is named after
            words = table.split(".")[-1].lower().split("_")
            if len(words) > 1 and t.column.lower() == words[-1] and \
                    lex.column(ColRef(t.table, t.column)).is_text:
                return True
    return False


SHAPES = [group_count_threshold]


def read(plan: Plan, lex: Lexicon) -> Plan | None:
    for shape in SHAPES:
        found = shape(plan, lex)
        if found is not None:
            return found
    return None
