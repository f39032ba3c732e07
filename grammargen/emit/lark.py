"""Print the grammar value as llguidance Lark (what ``compile`` writes, read back and printed).

Reading a compiled grammar and printing it gives the same language (tests check it with
llguidance on every format); groups the compiler wrote around a whole body are dropped.
"""

from __future__ import annotations

import json

from .. import ir
from ..errors import GrammarError
from ..lark import literal

# Binding strength: an alternative < a conjunction < a sequence < a prefix ~ < a repeat.
_ALT, _AND, _SEQ, _NOT, _ATOM = range(5)


def print_lark(value: ir.GrammarValue) -> str:
    """``value`` as llguidance Lark, one rule a line, in the value's order."""
    lines = []
    for rule in value.rules:
        lines.append(f"{rule.name}{'[lazy]' if rule.lazy else ''}: {expr(rule.expr)}")
    return "\n".join(lines) + "\n"


def expr(e: ir.Expr, context: int = _ALT) -> str:
    """One expression in Lark syntax, parenthesized where ``context`` binds tighter."""
    if isinstance(e, ir.Lit):
        return literal(e.text)
    if isinstance(e, ir.Token):
        return e.name if e.name is not None else f"<[{e.id}]>"
    if isinstance(e, ir.Ref):
        return e.name
    if isinstance(e, ir.Regex):
        return f"/{e.pattern}/"
    if isinstance(e, ir.Json):
        return "%json " + json.dumps(e.schema, ensure_ascii=False)
    if isinstance(e, ir.Chars):
        return f"/{chars_regex(e)}/"
    if isinstance(e, ir.Alt):
        return _wrap(" | ".join(expr(i, _AND) for i in e.items), _ALT, context)
    if isinstance(e, ir.And):
        return _wrap(" & ".join(expr(i, _SEQ) for i in e.items), _AND, context)
    if isinstance(e, ir.Seq):
        return _wrap(" ".join(expr(i, _NOT) for i in e.items), _SEQ, context)
    if isinstance(e, ir.Not):
        return _wrap("~" + expr(e.item, _NOT), _NOT, context)
    if isinstance(e, ir.Repeat):
        inner = expr(e.item, _ATOM)
        return (f"({inner})" if isinstance(e.item, ir.Repeat) else inner) + repeat_suffix(e)
    raise GrammarError(f"the Lark printer has no spelling for {type(e).__name__}")


def _wrap(text: str, own: int, context: int) -> str:
    return f"({text})" if own < context else text


def repeat_suffix(r: ir.Repeat) -> str:
    """``?``, ``*``, ``+`` or ``{m}``, ``{m,}``, ``{m,n}``."""
    if (r.min, r.max) == (0, 1):
        return "?"
    if (r.min, r.max) == (0, None):
        return "*"
    if (r.min, r.max) == (1, None):
        return "+"
    if r.max is None:
        return f"{{{r.min},}}"
    return f"{{{r.min}}}" if r.min == r.max else f"{{{r.min},{r.max}}}"


def chars_regex(c: ir.Chars, escape=lambda cp: f"\\x{{{cp:x}}}") -> str:
    """A character class, every bound escaped (``escape`` spells one code point)."""
    body = "".join(escape(lo) if lo == hi else f"{escape(lo)}-{escape(hi)}" for lo, hi in c.ranges)
    if not body:  # an empty class: nothing (or, negated, anything)
        return "[\\s\\S]" if c.negated else "[^\\s\\S]"
    return f"[{'^' if c.negated else ''}{body}]"
