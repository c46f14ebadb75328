"""The Streamlit app in-process (AppTest) against the session's test database."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.config import PROJECT_DIR

APP = str(PROJECT_DIR / "streamlit_app.py")


def _signed_in(username: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input(username)
    at.button[0].click().run()
    return at


def test_sign_in_page_comes_first(app_env: None) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Promptboard"]
    assert at.text_input[0].label == "Username"


def test_testuser_sees_the_seed_chart(app_env: None) -> None:
    at = _signed_in("testuser")
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Dashboard"]
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    figure = json.loads(charts[0].proto.spec)
    assert figure["data"][0]["type"] == "scatter"
    assert figure["data"][0]["mode"] == "lines"
    assert "testuser" in [t.value for t in at.sidebar.get("text")]
    at.sidebar.button[0].click().run()  # sign out: back to the form, nothing remembered
    assert not at.exception
    assert [t.value for t in at.title] == ["Promptboard"]
    assert "user" not in at.session_state


@pytest.mark.parametrize("username", ["", "bad name", "x" * 65, "<script>"])
def test_bad_username_shows_a_message(app_env: None, username: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input(username)
    at.button[0].click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert [t.value for t in at.title] == ["Promptboard"]
