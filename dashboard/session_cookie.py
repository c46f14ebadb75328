"""Username-mode sign-in that survives a reload: a signed cookie (no Streamlit here).

The cookie says "user id N, username U, valid until T" and carries an HMAC-SHA256 of that
text under a server-side key (`app_secrets`, never sent to a browser). A forged or altered
cookie fails the check; a copied one works until it expires, like any bearer token.
Username mode is still not authentication: anyone can sign in as anyone by typing a name.
"""

from __future__ import annotations

import hashlib
import hmac
import time

COOKIE_NAME = "promptboard_session"
SECRET_NAME = "session_cookie_key"
MAX_AGE_S = 7 * 24 * 3600
_VERSION = "v1"


def _mac(key: str, payload: str) -> str:
    return hmac.new(key.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(key: str, user_id: int, username: str, *, now: float | None = None,
         max_age_s: int = MAX_AGE_S) -> str:
    """The cookie value for a signed-in user (usernames hold no ':', see store)."""
    expires = int((time.time() if now is None else now) + max_age_s)
    payload = f"{_VERSION}:{int(user_id)}:{expires}:{username}"
    return f"{payload}:{_mac(key, payload)}"


def verify(key: str, value: str | None, *, now: float | None = None) -> tuple[int, str] | None:
    """(user id, username) for a valid, unexpired cookie; None for anything else."""
    if not value or len(value) > 512:
        return None
    payload, _, mac = value.rpartition(":")
    parts = payload.split(":", 3)
    if len(parts) != 4 or parts[0] != _VERSION:
        return None
    if not hmac.compare_digest(_mac(key, payload), mac):
        return None
    _, user_id, expires, username = parts
    if not (user_id.isdigit() and expires.isdigit() and username):
        return None
    if int(expires) < (time.time() if now is None else now):
        return None
    return int(user_id), username
