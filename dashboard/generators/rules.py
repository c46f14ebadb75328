"""Small named rules that reshape a parsed plan, applied in order after `planner.parse`.

Each rule reads the plan (with the question's tokens and schema mentions) and the
lexicon, and returns the plan unchanged when it does not apply. The precision gate
(`gate.py`) checks the result afterwards, so a rule may be bold about the shape it
recognises but must never drop a part of the question it cannot place.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dashboard import text as textlib
from dashboard.generators.lexicon import ColRef, Cond, Lexicon
from dashboard.generators.reading import Dim, Measure, Plan
from dashboard.generators.roles import _pick_column

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


_NEGATION = re.compile(r"^(?:no|not|without|never|none|\w+n't|cannot)$")
_LINKING = {"have", "has", "had", "a", "an", "any", "the", "been", "made", "make", "got",
            "get", "yet", "recorded", "assigned", "given", "entered", "known", "listed", "set",
            "to", "their", "its", "his", "her", "do", "does", "did", "is", "are", "was",
            "were", "be", "in", "of", "with", "for"}


_HAVE = {"have", "has", "had", "assigned", "recorded", "given", "listed", "set", "entered",
         "known", "yet"}


def null_tests(plan: Plan, lex: Lexicon) -> Plan:
    """'employees who do not have a manager' -> manager_id IS NULL; 'departments with no
    employees' -> no employees row refers to the department (an anti-join)."""
    if any(f.op in {"<>", "notin", "isnull", "notin_select"} for f in plan.filters):
        return plan
    subject = next((t.table for m in plan.mentions for t in m.targets
                    if t.kind == "entity"), None)
    if subject is None:
        return plan
    for i, token in enumerate(plan.tokens):
        if token.marker or not _NEGATION.match(token.word):
            continue
        j = i + 1
        while j < len(plan.tokens) and not plan.tokens[j].marker and \
                plan.tokens[j].word in _LINKING:
            j += 1
        if j >= len(plan.tokens) or plan.tokens[j].marker:
            return plan
        word = plan.tokens[j]
        linked = {t.word for t in plan.tokens[i + 1:j]}
        if token.word not in {"no", "without", "never"} and not linked & _HAVE:
            return plan  # "did not survive": a verb, not a missing value
        column = _nullable_column(lex, subject, word.stem)
        if column is not None:
            plan.filters.append(Cond(column, "isnull", None))
            plan.placed.update(range(i, j + 1))
            _place_referenced(plan, lex, column, j + 1)
            return _consume(plan, subject)
        for edge in lex.edges:
            child = edge.child.split(".")[-1]
            names = {textlib.stem(child), textlib.stem(textlib.singular(child))}
            if edge.parent == subject and edge.child != subject and word.stem in names:
                plan.filters.append(Cond(ColRef(subject, edge.parent_column), "notin_select",
                                         (edge.child, edge.column)))
                plan.placed.update(range(i, j + 1))
                return _consume(plan, subject)
        return plan
    return plan


def _consume(plan: Plan, subject: str) -> Plan:
    """Words a rule placed are no longer measures, groups or tables of the plan; what is
    left counts or lists the subject ('how many departments ...' / 'which employees')."""
    placed = {plan.tokens[i].word for i in plan.placed}
    consumed = {t.table for m in plan.mentions if set(range(m.first, m.last)) <= plan.placed
                for t in m.targets if t.kind == "entity"}
    for k, m in enumerate(plan.measures):
        table = m.table or (m.col.table if m.col else None)
        if m.kind in {"count", "count_distinct"} and table in consumed:
            plan.measures[k] = Measure("count", table=subject, words=m.words)
    plan.measures = [m for m in plan.measures if not (set(m.words.split()) & placed) and
                     m.table not in consumed]
    plan.dims = [d for d in plan.dims if not (set(d.words.split()) & placed) and
                 d.table not in consumed]
    plan.hints = [h for h in plan.hints if h not in consumed]
    if plan.listing and not plan.dims and not plan.hints:
        plan.dims = [Dim("entity", subject)]
    if not plan.measures and not plan.listing:
        if re.search(r"\bhow many\b|\bnumber of\b|\bcount\b", plan.text):
            plan.measures = [Measure("count", table=subject, words=subject)]
        else:
            plan.dims = plan.dims or [Dim("entity", subject)]
            plan.listing = True
    elif plan.measures and re.search(r"^\s*(?:which|what|who|list|show)\b", plan.text) and \
            not _AGGREGATE.search(plan.text):
        plan.measures = []
        plan.dims = [Dim("entity", subject)]
        plan.listing = True
    return plan


def _nullable_column(lex: Lexicon, table: str, stem: str) -> ColRef | None:
    """The one nullable column of `table` named by `stem` ('manager' -> manager_id)."""
    found = []
    for column in lex.tables[table].columns:
        if not column.nullable or column.primary_key or column.type == "boolean" or (
                column.is_numeric and column.references is None and
                column.distinct_estimate is not None and column.distinct_estimate <= 3):
            continue  # a yes/no column: "not" is its other value, not an empty one
        words = [textlib.stem(w) for w in re.split(r"[_\W]+", column.name.lower())
                 if w and w not in {"id", "pct", "no", "code"}]
        if stem in words and (words[0] == stem or len(words) == 1):
            found.append(ColRef(table, column.name))
    return found[0] if len(found) == 1 else None


def _place_referenced(plan: Plan, lex: Lexicon, column: ColRef, start: int) -> None:
    """'a capital city': the table the key column refers to, named right after it."""
    parents = {e.parent for e in lex.edges if e.child == column.table and
               e.column == column.column}
    for m in plan.mentions:
        if m.first == start and any(t.kind == "entity" and t.table in parents
                                    for t in m.targets):
            plan.placed.update(range(m.first, m.last))


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


def values_listed_are_groups(plan: Plan, lex: Lexicon) -> Plan:
    """'the number of male and female passengers': one row per value listed with 'and'."""
    if plan.dims or not plan.measures or plan.listing:
        return plan
    for f in plan.filters:
        if f.op != "in" or not isinstance(f.value, list | tuple) or len(f.value) < 2:
            continue
        words = [re.escape(str(v).lower()) for v in f.value]
        listed = re.search(r"\b(?:" + "|".join(words) + r")\b(?:\s*,\s*\w+)*\s*,?\s+and\s+"
                           r"(?:" + "|".join(words) + r")\b", plan.text)
        # "male and female passengers": the values qualify the rows counted, so each is a
        # group; "revenue for Electronics and Books in 2024" stays one total.
        if listed and any(plan.tokens[m.first].start > listed.end() and
                          plan.text[listed.end():plan.tokens[m.first].start].strip() == "" and
                          any(t.kind == "entity" for t in m.targets) for m in plan.mentions):
            plan.dims.append(Dim("column", f.col.table, f.col.column, f.col.column))
            return plan
    return plan


_SHARE_OF = re.compile(r"\b(?:percentage|percent|share|proportion|fraction)\s+of\s+"
                       r"(?:all\s+|the\s+|our\s+)?(\w+)")


def share_of_all(plan: Plan, lex: Lexicon) -> Plan:
    """'What percentage of titles are TV shows?': one share over all titles, not one per
    title (the word after 'percentage of' names the rows, not a group)."""
    found = _SHARE_OF.search(plan.text)
    if found is None or not any(m.rate for m in plan.measures):
        return plan
    kept = [d for d in plan.dims if not d.words or d.words.split()[0] != found.group(1)]
    if len(kept) < len(plan.dims):
        plan.dims = kept
        for m in plan.mentions:
            if plan.tokens[m.first].start == found.start(1):
                plan.placed.update(range(m.first, m.last))  # the rows the share is of
    return plan


def year_columns(plan: Plan, lex: Lexicon) -> Plan:
    """'movies released in 2020' over an integer release_year (no date column): whole
    calendar years become a condition on the year column the verb names."""
    years = [p for p in plan.periods if p.relative is None and p.start is not None and
             p.end is not None and p.start.month == 1 and p.start.day == 1 and
             p.end.month == 1 and p.end.day == 1]
    if not years or len(years) != len(plan.periods):
        return plan
    tables = {t.table for m in plan.mentions for t in m.targets if t.kind == "entity"}
    tables |= {t.table for m in plan.mentions for t in m.targets if t.kind == "column"}
    stems = {t.stem: i for i, t in enumerate(plan.tokens) if not t.marker}
    found = []
    for table in sorted(tables):
        for column in lex.tables[table].columns:
            words = [textlib.stem(w) for w in re.split(r"[_\W]+", column.name.lower()) if w]
            if column.is_numeric and words and words[-1] == "year" and len(words) > 1 and \
                    words[0] in stems:
                found.append((ColRef(table, column.name), stems[words[0]]))
    if len(found) != 1:
        return plan  # no verb names a year column: a date column answers the period
    col, verb = found[0]
    plan.measures = [m for m in plan.measures if m.col != col]
    plan.dims = [d for d in plan.dims if d.column != col.column]
    subject = next((t.table for m in plan.mentions for t in m.targets
                    if t.kind == "entity"), col.table)
    first = min(p.start for p in years if p.start)
    last = max(p.end for p in years if p.end)
    plan.filters.append(Cond(col, ">=", first.year))
    plan.filters.append(Cond(col, "<", last.year))
    plan.periods = []
    plan.placed.add(verb)
    return _consume(plan, subject)


RULES: list[Rule] = [listing_rows, null_tests, values_listed_are_groups, share_of_all,
                     year_columns]


def apply(plan: Plan, lex: Lexicon) -> Plan:
    for rule in RULES:
        plan = rule(plan, lex)
    return plan
