"""The grammar value every engine printer reads: named rules over a small expression algebra.

grammargen compiles to llguidance Lark (its first engine, and the one it proves against);
the other engines' dialects (GBNF, xgrammar) are printed from this value, which is read
back from that Lark, so every dialect says what the proven grammar says.  The algebra is
exactly what the compiler writes, nothing more:

* ``Lit`` text, ``Token`` a special token (by id or by ``<|name|>``), ``Ref`` another rule;
* ``Seq``, ``Alt``, ``Repeat`` (``?``, ``*``, ``+``, ``{m,n}``);
* ``Regex`` (llguidance's regex syntax: Rust ``regex``, ``\\x{..}`` escapes, ``(?s:..)``);
* ``And`` / ``Not``: terminal intersection and complement (``A & ~B``), how free text is
  kept from spelling out a marker;
* ``Json``: a ``%json`` schema, with the compact separators of ``compiler.JSON_STYLE``;
* ``Chars``: a character class, made only when a printer lowers a ``Regex`` or ``Json``
  into rules for a dialect without them.

A ``Rule`` is a terminal (upper-case name: one lexeme) or a rule; ``lazy`` ends its lexeme at
the first point it can end.  Printers live in ``grammargen.emit``; this module holds only
the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Lit:
    text: str


@dataclass(frozen=True)
class Token:
    """A special token: ``<[id]>`` (``id``) or ``<|name|>`` written by name (``name``)."""

    id: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Regex:
    pattern: str


@dataclass(frozen=True)
class Chars:
    """One character from ``ranges`` (inclusive code point pairs), or, ``negated``, outside them.

    Not written by the compiler: lowering a ``Regex`` into rules (GBNF has no regexes) makes it.
    """

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False


@dataclass(frozen=True)
class Seq:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Alt:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Repeat:
    item: "Expr"
    min: int
    max: int | None  # None: unbounded


@dataclass(frozen=True)
class And:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Not:
    item: "Expr"


@dataclass(frozen=True)
class Json:
    schema: Any  # the parsed %json object (x-guidance included)


Expr = Union[Lit, Token, Ref, Regex, Chars, Seq, Alt, Repeat, And, Not, Json]


@dataclass(frozen=True)
class Rule:
    name: str
    expr: Expr
    lazy: bool = False

    @property
    def terminal(self) -> bool:
        """Lark's convention: an upper-case name is a terminal (one lexeme)."""
        return self.name[:1].isupper()


@dataclass(frozen=True)
class GrammarValue:
    """The rules in the order the compiler wrote them; ``start`` is the start rule."""

    rules: tuple[Rule, ...]
    start: str = "start"

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)
