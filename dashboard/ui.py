"""Streamlit helpers shared by the pages (the only dashboard module importing streamlit).

Session state contract (keys are set here only; values are small):
- "user": {"id": int, "username": str} while signed in.
- "signed_out": True after signing out (the session's cookie is not used again).
- "cookie": the session cookie value still to write to the browser (username mode).
- "per_row": cards per dashboard row (1-3).
- "proposals": {widget_id: {"sql", "explanation", "error"}} self-heal offers to decide.
- "draft": the new-widget page's one `DraftState`, replaced whole by each ask, refine,
  hand edit or chart change; its widgets' keys start with "draft-<id>-" and are dropped
  with it. It keeps the capped snapshot a widget would store, never the full result.
- "draft-action": an action queued by a draft button's callback, run once at the top of
  the next page run (so the page draws each draft once, with no rerun loop).
- "page": the page file shown last (arriving at New widget from elsewhere, or through
  the sidebar's "New widget" entry, `new_widget_entry`, starts clean).
- "open-<widget id>": True while a dashboard card's controls ("More") are shown.
Text from a model, a prompt, a table comment or a result is data: it is shown with
`st.text`/`st.code`, or through `escape_markdown`, never as HTML or live Markdown.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import streamlit as st

from dashboard import auth, charts, service, session_cookie, store
from dashboard.config import Settings, get_settings
from dashboard.db import AppStore, Database, complete, open_store
from dashboard.errors import DashboardError, InvalidChartSpec, NotFound
from dashboard.store import User, Widget
from dashboard.text import inert

USER_KEY = "user"
log = logging.getLogger("dashboard.pages")


_start_lock = threading.Lock()


@dataclass
class _Start:
    """One process's start of the database, in two steps: `store` resolves once the
    server is up and migrated (sign-in, stored widgets); `database` once the demo data,
    the read-only role and the reader pool are there too (questions, refreshes, Data)."""

    store: Future[AppStore]
    database: Future[Database]

    def failed(self) -> bool:
        return any(f.done() and f.exception() is not None for f in (self.store, self.database))


_starts: dict[Settings, _Start] = {}
# What the wait messages say while each step runs.
_STORE_WAIT = ("Starting the database…",
               "Starting PostgreSQL (the first start of a new install creates it).")
_DATABASE_WAIT = ("Preparing the data…",
                  "Loading the demo data and the read-only role (first start only; later "
                  "starts take a moment).")


def start_database() -> _Start:
    """Start (once per process and configuration) opening the database in the background:
    the embedded server's first start and migrations, then the demo data, the reader role
    and pools, then a warm-up of the catalog. The app calls this as soon as any page runs,
    so the work overlaps the sign-in form; signing in waits for the first step only."""
    current = get_settings()
    with _start_lock:
        start = _starts.get(current)
        if start is None or start.failed():
            reuse = None
            if start is not None and start.store.done() and start.store.exception() is None:
                reuse = start.store.result()  # only the second step failed: retry it
            start = _Start(Future(), Future())
            if reuse is not None:
                start.store.set_result(reuse)
            _starts[current] = start
            threading.Thread(target=_open, args=(current, start), daemon=True,
                             name="promptboard-start").start()
        return start


def _open(current: Settings, start: _Start) -> None:
    if not start.store.done():
        threading.Thread(target=_warm_charts, daemon=True, name="promptboard-warm").start()
        try:
            start.store.set_result(open_store(current))
        except BaseException as exc:  # handed to the waiting page (a DashboardError message)
            start.store.set_exception(exc)
            start.database.set_exception(exc)
            return
    try:
        db = complete(start.store.result())
    except BaseException as exc:
        start.database.set_exception(exc)
        return
    start.database.set_result(db)
    try:  # warm-up only: a failure here shows up, with its message, on first real use
        from dashboard.catalog import get_catalog

        get_catalog(db)  # after the demo data: never an empty catalog
    except Exception:
        log.debug("catalog warm-up failed", exc_info=True)


def _warm_charts() -> None:
    """Build one small figure (Plotly's first one loads its validators), while the server
    starts: the first dashboard draws without that cost."""
    try:
        charts.build_figure(charts.ChartSpec(chart="line", columns=["x", "y"],
                                             data=[[1, 1], [2, 2]], x="x", y=["y"]))
    except Exception:
        log.debug("chart warm-up failed", exc_info=True)


def _wait(future: Future[Any], message: tuple[str, str], progress: bool) -> Any:
    """The future's result; while it is pending the page shows an `st.status` with the
    seconds waited, removed once done (`progress=False`: wait silently, for callbacks)."""
    if future.done() or not progress:
        return future.result()
    label, detail = message
    slot = st.empty()
    started = time.monotonic()
    with slot.container(), st.status(label, expanded=True) as status:
        status.write(detail)
        while True:
            try:
                result = future.result(timeout=0.5)
            except FutureTimeout:
                # Each update also lets Streamlit stop this run if the analyst moves on.
                status.update(label=f"{label} {time.monotonic() - started:.0f} s")
            except DashboardError:
                status.update(label="The database is not available", state="error")
                raise
            else:
                break
    slot.empty()
    return result


def app_store(*, progress: bool = True) -> AppStore:
    """The process's app store (owner pool): users and stored widgets, usable before the
    demo data and the reader exist. Signing in and drawing a dashboard need only this."""
    return _wait(start_database().store, _STORE_WAIT, progress)


def database(*, progress: bool = True) -> Database:
    """The process's Database (owner and reader pools, demo data loaded), shared by every
    session; while it is still being prepared the page shows the progress in an
    `st.status` (`progress=False` in callbacks, which wait without drawing)."""
    start = start_database()
    if not start.store.done():
        app_store(progress=progress)
    return _wait(start.database, _DATABASE_WAIT, progress)


def _forget_database() -> None:
    """Close and drop the process's Database (tests switch DATABASE_URL between cases).
    Closing here, not in the garbage collector, which may run in a pool's own thread."""
    with _start_lock:
        starts = list(_starts.values())
        _starts.clear()
    for start in starts:
        for future in (start.database, start.store):
            if future.done() and future.exception() is None:
                future.result().close()  # the Database closes the store's pool too
                break


database.clear = _forget_database  # type: ignore[attr-defined]


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
    """The signed-in user; in username mode a valid session cookie signs a reloaded
    page back in (OIDC keeps its own session through st.login)."""
    raw = st.session_state.get(USER_KEY)
    if raw:
        return User(**raw)
    return _user_from_cookie()


def _user_from_cookie() -> User | None:
    if st.session_state.get("signed_out") or settings().auth_mode != "username":
        return None
    try:
        value = st.context.cookies.get(session_cookie.COOKIE_NAME)
    except Exception:  # no browser behind this session (AppTest, bare mode)
        return None
    if not isinstance(value, str) or not value:
        return None
    try:
        db = app_store()
        found = session_cookie.verify(store.app_secret(db, session_cookie.SECRET_NAME), value)
        if found is None:
            return None
        user = store.get_or_create_user(db, found[1])
    except DashboardError:
        return None
    if user.id != found[0]:
        return None
    st.session_state[USER_KEY] = {"id": user.id, "username": user.username}
    return user


def require_user() -> User:
    """The signed-in user; pages are only routed to after sign-in, so this always holds."""
    user = current_user()
    if user is None:
        st.stop()
    return user  # type: ignore[return-value]


def username_user(username: str) -> User:
    return store.get_or_create_user(app_store(), username)


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
        app_store(), auth.identity_from_user_info(st.user.to_dict()))


def exposed_without_authentication() -> bool:
    return auth.listens_beyond_loopback(st.get_option("server.address"))


def sign_in(user: User) -> None:
    st.session_state[USER_KEY] = {"id": user.id, "username": user.username}
    st.session_state.pop("signed_out", None)
    if settings().auth_mode == "username":
        key = store.app_secret(app_store(), session_cookie.SECRET_NAME)
        st.session_state["cookie"] = session_cookie.sign(key, user.id, user.username)


def sign_out() -> None:
    st.session_state.clear()
    st.session_state["signed_out"] = True
    st.session_state["cookie"] = ""


def write_cookie() -> None:
    """Write (or, after sign-out, delete) the session cookie in the browser. The value is
    signed server-side; the script only stores it (SameSite=Strict, Secure over HTTPS)."""
    value = st.session_state.pop("cookie", None)
    if value is None:
        return
    age = session_cookie.MAX_AGE_S if value else 0
    script = (
        "<script>(function(){var secure = location.protocol === 'https:' ? '; Secure' : '';"
        f"document.cookie = {json.dumps(session_cookie.COOKIE_NAME)} + '=' + "
        f"{json.dumps(value)} + '; Max-Age={age}; Path=/; SameSite=Strict' + secure;"
        "})();</script>")
    st.html(script, unsafe_allow_javascript=True, width="content")


# Cards of one dashboard row as tall as the tallest: every block between a grid column
# and its card (the fragment's wrappers) grows, and so does the card. Plain child
# selectors under the grid's key (no :has(), which re-evaluates on every DOM change
# while dozens of charts draw).
_COLUMN = '.st-key-card-grid [data-testid="stColumn"] > [data-testid="stVerticalBlock"]'
_WRAP = '> [data-testid="stLayoutWrapper"]'
_BLOCK = '> [data-testid="stVerticalBlock"]'
_CARD_GRID_CSS = f"""<style>
{_COLUMN} {_WRAP}, {_COLUMN} {_WRAP} {_BLOCK} {_WRAP} {{
  flex: 1 1 auto; display: flex; flex-direction: column; }}
{_COLUMN} {_WRAP} {_BLOCK}, {_COLUMN} {_WRAP} {_BLOCK} {_WRAP} {_BLOCK} {{ flex: 1 1 auto; }}
</style>"""
GRID_KEY = "card-grid"


def card_key(widget_id: int) -> str:
    return f"card-{widget_id}"


def card_grid_style() -> None:
    st.html(_CARD_GRID_CSS)


def close_sidebar_on_phone() -> None:
    """After navigating on a narrow screen the sidebar would stay open over the page:
    fold it (a no-op on wider screens, where it sits beside the content)."""
    st.html(
        "<script>(function(){if (window.innerWidth > 640) return;"
        "var bar = document.querySelector('[data-testid=\"stSidebar\"]');"
        "var button = document.querySelector("
        "'[data-testid=\"stSidebarCollapseButton\"] button');"
        "if (bar && button && bar.getAttribute('data-collapsed') === 'false') button.click();"
        "})();</script>", unsafe_allow_javascript=True, width="content")


# ----------------------------------------------------------------------------- drafts

_draft_ids = itertools.count(1)
DRAFT_KEY = "draft"
ACTION_KEY = "draft-action"


@dataclass(frozen=True)
class DraftState:
    """The new-widget page's one draft: a compacted preview, or a question that needs
    clarifying (`clarify`: message and (label, prompt) options). Its id names every
    widget key of the draft, so no widget state can outlive it."""

    id: int
    preview: service.Preview | None = None
    clarify: tuple[str, tuple[tuple[str, str], ...]] | None = None

    def key(self, name: str) -> str:
        return f"draft-{self.id}-{name}"


def current_draft() -> DraftState | None:
    return st.session_state.get(DRAFT_KEY)


def set_draft(preview: service.Preview | None = None, *,
              clarify: tuple[str, tuple[tuple[str, str], ...]] | None = None) -> DraftState:
    """Replace the draft whole (the old one and its widget state are released)."""
    drop_draft()
    state = DraftState(id=next(_draft_ids),
                       preview=service.compact(preview) if preview is not None else None,
                       clarify=clarify)
    st.session_state[DRAFT_KEY] = state
    return state


def drop_draft() -> None:
    """Forget the draft and every widget value keyed by it."""
    old = st.session_state.pop(DRAFT_KEY, None)
    if old is not None:
        prefix = f"draft-{old.id}-"
        for key in [k for k in st.session_state if str(k).startswith(prefix)]:
            del st.session_state[key]


def queue_draft_action(action: str, *args: Any) -> None:
    """Callback helper: remember one action for the top of the next page run."""
    st.session_state[ACTION_KEY] = (action, *args)


# Draft widget callbacks live here, not in the page, and take only the draft's id:
# Streamlit keeps a stale widget's callback and arguments after the widget is gone, and a
# page-level function would keep that run's module globals (and its draft) alive.

def draft_chart_changed(draft_id: int) -> None:
    """Chart-type box: redraw the current draft's snapshot as the chosen type."""
    state = current_draft()
    if state is None or state.id != draft_id or state.preview is None:
        return
    chart = st.session_state.get(state.key("chart-type"))
    if not chart or chart == state.preview.spec.chart:
        return
    try:
        set_draft(service.with_chart(state.preview, chart))
    except DashboardError as exc:
        queue_draft_action("error", exc.message)


def draft_refine_clicked(draft_id: int) -> None:
    state = current_draft()
    if state is None or state.id != draft_id:
        return
    text = str(st.session_state.get(state.key("refine")) or "").strip()
    if text:
        queue_draft_action("refine", text)


def draft_sql_clicked(draft_id: int) -> None:
    state = current_draft()
    if state is None or state.id != draft_id or state.preview is None:
        return
    queue_draft_action("sql", st.session_state.get(state.key("sql"), state.preview.sql))


def take_draft_action() -> tuple[Any, ...] | None:
    return st.session_state.pop(ACTION_KEY, None)


NEW_WIDGET_PAGE = "pages/new_widget.py"
NEW_WIDGET_ENTRY = "new"  # the URL path of the sidebar's "New widget" entry


def new_widget_entry() -> None:
    """The sidebar's "New widget" (a page of its own in st.navigation): forget the draft
    and any queued action, then show the New widget page. Clicking a navigation link to
    the page already shown only reruns it, so the entry is a different page; the New
    widget page itself is hidden from the navigation and highlights this entry."""
    drop_draft()
    st.session_state.pop(ACTION_KEY, None)
    st.session_state["page"] = NEW_WIDGET_ENTRY  # the page sees a move (see page_view)
    st.switch_page(NEW_WIDGET_PAGE)


def mark_new_widget_entry() -> None:
    """Highlight the sidebar's "New widget" entry while the (hidden) page is shown, as
    the navigation does for the current page."""
    st.html(f"""<style>
[data-testid="stSidebarNav"] a[href$="/{NEW_WIDGET_ENTRY}"] {{
  background-color: rgba(151, 166, 195, 0.25); }}
[data-testid="stSidebarNav"] a[href$="/{NEW_WIDGET_ENTRY}"] span {{ font-weight: 600; }}
</style>""")


def page_view(name: str) -> bool:
    """Record the page shown now (each page calls this first); True when it differs from
    the page shown before, i.e. the analyst navigated here. Navigating on a phone also
    folds the sidebar, which would otherwise stay open over the page."""
    previous = st.session_state.get("page")
    st.session_state["page"] = name
    moved = previous is not None and previous != name
    if moved:
        close_sidebar_on_phone()
    return moved
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


def rows_text(count: int) -> str:
    """ "1 row", "12,345 rows"."""
    return f"{count:,} row{'' if count == 1 else 's'}"


def source_label(generation: dict[str, Any] | None) -> str:
    """Where the SQL came from: "your SQL" (a hand edit), the model's name, or offline."""
    generation = generation or {}
    if generation.get("sql_source") in ("edit", "edited"):
        return "your SQL"
    if generation.get("generator") == "openai":
        return str(generation.get("model") or "LLM")
    if generation.get("generator"):
        return str(generation["generator"])
    return ""


def provenance(widget: Widget, spec: charts.ChartSpec | None) -> str:
    """One line from the latest run: rows, query time, refreshed at, source, truncated."""
    if not widget.sql_query:
        return "Sample widget with stored data (no query, so it does not refresh)."
    parts: list[str] = []
    if spec is not None and spec.row_count is not None:
        parts.append(rows_text(spec.row_count))
    generation = widget.generation or {}
    query_ms = (generation.get("timings_ms") or {}).get("execute")
    if isinstance(query_ms, (int, float)):
        parts.append(f"query {query_ms:,.0f} ms")
    refreshed = spec.refreshed_at if spec is not None else None
    if refreshed:
        parts.append(f"refreshed {_short_time(refreshed)}")
    source = source_label(generation)
    if source:
        parts.append(source)
    if generation.get("sql_source") in ("edit", "edited"):
        parts.append("edited")
    if spec is not None and spec.truncated:
        parts.append("truncated")
    return " · ".join(parts)


def draft_caption(draft: service.Preview) -> str:
    """The draft's provenance line (same shape as a card's)."""
    result = draft.result
    parts = [rows_text(result.row_count), f"query {result.elapsed_ms:,.0f} ms",
             source_label(draft.generation)]
    attempts = draft.generation.get("attempts", 1)
    if isinstance(attempts, int) and attempts > 1:
        parts.append(f"{attempts} attempts")
    if result.truncated:
        parts.append("truncated")
    return " · ".join(p for p in parts if p)


def _short_time(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def metric_extras(value: Any, generation: dict[str, Any] | None,
                  ) -> tuple[str | None, str | None, list[float] | None]:
    """A number card's delta against the previous period ("+1.2M (+8.4%)"), what it is
    measured against ("vs 2024: 14.3M") and its trend values, from the widget's
    generation metadata (`service._number_context`); None where there is none."""
    generation = generation or {}
    delta = description = None
    compare = generation.get("compare")
    if isinstance(compare, dict) and charts.is_number(compare.get("value")) \
            and charts.is_number(value):
        before, now = float(compare["value"]), float(value)
        change = now - before
        delta = ("+" if change >= 0 else "") + charts.format_number(change, compact=True)
        if before:
            delta += f" ({change / abs(before) * 100:+.1f}%)"
        description = (f"vs {compare.get('label', 'previous period')}: "
                       f"{charts.format_number(before, compact=True)}")
    trend = generation.get("trend")
    values = trend.get("values") if isinstance(trend, dict) else None
    points = [float(v) for v in values or [] if charts.is_number(v)]
    return delta, description, points if len(points) >= 2 else None


def draw_spec(spec: charts.ChartSpec, *, key: str, show_note: bool = True,
              generation: dict[str, Any] | None = None) -> None:
    """Draw a validated spec: number card, table or Plotly figure. The caller shows the
    title above (cards and drafts), so the figure itself carries none."""
    spec = replace(spec, title="")
    if spec.chart == "table":
        st.dataframe(charts.table_frame(spec), width="stretch", hide_index=True)
    elif spec.chart == "number":
        card = charts.number_card(spec)
        delta, against, trend = metric_extras(card.value, generation)
        # Metric labels render Markdown (images included): escape the column alias.
        st.metric(escape_markdown(card.label), escape_markdown(card.text), delta=delta,
                  delta_description=escape_markdown(against) if against else None,
                  chart_data=trend, chart_type="line")
        if card.caption:
            st.caption(escape_markdown(card.caption))
    else:
        st.plotly_chart(charts.build_figure(spec), width="stretch", key=key,
                        config={"displaylogo": False})
    note = getattr(spec, "note", None)
    if note and show_note:
        st.caption(escape_markdown(note))


def draw_widget(widget: Widget) -> charts.ChartSpec | None:
    """Draw a stored widget from its snapshot; bad content becomes an error card."""
    try:
        spec = charts.parse_content(widget.content)
    except InvalidChartSpec as exc:
        show_error(exc)
        return None
    try:
        draw_spec(spec, key=f"chart-{widget.id}", generation=widget.generation)
    except InvalidChartSpec as exc:
        show_error(exc)
    return spec
