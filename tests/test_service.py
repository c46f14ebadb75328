"""The widget lifecycle in dashboard.service, on real PostgreSQL.

Generation here is deterministic: the offline planner, or `Scripted` (a tiny test
generator that returns given drafts) where a test needs exact SQL or exact failures.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from dashboard import charts, service, store
from dashboard.catalog import get_catalog
from dashboard.db import Database
from dashboard.errors import (
    DashboardError,
    GenerationFailed,
    InvalidInput,
    NotFound,
    QueryFailed,
    UnsafeQuery,
)
from dashboard.generators.base import Draft
from dashboard.store import User

BY_REGION = ("SELECT o.region, count(*) AS orders FROM demo.orders o "
             "GROUP BY o.region ORDER BY o.region")
BY_CHANNEL = ("SELECT o.channel, count(*) AS orders FROM demo.orders o "
              "GROUP BY o.channel ORDER BY o.channel")


@dataclass
class Scripted:
    """Returns the given answers in turn (the last one repeats) and records each call."""

    answers: list[Draft | Exception]
    name: str = "scripted"
    model: str | None = "script-1"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def generate(self, question: str, context: Any, *, feedback: str | None = None,
                 previous: Draft | None = None) -> Draft:
        self.calls.append({"question": question, "feedback": feedback, "previous": previous,
                           "context": context})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def scripted(*answers: str | Draft | Exception) -> Scripted:
    return Scripted([Draft(sql=a, prompt_tokens=10, completion_tokens=5)
                     if isinstance(a, str) else a for a in answers])


def new_user(db: Database, prefix: str = "svc") -> User:
    return store.get_or_create_user(db, f"{prefix}-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def user(db: Database) -> User:
    return new_user(db)


def widget_count(db: Database) -> int:
    with db.connection() as conn:
        return conn.execute("SELECT count(*) FROM widgets").fetchone()[0]


def owner_execute(db: Database, statement: str) -> None:
    with db.connection() as conn:
        conn.execute(statement)


# ----------------------------------------------------------------------------- preview


def test_preview_runs_guarded_sql_and_records_generation(db: Database, user: User) -> None:
    generator = scripted(Draft(sql=BY_REGION, chart="bar", title="Orders per region",
                               explanation="Counts orders.", prompt_tokens=100,
                               completion_tokens=20))
    before = widget_count(db)
    draft = service.preview(db, user, "  orders   by region ", generator=generator)
    assert widget_count(db) == before  # a preview saves nothing
    assert draft.prompt == "orders by region"
    assert draft.title == "Orders per region" and draft.explanation == "Counts orders."
    assert draft.result.row_count == 4
    assert draft.spec.chart == "bar" and len(draft.spec.data) == 4
    assert sum(row[1] for row in draft.spec.data) == 100_000
    gen = draft.generation
    assert (gen["generator"], gen["model"], gen["attempts"]) == ("scripted", "script-1", 1)
    assert (gen["prompt_tokens"], gen["completion_tokens"]) == (100, 20)
    assert set(gen["timings_ms"]) >= {"context", "generate", "guard", "execute", "chart"}
    assert gen["latency_ms"] >= 0 and draft.note is None
    # The generator saw the schema context chosen for this question.
    assert "demo.orders" in {t.qualified_name for t in generator.calls[0]["context"].tables}


def test_explicit_chart_argument_wins(db: Database, user: User) -> None:
    draft = service.preview(db, user, "orders by region", chart="table",
                            generator=scripted(Draft(sql=BY_REGION, chart="pie")))
    assert draft.spec.chart == "table"
    with pytest.raises(InvalidInput):
        service.preview(db, user, "orders by region", chart="hologram",
                        generator=scripted(BY_REGION))


@pytest.mark.parametrize("prompt", ["", "   ", "x" * (store.MAX_PROMPT_CHARS + 1)])
def test_bad_prompts_are_refused_before_generation(db: Database, user: User,
                                                   prompt: str) -> None:
    generator = scripted(BY_REGION)
    with pytest.raises(InvalidInput):
        service.preview(db, user, prompt, generator=generator)
    assert generator.calls == []


def test_guard_rejection_is_fed_back_and_corrected(db: Database, user: User) -> None:
    generator = scripted("DROP TABLE demo.orders", BY_REGION)
    draft = service.preview(db, user, "orders by region", generator=generator)
    assert draft.sql and draft.result.row_count == 4
    assert draft.generation["attempts"] == 2
    assert draft.generation["prompt_tokens"] == 20  # both attempts are counted
    feedback = generator.calls[1]["feedback"]
    assert "DROP TABLE demo.orders" in feedback and "guard" in feedback
    assert draft.note and "corrected" in draft.note
    with db.reader_connection() as conn:
        assert conn.execute("SELECT count(*) FROM demo.orders").fetchone()[0] == 100_000


def test_database_error_is_fed_back_and_corrected(db: Database, user: User) -> None:
    generator = scripted("SELECT o.regoin, count(*) FROM demo.orders o GROUP BY 1", BY_REGION)
    draft = service.preview(db, user, "orders by region", generator=generator)
    assert draft.result.row_count == 4
    assert "regoin" in generator.calls[1]["feedback"]
    assert "PostgreSQL" in generator.calls[1]["feedback"]


def test_gives_up_after_two_retries_with_the_last_error(db: Database, user: User) -> None:
    generator = scripted("DELETE FROM demo.orders", "SELECT 1; SELECT 2",
                         "SELECT * FROM users")
    with pytest.raises(GenerationFailed) as caught:
        service.preview(db, user, "orders by region", generator=generator)
    assert len(generator.calls) == 3
    assert "3 attempts" in caught.value.message
    assert "users" in caught.value.message  # the last error is the one shown


def test_refused_sql_never_reaches_postgresql(db: Database, user: User) -> None:
    generator = scripted("SELECT 1; CREATE TABLE demo.pwned (x int)",
                         "WITH x AS (INSERT INTO demo.customers (id) VALUES (-1) RETURNING id) "
                         "SELECT * FROM x",
                         "SELECT set_config('default_transaction_read_only', 'off', false)")
    with pytest.raises(GenerationFailed):
        service.preview(db, user, "anything", generator=generator)
    with db.reader_connection() as conn:
        assert conn.execute("SELECT to_regclass('demo.pwned')").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM demo.customers WHERE id = -1"
                            ).fetchone()[0] == 0


def test_a_non_retryable_generator_error_stops_at_once(db: Database, user: User) -> None:
    generator = scripted(GenerationFailed("I could not find a column for 'margin'."))
    with pytest.raises(GenerationFailed, match="margin"):
        service.preview(db, user, "margin by region", generator=generator)
    assert len(generator.calls) == 1


def test_a_crashing_generator_becomes_a_clear_error(db: Database, user: User) -> None:
    with pytest.raises(GenerationFailed) as caught:
        service.preview(db, user, "q", generator=scripted(ZeroDivisionError("boom")))
    assert "ZeroDivisionError" in caught.value.message and "boom" not in caught.value.message


def test_refinement_passes_the_previous_draft(db: Database, user: User) -> None:
    first = service.preview(db, user, "orders by region", generator=scripted(BY_REGION))
    generator = scripted(BY_CHANNEL)
    second = service.preview(db, user, "now by channel", previous=first, generator=generator)
    assert generator.calls[0]["previous"].sql == BY_REGION
    assert generator.calls[0]["question"] == "now by channel"
    assert second.prompt == "orders by region; now by channel"
    assert second.generation["refined_from"] == "orders by region"
    assert second.result.row_count == 3


def test_a_requested_chart_survives_refinements_until_changed(db: Database,
                                                             user: User) -> None:
    first = service.preview(db, user, "orders by region as a table",
                            generator=scripted(BY_REGION))
    assert first.spec.chart == "table"
    second = service.preview(db, user, "now by channel", previous=first,
                             generator=scripted(BY_CHANNEL))
    assert second.spec.chart == "table"
    third = service.preview(db, user, "as a pie chart", previous=second,
                            generator=scripted(BY_CHANNEL))
    assert third.spec.chart == "pie"
    assert third.prompt == "orders by region as a table; now by channel; as a pie chart"


# ----------------------------------------------------------------------------- create


def test_create_saves_everything_in_one_row(db: Database, user: User) -> None:
    widget = service.create(db, user, service.preview(
        db, user, "orders by region", generator=scripted(Draft(sql=BY_REGION, title="T"))))
    assert widget.user_id == user.id and widget.title == "T"
    assert widget.prompt == "orders by region" and "demo.orders" in widget.sql_query
    spec = charts.parse_content(widget.content)
    assert spec.row_count == 4 and spec.refreshed_at
    assert widget.generation["generator"] == "scripted" and widget.generation["saved_at"]
    assert [w.id for w in service.list_widgets(db, user)] == [widget.id]


def test_a_crash_between_generation_and_saving_leaves_no_widget(
        db: Database, user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    draft = service.preview(db, user, "orders by region", generator=scripted(BY_REGION))

    def crash(spec: charts.ChartSpec) -> str:
        raise RuntimeError("process killed")

    monkeypatch.setattr(service, "_content", crash)
    with pytest.raises(RuntimeError):
        service.create(db, user, draft)
    monkeypatch.undo()
    assert service.list_widgets(db, user) == []
    # A failure inside the INSERT itself (a value the driver cannot send) rolls back too.
    broken = service.Preview(**{**draft.__dict__, "generation": {"bad": object()}})
    with pytest.raises(Exception):  # noqa: B017 - any driver error; the point is no row
        service.create(db, user, broken)
    assert service.list_widgets(db, user) == []
    assert service.create(db, user, draft).id  # and the same draft still saves


def test_create_from_a_prompt_uses_the_offline_planner(db: Database, user: User) -> None:
    assert db.settings.generator_in_use == "offline"
    widget = service.create(db, user, "How many orders per region?")
    spec = charts.parse_content(widget.content)
    assert widget.generation["generator"] == "offline" and widget.generation["attempts"] == 1
    assert spec.chart == "bar" and spec.row_count == 4
    assert sum(spec.column_values(spec.y[0])) == 100_000
    assert [w.id for w in service.list_widgets(db, user)] == [widget.id]


# ----------------------------------------------------------------------------- refresh/edit


def test_refresh_after_the_data_changes(fresh_db: Callable[..., Database]) -> None:
    db = fresh_db()
    user = new_user(db)
    widget = service.create(db, user, "revenue by region")  # the offline planner
    before = dict(zip(*[charts.parse_content(widget.content).column_values(c)
                        for c in ("region", "revenue")], strict=True))
    # Cancelled orders do not count as revenue: cancel every European order.
    owner_execute(db, "UPDATE demo.orders SET status = 'cancelled' WHERE region = 'Europe'")
    outcome = service.refresh(db, user, widget.id)
    assert outcome.error is None and outcome.proposal is None
    spec = charts.parse_content(outcome.widget.content)
    after = dict(zip(spec.column_values("region"), spec.column_values("revenue"), strict=True))
    assert "Europe" in before and "Europe" not in after
    assert after == {k: v for k, v in before.items() if k != "Europe"}
    assert outcome.widget.sql_query == widget.sql_query
    assert outcome.widget.generation["refreshed_at"]
    assert outcome.widget.generation["generator"] == "offline"  # provenance is kept


def test_refresh_keeps_the_chart_type_the_owner_chose(db: Database, user: User) -> None:
    widget = service.create(db, user, service.preview(
        db, user, "orders by region", generator=scripted(BY_REGION)))
    service.set_chart(db, user, widget.id, "table")
    refreshed = service.refresh(db, user, widget.id).widget
    assert charts.parse_content(refreshed.content).chart == "table"


def test_edit_to_bad_sql_is_refused_and_the_old_query_kept(db: Database, user: User) -> None:
    widget = service.create(db, user, service.preview(
        db, user, "orders by region", generator=scripted(BY_REGION)))
    for bad, error in [("SELECT nope FROM demo.orders", QueryFailed),
                       ("DROP TABLE demo.orders", UnsafeQuery),
                       ("SELECT username FROM users", UnsafeQuery),
                       ("SELECT 1; DELETE FROM demo.orders", UnsafeQuery),
                       ("   ", InvalidInput)]:
        with pytest.raises(error):
            service.edit_sql(db, user, widget.id, bad)
    assert service.get_widget(db, user, widget.id) == widget
    edited = service.edit_sql(db, user, widget.id, BY_CHANNEL)
    assert edited.generation["sql_source"] == "edit"
    assert charts.parse_content(edited.content).column_values("channel") == [
        "mobile", "store", "web"]


def test_self_heal_after_a_column_rename_proposes_a_working_query(
        fresh_db: Callable[..., Database]) -> None:
    db = fresh_db()
    user = new_user(db)
    widget = service.create(db, user, "revenue by region")  # the offline planner
    old = charts.parse_content(widget.content)
    owner_execute(db, "ALTER TABLE demo.orders RENAME COLUMN region TO sales_region")
    outcome = service.refresh(db, user, widget.id)
    assert outcome.error and "region" in outcome.error
    assert outcome.proposal is not None, outcome.note
    # The owner's SQL and snapshot are untouched until the owner accepts.
    assert outcome.widget.sql_query == widget.sql_query
    assert outcome.widget.content == widget.content
    assert outcome.widget.generation["refresh_error"]["message"] == outcome.error
    assert "sales_region" in outcome.proposal.sql
    assert outcome.proposal.generation["generator"] == "offline"
    # The proposal reproduces the old aggregates (same rows, the column renamed).
    assert sorted(map(tuple, outcome.proposal.spec.data)) == sorted(map(tuple, old.data))
    accepted = service.accept_proposal(db, user, widget.id, outcome.proposal.sql)
    assert "sales_region" in accepted.sql_query
    assert accepted.generation["sql_source"] == "proposal"
    assert "refresh_error" not in accepted.generation
    assert service.refresh(db, user, widget.id).error is None


def test_the_proposal_sees_the_error_and_the_new_schema(
        fresh_db: Callable[..., Database]) -> None:
    db = fresh_db()
    user = new_user(db)
    widget = service.create(db, user, service.preview(
        db, user, "orders by region", generator=scripted(BY_REGION)))
    assert get_catalog(db).table("demo.orders").column("region") is not None
    owner_execute(db, "ALTER TABLE demo.orders RENAME COLUMN region TO area")
    generator = scripted(BY_REGION.replace("region", "area"))
    outcome = service.refresh(db, user, widget.id, generator=generator)
    assert outcome.proposal is not None
    assert "no longer works" in generator.calls[0]["feedback"]
    assert BY_REGION in generator.calls[0]["feedback"]
    assert generator.calls[0]["question"] == widget.prompt
    assert get_catalog(db).table("demo.orders").column("area") is not None


def test_no_proposal_when_regeneration_fails(fresh_db: Callable[..., Database]) -> None:
    db = fresh_db()
    user = new_user(db)
    widget = service.create(db, user, service.preview(
        db, user, "orders by region", generator=scripted(BY_REGION)))
    owner_execute(db, "ALTER TABLE demo.orders RENAME COLUMN region TO sales_region")
    outcome = service.refresh(db, user, widget.id, generator=scripted(
        GenerationFailed("I could not find a column for 'region'.")))
    assert outcome.error and outcome.proposal is None
    assert outcome.note and "could not find" in outcome.note


# ----------------------------------------------------------------------------- the rest


def test_set_chart_rename_move_delete(db: Database, user: User) -> None:
    first = service.create(db, user, service.preview(
        db, user, "orders by region", generator=scripted(BY_REGION)))
    second = service.create(db, user, service.preview(
        db, user, "orders by channel", generator=scripted(BY_CHANNEL)))
    assert charts.parse_content(service.set_chart(db, user, first.id, "pie").content).chart \
        == "pie"
    with pytest.raises(InvalidInput):
        service.set_chart(db, user, first.id, "sparkles")
    renamed = service.rename(db, user, first.id, "  Regional   orders ")
    assert renamed.title == "Regional orders"
    assert charts.parse_content(renamed.content).title == "Regional orders"
    with pytest.raises(InvalidInput):
        service.rename(db, user, first.id, "   ")
    assert [w.id for w in service.move(db, user, second.id, -1)] == [second.id, first.id]
    service.delete(db, user, first.id)
    assert [w.id for w in service.list_widgets(db, user)] == [second.id]
    with pytest.raises(NotFound):
        service.get_widget(db, user, first.id)


def test_csv_export_escapes_formula_cells(db: Database, user: User) -> None:
    sql = ("SELECT '=HYPERLINK(\"http://x\")' AS a, '+1' AS b, '-2' AS c, '@SUM(A1)' AS d, "
           "'plain' AS e, -3 AS f, NULL::text AS g")
    widget = service.create(db, user, service.preview(
        db, user, "odd values", chart="table", generator=scripted(sql)))
    text = service.export_csv(db, user, widget.id).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["a", "b", "c", "d", "e", "f", "g"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "plain", "-3",
                       ""]


def test_a_widget_without_sql_is_static(db: Database) -> None:
    # Exactly the seed widget's row (migration 001), on a user of this test's own.
    seed_user = new_user(db, "seed")
    seed = store.create_widget(db, seed_user, prompt="Summarize the provided data.",
                               sql_query=None, content='{"chart": "line", "data": [1, 2, 3]}')
    for action in (lambda: service.refresh(db, seed_user, seed.id),
                   lambda: service.edit_sql(db, seed_user, seed.id, BY_REGION),
                   lambda: service.accept_proposal(db, seed_user, seed.id, BY_REGION)):
        with pytest.raises(DashboardError) as caught:
            action()
        assert caught.value.message == service.STATIC_NOTE
    assert service.export_csv(db, seed_user, seed.id).decode("utf-8-sig").splitlines() == [
        "point,value", "1,1", "2,2", "3,3"]
    assert service.get_widget(db, seed_user, seed.id) == seed


def test_refresh_all_reports_static_widgets(db: Database, user: User) -> None:
    widget = service.create(db, user, service.preview(
        db, user, "orders by region", generator=scripted(BY_REGION)))
    static = store.create_widget(db, user, prompt="legacy", sql_query=None,
                                 content=json.dumps({"chart": "bar", "data": [4, 5]}))
    outcomes = {w.id: o for w, o in service.refresh_all(db, user)}
    assert outcomes[static.id] is None
    assert outcomes[widget.id] is not None and outcomes[widget.id].error is None


def test_another_users_widget_behaves_exactly_like_a_missing_one(db: Database) -> None:
    alice, bob = new_user(db, "alice"), new_user(db, "bob")
    widget = service.create(db, alice, service.preview(
        db, alice, "orders by region", generator=scripted(BY_REGION)))
    missing = widget.id + 1_000_000
    operations: dict[str, Callable[[int], object]] = {
        "get": lambda i: service.get_widget(db, bob, i),
        "refresh": lambda i: service.refresh(db, bob, i, generator=scripted(BY_REGION)),
        "edit_sql": lambda i: service.edit_sql(db, bob, i, BY_CHANNEL),
        "accept_proposal": lambda i: service.accept_proposal(db, bob, i, BY_CHANNEL),
        "set_chart": lambda i: service.set_chart(db, bob, i, "table"),
        "rename": lambda i: service.rename(db, bob, i, "mine now"),
        "move": lambda i: service.move(db, bob, i, 1),
        "export_csv": lambda i: service.export_csv(db, bob, i),
        "delete": lambda i: service.delete(db, bob, i),
    }
    for name, operation in operations.items():
        messages = []
        for widget_id in (widget.id, missing):
            with pytest.raises(NotFound) as caught:
                operation(widget_id)
            messages.append(caught.value.message.replace(str(widget_id), "<id>"))
        assert messages[0] == messages[1], name
    assert service.get_widget(db, alice, widget.id) == widget
    assert service.list_widgets(db, bob) == []
