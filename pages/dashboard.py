"""The signed-in user's dashboard: a grid of cards drawn from stored snapshots.

Opening the page never re-runs SQL, and needs only the app store (the stored widgets):
on a fresh install the dashboard draws while the demo data is still loading; what needs
the data (Refresh, Start here, SQL edits) waits for it with a progress message. Each card
is a fragment, so acting on one card reruns that card alone; changes to the grid (delete,
move) rerun the page. A card draws its title, chart, caption, Refresh and "More"; its
controls (SQL, chart type, title, CSV, move, delete) are drawn only once "More"
is clicked, so a dashboard of 50 cards sends 50 charts, not 50 sets of menus.
"""

import streamlit as st

from dashboard import charts, examples, service, ui
from dashboard.errors import DashboardError, NotFound
from dashboard.store import Widget

user = ui.require_user()
ui.page_view(__file__)
db = ui.app_store()  # users and stored widgets; ui.database() for what runs SQL
proposals: dict[int, dict[str, str]] = st.session_state.setdefault("proposals", {})
# The widgets listed by this (full) page run, so that cards drawn in it need no query of
# their own; emptied at the end of the run, so a card rerunning alone (a fragment) reads
# its widget afresh.
listed: dict[int, Widget] = {}


@st.dialog("Edit SQL", width="large")
def edit_sql_dialog(widget_id: int, sql: str, title: str) -> None:
    st.caption("Your query is checked again (one read-only SELECT over the data tables) "
               "and run before it is saved; if it fails, nothing changes. The card is "
               "then marked as edited (your SQL).")
    text = st.text_area("SQL", value=sql, height=260, key=f"edit-sql-{widget_id}")
    new_title = st.text_input("Title (update it if the data no longer matches)",
                              value=title, max_chars=200, key=f"edit-title-{widget_id}")
    if st.button("Check, run and save", type="primary", key=f"save-sql-{widget_id}"):
        try:
            service.edit_sql(ui.database(), user, widget_id, text,
                             title=new_title if new_title.strip() != title else None)
        except DashboardError as exc:
            ui.show_error(exc)
        else:
            proposals.pop(widget_id, None)
            st.rerun()


@st.dialog("Delete widget")
def delete_dialog(widget_id: int, title: str) -> None:
    st.write("Delete this widget? This cannot be undone.")
    st.text(title)
    left, right = st.columns(2)
    if left.button("Delete", type="primary", key=f"confirm-delete-{widget_id}",
                   width="stretch"):
        try:
            service.delete(db, user, widget_id)
        except DashboardError as exc:
            ui.show_error(exc)
        else:
            proposals.pop(widget_id, None)
            st.rerun()
    if right.button("Cancel", key=f"cancel-delete-{widget_id}", width="stretch"):
        st.rerun()


def _set_error(widget_id: int | str, message: str | None) -> None:
    if message:
        st.session_state[f"error-{widget_id}"] = message
    else:
        st.session_state.pop(f"error-{widget_id}", None)


def _refresh(widget_id: int, progress: bool = False) -> None:
    """Re-run the saved query; a failure keeps the old snapshot and may offer a fix."""
    try:
        outcome = service.refresh(ui.database(progress=progress), user, widget_id)
    except DashboardError as exc:
        _set_error(widget_id, exc.message)
        return
    if outcome.proposal is not None:
        proposals[widget_id] = {"sql": outcome.proposal.sql,
                                "explanation": outcome.proposal.explanation,
                                "error": outcome.error or ""}
    else:
        proposals.pop(widget_id, None)
    _set_error(widget_id, outcome.error)


# Card actions run as callbacks: they finish before the card redraws, so the card shows
# the new state in the same (fragment) rerun, with no explicit rerun needed.
def _act(widget_id: int, action, *args) -> None:
    try:
        action(db, user, widget_id, *args)
    except DashboardError as exc:
        _set_error(widget_id, exc.message)
    else:
        _set_error(widget_id, None)


def _accept(widget_id: int, sql: str) -> None:
    try:
        service.accept_proposal(ui.database(progress=False), user, widget_id, sql)
    except DashboardError as exc:
        _set_error(widget_id, exc.message)
    else:
        _set_error(widget_id, None)
    if not st.session_state.get(f"error-{widget_id}"):
        proposals.pop(widget_id, None)


def _set_chart(widget_id: int) -> None:
    _act(widget_id, service.set_chart, st.session_state[f"chart-type-{widget_id}"])


def _rename(widget_id: int) -> None:
    _act(widget_id, service.rename, st.session_state[f"title-{widget_id}"])


def _proposal(widget_id: int) -> None:
    offer = proposals.get(widget_id)
    if not offer:
        return
    with st.container(border=True):
        st.markdown("**A fix is proposed** — the saved query failed:")
        st.text(offer["error"])
        st.code(offer["sql"], language="sql")
        if offer["explanation"]:
            st.caption(ui.escape_markdown(offer["explanation"]))
        accept, reject = st.columns(2)
        accept.button("Accept fix", key=f"accept-{widget_id}", type="primary",
                      width="stretch", on_click=_accept, args=(widget_id, offer["sql"]))
        reject.button("Keep my query", key=f"reject-{widget_id}", width="stretch",
                      on_click=lambda: proposals.pop(widget_id, None))


def _toggle_controls(widget_id: int) -> None:
    key = f"open-{widget_id}"
    st.session_state[key] = not st.session_state.get(key, False)


@st.fragment
def card(widget_id: int) -> None:
    ui.log.debug("card %s drawn", widget_id)
    try:
        widget = listed.pop(widget_id, None) or service.get_widget(db, user, widget_id)
    except NotFound:
        st.info("This widget is no longer on your dashboard.")
        return
    # Every card of a row is as tall as the tallest one (see ui.card_grid_style).
    with st.container(border=True, key=ui.card_key(widget_id)):
        title = widget.title or widget.prompt
        st.markdown(f"**{ui.escape_markdown(title)}**")
        spec = ui.draw_widget(widget)
        st.caption(ui.escape_markdown(ui.provenance(widget, spec)))
        if error := st.session_state.get(f"error-{widget_id}"):
            st.error(ui.escape_markdown(error, max_chars=1000), icon=":material/error:")
        _proposal(widget_id)
        opened = bool(st.session_state.get(f"open-{widget_id}"))
        # Refresh is the everyday action, so it stays on the card; the rest waits behind
        # "More" (drawn on demand: a dashboard of 50 cards stays light).
        with st.container(horizontal=True, gap="small"):
            if widget.sql_query:
                st.button("Refresh", key=f"refresh-{widget_id}", icon=":material/refresh:",
                          on_click=_refresh, args=(widget_id,))
            st.button("Less" if opened else "More",
                      icon=":material/expand_less:" if opened else ":material/more_horiz:",
                      key=f"more-{widget_id}", on_click=_toggle_controls, args=(widget_id,))
        if opened:
            _controls(widget, spec, title)


def _controls(widget: Widget, spec: charts.ChartSpec | None, title: str) -> None:
    """The card's controls, drawn only while its "More" is open."""
    widget_id = widget.id
    if widget.sql_query:
        interpretation = (widget.generation or {}).get("interpretation")
        if interpretation:
            st.caption(ui.escape_markdown(interpretation, max_chars=500))
        st.code(widget.sql_query, language="sql", wrap_lines=True)
        if st.button("Edit SQL", key=f"edit-{widget_id}", icon=":material/code:"):
            edit_sql_dialog(widget_id, widget.sql_query, title)
        if spec is not None:
            st.selectbox("Chart type", charts.CHART_TYPES,
                         index=charts.CHART_TYPES.index(spec.chart),
                         key=f"chart-type-{widget_id}", on_change=_set_chart,
                         args=(widget_id,))
    st.text_input("Title", value=title, max_chars=200, key=f"title-{widget_id}")
    with st.container(horizontal=True, gap="small"):
        st.button("Rename", key=f"rename-{widget_id}", on_click=_rename, args=(widget_id,))
        if spec is not None:
            # Built only when clicked, not for every card on every rerun.
            st.download_button("Download CSV",
                               lambda: service.export_csv(db, user, widget_id),
                               file_name=f"widget-{widget_id}.csv", mime="text/csv",
                               key=f"csv-{widget_id}", on_click="ignore",
                               icon=":material/download:")
    # Moving changes the grid, so the whole page reruns.
    with st.container(horizontal=True, gap="small"):
        if st.button("Move earlier", key=f"up-{widget_id}", icon=":material/arrow_back:"):
            service.move(db, user, widget_id, -1)
            st.rerun()
        if st.button("Move later", key=f"down-{widget_id}", icon=":material/arrow_forward:"):
            service.move(db, user, widget_id, 1)
            st.rerun()
        if st.button("Delete…", key=f"delete-{widget_id}", icon=":material/delete:"):
            delete_dialog(widget_id, title)


ui.log.debug("dashboard page run")
st.title("Dashboard")
focus = st.query_params.get("widget")
if focus is not None:
    # A shared link to one widget: shown only to its owner; anyone else gets "not found".
    st.page_link("pages/dashboard.py", label="Back to the whole dashboard",
                 icon=":material/arrow_back:")
    try:
        service.get_widget(db, user, ui.widget_id(focus))
    except DashboardError as exc:
        ui.show_error(exc)
    else:
        card(ui.widget_id(focus))
    st.stop()

widgets = service.list_widgets(db, user)
listed.update((w.id, w) for w in widgets)


def start_here() -> None:
    """Three one-click first questions; each creates a real widget (offline planner).
    They come from the data's catalog, so the panel waits for the data (a fresh install
    is still loading it while the stored widgets are already drawn)."""
    with st.container(border=True):
        st.markdown("**Start here** · ask your data a question and keep the answer as a "
                    "widget. One click builds one:")
        prompts = examples.starter_prompts(ui.database())
        with st.container(horizontal=True, gap="small"):
            for index, prompt in enumerate(prompts):
                st.button(ui.escape_markdown(prompt), key=f"example-{index}",
                          icon=":material/auto_awesome:", on_click=_create_example,
                          args=(prompt,))
        st.page_link("pages/new_widget.py", label="Or write your own question",
                     icon=":material/add:")
        if error := st.session_state.get("error-example"):
            st.error(ui.escape_markdown(error, max_chars=1000), icon=":material/error:")


def _create_example(prompt: str) -> None:
    try:
        data = ui.database(progress=False)
        service.create(data, user, prompt, generator=service.offline_generator(data))
    except DashboardError as exc:
        _set_error("example", exc.message)
    else:
        _set_error("example", None)


# The panel stays until the first widget with a query exists (testuser's seed sample is
# stored data only, so it keeps the panel company). Its place is kept at the top and it
# is filled last, so the cards draw first.
panel = st.container() if not any(w.sql_query for w in widgets) else None
if not widgets:
    with panel:  # type: ignore[union-attr]
        start_here()
    st.stop()

ui.card_grid_style()
toolbar = st.columns([2, 1, 1], vertical_alignment="bottom")
per_row = toolbar[0].segmented_control("Cards per row", [1, 2, 3], key="per_row",
                                       default=2) or 2
per_row = min(per_row, len(widgets))
if toolbar[1].button("Refresh all", icon=":material/refresh:", width="stretch"):
    progress = st.progress(0.0, text="Refreshing…")
    failures = 0
    for index, widget in enumerate(widgets, start=1):
        if widget.sql_query:
            _refresh(widget.id, progress=True)
            failures += bool(st.session_state.get(f"error-{widget.id}"))
        progress.progress(index / len(widgets), text=f"Refreshed {index} of {len(widgets)}")
    progress.empty()
    if failures:
        st.warning(f"{failures} widget(s) failed to refresh; see their cards.")
toolbar[2].page_link("pages/new_widget.py", label="New widget", icon=":material/add:")

with st.container(key=ui.GRID_KEY):
    for start in range(0, len(widgets), per_row):
        columns = st.columns(per_row)
        for column, widget in zip(columns, widgets[start:start + per_row], strict=False):
            with column:
                card(widget.id)
listed.clear()
if panel is not None:
    with panel:
        start_here()
