"""The embedded PostgreSQL and the database CLI commands, on a private data directory.

The commands run in-process through `cli.main(argv)`; test_cli_subprocess.py starts the
real processes."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from cli_inprocess import Ran, run_cli

from dashboard import embedded
from dashboard.config import PROJECT_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = PROJECT_DIR / ".data" / f"test-embedded-{os.getpid()}"
    yield path
    embedded.stop(path)
    shutil.rmtree(path, ignore_errors=True)


def _cli(data_dir: Path, *args: str, **env: str) -> Ran:
    """The command in this process, with the environment a new process would get here:
    the test server's URLs left out, EMBEDDED_DATA_DIR and `env` added."""
    environ = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "DATA_DATABASE_URL", "READER_DATABASE_URL"}}
    environ.update(EMBEDDED_DATA_DIR=str(data_dir), **env)
    return run_cli(*args, environ=environ)


def test_concurrent_starts_share_one_server(data_dir: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        urls = list(pool.map(lambda _: embedded.start(data_dir), range(3)))
    assert len(set(urls)) == 1
    assert embedded.is_running(data_dir)
    mode = stat.S_IMODE(embedded.cluster_dir(data_dir).stat().st_mode)
    assert mode == 0o700  # the socket lives here: no one else may reach it
    with psycopg.connect(urls[0]) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (embedded.APP_DATABASE,)
        # A Unix socket only: the server listens on no TCP address.
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)


def test_cli_init_load_and_stop(data_dir: Path) -> None:
    first = _cli(data_dir, "init-db")
    assert first.returncode == 0, first.stderr
    assert "2 migrations applied" in first.stdout or "migrations applied" in first.stdout
    assert "Database hardening: full." in first.stdout  # the embedded server is superuser's
    again = _cli(data_dir, "init-db")
    assert again.returncode == 0 and again.stdout == first.stdout
    demo = _cli(data_dir, "load-demo")
    assert demo.returncode == 0 and "already loaded" in demo.stdout
    stopped = _cli(data_dir, "stop-db")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not embedded.is_running(data_dir)
    idle = _cli(data_dir, "stop-db")
    assert idle.returncode == 0 and "was not running" in idle.stdout
    # A later start reuses the data directory: the demo data is still there.
    url = embedded.start(data_dir)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM demo.orders").fetchone() == (100_000,)


def test_cli_errors_are_one_line(data_dir: Path) -> None:
    result = _cli(data_dir, "init-db", MAX_ROWS="lots")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: MAX_ROWS must be a whole number."
    assert "Traceback" not in result.stderr
    bad_server = _cli(data_dir, "init-db",
                      DATABASE_URL="postgresql://nobody:s3cret@127.0.0.1:1/none")
    assert bad_server.returncode == 1
    assert "Cannot connect to the database set by DATABASE_URL" in bad_server.stderr
    assert "s3cret" not in bad_server.stderr and "Traceback" not in bad_server.stderr
    assert len(bad_server.stderr.strip().splitlines()) == 1
