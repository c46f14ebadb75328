"""Which chart shows a query result best: pure functions over column names, types and values.

`requested_chart` reads an explicit chart word from a prompt ("as a pie chart", "show a
table", "just the number"); `choose_encoding` picks a chart type and its encoding (x, y,
colour, orientation) from the result's shape, honours a requested type when the result
can be shown that way, and otherwise falls back with a `note` that says why. Nothing here
touches a database or Plotly, so every rule has a direct test.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from dashboard.errors import InvalidChartSpec

CHART_TYPES = ("line", "bar", "area", "scatter", "pie", "histogram", "table", "number")
CHART_LABELS = {
    "line": "a line chart", "bar": "a bar chart", "area": "an area chart",
    "scatter": "a scatter plot", "pie": "a pie chart", "histogram": "a histogram",
    "table": "a table", "number": "a number card",
}
_ALIASES = {
    "donut": "pie", "doughnut": "pie", "column": "bar", "columns": "bar", "bars": "bar",
    "lines": "line", "timeline": "line", "scatterplot": "scatter", "kpi": "number",
    "metric": "number", "card": "number", "value": "number", "grid": "table",
}

Kind = Literal["number", "time", "text", "id"]

# More slices than this and a pie stops being readable (and "share of a whole" rarely
# has that many parts): a requested pie falls back to bars beyond it.
PIE_MAX_SLICES = 12
# Inferred pies only for a handful of parts; more parts read better as bars.
PIE_INFER_MAX = 8
# Bars turn horizontal when a label is longer than this or there are more bars than
# BAR_VERTICAL_MAX: horizontal labels stay readable without rotation.
BAR_LABEL_CHARS = 14
BAR_VERTICAL_MAX = 10
# A second dimension becomes colour (one trace per value) only up to this many values.
MAX_COLOR_VALUES = 20
# A single numeric column becomes a histogram from this many rows on (else a table).
HISTOGRAM_MIN_ROWS = 20
# Two measures of different scales over a category become a scatter from this many rows.
SCATTER_MIN_ROWS = 5
# Two periods side by side as grouped bars: at most this many groups.
MAX_BAR_GROUPS = 20
# Several measures share one value axis only when their magnitudes are this close.
SHARED_AXIS_RATIO = 20.0


# ---------------------------------------------------------------- chart words in prompts

_NEGATION = re.compile(
    r"(?:\bnot|\bno|n't|\bwithout|\binstead\s+of|\brather\s+than|\bexcept|\bnever)"
    r"(?:\s+\w+){0,2}\s*$"
)
_MODIFIER = r"(?:(?:stacked|horizontal|vertical|simple|grouped|clustered|single|big|small|"\
            r"nice|clean|plain)\s+)?"
_CHART_NOUN = r"[\s-]*(?:chart|graph|plot|diagram|visual|visualization|visualisation)s?\b"
_ARTICLE_VERBS = (r"(?:in|into|using|use|with|via|show|showing|draw|plot|make|display|"
                  r"give\s+me|render|create|want|prefer|need|like)")
_END = r"(?![\w-])"


def _word_patterns(words: str, *, loose: bool) -> list[str]:
    """Phrases that make a chart word explicit; `loose` also allows "show a W"."""
    patterns = [
        rf"\b(?:{words}){_CHART_NOUN}",                                   # "bar chart"
        rf"\bas\s+(?:an?\s+|the\s+)?{_MODIFIER}(?:{words}){_END}",        # "as a pie"
        rf"[,;:(]\s*(?:an?\s+)?{_MODIFIER}(?:{words})\s*\)?\s*[.!?]*\s*$",  # ", pie"
    ]
    if loose:
        patterns.append(rf"^\s*(?:an?\s+)?{_MODIFIER}(?:{words})\s*[:–—-]\s")  # "Pie: ..."
        patterns.append(rf"\b{_ARTICLE_VERBS}\s+an?\s+{_MODIFIER}(?:{words})"
                        rf"(?!\s+(?:items?|ids?|codes?|numbers?|names?|of\s+business)\b)"
                        rf"{_END}")
    return patterns


# Each chart type with the phrases that name it, most specific types first. Words that
# are also everyday nouns ("area", "line", "table", "number") need a chart phrase around
# them, so "sales by area", "order lines", "the orders table" and "number of orders" are
# not chart requests; \b keeps "bar" out of "barcelona" and "table" out of "tablet".
_REQUEST_PATTERNS: list[tuple[str, list[str]]] = [
    ("number", [
        r"\b(?:just|only)\s+(?:the\s+|a\s+|one\s+)?(?:single\s+)?(?:number|value|total|figure)"
        r"(?!\s+of\b)\b",
        r"\b(?:a|one)\s+single\s+(?:number|value)\b",
        r"\bas\s+(?:a\s+|one\s+)?(?:single\s+)?(?:number|kpi|metric)(?!\s+of\b)\b",
        r"\b(?:number|kpi|metric|big[\s-]+number|scorecard)[\s-]*(?:card|tile|widget)s?\b",
        r"\bkpis?\b(?!\s+(?:trends?|over|by|per|for\s+each)\b)", r"\bscorecard\b",
        r"\bbig[\s-]+number\b",
    ]),
    ("histogram", [r"\bhistograms?\b"]),
    ("scatter", [r"\bscatter(?:[\s-]*plots?|[\s-]*charts?|[\s-]*graphs?)?\b(?!ed)"]),
    ("pie", [*_word_patterns(r"pies?|donuts?|doughnuts?", loose=True),
             r"\b(?:pie|donut|doughnut)\s+(?:of|showing)\b"]),
    ("area", _word_patterns(r"areas?", loose=False)),
    ("bar", [*_word_patterns(r"bars?", loose=True), rf"\bcolumn{_CHART_NOUN}"]),
    ("line", [*_word_patterns(r"lines?", loose=True), r"\btrend[\s-]*lines?\b",
              r"\btimeline\b"]),
    ("table", [*_word_patterns(r"tables?", loose=True),
               r"\btable\s+(?:view|format|form)\b", r"\btabular\b",
               r"\b(?:show|display|give\s+me)\s+(?:a\s+|the\s+)?table\s*[.!?]*\s*$"]),
]
_COMPILED = [(chart, [re.compile(p, re.IGNORECASE) for p in pats])
             for chart, pats in _REQUEST_PATTERNS]


def requested_chart(prompt: str | None) -> str | None:
    """The chart type a prompt asks for explicitly, or None.

    The earliest non-negated request wins: "a bar chart, not a pie chart" -> "bar".
    """
    if not prompt:
        return None
    text = " ".join(str(prompt).split())[:2000]
    best: tuple[int, str] | None = None
    for chart, patterns in _COMPILED:
        for pattern in patterns:
            for match in pattern.finditer(text):
                if _NEGATION.search(text[max(0, match.start() - 30):match.start()]):
                    continue
                if best is None or match.start() < best[0]:
                    best = (match.start(), chart)
                break
    return best[1] if best else None


def normalize_chart(name: str | None) -> str | None:
    """A known chart type for a name or alias ("Donut" -> "pie"); None stays None."""
    if name is None:
        return None
    key = str(name).strip().lower()
    if not key:
        return None
    key = _ALIASES.get(key, key)
    if key not in CHART_TYPES:
        raise InvalidChartSpec(
            f"Unknown chart type {str(name)[:40]!r}; use one of {', '.join(CHART_TYPES)}.")
    return key


# ---------------------------------------------------------------- column kinds

_NUMBER_TYPES = {
    "int2", "int4", "int8", "smallint", "integer", "bigint", "numeric", "decimal",
    "real", "float4", "float8", "double precision", "double", "float", "int", "serial",
    "bigserial", "smallserial", "oid",
}
_TIME_TYPES = {
    "date", "timestamp", "timestamptz", "timestamp without time zone",
    "timestamp with time zone", "datetime",
}
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
# Integer columns with these names are points in time or ordered buckets, not measures:
# extract(year ...) AS year must not be summed, scattered or drawn as a value axis.
_TIME_PART_NAMES = re.compile(
    r"^(?:.*_)?(?:year|yr|quarter|qtr|month|mon|week|wk|day|dow|doy|hour|hr|minute|"
    r"year_month|yearmonth|period|fiscal_year|isoyear|isoweek)$"
)
_ID_NAMES = re.compile(r"^(?:id|.*_id|.*_key|.*_code|.*_no|.*_number|zip|zipcode|postcode)$")
_SHARE_NAMES = re.compile(r"(?:share|pct|percent|percentage|proportion|ratio_of_total|"
                          r"fraction|portion)", re.IGNORECASE)
_NON_ADDITIVE = re.compile(r"(?:pct|percent|percentage|share|rate|ratio|avg|average|mean|"
                           r"median|min|max|fraction|proportion)", re.IGNORECASE)
_SHARE_PROMPT = re.compile(r"\b(?:share|shares|percent|percentage|proportion|split|"
                           r"breakdown|composition|makeup|make-up|part of|mix)\b|%",
                           re.IGNORECASE)


def is_number(value: Any) -> bool:
    """A real number (bool is not one, though Python says it is)."""
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def is_time_value(value: Any) -> bool:
    """A date or timestamp, as a Python object or an ISO-8601 string."""
    if isinstance(value, (dt.date, dt.datetime)):
        return True
    return isinstance(value, str) and bool(_ISO_DATE.match(value))


def _base_type(type_name: str | None) -> str:
    """`numeric(10,2)` -> `numeric`, `_int4`/`int4[]` stay arrays (not numbers)."""
    name = (type_name or "").strip().lower()
    return re.sub(r"\(.*\)$", "", name).strip()


def column_kind(name: str, type_name: str | None, values: Sequence[Any]) -> Kind:
    """number, time, text or id for one result column.

    The database type decides when known; values decide otherwise (a snapshot has only
    ISO strings and numbers). Integer identifiers and time parts (year, month) are not
    measures even though they are numbers.
    """
    base = _base_type(type_name)
    present = [v for v in values if v is not None]
    lowered = name.strip().lower()
    if base in _TIME_TYPES:
        return "time"
    numeric = base in _NUMBER_TYPES if base else bool(present) and all(
        is_number(v) for v in present)
    if numeric:
        whole = all(not isinstance(v, float) or v.is_integer() for v in present)
        if whole and _TIME_PART_NAMES.match(lowered):
            return "time"
        if whole and _ID_NAMES.match(lowered):
            return "id"
        return "number"
    if base and base not in {"text", "varchar", "character varying", "char", "character",
                             "bpchar", "name", "unknown", "citext"}:
        return "text"
    if present and all(is_time_value(v) for v in present):
        return "time"
    return "text"


# ---------------------------------------------------------------- choosing an encoding

@dataclass(frozen=True)
class Encoding:
    """What to draw: chart type, columns per channel, and why we deviated from a request."""

    chart: str
    x: str | None = None
    y: tuple[str, ...] = ()
    color: str | None = None
    orientation: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class _Shape:
    columns: tuple[str, ...]
    kinds: dict[str, Kind]
    rows: Sequence[Sequence[Any]]
    prompt: str

    def of(self, *kinds: Kind) -> list[str]:
        return [c for c in self.columns if self.kinds[c] in kinds]

    def values(self, column: str) -> list[Any]:
        index = self.columns.index(column)
        return [row[index] for row in self.rows]

    def distinct(self, column: str) -> int:
        return len({_hashable(v) for v in self.values(column)})

    @property
    def measures(self) -> list[str]:
        return self.of("number")

    @property
    def categories(self) -> list[str]:
        """Text columns; identifiers only when nothing else labels the rows."""
        text = self.of("text")
        return text if text else self.of("id")


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def bar_orientation(labels: Sequence[Any]) -> str:
    """"h" when labels are long or bars are many (readable without rotated text)."""
    longest = max((len(str(v)) for v in labels if v is not None), default=0)
    return "h" if longest > BAR_LABEL_CHARS or len(labels) > BAR_VERTICAL_MAX else "v"


def _comparable(shape: _Shape, measures: Sequence[str]) -> bool:
    """Measures of similar magnitude share a value axis (revenue and a % do not)."""
    peaks = []
    for m in measures:
        numbers = [abs(float(v)) for v in shape.values(m) if is_number(v)]
        peaks.append(max(numbers, default=0.0))
    positive = [p for p in peaks if p > 0]
    return not positive or max(positive) / min(positive) <= SHARED_AXIS_RATIO


def _infer(shape: _Shape) -> Encoding:
    """The inference rules of DESIGN.md, in order; the first that fits wins."""
    measures, times, cats = shape.measures, shape.of("time"), shape.categories
    n = len(shape.rows)
    # One value (optionally labelled by one dimension): a number card.
    dims = len(times) + len(cats)
    if len(measures) == 1 and ((n == 1 and dims <= 1) or (n == 0 and dims == 0)):
        label = (times + cats)[0] if times + cats else None
        return Encoding("number", x=label, y=(measures[0],))
    # Time + numbers: one line per measure, or one line per category.
    if times and measures:
        x = times[0]
        if len(cats) == 1 and len(times) == 1 and len(measures) == 1:
            if shape.distinct(x) == 1:
                return _bar(shape, cats[0], measures[:1])
            if shape.distinct(x) == 2 and shape.distinct(cats[0]) <= MAX_BAR_GROUPS:
                # Two periods compared ("2024 vs 2025"): grouped bars, one per period.
                return _bar(shape, cats[0], measures[:1], color=x)
            if shape.distinct(cats[0]) <= MAX_COLOR_VALUES:
                return Encoding("line", x=x, y=(measures[0],), color=cats[0])
        if not cats and len(times) == 1 and _comparable(shape, measures):
            if shape.distinct(x) == 2:  # two periods side by side, not a 2-point line
                return Encoding("bar", x=x, y=tuple(measures), orientation="v")
            return Encoding("line", x=x, y=tuple(measures))
        return Encoding("table")
    # One category + numbers: bars (a pie for a share of a whole with few parts).
    if len(cats) == 1 and measures and not times:
        if len(measures) == 1 and _looks_like_share(shape, cats[0], measures[0]):
            return Encoding("pie", x=cats[0], y=(measures[0],))
        if len(measures) <= 4 and n <= 50 and _comparable(shape, measures):
            return _bar(shape, cats[0], measures)
        if len(measures) == 2 and n >= SCATTER_MIN_ROWS:
            # Two measures of different scales: one against the other, not both against
            # the category.
            return _scatter(shape, measures, cats[0])
        return Encoding("table")
    # Two categories + one number: grouped bars, the smaller dimension as colour.
    if len(cats) == 2 and len(measures) == 1 and not times:
        first, second = sorted(cats, key=lambda c: -shape.distinct(c))
        if shape.distinct(second) <= MAX_COLOR_VALUES and n <= 200:
            return _bar(shape, first, measures, color=second)
        return Encoding("table")
    if not times and not cats:
        if len(measures) == 2:
            return Encoding("scatter", x=measures[0], y=(measures[1],))
        if len(measures) == 1 and n >= HISTOGRAM_MIN_ROWS:
            return Encoding("histogram", x=measures[0])
    return Encoding("table")


def _scatter(shape: _Shape, measures: Sequence[str], label: str | None) -> Encoding:
    color = label if label and shape.distinct(label) <= MAX_COLOR_VALUES else None
    return Encoding("scatter", x=measures[0], y=(measures[1],), color=color)


def _bar(shape: _Shape, x: str, measures: Sequence[str], color: str | None = None,
         note: str | None = None) -> Encoding:
    labels = list(dict.fromkeys(_hashable(v) for v in shape.values(x)))
    # Time and numeric axes stay vertical: dates read left to right.
    categorical = shape.kinds[x] in ("text", "id")
    return Encoding("bar", x=x, y=tuple(measures), color=color,
                    orientation=bar_orientation(labels) if categorical else "v", note=note)


def _looks_like_share(shape: _Shape, cat: str, measure: str) -> bool:
    """A share of a whole: few distinct non-negative parts that add up to the whole, and
    the column name or the prompt talks about shares.

    Percentages must sum to about 100 (or fractions to 1): "cancellation rate by
    channel" is a percentage per part, not parts of a whole. Averages and rates never
    add up, so they are never pies; plain amounts (revenue, counts) always do.
    """
    values = [float(v) for v in shape.values(measure) if v is not None]
    if not 2 <= len(shape.rows) <= PIE_INFER_MAX or shape.distinct(cat) != len(shape.rows):
        return False
    if not values or any(v < 0 for v in values):
        return False
    if not (_SHARE_NAMES.search(measure) or _SHARE_PROMPT.search(shape.prompt)):
        return False
    total = sum(values)
    if abs(total - 100) <= 1.5 or abs(total - 1) <= 0.015:
        return True
    return not _NON_ADDITIVE.search(measure)


def _explicit(shape: _Shape, chart: str) -> Encoding | str:
    """The encoding for a requested chart type, or the reason it cannot show the result."""
    measures, times, cats = shape.measures, shape.of("time"), shape.categories
    dims = times + cats
    n = len(shape.rows)
    if chart == "table":
        return Encoding("table")
    if chart == "number":
        if not measures:
            return "the result has no numeric column"
        if n > 1:
            return f"a number card shows one value and the result has {n:,} rows"
        return Encoding("number", x=dims[0] if len(dims) == 1 else None, y=(measures[0],))
    if chart == "histogram":
        target = measures[0] if measures else (times[0] if times else None)
        if target is None:
            return "a histogram needs a numeric or date column"
        color = cats[0] if cats and shape.distinct(cats[0]) <= MAX_COLOR_VALUES else None
        return Encoding("histogram", x=target, color=color if measures else None)
    if not measures:
        return "the result has no numeric column to draw"
    if chart == "pie":
        if len(dims) != 1:
            return ("a pie needs exactly one label column and the result has "
                    f"{len(dims)}" if dims else "a pie needs a label column")
        if shape.distinct(dims[0]) > PIE_MAX_SLICES:
            return (f"a pie stays readable up to {PIE_MAX_SLICES} slices and the result "
                    f"has {shape.distinct(dims[0]):,} {'points' if times else 'parts'}")
        if shape.distinct(dims[0]) != n:
            return "the pie's labels repeat, so its slices would not add up to a whole"
        if any(is_number(v) and float(v) < 0 for v in shape.values(measures[0])):
            return "a pie cannot show negative values"
        return Encoding("pie", x=dims[0], y=(measures[0],))
    # line, area, bar, scatter: an x axis and one or more numeric columns.
    if chart == "scatter" and len(measures) >= 2:
        # Two measures: one against the other (the label column colours the points).
        return _scatter(shape, measures, dims[0] if len(dims) == 1 else None)
    if not dims:
        if len(measures) >= 2 and chart in {"line", "area"}:
            return Encoding(chart, x=measures[0], y=tuple(measures[1:]))
        return f"{CHART_LABELS[chart]} needs a column for its x axis"
    x = times[0] if times and chart != "bar" else dims[0]
    others = [d for d in dims if d != x]
    if others and len(measures) == 1:
        color = others[0]
        if len(others) > 1 or shape.distinct(color) > MAX_COLOR_VALUES:
            return (f"{CHART_LABELS[chart]} can split by one column of at most "
                    f"{MAX_COLOR_VALUES} values")
        if chart == "bar":
            return _bar(shape, x, measures, color=color)
        return Encoding(chart, x=x, y=tuple(measures), color=color)
    if chart == "bar":
        return _bar(shape, x, measures)
    return Encoding(chart, x=x, y=tuple(measures))


def choose_encoding(
    columns: Sequence[str],
    kinds: dict[str, Kind],
    rows: Sequence[Sequence[Any]],
    *,
    requested: str | None = None,
    prompt: str = "",
) -> Encoding:
    """The requested chart when it can show the result, else the inferred one plus a note."""
    shape = _Shape(tuple(columns), dict(kinds), rows, prompt or "")
    chart = normalize_chart(requested)
    if chart is None:
        return _infer(shape)
    outcome = _explicit(shape, chart)
    if isinstance(outcome, Encoding):
        return outcome
    fallback = _infer(shape)
    if fallback.chart == chart:  # the rules agree but could not use the explicit path
        fallback = Encoding("table")
    note = (f"You asked for {CHART_LABELS[chart]}, but {outcome}; "
            f"showing {CHART_LABELS[fallback.chart]} instead.")
    return Encoding(fallback.chart, x=fallback.x, y=fallback.y, color=fallback.color,
                    orientation=fallback.orientation, note=note)
