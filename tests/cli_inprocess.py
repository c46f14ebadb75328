"""`python -m dashboard ARGS` run in this process through `cli.main(argv)`, the way a new
process would run it: settings read afresh, stdout and stderr captured, and the
process-wide database either the one given or opened for the command and closed after.
test_cli_subprocess.py keeps one real process per command."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from typing import NamedTuple
from unittest.mock import patch

from dashboard import cli, config
from dashboard import db as dbmodule
from dashboard.db import Database


class Ran(NamedTuple):
    """What a finished `python -m dashboard` process leaves: as subprocess.run has it."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, environ: Mapping[str, str] | None = None,
            database: Database | None = None) -> Ran:
    """Run one command; `environ` replaces the whole environment for it (else it is
    left as it is), `database` is the one the command gets from `get_database()`."""
    out, err = io.StringIO(), io.StringIO()
    previous = dbmodule._database
    with ExitStack() as stack:
        if environ is not None:
            stack.enter_context(patch.dict(os.environ, environ, clear=True))
        stack.enter_context(redirect_stdout(out))
        stack.enter_context(redirect_stderr(err))
        config.get_settings.cache_clear()
        dbmodule._database = database
        try:
            code = cli.main(list(args))
        finally:
            opened = dbmodule._database
            if opened is not None and opened is not database:
                opened.close()
            dbmodule._database = previous
            config.get_settings.cache_clear()
    return Ran(code, out.getvalue(), err.getvalue())
