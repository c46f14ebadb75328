"""One plain-English line that says what a built query computes.

Read from the sqlglot tree itself (not from the question), so the line describes the SQL
that runs: "Sum of salary of employees whose department name is 'Sales', by job title,
highest first, top 5". Dates of a period are named ("hire date from 2016-01-01 to before
2016-07-01"), so "last quarter" says which quarter it was.
"""

from __future__ import annotations

from sqlglot import exp

from dashboard import text as textlib

_AGG_NAMES = {exp.Count: "count", exp.Sum: "sum", exp.Avg: "average", exp.Min: "minimum",
              exp.Max: "maximum"}
_OPS = {exp.EQ: "is", exp.NEQ: "is not", exp.GT: "is above", exp.GTE: "is at least",
        exp.LT: "is below", exp.LTE: "is at most"}


def _words(name: str) -> str:
    return name.replace("_", " ").strip()


def _table_names(query: exp.Select) -> dict[str, str]:
    return {t.alias_or_name: t.name for t in query.find_all(exp.Table)}


def describe_value(node: exp.Expression) -> str:
    """A short English form of one expression (a column, an aggregate, a literal)."""
    if isinstance(node, exp.Alias):
        node = node.this
    if isinstance(node, exp.Column):
        return _words(node.name)
    if isinstance(node, exp.Literal):
        return f"'{node.this}'" if node.is_string else str(node.this)
    if isinstance(node, exp.Null):
        return "empty"
    if isinstance(node, exp.Boolean):
        return "yes" if node.this else "no"
    if isinstance(node, exp.Filter):
        inner = describe_value(node.this)
        where = node.expression.this if isinstance(node.expression, exp.Where) else \
            node.expression
        return f"{inner} where {describe_condition(where)}"
    for kind, name in _AGG_NAMES.items():
        if isinstance(node, kind):
            arg = node.this
            if isinstance(arg, exp.Star) or arg is None:
                return "number of rows"
            if isinstance(arg, exp.Distinct):
                return f"number of distinct {', '.join(describe_value(e) for e in arg.expressions)}"
            return f"{name} of {describe_value(arg)}"
    if isinstance(node, exp.Paren):
        return describe_value(node.this)
    if isinstance(node, exp.Mul | exp.Div | exp.Add | exp.Sub):
        symbol = {exp.Mul: "×", exp.Div: "÷", exp.Add: "+", exp.Sub: "−"}[type(node)]
        left, right = describe_value(node.this), describe_value(node.expression)
        if isinstance(node, exp.Div) and "100" in left:
            return f"percentage: {left.replace('100.0 × ', '')} out of {right}"
        return f"{left} {symbol} {right}"
    if isinstance(node, exp.Anonymous) and node.name.lower() == "nullif":
        return describe_value(node.expressions[0])
    if isinstance(node, exp.Nullif):
        return describe_value(node.this)
    if isinstance(node, exp.DateTrunc | exp.TimestampTrunc):
        unit = node.args.get("unit")
        return f"{_words(describe_value(node.this))} by {str(unit.name if unit else '').lower()}"
    if isinstance(node, exp.Window):
        return describe_value(node.this)
    if isinstance(node, exp.Cast):
        return describe_value(node.this)
    if isinstance(node, exp.Extract):
        return f"{str(node.this.name).lower()} of {describe_value(node.expression)}"
    return node.sql(dialect="postgres")


def describe_condition(node: exp.Expression) -> str:
    if isinstance(node, exp.Paren):
        return describe_condition(node.this)
    if isinstance(node, exp.And) and isinstance(node.this, exp.GTE) and \
            isinstance(node.expression, exp.LT) and \
            node.this.this == node.expression.this and \
            isinstance(node.this.expression, exp.Literal) and node.this.expression.is_string:
        return (f"{describe_value(node.this.this)} is from {node.this.expression.this} to "
                f"before {node.expression.expression.this}")
    if isinstance(node, exp.And):
        return f"{describe_condition(node.this)} and {describe_condition(node.expression)}"
    if isinstance(node, exp.Or):
        return f"{describe_condition(node.this)} or {describe_condition(node.expression)}"
    if isinstance(node, exp.Not):
        inner = node.this
        if isinstance(inner, exp.Is):
            return f"{describe_value(inner.this)} is not empty"
        if isinstance(inner, exp.In) and inner.args.get("query") is not None:
            table = inner.args["query"].find(exp.Table)
            return f"no {_words(table.name if table else 'other')} row refers to it"
        if isinstance(inner, exp.In):
            return f"{describe_value(inner.this)} is not one of " + ", ".join(
                describe_value(e) for e in inner.expressions)
        if isinstance(inner, exp.Exists):
            return "there is no matching row"
        return f"not ({describe_condition(inner)})"
    if isinstance(node, exp.Is):
        return f"{describe_value(node.this)} is empty"
    if isinstance(node, exp.In):
        return f"{describe_value(node.this)} is one of " + ", ".join(
            describe_value(e) for e in node.expressions)
    for kind, word in _OPS.items():
        if isinstance(node, kind):
            right = node.expression
            if kind is exp.GTE and isinstance(right, exp.Literal) and right.is_string:
                return f"{describe_value(node.this)} is from {right.this} on"
            if kind is exp.LT and isinstance(right, exp.Literal) and right.is_string:
                return f"{describe_value(node.this)} before {right.this}"
            return f"{describe_value(node.this)} {word} {describe_value(right)}"
    return node.sql(dialect="postgres")


def _qualify_joined(select: exp.Select, tables: dict[str, str], main: str) -> exp.Select:
    """Columns of joined tables read with their table: 'country name', not 'name'."""
    select = select.copy()
    for column in select.find_all(exp.Column):
        table = tables.get(column.table)
        if table and table != main:
            entity = textlib.singular(table.replace("_", " "))
            if entity.split()[-1] not in column.name:
                column.set("this", exp.to_identifier(f"{entity} {column.name}"))
    return select


def interpret(query: exp.Expression, *, note: str = "") -> str:
    """The one-line reading of `query` (an outer query over a subquery reads the inner)."""
    select = query if isinstance(query, exp.Select) else query.find(exp.Select)
    if select is None:
        return ""
    source = select.args.get("from")
    inner = source.this.this if source is not None and isinstance(
        source.this, exp.Subquery) else None
    if isinstance(inner, exp.Select):
        text = interpret(inner)
        return f"{text}{'; ' + note if note else ''}"
    tables = _table_names(select)
    main = next(iter(tables.values()), "")
    select = _qualify_joined(select, tables, main)
    grouped = select.args.get("group")
    outputs = [e for e in select.expressions]
    measures = [e for e in outputs if any(e.find_all(*_AGG_NAMES))]
    if measures:
        head = "; ".join(describe_value(e) for e in measures)
        head = head[0].upper() + head[1:]
        text = head.replace("Number of rows", f"Number of {_words(main)}", 1) if \
            head.startswith("Number of rows") else f"{head} of {_words(main)}"
    else:
        listed = ", ".join(describe_value(e) for e in outputs)
        text = f"{listed[:1].upper() + listed[1:]} of each row of {_words(main)}"
    where = select.args.get("where")
    if where is not None:
        text += f" whose {describe_condition(where.this)}"
    if grouped is not None and measures:
        dims = [describe_value(e) for e in outputs if e not in measures]
        if dims:
            text += ", by " + ", ".join(dims)
    having = select.args.get("having")
    if having is not None:
        text += f", keeping groups whose {describe_condition(having.this)}"
    order = select.args.get("order")
    if order is not None and order.expressions:
        first = order.expressions[0]
        direction = "highest first" if first.args.get("desc") else "lowest first"
        text += f", {describe_value(first.this)} {direction}"
    limit = select.args.get("limit")
    if limit is not None:
        text += f", first {describe_value(limit.expression)}"
    if note:
        text += f"; {note}"
    return text
