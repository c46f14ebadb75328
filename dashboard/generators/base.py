"""The generator interface shared by the offline planner and the OpenAI-compatible client.

A generator turns a question plus schema context into a `Draft`; it never runs SQL and
never sees the app's own tables. `service.preview` guards and executes every draft and
feeds errors back (`feedback`) for at most two retries.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dashboard.catalog import SchemaContext
    from dashboard.config import Settings


# The time.monotonic() by which the current ask must be answered (ASK_DEADLINE_S). The
# service sets it around each generate() call so that a network generator bounds every
# wait by it; a context variable keeps it per thread (each Streamlit session has its own).
ask_deadline: ContextVar[float | None] = ContextVar("ask_deadline", default=None)


def seconds_left() -> float | None:
    """Seconds until the current ask's deadline, or None when no deadline is set."""
    deadline = ask_deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@dataclass(frozen=True)
class Draft:
    """One proposed query. `chart` is a chart type the prompt asked for, or None."""

    sql: str
    chart: str | None = None
    title: str = ""
    explanation: str = ""
    # One plain-English line saying what the SQL computes ("Count of loans whose return
    # date is empty, by branch"); stored in the widget's generation metadata.
    interpretation: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Generator(Protocol):
    name: str  # "offline" | "openai"
    model: str | None

    def generate(
        self,
        question: str,
        context: SchemaContext,
        *,
        feedback: str | None = None,
        previous: Draft | None = None,
    ) -> Draft:
        """Return a draft, or raise GenerationFailed with a message for the analyst.

        `feedback` is the guard's or PostgreSQL's complaint about the last attempt;
        `previous` is the draft being refined ("now by week", "only Europe").
        """
        ...


def get_generator(settings: Settings) -> Generator:
    """The generator chosen by GENERATOR (auto: the LLM when a key or base URL is set)."""
    if settings.generator_in_use == "openai":
        from dashboard.generators.openai import OpenAIGenerator

        return OpenAIGenerator(settings)
    from dashboard.generators.offline import OfflineGenerator

    return OfflineGenerator(settings)
