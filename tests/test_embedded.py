"""The embedded PostgreSQL and the database CLI commands, on a private data directory.

The commands run in-process through `cli.main(argv)`; test_cli_subprocess.py starts the
real processes."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import psycopg
import pytest

from dashboard import cli, config, embedded
from dashboard import db as dbmodule
from dashboard.config import PROJECT_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = PROJECT_DIR / ".data" / f"test-embedded-{os.getpid()}"
    yield path
    embedded.stop(path)
    shutil.rmtree(path, ignore_errors=True)


class Ran(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Ran]]:
    """`python -m dashboard ARGS` in this process with the environment given: settings
    read afresh and the process-wide database closed after each command, as a new
    process would have them."""

    def call(*args: str, **env: str) -> Ran:
        with monkeypatch.context() as patch:
            for name in ("DATABASE_URL", "DATA_DATABASE_URL", "READER_DATABASE_URL"):
                patch.delenv(name, raising=False)
            for name, value in env.items():
                patch.setenv(name, value)
            config.get_settings.cache_clear()
            try:
                code = cli.main(list(args))
            finally:
                if dbmodule._database is not None:
                    dbmodule._database.close()
                    dbmodule._database = None
                config.get_settings.cache_clear()
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    yield call
    config.get_settings.cache_clear()


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


def test_cli_init_load_and_stop(data_dir: Path, run: Callable[..., Ran]) -> None:
    here = {"EMBEDDED_DATA_DIR": str(data_dir)}
    first = run("init-db", **here)
    assert first.code == 0, first.err
    assert "migrations applied" in first.out
    again = run("init-db", **here)
    assert again.code == 0 and again.out == first.out
    demo = run("load-demo", **here)
    assert demo.code == 0 and "already loaded" in demo.out
    stopped = run("stop-db", **here)
    assert stopped.code == 0 and "stopped" in stopped.out
    assert not embedded.is_running(data_dir)
    idle = run("stop-db", **here)
    assert idle.code == 0 and "was not running" in idle.out
    # A later start reuses the data directory: the demo data is still there.
    url = embedded.start(data_dir)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM demo.orders").fetchone() == (100_000,)


def test_cli_errors_are_one_line(data_dir: Path, run: Callable[..., Ran]) -> None:
    bad_setting = run("init-db", EMBEDDED_DATA_DIR=str(data_dir), MAX_ROWS="lots")
    assert bad_setting.code == 1
    assert bad_setting.err == "error: MAX_ROWS must be a whole number.\n"
    bad_server = run("init-db", DATABASE_URL="postgresql://nobody:s3cret@127.0.0.1:1/none")
    assert bad_server.code == 1
    assert "Cannot connect to the database set by DATABASE_URL" in bad_server.err
    assert "s3cret" not in bad_server.err and "Traceback" not in bad_server.err
    assert len(bad_server.err.strip().splitlines()) == 1
