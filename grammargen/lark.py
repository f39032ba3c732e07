"""Writing llguidance Lark safely: string literals, regex literals, special-token references.

Everything user-supplied (tool names, markers) reaches the grammar only through these
functions, so quoting is decided in one place.  Rule names never come from user input.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Literal


def literal(text: str) -> str:
    """A Lark string literal matching exactly ``text`` (JSON escapes; the grammar stays ASCII)."""
    return _ascii_string(text)  # json.dumps(text), without its per-call overhead: this is hot


def concat(parts: Iterable[str]) -> str:
    """Lark expressions in sequence, with a space only where two would read as one token.

    llguidance's Lark reader pays for every token it lexes, whitespace included (about
    4,000 instructions a space): the spaces between the parts of 100 tools' argument
    terminals were 16% of their grammar's build (cachegrind).  A space stays between two
    names, and where a name would be read into what precedes it: ``?name`` is one token (an
    inlined rule), ``"a"i`` a string with the ``i`` flag, ``/a/s`` a regex with flags.
    """
    out: list[str] = []
    for part in parts:
        if part:
            if out and part[0] in NAME_CHARS and runs_into(out[-1], part):
                out.append(" ")
            out.append(part)
    return "".join(out)


def runs_into(before: str, name: str) -> bool:
    """Whether ``name`` (an expression starting with a name character) written right after
    ``before`` would be read into it (see :func:`concat`)."""
    last = before[-1]
    return last in NAME_CHARS or name[0] in _RUNS_INTO.get(last, "")


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
# the first characters of a name that llguidance's Lark lexer reads into the token before it
_RUNS_INTO = {"?": "abcdefghijklmnopqrstuvwxyz_", '"': "i", "/": "imslux"}


_ascii_string = json.encoder.encode_basestring_ascii
_unicode_string = json.encoder.encode_basestring


def regex_escape(text: str) -> str:
    """``text`` as a piece of a ``/.../`` regex that matches it literally.

    Letters and digits stay as they are; every other ASCII character and every control
    character becomes ``\\x{..}`` (which also keeps ``/`` from ending the regex).
    """
    out = []
    for ch in text:
        if (ch.isascii() and ch.isalnum()) or (not ch.isascii() and unicodedata.category(ch)[0] != "C"):
            out.append(ch)
        else:
            out.append(f"\\x{{{ord(ch):x}}}")
    return "".join(out)


def json_text(value: object) -> str:
    """A JSON value written the way models write it: ", " and ": " separators, raw Unicode.

    This is also the one spelling llguidance's exact JSON accepts: escapes only where JSON
    needs them, plus DEL as ``\\u007f`` (llguidance refuses it raw).
    """
    text = _unicode_string(value) if isinstance(value, str) else _COMPACT.encode(value)
    return text.replace("\x7f", "\\u007f")


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))  # built once: json_text is hot


MarkerKind = Literal["special", "id", "text"]


@dataclass(frozen=True)
class MarkerForm:
    """How one marker is matched: a special token by name, a token by id, or plain text."""

    kind: MarkerKind
    token_id: int | None = None

    def lark(self, marker: str) -> str:
        if self.kind == "special":
            return marker
        if self.kind == "id":
            return f"<[{self.token_id}]>"
        return literal(marker)


def is_angle_marker(marker: str) -> bool:
    """Only ``<...>`` markers can be named in Lark; a ``>`` inside would end the reference."""
    return (len(marker) > 2 and marker.startswith("<") and marker.endswith(">")
            and ">" not in marker[1:-1] and "<" not in marker[1:-1]
            and not marker.startswith("<[") and all(not c.isspace() for c in marker)
            and all(unicodedata.category(c)[0] != "C" for c in marker))
