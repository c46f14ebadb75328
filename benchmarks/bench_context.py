"""Schema context on 1,000 tables: selection time and context size.

The catalog is synthetic and the same on every run (`synthetic_catalog`: 15 schemas,
comments, samples, foreign keys). In memory: `build_context` per question (median, p95;
goal under 200 ms) and the context's tokens next to the whole schema's tokens (the floor
an LLM would otherwise be sent), per question in results.json. In PostgreSQL: the
same 1,000 tables created with their comments in a throw-away database, and the one-off
introspection (`get_catalog`) an app process pays on its first question.

    python -m benchmarks --only context
"""

from __future__ import annotations

import random
import time
from typing import Any

import psycopg
from psycopg import sql

from benchmarks.bench_util import (
    BenchContext,
    BenchServer,
    Result,
    Row,
    fmt_ms,
    median,
    ms,
    percentile,
)
from dashboard import text as textlib
from dashboard.catalog import (
    Catalog,
    Column,
    ForeignKey,
    Table,
    build_context,
    get_catalog,
    render_table,
)

BUDGET = 6000
GOAL_MS = 200.0  # per selection

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


def _selection(catalog: Catalog, repeats: int) -> dict[str, Any]:
    started = time.perf_counter()
    build_context(catalog, "warm up", token_budget=BUDGET, send_samples=True)
    index_ms = ms(time.perf_counter() - started)
    times: list[float] = []
    tokens: list[int] = []
    tables: list[int] = []
    per_question = []
    for question in QUESTIONS:
        mine = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            context = build_context(catalog, question, token_budget=BUDGET, send_samples=True)
            mine.append(ms(time.perf_counter() - t0))
        times += mine
        tokens.append(context.tokens)
        tables.append(len(context.tables))
        per_question.append({"question": question, "tables": len(context.tables),
                             "tokens": context.tokens, "median_ms": median(mine),
                             "p95_ms": percentile(mine, 95)})
    whole = sum(textlib.estimate_tokens(render_table(t, send_samples=True)) + 1
                for t in catalog.tables)
    return {"index_build_ms": index_ms, "median_ms": median(times),
            "p95_ms": percentile(times, 95), "max_tokens": max(tokens),
            "median_tokens": median(tokens), "median_tables": median(tables),
            "whole_schema_tokens": whole, "budget": BUDGET, "questions": len(QUESTIONS),
            "repeats": repeats, "over_budget": sum(t > BUDGET for t in tokens),
            "per_question": per_question}


def _ddl(catalog: Catalog) -> sql.Composed:
    """CREATE SCHEMA/TABLE and COMMENT ON statements for the synthetic catalog."""
    parts: list[sql.Composable] = [
        sql.SQL("CREATE SCHEMA {};").format(sql.Identifier(s)) for s in catalog.schemas]
    for table in catalog.tables:
        name = sql.Identifier(table.schema, table.name)
        columns = []
        seen: set[str] = set()
        for column in table.columns:
            if column.name in seen:  # the generator may pick one foreign table twice
                continue
            seen.add(column.name)
            definition = sql.SQL("{} {}").format(sql.Identifier(column.name),
                                                 sql.SQL(column.type))
            if column.primary_key:
                definition += sql.SQL(" PRIMARY KEY")
            if column.references is not None:
                ref = column.references
                definition += sql.SQL(" REFERENCES {} ({})").format(
                    sql.Identifier(ref.schema, ref.table), sql.Identifier(ref.column))
            columns.append(definition)
        parts.append(sql.SQL("CREATE TABLE {} ({});").format(name, sql.SQL(", ").join(columns)))
        parts.append(sql.SQL("COMMENT ON TABLE {} IS {};").format(
            name, sql.Literal(table.comment)))
        for column in {c.name: c for c in table.columns}.values():
            if column.comment:
                parts.append(sql.SQL("COMMENT ON COLUMN {} IS {};").format(
                    sql.Identifier(table.schema, table.name, column.name),
                    sql.Literal(column.comment)))
    return sql.SQL("\n").join(parts)


def _introspection(server: BenchServer, catalog: Catalog) -> dict[str, Any]:
    name = server.create_database()
    with psycopg.connect(server.url(name), autocommit=True) as conn:
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(_ddl(catalog).as_string(conn))
        create_s = time.perf_counter() - started
    database = server.open(name, server.reader_role("_wide"),
                           DATA_SCHEMAS=",".join(DOMAINS))
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        real = get_catalog(database, refresh=True)
        times.append(time.perf_counter() - t0)
    real_ms = []
    for question in QUESTIONS:
        t0 = time.perf_counter()
        build_context(real, question, token_budget=BUDGET, send_samples=True)
        real_ms.append(ms(time.perf_counter() - t0))
    return {"tables": len(real.tables), "create_schema_s": create_s,
            "introspect_first_ms": ms(times[0]), "introspect_median_ms": ms(median(times)),
            "selection_median_ms": median(real_ms)}


def run(ctx: BenchContext) -> Result:
    quick, server = ctx.quick, ctx.server
    n_tables = 200 if quick else 1000
    catalog = synthetic_catalog(n_tables)
    memory = _selection(catalog, 3 if quick else 20)
    result = Result("context", f"5. Schema context on {n_tables:,} tables")
    share = memory["max_tokens"] / memory["whole_schema_tokens"]
    result.rows = [
        Row(f"selection per question ({len(QUESTIONS)} questions)",
            f"median {fmt_ms(memory['median_ms'])}, p95 {fmt_ms(memory['p95_ms'])}",
            f"index build {fmt_ms(memory['index_build_ms'])} once", "",
            f"< {GOAL_MS:g} ms", memory["p95_ms"] < GOAL_MS),
        Row("context size", f"max {memory['max_tokens']:,} tokens "
            f"({memory['median_tables']:.0f} tables)",
            f"whole schema {memory['whole_schema_tokens']:,} tokens", f"{share:.1%}",
            f"<= {BUDGET:,} tokens", memory["over_budget"] == 0),
    ]
    result.data = {"tables": n_tables, "in_memory": memory}
    if server is not None:
        real = _introspection(server, catalog)
        result.data["postgresql"] = real
        result.rows.append(Row(
            f"first introspection of {real['tables']:,} real tables",
            fmt_ms(real["introspect_first_ms"]),
            f"creating them {real['create_schema_s']:.1f} s", "",
            "once per app process"))
    return result
