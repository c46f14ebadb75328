"""Clarification rules of the precision gate: when two readings of a question are
plausible, ask which one is meant (NeedsClarification with a re-worded prompt per reading,
each of which the planner answers unambiguously) instead of guessing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dashboard import text as textlib
from dashboard.errors import Clarification, NeedsClarification

if TYPE_CHECKING:
    from dashboard.generators.gate import Checked


def one_reading_of_each_value(c: Checked) -> None:
    """A literal held by two columns ('Singapore': a country and a city) is ambiguous
    unless the question names one of the columns: ask which one is meant."""
    stems = {t.stem for t in c.tokens if not t.marker}
    for m in c.mentions:
        places = sorted({(t.table, t.column) for t in m.targets if t.kind == "value"})
        if len({table for table, _ in places}) < 2:
            continue  # two columns of one table ('name', 'local name'): the same rows
        named = [p for p in places if set(_column_stems(p)) <= stems]
        if len(named) == 1:
            continue
        entities = {t.table for other in c.mentions for t in other.targets
                    if t.kind == "entity"}
        if len({table for table, _ in places if table in entities}) == 1:
            continue  # "customers in Germany": the table the question is about
        typed = c.question[c.tokens[m.first].start:c.tokens[m.last - 1].end]
        value = next(t.value for t in m.targets if t.kind == "value")
        options = []
        for table, column in places:
            words = _describe_column(table, column)
            # Naming the table ("city Singapore") makes the question about that table.
            entity = textlib.singular(table.split(".")[-1].replace("_", " "))
            prompt = c.question[:c.tokens[m.first].start] + f"{entity} {value}" + \
                c.question[c.tokens[m.last - 1].end:]
            options.append(Clarification(f"'{value}' as the {words}", prompt))
        raise NeedsClarification(
            f"'{typed}' is in more than one column; which one do you mean?", options)


def one_column_per_word(c: Checked) -> None:
    """'by class' where a table has both `class` and `pclass`: two columns answer to the
    word, so ask which one is meant ('class column' or 'pclass' names one exactly)."""
    used = c.sql_columns()
    for m in c.mentions:
        if m.last - m.first != 1 or (m.last < len(c.tokens) and \
                c.tokens[m.last].word == "column"):
            continue
        word = c.tokens[m.first].word
        for target in m.targets:
            if target.kind != "column" or (target.table, target.column) not in used:
                continue
            rivals = [col.name for col in c.lex.tables[target.table].columns
                      if col.name != target.column and word in col.name.lower() and
                      col.name.lower() not in {f"{word}_id", f"{word}id"} and
                      word not in re.split(r"[_\W]+", col.name.lower())]
            if not rivals or target.column.lower() != word:
                continue
            start, end = c.tokens[m.first].start, c.tokens[m.first].end
            options = [Clarification(f"the {target.column} column",
                                     c.question[:start] + f"{word} column" +
                                     c.question[end:])]
            options += [Clarification(f"the {name} column", c.question[:start] + name +
                                      c.question[end:]) for name in rivals]
            raise NeedsClarification(
                f"'{word}' could mean the column {target.column} or "
                f"{', '.join(rivals)}; which one do you mean?", options)


def _column_stems(place: tuple[str, str]) -> list[str]:
    words = re.split(r"[_\W]+", _describe_column(*place).lower())
    return [textlib.stem(w) for w in words if w and w != "id"]


def _describe_column(table: str, column: str) -> str:
    """'city name' for city.name, 'department name' for departments.department_name."""
    entity = textlib.singular(table.split(".")[-1].replace("_", " "))
    words = column.replace("_", " ")
    return words if entity.split()[-1] in words else f"{entity} {words}"
