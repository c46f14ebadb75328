"""Text handling: words for schema-context selection and the offline planner, and inert
text for the pages.

Everything here is local and deterministic: a small stemmer, a synonym table, identifier
splitting, a token estimate (no tokenizer download at run time), and `inert`, the one
escaping helper for text shown through Streamlit's Markdown.
"""

from __future__ import annotations

import math
import re

# Markdown syntax characters: each gets a backslash, so no emphasis, link, image, HTML,
# heading, list, table, LaTeX or `:color[...]` directive can start.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=&\"'])")
# Streamlit also rewrites *text* after Markdown has resolved the backslashes: GFM
# autolinks (`https://`, `www.`, `name@host`), `:material/icon:` and `:emoji:` codes. An
# invisible WORD JOINER after ':' and '@' and inside 'www.' breaks those patterns and
# leaves what people read unchanged.
WORD_JOINER = "\u2060"
_WWW = re.compile(r"(?i)(www)(?=\.)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")

# Words that carry no meaning for matching prompts to schema names.
_STOPWORDS_TEXT = """a an the of in on at to for from by per with and or is are was were
    be been being
    do does did we our us you your it its this that these those there their they them
    what which who whom how many much show me give list find get tell please all any each
    as into than then over under about between during since until up down out off can could
    would should will shall may might i my has have had not no so if else when where why
    just only also some most more less very one ones"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

# Groups of words analysts use for the same idea; every member maps to the whole group.
_SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("revenue", "sales", "income", "turnover", "earnings", "takings", "gmv", "spend", "spent",
     "spending"),
    ("customer", "client", "buyer", "purchaser", "shopper", "account"),
    ("product", "item", "article", "sku", "good", "merchandise"),
    ("order", "purchase", "transaction", "sale"),
    ("employee", "staff", "worker", "personnel", "headcount", "person"),
    ("salary", "pay", "wage", "compensation", "earning"),
    ("department", "dept", "division", "team"),
    ("country", "nation"),
    ("city", "town"),
    ("region", "area", "territory", "market"),
    ("category", "type", "kind", "class", "genre"),
    ("price", "cost", "fee"),
    ("amount", "value", "total"),
    ("quantity", "units", "unit", "volume", "qty"),
    ("date", "time", "day", "when", "timestamp"),
    ("created", "signup", "signed", "registered", "joined", "new"),
    ("track", "song", "tune"),
    ("artist", "musician", "band", "performer"),
    ("invoice", "bill", "receipt"),
    ("film", "movie"),
    ("rental", "rent", "rented"),
    ("payment", "paid", "pay"),
    ("supplier", "vendor"),
    ("hire", "hired", "start"),
    ("manager", "boss", "supervisor"),
    ("channel", "platform"),
    ("status", "state"),
    ("length", "duration", "runtime", "long"),
    ("population", "inhabitants", "residents", "populated", "populous"),
)

_IRREGULAR = {
    "people": "person", "children": "child", "men": "man", "women": "woman",
    "sold": "sell", "bought": "buy", "paid": "pay", "data": "data", "media": "media",
    "series": "series", "news": "news", "analyses": "analysis", "indices": "index",
    "staff": "staff", "status": "status", "sales": "sale", "business": "business",
    "address": "address", "class": "class", "bus": "bus", "gas": "gas",
    "canceled": "cancel", "cancelled": "cancel", "cancellation": "cancel",
    "shipped": "ship", "shipping": "ship", "shipment": "ship",
}


def words(text: str) -> list[str]:
    """Lower-case words of free text or identifiers (`InvoiceLine` -> invoice, line)."""
    text = _CAMEL.sub(r"\1 \2", text).replace("_", " ")
    return _WORD.findall(text.lower())


# Plurals in -ings that name something other than their verb ("earnings" are revenue).
_NOUNS_IN_INGS = frozenset({"earnings", "takings", "savings", "holdings", "belongings",
                            "winnings", "surroundings", "findings"})


def stem(word: str) -> str:
    """A small suffix stripper: plurals and common verb endings collapse to one form."""
    w = word.lower()
    if w in _IRREGULAR:
        w = _IRREGULAR[w]
        return w[:-1] if w.endswith("e") and len(w) > 3 else w
    if len(w) <= 3 or w.isdigit():
        return w
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"),
                         ("shes", "sh")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            return w[: -len(suffix)] + repl
    if w.endswith("ings") and len(w) > 6 and w not in _NOUNS_IN_INGS:
        w = w[:-1]  # "ratings", "bookings", "listings": the plural of the -ing form
    if w.endswith("ing") and len(w) > 5:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-3] + "y" if w.endswith("ied") else _undouble(w[:-2])
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    # Drop a final "e" everywhere so price/priced/pricing and create/created meet.
    return w[:-1] if w.endswith("e") and len(w) > 3 else w


def _undouble(base: str) -> str:
    if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz":
        return base[:-1]
    return base


def stems(text: str) -> list[str]:
    """Stemmed words of `text`, stop words kept (callers decide)."""
    return [stem(w) for w in words(text)]


_SYNONYMS: dict[str, frozenset[str]] = {}
for _group in _SYNONYM_GROUPS:
    _stemmed = frozenset(stem(w) for w in _group)
    for _w in _stemmed:
        _SYNONYMS[_w] = _SYNONYMS.get(_w, frozenset()) | _stemmed


def synonyms(stemmed_word: str) -> frozenset[str]:
    """The word and every word of its synonym groups (all stemmed)."""
    return _SYNONYMS.get(stemmed_word, frozenset()) | {stemmed_word}


def content_stems(text: str) -> list[str]:
    """Stemmed words of `text` without stop words, in order."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def estimate_tokens(text: str) -> int:
    """A conservative token estimate for LLM prompts (about 3.5 characters per token).

    BPE tokenizers average ~4 characters per token on English and schema text; erring
    high keeps us inside small local-model windows.
    """
    return math.ceil(len(text) / 3.5) if text else 0


def singular(word: str) -> str:
    """A display singular of an identifier word (`orders` -> `order`)."""
    return stem(word) if word.endswith("s") else word


def inert(value: object, *, max_chars: int = 300) -> str:
    """`value` as Markdown that shows exactly its text: one line, at most `max_chars`
    characters, with no link, e-mail link, image, HTML, LaTeX, icon, emoji or colour.

    For every user-, model- or database-supplied string reaching `st.markdown`,
    `st.caption`, `st.subheader`, `st.error`, `st.metric` and widget labels.
    """
    flat = " ".join(str(value).split())
    if len(flat) > max_chars:
        flat = flat[: max_chars - 1] + "…"
    flat = flat.replace(":", ":" + WORD_JOINER).replace("@", "@" + WORD_JOINER)
    flat = _WWW.sub(r"\1" + WORD_JOINER, flat)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def visible(markdown: str) -> str:
    """What `inert` output reads as once rendered (backslashes and joiners dropped);
    for tests and logs."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")
