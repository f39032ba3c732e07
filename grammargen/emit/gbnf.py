"""Print the grammar value as llama.cpp GBNF (llama-cpp-python, llama-server's ``grammar``).

GBNF is plain rules over literals, character classes and tokens, so the value is first
made plain (:mod:`.plain`).  What this printer must respect, measured in docs/engines.md:
rule names are letters, digits and ``-`` (``root`` starts); a repetition bound over 2000
is an error (``{m}``) or silently unbounded (``{m,n}``), and the bound times the rules the
repeated item makes may not pass 2000 -- so every repeated item is one symbol and bounds
over 2000 are chained through helper rules; special tokens are ``<[id]>`` or ``<name>``,
never quoted (a quoted marker also matches the token).
"""

from __future__ import annotations

import re
import unicodedata

from .. import ir
from ..errors import GrammarError
from .plain import plain_rules

LIMIT = 2000  # llama.cpp's MAX_REPETITION_THRESHOLD


def print_gbnf(value: ir.GrammarValue, specials: tuple[str, ...] = ()) -> str:
    """``value`` as GBNF, ``root`` first; ``specials``: marker texts no lexeme may hold."""
    return _Printer(plain_rules(value, specials), value.start).text()


class _Printer:
    def __init__(self, rules: list[ir.Rule], start: str) -> None:
        self.rules = rules
        self.names: dict[str, str] = {start: "root"}
        taken = {"root"}
        for rule in rules:
            if rule.name in self.names:
                continue
            # lower case: Lark's HEAD and head are two rules, and some GBNF readers fold case
            base = re.sub(r"[^a-z0-9-]+", "-", rule.name.lower()).strip("-") or "r"
            name, n = base, 1
            while name in taken:
                name, n = f"{base}-{n}", n + 1
            taken.add(name)
            self.names[rule.name] = name
        self.taken = taken
        self.extra: list[str] = []  # helper rules: repeated groups, long repetitions

    def text(self) -> str:
        lines = [f"{self.names[r.name]} ::= {self.expr(r.expr)}" for r in self.rules]
        return "\n".join(lines + self.extra) + "\n"

    def helper(self, body: str) -> str:
        n = len(self.extra)
        while f"g-{n}" in self.taken:
            n += 1
        self.taken.add(f"g-{n}")
        self.extra.append(f"g-{n} ::= {body}")
        return f"g-{n}"

    def expr(self, e: ir.Expr, grouped: bool = False) -> str:
        if isinstance(e, ir.Lit):
            if not e.text:
                return '""'
            return '"' + "".join(_char(ord(c), in_class=False) for c in e.text) + '"'
        if isinstance(e, ir.Token):
            return f"<[{e.id}]>" if e.id is not None else e.name
        if isinstance(e, ir.Ref):
            if e.name not in self.names:
                raise GrammarError(f"rule {e.name!r} is referred to but not defined", path="gbnf")
            return self.names[e.name]
        if isinstance(e, ir.Chars):
            return _class(e)
        if isinstance(e, ir.Seq):
            text = " ".join(self.expr(i, grouped=True) for i in e.items) or '""'
            return f"( {text} )" if grouped and len(e.items) > 1 else text
        if isinstance(e, ir.Alt):
            text = " | ".join(self.expr(i) for i in e.items)
            return f"( {text} )" if grouped else text
        if isinstance(e, ir.Repeat):
            return self.repeat(e)
        raise GrammarError(f"GBNF has no spelling for {type(e).__name__}", path="gbnf")

    def symbol(self, e: ir.Expr) -> str:
        """``e`` as one symbol: a literal, class, token or rule (a group becomes a helper rule)."""
        if isinstance(e, (ir.Lit, ir.Token, ir.Ref, ir.Chars)):
            return self.expr(e)
        return self.helper(self.expr(e))

    def repeat(self, r: ir.Repeat) -> str:
        low, high = r.min, r.max
        if high in (1, None) and low <= 1:  # ? * +: llama.cpp repeats a group once, inline is fine
            return self.expr(r.item, grouped=True) + {(0, 1): "?", (0, None): "*", (1, None): "+"}.get(
                (low, high), "")
        item = self.symbol(r.item)
        if high is not None and high <= LIMIT:
            if (low, high) == (0, 1):
                return f"{item}?"
            return f"{item}{{{low}}}" if low == high else f"{item}{{{low},{high}}}"
        parts = []
        while low > LIMIT:  # {m} with m > 2000 is an error: take 2000 at a time
            parts.append(f"{item}{{{LIMIT}}}")
            low -= LIMIT
            high = None if high is None else high - LIMIT
        if high is None:
            parts.append({0: f"{item}*", 1: f"{item}+"}.get(low, f"{item}{{{low},}}"))
        else:
            if low:
                parts.append(f"{item}{{{low}}}")
            parts.append(self.upto(item, high - low))
        return " ".join(parts)

    def upto(self, item: str, n: int) -> str:
        """Zero to ``n`` of ``item``, for any ``n``: ``{0,n}`` over 2000 would be unbounded."""
        if n <= LIMIT:
            return f"{item}{{0,{n}}}"
        return self.helper(f"{item}{{0,{LIMIT - 1}}} | {item}{{{LIMIT}}} {self.upto(item, n - LIMIT)}")


def _class(c: ir.Chars) -> str:
    if not c.ranges:
        if c.negated:  # any character (not `.`: llguidance's GBNF reader turns it into a bad regex)
            return "[\\x00-\\U0010FFFF]"
        raise GrammarError("an empty character class (matches nothing) has no GBNF spelling", path="gbnf")
    body = "".join(_char(lo, True) if lo == hi else f"{_char(lo, True)}-{_char(hi, True)}"
                   for lo, hi in c.ranges)
    return f"[{'^' if c.negated else ''}{body}]"


def _char(cp: int, in_class: bool) -> str:
    """One code point inside a GBNF string (or, ``in_class``, a class), escaped where needed."""
    ch = chr(cp)
    if in_class and ch in "[]-^\\":
        return f"\\x{cp:02X}"  # not \-: llama.cpp reads it, llguidance's GBNF reader does not
    if ch in "\\\"":
        return "\\" + ch
    if cp < 0x80:
        if ch == "\n":
            return "\\n"
        if ch == "\t":
            return "\\t"
        if ch == "\r":
            return "\\r"
        return ch if 0x20 <= cp < 0x7F else f"\\x{cp:02X}"
    if unicodedata.category(ch)[0] in "CZ" and ch != " ":
        return f"\\u{cp:04X}" if cp <= 0xFFFF else f"\\U{cp:08X}"
    return ch
