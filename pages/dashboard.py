"""The signed-in user's dashboard: every widget drawn from its stored snapshot."""

import streamlit as st

from dashboard import store, ui

user = ui.current_user()
assert user is not None  # the entry point shows this page only after sign-in

st.title("Dashboard")
widgets = store.list_widgets(ui.database(), user)
if not widgets:
    st.info("Your dashboard is empty.")
for widget in widgets:
    with st.container(border=True):
        st.subheader(widget.title or widget.prompt, anchor=False)
        ui.draw_widget(widget)
