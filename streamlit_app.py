"""Promptboard entry point: page config, the sign-in gate and navigation."""

import streamlit as st

from dashboard import ui

st.set_page_config(page_title="Promptboard", page_icon="📊", layout="wide")

SIGN_IN = "pages/sign_in.py"

user = ui.current_user()
if user is None:
    # Signed out: the only page is the sign-in form (st.navigation runs on every rerun,
    # so Streamlit never falls back to listing pages/ in the sidebar).
    page = st.navigation([st.Page(SIGN_IN, title="Sign in", icon="🔑")])
else:
    page = st.navigation([
        st.Page("pages/dashboard.py", title="Dashboard", icon="📊", default=True),
        # Kept, hidden, so the rerun right after signing in still finds the page it
        # started on (no "page not found"); it then switches to the dashboard.
        st.Page(SIGN_IN, title="Sign in", visibility="hidden"),
    ])
    with st.sidebar:
        st.caption("Signed in as")
        st.text(user.username)
        if st.button("Sign out", width="stretch"):
            ui.sign_out()
            st.rerun()
page.run()
