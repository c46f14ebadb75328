"""Streamlit helpers shared by the pages (the only dashboard module importing streamlit).

Session state contract (keys are set here only; values are small):
- "user": {"id": int, "username": str} while signed in.
- "per_row": cards per dashboard row (1-3).
- "proposals": {widget_id: {"sql", "explanation", "error"}} self-heal offers to decide.
- "draft": the new-widget page's current `service.Preview` (one per session).
Text from a model, a prompt, a table comment or a result is data: it is shown with
`st.text`/`st.code`, or through `escape_markdown`, never as HTML or live Markdown.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace
from datetime import datetime
from typing import Any

import streamlit as st

from dashboard import auth, charts, store
from dashboard.config import Settings, get_settings
from dashboard.db import Database, open_database
from dashboard.errors import DashboardError, InvalidChartSpec, NotFound
from dashboard.store import User, Widget
from dashboard.text import inert

USER_KEY = "user"
log = logging.getLogger("dashboard.pages")


@st.cache_resource(show_spinner="Starting the database…")
def database() -> Database:
    """One Database (owner and reader pools) per process, shared by every session."""
    return open_database(get_settings())


@st.cache_resource
def configure_logging() -> None:
    """PROMPTBOARD_DEBUG=1 logs page and card runs to stderr (diagnosing reruns)."""
    if os.environ.get("PROMPTBOARD_DEBUG"):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger("dashboard").addHandler(handler)
        logging.getLogger("dashboard").setLevel(logging.DEBUG)


def settings() -> Settings:
    return get_settings()


def current_user() -> User | None:
    raw = st.session_state.get(USER_KEY)
    return User(**raw) if raw else None


def require_user() -> User:
    """The signed-in user; pages are only routed to after sign-in, so this always holds."""
    user = current_user()
    if user is None:
        st.stop()
    return user  # type: ignore[return-value]


def username_user(username: str) -> User:
    return store.get_or_create_user(database(), username)


def check_oidc_secrets() -> None:
    """ConfigError unless st.secrets has a usable [auth] section."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all
        section = None
    auth.check_oidc_config(section.to_dict() if hasattr(section, "to_dict") else section)


def identity_user() -> User:
    """The users row for the OIDC identity signed in through st.login()."""
    return store.get_or_create_identity(
        database(), auth.identity_from_user_info(st.user.to_dict()))


def exposed_without_authentication() -> bool:
    return auth.listens_beyond_loopback(st.get_option("server.address"))


def sign_in(user: User) -> None:
    st.session_state[USER_KEY] = {"id": user.id, "username": user.username}


def sign_out() -> None:
    st.session_state.clear()


def widget_id(raw: object) -> int:
    """A widget id from a URL or form; anything else is simply "not found"."""
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 18:
        raise NotFound("That widget was not found on your dashboard.")
    return int(text)


def escape_markdown(text: Any, *, max_chars: int = 300) -> str:
    """Untrusted text made inert in Markdown (no link, e-mail, image, HTML, LaTeX, icon,
    emoji or colour renders): `dashboard.text.inert`."""
    return inert(text, max_chars=max_chars)


def show_error(error: DashboardError) -> None:
    """User-facing errors as inert text."""
    st.error(escape_markdown(error.message, max_chars=2000), icon=":material/error:")


def provenance(widget: Widget, spec: charts.ChartSpec | None) -> str:
    """One line: rows, query time, refreshed at, generator/model, truncated."""
    parts: list[str] = []
    if spec is not None and spec.row_count is not None:
        parts.append(f"{spec.row_count:,} row{'s' if spec.row_count != 1 else ''}")
    generation = widget.generation or {}
    query_ms = (generation.get("timings_ms") or {}).get("execute")
    if isinstance(query_ms, (int, float)):
        parts.append(f"query {query_ms:,.0f} ms")
    refreshed = spec.refreshed_at if spec is not None else None
    if refreshed:
        parts.append(f"refreshed {_short_time(refreshed)}")
    if generation.get("generator"):
        model = generation.get("model")
        parts.append(str(generation["generator"]) + (f" · {model}" if model else ""))
    if spec is not None and spec.truncated:
        parts.append("truncated")
    if not widget.sql_query:
        parts.append("static")
    return " · ".join(parts)


def _short_time(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def draw_spec(spec: charts.ChartSpec, *, key: str) -> None:
    """Draw a validated spec: number card, table or Plotly figure. The caller shows the
    title above (cards and drafts), so the figure itself carries none."""
    spec = replace(spec, title="")
    if spec.chart == "table":
        st.dataframe(charts.table_frame(spec), width="stretch", hide_index=True)
    elif spec.chart == "number":
        card = charts.number_card(spec)
        # Metric labels render Markdown (images included): escape the column alias.
        st.metric(escape_markdown(card.label), escape_markdown(card.text))
        if card.caption:
            st.caption(escape_markdown(card.caption))
    else:
        st.plotly_chart(charts.build_figure(spec), width="stretch", key=key,
                        config={"displaylogo": False})
    note = getattr(spec, "note", None)
    if note:
        st.caption(escape_markdown(note))


def draw_widget(widget: Widget) -> charts.ChartSpec | None:
    """Draw a stored widget from its snapshot; bad content becomes an error card."""
    try:
        spec = charts.parse_content(widget.content)
    except InvalidChartSpec as exc:
        show_error(exc)
        return None
    try:
        draw_spec(spec, key=f"chart-{widget.id}")
    except InvalidChartSpec as exc:
        show_error(exc)
    return spec
