"""The README's settings table and `dashboard.config` describe the same settings.

Datasette keeps its docs honest the same way: a setting added to the code without a
README row (or a default changed on one side only) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from dashboard import config

ROOT = Path(__file__).resolve().parent.parent
_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \| (.+?) \| .+\|$")
# Settings whose README name differs from the Settings attribute.
_ATTRIBUTE = {"EMBEDDED_DATA_DIR": "data_dir"}


def readme_settings() -> dict[str, str]:
    """Setting name -> the default column's text, from the README's settings table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return {m[1]: m[2].strip() for line in section.splitlines() if (m := _ROW.match(line))}


def code_settings() -> set[str]:
    """Every name `parse_settings` reads from the environment."""
    source = Path(config.__file__).read_text(encoding="utf-8")
    return set(re.findall(r'env, "([A-Z][A-Z0-9_]+)"', source))


def _readme_default(cell: str) -> str | None:
    """`value` -> 'value'; an italic '*(unset ...)*' or '*(derived)*' -> None."""
    if cell.startswith("`") and cell.endswith("`"):
        return cell.strip("`")
    return None


def test_same_names_in_readme_and_code() -> None:
    documented, read = set(readme_settings()), code_settings()
    assert read, "no settings found in config.py: the pattern above is out of date"
    assert documented - read == set(), "documented but never read"
    assert read - documented == set(), "read but missing from the README table"


def test_same_defaults_in_readme_and_code() -> None:
    defaults = config.parse_settings({})
    for name, cell in readme_settings().items():
        value = getattr(defaults, _ATTRIBUTE.get(name, name.lower()))
        documented = _readme_default(cell)
        if name == "EMBEDDED_DATA_DIR":
            assert value == config.PROJECT_DIR / (documented or ""), name
        elif documented is None:
            assert value is None, name
        elif isinstance(value, bool):
            assert documented == ("on" if value else "off"), name
        elif isinstance(value, tuple):
            assert documented == ",".join(value), name
        elif isinstance(value, float):
            assert float(documented) == value, name
        else:
            assert documented == str(value), name
