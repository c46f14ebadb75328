"""Promptboard entry point: page config, the sign-in gate and navigation."""

import streamlit as st

from dashboard import preload

st.set_page_config(page_title="Promptboard", page_icon="📊", layout="wide")
# Before the app's heavy imports: the browser starts loading its chart code meanwhile.
preload.chart_code()

from dashboard import ui  # noqa: E402  (after the first message on purpose)

ui.configure_logging()
# The database opens in the background from the first page view (embedded server, demo
# data, pools): by the time someone has typed a username it is usually ready.
ui.start_database()

# The sign-in page and the dashboard share one URL path (hence one page id), so the
# rerun after signing in or out lands on the other one, never on "page not found".
HOME = "home"
DASHBOARD = "pages/dashboard.py"

user = ui.current_user()
if user is None:
    # Signed out: the only page is the sign-in form (st.navigation runs on every rerun,
    # so Streamlit never falls back to listing pages/ in the sidebar).
    page = st.navigation([st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:",
                                  url_path=HOME)])
else:
    page = st.navigation([
        st.Page(DASHBOARD, title="Dashboard", icon=":material/dashboard:", url_path=HOME,
                default=True),
        # "New widget" in the sidebar is a small entry page that drops the draft and
        # switches to the (hidden) New widget page: a clean page even from New widget
        # itself, where a link to the current page would only rerun it.
        st.Page(ui.new_widget_entry, title="New widget", icon=":material/add:",
                url_path=ui.NEW_WIDGET_ENTRY),
        st.Page(ui.NEW_WIDGET_PAGE, title="New widget", icon=":material/add:",
                visibility="hidden"),
        st.Page("pages/data.py", title="Data", icon=":material/table_view:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
    ])
    with st.sidebar:
        st.caption("Signed in as")
        st.text(user.username)
        if st.button("Sign out", width="stretch"):
            ui.sign_out()
            st.switch_page(DASHBOARD)
ui.write_cookie()
page.run()
