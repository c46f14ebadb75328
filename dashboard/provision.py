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
import shlex
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
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
    except psycopg.errors.InsufficientPrivilege:
        # A hardened database (sql/harden.sql) grants the lock back to one app owner only.
        raise ConfigError(
            f"The database user {conn.info.user!r} may not take the provisioning lock. A "
            "superuser must run: GRANT EXECUTE ON FUNCTION "
            f"{', '.join(OWNER_FUNCTIONS)} TO {sql.Identifier(conn.info.user).as_string(conn)}"
            " (sql/harden.sql does it for -v app_owner=...)."
        ) from None


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
            conn.execute(migration.path.read_text())
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
        # No per-query memory limit exists: keep each sort/hash node small.
        *READER_MEMORY_SETTINGS,
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


# --- the reader's functions: what PostgreSQL itself refuses when the guard is bypassed ---
#
# Every function is executable by PUBLIC unless revoked, and function privileges are per
# database. These are the built-in functions a dashboard query never needs and that
# either act beyond the query (locks, signals, notifications, sequences of transaction
# ids, session settings and seeds that outlive the query on a pooled connection), run SQL
# text of their own (a way around the guard's allowlist to any other function or table),
# or leak server and other sessions' state (files, logs, WAL, control data, other
# backends' queries and addresses). Overloads are all covered: the set is taken from
# pg_proc by name. Not revoked, on purpose (see README "Security"): `nextval`/`setval`
# (every SERIAL insert by any role calls nextval; the reader has no USAGE/UPDATE on any
# sequence and read-only transactions refuse them), `current_setting`/`pg_settings` and
# `version()` (sensitive settings are already superuser-only; client libraries and row
# security policies of other roles call them), `pg_sleep*` and `pg_backend_pid` (bounded by
# statement_timeout like any slow query; a pid is of no use without the signal functions).
REVOKED_FUNCTIONS: tuple[str, ...] = (
    # run SQL text of their own, or read tables past the guard
    "ts_stat", "ts_rewrite",
    # state that outlives the query, or acts on other sessions
    "set_config", "setseed", "pg_notify", "txid_current", "txid_current_if_assigned",
    "txid_current_snapshot", "pg_current_xact_id", "pg_current_xact_id_if_assigned",
    "pg_current_snapshot", "pg_export_snapshot", "pg_terminate_backend",
    "pg_cancel_backend", "pg_signal_backend", "pg_log_backend_memory_contexts",
    "pg_reload_conf", "pg_rotate_logfile", "pg_rotate_logfile_old", "pg_switch_wal",
    "pg_promote", "pg_wal_replay_pause", "pg_wal_replay_resume", "pg_backup_start",
    "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_drop_replication_slot",
    "pg_sync_replication_slots", "pg_import_system_collations", "pg_nextoid",
    "pg_stop_making_pinned_objects", "brin_summarize_range", "brin_summarize_new_values",
    "brin_desummarize_range", "gin_clean_pending_list", "pg_log_standby_snapshot",
    # server files and state, other sessions
    "pg_stat_file", "pg_current_logfile", "pg_stat_get_activity", "pg_stat_get_progress_info",
    "pg_blocking_pids", "pg_safe_snapshot_blocking_pids", "pg_listening_channels",
    "pg_notification_queue_usage", "pg_postmaster_start_time", "pg_conf_load_time",
    "inet_server_addr", "inet_server_port", "inet_client_addr", "inet_client_port",
    "pg_get_loaded_modules", "pg_get_wal_summarizer_state", "pg_available_wal_summaries",
    "pg_wal_summary_contents",
)
# LIKE patterns over pg_catalog function names (`_` escaped).
REVOKED_FUNCTION_PATTERNS: tuple[str, ...] = (
    r"%\_to\_xml%",  # query_/cursor_/table_/schema_/database_to_xml[schema]: run SQL text
    r"pg\_advisory%", r"pg\_try\_advisory%",
    r"lo\_%", "loread", "lowrite",
    r"pg\_read%", r"pg\_ls\_%", r"pg\_logical\_%", r"pg\_replication\_%",
    r"pg\_create\_%", r"pg\_copy\_%", r"pg\_stat\_reset%", r"pg\_stat\_get\_backend\_%",
    r"pg\_control\_%", r"pg\_current\_wal\_%", r"pg\_last\_wal\_%", r"binary\_upgrade\_%",
    r"pg\_clear\_%\_stats", r"pg\_restore\_%\_stats",  # PostgreSQL 18: planner statistics
)
# Extension functions (any schema) that open connections, run SQL text or write files.
REVOKED_EXTENSION_PATTERNS: tuple[str, ...] = (
    "dblink%", "crosstab%", "connectby", r"xpath\_table", r"pg\_file\_%",
)
# What the app's owner role calls itself (the provisioning lock), granted back explicitly.
OWNER_FUNCTIONS: tuple[str, ...] = (
    "pg_catalog.pg_advisory_lock(bigint)", "pg_catalog.pg_advisory_unlock(bigint)",
)
# Per-role memory settings for the reader (PostgreSQL defaults: 4MB, hash x2).
READER_MEMORY_SETTINGS: tuple[tuple[str, str], ...] = (
    ("work_mem", "4MB"), ("hash_mem_multiplier", "1"),
)
HARDENING_SCRIPT = "sql/harden.sql"

_RESTRICTED_SQL = """
SELECT p.oid, p.oid::regprocedure::text
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE (n.nspname = 'pg_catalog'
       AND (p.proname = ANY (%(names)s) OR p.proname LIKE ANY (%(patterns)s)))
   OR (n.nspname <> 'pg_catalog' AND p.proname LIKE ANY (%(extension)s))
ORDER BY 2"""


def restricted_functions(conn: psycopg.Connection) -> list[tuple[int, str]]:
    """(oid, signature) of every function the reader must not execute in this database."""
    rows = conn.execute(_RESTRICTED_SQL, {
        "names": list(REVOKED_FUNCTIONS), "patterns": list(REVOKED_FUNCTION_PATTERNS),
        "extension": list(REVOKED_EXTENSION_PATTERNS)}).fetchall()
    return [(int(oid), str(sig)) for oid, sig in rows]


def reader_executable(conn: psycopg.Connection, role: str) -> list[str]:
    """Signatures of the restricted functions `role` may still execute in this database
    (empty: none, or the role does not exist on this server)."""
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
        return []
    functions = restricted_functions(conn)
    return [sig for (sig,) in conn.execute(
        "SELECT f.sig FROM unnest(%s::oid[], %s::text[]) AS f(oid, sig) "
        "WHERE has_function_privilege(%s, f.oid, 'EXECUTE') ORDER BY 1",
        [[oid for oid, _ in functions], [sig for _, sig in functions], role])]


def revoke_reader_functions(conn: psycopg.Connection, settings: Settings) -> bool:
    """REVOKE EXECUTE on the restricted functions from PUBLIC and the reader; idempotent.

    Only a superuser may (built-in functions belong to the bootstrap superuser, not to the
    database owner): returns False, changing nothing, when the connected user is not one.
    A superuser needs no grant back; sql/harden.sql grants OWNER_FUNCTIONS to a plain app
    owner."""
    if not _is_superuser(conn):
        return False
    # Only what PUBLIC or the reader still holds: a start-up on a hardened database
    # writes nothing to the catalog (and two apps sharing a data database don't race).
    functions = restricted_functions(conn)
    granted = [sig for (sig,) in conn.execute(
        """SELECT f.sig FROM unnest(%s::oid[], %s::text[]) AS f(oid, sig)
           JOIN pg_catalog.pg_proc p ON p.oid = f.oid
           WHERE p.proacl IS NULL OR EXISTS (
               SELECT 1 FROM aclexplode(p.proacl) AS a
               WHERE a.privilege_type = 'EXECUTE' AND a.grantee IN (
                   0, coalesce((SELECT oid FROM pg_roles WHERE rolname = %s), 0)))
           ORDER BY 1""",
        [[oid for oid, _ in functions], [sig for _, sig in functions], settings.reader_role])]
    grantees: list[sql.Composable] = [sql.SQL("PUBLIC")]
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                    [settings.reader_role]).fetchone():
        grantees.append(sql.Identifier(settings.reader_role))
    if granted:
        # regprocedure's output is PostgreSQL's own quoted, resolvable signature.
        conn.execute(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM {}").format(
            sql.SQL(", ").join(sql.SQL(sig) for sig in granted),
            sql.SQL(", ").join(grantees)))
        log.info("revoked EXECUTE on %d functions from PUBLIC in %s", len(granted),
                 conn.info.dbname)
    return True


@dataclass(frozen=True)
class HardeningStatus:
    """Whether PostgreSQL itself refuses the restricted functions to the reader.

    `missing` lists "database: signature" pairs the reader may still execute; `commands`
    are what an administrator (a superuser) runs to finish the job, one per database.
    """

    missing: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        return not self.missing

    @property
    def label(self) -> str:
        return "full" if self.full else "partial"

    @property
    def summary(self) -> str:
        if self.full:
            return "database hardening: full"
        return (f"database hardening: partial ({len(self.missing)} functions the read-only "
                "role may still execute, such as "
                f"{', '.join(m.split(': ', 1)[1] for m in self.missing[:3])})")


def hardening_status(missing_by_database: dict[str, list[str]],
                     targets: dict[str, tuple[str, str, str]],
                     reader_role: str) -> HardeningStatus:
    """Pure: the status from what each database still allows.

    Both maps are keyed by a database label; `targets` gives its (database name, server as
    "host=... port=...", owner user) for the command.
    """
    missing = tuple(f"{label}: {sig}" for label, sigs in missing_by_database.items()
                    for sig in sorted(sigs, key=_telling_first))
    commands = tuple(
        hardening_command(*targets[label], reader_role)
        for label, sigs in missing_by_database.items() if sigs and label in targets)
    return HardeningStatus(missing, commands)


def _telling_first(signature: str) -> tuple[int, str]:
    """The functions named in REVOKED_FUNCTIONS first (ts_stat, set_config, ...)."""
    name = signature.split("(", 1)[0].rsplit(".", 1)[-1]
    rank = REVOKED_FUNCTIONS.index(name) if name in REVOKED_FUNCTIONS else len(REVOKED_FUNCTIONS)
    return rank, signature


def hardening_command(dbname: str, server: str, owner: str, reader_role: str) -> str:
    """The psql line a superuser runs on one database (sql/roles.sql includes the same)."""
    conninfo = f"{server} dbname={dbname} user=SUPERUSER".strip()
    return (f"psql {shlex.quote(conninfo)} -v ON_ERROR_STOP=1 "
            f"-v reader={shlex.quote(reader_role)} -v app_owner={shlex.quote(owner)} "
            f"-f {HARDENING_SCRIPT}")


def _server(conn: psycopg.Connection) -> str:
    info = conn.info
    return f"host={info.host} port={info.port}"


def harden(owner_conn: psycopg.Connection, data_conn: psycopg.Connection,
           settings: Settings) -> HardeningStatus:
    """Revoke where allowed in the app and the data database; report what is left.

    Logs one warning when the reader may still execute any restricted function.
    """
    conns = [owner_conn] if data_conn is owner_conn else [owner_conn, data_conn]
    missing: dict[str, list[str]] = {}
    targets: dict[str, tuple[str, str, str]] = {}
    for conn in conns:
        name = conn.info.dbname
        # Two servers may each hold a database of one name.
        label = name if name not in missing else f"{name} ({_server(conn)})"
        if not revoke_reader_functions(conn, settings):
            log.debug("not a superuser on %s: cannot revoke functions from PUBLIC", label)
        missing[label] = reader_executable(conn, settings.reader_role)
        targets[label] = (name, _server(conn), conn.info.user)
    status = hardening_status(missing, targets, settings.reader_role)
    if not status.full:
        log.warning(
            "%s: only a superuser can revoke EXECUTE on built-in functions; the SQL guard "
            "is the only layer for these until an administrator runs: %s",
            status.summary, " ; ".join(status.commands))
    return status
