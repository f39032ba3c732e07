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
from typing import Any, Sequence

from mypy_extensions import mypyc_attr

from ..errors import InputError, ToolError, UnsupportedSchemaError, join_path
from ..lark import NAME_CHARS, concat, json_text, literal, runs_into
from ..lark import regex_escape as _regex_escape
from ..schema import prepare, resolve_ref
from . import Absorbing, Item, Ref, Wait, argument_terminal
from ..fastjson import MAX_EXPRESSION, PythonTerminals, int_range
from .pythonic import (_PLAIN, ANNOTATIONS, PythonicGrammar, _Framed, _int_bounds, _unquoted, plain_type,
                       python_literal)

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

    @functools.cached_property
    def raw_name(self) -> str:
        """The shared terminal of this variant's unbounded raw string."""
        return f"XRAW_{self.name[4:].upper().replace('-', '_')}"

    def open_text(self, key: str, is_string: bool = True) -> str:
        return self.open.replace("{key}", key).replace("{string}", "true" if is_string else "false")

    @functools.cached_property
    def framing(self) -> int:
        """The length of the text that closes an element: its closing tag and what follows."""
        return len(self.close) + len(self.after)

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
    # An element is written as a sequence (literal text as ``str``, Lark expressions as
    # :class:`_X`) and turned into Lark once, its adjacent texts one literal: llguidance pays
    # for every element of a terminal, and the tags between values are all literal text.
    def grammar(self, writer: Any, tool: Any) -> list[Item]:
        self._check_name(writer, tool)
        where = f"{tool.path or 'tool ' + repr(tool.name)}.parameters"
        root = tool.parameters
        plain = isinstance(root, dict) and _plain(root)
        if plain:  # written as loaded, objects closed on the way (as prepare would close them)
            extra_ok = root.get("additionalProperties", not (writer.close and "properties" in root))
        else:
            prepared = prepare(root, where, lenient=writer.lenient, close_objects=writer.close)
            writer.warnings += prepared.warnings
            root = prepared.schema
            extra_ok = root.get("additionalProperties", True)
        writer.memo["xml_plain"] = plain
        properties = root.get("properties") or {}
        required = set(root.get("required") or [])
        elements = [(self._parameter(writer, key, sub, root, where, tool),
                     key in required) for key, sub in properties.items()]
        extra = self._any_parameter(writer) if extra_ok is not False else ""
        whole = self._whole(elements, extra)  # every element in one terminal, if regular
        if whole is not None and any(needed for _, needed in elements) and self._token_follows(writer):
            return [Ref(self._arguments(writer, whole))]  # ends where a token starts: nothing to extend

        def alone() -> str:
            parts = self._fold(writer, elements)
            if extra:
                parts.append(f"{extra}*")  # an open object: any more keys, raw values
            if len(parts) == 1 and parts[0][-1] not in "?*":
                return parts[0]  # the whole argument list is one terminal
            return self._rule(writer, "xargs", concat(parts))

        if not elements and not extra:
            return []
        if whole is None:
            return [Ref(alone())]
        return [Absorbing(alone, lambda text: Ref(self._arguments(writer, whole, text)))]

    def _check_name(self, writer: Any, tool: Any) -> None:
        """Refuse a tool name the parser could not read back: the layout writes it raw and reads
        it up to the text after it (``>`` in ``<function=N>``, ``"`` in ``name="N">``), stripped."""
        name, stop = tool.name, self._layout(writer)[0]
        reason = ("starts or ends with a space" if name != name.strip() else
                  f"holds {stop!r}, which ends a name there" if stop and stop in name else "")
        if reason:
            raise ToolError(f"tool name {name!r} can't be written in format {writer.profile.name}: it "
                            f"{reason}; rename the tool", path=f"{tool.path or 'tool ' + repr(name)}.name")

    def _whole(self, elements: list[tuple[tuple[list[Any], bool], bool]], extra: str) -> "_Whole | None":
        """All of a tool's elements as one terminal's sequence (None where one needs a rule, or
        the expression would cost llguidance's lexer more than it saves)."""
        seq: list[Any] = []
        for (body, regular), needed in elements:
            if not regular:
                return None
            if needed:
                seq += body
            else:
                seq.append(_optional(body))
        if extra:
            seq.append(_X(f"{extra}*"))
        whole = _Whole(seq)
        return whole if len(whole.lark("")) <= MAX_EXPRESSION else None

    def _arguments(self, writer: Any, whole: "_Whole", text: str = "") -> str:
        """A tool's whole argument list (and ``text`` after it) as an argument terminal of the
        compile, as fastjson's are: identical ones shared, and one no other tool shares written
        in place in the call's name tree (its opening tag joins the name's text: a named
        terminal costs llguidance a definition)."""
        return argument_terminal(writer, whole.items(text), whole.lark(text))

    def _token_follows(self, writer: Any) -> bool:
        """Is the layout's next piece after these arguments a token (GLM's ``</tool_call>``)?
        Text can't continue into a token, so a terminal may end right before one."""
        return self._layout(writer)[1]

    def _layout(self, writer: Any) -> tuple[str, bool]:
        """What the layout puts around the arguments, read once per compile: the character
        that ends a raw tool name (``>`` in ``<function=N>``, else ``""``) and whether a
        token follows the arguments."""
        known = writer.memo.get("xml_layout")
        if known is None:
            call = writer.profile.call
            after = next((call[i + 1].value for i, p in enumerate(call[:-1])
                          if p.kind == "name" and p.value == "raw" and call[i + 1].kind == "text"), "")
            token = False
            for i, piece in enumerate(call[:-1]):
                if piece.kind == "arguments" and piece.value == self.name:
                    nxt = call[i + 1]
                    token = nxt.kind == "marker" and writer.forms[nxt.value].kind != "text"
                    break
            known = writer.memo["xml_layout"] = (after.strip()[:1], token)
        return known  # type: ignore[no-any-return]

    def _fold(self, writer: Any, elements: list[tuple[tuple[list[Any], bool], bool]]) -> list[str]:
        """The tool's elements as few terminals as the lexer allows (a lexeme is far cheaper for
        llguidance than a rule, as JSON's one terminal per tool shows).

        llguidance lexes greedily and never backs up, so a terminal may not end where it could
        go on: a run of regular elements is one terminal up to its last required element
        (``(A)? B C``); optional ones after that stay one terminal each, since the text after
        the arguments starts with ``<`` too.  An element that needs a rule (``%json``) ends a run."""
        parts: list[str] = []
        run: list[tuple[list[Any], bool]] = []

        def flush() -> None:
            last = max((i for i, (_, needed) in enumerate(run) if needed), default=-1)
            folded: list[Any] = []
            for b, needed in run[:last + 1]:
                folded += b if needed else [_optional(b)]
            text = _lark(folded)
            if text and len(text) <= MAX_EXPRESSION:
                parts.append(self._terminal(writer, text))
            else:  # past this size a terminal costs llguidance's lexer more than it saves
                parts.extend(self._terminal(writer, _lark(b)) + ("" if needed else "?")
                             for b, needed in run[:last + 1])
            parts.extend(f"{self._terminal(writer, _lark(b))}?" for b, _ in run[last + 1:])
            run.clear()

        for (body, regular), needed in elements:
            if regular:
                run.append((body, needed))
            else:
                flush()
                name = body[0].expr
                parts.append(name if needed else f"{name}?")
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
        """A raw string: any text without the closing tag (``low``/``high``: its length in
        characters; ``fmt``: a format of :data:`FORMATS`), as a terminal expression.  Followed
        by the closing text in one terminal, the first closing tag ends the value, exactly."""
        v = self.variant
        shared = writer.terminals.shared
        unbounded = v.raw_name
        if unbounded not in shared:
            shared[unbounded] = f"/{_without(v.tag)}/"
        if fmt:  # a date holds no '<': no closing tag to keep out
            name = f"{unbounded}_{fmt.upper().replace('-', '_')}"
            shared.setdefault(name, f"/(?:{FORMATS[fmt]})/")
            return name
        if (low, high) == (0, None):
            return unbounded
        # The length as a repeat of one shared any-character terminal, and text without the
        # tag: no regex of its own per length (llguidance parses every regex it meets).  A
        # terminal of its own, shared by every parameter of that length: an intersection in
        # place would make the GBNF printer build one automaton for every tool's arguments.
        name = f"{unbounded}_{low}_{'' if high is None else high}"
        if v.strip == "both" and low == 0 and high:
            # Seed-OSS from 0: a wrapped text within the bound ("\n" w "\n", w two shorter) is
            # the wrapped alternative already: no unwrapped test, one count (-3% build).  The
            # alternation is in place where this compile meets the bound first and one terminal
            # from the second time on (as fastjson's bounds: -3% build at 100 tools)
            inner = f"{name}_IN"
            wrapped = f'{inner}|"\\n"{inner}"\\n"'
            if inner not in shared:
                shared.setdefault("XRAW_CHAR", "/(?s:.)/")
                shared[inner] = f"XRAW_CHAR{{,{high}}}&{unbounded}"
                return f"({wrapped})"
            shared.setdefault(name, wrapped)
            return name
        if name not in shared:
            shared.setdefault("XRAW_CHAR", "/(?s:.)/")
            count = f"{low}," if high is None else f"{low or ''},{high}"  # {,16}: from 0
            # (only the empty string where high is 0: llguidance refuses a count that ends at 0)
            chars = '""' if high == 0 else f"XRAW_CHAR{{{count}}}"
            bounded = f"{chars}&{unbounded}"  # (no spaces: llguidance lexes each, see lark.concat)
            if v.strip == "both":
                # The parser reads a value wrapped in newlines without them (models write values
                # so) and render wraps a value that starts and ends with one: the bounds hold for
                # the value, as written where it isn't wrapped, inside the newlines where it is.
                unwrapped = f"{unbounded}_UNWRAPPED"  # the no-tag text not wrapped in newlines, shared
                if unwrapped not in shared:
                    shared["XRAW_UNWRAPPED"] = "/|[^\\n](?s:.*)|(?s:.*)[^\\n]/"  # (one regex)
                    shared[unwrapped] = f"{unbounded}&XRAW_UNWRAPPED"
                bounded = f'{chars}&{unwrapped}|"\\n"({bounded})"\\n"'
            shared[name] = bounded
        return name

    def _raw_close(self, writer: Any, *args: Any) -> list[Any]:
        """A raw string (as :meth:`_raw`) and the closing text after it."""
        return [_X(self._raw(writer, *args)), self.variant.close]

    def _any_parameter(self, writer: Any) -> str:
        v = self.variant
        stop = regex_escape(v.key_stop)
        key = f"XKEY_{v.name[4:].upper().replace('-', '_')}"
        writer.terminals.shared.setdefault(key, f"/[^{stop}<>\\n]+/")
        head, tail = v.open.split("{key}")
        tail = tail.replace("{string}", "true")
        return self._terminal(writer, _lark([head, _X(key), tail, _X(self._raw(writer)), v.close + v.after]))

    def _parameter(self, writer: Any, key: str, schema: Any, root: Any, where: str,
                   tool: Any) -> tuple[list[Any], bool]:
        """One element: (its sequence, True) where it is regular, else ([a rule], False).

        A plain-type leaf (``{"type": "string"}``...) written before, in any grammar of this
        process, is taken from :data:`_ELEMENTS` with the shared terminals it uses (tool lists
        repeat those, as fastjson keeps its plain-type leaves; bounded ones and enums rarely
        repeat across tools, and storing them cost a new tool list a tenth more); any other
        parameter is shared within the compile, by its schema's text."""
        kind = plain_type(schema)
        if kind is not None:  # a plain-type leaf: they repeat
            ident: Any = (self.name, key, kind, writer.close)
            hit = _ELEMENTS.get(ident)
            if hit is not None:
                shared = writer.terminals.shared
                for name, body in hit[1]:
                    if name not in shared:
                        shared[name] = body
                return hit[0], True
            warned = len(writer.warnings)
            element = self._element(writer, key, schema, root, join_path(where, f"properties.{key}"), tool)
            if element[1] and len(writer.warnings) == warned:  # rules and warnings are per compile
                uses = _uses(_lark(element[0]), writer.terminals.shared)
                if uses is not None:
                    if len(_ELEMENTS) >= ELEMENTS_KEPT:
                        _ELEMENTS.clear()  # bounded; a leaf seen again is written again
                    _ELEMENTS[ident] = (element[0], uses)
            return element
        simple = self._simple(writer, key, schema)
        if simple is not None:
            return simple, True
        memo = _memo(writer)
        text = repr(schema)  # exact for JSON values (1, 1.0 and True differ); far cheaper than json.dumps
        ident = (key, text, writer.memo["xml_plain"]) if "$ref" not in text else None  # a $ref's meaning depends on the tool
        if ident is not None and ident in memo:  # the same parameter in another tool: the same text
            return memo[ident]
        element = self._element(writer, key, schema, root, join_path(where, f"properties.{key}"), tool)
        if ident is not None:
            memo[ident] = element
        return element

    def _simple(self, writer: Any, key: str, schema: Any) -> list[Any] | None:
        """The element of a string with lengths, an integer with bounds or a string enum (most
        parameters are one), written directly: what :meth:`_element` writes for it, without
        its general walk and the memo's key.  None for any other schema."""
        if type(schema) is not dict:
            return None
        kind = schema.get("type")
        v = self.variant
        if "enum" in schema:
            values = schema["enum"]
            if (not _ENUM_WORDS.issuperset(schema) or type(values) is not list or not values
                    or not all(type(x) is str and v.tag not in x for x in values)):
                return None  # (a value holding the tag: the general walk words the error)
            opened = v.open_text(key, True)
            values = list(dict.fromkeys(values))
            if len(values) == 1 or len(values) <= _SPREAD and len(opened) + v.framing <= _SPREAD_TEXT:
                # each value one literal from the open tag on
                texts = [opened + self.raw_text(x) + v.close + v.after for x in values]
                return [texts[0]] if len(texts) == 1 else [_X("(" + "|".join(map(literal, texts)) + ")", group=True)]
            # the closing tag once after the values where text follows it anyway (one literal
            # with that text: fewer bytes, no more elements; deepseekv32 and glm45 -1.5% build), else
            # in each (after it, an element more: glm47 +2%)
            inside = "" if v.after else v.close
            seq = [opened, _X("(" + "|".join([literal(self.raw_text(x) + inside) for x in values]) + ")")]
            if v.after:
                seq.append(v.close)
        elif kind == "string":
            if not _STRING_WORDS.issuperset(schema):
                return None
            low, high = schema.get("minLength", 0), schema.get("maxLength")
            raw = self._raw(writer, low if isinstance(low, int) else 0, high if isinstance(high, int) else None)
            seq = [v.open_text(key, True), _X(raw), v.close]
        elif kind == "integer":
            if not _INTEGER_WORDS.issuperset(schema):
                return None
            bounds = _int_bounds(schema)
            if bounds is None or bounds == (None, None):
                return None
            seq = [v.open_text(key, False), _X(f"/{int_range(*bounds)}/"), v.close]
        else:
            return None
        if v.after:
            seq.append(v.after)
        return seq

    def _element(self, writer: Any, key: str, schema: Any, root: Any, where: str,
                 tool: Any) -> tuple[list[Any], bool]:
        v = self.variant
        string_alt, typed, regular = self._value(writer, schema, root, where, tool)
        if (string_alt is None or type(string_alt) is _Texts) and all(
                len(t) == 1 and type(t[0]) is str for t in typed):
            # Every value is literal text (an enum, Python's True/False/None): each alternative
            # one literal from the open tag on (llguidance pays per element; and per byte, so
            # not where the tags are long)
            texts = [v.open_text(key, True) + s + v.after for s in string_alt or ()]
            texts += [v.open_text(key, False) + t[0] + v.close + v.after for t in typed]
            texts = list(dict.fromkeys(texts))
            if len(texts) == 1:
                return [texts[0]], True
            if 1 < len(texts) <= _SPREAD and len(v.open_text(key)) + v.framing <= _SPREAD_TEXT:
                return [_X("(" + "|".join(map(literal, texts)) + ")", group=True)], True
        if type(string_alt) is _Texts:
            string_alt = [string_alt[0]] if len(string_alt) == 1 else [
                _X("(" + "|".join(map(literal, string_alt)) + ")")]
        if typed:
            value = typed[0] if len(typed) == 1 else [_X("(" + "|".join(map(_lark, typed)) + ")")]
        if string_alt is not None and typed:
            if "{string}" not in v.open:  # one open tag: one alternative of values
                seq = [v.open_text(key), _X(f"({_lark(string_alt)}|{_lark([*value, v.close])})")]
            else:
                seq = [_X(f"({_lark([v.open_text(key, True), *string_alt])} | "
                          f"{_lark([v.open_text(key, False), *value, v.close])})")]
        elif string_alt is not None:
            seq = [v.open_text(key, True), *string_alt]
        else:
            seq = [v.open_text(key, False), *value, v.close]
        if v.after:
            seq.append(v.after)
        if regular:  # raw strings and enums always are
            return seq, True
        return [_X(self._rule(writer, "xparam", _lark(seq)))], False

    def _value(self, writer: Any, schema: Any, root: Any, where: str,
               tool: Any) -> tuple[Sequence[Any] | None, list[list[Any]], bool]:
        """(the raw-string alternative with its closing text or None, the typed alternatives,
        whether those are all lexical)."""
        string_alt: Sequence[Any] | None = None
        schema = _resolved(schema, root)
        if schema is False:
            raise UnsupportedSchemaError("a parameter whose schema is false can never be written", path=where)
        if not isinstance(schema, dict) or not schema:
            return self._raw_close(writer), [], True  # any value: raw text holds them all
        if "enum" in schema or "const" in schema:
            values = schema["enum"] if "enum" in schema else [schema["const"]]
            strings = [x for x in values if isinstance(x, str)]
            for x in strings:
                if self.variant.tag in x:
                    raise UnsupportedSchemaError(f"enum value {x!r} holds {self.variant.tag!r}, which "
                                                 "ends a raw value in this format", path=where)
            string_alt = (_Texts(self.raw_text(x) + self.variant.close for x in dict.fromkeys(strings))
                          if strings else None)
            return string_alt, [[self.spell(x)] for x in values if not isinstance(x, str)], True
        branches = schema.get("anyOf")
        if isinstance(branches, list):
            alternatives: list[list[Any]] = []
            all_lexical = True
            for i, branch in enumerate(branches):
                branch_string, branch_typed, branch_lexical = self._value(
                    writer, branch, root, f"{where}.anyOf[{i}]", tool)
                string_alt = string_alt or branch_string
                alternatives += branch_typed
                all_lexical = all_lexical and branch_lexical
            return string_alt, alternatives, all_lexical
        types = schema.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        if not types:
            return self._raw_close(writer), [], True
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
        typed: list[list[Any]] = []
        regular = True
        for t in types:
            if t != "string":
                alts, lexical_ = self._typed(writer, t, schema, root, where, tool)
                typed += alts
                regular = regular and lexical_
        return string_alt, typed, regular

    def _typed(self, writer: Any, kind: str, schema: dict[str, Any], root: Any, where: str,
               tool: Any) -> tuple[list[list[Any]], bool]:
        """The alternatives a non-string value is written as, and whether they are lexical."""
        if self.variant.python and kind == "boolean":
            return [["True"], ["False"]], True
        if self.variant.python and kind == "null":
            return [["None"]], True
        if kind == "integer" and _INTEGER_WORDS.issuperset(schema):
            bounds = _int_bounds(schema)  # a bounded integer: its range in place, as fastjson writes it
            if bounds is not None and bounds != (None, None):
                return [[_X(f"/{int_range(*bounds)}/")]], True
        one = {k: val for k, val in schema.items() if k != "type"} | {"type": kind}
        if self.variant.python_containers and kind in ("array", "object"):
            # exact and lexical where it can be; asked directly, not through the literal grammar's
            # value() (which asks it too): its walk and framed text cost Seed-OSS's compile 5%
            got = _python_terminals(writer).pieces(one)
            if got is not None:
                lead, middle, tail, _ = got
                return [[lead, _X(middle), tail] if middle else [lead + tail]], True
            literals = _python_grammar(writer)
            literals.root = root
            literals.closing = writer.close if writer.memo["xml_plain"] else None
            try:
                name = literals.value(one, where)
            finally:
                literals.closing = None
            if type(name) is _Framed and hasattr(name, "middle"):  # its literal ends join the tags
                return [[name.lead, _X(name.middle), name.tail]], True
            return [[_X(name)]], not name[0].islower()  # a rule's name is lower case
        got = writer.terminals.pieces(one)
        if got is not None:  # its literal ends join the tags around it
            lead, middle, tail, _ = got
            return [[lead, _X(middle), tail] if middle else [lead + tail]], True
        if writer.memo["xml_plain"]:  # %json reads the schema as prepare leaves it (closed, annotations out)
            full = prepare(one, where, lenient=writer.lenient, close_objects=writer.close).schema
        else:
            full = dict(one)
            for defs in ("$defs", "definitions"):
                if isinstance(root, dict) and defs in root:
                    full[defs] = root[defs]
        full["x-guidance"] = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
        text = json.dumps(full, ensure_ascii=True)
        writer.tool_args.append((tool, text))
        return [[_X(self._rule(writer, "xjson", f"%json {text}"))]], False

    # -- render -------------------------------------------------------------------------
    def raw_text(self, value: str) -> str:
        """A string value as written raw.  Seed-OSS's parser drops the newlines a value both
        starts and ends with (models wrap values so, llama.cpp reads them so): such a value is
        written wrapped once more, and reads back whole."""
        return "\n" + value + "\n" if self.variant.strip == "both" and _wrapped(value) else value

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
            text = self.raw_text(value) if isinstance(value, str) else self.spell(value)
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
            if v.strip == "each" or v.strip == "both" and _wrapped(raw):
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


@functools.cache
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


class _X:
    """A Lark expression inside an element's sequence (literal text there is a plain ``str``);
    ``group``: it is one parenthesized group of alternatives."""

    __slots__ = ("expr", "group")

    def __init__(self, expr: str, group: bool = False) -> None:
        self.expr = expr
        self.group = group


class _Whole:
    """A tool's elements as one terminal's sequence, turned into Lark once: its expression up
    to the literal text it ends with (``head``), and that text (``tail``), so the text after
    the arguments joins the tail without writing the rest again."""

    __slots__ = ("seq", "head", "tail")

    def __init__(self, seq: list[Any]) -> None:
        end = len(seq)
        while end and type(seq[end - 1]) is str:
            end -= 1
        self.seq = seq[:end]
        self.head = _lark(self.seq)
        self.tail = "".join(seq[end:])

    def lark(self, text: str) -> str:
        """The Lark expression of the elements and ``text`` after them."""
        tail = self.tail + text
        if not tail:
            return self.head
        return self.head + literal(tail) if self.head else literal(tail)

    def items(self, text: str) -> list[Item]:
        """The same as compiler items: adjacent texts joined, expressions as :class:`Ref`."""
        items: list[Item] = []
        for item in self.seq:
            if type(item) is not str:
                items.append(Ref(item.expr))
            elif items and type(items[-1]) is str:
                items[-1] += item
            elif item:
                items.append(item)
        tail = self.tail + text
        if tail:
            if items and type(items[-1]) is str:
                items[-1] += tail
            else:
                items.append(tail)
        return items


@mypyc_attr(native_class=False)  # a tuple subclass stays a Python class when compiled
class _Texts(tuple):  # type: ignore[type-arg]
    """A value's alternatives that are all literal text, each with its closing text."""


_SPREAD = 16  # literal alternatives an element writes whole (open tag to closing text) at most
# ... and the longest tag text (open tag, closing text) it repeats in each: llguidance pays per
# byte as well as per element, and longer tags cost more repeated than one group of values
# (cachegrind, 100 synthetic tools, builds: not spread, deepseekv32 -4%, glm47 -3%, glm45 and
# minimax-m2 -1%; spread, qwen3-coder -1%, seed-oss -2%).
_SPREAD_TEXT = 32


def _optional(seq: list[Any]) -> "_X":
    """``seq`` made optional: one group of alternatives takes the ``?`` itself."""
    if len(seq) == 1 and type(seq[0]) is _X and seq[0].group:
        return _X(seq[0].expr + "?")
    return _X(f"({_lark(seq)})?")


def _lark(seq: Sequence[Any]) -> str:
    """A sequence as Lark: adjacent literal texts joined into one string literal."""
    out: list[str] = []
    text = ""
    for item in seq:
        if type(item) is str:
            text += item
        else:
            if text:
                out.append(literal(text))
                text = ""
            expr = item.expr
            if out and expr[:1] in NAME_CHARS and runs_into(out[-1], expr):
                out.append(" ")  # (lark.concat's rule, inline: this runs for every value)
            out.append(expr)
    if text:
        out.append(literal(text))
    return "".join(out)


def _plain(schema: Any) -> bool:
    """Can these parameters be written as loaded, without :func:`..schema.prepare`'s copy?
    Every keyword one this encoding reads or an annotation (no ``$ref``, ``allOf``, ``oneOf``,
    ``pattern``, ``format``, unknown words: prepare words or drops those), all the way down.
    The walk is a fraction of prepare's, which copied every tool (a sixth of the compile)."""
    if type(schema) is not dict:
        return type(schema) is bool
    if not _PLAIN.issuperset(schema):
        return False
    if _NESTING.isdisjoint(schema):
        return True  # a leaf (most schemas are): nothing below to look at
    sub = schema.get("properties")
    if sub is not None:
        if type(sub) is not dict:
            return False
        for x in sub.values():
            if not _plain(x):
                return False
    for word in ("items", "additionalProperties"):
        sub = schema.get(word)
        if sub is not None and type(sub) is not bool and not _plain(sub):
            return False
    sub = schema.get("anyOf")
    if sub is not None and type(sub) is not bool:
        if type(sub) is not list:
            return False
        for x in sub:
            if not _plain(x):
                return False
    return True


_NESTING = frozenset({"properties", "items", "additionalProperties", "anyOf"})
_STRING_WORDS = frozenset({"type", "minLength", "maxLength"}) | ANNOTATIONS
_ENUM_WORDS = frozenset({"type", "enum"}) | ANNOTATIONS
_INTEGER_WORDS = frozenset({"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) | ANNOTATIONS


# Plain-type leaf elements written before, in any grammar of this process: (variant, key, type,
# close_objects) -> (the element's sequence, the shared terminals it uses, with their bodies).
_ELEMENTS: dict[tuple[Any, ...], tuple[list[Any], tuple[tuple[str, str], ...]]] = {}
ELEMENTS_KEPT = 65536
_TERMINAL_NAMES = re.compile(r"\b[A-Z][A-Z0-9_]*\b")


def _uses(expr: str, shared: dict[str, str]) -> tuple[tuple[str, str], ...] | None:
    """The shared terminals ``expr`` refers to, and those they refer to, with their bodies, in
    the order they were defined (so a replay writes them as a fresh compile does); None where
    it refers to a name that is not a shared terminal (defined elsewhere)."""
    found: dict[str, str] = {}
    todo = _TERMINAL_NAMES.findall(_unquoted(expr))
    while todo:
        name = todo.pop()
        if name in found:
            continue
        body = shared.get(name)
        if body is None:
            return None
        found[name] = body
        todo += _TERMINAL_NAMES.findall(_unquoted(body))
    if len(found) > 1:
        order = {name: i for i, name in enumerate(shared)}
        return tuple(sorted(found.items(), key=lambda item: order[item[0]]))
    return tuple(found.items())


def _python_grammar(writer: Any) -> Any:
    """The Python-literal value grammar of the pythonic encoding, one per compile (Seed-OSS's
    template prints arrays and objects with str())."""
    if "xml_python_literals" not in writer.memo:
        writer.memo["xml_python_literals"] = PythonicGrammar(writer.rules)
    return writer.memo["xml_python_literals"]


def _python_terminals(writer: Any) -> PythonTerminals:
    """Exact terminals of Python literals, one per compile, sharing the compile's value terminals."""
    if "xml_python_terminals" not in writer.memo:
        writer.memo["xml_python_terminals"] = PythonTerminals(writer.close, shared=writer.terminals.shared)
    return writer.memo["xml_python_terminals"]  # type: ignore[no-any-return]


def _memo(writer: Any) -> dict[Any, Any]:
    """Parameter rules already written in this compile, by (key, schema)."""
    return writer.memo.setdefault("xml_parameters", {})  # type: ignore[no-any-return]


def _wrapped(raw: str) -> bool:
    """Whether a raw value starts and ends with a newline: Seed-OSS's parser drops them."""
    return raw.startswith("\n") and raw.endswith("\n")


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
