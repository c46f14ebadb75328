"""What the words of a schema mean: the offline planner's view of the selected tables.

Built from names, types, keys, comments and sample values only, so it works on schemas
never seen before: tables become entities ("orders"), columns become attributes
("product category", "order date"), sample values become filters ("Europe"), and metric
definitions written in comments ("Revenue = sum(...) over orders whose status is not
'cancelled'") become named measures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from dashboard import text as textlib
from dashboard.catalog import Column, Table


@dataclass(frozen=True)
class ColRef:
    """A column of a selected table (`table` is the qualified name)."""

    table: str
    column: str


@dataclass(frozen=True)
class Cond:
    """A filter on one column: op is one of = <> in notin > >= < <= range."""

    col: ColRef
    op: str
    value: object


@dataclass(frozen=True)
class Target:
    kind: str  # entity | column | value | metric
    table: str = ""
    column: str = ""
    value: str = ""
    metric: str = ""


@dataclass
class Metric:
    """A named measure from a comment: an aggregate over real columns, or a ratio."""

    name: str
    expr: exp.Expression | None  # aggregate; columns qualified by qualified table names
    tables: frozenset[str]
    conditions: tuple[Cond, ...] = ()
    # Ratio metrics ("average order value = revenue / number of non-cancelled orders").
    numerator: str | None = None
    per_table: str | None = None
    source: str = ""
    # Guessed metrics (no definition in comments) may have several candidate sources;
    # the builder takes the first that reaches the question's tables without fan-out.
    alternatives: list[Metric] = field(default_factory=list)


@dataclass(frozen=True)
class Edge:
    """A foreign key: child.column references parent.parent_column."""

    child: str
    column: str
    parent: str
    parent_column: str


@dataclass
class Lexicon:
    tables: dict[str, Table]
    phrases: dict[tuple[str, ...], list[Target]] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    max_len: int = 1

    def column(self, ref: ColRef) -> Column:
        col = self.tables[ref.table].column(ref.column)
        assert col is not None
        return col

    def add(self, stems: Sequence[str], target: Target) -> None:
        key = tuple(s for s in stems if s)
        if not key:
            return
        targets = self.phrases.setdefault(key, [])
        if target not in targets:
            targets.append(target)
        self.max_len = max(self.max_len, len(key))

    def label_column(self, table: str) -> Column | None:
        """The column that names a row (name, title, ...), if any."""
        t = self.tables[table]
        candidates = [c for c in t.columns if c.is_text and c.references is None]
        for c in candidates:
            if c.name.lower() in {"name", "title", "full_name", "display_name", "label"}:
                return c
        for c in candidates:
            if c.name.lower().endswith(("_name", "name", "title")) and \
                    "first" not in c.name.lower() and "last" not in c.name.lower():
                return c
        return None

    def label_columns(self, table: str) -> list[Column]:
        """Columns that name a row: first and last name together, else a name or title."""
        t = self.tables[table]
        first = next((c for c in t.columns if c.is_text and "first" in c.name.lower()
                      and "name" in c.name.lower()), None)
        last = next((c for c in t.columns if c.is_text and (
            ("last" in c.name.lower() and "name" in c.name.lower()) or
            c.name.lower() in {"surname", "family_name", "familyname"})), None)
        if first is not None and last is not None:
            return [first, last]
        label = self.label_column(table)
        return [label] if label is not None else []

    def time_columns(self, table: str) -> list[Column]:
        return [c for c in self.tables[table].columns if c.is_time]

    def neighbours(self, table: str) -> list[tuple[str, Edge, bool]]:
        """(other table, edge, outward): outward means table -> parent (many-to-one)."""
        result = []
        for e in self.edges:
            if e.child == table and e.parent != table:
                result.append((e.parent, e, True))
            elif e.parent == table and e.child != table:
                result.append((e.child, e, False))
        return result

    def path(self, start: str, goal: str) -> list[tuple[Edge, bool]] | None:
        """Shortest join path (edges with direction) from `start` to `goal`."""
        if start == goal:
            return []
        previous: dict[str, tuple[str, Edge, bool]] = {}
        frontier = [start]
        seen = {start}
        while frontier:
            following = []
            for node in frontier:
                # Many-to-one steps first: they never multiply rows.
                for other, edge, outward in sorted(self.neighbours(node),
                                                   key=lambda n: (not n[2], n[0])):
                    if other in seen:
                        continue
                    seen.add(other)
                    previous[other] = (node, edge, outward)
                    if other == goal:
                        steps = []
                        cur = goal
                        while cur != start:
                            prev, e, out = previous[cur]
                            steps.append((e, out))
                            cur = prev
                        return steps[::-1]
                    following.append(other)
            frontier = following
        return None


# Words that say nothing about which column is meant.
_GENERIC_NAME_WORDS = {"id", "at", "on", "of", "the", "is", "by", "to", "in", "code", "no"}
_ENTITY_SKIP = {"fact", "dim", "tbl", "table", "view", "vw", "stg", "raw"}


def _phrase_words(name: str) -> list[str]:
    return [w for w in textlib.words(name) if w not in _GENERIC_NAME_WORDS]


def _entity_stems(table: Table) -> list[str]:
    return [textlib.stem(w) for w in textlib.words(table.name) if w not in _ENTITY_SKIP]


def _comment_aliases(comment: str | None) -> list[list[str]]:
    """Short names a comment gives a column or table: '(order date)', 'Order lines: ...'."""
    if not comment:
        return []
    aliases = []
    # Only two- or three-word names: one word in brackets is usually a remark, "(unique)".
    for inner in re.findall(r"\(([A-Za-z][A-Za-z ]{1,30})\)", comment):
        if 2 <= len(inner.split()) <= 3:
            aliases.append(inner.split())
    head = re.split(r"[:,;.(]", comment, maxsplit=1)[0].strip()
    # "Discount rate on the line" -> "Discount rate"; "Sales channel of the order" too.
    head = re.split(r"\s+(?:of|on|in|for|where|when|per|at|by|from|to)\s+", head,
                    maxsplit=1)[0]
    if 2 <= len(head.split()) <= 3 and head.replace(" ", "").isalpha():
        aliases.append(head.split())
    m = re.match(r"(?i)(?:number|count|amount|total) of ([a-z]+(?: [a-z]+)?)", comment)
    if m:
        aliases.append(m.group(1).split())
    return aliases


def is_list_column(values: Sequence[str]) -> bool:
    """Whether a text column holds comma-separated lists (tags, cast members)."""
    listed = sum(1 for v in values if ", " in v)
    return bool(values) and listed >= max(2, len(values) // 5)


def build_lexicon(tables: Sequence[Table]) -> Lexicon:
    """The planner's vocabulary for the given tables."""
    lex = Lexicon(tables={t.qualified_name: t for t in tables})
    for t in tables:
        q = t.qualified_name
        entity = _entity_stems(t)
        lex.add(entity, Target("entity", q))
        for alias in _comment_aliases(t.comment):
            if len(alias) >= 2:
                lex.add([textlib.stem(w) for w in alias], Target("entity", q))
        for c in t.columns:
            if c.references is not None:
                ref = f"{c.references.schema}.{c.references.table}"
                if ref in lex.tables:
                    lex.edges.append(Edge(q, c.name, ref, c.references.column))
            _add_column(lex, t, c, entity)
    for t in tables:
        for c in t.columns:
            if is_list_column(c.samples):
                continue  # "Dramas, Comedies": a list per row, never equal to one value
            for value in c.samples:
                words = textlib.words(value)
                if not words or value.strip().isdigit() or len(value.strip()) < 2 or \
                        value.strip().lower() in textlib.STOPWORDS:
                    continue  # 'IN' or 'US' as codes: never read from "in" or "us"
                lex.add([textlib.stem(w) for w in words],
                        Target("value", t.qualified_name, c.name, value))
    for t in tables:
        _read_metrics(lex, t)
    if "revenue" not in lex.metrics:
        _guess_revenue(lex)
    return lex


_DURATION_UNITS = {"millisecond", "milliseconds", "ms", "seconds", "secs", "minutes", "mins",
                   "hours"}
_QUANTITY_NAMES = ("quantity", "qty", "units", "quantity_sold", "units_sold", "quantity_ordered")
_PRICE_NAMES = ("unit_price", "price", "sale_price", "selling_price", "price_each",
                "list_price")
_AMOUNT_NAMES = ("revenue", "sales", "total", "amount", "total_amount", "grand_total",
                 "total_price", "line_total", "sales_amount", "amount_paid", "payment_amount",
                 "net_amount", "subtotal", "total_due")


def _named(table: Table, names: tuple[str, ...]) -> Column | None:
    """The first numeric column called one of `names`, with or without underscores
    (unit_price, UnitPrice)."""
    lowered = {c.name.lower().replace("_", ""): c for c in table.columns if c.is_numeric}
    return next((lowered[n.replace("_", "")] for n in names
                 if n.replace("_", "") in lowered), None)


def _guess_revenue(lex: Lexicon) -> None:
    """No definition in comments: revenue is a money total, or quantity x price lines."""
    candidates: list[Metric] = []
    for q, t in lex.tables.items():
        amount = _named(t, _AMOUNT_NAMES)
        if amount is not None:
            expr = exp.Sum(this=exp.Column(this=exp.to_identifier(amount.name),
                                           table=exp.to_identifier(q)))
            candidates.append(Metric("revenue", expr, frozenset({q}),
                                     source=f"column {t.name}.{amount.name} (a guess: no "
                                            "definition in the schema's comments)"))
    for q, t in lex.tables.items():
        qty, price = _named(t, _QUANTITY_NAMES), _named(t, _PRICE_NAMES)
        if qty is None or price is None:
            continue
        line: exp.Expression = exp.Mul(
            this=exp.Column(this=exp.to_identifier(qty.name), table=exp.to_identifier(q)),
            expression=exp.Column(this=exp.to_identifier(price.name),
                                  table=exp.to_identifier(q)))
        discount = _named(t, ("discount",))
        if discount is not None:
            line = exp.Mul(this=line, expression=exp.Paren(this=exp.Sub(
                this=exp.Literal.number(1), expression=exp.Column(
                    this=exp.to_identifier(discount.name), table=exp.to_identifier(q)))))
        candidates.append(Metric("revenue", exp.Sum(this=line), frozenset({q}),
                                 source=f"lines of {t.name}: {qty.name} x {price.name}"
                                        + (f" x (1 - {discount.name})" if discount else "")
                                        + " (a guess: no definition in the schema's comments)"))
    if candidates:
        first = candidates[0]
        first.alternatives = candidates
        lex.metrics["revenue"] = first
        lex.add(["revenu"], Target("metric", metric="revenue"))


def _add_column(lex: Lexicon, t: Table, c: Column, entity: list[str]) -> None:
    q = t.qualified_name
    target = Target("column", q, c.name)
    if c.references is not None:
        return
    words = _phrase_words(c.name)
    if c.primary_key and not words:
        return
    name_stems = [textlib.stem(w) for w in words]
    if c.primary_key and name_stems in (entity, []):
        return
    if c.is_time:
        # "ordered_at" alone would read as the entity "order": say "order date" instead.
        base = [s for s in name_stems if s not in {"dat", "tim", "timestamp", "day"}]
        for tail in (["dat"], ["tim"], ["day"]):
            lex.add(base + tail, target)
            lex.add(entity + tail, target)
        if base and base != entity and base[-1:] != entity[-1:]:
            lex.add(base, target)
    else:
        lex.add(name_stems, target)
        every = [textlib.stem(w) for w in textlib.words(c.name)]
        if every != name_stems and every[-1:] != ["id"]:
            lex.add(every, target)  # "units in stock" as typed, not only "units stock"
        if name_stems[: len(entity)] != entity:
            lex.add(entity + name_stems, target)
            if len(entity) > 1:
                lex.add(entity[-1:] + name_stems, target)
        if len(name_stems) > 1 and name_stems[-1] not in {"nam", "id", "number", "cod"}:
            lex.add(name_stems[-1:], target)
        if c.is_numeric and len(name_stems) > 1 and name_stems[-1] == "year":
            lex.add(name_stems[:1], target)  # "released in 2020" -> release_year
        if c.is_numeric and set(textlib.words(c.name.replace("_", " "))) & _DURATION_UNITS:
            for word in ("length", "duration"):  # a column counted in time units
                lex.add([textlib.stem(word)], target)
    for alias in _comment_aliases(c.comment):
        stems = [textlib.stem(w) for w in alias]
        if stems and stems != entity and not (c.is_time and stems[-1] not in
                                              {"dat", "tim", "day"} and len(stems) == 1):
            lex.add(stems, target)


_DEFINITION = re.compile(r"(?P<name>[A-Za-z][A-Za-z \-]{1,40}?)\s*=\s*(?P<body>[^;]+)")
_WHOSE = re.compile(r"\b(?:over|of|for|on)\s+(?P<table>[a-z_]+)\s+(?:whose|where)\s+"
                    r"(?P<col>[a-z_]+)\s+is\s+(?P<neg>not\s+)?'(?P<val>[^']*)'", re.I)
_RATIO = re.compile(r"^(?P<num>[a-z][a-z ]*?)\s*/\s*(?:the\s+)?(?:number|count)\s+of\s+"
                    r"(?:(?P<neg>non|not)-?\s*(?P<val>[a-z]+)\s+)?(?P<table>[a-z_ ]+?)\s*"
                    r"(?:\(|\.|$)", re.I)


def _sentences(comment: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.;])\s+(?=[A-Z])", comment) if s.strip()]


def _read_metrics(lex: Lexicon, table: Table) -> None:
    """Metric definitions in a table's comment: `Name = expression [over T whose ...]`."""
    for sentence in _sentences(table.comment or ""):
        m = _DEFINITION.match(sentence)
        if not m:
            continue
        name = m.group("name").strip()
        body = m.group("body").strip().rstrip(".")
        metric = _ratio_metric(lex, table, name, body) or _sum_metric(lex, table, name, body)
        if metric is None:
            continue
        key = " ".join(textlib.words(name))
        existing = lex.metrics.get(key)
        # An aggregate with conditions beats a bare line expression of the same name.
        if existing is None or (len(metric.conditions) > len(existing.conditions)):
            lex.metrics[key] = metric
            lex.add([textlib.stem(w) for w in textlib.words(name)], Target("metric",
                                                                               metric=key))


def _table_by_word(lex: Lexicon, word: str, near: Table) -> str | None:
    word = word.strip().lower()
    for q, t in lex.tables.items():
        if t.name.lower() == word and t.schema == near.schema:
            return q
    stem = [textlib.stem(w) for w in textlib.words(word)]
    for q, t in lex.tables.items():
        if _entity_stems(t) == stem:
            return q
    return None


def _condition_value(lex: Lexicon, table: str, value: str) -> ColRef | None:
    """The column of `table` whose sample values include `value`."""
    for c in lex.tables[table].columns:
        if any(s.lower() == value.lower() for s in c.samples):
            return ColRef(table, c.name)
    for c in lex.tables[table].columns:
        if c.comment and re.search(rf"\b{re.escape(value)}\b", c.comment, re.I) and c.is_text:
            return ColRef(table, c.name)
    return None


def _ratio_metric(lex: Lexicon, table: Table, name: str, body: str) -> Metric | None:
    m = _RATIO.match(body)
    if not m:
        return None
    numerator = " ".join(textlib.words(m.group("num")))
    per = _table_by_word(lex, m.group("table"), table)
    if numerator not in lex.metrics or per is None:
        return None
    conditions: tuple[Cond, ...] = ()
    if m.group("val"):
        # "non-cancelled orders": the column of that table holding the value 'cancelled'.
        col = _condition_value(lex, per, m.group("val"))
        if col is None:
            return None
        value = next((s for s in lex.column(col).samples if s.lower() ==
                      m.group("val").lower()), m.group("val"))
        conditions = (Cond(col, "<>", value),)
    return Metric(name.lower(), None, frozenset({per}), conditions, numerator=numerator,
                  per_table=per, source=f"comment on {table.qualified_name}")


def _sum_metric(lex: Lexicon, table: Table, name: str, body: str) -> Metric | None:
    expr = _leading_expression(body)
    if expr is None:
        return None
    columns = list(expr.find_all(exp.Column))
    if not columns:
        return None
    tables: set[str] = set()
    for col in columns:
        owner = _table_by_word(lex, col.table, table) if col.table else table.qualified_name
        if owner is None or lex.tables[owner].column(col.name) is None:
            return None
        tables.add(owner)
        col.set("table", exp.to_identifier(owner))
    if not isinstance(expr, exp.AggFunc):
        expr = exp.Sum(this=expr)
    conditions = []
    for w in _WHOSE.finditer(body):
        owner = _table_by_word(lex, w.group("table"), table)
        if owner is None or lex.tables[owner].column(w.group("col")) is None:
            return None
        op = "<>" if w.group("neg") else "="
        conditions.append(Cond(ColRef(owner, w.group("col")), op, w.group("val")))
    return Metric(name.lower(), expr, frozenset(tables), tuple(conditions),
                  source=f"comment on {table.qualified_name}")


def _leading_expression(body: str) -> exp.Expression | None:
    """The shortest leading part of `body` that parses as an SQL expression with columns."""
    cuts = sorted({len(body), *(m.start() for m in re.finditer(
        r"\s+(?:over|where|for|whose|excluding|including)\s+|\s+\(|,\s", body))})
    for cut in cuts:
        try:
            expr = sqlglot.parse_one(body[:cut], read="postgres")
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
            continue
        if isinstance(expr, exp.Expression) and expr.find(exp.Column) is not None \
                and not isinstance(expr, exp.Query):
            return expr
    return None
