"""The store: usernames, widget CRUD, and strict per-user scoping."""

from __future__ import annotations

import threading
import uuid

import pytest

from dashboard import store
from dashboard.db import Database
from dashboard.errors import InvalidInput, NotFound


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(("raw", "expected"), [
    ("testuser", "testuser"),
    ("  alice.b_c-1  ", "alice.b_c-1"),
    ("A" * 64, "A" * 64),
])
def test_normalize_username_accepts(raw: str, expected: str) -> None:
    assert store.normalize_username(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "   ", "a" * 65, "with space", "semi;colon", "quote'", "emoji🙂", "tab\tname",
    "nul\x00byte", "new\nline", "<script>", "x@y.com", "ünïcode",
])
def test_normalize_username_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput):
        store.normalize_username(raw)


def test_get_or_create_user_is_idempotent(db: Database) -> None:
    name = _name("alice")
    first = store.get_or_create_user(db, name)
    again = store.get_or_create_user(db, f"  {name} ")
    assert first == again and first.username == name


def test_concurrent_sign_ins_create_one_user(db: Database) -> None:
    name = _name("race")
    users: list[store.User] = []
    threads = [threading.Thread(target=lambda: users.append(store.get_or_create_user(db, name)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(users) == 8 and len({u.id for u in users}) == 1


def test_widget_crud_and_order(db: Database) -> None:
    user = store.get_or_create_user(db, _name("crud"))
    assert store.list_widgets(db, user) == []
    a = store.create_widget(db, user, prompt="first", sql_query="SELECT 1", content="{}")
    b = store.create_widget(db, user, prompt="second", sql_query=None, content=None,
                            title="Second", generation={"generator": "offline"})
    assert [w.id for w in store.list_widgets(db, user)] == [a.id, b.id]
    assert (a.position, b.position) == (1, 2)
    assert b.generation == {"generator": "offline"}
    updated = store.update_widget(db, user, a.id, title="Renamed", content='{"x": 1}')
    assert updated.title == "Renamed" and updated.content == '{"x": 1}'
    assert updated.updated_at >= a.updated_at
    moved = store.move_widget(db, user, b.id, -1)
    assert [w.id for w in moved] == [b.id, a.id]
    store.delete_widget(db, user, a.id)
    assert [w.id for w in store.list_widgets(db, user)] == [b.id]
    with pytest.raises(NotFound):
        store.get_widget(db, user, a.id)


def test_update_rejects_unknown_columns(db: Database) -> None:
    user = store.get_or_create_user(db, _name("cols"))
    widget = store.create_widget(db, user, prompt="p", sql_query=None, content=None)
    with pytest.raises(ValueError, match="user_id"):
        store.update_widget(db, user, widget.id, user_id=1)


@pytest.mark.parametrize("bad", [{"prompt": ""}, {"prompt": "x" * 4001},
                                 {"title": "t" * 201}, {"prompt": "a\x00b"}])
def test_bad_text_is_refused_and_nothing_stored(db: Database, bad: dict[str, str]) -> None:
    user = store.get_or_create_user(db, _name("text"))
    fields = {"prompt": "ok", "sql_query": None, "content": None, **bad}
    with pytest.raises(InvalidInput):
        store.create_widget(db, user, **fields)
    assert store.list_widgets(db, user) == []


def test_no_function_reaches_another_users_widget(db: Database) -> None:
    owner = store.get_or_create_user(db, _name("owner"))
    intruder = store.get_or_create_user(db, _name("intruder"))
    widget = store.create_widget(db, owner, prompt="secret revenue", sql_query="SELECT 1",
                                 content='{"chart": "line", "data": [1]}', title="Mine")
    attempts = [
        lambda: store.get_widget(db, intruder, widget.id),
        lambda: store.update_widget(db, intruder, widget.id, title="pwned"),
        lambda: store.update_widget(db, intruder, widget.id, sql_query="SELECT 2"),
        lambda: store.delete_widget(db, intruder, widget.id),
        lambda: store.move_widget(db, intruder, widget.id, 1),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
    assert widget.id not in [w.id for w in store.list_widgets(db, intruder)]
    unchanged = store.get_widget(db, owner, widget.id)
    assert (unchanged.title, unchanged.sql_query, unchanged.prompt) == (
        "Mine", "SELECT 1", "secret revenue")


@pytest.mark.parametrize("widget_id", [0, -1, 2**31 - 1, 2**40])
def test_missing_ids_are_not_found(db: Database, widget_id: int) -> None:
    user = store.get_or_create_user(db, _name("missing"))
    with pytest.raises(NotFound):
        store.get_widget(db, user, widget_id)
    with pytest.raises(NotFound):
        store.delete_widget(db, user, widget_id)
