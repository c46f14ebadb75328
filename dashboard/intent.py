"""The intent gate: requests that are not read-only questions about the data are declined
before any generator sees them.

Two kinds are refused with a plain sentence: a request to change data or the database
("delete all cancelled orders" -> "Promptboard only reads data; it cannot delete
orders.") and a question about the world rather than the data ("what's the weather in
Paris tomorrow?"). Everything else passes through unchanged; the generators decide the
rest (the offline planner declines what it cannot place).
"""

from __future__ import annotations

import re

from dashboard.errors import GenerationFailed

# Verbs that change data or the database, as the first word of a request (optionally
# after "please", "can you", "go and" ...), and the object they act on.
_CHANGE_VERBS = {
    "delete": "delete", "remove": "remove", "erase": "erase", "purge": "purge",
    "wipe": "wipe", "truncate": "truncate", "drop": "drop", "update": "update",
    "change": "change", "modify": "modify", "edit": "edit", "set": "set",
    "insert": "insert", "add": "add", "create": "create", "alter": "alter",
    "rename": "rename", "grant": "grant", "revoke": "revoke", "mark": "mark",
    "cancel": "cancel", "overwrite": "overwrite", "replace": "replace",
    "fix": "fix", "correct": "correct", "archive": "archive", "restore": "restore",
    "deactivate": "deactivate", "activate": "activate", "increase": "increase",
    "decrease": "decrease", "raise": "raise", "lower": "lower", "reset": "reset",
    "merge": "merge", "import": "import", "upload": "upload", "write": "write",
    "save": "save", "store": "store", "assign": "assign", "move": "move",
    "copy": "copy", "clear": "clear", "empty": "empty", "kill": "kill",
    "refund": "refund", "approve": "approve", "reject": "reject", "ban": "ban",
    "vacuum": "vacuum", "reindex": "reindex",
}
# Requests whose verb alone is ambiguous with a question ("add up", "set of", "run rate",
# "list"...) are only refused when a data object follows (checked below).
_SOFT_VERBS = {"add", "set", "lower", "raise", "move", "copy", "store", "save",
               "change", "correct", "replace", "clear", "empty", "mark", "edit"}
_POLITE = re.compile(
    r"^(?:(?:please|pls|kindly|now|then|and|also|just|go\s+and|go\s+ahead\s+and|"
    r"(?:can|could|would|will)\s+you(?:\s+please)?|i\s+(?:want|need|would\s+like)\s+"
    r"(?:you\s+)?to|let'?s|help\s+me(?:\s+to)?)\s+)+", re.I)
_SQL_CHANGE = re.compile(
    r"\b(?:insert\s+into|delete\s+from|update\s+\w+\s+set|drop\s+(?:table|schema|database|"
    r"view|index|role|user)|alter\s+(?:table|role|user|database)|truncate\s+(?:table\s+)?\w+|"
    r"create\s+(?:table|view|index|role|user|database|schema)|grant\s+\w+|revoke\s+\w+)\b",
    re.I)
_QUESTION_START = re.compile(
    r"^(?:how|what|which|who|whom|whose|when|where|why|is|are|was|were|do|does|did|"
    r"show|list|give|count|find|get|display|plot|chart|draw|compare|top|total|average|"
    r"sum|number|share|percentage|rank|break)\b", re.I)

# Questions about the outside world: weather, news, jokes, advice, the time now.
_WORLD = [
    (re.compile(r"\b(?:weather|forecast|temperature\s+(?:today|tomorrow|outside)|"
                r"will\s+it\s+rain|is\s+it\s+raining|sunny\s+tomorrow)\b", re.I),
     "the weather"),
    (re.compile(r"\b(?:tell\s+me\s+a\s+joke|a\s+joke\b|write\s+(?:me\s+)?a\s+(?:poem|song|"
                r"story|essay|email|letter)|translate\b)", re.I), "writing or translating"),
    (re.compile(r"\b(?:what\s+time\s+is\s+it|what'?s\s+the\s+time|what\s+day\s+is\s+it|"
                r"today'?s\s+date)\b", re.I), "the current time"),
    (re.compile(r"\b(?:latest\s+news|news\s+today|headlines\s+today|today'?s\s+headlines)\b",
                re.I), "the news"),
    (re.compile(r"^(?:hi|hello|hey|thanks|thank\s+you|good\s+(?:morning|evening)|"
                r"who\s+are\s+you|what\s+can\s+you\s+do|how\s+are\s+you)\b[\s!.?]*$", re.I),
     "small talk"),
    (re.compile(r"\b(?:how\s+do\s+i\s+cook|meaning\s+of\s+life)\b", re.I),
     "general knowledge"),
]
_NOUN_FOLLOWERS = {"of", "in", "over", "by", "per", "for", "from", "between", "since",
                   "across", "rate", "rates"}
_OBJECT_STOP = {"all", "the", "every", "each", "any", "some", "a", "an", "of", "our", "my",
                "these", "those", "this", "that", "from", "in", "to", "for", "with", "where",
                "which", "who", "are", "is", "old", "new", "cancelled", "duplicate",
                "inactive", "active", "existing", "test"}


def check_intent(question: str) -> None:
    """Raise GenerationFailed for a request to change data or a non-data question."""
    change = change_request(question)
    if change is not None:
        raise GenerationFailed(change)
    world = world_question(question)
    if world is not None:
        raise GenerationFailed(world)


def change_request(question: str) -> str | None:
    """The refusal sentence for a request to change data, else None."""
    text = question.strip()
    if _SQL_CHANGE.search(text):
        return "Promptboard only reads data; it cannot change the database."
    body = _POLITE.sub("", text)
    words = re.findall(r"[A-Za-z']+", body)
    if not words:
        return None
    verb = words[0].lower()
    if verb not in _CHANGE_VERBS or _QUESTION_START.match(body):
        return None
    rest = [w.lower() for w in words[1:]]
    if verb == "add" and rest[:1] == ["up"]:
        return None
    if verb in _SOFT_VERBS and rest[:1] and rest[0] in _NOUN_FOLLOWERS:
        return None  # "set of customers", "change in revenue": a noun, not a request
    obj = next((w for w in rest if w not in _OBJECT_STOP), None)
    if verb in _SOFT_VERBS and obj is None:
        return None
    target = f" {obj}" if obj else " data"
    return f"Promptboard only reads data; it cannot {_CHANGE_VERBS[verb]}{target}."


def world_question(question: str) -> str | None:
    """The refusal sentence for a question that is not about the data, else None."""
    for pattern, topic in _WORLD:
        if pattern.search(question):
            return (f"Promptboard answers questions about your data; it cannot answer "
                    f"questions about {topic}.")
    return None
