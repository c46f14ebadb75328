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
from dataclasses import dataclass, field, replace

from dashboard import text as textlib
from dashboard.errors import GenerationFailed
from dashboard.generators import timeparse
from dashboard.generators.lexicon import ColRef, Cond, Lexicon, Target

CHARTS = ("line", "bar", "area", "scatter", "pie", "histogram", "table", "number")

_CHART_RES = [
    (re.compile(r"\b(?:as|in|with|using|on|into|via|draw|show|make|plot)?\s*(?:a|an|the)?\s*"
                r"(?P<c>line|bar|column|area|scatter|pie|donut|doughnut|histogram)\s*"
                r"(?:chart|graph|plot|diagram)\b"), None),
    (re.compile(r"\b(?:as|in)\s+(?:a\s+)?(?P<c>line|bar|pie|donut|histogram|scatter)\b"), None),
    (re.compile(r"\b(?:as|in)\s+(?:a\s+)?(?:table|grid|list)\b|\btable\s+view\b|\btabular\b"),
     "table"),
    (re.compile(r"\b(?:just|only)\s+(?:the|a|one)\s+(?:number|figure|total|value|kpi)\b|"
                r"\bas\s+(?:a\s+)?(?:single\s+)?(?:number|kpi|figure)\b"), "number"),
]
_CHART_ALIASES = {"column": "bar", "donut": "pie", "doughnut": "pie"}

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20,
                 "twelve": 12, "fifty": 50, "hundred": 100}
_N = r"(?P<n>\d+|" + "|".join(_NUMBER_WORDS) + r")"
_UP = {"top", "best", "highest", "largest", "biggest", "most", "greatest", "leading", "first"}
_TOP_RES = [  # "at least 3" is a threshold, never a top-N
    re.compile(r"\b(?P<dir>which|what|the)\s+" + _N + r"(?=\s+[a-z])(?!\s+(?:percent|%|"
               r"days?|weeks?|months?|quarters?|years?)\b)"),
    re.compile(r"\b(?<!at )(?P<dir>top|bottom|best|worst|highest|lowest|largest|smallest|"
               r"biggest|leading|least|first)\s+" + _N + r"\b"),
    re.compile(r"\b" + _N + r"\s+(?P<dir>best|worst|top|biggest|largest|most|least|highest|"
               r"lowest|smallest|greatest|leading|fewest)\b"),
]
_COMPARE = re.compile(
    r"(?P<op>more than|greater than|higher than|larger than|bigger than|over|above|exceeding|"
    r"at least|no less than|less than|fewer than|lower than|smaller than|under|below|"
    r"at most|no more than|up to|>=|<=|>|<|=|equal to|equals|exactly)\s+(?:a\s+|an\s+)?"
    r"(?:\$|€|£|usd\s*)?(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>%|percent|k\b|m\b|thousand\b|million\b|"
    r"billion\b|bn\b|mn\b)?")
_OPS = {"more than": ">", "greater than": ">", "higher than": ">", "larger than": ">",
        "bigger than": ">", "over": ">", "above": ">", "exceeding": ">", "at least": ">=",
        "no less than": ">=", "less than": "<", "fewer than": "<", "lower than": "<",
        "smaller than": "<", "under": "<", "below": "<", "at most": "<=",
        "no more than": "<=", "up to": "<=", ">=": ">=", "<=": "<=", ">": ">", "<": "<",
        "=": "=", "equal to": "=", "equals": "=", "exactly": "="}

# Words in front of a schema word that give it a role.
_DIM_CUES = {"by", "per", "each", "every", "across", "vs", "versus", "between"}
_COUNT_CUES = {"many", "number", "count", "#", "num", "no", "counts", "numbers"}
_DISTINCT_CUES = {"distinct", "unique", "different", "individual"}
_SUM_CUES = {"total", "sum", "overall", "combined", "cumulative", "aggregate", "totals"}
_AVG_CUES = {"average", "avg", "mean", "typical", "averages"}
_MAX_CUES = {"maximum", "max", "peak"}
_MIN_CUES = {"minimum", "min"}
_MEDIAN_CUES = {"median"}
_SHARE_CUES = {"percentage", "percent", "share", "proportion", "fraction", "%", "pct",
               "rate", "ratio", "percentages", "shares"}
_NEG_CUES = {"not", "excluding", "except", "without", "non", "exclude", "excludes",
             "other", "besides", "omitting", "ignoring", "nor", "isn't", "aren't",
             "wasn't", "weren't"}
_INCLUDE_CUES = {"including", "include", "includes", "incl"}
_SUPER_DESC = {"highest", "most", "largest", "biggest", "greatest", "best", "top", "maximum",
               "max", "leading", "priciest", "longest"}
_SUPER_ASC = {"lowest", "least", "fewest", "smallest", "worst", "bottom", "minimum", "min",
              "cheapest", "weakest", "shortest"}
_LIST_CUES = {"list", "show", "which", "what", "display", "name", "names", "give"}
# Words that may sit next to schema words without changing the query.
_FILLER = set(textlib.STOPWORDS) | {
    "total", "overall", "number", "count", "amount", "value", "values", "figure", "figures",
    "placed", "made", "make", "sold", "sell", "selling", "come", "comes", "came",
    "generated", "generate", "brought", "bring", "earned", "earn", "got", "get", "have",
    "received", "receive", "chart", "graph", "plot", "table", "breakdown", "split",
    "broken", "grouped", "group", "compare", "comparison", "versus", "vs", "against",
    "data", "report", "summary", "metrics", "metric", "kpi", "statistics", "stats",
    "currently", "ever", "altogether", "together", "including", "included",
    "per", "each", "every", "across", "within", "inside", "throughout", "recorded",
    "registered", "signed", "joined", "new", "existing", "all", "time", "times", "ordered",
    "ordering", "buy", "bought", "purchased", "distinct", "unique", "different", "many",
    "much", "average", "avg", "mean", "sum", "highest", "lowest", "most", "least", "top",
    "bottom", "best", "worst", "largest", "smallest", "biggest", "which", "what", "how",
    "status", "channel", "percentage", "percent", "share", "proportion", "rate", "ratio",
    "growth", "change", "changes", "increase", "decrease", "trend", "evolution", "along",
    "alongside", "next", "side", "show", "list", "give", "display", "tell", "see", "find",
    "did", "does", "do", "were", "was", "is", "are", "been", "has", "had", "with", "having",
    "whose", "that", "who", "where", "there", "here", "ones", "those", "them", "it", "its",
    "respectively", "sorted", "order", "rank", "ranked", "ranking", "descending",
    "ascending", "first", "last", "only", "just", "also", "then", "now", "instead", "again",
    "same", "but", "please", "could", "would", "like", "want", "need", "know", "us", "our",
    "we", "company", "business", "store", "shop", "firm", "performance", "performing",
    "performed", "result", "results", "year", "month",
    "quarter", "week", "day", "date", "dates", "period", "periods", "so", "far", "since",
    "ago", "yet", "still", "already", "actually", "really", "roughly",
    "approximately", "about", "around", "exact", "exactly", "precise", "precisely",
    "percentages", "shares", "numbers", "counts", "totals", "averages", "expensive",
    "cheap", "cheapest", "priciest", "popular", "contribute", "contributes",
    "contributed", "contribution", "account", "accounts", "accounted", "represent",
    "represents", "represented", "attributable", "attributed", "due", "thanks", "via",
    "through", "using", "use", "used", "separately", "individually", "combination",
    "combinations", "pair", "pairs", "row", "rows", "record", "records", "entries", "entry",
    "line", "lines", "item", "items",
}


@dataclass
class Measure:
    """One number per group: kind is count | count_distinct | sum | avg | min | max |
    median | metric | per_entity."""

    kind: str
    table: str | None = None
    col: ColRef | None = None
    metric: str | None = None
    per: str | None = None  # per_entity: the entity whose rows are the denominator
    inner: str | None = None  # per_entity over a plain aggregate: its kind (count/sum)
    share: bool = False  # 100 * m / sum(m) over all groups
    rate: tuple[Cond, ...] = ()  # 100 * m(filtered) / m: the filters of the numerator
    words: str = ""


@dataclass
class Dim:
    kind: str  # column | entity
    table: str
    column: str | None = None
    words: str = ""


@dataclass
class Plan:
    question: str
    measures: list[Measure] = field(default_factory=list)
    dims: list[Dim] = field(default_factory=list)
    filters: list[Cond] = field(default_factory=list)
    periods: list[timeparse.Period] = field(default_factory=list)
    time_col: ColRef | None = None
    grain: str | None = None
    nested_avg: bool = False  # "average monthly revenue": avg over time buckets
    growth: bool = False
    cumulative: bool = False  # running total over the time buckets
    # "customers with more than 10 orders": (parent table, child table, fk column, op, n)
    having: list[tuple[str, str, str, str, float]] = field(default_factory=list)
    top: int | None = None
    descending: bool = True
    chart: str | None = None
    hints: list[str] = field(default_factory=list)  # entity tables mentioned
    listing: bool = False
    rows: bool = False  # a listing of rows as they are (no DISTINCT)
    order: list[ColRef] = field(default_factory=list)  # listing order asked for
    include_cols: set[ColRef] = field(default_factory=set)  # metric conditions lifted
    # What the question was read into (for the precision gate): lower-case text, tokens
    # and the schema mentions found in it.
    text: str = field(default="", repr=False, compare=False)
    tokens: list[Token] = field(default_factory=list, repr=False, compare=False)
    mentions: list[Mention] = field(default_factory=list, repr=False, compare=False)
    placed: set[int] = field(default_factory=set, repr=False, compare=False)  # by rules


@dataclass
class Token:
    word: str
    stem: str
    start: int
    end: int
    marker: str | None = None  # period | grain | top | compare | chart
    value: object = None
    capitalized: bool = False  # as typed: a capital letter may mark a name ("Narnia")


@dataclass
class Mention:
    first: int  # token index range [first, last)
    last: int
    targets: list[Target]
    exact: bool

    def kinds(self) -> set[str]:
        return {t.kind for t in self.targets}


# --- tokens ---------------------------------------------------------------------------


def _markers(text: str) -> list[Token]:
    found: list[Token] = []

    def free(a: int, b: int) -> bool:
        return all(b <= t.start or a >= t.end for t in found)

    for f in timeparse.find_periods(text):
        found.append(Token(text[f.start:f.end], "", f.start, f.end, "period", f.value))
    for pattern, fixed in _CHART_RES:
        for m in pattern.finditer(text):
            if free(m.start(), m.end()):
                chart = fixed or _CHART_ALIASES.get(m.group("c"), m.group("c"))
                found.append(Token(m.group(0), "", m.start(), m.end(), "chart", chart))
    for f in timeparse.find_grains(text):
        if free(f.start, f.end):
            found.append(Token(text[f.start:f.end], "", f.start, f.end, "grain", f.value))
    for pattern in _TOP_RES:
        for m in pattern.finditer(text):
            if free(m.start(), m.end()):
                n = m.group("n")
                count = int(n) if n.isdigit() else _NUMBER_WORDS[n]
                up = m.group("dir") in _UP or m.group("dir") in {"which", "what", "the"}
                found.append(Token(m.group(0), "", m.start(), m.end(), "top", (count, up)))
    for m in _COMPARE.finditer(text):
        if free(m.start(), m.end()) and (m.start() == 0 or not text[m.start() - 1].isalnum()):
            number = float(m.group("num").replace(",", ""))
            unit = m.group("unit")
            if unit in {"k", "thousand"}:
                number *= 1000
            elif unit in {"m", "million", "mn"}:
                number *= 1_000_000
            elif unit in {"billion", "bn"}:
                number *= 1_000_000_000
            found.append(Token(m.group(0), "", m.start(), m.end(), "compare",
                               (_OPS[m.group("op")], number, unit in {"%", "percent"})))
    return sorted(found, key=lambda t: t.start)


_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|%|#")


def tokenize(text: str, original: str | None = None) -> list[Token]:
    """Words and markers of lower-case `text`, in order (`original`: the same text as
    typed, same length, to remember capitals)."""
    markers = _markers(text)
    tokens: list[Token] = []
    for m in _WORD_RE.finditer(text):
        if any(mk.start <= m.start() < mk.end for mk in markers):
            continue
        word = m.group(0)
        # "non-cancelled" splits into non + cancelled, both words kept.
        capital = original is not None and original[m.start()].isupper()
        tokens.append(Token(word, textlib.stem(word), m.start(), m.end(),
                            capitalized=capital))
    tokens += markers
    return sorted(tokens, key=lambda t: t.start)


# --- mentions -------------------------------------------------------------------------

_KIND_RANK = {"metric": 0, "column": 1, "entity": 2, "value": 3}
_COMMANDS = {"list", "show", "display", "give", "find", "get", "fetch", "retrieve", "return",
             "output", "select", "produce", "count", "name", "tell", "compare", "plot", "chart"}


def find_mentions(tokens: list[Token], lex: Lexicon) -> list[Mention]:
    """Longest matches of schema phrases, left to right, exact before synonyms."""
    mentions: list[Mention] = []
    i = 0
    while i < len(tokens):
        if tokens[i].marker or tokens[i].word in {"the", "a", "an"} or (
                tokens[i].word in _COMMANDS and all(t.word in {"please", "now", "just"}
                                                   for t in tokens[:i])):
            i += 1  # "List all movies": the command, not the column listed_in
            continue
        best: Mention | None = None
        for length in range(min(lex.max_len, len(tokens) - i), 0, -1):
            span = tokens[i:i + length]
            if any(t.marker for t in span):
                continue
            key = tuple(t.stem for t in span)
            targets = lex.phrases.get(key)
            if targets:
                best = Mention(i, i + length, list(targets), True)
                break
            # Synonyms on the first word ("client segment" -> customer segment).
            for variant in sorted(textlib.synonyms(key[0]) - {key[0]}):
                targets = lex.phrases.get((variant, *key[1:]))
                if targets and (length > 1 or span[0].word not in textlib.STOPWORDS):
                    candidate = Mention(i, i + length, list(targets), False)
                    if best is None or _KIND_RANK[candidate.targets[0].kind] < \
                            _KIND_RANK[best.targets[0].kind]:
                        best = candidate
            if best is not None:
                break
        if best is not None and best.last - best.first == 1 and \
                tokens[i].word in _CUE_WORDS and _starts_mention(tokens, best.last, lex):
            best = None  # "total quantity": here "total" is a word of the question
        if best is not None:
            # Value targets lose to schema names on one common word ("store" the table).
            if len(best.kinds()) > 1 and not best.exact:
                best.targets = [t for t in best.targets if t.kind != "value"] or best.targets
            best.targets.sort(key=lambda t: _KIND_RANK[t.kind])
            mentions.append(best)
            i = best.last
        else:
            i += 1
    return mentions


_CUE_WORDS = {"total", "count", "number", "average", "sum", "max", "min", "amount", "value"}


def _starts_mention(tokens: list[Token], i: int, lex: Lexicon) -> bool:
    """Whether a schema phrase starts at token `i` (skipping articles)."""
    while i < len(tokens) and tokens[i].word in {"the", "a", "an", "of"}:
        i += 1
    if i >= len(tokens) or tokens[i].marker:
        return False
    for length in range(min(lex.max_len, len(tokens) - i), 0, -1):
        span = tokens[i:i + length]
        if any(t.marker for t in span):
            continue
        key = tuple(t.stem for t in span)
        if key in lex.phrases or any((v, *key[1:]) in lex.phrases
                                     for v in textlib.synonyms(key[0])):
            return True
    return False


def _merge_qualified(tokens: list[Token], mentions: list[Mention],
                     lex: Lexicon) -> list[Mention]:
    """An entity followed by one of its own columns is that column ("track length"),
    unless the entity is being counted ("how many tracks cost more than 1")."""
    merged: list[Mention] = []
    for m in mentions:
        prev = merged[-1] if merged else None
        counted = prev is not None and any(
            t.word in {"many", "number", "count", "#"} for t in tokens[max(0, prev.first - 3):
                                                                     prev.first])
        if prev is not None and prev.last == m.first and prev.kinds() == {"entity"} and \
                not counted:
            table = prev.targets[0].table
            # Not a date column: "orders shipped to Germany" is about orders, not a date.
            own = [t for t in m.targets if t.kind == "column" and t.table == table
                   and not lex.column(ColRef(t.table, t.column)).is_time]
            if own:
                merged[-1] = Mention(prev.first, m.last, own, m.exact)
                continue
        merged.append(m)
    return merged


# --- roles ----------------------------------------------------------------------------


def _words_between(tokens: list[Token], a: int, b: int) -> list[str]:
    return [t.word for t in tokens[a:b] if not t.marker]


def _has(words: list[str], cues: set[str]) -> bool:
    return any(w in cues for w in words)


def _last_cue(words: list[str]) -> str | None:
    """The role cue nearest to the mention among the words in front of it."""
    for w in reversed(words):
        for name, cues in (("dim", _DIM_CUES), ("distinct", _DISTINCT_CUES),
                           ("count", _COUNT_CUES), ("avg", _AVG_CUES), ("sum", _SUM_CUES),
                           ("max", _MAX_CUES), ("min", _MIN_CUES),
                           ("median", _MEDIAN_CUES), ("share", _SHARE_CUES)):
            if w in cues:
                if name == "count" and w == "no" and "of" not in words:
                    continue
                return name
    return None


def _display(tokens: list[Token], m: Mention) -> str:
    return " ".join(t.word for t in tokens[m.first:m.last])


# Country abbreviations as typed, and the spellings data sets use for them.
_ABBREVIATIONS = [
    (re.compile(r"\b(?:USA|U\.S\.A\.|U\.S\.|US)(?=\W|$)"), ("United States", "USA", "US")),
    (re.compile(r"\b(?:UK|U\.K\.)(?=\W|$)"), ("United Kingdom", "UK", "Great Britain")),
]


def _expand_abbreviations(question: str, lex: Lexicon) -> str:
    """'US' / 'UK' as typed become the spelling the data uses ('United States', 'USA')."""
    for pattern, spellings in _ABBREVIATIONS:
        for spelling in spellings:
            if tuple(textlib.stem(w) for w in textlib.words(spelling)) in lex.phrases:
                question = pattern.sub(spelling, question)
                break
    return question


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
            (name.startswith(("is_", "has_")) or name in {"discontinued", "active", "deleted",
                                                          "archived", "enabled", "paid"}):
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
    first_word = next((i for i, t in enumerate(tokens) if not t.marker), 0)
    for i, t in enumerate(tokens):
        if t.marker or i in covered:
            continue
        if t.word in _FILLER or t.word.isdigit() or len(t.word) < 3:
            continue
        unknown.append(t.word)
        if t.capitalized and i > first_word and t.word not in _NOT_NAMES:
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
