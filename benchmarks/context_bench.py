"""Schema-context selection on a synthetic 1,000-table catalog (in memory).

Prints the one-off index build time, then per question the selected tables, the time of
`build_context` (median and p95 over repeats) and the context tokens against the budget.
Target: under 200 ms per selection and never over budget.

    python benchmarks/context_bench.py [--tables 1000] [--budget 6000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.catalog import Catalog, Column, ForeignKey, Table, build_context

DOMAINS = ["sales", "billing", "hr", "inventory", "marketing", "support", "logistics",
           "finance", "crm", "web", "payments", "catalog", "warehouse", "shipping", "audit"]
NOUNS = ["customer", "order", "invoice", "employee", "product", "shipment", "ticket",
         "campaign", "payment", "supplier", "warehouse", "account", "contract", "lead",
         "refund", "subscription", "session", "visit", "claim", "asset", "budget", "vendor",
         "department", "region", "store", "partner", "event", "review", "coupon", "carrier"]
SUFFIXES = ["", "_history", "_line", "_snapshot", "_archive", "_status", "_daily", "_stage",
            "_log", "_summary", "_detail", "_map", "_note", "_tag", "_score"]
COLUMN_KINDS = [("amount", "numeric(12,2)", "Amount in USD."),
                ("quantity", "integer", "Number of units."),
                ("created_at", "timestamp with time zone", "When the row was created."),
                ("status", "text", "Lifecycle status."),
                ("country", "text", "Country of the party."),
                ("name", "text", "Display name."),
                ("category", "text", "Category used in reports."),
                ("score", "double precision", "Model score between 0 and 1."),
                ("updated_at", "timestamp with time zone", "Last change."),
                ("channel", "text", "Channel: web, mobile or store.")]


def synthetic_catalog(n_tables: int, seed: int = 7) -> Catalog:
    """`n_tables` tables in 15 schemas with comments, samples and foreign keys."""
    rng = random.Random(seed)
    tables: list[Table] = []
    names: list[tuple[str, str]] = []
    for i in range(n_tables):
        schema = DOMAINS[i % len(DOMAINS)]
        noun = NOUNS[(i // len(DOMAINS)) % len(NOUNS)]
        name = f"{noun}{SUFFIXES[(i // (len(DOMAINS) * len(NOUNS))) % len(SUFFIXES)]}_{i}"
        columns = [Column("id", "bigint", False, f"{noun.title()} identifier.", True)]
        if names:
            for _ in range(rng.randint(0, 2)):
                ref_schema, ref_table = rng.choice(names)
                columns.append(Column(f"{ref_table}_id", "bigint", True,
                                      f"The related {ref_table}.", False,
                                      ForeignKey(ref_schema, ref_table, "id")))
        for col, type_, comment in rng.sample(COLUMN_KINDS, rng.randint(4, 8)):
            samples = ("active", "closed", "pending") if col == "status" else ()
            columns.append(Column(col, type_, True, f"{noun.title()} {comment}", False,
                                  None, samples))
        comment = (f"{schema.title()} {noun}s: one row per {noun}{SUFFIXES[i % 3]} "
                   f"recorded by the {schema} system; used for {noun} reporting.")
        tables.append(Table(schema, name, comment, rng.randint(10, 10_000_000),
                            tuple(columns)))
        names.append((schema, name))
    return Catalog(schemas=tuple(DOMAINS), tables=tuple(tables))


QUESTIONS = [
    "Total invoice amount by customer country in 2024",
    "How many support tickets are still pending?",
    "Monthly revenue from web orders",
    "Top 10 suppliers by shipment quantity",
    "Average campaign score by channel",
    "Number of employees per department",
    "refunds this year",
    "something with no match at all",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--budget", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    catalog = synthetic_catalog(args.tables)
    start = time.perf_counter()
    build_context(catalog, "warm up", token_budget=args.budget, send_samples=True)
    build_ms = (time.perf_counter() - start) * 1000
    print(f"catalog: {len(catalog.tables)} tables, "
          f"{sum(len(t.columns) for t in catalog.tables)} columns; "
          f"first call (builds the index): {build_ms:.1f} ms; budget {args.budget} tokens\n")
    print(f"{'question':<52} {'tables':>6} {'median ms':>10} {'p95 ms':>8} "
          f"{'tokens':>7} {'budget':>7}")
    worst = 0.0
    for question in QUESTIONS:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            context = build_context(catalog, question, token_budget=args.budget,
                                    send_samples=True)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        worst = max(worst, p95)
        flag = "" if context.tokens <= args.budget else "  OVER BUDGET"
        print(f"{question[:52]:<52} {len(context.tables):>6} {statistics.median(times):>10.2f} "
              f"{p95:>8.2f} {context.tokens:>7} {args.budget:>7}{flag}")
    print(f"\nworst p95: {worst:.2f} ms (target < 200 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
