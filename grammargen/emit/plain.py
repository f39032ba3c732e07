"""The grammar value with every regex, ``&``/``~``, lazy lexeme and ``%json`` made into rules.

GBNF and xgrammar's Lark read plain context-free rules over literals, character classes and
tokens; they have no terminal intersection, no lazy lexemes and no exact compact JSON.  This
module walks the value once and hands each such piece to :mod:`grammargen.emit.lower`
(regexes, ``&``/``~``, lazy) or :mod:`grammargen.emit.json_rules` (``%json``), which return
equivalent rules over ``Lit``/``Chars``/``Ref``/``Seq``/``Alt``/``Repeat``, or raise a
:class:`GrammarError` naming what they cannot write exactly.
"""

from __future__ import annotations

import re
from typing import Iterable

from .. import ir
from ..errors import GrammarError
from ..lark import regex_escape

PLAIN = (ir.Lit, ir.Token, ir.Ref, ir.Chars, ir.Seq, ir.Alt, ir.Repeat)


def plain_rules(value: ir.GrammarValue, specials: Iterable[str] = ()) -> list[ir.Rule]:
    """Rules equivalent to ``value`` holding only plain expressions, ``value.start`` first.

    ``specials``: the text of each special token the grammar names (its markers).  llguidance
    never lets a lexeme match a special token; GBNF and xgrammar match a token by its text, so
    a free-text lexeme would take the marker token (and, in ``auto``, a broken call as text).
    Each lexeme that can run over free text is written without these texts in it: exact for
    the tokens, and stricter than llguidance only on a marker spelled out as plain text.
    """
    from . import lower  # regexes, &/~ and lazy lexemes as rules

    value = reachable(value)
    specials = sorted({t.name for t in _tokens(value) if t.name} | set(specials))
    guard = (ir.Not(ir.Regex("(?s:.*)(?:" + "|".join(regex_escape(t) for t in specials) + ")(?s:.*)"))
             if specials else None)

    def lowered(rule: ir.Rule, body: ir.Expr) -> list[ir.Rule]:
        """``rule`` as plain rules, its lexeme kept from spelling a special token where it can."""
        if guard is not None and _free_text(body):
            try:
                return lower.lower_terminal(ir.Rule(rule.name, ir.And((body, guard)), lazy=rule.lazy))
            except GrammarError:
                pass  # too many states: the documented difference (a token taken as its text) stays
        return lower.lower_terminal(ir.Rule(rule.name, body, lazy=rule.lazy))

    terminals = {r.name: r for r in value.rules if r.terminal}
    names = {r.name for r in value.rules}
    out: list[ir.Rule] = []

    def json_rules(schema, name: str) -> list[ir.Rule]:
        from .json_rules import json_rules  # %json as exact rules

        rules = json_rules(schema, name)
        if guard is None:
            return rules
        local = {r.name: r for r in rules}

        def inline_local(expr: ir.Expr, seen: tuple[str, ...] = ()) -> ir.Expr:
            if isinstance(expr, ir.Ref) and expr.name in local:
                if expr.name in seen:  # a recursive $ref: not one lexeme
                    raise GrammarError(f"rule {expr.name!r} is recursive", path=name)
                return inline_local(local[expr.name].expr, seen + (expr.name,))
            return _map(expr, lambda e: inline_local(e, seen))

        out_rules = []
        for rule in rules:  # each string value is one lexeme: guarded like a terminal
            if _repeats_text(rule.expr, inline_local):
                try:
                    body = inline_local(rule.expr)
                except GrammarError:
                    body = None
                if body is not None and sum(1 for _ in _all(body)) <= _SMALL:
                    out_rules.extend(lowered(rule, body))
                    continue
            out_rules.append(rule)
        return out_rules

    def fresh(base: str) -> str:
        n = 0
        while f"{base}_{n}" in names:
            n += 1
        names.add(f"{base}_{n}")
        return f"{base}_{n}"

    def inline(expr: ir.Expr, seen: tuple[str, ...] = ()) -> ir.Expr:
        """``expr`` with references to terminals replaced by their bodies (a lexeme's whole text)."""
        if isinstance(expr, ir.Ref) and expr.name in terminals:
            if expr.name in seen:
                raise GrammarError(f"terminal {expr.name!r} refers to itself", path="lark")
            return inline(terminals[expr.name].expr, seen + (expr.name,))
        return _map(expr, lambda e: inline(e, seen))

    def plain(expr: ir.Expr, owner: str) -> ir.Expr:
        if isinstance(expr, ir.Regex):
            name = fresh(f"{owner}_re")
            out.extend(lower.lower_terminal(ir.Rule(name, expr)))
            return ir.Ref(name)
        if isinstance(expr, ir.Json):
            name = fresh(f"{owner}_json")
            out.extend(json_rules(expr.schema, name))
            return ir.Ref(name)
        if isinstance(expr, (ir.And, ir.Not)):
            name = fresh(f"{owner}_lex")
            out.extend(lower.lower_terminal(ir.Rule(name, inline(expr))))
            return ir.Ref(name)
        return _map(expr, lambda e: plain(e, owner))

    for rule in sorted(value.rules, key=lambda r: r.name != value.start):
        if rule.lazy or (rule.terminal and (_has(rule.expr, (ir.And, ir.Not)) or _repeats_text(rule.expr, inline))):
            out.extend(lowered(rule, inline(rule.expr)))
        elif isinstance(rule.expr, ir.Json):
            out.extend(json_rules(rule.expr.schema, rule.name))
        elif isinstance(rule.expr, ir.Regex):
            out.extend(lowered(rule, rule.expr))
        else:
            out.append(ir.Rule(rule.name, plain(rule.expr, rule.name)))
    out = list(reachable(ir.GrammarValue(tuple(ir.Rule(r.name, tidy(r.expr), r.lazy) for r in out),
                                         value.start)).rules)
    for rule in out:
        bad = _first(rule.expr, lambda e: not isinstance(e, PLAIN))
        if bad is not None:
            raise GrammarError(f"rule {rule.name!r} still holds {type(bad).__name__} after lowering",
                               path="lark")
    return out


_SMALL = 200  # nodes: a string value is a few dozen; an array of objects is left to its parts
_BIG_COUNT = re.compile(r"\{[0-9]*,?([0-9]{3,})\}")


def _free_text(expr: ir.Expr) -> bool:
    """Could this lexeme run over text holding a marker?  (Regexes and classes, no bound past 99:
    a long bounded string times a marker's states is an automaton too big to write.)"""
    regexes = [e.pattern for e in _all(expr) if isinstance(e, ir.Regex)]
    if not regexes and not any(isinstance(e, ir.Chars) for e in _all(expr)):
        return False
    return not any(_BIG_COUNT.search(p) for p in regexes) and not any(
        isinstance(e, ir.Repeat) and e.max is not None and e.max > 99 for e in _all(expr))


def _repeats_text(expr: ir.Expr, inline) -> bool:
    """A terminal that repeats characters itself (``"\"" JSON_CHAR* "\""``), not through another
    terminal: its whole text is one lexeme to guard.  Optional members (``?``) don't count."""
    return any(isinstance(e, ir.Repeat) and e.max != 1 and _free_text(inline(e.item))
               for e in _all(expr))


def _all(expr: ir.Expr):
    yield expr
    for child in children(expr):
        yield from _all(child)


def _tokens(value: ir.GrammarValue):
    for rule in value.rules:
        yield from (e for e in _all(rule.expr) if isinstance(e, ir.Token))


def tidy(expr: ir.Expr) -> ir.Expr:
    """Nested sequences flattened and adjacent literals joined (``"\"" "c" "e"`` -> ``"\"ce"``)."""
    expr = _map(expr, tidy)
    if not isinstance(expr, ir.Seq):
        return expr
    items: list[ir.Expr] = []
    for item in expr.items:
        for part in (item.items if isinstance(item, ir.Seq) else (item,)):
            if isinstance(part, ir.Lit) and items and isinstance(items[-1], ir.Lit):
                items[-1] = ir.Lit(items[-1].text + part.text)
            else:
                items.append(part)
    return items[0] if len(items) == 1 else ir.Seq(tuple(items))


def reachable(value: ir.GrammarValue) -> ir.GrammarValue:
    """``value`` without the rules its start never reaches (``required`` keeps ``TEXT`` unused)."""
    rules = {r.name: r for r in value.rules}
    seen, todo = {value.start}, [value.start]
    while todo:
        for ref in _refs(rules[todo.pop()].expr):
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    return ir.GrammarValue(tuple(r for r in value.rules if r.name in seen), value.start)


def _refs(expr: ir.Expr):
    if isinstance(expr, ir.Ref):
        yield expr.name
    for child in children(expr):
        yield from _refs(child)


def _map(expr: ir.Expr, f) -> ir.Expr:
    """``expr`` with ``f`` applied to its direct children."""
    if isinstance(expr, (ir.Seq, ir.Alt, ir.And)):
        return type(expr)(tuple(f(i) for i in expr.items))
    if isinstance(expr, ir.Repeat):
        return ir.Repeat(f(expr.item), expr.min, expr.max)
    if isinstance(expr, ir.Not):
        return ir.Not(f(expr.item))
    return expr


def _first(expr: ir.Expr, pred):
    if pred(expr):
        return expr
    for child in children(expr):
        found = _first(child, pred)
        if found is not None:
            return found
    return None


def _has(expr: ir.Expr, kinds) -> bool:
    return _first(expr, lambda e: isinstance(e, kinds)) is not None


def children(expr: ir.Expr) -> tuple[ir.Expr, ...]:
    if isinstance(expr, (ir.Seq, ir.Alt, ir.And)):
        return expr.items
    if isinstance(expr, (ir.Repeat, ir.Not)):
        return (expr.item,)
    return ()
