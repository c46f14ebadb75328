"""Reading a question: its words and markers (periods, charts, top-N, thresholds), the
schema phrases it mentions, and the plan dataclasses the planner fills from them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dashboard import text as textlib
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
    r"(?:\$|€|£|usd\s*)?(?P<num>\d[\d,]*(?:\.\d+)?|(?:one|two|three|four|five|six|seven|"
    r"eight|nine|ten|twelve|fifteen|twenty|fifty|hundred)\b)\s*(?P<unit>%|percent|k\b|m\b|thousand\b|million\b|"
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
    "identify", "placed", "made", "make", "sold", "sell", "selling", "come", "comes", "came",
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
    marker: str | None = None  # period | grain | top | compare | chart | match
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
            typed = m.group("num")
            number = float(_NUMBER_WORDS[typed] if typed in _NUMBER_WORDS else
                           typed.replace(",", ""))
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


# "whose name ends with 'sson'", "with the word 'Tennis' in their name": a text pattern
# (the literal as typed; one bare letter only after "letter").
_MATCH_RES = [
    re.compile(r"\b(?P<verb>ends?|ending|starts?|starting|begins?|beginning|contains?|"
               r"containing)\s+(?:with\s+)?(?:the\s+|an?\s+)?(?:(?:word|string|text|"
               r"prefix|suffix)\s+)?(?:'(?P<q>[^'\n]{1,60})'|\"(?P<dq>[^\"\n]{1,60})\"|"
               r"(?:letters?|character)\s+(?P<bare>[a-z])\b)"),
    re.compile(r"\bwith\s+the\s+(?P<verb>word|string|text|letters?)\s+(?:'(?P<q>[^'\n]{1,60})'|"
               r"\"(?P<dq>[^\"\n]{1,60})\")"),
]


def _match_markers(text: str, original: str) -> list[Token]:
    found = []
    for pattern in _MATCH_RES:
        for m in pattern.finditer(text):
            group = next(g for g in ("q", "dq", "bare") if m.group(g) is not None)
            literal = original[m.start(group):m.end(group)]
            verb = m.group("verb")
            kind = "end" if verb.startswith("end") else "start" if verb.startswith(
                ("start", "begin")) else "contain"
            found.append(Token(m.group(0), "", m.start(), m.end(), "match", (kind, literal)))
    return found


def tokenize(text: str, original: str | None = None) -> list[Token]:
    """Words and markers of lower-case `text`, in order (`original`: the same text as
    typed, same length, to remember capitals)."""
    matches = _match_markers(text, original if original is not None else text)
    markers = [t for t in _markers(text) if all(
        t.end <= m.start or t.start >= m.end for m in matches)] + matches
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


