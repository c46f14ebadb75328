"""The value index: which text columns hold a literal typed in a question.

Built lazily on the first question after a catalog load (never on the sign-in path), as
the reader role, bounded per column, in total and in time. A literal resolves by exact
phrase first (case-insensitive), then by a normalised form (a plural typed for a singular
value). Free text (long values) and columns with too many distinct values are skipped.
A literal found in two columns is reported with both: callers treat it as ambiguous.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from dashboard import text as textlib

if TYPE_CHECKING:
    from dashboard.catalog import Catalog
    from dashboard.db import Database

log = logging.getLogger(__name__)

MAX_PER_COLUMN = 20_000  # distinct values kept per column; a column with more is skipped
MAX_TOTAL = 200_000  # values kept for the whole catalog
MAX_VALUE_CHARS = 80  # longer values are free text, not names
MAX_PHRASE_WORDS = 6
_QUERY_TIMEOUT_MS = 1000
_BUDGET_S = 5.0


@dataclass(frozen=True)
class ValueMatch:
    """`phrase` (as typed) equals `value` of `table`.`column` (qualified table name)."""

    phrase: str
    table: str
    column: str
    value: str


def normalise(phrase: str) -> str:
    return " ".join(textlib.words(phrase.lower()))


@dataclass
class ValueIndex:
    """normalised value -> [(qualified table, column, value as stored)]."""

    values: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # columns left out (too many values)

    def __len__(self) -> int:
        return sum(len(v) for v in self.values.values())

    def add(self, table: str, column: str, value: str) -> None:
        key = normalise(value)
        if key and not key.isdigit():
            self.values.setdefault(key, []).append((table, column, value))

    def lookup(self, question: str) -> list[ValueMatch]:
        """Longest non-overlapping phrases of `question` that are values, left to right.

        A single function word ("in", "or", "us") never matches, whatever the data holds.
        """
        spans = [(m.start(), m.end(), m.group(0)) for m in
                 re.finditer(r"[A-Za-z0-9]+(?:['’.&-][A-Za-z0-9]+)*", question)]
        found: list[ValueMatch] = []
        i = 0
        while i < len(spans):
            step = 1
            for n in range(min(MAX_PHRASE_WORDS, len(spans) - i), 0, -1):
                typed = question[spans[i][0]:spans[i + n - 1][1]]
                if n == 1 and (typed.lower() in textlib.STOPWORDS or typed.isdigit()):
                    break
                key = next((k for k in _forms(typed) if k in self.values), None)
                if key is not None:
                    found.extend(ValueMatch(typed, t, c, v) for t, c, v in self.values[key])
                    step = n
                    break
            i += step
        return found


def _forms(typed: str) -> list[str]:
    """The exact normalised phrase, then its singular ('Beatles' -> 'beatle' only when the
    data holds that)."""
    key = normalise(typed)
    forms = [key]
    if key.endswith("es") and len(key) > 4:
        forms.append(key[:-2])
    if key.endswith("s") and len(key) > 3:
        forms.append(key[:-1])
    return forms


def build(db: Database, catalog: Catalog, *, per_column: int = MAX_PER_COLUMN,
          total: int = MAX_TOTAL, budget_s: float = _BUDGET_S) -> ValueIndex:
    """Read the distinct short values of every text column, as the reader role."""
    index = ValueIndex()
    deadline = time.monotonic() + budget_s
    kept = 0
    with db.reader_connection() as conn:
        for table in catalog.tables:
            for column in table.columns:
                if not column.is_text or time.monotonic() > deadline or kept >= total:
                    continue
                if column.distinct_estimate is not None and \
                        column.distinct_estimate > per_column * 2:
                    index.skipped.append(f"{table.qualified_name}.{column.name}")
                    continue
                rows = _distinct(conn, table.schema, table.name, column.name,
                                 min(per_column, total - kept) + 1)
                if rows is None or len(rows) > min(per_column, total - kept):
                    index.skipped.append(f"{table.qualified_name}.{column.name}")
                    continue
                if _is_list_column([value for (value,) in rows]):
                    index.skipped.append(f"{table.qualified_name}.{column.name}")
                    continue  # comma-separated lists: no single value equals a row's
                for (value,) in rows:
                    index.add(table.qualified_name, column.name, value)
                kept += len(rows)
        conn.rollback()
    return index


def _is_list_column(values: list[str]) -> bool:
    listed = sum(1 for v in values if ", " in v)
    return bool(values) and listed >= max(2, len(values) // 5)


def _distinct(conn: psycopg.Connection, schema: str, table: str, column: str,
              limit: int) -> list[tuple] | None:
    query = sql.SQL(
        "SELECT DISTINCT {c}::text FROM {t} WHERE {c} IS NOT NULL AND "
        "length({c}::text) <= {w} LIMIT {n}").format(
        c=sql.Identifier(column), t=sql.Identifier(schema, table),
        w=sql.Literal(MAX_VALUE_CHARS), n=sql.Literal(limit))
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(
                sql.Literal(_QUERY_TIMEOUT_MS)))
            return conn.execute(query).fetchall()
    except psycopg.Error as exc:  # a timeout or no privilege: leave the column out
        log.debug("value index skipped %s.%s: %s", table, column, type(exc).__name__)
        return None


class LazyValues:
    """Builds the index on first use (once, thread-safe); `None` loader: an empty index."""

    def __init__(self, loader: Callable[[], ValueIndex] | None) -> None:
        self._loader = loader
        self._index: ValueIndex | None = None
        self._lock = threading.Lock()

    def get(self) -> ValueIndex:
        with self._lock:
            if self._index is None:
                try:
                    self._index = self._loader() if self._loader else ValueIndex()
                except psycopg.Error as exc:
                    log.warning("value index unavailable: %s", type(exc).__name__)
                    self._index = ValueIndex()
            return self._index
