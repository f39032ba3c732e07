"""Print the grammar value in xgrammar's Lark dialect (``xgrammar.Grammar.from_lark``, 0.2.8).

xgrammar's Lark reader has no ``&``/``~``, no ``(?s:)`` flags, no ``\\x{..}`` escapes, no
terminal attributes (``[lazy]``), and its ``%json`` ignores grammargen's compact separators
(a looser language), so the value is first made plain (:mod:`.plain`, the same rules the
GBNF printer writes) and printed as rules only: literals, ``/[...]/`` classes, ``<[id]>`` and
named tokens, references, groups and repetitions.  Pass ``tokenizer_info`` to ``from_lark``
so named special tokens resolve.
"""

from __future__ import annotations

import re

from .. import ir
from ..errors import GrammarError
from .lark import repeat_suffix
from .plain import plain_rules


def print_xgrammar(value: ir.GrammarValue, specials: tuple[str, ...] = ()) -> str:
    """``value`` as xgrammar Lark, ``start`` first; ``specials``: marker texts no lexeme may hold."""
    rules = plain_rules(value, specials)
    names: dict[str, str] = {value.start: "start"}
    taken = {"start"}
    for rule in rules:
        if rule.name not in names:
            base = re.sub(r"[^a-z0-9_]+", "_", rule.name.lower()).strip("_") or "r"
            base = base if base[0].isalpha() else "r_" + base
            name, n = base, 1
            while name in taken:
                name, n = f"{base}_{n}", n + 1
            taken.add(name)
            names[rule.name] = name
    return "".join(f"{names[r.name]}: {_expr(r.expr, names)}\n" for r in rules)


def _expr(e: ir.Expr, names: dict[str, str], grouped: bool = False) -> str:
    if isinstance(e, ir.Lit):
        return '"' + "".join(_char(ord(c), in_class=False) for c in e.text) + '"'
    if isinstance(e, ir.Token):
        return f"<[{e.id}]>" if e.id is not None else e.name
    if isinstance(e, ir.Ref):
        if e.name not in names:
            raise GrammarError(f"rule {e.name!r} is referred to but not defined", path="xgrammar")
        return names[e.name]
    if isinstance(e, ir.Chars):
        if not e.ranges:
            if e.negated:
                return r"/[\s\S]/"
            raise GrammarError("an empty character class (matches nothing) has no xgrammar spelling",
                               path="xgrammar")
        body = "".join(_char(lo, True) if lo == hi else f"{_char(lo, True)}-{_char(hi, True)}"
                       for lo, hi in e.ranges)
        return f"/[{'^' if e.negated else ''}{body}]/"
    if isinstance(e, ir.Seq):
        if not e.items:
            return '""'
        text = " ".join(_expr(i, names, grouped=True) for i in e.items)
        return f"({text})" if grouped and len(e.items) > 1 else text
    if isinstance(e, ir.Alt):
        text = " | ".join(_expr(i, names) for i in e.items)
        return f"({text})" if grouped else text
    if isinstance(e, ir.Repeat):
        inner = _expr(e.item, names, grouped=True)
        if isinstance(e.item, ir.Repeat):
            inner = f"({inner})"
        return inner + repeat_suffix(e)
    raise GrammarError(f"xgrammar's Lark has no spelling for {type(e).__name__}", path="xgrammar")


def _char(cp: int, in_class: bool) -> str:
    """One code point in a string literal or a regex class, escaped where xgrammar needs it."""
    ch = chr(cp)
    if in_class:
        if ch.isascii() and (ch.isalnum() or ch == " "):
            return ch
        # \u with exactly four digits: xgrammar's \x reads every hex digit that follows
        # (`[^\x3ca]` is "not U+03CA"), measured
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"
    if ch in '"\\':
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if cp < 0x20 or cp == 0x7F or 0xD800 <= cp <= 0xDFFF:
        return f"\\u{cp:04x}"
    return ch
