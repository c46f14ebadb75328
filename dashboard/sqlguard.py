"""The SQL guard: accept one side-effect-free SELECT over the data tables, nothing else.

Every SQL string the app runs (generated, previewed, hand-edited, refreshed) passes
`check_sql` before the executor sees it. Three independent checks must all agree:

1. PostgreSQL's own scanner (`pglast.parser.scan`) splits the text into tokens and
   statements, so literal syntax and comments follow the server. Exactly one non-empty
   statement; it must start like a query; cheap token rules catch INTO, row locks,
   DELETE/UPDATE, parameters and known-dangerous function names.
2. PostgreSQL's own parser (libpg_query through pglast's JSON entry point) must see one
   SelectStmt. Size and complexity are checked on its tree first (nodes, depth, CTEs,
   list sizes), so no input makes the later layers slow. Then the whole tree is walked,
   typed children included, with PostgreSQL's name-resolution scopes: INTO, locking
   clauses, data-modifying WITH, every function call site (attribute notation such as
   `(x).f` or `col.f` is a call of `f` and is refused), casts, tables, and memory budgets
   for functions that build large values from constants.
3. sqlglot (PostgreSQL dialect) parses PostgreSQL's own rendering of that tree; the
   whole tree is walked: only allowlisted node types, allowlisted functions (by family,
   also when schema-qualified or quoted), allowlisted cast types, and tables of the data
   schemas (CTE names resolved with PostgreSQL's scoping rules).

The database enforces the same promise again (read-only role, read-only transaction,
timeouts): see `dashboard.executor`. Reasons are written for an analyst and name the
function or table at fault.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import pglast.ast
import sqlglot
from pglast.error import Error as PgError
from pglast.parser import ParseError as PgParseError
from pglast.parser import Token as PgToken
from pglast.parser import deparse_protobuf, parse_sql_json, parse_sql_protobuf
from pglast.parser import scan as pg_scan
from pglast.parser import split as pg_split
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import TokenType

from dashboard import sqlrules
from dashboard.errors import UnsafeQuery

log = logging.getLogger(__name__)
# sqlglot logs a warning whenever it falls back to a generic Command; we reject those
# anyway, and the CLI must not print library noise for every refused line.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

MAX_SQL_CHARS = 100_000

# Size and complexity a dashboard query never needs; checked before the slow layers.
MAX_TOKENS = 20_000
MAX_NODES = 2_000
MAX_TREE_CHARS = 1_000_000  # PostgreSQL's parse tree as JSON, about 200 characters a node
MAX_DEPTH = 100
MAX_CTES = 50
MAX_LIST_ITEMS = 1_000


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


class _Refusal(Exception):
    """Raised inside the tree walk; carries the reason for the analyst."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_sql(sql: str, *, allowed_tables: Collection[str] | None,
              schemas: Sequence[str] = ("demo",)) -> Verdict:
    """Check one SQL text. `allowed_tables`: qualified names, or None for any data table.

    Never raises: any problem, including an internal one, is a rejection.
    """
    try:
        return _check(sql, _Policy.build(allowed_tables, schemas))
    except RecursionError:  # sqlglot's parser recurses once per nested call or operator
        return _reject("The query is nested too deeply for the SQL guard to check (nested "
                       "function calls, subqueries or operators); please simplify it.")
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


_DEPTH_REASON = (f"The query is nested more than {MAX_DEPTH} levels deep (parentheses, "
                 "subqueries, UNION branches or chained operators); dashboard queries never "
                 "need that many.")


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
# Layer 1: PostgreSQL's scanner
# ----------------------------------------------------------------------------------------
_QUERY_STARTS = {"SELECT", "WITH", "VALUES", "TABLE", "ASCII_40"}
_COMMENTS = {"SQL_COMMENT", "C_COMMENT"}
_OPEN, _CLOSE = {"ASCII_40", "ASCII_91"}, {"ASCII_41", "ASCII_93"}
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

# Scanner errors PostgreSQL words for developers, said for an analyst.
_SCAN_ERRORS = {
    "unterminated quoted string": "A quoted string is not closed (a ' is missing).",
    "unterminated quoted identifier": 'A quoted name is not closed (a " is missing).',
    "unterminated /* comment": "A /* comment is not closed (a */ is missing).",
    "unterminated dollar-quoted string": "A dollar-quoted string is not closed.",
    "unterminated bit string literal": "A bit-string literal is not closed.",
    "unterminated hexadecimal string literal": "A hexadecimal string literal is not closed.",
    "zero-length delimited identifier": 'An empty quoted name ("") is not allowed.',
}


@dataclass(frozen=True)
class _Token:
    name: str  # the scanner's token name: SELECT, IDENT, SCONST, ASCII_40, Op, ...
    text: str  # exactly as written
    start: int
    end: int  # exclusive

    @property
    def word(self) -> str | None:
        """The name this token stands for (keywords and identifiers), folded."""
        if self.name == "IDENT":
            if self.text.startswith('"'):
                return self.text[1:-1].replace('""', '"')
            return _fold(self.text)
        return _fold(self.text) if self.text[:1].isalpha() and self.name.isupper() and (
            self.name not in _LITERAL_TOKENS) else None


_LITERAL_TOKENS = {"SCONST", "USCONST", "BCONST", "XCONST", "ICONST", "FCONST", "UIDENT",
                   "PARAM"}


@dataclass(frozen=True)
class _Statement:
    tokens: list[_Token]  # without comments and semicolons
    clean: str  # the statement as written, comments blanked, no `;`


def _fold(name: str) -> str:
    """PostgreSQL folds unquoted names by lower-casing ASCII letters only."""
    return name.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _scan_error(exc: PgParseError) -> str:
    message = str(exc.args[0]) if exc.args else str(exc)
    for start, reason in _SCAN_ERRORS.items():
        if message.startswith(start):
            return reason
    return f"PostgreSQL cannot read this query: {message}."


def _split(sql: str) -> list[_Statement]:
    """Non-empty statements, split where PostgreSQL splits them (raises PgParseError)."""
    statements: list[_Statement] = []
    current: list[PgToken] = []
    comments: list[PgToken] = []
    for raw in [*pg_scan(sql), None]:
        if raw is None or raw.name == "ASCII_59":
            if current:
                statements.append(_build(sql, current, comments))
            current, comments = [], []
        else:
            (comments if raw.name in _COMMENTS else current).append(raw)
    return statements


def _build(sql: str, raw: list[PgToken], comments: list[PgToken]) -> _Statement:
    """Tokens (pglast's ends are inclusive) and the text with comments blanked."""
    tokens = [_Token(t.name, sql[t.start:t.end + 1], t.start, t.end + 1) for t in raw]
    start, end = tokens[0].start, tokens[-1].end
    # Comments act as whitespace in PostgreSQL: each becomes one space.
    parts, at = [], start
    for comment in comments:
        if start <= comment.start and comment.end < end:
            parts += [sql[at:comment.start], " "]
            at = comment.end + 1
    parts.append(sql[at:end])
    return _Statement(tokens, "".join(parts).strip())


_OP_CHARS = "~!@#^&|`?+\\-*/%<>="
# PostgreSQL's scanner rescans long runs of operator characters once per trailing + or -
# and once per nested /*, so such runs cost it quadratic time (minutes at 100,000
# characters, in the server too). No query needs them.
_SIGN_RUN = re.compile(r"(?:\+|-(?!-)){64}")
_OP_RUN = re.compile(f"[{_OP_CHARS}]{{64,}}")


def _scanner_trap(sql: str) -> str | None:
    if _SIGN_RUN.search(sql):
        return ("The query contains a run of 64 or more + and - signs; PostgreSQL reads "
                "that very slowly, and no dashboard query needs it.")
    for run in _OP_RUN.finditer(sql):
        if run.group().count("/*") >= 16:
            return ("The query contains a long run of nested comment marks (/*); "
                    "PostgreSQL reads that very slowly, and no dashboard query needs it.")
    return None


def _statement_reason(first: _Token) -> str:
    word = first.word or ""
    what = _STATEMENT_WHAT.get(word)
    if what:
        return f"Only SELECT queries can run: this {word.upper()} statement {what}."
    return f"Only SELECT queries can run: this statement starts with {first.text!r}."


def _token_rules(tokens: list[_Token]) -> str | None:
    """Cheap rules on PostgreSQL's own tokens, independent of both tree walks."""
    if len(tokens) > MAX_TOKENS:
        return (f"The query has more than {MAX_TOKENS:,} words and symbols; dashboard "
                "queries are never that long.")
    names = [t.name for t in tokens]
    depth = 0
    for i, token in enumerate(tokens):
        name = names[i]
        nxt = names[i + 1] if i + 1 < len(names) else None
        if name in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                return _DEPTH_REASON
        elif name in _CLOSE:
            depth -= 1
        elif name == "INTO":
            return ("SELECT ... INTO creates a table; dashboard queries can only read data "
                    "(remove INTO and its table name).")
        elif name == "FOR" and (nxt in ("UPDATE", "SHARE") or (
                nxt in ("NO", "KEY") and i + 2 < len(names) and names[i + 2] in ("KEY", "SHARE"))):
            return _pg_node_reason("LockingClause")
        elif name == "DELETE" and nxt == "FROM":
            return "Only SELECT queries can run: this statement deletes rows."
        elif name == "UPDATE" and "SET" in names[i + 2 : i + 8]:
            return "Only SELECT queries can run: this statement changes rows."
        elif name == "PARAM":
            return _pg_node_reason("ParamRef")
        elif nxt == "ASCII_40" and (i == 0 or names[i - 1] != "AS"):
            word = token.word
            if word and sqlrules.is_known_dangerous(word):
                return sqlrules.explain_function(word)
    return None


# ----------------------------------------------------------------------------------------
# Layer 2: PostgreSQL's parser (pglast, JSON entry point)
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
    JsonScalarExpr JsonSerializeExpr JsonFuncExpr JsonBehavior JsonArgument Alias
""")

# One node's fields in PostgreSQL's parse tree as `json.loads` returns pglast's JSON:
# field names to any JSON value (wrapped nodes, lists, strings, numbers, booleans).
_Fields: TypeAlias = dict[str, Any]

_PG_WRITES = {"InsertStmt": "adds rows", "UpdateStmt": "changes rows",
              "DeleteStmt": "deletes rows", "MergeStmt": "merges rows into a table"}


def _typed_children() -> dict[str, dict[str, str]]:
    """Fields that hold one node of a fixed type; pglast's JSON writes them unwrapped.

    (`larg`/`rarg` of a UNION, `intoClause`, `withClause`, `over`, `typeName`, ...)
    Read from pglast's own node classes so that no field is forgotten.
    """
    typed: dict[str, dict[str, str]] = {}
    for name in dir(pglast.ast):
        slots = getattr(getattr(pglast.ast, name), "__slots__", None)
        if not isinstance(slots, dict):
            continue
        for field, info in slots.items():
            c_type = str(getattr(info, "c_type", ""))
            base = c_type.rstrip("*")
            if c_type.endswith("*") and base not in ("Node", "List", "Expr") and isinstance(
                    getattr(pglast.ast, base, None), type):
                typed.setdefault(name, {})[field] = base
    return typed


_TYPED = _typed_children()


def _unwrap(node: object) -> tuple[str, _Fields] | None:
    """(kind, fields) of a wrapped node such as {"FuncCall": {...}}, else None."""
    if isinstance(node, dict) and len(node) == 1:
        ((kind, fields),) = node.items()
        if kind[:1].isupper() and isinstance(fields, dict):
            return kind, fields
    return None


def _pg_names(items: list[Any]) -> list[str]:
    return [(u[1].get("sval", "") if u and u[0] == "String" else "")
            for u in map(_unwrap, items)]


def _pg_type_reason(type_name: _Fields) -> str | None:
    names = _pg_names(type_name.get("names", []))
    if len(names) == 2 and names[0] == "pg_catalog":
        names = names[1:]
    if len(names) != 1 or names[0] not in sqlrules.CAST_TYPES:
        return _cast_reason(".".join(names))
    return None


_NOT_A_QUERY = "Only SELECT queries can run."


def _pg_check(sql: str, policy: _Policy, *, walk: bool = True) -> str | None:
    """Run PostgreSQL's parser over the whole text; return a reason to refuse, or None.

    `walk=False` stops after the size and complexity limits.
    """
    try:
        text = parse_sql_json(sql)
        if len(text) > MAX_TREE_CHARS:  # the tree's size, known before Python builds it
            return _too_complex()
        tree = json.loads(text)
    except RecursionError:  # json refuses trees deeper than Python's recursion limit
        return _DEPTH_REASON
    except PgParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        if "stack depth" in message or "memory exhausted" in message:
            return _DEPTH_REASON
        return f"PostgreSQL cannot parse this query: {message}."
    statements = tree.get("stmts", [])
    if len(statements) != 1:
        return ("Only one statement can run at a time: PostgreSQL reads "
                f"{len(statements)} statements here.")
    stmt = _unwrap(statements[0].get("stmt"))
    if stmt is None:
        return "Only SELECT queries can run."
    kind, fields = stmt
    if kind != "SelectStmt":
        what = _PG_WRITES.get(kind)
        if what:
            return f"Only SELECT queries can run: this statement {what}."
        return _NOT_A_QUERY
    reason = _pg_limits(fields)
    if reason or not walk:
        return reason
    try:
        _PgWalk(policy).select(fields, _Scope())
    except _Refusal as refusal:
        return refusal.reason
    return None


def _pg_limits(root: _Fields) -> str | None:
    """Size and complexity, counted on the parse tree before anything slow runs."""
    nodes = ctes = 0
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, list):
            if len(obj) > MAX_LIST_ITEMS:
                return (f"The query has a list of more than {MAX_LIST_ITEMS:,} items (an IN "
                        "list, an ARRAY, VALUES rows or selected columns); dashboard queries "
                        "never need that many: filter with a condition or a join instead.")
            stack.extend((item, depth) for item in obj)
        elif isinstance(obj, dict):
            wrapped = _unwrap(obj)
            if wrapped is not None:
                ctes += wrapped[0] == "CommonTableExpr"
                if wrapped[0] == "A_Const":  # a literal is one part, its value no deeper
                    nodes += 1
                else:
                    stack.append((wrapped[1], depth))
                continue
            nodes += 1  # a node's fields (typed children are written unwrapped)
            if depth > MAX_DEPTH:
                return _DEPTH_REASON
            stack.extend((value, depth + 1) for value in obj.values())
    if ctes > MAX_CTES:
        return (f"The query has {ctes:,} WITH queries (CTEs); dashboard queries may use at "
                f"most {MAX_CTES}.")
    if nodes > MAX_NODES:
        return _too_complex()
    return None


def _too_complex() -> str:
    return (f"The query is too complex to check (more than {MAX_NODES:,} parts in "
            "PostgreSQL's parse tree); dashboard queries are never that large.")


@dataclass(frozen=True)
class _Names:
    """Names FROM items make visible, as PostgreSQL resolves them (its "refnames").

    Kept a subset of what PostgreSQL sees, so that a name found here surely is a table.
    `qualified`: (schema, table) of tables written schema-qualified without an alias.
    `columns`: (refname, its columns) of functions in FROM: their whole-row value can be
    a plain scalar, so `s.f` must name one of those columns or it calls f(s).
    """

    rels: frozenset[str] = frozenset()
    qualified: frozenset[tuple[str, str]] = frozenset()
    columns: frozenset[tuple[str, frozenset[str]]] = frozenset()

    def __or__(self, other: _Names) -> _Names:
        return _Names(self.rels | other.rels, self.qualified | other.qualified,
                      self.columns | other.columns)


@dataclass(frozen=True)
class _Scope:
    """What names mean at one point of the tree: CTEs, and FROM items of this query
    level and the levels around it."""

    ctes: frozenset[str] = frozenset()
    names: _Names = _Names()

    def more(self, ctes: Collection[str] = (), names: _Names | None = None) -> _Scope:
        return _Scope(self.ctes | frozenset(ctes), self.names | names if names else self.names)


class _PgWalk:
    """Walks PostgreSQL's parse tree, every field, raising `_Refusal` at the first problem."""

    def __init__(self, policy: _Policy) -> None:
        self.policy = policy
        self.sizes: dict[int, float] = {}  # estimated bytes per node (memo)

    # -- generic -----------------------------------------------------------------------
    def node(self, value: object, scope: _Scope) -> None:
        if isinstance(value, list):
            for item in value:
                self.node(item, scope)
            return
        if value is None or value == {} or not isinstance(value, dict):
            return
        wrapped = _unwrap(value)
        if wrapped is None:
            raise _Refusal("This query uses a construct dashboard queries cannot run.")
        self.visit(*wrapped, scope)

    def visit(self, kind: str, fields: _Fields, scope: _Scope) -> None:
        if kind in _PG_WRITES:
            raise _Refusal(f"Only SELECT queries can run: a WITH clause here "
                           f"{_PG_WRITES[kind]} (a data-modifying WITH runs even when its "
                           "result is not used).")
        if kind not in _PG_NODES:
            raise _Refusal(_pg_node_reason(kind))
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, fields, scope)
        else:
            self.children(kind, fields, scope)

    def children(self, kind: str, fields: _Fields, scope: _Scope,
                 skip: Collection[str] = ()) -> None:
        typed = _TYPED.get(kind, {})
        for key, value in fields.items():
            if key in skip:
                continue
            if key in typed and isinstance(value, dict):
                if value:
                    self.visit(typed[key], value, scope)
            elif isinstance(value, (dict, list)):
                self.node(value, scope)

    # -- queries and FROM ----------------------------------------------------------------
    def select(self, fields: _Fields, outer: _Scope) -> None:
        if fields.get("intoClause"):
            raise _Refusal(_pg_node_reason("IntoClause"))
        if fields.get("lockingClause"):
            raise _Refusal(_pg_node_reason("LockingClause"))
        base = outer
        with_clause = fields.get("withClause")
        if with_clause:
            ctes = with_clause.get("ctes", [])
            names = [(_unwrap(c) or ("", {}))[1].get("ctename", "") for c in ctes]
            recursive = bool(with_clause.get("recursive"))
            for i, cte in enumerate(ctes):
                self.node(cte, outer.more(ctes=names if recursive else names[:i]))
                if recursive:
                    _recursive_growth((_unwrap(cte) or ("", {}))[1])
            base = outer.more(ctes=names)
        done = {"withClause", "intoClause", "lockingClause", "larg", "rarg", "fromClause",
                "valuesLists"}
        if fields.get("op", "SETOP_NONE") != "SETOP_NONE":
            for side in ("larg", "rarg"):
                self.visit("SelectStmt", fields.get(side) or {}, base)
            self.children("SelectStmt", fields, base, skip=done)  # ORDER BY, LIMIT
            return
        self.node(fields.get("valuesLists"), base)
        seen = _Names()
        for item in fields.get("fromClause", []):
            seen |= self.from_item(item, base, seen)
        self.children("SelectStmt", fields, base.more(names=seen), skip=done)

    def from_item(self, item: object, base: _Scope, earlier: _Names) -> _Names:
        """Check one FROM item; return the names it makes visible (PostgreSQL's refnames).

        `earlier`: names of the earlier items of the same FROM, visible to LATERAL items.
        """
        wrapped = _unwrap(item)
        if wrapped is None:
            self.node(item, base)
            return _Names()
        kind, fields = wrapped
        lateral = base.more(names=earlier)
        alias = (fields.get("alias") or {}).get("aliasname")
        if kind == "RangeVar":
            self.range_var(fields, base)
            if alias:
                return _Names(frozenset({alias}))
            name, schema = fields.get("relname", ""), fields.get("schemaname")
            return _Names(frozenset({name}), frozenset({(schema, name)} if schema else ()))
        if kind == "RangeSubselect":
            self.node(fields.get("subquery"), lateral if fields.get("lateral") else base)
            return _Names(frozenset({alias} if alias else ()))
        if kind == "RangeFunction":  # function arguments may always refer to earlier items
            self.children(kind, fields, lateral)
            return _function_names(fields, alias)
        if kind == "JoinExpr":
            left = self.from_item(fields.get("larg"), base, earlier)
            right = self.from_item(fields.get("rarg"), base, earlier | left)
            self.children(kind, fields, base.more(names=left | right), skip={"larg", "rarg"})
            if alias:  # an aliased join hides the names inside it
                return _Names(frozenset({alias}))
            using = (fields.get("join_using_alias") or {}).get("aliasname")
            return left | right | _Names(frozenset({using} if using else ()))
        if kind == "RangeTableSample":
            self.table_sample(fields)
            names = self.from_item(fields.get("relation"), base, earlier)
            self.children(kind, fields, base, skip={"relation"})
            return names
        self.visit(kind, fields, lateral)
        return _Names()

    def range_var(self, fields: _Fields, scope: _Scope) -> None:
        schema, name = fields.get("schemaname"), fields.get("relname", "")
        catalog = fields.get("catalogname")
        if not schema and not catalog and name in scope.ctes:
            return
        _, reason = self.policy.resolve(catalog, schema, name)
        if reason:
            raise _Refusal(reason)

    def table_sample(self, fields: _Fields) -> None:
        method = _pg_names(fields.get("method", []))
        if method[-1:] and method[-1] not in sqlrules.TABLESAMPLE_METHODS:
            raise _Refusal(f"TABLESAMPLE {method[-1]} is not allowed (use SYSTEM or "
                           "BERNOULLI).")

    # -- expressions -------------------------------------------------------------------
    def column_ref(self, fields: _Fields, scope: _Scope) -> None:
        parts = []
        for field in fields.get("fields", []):
            wrapped = _unwrap(field)
            if wrapped is None or wrapped[0] not in ("String", "A_Star"):
                raise _Refusal("This query uses a column reference dashboard queries cannot "
                               "run.")
            parts.append(wrapped[1].get("sval", "") if wrapped[0] == "String" else "*")
        # PostgreSQL reads q.f as table q's column f when q is a table of the query, and
        # as the function call f(q) otherwise (attribute notation): only the first is safe.
        names = scope.names
        if len(parts) <= 1 or (len(parts) == 2 and parts[1] == "*"):
            return
        if len(parts) == 2 and parts[0] in names.rels:
            known = [columns for ref, columns in names.columns if ref == parts[0]]
            if all(parts[1] in columns for columns in known):
                return
            raise _Refusal(f"In {'.'.join(parts)}, {parts[1]} is not a column of the function "
                           f"{parts[0]} in FROM, so PostgreSQL would call the function "
                           f"{parts[1]}() on its value (attribute notation); dashboard queries "
                           f"cannot use it. Name the columns, as in AS {parts[0]}(value), and "
                           "use those names.")
        if len(parts) == 3 and ((parts[0], parts[1]) in names.qualified or parts[2] == "*"):
            return
        shown = ".".join(parts)
        if len(parts) > 3:
            raise _Refusal(f"The name {shown} has too many parts; dashboard queries refer to "
                           "columns as column, table.column or schema.table.column.")
        raise _Refusal(_attribute_reason(shown, ".".join(parts[:-1]), parts[-1]))

    def indirection(self, fields: _Fields, scope: _Scope) -> None:
        for item in fields.get("indirection", []):
            wrapped = _unwrap(item)
            if wrapped is not None and wrapped[0] == "String":
                name = wrapped[1].get("sval", "")
                raise _Refusal(f"The notation (...).{name} calls the function {name}() in "
                               "PostgreSQL (attribute notation); dashboard queries cannot use "
                               "it. Select columns by name from a table or subquery instead.")
        self.children("A_Indirection", fields, scope)

    def func_call(self, fields: _Fields, scope: _Scope) -> None:
        names = _pg_names(fields.get("funcname", []))
        reason = _function_reason(names[-1], names[:-1]) if names else None
        if reason:
            raise _Refusal(reason)
        self.budget(names[-1], fields)
        self.children("FuncCall", fields, scope)

    def a_expr(self, fields: _Fields, scope: _Scope) -> None:
        names = _pg_names(fields.get("name", []))
        if fields.get("kind") in _OPERATOR_KINDS:
            reason = _operator_reason(names)
            if reason:
                raise _Refusal(reason)
        if names[-1:] == ["||"]:
            size = self.size({"A_Expr": fields})
            if size > MAX_BUILD_BYTES:
                raise _Refusal(_build_reason("The || operator here", size))
        self.children("A_Expr", fields, scope)

    def sort_by(self, fields: _Fields, scope: _Scope) -> None:
        if fields.get("useOp"):
            reason = _operator_reason(_pg_names(fields["useOp"]))
            if reason:
                raise _Refusal(reason)
        self.children("SortBy", fields, scope, skip={"useOp"})

    def sub_link(self, fields: _Fields, scope: _Scope) -> None:
        if fields.get("operName"):
            reason = _operator_reason(_pg_names(fields["operName"]))
            if reason:
                raise _Refusal(reason)
        if fields.get("subLinkType") == "ARRAY_SUBLINK":  # ARRAY(SELECT ...) accumulates
            sub = _unwrap(fields.get("subselect")) or ("", {})
            per_row = sum(self.size((_unwrap(t) or ("", {}))[1].get("val"))
                          for t in sub[1].get("targetList", []))
            if per_row > MAX_ROW_CONST_BYTES:
                raise _Refusal(_per_row_reason("ARRAY(SELECT ...)", per_row))
        self.children("SubLink", fields, scope, skip={"operName"})

    def type_name(self, fields: _Fields, scope: _Scope) -> None:
        reason = _pg_type_reason(fields)
        if reason:
            raise _Refusal(reason)
        self.children("TypeName", fields, scope, skip={"names"})

    def range_table_sample(self, fields: _Fields, scope: _Scope) -> None:
        self.table_sample(fields)
        self.children("RangeTableSample", fields, scope)

    # -- memory budgets ----------------------------------------------------------------
    def budget(self, name: str, fields: _Fields) -> None:
        """Refuse calls whose constant arguments make PostgreSQL allocate too much."""
        args = fields.get("args", [])
        if name == "generate_series" and len(args) >= 2:
            rows = _series_count([self.number(a) for a in args[:3]])
            if rows is None and len(args) == 3:
                rows = _moment_series(args)
            if rows is not None and rows > sqlrules.MAX_SERIES_ROWS:
                raise _Refusal(_series_reason_text(rows))
        if name == "array_fill" and len(args) >= 2:
            elements = self.elements(args[1])
            if elements is not None and elements > MAX_ARRAY_ELEMENTS:
                raise _Refusal(f"array_fill() here would build an array of about "
                               f"{elements:,.0f} elements; dashboard queries may build at "
                               f"most {MAX_ARRAY_ELEMENTS:,} this way.")
        if name in _ACCUMULATING:
            per_row = sum(self.size(a) for a in args)
            if per_row > MAX_ROW_CONST_BYTES:
                raise _Refusal(_per_row_reason(f"{name}()", per_row))
        if name in _BUILDERS:
            size = self.size({"FuncCall": fields})
            if size > MAX_BUILD_BYTES:
                raise _Refusal(_build_reason(f"{name}() here", size))

    def number(self, value: object) -> float | None:
        """The value of a constant numeric expression (random() counts as 1), or None."""
        wrapped = _unwrap(value)
        if wrapped is None:
            return None
        kind, f = wrapped
        if kind == "A_Const":
            if "ival" in f:
                return float(f["ival"].get("ival", 0))
            if "fval" in f:
                return _float(f["fval"].get("fval", ""))
            return None
        if kind == "TypeCast":
            type_names = _pg_names((f.get("typeName") or {}).get("names", []))
            if type_names[-1:] and type_names[-1] in _NUMERIC_TYPES:
                text = _const_text(f.get("arg"))
                return _float(text) if text is not None else self.number(f.get("arg"))
            return None
        if kind == "A_Expr" and f.get("kind") == "AEXPR_OP":
            op = "".join(_pg_names(f.get("name", []))[-1:])
            right = self.number(f.get("rexpr"))
            if right is None:
                return None
            if not f.get("lexpr"):
                return {"-": -right, "+": right}.get(op)
            left = self.number(f.get("lexpr"))
            return None if left is None else _arith(op, left, right)
        if kind == "FuncCall":
            name = "".join(_pg_names(f.get("funcname", []))[-1:])
            args = [self.number(a) for a in f.get("args", [])]
            if name == "random" and not args:
                return 1.0
            if not args or None in args:
                return None
            if name in ("abs", "round", "trunc", "ceil", "ceiling", "floor"):
                return abs(args[0]) + 1  # type: ignore[arg-type]
            if name in ("power", "pow") and len(args) == 2:
                return _arith("^", args[0], args[1])  # type: ignore[arg-type]
            return None
        if kind == "SubLink" and f.get("subLinkType") == "EXPR_SUBLINK":  # (SELECT 10^8)
            sub = _unwrap(f.get("subselect")) or ("", {})
            targets = sub[1].get("targetList", [])
            if sub[0] == "SelectStmt" and len(targets) == 1 and not sub[1].get("fromClause"):
                return self.number((_unwrap(targets[0]) or ("", {}))[1].get("val"))
            return None
        values = [self.number(v) for v in _branches(kind, f)]
        known = [v for v in values if v is not None]
        if kind == "MinMaxExpr" and f.get("op") == "IS_LEAST" and known:
            return min(known)
        if values and len(known) == len(values):
            return max(known)
        return None

    def elements(self, value: object) -> float | None:
        """How many elements an array of dimensions such as ARRAY[1000, 1000] asks for."""
        wrapped = _unwrap(value)
        dims: list[float | None] = []
        if wrapped is not None and wrapped[0] == "A_ArrayExpr":
            dims = [self.number(e) for e in wrapped[1].get("elements", [])]
        elif wrapped is not None and wrapped[0] in ("TypeCast", "A_Const"):
            text = _const_text(value)
            if text is None:
                return None
            dims = [_float(part) for part in text.strip().strip("{}").split(",")]
        known = [d for d in dims if d is not None]
        if not dims or len(known) != len(dims):
            return None
        return math.prod(max(d, 0) for d in known)

    def size(self, value: object) -> float:
        """Bytes a constant expression is estimated to build; unknown parts count 0."""
        wrapped = _unwrap(value)
        if wrapped is None:
            return 0.0
        kind, f = wrapped
        key = id(f)
        if key not in self.sizes:
            self.sizes[key] = self._size(kind, f)
        return self.sizes[key]

    def _size(self, kind: str, f: _Fields) -> float:
        if kind == "A_Const":
            text = _const_text({kind: f})
            return float(len(text.encode("utf-8")) if text is not None else 8)
        if kind == "TypeCast":
            return self.size(f.get("arg"))
        if kind == "A_Expr":
            if _pg_names(f.get("name", []))[-1:] == ["||"]:
                return self.size(f.get("lexpr")) + self.size(f.get("rexpr"))
            return 0.0
        if kind == "A_ArrayExpr":
            return sum(self.size(e) for e in f.get("elements", []))
        if kind == "FuncCall":
            name = "".join(_pg_names(f.get("funcname", []))[-1:])
            return self._call_size(name, f.get("args", []))
        return max((self.size(v) for v in _branches(kind, f)), default=0.0)

    def _call_size(self, name: str, args: list[Any]) -> float:
        sizes = [self.size(a) for a in args]
        first = sizes[0] if sizes else 0.0
        if name == "repeat" and len(args) == 2:
            count = self.number(args[1])
            return 0.0 if count is None else max(count, 0.0) * max(first, 1.0)
        if name in ("lpad", "rpad") and len(args) >= 2:
            length = self.number(args[1])
            return first if length is None else max(length, 0.0) * (4 if len(args) > 2 and (
                _const_text(args[2]) or "").isascii() is False else 1)
        if name == "array_fill" and len(args) >= 2:
            return (self.elements(args[1]) or 0.0) * max(first, 8.0)
        if name == "replace" and len(args) == 3:
            return first + first / max(sizes[1], 1.0) * sizes[2]
        if name == "regexp_replace" and len(args) >= 3:
            return (first + 1) * max(sizes[2], 1.0)
        if name == "concat_ws" and args:
            return first * max(len(args) - 2, 0) + sum(sizes[1:])
        if name == "encode":
            return 2 * first
        if name == "to_char" and len(args) == 2:
            return 12 * sizes[1]  # PostgreSQL reserves 12 bytes per template character
        if name == "format":
            return sum(sizes) + self._format_widths(args)
        if name in _SUM_SIZES:
            return sum(sizes)
        return 0.0

    def _format_widths(self, args: list[Any]) -> float:
        """format('%1000000s', ...) pads to the width; '*' takes it from an argument."""
        template = _const_text(args[0]) if args else None
        if template is None:
            return 0.0
        total, index = 0.0, 1
        for match in _FORMAT_SPEC.finditer(template):
            position, width = match.group(1), match.group(2) or ""
            if width.startswith("*"):
                at = int(width[1:-1]) if len(width) > 1 else index
                index = index if len(width) > 1 else index + 1
                value = self.number(args[at]) if at < len(args) else None
                total += abs(value) if value is not None else 0.0
            elif width:
                total += float(width) if len(width) < 16 else math.inf
            index = int(position) + 1 if position else index + 1
        return total


_HANDLERS: dict[str, Callable[[_PgWalk, _Fields, _Scope], None]] = {
    "SelectStmt": _PgWalk.select, "RangeVar": _PgWalk.range_var,
    "ColumnRef": _PgWalk.column_ref, "A_Indirection": _PgWalk.indirection,
    "FuncCall": _PgWalk.func_call, "A_Expr": _PgWalk.a_expr, "SortBy": _PgWalk.sort_by,
    "SubLink": _PgWalk.sub_link, "TypeName": _PgWalk.type_name,
    "RangeTableSample": _PgWalk.range_table_sample,
    "A_Const": lambda walk, fields, scope: None,  # a literal: its value is no node
}

# Memory budgets: PostgreSQL has no per-query memory limit, so the guard bounds what it
# can see, the constants (data-driven sizes are bounded by the data and the timeout).
MAX_BUILD_BYTES = 1_000_000  # one value built from constants
MAX_ARRAY_ELEMENTS = 1_000_000
MAX_ROW_CONST_BYTES = 100  # constant bytes an aggregate or ARRAY(SELECT) keeps per row
_BUILDERS = frozenset({
    "repeat", "lpad", "rpad", "array_fill", "format", "to_char", "replace",
    "regexp_replace", "concat", "concat_ws", "encode", "overlay", "translate",
    "array_to_string", "array_cat", "array_append", "array_prepend", "jsonb_build_array",
    "json_build_array", "jsonb_build_object", "json_build_object", "to_json", "to_jsonb",
})
_SUM_SIZES = _BUILDERS | frozenset({
    "upper", "lower", "initcap", "reverse", "btrim", "ltrim", "rtrim", "substr",
    "substring", "left", "right", "quote_literal", "quote_ident", "quote_nullable",
    "string_to_array", "regexp_split_to_array", "normalize", "casefold", "jsonb_pretty",
    "textcat", "jsonb_concat", "array_reverse", "array_sort", "array_shuffle", "unistr",
    "decode", "coalesce", "nullif",
})
_ACCUMULATING = frozenset({
    "string_agg", "array_agg", "json_agg", "jsonb_agg", "json_agg_strict",
    "jsonb_agg_strict", "json_object_agg", "jsonb_object_agg", "json_object_agg_strict",
    "jsonb_object_agg_strict", "json_object_agg_unique", "jsonb_object_agg_unique",
    "json_object_agg_unique_strict", "jsonb_object_agg_unique_strict", "range_agg",
})
_NUMERIC_TYPES = sqlrules.names("""
    int2 int4 int8 smallint integer int bigint float4 float8 real float double numeric decimal
""")
_FIXED_SIZE_TYPES = _NUMERIC_TYPES | sqlrules.names("""
    bool boolean date time timetz timestamp timestamptz interval uuid money inet cidr
""")
_FORMAT_SPEC = re.compile(r"%(?:(\d+)\$)?-*(\d+|\*(?:\d+\$)?)?[sIL%]")


# Column names of allowlisted FROM functions that return records.
_RECORD_COLUMNS = {name: frozenset({"key", "value"}) for name in (
    "json_each", "jsonb_each", "json_each_text", "jsonb_each_text")}


def _function_names(fields: _Fields, alias: str | None) -> _Names:
    """The refname of a function in FROM, and the column names it provably has."""
    functions = [(_unwrap(f) or ("", {}))[1].get("items", []) for f in fields.get("functions", [])]
    calls = [_unwrap(items[0]) if items else None for items in functions]
    called = ["".join(_pg_names(c[1].get("funcname", []))[-1:]) if c and c[0] == "FuncCall"
              else "" for c in calls]
    refname = alias or (called[0] if len(called) == 1 and not fields.get("is_rowsfrom") else "")
    if not refname:
        return _Names()
    colnames = _pg_names((fields.get("alias") or {}).get("colnames", []))
    definitions = list(fields.get("coldeflist", []))
    for items in functions:  # ROWS FROM (f() AS (a int), ...): one list per function
        listed = _unwrap(items[1]) if len(items) > 1 else None
        definitions += listed[1].get("items", []) if listed and listed[0] == "List" else []
    columns = set(colnames) or {(_unwrap(d) or ("", {}))[1].get("colname", "")
                                for d in definitions}
    if not colnames:
        for name in called:  # a scalar function's column is named after the alias
            columns |= _RECORD_COLUMNS.get(name, {refname, name})
    if fields.get("ordinality"):
        columns.add("ordinality")
    return _Names(frozenset({refname}), frozenset(), frozenset({(refname, frozenset(columns))}))


def _recursive_growth(cte: _Fields) -> None:
    """Refuse a recursive step that combines the CTE's own values with themselves.

    `s || s`, `array_cat(a, a)` or `repeat(s, 2)` in the recursive part doubles a value
    at every step: a few dozen steps outgrow any memory limit, within the timeout.
    """
    query = _unwrap(cte.get("ctequery")) or ("", {})
    if query[0] != "SelectStmt" or query[1].get("op", "SETOP_NONE") == "SETOP_NONE":
        return
    name = cte.get("ctename", "")
    aliases = _pg_names(cte.get("aliascolnames", []))
    columns = set()  # the CTE's columns whose values can grow (not numbers, dates, ...)
    first = query[1].get("larg") or {}
    for i, target in enumerate(first.get("targetList", [])):
        fields = (_unwrap(target) or ("", {}))[1]
        value = _unwrap(fields.get("val")) or ("", {})
        column = aliases[i] if i < len(aliases) else fields.get("name") or (
            _pg_names(value[1].get("fields", []))[-1:] or [""])[0]
        fixed = (value[0] == "A_Const" and "sval" not in value[1]) or (
            value[0] == "TypeCast" and _pg_names((value[1].get("typeName") or {}).get(
                "names", []))[-1:] and _pg_names(value[1]["typeName"]["names"])[-1]
            in _FIXED_SIZE_TYPES)
        if not fixed:
            columns.add(column)
    step = query[1].get("rarg") or {}
    refs = {name} | {(f.get("alias") or {}).get("aliasname") or name
                     for f in _nodes_of(step, "RangeVar") if f.get("relname") == name}

    def own(value: object) -> bool:
        """Does `value` carry one of the CTE's growing values along (not e.g. its length)?"""
        wrapped = _unwrap(value) or ("", {})
        kind, fields = wrapped
        if kind == "ColumnRef":
            parts = _pg_names(fields.get("fields", []))
            return bool(parts) and parts[-1] in columns and (len(parts) == 1 or parts[-2] in refs)
        if kind == "TypeCast":
            names = _pg_names((fields.get("typeName") or {}).get("names", []))
            return names[-1:] != [] and names[-1] not in _FIXED_SIZE_TYPES and own(
                fields.get("arg"))
        if kind == "A_Expr" and _pg_names(fields.get("name", []))[-1:] == ["||"]:
            return own(fields.get("lexpr")) or own(fields.get("rexpr"))
        if kind == "FuncCall":
            called = "".join(_pg_names(fields.get("funcname", []))[-1:])
            return (called in _SUM_SIZES or called == "repeat") and any(
                own(a) for a in fields.get("args", []))
        return kind in ("CoalesceExpr", "CaseExpr", "MinMaxExpr") and any(
            own(v) for v in _branches(kind, fields))

    for kind, fields in _nodes_of(step, None):
        if kind == "A_Expr" and _pg_names(fields.get("name", []))[-1:] == ["||"]:
            args = [fields.get("lexpr"), fields.get("rexpr")]
            shown = "||"
        elif kind == "FuncCall":
            shown = "".join(_pg_names(fields.get("funcname", []))[-1:])
            args = list(fields.get("args", []))
            if shown == "repeat" and args and own(args[0]):
                args = [args[0], args[0]]
            elif shown not in _SUM_SIZES:
                continue
        else:
            continue
        if sum(own(a) for a in args) >= 2:
            raise _Refusal(f"The recursive part of WITH RECURSIVE {name} combines its own "
                           f"values with themselves ({shown}), so they double at every step "
                           "and outgrow any memory limit; dashboard queries cannot do that.")


def _nodes_of(value: object, kind: str | None) -> Iterator[Any]:
    """Fields of every node of `kind` under `value` ((kind, fields) for every node if None)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            wrapped = _unwrap(item)
            if wrapped is not None:
                if kind is None:
                    yield wrapped
                elif wrapped[0] == kind:
                    yield wrapped[1]
                stack.append(wrapped[1])
            else:
                stack.extend(item.values())


def _branches(kind: str, f: _Fields) -> list[Any]:
    """The alternative values of CASE, COALESCE, GREATEST/LEAST."""
    if kind in ("CoalesceExpr", "MinMaxExpr"):
        return list(f.get("args", []))
    if kind == "CaseExpr":
        results = [(_unwrap(w) or ("", {}))[1].get("result") for w in f.get("args", [])]
        return [*results, *([f["defresult"]] if f.get("defresult") else [])]
    return []


def _const_text(value: object) -> str | None:
    wrapped = _unwrap(value)
    if wrapped is None:
        return None
    if wrapped[0] == "TypeCast":
        return _const_text(wrapped[1].get("arg"))
    if wrapped[0] == "A_Const" and "sval" in wrapped[1]:
        return str(wrapped[1]["sval"].get("sval", ""))
    return None


def _float(text: str) -> float | None:
    try:
        return float(text.strip().replace("_", "")) if len(text) < 400 else math.inf
    except ValueError:
        return None


def _arith(op: str, left: float, right: float) -> float | None:
    try:
        operations: dict[str, Callable[[], object]] = {
            "+": lambda: left + right, "-": lambda: left - right,
            "*": lambda: left * right, "/": lambda: left / right,
            "%": lambda: math.fmod(left, right), "^": lambda: left ** right,
        }
        value = operations[op]()
    except KeyError:
        return None
    except OverflowError:
        return math.inf
    except (ZeroDivisionError, ValueError):
        return None
    return value if isinstance(value, float) else None


def _series_count(values: list[float | None]) -> float | None:
    start, end = values[0], values[1]
    step = values[2] if len(values) > 2 else 1.0
    if start is None or end is None or step is None or step == 0:
        return None
    return max((end - start) / step + 1, 0)


def _moment_series(args: list[Any]) -> float | None:
    """Rows of generate_series(timestamp, timestamp, interval) with constant bounds."""
    moments: list[dt.datetime] = []
    for value in args[:2]:
        wrapped = _unwrap(value)
        text = _const_text(value)
        kind = _pg_names((wrapped[1].get("typeName") or {}).get("names", []))[-1:] \
            if wrapped and wrapped[0] == "TypeCast" else []
        if text is None or kind not in (["date"], ["timestamp"], ["timestamptz"]):
            return None
        try:
            moments.append(dt.datetime.fromisoformat(text.strip()[:19]))
        except ValueError:
            return None
    step_text = _const_text(args[2])
    step = _interval_seconds(step_text) if step_text is not None else None
    if not step or step <= 0:
        return None
    return (moments[1] - moments[0]).total_seconds() / step + 1


def _series_reason_text(rows: float) -> str:
    return (f"generate_series would produce about {rows:,.0f} rows; a dashboard query may "
            f"generate at most {sqlrules.MAX_SERIES_ROWS:,} rows this way.")


def _megabytes(size: float) -> str:
    if math.isinf(size):
        return "an unlimited size"
    return f"about {size / 1e6:,.1f} MB" if size < 1e7 else f"about {size / 1e6:,.0f} MB"


def _build_reason(what: str, size: float) -> str:
    return (f"{what} would build a value of {_megabytes(size)} from constants; dashboard "
            f"queries may build at most {MAX_BUILD_BYTES // 1_000_000} MB this way (the "
            "database has no per-query memory limit).")


def _per_row_reason(what: str, size: float) -> str:
    shown = "an unlimited number of" if math.isinf(size) else f"about {size:,.0f}"
    return (f"{what} here keeps {shown} bytes of constants for every row, so it grows with "
            f"the row count; dashboard queries may keep at most {MAX_ROW_CONST_BYTES} bytes "
            "of constants per row.")


def _attribute_reason(shown: str, base: str, field: str) -> str:
    return (f"In {shown}, {base} is not a table or alias of this part of the query, so "
            f"PostgreSQL would read .{field} as a call of the function {field}() "
            "(attribute notation); dashboard queries cannot use it. Write table.column with "
            "a table or alias from FROM.")


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
    PostgreSQL 16+ reads 1_000.5 as a number, and its deparser keeps that spelling.
    """

    NUMBERS_CAN_BE_UNDERSCORE_SEPARATED = True

    # PostgresParser is `Postgres.Parser`, named by its module: the dialect assigns it in
    # its class body, which mypy reads as a variable, not as a base class.
    class Parser(PostgresParser):
        def _parse_function_call(self, functions: dict[str, Callable[..., Any]] | None = None,
                                 anonymous: bool = False, optional_parens: bool = True,
                                 any_token: bool = False) -> exp.Expr | None:
            token = self._curr
            node = super()._parse_function_call(functions, anonymous, optional_parens, any_token)
            if node is not None and token is not None:
                target = node
                while isinstance(target, (exp.Window, exp.Filter, exp.WithinGroup)):
                    target = target.this
                if isinstance(target, exp.Expr) and "pg_name" not in target.meta:
                    quoted = token.token_type == TokenType.IDENTIFIER
                    target.meta["pg_name"] = token.text if quoted else _fold(token.text)
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

_DML: dict[type[exp.Expr], str] = {
    exp.Insert: "adds rows", exp.Update: "changes rows", exp.Delete: "deletes rows",
    exp.Merge: "merges rows into a table"}


def _ident(node: exp.Expr | None) -> str | None:
    if not isinstance(node, exp.Identifier):
        return None
    return node.this if node.quoted else _fold(node.this)


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


def _sqlglot_check(text: str, policy: _Policy) -> tuple[str | None, _Findings]:
    findings = _Findings([], [])
    try:
        trees = [t for t in sqlglot.parse(text, read=_GuardDialect) if t]
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
        literal = node.this.name
        kind = node.to.this.name if isinstance(node.to, exp.DataType) else ""
        if kind == "INTERVAL":
            return _interval_seconds(literal)
        if kind in ("DATE", "TIMESTAMP", "TIMESTAMPTZ"):
            try:
                return dt.datetime.fromisoformat(literal.strip()[:19]).replace(tzinfo=None)
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
    if "\x00" in sql:
        return _reject("The query contains a zero byte, which PostgreSQL does not accept.")
    reason = _scanner_trap(sql)
    if reason:
        return _reject(reason)
    try:
        # PostgreSQL's parse tree first: it is built in C and bounds everything after it.
        slices = pg_split(sql, with_parser=False, only_slices=True)
        if len(slices) > 1:
            return _reject(f"Only one statement can run at a time: this text contains "
                           f"{len(slices)} statements separated by semicolons.")
        if not slices:  # only comments, or the scanner found no complete statement
            return _reject("PostgreSQL finds no complete statement in this text: is it "
                           "empty, or is a parenthesis left open?")
        text = sql[slices[0]]  # the rest is semicolons, comments and spaces
        reason = _pg_check(text, policy, walk=False)
        if reason and reason != _NOT_A_QUERY:
            return _reject(reason)
        statements = _split(text)
    except PgParseError as exc:
        return _reject(_scan_error(exc))
    if len(statements) != 1:  # split() and scan() disagree: never run what was not checked
        return _reject("The SQL guard could not check this query; please simplify it.")
    statement = statements[0]
    if statement.tokens[0].name not in _QUERY_STARTS or reason == _NOT_A_QUERY:
        return _reject(_statement_reason(statement.tokens[0]))
    # The whole walk, on the tree of exactly the text that runs (comments blanked).
    reason = _pg_check(statement.clean, policy) or _token_rules(statement.tokens)
    if reason:
        return _reject(reason)
    # sqlglot reads PostgreSQL's own rendering of the tree: literals, quoting and
    # Unicode names arrive in one plain spelling whatever the query wrote.
    try:
        canonical = deparse_protobuf(parse_sql_protobuf(statement.clean))
    except PgError:
        return _reject("The SQL guard cannot analyse this query's syntax; try writing it "
                       "with more common SQL.")
    reason, findings = _sqlglot_check(canonical, policy)
    if reason:
        return _reject(reason)
    return Verdict(True, None, tuple(findings.tables), tuple(dict.fromkeys(findings.columns)),
                   statement.clean)
