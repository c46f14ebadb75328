"""Schema migrations and the read-only role, applied by the app's owner connection.

Migrations are `sql/migrations/NNN_name.sql`, applied in order, each in its own
transaction, recorded in `schema_migrations`, under an advisory lock so that two app
processes starting together never apply one twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from dashboard.config import PROJECT_DIR, Settings
from dashboard.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_DIR / "sql" / "migrations"
# One key for every provisioning step: migrations, roles, demo data.
ADVISORY_LOCK_KEY = 0x5072_6F6D_7074  # "Prompt"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migration files sorted by their three-digit version."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise ConfigError(f"Migration file {path.name} must be named NNN_name.sql.")
        found.append(Migration(match.group(1), path.stem, path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigError("Two migration files share one version number.")
    return found


def advisory_lock(conn: psycopg.Connection) -> None:
    """Session-level lock held until `advisory_unlock` (conn must be autocommit)."""
    conn.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])


def advisory_unlock(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


def apply_migrations(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version TEXT PRIMARY KEY,
               name TEXT NOT NULL,
               checksum TEXT NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())"""
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    done = []
    for migration in discover_migrations():
        if migration.version in applied:
            continue
        with conn.transaction():
            # Trusted files from the repository: the simple protocol runs them whole.
            conn.execute(migration.path.read_text())  # type: ignore[arg-type]
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                [migration.version, migration.name, migration.checksum],
            )
        log.info("applied migration %s", migration.name)
        done.append(migration.name)
    return done


def _can_manage_roles(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return bool(row and row[0])


def _is_superuser(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    return bool(row and row[0])


def ensure_reader_role(data_conn: psycopg.Connection, settings: Settings) -> str | None:
    """Create/refresh the reader role on the data database; return a new password or None.

    A password is returned only when one was (re)set and must be stored by the caller.
    Raises ConfigError when the role is missing and cannot be created here.
    """
    role = settings.reader_role
    ident = sql.Identifier(role)
    exists = data_conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
    new_password: str | None = None
    if not exists:
        if not _can_manage_roles(data_conn):
            raise ConfigError(
                f"The database user may not create the read-only role {role!r} (READER_ROLE). "
                "Ask an administrator to run sql/roles.sql once, then set READER_DATABASE_URL."
            )
        new_password = secrets.token_urlsafe(24)
        data_conn.execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT"
            ).format(ident, sql.Literal(new_password))
        )
    else:
        attrs = data_conn.execute(
            "SELECT rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb FROM pg_roles "
            "WHERE rolname = %s", [role]
        ).fetchone()
        if attrs and attrs[0]:
            raise ConfigError(
                f"The role {role!r} (READER_ROLE) has powers a read-only role must not have "
                "(superuser, createrole, createdb or bypassrls). Choose another READER_ROLE."
            )
    grant_reader_privileges(data_conn, settings)
    return new_password


def set_reader_password(data_conn: psycopg.Connection, role: str) -> str:
    password = secrets.token_urlsafe(24)
    data_conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
    )
    return password


def grant_reader_privileges(conn: psycopg.Connection, settings: Settings) -> None:
    """SELECT on the data schemas only; read-only, time-limited sessions; no TEMP."""
    role = sql.Identifier(settings.reader_role)
    dbname = sql.Identifier(conn.info.dbname)
    owner = sql.Identifier(conn.info.user)
    run = conn.execute
    run(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(dbname))
    run(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(dbname, owner))
    run(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(dbname, role))
    run(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    for table in ("users", "widgets", "schema_migrations", "app_secrets"):
        if run("SELECT to_regclass(%s)", [f"public.{table}"]).fetchone()[0]:  # type: ignore[index]
            run(sql.SQL("REVOKE ALL ON TABLE {} FROM PUBLIC, {}").format(
                sql.Identifier("public", table), role))
    present = [
        name for (name,) in run(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)",
            [list(settings.data_schemas)],
        )
    ]
    for schema in present:
        ident = sql.Identifier(schema)
        run(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident, role))
        run(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(ident, role))
        run(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}")
            .format(ident, role))
    settings_sql = [
        ("default_transaction_read_only", "on"),
        ("statement_timeout", f"{settings.query_timeout_ms}ms"),
        ("lock_timeout", "2s"),
        ("idle_in_transaction_session_timeout", "60s"),
        ("TimeZone", settings.timezone),
    ]
    for name, value in settings_sql:
        run(sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
            role, dbname, sql.Identifier(name), sql.Literal(value)))
    # search_path is a list of identifiers, not one string literal.
    run(sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = {}").format(
        role, dbname, sql.SQL(", ").join(sql.Identifier(s) for s in settings.data_schemas)))
    if _is_superuser(conn):
        run(sql.SQL("ALTER ROLE {} IN DATABASE {} SET temp_file_limit = '1GB'")
            .format(role, dbname))
    else:
        log.warning(
            "temp_file_limit for %s not set: it needs a superuser. Large sorts by generated "
            "queries are bounded only by QUERY_TIMEOUT_MS.", settings.reader_role
        )
