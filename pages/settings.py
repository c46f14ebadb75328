"""Read-only settings: what the app uses. Never shows a key or a password."""

import streamlit as st

from dashboard import explore, text, ui

user = ui.require_user()
ui.page_view(__file__)
db = ui.database()

st.title("Settings")
st.caption("Read-only. Change settings through environment variables, .env or "
           ".streamlit/secrets.toml (see the README).")
st.dataframe(explore.settings_rows(ui.settings(), db), width="stretch", hide_index=True,
             height="content")
if db.hardening and not db.hardening.full:
    st.warning(text.inert(db.hardening.summary) + ". A superuser must run, in each database:")
    for command in db.hardening.commands:
        st.code(command, language="bash")
