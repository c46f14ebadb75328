"""Guard cost: validations per second on the safe corpus, next to sqlglot's parse alone.

The floor is `sqlglot.parse_one(sql, read="postgres")`, the parse any sqlglot-based tool
pays; the guard adds PostgreSQL's own scanner and parser, the token rules and the tree
walks. Goal: under 5 ms median per query.

Then the pathological inputs (issue 10): every input up to the 100,000-character limit
must be answered in under 0.5 s and 200 MB by the guard, and in under 2 s by
`python -m dashboard check-sql --any-table` (a fresh process each, start-up included;
left out with --quick).

    python -m benchmarks --only guard
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator

import sqlglot

from benchmarks.bench_util import (
    DATA_DIR,
    PROJECT_DIR,
    BenchContext,
    Result,
    Row,
    fmt_ms,
    fmt_ratio,
    median,
    ms,
    percentile,
)
from dashboard import sqlguard

DEMO_TABLES = frozenset({"demo.customers", "demo.products", "demo.orders", "demo.order_items"})
GOAL_MS = 5.0
PATHOLOGICAL_GOAL_S = 0.5
PATHOLOGICAL_GOAL_MB = 200.0
CLI_GOAL_S = 2.0


def corpus(name: str = "safe_sql.txt") -> list[str]:
    """Entries of a corpus file: blocks separated by '-- ;;', each opening with '-- why:'."""
    text = (DATA_DIR / name).read_text()
    entries = []
    for block in text.split("-- ;;"):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        if lines and lines[0].startswith("-- why:"):
            entries.append("\n".join(lines))
    return entries


def _fit(head: str, items: Iterator[str], tail: str, sep: str = ",",
         limit: int = 100_000) -> tuple[str, int]:
    """head + as many items as fit in `limit` characters + tail, and how many fitted."""
    parts: list[str] = []
    size = len(head) + len(tail)
    for item in items:
        if size + len(item) + len(sep) > limit:
            break
        parts.append(item)
        size += len(item) + len(sep)
    return head + sep.join(parts) + tail, len(parts)


def pathological_inputs() -> list[tuple[str, str, bool]]:
    """(name, sql, accepted) for inputs up to the 100,000-character limit that made the
    guard or the server slow or hungry (issue 10), and what the guard should answer."""
    chain = (f"c{i} AS(SELECT*FROM c{i - 1})" if i else "c0 AS(SELECT 1)"
             for i in itertools.count())
    cte_chain, n_chain = _fit("WITH ", chain, " SELECT*FROM c0")
    many, n_many = _fit("WITH ", (f"a{i} AS(SELECT 1)" for i in itertools.count()), " SELECT 1")
    ones = itertools.repeat("1")
    array, n_array = _fit("SELECT ARRAY[", ones, "]")
    text_array, n_text = _fit("SELECT '{", ones, "}'::int[]")
    in_list, n_in = _fit("SELECT id FROM orders WHERE id IN (", ones, ")")
    concat, n_concat = _fit("SELECT ", itertools.repeat("'a'"), "", sep="||")
    plus, n_plus = _fit("SELECT ", ones, "", sep="+")
    unions, n_unions = _fit("", itertools.repeat("SELECT 1"), "", sep=" UNION ")
    joins, n_joins = _fit("SELECT 1 FROM orders o ", (f"JOIN orders o{i} ON true"
                                                     for i in itertools.count()), "", sep=" ")
    wide = "SELECT " + ",".join(f"{i} AS c{i}" for i in range(450))
    calls, n_calls = _fit("SELECT ", itertools.repeat("abs(1)"), "")
    deep = 49_000
    return [
        (f"chain of {n_chain:,} CTEs", cte_chain, False),
        (f"WITH RECURSIVE chain of {n_chain:,} CTEs",
         cte_chain.replace("WITH", "WITH RECURSIVE", 1)[:100_000], False),
        (f"{n_many:,} independent CTEs", many, False),
        (f"{n_array:,}-element ARRAY[...] literal", array, False),
        (f"{n_text:,}-element '{{...}}'::int[] literal", text_array, True),
        ("unclosed nested comments /* /* ...", "/* " * 33_333, False),
        ("24,000 nested comments, closed", "/*" * 24_000 + "*/" * 24_000 + " SELECT 1", False),
        ("16,000 nested comments with spaces, closed", "/* " * 16_000 + "*/ " * 16_000 +
         "SELECT 1", True),
        ("99,980 + signs", "SELECT 1 " + "+" * 99_980 + " 1", False),
        ("a 99,990-character -- comment", "SELECT 1 --" + "-" * 99_980, True),
        (f"{deep:,} nested parentheses", "SELECT " + "(" * deep + "1" + ")" * deep, False),
        ("100 nested parentheses", "SELECT " + "(" * 100 + "1" + ")" * 100, True),
        (f"IN list of {n_in:,} values", in_list, False),
        ("IN list of 1,500 values", "SELECT id FROM orders WHERE id IN (" +
         ",".join(str(i) for i in range(1500)) + ")", False),
        (f"chain of {n_concat:,} || operators", concat, False),
        ("chain of 9,000 || operators", "SELECT " + "||".join(["'a'"] * 9_000), False),
        (f"chain of {n_plus:,} + operators", plus, False),
        (f"{n_unions:,} UNIONs", unions, False),
        ("6,000 UNIONs", " UNION ".join(["SELECT 1"] * 6_000), False),
        (f"{n_joins:,} joins", joins, False),
        ("4,000 nested CASE", "SELECT " + "CASE WHEN true THEN " * 4_000 + "1" +
         " END" * 4_000, False),
        ("20,000 NOT", "SELECT " + "NOT " * 20_000 + "true", False),
        ("450 selected columns", wide, True),
        ("999 selected columns", "SELECT " + ",".join(f"{i} AS c{i}" for i in range(999)), True),
        (f"{n_calls:,} function calls", calls, False),
        ("a 99,990-character string", "SELECT '" + "x" * 99_990 + "'", True),
        ("19,000 comments inside one statement", "SELECT 1 " + "/**/ " * 19_000 + "+ 1", True),
        ("16,000 -- comments inside one statement", "SELECT 1" + " -- c\n" * 16_000 + "+ 1",
         True),
    ]


def _time_each(entries: list[str], check, rounds: int) -> list[float]:
    """Per-entry median over `rounds` (one warm-up round first)."""
    import time

    for sql in entries:
        check(sql)
    per_entry = []
    for sql in entries:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            check(sql)
            times.append(ms(time.perf_counter() - started))
        per_entry.append(median(times))
    return per_entry


def _guard_cost(sql: str) -> tuple[float, float, bool]:
    """Seconds (best of three), peak traced memory in MB (a separate run), verdict."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        verdict = sqlguard.check_sql(sql, allowed_tables=None)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    try:
        sqlguard.check_sql(sql, allowed_tables=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return min(times), peak / 1e6, verdict.ok


def _cli_cost(sql: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `check-sql --any-table` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "check-sql", "--any-table"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=PROJECT_DIR, env=env)
    assert proc.stdin is not None
    proc.stdin.write(sql.encode("utf-8"))
    proc.stdin.close()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped by wait4
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def _pathological(ctx: BenchContext) -> tuple[list[Row], list[dict]]:
    rows, data = [], []
    for name, sql, expected in pathological_inputs():
        seconds, peak_mb, accepted = _guard_cost(sql)
        entry = {"input": name, "chars": len(sql), "guard_s": seconds, "guard_peak_mb": peak_mb,
                 "accepted": accepted, "expected": expected}
        shown = f"{fmt_ms(ms(seconds))}, {peak_mb:.1f} MB"
        met = seconds < PATHOLOGICAL_GOAL_S and peak_mb < PATHOLOGICAL_GOAL_MB and (
            accepted is expected)
        floor = ""
        if not ctx.quick:
            cli_s, cli_mb = _cli_cost(sql)
            entry.update(cli_s=cli_s, cli_peak_rss_mb=cli_mb)
            floor = f"check-sql {cli_s:.2f} s, {cli_mb:.0f} MB RSS"
            met = met and cli_s < CLI_GOAL_S
        rows.append(Row(f"  {name} ({'accepted' if accepted else 'refused'})", shown, floor,
                        "", f"< {PATHOLOGICAL_GOAL_S:g} s", met))
        data.append(entry)
    return rows, data


def run(ctx: BenchContext) -> Result:
    entries = corpus()
    rounds = 2 if ctx.quick else 7
    accepted = sum(sqlguard.check_sql(s, allowed_tables=DEMO_TABLES).ok for s in entries)
    guard_ms = _time_each(entries, lambda s: sqlguard.check_sql(s, allowed_tables=DEMO_TABLES),
                          rounds)
    parse_ms = _time_each(entries, lambda s: sqlglot.parse_one(s, read="postgres"), rounds)
    unsafe = corpus("unsafe_sql.txt")
    unsafe_ms = _time_each(unsafe, lambda s: sqlguard.check_sql(s, allowed_tables=DEMO_TABLES),
                           max(1, rounds // 2))
    med, p95 = median(guard_ms), percentile(guard_ms, 95)
    per_second = 1000.0 / (sum(guard_ms) / len(guard_ms))
    ratio = med / median(parse_ms)
    result = Result("guard", "2. Guard cost")
    result.rows = [
        Row(f"median per query ({len(entries)} safe queries)", fmt_ms(med),
            f"sqlglot parse {fmt_ms(median(parse_ms))}", fmt_ratio(ratio),
            f"< {GOAL_MS:g} ms", med < GOAL_MS),
        Row("p95 per query / validations per second",
            f"{fmt_ms(p95)} / {per_second:,.0f} per s"),
        Row(f"median per refused query ({len(unsafe)} unsafe)", fmt_ms(median(unsafe_ms))),
        Row("pathological inputs up to 100,000 characters", "guard time, peak memory"),
    ]
    pathological_rows, pathological = _pathological(ctx)
    result.rows += pathological_rows
    result.data = {
        "safe_queries": len(entries), "accepted": accepted, "rounds": rounds,
        "median_ms": med, "p95_ms": p95, "max_ms": max(guard_ms),
        "validations_per_s": per_second, "sqlglot_parse_median_ms": median(parse_ms),
        "ratio_to_parse": ratio, "unsafe_queries": len(unsafe),
        "unsafe_median_ms": median(unsafe_ms),
        "goal_ms": GOAL_MS, "met": med < GOAL_MS, "pathological": pathological,
    }
    return result
