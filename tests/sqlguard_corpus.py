"""Loads the SQL corpora in tests/data (entries separated by '-- ;;', each with '-- why:')."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data"
DEMO_TABLES = frozenset({"demo.customers", "demo.products", "demo.orders", "demo.order_items"})


@dataclass(frozen=True)
class Entry:
    why: str
    sql: str
    source: str

    @property
    def resource_exhaustion(self) -> bool:
        return self.why.startswith("resource exhaustion")

    def __str__(self) -> str:  # shown as the pytest id
        return f"{self.source}: {self.why}"


def load(name: str) -> list[Entry]:
    text = (DATA / name).read_text(encoding="utf-8")
    entries = []
    for part in re.split(r"^-- ;;[ \t]*$", text, flags=re.M)[1:]:
        lines = part.strip("\n").splitlines()
        if not lines or not lines[0].startswith("-- why:"):
            raise ValueError(f"{name}: an entry does not start with '-- why:'")
        entries.append(Entry(lines[0].removeprefix("-- why:").strip(),
                             "\n".join(lines[1:]), name))
    return entries


SAFE = load("safe_sql.txt") + load("extra_safe_sql.txt")
UNSAFE = load("unsafe_sql.txt") + load("extra_unsafe_sql.txt")


def database_fingerprint(db) -> tuple:
    """What a successful write would change: app rows, demo rows, temp tables, locks."""
    with db.connection() as conn:
        state = conn.execute(
            "SELECT (SELECT count(*) FROM widgets), (SELECT count(*) FROM users), "
            "(SELECT md5(string_agg(username, ',' ORDER BY id)) FROM users), "
            "(SELECT count(*) FROM demo.orders), "
            "(SELECT count(*) FROM demo.orders WHERE status = 'cancelled'), "
            "(SELECT count(*) FROM pg_class WHERE relpersistence = 't'), "
            "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())), "
            "(SELECT count(*) FROM pg_class WHERE relname IN ('loot', 'scratch'))"
        ).fetchone()
        conn.rollback()
    return state
