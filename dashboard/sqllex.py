"""A tokenizer that splits SQL text exactly where PostgreSQL's own scanner does.

Why our own: the SQL guard must see the same token boundaries as the server. sqlglot's
tokenizer is generous (it reads `#` comments in some dialects, concatenates adjacent
strings, decodes escapes its own way), and a guard that disagrees with the server about
where a string or a comment ends can be fooled into checking the wrong statement. This
module follows `src/backend/parser/scan.l` for the parts that decide boundaries:
nested block comments, dollar quotes (and `$` inside identifiers), E'' escapes,
U&'' / U&"" with UESCAPE, quote continuation across newlines, identifier folding and
truncation, and the "trailing junk after numeric literal" rule of PostgreSQL 15+.

`scan(sql)` returns a `Scan`: the statements (split on `;`), each as tokens plus two
renderings: `clean` (the statement as written, comments blanked, no `;`) which is what
the executor sends, and `canonical` (strings re-quoted in one plain form, Unicode
identifiers decoded) which is what sqlglot parses. Problems raise `LexError` with a
message written for an analyst.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAMEDATALEN = 64  # PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes.
MAX_DEPTH = 40  # parentheses/brackets; deeper nesting is never an analyst query.

WHITESPACE = " \t\n\r\f\v"
_OP_CHARS = set("~!@#^&|`?+-*/%<>=")
_SELF_CHARS = set(",()[].;:+-*/%^<>=")
# Characters PostgreSQL's scanner rejects or that only make sense in psql/other dialects.
_REJECTED_CHARS = {"`": "a backtick", "\\": "a backslash", "{": "a brace", "}": "a brace"}
_SPECIAL_OP_CHARS = set("~!@#^&|`?%")


class LexError(ValueError):
    """The text cannot be tokenized the way PostgreSQL would; `message` is for analysts."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Token:
    """One token. `value`: decoded text (strings), folded name (identifiers)."""

    kind: str  # word, qident, string, bitstring, number, op, punct, semicolon, comment
    text: str  # exactly as written
    value: str
    start: int
    end: int
    prefix: str = ""  # b/x for bit strings


@dataclass
class Statement:
    tokens: list[Token] = field(default_factory=list)  # without comments and semicolons
    clean: str = ""
    canonical: str = ""


@dataclass
class Scan:
    statements: list[Statement]  # non-empty statements only
    tokens: list[Token]  # every token, comments and semicolons included


def _is_ident_start(ch: str) -> bool:
    return not ch.isascii() or ch.isalpha() or ch == "_"


def _is_ident_cont(ch: str) -> bool:
    return _is_ident_start(ch) or (ch.isdigit() and ch.isascii()) or ch == "$"


def fold_identifier(name: str) -> str:
    """PostgreSQL's downcase_truncate_identifier for UTF-8: ASCII letters only."""
    return truncate_identifier(name.translate(_ASCII_LOWER))


def truncate_identifier(name: str) -> str:
    raw = name.encode("utf-8")
    if len(raw) < NAMEDATALEN:
        return name
    return raw[: NAMEDATALEN - 1].decode("utf-8", errors="ignore")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
# scan.l's {quotecontinue}: {horiz_whitespace}*{newline}{special_whitespace}*{quote}, where
# horiz_whitespace is [ \t\f] or a -- comment, special_whitespace is spaces or a comment+newline.
# Possessive quantifiers: no backtracking, so long runs of spaces cannot stall the scan.
_QUOTE_CONTINUE = re.compile(
    r"(?:[ \t\f]|--[^\n\r]*+)*+[\n\r](?:[ \t\n\r\f\v]|--[^\n\r]*+[\n\r])*+'")
_HEX = set("0123456789abcdefABCDEF")


class _Scanner:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.n = len(sql)
        self.tokens: list[Token] = []

    # -- helpers -----------------------------------------------------------------------
    def _add(self, kind: str, start: int, end: int, value: str, prefix: str = "") -> None:
        self.tokens.append(Token(kind, self.sql[start:end], value, start, end, prefix))

    def _quoted_body(self, pos: int, *, backslash_escapes: bool) -> tuple[str, int]:
        """Body of a '...' literal starting after the opening quote; handles continuation.

        Returns the raw body (quotes undoubled, backslash escapes still raw when
        `backslash_escapes`) and the index after the closing quote.
        """
        sql, parts = self.sql, []
        while True:
            i = pos
            while True:
                if i >= self.n:
                    raise LexError("A quoted string is not closed (a ' is missing).")
                ch = sql[i]
                if backslash_escapes and ch == "\\":
                    if i + 1 >= self.n:
                        raise LexError("A quoted string is not closed (a ' is missing).")
                    i += 2
                    continue
                if ch == "'":
                    if i + 1 < self.n and sql[i + 1] == "'":
                        i += 2
                        continue
                    break
                i += 1
            parts.append(sql[pos:i])
            end = i + 1
            cont = _QUOTE_CONTINUE.match(sql, end)
            if not cont:
                return "".join(parts), end
            pos = cont.end()

    def _uescape(self, pos: int) -> tuple[str, int]:
        """Optional `UESCAPE 'c'` after a U& literal (whitespace/comments allowed)."""
        i = self._skip_space(pos)
        if self.sql[i : i + 7].lower() != "uescape" or (
            i + 7 < self.n and _is_ident_cont(self.sql[i + 7])
        ):
            return "\\", pos
        j = self._skip_space(i + 7)
        m = re.compile(r"'([^']|'')'").match(self.sql, j)
        if not m:
            raise LexError("UESCAPE must be followed by a one-character string.")
        ch = "'" if m.group(1) == "''" else m.group(1)
        if ch in _HEX or ch in "+'\"" or ch in WHITESPACE:
            raise LexError("Invalid Unicode escape character after UESCAPE.")
        return ch, m.end()

    def _skip_space(self, i: int) -> int:
        sql = self.sql
        while i < self.n:
            if sql[i] in WHITESPACE:
                i += 1
            elif sql.startswith("--", i):
                while i < self.n and sql[i] not in "\n\r":
                    i += 1
            elif sql.startswith("/*", i):
                i = self._block_comment_end(i)
            else:
                break
        return i

    def _block_comment_end(self, i: int) -> int:
        depth, i = 1, i + 2
        sql = self.sql
        while depth:
            a = sql.find("/*", i)
            b = sql.find("*/", i)
            if b < 0:
                raise LexError("A /* comment is not closed (*/ is missing).")
            if 0 <= a < b:
                depth, i = depth + 1, a + 2
            else:
                depth, i = depth - 1, b + 2
        return i

    # -- main loop ---------------------------------------------------------------------
    def run(self) -> list[Token]:
        sql, i = self.sql, 0
        while i < self.n:
            ch = sql[i]
            if ch in WHITESPACE:
                i += 1
            elif sql.startswith("--", i):
                j = i
                while j < self.n and sql[j] not in "\n\r":
                    j += 1
                self._add("comment", i, j, "")
                i = j
            elif sql.startswith("/*", i):
                j = self._block_comment_end(i)
                self._add("comment", i, j, "")
                i = j
            elif ch == "'":
                body, j = self._quoted_body(i + 1, backslash_escapes=False)
                self._add("string", i, j, body.replace("''", "'"))
                i = j
            elif ch == '"':
                i = self._quoted_ident(i, i + 1, unicode=False)
            elif ch == "$":
                i = self._dollar(i)
            elif (ch.isascii() and ch.isdigit()) or (
                ch == "." and i + 1 < self.n and sql[i + 1].isascii() and sql[i + 1].isdigit()
            ):
                i = self._number(i)
            elif _is_ident_start(ch):
                i = self._word(i)
            elif ch == ";":
                self._add("semicolon", i, i + 1, ";")
                i += 1
            elif ch in _REJECTED_CHARS:
                raise LexError(f"The query contains {_REJECTED_CHARS[ch]} ({ch}), which is "
                               "not valid PostgreSQL outside a quoted string.")
            elif ch in _OP_CHARS or ch in _SELF_CHARS:
                i = self._operator(i)
            else:
                raise LexError(f"Unexpected character {ch!r} in the query.")
        return self.tokens

    def _word(self, i: int) -> int:
        sql, j = self.sql, i + 1
        while j < self.n and _is_ident_cont(sql[j]):
            j += 1
        word = sql[i:j]
        nxt = sql[j] if j < self.n else ""
        low = word.lower()
        if nxt == "'" and low in ("e", "b", "x", "n"):
            return self._prefixed_string(i, j, low)
        if low == "u" and nxt == "&" and j + 1 < self.n and sql[j + 1] in "'\"":
            if sql[j + 1] == '"':
                return self._quoted_ident(i, j + 2, unicode=True)
            return self._unicode_string(i, j + 2)
        self._add("word", i, j, fold_identifier(word))
        return j

    def _prefixed_string(self, start: int, quote: int, prefix: str) -> int:
        if prefix == "e":
            body, j = self._quoted_body(quote + 1, backslash_escapes=True)
            self._add("string", start, j, _decode_escape_string(body))
            return j
        body, j = self._quoted_body(quote + 1, backslash_escapes=False)
        if prefix == "n":
            self._add("string", start, j, body.replace("''", "'"))
            return j
        allowed = set("01") if prefix == "b" else _HEX
        if not set(body) <= allowed:
            kind = "binary" if prefix == "b" else "hexadecimal"
            raise LexError(f"Invalid {kind} digit in a {prefix.upper()}'' bit-string literal.")
        self._add("bitstring", start, j, body, prefix=prefix)
        return j

    def _unicode_string(self, start: int, body_start: int) -> int:
        body, j = self._quoted_body(body_start, backslash_escapes=False)
        escape, j = self._uescape(j)
        value = _decode_unicode(body.replace("''", "'"), escape)
        self._add("string", start, j, value)
        return j

    def _quoted_ident(self, start: int, body_start: int, *, unicode: bool) -> int:
        sql, i = self.sql, body_start
        while True:
            k = sql.find('"', i)
            if k < 0:
                raise LexError('A quoted name is not closed (a " is missing).')
            if k + 1 < self.n and sql[k + 1] == '"':
                i = k + 2
                continue
            break
        body = sql[body_start:k].replace('""', '"')
        end = k + 1
        if unicode:
            escape, end = self._uescape(end)
            body = _decode_unicode(body, escape)
        if not body:
            raise LexError('An empty quoted name ("") is not allowed.')
        if "\x00" in body:
            raise LexError("A quoted name contains a zero byte.")
        self._add("qident", start, end, truncate_identifier(body))
        return end

    def _dollar(self, i: int) -> int:
        sql = self.sql
        if i + 1 < self.n and sql[i + 1].isascii() and sql[i + 1].isdigit():
            raise LexError("Query parameters such as $1 are not supported: write the value "
                           "into the query.")
        m = _DOLLAR_TAG.match(sql, i)
        if not m:
            raise LexError("A stray $ is not valid here.")
        delim = m.group(0)
        close = sql.find(delim, m.end())
        if close < 0:
            raise LexError(f"A dollar-quoted string is not closed ({delim} is missing).")
        self._add("string", i, close + len(delim), sql[m.end() : close])
        return close + len(delim)

    def _number(self, i: int) -> int:
        sql, j = self.sql, i

        def digits(k: int) -> int:
            while k < self.n and sql[k].isascii() and sql[k].isdigit():
                k += 1
            return k

        j = digits(j)
        if j < self.n and sql[j] == "." and not sql.startswith("..", j):
            j = digits(j + 1)
        if j < self.n and sql[j] in "eE":
            k = j + 1
            if k < self.n and sql[k] in "+-":
                k += 1
            if k < self.n and sql[k].isascii() and sql[k].isdigit():
                j = digits(k)
            else:
                raise LexError(f"Trailing junk after the number {sql[i:k]!r}.")
        if j < self.n and _is_ident_cont(sql[j]):
            raise LexError(f"Trailing junk after the number {sql[i:j]!r} (write a space or "
                           "an operator between a number and a name).")
        self._add("number", i, j, sql[i:j])
        return j

    def _operator(self, i: int) -> int:
        sql, j = self.sql, i
        if sql[i] in _SELF_CHARS and sql[i] not in _OP_CHARS:
            # punctuation: , ( ) [ ] . ; : -- ':' may pair into '::' or ':='
            if sql.startswith("::", i) or sql.startswith(":=", i):
                self._add("op", i, i + 2, sql[i : i + 2])
                return i + 2
            if sql.startswith("..", i):
                self._add("op", i, i + 2, "..")
                return i + 2
            self._add("punct", i, i + 1, sql[i])
            return i + 1
        while j < self.n and sql[j] in _OP_CHARS:
            if sql.startswith("--", j) or sql.startswith("/*", j):
                break
            j += 1
        text = sql[i:j]
        # PostgreSQL strips a trailing + or - from a multi-character operator unless it
        # contains one of ~!@#%^&|`? (so that `a=-1` is `a = -1`).
        if len(text) > 1 and text[-1] in "+-" and not set(text) & _SPECIAL_OP_CHARS:
            while len(text) > 1 and text[-1] in "+-":
                text = text[:-1]
            j = i + len(text)
        self._add("op", i, j, text)
        return j


def _decode_escape_string(body: str) -> str:
    """Decode the body of an E'' string the way PostgreSQL does (UTF-8 server encoding)."""
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "'":  # a doubled quote inside E''
            out += b"'"
            i += 2
            continue
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        i += 1
        esc = body[i]
        simple = {"b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t"}
        if esc in simple:
            out += simple[esc]
            i += 1
        elif esc in "01234567":
            j = i
            while j < n and j < i + 3 and body[j] in "01234567":
                j += 1
            out.append(int(body[i:j], 8) & 0xFF)
            i = j
        elif esc == "x" and i + 1 < n and body[i + 1] in _HEX:
            j = i + 1
            while j < n and j < i + 3 and body[j] in _HEX:
                j += 1
            out.append(int(body[i + 1 : j], 16))
            i = j
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            digits = body[i + 1 : i + 1 + width]
            if len(digits) != width or not set(digits) <= _HEX:
                raise LexError("Invalid Unicode escape in an E'' string (use \\uXXXX or "
                               "\\UXXXXXXXX).")
            code = int(digits, 16)
            i += 1 + width
            if 0xD800 <= code <= 0xDBFF and body[i : i + 2] == "\\u":
                low = body[i + 2 : i + 6]
                if len(low) == 4 and set(low) <= _HEX and 0xDC00 <= int(low, 16) <= 0xDFFF:
                    code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)
                    i += 6
            out += _code_point(code)
        else:
            out += esc.encode("utf-8")
            i += 1
    return _utf8(bytes(out))


def _decode_unicode(body: str, escape: str) -> str:
    """Decode U&'' / U&"" bodies: `\\XXXX`, `\\+XXXXXX`, doubled escape character."""
    out: list[str] = []
    i, n = 0, len(body)
    pending_high: int | None = None
    while i < n:
        ch = body[i]
        if ch != escape:
            if pending_high is not None:
                raise LexError("Invalid Unicode surrogate pair in a U& literal.")
            out.append(ch)
            i += 1
            continue
        if body[i + 1 : i + 2] == escape:
            out.append(escape)
            i += 2
            continue
        if body[i + 1 : i + 2] == "+":
            digits, i = body[i + 2 : i + 8], i + 8
            width = 6
        else:
            digits, i = body[i + 1 : i + 5], i + 5
            width = 4
        if len(digits) != width or not set(digits) <= _HEX:
            raise LexError("Invalid Unicode escape in a U& literal.")
        code = int(digits, 16)
        if pending_high is not None:
            if not 0xDC00 <= code <= 0xDFFF:
                raise LexError("Invalid Unicode surrogate pair in a U& literal.")
            code = 0x10000 + ((pending_high - 0xD800) << 10) + (code - 0xDC00)
            pending_high = None
        elif 0xD800 <= code <= 0xDBFF:
            pending_high = code
            continue
        out.append(_code_point(code).decode("utf-8"))
    if pending_high is not None:
        raise LexError("Invalid Unicode surrogate pair in a U& literal.")
    text = "".join(out)
    if "\x00" in text:
        raise LexError("A U& literal contains a zero character.")
    return text


def _code_point(code: int) -> bytes:
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise LexError("Invalid Unicode code point in an escape.")
    return chr(code).encode("utf-8")


def _utf8(raw: bytes) -> str:
    if b"\x00" in raw:
        raise LexError("A string contains a zero byte, which PostgreSQL does not accept.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LexError("An escape sequence in an E'' string is not valid UTF-8.") from None


def _quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote_ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _canonical(token: Token) -> str:
    if token.kind == "string":
        return _quote_string(token.value)
    if token.kind == "bitstring":
        return f"{token.prefix.upper()}'{token.value}'"
    if token.kind == "qident":
        return _quote_ident(token.value)
    if token.kind == "word" and (
        "$" in token.text or not token.text.isascii() or token.value != token.text.lower()
    ):
        # Cannot be a keyword: hand sqlglot the folded name as a quoted identifier.
        return _quote_ident(token.value)
    return token.text


def scan(sql: str) -> Scan:
    """Tokenize `sql` like PostgreSQL and split it into non-empty statements."""
    if "\x00" in sql:
        raise LexError("The query contains a zero byte, which PostgreSQL does not accept.")
    tokens = _Scanner(sql).run()
    statements: list[Statement] = []
    current: list[Token] = []
    comments: list[Token] = []

    def flush() -> None:
        if current:
            statements.append(_build(sql, current, comments))
        current.clear()
        comments.clear()

    for token in tokens:
        if token.kind == "semicolon":
            flush()
        elif token.kind == "comment":
            comments.append(token)
        else:
            current.append(token)
    flush()
    return Scan(statements, tokens)


def _build(sql: str, tokens: list[Token], comments: list[Token]) -> Statement:
    depth = 0
    previous: Token | None = None
    canonical: list[str] = []
    for token in tokens:
        if token.text in ("(", "["):
            depth += 1
            if depth > MAX_DEPTH:
                raise LexError(f"The query is nested more than {MAX_DEPTH} levels deep.")
        elif token.text in (")", "]"):
            depth -= 1
        if previous is not None:
            if previous.kind in ("string", "bitstring") and token.kind in ("string", "bitstring"):
                raise LexError("Two string literals follow each other without an operator.")
            if previous.end != token.start:
                canonical.append(" ")
        canonical.append(_canonical(token))
        previous = token
    start, end = tokens[0].start, tokens[-1].end
    clean = sql[start:end]
    # Blank out comments inside the statement (they act as whitespace in PostgreSQL);
    # work from the end so earlier offsets stay valid.
    for comment in sorted(comments, key=lambda c: c.start, reverse=True):
        if start <= comment.start and comment.end <= end:
            clean = clean[: comment.start - start] + " " + clean[comment.end - start :]
    return Statement(list(tokens), clean.strip(), "".join(canonical))
