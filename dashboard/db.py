"""Connections: the owner pool (app store) and the reader pool (generated SQL).

`open_database(settings)` resolves the server (DATABASE_URL, or the embedded
PostgreSQL), applies migrations, loads the demo data when it is missing, provisions the
read-only role and opens one pool per role. It runs in two steps that the app can take
apart: `open_store` (server, migrations, owner pool: enough to sign in and draw the
stored widgets) then `complete` (demo data, reader role, hardening, reader pool: what
questions and refreshes need). Each step holds the provisioning lock while it changes
anything, so two processes starting together still apply each step once.

The reader pool logs in *as* the reader role on its own connections: we never `SET ROLE`
on an owner connection, because one statement (`SELECT set_config('role', 'none', true)`)
could undo it. (The reader may not execute set_config at all where the app could revoke
it: see `provision.harden`.)
"""

from __future__ import annotations

import logging
import secrets
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from dashboard import demo, embedded, provision
from dashboard.config import Settings, get_settings
from dashboard.errors import Busy, ConfigError, DatabaseUnavailable

log = logging.getLogger(__name__)


@dataclass
class AppStore:
    """The app's own tables (users, widgets, secrets) through the owner pool: usable once
    the server is up and migrated, before the demo data and the read-only role exist.
    Use `with store.connection() as conn:`; never cache a connection."""

    settings: Settings
    owner: ConnectionPool
    owner_url: str = field(repr=False)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """An owner connection for the app store (users, widgets)."""
        with _borrow(self.owner, "POOL_TIMEOUT_S") as conn:
            yield conn

    def close(self) -> None:
        self.owner.close()


@dataclass
class Database(AppStore):
    """The process's pools: the app store's plus the read-only role's (generated SQL)."""

    reader: ConnectionPool
    reader_url: str = field(repr=False)
    # What PostgreSQL refuses the reader by itself (see provision.harden); None: not checked.
    hardening: provision.HardeningStatus | None = None

    @contextmanager
    def reader_connection(self) -> Iterator[psycopg.Connection]:
        """A connection logged in as the read-only role, for generated SQL only."""
        with _borrow(self.reader, "POOL_TIMEOUT_S") as conn:
            yield conn

    def describe(self) -> dict[str, str]:
        """Host and database names for the settings page: never user or password."""
        info = conninfo_to_dict(self.owner_url)
        host = str(info.get("host") or "localhost")
        if host.startswith("/"):
            host = "embedded (Unix socket)" if self.settings.embedded else "Unix socket"
        return {"host": host, "database": str(info.get("dbname") or "")}

    def close(self) -> None:
        self.reader.close()
        self.owner.close()


# SQLSTATEs that mean the server ended the session (administrator command, crash, still
# starting up): the connection is gone, whatever the statement was.
_SESSION_ENDED = frozenset({"57P01", "57P02", "57P03"})


def _server_reachable(pool: ConnectionPool) -> bool:
    """One direct connection attempt: tells a down server from a busy pool."""
    kwargs = {**(pool.kwargs if isinstance(pool.kwargs, dict) else {}), "connect_timeout": 3}
    try:
        psycopg.connect(pool.conninfo, **kwargs).close()
    except psycopg.Error:
        return False
    return True


@contextmanager
def _borrow(pool: ConnectionPool, setting: str) -> Iterator[psycopg.Connection]:
    try:
        with pool.connection() as conn:
            yield conn
    except PoolTimeout:
        # The pool also times out when it cannot connect at all (server stopped or
        # restarting): say so, rather than "busy", when a direct attempt fails too.
        if not _server_reachable(pool):
            raise DatabaseUnavailable(
                "Cannot reach the database: it may be restarting. Please try again in a "
                "moment; if it persists, check that PostgreSQL is running."
            ) from None
        raise Busy(
            "The database is busy: every connection stayed in use too long. "
            f"Try again in a moment ({setting} sets how long to wait)."
        ) from None
    except psycopg.OperationalError as exc:
        # A server-side error with a code is the caller's to handle, unless it says the
        # session itself was ended.
        if exc.sqlstate and exc.sqlstate not in _SESSION_ENDED:
            raise
        raise DatabaseUnavailable(
            "Lost the connection to the database. Please try again; if it persists, "
            "check that PostgreSQL is running."
        ) from exc


def _connect_error(name: str, exc: Exception) -> DatabaseUnavailable:
    # psycopg's message names host and port, never the password.
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseUnavailable(f"Cannot connect to the database set by {name}: {first_line}")


def resolve_owner_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server (started when needed)."""
    if settings.database_url:
        return settings.database_url
    return embedded.start(settings.data_dir)


def _reader_password_key(role: str) -> str:
    return f"reader_password:{role}"


def _stored_password(conn: psycopg.Connection, role: str) -> str | None:
    row = conn.execute(
        "SELECT value FROM app_secrets WHERE name = %s", [_reader_password_key(role)]
    ).fetchone()
    return row[0] if row else None


def _store_password(conn: psycopg.Connection, role: str, password: str) -> None:
    conn.execute(
        "INSERT INTO app_secrets (name, value) VALUES (%s, %s) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = NOW()",
        [_reader_password_key(role), password],
    )


def _demo_wanted(settings: Settings) -> bool:
    """Load the demo automatically when it is the configured data in the app database."""
    return settings.data_database_url is None and demo.DEMO_SCHEMA in settings.data_schemas


def bootstrap(settings: Settings, owner_url: str) -> str:
    """Migrate, load demo data if missing, provision the reader; return the reader URL."""
    _migrate(owner_url)
    return _provision(settings, owner_url)[0]


@contextmanager
def _locked_owner(owner_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit owner connection holding the provisioning lock."""
    try:
        owner_conn = psycopg.connect(owner_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise _connect_error("DATABASE_URL", exc) from None
    with owner_conn:
        provision.advisory_lock(owner_conn)
        try:
            yield owner_conn
        finally:
            if not owner_conn.closed:
                provision.advisory_unlock(owner_conn)


def _migrate(owner_url: str) -> None:
    """Step one: the app's tables (users, widgets, secrets) are current."""
    with _locked_owner(owner_url) as owner_conn:
        provision.apply_migrations(owner_conn)


def _provision(settings: Settings, owner_url: str) -> tuple[str, provision.HardeningStatus]:
    """Step two: demo data loaded if wanted and missing, the reader provisioned and
    hardened; returns the reader URL. Runs after `_migrate`."""
    data_url = settings.data_database_url or owner_url
    with _locked_owner(owner_url) as owner_conn:
        if _demo_wanted(settings) and not demo.is_loaded(owner_conn):
            log.info("loading demo data (first start)")
            demo.load(owner_conn)
        if settings.data_database_url:
            try:
                data_ctx = psycopg.connect(data_url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as exc:
                raise _connect_error("DATA_DATABASE_URL", exc) from None
        else:
            data_ctx = nullcontext(owner_conn)
        with data_ctx as data_conn:
            reader_url = _provision_reader(settings, owner_conn, data_conn, data_url)
            return reader_url, provision.harden(owner_conn, data_conn, settings)


def _provision_reader(settings: Settings, owner_conn: psycopg.Connection,
                      data_conn: psycopg.Connection, data_url: str) -> str:
    role = settings.reader_role
    if settings.reader_database_url:
        # An administrator made the role (sql/roles.sql); grant what we own, if we can.
        try:
            with data_conn.transaction():
                provision.grant_reader_privileges(data_conn, settings)
        except psycopg.Error as exc:
            log.warning("could not grant privileges to %s: %s", role, exc.diag.message_primary)
        return settings.reader_database_url
    try:
        with data_conn.transaction():
            password = provision.ensure_reader_role(data_conn, settings)
            if password is None:
                password = _stored_password(owner_conn, role)
                if password is None:
                    password = provision.set_reader_password(data_conn, role)
                    _store_password(owner_conn, role, password)
            else:
                _store_password(owner_conn, role, password)
    except psycopg.errors.InsufficientPrivilege:
        raise ConfigError(
            f"The database user may not manage the read-only role {role!r} (READER_ROLE). "
            "Ask an administrator to run sql/roles.sql once, then set READER_DATABASE_URL."
        ) from None
    return make_conninfo(data_url, user=role, password=password)


def _set_timezone(timezone: str) -> sql.Composed:
    # A utility statement, not set_config(): hardened databases revoke that from PUBLIC.
    return sql.SQL("SET TimeZone TO {}").format(sql.Literal(timezone))


# Reader connections on which the role may still call setseed() (a database the app
# could not harden): their reset gives random() a fresh seed for the next user.
_may_reseed: weakref.WeakKeyDictionary[psycopg.Connection, bool] = weakref.WeakKeyDictionary()


def _configure(timezone: str, reader: bool = False):
    def configure(conn: psycopg.Connection) -> None:
        conn.execute(_set_timezone(timezone))
        if reader:
            (allowed,) = conn.execute(
                "SELECT has_function_privilege('pg_catalog.setseed(double precision)',"
                " 'EXECUTE')").fetchone() or (False,)
            _may_reseed[conn] = bool(allowed)
        conn.commit()

    return configure


def _reset_reader(timezone: str):
    """Nothing one query did survives for the next user of the connection.

    DISCARD ALL drops session settings, advisory locks, prepared statements, cursors,
    LISTEN registrations and temporary objects; it cannot run in a transaction, so it is
    a message of its own. It keeps the random seed (setseed() is per backend): where the
    reader may call setseed, the seed is replaced by one from the OS's random source;
    where the database revoked setseed from the reader, no query can change the seed.
    Runs in the pool's worker thread, off the caller's path; a failure closes the
    connection (the pool opens a new one).
    """
    set_zone = _set_timezone(timezone)

    def reset(conn: psycopg.Connection) -> None:
        conn.autocommit = True
        conn.execute("DISCARD ALL")
        statements = [set_zone]
        if _may_reseed.get(conn):
            seed = secrets.randbits(52) / 2**52 * 2 - 1  # setseed takes -1 .. 1
            statements.append(sql.SQL("SELECT setseed({})").format(sql.Literal(seed)))
        conn.execute(sql.SQL("; ").join(statements))
        conn.autocommit = False

    return reset


def _pool(url: str, settings: Settings, name: str, env_name: str) -> ConnectionPool:
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=settings.pool_size,
        timeout=settings.pool_timeout_s,
        configure=_configure(settings.timezone, reader=name == "reader"),
        reset=_reset_reader(settings.timezone) if name == "reader" else None,
        check=ConnectionPool.check_connection,  # replace connections that died while idle
        kwargs={"connect_timeout": 10, "application_name": f"promptboard-{name}"},
        name=name,
        open=False,
    )
    try:
        pool.open(wait=True, timeout=15)
    except PoolTimeout as exc:
        pool.close()
        raise DatabaseUnavailable(
            f"Cannot open connections to the database set by {env_name}; "
            "check that PostgreSQL is running and the credentials are right."
        ) from exc
    return pool


def open_store(settings: Settings) -> AppStore:
    """Step one: start or reach the server, apply migrations, open the owner pool. Enough
    to sign in and to draw stored widgets; `complete` adds the rest."""
    owner_url = resolve_owner_url(settings)
    _migrate(owner_url)
    return AppStore(settings, _pool(owner_url, settings, "owner", "DATABASE_URL"), owner_url)


def complete(store: AppStore) -> Database:
    """Step two, on an open store: demo data, reader role, hardening and the reader pool.
    The Database shares the store's owner pool (closing it closes both)."""
    settings = store.settings
    reader_url, hardening = _provision(settings, store.owner_url)
    reader = _pool(reader_url, settings, "reader",
                   "READER_DATABASE_URL" if settings.reader_database_url else "READER_ROLE")
    return Database(settings=settings, owner=store.owner, owner_url=store.owner_url,
                    reader=reader, reader_url=reader_url, hardening=hardening)


def open_database(settings: Settings) -> Database:
    """Start or reach the server, provision it, and open both pools."""
    store = open_store(settings)
    try:
        return complete(store)
    except Exception:
        store.close()
        raise


def as_url(conninfo: str) -> str:
    """A postgresql:// URL for a key=value conninfo (Unix socket hosts too): settings such
    as DATABASE_URL take URLs, while psycopg and the embedded server hand out conninfo."""
    if conninfo.startswith(("postgresql://", "postgres://")):
        return conninfo
    info = conninfo_to_dict(conninfo)
    user = quote(str(info.pop("user", "postgres")))
    password = info.pop("password", None)
    auth = f"{user}:{quote(str(password))}@" if password else f"{user}@"
    dbname = quote(str(info.pop("dbname", "postgres")))
    host = str(info.pop("host", ""))
    port = info.pop("port", None)
    params = [f"{k}={quote(str(v))}" for k, v in info.items()]
    if host.startswith("/") or not host:
        if host:
            params.insert(0, f"host={quote(host)}")
        if port:
            params.append(f"port={port}")
        netloc = auth
    else:
        netloc = f"{auth}{host}" + (f":{port}" if port else "")
    return f"postgresql://{netloc}/{dbname}" + (f"?{'&'.join(params)}" if params else "")


_lock = threading.Lock()
_database: Database | None = None


def get_database() -> Database:
    """The process-wide Database (opened on first use)."""
    global _database
    with _lock:
        if _database is None:
            _database = open_database(get_settings())
        return _database
