"""Read the compiler's llguidance Lark back into the grammar value (:mod:`grammargen.ir`).

Printers for other engines start from this value, so it must say exactly what the Lark
says.  The reader knows only the subset grammargen writes -- ``name[lazy]: expr`` lines;
``|``, sequences, ``&``, prefix ``~``, groups, ``? * + {m} {m,n}``; JSON string literals,
``/regex/``, ``<[id]>`` and ``<...>`` special tokens, rule references, ``%json {...}`` --
and refuses anything else with a :class:`GrammarError` naming the line and column, so a
compiler change that writes new syntax fails a test instead of printing garbage.
"""

from __future__ import annotations

import json
import re

from .. import ir
from ..errors import GrammarError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEAD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[lazy\])?: ")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_REGEX = re.compile(r"/((?:[^/\\\n]|\\.)+)/")
_TOKEN_ID = re.compile(r"<\[([0-9]+)\]>")
_TOKEN_NAME = re.compile(r"<[^\s<>\[\]]+>")
_COUNT = re.compile(r"\{([0-9]*)(?:(,)([0-9]*))?\}")  # {m} {m,} {m,n} {,n}
_SPACE = re.compile(r"[ \t]*")


def read(lark: str) -> ir.GrammarValue:
    """The grammar value of ``lark``, a grammar grammargen's compiler wrote."""
    rules: list[ir.Rule] = []
    seen: set[str] = set()
    for number, line in enumerate(lark.splitlines(), 1):
        if not line.strip():
            continue
        head = _HEAD.match(line)
        if head is None:
            raise _error(number, 0, line, "expected 'name: ...' or 'name[lazy]: ...'")
        name = head.group(1)
        if name in seen:
            raise _error(number, 0, line, f"rule {name!r} is defined twice")
        seen.add(name)
        expr = _Line(line, number, head.end()).parse()
        rules.append(ir.Rule(name, expr, lazy=head.group(2) is not None))
    if "start" not in seen:
        raise GrammarError("the grammar has no 'start' rule", path="lark")
    for rule in rules:
        for ref in _refs(rule.expr):
            if ref not in seen:
                raise GrammarError(f"rule {rule.name!r} refers to {ref!r}, which is not defined",
                                   path="lark")
    return ir.GrammarValue(tuple(rules))


def _error(number: int, column: int, line: str, what: str) -> GrammarError:
    return GrammarError(f"line {number}, column {column + 1}: {what} in {line[:120]!r}", path="lark")


def _refs(expr: ir.Expr):
    if isinstance(expr, ir.Ref):
        yield expr.name
    elif isinstance(expr, (ir.Seq, ir.Alt, ir.And)):
        for item in expr.items:
            yield from _refs(item)
    elif isinstance(expr, (ir.Repeat, ir.Not)):
        yield from _refs(expr.item)


class _Line:
    """A recursive-descent reader of one rule's body; ``&`` binds looser than a sequence."""

    def __init__(self, text: str, number: int, pos: int) -> None:
        self.text, self.number, self.pos = text, number, pos

    def parse(self) -> ir.Expr:
        expr = self.alternatives()
        self.skip()
        if self.pos != len(self.text):
            raise self.error("unexpected text")
        return expr

    def error(self, what: str) -> GrammarError:
        return _error(self.number, self.pos, self.text, what)

    def skip(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def alternatives(self) -> ir.Expr:
        items = [self.conjunction()]
        while self.peek("|"):
            self.pos += 1
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else ir.Alt(tuple(items))

    def conjunction(self) -> ir.Expr:
        items = [self.sequence()]
        while self.peek("&"):
            self.pos += 1
            items.append(self.sequence())
        return items[0] if len(items) == 1 else ir.And(tuple(items))

    def sequence(self) -> ir.Expr:
        items = []
        while True:
            self.skip()
            if self.pos == len(self.text) or self.text[self.pos] in "|&)":
                break
            items.append(self.item())
        if not items:
            raise self.error("expected an expression")
        return items[0] if len(items) == 1 else ir.Seq(tuple(items))

    def item(self) -> ir.Expr:
        if self.peek("~"):
            self.pos += 1
            return ir.Not(self.item())
        expr = self.atom()
        while True:
            if self.pos < len(self.text) and self.text[self.pos] in "?*+":
                op = self.text[self.pos]
                self.pos += 1
                expr = ir.Repeat(expr, 0 if op != "+" else 1, 1 if op == "?" else None)
                continue
            count = _COUNT.match(self.text, self.pos)
            if count is None or not (count.group(1) or count.group(3)):
                return expr  # ("{}" and "{,}" are not counts)
            self.pos = count.end()
            low = int(count.group(1) or 0)
            high = low if count.group(2) is None else (int(count.group(3)) if count.group(3) else None)
            if high is not None and high < low:
                raise self.error(f"repetition {{{low},{high}}} has its bounds reversed")
            expr = ir.Repeat(expr, low, high)

    def atom(self) -> ir.Expr:
        text, pos = self.text, self.pos
        if text.startswith("(", pos):
            self.pos += 1
            expr = self.alternatives()
            if not self.peek(")"):
                raise self.error("expected ')'")
            self.pos += 1
            return expr
        if text.startswith("%json", pos):
            self.pos += len("%json")
            self.skip()
            try:
                schema, end = json.JSONDecoder().raw_decode(text, self.pos)
            except json.JSONDecodeError as exc:
                raise self.error(f"%json is not followed by a JSON value ({exc.msg})") from exc
            self.pos = end
            return ir.Json(schema)
        for pattern, make in ((_STRING, lambda m: ir.Lit(json.loads(m.group(0)))),
                              (_REGEX, lambda m: ir.Regex(m.group(1))),
                              (_TOKEN_ID, lambda m: ir.Token(id=int(m.group(1)))),
                              (_TOKEN_NAME, lambda m: ir.Token(name=m.group(0))),
                              (_NAME, lambda m: ir.Ref(m.group(0)))):
            match = pattern.match(text, pos)
            if match is not None:
                try:
                    expr = make(match)
                except json.JSONDecodeError as exc:
                    raise self.error(f"a string literal that is not JSON ({exc.msg})") from exc
                self.pos = match.end()
                return expr
        raise self.error("expected a string, /regex/, token, rule name, %json or '('")
