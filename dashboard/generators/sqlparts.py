"""Building blocks of the offline planner's SQL: quoted identifiers, the FROM clause
grown along foreign keys, conditions, literals and small expression helpers (all as
sqlglot nodes, never as text)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlglot import exp

from dashboard import text as textlib
from dashboard.catalog import Table
from dashboard.generators import timeparse
from dashboard.generators.lexicon import (
    ColRef,
    Cond,
    Edge,
    Lexicon,
    Metric,
)

_SAFE_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED = {"all", "and", "any", "as", "asc", "by", "case", "cast", "check", "column", "do",
             "else", "end", "for", "from", "group", "having", "in", "is", "not", "null",
             "of", "on", "or", "order", "select", "table", "then", "to", "user", "when",
             "where", "with", "limit", "offset", "union", "desc", "default", "distinct",
             "fetch", "into", "join", "left", "right", "both", "only", "some", "array"}


def ident(name: str) -> exp.Identifier:
    """An identifier, quoted when PostgreSQL would otherwise fold or reject it."""
    return exp.to_identifier(name, quoted=not _SAFE_IDENT.match(name) or name in _RESERVED)


def _table_expr(table: Table, alias: str) -> exp.Table:
    return exp.Table(this=ident(table.name), db=ident(table.schema),
                     alias=exp.TableAlias(this=ident(alias)))


@dataclass
class _Join:
    table: str
    alias: str
    edge: Edge
    outward: bool  # joined as the parent of an already joined table (many-to-one)


@dataclass
class _From:
    """The FROM clause under construction: a root table and joins along foreign keys."""

    lex: Lexicon
    root: str
    aliases: dict[str, str] = field(default_factory=dict)
    joins: list[_Join] = field(default_factory=list)
    fans_out: bool = False  # a one-to-many step multiplies rows of the root
    via_link: bool = False  # a step through a link table (rows repeat per related row)

    def __post_init__(self) -> None:
        self.aliases[self.root] = _alias_for(self.root, set())

    def need(self, table: str) -> bool:
        """Join `table` along the shortest foreign-key path; False if unreachable."""
        if table in self.aliases:
            return True
        path = self.lex.path(self.root, table)
        if path is None:
            return False
        current = self.root
        for edge, outward in path:
            nxt = edge.parent if outward else edge.child
            if nxt not in self.aliases:
                self.aliases[nxt] = _alias_for(nxt, set(self.aliases.values()))
                self.joins.append(_Join(nxt, self.aliases[nxt], edge, outward))
                if not outward and not _is_link(self.lex.tables[nxt]):
                    # A link table (film_category) lists each pair once: rows of the root
                    # repeat once per related row, which is what grouping by it means.
                    self.fans_out = True
                elif not outward:
                    self.via_link = True
            current = nxt
        del current
        return True

    def col(self, ref: ColRef) -> exp.Column:
        return exp.Column(this=ident(ref.column), table=ident(self.aliases[ref.table]))

    def apply(self, select: exp.Select) -> exp.Select:
        select = select.from_(_table_expr(self.lex.tables[self.root], self.aliases[self.root]))
        for j in self.joins:
            child_alias = self.aliases[j.edge.child]
            parent_alias = self.aliases[j.edge.parent]
            on = exp.Column(this=ident(j.edge.column), table=ident(child_alias)).eq(
                exp.Column(this=ident(j.edge.parent_column), table=ident(parent_alias)))
            select = select.join(_table_expr(self.lex.tables[j.table], j.alias), on=on)
        return select


def _is_link(table: Table) -> bool:
    """A many-to-many link table: two or more foreign keys and nothing but audit columns."""
    keys = [c for c in table.columns if c.references is not None]
    others = [c for c in table.columns if c.references is None and not c.is_time]
    return len(keys) >= 2 and not others


def _alias_for(table: str, taken: set[str]) -> str:
    name = table.split(".")[-1]
    letters = "".join(w[0] for w in textlib.words(name)) or "t"
    alias = letters if letters not in _RESERVED else letters + "1"
    n = 2
    while alias in taken:
        alias = f"{letters}{n}"
        n += 1
    return alias


def _literal(value: object) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _condition(column: exp.Expression, cond: Cond) -> exp.Expression:
    if cond.op in {"isnull", "notnull"}:
        test = exp.Is(this=column, expression=exp.Null())
        if cond.value == "text":  # an empty string is no value either
            test = exp.Paren(this=exp.Or(this=test, expression=exp.EQ(
                this=column.copy(), expression=exp.Literal.string(""))))
        return test if cond.op == "isnull" else exp.Not(this=test)
    if cond.op == "notin_select":
        # An anti-join: no row of the child table refers to this row.
        table, child_column = cond.value  # type: ignore[misc]
        schema, name = table.split(".", 1)
        child = exp.column(child_column, "x")
        sub = exp.select(child).from_(exp.Table(this=ident(name), db=ident(schema),
                                                alias=exp.TableAlias(this=ident("x"))))
        sub = sub.where(exp.Not(this=exp.Is(this=child.copy(), expression=exp.Null())))
        return exp.Not(this=exp.In(this=column, query=exp.Subquery(this=sub)))
    if cond.op == "like":
        return exp.Like(this=column, expression=exp.Literal.string(str(cond.value)))
    if cond.op == "in_group_count":
        # "ratings with more than 500 titles": the values held by more than N rows.
        op, number = cond.value  # type: ignore[misc]
        table, inner_name = cond.col.table, cond.col.column
        flag = None
        if isinstance(number, tuple):  # rows of a child table referring to each row
            table, inner_name, number, flag = number
        negate = op in {"<", "<="}  # fewer than N includes rows with none: NOT IN (>= N)
        if negate and isinstance(cond.value[1], tuple):  # type: ignore[index]
            op = {"<": ">=", "<=": ">"}[op]
        schema, name = table.split(".", 1)
        inner = exp.column(inner_name, "x")
        compare = {">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE, "=": exp.EQ}[op]
        sub = exp.select(inner).from_(exp.Table(
            this=ident(name), db=ident(schema), alias=exp.TableAlias(this=ident("x")))).where(
            exp.Not(this=exp.Is(this=inner.copy(), expression=exp.Null()))).group_by(
            inner.copy()).having(compare(this=exp.Count(this=exp.Star()),
                                         expression=_literal(number)))
        if flag:  # "official languages": only the rows the yes/no column marks
            sub = sub.where(exp.column(flag, "x"))
        found = exp.In(this=column, query=exp.Subquery(this=sub))
        return exp.Not(this=found) if negate and isinstance(cond.value[1], tuple) else found  # type: ignore[index]
    if cond.op == "vs_avg":
        # "more than the average salary": the column against its average over the table.
        op, table = cond.value  # type: ignore[misc]
        schema, name = table.split(".", 1)
        sub = exp.select(exp.Avg(this=exp.column(cond.col.column, "x"))).from_(exp.Table(
            this=ident(name), db=ident(schema), alias=exp.TableAlias(this=ident("x"))))
        compare = {">": exp.GT, "<": exp.LT}[op]
        return compare(this=column, expression=exp.Subquery(this=sub))
    if cond.op in {"in", "notin"}:
        expr = exp.In(this=column, expressions=[_literal(v) for v in cond.value])  # type: ignore[attr-defined]
        return exp.Not(this=expr) if cond.op == "notin" else expr
    ops = {"=": exp.EQ, "<>": exp.NEQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE}
    return ops[cond.op](this=column, expression=_literal(cond.value))


def _and(conditions: list[exp.Expression]) -> exp.Expression | None:
    if not conditions:
        return None
    result = conditions[0]
    for c in conditions[1:]:
        result = exp.And(this=result, expression=c)
    return result


def _metric_expr(metric: Metric, frm: _From) -> exp.Expression:
    """The metric's aggregate with its columns pointed at this query's aliases."""
    assert metric.expr is not None
    expr = metric.expr.copy()
    for column in expr.find_all(exp.Column):
        table = column.table
        column.set("table", ident(frm.aliases[table]))
        column.set("this", ident(column.name))
    return expr


_GRAIN_ORDER = {"day": 0, "week": 1, "month": 2, "quarter": 3, "year": 4}


def _div(this: exp.Expression, expression: exp.Expression) -> exp.Div:
    # typed: PostgreSQL's own division (numeric stays numeric; no cast to double).
    return exp.Div(this=this, expression=expression, typed=True)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _percent(numerator: exp.Expression, denominator: exp.Expression) -> exp.Expression:
    return _div(this=exp.Mul(this=exp.Literal.number("100.0"), expression=numerator),
                   expression=exp.Nullif(this=denominator, expression=exp.Literal.number(0)))


def _bucket(grain: str, column: exp.Expression) -> exp.Expression:
    if grain == "year":
        # Whole years read best as numbers (2024), as analysts write them.
        return exp.Cast(this=exp.Extract(this=exp.var("year"), expression=column),
                        to=exp.DataType.build("int"))
    return exp.Anonymous(this="date_trunc", expressions=[exp.Literal.string(grain), column])


def _unique(alias: str, used: set[str]) -> str:
    alias = "_".join(textlib.words(alias)) or "value"  # BillingCountry -> billing_country
    candidate, n = alias, 2
    while candidate in used:
        candidate = f"{alias}_{n}"
        n += 1
    used.add(candidate)
    return candidate


def _best_time_column(columns: list, question: str):
    words = set(textlib.content_stems(question))

    def score(c) -> tuple[int, int]:
        stems = set(textlib.content_stems(c.name)) | set(textlib.content_stems(c.comment or ""))
        penalty = 1 if re.search(r"update|modif|delet|last_", c.name.lower()) else 0
        return (-len(stems & words) + penalty, columns.index(c))

    return min(columns, key=score)


def _as_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip()[:10]).date()
    except ValueError:
        return None


def _merge(periods: list[timeparse.Period]) -> list[timeparse.Period]:
    """Adjacent or overlapping ranges become one ("in 2023 and 2024")."""
    bounded = sorted(periods, key=lambda p: (p.start or date.min))
    merged: list[timeparse.Period] = []
    for p in bounded:
        if merged:
            last = merged[-1]
            if last.end is None or (p.start is not None and p.start <= last.end):
                end = None if last.end is None or p.end is None else max(last.end, p.end)
                merged[-1] = timeparse.Period(last.start, end, f"{last.label} and {p.label}")
                continue
        merged.append(p)
    return merged


