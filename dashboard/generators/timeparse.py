"""Time words in a prompt: periods (years, quarters, months, ranges, relative) and grains.

Pure functions over lower-case text; each finding carries its character span so the
planner can mask it before matching schema words. Ranges are half-open: `start`
inclusive, `end` exclusive, so no last day is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "sixty": 60, "ninety": 90, "a": 1, "an": 1,
}
_ORDINAL = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
            "fourth": 4, "4th": 4, "last": 4, "final": 4}
GRAINS = ("day", "week", "month", "quarter", "year")

_MONTH = r"(?P<{n}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<{n}>(?:19|20)\d{{2}})"
_COUNT = r"(?P<n>\d+|" + "|".join(k for k in _NUMBERS if k not in {"a", "an"}) + r")"


@dataclass(frozen=True)
class Period:
    """A half-open date range; `relative` ones are resolved later against an anchor."""

    start: date | None
    end: date | None
    label: str
    relative: tuple[str, int, str] | None = None  # (kind, n, unit): kind last|this|previous

    def resolve(self, anchor: date) -> Period:
        """A concrete period for a relative one (`anchor` = the last day that counts)."""
        if self.relative is None:
            return self
        kind, n, unit = self.relative
        after = anchor + timedelta(days=1)
        if kind == "rolling":  # the last n units up to and including the anchor day
            return Period(_shift(after, unit, -n), after, self.label)
        start = period_start(anchor, unit)
        if kind == "this":
            return Period(start, after, self.label)
        if kind == "previous":
            return Period(_shift(start, unit, -1), start, self.label)
        if kind == "today":
            return Period(anchor, after, self.label)
        if kind == "yesterday":
            return Period(anchor - timedelta(days=1), anchor, self.label)
        raise ValueError(kind)


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    value: object


def period_start(day: date, unit: str) -> date:
    """The first day of the calendar `unit` (week starts Monday, as date_trunc) holding `day`."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _shift(day: date, unit: str, n: int) -> date:
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    # Keep the day where it exists (a shift from the 31st lands on the month's end + 1).
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last)) if day.day <= last else \
        date(year, month, last) + timedelta(days=1)


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word]


def _month_period(year: int, month: int) -> Period:
    end = date(year + (month == 12), month % 12 + 1, 1)
    return Period(date(year, month, 1), end, date(year, month, 1).strftime("%B %Y"))


def _quarter_period(year: int, quarter: int) -> Period:
    start = date(year, 3 * (quarter - 1) + 1, 1)
    return Period(start, _shift(start, "quarter", 1), f"Q{quarter} {year}")


def _year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year + 1, 1, 1), str(year))


# A single "point" period: the building block of ranges and of since/before phrases.
_POINT_PATTERNS: list[tuple[str, str]] = [
    ("iso", r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"),
    ("mdy", _MONTH.format(n="mon") + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+"
     + _YEAR.format(n="y")),
    ("dmy", r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH.format(n="mon")
     + r",?\s+" + _YEAR.format(n="y")),
    ("ym", r"(?P<y>\d{4})-(?P<m>\d{2})(?!-?\d)"),
    ("quarter", r"q(?P<q>[1-4])\s*(?:of\s+|in\s+)?" + _YEAR.format(n="y")),
    ("quarter", _YEAR.format(n="y") + r"\s*-?\s*q(?P<q>[1-4])"),
    ("quarter", r"(?:the\s+)?(?P<qo>first|second|third|fourth|last|final|1st|2nd|3rd|4th)"
     r"\s+quarter\s+(?:of\s+|in\s+)?" + _YEAR.format(n="y")),
    ("half", r"(?:the\s+)?(?P<h>first|second|1st|2nd)\s+half\s+(?:of\s+|in\s+)?"
     + _YEAR.format(n="y")),
    ("half", r"h(?P<h>[12])\s+" + _YEAR.format(n="y")),
    ("month", _MONTH.format(n="mon") + r",?\s+(?:of\s+)?" + _YEAR.format(n="y")),
    ("year", r"(?:the\s+year\s+)?" + _YEAR.format(n="y")),
]
# Every point pattern without its group names, to embed in larger patterns.
_POINT = re.sub(r"\(\?P<\w+>", "(?:", "|".join(f"(?:{p})" for _, p in _POINT_PATTERNS))


def _point(text: str) -> Period | None:
    """Parse one point period from the whole of `text`."""
    for kind, pattern in _POINT_PATTERNS:
        m = re.fullmatch(pattern, text.strip())
        if not m:
            continue
        g = m.groupdict()
        year = int(g["y"])
        if kind == "iso" or kind in {"mdy", "dmy"}:
            month = int(g["m"]) if kind == "iso" else MONTHS[g["mon"]]
            try:
                day = date(year, month, int(g["d"]))
            except ValueError:
                return None
            return Period(day, day + timedelta(days=1), day.isoformat())
        if kind == "ym":
            month = int(g["m"])
            return _month_period(year, month) if 1 <= month <= 12 else None
        if kind == "quarter":
            quarter = int(g["q"]) if g.get("q") else _ORDINAL[g["qo"]]
            return _quarter_period(year, quarter)
        if kind == "half":
            half = int(g["h"]) if g["h"].isdigit() else _ORDINAL[g["h"]]
            start = date(year, 1 if half == 1 else 7, 1)
            return Period(start, _shift(start, "month", 6), f"H{half} {year}")
        if kind == "month":
            return _month_period(year, MONTHS[g["mon"]])
        return _year_period(year)
    return None


def _bare_month(word: str, year: int) -> Period | None:
    month = MONTHS.get(word.strip().rstrip("."))
    return _month_period(year, month) if month else None


_RANGE = re.compile(
    r"\b(?:between|from)\s+(?P<a>" + _POINT + r"|"
    + _MONTH.format(n="am") + r")\s+(?:and|to|through|thru|until|till|-)\s+(?P<b>"
    + _POINT + r")\b")
_OPEN = re.compile(
    r"\b(?P<op>since|after|from|starting|before|until|till|through|up to|prior to)\s+"
    r"(?:the\s+(?:start|beginning|end)\s+of\s+)?(?P<a>" + _POINT + r")\b")
_LAST_OF_YEAR = re.compile(r"\b(?:the\s+)?(?P<qo>first|second|third|fourth|last|final)"
                           r"\s+(?P<unit>quarter|month|week)\s+(?:of|in)\s+"
                           + _YEAR.format(n="y") + r"\b")
_ROLLING = re.compile(r"\b(?:in\s+|over\s+|during\s+|for\s+)?(?:the\s+)?(?:last|past|previous|"
                      r"prior|trailing)\s+" + _COUNT + r"\s+(?P<unit>day|week|month|quarter|"
                      r"year)s?\b")
_CALENDAR = re.compile(r"\b(?:in\s+|during\s+|for\s+)?(?P<kind>this|current|last|previous|"
                       r"prior|past)\s+(?P<unit>week|month|quarter|year)\b(?!\s+(?:of|in)\s+\d)")
_TO_DATE = re.compile(r"\b(?P<unit>year|month|quarter|week)[- ]to[- ]date\b|\b(?P<abbr>ytd|"
                      r"mtd|qtd)\b")
_DAYS = re.compile(r"\b(?P<kind>today|yesterday)\b")
_POINT_RE = re.compile(r"\b(?:" + _POINT + r")\b")


def find_periods(text: str) -> list[Found]:
    """Periods mentioned in lower-case `text`, left to right, non-overlapping."""
    found: list[Found] = []

    def free(a: int, b: int) -> bool:
        return all(b <= f.start or a >= f.end for f in found)

    for m in _RANGE.finditer(text):
        end = _point(m.group("b"))
        start = _point(m.group("a")) if not m.group("am") else (
            _bare_month(m.group("am"), end.start.year) if end and end.start else None)
        if start and end and free(m.start(), m.end()):
            found.append(Found(m.start(), m.end(), Period(
                start.start, end.end, f"{start.label} to {end.label}")))
    for m in _LAST_OF_YEAR.finditer(text):
        if not free(m.start(), m.end()):
            continue
        year, unit, ordinal = int(m.group("y")), m.group("unit"), m.group("qo")
        if unit == "quarter":
            period = _quarter_period(year, _ORDINAL[ordinal])
        elif unit == "month":
            period = _month_period(year, 12 if ordinal in {"last", "final"} else
                                   _ORDINAL[ordinal])
        else:
            continue
        found.append(Found(m.start(), m.end(), period))
    for m in _OPEN.finditer(text):
        point = _point(m.group("a"))
        if point is None or not free(m.start(), m.end()):
            continue
        op = m.group("op")
        if op in {"since", "from", "starting"}:
            period = Period(point.start, None, f"since {point.label}")
        elif op == "after":
            period = Period(point.end, None, f"after {point.label}")
        elif op in {"before", "prior to"}:
            period = Period(None, point.start, f"before {point.label}")
        else:  # until / through / up to: the named period is included
            period = Period(None, point.end, f"up to {point.label}")
        found.append(Found(m.start(), m.end(), period))
    for m in _ROLLING.finditer(text):
        if free(m.start(), m.end()):
            n, unit = _number(m.group("n")), m.group("unit")
            label = f"the last {n} {unit}{'s' if n != 1 else ''}"
            found.append(Found(m.start(), m.end(), Period(None, None, label,
                                                          ("rolling", n, unit))))
    for m in _TO_DATE.finditer(text):
        if free(m.start(), m.end()):
            unit = m.group("unit") or {"ytd": "year", "mtd": "month", "qtd": "quarter"}[
                m.group("abbr")]
            found.append(Found(m.start(), m.end(), Period(None, None, f"{unit} to date",
                                                          ("this", 1, unit))))
    for m in _CALENDAR.finditer(text):
        if free(m.start(), m.end()):
            kind = "this" if m.group("kind") in {"this", "current"} else "previous"
            unit = m.group("unit")
            label = f"{'this' if kind == 'this' else 'last'} {unit}"
            found.append(Found(m.start(), m.end(), Period(None, None, label,
                                                          (kind, 1, unit))))
    for m in _DAYS.finditer(text):
        if free(m.start(), m.end()):
            found.append(Found(m.start(), m.end(), Period(None, None, m.group("kind"),
                                                          (m.group("kind"), 1, "day"))))
    for m in _POINT_RE.finditer(text):
        if free(m.start(), m.end()):
            point = _point(m.group(0))
            if point is not None:
                found.append(Found(m.start(), m.end(), point))
    return sorted(found, key=lambda f: f.start)


_GRAIN_WORDS = {
    "day": r"daily|per day|by day|each day|every day|day by day|by date|per date|"
           r"day-by-day|by the day",
    "week": r"weekly|per week|by week|each week|every week|week by week|"
            r"week-by-week|by the week",
    "month": r"monthly|per month|by month|each month|every month|month by month|"
             r"month-by-month|by the month|over the months|for each month|in each month",
    "quarter": r"quarterly|per quarter|by quarter|each quarter|every quarter|"
               r"quarter by quarter|for each quarter|in each quarter",
    "year": r"yearly|annual|annually|per year|by year|each year|every year|year by year|"
            r"by calendar year|for each year|in each year|per annum",
}
_GRAIN_RE = [(grain, re.compile(r"\b(?:" + words + r")\b")) for grain, words in
             _GRAIN_WORDS.items()]
_GROWTH = re.compile(r"\b(?P<a>year|quarter|month|week|day)[- ]over[- ](?P=a)\b|"
                     r"\b(?P<abbr>yoy|qoq|mom|wow)\b")
_TREND = re.compile(r"\b(?:over time|trend|trends|trending|time series|evolution|evolve|"
                    r"evolved|developed|development)\b")


def find_grains(text: str) -> list[Found]:
    """Time grains named in `text` (`value` is the grain), left to right."""
    found: list[Found] = []
    for m in _GROWTH.finditer(text):
        grain = m.group("a") or {"yoy": "year", "qoq": "quarter", "mom": "month",
                                 "wow": "week"}[m.group("abbr")]
        found.append(Found(m.start(), m.end(), ("growth", grain)))
    for grain, pattern in _GRAIN_RE:
        for m in pattern.finditer(text):
            if all(m.end() <= f.start or m.start() >= f.end for f in found):
                found.append(Found(m.start(), m.end(), grain))
    for m in _TREND.finditer(text):
        if all(m.end() <= f.start or m.start() >= f.end for f in found):
            found.append(Found(m.start(), m.end(), "trend"))
    return sorted(found, key=lambda f: f.start)
