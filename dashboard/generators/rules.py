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
from dashboard.generators.nulls import (
    _AGGREGATE,
    _consume,
    _subject,
    null_tests,
    present_values,
)
from dashboard.generators.ordering import grouped_sort
from dashboard.generators.reading import Dim, Measure, Mention, Plan
from dashboard.generators.roles import _pick_column

Rule = Callable[[Plan, Lexicon], Plan]

_LIST_VERB = re.compile(
    r"^\s*(?:please\s+)?(?:list|show|display|give(?:\s+me)?|output|retrieve|return|select|"
    r"fetch|get|find|produce|identify)\b")
_SORT = re.compile(r"\b(?:sorted|ordered|order|sort|arranged)\s+(?:them\s+)?by\b")
_DESC = re.compile(r"\b(?:desc|descending|reverse|latest first|newest first|"
                   r"highest first|largest first)\b")
_DISTINCT = re.compile(r"\b(?:without duplicates|no duplicates|distinct|unique|"
                       r"different)\b")
# Words that end the list of columns and start the description of the rows.
_ROW_START = {"of", "for", "who", "whose", "where", "that", "which", "with", "in", "from",
              "whom", "having", "on", "at"}


_VS_AVERAGE = re.compile(
    r"\b(?:(?P<up>more|greater|higher|larger|bigger|above)|(?P<down>less|lower|smaller|"
    r"fewer|below))\s+(?:than\s+)?(?:the\s+)?(?:overall\s+)?(?:average|mean)\b")
_ABOVE_BELOW = re.compile(r"\b(?:more|greater|higher|larger|bigger|above|less|lower|"
                          r"smaller|fewer|below|than|the|overall|average|mean|is|are|was|"
                          r"were|of|all)\b")


def compare_with_average(plan: Plan, lex: Lexicon) -> Plan:
    """'countries whose population is greater than the average population', 'employees who
    earn more than the average salary': each row's column against the column's average
    over its table; the rows are listed (or counted), not averaged."""
    found = _VS_AVERAGE.search(plan.text)
    if found is None:
        return plan
    sort_at = _SORT.search(plan.text)
    head = plan.text[:sort_at.start()] if sort_at else plan.text
    if re.search(r"\b(?:each|per|every|by|their|its)\b", head):
        return plan  # "above the average of their department": a per-group average
    placed = {i for i, t in enumerate(plan.tokens)
              if found.start() <= t.start < found.end()}
    after = [m for m in plan.mentions if m.first == max(placed) + 1]
    before = [m for m in plan.mentions if m.last <= min(placed) and all(
        _ABOVE_BELOW.fullmatch(t.word) for t in plan.tokens[m.last:min(placed)])]
    chosen = None
    for m in after + before[-1:]:
        col = _pick_column([t for t in m.targets if t.kind == "column"], plan, lex,
                           numeric=True)
        if col is not None and lex.column(col).is_numeric and not lex.column(col).primary_key:
            chosen, mention = col, m
            break
    if chosen is None:
        return plan
    placed |= set(range(mention.first, mention.last))
    rest = plan.tokens[max(placed) + 1:]
    if len(rest) >= 2 and rest[0].word == "of" and rest[-1].word not in {"all"}:
        # "the average population of all countries" reads as the table's average; any
        # other "of ..." ("of their department") names a group: not built here.
        words = [t.word for t in rest[:4]]
        if "all" not in words and "every" not in words:
            return plan
        k = max(placed) + 1
        while k < len(plan.tokens) and plan.tokens[k].word in {"of", "all", "every", "the"}:
            placed.add(k)
            k += 1
        if k < len(plan.tokens) and any(t.kind == "entity" and t.table == chosen.table
                                        for m in plan.mentions if m.first == k
                                        for t in m.targets):
            placed |= {i for m in plan.mentions if m.first == k
                       for i in range(m.first, m.last)}
    plan.filters.append(Cond(chosen, "vs_avg", (">" if found.group("up") else "<",
                                                 chosen.table)))
    plan.placed |= placed
    counted = re.search(r"\bhow many\b|\bnumber of\b|\bcount\b", plan.text)
    plan.measures = [m for m in plan.measures if m.col != chosen]
    if counted and not plan.measures:
        plan.measures = [Measure("count", table=chosen.table, words=chosen.table)]
    plan.dims = [d for d in plan.dims if not (d.kind == "column" and
                                              d.column == chosen.column and
                                              d.table == chosen.table)]
    plan = listing_rows(plan, lex)
    if not plan.listing and not plan.measures:
        plan.dims = [Dim("entity", chosen.table)]
        plan.listing = True
        plan.rows = True
    elif not plan.listing and re.search(r"^\s*(?:which|what|who|list|show|display|give|"
                                        r"find|select)\b", plan.text) and not re.search(
                                            r"\bhow many\b|\bnumber of\b|\bcount\b",
                                            plan.text):
        plan.measures = []
        plan.dims = [Dim("entity", chosen.table)]
        plan.listing = True
        plan.rows = True
    return plan


_MATCH_GLUE = {"that", "which", "whose", "is", "are", "with", "has", "have", "a", "an", "the",
               "in", "their", "its", "his", "her", "does", "do"}


def text_patterns(plan: Plan, lex: Lexicon) -> Plan:
    """'whose name ends with 'sson'' -> name LIKE '%sson'; 'a last name that ends with the
    letter n'; 'with the word 'Tennis' in their name' -> name LIKE '%Tennis%'."""
    subject = _subject(plan)
    done = False
    for i, token in enumerate(plan.tokens):
        if token.marker != "match" or subject is None:
            continue
        kind, literal = token.value  # type: ignore[misc]
        mention = _text_column_near(plan, lex, i)
        if mention is None:
            return plan  # the gate declines the unplaced pattern
        col, m = mention
        pattern = {"end": f"%{literal}", "start": f"{literal}%"}.get(kind, f"%{literal}%")
        plan.filters.append(Cond(col, "like", pattern))
        plan.placed |= set(range(m.first, m.last)) | {
            k for k in range(min(i, m.first), max(i, m.last)) if not plan.tokens[k].marker and
            plan.tokens[k].word in _MATCH_GLUE}
        plan.dims = [d for d in plan.dims if not (d.column == col.column and
                                                  d.table == col.table and
                                                  d.words.split()[:1] == [
                                                      plan.tokens[m.first].word])]
        done = True
    return _consume(plan, subject) if done and subject else plan


def _text_column_near(plan: Plan, lex: Lexicon, at: int) -> tuple[ColRef, Mention] | None:
    """The text column a pattern is about: named just before it ('name that ends with'),
    or right after it ('... in their name')."""
    for m in sorted(plan.mentions, key=lambda m: -m.first):
        if m.last <= at and all(t.word in _MATCH_GLUE for t in plan.tokens[m.last:at]):
            return _text_column(plan, lex, m)
        if m.first > at and all(t.word in _MATCH_GLUE for t in plan.tokens[at + 1:m.first]):
            found = _text_column(plan, lex, m)
            if found is not None:
                return found
    return None


def _text_column(plan: Plan, lex: Lexicon, m: Mention) -> tuple[ColRef, Mention] | None:
    targets = [t for t in m.targets if t.kind == "column"]
    typed = " ".join(t.word for t in plan.tokens[m.first:m.last])
    col = _pick_column(targets, plan, lex, typed=typed) if targets else None
    if col is None:
        entity = next((t.table for t in m.targets if t.kind == "entity"), None)
        labels = lex.label_columns(entity) if entity else []
        col = ColRef(entity, labels[0].name) if entity and len(labels) == 1 else None
    if col is None or not lex.column(col).is_text:
        return None
    return col, m


def _key_named(plan: Plan, lex: Lexicon, m: Mention) -> ColRef | None:
    """'employee number', 'member id': the key of the table named right before it."""
    if m.last >= len(plan.tokens) or plan.tokens[m.last].word not in {
            "number", "numbers", "id", "ids", "key", "code", "codes", "no"}:
        return None
    tables = {t.table for t in m.targets if t.kind == "entity"}
    if len(tables) != 1:
        return None
    keys = lex.tables[next(iter(tables))].primary_key
    if len(keys) != 1:
        return None
    plan.placed.add(m.last)
    return ColRef(next(iter(tables)), keys[0].name)


def _open_text(plan: Plan) -> str:
    """The question with the words a rule already placed blanked out."""
    chars = list(plan.text)
    for i in plan.placed:
        t = plan.tokens[i]
        chars[t.start:t.end] = " " * (t.end - t.start)
    return "".join(chars)


def listing_rows(plan: Plan, lex: Lexicon) -> Plan:
    """'Display the last name and salary of employees who earn more than 15000': the
    named columns of each matching row (not a count, not a total)."""
    text = plan.text
    if not _LIST_VERB.search(text) or _AGGREGATE.search(_open_text(plan)) or plan.grain:
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
        if col is None:
            col = _key_named(plan, lex, m)
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


def list_the_counted_rows(plan: Plan, lex: Lexicon) -> Plan:
    """'List the countries where Spanish is an official language': no aggregate word, so
    the rows themselves, not a count of them grouped by the value that filters them."""
    if plan.listing or not plan.measures or plan.grain or plan.top or \
            not re.match(r"\s*(?:please\s+)?(?:list|show|display|which|what are|give me|"
                         r"name|find)\b", plan.text) or _AGGREGATE.search(_open_text(plan)):
        return plan
    tables = {m.table or (m.col.table if m.col else None) for m in plan.measures}
    if len(tables) != 1 or any(m.kind not in {"count", "count_distinct"}
                               for m in plan.measures):
        return plan
    table = next(iter(tables))
    named = any(t.kind == "entity" and t.table == table for m in plan.mentions
                for t in m.targets)
    filtered = {(f.col.table, f.col.column) for f in plan.filters if f.op in {"=", "in"}}
    if not named or any(d.kind != "column" or (d.table, d.column) not in filtered
                        for d in plan.dims) or table is None:
        return plan  # a group the question asks for: not a listing of rows
    plan.measures = []
    plan.dims = [Dim("entity", table)]
    plan.listing = True
    plan.rows = False
    return plan


def measure_of_the_named_row(plan: Plan, lex: Lexicon) -> Plan:
    """'What is the population of Brazil?': the population of the country named, not the
    total over its cities, when the table holding the value has the column too and the
    other table is not named."""
    named = {t.table for m in plan.mentions for t in m.targets if t.kind == "entity"}
    for k, m in enumerate(plan.measures):
        if m.col is None or m.kind not in {"sum", "avg", "min", "max"}:
            continue
        tables = {f.col.table for f in plan.filters if f.op == "=" and
                  isinstance(f.value, str)} - {m.col.table}
        if len(tables) != 1 or m.col.table in named:
            continue
        table = next(iter(tables))
        if any(c.name == m.col.column for c in lex.tables[table].columns):
            plan.measures[k] = Measure(m.kind, table=None, col=ColRef(table, m.col.column),
                                       words=m.words)
    return plan


RULES: list[Rule] = [text_patterns, listing_rows, compare_with_average, null_tests, present_values,
                     values_listed_are_groups, share_of_all, year_columns, grouped_sort,
                     list_the_counted_rows, measure_of_the_named_row]


def apply(plan: Plan, lex: Lexicon) -> Plan:
    for rule in RULES:
        plan = rule(plan, lex)
    return plan
