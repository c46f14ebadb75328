"""Widget content (a versioned JSON chart spec, never code) <-> Plotly figures.

`parse_content` reads what is stored in `widgets.content`, including the seed's legacy
forms (`{"chart": "line", "data": [1, 2, 3]}`, a bare list, a list of objects);
`spec_from_result` turns a query result into a spec with a plain-JSON data snapshot;
`build_figure` draws a spec with `plotly.graph_objects`. Everything that reads or writes
content goes through `validate`, and every problem is an `InvalidChartSpec` whose message
the UI shows as an error card.

Why a hand-written validator and not pydantic: the spec is one flat object with a dozen
fields, and the checks that matter are cross-field (encoded columns exist, rows match the
columns, y columns hold numbers, chart-specific channels) -- those would be custom
validators in pydantic too. Writing them here keeps one dependency fewer, lets every
message be a plain sentence for the analyst instead of a pydantic error dump, and keeps
reading cheap (one pass over the snapshot).

Spec fields (version 1; optional fields may be absent and take their defaults, unknown
fields are ignored so older and newer v1 writers interoperate):
    version, chart, title, x, y, color, orientation ("v"|"h", bars only), note (why the
    chart differs from the request), columns, data, row_count, truncated, refreshed_at.
For bars `x` is always the category and `y` the values; orientation "h" only flips the
drawing. A histogram bins `x` (or each `y` column when `y` is given, the legacy form).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import math
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Protocol

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.chart_inference import (
    CHART_LABELS,
    CHART_TYPES,
    Kind,
    choose_encoding,
    column_kind,
    is_number,
    normalize_chart,
    requested_chart,
)
from dashboard.errors import InvalidChartSpec

__all__ = [
    "CHART_TYPES", "FIGURE_TYPES", "SPEC_VERSION", "ChartSpec", "NumberCard", "build_figure",
    "color_for", "format_number", "from_dict", "number_card", "parse_content",
    "requested_chart", "respec", "spec_from_result", "table_frame", "validate",
]

SPEC_VERSION = 1
FIGURE_TYPES = frozenset({"line", "bar", "area", "scatter", "pie", "histogram"})

# Snapshot limits: what a widget keeps so the dashboard opens without re-running queries.
MAX_SNAPSHOT_ROWS = 5_000
MAX_CELL_CHARS = 1_000          # longer text cells are cut when a snapshot is taken
MAX_COLUMNS = 100
MAX_TITLE_CHARS = 300
MAX_NOTE_CHARS = 600
# Reading limits: generous enough for anything we wrote, small enough to refuse junk.
MAX_CONTENT_CHARS = 8_000_000
MAX_READ_ROWS = 50_000
MAX_READ_CELL_CHARS = 10_000
MAX_NAME_CHARS = 200

# Drawing limits: beyond these a figure is thinned or cut, with a visible note.
MAX_LINE_POINTS = 1_500         # per line: min/max downsampling keeps peaks and dips
MAX_SCATTER_POINTS = 5_000
MAX_BARS = 50                   # categorical bars: the largest totals are kept
MAX_TIME_BARS = 200             # bars over time: the most recent are kept
MAX_SERIES = 20                 # traces from a colour column: the largest totals are kept
PIE_SLICES = 12                 # the rest is summed into "Other"

# One colour-blind-safe palette for light and dark themes: Okabe & Ito's eight colours
# (distinguishable with protanopia, deuteranopia and tritanopia), black swapped for a
# mid grey so that every colour reads on white and on Streamlit's dark background.
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999",
)


@dataclass(frozen=True)
class ChartSpec:
    """One widget's content: the encoding plus the data snapshot it draws."""

    chart: str
    columns: list[str]
    data: list[list[Any]]
    title: str = ""
    x: str | None = None
    y: list[str] = field(default_factory=list)
    color: str | None = None
    row_count: int | None = None
    truncated: bool = False
    refreshed_at: str | None = None
    version: int = SPEC_VERSION
    note: str | None = None
    orientation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON object (optional fields left out when unset)."""
        out: dict[str, Any] = {
            "version": self.version, "chart": self.chart, "title": self.title,
            "x": self.x, "y": list(self.y), "color": self.color,
        }
        if self.orientation is not None:
            out["orientation"] = self.orientation
        if self.note is not None:
            out["note"] = self.note
        out.update(columns=list(self.columns), data=[list(r) for r in self.data],
                   row_count=self.row_count, truncated=self.truncated,
                   refreshed_at=self.refreshed_at)
        return out

    def to_json(self) -> str:
        """Validated, compact JSON for `widgets.content` (plain values, never NaN)."""
        validate(self)
        text = json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False,
                          ensure_ascii=False)
        if len(text) > MAX_CONTENT_CHARS:
            raise InvalidChartSpec("This chart's data is too large to save; "
                                   "select fewer rows or columns.")
        return text

    def column_values(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.data]

    @property
    def is_figure(self) -> bool:
        """True for chart types drawn by `build_figure` (not table or number)."""
        return self.chart in FIGURE_TYPES


# ---------------------------------------------------------------- validation

def _fail(message: str) -> InvalidChartSpec:
    return InvalidChartSpec(message)


def _check_name(value: Any, what: str) -> None:
    if not isinstance(value, str):
        raise _fail(f"This widget's {what} must be a column name, not {_type(value)}.")
    if len(value) > MAX_NAME_CHARS:
        raise _fail(f"This widget's {what} is longer than {MAX_NAME_CHARS} characters.")


def _type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _check_cell(value: Any) -> None:
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail("This widget's data holds NaN or Infinity, which JSON cannot store.")
        return
    if isinstance(value, str):
        if len(value) > MAX_READ_CELL_CHARS:
            raise _fail(f"This widget's data holds a value longer than "
                        f"{MAX_READ_CELL_CHARS:,} characters.")
        return
    raise _fail(f"This widget's data holds {_type(value)} where a single value belongs.")


def validate(spec: ChartSpec) -> ChartSpec:
    """Check that a spec is well-formed and drawable; return it unchanged.

    Raises InvalidChartSpec (never anything else) with a sentence for the analyst.
    """
    if not isinstance(spec, ChartSpec):
        raise _fail("This widget's content is not a chart spec.")
    if not isinstance(spec.version, int) or isinstance(spec.version, bool):
        raise _fail("This widget's content has an unreadable version.")
    if spec.version > SPEC_VERSION:
        raise _fail("This widget was saved by a newer version of the app.")
    if spec.version != SPEC_VERSION:
        raise _fail("This widget's content has an unknown version.")
    if not isinstance(spec.chart, str) or spec.chart not in CHART_TYPES:
        shown = repr(spec.chart[:40]) if isinstance(spec.chart, str) else _type(spec.chart)
        raise _fail(f"Unknown chart type {shown}; use one of {', '.join(CHART_TYPES)}.")
    for value, what, limit in ((spec.title, "title", MAX_TITLE_CHARS),
                               (spec.note, "note", MAX_NOTE_CHARS)):
        if value is None and what == "note":
            continue
        if not isinstance(value, str):
            raise _fail(f"This widget's {what} must be text, not {_type(value)}.")
        if len(value) > limit:
            raise _fail(f"This widget's {what} is longer than {limit} characters.")
    _validate_table(spec)
    _validate_meta(spec)
    _validate_encoding(spec)
    return spec


def _validate_table(spec: ChartSpec) -> None:
    if not isinstance(spec.columns, list):
        raise _fail("This widget's columns must be a list of names.")
    if len(spec.columns) > MAX_COLUMNS:
        raise _fail(f"This widget has {len(spec.columns):,} columns; at most "
                    f"{MAX_COLUMNS} are kept.")
    for name in spec.columns:
        _check_name(name, "column list")
    if len(set(spec.columns)) != len(spec.columns):
        raise _fail("This widget's columns repeat a name.")
    if not isinstance(spec.data, list):
        raise _fail("This widget's data must be a list of rows.")
    if len(spec.data) > MAX_READ_ROWS:
        raise _fail(f"This widget's data has {len(spec.data):,} rows; at most "
                    f"{MAX_READ_ROWS:,} can be read.")
    width = len(spec.columns)
    for row in spec.data:
        if not isinstance(row, list):
            raise _fail("This widget's data rows must be lists of values.")
        if len(row) != width:
            raise _fail(f"The stored data does not match its columns: a row has "
                        f"{len(row)} values for {width} columns.")
        for value in row:
            # Fast path for the common cells; everything else gets the full check.
            kind = type(value)
            if kind is int or value is None or (kind is str and len(value) <= MAX_CELL_CHARS):
                continue
            _check_cell(value)


def _validate_meta(spec: ChartSpec) -> None:
    if spec.row_count is not None and (
            not isinstance(spec.row_count, int) or isinstance(spec.row_count, bool)
            or spec.row_count < 0):
        raise _fail("This widget's row_count must be a whole number of rows.")
    if not isinstance(spec.truncated, bool):
        raise _fail("This widget's truncated flag must be true or false.")
    if spec.refreshed_at is not None:
        if not isinstance(spec.refreshed_at, str) or len(spec.refreshed_at) > 40:
            raise _fail("This widget's refreshed_at must be an ISO-8601 timestamp.")
        try:
            dt.datetime.fromisoformat(spec.refreshed_at)
        except ValueError:
            raise _fail("This widget's refreshed_at must be an ISO-8601 timestamp.") from None
    if spec.orientation not in (None, "v", "h"):
        raise _fail('This widget\'s orientation must be "v" or "h".')


def _validate_encoding(spec: ChartSpec) -> None:
    for value, what in ((spec.x, "x"), (spec.color, "color")):
        if value is not None:
            _check_name(value, what)
    if not isinstance(spec.y, list):
        raise _fail("This widget's y must be a list of column names.")
    for name in spec.y:
        _check_name(name, "y")
    if len(set(spec.y)) != len(spec.y):
        raise _fail("This widget's y repeats a column.")
    for name in [spec.x, spec.color, *spec.y]:
        if name is not None and name not in spec.columns:
            raise _fail(f"The chart uses a column {name[:60]!r} that is not in the data.")
    chart = spec.chart
    if chart in {"line", "bar", "area", "scatter", "pie"}:
        if spec.x is None:
            raise _fail(f"{_cap(CHART_LABELS[chart])} needs a column for its x axis.")
        if not spec.y:
            raise _fail(f"{_cap(CHART_LABELS[chart])} needs at least one numeric column.")
    if chart in {"pie", "number"} and len(spec.y) != 1:
        raise _fail(f"{_cap(CHART_LABELS[chart])} shows exactly one numeric column.")
    if chart == "histogram" and spec.x is None and not spec.y:
        raise _fail("A histogram needs a column to count.")
    if spec.color is not None and len(spec.y) > 1:
        raise _fail("A chart split by colour draws exactly one numeric column.")
    for name in spec.y:
        for value in spec.column_values(name):
            if value is not None and not is_number(value):
                raise _fail(f"Column {name[:60]!r} holds values that are not numbers.")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------- reading stored content

def _reject_constant(name: str) -> Any:
    raise _fail(f"This widget's content holds {name}, which is not a valid JSON number.")


def parse_content(text: str | bytes | None) -> ChartSpec:
    """Read stored widget content; raise InvalidChartSpec on anything unreadable."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise _fail("This widget's content is not valid UTF-8 text.") from None
    if text is None or not isinstance(text, str) or not text.strip():
        raise _fail("This widget has no content yet.")
    if len(text) > MAX_CONTENT_CHARS:
        raise _fail(f"This widget's content is larger than {MAX_CONTENT_CHARS:,} "
                    "characters and was not read.")
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except InvalidChartSpec:
        raise
    except (ValueError, RecursionError):
        raise _fail("This widget's content is not valid JSON.") from None
    return from_dict(raw)


def from_dict(raw: Any) -> ChartSpec:
    """A spec from already-decoded JSON (a v1 object or a legacy form), validated."""
    if isinstance(raw, list):
        return validate(_legacy(raw, "line", ""))
    if not isinstance(raw, dict):
        raise _fail("This widget's content is not a chart spec.")
    chart = raw.get("chart", "line")
    if not isinstance(chart, str):
        raise _fail(f"This widget's chart type must be a name, not {_type(chart)}.")
    chart = normalize_chart(chart) or "line"
    title = raw.get("title")
    title = "" if title is None else title
    if "version" not in raw and "columns" not in raw:
        if not isinstance(title, str):
            raise _fail(f"This widget's title must be text, not {_type(title)}.")
        return validate(_legacy(raw.get("data"), chart, title))
    if "columns" not in raw or "data" not in raw:
        raise _fail("This widget's content lacks its columns or data.")
    y = raw.get("y")
    y = [] if y is None else [y] if isinstance(y, str) else y
    spec = ChartSpec(
        chart=chart, columns=raw["columns"], data=raw["data"],
        title=title[:MAX_TITLE_CHARS] if isinstance(title, str) else title,
        x=raw.get("x"), y=y, color=raw.get("color"), row_count=raw.get("row_count"),
        truncated=raw.get("truncated", False), refreshed_at=raw.get("refreshed_at"),
        version=raw.get("version", SPEC_VERSION), note=raw.get("note"),
        orientation=raw.get("orientation"),
    )
    return validate(spec)


def _legacy(data: Any, chart: str, title: str) -> ChartSpec:
    """Seed-era content: a bare list of numbers or a list of flat objects."""
    if not isinstance(data, list):
        raise _fail("This widget's content has no data list to draw.")
    if len(data) > MAX_READ_ROWS:
        raise _fail(f"This widget's data has {len(data):,} rows; at most "
                    f"{MAX_READ_ROWS:,} can be read.")
    if all(v is None or is_number(v) for v in data):
        rows = [[i + 1, v] for i, v in enumerate(data)]
        spec = ChartSpec(chart=chart, columns=["point", "value"], data=rows, title=title,
                         x="point", y=["value"], row_count=len(rows))
        return spec if chart != "histogram" else dataclasses.replace(spec, x="value", y=[])
    if all(isinstance(v, dict) for v in data):
        columns = list(dict.fromkeys(k for row in data for k in row))
        rows = [[row.get(c) for c in columns] for row in data]
        for row in rows:
            for value in row:
                _check_cell(value)
        kinds = {c: column_kind(c, None, [r[i] for r in rows]) for i, c in enumerate(columns)}
        encoding = choose_encoding(columns, kinds, rows, requested=chart)
        return ChartSpec(chart=encoding.chart, columns=columns, data=rows, title=title,
                         x=encoding.x, y=list(encoding.y), color=encoding.color,
                         orientation=encoding.orientation, row_count=len(rows),
                         note=encoding.note)
    raise _fail("This widget's content is a list, but not of numbers or records.")


# ---------------------------------------------------------------- snapshots from results

class ResultColumnLike(Protocol):
    name: str
    type_name: str


class ResultLike(Protocol):
    """What `spec_from_result` reads: the executor's QueryResult has these fields."""

    columns: Sequence[ResultColumnLike]
    rows: Sequence[Sequence[Any]]
    row_count: int
    truncated: bool


def plain_value(value: Any) -> Any:
    """A database value as plain JSON: numbers, ISO strings, text, or None."""
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            return value[: MAX_CELL_CHARS - 1] + "…"
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return plain_value("\\x" + bytes(value)[: MAX_CELL_CHARS // 2].hex())
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        try:
            return plain_value(json.dumps(value, default=str, ensure_ascii=False))
        except (ValueError, RecursionError):
            return plain_value(str(value))
    return plain_value(str(value))


def _unique_names(names: Sequence[str]) -> list[str]:
    """SQL allows `SELECT a.id, b.id`; a spec needs distinct column names."""
    seen: set[str] = set()
    out = []
    for raw in names:
        base = (str(raw) or "column")[:MAX_NAME_CHARS - 4]
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        out.append(name)
    return out


def _fit_rows(rows: list[list[Any]], budget: int) -> list[list[Any]]:
    """As many leading rows as fit in `budget` characters of JSON."""
    used = 0
    for i, row in enumerate(rows):
        used += len(json.dumps(row, ensure_ascii=False)) + 1
        if used > budget:
            return rows[:i]
    return rows


def spec_from_result(
    result: ResultLike,
    *,
    chart: str | None = None,
    title: str = "",
    prompt: str = "",
    now: dt.datetime | None = None,
) -> ChartSpec:
    """A validated spec for a query result: chosen chart, encoding and a capped snapshot.

    An explicit `chart` wins, else a chart word in `prompt`, else inference from the
    result; a request the result cannot honour falls back with a `note` saying why.
    """
    notes: list[str] = []
    names = _unique_names([c.name for c in result.columns])
    types = [getattr(c, "type_name", None) for c in result.columns]
    width = len(names)
    if width > MAX_COLUMNS:
        notes.append(f"Only the first {MAX_COLUMNS} of {width} columns are kept.")
        names, types = names[:MAX_COLUMNS], types[:MAX_COLUMNS]
    data = [[plain_value(v) for v in list(row)[: len(names)]]
            for row in result.rows[:MAX_SNAPSHOT_ROWS]]
    data = _fit_rows(data, MAX_CONTENT_CHARS * 3 // 4)
    kinds: dict[str, Kind] = {
        name: column_kind(name, types[i], [r[i] for r in data]) for i, name in enumerate(names)
    }
    requested: str | None
    try:
        requested = normalize_chart(chart) if chart else requested_chart(prompt)
    except InvalidChartSpec:
        notes.append(f"Chart type {str(chart)[:40]!r} is unknown; the chart was chosen "
                     "from the data.")
        requested = requested_chart(prompt)
    encoding = choose_encoding(names, kinds, data, requested=requested, prompt=prompt)
    if encoding.note:
        notes.insert(0, encoding.note)
    total = max(int(result.row_count or 0), len(result.rows))
    stamp = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    note = " ".join(notes)[:MAX_NOTE_CHARS] or None
    spec = ChartSpec(
        chart=encoding.chart, columns=names, data=data, title=str(title or "")[:MAX_TITLE_CHARS],
        x=encoding.x, y=list(encoding.y), color=encoding.color, row_count=total,
        truncated=bool(result.truncated) or len(data) < total, refreshed_at=stamp,
        note=note, orientation=encoding.orientation,
    )
    return validate(spec)


def kinds_of(spec: ChartSpec, names: Sequence[str] | None = None) -> dict[str, Kind]:
    """Column kinds judged from the snapshot's values (ISO strings read as times)."""
    return {name: column_kind(name, None, spec.column_values(name))
            for name in (spec.columns if names is None else names)}


def respec(spec: ChartSpec, *, chart: str | None = None) -> ChartSpec:
    """The same snapshot drawn as another chart type (None: choose from the data again)."""
    validate(spec)
    encoding = choose_encoding(spec.columns, kinds_of(spec), spec.data,
                               requested=normalize_chart(chart), prompt=spec.title)
    return validate(dataclasses.replace(
        spec, chart=encoding.chart, x=encoding.x, y=list(encoding.y), color=encoding.color,
        orientation=encoding.orientation, note=encoding.note))


# ---------------------------------------------------------------- formatting helpers

def humanize(name: str) -> str:
    """A readable label from a column name: `avg_order_value` -> `Avg order value`."""
    words = str(name).replace("_", " ").split()
    words = ["%" if w.lower() in {"pct", "percent"} else w for w in words]
    text = " ".join(words) or str(name)
    return text[:1].upper() + text[1:]  # only the first letter: "MRR by month" stays


def format_number(value: Any, *, compact: bool = False) -> str:
    """A number for people: thousands separators, sensible decimals, optional K/M/B.

    1234567 -> "1,234,567"; 1234.5 -> "1,235"; 12.345 -> "12.35"; 0.04231 -> "0.0423";
    compact: 1234567 -> "1.23M". None, NaN and Infinity -> "—"; text passes through.
    """
    if value is None:
        return "—"
    if isinstance(value, bool) or not is_number(value):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return "—"
    if compact and abs(number) >= 1_000:
        rounded = float(f"{number:.3g}")  # 999,999 -> 1,000,000 -> "1M", not "1e+03K"
        for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if abs(rounded) >= limit:
                scaled = rounded / limit
                return (f"{scaled:,.0f}" if abs(scaled) >= 1000 else f"{scaled:.3g}") + suffix
    if isinstance(value, int):
        return f"{value:,}"
    if abs(number) >= 1_000 or number.is_integer():
        return f"{_half_up(number, 0):,.0f}"
    if abs(number) >= 1:
        return f"{_half_up(number, 2):,.2f}".rstrip("0").rstrip(".")
    # Below one: three significant digits, never scientific notation.
    digits = max(2, 2 - math.floor(math.log10(abs(number))))
    return f"{_half_up(number, digits):.{digits}f}".rstrip("0").rstrip(".")


def _half_up(number: float, decimals: int) -> Decimal:
    """Round as people do (1234.5 -> 1235), not to even; repr keeps 0.125 exact."""
    return Decimal(repr(number)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP,
                                          context=_WIDE)


_WIDE = Context(prec=400)  # enough digits for any float, so quantize never overflows


@dataclass(frozen=True)
class NumberCard:
    """What the UI's number card shows: label, formatted value, optional caption."""

    label: str
    value: Any
    text: str
    caption: str | None = None


def number_card(spec: ChartSpec) -> NumberCard:
    """The first row's value of a number spec, formatted; raw text, never Markdown."""
    validate(spec)
    column = spec.y[0] if spec.y else (spec.columns[0] if spec.columns else "value")
    value = spec.data[0][spec.columns.index(column)] if spec.data and spec.columns else None
    caption = None
    if spec.x is not None and spec.data:
        raw = spec.data[0][spec.columns.index(spec.x)]
        caption = None if raw is None else str(raw)
    return NumberCard(label=humanize(column), value=value, text=format_number(value),
                      caption=caption)


def table_frame(spec: ChartSpec) -> pd.DataFrame:
    """The snapshot as a DataFrame (dates as dates, timestamps as datetimes)."""
    validate(spec)
    frame = pd.DataFrame(spec.data, columns=list(spec.columns))
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in spec.columns})
    for name, kind in kinds_of(spec).items():
        if kind != "time" or all(is_number(v) for v in spec.column_values(name) if v is not None):
            continue
        values = spec.column_values(name)
        try:
            if all(v is None or len(v) == 10 for v in values):
                frame[name] = pd.Series(
                    [None if v is None else dt.date.fromisoformat(v) for v in values],
                    dtype="object")
            else:
                frame[name] = pd.to_datetime(pd.Series(values), format="ISO8601")
        except (ValueError, TypeError):
            continue  # mixed offsets or odd strings: keep the text as it is
    return frame


# ---------------------------------------------------------------- figures

def _text(value: Any) -> str:
    """Data shown by Plotly as text: escaped so `<a href>`/`<img>` stay literal text."""
    return html.escape("" if value is None else str(value), quote=False)


def _template_text(value: Any) -> str:
    """Escaped text placed inside a hovertemplate: a literal `%{` must not substitute."""
    return _text(value).replace("%", "&#37;")


def _label(value: Any) -> str:
    return "(blank)" if value is None or value == "" else _text(value)


def color_for(label: Any) -> str:
    """The palette colour of a category: a stable hash, the same in every widget."""
    return PALETTE[zlib.crc32(str(label).encode("utf-8")) % len(PALETTE)]


def assign_colors(labels: Sequence[Any]) -> dict[str, str]:
    """Colours for the categories of one figure: each its hashed colour unless already
    taken in this figure, then the next free one (probing in label order, so the same
    set of categories always gets the same colours)."""
    out: dict[str, str] = {}
    used: set[int] = set()
    for label in sorted({str(v) for v in labels}):
        slot = zlib.crc32(label.encode("utf-8")) % len(PALETTE)
        if len(used) < len(PALETTE):
            while slot in used:
                slot = (slot + 1) % len(PALETTE)
        used.add(slot)
        out[label] = PALETTE[slot]
    return out


# Legends sit in one horizontal row above the plot (wrapping when needed), so a card's
# full width goes to the data, even on a phone.
LEGEND = {"orientation": "h", "x": 0.0, "xanchor": "left", "y": 1.0, "yanchor": "bottom",
          "bgcolor": "rgba(0,0,0,0)", "title": {"side": "left"}}
_GRID = "rgba(128,128,128,0.22)"
_AXIS = {"gridcolor": _GRID, "zerolinecolor": "rgba(128,128,128,0.4)",
         "linecolor": "rgba(128,128,128,0.5)", "automargin": True, "title": {"standoff": 8}}
TEMPLATE = go.layout.Template(layout={
    # Transparent backgrounds and grey grids read well on light and dark themes alike;
    # font colour is left to the host (Streamlit's theme sets it per light/dark).
    "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
    "colorway": list(PALETTE), "font": {"size": 13},
    "xaxis": _AXIS, "yaxis": _AXIS, "separators": ".,",
    "legend": {"bgcolor": "rgba(0,0,0,0)"}, "hoverlabel": {"font": {"size": 12}},
})


@dataclass
class _Series:
    name: str | None
    x: list[Any]
    y: list[Any]


def _number_format(values: Sequence[Any]) -> str:
    """A d3 format for hover values: integers with separators, small fractions with
    three significant digits (0.00123 must not read as 0), others with two decimals."""
    if not any(isinstance(v, float) for v in values):
        return ":,"
    peak = max((abs(v) for v in values if is_number(v)), default=0.0)
    return ":.3~g" if 0 < peak < 1 else ":,.2~f"


def _x_format(kind: Kind, values: Sequence[Any]) -> str:
    if kind == "time" and not any(is_number(v) for v in values):
        timed = any(isinstance(v, str) and len(v) > 10 and v[11:19] not in ("", "00:00:00")
                    for v in values)
        return "|%Y-%m-%d %H:%M" if timed else "|%Y-%m-%d"
    return _number_format(values) if kind in ("number",) else ""


def _total(values: Sequence[Any]) -> float:
    return sum(abs(float(v)) for v in values if is_number(v))


def _series(spec: ChartSpec, notes: list[str]) -> list[_Series]:
    """One series per y column, or per value of the colour column (long data pivoted)."""
    x = spec.column_values(spec.x) if spec.x else list(range(1, len(spec.data) + 1))
    if spec.color is None:
        return [_Series(name if len(spec.y) > 1 else None, x, spec.column_values(name))
                for name in spec.y]
    groups: dict[Any, _Series] = {}
    ys = spec.column_values(spec.y[0])
    for cx, cy, key in zip(x, ys, spec.column_values(spec.color), strict=True):
        series = groups.setdefault(key, _Series("(blank)" if key is None else str(key), [], []))
        series.x.append(cx)
        series.y.append(cy)
    ordered = sorted(groups.values(), key=lambda s: -_total(s.y))
    if len(ordered) > MAX_SERIES:
        notes.append(f"Showing the {MAX_SERIES} largest of {len(ordered):,} series")
        ordered = ordered[:MAX_SERIES]
    return ordered


def _sort_by_x(series: _Series) -> _Series:
    pairs = sorted(zip(series.x, series.y, strict=True),
                   key=lambda p: (p[0] is None, p[0] if p[0] is not None else 0))
    return _Series(series.name, [p[0] for p in pairs], [p[1] for p in pairs])


def downsample(x: Sequence[Any], y: Sequence[Any], limit: int) -> tuple[list[Any], list[Any]]:
    """At most about `limit` points, keeping each bucket's lowest and highest value
    (peaks and dips survive, unlike taking every n-th point)."""
    n = len(x)
    if n <= limit:
        return list(x), list(y)
    buckets = max(1, (limit - 2) // 2)
    keep = {0, n - 1}
    size = (n - 2) / buckets
    for b in range(buckets):
        lo, hi = 1 + int(b * size), 1 + int((b + 1) * size)
        idx = [i for i in range(lo, min(hi, n - 1)) if is_number(y[i])]
        if idx:
            keep.add(min(idx, key=lambda i: float(y[i])))
            keep.add(max(idx, key=lambda i: float(y[i])))
    ordered = sorted(keep)
    return [x[i] for i in ordered], [y[i] for i in ordered]


def _display_x(values: Sequence[Any], kind: Kind) -> np.ndarray:
    """Axis values for Plotly: numbers and ISO times as they are, text escaped.

    NumPy arrays, because Plotly validates Python lists element by element (several
    times slower for a few thousand points); figure JSON is never stored, so its base64
    arrays do no harm.
    """
    if kind == "number" or (kind == "time" and all(is_number(v) for v in values
                                                    if v is not None)):
        return _numbers(values)
    if kind == "time":
        return np.array(list(values), dtype=object)
    return np.array([_label(v) for v in values], dtype=object)


def _numbers(values: Sequence[Any]) -> np.ndarray:
    """Numbers as floats, None as NaN (a gap in lines, skipped by bars)."""
    return np.array([v if is_number(v) else None for v in values], dtype=float)


def _hover(x_label: str, x_fmt: str, y_label: str, y_fmt: str, name: str | None,
           horizontal: bool = False) -> str:
    """Hover text naming the columns; every label is raw here and escaped once."""
    xa, ya = ("y", "x") if horizontal else ("x", "y")
    extra = _template_text(name) if name else ""
    return (f"{_template_text(x_label)}: %{{{xa}{x_fmt}}}<br>"
            f"{_template_text(y_label)}: %{{{ya}{y_fmt}}}<extra>{extra}</extra>")


@dataclass
class _Draft:
    """A figure as plain dicts, turned into a `go.Figure` once at the end: Plotly
    validates a dict in one pass, while `update_layout`/`add_trace` calls each walk its
    property machinery (several ms per figure)."""

    traces: list[dict[str, Any]] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)

    def axis(self, name: str, title: str, **props: Any) -> None:
        self.layout.setdefault(name, {}).update(title={"text": _text(title)}, **props)


def _draw_xy(fig: _Draft, spec: ChartSpec, kinds: dict[str, Kind], notes: list[str]) -> None:
    assert spec.x is not None
    kind = kinds[spec.x]
    all_series = _series(spec, notes)
    colors = assign_colors([s.name for s in all_series if s.name is not None])
    x_label = humanize(spec.x)
    y_label = humanize(spec.y[0]) if len(spec.y) == 1 else "Value"
    thinned = 0
    for s in all_series:
        if kind in ("time", "number", "id"):
            s = _sort_by_x(s)  # SQL without ORDER BY: lines must not zig-zag
        limit = MAX_SCATTER_POINTS if spec.chart == "scatter" else MAX_LINE_POINTS
        if len(s.x) > limit:
            thinned = max(thinned, len(s.x))
            s.x, s.y = downsample(s.x, s.y, limit)
        name = _label(s.name) if s.name is not None else None
        color = colors.get(str(s.name)) if s.name is not None else color_for(spec.y[0])
        value_label = humanize(spec.y[0]) if spec.color or len(spec.y) == 1 else str(s.name)
        trace: dict[str, Any] = {
            "type": "scatter", "x": _display_x(s.x, kind), "y": _numbers(s.y), "name": name,
            "showlegend": name is not None,
            "hovertemplate": _hover(x_label, _x_format(kind, s.x), value_label,
                                    _number_format(s.y), s.name)}
        if spec.chart == "scatter":
            trace.update(mode="markers", marker={"color": color, "size": 7, "opacity": 0.8})
        elif spec.chart == "area":
            trace.update(mode="lines", line={"color": color, "width": 1.5})
            if len(all_series) > 1:
                trace["stackgroup"] = "one"
            else:
                trace["fill"] = "tozeroy"
        else:
            trace.update(mode="lines", line={"color": color, "width": 2})
        fig.traces.append(trace)
    if thinned:
        notes.append(f"Lines thinned to about {MAX_LINE_POINTS:,} of {thinned:,} points "
                     "(peaks kept)" if spec.chart != "scatter"
                     else f"Showing {MAX_SCATTER_POINTS:,} of {thinned:,} points")
    fig.axis("xaxis", x_label, **_axis_type(kind, spec.column_values(spec.x)))
    # Areas are filled down to a baseline: the axis must show zero.
    fig.axis("yaxis", y_label, **({"rangemode": "tozero"} if spec.chart == "area" else {}))
    if spec.chart in ("line", "area") and kind == "time" and len(all_series) > 1:
        fig.layout["hovermode"] = "x unified"


def _axis_type(kind: Kind, values: Sequence[Any]) -> dict[str, Any]:
    if kind == "time" and values and all(is_number(v) for v in values if v is not None):
        return {"type": "category"}  # year/month numbers: no 2023.5 ticks
    if kind == "time":
        return {"type": "date"}
    if kind in ("text", "id"):
        return {"type": "category"}
    return {}


def _draw_bar(fig: _Draft, spec: ChartSpec, kinds: dict[str, Kind], notes: list[str]) -> None:
    assert spec.x is not None
    kind = kinds[spec.x]
    all_series = _series(spec, notes)
    horizontal = spec.orientation == "h"
    categorical = kind in ("text", "id")
    keep: set[Any] | None = None
    labels = list(dict.fromkeys(spec.column_values(spec.x)))
    limit = MAX_BARS if categorical else MAX_TIME_BARS
    if len(labels) > limit:
        if categorical:
            totals: dict[Any, float] = {}
            for s in all_series:
                for cx, cy in zip(s.x, s.y, strict=True):
                    totals[cx] = totals.get(cx, 0.0) + (float(cy) if is_number(cy) else 0.0)
            keep = set(sorted(totals, key=lambda k: -totals[k])[:limit])
            notes.append(f"Showing the {limit} largest of {len(labels):,} bars")
        else:
            keep = set(sorted((v for v in labels if v is not None), key=str)[-limit:])
            notes.append(f"Showing the latest {limit} of {len(labels):,} bars")
    colors = assign_colors([s.name for s in all_series if s.name is not None])
    x_label = humanize(spec.x)
    for s in all_series:
        if keep is not None:
            pairs = [(cx, cy) for cx, cy in zip(s.x, s.y, strict=True) if cx in keep]
            s = _Series(s.name, [p[0] for p in pairs], [p[1] for p in pairs])
        name = _label(s.name) if s.name is not None else None
        color = colors.get(str(s.name)) if s.name is not None else color_for(spec.y[0])
        cats, values = _display_x(s.x, kind), _numbers(s.y)
        value_label = humanize(spec.y[0]) if spec.color or len(spec.y) == 1 else str(s.name)
        fig.traces.append({
            "type": "bar", "x": values if horizontal else cats,
            "y": cats if horizontal else values, "orientation": "h" if horizontal else "v",
            "name": name, "marker": {"color": color}, "showlegend": name is not None,
            "hovertemplate": _hover(x_label, _x_format(kind, s.x), value_label,
                                    _number_format(s.y), s.name, horizontal=horizontal)})
    cat_axis: dict[str, Any] = _axis_type(kind, spec.column_values(spec.x))
    if categorical:
        # Largest first: at the left for columns, at the top for horizontal bars.
        cat_axis["categoryorder"] = "total ascending" if horizontal else "total descending"
    value_title = humanize(spec.y[0]) if len(spec.y) == 1 else "Value"
    fig.axis("yaxis" if horizontal else "xaxis", x_label, **cat_axis)
    fig.axis("xaxis" if horizontal else "yaxis", value_title, rangemode="tozero")
    bars = len(keep) if keep is not None else len(labels)
    if horizontal and bars > 12:
        fig.layout["height"] = min(1600, 120 + 24 * bars)
    if len(all_series) > 1:
        fig.layout["barmode"] = "group" if len(all_series) <= 4 else "stack"


def _draw_pie(fig: _Draft, spec: ChartSpec, kinds: dict[str, Kind], notes: list[str]) -> None:
    assert spec.x is not None
    totals: dict[Any, float] = {}
    dropped = 0
    for label, value in zip(spec.column_values(spec.x), spec.column_values(spec.y[0]),
                            strict=True):
        if not is_number(value) or float(value) < 0:
            dropped += 1 if value is not None else 0
            continue
        totals[label] = totals.get(label, 0.0) + float(value)
    if dropped:
        notes.append(f"{dropped:,} negative value(s) left out")
    ordered = sorted(totals.items(), key=lambda kv: -kv[1])
    if len(ordered) > PIE_SLICES:
        rest = ordered[PIE_SLICES - 1:]
        ordered = [*ordered[: PIE_SLICES - 1], ("Other", sum(v for _, v in rest))]
        notes.append(f"{len(rest):,} smallest parts summed into Other")
    colors = assign_colors([str(k) for k, _ in ordered])
    value_label = _template_text(humanize(spec.y[0]))
    fig.traces.append({
        "type": "pie", "labels": np.array([_label(k) for k, _ in ordered], dtype=object),
        "values": _numbers([v for _, v in ordered]), "sort": False,
        "direction": "clockwise", "textinfo": "percent", "name": _text(humanize(spec.y[0])),
        "marker": {"colors": [colors[str(k)] for k, _ in ordered],
                   "line": {"color": "rgba(128,128,128,0.3)", "width": 1}},
        "hovertemplate": (f"%{{label}}<br>{value_label}: "
                          f"%{{value{_number_format([v for _, v in ordered])}}} "
                          "(%{percent})<extra></extra>")})
    fig.layout["legend"] = {**LEGEND, "title": {"text": _text(humanize(spec.x))}}


def _draw_histogram(fig: _Draft, spec: ChartSpec, kinds: dict[str, Kind],
                    notes: list[str]) -> None:
    targets = spec.y or [spec.x]
    groups: list[tuple[str | None, list[Any]]] = []
    if spec.color and spec.x and not spec.y:
        by: dict[Any, list[Any]] = {}
        for value, key in zip(spec.column_values(spec.x), spec.column_values(spec.color),
                              strict=True):
            by.setdefault(key, []).append(value)
        keys = sorted(by, key=lambda k: -len(by[k]))
        if len(keys) > MAX_SERIES:
            notes.append(f"Showing the {MAX_SERIES} largest of {len(keys):,} groups")
        groups = [("(blank)" if k is None else str(k), by[k]) for k in keys[:MAX_SERIES]]
    else:
        groups = [(name if len(targets) > 1 else None, spec.column_values(name))
                  for name in targets if name is not None]
    colors = assign_colors([g for g, _ in groups if g is not None])
    binned = targets[0] if len(targets) == 1 else None
    kind = kinds.get(binned, "number") if binned else "number"
    binned_label = _template_text(humanize(binned or "value"))
    for name, values in groups:
        label = _label(name) if name is not None else None
        fig.traces.append({
            "type": "histogram", "x": _display_x([v for v in values if v is not None], kind),
            "name": label, "showlegend": label is not None,
            "marker": {"color": colors[name] if name is not None else color_for(binned or "")},
            "opacity": 0.75 if len(groups) > 1 else 1.0,
            "hovertemplate": (f"{binned_label}: %{{x}}<br>Count: %{{y:,}}"
                              f"<extra>{_template_text(name or '')}</extra>")})
    fig.axis("xaxis", humanize(binned) if binned else "Value")
    fig.axis("yaxis", "Count")
    if len(groups) > 1:
        fig.layout["barmode"] = "overlay"


_DRAWERS: dict[str, Callable[[_Draft, ChartSpec, dict[str, Kind], list[str]], None]] = {
    "line": _draw_xy, "area": _draw_xy, "scatter": _draw_xy, "bar": _draw_bar,
    "pie": _draw_pie, "histogram": _draw_histogram,
}


def build_figure(spec: ChartSpec) -> go.Figure:
    """A Plotly figure for the chart types drawn as figures (not table/number).

    Every title, label, legend entry and category shown is escaped text (Plotly renders
    a subset of HTML such as `<a href>` in those places), long data is thinned or cut
    with a visible note, and category colours are stable across widgets.
    """
    validate(spec)
    if spec.chart not in FIGURE_TYPES:
        raise _fail(f"A {spec.chart} widget is not drawn as a figure.")
    notes: list[str] = []
    if spec.truncated or (spec.row_count is not None and spec.row_count > len(spec.data)):
        of = (f"{spec.row_count:,}" if spec.row_count and spec.row_count > len(spec.data)
              else "more")
        notes.append(f"Showing the first {len(spec.data):,} of {of} rows")
    if not spec.data:
        notes.append("The query returned no rows")
    draft = _Draft()
    encoded = list(dict.fromkeys(n for n in (spec.x, spec.color, *spec.y) if n is not None))
    _DRAWERS[spec.chart](draft, spec, kinds_of(spec, encoded), notes)
    layout = draft.layout
    layout["template"] = TEMPLATE
    top = 56 if spec.title else 28
    layout["margin"] = {"l": 8, "r": 8, "t": top + (16 if notes else 0), "b": 8}
    if spec.title:
        layout["title"] = {"text": _text(spec.title), "x": 0.0, "xanchor": "left",
                           "pad": {"l": 8}, "font": {"size": 16}}
    if spec.color:
        layout["legend"] = {**LEGEND, "title": {"text": _text(humanize(spec.color))}}
    elif spec.chart != "pie":
        layout["legend"] = dict(LEGEND)
    legend = spec.chart != "pie" and any(t.get("showlegend") for t in draft.traces)
    if notes:
        # Notes sit at the top, above the legend row (which sits just above the plot).
        lift = 30 if legend else 4
        layout["margin"]["t"] += lift - 4
        layout["annotations"] = [{
            "text": _text("; ".join(notes) + "."), "xref": "paper", "yref": "paper",
            "x": 1.0, "y": 1.0, "xanchor": "right", "yanchor": "bottom", "yshift": lift,
            "showarrow": False, "align": "right",
            "font": {"size": 11, "color": "rgba(128,128,128,1)"}}]
    return go.Figure({"data": draft.traces, "layout": layout})
