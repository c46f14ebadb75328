"""Rules about empty and filled-in values, and the helpers the plan rules share.

'no director listed' / 'a missing age' -> IS NULL; 'departments with no employees' -> an
anti-join; 'employees who earn a commission' -> IS NOT NULL (a share of rows when a
percentage is asked). `_consume` turns what a rule placed into the rows counted or listed.
"""

from __future__ import annotations

import re

from dashboard import text as textlib
from dashboard.generators.lexicon import ColRef, Cond, Lexicon
from dashboard.generators.reading import Dim, Measure, Plan

_AGGREGATE = re.compile(
    r"\b(?:how many|how much|count|counts|number of|numbers of|total|totals|sum|average|"
    r"averages|avg|mean|median|max|maximum|min|minimum|most|least|fewest|highest|lowest|"
    r"largest|smallest|biggest|percentage|percent|share|proportion|ratio|rate|top|bottom|"
    r"per|grouped|breakdown|distribution|trend)\b")

_NEGATION = re.compile(r"^(?:no|not|without|never|none|neither|nor|missing|unknown|empty|"
                       r"\w+n't|cannot)$")
_LINKING = {"have", "has", "had", "a", "an", "any", "the", "been", "made", "make", "got",
            "get", "yet", "recorded", "assigned", "given", "entered", "known", "listed", "set",
            "to", "their", "its", "his", "her", "do", "does", "did", "is", "are", "was",
            "were", "be", "in", "of", "with", "for"}


_HAVE = {"have", "has", "had", "assigned", "recorded", "given", "listed", "set", "entered",
         "known", "yet"}
# Negations that name an empty value on their own ("a missing age", "no manager").
_EMPTY_WORDS = {"no", "without", "never", "neither", "nor", "missing", "unknown", "empty"}


def null_tests(plan: Plan, lex: Lexicon) -> Plan:
    """'employees who do not have a manager' -> manager_id IS NULL; 'departments with no
    employees' -> no employees row refers to the department (an anti-join); 'a missing
    age', 'no year of independence recorded', 'neither a director nor a cast listed'."""
    if any(f.op in {"<>", "notin", "isnull", "notin_select"} for f in plan.filters):
        return plan
    subject = _subject(plan)
    if subject is None:
        return plan
    found = False
    for i, token in enumerate(plan.tokens):
        if token.marker or not _NEGATION.match(token.word) or i in plan.placed:
            continue
        j = i + 1
        while j < len(plan.tokens) and not plan.tokens[j].marker and \
                plan.tokens[j].word in _LINKING:
            j += 1
        if j >= len(plan.tokens) or plan.tokens[j].marker:
            return plan
        word = plan.tokens[j]
        linked = {t.word for t in plan.tokens[i + 1:j]}
        if token.word not in _EMPTY_WORDS and not linked & _HAVE:
            return plan  # "did not survive": a verb, not a missing value
        named = _nullable_column(lex, subject, word.stem)
        last = j
        if named is None:
            named, last = _nullable_phrase(plan, lex, subject, j)
        if named is not None:
            plan.filters.append(Cond(named, "isnull", _blank(lex, named)))
            last = max([last] + [m.last - 1 for m in plan.mentions if m.first <= last < m.last])
            while last + 1 < len(plan.tokens) and plan.tokens[last + 1].word in _HAVE:
                last += 1  # "no director listed": the verb says the value is absent
            plan.placed.update(range(i, last + 1))
            _place_referenced(plan, lex, named, last + 1)
            found = True
            if token.word == "neither":
                continue  # "... nor a cast listed": the second empty column follows
            break
        if found:
            return plan  # "neither X nor <something unplaced>": the gate declines it
        for edge in lex.edges:
            child = edge.child.split(".")[-1]
            names = {textlib.stem(child), textlib.stem(textlib.singular(child))}
            if edge.parent == subject and edge.child != subject and word.stem in names:
                plan.filters.append(Cond(ColRef(subject, edge.parent_column), "notin_select",
                                         (edge.child, edge.column)))
                plan.placed.update(range(i, j + 1))
                return _consume(plan, subject)
        return plan
    return _consume(plan, subject) if found else plan


_HAVE_VERBS = {"have", "has", "had", "with", "earn", "earns", "earned", "get", "gets", "got",
               "receive", "receives", "received"}
_PRESENT = re.compile(r"\b(?:percentage|percent|share|proportion|fraction)\b")


def present_values(plan: Plan, lex: Lexicon) -> Plan:
    """'employees who earn a commission' -> commission_pct IS NOT NULL: a verb of having
    and a nullable column named by its first word, with nothing after it that says more
    (a threshold, a value); 'what percentage of employees earn a commission' -> the share
    of rows where it is filled in."""
    if plan.filters or any(_NEGATION.match(t.word) for t in plan.tokens if not t.marker):
        return plan
    subject = _subject(plan)
    if subject is None:
        return plan
    for i, token in enumerate(plan.tokens[:-1]):
        if token.marker or token.word not in _HAVE_VERBS:
            continue
        j = i + 1
        while j < len(plan.tokens) and plan.tokens[j].word in {"a", "an", "any", "some"}:
            j += 1
        if j >= len(plan.tokens) or (j == i + 1 and token.word == "with"):
            continue
        word = plan.tokens[j]
        column = _nullable_column(lex, subject, word.stem) or _nullable_column(
            lex, subject, textlib.stem(textlib.singular(word.word)))
        if column is None:
            continue
        mention = next((m for m in plan.mentions if m.first == j), None)
        end = mention.last if mention is not None else j + 1
        while end < len(plan.tokens) and plan.tokens[end].word in _HAVE:
            end += 1
        if end < len(plan.tokens) and plan.tokens[end].word not in {
                "?", "sorted", "ordered", "and", "then"} and (
                plan.tokens[end].marker or not re.match(r"[,.;?]", plan.text[
                    plan.tokens[end - 1].end:plan.tokens[end].start].strip() or "x")):
            continue  # "have a salary above 10000": more is said about the column
        cond = Cond(column, "notnull", _blank(lex, column))
        plan.placed.update(range(i, end))
        for m in plan.mentions:  # "employees earn": the verb read with the subject
            if m.first <= i < m.last:
                plan.placed.update(range(m.first, m.last))
        if _PRESENT.search(plan.text):
            plan.measures = [Measure("count", table=subject, rate=(cond,), words=subject)]
            plan.dims = []
            plan.listing = False
            return plan
        plan.filters.append(cond)
        return _consume(plan, subject)
    return plan


def _blank(lex: Lexicon, col: ColRef) -> str | None:
    """'text': an empty string counts as no value too ('no head of state' where the data
    holds both NULL and '')."""
    return "text" if lex.column(col).is_text else None


def _subject(plan: Plan) -> str | None:
    """The rows the question is about: its first table named, else the one table all its
    columns belong to ('how many titles have no director' over one table)."""
    entity = next((t.table for m in plan.mentions for t in m.targets
                   if t.kind == "entity"), None)
    if entity is not None:
        return entity
    tables = {t.table for m in plan.mentions for t in m.targets if t.kind == "column"}
    return next(iter(tables)) if len(tables) == 1 else None


def _nullable_phrase(plan: Plan, lex: Lexicon, table: str, start: int
                     ) -> tuple[ColRef | None, int]:
    """'no year of independence recorded' -> indep_year: the one nullable column whose
    every name word is a word (or the start of a word) of the next few words."""
    window: list[tuple[int, str]] = []
    k = start
    while k < len(plan.tokens) and len(window) < 4 and not plan.tokens[k].marker:
        if plan.tokens[k].word not in {"of", "the", "a", "an"}:
            window.append((k, plan.tokens[k].stem))
        k += 1
    found: list[tuple[ColRef, int]] = []
    for column in lex.tables[table].columns:
        if not column.nullable or column.primary_key or column.type == "boolean":
            continue
        words = [textlib.stem(w) for w in re.split(r"[_\W]+", column.name.lower()) if w]
        if len(words) < 2:
            continue
        hits = [next((k for k, s in window if s == w or (len(w) >= 4 and s.startswith(w))),
                     None) for w in words]
        if all(h is not None for h in hits) and window and window[0][0] in hits:
            found.append((ColRef(table, column.name), max(h for h in hits if h is not None)))
    if len(found) != 1:
        return None, start
    return found[0]


def _consume(plan: Plan, subject: str) -> Plan:
    """Words a rule placed are no longer measures, groups or tables of the plan; what is
    left counts or lists the subject ('how many departments ...' / 'which employees')."""
    placed = {plan.tokens[i].word for i in plan.placed}
    values = {(t.table, t.column, str(t.value).lower()) for m in plan.mentions
              if set(range(m.first, m.last)) <= plan.placed for t in m.targets
              if t.kind == "value"}
    plan.filters = [f for f in plan.filters if not any(
        (f.col.table, f.col.column, str(v).lower()) in values for v in (
            f.value if isinstance(f.value, list | tuple) else [f.value]))]
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
    exact = [c for c in found if textlib.stem(c.column.lower()) == stem]
    if len(found) > 1 and len(exact) == 1:
        return exact[0]  # "a missing age": age, not age_wiki
    return found[0] if len(found) == 1 else None


def _place_referenced(plan: Plan, lex: Lexicon, column: ColRef, start: int) -> None:
    """'a capital city': the table the key column refers to, named right after it."""
    parents = {e.parent for e in lex.edges if e.child == column.table and
               e.column == column.column}
    for m in plan.mentions:
        if m.first == start and any(t.kind == "entity" and t.table in parents
                                    for t in m.targets):
            plan.placed.update(range(m.first, m.last))
