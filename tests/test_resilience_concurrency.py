"""Concurrent users on one database: one user per name, widget edits that never mix.

Edits of one widget are applied one after another under a row lock, each built on the
row as the previous one left it: the last write wins, and a row is always one complete,
consistent version (title, chart, query and snapshot agree). A refresh whose query was
replaced while it ran does not overwrite the newer snapshot.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from dashboard import charts, service, store
from dashboard.db import Database
from dashboard.errors import DashboardError
from dashboard.generators.base import Draft

BY_REGION = ("SELECT o.region, count(*) AS orders FROM demo.orders o "
             "GROUP BY o.region ORDER BY o.region")
BY_CHANNEL = ("SELECT o.channel, count(*) AS orders FROM demo.orders o "
              "GROUP BY o.channel ORDER BY o.channel")
FIRST_COLUMN = {BY_REGION: "region", BY_CHANNEL: "channel"}


@dataclass
class Fixed:
    """A generator that always answers with one query."""

    sql: str
    name: str = "fixed"
    model: str | None = None

    def generate(self, question: str, context: Any, *, feedback: str | None = None,
                 previous: Draft | None = None) -> Draft:
        return Draft(sql=self.sql, title="Orders")


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at the same moment (a barrier) and collect results or errors."""
    barrier = threading.Barrier(len(calls))

    def go(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        try:
            return call()
        except DashboardError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(go, calls, timeout=120))


def test_concurrent_sign_ins_create_exactly_one_user(db: Database) -> None:
    name = f"same-{uuid.uuid4().hex[:10]}"
    users = run_together([lambda: store.get_or_create_user(db, name) for _ in range(16)])
    assert all(isinstance(u, store.User) for u in users), users
    assert len({u.id for u in users}) == 1
    with db.connection() as conn:
        count = conn.execute("SELECT count(*) FROM users WHERE username = %s",
                             [name]).fetchone()[0]
    assert count == 1


def test_concurrent_creates_on_one_dashboard_all_land(db: Database) -> None:
    user = store.get_or_create_user(db, f"many-{uuid.uuid4().hex[:8]}")
    draft = service.preview(db, user, "orders by region", generator=Fixed(BY_REGION))
    made = run_together([lambda: service.create(db, user, draft) for _ in range(12)])
    assert all(isinstance(w, store.Widget) for w in made), made
    widgets = service.list_widgets(db, user)
    assert {w.id for w in widgets} == {w.id for w in made}
    for widget in widgets:
        assert charts.parse_content(widget.content) == charts.parse_content(made[0].content)


def consistent(widget: store.Widget) -> charts.ChartSpec:
    """Assert one widget row is a single coherent version; return its spec."""
    spec = charts.parse_content(widget.content)
    assert widget.sql_query in FIRST_COLUMN, widget.sql_query
    assert spec.columns[0] == FIRST_COLUMN[widget.sql_query], (widget.sql_query, spec.columns)
    assert spec.title == widget.title, (spec.title, widget.title)
    return spec


@pytest.mark.slow
def test_concurrent_edits_of_one_widget_never_interleave(db: Database) -> None:
    user = store.get_or_create_user(db, f"edits-{uuid.uuid4().hex[:8]}")
    widget = service.create(db, user, service.preview(db, user, "orders by region",
                                                      generator=Fixed(BY_REGION)))
    wid = widget.id
    for round_ in range(6):
        titles = [f"Title {round_}-{i}" for i in range(3)]
        charts_ = ["pie", "table", "bar"]
        queries = [BY_CHANNEL, BY_REGION] if round_ % 2 else [BY_REGION, BY_CHANNEL]
        calls: list[Callable[[], Any]] = [
            *(lambda t=t: service.rename(db, user, wid, t) for t in titles),
            *(lambda c=c: service.set_chart(db, user, wid, c) for c in charts_),
            *(lambda q=q: service.edit_sql(db, user, wid, q) for q in queries),
            lambda: service.refresh(db, user, wid),
            lambda: service.refresh(db, user, wid),
        ]
        outcomes = run_together(calls)
        errors = [o for o in outcomes if isinstance(o, (DashboardError, Exception))]
        assert not errors, errors
        row = service.get_widget(db, user, wid)
        spec = consistent(row)
        assert row.title in titles  # the last rename won, whole
        assert spec.chart in {"pie", "table", "bar"}
    # The dashboard still has exactly that one widget.
    assert [w.id for w in service.list_widgets(db, user)] == [wid]
