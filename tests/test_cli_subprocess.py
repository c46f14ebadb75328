"""`python -m dashboard COMMAND` as real processes: one test per command, for what only a
process shows (the entry point, settings from the environment, stdout/stderr and the
exit code). What each command does is tested in-process (test_cli_ask.py,
test_embedded.py); run-sql and check-sql have theirs with the guard and the executor."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dashboard.config import PROJECT_DIR
from dashboard.db import Database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cli_db(databases, template_db) -> Database:  # type: ignore[no-untyped-def]
    """One private database for this module's processes (they save widgets)."""
    return databases.open(databases.create(template=template_db))


def cli(db: Database, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPENAI_", "DATA_", "READER_")) and k != "GENERATOR"}
    assert db.settings.database_url
    clean.update(DATABASE_URL=db.settings.database_url, GENERATOR="offline", **env)
    return subprocess.run([sys.executable, "-m", "dashboard", *args], cwd=PROJECT_DIR,
                          env=clean, capture_output=True, text=True, timeout=120, check=False)


def test_ask(cli_db: Database) -> None:
    done = cli(cli_db, "ask", "--user", "cli-process", "--json", "how many orders per region")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["generator"] == "offline" and out["row_count"] == 4
    assert isinstance(out["widget_id"], int)


def test_widgets(cli_db: Database) -> None:
    done = cli(cli_db, "widgets", "--user", "cli-process-empty")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "cli-process-empty has no widgets yet.\n"


def test_refresh(cli_db: Database) -> None:
    done = cli(cli_db, "refresh", "--user", "testuser", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "static (no query), kept as it is." in done.stdout  # the seed widget


def test_init_db(cli_db: Database) -> None:
    done = cli(cli_db, "init-db")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Database ready: ") and "migrations applied" in done.stdout


def test_load_demo(cli_db: Database) -> None:
    done = cli(cli_db, "load-demo")
    assert done.returncode == 0, done.stderr
    assert "already loaded" in done.stdout and "checksum" in done.stdout


def test_stop_db_with_a_server_of_ones_own(cli_db: Database) -> None:
    done = cli(cli_db, "stop-db")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "DATABASE_URL is set: there is no embedded PostgreSQL to stop.\n"


def test_a_user_error_is_one_line_and_exit_code_1(cli_db: Database) -> None:
    done = cli(cli_db, "init-db", MAX_ROWS="lots")
    assert done.returncode == 1
    assert done.stderr == "error: MAX_ROWS must be a whole number.\n"
    assert done.stdout == ""

