"""Users and widgets (the seed schema), always scoped by the user.

Every widget function takes the `User` and every statement filters on `user_id`, so no
call can read or change another user's widget whatever id it is given: a foreign id
behaves exactly like a missing one (`NotFound`). Parameterised queries only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from dashboard.db import AppStore
from dashboard.errors import InvalidInput, NotFound

_USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_PROMPT_CHARS = 4000
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class User:
    id: int
    username: str


@dataclass(frozen=True)
class Widget:
    id: int
    user_id: int
    prompt: str
    sql_query: str | None
    content: str | None
    created_at: datetime
    title: str | None
    updated_at: datetime | None
    position: int | None
    generation: dict[str, Any] | None


_WIDGET_COLUMNS = (
    "id, user_id, prompt, sql_query, content, created_at, title, updated_at, position, generation"
)
# Columns a caller may change through update_widget (names are never user input).
_UPDATABLE = frozenset({"prompt", "sql_query", "content", "title", "position", "generation"})


def normalize_username(raw: str) -> str:
    """Trim and validate: 1-64 letters, digits, '.', '_' or '-'."""
    name = unicodedata.normalize("NFC", str(raw)).strip()
    if not name:
        raise InvalidInput("Enter a username.")
    if len(name) > 64:
        raise InvalidInput("A username has at most 64 characters.")
    if not _USERNAME.match(name):
        raise InvalidInput(
            "A username may contain only letters, digits, '.', '_' and '-' (no spaces)."
        )
    return name


def get_or_create_user(db: AppStore, username: str) -> User:
    """The user with this name, created on first sign-in (safe under concurrency)."""
    return _upsert_user(db, normalize_username(username))


def get_or_create_identity(db: AppStore, identity: str) -> User:
    """The user for an already-validated OIDC identity (see auth.normalize_identity)."""
    return _upsert_user(db, identity)


def _upsert_user(db: AppStore, name: str) -> User:
    with db.connection() as conn, conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            "INSERT INTO users (username) VALUES (%s) ON CONFLICT (username) DO NOTHING "
            "RETURNING id, username",
            [name],
        )
        user = cur.fetchone()
        if user is None:
            cur.execute("SELECT id, username FROM users WHERE username = %s", [name])
            user = cur.fetchone()
    assert user is not None
    return user


def list_widgets(db: AppStore, user: User) -> list[Widget]:
    """The user's widgets in dashboard order."""
    with db.connection() as conn, conn.cursor(row_factory=class_row(Widget)) as cur:
        cur.execute(
            f"SELECT {_WIDGET_COLUMNS} FROM widgets WHERE user_id = %s "
            "ORDER BY position NULLS LAST, id",
            [user.id],
        )
        return cur.fetchall()


def _not_found(widget_id: int) -> NotFound:
    """The one answer for a missing widget and for someone else's: they look the same."""
    return NotFound(f"Widget {widget_id} was not found on your dashboard.")


def get_widget(db: AppStore, user: User, widget_id: int) -> Widget:
    with db.connection() as conn, conn.cursor(row_factory=class_row(Widget)) as cur:
        cur.execute(
            f"SELECT {_WIDGET_COLUMNS} FROM widgets WHERE id = %s AND user_id = %s",
            [widget_id, user.id],
        )
        widget = cur.fetchone()
    if widget is None:
        raise _not_found(widget_id)
    return widget


def _check_text(prompt: str | None, title: str | None) -> None:
    if prompt is not None and (not prompt.strip() or len(prompt) > MAX_PROMPT_CHARS):
        raise InvalidInput(f"A prompt must have 1 to {MAX_PROMPT_CHARS} characters.")
    if title is not None and len(title) > MAX_TITLE_CHARS:
        raise InvalidInput(f"A title has at most {MAX_TITLE_CHARS} characters.")
    for text in (prompt, title):
        if text is not None and "\x00" in text:
            raise InvalidInput("Text may not contain NUL characters.")


def _check_unicode(*texts: Any) -> None:
    """Lone surrogates (undecodable bytes smuggled into a str) cannot be stored as UTF-8."""
    for text in texts:
        if isinstance(text, str) and _SURROGATE.search(text):
            raise InvalidInput("Text must be valid Unicode: it holds a broken character "
                               "(invalid UTF-8).")


def create_widget(
    db: AppStore,
    user: User,
    *,
    prompt: str,
    sql_query: str | None,
    content: str | None,
    title: str | None = None,
    generation: dict[str, Any] | None = None,
) -> Widget:
    """Insert one widget at the end of the user's dashboard, in one statement."""
    _check_text(prompt, title)
    _check_unicode(prompt, title, sql_query, content)
    with db.connection() as conn, conn.cursor(row_factory=class_row(Widget)) as cur:
        cur.execute(
            f"""INSERT INTO widgets (user_id, prompt, sql_query, content, title, generation,
                                     position)
                VALUES (%s, %s, %s, %s, %s, %s,
                        (SELECT coalesce(max(position), 0) + 1 FROM widgets WHERE user_id = %s))
                RETURNING {_WIDGET_COLUMNS}""",
            [user.id, prompt, sql_query, content, title,
             Jsonb(_json_safe(generation)) if generation is not None else None, user.id],
        )
        widget = cur.fetchone()
    assert widget is not None
    return widget


def _prepared(changes: dict[str, Any]) -> tuple[str, list[Any]]:
    """Validated SET clause and values for an UPDATE of these columns."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    _check_text(changes.get("prompt"), changes.get("title"))
    _check_unicode(*changes.values())
    values = [Jsonb(_json_safe(value)) if name == "generation" and value is not None else value
              for name, value in changes.items()]
    return ", ".join(f"{name} = %s" for name in changes), values


def _json_safe(value: Any) -> Any:
    """JSONB refuses NUL and unpaired surrogates: drop NULs, replace broken characters."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {_json_safe(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def update_widget(db: AppStore, user: User, widget_id: int, **changes: Any) -> Widget:
    """Change some columns of one of the user's widgets; NotFound for anyone else's."""
    if not changes:
        return get_widget(db, user, widget_id)
    assignments, values = _prepared(changes)
    with db.connection() as conn, conn.cursor(row_factory=class_row(Widget)) as cur:
        cur.execute(
            f"UPDATE widgets SET {assignments}, updated_at = NOW() "
            f"WHERE id = %s AND user_id = %s RETURNING {_WIDGET_COLUMNS}",
            [*values, widget_id, user.id],
        )
        widget = cur.fetchone()
    if widget is None:
        raise _not_found(widget_id)
    return widget


def modify_widget(db: AppStore, user: User, widget_id: int,
                  change: Callable[[Widget], dict[str, Any] | None]) -> Widget:
    """Read-modify-write one widget under a row lock (`SELECT ... FOR UPDATE`).

    Concurrent edits of one widget run one after another, each computed from the row as
    the previous one left it: the last write wins and a row is always one complete,
    consistent version. `change(current)` returns the columns to set (None or {}: keep
    the row as it is); it runs while the lock is held, so it must be quick and must not
    use the database.
    """
    with db.connection() as conn, conn.cursor(row_factory=class_row(Widget)) as cur:
        cur.execute(
            f"SELECT {_WIDGET_COLUMNS} FROM widgets WHERE id = %s AND user_id = %s FOR UPDATE",
            [widget_id, user.id],
        )
        current = cur.fetchone()
        if current is None:
            raise _not_found(widget_id)
        changes = change(current)
        if not changes:
            return current
        assignments, values = _prepared(changes)
        cur.execute(
            f"UPDATE widgets SET {assignments}, updated_at = NOW() "
            f"WHERE id = %s AND user_id = %s RETURNING {_WIDGET_COLUMNS}",
            [*values, widget_id, user.id],
        )
        widget = cur.fetchone()
    assert widget is not None
    return widget


def delete_widget(db: AppStore, user: User, widget_id: int) -> None:
    with db.connection() as conn:
        deleted = conn.execute(
            "DELETE FROM widgets WHERE id = %s AND user_id = %s", [widget_id, user.id]
        ).rowcount
    if not deleted:
        raise _not_found(widget_id)


def move_widget(db: AppStore, user: User, widget_id: int, offset: int) -> list[Widget]:
    """Move a widget `offset` places (negative: earlier); renumber positions 1..n."""
    widgets = list_widgets(db, user)
    ids = [w.id for w in widgets]
    if widget_id not in ids:
        raise _not_found(widget_id)
    index = ids.index(widget_id)
    ids.insert(max(0, min(len(ids) - 1, index + offset)), ids.pop(index))
    with db.connection() as conn, conn.transaction():
        for position, wid in enumerate(ids, start=1):
            conn.execute(
                "UPDATE widgets SET position = %s WHERE id = %s AND user_id = %s",
                [position, wid, user.id],
            )
    return list_widgets(db, user)


def app_secret(db: AppStore, name: str) -> str:
    """A server-side secret kept in `app_secrets` (owner-only), created once: 32 random
    bytes, hex. Every app process sharing the database signs with the same key."""
    import secrets

    with db.connection() as conn:
        conn.execute(
            "INSERT INTO app_secrets (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
            [name, secrets.token_hex(32)])
        row = conn.execute("SELECT value FROM app_secrets WHERE name = %s", [name]).fetchone()
    assert row is not None
    return str(row[0])
