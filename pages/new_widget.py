"""Ask a question, check the draft (chart, SQL, explanation), refine it, then save it.

The page holds one draft (`ui.DraftState`), replaced whole by every ask, refine, hand
edit or chart change. Buttons only queue an action (callbacks); the action runs once at
the top of the next run, then the page draws the current draft once: no st.rerun loop.
"""

import streamlit as st

from dashboard import charts, examples, service, ui
from dashboard.errors import DashboardError, NeedsClarification

user = ui.require_user()
if ui.page_view(__file__):
    ui.drop_draft()  # arriving from another page starts clean
ui.mark_new_widget_entry()
db = ui.database()
settings = ui.settings()
ui.log.debug("new widget page run")

STEPS = {"context": "Finding the relevant tables", "generate": "Writing SQL",
         "guard": "Checking it is read-only", "execute": "Running it", "chart": "Drawing"}


def ask(prompt: str, previous: service.Preview | None = None) -> None:
    """Build a draft with visible steps; it replaces the page's draft on success."""
    with st.status("Working on it…", expanded=True) as status:
        try:
            draft = service.preview(
                db, user, prompt, previous=previous,
                on_step=lambda step: status.write(STEPS.get(step, step) + "…"))
        except NeedsClarification as exc:
            status.update(label="Which did you mean?", state="error", expanded=False)
            ui.set_draft(clarify=(exc.message, tuple((o.label, o.prompt) for o in exc.options)))
            return
        except DashboardError as exc:
            status.update(label="That did not work", state="error", expanded=True)
            if previous is None:
                ui.drop_draft()  # never an older answer under a new question's error
            ui.show_error(exc)
            st.caption("Try naming a table or column from the Data page, a time range "
                       "('in 2024'), or a chart type ('as a bar chart').")
            return
        status.update(label="Draft ready", state="complete", expanded=False)
    ui.set_draft(draft)


def check_sql(draft: service.Preview, sql: str) -> None:
    with st.spinner("Checking and running your SQL…"):
        try:
            ui.set_draft(service.preview_sql(db, user, draft, sql))
        except DashboardError as exc:
            ui.show_error(exc)


st.title("New widget")
if settings.generator_in_use == "offline":
    st.info("No API key set: using the built-in offline generator. Set OPENAI_API_KEY or "
            "OPENAI_BASE_URL for an LLM.", icon=":material/info:")

state = ui.current_draft()
with st.expander("Example questions", expanded=state is None):
    for index, example in enumerate(examples.example_prompts(db)):
        st.button(ui.escape_markdown(example), key=f"new-example-{index}",
                  on_click=ui.queue_draft_action, args=("ask", example))

prompt = st.chat_input("Ask a question about your data, e.g. monthly revenue by region "
                       "in 2025 as a line chart")
action = ui.take_draft_action()
if prompt:
    ask(prompt)
elif action is not None:
    kind, *args = action
    current = state.preview if state is not None else None
    if kind == "ask":
        ask(args[0])
    elif kind == "refine" and current is not None:
        ask(args[0], previous=current)
    elif kind == "sql" and current is not None:
        check_sql(current, args[0])
    elif kind == "error":
        st.error(ui.escape_markdown(args[0], max_chars=1000), icon=":material/error:")

state = ui.current_draft()
if state is None:
    st.stop()

if state.clarify is not None:
    message, options = state.clarify
    st.warning(ui.escape_markdown(message, max_chars=1000), icon=":material/help:")
    for index, (label, option_prompt) in enumerate(options):
        st.button(f"Did you mean {ui.escape_markdown(label, max_chars=200)}?",
                  key=state.key(f"option-{index}"), on_click=ui.queue_draft_action,
                  args=("ask", option_prompt))
    st.stop()

draft = state.preview
assert draft is not None
st.subheader(ui.escape_markdown(draft.title), anchor=False)
ui.draw_spec(draft.spec, key=state.key("chart"), show_note=False,
             generation=draft.generation)
if interpretation := draft.generation.get("interpretation"):
    st.caption(ui.escape_markdown(interpretation, max_chars=500))
st.caption(ui.escape_markdown(ui.draft_caption(draft)))
if draft.note:
    st.caption(ui.escape_markdown(draft.note, max_chars=1000))
if draft.explanation:
    st.text(draft.explanation)

with st.expander("SQL", expanded=False):
    st.code(draft.sql, language="sql")
    st.text_area("Edit the SQL before saving", value=draft.sql, height=200,
                 key=state.key("sql"))
    st.button("Check and run my SQL", key=state.key("run-sql"),
              on_click=ui.draft_sql_clicked, args=(state.id,))

left, right = st.columns([1, 1], vertical_alignment="bottom")
left.selectbox("Chart type", charts.CHART_TYPES,
               index=charts.CHART_TYPES.index(draft.spec.chart), key=state.key("chart-type"),
               on_change=ui.draft_chart_changed, args=(state.id,))
right.text_input("Refine", placeholder="now by week · only Europe · as a bar chart",
                 key=state.key("refine"))
right.button("Refine draft", key=state.key("refine-go"), on_click=ui.draft_refine_clicked,
             args=(state.id,))

save, restart = st.columns([1, 1])
if save.button("Add to dashboard", type="primary", icon=":material/push_pin:",
               key=state.key("save")):
    try:
        service.create(db, user, draft)
    except DashboardError as exc:
        ui.show_error(exc)
    else:
        ui.drop_draft()
        st.toast("Saved to your dashboard.")
        st.switch_page("pages/dashboard.py")
restart.button("Start over", key=state.key("restart"), on_click=ui.drop_draft,
               icon=":material/restart_alt:")
