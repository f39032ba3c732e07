"""Pythonic calls: ``[get_weather(city='Paris', days=3), get_time()]``.

LFM2.5 (between ``<|tool_call_start|>`` and ``<|tool_call_end|>``), Llama 3.2/4 with a
system prompt asking for it (vLLM's and SGLang's ``pythonic`` parsers) and others write
each call as a Python call with keyword arguments whose values are Python literals.
This module holds the three readings of that encoding:

* grammar: per tool, ``name(k=v, ...)`` with each value spelled as a Python literal that
  the property's schema allows, keys in declared order (as JSON arguments are);
* render: the exact text the grammar accepts (``repr`` spelling: ``'x'``, ``True``,
  ``None``, ``[1, 2]``); LFM2.5's template writes a dict at the top level as JSON
  (``tojson``), so the ``lfm2`` spelling does too;
* read: a tokenizer-free reader of Python literals (JSON's ``true``/``null`` too, since
  real outputs mix them), forgiving where real models slip and meaning is not at stake:
  raw newlines inside quotes, quotes nested without escapes, ``07``, sets.  It never
  evaluates anything: values are scanned here and decoded by hand.

:class:`LiteralGrammar` is the schema walk the Gemma encoding shares (it overrides only
the spellings).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from mypy_extensions import mypyc_attr  # str subclasses stay Python classes when compiled (hatch_build.py)

from ..errors import GrammarGenError, InputError, OutputParseError, ToolError, UnsupportedSchemaError, join_path
from ..fastjson import PYTHON_DQ_CHAR as _DQ_CHAR, PYTHON_SQ_CHAR as _SQ_CHAR, ArgsTerminals, PythonTerminals, int_range
from ..lark import NAME_CHARS, concat, json_text, literal, runs_into
from ..schema import resolve_ref

MAX_DEPTH = 64  # nesting the reader follows before it calls the text hostile

# Keywords the literal grammars enforce; annotations pass; anything else is refused by name.
ENFORCED = frozenset({
    "type", "enum", "const", "properties", "required", "additionalProperties", "items",
    "minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "anyOf", "$ref", "$defs",
    "definitions", "$id", "$anchor", "format", "pattern",
})
ANNOTATIONS = frozenset({
    "title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
    "writeOnly", "$schema", "$vocabulary", "contentMediaType", "contentEncoding", "contentSchema",
})
_NUMERIC = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_NUMERIC_SET = frozenset(_NUMERIC)
_WORDS_KNOWN = ENFORCED | ANNOTATIONS
# What a loaded schema may hold to be written as it is (schema.prepare would only drop the
# annotations and close objects): no $ref, allOf, oneOf, pattern, format or unknown keyword.
_PLAIN = frozenset({
    "type", "enum", "const", "properties", "required", "additionalProperties", "items",
    "minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "anyOf"}) | ANNOTATIONS


class NotPlain(Exception):
    """A loaded schema that schema.prepare must see first (see :func:`written`)."""
_IDENTIFIERS = frozenset({"$defs", "definitions", "$id", "$anchor"})  # dropped once a $ref is resolved
INTEGER = r"/-?(?:0|[1-9][0-9]*)/"
NUMBER = r"/-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/"
# A call's name is read up to its "(" (surrounding space dropped): a name holding "(", a
# control character or space at either end could not be read back, so it is refused.
# A name is read up to its "(", stripped; one starting like JSON reads as LFM2's older JSON calls.
_NAME_BAD = re.compile(r"\(|[\x00-\x1f\x7f]|^\s|\s$|^$|^[\[{]")


class LiteralGrammar:
    """Lark rules for argument values by JSON Schema; subclasses choose the spelling.

    Rule names come from a counter (never from input); every literal goes through
    :func:`literal` or :func:`regex_escape`.  Identical subschemas share one rule.
    """

    prefix = "py"
    item_sep = ", "
    key_sep = ": "
    true = "True"
    false = "False"
    null = "None"

    def __init__(self, rules: list[str] | None = None) -> None:
        self.rules: list[str] = [] if rules is None else rules  # appended to (the compiler's own list)
        self.names: dict[str, str] = {}  # schema text (with context) -> rule name
        self.root: Any = {}
        self.where = ""  # the schema path being written (for errors)
        self.specials: tuple[str, ...] = ()  # special-token texts no literal may hold
        self._defined: list[tuple[str, str]] | None = None  # terminals the leaf being written defines
        # writes a tool's whole (lexical) argument list as the compile's argument terminal
        # (encodings.argument_terminal), or None: a terminal of this grammar's own
        self.args_terminal: Callable[[list[Any]], str] | None = None
        # None: schemas come from schema.prepare; else a loaded schema is being written as it
        # is (see written()), and this says whether objects listing properties are closed
        self.closing: bool | None = None
        self._bounds: set[tuple[int, int | None]] = set()  # string bounds written in this grammar
        self._python: PythonTerminals | None = None  # exact terminals in Python spelling (PythonicGrammar)

    # -- spellings (overridden by Gemma) -------------------------------------------------
    def string(self, lo: int, hi: int | None) -> str:
        """A Python string literal of lo..hi characters: ``'...'`` or ``"..."`` with escapes.

        Each length's terminal repeats two shared character terminals (as fastjson's strings
        repeat JSON_CHAR): llguidance builds a shared piece once, where a whole regex per
        length cost it a sixth more for 100 tools (benchmarks/encodings_speed.py)."""
        count = f"{{{lo or ''},{hi}}}" if hi is not None else (f"{{{lo},}}" if lo else "*")  # {,16}: from 0
        single = self.terminal("SQ_CHAR", _SQ_CHAR)
        double = self.terminal("DQ_CHAR", _DQ_CHAR)
        if hi == 0:  # only the empty string (llguidance refuses a count that ends at 0)
            body = '"\'\'"|"\\"\\""'
        else:  # (no spaces: see lark.concat)
            body = f'"\'"{single}{count}"\'"|"\\""{double}{count}"\\""'
        if (lo, hi) == (0, None):  # any string: one terminal every tool shares
            return self.terminal("STR_0_N", body)
        if (lo, hi) in self._bounds:  # met before in this grammar: one terminal (as PythonTerminals._bounded)
            return self.terminal(f"STR_{lo}_{'N' if hi is None else hi}", body)
        self._bounds.add((lo, hi))
        return _Lexical(f"({body})")  # a bound met first: in place (see placed())

    def shaped_string(self, schema: dict[str, Any], path: str) -> str:
        """A string with ``pattern`` or ``format``: llguidance's JSON string enforces them, and a
        JSON string is a Python string literal (render writes such strings JSON-quoted)."""
        sub = {k: schema[k] for k in ("pattern", "format", "minLength", "maxLength") if k in schema}
        return self.terminal(f"json_{len(self.rules)}", "%json " + json.dumps({"type": "string", **sub}))

    def value_text(self, value: Any) -> str:
        """One constant value (enum, const) written as this spelling renders it."""
        return python_literal(value)

    def key(self, name: str) -> str:
        """The text before a member's value: its key and separator (``repr`` is the key's
        Python literal, as :func:`python_literal` writes a string)."""
        return repr(name) + self.key_sep

    def constant(self, value: Any, path: str) -> str:
        """An enum or const value as one exact literal."""
        return literal(self.constant_text(value, path))

    def constant_text(self, value: Any, path: str) -> str:
        """The text of an enum or const value; never one that spells a special token (the
        model writes that token, so the text could never be matched)."""
        self.where = path
        text = self.value_text(value)
        for special in self.specials:
            if special in text:
                raise UnsupportedSchemaError(f"the value {value!r} holds {special!r}, the text of a "
                                             "special token: it can't be written", path=path)
        return text

    def enum(self, values: Sequence[Any], path: str) -> str:
        """One of ``values``, each an exact literal."""
        texts = [self.constant_text(v, f"{path}[{i}]") for i, v in enumerate(values)]
        return _choice([literal(t) for t in texts], texts)

    def object_keys(self, props: dict[str, Any]) -> list[str]:
        return list(props)

    # -- the walk -------------------------------------------------------------------------
    def arguments(self, schema: dict[str, Any], kw: str, sep: str, *, path: str) -> str:
        """The top-level keyword list: ``k<kw>v`` pairs joined by ``sep`` (no brackets)."""
        self.root = schema
        if self.closing is not None and not _PLAIN.issuperset(schema):
            raise NotPlain
        schema = self.resolve(schema, path)
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties", False if props and self.closing else True)
        if not props:
            if extra is False or schema.get("type", "object") != "object":
                return '""'
            value = self.fit([self.value(extra, join_path(path, "additionalProperties"))])[0]
            pair = f"{self.terminal('KEY', '/[A-Za-z_][A-Za-z0-9_]*/')} {literal(kw)} {value}"
            return f"({pair} ({literal(sep)} {pair})*)?"
        keys = self.object_keys(props)
        required = set(schema.get("required") or ())
        values = self.fit([self.value(props[k], join_path(path, f"properties.{k}"), 0) for k in keys])
        seq = self.ordered([(k + kw, v) for k, v in zip(keys, values)], [k in required for k in keys], sep)
        if self.args_terminal is not None and not any(v[0].islower() for v in values):  # no rule (fit)
            return self.args_terminal(_items(seq))
        expr = sequence(seq)
        cache = f"args:{expr}"
        if cache in self.names:  # tools whose parameters read the same share one rule
            return self.names[cache]
        name = f"{self.prefix}_args_{len(self.names)}"
        name = name.upper() if lexical(expr) else name  # one terminal where it can be
        self.rules.append(f"{name}: {expr}")
        self.names[cache] = name
        return name

    def value(self, schema: Any, path: str, depth: int = 1) -> str:
        """The rule or terminal (name) for one value of ``schema``.

        Values that read the same share one rule, found by its body's text (cheaper than
        serializing each schema); a value reached through ``$ref`` is named before its body
        is written (:meth:`referenced`), so a recursive schema can refer to itself."""
        if depth > MAX_DEPTH:
            raise UnsupportedSchemaError("schema nests (or recurses) too deeply for this encoding",
                                         path=path)
        if schema is True or schema == {}:
            return self.any_value()
        if schema is False:
            raise UnsupportedSchemaError("a schema of false admits no value", path=path)
        if isinstance(schema, dict) and "$ref" in schema:
            return self.referenced(schema, path, depth)
        kind = plain_type(schema)
        if kind is None:
            simple = schema.get("type") if type(schema) is dict else None
            if simple == "string" and _STRING_WORDS.issuperset(schema) or (
                    simple == "integer" and _INTEGER_WORDS.issuperset(schema)):
                self.where = path  # lengths or bounds only: body()'s checks have nothing to find
                return self.placed(_alternatives(self.fit([self.typed(simple, schema, path, depth)])))
            if isinstance(schema, dict) and not _IDENTIFIERS.isdisjoint(schema):
                schema = self.resolve(schema, path)
            return self.placed(self.body(schema, path, depth))
        key = (self.spelling(), kind)
        known = _LEAVES.get(key)
        if known is None:  # write it, noting the terminals it defines
            outer, self._defined = self._defined, []
            try:
                body = self.body(schema, path, depth)
                known = (body, tuple(self._defined), _in_place(body)) if self._defined is not None else None
            finally:
                self._defined = outer
            if known is None:
                return self.placed(body)
            if len(_LEAVES) >= LEAVES_KEPT:
                _LEAVES.clear()  # bounded; a leaf seen again is written again
            _LEAVES[key] = known
        else:
            for name, definition in known[1]:
                self.terminal(name, definition)
        return known[0] if known[2] else self.named(known[0])

    def spelling(self) -> tuple[Any, ...]:
        """What a leaf's rule text depends on besides its schema."""
        return (type(self), self.prefix, self.specials)

    def placed(self, body: str) -> str:
        """``body`` as a value's expression: in place where it is lexical (llguidance pays for
        every named terminal's definition, and a tool's bounds are its own: fastjson writes
        them in place too), else a named rule.  Bodies come as atoms or sequences (each
        writer groups its alternatives), so one can be spliced into a longer terminal."""
        return body if isinstance(body, _Lexical) or _in_place(body) else self.named(body)

    def fit(self, values: list[str]) -> list[str]:
        """Values for one parent: where one is a rule, the parent is a rule too, and each value
        written in place there is named (a terminal of its own: inside a rule, a bounded string
        in place would be a lexeme per character)."""
        if not any(v[0].islower() for v in values):  # rules are the lower-case names
            return values
        return [v if _NAME.fullmatch(v) else self.named(v) for v in values]

    def named(self, body: str) -> str:
        """``body`` as a rule (a terminal where it is lexical), one per distinct body; a body
        that is a single name already is that name."""
        if _NAME.fullmatch(body):
            return body
        self._defined = None  # a name counted here: the leaf being written (if any) is not kept
        key = f"body:{body}"
        name = self.names.get(key)
        if name is None:
            name = f"{self.prefix}_{len(self.names)}"
            name = name.upper() if lexical(body) else name
            self.names[key] = name
            self.rules.append(f"{name}: {body}")
        return name

    def referenced(self, schema: dict[str, Any], path: str, depth: int) -> str:
        """A value reached through ``$ref``: its rule is named (by the schema it resolves to)
        before the body is written, so the body can refer to it."""
        schema = self.resolve(schema, path)
        if schema is True or schema == {}:
            return self.any_value()
        if schema is False:
            raise UnsupportedSchemaError("a schema of false admits no value", path=path)
        key = f"{self.prefix}:{depth == 0}:{json.dumps(schema, sort_keys=True)}"
        if key in self.names:
            return self.names[key]
        name = f"{self.prefix}_{len(self.names)}"
        self.names[key] = name  # before the body: a recursive schema refers to itself
        body = self.body(schema, path, depth)
        if lexical(body) and name not in _RULE_NAMES.findall(_unquoted(body)):
            # rules of literals and terminals only: one terminal (a lexeme is far cheaper
            # for llguidance than a rule, as JSON's exact argument terminals are)
            name = name.upper()
            self.names[key] = name
        self.rules.append(f"{name}: {body}")
        return name

    def body(self, schema: dict[str, Any], path: str, depth: int) -> str:
        self.where = path
        if self.closing is not None and not _PLAIN.issuperset(schema):
            raise NotPlain  # prepare words or drops it: the tool is written from its output
        if not _WORDS_KNOWN.issuperset(schema):
            word = next(w for w in schema if w not in _WORDS_KNOWN)
            raise UnsupportedSchemaError(f"unsupported JSON Schema keyword {word!r} in this format's arguments",
                                         path=join_path(path, word))
        if "const" in schema:
            return self.constant(schema["const"], join_path(path, "const"))
        if "enum" in schema:
            return self.enum(schema["enum"], join_path(path, "enum"))
        if "anyOf" in schema:
            rest = {k: v for k, v in schema.items() if k != "anyOf" and k not in ANNOTATIONS}
            if rest:
                raise UnsupportedSchemaError("anyOf beside other keywords: move them into its branches",
                                             path=join_path(path, "anyOf"))
            return _alternatives(self.fit([self.value(b, join_path(path, f"anyOf[{i}]"), depth)
                                           for i, b in enumerate(schema["anyOf"])]))
        types = schema.get("type")
        if types is None:
            types = [t for t, words in _TYPE_WORDS.items() if words & schema.keys()] or None
            if types is None:
                return self.any_value()
        types = [types] if isinstance(types, str) else list(types)
        return _alternatives(self.fit([self.typed(t, schema, path, depth) for t in types]))

    def typed(self, kind: str, schema: dict[str, Any], path: str, depth: int) -> str:
        if kind == "string":
            if "pattern" in schema or "format" in schema:
                return self.shaped_string(schema, path)
            hi = schema.get("maxLength")
            return self.string(int(schema.get("minLength", 0)), None if hi is None else int(hi))
        numeric = not _NUMERIC_SET.isdisjoint(schema)
        if kind == "integer" and numeric and "multipleOf" not in schema:
            bounds = _int_bounds(schema)
            if bounds is not None:  # exact, in place, as JSON's integer ranges are
                return _Lexical(f"/{int_range(*bounds)}/")
        if kind in ("integer", "number"):
            if numeric:  # ranges: llguidance's JSON numbers enforce them
                sub = {"type": kind, **{k: schema[k] for k in _NUMERIC if k in schema}}
                return self.terminal(f"NUM_{len(self.rules)}", "%json " + json.dumps(sub))
            return self.terminal("INT" if kind == "integer" else "NUM",
                                 INTEGER if kind == "integer" else NUMBER)
        if kind == "boolean":  # one terminal every tool shares
            return self.terminal("BOOL", f"{literal(self.true)} | {literal(self.false)}")
        if kind == "null":
            return self.null_rule()
        if kind == "array":
            items = schema.get("items", True)
            if not isinstance(items, (dict, bool)):
                raise UnsupportedSchemaError("items must be one schema here", path=join_path(path, "items"))
            item = self.fit([self.value(items, join_path(path, "items"), depth + 1)])[0]
            return self.array(item, int(schema.get("minItems", 0)), schema.get("maxItems"))
        if kind == "object":
            return self.object(schema, path, depth)
        raise UnsupportedSchemaError(f"unknown type {kind!r}", path=join_path(path, "type"))

    def null_rule(self) -> str:
        return literal(self.null)

    def array(self, item: str, lo: int, hi: Any) -> str:
        sep = literal(self.item_sep)
        if hi is not None and int(hi) == 0:
            return '"[]"'
        rest = f"({sep} {item})" + ("*" if hi is None else f"{{{max(lo - 1, 0)},{int(hi) - 1}}}")
        if lo > 1:
            rest = f"({sep} {item}){{{lo - 1},{'' if hi is None else int(hi) - 1}}}"
        body = f"{item} {rest}"
        return f'"[" {body} "]"' if lo >= 1 else f'"[" ({body})? "]"'

    def object(self, schema: dict[str, Any], path: str, depth: int) -> str:
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties", False if props and self.closing else True)
        if not props:
            if extra is False:
                return '"{}"'
            value = self.value(extra, join_path(path, "additionalProperties"), depth + 1)
            return self.free_map(value)
        if extra is not False:
            raise UnsupportedSchemaError("an object with properties and additional keys can't be "
                                         "spelled exactly here: close it (additionalProperties: false)",
                                         path=join_path(path, "additionalProperties"))
        keys = self.object_keys(props)
        values = self.fit([self.value(props[k], join_path(path, f"properties.{k}"), depth + 1) for k in keys])
        items = list(zip(map(self.key, keys), values))
        required = set(schema.get("required") or ())
        parts = ["{", *self.ordered(items, [k in required for k in keys], self.item_sep), "}"]
        if any(v[0].islower() for v in values):
            return sequence(parts)
        return _framed(parts)  # no rule in it (fit): lexical, its literal ends can join a key's text

    def map_key(self) -> str:
        """A key of a map the schema leaves open (a quoted string here)."""
        return self.string(0, None)

    def free_map(self, value: str) -> str:
        value = self.fit([value])[0]
        pair = f"{self.map_key()} {literal(self.key_sep)} {value}"
        return f'"{{" ({pair} ({literal(self.item_sep)} {pair})*)? "}}"'

    def any_value(self) -> str:
        """Any literal of this spelling (a schema that says nothing)."""
        key = f"{self.prefix}:any"
        if key in self.names:
            return self.names[key]
        name = f"{self.prefix}_any"
        self.names[key] = name
        scalars = [self.string(0, None), self.terminal("NUM", NUMBER), literal(self.true),
                   literal(self.false), self.null_rule()]
        sep = literal(self.item_sep)
        self.rules.append(f"{name}: " + " | ".join(scalars + [
            f'"[" ({name} ({sep} {name})*)? "]"', self.free_map(name)]))
        return name

    def ordered(self, items: Sequence[tuple[str, str]], required: Sequence[bool], sep: str) -> list[str]:
        """Any in-order subset of ``items`` (each its leading text and its value's expression)
        holding every required one, joined by ``sep``, as a :func:`sequence` linear in the
        items: optional items before the first required one carry the separator after them,
        the others before them (so the separator and the next key are one literal)."""
        n = len(items)
        if n == 0:
            return []
        if any(required):
            first = required.index(True)
            out: list[str] = [_spread(lead, value, sep, "?") or Raw(f"({sequence(_piece(lead, value, sep))})?")
                              for lead, value in items[:first]]
            lead, value = items[first]
            spread = _spread(lead, value, "", "")
            out += [spread] if spread is not None else _piece(lead, value)
            for (lead, value), needed in zip(items[first + 1:], required[first + 1:]):
                spread = _spread(sep + lead, value, "", "" if needed else "?")
                if spread is not None:
                    out.append(spread)
                    continue
                piece = _piece(sep + lead, value)
                out += piece if needed else [Raw(f"({sequence(piece)})?")]
            return out
        # nothing required: whichever item comes first has no separator before it
        alts = [sequence(_piece(items[i][0], items[i][1])
                         + [Raw(f"({sequence(_piece(sep + lead, value))})?") for lead, value in items[i + 1:]])
                for i in range(n)]
        return [Raw("(" + "|".join(alts) + ")?")]

    def mark(self) -> tuple[Any, ...]:
        """Where the rules written so far end, and the string bounds met (for :meth:`rollback`)."""
        return len(self.rules), len(self.names), set(self._bounds), self._terminal_bounds()

    def rollback(self, mark: tuple[Any, ...]) -> None:
        """Forget every rule written and every string bound met since ``mark`` (so a schema
        written again after a rollback reads as it would have the first time)."""
        del self.rules[mark[0]:]
        for key in list(self.names)[mark[1]:]:
            del self.names[key]
        self._bounds = mark[2]
        if self._python is not None and mark[3] is not None:
            self._python._bounds = mark[3]

    def _terminal_bounds(self) -> set[tuple[int, int | None]] | None:
        """The string bounds the Python-spelled exact terminals met (None where there are none)."""
        return None if self._python is None else set(self._python._bounds)

    def terminal(self, name: str, body: str) -> str:
        full = f"{self.prefix.upper()}_{name}"
        if body.startswith("%json"):  # llguidance takes %json only as a rule
            full = full.lower()
            self._defined = None  # its name counts rules: a leaf using it is not kept in _LEAVES
        elif self._defined is not None:  # a leaf being written for _LEAVES
            self._defined.append((name, body))
        key = f"terminal:{full}"
        if key not in self.names:
            self.names[key] = full
            self.rules.append(f"{full}: {body}")
        return full

    def resolve(self, schema: Any, path: str) -> Any:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            seen += 1
            if seen > 32:
                raise UnsupportedSchemaError("$ref chain too long", path=path)
            try:
                target = resolve_ref(self.root, schema["$ref"])
            except LookupError as exc:
                raise UnsupportedSchemaError(f"unresolvable $ref {schema['$ref']!r}", path=path) from exc
            rest = {k: v for k, v in schema.items() if k not in ("$ref",) and k not in ANNOTATIONS}
            schema = {**target, **rest} if isinstance(target, dict) else target
        if isinstance(schema, dict) and not _IDENTIFIERS.isdisjoint(schema):
            schema = {k: v for k, v in schema.items() if k not in _IDENTIFIERS}
        return schema


# Plain-type leaves (``{"type": "string"}``, annotations aside) written before, in any grammar
# of this process: (spelling, type) -> (the body, the terminals it defines, whether it stands
# in place).  Tool lists repeat them, and a server compiles the same tools again (fastjson
# keeps its plain-type leaves so too).  Bounded leaves and enums rarely repeat across tools,
# and the memo key of one (every keyword, typed) cost a new tool list more than a hit saved.
_LEAVES: dict[tuple[Any, ...], tuple[str, tuple[tuple[str, str], ...], bool]] = {}
LEAVES_KEPT = 65536
_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean", "null"})


def plain_type(schema: Any) -> str | None:
    """The type of a plain-type leaf (``{"type": "string"}`` and annotations only), else None."""
    if type(schema) is not dict:
        return None
    kind = schema.get("type")
    if type(kind) is not str or kind not in _SCALAR_TYPES:
        return None
    for k in schema:
        if k != "type" and k not in ANNOTATIONS:
            return None
    return kind


_RULE_NAMES = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")  # rule references (one pattern, compiled once)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@mypyc_attr(native_class=False)
class _Lexical(str):
    """A body known to be lexical as it is written (no regex scan needed to tell)."""


def _in_place(body: str) -> bool:
    """Can ``body`` stand where it is used as it is: a single name, or lexical?"""
    return _NAME.fullmatch(body) is not None or lexical(body)


@mypyc_attr(native_class=False)
class Raw(str):
    """A Lark expression inside a :func:`sequence` (a plain ``str`` there is literal text)."""


def _items(seq: Sequence[str]) -> list[Any]:
    """A :func:`sequence` as compiler items: literal texts joined, expressions as ``Ref``."""
    from . import Ref

    out: list[Any] = []
    for item in seq:
        if type(item) is Raw:
            out.append(Ref(str(item)))
        elif out and type(out[-1]) is str:
            out[-1] += item
        else:
            out.append(item)
    return out


@mypyc_attr(native_class=False)
class _Framed(_Lexical):
    """A lexical sequence with its literal ends apart (``lead``, the ``middle`` expression,
    ``tail``), so a member writing it joins them to its own text."""

    lead: str
    middle: str
    tail: str


def _framed(parts: list[str]) -> str:
    """:func:`sequence` of ``parts`` as a :class:`_Framed` (a plain literal where all is text)."""
    i, j = 0, len(parts)
    while i < j and type(parts[i]) is not Raw:
        i += 1
    while j > i and type(parts[j - 1]) is not Raw:
        j -= 1
    if i == j:
        return _Framed(sequence(parts))
    lead, middle, tail = "".join(parts[:i]), sequence(parts[i:j]), "".join(parts[j:])
    # sequence(parts), from its three pieces (the middle starts and ends with an expression)
    out = _Framed(concat([literal(lead), middle, literal(tail)] if lead and tail else
                           [literal(lead), middle] if lead else [middle, literal(tail)] if tail else [middle]))
    out.lead, out.middle, out.tail = lead, middle, tail
    return out


def _piece(lead: str, value: str, tail: str = "") -> list[str]:
    """A member's leading text, its value and trailing text as :func:`sequence` items, a
    :class:`_Framed` value's literal ends joined to the texts around it."""
    if type(value) is _Framed and hasattr(value, "middle"):
        return [lead + value.lead, Raw(value.middle), value.tail + tail]
    return [lead, Raw(value), tail]


@mypyc_attr(native_class=False)
class _Literals(_Lexical):
    """Alternatives that are all literal text (an enum's values); ``texts`` holds them."""

    texts: tuple[str, ...]


_ONE_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_SPREAD = 16  # literal alternatives a member writes whole (key and separator in each) at most


def _choice(options: list[str], texts: Sequence[str] | None = None) -> str:
    """Alternatives as :func:`_alternatives`; where each is one literal, a :class:`_Literals`
    (a member can then write each value whole, its key's text in it).  ``texts``: what each
    option is the literal of, where the caller knows (else read back from the options)."""
    out = _alternatives(options)
    if len(options) <= _SPREAD and (texts is not None or all(_ONE_LITERAL.fullmatch(o) for o in options)):
        out = _Literals(out)
        out.texts = tuple(dict.fromkeys(texts if texts is not None else [json.loads(o) for o in options]))
    return out


def _spread(lead: str, value: str, tail: str, suffix: str) -> Raw | str | None:
    """A member whose value is literal alternatives as one literal per value, its leading
    (and trailing) text in each: llguidance pays per element, hardly per byte.  None where the
    value is anything else."""
    if not isinstance(value, _Literals):
        return None
    if len(value.texts) == 1 and not suffix:
        return lead + value.texts[0] + tail
    return Raw("(" + "|".join([literal(lead + t + tail) for t in value.texts]) + ")" + suffix)


def _alternatives(options: list[str]) -> str:
    """Alternatives as one atom (grouped where there are several), so it can stand in place."""
    return options[0] if len(options) == 1 else "(" + "|".join(options) + ")"


def sequence(items: Sequence[str]) -> str:
    """Lark for a sequence of literal texts and :class:`Raw` expressions, adjacent texts
    joined into one literal (fewer pieces for llguidance to build); ``""`` when empty."""
    out: list[str] = []
    text = ""
    for item in items:
        if type(item) is Raw:
            if text:
                out.append(literal(text))
                text = ""
            if out and item[:1] in NAME_CHARS and runs_into(out[-1], item):
                out.append(" ")  # (lark.concat's rule, inline: this runs for every value)
            out.append(item)
        else:
            text += item
    if text or not out:
        out.append(literal(text))
    return "".join(out)
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)*/')


def _unquoted(expr: str) -> str:
    """A Lark expression without its string and regex literals (what names it references)."""
    return _QUOTED.sub(" ", expr)


def lexical(expr: str) -> bool:
    """Does ``expr`` use only literals, regexes and terminals (UPPER names), so it can be a
    terminal itself?  Rules (lower names), %json and special tokens can't be inside one."""
    rest = _unquoted(expr)
    return "%" not in rest and "<" not in rest and not _LOWER_NAME.search(rest)


_LOWER_NAME = re.compile(r"\b[a-z_][a-z0-9_]*\b")  # a rule's name


def _int_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None] | None:
    """Integer bounds from min/max keywords, or None where one isn't a plain number."""
    lo = hi = None
    for key in _BOUND_WORDS:
        value = schema.get(key)
        if value is None:
            continue
        if type(value) not in _REALS or not -_LIMIT < value < _LIMIT:  # (bool is not a number here)
            return None
        if key == "minimum":
            lo = math.ceil(value) if lo is None else max(lo, math.ceil(value))
        elif key == "maximum":
            hi = math.floor(value) if hi is None else min(hi, math.floor(value))
        elif key == "exclusiveMinimum":
            lo = math.floor(value) + 1 if lo is None else max(lo, math.floor(value) + 1)
        else:
            hi = math.ceil(value) - 1 if hi is None else min(hi, math.ceil(value) - 1)
    if lo is not None and hi is not None and lo > hi:
        return None
    return lo, hi


_STRING_WORDS = frozenset({"type", "minLength", "maxLength"}) | ANNOTATIONS  # (all in _PLAIN)
_INTEGER_WORDS = frozenset({"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) | ANNOTATIONS
_BOUND_WORDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
_REALS = (int, float)
_LIMIT = 2**53


_TYPE_WORDS = {
    "string": {"minLength", "maxLength"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "array": {"items", "minItems", "maxItems"},
    "object": {"properties", "required", "additionalProperties"},
}


class PythonicGrammar(LiteralGrammar):
    """Python-literal spelling; ``json_objects``: a top-level dict value is JSON (LFM2.5).

    ``terminals``: the compile's :class:`~grammargen.fastjson.ArgsTerminals`, which writes
    such a dict as one exact terminal where it can (as the JSON formats' arguments are);
    ``%json`` elsewhere, and always without it.
    """

    def __init__(self, rules: list[str] | None = None, *, json_objects: bool = False,
                 terminals: ArgsTerminals | None = None) -> None:
        super().__init__(rules)
        self.json_objects = json_objects
        self.terminals = terminals

    def kwargs(self, schema: dict[str, Any], path: str) -> str:
        """``k=v, ...`` for one tool's arguments (no parentheses), or ``""`` for none.  Keys
        are written as they are (a literal each), whatever they hold."""
        self.root = schema
        return self.arguments(schema, "=", ", ", path=path)

    def typed(self, kind: str, schema: dict[str, Any], path: str, depth: int) -> str:
        if kind == "object" and self.json_objects and depth == 0:
            # LFM2.5's template writes a top-level dict with tojson: exact JSON, schema enforced
            sub = {k: v for k, v in schema.items() if k not in ANNOTATIONS}
            sub["type"] = "object"
            exact = self.terminals.pieces(sub) if self.terminals is not None else None
            if exact is not None:  # what %json below accepts, as one exact terminal expression
                lead, middle, tail, _ = exact  # its literal ends join the key's text
                return _framed([lead, Raw(middle), tail] if middle else [lead + tail])
            if self.closing is not None:
                raise NotPlain  # %json needs the schema as prepare closes it
            for defs in ("$defs", "definitions"):  # what its $refs point into
                if isinstance(self.root, dict) and defs in self.root:
                    sub[defs] = self.root[defs]
            sub["x-guidance"] = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
            return self.terminal(f"JSON_{len(self.rules)}", "%json " + json.dumps(sub))
        if kind in ("object", "array") and self.terminals is not None:
            # a Python dict or list as fastjson's exact terminal in Python spelling (about half
            # the general walk's time); the walk where it can't be one
            exact = self.python_terminals().pieces({**schema, "type": kind})
            if exact is not None:
                lead, middle, tail, _ = exact
                return _framed([lead, Raw(middle), tail] if middle else [lead + tail])
        return super().typed(kind, schema, path, depth)

    def python_terminals(self) -> PythonTerminals:
        """The Python spelling's exact terminals, sharing the compile's value terminals; objects
        closed as this walk closes them (a schema from prepare says so itself)."""
        if self._python is None:
            self._python = PythonTerminals(shared=self.terminals.shared if self.terminals is not None else None)
        self._python.close_objects = bool(self.closing)
        return self._python


def check_name(name: str, path: str) -> None:
    if _NAME_BAD.search(name):
        raise ToolError(f"tool name {name!r} can't be written as a Python call (it holds '(' or a "
                        "control character, starts with '[' or '{', or starts or ends with a space); "
                        "rename the tool", path=path)


# -- render ----------------------------------------------------------------------------------

def python_literal(value: Any, schema: Any = None) -> str:
    """``value`` (a JSON value) as Python's ``repr`` writes it; a string whose ``schema`` has
    a ``pattern`` or ``format`` JSON-quoted (a valid Python literal too)."""
    schema = schema if isinstance(schema, dict) else {}
    if value is True:
        return "True"
    if value is False:
        return "False"
    if value is None:
        return "None"
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"the number {value} has no Python literal")
    if isinstance(value, str) and ("pattern" in schema or "format" in schema):
        return json_text(value)
    if isinstance(value, (int, float, str)):
        return repr(value)
    if isinstance(value, list):
        items = schema.get("items")
        return "[" + ", ".join(python_literal(v, items) for v in value) + "]"
    if isinstance(value, dict):
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        return "{" + ", ".join(f"{python_literal(str(k))}: {python_literal(v, props.get(k))}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def render_call(name: str, arguments: dict[str, Any], *, json_objects: bool = False,
                schema: Any = None) -> str:
    """``name(k=v, ...)``; ``json_objects``: top-level dicts as JSON (LFM2.5's tojson).
    ``schema``: strings whose schema has a ``pattern`` or ``format`` are JSON-quoted, as the
    grammar writes them."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    parts = []
    for key, value in arguments.items():
        sub = props.get(key) if isinstance(props, dict) else None
        text = json_text(value) if json_objects and isinstance(value, dict) else python_literal(value, sub)
        parts.append(f"{key}={text}")
    return f"{name}({', '.join(parts)})"


# -- read ------------------------------------------------------------------------------------

class NeedMore(Exception):
    """The text ends before the value does (a stream waits; a whole parse fails)."""


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any]
    start: int
    end: int


_SPACES = re.compile(r"\s*")
_NUMBER = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORDS = {"True": True, "False": False, "None": None, "true": True, "false": False, "null": None}
_CLOSERS = ",)]}:"
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n",
            "r": "\r", "t": "\t", "v": "\v", "\n": ""}


def _skip(text: str, pos: int) -> int:
    return _SPACES.match(text, pos).end()  # type: ignore[union-attr]


def _fail(message: str, pos: int) -> OutputParseError:
    return OutputParseError(f"{message} at offset {pos}", offset=pos)


def _at(text: str, pos: int, final: bool, what: str) -> str:
    if pos >= len(text):
        if final:
            raise _fail(f"the output ends inside {what}", pos)
        raise NeedMore
    return text[pos]


def read_value(text: str, pos: int, final: bool, depth: int = 0) -> tuple[Any, int]:
    """The Python (or JSON) literal at ``pos``: (value, end).  Sets and tuples read as lists."""
    if depth > MAX_DEPTH:
        raise _fail("values nest too deeply", pos)
    pos = _skip(text, pos)
    c = _at(text, pos, final, "a value")
    if c in "'\"":
        return read_string(text, pos, final)
    if c in "[(":
        return _read_items(text, pos + 1, "]" if c == "[" else ")", final, depth)
    if c == "{":
        return _read_braces(text, pos, final, depth)
    m = _NUMBER.match(text, pos)
    if m and m.group().lstrip("+-") not in ("", "."):
        if m.end() == len(text) and not final:
            raise NeedMore
        return _number(m.group(), pos), m.end()
    m = _WORD.match(text, pos)
    if m:
        if m.end() == len(text) and not final:
            raise NeedMore
        if m.group() in _WORDS:
            return _WORDS[m.group()], m.end()
        raise _fail(f"{m.group()!r} is not a literal value", pos)
    raise _fail(f"expected a value, found {text[pos:pos + 20]!r}", pos)


@mypyc_attr(native_class=False)
class RawNumber(str):
    """A number too large for a float, kept as written (JSON allows it; :func:`to_json` writes it)."""


def to_json(value: Any) -> str:
    """``value`` as JSON text with ", " and ": " (as the parser sends arguments), RawNumbers as written."""
    if isinstance(value, RawNumber):
        return str.__str__(value)
    if isinstance(value, dict):
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + to_json(v)
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _number(spelled: str, pos: int) -> Any:
    body = spelled.replace("_", "")
    try:
        if any(c in body for c in ".eE"):
            value = float(body)
            if not math.isfinite(value):
                if _JSON_NUMBER.fullmatch(body):
                    return RawNumber(body)
                raise _fail(f"number {spelled!r} is out of range", pos)
            return value
        return int(body, 10)  # "07" reads as 7, as models mean it
    except ValueError as exc:
        raise _fail(f"invalid number {spelled!r}", pos) from exc


def read_string(text: str, pos: int, final: bool) -> tuple[str, int]:
    """A quoted string at ``pos``, decoded.  A quote of its own kind closes it only where
    a closer (``, ) ] } :``) or the end follows, so ``'sed -n '1,2p' f'`` reads whole."""
    quote = text[pos]
    i = pos + 1
    while True:
        j = text.find(quote, i)
        k = text.find("\\", i)
        if k >= 0 and (j < 0 or k < j):
            if k + 1 >= len(text):
                if final:
                    raise _fail("the output ends inside a string", len(text))
                raise NeedMore
            i = k + 2
            continue
        if j < 0:
            if final:
                raise _fail("the output ends inside a string", len(text))
            raise NeedMore
        after = _skip(text, j + 1)
        if after >= len(text) and not final:
            raise NeedMore
        if after >= len(text) or text[after] in _CLOSERS:
            return decode_escapes(text[pos + 1:j]), j + 1
        i = j + 1  # a quote inside the value, left unescaped


def decode_escapes(body: str) -> str:
    """Python's string escapes, decoded by hand (unknown ones stay as written, as in Python)."""
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
            continue
        size = {"x": 2, "u": 4, "U": 8}.get(e)
        digits = body[i + 2:i + 2 + size] if size else ""
        if size and len(digits) == size and all(d in "0123456789abcdefABCDEF" for d in digits) \
                and int(digits, 16) <= 0x10FFFF:
            out.append(chr(int(digits, 16)))
            i += 2 + size
            continue
        if e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(chr(int(m.group(), 8)))  # type: ignore[union-attr]
            i += 1 + len(m.group())  # type: ignore[union-attr]
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _read_items(text: str, pos: int, close: str, final: bool, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while True:
        pos = _skip(text, pos)
        if _at(text, pos, final, "a list") == close:
            return out, pos + 1
        value, pos = read_value(text, pos, final, depth + 1)
        out.append(value)
        pos = _skip(text, pos)
        c = _at(text, pos, final, "a list")
        if c == ",":
            pos += 1
        elif c != close:
            raise _fail(f"expected ',' or {close!r} in a list, found {text[pos:pos + 20]!r}", pos)


def _read_braces(text: str, pos: int, final: bool, depth: int) -> tuple[Any, int]:
    """A dict (``{'k': v}`` or JSON) or a set (read as a list)."""
    pos = _skip(text, pos + 1)
    if _at(text, pos, final, "a dict") == "}":
        return {}, pos + 1
    out: dict[str, Any] = {}
    items: list[Any] = []
    is_set: bool | None = None
    while True:
        key, pos = read_value(text, pos, final, depth + 1)
        pos = _skip(text, pos)
        c = _at(text, pos, final, "a dict")
        if is_set is None:
            is_set = c != ":"
        if is_set:
            items.append(key)
        else:
            if c != ":":
                raise _fail(f"expected ':' in a dict, found {text[pos:pos + 20]!r}", pos)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise _fail("a dict key must be a string or a number", pos)
            value, pos = read_value(text, pos + 1, final, depth + 1)
            out[key if isinstance(key, str) else json.dumps(key)] = value
            pos = _skip(text, pos)
            c = _at(text, pos, final, "a dict")
        if c == ",":
            pos = _skip(text, pos + 1)
            if _at(text, pos, final, "a dict") == "}":
                return (items if is_set else out), pos + 1
        elif c == "}":
            return (items if is_set else out), pos + 1
        else:
            raise _fail(f"expected ',' or '}}', found {text[pos:pos + 20]!r}", pos)


_CALL_NAME = re.compile(r"[^()\x00-\x1f\x7f]+")


def read_call_head(text: str, pos: int, final: bool) -> tuple[str, int]:
    """``name(`` at ``pos``: (name, position after the parenthesis)."""
    pos = _skip(text, pos)
    m = _CALL_NAME.match(text, pos)
    if m is None or not m.group().strip():
        _at(text, pos, final, "a call")
        raise _fail(f"expected a tool name, found {text[pos:pos + 20]!r}", pos)
    after = m.end()
    c = _at(text, after, final, "a call")
    if c != "(":
        raise _fail(f"expected '(' after the tool name, found {text[after:after + 20]!r}", after)
    return m.group().strip(), after + 1


def read_call(text: str, pos: int, final: bool) -> Call:
    """One whole ``name(k=v, ...)`` call."""
    start = _skip(text, pos)
    name, pos = read_call_head(text, start, final)
    arguments: dict[str, Any] = {}
    while (got := read_kwarg(text, pos, final)) is not None:
        key, value, pos = got
        if key in arguments:
            raise _fail(f"argument {key!r} given twice", pos)
        arguments[key] = value
    return Call(name, arguments, start, _skip(text, pos) + 1)


def read_call_list(text: str, pos: int, final: bool) -> tuple[list[Call], int]:
    """``[call, call, ...]`` at ``pos``: (calls, position after ``]``)."""
    pos = _skip(text, pos)
    if _at(text, pos, final, "a call list") != "[":
        raise _fail(f"expected '[', found {text[pos:pos + 20]!r}", pos)
    calls: list[Call] = []
    pos += 1
    while True:
        call = read_call(text, pos, final)
        calls.append(call)
        pos = _skip(text, call.end)
        c = _at(text, pos, final, "a call list")
        if c == "]":
            return calls, pos + 1
        if c != ",":
            raise _fail(f"expected ',' or ']' after a call, found {text[pos:pos + 20]!r}", pos)
        pos += 1


# -- the encoding, as the framework reads it ---------------------------------------------------

_BARE_KEY = re.compile(r"[^\s=:,()'\"\[\]{}<>]+")


def known_key(text: str, pos: int, final: bool, keys: Any, sep: str) -> tuple[str, int] | None:
    """The longest of ``keys`` (the schema's property names, written as they are) at
    ``pos`` followed by ``sep``: (key, position of ``sep``).  Such a key may hold any text;
    None where none of them is there."""
    for key in sorted(keys or (), key=len, reverse=True):
        if text.startswith(key, pos):
            at = _skip(text, pos + len(key))
            if at >= len(text) and not final:
                raise NeedMore
            if text.startswith(sep, at):
                return key, at
        elif not final and len(text) - pos < len(key) and key.startswith(text[pos:]):
            raise NeedMore
    return None


def spaced_key(text: str, pos: int, final: bool, keys: Any, sep: str) -> tuple[str, int] | None:
    """A known key that starts with whitespace, read where it starts: at ``pos``, or one space
    on (after the ", " between pairs); None where no such key is there."""
    spaced = [k for k in keys or () if k[:1].isspace()]
    if not spaced:
        return None
    found = known_key(text, pos, final, spaced, sep)
    if found is None and text.startswith(" ", pos):
        found = known_key(text, pos + 1, final, spaced, sep)
    return found


def read_key(text: str, pos: int, final: bool, keys: Any, sep: str) -> tuple[str, int]:
    """A key before ``sep``: a known one, else a bare word (no spaces, quotes, brackets)."""
    found = known_key(text, pos, final, keys, sep)
    if found is not None:
        return found
    _at(text, pos, final, "the arguments")  # nothing yet: wait (or the output ends here)
    m = _BARE_KEY.match(text, pos)
    at = _skip(text, m.end()) if m else pos
    if m is None or _at(text, at, final, "the arguments") != sep:
        if m is not None and m.end() == len(text) and not final:
            raise NeedMore
        raise _fail(f"expected a key and {sep!r}, found {text[pos:pos + 20]!r}", pos)
    return m.group(), at


def read_kwarg(text: str, pos: int, final: bool, schema: Any = None) -> tuple[str, Any, int] | None:
    """The ``key=value`` at ``pos`` and the position after its ``,`` (or at its ``)``);
    None where the list ends (``)`` at ``pos``, not consumed).  ``schema``: the tool's
    parameters, whose property names are read as written whatever they hold."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    found = spaced_key(text, pos, final, props, "=")
    pos = _skip(text, pos)
    if found is None and _at(text, pos, final, "a call's arguments") == ")" \
            and known_key(text, pos, final, props, "=") is None:
        return None
    key, eq = found or read_key(text, pos, final, props, "=")
    value, end = read_value(text, eq + 1, final)
    end = _skip(text, end)
    c = _at(text, end, final, "a call's arguments")
    if c == ",":
        return key, value, end + 1
    if c != ")":
        raise _fail(f"expected ',' or ')' after an argument, found {text[end:end + 20]!r}", end)
    return key, value, end


def stream_pairs(reader: Any, call: Any, next_pair: Any, what: str) -> Iterator[None]:
    """Drive a pair reader in the parser: each complete pair goes out as JSON object text,
    so a stream shows the arguments as they come and the joined text is what parse returns."""
    call.args_at, call.raw = reader.pos, False
    seen: set[str] = set()
    while True:
        try:
            got = next_pair(reader.text, reader.pos, reader.final, call)
        except NeedMore:
            yield from reader.more(what)
            continue
        if got is None:
            break
        key, value, end = got
        if key in seen:
            raise _fail(f"argument {key!r} given twice", reader.pos)
        piece = json.dumps(key, ensure_ascii=False) + ": " + to_json(value)
        call.args_piece(("{" if not seen else ", ") + piece)
        seen.add(key)
        reader.pos = end
    call.args_piece("}" if seen else "{}")


def specials(writer: Any) -> tuple[str, ...]:
    """The profile's special-token texts (the tokenizer's full list is the compiler's check)."""
    profile = writer.profile
    return tuple(dict.fromkeys([*profile.special, *profile.token_ids,
                                *(m for m, f in writer.forms.items() if f.kind != "text")]))


def prepared(writer: Any, tool: Any) -> dict[str, Any]:
    """The tool's parameters as the JSON encoding would enforce them (objects closed, keywords
    checked, lenient drops warned) -- the same schema every encoding starts from."""
    from ..schema import prepare  # the compiler's own preparation, shared

    where = f"{tool.path or 'tool ' + repr(tool.name)}.parameters"
    out = prepare(tool.parameters, where, lenient=writer.lenient, close_objects=writer.close)
    writer.warnings += out.warnings
    return out.schema


def written(grammar: LiteralGrammar, writer: Any, tool: Any, write: Any) -> str:
    """``write(schema)`` for the tool's parameters: as loaded where they are plain (objects
    closed on the way, as :func:`prepared` would close them, without its walk of every tool:
    a sixth of this encoding's compile time), else from :func:`prepared`'s output.  Anything
    the plain walk can't write, an error included, is written again from that output (which
    then words the error as before), the rules of the first attempt forgotten."""
    if isinstance(tool.parameters, dict):
        mark = grammar.mark()
        grammar.closing = writer.close
        try:
            return write(tool.parameters)
        except (NotPlain, GrammarGenError):
            grammar.rollback(mark)
        finally:
            grammar.closing = None
    return write(prepared(writer, tool))


class Pythonic:
    """``k=v, ...`` between a layout's ``name(`` and ``)``: Python literals by schema."""

    lead = ""

    def __init__(self, name: str, *, json_objects: bool) -> None:
        self.name = name
        self.json_objects = json_objects

    def grammar(self, writer: Any, tool: Any) -> list[Any]:
        from . import Ref, argument_terminal

        key = f"encoding_{self.name}"
        grammar = writer.memo.get(key)
        if grammar is None:  # one rule set per compile, shared by its tools
            grammar = PythonicGrammar(writer.rules, json_objects=self.json_objects,
                                      terminals=writer.terminals if writer.shape == "auto" else None)
            grammar.specials = specials(writer)
            grammar.args_terminal = lambda items: argument_terminal(writer, items)
            writer.memo[key] = grammar
        where = f"{tool.path or 'tool ' + repr(tool.name)}"
        check_name(tool.name, f"{where}.name")
        expr = written(grammar, writer, tool, lambda schema: grammar.kwargs(schema, f"{where}.parameters"))
        return [] if expr == '""' else [Ref(expr)]

    def render(self, arguments: dict[str, Any], schema: dict[str, Any] | None) -> str:
        return render_call("", arguments, json_objects=self.json_objects, schema=schema)[1:-1]

    def read(self, reader: Any, call: Any) -> Iterator[None]:
        def pair(text: str, pos: int, final: bool, c: Any) -> Any:
            tool = (reader.tools or {}).get(c.name) if c.name else None
            return read_kwarg(text, pos, final, tool.parameters if tool else None)

        # the step itself, not a generator around it: mypyc 2.4's generators that share a
        # closure's environment corrupt the heap when dropped while suspended (a stream cut off)
        return stream_pairs(reader, call, pair, "the call's arguments")


ENCODINGS = {"pythonic": Pythonic("pythonic", json_objects=False),
             "pythonic-lfm2": Pythonic("pythonic-lfm2", json_objects=True)}
