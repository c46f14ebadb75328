"""The schema profile: a role for every column, and joins inferred from names.

Roles come from types, names, keys and statistics already in the catalog: key (primary
key or identifier), foreign key (declared, or inferred from a name such as
`<table>_id` / `<table>id` that matches another table's single-column key), date, flag,
measure, label (names and titles), category (few distinct values) and text. Both
generators read them: the offline planner never adds up a key, and the LLM's schema
context says which columns are identifiers and which joins exist by naming convention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dashboard import text as textlib
from dashboard.catalog import Column, Table

_ID_NAME = re.compile(r"(?:^id$|_id$|[a-z]id$|_key$|^key$|_code$|^code$|_no$|_nr$|_num$)")
_LABEL_NAME = re.compile(r"(?:^|_)(?:name|title|surname|firstname|lastname|label)s?$")
_FLAG_NAME = re.compile(r"^(?:is|has|can|was)_|(?:_flag|_yn)$")
_CATEGORY_MAX = 50  # distinct values at most for a text column to be a category


@dataclass(frozen=True)
class InferredJoin:
    """child.column references parent.parent_column by naming convention only."""

    child: str
    column: str
    parent: str
    parent_column: str


def column_role(column: Column) -> str:
    """key | foreign key | date | flag | measure | label | category | text | other."""
    name = column.name.lower()
    if column.primary_key:
        return "key"
    if column.references is not None:
        return "foreign key"
    if column.is_time:
        return "date"
    if column.type == "boolean" or _FLAG_NAME.search(name):
        return "flag"
    if _ID_NAME.search(name) and (column.is_numeric or column.is_text):
        return "key"
    if column.is_numeric:
        return "measure"
    if column.is_text:
        if _LABEL_NAME.search(name):
            return "label"
        if column.enum or (column.distinct_estimate is not None and
                           column.distinct_estimate <= _CATEGORY_MAX):
            return "category"
        return "text"
    return "other"


def infer_joins(tables: Sequence[Table]) -> list[InferredJoin]:
    """Undeclared foreign keys named after another table: orders.customer_id ->
    customers(id or customer_id), bookings.memid -> members(memid)."""
    keys: dict[str, tuple[Table, Column]] = {}
    for table in tables:
        pk = table.primary_key
        if len(pk) == 1:
            keys[table.qualified_name] = (table, pk[0])
    found = []
    for table in tables:
        for column in table.columns:
            if (column.primary_key and len(table.primary_key) == 1) or \
                    column.references is not None:
                continue
            name = column.name.lower()
            for parent_name, (parent, key) in keys.items():
                if parent is table or not _names(name, parent, key):
                    continue
                if column.type.split("(")[0] != key.type.split("(")[0]:
                    continue
                found.append(InferredJoin(table.qualified_name, column.name, parent_name,
                                          key.name))
                break
    return found


def _names(column: str, parent: Table, key: Column) -> bool:
    """Whether `column` names `parent`'s key: the key's own name ('memid'), or the
    table's singular name followed by id ('customer_id', 'customerid')."""
    if column == key.name.lower() and key.name.lower() not in {"id", "code", "key"}:
        return True
    entity = textlib.singular(parent.name.lower())
    return column in {f"{entity}_id", f"{entity}id", f"{parent.name.lower()}_id"}
