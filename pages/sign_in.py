"""Sign in with a username (not authentication: see the README's deploy section)."""

import streamlit as st

from dashboard import store, ui
from dashboard.errors import DashboardError

st.title("📊 Promptboard")
st.write("Ask your PostgreSQL a question, get a chart, keep it on your dashboard.")

with st.form("sign-in"):
    username = st.text_input("Username", max_chars=64, placeholder="e.g. testuser")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        ui.sign_in(store.get_or_create_user(ui.database(), username))
    except DashboardError as exc:
        ui.show_error(exc)
    else:
        st.rerun()
