"""Prompt -> Plan: what the analyst asked for, in terms of the selected tables.

The planner reads the prompt once, left to right: time words, chart words, top-N and
comparisons are found first (timeparse); the remaining words are matched against the
schema's vocabulary (lexicon) and each match gets a role from the words in front of it
("by" region -> a dimension, "number of" orders -> a count, 'Europe' -> a filter). It
never guesses past a word it cannot place in a slot that matters: that raises
GenerationFailed naming the word.
"""

from __future__ import annotations

import re
from dataclasses import replace

from dashboard.errors import GenerationFailed
from dashboard.generators import shapes
from dashboard.generators.lexicon import ColRef, Cond, Lexicon, Target
from dashboard.generators.reading import (
    _AVG_CUES,
    _COUNT_CUES,
    _DIM_CUES,
    _DISTINCT_CUES,
    _FILLER,
    _INCLUDE_CUES,
    _MAX_CUES,
    _MEDIAN_CUES,
    _MIN_CUES,
    _NEG_CUES,
    _SHARE_CUES,
    _SUM_CUES,
    _SUPER_ASC,
    _SUPER_DESC,
    Dim,
    Measure,
    Mention,
    Plan,
    Token,
    _display,
    _expand_abbreviations,
    _has,
    _last_cue,
    _merge_qualified,
    _words_between,
    find_mentions,
    tokenize,
)
from dashboard.generators.roles import (
    _add_having,
    _comparison,
    _dim_for,
    _finish_measures,
    _flag_value,
    _make_per_entity,
    _measure_for,
    _pick_column,
    _pick_value,
    _resolve_values,
    _value_of_column_near,
)


def parse(question: str, lex: Lexicon, *, partial: bool = False) -> Plan:
    """Read `question` into a Plan over the lexicon's tables.

    `partial` reads a follow-up ("only Europe"): parts may be missing.
    """
    typed = _expand_abbreviations(question.replace("’", "'").replace("‘", "'"), lex)
    text = typed.lower()
    if len(text) != len(typed):  # rare letters change length when lowered
        typed = text
    # best-selling, non-cancelled, year-over-year (dates such as 2024-03-01 stay whole)
    text = re.sub(r"([a-z])-(?=[a-z])", r"\1 ", text)
    tokens = tokenize(text, typed)
    mentions = _merge_qualified(tokens, find_mentions(tokens, lex), lex)
    plan = Plan(question=question, text=text, tokens=tokens, mentions=mentions)
    for t in tokens:
        if t.marker == "period":
            plan.periods.append(t.value)  # type: ignore[arg-type]
        elif t.marker == "chart":
            plan.chart = t.value  # type: ignore[assignment]
        elif t.marker == "grain":
            if isinstance(t.value, tuple):
                plan.growth = True
                plan.grain = plan.grain or t.value[1]
            elif t.value == "trend":
                plan.grain = plan.grain or "month"
            else:
                plan.grain = t.value  # type: ignore[assignment]
        elif t.marker == "top":
            plan.top, plan.descending = t.value  # type: ignore[misc]
    if re.search(r"\b(day|days) of (the )?week\b|\bweekday|\bhour of (the )?day\b|"
                 r"\bby hour\b|\bhourly\b|\bmonth of (the )?year\b", text):
        raise GenerationFailed(
            "I can group by calendar periods (day, week, month, quarter, year) but not by "
            "day of week or hour yet; ask per day or per week instead.")
    if re.search(r"\b(cumulative|running total|running sum|to date by)\b", text):
        plan.cumulative = True
        plan.grain = plan.grain or "month"
    if re.search(r"\bgrowth\b|\bgrew\b|\bgrow\b|\bchange\b", text) and (
            plan.grain or plan.growth):
        plan.growth = True
    ranked = re.search(r"\b(?P<s>which|what|best|worst|top|busiest|slowest|peak|strongest|"
                       r"weakest|highest|lowest)\s+(?P<g>day|date|week|month|quarter|year)\b",
                       text)
    if ranked and not plan.grain:
        # "which month had the highest revenue": rank the time buckets.
        plan.grain = {"date": "day"}.get(ranked.group("g"), ranked.group("g"))
        plan.top = plan.top or 1
        plan.descending = not re.search(
            r"\b(worst|slowest|lowest|least|fewest|weakest|smallest|bottom)\b", text)
    listed = re.search(r"\b(?:by|per)\b[^.?;]*?\band\s+(?:by\s+|per\s+)?(?P<g>day|week|"
                       r"month|quarter|year)\b", text)
    if listed and not plan.grain:
        plan.grain = listed.group("g")  # "revenue by segment and year"
    years = {p.label for p in plan.periods if re.fullmatch(r"\d{4}", p.label)}
    if len(years) > 1 and not plan.grain and re.search(
            r"\b(compare|compared|comparing|comparison|vs|versus|against|each)\b", text):
        plan.grain = "year"  # "compare 2024 and 2025": one row per year
    shaped = None if partial else shapes.read(plan, lex)
    if shaped is not None:
        return shaped
    _assign_roles(plan, tokens, mentions, lex, text, partial)
    return plan


def _assign_roles(plan: Plan, tokens: list[Token], mentions: list[Mention], lex: Lexicon,
                  text: str, partial: bool) -> None:
    values: list[tuple[Target, bool, bool]] = []  # (value, negated, including)
    which_dims: list[Dim] = []
    super_dims: list[Dim] = []
    bare_numeric: list[ColRef] = []
    loose_dims: list[Dim] = []  # descriptive columns named without "by" ("list categories")
    share = False
    superlative: bool | None = None  # True: highest first
    boundary = 0
    words_all = [t.word for t in tokens if not t.marker]
    if _has(words_all, _SUPER_DESC) and plan.top is None:
        superlative = True
    if _has(words_all, _SUPER_ASC) and plan.top is None:
        superlative = False
    if re.search(r"\bmost expensive\b|\bpriciest\b|\bbest sell|\btop sell|\bmost sold\b|"
                 r"\bsold the most\b", text) and plan.top is None:
        superlative = True

    previous_dims = 0
    used_compares: set[int] = set()
    pending_having: list[tuple[str, Token]] = []
    for index, m in enumerate(mentions):
        previous_role = "dim" if len(plan.dims) > previous_dims else "other"
        previous_dims = len(plan.dims)
        before = _words_between(tokens, boundary, m.first)
        marker_before = next((t for t in reversed(tokens[boundary:m.first]) if t.marker), None)
        boundary_before = boundary
        boundary = m.last
        after = tokens[m.last] if m.last < len(tokens) else None
        kinds = m.kinds()
        words = _display(tokens, m)
        cue = _last_cue(before)
        after_marker = [] if marker_before is None else [
            t.word for t in tokens[tokens.index(marker_before) + 1:m.first]
            if not t.marker and t.word not in {"the", "a", "an"}]
        entity = next((t for t in m.targets if t.kind == "entity"), None)
        column = next((t for t in m.targets if t.kind == "column"), None)
        metric = next((t for t in m.targets if t.kind == "metric"), None)
        if kinds == {"value"}:
            negated = _has(before[-3:], _NEG_CUES)
            including = _has(before[-3:], _INCLUDE_CUES)
            for target in m.targets:
                values.append((target, negated, including))
                break  # the first column holding the value; others resolved below
            if len(m.targets) > 1:
                stems = {t.stem for t in tokens if not t.marker}
                values[-1] = (_pick_value(m.targets, mentions, index, stems), negated,
                              including)
            continue
        following = next((t for t in tokens[m.last:] if t.marker or t.word not in {
            "of", "is", "was", "are", "were", "at", "a", "an", "be", "being", "been"}), None)
        if following is not None and following.marker == "compare" and "column" in kinds:
            after = following
            col = _pick_column(m.targets, plan, lex, numeric=True)
            if col is not None and lex.column(col).is_numeric:
                plan.filters.append(_comparison(col, after.value, lex))
                used_compares.add(id(after))
                continue
        if marker_before is not None and marker_before.marker == "compare" and \
                id(marker_before) not in used_compares and not after_marker:
            # "more than 3 units": the column comes after the number.
            col = _pick_column(m.targets, plan, lex, numeric=True) if column else None
            if col is not None and lex.column(col).is_numeric:
                plan.filters.append(_comparison(col, marker_before.value, lex))
                used_compares.add(id(marker_before))
                continue
            if entity is not None and column is None:
                pending_having.append((entity.table, marker_before))
                used_compares.add(id(marker_before))
                continue
        if entity is not None and metric is None and after is not None and after.word in {
                "value", "values", "size", "sizes", "amount", "amounts", "worth"} and \
                "revenue" in lex.metrics and entity.table not in lex.metrics[
                    "revenue"].tables:
            if cue in {"median", "max", "min"}:
                raise GenerationFailed(
                    f"I can average {words} value but not take its {cue} yet; try "
                    f"'average {words} value'.")
            plan.measures.append(Measure("per_entity", metric="revenue", per=entity.table,
                                         words=f"{words} value"))
            boundary = m.last + 1
            continue  # "average order value" without a definition in comments
        if "metric" in kinds and cue == "dim" and before and before[-1] == "per" and \
                plan.measures:
            cue = None
        if _has(before, _SHARE_CUES):
            share = True
            before = [w for w in before if w not in _SHARE_CUES]
            cue = _last_cue(before)
        if cue is None and before in (["and"], ["or"], []) and plan.dims and \
                previous_role == "dim" and metric is None:
            cue = "dim"  # "by channel and status"

        if entity is not None and column is None and metric is None and after is not None \
                and after.word in {"count", "counts", "volume", "volumes", "numbers"}:
            plan.measures.append(Measure("count", table=entity.table, words=words))
            boundary = m.last + 1
            continue  # "by order count"
        if cue == "dim" and metric is None and column is not None and entity is None and \
                (plan.top is not None or superlative is not None or plan.dims or which_dims):
            col = _pick_column(m.targets, plan, lex, numeric=True)
            if col is not None and lex.column(col).is_numeric and not \
                    lex.column(col).primary_key:
                plan.measures.append(Measure("sum", col=col, words=words))  # top 5 by quantity
                continue
        if cue == "dim" and metric is None:
            last_dim_word = next((w for w in reversed(before) if w in _DIM_CUES), None)
            if last_dim_word == "per" and plan.measures and plan.measures[-1].kind in {
                    "avg", "metric", "count", "sum"} and entity is not None and \
                    _has(words_all, _AVG_CUES) and not plan.dims:
                _make_per_entity(plan, entity.table, lex)
                continue
            dim = _dim_for(m, plan, lex, words)
            if dim is not None:
                plan.dims.append(dim)
            continue
        if marker_before is not None and marker_before.marker == "top" and not after_marker:
            dim = _dim_for(m, plan, lex, words)
            if dim is not None and metric is None:
                plan.dims.append(dim)
                continue
        if before and before[-1] in {"which", "what"} and metric is None:
            dim = _dim_for(m, plan, lex, words)
            if dim is not None:
                which_dims.append(dim)
                continue
        if superlative is not None and before and before[-1] in (
                _SUPER_DESC | _SUPER_ASC | {"expensive", "popular"}) and entity is not None \
                and metric is None and cue is None:
            if which_dims or plan.dims:
                # "which country has the most customers": count them.
                plan.measures.append(Measure("count", table=entity.table, words=words))
            else:
                super_dims.append(Dim("entity", entity.table, None, words))
            continue
        if _has(before, _AVG_CUES) and any(t.marker == "grain"
                                           for t in tokens[boundary_before:m.first]):
            # "average daily revenue": the mean of the daily totals.
            plan.nested_avg = True
            if cue == "avg":
                cue = None if metric is not None else "count" if entity is not None else "sum"
        if cue in {"count", "distinct", "sum", "avg", "max", "min", "median"}:
            measure = _measure_for(cue, m, plan, lex, before, words)
            if measure is not None:
                plan.measures.append(measure)
                continue
        if metric is not None:
            if _has(before[-3:], _AVG_CUES) and plan.grain and any(
                    t.marker == "grain" for t in tokens[max(0, m.first - 2):m.first]):
                plan.nested_avg = True
            plan.measures.append(Measure("metric", metric=metric.metric, words=words))
            continue
        if entity is not None and column is None:
            if after is not None and after.word in {"count", "counts", "number", "numbers"}:
                plan.measures.append(Measure("count", table=entity.table, words=words))
                continue
            plan.hints.append(entity.table)
            continue
        if column is not None:
            col = _pick_column(m.targets, plan, lex, typed=words)
            if col is None:
                continue
            c = lex.column(col)
            flag = _flag_value(c)
            if flag is not None and cue is None:
                # "discontinued products": a yes/no column is a filter.
                negated = _has(before[-2:], _NEG_CUES)
                plan.filters.append(Cond(col, "=", flag[1] if negated else flag[0]))
            elif c.is_time:
                plan.time_col = col
            elif _value_of_column_near(mentions, index, col):
                continue  # "the web channel": the value already says it
            elif c.is_numeric and not c.primary_key:
                bare_numeric.append(col)
            elif entity is not None:
                plan.hints.append(entity.table)
            elif c.is_text and metric is None:
                loose_dims.append(Dim("column", col.table, col.column, words))

    if loose_dims and not plan.dims and not which_dims:
        plan.dims = loose_dims
    if re.search(r"\b(compare|compared|comparing|comparison|vs|versus|against)\b", text):
        # "compare web and mobile": one row per compared value.
        for (target, negated, _including) in values:
            col = ColRef(target.table, target.column)
            several = sum(1 for t, n, _ in values if (t.table, t.column) == (
                col.table, col.column) and not n) > 1
            if several and not negated and not any(
                    d.table == col.table and d.column == col.column for d in plan.dims):
                plan.dims.append(Dim("column", col.table, col.column, col.column))
    for t in tokens:
        if t.marker == "compare" and id(t) not in used_compares:
            raise GenerationFailed(
                f"I could not tell what '{t.word.strip()}' refers to; name the column, for "
                "example 'unit price over 100'.")
    _resolve_values(plan, values, lex, share)
    if not partial or plan.measures or share:
        _finish_measures(plan, lex, bare_numeric, share, text)
    for child_entity, marker in pending_having:
        _add_having(plan, lex, child_entity, marker)
    for m in plan.measures:
        if m.kind == "count" and m.inner == "avg":
            raise GenerationFailed(
                f"I could not tell what to average about {m.words}; name a column, or say "
                f"'average ... per {m.words}'.")
    if which_dims:
        if plan.measures and (superlative is not None or plan.top):
            plan.dims = which_dims + plan.dims
            if plan.top is None:
                plan.top, plan.descending = 1, bool(superlative)
        elif not plan.measures:
            plan.dims = which_dims + plan.dims
            plan.listing = True
        else:
            plan.dims = which_dims + plan.dims
    if super_dims and not plan.dims:
        plan.dims = super_dims
        if plan.top is None:
            plan.top, plan.descending = 1, bool(superlative)
    if plan.top is not None and not plan.dims:
        entity = next((h for h in plan.hints), None)
        if entity is not None:
            plan.dims.append(Dim("entity", entity))
            plan.hints.remove(entity)
    if plan.top is None and superlative is not None and plan.dims and plan.measures \
            and not plan.grain:
        plan.top, plan.descending = 1, superlative
    _check_unplaced(plan, tokens, mentions, lex, partial)


_NOT_NAMES = {"i", "what", "which", "how", "show", "list", "give", "top", "total", "sql",
              "return", "sort", "display", "find", "select", "output", "retrieve", "ids",
              "id", "order", "name", "names", "count", "who", "where", "when", "get",
              "please", "and", "or", "the", "us", "usd", "eur", "ytd", "mtd", "qtd", "kpi"}

_SLOT_WORDS = _DIM_CUES | _COUNT_CUES | _SUM_CUES | _AVG_CUES | _MAX_CUES | _MIN_CUES | \
    _DISTINCT_CUES | _MEDIAN_CUES | {"which", "of"}
_SKIP_IN_SLOT = {"the", "a", "an", "each", "every", "our", "all", "their", "its", "of",
                 "total", "number", "distinct", "unique", "different", "many", "much", "how",
                 "per", "by", "overall", "average", "mean", "count", "sum", "what", "which",
                 "individual", "separate", "single", "combined"}


def _check_unplaced(plan: Plan, tokens: list[Token], mentions: list[Mention],
                    lex: Lexicon, partial: bool) -> None:
    """Decline when a word sits where a measure, dimension or value must go and means
    nothing in this schema: better no answer than one that ignores part of the question."""
    covered = set()
    for m in mentions:
        covered.update(range(m.first, m.last))
    unknown: list[str] = []
    # "added to Netflix" over netflix_shows: the catalogue's own name, not a value in it.
    table_words = {w for name in lex.tables for w in re.split(r"[_\W]+", name.lower())
                   if len(w) > 3} - {"public"}
    first_word = next((i for i, t in enumerate(tokens) if not t.marker), 0)
    for i, t in enumerate(tokens):
        if t.marker or i in covered:
            continue
        if t.word in _FILLER or t.word.isdigit() or len(t.word) < 3 or t.word in table_words:
            continue
        unknown.append(t.word)
        sentence_start = re.search(r"[.?!;:]\s*$", plan.text[:t.start]) is not None
        if t.capitalized and i > first_word and t.word not in _NOT_NAMES and \
                not sentence_start:
            raise GenerationFailed(
                f"I could not find '{t.word.capitalize()}' among the values of the selected "
                "tables, so I did not guess where it belongs. Check the spelling, or name "
                "the column it is in.")
        prev = [tokens[j] for j in range(i - 1, max(-1, i - 4), -1)]
        slot = None
        for p in prev:
            if p.marker == "top":
                slot = "top"
                break
            if p.marker or (tokens.index(p) in covered):
                break
            if p.word in _SLOT_WORDS:
                slot = p.word
                break
            if p.word not in _SKIP_IN_SLOT:
                break
        if slot is None or (slot == "of" and not any(
                p.word in {"number", "count", "sum", "average", "total", "share",
                           "percentage", "proportion"} for p in prev)):
            continue
        kind = "column" if slot in _DIM_CUES | {"which", "top"} else "column or table"
        raise GenerationFailed(
            f"I could not find a {kind} for '{t.word}' in the selected tables, so I did "
            "not guess. Try the name of a column or table, or connect an LLM for freer "
            "questions."
        )
    if not plan.measures and not plan.listing and not partial and unknown:
        raise GenerationFailed(
            f"I could not find a column or table for '{unknown[0]}' in the selected tables, "
            "so I did not guess. Try the name of a column or table, or connect an LLM for "
            "freer questions.")
    if not plan.measures and not plan.listing and not partial:
        raise GenerationFailed(
            "I could not tell what to count or add up in that question. Name a measure "
            "(for example a number of rows, or a total of a column) and, if you like, what "
            "to group it by."
        )


# --- follow-ups ------------------------------------------------------------------------


def plan_tables(plan: Plan) -> set[str]:
    tables = {d.table for d in plan.dims} | {f.col.table for f in plan.filters}
    tables |= {t for m in plan.measures for t in (m.table, m.per, m.col and m.col.table) if t}
    if plan.time_col is not None:
        tables.add(plan.time_col.table)
    return tables


def refine(base: Plan, follow_up: str, lex: Lexicon) -> Plan:
    """Apply a follow-up ("now by week", "only Europe", "top 5 instead") to a plan."""
    change = parse(follow_up, lex, partial=True)
    text = follow_up.lower()
    plan = replace(base, measures=list(base.measures), dims=list(base.dims),
                   filters=list(base.filters), periods=list(base.periods),
                   hints=list(base.hints), question=f"{base.question} / {follow_up}")
    if change.measures:
        plan.measures = change.measures
    if change.dims:
        adding = re.search(r"\b(also|too|as well|and by|add)\b", text)
        plan.dims = (plan.dims + change.dims) if adding else change.dims
    if change.filters:
        changed_cols = {f.col for f in change.filters}
        plan.filters = [f for f in plan.filters if f.col not in changed_cols] + change.filters
    for f in list(plan.filters):
        # "all regions" / "every channel": drop the filter on that column.
        plural = f.col.column.replace("_", " ")
        if re.search(rf"\b(all|every|any)\s+{re.escape(plural)}", text):
            plan.filters.remove(f)
    if change.periods:
        plan.periods = change.periods
    if re.search(r"\b(all time|whole period|all dates|all years|no date filter)\b", text):
        plan.periods = []
    if change.grain:
        plan.grain = change.grain
        plan.time_col = change.time_col or plan.time_col
    if change.growth:
        plan.growth = True
    if change.top is not None:
        plan.top, plan.descending = change.top, change.descending
    if change.chart:
        plan.chart = change.chart
    if re.search(r"\bno (?:limit|top)\b|\ball of them\b", text):
        plan.top = None
    return plan
