"""`check-sql` and `run-sql`: the SQL guard and the executor on the command line.

`check-sql --jsonl` answers every input line with one output line, in order, and never
needs a database when `--tables` or `--any-table` is given (corpora and PostgreSQL's
regression SQL are fed through it). Registered by `dashboard.cli.build_parser`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, TextIO, TypedDict

from dashboard.errors import DashboardError, InvalidInput

if TYPE_CHECKING:  # the guard itself is imported when a command needs it
    from dashboard.sqlguard import Verdict

AddCommand = Callable[..., argparse.ArgumentParser]


class _Answer(TypedDict):
    """One output line of `check-sql --jsonl`."""

    ok: bool
    reason: str | None


def add_commands(add: AddCommand) -> None:
    """Register check-sql and run-sql on the CLI's parser (see dashboard/cli.py)."""
    check = add("check-sql", cmd_check_sql, "Check SQL with the guard (no database needed "
                "with --tables or --any-table).")
    which = check.add_mutually_exclusive_group()
    which.add_argument("--tables", help="comma-separated tables that may be read "
                       "(schema.table; bare names use the first data schema)")
    which.add_argument("--any-table", action="store_true",
                       help="allow any data table (never app or system tables)")
    check.add_argument("--jsonl", action="store_true",
                       help='read {"sql": ...} lines on stdin, write {"ok", "reason"} lines')
    check.add_argument("sql", nargs="?", help="the SQL to check (default: read stdin)")
    run = add("run-sql", cmd_run_sql, "Guard and run one query as the read-only role.")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("sql", nargs="?", help="the SQL to run (default: read stdin)")


def _schemas() -> tuple[str, ...]:
    """DATA_SCHEMAS from the settings, or the default when the settings cannot be read."""
    try:
        from dashboard.config import get_settings

        return get_settings().data_schemas
    except DashboardError:
        return ("demo",)


def _policy(args: argparse.Namespace) -> tuple[Collection[str] | None, tuple[str, ...]]:
    schemas = _schemas()
    if args.any_table:
        return None, schemas
    if args.tables is not None:
        names = [n.strip() for n in args.tables.split(",") if n.strip()]
        return {n if "." in n else f"{schemas[0]}.{n}" for n in names}, schemas
    from dashboard.catalog import get_catalog
    from dashboard.db import get_database

    db = get_database()
    return get_catalog(db).table_names(), db.settings.data_schemas


def _read_sql(arg: str | None) -> str:
    if arg is not None:
        return arg
    if sys.stdin is None or sys.stdin.isatty():
        raise InvalidInput("Give the SQL as an argument or on standard input.")
    return sys.stdin.read()


def check_lines(lines: Iterable[bytes | str], out: TextIO, *,
                allowed_tables: Collection[str] | None, schemas: Sequence[str]) -> int:
    """Answer each JSON line with {"ok", "reason"}; return how many lines were answered."""
    from dashboard.sqlguard import check_sql

    count = 0
    for raw in lines:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        answer = _answer(text.rstrip("\r\n"), check_sql, allowed_tables, schemas)
        out.write(json.dumps(answer) + "\n")
        out.flush()  # a caller may wait for each answer before sending the next line
        count += 1
    return count


def _answer(line: str, check_sql: Callable[..., Verdict],
            allowed_tables: Collection[str] | None, schemas: Sequence[str]) -> _Answer:
    try:
        item = json.loads(line)
    except ValueError:
        return {"ok": False, "reason": "This line is not valid JSON."}
    if not isinstance(item, dict) or not isinstance(item.get("sql"), str):
        return {"ok": False, "reason": 'Expected a JSON object with a text "sql" field.'}
    verdict = check_sql(item["sql"], allowed_tables=allowed_tables, schemas=schemas)
    return {"ok": bool(verdict.ok), "reason": verdict.reason}


def cmd_check_sql(args: argparse.Namespace) -> int:
    allowed, schemas = _policy(args)
    if args.jsonl:
        try:
            check_lines(sys.stdin.buffer, sys.stdout, allowed_tables=allowed, schemas=schemas)
        except BrokenPipeError:  # the reader went away; nothing left to say
            sys.stderr.close()
        return 0
    from dashboard.sqlguard import guard

    verdict = guard(_read_sql(args.sql), allowed_tables=allowed, schemas=schemas)
    print(f"OK: a read-only query over {', '.join(verdict.tables) or 'no tables'}.")
    print(verdict.sql)
    return 0


def cmd_run_sql(args: argparse.Namespace) -> int:
    from dashboard.db import get_database
    from dashboard.executor import jsonable, run_query

    result = run_query(get_database(), _read_sql(args.sql))
    if args.json:
        print(json.dumps({
            "columns": [{"name": c.name, "type": c.type_name} for c in result.columns],
            "rows": [[jsonable(v) for v in row] for row in result.rows],
            "row_count": result.row_count, "truncated": result.truncated,
            "elapsed_ms": result.elapsed_ms,
        }))
        return 0
    names = [c.name for c in result.columns]
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    print(" | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in cells:
        print(" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    more = " (truncated at MAX_ROWS)" if result.truncated else ""
    print(f"{result.row_count} row{'s' if result.row_count != 1 else ''}{more} "
          f"in {result.elapsed_ms:.0f} ms")
    return 0


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
