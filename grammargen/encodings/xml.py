"""XML parameters: each argument its own element, its value raw text between the tags.

Qwen3-Coder, Seed-OSS, MiniMax M2, GLM-4.5 to 4.7 and DeepSeek V3.2 (DSML) write
arguments this way; the variants differ only in their tags, the whitespace around them
and how a non-string value is spelled, so each is one :class:`Variant` row below.

* Strings are raw: no quotes, no escapes.  A raw string therefore cannot hold its own
  closing tag: the grammar stops it (text without the tag, then the closing text, in one
  terminal: the first closing tag ends the value), and ``render`` refuses such a value.
* A tool's parameters are folded into as few terminals as the lexer allows (one per tool
  where every element is regular and the last is required), identical ones shared.
* Other values are spelled as the chat template spells them: JSON (``tojson``), except
  that Qwen3-Coder and Seed-OSS print a top-level boolean or null with Python's ``str()``
  (``True``, ``None``), and Seed-OSS its arrays and objects too (``{'lang': 'fr'}``, the
  pythonic encoding's literal grammar); the other variants write arrays and objects as JSON.
* Keys are written as literals: the grammar matches exactly them, whatever they hold, and
  the parser reads a key its tag syntax can't delimit (``>`` or ``"`` in it) as the tool
  names it.  A raw tool name holding the text that ends it (``>`` in ``<function=N>``,
  ``"`` in ``name="N"``) or edged with spaces is refused: nothing could read it back.
* The grammar writes a tool's parameters in the schema's declared order, required ones
  mandatory and optional ones optional, as it does for JSON; the parser takes any order.
  DSML's ``string="true|false"`` attribute is enforced by the parameter's type.
* ``minLength``/``maxLength`` bound a raw string in characters, ``format: date`` holds it
  to RFC 3339; what the grammar cannot enforce on one (``pattern``, other formats) is an
  error naming the keyword, or a warning with ``lenient``.

Parsed values become the OpenAI ``function.arguments`` JSON typed by the tool's schema
when tools are given; without tools a value stays a string, except where the variant
spells its type (DSML ``string="false"``: JSON).
"""

from __future__ import annotations

import ast
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, ToolError, UnsupportedSchemaError, join_path
from ..lark import json_text, literal
from ..lark import regex_escape as _regex_escape
from ..schema import prepare, resolve_ref
from . import Absorbing, Item, Ref, Wait
from ..fastjson import MAX_EXPRESSION
from .pythonic import PythonicGrammar, lexical, python_literal

regex_escape = functools.lru_cache(maxsize=65536)(_regex_escape)  # tool lists repeat their keys
_STRING_KEYWORDS = ("pattern", "format")  # minLength and maxLength are enforced
# String formats a raw value can be held to exactly (RFC 3339 full-date, leap years included).
_LEAP = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
FORMATS = {
    "date": (r"[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
             r"|02-(?:0[1-9]|1[0-9]|2[0-8]))|" + _LEAP + "-02-29"),
}


@dataclass(frozen=True)
class Variant:
    """One family's element syntax.  ``open`` holds ``{key}`` (and DSML's ``{string}``)."""

    name: str
    open: str  # the element up to its value: "<parameter={key}>\n"
    close: str  # after the value: "\n</parameter>"
    after: str  # after each element: "\n"
    tag: str  # the closing tag no raw value may contain
    key_stop: str  # the character that ends a key in the open tag (a key may not hold it)
    python: bool = False  # top-level booleans and null printed by str(): True, False, None
    python_containers: bool = False  # arrays and objects printed by str() too: {'lang': 'fr'}
    # The parser drops one newline each side of a value: "each" side where it is (the template
    # writes them), "both" only where both are (a value the model wrapped in newlines).
    strip: str = ""

    def open_text(self, key: str, is_string: bool = True) -> str:
        return self.open.replace("{key}", key).replace("{string}", "true" if is_string else "false")

    @property
    def start(self) -> str:
        """The text every element starts with."""
        return self.open[:self.open.index("{key}")]


VARIANTS = (
    Variant("xml-qwen3-coder", "<parameter={key}>\n", "\n</parameter>", "\n", "</parameter>", ">",
            python=True, strip="each"),
    Variant("xml-seed-oss", "<parameter={key}>", "</parameter>", "\n", "</parameter>", ">", python=True,
            python_containers=True, strip="both"),
    Variant("xml-minimax", '<parameter name="{key}">', "</parameter>", "\n", "</parameter>", '"'),
    Variant("xml-glm45", "<arg_key>{key}</arg_key>\n<arg_value>", "</arg_value>", "\n", "</arg_value>", "<"),
    Variant("xml-glm47", "<arg_key>{key}</arg_key><arg_value>", "</arg_value>", "", "</arg_value>", "<"),
    Variant("xml-dsml", '<｜DSML｜parameter name="{key}" string="{string}">', "</｜DSML｜parameter>", "\n",
            "</｜DSML｜parameter>", '"'),
)


class XmlParameters:
    """The three readings of one variant's arguments."""

    lead = ""  # a call may have no arguments at all

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.name = variant.name
        self.starts = (variant.start,)  # what the arguments start with, when there are any
        v = variant
        key = f"(?P<key>[^{re.escape(v.key_stop)}]*)"
        # The open tag, whitespace inside it free; a newline after it belongs to the value.
        pattern = re.escape(v.open.rstrip("\n")).replace(re.escape("{key}"), key).replace(
            re.escape("{string}"), "(?P<string>true|false)")
        space = r"(?:\s|\\[nrt])*"  # whitespace between tags is free (escaped too, as parse.py reads it)
        pattern = pattern.replace("\\\n", "").replace("><", ">" + space + "<")
        self._open = re.compile(space + pattern.replace("\\ ", r"\s+"))
        self._closes = v.open.rstrip("\n").count(">")  # the open tag is whole after this many '>'

    # -- grammar ------------------------------------------------------------------------
    def grammar(self, writer: Any, tool: Any) -> list[Item]:
        self._check_name(writer, tool)
        where = f"{tool.path or 'tool ' + repr(tool.name)}.parameters"
        prepared = prepare(tool.parameters, where, lenient=writer.lenient, close_objects=writer.close)
        writer.warnings += prepared.warnings
        root = prepared.schema
        properties = root.get("properties") or {}
        required = set(root.get("required") or [])
        elements = [(self._parameter(writer, key, sub, root, join_path(where, f"properties.{key}"), tool),
                     key in required) for key, sub in properties.items()]
        extra = self._any_parameter(writer) if root.get("additionalProperties", True) is not False else ""
        whole = self._whole(elements, extra)  # every element in one terminal expression, if regular
        if whole and any(needed for _, needed in elements) and self._token_follows(writer):
            return [Ref(self._terminal(writer, whole))]  # ends where a token starts: nothing to extend

        def alone() -> str:
            parts = self._fold(writer, elements)
            if extra:
                parts.append(f"{extra}*")  # an open object: any more keys, raw values
            if len(parts) == 1 and parts[0][-1] not in "?*":
                return parts[0]  # the whole argument list is one terminal
            return self._rule(writer, "xargs", " ".join(parts))

        if not elements and not extra:
            return []
        if not whole:
            return [Ref(alone())]
        return [Absorbing(alone, lambda text: Ref(self._terminal(writer, _cat([whole, literal(text)]))))]

    def _check_name(self, writer: Any, tool: Any) -> None:
        """Refuse a tool name the parser could not read back: the layout writes it raw and reads
        it up to the text after it (``>`` in ``<function=N>``, ``"`` in ``name="N">``), stripped."""
        name, call = tool.name, writer.profile.call
        after = next((call[i + 1].value for i, p in enumerate(call[:-1])
                      if p.kind == "name" and p.value == "raw" and call[i + 1].kind == "text"), "")
        stop = after.strip()[:1]
        reason = ("starts or ends with a space" if name != name.strip() else
                  f"holds {stop!r}, which ends a name there" if stop and stop in name else "")
        if reason:
            raise ToolError(f"tool name {name!r} can't be written in format {writer.profile.name}: it "
                            f"{reason}; rename the tool", path=f"{tool.path or 'tool ' + repr(name)}.name")

    def _whole(self, elements: list[tuple[tuple[str, bool], bool]], extra: str) -> str:
        """All of a tool's elements as one terminal expression ("" where one needs a rule, or
        the expression would cost llguidance's lexer more than it saves)."""
        if not all(regular for (_, regular), _ in elements):
            return ""
        whole = _cat([body if needed else f"({body})?" for (body, _), needed in elements])
        whole += f" {extra}*" if extra else ""
        return whole.strip() if len(whole) <= MAX_EXPRESSION else ""

    def _token_follows(self, writer: Any) -> bool:
        """Is the layout's next piece after these arguments a token (GLM's ``</tool_call>``)?
        Text can't continue into a token, so a terminal may end right before one."""
        call = writer.profile.call
        for i, piece in enumerate(call[:-1]):
            if piece.kind == "arguments" and piece.value == self.name:
                after = call[i + 1]
                return after.kind == "marker" and writer.forms[after.value].kind != "text"
        return False

    def _fold(self, writer: Any, elements: list[tuple[tuple[str, bool], bool]]) -> list[str]:
        """The tool's elements as few terminals as the lexer allows (a lexeme is far cheaper for
        llguidance than a rule, as JSON's one terminal per tool shows).

        llguidance lexes greedily and never backs up, so a terminal may not end where it could
        go on: a run of regular elements is one terminal up to its last required element
        (``(A)? B C``); optional ones after that stay one terminal each, since the text after
        the arguments starts with ``<`` too.  An element that needs a rule (``%json``) ends a run."""
        parts: list[str] = []
        run: list[tuple[str, bool]] = []

        def flush() -> None:
            last = max((i for i, (_, needed) in enumerate(run) if needed), default=-1)
            folded = _cat([b if needed else f"({b})?" for b, needed in run[:last + 1]])
            if folded and len(folded) <= MAX_EXPRESSION:
                parts.append(self._terminal(writer, folded))
            else:  # past this size a terminal costs llguidance's lexer more than it saves
                parts.extend(self._terminal(writer, b) + ("" if needed else "?") for b, needed in run[:last + 1])
            parts.extend(f"{self._terminal(writer, b)}?" for b, _ in run[last + 1:])
            run.clear()

        for (body, regular), needed in elements:
            if regular:
                run.append((body, needed))
            else:
                flush()
                parts.append(body if needed else f"{body}?")
        flush()
        return parts

    def _rule(self, writer: Any, prefix: str, body: str) -> str:
        """A rule for ``body``, shared by every parameter (and tool) that writes the same text."""
        text = f"{prefix}:{body}"
        if text not in writer.args_rules:
            name = f"{prefix}_{len(writer.args_rules)}"
            writer.args_rules[text] = name
            writer.rules.append(f"{name}: {body}")
        return writer.args_rules[text]

    def _terminal(self, writer: Any, body: str) -> str:
        """A terminal for ``body`` (literals and terminals only), shared like :meth:`_rule`."""
        return self._rule(writer, "XP", body)  # an upper-case name: Lark reads a terminal

    def _raw(self, writer: Any, low: int = 0, high: int | None = None, fmt: str = "") -> str:
        """A shared terminal for a raw string: any text without the closing tag (``low``/``high``:
        its length in characters; ``fmt``: a format of :data:`FORMATS`).  Followed by the
        closing text in one terminal, the first closing tag ends the value, exactly."""
        v = self.variant
        name = unbounded = f"XRAW_{v.name[4:].upper().replace('-', '_')}"
        body = f"/{_without(v.tag)}/"
        if (low, high) != (0, None):  # the length, and text without the tag: the shared terminal
            writer.terminals.shared.setdefault(unbounded, body)  # (cheaper for llguidance than a ~ each)
            name += f"_{low}_{'' if high is None else high}"
            body = f"/(?s:.{{{low},{'' if high is None else high}}})/ & {unbounded}"
        if fmt:  # a date holds no '<': no closing tag to keep out
            name += "_" + fmt.upper().replace("-", "_")
            body = f"/(?:{FORMATS[fmt]})/"
        writer.terminals.shared.setdefault(name, body)
        return name

    def _raw_close(self, writer: Any, *args: Any) -> str:
        """A raw string (as :meth:`_raw`) and the closing text after it."""
        return f"{self._raw(writer, *args)} {literal(self.variant.close)}"

    def _any_parameter(self, writer: Any) -> str:
        v = self.variant
        stop = regex_escape(v.key_stop)
        key = f"XKEY_{v.name[4:].upper().replace('-', '_')}"
        writer.terminals.shared.setdefault(key, f"/[^{stop}<>\\n]+/")
        head, tail = v.open.split("{key}")
        tail = tail.replace("{string}", "true")
        return self._terminal(writer, _cat([literal(head), key, literal(tail), self._raw(writer),
                                            literal(v.close + v.after)]))

    def _parameter(self, writer: Any, key: str, schema: Any, root: Any, where: str,
                   tool: Any) -> tuple[str, bool]:
        """One element: (a terminal expression, True) where it is regular, else (a rule, False)."""
        memo = _memo(writer)
        text = repr(schema)  # exact for JSON values (1, 1.0 and True differ); far cheaper than json.dumps
        ident = (key, text) if "$ref" not in text else None  # a $ref's meaning depends on the tool
        if ident is not None and ident in memo:  # the same parameter in another tool: the same text
            return memo[ident]
        element = self._element(writer, key, schema, root, where, tool)
        if ident is not None:
            memo[ident] = element
        return element

    def _element(self, writer: Any, key: str, schema: Any, root: Any, where: str,
                 tool: Any) -> tuple[str, bool]:
        v = self.variant
        string_alt, typed = self._value(writer, schema, root, where, tool)
        alts = []
        if string_alt is not None:
            alts.append(_cat([literal(v.open_text(key, True)), string_alt]))
        if typed is not None:
            alts.append(_cat([literal(v.open_text(key, False)), _group(typed), literal(v.close)]))
        if len(alts) == 2 and "{string}" not in v.open:  # one open tag: one alternative of values
            alts = [f"{literal(v.open_text(key))} ({string_alt} | {_cat([_group(typed), literal(v.close)])})"]
        body = alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"
        body = _cat([body, literal(v.after)]) if v.after else body
        if typed is None or lexical(typed):  # raw strings and enums always are
            return body, True
        return self._rule(writer, "xparam", body), False

    def _value(self, writer: Any, schema: Any, root: Any, where: str,
               tool: Any) -> tuple[str | None, str | None]:
        """(the raw-string alternative with its closing text, the typed alternative), either None."""
        schema = _resolved(schema, root)
        if schema is False:
            raise UnsupportedSchemaError("a parameter whose schema is false can never be written", path=where)
        if not isinstance(schema, dict) or not schema:
            return self._raw_close(writer), None  # any value: raw text holds them all
        if "enum" in schema or "const" in schema:
            values = schema["enum"] if "enum" in schema else [schema["const"]]
            strings = [x for x in values if isinstance(x, str)]
            for x in strings:
                if self.variant.tag in x:
                    raise UnsupportedSchemaError(f"enum value {x!r} holds {self.variant.tag!r}, which "
                                                 "ends a raw value in this format", path=where)
            others = [self.spell(x) for x in values if not isinstance(x, str)]
            close = literal(self.variant.close)
            string_alt = f"{_group(' | '.join(literal(x) for x in strings))} {close}" if strings else None
            return string_alt, " | ".join(literal(x) for x in others) or None
        branches = schema.get("anyOf")
        if isinstance(branches, list):
            string_alt, typed = None, []
            for i, branch in enumerate(branches):
                s, t = self._value(writer, branch, root, f"{where}.anyOf[{i}]", tool)
                string_alt = string_alt or s
                if t:
                    typed.append(t)
            return string_alt, " | ".join(typed) or None
        types = schema.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        if not types:
            return self._raw_close(writer), None
        string_alt = None
        if "string" in types:
            low, high = schema.get("minLength", 0), schema.get("maxLength")
            fmt = schema.get("format") if schema.get("format") in FORMATS else ""
            for keyword in _STRING_KEYWORDS:
                if keyword in schema and not (keyword == "format" and fmt):
                    message = (f"unsupported keyword {keyword!r} on a raw string in format "
                               f"{self.variant.name}: the grammar cannot enforce it on unquoted text")
                    if not writer.lenient:
                        raise UnsupportedSchemaError(message + " (pass lenient to drop it with a warning)",
                                                     path=f"{where}.{keyword}")
                    writer.warnings.append(f"{where}.{keyword}: {message}; dropped (lenient)")
            if fmt and (low, high) != (0, None):
                raise UnsupportedSchemaError(f"format {fmt!r} with a length bound on a raw string in format "
                                             f"{self.variant.name}: not enforced together", path=where)
            string_alt = self._raw_close(writer, low if isinstance(low, int) else 0,
                                         high if isinstance(high, int) else None, fmt)
        typed = [self._typed(writer, t, schema, root, where, tool) for t in types if t != "string"]
        return string_alt, " | ".join(typed) or None

    def _typed(self, writer: Any, kind: str, schema: dict[str, Any], root: Any, where: str,
               tool: Any) -> str:
        if self.variant.python and kind == "boolean":
            return '"True" | "False"'
        if self.variant.python and kind == "null":
            return '"None"'
        one = {k: val for k, val in schema.items() if k != "type"} | {"type": kind}
        if self.variant.python_containers and kind in ("array", "object"):
            literals = _python_grammar(writer)
            literals.root = root
            return literals.value(one, where)
        expr = writer.terminals.expression(one)
        if expr is not None:
            return expr
        full = dict(one)
        for defs in ("$defs", "definitions"):
            if isinstance(root, dict) and defs in root:
                full[defs] = root[defs]
        full["x-guidance"] = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
        text = json.dumps(full, ensure_ascii=True)
        writer.tool_args.append((tool, text))
        return self._rule(writer, "xjson", f"%json {text}")

    # -- render -------------------------------------------------------------------------
    def spell(self, value: Any) -> str:
        """A non-string value as the template prints it."""
        if self.variant.python and (value is None or isinstance(value, bool)):
            return repr(value)
        if self.variant.python_containers and isinstance(value, (list, dict)):
            return python_literal(value)
        return json_text(value)

    def render(self, arguments: dict[str, Any], schema: dict[str, Any] | None) -> str:
        v = self.variant
        out = []
        for key, value in arguments.items():
            if isinstance(value, str) and v.tag in value:
                raise InputError(f"the value of {key!r} holds {v.tag!r}, which format {v.name} cannot "
                                 "write inside a raw value", path=f"arguments.{key}")
            text = value if isinstance(value, str) else self.spell(value)
            out.append(v.open_text(key, isinstance(value, str)) + text + v.close + v.after)
        return "".join(out)

    # -- read ---------------------------------------------------------------------------
    def read(self, reader: Any, call: Any) -> Wait:
        """Elements until something else starts; each goes out as one JSON member once whole."""
        v = self.variant
        tool = reader.tools.get(call.name) if reader.tools and call.name else None
        properties = (tool.parameters.get("properties") or {}) if tool else {}
        odd = self._odd_tags(properties)
        call.args_at = reader.pos
        call.args_piece("{")
        first = True
        while True:
            at = len(reader.text) - len(reader.text[reader.pos:].lstrip())
            rest = reader.text[at:]
            if not rest.startswith(v.start):
                if v.start.startswith(rest) and not reader.final:
                    yield  # maybe the start of another element
                    continue
                break
            found = next((t for t in odd if rest.startswith(t[0])), None)
            if found is None and not reader.final and any(t[0].startswith(rest) for t in odd):
                yield  # maybe the tag of a key the tag syntax can't delimit, still arriving
                continue
            if found is not None:  # such a key is read as the tool names it
                tag, key, string = found
                start = at + len(tag)
            else:
                while reader.text.count(">", at) < self._closes:
                    yield from reader.more("a parameter's opening tag")
                match = self._open.match(reader.text, reader.pos)
                if match is None and not reader.final:
                    yield  # a '>' inside a value-to-be counted early: the tag may still be arriving
                    continue
                if match is None:
                    raise reader.fail(f"malformed parameter tag {_excerpt(reader.text, at)}", at)
                key, string = match.group("key"), match.groupdict().get("string")
                start = match.end()
            end = reader.text.find(v.tag, start)
            while end < 0:
                yield from reader.more(f"the value of {key!r} (no {v.tag!r})")
                end = reader.text.find(v.tag, start)
            raw = whole = reader.text[start:end]
            if v.strip == "each" or v.strip == "both" and raw.startswith("\n") and raw.endswith("\n"):
                raw = raw[1:] if raw.startswith("\n") else raw
                raw = raw[:-1] if raw.endswith("\n") else raw
                pinned = _pinned(properties.get(key))
                if raw not in pinned and whole in pinned:  # an enum value that is itself wrapped in newlines
                    raw = whole
            value = self.typed(raw, properties.get(key) if tool else None, string, tool, reader, start, key)
            reader.pos = end + len(v.tag)
            call.args_piece(("" if first else ", ") + json_text(key) + ": " + json_text(value))
            first = False
        call.args_piece("}")

    def _odd_tags(self, properties: dict[str, Any]) -> list[tuple[str, str, str | None]]:
        """(open tag, key, DSML string attribute) of each key the tag syntax can't delimit (a key
        holding ``>`` or ``"``: written as it is, as the grammar writes it), longest first."""
        v, odd = self.variant, []
        for key in properties:
            for string in ((True, False) if "{string}" in v.open else (True,)):
                tag = v.open_text(key, string).rstrip("\n")
                match = self._open.fullmatch(tag)
                if match is None or match.group("key") != key or ">" in key:  # '>' ends a tag early
                    odd.append((tag, key, ("true" if string else "false") if "{string}" in v.open else None))
        return sorted(odd, key=lambda t: len(t[0]), reverse=True)

    def typed(self, raw: str, schema: Any, string: str | None, tool: Any, reader: Any, at: int,
              key: str) -> Any:
        """A raw value as the JSON value its schema (or DSML's string attribute) says it is."""
        if schema is None:
            if string == "false":
                return _literal(raw.strip(), self.variant.python, default=raw)
            return raw
        root = tool.parameters
        kinds = _kinds(_resolved(schema, root), root)
        if kinds is None or "string" in kinds and string != "false":
            # a string (or anything): the raw text, unless a typed reading fits another branch
            other = kinds - {"string"} if kinds else set()
            if other:
                value = _literal(raw.strip(), self.variant.python, default=_MISSING)
                kind = _kind(value) if value is not _MISSING else ""
                if kind in other or (kind == "integer" and "number" in other):
                    return value
            return raw
        value = _literal(raw.strip(), self.variant.python, default=_MISSING)
        if value is _MISSING:
            if "string" in kinds:
                return raw
            wanted = " or ".join(("an " if k[0] in "aeiou" else "a ") + k for k in sorted(kinds))
            raise reader.fail(f"the value of {key!r} is not {wanted}: "
                              f"{raw.strip()[:40]!r}", at)
        return value


_MISSING = object()


def _without(tag: str) -> str:
    """A regex for any text that does not contain ``tag`` (whose first character occurs only
    first in it).  A start of the tag is either broken by a character that is neither its next
    one nor a new start, or abandoned for a new start; the text may end inside a start."""
    assert tag[0] not in tag[1:]
    first = regex_escape(tag[0])
    starts = "(?:" + "|".join(regex_escape(tag[1:k]) for k in range(1, len(tag))) + ")"
    broken = "|".join(f"{first}{regex_escape(tag[1:k])}[^{regex_escape(tag[k])}{first}]"
                      for k in range(1, len(tag)))
    abandoned = f"(?:{first}{starts})*"
    return f"(?:[^{first}]|{abandoned}(?:{broken}))*{abandoned}"


_STRING = r'"(?:[^"\\]|\\.)*"'
_TOKEN = re.compile(rf'/(?:[^/\\]|\\.)*/|{_STRING}')  # a regex or a literal: either may hold | ( )
_ONE_STRING = re.compile(_STRING)


def _cat(parts: list[str]) -> str:
    """The sequence of ``parts``, a literal that ends one joined to a literal that starts the
    next (the same language: llguidance pays for every element of a terminal, and XML's values
    sit between literal tags, ``"\\n</parameter>" "\\n" "<parameter=count>\\n"``)."""
    out = ""
    for part in parts:
        if out.endswith('"') and part.startswith('"'):
            end = _ONE_STRING.match(part).end()  # type: ignore[union-attr]
            if end == len(part) or part[end] in " )|":  # no postfix, flag or range on it
                out = out[:-1] + part[1:]
                continue
        out = f"{out} {part}" if out else part
    return out


def _group(expr: str) -> str:
    """``expr`` in parentheses where it has alternatives (or ``&``) at its top level (a sequence
    around it needs them then), else as it is: its literals can then join the tags around it."""
    if "|" not in expr and "&" not in expr or expr[0] == "/" == expr[-1] and expr.count("/") == 2:
        return expr  # no alternatives, or one regex (its | are its own)
    depth = 0
    for ch in _TOKEN.sub("x", expr):
        if ch in "|&" and not depth:
            return f"({expr})"
        depth += (ch == "(") - (ch == ")")
    return expr


def _python_grammar(writer: Any) -> Any:
    """The Python-literal value grammar of the pythonic encoding, one per compile (Seed-OSS's
    template prints arrays and objects with str())."""
    if not hasattr(writer, "xml_python_literals"):
        writer.xml_python_literals = PythonicGrammar(writer.rules)
    return writer.xml_python_literals


def _memo(writer: Any) -> dict[Any, str]:
    """Parameter rules already written in this compile, by (key, schema)."""
    if not hasattr(writer, "xml_parameters"):
        writer.xml_parameters = {}
    return writer.xml_parameters  # type: ignore[no-any-return]


def _pinned(schema: Any) -> list[Any]:
    """The values an enum or const schema allows (empty for any other)."""
    if not isinstance(schema, dict):
        return []
    return list(schema["enum"]) if isinstance(schema.get("enum"), list) else (
        [schema["const"]] if "const" in schema else [])


def _excerpt(text: str, at: int) -> str:
    return repr(text[at:at + 30])


def _literal(text: str, python: bool, default: Any) -> Any:
    """JSON (or, where the template prints with str(), a Python literal) text as its value.

    A value written JSON-escaped (``[{\\"id\\": 1}]``, as ``echo`` leaves it) is decoded once.
    """
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        pass
    if '\\"' in text:
        try:
            return json.loads(json.loads(f'"{text}"'))
        except (json.JSONDecodeError, RecursionError):
            pass
    if python or text in ("True", "False", "None"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return default
        if isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, (bool, int, float, str, list, dict)):
            return value
    return default


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def _resolved(schema: Any, root: Any, depth: int = 0) -> Any:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and depth < 20:
        try:
            schema = resolve_ref(root, schema["$ref"])
        except LookupError:
            return schema
        depth += 1
    return schema


def _kinds(schema: Any, root: Any) -> set[str] | None:
    """The JSON types a schema allows (None: any)."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return {_kind(v) for v in values if v is None or isinstance(v, (bool, int, float, str, list, dict))}
    branches = schema.get("anyOf", schema.get("oneOf"))
    if isinstance(branches, list):
        found: set[str] = set()
        for branch in branches:
            sub = _kinds(_resolved(branch, root), root)
            if sub is None:
                return None
            found |= sub
        return found
    types = schema.get("type")
    if not types:
        return None
    return {types} if isinstance(types, str) else set(types)


ENCODINGS = {v.name: XmlParameters(v) for v in VARIANTS}
