"""Text from users, models and tables shows literally wherever Streamlit renders Markdown.

Streamlit resolves backslash escapes first and then rewrites the *text*: GFM autolinks
(`https://`, `www.`, e-mail addresses), `:material/...:` icons and `:emoji:` codes. The
patterns below are the ones in Streamlit 1.67's frontend (StreamlitMarkdown); `inert`
must leave nothing they match, and must escape every Markdown syntax character.
"""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import ui
from dashboard.text import WORD_JOINER, inert, visible

# What Streamlit's frontend matches in text after Markdown parsing (escapes resolved).
_AUTOLINK_URL = re.compile(r"(https?://|www(?=\.))", re.I)
_AUTOLINK_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")
_ICON_SOURCE = ":material/"  # replaced in the source before parsing
_EMOJI = re.compile(r":(?!material/|streamlit:)[\w+-][\w_+-]*:")
_DIRECTIVE = re.compile(r":[a-z][\w-]*\[")
_SPECIAL = set("\\`*_{}[]()<>#+-.!|~:$=&\"'")

HOSTILE = [
    "Revenue at https://evil.example/phish?x=1 today",
    "HTTP://EVIL.EXAMPLE and http://a.example",
    "see www.evil.example or WWW.Evil.Example",
    "write to bob.smith+tag@mail.example.com",
    ":material/home: Home",
    ":material/warning::material/error:",
    ":red[alarm] :blue-background[x] :rainbow[y] :orange-badge[z]",
    "$x^2$ and $$\\int f$$",
    "<b>bold</b> <img src=x onerror=alert(1)> <script>alert(1)</script>",
    "`code` and ```block```",
    "[click](https://evil.example) ![img](https://evil.example/x.png)",
    ":smile: :+1: :thumbsup:",
    "# heading\n- item\n> quote\n1. one",
    "**bold** _it_ ~~gone~~ | a | b |",
    "back\\slash \\: \\[",
    "mailto:bob@example.com and <https://x.example>",
]


def _resolved(markdown: str) -> str:
    """The text node Streamlit's Markdown parser produces (escapes resolved, joiners kept)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _unescaped_specials(markdown: str) -> list[str]:
    found, i = [], 0
    while i < len(markdown):
        if markdown[i] == "\\":
            i += 2
            continue
        if markdown[i] in _SPECIAL:
            found.append(markdown[i])
        i += 1
    return found


@pytest.mark.parametrize("text", HOSTILE)
def test_inert_leaves_nothing_streamlit_would_render(text: str) -> None:
    markdown = inert(text, max_chars=1000)
    resolved = _resolved(markdown)
    assert not _AUTOLINK_URL.search(resolved)
    assert not _AUTOLINK_EMAIL.search(resolved)
    assert _ICON_SOURCE not in markdown and _ICON_SOURCE not in resolved
    assert not _EMOJI.search(resolved)
    assert not _DIRECTIVE.search(resolved)
    assert _unescaped_specials(markdown) == []
    assert "\n" not in markdown


@pytest.mark.parametrize("text", HOSTILE)
def test_inert_text_reads_the_same(text: str) -> None:
    assert visible(inert(text, max_chars=1000)) == " ".join(text.split())


def test_examples_in_full() -> None:
    assert inert("https://a.example") == f"https\\:{WORD_JOINER}//a\\.example"
    assert inert("bob@example.com") == f"bob@{WORD_JOINER}example\\.com"
    assert inert(":material/home:") == f"\\:{WORD_JOINER}material/home\\:{WORD_JOINER}"
    assert inert(":red[x]") == f"\\:{WORD_JOINER}red\\[x\\]"
    assert inert("$5 <b>") == "\\$5 \\<b\\>"
    assert inert("plain words 42") == "plain words 42"


def test_inert_truncates_and_flattens() -> None:
    assert visible(inert("a\n\nb\tc", max_chars=10)) == "a b c"
    long = inert("x" * 500, max_chars=20)
    assert visible(long) == "x" * 19 + "…"
    assert visible(inert(None)) == "None"
    assert visible(inert(12.5)) == "12.5"


def test_the_pages_helper_is_the_same_function() -> None:
    text = "Sales at https://x.example :material/home:"
    assert ui.escape_markdown(text) == inert(text)
    assert ui.escape_markdown(text, max_chars=10) == inert(text, max_chars=10)


def _number_card_app() -> None:
    import json

    from dashboard import charts, ui

    spec = charts.parse_content(json.dumps({
        "version": 1, "chart": "number", "title": "t", "x": "who",
        "y": ["https://evil.example :material/home:"],
        "columns": ["who", "https://evil.example :material/home:"],
        "data": [["bob@example.com", 42]]}))
    ui.draw_spec(spec, key="card")


def test_number_card_label_and_value_are_inert_in_apptest() -> None:
    at = AppTest.from_function(_number_card_app, default_timeout=30).run()
    assert not at.exception, at.exception
    (metric,) = at.metric
    assert _ICON_SOURCE not in metric.label
    assert not _AUTOLINK_URL.search(_resolved(metric.label))
    assert "evil" in visible(metric.label) and visible(metric.value) == "42"
    (caption,) = at.caption
    assert not _AUTOLINK_EMAIL.search(_resolved(caption.value))
    assert visible(caption.value) == "bob@example.com"
