"""Terminals as plain rules: regexes, ``A & ~B`` and lazy lexemes, for dialects without them.

GBNF and xgrammar's Lark have character classes, literals, sequences, alternatives and
repeats, but no llguidance regex syntax (``\\x{3c}``, ``(?s:.)``), no terminal intersection
or complement, and no lazy lexemes.  :func:`lower_terminal` rewrites one terminal into rules
over :class:`~grammargen.ir.Lit`, :class:`~grammargen.ir.Chars`, ``Ref``, ``Seq``, ``Alt``
and ``Repeat`` that match exactly the same strings:

* a plain regex is translated structurally (its bounds kept as ``Repeat(min, max)``);
* ``&``, ``~`` and ``lazy`` need an automaton: the terminal becomes a DFA over
  character classes (the alphabet is cut only where some class starts or ends, so free text
  over all of Unicode stays a handful of transitions), intersected, complemented or cut at
  its first possible end, minimized, and written one rule per state.

The regex reader follows the Rust ``regex`` crate as llguidance reads it (derivre): ``^``
and ``$`` are allowed only at the ends and match nothing; ``\\d`` and ``\\s`` are Unicode.
Anything it does not know exactly (``\\w``, ``\\p{..}``, case folding, lookarounds) is a
:class:`GrammarError` naming the construct, never a guess.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from typing import Mapping, Union

import llguidance

from .. import ir
from ..errors import GrammarError

MAX_CP = 0x10FFFF
# Unicode scalar values: what ``(?s:.)`` and a negated class match (no surrogates).
UNIVERSE: tuple[tuple[int, int], ...] = ((0, 0xD7FF), (0xE000, MAX_CP))
MAX_STATES = 4000  # NFA/DFA states one terminal may take; past this the rules would be huge

Ranges = tuple[tuple[int, int], ...]
ANY = ir.Chars(((0, MAX_CP),))  # any character, as every dialect can write it


# -- character sets: sorted, disjoint, non-adjacent inclusive ranges ----------------------------

def norm(ranges) -> Ranges:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def union(a: Ranges, b: Ranges) -> Ranges:
    return norm(a + b)


def complement(a: Ranges) -> Ranges:
    """The scalar values outside ``a``."""
    return intersect(_gaps(norm(a)), UNIVERSE)


def _gaps(a: Ranges) -> Ranges:
    out, at = [], 0
    for lo, hi in a:
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at <= MAX_CP:
        out.append((at, MAX_CP))
    return tuple(out)


def intersect(a: Ranges, b: Ranges) -> Ranges:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: Ranges, b: Ranges) -> Ranges:
    return intersect(norm(a), _gaps(norm(b)))


def chars(ranges: Ranges) -> ir.Expr:
    """The shortest plain spelling of a set: a literal for one character, else a class,
    negated when that lists fewer ranges (surrogates count as outside either way)."""
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return ir.Lit(chr(ranges[0][0]))
    outside = _gaps(union(ranges, ((0xD800, 0xDFFF),)))
    if not outside:
        return ANY
    if ranges and len(outside) < len(ranges):
        return ir.Chars(outside, negated=True)
    return ir.Chars(ranges)


def char_set(c: ir.Chars) -> Ranges:
    return complement(norm(c.ranges)) if c.negated else norm(c.ranges)


# -- the regex reader -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Anchor:
    """``^`` (start) or ``$``: allowed only where derivre ignores it, at the ends."""

    start: bool


_Node = Union[ir.Expr, _Anchor]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_META = set("\\.+*?()|[]{}^$#&-~ ")
_POSIX = {
    "alnum": ((48, 57), (65, 90), (97, 122)), "alpha": ((65, 90), (97, 122)), "ascii": ((0, 127),),
    "blank": ((9, 9), (32, 32)), "cntrl": ((0, 31), (127, 127)), "digit": ((48, 57),),
    "graph": ((33, 126),), "lower": ((97, 122),), "print": ((32, 126),),
    "punct": ((33, 47), (58, 64), (91, 96), (123, 126)), "space": ((9, 13), (32, 32)),
    "upper": ((65, 90),), "word": ((48, 57), (65, 90), (95, 95), (97, 122)),
    "xdigit": ((48, 57), (65, 70), (97, 102)),
}


@functools.lru_cache(maxsize=64)
def unicode_class(escape: str) -> Ranges:
    """The characters llguidance's regex class ``escape`` (``\\w``, ``\\p{L}``...) matches.

    Read from llguidance itself, so the Unicode tables are exactly the ones the original
    terminal uses: a walk over the UTF-8 byte tree of a byte-level matcher, where the mask at
    each prefix says which next bytes can still complete a character of the class.
    """
    matcher = llguidance.LLMatcher(_byte_tokenizer(), f"start: /[{escape}]/")
    if matcher.is_error():
        raise GrammarError(f"llguidance does not read the class {escape}: {matcher.get_error()}", path="lark")
    found: list[tuple[int, int]] = []

    def walk(prefix: bytes) -> None:
        mask = matcher.compute_bitmask()
        for b in range(256):
            if not mask[b >> 3] >> (b & 7) & 1:
                continue
            data = prefix + bytes([b])
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                matcher.consume_token(b)
                walk(data)
                matcher.rollback(1)
                continue
            found.append((ord(text), ord(text)))

    walk(b"")
    return norm(found)


@functools.cache
def _byte_tokenizer() -> llguidance.LLTokenizer:
    return llguidance.LLTokenizer("byte")


class _Reader:
    """A recursive-descent reader of one regex into ir expressions (and anchors)."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def fail(self, what: str) -> GrammarError:
        return GrammarError(f"regex /{self.p[:200]}/ at {self.i}: {what}", path="lark")

    def peek(self, n: int = 0) -> str:
        return self.p[self.i + n] if self.i + n < len(self.p) else ""

    def read(self) -> _Node:
        node = self.alt(dotall=False)
        if self.i != len(self.p):
            raise self.fail(f"unexpected {self.peek()!r}")
        return node

    def alt(self, dotall: bool) -> _Node:
        flags = [dotall]  # (?s) inside a group changes the rest of that group
        items = [self.seq(flags)]
        while self.peek() == "|":
            self.i += 1
            items.append(self.seq(flags))
        return items[0] if len(items) == 1 else ir.Alt(tuple(items))

    def seq(self, flags: list[bool]) -> _Node:
        items: list[_Node] = []
        while self.peek() not in ("", "|", ")"):
            atom = self.atom(flags)
            if atom is None:
                continue
            items.append(self.quantified(atom))
        return items[0] if len(items) == 1 else ir.Seq(tuple(items))

    def quantified(self, atom: _Node) -> _Node:
        while True:
            c = self.peek()
            if c in ("*", "+", "?"):
                self.i += 1
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
            elif c == "{":
                low, high = self.counts()
            else:
                return atom
            if self.peek() == "?":  # lazy repeat: llguidance ignores greediness
                self.i += 1
            if isinstance(atom, _Anchor):
                raise self.fail("a repeated anchor")
            atom = ir.Repeat(atom, low, high)

    def counts(self) -> tuple[int, int | None]:
        end = self.p.find("}", self.i)
        body = self.p[self.i + 1:end] if end > 0 else ""
        parts = body.split(",")
        if end < 0 or len(parts) > 2 or not parts[0].strip().isdigit() or (
                len(parts) == 2 and parts[1].strip() and not parts[1].strip().isdigit()):
            raise self.fail("a repetition quantifier expects {m}, {m,} or {m,n}")
        self.i = end + 1
        low = int(parts[0])
        high = low if len(parts) == 1 else int(parts[1]) if parts[1].strip() else None
        if high is not None and high < low:
            raise self.fail("a repetition {m,n} with n < m")
        return low, high

    def atom(self, flags: list[bool]) -> _Node | None:
        c = self.peek()
        self.i += 1
        if c == "(":
            return self.group(flags)
        if c == "[":
            return chars(self.char_class())
        if c == ".":
            return chars(UNIVERSE if flags[0] else subtract(UNIVERSE, ((10, 10),)))
        if c == "^":
            return _Anchor(True)
        if c == "$":
            return _Anchor(False)
        if c == "\\":
            cls = self.class_escape()
            if cls is not None:
                return chars(cls)
            return ir.Lit(self.escape())
        if c in ("*", "+", "?", "{"):
            raise self.fail(f"{c!r} repeats nothing")
        return ir.Lit(c)

    def group(self, flags: list[bool]) -> _Node | None:
        dotall = flags[0]
        if self.peek() == "?":
            self.i += 1
            if self.peek() == ":":
                self.i += 1
            elif self.peek() == "P" or (self.peek() == "<" and self.peek(1) not in ("=", "!")):
                self.i += 1 if self.peek() == "<" else 2
                end = self.p.find(">", self.i)
                name = self.p[self.i:end]
                if end < 0 or name == "stop":
                    raise self.fail("(?P<stop>..) is a lookahead: it has no plain rules")
                self.i = end + 1
            else:
                end = min((k for k in (self.p.find(":", self.i), self.p.find(")", self.i)) if k >= 0),
                          default=-1)
                if end < 0:
                    raise self.fail("an unterminated group")
                setting = self._flags(self.p[self.i:end], dotall)
                self.i = end + 1
                if self.p[end] == ")":  # (?s): for the rest of the enclosing group
                    flags[0] = setting
                    return None
                dotall = setting
        inner = self.alt(dotall)
        if self.peek() != ")":
            raise self.fail("an unclosed group")
        self.i += 1
        return inner

    def _flags(self, text: str, dotall: bool) -> bool:
        on = True
        for f in text:
            if f == "-":
                on = False
            elif f == "s":
                dotall = on
            elif f == "u" and on:
                pass
            else:
                raise self.fail(f"the regex flag {f!r} (only 's' is lowered)")
        return dotall

    def escape(self) -> str:
        """The literal character after a backslash (the backslash read)."""
        c = self.peek()
        self.i += 1
        if c in _ESCAPES:
            return _ESCAPES[c]
        if c in ("x", "u", "U"):
            if self.peek() == "{":
                end = self.p.find("}", self.i)
                digits = self.p[self.i + 1:end] if end > 0 else ""
                self.i = end + 1
            else:
                width = {"x": 2, "u": 4, "U": 8}[c]
                digits = self.p[self.i:self.i + width]
                self.i += width
            try:
                cp = int(digits, 16)
            except ValueError:
                raise self.fail(f"a bad \\{c} escape") from None
            if 0xD800 <= cp <= 0xDFFF or cp > MAX_CP:
                raise self.fail(f"\\{c} names no Unicode scalar value")
            return chr(cp)
        if c and not c.isalnum() and c.isascii():
            return c
        raise self.fail(f"the escape \\{c} (no exact plain rules for it)")

    def class_escape(self) -> Ranges | None:
        """``\\d \\s \\w`` (Unicode, as llguidance reads them), their negations, ``\\p{..}``."""
        c = self.peek()
        if c in ("d", "D", "s", "S", "w", "W"):
            self.i += 1
            found = unicode_class("\\" + c.lower())  # the negation by complement: far fewer bytes to walk
            return found if c.islower() else complement(found)
        if c in ("p", "P"):
            start = self.i - 1
            self.i += 1
            if self.peek() == "{":
                end = self.p.find("}", self.i)
                if end < 0:
                    raise self.fail("an unclosed \\p{..}")
                self.i = end + 1
            else:
                self.i += 1
            found = unicode_class("\\p" + self.p[start + 2:self.i])
            return found if c == "p" else complement(found)
        if c in ("b", "B", "A", "z"):
            raise self.fail(f"\\{c} is a lookaround: it has no plain rules")
        return None

    # -- [classes] --
    def char_class(self) -> Ranges:
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        result = self.class_ops()
        if self.peek() != "]":
            raise self.fail("an unclosed character class")
        self.i += 1
        return complement(result) if negated else result

    def class_ops(self) -> Ranges:
        """Set operations by precedence: ``~~`` < ``--`` < ``&&`` < union."""
        return self._class_level(0)

    _OPS = ("~~", "--", "&&")

    def _class_level(self, level: int) -> Ranges:
        if level == 3:
            return self.class_union()
        result = self._class_level(level + 1)
        op = self._OPS[level]
        while self.p.startswith(op, self.i):
            self.i += 2
            right = self._class_level(level + 1)
            if op == "&&":
                result = intersect(result, right)
            elif op == "--":
                result = subtract(result, right)
            else:
                result = union(subtract(result, right), subtract(right, result))
        return result

    def class_union(self) -> Ranges:
        out: list[tuple[int, int]] = []
        first = True
        while True:
            c = self.peek()
            if c == "" or (c == "]" and not first) or any(self.p.startswith(o, self.i) for o in self._OPS):
                return norm(out)
            first = False
            if c == "[" and self.peek(1) == ":":
                end = self.p.find(":]", self.i)
                name = self.p[self.i + 2:end]
                neg = name.startswith("^")
                if end < 0 or name.lstrip("^") not in _POSIX:
                    raise self.fail(f"the class [:{name}:]")
                self.i = end + 2
                cls = _POSIX[name.lstrip("^")]
                out.extend(complement(cls) if neg else cls)
                continue
            if c == "[":
                self.i += 1
                out.extend(self.char_class())
                continue
            lo = self.class_char()
            if isinstance(lo, tuple):
                out.extend(lo)
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", "") and not self.p.startswith("--", self.i):
                self.i += 1
                hi = self.class_char()
                if isinstance(hi, tuple) or hi < lo:
                    raise self.fail("a bad range in a character class")
                out.append((lo, hi))
            else:
                out.append((lo, lo))

    def class_char(self) -> int | Ranges:
        c = self.peek()
        self.i += 1
        if c == "\\":
            cls = self.class_escape()
            if cls is not None:
                return cls
            return ord(self.escape())
        return ord(c)


def regex_expr(pattern: str, *, search: bool = False) -> ir.Expr:
    """The plain expression a llguidance regex matches (the whole text).

    ``search``: a JSON Schema ``pattern``, which matches anywhere unless anchored (``^``/``$``
    decide, branch by branch, as derivre's search mode does).
    """
    reader = _Reader(pattern)
    node = reader.read()
    expr, start, end = _anchors(node, True, True, search, reader)
    if search:
        anything = ir.Repeat(ir.Chars(UNIVERSE), 0, None)
        if not end:
            expr = ir.Seq((expr, anything))
        if not start:
            expr = ir.Seq((anything, expr))
    return simplify(expr)


def _anchors(node: _Node, at_start: bool, at_end: bool, search: bool,
             reader: _Reader) -> tuple[ir.Expr, bool, bool]:
    """The node without anchors, and whether it was anchored at its start and end."""
    empty = ir.Seq(())
    if isinstance(node, _Anchor):
        if (node.start and not at_start) or (not node.start and not at_end):
            raise reader.fail("an anchor ^/$ away from the ends (a lookaround)")
        return empty, node.start, not node.start
    if isinstance(node, ir.Seq):
        n = len(node.items)
        done = [_anchors(x, at_start and i == 0, at_end and i == n - 1, search, reader)
                for i, x in enumerate(node.items)]
        return ir.Seq(tuple(d[0] for d in done)), done[0][1] if done else False, done[-1][2] if done else False
    if isinstance(node, ir.Alt):
        done = [_anchors(x, at_start, at_end, search, reader) for x in node.items]
        items = [d[0] for d in done]
        start = end = False
        if search and (at_start or at_end):
            start, end = any(d[1] for d in done), any(d[2] for d in done)
            anything = ir.Repeat(ir.Chars(UNIVERSE), 0, None)
            for k, (_, s, e) in enumerate(done):
                if end and not e:
                    items[k] = ir.Seq((items[k], anything))
                if start and not s:
                    items[k] = ir.Seq((anything, items[k]))
        return ir.Alt(tuple(items)), start, end
    if isinstance(node, ir.Repeat):
        inner, _, _ = _anchors(node.item, False, False, search, reader)
        return ir.Repeat(inner, node.min, node.max), False, False
    return node, False, False


def simplify(e: ir.Expr) -> ir.Expr:
    """Nested sequences flattened, adjacent literals joined, one-item groups unwrapped."""
    if isinstance(e, ir.Seq):
        items: list[ir.Expr] = []
        for x in (simplify(i) for i in e.items):
            parts = x.items if isinstance(x, ir.Seq) else (x,)
            for p in parts:
                if isinstance(p, ir.Lit) and items and isinstance(items[-1], ir.Lit):
                    items[-1] = ir.Lit(items[-1].text + p.text)
                elif not (isinstance(p, ir.Lit) and p.text == ""):
                    items.append(p)
        return items[0] if len(items) == 1 else ir.Seq(tuple(items))
    if isinstance(e, ir.Alt):
        out: list[ir.Expr] = []
        for x in (simplify(i) for i in e.items):
            for p in (x.items if isinstance(x, ir.Alt) else (x,)):
                if p not in out:
                    out.append(p)
        return out[0] if len(out) == 1 else ir.Alt(tuple(out))
    if isinstance(e, ir.Repeat):
        item = simplify(e.item)
        if (e.min, e.max) == (1, 1):
            return item
        return ir.Repeat(item, e.min, e.max)
    if isinstance(e, (ir.And, ir.Not)):
        return type(e)(tuple(simplify(i) for i in e.items)) if isinstance(e, ir.And) else ir.Not(simplify(e.item))
    return e


# -- automata ---------------------------------------------------------------------------------

class _NFA:
    """Thompson NFA: character-set edges and empty moves."""

    def __init__(self) -> None:
        self.edges: list[list[tuple[Ranges, int]]] = []
        self.eps: list[list[int]] = []

    def state(self) -> int:
        if len(self.edges) >= MAX_STATES * 4:
            raise GrammarError(f"the terminal needs more than {MAX_STATES * 4} automaton states "
                               "to write as plain rules", path="lark")
        self.edges.append([])
        self.eps.append([])
        return len(self.edges) - 1


@dataclass
class DFA:
    """States 0..n-1 (0 the start); ``moves[s]``: disjoint (set, target) pairs."""

    moves: list[list[tuple[Ranges, int]]]
    accept: set[int]


def _build(nfa: _NFA, e: ir.Expr, terminals: Mapping[str, ir.Rule], seen: tuple[str, ...]) -> tuple[int, int]:
    """A fragment for ``e``: its entry and exit states."""
    if isinstance(e, ir.Lit):
        start = cur = nfa.state()
        for ch in e.text:
            nxt = nfa.state()
            nfa.edges[cur].append((((ord(ch), ord(ch)),), nxt))
            cur = nxt
        return start, cur
    if isinstance(e, ir.Chars):
        a, b = nfa.state(), nfa.state()
        nfa.edges[a].append((char_set(e), b))
        return a, b
    if isinstance(e, ir.Regex):
        return _build(nfa, regex_expr(e.pattern), terminals, seen)
    if isinstance(e, ir.Ref):
        rule = terminals.get(e.name)
        if rule is None or e.name in seen:
            raise GrammarError(f"the terminal refers to {e.name!r}, which is no terminal it can inline",
                               path="lark")
        return _build(nfa, rule.expr, terminals, seen + (e.name,))
    if isinstance(e, ir.Seq):
        start = cur = nfa.state()
        for item in e.items:
            a, b = _build(nfa, item, terminals, seen)
            nfa.eps[cur].append(a)
            cur = b
        return start, cur
    if isinstance(e, ir.Alt):
        start, end = nfa.state(), nfa.state()
        for item in e.items:
            a, b = _build(nfa, item, terminals, seen)
            nfa.eps[start].append(a)
            nfa.eps[b].append(end)
        return start, end
    if isinstance(e, ir.Repeat):
        start = cur = nfa.state()
        for _ in range(e.min):
            a, b = _build(nfa, e.item, terminals, seen)
            nfa.eps[cur].append(a)
            cur = b
        if e.max is None:
            a, b = _build(nfa, e.item, terminals, seen)
            nfa.eps[cur].append(a)
            nfa.eps[b].append(a)
            end = nfa.state()
            nfa.eps[cur].append(end)
            nfa.eps[b].append(end)
            return start, end
        end = nfa.state()
        nfa.eps[cur].append(end)
        for _ in range(e.max - e.min):
            a, b = _build(nfa, e.item, terminals, seen)
            nfa.eps[cur].append(a)
            nfa.eps[b].append(end)
            cur = b
        return start, end
    if isinstance(e, (ir.And, ir.Not)):
        return _embed(nfa, _dfa(e, terminals, seen))
    if isinstance(e, DFA):  # an automaton built already (json_rules composes them)
        return _embed(nfa, e)
    raise GrammarError(f"a terminal cannot hold {type(e).__name__}", path="lark")


def _embed(nfa: _NFA, dfa: DFA) -> tuple[int, int]:
    ids = [nfa.state() for _ in dfa.moves]
    end = nfa.state()
    for s, moves in enumerate(dfa.moves):
        for cs, t in moves:
            nfa.edges[ids[s]].append((cs, ids[t]))
        if s in dfa.accept:
            nfa.eps[ids[s]].append(end)
    return ids[0], end


def automaton(e: ir.Expr, terminals: Mapping[str, ir.Rule] | None = None) -> DFA:
    """The minimal DFA of a terminal expression (regexes, literals, ``&``, ``~``...)."""
    return _dfa(e, terminals or {})


def spelled(d: DFA, label, before: str = "", after: str = "") -> DFA:
    """The strings of ``d`` with each character written as ``label`` spells it (a JSON
    string's escapes), between ``before`` and ``after``."""
    nfa = _NFA()
    start, end = nfa.state(), nfa.state()
    ids = [nfa.state() for _ in d.moves]
    a, b = _build(nfa, ir.Lit(before), {}, ())
    nfa.eps[start].append(a)
    nfa.eps[b].append(ids[0])
    for s, moves in enumerate(d.moves):
        for cs, t in moves:
            a, b = _build(nfa, label(cs), {}, ())
            nfa.eps[ids[s]].append(a)
            nfa.eps[b].append(ids[t])
        if s in d.accept:
            a, b = _build(nfa, ir.Lit(after), {}, ())
            nfa.eps[ids[s]].append(a)
            nfa.eps[b].append(end)
    return minimize(_determinize(nfa, start, end))


def _dfa(e: ir.Expr, terminals: Mapping[str, ir.Rule], seen: tuple[str, ...] = ()) -> DFA:
    if isinstance(e, DFA):
        return e
    if isinstance(e, ir.And):
        dfas = [_dfa(i, terminals, seen) for i in e.items]
        out = dfas[0]
        for d in dfas[1:]:
            out = minimize(_product(out, d))
        return out
    if isinstance(e, ir.Not):
        return minimize(_complement(_dfa(e.item, terminals, seen)))
    nfa = _NFA()
    a, b = _build(nfa, e, terminals, seen)
    return minimize(_determinize(nfa, a, b))


def _closure(nfa: _NFA, states) -> frozenset[int]:
    out, todo = set(states), list(states)
    while todo:
        for t in nfa.eps[todo.pop()]:
            if t not in out:
                out.add(t)
                todo.append(t)
    return frozenset(out)


def _split(edges: list[tuple[Ranges, object]]) -> list[tuple[Ranges, frozenset]]:
    """Disjoint pieces of the edges' sets, each with the set of targets it leads to."""
    cuts = sorted({lo for cs, _ in edges for lo, _ in cs} | {hi + 1 for cs, _ in edges for _, hi in cs})
    pieces: dict[frozenset, list[tuple[int, int]]] = {}
    for k in range(len(cuts) - 1):
        lo, hi = cuts[k], cuts[k + 1] - 1
        targets = frozenset(t for cs, t in edges if _contains(cs, lo))
        if targets:
            pieces.setdefault(targets, []).append((lo, hi))
    return [(norm(r), t) for t, r in pieces.items()]


def _contains(cs: Ranges, cp: int) -> bool:
    k = bisect.bisect_right(cs, (cp, MAX_CP + 1)) - 1
    return k >= 0 and cs[k][0] <= cp <= cs[k][1]


def _determinize(nfa: _NFA, start: int, end: int) -> DFA:
    first = _closure(nfa, [start])
    index = {first: 0}
    order = [first]
    moves: list[list[tuple[Ranges, int]]] = []
    accept = set()
    while len(moves) < len(order):
        s = len(moves)
        subset = order[s]
        if end in subset:
            accept.add(s)
        out = []
        for cs, targets in _split([(cs, t) for q in subset for cs, t in nfa.edges[q]]):
            nxt = _closure(nfa, targets)
            if nxt not in index:
                if len(order) >= MAX_STATES:
                    raise GrammarError(f"the terminal needs more than {MAX_STATES} automaton states "
                                       "to write as plain rules", path="lark")
                index[nxt] = len(order)
                order.append(nxt)
            out.append((cs, index[nxt]))
        moves.append(out)
    return DFA(moves, accept)


def _complement(d: DFA) -> DFA:
    """Every string of scalar values ``d`` rejects (a dead state completes it)."""
    dead = len(d.moves)
    moves = []
    for s in range(dead):
        covered = norm([r for cs, _ in d.moves[s] for r in cs])
        rest = subtract(UNIVERSE, covered)
        moves.append(list(d.moves[s]) + ([(rest, dead)] if rest else []))
    moves.append([(UNIVERSE, dead)])
    return DFA(moves, set(range(dead + 1)) - d.accept)


def _product(a: DFA, b: DFA) -> DFA:
    index = {(0, 0): 0}
    order = [(0, 0)]
    moves: list[list[tuple[Ranges, int]]] = []
    accept = set()
    while len(moves) < len(order):
        s = len(moves)
        p, q = order[s]
        if p in a.accept and q in b.accept:
            accept.add(s)
        out = []
        for cs1, t1 in a.moves[p]:
            for cs2, t2 in b.moves[q]:
                cs = intersect(cs1, cs2)
                if not cs:
                    continue
                if (t1, t2) not in index:
                    if len(order) >= MAX_STATES:
                        raise GrammarError(f"the terminal needs more than {MAX_STATES} automaton "
                                           "states to write as plain rules", path="lark")
                    index[(t1, t2)] = len(order)
                    order.append((t1, t2))
                out.append((cs, index[(t1, t2)]))
        moves.append(out)
    return DFA(moves, accept)


def shortest(d: DFA) -> DFA:
    """The lazy lexeme: strings of ``d`` none of whose proper prefixes is in ``d``."""
    return minimize(DFA([[] if s in d.accept else list(m) for s, m in enumerate(d.moves)], set(d.accept)))


def minimize(d: DFA) -> DFA:
    """The minimal trimmed DFA: states that reach no end dropped, equal states merged."""
    live = _live(d)
    if 0 not in live:
        return DFA([[]], set())
    moves = [[(cs, t) for cs, t in d.moves[s] if t in live] if s in live else [] for s in range(len(d.moves))]
    block = {s: int(s in d.accept) for s in live}
    flat = {s: sorted((lo, hi, t) for cs, t in moves[s] for lo, hi in cs) for s in live}
    while True:
        sigs: dict[tuple, int] = {}
        new = {}
        for s in sorted(live):
            sig: list[tuple[int, int, int]] = []  # (lo, hi, target block), touching runs merged
            for lo, hi, t in flat[s]:
                b = block[t]
                if sig and sig[-1][2] == b and sig[-1][1] + 1 == lo:
                    sig[-1] = (sig[-1][0], hi, b)
                else:
                    sig.append((lo, hi, b))
            new[s] = sigs.setdefault((block[s], tuple(sig)), len(sigs))
        if len(sigs) == len(set(block.values())):
            break
        block = new
    block = new
    block = new
    # renumber blocks by first reach from the start, so the start is state 0
    order: dict[int, int] = {}
    todo = [block[0]]
    rep = {}
    for s in sorted(live):
        rep.setdefault(block[s], s)
    while todo:
        b = todo.pop(0)
        if b in order:
            continue
        order[b] = len(order)
        for _, t in moves[rep[b]]:
            if block[t] not in order:
                todo.append(block[t])
    out_moves: list[list[tuple[Ranges, int]]] = [[] for _ in order]
    for b, k in order.items():
        by_target: dict[int, list] = {}
        for cs, t in moves[rep[b]]:
            by_target.setdefault(order[block[t]], []).extend(cs)
        out_moves[k] = [(norm(r), t) for t, r in sorted(by_target.items())]
    return DFA(out_moves, {order[block[s]] for s in live if s in d.accept and block[s] in order})


def _live(d: DFA) -> set[int]:
    reach, todo = {0}, [0]
    while todo:
        for _, t in d.moves[todo.pop()]:
            if t not in reach:
                reach.add(t)
                todo.append(t)
    back: dict[int, set[int]] = {}
    for s in reach:
        for _, t in d.moves[s]:
            back.setdefault(t, set()).add(s)
    live = {s for s in reach if s in d.accept}
    todo = list(live)
    while todo:
        for s in back.get(todo.pop(), ()):
            if s not in live:
                live.add(s)
                todo.append(s)
    return live


def dfa_rules(d: DFA, name: str, label=None) -> list[ir.Rule]:
    """One rule per state (``name`` the start, ``name-1``... the rest); a state written as
    its self-loop, then its other moves (optional when it may end there).

    ``label`` spells a move's character set (default :func:`chars`; JSON strings spell
    each character the ways JSON may escape it)."""
    label = label or chars
    final = {s for s in d.accept if not d.moves[s]}  # nothing after: moves into it end the rule
    names = {0: name}
    for s in range(1, len(d.moves)):
        if s not in final:
            names[s] = f"{name}-{len(names)}"
    rules = []
    for s in sorted(names):
        loop: Ranges = ()
        branches: list[ir.Expr] = []
        for cs, t in d.moves[s]:
            if t == s:
                loop = cs
            elif t in final:
                branches.append(label(cs))
            else:
                branches.append(ir.Seq((label(cs), ir.Ref(names[t]))))
        if not d.moves[s] and s not in d.accept:
            rules.append(ir.Rule(names[s], ir.Chars(())))  # the empty language
            continue
        rest: ir.Expr | None = None
        if branches:
            rest = branches[0] if len(branches) == 1 else ir.Alt(tuple(branches))
            if s in d.accept:
                rest = ir.Repeat(rest, 0, 1)
        items = ([ir.Repeat(label(loop), 0, None)] if loop else []) + ([rest] if rest is not None else [])
        rules.append(ir.Rule(names[s], items[0] if len(items) == 1 else ir.Seq(tuple(items))))  # () : empty
    return rules


# -- the entry point ----------------------------------------------------------------------------

def lower_terminal(rule: ir.Rule, terminals: Mapping[str, ir.Rule] | None = None) -> list[ir.Rule]:
    """``rule`` (a terminal, or a lazy rule) as equivalent plain rules; the first keeps its name.

    ``terminals`` resolves references inside ``&``/``~``/lazy expressions (their text joins
    the automaton); elsewhere a reference stays a reference.
    """
    terminals = terminals or {}
    if rule.lazy or _has_automaton(rule.expr):
        d = _dfa(rule.expr, terminals, (rule.name,))
        if rule.lazy:
            d = shortest(d)
        return dfa_rules(d, rule.name)
    return [ir.Rule(rule.name, simplify(_plain(rule.expr)))]


def _has_automaton(e: ir.Expr) -> bool:
    if isinstance(e, (ir.And, ir.Not)):
        return True
    if isinstance(e, (ir.Seq, ir.Alt)):
        return any(_has_automaton(i) for i in e.items)
    if isinstance(e, ir.Repeat):
        return _has_automaton(e.item)
    return False


def _plain(e: ir.Expr) -> ir.Expr:
    if isinstance(e, ir.Regex):
        return regex_expr(e.pattern)
    if isinstance(e, ir.Chars):
        return chars(char_set(e)) if e.ranges else e
    if isinstance(e, (ir.Seq, ir.Alt)):
        return type(e)(tuple(_plain(i) for i in e.items))
    if isinstance(e, ir.Repeat):
        return ir.Repeat(_plain(e.item), e.min, e.max)
    if isinstance(e, (ir.Lit, ir.Ref)):
        return e
    raise GrammarError(f"a terminal cannot hold {type(e).__name__}", path="lark")
