"""What the Data and Settings pages show: catalog views, sample rows, masked settings."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from sqlglot import exp

from dashboard.catalog import Catalog, Table, get_catalog
from dashboard.config import Settings
from dashboard.db import Database
from dashboard.executor import QueryResult, run_query

SAMPLE_ROWS = 20
_SENTENCE = re.compile(r"(?<=[.;])\s+(?=[A-Z])")


def catalog(db: Database) -> Catalog:
    return get_catalog(db)


def metric_definitions(catalog: Catalog) -> list[tuple[str, str]]:
    """Sentences of table/column comments that define something ("X = ...")."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for table in catalog.tables:
        sources = [(table.qualified_name, table.comment)] + [
            (f"{table.qualified_name}.{c.name}", c.comment) for c in table.columns]
        for source, comment in sources:
            for sentence in _SENTENCE.split(comment or ""):
                if " = " in sentence and sentence not in seen:
                    seen.add(sentence)
                    found.append((source, sentence.strip()))
    return found


def columns_frame(table: Table) -> pd.DataFrame:
    return pd.DataFrame(
        [{"column": c.name, "type": c.type,
          "key": "primary" if c.primary_key else (
              f"→ {c.references.table}.{c.references.column}" if c.references else ""),
          "comment": c.comment or ""} for c in table.columns],
        columns=["column", "type", "key", "comment"],
    )


def sample_query(table: Table, limit: int = SAMPLE_ROWS) -> str:
    """SELECT * FROM schema.table LIMIT n, built as a tree (names are quoted)."""
    source = exp.Table(this=exp.to_identifier(table.name, quoted=True),
                       db=exp.to_identifier(table.schema, quoted=True))
    return exp.select("*").from_(source).limit(limit).sql(dialect="postgres")


def sample_rows(db: Database, table: Table, limit: int = SAMPLE_ROWS) -> QueryResult:
    """A few rows, through the same guard and read-only executor as every query."""
    return run_query(db, sample_query(table, limit))


def settings_rows(settings: Settings, db: Database) -> list[dict[str, Any]]:
    """The settings page: what is in use, with hosts and names but never secrets."""
    where = db.describe()
    return [
        {"setting": "Generator", "value": settings.generator_in_use
         + (f" (GENERATOR={settings.generator})" if settings.generator != "auto" else "")},
        {"setting": "Model", "value": settings.openai_model
         if settings.generator_in_use == "openai" else "built-in offline planner"},
        {"setting": "LLM server", "value": _host_only(settings.openai_base_url)
         if settings.openai_base_url else ("OpenAI" if settings.openai_api_key else "none")},
        {"setting": "API key", "value": "set (hidden)" if settings.openai_api_key else "not set"},
        {"setting": "Database host", "value": where["host"]},
        {"setting": "Database name", "value": where["database"]},
        {"setting": "Data schemas", "value": ", ".join(settings.data_schemas)},
        {"setting": "Read-only role", "value": settings.reader_role},
        {"setting": "Database hardening",
         "value": db.hardening.label if db.hardening else "not checked"},
        {"setting": "Query timeout", "value": f"{settings.query_timeout_ms:,} ms"},
        {"setting": "Row cap", "value": f"{settings.max_rows:,} rows"},
        {"setting": "Ask deadline", "value": f"{settings.ask_deadline_s:g} s"},
        {"setting": "Auth mode", "value": settings.auth_mode},
        {"setting": "Time zone", "value": settings.timezone},
    ]


def _host_only(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
