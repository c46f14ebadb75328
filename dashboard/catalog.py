"""Introspection of the data schemas, and the relevant-table context for a prompt.

Read through the reader pool, so the catalog shows exactly what generated SQL may
touch: tables, columns, types, keys, comments, row estimates, a few distinct values of
low-cardinality text columns and the range of date/time columns (bounded queries with a
short statement timeout). Cached per process (`get_catalog`), refreshed on demand.

`build_context` picks the tables a prompt is about (lexical match with stemming and
synonyms, plus the foreign-key neighbours needed to join) and renders them for an LLM
within a token budget.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import psycopg
from psycopg import sql

from dashboard import text as textlib
from dashboard import values as values_index
from dashboard.db import Database
from dashboard.values import LazyValues, ValueMatch

log = logging.getLogger(__name__)

_TEXT_TYPES = ("text", "character varying", "character", "citext", "name")
_TIME_TYPES = ("date", "timestamp")
_NUMERIC_TYPES = ("integer", "bigint", "smallint", "numeric", "real", "double precision",
                  "money", "decimal")


@dataclass(frozen=True)
class ForeignKey:
    schema: str
    table: str
    column: str


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    comment: str | None = None
    primary_key: bool = False
    references: ForeignKey | None = None
    samples: tuple[str, ...] = ()
    # Estimated number of distinct values (None when unknown).
    distinct_estimate: int | None = None
    # Smallest / largest value of a date or time column, ISO text (None when unknown).
    min_value: str | None = None
    max_value: str | None = None

    enum: bool = False  # a user-defined enum type (its labels are the samples)

    @property
    def is_text(self) -> bool:
        return self.enum or self.type.startswith(_TEXT_TYPES)

    @property
    def is_time(self) -> bool:
        return self.type.startswith(_TIME_TYPES)

    @property
    def is_numeric(self) -> bool:
        return self.type.startswith(_NUMERIC_TYPES)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    comment: str | None
    row_estimate: int
    columns: tuple[Column, ...]

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def primary_key(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.primary_key)


@dataclass(frozen=True)
class Catalog:
    schemas: tuple[str, ...]
    tables: tuple[Table, ...] = field(default_factory=tuple)
    # The value index of the text columns, built on first use (see dashboard.values).
    values: LazyValues | None = field(default=None, compare=False, repr=False)

    def value_matches(self, question: str) -> list[ValueMatch]:
        """The data values typed in `question` (none when no index is attached)."""
        return self.values.get().lookup(question) if self.values is not None else []

    def table(self, qualified_or_bare: str) -> Table | None:
        """Find `schema.table`, or a bare name through the data schemas in order."""
        if "." in qualified_or_bare:
            return next((t for t in self.tables if t.qualified_name == qualified_or_bare), None)
        for schema in self.schemas:
            for t in self.tables:
                if t.schema == schema and t.name == qualified_or_bare:
                    return t
        return None

    def table_names(self) -> set[str]:
        """Qualified names of every table the reader may query."""
        return {t.qualified_name for t in self.tables}


_TABLES_SQL = """
SELECT n.nspname, c.relname, obj_description(c.oid, 'pg_class'),
       greatest(c.reltuples, 0)::bigint, c.oid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND NOT c.relispartition
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname
"""

_COLUMNS_SQL = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       col_description(a.attrelid, a.attnum),
       EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = a.attrelid
               AND p.contype = 'p' AND a.attnum = ANY(p.conkey)),
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e
        WHERE e.enumtypid = a.atttypid)
FROM pg_attribute a
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

# Single-column foreign keys (multi-column keys are rare in analytics schemas).
_FOREIGN_KEYS_SQL = """
SELECT f.conrelid, src.attname, tn.nspname, t.relname, dst.attname
FROM pg_constraint f
JOIN pg_class t ON t.oid = f.confrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute src ON src.attrelid = f.conrelid AND src.attnum = f.conkey[1]
JOIN pg_attribute dst ON dst.attrelid = f.confrelid AND dst.attnum = f.confkey[1]
WHERE f.contype = 'f' AND f.conrelid = ANY(%s) AND cardinality(f.conkey) = 1
"""


# Statistics gathered by ANALYZE: distinct counts, most common values, histogram bounds.
# pg_stats only shows rows for tables the current (reader) role may read.
_STATS_SQL = """
SELECT s.schemaname, s.tablename, s.attname, s.n_distinct,
       CASE WHEN s.n_distinct BETWEEN 1 AND %s THEN s.most_common_vals::text::text[] END,
       (s.histogram_bounds::text::text[])[1],
       (s.histogram_bounds::text::text[])[cardinality(s.histogram_bounds::text::text[])]
FROM pg_stats s
WHERE s.schemaname = ANY(%s) AND NOT s.inherited
"""

MAX_SAMPLES = 100  # distinct values kept per low-cardinality text column
_PROBE_ROWS = 5000  # rows read by a fallback distinct-value probe
_PROBE_TIMEOUT_MS = 300
_PROBE_BUDGET_S = 3.0  # all fallback probes together
_MAX_PROBES = 200


def introspect(db: Database) -> Catalog:
    """Read the catalog of the configured data schemas as the reader role."""
    schemas = list(db.settings.data_schemas)
    with db.reader_connection() as conn:
        tables = conn.execute(_TABLES_SQL, [schemas]).fetchall()
        oids = [row[4] for row in tables]
        columns = conn.execute(_COLUMNS_SQL, [oids]).fetchall()
        fkeys = conn.execute(_FOREIGN_KEYS_SQL, [oids]).fetchall()
        stats = conn.execute(_STATS_SQL, [MAX_SAMPLES, schemas]).fetchall()
        conn.rollback()
        refs = {(oid, col): ForeignKey(s, t, c) for oid, col, s, t, c in fkeys}
        names = {oid: (schema, name) for schema, name, _, _, oid in tables}
        estimates = {oid: estimate for _, _, _, estimate, oid in tables}
        by_stats = {(r[0], r[1], r[2]): r[3:] for r in stats}
        by_table: dict[int, list[Column]] = {}
        for oid, name, type_, nullable, comment, pk, labels in columns:
            column = Column(name, type_, nullable, comment, pk, refs.get((oid, name)))
            if labels:  # an enum type: its labels are the values
                column = _replace(column, samples=tuple(labels), enum=True,
                                  distinct_estimate=len(labels))
            stat = by_stats.get((*names[oid], name))
            if stat is not None:
                column = _with_stats(column, stat, estimates[oid])
            by_table.setdefault(oid, []).append(column)
        _probe(conn, names, by_table, by_stats)
    return Catalog(
        schemas=tuple(schemas),
        tables=tuple(
            Table(schema, name, comment, estimate, tuple(by_table.get(oid, [])))
            for schema, name, comment, estimate, oid in tables
        ),
    )


def _with_stats(column: Column, stat: tuple, rows: int) -> Column:
    n_distinct, common, low, high = stat
    distinct = None
    if n_distinct is not None:
        # Negative n_distinct is a fraction of the row count (-1 = unique).
        distinct = int(n_distinct) if n_distinct > 0 else int(-n_distinct * max(rows, 1))
    samples: tuple[str, ...] = column.samples
    if column.is_text and common and distinct is not None and distinct <= MAX_SAMPLES \
            and not column.enum:
        samples = tuple(sorted(str(v) for v in common if v is not None))
    time_range = {}
    if column.is_time and low is not None:
        time_range = {"min_value": str(low), "max_value": str(high)}
    return _replace(column, distinct_estimate=distinct, samples=samples, **time_range)


def _replace(column: Column, **changes: object) -> Column:
    from dataclasses import replace

    return replace(column, **changes)


def _probe(conn: psycopg.Connection, names: dict[int, tuple[str, str]],
           by_table: dict[int, list[Column]], by_stats: dict) -> None:
    """Bounded queries for what statistics cannot tell.

    Exact ranges of date/time columns (relative periods anchor on the data's last date)
    and distinct values of text columns in tables ANALYZE has not seen yet. Each query
    has a short statement timeout; all together stop after a few seconds.
    """
    deadline = time.monotonic() + _PROBE_BUDGET_S
    probes = 0
    for oid, cols in by_table.items():
        schema, table = names[oid]
        for i, column in enumerate(cols):
            if probes >= _MAX_PROBES or time.monotonic() > deadline:
                return
            ident = sql.Identifier(column.name)
            source = sql.Identifier(schema, table)
            if column.is_time:
                query = sql.SQL("SELECT min({c})::text, max({c})::text FROM {t}").format(
                    c=ident, t=source)
            elif column.is_text and not column.samples and not column.primary_key and (
                    column.distinct_estimate is None or column.distinct_estimate <= MAX_SAMPLES):
                # No statistics yet, or all values distinct (then ANALYZE keeps no list).
                query = sql.SQL(
                    "SELECT DISTINCT {c}::text FROM (SELECT {c} FROM {t} LIMIT {n}) s "
                    "WHERE {c} IS NOT NULL LIMIT {m}").format(
                    c=ident, t=source, n=sql.Literal(_PROBE_ROWS),
                    m=sql.Literal(MAX_SAMPLES // 2 + 1))
            else:
                continue
            probes += 1
            rows = _bounded(conn, query)
            if rows is None:
                continue
            if column.is_time:
                low, high = rows[0] if rows else (None, None)
                if low is not None:
                    cols[i] = _replace(column, min_value=low, max_value=high)
            elif len(rows) <= MAX_SAMPLES // 2:
                cols[i] = _replace(column, samples=tuple(sorted(r[0] for r in rows)),
                                   distinct_estimate=len(rows))


def _bounded(conn: psycopg.Connection, query: sql.Composable) -> list[tuple] | None:
    try:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(
                sql.Literal(_PROBE_TIMEOUT_MS)))
            return conn.execute(query).fetchall()
    except psycopg.Error as exc:  # a timeout or a type without min(): skip this column
        log.debug("catalog probe skipped: %s", type(exc).__name__)
        return None
    finally:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()


_cache_lock = threading.Lock()
_cache: dict[int, Catalog] = {}


def get_catalog(db: Database, *, refresh: bool = False) -> Catalog:
    """The cached catalog for this Database (one introspection per process)."""
    with _cache_lock:
        if refresh or id(db) not in _cache:
            loaded = introspect(db)
            _cache[id(db)] = replace(loaded, values=LazyValues(
                lambda: values_index.build(db, loaded)))
        return _cache[id(db)]


# --- relevant-table selection -------------------------------------------------------


@dataclass(frozen=True)
class SchemaContext:
    """The tables selected for one question, rendered for an LLM within a token budget."""

    tables: tuple[Table, ...]
    text: str
    tokens: int
    # Literals of the question found in the data (value index), within these tables.
    values: tuple[ValueMatch, ...] = ()


# Weights of where a prompt word is found: a table's own name says most.
_W_TABLE_NAME = 4.0
_W_COLUMN_NAME = 2.0
_W_SAMPLE = 2.0
_W_TABLE_COMMENT = 1.0
_W_COLUMN_COMMENT = 0.5
_SYNONYM_FACTOR = 0.6
_MONEY = re.compile(r"amount|total|price|revenue|sales|cost|fee|paid")
_MAX_TABLES = 12  # ranked tables considered before adding join neighbours
_MAX_PATH = 3  # longest foreign-key path added to connect two selected tables
_SMALL_SCHEMA = 20  # schemas this small are sent whole (ranked first), budget permitting


@dataclass
class _Index:
    """Per-catalog inverted index: stem -> {table position: weight}, plus the FK graph."""

    postings: dict[str, dict[int, float]]
    idf: dict[str, float]
    neighbours: list[set[int]]
    positions: dict[str, int]
    money: list[int]  # tables with a money-like numeric column


_index_lock = threading.Lock()
_indexes: dict[int, tuple[weakref.ref, _Index]] = {}


def _index(catalog: Catalog) -> _Index:
    """Build (once per catalog object) the inverted index used to rank tables."""
    key = id(catalog)
    with _index_lock:
        cached = _indexes.get(key)
        if cached is not None and cached[0]() is catalog:
            return cached[1]
    postings: dict[str, dict[int, float]] = {}

    def add(position: int, words: Iterable[str], weight: float) -> None:
        for word in words:
            table_weights = postings.setdefault(word, {})
            if table_weights.get(position, 0.0) < weight:
                table_weights[position] = weight

    positions = {t.qualified_name: i for i, t in enumerate(catalog.tables)}
    neighbours: list[set[int]] = [set() for _ in catalog.tables]
    for i, table in enumerate(catalog.tables):
        add(i, textlib.content_stems(table.name), _W_TABLE_NAME)
        add(i, textlib.content_stems(table.comment or ""), _W_TABLE_COMMENT)
        for column in table.columns:
            add(i, textlib.content_stems(column.name), _W_COLUMN_NAME)
            add(i, textlib.content_stems(column.comment or ""), _W_COLUMN_COMMENT)
            for value in column.samples[:MAX_SAMPLES]:
                add(i, textlib.content_stems(value), _W_SAMPLE)
            if column.references is not None:
                j = positions.get(f"{column.references.schema}.{column.references.table}")
                if j is not None and j != i:
                    neighbours[i].add(j)
                    neighbours[j].add(i)
    count = max(len(catalog.tables), 1)
    idf = {w: math.log(1 + count / len(ts)) for w, ts in postings.items()}
    money = [i for i, t in enumerate(catalog.tables)
             if any(c.is_numeric and _MONEY.search(c.name.lower()) for c in t.columns)]
    built = _Index(postings, idf, neighbours, positions, money)
    with _index_lock:
        # Forget indexes of catalogs that are gone (a refresh makes a new catalog).
        for stale in [k for k, (ref, _) in _indexes.items() if ref() is None]:
            del _indexes[stale]
        _indexes[key] = (weakref.ref(catalog), built)
    return built


def rank_tables(catalog: Catalog, question: str) -> list[tuple[int, float]]:
    """(table position, score) for tables matching the question, best first."""
    index = _index(catalog)
    scores: dict[int, float] = {}
    for word in dict.fromkeys(textlib.content_stems(question)):
        best: dict[int, float] = {}
        for variant in textlib.synonyms(word):
            factor = 1.0 if variant == word else _SYNONYM_FACTOR
            postings = index.postings.get(variant)
            if not postings:
                continue
            weight_idf = index.idf[variant] * factor
            for position, weight in postings.items():
                value = weight * weight_idf
                if value > best.get(position, 0.0):
                    best[position] = value
        for position, value in best.items():
            scores[position] = scores.get(position, 0.0) + value
    if any(textlib.stem("revenue") in textlib.synonyms(w)
           for w in textlib.content_stems(question)):
        # Revenue is often an unnamed money column (payment.amount, invoice.total).
        for position in index.money:
            scores[position] = scores.get(position, 0.0) + _W_COLUMN_NAME
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _path(index: _Index, start: int, goal: int, limit: int) -> list[int] | None:
    """Shortest foreign-key path between two tables (breadth first, bounded length)."""
    if start == goal:
        return [start]
    previous = {start: start}
    frontier = [start]
    for _ in range(limit):
        following = []
        for node in frontier:
            for nxt in sorted(index.neighbours[node]):
                if nxt in previous:
                    continue
                previous[nxt] = node
                if nxt == goal:
                    path = [goal]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                following.append(nxt)
        frontier = following
    return None


def select_tables(catalog: Catalog, question: str) -> list[Table]:
    """Tables the question is about, best first, with the tables needed to join them."""
    index = _index(catalog)
    ranked = rank_tables(catalog, question)
    if not ranked:
        # Nothing matched: offer the biggest tables, the likeliest facts.
        order = sorted(range(len(catalog.tables)),
                       key=lambda i: (-catalog.tables[i].row_estimate, i))
        return [catalog.tables[i] for i in order[:_MAX_TABLES]]
    top = ranked[0][1]
    chosen = [i for i, score in ranked[:_MAX_TABLES] if score >= 0.2 * top]
    selected: list[int] = []
    for i in chosen:
        # Connect each table to the ones already selected along foreign keys.
        connector: list[int] = []
        if selected and not any(j in index.neighbours[i] for j in selected):
            paths = [p for j in selected if (p := _path(index, i, j, _MAX_PATH))]
            if paths:
                connector = min(paths, key=len)[1:-1]
        for j in [i, *connector]:
            if j not in selected:
                selected.append(j)
    # Tables the selected ones reference directly (labels such as a customer's name).
    for i in list(selected[:3]):
        for j in sorted(index.neighbours[i]):
            if j not in selected and _references(catalog.tables[i], catalog.tables[j]):
                selected.append(j)
    if len(catalog.tables) <= _SMALL_SCHEMA:
        selected += [i for i in range(len(catalog.tables)) if i not in selected]
    return [catalog.tables[i] for i in selected]


def _references(child: Table, parent: Table) -> bool:
    return any(c.references is not None and c.references.schema == parent.schema
               and c.references.table == parent.name for c in child.columns)


def render_table(table: Table, *, send_samples: bool, comments: bool = True,
                 max_samples: int = 12, joins: dict[str, str] | None = None,
                 roles: bool = False) -> str:
    """One table as compact DDL-like text with comments, keys and (optionally) values.

    `joins` maps a column to the "schema.table(column)" it references by naming
    convention only; `roles` adds each column's role from the schema profile."""
    from dashboard.profile import column_role
    head = f"TABLE {table.qualified_name}"
    if table.row_estimate:
        head += f" (~{table.row_estimate} rows)"
    if comments and table.comment:
        head += f" -- {table.comment}"
    lines = [head]
    for column in table.columns:
        line = f"  {column.name} {column.type}"
        if column.primary_key:
            line += " PRIMARY KEY"
        if column.references is not None:
            ref = column.references
            line += f" REFERENCES {ref.schema}.{ref.table}({ref.column})"
        elif joins and column.name in joins:
            line += f" JOINS {joins[column.name]} (by name, not declared)"
        notes = []
        if roles:
            role = column_role(column)
            notes.append("identifier, never sum or average" if role in {"key", "foreign key"}
                         else f"role: {role}")
        if comments and column.comment:
            notes.append(column.comment.rstrip(". "))
        if send_samples and column.samples:
            shown = ", ".join(repr(v) for v in column.samples[:max_samples])
            more = ", ..." if len(column.samples) > max_samples else ""
            notes.append(f"values: {shown}{more}")
        if send_samples and column.min_value:
            notes.append(f"range: {column.min_value[:10]} .. {(column.max_value or '')[:10]}")
        if notes:
            line += " -- " + "; ".join(notes)
        lines.append(line)
    return "\n".join(lines)


def build_context(catalog: Catalog, question: str, *, token_budget: int,
                  send_samples: bool) -> SchemaContext:
    """The relevant tables for `question`, rendered within `token_budget` tokens.

    Tables are added best first; one that does not fit is tried without comments, then
    skipped, so the text never exceeds the budget (CONTEXT_TOKENS).
    """
    from dashboard.profile import infer_joins

    chosen: list[Table] = []
    parts: list[str] = []
    used = 0
    inferred: dict[str, dict[str, str]] = {}
    for join in infer_joins(catalog.tables):
        inferred.setdefault(join.child, {})[join.column] = f"{join.parent}({join.parent_column})"
    matches = catalog.value_matches(question)
    ranked = select_tables(catalog, question)
    # A table holding a value the question names is needed even when its name is not.
    ranked += [t for t in catalog.tables if t not in ranked and
               any(m.table == t.qualified_name for m in matches)]
    for table in ranked:
        for comments in (True, False):
            rendered = render_table(table, send_samples=send_samples, comments=comments,
                                    joins=inferred.get(table.qualified_name), roles=True)
            cost = textlib.estimate_tokens(rendered) + 1  # + the blank line between tables
            if used + cost <= token_budget:
                chosen.append(table)
                parts.append(rendered)
                used += cost
                break
    names = {t.qualified_name for t in chosen}
    found = tuple(m for m in matches if m.table in names)
    if send_samples and found:
        line = "Values named in the question: " + "; ".join(
            f"'{m.phrase}' is {m.table}.{m.column} = '{m.value}'" for m in found)
        if used + textlib.estimate_tokens(line) + 1 <= token_budget:
            parts.append(line)
    text_ = "\n\n".join(parts)
    return SchemaContext(tables=tuple(chosen), text=text_, tokens=textlib.estimate_tokens(text_),
                         values=found)
