"""Literals a model can never write: the text of a special token.

llguidance never lets a model spell out a special token's text with ordinary tokens (the
mask drops the byte path at its first character: measured with llguidance 1.9.1 for
``<|endoftext|>``, ``<|tool_call|>`` and ``[TOOL_CALLS]``).  A tool name, property name,
enum or const value that contains such a text therefore compiles into a grammar the model
cannot complete -- it fails at run time, not at compile time.  This check refuses it at
compile time, naming the value and the token.  The same goes for a profile's literal text
and for a marker matched as text that holds a special token's text.

One more literal is refused for the same reason: a property name holding U+007F (DEL),
which llguidance 1.9.1's ``%json`` expects raw in keys (but escaped in string values).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable

from .errors import ProfileError, ToolError, join_path, path_of
from .lark import MarkerForm, literal
from .profiles import Profile
from .tokenizer import Tokenizer
from .tools import Tool


def special_texts(tok: Tokenizer) -> tuple[str, ...]:
    """The texts of the tokens llguidance treats as special in this tokenizer."""
    return tuple(sorted(t.content for i, t in tok.added.items() if t.content and tok.ll.is_special_token(i)))


def check_writable(tools: Iterable[Tool], profile: Profile, forms: dict[str, MarkerForm],
                   tok: Tokenizer, written: Iterable[str] | None = None) -> None:
    """Refuse a tool name, schema literal or profile text that contains a special token's text.

    ``forms``: how each of the profile's markers is matched; a marker matched as text is
    literal text too (the profile does not list it as special, but this tokenizer has it).
    ``written``: the grammar text the schemas became (argument terminals, ``%json``
    schemas); when none of it holds a special token's text, the schemas need no walk.
    """
    specials = special_texts(tok)
    firsts = {s[0] for s in specials}
    for part in ("begin", "call", "separator", "end"):
        for i, piece in enumerate(getattr(profile, part)):
            if piece.kind == "marker" and forms[piece.value].kind != "text":
                continue
            if piece.kind in ("text", "marker", "choice"):
                for text in ([piece.value] if isinstance(piece.value, str) else piece.value):
                    if text in forms and forms[text].kind != "text":
                        continue  # a choice's marker, matched as its token
                    found = _find(text, specials, firsts)
                    if found:
                        raise ProfileError(f"{piece.kind} {text!r} contains {found!r}, the text of a special "
                                           "token of the tokenizer: list it under special (or token_ids) "
                                           "so it is matched as that token", source=profile.path,
                                           path=f"layout.{part}[{i}]")
    tools = list(tools)
    for tool in tools:
        found = _find(tool.name, specials, firsts)
        if found:
            raise ToolError(_message("tool name", tool.name, found), path=f"{tool.path}.name",
                            source=tool.source)
    if written is not None and _none_in(written, specials):
        return
    for tool in tools:
        where = f"{tool.path}.parameters" if tool.path else "parameters"
        for value, parts, what in _literals(tool.parameters, []):
            if what == "property name" and "\x7f" in value:
                raise ToolError(f"property name {value!r} contains U+007F (DEL): llguidance's %json writes it "
                                "raw in keys but escaped in strings, so no rendering of it is sure to be "
                                "accepted; rename the property", path=join_path(where, path_of(parts)),
                                source=tool.source)
            found = _find(value, specials, firsts)
            if found:
                raise ToolError(_message(what, value, found), path=join_path(where, path_of(parts)),
                                source=tool.source)


def _none_in(written: Iterable[str], specials: tuple[str, ...]) -> bool:
    """True when no written argument text holds a special token's text or DEL: nothing to walk.

    Literals reach the grammar JSON-escaped (``\\uXXXX`` past ASCII, the same in terminals
    and in ``%json``), so each special text is searched in that form, once over all of it;
    only a hit pays for the walk that finds the literal.  Descriptions are not written,
    so they never cause one.  A ``"`` is escaped once (a literal, ``%json``) or twice (a
    JSON value inside a literal: fastjson's terminals, enum values of arrays), and Python's
    ``repr`` leaves it as it is, so a text holding one (Gemma 4's ``<|"|>``) is searched
    in both forms (ASCII only: past ASCII the two escapings differ).  Texts escaped otherwise
    (a backslash, ``'``, which ``repr`` may escape, a control character) can't be searched
    this way.
    """
    if any("\\" in s or "'" in s or not s.isprintable() or ('"' in s and not s.isascii())
           for s in specials):
        return False
    text = "\n".join(written)
    if "u007f" in text:
        return False
    return _searched(specials).search(text) is None


@functools.lru_cache(maxsize=64)
def _searched(specials: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for the escaped forms of ``specials``: one pass over the text, where a
    search per token took one pass each (Qwen3's 26 over deepseekv32's grammar at 100 tools:
    0.60 -> 0.12 ms)."""
    forms = []
    for s in specials:
        once = literal(s)[1:-1]
        forms += [once, literal(once)[1:-1]] if '"' in s else [once]
    return re.compile("|".join(map(re.escape, forms)) or "(?!)")  # none: never found


def _find(text: str, specials: tuple[str, ...], firsts: set[str]) -> str:
    if not firsts & set(text):
        return ""
    return next((s for s in specials if s in text), "")


def _message(what: str, value: str, special: str) -> str:
    shown = value if len(value) <= 60 else value[:57] + "..."
    return (f"{what} {shown!r} contains {special!r}, the text of a special token: a model can never "
            "write it (llguidance keeps special tokens' text out of literals)")


def _literals(node: Any, parts: list[Any]) -> Iterable[tuple[str, list[Any], str]]:
    """Every property name and every string in enum, const and required, with its JSON path parts."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _literals(item, [*parts, i])
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in ("description", "title", "default", "examples", "$comment"):
            continue  # annotations never reach the grammar
        if key == "properties" and isinstance(value, dict):
            for name in value:
                yield name, [*parts, key, name], "property name"
        if key in ("enum", "const", "required"):
            yield from _strings(value, [*parts, key], "required name" if key == "required" else f"{key} value")
        yield from _literals(value, [*parts, key])


def _strings(value: Any, parts: list[Any], what: str) -> Iterable[tuple[str, list[Any], str]]:
    if isinstance(value, str):
        yield value, parts, what
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, [*parts, i], what)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key, [*parts, key], what
            yield from _strings(item, [*parts, key], what)
