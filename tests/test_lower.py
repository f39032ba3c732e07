"""Lowered terminals match exactly what llguidance's terminals match.

Every check prints the lowered rules back to llguidance Lark (plain rules only: literals,
character classes, sequences, alternatives, repeats) and forces the same strings through
the original terminal and the lowered rules: the bytes each consumes and whether it ends
accepted must agree.  Strings come from the terminal's own pieces (marker spellings and
their prefixes), random expansions of the lowered rules, their mutations, and hypothesis.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path

import llguidance
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import grammargen
from grammargen import ir
from grammargen.emit.lower import ANY, lower_terminal, regex_expr
from grammargen.errors import GrammarError

BYTES = llguidance.LLTokenizer("byte")
TOOLS = Path(__file__).resolve().parent.parent / "examples" / "travel_tools.json"


# -- the harness: a tiny printer and llguidance's verdicts ------------------------------------------

def rule_name(name: str) -> str:
    """Lowered names (``TEXT-3``) as Lark rule names; every one a rule, not a terminal."""
    return "r_" + name.lower().replace("-", "__")


def print_expr(e: ir.Expr) -> str:
    """Plain rules in Lark, one lexeme per character: llguidance's lexer then takes them as
    a character-level grammar (GBNF's reading), not longest-match lexemes."""
    if isinstance(e, ir.Lit):
        return "(" + " ".join(json.dumps(c) for c in e.text) + ")" if e.text else '""'
    if isinstance(e, ir.Ref):
        return rule_name(e.name)
    if isinstance(e, ir.Chars):
        body = "".join(f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in e.ranges)
        return f"/[{'^' if e.negated else ''}{body}]/" if body else ("/(?s:.)/" if e.negated else "/[^\\s\\S]/")
    if isinstance(e, ir.Seq):
        return "(" + " ".join(print_expr(i) for i in e.items) + ")" if e.items else '""'
    if isinstance(e, ir.Alt):
        return "(" + " | ".join(print_expr(i) for i in e.items) + ")"
    if isinstance(e, ir.Repeat):
        suffix = f"{{{e.min},}}" if e.max is None else f"{{{e.min},{e.max}}}"
        return f"({print_expr(e.item)}){suffix}"
    raise AssertionError(f"not a plain expression: {e!r}")


def print_rules(rules: list[ir.Rule]) -> str:
    head = f"start: {rule_name(rules[0].name)}\n"
    return head + "\n".join(f"{rule_name(r.name)}: {print_expr(r.expr)}" for r in rules) + "\n"


@lru_cache(maxsize=256)
def matcher(grammar: str) -> llguidance.LLMatcher:
    m = llguidance.LLMatcher(BYTES, grammar)
    assert not m.is_error(), m.get_error()
    return m


def verdict(grammar: str, text: str) -> tuple[int, bool]:
    """How many bytes of ``text`` the grammar takes, and whether it then may end."""
    m = matcher(grammar)
    m.reset()
    data = BYTES.tokenize_bytes(text.encode())
    taken = m.try_consume_tokens(data)
    return taken, taken == len(data) and m.is_accepting()


def plain(e: ir.Expr) -> bool:
    if isinstance(e, (ir.Seq, ir.Alt)):
        return all(plain(i) for i in e.items)
    if isinstance(e, ir.Repeat):
        return plain(e.item)
    return isinstance(e, (ir.Lit, ir.Chars, ir.Ref))


def lowered(rule: ir.Rule, terminals: dict[str, ir.Rule]) -> list[ir.Rule]:
    """``rule`` lowered, with every terminal it still refers to lowered after it."""
    out = lower_terminal(rule, terminals)
    names = {r.name for r in out}
    todo = list(out)
    while todo:
        for ref in refs(todo.pop().expr):
            if ref not in names:
                more = lower_terminal(terminals[ref], terminals)
                names |= {r.name for r in more}
                out += more
                todo += more
    assert all(plain(r.expr) for r in out)
    return out


def refs(e: ir.Expr):
    if isinstance(e, ir.Ref):
        yield e.name
    for child in getattr(e, "items", ()) or ((e.item,) if isinstance(e, (ir.Repeat, ir.Not)) else ()):
        yield from refs(child)


# -- strings to try -----------------------------------------------------------------------

ODD = "\n\t é中😀\"\\<>|/"


def expand(rules: dict[str, ir.Rule], e: ir.Expr, rng: random.Random, budget: list[int]) -> str:
    """A random string of the plain expression ``e`` (cut short when the budget runs out)."""
    budget[0] -= 1
    if isinstance(e, ir.Lit):
        return e.text
    if isinstance(e, ir.Chars):
        ranges = _set(e)
        if not ranges:
            return ""
        lo, hi = rng.choice(ranges)
        cp = rng.choice([lo, hi, rng.randint(lo, hi)])
        return chr(cp if not 0xD800 <= cp <= 0xDFFF else 0xE000)  # text holds no surrogates
    if isinstance(e, ir.Seq):
        return "".join(expand(rules, i, rng, budget) for i in e.items)
    if isinstance(e, ir.Alt):
        return expand(rules, rng.choice(e.items), rng, budget)
    if isinstance(e, ir.Repeat):
        top = e.min + (3 if budget[0] > 0 else 0)
        n = rng.randint(e.min, top if e.max is None else min(e.max, top))
        return "".join(expand(rules, e.item, rng, budget) for _ in range(n))
    if isinstance(e, ir.Ref):
        if budget[0] < -200:
            return ""
        return expand(rules, rules[e.name].expr, rng, budget)
    raise AssertionError(e)


def _set(c: ir.Chars) -> list[tuple[int, int]]:
    if not c.negated:
        return list(c.ranges)
    from grammargen.emit.lower import complement, norm
    return list(complement(norm(c.ranges)))


def pieces_of(e: ir.Expr) -> list[ir.Expr]:
    """The sub-expressions worth sampling alone: every regex and literal (markers live there)."""
    if isinstance(e, ir.Regex):
        return [regex_expr(e.pattern)]
    if isinstance(e, ir.Lit):
        return [e]
    out: list[ir.Expr] = []
    for child in getattr(e, "items", ()) or ((e.item,) if isinstance(e, (ir.Repeat, ir.Not)) else ()):
        out += pieces_of(child)
    return out


def mutate(text: str, rng: random.Random) -> str:
    if not text:
        return rng.choice(ODD)
    k = rng.randrange(len(text))
    how = rng.randrange(4)
    if how == 0:
        return text[:k] + text[k + 1:]
    if how == 1:
        return text[:k] + rng.choice(ODD) + text[k:]
    if how == 2:
        return text[:k]
    return text + text[k:]


def strings_for(rule: ir.Rule, rules: list[ir.Rule], terminals: dict[str, ir.Rule], seed: int,
                n: int = 60) -> list[str]:
    rng = random.Random(seed)
    by_name = {r.name: r for r in rules}
    samples = [r"", " ", "\n", "a"]
    pieces = [p for p in pieces_of(rule.expr) if plain(p)]
    for ref in set(refs(rule.expr)):
        pieces += pieces_of(terminals[ref].expr)
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 3)):
            if pieces and rng.random() < 0.6:
                parts.append(expand(by_name, rng.choice(pieces), rng, [20]))
            else:
                parts.append(expand(by_name, ir.Ref(rules[0].name), rng, [20]))
        text = "".join(parts)
        samples.append(text)
        samples.append(mutate(text, rng))
        if len(text) > 1:
            samples.append(text[:rng.randrange(1, len(text))])
    return list(dict.fromkeys(samples))


def original_lark(rule: ir.Rule, lark_lines: dict[str, str]) -> str:
    """The rule as compiled, with the terminal definitions it needs."""
    return f"start: {rule.name}\n" + "\n".join(lark_lines.values()) + "\n"


def assert_same(rule: ir.Rule, terminals: dict[str, ir.Rule], original: str, seed: int = 0,
                n: int = 60) -> int:
    rules = lowered(rule, terminals)
    mine = print_rules(rules)
    texts = strings_for(rule, rules, terminals, seed, n)
    bad = [(t, verdict(original, t), verdict(mine, t)) for t in texts
           if verdict(original, t) != verdict(mine, t)]
    assert not bad, f"{rule.name}: {bad[:5]}\n{mine[:3000]}"
    return len(texts)


# -- plain regexes, by hand ------------------------------------------------------------

REGEXES = [
    r"(?s:.+)", r"[ \t\r\n]*\x{3c}\x{7c}tool\x{5f}call\x{7c}\x{3e}(?s:.*)", r"a{2,4}b?",
    r"(?:[^\"\\\x00-\x1f\x7f]|\\(?:[\"\\bfnrt]|u00(?:[01][0-9a-fA-F]|7[fF])))",
    r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", r"[a-c&&b-d]x|[^a-y]", r"\d+\s\D",
    r"(?s)a.b", r"(a|)+c*?", r"\u{e9}\U0001F600\x41", r"[[:digit:]-]{3}", r"^ab$", r"[\-\]a]+",
    r"(?:|x|xy){0,3}z", r"[^\n]", r".", r"[\w.:-]+[ \t]*\n", r"\W\p{L}\P{Lu}[^\S\n]",
]


@pytest.mark.parametrize("pattern", REGEXES)
def test_regex_translation_matches_llguidance(pattern):
    """A plain regex, translated structurally, takes exactly the strings llguidance's regex takes."""
    rule = ir.Rule("R", ir.Regex(pattern))
    out = lower_terminal(rule)
    assert len(out) == 1 and plain(out[0].expr)
    original = f"start: R\nR: /{pattern}/\n"
    assert assert_same(rule, {}, original, seed=len(pattern)) > 20


def test_bounds_stay_repeats():
    """``{m,n}`` stays one Repeat (the GBNF printer nests big counts), not n copies."""
    (rule,) = lower_terminal(ir.Rule("R", ir.Regex("[0-9]{3,2500}")))
    assert rule.expr == ir.Repeat(ir.Chars(((48, 57),)), 3, 2500)


@pytest.mark.parametrize("pattern, what", [
    (r"\p{Nonsense}", "does not read the class"), (r"(?i)abc", "flag 'i'"), (r"a\bb", r"\b"),
    (r"a^b", "anchor"), (r"(?P<stop>x)", "lookahead"), (r"[a", "unclosed"), (r"a{3,1}", "n < m"),
])
def test_regex_it_cannot_write_exactly_is_refused(pattern, what):
    """A construct without an exact plain spelling is an error naming it, never a guess."""
    with pytest.raises(GrammarError, match=None) as err:
        lower_terminal(ir.Rule("R", ir.Regex(pattern)))
    assert what in str(err.value)


# -- &, ~ and lazy ------------------------------------------------------------------------

MARKED = [
    ("TEXT", r"/(?s:.+)/ & ~/[ \t\r\n]*\x{3c}\x{7c}tool\x{5f}call\x{7c}\x{3e}(?s:.*)/",
     ir.And((ir.Regex("(?s:.+)"), ir.Not(ir.Regex(r"[ \t\r\n]*\x{3c}\x{7c}tool\x{5f}call\x{7c}\x{3e}(?s:.*)"))))),
    ("HEAD", r"/(?s:.+)\x{3c}tool\x{3e}/ & ~/\x{3c}tool\x{3e}(?s:.*)/",
     ir.And((ir.Regex(r"(?s:.+)\x{3c}tool\x{3e}"), ir.Not(ir.Regex(r"\x{3c}tool\x{3e}(?s:.*)"))))),
    ("FREE", r"/(?s:.*)/ & ~/(?s:.*)ab(?s:.*)/ & ~/b(?s:.*)/",
     ir.And((ir.Regex("(?s:.*)"), ir.Not(ir.Regex("(?s:.*)ab(?s:.*)")), ir.Not(ir.Regex("b(?s:.*)"))))),
]


@pytest.mark.parametrize("name, lark, expr", MARKED, ids=[m[0] for m in MARKED])
def test_intersection_and_complement_match_llguidance(name, lark, expr):
    """Free text minus marker spellings: the automaton's rules take what the terminal takes."""
    rule = ir.Rule(name, expr)
    original = f"start: {name}\n{name}: {lark}\n"
    assert assert_same(rule, {}, original, seed=1) > 50


def test_lazy_lexeme_ends_at_its_first_end():
    """A lazy lexeme takes text up to the first end marker and nothing past it."""
    rule = ir.Rule("think", ir.Regex(r"(?s:.*)\x{3c}\x{2f}think\x{3e}"), lazy=True)
    original = "start: think\nthink[lazy]: /(?s:.*)\\x{3c}\\x{2f}think\\x{3e}/\n"
    assert assert_same(rule, {}, original, seed=2) > 50
    mine = print_rules(lower_terminal(rule))
    assert verdict(mine, "a</think>")[1] and not verdict(mine, "a</think></think>")[1]


def test_free_text_stays_a_few_rules():
    """Free text over all of Unicode minus a marker is one rule per marker character, not per code point."""
    rules = lower_terminal(ir.Rule("TEXT", MARKED[0][2]))
    assert len(rules) <= 20
    assert any(isinstance(r.expr, ir.Repeat) and r.expr.item == ANY for r in rules)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list("<|tool_cal>\n ab") + ["<|tool_call|>", "é", "ab", "<tool>"]), max_size=20))
def test_marker_text_hypothesis(parts):
    """Hypothesis strings over marker pieces: the lowered TEXT and HEAD agree with llguidance."""
    text = "".join(parts)
    for name, lark, expr in MARKED:
        mine = print_rules(lower_terminal(ir.Rule(name, expr)))
        assert verdict(mine, text) == verdict(f"start: {name}\n{name}: {lark}\n", text), (name, text)


# -- every terminal every format writes --------------------------------------------------------

OPTIONS = [{}, {"reasoning": True}, {"reasoning": "opened", "tool_choice": "required", "parallel_tool_calls": False}]


def format_terminals(fmt: str) -> list[tuple[ir.Rule, dict[str, ir.Rule], str]]:
    """Each distinct terminal (and lazy rule) ``fmt`` writes under the option sets, with the
    compiled Lark that defines it."""
    from grammargen.emit.reader import read

    tools = grammargen.load_tools(TOOLS)
    out, seen = [], set()
    for options in OPTIONS:
        try:
            grammar = grammargen.compile(tools, fmt, **options)
        except grammargen.errors.OptionsError:
            continue  # a format without a reasoning block
        value = read(grammar.lark)
        terminals = {r.name: r for r in value.rules if r.terminal}
        lines = [line for line in grammar.lark.splitlines()
                 if line[:1].isupper() or "[lazy]" in line.split(":", 1)[0]]
        for rule in value.rules:
            if (rule.terminal or rule.lazy) and (rule.expr, rule.lazy) not in seen:
                seen.add((rule.expr, rule.lazy))
                out.append((rule, terminals, f"start: {rule.name}\n" + "\n".join(lines) + "\n"))
    return out


@pytest.mark.parametrize("fmt", grammargen.formats())
def test_every_format_terminal_lowers_exactly(fmt):
    """Each TEXT/HEAD/think/value terminal a format compiles to lowers to rules llguidance agrees with."""
    pytest.importorskip("grammargen.emit.reader", reason="helper E's Lark reader is not in this checkout")
    found = format_terminals(fmt)
    assert found
    for n, (rule, terminals, original) in enumerate(found):
        assert_same(rule, terminals, original, seed=n, n=25)
