"""JSON Schema -> one exact Lark terminal, for tool arguments that are regular languages.

llguidance's ``%json`` builds a sub-grammar per schema: dozens of symbols per tool and
an Earley parse of every JSON character.  Most tool arguments are small, closed,
non-recursive objects, and those are regular: one terminal says the same thing and lets
the lexer do the work.  :class:`ArgsTerminals` writes that terminal when it can match
exactly what ``%json`` (with the compiler's compact separators) matches, and returns
``None`` otherwise, so the caller falls back to ``%json``.  Exact means:

* strings: what ``%json`` allows (llguidance 1.9.1, measured): any character but ``"``,
  ``\\``, the controls and DEL, or the escapes ``\\" \\\\ \\b \\f \\n \\r \\t`` and
  ``\\u`` for the controls and DEL only (``%json`` refuses ``\\/`` and ``\\u0041``);
  ``minLength``/``maxLength`` count characters, an escape is one;
* integers and numbers: every JSON form (fractions, exponents; ``-0`` only when unbounded,
  as ``%json`` does); integer bounds become digit ranges; bounded non-integers fall back;
* ``enum``/``const`` of strings, integers, booleans and null: their compact JSON text;
* objects: declared properties in declared order, optional ones may be left out, ``", "``
  between members, ``": "`` after keys; only when ``additionalProperties`` is false;
* arrays of regular items with ``minItems``/``maxItems``; ``anyOf`` and type lists.

Anything else (``pattern``, ``format``, ``$ref``, open objects, untyped values, bounded
floats, ``multipleOf``) is not attempted.  :class:`PythonTerminals` writes the same terminals
with values spelled as Python literals (Seed-OSS's and the pythonic encoding's nested dicts).

It reads a loaded schema directly, with the keyword table of :mod:`.schema`: annotations
and unknown keywords constrain nothing, any keyword outside :data:`KNOWN` that constrains
(or can't be enforced) sends the schema to ``%json`` through :func:`.schema.prepare`, which
words the error or warning.  With ``close_objects``, an object listing ``properties``
without ``additionalProperties`` is closed, as :func:`.schema.prepare` closes it.

The terminal is written as a Lark *terminal expression*: literal strings for keys and
punctuation, the generic value terminals (``JSON_CHAR``, ``JSON_STRING``, ``JSON_BOOLEAN``...)
defined once per grammar and shared by every tool, and what one schema bounds written in
place: a bounded string as ``"\""JSON_CHAR{,16}"\""`` (its quotes join the key's text),
an integer range as its regex.  llguidance pays per grammar element: a named terminal for
each distinct bound cost 23% more to build than the same bounds in place (cachegrind, 100
synthetic tools), and a composition of shared pieces builds several times faster than one
regex per tool (each shared piece is parsed and built once).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Callable, Sequence

from .lark import NAME_CHARS, json_text, literal, runs_into
from .schema import ENFORCED, UNSUPPORTED

# A JSON string character: anything but a quote, a backslash or a control, or an escape.
CHAR = r'(?:[^"\\\x00-\x1f\x7f]|\\(?:["\\bfnrt]|u00(?:[01][0-9a-fA-F]|7[fF])))'
NATURAL = "(?:0|[1-9][0-9]*)"
INTEGER = f"-?{NATURAL}"
NUMBER = f"{INTEGER}(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
# Python literals (PythonTerminals; the pythonic encoding's strings): an escape, a character of
# a '...' literal, of a "..." one.
PYTHON_ESCAPE = r"\\(?:[\\'\"abfnrtv0]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})"
PYTHON_SQ_CHAR = f"/[^'\\\\\\x00-\\x1f\\x7f]|{PYTHON_ESCAPE}/"
PYTHON_DQ_CHAR = f'/[^"\\\\\\x00-\\x1f\\x7f]|{PYTHON_ESCAPE}/'
MAX_EXPRESSION = 20_000  # characters; past this a terminal costs llguidance's lexer more than %json
MAX_NESTING = 24  # groups; llguidance 1.9.1's Lark parser refuses 29 ("too deeply nested")

# Keywords this module understands; a schema with any other keyword falls back.
KNOWN = frozenset({
    "type", "enum", "const", "properties", "required", "additionalProperties", "items",
    "minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "anyOf",
})
TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")
_TYPE_NAMES = frozenset(TYPES)
_NOT_HERE = (ENFORCED | UNSUPPORTED | {"oneOf"}) - KNOWN  # keywords that send a schema to %json


class _NotRegular(Exception):
    """This schema has no exact terminal here; use %json."""


# A written value is a flat tuple that alternates literal text and items,
# ``(text, item, text, ..., item, text)``, texts "" where there is none: literal text stays
# joined wherever values are put side by side, whatever they nest in.  An item is a Lark
# expression (``str``) or the texts of an enum (``tuple``), of which the value is one: an
# enum's texts take in the literal text around them, so ``(", \"mode\": \"fast\"" |
# ", \"mode\": \"slow\"")`` is written, two grammar elements fewer than
# ``", \"mode\": " ("\"fast\"" | "\"slow\"")`` (llguidance pays per element: -5% build on
# 100 synthetic tools).  Tuples joined where they meet replaced lists of parts and item
# classes: the same output, -4% instructions.
_Seq = tuple


class ArgsTerminals:
    """The argument terminals of one grammar, and the value terminals they share.

    Values are spelled as JSON; a subclass may spell them otherwise (Python literals:
    :class:`PythonTerminals` below) by overriding the scalar writers and :attr:`spelling`,
    :meth:`key_text` and :meth:`value_text`."""

    spelling = "json"  # what the plain-type leaves written before are kept under

    def __init__(self, close_objects: bool = True, shared: dict[str, str] | None = None) -> None:
        self.shared: dict[str, str] = {} if shared is None else shared  # terminal name -> its definition
        self.close_objects = close_objects
        self._leaves = _LEAVES.setdefault(self.spelling, {})
        self._new: dict[str, str] = {}  # definitions the schema being written needs
        self._asked: dict[str, str] = {}  # definitions the leaf being written asks for
        self._writers = {t: getattr(self, "_" + t) for t in TYPES}

    def expression(self, schema: Any) -> str | None:
        """The Lark terminal expression for the compact JSON ``schema`` accepts, or None."""
        written = self.pieces(schema)
        return None if written is None else written[3]

    def pieces(self, schema: Any) -> tuple[str, str, str, str] | None:
        """The expression as ``(lead, middle, tail, text)``: the literal text it starts with,
        the Lark expression after that, the literal text it ends with, and the whole; or None.
        A caller splicing the arguments into a longer terminal joins ``lead`` and ``tail`` to
        the text around them (one literal each side, not two)."""
        self._new = {}
        try:
            seq = self._value(schema)
        except _NotRegular:
            return None
        if len(seq) == 1:
            lead, middle, tail = seq[0], "", ""
            text = literal(lead) if lead else ""
        else:
            lead, middle, tail = seq[0], _lark(("", *seq[1:-1], "")), seq[-1]
            text = (literal(lead) if lead else "") + middle + (literal(tail) if tail else "")
        if len(text) > MAX_EXPRESSION or (text.count("(") > MAX_NESTING and _nesting(text) > MAX_NESTING):
            return None
        self.shared.update(self._new)  # only a schema written in full adds its definitions
        return lead, middle, tail, text

    def definitions(self) -> list[str]:
        return [f"{name}: {body}" for name, body in self.shared.items()]

    def _define(self, name: str, body: str) -> _Seq:
        self._asked[name] = body  # what a leaf needs, wherever it is written again
        if name not in self.shared:
            self._new[name] = body
        return ("", name, "")

    # -- values ------------------------------------------------------------------------
    def _value(self, schema: Any) -> _Seq:
        if not isinstance(schema, dict):
            raise _NotRegular
        keys: Any = schema.keys()
        if not keys <= KNOWN:
            if not _NOT_HERE.isdisjoint(keys):
                raise _NotRegular
            keys = keys & KNOWN  # annotations constrain nothing
        key = schema["type"] if len(keys) == 1 and "type" in keys else None
        if type(key) is not str:
            return self._written(schema, keys)
        hit = self._leaves.get(key)  # a plain-type leaf: {"type": "string"}, annotations aside
        if hit is None:  # write it, noting every definition it asks for
            outer, asked = self._asked, dict[str, str]()
            self._asked = asked
            try:
                seq = self._written(schema, keys)
                hit = (seq, tuple(asked.items()))
            finally:
                outer.update(asked)
                self._asked = outer
            self._leaves[key] = hit  # one entry a JSON type at most
        else:
            for name, body in hit[1]:
                if name not in self.shared:
                    self._new[name] = body
        return hit[0]

    def _written(self, schema: dict[str, Any], keys: Any) -> _Seq:
        """``schema`` written, ``keys`` its keywords that constrain (those in KNOWN)."""
        if not keys:
            raise _NotRegular  # any JSON value, which nests without bound
        if "anyOf" in keys:
            if len(keys) != 1 or not schema["anyOf"]:
                raise _NotRegular
            return _alt([self._value(branch) for branch in schema["anyOf"]])
        t = schema.get("type")
        if type(t) is str and t in _TYPE_NAMES and "enum" not in keys and "const" not in keys:
            return self._writers[t](schema)  # one type (the common case), no list made
        types = _types(schema)
        if "enum" in keys or "const" in keys:
            return _literals(schema, keys, types, self.value_text)
        return _alt([self._writers[t](schema) for t in types])

    def _string(self, schema: dict[str, Any]) -> _Seq:
        low, high = _count(schema.get("minLength")) or 0, _count(schema.get("maxLength"))
        if high is not None and high < low:
            raise _NotRegular
        if high == 0:
            return ('""',)
        self._define("JSON_CHAR", f"/{CHAR}/")
        if (low, high) == (0, None):
            return self._define("JSON_STRING", '"\\"" JSON_CHAR* "\\""')
        # {,16}: llguidance reads a missing low end as 0, one grammar element fewer than {0,16}
        repeat = f"{{{low},}}" if high is None else f"{{{low},{high}}}" if low else f"{{,{high}}}"
        # inline: the quotes join the key's text (always in place: see PythonTerminals._bounded)
        return ('"', f"JSON_CHAR{repeat}", '"')

    def _integer(self, schema: dict[str, Any]) -> _Seq:
        low, high = _integer_bounds(schema)
        if low is None and high is None:
            return self._define("JSON_INTEGER", f"/{INTEGER}/")
        if low is not None and high is not None and low > high:
            raise _NotRegular
        return ("", f"/{int_range(low, high)}/", "")  # inline (see the module docstring)

    def _number(self, schema: dict[str, Any]) -> _Seq:
        if not schema.keys().isdisjoint(_BOUNDS):
            raise _NotRegular  # ranges over decimals and exponents: left to %json
        return self._define("JSON_NUMBER", f"/{NUMBER}/")

    def _boolean(self, schema: dict[str, Any]) -> _Seq:
        return self._define("JSON_BOOLEAN", '"true" | "false"')

    def _null(self, schema: dict[str, Any]) -> _Seq:
        return ("null",)

    def _array(self, schema: dict[str, Any]) -> _Seq:
        if "items" not in schema:
            raise _NotRegular
        item = self._value(schema["items"])
        low, high = _count(schema.get("minItems")) or 0, _count(schema.get("maxItems"))
        if high is not None and high < low:
            raise _NotRegular
        if high == 0:
            return ("[]",)
        more = _repeat((", " + item[0], *item[1:]), max(low - 1, 0), None if high is None else high - 1)
        items = _cat(item, more)
        return _wrap("[", items if low >= 1 else _optional(items), "]")

    def _object(self, schema: dict[str, Any]) -> _Seq:
        additional = schema.get("additionalProperties")
        if additional is None and self.close_objects and "properties" in schema:
            additional = False  # closed, as schema.prepare closes it
        if additional is not False:
            raise _NotRegular  # open objects take any key and any JSON value
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(properties, dict) or not isinstance(required, list):
            raise _NotRegular
        if not properties.keys() >= set(required):
            raise _NotRegular  # unsatisfiable: leave the error to %json
        members, key = [], self.key_text
        for k, v in properties.items():
            value = self._value(v)
            members.append(((key(k) + value[0],) + value[1:], k in required))
        return _wrap("{", _members(members), "}")

    @staticmethod
    def key_text(name: str) -> str:
        """A member's lead: its key and the separator after it."""
        return _key(name)

    @staticmethod
    def value_text(value: Any) -> str:
        """An enum or const value's text (strings, integers, booleans and null)."""
        return json_text(value)


class PythonTerminals(ArgsTerminals):
    """The same exact terminals, values spelled as Python's ``repr`` writes them:
    ``{'lang': 'fr', 'n': 1, 'ok': True, 'x': None}`` (Seed-OSS's template prints a nested
    value with ``str()``).  A string takes either quote, as a Python literal may, and counts
    an escape as one character, as the pythonic encoding's strings do.  Its value terminals
    have names of their own.  It writes an object in about half the time the literal
    grammar's general walk takes (``pythonic.LiteralGrammar``), which stays the fallback."""

    spelling = "python"

    def __init__(self, close_objects: bool = True, shared: dict[str, str] | None = None) -> None:
        super().__init__(close_objects, shared)
        self._bounds: set[tuple[int, int | None]] = set()  # string bounds written in this grammar

    @staticmethod
    def key_text(name: str) -> str:
        return repr(name) + ": "

    @staticmethod
    def value_text(value: Any) -> str:
        return repr(value)  # strings, integers, True, False, None (as python_literal writes them)

    def _string(self, schema: dict[str, Any]) -> _Seq:
        low, high = _count(schema.get("minLength")) or 0, _count(schema.get("maxLength"))
        if high is not None and high < low:
            raise _NotRegular
        if high == 0:
            return ("", _PY_EMPTY, "")
        self._define("PYTHON_SQ_CHAR", PYTHON_SQ_CHAR)
        self._define("PYTHON_DQ_CHAR", PYTHON_DQ_CHAR)
        if (low, high) == (0, None):
            return self._define("PYTHON_STRING", _PY_STRING.format(repeat="*"))
        repeat = f"{{{low},}}" if high is None else f"{{{low},{high}}}" if low else f"{{,{high}}}"
        body = _PY_STRING.format(repeat=repeat)
        written = self._bounded("PYTHON_STRING", low, high, body)
        return ("", written if written != body else "(" + body + ")", "")

    def _bounded(self, prefix: str, low: int, high: int | None, body: str) -> str:
        """A bounded string's body: in place where this grammar meets its bounds first, a terminal
        of its own (shared) from the second time on.  In place, llguidance builds it once per
        use; named, once (1,000 tools, 97 lengths: pythonic -16% build, its two quotes' repeats
        and their alternation); a named terminal used once costs more than in place (+7%), so
        the first stays so.  Not for JSON's strings (one repeat, the quotes joined to the key's
        text: -3% at 1,000 tools), whose identical argument languages would then read apart
        (the first in place, the next named) and no longer share one terminal."""
        if (low, high) not in self._bounds:
            self._bounds.add((low, high))
            return body
        return self._define(f"{prefix}_{low}_{'N' if high is None else high}", body)[1]

    def _boolean(self, schema: dict[str, Any]) -> _Seq:
        return self._define("PYTHON_BOOLEAN", '"True"|"False"')

    def _null(self, schema: dict[str, Any]) -> _Seq:
        return ("None",)


_PY_EMPTY = "(" + literal("''") + "|" + literal('""') + ")"
_PY_STRING = (literal("'") + "PYTHON_SQ_CHAR{repeat}" + literal("'") + "|"
              + literal('"') + "PYTHON_DQ_CHAR{repeat}" + literal('"'))


# Plain-type leaves (``{"type": "string"}``, annotations aside) written before, in any grammar
# of this process: spelling -> type name -> (its sequence, the definitions it needs).  Tool lists repeat
# them (BFCL: -22% compile); a bounded leaf rarely repeats, and a memo keyed on its keywords
# cost more than it saved (-6% compile of 100 distinct synthetic tools without it; cachegrind,
# caches cold).  Its ranges are cached (int_range).
_LEAVES: dict[str, dict[str, tuple[tuple[Any, ...], tuple[tuple[str, str], ...]]]] = {}


def forget() -> None:
    """Forget the leaves and ranges written before, as a process that never saw these
    tools would not have them (benchmarks time a new tool list with it)."""
    for leaves in _LEAVES.values():
        leaves.clear()
    _key.cache_clear()
    int_range.cache_clear()
    _same_length.cache_clear()


@functools.lru_cache(maxsize=65536)
def _key(name: str) -> str:
    """A member's lead, ``"name": `` (cached: tool lists repeat their property names)."""
    return json_text(name) + ": "


def _members(members: list[tuple[_Seq, bool]]) -> _Seq:
    """Members in order, optional ones skippable, ", " only between members present.

    One alternative for each member that can come first (every optional member before the
    first required one, and that one), each followed by the rest: later members as
    ``", " member``, optional ones in a group.  Flat, so wide objects do not nest.
    """
    later = [(", " + seq[0],) + seq[1:] if needed else _optional((", " + seq[0],) + seq[1:])
             for seq, needed in members]  # each member as it follows another
    firsts = []
    for i, (seq, needed) in enumerate(members):
        firsts.append(_cat(seq, *later[i + 1:]))
        if needed:
            return _alt(firsts)
    return _group(firsts, "?") if firsts else ("",)


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if t is None:
        if "enum" in schema or "const" in schema:
            return list(TYPES)
        raise _NotRegular  # an untyped value may be any JSON, which nests without bound
    types = [t] if type(t) is str else list(t)
    if not types or not _TYPE_NAMES.issuperset(types):
        raise _NotRegular
    return types


def _literals(schema: dict[str, Any], keys: Any, types: list[str], text: Callable[[Any], str]) -> _Seq:
    """enum/const: each allowed value's text (compact JSON; values checked against ``type``)."""
    if not keys <= _LITERAL_KEYS or ("enum" in keys and "const" in keys):
        raise _NotRegular
    values = [schema["const"]] if "const" in schema else schema["enum"]
    if not isinstance(values, list):
        raise _NotRegular
    kept = []
    for v in values:
        kind = "string" if type(v) is str else _kind(v)  # (most enums are strings)
        if kind in types or (kind == "integer" and "number" in types):
            kept.append(text(v))
    if not kept:
        raise _NotRegular  # nothing is allowed: leave the error to %json
    texts = tuple(dict.fromkeys(kept))
    return (texts[0],) if len(texts) == 1 else ("", texts, "")


_LITERAL_KEYS = frozenset({"type", "enum", "const"})


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, str):
        return "string"
    raise _NotRegular  # floats, objects, arrays: their JSON spelling is not ours to guess


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_LIMIT = 2**53  # llguidance's bounds are 64-bit; stay well inside them


def _integer_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if ((low is None or (type(low) is int and -_LIMIT < low < _LIMIT))
            and (high is None or (type(high) is int and -_LIMIT < high < _LIMIT))
            and "exclusiveMinimum" not in schema and "exclusiveMaximum" not in schema):
        return low, high  # the common case: whole-number bounds, inclusive
    low = high = None
    for key in _BOUNDS:
        value = schema.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) < _LIMIT:
            raise _NotRegular  # llguidance's bounds are 64-bit; stay well inside them
        if key == "minimum":
            bound = math.ceil(value)
        elif key == "exclusiveMinimum":
            bound = math.floor(value) + 1
        elif key == "maximum":
            bound = math.floor(value)
        else:
            bound = math.ceil(value) - 1
        if key.endswith("inimum"):
            low = bound if low is None else max(low, bound)
        else:
            high = bound if high is None else min(high, bound)
    return low, high


def _count(value: Any) -> int | None:
    """A length or item count keyword's value; None where the schema leaves it out."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise _NotRegular
    return int(value)


# -- sequences ---------------------------------------------------------------------------------

def _lark(seq: _Seq) -> str:
    """A written value as Lark: its literal texts as string literals, each enum's texts
    joined with the literal text on both sides of it."""
    if len(seq) == 1:
        return literal(seq[0]) if seq[0] else ""
    if len(seq) == 3 and type(seq[1]) is str:  # one expression (most values): no loop
        return (literal(seq[0]) if seq[0] else "") + seq[1] + (literal(seq[2]) if seq[2] else "")
    out: list[str] = []
    text = seq[0]  # literal text no enum has taken in
    for i in range(1, len(seq), 2):  # (this loop runs ~10 times a tool: kept lean)
        item = seq[i]
        if type(item) is tuple:  # an enum takes the text before it and the text after
            out.append("(" + "|".join([literal(text + t + seq[i + 1]) for t in item]) + ")")
            text = ""
        else:
            if text:
                out.append(literal(text))
            if out and item[0] in NAME_CHARS and runs_into(out[-1], item):
                out.append(" ")  # (lark.concat's rule, inline: this runs for every value)
            out.append(item)
            text = seq[i + 1]
    if text:
        out.append(literal(text))
    return "".join(out)


def _cat(first: _Seq, *rest: _Seq) -> _Seq:
    """Values side by side: the texts where they meet join."""
    for seq in rest:
        first = first[:-1] + (first[-1] + seq[0],) + seq[1:]
    return first


def _wrap(before: str, seq: _Seq, after: str) -> _Seq:
    """A value with literal text before and after it (brackets, quotes)."""
    if len(seq) == 1:
        return (before + seq[0] + after,)
    return (before + seq[0], *seq[1:-1], seq[-1] + after)


def _group(options: Sequence[_Seq], suffix: str = "") -> _Seq:
    """``(a | b ...)`` plus a suffix (``?``, ``*``, ``{m,n}``), as one item of a value."""
    if len(options) == 1 and len(options[0]) == 3 and type(options[0][1]) is tuple:
        return ("", _lark(options[0]) + suffix, "")  # one enum and its texts: its group takes the suffix
    return ("", "(" + "|".join([_lark(o) for o in options]) + ")" + suffix, "")


_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)+/')  # and regexes
_INNERMOST_GROUP = re.compile(r"\([^()]*\)")


def _nesting(expr: str) -> int:
    """How deeply an argument expression's groups nest (its parentheses outside string literals).

    String literals and regexes are taken out first, so every parenthesis left is a group of ours.
    """
    rest, depth = _STRING_LITERAL.sub("", expr), 0
    while "(" in rest:
        rest = _INNERMOST_GROUP.sub("", rest)
        depth += 1
    return depth


def _alt(options: list[_Seq]) -> _Seq:
    return options[0] if len(options) == 1 else _group(options)


def _optional(seq: _Seq) -> _Seq:
    return _group([seq], "?")


def _repeat(seq: _Seq, low: int, high: int | None) -> _Seq:
    if high == 0:
        return ("",)
    return _group([seq], ("*" if not low else f"{{{low},}}") if high is None else f"{{{low},{high}}}")


# -- integer ranges ---------------------------------------------------------------------

@functools.lru_cache(maxsize=65536)
def int_range(low: int | None, high: int | None) -> str:
    """A regex for the JSON integers in [low, high] (either end open), no leading zeros.

    ``-0`` is in it exactly when ``%json`` allows it (llguidance 1.9.1, measured): when
    both ends are given and the range holds zero and negatives.
    """
    parts = []
    if low is None or low < 0:  # the negatives
        if high is not None and high < 0:
            parts.append("-" + _regex_alt(_naturals(-high, None if low is None else -low)))
        else:
            parts.append("-" + _regex_alt(_naturals(1, None if low is None else -low)))
    if high is None or high >= 0:  # zero and the positives, spliced into this alternation
        parts += _naturals(0 if low is None or low <= 0 else low, high)
    if low is not None and high is not None and low < 0 <= high:
        parts.append("-0")
    return _regex_alt(parts)


def _naturals(low: int, high: int | None) -> list[str]:
    """Naturals in [low, high] written without leading zeros, as alternatives; ``high=None``: no upper end."""
    out: list[str] = []
    low_text, high_text = str(low), "" if high is None else str(high)
    digits = len(low_text)
    top = digits if high is None else len(high_text)
    for n in range(digits, top + 1):  # same-length digit strings compare as their numbers
        lo = low_text if n == digits else "1" + "0" * (n - 1)
        hi = high_text if n == top and high is not None else "9" * n
        if lo <= hi:
            out += _same_length(lo, hi)
    if high is None:
        out.append(f"[1-9][0-9]{{{digits},}}")
    return out


@functools.lru_cache(maxsize=4096)
def _same_length(lo: str, hi: str) -> tuple[str, ...]:
    """Digit strings of one length between lo and hi, in as few alternatives as it takes.

    (llguidance pays for every alternative of every distinct range: 1,500 ranges cost
    about 60 ms to build with six alternatives each, 25 ms with two.)  Cached: distinct
    ranges share their suffixes (``"0".."9"``, ``"00".."99"``...).
    """
    if lo == hi:
        return (lo,)
    rest = len(lo) - 1
    any_rest = "" if not rest else "[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"
    if lo[0] == hi[0]:
        return (lo[0] + _regex_alt(_same_length(lo[1:], hi[1:])),)
    options = []
    low, high = int(lo[0]), int(hi[0])  # the leading digits whose every suffix is in range
    if lo[1:] != "0" * rest:
        options.append(lo[0] + _regex_alt(_same_length(lo[1:], "9" * rest)))
        low += 1
    if hi[1:] != "9" * rest:
        high -= 1
    if low <= high:
        options.append(_digit(str(low), str(high)) + any_rest)
    if hi[1:] != "9" * rest:
        options.append(hi[0] + _regex_alt(_same_length("0" * rest, hi[1:])))
    return tuple(options)


def _digit(lo: str, hi: str) -> str:
    return lo if lo == hi else f"[{lo}-{hi}]"


def _regex_alt(options: Sequence[str]) -> str:
    return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"
