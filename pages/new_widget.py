"""Ask a question, check the draft (chart, SQL, explanation), refine it, then save it."""

import streamlit as st

from dashboard import charts, examples, service, ui
from dashboard.errors import DashboardError

user = ui.require_user()
db = ui.database()
settings = ui.settings()

st.title("New widget")
if settings.generator_in_use == "offline":
    st.info("No API key set: using the built-in offline generator. Set OPENAI_API_KEY or "
            "OPENAI_BASE_URL for an LLM.", icon=":material/info:")

STEPS = {"context": "Finding the relevant tables", "generate": "Writing SQL",
         "guard": "Checking it is read-only", "execute": "Running it", "chart": "Drawing"}


def run_preview(prompt: str, previous: service.Preview | None = None) -> bool:
    """Build a draft with visible steps; keep it in session state on success."""
    with st.status("Working on it…", expanded=True) as status:
        try:
            draft = service.preview(
                db, user, prompt, previous=previous,
                on_step=lambda step: status.write(STEPS.get(step, step) + "…"))
        except DashboardError as exc:
            status.update(label="That did not work", state="error", expanded=True)
            ui.show_error(exc)
            st.caption("Try naming a table or column from the Data page, a time range "
                       "('in 2024'), or a chart type ('as a bar chart').")
            return False
        status.update(label="Draft ready", state="complete", expanded=False)
    st.session_state["draft"] = draft
    return True


with st.expander("Example questions", expanded="draft" not in st.session_state):
    for index, example in enumerate(examples.example_prompts(db)):
        if st.button(ui.escape_markdown(example), key=f"new-example-{index}"):
            run_preview(example)

prompt = st.chat_input("Ask a question about your data, e.g. monthly revenue by region "
                       "in 2025 as a line chart")
if prompt:
    run_preview(prompt)

draft: service.Preview | None = st.session_state.get("draft")
if draft is None:
    st.stop()

st.subheader(ui.escape_markdown(draft.title), anchor=False)
ui.draw_spec(draft.spec, key="draft-chart")
elapsed = draft.result.elapsed_ms
st.caption(ui.escape_markdown(
    f"{draft.result.row_count:,} rows · query {elapsed:,.0f} ms · "
    f"{draft.generation.get('generator', '')} · "
    f"{draft.generation.get('attempts', 1)} attempt(s)"
    + (" · truncated" if draft.result.truncated else "")))
if draft.note:
    st.caption(ui.escape_markdown(draft.note))
if draft.explanation:
    st.text(draft.explanation)

with st.expander("SQL", expanded=False):
    st.code(draft.sql, language="sql")
    edited = st.text_area("Edit the SQL before saving", value=draft.sql, height=200,
                          key="draft-sql")
    if st.button("Check and run my SQL"):
        try:
            st.session_state["draft"] = service.preview_sql(db, user, draft, edited)
        except DashboardError as exc:
            ui.show_error(exc)
        else:
            st.rerun()

left, right = st.columns([1, 1], vertical_alignment="bottom")
chart = left.selectbox("Chart type", charts.CHART_TYPES,
                       index=charts.CHART_TYPES.index(draft.spec.chart), key="draft-chart-type")
if chart != draft.spec.chart:
    try:
        st.session_state["draft"] = service.with_chart(draft, chart)
    except DashboardError as exc:
        ui.show_error(exc)
    else:
        st.rerun()

follow_up = right.text_input("Refine", placeholder="now by week · only Europe · top 5 instead",
                             key="draft-refine")
if right.button("Refine draft") and follow_up.strip() and run_preview(follow_up, previous=draft):
    st.rerun()

if st.button("Add to dashboard", type="primary", icon=":material/push_pin:"):
    try:
        service.create(db, user, draft)
    except DashboardError as exc:
        ui.show_error(exc)
    else:
        del st.session_state["draft"]
        st.session_state.pop("draft-sql", None)
        st.toast("Saved to your dashboard.")
        st.switch_page("pages/dashboard.py")
