"""Shared fixtures: one real PostgreSQL per test session, fresh databases per need.

The server is TEST_DATABASE_URL when set (CI also runs against PostgreSQL 15 that way);
otherwise the embedded PostgreSQL in `.data/test-pg`, so the suite needs no server.
A template database with migrations and demo data is built once per session; every
test database is a fast copy of it (`CREATE DATABASE ... TEMPLATE`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from dashboard import embedded
from dashboard.config import PROJECT_DIR, Settings, parse_settings
from dashboard.db import Database, as_url, open_database

DATA_DIR = Path(__file__).parent / "data"
PREFIX = "pbtest_"
_counter = itertools.count()


def _admin_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    app_url = embedded.start(PROJECT_DIR / ".data" / "test-pg")
    return make_conninfo(app_url, dbname="postgres")


def _drop_stale(admin: psycopg.Connection) -> None:
    """Drop test databases left by runs whose process is gone."""
    for (name,) in admin.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", [PREFIX + "%"]
    ).fetchall():
        pid = name.removeprefix(PREFIX).split("_")[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    # Stop the embedded server at the end only if this session started it.
    test_dir = PROJECT_DIR / ".data" / "test-pg"
    started_here = not os.environ.get("TEST_DATABASE_URL") and not embedded.is_running(test_dir)
    yield _admin_url()
    if started_here:
        embedded.stop(test_dir)


@pytest.fixture(scope="session")
def admin(admin_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        _drop_stale(conn)
        yield conn


class DatabaseFactory:
    """Creates throw-away databases on the test server; drops them at session end."""

    def __init__(self, admin: psycopg.Connection, admin_url: str) -> None:
        self.admin = admin
        self.admin_url = admin_url
        self.created: list[str] = []
        self.opened: list[Database] = []

    def create(self, template: str | None = None) -> str:
        name = f"{PREFIX}{os.getpid()}_{next(_counter)}"
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            # FILE_COPY: a plain file copy, much faster than WAL-logging a 60 MB template.
            query += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        self.admin.execute(query)
        self.created.append(name)
        return name

    def url(self, name: str) -> str:
        return make_conninfo(self.admin_url, dbname=name)

    def settings(self, name: str, **overrides: str) -> Settings:
        env = {"DATABASE_URL": as_url(self.url(name)), **overrides}
        return parse_settings(env)

    def open(self, name: str, **overrides: str) -> Database:
        database = open_database(self.settings(name, **overrides))
        self.opened.append(database)
        return database

    def cleanup(self) -> None:
        for database in self.opened:
            database.close()
        for name in self.created:
            self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture(scope="session")
def databases(admin: psycopg.Connection, admin_url: str) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(admin, admin_url)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="session")
def template_db(databases: DatabaseFactory) -> str:
    """A database with migrations, demo data and the reader role, built once."""
    name = databases.create()
    database = open_database(databases.settings(name))
    database.close()
    return name


@pytest.fixture(scope="session")
def db(databases: DatabaseFactory, template_db: str) -> Database:
    """The session's shared database (copy of the template). Do not change its schema."""
    return databases.open(databases.create(template=template_db))


@pytest.fixture
def fresh_db(databases: DatabaseFactory, template_db: str) -> Callable[..., Database]:
    """A factory for a private copy of the template, for tests that change data/schema."""

    def make(**overrides: str) -> Database:
        return databases.open(databases.create(template=template_db), **overrides)

    return make


@pytest.fixture(scope="session")
def music_db(databases: DatabaseFactory, template_db: str) -> Database:
    """The app database plus a separate music-store database as DATA_DATABASE_URL
    (schema public): a second schema the planner and the examples were not written for."""
    data_name = databases.create()
    with psycopg.connect(databases.url(data_name), autocommit=True) as conn:
        conn.execute((DATA_DIR / "music_schema.sql").read_text())
    data_url = databases.settings(data_name).database_url
    return databases.open(databases.create(template=template_db),
                          DATA_DATABASE_URL=data_url, DATA_SCHEMAS="public")


@pytest.fixture
def app_env(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the Streamlit app (AppTest, in-process) at the session database and reset
    the process-wide caches around the test."""
    from dashboard import config, ui

    monkeypatch.setenv("DATABASE_URL", as_url(db.owner_url))
    config.get_settings.cache_clear()
    ui.database.clear()
    yield
    ui.database.clear()
    config.get_settings.cache_clear()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An OpenAI base URL whose server accepts connections and never says a word."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
