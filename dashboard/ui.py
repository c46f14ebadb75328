"""Small Streamlit helpers shared by the pages (the only dashboard module importing streamlit).

Session state contract: `st.session_state["user"]` holds `{"id": int, "username": str}`
while signed in; nothing else user-specific is cached outside functions keyed by user.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts
from dashboard.config import Settings, get_settings
from dashboard.db import Database, open_database
from dashboard.errors import DashboardError, InvalidChartSpec
from dashboard.store import User, Widget

USER_KEY = "user"


@st.cache_resource(show_spinner="Starting the database…")
def database() -> Database:
    """One Database (owner and reader pools) per process, shared by every session."""
    return open_database(get_settings())


def settings() -> Settings:
    return get_settings()


def current_user() -> User | None:
    raw = st.session_state.get(USER_KEY)
    return User(**raw) if raw else None


def sign_in(user: User) -> None:
    st.session_state[USER_KEY] = {"id": user.id, "username": user.username}


def sign_out() -> None:
    st.session_state.clear()


def show_error(error: DashboardError) -> None:
    """User-facing errors as plain text: never Markdown, never HTML."""
    st.error(error.message, icon="⚠️")


def draw_widget(widget: Widget) -> None:
    """Draw a stored widget from its snapshot; bad content becomes an error card."""
    try:
        spec = charts.parse_content(widget.content)
    except InvalidChartSpec as exc:
        show_error(exc)
        return
    if spec.chart == "table":
        st.dataframe(
            {name: spec.column_values(name) for name in spec.columns}, width="stretch"
        )
    elif spec.chart == "number":
        value = spec.data[0][spec.columns.index(spec.y[0])] if spec.data and spec.y else None
        st.metric(spec.y[0] if spec.y else "value", "—" if value is None else f"{value:,}")
    else:
        st.plotly_chart(charts.build_figure(spec), width="stretch",
                        key=f"chart-{widget.id}")
