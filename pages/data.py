"""Browse the data the questions can be about: tables, columns, metric definitions."""

import streamlit as st

from dashboard import explore, ui
from dashboard.errors import DashboardError

user = ui.require_user()
ui.page_view(__file__)
db = ui.database()

st.title("Data")
catalog = explore.catalog(db)
st.caption(ui.escape_markdown(
    f"Schemas {', '.join(catalog.schemas)} · {len(catalog.tables)} tables · the questions "
    "you ask can use these tables and nothing else."))

definitions = explore.metric_definitions(catalog)
if definitions:
    st.subheader("Metric definitions", anchor=False)
    for source, text in definitions:
        definition = ui.escape_markdown(text, max_chars=600)
        st.markdown(f"- **{ui.escape_markdown(source)}**: {definition}")

st.subheader("Tables", anchor=False)
for table in catalog.tables:
    label = f"{table.qualified_name} · about {table.row_estimate:,} rows"
    with st.expander(ui.escape_markdown(label)):
        if table.comment:
            st.text(table.comment)
        st.dataframe(explore.columns_frame(table), width="stretch", hide_index=True,
                     height="content",
                     column_config={"type": st.column_config.TextColumn(width="medium")})
        if st.button("Show sample rows", key=f"sample-{table.qualified_name}"):
            try:
                result = explore.sample_rows(db, table)
            except DashboardError as exc:
                ui.show_error(exc)
            else:
                st.dataframe(result.to_dataframe(), width="stretch", hide_index=True)
