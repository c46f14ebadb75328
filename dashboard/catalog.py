"""Introspection of the data schemas: tables, columns, types, keys, comments.

Read through the reader pool, so the catalog shows exactly what generated SQL may
touch. Cached per process (`get_catalog`), refreshed on demand (`refresh=True`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from dashboard.db import Database


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


@dataclass(frozen=True)
class Catalog:
    schemas: tuple[str, ...]
    tables: tuple[Table, ...] = field(default_factory=tuple)

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
               AND p.contype = 'p' AND a.attnum = ANY(p.conkey))
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


def introspect(db: Database) -> Catalog:
    """Read the catalog of the configured data schemas as the reader role."""
    schemas = list(db.settings.data_schemas)
    with db.reader_connection() as conn:
        tables = conn.execute(_TABLES_SQL, [schemas]).fetchall()
        oids = [row[4] for row in tables]
        columns = conn.execute(_COLUMNS_SQL, [oids]).fetchall()
        fkeys = conn.execute(_FOREIGN_KEYS_SQL, [oids]).fetchall()
        conn.rollback()
    refs = {(oid, col): ForeignKey(s, t, c) for oid, col, s, t, c in fkeys}
    by_table: dict[int, list[Column]] = {}
    for oid, name, type_, nullable, comment, pk in columns:
        by_table.setdefault(oid, []).append(
            Column(name, type_, nullable, comment, pk, refs.get((oid, name)))
        )
    return Catalog(
        schemas=tuple(schemas),
        tables=tuple(
            Table(schema, name, comment, estimate, tuple(by_table.get(oid, [])))
            for schema, name, comment, estimate, oid in tables
        ),
    )


_cache_lock = threading.Lock()
_cache: dict[int, Catalog] = {}


def get_catalog(db: Database, *, refresh: bool = False) -> Catalog:
    """The cached catalog for this Database (one introspection per process)."""
    with _cache_lock:
        if refresh or id(db) not in _cache:
            _cache[id(db)] = introspect(db)
        return _cache[id(db)]
