"""Browser-side warm-up that must not wait for the app's own (heavy) imports.

Streamlit loads its Plotly code (a 4.7 MB JavaScript chunk that the browser fetches,
compiles and runs) only when the first chart arrives; on a loaded 2-core machine that
alone took about 3 s after signing in. The app asks the browser for it in its very first
message instead, so it loads while the server imports the app and while the sign-in form
is filled in. Imports nothing but Streamlit.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st


@functools.cache
def plotly_bundle() -> str | None:
    """The file name of Streamlit's Plotly chunk (it changes with each release)."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    found = sorted(folder.glob("PlotlyChart.*.js"))
    return found[0].name if len(found) == 1 else None


def chart_code() -> None:
    """Import the Plotly chunk from the URL Streamlit itself uses (next to its entry
    module), once per page load, so the browser runs it once. When the chunk or the entry
    script is not found, nothing happens but the usual lazy load."""
    name = plotly_bundle()
    if name is None:
        return
    st.html(
        "<script>(function(){if (window.promptboardCharts) return;"
        "window.promptboardCharts = true;"
        "var entry = document.querySelector("
        "'script[type=\"module\"][src*=\"/static/js/index.\"]');"
        f"if (entry) import(new URL({json.dumps(name)}, entry.src).href)"
        ".catch(function(){});})();</script>", unsafe_allow_javascript=True, width="content")
