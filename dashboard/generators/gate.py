"""The precision gate: the offline planner's last check before it answers.

A wrong answer is far worse than a declined one, so the built query is checked against
the question by an ordered list of small named rules. Each rule reads the question's
tokens, the schema mentions found in it, the plan and the built SQL tree, and either
passes or raises GenerationFailed naming what it could not place:

- every content word is accounted for (a schema mention, a marker such as a period or a
  threshold, or a filler word); a stated constraint is never dropped;
- every schema mention is used by the query;
- a negation ("not", "never", "without") appears as a negated condition;
- every number typed is in the query (a threshold, a LIMIT, a value);
- a value read from the question is a whole phrase of it, not a function word ("in" is
  not the country code 'IN'), and a two-letter code only when typed in capitals;
- keys and ids are never summed or averaged;
- a threshold ("at least 3 ...") is never a LIMIT;
- a listing ("show the names of ...") is not answered with a count;
- a share or percentage is not a column's share of its own total (always 100);
- shapes the planner cannot build (comparisons between two rows or two columns, "same",
  "times") are declined;
- an order asked for ("sorted by facility id") is the order built;
- two plausible readings (a literal in two tables, two columns answering to one word) ask
  the analyst which one is meant (`clarify.py`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from dashboard import text as textlib
from dashboard.errors import GenerationFailed
from dashboard.generators.clarify import one_column_per_word, one_reading_of_each_value
from dashboard.generators.lexicon import Lexicon, Target
from dashboard.generators.reading import _FILLER, Mention, Plan, Token

# Filler words that carry a constraint: they must be placed by the plan, never ignored.
_MEANINGFUL = {
    "report", "reports", "reporting", "reported", "manage", "manages", "managed",
    "not", "no", "never", "without", "none", "nobody", "nothing", "neither", "nor",
    "except", "excluding", "exclude", "only", "first", "last", "same", "before", "after",
    "between", "than", "above", "below", "under", "over", "least", "most", "more", "less",
    "fewer", "again", "another", "other", "others", "both", "also", "new", "existing",
    "due", "times", "instead", "expensive", "cheap", "cheapest", "priciest", "popular",
    "still", "yet", "already", "since", "until", "exact", "exactly", "along", "alongside",
    "next", "side", "status", "channel", "each", "every", "per", "registered", "signed",
    "joined", "ordered", "different", "distinct", "unique", "combination", "combinations",
    "pair", "pairs", "rate", "ratio", "growth", "change", "changes", "increase",
    "decrease", "contribute", "contributes", "contributed", "contribution", "represent",
    "represents", "represented", "account", "accounts", "accounted",
}
# Words that are always safe to leave unplaced.
_SAFE = (set(_FILLER) - _MEANINGFUL) | {
    "the", "a", "an", "of", "and", "to", "for", "in", "on", "at", "by", "with", "from",
    "is", "are", "was", "were", "be", "been", "do", "does", "did", "what", "which", "who",
    "how", "many", "much", "me", "i", "you", "your", "can", "could", "would", "should",
    "will", "please", "there", "their", "they", "them", "it", "its", "this", "that",
    "these", "those", "as", "into", "any", "all", "some", "has", "have", "had", "if",
    "when", "where", "why", "so", "just", "very", "one", "ones", "get", "give", "show",
    "list", "find", "tell", "name", "names", "display", "output", "retrieve", "return",
    "produce", "select", "fetch", "see", "know", "want", "need", "like", "each",
    "every", "per", "our", "my", "we", "us", "total", "number", "count", "amount", "sum",
    "average", "mean", "avg", "overall", "altogether", "recorded", "stored", "known",
    "database", "table", "tables", "data", "dataset", "information", "info", "details",
    "detail", "sorted", "order", "ordered", "ascending", "descending", "alphabetically",
    "alphabetical", "highest", "lowest", "top", "bottom", "most", "least", "largest",
    "smallest", "biggest", "greatest", "fewest", "maximum", "minimum", "max", "min",
    "distinct", "unique", "different", "along", "together", "including", "include",
    "chart", "graph", "plot", "bar", "line", "pie", "rank", "ranked", "ranking", "first",
    # general verbs of record keeping: they add nothing to a query
    "exist", "exists", "existed", "generate", "generates", "generated", "place", "places",
    "issue", "issues", "issued", "create", "created", "happen", "happened", "occur",
    "occurred", "contain", "contains", "held", "hold", "holds", "belong", "belongs",
    "appear", "appears", "something", "anything", "everything", "someone", "anyone",
    "combined", "catalog", "catalogue", "entire", "whole", "currently", "kept", "listed",
    "available", "involved", "respective", "corresponding", "associated", "related",
    "respectively", "jointly", "counted", "column", "columns", "field", "work", "works",
    "worked", "working", "live",
    "lives", "lived", "living", "located", "based", "situated", "inhabitants", "handle",
    "handled", "handles", "process", "processed", "serve", "served", "took", "taken",
    "among", "amongst",
}
# Words that are fine when the plan does what they say.
_PLACED_BY = {
    "growth": "growth", "change": "growth", "changes": "growth", "increase": "growth",
    "decrease": "growth", "grew": "growth", "rate": "ratio", "ratio": "ratio",
    "expensive": "order", "cheap": "order", "cheapest": "order", "priciest": "order",
    "popular": "order", "most": "order", "least": "order", "first": "order",
    "last": "order", "each": "group", "every": "group", "per": "group",
    "different": "distinct", "distinct": "distinct", "unique": "distinct",
    "contribute": "ratio", "contributes": "ratio", "contributed": "ratio",
    "contribution": "ratio", "represent": "ratio", "represents": "ratio",
    "represented": "ratio", "account": "ratio", "accounts": "ratio", "accounted": "ratio",
    "cumulative": "cumulative", "running": "cumulative",
    **dict.fromkeys(("longest", "shortest", "oldest", "youngest", "newest", "latest",
                     "earliest", "heaviest", "lightest", "richest", "poorest", "tallest",
                     "busiest", "quietest", "slowest", "fastest", "strongest", "weakest",
                     "highest", "lowest"), "order"),
}

# Column names so common that the word in a question rarely means the column.
_NOT_COLUMN_WORDS = {"name", "names", "id", "year", "month", "day", "week", "quarter", "date",
                     "time", "type", "kind", "number", "count", "total", "value", "list",
                     "order", "rank", "code", "first", "last", "top", "rate"}
_NEGATIONS = {"not", "no", "never", "without", "none", "nobody", "nothing", "neither",
              "nor", "except", "excluding", "exclude", "excludes", "non", "lack", "lacking",
              "missing", "unknown", "empty"}
_NEG_CONTRACTION = re.compile(r"n't\b|\bcannot\b")
_AGG_WORDS = re.compile(
    r"\b(how many|how much|count|counts|number|numbers|total|totals|sum|average|averages|"
    r"avg|mean|median|max|maximum|min|minimum|most|least|fewest|highest|lowest|largest|"
    r"smallest|biggest|percentage|percent|share|proportion|ratio|rate|top|bottom|"
    r"overall|per|by|distribution|breakdown)\b")
_LIST_START = re.compile(
    r"^\s*(?:please\s+)?(?:list|show|display|give|output|retrieve|return|produce|select|"
    r"find|get|fetch|name|what are|which are)\b")
_UNSUPPORTED = [
    (re.compile(r"\b(?:same|each other|one another|another|themselves|their own|"
                r"both)\b"), "a comparison between rows"),
    (re.compile(r"\bthan\s+(?:the\s+|their\s+|its\s+|his\s+|her\s+|an?\s+)?(?:average|mean|"
                r"median|overall|total)\b"), "a comparison with an aggregate"),
    (re.compile(r"\bthan\s+(?:their|its|his|her|the)\b"), "a comparison between two columns"),
    (re.compile(r"\b(?:times|divided by|multiplied by|minus|plus)\b"), "arithmetic"),
]
_THRESHOLD_BEFORE = re.compile(
    r"(?:at least|at most|more than|less than|fewer than|greater than|over|under|above|"
    r"below|minimum of|maximum of|no more than|no less than|exceeding|exactly)\s*$")


@dataclass
class Checked:
    """What a rule reads: the question, its tokens and mentions, the plan and the SQL."""

    question: str
    text: str  # lower-case question, hyphens as spaces
    tokens: list[Token]
    mentions: list[Mention]
    plan: Plan
    lex: Lexicon
    query: exp.Expression

    def covered(self) -> set[int]:
        spans: set[int] = set(self.plan.placed)
        for m in self.mentions:
            spans.update(range(m.first, m.last))
        return spans

    def sql_columns(self) -> set[tuple[str, str]]:
        """(table, column) of every column the query reads, table as qualified name."""
        aliases: dict[str, str] = {}
        for table in self.query.find_all(exp.Table):
            qualified = ".".join(p for p in (table.args.get("db") and table.db, table.name)
                                 if p)
            aliases[table.alias_or_name] = qualified
            aliases[table.name] = qualified
        found = set()
        for column in self.query.find_all(exp.Column):
            found.add((aliases.get(column.table, column.table), column.name))
        return found

    def sql_tables(self) -> set[str]:
        return {".".join(p for p in (t.args.get("db") and t.db, t.name) if p)
                for t in self.query.find_all(exp.Table)}

    def shapes(self) -> set[str]:
        """What the query does, in the words of `_PLACED_BY`."""
        found = set()
        if self.plan.growth:
            found.add("growth")
        if self.plan.cumulative:
            found.add("cumulative")
        if any(m.share or m.rate or m.kind == "per_entity" for m in self.plan.measures) or \
                any(self.query.find_all(exp.Div)):
            found.add("ratio")
        if self.query.args.get("limit") or any(
                o.args.get("desc") or any(o.find_all(exp.AggFunc)) or
                str(o.this.name) in self._aggregate_aliases()
                for order in self.query.find_all(exp.Order) for o in order.expressions):
            found.add("order")  # a ranking, not the order a listing is shown in
        if any(self.query.find_all(exp.Group)) or any(m.kind == "per_entity"
                                                      for m in self.plan.measures):
            found.add("group")
        if any(self.query.find_all(exp.Distinct)):
            found.add("distinct")
        return found

    def _aggregate_aliases(self) -> set[str]:
        select = self.query if isinstance(self.query, exp.Select) else None
        if select is None:
            return set()
        return {e.alias for e in select.expressions
                if isinstance(e, exp.Alias) and any(e.find_all(exp.AggFunc))}

    def schema_stems(self) -> set[str]:
        """Stems of the names of the tables and columns the query reads ('booked' for
        bookings)."""
        names = {t.split(".")[-1] for t in self.sql_tables()}
        names |= {column for _, column in self.sql_columns()}
        words = [w for name in names for w in re.split(r"[_\W]+", name) if w]
        return {textlib.stem(w) for w in words} | {textlib.stem(textlib.singular(w))
                                                   for w in words}

    def literals(self) -> list[exp.Literal]:
        return list(self.query.find_all(exp.Literal))


Rule = Callable[[Checked], None]


def _fail(message: str) -> None:
    raise GenerationFailed(message)


def unsupported_shapes(c: Checked) -> None:
    """Row-to-row comparisons, comparisons with an aggregate, arithmetic: not built."""
    built = any(f.op == "vs_avg" for f in c.plan.filters)
    for pattern, what in _UNSUPPORTED:
        found = pattern.search(c.text)
        if found and built and any(c.tokens[i].start == found.start() for i in c.plan.placed):
            continue  # built by the compare_with_average rule
        if found:
            _fail(f"The question asks for {what} ('{found.group(0)}'), which the offline "
                  "planner cannot build yet, so I did not guess. Rephrase it more simply, "
                  "or connect an LLM.")


def words_accounted_for(c: Checked) -> None:
    """Every content word is part of a schema mention, a marker or a filler word."""
    covered = c.covered()
    column_names = {col.name.lower() for table in c.lex.tables.values()
                    for col in table.columns}
    for i, t in enumerate(c.tokens):
        if t.marker or i in covered or t.word.isdigit():
            continue
        word = t.word
        if word in column_names and word not in _NOT_COLUMN_WORDS:
            _fail(f"'{word}' names a column, but I could not use it in the query, so I did "
                  "not guess. Rephrase (for example 'total {word} of ...'), or connect an "
                  "LLM.")
        if word in _SAFE or word in _NEGATIONS or _NEG_CONTRACTION.search(word):
            continue  # negations are checked by their own rule
        if (word.endswith("'s") and word[:-2] in _SAFE) or (word.endswith("s") and
                                                               word[:-1] in _SAFE):
            continue
        if _PLACED_BY.get(word) in c.shapes() or textlib.stem(word) in c.schema_stems():
            continue
        if len(word) < 3 and word not in {"no"}:
            continue
        _fail(f"I could not place '{word}' in the query (no column, table or value of the "
              "selected tables matches it), so I did not guess. Try the name of a column "
              "or a value, or connect an LLM for freer questions.")


def mentions_used(c: Checked) -> None:
    """Every column, table or value the question names is read by the query."""
    for m in c.mentions:
        if set(range(m.first, m.last)) <= c.plan.placed:
            continue  # placed by a rule (the table a key column refers to, say)
        if not any(_target_used(c, target) for target in m.targets):
            words = " ".join(t.word for t in c.tokens[m.first:m.last])
            _fail(f"I found '{words}' in the schema but could not use it in the query, so I "
                  "did not answer without it. Rephrase, or connect an LLM.")


def _target_used(c: Checked, target: Target) -> bool:
    columns = c.sql_columns()
    tables = c.sql_tables()
    if target.kind == "entity":
        return target.table in tables or any(
            e.parent == target.table and (e.child, e.column) in columns for e in c.lex.edges)
    if target.kind == "column":
        names = {name for _, name in columns}
        if (target.table, target.column) in columns or (
                target.table not in tables and target.column in names):
            return True
        # "orders shipped to Germany": ship_country answers the word that named shipped_date
        words = {textlib.stem(w) for w in re.split(r"[_\W]+", target.column) if len(w) > 2}
        return any(words & {textlib.stem(w) for w in re.split(r"[_\W]+", name) if len(w) > 2}
                   for table, name in columns if table == target.table)
    if target.kind == "value":
        literals = {str(lit.this).lower() for lit in c.literals() if lit.is_string}
        return target.value.lower() in literals
    if target.kind == "metric":
        metric = c.lex.metrics.get(target.metric)
        return any(m.metric == target.metric for m in c.plan.measures) or (
            metric is not None and metric.tables <= tables)
    return False


def negation_placed(c: Checked) -> None:
    """'not', 'never', 'without' ... must become a negated condition or an empty test."""
    if not any(t.word in _NEGATIONS or _NEG_CONTRACTION.search(t.word)
               for t in c.tokens if not t.marker):
        return
    negated = any(c.query.find_all(exp.Not, exp.NEQ))
    if not negated:
        negated = any(isinstance(e.expression, exp.Null) for e in c.query.find_all(exp.Is))
    if not negated:
        negated = any(isinstance(e.expression, exp.Boolean) and not e.expression.this
                      for e in c.query.find_all(exp.EQ))
    if not negated:
        word = next(t.word for t in c.tokens if not t.marker and (
            t.word in _NEGATIONS or _NEG_CONTRACTION.search(t.word)))
        _fail(f"I could not place the negation '{word}' in the query, so I did not answer "
              "without it. Name the column that is empty or the value to exclude, or "
              "connect an LLM.")


def numbers_placed(c: Checked) -> None:
    """Every number typed (outside dates and periods) is in the query."""
    numbers = set()
    limit = c.query.args.get("limit")
    in_limit = {id(n) for n in limit.find_all(exp.Literal)} if limit is not None else set()
    for lit in c.literals():
        if id(lit) in in_limit:
            continue  # a LIMIT places a top-N, never a threshold
        if not lit.is_string:
            with contextlib.suppress(ValueError):
                numbers.add(float(lit.this))
        else:
            numbers.update(float(n) for n in re.findall(r"\d+(?:\.\d+)?", lit.this))
    for t in c.tokens:
        if t.marker in {"period", "grain", "chart"}:
            continue
        if t.marker == "top":
            if _THRESHOLD_BEFORE.search(c.text[:t.start]) or re.match(
                    r"(?:at\s+)?least\b", t.word):
                _fail(f"'{t.word}' reads as a threshold, not a number of rows to show; "
                      "the offline planner did not guess. Say 'with at least N ...' about "
                      "a count, or connect an LLM.")
            if limit is None and float(t.value[0]) not in numbers:  # type: ignore[index]
                _fail(f"I could not place '{t.word}' in the query, so I did not guess.")
            continue
        if t.marker == "compare":
            value = float(t.value[1])  # type: ignore[index]
            if value not in numbers and value / 100 not in numbers:
                _fail(f"I could not place '{t.word.strip()}' in the query, so I did not "
                      "guess.")
            continue
        if t.word.isdigit() and float(t.word) not in numbers:
            _fail(f"I could not place the number {t.word} in the query, so I did not "
                  "guess. Name the column it belongs to.")


def values_are_phrases(c: Checked) -> None:
    """A data value read from the question is a whole phrase of it, not a function word."""
    typed = c.question
    for cond in c.plan.filters:
        raw = cond.value if isinstance(cond.value, list | tuple | set | frozenset) else [
            cond.value]
        for value in raw:
            if not isinstance(value, str):
                continue
            low = value.lower()
            if not re.search(rf"(?<![\w]){re.escape(low)}(?:e?s)?(?![\w])", c.text):
                continue  # not read from the question (a metric's own condition, a flag)
            if low in textlib.STOPWORDS:
                _fail(f"I would have read the word '{low}' as the value '{value}' of "
                      f"{cond.col.column}; that is probably plain English, so I did not "
                      "guess. Quote the value or name its column.")
            if len(value) <= 2 and not re.search(rf"(?<![\w]){re.escape(value)}(?![\w])",
                                                  typed):
                _fail(f"I would have read '{low}' as the code '{value}' of "
                      f"{cond.col.column}; type it as in the data to mean the code.")


_ID_NAME = re.compile(r"(?:^id$|_id$|id$|_key$|^key$|_code$|^code$|_no$|_nr$|_num$)")


def ids_not_aggregated(c: Checked) -> None:
    """Keys and ids are never summed, averaged or taken a min/max of."""
    keys = set()
    for table in c.lex.tables.values():
        for column in table.columns:
            if column.primary_key:
                keys.add(column.name)
    keys |= {edge.column for edge in c.lex.edges} | {e.parent_column for e in c.lex.edges}
    for agg in c.query.find_all(exp.Sum, exp.Avg, exp.Min, exp.Max):
        for column in agg.find_all(exp.Column):
            if column.name in keys or _ID_NAME.search(column.name.lower()):
                _fail(f"'{column.name}' is an identifier; adding up or averaging it means "
                      "nothing, so I did not answer. Ask for a count instead.")


def listing_not_counted(c: Checked) -> None:
    """'Show the name and city of ...' without an aggregate word is a listing, not a
    count or a total."""
    if not _LIST_START.search(c.text) or _AGG_WORDS.search(c.text):
        return
    if any(t.kind == "metric" for m in c.mentions for t in m.targets):
        return  # "show revenue in 2024": a named measure is a figure, not a listing
    if any(c.query.find_all(exp.Count, exp.Sum, exp.Avg)):
        _fail("The question asks for a listing, but I could only build a count or total, "
              "so I did not answer. Name the columns to list, or connect an LLM.")


_AGG_KIND = {"highest": exp.Max, "maximum": exp.Max, "max": exp.Max, "largest": exp.Max,
             "lowest": exp.Min, "minimum": exp.Min, "min": exp.Min, "smallest": exp.Min,
             "sum": exp.Sum, "total": exp.Sum, "average": exp.Avg, "mean": exp.Avg,
             "avg": exp.Avg, "count": exp.Count, "number": exp.Count}
_AGG_LIST = re.compile(r"\b(" + "|".join(_AGG_KIND) + r")\b(?=\s*(?:,|\band\b|\bor\b))")


def every_listed_aggregate(c: Checked) -> None:
    """'the highest, lowest and average salary': one aggregate for each word listed."""
    listed = [m.group(1) for m in _AGG_LIST.finditer(c.text)
              if re.search(r"(?:^|,|\band|\bthe|\bfind|\bdisplay|\bshow|\blist|\bget|"
                           r"\bgive|\bwhat|\bis|\bare)\s*$", c.text[:m.start()])]
    if not listed:
        return
    following = re.search(r"\b(?:and|or)\s+(?:the\s+)?(" + "|".join(_AGG_KIND) + r")\b",
                          c.text)
    kinds = {_AGG_KIND[w] for w in listed} | ({_AGG_KIND[following.group(1)]}
                                              if following else set())
    for kind in kinds:
        if not any(c.query.find_all(kind)):
            _fail("The question lists several figures; I could not build each of them, so "
                  "I did not answer with only some. Ask for one figure at a time, or "
                  "connect an LLM.")


def share_not_grouped_by_its_population(c: Checked) -> None:
    """'percentage of titles that are TV shows' is one figure over all titles, not one
    per title."""
    found = re.search(r"\b(?:percentage|percent|share|proportion|fraction)\s+of\s+"
                      r"(?:all\s+|the\s+)?(\w+)", c.text)
    if found is None or c.query.args.get("group") is None:
        return
    for d in c.plan.dims:
        if d.words and d.words.split()[0] == found.group(1):
            _fail(f"'{found.group(0)}' is a share of all {found.group(1)}, but I could only "
                  f"build one per {found.group(1)}, so I did not answer. Connect an LLM, "
                  "or ask 'how many ... are ...' and 'how many ...'.")


def share_not_trivial(c: Checked) -> None:
    """A percentage must be of a condition or of groups, never of a column's own total."""
    if not re.search(r"\b(?:percentage|percent|share|proportion|fraction|%)", c.text):
        return
    for m in c.plan.measures:
        if m.share and not c.plan.dims and not m.rate:
            _fail("I could not tell which condition the percentage is about, so I did not "
                  "answer with a column's share of its own total (always 100%). Name the "
                  "condition, for example 'percentage of orders that are cancelled'.")


def distinct_count_of_its_entity(c: Checked) -> None:
    """COUNT(DISTINCT fk) counts the rows the key names ("customer_id" counts customers);
    a key named after something else (manager_id counting employees) is another role."""
    for count in c.query.find_all(exp.Count):
        if not isinstance(count.this, exp.Distinct):
            continue
        for column in count.this.find_all(exp.Column):
            edges = [e for e in c.lex.edges if e.column == column.name]
            if not edges:
                continue
            names = {_stem_words(e.parent.split(".")[-1]) for e in edges}
            if not any(all(w in column.name.lower() for w in name) for name in names):
                _fail(f"I would have counted distinct {column.name} values, which name "
                      "another role than the rows asked about, so I did not guess. Name "
                      "what to count, or connect an LLM.")


def _stem_words(name: str) -> tuple[str, ...]:
    return tuple(textlib.singular(w) for w in re.split(r"[_\W]+", name.lower()) if w)


def total_threshold_is_having(c: Checked) -> None:
    """'a total population of more than 500 million' compares a total, not each row."""
    for t in c.tokens:
        if t.marker != "compare":
            continue
        before = c.text[max(0, t.start - 40):t.start]
        if re.search(r"\b(?:total|sum|combined|overall|average|mean)\b", before) and \
                c.query.args.get("having") is None:
            _fail(f"'{t.word.strip()}' is about a total, which the offline planner cannot "
                  "compare yet, so I did not guess. Connect an LLM for this question.")


_SORTED_BY = re.compile(r"\b(?:sorted|ordered|order|sort|arranged|ranked)\s+(?:them\s+)?by\b")


def sorted_as_asked(c: Checked) -> None:
    """'sorted by facility id': the first ORDER BY key is that column."""
    found = _SORTED_BY.search(c.text)
    order = c.query.args.get("order")
    if found is None:
        return
    after = [m for m in c.mentions if c.tokens[m.first].start > found.end()]
    grain = re.match(r"\s*(?:the\s+)?(?:day|week|month|quarter|year)s?\b",
                     c.text[found.end():])
    if not after and grain is not None and order is not None and order.expressions and \
            c.plan.grain and order.expressions[0].this.name == c.plan.grain and \
            not order.expressions[0].args.get("desc"):
        return  # "sorted by month": the time buckets in time order
    if not after or order is None or not order.expressions:
        _fail("I could not sort the answer as asked, so I did not answer. Connect an LLM, "
              "or leave the order out.")
    mention = after[0]
    key = order.expressions[0].this
    aliases = {e.alias: e.this for e in getattr(c.query, "expressions", [])
               if isinstance(e, exp.Alias)}
    if isinstance(key, exp.Column) and not key.table and key.name in aliases:
        key = aliases[key.name]
    names = {col.name for col in key.find_all(exp.Column)}
    by_key = mention.last < len(c.tokens) and c.tokens[mention.last].word in {
        "id", "ids", "number", "code", "key"}
    wanted = set()
    for target in mention.targets:
        if target.kind == "column":
            wanted.add(target.column)
        elif target.kind == "entity":
            table = c.lex.tables[target.table]
            wanted |= {col.name for col in table.primary_key}
            if not by_key:
                wanted |= {col.name for col in c.lex.label_columns(target.table)}
    words = " ".join(t.word for t in c.tokens[mention.first:mention.last])
    if not names & wanted:
        _fail(f"I could not sort by '{words}' as asked, so I did not answer. Connect an "
              "LLM, or leave the order out.")
    descending = bool(re.search(r"\b(?:desc|descending|reverse|highest first|largest first|"
                                r"most first|biggest first|newest first|latest first)\b",
                                c.text[found.end():]))
    if bool(order.expressions[0].args.get("desc")) != descending:
        _fail(f"I could not sort by '{words}' in the direction asked, so I did not answer. "
              "Connect an LLM, or leave the order out.")


def text_patterns_built(c: Checked) -> None:
    """'ends with 'sson'': the pattern is a LIKE of the query."""
    likes = {str(like.expression.this) for like in c.query.find_all(exp.Like)
             if isinstance(like.expression, exp.Literal)}
    for t in c.tokens:
        if t.marker != "match":
            continue
        kind, literal = t.value  # type: ignore[misc]
        pattern = {"end": f"%{literal}", "start": f"{literal}%"}.get(kind, f"%{literal}%")
        if pattern not in likes:
            _fail(f"I could not tell which column '{t.word}' is about, so I did not guess. "
                  "Name the column, for example 'whose name ends with ...'.")


def threshold_not_on_a_summed_column(c: Checked) -> None:
    """'facilities with more than 1000 slots booked': a threshold on a column the answer
    adds up is about the total (HAVING), not about each row."""
    if c.query.args.get("group") is None or c.query.args.get("where") is None:
        return
    summed = {col.name for agg in c.query.find_all(exp.Sum, exp.Avg)
              for col in agg.find_all(exp.Column)}
    for compare in c.query.args["where"].find_all(exp.GT, exp.GTE, exp.LT, exp.LTE):
        if isinstance(compare.this, exp.Column) and compare.this.name in summed and \
                isinstance(compare.expression, exp.Literal) and not compare.expression.is_string:
            _fail(f"I would have compared each row's {compare.this.name} with "
                  f"{compare.expression.this}, but the answer adds it up; the threshold is "
                  "probably about the total, which the offline planner cannot compare yet, "
                  "so I did not guess. Connect an LLM for this question.")


RULES: list[Rule] = [
    threshold_not_on_a_summed_column,
    text_patterns_built,
    sorted_as_asked,
    distinct_count_of_its_entity,
    total_threshold_is_having,
    unsupported_shapes,
    words_accounted_for,
    negation_placed,
    numbers_placed,
    values_are_phrases,
    ids_not_aggregated,
    listing_not_counted,
    share_not_trivial,
    share_not_grouped_by_its_population,
    every_listed_aggregate,
    mentions_used,
    one_reading_of_each_value,
    one_column_per_word,
]


def check(question: str, text: str, tokens: list[Token], mentions: list[Mention], plan: Plan,
          lex: Lexicon, query: exp.Expression) -> None:
    """Run every rule; the first that fails declines the question."""
    checked = Checked(question, text, tokens, mentions, plan, lex, query)
    for rule in RULES:
        rule(checked)
