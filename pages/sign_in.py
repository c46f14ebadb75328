"""Sign in: a username (the default, not authentication) or OIDC via st.login()."""

import streamlit as st

from dashboard import ui
from dashboard.errors import DashboardError

st.title("Promptboard")
st.write("Ask your PostgreSQL a question, get a chart, keep it on your dashboard.")

if ui.settings().auth_mode == "oidc":
    try:
        ui.check_oidc_secrets()
        if st.user.is_logged_in:
            ui.sign_in(ui.identity_user())
            st.rerun()
    except DashboardError as exc:
        ui.show_error(exc)
        st.stop()
    st.button("Sign in with your identity provider", type="primary", on_click=st.login)
    st.stop()

if ui.exposed_without_authentication():
    st.warning("This server is reachable from other machines and signs people in by "
               "username only, which is not authentication. Use AUTH_MODE=oidc for any "
               "shared deployment (see the README).", icon=":material/lock_open:")

with st.form("sign-in"):
    username = st.text_input("Username", max_chars=64, placeholder="e.g. testuser")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        ui.sign_in(ui.username_user(username))
    except DashboardError as exc:
        ui.show_error(exc)
    else:
        st.rerun()
