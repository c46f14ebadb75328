"""The SQL guard: accept one side-effect-free SELECT over the data tables, nothing else.

Every SQL string the app runs (generated, previewed, hand-edited, refreshed) passes
`check_sql` before the executor sees it. Three independent checks must all agree:

1. `dashboard.sqllex` tokenizes the text the way PostgreSQL's scanner does (comments,
   dollar quotes, E'' and U& strings, identifier folding) and splits statements. Exactly
   one non-empty statement; it must start like a query; cheap token rules catch INTO,
   row locks, DELETE/UPDATE and known-dangerous function names whatever the parsers say.
2. PostgreSQL's own parser (libpg_query through pglast, when installed) must see one
   SelectStmt; its tree is walked for INTO, locking clauses, data-modifying WITH,
   functions, casts and tables.
3. sqlglot (PostgreSQL dialect) parses the canonical text; the whole tree is walked:
   only allowlisted node types, allowlisted functions (by family, also when
   schema-qualified or quoted), allowlisted cast types, and tables of the data schemas
   (CTE names resolved with PostgreSQL's scoping rules).

The database enforces the same promise again (read-only role, read-only transaction,
timeouts): see `dashboard.executor`. Reasons are written for an analyst and name the
function or table at fault.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from dashboard import sqlrules
from dashboard.errors import UnsafeQuery
from dashboard.sqllex import LexError, Statement, Token, fold_identifier, scan

try:  # PostgreSQL's own parser; the guard still holds without it (layers 1 and 3).
    from pglast.parser import ParseError as PgParseError
    from pglast.parser import parse_sql_json
except ImportError:  # pragma: no cover - exercised only where pglast is missing
    parse_sql_json = None
    PgParseError = Exception

log = logging.getLogger(__name__)
# sqlglot logs a warning whenever it falls back to a generic Command; we reject those
# anyway, and the CLI must not print library noise for every refused line.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

MAX_SQL_CHARS = 100_000
PG_PARSER_AVAILABLE = parse_sql_json is not None


@dataclass(frozen=True)
class Verdict:
    """The guard's answer. `sql` is the statement to run (comments and `;` removed)."""

    ok: bool
    reason: str | None
    tables: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    sql: str | None = None


def _reject(reason: str) -> Verdict:
    return Verdict(ok=False, reason=reason)


def check_sql(sql: str, *, allowed_tables: Collection[str] | None,
              schemas: Sequence[str] = ("demo",)) -> Verdict:
    """Check one SQL text. `allowed_tables`: qualified names, or None for any data table.

    Never raises: any problem, including an internal one, is a rejection.
    """
    try:
        return _check(sql, _Policy.build(allowed_tables, schemas))
    except RecursionError:
        return _reject("The query is nested too deeply for the SQL guard to check.")
    except Exception as exc:  # the guard fails closed, never with a traceback
        log.warning("SQL guard failure (%s); the query was refused", type(exc).__name__)
        log.debug("SQL guard failure", exc_info=True)
        return _reject("The SQL guard could not check this query; please simplify it.")


def guard(sql: str, *, allowed_tables: Collection[str] | None,
          schemas: Sequence[str] = ("demo",)) -> Verdict:
    """Like `check_sql`, but raise `UnsafeQuery(reason)` when the query is refused."""
    verdict = check_sql(sql, allowed_tables=allowed_tables, schemas=schemas)
    if not verdict.ok:
        raise UnsafeQuery(verdict.reason or "The query was refused.")
    return verdict


# ----------------------------------------------------------------------------------------
# Table policy
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Policy:
    allowed: frozenset[str] | None
    schemas: tuple[str, ...]

    @classmethod
    def build(cls, allowed: Collection[str] | None, schemas: Sequence[str]) -> _Policy:
        schemas = tuple(schemas) or ("demo",)
        return cls(None if allowed is None else frozenset(allowed), schemas)

    def _available(self) -> str:
        if not self.allowed:
            return "none"
        names = sorted(n.split(".", 1)[1] if n.split(".", 1)[0] == self.schemas[0] else n
                       for n in self.allowed)
        listed = ", ".join(names[:12])
        return listed + (f" and {len(names) - 12} more" if len(names) > 12 else "")

    def resolve(self, catalog: str | None, schema: str | None,
                name: str) -> tuple[str | None, str | None]:
        """(qualified name, None) when the table may be read, else (None, reason)."""
        shown = ".".join(p for p in (catalog, schema, name) if p)
        if catalog:
            return None, (f"The table {shown} uses a database.schema.table name; dashboard "
                          "queries can only read tables of the current database.")
        system = schema in sqlrules.SYSTEM_SCHEMAS or (schema or "").startswith("pg_")
        if system or (not schema and name.startswith("pg_")):
            return None, (f"The table {shown} belongs to PostgreSQL's system catalog; "
                          f"dashboard queries can only read the data tables ({self._available()}).")
        app_table = name in sqlrules.APP_TABLES and (
            schema in (None, sqlrules.APP_SCHEMA) or self.allowed is None
        )
        if app_table:
            return None, (f"The table {shown} holds the app's own data (users and saved "
                          "widgets); dashboard queries can only read the data tables"
                          + ("." if self.allowed is None else f" ({self._available()})."))
        if self.allowed is None:
            return (f"{schema}.{name}" if schema else f"{self.schemas[0]}.{name}"), None
        candidates = [f"{schema}.{name}"] if schema else [f"{s}.{name}" for s in self.schemas]
        for qualified in candidates:
            if qualified in self.allowed:
                return qualified, None
        return None, (f"The table {shown} is not available to dashboard queries. "
                      f"Available tables: {self._available()}.")


# ----------------------------------------------------------------------------------------
# Layer 1: tokens
# ----------------------------------------------------------------------------------------
_QUERY_STARTS = {"select", "with", "values", "table"}

_STATEMENT_WHAT = {
    "delete": "deletes rows", "update": "changes rows", "insert": "adds rows",
    "merge": "merges rows into a table", "truncate": "empties tables",
    "drop": "drops database objects", "create": "creates database objects",
    "alter": "changes database objects", "grant": "changes permissions",
    "revoke": "changes permissions", "copy": "copies data to or from files or programs",
    "set": "changes session settings", "reset": "changes session settings",
    "begin": "controls transactions", "start": "controls transactions",
    "commit": "controls transactions", "end": "controls transactions",
    "rollback": "controls transactions", "abort": "controls transactions",
    "savepoint": "controls transactions", "release": "controls transactions",
    "explain": "asks for a query plan (and with ANALYZE runs the statement)",
    "lock": "locks tables", "vacuum": "runs maintenance", "analyze": "runs maintenance",
    "analyse": "runs maintenance", "cluster": "runs maintenance",
    "reindex": "runs maintenance", "checkpoint": "runs maintenance",
    "refresh": "refreshes a materialized view", "listen": "listens for notifications",
    "notify": "sends notifications", "unlisten": "changes notification listeners",
    "do": "runs procedural code", "call": "runs a procedure",
    "prepare": "prepares statements or transactions", "execute": "runs a prepared statement",
    "deallocate": "drops prepared statements", "declare": "opens a cursor",
    "fetch": "reads from a cursor", "move": "moves a cursor", "close": "closes cursors",
    "show": "shows server settings", "discard": "resets the session",
    "load": "loads a server library", "comment": "changes catalog comments",
    "security": "changes security labels", "import": "imports foreign tables",
    "reassign": "changes object ownership",
}


def _statement_reason(first: Token) -> str:
    word = first.value if first.kind == "word" else first.text
    what = _STATEMENT_WHAT.get(word)
    if what:
        return f"Only SELECT queries can run: this {word.upper()} statement {what}."
    return f"Only SELECT queries can run: this statement starts with {first.text!r}."


def _token_rules(tokens: list[Token]) -> str | None:
    """Cheap rules on PostgreSQL-accurate tokens, independent of both parsers."""
    words = [t.value if t.kind == "word" else None for t in tokens]
    for i, token in enumerate(tokens):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if word == "into":
            return ("SELECT ... INTO creates a table; dashboard queries can only read data "
                    "(remove INTO and its table name).")
        if word == "for" and (nxt in ("update", "share") or (
            nxt in ("no", "key") and i + 2 < len(words) and words[i + 2] in ("key", "share")
        )):
            return ("Row locks (FOR UPDATE / FOR SHARE) are not allowed: dashboard queries "
                    "only read and must never block other users.")
        if word == "delete" and nxt == "from":
            return "Only SELECT queries can run: this statement deletes rows."
        if word == "update" and "set" in words[i + 2 : i + 8]:
            return "Only SELECT queries can run: this statement changes rows."
        name = token.value if token.kind in ("word", "qident") else None
        if name is None:
            continue
        if name == "pg_catalog" and [t.text for t in tokens[i + 1 : i + 2]] == ["."] and [
            t.text for t in tokens[i + 3 : i + 4]
        ] == ["("]:
            continue  # pg_catalog.func(...): the function name decides (next tokens)
        call = i + 1 < len(tokens) and tokens[i + 1].text == "("
        if call and (sqlrules.is_known_dangerous(name) or name.startswith("pg_")):
            return sqlrules.explain_function(name)
        if name.startswith("pg_") or name == "information_schema":
            return (f"The name {name} refers to PostgreSQL's system catalog; dashboard "
                    "queries can only read the data tables.")
    return None


# ----------------------------------------------------------------------------------------
# Layer 2: PostgreSQL's parser (pglast)
# ----------------------------------------------------------------------------------------
_PG_NODES = sqlrules.names("""
    SelectStmt ResTarget ColumnRef A_Const A_Expr BoolExpr FuncCall TypeCast TypeName
    RangeVar JoinExpr RangeSubselect RangeFunction SubLink CaseExpr CaseWhen CoalesceExpr
    MinMaxExpr NullTest BooleanTest SortBy WindowDef WithClause CommonTableExpr GroupingSet
    GroupingFunc A_Star A_Indirection A_Indices A_ArrayExpr RowExpr SQLValueFunction
    CollateClause String Integer Float Boolean BitString List RangeTableSample ColumnDef
    CTESearchClause CTECycleClause NamedArgExpr JsonObjectConstructor JsonArrayConstructor
    JsonArrayQueryConstructor JsonObjectAgg JsonArrayAgg JsonAggConstructor JsonKeyValue
    JsonValueExpr JsonOutput JsonReturning JsonFormat JsonIsPredicate JsonParseExpr
    JsonScalarExpr JsonSerializeExpr JsonFuncExpr JsonBehavior JsonArgument
""")

_PG_WRITES = {"InsertStmt": "adds rows", "UpdateStmt": "changes rows",
              "DeleteStmt": "deletes rows", "MergeStmt": "merges rows into a table"}


def _pg_names(items: list[dict]) -> list[str]:
    return [item.get("String", {}).get("sval", "") for item in items]


def _pg_type_reason(type_name: dict) -> str | None:
    names = _pg_names(type_name.get("names", []))
    if len(names) == 2 and names[0] == "pg_catalog":
        names = names[1:]
    if len(names) != 1 or names[0] not in sqlrules.CAST_TYPES:
        return _cast_reason(".".join(names))
    return None


def _pg_check(sql: str, policy: _Policy) -> str | None:
    """Run PostgreSQL's parser over the whole text; return a reason to refuse, or None."""
    assert parse_sql_json is not None
    try:
        tree = json.loads(parse_sql_json(sql))
    except PgParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        return f"PostgreSQL cannot parse this query: {message}."
    statements = tree.get("stmts", [])
    if len(statements) != 1:
        return ("Only one statement can run at a time: PostgreSQL reads "
                f"{len(statements)} statements here.")
    stmt = statements[0].get("stmt", {})
    (kind, _), = stmt.items()
    if kind != "SelectStmt":
        what = _PG_WRITES.get(kind)
        if what:
            return f"Only SELECT queries can run: this statement {what}."
        return f"Only SELECT queries can run: PostgreSQL reads this as a {kind}."
    return _pg_walk(stmt, policy)


def _pg_walk(root: dict, policy: _Policy) -> str | None:
    stack: list[tuple[object, frozenset[str]]] = [(root, frozenset())]
    while stack:
        obj, scope = stack.pop()
        if isinstance(obj, list):
            stack.extend((item, scope) for item in obj)
            continue
        if not isinstance(obj, dict):
            continue
        for key, value in obj.items():
            if not key[:1].isupper():
                if key == "typeName" and isinstance(value, dict):
                    reason = _pg_type_reason(value)
                    if reason:
                        return reason
                stack.append((value, scope))
                continue
            if key in _PG_WRITES:
                return (f"Only SELECT queries can run: a WITH clause here {_PG_WRITES[key]} "
                        "(a data-modifying WITH runs even when its result is not used).")
            if key not in _PG_NODES:
                return _pg_node_reason(key)
            reason, children = _pg_node(key, value, scope, policy)
            if reason:
                return reason
            stack.extend(children)
    return None


def _pg_node_reason(kind: str) -> str:
    if kind == "IntoClause":
        return "SELECT ... INTO creates a table; dashboard queries can only read data."
    if kind == "LockingClause":
        return ("Row locks (FOR UPDATE / FOR SHARE) are not allowed: dashboard queries only "
                "read and must never block other users.")
    if kind == "ParamRef":
        return "Query parameters such as $1 are not supported: write the value into the query."
    if kind.startswith("Xml") or kind == "RangeTableFunc":
        return "XML functions are not available in dashboard queries."
    return f"This query uses a construct dashboard queries cannot run ({kind})."


def _pg_node(kind: str, node: dict, scope: frozenset[str],
             policy: _Policy) -> tuple[str | None, list[tuple[object, frozenset[str]]]]:
    if kind == "SelectStmt":
        if node.get("intoClause"):
            return _pg_node_reason("IntoClause"), []
        if node.get("lockingClause"):
            return _pg_node_reason("LockingClause"), []
        with_clause = node.get("withClause")
        if not with_clause:
            return None, [(node, scope)]
        ctes = with_clause.get("ctes", [])
        names = [c.get("CommonTableExpr", {}).get("ctename", "") for c in ctes]
        recursive = bool(with_clause.get("recursive"))
        children: list[tuple[object, frozenset[str]]] = []
        for i, cte in enumerate(ctes):
            visible = names if recursive else names[:i]
            children.append((cte, scope | frozenset(visible)))
        rest = {k: v for k, v in node.items() if k != "withClause"}
        children.append((rest, scope | frozenset(names)))
        return None, children
    if kind == "RangeVar":
        schema, name = node.get("schemaname"), node.get("relname", "")
        catalog = node.get("catalogname")
        if not schema and not catalog and name in scope:
            return None, []
        _, reason = policy.resolve(catalog, schema, name)
        return reason, [(node.get("alias"), scope)]
    if kind == "FuncCall":
        names = _pg_names(node.get("funcname", []))
        reason = _function_reason(names[-1], names[:-1])
        return reason, [(node, scope)]
    if kind == "A_Expr" and node.get("kind") in _OPERATOR_KINDS:
        return _operator_reason(_pg_names(node.get("name", []))), [(node, scope)]
    if kind == "SortBy" and node.get("useOp"):
        return _operator_reason(_pg_names(node["useOp"])), [(node, scope)]
    if kind == "SubLink" and node.get("operName"):
        return _operator_reason(_pg_names(node["operName"])), [(node, scope)]
    if kind == "RangeTableSample":
        method = _pg_names(node.get("method", []))
        if method[-1:] and method[-1] not in sqlrules.TABLESAMPLE_METHODS:
            return f"TABLESAMPLE {method[-1]} is not allowed (use SYSTEM or BERNOULLI).", []
    return None, [(node, scope)]


_OPERATOR_KINDS = {"AEXPR_OP", "AEXPR_OP_ANY", "AEXPR_OP_ALL"}


def _operator_reason(names: list[str]) -> str | None:
    if not names:
        return None
    qualifier, name = names[:-1], names[-1]
    if (qualifier and qualifier != ["pg_catalog"]) or name not in sqlrules.OPERATORS:
        shown = ".".join(names)
        return (f"The operator {shown} is not one of PostgreSQL's built-in operators; "
                "dashboard queries may only use those.")
    return None


def _function_reason(name: str, qualifier: Sequence[str]) -> str | None:
    if qualifier and list(qualifier) != ["pg_catalog"]:
        shown = ".".join([*qualifier, name])
        return (f"The function {shown}() is not allowed: dashboard queries may only call "
                "PostgreSQL's built-in functions.")
    if name not in sqlrules.ALLOWED_FUNCTIONS:
        return sqlrules.explain_function(name)
    return None


# ----------------------------------------------------------------------------------------
# Layer 3: sqlglot
# ----------------------------------------------------------------------------------------
class _GuardDialect(Postgres):
    """sqlglot's PostgreSQL dialect, recording the name each function was called by.

    sqlglot turns known functions into typed nodes (string_agg -> GroupConcat) and so
    forgets the name; the guard needs it to apply PostgreSQL's function allowlist.
    """

    class Parser(Postgres.Parser):
        def _parse_function_call(self, functions=None, anonymous=False,  # type: ignore[override]
                                 optional_parens=True, any_token=False):
            token = self._curr
            node = super()._parse_function_call(functions, anonymous, optional_parens, any_token)
            if node is not None and token is not None:
                target = node
                while isinstance(target, (exp.Window, exp.Filter, exp.WithinGroup)):
                    target = target.this
                if isinstance(target, exp.Expr) and "pg_name" not in target.meta:
                    quoted = token.token_type == TokenType.IDENTIFIER
                    target.meta["pg_name"] = token.text if quoted else fold_identifier(token.text)
            return node


# Node types that may appear anywhere in an accepted tree (functions are checked apart).
_NODES: tuple[type[exp.Expr], ...] = (
    exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery, exp.From,
    exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit,
    exp.Offset, exp.Fetch, exp.LimitOptions, exp.Qualify, exp.With, exp.CTE, exp.Table,
    exp.TableAlias, exp.Alias, exp.Column, exp.Identifier, exp.Star, exp.Literal, exp.Null,
    exp.Boolean, exp.Var, exp.Paren, exp.Tuple, exp.Distinct, exp.Lateral, exp.Window,
    exp.WindowSpec, exp.Filter, exp.WithinGroup, exp.GroupingSets, exp.Cube, exp.Rollup,
    exp.DataType, exp.DataTypeParam, exp.Interval, exp.IntervalSpan, exp.Dot, exp.Bracket,
    exp.Slice, exp.Collate, exp.TableSample, exp.Kwarg, exp.PropertyEQ, exp.Neg, exp.Not,
    exp.And, exp.Or, exp.Xor, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod,
    exp.Pow, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
    exp.NullSafeNEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.SimilarTo,
    exp.Glob, exp.DPipe, exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot,
    exp.BitwiseLeftShift, exp.BitwiseRightShift, exp.RawString, exp.ByteString,
    exp.HexString, exp.BitString, exp.National, exp.JSONPath, exp.JSONPathRoot,
    exp.JSONPathKey, exp.JSONPathSubscript, exp.JSONPathWildcard, exp.Escape, exp.Overlaps,
    exp.ArrayContainsAll, exp.ArrayContainedBy, exp.ArrayOverlaps, exp.IgnoreNulls,
    exp.RespectNulls, exp.HavingMax, exp.ColumnDef, exp.ArrayAny, exp.ArrayAll,
    exp.Distance, exp.Operator, exp.MatchAgainst, exp.JSONBPathExists, exp.ExtendsLeft,
    exp.ExtendsRight, exp.Adjacent, exp.JSONBContainsTopKey, exp.StartsWith, exp.JSONKeyValue,
    exp.FormatJson, exp.JSON, exp.ParseJSON, exp.Unnest,
    exp.Lambda,  # sqlglot reads `col -> 'key'` inside function arguments as a lambda
)

# Function-like nodes sqlglot builds from syntax (no function name in the text).
_SYNTAX_FUNCS: tuple[type[exp.Expr], ...] = (
    exp.Cast, exp.TryCast, exp.Case, exp.If, exp.Array, exp.Exists, exp.Any, exp.All,
    exp.AtTimeZone, exp.Extract, exp.RegexpLike, exp.RegexpILike, exp.JSONExtract,
    exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar, exp.JSONBContains,
    exp.JSONBContainsAnyTopKeys, exp.JSONBContainsAllTopKeys, exp.JSONBDeleteAtPath,
    exp.ArrayContains, exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime,
    exp.CurrentUser, exp.Localtime, exp.Localtimestamp, exp.CurrentRole,
    exp.CurrentCatalog, exp.CurrentSchema, exp.SessionUser, exp.Coalesce, exp.Nullif,
    exp.Greatest, exp.Least, exp.Concat, exp.Struct, exp.Sqrt, exp.Cbrt, exp.Abs,
    exp.ArrayConcat, exp.Grouping, exp.Trim, exp.Substring, exp.StrPosition, exp.Overlay,
    exp.Pad, exp.Lower, exp.Upper,
)

_SYNTAX_NAMES = frozenset({
    "cast", "extract", "trim", "position", "substring", "overlay", "coalesce", "nullif",
    "greatest", "least", "exists", "any", "all", "some", "array", "row", "case",
    "grouping", "interval", "collate", "normalize", "current_date", "current_time",
    "current_timestamp", "localtime", "localtimestamp", "current_user", "session_user",
    "current_role", "current_catalog", "current_schema", "user", "values", "lateral",
    "unnest", "rollup", "cube",
})

_DML = {exp.Insert: "adds rows", exp.Update: "changes rows", exp.Delete: "deletes rows",
        exp.Merge: "merges rows into a table"}


def _ident(node: exp.Expr | None) -> str | None:
    if not isinstance(node, exp.Identifier):
        return None
    return node.this if node.quoted else fold_identifier(node.this)


def _cte_scope(table: exp.Table) -> set[str]:
    """CTE names visible at `table`, following PostgreSQL's WITH scoping."""
    visible: set[str] = set()
    child: exp.Expr = table
    parent = table.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            ctes = parent.expressions
            index = next((i for i, c in enumerate(ctes) if c is child), len(ctes))
            seen = ctes if parent.args.get("recursive") else ctes[:index]
            visible.update(n for n in (_ident(c.args.get("alias") and c.args["alias"].this)
                                       for c in seen) if n)
        else:
            with_ = parent.args.get("with_") or parent.args.get("with")
            if isinstance(with_, exp.With) and child is not with_:
                visible.update(n for n in (_ident(c.args.get("alias") and c.args["alias"].this)
                                           for c in with_.expressions) if n)
        child, parent = parent, parent.parent
    return visible


def _walk(root: exp.Expr) -> Iterator[exp.Expr]:
    """Every node, iteratively (deep trees must not exhaust Python's stack)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        children: list[exp.Expr] = []
        for key, value in node.args.items():
            if key.startswith("_"):  # sqlglot's own annotations (inferred types), not SQL
                continue
            if isinstance(value, exp.Expr):
                children.append(value)
            elif isinstance(value, list):
                children.extend(v for v in value if isinstance(v, exp.Expr))
        stack.extend(reversed(children))  # pre-order, in the order the SQL reads


@dataclass
class _Findings:
    tables: list[str]
    columns: list[str]


def _sqlglot_check(statement: Statement, policy: _Policy) -> tuple[str | None, _Findings]:
    findings = _Findings([], [])
    try:
        trees = [t for t in sqlglot.parse(statement.canonical, read=_GuardDialect) if t]
    except SqlglotError as exc:
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return (f"The SQL guard cannot analyse this query's syntax ({detail}); try writing "
                "it with more common SQL."), findings
    if len(trees) != 1:
        return f"Only one statement can run at a time (found {len(trees)}).", findings
    root = trees[0]
    while isinstance(root, exp.Subquery) and not root.args.get("alias"):
        root = root.this
    if not isinstance(root, (exp.Select, exp.SetOperation, exp.Values)):
        what = _DML.get(type(root))
        if what:
            return f"Only SELECT queries can run: this statement {what}.", findings
        return "Only SELECT queries can run.", findings

    nodes = list(_walk(root))
    for node in nodes:  # statement-level problems first: they explain the most
        what = _DML.get(type(node))
        if what:
            return (f"Only SELECT queries can run: a WITH clause here {what} (a "
                    "data-modifying WITH runs even when its result is not used)."), findings
        if isinstance(node, exp.Select):
            if node.args.get("into"):
                return _pg_node_reason("IntoClause"), findings
            if node.args.get("locks"):
                return _pg_node_reason("LockingClause"), findings
        if isinstance(node, exp.Lock):
            return _pg_node_reason("LockingClause"), findings
        if isinstance(node, exp.Into):
            return _pg_node_reason("IntoClause"), findings
    for node in nodes:
        reason = _node_reason(node, policy, findings)
        if reason:
            return reason, findings
    return None, findings


def _node_reason(node: exp.Expr, policy: _Policy, findings: _Findings) -> str | None:
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
        return _table_reason(node, policy, findings)
    if isinstance(node, exp.Column):
        parts = [_ident(p) or p.sql() for p in node.parts]
        findings.columns.append(".".join(parts))
        return None
    if isinstance(node, exp.DataType):
        return _datatype_reason(node)
    if isinstance(node, exp.ObjectIdentifier):
        return _cast_reason(node.name.lower())
    if node.meta.get("pg_name") is not None or isinstance(node, exp.Anonymous):
        return _func_reason(node)
    if isinstance(node, (exp.Placeholder, exp.Parameter)):
        return "Query parameters are not supported: write the value into the query."
    if isinstance(node, (*_NODES, *_SYNTAX_FUNCS)):
        if isinstance(node, exp.Operator):
            return _operator_reason(str(node.args.get("operator", "")).split("."))
        if isinstance(node, exp.TableSample):
            method = node.args.get("method")
            if method is not None and method.name.lower() not in sqlrules.TABLESAMPLE_METHODS:
                return f"TABLESAMPLE {method.name} is not allowed (use SYSTEM or BERNOULLI)."
        return None
    if isinstance(node, exp.Command):
        return "Only SELECT queries can run."
    return f"This query uses a construct dashboard queries cannot run ({type(node).__name__})."


def _table_reason(node: exp.Table, policy: _Policy, findings: _Findings) -> str | None:
    name = _ident(node.this) or ""
    schema = _ident(node.args.get("db"))
    catalog = _ident(node.args.get("catalog"))
    if not schema and not catalog and name in _cte_scope(node):
        return None
    qualified, reason = policy.resolve(catalog, schema, name)
    if qualified and qualified not in findings.tables:
        findings.tables.append(qualified)
    return reason


_TYPE_SUFFIX = re.compile(r"(\s*\[\d*\])+$|\s*\(.*\)$")


def _datatype_reason(node: exp.DataType) -> str | None:
    if isinstance(node.this, exp.Expr):  # interval qualifiers: INTERVAL '1 2' DAY TO HOUR
        return None
    text = node.sql(dialect="postgres").lower()
    if text.startswith("interval"):
        return None
    name = text
    while True:
        stripped = _TYPE_SUFFIX.sub("", name).strip()
        if stripped == name:
            break
        name = stripped
    if name.startswith("array<"):  # sqlglot spells some arrays ARRAY<type>
        name = name[6:-1]
    name = name.strip('"')
    if sqlrules.base_type_name(name) in sqlrules.CAST_TYPES:
        return None
    return _cast_reason(name)


def _cast_reason(name: str) -> str:
    return (f"Casting to the type {name} is not allowed in dashboard queries (use numbers, "
            "text, dates, timestamps, intervals, booleans, JSON or arrays).")


def _func_reason(node: exp.Expr) -> str | None:
    name = node.meta.get("pg_name")
    if name is None:
        name = node.name if isinstance(node.this, str) else _ident(node.this)
    if not name:
        return "This query calls a function without a usable name."
    parent = node.parent
    qualifier: list[str] = []
    if isinstance(parent, exp.Dot) and parent.expression is node:
        left = parent.this
        qualifier = [_ident(left) or left.sql()] if isinstance(left, exp.Identifier) else [
            left.sql()]
    if name in _SYNTAX_NAMES and not qualifier:
        return _series_reason(node)
    reason = _function_reason(name, qualifier)
    return reason or _series_reason(node)


# -- generate_series with constant bounds ------------------------------------------------
_INTERVAL = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]+)\s*$")
_UNIT_SECONDS = {
    "microsecond": 1e-6, "millisecond": 1e-3, "second": 1, "sec": 1, "s": 1, "minute": 60,
    "min": 60, "m": 60, "hour": 3600, "h": 3600, "day": 86400, "d": 86400,
    "week": 604800, "w": 604800, "month": 2_592_000, "mon": 2_592_000,
    "year": 31_536_000, "y": 31_536_000,
}


def _series_reason(node: exp.Expr) -> str | None:
    if node.meta.get("pg_name") != "generate_series":
        return None
    if isinstance(node, exp.Anonymous):
        args = list(node.expressions)
    else:
        args = [node.args.get(k) for k in ("start", "end", "step")]
        args = [a for a in args if a is not None]
    if len(args) < 2:
        return None
    rows = _series_rows(args)
    if rows is not None and rows > sqlrules.MAX_SERIES_ROWS:
        return (f"generate_series would produce about {rows:,.0f} rows; a dashboard query may "
                f"generate at most {sqlrules.MAX_SERIES_ROWS:,} rows this way.")
    return None


def _series_rows(args: list[exp.Expr]) -> float | None:
    start, end = _constant(args[0]), _constant(args[1])
    step = _constant(args[2]) if len(args) > 2 else 1.0
    if start is None or end is None or step is None:
        return None
    try:
        if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
            if not isinstance(step, float) or step <= 0:
                return None
            return (end - start).total_seconds() / step + 1
        if isinstance(start, float) and isinstance(end, float) and isinstance(step, float):
            if step == 0:
                return None
            return max((end - start) / step + 1, 0)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    return None


def _constant(node: exp.Expr) -> float | dt.datetime | None:
    """A number, a timestamp, or an interval in seconds, when `node` is a constant."""
    if isinstance(node, exp.Paren):
        return _constant(node.this)
    if isinstance(node, exp.Neg):
        value = _constant(node.this)
        return -value if isinstance(value, float) else None
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Interval):
        text = node.this.name if isinstance(node.this, exp.Literal) else None
        unit = node.args.get("unit")
        if text is not None and unit is not None:
            text = f"{text} {unit.name}"
        return _interval_seconds(text) if text else None
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
        value = node.this.name
        kind = node.to.this.name if isinstance(node.to, exp.DataType) else ""
        if kind == "INTERVAL":
            return _interval_seconds(value)
        if kind in ("DATE", "TIMESTAMP", "TIMESTAMPTZ"):
            try:
                return dt.datetime.fromisoformat(value.strip()[:19]).replace(tzinfo=None)
            except ValueError:
                return None
    return None


def _interval_seconds(text: str) -> float | None:
    m = _INTERVAL.match(text.lower())
    if not m:
        return None
    unit = m.group(2).rstrip("s") if m.group(2) not in ("s",) else "s"
    seconds = _UNIT_SECONDS.get(unit)
    return float(m.group(1)) * seconds if seconds else None


# ----------------------------------------------------------------------------------------
# The whole check
# ----------------------------------------------------------------------------------------
def _check(sql: str, policy: _Policy) -> Verdict:
    if not isinstance(sql, str):
        return _reject("The query must be text.")
    if len(sql) > MAX_SQL_CHARS:
        return _reject(f"The query is longer than {MAX_SQL_CHARS:,} characters.")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError:
        return _reject("The query contains characters that are not valid text.")
    try:
        scanned = scan(sql)
    except LexError as exc:
        return _reject(exc.message)
    statements = scanned.statements
    if not statements:
        return _reject("The query is empty.")
    if len(statements) > 1:
        return _reject(f"Only one statement can run at a time: this text contains "
                       f"{len(statements)} statements separated by semicolons.")
    statement = statements[0]
    first = statement.tokens[0]
    if not ((first.kind == "word" and first.value in _QUERY_STARTS) or first.text == "("):
        return _reject(_statement_reason(first))
    reason = _token_rules(statement.tokens)
    if reason:
        return _reject(reason)
    if PG_PARSER_AVAILABLE:
        try:
            reason = _pg_check(sql, policy)
        except UnicodeError:
            reason = "The query contains characters that are not valid text."
        if reason:
            return _reject(reason)
    reason, findings = _sqlglot_check(statement, policy)
    if reason:
        return _reject(reason)
    return Verdict(True, None, tuple(findings.tables), tuple(dict.fromkeys(findings.columns)),
                   statement.clean)
