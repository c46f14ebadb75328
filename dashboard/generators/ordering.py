"""The order a grouped answer is asked in ("sorted by facility id", "sorted by month").

The builder orders grouped answers by their figure or their labels; when the question
asks for another order, `grouped_sort` (a plan rule) records the columns named after
"sorted by" in `plan.order`, and `apply` (after the build) makes them the ORDER BY keys,
showing a grouping key the answer did not show yet. The gate's `sorted_as_asked` checks
the result.
"""

from __future__ import annotations

import re

from sqlglot import exp

from dashboard.generators.lexicon import ColRef, Lexicon
from dashboard.generators.reading import Dim, Mention, Plan

_SORT = re.compile(r"\b(?:sorted|ordered|order|sort|arranged)\s+(?:them\s+)?by\b")
_KEY_WORDS = {"id", "ids", "number", "numbers", "code", "key", "no"}
_GLUE = {"and", "then", "by", "the", "their", "its", "a", "an", ","}


def grouped_sort(plan: Plan, lex: Lexicon) -> Plan:
    """'Total slots per facility, sorted by facility id': order by the facility key. The
    words after 'sorted by' name the order, not another group: a group they repeat is
    dropped."""
    found = _SORT.search(plan.text)
    if found is None or plan.listing or (not plan.dims and not plan.grain):
        return plan
    after = [m for m in plan.mentions if plan.tokens[m.first].start > found.end()]
    order: list[ColRef] = []
    for m in after:
        col = _named(plan, lex, m)
        if col is None:
            return plan  # a measure or something unplaced: the gate checks the order
        order.append(col)
    if not order:
        return plan
    sort_words = {" ".join(t.word for t in plan.tokens[m.first:m.last]) for m in after}
    kept: list[Dim] = []
    for d in plan.dims:
        twin = any(k.table == d.table and k.column == d.column and k.words == d.words
                   for k in kept)
        if twin and d.words in sort_words:
            continue
        kept.append(d)
    plan.dims = kept
    plan.order = order
    return plan


def _named(plan: Plan, lex: Lexicon, m: Mention) -> ColRef | None:
    entity = next((t.table for t in m.targets if t.kind == "entity"), None)
    keyed = m.last < len(plan.tokens) and plan.tokens[m.last].word in _KEY_WORDS
    if entity is not None and keyed:
        keys = lex.tables[entity].primary_key
        if len(keys) == 1:
            plan.placed.add(m.last)
            return ColRef(entity, keys[0].name)
        return None
    if any(t.kind == "column" and plan.tokens[m.first].word in t.column for t in m.targets):
        col = next(t for t in m.targets if t.kind == "column")
        if len([t for t in m.targets if t.kind == "column"]) == 1 and any(
                d.table == col.table and d.column == col.column for d in plan.dims):
            return ColRef(col.table, col.column)
    if entity is not None and any(d.kind == "entity" and d.table == entity
                                  for d in plan.dims):
        labels = lex.label_columns(entity)
        if len(labels) == 1:
            return ColRef(entity, labels[0].name)
    return None


def apply(query: exp.Expression, plan: Plan, lex: Lexicon) -> exp.Expression:
    """Make `plan.order` the first ORDER BY keys of a grouped query (ascending unless
    asked otherwise); a grouping key not shown yet is shown."""
    if not plan.order or plan.listing or not isinstance(query, exp.Select) or \
            query.args.get("group") is None or query.args.get("limit") is not None:
        return query
    aliases = {t.name: t.alias_or_name for t in query.find_all(exp.Table)
               if t.parent_select is query}
    grouped = {(c.table, c.name) for c in query.args["group"].find_all(exp.Column)}
    keys: list[str] = []
    for ref in plan.order:
        alias = aliases.get(ref.table.split(".")[-1])
        if alias is None or (alias, ref.column) not in grouped:
            return query
        shown = next((e.alias for e in query.expressions if isinstance(e, exp.Alias) and
                      isinstance(e.this, exp.Column) and e.this.table == alias and
                      e.this.name == ref.column), None)
        if shown is None:
            shown = ref.column
            if shown in {e.alias_or_name for e in query.expressions}:
                return query
            query.set("expressions", [exp.alias_(exp.column(ref.column, alias), shown),
                                      *query.expressions])
        keys.append(shown)
    descending = bool(re.search(r"\b(?:desc|descending|reverse|highest first|largest "
                                r"first|newest first|latest first)\b", plan.text))
    rest = [o for o in (query.args.get("order").expressions if query.args.get("order")
                        else []) if not (isinstance(o.this, exp.Column) and
                                         o.this.name in keys)]
    query.set("order", None)
    return query.order_by(*[exp.Ordered(this=exp.column(k), desc=descending) for k in keys],
                          *rest)
