"""Periods named in a question, for number cards: the previous period and a trend.

"total revenue in 2024" names one year: its previous period is "total revenue in 2023"
and its trend is "total revenue in 2024 by month". Only explicit periods are handled (a
year, a quarter of a year, a month of a year), each named once; anything else (two
years, "last quarter", a range) has no comparison. Pure text, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_YEAR = r"(?:19|20)\d{2}"
_QUARTER = re.compile(rf"\b[Qq]([1-4])\s*({_YEAR})\b")
_MONTH = re.compile(rf"\b({'|'.join(_MONTHS)})\s+({_YEAR})\b", re.IGNORECASE)
_YEARS = re.compile(rf"\b{_YEAR}\b")
# Questions that already compare or slice over time get no companion questions.
_SKIP = re.compile(r"\b(vs\.?|versus|compared?|between|by|per|each|monthly|weekly|daily|"
                   r"yearly|annual|quarterly|trend|over time|since|until|from|to)\b",
                   re.IGNORECASE)


@dataclass(frozen=True)
class PeriodQuestions:
    """The same question for the previous period, its label, and a trend question."""

    previous: str
    previous_label: str
    trend: str


def companions(question: str) -> PeriodQuestions | None:
    """Companion questions for a single-value question naming one period, else None."""
    text = " ".join(question.split()).rstrip("?.! ")
    if _SKIP.search(text) or len(_YEARS.findall(text)) != 1:
        return None
    if match := _QUARTER.search(text):
        quarter, year = int(match.group(1)), int(match.group(2))
        quarter, year = (quarter - 1, year) if quarter > 1 else (4, year - 1)
        label = f"Q{quarter} {year}"
        return PeriodQuestions(_swap(text, match, label), label, f"{text} by week")
    if match := _MONTH.search(text):
        month = _MONTHS.index(match.group(1).lower())
        year = int(match.group(2))
        month, year = (month - 1, year) if month > 0 else (11, year - 1)
        label = f"{_MONTHS[month].capitalize()} {year}"
        return PeriodQuestions(_swap(text, match, label), label, f"{text} by day")
    match = _YEARS.search(text)
    assert match is not None
    label = str(int(match.group(0)) - 1)
    return PeriodQuestions(_swap(text, match, label), label, f"{text} by month")


def _swap(text: str, match: re.Match[str], replacement: str) -> str:
    return text[:match.start()] + replacement + text[match.end():]
