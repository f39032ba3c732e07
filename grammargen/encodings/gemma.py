"""Gemma 4's own argument syntax: ``{city:<|"|>Paris<|"|>,days:3,hours:[9,12],note:None}``.

What Gemma 4's chat template writes for a call's arguments (``format_argument``): keys
bare and sorted (Jinja's ``dictsort``, case-insensitive), ``,`` and ``:`` with no spaces,
strings raw between ``<|"|>`` delimiters (a special token: nothing inside is escaped, so a
string simply can't hold the delimiter), ``true``/``false``, numbers as Python prints
them, null as ``None`` (Python's spelling leaks through Jinja; ``null`` is read and allowed
too, as real outputs write it), arrays ``[a,b]`` and objects ``{k:v}`` the same way down.

The three readings: :class:`GemmaGrammar` (Lark, by schema), :func:`render_arguments`
(the template's exact text) and :func:`read_arguments` (values typed by the schema where
one is given: a bare ``42`` is a number, or the string ``"42"`` where the schema says so).
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from ..errors import InputError, OutputParseError, ToolError, UnsupportedSchemaError, join_path
from ..lark import concat, literal, regex_escape
from .pythonic import (_JSON_NUMBER, MAX_DEPTH, LiteralGrammar, NeedMore, Raw, RawNumber, _choice, _framed,
                       known_key, read_key, spaced_key)

QUOTE = '<|"|>'
# String formats Gemma's raw strings enforce, as regexes of the text (JSON Schema's meanings).
FORMATS = {
    "date": r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])",
    "time": r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])",
    "date-time": r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
_NAME_BAD = re.compile(r"\{|[\x00-\x1f\x7f]|^\s|\s$|^$")  # a name is read up to its "{"
_BARE_END = re.compile(r"[,}\]]")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def key_order(keys: Any) -> list[str]:
    """Keys in the order Jinja's ``dictsort`` gives them (case-insensitive, stable)."""
    return sorted(keys, key=lambda k: k.lower())


def check_name(name: str, path: str) -> None:
    if _NAME_BAD.search(name):
        raise ToolError(f"tool name {name!r} can't be written in Gemma's call syntax (it holds '{{' "
                        "or a control character, or starts or ends with a space); rename the tool",
                        path=path)


class GemmaGrammar(LiteralGrammar):
    """Lark for Gemma's arguments.  ``quote`` is the Lark expression of the ``<|"|>``
    delimiter (a special-token reference, a token id, or its text)."""

    prefix = "gm"
    item_sep = ","
    key_sep = ":"
    true = "true"
    false = "false"
    null = "None"

    def __init__(self, rules: list[str] | None = None, *, quote: str = QUOTE, delimiter: str = QUOTE) -> None:
        super().__init__(rules)
        self.quote = quote
        self.delimiter = delimiter  # its text, which a raw string can't hold
        self.quote_is_text = quote.startswith('"')
        self.no_quote = f"/(?s:.*)/ & ~/(?s:.*){regex_escape(delimiter)}(?s:.*)/"  # text without it

    def shaped_string(self, schema: dict[str, Any], path: str) -> str:
        """A raw string matching ``pattern`` (anchored as JSON Schema reads it: a search) or a
        known ``format``; lengths beside them are refused (the regexes can't be intersected here)."""
        if "minLength" in schema or "maxLength" in schema:
            raise UnsupportedSchemaError("a string length beside pattern or format can't be enforced "
                                         "in this format", path=join_path(path, "maxLength"))
        if "format" in schema:
            if schema["format"] not in FORMATS:
                raise UnsupportedSchemaError(f"unsupported string format {schema['format']!r} in this "
                                             f"format (known: {', '.join(sorted(FORMATS))})",
                                             path=join_path(path, "format"))
            body = FORMATS[schema["format"]]
        else:
            pattern = schema["pattern"]
            if not isinstance(pattern, str) or "/" in pattern:
                raise UnsupportedSchemaError("this pattern can't be written in a Lark regex",
                                             path=join_path(path, "pattern"))
            start, end = pattern.startswith("^"), pattern.endswith("$") and not pattern.endswith("\\$")
            inner = pattern[1 if start else 0:len(pattern) - 1 if end else len(pattern)]
            body = ("" if start else "(?s:.*)") + f"(?:{inner})" + ("" if end else "(?s:.*)")
        name = self.terminal(f"PAT_{len(self.rules)}",
                             f"/{body}/ & ~/(?s:.*){regex_escape(self.delimiter)}(?s:.*)/")
        return concat([self.quote, name, self.quote])

    def string(self, lo: int, hi: int | None) -> str:
        count = f"{{{lo},{hi}}}" if hi is not None else (f"{{{lo},}}" if lo else "*")
        if self.quote_is_text:
            # The delimiter is text: the whole string is one lexeme whose inside can't hold it
            # (so it ends at the first delimiter, and a lexeme is cheap for llguidance).
            # The "no delimiter" half is one terminal all lengths share (llguidance builds it
            # once), the length a repeat of one shared any-character terminal: no regex per
            # length (llguidance parses every regex it meets).  The intersection is a terminal
            # of its own (in place, the GBNF printer would build one automaton for every
            # tool's arguments); the delimiters around it join the text in place.
            free = self.terminal("NO_QUOTE", self.no_quote)
            if (lo, hi) == (0, None):
                return self.terminal("STR_0_N", concat([self.quote, free, self.quote]))
            if hi == 0:  # only the empty string (llguidance refuses a count that ends at 0)
                return literal(self.delimiter * 2)
            char = self.terminal("CHAR", "/(?s:.)/")
            repeat = f"{{,{hi}}}" if hi is not None and not lo else count  # {,16}: from 0 (Lark only)
            body = self.terminal(f"BODY_{lo}_{hi if hi is not None else 'N'}", f"{char}{repeat}&{free}")
            return _framed([self.delimiter, Raw(body), self.delimiter])  # its delimiters join the key
        body = self.terminal(f"STR_{lo}_{hi if hi is not None else 'N'}", f"/(?s:.{count})/")
        return concat([self.quote, body, self.quote])

    def value_text(self, value: Any) -> str:
        try:
            return gemma_literal(value, self.delimiter)
        except InputError as exc:
            raise UnsupportedSchemaError(f"{exc.message}: this enum or const value can't be written",
                                         path=self.where) from exc

    def constant(self, value: Any, path: str) -> str:
        """Strings go between the delimiter's own form (a token, where it is one; where it
        is text, the whole value is one literal)."""
        expr = super().constant(value, path)
        if isinstance(value, str) and not self.quote_is_text:
            return concat([self.quote, literal(value), self.quote])
        return expr

    def enum(self, values: Sequence[Any], path: str) -> str:
        """Strings only, between delimiter tokens: the tokens once around one terminal of
        the texts (one lexeme for llguidance, not a rule branch per value)."""
        if self.quote_is_text:
            return super().enum(values, path)
        if not values or not all(isinstance(v, str) for v in values):  # strings between tokens
            return _choice([self.constant(v, f"{path}[{i}]") for i, v in enumerate(values)])
        for i, v in enumerate(values):
            self.constant_text(v, f"{path}[{i}]")  # the checks: no delimiter, no special token inside
        texts = self.named("|".join([literal(v) for v in dict.fromkeys(values)]))
        return concat([self.quote, texts, self.quote])

    def key(self, name: str) -> str:
        return name + ":"

    def spelling(self) -> tuple[Any, ...]:
        return (*super().spelling(), self.quote, self.delimiter)

    def object_keys(self, props: dict[str, Any]) -> list[str]:
        return key_order(props)

    def null_rule(self) -> str:
        return '("None" | "null")'

    def map_key(self) -> str:
        return self.terminal("KEY", r'/[^\s:,{}\[\]<>"\x27|\\\x00-\x1f\x7f]+/')


# -- render ----------------------------------------------------------------------------------

def gemma_literal(value: Any, quote: str = QUOTE) -> str:
    """One value as the template's ``format_argument`` writes it (keys bare, sorted)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "None"
    if isinstance(value, str):
        if quote in value:  # nothing inside a string is escaped: the delimiter would end it
            raise InputError(f"a Gemma string can't hold {quote}: {value[:40]!r}")
        return quote + value + quote
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"the number {value} has no literal")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(gemma_literal(v, quote) for v in value) + "]"
    if isinstance(value, dict):
        return render_arguments(value, quote)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def render_arguments(arguments: dict[str, Any], quote: str = QUOTE) -> str:
    """``{k:v,...}`` with keys in ``dictsort`` order."""
    return "{" + ",".join(f"{k}:{gemma_literal(arguments[k], quote)}" for k in key_order(arguments)) + "}"


# -- read ------------------------------------------------------------------------------------

def _fail(message: str, pos: int) -> OutputParseError:
    return OutputParseError(f"{message} at offset {pos}", offset=pos)


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _at(text: str, pos: int, final: bool, what: str) -> str:
    if pos >= len(text):
        if final:
            raise _fail(f"the output ends inside {what}", pos)
        raise NeedMore
    return text[pos]


def read_arguments(text: str, pos: int, final: bool, schema: Any = None, quote: str = QUOTE
                   ) -> tuple[dict[str, Any], int]:
    """The ``{...}`` arguments at ``pos``: (arguments typed by ``schema``, end)."""
    pos = _skip(text, pos)
    if _at(text, pos, final, "the arguments") != "{":
        raise _fail(f"expected '{{', found {text[pos:pos + 20]!r}", pos)
    value, end = read_value(text, pos, final, schema, 0, quote)
    return value, end


def read_value(text: str, pos: int, final: bool, schema: Any = None, depth: int = 0, quote: str = QUOTE
               ) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise _fail("values nest too deeply", pos)
    schema = schema if isinstance(schema, dict) else {}
    pos = _skip(text, pos)
    c = _at(text, pos, final, "a value")
    if text.startswith(quote, pos):
        end = text.find(quote, pos + len(quote))
        if end < 0:
            if final:
                raise _fail("the output ends inside a string", len(text))
            raise NeedMore
        return text[pos + len(quote):end], end + len(quote)
    if quote.startswith(text[pos:pos + len(quote)]) and len(text) - pos < len(quote) and not final:
        raise NeedMore
    if c == "{":
        return _read_object(text, pos + 1, final, schema, depth, quote)
    if c == "[":
        out: list[Any] = []
        pos = _skip(text, pos + 1)
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if _at(text, pos, final, "an array") == "]":
            return out, pos + 1
        while True:
            value, pos = read_value(text, pos, final, items, depth + 1, quote)
            out.append(value)
            pos = _skip(text, pos)
            c = _at(text, pos, final, "an array")
            if c == "]":
                return out, pos + 1
            if c != ",":
                raise _fail(f"expected ',' or ']' in an array, found {text[pos:pos + 20]!r}", pos)
            pos += 1
    m = _BARE_END.search(text, pos)
    if m is None:
        if not final:
            raise NeedMore
        raise _fail("the output ends inside a value", len(text))
    bare = text[pos:m.start()].strip()
    if not bare:
        raise _fail(f"expected a value, found {text[pos:pos + 20]!r}", pos)
    return bare_value(bare, schema, pos), m.start()


def _read_object(text: str, pos: int, final: bool, schema: dict[str, Any], depth: int, quote: str = QUOTE
                 ) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    props = schema.get("properties")
    if not isinstance(props, dict):
        props = {}
    extra = schema.get("additionalProperties")
    pos = _skip(text, pos)
    if _at(text, pos, final, "an object") == "}":
        return out, pos + 1
    while True:
        pos = _skip(text, pos)
        if text.startswith(quote, pos):  # a key written as a string (the template's escape_keys)
            key, pos = read_value(text, pos, final, None, 0, quote)
            colon = _skip(text, pos)
        else:
            key, colon = read_key(text, pos, final, props, ":")
        if _at(text, colon, final, "an object") != ":":
            raise _fail(f"expected ':', found {text[colon:colon + 20]!r}", colon)
        sub = props.get(key, extra if isinstance(extra, dict) else {})
        value, pos = read_value(text, colon + 1, final, sub, depth + 1, quote)
        if key in out:
            raise _fail(f"key {key!r} given twice", pos)
        out[key] = value
        pos = _skip(text, pos)
        c = _at(text, pos, final, "an object")
        if c == "}":
            return out, pos + 1
        if c != ",":
            raise _fail(f"expected ',' or '}}' in an object, found {text[pos:pos + 20]!r}", pos)
        pos += 1


def bare_value(bare: str, schema: dict[str, Any], pos: int) -> Any:
    """An unquoted scalar, typed by the schema where it names types, else by its spelling."""
    types = schema.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if "enum" in schema and bare in [v for v in schema["enum"] if isinstance(v, str)]:
        return bare
    if bare in ("true", "false") and (not types or "boolean" in types):
        return bare == "true"
    if bare in ("None", "null") and (not types or "null" in types):
        return None
    if _NUMBER.fullmatch(bare) and (not types or types & {"integer", "number"}):
        if any(c in bare for c in ".eE"):
            value = float(bare)
            if not math.isfinite(value):
                if _JSON_NUMBER.fullmatch(bare):
                    return RawNumber(bare)
                raise _fail(f"number {bare!r} is out of range", pos)
            return int(value) if "integer" in types and "number" not in types and value.is_integer() else value
        return int(bare)
    if not types or "string" in types:
        return bare
    raise _fail(f"{bare!r} is not a {' or '.join(sorted(types))}", pos)


def read_call(text: str, pos: int, final: bool, schemas: dict[str, Any] | None = None, quote: str = QUOTE
              ) -> tuple[str, dict[str, Any], int]:
    """``NAME{...}`` at ``pos``: (name, arguments, end)."""
    pos = _skip(text, pos)
    brace = text.find("{", pos)
    if brace < 0:
        if final:
            raise _fail("the output ends inside a call", len(text))
        raise NeedMore
    name = text[pos:brace].strip()
    if not name or _NAME_BAD.search(name):
        raise _fail(f"expected a tool name, found {text[pos:pos + 20]!r}", pos)
    schema = (schemas or {}).get(name)
    arguments, end = read_arguments(text, brace, final, schema, quote)
    return name, arguments, end


# -- the encoding, as the framework reads it ---------------------------------------------------

def read_pair(text: str, pos: int, final: bool, schema: Any = None, quote: str = QUOTE
              ) -> tuple[str, Any, int] | None:
    """The ``key:value`` at ``pos`` and the position after its ``,`` (or at its ``}``); None
    where the object ends (``}`` at ``pos``, not consumed)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    found = spaced_key(text, pos, final, props, ":")
    pos = _skip(text, pos)
    if found is None and _at(text, pos, final, "the arguments") == "}" \
            and known_key(text, pos, final, props, ":") is None:
        return None
    key, colon = found or read_key(text, pos, final, props, ":")
    value, end = read_value(text, colon + 1, final, (props or {}).get(key), 0, quote)
    end = _skip(text, end)
    c = _at(text, end, final, "the arguments")
    if c == ",":
        return key, value, end + 1
    if c != "}":
        raise _fail(f"expected ',' or '}}' after a value, found {text[end:end + 20]!r}", end)
    return key, value, end


class Gemma:
    """``k:v,...`` between a layout's ``{`` and ``}``: Gemma 4's values by schema, strings
    between ``quote`` (``<|"|>``; FunctionGemma's ``<escape>``)."""

    lead = ""

    def __init__(self, name: str = "gemma", quote: str = QUOTE) -> None:
        self.name, self.quote = name, quote

    def grammar(self, writer: Any, tool: Any) -> list[Any]:
        from . import Ref, argument_terminal
        from .pythonic import specials, written

        key = f"encoding_{self.name}"
        g = writer.memo.get(key)
        if g is None:  # one rule set per compile, shared by its tools
            g = GemmaGrammar(writer.rules, quote=_quote(writer, self.quote), delimiter=self.quote)
            g.specials = tuple(s for s in specials(writer) if s != self.quote)
            g.args_terminal = lambda items: argument_terminal(writer, items)
            writer.memo[key] = g
        where = f"{tool.path or 'tool ' + repr(tool.name)}"
        check_name(tool.name, f"{where}.name")
        expr = written(g, writer, tool, lambda schema: g.arguments(schema, ":", ",", path=f"{where}.parameters"))
        return [] if expr == '""' else [Ref(expr)]

    def render(self, arguments: dict[str, Any], schema: dict[str, Any] | None) -> str:
        return render_arguments(arguments, self.quote)[1:-1]

    def read(self, reader: Any, call: Any) -> Any:
        from .pythonic import stream_pairs

        def pair(text: str, pos: int, final: bool, c: Any) -> Any:
            tool = (reader.tools or {}).get(c.name) if c.name else None
            return read_pair(text, pos, final, tool.parameters if tool else None, self.quote)

        return stream_pairs(reader, call, pair, "the arguments")  # not a generator: see Pythonic.read


def _quote(writer: Any, quote: str = QUOTE) -> str:
    """The Lark form of the string delimiter: as the compile's marker forms say, else the profile's default."""
    form = writer.forms.get(quote)
    if form is not None:
        return form.lark(quote)
    profile = writer.profile
    if quote in profile.token_ids:
        return f"<[{profile.token_ids[quote]}]>"
    return literal(quote)


# FunctionGemma writes the same syntax with <escape> around strings.
ENCODINGS = {"gemma": Gemma(), "gemma-escape": Gemma("gemma-escape", "<escape>")}
