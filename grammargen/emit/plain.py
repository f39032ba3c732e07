"""The grammar value with every regex, ``&``/``~``, lazy lexeme and ``%json`` made into rules.

GBNF and xgrammar's Lark read plain context-free rules over literals, character classes and
tokens; they have no terminal intersection, no lazy lexemes and no exact compact JSON.  This
module walks the value once and hands each such piece to :mod:`grammargen.emit.lower`
(regexes, ``&``/``~``, lazy) or :mod:`grammargen.emit.json_rules` (``%json``), which return
equivalent rules over ``Lit``/``Chars``/``Ref``/``Seq``/``Alt``/``Repeat``, or raise a
:class:`GrammarError` naming what they cannot write exactly.
"""

from __future__ import annotations

from .. import ir
from ..errors import GrammarError

PLAIN = (ir.Lit, ir.Token, ir.Ref, ir.Chars, ir.Seq, ir.Alt, ir.Repeat)


def plain_rules(value: ir.GrammarValue) -> list[ir.Rule]:
    """Rules equivalent to ``value`` holding only plain expressions, ``value.start`` first."""
    from . import lower  # regexes, &/~ and lazy lexemes as rules

    value = reachable(value)
    terminals = {r.name: r for r in value.rules if r.terminal}
    names = {r.name for r in value.rules}
    out: list[ir.Rule] = []

    def json_rules(schema, name: str) -> list[ir.Rule]:
        from .json_rules import json_rules  # %json as exact rules

        return json_rules(schema, name)

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
        if rule.lazy or (rule.terminal and _has(rule.expr, (ir.And, ir.Not))):
            out.extend(lower.lower_terminal(ir.Rule(rule.name, inline(rule.expr), lazy=rule.lazy)))
        elif isinstance(rule.expr, ir.Json):
            out.extend(json_rules(rule.expr.schema, rule.name))
        elif isinstance(rule.expr, ir.Regex):
            out.extend(lower.lower_terminal(rule))
        else:
            out.append(ir.Rule(rule.name, plain(rule.expr, rule.name)))
    out = [ir.Rule(r.name, tidy(r.expr), r.lazy) for r in out]
    for rule in out:
        bad = _first(rule.expr, lambda e: not isinstance(e, PLAIN))
        if bad is not None:
            raise GrammarError(f"rule {rule.name!r} still holds {type(bad).__name__} after lowering",
                               path="lark")
    return out


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
