"""Plumbing shared by the benchmarks: a throw-away database, result rows, statistics.

The server is `--server-url`, else TEST_DATABASE_URL, else DATABASE_URL, else a private
embedded PostgreSQL in `.data/bench-pg` (started for the run and stopped after it when
it was not already running). Every run works in databases of its own (`pbbench_<pid>_n`)
with a reader role of its own, and drops them at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from dashboard import embedded
from dashboard.config import PROJECT_DIR, Settings, parse_settings
from dashboard.db import Database, as_url, open_database

BENCH_DATA_DIR = PROJECT_DIR / ".data" / "bench-pg"
DB_PREFIX = "pbbench_"
# The environment variable through which child processes get their settings (never argv:
# a DATABASE_URL may hold a password, and argv is visible to every local user).
CHILD_SETTINGS_ENV = "PROMPTBOARD_BENCH_SETTINGS"
_counter = itertools.count()


# ----------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the summary table: a measurement, its floor, and the goal if any."""

    what: str
    value: str
    floor: str = ""
    ratio: str = ""
    goal: str = ""
    met: bool | None = None


@dataclass
class Result:
    """What one benchmark reports: table rows plus the raw figures for results.json."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> float:
    return seconds * 1000.0


def fmt_ms(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.2f} ms" if abs(value) < 10 else f"{value:,.1f} ms"


def fmt_ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(fn(), seconds it took)."""
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def rss_mb() -> float:
    """This process's current resident memory in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


# ----------------------------------------------------------------------------- databases


class BenchServer:
    """A PostgreSQL server on which the run creates (and drops) its own databases."""

    def __init__(self, server_url: str | None = None) -> None:
        self.started_embedded = False
        url = server_url or os.environ.get("TEST_DATABASE_URL") or os.environ.get(
            "DATABASE_URL")
        if url:
            self.kind = "given server"
            self.admin_url = url
        else:
            self.kind = "embedded PostgreSQL (.data/bench-pg)"
            self.started_embedded = not embedded.is_running(BENCH_DATA_DIR)
            self.admin_url = make_conninfo(embedded.start(BENCH_DATA_DIR), dbname="postgres")
        self.created: list[str] = []
        self.roles: list[str] = []
        self.databases: list[Database] = []
        with self.admin() as conn:
            self.version = str(conn.execute("SHOW server_version").fetchone()[0])

    @contextmanager
    def admin(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            yield conn

    def create_database(self) -> str:
        name = f"{DB_PREFIX}{os.getpid()}_{next(_counter)}"
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return name

    def url(self, name: str) -> str:
        return as_url(make_conninfo(self.admin_url, dbname=name))

    def reader_role(self, tag: str = "") -> str:
        """A reader role private to this run (roles are server-wide; databases are not)."""
        role = f"pbbench_reader_{os.getpid()}{tag}"
        self.roles.append(role)
        return role

    def env(self, name: str, role: str, **overrides: str) -> dict[str, str]:
        """The settings mapping for an app process working in database `name`."""
        return {"DATABASE_URL": self.url(name), "READER_ROLE": role, "GENERATOR": "offline",
                **overrides}

    def settings(self, name: str, role: str, **overrides: str) -> Settings:
        return parse_settings(self.env(name, role, **overrides))

    def open(self, name: str, role: str, **overrides: str) -> Database:
        database = open_database(self.settings(name, role, **overrides))
        self.databases.append(database)
        return database

    def close(self) -> None:
        """Close pools, drop the run's databases and roles, stop a server we started."""
        for database in self.databases:
            database.close()
        with self.admin() as conn:
            for name in self.created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))
            for role in dict.fromkeys(self.roles):
                # Still referenced elsewhere: harmless, and it is named after our pid.
                with contextlib.suppress(psycopg.Error):
                    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        if self.started_embedded:
            embedded.stop(BENCH_DATA_DIR)


def child_settings() -> Settings:
    """Settings of a benchmark child process (sent by the parent in the environment)."""
    return parse_settings(json.loads(os.environ[CHILD_SETTINGS_ENV]))


def child_env(settings_env: dict[str, str]) -> dict[str, str]:
    """The environment for a child process: ours plus its settings."""
    env = dict(os.environ)
    env[CHILD_SETTINGS_ENV] = json.dumps(settings_env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR),
                                                      env.get("PYTHONPATH")]))
    return env


DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data"


def demo_questions(limit: int | None = None) -> list[str]:
    """Typical analyst questions on the demo data (the evaluation set's questions)."""
    questions = []
    with (DATA_DIR / "demo_questions.jsonl").open() as handle:
        for line in handle:
            if line.strip():
                questions.append(json.loads(line)["question"])
    return questions[:limit] if limit else questions


@dataclass
class BenchContext:
    """What every benchmark's `run(ctx)` gets: the server, the mode and a shared database."""

    server: BenchServer | None
    quick: bool = False
    duration_s: float = 60.0
    _db: Database | None = None
    _role: str | None = None
    _name: str | None = None

    def database(self) -> Database:
        """The run's main database (migrations, demo data, offline generator), made once."""
        if self._db is None:
            assert self.server is not None, "this benchmark needs a database"
            self._name = self.server.create_database()
            self._role = self.server.reader_role()
            self._db = self.server.open(self._name, self._role)
        return self._db

    def database_env(self, **overrides: str) -> dict[str, str]:
        """Settings for another app process working in the main database."""
        self.database()
        assert self.server is not None and self._name and self._role
        return self.server.env(self._name, self._role, **overrides)
