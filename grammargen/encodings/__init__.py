"""Argument encodings: how a call's arguments are written, one module per encoding.

A layout's ``{arguments = "<encoding>"}`` piece names one.  An encoding holds the three
readings of that piece, so a new one never edits the compiler, renderer or parser:

* ``grammar(writer, tool)``: the Lark items for the tool's arguments (``str`` is literal
  text, :class:`Ref` a Lark expression); ``writer`` is the compiler's ``_Writer``, whose
  ``rules``, ``args_rules``, ``terminals`` and ``args_rule(tool)`` (the JSON object) it may use,
  and through :func:`argument_terminal` its ``args_terminals`` and ``args_uses`` (a tool's
  whole arguments as the compile's argument terminal, which the name tree writes in place);
* ``render(arguments, schema)``: the text of an arguments dict (``schema`` is the tool's
  parameters when known, else ``None``);
* ``read(reader, call)``: a parse step, a generator in the style of the parser's reader:
  it reads at ``reader.pos``, yields when it needs more text (``reader.more(what)``),
  sends the arguments as JSON object text through ``call.args_piece`` as it goes (so a
  stream shows them early) and raises ``reader.fail(message, offset)``.

An encoding may end its items with an :class:`Absorbing` reference: the compiler hands it
the literal text that follows (the layout's closing tag) and writes what it returns instead,
so a tool's arguments and that text can be one terminal.

``lead`` is the text the arguments surely start with (``{`` for JSON), or ``""`` where they
may be empty; ``starts`` lists what they begin with when present, so a raw tool name
written right before them ends there (GLM-4.7: ``name<arg_key>``).
Every module of this package that defines ``ENCODINGS`` (name -> encoding) is found
when the registry is first read; names are unique across modules.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Generator, Protocol

from ..errors import ProfileError
from ..lark import concat, literal

Wait = Generator[None, None, Any]  # a reading step: yields when it needs more text


@dataclass(frozen=True)
class Ref:
    """A raw Lark expression inside a sequence of grammar items (literal text is a plain ``str``)."""

    expr: str


class Absorbing(Ref):
    """Arguments that may take the literal text right after them into their last terminal.

    ``expr`` is their grammar on its own, written (into the compile's rules) only when read;
    ``absorb(text)`` their grammar followed by ``text``.  llguidance lexes greedily and never
    backs up, so a terminal may not end where it could go on: optional elements at the end of
    a tool's arguments must stay lexemes of their own, unless the text after them
    (``</function>``) ends the terminal instead.
    """

    _alone: Callable[[], str]
    _expr: str | None
    absorb: Callable[[str], Ref]

    def __init__(self, alone: Callable[[], str], absorb: Callable[[str], Ref]) -> None:
        object.__setattr__(self, "_alone", alone)
        object.__setattr__(self, "_expr", None)
        object.__setattr__(self, "absorb", absorb)

    @property  # type: ignore[override]
    def expr(self) -> str:
        expr = self._expr
        if expr is None:
            expr = self._alone()
            object.__setattr__(self, "_expr", expr)
        return expr

    def __repr__(self) -> str:
        return f"Absorbing({self.expr!r})"


Item = str | Ref


def argument_terminal(writer: Any, items: list[Item], expr: str | None = None) -> str:
    """A tool's whole argument list (literal text and terminal expressions only) as an argument
    terminal of the compile, as the JSON formats' are (the writer's ``args_terminals``):
    identical ones shared, and one no other tool shares written in place in the calls' name
    tree, its leading text joined to the name's (a named terminal costs llguidance a
    definition: 4% of the build at 100 tools).  ``expr``: the items as Lark, where the caller
    has written it already.  Returns its name."""
    if expr is None:
        expr = concat([literal(i) if isinstance(i, str) else i.expr for i in items])
    key = "encoded:" + expr
    name = writer.args_rules.get(key)
    if name is None:
        name = writer.args_rules[key] = f"ARGS_{len(writer.args_rules)}"
        writer.args_terminals[name] = (expr, items)
    writer.args_uses[name] = writer.args_uses.get(name, 0) + 1
    return name


class Encoding(Protocol):
    """The three readings of one argument encoding (see the module docstring)."""

    name: str
    lead: str
    starts: tuple[str, ...]

    def grammar(self, writer: Any, tool: Any) -> list[Item]: ...

    def render(self, arguments: dict[str, Any], schema: dict[str, Any] | None) -> str: ...

    def read(self, reader: Any, call: Any) -> Wait: ...


@functools.cache
def registry() -> dict[str, Encoding]:
    """Every encoding the package's modules define, by name."""
    found: dict[str, Encoding] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, encoding in getattr(module, "ENCODINGS", {}).items():
            if name in found:
                raise ProfileError(f"argument encoding {name!r} is defined twice "
                                   f"(again in grammargen.encodings.{info.name})")
            found[name] = encoding
    return found


def names() -> list[str]:
    """The known encoding names, sorted."""
    return sorted(registry())


def get_encoding(name: str) -> Encoding:
    """The encoding called ``name``; an unknown name lists the known ones."""
    known = registry()
    if name not in known:
        raise ProfileError(f"unknown argument encoding {name!r} (known: {', '.join(sorted(known))})")
    return known[name]
