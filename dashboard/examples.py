"""Example prompts for an empty dashboard, derived from the connected schema's catalog.

A music-store database gets music prompts: the examples name its own tables, columns,
time ranges and metric definitions, in phrasings the offline planner answers.
"""

from __future__ import annotations

import re

from dashboard.catalog import Catalog, Column, Table, get_catalog
from dashboard.db import Database

_TIME_TYPES = ("timestamp", "date")
_TEXT_TYPES = ("text", "character varying", "character", "varchar")
_NUMERIC_TYPES = ("numeric", "integer", "bigint", "smallint", "real", "double precision")
_WORKFLOW = re.compile(r"status|state|flag|type", re.IGNORECASE)
_METRIC = re.compile(r"\b([A-Z][a-z]+(?: [a-z]+){0,3}) = ", re.MULTILINE)


def _words(name: str) -> str:
    return name.replace("_", " ")


def _time_column(table: Table) -> Column | None:
    return next((c for c in table.columns if c.type.startswith(_TIME_TYPES)), None)


def _category_columns(table: Table) -> list[Column]:
    """Low-cardinality text columns (the good bar-chart dimensions); workflow columns
    such as status come last: "revenue by region" tells more than "revenue by status"."""
    found = [c for c in table.columns if c.type.startswith(_TEXT_TYPES) and c.samples
             and (c.distinct_estimate is None or c.distinct_estimate <= 30)]
    return sorted(found, key=lambda c: bool(_WORKFLOW.search(c.name)))


def _latest_year(column: Column) -> str | None:
    match = re.match(r"(\d{4})", column.max_value or "")
    return match.group(1) if match else None


def _metrics(catalog: Catalog, fact: Table | None) -> list[str]:
    """Named metrics defined in comments, e.g. "Revenue = sum(...)" -> "revenue"; the
    fact table's own definitions first, plain counts left out (examples cover those)."""
    tables = ([fact] if fact else []) + [t for t in catalog.tables if t is not fact]
    names: list[str] = []
    for table in tables:
        for match in _METRIC.finditer(table.comment or ""):
            name = match.group(1).lower()
            if name not in names and not name.endswith("count"):
                names.append(name)
    return names


def prompts_for(catalog: Catalog, limit: int = 5) -> list[str]:
    """4-6 prompts built from the catalog (pure; tested on several schemas)."""
    facts = sorted((t for t in catalog.tables if _time_column(t)),
                   key=lambda t: t.row_estimate, reverse=True)
    prompts: list[str] = []
    metrics = _metrics(catalog, facts[0] if facts else None)
    if facts:
        fact = facts[0]
        time = _time_column(fact)
        year = _latest_year(time) if time else None
        categories = _category_columns(fact)
        noun = _words(fact.name)
        if metrics:
            metric = metrics[0]
            prompts.append(f"Monthly {metric} in {year}" if year else f"Monthly {metric}")
            if categories:
                prompts.append(f"{metric.capitalize()} by {_words(categories[0].name)}")
        prompts.append(f"Number of {noun} per month" + (f" in {year}" if year else ""))
        if categories:
            pie_by = categories[1] if len(categories) > 1 else categories[0]
            prompts.append(f"Share of {noun} by {_words(pie_by.name)} as a pie chart")
    for table in sorted(catalog.tables, key=lambda t: t.row_estimate):
        if len(prompts) >= limit:
            break
        categories = _category_columns(table)
        if categories and not _time_column(table):
            prompts.append(f"Number of {_words(table.name)} by {_words(categories[0].name)}")
    if catalog.tables and len(prompts) < limit:
        smallest_entity = max(catalog.tables, key=lambda t: len(t.columns))
        prompts.append(f"How many {_words(smallest_entity.name)} are there?")
    return list(dict.fromkeys(prompts))[:limit]


def example_prompts(db: Database, limit: int = 5) -> list[str]:
    return prompts_for(get_catalog(db), limit)


def starters_for(catalog: Catalog) -> list[str]:
    """Three first questions for the "Start here" panel, one of each kind of card: a
    number with its change against the previous year, bars by a category, a line over
    the latest year (pure; falls back to the first example prompts)."""
    facts = sorted((t for t in catalog.tables if _time_column(t)),
                   key=lambda t: t.row_estimate, reverse=True)
    examples = prompts_for(catalog, 6)
    if not facts:
        return examples[:3]
    fact = facts[0]
    time = _time_column(fact)
    year = _latest_year(time) if time else None
    metrics = _metrics(catalog, fact)
    categories = _category_columns(fact)
    noun = _words(fact.name)
    measure = metrics[0] if metrics else f"number of {noun}"
    picks = [f"Total {measure} in {year}" if year else f"Total {measure}"]
    if categories:
        picks.append(f"{measure.capitalize()} by {_words(categories[0].name)}")
    picks.append(f"Number of {noun} per month" + (f" in {year}" if year else ""))
    picks += [p for p in examples if p not in picks]
    return picks[:3]


def starter_prompts(db: Database) -> list[str]:
    return starters_for(get_catalog(db))
