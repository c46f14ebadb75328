"""Plan -> one sqlglot SELECT: the offline planner's query builder."""

from __future__ import annotations

from datetime import date

from sqlglot import exp

from dashboard import text as textlib
from dashboard.errors import GenerationFailed
from dashboard.generators import timeparse
from dashboard.generators.lexicon import ColRef, Lexicon, Metric
from dashboard.generators.reading import Dim, Measure, Plan
from dashboard.generators.sqlparts import (
    _and,
    _as_date,
    _best_time_column,
    _bucket,
    _condition,
    _div,
    _From,
    _literal,
    _merge,
    _metric_expr,
    _number,
    _percent,
    _unique,
    ident,
)


class Builder:
    def __init__(self, plan: Plan, lex: Lexicon, today: date) -> None:
        self.plan = plan
        self.lex = lex
        self.today = today
        self.notes: list[str] = []
        self.range_note = ""  # "no data after <last date>" when a period lies past the data

    # -- choosing tables and columns --------------------------------------------------

    def _metric(self, name: str) -> Metric:
        """The metric by name; for a guessed one, the candidate that suits the question."""
        metric = self.lex.metrics[name]
        if not metric.alternatives:
            return metric
        needed = [d.table for d in self.plan.dims] + [f.col.table for f in self.plan.filters]
        if self.plan.time_col is not None:
            needed.append(self.plan.time_col.table)
        for candidate in metric.alternatives:
            root = sorted(candidate.tables)[0]
            if all(self._outward(root, t) for t in needed):
                return candidate
        return metric

    def _outward(self, root: str, table: str) -> bool:
        path = self.lex.path(root, table)
        return path is not None and all(outward for _edge, outward in path)

    def _measure_root(self, m: Measure) -> str:
        if m.metric:
            metric = self._metric(m.metric)
            if metric.per_table:
                return metric.per_table
            return sorted(metric.tables)[0]
        if m.col is not None:
            return m.col.table
        assert m.table is not None
        return m.table

    def _time_column(self, frm: _From) -> ColRef | None:
        if self.plan.time_col is not None:
            return self.plan.time_col
        # The measure's table first, then the tables it points to (an item's order date).
        order = [frm.root, *self._outward_tables(frm.root)]
        for table in order:
            columns = self.lex.time_columns(table)
            if columns:
                return ColRef(table, _best_time_column(columns, self.plan.question).name)
        for table in self.lex.tables:
            columns = self.lex.time_columns(table)
            if columns and self.lex.path(frm.root, table) is not None:
                return ColRef(table, _best_time_column(columns, self.plan.question).name)
        return None

    def _outward_tables(self, root: str) -> list[str]:
        seen, frontier, result = {root}, [root], []
        while frontier:
            following = []
            for node in frontier:
                for other, _edge, outward in self.lex.neighbours(node):
                    if outward and other not in seen:
                        seen.add(other)
                        result.append(other)
                        following.append(other)
            frontier = following
        return result

    def _period_conditions(self, col: exp.Expression, ref: ColRef) -> list[exp.Expression]:
        periods = [self._resolve(p, ref) for p in self.plan.periods]
        if not periods:
            return []
        periods = _merge(periods)
        last = _as_date(self.lex.column(ref).max_value)
        if last is not None and all(p.start is not None and p.start > last for p in periods):
            # Honest about time: the period asked for lies past the data.
            self.range_note = f"no data after {last.isoformat()} in {ref.column}"
        parts = []
        for p in periods:
            conds = []
            if p.start is not None:
                conds.append(exp.GTE(this=col.copy(), expression=exp.Literal.string(
                    p.start.isoformat())))
            if p.end is not None:
                conds.append(exp.LT(this=col.copy(), expression=exp.Literal.string(
                    p.end.isoformat())))
            if conds:
                parts.append(_and(conds))
        if len(parts) == 1:
            return [parts[0]]
        result = exp.Paren(this=parts[0])
        for part in parts[1:]:
            result = exp.Or(this=result, expression=exp.Paren(this=part))
        return [exp.Paren(this=result)]

    def _resolve(self, period: timeparse.Period, ref: ColRef) -> timeparse.Period:
        if period.relative is None:
            return period
        anchor = self.today
        last = _as_date(self.lex.column(ref).max_value)
        if last is not None and last < self.today:
            anchor = last
            self.notes.append(
                f"'{period.label}' is counted back from {last.isoformat()}, the last date in "
                f"{ref.table}.{ref.column}, because the data ends before today "
                f"({self.today.isoformat()}).")
        return period.resolve(anchor)

    # -- the query ----------------------------------------------------------------------

    def build(self) -> exp.Select:
        plan = self.plan
        if plan.listing:
            return self._listing()
        measures = plan.measures
        first = measures[0]
        if first.metric and self._metric(first.metric).per_table:
            return self._ratio_metric(first)
        root = self._measure_root(first)
        frm = _From(self.lex, root)
        where: list[exp.Expression] = []
        for m in measures:
            for table in self._measure_tables(m):
                if not frm.need(table):
                    raise GenerationFailed(
                        f"I could not join {table} to {root} along foreign keys.")
        include = plan.include_cols
        filter_cols = {f.col for f in plan.filters}
        for m in measures:
            if m.metric:
                for cond in self._metric(m.metric).conditions:
                    if cond.col in include or (cond.col in filter_cols and any(
                            f.col == cond.col and f.op in {"=", "in"} for f in plan.filters)):
                        self.notes.append(
                            f"The {m.metric} definition excludes {cond.col.column} "
                            f"{cond.value!r}; your question names it, so it is included.")
                        continue
                    frm.need(cond.col.table)
                    where.append(_condition(frm.col(cond.col), cond))
        for f in plan.filters:
            self._need(frm, f.col.table, f"the filter on {f.col.column}")
            where.append(_condition(frm.col(f.col), f))
        where += self._having(frm)
        time_ref = None
        if plan.periods or plan.grain:
            time_ref = self._time_column(frm)
            if time_ref is None:
                raise GenerationFailed(
                    "I could not find a date or time column for the period in that question.")
            self._need(frm, time_ref.table, f"the date column {time_ref.column}")
            where += self._period_conditions(frm.col(time_ref), time_ref)
        for d in plan.dims:
            self._need(frm, d.table, f"grouping by {d.words or d.table}")

        group: list[exp.Expression] = []
        select: list[exp.Expression] = []
        order: list[exp.Ordered] = []
        bucket_alias = None
        if plan.grain and time_ref is not None:
            bucket = _bucket(plan.grain, frm.col(time_ref))
            bucket_alias = plan.grain
            select.append(exp.alias_(bucket, bucket_alias))
            group.append(bucket.copy())
        label_cols: list[str] = []
        used_aliases = {bucket_alias} if bucket_alias else set()
        for d in plan.dims:
            for expr, alias, keys in self._dim_exprs(d, frm, used_aliases):
                select.append(exp.alias_(expr, alias))
                group.append(expr.copy())
                group += keys
                label_cols.append(alias)
        measure_aliases = []
        for m in measures:
            expr, alias = self._measure_expr(m, frm, bucket_alias is not None and bool(
                plan.dims), group_exprs=[e.copy() for e in group[:1]] if bucket_alias else [])
            alias = _unique(alias, used_aliases)
            select.append(exp.alias_(expr, alias))
            measure_aliases.append(alias)
        query = exp.select(*select)
        query = frm.apply(query)
        condition = _and(where)
        if condition is not None:
            query = query.where(condition)
        if group:
            query = query.group_by(*group)
        main = measure_aliases[0]
        if plan.nested_avg and bucket_alias:
            return self._nested_avg(query, label_cols, measure_aliases)
        if plan.growth and bucket_alias:
            return self._growth(query, bucket_alias, label_cols, measure_aliases)
        if plan.cumulative and bucket_alias:
            return self._cumulative(query, bucket_alias, label_cols, measure_aliases)
        if plan.top is not None:
            direction = plan.descending
            order.append(exp.Ordered(this=exp.column(main), desc=direction,
                                     nulls_first=not direction))
            order += [exp.Ordered(this=exp.column(a)) for a in label_cols]
            if bucket_alias:
                order.insert(0, exp.Ordered(this=exp.column(bucket_alias)))
        elif bucket_alias:
            order.append(exp.Ordered(this=exp.column(bucket_alias)))
            order += [exp.Ordered(this=exp.column(a)) for a in label_cols]
        elif len(label_cols) == 1:
            order.append(exp.Ordered(this=exp.column(main), desc=True, nulls_first=False))
            order.append(exp.Ordered(this=exp.column(label_cols[0])))
        elif label_cols:
            order += [exp.Ordered(this=exp.column(a)) for a in label_cols]
        if order:
            query = query.order_by(*order)
        if plan.top is not None:
            if bucket_alias and label_cols:
                # "top 3 products per month": rank within each bucket.
                return self._top_per_bucket(query, bucket_alias, main, label_cols)
            if bucket_alias:
                # "which month had the most orders": rank the buckets themselves.
                query.set("order", None)
                query = query.order_by(
                    exp.Ordered(this=exp.column(main), desc=plan.descending,
                                nulls_first=not plan.descending),
                    exp.Ordered(this=exp.column(bucket_alias)))
            query = query.limit(plan.top)
        return query

    def _need(self, frm: _From, table: str, what: str) -> None:
        if not frm.need(table):
            raise GenerationFailed(
                f"I could not connect {what} ({table}) to {frm.root} through foreign keys.")

    def _measure_tables(self, m: Measure) -> list[str]:
        tables = []
        if m.metric:
            metric = self._metric(m.metric)
            tables += sorted(metric.tables)
        if m.col is not None:
            tables.append(m.col.table)
        if m.table:
            tables.append(m.table)
        if m.per:
            tables.append(m.per)
        return tables

    def _dim_exprs(self, d: Dim, frm: _From, used: set[str]
                   ) -> list[tuple[exp.Expression, str, list[exp.Expression]]]:
        if d.kind == "column":
            assert d.column is not None
            ref = ColRef(d.table, d.column)
            return [(frm.col(ref), _unique(d.column, used), [])]
        labels = self.lex.label_columns(d.table)
        keys = [frm.col(ColRef(d.table, c.name)) for c in self.lex.tables[d.table].primary_key]
        name = textlib.singular(textlib.words(d.table.split(".")[-1])[-1])
        if not labels:
            if not keys:
                raise GenerationFailed(f"I could not find a name or key column in {d.table}.")
            return [(keys[0], _unique(name, used), keys[1:])]
        if len(labels) == 1:
            return [(frm.col(ColRef(d.table, labels[0].name)), _unique(name, used), keys)]
        # First and last name side by side; the key keeps namesakes apart.
        return [(frm.col(ColRef(d.table, c.name)), _unique(c.name, used), keys if i == 0
                 else []) for i, c in enumerate(labels)]

    def _measure_expr(self, m: Measure, frm: _From, partition_by_bucket: bool,
                      group_exprs: list[exp.Expression]) -> tuple[exp.Expression, str]:
        expr, alias = self._aggregate(m, frm)
        if m.rate:
            for c in m.rate:
                self._need(frm, c.col.table, f"the condition on {c.col.column}")
            conds = [_condition(frm.col(c.col), c) for c in m.rate]
            numerator = exp.Filter(this=expr.copy(), expression=exp.Where(this=_and(conds)))
            value = "_".join(textlib.words(str(m.rate[0].value)))[:30] or "share"
            return _percent(numerator, expr), f"{value}_pct"
        if m.share:
            window = exp.Window(this=exp.Sum(this=expr.copy()),
                                partition_by=group_exprs if partition_by_bucket else None)
            return _percent(expr, window), f"{alias}_pct"
        return expr, alias

    def _aggregate(self, m: Measure, frm: _From) -> tuple[exp.Expression, str]:
        if m.kind == "metric" and m.metric:
            metric = self._metric(m.metric)
            expr = _metric_expr(metric, frm)
            alias = "_".join(textlib.words(metric.name))
            if m.inner == "avg" and isinstance(expr, exp.Sum):
                return exp.Avg(this=expr.this), f"avg_{alias}"
            return expr, alias
        if m.kind == "count":
            assert m.table is not None
            alias = m.table.split(".")[-1]
            if (frm.fans_out or frm.via_link) and m.table == frm.root:
                keys = [frm.col(ColRef(m.table, c.name))
                        for c in self.lex.tables[m.table].primary_key]
                if len(keys) != 1:
                    raise GenerationFailed(
                        f"Counting {alias} here would count some rows twice.")
                return exp.Count(this=exp.Distinct(expressions=keys)), alias
            if m.table != frm.root:
                keys = [frm.col(ColRef(m.table, c.name))
                        for c in self.lex.tables[m.table].primary_key]
                if len(keys) == 1:
                    return exp.Count(this=exp.Distinct(expressions=keys)), alias
            return exp.Count(this=exp.Star()), alias
        if m.kind == "count_distinct":
            if m.col is None:
                assert m.table is not None
                keys = [frm.col(ColRef(m.table, c.name))
                        for c in self.lex.tables[m.table].primary_key]
                if len(keys) != 1:
                    return exp.Count(this=exp.Star()), m.table.split(".")[-1]
                return exp.Count(this=exp.Distinct(expressions=keys)), m.table.split(".")[-1]
            column = self.lex.column(m.col)
            alias = (column.references.table if column.references else
                     f"distinct_{m.col.column}")
            return exp.Count(this=exp.Distinct(expressions=[frm.col(m.col)])), alias
        if m.kind == "per_entity":
            assert m.per is not None
            inner = Measure(m.inner or "metric", table=m.table, col=m.col, metric=m.metric)
            if m.inner == "sum":
                inner = Measure("sum", col=m.col)
            numerator, alias = self._aggregate(inner, frm)
            if m.inner in {"count", "sum"}:
                # Integer totals would divide as integers in PostgreSQL.
                numerator = exp.Mul(this=exp.Literal.number("1.0"), expression=numerator)
            keys = [frm.col(ColRef(m.per, c.name)) for c in self.lex.tables[m.per].primary_key]
            if len(keys) != 1:
                raise GenerationFailed(f"I could not find the key of {m.per} to average per.")
            per = textlib.singular(m.per.split(".")[-1])
            denominator = exp.Nullif(this=exp.Count(this=exp.Distinct(expressions=keys)),
                                     expression=exp.Literal.number(0))
            return _div(this=numerator, expression=denominator), f"{alias}_per_{per}"
        assert m.col is not None
        if frm.fans_out and m.col.table == frm.root:
            raise GenerationFailed(
                f"Adding up {m.col.column} across the joined rows would count some values "
                "more than once; ask about one table at a time.")
        column = frm.col(m.col)
        kinds = {"sum": (exp.Sum, "total"), "avg": (exp.Avg, "avg"), "max": (exp.Max, "max"),
                 "min": (exp.Min, "min")}
        if m.kind == "median":
            return exp.WithinGroup(this=exp.PercentileCont(this=exp.Literal.number(0.5)),
                                   expression=exp.Order(expressions=[exp.Ordered(
                                       this=column)])), f"median_{m.col.column}"
        func, prefix = kinds[m.kind]
        return func(this=column), f"{prefix}_{m.col.column}"

    # -- special shapes ---------------------------------------------------------------

    def _ratio_metric(self, m: Measure) -> exp.Select:
        """`metric = numerator / number of <entity>`: per-entity totals, then the ratio."""
        plan = self.plan
        metric = self._metric(m.metric or "")
        numerator = self._metric(metric.numerator or "")
        per = metric.per_table or ""
        frm = _From(self.lex, per)
        where: list[exp.Expression] = [_condition(frm.col(c.col), c)
                                       for c in metric.conditions]
        child = sorted(numerator.tables)[0]
        edge = next((e for e in self.lex.edges if e.child == child and e.parent == per), None)
        if edge is None and child != per:
            raise GenerationFailed(f"I could not relate {child} to {per} for {metric.name}.")
        for f in plan.filters:
            self._need(frm, f.col.table, f"the filter on {f.col.column}")
            where.append(_condition(frm.col(f.col), f))
        time_ref = None
        if plan.periods or plan.grain:
            time_ref = self._time_column(frm)
            if time_ref is None:
                raise GenerationFailed("I could not find a date column for that period.")
            self._need(frm, time_ref.table, "the date column")
            where += self._period_conditions(frm.col(time_ref), time_ref)
        for d in plan.dims:
            self._need(frm, d.table, f"grouping by {d.words or d.table}")
        if frm.fans_out:
            raise GenerationFailed(
                f"{metric.name.capitalize()} is defined per {per.split('.')[-1]}; it cannot be "
                "split by something that has several values within one of them.")
        select: list[exp.Expression] = []
        group: list[exp.Expression] = []
        labels: list[str] = []
        used: set[str] = set()
        bucket_alias = None
        if plan.grain and time_ref is not None:
            bucket = _bucket(plan.grain, frm.col(time_ref))
            bucket_alias = plan.grain
            used.add(bucket_alias)
            select.append(exp.alias_(bucket, bucket_alias))
            group.append(bucket.copy())
        for d in plan.dims:
            for expr, alias, keys in self._dim_exprs(d, frm, used):
                select.append(exp.alias_(expr, alias))
                group.append(expr.copy())
                group += keys
                labels.append(alias)
        value = "_".join(textlib.words(metric.name))
        if edge is not None:
            # Per-entity totals first, so entities without rows still count (as zero).
            sub_from = _From(self.lex, child)
            sub = exp.select(
                exp.alias_(sub_from.col(ColRef(child, edge.column)), "key"),
                exp.alias_(_metric_expr(numerator, sub_from), "value"))
            sub = sub_from.apply(sub)
            sub_conds = [_condition(sub_from.col(c.col), c) for c in numerator.conditions
                         if c.col.table == child]
            if sub_conds:
                sub = sub.where(_and(sub_conds))
            sub = sub.group_by(sub_from.col(ColRef(child, edge.column)))
            outer_conds = [c for c in numerator.conditions if c.col.table != child
                           and c not in metric.conditions]
            for c in outer_conds:
                self._need(frm, c.col.table, "the metric's condition")
                where.append(_condition(frm.col(c.col), c))
            total = exp.Sum(this=exp.Coalesce(this=exp.column("value", "t"),
                                              expressions=[exp.Literal.number(0)]))
            ratio = _div(this=total, expression=exp.Nullif(
                this=exp.Count(this=exp.Star()), expression=exp.Literal.number(0)))
            select.append(exp.alias_(ratio, value))
            query = exp.select(*select)
            query = frm.apply(query)
            query = query.join(exp.Subquery(this=sub, alias=exp.TableAlias(this=ident("t"))),
                               on=exp.column("key", "t").eq(
                                   frm.col(ColRef(per, edge.parent_column))),
                               join_type="left")
        else:
            raise GenerationFailed(f"I could not compute {metric.name} from its definition.")
        condition = _and(where)
        if condition is not None:
            query = query.where(condition)
        if group:
            query = query.group_by(*group)
        order = []
        if bucket_alias:
            order.append(exp.Ordered(this=exp.column(bucket_alias)))
        if plan.top is not None:
            order.append(exp.Ordered(this=exp.column(value), desc=plan.descending,
                                     nulls_first=not plan.descending))
        order += [exp.Ordered(this=exp.column(a)) for a in labels]
        if order and (group or plan.top):
            query = query.order_by(*order)
        if plan.top is not None and not bucket_alias:
            query = query.limit(plan.top)
        return query

    def _listing(self) -> exp.Select:
        plan = self.plan
        dims = plan.dims or [Dim("entity", h) for h in plan.hints[:1]]
        if not dims:
            raise GenerationFailed("I could not tell what to list.")
        frm = _From(self.lex, dims[0].table)
        for d in dims[1:]:
            self._need(frm, d.table, d.words or d.table)
        where = []
        for f in plan.filters:
            self._need(frm, f.col.table, f"the filter on {f.col.column}")
            where.append(_condition(frm.col(f.col), f))
        if plan.periods:
            time_ref = self._time_column(frm)
            if time_ref is None:
                raise GenerationFailed("I could not find a date column for that period.")
            self._need(frm, time_ref.table, "the date column")
            where += self._period_conditions(frm.col(time_ref), time_ref)
        select = []
        labels = []
        used: set[str] = set()
        by_column: dict[tuple[str, str | None], str] = {}
        for d in dims:
            for expr, alias, _keys in self._dim_exprs(d, frm, used):
                select.append(exp.alias_(expr, alias))
                labels.append(alias)
                by_column.setdefault((d.table, d.column), alias)
        query = frm.apply(exp.select(*select) if plan.rows else exp.select(*select).distinct())
        condition = _and(where)
        if condition is not None:
            query = query.where(condition)
        if plan.order:
            labels = [by_column[(c.table, c.column)] for c in plan.order]
        query = query.order_by(*[exp.Ordered(this=exp.column(a)) for a in labels])
        if plan.top:
            query = query.limit(plan.top)
        return query

    def _growth(self, inner: exp.Select, bucket: str, labels: list[str],
                measures: list[str]) -> exp.Select:
        main = measures[0]
        partition = [exp.column(a, "s") for a in labels] or None
        lag = exp.Window(this=exp.Anonymous(this="lag", expressions=[exp.column(main, "s")]),
                         partition_by=partition,
                         order=exp.Order(expressions=[exp.Ordered(this=exp.column(bucket, "s"))]))
        growth = _percent(exp.Paren(this=exp.Sub(this=exp.column(main, "s"),
                                                 expression=lag.copy())), lag)
        columns = [exp.column(bucket, "s"), *[exp.column(a, "s") for a in labels],
                   *[exp.column(m, "s") for m in measures]]
        query = exp.select(*columns, exp.alias_(growth, f"{main}_growth_pct")).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("s"))))
        return query.order_by(*[exp.Ordered(this=exp.column(a, "s"))
                                for a in [*labels, bucket]])

    def _having(self, frm: _From) -> list[exp.Expression]:
        """Rows of a table with more (or fewer) than N related rows elsewhere."""
        conditions = []
        for parent, child, fk, op, number in self.plan.having:
            self._need(frm, parent, f"counting rows of {child}")
            keys = self.lex.tables[parent].primary_key
            if len(keys) != 1:
                raise GenerationFailed(f"I could not find the key of {parent}.")
            inverse = {"<": ">=", "<=": ">", "=": "="}
            # Fewer than N includes rows with none at all: NOT IN (rows with at least N).
            negate = op in {"<", "<="}
            having_op = inverse[op] if negate else op
            ops = {">": exp.GT, ">=": exp.GTE, "=": exp.EQ}
            child_table = self.lex.tables[child]
            sub = exp.select(exp.column(fk)).from_(exp.Table(
                this=ident(child_table.name), db=ident(child_table.schema))).where(
                exp.Not(this=exp.Is(this=exp.column(fk), expression=exp.Null()))).group_by(
                exp.column(fk)).having(ops[having_op](this=exp.Count(this=exp.Star()),
                                                      expression=_literal(_number(number))))
            condition: exp.Expression = exp.In(this=frm.col(ColRef(parent, keys[0].name)),
                                               query=exp.Subquery(this=sub))
            conditions.append(exp.Not(this=condition) if negate else condition)
        return conditions

    def _cumulative(self, inner: exp.Select, bucket: str, labels: list[str],
                    measures: list[str]) -> exp.Select:
        main = measures[0]
        running = exp.Window(this=exp.Sum(this=exp.column(main, "s")),
                             partition_by=[exp.column(a, "s") for a in labels] or None,
                             order=exp.Order(expressions=[exp.Ordered(
                                 this=exp.column(bucket, "s"))]))
        query = exp.select(exp.column(bucket, "s"), *[exp.column(a, "s") for a in labels],
                           exp.alias_(running, f"cumulative_{main}")).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("s"))))
        return query.order_by(*[exp.Ordered(this=exp.column(a, "s"))
                                for a in [*labels, bucket]])

    def _nested_avg(self, inner: exp.Select, labels: list[str],
                    measures: list[str]) -> exp.Select:
        grain = self.plan.grain or "month"
        adjective = {"day": "daily", "week": "weekly", "month": "monthly",
                     "quarter": "quarterly", "year": "yearly"}[grain]
        avgs = [exp.alias_(exp.Avg(this=exp.column(m, "s")), f"avg_{adjective}_{m}")
                for m in measures]
        query = exp.select(*[exp.column(a, "s") for a in labels], *avgs).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("s"))))
        if labels:
            query = query.group_by(*[exp.column(a, "s") for a in labels]).order_by(
                *[exp.Ordered(this=exp.column(a, "s")) for a in labels])
        return query

    def _top_per_bucket(self, inner: exp.Select, bucket: str, main: str,
                        labels: list[str]) -> exp.Select:
        """Top N labels within each time bucket: rank over the grouped rows, then cut."""
        inner.set("order", None)
        rank = exp.Window(this=exp.Anonymous(this="row_number", expressions=[]),
                          partition_by=[exp.column(bucket, "s")],
                          order=exp.Order(expressions=[
                              exp.Ordered(this=exp.column(main, "s"), desc=self.plan.descending,
                                          nulls_first=not self.plan.descending),
                              *[exp.Ordered(this=exp.column(a, "s")) for a in labels]]))
        columns = [bucket, *labels, main]
        ranked = exp.select(*[exp.column(c, "s") for c in columns],
                            exp.alias_(rank, "rank")).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=ident("s"))))
        query = exp.select(*[exp.column(c, "r") for c in columns]).from_(
            exp.Subquery(this=ranked, alias=exp.TableAlias(this=ident("r"))))
        query = query.where(exp.LTE(this=exp.column("rank", "r"),
                                    expression=exp.Literal.number(self.plan.top or 1)))
        return query.order_by(exp.Ordered(this=exp.column(bucket, "r")),
                              exp.Ordered(this=exp.column("rank", "r")))
