"""Exceptions whose message is written for the analyst and safe to show in the UI.

One hierarchy: every class derives from ``DashboardError`` and carries a plain-language
``message``; none carries a stack trace, a connection string or a secret. Pages catch
``DashboardError`` and show ``message``. ``retryable`` tells the ask loop whether asking
the generator again (with ``message`` as feedback) may succeed.
"""

from __future__ import annotations

from dataclasses import dataclass


class DashboardError(Exception):
    """Base class: ``message`` is shown to the user as it is.

    ``retryable`` is False unless a subclass (or an instance) says that another attempt
    with ``message`` as feedback may succeed, as an unusable model reply does.
    """

    retryable: bool = False
    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(DashboardError):
    """A setting is missing or invalid (the message names it, never its value)."""


class DatabaseUnavailable(DashboardError):
    """The database cannot be reached or refused the connection."""


class Busy(DashboardError):
    """Every pooled connection stayed in use for longer than we are willing to wait."""


class NotFound(DashboardError):
    """The object does not exist, or belongs to someone else (the two look the same)."""


class InvalidInput(DashboardError):
    """Something the user typed cannot be used (a username, a title, a prompt)."""


class UnsafeQuery(DashboardError):
    """The SQL guard refused a statement."""


class QueryTimeout(DashboardError):
    """A query ran past QUERY_TIMEOUT_MS and was cancelled."""


class QueryFailed(DashboardError):
    """PostgreSQL refused or failed a query. ``hint`` (the server's HINT, if any) and
    ``sqlstate`` come from the server; its DETAIL, when there is one, is in ``message``."""

    hint: str | None
    sqlstate: str | None

    def __init__(self, message: str, *, hint: str | None = None,
                 sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.sqlstate = sqlstate


class GenerationFailed(DashboardError):
    """No generator produced a usable query for the prompt."""


@dataclass(frozen=True)
class Clarification:
    """One reading of an ambiguous question: a button label and the prompt that asks
    for exactly that reading (asked again as it is when the analyst picks it)."""

    label: str
    prompt: str


class NeedsClarification(GenerationFailed):
    """Two or more readings of the question are plausible; the analyst picks one of
    ``options``."""

    options: list[Clarification]

    def __init__(self, message: str, options: list[Clarification]) -> None:
        super().__init__(message)
        self.options = list(options)


class InvalidChartSpec(DashboardError):
    """Stored or generated widget content is not a valid chart spec."""
