"""Read-only settings: what the app uses. Never shows a key or a password."""

import streamlit as st

from dashboard import explore, ui

user = ui.require_user()
ui.page_view(__file__)
db = ui.database()

st.title("Settings")
st.caption("Read-only. Change settings through environment variables, .env or "
           ".streamlit/secrets.toml (see the README).")
st.dataframe(explore.settings_rows(ui.settings(), db), width="stretch", hide_index=True,
             height="content")
