"""The use cases: preview, create, refresh, edit and delete widgets.

The only module that composes schema context -> generator -> SQL guard -> executor ->
chart spec -> store. Every query, generated or typed, passes `_guard` then `_execute`
(never anything else); every widget operation is scoped by the user, so another user's
widget id behaves exactly like a missing one (`NotFound`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from dashboard import charts, export, store
from dashboard.catalog import Catalog, build_context, get_catalog
from dashboard.chart_inference import requested_chart
from dashboard.config import Settings
from dashboard.db import AppStore, Database
from dashboard.errors import (
    DashboardError,
    GenerationFailed,
    InvalidChartSpec,
    InvalidInput,
    QueryFailed,
    QueryTimeout,
    UnsafeQuery,
)
from dashboard.generators.base import Draft, Generator, ask_deadline, get_generator
from dashboard.intent import check_intent
from dashboard.store import User, Widget

if TYPE_CHECKING:
    from dashboard.executor import QueryResult

log = logging.getLogger(__name__)

# The generator gets the guard's or PostgreSQL's complaint back at most this many times.
MAX_RETRIES = 2
# Characters of a failed query and of an error message fed back to the generator.
_FEEDBACK_SQL_CHARS = 4000
_FEEDBACK_ERROR_CHARS = 1000
STATIC_NOTE = ("This widget has no saved query (it was created without SQL), so it "
               "cannot be refreshed or edited; it shows its stored data.")


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Preview:
    """A validated, executed draft: what `create` saves. Nothing here is stored yet."""

    prompt: str
    sql: str
    result: QueryResult
    spec: charts.ChartSpec
    title: str
    explanation: str
    generation: dict[str, Any]
    note: str | None = None
    draft: Draft | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Proposal:
    """A regenerated query offered after a saved query failed; the owner decides."""

    sql: str
    spec: charts.ChartSpec
    explanation: str
    error: str
    generation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefreshOutcome:
    """What a refresh did: the widget as stored now, the error if the query failed, and
    a proposal to fix it (or `note` saying why there is none)."""

    widget: Widget
    error: str | None = None
    proposal: Proposal | None = None
    note: str | None = None


# ----------------------------------------------------------------------------- plumbing


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@lru_cache(maxsize=8)
def _default_generator(settings: Settings) -> Generator:
    """One generator per configuration (the OpenAI client keeps its connection pool)."""
    return get_generator(settings)


def _guard(catalog: Catalog, sql: str) -> str:
    """The SQL to run, or UnsafeQuery with the guard's reason (the one gate)."""
    from dashboard import sqlguard

    verdict = sqlguard.guard(sql, allowed_tables=catalog.table_names(),
                             schemas=catalog.schemas)
    return verdict.sql or sql


def _execute(db: Database, guarded_sql: str) -> QueryResult:
    """Run SQL that `_guard` accepted as the read-only role (timeout, row cap, rollback).

    `executor.run_query` would guard the text again; `_run_checked` has just done that
    (and timed it separately), so the guarded text goes straight to the read-only half.
    """
    from dashboard import executor

    return executor.execute_readonly(db, guarded_sql, max_rows=db.settings.max_rows)


def _run_checked(db: Database, sql: str, timings: dict[str, int] | None = None,
                 *, catalog: Catalog | None = None,
                 on_step: Callable[[str], None] | None = None) -> tuple[str, QueryResult]:
    """Guard then execute; the only path by which any SQL reaches PostgreSQL here."""
    if not sql or not sql.strip():
        raise InvalidInput("Enter a SQL query.")
    started = time.monotonic()
    if on_step:
        on_step("guard")
    checked = _guard(catalog or get_catalog(db), sql)
    guarded_at = time.monotonic()
    if on_step:
        on_step("execute")
    result = _execute(db, checked)
    if timings is not None:
        timings["guard"] = timings.get("guard", 0) + round((guarded_at - started) * 1000)
        timings["execute"] = timings.get("execute", 0) + _ms(guarded_at)
    return checked, result


def _check_prompt(prompt: str) -> str:
    prompt = " ".join(str(prompt or "").split())
    if not prompt:
        raise InvalidInput("Type a question about your data first.")
    if len(prompt) > store.MAX_PROMPT_CHARS:
        raise InvalidInput(f"A prompt has at most {store.MAX_PROMPT_CHARS} characters.")
    if "\x00" in prompt or _unencodable(prompt):
        # Refused before generation: neither PostgreSQL nor an HTTP client can carry them.
        raise InvalidInput("The prompt holds a NUL or broken character (invalid UTF-8); "
                           "please retype it.")
    return prompt


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_chart(chart: str | None) -> str | None:
    if chart is None:
        return None
    chart = str(chart).strip().lower()
    if chart not in charts.CHART_TYPES:
        raise InvalidInput(f"Unknown chart type {chart!r}; choose one of "
                           f"{', '.join(charts.CHART_TYPES)}.")
    return chart


def _default_title(prompt: str) -> str:
    title = prompt.strip().rstrip("?.!")
    title = title[:1].upper() + title[1:]
    return title if len(title) <= 80 else title[:79].rstrip() + "…"


def _feedback(sql: str, error: DashboardError) -> str:
    """What the generator is told about a failed attempt: its SQL and the complaint."""
    what = {UnsafeQuery: "The SQL guard refused the query",
            QueryTimeout: "The query ran too long and was cancelled",
            QueryFailed: "PostgreSQL rejected the query"}.get(type(error), "The query failed")
    text = f"{what}:\n{sql[:_FEEDBACK_SQL_CHARS]}\nError: {error.message[:_FEEDBACK_ERROR_CHARS]}"
    hint = getattr(error, "hint", None)
    if hint:
        text += f"\nHint: {str(hint)[:_FEEDBACK_ERROR_CHARS]}"
    return text


def _spec(result: QueryResult, chart: str | None, title: str, prompt: str) -> charts.ChartSpec:
    return charts.spec_from_result(result, chart=chart, title=title, prompt=prompt)


def _spec_note(spec: charts.ChartSpec) -> str | None:
    note = getattr(spec, "note", None)
    return str(note) if note else None


def _deadline_error(settings: Settings, last_error: str | None) -> GenerationFailed:
    message = (f"No working query within the time allowed for one question "
               f"({settings.ask_deadline_s:g} s, ASK_DEADLINE_S).")
    if last_error:
        message += f" Last error: {last_error}"
    return GenerationFailed(message)


# ----------------------------------------------------------------------------- generation


@dataclass
class _Attempts:
    """Bookkeeping for one generate -> guard -> execute loop."""

    timings: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    attempts: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    on_step: Callable[[str], None] | None = None

    def step(self, name: str) -> None:
        """Tell the caller (the page's progress steps) which stage starts now."""
        if self.on_step is not None:
            self.on_step(name)

    def add_tokens(self, draft: Draft) -> None:
        if draft.prompt_tokens is not None:
            self.prompt_tokens = (self.prompt_tokens or 0) + draft.prompt_tokens
        if draft.completion_tokens is not None:
            self.completion_tokens = (self.completion_tokens or 0) + draft.completion_tokens


def _generate_and_run(db: Database, generator: Generator, question: str, *,
                      previous: Draft | None, feedback: str | None, book: _Attempts,
                      deadline: float, previous_prompt: str | None = None,
                      ) -> tuple[Draft, str, QueryResult]:
    """Generate, guard and execute with self-correction: at most MAX_RETRIES retries,
    all before `deadline` (monotonic). Only SQL the guard accepted ever runs."""
    settings = db.settings
    started = time.monotonic()
    book.step("context")
    catalog = get_catalog(db)
    # A follow-up ("only Europe") needs the tables of the question it refines.
    topic = f"{previous_prompt} {question}" if previous_prompt else question
    context = build_context(catalog, topic, token_budget=settings.context_tokens,
                            send_samples=settings.send_sample_values)
    book.timings["context"] = _ms(started)
    last_error: str | None = None
    token = ask_deadline.set(deadline)
    try:
        for round_ in range(MAX_RETRIES + 1):
            if time.monotonic() >= deadline:
                raise _deadline_error(settings, last_error)
            book.attempts += 1
            started = time.monotonic()
            book.step("generate")
            try:
                draft = generator.generate(question, context, feedback=feedback,
                                           previous=previous)
            except GenerationFailed as exc:
                book.timings["generate"] = book.timings.get("generate", 0) + _ms(started)
                if not getattr(exc, "retryable", False):
                    raise
                last_error = exc.message
                book.errors.append(exc.message)
                if round_ == MAX_RETRIES:
                    break
                feedback = exc.message
                continue
            except DashboardError:
                raise
            except Exception as exc:  # a generator bug must not take the page down
                log.exception("generator %s failed", generator.name)
                raise GenerationFailed(
                    f"The {generator.name} generator failed unexpectedly "
                    f"({type(exc).__name__}). Try rephrasing the question.") from None
            book.timings["generate"] = book.timings.get("generate", 0) + _ms(started)
            book.add_tokens(draft)
            try:
                checked, result = _run_checked(db, draft.sql, book.timings, catalog=catalog,
                                               on_step=book.on_step)
            except (UnsafeQuery, QueryFailed, QueryTimeout) as exc:
                last_error = exc.message
                book.errors.append(exc.message)
                feedback = _feedback(draft.sql, exc)
                continue
            return draft, checked, result
    finally:
        ask_deadline.reset(token)
    if time.monotonic() >= deadline:
        raise _deadline_error(settings, last_error)
    raise GenerationFailed(
        f"No working query after {book.attempts} attempts. Last error: {last_error}")


def _generation_record(generator: Generator, book: _Attempts, started: float) -> dict[str, Any]:
    return {
        "generator": generator.name,
        "model": generator.model,
        "attempts": book.attempts,
        "prompt_tokens": book.prompt_tokens,
        "completion_tokens": book.completion_tokens,
        "latency_ms": _ms(started),
        "timings_ms": dict(book.timings),
        "errors": list(book.errors),
        "generated_at": _now(),
    }


def preview(db: Database, user: User, prompt: str, *, previous: Preview | None = None,
            chart: str | None = None, generator: Generator | None = None,
            on_step: Callable[[str], None] | None = None) -> Preview:
    """Turn a prompt into a validated, executed query and a chart spec, without saving.

    `previous` refines an earlier preview ("now by week"); `chart` forces a chart type;
    `on_step` hears each stage (context, generate, guard, execute, chart) as it starts.
    Raises GenerationFailed (with the last error) when no attempt produced a working query.
    """
    del user  # previews touch no user data; kept for a uniform, auditable signature
    started = time.monotonic()
    question = _check_prompt(prompt)
    check_intent(question)  # data-changing and non-data requests: declined before any generator
    chart = _check_chart(chart)
    generator = generator or _default_generator(db.settings)
    book = _Attempts(on_step=on_step)
    draft, checked, result = _generate_and_run(
        db, generator, question, previous=previous.draft if previous else None,
        feedback=None, book=book, deadline=started + db.settings.ask_deadline_s,
        previous_prompt=previous.prompt if previous else None)
    saved_prompt = question
    if previous is not None:
        combined = f"{previous.prompt}; {question}"
        saved_prompt = combined if len(combined) <= store.MAX_PROMPT_CHARS else question
    title = draft.title.strip() or _default_title(saved_prompt)
    chart_started = time.monotonic()
    book.step("chart")
    # Chart choice: the caller's, a chart word in this prompt (an explicit word always
    # wins), the generator's, the chart the refined draft asked for, else inferred.
    wanted = chart or requested_chart(question) or draft.chart
    if wanted is None and previous is not None:
        wanted = previous.generation.get("chart_requested")
    spec = _spec(result, wanted, title, question)
    book.timings["chart"] = _ms(chart_started)
    generation = _generation_record(generator, book, started)
    generation["chart_requested"] = wanted
    generation["interpretation"] = draft.interpretation
    if previous is not None:
        generation["refined_from"] = previous.prompt
    elif spec.chart == "number":
        generation.update(_number_context(db, generator, question,
                                          deadline=started + db.settings.ask_deadline_s))
    notes = []
    if book.attempts > 1:
        notes.append(f"The first {'query' if book.attempts == 2 else 'queries'} failed "
                     f"({book.errors[-1]}); this one was corrected automatically.")
    if _spec_note(spec):
        notes.append(_spec_note(spec))
    return Preview(prompt=saved_prompt, sql=checked, result=result, spec=spec, title=title,
                   explanation=draft.explanation, generation=generation,
                   note=" ".join(n for n in notes if n) or None, draft=draft)


# At most this many points of a number card's trend line are kept (generation JSONB).
MAX_TREND_POINTS = 400


def _number_context(db: Database, generator: Generator, question: str, *,
                    deadline: float) -> dict[str, Any]:
    """For a number card whose question names one period ("revenue in 2024"): the same
    value for the previous period (st.metric's delta) and the series over the period
    (its trend line), each generated, guarded and run like any query. Whatever fails
    is simply left out; the card still shows its value."""
    from dashboard.periods import companions

    asked = companions(question)
    if asked is None:
        return {}
    out: dict[str, Any] = {}
    for name, text in (("compare", asked.previous), ("trend", asked.trend)):
        try:
            _, checked, result = _generate_and_run(
                db, generator, text, previous=None, feedback=None, book=_Attempts(),
                deadline=deadline)
            data = _companion_data(name, result)
        except DashboardError as exc:
            log.debug("number card %s skipped: %s", name, exc.message)
            continue
        if data is not None:
            out[name] = {"sql": checked, **data,
                         **({"label": asked.previous_label} if name == "compare" else {})}
    return out


def _companion_data(name: str, result: QueryResult) -> dict[str, Any] | None:
    """The value (compare: one number) or the series (trend: time, number) of a result."""
    numeric = [i for i, c in enumerate(result.columns)
               if charts.column_kind(c.name, c.type_name, [r[i] for r in result.rows])
               == "number"]
    if not numeric or not result.rows:
        return None
    value_at = numeric[-1]
    if name == "compare":
        if len(result.rows) != 1:
            return None
        return {"value": charts.plain_value(result.rows[0][value_at])}
    if len(result.rows) < 2 or len(result.columns) != 2:
        return None
    points = [charts.plain_value(r[value_at]) for r in result.rows[-MAX_TREND_POINTS:]]
    return {"values": [v if isinstance(v, (int, float)) else None for v in points]}


def _refresh_context(db: Database, generation: dict[str, Any]) -> dict[str, Any]:
    """Re-run a number card's comparison and trend queries (guarded) on refresh."""
    updates: dict[str, Any] = {}
    for name in ("compare", "trend"):
        entry = generation.get(name)
        if not isinstance(entry, dict) or not entry.get("sql"):
            continue
        try:
            checked, result = _run_checked(db, str(entry["sql"]))
            data = _companion_data(name, result)
        except DashboardError:
            continue
        if data is not None:
            updates[name] = {**entry, "sql": checked, **data}
    return updates


def preview_sql(db: Database, user: User, draft: Preview, sql: str) -> Preview:
    """The same draft with the analyst's own SQL: guarded and run like any query."""
    del user
    timings: dict[str, int] = {}
    checked, result = _run_checked(db, sql, timings)
    wanted = draft.generation.get("chart_requested")
    spec = _spec(result, wanted, draft.title, draft.prompt)
    generation = {k: v for k, v in draft.generation.items() if k not in ("compare", "trend")}
    generation.update(sql_source="edited", timings_ms=timings)
    return replace(draft, sql=checked, result=result, spec=spec, generation=generation,
                   note=_spec_note(spec), explanation="Your own SQL (edited by hand).")


def with_chart(draft: Preview, chart: str) -> Preview:
    """The same draft drawn as another chart type, from its snapshot (no re-run): what
    the widget would store is all a draft keeps (`compact`)."""
    wanted = _check_chart(chart)
    spec = charts.respec(draft.spec, chart=wanted)
    return replace(draft, spec=spec, note=_spec_note(spec),
                   generation={**draft.generation, "chart_requested": wanted})


def compact(draft: Preview) -> Preview:
    """The draft as a session keeps it: the result's rows are dropped (the spec holds the
    capped snapshot a widget would store), counts and timing are kept."""
    result = draft.result
    if not result.rows:
        return draft
    return replace(draft, result=replace(result, rows=[]))


def offline_generator(db: Database) -> Generator:
    """The built-in planner, whatever GENERATOR says (one-click example prompts)."""
    return _offline(db.settings)


@lru_cache(maxsize=8)
def _offline(settings: Settings) -> Generator:
    from dashboard.generators.offline import OfflineGenerator

    return OfflineGenerator(settings)


# ----------------------------------------------------------------------------- lifecycle


def _content(spec: charts.ChartSpec) -> str:
    """The JSON stored in widgets.content (validated on write, as on every read)."""
    return spec.to_json()  # validates, and caps the size


def create(db: Database, user: User, draft: Preview | str, *,
           generator: Generator | None = None) -> Widget:
    """Save a preview (or preview a prompt first) as a new widget, in one INSERT."""
    if isinstance(draft, str):
        draft = preview(db, user, draft, generator=generator)
    started = time.monotonic()
    content = _content(draft.spec)  # everything is computed before the single INSERT
    generation = {**draft.generation, "saved_at": _now()}
    widget = store.create_widget(db, user, prompt=draft.prompt, sql_query=draft.sql,
                                 content=content, title=draft.title, generation=generation)
    log.debug("widget %s saved in %d ms", widget.id, _ms(started))
    return widget


def list_widgets(db: AppStore, user: User) -> list[Widget]:
    """The user's widgets in dashboard order."""
    return store.list_widgets(db, user)


def get_widget(db: AppStore, user: User, widget_id: int) -> Widget:
    """One of the user's widgets; NotFound for a missing or foreign id."""
    return store.get_widget(db, user, widget_id)


def _stored_spec(widget: Widget) -> charts.ChartSpec | None:
    try:
        return charts.parse_content(widget.content)
    except InvalidChartSpec:
        return None


def _require_sql(widget: Widget) -> str:
    if not widget.sql_query or not widget.sql_query.strip():
        raise DashboardError(STATIC_NOTE)
    return widget.sql_query


def _snapshot(db: Database, user: User, widget: Widget, sql: str, result: QueryResult,
              updates: dict[str, Any], *, replaces_query: bool,
              title: str | None = None) -> Widget:
    """Store a fresh snapshot in one UPDATE, built under the row lock from the row as it is
    now (its current title and chart type), so concurrent edits never mix. A refresh
    (`replaces_query=False`) whose query was replaced while it ran keeps the newer one."""
    def change(current: Widget) -> dict[str, Any] | None:
        if not replaces_query and current.sql_query != widget.sql_query:
            return None
        old = _stored_spec(current)
        shown = title or current.title or _default_title(current.prompt)
        spec = _spec(result, old.chart if old else None, shown, current.prompt)
        generation = dict(current.generation or {})
        generation.pop("refresh_error", None)
        generation.update(updates)
        changes = {"sql_query": sql, "content": _content(spec), "generation": generation}
        if title:
            changes["title"] = title
        return changes

    return store.modify_widget(db, user, widget.id, change)


def refresh(db: Database, user: User, widget_id: int, *,
            generator: Generator | None = None) -> RefreshOutcome:
    """Re-validate and re-run the saved query and update the snapshot.

    When the saved query now fails (a renamed column, a dropped table) the widget keeps
    its SQL and snapshot; the outcome carries the error and, when one can be made, a
    regenerated `Proposal` the owner may accept (`accept_proposal`) or ignore.
    """
    widget = store.get_widget(db, user, widget_id)
    sql = _require_sql(widget)
    started = time.monotonic()
    timings: dict[str, int] = {}
    try:
        checked, result = _run_checked(db, sql, timings)
    except (UnsafeQuery, QueryFailed) as exc:
        error = exc.message
    except QueryTimeout as exc:
        # A slow query is not a broken one: report it, propose nothing.
        return RefreshOutcome(widget, exc.message, None,
                              "The query is slow, not broken: no new query is proposed.")
    else:
        updates = {"refreshed_at": _now(), "refresh_ms": _ms(started), "timings_ms": timings,
                   **_refresh_context(db, widget.generation or {})}
        updated = _snapshot(db, user, widget, checked, result, updates,
                            replaces_query=False)
        return RefreshOutcome(updated)
    failure = {"message": error, "at": _now()}

    def record(current: Widget) -> dict[str, Any] | None:
        if current.sql_query != widget.sql_query:  # replaced meanwhile: not this error's
            return None
        return {"generation": {**(current.generation or {}), "refresh_error": failure}}

    widget = store.modify_widget(db, user, widget.id, record)
    proposal, note = _propose(db, widget, sql, error, generator)
    return RefreshOutcome(widget, error, proposal, note)


def _propose(db: Database, widget: Widget, sql: str, error: str,
             generator: Generator | None) -> tuple[Proposal | None, str | None]:
    """Regenerate from the stored prompt plus the database's error."""
    # The schema probably changed under the widget: look again before regenerating.
    get_catalog(db, refresh=True)
    generator = generator or _default_generator(db.settings)
    book = _Attempts()
    started = time.monotonic()
    feedback = ("The saved query for this question no longer works:\n"
                f"{sql[:_FEEDBACK_SQL_CHARS]}\nError: {error[:_FEEDBACK_ERROR_CHARS]}\n"
                "Write a query that answers the question with the current schema.")
    deadline = started + db.settings.ask_deadline_s
    question = _check_prompt(widget.prompt)
    try:
        try:
            draft, checked, result = _generate_and_run(
                db, generator, question, previous=None, feedback=feedback, book=book,
                deadline=deadline)
        except GenerationFailed:
            if book.attempts != 1:
                raise
            # The generator declined the error report outright (a deterministic planner
            # cannot learn from it): regenerate from the prompt on the current schema.
            draft, checked, result = _generate_and_run(
                db, generator, question, previous=None, feedback=None, book=book,
                deadline=deadline)
    except DashboardError as exc:
        return None, f"No fix could be proposed: {exc.message}"
    old = _stored_spec(widget)
    spec = _spec(result, old.chart if old else None,
                 widget.title or draft.title or _default_title(widget.prompt), widget.prompt)
    generation = _generation_record(generator, book, started)
    return Proposal(sql=checked, spec=spec, explanation=draft.explanation, error=error,
                    generation=generation), None


def accept_proposal(db: Database, user: User, widget_id: int, sql: str) -> Widget:
    """Replace a widget's query with a proposal the owner accepted (re-validated, re-run)."""
    return _replace_sql(db, user, widget_id, sql, source="proposal")


def edit_sql(db: Database, user: User, widget_id: int, sql: str, *,
             title: str | None = None) -> Widget:
    """Replace a widget's query by hand: saved only if it passes the guard and runs;
    otherwise the error is raised and the old query and snapshot stay. The widget is
    marked as edited ("your SQL"); `title`, when given, replaces its title in the same
    update (the old title may no longer describe the data)."""
    return _replace_sql(db, user, widget_id, sql, source="edit",
                        title=None if title is None else _check_title(title))


def _replace_sql(db: Database, user: User, widget_id: int, sql: str, *, source: str,
                 title: str | None = None) -> Widget:
    widget = store.get_widget(db, user, widget_id)
    _require_sql(widget)
    started = time.monotonic()
    timings: dict[str, int] = {}
    checked, result = _run_checked(db, sql, timings)
    updates = {"refreshed_at": _now(), "refresh_ms": _ms(started), "sql_source": source,
               "sql_changed_at": _now(), "timings_ms": timings,
               # The comparison and trend answered the old query, not this one.
               "compare": None, "trend": None}
    return _snapshot(db, user, widget, checked, result, updates, replaces_query=True,
                     title=title)


def set_chart(db: AppStore, user: User, widget_id: int, chart: str) -> Widget:
    """Draw the stored snapshot as another chart type (falls back, with a note, when the
    data cannot be shown that way)."""
    chart_type = _check_chart(chart)

    def change(current: Widget) -> dict[str, Any]:
        try:
            old = charts.parse_content(current.content)
        except InvalidChartSpec as exc:
            raise InvalidInput(f"This widget's data cannot be redrawn: {exc.message}") from None
        return {"content": _content(charts.respec(old, chart=chart_type))}

    return store.modify_widget(db, user, widget_id, change)


def _check_title(title: str) -> str:
    title = " ".join(str(title or "").split())
    if not title:
        raise InvalidInput("Enter a title.")
    if len(title) > store.MAX_TITLE_CHARS:
        raise InvalidInput(f"A title has at most {store.MAX_TITLE_CHARS} characters.")
    return title


def rename(db: AppStore, user: User, widget_id: int, title: str) -> Widget:
    """Change a widget's title (also the title drawn on its chart)."""
    title = _check_title(title)

    def change(current: Widget) -> dict[str, Any]:
        spec = _stored_spec(current)
        if spec is None:
            return {"title": title}
        return {"title": title, "content": _content(replace(spec, title=title))}

    return store.modify_widget(db, user, widget_id, change)


def delete(db: AppStore, user: User, widget_id: int) -> None:
    """Delete one of the user's widgets."""
    store.delete_widget(db, user, widget_id)


def move(db: AppStore, user: User, widget_id: int, offset: int) -> list[Widget]:
    """Move a widget `offset` places on the dashboard; returns the new order."""
    return store.move_widget(db, user, widget_id, int(offset))


def export_csv(db: AppStore, user: User, widget_id: int) -> bytes:
    """The widget's stored data (its snapshot) as CSV, formula-like cells escaped."""
    widget = store.get_widget(db, user, widget_id)
    return export.to_csv(charts.parse_content(widget.content))


def refresh_all(db: Database, user: User, *,
                generator: Generator | None = None) -> list[tuple[Widget, RefreshOutcome | None]]:
    """Refresh every widget with a query; static widgets come back with None."""
    outcomes: list[tuple[Widget, RefreshOutcome | None]] = []
    for widget in store.list_widgets(db, user):
        if not widget.sql_query:
            outcomes.append((widget, None))
            continue
        outcomes.append((widget, refresh(db, user, widget.id, generator=generator)))
    return outcomes
